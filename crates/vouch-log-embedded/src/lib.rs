//! The embedded log: Vouch's log contract in one directory, for one machine, no server.
//!
//! ```text
//! log/
//!   LOCK                        held (flock) by the one process that has the log open
//!   segments/
//!     00000000000000000001.seg  records 1.., appended, checksummed, never rewritten
//!     00000000000000412337.seg  the next segment, from position 412,337
//!   index                       derived: offsets, id and key hashes ([`index`])
//! ```
//!
//! A record is a frame in a segment ([`segment`]): its length, a CRC-32 over its bytes,
//! its position, event id, key and bytes. Appends write frames at the end of the last
//! segment and [`Log::flush`] makes them durable (`fdatasync`, which covers the file's
//! length); a command reports success only after that. A write that fails (a full disk)
//! is cut back off the segment, so nothing half-written stays, and the log works again
//! once there is space. On open, a torn tail (a frame cut short by a crash, with nothing
//! whole after it) is truncated and reported; damage with whole records after it is
//! refused and located by segment and offset, never truncated.
//!
//! The index is derived: every entry is checked against the frame it points to, and a
//! damaged or missing index is rebuilt from the segments. Dedup never rests on it alone:
//! an id hit is confirmed against the stored record, and a record already in the log
//! with other bytes is an [`LogError::IdConflict`].
//!
//! A log written by earlier versions (a sled store in `log/sled/`) is converted on open:
//! the records are copied with their ids, keys and order into segments, checked, and the
//! sled store is kept as `log/sled-before-segments/` for the operator to delete.
//!
//! Architecture invariant: the caller holds the ledger directory lock; the log's own
//! `LOCK` refuses a second opener in any case.

mod block;
mod convert;
mod index;
mod segment;

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fs2::FileExt as _;
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};

use crate::index::{hash, Entry, Index};
use crate::segment::{FrameError, LogId, Segment, FRAME_HEADER_LEN, HEADER_LEN};

/// The largest record the embedded log stores: 4 MiB, above any valid event.
pub const MAX_RECORD_BYTES: usize = 4 << 20;

/// A segment is closed and the next one started once it holds this many bytes.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// The largest frame body a reader accepts: a record with the longest id and key.
const MAX_FRAME_BODY: u32 = (MAX_RECORD_BYTES + (1 << 17) + 8) as u32;

/// How a log is opened.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Where to start a new segment ([`SEGMENT_BYTES`] by default; small in tests).
    pub segment_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            segment_bytes: SEGMENT_BYTES,
        }
    }
}

/// Why the embedded log could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// There is no log at the path (and none was to be created).
    #[error("there is no embedded log at {0}")]
    Missing(PathBuf),
    /// Another process has the log open.
    #[error("the embedded log at {0} is open in another process")]
    Busy(PathBuf),
    /// The file system failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A log written by an earlier version could not be converted.
    #[error("cannot convert the sled log at {path}: {reason}")]
    Convert {
        /// The sled store.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The stored log is damaged.
    #[error(transparent)]
    Log(#[from] LogError),
}

impl OpenError {
    /// Whether another handle still holds the log's lock: worth a retry, the moment after
    /// another process let go of the ledger.
    pub fn is_lock_contention(&self) -> bool {
        matches!(self, OpenError::Busy(_))
    }
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> OpenError + 'a {
    move |source| OpenError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// What opening the log found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub segment: PathBuf,
    /// Where the whole records ended.
    pub offset: u64,
    /// How many bytes after it were cut off (never acknowledged: an acknowledged write
    /// was synced, and nothing whole followed these bytes).
    pub dropped: u64,
}

/// The embedded log. Cheap to share between threads; every operation takes one lock.
pub struct EmbeddedLog {
    dir: PathBuf,
    state: Mutex<State>,
    torn: Option<TornTail>,
    _lock: File,
}

struct State {
    log_id: LogId,
    segments_dir: PathBuf,
    /// Sorted by first position; the last one is written to.
    segments: Vec<Segment>,
    /// Bytes of whole records in the last segment.
    active_len: u64,
    last: u64,
    index: Index,
    /// Segment bytes written since the last sync.
    dirty: bool,
    /// Set when a failed write or sync could not be undone: the process must not append.
    broken: Option<String>,
    segment_bytes: u64,
}

fn storage(what: &str, path: &Path, e: io::Error) -> LogError {
    let hint = if e.raw_os_error() == Some(28) {
        " (the disk is full: nothing of this write was kept; free space and retry)"
    } else {
        ""
    };
    LogError::Storage(format!("{what} {}: {e}{hint}", path.display()))
}

fn corrupt(position: u64, segment: &Segment, offset: u64, why: impl std::fmt::Display) -> LogError {
    LogError::Corrupt {
        position: Position::new(position),
        reason: format!(
            "{why} (segment {}, byte offset {offset})",
            segment.path.display()
        ),
    }
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Creates an empty segments directory for `log_id`, all at once: it appears only whole.
fn create_segments(dir: &Path, log_id: LogId) -> Result<(), OpenError> {
    let segments = dir.join("segments");
    let tmp = dir.join("segments.new");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io_error("removing", &tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io_error("creating", &tmp))?;
    let first = tmp.join(segment::file_name(1));
    let file = File::create(&first).map_err(io_error("creating", &first))?;
    file.write_all_at(
        &segment::encode_header(&segment::Header { log_id, first: 1 }),
        0,
    )
    .and_then(|()| file.sync_all())
    .map_err(io_error("writing", &first))?;
    sync_dir(&tmp).map_err(io_error("syncing", &tmp))?;
    std::fs::rename(&tmp, &segments).map_err(io_error("creating", &segments))?;
    sync_dir(dir).map_err(io_error("syncing", dir))
}

/// A fresh random log id.
pub fn random_log_id() -> LogId {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).expect("the operating system provides randomness");
    id
}

impl EmbeddedLog {
    /// Opens the log in `dir`, creating an empty one with a random id when there is none.
    /// For tests and tools; a ledger opens with [`EmbeddedLog::open_existing`] so that a
    /// deleted log is never mistaken for an empty one.
    ///
    /// # Errors
    /// When the log is open elsewhere, damaged, or the file system fails.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        Self::open_with(dir, Some(random_log_id()), Options::default())
    }

    /// Opens the log in `dir`, which must exist (or be a sled log to convert).
    ///
    /// # Errors
    /// [`OpenError::Missing`] when there is no log; otherwise as [`EmbeddedLog::open`].
    pub fn open_existing(dir: &Path) -> Result<Self, OpenError> {
        Self::open_with(dir, None, Options::default())
    }

    /// Creates an empty log with `log_id` in `dir`, or opens the one there.
    ///
    /// # Errors
    /// As [`EmbeddedLog::open`].
    pub fn create(dir: &Path, log_id: LogId) -> Result<Self, OpenError> {
        Self::open_with(dir, Some(log_id), Options::default())
    }

    /// Opens the log in `dir`; with `create`, an empty log with that id is made when
    /// there is none.
    ///
    /// # Errors
    /// As [`EmbeddedLog::open`].
    pub fn open_with(
        dir: &Path,
        create: Option<LogId>,
        options: Options,
    ) -> Result<Self, OpenError> {
        if !dir.exists() {
            if create.is_none() {
                return Err(OpenError::Missing(dir.to_owned()));
            }
            std::fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
        }
        let lock_path = dir.join("LOCK");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_error("opening", &lock_path))?;
        if lock.try_lock_exclusive().is_err() {
            return Err(OpenError::Busy(dir.to_owned()));
        }
        let segments_dir = dir.join("segments");
        let sled_dir = dir.join("sled");
        if !segments_dir.exists() {
            if sled_dir.exists() {
                convert::from_sled(dir, &sled_dir)?;
            } else if let Some(log_id) = create {
                create_segments(dir, log_id)?;
            } else {
                return Err(OpenError::Missing(dir.to_owned()));
            }
        }
        if sled_dir.exists() {
            convert::set_aside(dir, &sled_dir)?;
        }
        let (mut state, torn) = State::open(dir, &segments_dir, options)?;
        if let Some(torn) = &torn {
            tracing::warn!(
                segment = %torn.segment.display(),
                offset = torn.offset,
                dropped = torn.dropped,
                "cut a torn tail off the log: bytes a crash left without a whole record after them (never acknowledged)"
            );
        }
        state.dirty = false;
        Ok(EmbeddedLog {
            dir: dir.to_owned(),
            state: Mutex::new(state),
            torn,
            _lock: lock,
        })
    }

    /// The torn tail cut off when this log was opened, if any.
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of records the index covers (equals the number of records).
    pub fn indexed_ids(&self) -> u64 {
        self.state.lock().expect("not poisoned").index.len()
    }

    /// Bytes on disk of the segments and the index.
    ///
    /// # Errors
    /// When the file system cannot tell.
    pub fn size_on_disk(&self) -> Result<u64, LogError> {
        let state = self.state.lock().expect("not poisoned");
        let mut total = 0;
        for segment in &state.segments {
            total += segment
                .file
                .metadata()
                .map_err(|e| storage("reading", &segment.path, e))?
                .len();
        }
        let index = state.index.path();
        total += std::fs::metadata(index).map(|m| m.len()).unwrap_or(0);
        Ok(total)
    }
}

impl State {
    fn open(
        dir: &Path,
        segments_dir: &Path,
        options: Options,
    ) -> Result<(State, Option<TornTail>), OpenError> {
        let mut firsts = Vec::new();
        for entry in std::fs::read_dir(segments_dir).map_err(io_error("reading", segments_dir))? {
            let entry = entry.map_err(io_error("reading", segments_dir))?;
            let name = entry.file_name();
            match name.to_str().and_then(segment::parse_name) {
                Some(first) => firsts.push(first),
                None => {
                    tracing::warn!(file = ?name, "ignoring a file in the log's segments directory that is not a segment")
                }
            }
        }
        firsts.sort_unstable();
        if firsts.is_empty() {
            return Err(LogError::Corrupt {
                position: Position::new(1),
                reason: format!(
                    "{} holds no segment: the log's records were deleted",
                    segments_dir.display()
                ),
            }
            .into());
        }
        let mut segments = Vec::with_capacity(firsts.len());
        let mut log_id = None;
        for (i, &first) in firsts.iter().enumerate() {
            let writable = i + 1 == firsts.len();
            let path = segments_dir.join(segment::file_name(first));
            let segment =
                Segment::open(segments_dir, first, writable).map_err(io_error("opening", &path))?;
            let header = segment::read_header(&segment.file).map_err(|why| {
                OpenError::Log(corrupt(
                    first,
                    &segment,
                    0,
                    format!("damaged segment header: {why}"),
                ))
            })?;
            if header.first != first {
                return Err(corrupt(
                    first,
                    &segment,
                    0,
                    format!(
                        "the header says the segment starts at position {}, its name says {first}",
                        header.first
                    ),
                )
                .into());
            }
            match log_id {
                None => log_id = Some(header.log_id),
                Some(id) if id != header.log_id => {
                    return Err(
                        corrupt(first, &segment, 0, "the segment belongs to another log").into(),
                    );
                }
                Some(_) => {}
            }
            segments.push(segment);
        }
        if segments[0].first != 1 {
            return Err(corrupt(
                1,
                &segments[0],
                0,
                format!(
                    "the first segment starts at position {}: records 1..{} are missing",
                    segments[0].first,
                    segments[0].first - 1
                ),
            )
            .into());
        }
        let log_id = log_id.expect("at least one segment");
        let index_path = dir.join("index");
        let index = Index::open(&index_path, log_id).map_err(io_error("opening", &index_path))?;
        let mut state = State {
            log_id,
            segments_dir: segments_dir.to_owned(),
            segments,
            active_len: HEADER_LEN,
            last: 0,
            index,
            dirty: false,
            broken: None,
            segment_bytes: options.segment_bytes.max(HEADER_LEN + 1),
        };
        let (known, claimed) = state.trusted_index_len()?;
        let torn = state.scan_from(known, true, claimed)?;
        Ok((state, torn))
    }

    /// How many index entries can be trusted as a starting point (the entry's checksum
    /// passes and its frame holds its position and id), and how many records the index
    /// says were written (its last entry's checksum passes). Index entries are written only
    /// after the segment was synced, so a record the index claims was acknowledged: bad
    /// bytes there are damage, never a torn tail.
    fn trusted_index_len(&mut self) -> Result<(u64, u64), LogError> {
        let n = self.index.len();
        let entry_at = |state: &Self, p: u64| {
            state
                .index
                .entry(p)
                .map_err(|e| storage("reading", state.index.path(), e))
        };
        let claimed = if n > 0 && entry_at(self, n)?.is_some() {
            n
        } else {
            0
        };
        for p in [n, n.saturating_sub(1)] {
            if p == 0 {
                break;
            }
            if let Some(entry) = entry_at(self, p)? {
                let i = self.segment_for(p);
                if let Ok((record, _)) =
                    segment::read_frame(&self.segments[i].file, entry.offset, MAX_FRAME_BODY)
                {
                    if record.position.get() == p && hash(&record.event_id) == entry.id_hash {
                        return Ok((p, claimed));
                    }
                }
            }
        }
        if n > 0 {
            tracing::warn!(path = %self.index.path().display(), "the log's index does not match the segments; rebuilding it");
        }
        Ok((0, claimed))
    }

    /// The index of the segment holding `position` (the last one starting at or before it).
    fn segment_for(&self, position: u64) -> usize {
        self.segments
            .partition_point(|s| s.first <= position)
            .saturating_sub(1)
    }

    /// Re-derives the index after its first `known` entries by reading the segments to
    /// their end, and sets the log's end. When `at_open`, a torn tail of the last segment
    /// is cut off and returned.
    fn scan_from(
        &mut self,
        known: u64,
        at_open: bool,
        claimed: u64,
    ) -> Result<Option<TornTail>, LogError> {
        // Entries are collected and the index changed only once the scan succeeds: a scan
        // that meets damage leaves the index as it was, so the next open still knows
        // which records were acknowledged.
        let mut found = Vec::new();
        let (mut i, mut offset) = if known == 0 {
            (0, HEADER_LEN)
        } else {
            let entry = self
                .index
                .entry(known)
                .map_err(|e| storage("reading", self.index.path(), e))?
                .expect("a trusted entry");
            let i = self.segment_for(known);
            let (_, len) =
                segment::read_frame(&self.segments[i].file, entry.offset, MAX_FRAME_BODY).map_err(
                    |_| {
                        corrupt(
                            known,
                            &self.segments[i],
                            entry.offset,
                            "the record moved while the log was open",
                        )
                    },
                )?;
            (i, entry.offset + len)
        };
        let mut next = known + 1;
        loop {
            let last_segment = i + 1 == self.segments.len();
            let segment = &self.segments[i];
            if offset == HEADER_LEN && segment.first != next {
                return Err(corrupt(next, segment, 0, format!("the segment starts at position {}, but the previous one ends at {}: records are missing", segment.first, next - 1)));
            }
            let file_len = segment
                .file
                .metadata()
                .map_err(|e| storage("reading", &segment.path, e))?
                .len();
            let mut reader = segment::Reader::new(&segment.file, offset, file_len);
            let stop = loop {
                match reader.next(MAX_FRAME_BODY) {
                    Ok(None) => break None,
                    Ok(Some((record, at, _))) => {
                        if record.position.get() != next {
                            return Err(corrupt(
                                next,
                                segment,
                                at,
                                format!("found position {} where {next} belongs", record.position),
                            ));
                        }
                        found.push(Entry {
                            id_hash: hash(&record.event_id),
                            key_hash: hash(record.key.as_str()),
                            offset: at,
                        });
                        next += 1;
                    }
                    Err((_, FrameError::Io(e))) => {
                        return Err(storage("reading", &segment.path, e))
                    }
                    Err((at, FrameError::End | FrameError::Bad(_))) if at >= file_len => {
                        break Some((at, String::new()))
                    }
                    Err((at, FrameError::End)) => {
                        break Some((at, "the last record is cut short".to_owned()))
                    }
                    Err((at, FrameError::Bad(why))) => break Some((at, why)),
                }
            };
            let end = reader.offset();
            match stop {
                None => offset = end,
                Some((at, why)) => {
                    let later =
                        segment::good_frame_after(&segment.file, at + 1, next - 1, MAX_FRAME_BODY)
                            .map_err(|e| storage("reading", &segment.path, e))?;
                    if let Some(later) = later {
                        return Err(corrupt(next, segment, at, format!("{why}; whole records follow at byte {later}, so this is damage, not a torn write")));
                    }
                    if !last_segment {
                        return Err(corrupt(
                            next,
                            segment,
                            at,
                            format!("{why}, in a closed segment"),
                        ));
                    }
                    if !at_open {
                        return Err(corrupt(next, segment, at, why));
                    }
                    if next <= claimed {
                        return Err(corrupt(next, segment, at, format!("{why}; the index records this record as written (acknowledged), so this is damage, not a torn write")));
                    }
                    // A torn tail: bytes a crash left after the last whole record, with
                    // nothing whole after them. They were never acknowledged.
                    segment
                        .file
                        .set_len(at)
                        .and_then(|()| segment.file.sync_data())
                        .map_err(|e| storage("truncating", &segment.path, e))?;
                    self.active_len = at;
                    self.last = next - 1;
                    let torn = TornTail {
                        segment: segment.path.clone(),
                        offset: at,
                        dropped: file_len - at,
                    };
                    self.replace_index_after(known, found)?;
                    return Ok(Some(torn));
                }
            }
            if last_segment {
                self.active_len = offset;
                self.last = next - 1;
                self.replace_index_after(known, found)?;
                return Ok(None);
            }
            i += 1;
            offset = HEADER_LEN;
        }
    }

    /// Keeps the index's first `known` entries and puts `found` after them.
    fn replace_index_after(&mut self, known: u64, found: Vec<Entry>) -> Result<(), LogError> {
        self.index
            .truncate(known)
            .map_err(|e| storage("rewriting", self.index.path(), e))?;
        for entry in found {
            self.index.push(entry);
        }
        Ok(())
    }

    /// Builds the id and key lookups, rebuilding the index from the segments when an
    /// entry fails its checksum.
    fn ensure_lookup(&mut self) -> Result<(), LogError> {
        if self.index.loaded() {
            return Ok(());
        }
        let damaged = self
            .index
            .load()
            .map_err(|e| storage("reading", self.index.path(), e))?;
        if let Some(position) = damaged {
            tracing::warn!(position, path = %self.index.path().display(), "an index entry is damaged; rebuilding the index from the segments");
            self.rebuild_index()?;
            self.index
                .load()
                .map_err(|e| storage("reading", self.index.path(), e))?;
        }
        Ok(())
    }

    /// Throws the index away and derives it again from every segment.
    fn rebuild_index(&mut self) -> Result<(), LogError> {
        let last = self.last;
        let active = self.active_len;
        self.scan_from(0, false, 0)?;
        if self.last != last || self.active_len != active {
            return Err(LogError::Corrupt {
                position: Position::new(self.last.min(last) + 1),
                reason: format!(
                    "the segments changed while the log was open: {last} records before, {} now",
                    self.last
                ),
            });
        }
        Ok(())
    }

    /// Where the index says the frame of `position` starts. Not checked here: the read
    /// that follows checks the frame's checksum and position.
    fn indexed_offset(&mut self, position: u64) -> Result<Option<u64>, LogError> {
        Ok(self
            .index
            .entry(position)
            .map_err(|e| storage("reading", self.index.path(), e))?
            .map(|e| e.offset))
    }

    fn read(&mut self, from: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let from = from.max(1);
        if max == 0 || from > self.last {
            return Ok(Vec::new());
        }
        let want = (self.last - from + 1).min(max as u64) as usize;
        // The first frame read is where the index points: if it is not the record asked
        // for, the index is wrong (or the record damaged): rebuild the index and try once
        // more, which either reads it or names the damage.
        if let Some(offset) = self.indexed_offset(from)? {
            match self.read_from(from, want, offset) {
                Err(LogError::Corrupt { position, .. }) if position.get() == from => {}
                other => return other,
            }
        }
        tracing::warn!(position = from, path = %self.index.path().display(), "the index does not point at this record; rebuilding it");
        self.rebuild_index()?;
        let i = self.segment_for(from);
        let offset = self.indexed_offset(from)?.ok_or_else(|| {
            corrupt(
                from,
                &self.segments[i],
                HEADER_LEN,
                "the record cannot be found",
            )
        })?;
        self.read_from(from, want, offset)
    }

    /// Reads `want` records from `from`, whose frame starts at `offset`.
    fn read_from(&self, from: u64, want: usize, offset: u64) -> Result<Vec<Record>, LogError> {
        let mut out = Vec::with_capacity(want.min(8192));
        let mut i = self.segment_for(from);
        let mut offset = offset;
        let mut next = from;
        while out.len() < want {
            let segment = &self.segments[i];
            let end = if i + 1 == self.segments.len() {
                self.active_len
            } else {
                segment
                    .file
                    .metadata()
                    .map_err(|e| storage("reading", &segment.path, e))?
                    .len()
            };
            let mut reader = segment::Reader::new(&segment.file, offset, end);
            while out.len() < want {
                match reader.next(MAX_FRAME_BODY) {
                    Ok(Some((record, at, _))) => {
                        if record.position.get() != next {
                            return Err(corrupt(
                                next,
                                segment,
                                at,
                                format!("found position {} where {next} belongs", record.position),
                            ));
                        }
                        next += 1;
                        out.push(record);
                    }
                    Ok(None) => break,
                    Err((_, FrameError::Io(e))) => {
                        return Err(storage("reading", &segment.path, e));
                    }
                    Err((at, FrameError::End)) => {
                        return Err(corrupt(
                            next,
                            segment,
                            at,
                            "the segment ends inside the record",
                        ))
                    }
                    Err((at, FrameError::Bad(why))) => return Err(corrupt(next, segment, at, why)),
                }
            }
            if out.len() < want {
                i += 1;
                if i == self.segments.len() {
                    return Err(LogError::Corrupt {
                        position: Position::new(next),
                        reason: format!(
                            "the segments end before position {next}, the log's last is {}",
                            self.last
                        ),
                    });
                }
                offset = HEADER_LEN;
            }
        }
        Ok(out)
    }

    fn read_one(&mut self, position: u64) -> Result<Option<Record>, LogError> {
        if position == 0 || position > self.last {
            return Ok(None);
        }
        Ok(self.read(position, 1)?.pop())
    }

    /// The stored record with `event_id`, if any.
    fn existing(&mut self, event_id: &str) -> Result<Option<Record>, LogError> {
        self.ensure_lookup()?;
        for candidate in self.index.id_candidates(hash(event_id)) {
            if let Some(record) = self.read_one(candidate)? {
                if record.event_id == event_id {
                    return Ok(Some(record));
                }
            }
        }
        Ok(None)
    }

    fn last_for_key(&mut self, key: &LogKey) -> Result<Option<Position>, LogError> {
        self.ensure_lookup()?;
        let key_hash = hash(key.as_str());
        let Some(candidate) = self.index.key_candidate(key_hash) else {
            return Ok(None);
        };
        // The candidate is the last record whose key hashes alike; on a 64-bit collision,
        // look further back among records with the same hash.
        let mut position = candidate;
        while position > 0 {
            let entry = self
                .index
                .entry(position)
                .map_err(|e| storage("reading", self.index.path(), e))?;
            if entry.is_none_or(|e| e.key_hash == key_hash) {
                if let Some(record) = self.read_one(position)? {
                    if &record.key == key {
                        return Ok(Some(Position::new(position)));
                    }
                }
            }
            position -= 1;
        }
        Ok(None)
    }

    fn append(&mut self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        if let Some(why) = &self.broken {
            return Err(LogError::Storage(format!(
                "an earlier write to the log failed and could not be undone ({why}); reopen the ledger"
            )));
        }
        // Decide every record before writing any: a conflict refuses the whole batch. The
        // stored records the index names as candidates are read together, in runs of
        // consecutive positions (a retried batch is one read).
        self.ensure_lookup()?;
        let hashes: Vec<u64> = records.iter().map(|r| hash(&r.event_id)).collect();
        let candidates: Vec<Vec<u64>> = hashes
            .iter()
            .map(|&h| self.index.id_candidates(h))
            .collect();
        let mut wanted: Vec<u64> = candidates.iter().flatten().copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut stored: HashMap<u64, Record> = HashMap::with_capacity(wanted.len());
        let mut i = 0;
        while i < wanted.len() {
            let mut j = i + 1;
            while j < wanted.len() && wanted[j] == wanted[j - 1] + 1 {
                j += 1;
            }
            for record in self.read(wanted[i], j - i)? {
                stored.insert(record.position.get(), record);
            }
            i = j;
        }
        let mut results = Vec::with_capacity(records.len());
        let mut fresh: Vec<NewRecord> = Vec::with_capacity(records.len());
        let mut fresh_hashes: Vec<u64> = Vec::with_capacity(records.len());
        // Id hash → the first fresh record with it; ids are compared on a hit.
        let mut in_batch: index::Map<usize> = Default::default();
        for ((record, candidates), id_hash) in records.into_iter().zip(candidates).zip(hashes) {
            if record.bytes.len() > MAX_RECORD_BYTES {
                return Err(LogError::TooLarge {
                    event_id: record.event_id,
                    size: record.bytes.len(),
                    limit: MAX_RECORD_BYTES,
                });
            }
            let position = self.last + 1 + fresh.len() as u64;
            let earlier = in_batch.get(&id_hash).and_then(|&first| {
                (first..fresh.len())
                    .find(|&i| fresh_hashes[i] == id_hash && fresh[i].event_id == record.event_id)
            });
            if let Some(i) = earlier {
                let earlier = &fresh[i];
                let at = Position::new(self.last + 1 + i as u64);
                if earlier.key != record.key || earlier.bytes != record.bytes {
                    return Err(LogError::IdConflict {
                        event_id: record.event_id,
                        position: at,
                    });
                }
                results.push(Appended::Duplicate(at));
            } else if let Some(stored) = candidates
                .iter()
                .filter_map(|p| stored.get(p))
                .find(|r| r.event_id == record.event_id)
            {
                if stored.key != record.key || stored.bytes != record.bytes {
                    return Err(LogError::IdConflict {
                        event_id: record.event_id,
                        position: stored.position,
                    });
                }
                results.push(Appended::Duplicate(stored.position));
            } else {
                in_batch.entry(id_hash).or_insert(fresh.len());
                results.push(Appended::New(Position::new(position)));
                fresh.push(record);
                fresh_hashes.push(id_hash);
            }
        }
        if !fresh.is_empty() {
            self.write(&fresh, &fresh_hashes)?;
        }
        Ok(results)
    }

    /// Writes frames for `fresh` at the end of the log, starting new segments as they
    /// fill. On failure, everything this call wrote is cut back off.
    fn write(&mut self, fresh: &[NewRecord], id_hashes: &[u64]) -> Result<(), LogError> {
        let start_segments = self.segments.len();
        let start_len = self.active_len;
        let mut entries = Vec::with_capacity(fresh.len());
        let mut buf = Vec::new();
        let mut buf_at = self.active_len;
        let outcome = (|| -> Result<(), LogError> {
            for (i, record) in fresh.iter().enumerate() {
                let position = self.last + 1 + i as u64;
                let frame_len = FRAME_HEADER_LEN
                    + 8
                    + 4
                    + (record.event_id.len() + record.key.as_str().len() + record.bytes.len())
                        as u64;
                let end = buf_at + buf.len() as u64;
                if end > HEADER_LEN && end + frame_len > self.segment_bytes {
                    self.write_buf(&buf, buf_at)?;
                    buf.clear();
                    self.roll(position)?;
                    buf_at = HEADER_LEN;
                }
                let offset = buf_at + buf.len() as u64;
                segment::push_frame(&mut buf, position, record);
                entries.push(Entry {
                    id_hash: id_hashes[i],
                    key_hash: hash(record.key.as_str()),
                    offset,
                });
                if buf.len() >= 8 << 20 {
                    self.write_buf(&buf, buf_at)?;
                    buf_at += buf.len() as u64;
                    self.active_len = buf_at;
                    buf.clear();
                }
            }
            self.write_buf(&buf, buf_at)?;
            self.active_len = buf_at + buf.len() as u64;
            Ok(())
        })();
        if let Err(e) = outcome {
            self.undo(start_segments, start_len);
            return Err(e);
        }
        for entry in entries {
            self.index.push(entry);
        }
        self.last += fresh.len() as u64;
        self.dirty = true;
        Ok(())
    }

    fn write_buf(&mut self, buf: &[u8], at: u64) -> Result<(), LogError> {
        let segment = self.segments.last().expect("an active segment");
        segment
            .file
            .write_all_at(buf, at)
            .map_err(|e| storage("writing", &segment.path, e))
    }

    /// Syncs and closes the active segment and starts one at `first`.
    fn roll(&mut self, first: u64) -> Result<(), LogError> {
        let active = self.segments.last().expect("an active segment");
        active
            .file
            .sync_data()
            .map_err(|e| storage("syncing", &active.path, e))?;
        let path = self.segments_dir.join(segment::file_name(first));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| storage("creating", &path, e))?;
        let segment = Segment {
            first,
            path: path.clone(),
            file,
        };
        self.segments.push(segment);
        let header = segment::encode_header(&segment::Header {
            log_id: self.log_id,
            first,
        });
        let new = self.segments.last().expect("just pushed");
        new.file
            .write_all_at(&header, 0)
            .and_then(|()| new.file.sync_data())
            .map_err(|e| storage("writing", &path, e))?;
        sync_dir(&self.segments_dir).map_err(|e| storage("syncing", &self.segments_dir, e))?;
        self.active_len = HEADER_LEN;
        Ok(())
    }

    /// Cuts back what a failed write left: segments it started are removed and the
    /// segment it appended to returns to its length before.
    fn undo(&mut self, segments: usize, len: u64) {
        let mut failed = Vec::new();
        while self.segments.len() > segments {
            let segment = self.segments.pop().expect("more than before");
            if let Err(e) = std::fs::remove_file(&segment.path) {
                failed.push(format!("removing {}: {e}", segment.path.display()));
            }
        }
        let active = self.segments.last().expect("an active segment");
        if let Err(e) = active.file.set_len(len) {
            failed.push(format!("truncating {}: {e}", active.path.display()));
        }
        self.active_len = len;
        if !failed.is_empty() {
            self.broken = Some(failed.join("; "));
        }
    }

    fn flush(&mut self) -> Result<(), LogError> {
        if self.dirty {
            let active = self.segments.last().expect("an active segment");
            if let Err(e) = active.file.sync_data() {
                // After a failed fsync the kernel may have dropped the pages: nothing
                // written since the last sync can be vouched for by this process.
                self.broken = Some(format!("syncing {}: {e}", active.path.display()));
                return Err(storage("syncing", &active.path, e));
            }
            self.dirty = false;
        }
        if let Err(e) = self.index.write_pending() {
            tracing::warn!(error = %e, path = %self.index.path().display(), "could not write the log's index (derived: it is rebuilt from the segments)");
        }
        Ok(())
    }
}

impl Log for EmbeddedLog {
    /// `embedded:` and the log's random id, chosen when it was created.
    fn identity(&self) -> Result<String, LogError> {
        let id = self.state.lock().expect("not poisoned").log_id;
        Ok(format!(
            "embedded:{}",
            id.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    }

    /// Every id is kept and every hit confirmed, so `append_batch` never stores one twice.
    fn ids_unique(&self) -> bool {
        true
    }

    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        self.state.lock().expect("not poisoned").append(records)
    }

    fn append_if(
        &self,
        record: NewRecord,
        expected: Option<Position>,
    ) -> Result<ConditionalAppend, LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(stored) = state.existing(&record.event_id)? {
            if stored.key != record.key || stored.bytes != record.bytes {
                return Err(LogError::IdConflict {
                    event_id: record.event_id,
                    position: stored.position,
                });
            }
            return Ok(ConditionalAppend::Appended(Appended::Duplicate(
                stored.position,
            )));
        }
        let actual = state.last_for_key(&record.key)?;
        if actual != expected {
            return Ok(ConditionalAppend::Conflict { expected, actual });
        }
        let mut results = state.append(vec![record])?;
        Ok(ConditionalAppend::Appended(
            results.pop().expect("one result"),
        ))
    }

    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        self.state
            .lock()
            .expect("not poisoned")
            .read(from.get(), max)
    }

    fn last_position(&self) -> Result<Position, LogError> {
        Ok(Position::new(self.state.lock().expect("not poisoned").last))
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError> {
        self.state.lock().expect("not poisoned").last_for_key(key)
    }

    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError> {
        let mut state = self.state.lock().expect("not poisoned");
        Ok(state.existing(event_id)?.map(|r| r.position))
    }

    fn flush(&self) -> Result<(), LogError> {
        self.state.lock().expect("not poisoned").flush()
    }
}

impl Drop for EmbeddedLog {
    fn drop(&mut self) {
        if let Ok(mut state) = self.state.lock() {
            if state.broken.is_none() {
                if let Err(e) = state.flush() {
                    tracing::warn!(error = %e, "flushing the embedded log on close failed");
                }
            }
        }
    }
}
