//! The launcher and extraction against hostile packages and hostile caches: work environments
//! another user could write, cached state that is not bound to the package, link chains,
//! `workenv.directories` that leave the tree, unmasked modes, placeholder loops, maintenance
//! extraction, decompression bombs, disk-full errors, and sealed work environments.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pandora::format::metadata::{Directory, Execution, Metadata, PackageInfo, SlotInfo, Workenv};
use pandora::format::signing::SigningKey;
use pandora::format::slot::{Operation, Operations};
use pandora::format::writer::{write_package, SlotData};
use sha2::Digest;
use support::{Run, Sandbox};

const SEED: &str = "launcher-hardening";
const SCRIPT: &[u8] = b"#!/bin/sh\necho \"ran $0 $*\"\n";

enum Entry<'a> {
    File(&'a str, u32, &'a [u8]),
    Dir(&'a str, u32),
    Link(&'a str, &'a str),
}

/// A tar whose headers are written by hand, so nothing sanitises names, modes or link targets.
fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, link, kind, mode, data): (&str, &str, _, u32, &[u8]) = match entry {
            Entry::File(name, mode, data) => (name, "", tar::EntryType::Regular, *mode, data),
            Entry::Dir(name, mode) => (name, "", tar::EntryType::Directory, *mode, b""),
            Entry::Link(name, target) => (name, target, tar::EntryType::Symlink, 0o777, b""),
        };
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

struct Slot {
    id: &'static str,
    target: Option<String>,
    permissions: Option<&'static str>,
    stored: Vec<u8>,
    original_size: u64,
    operations: Operations,
}

fn tar_slot(id: &'static str, entries: &[Entry<'_>]) -> Slot {
    let stored = tar(entries);
    Slot {
        id,
        target: Some("{workenv}".into()),
        permissions: None,
        original_size: stored.len() as u64,
        stored,
        operations: Operations::new(vec![Operation::Tar]),
    }
}

fn file_slot(
    id: &'static str,
    target: &str,
    permissions: Option<&'static str>,
    content: &[u8],
) -> Slot {
    Slot {
        id,
        target: Some(target.into()),
        permissions,
        stored: content.to_vec(),
        original_size: content.len() as u64,
        operations: Operations::none(),
    }
}

/// The entry point every package here runs.
fn bin_slot() -> Slot {
    tar_slot(
        "bin",
        &[
            Entry::Dir("bin/", 0o755),
            Entry::File("bin/run", 0o755, SCRIPT),
        ],
    )
}

/// A signed package (the launcher stub first, so it runs directly).
fn package(
    directory: &Path,
    name: &str,
    command: &str,
    slots: Vec<Slot>,
    workenv: Option<Workenv>,
) -> PathBuf {
    let infos = slots
        .iter()
        .enumerate()
        .map(|(index, slot)| SlotInfo {
            slot: index as u64,
            id: slot.id.into(),
            source: String::new(),
            target: slot.target.clone(),
            size: None,
            checksum: None,
            operations: String::new(),
            purpose: "payload".into(),
            lifecycle: "runtime".into(),
            permissions: slot.permissions.map(Into::into),
        })
        .collect();
    let metadata = Metadata {
        format: "PSPF/2025".into(),
        format_version: None,
        package: PackageInfo {
            name: name.into(),
            version: "1.0.0".into(),
            description: None,
        },
        slots: infos,
        execution: Some(Execution {
            command: command.into(),
            env: Default::default(),
        }),
        runtime: None,
        workenv,
        build: None,
        launcher: None,
        pandora: None,
    };
    let data = slots
        .into_iter()
        .map(|slot| {
            let mut file = tempfile::tempfile().unwrap();
            std::io::Write::write_all(&mut file, &slot.stored).unwrap();
            SlotData {
                data: file,
                size: slot.stored.len() as u64,
                original_size: slot.original_size,
                sha256: sha2::Sha256::digest(&slot.stored).into(),
                operations: slot.operations,
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

fn cache(sandbox: &Sandbox) -> PathBuf {
    sandbox.home().join("cache")
}

fn cache_root(sandbox: &Sandbox) -> PathBuf {
    cache(sandbox).join("pandora/workenv")
}

/// Runs a package directly with the sandbox's cache; gives up (and fails) after a minute.
fn run(sandbox: &Sandbox, package: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = sandbox.command_for(package, args);
    command
        .env("FLAVOR_CACHE_DIR", cache(sandbox))
        .env("PANDORA_LAUNCHER_DEBUG", "1")
        .envs(env.iter().copied());
    finish_within(command, Duration::from_secs(60))
}

fn finish_within(mut command: Command, limit: Duration) -> Run {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
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
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{command:?} still running after {limit:?}");
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

/// The only work environment in the sandbox's cache.
fn workenv(sandbox: &Sandbox) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(cache_root(sandbox))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name != "files" && !name.ends_with(".lock")
        })
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.pop().unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

fn flip_slot_byte(package: &Path, slot: usize, at: u64) {
    let opened = pandora::format::package::Package::open(package).unwrap();
    let verified = opened
        .verified(pandora::format::package::Scope::Structure)
        .unwrap();
    let descriptor = &verified.slots[slot].descriptor;
    let offset = (descriptor.offset + at) as usize;
    drop(opened);
    let mut bytes = std::fs::read(package).unwrap();
    bytes[offset] ^= 0x20;
    std::fs::write(package, bytes).unwrap();
}

// Defect 2: the cache root and every directory a warm start goes through must be ours and not
// writable by anyone else, even after a first run made them.
#[test]
fn a_cache_others_can_write_is_refused_on_warm_starts() {
    let sandbox = Sandbox::new();
    let app = package(
        &sandbox.home(),
        "app",
        "{workenv}/bin/run",
        vec![bin_slot()],
        None,
    );
    run(&sandbox, &app, &[], &[]).success();
    let root = cache_root(&sandbox);
    let workenv = workenv(&sandbox);
    let files = root.join("files");
    for (directory, original) in [(&root, 0o700), (&files, 0o700), (&workenv, mode(&workenv))] {
        chmod(directory, 0o777);
        let refused = run(&sandbox, &app, &[], &[]);
        refused.failure(113);
        assert!(
            refused.stderr.contains("writable by group or others")
                && refused.stderr.contains(&directory.display().to_string()),
            "{}: {}",
            directory.display(),
            refused.stderr
        );
        assert!(!refused.stdout.contains("ran"), "{}", refused.stdout);
        chmod(directory, original);
        run(&sandbox, &app, &[], &[]).success();
    }
    // A directory above the cache that anyone may rename things in (no sticky bit) is refused
    // too: whoever can swap a path component can swap the cache under a check.
    let shared = sandbox.home().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    chmod(&shared, 0o777);
    let refused = run(
        &sandbox,
        &app,
        &[],
        &[("FLAVOR_CACHE_DIR", shared.to_str().unwrap())],
    );
    refused.failure(113);
    assert!(
        refused.stderr.contains(&shared.display().to_string()),
        "{}",
        refused.stderr
    );
    // With the sticky bit (as /tmp has) nobody else can rename what is ours inside it.
    chmod(&shared, 0o1777);
    run(
        &sandbox,
        &app,
        &[],
        &[("FLAVOR_CACHE_DIR", shared.to_str().unwrap())],
    )
    .success();
    assert_eq!(mode(&shared.join("pandora")), 0o700);
    assert_eq!(mode(&shared.join("pandora/workenv")), 0o700);

    if running_as_root() {
        // Another user's directory, however strict its mode, is not ours to trust.
        std::os::unix::fs::chown(&root, Some(4242), Some(4242)).unwrap();
        let refused = run(&sandbox, &app, &[], &[]);
        refused.failure(113);
        assert!(
            refused.stderr.contains("belongs to user 4242"),
            "{}",
            refused.stderr
        );
        std::os::unix::fs::chown(&root, Some(0), Some(0)).unwrap();
        std::os::unix::fs::chown(&workenv, Some(4242), Some(4242)).unwrap();
        run(&sandbox, &app, &[], &[]).failure(113);
    }
}

/// Makes a sealed directory and its files writable again, as an attacker (or a user with a text
/// editor and chmod) could.
fn unseal(directory: &Path) {
    chmod(directory, 0o755);
    for entry in std::fs::read_dir(directory).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            chmod(&entry.path(), 0o644);
        }
    }
}

// Defect 2: the command, environment and key of a warm start come from state bound to the
// verified package, never from whatever the work environment holds.
#[test]
fn cached_metadata_and_keys_do_not_decide_what_runs_or_who_is_trusted() {
    let sandbox = Sandbox::new();
    let app = package(
        &sandbox.home(),
        "app",
        "{workenv}/bin/run",
        vec![bin_slot()],
        None,
    );
    run(&sandbox, &app, &[], &[]).success();
    let control = workenv(&sandbox).join(".pandora");
    unseal(&control);
    let metadata_path = control.join("metadata.json");
    let original = std::fs::read_to_string(&metadata_path).unwrap();
    let poisoned = original.replace("{workenv}/bin/run", "/bin/echo poisoned");
    assert_ne!(original, poisoned);
    std::fs::write(&metadata_path, poisoned).unwrap();
    let run_again = run(&sandbox, &app, &["x"], &[]);
    run_again.success();
    assert!(
        !run_again.stdout.contains("poisoned") && run_again.stdout.contains("ran "),
        "{}\n{}",
        run_again.stdout,
        run_again.stderr
    );

    // A key planted in the work environment does not make the package trusted.
    let trusted = SigningKey::from_seed("someone-trusted").public_key();
    let keys = sandbox.pandora_home().join("keys/trusted");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(
        keys.join("trusted.pub"),
        pandora::format::signing::public_key_pem(&trusted),
    )
    .unwrap();
    let control = workenv(&sandbox).join(".pandora");
    unseal(&control);
    std::fs::write(
        control.join("key"),
        pandora::format::metadata::encode_hex(&trusted),
    )
    .unwrap();
    let strict = run(&sandbox, &app, &[], &[("PANDORA_REQUIRE_TRUSTED", "1")]);
    strict.failure(112);
    assert!(!strict.stdout.contains("ran"), "{}", strict.stdout);
}

// Defect 5: links that are each harmless alone but resolve outside the tree together.
#[test]
fn link_chains_leaving_the_tree_are_refused() {
    let sandbox = Sandbox::new();
    let chains: [(&str, Vec<Entry<'_>>); 2] = [
        (
            "through",
            vec![
                Entry::Dir("a/b/c/", 0o755),
                Entry::Link("a/b/c/up", "../.."),
                Entry::Link("a/b/escape", "c/up/../.."),
            ],
        ),
        (
            "later",
            vec![
                Entry::Dir("a/b/c/", 0o755),
                Entry::Link("a/b/escape", "c/up/../.."),
                Entry::Link("a/b/c/up", "../.."),
            ],
        ),
    ];
    for (name, entries) in chains {
        let app = package(
            &sandbox.home(),
            name,
            "{workenv}/bin/run",
            vec![bin_slot(), tar_slot("links", &entries)],
            None,
        );
        let out = sandbox.home().join(format!("out-{name}"));
        let unpacked = sandbox.run(&["unpack", app.to_str().unwrap(), out.to_str().unwrap()]);
        unpacked.failure(1);
        assert!(
            unpacked.stderr.contains("has an unsafe entry"),
            "{name}: {}",
            unpacked.stderr
        );
        assert!(!out.exists());
        run(&sandbox, &app, &[], &[]).failure(111);
    }
    // Chains inside the tree (shared-library style) still extract.
    let libs = package(
        &sandbox.home(),
        "libs",
        "{workenv}/bin/run",
        vec![
            bin_slot(),
            tar_slot(
                "lib",
                &[
                    Entry::File("lib/libx.so.1.2", 0o644, b"elf"),
                    Entry::Link("lib/libx.so.1", "libx.so.1.2"),
                    Entry::Link("lib/libx.so", "libx.so.1"),
                    Entry::Link("share/lib", "../lib"),
                    Entry::Link("share/x", "lib/libx.so"),
                ],
            ),
        ],
        None,
    );
    let out = sandbox.home().join("out-libs");
    sandbox
        .run(&["unpack", libs.to_str().unwrap(), out.to_str().unwrap()])
        .success();
    assert_eq!(std::fs::read(out.join("share/x")).unwrap(), b"elf");
}

// Defect 5 (launcher): the launcher's own state directory cannot be something the package made.
#[test]
fn a_package_cannot_supply_the_launchers_state_directory() {
    let sandbox = Sandbox::new();
    for (name, entry) in [
        ("link", Entry::Link(".pandora", "share")),
        ("file", Entry::File(".pandora/complete", 0o644, b"x")),
    ] {
        let app = package(
            &sandbox.home(),
            name,
            "{workenv}/bin/run",
            vec![
                bin_slot(),
                tar_slot("state", &[Entry::Dir("share/", 0o755), entry]),
            ],
            None,
        );
        let refused = run(&sandbox, &app, &[], &[]);
        refused.failure(111);
        assert!(
            refused.stderr.contains("reserved"),
            "{name}: {}",
            refused.stderr
        );
    }
}

// Defect 6: `workenv.directories` stay inside the work environment, and relative ones are made.
#[test]
fn workenv_directories_are_confined_and_relative_ones_created() {
    let sandbox = Sandbox::new();
    let escaping = package(
        &sandbox.home(),
        "escaping",
        "{workenv}/bin/run",
        vec![bin_slot()],
        Some(Workenv {
            directories: vec![Directory {
                path: "{workenv}/../../escaped".into(),
                mode: Some("0777".into()),
            }],
            env: Default::default(),
        }),
    );
    let refused = run(&sandbox, &escaping, &[], &[]);
    refused.failure(111);
    assert!(
        refused.stderr.contains("workenv directory") && refused.stderr.contains("`..`"),
        "{}",
        refused.stderr
    );
    assert!(!cache(&sandbox).join("pandora/escaped").exists());
    assert!(!cache(&sandbox).join("escaped").exists());

    let script = b"#!/bin/sh\necho state > \"$FLAVOR_WORKENV/state/logs/out\" && echo wrote\n";
    let stateful = package(
        &sandbox.home(),
        "stateful",
        "{workenv}/bin/run",
        vec![tar_slot(
            "bin",
            &[
                Entry::Dir("bin/", 0o755),
                Entry::File("bin/run", 0o755, script),
            ],
        )],
        Some(Workenv {
            directories: vec![
                Directory {
                    path: "state/logs".into(),
                    mode: Some("0700".into()),
                },
                Directory {
                    path: "{workenv}/tmp".into(),
                    mode: Some("0777".into()),
                },
            ],
            env: Default::default(),
        }),
    );
    let ran = run(&sandbox, &stateful, &[], &[]);
    ran.success();
    assert_eq!(ran.stdout, "wrote\n", "{}", ran.stderr);
    let workenv = workenv(&sandbox);
    assert_eq!(mode(&workenv.join("state/logs")), 0o700);
    assert_eq!(mode(&workenv.join("tmp")), 0o755, "no group or other write");
}

// Defect 7: a slot's declared mode never gives setuid, setgid, sticky or group/other write.
#[test]
fn slot_permissions_are_masked() {
    let sandbox = Sandbox::new();
    let setuid = package(
        &sandbox.home(),
        "setuid",
        "{workenv}/bin/run",
        vec![
            bin_slot(),
            file_slot("tool", "bin/tool", Some("6777"), b"#!/bin/sh\n"),
        ],
        None,
    );
    let out = sandbox.home().join("out-setuid");
    let refused = sandbox.run(&["unpack", setuid.to_str().unwrap(), out.to_str().unwrap()]);
    refused.failure(1);
    assert!(refused.stderr.contains("setuid"), "{}", refused.stderr);
    assert!(!out.exists());
    run(&sandbox, &setuid, &[], &[]).failure(111);

    let open = package(
        &sandbox.home(),
        "open",
        "{workenv}/bin/run",
        vec![
            bin_slot(),
            file_slot("tool", "bin/tool", Some("0777"), b"#!/bin/sh\n"),
            file_slot("data", "share/data", Some("1666"), b"data"),
            tar_slot(
                "tree",
                &[
                    Entry::Dir("lib/", 0o777),
                    Entry::File("lib/open", 0o777, b"x"),
                ],
            ),
        ],
        None,
    );
    let out = sandbox.home().join("out-open");
    sandbox
        .run(&["unpack", open.to_str().unwrap(), out.to_str().unwrap()])
        .success();
    assert_eq!(mode(&out.join("bin/tool")), 0o755);
    assert_eq!(mode(&out.join("share/data")), 0o644);
    assert_eq!(mode(&out.join("lib")), 0o755);
    assert_eq!(mode(&out.join("lib/open")), 0o755);
    run(&sandbox, &open, &[], &[]).success();
    let workenv = workenv(&sandbox);
    for (path, expected) in [
        ("bin/tool", 0o555),
        ("share/data", 0o444),
        ("lib", 0o555),
        ("lib/open", 0o555),
    ] {
        assert_eq!(mode(&workenv.join(path)), expected, "{path}");
    }
}

// Defect 14: a slot target naming its own placeholder is substituted once, not forever.
#[test]
fn a_self_referencing_slot_placeholder_terminates() {
    let sandbox = Sandbox::new();
    let app = package(
        &sandbox.home(),
        "loop",
        "{workenv}/bin/run {slot:1}",
        vec![
            bin_slot(),
            file_slot("data", "data/{slot:1}", None, b"data"),
        ],
        None,
    );
    let ran = run(&sandbox, &app, &[], &[]);
    ran.success();
    assert!(
        ran.stdout.contains("/data/{slot:1}\n"),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
}

// Defect 15: `extract N DIR` never leaves unverified bytes in DIR.
#[test]
fn maintenance_extract_leaves_nothing_unverified() {
    let sandbox = Sandbox::new();
    let app = package(
        &sandbox.home(),
        "app",
        "{workenv}/bin/run",
        vec![
            bin_slot(),
            tar_slot(
                "docs",
                &[
                    Entry::Dir("share/", 0o755),
                    Entry::File("share/doc.txt", 0o644, b"genuine docs\n"),
                ],
            ),
        ],
        None,
    );
    let cli = |args: &[&str]| run(&sandbox, &app, args, &[("FLAVOR_LAUNCHER_CLI", "1")]);
    let parent = sandbox.home().join("extracts");
    std::fs::create_dir_all(&parent).unwrap();
    // Into an existing directory: the user's files stay, the slot's arrive.
    let existing = parent.join("existing");
    std::fs::create_dir_all(&existing).unwrap();
    std::fs::write(existing.join("mine.txt"), "mine").unwrap();
    cli(&["extract", "1", existing.to_str().unwrap()]).success();
    assert_eq!(
        std::fs::read_to_string(existing.join("share/doc.txt")).unwrap(),
        "genuine docs\n"
    );
    assert_eq!(
        std::fs::read_to_string(existing.join("mine.txt")).unwrap(),
        "mine"
    );
    // A second extraction into the same place would overwrite: refused, nothing changed.
    cli(&["extract", "1", existing.to_str().unwrap()]).failure(113);

    // Inside doc.txt's content (after the directory's and its own 512-byte headers), so the
    // tar still parses and only the hash can tell.
    flip_slot_byte(&app, 1, 1024);
    let fresh = parent.join("fresh");
    let refused = cli(&["extract", "1", fresh.to_str().unwrap()]);
    refused.failure(111);
    assert!(
        refused.stderr.contains("slot 1 (docs) sha256"),
        "{}",
        refused.stderr
    );
    assert!(
        !fresh.exists(),
        "tampered bytes left in {}",
        fresh.display()
    );
    let other = parent.join("other");
    std::fs::create_dir_all(&other).unwrap();
    cli(&["extract", "1", other.to_str().unwrap()]).failure(111);
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
    let names: Vec<String> = std::fs::read_dir(&parent)
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "staging left behind: {names:?}");
}

fn zstd_bomb_slot(expanded: usize, declared: u64) -> Slot {
    let zeros = vec![0u8; expanded];
    let stored = zstd::encode_all(
        tar(&[
            Entry::Dir("bin/", 0o755),
            Entry::File("bin/run", 0o755, SCRIPT),
            Entry::File("big", 0o644, &zeros),
        ])
        .as_slice(),
        3,
    )
    .unwrap();
    Slot {
        id: "payload",
        target: Some("{workenv}".into()),
        permissions: None,
        original_size: declared,
        stored,
        operations: Operations::new(vec![Operation::Tar, Operation::Zstd]),
    }
}

// Defect 16: a slot expands at most to the size it declares.
#[test]
fn a_slot_expanding_past_its_declared_size_is_refused() {
    let sandbox = Sandbox::new();
    let bomb_slot = zstd_bomb_slot(64 << 20, 64 << 10);
    assert!(bomb_slot.stored.len() < (64 << 10));
    let bomb = package(
        &sandbox.home(),
        "bomb",
        "{workenv}/bin/run",
        vec![bomb_slot],
        None,
    );
    let refused = run(&sandbox, &bomb, &[], &[]);
    refused.failure(111);
    assert!(
        refused.stderr.contains("expands past") && refused.stderr.contains("65536"),
        "{}",
        refused.stderr
    );
    let out = sandbox.home().join("out-bomb");
    let unpacked = sandbox.run(&["unpack", bomb.to_str().unwrap(), out.to_str().unwrap()]);
    unpacked.failure(1);
    assert!(
        unpacked.stderr.contains("expands past"),
        "{}",
        unpacked.stderr
    );
    assert!(!out.exists());

    // The same content, honestly declared, extracts.
    let honest_tar_size = {
        let zeros = vec![0u8; 1 << 20];
        tar(&[
            Entry::Dir("bin/", 0o755),
            Entry::File("bin/run", 0o755, SCRIPT),
            Entry::File("big", 0o644, &zeros),
        ])
        .len() as u64
    };
    let honest = package(
        &sandbox.home(),
        "honest",
        "{workenv}/bin/run",
        vec![zstd_bomb_slot(1 << 20, honest_tar_size)],
        None,
    );
    run(&sandbox, &honest, &[], &[]).success();
}

// Defect 17: a work environment that cannot be written is exit 113, with the system's reason.
#[test]
fn write_failures_keep_their_cause_and_exit_113() {
    let sandbox = Sandbox::new();
    let big = vec![b'x'; 1 << 20];
    let app = package(
        &sandbox.home(),
        "big",
        "{workenv}/bin/run",
        vec![bin_slot(), file_slot("big", "share/big", None, &big)],
        None,
    );
    // A file-size limit makes writes fail as a full disk would (EFBIG instead of ENOSPC).
    let mut command = sandbox.command_for(Path::new("/bin/sh"), &[]);
    command
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 256; exec \"$0\"")
        .arg(&app)
        .env("FLAVOR_CACHE_DIR", cache(&sandbox));
    let failed = finish_within(command, Duration::from_secs(60));
    failed.failure(113);
    assert!(
        failed.stderr.contains("File too large") && failed.stderr.contains("share/big"),
        "{}",
        failed.stderr
    );
}

// Defect 18: the work environment is sealed, and `verify-workenv` finds what changed in it.
#[test]
fn work_environments_are_sealed_and_verifiable() {
    let sandbox = Sandbox::new();
    let app = package(
        &sandbox.home(),
        "app",
        "{workenv}/bin/run",
        vec![
            bin_slot(),
            tar_slot(
                "docs",
                &[
                    Entry::Dir("share/", 0o755),
                    Entry::File("share/doc.txt", 0o644, b"docs\n"),
                    Entry::Link("share/run", "../bin/run"),
                ],
            ),
        ],
        Some(Workenv {
            directories: vec![Directory {
                path: "{workenv}/var".into(),
                mode: None,
            }],
            env: Default::default(),
        }),
    );
    let cli = |args: &[&str]| run(&sandbox, &app, args, &[("FLAVOR_LAUNCHER_CLI", "1")]);
    let missing = cli(&["verify-workenv"]);
    missing.failure(1);
    assert!(
        missing.stdout.contains("no work environment"),
        "{}",
        missing.stdout
    );
    run(&sandbox, &app, &[], &[]).success();
    let workenv = workenv(&sandbox);
    for (path, expected) in [
        ("", 0o555),
        ("bin", 0o555),
        ("bin/run", 0o555),
        ("share", 0o555),
        ("share/doc.txt", 0o444),
        (".pandora", 0o555),
        ("var", 0o755),
    ] {
        assert_eq!(mode(&workenv.join(path)), expected, "`{path}`");
    }
    if !running_as_root() {
        assert!(std::fs::write(workenv.join("share/doc.txt"), "edited").is_err());
        assert!(std::fs::write(workenv.join("bin/new"), "new").is_err());
    }
    let clean = cli(&["verify-workenv"]);
    clean.success();
    assert!(clean.stdout.contains("matches"), "{}", clean.stdout);
    // The program's own state in a declared directory is not a difference.
    std::fs::write(workenv.join("var/state"), "state").unwrap();
    cli(&["verify-workenv"]).success();

    chmod(&workenv.join("share"), 0o755);
    chmod(&workenv.join("share/doc.txt"), 0o644);
    std::fs::write(workenv.join("share/doc.txt"), "edited\n").unwrap();
    std::fs::write(workenv.join("share/extra"), "extra").unwrap();
    std::fs::remove_file(workenv.join("share/run")).unwrap();
    let changed = cli(&["verify-workenv"]);
    changed.failure(1);
    for expected in [
        "modified  share/doc.txt",
        "extra     share/extra",
        "missing   share/run",
        "mode      share ",
    ] {
        assert!(
            changed.stdout.contains(expected),
            "`{expected}` in:\n{}",
            changed.stdout
        );
    }
    assert!(!changed.stdout.contains("bin/run"), "{}", changed.stdout);
}
