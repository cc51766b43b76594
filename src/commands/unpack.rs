//! `pandora unpack FILE DIR`: verified extraction of every slot into a new directory.

use crate::cli::UnpackArgs;
use crate::commands::Context;
use crate::exit::ExitStatus;
use crate::ops::inspect::unpack;
use crate::printer::human_bytes;

/// Unpacks; warns when the signer is not trusted.
pub fn run(args: &UnpackArgs, context: &Context) -> anyhow::Result<ExitStatus> {
    let unpacked = unpack(
        &args.file,
        &args.directory,
        &context.settings.trusted_key_dirs(),
    )?;
    let verified = &unpacked.inspected.verified;
    if !unpacked.trusted {
        context.printer.warn(format!(
            "{} is signed by a key you do not trust: {}",
            args.file.display(),
            unpacked.inspected.signer
        ));
        context.printer.hint(format!(
            "to trust it: `pandora key trust {}`",
            verified.public_key
        ));
    }
    context.printer.status(
        "Unpacked",
        format!(
            "{} {}: {} slot(s), {} into {}",
            verified.metadata.package.name,
            verified.metadata.package.version,
            verified.slots.len(),
            human_bytes(unpacked.bytes),
            args.directory.display()
        ),
    );
    Ok(ExitStatus::Success)
}
