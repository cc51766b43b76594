//! Read, change, sign and write a registry's index without losing a concurrent update.
//!
//! The index is replaced with a conditional write (S3: If-Match on the ETag read; a directory:
//! under its lock), so a writer that read an older index loses, re-reads and re-applies its
//! change; the serial is always the one read plus one. An index and its signature are two
//! objects, so before the index is written its signature is stored under the index's SHA-256
//! (`signatures/HEX.sig`): whoever finds `index.acl.sig` stale (a writer killed between the
//! two, or two writers' signatures crossing) puts the right one back from there, and every
//! writer checks the pair is consistent before it returns.

use std::time::Duration;

use pandora_core::PublicKey;

use super::merge::next_serial;
use super::target::{Current, Target};
use super::PublishError;
use crate::format::metadata::encode_hex;
use crate::format::signing::SigningKey;
use crate::registry::index::{parse_signature_file, signature_file, RegistryIndex};

/// How many times a writer re-reads after losing a race before giving up.
pub const ATTEMPTS: u32 = 40;

/// Who signs, for which registry, until when.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The signing key; one of `trusted`.
    pub key: &'a SigningKey,
    /// The keys the registry's configuration trusts: the index read must be signed by one.
    pub trusted: &'a [PublicKey],
    /// The registry's name (a new index's name, and for messages).
    pub registry: &'a str,
    /// Days until clients refuse the index.
    pub expires_in_days: u32,
    /// Now, in Unix seconds.
    pub now: i64,
    /// The highest serial of this registry's index seen or signed here: an index found older
    /// (or none at all) is a rollback or a loss, never something to build on.
    pub floor: i64,
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The index as it is now.
    pub index: RegistryIndex,
    /// Whether this update wrote a new one.
    pub changed: bool,
    /// How many tries it took.
    pub attempts: u32,
}

/// Where an index's signature is kept before the index is written.
pub fn staged_signature_key(index_text: &[u8]) -> String {
    format!(
        "signatures/{}.sig",
        encode_hex(&pandora_core::Sha256::of(index_text))
    )
}

/// Applies `change` to the registry's index and publishes the result, signed. `change`
/// returns whether it changed anything; when it did not, nothing is written.
pub fn update(
    target: &dyn Target,
    signer: &Signer<'_>,
    change: &mut dyn FnMut(&mut RegistryIndex) -> Result<bool, PublishError>,
) -> Result<Updated, PublishError> {
    let result = attempt_all(target, signer, change);
    target.end();
    result
}

fn attempt_all(
    target: &dyn Target,
    signer: &Signer<'_>,
    change: &mut dyn FnMut(&mut RegistryIndex) -> Result<bool, PublishError>,
) -> Result<Updated, PublishError> {
    let location = target.location();
    for attempt in 1..=ATTEMPTS {
        let current = target.begin()?;
        let mut index = trusted_index(target, &current, signer.trusted, signer.registry)?;
        check_floor(target, &current, &index, signer)?;
        if !change(&mut index)? {
            settle(target, signer)?;
            return Ok(Updated {
                index,
                changed: false,
                attempts: attempt,
            });
        }
        index.serial = Some(next_serial(index.serial, &location)?);
        index.expires = Some(signer.now + i64::from(signer.expires_in_days) * 86_400);
        let text = index.to_acl();
        let signature = signature_file(&signer.key.public_key(), &signer.key.sign(text.as_bytes()));
        target.create(
            &staged_signature_key(text.as_bytes()),
            signature.clone().into_bytes(),
        )?;
        if target.commit_index(text.as_bytes(), &current)? {
            target.replace("index.acl.sig", signature.into_bytes())?;
            for (key, bytes) in beside_index(target, &index, signer)? {
                target.replace(&key, bytes)?;
            }
            settle(target, signer)?;
            return Ok(Updated {
                index,
                changed: true,
                attempts: attempt,
            });
        }
        target.end();
        std::thread::sleep(backoff(attempt));
    }
    Err(PublishError::Contended {
        location,
        attempts: ATTEMPTS,
    })
}

/// Files published beside the index, derived from it, rewritten after every change (keys
/// relative to the index): the browsable page (`index.html` last, so it never names data not
/// there yet), with the download counts of the registry's `metrics.acl` when it has one signed
/// by a key it trusts. None when an `index.html` Pandora did not write is there: it is the
/// operator's, and left alone as `registry index` leaves it.
pub fn beside_index(
    target: &dyn Target,
    index: &RegistryIndex,
    signer: &Signer<'_>,
) -> Result<Vec<(String, Vec<u8>)>, PublishError> {
    use crate::registry::html;
    if let Some(existing) = target.read("index.html")? {
        let generator = html::GENERATOR.as_bytes();
        if !existing
            .windows(generator.len())
            .any(|window| window == generator)
        {
            return Ok(Vec::new());
        }
    }
    let metrics = match (target.read("metrics.acl")?, target.read("metrics.acl.sig")?) {
        (Some(text), Some(signature)) => {
            let (text, signature) = (
                String::from_utf8_lossy(&text).into_owned(),
                String::from_utf8_lossy(&signature).into_owned(),
            );
            parse_signature_file("metrics.acl.sig", &signature)
                .ok()
                .filter(|(key, bytes)| {
                    signer.trusted.contains(key) && key.verify(text.as_bytes(), bytes)
                })
                .and_then(|_| {
                    crate::registry::metrics::RegistryMetrics::parse("metrics.acl", &text).ok()
                })
        }
        _ => None,
    };
    let extras = html::Extras {
        signer: Some(signer.key.public_key().fingerprint().to_string()),
        metrics: metrics.as_ref(),
        package_signers: Default::default(),
        generated: signer.now,
    };
    Ok(html::render(index, &extras)
        .files
        .into_iter()
        .map(|(path, bytes)| (path.to_string_lossy().into_owned(), bytes))
        .collect())
}

/// Exponential from 20 ms, capped at 1 s, with jitter so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let mut jitter = [0u8; 2];
    let _ = getrandom::getrandom(&mut jitter);
    Duration::from_millis(base / 2 + u64::from(u16::from_le_bytes(jitter)) % (base / 2 + 1))
}

/// The registry's index as it is now, checked as an update checks it (empty when there is
/// none yet).
pub fn read(
    target: &dyn Target,
    trusted: &[PublicKey],
    registry: &str,
) -> Result<RegistryIndex, PublishError> {
    let current = target.begin();
    let index = current.and_then(|current| trusted_index(target, &current, trusted, registry));
    target.end();
    index
}

/// Whether `signature` (an `index.acl.sig` text) is a trusted key's signature over `text`.
fn signed_by_trusted(text: &str, signature: &str, trusted: &[PublicKey]) -> Result<(), String> {
    let (key, bytes) =
        parse_signature_file("index.acl.sig", signature).map_err(|error| error.to_string())?;
    if !trusted.contains(&key) {
        return Err(format!("it is signed by {key}"));
    }
    if !key.verify(text.as_bytes(), &bytes) {
        return Err("its signature does not match its contents".into());
    }
    Ok(())
}

/// How long package files stored without an index may be a failed first publish's (seconds).
const FIRST_PUBLISH_GRACE: i64 = 3600;

/// Refuses to build on an index older than one seen here, or to start a new one where one was
/// (seen here, or told by package files stored without any index): either would drop every
/// package published since, and clients that saw the newer one would refuse the result.
fn check_floor(
    target: &dyn Target,
    current: &Current,
    index: &RegistryIndex,
    signer: &Signer<'_>,
) -> Result<(), PublishError> {
    let location = target.location();
    let found = index.serial.unwrap_or(0);
    if current.index.is_some() && found >= signer.floor {
        return Ok(());
    }
    if current.index.is_some() || signer.floor > 0 {
        return Err(PublishError::OlderIndex {
            location: format!("{location}index.acl"),
            registry: signer.registry.to_string(),
            found: current.index.as_ref().map(|_| found),
            seen: signer.floor,
        });
    }
    // Files stored within the last hour may be a first publish's that failed before its index
    // was written (a rerun must complete it); older ones had an index.
    let stored = target.list("blobs/")?;
    if stored
        .iter()
        .any(|file| file.modified < signer.now - FIRST_PUBLISH_GRACE)
    {
        return Err(PublishError::OlderIndex {
            location: format!("{location}index.acl"),
            registry: signer.registry.to_string(),
            found: None,
            seen: 0,
        });
    }
    Ok(())
}

/// The index `current` read, checked: signed by a trusted key (by `index.acl.sig`, or by the
/// signature staged for exactly these bytes). No index yet: an empty one.
fn trusted_index(
    target: &dyn Target,
    current: &Current,
    trusted: &[PublicKey],
    registry: &str,
) -> Result<RegistryIndex, PublishError> {
    let location = target.location();
    let Some(text) = &current.index else {
        return Ok(RegistryIndex {
            name: registry.to_string(),
            serial: None,
            expires: None,
            priority: crate::config::DEFAULT_PRIORITY,
            packages: Vec::new(),
            compact: None,
        });
    };
    let untrusted = |reason: String| PublishError::UntrustedIndex {
        location: format!("{location}index.acl"),
        registry: registry.to_string(),
        reason,
    };
    let direct = current
        .signature
        .as_deref()
        .ok_or_else(|| "there is no index.acl.sig".to_string())
        .and_then(|signature| signed_by_trusted(text, signature, trusted));
    if let Err(reason) = direct {
        let staged = target.read(&staged_signature_key(text.as_bytes()))?;
        let staged = staged.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        match staged {
            Some(staged) if signed_by_trusted(text, &staged, trusted).is_ok() => {}
            _ => return Err(untrusted(reason)),
        }
    }
    RegistryIndex::parse(&format!("{location}index.acl"), text).map_err(|source| {
        PublishError::ExistingIndex {
            path: format!("{location}index.acl").into(),
            source,
        }
    })
}

/// Makes `index.acl.sig` the signature of the `index.acl` there now, from the staged copy
/// when it is not; repeats until a read finds the pair consistent.
fn settle(target: &dyn Target, signer: &Signer<'_>) -> Result<(), PublishError> {
    for attempt in 1..=ATTEMPTS {
        let Some(text) = target.read("index.acl")? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        let signature = target
            .read("index.acl.sig")?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        if signature
            .as_deref()
            .is_some_and(|signature| signed_by_trusted(&text, signature, signer.trusted).is_ok())
        {
            return Ok(());
        }
        let Some(staged) = target.read(&staged_signature_key(text.as_bytes()))? else {
            // Not one of ours (a hand-made index): nothing to put back.
            return Ok(());
        };
        target.replace("index.acl.sig", staged)?;
        if attempt > 1 {
            std::thread::sleep(backoff(attempt));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::publish::file::DirectoryTarget;
    use crate::registry::publish::target::Listed;
    use std::cell::Cell;

    /// A directory where another writer changes the index between each read and the first
    /// `losses` commits, as a concurrent publisher would: the commit then reports the lost race
    /// (an S3 412).
    struct Raced<'k> {
        inner: DirectoryTarget,
        losses: Cell<u32>,
        rival: &'k SigningKey,
    }

    impl Target for Raced<'_> {
        fn location(&self) -> String {
            self.inner.location()
        }
        fn begin(&self) -> Result<Current, PublishError> {
            self.inner.begin()
        }
        fn end(&self) {
            self.inner.end();
        }
        fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PublishError> {
            self.inner.read(key)
        }
        fn size(&self, key: &str) -> Result<Option<u64>, PublishError> {
            self.inner.size(key)
        }
        fn create(&self, key: &str, bytes: Vec<u8>) -> Result<bool, PublishError> {
            self.inner.create(key, bytes)
        }
        fn replace(&self, key: &str, bytes: Vec<u8>) -> Result<(), PublishError> {
            self.inner.replace(key, bytes)
        }
        fn commit_index(&self, text: &[u8], current: &Current) -> Result<bool, PublishError> {
            if self.losses.get() == 0 {
                return self.inner.commit_index(text, current);
            }
            self.losses.set(self.losses.get() - 1);
            // The rival publishes serial + 1 with a package of its own, fully signed.
            let mut index = RegistryIndex::parse("rival", current.index.as_deref().unwrap())
                .expect("a valid index");
            index.serial = index.serial.map(|serial| serial + 1);
            let mut package = index.packages[0].clone();
            package.name = format!("rival{}", index.serial.unwrap());
            index.packages.push(package);
            let text = index.to_acl();
            let signature =
                signature_file(&self.rival.public_key(), &self.rival.sign(text.as_bytes()));
            self.inner.replace("index.acl", text.into_bytes())?;
            self.inner
                .replace("index.acl.sig", signature.into_bytes())?;
            Ok(false)
        }
        fn list(&self, prefix: &str) -> Result<Vec<Listed>, PublishError> {
            self.inner.list(prefix)
        }
        fn delete(&self, key: &str) -> Result<(), PublishError> {
            self.inner.delete(key)
        }
    }

    fn add_package(
        name: &'static str,
    ) -> impl FnMut(&mut RegistryIndex) -> Result<bool, PublishError> {
        move |index| {
            if index.package(name).is_some() {
                return Ok(false);
            }
            let version = crate::registry::index::IndexVersion {
                version: "1.0.0".into(),
                pkg_url: format!("{name}.psp"),
                sha256: [7; 32].into(),
                size: Some(1),
                manifest_url: None,
                dependencies: vec![],
                license: None,
                deprecated: false,
                deprecation: None,
                yanked: false,
                launcher: None,
                files: Vec::new(),
            };
            index.packages.push(crate::registry::index::IndexPackage {
                name: name.into(),
                description: None,
                tags: vec![],
                latest: "1.0.0".into(),
                pkg_base_url: None,
                versions: vec![version],
            });
            index.packages.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(true)
        }
    }

    #[test]
    fn a_lost_race_is_re_read_and_re_applied_and_the_serial_only_grows() {
        let directory = tempfile::tempdir().unwrap();
        let (ours, rival) = (
            SigningKey::from_seed("ours"),
            SigningKey::from_seed("rival"),
        );
        let trusted = [ours.public_key(), rival.public_key()];
        let signer = Signer {
            key: &ours,
            trusted: &trusted,
            registry: "r",
            expires_in_days: 1,
            now: 1_000,
            floor: 0,
        };
        let target = Raced {
            inner: DirectoryTarget::new(directory.path()).unwrap(),
            losses: Cell::new(0),
            rival: &rival,
        };
        let first = update(&target, &signer, &mut add_package("a")).unwrap();
        assert_eq!((first.index.serial, first.attempts), (Some(1), 1));
        target.losses.set(2);
        let second = update(&target, &signer, &mut add_package("b")).unwrap();
        assert_eq!(second.attempts, 3);
        // Two rival writes (serials 2 and 3) came first; ours follows them and keeps theirs.
        assert_eq!(second.index.serial, Some(4));
        let names: Vec<&str> = second
            .index
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "rival2", "rival3"]);
        let read_back = read(&target, &trusted, "r").unwrap();
        assert_eq!(read_back, second.index);
        // The same change again writes nothing.
        let again = update(&target, &signer, &mut add_package("b")).unwrap();
        assert!(!again.changed);
        assert_eq!(again.index.serial, Some(4));
    }

    #[test]
    fn a_stale_signature_is_put_back_from_the_staged_copy_and_a_foreign_one_is_refused() {
        let directory = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed("ours");
        let trusted = [key.public_key()];
        let signer = Signer {
            key: &key,
            trusted: &trusted,
            registry: "r",
            expires_in_days: 1,
            now: 1_000,
            floor: 0,
        };
        let target = DirectoryTarget::new(directory.path()).unwrap();
        update(&target, &signer, &mut add_package("a")).unwrap();
        let stale = target.read("index.acl.sig").unwrap().unwrap();
        update(&target, &signer, &mut add_package("b")).unwrap();
        // Killed between index.acl and index.acl.sig.
        target.replace("index.acl.sig", stale).unwrap();
        let repaired = update(&target, &signer, &mut add_package("b")).unwrap();
        assert!(!repaired.changed);
        let text = String::from_utf8(target.read("index.acl").unwrap().unwrap()).unwrap();
        let signature = String::from_utf8(target.read("index.acl.sig").unwrap().unwrap()).unwrap();
        signed_by_trusted(&text, &signature, &trusted).unwrap();

        // An index someone else signed: refused, nothing written.
        let stranger = SigningKey::from_seed("stranger");
        let forged = text.replace("serial = 2;", "serial = 99;");
        target
            .replace("index.acl", forged.clone().into_bytes())
            .unwrap();
        target
            .replace(
                "index.acl.sig",
                signature_file(&stranger.public_key(), &stranger.sign(forged.as_bytes()))
                    .into_bytes(),
            )
            .unwrap();
        let error = update(&target, &signer, &mut add_package("c")).unwrap_err();
        assert!(
            matches!(error, PublishError::UntrustedIndex { .. }),
            "{error}"
        );
        assert_eq!(
            target.read("index.acl").unwrap().unwrap(),
            forged.into_bytes()
        );
    }
}
