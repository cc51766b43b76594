//! `pandora graph NAME[@VERSION]`: a package's dependency tree, each package marked active (in
//! the active profile), installed (in the store only) or missing; dependencies of a missing
//! package come from the registries' indexes.

use std::collections::{BTreeMap, BTreeSet};

use owo_colors::OwoColorize;

use crate::cli::GraphArgs;
use crate::commands::Context;
use crate::error::UserError;
use crate::exit::ExitStatus;
use crate::graph::{render, Node};
use crate::install::read_registries;
use crate::resolver::Registry;
use crate::store::{newest, Record, Store};

struct Sources {
    records: BTreeMap<String, Record>,
    active: BTreeSet<String>,
    registries: Option<Vec<Registry>>,
}

impl Sources {
    /// A package's pins: from its install record, else from the first registry that has it.
    fn dependencies(&self, id: &str) -> Option<Vec<String>> {
        if let Some(record) = self.records.get(id) {
            return Some(record.dependencies.clone());
        }
        let (name, version) = id.split_once('@')?;
        self.registries.as_ref()?.iter().find_map(|registry| {
            let package = registry.index.package(name)?;
            let found = package.versions.iter().find(|v| v.version == version)?;
            Some(found.dependencies.clone())
        })
    }

    fn label(&self, id: &str) -> String {
        if self.active.contains(id) {
            format!("{id} (active)")
        } else if self.records.contains_key(id) {
            format!("{id} (installed)")
        } else if self.dependencies(id).is_some() {
            format!("{id} (missing)")
        } else {
            format!("{id} (missing, in no registry)")
        }
    }

    fn tree(&self, id: &str, path: &mut Vec<String>, shown: &mut BTreeSet<String>) -> Node {
        let mut node = Node::leaf(self.label(id));
        if path.iter().any(|p| p == id) {
            node.label.push_str(" (cycle)");
            return node;
        }
        if !shown.insert(id.to_string()) {
            node.label.push_str(" (*)");
            return node;
        }
        let mut pins = self.dependencies(id).unwrap_or_default();
        pins.sort();
        path.push(id.to_string());
        node.children = pins.iter().map(|pin| self.tree(pin, path, shown)).collect();
        path.pop();
        node
    }
}

/// Prints the tree on stdout.
pub fn run(args: &GraphArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let layout = &context.settings.layout;
    let records: BTreeMap<String, Record> = Store::new(layout)
        .records()?
        .into_iter()
        .map(|record| (record.id(), record))
        .collect();
    let profiles = crate::profile::Profiles::new(layout);
    let active: BTreeSet<String> = profiles.members(&profiles.active()?)?.into_iter().collect();
    let mut sources = Sources {
        records,
        active,
        registries: None,
    };
    let root = match root_id(&sources, &args.package) {
        Some(id) => Some(id),
        None => {
            sources.registries = registries(args, context);
            root_id(&sources, &args.package)
        }
    };
    let Some(root) = root else {
        return Err(UserError::new(format!(
            "{} is neither installed nor in any configured registry",
            args.package
        ))
        .hint("`pandora search` looks for packages; `pandora list --store` shows what is installed")
        .into());
    };
    let needs_registries = |sources: &Sources| {
        let mut pending = vec![root.clone()];
        let mut seen = BTreeSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            match sources.records.get(&id) {
                Some(record) => pending.extend(record.dependencies.iter().cloned()),
                None => return true,
            }
        }
        false
    };
    if sources.registries.is_none() && needs_registries(&sources) {
        sources.registries = registries(args, context);
    }
    let tree = sources.tree(&root, &mut Vec::new(), &mut BTreeSet::new());
    let color = context.settings.color_data;
    let style = |label: &str| {
        if !color {
            label.to_string()
        } else if label.contains("(missing") || label.contains("(cycle)") {
            label.red().bold().to_string()
        } else if label.contains("(active)") {
            label.green().to_string()
        } else {
            label.to_string()
        }
    };
    for line in render(&[tree], &style) {
        context.printer.data(line);
    }
    Ok(ExitStatus::Success)
}

/// `NAME@VERSION` as given (if known anywhere), or for `NAME` the active version, else the newest
/// installed one, else the registries' latest.
fn root_id(sources: &Sources, text: &str) -> Option<String> {
    if text.contains('@') {
        let known = sources.records.contains_key(text) || sources.dependencies(text).is_some();
        return known.then(|| text.to_string());
    }
    let prefix = format!("{text}@");
    if let Some(id) = sources.active.iter().find(|id| id.starts_with(&prefix)) {
        return Some(id.clone());
    }
    if let Some(record) = newest(sources.records.values(), |r| r.name == text) {
        return Some(record.id());
    }
    sources.registries.as_ref()?.iter().find_map(|registry| {
        let package = registry.index.package(text)?;
        Some(format!("{text}@{}", package.latest))
    })
}

/// The registries' indexes, or `None` with a warning: the tree of what is installed is still
/// worth showing without them.
fn registries(args: &GraphArgs, context: &Context) -> Option<Vec<Registry>> {
    match read_registries(&context.settings.layout, args.offline) {
        Ok(registries) => Some(
            registries
                .into_iter()
                .map(|(_, registry)| registry)
                .collect(),
        ),
        Err(error) => {
            context.printer.warn(format!(
                "registries unavailable ({error:#}); dependencies of packages that are not installed are unknown"
            ));
            None
        }
    }
}
