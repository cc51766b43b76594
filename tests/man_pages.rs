//! The committed man pages match what the CLI definition generates. To regenerate after
//! changing the CLI: `PANDORA_BLESS=1 cargo test --test man_pages`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

use std::path::Path;

#[test]
fn man_pages_match_the_cli() {
    let directory = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = pandora::cli::man_pages();
    if std::env::var_os("PANDORA_BLESS").is_some() {
        std::fs::create_dir_all(&directory).unwrap();
        for entry in std::fs::read_dir(&directory).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
        for (name, text) in &pages {
            std::fs::write(directory.join(name), text).unwrap();
        }
    }
    let mut committed: Vec<String> = std::fs::read_dir(&directory)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    committed.sort();
    let mut generated: Vec<String> = pages.iter().map(|(name, _)| name.clone()).collect();
    generated.sort();
    assert_eq!(
        committed, generated,
        "man/ has other pages than the CLI; run PANDORA_BLESS=1 cargo test --test man_pages"
    );
    for (name, text) in pages {
        let on_disk = std::fs::read(directory.join(&name)).unwrap();
        assert!(
            on_disk == text,
            "man/{name} is out of date; run PANDORA_BLESS=1 cargo test --test man_pages"
        );
    }
}
