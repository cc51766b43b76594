//! Packages built by Pandora, run directly (`./app.psp`) and with `pandora run`: arguments,
//! exit codes, environment, the work-environment cache, trust policy and failures.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::{package_source, Sandbox, ECHO_SCRIPT};

/// Builds a package whose entry point is `script`, into `output`.
fn build(sandbox: &Sandbox, output: &Path, name: &str, script: &str, extra: &[(&str, &str)]) {
    let source = sandbox.home().join(format!(
        "src-{name}-{}",
        output.file_name().unwrap().to_string_lossy()
    ));
    let mut files = vec![("bin/run", script)];
    files.extend_from_slice(extra);
    package_source(
        &source,
        name,
        "1.0.0",
        Some("bin/run --from-manifest"),
        &files,
    );
    std::fs::write(
        source.join("manifest.acl"),
        format!("manifest {{\n    name = \"{name}\";\n    version = \"1.0.0\";\n    command = \"bin/run --from-manifest\";\n    env {{ GREETING = \"hello from {{package_name}} {{version}} in {{workenv}}\"; }}\n}}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    sandbox
        .build(&source, output, "launcher-tests", &[])
        .success();
}

/// Runs a package file directly, in the sandbox's environment.
fn run_package(
    sandbox: &Sandbox,
    package: &Path,
    args: &[&str],
    configure: impl FnOnce(&mut Command),
) -> support::Run {
    sandbox.run_file(package, args, |command| {
        command.env("PANDORA_LAUNCHER_DEBUG", "1");
        configure(command);
    })
}

fn cache_dirs(sandbox: &Sandbox) -> Vec<String> {
    let root = sandbox.home().join(".cache/pandora/workenv");
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|name| name != "files" && !name.ends_with(".lock"));
    names.sort();
    names
}

#[test]
fn arguments_exit_codes_and_environment_pass_through() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    let run = run_package(
        &sandbox,
        &package,
        &["a b", "--version", "--help", ""],
        |_| {},
    );
    run.success();
    let workenv = sandbox
        .home()
        .join(".cache/pandora/workenv")
        .join(&cache_dirs(&sandbox)[0]);
    assert_eq!(
        run.stdout,
        format!("args=5\narg=[--from-manifest]\narg=[a b]\narg=[--version]\narg=[--help]\narg=[]\ngreeting=hello from app 1.0.0 in {}\n", workenv.display())
    );
    for code in [0, 1, 42] {
        let run = run_package(&sandbox, &package, &[], |command| {
            command.env("EXIT_WITH", code.to_string());
        });
        assert_eq!(run.code, code, "{}", run.stderr);
    }
    // The same through `pandora run`.
    let run = sandbox.run_with(
        &["run", package.to_str().unwrap(), "x", "--verbose"],
        |command| {
            command.env("EXIT_WITH", "42");
        },
    );
    assert_eq!(run.code, 42, "{}", run.stderr);
    assert!(
        run.stdout.contains("arg=[x]\narg=[--verbose]\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn child_sees_flavor_variables_stdin_and_the_same_pid() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("env.psp");
    let script = "#!/bin/sh\necho \"pid=$$\"\necho \"workenv=$FLAVOR_WORKENV\"\necho \"name=$FLAVOR_COMMAND_NAME\"\necho \"original=$FLAVOR_ORIGINAL_COMMAND\"\necho \"path=${PATH%%:*}\"\nread line\necho \"stdin=$line\"\n";
    build(&sandbox, &package, "env", script, &[]);
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("echo \"outer=$$\"; exec {}", package.display()))
        .env("HOME", sandbox.home())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped text\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        field("outer"),
        field("pid"),
        "exec in place keeps the PID:\n{stdout}"
    );
    let workenv = field("workenv");
    assert!(workenv.contains("/.cache/pandora/workenv/"), "{stdout}");
    assert_eq!(field("name"), "env.psp");
    assert_eq!(field("original"), package.display().to_string());
    assert_eq!(field("path"), format!("{workenv}/bin"));
    assert_eq!(field("stdin"), "piped text");
}

#[test]
fn warm_start_reuses_and_changes_get_a_fresh_workenv() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("a/app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    let first = run_package(&sandbox, &package, &[], |_| {});
    assert!(first.stderr.contains("extracting"), "{}", first.stderr);
    let second = run_package(&sandbox, &package, &[], |_| {});
    second.success();
    assert!(
        second.stderr.contains("warm start") && !second.stderr.contains("extracting"),
        "{}",
        second.stderr
    );
    assert_eq!(cache_dirs(&sandbox).len(), 1);

    // Rebuilt with other content at the same path: a new work environment.
    build(
        &sandbox,
        &package,
        "app",
        &ECHO_SCRIPT.replace("args=", "ARGS="),
        &[],
    );
    let rebuilt = run_package(&sandbox, &package, &[], |_| {});
    assert!(rebuilt.stdout.starts_with("ARGS="), "{}", rebuilt.stdout);
    assert_eq!(cache_dirs(&sandbox).len(), 2);

    // Another package with the same file name does not share it.
    let other = sandbox.home().join("b/app.psp");
    build(
        &sandbox,
        &other,
        "other",
        &ECHO_SCRIPT.replace("args=", "other-args="),
        &[],
    );
    assert!(run_package(&sandbox, &other, &[], |_| {})
        .stdout
        .starts_with("other-args="));
    assert!(run_package(&sandbox, &package, &[], |_| {})
        .stdout
        .starts_with("ARGS="));
    assert_eq!(cache_dirs(&sandbox).len(), 3);

    // FLAVOR_WORKENV_CACHE=false forces a new extraction.
    let forced = run_package(&sandbox, &package, &[], |command| {
        command.env("FLAVOR_WORKENV_CACHE", "false");
    });
    forced.success();
    assert!(forced.stderr.contains("extracting"), "{}", forced.stderr);
    assert_eq!(
        cache_dirs(&sandbox).len(),
        3,
        "the old tree was replaced, not duplicated"
    );
}

#[test]
fn concurrent_cold_starts_extract_once() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(
        &sandbox,
        &package,
        "app",
        ECHO_SCRIPT,
        &[("share/data.bin", &"x".repeat(200_000))],
    );
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(&package)
                .env("HOME", sandbox.home())
                .env("PANDORA_LAUNCHER_DEBUG", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut extractions = 0;
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("args=1"));
        extractions += stderr.matches("extracting").count();
    }
    assert_eq!(extractions, 1);
    assert_eq!(
        cache_dirs(&sandbox).len(),
        1,
        "no staging directories left: {:?}",
        cache_dirs(&sandbox)
    );
}

fn slot_offset(package: &Path, slot: usize) -> u64 {
    let opened = pandora::format::package::Package::open(package).unwrap();
    let verified = opened
        .verified(pandora::format::package::Scope::Structure)
        .unwrap();
    verified.slots[slot].descriptor.offset
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0xFF;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_package_changed_after_its_first_run_is_verified_again() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    run_package(&sandbox, &package, &[], |_| {}).success();
    // Same metadata, so the same cache key; a slot byte differs.
    flip_byte(&package, slot_offset(&package, 0) + 10);
    let run = run_package(&sandbox, &package, &[], |_| {});
    assert_eq!(run.code, 111, "{}", run.stderr);
    assert!(run.stderr.contains("slot 0 (bin) sha256"), "{}", run.stderr);
    assert!(run.stderr.contains("verifying"), "{}", run.stderr);
}

#[test]
fn a_damaged_tree_is_extracted_again() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    run_package(&sandbox, &package, &[], |_| {}).success();
    let workenv = sandbox
        .home()
        .join(".cache/pandora/workenv")
        .join(&cache_dirs(&sandbox)[0]);
    std::fs::remove_file(workenv.join("bin/run")).unwrap();
    let run = run_package(&sandbox, &package, &[], |_| {});
    run.success();
    assert!(run.stderr.contains("extracting"), "{}", run.stderr);
}

#[test]
fn corrupt_packages_are_refused_and_leave_nothing() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    flip_byte(&package, slot_offset(&package, 0) + 10);
    let run = run_package(&sandbox, &package, &[], |_| {});
    assert_eq!(run.code, 111);
    let message = run
        .stderr
        .lines()
        .find(|line| !line.contains("extracting"))
        .unwrap();
    assert!(
        message.starts_with("pandora-launcher: ")
            && message.contains("app.psp")
            && message.contains("slot 0 (bin) sha256"),
        "{}",
        run.stderr
    );
    assert_eq!(
        cache_dirs(&sandbox),
        Vec::<String>::new(),
        "nothing half-extracted"
    );
}

#[test]
fn trust_policy() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    let warned = run_package(&sandbox, &package, &[], |_| {});
    warned.success();
    assert!(
        warned.stderr.contains("which is not trusted"),
        "{}",
        warned.stderr
    );
    // A warm start (nothing extracted again) warns all the same: every start, not the first.
    let again = run_package(&sandbox, &package, &[], |_| {});
    assert!(
        again.success().stderr.contains("which is not trusted"),
        "{}",
        again.stderr
    );

    let strict = |sandbox: &Sandbox, extra: &dyn Fn(&mut Command)| {
        run_package(sandbox, &package, &[], |command| {
            command.env("PANDORA_REQUIRE_TRUSTED", "1");
            extra(command);
        })
    };
    let fresh = Sandbox::new();
    let refused = strict(&fresh, &|_| {});
    assert_eq!(refused.code, 112, "{}", refused.stderr);
    assert_eq!(
        cache_dirs(&fresh),
        Vec::<String>::new(),
        "refused before extracting"
    );

    // Trusted through FlavorPack's directory of PEM keys...
    let key = pandora::format::signing::SigningKey::from_seed("launcher-tests");
    let flavor_keys = sandbox.home().join("flavor-keys");
    std::fs::create_dir_all(&flavor_keys).unwrap();
    std::fs::write(
        flavor_keys.join("tests.pub"),
        pandora::format::signing::public_key_pem(&key.public_key()),
    )
    .unwrap();
    let via_flavor = strict(&fresh, &|command| {
        command.env("FLAVOR_TRUSTED_KEYS_DIR", &flavor_keys);
    });
    via_flavor.success();
    assert!(!via_flavor.stderr.contains("not trusted"));
    // ...and through Pandora's own.
    let trusted = sandbox.pandora_home().join("keys/trusted");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::copy(flavor_keys.join("tests.pub"), trusted.join("tests.pub")).unwrap();
    strict(&sandbox, &|_| {}).success();
}

#[test]
fn spawn_mode_forwards_the_exit_code() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    let run = run_package(&sandbox, &package, &["x"], |command| {
        command
            .env("FLAVOR_EXEC_MODE", "spawn")
            .env("EXIT_WITH", "7");
    });
    assert_eq!(run.code, 7);
    assert!(run.stdout.contains("arg=[x]"));
}

#[test]
fn unwritable_cache_is_a_clear_error() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(&sandbox, &package, "app", ECHO_SCRIPT, &[]);
    let not_a_directory = sandbox.home().join("plain-file");
    std::fs::write(&not_a_directory, "").unwrap();
    let run = run_package(&sandbox, &package, &[], |command| {
        command.env("XDG_CACHE_HOME", &not_a_directory);
    });
    assert_eq!(run.code, 113, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot prepare the work environment"),
        "{}",
        run.stderr
    );
}

#[test]
fn maintenance_mode() {
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("app.psp");
    build(
        &sandbox,
        &package,
        "app",
        ECHO_SCRIPT,
        &[("share/doc.txt", "docs\n")],
    );
    let cli = |args: &[&str]| {
        run_package(&sandbox, &package, args, |command| {
            command.env("FLAVOR_LAUNCHER_CLI", "1");
        })
    };
    assert!(cli(&["version"]).stdout.starts_with("pandora-launcher "));
    let info = cli(&[]);
    assert!(
        info.stdout.contains("package   app 1.0.0"),
        "{}",
        info.stdout
    );
    let verify = cli(&["verify"]);
    verify.success();
    assert!(
        verify.stdout.contains("ok    signature"),
        "{}",
        verify.stdout
    );
    assert!(cli(&["metadata"])
        .stdout
        .starts_with("{\"format\":\"PSPF/2025\""));
    let out = sandbox.home().join("slot1");
    cli(&["extract", "1", out.to_str().unwrap()]).success();
    assert_eq!(
        std::fs::read_to_string(out.join("share/doc.txt")).unwrap(),
        "docs\n"
    );
    assert_eq!(cli(&["frobnicate"]).code, 2);
    let run = cli(&["run", "--version"]);
    assert!(run.stdout.contains("arg=[--version]"), "{}", run.stdout);
}

#[test]
fn library_packages_have_nothing_to_run() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("lib-src");
    package_source(
        &source,
        "libdemo",
        "1.0.0",
        None,
        &[("lib/libdemo.txt", "lib")],
    );
    let package: PathBuf = sandbox.home().join("lib.psp");
    sandbox.build(&source, &package, "x", &[]).success();
    let run = sandbox.run(&["run", package.to_str().unwrap()]);
    assert_eq!(run.code, 114);
    assert!(
        run.stderr.contains("has no command to run"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_program_gets_sigpipe_at_its_default() {
    // The launcher ignores SIGPIPE itself (its output into a closed pipe is an error it
    // handles); the program it execs must not inherit that, or `prog | head` never ends it.
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("signals.psp");
    build(
        &sandbox,
        &package,
        "signals",
        "#!/bin/sh\nsed -n 's/^SigIgn:[[:space:]]*//p' /proc/$$/status\n",
        &[],
    );
    let run = run_package(&sandbox, &package, &[], |_| {});
    run.success();
    let ignored = u64::from_str_radix(run.stdout.trim(), 16).expect(&run.stdout);
    assert_eq!(ignored & (1 << (13 - 1)), 0, "SIGPIPE ignored: {ignored:x}");
}

#[test]
fn a_closed_stdout_is_the_programs_to_see_not_the_work_environment() {
    // Without a runtime start-up opening /dev/null there, the launcher's hold on the work
    // environment (a directory kept open across the exec) took the closed descriptor's number.
    let sandbox = Sandbox::new();
    let package = sandbox.home().join("fds.psp");
    build(
        &sandbox,
        &package,
        "fds",
        "#!/bin/sh\nfor fd in 0 1 2; do [ -d /proc/$$/fd/$fd ] && echo \"$fd is a directory\"; done >> \"$RESULT\"\necho done >> \"$RESULT\"\n",
        &[],
    );
    let result = sandbox.home().join("result");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {} <&- >&- 2>&-", package.display()))
        .env("HOME", sandbox.home())
        .env("RESULT", &result)
        .status()
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read_to_string(&result).unwrap(), "done\n");
}
