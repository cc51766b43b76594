//! `pandora unpack FILE DIR`: verified extraction of every slot into a new directory.

use crate::cli::UnpackArgs;
use crate::commands::build::human_bytes;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::format::extract::{unpack, Limits};
use crate::format::package::{Package, Scope};
use crate::trust::{describe, TrustStore};

/// Verifies the structure and signature, then extracts, checking each slot's SHA-256 as it
/// streams; the directory appears only if everything matched.
pub fn run(args: &UnpackArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let package = Package::open(&args.file)?;
    let verified = package.verified(Scope::Structure)?;
    // Slots are hashed while they stream; the stub is checked here.
    package.verify_launcher(&verified)?;
    let store = TrustStore::load(&context.settings.trusted_key_dirs());
    if store.trusts(&verified.public_key).is_none() {
        context.printer.warn(format!(
            "{} is signed by a key you do not trust: {}",
            args.file.display(),
            describe(&store, &verified.public_key)
        ));
    }
    let bytes = unpack(
        &package,
        &verified.slots,
        &args.directory,
        Limits::default(),
    )?;
    context.printer.status(
        "Unpacked",
        format!(
            "{} {}: {} slot(s), {} into {}",
            verified.metadata.package.name,
            verified.metadata.package.version,
            verified.slots.len(),
            human_bytes(bytes),
            args.directory.display()
        ),
    );
    Ok(ExitStatus::Success)
}
