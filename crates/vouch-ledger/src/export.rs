//! A log written out record by record, for an auditor to verify elsewhere: `vouch export`
//! writes it, `vouch verify --from` reads it back as a read-only [`Log`] and checks it
//! with the same code that checks a ledger (`schemas/audit-bundle.md` describes the
//! format beside the bundle's, whose records have the same shape).
//!
//! JSON Lines: a header `{"format":"vouch-log-v1","ids_unique":BOOL}`, then one object
//! per record, ascending by position: `{"position","key","event_id","bytes"}` with the
//! exact stored bytes in lowercase hex. Unknown fields are refused.

use std::io::Write;

use serde::{Deserialize, Serialize};
use vouch_event::hex;
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
use vouch_tlog::tree::Hash;

use crate::tree::ProofError;

/// The export format written by this version.
pub const EXPORT_FORMAT: &str = "vouch-log-v1";

/// The largest export `vouch verify --from` reads: it holds the whole log in memory.
pub const MAX_EXPORT_BYTES: u64 = 4 << 30;

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportHeader {
    /// [`EXPORT_FORMAT`].
    pub format: String,
    /// Whether the log promised one record per event id (the embedded log does; a NATS
    /// stream deduplicates only within its window), as [`Log::ids_unique`].
    pub ids_unique: bool,
}

/// One record of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportedRecord {
    position: u64,
    key: String,
    event_id: String,
    bytes: String,
}

/// Why an export cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// A line that is not what the format says.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The log could not be read or the output written.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Writing failed.
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes every record of `log` to `out` as an export; returns how many.
///
/// # Errors
/// When the log cannot be read or `out` written.
pub fn write_export(log: &dyn Log, out: &mut dyn Write) -> Result<u64, ExportError> {
    let header = ExportHeader {
        format: EXPORT_FORMAT.into(),
        ids_unique: log.ids_unique(),
    };
    writeln!(
        out,
        "{}",
        serde_json::to_string(&header).expect("serializable")
    )?;
    let end = log.last_position()?.get();
    let mut next = 1u64;
    let mut written = 0u64;
    while next <= end {
        let records = log.read(Position::new(next), 4096)?;
        let Some(last) = records.last() else { break };
        next = last.position.get() + 1;
        for r in records {
            let line = ExportedRecord {
                position: r.position.get(),
                key: r.key.to_string(),
                event_id: r.event_id,
                bytes: hex(&r.bytes),
            };
            writeln!(
                out,
                "{}",
                serde_json::to_string(&line).expect("serializable")
            )?;
            written += 1;
        }
    }
    out.flush()?;
    Ok(written)
}

/// An exported log, read back: a read-only [`Log`] over its records.
#[derive(Debug)]
pub struct ExportedLog {
    ids_unique: bool,
    records: Vec<Record>,
}

impl ExportedLog {
    /// Parses an export. Positions must ascend strictly (a gap is kept: verification
    /// names it); every record's key must be a log key and its bytes hex.
    ///
    /// # Errors
    /// [`ExportError::Line`] naming the first line that is not as the format says.
    pub fn parse(text: &str) -> Result<ExportedLog, ExportError> {
        let mut lines = text.split_terminator('\n').enumerate();
        let bad = |line: usize, reason: String| ExportError::Line {
            line: line + 1,
            reason,
        };
        let (_, first) = lines
            .next()
            .ok_or_else(|| bad(0, "empty: no header line".into()))?;
        let header: ExportHeader = serde_json::from_str(first)
            .map_err(|e| bad(0, format!("not an export header: {e}")))?;
        if header.format != EXPORT_FORMAT {
            return Err(bad(
                0,
                format!(
                    "unknown export format `{}` (expected {EXPORT_FORMAT})",
                    header.format
                ),
            ));
        }
        let mut records: Vec<Record> = Vec::new();
        for (i, line) in lines {
            let r: ExportedRecord =
                serde_json::from_str(line).map_err(|e| bad(i, format!("not a record: {e}")))?;
            if r.position == 0
                || records
                    .last()
                    .is_some_and(|l| l.position.get() >= r.position)
            {
                return Err(bad(
                    i,
                    format!(
                        "position {} does not follow the previous record's; positions start at 1 and ascend",
                        r.position
                    ),
                ));
            }
            let key = LogKey::new(r.key.clone())
                .map_err(|e| bad(i, format!("`{}` is not a log key: {e}", r.key)))?;
            let bytes = vouch_event::parse_hex_bytes(&r.bytes)
                .ok_or_else(|| bad(i, "its bytes are not hex".into()))?;
            records.push(Record {
                position: Position::new(r.position),
                event_id: r.event_id,
                key,
                bytes,
            });
        }
        Ok(ExportedLog {
            ids_unique: header.ids_unique,
            records,
        })
    }
}

fn read_only() -> LogError {
    LogError::PermissionDenied("an exported log is read-only".into())
}

impl Log for ExportedLog {
    fn append_batch(&self, _: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        Err(read_only())
    }

    fn append_if(&self, _: NewRecord, _: Option<Position>) -> Result<ConditionalAppend, LogError> {
        Err(read_only())
    }

    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        let start = self.records.partition_point(|r| r.position < from);
        Ok(self.records[start..].iter().take(max).cloned().collect())
    }

    fn last_position(&self) -> Result<Position, LogError> {
        Ok(self.records.last().map_or(Position::new(0), |r| r.position))
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError> {
        Ok(self
            .records
            .iter()
            .rev()
            .find(|r| &r.key == key)
            .map(|r| r.position))
    }

    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError> {
        Ok(self
            .records
            .iter()
            .find(|r| r.event_id == event_id)
            .map(|r| r.position))
    }

    fn identity(&self) -> Result<String, LogError> {
        Ok("exported log".into())
    }

    fn ids_unique(&self) -> bool {
        self.ids_unique
    }

    fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }
}

/// The RFC 6962 root of the first `size` records of `log`, recomputed from their stored
/// bytes (never from the views): what a checkpoint of that size must carry.
///
/// # Errors
/// [`ProofError::LogShorter`] when the log holds fewer records, or has a gap before
/// `size`; log failures.
pub fn root_of_log(log: &dyn Log, size: u64) -> Result<Hash, ProofError> {
    let mut tree =
        vouch_tlog::tree::Tree::open(crate::tree::RootOnly).expect("an empty store cannot fail");
    // Stops at the first gap: the records after it are not the tree's next leaves.
    'read: while tree.size() < size {
        let next = tree.size() + 1;
        let records = log
            .read(Position::new(next), 4096)
            .map_err(|e| ProofError::Log(e.to_string()))?;
        if records.first().is_none_or(|r| r.position.get() != next) {
            break;
        }
        for r in records {
            if r.position.get() != tree.size() + 1 {
                break 'read;
            }
            tree.append(&r.bytes).expect("an empty store cannot fail");
            if tree.size() == size {
                break 'read;
            }
        }
    }
    if tree.size() < size {
        return Err(ProofError::LogShorter {
            size,
            records: tree.size(),
        });
    }
    Ok(tree.root())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export_of(positions: &[u64]) -> ExportedLog {
        let mut text = String::from("{\"format\":\"vouch-log-v1\",\"ids_unique\":true}\n");
        for p in positions {
            text.push_str(&format!(
                "{{\"position\":{p},\"key\":\"run.r\",\"event_id\":\"e{p}\",\"bytes\":\"{p:02x}\"}}\n"
            ));
        }
        ExportedLog::parse(&text).unwrap()
    }

    #[test]
    fn the_root_of_a_log_stops_at_a_gap_and_says_how_far_it_got() {
        let log = export_of(&[1, 2, 3, 5, 6]);
        match root_of_log(&log, 5) {
            Err(ProofError::LogShorter {
                size: 5,
                records: 3,
            }) => {}
            other => panic!("{other:?}"),
        }
        let mut tree = vouch_tlog::tree::Tree::in_memory();
        for b in [1u8, 2, 3] {
            tree.append(&[b]).unwrap();
        }
        assert_eq!(root_of_log(&log, 3).unwrap(), tree.root());
        assert_eq!(root_of_log(&log, 2).unwrap(), tree.root_at(2).unwrap());
        assert_eq!(root_of_log(&log, 0).unwrap(), vouch_tlog::tree::EMPTY_ROOT);
        match root_of_log(&export_of(&[2, 3]), 1) {
            Err(ProofError::LogShorter { records: 0, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_export_reads_back_what_was_written() {
        let log = export_of(&[1, 2, 4]);
        let mut out = Vec::new();
        assert_eq!(write_export(&log, &mut out).unwrap(), 3);
        let again = ExportedLog::parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(again.records, log.records);
        assert!(again.ids_unique());
    }

    #[test]
    fn a_hostile_export_is_refused_with_its_line() {
        let header = "{\"format\":\"vouch-log-v1\",\"ids_unique\":false}\n";
        let cases = [
            ("", "line 1"),
            (
                "{\"format\":\"vouch-log-v2\",\"ids_unique\":true}\n",
                "unknown export format",
            ),
            (
                "{\"format\":\"vouch-log-v1\",\"ids_unique\":true,\"x\":1}\n",
                "not an export header",
            ),
        ];
        for (text, needle) in cases {
            let e = ExportedLog::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        let records = [
            (
                "{\"position\":0,\"key\":\"run.r\",\"event_id\":\"a\",\"bytes\":\"01\"}",
                "line 2: position 0",
            ),
            (
                "{\"position\":1,\"key\":\"run.r\",\"event_id\":\"a\",\"bytes\":\"+1\"}",
                "not hex",
            ),
            (
                "{\"position\":1,\"key\":\"run.r\",\"event_id\":\"a\",\"bytes\":\"01\",\"y\":2}",
                "unknown field",
            ),
            (
                "{\"position\":1,\"key\":\"\",\"event_id\":\"a\",\"bytes\":\"01\"}",
                "not a log key",
            ),
        ];
        for (line, needle) in records {
            let e = ExportedLog::parse(&format!("{header}{line}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{line}: {e}");
        }
        let twice = format!(
            "{header}{{\"position\":2,\"key\":\"run.r\",\"event_id\":\"a\",\"bytes\":\"01\"}}\n{{\"position\":2,\"key\":\"run.r\",\"event_id\":\"b\",\"bytes\":\"01\"}}\n"
        );
        let e = ExportedLog::parse(&twice).unwrap_err().to_string();
        assert!(e.contains("line 3: position 2 does not follow"), "{e}");
    }
}
