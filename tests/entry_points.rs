//! Entry points: an installed, activated package runs from `~/bin` exactly as its `.psp` runs
//! (same output, exit code and working directory), for Pandora's packages and FlavorPack's;
//! named entry points; libraries get none; deactivation and rollback take them away; a record
//! is honoured only where Pandora wrote it.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{flavorpack, package_source, Run, Sandbox};

/// Shows everything a program can tell about how it was started that does not depend on where
/// its files are: the variables set from `{workenv}` are followed to what they name.
const SCRIPT: &str = r#"#!/bin/sh
echo "greeting=$GREETING"
echo "data=$(cat "$DATA_FILE")"
echo "workenv-data=$(cat "$FLAVOR_WORKENV/share/data.txt")"
echo "helper=$(helper)"
echo "cwd=$(pwd)"
echo "args=$#"
for arg in "$@"; do echo "arg=[$arg]"; done
echo "kept=${KEPT-unset}"
exit ${EXIT_WITH:-0}
"#;

const HELPER: &str = "#!/bin/sh\necho \"helper from the package's bin, first on PATH\"\n";

/// A Pandora package with a command, env set from placeholders, a helper found on `PATH`.
fn pandora_source(directory: &Path, name: &str, version: &str, extra: &str) {
    package_source(
        directory,
        name,
        version,
        None,
        &[
            ("bin/app", SCRIPT),
            ("bin/helper", HELPER),
            ("share/data.txt", "data from the package"),
        ],
    );
    std::fs::write(
        directory.join("manifest.acl"),
        format!(
            "manifest {{\n    string name = \"{name}\";\n    string version = \"{version}\";\n    string command = \"bin/app --from '{{package_name}} {{version}}'\";\n    env {{\n        GREETING = \"hello from {{package_name}} {{version}}\";\n        DATA_FILE = \"{{workenv}}/share/data.txt\";\n    }}\n{extra}}}\n"
        ),
    )
    .unwrap();
}

fn build(sandbox: &Sandbox, source: &Path, name: &str) -> PathBuf {
    let output = sandbox.home().join(format!("{name}.psp"));
    sandbox.build(source, &output, "publisher", &[]).success();
    output
}

fn run_in(sandbox: &Sandbox, program: &Path, args: &[&str], directory: &Path) -> Run {
    sandbox.run_file(program, args, |command| {
        command
            .current_dir(directory)
            .env("EXIT_WITH", "7")
            .env("KEPT", "from the caller");
    })
}

fn bin(sandbox: &Sandbox, name: &str) -> PathBuf {
    sandbox.home().join("bin").join(name)
}

#[test]
fn a_pandora_package_runs_from_home_bin_as_its_psp_runs() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-app");
    pandora_source(&source, "app", "1.2.0", "");
    let package = build(&sandbox, &source, "app");
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let directory = sandbox.home().join("somewhere else");
    std::fs::create_dir_all(&directory).unwrap();
    let args = ["two words", "--flag", "*"];
    let expected = run_in(&sandbox, &package, &args, &directory);
    assert_eq!(expected.code, 7, "{}", expected.stderr);
    assert!(
        expected.stdout.contains("greeting=hello from app 1.2.0\n")
            && expected.stdout.contains("arg=[app 1.2.0]\narg=[two words]")
            && expected
                .stdout
                .contains("helper=helper from the package's bin")
            && expected.stdout.contains("data=data from the package"),
        "{}",
        expected.stdout
    );
    let installed = run_in(&sandbox, &bin(&sandbox, "app"), &args, &directory);
    assert_eq!(
        (installed.code, &installed.stdout),
        (expected.code, &expected.stdout),
        "{}",
        installed.stderr
    );
    assert!(
        installed
            .stdout
            .contains(&format!("cwd={}\n", directory.display())),
        "{}",
        installed.stdout
    );
    // `{workenv}` is the read-only store entry.
    let store = sandbox.pandora_home().join("store/app@1.2.0");
    let link = std::fs::read_link(sandbox.pandora_home().join("vir/bin/app")).unwrap();
    assert!(
        link.to_string_lossy().contains("entries/app@1.2.0/app"),
        "{link:?}"
    );
    assert!(store.join("bin/app").is_file());
    // The entry point is the launcher, hard-linked: one copy per home.
    let entry = std::fs::metadata(sandbox.pandora_home().join("entries/app@1.2.0/app")).unwrap();
    assert!(entry.nlink() >= 2, "{}", entry.nlink());
    assert_eq!(entry.mode() & 0o222, 0);
}

/// FlavorPack's fixture: runtime.env (unset, pass, map, set), workenv.env, execution.env, a
/// `{slot:N}` placeholder, and work-environment directories (relative and `{workenv}/...`)
/// that the program writes into.
fn flavorpack_manifest(directory: &Path) -> serde_json::Value {
    let tree = directory.join("tree");
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(
        tree.join("bin/fpenv"),
        r#"#!/bin/sh
echo "greeting=$GREETING"
echo "mode=$MODE"
echo "secret_token=${SECRET_TOKEN-unset} secret_ok=${SECRET_OK-unset}"
echo "old=${OLD_NAME-unset} new=${NEW_NAME-unset}"
echo "tmp-is-in-workenv=$(test "$APP_TMP" = "$FLAVOR_WORKENV/tmp" && echo yes)"
echo "data=$(cat "$DATA_FILE") slot=$(cat "$SLOT_FILE")"
for d in cache state/db tmp; do
  if echo "$d" > "$FLAVOR_WORKENV/$d/probe" 2>/dev/null; then echo "$d: wrote $(cat "$FLAVOR_WORKENV/$d/probe")"; else echo "$d: not writable"; fi
done
echo "cwd=$(pwd)"
echo "args=$#"
for arg in "$@"; do echo "arg=[$arg]"; done
exit ${EXIT_WITH:-0}
"#,
    )
    .unwrap();
    std::fs::set_permissions(
        tree.join("bin/fpenv"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(directory.join("raw.txt"), "raw slot").unwrap();
    assert!(Command::new("tar")
        .args(["czf", "payload.tgz", "-C", "tree", "bin"])
        .current_dir(directory)
        .status()
        .unwrap()
        .success());
    serde_json::json!({
        "package": {"name": "fpenv", "version": "3.1.0", "description": "FlavorPack env ops"},
        "execution": {
            "command": "{workenv}/bin/fpenv --from {package_name}-{version}",
            "env": {"GREETING": "hi from {package_name} {version}", "DATA_FILE": "{workenv}/data/raw.txt", "SLOT_FILE": "{slot:1}"}
        },
        "runtime": {"env": {"unset": ["SECRET_*"], "pass": ["SECRET_OK"], "map": {"OLD_NAME": "NEW_NAME"}, "set": {"MODE": "fast"}}},
        "workenv": {
            "directories": [{"path": "cache"}, {"path": "{workenv}/state/db", "mode": "0700"}, {"path": "{workenv}/tmp"}],
            "env": {"APP_TMP": "{workenv}/tmp"}
        },
        "slots": [
            {"id": "payload", "source": directory.join("payload.tgz"), "operations": "tgz", "purpose": "payload", "lifecycle": "runtime", "target": "{workenv}"},
            {"id": "raw", "source": directory.join("raw.txt"), "operations": "none", "purpose": "payload", "lifecycle": "runtime", "target": "data/raw.txt", "permissions": "0644"}
        ]
    })
}

#[test]
fn a_flavorpack_package_runs_from_home_bin_as_under_flavorpacks_own_launcher() {
    let sandbox = Sandbox::new();
    let fp = flavorpack();
    let directory = sandbox.home().join("fp-src");
    std::fs::create_dir_all(&directory).unwrap();
    let manifest = directory.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec_pretty(&flavorpack_manifest(&directory)).unwrap(),
    )
    .unwrap();
    let package = sandbox.home().join("fpenv.psp");
    let built = Command::new(&fp.rs_builder)
        .arg("-m")
        .arg(&manifest)
        .arg("-o")
        .arg(&package)
        .arg("--launcher-bin")
        .arg(&fp.rs_launcher)
        .args(["--key-seed", "interop", "--log-level", "error"])
        .current_dir(&directory)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let workdir = sandbox.home().join("work");
    std::fs::create_dir_all(&workdir).unwrap();
    let run = |program: &Path| {
        sandbox.run_file(program, &["two words", "-x"], |command| {
            command
                .current_dir(&workdir)
                .env("EXIT_WITH", "42")
                .env("SECRET_TOKEN", "t")
                .env("SECRET_OK", "ok")
                .env("OLD_NAME", "o");
        })
    };
    // FlavorPack's own launcher, its own cache under this HOME.
    let expected = run(&package);
    assert_eq!(expected.code, 42, "{}", expected.stderr);
    for line in [
        "greeting=hi from fpenv 3.1.0\n",
        "mode=fast\n",
        "secret_token=unset secret_ok=ok\n",
        "old=unset new=o\n",
        "tmp-is-in-workenv=yes\n",
        "data=raw slot slot=raw slot\n",
        "cache: wrote cache\nstate/db: wrote state/db\ntmp: wrote tmp\n",
        "arg=[--from]\narg=[fpenv-3.1.0]\narg=[two words]\narg=[-x]\n",
    ] {
        assert!(
            expected.stdout.contains(line),
            "{line}\n{}",
            expected.stdout
        );
    }

    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let installed = run(&bin(&sandbox, "fpenv"));
    assert_eq!(
        (installed.code, &installed.stdout),
        (expected.code, &expected.stdout),
        "{}",
        installed.stderr
    );
    // The writable directories live outside the read-only store, in var/NAME@VERSION/.
    let var = sandbox.pandora_home().join("var/fpenv@3.1.0");
    assert_eq!(support::read(&var.join("cache/probe")), "cache\n");
    assert_eq!(support::read(&var.join("state/db/probe")), "state/db\n");
    let mode = std::fs::metadata(var.join("state/db")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let store = sandbox.pandora_home().join("store/fpenv@3.1.0");
    assert_eq!(
        std::fs::read_link(store.join("cache")).unwrap(),
        Path::new("../../var/fpenv@3.1.0/cache")
    );
    // `verify` agrees: the links are part of the recorded entry.
    sandbox.run(&["verify", "--all"]).success();
    // Deleted, a writable directory comes back on the next start.
    std::fs::remove_dir_all(var.join("cache")).unwrap();
    assert_eq!(run(&bin(&sandbox, "fpenv")).stdout, expected.stdout);
}

#[test]
fn flavor_workenv_dir_chooses_where_writable_directories_go() {
    let sandbox = Sandbox::new();
    let directory = sandbox.home().join("fp-src");
    std::fs::create_dir_all(&directory).unwrap();
    let manifest = directory.join("manifest.json");
    std::fs::write(
        &manifest,
        serde_json::to_vec_pretty(&flavorpack_manifest(&directory)).unwrap(),
    )
    .unwrap();
    let fp = flavorpack();
    let package = sandbox.home().join("fpenv.psp");
    assert!(Command::new(&fp.rs_builder)
        .arg("-m")
        .arg(&manifest)
        .arg("-o")
        .arg(&package)
        .arg("--launcher-bin")
        .arg(&fp.rs_launcher)
        .args(["--key-seed", "interop", "--log-level", "error"])
        .current_dir(&directory)
        .status()
        .unwrap()
        .success());
    let state = sandbox.home().join("state");
    sandbox
        .run_with(
            &["install", "--yes", package.to_str().unwrap()],
            |command| {
                command.env("FLAVOR_WORKENV_DIR", &state);
            },
        )
        .success();
    let run = sandbox.run_file(&bin(&sandbox, "fpenv"), &[], |_| {});
    assert!(
        run.stdout.contains("cache: wrote cache"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        support::read(&state.join("fpenv@3.1.0/cache/probe")),
        "cache\n"
    );
    assert!(!sandbox.pandora_home().join("var/fpenv@3.1.0").exists());
}

#[test]
fn named_entry_points_each_run_their_own_command_and_env() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-tool");
    pandora_source(
        &source,
        "tool",
        "1.0.0",
        "    entry \"tool-loud\" {\n        string command = \"bin/app LOUD\";\n        env { GREETING = \"LOUD {package_name}\"; }\n    }\n    entry \"tool-helper\" { string command = \"bin/helper\"; }\n",
    );
    let package = build(&sandbox, &source, "tool");
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let home = sandbox.home();
    let default = run_in(&sandbox, &bin(&sandbox, "tool"), &["x"], &home);
    assert!(
        default.stdout.contains("greeting=hello from tool 1.0.0\n")
            && default.stdout.contains("arg=[tool 1.0.0]\narg=[x]"),
        "{}{}",
        default.stdout,
        default.stderr
    );
    let loud = run_in(&sandbox, &bin(&sandbox, "tool-loud"), &["y"], &home);
    assert_eq!(loud.code, 7, "{}", loud.stderr);
    assert!(
        loud.stdout.contains("greeting=LOUD tool\n")
            // The package's other variables still hold.
            && loud.stdout.contains("data=data from the package\n")
            && loud.stdout.contains("args=2\narg=[LOUD]\narg=[y]\n"),
        "{}",
        loud.stdout
    );
    let helper = sandbox.run_file(&bin(&sandbox, "tool-helper"), &[], |_| {});
    assert_eq!(
        helper.stdout,
        "helper from the package's bin, first on PATH\n"
    );
    // The package's own bin/app is still linked as it is.
    let raw = std::fs::read_link(sandbox.pandora_home().join("vir/bin/app")).unwrap();
    assert!(
        raw.to_string_lossy().contains("store/tool@1.0.0/bin/app"),
        "{raw:?}"
    );
}

#[test]
fn an_entry_point_takes_bin_name_over_the_packages_own_file() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-hello");
    package_source(
        &source,
        "hello",
        "1.0.0",
        Some("libexec/real"),
        &[
            ("bin/hello", "#!/bin/sh\necho raw file\n"),
            (
                "libexec/real",
                "#!/bin/sh\necho \"entry point in $(basename \"$FLAVOR_WORKENV\")\"\n",
            ),
        ],
    );
    let package = build(&sandbox, &source, "hello");
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let run = sandbox.run_file(&bin(&sandbox, "hello"), &[], |_| {});
    assert_eq!(run.stdout, "entry point in hello@1.0.0\n", "{}", run.stderr);
}

#[test]
fn a_library_gets_no_entry_point() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-lib");
    package_source(
        &source,
        "libthing",
        "1.0.0",
        None,
        &[
            ("lib/libthing.so", "so"),
            ("bin/thing-config", "#!/bin/sh\necho cfg\n"),
        ],
    );
    let package = build(&sandbox, &source, "libthing");
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    assert!(!sandbox
        .pandora_home()
        .join("entries/libthing@1.0.0")
        .exists());
    assert!(!bin(&sandbox, "libthing").exists());
    // Its own files are linked as before.
    let run = sandbox.run_file(&bin(&sandbox, "thing-config"), &[], |_| {});
    assert_eq!(run.stdout, "cfg\n");
}

#[test]
fn deactivate_and_rollback_take_entry_points_away_and_back() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-app");
    pandora_source(&source, "app", "1.0.0", "");
    let package = build(&sandbox, &source, "app");
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let entry = bin(&sandbox, "app");
    assert!(entry.exists());
    sandbox.run(&["deactivate", "app"]).success();
    assert!(!entry.exists());
    sandbox.run(&["rollback"]).success();
    assert!(entry.exists());
    let run = sandbox.run_file(&entry, &[], |_| {});
    assert!(run.stdout.contains("greeting=hello from app 1.0.0"));
    sandbox.run(&["rollback", "--forward"]).success();
    assert!(!entry.exists());
    // Removed from the store, its entry points go with it.
    sandbox.run(&["remove", "--yes", "app@1.0.0"]).success();
    assert!(!sandbox.pandora_home().join("entries/app@1.0.0").exists());
    // The home's launcher copy, linked by no entry point now, goes with `prune`.
    let launchers = || {
        std::fs::read_dir(sandbox.pandora_home().join("entries"))
            .unwrap()
            .flatten()
            .filter(|entry| {
                entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".launcher-")
            })
            .count()
    };
    assert_eq!(launchers(), 1);
    sandbox.run(&["prune", "--yes"]).success();
    assert_eq!(launchers(), 0);
}

#[test]
fn entry_point_conflicts_follow_the_conflict_rules() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-dup");
    pandora_source(&source, "dup", "1.0.0", "");
    let package = build(&sandbox, &source, "dup");
    sandbox
        .run(&["install", "--no-activate", package.to_str().unwrap()])
        .success();
    // A second package whose entry point has the same name as the first's.
    let source = sandbox.home().join("src-other");
    pandora_source(
        &source,
        "other",
        "1.0.0",
        "    entry \"dup\" { string command = \"bin/helper\"; }\n",
    );
    let other = build(&sandbox, &source, "other");
    sandbox
        .run(&["install", "--no-activate", other.to_str().unwrap()])
        .success();
    sandbox.run(&["activate", "dup@1.0.0"]).success();
    let refused = sandbox.run(&["activate", "other@1.0.0"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("bin/dup"), "{}", refused.stderr);
    sandbox
        .run(&["activate", "other@1.0.0", "--prefer", "new"])
        .success();
    let run = sandbox.run_file(&bin(&sandbox, "dup"), &[], |_| {});
    assert_eq!(run.stdout, "helper from the package's bin, first on PATH\n");
    // --namespace keeps both: the other package's entry point is bin/other-1.0.0/dup.
    sandbox.run(&["deactivate", "other"]).success();
    sandbox
        .run(&["activate", "other@1.0.0", "--namespace"])
        .success();
    let namespaced = sandbox.home().join("bin/other-1.0.0/dup");
    let run = sandbox.run_file(&namespaced, &[], |_| {});
    assert_eq!(
        run.stdout, "helper from the package's bin, first on PATH\n",
        "{}",
        run.stderr
    );
    let run = sandbox.run_file(&bin(&sandbox, "dup"), &[], |_| {});
    assert!(
        run.stdout.contains("greeting=hello from dup 1.0.0"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn a_record_is_honoured_only_where_pandora_wrote_it() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("src-app");
    pandora_source(&source, "app", "1.0.0", "");
    let package = build(&sandbox, &source, "app");
    // A package downloaded next to somebody's record for it: it runs as itself.
    let downloads = sandbox.home().join("Downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let copy = downloads.join("app");
    std::fs::copy(&package, &copy).unwrap();
    let hijack = r#"{"format":1,"name":"app","version":"1.0.0","command":"/bin/echo HIJACKED","runtime_env":{},"key":"ed25519:0000000000000000000000000000000000000000000000000000000000000000"}"#;
    std::fs::write(downloads.join(".app.entry"), hijack).unwrap();
    std::fs::set_permissions(
        downloads.join(".app.entry"),
        std::fs::Permissions::from_mode(0o444),
    )
    .unwrap();
    std::fs::set_permissions(&downloads, std::fs::Permissions::from_mode(0o555)).unwrap();
    let run = sandbox.run_file(&copy, &[], |_| {});
    assert!(!run.stdout.contains("HIJACKED"), "{}", run.stdout);
    assert!(
        run.stdout.contains("greeting=hello from app 1.0.0"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    std::fs::set_permissions(&downloads, std::fs::Permissions::from_mode(0o755)).unwrap();

    // An entry point whose record others could have written refuses to start.
    sandbox
        .run(&["install", "--yes", package.to_str().unwrap()])
        .success();
    let entries = sandbox.pandora_home().join("entries/app@1.0.0");
    std::fs::set_permissions(&entries, std::fs::Permissions::from_mode(0o775)).unwrap();
    let record = entries.join(".app.entry");
    std::fs::set_permissions(&record, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = sandbox.run_file(&bin(&sandbox, "app"), &[], |_| {});
    assert_eq!(refused.code, 113, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stdout.is_empty());
    assert!(refused.stderr.contains(".app.entry"), "{}", refused.stderr);
}
