//! The RFC 6962 / RFC 9162 Merkle tree over the log (SHA-256), kept incrementally as records
//! are appended.
//!
//! Hashing (RFC 9162 §2.1.1): a leaf is `SHA-256(0x00 ‖ bytes)`, an interior node
//! `SHA-256(0x01 ‖ left ‖ right)`, the empty tree `SHA-256("")`. For `n > 1` leaves the tree
//! splits at `k`, the largest power of two strictly below `n`: `MTH(D[0:n]) =
//! node(MTH(D[0:k]), MTH(D[k:n]))`, so left subtrees are perfect and the ragged edge is on the
//! right.
//!
//! Storage: the hash of every complete aligned subtree, keyed `(level, index)` in a
//! [`NodeStore`]. An append writes the leaf and every subtree it completes (O(log n) writes,
//! no reads: the tree keeps the right edge in memory). Any range's hash, and so every root
//! and proof, comes from those stored subtrees ([`Tree::range_hash`]); nothing is recomputed
//! from leaves.

use std::fmt;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::store::{MemoryStore, NodeKey, NodeStore};

/// A SHA-256 hash: a leaf, a node or a root. Any 32 bytes are a valid value.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree, `SHA-256("")` (`e3b0c442…b855`).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// Why text or bytes could not be read as a [`Hash`](struct@Hash).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashParseError {
    /// The decoded value was not 32 bytes.
    #[error("a hash is 32 bytes, got {0}")]
    Length(usize),
    /// The text was not 64 hexadecimal digits.
    #[error("a hash in hex is 64 hexadecimal digits")]
    Hex,
    /// The text was not standard, padded base64.
    #[error("a hash in base64 is standard padded base64: {0}")]
    Base64(base64::DecodeError),
}

impl Hash {
    /// The hash's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads a hash from a byte slice, refusing any other length (RFC 9162 verifiers must
    /// not accept short or long hashes).
    ///
    /// # Errors
    /// [`HashParseError::Length`] when `bytes` is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| HashParseError::Length(bytes.len()))
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        out
    }

    /// Reads 64 hex digits (either case).
    ///
    /// # Errors
    /// [`HashParseError::Hex`] for any other text.
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        fn digit(c: u8) -> Option<u8> {
            match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'a'..=b'f' => Some(c - b'a' + 10),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            }
        }
        let text = text.as_bytes();
        if text.len() != 64 {
            return Err(HashParseError::Hex);
        }
        let mut out = [0u8; 32];
        for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
            let hi = digit(pair[0]).ok_or(HashParseError::Hex)?;
            let lo = digit(pair[1]).ok_or(HashParseError::Hex)?;
            *o = (hi << 4) | lo;
        }
        Ok(Self(out))
    }

    /// Standard padded base64 (44 characters), the form of C2SP checkpoints and proofs.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads standard padded base64 that decodes to exactly 32 bytes.
    ///
    /// # Errors
    /// [`HashParseError::Base64`] for text that is not base64, [`HashParseError::Length`]
    /// when it decodes to another length.
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(HashParseError::Base64)?;
        Self::from_slice(&bytes)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

/// The hash of one leaf: `SHA-256(0x00 ‖ bytes)`. The prefix keeps a leaf from ever
/// passing for an interior node (second-preimage protection).
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(bytes);
    Hash(h.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The largest power of two strictly below `n`, the RFC 6962 split point; `n` must be ≥ 2.
pub(crate) fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Why a tree operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TreeError<E: std::error::Error + 'static> {
    /// The node store failed.
    #[error("node store: {0}")]
    Store(#[source] E),
    /// A size beyond the number of leaves appended so far was asked for.
    #[error("size {size} is beyond the tree's {tree_size} leaves")]
    SizeBeyondTree {
        /// The size asked for.
        size: u64,
        /// The tree's size.
        tree_size: u64,
    },
    /// A leaf index at or beyond the size it should belong to.
    #[error("leaf index {index} is not below size {size}")]
    IndexBeyondSize {
        /// The index asked for.
        index: u64,
        /// The size it was asked for in.
        size: u64,
    },
    /// A consistency proof from a larger size to a smaller one was asked for.
    #[error("old size {old_size} is beyond new size {new_size}")]
    OldSizeBeyondNewSize {
        /// The old size asked for.
        old_size: u64,
        /// The new size asked for.
        new_size: u64,
    },
    /// A range whose start is not below its end.
    #[error("range [{lo}, {hi}) is empty or reversed")]
    EmptyRange {
        /// Start of the range.
        lo: u64,
        /// End of the range (exclusive).
        hi: u64,
    },
    /// The store lacks a subtree that its recorded size says it has: it is damaged or was
    /// written by something else, and should be rebuilt from the log.
    #[error("node store has no subtree ({}, {}) although it holds {tree_size} leaves", key.level, key.index)]
    MissingNode {
        /// The missing subtree.
        key: NodeKey,
        /// The size the store recorded.
        tree_size: u64,
    },
    /// The tree already holds 2^64 − 1 leaves.
    #[error("the tree is full")]
    Full,
}

/// An RFC 6962 tree kept in a [`NodeStore`].
///
/// Besides the store it keeps only the right edge (the at most 64 perfect subtrees whose
/// sizes sum to the tree's size), so appends need no reads and [`Tree::root`] no store access.
#[derive(Debug)]
pub struct Tree<S> {
    store: S,
    size: u64,
    /// Hashes of the perfect subtrees that make up the tree, largest (leftmost) first.
    edge: Vec<Hash>,
}

impl Tree<MemoryStore> {
    /// An empty tree in memory, for tests and small uses.
    pub fn in_memory() -> Self {
        Self {
            store: MemoryStore::new(),
            size: 0,
            edge: Vec::new(),
        }
    }
}

impl<S: NodeStore> Tree<S> {
    /// Opens the tree that `store` holds (empty for a new store), reading its right edge.
    ///
    /// # Errors
    /// [`TreeError::Store`] when the store fails, [`TreeError::MissingNode`] when it lacks a
    /// subtree its size says it has.
    pub fn open(store: S) -> Result<Self, TreeError<S::Error>> {
        let size = store.size().map_err(TreeError::Store)?;
        let mut edge = Vec::with_capacity(size.count_ones() as usize);
        let mut lo = 0u64;
        for level in (0..64u8).rev() {
            if size & (1 << level) != 0 {
                let key = NodeKey {
                    level,
                    index: lo >> level,
                };
                edge.push(get(&store, key, size)?);
                lo += 1 << level;
            }
        }
        Ok(Self { store, size, edge })
    }

    /// The store, for callers that read it directly (to export or compare it).
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one record's exact stored bytes as the next leaf; returns its index.
    ///
    /// # Errors
    /// As [`Tree::append_leaf_hash`].
    pub fn append(&mut self, leaf_bytes: &[u8]) -> Result<u64, TreeError<S::Error>> {
        self.append_leaf_hash(leaf_hash(leaf_bytes))
    }

    /// Appends a leaf given by its leaf hash (already `SHA-256(0x00 ‖ bytes)`); returns its
    /// index. Writes the leaf and every subtree it completes in one [`NodeStore::put`].
    ///
    /// # Errors
    /// [`TreeError::Store`] when the store refuses the write (the tree is then unchanged),
    /// [`TreeError::Full`] at 2^64 − 1 leaves.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, TreeError<S::Error>> {
        let index = self.size;
        let new_size = index.checked_add(1).ok_or(TreeError::Full)?;
        // Like incrementing a binary counter: each trailing one bit of `index` is a perfect
        // subtree on the edge that the new leaf's subtree now completes a pair with.
        let merges = index.trailing_ones() as usize;
        let mut nodes = Vec::with_capacity(merges + 1);
        let mut hash = leaf;
        nodes.push((NodeKey { level: 0, index }, hash));
        for (level, left) in (1u8..).zip(self.edge.iter().rev().take(merges)) {
            hash = node_hash(left, &hash);
            nodes.push((
                NodeKey {
                    level,
                    index: index >> level,
                },
                hash,
            ));
        }
        self.store.put(&nodes, new_size).map_err(TreeError::Store)?;
        self.edge.truncate(self.edge.len() - merges);
        self.edge.push(hash);
        self.size = new_size;
        Ok(index)
    }

    /// The root of the whole tree (`EMPTY_ROOT` when empty), from the right edge kept in
    /// memory.
    pub fn root(&self) -> Hash {
        let mut rev = self.edge.iter().rev();
        let Some(&last) = rev.next() else {
            return EMPTY_ROOT;
        };
        rev.fold(last, |right, left| node_hash(left, &right))
    }

    /// The root the tree had when it held `size` leaves, from stored subtrees.
    ///
    /// # Errors
    /// [`TreeError::SizeBeyondTree`] for a size not reached yet; store failures.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError<S::Error>> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(EMPTY_ROOT);
        }
        if size == self.size {
            return Ok(self.root());
        }
        self.range_hash(0, size)
    }

    /// `MTH(D[lo:hi])`, the RFC 6962 hash of leaves `lo..hi`: the stored subtree when the
    /// range is one, otherwise split at `lo` + the largest power of two below `hi − lo`.
    ///
    /// # Errors
    /// [`TreeError::EmptyRange`] unless `lo < hi`, [`TreeError::SizeBeyondTree`] when `hi`
    /// is beyond the tree; store failures.
    pub fn range_hash(&self, lo: u64, hi: u64) -> Result<Hash, TreeError<S::Error>> {
        if lo >= hi {
            return Err(TreeError::EmptyRange { lo, hi });
        }
        self.check_size(hi)?;
        self.range_hash_unchecked(lo, hi)
    }

    /// [`Tree::range_hash`] for `lo < hi ≤ size`, already checked.
    pub(crate) fn range_hash_unchecked(
        &self,
        lo: u64,
        hi: u64,
    ) -> Result<Hash, TreeError<S::Error>> {
        let len = hi - lo;
        // A power-of-two range starting at a multiple of its length is a stored subtree.
        if len.is_power_of_two() && lo & (len - 1) == 0 {
            let level = len.trailing_zeros() as u8;
            return get(
                &self.store,
                NodeKey {
                    level,
                    index: lo >> level,
                },
                self.size,
            );
        }
        let k = split(len);
        let left = self.range_hash_unchecked(lo, lo + k)?;
        let right = self.range_hash_unchecked(lo + k, hi)?;
        Ok(node_hash(&left, &right))
    }

    /// Refuses a size beyond the tree.
    pub(crate) fn check_size(&self, size: u64) -> Result<(), TreeError<S::Error>> {
        if size > self.size {
            return Err(TreeError::SizeBeyondTree {
                size,
                tree_size: self.size,
            });
        }
        Ok(())
    }
}

/// Reads a subtree the store must hold.
fn get<S: NodeStore>(store: &S, key: NodeKey, tree_size: u64) -> Result<Hash, TreeError<S::Error>> {
    store
        .get(key)
        .map_err(TreeError::Store)?
        .ok_or(TreeError::MissingNode { key, tree_size })
}
