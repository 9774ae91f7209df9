//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): generated from a
//! [`Tree`]'s stored subtrees, and verified by the RFC's algorithms with nothing but hashes.
//!
//! The verifiers demand the exact proof length for the sizes given (no trailing, missing or
//! preceding hashes), take only 32-byte [`Hash`](struct@Hash)es, and never panic, whatever
//! the input.

use crate::store::NodeStore;
use crate::tree::{node_hash, split, Hash, Tree, TreeError};

impl<S: NodeStore> Tree<S> {
    /// The inclusion proof of leaf `index` in the tree of `size` leaves, RFC 9162
    /// `PATH(index, D[0:size])`: hashes from the leaf's sibling up to the root's child.
    ///
    /// # Errors
    /// [`TreeError::SizeBeyondTree`], [`TreeError::IndexBeyondSize`]; store failures.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError<S::Error>> {
        self.check_size(size)?;
        if index >= size {
            return Err(TreeError::IndexBeyondSize { index, size });
        }
        // Walk down from the root; the proof lists the siblings bottom-up.
        let mut proof = Vec::with_capacity(64);
        let (mut lo, mut hi) = (0, size);
        while hi - lo > 1 {
            let k = split(hi - lo);
            if index < lo + k {
                proof.push(self.range_hash_unchecked(lo + k, hi)?);
                hi = lo + k;
            } else {
                proof.push(self.range_hash_unchecked(lo, lo + k)?);
                lo += k;
            }
        }
        proof.reverse();
        Ok(proof)
    }

    /// The consistency proof from the tree of `old_size` leaves to the tree of `new_size`,
    /// RFC 9162 `PROOF(old_size, D[0:new_size])`.
    ///
    /// For `old_size` 0 it returns the empty proof, which is what the witness protocol
    /// (C2SP tlog-witness) sends for an old size of 0; [`verify_consistency`] refuses
    /// that case, as RFC 9162 defines no proof for it, and the witness code handles it itself.
    ///
    /// # Errors
    /// [`TreeError::SizeBeyondTree`], [`TreeError::OldSizeBeyondNewSize`]; store failures.
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, TreeError<S::Error>> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(TreeError::OldSizeBeyondNewSize { old_size, new_size });
        }
        if old_size == 0 {
            return Ok(Vec::new());
        }
        // SUB(m, D[lo:hi], whole) walked from the top; `whole` is true while [lo, hi) is
        // still a prefix of the new tree, whose old part's root the verifier already has.
        let mut proof = Vec::with_capacity(64);
        let (mut lo, mut hi, mut whole) = (0, new_size, true);
        loop {
            if old_size == hi {
                if !whole {
                    proof.push(self.range_hash_unchecked(lo, hi)?);
                }
                break;
            }
            let k = split(hi - lo);
            if old_size <= lo + k {
                proof.push(self.range_hash_unchecked(lo + k, hi)?);
                hi = lo + k;
            } else {
                proof.push(self.range_hash_unchecked(lo, lo + k)?);
                lo += k;
                whole = false;
            }
        }
        proof.reverse();
        Ok(proof)
    }
}

/// Why a proof did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// An inclusion proof for a leaf index at or beyond the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexBeyondSize {
        /// The leaf index claimed.
        index: u64,
        /// The tree size claimed.
        size: u64,
    },
    /// A consistency proof from an old size of 0, which RFC 9162 does not define. The
    /// witness protocol treats old size 0 as trivially consistent with an empty proof; the
    /// witness code handles that case before calling [`verify_consistency`].
    #[error("no consistency proof exists from the empty tree")]
    OldSizeZero,
    /// A consistency proof from a larger tree to a smaller one.
    #[error("old size {old_size} is beyond new size {new_size}")]
    OldSizeBeyondNewSize {
        /// The old size claimed.
        old_size: u64,
        /// The new size claimed.
        new_size: u64,
    },
    /// The proof does not have the number of hashes the sizes call for.
    #[error("proof has {actual} hashes, the sizes call for {expected}")]
    WrongProofLength {
        /// The number the sizes call for.
        expected: usize,
        /// The number given.
        actual: usize,
    },
    /// The inclusion proof leads to another root.
    #[error("inclusion proof leads to another root")]
    RootMismatch,
    /// The consistency proof does not lead to the old root.
    #[error("consistency proof does not lead to the old root")]
    OldRootMismatch,
    /// The consistency proof does not lead to the new root (or, for equal sizes, the two
    /// roots differ).
    #[error("consistency proof does not lead to the new root")]
    NewRootMismatch,
}

/// One step of both verifiers: after a proof hash combined as a left sibling at an even
/// position (the tree's right edge), skip the levels where the node has no sibling.
fn skip_lone_levels(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// How many hashes the verification loop consumes from position `fn_` in a tree whose last
/// position is `sn`: the same walk as the verifiers, without hashing, so a proof of the
/// wrong length is refused before any hashing and named as such.
fn walk_len(mut fn_: u64, mut sn: u64) -> usize {
    let mut n = 0;
    while sn != 0 {
        if fn_ & 1 == 1 || fn_ == sn {
            skip_lone_levels(&mut fn_, &mut sn);
        }
        fn_ >>= 1;
        sn >>= 1;
        n += 1;
    }
    n
}

/// Verifies that `leaf` (a leaf hash) is leaf `index` of the tree of `size` leaves with
/// root `root`, by RFC 9162 §2.1.3.2.
///
/// # Errors
/// [`VerifyError::IndexBeyondSize`], [`VerifyError::WrongProofLength`],
/// [`VerifyError::RootMismatch`].
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexBeyondSize { index, size });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let expected = walk_len(fn_, sn);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let mut r = *leaf;
    for c in proof {
        if sn == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(VerifyError::WrongProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(c, &r);
            skip_lone_levels(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 || r != *root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends the tree of
/// `old_size` leaves with root `old_root`, by RFC 9162 §2.1.4.2.
///
/// An old size of 0 is refused ([`VerifyError::OldSizeZero`]), as in RFC 9162 and the
/// transparency-dev vectors; the witness protocol treats it as trivially consistent, and
/// the witness code handles it before calling this.
///
/// # Errors
/// [`VerifyError::OldSizeZero`], [`VerifyError::OldSizeBeyondNewSize`],
/// [`VerifyError::WrongProofLength`], [`VerifyError::OldRootMismatch`],
/// [`VerifyError::NewRootMismatch`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::OldSizeBeyondNewSize { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::OldSizeZero);
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(VerifyError::WrongProofLength {
                expected: 0,
                actual: proof.len(),
            });
        }
        if old_root != new_root {
            return Err(VerifyError::NewRootMismatch);
        }
        return Ok(());
    }
    // When the old tree is a perfect subtree, its root is the proof's implicit first hash.
    let old_is_subtree = old_size.is_power_of_two();
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let expected = 1 + walk_len(fn_, sn) - usize::from(old_is_subtree);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            actual: proof.len(),
        });
    }
    let (first, rest) = if old_is_subtree {
        (old_root, proof)
    } else {
        // The length check guarantees at least one hash here: expected ≥ 1 when the old
        // root is not prepended.
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => {
                return Err(VerifyError::WrongProofLength {
                    expected,
                    actual: 0,
                })
            }
        }
    };
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(VerifyError::WrongProofLength {
                expected,
                actual: proof.len(),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            skip_lone_levels(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch);
    }
    if sn != 0 || sr != *new_root {
        return Err(VerifyError::NewRootMismatch);
    }
    Ok(())
}
