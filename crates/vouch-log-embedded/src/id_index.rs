//! The event-id index: which position holds an event id, for idempotent appends.
//!
//! A persistent open-addressing hash table in a memory-mapped file beside the sled store.
//! One slot is 16 bytes, `[hash: u64 LE][position: u64 LE]`, position 0 meaning empty;
//! the hash is the first 8 bytes of BLAKE3(event id). A 4 KiB header holds
//! `b"VOUCHIDX"`, format (u32), slot count (u64), entries (u64), `durable_through` (u64):
//! every record at or below it is in the index and synced to disk, `written_through`
//! (u64): every record at or below it is in the index, in the page cache at least, and the
//! kernel boot id (16 bytes) under which it was written.
//!
//! Syncing the table costs a page write per inserted id (hashes scatter), so it is synced
//! only every [`SYNC_EVERY`] records. A process killed in between leaves its entries in
//! the page cache, where the next process finds them (same boot id); after an OS crash
//! the boot id differs and the entries above `durable_through` are re-derived.
//!
//! The index is derived data. A hit is only a candidate: the caller confirms it against
//! the id stored in the log, so a 64-bit hash collision, or an entry for a position a
//! crash took back, never hides an event. Entries above `durable_through` are re-derived
//! from the log when it is opened. Why not sled keys: sled's per-key insert rate here is
//! about 100,000/s, a third of the ingest target; a mapped table costs a few memory
//! writes per event.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

const MAGIC: &[u8; 8] = b"VOUCHIDX";
const FORMAT: u32 = 1;
const HEADER: usize = 4096;
const SLOT: usize = 16;
const INITIAL_SLOTS: u64 = 1 << 14;
const DURABLE: usize = 32;
const WRITTEN: usize = 40;
const BOOT: usize = 48;

/// How many records may be indexed beyond the last sync before the next flush syncs.
pub const SYNC_EVERY: u64 = 1 << 16;

/// This boot of the kernel, so entries written without a sync are trusted only until a
/// reboot. `None` where the system does not say: then every flush syncs.
fn boot_id() -> Option<[u8; 16]> {
    let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let digest = blake3::hash(text.trim().as_bytes());
    Some(digest.as_bytes()[..16].try_into().expect("16 bytes"))
}

pub struct IdIndex {
    path: PathBuf,
    file: File,
    map: MmapMut,
    slots: u64,
    entries: u64,
}

/// The 64-bit hash the index stores for an event id.
pub fn id_hash(event_id: &str) -> u64 {
    let digest = blake3::hash(event_id.as_bytes());
    u64::from_le_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
}

impl IdIndex {
    /// Opens the index at `path`, or creates an empty one when it is missing or unreadable
    /// (it is rebuilt from the log then). Returns the index and the position through
    /// which it can be trusted.
    pub fn open(path: &Path) -> io::Result<(IdIndex, u64)> {
        if let Ok(index) = Self::open_existing(path) {
            let same_boot = boot_id().is_some_and(|id| index.map[BOOT..BOOT + 16] == id);
            let through = if same_boot {
                index.read_u64(WRITTEN)
            } else {
                index.read_u64(DURABLE)
            };
            return Ok((index, through));
        }
        Ok((Self::create(path, INITIAL_SLOTS)?, 0))
    }

    fn open_existing(path: &Path) -> io::Result<IdIndex> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        // SAFETY: the ledger's directory lock gives this process sole access to the file;
        // nothing else maps or truncates it while the map is alive.
        let map = unsafe { MmapMut::map_mut(&file)? };
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a Vouch id index");
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(bad());
        }
        let format = u32::from_le_bytes(map[8..12].try_into().expect("4"));
        let slots = u64::from_le_bytes(map[16..24].try_into().expect("8"));
        let entries = u64::from_le_bytes(map[24..32].try_into().expect("8"));
        if format != FORMAT
            || !slots.is_power_of_two()
            || len != HEADER as u64 + slots * SLOT as u64
        {
            return Err(bad());
        }
        Ok(IdIndex {
            path: path.to_owned(),
            file,
            map,
            slots,
            entries,
        })
    }

    fn create(path: &Path, slots: u64) -> io::Result<IdIndex> {
        let tmp = path.with_extension("idx.tmp");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.set_len(HEADER as u64 + slots * SLOT as u64)?;
        // SAFETY: as in `open_existing`; the file is new and private to this process.
        let mut map = unsafe { MmapMut::map_mut(&file)? };
        map[..8].copy_from_slice(MAGIC);
        map[8..12].copy_from_slice(&FORMAT.to_le_bytes());
        map[16..24].copy_from_slice(&slots.to_le_bytes());
        map.flush()?;
        std::fs::rename(&tmp, path)?;
        Ok(IdIndex {
            path: path.to_owned(),
            file,
            map,
            slots,
            entries: 0,
        })
    }

    fn read_u64(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.map[at..at + 8].try_into().expect("8"))
    }

    fn write_u64(&mut self, at: usize, value: u64) {
        self.map[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    fn slot(&self, i: u64) -> (u64, u64) {
        let at = HEADER + i as usize * SLOT;
        (self.read_u64(at), self.read_u64(at + 8))
    }

    /// Every position stored under `hash`: candidates the caller must confirm.
    pub fn candidates(&self, hash: u64) -> Vec<u64> {
        let mask = self.slots - 1;
        let mut i = hash & mask;
        let mut out = Vec::new();
        loop {
            let (h, pos) = self.slot(i);
            if pos == 0 {
                return out;
            }
            if h == hash {
                out.push(pos);
            }
            i = (i + 1) & mask;
        }
    }

    /// Records that `position` holds an id with `hash`. Inserting the same pair twice
    /// stores it once, so re-deriving entries after a crash is harmless.
    pub fn insert(&mut self, hash: u64, position: u64) -> io::Result<()> {
        debug_assert!(position > 0);
        if (self.entries + 1) * 2 > self.slots {
            self.grow()?;
        }
        let mask = self.slots - 1;
        let mut i = hash & mask;
        loop {
            let (h, pos) = self.slot(i);
            if pos == 0 {
                let at = HEADER + i as usize * SLOT;
                self.write_u64(at, hash);
                self.write_u64(at + 8, position);
                self.entries += 1;
                self.write_u64(24, self.entries);
                return Ok(());
            }
            if h == hash && pos == position {
                return Ok(());
            }
            i = (i + 1) & mask;
        }
    }

    /// Doubles the table: writes a new file, syncs it and swaps it in.
    fn grow(&mut self) -> io::Result<()> {
        let through = self.read_u64(DURABLE);
        let mut bigger = Self::create(&self.path.with_extension("idx.grow"), self.slots * 2)?;
        for i in 0..self.slots {
            let (h, pos) = self.slot(i);
            if pos != 0 {
                bigger.insert(h, pos)?;
            }
        }
        bigger.write_u64(DURABLE, through);
        bigger.write_u64(WRITTEN, through);
        bigger.map.flush()?;
        std::fs::rename(self.path.with_extension("idx.grow"), &self.path)?;
        bigger.path = self.path.clone();
        *self = bigger;
        Ok(())
    }

    /// Records that positions up to `through` are in the index, syncing the table to
    /// disk when [`SYNC_EVERY`] records have been added since the last sync, or when the
    /// boot id is unknown.
    pub fn mark(&mut self, through: u64) -> io::Result<()> {
        let durable = self.read_u64(DURABLE);
        match boot_id() {
            Some(id) if through.saturating_sub(durable) < SYNC_EVERY => {
                self.write_u64(WRITTEN, through);
                self.map[BOOT..BOOT + 16].copy_from_slice(&id);
                Ok(())
            }
            _ => self.sync(through),
        }
    }

    /// Syncs every entry to disk, then records that positions up to `through` are in.
    pub fn sync(&mut self, through: u64) -> io::Result<()> {
        self.map.flush()?;
        self.write_u64(DURABLE, through);
        self.write_u64(WRITTEN, through);
        self.map.flush_range(0, HEADER)?;
        self.file.sync_all()
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }
}
