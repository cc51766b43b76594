//! What an attack on the everyday commands found, each fixed at its mechanism: one version of
//! a package per profile whatever brings two, registry text that cannot drive the terminal, a
//! file named like a package never standing in for it, plans that check pins before asking,
//! and a profile left unlinked by a killed command found and finished.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::{fixture, index, publish, resign};
use support::{Sandbox, ECHO_SCRIPT};

#[test]
fn two_versions_of_one_package_are_refused_before_anything_is_installed() {
    let sandbox = Sandbox::new();
    let one = support::local_package(&sandbox, "hello", "1.1.0", &[]);
    let two = support::local_package(&sandbox, "hello", "1.2.0", &[]);
    for extra in [&[][..], &["--prefer", "new"], &["--namespace"]] {
        let mut args = vec!["install", "--yes"];
        args.extend_from_slice(extra);
        args.extend([one.to_str().unwrap(), two.to_str().unwrap()]);
        let refused = sandbox.run(&args);
        refused.failure(1);
        assert!(
            refused
                .stderr
                .contains("hello is needed at two versions: hello@1.1.0 and hello@1.2.0"),
            "{extra:?}: {}",
            refused.stderr
        );
        assert!(sandbox.run(&["list", "--store"]).stdout.is_empty());
    }
    // Installed one at a time, they may both stay in the store, never both in the profile.
    sandbox
        .run(&["install", "--no-activate", one.to_str().unwrap()])
        .success();
    sandbox
        .run(&["install", "--no-activate", two.to_str().unwrap()])
        .success();
    let activate = sandbox.run(&["activate", "--yes", "hello@1.1.0", "hello@1.2.0"]);
    activate.failure(1);
    assert!(sandbox.run(&["list"]).stdout.is_empty());
}

#[test]
fn registry_text_cannot_drive_the_terminal() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    resign(&fixture.registry, "registry", |index| {
        for package in &mut index.packages {
            package.description = Some(format!(
                "\u{1b}[2K\u{1b}[1Arewritten\u{7}{}",
                "x".repeat(5000)
            ));
        }
    });
    for args in [
        &["search", "hello"][..],
        &["list", "--remote"],
        &["info", "hello"],
    ] {
        let run = sandbox.run(args);
        run.success();
        assert!(!run.stdout.contains('\u{1b}'), "{args:?}: {:?}", run.stdout);
        assert!(!run.stdout.contains('\u{7}'), "{args:?}");
        assert!(
            run.stdout.contains("\\u{1b}[2K"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let search = sandbox.run(&["search", "hello"]).stdout;
    assert!(
        search.lines().all(|line| line.chars().count() < 400),
        "a table cell is cut: {search}"
    );
}

#[test]
fn a_file_named_like_a_package_does_not_stand_in_for_it() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    // Someone leaves a package named `hello` (another one) in the current directory.
    let work = sandbox.home().join("downloads");
    std::fs::create_dir_all(&work).unwrap();
    let other = support::local_package(sandbox, "other", "6.6.6", &[]);
    std::fs::copy(&other, work.join("hello")).unwrap();
    let run = sandbox.run_with(&["run", "hello", "x"], |command| {
        command.current_dir(&work);
    });
    run.success();
    assert!(!run.stderr.contains("other"), "{}", run.stderr);
    let installed = sandbox.run_with(&["install", "--yes", "hello"], |command| {
        command.current_dir(&work);
    });
    installed.success();
    assert!(!sandbox.run(&["list", "--store"]).stdout.contains("other@"));
    // The file is still reachable, written as a path.
    let explicit = sandbox.run_with(&["run", "./hello"], |command| {
        command.current_dir(&work);
    });
    explicit.success();
}

#[test]
fn a_plan_that_would_break_a_pin_is_refused_before_asking_or_downloading() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    publish(
        sandbox,
        &fixture.registry,
        "app",
        "1.0.0",
        &["hello@1.1.0"],
        ECHO_SCRIPT,
    );
    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.2.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    sandbox
        .run(&["install", "--yes", "hello@1.1.0", "app"])
        .success();
    let blobs = support::files_under(&sandbox.pandora_home().join("blobs")).len();
    let refused = sandbox.run(&["upgrade", "--yes", "hello"]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("app@1.0.0 needs hello@1.1.0"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("Installed"), "{}", refused.stderr);
    assert_eq!(
        support::files_under(&sandbox.pandora_home().join("blobs")).len(),
        blobs,
        "nothing downloaded"
    );
}

#[test]
fn a_profile_left_unlinked_by_a_killed_command_is_found_and_finished() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    // As a kill between the generation becoming current and `vir` leaves it.
    std::fs::remove_file(sandbox.pandora_home().join("vir")).unwrap();
    std::fs::remove_file(sandbox.home().join("bin")).unwrap();
    let doctor = sandbox.run(&["doctor", "--offline"]);
    doctor.failure(1);
    assert!(doctor.stdout.contains("FAIL  profile"), "{}", doctor.stdout);
    assert!(
        doctor.stderr.contains("pandora profile switch default"),
        "{}",
        doctor.stderr
    );
    // Running the command again finishes it.
    sandbox.run(&["install", "--yes", "hello"]).success();
    assert!(sandbox.pandora_home().join("vir").exists());
    let ran = sandbox.run_file(&sandbox.home().join("bin/hello"), &["y"], |_| {});
    assert!(ran.success().stdout.contains("arg=[y]"));
    sandbox.run(&["doctor", "--offline"]).success();
}

#[test]
fn a_profile_changed_while_the_user_answers_is_not_changed_again_behind_their_back() {
    use std::io::{Read, Write};
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    publish(
        sandbox,
        &fixture.registry,
        "app",
        "1.0.0",
        &["hello@1.1.0"],
        ECHO_SCRIPT,
    );
    publish(
        sandbox,
        &fixture.registry,
        "hello",
        "1.0.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    index(sandbox, &fixture.registry, &[]);
    // The plan: app and the hello it pins join; nothing is replaced.
    let mut asking = sandbox.terminal("install app").spawn().unwrap();
    let mut output = asking.stdout.take().unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = output.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        })
    };
    let asked = (0..200).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        shown.lock().unwrap().contains("Proceed?")
    });
    assert!(asked, "{}", shown.lock().unwrap());
    // Meanwhile another command activates another hello, which app's would now replace.
    sandbox.run(&["install", "--yes", "hello@1.0.0"]).success();
    let mut stdin = asking.stdin.take().unwrap();
    stdin.write_all(b"y\n").unwrap();
    drop(stdin);
    let status = asking.wait().unwrap();
    reader.join().unwrap();
    let shown = shown.lock().unwrap().clone();
    assert_eq!(status.code(), Some(1), "{shown}");
    assert!(
        shown.contains("changed while the plan was being agreed to"),
        "{shown}"
    );
    let listed = sandbox.run(&["list"]).stdout;
    assert!(
        listed.contains("hello@1.0.0") && !listed.contains("app@"),
        "{listed}"
    );
}

#[test]
fn removing_a_package_another_profile_holds_says_so_and_how_to_undo_it_there() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox
        .run(&["profile", "create", "work", "--from", "default"])
        .success();
    let removed = sandbox.run(&["remove", "--yes", "hello"]);
    removed.success();
    assert!(
        removed.stderr.contains(
            "profile work held them at generation 1: `pandora profile switch work && pandora rollback --to 1`"
        ),
        "{}",
        removed.stderr
    );
    sandbox
        .run(&["install", "--no-activate", "hello"])
        .success();
    sandbox.run(&["activate", "hello"]).success();
    let (_, shown) = sandbox.on_terminal("remove hello", "n\n");
    assert!(
        shown.contains("taking it out of profile default"),
        "{shown}"
    );
}

/// One damaged install record (the disk, or an editor) stopped every command that lists the
/// store, with no way out: `list`, `install` and `remove` all failed on it. Now what does not
/// need it goes on, and the hint's two commands mend it.
#[test]
fn a_damaged_install_record_blocks_nothing_else_and_its_hint_mends_it() {
    let sandbox = Sandbox::new();
    let tool = support::local_package(&sandbox, "tool", "1.0.0", &[]);
    let other = support::local_package(&sandbox, "other", "1.0.0", &[]);
    let (tool, other) = (tool.to_str().unwrap(), other.to_str().unwrap());
    sandbox.run(&["install", "--yes", tool]).success();
    let record = sandbox.pandora_home().join("records/tool@1.0.0.acl");
    let hint = "`pandora install --reinstall tool@1.0.0` (or its .psp file) installs tool@1.0.0 again over it, and `pandora remove tool@1.0.0` removes tool@1.0.0 (with --force when installed packages need it)";
    let sound = std::fs::read(&record).unwrap();
    for damage in ["text", "directory", "dangling link", "writable by others"] {
        std::fs::remove_file(&record).unwrap();
        match damage {
            "text" => std::fs::write(&record, "garbage {{{\n").unwrap(),
            "directory" => std::fs::create_dir(&record).unwrap(),
            // Whoever else can write it can say what the package is.
            "writable by others" => {
                std::fs::write(&record, &sound).unwrap();
                std::fs::set_permissions(
                    &record,
                    std::os::unix::fs::PermissionsExt::from_mode(0o666),
                )
                .unwrap();
            }
            // Dangling, it made the package look not installed, its tree an orphan to prune.
            _ => std::os::unix::fs::symlink("gone.acl", &record).unwrap(),
        }
        let listed = sandbox.run(&["list", "--store"]);
        listed.success();
        assert!(
            listed.stderr.contains("is damaged"),
            "{damage}: {}",
            listed.stderr
        );
        assert!(listed.stderr.contains(hint), "{damage}: {}", listed.stderr);
        // Into the store without activation, nothing reads the damaged record.
        sandbox
            .run(&["install", "--yes", "--no-activate", other])
            .success();
        // Offered again, the package is refused with the same way out, then reinstalled.
        let again = sandbox.run(&["install", "--yes", tool]);
        again.failure(1);
        assert!(again.stderr.contains(hint), "{damage}: {}", again.stderr);
        sandbox
            .run(&["install", "--yes", "--reinstall", tool])
            .success();
        assert!(
            std::fs::symlink_metadata(&record).unwrap().is_file(),
            "{damage}"
        );
        assert_lists_tool(&sandbox, &["list"]);
        sandbox.run(&["remove", "--yes", "other@1.0.0"]).success();
    }
    // Or removed, from the store and from the profile that held it.
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    sandbox.run(&["remove", "--yes", "tool@1.0.0"]).success();
    assert!(!record.exists());
    assert!(!sandbox.pandora_home().join("store/tool@1.0.0").exists());
    let listed = sandbox.run(&["list", "--store"]);
    assert_eq!(listed.success().stdout, "");
    assert!(!listed.stderr.contains("damaged"), "{}", listed.stderr);
    assert!(sandbox.home().join("bin/tool").symlink_metadata().is_err());
}

/// Each record is refused when others can write it, but a records directory everyone could
/// write went unremarked: whoever can write it can rename records over one another or take
/// them away. Now it is refused, with the way out; a group-writable one (`umask 002`) is not.
#[test]
fn a_records_directory_others_can_write_is_not_believed() {
    let sandbox = Sandbox::new();
    install_tool(&sandbox);
    let records = sandbox.pandora_home().join("records");
    let set = |mode| {
        std::fs::set_permissions(&records, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap();
    };
    // Sticky too: others could add records, each refused, but noise that looks like damage.
    for mode in [0o777, 0o1777] {
        set(mode);
        for args in [&["list", "--store"][..], &["remove", "--yes", "tool@1.0.0"]] {
            let refused = sandbox.run(args);
            refused.failure(1);
            assert!(
                refused.stderr.contains(&format!(
                    "{} can be written by every user (mode {mode:04o})",
                    records.display()
                )) && refused.stderr.contains(&format!(
                    "hint: if it is yours and only its mode is wrong, `chmod go-w {}`",
                    records.display()
                )),
                "{args:?}: {}",
                refused.stderr
            );
        }
    }
    set(0o777);
    // doctor names it under its own check, and does not call the store's entries leftovers.
    let doctor = sandbox.run(&["doctor"]);
    doctor.failure(1);
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    assert!(
        said.lines().any(|line| line.contains("FAIL")
            && line.contains("records")
            && line.contains("can be written by every user"))
            && said.contains("not looked for: the install records could not be read"),
        "{said}"
    );
    set(0o775);
    assert_lists_tool(&sandbox, &["list", "--store"]);
    // The home itself: whoever can write it can swap `vir`, the store or `records/`.
    let home = sandbox.pandora_home();
    let mode = std::fs::metadata(&home).unwrap().permissions();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let refused = sandbox.run(&["list", "--store"]);
    refused.failure(1);
    assert!(
        refused.stderr.contains(&format!(
            "{} can be written by every user (mode 0777)",
            home.display()
        )),
        "{}",
        refused.stderr
    );
    std::fs::set_permissions(&home, mode).unwrap();
    assert_lists_tool(&sandbox, &["list", "--store"]);
}

/// Under `umask 000` every directory Pandora made in its home (store, entries, profiles,
/// blobs) was writable by everyone, and another user could swap a store entry's program for
/// theirs, which `~/bin` then ran. Nothing Pandora makes is writable by others, whatever the
/// umask; a program run on the user's behalf still gets the user's own umask.
#[test]
fn nothing_pandora_makes_is_writable_by_others_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-tool");
    support::package_source(
        &source,
        "tool",
        "1.0.0",
        Some("bin/tool"),
        &[
            ("bin/tool", "#!/bin/sh\numask\n"),
            ("share/tool/doc", "doc"),
        ],
    );
    let package = sandbox.home().join("tool.psp");
    sandbox.build(&source, &package, "publisher", &[]).success();
    // Through a shell that sets the umask, with the sandbox's environment.
    let under_umask = |umask: &str, args: &[&str]| {
        let script = format!("umask {umask} && exec \"$0\" \"$@\"");
        let mut argv = vec!["-c", script.as_str(), env!("CARGO_BIN_EXE_pandora")];
        argv.extend_from_slice(args);
        let output = sandbox
            .command_for(std::path::Path::new("/bin/sh"), &argv)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    under_umask("000", &["install", "--yes", package.to_str().unwrap()]);
    under_umask("000", &["prune", "--yes"]);
    let mut checked = 0;
    for root in [sandbox.pandora_home(), sandbox.home().join("bin")] {
        for item in walkdir::WalkDir::new(&root) {
            let item = item.unwrap();
            if item.path_is_symlink() {
                continue;
            }
            let mode = item.metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o022, 0, "{} {mode:o}", item.path().display());
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
    assert_eq!(under_umask("002", &["run", "tool"]), "0002\n");
}

/// A command waiting for another's lock waited in silence: a reader of a profile being made
/// looked hung. It says what it waits for, then goes on.
#[test]
fn a_command_waiting_for_another_says_so() {
    let sandbox = Sandbox::new();
    install_tool(&sandbox);
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(sandbox.pandora_home().join(".store.lock"))
        .unwrap();
    lock.lock().unwrap();
    let waiting = sandbox
        .command(&["remove", "--yes", "tool@1.0.0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // It cannot finish while the lock is held; give it time to get there.
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(sandbox.home().join("bin/tool").symlink_metadata().is_ok());
    lock.unlock().unwrap();
    let output = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "Blocking waiting for another pandora process to finish (it holds {})",
            sandbox.pandora_home().join(".store.lock").display()
        )),
        "{stderr}"
    );
    assert!(sandbox.home().join("bin/tool").symlink_metadata().is_err());
}

/// With `store/` moved to another disk and linked back, `verify --all` called every link of
/// the profile one "outside the generation's packages": it compared the link's target as
/// written with the store's path resolved.
#[test]
fn verify_accepts_a_store_that_is_a_link_to_another_directory() {
    let sandbox = Sandbox::new();
    // Its `share/` is linked into the profile from the store (its program from `entries/`).
    let source = sandbox.home().join("src-tool");
    support::package_source(
        &source,
        "tool",
        "1.0.0",
        None,
        &[("bin/tool", ECHO_SCRIPT), ("share/tool/doc.txt", "docs")],
    );
    let package = sandbox.home().join("tool.psp");
    sandbox.build(&source, &package, "publisher", &[]).success();
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let home = sandbox.pandora_home();
    let moved = sandbox.home().join("other-disk/store");
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(home.join("store"), &moved).unwrap();
    std::os::unix::fs::symlink(&moved, home.join("store")).unwrap();
    let verified = sandbox.run(&["verify", "--all"]);
    assert!(
        verified
            .stdout
            .contains("profile default (generation 1, 1 package(s))")
            && !verified.stdout.contains("FAIL"),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    verified.success();
}

/// A directory where a commit's pending record (`records/ID.acl.next`) goes made the recovery
/// every store change starts with fail, so nothing could be installed any more.
#[test]
fn a_directory_at_a_pending_record_blocks_no_install() {
    let sandbox = Sandbox::new();
    let records = sandbox.pandora_home().join("records");
    std::fs::create_dir_all(records.join("ghost@1.0.0.acl.next/inside")).unwrap();
    let tool = support::local_package(&sandbox, "tool", "1.0.0", &[]);
    sandbox
        .run(&["install", "--yes", tool.to_str().unwrap()])
        .success();
    assert!(!records.join("ghost@1.0.0.acl.next").exists());
    assert_lists_tool(&sandbox, &["list"]);
}

/// `tmp/` is Pandora's scratch, emptied by every store change. Made a link (to another disk,
/// or to /tmp), it had everything in its target deleted; made a file, nothing installed.
#[test]
fn a_link_or_a_file_at_tmp_is_replaced_and_nothing_behind_it_is_touched() {
    let sandbox = Sandbox::new();
    let tool = install_tool(&sandbox);
    let tool = tool.as_str();
    let tmp = sandbox.pandora_home().join("tmp");
    let precious = sandbox.home().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("work.txt"), "mine").unwrap();
    std::fs::remove_dir_all(&tmp).unwrap();
    std::os::unix::fs::symlink(&precious, &tmp).unwrap();
    sandbox
        .run(&["install", "--yes", "--reinstall", tool])
        .success();
    assert_eq!(
        std::fs::read_to_string(precious.join("work.txt")).unwrap(),
        "mine"
    );
    assert!(tmp.symlink_metadata().unwrap().is_dir());
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, "not a directory").unwrap();
    sandbox
        .run(&["install", "--yes", "--reinstall", tool])
        .success();
    assert!(tmp.symlink_metadata().unwrap().is_dir());
}

/// A store entry whose record is gone (deleted by hand) looked like an orphan, and `prune`
/// deleted the tree of a package the active profile held.
#[test]
fn prune_keeps_what_a_generation_holds_even_without_its_record() {
    let sandbox = Sandbox::new();
    let tool = install_tool(&sandbox);
    let tool = tool.as_str();
    let home = sandbox.pandora_home();
    for side in ["acl", "summary"] {
        std::fs::remove_file(home.join(format!("records/tool@1.0.0.{side}"))).unwrap();
    }
    sandbox.run(&["prune", "--yes"]).success();
    assert!(home.join("store/tool@1.0.0").is_dir());
    assert!(home.join("entries/tool@1.0.0").is_dir());
    // doctor called it a leftover for prune to remove, which prune (rightly) does not.
    let doctor = sandbox.run(&["doctor"]);
    let said = format!("{}{}", doctor.stdout, doctor.stderr);
    assert!(
        said.contains(
            "tool@1.0.0 in the store and held by a generation, but without an install record"
        ) && said.contains("`pandora install --reinstall tool@1.0.0` writes the record again"),
        "{said}"
    );
    sandbox
        .run(&["install", "--yes", "--reinstall", tool])
        .success();
    assert_lists_tool(&sandbox, &["list"]);
}

/// The hint for a damaged record says reinstalling mends it; with a directory where the
/// package's attestation goes, the reinstall itself failed ("Is a directory").
#[test]
fn a_reinstall_replaces_a_directory_where_the_attestation_goes() {
    let sandbox = Sandbox::new();
    let tool = install_tool(&sandbox);
    let tool = tool.as_str();
    let attestation = sandbox
        .pandora_home()
        .join("records/tool@1.0.0.attestation.json");
    std::fs::remove_file(&attestation).unwrap();
    std::fs::create_dir_all(attestation.join("inside")).unwrap();
    sandbox
        .run(&["install", "--yes", "--reinstall", tool])
        .success();
    assert!(attestation.symlink_metadata().unwrap().is_file());
    std::fs::remove_file(&attestation).unwrap();
    std::fs::create_dir(&attestation).unwrap();
    sandbox.run(&["remove", "--yes", "tool@1.0.0"]).success();
    assert!(attestation.symlink_metadata().is_err());
}

/// Entry points are hard links to one launcher copy: as root, `cp script ~/bin/tool` wrote
/// through into the launcher every entry point runs as, and `verify --all` said all was well.
#[test]
fn verify_finds_an_entry_point_written_through() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    install_tool(&sandbox);
    sandbox.run(&["verify", "--all"]).success();
    let program = sandbox.home().join("bin/tool");
    let real = std::fs::canonicalize(&program).unwrap();
    // What root's write does (the file is 0555): through the link, into the shared bytes.
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&program, "#!/bin/sh\necho mine\n").unwrap();
    let verified = sandbox.run(&["verify", "--all"]);
    verified.failure(1);
    assert!(
        verified
            .stdout
            .contains("is not the launcher entry points run as; it was changed"),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
}

/// Installs `tool@1.0.0` from a file of its own into `sandbox`; returns the file.
/// `pandora ARGS` succeeds and lists tool@1.0.0.
fn assert_lists_tool(sandbox: &Sandbox, args: &[&str]) {
    let listed = sandbox.run(args);
    assert!(
        listed.success().stdout.contains("tool@1.0.0"),
        "{args:?}: {}",
        listed.stdout
    );
}

fn install_tool(sandbox: &Sandbox) -> String {
    let tool = support::local_package(sandbox, "tool", "1.0.0", &[]);
    let tool = tool.to_str().unwrap().to_string();
    sandbox.run(&["install", "--yes", &tool]).success();
    tool
}

/// `prune` deleted whatever it found in `blobs/`, `store/` and `entries/` that no record
/// named, through a link too (a `blobs/` moved to another disk with someone's files beside).
/// It deletes only what Pandora names so.
#[test]
fn prune_deletes_only_what_pandora_names() {
    let sandbox = Sandbox::new();
    install_tool(&sandbox);
    let home = sandbox.pandora_home();
    let elsewhere = sandbox.home().join("big-disk/blobs");
    std::fs::create_dir_all(elsewhere.parent().unwrap()).unwrap();
    std::fs::rename(home.join("blobs"), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, home.join("blobs")).unwrap();
    let mut theirs = Vec::new();
    for directory in [elsewhere.clone(), home.join("store"), home.join("entries")] {
        std::fs::write(directory.join("notes.txt"), "mine").unwrap();
        std::fs::create_dir_all(directory.join("photos")).unwrap();
        std::fs::write(directory.join("photos/p1"), "mine").unwrap();
        theirs.extend([directory.join("notes.txt"), directory.join("photos/p1")]);
    }
    let leftover = elsewhere.join(format!("{}.partial", "ab".repeat(32)));
    std::fs::write(&leftover, "a download cut short").unwrap();
    sandbox.run(&["prune", "--yes"]).success();
    for path in &theirs {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "mine",
            "{}",
            path.display()
        );
    }
    assert!(!leftover.exists());
    sandbox.run(&["verify", "--all"]).success();
}

/// As root, a file saved through a folded link (`~/share/tool/notes`) lands in the package's
/// store tree; `remove` and a reinstall deleted it with the tree. It is rescued now, with a
/// warning.
#[test]
fn remove_rescues_what_was_saved_into_a_store_tree() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let tool = install_tool(&sandbox);
    let tree = sandbox.pandora_home().join("store/tool@1.0.0");
    let place = std::fs::read_dir(&tree)
        .unwrap()
        .flatten()
        .find(|entry| entry.file_type().unwrap().is_dir())
        .unwrap()
        .path();
    // What root's write does (the tree is sealed read-only).
    std::fs::set_permissions(&place, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(place.join("my-notes.txt"), "mine").unwrap();
    std::fs::create_dir(place.join("my-dir")).unwrap();
    std::fs::write(place.join("my-dir/more"), "more").unwrap();
    // A reinstall replaces the tree: what was saved there is rescued first, too.
    let reinstalled = sandbox.run(&["install", "--yes", "--reinstall", &tool]);
    assert!(
        reinstalled
            .success()
            .stderr
            .contains("my-notes.txt was saved into the package's store tree"),
        "{}",
        reinstalled.stderr
    );
    let rescued = support::files_under(&sandbox.pandora_home().join("rescue"));
    assert_eq!(rescued.len(), 2, "{rescued:?}");
    std::fs::remove_dir_all(sandbox.pandora_home().join("rescue")).unwrap();
    let place = tree.join(place.file_name().unwrap());
    std::fs::set_permissions(&place, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(place.join("my-notes.txt"), "mine").unwrap();
    std::fs::create_dir(place.join("my-dir")).unwrap();
    std::fs::write(place.join("my-dir/more"), "more").unwrap();
    let removed = sandbox.run(&["remove", "--yes", "tool@1.0.0"]);
    assert!(
        removed
            .success()
            .stderr
            .contains("my-notes.txt was saved into the package's store tree"),
        "{}",
        removed.stderr
    );
    let rescued = support::files_under(&sandbox.pandora_home().join("rescue"));
    assert_eq!(rescued.len(), 2, "{rescued:?}");
    assert!(rescued.iter().any(|path| path.ends_with("my-notes.txt")));
    assert!(rescued.iter().any(|path| path.ends_with("my-dir/more")));
}

/// An entry point's record (`entries/ID/.NAME.entry`) says what `~/bin/NAME` runs; edited,
/// it ran something else, and `verify --all` said all was well.
#[test]
fn verify_finds_an_entry_point_record_that_says_another_command() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let tool = install_tool(&sandbox);
    let record = sandbox
        .pandora_home()
        .join("entries/tool@1.0.0/.tool.entry");
    let text = std::fs::read_to_string(&record).unwrap();
    let command = text
        .split("\"command\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&record, text.replacen(command, "/bin/echo", 1)).unwrap();
    let verified = sandbox.run(&["verify", "--all"]);
    verified.failure(1);
    assert!(
        verified
            .stdout
            .contains("says another command, environment or key than the package"),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    sandbox
        .run(&["install", "--yes", "--reinstall", &tool])
        .success();
    sandbox.run(&["verify", "--all"]).success();
}
