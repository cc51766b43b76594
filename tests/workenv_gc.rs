//! The launcher's work environment cache does not grow forever: a new build of a package
//! replaces the older ones nothing runs from, and `pandora prune` deletes work environments
//! unused for `--workenv-days` (never one a running program holds).
#![allow(clippy::disallowed_methods)]

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use support::{package_source, Sandbox};

/// Runs until the file `$STOP` exists, saying first that it started.
const WAITER: &str = "#!/bin/sh\necho started > \"$STARTED\"\nwhile [ ! -e \"$STOP\" ]; do sleep 0.02; done\necho done\n";

fn cache(sandbox: &Sandbox) -> PathBuf {
    sandbox.home().join(".cache/pandora/workenv")
}

/// The work environments in the cache (32-hex-digit directory names), sorted.
fn workenvs(sandbox: &Sandbox) -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(cache(sandbox))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit()))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn build(sandbox: &Sandbox, name: &str, version: &str, script: &str) -> PathBuf {
    let source = sandbox.home().join(format!("src-{name}-{version}"));
    package_source(
        &source,
        name,
        version,
        Some("{workenv}/bin/run"),
        &[("bin/run", script)],
    );
    let package = sandbox.home().join(format!("{name}-{version}.psp"));
    sandbox.build(&source, &package, "gc", &[]).success();
    package
}

fn hello(version: &str) -> String {
    format!("#!/bin/sh\necho hello {version}\n")
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::open(path).unwrap();
    file.set_times(std::fs::FileTimes::new().set_modified(SystemTime::now() - age))
        .unwrap();
}

fn age(path: &Path) -> Duration {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    SystemTime::now()
        .duration_since(modified)
        .unwrap_or_default()
}

const DAY: Duration = Duration::from_secs(24 * 3600);

#[test]
fn a_new_build_replaces_older_ones_of_the_same_package_only() {
    let sandbox = Sandbox::new();
    let first = build(&sandbox, "app", "1.0.0", &hello("1.0.0"));
    let other = build(&sandbox, "other", "1.0.0", &hello("other"));
    sandbox.run_file(&first, &[], |_| {}).success();
    sandbox.run_file(&other, &[], |_| {}).success();
    let before = workenvs(&sandbox);
    assert_eq!(before.len(), 2, "{before:?}");

    // Both unused for two days (as their stamps say).
    for key in &before {
        set_age(&cache(&sandbox).join(key), 2 * DAY);
    }
    let second = build(&sandbox, "app", "1.1.0", &hello("1.1.0"));
    let run = sandbox.run_file(&second, &[], |_| {});
    assert_eq!(run.success().stdout, "hello 1.1.0\n");
    let after = workenvs(&sandbox);
    assert_eq!(
        after.len(),
        2,
        "app 1.0.0's was removed, other's kept: {after:?}"
    );
    let kept: Vec<_> = before.iter().filter(|key| after.contains(key)).collect();
    assert_eq!(kept.len(), 1, "{before:?} -> {after:?}");
    // The old build still runs: it is extracted again. 1.1.0's was used today, so it stays:
    // builds used side by side are not extracted over and over.
    let again = sandbox.run_file(&first, &[], |_| {});
    assert_eq!(again.success().stdout, "hello 1.0.0\n");
    assert_eq!(workenvs(&sandbox).len(), 3);
    let warm = sandbox.run_file(&second, &[], |command| {
        command.env("PANDORA_LAUNCHER_DEBUG", "1");
    });
    assert!(
        warm.success().stderr.contains("warm start"),
        "{}",
        warm.stderr
    );
}

#[test]
fn a_running_program_keeps_its_work_environment() {
    let sandbox = Sandbox::new();
    let waiter = build(&sandbox, "app", "1.0.0", WAITER);
    let started = sandbox.home().join("started");
    let stop = sandbox.home().join("stop");
    let running = sandbox
        .command_for(&waiter, &[])
        .env("STARTED", &started)
        .env("STOP", &stop)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the program never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let held = workenvs(&sandbox);
    assert_eq!(held.len(), 1);

    // A newer build, and a prune that would take anything unused for 0 days: neither removes
    // what the running program runs from.
    set_age(&cache(&sandbox).join(&held[0]), 90 * DAY);
    let newer = build(&sandbox, "app", "2.0.0", &hello("2.0.0"));
    sandbox.run_file(&newer, &[], |_| {}).success();
    let pruned = sandbox.run(&["prune", "--workenv-days", "0"]);
    pruned.success();
    assert!(
        workenvs(&sandbox).contains(&held[0]),
        "removed while running: {}",
        pruned.stderr
    );

    std::fs::write(&stop, "").unwrap();
    let output = running.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
    assert!(output.status.success());
    // Once it has exited, the next prune takes it.
    let pruned = sandbox.run(&["prune", "--workenv-days", "30"]);
    assert!(
        pruned.success().stdout.contains(&held[0]),
        "{}",
        pruned.stdout
    );
    assert!(!workenvs(&sandbox).contains(&held[0]));
}

#[test]
fn prune_deletes_work_environments_unused_for_the_given_days() {
    let sandbox = Sandbox::new();
    let old = build(&sandbox, "old", "1.0.0", &hello("old"));
    let recent = build(&sandbox, "recent", "1.0.0", &hello("recent"));
    sandbox.run_file(&old, &[], |_| {}).success();
    let [old_key] = &workenvs(&sandbox)[..] else {
        panic!("{:?}", workenvs(&sandbox))
    };
    let old_key = old_key.clone();
    sandbox.run_file(&recent, &[], |_| {}).success();
    let old_path = cache(&sandbox).join(&old_key);
    set_age(&old_path, 40 * DAY);

    // A dry run lists it with its size and deletes nothing.
    let dry = sandbox.run(&["-v", "prune", "--dry-run"]);
    dry.success();
    assert!(dry.stdout.contains(&old_key), "{}", dry.stdout);
    assert!(
        dry.stderr.contains("work environment of old"),
        "{}",
        dry.stderr
    );
    assert!(dry.stderr.contains("Would free"), "{}", dry.stderr);
    assert_eq!(workenvs(&sandbox).len(), 2);

    // 50 days: not old enough.
    let kept = sandbox.run(&["prune", "--workenv-days", "50"]);
    assert!(!kept.success().stdout.contains(&old_key), "{}", kept.stdout);
    assert_eq!(workenvs(&sandbox).len(), 2);

    // The default, 30 days: it goes, with the record pointing at it; the recent one stays.
    let pruned = sandbox.run(&["prune"]);
    pruned.success();
    assert!(pruned.stdout.contains(&old_key), "{}", pruned.stdout);
    assert!(
        pruned.stdout.contains("files/"),
        "the record goes too: {}",
        pruned.stdout
    );
    let remaining = workenvs(&sandbox);
    assert_eq!(remaining.len(), 1);
    assert_ne!(remaining[0], old_key);
    // The package still runs: extracted again.
    let again = sandbox.run_file(&old, &[], |_| {});
    assert_eq!(again.success().stdout, "hello old\n");
}

#[test]
fn a_start_stamps_the_last_use_so_prune_keeps_what_is_used() {
    let sandbox = Sandbox::new();
    let package = build(&sandbox, "app", "1.0.0", &hello("1.0.0"));
    sandbox.run_file(&package, &[], |_| {}).success();
    let [key] = &workenvs(&sandbox)[..] else {
        panic!("{:?}", workenvs(&sandbox))
    };
    let path = cache(&sandbox).join(key);
    set_age(&path, 40 * DAY);
    // A warm start, and the stamp is now.
    let run = sandbox.run_file(&package, &[], |command| {
        command.env("PANDORA_LAUNCHER_DEBUG", "1");
    });
    assert!(
        run.success().stderr.contains("warm start"),
        "{}",
        run.stderr
    );
    assert!(age(&path) < DAY, "{:?}", age(&path));
    let pruned = sandbox.run(&["prune"]);
    assert!(!pruned.success().stdout.contains(key.as_str()));
    assert_eq!(workenvs(&sandbox), std::slice::from_ref(key));
}
