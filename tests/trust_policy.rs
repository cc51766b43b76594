//! One trust policy for every entry point: `PANDORA_REQUIRE_TRUSTED=1` refuses what the
//! launcher refuses, at install and at activation too; a registry's configured keys vouch for
//! what comes from it.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::PathBuf;

use support::registry::{fixture, key};
use support::{package_source, Sandbox};

fn stranger_package(sandbox: &Sandbox) -> PathBuf {
    let source = sandbox.home().join("src-odd");
    package_source(
        &source,
        "odd",
        "1.0.0",
        Some("bin/odd"),
        &[("bin/odd", "#!/bin/sh\necho odd\n")],
    );
    let output = sandbox.home().join("odd.psp");
    sandbox.build(&source, &output, "stranger", &[]).success();
    output
}

fn strict(sandbox: &Sandbox, args: &[&str]) -> support::Run {
    sandbox.run_with(args, |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    })
}

#[test]
fn install_and_activate_apply_the_policy_the_launcher_applies() {
    let sandbox = Sandbox::new();
    let package = stranger_package(&sandbox);
    let path = package.to_str().unwrap();
    // The launcher refuses it...
    let run = sandbox.run_file(&package, &[], |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    });
    assert_eq!(run.code, 112, "{}", run.stderr);
    // ...and so does install, before anything lands.
    let refused = strict(&sandbox, &["install", "--yes", path]);
    refused.failure(1);
    assert!(refused.stderr.contains("not trusted"), "{}", refused.stderr);
    assert!(!sandbox.run(&["list", "--store"]).stdout.contains("odd"));
    // Allowed without the policy, with a warning.
    let allowed = sandbox.run(&["install", "--no-activate", path]);
    allowed.success();
    assert!(
        allowed.stderr.contains("do not trust"),
        "{}",
        allowed.stderr
    );
    // Activation under the policy refuses it too.
    let activate = strict(&sandbox, &["activate", "odd"]);
    activate.failure(1);
    assert!(
        activate.stderr.contains("not trusted"),
        "{}",
        activate.stderr
    );
    assert!(!sandbox.run(&["list"]).stdout.contains("odd"));
    // Trusting the key is the way in.
    let trusted = sandbox.pandora_home().join("keys/trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::write(trusted.join("stranger.pub"), key("stranger")).unwrap();
    strict(&sandbox, &["activate", "odd"]).success();
}

#[test]
fn a_registrys_keys_vouch_for_its_packages() {
    let fixture = fixture();
    // The fixture registry is configured with the key its packages are signed by.
    strict(&fixture.sandbox, &["install", "--yes", "hello"]).success();
}

#[test]
fn a_key_source_others_could_write_is_ignored_with_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let package = stranger_package(&sandbox);
    let trusted = sandbox.pandora_home().join("keys/trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::write(trusted.join("stranger.pub"), key("stranger")).unwrap();
    std::fs::set_permissions(
        trusted.join("stranger.pub"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let run = strict(&sandbox, &["install", "--yes", package.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr.contains("not a trusted key source (ignored)"),
        "{}",
        run.stderr
    );
}
