//! Planning a profile's symlink forest from install records, folding directories as Nix's
//! buildEnv does: a directory only one package provides is one link, so a generation costs about
//! one link per package; it unfolds into per-entry links as soon as a second package shares it.
//! Top-level directories (`bin`, `share`, ...) are never folded.
//!
//! Planning reads only the records (never the store trees), so it is pure and cheap; the plan is
//! then written by [`Forest::write`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::store::RecordedEntry;

/// One package taking part in a forest.
#[derive(Debug, Clone)]
pub struct Member<'r> {
    /// `name@version`, its directory in `store/`.
    pub id: String,
    /// Its recorded entries, sorted by path.
    pub entries: &'r [RecordedEntry],
    /// Set for `--namespace`: its files appear as `TOP/NAMESPACE/...` instead of `TOP/...`.
    pub namespace: Option<String>,
    /// Its entry points: `bin/NAME` links to `entries/<id>/NAME`, over a file of its own
    /// called `bin/NAME`.
    pub entry_points: &'r [String],
}

impl Member<'_> {
    /// The package name.
    pub fn name(&self) -> &str {
        pandora_core::id::name_of(&self.id)
    }
}

/// A path two packages both provide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The path inside the profile.
    pub path: String,
    /// The package that provides it first (in member order).
    pub existing: String,
    /// The package that provides it again.
    pub new: String,
}

/// A package's tree, rebuilt from its record's flat, sorted path list.
#[derive(Debug, Default)]
struct Tree {
    children: BTreeMap<String, Option<Tree>>,
    /// A directory namespacing adds, which has no counterpart in the store: never folded.
    synthetic: bool,
}

/// `TOP/NAME`, the second-level directory a path lies under, for a path below one.
fn second_level(path: &str) -> Option<&str> {
    // A plain loop: recorded paths are short, and this runs for every file of every member.
    let mut slashes = path.bytes().enumerate().filter(|(_, byte)| *byte == b'/');
    slashes.next()?;
    let (end, _) = slashes.next()?;
    Some(&path[..end])
}

/// Whether a recorded path is normal: relative, with single slashes.
fn is_normal(path: &str) -> bool {
    !path.starts_with('/') && !path.as_bytes().windows(2).any(|pair| pair == b"//")
}

/// The second-level directories (`share/NAME`) more than one member provides. Planning looks
/// below only those: one a single member provides becomes one link whatever it holds, so a
/// generation costs what its links cost, not what its members' files do.
/// A namespaced member's directories are not where its record puts them: with one, every
/// tree is made whole (`None`).
fn shared_second_level<'m>(members: &'m [Member<'_>]) -> Option<HashSet<&'m str>> {
    if members.iter().any(|member| member.namespace.is_some()) {
        return None;
    }
    let mut providers: HashMap<&str, usize> = HashMap::new();
    for member in members {
        let mut own: Vec<&str> = member
            .entries
            .iter()
            .filter_map(|entry| match entry {
                // An (empty) directory there provides it as much as a file below it does.
                RecordedEntry::Directory { path }
                    if path.bytes().filter(|byte| *byte == b'/').count() == 1 =>
                {
                    Some(path.as_str())
                }
                _ => second_level(entry.path()),
            })
            .collect();
        // Entries come sorted, so most repeats are neighbours; dedup first keeps the sort small.
        own.dedup();
        own.sort_unstable();
        own.dedup();
        for directory in own {
            *providers.entry(directory).or_default() += 1;
        }
    }
    Some(
        providers
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(directory, _)| directory)
            .collect(),
    )
}

impl Tree {
    /// The tree of a member's entries; below a second-level directory `shared` does not list,
    /// only that directory (a namespaced member's tree is made whole: its directories are
    /// made up, and never folded).
    fn from_entries(
        entries: &[RecordedEntry],
        namespace: Option<&str>,
        entry_points: &[String],
        shared: Option<&HashSet<&str>>,
    ) -> Tree {
        let mut root = Tree::default();
        // The directory the entries before folded into: a sorted record lists a directory's
        // files one after another, and each after the first adds nothing.
        let mut folded: Option<&str> = None;
        for entry in entries {
            let mut is_dir = matches!(entry, RecordedEntry::Directory { .. });
            let path = entry.path();
            let mut parts: Vec<&str> = match second_level(path) {
                Some(directory) if folded == Some(directory) && is_normal(path) => continue,
                // Recorded paths are normal (relative, single slashes); anything else is
                // listed whole.
                Some(directory)
                    if namespace.is_none()
                        && shared.is_some_and(|shared| !shared.contains(directory))
                        && is_normal(path) =>
                {
                    is_dir = true;
                    folded = Some(directory);
                    directory.split('/').collect()
                }
                _ => path.split('/').filter(|p| !p.is_empty()).collect(),
            };
            if let Some(namespace) = namespace {
                // `bin/x` becomes `bin/NS/x`; a top-level file `f` becomes `NS/f`. Either way
                // the first component is a directory made up for the profile.
                let at = if parts.len() == 1 && !is_dir { 0 } else { 1 };
                parts.insert(at, namespace);
            }
            let mut node = &mut root;
            let count = parts.len();
            for (depth, part) in parts.into_iter().enumerate() {
                let last = depth + 1 == count;
                let synthetic = namespace.is_some() && depth == 0;
                // Looked up before a key is made: most parts (`share`, `share/NAME`) are there
                // already, and 10,000 entries would otherwise allocate 30,000 keys.
                if !node.children.contains_key(part) {
                    let made = (!last || is_dir).then(|| Tree {
                        synthetic,
                        ..Tree::default()
                    });
                    node.children.insert(part.to_string(), made);
                }
                match node.children.get_mut(part) {
                    Some(Some(dir)) => node = dir,
                    _ => break,
                }
            }
        }
        // Entry points take `bin/NAME` (`bin/NAMESPACE/NAME`) whatever the package ships there.
        if !entry_points.is_empty() {
            let bin = root
                .children
                .entry(ENTRY_DIRECTORY.to_string())
                .or_insert(None)
                .get_or_insert_with(Tree::default);
            let bin = match namespace {
                Some(namespace) => {
                    let inner = bin
                        .children
                        .entry(namespace.to_string())
                        .or_insert(None)
                        .get_or_insert_with(Tree::default);
                    // Never folded into one link to the store's `bin`: it holds entry points.
                    inner.synthetic = true;
                    inner
                }
                None => bin,
            };
            for name in entry_points {
                bin.children.insert(name.clone(), None);
            }
        }
        root
    }

    fn at(&self, path: &str) -> Option<&Tree> {
        path.split('/')
            .filter(|p| !p.is_empty())
            .try_fold(self, |tree, part| tree.children.get(part)?.as_ref())
    }
}

/// Where entry points go in a profile.
const ENTRY_DIRECTORY: &str = "bin";

/// A node of the planned forest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A link to `store/<member>/<path>`: a file, or a whole (folded) directory.
    Link {
        /// Index of the member that provides it.
        member: usize,
    },
    /// A real directory whose entries come from several packages.
    Dir(BTreeMap<String, Node>),
}

/// The planned forest: what each top-level path of the profile becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forest {
    ids: Vec<String>,
    namespaces: Vec<Option<String>>,
    entry_points: Vec<Vec<String>>,
    root: BTreeMap<String, Node>,
}

/// Which package wins when two provide the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    /// Refuse and report every conflicting path.
    Neither,
    /// The later member wins.
    New,
    /// The earlier member keeps it.
    Existing,
}

/// How conflicts are settled: a recorded winner per path first, then the preference.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'o> {
    /// The fallback for paths without a recorded winner.
    pub prefer: Prefer,
    /// Path in the profile -> the package name that owns it.
    pub overrides: &'o BTreeMap<String, String>,
}

/// A planned forest and how each of its conflicts was settled (path -> winning package name),
/// to be recorded so the next generation settles them the same way.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The forest.
    pub forest: Forest,
    /// The conflicts settled.
    pub settled: BTreeMap<String, String>,
}

/// Plans the forest of `members`, in order. Any path two members provide that neither an
/// override nor the preference settles makes the plan fail with every such path listed.
pub fn plan(members: &[Member<'_>], rules: Rules<'_>) -> Result<Plan, Vec<Conflict>> {
    let shared = shared_second_level(members);
    let trees: Vec<Tree> = members
        .iter()
        .map(|m| {
            Tree::from_entries(
                m.entries,
                m.namespace.as_deref(),
                m.entry_points,
                shared.as_ref(),
            )
        })
        .collect();
    let names: Vec<&str> = members.iter().map(Member::name).collect();
    let mut planner = Planner {
        trees: &trees,
        names: &names,
        rules,
        conflicts: Vec::new(),
        settled: BTreeMap::new(),
    };
    let mut root = BTreeMap::new();
    for (index, tree) in trees.iter().enumerate() {
        planner.merge_children(&mut root, "", tree, index);
    }
    if !planner.conflicts.is_empty() {
        let conflicts = planner
            .conflicts
            .into_iter()
            .map(|(path, existing, new)| Conflict {
                path,
                existing: members[existing].id.clone(),
                new: members[new].id.clone(),
            })
            .collect();
        return Err(conflicts);
    }
    Ok(Plan {
        forest: Forest {
            ids: members.iter().map(|m| m.id.clone()).collect(),
            namespaces: members.iter().map(|m| m.namespace.clone()).collect(),
            entry_points: members.iter().map(|m| m.entry_points.to_vec()).collect(),
            root,
        },
        settled: planner.settled,
    })
}

struct Planner<'t> {
    trees: &'t [Tree],
    names: &'t [&'t str],
    rules: Rules<'t>,
    conflicts: Vec<(String, usize, usize)>,
    settled: BTreeMap<String, String>,
}

impl Planner<'_> {
    fn merge_children(
        &mut self,
        into: &mut BTreeMap<String, Node>,
        prefix: &str,
        tree: &Tree,
        member: usize,
    ) {
        for (name, child) in &tree.children {
            let path = join(prefix, name);
            match into.get_mut(name) {
                None => {
                    let node = self.fresh(&path, child.as_ref(), member);
                    into.insert(name.clone(), node);
                }
                Some(existing) => self.merge(existing, &path, child.as_ref(), member),
            }
        }
    }

    /// What a path only `member` provides becomes: one link, unless it is a made-up directory
    /// or a top-level one. Top-level directories are always real: `$HOME/bin` leads into them,
    /// and a file saved there must land in the generation (where the next one rescues it),
    /// never inside a package's store tree.
    fn fresh(&mut self, path: &str, tree: Option<&Tree>, member: usize) -> Node {
        match tree {
            Some(tree) if tree.synthetic || !path.contains('/') => {
                let mut children = BTreeMap::new();
                self.merge_children(&mut children, path, tree, member);
                Node::Dir(children)
            }
            _ => Node::Link { member },
        }
    }

    fn merge(&mut self, existing: &mut Node, path: &str, new: Option<&Tree>, member: usize) {
        let Some(new_dir) = new else {
            return self.collide(existing, path, new, member);
        };
        if let Node::Link { member: owner } = *existing {
            match self.trees[owner].at(path) {
                Some(owned) => *existing = Node::Dir(self.unfold(owned, owner)),
                None => return self.collide(existing, path, new, member),
            }
        }
        if let Node::Dir(children) = existing {
            self.merge_children(children, path, new_dir, member);
        }
    }

    fn unfold(&self, tree: &Tree, owner: usize) -> BTreeMap<String, Node> {
        tree.children
            .keys()
            .map(|name| (name.clone(), Node::Link { member: owner }))
            .collect()
    }

    fn collide(&mut self, existing: &mut Node, path: &str, new: Option<&Tree>, member: usize) {
        let owner = first_member(existing);
        let new_wins = match self.rules.overrides.get(path) {
            Some(winner) if winner == self.names[member] => Some(true),
            Some(winner) if winner == self.names[owner] => Some(false),
            _ => match self.rules.prefer {
                Prefer::Neither => None,
                Prefer::Existing => Some(false),
                Prefer::New => Some(true),
            },
        };
        let Some(new_wins) = new_wins else {
            return self.conflicts.push((path.to_string(), owner, member));
        };
        let winner = if new_wins { member } else { owner };
        self.settled
            .insert(path.to_string(), self.names[winner].to_string());
        if new_wins {
            *existing = self.fresh(path, new, member);
        }
    }
}

fn first_member(node: &Node) -> usize {
    match node {
        Node::Link { member } => *member,
        Node::Dir(children) => children.values().map(first_member).min().unwrap_or(0),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

impl Forest {
    /// Every link as (path in the profile, `name@version` it points into).
    pub fn links(&self) -> Vec<(String, &str)> {
        self.indexed_links()
            .into_iter()
            .map(|(path, member)| (path, self.ids[member].as_str()))
            .collect()
    }

    fn indexed_links(&self) -> Vec<(String, usize)> {
        fn collect(prefix: &str, nodes: &BTreeMap<String, Node>, out: &mut Vec<(String, usize)>) {
            for (name, node) in nodes {
                let path = join(prefix, name);
                match node {
                    Node::Link { member } => out.push((path, *member)),
                    Node::Dir(children) => collect(&path, children, out),
                }
            }
        }
        let mut out = Vec::new();
        collect("", &self.root, &mut out);
        out
    }

    /// Where `path`, a link of `member`, is inside that member's store entry.
    fn source_path(&self, path: &str, member: usize) -> String {
        let Some(namespace) = self.namespaces[member].as_deref() else {
            return path.to_string();
        };
        let mut parts: Vec<&str> = path.split('/').collect();
        let at = if parts.get(1) == Some(&namespace) {
            1
        } else {
            0
        };
        parts.remove(at);
        parts.join("/")
    }

    /// The entry point `source` (a path in `member`'s store entry) is, if it is one.
    fn entry_point<'s>(&self, source: &'s str, member: usize) -> Option<&'s str> {
        let name = source
            .strip_prefix(ENTRY_DIRECTORY)
            .and_then(|rest| rest.strip_prefix('/'))?;
        self.entry_points[member]
            .iter()
            .any(|entry| entry == name)
            .then_some(name)
    }

    /// Writes the forest into the empty directory `dir`. Links are relative, climbing
    /// `depth_below_home` levels out of `dir` to reach `store/`, so a moved home keeps working.
    pub fn write(
        &self,
        dir: &Path,
        depth_below_home: usize,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        // Links come in path order, so a directory made is remembered until the next one.
        let mut made: Option<PathBuf> = None;
        for (path, member) in self.indexed_links() {
            let link = dir.join(&path);
            let climb = depth_below_home + path.matches('/').count();
            let source = self.source_path(&path, member);
            let mut target = PathBuf::new();
            for _ in 0..climb {
                target.push("..");
            }
            match self.entry_point(&source, member) {
                Some(name) => {
                    target.push("entries");
                    target.push(&self.ids[member]);
                    target.push(name);
                }
                None => {
                    target.push("store");
                    target.push(&self.ids[member]);
                    target.push(&source);
                }
            }
            if let Some(parent) = link.parent() {
                if made.as_deref() != Some(parent) {
                    fs_err::create_dir_all(parent).map_err(|e| (parent.to_path_buf(), e))?;
                    made = Some(parent.to_path_buf());
                }
            }
            std::os::unix::fs::symlink(&target, &link).map_err(|e| (link.clone(), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> RecordedEntry {
        RecordedEntry::File {
            path: path.into(),
            sha256: pandora_core::Sha256::default(),
            mode: 0o555,
        }
    }

    fn dir(path: &str) -> RecordedEntry {
        RecordedEntry::Directory { path: path.into() }
    }

    fn member<'r>(id: &str, entries: &'r [RecordedEntry]) -> Member<'r> {
        Member {
            id: id.into(),
            entries,
            namespace: None,
            entry_points: &[],
        }
    }

    fn rules(prefer: Prefer) -> Rules<'static> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        Rules {
            prefer,
            overrides: &NONE,
        }
    }

    #[test]
    fn a_directory_only_one_package_provides_is_one_link_below_the_top_level() {
        let hello = [
            dir("bin"),
            file("bin/hello"),
            dir("share"),
            dir("share/doc"),
            file("share/doc/README"),
        ];
        let forest = plan(&[member("hello@1.0.0", &hello)], rules(Prefer::Neither))
            .unwrap()
            .forest;
        // `bin` and `share` are real directories (what `$HOME/bin` leads into); `share/doc`,
        // which only hello provides, is one link.
        assert_eq!(
            forest.links(),
            vec![
                ("bin/hello".to_string(), "hello@1.0.0"),
                ("share/doc".to_string(), "hello@1.0.0")
            ]
        );
    }

    #[test]
    fn a_second_level_directory_is_shared_by_an_empty_one_and_by_a_link_there() {
        // hello ships `share/doc` empty; greet ships files below it: both are in the forest.
        let hello = [dir("share"), dir("share/doc")];
        let greet = [
            dir("share"),
            dir("share/doc"),
            dir("share/doc/greet"),
            file("share/doc/greet/README"),
        ];
        let links = |members: &[Member<'_>]| {
            plan(members, rules(Prefer::Neither)).map(|planned| {
                planned
                    .forest
                    .links()
                    .into_iter()
                    .map(|(path, id)| format!("{path} -> {id}"))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            links(&[member("hello@1.0.0", &hello), member("greet@2.0.0", &greet)]).unwrap(),
            ["share/doc/greet -> greet@2.0.0"]
        );
        // A link of one package where another has a directory is a conflict, found whichever
        // of them lists what is below.
        let linked = [
            dir("share"),
            RecordedEntry::Link {
                path: "share/doc".into(),
                target: "elsewhere".into(),
            },
        ];
        let conflicts = links(&[
            member("linked@1.0.0", &linked),
            member("greet@2.0.0", &greet),
        ])
        .unwrap_err();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!(conflicts[0].path, "share/doc");
    }

    #[test]
    fn a_shared_directory_unfolds_only_as_deep_as_needed() {
        let hello = [
            dir("bin"),
            file("bin/hello"),
            dir("share"),
            dir("share/hello"),
            file("share/hello/a"),
        ];
        let greet = [
            dir("bin"),
            file("bin/greet"),
            dir("share"),
            dir("share/greet"),
            file("share/greet/b"),
        ];
        let forest = plan(
            &[member("hello@1.0.0", &hello), member("greet@2.0.0", &greet)],
            rules(Prefer::Neither),
        )
        .unwrap()
        .forest;
        assert_eq!(
            forest.links(),
            vec![
                ("bin/greet".to_string(), "greet@2.0.0"),
                ("bin/hello".to_string(), "hello@1.0.0"),
                ("share/greet".to_string(), "greet@2.0.0"),
                ("share/hello".to_string(), "hello@1.0.0"),
            ]
        );
        assert_eq!(forest.links().len(), 4);
    }

    #[test]
    fn every_conflicting_path_is_listed() {
        let a = [
            dir("bin"),
            file("bin/tool"),
            file("bin/other"),
            file("README"),
        ];
        let b = [
            dir("bin"),
            file("bin/tool"),
            file("bin/other"),
            dir("README"),
        ];
        let conflicts = plan(
            &[member("a@1", &a), member("b@1", &b)],
            rules(Prefer::Neither),
        )
        .unwrap_err();
        let paths: Vec<&str> = conflicts.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["README", "bin/other", "bin/tool"]);
        assert!(conflicts
            .iter()
            .all(|c| c.existing == "a@1" && c.new == "b@1"));
    }

    #[test]
    fn a_preference_settles_conflicts_either_way() {
        let a = [dir("bin"), file("bin/tool"), file("bin/a")];
        let b = [dir("bin"), file("bin/tool")];
        let members = [member("a@1", &a), member("b@1", &b)];
        let owner = |forest: &Forest| {
            forest
                .links()
                .into_iter()
                .find(|(path, _)| path == "bin/tool")
                .map(|(_, id)| id.to_string())
        };
        assert_eq!(
            owner(&plan(&members, rules(Prefer::New)).unwrap().forest).as_deref(),
            Some("b@1")
        );
        assert_eq!(
            owner(&plan(&members, rules(Prefer::Existing)).unwrap().forest).as_deref(),
            Some("a@1")
        );
    }

    #[test]
    fn a_recorded_override_settles_a_conflict_and_is_settled_again() {
        let a = [dir("bin"), file("bin/tool")];
        let b = [dir("bin"), file("bin/tool")];
        let overrides = BTreeMap::from([("bin/tool".to_string(), "b".to_string())]);
        let recorded = Rules {
            prefer: Prefer::Neither,
            overrides: &overrides,
        };
        let planned = plan(&[member("a@1", &a), member("b@2", &b)], recorded).unwrap();
        assert_eq!(
            planned.forest.links(),
            vec![("bin/tool".to_string(), "b@2")]
        );
        assert_eq!(planned.settled, overrides);
        let settled_by_preference = plan(
            &[member("a@1", &a), member("b@2", &b)],
            rules(Prefer::Existing),
        )
        .unwrap()
        .settled;
        assert_eq!(
            settled_by_preference.get("bin/tool").map(String::as_str),
            Some("a")
        );
    }

    #[test]
    fn a_namespaced_package_sits_beside_the_other_and_links_into_its_own_tree() {
        let home = tempfile::tempdir().unwrap();
        for (id, content) in [("tool@1", "one"), ("tool@2", "two")] {
            let bin = home.path().join("store").join(id).join("bin");
            fs_err::create_dir_all(&bin).unwrap();
            fs_err::write(bin.join("tool"), content).unwrap();
            fs_err::write(home.path().join("store").join(id).join("README"), id).unwrap();
        }
        let entries = [dir("bin"), file("bin/tool"), file("README")];
        let mut second = member("tool@2", &entries);
        second.namespace = Some("tool-2".into());
        let forest = plan(
            &[member("tool@1", &entries), second],
            rules(Prefer::Neither),
        )
        .unwrap()
        .forest;
        assert_eq!(
            forest.links(),
            vec![
                ("README".to_string(), "tool@1"),
                ("bin/tool".to_string(), "tool@1"),
                ("bin/tool-2".to_string(), "tool@2"),
                ("tool-2/README".to_string(), "tool@2"),
            ]
        );
        let generation = home.path().join("profiles/default/1");
        fs_err::create_dir_all(&generation).unwrap();
        forest.write(&generation, 3).unwrap();
        let read = |path: &str| fs_err::read_to_string(generation.join(path)).unwrap();
        assert_eq!(read("bin/tool"), "one");
        assert_eq!(read("bin/tool-2/tool"), "two");
        assert_eq!(read("tool-2/README"), "tool@2");
    }

    #[test]
    fn entry_points_take_bin_names_and_link_into_entries() {
        let tool = [dir("bin"), file("bin/tool"), file("bin/other")];
        let names = ["tool".to_string(), "tool-admin".to_string()];
        let mut member = member("tool@1", &tool);
        member.entry_points = &names;
        let forest = plan(&[member.clone()], rules(Prefer::Neither))
            .unwrap()
            .forest;
        assert_eq!(
            forest.links(),
            vec![
                ("bin/other".to_string(), "tool@1"),
                ("bin/tool".to_string(), "tool@1"),
                ("bin/tool-admin".to_string(), "tool@1"),
            ]
        );
        let home = tempfile::tempdir().unwrap();
        let generation = home.path().join("profiles/default/1/forest");
        fs_err::create_dir_all(&generation).unwrap();
        forest.write(&generation, 4).unwrap();
        let target =
            |generation: &Path, path: &str| fs_err::read_link(generation.join(path)).unwrap();
        assert_eq!(
            target(&generation, "bin/tool"),
            Path::new("../../../../../entries/tool@1/tool")
        );
        assert_eq!(
            target(&generation, "bin/other"),
            Path::new("../../../../../store/tool@1/bin/other")
        );

        // Namespaced: bin/NS/NAME, never folded into a link to the store's bin.
        let first = [dir("bin"), file("bin/tool")];
        let mut second = member;
        second.id = "tool@2".into();
        second.namespace = Some("tool-2".into());
        let forest = plan(
            &[self::member("tool@1", &first), second],
            rules(Prefer::Neither),
        )
        .unwrap()
        .forest;
        let generation = home.path().join("profiles/default/2/forest");
        fs_err::create_dir_all(&generation).unwrap();
        forest.write(&generation, 4).unwrap();
        assert_eq!(
            target(&generation, "bin/tool-2/tool-admin"),
            Path::new("../../../../../../entries/tool@2/tool-admin")
        );
        assert_eq!(
            target(&generation, "bin/tool"),
            Path::new("../../../../../store/tool@1/bin/tool")
        );
    }

    #[test]
    fn written_links_are_relative_and_resolve_into_the_store() {
        let home = tempfile::tempdir().unwrap();
        for (id, tool) in [("a@1", "a"), ("b@1", "b")] {
            let bin = home.path().join("store").join(id).join("bin");
            fs_err::create_dir_all(&bin).unwrap();
            fs_err::write(bin.join(tool), tool).unwrap();
        }
        let a = [dir("bin"), file("bin/a")];
        let b = [dir("bin"), file("bin/b")];
        let forest = plan(
            &[member("a@1", &a), member("b@1", &b)],
            rules(Prefer::Neither),
        )
        .unwrap()
        .forest;
        let generation = home.path().join("profiles/default/1");
        fs_err::create_dir_all(&generation).unwrap();
        forest.write(&generation, 3).unwrap();
        let target = fs_err::read_link(generation.join("bin/a")).unwrap();
        assert!(target.is_relative(), "{target:?}");
        assert_eq!(
            fs_err::read_to_string(generation.join("bin/b")).unwrap(),
            "b"
        );
    }
}
