//! Building a work environment from a verified package (extract, make the declared
//! directories, write the launcher's state, seal), the records that let a warm start skip all of
//! it, and the comparison `verify-workenv` makes.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fs_err as fs;
use sha2::{Digest, Sha256};

use pandora_core::PublicKey;
use pandora_format::extract::{directory_mode, workenv_relative, Extraction, Limits};
use pandora_format::metadata::{decode_hex, encode_hex};
use pandora_format::package::{Package, Verified};
use pandora_format::FormatError;

use crate::command::LaunchPlan;
use crate::secure::{self, describe};

/// The launcher's state inside a work environment; no package entry may use the name.
pub(crate) const CONTROL: &str = ".pandora";
/// Signed metadata larger than this is not read back (the format refuses it anyway).
pub(crate) const MAX_METADATA: u64 = 64 << 20;
const RECORD_VERSION: &str = "2";

/// The directory name of a package's work environment: its content identity.
pub(crate) fn key(verified: &Verified) -> String {
    encode_hex(&verified.metadata_sha256[..16])
}

/// SHA-256 of the exact signed metadata JSON: what a work environment's metadata must hash to
/// before a warm start believes it.
pub(crate) fn metadata_digest(json: &[u8]) -> [u8; 32] {
    Sha256::digest(json).into()
}

/// What `files/<dev>-<inode>` says: this file, as it was when verified, is the package with
/// this signed metadata and this key, extracted under `workenv`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// Device, inode, size, mtime and ctime of the package file, as text.
    pub stat: String,
    /// The work environment's directory name.
    pub workenv: String,
    /// SHA-256 of the signed metadata JSON.
    pub metadata_sha256: [u8; 32],
    /// The key that signed it: trust is decided on this, never on the cache's contents.
    pub public_key: PublicKey,
}

impl Record {
    pub(crate) fn stat_text(stat: &std::fs::Metadata) -> String {
        format!(
            "{} {} {} {}.{:09} {}.{:09}",
            stat.dev(),
            stat.ino(),
            stat.len(),
            stat.mtime(),
            stat.mtime_nsec(),
            stat.ctime(),
            stat.ctime_nsec()
        )
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "{RECORD_VERSION} {} {} {} {}\n",
            self.stat,
            self.workenv,
            encode_hex(&self.metadata_sha256),
            encode_hex(&self.public_key)
        )
    }

    /// `None` for anything but a well-formed record of this version.
    pub(crate) fn parse(text: &str) -> Option<Record> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [RECORD_VERSION, dev, ino, len, mtime, ctime, workenv, digest, key] = fields[..] else {
            return None;
        };
        if workenv.len() != 32 || !workenv.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        Some(Record {
            stat: format!("{dev} {ino} {len} {mtime} {ctime}"),
            workenv: workenv.to_string(),
            metadata_sha256: decode_hex::<32>(digest)?,
            public_key: decode_hex::<32>(key).and_then(PublicKey::from_bytes)?,
        })
    }
}

/// Why a work environment could not be built.
pub(crate) enum Failure {
    /// The package (exit 111), or its destination when the error is a write (exit 113).
    Format(FormatError),
    /// The file system (exit 113).
    Io(PathBuf, String),
}

impl From<FormatError> for Failure {
    fn from(error: FormatError) -> Self {
        Failure::Format(error)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |error| Failure::Io(path.to_path_buf(), describe(&error))
}

/// Extracts a verified package into the empty directory `into`, as the work environment that
/// will be at `workenv` (for placeholders), makes its declared directories, writes the
/// launcher's state and seals the tree. Returns the declared directories (left writable).
pub(crate) fn populate(
    package: &Package,
    verified: &Verified,
    plan: &LaunchPlan,
    into: &Path,
    workenv: &Path,
) -> Result<HashMap<PathBuf, u32>, Failure> {
    // Made before any slot, and reserved: no entry of the package can be, or be under, the
    // place the launcher writes its state.
    let control = into.join(CONTROL);
    fs::create_dir(&control).map_err(io(&control))?;
    let mut extraction = Extraction::new(Limits::default());
    extraction.reserve(Path::new(CONTROL));
    for slot in &verified.slots {
        extraction.extract_slot(package, slot, into)?;
    }
    let mut writable = HashMap::new();
    let directories = verified
        .metadata
        .workenv
        .as_ref()
        .map(|workenv| workenv.directories.as_slice())
        .unwrap_or_default();
    for directory in directories {
        let entry = &directory.path;
        let unsafe_directory = |reason: String| FormatError::UnsafeDirectory {
            path: package.path().to_path_buf(),
            entry: entry.clone(),
            reason,
        };
        // `{workenv}` first, so the rest is read relative to the work environment; the other
        // placeholders may be anywhere.
        let rest = entry.strip_prefix("{workenv}").unwrap_or(entry);
        let relative =
            workenv_relative(&plan.substitute(rest, workenv)).map_err(unsafe_directory)?;
        let Some(relative) = relative else {
            continue;
        };
        // An unreadable mode is ignored, as it always was; whatever it says is masked anyway.
        let declared = directory
            .mode
            .as_deref()
            .and_then(|text| u32::from_str_radix(text.trim_start_matches("0o"), 8).ok())
            .unwrap_or(0o755);
        let path = extraction.add_directory(package.path(), into, entry, &relative)?;
        writable.insert(path, directory_mode(declared));
    }
    extraction.finish()?;
    for (name, bytes) in [
        ("metadata.json", verified.metadata_json.clone()),
        // Informational, and for older launchers sharing the cache: this one decides trust on
        // the key in its record, never on this file.
        ("key", encode_hex(&verified.public_key).into_bytes()),
        ("complete", key(verified).into_bytes()),
    ] {
        let path = control.join(name);
        secure::write_new(&path, &bytes).map_err(io(&path))?;
    }
    seal(into, &writable).map_err(|error| Failure::Io(into.to_path_buf(), describe(&error)))?;
    Ok(writable)
}

/// Makes a tree read-only as the store's are: directories 0555, files without write bits,
/// except the declared directories, which get their (masked) mode. Links are left alone.
fn seal(directory: &Path, writable: &HashMap<PathBuf, u32>) -> std::io::Result<()> {
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            seal(&path, writable)?;
        } else if kind.is_file() {
            let mode = entry.metadata()?.permissions().mode() & 0o7777 & !0o222;
            fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    let mode = writable.get(directory).copied().unwrap_or(0o555);
    fs::set_permissions(directory, std::fs::Permissions::from_mode(mode))
}

/// One way a work environment differs from what its package extracts to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Difference {
    pub path: String,
    pub kind: &'static str,
    pub detail: String,
}

#[derive(PartialEq)]
enum Kind {
    Directory,
    File,
    Link,
    Other,
}

fn kind(metadata: &std::fs::Metadata) -> Kind {
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        Kind::Link
    } else if file_type.is_dir() {
        Kind::Directory
    } else if file_type.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Directory => "directory",
        Kind::File => "file",
        Kind::Link => "symbolic link",
        Kind::Other => "special file",
    }
}

fn file_sha256(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().into())
}

fn names(directory: &Path) -> std::io::Result<BTreeSet<std::ffi::OsString>> {
    fs::read_dir(directory)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect()
}

/// Every difference between `actual` and the freshly built `expected` tree. Inside the
/// declared directories (the program's own state) extra entries and modes are not differences.
pub(crate) fn compare(
    expected: &Path,
    actual: &Path,
    writable: &HashMap<PathBuf, u32>,
) -> std::io::Result<Vec<Difference>> {
    let writable: Vec<PathBuf> = writable
        .keys()
        .filter_map(|path| path.strip_prefix(expected).ok().map(Path::to_path_buf))
        .collect();
    let mut differences = Vec::new();
    compare_directory(expected, actual, Path::new(""), &writable, &mut differences)?;
    differences.sort();
    Ok(differences)
}

fn compare_directory(
    expected: &Path,
    actual: &Path,
    relative: &Path,
    writable: &[PathBuf],
    differences: &mut Vec<Difference>,
) -> std::io::Result<()> {
    let in_writable = writable
        .iter()
        .any(|directory| relative.starts_with(directory));
    let mut difference = |path: &Path, kind: &'static str, detail: String| {
        differences.push(Difference {
            path: path.display().to_string(),
            kind,
            detail,
        });
    };
    let wanted = names(&expected.join(relative))?;
    let present = names(&actual.join(relative))?;
    for name in present.difference(&wanted) {
        if !in_writable {
            difference(&relative.join(name), "extra", String::new());
        }
    }
    let mut subdirectories = Vec::new();
    for name in &wanted {
        let path = relative.join(name);
        let want = fs::symlink_metadata(expected.join(&path))?;
        let Ok(have) = fs::symlink_metadata(actual.join(&path)) else {
            difference(&path, "missing", String::new());
            continue;
        };
        let (want_kind, have_kind) = (kind(&want), kind(&have));
        if want_kind != have_kind {
            difference(
                &path,
                "type",
                format!(
                    " is a {}, expected a {}",
                    kind_name(&have_kind),
                    kind_name(&want_kind)
                ),
            );
            continue;
        }
        let mode = |metadata: &std::fs::Metadata| metadata.permissions().mode() & 0o7777;
        let owns_mode = !(want_kind == Kind::Directory
            && writable.iter().any(|directory| path.starts_with(directory)));
        if want_kind != Kind::Link && owns_mode && mode(&want) != mode(&have) {
            difference(
                &path,
                "mode",
                format!(" is {:04o}, expected {:04o}", mode(&have), mode(&want)),
            );
        }
        match want_kind {
            Kind::Directory => subdirectories.push(path),
            Kind::File => {
                if file_sha256(&expected.join(&path))? != file_sha256(&actual.join(&path))? {
                    difference(&path, "modified", String::new());
                }
            }
            Kind::Link => {
                let (want, have) = (
                    fs::read_link(expected.join(&path))?,
                    fs::read_link(actual.join(&path))?,
                );
                if want != have {
                    difference(
                        &path,
                        "modified",
                        format!(" -> {}, expected -> {}", have.display(), want.display()),
                    );
                }
            }
            Kind::Other => {}
        }
    }
    for path in subdirectories {
        compare_directory(expected, actual, &path, writable, differences)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_refuse_anything_else() {
        let record = Record {
            stat: "1 2 3 4.000000005 6.000000007".into(),
            workenv: "0123456789abcdef0123456789abcdef".into(),
            metadata_sha256: [7; 32],
            public_key: pandora_format::signing::SigningKey::from_seed("r").public_key(),
        };
        assert_eq!(Record::parse(&record.encode()), Some(record.clone()));
        // The previous format (`dev ino size mtime ctime key`) is not a record of this one.
        assert_eq!(
            Record::parse("1 2 3 4.0 6.0 0123456789abcdef0123456789abcdef\n"),
            None
        );
        let escaping = record
            .encode()
            .replace(&record.workenv, "../../../../somewhere");
        assert_eq!(Record::parse(&escaping), None);
    }
}
