//! The registry's web page in a real browser: Debian's headless chromium, driven through
//! chromedriver's WebDriver HTTP API on 127.0.0.1, loading the page from nginx. Types searches,
//! reads what is shown, checks a hostile description stays text, and saves a screenshot to
//! `target/browser-registry.png` (a test artifact, not committed). Also loads a generated
//! 10,000-package page and prints its size and the load and search times (reported, never
//! asserted: speed targets live in benches/).
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::nginx::Nginx;
use support::registry::{index, publish};
use support::{Sandbox, ECHO_SCRIPT};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Runs in the page if the hostile description were ever markup.
const PAYLOAD: &str = "<img src=x onerror=window.pwned=1><script>window.pwned=2</script>";

/// chromedriver on a free loopback port, and one browser session; both ended on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One WebDriver request: plain JSON over HTTP/1.1, the connection closed after it.
fn request(port: u16, method: &str, path: &str, body: Option<&Value>) -> std::io::Result<Value> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    // chromedriver keeps the connection open whatever the request says: read what
    // Content-Length says.
    let mut length = None;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut body = vec![0; length.ok_or_else(|| std::io::Error::other("no Content-Length"))?];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        // Waiting for a process to come up, not timing anything: the bound only ends a hang.
        let started = Instant::now();
        while !request(port, "GET", "/status", None)
            .is_ok_and(|status| status["value"]["ready"] == true)
        {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let arguments = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let created = request(
            port,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": CHROMIUM, "args": arguments}
            }}})),
        )
        .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Browser {
            driver,
            port,
            session,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let answer = request(self.port, method, &path, body).unwrap();
        let value = answer["value"].clone();
        assert!(value.get("error").is_none(), "{method} {path}: {answer}");
        value
    }

    fn open(&self, url: &str) {
        self.call("POST", "/url", Some(&json!({ "url": url })));
        self.wait_for("document.body.getAttribute('data-ready')", &json!("true"));
    }

    fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(&json!({"script": script, "args": []})),
        )
    }

    fn wait_for(&self, expression: &str, expected: &Value) {
        let started = Instant::now();
        loop {
            let value = self.script(&format!("return {expression};"));
            if &value == expected {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{expression} is {value}, not {expected}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn element(&self, selector: &str) -> String {
        let found = self.call(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": selector})),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{selector}: {found}"))
            .to_string()
    }

    /// Clears the search box and types `text` into it, key by key.
    fn search(&self, text: &str) {
        let field = self.element("#q");
        self.call("POST", &format!("/element/{field}/clear"), Some(&json!({})));
        self.call(
            "POST",
            &format!("/element/{field}/value"),
            Some(&json!({ "text": text })),
        );
    }

    fn shown(&self) -> Vec<String> {
        let names = self.script(
            "return Array.from(document.querySelectorAll('article .name')).map(e => e.textContent);",
        );
        serde_json::from_value(names).unwrap()
    }

    fn screenshot(&self, path: &Path) {
        let encoded = self.call("GET", "/screenshot", None);
        std::fs::write(path, decode_base64(encoded.as_str().unwrap())).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = request(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |byte: u8| match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {byte}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|byte| *byte != b'=')
        .map(value)
        .collect();
    digits
        .chunks(4)
        .flat_map(|chunk| {
            let bits = chunk.iter().enumerate().fold(0u32, |bits, (at, digit)| {
                bits | u32::from(*digit) << (18 - 6 * at)
            });
            let bytes = bits.to_be_bytes();
            bytes[1..chunk.len()].to_vec()
        })
        .collect()
}

fn tools_installed() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: {} not installed (apt-get install chromium chromium-driver)",
            missing.join(", ")
        );
    }
    missing.is_empty() && support::nginx::installed()
}

/// hello (needing libgreet) and a package whose description and tag are hostile markup.
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
    let source = sandbox.home().join("src-xss");
    support::package_source(&source, "xss", "1.0.0", None, &[("bin/xss", ECHO_SCRIPT)]);
    std::fs::write(
        source.join("manifest.acl"),
        format!(
            "manifest {{ name = \"xss\"; version = \"1.0.0\"; description = \"{PAYLOAD}\"; tags = {{ \"<b>bold</b>\", \"attack\" }}; command = \"bin/xss\"; }}\n"
        ),
    )
    .unwrap();
    sandbox
        .build(
            &source,
            &registry.join("pkgs/xss-1.0.0.psp"),
            "publisher",
            &[],
        )
        .success();
    index(sandbox, &registry, &[]);
    registry
}

#[test]
fn search_the_registry_page_in_chromium() {
    if !tools_installed() {
        return;
    }
    let sandbox = Sandbox::new();
    let registry = registry(&sandbox);
    let nginx = Nginx::start(&registry).unwrap();
    let browser = Browser::start();
    browser.open(&format!("{}index.html", nginx.url()));
    assert_eq!(browser.shown(), ["hello", "libgreet", "xss"]);

    browser.search("greet");
    assert_eq!(browser.shown(), ["libgreet"]);
    browser.search("tag:fixture");
    assert_eq!(browser.shown(), ["hello", "libgreet"]);
    browser.search("tag:attack");
    assert_eq!(browser.shown(), ["xss"]);
    // The hostile description is shown as the text it is, and none of it ran.
    assert_eq!(
        browser.script("return document.querySelector('article .description').textContent;"),
        json!(PAYLOAD)
    );
    assert_eq!(
        browser.script("return window.pwned === undefined;"),
        json!(true)
    );
    assert_eq!(
        browser.script("return document.querySelectorAll('article img, article script').length;"),
        json!(0)
    );

    // A package's versions load on demand from its shard: dependencies, licence, signer.
    browser.search("hello");
    assert_eq!(browser.shown(), ["hello"]);
    let summary = browser.element("article summary");
    browser.call(
        "POST",
        &format!("/element/{summary}/click"),
        Some(&json!({})),
    );
    browser.wait_for(
        "document.querySelectorAll('article table tr').length",
        &json!(2),
    );
    let cells = browser.script(
        "return Array.from(document.querySelectorAll('article table tr:nth-child(2) td')).map(e => e.textContent);",
    );
    assert_eq!(cells[0], "1.1.0");
    assert_eq!(cells[2], "MIT");
    assert_eq!(cells[3], "libgreet@2.0.0");
    assert!(cells[7].as_str().unwrap().starts_with("sha256:"), "{cells}");
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-registry.png");
    browser.screenshot(&screenshot);
    assert!(std::fs::read(&screenshot).unwrap().starts_with(b"\x89PNG"));
    // Linkable: the query is in the URL, and a reload shows the same.
    browser.call("POST", "/refresh", Some(&json!({})));
    browser.wait_for("document.body.getAttribute('data-ready')", &json!("true"));
    assert_eq!(browser.shown(), ["hello"]);
}

/// 10,000 generated packages: the page's size, and how long loading and searching take in the
/// browser (printed for the report; the size bound is the only assertion).
#[test]
fn a_ten_thousand_package_page_stays_small() {
    use pandora::registry::html::{render, write, Extras};
    use pandora::registry::index::{IndexPackage, IndexVersion, RegistryIndex};
    let count = 10_000;
    let packages = (0..count)
        .map(|number| {
            let name = format!("{}pkg-{number:05}", (b'a' + (number % 26) as u8) as char);
            IndexPackage {
                name: name.clone(),
                description: Some(format!(
                    "Generated package number {number}, for the page bench"
                )),
                tags: vec![format!("group{}", number % 50), "generated".into()],
                latest: "1.2.0".into(),
                pkg_base_url: None,
                versions: ["1.0.0", "1.1.0", "1.2.0"]
                    .iter()
                    .map(|version| IndexVersion {
                        version: (*version).into(),
                        pkg_url: format!("pkgs/{name}-{version}.psp"),
                        sha256: [7; 32].into(),
                        size: Some(123_456),
                        manifest_url: None,
                        dependencies: vec![format!("libgreet@2.0.{}", number % 3)],
                        license: Some("MIT".into()),
                        deprecated: false,
                        deprecation: None,
                        yanked: false,
                        launcher: None,
                        files: Vec::new(),
                    })
                    .collect(),
            }
        })
        .collect();
    let mut index = RegistryIndex {
        name: "large".into(),
        serial: Some(1),
        expires: None,
        priority: 100,
        packages,
        compact: None,
    };
    index.packages.sort_by(|a, b| a.name.cmp(&b.name));
    let site = render(&index, &Extras::default());
    let directory = tempfile::tempdir().unwrap();
    write(directory.path(), &site).unwrap();
    let size = |relative: &str| {
        std::fs::metadata(directory.path().join(relative))
            .unwrap()
            .len()
    };
    let (shell, data, shard) = (
        size("index.html"),
        size("index-data.json"),
        size("index-data/a.json"),
    );
    let gzipped = |relative: &str| {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(&std::fs::read(directory.path().join(relative)).unwrap())
            .unwrap();
        encoder.finish().unwrap().len()
    };
    eprintln!(
        "10,000 packages: index.html {shell} B, index-data.json {data} B ({} B gzipped), one shard {shard} B ({} B gzipped), all files {} B",
        gzipped("index-data.json"),
        gzipped("index-data/a.json"),
        site.bytes()
    );
    assert!(shell < 16 * 1024, "the shell is {shell} bytes");
    assert!(data < 2 * 1024 * 1024, "the search data is {data} bytes");

    if !tools_installed() {
        return;
    }
    let nginx = Nginx::start(directory.path()).unwrap();
    let browser = Browser::start();
    let started = Instant::now();
    browser.open(&format!("{}index.html", nginx.url()));
    let loaded = started.elapsed();
    let shown_ms = browser.script("return document.body.getAttribute('data-shown-ms');");
    assert_eq!(browser.shown().len(), 50, "one page of 50");
    let timing = browser.script(
        "const q = document.getElementById('q'); const t0 = performance.now(); \
         q.value = 'group7 generated'; q.dispatchEvent(new Event('input')); \
         const t1 = performance.now(); \
         return [t1 - t0, document.querySelectorAll('article').length, document.getElementById('count').textContent];",
    );
    assert_eq!(timing[2], "200 packages of 10000 match");
    eprintln!(
        "10,000 packages in chromium: list shown {shown_ms} ms after navigation began ({loaded:?} through WebDriver); a search over all of them took {:.1} ms",
        timing[0].as_f64().unwrap()
    );
}
