//! Runs the real `pandora` binary in a throwaway home.

#![allow(dead_code)]

pub mod nginx;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A temporary `HOME` with `PANDORA_HOME` inside it.
pub struct Sandbox {
    root: tempfile::TempDir,
}

/// What a run printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            root: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn pandora_home(&self) -> PathBuf {
        self.home().join("pandora")
    }

    pub fn registries_file(&self) -> PathBuf {
        self.pandora_home().join("registries.acl")
    }

    /// A `pandora` command with a clean environment: only this sandbox's HOME and
    /// PANDORA_HOME, no colour variables, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_for(Path::new(env!("CARGO_BIN_EXE_pandora")), args)
    }

    /// Any program (a package file, say) with the same clean environment; FlavorPack's
    /// launchers are told to log errors only.
    pub fn command_for(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("PANDORA_HOME", self.pandora_home())
            .env("FLAVOR_LOG_LEVEL", "error")
            .stdin(Stdio::null());
        command
    }

    /// Runs a program (usually a package file) in the sandbox's environment.
    pub fn run_file(
        &self,
        program: &Path,
        args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> Run {
        let mut command = self.command_for(program, args);
        configure(&mut command);
        // A package file written by this test process can be briefly held open for writing by
        // a child another test thread is forking (until that child execs): Linux then refuses
        // to exec it with ETXTBSY. That is the test harness's race, not Pandora's: wait it out.
        for _ in 0..50 {
            match command.output() {
                Err(error) if error.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                result => return finish(result.expect("run the program")),
            }
        }
        panic!("{} stayed busy (ETXTBSY)", program.display())
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.command(args).output().expect("run pandora"))
    }

    pub fn run_with(&self, args: &[&str], configure: impl FnOnce(&mut Command)) -> Run {
        let mut command = self.command(args);
        configure(&mut command);
        finish(command.output().expect("run pandora"))
    }

    /// `pandora ARGS` (one string, as a shell reads it) on a pseudo-terminal: `script` runs it
    /// fed from its own standard input, which gets `answer`. Returns the exit code and
    /// everything the terminal showed (stdout and stderr together).
    #[allow(dead_code)] // not every test crate that includes `support` asks
    pub fn on_terminal(&self, args: &str, answer: &str) -> (Option<i32>, String) {
        use std::io::Write;
        let mut child = self.terminal(args).spawn().expect("run script");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    /// The `script` command [`Sandbox::on_terminal`] runs, for a test that answers later.
    #[allow(dead_code)] // not every test crate that includes `support` asks
    pub fn terminal(&self, args: &str) -> Command {
        let pandora = self
            .command(&[])
            .get_program()
            .to_string_lossy()
            .into_owned();
        let mut command = Command::new("script");
        command
            .args(["-qec", &format!("{pandora} {args}"), "/dev/null"])
            .env("HOME", self.home())
            .env("PANDORA_HOME", self.pandora_home())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        command
    }

    /// `pandora build SOURCE -o OUTPUT --key-seed SEED EXTRA...`.
    pub fn build(&self, source: &Path, output: &Path, seed: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "build",
            source.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
            "--key-seed",
            seed,
        ];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Replaces this sandbox's paths with placeholders, for snapshots.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.root.path().display().to_string(), "[SANDBOX]")
    }
}

fn finish(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: text(output.stdout),
        stderr: text(output.stderr),
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

impl Run {
    #[track_caller]
    pub fn success(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn failure(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A valid Ed25519 public key in `ed25519:HEX` form, from a fixed secret.
pub fn sample_key(seed: u8) -> String {
    let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let hex: String = signing
        .verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("ed25519:{hex}")
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// FlavorPack 0.5.4's real helper binaries.
pub struct FlavorPack {
    pub rs_builder: PathBuf,
    pub rs_launcher: PathBuf,
    pub go_builder: PathBuf,
    pub go_launcher: PathBuf,
}

/// Installs `flavorpack==0.5.4` from PyPI into a virtualenv under `target/` the first time any
/// test asks (serialized across test processes by a file lock), and returns its binaries.
pub fn flavorpack() -> &'static FlavorPack {
    static INSTALLED: std::sync::OnceLock<FlavorPack> = std::sync::OnceLock::new();
    INSTALLED.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/flavorpack-0.5.4");
        std::fs::create_dir_all(&root).unwrap();
        let lock = std::fs::File::create(root.join(".lock")).unwrap();
        lock.lock().unwrap();
        let marker = root.join("helpers-bin");
        if !marker.exists() {
            let venv = root.join("venv");
            let status = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("run python3 -m venv");
            assert!(status.success(), "python3 -m venv failed");
            let status = Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-deps",
                    "flavorpack==0.5.4",
                ])
                .status()
                .expect("run pip");
            assert!(status.success(), "pip install flavorpack==0.5.4 failed");
            let bin = walk_for(&venv, "flavor-rs-launcher-0.5.4-linux_amd64")
                .expect("flavorpack's helpers/bin")
                .parent()
                .unwrap()
                .to_path_buf();
            std::fs::write(&marker, bin.to_str().unwrap()).unwrap();
        }
        let bin = PathBuf::from(std::fs::read_to_string(&marker).unwrap());
        let binary = |name: &str| {
            let path = bin.join(format!("flavor-{name}-0.5.4-linux_amd64"));
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        };
        FlavorPack {
            rs_builder: binary("rs-builder"),
            rs_launcher: binary("rs-launcher"),
            go_builder: binary("go-builder"),
            go_launcher: binary("go-launcher"),
        }
    })
}

fn walk_for(directory: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(directory).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|file| file == name) {
            return Some(path);
        }
        if path.is_dir() && !path.is_symlink() {
            if let Some(found) = walk_for(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

/// Writes a package source directory: `manifest.acl` and `files/`.
pub fn package_source(
    directory: &Path,
    name: &str,
    version: &str,
    command: Option<&str>,
    files: &[(&str, &str)],
) {
    std::fs::create_dir_all(directory.join("files")).unwrap();
    let command = command
        .map(|command| format!("    string command = \"{command}\";\n"))
        .unwrap_or_default();
    std::fs::write(
        directory.join("manifest.acl"),
        format!("manifest {{\n    string name = \"{name}\";\n    string version = \"{version}\";\n{command}}}\n"),
    )
    .unwrap();
    for (path, content) in files {
        let path = directory.join("files").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        if content.starts_with("#!") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

/// A shell script package entry point that shows what it was given.
pub const ECHO_SCRIPT: &str = "#!/bin/sh\necho \"args=$#\"\nfor arg in \"$@\"; do echo \"arg=[$arg]\"; done\necho \"greeting=$GREETING\"\nexit ${EXIT_WITH:-0}\n";

/// Every file, directory and link under `root` with its content or target and mode.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    collect(root, root, &mut out);
    out.sort();
    out
}

fn collect(root: &Path, directory: &Path, out: &mut Vec<String>) {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(directory).unwrap().flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap().display().to_string();
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        if metadata.is_symlink() {
            out.push(format!(
                "{relative} -> {}",
                std::fs::read_link(&path).unwrap().display()
            ));
        } else if metadata.is_dir() {
            out.push(format!("{relative}/"));
            collect(root, &path, out);
        } else {
            let executable = metadata.permissions().mode() & 0o111 != 0;
            out.push(format!(
                "{relative} {} exec={executable}",
                String::from_utf8_lossy(&std::fs::read(&path).unwrap())
            ));
        }
    }
}

/// Builds `name@version` (entry point `bin/NAME` running `script`, exact `dependencies`, description
/// "The NAME package", license MIT, tag "fixture") into `output`, signed with the key seed `seed`.
pub fn publish(
    sandbox: &Sandbox,
    output: &Path,
    name: &str,
    version: &str,
    dependencies: &[&str],
    script: &str,
    seed: &str,
) {
    publish_with(
        sandbox,
        output,
        name,
        version,
        dependencies,
        script,
        seed,
        &[],
    );
}

/// [`publish`], passing `extra` to `pandora build`.
#[allow(clippy::too_many_arguments)]
pub fn publish_with(
    sandbox: &Sandbox,
    output: &Path,
    name: &str,
    version: &str,
    dependencies: &[&str],
    script: &str,
    seed: &str,
    extra: &[&str],
) {
    let source = sandbox.home().join(format!("src-{name}-{version}-{seed}"));
    let command = format!("bin/{name}");
    package_source(
        &source,
        name,
        version,
        Some(&command),
        &[(&command, script)],
    );
    let pins: Vec<String> = dependencies
        .iter()
        .map(|pin| format!("\"{pin}\""))
        .collect();
    std::fs::write(
        source.join("manifest.acl"),
        format!(
            "manifest {{ name = \"{name}\"; version = \"{version}\"; description = \"The {name} package\"; license = \"MIT\"; tags = {{ \"fixture\" }}; dependencies = {{ {} }}; command = \"{command}\"; }}\n",
            pins.join(", ")
        ),
    )
    .unwrap();
    sandbox.build(&source, output, seed, extra).success();
}

/// Builds `name@version` (the echo script, exact `pins`, signed by the `publisher` seed) into
/// `$HOME/NAME-VERSION.psp` and returns its path: a local package file.
#[allow(dead_code)] // not every test crate that includes `support` asks
pub fn local_package(sandbox: &Sandbox, name: &str, version: &str, pins: &[&str]) -> PathBuf {
    let path = sandbox.home().join(format!("{name}-{version}.psp"));
    publish(
        sandbox,
        &path,
        name,
        version,
        pins,
        ECHO_SCRIPT,
        "publisher",
    );
    path
}

/// Whether the tests run as root (as CI does): root can write into sealed trees.
#[allow(dead_code)] // not every test crate that includes `support` asks
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next().map(|uid| uid == "0"))
        .unwrap_or(false)
}

/// Every file (not directory) under `root`, which may not exist.
#[allow(dead_code)] // not every test crate that includes `support` asks
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
