//! The Merkle tree over the whole log (RFC 6962, SHA-256), as the views hold it: the tree
//! head, roots of earlier sizes, inclusion and consistency proofs. Sizes count records;
//! a size may not exceed the views' position (catch up first to prove the latest records).

use vouch_log::Position;
use vouch_tlog::store::{NodeKey, NodeStore};
use vouch_tlog::tree::{leaf_hash, Hash, Tree, TreeError};
use vouch_views::{SledNodes, ViewsError};

use crate::Ledger;

/// The tree's size and root: what a checkpoint signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    /// Records covered (leaves), from position 1.
    pub size: u64,
    /// The RFC 6962 root of those records' stored bytes.
    pub root: Hash,
}

/// Why a root or proof could not be given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// A size beyond the records the views have projected.
    #[error("size {size} is beyond the tree over the log, which covers the {tree_size} records projected so far")]
    BeyondTree {
        /// The size asked for.
        size: u64,
        /// The tree's size (the views' position).
        tree_size: u64,
    },
    /// A position outside the tree of the size asked for.
    #[error("log position {position} is not in a tree of {size} records (positions run from 1 to {size})")]
    PositionOutside {
        /// The position asked for.
        position: u64,
        /// The size it was asked for in.
        size: u64,
    },
    /// A consistency proof from a larger size to a smaller one.
    #[error("no consistency proof goes from size {old} down to size {new}")]
    OldBeyondNew {
        /// The old size.
        old: u64,
        /// The new size.
        new: u64,
    },
    /// The views store failed or its tree is damaged.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// The log itself holds fewer records than the size asked for, or has a gap before it.
    #[error("the log holds {records} records in sequence from position 1, fewer than {size}")]
    LogShorter {
        /// The size asked for.
        size: u64,
        /// Records found in sequence.
        records: u64,
    },
    /// The log could not be read.
    #[error("reading the log: {0}")]
    Log(String),
}

fn proof_error(e: TreeError<ViewsError>) -> ProofError {
    match e {
        TreeError::Store(e) => ProofError::Views(e),
        TreeError::SizeBeyondTree { size, tree_size } => ProofError::BeyondTree { size, tree_size },
        TreeError::IndexBeyondSize { index, size } => ProofError::PositionOutside {
            position: index + 1,
            size,
        },
        TreeError::OldSizeBeyondNewSize { old_size, new_size } => ProofError::OldBeyondNew {
            old: old_size,
            new: new_size,
        },
        other => ProofError::Views(ViewsError::Corrupt {
            key: "T".into(),
            reason: format!("{other}; run `vouch rebuild`"),
        }),
    }
}

impl Ledger {
    /// The size and root of the tree over every record projected so far.
    ///
    /// # Errors
    /// When the views store fails or its tree is damaged.
    pub fn tree_head(&self) -> Result<TreeHead, ProofError> {
        let tree = self.views().log_tree()?;
        Ok(TreeHead {
            size: tree.size(),
            root: tree.root(),
        })
    }

    /// The root the tree had at `size` records.
    ///
    /// # Errors
    /// [`ProofError::BeyondTree`] for a size beyond the views' position; store failures.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.views().log_tree()?.root_at(size).map_err(proof_error)
    }

    /// The inclusion proof of the record at `position` (leaf `position − 1`) in the tree of
    /// `size` records, leaf sibling first.
    ///
    /// # Errors
    /// [`ProofError::PositionOutside`] unless `1 ≤ position ≤ size`,
    /// [`ProofError::BeyondTree`] for a size beyond the views' position; store failures.
    pub fn inclusion_proof(&self, position: Position, size: u64) -> Result<Vec<Hash>, ProofError> {
        let Some(index) = position.get().checked_sub(1) else {
            return Err(ProofError::PositionOutside { position: 0, size });
        };
        self.views()
            .log_tree()?
            .inclusion_proof(index, size)
            .map_err(proof_error)
    }

    /// The consistency proof from the tree of `old` records to the tree of `new`.
    ///
    /// # Errors
    /// [`ProofError::OldBeyondNew`] when `old > new`, [`ProofError::BeyondTree`] for a
    /// size beyond the views' position; store failures.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.views()
            .log_tree()?
            .consistency_proof(old, new)
            .map_err(proof_error)
    }
}

/// The tree over the log recomputed from the records, against the views' tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TreeVerdict {
    /// Whether the views' tree is the tree of the log's records.
    pub ok: bool,
    /// Records read.
    pub size: u64,
    /// Their root, hex.
    pub root: String,
    /// The views' tree size.
    pub views_size: u64,
    /// The views' root, hex.
    pub views_root: String,
    /// The first leaf (index = log position − 1) whose record no longer hashes to what the
    /// views' tree holds: the record was rewritten after it was projected.
    pub first_difference: Option<u64>,
}

/// A store that keeps nothing: enough for a tree whose root alone is wanted (the tree
/// keeps its right edge itself).
pub(crate) struct RootOnly;

impl NodeStore for RootOnly {
    type Error = std::convert::Infallible;

    fn get(&self, _: NodeKey) -> Result<Option<Hash>, Self::Error> {
        Ok(None)
    }

    fn put(&mut self, _: &[(NodeKey, Hash)], _: u64) -> Result<(), Self::Error> {
        Ok(())
    }

    fn size(&self) -> Result<u64, Self::Error> {
        Ok(0)
    }
}

/// Hashes every record as `verify` reads it, compares each leaf with the views' tree and
/// keeps the root.
pub(crate) struct TreeCheck<'a> {
    views: &'a SledNodes<'a>,
    views_size: u64,
    tree: Tree<RootOnly>,
    first_difference: Option<u64>,
    error: Option<ViewsError>,
}

impl<'a> TreeCheck<'a> {
    pub(crate) fn new(views: &'a SledNodes<'a>, views_size: u64) -> Self {
        TreeCheck {
            views,
            views_size,
            tree: Tree::open(RootOnly).expect("an empty store cannot fail"),
            first_difference: None,
            error: None,
        }
    }

    /// The next record's stored bytes.
    pub(crate) fn leaf(&mut self, bytes: &[u8]) {
        let leaf = leaf_hash(bytes);
        let index = self.tree.size();
        if self.first_difference.is_none() && self.error.is_none() && index < self.views_size {
            match self.views.get(NodeKey { level: 0, index }) {
                Ok(Some(stored)) if stored == leaf => {}
                Ok(_) => self.first_difference = Some(index),
                Err(e) => self.error = Some(e),
            }
        }
        self.tree
            .append_leaf_hash(leaf)
            .expect("an empty store cannot fail");
    }

    /// The verdict once `records` records were read (the walk may stop early at a gap).
    pub(crate) fn finish(
        self,
        views: &Tree<SledNodes<'_>>,
        records: u64,
    ) -> Result<TreeVerdict, ViewsError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let root = self.tree.root();
        let views_root = views.root();
        Ok(TreeVerdict {
            ok: self.first_difference.is_none() && records == self.views_size && root == views_root,
            size: records,
            root: root.to_hex(),
            views_size: self.views_size,
            views_root: views_root.to_hex(),
            first_difference: self.first_difference,
        })
    }
}
