//! The embedded log: Vouch's log contract in one directory, for one machine, no server.
//!
//! Storage: a sled database (`sled/`) with one tree, `log`, holding
//! - `b` + first position (u64 BE) → a block of consecutive records ([`block`]),
//! - `k` + log key → the key's last position (u64 BE), for conditional appends,
//! - `m` + `last` → the last position (u64 BE),
//!
//! and the event-id index `ids.idx` beside it ([`id_index`]). One append is one atomic
//! sled batch, so a crash leaves whole appends or none; the id index is derived and
//! re-derived from the blocks on open.
//!
//! Architecture invariant: only this crate (among the log backends) imports `sled`.
//! The caller holds the ledger directory lock; sled's own lock refuses a second opener.

mod block;
mod id_index;

use std::path::Path;
use std::sync::Mutex;

use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};

use crate::id_index::{id_hash, IdIndex};

/// The largest record the embedded log stores: 4 MiB, above any valid event.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

const LAST: &[u8] = b"mlast";

/// Why the embedded log could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// sled refused or failed (for example, another process has it open).
    #[error("cannot open the embedded log at {path}")]
    Sled {
        /// The store's directory.
        path: String,
        /// sled's error.
        source: sled::Error,
    },
    /// The id index could not be opened or rebuilt.
    #[error("cannot open the event-id index at {path}")]
    Index {
        /// The index file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The stored log is damaged.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl OpenError {
    /// Whether sled refused because another handle still holds its file lock. sled 0.34
    /// releases that lock from a background thread after the handle is dropped, so a
    /// process that just took over the ledger lock can see it briefly: worth a retry.
    pub fn is_lock_contention(&self) -> bool {
        matches!(self, OpenError::Sled { source: sled::Error::Io(e), .. } if vouch_log::is_store_lock_error(e))
    }
}

/// The embedded log. Cheap to share between threads; appends are serialised.
pub struct EmbeddedLog {
    db: sled::Db,
    tree: sled::Tree,
    state: Mutex<State>,
}

struct State {
    last: u64,
    index: IdIndex,
    /// The ids of the most recently decoded block, to confirm index hits cheaply when a
    /// whole file is retried.
    cached_block: Option<(u64, Vec<String>)>,
}

fn storage(e: impl std::fmt::Display) -> LogError {
    LogError::Storage(e.to_string())
}

fn block_key(first: u64) -> [u8; 9] {
    let mut k = [b'b'; 9];
    k[1..].copy_from_slice(&first.to_be_bytes());
    k
}

fn head_key(key: &LogKey) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.as_str().len() + 1);
    k.push(b'k');
    k.extend_from_slice(key.as_str().as_bytes());
    k
}

fn be_u64(bytes: &[u8]) -> Result<u64, LogError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| LogError::Corrupt {
            position: Position::ZERO,
            reason: "bad u64".into(),
        })
}

impl EmbeddedLog {
    /// Opens (creating if needed) the embedded log in `dir`, and brings the event-id
    /// index up to date with the blocks.
    ///
    /// # Errors
    /// When sled cannot open the store (another process holds it, disk failure) or the
    /// stored data is damaged.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let sled_dir = dir.join("sled");
        let db = sled::Config::new()
            .path(&sled_dir)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|source| OpenError::Sled {
                path: sled_dir.display().to_string(),
                source,
            })?;
        let tree = db.open_tree("log").map_err(|source| OpenError::Sled {
            path: sled_dir.display().to_string(),
            source,
        })?;
        let last = match tree.get(LAST).map_err(storage)? {
            Some(v) => be_u64(&v)?,
            None => 0,
        };
        let index_path = dir.join("ids.idx");
        let index_error = |source| OpenError::Index {
            path: index_path.display().to_string(),
            source,
        };
        let (index, durable_through) = IdIndex::open(&index_path).map_err(index_error)?;
        let log = EmbeddedLog {
            db,
            tree,
            state: Mutex::new(State {
                last,
                index,
                cached_block: None,
            }),
        };
        // Re-derive index entries the last process wrote but did not sync. A mark above
        // `last` means the log lost unsynced appends that the index kept: their entries
        // are harmless (every hit is confirmed against the log), so start over from 0 only
        // to be thorough about what is now in the log.
        let from = if durable_through > last {
            0
        } else {
            durable_through
        };
        if from < last {
            tracing::debug!(from, last, "re-deriving event-id index entries");
            let mut state = log.state.lock().expect("not poisoned");
            let mut next = from + 1;
            while next <= last {
                let records = log.read_locked(Position::new(next), 8192)?;
                for r in &records {
                    state
                        .index
                        .insert(id_hash(&r.event_id), r.position.get())
                        .map_err(index_error)?;
                }
                next += records.len().max(1) as u64;
            }
            state.index.sync(last).map_err(index_error)?;
        }
        Ok(log)
    }

    /// Reads without taking the state lock: the blocks are immutable once written.
    fn read_locked(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        let from = from.get().max(1);
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        // The block holding `from` starts at or before it.
        let start = self
            .tree
            .range(block_key(0)..=block_key(from))
            .next_back()
            .transpose()
            .map_err(storage)?
            .map(|(k, _)| be_u64(&k[1..]))
            .transpose()?
            .unwrap_or(from);
        for entry in self.tree.range(block_key(start)..block_key(u64::MAX)) {
            let (k, v) = entry.map_err(storage)?;
            let first = be_u64(&k[1..])?;
            let corrupt = |reason: String| LogError::Corrupt {
                position: Position::new(first),
                reason,
            };
            let records = block::decode(&v).map_err(corrupt)?;
            for (i, raw) in records.iter().enumerate() {
                let position = first + i as u64;
                if position < from {
                    continue;
                }
                out.push(block::to_record(raw, Position::new(position)).map_err(corrupt)?);
                if out.len() == max {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// The event id at `position`, if the log has that position.
    fn id_at(&self, state: &mut State, position: u64) -> Result<Option<String>, LogError> {
        if position == 0 || position > state.last {
            return Ok(None);
        }
        if let Some((first, ids)) = &state.cached_block {
            if let Some(id) = position
                .checked_sub(*first)
                .and_then(|i| ids.get(i as usize))
            {
                return Ok(Some(id.clone()));
            }
        }
        let Some((k, v)) = self
            .tree
            .range(block_key(0)..=block_key(position))
            .next_back()
            .transpose()
            .map_err(storage)?
        else {
            return Ok(None);
        };
        let first = be_u64(&k[1..])?;
        let records = block::decode(&v).map_err(|reason| LogError::Corrupt {
            position: Position::new(first),
            reason,
        })?;
        let ids: Vec<String> = records.iter().map(|r| r.event_id.to_owned()).collect();
        let id = ids.get((position - first) as usize).cloned();
        state.cached_block = Some((first, ids));
        Ok(id)
    }

    fn existing(&self, state: &mut State, event_id: &str) -> Result<Option<u64>, LogError> {
        for candidate in state.index.candidates(id_hash(event_id)) {
            if self.id_at(state, candidate)?.as_deref() == Some(event_id) {
                return Ok(Some(candidate));
            }
        }
        Ok(None)
    }

    fn append_locked(
        &self,
        state: &mut State,
        records: Vec<NewRecord>,
    ) -> Result<Vec<Appended>, LogError> {
        let mut results = Vec::with_capacity(records.len());
        let mut fresh: Vec<NewRecord> = Vec::with_capacity(records.len());
        let mut in_batch: std::collections::HashMap<String, u64> = Default::default();
        let mut next = state.last + 1;
        for record in records {
            if record.bytes.len() > MAX_RECORD_BYTES {
                return Err(LogError::TooLarge {
                    event_id: record.event_id,
                    size: record.bytes.len(),
                    limit: MAX_RECORD_BYTES,
                });
            }
            if let Some(&p) = in_batch.get(&record.event_id) {
                results.push(Appended::Duplicate(Position::new(p)));
            } else if let Some(p) = self.existing(state, &record.event_id)? {
                results.push(Appended::Duplicate(Position::new(p)));
            } else {
                in_batch.insert(record.event_id.clone(), next);
                results.push(Appended::New(Position::new(next)));
                fresh.push(record);
                next += 1;
            }
        }
        if fresh.is_empty() {
            return Ok(results);
        }
        let mut batch = sled::Batch::default();
        let mut heads: std::collections::HashMap<&LogKey, u64> = Default::default();
        let mut block = Vec::new();
        let mut block_first = state.last + 1;
        for (i, record) in fresh.iter().enumerate() {
            let position = state.last + 1 + i as u64;
            block::push(&mut block, &record.event_id, &record.key, &record.bytes);
            heads.insert(&record.key, position);
            if block::count(&block) >= block::MAX_BLOCK_RECORDS
                || block.len() >= block::MAX_BLOCK_BYTES
            {
                batch.insert(&block_key(block_first), std::mem::take(&mut block));
                block_first = position + 1;
            }
        }
        if !block.is_empty() {
            batch.insert(&block_key(block_first), block);
        }
        for (key, position) in heads {
            batch.insert(head_key(key), &position.to_be_bytes());
        }
        let last = state.last + fresh.len() as u64;
        batch.insert(LAST, &last.to_be_bytes());
        self.tree.apply_batch(batch).map_err(storage)?;
        state.last = last;
        for (i, record) in fresh.iter().enumerate() {
            let position = last - fresh.len() as u64 + 1 + i as u64;
            state
                .index
                .insert(id_hash(&record.event_id), position)
                .map_err(storage)?;
        }
        Ok(results)
    }

    /// Number of ids in the event-id index (equals the number of records).
    pub fn indexed_ids(&self) -> u64 {
        self.state.lock().expect("not poisoned").index.entries()
    }

    /// Bytes on disk of the sled store.
    ///
    /// # Errors
    /// When sled cannot tell.
    pub fn size_on_disk(&self) -> Result<u64, LogError> {
        self.db.size_on_disk().map_err(storage)
    }
}

impl Log for EmbeddedLog {
    /// The id index holds every id forever, so `append_batch` never stores one twice.
    fn ids_unique(&self) -> bool {
        true
    }

    fn identity(&self) -> Result<String, LogError> {
        Ok("embedded".into())
    }

    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        self.append_locked(&mut state, records)
    }

    fn append_if(
        &self,
        record: NewRecord,
        expected: Option<Position>,
    ) -> Result<ConditionalAppend, LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(p) = self.existing(&mut state, &record.event_id)? {
            return Ok(ConditionalAppend::Appended(Appended::Duplicate(
                Position::new(p),
            )));
        }
        let actual = self.last_for_key(&record.key)?;
        if actual != expected {
            return Ok(ConditionalAppend::Conflict { expected, actual });
        }
        let mut results = self.append_locked(&mut state, vec![record])?;
        Ok(ConditionalAppend::Appended(
            results.pop().expect("one result"),
        ))
    }

    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        self.read_locked(from, max)
    }

    fn last_position(&self) -> Result<Position, LogError> {
        Ok(Position::new(self.state.lock().expect("not poisoned").last))
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError> {
        self.tree
            .get(head_key(key))
            .map_err(storage)?
            .map(|v| be_u64(&v).map(Position::new))
            .transpose()
    }

    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        Ok(self.existing(&mut state, event_id)?.map(Position::new))
    }

    fn flush(&self) -> Result<(), LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        self.db.flush().map_err(storage)?;
        let last = state.last;
        state.index.mark(last).map_err(storage)
    }
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(error = %e, "flushing the embedded log on close failed");
        }
    }
}
