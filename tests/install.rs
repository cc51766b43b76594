//! `pandora install` and friends against a real registry on 127.0.0.1 that misbehaves on demand.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::Path;

use pandora::format::metadata::encode_hex;
use registry_fixtures::server::{Behavior, FixtureServer};
use support::registry::{fixture, index, key};
use support::{package_source, Sandbox, ECHO_SCRIPT};

fn store_entries(sandbox: &Sandbox) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sandbox.pandora_home().join("store"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Flips a byte of `file`'s first slot (its signed metadata still checks out); the new bytes.
fn damage_first_slot(file: &Path) -> Vec<u8> {
    let slot = {
        let package = pandora::format::package::Package::open(file).unwrap();
        package
            .verified(pandora::format::package::Scope::Structure)
            .unwrap()
            .slots[0]
            .descriptor
            .offset as usize
    };
    let mut bytes = std::fs::read(file).unwrap();
    bytes[slot + 10] ^= 1;
    std::fs::write(file, &bytes).unwrap();
    bytes
}

fn tmp_is_clean(sandbox: &Sandbox) -> bool {
    std::fs::read_dir(sandbox.pandora_home().join("tmp"))
        .map(|mut entries| entries.next().is_none())
        .unwrap_or(true)
}

#[test]
fn installs_by_name_with_dependencies_and_reports() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let run = sandbox.run(&["install", "--yes", "hello"]);
    run.success();
    assert_eq!(run.stdout, "libgreet@2.0.0\nhello@1.1.0\n");
    assert!(
        run.stderr
            .contains("Installed 2 package(s), 0 already present; 2 downloaded"),
        "{}",
        run.stderr
    );
    assert_eq!(store_entries(sandbox), ["hello@1.1.0", "libgreet@2.0.0"]);
    let program = sandbox.pandora_home().join("store/hello@1.1.0/bin/hello");
    let output = std::process::Command::new(&program)
        .arg("x")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("arg=[x]"));

    let again = sandbox.run(&["install", "--yes", "hello@1.1.0"]);
    again.success();
    assert!(
        again
            .stderr
            .contains("0 package(s), 2 already present; 0 downloaded"),
        "{}",
        again.stderr
    );
    // `name@version` first, pasteable, columns aligned.
    assert_eq!(
        sandbox.run(&["list"]).stdout,
        "hello@1.1.0     fixtures\nlibgreet@2.0.0  fixtures\n"
    );
    let info = sandbox.run(&["info", "hello"]);
    assert!(
        info.stdout.contains("dependencies libgreet@2.0.0")
            && info
                .stdout
                .contains("installed    hello@1.1.0 from fixtures"),
        "{}",
        info.stdout
    );
    let search = sandbox.run(&["search", "GREET"]);
    assert!(
        search.stdout.starts_with("libgreet@2.0.0  fixtures") && !search.stdout.contains("tool"),
        "{}",
        search.stdout
    );
    // `list --remote` has the same columns as `search`, one line per version.
    let remote = sandbox.run(&["list", "--remote"]).stdout;
    let line = |id: &str| {
        remote
            .lines()
            .find(|line| line.starts_with(id))
            .map(|line| line.split_whitespace().take(2).collect::<Vec<_>>())
    };
    assert_eq!(
        line("tool@1.0.0"),
        Some(vec!["tool@1.0.0", "fixtures"]),
        "{remote}"
    );
    assert_eq!(
        line("libgreet@2.0.0").unwrap(),
        search
            .stdout
            .lines()
            .next()
            .unwrap()
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
    );
    assert!(sandbox
        .run(&["verify", "--all"])
        .stdout
        .contains("ok    every file matches its install record"));
}

#[test]
fn misbehaving_servers_are_survived_or_leave_nothing() {
    for (behavior, succeeds) in [
        (Behavior::FailFirst(1), true),
        (Behavior::TooManyFirst(1), true),
        (Behavior::TruncateFirst(5000), true),
        (Behavior::ResetFirst(5000), true),
        (Behavior::IgnoreRange, true),
        (Behavior::NotFound, false),
        (Behavior::WrongBytes, false),
        (Behavior::TooLong(100), false),
    ] {
        let fixture = fixture();
        let sandbox = &fixture.sandbox;
        fixture
            .server
            .set("/pkgs/libgreet-2.0.0.psp", behavior.clone());
        let run = sandbox.run(&["install", "--yes", "hello"]);
        if succeeds {
            run.success();
            assert_eq!(
                store_entries(sandbox),
                ["hello@1.1.0", "libgreet@2.0.0"],
                "{behavior:?}"
            );
        } else {
            run.failure(1);
            assert!(
                run.stderr
                    .contains("libgreet-2.0.0.psp (registry `fixtures`)"),
                "{behavior:?}: {}",
                run.stderr
            );
            assert!(
                store_entries(sandbox).is_empty(),
                "{behavior:?} left {:?}",
                store_entries(sandbox)
            );
        }
        assert!(tmp_is_clean(sandbox), "{behavior:?}");
    }
}

#[test]
fn untrusted_or_stale_indexes_install_nothing() {
    // A tampered index.
    let fixture = fixture();
    let path = fixture.registry.join("index.acl");
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("The hello package", "hello, trust me"),
    )
    .unwrap();
    let run = fixture.sandbox.run(&["install", "--yes", "hello"]);
    run.failure(1);
    assert!(
        run.stderr.contains("does not match its contents") && run.stderr.contains("hint:"),
        "{}",
        run.stderr
    );
    assert!(store_entries(&fixture.sandbox).is_empty());

    // A registry configured with another key.
    let fixture = self::fixture();
    fixture
        .sandbox
        .run(&["registry", "remove", "fixtures", "--yes"])
        .success();
    fixture
        .sandbox
        .run(&[
            "registry",
            "add",
            "fixtures",
            &fixture.server.url(),
            "--key",
            &key("impostor"),
        ])
        .success();
    let run = fixture.sandbox.run(&["install", "--yes", "hello"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("which is not one of the registry's keys"),
        "{}",
        run.stderr
    );

    // A rollback to an older, validly signed index.
    let fixture = self::fixture();
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(
            fixture.registry.join(name),
            fixture.registry.join(format!("{name}.old")),
        )
        .unwrap();
    }
    index(&fixture.sandbox, &fixture.registry, &[]);
    fixture.sandbox.run(&["search", "hello"]).success();
    for name in ["index.acl", "index.acl.sig"] {
        std::fs::copy(
            fixture.registry.join(format!("{name}.old")),
            fixture.registry.join(name),
        )
        .unwrap();
    }
    let state = std::fs::read_to_string(
        fixture
            .sandbox
            .pandora_home()
            .join("cache/registries/fixtures/state.acl"),
    )
    .unwrap_or_default();
    let served = std::fs::read_to_string(fixture.registry.join("index.acl")).unwrap();
    let run = fixture.sandbox.run(&["install", "--yes", "hello"]);
    assert_eq!(
        run.code,
        1,
        "state:\n{state}\nserved serial: {:?}\n{}",
        served.lines().find(|l| l.contains("serial")),
        run.stderr
    );
    assert!(
        run.stderr.contains("older than serial 2 already seen"),
        "{}",
        run.stderr
    );

    // An expired index.
    let fixture = self::fixture();
    support::registry::expire(&fixture.registry, "registry");
    let run = fixture.sandbox.run(&["install", "--yes", "hello"]);
    run.failure(1);
    assert!(
        run.stderr.contains("the index expired at"),
        "{}",
        run.stderr
    );
    assert!(store_entries(&fixture.sandbox).is_empty());
}

#[test]
fn resolution_errors_say_what_to_run() {
    let fixture = fixture();
    let run = fixture.sandbox.run(&["install", "--yes", "tool"]);
    run.failure(1);
    assert!(
        run.stderr.contains(
            "error: libgreet@9.9.9 is not in any configured registry (needed by tool@1.0.0)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: available versions of libgreet: 2.0.0"),
        "{}",
        run.stderr
    );
    let run = fixture
        .sandbox
        .run(&["install", "--yes", "nothing-like-it"]);
    assert!(
        run.stderr.contains("pandora registry add NAME URL"),
        "{}",
        run.stderr
    );
    assert!(store_entries(&fixture.sandbox).is_empty());
}

#[test]
fn remove_prune_and_verify() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let refused = sandbox.run(&["remove", "libgreet@2.0.0", "--yes"]);
    refused.failure(1);
    assert!(
        refused
            .stderr
            .contains("libgreet@2.0.0 is needed by hello@1.1.0"),
        "{}",
        refused.stderr
    );
    sandbox
        .run(&["remove", "hello@1.1.0", "libgreet@2.0.0"])
        .failure(3);
    sandbox
        .run(&["remove", "hello@1.1.0", "libgreet@2.0.0", "--yes"])
        .success();
    assert!(store_entries(sandbox).is_empty());
    let dry = sandbox.run(&["prune", "--dry-run"]);
    assert_eq!(
        dry.stdout
            .lines()
            .filter(|line| line.contains("/blobs/") && !line.contains("/launchers/"))
            .count(),
        2,
        "{}",
        dry.stdout
    );
    assert_eq!(
        sandbox.run(&["prune", "--dry-run"]).stdout,
        dry.stdout,
        "a dry run deletes nothing"
    );
    // What a crash between the record and the rename leaves: an entry without a record.
    let orphan = sandbox.pandora_home().join("store/ghost@1.0.0/bin");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("x"), "x").unwrap();
    assert!(sandbox
        .run(&["prune", "--dry-run"])
        .stdout
        .contains("store/ghost@1.0.0"));
    sandbox.run(&["prune"]).success();
    assert_eq!(sandbox.run(&["prune", "--dry-run"]).stdout, "");
    assert!(!sandbox.pandora_home().join("store/ghost@1.0.0").exists());

    sandbox.run(&["install", "--yes", "hello"]).success();
    let file = sandbox.pandora_home().join("store/hello@1.1.0/bin/hello");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(&file, "#!/bin/sh\necho pwned\n").unwrap();
    let verify = sandbox.run(&["verify", "hello@1.1.0"]);
    verify.failure(1);
    assert!(
        verify.stdout.contains("FAIL  bin/hello: content changed"),
        "{}",
        verify.stdout
    );
}

#[test]
fn local_files_offline_and_require_signatures() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    // A local file's dependencies come from the registries.
    let local = fixture.registry.join("pkgs/hello-1.1.0.psp");
    let run = sandbox.run(&["install", "--yes", local.to_str().unwrap()]);
    run.success();
    assert_eq!(store_entries(sandbox), ["hello@1.1.0", "libgreet@2.0.0"]);
    // Offline, the cached index is enough.
    sandbox.run(&["remove", "hello@1.1.0", "--yes"]).success();
    drop(fixture.server);
    sandbox
        .run(&["install", "--yes", "--offline", "hello"])
        .success();

    // A package signed by a key the registry does not list.
    let fixture = self::fixture();
    let sandbox = &fixture.sandbox;
    let source = sandbox.home().join("rogue");
    package_source(
        &source,
        "rogue",
        "1.0.0",
        Some("bin/run"),
        &[("bin/run", ECHO_SCRIPT)],
    );
    sandbox
        .build(
            &source,
            &fixture.registry.join("pkgs/rogue-1.0.0.psp"),
            "someone-else",
            &[],
        )
        .success();
    index(sandbox, &fixture.registry, &[]);
    let run = sandbox.run(&["install", "--yes", "rogue"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("which registry `fixtures` does not trust (require_signatures)"),
        "{}",
        run.stderr
    );
    assert!(store_entries(sandbox).is_empty());
}

#[test]
fn the_bundled_fixture_registry_installs_and_runs() {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("fixtures");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-fixtures/build-registry.sh");
    let status = std::process::Command::new("bash")
        .arg(&script)
        .arg(&registry)
        .arg(env!("CARGO_BIN_EXE_pandora"))
        .status()
        .unwrap();
    assert!(status.success());
    let signature = std::fs::read_to_string(registry.join("index.acl.sig")).unwrap();
    let (key, _) = pandora::registry::index::parse_signature_file("sig", &signature).unwrap();
    let server = FixtureServer::start(&registry).unwrap();
    sandbox
        .run(&[
            "registry",
            "add",
            "fixtures",
            &server.url(),
            "--key",
            &format!("ed25519:{}", encode_hex(&key)),
            "--require-signatures",
        ])
        .success();
    assert_eq!(
        sandbox.run(&["install", "--yes", "hello", "banner"]).stdout,
        "libgreet@2.0.0\nhello@1.1.0\nbanner@1.0.0\n"
    );
    let output =
        std::process::Command::new(sandbox.pandora_home().join("store/hello@1.1.0/bin/hello"))
            .output()
            .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "Hello from hello!\nThis package was verified and installed by Pandora.\n"
    );
}

#[test]
fn an_install_lands_whole_or_not_at_all() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    sandbox
        .run(&["remove", "hello@1.1.0", "libgreet@2.0.0", "--yes"])
        .success();
    // The registry serves a hello (staged after libgreet) whose slot bytes are damaged, under a
    // signed index that lists exactly those bytes, as a broken publisher would: the download
    // checks out, libgreet stages fine, hello fails while its slots are hashed, and neither may
    // land. (A damaged blob in the local cache is fetched again instead: blob_concurrency.rs.)
    let index_path = fixture.registry.join("index.acl");
    let mut index = pandora::registry::index::RegistryIndex::parse(
        "index.acl",
        &std::fs::read_to_string(&index_path).unwrap(),
    )
    .unwrap();
    let file = fixture.registry.join("pkgs/hello-1.1.0.psp");
    let bytes = damage_first_slot(&file);
    let hello = index
        .packages
        .iter_mut()
        .find(|package| package.name == "hello")
        .unwrap();
    hello.versions[0].sha256 = pandora_core::Sha256::of(&bytes);
    let text = index.to_acl();
    let registry_key = pandora::format::signing::SigningKey::from_seed("registry");
    std::fs::write(&index_path, &text).unwrap();
    std::fs::write(
        fixture.registry.join("index.acl.sig"),
        pandora::registry::index::signature_file(
            &registry_key.public_key(),
            &registry_key.sign(text.as_bytes()),
        ),
    )
    .unwrap();
    let run = sandbox.run(&["install", "--yes", "hello"]);
    run.failure(1);
    assert!(run.stderr.contains("sha256"), "{}", run.stderr);
    assert!(
        store_entries(sandbox).is_empty(),
        "{:?}",
        store_entries(sandbox)
    );
    assert!(tmp_is_clean(sandbox));
    assert!(sandbox.run(&["list"]).stdout.is_empty());
}

#[test]
fn packages_staged_side_by_side_land_together_or_not_at_all() {
    let sandbox = Sandbox::new();
    let files: Vec<_> = (0..6)
        .map(|n| support::local_package(&sandbox, &format!("side{n}"), "1.0.0", &[]))
        .collect();
    // The fourth file's first slot damaged: its signed metadata still checks out, so the
    // failure comes while its tree is made, beside the others'.
    let damaged = &files[3];
    damage_first_slot(damaged);
    let paths: Vec<&str> = files.iter().map(|file| file.to_str().unwrap()).collect();
    let run = sandbox.run(&[&["install", "--yes"][..], &paths].concat());
    run.failure(1);
    assert!(run.stderr.contains("side3"), "{}", run.stderr);
    assert!(
        store_entries(&sandbox).is_empty(),
        "{:?}",
        store_entries(&sandbox)
    );
    assert!(tmp_is_clean(&sandbox));
    // Without it, the other five land, each with its own tree and entry point.
    let good: Vec<&str> = paths
        .iter()
        .enumerate()
        .filter(|(n, _)| *n != 3)
        .map(|(_, path)| *path)
        .collect();
    sandbox
        .run(&[&["install", "--yes"][..], &good].concat())
        .success();
    assert_eq!(
        store_entries(&sandbox),
        [
            "side0@1.0.0",
            "side1@1.0.0",
            "side2@1.0.0",
            "side4@1.0.0",
            "side5@1.0.0"
        ]
    );
    for n in [0, 1, 2, 4, 5] {
        let name = format!("side{n}");
        let run = sandbox.run(&["run", &name]);
        run.success();
    }
    assert!(tmp_is_clean(&sandbox));
}

/// Two builds of `dup@1.0.0` that print which one they are.
fn two_builds(sandbox: &Sandbox) -> (std::path::PathBuf, std::path::PathBuf) {
    let build = |which: &str| {
        let path = sandbox.home().join(format!("dup-{which}.psp"));
        support::publish(
            sandbox,
            &path,
            "dup",
            "1.0.0",
            &[],
            &format!("#!/bin/sh\necho build-{which}\n"),
            "publisher",
        );
        path
    };
    (build("a"), build("b"))
}

#[test]
fn one_version_given_twice_from_different_bytes_is_refused() {
    let sandbox = Sandbox::new();
    let (a, b) = two_builds(&sandbox);
    let run = sandbox.run(&["install", "--yes", a.to_str().unwrap(), b.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stderr.contains("dup@1.0.0 is given twice"),
        "{}",
        run.stderr
    );
    assert!(store_entries(&sandbox).is_empty());
    assert!(tmp_is_clean(&sandbox));
    // The same file twice is one package.
    sandbox
        .run(&["install", "--yes", a.to_str().unwrap(), a.to_str().unwrap()])
        .success();
    assert_eq!(store_entries(&sandbox), ["dup@1.0.0"]);
}

#[test]
fn a_reinstall_from_other_bytes_makes_a_generation_whose_lockfile_pins_them() {
    let sandbox = Sandbox::new();
    let (a, b) = two_builds(&sandbox);
    sandbox
        .run(&["install", "--yes", a.to_str().unwrap()])
        .success();
    let sha = |path: &Path| encode_hex(&pandora_core::Sha256::of(std::fs::read(path).unwrap()));
    let lockfile = sandbox.pandora_home().join("manifests/default.lock");
    assert!(std::fs::read_to_string(&lockfile)
        .unwrap()
        .contains(&sha(&a)));
    sandbox
        .run(&["install", "--yes", "--reinstall", b.to_str().unwrap()])
        .success();
    let locked = std::fs::read_to_string(&lockfile).unwrap();
    assert!(locked.contains(&sha(&b)), "{locked}");
    assert!(!locked.contains(&sha(&a)), "{locked}");
    assert_eq!(sandbox.run(&["run", "dup"]).stdout, "build-b\n");
    // Every profile holding it is rebuilt, not only the active one; one that does not hold it
    // is left alone.
    sandbox.run(&["profile", "create", "other"]).success();
    sandbox.run(&["profile", "switch", "other"]).success();
    sandbox
        .run(&["install", "--yes", a.to_str().unwrap(), "--reinstall"])
        .success();
    sandbox.run(&["profile", "create", "empty"]).success();
    let run = sandbox.run(&[
        "install",
        "--yes",
        "--no-activate",
        "--reinstall",
        b.to_str().unwrap(),
    ]);
    run.success();
    assert!(run.stderr.contains("default generation"), "{}", run.stderr);
    assert!(run.stderr.contains("other generation"), "{}", run.stderr);
    assert!(!run.stderr.contains("empty"), "{}", run.stderr);
    for profile in ["default", "other"] {
        let locked = std::fs::read_to_string(
            sandbox
                .pandora_home()
                .join(format!("manifests/{profile}.lock")),
        )
        .unwrap();
        assert!(locked.contains(&sha(&b)), "{profile}: {locked}");
    }
    sandbox.run(&["profile", "switch", "default"]).success();
    sandbox.run(&["doctor"]).success();
    let locked = std::fs::read_to_string(&lockfile).unwrap();
    // And a copy of it syncs to what runs.
    let copy = sandbox.home().join("team.lock");
    std::fs::write(&copy, &locked).unwrap();
    sandbox
        .run(&["sync", "--yes", "--lockfile", copy.to_str().unwrap()])
        .success();
}

#[test]
fn info_says_when_the_installed_bytes_are_not_the_registrys() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let info = sandbox.run(&["info", "hello"]);
    info.success();
    assert!(info.stdout.contains("its sha256"), "{}", info.stdout);
    assert!(!info.stdout.contains("not the bytes"), "{}", info.stdout);
    let other = sandbox.home().join("hello-other.psp");
    support::publish(
        sandbox,
        &other,
        "hello",
        "1.1.0",
        &[],
        "#!/bin/sh\necho other\n",
        "publisher",
    );
    sandbox
        .run(&["install", "--yes", "--reinstall", other.to_str().unwrap()])
        .success();
    let info = sandbox.run(&["info", "hello"]);
    info.success();
    let installed = encode_hex(&pandora_core::Sha256::of(std::fs::read(&other).unwrap()));
    assert!(
        info.stdout.contains(&format!(
            "{installed} (not the bytes the registry offers for this version)"
        )),
        "{}",
        info.stdout
    );
}
