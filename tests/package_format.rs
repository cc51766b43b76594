//! `pandora build`, `inspect`, `verify`, `unpack` and `key generate` on real files: round trips,
//! reproducibility, refusals that write nothing, and tampering in every region of a package.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use pandora::format::index::{index_checksum, INDEX_SIZE, TRAILER_SIZE};
use pandora::format::package::{Package, Scope};
use support::{package_source, read, tree, Sandbox, ECHO_SCRIPT};

fn source(sandbox: &Sandbox) -> PathBuf {
    let directory = sandbox.home().join("src");
    package_source(
        &directory,
        "demo",
        "1.2.3",
        Some("bin/demo"),
        &[
            ("bin/demo", ECHO_SCRIPT),
            ("share/doc/readme.txt", "read me\n"),
            ("lib/deep/nested/data.bin", "\u{0}\u{1}binary"),
        ],
    );
    std::os::unix::fs::symlink(
        "../share/doc/readme.txt",
        directory.join("files/lib/readme"),
    )
    .unwrap();
    std::fs::create_dir_all(directory.join("files/share/empty")).unwrap();
    directory
}

fn build(sandbox: &Sandbox, source: &Path, output: &Path, extra: &[&str]) -> support::Run {
    sandbox.build(source, output, "format-tests", extra)
}

#[test]
fn build_verify_unpack_round_trip() {
    let sandbox = Sandbox::new();
    let source = source(&sandbox);
    let package = sandbox.home().join("demo.psp");
    let built = build(&sandbox, &source, &package, &[]);
    built.success();
    assert_eq!(built.stdout.trim(), package.display().to_string());
    assert!(
        built
            .stderr
            .contains("Built demo 1.2.3: 3 slots (bin, lib, share)"),
        "{}",
        built.stderr
    );
    let verify = sandbox.run(&["verify", package.to_str().unwrap()]);
    verify.success();
    for check in [
        "trailer-magic",
        "index-checksum",
        "signature",
        "key-fingerprint",
        "slot-table",
        "launcher-sha256",
        "slot 0 (bin) sha256",
        "slot 2 (share) sha256",
    ] {
        assert!(
            verify.stdout.contains(&format!("ok    {check}")),
            "{check}:\n{}",
            verify.stdout
        );
    }
    let unpacked = sandbox.home().join("unpacked");
    sandbox
        .run(&[
            "unpack",
            package.to_str().unwrap(),
            unpacked.to_str().unwrap(),
        ])
        .success();
    // Unpacked, a package is its files plus the attestation (SBOM and provenance) it carries.
    let mut unpacked_tree = tree(&unpacked);
    let attestation = unpacked_tree
        .iter()
        .position(|entry| entry.starts_with("_attestation"))
        .expect("the attestation is unpacked");
    unpacked_tree.remove(attestation);
    assert_eq!(unpacked_tree, tree(&source.join("files")));
    let again = sandbox.run(&[
        "unpack",
        package.to_str().unwrap(),
        unpacked.to_str().unwrap(),
    ]);
    again.failure(1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn builds_are_reproducible() {
    let sandbox = Sandbox::new();
    let source = source(&sandbox);
    // The output's directory is created when missing.
    let first = sandbox.home().join("nested/out/one.psp");
    let second = sandbox.home().join("two.psp");
    build(&sandbox, &source, &first, &[]).success();
    build(&sandbox, &source, &second, &[]).success();
    assert!(
        std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
        "same input and key, different bytes"
    );
    for compression in ["gzip", "none"] {
        let a = sandbox.home().join(format!("a-{compression}.psp"));
        let b = sandbox.home().join(format!("b-{compression}.psp"));
        build(&sandbox, &source, &a, &["--compression", compression]).success();
        build(&sandbox, &source, &b, &["--compression", compression]).success();
        assert!(
            std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
            "{compression}"
        );
    }
    let dated = sandbox.home().join("dated.psp");
    sandbox
        .run_with(
            &[
                "build",
                source.to_str().unwrap(),
                "-o",
                dated.to_str().unwrap(),
                "--key-seed",
                "format-tests",
            ],
            |command| {
                command.env("SOURCE_DATE_EPOCH", "1700000000");
            },
        )
        .success();
    assert!(std::fs::read(&dated).unwrap() != std::fs::read(&first).unwrap());
    let inspect = sandbox.run(&["inspect", dated.to_str().unwrap()]);
    assert!(
        inspect
            .stdout
            .contains("builder      pandora 0.1.0 (2023-11-14T22:13:20Z)"),
        "{}",
        inspect.stdout
    );
}

#[test]
fn bad_input_is_refused_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let output = sandbox.home().join("out/never.psp");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    type Breakage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Breakage, &str)> = vec![
        (
            "missing manifest",
            Box::new(|dir: &Path| std::fs::remove_file(dir.join("manifest.acl")).unwrap()),
            "no manifest at",
        ),
        (
            "missing files",
            Box::new(|dir: &Path| std::fs::remove_dir_all(dir.join("files")).unwrap()),
            "no files directory at",
        ),
        (
            "bad name",
            Box::new(|dir: &Path| {
                std::fs::write(
                    dir.join("manifest.acl"),
                    "manifest { name = \"Bad Name\"; version = \"1.0.0\"; }",
                )
                .unwrap();
            }),
            "invalid package name",
        ),
        (
            "bad version",
            Box::new(|dir: &Path| {
                std::fs::write(
                    dir.join("manifest.acl"),
                    "manifest { name = \"a\"; version = \"^1.0\"; }",
                )
                .unwrap();
            }),
            "invalid version",
        ),
        (
            "range pin",
            Box::new(|dir: &Path| {
                std::fs::write(dir.join("manifest.acl"), "manifest { name = \"a\"; version = \"1.0.0\"; dependencies = { \"b@>=1.0\" }; }").unwrap();
            }),
            "invalid dependency `b@>=1.0`",
        ),
        (
            "dangling link",
            Box::new(|dir: &Path| {
                std::os::unix::fs::symlink("nowhere", dir.join("files/bin/dangling")).unwrap();
            }),
            "which does not exist",
        ),
        (
            "escaping link",
            Box::new(|dir: &Path| {
                std::os::unix::fs::symlink("/etc/passwd", dir.join("files/bin/passwd")).unwrap();
            }),
            "outside the package",
        ),
        (
            "fifo",
            Box::new(|dir: &Path| {
                let status = std::process::Command::new("mkfifo")
                    .arg(dir.join("files/bin/pipe"))
                    .status()
                    .unwrap();
                assert!(status.success());
            }),
            "is not a regular file, directory or symbolic link",
        ),
        (
            "secrets",
            Box::new(|dir: &Path| {
                std::fs::write(dir.join("files/.env"), "TOKEN=1").unwrap();
                std::fs::create_dir_all(dir.join("files/secrets")).unwrap();
                std::fs::write(dir.join("files/secrets/api"), "k").unwrap();
                std::fs::write(dir.join("files/share/server.pem"), "k").unwrap();
            }),
            "refusing to package files that look like secrets: .env, secrets/api, share/server.pem",
        ),
    ];
    for (label, breakage, message) in cases {
        let directory = sandbox
            .home()
            .join(format!("case-{}", label.replace(' ', "-")));
        package_source(
            &directory,
            "demo",
            "1.0.0",
            Some("bin/demo"),
            &[("bin/demo", ECHO_SCRIPT), ("share/x", "x")],
        );
        breakage(&directory);
        let run = build(&sandbox, &directory, &output, &[]);
        run.failure(1);
        assert!(run.stderr.contains(message), "{label}:\n{}", run.stderr);
        assert!(
            run.stderr.contains("hint:")
                || label.contains("name")
                || label.contains("version")
                || label == "fifo",
            "{label} has no hint:\n{}",
            run.stderr
        );
        let leftovers: Vec<_> = std::fs::read_dir(output.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|entry| entry.file_name())
            .collect();
        assert!(leftovers.is_empty(), "{label} left {leftovers:?}");
    }
    // --allow-secrets says they belong.
    let directory = sandbox.home().join("case-secrets");
    build(&sandbox, &directory, &output, &["--allow-secrets"]).success();
}

#[test]
fn manifest_errors_show_the_line() {
    let sandbox = Sandbox::new();
    let directory = sandbox.home().join("src");
    package_source(&directory, "demo", "1.0.0", None, &[("bin/x", "x")]);
    std::fs::write(
        directory.join("manifest.acl"),
        "manifest {\n    name = \"demo\";\n    version = \"1.0.0\";\n    licence = \"MIT\";\n}\n",
    )
    .unwrap();
    let run = build(&sandbox, &directory, &sandbox.home().join("x.psp"), &[]);
    run.failure(1);
    insta::assert_snapshot!("manifest_unknown_field", sandbox.redact(&run.stderr));
}

/// A copy of `package` with `change` applied to its bytes, optionally re-sealing the index
/// checksum (which anyone can recompute) so deeper checks are reached.
fn tampered(
    package: &Path,
    name: &str,
    reseal: bool,
    change: impl FnOnce(&mut Vec<u8>, &pandora::format::index::Index),
) -> PathBuf {
    let opened = Package::open(package).unwrap();
    let index = opened.index().clone();
    let mut bytes = std::fs::read(package).unwrap();
    change(&mut bytes, &index);
    if reseal {
        let start = bytes.len() - TRAILER_SIZE + 4;
        let mut block = [0u8; INDEX_SIZE];
        block.copy_from_slice(&bytes[start..start + INDEX_SIZE]);
        let checksum = index_checksum(&block);
        bytes[start + 4..start + 8].copy_from_slice(&checksum.to_le_bytes());
    }
    let path = package.with_file_name(format!("{name}.psp"));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn tampering_in_every_region_is_caught_and_named() {
    let sandbox = Sandbox::new();
    let source = source(&sandbox);
    let package = sandbox.home().join("demo.psp");
    build(&sandbox, &source, &package, &[]).success();
    let first_slot = {
        let opened = Package::open(&package).unwrap();
        opened.verified(Scope::Structure).unwrap().slots[0]
            .descriptor
            .offset as usize
    };
    let index_at = |bytes: &Vec<u8>, field: usize| bytes.len() - TRAILER_SIZE + 4 + field;
    type Change = Box<dyn Fn(&mut Vec<u8>, &pandora::format::index::Index)>;
    let cases: Vec<(&str, bool, Change, &str)> = vec![
        (
            "launcher",
            false,
            Box::new(|b, _| b[100] ^= 1),
            "launcher-sha256",
        ),
        (
            "metadata",
            false,
            Box::new(|b, i| b[i.metadata_offset as usize + 20] ^= 1),
            "metadata-sha256",
        ),
        (
            "descriptor",
            false,
            Box::new(|b, i| b[i.slot_table_offset as usize + 48] ^= 1),
            "slot-table",
        ),
        (
            "descriptor-offset",
            false,
            Box::new(|b, i| b[i.slot_table_offset as usize + 16] ^= 4),
            "slot 0 (bin) sha256",
        ),
        (
            "slot-data",
            false,
            Box::new(move |b, _| b[first_slot + 3] ^= 1),
            "slot 0 (bin) sha256",
        ),
        (
            "signature",
            false,
            Box::new(move |b, _| {
                let at = index_at(b, 128);
                b[at] ^= 1;
            }),
            "index-checksum",
        ),
        (
            "signature-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 130);
                b[at] ^= 1;
            }),
            "signature",
        ),
        (
            "public-key-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 70);
                b[at] ^= 1;
            }),
            "signature",
        ),
        (
            "fingerprint-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 1380);
                b[at] = b'0' + (b[at] % 7);
            }),
            "key-fingerprint",
        ),
        (
            "metadata-hash-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 96);
                b[at] ^= 1;
            }),
            "metadata-sha256",
        ),
        (
            "package-size-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 8);
                b[at] ^= 1;
            }),
            "package-size",
        ),
        (
            "slot-count-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 56);
                b[at] += 1;
            }),
            "layout",
        ),
        (
            "metadata-offset-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 24);
                b[at] ^= 0x40;
            }),
            "layout",
        ),
        (
            "first-magic",
            false,
            Box::new(|b, _| {
                let at = b.len() - TRAILER_SIZE;
                b[at] ^= 1;
            }),
            "trailer-magic",
        ),
        (
            "last-magic",
            false,
            Box::new(|b, _| {
                let at = b.len() - 1;
                b[at] ^= 1;
            }),
            "trailer-magic",
        ),
        (
            "format-version-resealed",
            true,
            Box::new(move |b, _| {
                let at = index_at(b, 0);
                b[at] ^= 1;
            }),
            "format-version",
        ),
        (
            "truncated",
            false,
            Box::new(|b, _| {
                b.drain(1000..1010);
            }),
            "package-size",
        ),
        (
            "truncated-end",
            false,
            Box::new(|b, _| {
                let keep = b.len() - 10;
                b.truncate(keep);
            }),
            "trailer-magic",
        ),
    ];
    for (name, reseal, change, check) in cases {
        let path = tampered(&package, name, reseal, change);
        let run = sandbox.run(&["verify", path.to_str().unwrap()]);
        run.failure(1);
        let failed: Vec<&str> = run
            .stdout
            .lines()
            .filter(|line| line.contains("FAIL"))
            .collect();
        assert!(
            !failed.is_empty() && failed[0].contains(check),
            "{name}: expected `{check}` to fail first:\n{}",
            run.stdout
        );
        // Nothing is extracted from it either.
        let target = sandbox.home().join(format!("out-{name}"));
        sandbox
            .run(&["unpack", path.to_str().unwrap(), target.to_str().unwrap()])
            .failure(1);
        assert!(!target.exists(), "{name}: unpack left {}", target.display());
    }
}

#[test]
fn slot_swap_under_a_valid_signature_is_refused() {
    let sandbox = Sandbox::new();
    let source = source(&sandbox);
    let package = sandbox.home().join("demo.psp");
    build(&sandbox, &source, &package, &["--compression", "none"]).success();
    let opened = Package::open(&package).unwrap();
    let slot = opened.verified(Scope::Structure).unwrap().slots[0].clone();
    let table = opened.index().slot_table_offset as usize;
    drop(opened);
    // Replace the slot's bytes (same length) and rewrite only its 8-byte descriptor checksum,
    // which is all FlavorPack's launchers compare.
    let swapped = tampered(&package, "swapped", false, |bytes, _| {
        let start = slot.descriptor.offset as usize;
        let end = start + slot.descriptor.size as usize;
        for byte in &mut bytes[start + 512..end - 1024] {
            *byte = b'X';
        }
        let digest: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(&bytes[start..end]).into()
        };
        bytes[table + 48..table + 56].copy_from_slice(&digest[..8]);
    });
    let run = sandbox.run(&["verify", swapped.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stdout.contains("FAIL  slot-table")
            && run.stdout.contains("does not match the signed sha256"),
        "{}",
        run.stdout
    );
    let launched = sandbox.run(&["run", swapped.to_str().unwrap()]);
    assert_eq!(launched.code, 111, "{}", launched.stderr);
}

#[test]
fn inspect_shows_the_package_and_its_signed_metadata() {
    let sandbox = Sandbox::new();
    let source = source(&sandbox);
    std::fs::write(
        source.join("manifest.acl"),
        "manifest {\n name = \"demo\"; version = \"1.2.3\"; description = \"A demo\"; license = \"MIT\";\n authors = { \"Ann\" }; tags = { \"cli\" }; dependencies = { \"libdemo@2.0.0\" }; command = \"bin/demo\";\n}\n",
    )
    .unwrap();
    let package = sandbox.home().join("demo.psp");
    build(&sandbox, &source, &package, &[]).success();
    let inspect = sandbox.run(&["inspect", package.to_str().unwrap()]);
    inspect.success();
    for expected in [
        "name         demo",
        "version      1.2.3",
        "description  A demo",
        "dependencies libdemo@2.0.0",
        "license      MIT",
        "command      {workenv}/bin/demo",
        "(not trusted)",
        "  0  bin             tar+zstd",
    ] {
        assert!(
            inspect.stdout.contains(expected),
            "{expected}:\n{}",
            inspect.stdout
        );
    }
    let metadata = sandbox.run(&["inspect", "--metadata", package.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_str(&metadata.stdout).unwrap();
    assert_eq!(json["pandora"]["dependencies"][0], "libdemo@2.0.0");
    assert_eq!(json["pandora"]["authors"][0], "Ann");
    assert_eq!(json["slots"][0]["operations"], "tar.zst");
    assert_eq!(json["format"], "PSPF/2025");
}

#[test]
fn generated_keys_sign_and_can_be_trusted() {
    let sandbox = Sandbox::new();
    let generated = sandbox.run(&["key", "generate", "release", "--trust"]);
    generated.success();
    let public = generated.stdout.trim().to_string();
    assert!(
        public.starts_with("ed25519:") && public.len() == 72,
        "{public}"
    );
    let private = sandbox.pandora_home().join("keys/release.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(read(&sandbox.pandora_home().join("keys/release.pub"))
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    let again = sandbox.run(&["key", "generate", "release"]);
    again.failure(1);
    assert!(
        again.stderr.contains("never overwritten"),
        "{}",
        again.stderr
    );

    let source = source(&sandbox);
    let package = sandbox.home().join("signed.psp");
    sandbox
        .run(&[
            "build",
            source.to_str().unwrap(),
            "-o",
            package.to_str().unwrap(),
            "--key",
            "release",
        ])
        .success();
    let verify = sandbox.run(&["verify", package.to_str().unwrap()]);
    assert!(
        verify.stdout.contains("ok    trust") && verify.stdout.contains("trusted by"),
        "{}",
        verify.stdout
    );
    let strict = sandbox.run_with(&["verify", package.to_str().unwrap()], |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    });
    strict.success();
    // Without --key or a default key, the build says what to do.
    let unsigned = sandbox.run(&[
        "build",
        source.to_str().unwrap(),
        "-o",
        sandbox.home().join("x.psp").to_str().unwrap(),
    ]);
    unsigned.failure(1);
    assert!(
        unsigned
            .stderr
            .contains("hint: run `pandora key generate default`"),
        "{}",
        unsigned.stderr
    );
    let untrusted_strict = sandbox.run_with(
        &["verify", sandbox.home().join("x.psp").to_str().unwrap()],
        |_| {},
    );
    untrusted_strict.failure(1);
}
