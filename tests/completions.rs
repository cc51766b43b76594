//! Dynamic completions: the scripts `pandora completions SHELL` prints ask `pandora` for
//! candidates, so installed packages, profiles and registries complete, not only commands.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::Path;
use std::process::Command;

use support::{package_source, Sandbox};

/// A sandbox with `tool@1.0.0` installed and active, a second profile and a registry.
fn populated() -> Sandbox {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src");
    package_source(
        &source,
        "tool",
        "1.0.0",
        None,
        &[("bin/tool", "#!/bin/sh\n")],
    );
    let file = sandbox.home().join("tool.psp");
    sandbox.build(&source, &file, "seed", &[]).success();
    sandbox
        .run(&["install", "--yes", file.to_str().unwrap()])
        .success();
    sandbox
        .run(&["profile", "create", "work-profile"])
        .success();
    sandbox
        .run(&["registry", "add", "mirror-one", "https://example.org/"])
        .success();
    sandbox
}

/// Completes `words` (the last one being typed) as bash does: the script from
/// `pandora completions bash` is sourced and its completion function called with COMP_WORDS.
fn bash_complete(sandbox: &Sandbox, words: &[&str]) -> Vec<String> {
    let binary = Path::new(env!("CARGO_BIN_EXE_pandora"));
    let path = format!(
        "{}:{}",
        binary.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let script = format!(
        "source <(pandora completions bash) || exit 9\n\
         COMP_WORDS=({})\nCOMP_CWORD={}\n\
         _clap_complete_pandora pandora '{}' '{}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", path)
        .env("HOME", sandbox.home())
        .env("PANDORA_HOME", sandbox.pandora_home())
        .current_dir(sandbox.home())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_installed_packages_profiles_and_registries() {
    let sandbox = populated();
    for command in [
        &["remove"][..],
        &["activate"],
        &["deactivate"],
        &["graph"],
        &["info"],
        &["verify"],
        &["why"],
        &["upgrade"],
        &["run"],
    ] {
        let mut words = vec!["pandora"];
        words.extend_from_slice(command);
        words.push("t");
        let candidates = bash_complete(&sandbox, &words);
        assert!(
            candidates.contains(&"tool".to_string())
                && candidates.contains(&"tool@1.0.0".to_string()),
            "{command:?}: {candidates:?}"
        );
    }
    // verify also completes files.
    let files = bash_complete(&sandbox, &["pandora", "verify", "tool."]);
    assert!(files.contains(&"tool.psp".to_string()), "{files:?}");

    for words in [
        &["pandora", "profile", "switch", "w"][..],
        &["pandora", "profile", "delete", "w"],
        &["pandora", "profile", "history", "w"],
        &["pandora", "sync", "--profile", "w"],
    ] {
        let candidates = bash_complete(&sandbox, words);
        assert_eq!(candidates, ["work-profile"], "{words:?}");
    }
    let all = bash_complete(&sandbox, &["pandora", "profile", "switch", ""]);
    assert!(all.contains(&"default".to_string()), "{all:?}");

    for command in ["remove", "set"] {
        let registries = bash_complete(&sandbox, &["pandora", "registry", command, "m"]);
        assert_eq!(registries, ["mirror-one"], "{command}");
    }
    // Commands and flags complete as before.
    assert_eq!(bash_complete(&sandbox, &["pandora", "regi"]), ["registry"]);
    assert!(bash_complete(&sandbox, &["pandora", "install", "--no-"])
        .contains(&"--no-activate".to_string()));
}

#[test]
fn fish_and_zsh_scripts_use_the_same_entry_point() {
    let sandbox = populated();
    for shell in ["fish", "zsh", "elvish", "powershell"] {
        let script = sandbox.run(&["completions", shell]);
        script.success();
        assert!(
            script.stdout.contains("PANDORA_COMPLETE"),
            "{shell}: {}",
            script.stdout
        );
    }
    // What fish's script runs: `PANDORA_COMPLETE=fish pandora -- WORDS...`, one candidate a line
    // (with its description after a tab).
    let fish = sandbox.run_with(&["--", "pandora", "remove", "to"], |command| {
        command.env("PANDORA_COMPLETE", "fish");
    });
    fish.success();
    let values: Vec<&str> = fish
        .stdout
        .lines()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    assert!(values.contains(&"tool@1.0.0"), "{}", fish.stdout);
    // zsh's: the index of the word being completed in _CLAP_COMPLETE_INDEX.
    let zsh = sandbox.run_with(&["--", "pandora", "profile", "switch", "w"], |command| {
        command
            .env("PANDORA_COMPLETE", "zsh")
            .env("_CLAP_COMPLETE_INDEX", "3")
            .env("_CLAP_IFS", "\n");
    });
    zsh.success();
    assert!(zsh.stdout.contains("work-profile"), "{}", zsh.stdout);
}
