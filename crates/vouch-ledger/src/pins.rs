//! Roots of earlier log prefixes, recomputed from the log's own bytes while `verify` walks
//! it: what a layout-2 decision's log pin is checked against.
//!
//! A decision at position `p` pins the RFC 6962 root of the first `evaluated_at` (< `p`)
//! records. `verify` trusts nothing from the views, so it needs roots at arbitrary earlier
//! sizes from the records it has read. Keeping every leaf hash would cost 32 bytes per
//! record (320 MB for 10M records); instead [`Pins`] keeps the hashes of the perfect
//! subtrees at levels 8 and up (one per 256 leaves, plus their parents: n/128 hashes in
//! all) and the leaves of the chunk still being filled. The root at size `e` is the right
//! fold of the perfect subtrees of `e`'s binary decomposition; those of 256 leaves or more
//! are kept, and the ones below (the last `e mod 256` leaves) are hashed again from
//! records the caller re-reads from the log.

use vouch_tlog::tree::{leaf_hash, node_hash, Hash, EMPTY_ROOT};

/// The lowest level kept: subtrees of 2^8 = 256 leaves.
const LOW: u32 = 8;
/// Leaves per kept lowest-level subtree.
const CHUNK: usize = 1 << LOW;

/// Perfect-subtree hashes of a log's first [`Pins::size`] records, at levels 8 and up.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    /// `levels[k][i]`: the hash of leaves `i·2^(8+k) .. (i+1)·2^(8+k)`, for every such
    /// subtree complete so far.
    levels: Vec<Vec<Hash>>,
    /// The leaf hashes of the chunk being filled (fewer than 256).
    chunk: Vec<Hash>,
    /// Leaves appended.
    size: u64,
}

/// The hash of a perfect subtree from its leaves (a power-of-two count).
fn perfect(leaves: &[Hash]) -> Hash {
    debug_assert!(leaves.len().is_power_of_two());
    let mut row = leaves.to_vec();
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    row[0]
}

impl Pins {
    /// No records yet.
    pub(crate) fn new() -> Self {
        Pins::default()
    }

    /// The number of records appended.
    #[cfg(test)]
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Appends the next record's exact stored bytes as a leaf.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.push_leaf(leaf_hash(bytes));
    }

    /// Appends the next leaf by its leaf hash.
    pub(crate) fn push_leaf(&mut self, leaf: Hash) {
        self.chunk.push(leaf);
        self.size += 1;
        if self.chunk.len() == CHUNK {
            let hash = perfect(&self.chunk);
            self.chunk.clear();
            self.keep(0, hash);
        }
    }

    /// Keeps a complete subtree at level `8 + k`, and its parent when it completes a pair.
    fn keep(&mut self, k: usize, hash: Hash) {
        if self.levels.len() == k {
            self.levels.push(Vec::new());
        }
        let level = &mut self.levels[k];
        level.push(hash);
        if level.len().is_multiple_of(2) {
            let parent = node_hash(&level[level.len() - 2], &level[level.len() - 1]);
            self.keep(k + 1, parent);
        }
    }

    /// The RFC 6962 root of the first `size` records, or `None` when fewer have been
    /// appended. `read_leaves(first, count)` must return the leaf hashes of the `count`
    /// records from leaf index `first` (position `first + 1`) on, re-read from the log;
    /// it is called once, for the last `size mod 256` records, and not when that is 0.
    ///
    /// # Errors
    /// What `read_leaves` returns.
    pub(crate) fn root_at<E>(
        &self,
        size: u64,
        read_leaves: impl FnOnce(u64, usize) -> Result<Vec<Hash>, E>,
    ) -> Result<Option<Hash>, E> {
        if size > self.size {
            return Ok(None);
        }
        if size == 0 {
            return Ok(Some(EMPTY_ROOT));
        }
        // The perfect subtrees of size's binary decomposition, leftmost (largest) first.
        let mut subtrees: Vec<Hash> = Vec::with_capacity(size.count_ones() as usize);
        let mut lo = 0u64;
        for level in (LOW..64).rev() {
            if size & (1 << level) != 0 {
                let k = (level - LOW) as usize;
                let index = usize::try_from(lo >> level).expect("an index of a kept subtree");
                subtrees.push(self.levels[k][index]);
                lo += 1 << level;
            }
        }
        let low = usize::try_from(size - lo).expect("fewer than 256");
        if low > 0 {
            let leaves = read_leaves(lo, low)?;
            assert_eq!(
                leaves.len(),
                low,
                "read_leaves returns exactly the leaves asked for"
            );
            let mut at = 0usize;
            for level in (0..LOW).rev() {
                let width = 1usize << level;
                if low & width != 0 {
                    subtrees.push(perfect(&leaves[at..at + width]));
                    at += width;
                }
            }
        }
        let mut rev = subtrees.into_iter().rev();
        let last = rev.next().expect("size > 0 has a subtree");
        Ok(Some(rev.fold(last, |right, left| node_hash(&left, &right))))
    }

    /// The hashes held in memory (kept subtrees and the open chunk's leaves).
    #[cfg(test)]
    fn held(&self) -> usize {
        self.levels.iter().map(Vec::len).sum::<usize>() + self.chunk.len()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use vouch_tlog::tree::Tree;

    use super::*;

    fn record(i: u64) -> Vec<u8> {
        format!("record {i}")
            .repeat(1 + (i % 3) as usize)
            .into_bytes()
    }

    /// Pins and a reference tree over the first `n` records, and the leaf hashes.
    fn build(n: u64) -> (Pins, Tree<vouch_tlog::store::MemoryStore>, Vec<Hash>) {
        let mut pins = Pins::new();
        let mut tree = Tree::in_memory();
        let mut leaves = Vec::new();
        for i in 0..n {
            let bytes = record(i);
            pins.push(&bytes);
            tree.append(&bytes).unwrap();
            leaves.push(leaf_hash(&bytes));
        }
        (pins, tree, leaves)
    }

    fn root(pins: &Pins, leaves: &[Hash], size: u64) -> Option<Hash> {
        pins.root_at(size, |first, count| {
            let first = first as usize;
            assert!(
                count < CHUNK && first.is_multiple_of(CHUNK),
                "only the last partial chunk is re-read"
            );
            Ok::<_, Infallible>(leaves[first..first + count].to_vec())
        })
        .unwrap()
    }

    #[test]
    fn every_size_up_to_600_matches_the_tree() {
        let (pins, tree, leaves) = build(600);
        for size in 0..=600 {
            assert_eq!(
                root(&pins, &leaves, size),
                Some(tree.root_at(size).unwrap()),
                "size {size}"
            );
        }
        assert_eq!(root(&pins, &leaves, 601), None);
    }

    #[test]
    fn roots_are_right_while_the_log_grows() {
        // Asked at every size as it is reached, as verify asks.
        let mut pins = Pins::new();
        let mut tree = Tree::in_memory();
        let mut leaves = Vec::new();
        for i in 0..530u64 {
            let bytes = record(i);
            pins.push(&bytes);
            tree.append(&bytes).unwrap();
            leaves.push(leaf_hash(&bytes));
            let size = pins.size();
            assert_eq!(root(&pins, &leaves, size), Some(tree.root()), "size {size}");
            let earlier = size / 2;
            assert_eq!(
                root(&pins, &leaves, earlier),
                Some(tree.root_at(earlier).unwrap())
            );
        }
    }

    #[test]
    fn random_larger_sizes_match_the_tree() {
        let n = 70_000u64;
        let (pins, tree, leaves) = build(n);
        // A fixed xorshift sequence: reproducible, and covers many decompositions.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut sizes = vec![n, n - 1, 65_536, 65_535, 65_537, 256, 512, 768, 69_888];
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sizes.push(x % (n + 1));
        }
        for size in sizes {
            assert_eq!(
                root(&pins, &leaves, size),
                Some(tree.root_at(size).unwrap()),
                "size {size}"
            );
        }
    }

    #[test]
    fn memory_is_about_one_hash_per_128_records() {
        let (pins, _, _) = build(70_000);
        assert!(pins.held() <= 70_000 / 128 + 256, "{} hashes", pins.held());
    }

    #[test]
    fn a_read_error_is_passed_on() {
        let (pins, _, _) = build(300);
        assert_eq!(pins.root_at(300, |_, _| Err("gone")), Err("gone"));
        // A size on a chunk boundary needs no read.
        assert!(pins
            .root_at(256, |_, _| Err::<Vec<Hash>, _>("not called"))
            .unwrap()
            .is_some());
    }
}
