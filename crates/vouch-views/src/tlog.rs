//! The RFC 6962 Merkle tree over the whole log, kept in the views' sled tree.
//!
//! Every record the projector reads (applied, quarantined or skipped as a duplicate: the
//! tree covers the log, not the views) is leaf `position − 1`, hashed from its exact stored
//! bytes. The tree's nodes go into the same atomic sled batch as the views' changes and
//! position, so the tree always holds exactly `position` leaves; it lives in the views'
//! generation tree, so `rebuild` recreates it and swaps it in with the rest.
//!
//! Layout: `T` + level (1 byte) + chunk (u64 BE) → up to [`CHUNK`] node hashes of that
//! level, 32 bytes each, concatenated: chunk `c` of level `l` holds nodes `(l, c·256 …)`.
//! `mtree` → the leaf count (u64 BE). Levels 1 to 7 are not stored: such a subtree lies
//! inside one chunk of leaves and is hashed again from them when read (at most 127 node
//! hashes), which halves what the projector writes. One sled key per node cost the
//! projector a random insert per record (sled's per-key rate is the bottleneck here, see
//! `ids.rs`); one value per 256 leaves, the last one rewritten per batch, costs about one
//! insert per 256 records.

use std::collections::HashMap;

use vouch_tlog::store::{NodeKey, NodeStore};
use vouch_tlog::tree::{Hash, Tree, TreeError};

use crate::ViewsError;

/// Node hashes per stored value.
pub const CHUNK: u64 = 256;
const HASH: usize = 32;
/// The lowest level stored above the leaves: `CHUNK` = 2^8 leaves.
const STORED_FROM: u8 = 8;
/// The key of the tree's leaf count.
pub(crate) const TREE_SIZE: &[u8] = b"mtree";

/// The key of chunk `chunk` of level `level`.
fn chunk_key(level: u8, chunk: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = b'T';
    k[1..].copy_from_slice(
        &NodeKey {
            level,
            index: chunk,
        }
        .to_bytes(),
    );
    k
}

fn corrupt(key: &[u8], reason: String) -> ViewsError {
    ViewsError::Corrupt {
        key: String::from_utf8_lossy(key).escape_debug().to_string(),
        reason,
    }
}

/// A chunk being written: its number and its hashes so far.
#[derive(Debug)]
struct Open {
    chunk: u64,
    bytes: Vec<u8>,
}

/// A [`NodeStore`] over a views tree, reading through the writes not yet committed: a
/// projection batch appends into it and [`SledNodes::write_into`] adds its changes to the
/// batch's one atomic sled write; queries read it without writing.
#[derive(Debug)]
pub struct SledNodes<'t> {
    tree: &'t sled::Tree,
    size: u64,
    /// Per level, the chunk appends go to.
    open: Vec<Option<Open>>,
    /// Chunks filled (or left) during this batch.
    done: HashMap<(u8, u64), Vec<u8>>,
}

impl<'t> SledNodes<'t> {
    /// The nodes stored in `tree`.
    ///
    /// # Errors
    /// When sled fails or the stored size is damaged.
    pub(crate) fn new(tree: &'t sled::Tree) -> Result<Self, ViewsError> {
        let size = match tree.get(TREE_SIZE)? {
            Some(v) => crate::be_u64(TREE_SIZE, &v)?,
            None => 0,
        };
        Ok(SledNodes {
            tree,
            size,
            open: Vec::new(),
            done: HashMap::new(),
        })
    }

    /// Adds every chunk this store changed, and the new size, to `writes`.
    pub(crate) fn write_into(&self, writes: &mut sled::Batch) {
        if self.done.is_empty() && self.open.iter().all(Option::is_none) {
            return;
        }
        for (&(level, chunk), bytes) in &self.done {
            writes.insert(&chunk_key(level, chunk), bytes.as_slice());
        }
        for (level, open) in (0u8..).zip(&self.open) {
            if let Some(open) = open {
                writes.insert(&chunk_key(level, open.chunk), open.bytes.as_slice());
            }
        }
        writes.insert(TREE_SIZE, &self.size.to_be_bytes());
    }

    /// A stored chunk, checked to be whole hashes and at most [`CHUNK`] of them.
    fn stored(&self, level: u8, chunk: u64) -> Result<Option<sled::IVec>, ViewsError> {
        let key = chunk_key(level, chunk);
        let Some(bytes) = self.tree.get(key)? else {
            return Ok(None);
        };
        if bytes.len() % HASH != 0 || bytes.len() > CHUNK as usize * HASH {
            return Err(corrupt(
                &key,
                format!("a tree chunk of {} bytes", bytes.len()),
            ));
        }
        Ok(Some(bytes))
    }
}

fn hash_at(bytes: &[u8], offset: usize) -> Option<Hash> {
    let at = offset * HASH;
    bytes
        .get(at..at + HASH)
        .map(|h| Hash(h.try_into().expect("32 bytes")))
}

/// The hash of the perfect subtree of `count` leaves (a power of two) from `offset` in a
/// chunk of leaf hashes, if the chunk holds them all.
fn subtree_hash(leaves: &[u8], offset: usize, count: usize) -> Option<Hash> {
    if count == 1 {
        return hash_at(leaves, offset);
    }
    let half = count / 2;
    let left = subtree_hash(leaves, offset, half)?;
    let right = subtree_hash(leaves, offset + half, half)?;
    Some(vouch_tlog::tree::node_hash(&left, &right))
}

impl SledNodes<'_> {
    /// A stored node: levels 0 and from [`STORED_FROM`] up.
    fn get_stored(&self, level: u8, index: u64) -> Result<Option<Hash>, ViewsError> {
        let (chunk, offset) = (index / CHUNK, (index % CHUNK) as usize);
        if let Some(Some(open)) = self.open.get(usize::from(level)) {
            if open.chunk == chunk {
                return Ok(hash_at(&open.bytes, offset));
            }
        }
        if let Some(bytes) = self.done.get(&(level, chunk)) {
            return Ok(hash_at(bytes, offset));
        }
        Ok(self
            .stored(level, chunk)?
            .and_then(|bytes| hash_at(&bytes, offset)))
    }

    /// The leaf hashes of chunk `chunk`, as far as written.
    fn leaf_chunk(&self, chunk: u64) -> Result<Option<Vec<u8>>, ViewsError> {
        if let Some(Some(open)) = self.open.first() {
            if open.chunk == chunk {
                return Ok(Some(open.bytes.clone()));
            }
        }
        if let Some(bytes) = self.done.get(&(0, chunk)) {
            return Ok(Some(bytes.clone()));
        }
        Ok(self.stored(0, chunk)?.map(|b| b.to_vec()))
    }
}

impl NodeStore for SledNodes<'_> {
    type Error = ViewsError;

    fn get(&self, key: NodeKey) -> Result<Option<Hash>, ViewsError> {
        if key.level == 0 || key.level >= STORED_FROM {
            return self.get_stored(key.level, key.index);
        }
        let count = 1u64 << key.level;
        let first = key.index * count;
        let Some(leaves) = self.leaf_chunk(first / CHUNK)? else {
            return Ok(None);
        };
        Ok(subtree_hash(
            &leaves,
            (first % CHUNK) as usize,
            count as usize,
        ))
    }

    /// Appends each node to its level's open chunk. A failure leaves this store half
    /// changed, but nothing reaches sled until the batch commits, and a batch that failed
    /// is dropped whole.
    fn put(&mut self, nodes: &[(NodeKey, Hash)], new_size: u64) -> Result<(), ViewsError> {
        for &(key, hash) in nodes {
            if key.level != 0 && key.level < STORED_FROM {
                continue;
            }
            let level = usize::from(key.level);
            let (chunk, offset) = (key.index / CHUNK, (key.index % CHUNK) as usize);
            if self.open.len() <= level {
                self.open.resize_with(level + 1, || None);
            }
            let current = self.open[level].as_ref().map(|o| o.chunk);
            if current != Some(chunk) {
                if let Some(left) = self.open[level].take() {
                    self.done.insert((key.level, left.chunk), left.bytes);
                }
                let bytes = match self.done.remove(&(key.level, chunk)) {
                    Some(bytes) => bytes,
                    None if offset == 0 => Vec::with_capacity(CHUNK as usize * HASH),
                    None => self
                        .stored(key.level, chunk)?
                        .map(|b| b.to_vec())
                        .unwrap_or_default(),
                };
                self.open[level] = Some(Open { chunk, bytes });
            }
            let open = self.open[level].as_mut().expect("opened above");
            if open.bytes.len() != offset * HASH {
                return Err(corrupt(
                    &chunk_key(key.level, chunk),
                    format!(
                        "node ({}, {}) does not follow the {} nodes stored in its chunk",
                        key.level,
                        key.index,
                        open.bytes.len() / HASH
                    ),
                ));
            }
            open.bytes.extend_from_slice(&hash.0);
        }
        self.size = new_size;
        Ok(())
    }

    fn size(&self) -> Result<u64, ViewsError> {
        Ok(self.size)
    }
}

/// Opens the tree a store holds, a missing node being damage to the views.
///
/// # Errors
/// When sled fails or the stored tree is damaged.
pub(crate) fn open(nodes: SledNodes<'_>) -> Result<Tree<SledNodes<'_>>, ViewsError> {
    Tree::open(nodes).map_err(tree_error)
}

/// A tree error where the caller has already checked the sizes: only storage failures and
/// damage are left.
pub(crate) fn tree_error(e: TreeError<ViewsError>) -> ViewsError {
    match e {
        TreeError::Store(e) => e,
        other => corrupt(b"T", format!("{other}; run `vouch rebuild`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends in uneven batches across many chunk boundaries of several levels, each batch
    /// committed as the projector commits; every root and proof then matches a tree kept in
    /// memory.
    #[test]
    fn chunked_nodes_give_the_same_tree_as_memory() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("views.0").unwrap();
        let mut expected = Tree::in_memory();
        let mut n = 0u64;
        for batch in [1u64, 255, 1, 300, 2, 1000, 511, 1, 3000, 7] {
            let mut nodes = open(SledNodes::new(&tree).unwrap()).unwrap();
            assert_eq!(nodes.size(), n);
            for _ in 0..batch {
                nodes.append(&n.to_be_bytes()).unwrap();
                expected.append(&n.to_be_bytes()).unwrap();
                n += 1;
            }
            let mut writes = sled::Batch::default();
            nodes.store().write_into(&mut writes);
            tree.apply_batch(writes).unwrap();
        }
        let stored = open(SledNodes::new(&tree).unwrap()).unwrap();
        assert_eq!(stored.size(), n);
        assert_eq!(stored.root(), expected.root());
        for size in (0..=n).step_by(97).chain([n - 1, 256, 257, 512, 4096]) {
            assert_eq!(
                stored.root_at(size).unwrap(),
                expected.root_at(size).unwrap()
            );
            for index in [0, size / 2, size.saturating_sub(1)] {
                if index < size {
                    assert_eq!(
                        stored.inclusion_proof(index, size).unwrap(),
                        expected.inclusion_proof(index, size).unwrap()
                    );
                }
            }
            assert_eq!(
                stored.consistency_proof(size, n).unwrap(),
                expected.consistency_proof(size, n).unwrap()
            );
        }
    }
}
