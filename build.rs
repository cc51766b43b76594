//! Links the launcher stub (`src/bin/pandora-launcher.rs`) statically, so a package runs on any
//! Linux: no program interpreter, no shared libraries, whatever glibc (or none) the system has.
//!
//! Why not `-C target-feature=+crt-static`: cargo offers no per-binary rustflags, and a global
//! one (RUSTFLAGS or `.cargo/config.toml`) without `--target` also reaches proc-macros, which
//! cannot be static, and the `pandora` CLI, whose name lookups need glibc's NSS. So rustc links
//! this one binary as usual, and two arguments for it alone turn that link static:
//! `-static-pie` (a position-independent static executable: glibc's `rcrt1.o`, which relocates
//! itself), and a search directory in which every library rustc names for a dynamic link
//! (`-lc`, `-lgcc_s`, ...) is a linker script pointing at the static archive the C compiler
//! ships (`libc.a`, `libgcc_eh.a`, ...). The directory is searched first, so the `.so` name a
//! dynamic link looks for resolves to the archive. `tests/static_launcher.rs` checks the
//! result: no `PT_INTERP`, no `DT_NEEDED`, and a package runs in an empty root.
//!
//! Where the static archives are missing (glibc's `libc.a` is in Debian's `libc6-dev`, Fedora's
//! `glibc-static`), the stub stays dynamic and cargo prints a warning.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries rustc's std asks for on `*-linux-gnu`, and the archives standing in for them.
const LIBRARIES: &[(&str, &[&str])] = &[
    // `GROUP`: libc.a and libgcc's archives refer to each other.
    ("c", &["libc.a", "libgcc_eh.a", "libgcc.a"]),
    ("gcc_s", &["libgcc_eh.a", "libgcc.a"]),
    ("m", &["libm.a"]),
    ("dl", &["libdl.a"]),
    ("rt", &["librt.a"]),
    ("pthread", &["libpthread.a"]),
    ("util", &["libutil.a"]),
];

const STUB: &str = "pandora-launcher";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let variable = |name: &str| std::env::var(name).unwrap_or_default();
    // musl targets are static already; other systems keep their usual link.
    if variable("CARGO_CFG_TARGET_OS") != "linux" || variable("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    if variable("TARGET") != variable("HOST") {
        println!(
            "cargo:warning={STUB} is linked dynamically: the static archives are looked up with the host's C compiler, and this is a cross build"
        );
        return;
    }
    let linker = std::env::var("RUSTC_LINKER").unwrap_or_else(|_| "cc".to_string());
    let out_dir = PathBuf::from(variable("OUT_DIR")).join("static-libs");
    match write_scripts(&linker, &out_dir) {
        Ok(()) => {
            println!("cargo:rustc-link-arg-bin={STUB}=-static-pie");
            println!("cargo:rustc-link-arg-bin={STUB}=-L{}", out_dir.display());
        }
        Err(reason) => println!("cargo:warning={STUB} is linked dynamically: {reason}"),
    }
}

/// Writes `lib<name>.so` and `lib<name>.a` linker scripts into `directory`.
fn write_scripts(linker: &str, directory: &Path) -> Result<(), String> {
    fs_err::create_dir_all(directory).map_err(|error| error.to_string())?;
    for (name, archives) in LIBRARIES {
        let paths = archives
            .iter()
            .map(|archive| locate(linker, archive))
            .collect::<Result<Vec<_>, _>>()?;
        let list = paths
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let script = format!("GROUP({list})\n");
        for extension in ["so", "a"] {
            let path = directory.join(format!("lib{name}.{extension}"));
            fs_err::write(&path, &script).map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

/// The absolute path of `archive` as the C compiler finds it.
fn locate(linker: &str, archive: &str) -> Result<PathBuf, String> {
    let output = Command::new(linker)
        .arg(format!("-print-file-name={archive}"))
        .output()
        .map_err(|error| format!("cannot run `{linker}` to find {archive}: {error}"))?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    // Not found: the compiler prints the bare name back.
    if !output.status.success() || !path.is_absolute() || !path.is_file() {
        return Err(format!(
            "`{linker} -print-file-name={archive}` found no static archive (install glibc's static libraries: libc6-dev, glibc-static)"
        ));
    }
    fs_err::canonicalize(&path).map_err(|error| error.to_string())
}
