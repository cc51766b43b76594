//! The launcher stub at the front of every package Pandora builds. All of it is in the
//! `pandora-launcher` crate, which links the format and core crates only (no network stack, no
//! CLI parser); this binary lives in the `pandora` package so the CLI finds it beside itself.
//!
//! `no_main`: the C `main` below is the program. Rust's runtime start-up (which reads
//! `/proc/self/maps` to find the main thread's stack guard, installs the stack-overflow
//! handler's alternate stack, polls the standard descriptors and ignores SIGPIPE) costs a warm
//! start more than it gives a program whose job is to exec another: the program it execs gets
//! SIGPIPE's default, as from a shell. `std::env::args_os` still works (glibc hands the
//! arguments to Rust's initialiser itself).
// Under `cargo test` the harness brings its own `main`.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
use std::ffi::{c_char, c_int};

// The one symbol a C start-up calls; nothing else in the binary is named `main`.
#[cfg(not(test))]
#[allow(unsafe_code)]
#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    let code = pandora_launcher::main();
    // Rust's runtime would flush stdout at exit; without it, this does.
    let _ = std::io::Write::flush(&mut std::io::stdout());
    c_int::from(code)
}
