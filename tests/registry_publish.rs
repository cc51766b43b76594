//! `pandora publish`, `yank`, `deprecate` and `registry gc` against a directory served over
//! HTTP by the fixture server, and `registry index` refusing to change a published version.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use registry_fixtures::server::FixtureServer;
use support::registry::{key, publish as build_into};
use support::{local_package, read, Sandbox, ECHO_SCRIPT};

/// A registry directory served on 127.0.0.1, configured as `pub` with publishing allowed into
/// the same directory (keys: `registry` signs the index, `publisher` the packages).
struct Served {
    sandbox: Sandbox,
    directory: PathBuf,
    _server: FixtureServer,
}

fn served() -> Served {
    let sandbox = Sandbox::new();
    let directory = sandbox.home().join("registry");
    std::fs::create_dir_all(&directory).unwrap();
    let server = FixtureServer::start(&directory).unwrap();
    add_registry(&sandbox, &server.url());
    sandbox
        .run(&[
            "registry",
            "set",
            "pub",
            "--allow-publish",
            "--publish-url",
            directory.to_str().unwrap(),
        ])
        .success();
    Served {
        sandbox,
        directory,
        _server: server,
    }
}

fn add_registry(sandbox: &Sandbox, url: &str) {
    sandbox
        .run(&[
            "registry",
            "add",
            "pub",
            url,
            "--key",
            &key("registry"),
            "--key",
            &key("publisher"),
            "--require-signatures",
            "--cache-ttl",
            "0",
        ])
        .success();
}

fn publish(sandbox: &Sandbox, files: &[&Path]) -> support::Run {
    let mut args = vec!["publish", "--registry", "pub", "--key-seed", "registry"];
    args.extend(files.iter().map(|file| file.to_str().unwrap()));
    sandbox.run(&args)
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    pandora::format::metadata::encode_hex(&sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn publish_stores_by_hash_signs_the_index_and_installs_over_http() {
    let served = served();
    let sandbox = &served.sandbox;
    let lib = local_package(sandbox, "libgreet", "2.0.0", &[]);
    let app = local_package(sandbox, "hello", "1.1.0", &["libgreet@2.0.0"]);
    let log = sandbox.home().join("events.log");
    let mut args = vec![
        "publish",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
        "--log",
    ];
    args.extend([
        log.to_str().unwrap(),
        lib.to_str().unwrap(),
        app.to_str().unwrap(),
    ]);
    let run = sandbox.run(&args);
    run.success();
    let events = read(&log);
    assert!(
        events.contains(&format!(
            " publish registry=pub id=hello@1.1.0 sha256={} status=added serial=1\n",
            sha256(&app)
        )),
        "{events}"
    );
    assert!(
        run.stderr.contains("Published libgreet@2.0.0 (uploaded"),
        "{}",
        run.stderr
    );
    let blob = format!("blobs/sha256/{}.psp", sha256(&app));
    assert!(
        run.stdout.contains(&format!("hello@1.1.0\t{blob}")),
        "{}",
        run.stdout
    );
    assert_eq!(
        std::fs::read(served.directory.join(&blob)).unwrap(),
        std::fs::read(&app).unwrap()
    );
    let index = read(&served.directory.join("index.acl"));
    assert!(index.contains(&format!("pkg_url = \"{blob}\"")), "{index}");
    assert!(index.contains("serial = 1;"), "{index}");
    // No dot-files (lock, temporaries) are left where they would be served.
    let hidden: Vec<_> = support::files_under(&served.directory)
        .into_iter()
        .filter(|path| path.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
    // The browsable page is published with the index, and the publish is local activity.
    let page = read(&served.directory.join("index-data.json"));
    assert!(page.contains("\"hello\""), "{page}");
    assert!(served.directory.join("index.html").is_file());
    let metrics = sandbox.run(&["metrics"]);
    metrics.success();
    assert!(
        metrics
            .stdout
            .lines()
            .any(|line| line.starts_with("publishes") && line.trim_end().ends_with(" 2")),
        "{}",
        metrics.stdout
    );

    sandbox.run(&["install", "--yes", "hello"]).success();
    let hello = sandbox.run(&["run", "hello"]);
    hello.success();

    // The same bytes again: nothing changes, not even the serial.
    let again = publish(sandbox, &[&app]);
    again.success();
    assert!(
        again.stderr.contains("Unchanged hello@1.1.0"),
        "{}",
        again.stderr
    );
    assert!(read(&served.directory.join("index.acl")).contains("serial = 1;"));

    // A stored copy damaged in place (same size) is stored again by a rerun.
    let stored = served.directory.join(&blob);
    let mut damaged = std::fs::read(&stored).unwrap();
    let last = damaged.len() - 100;
    damaged[last] ^= 0xff;
    std::fs::write(&stored, &damaged).unwrap();
    publish(sandbox, &[&app]).success();
    assert_eq!(
        std::fs::read(&stored).unwrap(),
        std::fs::read(&app).unwrap()
    );

    // Other bytes under a published name and version: refused, naming both hashes.
    let other = sandbox.home().join("other/hello-1.1.0.psp");
    std::fs::create_dir_all(other.parent().unwrap()).unwrap();
    support::publish(
        sandbox,
        &other,
        "hello",
        "1.1.0",
        &[],
        "#!/bin/sh\necho changed\n",
        "publisher",
    );
    // With a new package beside it: nothing at all is stored.
    let fresh = local_package(sandbox, "fresh", "1.0.0", &[]);
    let refused = publish(sandbox, &[&fresh, &other]);
    refused.failure(1);
    assert!(refused.stderr.contains(&sha256(&app)), "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&sha256(&other)),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("hint: a published version never changes"),
        "{}",
        refused.stderr
    );
    assert!(!served
        .directory
        .join(format!("blobs/sha256/{}.psp", sha256(&other)))
        .exists());
    assert!(!served
        .directory
        .join(format!("blobs/sha256/{}.psp", sha256(&fresh)))
        .exists());
    assert_eq!(index, read(&served.directory.join("index.acl")));
}

#[test]
fn publishing_is_refused_without_permission_or_with_a_key_the_registry_does_not_trust() {
    let sandbox = Sandbox::new();
    let directory = sandbox.home().join("registry");
    std::fs::create_dir_all(&directory).unwrap();
    add_registry(&sandbox, directory.to_str().unwrap());
    let app = local_package(&sandbox, "hello", "1.0.0", &[]);
    let refused = publish(&sandbox, &[&app]);
    refused.failure(1);
    assert!(
        refused
            .stderr
            .contains("registry `pub` does not allow publishing"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("--allow-publish --publish-url"),
        "{}",
        refused.stderr
    );

    sandbox
        .run(&[
            "registry",
            "set",
            "pub",
            "--allow-publish",
            "--publish-url",
            &format!("file://{}", directory.display()),
        ])
        .success();
    let config = read(&sandbox.registries_file());
    assert!(config.contains("bool allow_publish = true;"), "{config}");
    let wrong = sandbox.run(&[
        "publish",
        "--registry",
        "pub",
        "--key-seed",
        "stranger",
        app.to_str().unwrap(),
    ]);
    wrong.failure(1);
    assert!(
        wrong.stderr.contains("does not trust the signing key"),
        "{}",
        wrong.stderr
    );
    assert!(
        wrong.stderr.contains("nothing was written"),
        "{}",
        wrong.stderr
    );
    assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 0);

    // A package its clients would refuse (signed by a key the registry does not trust).
    let stranger = sandbox.home().join("stranger.psp");
    support::publish(
        &sandbox,
        &stranger,
        "stray",
        "1.0.0",
        &[],
        ECHO_SCRIPT,
        "stranger",
    );
    let untrusted = publish(&sandbox, &[&stranger]);
    untrusted.failure(1);
    assert!(
        untrusted
            .stderr
            .contains("which registry `pub` does not trust"),
        "{}",
        untrusted.stderr
    );
    assert_eq!(std::fs::read_dir(&directory).unwrap().count(), 0);

    // Allowing needs a place to write.
    let no_url = sandbox.run(&["registry", "set", "pub", "--no-publish-url"]);
    no_url.failure(1);
}

#[test]
fn yanked_versions_are_hidden_from_new_installs_but_a_lockfile_still_installs_them() {
    let served = served();
    let sandbox = &served.sandbox;
    let old = local_package(sandbox, "hello", "1.0.0", &[]);
    let new = local_package(sandbox, "hello", "1.1.0", &[]);
    publish(sandbox, &[&old, &new]).success();
    sandbox.run(&["install", "--yes", "hello@1.1.0"]).success();
    let lockfile = sandbox.pandora_home().join("manifests/default.lock");
    let exported = sandbox.home().join("exported.lock");
    std::fs::copy(&lockfile, &exported).unwrap();

    let bare = sandbox.run(&[
        "yank",
        "hello",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
    ]);
    bare.failure(1);
    assert!(
        bare.stderr.contains("names no exact version")
            && bare.stderr.contains("pandora info hello"),
        "{}",
        bare.stderr
    );
    let yank = sandbox.run(&[
        "yank",
        "hello@1.1.0",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
    ]);
    yank.success();
    assert!(yank.stderr.contains("serial 2"), "{}", yank.stderr);
    let info = sandbox.run(&["info", "hello@1.1.0"]);
    assert!(info.stdout.contains("1.1.0 (yanked)"), "{}", info.stdout);

    let elsewhere = Sandbox::new();
    add_registry(&elsewhere, &read_url(sandbox));
    let latest = elsewhere.run(&["install", "--yes", "hello"]);
    latest.success();
    assert!(latest.stderr.contains("hello@1.0.0"), "{}", latest.stderr);
    let pinned = elsewhere.run(&["install", "--yes", "hello@1.1.0"]);
    pinned.failure(1);
    assert!(
        pinned.stderr.contains("was yanked by its publisher"),
        "{}",
        pinned.stderr
    );
    let third = Sandbox::new();
    add_registry(&third, &read_url(sandbox));
    let synced = third.run(&["sync", "--lockfile", exported.to_str().unwrap()]);
    synced.success();
    assert!(
        synced.stderr.contains(
            "hello@1.1.0 (registry `pub`) was yanked by its publisher; the lockfile pins it"
        ),
        "{}",
        synced.stderr
    );

    sandbox
        .run(&[
            "yank",
            "hello@1.1.0",
            "--undo",
            "--registry",
            "pub",
            "--key-seed",
            "registry",
        ])
        .success();
    elsewhere
        .run(&["install", "--yes", "hello@1.1.0"])
        .success();
    let unknown = sandbox.run(&[
        "yank",
        "hello@9.0.0",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
    ]);
    unknown.failure(1);
    assert!(
        unknown.stderr.contains("hello@9.0.0 is not in the index"),
        "{}",
        unknown.stderr
    );
}

/// The registry URL `pub` is configured with in `sandbox`.
fn read_url(sandbox: &Sandbox) -> String {
    let config = read(&sandbox.registries_file());
    let start = config.find("url = \"").unwrap() + 7;
    config[start..start + config[start..].find('"').unwrap()].to_string()
}

#[test]
fn deprecation_messages_are_the_warning_on_install_and_activate() {
    let served = served();
    let sandbox = &served.sandbox;
    let app = local_package(sandbox, "hello", "1.0.0", &[]);
    publish(sandbox, &[&app]).success();
    sandbox
        .run(&[
            "deprecate",
            "hello",
            "--message",
            "use greeter instead",
            "--registry",
            "pub",
            "--key-seed",
            "registry",
        ])
        .success();
    // A message that would forge a line of output is refused.
    let forged = sandbox.run(&[
        "deprecate",
        "hello",
        "--message",
        "x\nerror: fake",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
    ]);
    forged.failure(1);
    assert!(
        forged.stderr.contains("control characters"),
        "{}",
        forged.stderr
    );
    let installed = sandbox.run(&["install", "--yes", "hello"]);
    installed.success();
    assert!(
        installed
            .stderr
            .contains("warning: hello@1.0.0 (registry `pub`) is deprecated (use greeter instead)"),
        "{}",
        installed.stderr
    );
    sandbox.run(&["deactivate", "hello"]).success();
    let activated = sandbox.run(&["activate", "hello"]);
    assert!(
        activated.stderr.contains("(use greeter instead)"),
        "{}",
        activated.stderr
    );
    // Re-indexing the directory keeps what the publisher set.
    sandbox
        .run(&[
            "registry",
            "index",
            served.directory.to_str().unwrap(),
            "--key-seed",
            "registry",
        ])
        .success();
    assert!(
        read(&served.directory.join("index.acl")).contains("deprecation = \"use greeter instead\"")
    );
    sandbox
        .run(&[
            "deprecate",
            "hello@1.0.0",
            "--undo",
            "--registry",
            "pub",
            "--key-seed",
            "registry",
        ])
        .success();
    assert!(!read(&served.directory.join("index.acl")).contains("deprecation ="));
}

#[test]
fn registry_index_refuses_a_published_version_replaced_in_place() {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    build_into(&sandbox, &registry, "hello", "1.0.0", &[], ECHO_SCRIPT);
    support::registry::index(&sandbox, &registry, &[]);
    let file = registry.join("pkgs/hello-1.0.0.psp");
    let before = sha256(&file);
    let index = read(&registry.join("index.acl"));
    support::publish(
        &sandbox,
        &file,
        "hello",
        "1.0.0",
        &[],
        "#!/bin/sh\necho other\n",
        "publisher",
    );
    let run = sandbox.run(&[
        "registry",
        "index",
        registry.to_str().unwrap(),
        "--key-seed",
        "registry",
    ]);
    run.failure(1);
    assert!(
        run.stderr.contains(&before) && run.stderr.contains(&sha256(&file)),
        "{}",
        run.stderr
    );
    assert_eq!(index, read(&registry.join("index.acl")));
}

#[test]
fn a_half_written_update_is_repaired_by_the_next_run_and_gc_removes_orphans() {
    let served = served();
    let sandbox = &served.sandbox;
    let first = local_package(sandbox, "first", "1.0.0", &[]);
    let second = local_package(sandbox, "second", "1.0.0", &[]);
    publish(sandbox, &[&first]).success();
    let old_signature = std::fs::read(served.directory.join("index.acl.sig")).unwrap();
    publish(sandbox, &[&second]).success();
    // A publisher killed between writing index.acl and index.acl.sig: clients refuse the pair.
    std::fs::write(served.directory.join("index.acl.sig"), &old_signature).unwrap();
    let broken = sandbox.run(&["install", "--yes", "second"]);
    assert_ne!(broken.code, 0, "{}", broken.stderr);
    // The rerun finds its version published and puts the right signature back.
    let rerun = publish(sandbox, &[&second]);
    rerun.success();
    sandbox.run(&["install", "--yes", "second"]).success();

    // A blob without an index entry (uploaded, then the index update failed) is garbage.
    let orphan = served
        .directory
        .join(format!("blobs/sha256/{}.psp", "ab".repeat(32)));
    std::fs::write(&orphan, b"orphan").unwrap();
    let dry = sandbox.run(&[
        "registry",
        "gc",
        "--registry",
        "pub",
        "--grace",
        "0",
        "--dry-run",
    ]);
    dry.success();
    assert!(dry.stdout.contains(&"ab".repeat(32)), "{}", dry.stdout);
    assert!(orphan.exists());
    let kept = sandbox.run(&["registry", "gc", "--registry", "pub"]);
    kept.success();
    assert!(
        kept.stderr.contains("younger than 3600 s"),
        "{}",
        kept.stderr
    );
    let unconfirmed = sandbox.run(&["registry", "gc", "--registry", "pub", "--grace", "0"]);
    assert_ne!(unconfirmed.code, 0);
    assert!(orphan.exists());
    sandbox
        .run(&[
            "registry",
            "gc",
            "--registry",
            "pub",
            "--grace",
            "0",
            "--yes",
        ])
        .success();
    assert!(!orphan.exists());
    sandbox.run(&["install", "--yes", "first"]).success();

    // A stored file cut short under a package's hash (a damaged copy) is replaced, not trusted.
    let third = local_package(sandbox, "third", "1.0.0", &[]);
    let blob = served
        .directory
        .join(format!("blobs/sha256/{}.psp", sha256(&third)));
    std::fs::write(&blob, &std::fs::read(&third).unwrap()[..100]).unwrap();
    let run = publish(sandbox, &[&third]);
    run.success();
    assert!(run.stderr.contains("(uploaded"), "{}", run.stderr);
    assert_eq!(sha256(&blob), sha256(&third));
    sandbox.run(&["install", "--yes", "third"]).success();
}

#[test]
fn eight_concurrent_publishers_to_a_directory_lose_nothing() {
    let served = served();
    let sandbox = &served.sandbox;
    let files: Vec<PathBuf> = (0..8)
        .map(|n| local_package(sandbox, &format!("pkg{n}"), "1.0.0", &[]))
        .collect();
    let children: Vec<_> = files
        .iter()
        .map(|file| {
            sandbox
                .command(&[
                    "publish",
                    "--registry",
                    "pub",
                    "--key-seed",
                    "registry",
                    file.to_str().unwrap(),
                ])
                .stdout(std::process::Stdio::piped())
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
    let index = read(&served.directory.join("index.acl"));
    assert!(index.contains("serial = 8;"), "{index}");
    for n in 0..8 {
        assert!(index.contains(&format!("Package \"pkg{n}\"")), "{index}");
    }
    sandbox.run(&["install", "--yes", "pkg0", "pkg7"]).success();
}

#[test]
fn a_lost_or_rolled_back_index_is_never_built_on() {
    let served = served();
    let sandbox = &served.sandbox;
    let a = local_package(sandbox, "alpha", "1.0.0", &[]);
    let b = local_package(sandbox, "beta", "1.0.0", &[]);
    let c = local_package(sandbox, "gamma", "1.0.0", &[]);
    publish(sandbox, &[&a]).success();
    let index = served.directory.join("index.acl");
    let signature = served.directory.join("index.acl.sig");
    let (first, first_signature) = (read(&index), read(&signature));
    publish(sandbox, &[&b]).success();
    let second = read(&index);
    assert!(second.contains("serial = 2;"), "{second}");

    // Rolled back to serial 1 by the storage: building on it would drop beta.
    std::fs::write(&index, &first).unwrap();
    std::fs::write(&signature, &first_signature).unwrap();
    let refused = publish(sandbox, &[&c]);
    refused.failure(1);
    assert!(
        refused
            .stderr
            .contains("has serial 1, older than serial 2 seen here"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was written"),
        "{}",
        refused.stderr
    );
    assert_eq!(read(&index), first);

    // Lost altogether: not started afresh over the packages published.
    std::fs::remove_file(&index).unwrap();
    std::fs::remove_file(&signature).unwrap();
    let refused = publish(sandbox, &[&c]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("no index at") && refused.stderr.contains("serial 2 was seen here"),
        "{}",
        refused.stderr
    );
    assert!(!index.exists());
}

#[test]
fn publishing_leaves_an_operators_own_index_html_alone() {
    let served = served();
    let sandbox = &served.sandbox;
    let a = local_package(sandbox, "alpha", "1.0.0", &[]);
    let b = local_package(sandbox, "beta", "1.0.0", &[]);
    publish(sandbox, &[&a]).success();
    let page = served.directory.join("index.html");
    assert!(read(&page).contains("generator"), "Pandora's page first");
    std::fs::write(&page, "<h1>our landing page</h1>\n").unwrap();
    publish(sandbox, &[&b]).success();
    assert_eq!(read(&page), "<h1>our landing page</h1>\n");
    let data = read(&served.directory.join("index-data.json"));
    assert!(
        !data.contains("\"beta\""),
        "the page's data is left as it was: {data}"
    );
}

#[test]
fn gc_keeps_every_platforms_file_of_a_version() {
    let served = served();
    let sandbox = &served.sandbox;
    let blobs = served.directory.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for arch in ["linux_x86_64", "linux_aarch64"] {
        let source = sandbox.home().join(format!("src-{arch}"));
        support::package_source(
            &source,
            "app",
            "2.0.0",
            Some("bin/app"),
            &[("bin/app", ECHO_SCRIPT)],
        );
        let manifest = source.join("manifest.acl");
        let text = read(&manifest).replacen(
            "manifest {",
            &format!("manifest {{\n    string arch = \"{arch}\";"),
            1,
        );
        std::fs::write(&manifest, text).unwrap();
        let built = sandbox.home().join(format!("app-{arch}.psp"));
        sandbox.build(&source, &built, "publisher", &[]).success();
        std::fs::copy(&built, blobs.join(format!("{}.psp", sha256(&built)))).unwrap();
    }
    sandbox
        .run(&[
            "registry",
            "index",
            served.directory.to_str().unwrap(),
            "--key-seed",
            "registry",
        ])
        .success();
    assert_eq!(
        read(&served.directory.join("index.acl"))
            .matches("File \"")
            .count(),
        2
    );
    let gc = sandbox.run(&[
        "registry",
        "gc",
        "--registry",
        "pub",
        "--grace",
        "0",
        "--yes",
    ]);
    gc.success();
    assert_eq!(
        std::fs::read_dir(&blobs).unwrap().count(),
        2,
        "{}",
        gc.stderr
    );
    sandbox.run(&["install", "--yes", "app@2.0.0"]).success();
}
