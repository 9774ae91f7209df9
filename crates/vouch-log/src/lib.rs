//! The log contract: an append-only, totally ordered, deduplicated sequence of records.
//!
//! Everything above the log (projector, gates, the decision chain) is written once against
//! [`Log`]. Backends: `vouch-log-embedded` (sled, one machine) and, later, NATS JetStream.
//! [`contract`] holds the test suite every backend runs.
//!
//! Architecture invariant: this crate knows nothing about event kinds or JSON. A record is
//! an event id, a key and opaque bytes.
#![deny(missing_docs)]

pub mod contract;

use std::fmt;

/// A record's place in the log: 1 for the first record, then 2, 3, … with no gaps.
/// `Position::ZERO` means "before the first record".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position(u64);

impl Position {
    /// Before the first record.
    pub const ZERO: Position = Position(0);

    /// Wraps a raw sequence number.
    pub const fn new(raw: u64) -> Self {
        Position(raw)
    }

    /// The raw sequence number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The position after this one.
    pub const fn next(self) -> Position {
        Position(self.0 + 1)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a string is not a log key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid log key `{0}`: dot-separated tokens of A-Z a-z 0-9 _ -, at most 256 bytes")]
pub struct KeyError(String);

/// What a record concerns, as dot-separated tokens (`run.r-7f3a`, `chain.loan-risk`).
/// The NATS backend maps it onto a subject; conditional appends are per key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogKey(String);

impl LogKey {
    /// Validates and wraps `key`.
    ///
    /// # Errors
    /// When a token is empty or holds other characters, or the key is over 256 bytes.
    pub fn new(key: impl Into<String>) -> Result<Self, KeyError> {
        let key = key.into();
        let ok = key.len() <= 256
            && key.split('.').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if ok {
            Ok(LogKey(key))
        } else {
            Err(KeyError(key.chars().take(80).collect()))
        }
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LogKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    /// The dedup key: appending a second record with the same id and the same bytes writes
    /// nothing; with other bytes it is a [`LogError::IdConflict`].
    pub event_id: String,
    /// What the record concerns.
    pub key: LogKey,
    /// The stored bytes, kept exactly.
    pub bytes: Vec<u8>,
}

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it is.
    pub position: Position,
    /// Its event id.
    pub event_id: String,
    /// What it concerns.
    pub key: LogKey,
    /// The exact bytes appended.
    pub bytes: Vec<u8>,
}

/// The outcome of one append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written at this position.
    New(Position),
    /// The event id was already in the log at this position; nothing was written.
    Duplicate(Position),
}

impl Appended {
    /// The record's position, new or original.
    pub const fn position(self) -> Position {
        match self {
            Appended::New(p) | Appended::Duplicate(p) => p,
        }
    }
}

/// The outcome of a conditional append. A conflict is an expected result, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionalAppend {
    /// The condition held (or the event id was already present): see [`Appended`].
    Appended(Appended),
    /// Another record for the key was appended since the caller looked.
    Conflict {
        /// What the caller expected the key's last position to be.
        expected: Option<Position>,
        /// What it is.
        actual: Option<Position>,
    },
}

/// A log backend failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The storage underneath failed (disk, server).
    #[error("log storage failed: {0}")]
    Storage(String),
    /// Stored data does not decode: the log is damaged at this position.
    #[error("log is corrupt at position {position}: {reason}")]
    Corrupt {
        /// Where.
        position: Position,
        /// What is wrong.
        reason: String,
    },
    /// A record is over the backend's size limit.
    #[error("record `{event_id}` is {size} bytes, over the log's {limit}-byte limit")]
    TooLarge {
        /// The record's event id.
        event_id: String,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A record's event id is already in the log with other bytes. One event id names one
    /// content: the record was not written (on a stream that deduplicated it, the stored
    /// one stands), and the caller must not report it as recorded.
    #[error(
        "event id `{event_id}` is already in the log at position {position} with other content"
    )]
    IdConflict {
        /// The event id.
        event_id: String,
        /// Where the stored record with that id is.
        position: Position,
    },
    /// [`LogError::IdConflict`] as the ledger reports it: with the digests of both
    /// records, so the operator can tell which content the log kept.
    #[error("event id `{event_id}` is already in the log at position {position} with other content (stored record's digest {stored}, this one's {offered}); one event id names one content: use a new event id for new content")]
    ContentConflict {
        /// The event id.
        event_id: String,
        /// Where the stored record with that id is.
        position: Position,
        /// The stored record's digest.
        stored: String,
        /// The refused record's digest.
        offered: String,
    },
    /// The backend could not be reached in time.
    #[error("log unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the operation to these credentials (on NATS: a publish to a
    /// subject the user may not publish to, such as a pipeline's on the decision chain).
    /// Retrying will not help; other credentials might.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
}

/// The log contract. Implementations are safe to share between threads; appends from
/// several threads are serialised and every record gets exactly one position.
pub trait Log: Send + Sync {
    /// Appends records in order, as one unit where the backend can. Records whose event
    /// id is already in the log (or earlier in the same batch) are not written again:
    /// their result is [`Appended::Duplicate`] with the original position.
    ///
    /// # Errors
    /// When the backend fails; then none of the batch's new records is acknowledged,
    /// though a backend without atomic batches may have written a prefix, which a retry
    /// with the same event ids deduplicates.
    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError>;

    /// Appends one record; see [`Log::append_batch`].
    ///
    /// # Errors
    /// When the backend fails.
    fn append(&self, record: NewRecord) -> Result<Appended, LogError> {
        let mut results = self.append_batch(vec![record])?;
        Ok(results.pop().expect("one result per record"))
    }

    /// Appends `record` only if the last record with the same key is at `expected`
    /// (`None`: no record has the key yet). This is how the decision chain avoids forks.
    /// A record whose event id is already present returns its original position, whatever
    /// the condition.
    ///
    /// # Errors
    /// When the backend fails.
    fn append_if(
        &self,
        record: NewRecord,
        expected: Option<Position>,
    ) -> Result<ConditionalAppend, LogError>;

    /// Reads up to `max` records starting at `from` (inclusive), in order.
    ///
    /// # Errors
    /// When the backend fails or a record does not decode.
    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError>;

    /// The position of the last record, [`Position::ZERO`] when empty.
    ///
    /// # Errors
    /// When the backend fails.
    fn last_position(&self) -> Result<Position, LogError>;

    /// The position of the last record with `key`, if any.
    ///
    /// # Errors
    /// When the backend fails.
    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError>;

    /// The position of the record with `event_id`, if it is in the log.
    ///
    /// # Errors
    /// When the backend fails.
    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError>;

    /// What this log is, as a short string that changes when the log is replaced by
    /// another one: the embedded log's random id chosen at creation, a stream's name and
    /// creation time. Views remember it, so a views directory meeting another log (or a
    /// deleted and recreated one) refuses instead of projecting it.
    ///
    /// # Errors
    /// When the backend fails.
    fn identity(&self) -> Result<String, LogError>;

    /// Whether no two records can ever share an event id: the log deduplicates forever,
    /// not only within a window. Readers of such a log need no id index of their own
    /// (the projector skips its index for it). Defaults to `false`, the safe answer.
    fn ids_unique(&self) -> bool {
        false
    }

    /// Makes everything appended so far durable. A command reports success only after
    /// this returns.
    ///
    /// # Errors
    /// When the backend fails.
    fn flush(&self) -> Result<(), LogError>;
}

/// Whether a store failed to open because another handle still holds its file lock, the
/// moment after a process let go of the ledger. sled 0.34 reports that as an `Other` error
/// whose text starts "could not acquire lock" (the `WouldBlock` it got is only in the text),
/// so both forms are recognised; callers retry these until their lock timeout.
pub fn is_store_lock_error(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::WouldBlock
        || (e.kind() == std::io::ErrorKind::Other
            && e.to_string().starts_with("could not acquire lock"))
}

#[cfg(test)]
mod lock_error_tests {
    use std::io::{Error, ErrorKind};

    #[test]
    fn sleds_lock_error_is_recognised_and_others_are_not() {
        let sled_form =
            Error::other("could not acquire lock on \"/x/db\": Os { code: 11, kind: WouldBlock }");
        assert!(super::is_store_lock_error(&sled_form));
        assert!(super::is_store_lock_error(&Error::from(
            ErrorKind::WouldBlock
        )));
        assert!(!super::is_store_lock_error(&Error::other("disk full")));
        assert!(!super::is_store_lock_error(&Error::from(
            ErrorKind::NotFound
        )));
    }
}
