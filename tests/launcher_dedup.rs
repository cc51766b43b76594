//! Launchers travel and are stored once: a client holding a package's launcher fetches only the
//! rest of the file (`Range`), verifies the whole file's SHA-256, and keeps one launcher in
//! `blobs/launchers/` for every package that starts with it.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use registry_fixtures::server::{Behavior, FixtureServer};
use support::registry::{configure, index, publish};
use support::Sandbox;

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

/// Three small packages sharing one launcher (the one beside this `pandora`), served on
/// 127.0.0.1.
fn registry() -> (Sandbox, std::path::PathBuf, FixtureServer) {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    for name in NAMES {
        publish(
            &sandbox,
            &registry,
            name,
            "1.0.0",
            &[],
            &format!("#!/bin/sh\necho {name}\n"),
        );
    }
    serve(sandbox, registry)
}

/// [`registry`] with packages built by another release: their launcher is not the one beside
/// this `pandora`.
fn registry_of_another_release() -> (Sandbox, std::path::PathBuf, FixtureServer) {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    let other = support::registry::other_release_launcher(&sandbox.home());
    for name in NAMES {
        support::publish_with(
            &sandbox,
            &registry.join(format!("pkgs/{name}-1.0.0.psp")),
            name,
            "1.0.0",
            &[],
            &format!("#!/bin/sh\necho {name}\n"),
            "publisher",
            &["--launcher-bin", other.to_str().unwrap()],
        );
    }
    serve(sandbox, registry)
}

fn serve(
    sandbox: Sandbox,
    registry: std::path::PathBuf,
) -> (Sandbox, std::path::PathBuf, FixtureServer) {
    index(&sandbox, &registry, &[]);
    let server = FixtureServer::start(&registry).unwrap();
    configure(&sandbox, &server);
    (sandbox, registry, server)
}

fn launchers(sandbox: &Sandbox) -> Vec<String> {
    std::fs::read_dir(sandbox.pandora_home().join("blobs/launchers"))
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| !name.ends_with(".lock"))
                .collect()
        })
        .unwrap_or_default()
}

fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// The bytes the `download` event of `id` reports.
fn downloaded(log: &str, id: &str) -> u64 {
    log.lines()
        .find(|line| line.contains("download") && line.contains(id) && line.contains("status=ok"))
        .and_then(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix("bytes="))
                .and_then(|bytes| bytes.trim_matches('"').parse().ok())
        })
        .unwrap_or_else(|| panic!("no download event for {id} in:\n{log}"))
}

#[test]
fn the_index_records_each_launcher() {
    let (_sandbox, registry, _server) = registry();
    let index = std::fs::read_to_string(registry.join("index.acl")).unwrap();
    assert_eq!(index.matches("launcher_sha256").count(), 3, "{index}");
    assert_eq!(index.matches("launcher_size").count(), 3, "{index}");
}

#[test]
fn second_package_fetches_only_what_follows_the_launcher() {
    let (sandbox, registry, server) = registry();
    sandbox.run(&["install", "--yes", "alpha"]).success();
    assert_eq!(launchers(&sandbox).len(), 1);
    let log = sandbox.pandora_home().join("events.log");
    sandbox
        .run(&["--log", log.to_str().unwrap(), "install", "--yes", "beta"])
        .success();
    let whole = size(&registry.join("pkgs/beta-1.0.0.psp"));
    let launcher = size(
        &sandbox
            .pandora_home()
            .join("blobs/launchers")
            .join(&launchers(&sandbox)[0]),
    );
    let got = downloaded(&std::fs::read_to_string(&log).unwrap(), "beta@1.0.0");
    assert_eq!(got, whole - launcher, "the body only");
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("beta-1.0.0.psp"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].range.as_deref(),
        Some(&*format!("bytes={launcher}-"))
    );
    // The split blob still is the package: it runs, and verifies.
    let run = sandbox.run(&["run", "beta"]);
    run.success();
    assert_eq!(run.stdout, "beta\n");
    sandbox.run(&["verify", "--all"]).success();
}

#[test]
fn a_server_that_ignores_ranges_still_works() {
    let (sandbox, _registry, server) = registry();
    server.set("/pkgs/beta-1.0.0.psp", Behavior::IgnoreRange);
    sandbox.run(&["install", "--yes", "alpha"]).success();
    sandbox.run(&["install", "--yes", "beta"]).success();
    assert_eq!(sandbox.run(&["run", "beta"]).stdout, "beta\n");
    assert_eq!(launchers(&sandbox).len(), 1);
}

#[test]
fn into_an_empty_home_packages_of_this_release_bring_only_their_bodies() {
    let (sandbox, registry, server) = registry();
    sandbox
        .run(&["install", "--yes", "alpha", "beta", "gamma"])
        .success();
    // The launcher beside this `pandora` is the one they start with: it is taken from there,
    // and no file crosses the wire whole.
    let launcher = std::fs::read(env!("CARGO_BIN_EXE_pandora-launcher")).unwrap();
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with(".psp"))
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    for request in &asked {
        assert_eq!(
            request.range.as_deref(),
            Some(&*format!("bytes={}-", launcher.len())),
            "{asked:?}"
        );
    }
    assert_eq!(launchers(&sandbox).len(), 1);
    for name in NAMES {
        assert_eq!(sandbox.run(&["run", name]).stdout, format!("{name}\n"));
    }
    sandbox.run(&["verify", "--all"]).success();
    // Each blob is the package it names, launcher and all.
    let alpha = std::fs::read(registry.join("pkgs/alpha-1.0.0.psp")).unwrap();
    assert!(alpha.starts_with(&launcher));
}

#[test]
fn one_launcher_for_three_packages() {
    let (sandbox, _registry, server) = registry_of_another_release();
    sandbox
        .run(&["install", "--yes", "alpha", "beta", "gamma"])
        .success();
    assert_eq!(launchers(&sandbox).len(), 1);
    // Into an empty home, downloading in parallel, the launcher still crosses the wire once:
    // one package comes whole, the others wait for its launcher and fetch what follows it.
    let whole: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with(".psp") && request.range.is_none())
        .collect();
    assert_eq!(whole.len(), 1, "{whole:?}");
    let launcher = sandbox
        .pandora_home()
        .join("blobs/launchers")
        .join(&launchers(&sandbox)[0]);
    // Each blob keeps its length but not its launcher's bytes on disk.
    use std::os::unix::fs::MetadataExt;
    let blobs = sandbox.pandora_home().join("blobs");
    for entry in std::fs::read_dir(&blobs).unwrap().flatten() {
        let metadata = entry.metadata().unwrap();
        if metadata.is_file() && !entry.file_name().to_string_lossy().contains('.') {
            assert!(
                metadata.blocks() * 512 < size(&launcher),
                "{:?} takes {} bytes",
                entry.path(),
                metadata.blocks() * 512
            );
        }
    }
    for name in NAMES {
        assert_eq!(sandbox.run(&["run", name]).stdout, format!("{name}\n"));
    }
    // Prune keeps the launcher the installed blobs need.
    sandbox.run(&["prune", "--yes"]).success();
    assert_eq!(launchers(&sandbox).len(), 1);
    assert_eq!(sandbox.run(&["run", "gamma"]).stdout, "gamma\n");
}

#[test]
fn a_damaged_launcher_is_detected_and_the_package_fetched_whole() {
    let (sandbox, _registry, server) = registry();
    sandbox.run(&["install", "--yes", "alpha"]).success();
    let launcher = sandbox
        .pandora_home()
        .join("blobs/launchers")
        .join(&launchers(&sandbox)[0]);
    let mut bytes = std::fs::read(&launcher).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&launcher, &bytes).unwrap();
    sandbox.run(&["install", "--yes", "beta"]).success();
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with("beta-1.0.0.psp"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].range, None, "fetched whole");
    // The launcher is whole again, and both packages run.
    assert_ne!(std::fs::read(&launcher).unwrap(), bytes);
    assert_eq!(sandbox.run(&["run", "beta"]).stdout, "beta\n");
    assert_eq!(sandbox.run(&["run", "alpha"]).stdout, "alpha\n");
}

#[test]
fn prune_removes_the_whole_copy_run_made_with_its_blob() {
    let (sandbox, _registry, _server) = registry();
    sandbox.run(&["install", "--yes", "alpha"]).success();
    // Not installed: fetched split (the launcher is held), put back together to run.
    let run = sandbox.run(&["run", "beta"]);
    run.success();
    assert_eq!(run.stdout, "beta\n");
    let copies = || -> Vec<_> {
        std::fs::read_dir(sandbox.pandora_home().join("cache/run"))
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
    };
    assert_eq!(copies().len(), 1, "{:?}", copies());
    // A file of the user's own there (not a name `run` gives) is never touched.
    let own = sandbox.pandora_home().join("cache/run/notes.psp");
    std::fs::write(&own, "mine").unwrap();
    let dry = sandbox.run(&["prune", "--dry-run", "-v"]);
    dry.success();
    assert!(dry.stderr.contains("cache/run/"), "{}", dry.stderr);
    assert!(!dry.stderr.contains("notes.psp"), "{}", dry.stderr);
    assert_eq!(copies().len(), 2);
    sandbox.run(&["prune", "--yes"]).success();
    assert_eq!(copies(), [own]);
    // Nor is a directory `cache/run` is a link to.
    let elsewhere = sandbox.home().join("mine");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join(format!("{}.psp", "ab".repeat(32))), "mine").unwrap();
    std::fs::remove_dir_all(sandbox.pandora_home().join("cache/run")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, sandbox.pandora_home().join("cache/run")).unwrap();
    sandbox.run(&["prune", "--yes"]).success();
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    // What is installed still runs.
    assert_eq!(sandbox.run(&["run", "alpha"]).stdout, "alpha\n");
}

#[test]
fn an_index_that_names_the_wrong_launcher_cannot_make_a_blob_lose_its_own() {
    let (sandbox, registry, _server) = registry();
    sandbox.run(&["install", "--yes", "alpha"]).success();
    let held = launchers(&sandbox)[0].clone();
    let held_size = size(&sandbox.pandora_home().join("blobs/launchers").join(&held));
    // delta starts with another launcher (the usual one with a different tail), but the signed
    // index says it starts with the one this home holds.
    let launcher = std::path::Path::new(env!("CARGO_BIN_EXE_pandora-launcher"));
    let mut other = std::fs::read(launcher).unwrap();
    let middle = other.len() / 2;
    other[middle] ^= 0xff;
    other.extend_from_slice(&[0x5a; 4096]);
    let other_path = sandbox.home().join("other-launcher");
    std::fs::write(&other_path, &other).unwrap();
    let source = sandbox.home().join("src-delta");
    support::package_source(
        &source,
        "delta",
        "1.0.0",
        Some("bin/delta"),
        &[("bin/delta", "#!/bin/sh\necho delta\n")],
    );
    sandbox
        .build(
            &source,
            &registry.join("pkgs/delta-1.0.0.psp"),
            "publisher",
            &["--launcher-bin", other_path.to_str().unwrap()],
        )
        .success();
    index(&sandbox, &registry, &[]);
    let mut held_sha = [0u8; 32];
    for (n, byte) in held_sha.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&held[2 * n..2 * n + 2], 16).unwrap();
    }
    support::registry::resign(&registry, "registry", |index| {
        let delta = index
            .packages
            .iter_mut()
            .find(|package| package.name == "delta")
            .unwrap();
        delta.versions[0].launcher = Some(pandora::registry::index::LauncherRef {
            sha256: held_sha,
            size: held_size,
        });
    });
    let run = sandbox.run(&["install", "--yes", "delta"]);
    run.success();
    // Stored whole (its own launcher kept), it runs and verifies.
    let published = std::fs::read(registry.join("pkgs/delta-1.0.0.psp")).unwrap();
    let blob = sandbox
        .pandora_home()
        .join("blobs")
        .join(pandora::format::metadata::encode_hex(
            &pandora_core::Sha256::of(&published),
        ));
    assert!(
        std::fs::read(&blob).unwrap() == published,
        "delta's blob is whole"
    );
    assert_eq!(sandbox.run(&["run", "delta"]).stdout, "delta\n");
    sandbox.run(&["verify", "--all"]).success();
}

#[test]
fn prune_clears_the_lock_files_a_killed_download_left() {
    let (sandbox, _registry, _server) = registry();
    sandbox.run(&["install", "--yes", "alpha"]).success();
    let blobs = sandbox.pandora_home().join("blobs");
    let stale = [
        blobs.join(format!("{}.lock", "ab".repeat(32))),
        blobs
            .join("launchers")
            .join(format!("{}.lock", "cd".repeat(32))),
    ];
    for lock in &stale {
        std::fs::write(lock, "").unwrap();
    }
    sandbox.run(&["prune", "--yes"]).success();
    for lock in &stale {
        assert!(!lock.exists(), "{} is still there", lock.display());
    }
    assert_eq!(launchers(&sandbox).len(), 1);
    assert_eq!(sandbox.run(&["run", "alpha"]).stdout, "alpha\n");
}

/// `pandora run` of a package not installed fetched the whole file even into a home whose
/// launcher was the package's, and reported the file's size as downloaded.
#[test]
fn run_of_a_package_of_this_release_fetches_only_its_body() {
    let (sandbox, registry, server) = registry();
    let run = sandbox.run(&["run", "alpha"]);
    assert_eq!(run.success().stdout, "alpha\n");
    let launcher = std::fs::metadata(env!("CARGO_BIN_EXE_pandora-launcher"))
        .unwrap()
        .len();
    let asked: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|request| request.path.ends_with(".psp"))
        .collect();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].range.as_deref(),
        Some(&*format!("bytes={launcher}-"))
    );
    let body = std::fs::metadata(registry.join("pkgs/alpha-1.0.0.psp"))
        .unwrap()
        .len()
        - launcher;
    let said = format!("({} downloaded)", pandora_bytes(body));
    assert!(run.stderr.contains(&said), "{said}: {}", run.stderr);
}

/// Sizes as Pandora prints them (B, KiB, MiB with one decimal).
fn pandora_bytes(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}
