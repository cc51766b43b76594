//! What a command shows before it changes a profile, and the one rule for asking about it:
//! replacing the active version of a package nobody named (a dependency's pin bringing
//! another version) is shown, asked about on a terminal, and refused without `--yes` where
//! nobody can be asked. `install` and `activate` both follow it.

use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::ops::activate::{Preview, Replacement};

/// `hello@1.1.0 -> hello@1.0.0 (pinned by app@1.0.0)`.
pub fn replacement(replacement: &Replacement) -> String {
    match &replacement.needed_by {
        Some(by) => format!(
            "{} -> {} (pinned by {by})",
            replacement.old, replacement.new
        ),
        None => format!("{} -> {}", replacement.old, replacement.new),
    }
}

/// Status lines for what activation would do.
pub fn show_activation(context: &Context, preview: &Preview) {
    let replaced: Vec<&str> = preview
        .replaced
        .iter()
        .map(|replacement| replacement.new.as_str())
        .collect();
    let joining: Vec<&str> = preview
        .joining
        .iter()
        .map(String::as_str)
        .filter(|id| !replaced.contains(id))
        .collect();
    if !joining.is_empty() {
        context.printer.status(
            "Activate",
            format!("in profile {}: {}", preview.profile, joining.join(", ")),
        );
    }
    for replaced in &preview.replaced {
        context.printer.status("Replace", replacement(replaced));
    }
}

/// Applies the rule to a change that would replace packages nobody named: nothing to ask
/// about, a yes (`--yes`, or the user's answer on a terminal), or the refusal to tell the
/// user. `Ok(false)` means the user declined.
pub fn confirm_replacements(context: &Context, preview: &Preview) -> anyhow::Result<bool> {
    let unasked = preview.unasked();
    if unasked.is_empty() || context.settings.assume_yes {
        return Ok(true);
    }
    let listed: Vec<String> = unasked.iter().map(|r| replacement(r)).collect();
    if !context.settings.interactive {
        return Err(UserError::new(format!(
            "this would replace active packages you did not name: {}",
            listed.join(", ")
        ))
        .hint("pass --yes to accept the replacement, or name the versions you want")
        .status(ExitStatus::NotConfirmed)
        .into());
    }
    Ok(context.printer.confirm(&format!(
        "Replace {} in profile {}?",
        listed.join(", "),
        preview.profile
    ))?)
}
