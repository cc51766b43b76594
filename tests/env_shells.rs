//! `pandora env --shell bash|zsh|fish|nu|sh`: each output, run by its shell where it is
//! installed, puts the profile first and keeps the system's defaults (man's default path through
//! an empty MANPATH entry, XDG_DATA_DIRS' `/usr/local/share:/usr/share`).
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::path::Path;
use std::process::Command;

use support::Sandbox;

/// Where `program` is on PATH, if anywhere.
fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|directory| directory.join(program).is_file())
    })
}

/// Runs `script` with `shell` (absent MANPATH and XDG_DATA_DIRS, PATH set) and returns the
/// three lines it prints: PATH, MANPATH, XDG_DATA_DIRS.
fn evaluate(shell: &str, arguments: &[&str], script: &str) -> Vec<String> {
    let output = Command::new(shell)
        .args(arguments)
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn check(vir: &Path, lines: &[String]) {
    let vir = vir.display();
    assert_eq!(
        lines,
        [
            format!("{vir}/bin:/usr/bin:/bin"),
            format!("{vir}/share/man:"),
            format!("{vir}/share:/usr/local/share:/usr/share"),
        ],
    );
}

#[test]
fn every_shell_gets_lines_it_runs() {
    let sandbox = Sandbox::new();
    // A home with a space, a quote and a dollar: quoting must hold.
    let home = sandbox.home().join("my \"odd\" $home");
    std::fs::create_dir_all(&home).unwrap();
    let vir = home.join("vir");
    let env = |shell: &str| {
        let run = sandbox.run(&["--home", home.to_str().unwrap(), "env", "--shell", shell]);
        run.success();
        assert!(run.stdout.starts_with("# Pandora"), "{}", run.stdout);
        run.stdout
    };
    let posix = "printf '%s\\n' \"$PATH\" \"$MANPATH\" \"$XDG_DATA_DIRS\"";
    for shell in ["sh", "bash", "zsh"] {
        let text = env(shell);
        assert!(text.contains("${MANPATH:-}"), "{text}");
        assert!(text.contains("${XDG_DATA_DIRS:-/usr/local/share:/usr/share}"));
        let program = if shell == "sh" { "sh" } else { shell };
        if installed(program) {
            check(&vir, &evaluate(program, &["-c"], &format!("{text}{posix}")));
        } else {
            eprintln!("{program} is not installed: checked the text only");
        }
    }

    let fish = env("fish");
    assert!(fish.contains("set -gx --prepend PATH"), "{fish}");
    assert!(fish.contains("\"\"; end"), "{fish}");
    assert!(fish.contains("/usr/local/share /usr/share"), "{fish}");
    if installed("fish") {
        let script = format!("{fish}\nprintf '%s\\n' \"$PATH\" \"$MANPATH\" \"$XDG_DATA_DIRS\"");
        check(&vir, &evaluate("fish", &["-c"], &script));
    } else {
        eprintln!("fish is not installed: checked the text only");
    }

    let nu = env("nu");
    assert!(
        nu.contains("$env.PATH = ($env.PATH | split row (char esep) | prepend"),
        "{nu}"
    );
    assert!(
        nu.contains("default \"/usr/local/share:/usr/share\""),
        "{nu}"
    );
    assert!(nu.contains("$env.MANPATH? | default \"\""), "{nu}");
    if installed("nu") {
        let script = format!(
            "{nu}\nprint ($env.PATH | str join (char esep)); print $env.MANPATH; print $env.XDG_DATA_DIRS"
        );
        check(&vir, &evaluate("nu", &["-n", "-c"], &script));
    } else {
        eprintln!("nu is not installed: checked the text only");
    }

    // The default comes from $SHELL.
    for (login, marker) in [("/usr/bin/fish", "set -gx"), ("/bin/zsh", "export PATH=")] {
        let run = sandbox.run_with(&["env"], |command| {
            command.env("SHELL", login);
        });
        assert!(
            run.success().stdout.contains(marker),
            "{login}: {}",
            run.stdout
        );
    }
}
