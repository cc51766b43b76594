//! Any bytes as a `.psp` file: opening, verifying every check and (when it verifies)
//! extracting must return an error or succeed, never panic, hang or write outside the
//! destination.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use pandora_format::extract::{unpack, Limits};
use pandora_format::package::{Package, Scope};

fuzz_target!(|data: &[u8]| {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("fuzz.psp");
    let mut file = std::fs::File::create(&path).expect("a temporary file");
    file.write_all(data).expect("written");
    drop(file);
    let Ok(package) = Package::open(&path) else {
        return;
    };
    let (report, verified) = package.verify(Scope::Full);
    assert_eq!(report.passed(), verified.is_some());
    if let Some(verified) = verified {
        let limits = Limits::default();
        let _ = unpack(&package, &verified.slots, &directory.path().join("out"), limits);
    }
});
