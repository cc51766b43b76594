//! Any bytes as a registry's `index.acl` or `index.acl.sig`: parsing must return an error or
//! an index, never panic; an index that parses writes back to text that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pandora::registry::index::{parse_signature_file, RegistryIndex};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_signature_file("fuzz.sig", text);
    if let Ok(index) = RegistryIndex::parse("fuzz.acl", text) {
        let written = index.to_acl();
        let reread = RegistryIndex::parse("written.acl", &written).expect("written index parses");
        assert_eq!(reread.to_acl(), written);
    }
});
