//! How the commands show the reports they share: a profile's new generation and the `$HOME`
//! links made after it.

use crate::activation::Applied;
use crate::commands::Context;
use crate::ops::activate::ProfileChange;
use crate::printer::Printer;
use crate::profile::HomeLinks;

/// One status line for what joined and left a profile.
pub fn applied(printer: &Printer, profile: &str, applied: &Applied) {
    let mut parts = Vec::new();
    if !applied.added.is_empty() {
        parts.push(format!("+ {}", applied.added.join(", ")));
    }
    if !applied.removed.is_empty() {
        parts.push(format!("- {}", applied.removed.join(", ")));
    }
    if parts.is_empty() && applied.new_generation {
        printer.status(
            "Profile",
            format!(
                "{profile} generation {}: the same packages, rebuilt from the bytes now installed",
                applied.generation
            ),
        );
        return;
    }
    if parts.is_empty() {
        printer.status(
            "Profile",
            format!("{profile} unchanged (generation {})", applied.generation),
        );
        return;
    }
    printer.status(
        "Profile",
        format!(
            "{profile} generation {}: {}",
            applied.generation,
            parts.join("; ")
        ),
    );
}

/// The `$HOME` links made, and a warning for each name the user owns.
pub fn home_links(printer: &Printer, links: &HomeLinks) {
    for (link, target) in &links.linked {
        printer.status(
            "Linked",
            format!("{} -> {}", link.display(), target.display()),
        );
    }
    for link in &links.removed {
        printer.status("Unlinked", link.display());
    }
    for (path, target) in &links.kept {
        printer.warn(format!(
            "{} is yours, so Pandora leaves it alone; its packages' files are in {}",
            path.display(),
            target.display()
        ));
        if path.file_name().is_some_and(|name| name == "bin") {
            printer.hint(
                "`pandora env` prints the lines that put them on your PATH: eval \"$(pandora env)\"",
            );
        }
    }
}

/// A profile change: its status line, its `$HOME` links, and what could not be finished
/// after it took effect.
pub fn profile_change(printer: &Printer, change: &ProfileChange) {
    applied(printer, &change.profile, &change.applied);
    home_links(printer, &change.home);
    unfinished(printer, &change.warnings);
}

/// What a change that took effect reports beside it: steps that failed after it (the change
/// stands, the command succeeds) and files rescued from the old generation.
pub fn unfinished(printer: &Printer, warnings: &[String]) {
    for warning in warnings {
        printer.warn(warning);
    }
}

/// Rows as aligned columns on stdout: every column but the last padded to its widest cell, two
/// spaces between columns, no trailing blanks.
pub fn table(printer: &Printer, rows: &[Vec<String>]) {
    // A registry's text is the registry's to choose: a 200 KB description is cut, not printed.
    const WIDEST: usize = 120;
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|cell| {
                    let cell = crate::printer::visible(cell);
                    if cell.chars().count() > WIDEST {
                        let mut cut: String = cell.chars().take(WIDEST - 1).collect();
                        cut.push('…');
                        cut
                    } else {
                        cell.into_owned()
                    }
                })
                .collect()
        })
        .collect();
    let rows = &rows[..];
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[column] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        printer.data(line.trim_end());
    }
}

/// What a registry says of a version, as ` (deprecated)`, ` (yanked)`, ` (deprecated, yanked)`
/// or nothing.
pub fn version_marks(version: &crate::registry::index::IndexVersion) -> String {
    let marks: Vec<&str> = [
        version.deprecated.then_some("deprecated"),
        version.yanked.then_some("yanked"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if marks.is_empty() {
        String::new()
    } else {
        format!(" ({})", marks.join(", "))
    }
}

/// A registry's package version as `search` and `list --remote` both show it: `name@version`
/// (pasteable into `install`), the registry, and the description (deprecation marked).
pub fn offered(
    registry: &str,
    package: &crate::registry::index::IndexPackage,
    version: &crate::registry::index::IndexVersion,
) -> Vec<String> {
    let mut description = package.description.clone().unwrap_or_default();
    description.push_str(&version_marks(version));
    vec![
        pandora_core::id::id(&package.name, &version.version),
        registry.to_string(),
        description.trim().to_string(),
    ]
}

/// The publisher for `target`'s flags.
pub fn publisher<'a>(
    target: &'a crate::cli::PublishTargetArgs,
    context: &'a Context,
) -> crate::ops::publish::Publisher<'a> {
    crate::ops::publish::Publisher {
        registry: &target.registry,
        key: target.key_source(),
        expires_in_days: target.expires_in,
        home: context.home(),
        variable: |name| std::env::var(name).ok(),
    }
}

/// The closing status line: the index written (or not) and its serial.
pub fn render_index(report: &crate::ops::publish::RegistryChangeReport, context: &Context) {
    let serial = report.serial.unwrap_or(0);
    if report.changed {
        let retries = match report.attempts {
            1 => String::new(),
            attempts => format!(" (after {} retries: others were publishing)", attempts - 1),
        };
        context.printer.status(
            "Signed",
            format!(
                "the index of registry `{}` at {}, serial {serial}{retries}",
                report.registry, report.location
            ),
        );
    } else {
        context.printer.status(
            "Unchanged",
            format!(
                "the index of registry `{}` at {} (serial {serial})",
                report.registry, report.location
            ),
        );
    }
}

/// A package's hooks on one line: `post_install `cmd`, warn "..."; pre_remove ...`.
pub fn hooks(hooks: &crate::format::metadata::Hooks) -> String {
    use crate::format::metadata::Hook;
    let mut parts = Vec::new();
    for (phase, list) in [
        ("pre_install", &hooks.pre_install),
        ("post_install", &hooks.post_install),
        ("pre_remove", &hooks.pre_remove),
    ] {
        if list.is_empty() {
            continue;
        }
        let shown: Vec<String> = list
            .iter()
            .map(|hook| match hook {
                Hook::Run(command) => format!("`{command}`"),
                Hook::Warn(message) => format!("warn \"{message}\""),
            })
            .collect();
        parts.push(format!("{phase} {}", shown.join(", ")));
    }
    parts.join("; ")
}

/// A package's signed provenance, one fact a line.
pub fn provenance(provenance: &crate::format::metadata::Provenance) -> Vec<String> {
    let mut lines = vec![
        format!("built by {} at {}", provenance.builder, provenance.time),
        format!("sandbox: {}", provenance.sandbox),
    ];
    if !provenance.recipe_sha256.is_empty() {
        lines.push(format!("recipe sha256:{}", provenance.recipe_sha256));
    }
    lines.extend(
        provenance
            .inputs
            .iter()
            .map(|(path, digest)| format!("input {path} {digest}")),
    );
    lines.extend(
        provenance
            .fetched
            .iter()
            .map(|(url, digest)| format!("fetched {url} sha256:{digest}")),
    );
    lines.extend(
        provenance
            .build_dependencies
            .iter()
            .map(|(pin, digest)| format!("build dependency {pin} tree sha256:{digest}")),
    );
    lines.extend(
        provenance
            .build_meta
            .iter()
            .map(|(name, value)| format!("build_meta {name} = {value}")),
    );
    lines
}

/// Wraps download progress so that each package's install hooks are shown (`Running`) right
/// before they run, whatever else was shown or confirmed before.
pub fn showing_hooks(
    printer: &Printer,
    inner: std::sync::Arc<dyn crate::ops::install::Progress>,
) -> std::sync::Arc<dyn crate::ops::install::Progress> {
    std::sync::Arc::new(ShowingHooks {
        printer: printer.clone(),
        inner,
    })
}

struct ShowingHooks {
    printer: Printer,
    inner: std::sync::Arc<dyn crate::ops::install::Progress>,
}

impl crate::ops::install::Progress for ShowingHooks {
    fn start(&self, downloads: &[(String, u64)]) {
        self.inner.start(downloads);
    }

    fn advance(&self, index: usize, bytes: u64) {
        self.inner.advance(index, bytes);
    }

    fn finish(&self) {
        self.inner.finish();
    }

    fn hooks(&self, id: &str, package_hooks: &crate::format::metadata::Hooks) {
        self.printer.status(
            "Running",
            format!("hooks of {id} in the sandbox: {}", hooks(package_hooks)),
        );
    }
}
