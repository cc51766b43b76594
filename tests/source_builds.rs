//! `pandora build` of a package with a `build { ... }` recipe: a real C program compiled with
//! the system's `cc` inside the sandbox, byte-identical twice, cached, exported and imported,
//! with sources fetched and checked, and failures reported with nothing written.
#![allow(clippy::disallowed_methods)] // tests use std::fs (the fs-err rule is for Pandora)

mod support;

use std::path::{Path, PathBuf};

use support::Sandbox;

const SEED: &str = "source-builds";

const HELLO_C: &str = r#"#include <stdio.h>
int main(void) { printf("hello from source, built %s %s\n", __DATE__, __FILE__); return 0; }
"#;

/// Whether this machine lets the sandbox make its namespaces; says why not when it does not.
pub fn sandbox_works() -> bool {
    let works = std::process::Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--net",
            "true",
        ])
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        eprintln!("SKIPPED: this kernel does not allow user namespaces (or unshare is missing)");
    }
    works && which("cc")
}

fn which(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        eprintln!("SKIPPED: no `{program}` on this machine");
    }
    found
}

/// A package directory with `src/hello.c` and a manifest whose build block is `build`.
fn package(sandbox: &Sandbox, build: &str) -> PathBuf {
    let directory = sandbox.home().join("hello");
    fs_err::create_dir_all(directory.join("src")).unwrap();
    fs_err::write(directory.join("src/hello.c"), HELLO_C).unwrap();
    fs_err::write(
        directory.join("manifest.acl"),
        format!(
            "manifest {{\n string name = \"hello\";\n string version = \"1.0.0\";\n string command = \"bin/hello\";\n build {{\n{build}\n }}\n}}\n"
        ),
    )
    .unwrap();
    directory
}

const HELLO_BUILD: &str = r#"string[] sources = { "src" };
string[] steps = { "mkdir -p $OUT/bin", "cc -O2 -g -o $OUT/bin/hello src/hello.c" };"#;

fn build(sandbox: &Sandbox, source: &Path, output: &Path, extra: &[&str]) -> support::Run {
    sandbox.build(source, output, SEED, extra)
}

fn bytes(path: &Path) -> Vec<u8> {
    fs_err::read(path).unwrap()
}

#[test]
fn a_c_program_builds_byte_identical_twice_and_runs() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    let first = sandbox.home().join("first.psp");
    let second = sandbox.home().join("second.psp");
    let run = build(&sandbox, &source, &first, &["--no-cache"]);
    run.success();
    assert!(run.stderr.contains("in the sandbox"), "{}", run.stderr);
    assert!(run.stderr.contains("seccomp: on"), "{}", run.stderr);
    build(&sandbox, &source, &second, &["--no-cache"]).success();
    assert!(bytes(&first) == bytes(&second), "two builds differ");
    let ran = sandbox.run_file(&first, &[], |_| {});
    ran.success();
    // Built at the fixed path /build, on the fixed date SOURCE_DATE_EPOCH (0) gives.
    assert_eq!(
        ran.stdout,
        "hello from source, built Jan  1 1970 src/hello.c\n"
    );
    let verified = build(
        &sandbox,
        &source,
        &sandbox.home().join("third.psp"),
        &["--verify-reproducible"],
    );
    verified.success();
    assert!(
        verified.stderr.contains("Reproducible"),
        "{}",
        verified.stderr
    );
    assert!(bytes(&first) == bytes(&sandbox.home().join("third.psp")));
}

#[test]
fn the_build_cache_is_used_exported_and_imported() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    let archive = sandbox.home().join("cache.tar.zst");
    let first = sandbox.home().join("first.psp");
    let run = build(
        &sandbox,
        &source,
        &first,
        &["--cache-export", archive.to_str().unwrap()],
    );
    run.success();
    assert!(
        !run.stderr.contains("from the build cache"),
        "{}",
        run.stderr
    );
    let again = build(&sandbox, &source, &sandbox.home().join("again.psp"), &[]);
    assert!(
        again.success().stderr.contains("from the build cache"),
        "{}",
        again.stderr
    );
    // Changing an input changes the key.
    fs_err::write(
        source.join("src/hello.c"),
        HELLO_C.replace("hello", "howdy"),
    )
    .unwrap();
    let changed = build(&sandbox, &source, &sandbox.home().join("changed.psp"), &[]);
    assert!(!changed.success().stderr.contains("from the build cache"));
    fs_err::write(source.join("src/hello.c"), HELLO_C).unwrap();

    // Another machine (home) imports the entry and builds nothing.
    let other = Sandbox::new();
    let other_source = package(&other, HELLO_BUILD);
    let imported = other.home().join("imported.psp");
    let run = build(
        &other,
        &other_source,
        &imported,
        &["--cache-import", archive.to_str().unwrap()],
    );
    run.success();
    assert!(
        run.stderr.contains("Imported 1 build-cache entries"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("from the build cache"),
        "{}",
        run.stderr
    );
    // Same files, but the provenance quotes the archive's sandbox text as unverified.
    assert!(bytes(&first) != bytes(&imported));
    let provenance = provenance_of(&other, &imported);
    assert!(
        provenance["sandbox"]
            .as_str()
            .unwrap()
            .starts_with("imported from a build cache (unverified): namespaces user,mount"),
        "{provenance}"
    );

    // A hostile archive is refused with nothing added.
    let hostile = other.home().join("hostile.tar.zst");
    {
        let file = fs_err::File::create(&hostile).unwrap();
        let encoder = zstd::stream::write::Encoder::new(file, 3)
            .unwrap()
            .auto_finish();
        let mut tar = tar::Builder::new(encoder);
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // Written by hand: the tar crate itself refuses to write a path that climbs out.
        let name = b"../../escaped";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        tar.append(&header, &b"owned"[..]).unwrap();
        tar.finish().unwrap();
    }
    let run = build(
        &other,
        &other_source,
        &other.home().join("x.psp"),
        &["--cache-import", hostile.to_str().unwrap()],
    );
    run.failure(1);
    assert!(
        run.stderr.contains("is not a build-cache archive"),
        "{}",
        run.stderr
    );
    assert!(!other.home().join("escaped").exists());
}

/// The provenance in a built package's attestation.
fn provenance_of(sandbox: &Sandbox, package: &Path) -> serde_json::Value {
    let unpacked = sandbox.home().join(format!(
        "unpacked-{}",
        package.file_stem().unwrap().to_string_lossy()
    ));
    sandbox
        .run(&[
            "unpack",
            package.to_str().unwrap(),
            unpacked.to_str().unwrap(),
        ])
        .success();
    let attestation = fs_err::read(unpacked.join("_attestation")).unwrap();
    let document: serde_json::Value = serde_json::from_slice(&attestation).unwrap();
    document["provenance"].clone()
}

/// A cache archive holding `entries` (path, symlink target or None for a file) under KEY.
fn cache_archive(path: &Path, key: &str, entries: &[(&str, Option<&str>)]) {
    let file = fs_err::File::create(path).unwrap();
    let encoder = zstd::stream::write::Encoder::new(file, 3)
        .unwrap()
        .auto_finish();
    let mut tar = tar::Builder::new(encoder);
    for (name, link) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o755);
        let name = format!("{key}/{name}");
        match link {
            Some(target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, &name, target).unwrap();
            }
            None => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(6);
                tar.append_data(&mut header, &name, &b"hello\n"[..])
                    .unwrap();
            }
        }
    }
    tar.finish().unwrap();
}

#[test]
fn an_imported_cache_entry_cannot_link_outside_itself() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    let secret = sandbox.home().join(".ssh/id_ed25519");
    fs_err::create_dir_all(secret.parent().unwrap()).unwrap();
    fs_err::write(&secret, "SECRET-KEY-MATERIAL").unwrap();
    // The key this recipe gets, learnt from a real export on another machine (home).
    let learner = Sandbox::new();
    let archive = learner.home().join("real.tar.zst");
    build(
        &learner,
        &package(&learner, HELLO_BUILD),
        &learner.home().join("real.psp"),
        &["--cache-export", archive.to_str().unwrap()],
    )
    .success();
    let key = {
        let decoder = zstd::stream::read::Decoder::new(fs_err::File::open(&archive).unwrap());
        let mut tar = tar::Archive::new(decoder.unwrap());
        let first = tar.entries().unwrap().next().unwrap().unwrap();
        let path = first.path().unwrap().into_owned();
        path.components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned()
    };
    let escape =
        "../../../../../../../../../../..".to_string() + secret.parent().unwrap().to_str().unwrap();
    let cases: Vec<Vec<(&str, Option<&str>)>> = vec![
        // `files` itself a link to the user's ~/.ssh.
        vec![("files", Some(escape.as_str()))],
        // A link inside climbing out.
        vec![
            ("files/bin/hello", None),
            (
                "files/bin/keys",
                Some("../../../../../../../../../../../../.."),
            ),
        ],
        // One in-bounds link followed through another leaves.
        vec![
            ("files/bin/hello", None),
            ("files/here", Some(".")),
            ("files/up", Some("here/../sandbox")),
            ("sandbox", None),
        ],
        // `sandbox` as a link.
        vec![
            ("files/bin/hello", None),
            ("sandbox", Some("files/bin/hello")),
        ],
    ];
    for (number, entries) in cases.iter().enumerate() {
        let hostile = sandbox.home().join(format!("hostile-{number}.tar.zst"));
        cache_archive(&hostile, &key, entries);
        let output = sandbox.home().join(format!("hostile-{number}.psp"));
        let run = build(
            &sandbox,
            &source,
            &output,
            &["--cache-import", hostile.to_str().unwrap()],
        );
        run.failure(1);
        assert!(
            run.stderr.contains("is not a build-cache archive"),
            "case {number}: {}",
            run.stderr
        );
        assert!(!output.exists(), "case {number}");
        assert!(
            !sandbox
                .pandora_home()
                .join("cache/build")
                .join(&key)
                .exists(),
            "case {number}: the entry was added"
        );
    }
}

#[test]
fn build_refuses_to_replace_an_output_that_is_not_a_regular_file() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    fs_err::create_dir_all(sandbox.home()).unwrap();
    let fifo = sandbox.home().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let run = build(&sandbox, &source, &fifo, &[]);
    run.failure(1);
    assert!(
        run.stderr.contains("exists and is not a regular file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs_err::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}

#[test]
fn fetched_sources_are_checked_before_anything_runs() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let upstream = sandbox.home().join("upstream.c");
    fs_err::create_dir_all(sandbox.home()).unwrap();
    fs_err::write(&upstream, HELLO_C).unwrap();
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(HELLO_C.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let server = registry_fixtures::server::FixtureServer::start(sandbox.home()).unwrap();
    let recipe = |sha: &str| {
        format!(
            "fetch \"{}upstream.c\" {{ string sha256 = \"{sha}\"; string path = \"src/hello.c\"; }}\nstring[] steps = {{ \"mkdir -p $OUT/bin\", \"cc -o $OUT/bin/hello src/hello.c\" }};",
            server.url()
        )
    };
    let source = package(&sandbox, &recipe(&digest));
    fs_err::remove_dir_all(source.join("src")).unwrap();
    let output = sandbox.home().join("fetched.psp");
    build(&sandbox, &source, &output, &[]).success();
    assert!(sandbox
        .pandora_home()
        .join("cache/sources")
        .join(&digest)
        .is_file());

    let wrong = "0".repeat(64);
    let source = package(&sandbox, &recipe(&wrong));
    let output = sandbox.home().join("wrong.psp");
    let run = build(&sandbox, &source, &output, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "hashes to {digest}, the manifest's fetch says {wrong}"
        )),
        "{}",
        run.stderr
    );
    assert!(!output.exists());
}

#[test]
fn a_failing_step_is_reported_and_nothing_is_written() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(
        &sandbox,
        r#"string[] sources = { "src" };
string[] steps = { "mkdir -p $OUT/bin", "echo compiling; exit 3" };"#,
    );
    let output = sandbox.home().join("failed.psp");
    let run = build(&sandbox, &source, &output, &[]);
    run.failure(1);
    assert!(run.stderr.contains("compiling"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("error: build step 2 (`echo compiling; exit 3`) exited with code 3"),
        "{}",
        run.stderr
    );
    assert!(!output.exists());
    let cache = sandbox.pandora_home().join("cache/build");
    let left: Vec<_> = fs_err::read_dir(&cache).unwrap().collect();
    assert!(left.is_empty(), "the failed build left {left:?}");

    let source = package(&sandbox, r#"string[] steps = { "true" };"#);
    let run = build(&sandbox, &source, &output, &[]);
    run.failure(1);
    assert!(
        run.stderr.contains("the build steps wrote nothing to $OUT"),
        "{}",
        run.stderr
    );

    let source = package(
        &sandbox,
        r#"string[] build_dependencies = { "zlib@1.3.0" }; string[] steps = { "true" };"#,
    );
    let run = build(&sandbox, &source, &output, &[]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("the build dependency zlib@1.3.0 is not installed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("pandora install zlib@1.3.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_step_sees_the_fixed_environment_only() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(
        &sandbox,
        r#"string[] steps = { "mkdir -p $OUT/share && env | sort > $OUT/share/env && hostname > $OUT/share/host" };
env { CFLAGS = "-O2"; }"#,
    );
    let output = sandbox.home().join("env.psp");
    sandbox
        .run_with(
            &[
                "build",
                source.to_str().unwrap(),
                "-o",
                output.to_str().unwrap(),
                "--key-seed",
                SEED,
            ],
            |command| {
                command
                    .env("LEAKED_SECRET", "hunter2")
                    .env("SOURCE_DATE_EPOCH", "1700000000");
            },
        )
        .success();
    let unpacked = sandbox.home().join("unpacked");
    sandbox
        .run(&[
            "unpack",
            output.to_str().unwrap(),
            unpacked.to_str().unwrap(),
        ])
        .success();
    let env = support::read(&find(&unpacked, "env"));
    let names: Vec<&str> = env
        .lines()
        .map(|line| line.split('=').next().unwrap())
        .collect();
    for expected in [
        "CFLAGS=-O2",
        "DEPS=/deps",
        "HOME=/build/.home",
        "LC_ALL=C",
        "OUT=/out",
        "PATH=/usr/bin:/bin",
        "SOURCE_DATE_EPOCH=1700000000",
        "SRC=/build",
        "TMPDIR=/build/.tmp",
        "TZ=UTC",
    ] {
        assert!(
            env.lines().any(|line| line == expected),
            "{expected} missing:\n{env}"
        );
    }
    assert!(!env.contains("hunter2"), "{env}");
    assert!(
        names.iter().all(|name| !name.starts_with("PANDORA")),
        "{env}"
    );
    assert_eq!(support::read(&find(&unpacked, "host")), "pandora-sandbox\n");
}

fn find(root: &Path, name: &str) -> PathBuf {
    support::files_under(root)
        .into_iter()
        .find(|path| path.file_name().is_some_and(|file| file == name))
        .unwrap_or_else(|| panic!("no {name} under {}", root.display()))
}

#[test]
fn a_build_block_with_mistakes_is_refused_where_they_are() {
    let sandbox = Sandbox::new();
    for (build, message) in [
        (
            "string[] steps = { };",
            "the build block needs non-empty `steps`",
        ),
        (
            "string[] steps = { \"true\" }; int time_limit = 0;",
            "`time_limit` must be a number of seconds from 1 to 86400, not 0",
        ),
        (
            "string[] steps = { \"true\" }; string[] sources = { \"../etc\" };",
            "`../etc` must be a relative path inside the package directory, without `..`",
        ),
        (
            "string[] steps = { \"true\" }; fetch \"ftp://x/y\" { string sha256 = \"00\"; }",
            "`ftp://x/y`: sources are fetched over https or http",
        ),
        (
            "string[] steps = { \"true\" }; fetch \"file:///root/.ssh/id_ed25519\" { string sha256 = \"00\"; }",
            "`file:///root/.ssh/id_ed25519`: sources are fetched over https or http",
        ),
        (
            "string[] steps = { \"true\" }; fetch \"https://x/y\" { }",
            "fetch `https://x/y` has no `sha256`",
        ),
        (
            "string[] steps = { \"true\" }; network = true;",
            "unknown field `network` in the build block",
        ),
        (
            "string[] steps = { \"true\" }; string[] build_dependencies = { \"zlib\" };",
            "invalid build dependency",
        ),
    ] {
        let source = package(&sandbox, build);
        let run = build_no_sandbox_needed(&sandbox, &source);
        run.failure(1);
        assert!(run.stderr.contains(message), "{build}: {}", run.stderr);
        assert!(
            run.stderr.contains("manifest.acl:"),
            "{build}: no position in {}",
            run.stderr
        );
    }
}

fn build_no_sandbox_needed(sandbox: &Sandbox, source: &Path) -> support::Run {
    build(sandbox, source, &sandbox.home().join("never.psp"), &[])
}

#[test]
fn no_sandbox_runs_the_steps_on_the_host_and_says_so() {
    if !which("cc") {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    let output = sandbox.home().join("unsandboxed.psp");
    let run = build(&sandbox, &source, &output, &["--no-sandbox"]);
    run.success();
    assert!(run.stderr.contains("WITHOUT a sandbox"), "{}", run.stderr);
    let ran = sandbox.run_file(&output, &[], |_| {});
    assert!(ran.success().stdout.starts_with("hello from source"));
}

/// `pyspdxtools -i FILE` (PyPI's spdx-tools, which CI installs): `None` when it is missing.
fn spdx_validator() -> Option<()> {
    let present = std::process::Command::new("pyspdxtools")
        .arg("--help")
        .output()
        .is_ok_and(|output| output.status.success());
    if !present {
        eprintln!("SKIPPED the SPDX validation: no `pyspdxtools` (pip install spdx-tools)");
    }
    present.then_some(())
}

#[test]
fn every_build_carries_a_signed_valid_sbom_and_provenance() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    let source = package(&sandbox, HELLO_BUILD);
    let manifest = support::read(&source.join("manifest.acl")).replace(
        "string command",
        "string license = \"MIT\";\n string[] dependencies = { \"libgreet@2.0.0\" };\n build_meta { builder = \"ci\"; commit = \"abcdef0\"; }\n string command",
    );
    fs_err::write(source.join("manifest.acl"), manifest).unwrap();
    let output = sandbox.home().join("sbom.psp");
    build(&sandbox, &source, &output, &[]).success();
    let unpacked = sandbox.home().join("unpacked");
    sandbox
        .run(&[
            "unpack",
            output.to_str().unwrap(),
            unpacked.to_str().unwrap(),
        ])
        .success();
    let attestation = fs_err::read(unpacked.join("_attestation")).unwrap();
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&attestation)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    // The index binds the attestation's digest at offset 1440 (ASCII hex), as FlavorPack does.
    let bytes_of_package = fs_err::read(&output).unwrap();
    assert!(
        bytes_of_package
            .windows(64)
            .any(|window| window == digest.as_bytes()),
        "the index does not carry the attestation digest"
    );
    let document: serde_json::Value = serde_json::from_slice(&attestation).unwrap();
    let sbom = &document["sbom"];
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    assert_eq!(sbom["packages"][0]["licenseDeclared"], "MIT");
    let hello = {
        use sha2::Digest;
        sha2::Sha256::digest(fs_err::read(unpacked.join("bin/hello")).unwrap())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let files = sbom["files"].as_array().unwrap();
    assert!(files.iter().any(|file| file["fileName"] == "./bin/hello"
        && file["checksums"][1]["checksumValue"] == hello.as_str()));
    assert!(sbom.to_string().contains("pkg:generic/libgreet@2.0.0"));
    let provenance = &document["provenance"];
    assert!(provenance["sandbox"]
        .as_str()
        .unwrap()
        .starts_with("namespaces user,mount,pid,ipc,uts,net; seccomp on"));
    assert_eq!(provenance["build_meta"]["commit"], "abcdef0");
    assert!(provenance["inputs"]["src/hello.c"].is_string());
    assert_eq!(provenance["time"], "1970-01-01T00:00:00Z");
    if spdx_validator().is_some() {
        let file = sandbox.home().join("sbom.spdx.json");
        fs_err::write(&file, sbom.to_string()).unwrap();
        let validated = std::process::Command::new("pyspdxtools")
            .arg("-i")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            validated.status.success(),
            "{}{}",
            String::from_utf8_lossy(&validated.stdout),
            String::from_utf8_lossy(&validated.stderr)
        );
    }
    // Installed (without its dependency: the install refuses that), kept beside the record.
    let alone = package(&sandbox, HELLO_BUILD);
    let file = sandbox.home().join("alone.psp");
    build(&sandbox, &alone, &file, &[]).success();
    sandbox
        .run(&["install", file.to_str().unwrap(), "--yes"])
        .success();
    let shown = sandbox.run(&["info", "hello", "--sbom"]);
    shown.success();
    let printed: serde_json::Value = serde_json::from_str(&shown.stdout).unwrap();
    assert_eq!(printed["name"], "hello-1.0.0");
    assert!(sandbox
        .pandora_home()
        .join("records/hello@1.0.0.attestation.json")
        .is_file());
    assert!(!sandbox
        .pandora_home()
        .join("store/hello@1.0.0/_attestation")
        .exists());
    let info = sandbox.run(&["info", "hello", "--offline"]);
    assert!(
        info.success()
            .stdout
            .contains("provenance   sandbox: namespaces user,mount,pid"),
        "{}",
        info.stdout
    );
    sandbox.run(&["remove", "hello", "--yes"]).success();
    assert!(!sandbox
        .pandora_home()
        .join("records/hello@1.0.0.attestation.json")
        .exists());
}

#[test]
fn verify_provenance_checks_what_this_machine_can() {
    if !sandbox_works() {
        return;
    }
    let sandbox = Sandbox::new();
    fs_err::create_dir_all(sandbox.home()).unwrap();
    let upstream = sandbox.home().join("upstream.c");
    fs_err::write(&upstream, HELLO_C).unwrap();
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(HELLO_C.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    let server = registry_fixtures::server::FixtureServer::start(sandbox.home()).unwrap();
    let source = package(
        &sandbox,
        &format!(
            "fetch \"{}upstream.c\" {{ string sha256 = \"{digest}\"; string path = \"src/hello.c\"; }}\nstring[] steps = {{ \"mkdir -p $OUT/bin\", \"cc -o $OUT/bin/hello src/hello.c\" }};",
            server.url()
        ),
    );
    let output = sandbox.home().join("fetched.psp");
    build(&sandbox, &source, &output, &[]).success();
    let run = sandbox.run(&["verify", "--provenance", output.to_str().unwrap()]);
    run.success();
    for expected in [
        "ok    attestation",
        "(slot, signed metadata and index offset 1440 agree)",
        "ok    sbom                 SPDX 2.3, 1 file(s)",
        "ok    provenance           built by pandora",
        &format!(
            "ok    fetched              {}upstream.c sha256:{digest} (cached here)",
            server.url()
        ),
    ] {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
    // The cached copy changed under it: reported.
    let cached = sandbox.pandora_home().join("cache/sources").join(&digest);
    fs_err::write(&cached, "tampered").unwrap();
    let run = sandbox.run(&["verify", "--provenance", output.to_str().unwrap()]);
    run.failure(1);
    assert!(run.stdout.contains("FAIL  fetched"), "{}", run.stdout);

    // A package built from a prepared files/ tree has no provenance to check.
    let prepared = sandbox.home().join("prepared");
    support::package_source(&prepared, "plain", "1.0.0", None, &[("share/x", "x")]);
    let plain = sandbox.home().join("plain.psp");
    build(&sandbox, &prepared, &plain, &[]).success();
    let run = sandbox.run(&["verify", "--provenance", plain.to_str().unwrap()]);
    run.failure(1);
    assert!(
        run.stdout
            .contains("FAIL  provenance           none recorded"),
        "{}",
        run.stdout
    );
}

#[test]
fn leftovers_of_killed_builds_are_swept_by_the_next_build_and_by_prune() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let cache = sandbox.pandora_home().join("cache/build");
    // A killed build: its lock file is there, nobody holds it; read-only inside, as sealed.
    let dead = cache.join(".work.dead");
    fs_err::create_dir_all(dead.join("src/deep")).unwrap();
    fs_err::write(dead.join(".lock"), "").unwrap();
    fs_err::write(dead.join("src/deep/big"), "x").unwrap();
    fs_err::set_permissions(
        dead.join("src/deep"),
        std::fs::Permissions::from_mode(0o555),
    )
    .unwrap();
    // A live build elsewhere: its lock is held (here, by this test).
    let live = cache.join(".work.live");
    fs_err::create_dir_all(&live).unwrap();
    let held = nix::fcntl::Flock::lock(
        std::fs::File::create(live.join(".lock")).unwrap(),
        nix::fcntl::FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    // Just made, not locked yet: a build starting now.
    let starting = cache.join(".work.starting");
    fs_err::create_dir_all(&starting).unwrap();
    // A sandbox root a killed build left in the temporary directory a day and more ago (a
    // private one: other tests' prunes must not see it, nor this one theirs).
    let temporary = sandbox.home().join("tmp");
    let with_tmpdir = |command: &mut std::process::Command| {
        command.env("TMPDIR", &temporary);
    };
    let root = temporary.join("pandora-sandbox-root.killed");
    fs_err::create_dir_all(&root).unwrap();
    let day_ago = nix::sys::time::TimeSpec::new(
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            - 2 * 24 * 3600) as i64,
        0,
    );
    nix::sys::stat::utimensat(
        None,
        &root,
        &day_ago,
        &day_ago,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();

    let listed = sandbox.run_with(&["prune", "--dry-run"], with_tmpdir);
    listed.success();
    assert!(listed.stdout.contains(".work.dead"), "{}", listed.stdout);
    assert!(
        listed.stdout.contains(&root.display().to_string()),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains(".work.live"), "{}", listed.stdout);
    assert!(
        !listed.stdout.contains(".work.starting"),
        "{}",
        listed.stdout
    );
    assert!(dead.exists() && root.exists());

    sandbox.run_with(&["prune", "--yes"], with_tmpdir).success();
    assert!(
        !dead.exists(),
        "the killed build's directory is still there"
    );
    assert!(!root.exists(), "the stale sandbox root is still there");
    assert!(live.join(".lock").exists() && starting.exists());

    // The next build sweeps too, and leaves a live build's directory alone.
    fs_err::create_dir_all(dead.join("src")).unwrap();
    fs_err::write(dead.join(".lock"), "").unwrap();
    let source = package(
        &sandbox,
        "string[] steps = { \"mkdir -p $OUT/bin\", \"echo x > $OUT/bin/x\" };",
    );
    build(
        &sandbox,
        &source,
        &sandbox.home().join("x.psp"),
        &["--no-sandbox"],
    )
    .success();
    assert!(!dead.exists(), "the build did not sweep");
    assert!(live.join(".lock").exists());
    drop(held);
}
