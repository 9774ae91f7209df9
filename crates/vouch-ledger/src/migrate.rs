//! `vouch migrate`: copy an embedded ledger's log into a JetStream stream, unchanged.
//!
//! Decisions pin log positions (the evidence they judged, the policy they used), so the
//! copy must keep every record at the same position: the stream must be empty, or hold
//! exactly a prefix of this log from an interrupted migration, which is then continued.
//! The result is read back and compared record by record, then the chain is verified on
//! the stream itself.

use vouch_log::{Appended, Log, LogError, Position, Record};
use vouch_log_nats::{NatsError, NatsLog, NatsOptions};

use crate::release::{verify_log, ReleaseError, VerifyReport};
use crate::{Ledger, Trust};

/// Records read and published per step.
const CHUNK: usize = 4096;

/// What a migration did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrateReport {
    /// The stream written.
    pub stream: String,
    /// Records in the source log.
    pub records: u64,
    /// Records already in the stream from an earlier, interrupted run (checked equal).
    pub already_there: u64,
    /// Records published by this run.
    pub copied: u64,
    /// The chain verified on the stream.
    pub verify: VerifyReport,
}

/// Why a migration stopped. What was copied stays; re-running continues after it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// Only an embedded ledger can be the source.
    #[error("this ledger's log is already a NATS stream; migrate copies an embedded ledger")]
    NotEmbedded,
    /// The stream could not be reached or is unsafe.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// Reading or writing a log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The stream holds records that are not this log's.
    #[error("stream `{stream}` is not empty and is not a copy of this ledger: {reason}; migrate into a new, empty stream")]
    Foreign {
        /// The stream.
        stream: String,
        /// What differs.
        reason: String,
    },
    /// Read back, the stream differs from the source.
    #[error("verification failed: stream `{stream}` differs from the ledger at position {position}: {reason}")]
    Mismatch {
        /// The stream.
        stream: String,
        /// The first differing position.
        position: u64,
        /// What differs.
        reason: String,
    },
    /// Verifying the chain on the stream could not run.
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

/// Why `ours` and `theirs` are not the same record, if they are not.
fn difference(ours: &Record, theirs: &Record) -> Option<String> {
    if ours.position != theirs.position {
        Some(format!(
            "position {} against {}",
            theirs.position, ours.position
        ))
    } else if ours.event_id != theirs.event_id {
        Some(format!(
            "event id `{}` against `{}`",
            theirs.event_id, ours.event_id
        ))
    } else if ours.key != theirs.key {
        Some(format!("key `{}` against `{}`", theirs.key, ours.key))
    } else if ours.bytes != theirs.bytes {
        Some("the record's bytes differ".to_owned())
    } else {
        None
    }
}

/// Compares `target` with `source` over positions `1..=end`; the first difference.
fn compare(
    source: &dyn Log,
    target: &dyn Log,
    end: u64,
    progress: &mut dyn FnMut(&str, u64, u64),
) -> Result<Option<(u64, String)>, LogError> {
    let mut next = 1;
    while next <= end {
        let want = usize::try_from(end - next + 1).map_or(CHUNK, |n| n.min(CHUNK));
        let ours = source.read(Position::new(next), want)?;
        let theirs = target.read(Position::new(next), want)?;
        for (i, our) in ours.iter().enumerate() {
            match theirs.get(i) {
                None => return Ok(Some((our.position.get(), "the record is missing".into()))),
                Some(their) => {
                    if let Some(reason) = difference(our, their) {
                        return Ok(Some((our.position.get(), reason)));
                    }
                }
            }
        }
        if ours.is_empty() {
            return Ok(Some((next, "the ledger's log ends early".into())));
        }
        next += ours.len() as u64;
        progress("checking", next - 1, end);
    }
    Ok(None)
}

impl Ledger {
    /// Copies this embedded ledger's log into the stream `nats` names (created if absent),
    /// keeping event ids, keys, bytes and positions; continues an interrupted copy; then
    /// reads everything back and verifies the decision chain on the stream with `trust`.
    /// `progress` is told the phase, the position reached and the end.
    ///
    /// # Errors
    /// See [`MigrateError`]. Nothing is ever removed from the stream.
    pub fn migrate_to(
        &self,
        nats: &NatsOptions,
        trust: &Trust,
        progress: &mut dyn FnMut(&str, u64, u64),
    ) -> Result<MigrateReport, MigrateError> {
        if !matches!(self.backend(), crate::Backend::Embedded(_)) {
            return Err(MigrateError::NotEmbedded);
        }
        let mut nats = nats.clone();
        nats.create = true;
        let target = NatsLog::connect(&nats)?;
        let stream = target.stream_name().to_owned();
        let source = self.log();
        let end = source.last_position()?.get();
        let there = target.last_position()?.get();
        if there > end {
            return Err(MigrateError::Foreign {
                stream,
                reason: format!("it holds {there} records, this ledger {end}"),
            });
        }
        if let Some((position, reason)) = compare(source, &target, there, progress)? {
            return Err(MigrateError::Foreign {
                stream,
                reason: format!("at position {position}: {reason}"),
            });
        }
        let mut next = there + 1;
        let mut copied = 0;
        while next <= end {
            let records = source.read(Position::new(next), CHUNK)?;
            let positions: Vec<Position> = records.iter().map(|r| r.position).collect();
            let batch = records
                .into_iter()
                .map(|r| vouch_log::NewRecord {
                    event_id: r.event_id,
                    key: r.key,
                    bytes: r.bytes,
                })
                .collect();
            let results = target.append_batch(batch)?;
            for (expected, result) in positions.iter().zip(&results) {
                if *result != Appended::New(*expected) {
                    return Err(MigrateError::Mismatch {
                        stream,
                        position: expected.get(),
                        reason: format!(
                            "the stream stored it as {result:?}; another publisher may be writing to it"
                        ),
                    });
                }
            }
            copied += results.len() as u64;
            next += results.len() as u64;
            progress("copying", next - 1, end);
        }
        if let Some((position, reason)) = compare(source, &target, end, progress)? {
            return Err(MigrateError::Mismatch {
                stream,
                position,
                reason,
            });
        }
        let last = target.last_position()?.get();
        if last != end {
            return Err(MigrateError::Mismatch {
                stream,
                position: end + 1,
                reason: format!("the stream holds {last} records after the copy, the ledger {end}; another publisher wrote to it"),
            });
        }
        let verify = verify_log(&target, trust, &mut |at, end| {
            progress("verifying", at, end)
        })?;
        Ok(MigrateReport {
            stream,
            records: end,
            already_there: there,
            copied,
            verify,
        })
    }
}
