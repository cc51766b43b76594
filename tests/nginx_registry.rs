//! A registry served by a real web server: Debian's nginx on 127.0.0.1 (started by
//! `registry-fixtures/nginx.sh`), so the client is tested against nginx's own headers, ranges
//! and ETags, and `registry metrics` against its real access log.
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use support::nginx::Nginx;
use support::registry::{configure_url, index, publish};
use support::{Sandbox, ECHO_SCRIPT};

/// libgreet, hello needing it, and beta: all three start with the same launcher.
fn registry(sandbox: &Sandbox) -> std::path::PathBuf {
    let registry = sandbox.home().join("registry");
    publish(
        sandbox,
        &registry,
        "libgreet",
        "2.0.0",
        &[],
        "#!/bin/sh\necho libgreet\n",
    );
    publish(
        sandbox,
        &registry,
        "hello",
        "1.1.0",
        &["libgreet@2.0.0"],
        ECHO_SCRIPT,
    );
    publish(
        sandbox,
        &registry,
        "beta",
        "1.0.0",
        &[],
        "#!/bin/sh\necho beta\n",
    );
    index(sandbox, &registry, &[]);
    registry
}

fn requests_matching(nginx: &Nginx, request: &str, status: u16) -> usize {
    let needle = format!("\"{request} HTTP/1.1\" {status} ");
    nginx
        .requests()
        .iter()
        .filter(|line| line.contains(&needle))
        .count()
}

#[test]
fn install_through_nginx_then_count_its_access_log() {
    let sandbox = Sandbox::new();
    let registry = registry(&sandbox);
    let Some(nginx) = Nginx::start(&registry) else {
        return;
    };
    configure_url(&sandbox, &nginx.url());

    sandbox.run(&["install", "--yes", "hello"]).success();
    let hello = sandbox.run(&["run", "hello", "through", "nginx"]);
    hello.success();
    assert!(hello.stdout.contains("arg=[through]"), "{}", hello.stdout);
    // The two start with the launcher beside this `pandora`, which never travels: both come
    // from after it.
    let whole = ["hello-1.1.0", "libgreet-2.0.0"]
        .map(|file| requests_matching(&nginx, &format!("GET /pkgs/{file}.psp"), 200));
    let ranged = ["hello-1.1.0", "libgreet-2.0.0"]
        .map(|file| requests_matching(&nginx, &format!("GET /pkgs/{file}.psp"), 206));
    assert_eq!(
        (whole.iter().sum::<usize>(), ranged.iter().sum::<usize>()),
        (0, 2),
        "{:#?}",
        nginx.requests()
    );

    // The launcher is here already: only the rest of beta's file travels, as a range nginx
    // honours.
    sandbox.run(&["install", "--yes", "beta"]).success();
    assert_eq!(
        requests_matching(&nginx, "GET /pkgs/beta-1.0.0.psp", 206),
        1,
        "{:#?}",
        nginx.requests()
    );

    // The cached index is revalidated with nginx's ETag: not sent again.
    sandbox.run(&["update"]).success();
    assert!(
        requests_matching(&nginx, "GET /index.acl", 304) >= 1,
        "{:#?}",
        nginx.requests()
    );

    // Its access log, counted: one download per package, the ranged one included.
    let log = nginx.access_log();
    sandbox
        .run(&[
            "registry",
            "metrics",
            registry.to_str().unwrap(),
            "--access-log",
            log.to_str().unwrap(),
            "--key-seed",
            "registry",
        ])
        .success();
    let shown = sandbox.run(&["metrics", "--registry", "fixtures"]);
    shown.success();
    for package in ["hello", "libgreet", "beta"] {
        let row: Vec<&str> = shown
            .stdout
            .lines()
            .find(|line| line.starts_with(&format!("{package} ")))
            .unwrap_or_else(|| panic!("{}", shown.stdout))
            .split_whitespace()
            .collect();
        assert_eq!(row[1], "1", "{package}: {}", shown.stdout);
    }
    assert_eq!(requests_matching(&nginx, "GET /metrics.acl", 200), 1);
    assert_eq!(requests_matching(&nginx, "GET /metrics.acl.sig", 200), 1);

    // The page is served as HTML, its data as JSON.
    let get = |path: &str| {
        registry_fixtures::server::get(&format!("{}{path}", nginx.url()), &[]).unwrap()
    };
    let (status, headers, body) = get("index.html");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(String::from_utf8(body)
        .unwrap()
        .contains("index-data.json?serial=1"));
    let (status, headers, _) = get("index-data.json?serial=1");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
}
