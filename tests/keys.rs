//! Keys people can read and manage: every printed key is `ed25519:HEX` (something `key trust`
//! and `registry add --key` accept), every fingerprint is `sha256:HEX` and labelled as one;
//! `pandora key list | show | trust | untrust | import`.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use support::registry::key;
use support::{package_source, Sandbox};

fn package(sandbox: &Sandbox, seed: &str) -> PathBuf {
    let source = sandbox.home().join(format!("src-{seed}"));
    package_source(
        &source,
        "odd",
        "1.0.0",
        Some("bin/odd"),
        &[("bin/odd", "#!/bin/sh\necho odd\n")],
    );
    let output = sandbox.home().join(format!("odd-{seed}.psp"));
    sandbox.build(&source, &output, seed, &[]).success();
    output
}

/// Every `ed25519:...` and `sha256:...` token in `text`, with the word before it.
fn tokens(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || "(),`;".contains(c))
        .filter(|word| !word.is_empty())
        .collect();
    for (at, word) in words.iter().enumerate() {
        if word.starts_with("ed25519:") || word.starts_with("sha256:") {
            let before = if at == 0 { "" } else { words[at - 1] };
            found.push((before.to_string(), word.to_string()));
        }
    }
    found
}

/// Each token labelled `key` (or shown where a key is pasted) is a valid `ed25519:` key, and
/// each fingerprint is labelled `fingerprint` (or is a `key-fingerprint` check's value);
/// returns how many keys were seen.
#[track_caller]
fn assert_keys_readable(text: &str, expected_key: &str) -> usize {
    let mut keys = 0;
    for (before, token) in tokens(text) {
        let before = before.to_ascii_lowercase();
        if token.starts_with("ed25519:") {
            assert_eq!(token.len(), "ed25519:".len() + 64, "{token} in:\n{text}");
            assert_eq!(
                token, expected_key,
                "a key other than the signer's:\n{text}"
            );
            keys += 1;
        } else {
            // A slot's `sha256:` digest is labelled by its slot; a fingerprint by its name.
            let labelled = before.contains("fingerprint") || before.ends_with("bytes");
            assert!(
                labelled,
                "`{token}` after `{before}` is not labelled:\n{text}"
            );
            assert!(
                !before.contains("key") || before.contains("fingerprint"),
                "a fingerprint labelled as a key:\n{text}"
            );
        }
    }
    keys
}

#[test]
fn inspect_verify_and_the_launcher_print_keys_one_can_paste() {
    let sandbox = Sandbox::new();
    let file = package(&sandbox, "stranger");
    let path = file.to_str().unwrap();
    let signer = key("stranger");

    let inspect = sandbox.run(&["inspect", path]);
    inspect.success();
    assert!(assert_keys_readable(&inspect.stdout, &signer) >= 1);
    assert!(inspect.stdout.contains(&format!("signed by    {signer}")));
    assert!(inspect.stdout.contains("fingerprint  sha256:"));
    // The hint names a command and a value it accepts.
    assert!(
        inspect
            .stderr
            .contains(&format!("`pandora key trust {signer}`")),
        "{}",
        inspect.stderr
    );

    let verify = sandbox.run(&["verify", path]);
    verify.success();
    assert!(assert_keys_readable(&verify.stdout, &signer) >= 1);

    let warned = sandbox.run_file(&file, &[], |_| {});
    warned.success();
    assert!(assert_keys_readable(&warned.stderr, &signer) >= 1);
    let refused = sandbox.run_file(&file, &[], |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    });
    assert_eq!(refused.code, 112, "{}", refused.stderr);
    assert!(assert_keys_readable(&refused.stderr, &signer) >= 1);
    let info = sandbox.run_file(&file, &["info"], |command| {
        command.env("FLAVOR_LAUNCHER_CLI", "1");
    });
    info.success();
    assert!(assert_keys_readable(&info.stdout, &signer) >= 1);

    let install = sandbox.run_with(&["install", "--yes", path], |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    });
    install.failure(1);
    assert!(assert_keys_readable(&install.stderr, &signer) >= 1);
    assert!(install
        .stderr
        .contains(&format!("pandora key trust {signer}")));

    // The key the hints print is one `key trust` takes: afterwards the launcher runs it.
    sandbox.run(&["key", "trust", &signer]).success();
    let trusted = sandbox.run_file(&file, &[], |command| {
        command.env("PANDORA_REQUIRE_TRUSTED", "1");
    });
    trusted.success();
    assert_eq!(trusted.stdout, "odd\n");
    assert!(
        !trusted.stderr.contains("not trusted"),
        "{}",
        trusted.stderr
    );
}

#[test]
fn list_and_show_say_where_each_key_is_trusted() {
    let sandbox = Sandbox::new();
    let generated = sandbox.run(&["key", "generate", "release", "--trust"]);
    generated.success();
    let release = generated.stdout.trim().to_string();
    assert_eq!(release.len(), 72, "{release}");
    sandbox.run(&["key", "generate", "spare"]).success();
    let registry_key = key("registry");
    sandbox
        .run(&[
            "registry",
            "add",
            "main",
            "https://example.org/",
            "--key",
            &registry_key,
        ])
        .success();

    let list = sandbox.run(&["key", "list"]);
    list.success();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", list.stdout);
    assert!(lines[0].starts_with("NAME"), "{}", list.stdout);
    // Aligned: every column starts where its header does.
    let column = lines[0].find("FINGERPRINT").unwrap();
    for line in &lines[1..] {
        assert!(line[column..].starts_with("sha256:"), "{}", list.stdout);
    }
    let row = |name: &str| {
        lines
            .iter()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name}:\n{}", list.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let release_row = row("release");
    assert_eq!(release_row[1], release);
    assert_eq!(release_row[3], "yes");
    assert_eq!(release_row[4], "keys/trusted/release.pub");
    assert_eq!(release_row[5], "-");
    let spare = row("spare");
    assert_eq!((spare[3], spare[4]), ("yes", "-"));
    let unnamed = row("-");
    assert_eq!(unnamed[1], registry_key);
    assert_eq!((unnamed[3], unnamed[4], unnamed[5]), ("no", "-", "main"));

    // show by name, by key, by fingerprint.
    let fingerprint = release_row[2].to_string();
    for spec in ["release", release.as_str(), fingerprint.as_str()] {
        let show = sandbox.run(&["key", "show", spec]);
        show.success();
        assert!(show.stdout.contains(&format!("public key   {release}")));
        assert!(show.stdout.contains(&format!("fingerprint  {fingerprint}")));
        assert!(show.stdout.contains("keys/release.key"), "{}", show.stdout);
        assert!(show.stdout.contains("keys/trusted/release.pub"));
    }
    let missing = sandbox.run(&["key", "show", "nope"]);
    missing.failure(1);
    assert!(missing.stderr.contains("hint: `pandora key list`"));
}

#[test]
fn trust_takes_a_key_a_pub_file_or_a_package_and_untrust_asks() {
    let sandbox = Sandbox::new();
    let trusted_dir = sandbox.pandora_home().join("keys/trusted");

    // A key string.
    let first = key("first");
    let run = sandbox.run(&["key", "trust", &first, "--name", "first"]);
    run.success();
    assert_eq!(run.stdout.trim(), first);
    let file = trusted_dir.join("first.pub");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o022, 0, "{mode:o}");
    let dir_mode = std::fs::metadata(&trusted_dir)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dir_mode, 0o700);
    // Trusting it again changes nothing.
    sandbox.run(&["key", "trust", &first]).success();
    assert_eq!(std::fs::read_dir(&trusted_dir).unwrap().count(), 1);

    // A .pub file (ed25519:HEX inside), named after the file.
    let second = key("second");
    let pub_file = sandbox.home().join("publisher.pub");
    std::fs::write(&pub_file, format!("{second}\n")).unwrap();
    sandbox
        .run(&["key", "trust", pub_file.to_str().unwrap()])
        .success();
    assert!(trusted_dir.join("publisher.pub").is_file());

    // A package: its signer, named after the package.
    let package = package(&sandbox, "third");
    sandbox
        .run(&["key", "trust", package.to_str().unwrap()])
        .success();
    assert!(trusted_dir.join("odd.pub").is_file());
    let verify = sandbox.run(&["verify", package.to_str().unwrap()]);
    assert!(
        verify.stdout.contains("trusted by") && verify.stdout.contains("odd.pub"),
        "{}",
        verify.stdout
    );

    // A fingerprint is not a key.
    let fingerprint = sandbox.run(&["key", "show", "first"]).stdout;
    let fingerprint = fingerprint
        .lines()
        .find_map(|line| line.strip_prefix("fingerprint  "))
        .unwrap()
        .to_string();
    let refused = sandbox.run(&["key", "trust", &fingerprint]);
    refused.failure(1);
    assert!(refused
        .stderr
        .contains("is a fingerprint, not a public key"));
    assert!(refused.stderr.contains("pandora inspect"));

    // untrust asks; without a terminal that needs --yes.
    let asked = sandbox.run(&["key", "untrust", "first"]);
    asked.failure(3);
    assert!(file.is_file());
    // By fingerprint, by key, by name.
    sandbox
        .run(&["key", "untrust", &fingerprint, "--yes"])
        .success();
    assert!(!file.exists());
    sandbox.run(&["key", "untrust", &second, "--yes"]).success();
    sandbox.run(&["key", "untrust", "odd", "--yes"]).success();
    assert_eq!(std::fs::read_dir(&trusted_dir).unwrap().count(), 0);
    let gone = sandbox.run(&["key", "untrust", "odd", "--yes"]);
    gone.failure(1);
}

/// A PKCS#8 PEM Ed25519 private key, as FlavorPack and openssl write it.
fn pkcs8_pem(secret: [u8; 32]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&secret);
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let value = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for index in 0..4 {
            if index <= chunk.len() {
                text.push(TABLE[(value >> (18 - 6 * index) & 63) as usize] as char);
            } else {
                text.push('=');
            }
        }
    }
    format!("-----BEGIN PRIVATE KEY-----\n{text}\n-----END PRIVATE KEY-----\n")
}

#[test]
fn import_copies_a_private_key_privately() {
    let sandbox = Sandbox::new();
    let secret = [5u8; 32];
    let expected = support::sample_key(5);
    let pem = sandbox.home().join("flavor.pem");
    std::fs::create_dir_all(sandbox.home()).unwrap();
    std::fs::write(&pem, pkcs8_pem(secret)).unwrap();
    let imported = sandbox.run(&["key", "import", pem.to_str().unwrap(), "--name", "ci"]);
    imported.success();
    assert_eq!(imported.stdout.trim(), expected);
    let private = sandbox.pandora_home().join("keys/ci.key");
    let mode = std::fs::metadata(&private).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(sandbox.pandora_home().join("keys/ci.pub").is_file());
    // Never overwritten.
    let again = sandbox.run(&["key", "import", pem.to_str().unwrap(), "--name", "ci"]);
    again.failure(1);
    // The imported key signs: a package built with it names it as its signer.
    let source = sandbox.home().join("src");
    package_source(&source, "signed", "1.0.0", None, &[("share/x", "x")]);
    let output = sandbox.home().join("signed.psp");
    sandbox
        .run(&[
            "build",
            source.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--key",
            "ci",
        ])
        .success();
    let inspect = sandbox.run(&["inspect", output.to_str().unwrap()]);
    assert!(inspect.stdout.contains(&format!("signed by    {expected}")));
    // A Pandora key file imports too (named after the file), with --trust.
    let copy = sandbox.home().join("copy.key");
    std::fs::copy(&private, &copy).unwrap();
    sandbox.run(&["key", "generate", "x"]).success();
    let list_before = sandbox.run(&["key", "list"]).stdout;
    assert!(list_before.contains("ci "));
    let refused = sandbox.run(&["key", "import", copy.to_str().unwrap(), "--trust"]);
    refused.success();
    let show = sandbox.run(&["key", "show", "copy"]);
    assert!(
        show.stdout.contains("keys/trusted/copy.pub"),
        "{}",
        show.stdout
    );
    let junk = sandbox.home().join("junk.key");
    std::fs::write(&junk, "nothing").unwrap();
    sandbox
        .run(&["key", "import", junk.to_str().unwrap()])
        .failure(1);
}

#[test]
fn unlabelled_hex_is_asked_about_and_an_uppercase_label_is_the_same_key() {
    let sandbox = Sandbox::new();
    let key = key("someone");
    let hex = key.trim_start_matches("ed25519:");
    let bare = sandbox.run(&["key", "trust", hex]);
    bare.failure(1);
    assert!(
        bare.stderr
            .contains(&format!("pandora key trust ed25519:{hex}")),
        "{}",
        bare.stderr
    );
    sandbox
        .run(&[
            "key",
            "trust",
            &format!("ED25519:{hex}"),
            "--name",
            "someone",
        ])
        .success();
    assert!(sandbox.run(&["key", "list"]).stdout.contains(&key));
}
