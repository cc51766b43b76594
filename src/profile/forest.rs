//! Planning a profile's symlink forest from install records, folding directories as Nix's
//! buildEnv does: a directory only one package provides is one link, so a generation costs about
//! one link per package; it unfolds into per-entry links as soon as a second package shares it.
//!
//! Planning reads only the records (never the store trees), so it is pure and cheap; the plan is
//! then written by [`Forest::write`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::store::RecordedEntry;

/// One package taking part in a forest.
#[derive(Debug, Clone)]
pub struct Member<'r> {
    /// `name@version`, its directory in `store/`.
    pub id: String,
    /// Its recorded entries, sorted by path.
    pub entries: &'r [RecordedEntry],
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
}

impl Tree {
    fn from_entries(entries: &[RecordedEntry]) -> Tree {
        let mut root = Tree::default();
        for entry in entries {
            let is_dir = matches!(entry, RecordedEntry::Directory { .. });
            let mut node = &mut root;
            let mut parts = entry.path().split('/').filter(|p| !p.is_empty()).peekable();
            while let Some(part) = parts.next() {
                let last = parts.peek().is_none();
                let slot = node
                    .children
                    .entry(part.to_string())
                    .or_insert_with(|| (!last || is_dir).then(Tree::default));
                match slot {
                    Some(dir) => node = dir,
                    None => break,
                }
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

/// Plans the forest of `members`, in order. With [`Prefer::Neither`], any path two members
/// provide makes the plan fail with every such path listed.
pub fn plan(members: &[Member<'_>], prefer: Prefer) -> Result<Forest, Vec<Conflict>> {
    let trees: Vec<Tree> = members
        .iter()
        .map(|m| Tree::from_entries(m.entries))
        .collect();
    let mut planner = Planner {
        trees: &trees,
        prefer,
        conflicts: Vec::new(),
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
    Ok(Forest {
        ids: members.iter().map(|m| m.id.clone()).collect(),
        root,
    })
}

struct Planner<'t> {
    trees: &'t [Tree],
    prefer: Prefer,
    conflicts: Vec<(String, usize, usize)>,
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
                    into.insert(name.clone(), Node::Link { member });
                }
                Some(existing) => self.merge(existing, &path, child.as_ref(), member),
            }
        }
    }

    fn merge(&mut self, existing: &mut Node, path: &str, new: Option<&Tree>, member: usize) {
        let Some(new_dir) = new else {
            return self.collide(existing, path, member);
        };
        if let Node::Link { member: owner } = *existing {
            match self.trees[owner].at(path) {
                Some(owned) => *existing = Node::Dir(self.unfold(owned, owner)),
                None => return self.collide(existing, path, member),
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

    fn collide(&mut self, existing: &mut Node, path: &str, member: usize) {
        let owner = first_member(existing);
        match self.prefer {
            Prefer::Neither => self.conflicts.push((path.to_string(), owner, member)),
            Prefer::Existing => {}
            Prefer::New => *existing = Node::Link { member },
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
        let mut out = Vec::new();
        self.collect("", &self.root, &mut out);
        out
    }

    fn collect<'f>(
        &'f self,
        prefix: &str,
        nodes: &'f BTreeMap<String, Node>,
        out: &mut Vec<(String, &'f str)>,
    ) {
        for (name, node) in nodes {
            let path = join(prefix, name);
            match node {
                Node::Link { member } => out.push((path, self.ids[*member].as_str())),
                Node::Dir(children) => self.collect(&path, children, out),
            }
        }
    }

    /// Writes the forest into the empty directory `dir`. Links are relative, climbing
    /// `depth_below_home` levels out of `dir` to reach `store/`, so a moved home keeps working.
    pub fn write(
        &self,
        dir: &Path,
        depth_below_home: usize,
    ) -> Result<(), (PathBuf, std::io::Error)> {
        for (path, id) in self.links() {
            let link = dir.join(&path);
            let climb = depth_below_home + path.matches('/').count();
            let mut target = PathBuf::new();
            for _ in 0..climb {
                target.push("..");
            }
            target.push("store");
            target.push(id);
            target.push(&path);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(|e| (parent.to_path_buf(), e))?;
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
            sha256: [0; 32],
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
        }
    }

    #[test]
    fn a_directory_only_one_package_provides_is_one_link() {
        let hello = [
            dir("bin"),
            file("bin/hello"),
            dir("share"),
            dir("share/doc"),
            file("share/doc/README"),
        ];
        let forest = plan(&[member("hello@1.0.0", &hello)], Prefer::Neither).unwrap();
        assert_eq!(
            forest.links(),
            vec![
                ("bin".to_string(), "hello@1.0.0"),
                ("share".to_string(), "hello@1.0.0")
            ]
        );
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
            Prefer::Neither,
        )
        .unwrap();
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
        let conflicts = plan(&[member("a@1", &a), member("b@1", &b)], Prefer::Neither).unwrap_err();
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
            owner(&plan(&members, Prefer::New).unwrap()).as_deref(),
            Some("b@1")
        );
        assert_eq!(
            owner(&plan(&members, Prefer::Existing).unwrap()).as_deref(),
            Some("a@1")
        );
    }

    #[test]
    fn written_links_are_relative_and_resolve_into_the_store() {
        let home = tempfile::tempdir().unwrap();
        for (id, tool) in [("a@1", "a"), ("b@1", "b")] {
            let bin = home.path().join("store").join(id).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join(tool), tool).unwrap();
        }
        let a = [dir("bin"), file("bin/a")];
        let b = [dir("bin"), file("bin/b")];
        let forest = plan(&[member("a@1", &a), member("b@1", &b)], Prefer::Neither).unwrap();
        let generation = home.path().join("profiles/default/1");
        std::fs::create_dir_all(&generation).unwrap();
        forest.write(&generation, 3).unwrap();
        let target = std::fs::read_link(generation.join("bin/a")).unwrap();
        assert!(target.is_relative(), "{target:?}");
        assert_eq!(
            std::fs::read_to_string(generation.join("bin/b")).unwrap(),
            "b"
        );
    }
}
