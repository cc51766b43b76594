//! The launcher against a hostile machine rather than a hostile package: trusted-key
//! directories and files another user could write (or that are FIFOs and devices), stdout and
//! stderr that cannot be written, and `extract N DIR` into an existing directory where a move
//! fails half-way or a file appears after the plan.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pandora::format::metadata::{Execution, Metadata, PackageInfo, SlotInfo};
use pandora::format::signing::{public_key_pem, SigningKey};
use pandora::format::slot::{Operation, Operations};
use pandora::format::writer::{write_package, SlotData};
use sha2::Digest;
use support::{Run, Sandbox};

const SEED: &str = "launcher-attacks";
const SCRIPT: &[u8] = b"#!/bin/sh\necho \"ran $0 $*\"\nexit ${EXIT_WITH:-0}\n";
const NOBODY: u32 = 65534;

enum Entry<'a> {
    File(&'a str, u32, &'a [u8]),
    Dir(&'a str, u32),
}

fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        let (name, kind, mode, data): (&str, _, u32, &[u8]) = match entry {
            Entry::File(name, mode, data) => (name, tar::EntryType::Regular, *mode, data),
            Entry::Dir(name, mode) => (name, tar::EntryType::Directory, *mode, b""),
        };
        header.set_path(name).unwrap();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A signed package (the launcher stub first, so it runs directly) whose tar slots hold
/// `slots`; slot 0 should provide `bin/run`.
fn package(directory: &Path, name: &str, slots: &[&[Entry<'_>]]) -> PathBuf {
    let stored: Vec<Vec<u8>> = slots.iter().map(|entries| tar(entries)).collect();
    let metadata = Metadata {
        format: "PSPF/2025".into(),
        format_version: None,
        package: PackageInfo {
            name: name.into(),
            version: "1.0.0".into(),
            description: None,
        },
        slots: (0..stored.len())
            .map(|index| SlotInfo {
                slot: index as u64,
                id: format!("s{index}"),
                source: String::new(),
                target: Some("{workenv}".into()),
                size: None,
                checksum: None,
                operations: String::new(),
                purpose: "payload".into(),
                lifecycle: "runtime".into(),
                permissions: None,
            })
            .collect(),
        execution: Some(Execution {
            command: "{workenv}/bin/run".into(),
            env: Default::default(),
        }),
        runtime: None,
        workenv: None,
        build: None,
        launcher: None,
        pandora: None,
    };
    let data = stored
        .into_iter()
        .map(|bytes| {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &bytes).unwrap();
            SlotData {
                data: file,
                size: bytes.len() as u64,
                original_size: bytes.len() as u64,
                sha256: sha2::Sha256::digest(&bytes).into(),
                operations: Operations::new(vec![Operation::Tar]),
            }
        })
        .collect();
    std::fs::create_dir_all(directory).unwrap();
    let output = directory.join(format!("{name}.psp"));
    write_package(
        &output,
        Path::new(env!("CARGO_BIN_EXE_pandora-launcher")),
        metadata,
        data,
        &SigningKey::from_seed(SEED),
        0,
    )
    .unwrap();
    output
}

const BIN: &[Entry<'static>] = &[
    Entry::Dir("bin/", 0o755),
    Entry::File("bin/run", 0o755, SCRIPT),
];

fn app(directory: &Path) -> PathBuf {
    package(directory, "app", &[BIN])
}

/// The key the packages here are signed with, as FlavorPack writes it.
fn key_pem() -> String {
    public_key_pem(&SigningKey::from_seed(SEED).public_key())
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A command for `program` in the sandbox's environment, its work environments in the sandbox.
fn command(sandbox: &Sandbox, program: &Path, args: &[&str]) -> Command {
    let mut command = sandbox.command_for(program, args);
    command.env("FLAVOR_CACHE_DIR", sandbox.home().join("cache"));
    command
}

/// Runs `command` with the given stdout and stderr (piped ones are captured); kills it and
/// fails after `limit`, so a launcher that hangs fails the test instead of stalling it.
fn finish_within(mut command: Command, stdout: Stdio, stderr: Stdio, limit: Duration) -> Run {
    command.stdout(stdout).stderr(stderr);
    // Another test's fork can briefly hold a just-written package open for writing, and exec
    // then fails with ETXTBSY: try again.
    let mut attempts = 0;
    let mut child = loop {
        match command.spawn() {
            Err(error) if error.raw_os_error() == Some(26) && attempts < 50 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            spawned => break spawned.unwrap(),
        }
    };
    // Drop the parent's copies of any pipe ends handed to the child.
    drop(command);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn captured(command: Command) -> Run {
    finish_within(
        command,
        Stdio::piped(),
        Stdio::piped(),
        Duration::from_secs(60),
    )
}

/// A package run under `PANDORA_REQUIRE_TRUSTED=1` with `FLAVOR_TRUSTED_KEYS_DIR` set, in a
/// fresh cache each time (a warm start applies the same policy, but starts colder this way).
fn strict(sandbox: &Sandbox, package: &Path, flavor_keys: Option<&Path>) -> Run {
    let mut command = command(sandbox, package, &[]);
    command.env("PANDORA_REQUIRE_TRUSTED", "1");
    if let Some(directory) = flavor_keys {
        command.env("FLAVOR_TRUSTED_KEYS_DIR", directory);
    }
    captured(command)
}

/// Runs `args` as user `nobody`.
fn as_nobody(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut all = vec!["--reuid=65534", "--regid=65534", "--clear-groups"];
    all.extend_from_slice(args);
    sandbox.command_for(Path::new("setpriv"), &all)
}

/// A directory everyone may look into (the sandbox itself is private to root), for what
/// `nobody` must reach.
fn public_directory() -> tempfile::TempDir {
    let directory = tempfile::tempdir().unwrap();
    chmod(directory.path(), 0o755);
    directory
}

// F1: the tester's repro. A world-writable sticky directory as FLAVOR_TRUSTED_KEYS_DIR, and
// `nobody` drops the package's key there: the package must not count as trusted.
#[test]
fn keys_another_user_could_plant_are_not_trusted() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    let public = public_directory();
    let shared = public.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let evil = shared.join("evil.pub");
    captured(as_nobody(
        &sandbox,
        &[
            "sh",
            "-c",
            "printf '%s' \"$1\" > \"$2\"",
            "sh",
            &key_pem(),
            evil.to_str().unwrap(),
        ],
    ))
    .success();
    assert_eq!(std::fs::metadata(&evil).unwrap().uid(), NOBODY);
    let refused = strict(&sandbox, &app, Some(&shared));
    refused.failure(112);
    assert!(
        refused.stderr.contains("warning")
            && refused.stderr.contains(&shared.display().to_string())
            && refused.stderr.contains("writable by group or others"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stdout.contains("ran"), "{}", refused.stdout);

    // A private directory of root's, but the key file is nobody's.
    let private = public.path().join("private");
    std::fs::create_dir(&private).unwrap();
    let planted = private.join("planted.pub");
    std::fs::write(&planted, key_pem()).unwrap();
    std::os::unix::fs::chown(&planted, Some(NOBODY), Some(NOBODY)).unwrap();
    let refused = strict(&sandbox, &app, Some(&private));
    refused.failure(112);
    assert!(
        refused.stderr.contains(&planted.display().to_string())
            && refused.stderr.contains("belongs to user 65534"),
        "{}",
        refused.stderr
    );

    // Root's file, but anyone may rewrite it.
    std::os::unix::fs::chown(&planted, Some(0), Some(0)).unwrap();
    chmod(&planted, 0o666);
    let refused = strict(&sandbox, &app, Some(&private));
    refused.failure(112);
    assert!(
        refused.stderr.contains("writable by group or others"),
        "{}",
        refused.stderr
    );

    // A link to a good key elsewhere is not followed.
    std::fs::remove_file(&planted).unwrap();
    let elsewhere = public.path().join("elsewhere.pub");
    std::fs::write(&elsewhere, key_pem()).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
    let refused = strict(&sandbox, &app, Some(&private));
    refused.failure(112);
    assert!(
        refused.stderr.contains(&planted.display().to_string())
            && refused.stderr.contains("symbolic link"),
        "{}",
        refused.stderr
    );

    // The directory itself is nobody's (however strict its mode): ignored entirely.
    std::fs::remove_file(&planted).unwrap();
    std::fs::write(&planted, key_pem()).unwrap();
    std::os::unix::fs::chown(&private, Some(NOBODY), Some(NOBODY)).unwrap();
    let refused = strict(&sandbox, &app, Some(&private));
    refused.failure(112);
    assert!(
        refused.stderr.contains(&private.display().to_string())
            && refused.stderr.contains("belongs to user 65534"),
        "{}",
        refused.stderr
    );

    // Root's directory and root's file, closed to others: trusted, and nothing to warn about.
    std::os::unix::fs::chown(&private, Some(0), Some(0)).unwrap();
    let trusted = strict(&sandbox, &app, Some(&private));
    trusted.success();
    assert!(trusted.stdout.contains("ran"), "{}", trusted.stdout);
    assert!(!trusted.stderr.contains("warning"), "{}", trusted.stderr);
}

/// Runs the package under a 2 GiB address-space limit, so a launcher reading a device without
/// bound fails fast instead of exhausting the machine.
fn bounded(sandbox: &Sandbox, package: &Path) -> Command {
    let mut command = command(
        sandbox,
        Path::new("sh"),
        &[
            "-c",
            "ulimit -v 2097152; exec \"$0\" \"$@\"",
            package.to_str().unwrap(),
        ],
    );
    command.env("PANDORA_REQUIRE_TRUSTED", "1");
    command
}

fn trusted_dir_with_good_key(sandbox: &Sandbox) -> PathBuf {
    let keys = sandbox.pandora_home().join("keys/trusted");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("m.pub"), key_pem()).unwrap();
    keys
}

// F1: a FIFO among the trusted keys hung every launch (an open for reading waits for a writer).
#[test]
fn a_fifo_among_the_trusted_keys_does_not_hang_the_launcher() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    let keys = trusted_dir_with_good_key(&sandbox);
    let fifo = keys.join("a.pub");
    captured(sandbox.command_for(Path::new("mkfifo"), &[fifo.to_str().unwrap()])).success();
    let run = finish_within(
        bounded(&sandbox, &app),
        Stdio::piped(),
        Stdio::piped(),
        Duration::from_secs(20),
    );
    run.success();
    assert!(run.stdout.contains("ran"), "{}", run.stdout);
    assert!(
        run.stderr.contains("warning") && run.stderr.contains(&fifo.display().to_string()),
        "{}",
        run.stderr
    );
}

// F1: `z.pub -> /dev/zero` was read without limit.
#[test]
fn a_device_among_the_trusted_keys_is_not_read() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    let keys = trusted_dir_with_good_key(&sandbox);
    let zero = keys.join("z.pub");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let run = finish_within(
        bounded(&sandbox, &app),
        Stdio::piped(),
        Stdio::piped(),
        Duration::from_secs(20),
    );
    run.success();
    assert!(
        run.stderr.contains("warning") && run.stderr.contains(&zero.display().to_string()),
        "{}",
        run.stderr
    );
    // A key file larger than any key is refused without being read to the end.
    std::fs::remove_file(&zero).unwrap();
    let mut big = key_pem();
    big.push_str(&"\n".repeat(20 << 10));
    std::fs::write(&zero, big).unwrap();
    let run = finish_within(
        bounded(&sandbox, &app),
        Stdio::piped(),
        Stdio::piped(),
        Duration::from_secs(20),
    );
    run.success();
    assert!(
        run.stderr.contains(&zero.display().to_string()) && run.stderr.contains("larger than"),
        "{}",
        run.stderr
    );
}

fn dev_full() -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap(),
    )
}

/// The write end of a pipe whose read end is already closed.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Stdio::from(writer)
}

fn maintenance(sandbox: &Sandbox, package: &Path, args: &[&str]) -> Command {
    let mut command = command(sandbox, package, args);
    command.env("FLAVOR_LAUNCHER_CLI", "1");
    command
}

// F4: maintenance output into a pipe nobody reads any more (`| head`): quiet, exit 0.
#[test]
fn maintenance_output_into_a_closed_pipe_ends_quietly() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    // A work environment for verify-workenv to compare.
    captured(command(&sandbox, &app, &[])).success();
    for args in [
        &["info"][..],
        &["verify"],
        &["metadata"],
        &["version"],
        &["help"],
        &["verify-workenv"],
    ] {
        let run = finish_within(
            maintenance(&sandbox, &app, args),
            closed_pipe(),
            Stdio::piped(),
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("Broken pipe"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

// F4: any other failure to write the data is an error with a message, not a panic.
#[test]
fn maintenance_output_to_a_full_disk_is_an_error() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    for args in [&["info"][..], &["verify"], &["version"], &["help"]] {
        let run = finish_within(
            maintenance(&sandbox, &app, args),
            dev_full(),
            Stdio::piped(),
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 113, "{args:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("panicked") && run.stderr.contains("No space left on device"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

// F4: diagnostics that cannot be written never stop the program: an untrusted package (which
// warns), with debug output on, runs and exits with its program's code when stderr is full.
#[test]
fn an_unwritable_stderr_never_stops_the_program() {
    let sandbox = Sandbox::new();
    let app = app(&sandbox.home());
    for attempt in ["cold", "warm"] {
        let mut launched = command(&sandbox, &app, &["x"]);
        launched
            .env("EXIT_WITH", "7")
            .env("PANDORA_LAUNCHER_DEBUG", "1");
        let run = finish_within(
            launched,
            Stdio::piped(),
            dev_full(),
            Duration::from_secs(60),
        );
        assert_eq!(run.code, 7, "{attempt}: {}", run.stdout);
        assert!(run.stdout.contains("ran"), "{attempt}: {}", run.stdout);
    }
    // A launcher failure with nowhere to say so still exits with its own code.
    let run = finish_within(
        maintenance(&sandbox, &app, &["extract", "9", "/nonexistent/x"]),
        Stdio::piped(),
        dev_full(),
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 111);
    let run = finish_within(
        maintenance(&sandbox, &app, &["no-such-command"]),
        Stdio::piped(),
        dev_full(),
        Duration::from_secs(60),
    );
    assert_eq!(run.code, 2);
}

/// Every name under `root`, with a marker for directories and the content of files.
fn listing(root: &Path) -> Vec<String> {
    support::tree(root)
}

fn docs_package(directory: &Path) -> PathBuf {
    package(
        directory,
        "docs",
        &[
            BIN,
            &[
                Entry::File("a.txt", 0o644, b"from the package\n"),
                Entry::Dir("zz/", 0o755),
                Entry::File("zz/b.txt", 0o644, b"from the package\n"),
            ],
        ],
    )
}

// F6: extract into an existing directory where a move fails after others succeeded (a
// subdirectory the user may not write): every entry already moved is taken back.
#[test]
fn extract_into_an_existing_directory_is_all_or_nothing() {
    if !running_as_root() {
        eprintln!("skipped: needs root to act as another user");
        return;
    }
    let sandbox = Sandbox::new();
    let public = public_directory();
    let docs = docs_package(public.path());
    let destination = public.path().join("destination");
    std::fs::create_dir(&destination).unwrap();
    std::fs::write(destination.join("mine.txt"), "mine\n").unwrap();
    // zz/ is root's: nobody cannot add zz/b.txt, but may add a.txt beside it.
    std::fs::create_dir(destination.join("zz")).unwrap();
    for path in [destination.clone(), destination.join("mine.txt")] {
        std::os::unix::fs::chown(&path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let before = listing(&destination);
    let mut extract = as_nobody(
        &sandbox,
        &[
            docs.to_str().unwrap(),
            "extract",
            "1",
            destination.to_str().unwrap(),
        ],
    );
    extract
        .env("FLAVOR_LAUNCHER_CLI", "1")
        .env("HOME", public.path());
    let run = captured(extract);
    run.failure(113);
    assert!(run.stderr.contains("zz"), "{}", run.stderr);
    assert_eq!(listing(&destination), before, "{}", run.stderr);

    // Once zz/ is the user's, the same extraction lands whole.
    std::os::unix::fs::chown(destination.join("zz"), Some(NOBODY), Some(NOBODY)).unwrap();
    let mut extract = as_nobody(
        &sandbox,
        &[
            docs.to_str().unwrap(),
            "extract",
            "1",
            destination.to_str().unwrap(),
        ],
    );
    extract
        .env("FLAVOR_LAUNCHER_CLI", "1")
        .env("HOME", public.path());
    captured(extract).success();
    assert_eq!(
        listing(&destination),
        [
            "a.txt from the package\n exec=false",
            "mine.txt mine\n exec=false",
            "zz/",
            "zz/b.txt from the package\n exec=false",
        ]
    );
}

// F6: a file where the slot has a directory is refused, and nothing moves.
#[test]
fn extract_over_a_file_where_the_slot_has_a_directory_changes_nothing() {
    let sandbox = Sandbox::new();
    let docs = docs_package(&sandbox.home());
    let destination = sandbox.home().join("destination");
    std::fs::create_dir(&destination).unwrap();
    std::fs::write(destination.join("zz"), "a file of mine\n").unwrap();
    let before = listing(&destination);
    let run = captured(maintenance(
        &sandbox,
        &docs,
        &["extract", "1", destination.to_str().unwrap()],
    ));
    run.failure(113);
    assert_eq!(listing(&destination), before, "{}", run.stderr);
}
