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
            for (key, bytes) in beside_index(&index) {
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
/// relative to the index). The one place to add such a file, e.g. a browsable `index.html`.
pub fn beside_index(_index: &RegistryIndex) -> Vec<(String, Vec<u8>)> {
    Vec::new()
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
