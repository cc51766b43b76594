//! Any bytes: parsing and resolving must return, never panic; whatever resolves must write
//! back to canonical text that resolves to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(document) = acl_parser::from_str("fuzz.acl", text) {
        let written = document.to_string();
        let reread = acl_parser::from_str("written.acl", &written).expect("canonical output parses");
        assert_eq!(reread, document);
    }
});
