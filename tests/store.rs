//! The store: verified, read-only `store/name@version` trees with install records.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use pandora::layout::Layout;
use pandora::store::{Installed, Provenance, RecordedEntry, Store, StoreError};
use support::{package_source, Sandbox, ECHO_SCRIPT};

fn package(sandbox: &Sandbox, name: &str, version: &str, script: &str) -> PathBuf {
    let source = sandbox
        .home()
        .join(format!("src-{name}-{version}-{}", script.len()));
    package_source(
        &source,
        name,
        version,
        Some("bin/run"),
        &[("bin/run", script), ("share/doc/readme", "read me\n")],
    );
    std::os::unix::fs::symlink("run", source.join("files/bin/alias")).unwrap();
    let output = sandbox
        .home()
        .join(format!("{name}-{version}-{}.psp", script.len()));
    sandbox
        .build(&source, &output, "store-tests", &[])
        .success();
    output
}

fn local(path: &Path) -> Provenance {
    Provenance {
        registry: None,
        source: path.display().to_string(),
    }
}

fn install(store: &Store, path: &Path, reinstall: bool) -> Result<Installed, StoreError> {
    let blob = store.add_blob(path)?;
    store.install(&blob, &local(path), reinstall)
}

#[test]
fn install_is_verified_read_only_recorded_and_idempotent() {
    let sandbox = Sandbox::new();
    let layout = Layout::new(sandbox.pandora_home());
    let store = Store::new(&layout);
    let file = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    let Installed::New(record) = install(&store, &file, false).unwrap() else {
        panic!("expected a new install")
    };
    assert_eq!(record.id(), "hello@1.0.0");
    let entry = layout.store_dir().join("hello@1.0.0");
    assert_eq!(
        std::fs::read_to_string(entry.join("bin/run")).unwrap(),
        ECHO_SCRIPT
    );
    assert_eq!(
        std::fs::read_link(entry.join("bin/alias")).unwrap(),
        PathBuf::from("run")
    );
    let mode = |path: &Path| {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&entry.join("bin/run")), 0o555);
    assert_eq!(mode(&entry.join("share/doc/readme")), 0o444);
    assert_eq!(mode(&entry.join("share")), 0o555);
    let paths: Vec<&str> = record.entries.iter().map(RecordedEntry::path).collect();
    assert_eq!(
        paths,
        [
            "bin",
            "bin/alias",
            "bin/run",
            "share",
            "share/doc",
            "share/doc/readme"
        ]
    );
    assert_eq!(record.source, file.display().to_string());
    assert!(store.blob_path(&record.blob).is_file());
    assert_eq!(store.verify(&record).unwrap(), Vec::<String>::new());
    assert_eq!(store.records().unwrap(), vec![record.clone()]);
    assert!(matches!(
        install(&store, &file, false).unwrap(),
        Installed::Already(_)
    ));
    assert_eq!(
        std::fs::read_dir(layout.tmp_dir()).unwrap().count(),
        0,
        "no staging left"
    );
}

#[test]
fn the_same_version_from_other_bytes_is_refused_unless_reinstalled() {
    let sandbox = Sandbox::new();
    let store = Store::new(&Layout::new(sandbox.pandora_home()));
    let first = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    let other = package(&sandbox, "hello", "1.0.0", "#!/bin/sh\necho different\n");
    install(&store, &first, false).unwrap();
    let error = install(&store, &other, false).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error}");
    assert!(error
        .to_string()
        .starts_with("hello@1.0.0 is installed from another package"));
    let entry = store.entry_path("hello@1.0.0");
    assert_eq!(
        std::fs::read_to_string(entry.join("bin/run")).unwrap(),
        ECHO_SCRIPT,
        "unchanged"
    );
    assert!(matches!(
        install(&store, &other, true).unwrap(),
        Installed::New(_)
    ));
    assert_eq!(
        std::fs::read_to_string(entry.join("bin/run")).unwrap(),
        "#!/bin/sh\necho different\n"
    );
}

#[test]
fn verify_reports_every_change_to_an_installed_tree() {
    let sandbox = Sandbox::new();
    let store = Store::new(&Layout::new(sandbox.pandora_home()));
    let file = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    let Installed::New(record) = install(&store, &file, false).unwrap() else {
        panic!()
    };
    let entry = store.entry_path("hello@1.0.0");
    let writable = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    writable(&entry.join("share/doc"), 0o755);
    writable(&entry.join("share/doc/readme"), 0o644);
    std::fs::write(entry.join("share/doc/readme"), "tampered").unwrap();
    std::fs::write(entry.join("share/doc/extra"), "new").unwrap();
    writable(&entry.join("bin"), 0o755);
    std::fs::remove_file(entry.join("bin/alias")).unwrap();
    let mut differences = store.verify(&record).unwrap();
    differences.sort();
    assert_eq!(
        differences,
        [
            "bin/alias: missing",
            "share/doc/extra: not part of the package",
            "share/doc/readme: content changed"
        ]
    );
}

#[test]
fn removal_and_unreferenced_blobs() {
    let sandbox = Sandbox::new();
    let layout = Layout::new(sandbox.pandora_home());
    let store = Store::new(&layout);
    let file = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    let Installed::New(record) = install(&store, &file, false).unwrap() else {
        panic!()
    };
    assert!(store.unreferenced_blobs().unwrap().is_empty());
    store.remove("hello@1.0.0").unwrap();
    assert!(!store.entry_path("hello@1.0.0").exists());
    assert!(store.records().unwrap().is_empty());
    assert_eq!(
        store.unreferenced_blobs().unwrap(),
        [store.blob_path(&record.blob)]
    );
    assert!(matches!(
        store.remove("hello@1.0.0"),
        Err(StoreError::NotInstalled { .. })
    ));
}

#[test]
fn crash_leftovers_are_swept_and_bad_packages_leave_nothing() {
    let sandbox = Sandbox::new();
    let layout = Layout::new(sandbox.pandora_home());
    let store = Store::new(&layout);
    // What a killed install leaves: a read-only half tree in tmp/.
    let leftover = layout.tmp_dir().join("install-crashed/tree/bin");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("half"), "x").unwrap();
    std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o555)).unwrap();
    let file = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    install(&store, &file, false).unwrap();
    assert_eq!(std::fs::read_dir(layout.tmp_dir()).unwrap().count(), 0);

    let mut corrupt = std::fs::read(package(&sandbox, "broken", "1.0.0", ECHO_SCRIPT)).unwrap();
    let at = corrupt.len() - 9000;
    corrupt[at] ^= 1;
    let corrupt_path = sandbox.home().join("corrupt.psp");
    std::fs::write(&corrupt_path, corrupt).unwrap();
    let error = install(&store, &corrupt_path, false).unwrap_err();
    assert!(error.to_string().contains("check `"), "{error}");
    assert!(!store.entry_path("broken@1.0.0").exists());
    assert!(store.record("broken@1.0.0").unwrap().is_none());
    assert_eq!(std::fs::read_dir(layout.tmp_dir()).unwrap().count(), 0);
}

#[test]
fn concurrent_installs_of_one_package_agree() {
    let sandbox = Sandbox::new();
    let layout = Layout::new(sandbox.pandora_home());
    let file = package(&sandbox, "hello", "1.0.0", ECHO_SCRIPT);
    let outcomes: Vec<Installed> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let layout = layout.clone();
                let file = file.clone();
                scope.spawn(move || install(&Store::new(&layout), &file, false).unwrap())
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| matches!(outcome, Installed::New(_)))
            .count(),
        1
    );
    assert_eq!(Store::new(&layout).records().unwrap().len(), 1);
}
