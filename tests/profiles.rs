//! Profiles end to end through the real binary: activation into `vir` and `$HOME/bin`,
//! conflicts, switching, rollback and removal.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::{package_source, Sandbox};

/// Builds and installs (into the store only) a package holding `files`. It has no command, so
/// it has no entry point: its `bin/` files are linked as they are (tests/entry_points.rs has
/// packages with commands).
fn install(sandbox: &Sandbox, name: &str, version: &str, files: &[(&str, &str)]) {
    let source = sandbox.home().join(format!("src-{name}-{version}"));
    package_source(&source, name, version, None, files);
    let output: PathBuf = sandbox.home().join(format!("{name}-{version}.psp"));
    sandbox.build(&source, &output, "publisher", &[]).success();
    sandbox
        .run(&["install", "--no-activate", output.to_str().unwrap()])
        .success();
}

fn script(text: &str) -> String {
    format!("#!/bin/sh\necho {text}\n")
}

fn run_tool(sandbox: &Sandbox, path: &Path) -> String {
    sandbox.run_file(path, &[], |_| {}).success().stdout.clone()
}

#[test]
fn activation_links_home_bin_and_leaves_user_files_alone() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.home().join("share")).unwrap();
    std::fs::write(sandbox.home().join("share/mine"), "user data").unwrap();
    install(
        &sandbox,
        "alpha",
        "1.0.0",
        &[
            ("bin/alpha", &script("alpha one")),
            ("share/alpha/doc", "a"),
        ],
    );
    install(
        &sandbox,
        "beta",
        "1.0.0",
        &[("bin/beta", &script("beta")), ("lib/beta.so", "b")],
    );

    let run = sandbox.run(&["activate", "alpha@1.0.0", "beta@1.0.0"]);
    run.success();
    assert!(run.stderr.contains("is yours"), "{}", run.stderr);
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha one\n"
    );
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/beta")),
        "beta\n"
    );
    assert!(sandbox.home().join("lib/beta.so").exists());
    // The user's own directory is untouched; the package's files are reachable through vir.
    assert!(!sandbox.home().join("share").is_symlink());
    assert_eq!(
        std::fs::read_dir(sandbox.home().join("share"))
            .unwrap()
            .count(),
        1
    );
    assert!(sandbox.pandora_home().join("vir/share/alpha/doc").exists());

    // A second version replaces the first in the profile; the first stays in the store.
    install(
        &sandbox,
        "alpha",
        "2.0.0",
        &[("bin/alpha", &script("alpha two"))],
    );
    sandbox.run(&["activate", "alpha@2.0.0"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha two\n"
    );
    assert!(sandbox.pandora_home().join("store/alpha@1.0.0").is_dir());

    sandbox.run(&["rollback"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha one\n"
    );
    let history = sandbox.run(&["profile", "history"]);
    let lines: Vec<&str> = history.success().stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", history.stdout);
    assert!(
        lines[0].starts_with("*    1") && lines[0].ends_with("(activated alpha@1.0.0, beta@1.0.0)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with("(activated alpha@2.0.0)"),
        "{}",
        lines[1]
    );
}

#[test]
fn conflicts_are_listed_and_settled_only_on_request() {
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "one",
        "1.0.0",
        &[("bin/tool", &script("one")), ("bin/one", &script("1"))],
    );
    install(&sandbox, "two", "1.0.0", &[("bin/tool", &script("two"))]);
    sandbox.run(&["activate", "one@1.0.0"]).success();

    let run = sandbox.run(&["activate", "two@1.0.0"]);
    run.failure(1);
    assert!(
        run.stderr.contains("bin/tool (one@1.0.0 and two@1.0.0)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--prefer new"), "{}", run.stderr);
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/tool")),
        "one\n"
    );

    sandbox
        .run(&["activate", "two@1.0.0", "--prefer", "new"])
        .success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/tool")),
        "two\n"
    );
    assert_eq!(run_tool(&sandbox, &sandbox.home().join("bin/one")), "1\n");
}

#[test]
fn profiles_switch_atomically_and_removal_unlinks_first() {
    let sandbox = Sandbox::new();
    install(
        &sandbox,
        "alpha",
        "1.0.0",
        &[("bin/alpha", &script("alpha"))],
    );
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    sandbox.run(&["profile", "create", "bare"]).success();
    sandbox
        .run(&["profile", "create", "copy", "--from", "default"])
        .success();
    let list = sandbox.run(&["profile", "list"]);
    let marked: Vec<(bool, String)> = list
        .success()
        .stdout
        .lines()
        .map(|line| {
            (
                line.starts_with('*'),
                line[2..].split_whitespace().next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        marked,
        [
            (false, "bare".into()),
            (false, "copy".into()),
            (true, "default".into())
        ]
    );

    let switched = sandbox.run(&["profile", "switch", "bare"]);
    assert!(
        switched
            .success()
            .stderr
            .contains("Switched to profile bare"),
        "{}",
        switched.stderr
    );
    assert!(!sandbox.home().join("bin/alpha").exists());
    // Switching to the active profile changes nothing, and says so.
    let again = sandbox.run(&["profile", "switch", "bare"]);
    assert!(
        again
            .success()
            .stderr
            .contains("Unchanged profile bare was already active"),
        "{}",
        again.stderr
    );
    sandbox.run(&["profile", "switch", "copy"]).success();
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "alpha\n"
    );
    let run = sandbox.run(&["profile", "delete", "copy", "--yes"]);
    run.failure(1);
    assert!(
        run.stderr.contains("`copy` is the active profile"),
        "{}",
        run.stderr
    );
    sandbox
        .run(&["profile", "delete", "default", "--yes"])
        .success();
    let manifests = sandbox.pandora_home().join("manifests");
    assert!(!manifests.join("default.lock").exists());
    assert!(manifests.join("copy.lock").is_file());

    let run = sandbox.run(&["remove", "alpha@1.0.0", "--yes"]);
    run.success();
    assert!(
        run.stderr.contains("copy generation 2: - alpha@1.0.0"),
        "{}",
        run.stderr
    );
    assert!(!sandbox.pandora_home().join("vir/bin/alpha").exists());
    // Rolling back to a generation whose package is gone is refused with the fix.
    let run = sandbox.run(&["rollback"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("alpha-1.0.0.psp && pandora rollback --to 1"),
        "{}",
        run.stderr
    );
}

#[test]
fn recorded_winners_and_namespaces_settle_conflicts_for_good() {
    let sandbox = Sandbox::new();
    install(&sandbox, "one", "1.0.0", &[("bin/tool", &script("one"))]);
    install(&sandbox, "two", "1.0.0", &[("bin/tool", &script("two"))]);
    install(&sandbox, "three", "1.0.0", &[("bin/three", &script("3"))]);
    install(&sandbox, "four", "1.0.0", &[("bin/tool", &script("four"))]);
    sandbox.run(&["activate", "one@1.0.0"]).success();
    sandbox
        .run(&["activate", "two@1.0.0", "--prefer", "new"])
        .success();
    // The choice is recorded in the profile: the next change needs no --prefer and keeps it.
    sandbox.run(&["activate", "three@1.0.0"]).success();
    let tool = sandbox.home().join("bin/tool");
    assert_eq!(run_tool(&sandbox, &tool), "two\n");
    let lock = support::read(&sandbox.pandora_home().join("manifests/default.lock"));
    assert!(lock.contains("Override \"bin/tool\""), "{lock}");

    // A namespaced package sits beside the others instead of fighting for bin/tool.
    sandbox
        .run(&["activate", "four@1.0.0", "--namespace"])
        .success();
    assert_eq!(run_tool(&sandbox, &tool), "two\n");
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/four-1.0.0/tool")),
        "four\n"
    );
    let verify = sandbox.run(&["verify", "--all"]);
    verify.success();
    assert!(
        verify
            .stdout
            .contains("every link leads into one of its packages"),
        "{}",
        verify.stdout
    );
}

#[test]
fn old_generations_are_pruned_with_what_only_they_held() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0", &[("bin/alpha", &script("one"))]);
    sandbox.run(&["activate", "alpha@1.0.0"]).success();
    install(&sandbox, "alpha", "2.0.0", &[("bin/alpha", &script("two"))]);
    sandbox.run(&["activate", "alpha@2.0.0"]).success();
    let store = sandbox.pandora_home().join("store");

    let dry = sandbox.run(&["prune", "--generations", "1", "--dry-run"]);
    assert_eq!(
        dry.success().stdout.lines().take(2).collect::<Vec<_>>(),
        ["profile default generation 1", "alpha@1.0.0"]
    );
    assert!(store.join("alpha@1.0.0").is_dir());
    assert!(sandbox.pandora_home().join("profiles/default/1").is_dir());

    sandbox
        .run(&["prune", "--generations", "1", "--yes"])
        .success();
    assert!(!store.join("alpha@1.0.0").exists());
    assert!(store.join("alpha@2.0.0").is_dir());
    assert!(!sandbox.pandora_home().join("profiles/default/1").exists());
    let run = sandbox.run(&["rollback"]);
    run.failure(1);
    assert!(
        run.stderr.contains("no generation before"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run_tool(&sandbox, &sandbox.home().join("bin/alpha")),
        "two\n"
    );
}

#[test]
fn a_running_program_survives_a_profile_switch() {
    let sandbox = Sandbox::new();
    let slow = "#!/bin/sh\nhere=$(dirname \"$(readlink -f \"$0\")\")\nsleep 1\ncat \"$here/../share/slow/data\"\n";
    install(
        &sandbox,
        "slow",
        "1.0.0",
        &[("bin/slow", slow), ("share/slow/data", "old profile\n")],
    );
    sandbox.run(&["activate", "slow@1.0.0"]).success();
    sandbox.run(&["profile", "create", "other"]).success();
    let child = sandbox
        .command_for(&sandbox.home().join("bin/slow"), &[])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the program is past its start (its path resolved) before switching.
    std::thread::sleep(std::time::Duration::from_millis(300));
    sandbox.run(&["profile", "switch", "other"]).success();
    assert!(!sandbox.pandora_home().join("vir/bin/slow").exists());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "old profile\n");
}

#[test]
fn concurrent_activations_serialize_and_neither_is_lost() {
    let sandbox = Sandbox::new();
    let names = ["p0", "p1", "p2", "p3"];
    for name in names {
        install(
            &sandbox,
            name,
            "1.0.0",
            &[(&format!("bin/{name}"), &script(name))],
        );
    }
    let children: Vec<_> = names
        .iter()
        .map(|name| {
            sandbox
                .command(&["activate", &format!("{name}@1.0.0")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    for name in names {
        assert_eq!(
            run_tool(&sandbox, &sandbox.home().join(format!("bin/{name}"))),
            format!("{name}\n")
        );
    }
    let history = sandbox.run(&["profile", "history"]);
    assert_eq!(history.success().stdout.lines().count(), 4);
}

#[test]
fn env_prints_the_search_path_lines() {
    let sandbox = Sandbox::new();
    let vir = sandbox.pandora_home().join("vir");
    let sh = sandbox.run(&["env", "--shell", "sh"]);
    assert!(
        sh.success()
            .stdout
            .contains(&format!("export PATH=\"{}/bin:$PATH\"", vir.display())),
        "{}",
        sh.stdout
    );
    let fish = sandbox.run(&["env", "--shell", "fish"]);
    assert!(
        fish.success()
            .stdout
            .contains(&format!("set -gx --prepend PATH \"{}/bin\"", vir.display())),
        "{}",
        fish.stdout
    );
}

/// A `profile create` killed before its first generation became current leaves the profile's
/// directory: `list` showed it as a profile that `switch` then said did not exist.
#[test]
fn a_profile_whose_creation_was_cut_short_says_so_and_how_to_finish_it() {
    let sandbox = Sandbox::new();
    sandbox.run(&["profile", "create", "work"]).success();
    std::fs::create_dir(sandbox.pandora_home().join("profiles/ghost")).unwrap();
    let listed = sandbox.run(&["profile", "list"]);
    assert!(
        listed.success().stdout.contains(
            "ghost                never finished: `pandora profile create ghost` makes it"
        ),
        "{}",
        listed.stdout
    );
    let switched = sandbox.run(&["profile", "switch", "ghost"]);
    switched.failure(1);
    assert!(
        switched.stderr.contains("profile `ghost` was never finished")
            && switched
                .stderr
                .contains("`pandora profile create ghost` makes it again; `pandora profile delete ghost` removes it"),
        "{}",
        switched.stderr
    );
    sandbox.run(&["profile", "create", "ghost"]).success();
    sandbox.run(&["profile", "switch", "ghost"]).success();
}

/// A directory where `vir` goes gave "failed to read symbolic link: Invalid argument" and no
/// way out; it is kept, and the error says what to do with it.
#[test]
fn a_directory_at_vir_is_kept_and_the_error_says_what_to_do() {
    let sandbox = Sandbox::new();
    sandbox.run(&["profile", "create", "work"]).success();
    let vir = sandbox.pandora_home().join("vir");
    if vir.symlink_metadata().is_ok() {
        std::fs::remove_file(&vir).unwrap();
    }
    // A file there was replaced by the link, its contents gone.
    std::fs::write(&vir, "my notes").unwrap();
    sandbox.run(&["profile", "switch", "work"]).failure(1);
    assert_eq!(std::fs::read_to_string(&vir).unwrap(), "my notes");
    std::fs::remove_file(&vir).unwrap();
    std::fs::create_dir(&vir).unwrap();
    std::fs::write(vir.join("mine"), "mine").unwrap();
    let switched = sandbox.run(&["profile", "switch", "work"]);
    switched.failure(1);
    assert!(
        switched.stderr.contains("vir is not a link")
            && switched
                .stderr
                .contains(".moved`), then `pandora profile switch NAME`"),
        "{}",
        switched.stderr
    );
    assert_eq!(std::fs::read_to_string(vir.join("mine")).unwrap(), "mine");
    std::fs::rename(&vir, vir.with_extension("moved")).unwrap();
    sandbox.run(&["profile", "switch", "work"]).success();
    assert!(vir.symlink_metadata().unwrap().is_symlink());
}

/// A profile whose `current` link was lost looked like a create cut short, and `create` then
/// deleted all its generations, with what the user had saved in them. With several
/// generations, which one was current is the user's to say; with one (what a first activation
/// killed before it linked `current` leaves), the next command finishes the step.
#[test]
fn a_profile_that_lost_its_current_link_keeps_its_generations() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0", &[("bin/alpha", "alpha")]);
    install(&sandbox, "beta", "1.0.0", &[("bin/beta", "beta")]);
    sandbox.run(&["activate", "alpha"]).success();
    sandbox
        .run(&["profile", "create", "work", "--from", "default"])
        .success();
    sandbox.run(&["profile", "switch", "work"]).success();
    sandbox.run(&["activate", "beta"]).success();
    sandbox.run(&["profile", "switch", "default"]).success();
    let work = sandbox.pandora_home().join("profiles/work");
    std::fs::remove_file(work.join("current")).unwrap();
    let listed = sandbox.run(&["profile", "list"]);
    assert!(
        listed.success().stdout.contains(
            "work                 no current generation: profile `work` has generations (1, 2) but none is current"
        ),
        "{}",
        listed.stdout
    );
    for args in [
        &["profile", "create", "work"][..],
        &["profile", "switch", "work"],
    ] {
        let refused = sandbox.run(args);
        refused.failure(1);
        assert!(
            refused
                .stderr
                .contains("has generations (1, 2) but none is current")
                && refused.stderr.contains(&format!(
                    "`ln -s 2 {}/current` makes generation 2 current again",
                    work.display()
                )),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(work.join("1/forest").is_dir(), "{args:?}");
        assert!(work.join("2/forest").is_dir(), "{args:?}");
    }
    // One generation: the link is made again, and a change keeps what the profile holds.
    let default = sandbox.pandora_home().join("profiles/default");
    std::fs::remove_file(default.join("current")).unwrap();
    let listed = sandbox.run(&["list"]);
    assert!(
        listed.success().stdout.contains("alpha@1.0.0"),
        "{}",
        listed.stdout
    );
    assert_eq!(
        std::fs::read_link(default.join("current")).unwrap(),
        Path::new("1")
    );
    sandbox.run(&["activate", "beta"]).success();
    let listed = sandbox.run(&["list"]).success().stdout.clone();
    assert!(
        listed.contains("alpha@1.0.0") && listed.contains("beta@1.0.0"),
        "{listed}"
    );
    std::os::unix::fs::symlink("2", work.join("current")).unwrap();
    sandbox.run(&["profile", "switch", "work"]).success();
    assert_eq!(
        std::fs::read_to_string(sandbox.home().join("bin/beta")).unwrap(),
        "beta"
    );
}

/// A switch only looks at directories changed since the generation's manifest was dated; a
/// clock set back made a file saved since look older, and deleting the profile then deleted
/// the file. Before a forest is deleted, everything in it is looked at.
#[test]
fn deleting_a_profile_rescues_what_a_wrong_clock_hid_from_switches() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0", &[("bin/alpha", "alpha")]);
    sandbox.run(&["activate", "alpha"]).success();
    sandbox
        .run(&["profile", "create", "work", "--from", "default"])
        .success();
    let manifest = sandbox
        .pandora_home()
        .join("profiles/default/1/generation.acl");
    let ahead = std::time::SystemTime::now() + std::time::Duration::from_millis(1500);
    std::fs::File::options()
        .write(true)
        .open(&manifest)
        .unwrap()
        .set_modified(ahead)
        .unwrap();
    let bin = sandbox.pandora_home().join("profiles/default/1/forest/bin");
    let mode = std::fs::metadata(&bin).unwrap().permissions();
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(bin.join("mine"), "mine").unwrap();
    std::fs::set_permissions(&bin, mode).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2000));
    sandbox.run(&["profile", "switch", "work"]).success();
    sandbox
        .run(&["profile", "delete", "default", "--yes"])
        .success();
    let rescued: Vec<_> = support::files_under(&sandbox.pandora_home().join("rescue"))
        .into_iter()
        .filter(|path| path.ends_with("bin/mine"))
        .collect();
    assert_eq!(rescued.len(), 1, "{rescued:?}");
    assert_eq!(std::fs::read_to_string(&rescued[0]).unwrap(), "mine");
}

/// A numbered directory without a manifest in a profile (no generation: they are made whole
/// and renamed in) made `profile history` and `prune` fail on it.
#[test]
fn a_numbered_directory_without_a_manifest_is_no_generation() {
    let sandbox = Sandbox::new();
    install(&sandbox, "alpha", "1.0.0", &[("bin/alpha", "alpha")]);
    sandbox.run(&["activate", "alpha"]).success();
    std::fs::create_dir(sandbox.pandora_home().join("profiles/default/7")).unwrap();
    let history = sandbox.run(&["profile", "history"]);
    assert!(
        history.success().stdout.contains("alpha"),
        "{}",
        history.stdout
    );
    sandbox.run(&["prune", "--dry-run"]).success();
    sandbox
        .run(&["prune", "--generations", "1", "--yes"])
        .success();
    assert_eq!(
        std::fs::read_to_string(sandbox.home().join("bin/alpha")).unwrap(),
        "alpha"
    );
}
