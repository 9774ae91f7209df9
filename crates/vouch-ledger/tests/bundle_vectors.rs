//! A known-answer audit bundle (`schemas/audit-bundle.md`): the promotion of the vectors'
//! artifact by decision 1 of `schemas/vectors/signed.json`, as `vouch audit --bundle`
//! lays it out, with the auditor's trust list that verifies it. The test checks that
//! `verify_bundle` accepts it and refuses it with any one record but the forced deployment
//! left out, and that the
//! committed `bundle.json` and `bundle-trust.json` are exactly what it builds
//! (`VOUCH_WRITE_VECTORS=1` writes them instead).

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_ledger::{verify_bundle, Bundle, BundleRecord, Trust, BUNDLE_FORMAT};

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
}
