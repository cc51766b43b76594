//! Resolution: the install set is the closure of the requested packages over their exact
//! `name@version` pins, chosen greedily and deterministically (registries in priority order, a
//! bare name meaning that registry's `latest`). A missing package or two versions of one name is
//! an error that shows the chain that led there and the exact command that fixes it.

use pandora_core::Sha256;
use std::collections::BTreeMap;

use url::Url;

use crate::graph::explain;
use pandora_core::id::compare_versions;

use crate::format::platform::Platform;
use crate::registry::index::{IndexVersion, RegistryIndex};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Package name.
    pub name: String,
    /// Exact version, or the registry's latest.
    pub version: Option<String>,
}

impl Request {
    /// Parses `name` or `name@version`.
    pub fn parse(text: &str) -> Result<Request, String> {
        let (name, version) = match pandora_core::id::split_id(text) {
            Some((name, version)) => (name, Some(version)),
            None => (text, None),
        };
        pandora_core::id::validate_name(name)?;
        if let Some(version) = version {
            pandora_core::id::validate_version(version)?;
        }
        Ok(Request {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }
}

/// One registry's index, with where it is.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Its configured name.
    pub name: String,
    /// The index's URL (package URLs are relative to it).
    pub index_url: Url,
    /// The registry's other `index.acl` URLs (its mirrors), in order: any of them can serve a
    /// package whose URL is relative, as the signed SHA-256 says which bytes are right.
    pub mirrors: Vec<Url>,
    /// The index.
    pub index: RegistryIndex,
}

/// Packages at hand without any registry, `name@version` -> its pins: installed ones and
/// local files being installed. They satisfy exact pins only: a bare name still means a
/// registry's latest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Have(pub BTreeMap<String, Vec<String>>);

/// What resolution chose for one name.
#[derive(Debug, Clone)]
enum Chosen {
    /// From a registry.
    Fetch(Box<Resolved>),
    /// At hand already: its version, and the chain that asked for it.
    Have(String, Vec<String>),
}

impl Chosen {
    fn version(&self) -> &str {
        match self {
            Chosen::Fetch(resolved) => &resolved.version,
            Chosen::Have(version, _) => version,
        }
    }

    fn chain(&self) -> &[String] {
        match self {
            Chosen::Fetch(resolved) => &resolved.chain,
            Chosen::Have(_, chain) => chain,
        }
    }
}

/// A package chosen for installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// The registry it comes from.
    pub registry: String,
    /// Where to download it.
    pub url: Url,
    /// The SHA-256 the index promises.
    pub sha256: Sha256,
    /// Other places with the same file (the registry's mirrors), in order.
    pub mirrors: Vec<Url>,
    /// The size the index promises (`None`: it does not say).
    pub size: Option<u64>,
    /// The launcher stub the index says the file starts with, if it says.
    pub launcher: Option<crate::registry::index::LauncherRef>,
    /// Its pins.
    pub dependencies: Vec<String>,
    /// Whether the registry marks it deprecated (a warning, never a refusal).
    pub deprecated: bool,
    /// The publisher's message, when it gave one.
    pub deprecation: Option<String>,
    /// What asked for it: `["app@1.0.0", "libfoo@2.0.0"]` ends with this package.
    pub chain: Vec<String>,
}

impl Resolved {
    /// `name@version`.
    pub fn id(&self) -> String {
        pandora_core::id::id(&self.name, &self.version)
    }
}

/// Why nothing can be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A package or version no registry has.
    #[error("{wanted} is not in any configured registry{}{}", needed_by(chain), explain(&marked(chain, wanted, "not in any registry")))]
    Missing {
        /// `name` or `name@version`.
        wanted: String,
        /// The chain that asked for it.
        chain: Vec<String>,
        /// The command that would fix it.
        fix: String,
    },
    /// Two versions of one name.
    #[error("{name} is needed at two versions: {} and {}{}", first.join(" -> "), second.join(" -> "), explain(&[marked_path(first, "conflicts"), marked_path(second, "conflicts")]))]
    Conflict {
        /// The package.
        name: String,
        /// One chain, ending in `name@version`.
        first: Vec<String>,
        /// The other.
        second: Vec<String>,
        /// The command that would fix it.
        fix: String,
    },
    /// The registry points at a place it may not (see [`crate::registry::index::package_url`]).
    #[error("registry `{registry}` offers {id} at {reason}")]
    BadUrl {
        /// `name@version`.
        id: String,
        /// The registry.
        registry: String,
        /// What is wrong with the URL.
        reason: String,
    },
    /// A version whose files are all for other platforms.
    #[error("{id} in registry `{registry}` has no file for this machine ({platform}); it is built for {}", offered.join(", "))]
    NoFileForPlatform {
        /// `name@version`.
        id: String,
        /// The registry.
        registry: String,
        /// This machine's platform.
        platform: String,
        /// The platforms it has files for.
        offered: Vec<String>,
    },
    /// A package that needs itself, through its dependencies.
    #[error("dependency cycle: {}{}", cycle.join(" -> "), explain(&[marked_path(cycle, "cycle")]))]
    Cycle {
        /// From the package round to itself.
        cycle: Vec<String>,
    },
}

/// ` (needed by a -> b)`, or nothing for a package asked for directly.
fn needed_by(chain: &[String]) -> String {
    if chain.is_empty() {
        String::new()
    } else {
        format!(" (needed by {})", chain.join(" -> "))
    }
}

/// The chain that asked for `wanted`, then `wanted` marked with `why`.
fn marked(chain: &[String], wanted: &str, why: &str) -> Vec<Vec<String>> {
    let mut path = chain.to_vec();
    path.push(format!("{wanted} ✗ {why}"));
    vec![path]
}

/// `path` with its last element marked with `why`.
fn marked_path(path: &[String], why: &str) -> Vec<String> {
    let mut path = path.to_vec();
    if let Some(last) = path.last_mut() {
        last.push_str(&format!(" ✗ {why}"));
    }
    path
}

impl pandora_core::Hint for ResolveError {
    fn hint(&self) -> Option<String> {
        Some(self.fix())
    }
}

impl ResolveError {
    /// The command that fixes it.
    pub fn fix(&self) -> String {
        match self {
            ResolveError::Missing { fix, .. } | ResolveError::Conflict { fix, .. } => fix.clone(),
            ResolveError::BadUrl { registry, .. } => format!(
                "nothing was downloaded; the registry is broken or hostile: tell its operator, or `pandora registry remove {registry}`"
            ),
            ResolveError::NoFileForPlatform { id, .. } => format!(
                "nothing was downloaded; `pandora info {}` lists the versions, another may be built for this machine, or ask its publisher for a build",
                id.split('@').next().unwrap_or(id)
            ),
            ResolveError::Cycle { cycle } => format!(
                "a package cannot need itself, even indirectly; ask the publisher of {} to break the cycle",
                cycle.first().map_or("it", String::as_str)
            ),
        }
    }
}

/// Exact bytes wanted for some `name@version`s (a lockfile's): `name@version` -> SHA-256.
pub type Pins = BTreeMap<String, Sha256>;

/// The first registry (by priority) offering `name` at `version` (its latest when `None`);
/// for a pinned `name@version`, the first offering exactly the pinned bytes, if any does.
/// Yanked versions are offered only to a pin of exactly their bytes (a lockfile's), as cargo
/// does: a new install never chooses one.
fn lookup<'r>(
    registries: &'r [Registry],
    name: &str,
    version: Option<&str>,
    pins: &Pins,
) -> Option<(&'r Registry, &'r IndexVersion)> {
    let offers = |registry: &'r Registry| {
        let package = registry.index.package(name)?;
        let version = version.unwrap_or(&package.latest);
        package
            .versions
            .iter()
            .find(|candidate| candidate.version == version)
            .map(|found| (registry, found))
    };
    let here = Platform::current();
    let file = |found: &IndexVersion| found.file_for(&here).ok().map(|file| file.sha256);
    let pinned = version.and_then(|version| pins.get(&pandora_core::id::id(name, version)));
    pinned
        .and_then(|sha256| {
            registries
                .iter()
                .filter_map(offers)
                .find(|(_, found)| file(found) == Some(*sha256))
        })
        // Not yanked; a registry with a file for this platform before one without (whose
        // error says so).
        .or_else(|| {
            registries
                .iter()
                .filter_map(offers)
                .find(|(_, found)| !found.yanked && file(found).is_some())
        })
        .or_else(|| {
            registries
                .iter()
                .filter_map(offers)
                .find(|(_, found)| !found.yanked)
        })
}

/// Resolves `requests` against what is at hand, then `registries` (highest priority first).
/// Returns what must come from the registries, dependencies before dependents.
pub fn resolve(
    requests: &[Request],
    have: &Have,
    registries: &[Registry],
) -> Result<Vec<Resolved>, ResolveError> {
    resolve_pinned(requests, have, registries, &Pins::new())
}

/// [`resolve`], taking each pinned `name@version` from the first registry that offers exactly
/// the pinned bytes: a registry's name does not matter, its bytes do. Where none does, the
/// first registry's offer is taken, for the caller to compare and refuse.
pub fn resolve_pinned(
    requests: &[Request],
    have: &Have,
    registries: &[Registry],
    pins: &Pins,
) -> Result<Vec<Resolved>, ResolveError> {
    resolve_plainly(requests, have, registries, pins)
        .map_err(|error| improve(error, requests, registries))
}

/// Only the package `request` names, without its dependencies (running a self-contained
/// `.psp` needs none): from the first registry that offers it.
pub fn find(request: &Request, registries: &[Registry]) -> Result<Resolved, ResolveError> {
    let Some((registry, found)) = lookup(
        registries,
        &request.name,
        request.version.as_deref(),
        &Pins::new(),
    ) else {
        return Err(missing(
            &request.name,
            request.version.as_deref(),
            &[],
            registries,
        ));
    };
    plan_entry(
        &request.name,
        registry,
        found,
        vec![pandora_core::id::id(&request.name, &found.version)],
    )
}

/// The plan for `requests`, dependencies before dependents, or the first failure as found.
fn resolve_plainly(
    requests: &[Request],
    have: &Have,
    registries: &[Registry],
    pins: &Pins,
) -> Result<Vec<Resolved>, ResolveError> {
    let mut chosen: BTreeMap<String, Chosen> = BTreeMap::new();
    let mut order = Vec::new();
    for request in requests {
        visit(
            &request.name,
            request.version.as_deref(),
            &[],
            &Sources {
                have,
                registries,
                pins,
            },
            &mut chosen,
            &mut order,
        )?;
    }
    Ok(order
        .into_iter()
        .filter_map(|name| match chosen.remove(&name) {
            Some(Chosen::Fetch(resolved)) => Some(*resolved),
            _ => None,
        })
        .collect())
}

/// Where resolution looks: what is at hand first (exact pins only), then the registries.
struct Sources<'s> {
    have: &'s Have,
    registries: &'s [Registry],
    pins: &'s Pins,
}

/// Depth first, dependencies before dependents; `order` gets each name once, after its pins.
fn visit(
    name: &str,
    version: Option<&str>,
    parents: &[String],
    sources: &Sources<'_>,
    chosen: &mut BTreeMap<String, Chosen>,
    order: &mut Vec<String>,
) -> Result<(), ResolveError> {
    let registries = sources.registries;
    if let Some(existing) = chosen.get(name) {
        let id = pandora_core::id::id(name, existing.version());
        if let Some(start) = parents.iter().position(|parent| *parent == id) {
            let mut cycle = parents[start..].to_vec();
            cycle.push(id);
            return Err(ResolveError::Cycle { cycle });
        }
        return match version {
            Some(version) if version != existing.version() => {
                let mut second = parents.to_vec();
                second.push(pandora_core::id::id(name, version));
                Err(ResolveError::Conflict {
                    name: name.to_string(),
                    first: existing.chain().to_vec(),
                    second,
                    fix: String::new(),
                })
            }
            _ => Ok(()),
        };
    }
    if let Some((id, pins)) = version.and_then(|version| {
        sources
            .have
            .0
            .get_key_value(&pandora_core::id::id(name, version))
    }) {
        let mut chain = parents.to_vec();
        chain.push(id.clone());
        let version = version.unwrap_or_default().to_string();
        chosen.insert(name.to_string(), Chosen::Have(version, chain.clone()));
        visit_pins(pins, &chain, sources, chosen, order)?;
        order.push(name.to_string());
        return Ok(());
    }
    let Some((registry, found)) = lookup(registries, name, version, sources.pins) else {
        return Err(missing(name, version, parents, registries));
    };
    let mut chain = parents.to_vec();
    chain.push(pandora_core::id::id(name, &found.version));
    let resolved = plan_entry(name, registry, found, chain.clone())?;
    chosen.insert(name.to_string(), Chosen::Fetch(Box::new(resolved)));
    visit_pins(&found.dependencies, &chain, sources, chosen, order)?;
    order.push(name.to_string());
    Ok(())
}

/// Visits a package's pins in sorted order, so the plan does not depend on how they are listed.
fn visit_pins(
    pins: &[String],
    chain: &[String],
    sources: &Sources<'_>,
    chosen: &mut BTreeMap<String, Chosen>,
    order: &mut Vec<String>,
) -> Result<(), ResolveError> {
    let mut pins: Vec<&String> = pins.iter().collect();
    pins.sort();
    for pin in pins {
        let (dependency, pinned) = pandora_core::id::split_id(pin).unwrap_or((pin.as_str(), ""));
        visit(dependency, Some(pinned), chain, sources, chosen, order)?;
    }
    Ok(())
}

/// `name` (at `version`) is in no registry: the error, with the versions they do have.
fn missing(
    name: &str,
    version: Option<&str>,
    parents: &[String],
    registries: &[Registry],
) -> ResolveError {
    let wanted = version.map_or(name.to_string(), |version| {
        pandora_core::id::id(name, version)
    });
    let available: Vec<String> = registries
        .iter()
        .filter_map(|registry| registry.index.package(name))
        .flat_map(|package| package.versions.iter().filter(|v| !v.yanked))
        .map(|v| v.version.clone())
        .collect();
    // Only yanked versions match: say so, rather than that nothing exists.
    let yanked = (version.is_some() || available.is_empty())
        && registries
            .iter()
            .filter_map(|registry| registry.index.package(name))
            .flat_map(|package| &package.versions)
            .any(|v| v.yanked && version.is_none_or(|version| v.version == version));
    let fix = if yanked {
        format!(
            "{wanted} was yanked by its publisher: it is installed only where a lockfile pins it (`pandora sync`); available versions of {name}: {}",
            if available.is_empty() { "none".to_string() } else { available.join(", ") }
        )
    } else if available.is_empty() {
        format!("no configured registry has `{name}`: add one that does with `pandora registry add NAME URL`, or look for it with `pandora search {name}`")
    } else {
        format!(
            "available versions of {name}: {}; `pandora info {name}` shows them (if it was published just now: `--refresh` reads the registries again)",
            available.join(", ")
        )
    };
    ResolveError::Missing {
        wanted,
        chain: parents.to_vec(),
        fix,
    }
}

/// `found` in `registry`, as a plan entry reached through `chain`: its URL, and the same file
/// at the registry's mirrors when the URL is relative (an absolute one is used as given).
fn plan_entry(
    name: &str,
    registry: &Registry,
    found: &IndexVersion,
    chain: Vec<String>,
) -> Result<Resolved, ResolveError> {
    let bad_url = |reason| ResolveError::BadUrl {
        id: pandora_core::id::id(name, &found.version),
        registry: registry.name.clone(),
        reason,
    };
    // `lookup` found the version in this package.
    let package = registry
        .index
        .package(name)
        .ok_or_else(|| bad_url(String::new()))?;
    let here = Platform::current();
    let file = found
        .file_for(&here)
        .map_err(|offered| ResolveError::NoFileForPlatform {
            id: pandora_core::id::id(name, &found.version),
            registry: registry.name.clone(),
            platform: here.to_string(),
            offered,
        })?;
    let url = package
        .version_url(&registry.index_url, file.pkg_url)
        .map_err(bad_url)?;
    let mut mirrors = Vec::new();
    if package.is_relative(file.pkg_url) {
        for mirror in &registry.mirrors {
            let mirrored = package.version_url(mirror, file.pkg_url).map_err(bad_url)?;
            if mirrored != url && !mirrors.contains(&mirrored) {
                mirrors.push(mirrored);
            }
        }
    }
    Ok(Resolved {
        name: name.to_string(),
        version: found.version.clone(),
        registry: registry.name.clone(),
        url,
        mirrors,
        sha256: file.sha256,
        size: file.size,
        launcher: file.launcher,
        dependencies: found.dependencies.clone(),
        deprecated: found.deprecated,
        deprecation: found.deprecation.clone(),
        chain,
    })
}

/// Fills in the fix for a conflict: another version of the second request that agrees with
/// the first, if the registries have one.
fn improve(error: ResolveError, requests: &[Request], registries: &[Registry]) -> ResolveError {
    let ResolveError::Conflict {
        name,
        first,
        second,
        ..
    } = error
    else {
        return error;
    };
    let root = second
        .first()
        .map(|id| pandora_core::id::name_of(id))
        .unwrap_or_default()
        .to_string();
    let mut fix = format!(
        "install them one at a time (`pandora install {}` and `pandora install {}`)",
        first[0], second[0]
    );
    if let Some(package) = registries
        .iter()
        .find_map(|registry| registry.index.package(&root))
    {
        let mut versions: Vec<&IndexVersion> = package.versions.iter().collect();
        versions.sort_by(|a, b| compare_versions(&b.version, &a.version));
        for candidate in versions {
            let mut trial: Vec<Request> = requests
                .iter()
                .filter(|request| request.name != root)
                .cloned()
                .collect();
            trial.push(Request {
                name: root.clone(),
                version: Some(candidate.version.clone()),
            });
            if resolve_plainly(&trial, &Have::default(), registries, &Pins::new()).is_ok() {
                let others: Vec<String> = requests
                    .iter()
                    .filter(|request| request.name != root)
                    .map(request_text)
                    .collect();
                fix = format!(
                    "pandora install {} {root}@{}",
                    others.join(" "),
                    candidate.version
                );
                break;
            }
        }
    }
    ResolveError::Conflict {
        name,
        first,
        second,
        fix,
    }
}

fn request_text(request: &Request) -> String {
    match &request.version {
        Some(version) => pandora_core::id::id(&request.name, version),
        None => request.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::index::IndexPackage;

    fn version(version: &str, dependencies: &[&str]) -> IndexVersion {
        IndexVersion {
            version: version.into(),
            pkg_url: format!("{version}.psp"),
            sha256: [0; 32].into(),
            files: Vec::new(),
            size: Some(1),
            manifest_url: None,
            dependencies: dependencies.iter().map(|pin| pin.to_string()).collect(),
            license: None,
            deprecated: false,
            deprecation: None,
            yanked: false,
            launcher: None,
        }
    }

    fn resolve_in(
        requests: &[Request],
        registries: &[Registry],
    ) -> Result<Vec<Resolved>, ResolveError> {
        resolve(requests, &Have::default(), registries)
    }

    #[test]
    fn packages_at_hand_satisfy_exact_pins_and_bring_their_own() {
        let registries = vec![registry(
            "main",
            vec![
                ("lib", vec![version("1.0.0", &[])]),
                ("app", vec![version("1.0.0", &["lib@1.0.0"])]),
            ],
        )];
        // A local file needing another local file and an installed package: no registry.
        let mut have = Have::default();
        have.0
            .insert("tool@1.0.0".into(), vec!["helper@2.0.0".into()]);
        have.0
            .insert("helper@2.0.0".into(), vec!["lib@1.0.0".into()]);
        have.0.insert("lib@1.0.0".into(), vec![]);
        assert!(resolve(&requests(&["tool@1.0.0"]), &have, &[])
            .unwrap()
            .is_empty());
        // A bare name still means the registry's latest, and a pin at hand is not fetched.
        let plan = resolve(&requests(&["app"]), &have, &registries).unwrap();
        assert_eq!(ids(&plan), vec!["app@1.0.0"]);
        // At hand at another version than a registry package pins: a conflict, as ever.
        let mut other = Have::default();
        other
            .0
            .insert("tool@1.0.0".into(), vec!["lib@0.9.0".into()]);
        other.0.insert("lib@0.9.0".into(), vec![]);
        let error = resolve(&requests(&["tool@1.0.0", "app"]), &other, &registries).unwrap_err();
        assert!(matches!(error, ResolveError::Conflict { .. }), "{error}");
    }

    fn registry(name: &str, packages: Vec<(&str, Vec<IndexVersion>)>) -> Registry {
        Registry {
            name: name.into(),
            index_url: Url::parse(&format!("https://{name}.example/index.acl")).unwrap(),
            mirrors: vec![],
            index: RegistryIndex {
                name: name.into(),
                serial: Some(1),
                expires: Some(i64::MAX),
                priority: 100,
                packages: packages
                    .into_iter()
                    .map(|(package, versions)| IndexPackage {
                        name: package.into(),
                        description: None,
                        tags: vec![],
                        latest: versions.last().unwrap().version.clone(),
                        pkg_base_url: None,
                        versions,
                    })
                    .collect(),
                compact: None,
            },
        }
    }

    fn requests(texts: &[&str]) -> Vec<Request> {
        texts
            .iter()
            .map(|text| Request::parse(text).unwrap())
            .collect()
    }

    fn ids(resolved: &[Resolved]) -> Vec<String> {
        resolved.iter().map(Resolved::id).collect()
    }

    #[test]
    fn closure_in_dependency_order_from_the_first_registry() {
        let registries = [
            registry(
                "fast",
                vec![("libfoo", vec![version("2.0.0", &["libbase@1.0.0"])])],
            ),
            registry(
                "main",
                vec![
                    (
                        "app",
                        vec![
                            version("1.0.0", &[]),
                            version("1.1.0", &["libfoo@2.0.0", "libbar@1.0.0"]),
                        ],
                    ),
                    ("libfoo", vec![version("2.0.0", &[])]),
                    ("libbar", vec![version("1.0.0", &["libbase@1.0.0"])]),
                    ("libbase", vec![version("1.0.0", &[])]),
                ],
            ),
        ];
        let resolved = resolve_in(&requests(&["app"]), &registries).unwrap();
        assert_eq!(
            ids(&resolved),
            ["libbase@1.0.0", "libbar@1.0.0", "libfoo@2.0.0", "app@1.1.0"]
        );
        let libfoo = resolved.iter().find(|r| r.name == "libfoo").unwrap();
        assert_eq!(libfoo.registry, "fast");
        assert_eq!(libfoo.url.as_str(), "https://fast.example/2.0.0.psp");
        assert_eq!(libfoo.chain, ["app@1.1.0", "libfoo@2.0.0"]);
        assert_eq!(
            ids(&resolve_in(&requests(&["app@1.0.0"]), &registries).unwrap()),
            ["app@1.0.0"]
        );
        // Deterministic: the same answer every time.
        assert_eq!(
            resolve_in(&requests(&["app"]), &registries).unwrap(),
            resolved
        );
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let registries = [registry(
            "main",
            vec![
                ("app", vec![version("1.0.0", &["liba@1.0.0"])]),
                ("liba", vec![version("1.0.0", &["libb@1.0.0"])]),
                ("libb", vec![version("1.0.0", &["liba@1.0.0"])]),
            ],
        )];
        let error = resolve_in(&requests(&["app"]), &registries).unwrap_err();
        assert_eq!(
            error.to_string(),
            "dependency cycle: liba@1.0.0 -> libb@1.0.0 -> liba@1.0.0\n    liba@1.0.0\n    └── libb@1.0.0\n        └── liba@1.0.0 ✗ cycle"
        );
        assert!(error.fix().contains("break the cycle"), "{}", error.fix());
    }

    #[test]
    fn missing_packages_show_the_chain_and_the_fix() {
        let registries = [registry(
            "main",
            vec![
                ("app", vec![version("1.0.0", &["libfoo@2.0.0"])]),
                ("libfoo", vec![version("1.0.0", &[])]),
            ],
        )];
        let error = resolve_in(&requests(&["app"]), &registries).unwrap_err();
        assert_eq!(
            error.to_string(),
            "libfoo@2.0.0 is not in any configured registry (needed by app@1.0.0)\n    app@1.0.0\n    └── libfoo@2.0.0 ✗ not in any registry"
        );
        assert_eq!(
            error.fix(),
            "available versions of libfoo: 1.0.0; `pandora info libfoo` shows them (if it was published just now: `--refresh` reads the registries again)"
        );
        let error = resolve_in(&requests(&["nope"]), &registries).unwrap_err();
        assert!(
            error.fix().contains("pandora registry add NAME URL"),
            "{}",
            error.fix()
        );
    }

    #[test]
    fn conflicts_show_both_chains_and_a_version_that_agrees() {
        let registries = [registry(
            "main",
            vec![
                ("app", vec![version("1.0.0", &["libfoo@2.0.0"])]),
                (
                    "tool",
                    vec![
                        version("1.0.0", &["libfoo@2.0.0"]),
                        version("2.0.0", &["libfoo@3.0.0"]),
                    ],
                ),
                ("libfoo", vec![version("2.0.0", &[]), version("3.0.0", &[])]),
            ],
        )];
        let error = resolve_in(&requests(&["app", "tool"]), &registries).unwrap_err();
        assert_eq!(error.to_string(), "libfoo is needed at two versions: app@1.0.0 -> libfoo@2.0.0 and tool@2.0.0 -> libfoo@3.0.0\n    app@1.0.0\n    └── libfoo@2.0.0 ✗ conflicts\n    tool@2.0.0\n    └── libfoo@3.0.0 ✗ conflicts");
        assert_eq!(error.fix(), "pandora install app tool@1.0.0");
        assert!(Request::parse("app@^1").is_err());
    }
}
