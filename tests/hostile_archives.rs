//! Archive entries are validated, not trusted (DESIGN.md invariant 6): every kind of hostile
//! entry makes extraction fail, and nothing is left behind.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use pandora::format::extract::{unpack, Extraction, Limits};
use pandora::format::metadata::{Metadata, PackageInfo, SlotInfo};
use pandora::format::package::{Package, Scope};
use pandora::format::signing::SigningKey;
use pandora::format::slot::{Operation, Operations};
use pandora::format::writer::{write_package, SlotData};
use sha2::Digest;
use support::Sandbox;

/// One raw tar entry: the header written by hand so nothing sanitises the name.
struct Raw<'a> {
    name: &'a str,
    kind: tar::EntryType,
    mode: u32,
    link: &'a str,
    data: &'a [u8],
}

fn entry(name: &str) -> Raw<'_> {
    Raw {
        name,
        kind: tar::EntryType::Regular,
        mode: 0o644,
        link: "",
        data: b"data",
    }
}

fn archive(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for raw in entries {
        let mut header = tar::Header::new_old();
        let old = header.as_old_mut();
        old.name[..raw.name.len()].copy_from_slice(raw.name.as_bytes());
        old.linkname[..raw.link.len()].copy_from_slice(raw.link.as_bytes());
        header.set_entry_type(raw.kind);
        header.set_mode(raw.mode);
        header.set_size(raw.data.len() as u64);
        header.set_cksum();
        builder.append(&header, raw.data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A signed package whose only slot holds `stored` (a tar, compressed as `operations` says).
fn package_with(directory: &Path, name: &str, stored: &[u8], operations: Operations) -> PathBuf {
    let mut data = tempfile::tempfile().unwrap();
    data.write_all(stored).unwrap();
    let metadata = Metadata {
        format: "PSPF/2025".into(),
        format_version: None,
        package: PackageInfo {
            name: name.into(),
            version: "1.0.0".into(),
            description: None,
        },
        slots: vec![SlotInfo {
            slot: 0,
            id: "payload".into(),
            source: String::new(),
            target: Some("{workenv}".into()),
            size: None,
            checksum: None,
            operations: String::new(),
            purpose: "payload".into(),
            lifecycle: "runtime".into(),
            permissions: None,
        }],
        execution: Some(pandora::format::metadata::Execution {
            command: "{workenv}/bin/tool".into(),
            env: Default::default(),
        }),
        runtime: None,
        workenv: None,
        build: None,
        launcher: None,
        pandora: None,
    };
    let slot = SlotData {
        data,
        size: stored.len() as u64,
        original_size: stored.len() as u64,
        sha256: sha2::Sha256::digest(stored).into(),
        operations,
    };
    let output = directory.join(format!("{name}.psp"));
    let launcher = PathBuf::from(env!("CARGO_BIN_EXE_pandora-launcher"));
    write_package(
        &output,
        &launcher,
        metadata,
        vec![slot],
        &SigningKey::from_seed("hostile"),
        0,
    )
    .unwrap();
    output
}

#[test]
fn hostile_entries_are_rejected_not_skipped() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.home()).unwrap();
    let cases: Vec<(&str, Vec<Raw<'_>>, &str)> = vec![
        (
            "dotdot",
            vec![entry("bin/../../escape")],
            "`..` in the path",
        ),
        ("absolute", vec![entry("/etc/evil")], "an absolute path"),
        (
            "hardlink",
            vec![
                entry("bin/tool"),
                Raw {
                    kind: tar::EntryType::Link,
                    link: "bin/tool",
                    data: b"",
                    ..entry("bin/alias")
                },
            ],
            "hard links are not allowed",
        ),
        (
            "device",
            vec![Raw {
                kind: tar::EntryType::Char,
                data: b"",
                ..entry("dev/null")
            }],
            "device files are not allowed",
        ),
        (
            "fifo",
            vec![Raw {
                kind: tar::EntryType::Fifo,
                data: b"",
                ..entry("bin/pipe")
            }],
            "FIFOs are not allowed",
        ),
        (
            "setuid",
            vec![Raw {
                mode: 0o4755,
                ..entry("bin/tool")
            }],
            "setuid or setgid bit",
        ),
        (
            "setgid",
            vec![Raw {
                mode: 0o2755,
                ..entry("bin/tool")
            }],
            "setuid or setgid bit",
        ),
        (
            "duplicate",
            vec![entry("bin/tool"), entry("bin/tool")],
            "a second entry for the same path",
        ),
        (
            "case-duplicate",
            vec![entry("bin/Tool"), entry("bin/tool")],
            "differing only in case",
        ),
        (
            "absolute-link",
            vec![Raw {
                kind: tar::EntryType::Symlink,
                link: "/etc/passwd",
                data: b"",
                ..entry("bin/passwd")
            }],
            "a symbolic link to the absolute path",
        ),
        (
            "escaping-link",
            vec![Raw {
                kind: tar::EntryType::Symlink,
                link: "../../etc",
                data: b"",
                ..entry("bin/etc")
            }],
            "a symbolic link leaving the package",
        ),
        (
            "through-link",
            vec![
                Raw {
                    kind: tar::EntryType::Symlink,
                    link: "share",
                    data: b"",
                    ..entry("lib")
                },
                entry("lib/overwritten"),
            ],
            "goes through the symbolic link `lib`",
        ),
    ];
    for (name, entries, reason) in cases {
        let package = package_with(
            &sandbox.home(),
            name,
            &archive(&entries),
            Operations::new(vec![Operation::Tar]),
        );
        let target = sandbox.home().join(format!("out-{name}"));
        let run = sandbox.run(&[
            "unpack",
            package.to_str().unwrap(),
            target.to_str().unwrap(),
        ]);
        run.failure(1);
        assert!(
            run.stderr.contains("has an unsafe entry") && run.stderr.contains(reason),
            "{name}:\n{}",
            run.stderr
        );
        assert!(!target.exists(), "{name}: left {}", target.display());
        let staging: Vec<_> = std::fs::read_dir(sandbox.home())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".pandora-unpack")
            })
            .collect();
        assert!(staging.is_empty(), "{name}: staging left behind");
        // The launcher refuses it the same way, and keeps no work environment.
        let run = sandbox.run(&["run", package.to_str().unwrap()]);
        assert_eq!(run.code, 111, "{name}: {}", run.stderr);
    }
    let workenvs: Vec<_> = std::fs::read_dir(sandbox.home().join(".cache/pandora/workenv"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "files" && !n.ends_with(".lock"))
        .collect();
    assert!(workenvs.is_empty(), "{workenvs:?}");
}

#[test]
fn a_safe_archive_with_links_and_dirs_extracts() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.home()).unwrap();
    let entries = vec![
        Raw {
            kind: tar::EntryType::Directory,
            data: b"",
            mode: 0o755,
            ..entry("./")
        },
        Raw {
            kind: tar::EntryType::Directory,
            data: b"",
            mode: 0o755,
            ..entry("bin/")
        },
        Raw {
            mode: 0o755,
            data: b"#!/bin/sh\necho safe\n",
            ..entry("bin/tool")
        },
        Raw {
            kind: tar::EntryType::Symlink,
            link: "tool",
            data: b"",
            ..entry("bin/alias")
        },
        Raw {
            kind: tar::EntryType::Symlink,
            link: "../bin/tool",
            data: b"",
            ..entry("share/tool")
        },
    ];
    let package = package_with(
        &sandbox.home(),
        "safe",
        &archive(&entries),
        Operations::new(vec![Operation::Tar]),
    );
    let target = sandbox.home().join("out");
    sandbox
        .run(&[
            "unpack",
            package.to_str().unwrap(),
            target.to_str().unwrap(),
        ])
        .success();
    assert_eq!(
        std::fs::read_link(target.join("share/tool")).unwrap(),
        PathBuf::from("../bin/tool")
    );
    let run = sandbox.run(&["run", package.to_str().unwrap()]);
    assert_eq!(run.stdout, "safe\n", "{}", run.stderr);
}

#[test]
fn decompression_bombs_and_entry_floods_are_refused() {
    let directory = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 8 << 20];
    let bomb_tar = archive(&[Raw {
        data: &zeros,
        ..entry("big")
    }]);
    let bomb = zstd::encode_all(bomb_tar.as_slice(), 19).unwrap();
    assert!(bomb.len() < 4096, "the bomb should be tiny: {}", bomb.len());
    let package = package_with(
        directory.path(),
        "bomb",
        &bomb,
        Operations::new(vec![Operation::Tar, Operation::Zstd]),
    );
    let opened = Package::open(&package).unwrap();
    let verified = opened.verified(Scope::Structure).unwrap();
    let small = Limits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };
    let error = unpack(
        &opened,
        &verified.slots,
        &directory.path().join("out"),
        small,
    )
    .unwrap_err()
    .to_string();
    // Refused at the size its descriptor declares (the stored size, here), long before the
    // overall 1 MiB limit: each slot is bounded by its own declaration now.
    assert!(error.contains("expands past"), "{error}");
    assert!(!directory.path().join("out").exists());

    let names: Vec<String> = (0..50).map(|n| format!("f{n}")).collect();
    let flood = archive(&names.iter().map(|name| entry(name)).collect::<Vec<_>>());
    let package = package_with(
        directory.path(),
        "flood",
        &flood,
        Operations::new(vec![Operation::Tar]),
    );
    let opened = Package::open(&package).unwrap();
    let verified = opened.verified(Scope::Structure).unwrap();
    let staging = tempfile::tempdir().unwrap();
    let mut extraction = Extraction::new(Limits {
        max_bytes: 1 << 20,
        max_entries: 10,
    });
    let error = extraction
        .extract_slot(&opened, &verified.slots[0], staging.path())
        .unwrap_err()
        .to_string();
    assert!(error.contains("more than 10 entries"), "{error}");
}
