//! A known-answer audit bundle (`schemas/audit-bundle.md`): the promotion of the vectors'
//! artifact by decision 1 of `schemas/vectors/signed.json`, as `vouch audit --bundle`
//! lays it out, with the auditor's trust list that verifies it. The test checks that
//! `verify_bundle` accepts it and refuses it with any one record but the forced deployment
//! left out, and that the
//! committed `bundle.json` and `bundle-trust.json` are exactly what it builds
//! (`VOUCH_WRITE_VECTORS=1` writes them instead).

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_ledger::{
    verify_bundle, verify_bundle_in_log, Bundle, BundleLog, BundleRecord, Trust, BUNDLE_FORMAT,
};
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::cosignature::cosign;
use vouch_tlog::note::{KeyName, SignatureType, VerifierKey};
use vouch_tlog::policy::Policy;
use vouch_tlog::tree::Tree;

/// The log and witness test keys of `tlog.json` (published seeds: never trust them).
const LOG_SEED: [u8; 32] = [0x44; 32];
const WITNESS_SEED: [u8; 32] = [0x55; 32];
const ORIGIN: &str = "vouch/embedded:00112233445566778899aabbccddeeff";
const WITNESS: &str = "witness.example";
/// The cosignature's time: 2025-12-01T00:00:00Z, as in `tlog.json`.
const COSIGNED_AT: u64 = 1_764_547_200;

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
        "{} differs from what this version builds; if the bundle format changed on purpose, \
         regenerate with VOUCH_WRITE_VECTORS=1 cargo test -p vouch-ledger --test bundle_vectors",
        path.display()
    );
}

/// The log of `signed.json` (itself checked by vouch-chain's vectors test).
fn signed() -> Value {
    let path = vectors_dir().join("signed.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("signed.json is JSON")
}

fn trust(signed: &Value) -> Value {
    let keys: Vec<Value> = signed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| {
            json!({
                "name": k["name"],
                "role": k["role"],
                "key": k["public_key"],
                "key_id": k["key_id"],
            })
        })
        .collect();
    json!({ "keys": keys })
}

#[test]
fn audit_bundle() {
    let signed = signed();
    let trust_json = trust(&signed);
    let trust: Trust = serde_json::from_value(trust_json.clone()).expect("a trust list");
    let records: Vec<BundleRecord> = signed["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| BundleRecord {
            position: r["position"].as_u64().expect("a position"),
            key: r["key"].as_str().expect("a key").to_owned(),
            event_id: r["event_id"].as_str().expect("an id").to_owned(),
            bytes: r["stored"].as_str().expect("hex").to_owned(),
            inclusion: None,
        })
        .collect();
    let artifact = {
        let decision = signed["records"]
            .as_array()
            .expect("records")
            .iter()
            .find(|r| r["position"] == 10)
            .expect("the resolution");
        let json: Value =
            serde_json::from_str(decision["json"].as_str().expect("json")).expect("JSON");
        json["data"]["artifacts"][0]
            .as_str()
            .expect("an artifact")
            .to_owned()
    };
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        artifact,
        decision: 1,
        records,
        keys: trust.keys().to_vec(),
        log: None,
    };
    let checks = verify_bundle(&bundle, &trust);
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c.ok),
        "the vector bundle verifies: {checks:#?}"
    );
    // Every record the promotion rests on is needed: without any one of them the bundle
    // fails. The forced deployment (position 12) is not: nothing in the other records says
    // it exists, so its absence cannot be detected from the bundle alone (documented in
    // schemas/audit-bundle.md).
    for left_out in 0..bundle.records.len() {
        let mut partial = bundle.clone();
        let gone = partial.records.remove(left_out);
        let checks = verify_bundle(&partial, &trust);
        assert_eq!(
            checks.iter().any(|c| !c.ok),
            gone.position != 12,
            "the bundle without position {}: {checks:#?}",
            gone.position
        );
    }
    write_or_check(
        "bundle.json",
        &serde_json::to_value(&bundle).expect("a bundle serializes"),
    );
    write_or_check("bundle-trust.json", &trust_json);

    // The same bundle proven against a checkpoint of the vectors' log (all 12 records),
    // signed by the test log key and cosigned by the test witness.
    let stored: Vec<Vec<u8>> = signed["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| unhex(r["stored"].as_str().expect("hex")))
        .collect();
    let mut tree = Tree::in_memory();
    for bytes in &stored {
        tree.append(bytes).expect("an in-memory tree");
    }
    let size = tree.size();
    let log_key = vouch_chain::SigningKey::from_seed(LOG_SEED);
    let witness_key = vouch_chain::SigningKey::from_seed(WITNESS_SEED);
    let body = Checkpoint::new(ORIGIN, size, tree.root()).expect("a checkpoint");
    let mut note = checkpoint::sign(&body, log_key.ed25519()).expect("signed");
    let witness_name = KeyName::new(WITNESS).expect("a key name");
    note.push_signature(
        cosign(&body, &witness_name, witness_key.ed25519(), COSIGNED_AT).expect("cosigned"),
    )
    .expect("room for a cosignature");
    let mut proven = bundle.clone();
    proven.format = BUNDLE_FORMAT.into();
    for r in &mut proven.records {
        let proof = tree
            .inclusion_proof(r.position - 1, size)
            .expect("in the tree");
        r.inclusion = Some(proof.iter().map(|h| h.to_base64()).collect());
    }
    let pin = signed["log_pin"]["size"]
        .as_u64()
        .expect("the decisions' pin size");
    let pinned = tree
        .consistency_proof(pin, size)
        .expect("a consistency proof");
    proven.log = Some(BundleLog {
        checkpoint: note.to_text(),
        pinned: Some(pinned.iter().map(|h| h.to_base64()).collect()),
    });
    let log_vkey = VerifierKey::new(
        KeyName::new(ORIGIN).expect("a key name"),
        SignatureType::Ed25519,
        log_key.ed25519().verifying_key(),
    )
    .expect("a vkey");
    let witness_vkey = VerifierKey::new(
        witness_name,
        SignatureType::CosignatureV1,
        witness_key.ed25519().verifying_key(),
    )
    .expect("a vkey");
    let policy =
        Policy::from_keys(vec![log_vkey.clone()], vec![witness_vkey.clone()], 1).expect("a policy");
    let checks = verify_bundle_in_log(&proven, &trust, Some(&policy));
    assert!(
        checks.iter().all(|c| c.ok) && checks.iter().any(|c| c.what == "log pin"),
        "the proven vector bundle verifies: {checks:#?}"
    );
    // Every proof hash matters: one flipped bit in any of them fails the bundle.
    for (i, r) in proven.records.iter().enumerate() {
        for j in 0..r.inclusion.as_ref().map_or(0, Vec::len) {
            let mut bad = proven.clone();
            let hashes = bad.records[i].inclusion.as_mut().expect("proofs");
            let mut raw = vouch_tlog::tree::Hash::from_base64(&hashes[j]).expect("base64");
            raw.0[31] ^= 1;
            hashes[j] = raw.to_base64();
            assert!(
                verify_bundle_in_log(&bad, &trust, Some(&policy))
                    .iter()
                    .any(|c| !c.ok && c.what == "inclusion"),
                "a flipped bit in hash {j} of position {}'s proof",
                r.position
            );
        }
    }
    write_or_check(
        "bundle-proven.json",
        &serde_json::to_value(&proven).expect("a bundle serializes"),
    );
    write_or_check(
        "bundle-proven-keys.json",
        &json!({
            "note": "Test keys of tlog.json: the seeds are published, so anyone can sign with them. Never trust them.",
            "log": log_vkey.to_string(),
            "witnesses": [witness_vkey.to_string()],
            "quorum": 1,
        }),
    );
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).expect("hex"))
        .collect()
}
