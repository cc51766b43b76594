//! `pandora_core::env_vars` lists every environment variable Pandora or its launcher reads or
//! sets: no source file names a variable by a string literal, and every constant is listed.
#![allow(clippy::disallowed_methods)] // reads the sources with std::fs; the fs-err rule is for Pandora

use std::path::{Path, PathBuf};

fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Calls that read or set a variable, each followed by a string literal when written wrong.
const READERS: &[&str] = &["env::var(\"", "env::var_os(\"", "get(\"", "environment(\""];

#[test]
fn variables_are_named_only_through_env_vars() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for directory in [
        "src",
        "crates/pandora-core/src",
        "crates/pandora-format/src",
        "crates/pandora-launcher/src",
    ] {
        rust_files(&root.join(directory), &mut files);
    }
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests build environments from literals on purpose.
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (number, line) in code.lines().enumerate() {
            for reader in READERS {
                let Some(at) = line.find(reader) else {
                    continue;
                };
                let literal: String = line[at + reader.len()..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect();
                let looks_like_a_variable = !literal.is_empty()
                    && literal
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if looks_like_a_variable {
                    problems.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "variables named outside env_vars:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_constant_is_in_the_list() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("crates/pandora-core/src/env_vars.rs")).unwrap();
    let declared: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter_map(|rest| rest.split(':').next())
        .filter(|name| *name != "ALL")
        .collect();
    assert!(declared.len() >= 15, "{declared:?}");
    for name in declared {
        assert!(
            pandora::env_vars::ALL.contains(&name),
            "{name} is declared but missing from env_vars::ALL"
        );
    }
}
