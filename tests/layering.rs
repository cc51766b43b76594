//! The module map in `src/lib.rs` is the architecture: this test reads its layer table and
//! every `crate::` path in `src/`, and fails on any module that reaches a higher layer; it
//! checks the crates' dependencies go one way (core <- format <- launcher <- pandora, no
//! network stack below the CLI) and that no command module imports another.
#![allow(clippy::disallowed_methods)] // reads the sources with std::fs; the fs-err rule is for Pandora

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `module -> layer` from the table rows `//! | N | [`a`], [`b`](...) ... |`.
fn layers() -> BTreeMap<String, u32> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let mut layers = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! |") else {
            continue;
        };
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let Ok(layer) = cells[0].parse::<u32>() else {
            continue;
        };
        for piece in cells[1].split("[`").skip(1) {
            let name = piece.split('`').next().unwrap();
            layers.insert(name.to_string(), layer);
        }
    }
    assert!(
        layers.len() > 10,
        "the layer table in src/lib.rs was not found: {layers:?}"
    );
    layers
}

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

/// The top-level module a file of `src/` belongs to (`None` for the binaries and `lib.rs`).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" | "bin" => None,
        _ => Some(first.trim_end_matches(".rs").to_string()),
    }
}

/// Every `crate::NAME` in code (comments and doc comments skipped).
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let before = rest[..at].chars().last();
            // `pandora_crate::x` or `some_crate::x` are other crates.
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && !name.is_empty() {
                found.push((number + 1, name));
            }
            rest = after;
        }
    }
    found
}

/// Upward imports: `(file:line, module, layer, target, target layer)`.
fn violations(layers: &BTreeMap<String, u32>, sources: &[(PathBuf, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (relative, text) in sources {
        let Some(module) = module_of(relative) else {
            continue;
        };
        let Some(&own) = layers.get(&module) else {
            problems.push(format!(
                "{}: module `{module}` is not in the layer table of src/lib.rs",
                relative.display()
            ));
            continue;
        };
        for (line, target) in crate_paths(text) {
            if target == module {
                continue;
            }
            match layers.get(&target) {
                Some(&layer) if layer > own => problems.push(format!(
                    "src/{}:{line}: `{module}` (layer {own}) uses `crate::{target}` (layer {layer})",
                    relative.display()
                )),
                Some(_) => {}
                None => problems.push(format!(
                    "src/{}:{line}: `crate::{target}` is not in the layer table",
                    relative.display()
                )),
            }
        }
    }
    problems
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path.strip_prefix(&src).unwrap().to_path_buf(), text)
        })
        .collect()
}

#[test]
fn no_module_reaches_a_higher_layer() {
    let problems = violations(&layers(), &sources());
    assert!(
        problems.is_empty(),
        "upward imports:\n{}",
        problems.join("\n")
    );
}

#[test]
fn an_upward_import_is_caught() {
    let layers = layers();
    let planted = vec![(
        PathBuf::from("store/mod.rs"),
        "use crate::ops::install::install; // crate::cli in a comment is fine\n".to_string(),
    )];
    let problems = violations(&layers, &planted);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("`store` (layer 3) uses `crate::ops` (layer 6)"),
        "{problems:?}"
    );
}

#[test]
fn commands_do_not_import_each_other() {
    let mut problems = Vec::new();
    for (relative, text) in sources() {
        if !relative.starts_with("commands") || relative.ends_with("mod.rs") {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let Some(at) = line.find("crate::commands::") else {
                continue;
            };
            let rest = &line[at + "crate::commands::".len()..];
            // What every command may share: the context, and how reports are shown and asked.
            let shared = ["Context", "render", "plan"];
            let imported: Vec<&str> = rest
                .trim_start_matches('{')
                .split(['}', ';'])
                .next()
                .unwrap_or_default()
                .split(',')
                .map(|item| item.trim().split("::").next().unwrap_or_default())
                .collect();
            if !imported.iter().all(|item| shared.contains(item)) {
                problems.push(format!(
                    "src/{}:{}: {}",
                    relative.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "commands importing commands:\n{}",
        problems.join("\n")
    );
}

fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut names = Vec::new();
    let mut in_dependencies = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies {
            if let Some((name, _)) = line.split_once('=') {
                names.push(name.trim().to_string());
            }
        }
    }
    names
}

#[test]
fn crates_depend_downwards_and_the_launcher_links_no_network_stack() {
    let crates = root().join("crates");
    let core = dependencies(&crates.join("pandora-core/Cargo.toml"));
    let format = dependencies(&crates.join("pandora-format/Cargo.toml"));
    let launcher = dependencies(&crates.join("pandora-launcher/Cargo.toml"));
    for (name, deps, forbidden) in [
        (
            "pandora-core",
            &core,
            &["pandora-format", "pandora-launcher", "pandora"][..],
        ),
        (
            "pandora-format",
            &format,
            &["pandora-launcher", "pandora"][..],
        ),
        ("pandora-launcher", &launcher, &["pandora"][..]),
    ] {
        for dependency in deps.iter() {
            assert!(
                !forbidden.contains(&dependency.as_str()),
                "{name} depends on {dependency}, a higher layer"
            );
            assert!(
                !["reqwest", "tokio", "indicatif", "clap", "owo-colors"]
                    .contains(&dependency.as_str()),
                "{name} depends on {dependency}: the launcher stub must stay small and offline"
            );
        }
    }
    let binary = std::fs::read_to_string(root().join("src/bin/pandora-launcher.rs")).unwrap();
    assert!(
        !binary.contains("pandora::"),
        "the launcher binary must link the launcher crate only, not the CLI's library"
    );
}
