//! Install and removal hooks: declared in the manifest (a `hooks` block, or the design's hook
//! files), signed into the package, shown before anything runs, run in the sandbox with the
//! new store entry writable, and a failing one leaves nothing installed.
#![allow(clippy::disallowed_methods)] // tests use std::fs (the fs-err rule is for Pandora)

mod support;

use std::path::{Path, PathBuf};

use support::Sandbox;

const SEED: &str = "hooks";

fn sandbox_works() -> bool {
    let works = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "true",
        ])
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        eprintln!("SKIPPED: this kernel does not allow user namespaces (or unshare is missing)");
    }
    works
}

/// A package `hi@1.0.0` whose manifest has `extra` inside `manifest { ... }`.
fn package(sandbox: &Sandbox, extra: &str) -> PathBuf {
    let directory = sandbox.home().join("hi");
    fs_err::create_dir_all(directory.join("files/bin")).unwrap();
    fs_err::create_dir_all(directory.join("hooks")).unwrap();
    let program = directory.join("files/bin/hi");
    fs_err::write(&program, "#!/bin/sh\necho hi\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    fs_err::write(
        directory.join("manifest.acl"),
        format!("manifest {{ string name = \"hi\"; string version = \"1.0.0\"; string command = \"bin/hi\";\n{extra}\n}}\n"),
    )
    .unwrap();
    directory
}

fn built(sandbox: &Sandbox, extra: &str) -> PathBuf {
    let source = package(sandbox, extra);
    let output = sandbox.home().join("hi.psp");
    sandbox.build(&source, &output, SEED, &[]).success();
    output
}

fn entry(sandbox: &Sandbox) -> PathBuf {
    sandbox.pandora_home().join("store/hi@1.0.0")
}

fn install(sandbox: &Sandbox, file: &Path, extra: &[&str]) -> support::Run {
    let mut args = vec!["install", file.to_str().unwrap(), "--yes"];
    args.extend_from_slice(extra);
    sandbox.run(&args)
}

#[test]
fn hooks_run_in_the_sandbox_with_the_new_entry_writable() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(
        &sandbox,
        r#"hooks { string[] post_install = { "mkdir -p share && echo configured > share/hi.conf && echo entry=$PANDORA_ENTRY" }; }
string[] install_hooks = { "hooks/preinstall.acl" };
build_meta { builder = "mpt"; commit = "abcdef0123456789"; date = "2025-10-12"; }
string pkg_format = "pandora-v1";"#,
    );
    fs_err::write(
        source.join("hooks/preinstall.acl"),
        "preinstall { string action = \"warn\"; string msg = \"Backing up config before installing hi\"; }",
    )
    .unwrap();
    let file = sandbox.home().join("hi.psp");
    sandbox.build(&source, &file, SEED, &[]).success();
    let run = install(&sandbox, &file, &[]);
    run.success();
    let shown = run.stderr.find("Hooks hi@1.0.0: pre_install warn \"Backing up config before installing hi\"; post_install `mkdir -p share");
    let ran = run.stderr.find("entry=");
    assert!(
        shown.is_some() && ran.is_some() && shown < ran,
        "hooks not shown before they ran:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("entry={}", entry(&sandbox).display())),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("warning: hi@1.0.0: Backing up config before installing hi"),
        "{}",
        run.stderr
    );
    assert_eq!(
        support::read(&entry(&sandbox).join("share/hi.conf")),
        "configured\n"
    );
    // Sealed like the rest of the entry.
    assert!(fs_err::metadata(entry(&sandbox).join("share/hi.conf"))
        .unwrap()
        .permissions()
        .readonly());
    let info = sandbox.run(&["info", "hi", "--offline"]);
    info.success();
    assert!(info.stdout.contains("hooks        pre_install warn \"Backing up config before installing hi\"; post_install `mkdir"), "{}", info.stdout);
    assert!(
        info.stdout
            .contains("provenance   build_meta commit = abcdef0123456789"),
        "{}",
        info.stdout
    );
    // The entry verifies with what its hook added.
    sandbox.run(&["verify", "hi@1.0.0"]).success();
}

#[test]
fn a_failing_hook_leaves_nothing_installed() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let file = built(
        &sandbox,
        r#"hooks { string[] post_install = { "echo half-done > half && exit 7" }; }"#,
    );
    let run = install(&sandbox, &file, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("error: a hook of hi@1.0.0 failed: `echo half-done > half && exit 7` exited with code 7; nothing was changed"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--no-hooks"), "{}", run.stderr);
    assert!(!entry(&sandbox).exists());
    assert!(!sandbox.pandora_home().join("records/hi@1.0.0.acl").exists());
    assert!(!sandbox.home().join("bin/hi").exists());
    let leftovers: Vec<_> = fs_err::read_dir(sandbox.pandora_home().join("tmp"))
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // --no-hooks installs it without running them.
    let run = install(&sandbox, &file, &["--no-hooks"]);
    run.success();
    assert!(
        run.stderr.contains("(not run: --no-hooks)"),
        "{}",
        run.stderr
    );
    assert!(entry(&sandbox).join("bin/hi").is_file());
    assert!(!entry(&sandbox).join("half").exists());
}

#[test]
fn a_hook_that_never_ends_is_killed_and_the_install_aborted() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let file = built(
        &sandbox,
        r#"hooks { string[] post_install = { "sleep 4244 & exec sleep 4245" }; int time_limit = 1; }"#,
    );
    let run = install(&sandbox, &file, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("ran past its time limit and was killed"),
        "{}",
        run.stderr
    );
    assert!(!entry(&sandbox).exists());
}

#[test]
fn a_failing_pre_remove_hook_keeps_the_package() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let file = built(
        &sandbox,
        r#"hooks { string[] pre_remove = { "test -e /pkg/keep-me-not && touch /pkg/x" }; }"#,
    );
    install(&sandbox, &file, &[]).success();
    let run = sandbox.run(&["remove", "hi", "--yes"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("a hook of hi@1.0.0 failed"),
        "{}",
        run.stderr
    );
    assert!(entry(&sandbox).join("bin/hi").is_file());
    assert!(
        sandbox.home().join("bin/hi").exists(),
        "the profile changed"
    );
    sandbox
        .run(&["remove", "hi", "--yes", "--no-hooks"])
        .success();
    assert!(!entry(&sandbox).exists());
}

#[test]
fn manifest_fields_pandora_computes_are_checked() {
    let sandbox = Sandbox::new();
    let source = package(&sandbox, r#"string pkg_format = "deb";"#);
    let run = sandbox.build(&source, &sandbox.home().join("x.psp"), SEED, &[]);
    run.failure(1);
    assert!(
        run.stderr.contains(
            "`pkg_format` is `deb`, but Pandora writes `pandora-v1` (PSPF/2025) packages only"
        ),
        "{}",
        run.stderr
    );

    let output = sandbox.home().join("pinned.psp");
    let wrong = "ab".repeat(32);
    let source = package(&sandbox, &format!("string archive_sha256 = \"{wrong}\";"));
    let run = sandbox.build(&source, &output, SEED, &[]);
    run.failure(1);
    assert!(
        run.stderr
            .contains(&format!("but the manifest's archive_sha256 is {wrong}")),
        "{}",
        run.stderr
    );
    assert!(!output.exists());
    // The digest it reported, pinned, builds.
    let actual = run
        .stderr
        .split("hashes to ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap()
        .to_string();
    let source = package(&sandbox, &format!("string archive_sha256 = \"{actual}\";"));
    sandbox.build(&source, &output, SEED, &[]).success();

    for (extra, message) in [
        (
            r#"string[] install_hooks = { "hooks/missing.acl" };"#,
            "missing.acl",
        ),
        (
            r#"hooks { string[] on_upgrade = { "x" }; }"#,
            "unknown field `on_upgrade` in hooks",
        ),
    ] {
        let source = package(&sandbox, extra);
        let run = sandbox.build(&source, &sandbox.home().join("y.psp"), SEED, &[]);
        run.failure(1);
        assert!(run.stderr.contains(message), "{extra}: {}", run.stderr);
    }
    let source = package(&sandbox, r#"string[] install_hooks = { "hooks/bad.acl" };"#);
    fs_err::write(
        source.join("hooks/bad.acl"),
        "preinstall { string action = \"reboot\"; }",
    )
    .unwrap();
    let run = sandbox.build(&source, &sandbox.home().join("y.psp"), SEED, &[]);
    run.failure(1);
    assert!(
        run.stderr.contains("unknown hook action `reboot`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("bad.acl:1:"), "{}", run.stderr);

    // A `warn` hook with commands would silently not run them: refused.
    fs_err::write(
        source.join("hooks/bad.acl"),
        "postinstall { string action = \"warn\"; string msg = \"hi\"; string[] commands = { \"echo x\" }; }",
    )
    .unwrap();
    let run = sandbox.build(&source, &sandbox.home().join("y.psp"), SEED, &[]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("a `warn` hook only shows its message: it cannot have `commands`"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("bad.acl:1:"), "{}", run.stderr);
}

#[test]
fn a_hook_cannot_leave_links_out_or_special_files_in_the_entry() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    for (command, path, reason) in [
        (
            "ln -s / bin/root",
            "bin/root",
            "a symbolic link to the absolute path `/`",
        ),
        (
            "ln -s ../../../../../../.. bin/up",
            "bin/up",
            "a symbolic link leaving the package",
        ),
        // Each link alone stays inside; one through the other leaves.
        (
            "ln -s . bin/here && ln -s here/../.. bin/out",
            "bin/out",
            "a symbolic link that resolves outside the package",
        ),
        // A FIFO would have blocked sealing the entry forever.
        ("mkfifo bin/pipe", "bin/pipe", "a FIFO, socket or device"),
    ] {
        let file = built(
            &sandbox,
            &format!("hooks {{ string[] post_install = {{ \"{command}\" }}; }}"),
        );
        let run = install(&sandbox, &file, &[]);
        assert_eq!(run.code, 1, "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!(
                "error: a hook of hi@1.0.0 (`{command}`) left {path}: {reason}"
            )),
            "{command}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("nothing was installed"),
            "{}",
            run.stderr
        );
        assert!(!entry(&sandbox).exists(), "{command}");
        assert!(!sandbox.pandora_home().join("records/hi@1.0.0.acl").exists());
        assert!(!sandbox.home().join("bin/hi").exists(), "{command}");
        fs_err::remove_file(&file).unwrap();
    }
}

#[test]
fn registry_packages_show_their_hooks_before_they_run_and_sync_can_skip_them() {
    if !sandbox_works() {
        return;
    }
    let publisher = Sandbox::new();
    let registry = publisher.home().join("registry");
    let command = "echo configured > configured";
    let source = package(
        &publisher,
        &format!("hooks {{ string[] post_install = {{ \"{command}\" }}; }}"),
    );
    let file = registry.join("pkgs/hi-1.0.0.psp");
    publisher.build(&source, &file, "publisher", &[]).success();
    support::registry::index(&publisher, &registry, &[]);
    let server = registry_fixtures::server::FixtureServer::start(&registry).unwrap();
    let shown = format!("Running hooks of hi@1.0.0 in the sandbox: post_install `{command}`");

    // Known only once downloaded: shown then, before they run, even with --yes.
    let first = Sandbox::new();
    support::registry::configure(&first, &server);
    let run = first.run(&["install", "hi", "--yes"]);
    run.success();
    assert!(run.stderr.contains(&shown), "{}", run.stderr);
    assert!(entry(&first).join("configured").is_file());
    let lockfile = first.pandora_home().join("manifests/default.lock");

    let skipped = Sandbox::new();
    support::registry::configure(&skipped, &server);
    let run = skipped.run(&[
        "sync",
        "--lockfile",
        lockfile.to_str().unwrap(),
        "--no-hooks",
    ]);
    run.success();
    assert!(!run.stderr.contains("Running hooks"), "{}", run.stderr);
    assert!(entry(&skipped).join("bin/hi").is_file());
    assert!(!entry(&skipped).join("configured").exists());

    let synced = Sandbox::new();
    support::registry::configure(&synced, &server);
    let run = synced.run(&["sync", "--lockfile", lockfile.to_str().unwrap()]);
    run.success();
    assert!(run.stderr.contains(&shown), "{}", run.stderr);
    assert!(entry(&synced).join("configured").is_file());
}
