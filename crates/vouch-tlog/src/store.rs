//! Where the tree keeps its hashes: the hash of every complete aligned subtree, keyed
//! `(level, index)`, behind [`NodeStore`], so the ledger can keep them in a sled tree (derived
//! data, rebuildable from the log like the views) and tests can keep them in memory.

use std::fmt;

use crate::tree::Hash;

/// The key of one complete aligned subtree: the `index`-th subtree of `2^level` leaves, so it
/// covers leaves `[index << level, (index + 1) << level)`. Leaf `i` is `(0, i)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    /// Height of the subtree: 0 for a leaf. At most 63, as a tree holds fewer than 2^64 leaves.
    pub level: u8,
    /// Position of the subtree among those of its level, counted from 0.
    pub index: u64,
}

impl NodeKey {
    /// The key's byte form for an ordered key-value store: `level` (1 byte) then `index`
    /// (8 bytes, big-endian), so a store's key order is level order, then leaf order.
    pub fn to_bytes(self) -> [u8; 9] {
        let mut out = [0u8; 9];
        out[0] = self.level;
        out[1..].copy_from_slice(&self.index.to_be_bytes());
        out
    }

    /// Reads [`NodeKey::to_bytes`] back; `None` when the bytes are not 9 long or the level is
    /// above 63, so a corrupt store key is noticed rather than misread.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; 9] = bytes.try_into().ok()?;
        let level = bytes[0];
        if level > 63 {
            return None;
        }
        let mut index = [0u8; 8];
        index.copy_from_slice(&bytes[1..]);
        Some(Self {
            level,
            index: u64::from_be_bytes(index),
        })
    }
}

/// Storage of subtree hashes for [`crate::tree::Tree`].
///
/// The tree only ever writes through [`NodeStore::put`], once per append, with every node
/// that append completed and the new leaf count: an implementation must make that one call
/// atomic (a sled batch), so a crash leaves either the old tree or the new one, never a size
/// whose nodes are missing.
pub trait NodeStore {
    /// What can go wrong in the backing storage (I/O, a corrupt value).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The stored hash of subtree `key`, or `None` if it was never written.
    ///
    /// # Errors
    /// When the backing storage fails.
    fn get(&self, key: NodeKey) -> Result<Option<Hash>, Self::Error>;

    /// Stores `nodes` (in increasing level order, all new) and records `new_size` as the
    /// number of leaves, atomically.
    ///
    /// # Errors
    /// When the backing storage fails; then nothing may have been written.
    fn put(&mut self, nodes: &[(NodeKey, Hash)], new_size: u64) -> Result<(), Self::Error>;

    /// The number of leaves recorded by the last [`NodeStore::put`] (0 for a new store).
    ///
    /// # Errors
    /// When the backing storage fails.
    fn size(&self) -> Result<u64, Self::Error>;
}

/// An in-memory [`NodeStore`]: one vector per level, as every level is written left to right.
/// For tests, benchmarks and small uses (2 × 32 bytes per leaf).
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    levels: Vec<Vec<Hash>>,
    size: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

/// A write to [`MemoryStore`] that would leave a hole in a level: the tree never does this,
/// so it means a caller wrote nodes out of order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryStoreGap {
    /// The node that could not be written.
    pub key: NodeKey,
    /// How many nodes its level held.
    pub level_len: u64,
}

impl fmt::Display for MemoryStoreGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node ({}, {}) would leave a gap: level {} holds {} nodes",
            self.key.level, self.key.index, self.key.level, self.level_len
        )
    }
}

impl std::error::Error for MemoryStoreGap {}

impl NodeStore for MemoryStore {
    type Error = MemoryStoreGap;

    fn get(&self, key: NodeKey) -> Result<Option<Hash>, Self::Error> {
        let Some(level) = self.levels.get(usize::from(key.level)) else {
            return Ok(None);
        };
        Ok(usize::try_from(key.index)
            .ok()
            .and_then(|i| level.get(i))
            .copied())
    }

    fn put(&mut self, nodes: &[(NodeKey, Hash)], new_size: u64) -> Result<(), Self::Error> {
        // Check every write first, so a refused batch changes nothing.
        for (key, _) in nodes {
            let level_len = self
                .levels
                .get(usize::from(key.level))
                .map_or(0, |l| l.len() as u64);
            // Several nodes of one batch never share a level, so checking each against the
            // current length is enough.
            if key.index > level_len {
                return Err(MemoryStoreGap {
                    key: *key,
                    level_len,
                });
            }
        }
        for &(key, hash) in nodes {
            let level = usize::from(key.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            let nodes = &mut self.levels[level];
            // Checked above: index <= len, and len fits in usize.
            let index = key.index as usize;
            if index == nodes.len() {
                nodes.push(hash);
            } else {
                nodes[index] = hash;
            }
        }
        self.size = new_size;
        Ok(())
    }

    fn size(&self) -> Result<u64, Self::Error> {
        Ok(self.size)
    }
}
