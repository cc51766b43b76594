//! The launcher stub is a static executable: no program interpreter, no shared libraries, so a
//! package runs on any Linux, whatever glibc it has, or none (build.rs makes it so).
#![allow(clippy::disallowed_methods)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::{package_source, Sandbox};

const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NEEDED: i64 = 1;

/// What an ELF file's program headers say about how it is loaded: the interpreter it asks for
/// (`PT_INTERP`) and the shared libraries its dynamic section names (`DT_NEEDED`, as offsets
/// into the string table: enough to count them).
#[derive(Debug, PartialEq)]
struct Loading {
    interpreter: Option<String>,
    needed: usize,
}

fn u16_at(bytes: &[u8], offset: usize) -> usize {
    u16::from_le_bytes(bytes[offset..offset + 2].try_into().unwrap()) as usize
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap())
}

/// Parses a little-endian ELF64 file's program headers (a package file too: its launcher is at
/// offset 0, and every offset in the launcher's headers is relative to the file's start).
fn loading(path: &Path) -> Loading {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(bytes[4], 2, "{} is not ELF64", path.display());
    assert_eq!(bytes[5], 1, "{} is not little-endian", path.display());
    let header_offset = u64_at(&bytes, 0x20) as usize;
    let header_size = u16_at(&bytes, 0x36);
    let header_count = u16_at(&bytes, 0x38);
    let mut loading = Loading {
        interpreter: None,
        needed: 0,
    };
    for index in 0..header_count {
        let header = &bytes[header_offset + index * header_size..][..header_size];
        let offset = u64_at(header, 0x08) as usize;
        let size = u64_at(header, 0x20) as usize;
        let contents = &bytes[offset..offset + size];
        match u32_at(header, 0) {
            PT_INTERP => {
                loading.interpreter = Some(
                    String::from_utf8_lossy(contents)
                        .trim_end_matches('\0')
                        .to_string(),
                );
            }
            PT_DYNAMIC => {
                for entry in contents.chunks_exact(16) {
                    match u64_at(entry, 0) as i64 {
                        0 => break,
                        DT_NEEDED => loading.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    loading
}

fn stub() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pandora-launcher"))
}

#[test]
fn the_parser_sees_what_a_dynamic_program_needs() {
    // The test process itself is linked the usual way: the check must be able to fail.
    let this = std::env::current_exe().unwrap();
    let dynamic = loading(&this);
    assert!(
        dynamic.interpreter.is_some() && dynamic.needed > 0,
        "{}: {dynamic:?}",
        this.display()
    );
}

#[test]
fn the_stub_has_no_interpreter_and_no_shared_libraries() {
    assert_eq!(
        loading(&stub()),
        Loading {
            interpreter: None,
            needed: 0
        },
        "{} is not static",
        stub().display()
    );
}

/// A complete static x86_64 program, 156 bytes: writes `MESSAGE` to stdout and exits with 42.
/// Nothing in the empty root below could run anything else.
const MESSAGE: &[u8] = b"static hello\n";

#[cfg(target_arch = "x86_64")]
fn tiny_program() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE: u64 = 64 + 56;
    let mut code = Vec::new();
    code.extend([0xb8, 1, 0, 0, 0]); // mov eax, 1 (write)
    code.extend([0xbf, 1, 0, 0, 0]); // mov edi, 1 (stdout)
    code.extend([0x48, 0x8d, 0x35]); // lea rsi, [rip + message]
    code.extend(19u32.to_le_bytes()); // the message follows the 36 code bytes; rip is at 17
    code.push(0xba); // mov edx, length
    code.extend((MESSAGE.len() as u32).to_le_bytes());
    code.extend([0x0f, 0x05]); // syscall
    code.extend([0xb8, 60, 0, 0, 0]); // mov eax, 60 (exit)
    code.extend([0xbf, 42, 0, 0, 0]); // mov edi, 42
    code.extend([0x0f, 0x05]); // syscall
    assert_eq!(code.len(), 36);
    code.extend(MESSAGE);
    let total = CODE + code.len() as u64;
    let mut elf = Vec::new();
    elf.extend(b"\x7fELF\x02\x01\x01\x00\0\0\0\0\0\0\0\0");
    elf.extend(2u16.to_le_bytes()); // ET_EXEC
    elf.extend(0x3eu16.to_le_bytes()); // x86-64
    elf.extend(1u32.to_le_bytes());
    elf.extend((BASE + CODE).to_le_bytes()); // entry
    elf.extend(64u64.to_le_bytes()); // program headers
    elf.extend(0u64.to_le_bytes()); // no section headers
    elf.extend(0u32.to_le_bytes());
    for half in [64u16, 56, 1, 64, 0, 0] {
        elf.extend(half.to_le_bytes());
    }
    elf.extend(1u32.to_le_bytes()); // PT_LOAD
    elf.extend(5u32.to_le_bytes()); // read + execute
    elf.extend(0u64.to_le_bytes());
    elf.extend(BASE.to_le_bytes());
    elf.extend(BASE.to_le_bytes());
    elf.extend(total.to_le_bytes());
    elf.extend(total.to_le_bytes());
    elf.extend(0x1000u64.to_le_bytes());
    assert_eq!(elf.len() as u64, CODE);
    elf.extend(code);
    elf
}

/// How a program can be run with `root` as `/`: chroot when this process may (root, as in CI),
/// else in a new user namespace. `None` when neither is permitted here.
fn confine(root: &Path) -> Option<Vec<String>> {
    let root = root.display().to_string();
    let candidates = [
        vec!["chroot".to_string(), root.clone()],
        vec![
            "unshare".to_string(),
            "--user".to_string(),
            "--map-root-user".to_string(),
            format!("--root={root}"),
        ],
    ];
    // The probe is the tiny program itself: if it runs and exits 42, so can the package.
    candidates.into_iter().find(|prefix| {
        run_confined(prefix, "/probe", &[])
            .is_some_and(|output| output.status.code() == Some(42) && output.stdout == MESSAGE)
    })
}

fn run_confined(prefix: &[String], program: &str, environment: &[(&str, &str)]) -> Option<Output> {
    let tool = find_tool(&prefix[0])?;
    // The confined program sees `environment` and nothing else.
    Command::new(tool)
        .args(&prefix[1..])
        .arg(program)
        .env_clear()
        .envs(environment.iter().copied())
        .stdin(Stdio::null())
        .output()
        .ok()
}

/// `chroot` lives in /usr/sbin, which a non-root PATH often lacks.
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_package_runs_in_an_empty_root_without_glibc() {
    let sandbox = Sandbox::new();
    let source = sandbox.home().join("tiny");
    package_source(&source, "tiny", "1.0.0", Some("{workenv}/bin/tiny"), &[]);
    let program = source.join("files/bin/tiny");
    std::fs::create_dir_all(program.parent().unwrap()).unwrap();
    std::fs::write(&program, tiny_program()).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let package = sandbox.home().join("tiny.psp");
    sandbox.build(&source, &package, "static", &[]).success();
    // The package's own first bytes are the stub: the same check on what users receive.
    assert_eq!(
        loading(&package),
        Loading {
            interpreter: None,
            needed: 0
        }
    );

    // The root holds the package, the probe and an empty sticky /tmp: no libc, no loader,
    // no /proc, no /etc.
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(&package, root.path().join("tiny.psp")).unwrap();
    std::fs::write(root.path().join("probe"), tiny_program()).unwrap();
    for file in ["tiny.psp", "probe"] {
        std::fs::set_permissions(
            root.path().join(file),
            std::fs::Permissions::from_mode(0o755),
        )
        .unwrap();
    }
    std::fs::create_dir(root.path().join("tmp")).unwrap();
    std::fs::set_permissions(
        root.path().join("tmp"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    let Some(prefix) = confine(root.path()) else {
        eprintln!(
            "SKIPPED: neither chroot nor a user namespace (unshare --user --root) is permitted here; CI runs as root, where chroot is"
        );
        return;
    };
    let mut entries: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["probe", "tiny.psp", "tmp"]);

    let environment = [("HOME", "/tmp"), ("FLAVOR_CACHE_DIR", "/tmp/cache")];
    for start in ["cold", "warm"] {
        let output = run_confined(&prefix, "/tiny.psp", &environment).unwrap();
        assert_eq!(
            (output.status.code(), output.stdout.as_slice()),
            (Some(42), MESSAGE),
            "{start} start with {prefix:?}: stderr {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(
        root.path().join("tmp/cache/pandora/workenv/files").is_dir(),
        "the run went through the work environment cache"
    );
}
