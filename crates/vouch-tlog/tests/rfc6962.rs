//! The standard RFC 6962 conformance checks: every transparency-dev/merkle inclusion and
//! consistency vector, the RFC 6962 hasher vectors, and the roots of the standard eight
//! leaves, so the tree agrees with every other RFC 6962 implementation (witnesses, C2SP
//! tooling).

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use vouch_tlog::proof::{verify_consistency, verify_inclusion};
use vouch_tlog::tree::{leaf_hash, node_hash, Hash, Tree, EMPTY_ROOT};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/rfc6962"
);

/// The transparency-dev set holds 98 inclusion and 98 consistency files.
const INCLUSION_FILES: usize = 98;
const CONSISTENCY_FILES: usize = 98;

/// Vectors that the Go library accepts but this crate cannot even express: Go compares roots
/// as byte slices of any length, while our verifiers take 32-byte [`Hash`]es only (RFC 9162
/// hashes are 32 bytes; the reference asks to refuse any other length). This one has two
/// equal 12-byte "roots" (`don't care 2`) at equal sizes 1 and 1 with an empty proof; the same
/// case with 32-byte roots is accepted (checked below and in tree_props).
const UNREPRESENTABLE_ACCEPTED: &[&str] =
    &["consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Inclusion {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Consistency {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

/// Every `*.json` file one folder below `dir` (`dir/<case>/*.json`), sorted, so the test
/// names each file it checks.
fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn relative(path: &Path) -> String {
    let base = Path::new(VECTORS);
    path.strip_prefix(base)
        .expect("under the vector folder")
        .to_string_lossy()
        .into_owned()
}

/// Decodes a base64 hash; any value that is not 32 bytes is refused, as the verifier would.
fn hash(text: &str) -> Option<Hash> {
    Hash::from_base64(text).ok()
}

fn hashes(texts: &Option<Vec<String>>) -> Option<Vec<Hash>> {
    texts.iter().flatten().map(|t| hash(t)).collect()
}

#[test]
fn inclusion_vectors() {
    let mut files = Vec::new();
    json_files(&Path::new(VECTORS).join("inclusion"), &mut files);
    assert_eq!(files.len(), INCLUSION_FILES, "inclusion vector files found");
    let (mut accepted, mut refused) = (0, 0);
    for path in &files {
        let name = relative(path);
        let text = fs::read_to_string(path).expect("vector readable");
        let v: Inclusion = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = match (hash(&v.leaf_hash), hash(&v.root), hashes(&v.proof)) {
            (Some(leaf), Some(root), Some(proof)) => {
                verify_inclusion(v.leaf_idx, v.tree_size, &leaf, &proof, &root)
                    .map_err(|e| e.to_string())
            }
            _ => Err("a hash is not 32 bytes of base64".to_owned()),
        };
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{name} ({}): got {result:?}",
            v.desc
        );
        if result.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert_eq!(
        (accepted, refused),
        (6, 92),
        "accepted and refused inclusion vectors"
    );
}

#[test]
fn consistency_vectors() {
    let mut files = Vec::new();
    json_files(&Path::new(VECTORS).join("consistency"), &mut files);
    assert_eq!(
        files.len(),
        CONSISTENCY_FILES,
        "consistency vector files found"
    );
    let (mut accepted, mut refused, mut unrepresentable) = (0, 0, 0);
    for path in &files {
        let name = relative(path);
        let text = fs::read_to_string(path).expect("vector readable");
        let v: Consistency = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let result = match (hash(&v.root1), hash(&v.root2), hashes(&v.proof)) {
            (Some(root1), Some(root2), Some(proof)) => {
                verify_consistency(v.size1, v.size2, &root1, &root2, &proof)
                    .map_err(|e| e.to_string())
            }
            _ => Err("a hash is not 32 bytes of base64".to_owned()),
        };
        if UNREPRESENTABLE_ACCEPTED.contains(&name.as_str()) {
            assert!(!v.want_err && result.is_err(), "{name}: {result:?}");
            unrepresentable += 1;
            continue;
        }
        assert_eq!(
            result.is_err(),
            v.want_err,
            "{name} ({}): got {result:?}",
            v.desc
        );
        if result.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert_eq!(unrepresentable, UNREPRESENTABLE_ACCEPTED.len());
    assert_eq!(
        (accepted, refused),
        (5, 92),
        "accepted and refused consistency vectors"
    );
}

/// The equal-sizes case of the one unrepresentable vector, with 32-byte roots.
#[test]
fn equal_sizes_empty_proof_equal_roots_verifies() {
    let root = Hash([7; 32]);
    assert_eq!(verify_consistency(1, 1, &root, &root, &[]), Ok(()));
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Checks a hash against an independent SHA-256 computation and the documented hex prefix
/// and suffix (`rfc6962/rfc6962_test.go`).
fn check(got: Hash, want: [u8; 32], prefix: &str, suffix: &str) {
    assert_eq!(got, Hash(want));
    let hex = got.to_hex();
    assert!(hex.starts_with(prefix) && hex.ends_with(suffix), "{hex}");
}

#[test]
fn hasher_vectors() {
    check(EMPTY_ROOT, sha256(&[b""]), "e3b0c442", "b855");
    check(Tree::in_memory().root(), sha256(&[b""]), "e3b0c442", "b855");
    check(leaf_hash(b""), sha256(&[&[0], b""]), "6e340b9c", "a01d");
    check(
        leaf_hash(b"L123456"),
        sha256(&[&[0], b"L123456"]),
        "395aa064",
        "4d56",
    );
    let (l, r) = (sha256(&[b"N123"]), sha256(&[b"N456"]));
    // The Go test hashes the raw strings as children, which our typed API cannot: it takes
    // 32-byte children. Check the byte layout with the SHA-256 directly instead, and the API
    // with 32-byte children.
    check(
        Hash(sha256(&[&[1], b"N123", b"N456"])),
        sha256(&[&[1], b"N123N456"]),
        "aa217fe8",
        "6bbb",
    );
    assert_eq!(node_hash(&Hash(l), &Hash(r)), Hash(sha256(&[&[1], &l, &r])));
}

#[test]
fn standard_eight_leaves() {
    let leaves: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    // Full values of `cmd/proofgen/main.go`'s `roots`; the reference documents the prefixes.
    let roots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let prefixes = [
        "6e340b9c", "fac54203", "aeb6bcfe", "d37ee418", "4e3bbb1f", "76e67dad", "ddb89be4",
        "5dc9da79",
    ];
    let mut tree = Tree::in_memory();
    for (i, leaf) in leaves.iter().enumerate() {
        let bytes: Vec<u8> = (0..leaf.len())
            .step_by(2)
            .map(|j| u8::from_str_radix(&leaf[j..j + 2], 16).expect("hex"))
            .collect();
        tree.append(&bytes).expect("append");
        let root = tree.root();
        assert!(root.to_hex().starts_with(prefixes[i]), "size {}", i + 1);
        assert_eq!(
            root,
            Hash::from_hex(roots[i]).expect("hex"),
            "size {}",
            i + 1
        );
    }
    for (m, want) in roots.iter().enumerate() {
        let m = m as u64 + 1;
        assert_eq!(tree.root_at(m).expect("root_at").to_hex(), *want);
    }
}
