//! Debian's nginx serving a directory on 127.0.0.1, through `registry-fixtures/nginx.sh` (the
//! script the README demo and the benches use too), stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    port: u16,
    state: tempfile::TempDir,
}

/// Where nginx is, if it is installed.
pub fn installed() -> bool {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .any(|path| Path::new(path).is_file())
}

impl Nginx {
    /// Serves `root`; `None` (with a message saying the test is skipped) when nginx is not
    /// installed. CI installs it, so there the test always runs.
    pub fn start(root: &Path) -> Option<Nginx> {
        if !installed() {
            eprintln!("SKIPPED: nginx is not installed (apt-get install nginx)");
            return None;
        }
        let state = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("registry-fixtures/nginx.sh");
        let mut child = Command::new("bash")
            .arg(script)
            .arg(root)
            .arg(state.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("run registry-fixtures/nginx.sh");
        let port_file = state.path().join("port");
        // Waiting for a process to come up, not timing anything: the bound only ends a hang.
        let started = Instant::now();
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(port) = text.trim().parse() {
                    break port;
                }
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("nginx.sh exited ({status}) before serving");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "nginx did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Some(Nginx { child, port, state })
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Its access log (combined format).
    pub fn access_log(&self) -> PathBuf {
        self.state.path().join("access.log")
    }

    /// The access log's lines so far.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(self.access_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The script stops nginx on TERM.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
