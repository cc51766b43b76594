//! Install hooks in `manifest.acl`, in two shapes.
//!
//! A `hooks` block of command lines:
//!
//! ```text
//! hooks {
//!     string[] pre_install = { "echo checking" };
//!     string[] post_install = { "./bin/hello --write-config > share/hello.conf" };
//!     string[] pre_remove = { "echo bye" };
//!     int time_limit = 60;                      // seconds per command [default: 60]
//! }
//! ```
//!
//! and the design's hook files, `string[] install_hooks = { "hooks/preinstall.acl" };`, each
//! one block named for when it runs (`preinstall`, `postinstall`, `preremove`):
//!
//! ```text
//! preinstall { string action = "warn"; string msg = "Backing up config first"; }
//! postinstall { string action = "run"; string[] commands = { "echo configured" }; }
//! ```
//!
//! Commands run in the sandbox with the package's own directory (its store entry, before it is
//! sealed) as the working directory and the only writable place besides a private `/tmp`.

use std::path::Path;

use acl_parser::{Block, Document, Value};

use super::recipe::check_relative;
use super::BuildError;
use crate::format::metadata::{Hook, Hooks};

/// The default per-command time limit of a hook, in seconds.
pub const DEFAULT_HOOK_TIME_LIMIT: u64 = 60;

fn phase_of<'h>(hooks: &'h mut Hooks, name: &str) -> Option<&'h mut Vec<Hook>> {
    match name {
        "pre_install" | "preinstall" => Some(&mut hooks.pre_install),
        "post_install" | "postinstall" => Some(&mut hooks.post_install),
        "pre_remove" | "preremove" => Some(&mut hooks.pre_remove),
        _ => None,
    }
}

/// The `hooks { ... }` block.
pub(super) fn from_block(
    document: &Document,
    block: &Block,
    hooks: &mut Hooks,
) -> Result<(), acl_parser::Error> {
    if let Some(inner) = block.all_blocks().next() {
        return Err(document.error_at(
            inner.span(),
            format!("unknown block `{}` in hooks", inner.name()),
        ));
    }
    for field in block.fields() {
        if field.name() == "time_limit" {
            match field.value() {
                Value::Int(seconds) if (1..=3600).contains(seconds) => {
                    hooks.time_limit = Some(*seconds as u64);
                }
                _ => {
                    return Err(document.error_at(
                        field.span(),
                        "`time_limit` must be a number of seconds from 1 to 3600",
                    ))
                }
            }
            continue;
        }
        let Some(phase) = phase_of(hooks, field.name()) else {
            return Err(document
                .error_at(
                    field.span(),
                    format!("unknown field `{}` in hooks", field.name()),
                )
                .with_hint("hooks are pre_install, post_install, pre_remove and time_limit"));
        };
        for command in document.string_array(block, field.name())? {
            if command.trim().is_empty() {
                return Err(document.error_at(field.span(), "an empty hook command"));
            }
            phase.push(Hook::Run(command));
        }
    }
    Ok(())
}

/// A hook block of a hook file holds no block, no label, and only the fields its action
/// reads (one message for `warn`): anything else would be left out of the package unsaid.
fn exactly_what_is_read(document: &Document, block: &Block) -> Result<(), acl_parser::Error> {
    if let Some(label) = block.label() {
        return Err(document.error_at(
            block.span(),
            format!("hook `{}` takes no label (`\"{label}\"`)", block.name()),
        ));
    }
    if let Some(inner) = block.all_blocks().next() {
        return Err(document.error_at(
            inner.span(),
            format!(
                "unknown block `{}` in hook `{}`",
                inner.name(),
                block.name()
            ),
        ));
    }
    let warn = matches!(block.field("action").map(|field| field.value()), Some(Value::String(action)) if action == "warn");
    let known: &[&str] = if warn {
        // `command(s)` are known to be wrong here, which is said below, more usefully.
        &["action", "msg", "message", "command", "commands"]
    } else {
        &["action", "command", "commands"]
    };
    if let Some(field) = block.fields().find(|field| !known.contains(&field.name())) {
        return Err(document
            .error_at(
                field.span(),
                format!(
                    "unknown field `{}` in hook `{}`",
                    field.name(),
                    block.name()
                ),
            )
            .with_hint(format!(
                "a `{}` hook has {}",
                if warn { "warn" } else { "run" },
                known.join(", ")
            )));
    }
    if let (Some(_), Some(second)) = (block.field("msg"), block.field("message")) {
        return Err(document.error_at(
            second.span(),
            "a hook has one message: `msg` or `message`, not both",
        ));
    }
    Ok(())
}

/// Reads the hook files `files` (relative to the package directory `root`) into `hooks`.
pub(super) fn from_files(
    root: &Path,
    files: &[String],
    hooks: &mut Hooks,
) -> Result<(), BuildError> {
    for relative in files {
        let path = root.join(relative);
        let invalid = |source: acl_parser::Error| BuildError::Manifest {
            path: path.clone(),
            source,
        };
        check_relative(relative).map_err(|reason| {
            invalid(acl_parser::Error::new(acl_parser::ErrorKind::Custom(
                reason,
            )))
        })?;
        let text = fs_err::read_to_string(&path).map_err(|source| {
            BuildError::Io(pandora_core::IoError {
                action: "read",
                path: path.clone(),
                source,
            })
        })?;
        let document = acl_parser::from_str(&path.display().to_string(), &text).map_err(invalid)?;
        if let Some(field) = document.fields().next() {
            return Err(invalid(
                document
                    .error_at(
                        field.span(),
                        format!("`{}` stands outside a hook block", field.name()),
                    )
                    .with_hint(
                        "a hook file holds only `preinstall`, `postinstall` or `preremove` blocks",
                    ),
            ));
        }
        let mut found = false;
        for block in document.all_blocks() {
            found = true;
            exactly_what_is_read(&document, block).map_err(invalid)?;
            let Some(phase) = phase_of(hooks, block.name()) else {
                return Err(invalid(
                    document
                        .error_at(block.span(), format!("unknown hook `{}`", block.name()))
                        .with_hint(
                            "a hook file holds `preinstall`, `postinstall` or `preremove` blocks",
                        ),
                ));
            };
            let text = |name: &str| match block.field(name).map(|field| field.value()) {
                Some(Value::String(text)) => Some(text.clone()),
                _ => None,
            };
            match text("action").as_deref() {
                Some("warn") => {
                    if let Some(field) = ["commands", "command"].into_iter().find_map(|name| block.field(name)) {
                        return Err(invalid(
                            document
                                .error_at(field.span(), "a `warn` hook only shows its message: it cannot have `commands`")
                                .with_hint("make it `string action = \"run\";` to run the commands, or remove them"),
                        ));
                    }
                    let message = text("msg").or_else(|| text("message")).ok_or_else(|| {
                        invalid(document.error_at(block.span(), "a `warn` hook needs `string msg = \"...\";`"))
                    })?;
                    phase.push(Hook::Warn(message));
                }
                Some("run") | None => {
                    let mut commands = document.string_array(block, "commands").map_err(invalid)?;
                    if let Some(command) = text("command") {
                        commands.insert(0, command);
                    }
                    if commands.is_empty() || commands.iter().any(|command| command.trim().is_empty()) {
                        return Err(invalid(
                            document
                                .error_at(block.span(), format!("hook `{}` has nothing to do", block.name()))
                                .with_hint("give it `string action = \"warn\"; string msg = \"...\";` or `string[] commands = { ... };`"),
                        ));
                    }
                    phase.extend(commands.into_iter().map(Hook::Run));
                }
                Some(other) => {
                    return Err(invalid(
                        document
                            .error_at(block.field("action").and_then(|field| field.span()), format!("unknown hook action `{other}`"))
                            .with_hint("actions are `warn` (show `msg`) and `run` (run `commands` in the sandbox)"),
                    ))
                }
            }
        }
        if !found {
            return Err(invalid(
                document.error_at(None, "the hook file has no hook block"),
            ));
        }
    }
    Ok(())
}
