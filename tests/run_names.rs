//! `pandora run NAME[@VERSION] ARGS...`: an installed package runs from the file it was
//! installed from; one that is not installed is fetched into the blob cache and run without
//! touching the store or any profile; arguments and the exit code pass through untouched.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::registry::fixture;
use support::Sandbox;

/// Everything under `store/`, `records/`, `profiles/` and `manifests/`, and where `vir` leads.
fn state(sandbox: &Sandbox) -> Vec<String> {
    let home = sandbox.pandora_home();
    let mut seen: Vec<String> = ["store", "records", "profiles", "manifests"]
        .iter()
        .flat_map(|dir| support::files_under(&home.join(dir)))
        .map(|path| path.display().to_string())
        .collect();
    seen.push(format!("{:?}", std::fs::read_link(home.join("vir")).ok()));
    seen.sort();
    seen
}

#[test]
fn an_installed_package_runs_by_name_with_its_arguments_and_exit_code() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    sandbox.run(&["install", "--yes", "hello"]).success();
    let before = state(sandbox);
    let run = sandbox.run_with(&["run", "hello", "--help", "a b", "-v", "--"], |command| {
        command.env("EXIT_WITH", "7");
    });
    run.failure(7);
    assert_eq!(
        run.stdout,
        "args=4\narg=[--help]\narg=[a b]\narg=[-v]\narg=[--]\ngreeting=\n"
    );
    // Installed: nothing fetched, nothing changed.
    assert!(!run.stderr.contains("Fetched"), "{}", run.stderr);
    assert_eq!(state(sandbox), before);
    let run = sandbox.run(&["run", "hello@1.1.0", "x"]);
    assert_eq!(run.success().stdout, "args=1\narg=[x]\ngreeting=\n");

    // Its package file gone from the blob cache: said so, with the way back.
    for blob in support::files_under(&sandbox.pandora_home().join("blobs")) {
        std::fs::remove_file(blob).unwrap();
    }
    let run = sandbox.run(&["run", "hello"]);
    run.failure(1);
    assert!(
        run.stderr.contains("no longer in the blob cache")
            && run
                .stderr
                .contains("pandora install --reinstall --no-activate hello@1.1.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_package_that_is_not_installed_runs_without_touching_store_or_profile() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let before = state(sandbox);
    let run = sandbox.run(&["run", "hello", "one", "two"]);
    assert_eq!(
        run.success().stdout,
        "args=2\narg=[one]\narg=[two]\ngreeting=\n"
    );
    assert!(
        run.stderr
            .contains("Fetched hello@1.1.0 from registry `fixtures`"),
        "{}",
        run.stderr
    );
    assert_eq!(state(sandbox), before);
    assert!(sandbox.run(&["list", "--store"]).stdout.is_empty());

    // By exact version; and a package whose dependency no registry has still runs: a .psp
    // is self-contained.
    let run = sandbox.run(&["run", "libgreet@2.0.0"]);
    assert_eq!(run.success().stdout, "libgreet\n");
    let run = sandbox.run_with(&["run", "tool", "z"], |command| {
        command.env("EXIT_WITH", "4");
    });
    run.failure(4);
    assert_eq!(run.stdout, "args=1\narg=[z]\ngreeting=\n");
    assert_eq!(state(sandbox), before);
    // The second run of the same package needs no download, and says it used the cache.
    let run = sandbox.run(&["run", "hello"]);
    assert!(
        run.success()
            .stderr
            .contains("Cached hello@1.1.0 from registry `fixtures` (nothing downloaded)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Fetched"), "{}", run.stderr);
}

#[test]
fn unknown_names_and_versions_are_clear_errors() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let run = sandbox.run(&["run", "nosuch", "--help"]);
    run.failure(1);
    assert!(
        run.stderr
            .contains("error: nosuch is not in any configured registry"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: "), "{}", run.stderr);
    let run = sandbox.run(&["run", "hello@9.9.9"]);
    run.failure(1);
    assert!(
        run.stderr.contains("available versions of hello: 1.1.0"),
        "{}",
        run.stderr
    );
    // Neither a file nor a name: a usage error.
    let run = sandbox.run(&["run", "Not A Name"]);
    run.failure(2);
    assert!(
        run.stderr
            .contains("is neither a package file nor a package name"),
        "{}",
        run.stderr
    );
    // No registries: says so.
    let bare = Sandbox::new();
    let run = bare.run(&["run", "hello"]);
    run.failure(1);
    assert!(
        run.stderr.contains("no registries are configured"),
        "{}",
        run.stderr
    );
}

#[test]
fn keys_a_registry_vouches_for_let_run_start_under_the_strict_policy_as_install_does() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    let strict = |args: &[&str]| {
        sandbox.run_with(args, |command| {
            command.env("PANDORA_REQUIRE_TRUSTED", "1");
        })
    };
    // Not installed: fetched, vouched for by the registry's configured keys, run.
    let fetched = strict(&["run", "hello", "x"]);
    assert!(
        fetched.success().stdout.contains("arg=[x]"),
        "{}",
        fetched.stderr
    );
    // Installed from that registry: the same.
    strict(&["install", "--yes", "hello"]).success();
    let installed = strict(&["run", "hello", "y"]);
    assert!(
        installed.success().stdout.contains("arg=[y]"),
        "{}",
        installed.stderr
    );
    // A file's signer is vouched for by nobody: refused, as the launcher refuses it.
    let file = sandbox.home().join("copy.psp");
    std::fs::copy(fixture.registry.join("pkgs/hello-1.1.0.psp"), &file).unwrap();
    strict(&["run", file.to_str().unwrap()]).failure(112);
}

#[test]
fn offline_runs_from_the_cached_index_and_flags_after_the_package_are_the_programs() {
    let fixture = fixture();
    let sandbox = &fixture.sandbox;
    // The index is cached; the package file too once it has run.
    sandbox.run(&["run", "hello"]).success();
    drop(fixture.server);
    let offline = sandbox.run(&["run", "--offline", "hello", "--offline"]);
    assert!(
        offline.success().stdout.contains("arg=[--offline]"),
        "{}",
        offline.stderr
    );
    let clash = sandbox.run(&["run", "--offline", "--refresh", "hello"]);
    clash.failure(2);
}
