//! `pandora registry index DIR`: a signed `index.acl` for a directory of packages.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::Path;

use ed25519_dalek::Verifier;
use pandora::format::metadata::encode_hex;
use pandora::registry::index::{parse_signature_file, RegistryIndex};
use sha2::Digest;
use support::{package_source, read, Sandbox, ECHO_SCRIPT};

fn build_into(
    sandbox: &Sandbox,
    registry: &Path,
    name: &str,
    version: &str,
    dependencies: &[&str],
    relative: &str,
) {
    support::publish(
        sandbox,
        &registry.join(relative),
        name,
        version,
        dependencies,
        ECHO_SCRIPT,
        "fixtures",
    );
}

fn index(sandbox: &Sandbox, registry: &Path, extra: &[&str]) -> support::Run {
    let mut args = vec![
        "registry",
        "index",
        registry.to_str().unwrap(),
        "--key-seed",
        "registry",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

#[test]
fn indexes_and_signs_a_directory_of_packages() {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    build_into(
        &sandbox,
        &registry,
        "hello",
        "1.0.0",
        &["libgreet@2.0.0"],
        "pkgs/hello/hello-1.0.0.psp",
    );
    build_into(
        &sandbox,
        &registry,
        "hello",
        "1.10.0",
        &["libgreet@2.0.0"],
        "pkgs/hello/hello-1.10.0.psp",
    );
    build_into(
        &sandbox,
        &registry,
        "libgreet",
        "2.0.0",
        &[],
        "pkgs/libgreet 2.0.0.psp",
    );
    let run = index(
        &sandbox,
        &registry,
        &["--name", "fixtures", "--expires-in", "7"],
    );
    run.success();
    assert!(
        run.stderr
            .contains("registry `fixtures`: 2 package(s), 3 version(s), serial 1"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout.trim(),
        registry.join("index.acl").display().to_string()
    );

    let text = read(&registry.join("index.acl"));
    let parsed = RegistryIndex::parse("index.acl", &text).unwrap();
    assert_eq!(parsed.name, "fixtures");
    assert_eq!(parsed.serial, Some(1));
    let now = pandora::registry::publish::now();
    assert!((parsed.expires.unwrap() - (now + 7 * 86_400)).abs() < 60);
    let hello = parsed.package("hello").unwrap();
    assert_eq!(hello.latest, "1.10.0");
    assert_eq!(
        hello
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        ["1.0.0", "1.10.0"]
    );
    assert_eq!(hello.description.as_deref(), Some("The hello package"));
    assert_eq!(hello.tags, ["fixture"]);
    let newest = &hello.versions[1];
    assert_eq!(newest.pkg_url, "pkgs/hello/hello-1.10.0.psp");
    assert_eq!(newest.dependencies, ["libgreet@2.0.0"]);
    assert_eq!(newest.license.as_deref(), Some("MIT"));
    let file = std::fs::read(registry.join(&newest.pkg_url)).unwrap();
    assert_eq!(newest.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&file)));
    assert_eq!(newest.size, Some(file.len() as u64));
    assert_eq!(
        parsed.package("libgreet").unwrap().versions[0].pkg_url,
        "pkgs/libgreet%202.0.0.psp"
    );

    // The signature covers the exact bytes, by the seed's key.
    let (key, signature) =
        parse_signature_file("sig", &read(&registry.join("index.acl.sig"))).unwrap();
    assert_eq!(
        key,
        pandora::format::signing::SigningKey::from_seed("registry").public_key()
    );
    let verifying = ed25519_dalek::VerifyingKey::from_bytes(&key).unwrap();
    verifying
        .verify(
            text.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&signature),
        )
        .unwrap();
    // The acl tool reads it too.
    assert!(text.contains(&format!(
        "string sha256 = \"{}\";",
        encode_hex(&newest.sha256)
    )));
}

#[test]
fn reindexing_grows_the_serial_and_keeps_deprecations() {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    build_into(
        &sandbox,
        &registry,
        "hello",
        "1.0.0",
        &[],
        "hello-1.0.0.psp",
    );
    build_into(
        &sandbox,
        &registry,
        "hello",
        "1.1.0",
        &[],
        "hello-1.1.0.psp",
    );
    index(&sandbox, &registry, &[]).success();
    // The publisher deprecates 1.1.0 by hand.
    let path = registry.join("index.acl");
    let text = read(&path);
    let marker = "Version \"1.1.0\" {";
    let start = text.find(marker).unwrap();
    let edited = format!(
        "{}{}",
        &text[..start],
        text[start..].replacen("bool deprecated = false;", "bool deprecated = true;", 1)
    );
    std::fs::write(&path, edited).unwrap();
    index(&sandbox, &registry, &[]).success();
    let parsed = RegistryIndex::parse("index.acl", &read(&path)).unwrap();
    assert_eq!(parsed.serial, Some(2));
    let hello = parsed.package("hello").unwrap();
    assert!(hello.versions[1].deprecated);
    assert_eq!(
        hello.latest, "1.0.0",
        "the newest version that is not deprecated"
    );
    assert_eq!(parsed.name, "registry", "the directory's name by default");
}

#[test]
fn bad_packages_and_conflicts_leave_the_index_alone() {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    build_into(&sandbox, &registry, "hello", "1.0.0", &[], "a/hello.psp");
    index(&sandbox, &registry, &[]).success();
    let before = read(&registry.join("index.acl"));

    let mut corrupt = std::fs::read(registry.join("a/hello.psp")).unwrap();
    let at = corrupt.len() - 9000;
    corrupt[at] ^= 1;
    std::fs::write(registry.join("corrupt.psp"), &corrupt).unwrap();
    let run = index(&sandbox, &registry, &[]);
    run.failure(1);
    assert!(
        run.stderr.contains("corrupt.psp is not a valid package")
            && run.stderr.contains("hint: remove it, or rebuild it"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&registry.join("index.acl")), before);
    std::fs::remove_file(registry.join("corrupt.psp")).unwrap();

    // The same name and version, built differently.
    let source = sandbox.home().join("other");
    package_source(
        &source,
        "hello",
        "1.0.0",
        Some("bin/run"),
        &[("bin/run", "#!/bin/sh\necho other\n")],
    );
    sandbox
        .build(&source, &registry.join("b/hello.psp"), "fixtures", &[])
        .success();
    let run = index(&sandbox, &registry, &[]);
    run.failure(1);
    // hello@1.0.0 is in the index already: other bytes under it are refused as a change to a
    // published version (`registry_publish.rs` checks the message names both hashes).
    assert!(
        run.stderr
            .contains("hello@1.0.0 is already published with SHA-256"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&registry.join("index.acl")), before);

    let run = index(&sandbox, &sandbox.home().join("missing"), &[]);
    run.failure(1);
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
}
