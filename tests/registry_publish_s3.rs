//! `pandora publish` to S3-compatible storage: a real `moto_server` (PyPI `moto[server]`)
//! started on 127.0.0.1, with packages installed back over plain, anonymous HTTP from the
//! bucket. Skipped, saying so, only where `moto_server` cannot be found (CI installs it).
#![allow(clippy::disallowed_methods)] // fixtures are set up with std::fs; the fs-err rule is for Pandora

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use support::registry::key;
use support::{local_package, Sandbox};

struct Moto {
    child: Child,
    port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> Option<PathBuf> {
    let mut places: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        places.push(home.join(".local/bin"));
        places.push(home.join(".pyenv/shims"));
    }
    places
        .into_iter()
        .map(|place| place.join("moto_server"))
        .find(|candidate| candidate.is_file())
}

/// A fresh `moto_server` on a free port, or `None` (with a message) where there is none.
fn moto() -> Option<Moto> {
    let Some(program) = moto_server() else {
        eprintln!("skipping: moto_server not found (install it with `pip install 'moto[server]'`)");
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(program)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let moto = Moto { child, port };
    // Readiness, not a timing assertion: wait until it answers.
    for _ in 0..600 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok()
            && moto.http("GET", "/", &[], b"").0 == 200
        {
            return Some(moto);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("moto_server did not start on port {port}");
}

impl Moto {
    /// One anonymous HTTP/1.1 request: status and body.
    fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// A bucket anyone may read (what a registry's operator sets up once).
    fn public_bucket(&self, bucket: &str) {
        assert_eq!(self.http("PUT", &format!("/{bucket}"), &[], b"").0, 200);
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
        );
        let status = self
            .http(
                "PUT",
                &format!("/{bucket}?policy"),
                &[("Content-Type", "application/json")],
                policy.as_bytes(),
            )
            .0;
        assert!(status == 200 || status == 204, "policy: {status}");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Configures `pub`: read from the bucket's HTTP URL, published to `s3://BUCKET/reg`.
fn configure(sandbox: &Sandbox, moto: &Moto, bucket: &str) {
    sandbox
        .run(&[
            "registry",
            "add",
            "pub",
            &format!("{}/{bucket}/reg/", moto.endpoint()),
            "--key",
            &key("registry"),
            "--key",
            &key("publisher"),
            "--require-signatures",
            "--cache-ttl",
            "0",
        ])
        .success();
    sandbox
        .run(&[
            "registry",
            "set",
            "pub",
            "--allow-publish",
            "--publish-url",
            &format!("s3://{bucket}/reg"),
            "--s3-endpoint",
            &moto.endpoint(),
            "--s3-region",
            "us-east-1",
        ])
        .success();
}

fn with_credentials(command: &mut Command) {
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
}

fn publish_args(file: &std::path::Path) -> Vec<String> {
    [
        "publish",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
        file.to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

#[test]
fn eight_concurrent_publishers_to_s3_lose_nothing_and_clients_install_over_http() {
    let Some(moto) = moto() else { return };
    moto.public_bucket("registry");
    let sandbox = Sandbox::new();
    configure(&sandbox, &moto, "registry");
    let files: Vec<PathBuf> = (0..8)
        .map(|n| local_package(&sandbox, &format!("pkg{n}"), "1.0.0", &[]))
        .collect();
    let children: Vec<Child> = files
        .iter()
        .map(|file| {
            let args = publish_args(file);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut command = sandbox.command(&args);
            with_credentials(&mut command);
            command
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (status, index) = moto.http("GET", "/registry/reg/index.acl", &[], b"");
    assert_eq!(status, 200, "{index}");
    assert!(index.contains("serial = 8;"), "{index}");
    for n in 0..8 {
        assert!(index.contains(&format!("Package \"pkg{n}\"")), "{index}");
    }
    // A client with no credentials at all: plain HTTP, the index checked against the key.
    let client = Sandbox::new();
    configure(&client, &moto, "registry");
    client.run(&["install", "--yes", "pkg0", "pkg7"]).success();
    client.run(&["run", "pkg7"]).success();

    // Yank and deprecate go through the same conditional update.
    let mut yank = sandbox.command(&[
        "yank",
        "pkg3@1.0.0",
        "--registry",
        "pub",
        "--key-seed",
        "registry",
    ]);
    with_credentials(&mut yank);
    assert!(yank.status().unwrap().success());
    let refused = client.run(&["install", "--yes", "pkg3"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("was yanked"), "{}", refused.stderr);
}

#[test]
fn s3_failures_are_clear_leave_the_registry_valid_and_a_rerun_completes() {
    let Some(moto) = moto() else { return };
    moto.public_bucket("registry");
    let sandbox = Sandbox::new();
    configure(&sandbox, &moto, "registry");
    let app = local_package(&sandbox, "hello", "1.0.0", &[]);
    let args = publish_args(&app);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    // No credentials anywhere (the sandbox's HOME has no ~/.aws).
    let run = sandbox.run(&args);
    run.failure(1);
    assert!(
        run.stderr.contains("no AWS_ACCESS_KEY_ID"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: set AWS_ACCESS_KEY_ID"),
        "{}",
        run.stderr
    );

    // Credentials from the shared files, for a profile.
    let aws = sandbox.home().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[ci]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();

    // A bucket that does not exist.
    sandbox
        .run(&[
            "registry",
            "set",
            "pub",
            "--publish-url",
            "s3://no-such-bucket/reg",
        ])
        .success();
    let run = sandbox.run_with(&args, |command| {
        command.env("AWS_PROFILE", "ci");
    });
    run.failure(1);
    assert!(
        run.stderr.contains("s3://no-such-bucket/reg/"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the bucket or directory must exist"),
        "{}",
        run.stderr
    );
    sandbox
        .run(&[
            "registry",
            "set",
            "pub",
            "--publish-url",
            "s3://registry/reg",
        ])
        .success();

    // A blob uploaded, the index not (a publisher cut off half-way): harmless, and the rerun
    // completes without storing it twice.
    let bytes = std::fs::read(&app).unwrap();
    let sha256 = {
        use sha2::Digest;
        pandora::format::metadata::encode_hex(&sha2::Sha256::digest(&bytes))
    };
    let blob = format!("/registry/reg/blobs/sha256/{sha256}.psp");
    assert_eq!(moto.http("PUT", &blob, &[], &bytes).0, 200);
    let run = sandbox.run_with(&args, |command| {
        command.env("AWS_PROFILE", "ci");
    });
    run.success();
    assert!(run.stderr.contains("already stored"), "{}", run.stderr);
    sandbox.run(&["install", "--yes", "hello"]).success();

    // A key the registry does not trust: nothing written.
    let before = moto.http("GET", "/registry/reg/index.acl", &[], b"").1;
    let run = sandbox.run_with(
        &[
            "yank",
            "hello@1.0.0",
            "--registry",
            "pub",
            "--key-seed",
            "stranger",
        ],
        with_credentials,
    );
    run.failure(1);
    assert!(
        run.stderr.contains("does not trust the signing key"),
        "{}",
        run.stderr
    );
    assert_eq!(
        before,
        moto.http("GET", "/registry/reg/index.acl", &[], b"").1
    );

    // The storage goes away mid-way: a clear error, and the client's view stays valid.
    let endpoint = moto.endpoint();
    drop(moto);
    let other = local_package(&sandbox, "other", "1.0.0", &[]);
    let args = publish_args(&other);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = sandbox.run_with(&args, with_credentials);
    run.failure(1);
    assert!(
        run.stderr.contains(&endpoint.replace("http://", ""))
            || run.stderr.contains("s3://registry/reg/"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("run the command again"),
        "{}",
        run.stderr
    );
}
