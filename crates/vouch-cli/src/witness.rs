//! `vouch witness` (cosign a checkpoint after checking it extends the last one cosigned),
//! `vouch keys vkey` (a key's C2SP verifier key) and `vouch verify-checkpoint` (a
//! checkpoint's log signature and witness quorum). The rules are in `vouch_tlog::witness`,
//! the state directory in `vouch_app::witness`; this file parses, reads the clock and
//! prints.

use std::io::Read as _;
use std::path::PathBuf;

use vouch_app::witness::{self as app, KeyUse, WitnessError};
use vouch_files::FileKind;

use crate::context::Context;
use crate::exit::{bad_input, CliError, CliResult, Failure};
use crate::output::{self, note, say};

/// Arguments of `vouch witness`.
#[derive(Debug, clap::Args)]
pub struct WitnessArgs {
    /// The witness's state directory: the last checkpoint cosigned per origin, and
    /// split-view evidence under conflicts/ (created when missing).
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// The witness's private key (mode 0600; its own key, not the log's or a release key).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The witness's name on its cosignatures (the name in its verifier key).
    #[arg(long)]
    pub name: String,
    /// A log to witness: its verifier key (`vouch keys vkey`), named by its origin.
    /// Repeat for several logs.
    #[arg(long = "log", value_name = "VKEY", required = true)]
    pub logs: Vec<String>,
    /// The add-checkpoint request: `old <size>` and the consistency proof (as `vouch prove
    /// consistency` prints them), an empty line, then the signed checkpoint; or - for
    /// standard input (the default).
    #[arg(value_name = "INPUT")]
    pub input: Option<PathBuf>,
}

/// Arguments of `vouch keys vkey`.
#[derive(Debug, clap::Args)]
pub struct VkeyArgs {
    /// The private key file (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The key's name: the log's origin for a log key, the witness's name for a witness.
    #[arg(long)]
    pub name: String,
    /// A witness's cosignature key (type 0x04) instead of a log's checkpoint key (0x01).
    #[arg(long)]
    pub cosigner: bool,
}

/// Arguments of `vouch verify-checkpoint`.
#[derive(Debug, clap::Args)]
pub struct VerifyCheckpointArgs {
    /// The signed checkpoint, with its cosignatures.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// The log's verifier key (type 0x01, named by the origin).
    #[arg(long = "log", value_name = "VKEY")]
    pub log: String,
    /// A witness's verifier key (type 0x04); repeat for each known witness.
    #[arg(long = "witness", value_name = "VKEY")]
    pub witnesses: Vec<String>,
    /// How many of the known witnesses must have cosigned.
    #[arg(long, value_name = "N")]
    pub quorum: usize,
    /// Also check that this ledger's (--ledger) tree has the checkpoint's root at its size.
    #[arg(long)]
    pub check_ledger: bool,
}

const REQUEST_FILE: FileKind = FileKind::new("add-checkpoint request", app::MAX_REQUEST_BYTES);

fn witness_error(e: WitnessError) -> CliError {
    CliError::new(e.failure(), e.into())
}

fn now_seconds() -> CliResult<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|e| {
            CliError::new(
                Failure::Internal,
                anyhow::anyhow!("the clock is before 1970: {e}"),
            )
        })
}

fn read_request(input: Option<&PathBuf>) -> CliResult<Vec<u8>> {
    match input {
        Some(p) if p.as_os_str() != "-" => vouch_files::read(p, REQUEST_FILE).map_err(|e| {
            CliError::new(
                crate::exit::user_file_failure(&e),
                anyhow::anyhow!("cannot read {} {}: {e}", REQUEST_FILE.what(), p.display()),
            )
        }),
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .take(app::MAX_REQUEST_BYTES + 1)
                .read_to_end(&mut body)
                .map_err(|e| {
                    CliError::new(
                        Failure::Io,
                        anyhow::anyhow!("cannot read standard input: {e}"),
                    )
                })?;
            if body.len() as u64 > app::MAX_REQUEST_BYTES {
                return Err(bad_input(format!(
                    "the add-checkpoint request on standard input is over {} bytes",
                    app::MAX_REQUEST_BYTES
                )));
            }
            Ok(body)
        }
    }
}

/// `vouch witness`.
pub fn witness(ctx: &Context, args: &WitnessArgs) -> CliResult<()> {
    let key = crate::release::load_key(&args.key)?;
    let logs = app::parse_vkeys(&args.logs, KeyUse::Log, "--log").map_err(witness_error)?;
    let witness =
        app::Witness::new(args.state.clone(), logs, &key, &args.name).map_err(witness_error)?;
    let body = read_request(args.input.as_ref())?;
    let now = now_seconds()?;
    let outcome = app::add_checkpoint(&witness, &body, now).map_err(witness_error)?;
    if ctx.global.json {
        output::json(&outcome);
    } else {
        // Exact bytes: the line is added to the note by machines.
        let _ = std::io::Write::write_all(&mut std::io::stdout(), outcome.cosignature.as_bytes());
        note!(
            "cosigned {} at size {}{}",
            outcome.origin,
            outcome.size,
            if outcome.advanced {
                ""
            } else {
                " (the checkpoint last cosigned, again)"
            }
        );
    }
    Ok(())
}

/// `vouch keys vkey`.
pub fn vkey(ctx: &Context, args: &VkeyArgs) -> CliResult<()> {
    let key = crate::release::load_key(&args.key)?;
    let use_ = if args.cosigner {
        KeyUse::Witness
    } else {
        KeyUse::Log
    };
    let vkey = app::verifier_key(&key, &args.name, use_).map_err(witness_error)?;
    if ctx.global.json {
        output::json(&serde_json::json!({ "vkey": vkey }));
    } else {
        say!("{vkey}");
    }
    Ok(())
}

/// `vouch verify-checkpoint`: exits 1 when a check fails.
pub fn verify_checkpoint(ctx: &Context, args: &VerifyCheckpointArgs) -> CliResult<u8> {
    let log = app::parse_vkeys(std::slice::from_ref(&args.log), KeyUse::Log, "--log")
        .map_err(witness_error)?
        .remove(0);
    let witnesses =
        app::parse_vkeys(&args.witnesses, KeyUse::Witness, "--witness").map_err(witness_error)?;
    if args.quorum > witnesses.len() {
        return Err(bad_input(format!(
            "--quorum {} is more than the {} witness key(s) given",
            args.quorum,
            witnesses.len()
        )));
    }
    let bytes = crate::release::read_text(&args.checkpoint, app::CHECKPOINT_FILE)?;
    let mut check = app::verify_checkpoint(
        &args.checkpoint,
        bytes.as_bytes(),
        &log,
        &witnesses,
        args.quorum,
    )
    .map_err(witness_error)?;
    if args.check_ledger {
        if ctx.global.server.is_some() {
            return Err(CliError::new(
                Failure::Usage,
                anyhow::anyhow!(
                    "--check-ledger reads a ledger directory; it is refused with --server"
                ),
            ));
        }
        let ledger = ctx.open_caught_up()?;
        app::check_against_ledger(&mut check, &ledger).map_err(witness_error)?;
    }
    if ctx.global.json {
        output::json(&check);
    } else {
        say!(
            "checkpoint {} size {} root {}",
            check.origin,
            check.size,
            check.root
        );
        let names: Vec<String> = check
            .cosigners
            .iter()
            .map(|c| format!("{} (at {})", c.name, c.timestamp))
            .collect();
        say!(
            "cosigned by {} of {} known witnesses (quorum {}): {}",
            check.cosigners.len(),
            witnesses.len(),
            check.quorum,
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
        if let Some(l) = &check.ledger {
            say!(
                "ledger: tree of {} records, {}",
                l.tree_size,
                if l.agrees {
                    "same root at the checkpoint's size"
                } else {
                    "DISAGREES"
                }
            );
        }
        if check.ok {
            say!("ok");
        }
    }
    for p in &check.problems {
        note!("verification failed: {p}");
    }
    Ok(if check.ok { 0 } else { Failure::Verify.code() })
}
