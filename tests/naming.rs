//! One rule names an installed package in every command: `NAME@VERSION` as given; `NAME` is
//! the active version, else the only installed one, else an error listing the versions.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::{package_source, Sandbox};

fn install(sandbox: &Sandbox, version: &str) {
    let source = sandbox.home().join(format!("src-{version}"));
    package_source(
        &source,
        "tool",
        version,
        Some("bin/tool"),
        &[("bin/tool", &format!("#!/bin/sh\necho tool {version}\n"))],
    );
    let output = sandbox.home().join(format!("tool-{version}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", "--no-activate", output.to_str().unwrap()])
        .success();
}

#[test]
fn names_and_versions_mean_the_same_everywhere() {
    let sandbox = Sandbox::new();
    install(&sandbox, "1.0.0");
    install(&sandbox, "2.0.0");
    // Two installed, none active: a bare name is ambiguous, and the error lists both.
    let ambiguous = sandbox.run(&["activate", "tool"]);
    ambiguous.failure(1);
    assert!(
        ambiguous.stderr.contains("tool@1.0.0, tool@2.0.0"),
        "{}",
        ambiguous.stderr
    );
    let graph = sandbox.run(&["graph", "tool"]);
    graph.failure(1);
    assert!(
        graph.stderr.contains("tool@1.0.0, tool@2.0.0"),
        "{}",
        graph.stderr
    );
    sandbox.run(&["activate", "tool@1.0.0"]).success();
    // Now `tool` is the active version, for every command.
    let verified = sandbox.run(&["verify", "tool"]);
    assert!(
        verified.success().stdout.contains("tool@1.0.0"),
        "{}",
        verified.stdout
    );
    let wrong = sandbox.run(&["deactivate", "tool@2.0.0"]);
    wrong.failure(1);
    assert!(
        wrong.stderr.contains("holds tool@1.0.0, not tool@2.0.0"),
        "{}",
        wrong.stderr
    );
    sandbox.run(&["deactivate", "tool@1.0.0"]).success();
    sandbox.run(&["remove", "tool@2.0.0", "--yes"]).success();
    // One version left: the bare name is that one.
    let removed = sandbox.run(&["remove", "tool", "--yes"]);
    assert!(
        removed.success().stderr.contains("tool@1.0.0"),
        "{}",
        removed.stderr
    );
    let gone = sandbox.run(&["verify", "tool"]);
    gone.failure(1);
    assert!(
        gone.stderr.contains("tool is not installed"),
        "{}",
        gone.stderr
    );
}
