//! `vouch ingest`: JSON lines in, events appended in batches.
//!
//! One thread reads and decodes lines while the main thread appends the previous batch,
//! so decoding and storage overlap on two cores. Valid lines are stored, invalid lines
//! (data dated in the future included: `Event::check_times`) are reported with their line
//! number and reason and are not stored, and nothing is dropped without a word: the
//! summary counts every line. An event the log refuses (over the size limit once encoded,
//! or an id already recorded with other content) is a bad line too.
//!
//! Memory is bounded: a batch closes at `--batch` events or [`BATCH_BYTES`] of input,
//! whichever comes first, and at most [`BATCHES_IN_FLIGHT`] decoded batches wait for the
//! appender, so 1,000 events of 1 MB cost a few batches of 16 MiB, not a gigabyte.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

use vouch_event::{Event, MAX_EVENT_BYTES};
use vouch_ledger::Ledger;
use vouch_log::{Appended, LogError, Position};

use crate::cli::IngestArgs;
use crate::context::{now, Context};
use crate::exit::{CliError, CliResult, Failure};
use crate::output::{self, note, say, Progress};

/// How many bad lines are printed one by one before the rest are only counted.
const SHOWN_BAD_LINES: usize = 100;

/// The input bytes after which a batch closes, whatever its count: large events make
/// small batches.
const BATCH_BYTES: u64 = 16 << 20;

/// Decoded batches that may wait for the appender while the reader decodes the next.
const BATCHES_IN_FLIGHT: usize = 2;

#[derive(serde::Serialize)]
struct BadLine {
    line: u64,
    error: String,
}

#[derive(Default, serde::Serialize)]
struct Summary {
    lines: u64,
    events: u64,
    appended: u64,
    duplicates: u64,
    bad: u64,
    bad_lines: Vec<BadLine>,
}

/// A batch of decoded events with their line numbers and the input read so far, or a
/// failure to read the input.
enum Chunk {
    Events {
        events: Vec<Event>,
        lines: Vec<u64>,
        bytes_read: u64,
    },
    Failed(CliError),
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
    let batch = args.batch as usize;
    let progress = Progress::bytes("ingesting", size);
    let mut summary = Summary::default();
    let (bad_tx, bad_rx) = mpsc::channel::<BadLine>();
    let (tx, rx) = mpsc::sync_channel::<Chunk>(BATCHES_IN_FLIGHT);
    // Not a scoped thread: when appending fails, the command must end (and release the
    // ledger) even if the reader is blocked on a pipe that stays open.
    let reader = {
        let bad_tx = bad_tx.clone();
        std::thread::spawn(move || read_events(input, batch, &tx, &bad_tx))
    };
    // Where each batch's new records end: the projection afterwards goes slice by slice,
    // so it holds no more of the log at once than a batch (the projector's own reads are
    // counted in records, and 8,192 records of 1 MB are 8 GB).
    let mut slices: Vec<Position> = Vec::new();
    for chunk in rx {
        match chunk {
            Chunk::Failed(e) => return Err(e),
            Chunk::Events {
                events,
                lines,
                bytes_read,
            } => {
                let results = append(&mut ledger, &events, &lines, &bad_tx)?;
                let mut batch_end = Position::ZERO;
                for result in results.into_iter().flatten() {
                    match result {
                        Appended::New(p) => {
                            summary.appended += 1;
                            batch_end = batch_end.max(p);
                        }
                        Appended::Duplicate(_) => summary.duplicates += 1,
                    }
                    summary.events += 1;
                }
                if batch_end > slices.last().copied().unwrap_or(Position::ZERO) {
                    slices.push(batch_end);
                }
                progress.set(bytes_read);
            }
        }
    }
    drop(bad_tx);
    let lines_read = reader.join().expect("the reader thread does not panic");
    summary.lines = lines_read;
    ledger.flush()?;
    progress.finish();
    let projecting = Progress::new("projecting");
    for end in slices {
        if end > ledger.views().position()? {
            ledger.catch_up_to(end, &mut |at, _| projecting.update(at.get(), end.get()))?;
        }
    }
    // Whatever others appended meanwhile (on a stream), and anything before this ingest.
    ledger.catch_up(&mut |at, end| projecting.update(at.get(), end.get()))?;
    projecting.finish();

    // Lines the reader refused and events the log refused arrive in two streams.
    summary.bad_lines = bad_rx.into_iter().collect();
    summary.bad_lines.sort_by_key(|b| b.line);
    summary.bad = summary.bad_lines.len() as u64;
    if !ctx.global.json {
        for bad in summary.bad_lines.iter().take(SHOWN_BAD_LINES) {
            note!("line {}: {}", bad.line, bad.error);
        }
    }
    if ctx.global.json {
        output::json(&summary);
    } else {
        if summary.bad as usize > SHOWN_BAD_LINES {
            note!(
                "… and {} more bad lines (use --json to list them all)",
                summary.bad as usize - SHOWN_BAD_LINES
            );
        }
        say!(
            "{} events read: {} appended, {} already in the ledger; {} bad lines not stored",
            summary.events,
            summary.appended,
            summary.duplicates,
            summary.bad
        );
    }
    if summary.bad > 0 {
        return Err(CliError {
            failure: Failure::BadInput,
            error: anyhow::anyhow!(
                "{} of {} lines were not valid events and were not stored; the {} valid events are in the ledger ({} appended now, {} were already there)",
                summary.bad,
                summary.lines,
                summary.events,
                summary.appended,
                summary.duplicates
            ),
        });
    }
    Ok(())
}

/// Appends a batch. When the log refuses one of its events (over the size limit, or an
/// id recorded with other content), the log stored none of them: the batch is appended
/// again one event at a time, so each refused event becomes a bad line with its line
/// number and the others are stored. Returns each event's outcome, `None` when refused.
fn append(
    ledger: &mut Ledger,
    events: &[Event],
    lines: &[u64],
    bad: &mpsc::Sender<BadLine>,
) -> CliResult<Vec<Option<Appended>>> {
    let refused = |e: &LogError| {
        matches!(
            e,
            LogError::TooLarge { .. }
                | LogError::IdConflict { .. }
                | LogError::ContentConflict { .. }
        )
    };
    match ledger.append_unprojected(events) {
        Ok(results) => return Ok(results.into_iter().map(Some).collect()),
        Err(e) if refused(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let mut results = Vec::with_capacity(events.len());
    for (event, &line) in events.iter().zip(lines) {
        match ledger.append_unprojected(std::slice::from_ref(event)) {
            Ok(mut one) => results.push(one.pop()),
            Err(e) if refused(&e) => {
                let error = CliError::from(e).error.to_string();
                let _ = bad.send(BadLine { line, error });
                results.push(None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(results)
}

/// Reads lines, decodes them and sends batches of events; bad lines go to `bad`.
/// Returns the number of lines read.
fn read_events(
    input: Box<dyn Read + Send>,
    batch: usize,
    tx: &mpsc::SyncSender<Chunk>,
    bad: &mpsc::Sender<BadLine>,
) -> u64 {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut events = Vec::with_capacity(batch.min(8192));
    let mut lines = Vec::with_capacity(batch.min(8192));
    let mut line = Vec::with_capacity(4096);
    let (mut number, mut bytes_read, mut batch_bytes) = (0u64, 0u64, 0u64);
    loop {
        line.clear();
        // Read at most one byte past the limit, so a huge line costs bounded memory.
        let n = match (&mut reader)
            .take(MAX_EVENT_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
        {
            Ok(n) => n,
            Err(e) => {
                let _ = tx.send(Chunk::Failed(CliError {
                    failure: Failure::Io,
                    error: anyhow::anyhow!("reading line {}: {e}", number + 1),
                }));
                return number;
            }
        };
        if n == 0 {
            break;
        }
        number += 1;
        bytes_read += n as u64;
        if line.last() != Some(&b'\n') && n > MAX_EVENT_BYTES {
            let skipped = skip_rest_of_line(&mut reader);
            bytes_read += skipped;
            let _ = bad.send(BadLine {
                line: number,
                error: format!("line is over the {MAX_EVENT_BYTES}-byte event limit"),
            });
            continue;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The clock is read per line: a pipe may feed lines for hours.
        let checked = vouch_event::from_json(text)
            .map_err(|e| e.to_string())
            .and_then(|event| match event.check_times(now()) {
                Ok(()) => Ok(event),
                Err(e) => Err(e.to_string()),
            });
        match checked {
            Ok(event) => {
                events.push(event);
                lines.push(number);
                batch_bytes += n as u64;
            }
            Err(error) => {
                let _ = bad.send(BadLine {
                    line: number,
                    error,
                });
            }
        }
        if events.len() >= batch || batch_bytes >= BATCH_BYTES {
            let chunk = Chunk::Events {
                events: std::mem::take(&mut events),
                lines: std::mem::take(&mut lines),
                bytes_read,
            };
            if tx.send(chunk).is_err() {
                return number;
            }
            batch_bytes = 0;
        }
    }
    if !events.is_empty() {
        let _ = tx.send(Chunk::Events {
            events,
            lines,
            bytes_read,
        });
    }
    number
}

fn skip_rest_of_line(reader: &mut impl BufRead) -> u64 {
    let mut skipped = 0u64;
    loop {
        let buffer = match reader.fill_buf() {
            Ok(b) if !b.is_empty() => b,
            _ => return skipped,
        };
        match buffer.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return skipped + i as u64 + 1;
            }
            None => {
                let len = buffer.len();
                reader.consume(len);
                skipped += len as u64;
            }
        }
    }
}
