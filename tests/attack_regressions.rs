//! What an attack on the trust fixes found, each kept from coming back: the trust policy on
//! every way a package reaches `vir`, `prune` racing an install, files saved into `~/bin`
//! before a generation is left or deleted, and a removal that took effect reported as one.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use support::registry::fixture;
use support::{files_under, is_root, package_source, Sandbox};

fn package(sandbox: &Sandbox, name: &str, seed: &str) -> PathBuf {
    let source = sandbox.home().join(format!("src-{name}"));
    package_source(
        &source,
        name,
        "1.0.0",
        Some(&format!("bin/{name}")),
        &[(&format!("bin/{name}"), &format!("#!/bin/sh\necho {name}\n"))],
    );
    let output = sandbox.home().join(format!("{name}.psp"));
    sandbox.build(&source, &output, seed, &[]).success();
    output
}

fn strict(sandbox: &Sandbox, args: &[&str]) -> support::Run {
    sandbox.run_with(args, |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    })
}

#[test]
fn sync_rollback_and_switch_apply_the_trust_policy() {
    let sandbox = Sandbox::new();
    let evil = package(&sandbox, "evil", "stranger");
    let fine = package(&sandbox, "fine", "stranger");
    sandbox
        .run(&["install", "--yes", evil.to_str().unwrap()])
        .success();
    sandbox
        .run(&["install", "--yes", fine.to_str().unwrap()])
        .success();
    // A lockfile naming the untrusted package.
    let lock = sandbox.pandora_home().join("manifests/default.lock");
    let copy = sandbox.home().join("copy.lock");
    std::fs::copy(&lock, &copy).unwrap();
    sandbox.run(&["profile", "create", "clean"]).success();
    let synced = strict(
        &sandbox,
        &[
            "sync",
            "--profile",
            "clean",
            "--lockfile",
            copy.to_str().unwrap(),
        ],
    );
    synced.failure(1);
    assert!(synced.stderr.contains("not trusted"), "{}", synced.stderr);
    // Rolling back to a generation that holds it.
    sandbox.run(&["deactivate", "evil"]).success();
    let rolled = strict(&sandbox, &["rollback"]);
    rolled.failure(1);
    assert!(rolled.stderr.contains("not trusted"), "{}", rolled.stderr);
    assert!(!sandbox.run(&["list"]).stdout.contains("evil"));
    // Switching to a profile that holds it.
    sandbox
        .run(&["profile", "create", "other", "--from", "default"])
        .success();
    sandbox.run(&["activate", "evil"]).success();
    sandbox
        .run(&["profile", "create", "tainted", "--from", "default"])
        .success();
    sandbox.run(&["deactivate", "evil"]).success();
    let switched = strict(&sandbox, &["profile", "switch", "tainted"]);
    switched.failure(1);
    assert!(
        switched.stderr.contains("not trusted"),
        "{}",
        switched.stderr
    );
}

#[test]
fn prune_never_takes_a_blob_from_an_install_in_progress() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    for round in 0..6 {
        let mut install = sandbox
            .command(&["-q", "install", "--no-activate", "hello"])
            .spawn()
            .unwrap();
        for _ in 0..6 {
            let _ = sandbox.run(&["-q", "prune"]);
        }
        let status = install.wait().unwrap();
        assert!(
            status.success(),
            "round {round}: the install failed while prune ran"
        );
        sandbox
            .run(&["-q", "remove", "hello@1.1.0", "libgreet@2.0.0", "--yes"])
            .success();
        sandbox.run(&["-q", "prune"]).success();
    }
}

fn rescued(sandbox: &Sandbox) -> Vec<PathBuf> {
    files_under(&sandbox.pandora_home().join("rescue"))
}

fn save(sandbox: &Sandbox, name: &str) {
    std::fs::write(sandbox.home().join("bin").join(name), "mine\n").unwrap();
}

fn was_rescued(sandbox: &Sandbox, name: &str) -> bool {
    rescued(sandbox)
        .iter()
        .any(|path| path.ends_with(Path::new("bin").join(name)))
}

#[test]
fn files_saved_into_home_bin_survive_rollback_prune_switch_and_delete() {
    if !is_root() {
        // Sealed generations keep an ordinary user from saving there at all.
        return;
    }
    let sandbox = Sandbox::new();
    let one = package(&sandbox, "one", "publisher");
    let two = package(&sandbox, "two", "publisher");
    sandbox
        .run(&["install", "--yes", one.to_str().unwrap()])
        .success();
    sandbox
        .run(&["install", "--yes", two.to_str().unwrap()])
        .success();
    save(&sandbox, "before-rollback");
    sandbox.run(&["rollback"]).success();
    assert!(was_rescued(&sandbox, "before-rollback"));
    // Generation 2, left behind by the rollback, gets a file through its old path, then goes.
    let old = sandbox
        .pandora_home()
        .join("profiles/default/2/forest/bin/in-old");
    std::fs::write(&old, "mine\n").unwrap();
    sandbox.run(&["activate", "two"]).success();
    sandbox
        .run(&["prune", "--generations", "1", "--yes"])
        .success();
    assert!(was_rescued(&sandbox, "in-old"));
    save(&sandbox, "before-switch");
    sandbox.run(&["profile", "create", "work"]).success();
    sandbox.run(&["profile", "switch", "work"]).success();
    assert!(was_rescued(&sandbox, "before-switch"));
    let current = sandbox
        .pandora_home()
        .join("profiles/default/current/forest/bin/before-delete");
    std::fs::write(&current, "mine\n").unwrap();
    sandbox
        .run(&["profile", "delete", "default", "--yes"])
        .success();
    assert!(was_rescued(&sandbox, "before-delete"));
}

#[test]
fn a_removal_that_took_effect_is_not_a_failure() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let one = package(&sandbox, "one", "publisher");
    sandbox
        .run(&["install", "--no-activate", one.to_str().unwrap()])
        .success();
    // A mount inside the tree: it moves out of the store with it, but cannot be deleted.
    let inside = sandbox.pandora_home().join("store/one@1.0.0/bin");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&inside)
        .status()
        .is_ok_and(|status| status.success());
    if !mounted {
        return;
    }
    let run = sandbox.run(&["remove", "one", "--yes"]);
    let tmp = sandbox.pandora_home().join("tmp");
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let _ = std::process::Command::new("umount")
            .arg(entry.path().join("bin"))
            .status();
    }
    let _ = std::process::Command::new("umount").arg(&inside).status();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!sandbox.run(&["list", "--store"]).stdout.contains("one"));
}

/// `mv` and `cp -a` keep a directory's old mtime: a directory moved into `~/bin` looked
/// unchanged since the generation was sealed, its files were never looked at, and deleting
/// the profile deleted them.
#[test]
fn a_directory_moved_in_with_an_old_mtime_is_rescued() {
    if !is_root() {
        return;
    }
    let sandbox = Sandbox::new();
    let one = package(&sandbox, "one", "publisher");
    sandbox.run(&["profile", "create", "work"]).success();
    sandbox.run(&["profile", "switch", "work"]).success();
    sandbox
        .run(&["install", "--yes", one.to_str().unwrap()])
        .success();
    let outside = sandbox.home().join("scripts");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("deploy.sh"), "precious\n").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&outside)
        .unwrap()
        .set_modified(old)
        .unwrap();
    std::fs::rename(&outside, sandbox.home().join("bin/scripts")).unwrap();
    sandbox.run(&["profile", "create", "other"]).success();
    let switched = sandbox.run(&["profile", "switch", "other"]);
    switched.success();
    assert!(
        switched.stderr.contains("belongs to no package"),
        "{}",
        switched.stderr
    );
    sandbox
        .run(&["profile", "delete", "work", "--yes"])
        .success();
    assert!(
        rescued(&sandbox)
            .iter()
            .any(|path| path.ends_with("bin/scripts/deploy.sh")),
        "{:?}",
        rescued(&sandbox)
    );
}

/// Rescues named by profile, generation and second overwrote each other's files.
#[test]
fn two_rescues_in_one_second_keep_both_files() {
    if !is_root() {
        return;
    }
    let sandbox = home_with_one();
    sandbox.run(&["profile", "create", "other"]).success();
    for draft in ["draft 1", "draft 2", "draft 3"] {
        std::fs::write(sandbox.home().join("bin/notes.txt"), draft).unwrap();
        sandbox.run(&["profile", "switch", "other"]).success();
        sandbox.run(&["profile", "switch", "default"]).success();
    }
    let mut kept: Vec<String> = rescued(&sandbox)
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    kept.sort();
    assert_eq!(kept, ["draft 1", "draft 2", "draft 3"]);
}

/// What is not a regular file where a record or its summary belongs (a FIFO, `/dev/zero`)
/// hung every command that read records, or read without end.
#[test]
fn records_that_are_not_files_do_not_hang_or_exhaust_memory() {
    let sandbox = Sandbox::new();
    for name in ["one", "two"] {
        let package = package(&sandbox, name, "publisher");
        sandbox
            .run(&["install", "--yes", package.to_str().unwrap()])
            .success();
    }
    let records = sandbox.pandora_home().join("records");
    let summary = records.join("one@1.0.0.summary");
    let _ = std::fs::remove_file(&summary);
    nix::unistd::mkfifo(&summary, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let record = records.join("two@1.0.0.acl");
    std::fs::remove_file(&record).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &record).unwrap();
    let output = finishes(sandbox.command(&["list", "--store"]));
    let status = output.status;
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The FIFO is no summary: `one` is read from its ACL record. `two`'s record is refused,
    // named, and the rest listed.
    assert!(status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("one@1.0.0"));
    assert!(stderr.contains("two@1.0.0.acl is damaged"), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// `command`'s output, failing the test if it runs for more than 30 seconds (a hang).
fn finishes(mut command: std::process::Command) -> std::process::Output {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            child.kill().unwrap();
            panic!("{command:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// An activity log that is a FIFO nobody reads blocked every command that logs.
#[test]
fn an_activity_log_that_is_a_fifo_does_not_hang_commands() {
    let sandbox = home_with_one();
    let log = sandbox.pandora_home().join("log/events.log");
    std::fs::remove_file(&log).unwrap();
    nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    sandbox.run(&["profile", "create", "other"]).success();
    let output = finishes(sandbox.command(&["profile", "switch", "other"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("the activity log was not written"),
        "{stderr}"
    );
}

/// A `profile create` killed before its first generation became current left a directory
/// that `switch` called no profile and `create` called an existing one.
#[test]
fn a_profile_left_half_made_by_a_killed_create_can_be_made_again() {
    let sandbox = home_with_one();
    let ghost = sandbox.pandora_home().join("profiles/ghost");
    std::fs::create_dir_all(ghost.join("1/forest")).unwrap();
    sandbox
        .run(&["profile", "create", "ghost", "--from", "default"])
        .success();
    sandbox.run(&["profile", "switch", "ghost"]).success();
    let listed = sandbox.run(&["list"]);
    listed.success();
    assert!(listed.stdout.contains("one@1.0.0"), "{}", listed.stdout);
}

/// `profile create --from` failed on a file the user saved into the source's forest
/// ("failed to read symbolic link"), and copied a symlink of the user's into the new
/// profile, where nothing would ever rescue it.
#[test]
fn a_profile_copy_takes_the_packages_links_and_leaves_the_users_files() {
    if !is_root() {
        return;
    }
    let sandbox = home_with_one();
    save(&sandbox, "userfile");
    std::os::unix::fs::symlink("/etc/hostname", sandbox.home().join("bin/usersym")).unwrap();
    sandbox
        .run(&["profile", "create", "copy", "--from", "default"])
        .success();
    let copied = sandbox
        .pandora_home()
        .join("profiles/copy/current/forest/bin");
    assert!(copied.join("one").symlink_metadata().is_ok());
    assert!(copied.join("userfile").symlink_metadata().is_err());
    assert!(copied.join("usersym").symlink_metadata().is_err());
    let source = sandbox.home().join("bin");
    assert_eq!(
        std::fs::read_to_string(source.join("userfile")).unwrap(),
        "mine\n"
    );
    assert!(source.join("usersym").symlink_metadata().is_ok());
}

/// A home with package `one` installed and active.
fn home_with_one() -> Sandbox {
    let sandbox = Sandbox::new();
    let one = package(&sandbox, "one", "publisher");
    sandbox
        .run(&["install", "--yes", one.to_str().unwrap()])
        .success();
    sandbox
}

/// A directory moved in keeps the old ctimes of the directories inside it: files two levels
/// down were left in the forest, unreported, and deleted with the profile.
#[test]
fn files_deep_inside_a_directory_moved_in_are_rescued() {
    if !is_root() {
        return;
    }
    let sandbox = home_with_one();
    let tool = sandbox.home().join("tool");
    std::fs::create_dir_all(tool.join("lib/deep")).unwrap();
    std::fs::write(tool.join("lib/deep/x.sh"), "precious\n").unwrap();
    std::fs::write(tool.join("main.sh"), "top\n").unwrap();
    // Made before the generation that it is moved into was sealed.
    std::thread::sleep(std::time::Duration::from_millis(20));
    sandbox
        .run(&["profile", "create", "work", "--from", "default"])
        .success();
    sandbox.run(&["profile", "switch", "work"]).success();
    std::fs::rename(&tool, sandbox.home().join("bin/tool")).unwrap();
    sandbox.run(&["profile", "switch", "default"]).success();
    sandbox
        .run(&["profile", "delete", "work", "--yes"])
        .success();
    let kept = rescued(&sandbox);
    for file in ["bin/tool/main.sh", "bin/tool/lib/deep/x.sh"] {
        assert!(
            kept.iter().any(|path| path.ends_with(file)),
            "{file}: {kept:?}"
        );
    }
}

/// A generation sealed while the clock was ahead looked newer than anything saved since.
#[test]
fn a_seal_time_in_the_future_does_not_hide_saved_files() {
    if !is_root() {
        return;
    }
    let sandbox = home_with_one();
    let manifest = sandbox
        .pandora_home()
        .join("profiles/default/1/generation.acl");
    let tomorrow = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
    std::fs::File::options()
        .write(true)
        .open(&manifest)
        .unwrap()
        .set_modified(tomorrow)
        .unwrap();
    save(&sandbox, "future.txt");
    sandbox.run(&["profile", "create", "other"]).success();
    sandbox.run(&["profile", "switch", "other"]).success();
    assert!(
        was_rescued(&sandbox, "future.txt"),
        "{:?}",
        rescued(&sandbox)
    );
}

/// Reading the activity log (`metrics`) and a package's SBOM (`info --sbom`) hung on a FIFO
/// and read `/dev/zero` until memory ran out.
#[test]
fn metrics_and_sboms_refuse_what_is_not_a_regular_file() {
    let sandbox = home_with_one();
    let log = sandbox.pandora_home().join("log/events.log");
    std::fs::remove_file(&log).unwrap();
    nix::unistd::mkfifo(&log, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let metrics = finishes(sandbox.command(&["metrics"]));
    let stderr = String::from_utf8_lossy(&metrics.stderr);
    assert!(!metrics.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    std::fs::remove_file(&log).unwrap();
    let attestation = sandbox
        .pandora_home()
        .join("records/one@1.0.0.attestation.json");
    let _ = std::fs::remove_file(&attestation);
    std::os::unix::fs::symlink("/dev/zero", &attestation).unwrap();
    let sbom = finishes(sandbox.command(&["info", "--sbom", "one"]));
    let stderr = String::from_utf8_lossy(&sbom.stderr);
    assert!(!sbom.status.success(), "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

/// The SHA-256 of the launcher beside this `pandora`, which the fixture packages start with.
fn local_launcher_sha() -> String {
    use sha2::Digest;
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_pandora-launcher")).unwrap();
    pandora::format::metadata::encode_hex(&sha2::Sha256::digest(&bytes))
}

/// A directory where a launcher belongs in `blobs/launchers/` failed every install that needed
/// it ("Is a directory"), with a hint to retry.
#[test]
fn a_directory_in_place_of_a_launcher_is_replaced() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let launcher = sandbox
        .pandora_home()
        .join("blobs/launchers")
        .join(local_launcher_sha());
    std::fs::create_dir_all(launcher.join("inside")).unwrap();
    sandbox.run(&["install", "--yes", "hello"]).success();
    assert!(launcher.is_file());
    sandbox.run(&["verify", "--all"]).success();
}

/// Links left at the names of partial files had the launcher and the package written wherever
/// they pointed, outside the home.
#[test]
fn partial_files_are_never_written_through_links() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let victims: Vec<PathBuf> = (0..3)
        .map(|n| {
            let victim = sandbox.home().join(format!("victim-{n}"));
            std::fs::write(&victim, "precious").unwrap();
            victim
        })
        .collect();
    let blobs = sandbox.pandora_home().join("blobs");
    std::fs::create_dir_all(blobs.join("launchers")).unwrap();
    let hello = std::fs::read(fixture.registry.join("pkgs/hello-1.1.0.psp")).unwrap();
    let hello_sha = pandora::format::metadata::encode_hex(&pandora_core::Sha256::of(&hello));
    let links = [
        blobs
            .join("launchers")
            .join(format!("{}.partial", local_launcher_sha())),
        blobs.join(format!("{hello_sha}.partial")),
        blobs.join(format!("{hello_sha}.partial.validator")),
    ];
    for (link, victim) in links.iter().zip(&victims) {
        std::os::unix::fs::symlink(victim, link).unwrap();
    }
    sandbox.run(&["install", "--yes", "hello"]).success();
    for victim in &victims {
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious");
    }
    for entry in std::fs::read_dir(&blobs).unwrap().flatten() {
        assert!(
            !entry.file_type().unwrap().is_symlink(),
            "{:?}",
            entry.path()
        );
    }
    sandbox.run(&["verify", "--all"]).success();
}

/// A FIFO at the compact index's key or file hung every command that reads an index.
#[test]
fn cache_files_that_are_fifos_do_not_hang_commands() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["search", "hello"]).success();
    let cache = sandbox.pandora_home().join("cache");
    for fifo in [
        cache.join("index-cache.key"),
        cache.join("registries/fixtures/index.compact"),
    ] {
        std::fs::remove_file(&fifo).unwrap();
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let output = finishes(sandbox.command(&["search", "hello"]));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains("hello"));
    }
}

/// A download that failed ended the command while the home's copy of the launcher was half
/// written, leaving `entries/.launcher-partial-PID` behind.
#[test]
fn a_failed_download_leaves_no_half_written_launcher() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    fixture.server.set(
        "/pkgs/hello-1.1.0.psp",
        registry_fixtures::server::Behavior::NotFound,
    );
    let run = sandbox.run(&["install", "--yes", "hello"]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    let entries = sandbox.pandora_home().join("entries");
    let partials: Vec<_> = std::fs::read_dir(&entries)
        .map(|listing| {
            listing
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.contains("partial"))
                .collect()
        })
        .unwrap_or_default();
    assert!(partials.is_empty(), "{partials:?}");
}

/// An activation that failed after the store commit said only what failed: not that the
/// package is installed, nor how to activate it once the cause is gone.
#[test]
fn an_activation_that_fails_after_the_install_says_how_to_finish() {
    let sandbox = Sandbox::new();
    let one = package(&sandbox, "one", "publisher");
    std::fs::create_dir_all(sandbox.pandora_home()).unwrap();
    // A place where no profile can be made, even by root.
    let profiles = sandbox.pandora_home().join("profiles");
    std::os::unix::fs::symlink("/proc/sys/kernel", &profiles).unwrap();
    let run = sandbox.run(&["install", "--yes", one.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr.contains("installed, but activating failed")
            && run
                .stderr
                .contains("hint: once the cause is fixed, `pandora activate one@1.0.0`"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(&profiles).unwrap();
    sandbox.run(&["activate", "one@1.0.0"]).success();
    assert!(sandbox.run(&["list"]).stdout.contains("one@1.0.0"));
}

/// A file that hashes to what the signed index gives but is no sound package was called
/// damaged, with a hint to get it again: the registry published it so, and it would come back
/// the same.
#[test]
fn a_broken_file_the_index_vouches_for_is_blamed_on_the_registry() {
    let fixture = fixture();
    let garbage: Vec<u8> = (0..70_000u32).map(|n| (n * 7 % 251) as u8).collect();
    std::fs::write(fixture.registry.join("pkgs/libgreet-2.0.0.psp"), &garbage).unwrap();
    support::registry::resign(&fixture.registry, "registry", |index| {
        let version = &mut index
            .packages
            .iter_mut()
            .find(|package| package.name == "libgreet")
            .unwrap()
            .versions[0];
        version.sha256 = pandora_core::Sha256::of(&garbage);
        version.size = Some(garbage.len() as u64);
        version.launcher = None;
    });
    let run = fixture.sandbox.run(&["install", "--yes", "libgreet"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("has the SHA-256 its signed index gives")
            && run
                .stderr
                .contains("hint: the registry is broken or hostile"),
        "{}",
        run.stderr
    );
}
