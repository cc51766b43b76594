//! The launcher stub at the front of every package Pandora builds. All of it is in the
//! `pandora-launcher` crate, which links the format and core crates only (no network stack, no
//! CLI parser); this binary lives in the `pandora` package so the CLI finds it beside itself.

fn main() -> std::process::ExitCode {
    pandora_launcher::main()
}
