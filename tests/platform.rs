//! A package built for another platform is refused at install, whether its metadata declares
//! the platform or only its launcher stub (a native executable) shows it.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::{package_source, Sandbox, ECHO_SCRIPT};

fn source(sandbox: &Sandbox, arch: Option<&str>) -> std::path::PathBuf {
    let source = sandbox
        .home()
        .join(format!("src-{}", arch.unwrap_or("none")));
    package_source(
        &source,
        "app",
        "1.0.0",
        Some("bin/app"),
        &[("bin/app", ECHO_SCRIPT)],
    );
    if let Some(arch) = arch {
        let manifest = source.join("manifest.acl");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            text.replacen(
                "manifest {",
                &format!("manifest {{\n    string arch = \"{arch}\";"),
                1,
            ),
        )
        .unwrap();
    }
    source
}

#[test]
fn a_declared_foreign_platform_is_refused_and_the_own_one_installs() {
    let sandbox = Sandbox::new();
    let foreign = if cfg!(target_arch = "aarch64") {
        "linux_amd64"
    } else {
        "linux_arm64"
    };
    let output = sandbox.home().join("foreign.psp");
    sandbox
        .build(&source(&sandbox, Some(foreign)), &output, "publisher", &[])
        .success();
    let refused = sandbox.run(&["install", "--yes", output.to_str().unwrap()]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("is built for linux_"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("nothing was installed"),
        "{}",
        refused.stderr
    );
    assert!(sandbox.run(&["list", "--store"]).stdout.is_empty());

    let own = if cfg!(target_arch = "aarch64") {
        "linux/aarch64"
    } else {
        "linux/x86_64"
    };
    let output = sandbox.home().join("own.psp");
    sandbox
        .build(&source(&sandbox, Some(own)), &output, "publisher", &[])
        .success();
    sandbox
        .run(&["install", "--yes", output.to_str().unwrap()])
        .success();
}

#[test]
fn a_launcher_for_another_machine_gives_the_platform_away() {
    let sandbox = Sandbox::new();
    // An ELF header for aarch64 (or x86_64 on an aarch64 machine), as a cross-built stub has.
    let mut stub = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    stub.resize(64, 0);
    stub[18] = if cfg!(target_arch = "aarch64") {
        62
    } else {
        183
    };
    stub.resize(4096, 0);
    let source = source(&sandbox, None);
    let launcher = sandbox.home().join("foreign-launcher");
    std::fs::write(&launcher, &stub).unwrap();
    let output = sandbox.home().join("cross.psp");
    sandbox
        .build(
            &source,
            &output,
            "publisher",
            &["--launcher-bin", launcher.to_str().unwrap()],
        )
        .success();
    let refused = sandbox.run(&["install", "--yes", output.to_str().unwrap()]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("its launcher's executable header"),
        "{}",
        refused.stderr
    );
}

/// `linux_x86_64` here, `linux_aarch64` on an arm machine, and the other one.
fn platforms() -> (&'static str, &'static str) {
    if cfg!(target_arch = "aarch64") {
        ("linux_aarch64", "linux_x86_64")
    } else {
        ("linux_x86_64", "linux_aarch64")
    }
}

#[test]
fn an_index_lists_one_file_per_platform_and_the_client_takes_its_own() {
    use support::registry::{configure, index};
    let sandbox = Sandbox::new();
    let (own, foreign) = platforms();
    let registry = sandbox.home().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    // app@1.0.0 for both platforms; app@2.0.0 only for two others.
    for (arch, version) in [
        (own, "1.0.0"),
        (foreign, "1.0.0"),
        (foreign, "2.0.0"),
        ("linux_riscv64", "2.0.0"),
    ] {
        let source = source(&sandbox, Some(arch));
        let manifest = source.join("manifest.acl");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            text.replace("\"1.0.0\"", &format!("\"{version}\"")),
        )
        .unwrap();
        let output = registry.join(format!("app-{version}-{arch}.psp"));
        sandbox.build(&source, &output, "publisher", &[]).success();
        std::fs::remove_dir_all(&source).unwrap();
    }
    index(&sandbox, &registry, &[]);
    let text = std::fs::read_to_string(registry.join("index.acl")).unwrap();
    assert!(text.contains(&format!("File \"{own}\"")), "{text}");
    assert!(text.contains(&format!("File \"{foreign}\"")), "{text}");
    let server = registry_fixtures::server::FixtureServer::start(&registry).unwrap();
    configure(&sandbox, &server);

    let info = sandbox.run(&["info", "app@1.0.0"]);
    info.success();
    assert!(
        info.stdout
            .contains(&format!("platforms    {foreign}, {own}"))
            || info
                .stdout
                .contains(&format!("platforms    {own}, {foreign}")),
        "{}",
        info.stdout
    );
    assert!(
        info.stdout.contains(&format!("app-1.0.0-{own}.psp")),
        "{}",
        info.stdout
    );

    // Only builds for other platforms: refused before any download, saying why.
    let refused = sandbox.run(&["install", "--yes", "app@2.0.0"]);
    refused.failure(1);
    assert!(
        refused
            .stderr
            .contains(&format!("has no file for this machine ({})", own)),
        "{}",
        refused.stderr
    );
    for platform in [foreign, "linux_riscv64"] {
        assert!(refused.stderr.contains(platform), "{}", refused.stderr);
    }
    assert!(
        refused.stderr.contains("nothing was downloaded"),
        "{}",
        refused.stderr
    );

    sandbox.run(&["install", "--yes", "app@1.0.0"]).success();
    let record = sandbox.run(&["info", "app"]);
    assert!(
        record.stdout.contains(&format!("app-1.0.0-{own}.psp")),
        "{}",
        record.stdout
    );
    // The lockfile pins this platform's bytes, and sync finds them again.
    sandbox.run(&["sync", "--yes"]).success();
    // 2.0.0 is newer, but not for this machine: nothing is outdated, nothing to upgrade.
    let outdated = sandbox.run(&["outdated"]);
    outdated.success();
    assert!(!outdated.stdout.contains("2.0.0"), "{}", outdated.stdout);
    sandbox.run(&["upgrade", "--yes"]).success();
}

#[test]
fn two_builds_of_one_version_for_one_platform_are_still_a_conflict() {
    let sandbox = Sandbox::new();
    let (own, _) = platforms();
    let registry = sandbox.home().join("registry");
    std::fs::create_dir_all(&registry).unwrap();
    for (n, script) in ["#!/bin/sh\necho one\n", "#!/bin/sh\necho two\n"]
        .iter()
        .enumerate()
    {
        let source = sandbox.home().join(format!("src{n}"));
        package_source(
            &source,
            "app",
            "1.0.0",
            Some("bin/app"),
            &[("bin/app", script)],
        );
        let manifest = source.join("manifest.acl");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            text.replacen(
                "manifest {",
                &format!("manifest {{\n    string arch = \"{own}\";"),
                1,
            ),
        )
        .unwrap();
        sandbox
            .build(
                &source,
                &registry.join(format!("app{n}.psp")),
                "publisher",
                &[],
            )
            .success();
    }
    let refused = sandbox.run(&[
        "registry",
        "index",
        registry.to_str().unwrap(),
        "--key-seed",
        "registry",
    ]);
    refused.failure(1);
    assert!(
        refused.stderr.contains("with different contents"),
        "{}",
        refused.stderr
    );
}
