//! Properties of the tree and proofs against a naive RFC 6962 model written straight from
//! the definitions: every size up to 64 exhaustively, then random larger trees; and the
//! negative side: any change to a proof or to what it claims makes verification fail.

use proptest::prelude::*;
use vouch_tlog::proof::{verify_consistency, verify_inclusion, VerifyError};
use vouch_tlog::store::{MemoryStore, NodeKey, NodeStore};
use vouch_tlog::tree::{leaf_hash, node_hash, Hash, Tree, TreeError, EMPTY_ROOT};

// ---- the naive model: recursion over leaf hashes, as RFC 9162 §2.1 writes it ----

fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = split(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() == 1 {
        return Vec::new();
    }
    let k = split(d.len());
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn sub(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
    if m == d.len() {
        return if whole { Vec::new() } else { vec![mth(d)] };
    }
    let k = split(d.len());
    if m <= k {
        let mut p = sub(m, &d[..k], whole);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = sub(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

/// Distinct leaves of varied lengths (0 to 40 bytes), from a seed.
fn leaves(seed: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut x = seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let len = 8 + (i % 33);
            let mut out = (i as u64).to_be_bytes().to_vec();
            while out.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.push(x as u8);
            }
            out
        })
        .collect()
}

fn build(leaves: &[Vec<u8>]) -> (Tree<MemoryStore>, Vec<Hash>) {
    let mut tree = Tree::in_memory();
    for (i, leaf) in leaves.iter().enumerate() {
        assert_eq!(tree.append(leaf).expect("append"), i as u64);
    }
    (tree, leaves.iter().map(|l| leaf_hash(l)).collect())
}

fn flip(proof: &[Hash], at: usize, bit: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[at].0[bit / 8] ^= 1 << (bit % 8);
    p
}

/// Bits to flip in each hash: all of them in small trees, a spread elsewhere.
fn bits(all: bool) -> Vec<usize> {
    if all {
        (0..256).collect()
    } else {
        vec![0, 1, 7, 8, 100, 128, 254, 255]
    }
}

/// Every way of damaging an inclusion proof this suite checks; each must fail.
fn inclusion_must_fail(index: u64, size: u64, d: &[Hash], proof: &[Hash], all_bits: bool) {
    let leaf = d[index as usize];
    let root = mth(&d[..size as usize]);
    let fails = |i: u64, n: u64, l: &Hash, p: &[Hash], r: &Hash, what: &str| {
        assert!(
            verify_inclusion(i, n, l, p, r).is_err(),
            "{what}: index {index} size {size} accepted"
        );
    };
    for at in 0..proof.len() {
        for bit in bits(all_bits) {
            fails(
                index,
                size,
                &leaf,
                &flip(proof, at, bit),
                &root,
                "flipped bit",
            );
        }
    }
    for extra in [EMPTY_ROOT, root, leaf, Hash([0; 32])] {
        let mut p = proof.to_vec();
        p.push(extra);
        fails(index, size, &leaf, &p, &root, "trailing hash");
        p.pop();
        p.insert(0, extra);
        fails(index, size, &leaf, &p, &root, "preceding hash");
    }
    if !proof.is_empty() {
        fails(
            index,
            size,
            &leaf,
            &proof[..proof.len() - 1],
            &root,
            "missing last hash",
        );
        fails(index, size, &leaf, &proof[1..], &root, "missing first hash");
    }
    for wrong in [index.wrapping_sub(1), index + 1, index ^ 2, index + size] {
        if wrong != index {
            fails(wrong, size, &leaf, proof, &root, "wrong index");
        }
    }
    for wrong in [size - 1, size + 1, size * 2, size / 2] {
        if wrong != size && (wrong as usize) <= d.len() {
            // Against the root the tree really had at that size.
            let wrong_root = mth(&d[..wrong as usize]);
            fails(index, wrong, &leaf, proof, &wrong_root, "wrong size");
        }
    }
    for other in [
        d[(index as usize + 1) % d.len()],
        leaf_hash(b"another leaf"),
        root,
    ] {
        if other != leaf {
            fails(index, size, &other, proof, &root, "another leaf");
        }
    }
    fails(index, size, &leaf, proof, &leaf_hash(b"x"), "another root");
}

/// Every way of damaging a consistency proof this suite checks; each must fail.
fn consistency_must_fail(old: u64, new: u64, d: &[Hash], proof: &[Hash], all_bits: bool) {
    let root_of = |n: u64| mth(&d[..n as usize]);
    let (r1, r2) = (root_of(old), root_of(new));
    let fails = |m: u64, n: u64, a: &Hash, b: &Hash, p: &[Hash], what: &str| {
        assert!(
            verify_consistency(m, n, a, b, p).is_err(),
            "{what}: {old} -> {new} accepted"
        );
    };
    for at in 0..proof.len() {
        for bit in bits(all_bits) {
            fails(old, new, &r1, &r2, &flip(proof, at, bit), "flipped bit");
        }
    }
    for extra in [EMPTY_ROOT, r1, r2, Hash([0; 32])] {
        let mut p = proof.to_vec();
        p.push(extra);
        fails(old, new, &r1, &r2, &p, "trailing hash");
        p.pop();
        p.insert(0, extra);
        fails(old, new, &r1, &r2, &p, "preceding hash");
    }
    if !proof.is_empty() {
        fails(
            old,
            new,
            &r1,
            &r2,
            &proof[..proof.len() - 1],
            "missing last hash",
        );
        fails(old, new, &r1, &r2, &proof[1..], "missing first hash");
    }
    // Another old size, with the root it really had (a rewritten or truncated history).
    for wrong in [old - 1, old + 1, old * 2, old / 2] {
        if wrong != old && wrong <= new && wrong != 0 {
            fails(wrong, new, &root_of(wrong), &r2, proof, "wrong old size");
        }
        if wrong != old && wrong != 0 {
            fails(wrong, new, &r1, &r2, proof, "wrong old size, same root");
        }
    }
    for wrong in [new - 1, new + 1, new * 2, new / 2] {
        if wrong != new && wrong >= old && (wrong as usize) <= d.len() {
            fails(old, wrong, &r1, &root_of(wrong), proof, "wrong new size");
        }
    }
    let other = leaf_hash(b"another root");
    fails(old, new, &other, &r2, proof, "another old root");
    fails(old, new, &r1, &other, proof, "another new root");
    if r1 != r2 {
        fails(old, new, &r2, &r1, proof, "swapped roots");
    }
}

#[test]
fn every_size_to_64() {
    const MAX: usize = 64;
    let (tree, d) = build(&leaves(1, MAX));
    // The incremental root after each append equals the naive MTH.
    let mut grown = Tree::in_memory();
    for (n, leaf) in leaves(1, MAX).iter().enumerate() {
        grown.append(leaf).expect("append");
        assert_eq!(grown.root(), mth(&d[..=n]), "root at size {}", n + 1);
    }
    let (mut inclusion, mut consistency) = (0, 0);
    for n in 1..=MAX {
        let size = n as u64;
        assert_eq!(tree.root_at(size).expect("root_at"), mth(&d[..n]));
        let root = mth(&d[..n]);
        for i in 0..n {
            let proof = tree
                .inclusion_proof(i as u64, size)
                .expect("inclusion proof");
            assert_eq!(proof, path(i, &d[..n]), "PATH({i}, {n})");
            assert_eq!(
                verify_inclusion(i as u64, size, &d[i], &proof, &root),
                Ok(())
            );
            inclusion_must_fail(i as u64, size, &d, &proof, n <= 16);
            inclusion += 1;
        }
        for m in 1..=n {
            let proof = tree
                .consistency_proof(m as u64, size)
                .expect("consistency proof");
            assert_eq!(proof, sub(m, &d[..n], true), "PROOF({m}, {n})");
            let old_root = mth(&d[..m]);
            assert_eq!(
                verify_consistency(m as u64, size, &old_root, &root, &proof),
                Ok(())
            );
            consistency_must_fail(m as u64, size, &d, &proof, n <= 16);
            consistency += 1;
        }
    }
    assert_eq!(tree.root_at(0).expect("root_at"), EMPTY_ROOT);
    assert_eq!((inclusion, consistency), (2080, 2080));
}

#[test]
fn range_hash_is_mth_of_any_range() {
    let (tree, d) = build(&leaves(2, 40));
    for lo in 0..40 {
        for hi in lo + 1..=40 {
            assert_eq!(
                tree.range_hash(lo as u64, hi as u64).expect("range"),
                mth(&d[lo..hi]),
                "[{lo}, {hi})"
            );
        }
    }
    assert!(matches!(
        tree.range_hash(3, 3),
        Err(TreeError::EmptyRange { lo: 3, hi: 3 })
    ));
    assert!(matches!(
        tree.range_hash(0, 41),
        Err(TreeError::SizeBeyondTree {
            size: 41,
            tree_size: 40
        })
    ));
}

#[test]
fn requests_beyond_the_tree_are_refused() {
    let (tree, _) = build(&leaves(3, 10));
    assert!(matches!(
        tree.inclusion_proof(10, 10),
        Err(TreeError::IndexBeyondSize {
            index: 10,
            size: 10
        })
    ));
    assert!(matches!(
        tree.inclusion_proof(0, 11),
        Err(TreeError::SizeBeyondTree { .. })
    ));
    assert!(matches!(
        tree.consistency_proof(5, 4),
        Err(TreeError::OldSizeBeyondNewSize { .. })
    ));
    assert!(matches!(
        tree.consistency_proof(1, 11),
        Err(TreeError::SizeBeyondTree { .. })
    ));
    assert!(matches!(
        tree.root_at(11),
        Err(TreeError::SizeBeyondTree { .. })
    ));
    // Old size 0: the empty proof the witness protocol sends; the verifier refuses it.
    assert_eq!(
        tree.consistency_proof(0, 10).expect("proof"),
        Vec::<Hash>::new()
    );
    assert_eq!(
        verify_consistency(0, 10, &EMPTY_ROOT, &tree.root(), &[]),
        Err(VerifyError::OldSizeZero)
    );
}

#[test]
fn verifier_errors_name_what_failed() {
    let (tree, d) = build(&leaves(4, 8));
    let root = tree.root();
    let proof = tree.inclusion_proof(2, 8).expect("proof");
    assert_eq!(
        verify_inclusion(8, 8, &d[2], &proof, &root),
        Err(VerifyError::IndexBeyondSize { index: 8, size: 8 })
    );
    assert_eq!(
        verify_inclusion(2, 8, &d[2], &proof[..2], &root),
        Err(VerifyError::WrongProofLength {
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        verify_inclusion(2, 8, &d[3], &proof, &root),
        Err(VerifyError::RootMismatch)
    );
    let old = tree.root_at(3).expect("root");
    let proof = tree.consistency_proof(3, 8).expect("proof");
    assert_eq!(
        verify_consistency(4, 3, &old, &root, &proof),
        Err(VerifyError::OldSizeBeyondNewSize {
            old_size: 4,
            new_size: 3
        })
    );
    assert_eq!(
        verify_consistency(3, 8, &root, &root, &proof),
        Err(VerifyError::OldRootMismatch)
    );
    assert_eq!(
        verify_consistency(3, 8, &old, &old, &proof),
        Err(VerifyError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(8, 8, &root, &old, &[]),
        Err(VerifyError::NewRootMismatch)
    );
    assert_eq!(
        verify_consistency(8, 8, &root, &root, &[root]),
        Err(VerifyError::WrongProofLength {
            expected: 0,
            actual: 1
        })
    );
}

#[test]
fn reopening_the_store_continues_the_same_tree() {
    let all = leaves(5, 300);
    let (first, _) = build(&all[..123]);
    let mut reopened = Tree::open(first.into_store()).expect("open");
    assert_eq!(reopened.size(), 123);
    for leaf in &all[123..] {
        reopened.append(leaf).expect("append");
    }
    let (whole, d) = build(&all);
    assert_eq!(reopened.root(), whole.root());
    assert_eq!(reopened.root(), mth(&d));
}

#[test]
fn a_store_missing_a_node_is_reported() {
    // A store that claims 3 leaves but holds none: open names the first subtree it lacks.
    let mut store = MemoryStore::new();
    store.put(&[], 3).expect("put");
    assert!(matches!(
        Tree::open(store),
        Err(TreeError::MissingNode {
            key: NodeKey { level: 1, index: 0 },
            tree_size: 3
        })
    ));
}

#[test]
fn hash_text_forms_round_trip() {
    let h = leaf_hash(b"vouch");
    assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
    assert_eq!(Hash::from_hex(&h.to_hex().to_uppercase()), Ok(h));
    assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
    assert_eq!(h.to_string(), h.to_hex());
    assert!(Hash::from_hex(&h.to_hex()[1..]).is_err());
    assert!(Hash::from_hex(&format!("{}g", &h.to_hex()[1..])).is_err());
    assert!(Hash::from_base64("ZG9uJ3QgY2FyZSAy").is_err());
    assert!(Hash::from_slice(&[0; 31]).is_err());
    let key = NodeKey {
        level: 5,
        index: 0x0102,
    };
    assert_eq!(NodeKey::from_bytes(&key.to_bytes()), Some(key));
    assert_eq!(NodeKey::from_bytes(&[64, 0, 0, 0, 0, 0, 0, 0, 0]), None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_large_trees(size in 1usize..=5000, seed: u64, i in any::<prop::sample::Index>(),
                          m in any::<prop::sample::Index>(), bit in 0usize..256) {
        let (tree, d) = build(&leaves(seed, size));
        let n = size as u64;
        let root = mth(&d);
        prop_assert_eq!(tree.root(), root);
        let index = i.index(size);
        let proof = tree.inclusion_proof(index as u64, n).expect("proof");
        prop_assert_eq!(&proof, &path(index, &d));
        prop_assert_eq!(verify_inclusion(index as u64, n, &d[index], &proof, &root), Ok(()));
        for at in 0..proof.len() {
            prop_assert!(verify_inclusion(index as u64, n, &d[index], &flip(&proof, at, bit), &root).is_err());
        }
        inclusion_must_fail(index as u64, n, &d, &proof, false);

        let old = m.index(size) + 1;
        let old_root = tree.root_at(old as u64).expect("root_at");
        prop_assert_eq!(old_root, mth(&d[..old]));
        let proof = tree.consistency_proof(old as u64, n).expect("proof");
        prop_assert_eq!(&proof, &sub(old, &d, true));
        prop_assert_eq!(verify_consistency(old as u64, n, &old_root, &root, &proof), Ok(()));
        for at in 0..proof.len() {
            prop_assert!(verify_consistency(old as u64, n, &old_root, &root, &flip(&proof, at, bit)).is_err());
        }
        consistency_must_fail(old as u64, n, &d, &proof, false);
    }

    /// The verifiers take anything without panicking.
    #[test]
    fn verifiers_never_panic(index: u64, size: u64, old: u64,
                             proof in prop::collection::vec(any::<[u8; 32]>(), 0..70),
                             a: [u8; 32], b: [u8; 32]) {
        let proof: Vec<Hash> = proof.into_iter().map(Hash).collect();
        let (a, b) = (Hash(a), Hash(b));
        for (i, n) in [(index, size), (index % 1024, size % 2048), (u64::MAX - 1, u64::MAX), (0, u64::MAX)] {
            let _ = verify_inclusion(i, n, &a, &proof, &b);
        }
        for (m, n) in [(old, size), (old % 1024, size % 2048), (u64::MAX, u64::MAX), (1, u64::MAX), (u64::MAX - 1, u64::MAX)] {
            let _ = verify_consistency(m, n, &a, &b, &proof);
            let _ = verify_consistency(m, n, &a, &a, &[]);
        }
    }
}
