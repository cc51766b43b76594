//! Installing into the profile from a real registry on 127.0.0.1: activation with dependencies,
//! lockfiles rebuilt in a second home, refusals that show the dependency graph and the fix, and
//! `pandora graph`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::{configure, fixture, index, publish};
use support::Sandbox;

fn store_is_empty(sandbox: &Sandbox) -> bool {
    std::fs::read_dir(sandbox.pandora_home().join("store"))
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

#[test]
fn install_activates_and_a_lockfile_rebuilds_the_profile_elsewhere() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    // No terminal and neither --yes nor --no-activate: refused before anything is fetched.
    let run = sandbox.run(&["install", "hello"]);
    run.failure(3);
    assert!(run.stderr.contains("--no-activate"), "{}", run.stderr);
    assert!(store_is_empty(sandbox));

    sandbox.run(&["install", "--yes", "hello"]).success();
    let hello = sandbox.home().join("bin/hello");
    let ran = sandbox.run_file(&hello, &["x"], |_| {});
    assert!(ran.success().stdout.contains("arg=[x]"), "{}", ran.stdout);
    // The dependency came along into the profile.
    assert!(sandbox.home().join("bin/libgreet").exists());
    let lockfile = sandbox.pandora_home().join("manifests/default.lock");
    let locked = support::read(&lockfile);
    assert!(locked.contains("Package \"hello\""), "{locked}");
    assert!(locked.contains("registry = \"fixtures\""), "{locked}");
    let exported = sandbox.home().join("exported.lock");
    std::fs::copy(&lockfile, &exported).unwrap();

    // A second home with the same registry rebuilds the same profile from the lockfile.
    let other = Sandbox::new();
    configure(&other, &fixture.server);
    other
        .run(&["sync", "--lockfile", exported.to_str().unwrap()])
        .success();
    assert_eq!(other.run(&["list"]).stdout, sandbox.run(&["list"]).stdout,);
    assert_eq!(
        support::read(&other.pandora_home().join("manifests/default.lock")),
        locked
    );
    let ran = other.run_file(&other.home().join("bin/hello"), &[], |_| {});
    assert!(ran.success().stdout.contains("args=0"), "{}", ran.stdout);

    // A lockfile whose hash the registry disagrees with installs nothing.
    let digest = locked
        .lines()
        .skip_while(|line| !line.contains("Package \"hello\""))
        .find(|line| line.contains("sha256"))
        .and_then(|line| line.split('"').nth(1))
        .unwrap()
        .to_string();
    let tampered = sandbox.home().join("tampered.lock");
    std::fs::write(&tampered, locked.replace(&digest, &"0".repeat(64))).unwrap();
    let third = Sandbox::new();
    configure(&third, &fixture.server);
    let run = third.run(&["sync", "--lockfile", tampered.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("the lockfile pins hello@1.1.0 to SHA-256 0000"),
        "{}",
        run.stderr
    );
    assert!(store_is_empty(&third));
    assert!(!third.pandora_home().join("vir").exists());
}

#[test]
fn broken_dependencies_show_the_graph_and_the_fix() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox
        .run(&["install", "--no-activate", "hello"])
        .success();
    sandbox
        .run(&["remove", "--yes", "--force", "libgreet@2.0.0"])
        .success();
    let run = sandbox.run(&["activate", "hello@1.1.0"]);
    run.failure(1);
    assert!(
        run.stderr.contains(
            "libgreet@2.0.0 is not installed\n    profile default\n    └── hello@1.1.0\n        └── libgreet@2.0.0 ✗ not installed"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: pandora install libgreet@2.0.0"),
        "{}",
        run.stderr
    );

    // A newer libgreet that hello does not pin would break hello.
    publish(
        sandbox,
        &fixture.registry,
        "libgreet",
        "3.0.0",
        &[],
        "#!/bin/sh\n",
    );
    index(sandbox, &fixture.registry, &[]);
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox
        .run(&["install", "--no-activate", "libgreet@3.0.0"])
        .success();
    let run = sandbox.run(&["activate", "libgreet@3.0.0"]);
    run.failure(1);
    assert!(
        run.stderr.contains(
            "hello@1.1.0 needs libgreet@2.0.0, but profile default would have libgreet@3.0.0"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("    ├── hello@1.1.0\n    │   └── libgreet@2.0.0 ✗ the profile would have libgreet@3.0.0\n    └── libgreet@3.0.0 (activating)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: pandora deactivate hello && pandora activate libgreet@3.0.0"),
        "{}",
        run.stderr
    );
    let run = sandbox.run(&["deactivate", "libgreet"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("hint: pandora deactivate libgreet hello"),
        "{}",
        run.stderr
    );

    let graph = sandbox.run(&["graph", "hello"]);
    assert_eq!(
        graph.success().stdout,
        "hello@1.1.0 (active)\n└── libgreet@2.0.0 (active)\n"
    );
    let graph = sandbox.run(&["graph", "tool"]);
    assert_eq!(
        graph.success().stdout,
        "tool@1.0.0 (missing)\n└── libgreet@9.9.9 (missing, in no registry)\n"
    );
    sandbox.run(&["deactivate", "hello"]).success();
    let graph = sandbox.run(&["graph", "hello@1.1.0"]);
    assert_eq!(
        graph.success().stdout,
        "hello@1.1.0 (installed)\n└── libgreet@2.0.0 (active)\n"
    );
}
