//! Install records' compact summaries: written at install, used only when made from the record
//! file as it is now and intact, made again otherwise (records of older versions included),
//! and giving exactly what the ACL record gives.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::{package_source, tree, Sandbox};

fn install(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) {
    let source = sandbox.home().join(format!("src-{name}"));
    package_source(&source, name, "1.0.0", Some(&format!("bin/{name}")), files);
    let output: PathBuf = sandbox.home().join(format!("{name}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", "--no-activate", output.to_str().unwrap()])
        .success();
}

fn summary(sandbox: &Sandbox, id: &str) -> PathBuf {
    sandbox
        .pandora_home()
        .join("records")
        .join(format!("{id}.summary"))
}

/// Activates both packages into a new profile; what the forest holds, and what `list` and
/// `verify` say.
fn activate(sandbox: &Sandbox, profile: &str) -> Vec<String> {
    sandbox.run(&["profile", "create", profile]).success();
    sandbox.run(&["profile", "switch", profile]).success();
    sandbox
        .run(&["activate", "alpha@1.0.0", "beta@1.0.0"])
        .success();
    let mut seen = tree(&sandbox.pandora_home().join("vir"));
    let listed = sandbox.run(&["list", "--store"]).success().stdout.clone();
    seen.push(listed.replace(profile, "PROFILE"));
    let verified = sandbox
        .run(&["verify", "alpha@1.0.0", "beta@1.0.0"])
        .success()
        .stdout
        .clone();
    seen.push(verified);
    seen
}

#[test]
fn summaries_give_what_the_records_give_and_are_made_again_when_wrong() {
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "alpha",
        &[
            ("bin/alpha", "#!/bin/sh\necho alpha\n"),
            ("share/common/alpha.txt", "a"),
            ("share/alpha/doc", "doc"),
        ],
    );
    install(
        &sandbox,
        "beta",
        &[
            ("bin/beta", "#!/bin/sh\necho beta\n"),
            ("share/common/beta.txt", "b"),
            ("lib/beta.so", "so"),
        ],
    );
    let (alpha, beta) = (
        summary(&sandbox, "alpha@1.0.0"),
        summary(&sandbox, "beta@1.0.0"),
    );
    assert!(alpha.is_file() && beta.is_file(), "written at install");
    let written = std::fs::read(&alpha).unwrap();
    let expected = activate(&sandbox, "p0");
    assert!(
        expected.iter().any(|line| line.contains("alpha.txt")),
        "{expected:?}"
    );

    type Change = Box<dyn Fn(&Path, &Path)>;
    let cases: Vec<(&str, Change)> = vec![
        // What a version before summaries left: records only.
        (
            "missing",
            Box::new(|alpha: &Path, beta: &Path| {
                std::fs::remove_file(alpha).unwrap();
                std::fs::remove_file(beta).unwrap();
            }),
        ),
        (
            "damaged",
            Box::new(|alpha: &Path, _: &Path| {
                let mut bytes = std::fs::read(alpha).unwrap();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(alpha, bytes).unwrap();
            }),
        ),
        (
            "another record's",
            Box::new(|alpha: &Path, beta: &Path| {
                std::fs::copy(beta, alpha).unwrap();
            }),
        ),
        (
            "garbage",
            Box::new(|alpha: &Path, _: &Path| std::fs::write(alpha, b"PNDRREC1").unwrap()),
        ),
    ];
    for (number, (what, change)) in cases.iter().enumerate() {
        change(&alpha, &beta);
        assert_eq!(
            activate(&sandbox, &format!("p{}", number + 1)),
            expected,
            "{what}"
        );
        assert_eq!(
            std::fs::read(&alpha).unwrap(),
            written,
            "{what}: made again"
        );
    }

    // The record rewritten since (same bytes, a new file): its summary is stale and made again.
    let record = sandbox.pandora_home().join("records/alpha@1.0.0.acl");
    let text = std::fs::read(&record).unwrap();
    std::fs::remove_file(&record).unwrap();
    std::fs::write(&record, text).unwrap();
    assert_eq!(activate(&sandbox, "p9"), expected);
    assert_ne!(std::fs::read(&alpha).unwrap(), written, "a new stamp");

    // Removing the package removes its summary.
    sandbox.run(&["profile", "create", "empty"]).success();
    sandbox.run(&["profile", "switch", "empty"]).success();
    for profile in ["p0", "p1", "p2", "p3", "p4", "p9"] {
        sandbox
            .run(&["profile", "delete", profile, "--yes"])
            .success();
    }
    sandbox.run(&["remove", "--yes", "alpha@1.0.0"]).success();
    assert!(!alpha.exists());
}
