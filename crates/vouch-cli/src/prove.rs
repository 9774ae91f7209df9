//! `vouch prove inclusion` and `vouch prove consistency`: proofs from the tree over the log
//! against signed checkpoints (`vouch_app::transparency`).

use std::path::{Path, PathBuf};

use vouch_app::transparency::{self, SignedCheckpoint, MAX_CHECKPOINT_BYTES};
use vouch_files::FileKind;
use vouch_log::Position;

use crate::checkpoint::transparency_error;
use crate::context::Context;
use crate::exit::{bad_input, CliError, CliResult};

const CHECKPOINT_FILE: FileKind = FileKind::new("checkpoint", MAX_CHECKPOINT_BYTES);

/// What to prove.
#[derive(Debug, clap::Subcommand)]
pub enum ProveCommand {
    /// Print a C2SP tlog-proof that the record at a log position is in the tree of a
    /// checkpoint (the latest one `vouch checkpoint` kept, unless --checkpoint is given).
    Inclusion {
        /// The record's log position (1 for the first record).
        #[arg(long)]
        position: u64,
        /// A signed checkpoint of this log.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
    },
    /// Print the consistency proof from one checkpoint to a later one: `old <size>` then
    /// one base64 hash per line, the body the witness protocol sends.
    Consistency {
        /// The earlier checkpoint.
        #[arg(long)]
        from: PathBuf,
        /// The later checkpoint.
        #[arg(long)]
        to: PathBuf,
    },
}

pub fn read_checkpoint(path: &Path) -> CliResult<SignedCheckpoint> {
    let bytes = vouch_files::read(path, CHECKPOINT_FILE).map_err(|e| {
        CliError::new(
            crate::exit::user_file_failure(&e),
            anyhow::anyhow!("cannot read checkpoint {}: {e}", path.display()),
        )
    })?;
    transparency::parse_checkpoint(path, &bytes).map_err(transparency_error)
}

pub fn prove(ctx: &Context, command: ProveCommand) -> CliResult<()> {
    let text = match command {
        ProveCommand::Inclusion {
            position,
            checkpoint,
        } => {
            if position == 0 {
                return Err(bad_input("--position: log positions start at 1"));
            }
            let against = checkpoint.as_deref().map(read_checkpoint).transpose()?;
            let ledger = ctx.open_caught_up()?;
            transparency::prove_inclusion(&ledger, Position::new(position), against)
                .map_err(transparency_error)?
        }
        ProveCommand::Consistency { from, to } => {
            let (from, to) = (read_checkpoint(&from)?, read_checkpoint(&to)?);
            let ledger = ctx.open_caught_up()?;
            transparency::prove_consistency(&ledger, &from, &to).map_err(transparency_error)?
        }
    };
    // Exact bytes: a proof is read by machines, never wrapped to a terminal's width.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes());
    Ok(())
}
