//! Installs that do what they say: local files need no registry when nothing is missing, the
//! plan comes before any download, and replacing the active version of a package nobody named
//! is shown, asked about, and refused without `--yes` — the same rule for `install` and
//! `activate`. Deprecated packages warn and are never refused.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::{fixture, index, publish as publish_to};
use support::{read, Sandbox, ECHO_SCRIPT};

#[test]
fn local_files_use_what_is_installed_and_each_other_without_a_registry() {
    let sandbox = Sandbox::new();
    // No registry is configured at all.
    let lib = support::local_package(&sandbox, "lib", "1.0.0", &[]);
    sandbox
        .run(&["install", "--yes", lib.to_str().unwrap()])
        .success();
    let app = support::local_package(&sandbox, "app", "1.0.0", &["lib@1.0.0"]);
    let run = sandbox.run(&["install", "--yes", app.to_str().unwrap()]);
    assert_eq!(run.success().stdout, "app@1.0.0\n", "{}", run.stderr);
    // Two files needing each other (and the installed lib) in one command.
    let helper = support::local_package(&sandbox, "helper", "2.0.0", &["lib@1.0.0"]);
    let tool = support::local_package(&sandbox, "tool", "1.0.0", &["helper@2.0.0"]);
    let run = sandbox.run(&[
        "install",
        "--yes",
        tool.to_str().unwrap(),
        helper.to_str().unwrap(),
    ]);
    run.success();
    let listed = sandbox.run(&["list"]).stdout;
    for id in ["lib@1.0.0", "app@1.0.0", "helper@2.0.0", "tool@1.0.0"] {
        assert!(listed.contains(id), "{id} missing from:\n{listed}");
    }
    // What is truly missing still needs a registry, and says so.
    let orphan = support::local_package(&sandbox, "orphan", "1.0.0", &["nowhere@1.0.0"]);
    let run = sandbox.run(&["install", "--yes", orphan.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr.contains(
            "nowhere@1.0.0 (needed by orphan@1.0.0) is not installed, and no registries are configured"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn replacing_an_active_package_nobody_named_needs_a_yes() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    publish_to(
        sandbox,
        &fixture.registry,
        "hello",
        "1.0.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    publish_to(
        sandbox,
        &fixture.registry,
        "app",
        "1.0.0",
        &["hello@1.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox.run(&["install", "--no-activate", "app"]).success();

    // activate: refused where nobody can be asked, naming what would change.
    let refused = sandbox.run(&["activate", "app"]);
    refused.failure(3);
    assert!(
        refused
            .stderr
            .contains("hello@1.1.0 -> hello@1.0.0 (pinned by app@1.0.0)"),
        "{}",
        refused.stderr
    );
    assert!(sandbox.run(&["list"]).stdout.contains("hello@1.1.0"));
    // On a terminal it is asked; no keeps the profile.
    let (status, shown) = sandbox.on_terminal("activate app", "n\n");
    assert_eq!(status, Some(3), "{shown}");
    assert!(
        shown.contains("Replace hello@1.1.0 -> hello@1.0.0"),
        "{shown}"
    );
    assert!(sandbox.run(&["list"]).stdout.contains("hello@1.1.0"));

    // install: the plan shows the replacement before anything is downloaded.
    sandbox.run(&["remove", "--yes", "app@1.0.0"]).success();
    let (status, shown) = sandbox.on_terminal("install app", "n\n");
    assert_eq!(status, Some(3), "{shown}");
    assert!(
        shown.contains("hello@1.1.0 -> hello@1.0.0 (pinned by app@1.0.0)"),
        "{shown}"
    );
    assert!(!sandbox.run(&["list", "--store"]).stdout.contains("app@"));
    // With --yes it goes ahead, and still says what it replaced.
    let accepted = sandbox.run(&["install", "--yes", "app"]);
    accepted.success();
    assert!(
        accepted
            .stderr
            .contains("Replace hello@1.1.0 -> hello@1.0.0"),
        "{}",
        accepted.stderr
    );
    let listed = sandbox.run(&["list"]).stdout;
    assert!(
        listed.contains("hello@1.0.0") && listed.contains("app@1.0.0"),
        "{listed}"
    );
    // Naming the package is asking for it: no question.
    sandbox.run(&["deactivate", "app"]).success();
    sandbox.run(&["activate", "hello@1.1.0"]).success();
}

#[test]
fn deprecated_packages_warn_on_install_and_activate() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let path = fixture.registry.join("index.acl");
    let text = read(&path);
    let start = text.find("Version \"1.1.0\" {").unwrap();
    let edited = format!(
        "{}{}",
        &text[..start],
        text[start..].replacen("bool deprecated = false;", "bool deprecated = true;", 1)
    );
    std::fs::write(&path, edited).unwrap();
    index(sandbox, &fixture.registry, &[]);
    let installed = sandbox.run(&["install", "--yes", "hello@1.1.0"]);
    installed.success();
    assert!(
        installed
            .stderr
            .contains("warning: hello@1.1.0 (registry `fixtures`) is deprecated"),
        "{}",
        installed.stderr
    );
    sandbox.run(&["deactivate", "hello"]).success();
    let activated = sandbox.run(&["activate", "hello"]);
    activated.success();
    assert!(
        activated
            .stderr
            .contains("hello@1.1.0 (registry `fixtures`) is deprecated"),
        "{}",
        activated.stderr
    );
    assert!(
        !activated.stderr.contains("libgreet@2.0.0 (registry"),
        "{}",
        activated.stderr
    );
}

#[test]
fn nothing_to_download_draws_no_progress_bar() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&["install", "--no-activate", "hello"])
        .success();
    let (status, shown) = sandbox.on_terminal("install hello", "y\n");
    assert_eq!(status, Some(0), "{shown}");
    assert!(!shown.contains("0 B/0 B"), "{shown}");
    assert!(!shown.contains("to download"), "{shown}");
    assert!(shown.contains("Proceed?"), "{shown}");
}
