//! `vouch ingest`: the CLI's adapter over [`vouch_app::ingest`]. It opens the input (a
//! file, or standard input), shows progress, prints the report and exits 65 when a line
//! was not stored.

use std::io::Read;

use vouch_app::ingest::{IngestError, IngestProgress, IngestReport, IngestRequest};

use crate::cli::IngestArgs;
use crate::context::{now, Context};
use crate::exit::{CliError, CliResult, Failure};
use crate::output::{self, note, say, Progress};

/// How many bad lines are printed one by one before the rest are only counted.
const SHOWN_BAD_LINES: usize = 100;

impl From<IngestError> for CliError {
    fn from(e: IngestError) -> Self {
        match e {
            // The log's own message for an event over the limit (see `exit::log_error`).
            IngestError::Log(l) => l.into(),
            e => CliError::new(vouch_app::failure::ingest_failure(&e), e.into()),
        }
    }
}

pub fn ingest(ctx: &Context, args: &IngestArgs) -> CliResult<()> {
    let (input, size): (Box<dyn Read + Send>, u64) = match args.file.as_deref() {
        None => (Box::new(std::io::stdin()), 0),
        Some(p) if p.as_os_str() == "-" => (Box::new(std::io::stdin()), 0),
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| CliError {
                failure: if e.kind() == std::io::ErrorKind::NotFound {
                    Failure::NotFound
                } else {
                    Failure::Io
                },
                error: anyhow::anyhow!("cannot read {}: {e}", path.display()),
            })?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(file), size)
        }
    };
    let mut ledger = ctx.open()?;
    let reading = Progress::bytes("ingesting", size);
    let projecting = Progress::new("projecting");
    let request = IngestRequest {
        input,
        batch: args.batch as usize,
        clock: now,
        positions: false,
    };
    let report = vouch_app::ingest::ingest(&mut ledger, request, &mut |step| match step {
        IngestProgress::Read(bytes) => reading.set(bytes),
        IngestProgress::Stored => reading.finish(),
        IngestProgress::Projecting(at, end) => projecting.update(at.get(), end.get()),
    })?;
    projecting.finish();
    finish(ctx, &report)
}

/// Prints an ingest's report, and fails (65) when a line was not stored.
pub fn finish(ctx: &Context, report: &IngestReport) -> CliResult<()> {
    print_report(ctx, report);
    if report.bad > 0 {
        return Err(CliError {
            failure: Failure::BadInput,
            error: anyhow::anyhow!(
                "{} of {} lines were not valid events and were not stored; the {} valid events are in the ledger ({} appended now, {} were already there)",
                report.bad,
                report.lines,
                report.events,
                report.appended,
                report.duplicates
            ),
        });
    }
    Ok(())
}

fn print_report(ctx: &Context, report: &IngestReport) {
    if ctx.global.json {
        output::json(report);
        return;
    }
    for bad in report.bad_lines.iter().take(SHOWN_BAD_LINES) {
        note!("line {}: {}", bad.line, bad.error);
    }
    if report.bad as usize > SHOWN_BAD_LINES {
        note!(
            "… and {} more bad lines (use --json to list them all)",
            report.bad as usize - SHOWN_BAD_LINES
        );
    }
    say!(
        "{} events read: {} appended, {} already in the ledger; {} bad lines not stored",
        report.events,
        report.appended,
        report.duplicates,
        report.bad
    );
}
