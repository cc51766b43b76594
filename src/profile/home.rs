//! `$HOME/bin`, `$HOME/share`, ... as links into `vir`. Only the directory names in
//! [`HOME_DIRECTORIES`] are ever linked: a package decides what is inside them, never which
//! names appear in `$HOME` (so no `.ssh`, `.bash_profile` or `Desktop` from a package). A link
//! is made only where the user has nothing of their own, and a user's file or directory is
//! never replaced. Links Pandora made that no longer lead anywhere (the forest lost that
//! directory) or that an older Pandora made for a name outside the set are removed.

use std::path::{Path, PathBuf};

use pandora_core::IoError;

/// The only names linked from `$HOME` into the active forest, in the order they are linked.
pub const HOME_DIRECTORIES: &[&str] = &["bin", "include", "lib", "libexec", "man", "share"];

/// What linking `$HOME` into the active forest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeLinks {
    /// `(link, target)` pairs made now.
    pub linked: Vec<(PathBuf, PathBuf)>,
    /// `(path, where the packages' files are instead)` for names the user owns.
    pub kept: Vec<(PathBuf, PathBuf)>,
    /// Links of ours removed: they led nowhere, or to a name outside [`HOME_DIRECTORIES`].
    pub removed: Vec<PathBuf>,
}

/// Makes `home/NAME -> vir/NAME` for each name of [`HOME_DIRECTORIES`] the forest at `vir`
/// has, where `home/NAME` does not exist; removes links into `vir` that lead nowhere or are
/// for other names.
pub fn link_user_dirs(home: &Path, vir: &Path) -> Result<HomeLinks, IoError> {
    let mut links = HomeLinks::default();
    remove_stale(home, vir, &mut links)?;
    for name in HOME_DIRECTORIES {
        let target = vir.join(name);
        if !target.is_dir() {
            continue;
        }
        let link = home.join(name);
        match fs_err::read_link(&link) {
            Ok(existing) if existing == target => {}
            Err(_) if link.symlink_metadata().is_err() => {
                std::os::unix::fs::symlink(&target, &link).map_err(IoError::at("create", &link))?;
                links.linked.push((link, target));
            }
            _ => links.kept.push((link, target)),
        }
    }
    Ok(links)
}

/// Removes `home/X -> vir/X` links (exactly ours: nothing a user made) that dangle or whose
/// name is not one of [`HOME_DIRECTORIES`].
fn remove_stale(home: &Path, vir: &Path, links: &mut HomeLinks) -> Result<(), IoError> {
    let Ok(entries) = fs_err::read_dir(home) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let link = entry.path();
        let Ok(target) = fs_err::read_link(&link) else {
            continue;
        };
        if target != vir.join(&name) {
            continue;
        }
        let allowed = name
            .to_str()
            .is_some_and(|name| HOME_DIRECTORIES.contains(&name));
        if allowed && target.is_dir() {
            continue;
        }
        fs_err::remove_file(&link).map_err(IoError::at("remove", &link))?;
        links.removed.push(link);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fixed_names_are_linked_and_stale_links_go() {
        let root = tempfile::tempdir().unwrap();
        let (home, vir) = (root.path().join("home"), root.path().join("vir"));
        for name in ["bin", "share", ".ssh", "Desktop"] {
            fs_err::create_dir_all(vir.join(name)).unwrap();
        }
        fs_err::create_dir_all(home.join("share")).unwrap();
        // Left by an older Pandora: a hidden name, and a name the forest no longer has.
        std::os::unix::fs::symlink(vir.join(".ssh"), home.join(".ssh")).unwrap();
        std::os::unix::fs::symlink(vir.join("lib"), home.join("lib")).unwrap();
        // The user's own link to somewhere else stays, whatever its name.
        std::os::unix::fs::symlink("/nowhere", home.join(".profile")).unwrap();
        let links = link_user_dirs(&home, &vir).unwrap();
        assert_eq!(links.linked, vec![(home.join("bin"), vir.join("bin"))]);
        assert_eq!(links.kept, vec![(home.join("share"), vir.join("share"))]);
        let mut removed = links.removed;
        removed.sort();
        assert_eq!(removed, vec![home.join(".ssh"), home.join("lib")]);
        assert!(home.join(".profile").symlink_metadata().is_ok());
        assert!(home.join("Desktop").symlink_metadata().is_err());
    }
}
