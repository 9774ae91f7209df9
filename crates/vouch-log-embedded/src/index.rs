//! The index: derived data that finds a record by position, by event id and by key
//! without reading the segments.
//!
//! One file, `index`, beside `segments/`: a 32-byte header (`"VOUCHIX1"`, the log's id,
//! a CRC-32 of both) then one 32-byte entry per record, in position order:
//! `id hash u64 | key hash u64 | offset in its segment u64 | CRC-32 u32 | reserved u32`,
//! the CRC covering the first 24 bytes and the entry's position. Hashes are the first 8
//! bytes of BLAKE3.
//!
//! Nothing here is trusted on its own. An entry's CRC catches a flipped byte; the frame an
//! offset points to must carry the entry's position; an id or key hit is confirmed against
//! the record in the segment; and when any of it fails the index is rebuilt from the
//! segments from that point on. Entries are written after the segment is synced and are
//! never synced themselves: a lost tail is re-derived when the log is opened.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::segment::{read_full_at, LogId};

const MAGIC: &[u8; 8] = b"VOUCHIX1";
pub const HEADER_LEN: u64 = 32;
pub const ENTRY_LEN: u64 = 32;

/// The 64-bit hash the index keeps for an event id or a key.
pub fn hash(text: &str) -> u64 {
    let digest = blake3::hash(text.as_bytes());
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Hashes of BLAKE3 output need no further mixing.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A map keyed by a BLAKE3-derived hash.
pub type Map<V> = HashMap<u64, V, BuildHasherDefault<PassThrough>>;

/// One record's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id_hash: u64,
    pub key_hash: u64,
    pub offset: u64,
}

impl Entry {
    fn encode(&self, position: u64) -> [u8; ENTRY_LEN as usize] {
        let mut out = [0u8; ENTRY_LEN as usize];
        out[..8].copy_from_slice(&self.id_hash.to_le_bytes());
        out[8..16].copy_from_slice(&self.key_hash.to_le_bytes());
        out[16..24].copy_from_slice(&self.offset.to_le_bytes());
        let crc = entry_crc(&out[..24], position);
        out[24..28].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8], position: u64) -> Option<Entry> {
        let crc = u32::from_le_bytes(bytes[24..28].try_into().expect("4"));
        (entry_crc(&bytes[..24], position) == crc).then(|| Entry {
            id_hash: u64::from_le_bytes(bytes[..8].try_into().expect("8")),
            key_hash: u64::from_le_bytes(bytes[8..16].try_into().expect("8")),
            offset: u64::from_le_bytes(bytes[16..24].try_into().expect("8")),
        })
    }
}

fn entry_crc(fields: &[u8], position: u64) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(fields);
    crc.update(&position.to_le_bytes());
    crc.finalize()
}

fn header(log_id: &LogId) -> [u8; HEADER_LEN as usize] {
    let mut out = [0u8; HEADER_LEN as usize];
    out[..8].copy_from_slice(MAGIC);
    out[8..24].copy_from_slice(log_id);
    let crc = crc32fast::hash(&out[..24]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Lookups by id and key, built when a write first needs them.
#[derive(Default)]
struct Lookup {
    /// Id hash → the first position with that hash.
    ids: Map<u64>,
    /// Further positions for hashes seen more than once (collisions, or ids a damaged log
    /// holds twice).
    more_ids: Map<Vec<u64>>,
    /// Key hash → the last position with that hash.
    keys: Map<u64>,
}

impl Lookup {
    fn add(&mut self, position: u64, entry: &Entry) {
        match self.ids.entry(entry.id_hash) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(position);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.more_ids
                    .entry(entry.id_hash)
                    .or_default()
                    .push(position);
            }
        }
        self.keys.insert(entry.key_hash, position);
    }
}

/// The index of one log: what is in the file, plus entries not yet written to it.
pub struct Index {
    path: PathBuf,
    file: File,
    log_id: LogId,
    /// Entries in the file, for positions 1..=on_disk.
    on_disk: u64,
    /// Entries for positions on_disk+1.., not yet in the file.
    pending: Vec<Entry>,
    lookup: Option<Lookup>,
}

impl Index {
    /// Opens the index file of log `log_id`, starting it afresh when it is missing, from
    /// another log, or its header is damaged. Entries are checked when used.
    pub fn open(path: &Path, log_id: LogId) -> io::Result<Index> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut index = Index {
            path: path.to_owned(),
            file,
            log_id,
            on_disk: 0,
            pending: Vec::new(),
            lookup: None,
        };
        let mut head = [0u8; HEADER_LEN as usize];
        let got = read_full_at(&index.file, &mut head, 0)?;
        let len = index.file.metadata()?.len();
        if got == head.len() && head == header(&log_id) {
            index.on_disk = (len - HEADER_LEN) / ENTRY_LEN;
        } else {
            if len > 0 {
                tracing::warn!(path = %path.display(), "the log's index is damaged or not this log's; rebuilding it from the segments");
            }
            index.reset()?;
        }
        Ok(index)
    }

    /// Empties the index (it is then rebuilt from the segments).
    pub fn reset(&mut self) -> io::Result<()> {
        self.truncate(0)
    }

    /// Keeps entries for positions 1..=keep and drops the rest, in the file and in memory.
    pub fn truncate(&mut self, keep: u64) -> io::Result<()> {
        if keep < self.on_disk || keep == 0 {
            self.file.set_len(HEADER_LEN + keep * ENTRY_LEN)?;
            self.file.write_all_at(&header(&self.log_id), 0)?;
            self.on_disk = keep;
            self.pending.clear();
        } else {
            self.pending.truncate((keep - self.on_disk) as usize);
        }
        self.lookup = None;
        Ok(())
    }

    /// How many positions have entries.
    pub fn len(&self) -> u64 {
        self.on_disk + self.pending.len() as u64
    }

    /// The entry for `position`, if the index has one that passes its checksum.
    pub fn entry(&self, position: u64) -> io::Result<Option<Entry>> {
        if position == 0 || position > self.len() {
            return Ok(None);
        }
        if position > self.on_disk {
            return Ok(Some(self.pending[(position - self.on_disk - 1) as usize]));
        }
        let mut bytes = [0u8; ENTRY_LEN as usize];
        let at = HEADER_LEN + (position - 1) * ENTRY_LEN;
        if read_full_at(&self.file, &mut bytes, at)? < bytes.len() {
            return Ok(None);
        }
        Ok(Entry::decode(&bytes, position))
    }

    /// Adds the entry for the next position.
    pub fn push(&mut self, entry: Entry) {
        let position = self.len() + 1;
        if let Some(lookup) = &mut self.lookup {
            lookup.add(position, &entry);
        }
        self.pending.push(entry);
    }

    /// Writes pending entries to the file (not synced: they are derived). On failure
    /// (a full disk) the file is cut back and the entries stay pending.
    pub fn write_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(self.pending.len() * ENTRY_LEN as usize);
        for (i, entry) in self.pending.iter().enumerate() {
            bytes.extend_from_slice(&entry.encode(self.on_disk + 1 + i as u64));
        }
        let at = HEADER_LEN + self.on_disk * ENTRY_LEN;
        if let Err(e) = self.file.write_all_at(&bytes, at) {
            let _ = self.file.set_len(at);
            return Err(e);
        }
        self.on_disk += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Whether the id and key lookups are built.
    pub fn loaded(&self) -> bool {
        self.lookup.is_some()
    }

    /// Builds the lookups from every entry. Returns the first position whose entry fails
    /// its checksum, if any: the caller truncates there and re-derives from the segments.
    pub fn load(&mut self) -> io::Result<Option<u64>> {
        let mut lookup = Lookup::default();
        lookup.ids.reserve(self.len() as usize);
        const CHUNK: u64 = 8192;
        let mut buf = vec![0u8; (CHUNK * ENTRY_LEN) as usize];
        let mut position = 1;
        while position <= self.on_disk {
            let n = CHUNK.min(self.on_disk - position + 1);
            let want = (n * ENTRY_LEN) as usize;
            let got = read_full_at(
                &self.file,
                &mut buf[..want],
                HEADER_LEN + (position - 1) * ENTRY_LEN,
            )?;
            for i in 0..n {
                let at = (i * ENTRY_LEN) as usize;
                let entry = (at + ENTRY_LEN as usize <= got)
                    .then(|| Entry::decode(&buf[at..at + ENTRY_LEN as usize], position + i))
                    .flatten();
                match entry {
                    Some(entry) => lookup.add(position + i, &entry),
                    None => return Ok(Some(position + i)),
                }
            }
            position += n;
        }
        for (i, entry) in self.pending.iter().enumerate() {
            lookup.add(self.on_disk + 1 + i as u64, entry);
        }
        self.lookup = Some(lookup);
        Ok(None)
    }

    /// Positions whose id hash is `id_hash`: candidates, to be confirmed against the log.
    pub fn id_candidates(&self, id_hash: u64) -> Vec<u64> {
        let lookup = self.lookup.as_ref().expect("loaded before lookups");
        let mut out: Vec<u64> = lookup.ids.get(&id_hash).copied().into_iter().collect();
        if let Some(more) = lookup.more_ids.get(&id_hash) {
            out.extend_from_slice(more);
        }
        out
    }

    /// The last position whose key hash is `key_hash`: a candidate, to be confirmed.
    pub fn key_candidate(&self, key_hash: u64) -> Option<u64> {
        let lookup = self.lookup.as_ref().expect("loaded before lookups");
        lookup.keys.get(&key_hash).copied()
    }

    /// The index file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
