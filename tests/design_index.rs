//! Indexes in the design's shape: no `name`, `serial`, `expires` or `size`; `pkg_base_url`,
//! `manifest_url`, `deprecated`. Read over HTTP and file://, marked in `registry list`, refused
//! where the configuration requires signatures.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::{Path, PathBuf};

use registry_fixtures::server::FixtureServer;
use sha2::Digest;
use support::registry::{key, publish};
use support::{Sandbox, ECHO_SCRIPT};

/// A registry directory with `mytool` 1.0.0 (deprecated) and 1.1.0 under `pkgs/`, and a
/// hand-written design-shaped `index.acl` (no signature).
fn design_registry(sandbox: &Sandbox) -> PathBuf {
    let registry = sandbox.home().join("design");
    for version in ["1.0.0", "1.1.0"] {
        publish(sandbox, &registry, "mytool", version, &[], ECHO_SCRIPT);
    }
    let sha = |version: &str| {
        let bytes = std::fs::read(registry.join(format!("pkgs/mytool-{version}.psp"))).unwrap();
        pandora::format::metadata::encode_hex(sha2::Sha256::digest(&bytes).as_slice())
    };
    let index = format!(
        r#"Registry {{
    string url = "https://example.org/pandora/";
    int priority = 100;
    bool require_signatures = false;
    string cache_policy = "max-age=300";

    Package "mytool" {{
        string[] versions = {{ "1.0.0", "1.1.0" }};
        string latest = "1.1.0";
        string pkg_base_url = "pkgs";

        Version "1.0.0" {{
            string manifest_url = "manifests/mytool-1.0.0.acl";
            string pkg_url = "mytool-1.0.0.psp";
            string sha256 = "{}";
            bool deprecated = true;
        }}

        Version "1.1.0" {{
            string manifest_url = "manifests/mytool-1.1.0.acl";
            string pkg_url = "mytool-1.1.0.psp";
            string sha256 = "{}";
            bool deprecated = false;
        }}
    }}
}}
"#,
        sha("1.0.0"),
        sha("1.1.0")
    );
    std::fs::write(registry.join("index.acl"), index).unwrap();
    registry
}

fn exercise(sandbox: &Sandbox, url: &str) {
    sandbox
        .run(&["registry", "add", "design", url, "--cache-ttl", "0"])
        .success();
    let info = sandbox.run(&["info", "mytool@1.0.0"]);
    let stdout = &info.success().stdout;
    assert!(
        stdout.contains("version      1.0.0 (deprecated)")
            && stdout.contains(&format!("url          {url}pkgs/mytool-1.0.0.psp"))
            && stdout.contains(&format!(
                "manifest     {url}pkgs/manifests/mytool-1.0.0.acl"
            ))
            && stdout.contains("size         not given by the index (downloads stop at 1.0 GiB)"),
        "{stdout}"
    );
    let listed = sandbox.run(&["registry", "list"]);
    assert!(
        listed
            .success()
            .stdout
            .contains(&format!("{url} [index: unsigned, no serial]")),
        "{}",
        listed.stdout
    );
    let install = sandbox.run(&["install", "--yes", "mytool"]);
    install.success();
    assert!(
        install.stdout.contains("mytool@1.1.0"),
        "{}",
        install.stdout
    );
    let update = sandbox.run(&["update"]);
    assert!(
        update
            .success()
            .stdout
            .contains("design  fetched (no serial"),
        "{}",
        update.stdout
    );
}

#[test]
fn a_design_shaped_index_is_read_over_http() {
    let sandbox = Sandbox::new();
    let registry = design_registry(&sandbox);
    let server = FixtureServer::start(&registry).unwrap();
    exercise(&sandbox, &server.url());
}

#[test]
fn a_design_shaped_index_is_read_from_a_directory() {
    let sandbox = Sandbox::new();
    let registry = design_registry(&sandbox);
    let url = url::Url::from_directory_path(&registry)
        .unwrap()
        .to_string();
    exercise(&sandbox, &url);
}

#[test]
fn an_unsigned_index_without_serial_is_refused_where_signatures_are_required() {
    let sandbox = Sandbox::new();
    let registry = design_registry(&sandbox);
    let server = FixtureServer::start(&registry).unwrap();
    sandbox
        .run(&[
            "registry",
            "add",
            "design",
            &server.url(),
            "--key",
            &key("publisher"),
            "--require-signatures",
        ])
        .success();
    let install = sandbox.run(&["install", "--yes", "mytool"]);
    install.failure(1);
    assert!(
        install.stderr.contains(&format!(
            "registry `design`: {}index.acl is not signed and has no serial, but the registry requires signatures",
            server.url()
        )) && install.stderr.contains("hint: ask the registry's operator to sign the index"),
        "{}",
        install.stderr
    );
    assert!(!Path::new(&sandbox.pandora_home().join("store/mytool@1.1.0")).exists());
}
