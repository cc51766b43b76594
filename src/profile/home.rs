//! `$HOME/bin`, `$HOME/share`, ... as links into `vir`: made only where the user has nothing of
//! their own, never replacing a file or directory that is theirs.

use std::path::{Path, PathBuf};

use pandora_core::IoError;

/// What linking `$HOME` into the active forest did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HomeLinks {
    /// `(link, target)` pairs made now.
    pub linked: Vec<(PathBuf, PathBuf)>,
    /// `(path, where the packages' files are instead)` for names the user owns.
    pub kept: Vec<(PathBuf, PathBuf)>,
}

/// Links `home/NAME -> vir/NAME` for each top-level directory of the forest at `vir` where
/// `home/NAME` does not exist. A user's own file or directory is never touched.
pub fn link_user_dirs(home: &Path, vir: &Path) -> Result<HomeLinks, IoError> {
    let mut links = HomeLinks::default();
    let Ok(entries) = fs_err::read_dir(vir) else {
        return Ok(links);
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let link = home.join(&name);
        let target = vir.join(&name);
        match fs_err::read_link(&link) {
            Ok(existing) if existing == target => continue,
            Err(_) if link.symlink_metadata().is_err() => {
                std::os::unix::fs::symlink(&target, &link).map_err(IoError::at("create", &link))?;
                links.linked.push((link, target));
            }
            _ => links.kept.push((link, target)),
        }
    }
    Ok(links)
}
