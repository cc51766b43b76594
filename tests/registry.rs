//! `pandora registry add | list | remove` against a real home directory.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::{read, sample_key, Sandbox};

#[test]
fn add_list_remove() {
    let sandbox = Sandbox::new();
    let key = sample_key(1);
    sandbox
        .run(&[
            "registry",
            "add",
            "main",
            "https://example.org/pandora/index.acl",
        ])
        .success();
    sandbox
        .run(&[
            "registry",
            "add",
            "local",
            "/srv/pandora",
            "--priority",
            "200",
            "--key",
            &key,
            "--require-signatures",
        ])
        .success();
    let list = sandbox.run(&["registry", "list"]);
    list.success();
    assert_eq!(
        list.stdout,
        "NAME   PRIORITY  SIGNATURES  KEYS  URL\nlocal  200       required    1     file:///srv/pandora/\nmain   100       optional    0     https://example.org/pandora/\n"
    );
    assert_eq!(
        read(&sandbox.registries_file()),
        format!("Registry \"main\" {{\n    string url = \"https://example.org/pandora/\";\n    int priority = 100;\n    keys = {{}};\n    bool require_signatures = false;\n    int cache_ttl = 300;\n}}\n\nRegistry \"local\" {{\n    string url = \"file:///srv/pandora/\";\n    int priority = 200;\n    string[] keys = {{ \"{key}\" }};\n    bool require_signatures = true;\n    int cache_ttl = 300;\n}}\n")
    );
    sandbox
        .run(&["registry", "remove", "main", "--yes"])
        .success();
    let list = sandbox.run(&["registry", "list"]);
    assert!(!list.stdout.contains("main"), "{}", list.stdout);
    assert!(list.stdout.contains("local"));
}

#[test]
fn cache_ttl_is_recorded() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "registry",
            "add",
            "quick",
            "https://example.org/",
            "--cache-ttl",
            "0",
        ])
        .success();
    assert!(read(&sandbox.registries_file()).contains("int cache_ttl = 0;"));
    sandbox
        .run(&[
            "registry",
            "add",
            "bad",
            "https://example.org/x/",
            "--cache-ttl",
            "-5",
        ])
        .failure(2);
}

#[test]
fn hand_edits_survive_add_and_remove() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.pandora_home()).unwrap();
    let original = "// Registries for this laptop.\n\n// Work mirror: keep first.\nRegistry \"work\" {\n    url = \"https://mirror.work.example/\"; // VPN only\n    priority = 500;\n}\n";
    std::fs::write(sandbox.registries_file(), original).unwrap();
    sandbox
        .run(&["registry", "add", "public", "https://example.org/"])
        .success();
    let text = read(&sandbox.registries_file());
    assert!(text.starts_with(original), "{text}");
    sandbox
        .run(&["registry", "remove", "public", "-y"])
        .success();
    assert_eq!(read(&sandbox.registries_file()), format!("{original}\n"));
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["registry", "add", "main", "https://example.org/"])
        .success();
    let before = read(&sandbox.registries_file());
    let cases: &[(&[&str], &str, &str)] = &[
        (&["registry", "add", "main", "https://other.example/"], "error: a registry named `main` already exists (https://example.org/)", "hint: choose another name, or run `pandora registry remove main` first"),
        (&["registry", "add", "x", "ftp://example.org/"], "error: invalid registry URL `ftp://example.org/`: the `ftp` scheme is not supported", "hint: use an http://, https:// or file:// URL"),
        (&["registry", "add", "x", "relative/dir"], "error: invalid registry URL `relative/dir`", "hint: use an http://"),
        (&["registry", "add", "bad name", "https://example.org/"], "error: invalid registry name `bad name`: it contains ` `", "hint: names start with a letter or digit"),
        (&["registry", "add", "x", "https://example.org/", "--key", "ed25519:1234"], "caused by: `ed25519:1234` should have 64 hex digits after `ed25519:`, it has 4 characters", "hint: keys are written `ed25519:` followed by 64 hex digits"),
        (&["registry", "add", "x", "https://example.org/", "--require-signatures"], "error: --require-signatures needs at least one --key", "hint: pass the registry's signing key with --key ed25519:HEX"),
        (&["registry", "remove", "nope", "--yes"], "error: no registry named `nope` is configured", "hint: configured registries: main"),
    ];
    for (args, error, hint) in cases {
        let run = sandbox.run(args);
        run.failure(1);
        assert!(run.stderr.contains(error), "{args:?}:\n{}", run.stderr);
        assert!(run.stderr.contains(hint), "{args:?}:\n{}", run.stderr);
        assert_eq!(
            read(&sandbox.registries_file()),
            before,
            "{args:?} changed the file"
        );
    }
    let names: Vec<_> = std::fs::read_dir(sandbox.pandora_home())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.iter().all(|name| !name.starts_with(".pandora-tmp")),
        "temporary files left: {names:?}"
    );
}

#[test]
fn removal_needs_confirmation() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&["registry", "add", "main", "https://example.org/"])
        .success();
    let before = read(&sandbox.registries_file());
    let run = sandbox.run(&["registry", "remove", "main"]);
    run.failure(3);
    assert!(
        run.stderr.contains("standard input is not a terminal"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("hint: pass --yes to confirm without a prompt"),
        "{}",
        run.stderr
    );
    assert_eq!(read(&sandbox.registries_file()), before);
}

#[test]
fn invalid_file_is_reported_with_its_line_and_left_alone() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.pandora_home()).unwrap();
    let broken = "Registry \"main\" {\n    url = \"https://example.org/\";\n    prority = 5;\n}\n";
    std::fs::write(sandbox.registries_file(), broken).unwrap();
    let run = sandbox.run(&["registry", "add", "other", "https://other.example/"]);
    run.failure(1);
    insta::assert_snapshot!("invalid_registries_file", sandbox.redact(&run.stderr));
    assert_eq!(read(&sandbox.registries_file()), broken);
}

#[test]
fn concurrent_adds_are_all_kept() {
    let sandbox = Sandbox::new();
    let children: Vec<_> = (0..8)
        .map(|n| {
            sandbox
                .command(&[
                    "registry",
                    "add",
                    &format!("r{n}"),
                    &format!("https://r{n}.example/"),
                ])
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let list = sandbox.run(&["registry", "list"]);
    for n in 0..8 {
        assert!(
            list.stdout.contains(&format!("r{n} ")),
            "r{n} lost:\n{}",
            list.stdout
        );
    }
}

#[test]
fn colour_follows_flag_and_no_color() {
    let sandbox = Sandbox::new();
    let always = sandbox.run(&["--color", "always", "registry", "remove", "x", "--yes"]);
    assert!(always.stderr.contains("\u{1b}["), "{:?}", always.stderr);
    let with_no_color = sandbox.run_with(&["registry", "remove", "x", "--yes"], |command| {
        command.env("NO_COLOR", "1");
    });
    assert!(!with_no_color.stderr.contains('\u{1b}'));
    let never = sandbox.run(&["--color", "never", "registry", "remove", "x", "--yes"]);
    assert!(!never.stderr.contains('\u{1b}'));
}

#[test]
fn home_comes_from_flag_then_environment_then_home() {
    let sandbox = Sandbox::new();
    let elsewhere = sandbox.home().join("elsewhere");
    sandbox
        .run(&[
            "--home",
            elsewhere.to_str().unwrap(),
            "registry",
            "add",
            "a",
            "https://a.example/",
        ])
        .success();
    assert!(elsewhere.join("registries.acl").exists());
    assert!(!sandbox.registries_file().exists());
    sandbox
        .run_with(&["registry", "add", "b", "https://b.example/"], |command| {
            command.env_remove("PANDORA_HOME");
        })
        .success();
    assert!(sandbox.home().join("pandora/registries.acl").exists());
}

#[test]
fn quiet_keeps_data_and_drops_status() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&["-q", "registry", "add", "a", "https://a.example/"]);
    run.success();
    assert_eq!(run.stderr, "");
    let list = sandbox.run(&["-q", "registry", "list"]);
    assert!(list.stdout.contains("a.example"));
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = Sandbox::new();
    sandbox.run(&["registry", "add", "only-a-name"]).failure(2);
    sandbox.run(&["no-such-command"]).failure(2);
}

#[test]
fn completions_and_help() {
    let sandbox = Sandbox::new();
    let bash = sandbox.run(&["completions", "bash"]);
    bash.success();
    assert!(
        bash.stdout.contains("PANDORA_COMPLETE") && bash.stdout.contains("complete -o"),
        "{}",
        bash.stdout
    );
    let help = sandbox.run(&["--help"]);
    help.success();
    insta::assert_snapshot!("help", help.stdout);
}

#[test]
fn bundled_example_is_a_valid_configuration() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.pandora_home()).unwrap();
    let example = registry_fixtures::examples_dir().join("registries.acl");
    std::fs::copy(example, sandbox.registries_file()).unwrap();
    let list = sandbox.run(&["registry", "list"]);
    list.success();
    assert!(
        list.stdout
            .starts_with("NAME   PRIORITY  SIGNATURES  KEYS  URL\nlocal  200"),
        "{}",
        list.stdout
    );
}
