//! Moving between a profile's generations (`rollback`, `--forward`, `--to N`), the history that
//! says what each changed, the undo hint `remove` prints (followed literally), and `prune
//! --generations` asking first and counting what it frees.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use support::registry::fixture;
use support::{package_source, Sandbox};

/// Builds `name@version` (its `bin/NAME` prints `NAME VERSION`) into a file and installs it
/// into the store only; returns the file.
fn install(sandbox: &Sandbox, name: &str, version: &str) -> PathBuf {
    let source = sandbox.home().join(format!("src-{name}-{version}"));
    let script = format!("#!/bin/sh\necho {name} {version}\n");
    let command = format!("bin/{name}");
    package_source(
        &source,
        name,
        version,
        Some(&command),
        &[(&command, &script)],
    );
    let output = sandbox.home().join(format!("{name}-{version}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", "--no-activate", output.to_str().unwrap()])
        .success();
    output
}

fn tool(sandbox: &Sandbox, name: &str) -> String {
    sandbox
        .run_file(&sandbox.home().join("bin").join(name), &[], |_| {})
        .success()
        .stdout
        .clone()
}

fn current(sandbox: &Sandbox) -> String {
    let link = sandbox.pandora_home().join("profiles/default/current");
    std::fs::read_link(link).unwrap().display().to_string()
}

#[test]
fn rollback_moves_back_forward_and_to_any_generation() {
    let sandbox = Sandbox::new();
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        install(&sandbox, "alpha", version);
        sandbox
            .run(&["activate", &format!("alpha@{version}")])
            .success();
    }
    let run = sandbox.run(&["rollback"]);
    assert!(
        run.success()
            .stderr
            .contains("Rolled back profile default from generation 3 to generation 2"),
        "{}",
        run.stderr
    );
    assert_eq!(tool(&sandbox, "alpha"), "alpha 2.0.0\n");
    sandbox.run(&["rollback"]).success();
    assert_eq!(tool(&sandbox, "alpha"), "alpha 1.0.0\n");
    let run = sandbox.run(&["rollback"]);
    run.failure(1);
    assert!(
        run.stderr.contains("no generation before"),
        "{}",
        run.stderr
    );

    // Rolling back kept the newer generations: forward, then straight to any by number.
    let run = sandbox.run(&["rollback", "--forward"]);
    assert!(
        run.success().stderr.contains("Rolled forward"),
        "{}",
        run.stderr
    );
    assert_eq!(tool(&sandbox, "alpha"), "alpha 2.0.0\n");
    sandbox.run(&["rollback", "--to", "3"]).success();
    assert_eq!(tool(&sandbox, "alpha"), "alpha 3.0.0\n");
    let run = sandbox.run(&["rollback", "--forward"]);
    run.failure(1);
    assert!(run.stderr.contains("no generation after"), "{}", run.stderr);
    let run = sandbox.run(&["rollback", "--to", "9"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("profile `default` has no generation 9 (it has 1, 2, 3)"),
        "{}",
        run.stderr
    );
    assert_eq!(current(&sandbox), "3");
    let run = sandbox.run(&["rollback", "--to", "3"]);
    assert!(run.success().stderr.contains("already"), "{}", run.stderr);
    let run = sandbox.run(&["rollback", "--to", "1", "--forward"]);
    run.failure(2);

    // A change after a rollback is the newest generation, made from the one rolled back to.
    sandbox.run(&["rollback", "--to", "1"]).success();
    install(&sandbox, "beta", "1.0.0");
    sandbox.run(&["activate", "beta@1.0.0"]).success();
    assert_eq!(current(&sandbox), "4");
    let history = sandbox.run(&["profile", "history"]);
    let lines: Vec<&str> = history.success().stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", history.stdout);
    assert!(lines[0].starts_with("     1  "), "{}", lines[0]);
    assert!(
        lines[0].contains("+ alpha@1.0.0  (activated alpha@1.0.0)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("  alpha 1.0.0 -> 2.0.0  "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("  alpha 2.0.0 -> 3.0.0  "),
        "{}",
        lines[2]
    );
    // Generation 4 was made from 1, not from 3: it only added beta, and says from where.
    assert!(lines[3].starts_with("*    4  "), "{}", lines[3]);
    assert!(
        lines[3].contains("  + beta@1.0.0 (from generation 1)  (activated beta@1.0.0)"),
        "{}",
        lines[3]
    );
    let date = lines[3].split_whitespace().nth(2).unwrap();
    assert!(
        date.len() == 20 && date.starts_with("20") && date.ends_with('Z'),
        "{date}"
    );
    // Everything is still reachable.
    sandbox.run(&["rollback", "--to", "3"]).success();
    assert_eq!(tool(&sandbox, "alpha"), "alpha 3.0.0\n");
    assert!(!sandbox.home().join("bin/beta").exists());
    let history = sandbox.run(&["profile", "history", "default"]);
    assert!(
        history
            .success()
            .stdout
            .lines()
            .nth(2)
            .unwrap()
            .starts_with("*    3"),
        "{}",
        history.stdout
    );
}

/// The `hint: to undo this: `...`` command `remove` printed.
fn undo_hint(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|line| line.strip_prefix("hint: to undo this: `"))
        .and_then(|rest| rest.strip_suffix('`'))
        .unwrap_or_else(|| panic!("no undo hint in:\n{stderr}"))
        .to_string()
}

/// Runs a shell command line as a user would, with `pandora` on PATH.
fn shell(sandbox: &Sandbox, line: &str) -> support::Run {
    let bin = sandbox.home().join("test-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let pandora = bin.join("pandora");
    if !pandora.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pandora"), &pandora).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    sandbox.run_file(Path::new("/bin/sh"), &["-c", line], |command| {
        command.env("PATH", path);
    })
}

#[test]
fn the_undo_hint_after_remove_works_as_printed() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let run = sandbox.run(&["remove", "--yes", "hello"]);
    let hint = undo_hint(&run.success().stderr);
    assert_eq!(
        hint,
        "pandora install --no-activate hello@1.1.0 && pandora rollback --to 1"
    );
    assert!(!sandbox.home().join("bin/hello").exists());
    // Rolling back first fails, with the same fix.
    let refused = sandbox.run(&["rollback"]);
    refused.failure(1);
    assert!(refused.stderr.contains(&hint), "{}", refused.stderr);

    shell(sandbox, &hint).success();
    assert_eq!(current(sandbox), "1");
    let lock = support::read(&sandbox.pandora_home().join("manifests/default.lock"));
    assert!(lock.contains("Package \"hello\""), "{lock}");
    let ran = sandbox.run_file(&sandbox.home().join("bin/hello"), &["x"], |_| {});
    assert!(ran.success().stdout.contains("arg=[x]"), "{}", ran.stdout);
}

#[test]
fn the_undo_hint_brings_back_a_package_installed_from_a_file() {
    let sandbox = Sandbox::new();
    let file = install(&sandbox, "alpha", "1.0.0");
    sandbox.run(&["activate", "alpha"]).success();
    install(&sandbox, "beta", "1.0.0");
    sandbox.run(&["activate", "beta"]).success();
    let run = sandbox.run(&["remove", "--yes", "alpha"]);
    let hint = undo_hint(&run.success().stderr);
    assert_eq!(
        hint,
        format!(
            "pandora install --no-activate {} && pandora rollback --to 2",
            file.display()
        )
    );
    shell(&sandbox, &hint).success();
    assert_eq!(current(&sandbox), "2");
    assert_eq!(tool(&sandbox, "alpha"), "alpha 1.0.0\n");
    assert_eq!(tool(&sandbox, "beta"), "beta 1.0.0\n");
}

/// Disk space under `path` as `du -s -B1` counts it: allocated blocks, links not followed.
fn allocated(path: &Path) -> u64 {
    let metadata = std::fs::symlink_metadata(path).unwrap();
    let mut total = metadata.blocks() * 512;
    if metadata.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            total += allocated(&entry.path());
        }
    }
    total
}

/// What `Would free` / `Freed` said.
fn freed(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|line| {
            let line = line.trim_start();
            line.strip_prefix("Would free ")
                .or_else(|| line.strip_prefix("Freed "))
        })
        .unwrap_or_else(|| panic!("no total in:\n{stderr}"))
        .to_string()
}

fn human(bytes: u64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < 4 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", ["B", "KiB", "MiB", "GiB", "TiB"][unit])
}

#[test]
fn pruning_generations_asks_and_counts_what_it_frees() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0");
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    install(&sandbox, "alpha", "2.0.0");
    sandbox.run(&["activate", "alpha@2.0.0"]).success();
    let home = sandbox.pandora_home();

    // Nobody to ask and no --yes: refused, nothing deleted.
    let run = sandbox.run(&["prune", "--generations", "1"]);
    run.failure(3);
    assert!(run.stderr.contains("--yes"), "{}", run.stderr);
    assert!(home.join("profiles/default/1").is_dir());

    // What goes: generation 1, alpha@1.0.0's store entry, and the blob it came from.
    let blob = std::fs::read_dir(home.join("blobs"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name().unwrap().len() == 64
                && std::fs::read(path).unwrap()
                    == std::fs::read(sandbox.home().join("alpha-1.0.0.psp")).unwrap()
        })
        .unwrap();
    let expected = allocated(&home.join("profiles/default/1"))
        + allocated(&home.join("store/alpha@1.0.0"))
        + allocated(&blob);
    assert!(expected > 0);
    let dry = sandbox.run(&["prune", "--generations", "1", "--dry-run"]);
    dry.success();
    assert_eq!(
        dry.stdout,
        format!(
            "profile default generation 1\nalpha@1.0.0\n{}\n",
            blob.display()
        )
    );
    assert_eq!(
        freed(&dry.stderr),
        format!("{} in 3 item(s) (disk space allocated)", human(expected))
    );

    let real = sandbox.run(&["prune", "--generations", "1", "--yes"]);
    assert_eq!(real.success().stdout, dry.stdout);
    assert_eq!(freed(&real.stderr), freed(&dry.stderr));
    assert!(!home.join("profiles/default/1").exists());
    assert!(!home.join("store/alpha@1.0.0").exists());
    assert!(!blob.exists());
}

#[test]
fn declining_to_prune_generations_exits_3_and_keeps_them() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0");
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    install(&sandbox, "alpha", "2.0.0");
    sandbox.run(&["activate", "alpha@2.0.0"]).success();
    let (status, shown) = sandbox.on_terminal("prune --generations 1", "n\n");
    assert_eq!(status, Some(3), "{shown}");
    assert!(
        shown.contains("Delete 1 generation(s) and 1 package(s)"),
        "{shown}"
    );
    assert!(sandbox.pandora_home().join("profiles/default/1").is_dir());
    assert!(sandbox.pandora_home().join("store/alpha@1.0.0").is_dir());
}
