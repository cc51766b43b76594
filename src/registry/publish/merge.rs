//! Changes to an index: adding a verified package, yanking, deprecating, and the rules every
//! change keeps (immutable versions, `latest`, a growing serial).

use pandora_core::id::compare_versions;

use super::offer::Offered;
use super::PublishError;
use crate::format::metadata::encode_hex;
use crate::registry::index::{IndexPackage, IndexVersion, RegistryIndex};

/// What adding a package did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// A new version in the index.
    New,
    /// The index already had exactly these bytes under this name and version.
    Same,
}

/// Refuses `offered` if the index has its `name@version` with other bytes.
pub fn check_immutable(index: &RegistryIndex, offered: &Offered) -> Result<Added, PublishError> {
    let known = index.package(&offered.name).and_then(|package| {
        package
            .versions
            .iter()
            .find(|known| known.version == offered.entry.version)
    });
    match known {
        None => Ok(Added::New),
        // The version's own file, or one of its files per platform.
        Some(known)
            if (!known.pkg_url.is_empty() && known.sha256 == offered.entry.sha256)
                || known
                    .files
                    .iter()
                    .any(|file| file.sha256 == offered.entry.sha256) =>
        {
            Ok(Added::Same)
        }
        Some(known) => Err(PublishError::Immutable {
            id: offered.id(),
            indexed: encode_hex(&known.sha256),
            offered: encode_hex(&offered.entry.sha256),
            path: offered.path.clone(),
        }),
    }
}

/// Adds `offered` (served at `pkg_url`) to the index; the same bytes again change nothing.
pub fn add(
    index: &mut RegistryIndex,
    offered: &Offered,
    pkg_url: &str,
) -> Result<Added, PublishError> {
    if check_immutable(index, offered)? == Added::Same {
        return Ok(Added::Same);
    }
    let mut entry = offered.entry.clone();
    entry.pkg_url = pkg_url.to_string();
    let position = index.packages.iter().position(|p| p.name == offered.name);
    let package = match position {
        Some(position) => &mut index.packages[position],
        None => {
            index.packages.push(IndexPackage {
                name: offered.name.clone(),
                description: None,
                tags: Vec::new(),
                latest: String::new(),
                pkg_base_url: None,
                versions: Vec::new(),
            });
            index.packages.sort_by(|a, b| a.name.cmp(&b.name));
            index
                .packages
                .iter_mut()
                .find(|p| p.name == offered.name)
                .expect("just inserted")
        }
    };
    let newest = package
        .versions
        .last()
        .is_none_or(|last| compare_versions(&entry.version, &last.version).is_gt());
    // Description and tags come from the newest version.
    if newest {
        package.description.clone_from(&offered.description);
        package.tags.clone_from(&offered.tags);
    }
    package.versions.push(entry);
    package
        .versions
        .sort_by(|a, b| compare_versions(&a.version, &b.version));
    package.latest = latest(&package.versions);
    Ok(Added::New)
}

/// The version a bare name means: the newest neither yanked nor deprecated, else the newest
/// not yanked, else the newest (an index needs one).
pub fn latest(versions: &[IndexVersion]) -> String {
    versions
        .iter()
        .rev()
        .find(|v| !v.yanked && !v.deprecated)
        .or_else(|| versions.iter().rev().find(|v| !v.yanked))
        .or(versions.last())
        .map(|v| v.version.clone())
        .unwrap_or_default()
}

/// The versions `target` names (`name@version`, or a bare name for all of them).
fn versions_mut<'i>(
    index: &'i mut RegistryIndex,
    target: &str,
    location: &str,
) -> Result<(&'i mut IndexPackage, Option<String>), PublishError> {
    let (name, version) = match pandora_core::id::split_id(target) {
        Some((name, version)) => (name.to_string(), Some(version.to_string())),
        None => (target.to_string(), None),
    };
    let unknown = || PublishError::UnknownVersion {
        id: target.to_string(),
        location: location.to_string(),
    };
    let package = index
        .packages
        .iter_mut()
        .find(|p| p.name == name)
        .ok_or_else(unknown)?;
    if let Some(version) = &version {
        if !package.versions.iter().any(|v| &v.version == version) {
            return Err(unknown());
        }
    }
    Ok((package, version))
}

/// Marks `name@version` yanked (or not, with `yanked = false`). Returns whether it changed.
pub fn yank(
    index: &mut RegistryIndex,
    id: &str,
    yanked: bool,
    location: &str,
) -> Result<bool, PublishError> {
    let (package, version) = versions_mut(index, id, location)?;
    let Some(version) = version else {
        return Err(PublishError::UnknownVersion {
            id: id.to_string(),
            location: location.to_string(),
        });
    };
    let entry = package
        .versions
        .iter_mut()
        .find(|v| v.version == version)
        .expect("checked by versions_mut");
    let changed = entry.yanked != yanked;
    entry.yanked = yanked;
    package.latest = latest(&package.versions);
    Ok(changed)
}

/// Deprecates `name@version`, or every version of `name`, with `message` (`None`: undo).
/// Returns whether anything changed.
pub fn deprecate(
    index: &mut RegistryIndex,
    target: &str,
    message: Option<&str>,
    location: &str,
) -> Result<bool, PublishError> {
    let (package, version) = versions_mut(index, target, location)?;
    let mut changed = false;
    for entry in &mut package.versions {
        if version
            .as_ref()
            .is_some_and(|wanted| wanted != &entry.version)
        {
            continue;
        }
        let (deprecated, deprecation) = (message.is_some(), message.map(str::to_string));
        changed |= entry.deprecated != deprecated || entry.deprecation != deprecation;
        entry.deprecated = deprecated;
        entry.deprecation = deprecation;
    }
    package.latest = latest(&package.versions);
    Ok(changed)
}

/// The serial after `previous` (1 for a registry without one).
pub fn next_serial(previous: Option<i64>, location: &str) -> Result<i64, PublishError> {
    match previous {
        None => Ok(1),
        Some(serial) => serial
            .checked_add(1)
            .ok_or_else(|| PublishError::SerialExhausted {
                path: location.into(),
                serial,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(name: &str, version: &str, byte: u8) -> Offered {
        Offered {
            path: format!("/tmp/{name}-{version}.psp").into(),
            entry: IndexVersion {
                version: version.into(),
                pkg_url: String::new(),
                sha256: [byte; 32].into(),
                size: Some(1),
                manifest_url: None,
                dependencies: vec![],
                license: None,
                deprecated: false,
                deprecation: None,
                yanked: false,
                launcher: None,
                files: Vec::new(),
            },
            name: name.into(),
            description: Some(format!("{name} {version}")),
            tags: vec![],
            signer: "ed25519:0000000000000000000000000000000000000000000000000000000000000000"
                .parse()
                .unwrap(),
            platform: None,
        }
    }

    fn empty() -> RegistryIndex {
        RegistryIndex {
            name: "r".into(),
            serial: Some(1),
            expires: None,
            priority: 100,
            packages: vec![],
            compact: None,
        }
    }

    #[test]
    fn versions_are_immutable_and_the_same_bytes_are_idempotent() {
        let mut index = empty();
        assert_eq!(
            add(&mut index, &offered("a", "1.0.0", 1), "x").unwrap(),
            Added::New
        );
        assert_eq!(
            add(&mut index, &offered("a", "1.0.0", 1), "x").unwrap(),
            Added::Same
        );
        let error = add(&mut index, &offered("a", "1.0.0", 2), "y").unwrap_err();
        assert!(error.to_string().contains(&"01".repeat(32)), "{error}");
        assert!(error.to_string().contains(&"02".repeat(32)), "{error}");
        assert_eq!(index.packages[0].versions.len(), 1);
    }

    #[test]
    fn latest_skips_yanked_then_deprecated_versions() {
        let mut index = empty();
        for (version, byte) in [("1.0.0", 1), ("1.10.0", 2), ("1.2.0", 3)] {
            add(&mut index, &offered("a", version, byte), "x").unwrap();
        }
        assert_eq!(index.packages[0].latest, "1.10.0");
        assert_eq!(index.packages[0].description.as_deref(), Some("a 1.10.0"));
        assert!(yank(&mut index, "a@1.10.0", true, "here").unwrap());
        assert!(!yank(&mut index, "a@1.10.0", true, "here").unwrap());
        assert_eq!(index.packages[0].latest, "1.2.0");
        assert!(deprecate(&mut index, "a@1.2.0", Some("use b"), "here").unwrap());
        assert_eq!(index.packages[0].latest, "1.0.0");
        assert!(deprecate(&mut index, "a", Some("gone"), "here").unwrap());
        assert_eq!(index.packages[0].latest, "1.2.0");
        assert!(yank(&mut index, "a@1.10.0", false, "here").unwrap());
        assert_eq!(index.packages[0].latest, "1.10.0");
        assert!(yank(&mut index, "a@9.0.0", true, "here").is_err());
        assert!(yank(&mut index, "a", true, "here").is_err());
        assert!(deprecate(&mut index, "b", Some("x"), "here").is_err());
    }
}
