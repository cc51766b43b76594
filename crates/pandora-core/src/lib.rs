//! Pandora's bottom layer, shared by the CLI and the launcher stub: the identities everything
//! else talks about (package names, versions, `name@version`, SHA-256 digests, public keys and
//! their fingerprints), where things live under `$PANDORA_HOME` ([`layout`]), the filesystem
//! primitives every state change goes through ([`fs`]), and every environment variable Pandora
//! reads ([`env_vars`]).
//!
//! Strings from the outside are parsed into these types once, at the edge; code above this
//! crate never validates a name or a version again.
#![deny(missing_docs)]

pub mod digest;
pub mod env_vars;
pub mod error;
pub mod events;
pub mod fs;
pub mod hex;
pub mod id;
pub mod key;
pub mod layout;
pub mod parallel;
pub mod text;
pub mod time;

pub use digest::Sha256;
pub use error::{Hint, IoError};
pub use id::{PackageId, PackageName, Version};
pub use key::{KeyFingerprint, PublicKey};
