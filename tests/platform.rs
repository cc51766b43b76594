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
