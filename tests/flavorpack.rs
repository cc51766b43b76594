//! Interoperability with FlavorPack 0.5.4's real builders and launchers (installed from PyPI
//! on first use): each tool's packages verify, unpack and run under the other's launcher.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{flavorpack, package_source, tree, Sandbox, ECHO_SCRIPT};

const SCRIPT: &str = "#!/bin/sh\necho \"hello from $FLAVOR_COMMAND_NAME\"\nfor arg in \"$@\"; do echo \"arg=[$arg]\"; done\ncat \"$FLAVOR_WORKENV/data/raw.txt\" 2>/dev/null\nexit ${EXIT_WITH:-0}\n";

/// The slots a FlavorPack package can carry: a tgz, a plain tar, a raw file and a gzipped file.
fn flavorpack_sources(directory: &Path) -> serde_json::Value {
    let tree_root = directory.join("tree");
    std::fs::create_dir_all(tree_root.join("bin")).unwrap();
    std::fs::create_dir_all(tree_root.join("share/doc")).unwrap();
    std::fs::write(tree_root.join("bin/hello"), SCRIPT).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        tree_root.join("bin/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(tree_root.join("share/doc/readme"), "docs\n").unwrap();
    let tar = |args: &[&str]| {
        assert!(Command::new("tar")
            .args(args)
            .current_dir(directory)
            .status()
            .unwrap()
            .success());
    };
    tar(&["czf", "payload.tgz", "-C", "tree", "bin"]);
    tar(&["cf", "docs.tar", "-C", "tree", "share"]);
    std::fs::write(directory.join("raw.txt"), "raw slot\n").unwrap();
    std::fs::write(directory.join("single.txt"), "gzipped slot\n").unwrap();
    assert!(Command::new("gzip")
        .args(["-k", "-n", "single.txt"])
        .current_dir(directory)
        .status()
        .unwrap()
        .success());
    serde_json::json!({
        "package": {"name": "fphello", "version": "2.0.0", "description": "built by FlavorPack"},
        "execution": {"command": "{workenv}/bin/hello --from-fp", "env": {"GREETING": "hi"}},
        "slots": [
            {"id": "payload", "source": directory.join("payload.tgz"), "operations": "tgz", "purpose": "payload", "lifecycle": "runtime", "target": "{workenv}"},
            {"id": "docs", "source": directory.join("docs.tar"), "operations": "tar", "purpose": "payload", "lifecycle": "runtime", "target": "{workenv}"},
            {"id": "raw", "source": directory.join("raw.txt"), "operations": "none", "purpose": "payload", "lifecycle": "runtime", "target": "data/raw.txt", "permissions": "0644"},
            {"id": "single", "source": directory.join("single.txt.gz"), "operations": "gzip", "purpose": "payload", "lifecycle": "runtime", "target": "data/single.txt", "permissions": "0644"}
        ]
    })
}

/// Builds the fixture package with one of FlavorPack's builders and launchers.
fn flavorpack_package(sandbox: &Sandbox, builder: &Path, launcher: &Path, name: &str) -> PathBuf {
    let directory = sandbox.home().join(format!("fp-{name}"));
    std::fs::create_dir_all(&directory).unwrap();
    let manifest = directory.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec_pretty(&flavorpack_sources(&directory)).unwrap(),
    )
    .unwrap();
    let output = sandbox.home().join(format!("{name}.psp"));
    let status = Command::new(builder)
        .arg("-m")
        .arg(&manifest)
        .arg("-o")
        .arg(&output)
        .arg("--launcher-bin")
        .arg(launcher)
        .args(["--key-seed", "interop", "--log-level", "error"])
        .current_dir(&directory)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{} failed: {}",
        builder.display(),
        String::from_utf8_lossy(&status.stderr)
    );
    output
}

/// Runs a package directly, FlavorPack-quietly, with its own cache in the sandbox.
fn run_direct(
    sandbox: &Sandbox,
    package: &Path,
    args: &[&str],
    extra: &[(&str, &str)],
) -> (i32, String) {
    let run = sandbox.run_file(package, args, |command| {
        command.envs(extra.iter().copied());
    });
    (run.code, run.stdout)
}

fn builders() -> Vec<(&'static str, PathBuf, PathBuf)> {
    let fp = flavorpack();
    vec![
        ("rs", fp.rs_builder.clone(), fp.rs_launcher.clone()),
        ("go", fp.go_builder.clone(), fp.go_launcher.clone()),
    ]
}

#[test]
fn flavorpack_packages_verify_and_unpack_as_flavorpack_extracts_them() {
    let sandbox = Sandbox::new();
    for (name, builder, launcher) in builders() {
        let package = flavorpack_package(&sandbox, &builder, &launcher, name);
        let verify = sandbox.run(&["verify", package.to_str().unwrap()]);
        verify.success();
        assert!(
            verify.stdout.contains("ok    slot 3 (single) sha256"),
            "{name}:\n{}",
            verify.stdout
        );
        let ours = sandbox.home().join(format!("ours-{name}"));
        sandbox
            .run(&["unpack", package.to_str().unwrap(), ours.to_str().unwrap()])
            .success();
        let theirs = sandbox.home().join(format!("theirs-{name}"));
        for slot in 0..4 {
            let (code, _) = run_direct(
                &sandbox,
                &package,
                &["extract", &slot.to_string(), theirs.to_str().unwrap()],
                &[("FLAVOR_LAUNCHER_CLI", "1")],
            );
            assert_eq!(code, 0, "{name}: FlavorPack could not extract slot {slot}");
        }
        assert_eq!(tree(&ours), tree(&theirs), "{name}");
        assert!(
            tree(&ours).contains(&"data/single.txt gzipped slot\n exec=false".to_string()),
            "{:?}",
            tree(&ours)
        );
    }
}

#[test]
fn flavorpack_packages_run_alike_under_every_launcher() {
    let sandbox = Sandbox::new();
    let pandora_launcher = PathBuf::from(env!("CARGO_BIN_EXE_pandora-launcher"));
    for (name, builder, launcher) in builders() {
        let package = flavorpack_package(&sandbox, &builder, &launcher, name);
        let args = ["two words", "--version"];
        let expected = run_direct(&sandbox, &package, &args, &[("EXIT_WITH", "42")]);
        assert_eq!(expected.0, 42, "{name}: under FlavorPack's own launcher");
        assert!(
            expected
                .1
                .contains("arg=[--from-fp]\narg=[two words]\narg=[--version]\nraw slot\n"),
            "{}",
            expected.1
        );

        // Through `pandora run`.
        let run = sandbox.run_with(
            &["run", package.to_str().unwrap(), "two words", "--version"],
            |command| {
                command.env("EXIT_WITH", "42");
            },
        );
        assert_eq!(
            (run.code, run.stdout.replace(&format!("{name}.psp"), "PKG")),
            (
                expected.0,
                expected.1.replace(&format!("{name}.psp"), "PKG")
            ),
            "{name} under pandora run: {}",
            run.stderr
        );

        // With Pandora's launcher swapped in, every offset rebased; the signature still holds.
        let swapped = sandbox.home().join(format!("swapped-{name}.psp"));
        pandora::format::writer::replace_launcher(&package, &pandora_launcher, &swapped).unwrap();
        let (code, stdout) = run_direct(&sandbox, &swapped, &args, &[("EXIT_WITH", "42")]);
        assert_eq!(
            (code, stdout.replace(&format!("swapped-{name}.psp"), "PKG")),
            (
                expected.0,
                expected.1.replace(&format!("{name}.psp"), "PKG")
            ),
            "{name} with Pandora's launcher"
        );
        // `verify` reports that the stub is no longer the one that was signed for, and only that.
        let verify = sandbox.run(&["verify", swapped.to_str().unwrap()]);
        let failures: Vec<&str> = verify
            .stdout
            .lines()
            .filter(|line| line.contains("FAIL"))
            .collect();
        if name == "rs" {
            assert!(
                failures.len() == 1 && failures[0].contains("launcher-sha256"),
                "{}",
                verify.stdout
            );
        } else {
            assert!(
                failures.is_empty(),
                "the go builder records no launcher hash:\n{}",
                verify.stdout
            );
        }
    }
}

#[test]
fn pandora_gzip_packages_run_and_verify_under_flavorpack_launchers() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src");
    package_source(
        &source,
        "pandemo",
        "1.0.0",
        Some("bin/demo"),
        &[("bin/demo", ECHO_SCRIPT), ("share/x", "x")],
    );
    let fp = flavorpack();
    for (name, launcher) in [("rs", &fp.rs_launcher), ("go", &fp.go_launcher)] {
        let package = sandbox.home().join(format!("pandora-{name}.psp"));
        sandbox
            .build(
                &source,
                &package,
                "interop",
                &[
                    "--compression",
                    "gzip",
                    "--launcher-bin",
                    launcher.to_str().unwrap(),
                ],
            )
            .success();
        let (code, stdout) = run_direct(
            &sandbox,
            &package,
            &["a b", "--help"],
            &[("EXIT_WITH", "42")],
        );
        assert_eq!(code, 42, "{name}");
        assert_eq!(
            stdout, "args=2\narg=[a b]\narg=[--help]\ngreeting=\n",
            "{name}"
        );
        let (code, verify) = run_direct(
            &sandbox,
            &package,
            &["verify"],
            &[("FLAVOR_LAUNCHER_CLI", "1")],
        );
        assert_eq!(
            code, 0,
            "{name}'s launcher refuses Pandora's package:\n{verify}"
        );
    }
}

#[test]
fn the_same_seed_gives_flavorpacks_public_key() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src");
    package_source(
        &source,
        "seeded",
        "1.0.0",
        Some("bin/demo"),
        &[("bin/demo", ECHO_SCRIPT)],
    );
    let ours = sandbox.home().join("ours.psp");
    sandbox.build(&source, &ours, "interop", &[]).success();
    let key = |path: &Path| {
        pandora::format::package::Package::open(path)
            .unwrap()
            .index()
            .public_key
    };
    for (name, builder, launcher) in builders() {
        let theirs = flavorpack_package(&sandbox, &builder, &launcher, name);
        assert_eq!(key(&ours), key(&theirs), "{name}");
    }
}

#[test]
fn a_slot_swap_flavorpack_accepts_is_refused_by_pandora() {
    let sandbox = Sandbox::new();
    let fp = flavorpack();
    let package = flavorpack_package(&sandbox, &fp.rs_builder, &fp.rs_launcher, "victim");
    let opened = pandora::format::package::Package::open(&package).unwrap();
    let slot = opened
        .verified(pandora::format::package::Scope::Structure)
        .unwrap()
        .slots[2]
        .clone();
    let table = opened.index().slot_table_offset as usize;
    drop(opened);
    // Slot 2 is the raw file: replace its bytes and rewrite only the 8-byte descriptor checksum.
    let mut bytes = std::fs::read(&package).unwrap();
    let start = slot.descriptor.offset as usize;
    let end = start + slot.descriptor.size as usize;
    bytes[start..end].copy_from_slice(&b"evil slot\n"[..end - start]);
    use sha2::Digest;
    let digest: [u8; 32] = sha2::Sha256::digest(&bytes[start..end]).into();
    bytes[table + 2 * 64 + 48..table + 2 * 64 + 56].copy_from_slice(&digest[..8]);
    let swapped = sandbox.home().join("swapped.psp");
    std::fs::write(&swapped, &bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&swapped, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (code, _) = run_direct(
        &sandbox,
        &swapped,
        &["verify"],
        &[("FLAVOR_LAUNCHER_CLI", "1")],
    );
    assert_eq!(
        code, 0,
        "FlavorPack's launcher is expected to accept the swap (its weakness)"
    );
    let verify = sandbox.run(&["verify", swapped.to_str().unwrap()]);
    verify.failure(1);
    assert!(
        verify.stdout.contains("FAIL  slot-table") && verify.stdout.contains("slot 2 (raw)"),
        "{}",
        verify.stdout
    );
    assert_eq!(sandbox.run(&["run", swapped.to_str().unwrap()]).code, 111);
}
