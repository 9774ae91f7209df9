//! Ingest: JSON lines in, events appended in batches, every line accounted for.
//!
//! One thread reads and decodes lines while the caller's thread appends the previous
//! batch, so decoding and storage overlap on two cores. Valid lines are stored, invalid
//! lines (data dated in the future included: `Event::check_times`) are reported with
//! their line number and reason and are not stored, and nothing is dropped without a word:
//! the report counts every line. An event the log refuses (over the size limit once
//! encoded, or an id already recorded with other content) is a bad line too.
//!
//! Memory is bounded: a batch closes at `batch` events or [`BATCH_BYTES`] of input,
//! whichever comes first, and at most [`BATCHES_IN_FLIGHT`] decoded batches wait for the
//! appender, so 1,000 events of 1 MB cost a few batches of 16 MiB, not a gigabyte. The
//! projection afterwards goes slice by slice, batch by batch, for the same reason.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc;

use vouch_event::{Event, MAX_EVENT_BYTES};
use vouch_ledger::Ledger;
use vouch_log::{Appended, LogError, Position};
use vouch_views::ProjectError;

use crate::Clock;

/// The input bytes after which a batch closes, whatever its count: large events make
/// small batches.
pub const BATCH_BYTES: u64 = 16 << 20;

/// Events per batch when the caller does not say.
pub const DEFAULT_BATCH: usize = 8192;

/// Decoded batches that may wait for the appender while the reader decodes the next.
pub const BATCHES_IN_FLIGHT: usize = 2;

/// What to ingest and how.
pub struct IngestRequest {
    /// The JSON lines.
    pub input: Box<dyn Read + Send>,
    /// Events per batch at most.
    pub batch: usize,
    /// The time lines are checked against (data dated in the future is refused).
    pub clock: Clock,
    /// Whether the report lists where each event is stored ([`IngestReport::stored`]):
    /// a client writing one event (`vouch --server … log metric`) prints its position.
    pub positions: bool,
}

/// Where a valid line's event is in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredLine {
    /// The line, from 1.
    pub line: u64,
    /// The event's log position.
    pub position: u64,
    /// Whether it was already there (the same id and content).
    pub duplicate: bool,
}

/// A line that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BadLine {
    /// Its number, from 1.
    pub line: u64,
    /// Why it was not stored.
    pub error: String,
}

/// What an ingest did with every line.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct IngestReport {
    /// Lines read.
    pub lines: u64,
    /// Valid events among them.
    pub events: u64,
    /// Events appended now.
    pub appended: u64,
    /// Events already in the ledger (the same id and content).
    pub duplicates: u64,
    /// Lines not stored.
    pub bad: u64,
    /// Every line not stored, in line order.
    pub bad_lines: Vec<BadLine>,
    /// Where each stored event is, in line order, when the request asked
    /// ([`IngestRequest::positions`]); absent from the JSON otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stored: Vec<StoredLine>,
}

/// How far an ingest is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub enum IngestProgress {
    /// Input bytes read and appended so far.
    Read(u64),
    /// Appending is done and flushed.
    Stored,
    /// Projecting: the views' position and the end it is heading for.
    Projecting(Position, Position),
}

/// Why an ingest stopped. Lines before the failure may be stored (and are found as
/// duplicates when the same input is ingested again); none is acknowledged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The input could not be read.
    #[error("reading line {line}: {source}")]
    Read {
        /// The line being read.
        line: u64,
        /// The error.
        source: std::io::Error,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The events were stored but projecting them failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
}

/// A batch of decoded events with their line numbers and the input read so far, or a
/// failure to read the input.
enum Chunk {
    Events {
        events: Vec<Event>,
        lines: Vec<u64>,
        bytes_read: u64,
    },
    Failed(IngestError),
}

/// Ingests `request.input` into `ledger`: appends every valid event (deduplicated by id),
/// makes them durable, projects them, and reports every line.
///
/// # Errors
/// When the input cannot be read, the log fails, or projecting fails. Bad lines are not
/// errors: they are in the report.
pub fn ingest(
    ledger: &mut Ledger,
    request: IngestRequest,
    progress: &mut dyn FnMut(IngestProgress),
) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport::default();
    let positions = request.positions;
    let (bad_tx, bad_rx) = mpsc::channel::<BadLine>();
    let (tx, rx) = mpsc::sync_channel::<Chunk>(BATCHES_IN_FLIGHT);
    // Not a scoped thread: when appending fails, the command must end (and release the
    // ledger) even if the reader is blocked on a pipe that stays open.
    let reader = {
        let bad_tx = bad_tx.clone();
        let IngestRequest {
            input,
            batch,
            clock,
            positions: _,
        } = request;
        std::thread::spawn(move || read_events(input, batch.max(1), clock, &tx, &bad_tx))
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
                let results = append(ledger, &events, &lines, &bad_tx)?;
                let mut batch_end = Position::ZERO;
                for (result, &line) in results.iter().zip(&lines) {
                    let Some(result) = *result else { continue };
                    if positions {
                        let (position, duplicate) = match result {
                            Appended::New(p) => (p, false),
                            Appended::Duplicate(p) => (p, true),
                        };
                        report.stored.push(StoredLine {
                            line,
                            position: position.get(),
                            duplicate,
                        });
                    }
                    match result {
                        Appended::New(p) => {
                            report.appended += 1;
                            batch_end = batch_end.max(p);
                        }
                        Appended::Duplicate(_) => report.duplicates += 1,
                    }
                    report.events += 1;
                }
                if batch_end > slices.last().copied().unwrap_or(Position::ZERO) {
                    slices.push(batch_end);
                }
                progress(IngestProgress::Read(bytes_read));
            }
        }
    }
    drop(bad_tx);
    report.lines = reader.join().expect("the reader thread does not panic");
    ledger.flush()?;
    progress(IngestProgress::Stored);
    for end in slices {
        if end > ledger.views().position().map_err(ProjectError::from)? {
            ledger.catch_up_to(end, &mut |at, end| {
                progress(IngestProgress::Projecting(at, end))
            })?;
        }
    }
    // Whatever others appended meanwhile (on a stream), and anything before this ingest.
    ledger.catch_up(&mut |at, end| progress(IngestProgress::Projecting(at, end)))?;
    // Lines the reader refused and events the log refused arrive in two streams.
    report.bad_lines = bad_rx.into_iter().collect();
    report.bad_lines.sort_by_key(|b| b.line);
    report.bad = report.bad_lines.len() as u64;
    Ok(report)
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
) -> Result<Vec<Option<Appended>>, IngestError> {
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
                let _ = bad.send(BadLine {
                    line,
                    error: e.to_string(),
                });
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
    clock: Clock,
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
            Err(source) => {
                let _ = tx.send(Chunk::Failed(IngestError::Read {
                    line: number + 1,
                    source,
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
            .and_then(|event| match event.check_times(clock()) {
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
