//! `vouch checkpoint`: signs the tree head over the whole log as a C2SP tlog-checkpoint,
//! keeps it, and refuses to sign one that contradicts the last (`vouch_app::transparency`).

use std::path::PathBuf;

use crate::context::Context;
use crate::exit::{CliError, CliResult};
use crate::output::{self, note};

/// Arguments of `vouch checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// The log's private key (mode 0600).
    #[arg(long)]
    pub key: PathBuf,
    /// The log's origin, which is also the key's name in the signed note (default: the
    /// origin of the checkpoints already signed, else `vouch/<log identity>`).
    #[arg(long)]
    pub origin: Option<String>,
}

pub fn checkpoint(ctx: &Context, args: &CheckpointArgs) -> CliResult<()> {
    let key = crate::release::load_key(&args.key)?;
    let ledger = ctx.open_caught_up()?;
    let signed = vouch_app::transparency::sign_checkpoint(&ledger, &key, args.origin.as_deref())
        .map_err(transparency_error)?;
    if ctx.global.json {
        output::json(&signed);
    } else {
        // Exact bytes: the note is read by machines, never wrapped to a terminal's width.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), signed.note.as_bytes());
        note!(
            "{} checkpoint of {} records kept as {}",
            if signed.new {
                "signed a"
            } else {
                "the tree has not grown: the last"
            },
            signed.size,
            signed.path.display()
        );
    }
    Ok(())
}

/// A transparency error with its exit code.
pub fn transparency_error(e: vouch_app::transparency::TransparencyError) -> CliError {
    CliError::new(e.failure(), e.into())
}
