//! `pandora run FILE ARGS...` hands every argument after the package to the program untouched,
//! Pandora's own options included; a file that is not there is a usage error.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::{package_source, Sandbox, ECHO_SCRIPT};

#[test]
fn everything_after_the_package_goes_to_the_program() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src");
    package_source(
        &source,
        "echo",
        "1.0.0",
        Some("bin/run"),
        &[("bin/run", ECHO_SCRIPT)],
    );
    let package = sandbox.home().join("echo.psp");
    sandbox.build(&source, &package, "publisher", &[]).success();
    let run = sandbox.run(&[
        "run",
        package.to_str().unwrap(),
        "--help",
        "-v",
        "x",
        "--yes",
        "--",
    ]);
    assert_eq!(
        run.success().stdout,
        "args=5\narg=[--help]\narg=[-v]\narg=[x]\narg=[--yes]\narg=[--]\ngreeting=\n"
    );
}

#[test]
fn a_missing_package_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["run", "/nonexistent/app.psp", "--help"]);
    run.failure(2);
    assert!(
        run.stderr.contains("is not a package file"),
        "{}",
        run.stderr
    );
}
