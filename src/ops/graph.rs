//! A package's dependency tree, each package marked active (in the active profile), installed
//! (in the store only) or missing; dependencies of a missing package come from the registries'
//! indexes, which are read only when something is not installed.

use std::collections::{BTreeMap, BTreeSet};

use super::registries;
use super::{Error, Result};
use crate::graph::Node;
use crate::layout::Layout;
use crate::profile::Profiles;
use crate::registry::client::Freshness;
use crate::resolver::Registry;
use crate::store::{Record, Store};

/// The tree, and what could not be consulted.
#[derive(Debug, Clone)]
pub struct Graph {
    /// The root and its dependencies; labels end in `(active)`, `(installed)`, `(missing)`,
    /// `(missing, in no registry)`, and repeats in `(*)`, cycles in `(cycle)`.
    pub tree: Node,
    /// Registries that could not be read (the tree is then incomplete).
    pub warnings: Vec<String>,
}

struct Sources {
    records: BTreeMap<String, Record>,
    active: BTreeSet<String>,
    registries: Option<Vec<Registry>>,
}

impl Sources {
    fn dependencies(&self, id: &str) -> Option<Vec<String>> {
        if let Some(record) = self.records.get(id) {
            return Some(record.dependencies.clone());
        }
        let (name, version) = pandora_core::id::split_id(id)?;
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

    fn root_id(&self, text: &str) -> Option<String> {
        if text.contains('@') {
            let known = self.records.contains_key(text) || self.dependencies(text).is_some();
            return known.then(|| text.to_string());
        }
        let prefix = format!("{text}@");
        if let Some(id) = self.active.iter().find(|id| id.starts_with(&prefix)) {
            return Some(id.clone());
        }
        self.registries.as_ref()?.iter().find_map(|registry| {
            let package = registry.index.package(text)?;
            Some(pandora_core::id::id(text, &package.latest))
        })
    }

    /// Whether some package under `root` is not installed.
    fn needs_registries(&self, root: &str) -> bool {
        let mut pending = vec![root.to_string()];
        let mut seen = BTreeSet::new();
        while let Some(id) = pending.pop() {
            if !seen.insert(id.clone()) {
                continue;
            }
            match self.records.get(&id) {
                Some(record) => pending.extend(record.dependencies.iter().cloned()),
                None => return true,
            }
        }
        false
    }

    fn read_registries(
        &mut self,
        layout: &Layout,
        freshness: Freshness,
        warnings: &mut Vec<String>,
    ) {
        match registries::read(layout, freshness) {
            Ok(loaded) => {
                warnings.extend(loaded.warnings());
                self.registries = Some(loaded.indexes());
            }
            Err(error) => warnings.push(format!(
                "registries unavailable ({}); dependencies of packages that are not installed are unknown",
                pandora_core::error::chain(&error)
            )),
        }
    }
}

/// The dependency tree of `package` (`NAME` or `NAME@VERSION`).
pub fn graph(layout: &Layout, package: &str, freshness: Freshness) -> Result<Graph> {
    let records: BTreeMap<String, Record> = Store::new(layout)
        .records()?
        .into_iter()
        .map(|record| (record.id(), record))
        .collect();
    let profiles = Profiles::new(layout);
    let active: BTreeSet<String> = profiles.members(&profiles.active()?)?.into_iter().collect();
    let mut sources = Sources {
        records,
        active,
        registries: None,
    };
    let mut warnings = Vec::new();
    // An installed NAME follows the rule every command follows (the active version, else the
    // only installed one, else an error listing them); only a name not installed at all is
    // looked up in the registries.
    let package = if !package.contains('@')
        && sources
            .records
            .values()
            .any(|record| record.name == package)
    {
        super::activate::installed_id(layout, package)?
    } else {
        package.to_string()
    };
    let package = package.as_str();
    let root = match sources.root_id(package) {
        Some(id) => Some(id),
        None => {
            sources.read_registries(layout, freshness, &mut warnings);
            sources.root_id(package)
        }
    };
    let Some(root) = root else {
        return Err(Error::refused(
            format!("{package} is neither installed nor in any configured registry"),
            "`pandora search` looks for packages; `pandora list --store` shows what is installed",
        ));
    };
    if sources.registries.is_none() && warnings.is_empty() && sources.needs_registries(&root) {
        sources.read_registries(layout, freshness, &mut warnings);
    }
    let tree = sources.tree(&root, &mut Vec::new(), &mut BTreeSet::new());
    Ok(Graph { tree, warnings })
}
