//! `vouch ingest`: JSON lines in, events appended in batches.
//!
//! One thread reads and decodes lines while the main thread appends the previous batch,
//! so decoding and storage overlap on two cores. Valid lines are stored, invalid lines
//! (data dated in the future included: `Event::check_times`) are reported with their line
//! number and reason and are not stored, and nothing is dropped without a word: the
//! summary counts every line.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

use vouch_event::{Event, MAX_EVENT_BYTES};
use vouch_log::Appended;

use crate::cli::IngestArgs;
use crate::context::{now, Context};
use crate::exit::{CliError, CliResult, Failure};
use crate::output::{self, Progress};

/// How many bad lines are printed one by one before the rest are only counted.
const SHOWN_BAD_LINES: usize = 100;

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

/// A batch of decoded events, or the end of the input.
enum Chunk {
    Events(Vec<Event>, u64),
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
    let (tx, rx) = mpsc::sync_channel::<Chunk>(2);

    let lines_read = std::thread::scope(|scope| -> CliResult<u64> {
        let reader = scope.spawn(move || read_events(input, batch, &tx, &bad_tx));
        for chunk in rx {
            match chunk {
                Chunk::Failed(e) => return Err(e),
                Chunk::Events(events, bytes_read) => {
                    summary.events += events.len() as u64;
                    for result in ledger.append_unprojected(&events)? {
                        match result {
                            Appended::New(_) => summary.appended += 1,
                            Appended::Duplicate(_) => summary.duplicates += 1,
                        }
                    }
                    progress.set(bytes_read);
                }
            }
        }
        Ok(reader.join().expect("the reader thread does not panic"))
    })?;
    summary.lines = lines_read;
    ledger.flush()?;
    progress.finish();
    let projecting = Progress::new("projecting");
    ledger.catch_up(&mut |at, end| projecting.update(at.get(), end.get()))?;
    projecting.finish();

    for bad in bad_rx {
        summary.bad += 1;
        if !ctx.global.json && summary.bad_lines.len() < SHOWN_BAD_LINES {
            eprintln!("line {}: {}", bad.line, bad.error);
        }
        summary.bad_lines.push(bad);
    }
    if ctx.global.json {
        output::json(&summary);
    } else {
        if summary.bad as usize > SHOWN_BAD_LINES {
            eprintln!(
                "… and {} more bad lines (use --json to list them all)",
                summary.bad as usize - SHOWN_BAD_LINES
            );
        }
        println!(
            "{} events read: {} appended, {} already in the ledger; {} bad lines not stored",
            summary.events, summary.appended, summary.duplicates, summary.bad
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

/// Reads lines, decodes them and sends batches of events; bad lines go to `bad`.
/// Returns the number of lines read.
fn read_events(
    input: Box<dyn Read + Send>,
    batch: usize,
    tx: &mpsc::SyncSender<Chunk>,
    bad: &mpsc::Sender<BadLine>,
) -> u64 {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut events = Vec::with_capacity(batch);
    let mut line = Vec::with_capacity(4096);
    let (mut number, mut bytes_read) = (0u64, 0u64);
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
            Ok(event) => events.push(event),
            Err(error) => {
                let _ = bad.send(BadLine {
                    line: number,
                    error,
                });
            }
        }
        if events.len() >= batch {
            if tx
                .send(Chunk::Events(std::mem::take(&mut events), bytes_read))
                .is_err()
            {
                return number;
            }
            events.reserve(batch);
        }
    }
    if !events.is_empty() {
        let _ = tx.send(Chunk::Events(events, bytes_read));
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
