//! Lockfiles name packages by name, version and SHA-256; the registry they were locked from is
//! informational. `sync` takes the exact bytes from any configured registry that offers them,
//! or from the blob cache, and says clearly what to do when nothing has them.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::registry::{fixture, index, key};
use support::{package_source, Sandbox};

/// Configures `sandbox` with the fixture registry under another name.
fn configure_as(sandbox: &Sandbox, name: &str, url: &str) {
    sandbox
        .run(&[
            "registry",
            "add",
            name,
            url,
            "--key",
            &key("registry"),
            "--key",
            &key("publisher"),
            "--require-signatures",
            "--cache-ttl",
            "0",
        ])
        .success();
}

fn export(sandbox: &Sandbox, name: &str) -> PathBuf {
    let exported = sandbox.home().join(name);
    std::fs::copy(
        sandbox.pandora_home().join("manifests/default.lock"),
        &exported,
    )
    .unwrap();
    exported
}

/// `solo@1.0.0`, a package built locally (no registry has it), signed by the publisher.
fn build_solo(sandbox: &Sandbox) -> PathBuf {
    let source = sandbox.home().join("src-solo");
    package_source(
        &source,
        "solo",
        "1.0.0",
        Some("bin/solo"),
        &[("bin/solo", "#!/bin/sh\necho solo here\n")],
    );
    let output = sandbox.home().join("solo-1.0.0.psp");
    sandbox.build(&source, &output, "publisher", &[]).success();
    output
}

fn hashes(lockfile: &str) -> Vec<&str> {
    lockfile
        .lines()
        .filter(|line| line.contains("sha256"))
        .collect()
}

fn solo_runs(sandbox: &Sandbox) {
    let ran = sandbox.run_file(&sandbox.home().join("bin/solo"), &[], |_| {});
    assert_eq!(ran.success().stdout, "solo here\n");
}

/// `name@version` of every package the active profile holds (not where each came from).
fn packages(sandbox: &Sandbox) -> Vec<String> {
    sandbox
        .run(&["list"])
        .success()
        .stdout
        .lines()
        .map(|line| {
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn list(path: &Path) -> String {
    support::read(path)
}

#[test]
fn a_teammate_who_named_the_registry_otherwise_syncs_the_same_bytes() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let exported = export(sandbox, "team.lock");
    let locked = list(&exported);
    assert!(locked.contains("registry = \"fixtures\""), "{locked}");

    let teammate = Sandbox::new();
    configure_as(&teammate, "fx", &fixture.server.url());
    teammate
        .run(&["sync", "--lockfile", exported.to_str().unwrap()])
        .success();
    assert_eq!(packages(&teammate), packages(sandbox));
    let theirs = list(&teammate.pandora_home().join("manifests/default.lock"));
    assert_eq!(hashes(&theirs), hashes(&locked));
    // Where the bytes came from is recorded as it is here.
    assert!(theirs.contains("registry = \"fx\""), "{theirs}");
    let ran = teammate.run_file(&teammate.home().join("bin/hello"), &["x"], |_| {});
    assert!(ran.success().stdout.contains("arg=[x]"), "{}", ran.stdout);
}

#[test]
fn a_package_installed_from_a_file_syncs_from_the_blob_cache_or_any_registry_with_its_bytes() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let solo = build_solo(sandbox);
    sandbox
        .run(&["install", "--yes", solo.to_str().unwrap()])
        .success();
    sandbox.run(&["install", "--yes", "hello"]).success();
    let exported = export(sandbox, "with-file.lock");
    let locked = list(&exported);
    assert!(
        locked.contains(&format!("source = \"{}\"", solo.display())),
        "{locked}"
    );

    // Elsewhere, with neither the file's bytes cached nor a registry offering them: a clear
    // refusal naming the package and what to do, and nothing installed.
    let elsewhere = Sandbox::new();
    configure_as(&elsewhere, "fx", &fixture.server.url());
    let run = elsewhere.run(&["sync", "--lockfile", exported.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("the lockfile pins solo@1.0.0 to SHA-256")
            && run.stderr.contains("(locked from a file, ")
            && run
                .stderr
                .contains("no configured registry offers those bytes"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "hint: nothing was installed. Install that file first (`pandora install --no-activate {}`)",
            solo.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!elsewhere.pandora_home().join("store/hello@1.1.0").exists());

    // Here, after removing it, its bytes are still in the blob cache: sync puts it back
    // without asking any registry for it.
    sandbox.run(&["remove", "--yes", "solo"]).success();
    std::fs::remove_file(&solo).unwrap();
    sandbox
        .run(&["sync", "--lockfile", exported.to_str().unwrap()])
        .success();
    solo_runs(sandbox);
    let again = list(&sandbox.pandora_home().join("manifests/default.lock"));
    assert_eq!(hashes(&again), hashes(&locked));
    assert_eq!(again, locked, "the original source stays on record");

    // A registry that offers the same name@version with the same bytes supplies it too.
    let copy = fixture.registry.join("pkgs/solo-1.0.0.psp");
    let blob = sandbox
        .pandora_home()
        .join("blobs")
        .join(solo_blob(&locked));
    std::fs::write(&copy, std::fs::read(blob).unwrap()).unwrap();
    index(sandbox, &fixture.registry, &[]);
    elsewhere
        .run(&["sync", "--lockfile", exported.to_str().unwrap()])
        .success();
    solo_runs(&elsewhere);
    let theirs = list(&elsewhere.pandora_home().join("manifests/default.lock"));
    assert_eq!(hashes(&theirs), hashes(&locked));
}

/// The SHA-256 the lockfile pins for solo.
fn solo_blob(lockfile: &str) -> String {
    lockfile
        .lines()
        .skip_while(|line| !line.contains("Package \"solo\""))
        .find(|line| line.contains("sha256"))
        .and_then(|line| line.split('"').nth(1))
        .unwrap()
        .to_string()
}

#[test]
fn old_lockfiles_still_read_and_sync() {
    // Written by an earlier Pandora: the same format, registry name and all.
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let locked = list(&sandbox.pandora_home().join("manifests/default.lock"));
    let old = sandbox.home().join("old.lock");
    let without_comment: String = locked
        .lines()
        .filter(|line| !line.starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(&old, without_comment).unwrap();
    let other = Sandbox::new();
    configure_as(&other, "mirror", &fixture.server.url());
    other
        .run(&["sync", "--lockfile", old.to_str().unwrap()])
        .success();
    assert_eq!(packages(&other), packages(sandbox));
}
