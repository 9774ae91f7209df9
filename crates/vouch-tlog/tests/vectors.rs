//! Known-answer vectors for Vouch's transparency formats (`schemas/transparency.md`): a
//! small log's leaf hashes, the root at every size, inclusion and consistency proofs (and
//! proofs that must fail), a checkpoint signed as a C2SP note, the log's and a witness's
//! verifier keys, a tlog-cosignature, a tlog-proof file and a witness's add-checkpoint
//! request.
//!
//! By default the test recomputes `schemas/vectors/tlog.json` and compares it byte for
//! byte; `VOUCH_WRITE_VECTORS=1` writes it instead (only for an intended change). Leaves
//! 8..=10 are the stored bytes of the first three records of `schemas/vectors/signed.json`,
//! so regenerate this file after that one. The seeds are test keys, printed in the file:
//! never trust them.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::cosignature::{self, Cosignature};
use vouch_tlog::note::{key_id, KeyName, Note, SignatureType, VerifierKey};
use vouch_tlog::proof::{verify_consistency, verify_inclusion, VerifyError};
use vouch_tlog::proof_file::ProofFile;
use vouch_tlog::tree::{leaf_hash, node_hash, Hash, Tree, EMPTY_ROOT};
use vouch_tlog::witness::{self, AddCheckpoint, Refusal, WitnessKey, WitnessState};

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/vectors"
    ))
}

/// Writes `value` to `schemas/vectors/<name>` when `VOUCH_WRITE_VECTORS=1`, else checks the
/// committed file is exactly what this version computes.
fn write_or_check(name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("vectors serialize") + "\n";
    let path = vectors_dir().join(name);
    if std::env::var("VOUCH_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::write(&path, text).expect("write a vector file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with VOUCH_WRITE_VECTORS=1",
            path.display()
        )
    });
    assert!(
        committed == text,
        "{} differs from what this version computes: tree hashes, proofs, checkpoints or \
         signatures changed, which breaks checkpoints and proofs already handed out. If the \
         change is intended, regenerate with VOUCH_WRITE_VECTORS=1 cargo test -p vouch-tlog \
         --test vectors",
        path.display()
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "even hex");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hashes(list: &[Hash]) -> Value {
    Value::from(list.iter().map(Hash::to_hex).collect::<Vec<_>>())
}

/// The test seeds: 32 repeated bytes each. Test keys only, published in the file.
const LOG_SEED: u8 = 0x44;
const WITNESS_SEED: u8 = 0x55;
/// A log identity as an embedded log reports it, and the default origin made from it.
const LOG_IDENTITY: &str = "embedded:00112233445566778899aabbccddeeff";
const ORIGIN: &str = "vouch/embedded:00112233445566778899aabbccddeeff";
const WITNESS_NAME: &str = "witness.example";
/// 2026-12-01T00:00:00Z.
const COSIGNED_AT: u64 = 1_764_547_200;

/// Leaves 0..=7: short fixed byte strings (the eight leaves the transparency-dev and
/// certificate-transparency test suites use, so their published roots cross-check these).
const SHORT_LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// The leaves: the short strings, then the stored bytes of `signed.json` positions 1..=3.
fn leaves() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = SHORT_LEAVES
        .iter()
        .map(|h| ("a short fixed byte string".to_owned(), unhex(h)))
        .collect();
    let signed: Value = serde_json::from_str(
        &std::fs::read_to_string(vectors_dir().join("signed.json")).expect("signed.json"),
    )
    .expect("signed.json is JSON");
    for record in &signed["records"].as_array().expect("records")[..3] {
        let position = record["position"].as_u64().expect("position");
        out.push((
            format!("the stored bytes of signed.json position {position}"),
            unhex(record["stored"].as_str().expect("stored")),
        ));
    }
    out
}

fn verify_error(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::IndexBeyondSize { .. } => "index_beyond_size",
        VerifyError::OldSizeZero => "old_size_zero",
        VerifyError::OldSizeBeyondNewSize { .. } => "old_size_beyond_new_size",
        VerifyError::WrongProofLength { .. } => "wrong_proof_length",
        VerifyError::RootMismatch => "root_mismatch",
        VerifyError::OldRootMismatch => "old_root_mismatch",
        VerifyError::NewRootMismatch => "new_root_mismatch",
        _ => "other",
    }
}

/// A consistency case that must fail: what is wrong, old size, new size, old root, new
/// root, proof.
type ConsistencyCase = (&'static str, u64, u64, Hash, Hash, Vec<Hash>);

fn flip(list: &[Hash], i: usize) -> Vec<Hash> {
    let mut out = list.to_vec();
    out[i].0[0] ^= 0x01;
    out
}

#[test]
fn tlog_vectors() {
    // --- The tree ---
    let leaves = leaves();
    let n = leaves.len() as u64;
    let mut tree = Tree::in_memory();
    for (_, bytes) in &leaves {
        tree.append(bytes).expect("append");
    }
    assert_eq!(tree.root_at(0).unwrap(), EMPTY_ROOT);
    assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    let leaf_values: Vec<Value> = leaves
        .iter()
        .enumerate()
        .map(|(i, (what, bytes))| {
            json!({
                "index": i,
                "what": what,
                "bytes": hex(bytes),
                "leaf_hash": leaf_hash(bytes).to_hex(),
            })
        })
        .collect();
    let roots: Vec<Value> = (0..=n)
        .map(|size| json!({ "size": size, "root": tree.root_at(size).unwrap().to_hex() }))
        .collect();
    let node_example = node_hash(&leaf_hash(&leaves[0].1), &leaf_hash(&leaves[1].1));
    assert_eq!(node_example, tree.root_at(2).unwrap());

    // --- Inclusion proofs ---
    let inclusion_cases: [(u64, u64); 9] = [
        (0, 1),
        (0, 2),
        (2, 3),
        (3, 6),
        (0, 8),
        (5, 8),
        (7, 11),
        (8, 11),
        (10, 11),
    ];
    let inclusion: Vec<Value> = inclusion_cases
        .iter()
        .map(|&(index, size)| {
            let proof = tree.inclusion_proof(index, size).unwrap();
            let leaf = leaf_hash(&leaves[index as usize].1);
            let root = tree.root_at(size).unwrap();
            verify_inclusion(index, size, &leaf, &proof, &root).expect("inclusion verifies");
            json!({
                "index": index,
                "size": size,
                "leaf_hash": leaf.to_hex(),
                "root": root.to_hex(),
                "proof": hashes(&proof),
            })
        })
        .collect();

    // --- Consistency proofs ---
    let consistency_cases: [(u64, u64); 9] = [
        (1, 1),
        (1, 2),
        (1, 8),
        (2, 5),
        (3, 7),
        (4, 8),
        (6, 8),
        (5, 11),
        (8, 11),
    ];
    let consistency: Vec<Value> = consistency_cases
        .iter()
        .map(|&(m, size)| {
            let proof = tree.consistency_proof(m, size).unwrap();
            let (r1, r2) = (tree.root_at(m).unwrap(), tree.root_at(size).unwrap());
            verify_consistency(m, size, &r1, &r2, &proof).expect("consistency verifies");
            json!({
                "old_size": m,
                "new_size": size,
                "old_root": r1.to_hex(),
                "new_root": r2.to_hex(),
                "proof": hashes(&proof),
            })
        })
        .collect();

    // --- Proofs that must fail, with the reason vouch gives ---
    let mut invalid = Vec::new();
    {
        let (index, size) = (5u64, 8u64);
        let good = tree.inclusion_proof(index, size).unwrap();
        let leaf = leaf_hash(&leaves[index as usize].1);
        let root = tree.root_at(size).unwrap();
        let mut extra = good.clone();
        extra.push(root);
        let mut preceding = vec![root];
        preceding.extend_from_slice(&good);
        let cases: Vec<(&str, u64, u64, Hash, Vec<Hash>)> = vec![
            (
                "a bit flipped in the first hash",
                index,
                size,
                leaf,
                flip(&good, 0),
            ),
            ("a trailing extra hash", index, size, leaf, extra),
            ("a preceding extra hash", index, size, leaf, preceding),
            (
                "the last hash missing",
                index,
                size,
                leaf,
                good[..good.len() - 1].to_vec(),
            ),
            (
                "the proof of another leaf's index",
                index + 1,
                size,
                leaf,
                good.clone(),
            ),
            ("an index at the size", size, size, leaf, good.clone()),
        ];
        for (what, index, size, leaf, proof) in cases {
            let err = verify_inclusion(index, size, &leaf, &proof, &root).unwrap_err();
            invalid.push(json!({
                "kind": "inclusion",
                "what": what,
                "index": index,
                "size": size,
                "leaf_hash": leaf.to_hex(),
                "root": root.to_hex(),
                "proof": hashes(&proof),
                "vouch_error": verify_error(&err),
            }));
        }
    }
    {
        let (m, size) = (6u64, 11u64);
        let good = tree.consistency_proof(m, size).unwrap();
        let (r1, r2) = (tree.root_at(m).unwrap(), tree.root_at(size).unwrap());
        let mut extra = good.clone();
        extra.push(r2);
        let mut preceding = vec![r1];
        preceding.extend_from_slice(&good);
        let last = good.len() - 1;
        let cases: Vec<ConsistencyCase> = vec![
            (
                "a bit flipped in the first hash",
                m,
                size,
                r1,
                r2,
                flip(&good, 0),
            ),
            (
                "a bit flipped in the last hash",
                m,
                size,
                r1,
                r2,
                flip(&good, last),
            ),
            ("a trailing extra hash", m, size, r1, r2, extra),
            ("the old root put in front", m, size, r1, r2, preceding),
            (
                "another old root (a split view at the old size)",
                m,
                size,
                leaf_hash(b"another history"),
                r2,
                good.clone(),
            ),
            ("old size 0", 0, size, EMPTY_ROOT, r2, Vec::new()),
            (
                "equal sizes with another root",
                size,
                size,
                r1,
                r2,
                Vec::new(),
            ),
        ];
        for (what, m, size, r1, r2, proof) in cases {
            let err = verify_consistency(m, size, &r1, &r2, &proof).unwrap_err();
            invalid.push(json!({
                "kind": "consistency",
                "what": what,
                "old_size": m,
                "new_size": size,
                "old_root": r1.to_hex(),
                "new_root": r2.to_hex(),
                "proof": hashes(&proof),
                "vouch_error": verify_error(&err),
            }));
        }
    }

    // --- Keys ---
    let log_key = SigningKey::from_bytes(&[LOG_SEED; 32]);
    let witness_key = SigningKey::from_bytes(&[WITNESS_SEED; 32]);
    let origin = KeyName::new(ORIGIN).unwrap();
    let witness_name = KeyName::new(WITNESS_NAME).unwrap();
    let log_vkey = VerifierKey::new(
        origin.clone(),
        SignatureType::Ed25519,
        log_key.verifying_key(),
    )
    .unwrap();
    let witness_vkey = VerifierKey::new(
        witness_name.clone(),
        SignatureType::CosignatureV1,
        witness_key.verifying_key(),
    )
    .unwrap();
    let key_id_input = |name: &str, ty: u8, key: &SigningKey| {
        let mut input = name.as_bytes().to_vec();
        input.extend_from_slice(&[0x0a, ty]);
        input.extend_from_slice(key.verifying_key().as_bytes());
        input
    };
    let log_id_input = key_id_input(ORIGIN, 0x01, &log_key);
    let witness_id_input = key_id_input(WITNESS_NAME, 0x04, &witness_key);
    assert_eq!(
        key_id(&origin, 0x01, log_key.verifying_key().as_bytes()).0,
        Sha256::digest(&log_id_input)[..4]
    );
    assert_eq!(VerifierKey::parse(&log_vkey.to_string()).unwrap(), log_vkey);
    assert_eq!(
        VerifierKey::parse(&witness_vkey.to_string()).unwrap(),
        witness_vkey
    );

    // --- Checkpoints at sizes 8 and 11, signed by the log ---
    let sign = |size: u64| {
        let c = Checkpoint::new(ORIGIN, size, tree.root_at(size).unwrap()).unwrap();
        let note = checkpoint::sign(&c, &log_key).unwrap();
        assert_eq!(checkpoint::verify(&note, &log_vkey).unwrap(), c);
        assert_eq!(Note::parse(note.to_text().as_bytes()).unwrap(), note);
        (c, note)
    };
    let (cp8, note8) = sign(8);
    let (cp11, note11) = sign(11);
    let log_line = &note11.signatures()[0];
    let log_line_bytes = {
        let mut raw = log_line.key_id().0.to_vec();
        raw.extend_from_slice(log_line.signature());
        raw
    };

    // --- A witness that cosigned the size-8 checkpoint cosigns size 11 at a fixed time ---
    let proof_8_11 = tree.consistency_proof(8, 11).unwrap();
    let request = AddCheckpoint::new(8, proof_8_11.clone(), note11.clone()).unwrap();
    let request_text = request.to_text();
    assert_eq!(
        AddCheckpoint::parse(request_text.as_bytes()).unwrap(),
        request
    );
    let witness = WitnessKey::new(witness_name.clone(), witness_key.clone());
    let state = WitnessState::from_note(note8.clone()).unwrap();
    let cosigned = witness::add_checkpoint(
        &request,
        std::slice::from_ref(&log_vkey),
        Some(&state),
        &witness,
        COSIGNED_AT,
    )
    .expect("the witness cosigns a consistent extension");
    assert!(cosigned.advanced);
    let cosig_line = cosigned.cosignature;
    assert_eq!(
        cosig_line,
        cosignature::cosign(&cp11, &witness_name, &witness_key, COSIGNED_AT).unwrap()
    );
    let decoded = Cosignature::from_note_signature(&cosig_line).unwrap();
    assert_eq!(decoded.timestamp(), COSIGNED_AT);
    let cosig_line_bytes = {
        let mut raw = cosig_line.key_id().0.to_vec();
        raw.extend_from_slice(cosig_line.signature());
        raw
    };
    assert_eq!(cosig_line_bytes.len(), 76);
    let mut cosigned_note = note11.clone();
    cosigned_note.push_signature(cosig_line.clone()).unwrap();
    let count =
        cosignature::count_cosignatures(&cosigned_note, std::slice::from_ref(&witness_vkey), 1)
            .unwrap();
    assert!(count.is_met());
    // The witness refuses the same request from a state of another size-8 root.
    let mut fork = Tree::in_memory();
    for i in 0..8u8 {
        fork.append(&[0xf0, i]).unwrap();
    }
    let fork8 = checkpoint::sign(
        &Checkpoint::new(ORIGIN, 8, fork.root_at(8).unwrap()).unwrap(),
        &log_key,
    )
    .unwrap();
    let refused = witness::add_checkpoint(
        &AddCheckpoint::new(8, Vec::new(), fork8.clone()).unwrap(),
        std::slice::from_ref(&log_vkey),
        Some(&state),
        &witness,
        COSIGNED_AT,
    )
    .unwrap_err();
    assert!(matches!(refused, Refusal::SplitView { .. }));

    // --- The tlog-proof of leaf 8 (signed.json position 1) against the cosigned note ---
    let proof_index = 8u64;
    let proof_file = ProofFile::new(
        None,
        proof_index,
        tree.inclusion_proof(proof_index, 11).unwrap(),
        cosigned_note.clone(),
    )
    .unwrap();
    let proof_text = proof_file.to_text();
    assert_eq!(ProofFile::parse(proof_text.as_bytes()).unwrap(), proof_file);
    verify_inclusion(
        proof_index,
        11,
        &leaf_hash(&leaves[proof_index as usize].1),
        proof_file.inclusion(),
        &cp11.root(),
    )
    .unwrap();
    let prove_consistency_text = {
        let mut s = format!("old {}\n", cp8.size());
        for h in &proof_8_11 {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s
    };
    assert!(request_text.starts_with(&prove_consistency_text));

    let value = json!({
        "about": "Vouch's transparency formats (schemas/transparency.md): an RFC 6962 tree over 11 leaves (8 short byte strings, then the stored bytes of signed.json positions 1-3), every leaf hash, the root at every size 0..=11, inclusion and consistency proofs, proofs that must fail with vouch's reason, checkpoints at sizes 8 and 11 signed as C2SP notes by a test log key, the log's and a witness's vkeys, a tlog-cosignature of the size-11 checkpoint at a fixed time, a tlog-proof file and an add-checkpoint request. Hashes are lowercase hex here; in checkpoints, proof files and requests they are standard padded base64, as the formats say.",
        "hashing": {
            "empty_root": EMPTY_ROOT.to_hex(),
            "leaf_hash": "SHA-256(0x00 || bytes)",
            "node_hash": "SHA-256(0x01 || left || right)",
            "node_example": {
                "left": leaf_hash(&leaves[0].1).to_hex(),
                "right": leaf_hash(&leaves[1].1).to_hex(),
                "node": node_example.to_hex(),
            },
        },
        "leaves": leaf_values,
        "roots": roots,
        "inclusion": inclusion,
        "consistency": consistency,
        "invalid_proofs": invalid,
        "keys": {
            "note": "Test keys: the seeds are published here, so anyone can sign with them. Never trust them.",
            "log": {
                "seed": hex(&[LOG_SEED; 32]),
                "public_key": hex(log_key.verifying_key().as_bytes()),
                "log_identity": LOG_IDENTITY,
                "name": ORIGIN,
                "type": 1,
                "key_id_input": hex(&log_id_input),
                "key_id": log_vkey.id().to_string(),
                "vkey": log_vkey.to_string(),
            },
            "witness": {
                "seed": hex(&[WITNESS_SEED; 32]),
                "public_key": hex(witness_key.verifying_key().as_bytes()),
                "name": WITNESS_NAME,
                "type": 4,
                "key_id_input": hex(&witness_id_input),
                "key_id": witness_vkey.id().to_string(),
                "vkey": witness_vkey.to_string(),
            },
        },
        "checkpoints": [
            {
                "size": 8,
                "root": cp8.root().to_hex(),
                "text": cp8.to_text(),
                "signed_note": note8.to_text(),
            },
            {
                "size": 11,
                "root": cp11.root().to_hex(),
                "root_base64": cp11.root().to_base64(),
                "text": cp11.to_text(),
                "signed_note": note11.to_text(),
                "signature_line": log_line.to_line(),
                "signature_line_bytes": hex(&log_line_bytes),
                "signature": hex(log_line.signature()),
            },
        ],
        "cosignature": {
            "of_checkpoint_size": 11,
            "timestamp": COSIGNED_AT,
            "signed_message": String::from_utf8(cosignature::signed_message(&cp11.to_text(), COSIGNED_AT)).unwrap(),
            "line": cosig_line.to_line(),
            "line_bytes": hex(&cosig_line_bytes),
            "signature": hex(decoded.signature()),
            "cosigned_note": cosigned_note.to_text(),
        },
        "prove_consistency": {
            "from_size": 8,
            "to_size": 11,
            "output": prove_consistency_text,
            "add_checkpoint_request": request_text,
            "witness_state_before": note8.to_text(),
        },
        "split_view": {
            "what": "a checkpoint of size 8 with another root, signed by the same log key: a witness holding the size-8 checkpoint above refuses it (422, split view)",
            "signed_note": fork8.to_text(),
            "add_checkpoint_request": format!("old 8\n\n{}", fork8.to_text()),
        },
        "tlog_proof": {
            "index": proof_index,
            "leaf_hash": leaf_hash(&leaves[proof_index as usize].1).to_hex(),
            "file": proof_text,
        },
    });
    write_or_check("tlog.json", &value);
}
