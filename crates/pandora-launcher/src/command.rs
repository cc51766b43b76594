//! Turning the metadata's command and environment rules into a process, FlavorPack's way:
//! shell-style splitting, `{workenv}` / `{package_name}` / `{version}` / `{slot:N}`
//! placeholders, `runtime.env` (unset, pass, map, set), `workenv.env`, `execution.env`, and
//! `FLAVOR_WORKENV`, `FLAVOR_COMMAND_NAME`, `FLAVOR_ORIGINAL_COMMAND`, `PATH` for the child.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use pandora_core::{env_vars, PublicKey};
use pandora_format::extract::workenv_relative;
use pandora_format::metadata::{Metadata, RuntimeEnv};

/// What the launcher needs to start a package, derived from its signed metadata (which a warm
/// start reads from the work environment, after checking it hashes to what its record says).
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchPlan {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// The command line before substitution.
    pub command: String,
    /// `execution.env`.
    pub execution_env: BTreeMap<String, String>,
    /// `runtime.env`.
    pub runtime_env: RuntimeEnv,
    /// `workenv.env`.
    pub workenv_env: BTreeMap<String, String>,
    /// Single-file slot targets by slot index (tar slots are the work environment itself).
    pub slot_paths: BTreeMap<usize, String>,
    /// The signing key (on warm starts, from the record), so trust policy applies every time.
    pub public_key: PublicKey,
}

impl LaunchPlan {
    /// The plan for a verified package.
    pub fn from_metadata(metadata: &Metadata, public_key: &PublicKey) -> Option<LaunchPlan> {
        let execution = metadata.execution.as_ref()?;
        Some(LaunchPlan::with_command(
            metadata,
            public_key,
            execution.command.clone(),
            execution.env.clone(),
        ))
    }

    /// The plan of each entry point an installed package gets, by name: the package's own name
    /// runs `execution.command` (exactly what running the `.psp` runs), and each of
    /// `pandora.entry_points` its own command, with its variables set over `execution.env`. A
    /// named entry point called as the package overrides the command's. A package with neither
    /// (a library) has none.
    pub fn entry_points(
        metadata: &Metadata,
        public_key: &PublicKey,
    ) -> BTreeMap<String, LaunchPlan> {
        let mut plans = BTreeMap::new();
        if let Some(plan) = LaunchPlan::from_metadata(metadata, public_key) {
            plans.insert(metadata.package.name.clone(), plan);
        }
        let named = metadata
            .pandora
            .as_ref()
            .map(|pandora| &pandora.entry_points);
        for (name, entry) in named.into_iter().flatten() {
            let mut env = metadata
                .execution
                .as_ref()
                .map(|execution| execution.env.clone())
                .unwrap_or_default();
            env.extend(entry.env.clone());
            plans.insert(
                name.clone(),
                LaunchPlan::with_command(metadata, public_key, entry.command.clone(), env),
            );
        }
        plans
    }

    fn with_command(
        metadata: &Metadata,
        public_key: &PublicKey,
        command: String,
        execution_env: BTreeMap<String, String>,
    ) -> LaunchPlan {
        LaunchPlan {
            name: metadata.package.name.clone(),
            version: metadata.package.version.clone(),
            command,
            execution_env,
            runtime_env: metadata
                .runtime
                .as_ref()
                .map(|runtime| runtime.env.clone())
                .unwrap_or_default(),
            workenv_env: metadata
                .workenv
                .as_ref()
                .map(|workenv| workenv.env.clone())
                .unwrap_or_default(),
            slot_paths: metadata
                .slots
                .iter()
                .enumerate()
                .filter(|(_, slot)| {
                    !pandora_format::slot::Operations::parse(&slot.operations)
                        .is_ok_and(|ops| ops.is_archive())
                })
                .map(|(index, slot)| {
                    (
                        index,
                        slot.target.clone().unwrap_or_else(|| slot.id.clone()),
                    )
                })
                .collect(),
            public_key: *public_key,
        }
    }

    /// Replaces the placeholders in `text` in one pass: substituted text (a slot's target, a
    /// package name) is never searched for placeholders again, so it cannot expand forever.
    pub fn substitute(&self, text: &str, workenv: &Path) -> String {
        let workenv_text = workenv.display().to_string();
        let mut result = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            result.push_str(&rest[..start]);
            let tail = &rest[start..];
            let fixed = [
                ("{workenv}", workenv_text.as_str()),
                ("{package_name}", self.name.as_str()),
                ("{version}", self.version.as_str()),
            ];
            let replaced = fixed
                .iter()
                .find(|(placeholder, _)| tail.starts_with(placeholder))
                .map(|(placeholder, value)| (placeholder.len(), value.to_string()))
                .or_else(|| {
                    let inside = tail.strip_prefix("{slot:")?;
                    let end = inside.find('}')?;
                    let path = inside[..end]
                        .parse()
                        .ok()
                        .and_then(|index| self.slot_path(index, workenv))
                        .unwrap_or_else(|| workenv_text.clone());
                    Some(("{slot:".len() + end + 1, path))
                });
            match replaced {
                Some((length, value)) => {
                    result.push_str(&value);
                    rest = &tail[length..];
                }
                None => {
                    result.push('{');
                    rest = &tail[1..];
                }
            }
        }
        result.push_str(rest);
        result
    }

    /// Where a single-file slot was extracted: its target confined to the work environment
    /// exactly as extraction confined it.
    fn slot_path(&self, index: usize, workenv: &Path) -> Option<String> {
        let target = self.slot_paths.get(&index)?;
        let relative = workenv_relative(target).ok()??;
        Some(workenv.join(relative).display().to_string())
    }

    /// The program and its arguments (the package's own, then the caller's).
    pub fn argv(&self, workenv: &Path, arguments: &[OsString]) -> Result<Vec<OsString>, String> {
        let words = split_command(&self.command)?;
        if words.is_empty() {
            return Err("the package's command is empty".into());
        }
        let mut argv: Vec<OsString> = words
            .iter()
            .map(|word| OsString::from(self.substitute(word, workenv)))
            .collect();
        argv.extend(arguments.iter().cloned());
        Ok(argv)
    }

    /// The child's environment, from the current one.
    pub fn environment(
        &self,
        workenv: &Path,
        inherited: impl Iterator<Item = (OsString, OsString)>,
        package_path: &Path,
        original_command: &str,
    ) -> BTreeMap<OsString, OsString> {
        let rules = &self.runtime_env;
        let mut environment: BTreeMap<OsString, OsString> = inherited
            .filter(|(name, _)| {
                let name = name.to_string_lossy();
                let unset = rules.unset.iter().any(|pattern| glob_match(pattern, &name));
                !unset || rules.pass.iter().any(|pattern| glob_match(pattern, &name))
            })
            .collect();
        for (from, to) in &rules.map {
            if let Some(value) = environment.remove(&OsString::from(from)) {
                environment.insert(OsString::from(to), value);
            }
        }
        for (name, value) in rules
            .set
            .iter()
            .chain(&self.workenv_env)
            .chain(&self.execution_env)
        {
            environment.insert(name.into(), self.substitute(value, workenv).into());
        }
        let command_name = package_path
            .file_name()
            .map(|name| name.to_os_string())
            .unwrap_or_default();
        environment.insert(
            env_vars::FLAVOR_WORKENV.into(),
            workenv.as_os_str().to_os_string(),
        );
        environment.insert(env_vars::FLAVOR_COMMAND_NAME.into(), command_name);
        environment.insert(
            env_vars::FLAVOR_ORIGINAL_COMMAND.into(),
            original_command.into(),
        );
        let mut path = workenv.join("bin").into_os_string();
        if let Some(existing) = environment.get(&OsString::from(env_vars::PATH)) {
            path.push(":");
            path.push(existing);
        }
        environment.insert(env_vars::PATH.into(), path);
        environment
    }
}

/// Splits a command line as a POSIX shell would split words: whitespace separates, single
/// quotes are literal, double quotes allow `\"` and `\\`, a backslash escapes outside quotes.
pub fn split_command(command: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut characters = command.chars();
    while let Some(character) = characters.next() {
        match character {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in `{command}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match characters.next() {
                        Some('"') => break,
                        Some('\\') => match characters.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => {
                                return Err(format!("unterminated double quote in `{command}`"))
                            }
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in `{command}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = characters.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `*` matches any run, `?` one character; everything else literally.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(position) = star {
            p = position + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Resolves a program name the way `execvp` would, but with the package's `bin/` first.
pub fn resolve_program(program: &Path, path_variable: Option<&OsString>) -> PathBuf {
    if program.components().count() > 1 || program.is_absolute() {
        return program.to_path_buf();
    }
    if let Some(path_variable) = path_variable {
        for directory in std::env::split_paths(path_variable) {
            let candidate = directory.join(program);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    program.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        let cases: &[(&str, &[&str])] = &[
            ("a b  c", &["a", "b", "c"]),
            (
                "'{workenv}/my tool' --x=\"a b\"",
                &["{workenv}/my tool", "--x=a b"],
            ),
            (
                r#"echo "say \"hi\"" it\'s"#,
                &["echo", "say \"hi\"", "it's"],
            ),
            ("''", &[""]),
            ("", &[]),
        ];
        for (command, words) in cases {
            assert_eq!(split_command(command).unwrap(), *words, "{command}");
        }
        assert!(split_command("'open").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("PYTHON*", "PYTHONPATH"));
        assert!(glob_match("*_PROXY", "HTTP_PROXY"));
        assert!(glob_match("A?C", "ABC"));
        assert!(!glob_match("PYTHON*", "PATH"));
        assert!(glob_match("*", ""));
    }

    fn plan() -> LaunchPlan {
        LaunchPlan {
            name: "hello".into(),
            version: "1.0.0".into(),
            command: "{workenv}/bin/hello --name {package_name}-{version} {slot:1}".into(),
            execution_env: BTreeMap::from([("GREETING".into(), "hi from {workenv}".into())]),
            runtime_env: RuntimeEnv {
                unset: vec!["SECRET_*".into(), "PYTHONPATH".into()],
                pass: vec!["SECRET_OK".into()],
                map: BTreeMap::from([("OLD".into(), "NEW".into())]),
                set: BTreeMap::from([("MODE".into(), "fast".into())]),
            },
            workenv_env: BTreeMap::from([("TMPDIR".into(), "{workenv}/tmp".into())]),
            slot_paths: BTreeMap::from([(1, "data/raw.txt".into())]),
            public_key: pandora_format::signing::SigningKey::from_seed("plan").public_key(),
        }
    }

    #[test]
    fn argv_and_environment() {
        let workenv = Path::new("/cache/w");
        let argv = plan()
            .argv(workenv, &["--version".into(), "a b".into()])
            .unwrap();
        assert_eq!(
            argv,
            [
                "/cache/w/bin/hello",
                "--name",
                "hello-1.0.0",
                "/cache/w/data/raw.txt",
                "--version",
                "a b"
            ]
            .map(OsString::from)
        );
        let inherited = [
            ("SECRET_TOKEN", "x"),
            ("SECRET_OK", "y"),
            ("PYTHONPATH", "p"),
            ("OLD", "o"),
            ("PATH", "/usr/bin"),
            ("KEEP", "k"),
        ]
        .into_iter()
        .map(|(name, value)| (OsString::from(name), OsString::from(value)));
        let environment = plan().environment(
            workenv,
            inherited,
            Path::new("/pkgs/hello.psp"),
            "./hello.psp",
        );
        let get = |name: &str| {
            environment
                .get(&OsString::from(name))
                .map(|value| value.to_string_lossy().into_owned())
        };
        assert_eq!(get("SECRET_TOKEN"), None);
        assert_eq!(get("PYTHONPATH"), None);
        assert_eq!(get("SECRET_OK").as_deref(), Some("y"));
        assert_eq!(get("OLD"), None);
        assert_eq!(get("NEW").as_deref(), Some("o"));
        assert_eq!(get("MODE").as_deref(), Some("fast"));
        assert_eq!(get("KEEP").as_deref(), Some("k"));
        assert_eq!(get("TMPDIR").as_deref(), Some("/cache/w/tmp"));
        assert_eq!(get("GREETING").as_deref(), Some("hi from /cache/w"));
        assert_eq!(get("FLAVOR_WORKENV").as_deref(), Some("/cache/w"));
        assert_eq!(get("FLAVOR_COMMAND_NAME").as_deref(), Some("hello.psp"));
        assert_eq!(
            get("FLAVOR_ORIGINAL_COMMAND").as_deref(),
            Some("./hello.psp")
        );
        assert_eq!(get("PATH").as_deref(), Some("/cache/w/bin:/usr/bin"));
    }

    /// Runs `substitute` on another thread, failing instead of hanging if it never returns.
    fn substitute_within(plan: LaunchPlan, text: &'static str) -> String {
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(plan.substitute(text, Path::new("/cache/w")));
        });
        receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("substitution did not finish")
    }

    #[test]
    fn substituted_text_is_not_substituted_again() {
        let mut looping = plan();
        looping.slot_paths = BTreeMap::from([
            (1, "data/{slot:1}".into()),
            (2, "{slot:1}/{workenv}".into()),
        ]);
        looping.name = "{version}{slot:2}".into();
        assert_eq!(
            substitute_within(looping.clone(), "{slot:1} {slot:2} {package_name}"),
            "/cache/w/data/{slot:1} /cache/w/{slot:1}/{workenv} {version}{slot:2}"
        );
        // Unknown, malformed and unterminated placeholders.
        assert_eq!(
            substitute_within(looping, "{slot:9} {slot:x} {other} {slot:1"),
            "/cache/w /cache/w {other} {slot:1"
        );
        // A slot target is confined as extraction confines it.
        let mut absolute = plan();
        absolute.slot_paths = BTreeMap::from([(1, "/etc/passwd".into()), (2, "../x".into())]);
        assert_eq!(
            substitute_within(absolute, "{slot:1} {slot:2}"),
            "/cache/w/etc/passwd /cache/w"
        );
    }
}
