//! A signed registry of fixture packages served on 127.0.0.1, configured in a sandbox.

use std::path::{Path, PathBuf};

use pandora::format::metadata::encode_hex;
use pandora::format::signing::SigningKey;
use registry_fixtures::server::FixtureServer;

use super::{Sandbox, ECHO_SCRIPT};

pub struct Fixture {
    pub sandbox: Sandbox,
    pub registry: PathBuf,
    pub server: FixtureServer,
}

/// The public key derived from `seed`, as `registry add --key` takes it.
pub fn key(seed: &str) -> String {
    format!(
        "ed25519:{}",
        encode_hex(&SigningKey::from_seed(seed).public_key())
    )
}

/// Builds a fixture package into the registry directory, signed by the `publisher` seed.
pub fn publish(
    sandbox: &Sandbox,
    registry: &Path,
    name: &str,
    version: &str,
    dependencies: &[&str],
    script: &str,
) {
    super::publish(
        sandbox,
        &registry.join(format!("pkgs/{name}-{version}.psp")),
        name,
        version,
        dependencies,
        script,
        "publisher",
    );
}

/// Writes the registry's signed index.
pub fn index(sandbox: &Sandbox, registry: &Path, extra: &[&str]) {
    let mut args = vec![
        "registry",
        "index",
        registry.to_str().unwrap(),
        "--key-seed",
        "registry",
        "--name",
        "fixtures",
    ];
    args.extend_from_slice(extra);
    sandbox.run(&args).success();
}

/// libgreet 2.0.0; hello 1.1.0 needing it; tool 1.0.0 needing a libgreet nobody publishes.
pub fn fixture() -> Fixture {
    fixture_built_with(&[])
}

/// [`fixture`] built by another release of Pandora: its packages start with a launcher that is
/// not the one beside this `pandora`, so a new home downloads one of them whole, as it would
/// from a registry built by FlavorPack.
pub fn fixture_of_another_release() -> Fixture {
    let scratch = tempfile::tempdir().unwrap();
    let launcher = other_release_launcher(scratch.path());
    let fixture = fixture_built_with(&["--launcher-bin", launcher.to_str().unwrap()]);
    drop(scratch);
    fixture
}

/// A launcher of another release in `directory`: this one with bytes appended (it still runs).
pub fn other_release_launcher(directory: &Path) -> PathBuf {
    let mut launcher = std::fs::read(env!("CARGO_BIN_EXE_pandora-launcher")).unwrap();
    launcher.extend_from_slice(&[0x5a; 4096]);
    let path = directory.join("older-launcher");
    std::fs::create_dir_all(directory).unwrap();
    std::fs::write(&path, &launcher).unwrap();
    path
}

fn fixture_built_with(extra: &[&str]) -> Fixture {
    let sandbox = Sandbox::new();
    let registry = sandbox.home().join("registry");
    let packages: [(&str, &str, &[&str], &str); 3] = [
        ("libgreet", "2.0.0", &[], "#!/bin/sh\necho libgreet\n"),
        ("hello", "1.1.0", &["libgreet@2.0.0"], ECHO_SCRIPT),
        ("tool", "1.0.0", &["libgreet@9.9.9"], ECHO_SCRIPT),
    ];
    for (name, version, dependencies, script) in packages {
        super::publish_with(
            &sandbox,
            &registry.join(format!("pkgs/{name}-{version}.psp")),
            name,
            version,
            dependencies,
            script,
            "publisher",
            extra,
        );
    }
    index(&sandbox, &registry, &[]);
    let server = FixtureServer::start(&registry).unwrap();
    configure(&sandbox, &server);
    Fixture {
        sandbox,
        registry,
        server,
    }
}

/// Configures `sandbox` to use the fixture registry `server` (keys required, no index caching).
pub fn configure(sandbox: &Sandbox, server: &FixtureServer) {
    configure_url(sandbox, &server.url());
}

/// Configures `sandbox` to use the fixture registry served at `url` (by nginx, say).
pub fn configure_url(sandbox: &Sandbox, url: &str) {
    sandbox
        .run(&[
            "registry",
            "add",
            "fixtures",
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

/// Rewrites the registry's index with `change` and signs it again with the key from `seed`, as
/// `pandora registry index` would have: for indexes the CLI refuses to write (one already
/// expired, say).
pub fn resign(
    registry: &Path,
    seed: &str,
    change: impl FnOnce(&mut pandora::registry::index::RegistryIndex),
) {
    use pandora::registry::index::{signature_file, RegistryIndex};
    let path = registry.join("index.acl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut index = RegistryIndex::parse("index.acl", &text).unwrap();
    change(&mut index);
    let text = index.to_acl();
    let key = SigningKey::from_seed(seed);
    let signature = key.sign(text.as_bytes());
    std::fs::write(&path, &text).unwrap();
    std::fs::write(
        registry.join("index.acl.sig"),
        signature_file(&key.public_key(), &signature),
    )
    .unwrap();
}

/// Makes the registry's index one that expired a minute ago, signed with the key from `seed`.
pub fn expire(registry: &Path, seed: &str) {
    resign(registry, seed, |index| {
        index.expires = Some(pandora::registry::publish::now() - 60);
    });
}
