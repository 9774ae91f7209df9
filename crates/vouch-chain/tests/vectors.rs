//! Known-answer vectors for signed release records (`schemas/decision-record.md`,
//! `schemas/record-form.md`): a small log whose decisions, review and deployments are
//! signed with fixed test seeds, with every record's canonical bytes, signature, hash,
//! stored bytes and event digest, and the evidence digest over the records it cites. Also
//! checks vouch's verdict on the Ed25519 cases of `schemas/vectors/ed25519.json`.
//!
//! By default the test recomputes `schemas/vectors/signed.json` and compares it byte for
//! byte; `VOUCH_WRITE_VECTORS=1` writes it instead (only for an intended change). The seeds
//! are test keys, printed in the file: never trust them.

use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_chain::{
    decision_body, decision_hash, deployment_body, deployment_hash, evidence_digest, key_id,
    public_key_text, review_body, review_hash, sign_decision, sign_deployment, sign_review,
    verify_body, SigningKey, EVIDENCE_MAGIC,
};
use vouch_event::{
    encode, event_digest, from_json, hex, parse_hex_bytes, to_json, Body, DecisionOutcome,
    DecisionRecorded, DeploymentSigned, Digest, Event, EventId, GateRecord, GateVerdict, LogPin,
    ModelName, PolicyPublished, Producer, PublicKeyBytes, ReviewLink, ReviewRecorded,
    ReviewVerdict, RunId, SignatureBytes, Subject, Timestamp,
};

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
        std::fs::create_dir_all(vectors_dir()).expect("create schemas/vectors");
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
        "{} differs from what this version computes: canonical bytes, hashes or signatures \
         changed, which breaks records already in logs. If the change is intended, bump the \
         layout version and regenerate with VOUCH_WRITE_VECTORS=1 cargo test -p vouch-chain \
         --test vectors",
        path.display()
    );
}

/// The test seeds: 32 repeated bytes each. Test keys only, published here.
const SIGNER_SEED: u8 = 0x11;
const REVIEWER_SEED: u8 = 0x22;
const DEPLOYER_SEED: u8 = 0x33;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed([seed; 32])
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid time")
}

/// The policy text the vectors' decisions cite.
pub const POLICY_TEXT: &str = "model = \"loan-risk\"\nversion = \"2026.11-1\"\n\n[baseline]\nmissing = \"review\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.84\nreason = \"AUC below 0.84 loses money on approvals\"\n\n[approval]\nreviewers = 1\n";

/// One log record of the vectors' log.
struct Entry {
    position: u64,
    key: String,
    event: Event,
}

fn release_event(model: &ModelName, id: String, at: Timestamp, body: Body) -> Event {
    Event {
        id: EventId::new(id).expect("a release id"),
        time: at,
        producer: Producer::new("vouch-release").expect("a producer"),
        subject: Subject::Model(model.clone()),
        body,
    }
}

/// The vectors' log: run evidence at 1..=6, the policy at 7, a decision needing review at
/// 8, its approving review at 9, the resolution promoting the artifact at 10, a signed
/// deployment citing it at 11 and a forced deployment at 12.
fn log() -> Vec<Entry> {
    let model = ModelName::new("loan-risk").expect("a model");
    let artifact = Digest::of(b"vouch vectors: model.onnx");
    let evidence_json = [
        r#"{"id":"r-7f3a-start","kind":"run_started","schema":1,"time":"2026-11-20T08:00:00Z","producer":"train.py","run":"r-7f3a","data":{"experiment":"loan-risk"}}"#.to_owned(),
        r#"{"id":"r-7f3a-params","kind":"params_logged","schema":1,"time":"2026-11-20T08:00:01Z","producer":"train.py","run":"r-7f3a","data":{"params":{"max_depth":"6"}}}"#.to_owned(),
        r#"{"id":"r-7f3a-val","kind":"dataset_bound","schema":1,"time":"2026-11-20T08:00:02Z","producer":"train.py","run":"r-7f3a","data":{"role":"validation","name":"loans-2026q3.parquet","digest":"blake3:2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213","rows":48213,"snapshot_at":"2026-11-19T00:00:00Z","labels_through":"2026-11-18T00:00:00Z"}}"#.to_owned(),
        r#"{"id":"r-7f3a-m-1","kind":"metrics_logged","schema":1,"time":"2026-11-20T09:20:51Z","producer":"train.py","run":"r-7f3a","data":{"metrics":{"auc":0.861}}}"#.to_owned(),
        format!(
            r#"{{"id":"r-7f3a-model","kind":"artifact_logged","schema":1,"time":"2026-11-20T09:30:00Z","producer":"train.py","run":"r-7f3a","data":{{"name":"model.onnx","digest":"{artifact}","size":1048576,"uri":"s3://models/r-7f3a/model.onnx"}}}}"#
        ),
        r#"{"id":"r-7f3a-end","kind":"run_finished","schema":1,"time":"2026-11-20T09:31:00Z","producer":"train.py","run":"r-7f3a","data":{"status":"ok"}}"#.to_owned(),
    ];
    let mut log: Vec<Entry> = Vec::new();
    for text in &evidence_json {
        let event = from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}"));
        log.push(Entry {
            position: log.len() as u64 + 1,
            key: event.subject.log_key(),
            event,
        });
    }
    let evidence: Vec<u64> = log.iter().map(|e| e.position).collect();
    let digests: Vec<(u64, Digest)> = log
        .iter()
        .map(|e| (e.position, event_digest(&encode(&e.event))))
        .collect();
    let evidence_digest = evidence_digest(digests.iter().map(|(p, d)| (*p, d)));

    let policy = Digest::of(POLICY_TEXT.as_bytes());
    log.push(Entry {
        position: 7,
        key: format!("model.{model}"),
        event: Event {
            id: EventId::new(format!("policy:{model}:{}", policy.hex())).expect("an id"),
            time: time("2026-11-20T12:00:00Z"),
            producer: Producer::new("vouch").expect("a producer"),
            subject: Subject::Model(model.clone()),
            body: Body::PolicyPublished(PolicyPublished {
                version: "2026.11-1".into(),
                digest: policy,
                text: POLICY_TEXT.into(),
            }),
        },
    });

    let mut first = DecisionRecorded {
        index: 0,
        prev: None,
        run: RunId::new("r-7f3a").expect("a run"),
        baseline: None,
        artifacts: vec![artifact],
        policy,
        policy_version: "2026.11-1".into(),
        policy_position: 7,
        evaluated_at: 7,
        evidence,
        evidence_digest,
        gates: vec![
            GateRecord {
                gate: "auc-floor".into(),
                metric: Some("auc".into()),
                candidate: Some(0.861),
                baseline: None,
                threshold: ">= 0.84".into(),
                verdict: GateVerdict::Pass,
                reason: "0.861 >= 0.84".into(),
            },
            GateRecord {
                gate: "review:baseline-missing".into(),
                metric: None,
                candidate: None,
                baseline: None,
                threshold: "a production baseline".into(),
                verdict: GateVerdict::Review,
                reason: "first release: no production model to compare with".into(),
            },
        ],
        outcome: DecisionOutcome::NeedsReview,
        review: None,
        decided_at: time("2026-11-21T10:00:00.5Z"),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: Some(log_pin(&log, 7)),
    };
    sign_decision(&model, &mut first, &key(SIGNER_SEED));
    let first_hash = decision_hash(&model, &first);
    log.push(Entry {
        position: 8,
        key: "chain".into(),
        event: release_event(
            &model,
            format!("decision:{}", first_hash.hex()),
            first.decided_at,
            Body::DecisionRecorded(Box::new(first.clone())),
        ),
    });

    let mut review = ReviewRecorded {
        decision: first_hash,
        verdict: ReviewVerdict::Approve,
        reviewer: "Dana Reviewer".into(),
        reason: "baseline-free first release checked by hand".into(),
        reviewed_at: time("2026-11-21T11:00:00Z"),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
    };
    sign_review(&model, &mut review, &key(REVIEWER_SEED));
    let review_hash = review_hash(&model, &review);
    log.push(Entry {
        position: 9,
        key: format!("model.{model}"),
        event: release_event(
            &model,
            format!("review:{}", review_hash.hex()),
            review.reviewed_at,
            Body::ReviewRecorded(Box::new(review)),
        ),
    });

    let mut second = DecisionRecorded {
        index: 1,
        prev: Some(first_hash),
        outcome: DecisionOutcome::Promoted,
        review: Some(ReviewLink {
            decision: first_hash,
            review: review_hash,
            review_position: 9,
        }),
        decided_at: time("2026-11-21T11:05:00Z"),
        ..first
    };
    sign_decision(&model, &mut second, &key(SIGNER_SEED));
    let second_hash = decision_hash(&model, &second);
    log.push(Entry {
        position: 10,
        key: "chain".into(),
        event: release_event(
            &model,
            format!("decision:{}", second_hash.hex()),
            second.decided_at,
            Body::DecisionRecorded(Box::new(second)),
        ),
    });

    for (position, decision, forced, reason, env, at) in [
        (
            11,
            Some(second_hash),
            false,
            None,
            "production",
            "2026-11-21T12:00:00Z",
        ),
        (
            12,
            None,
            true,
            Some("incident 4711: roll back by hand".to_owned()),
            "staging-eu",
            "2026-11-22T09:00:00.123456789Z",
        ),
    ] {
        let mut deployment = DeploymentSigned {
            env: env.into(),
            artifact,
            decision,
            forced,
            reason,
            deployed_at: time(at),
            signer: PublicKeyBytes([0; 32]),
            signature: SignatureBytes([0; 64]),
        };
        sign_deployment(&model, &mut deployment, &key(DEPLOYER_SEED));
        let hash = deployment_hash(&model, &deployment);
        log.push(Entry {
            position,
            key: format!("model.{model}"),
            event: release_event(
                &model,
                format!("deployment:{}", hash.hex()),
                deployment.deployed_at,
                Body::DeploymentSigned(Box::new(deployment)),
            ),
        });
    }
    log
}

/// The pin of the vectors' log at `size`: the RFC 6962 root over the stored bytes of its
/// first `size` records (positions 1..=size, leaf index position − 1).
fn log_pin(log: &[Entry], size: u64) -> LogPin {
    let mut tree = vouch_tlog::tree::Tree::in_memory();
    for entry in log.iter().take_while(|e| e.position <= size) {
        tree.append(&encode(&entry.event))
            .expect("an in-memory tree grows");
    }
    assert_eq!(tree.size(), size, "the log holds {size} records");
    LogPin {
        size,
        root: tree.root().0,
    }
}

/// The canonical body, signer, signature and hash of a signed record.
fn signed_parts(
    model: &ModelName,
    body: &Body,
) -> Option<(Vec<u8>, PublicKeyBytes, SignatureBytes, Digest)> {
    match body {
        Body::DecisionRecorded(d) => Some((
            decision_body(model, d),
            d.signer,
            d.signature,
            decision_hash(model, d),
        )),
        Body::ReviewRecorded(r) => Some((
            review_body(model, r),
            r.signer,
            r.signature,
            review_hash(model, r),
        )),
        Body::DeploymentSigned(d) => Some((
            deployment_body(model, d),
            d.signer,
            d.signature,
            deployment_hash(model, d),
        )),
        _ => None,
    }
}

#[test]
fn signed_records_and_evidence_digest() {
    let model = ModelName::new("loan-risk").expect("a model");
    let log = log();
    let mut records = Vec::new();
    let mut signed = Vec::new();
    for entry in &log {
        let stored = encode(&entry.event);
        records.push(json!({
            "position": entry.position,
            "key": entry.key,
            "event_id": entry.event.id.as_str(),
            "kind": entry.event.kind().as_str(),
            "json": to_json(&entry.event),
            "stored": hex(&stored),
            "event_digest": event_digest(&stored).to_string(),
        }));
        if let Some((body, signer, signature, hash)) = signed_parts(&model, &entry.event.body) {
            verify_body(&signer, &body, &signature).expect("the vectors' signatures verify");
            let mut hashed = body.clone();
            hashed.extend_from_slice(&signature.0);
            assert_eq!(
                Digest::of(&hashed),
                hash,
                "hash = BLAKE3(body || signature)"
            );
            signed.push(json!({
                "position": entry.position,
                "kind": entry.event.kind().as_str(),
                "model": model.as_str(),
                "canonical_bytes": hex(&body),
                "signer": public_key_text(&signer),
                "signature": hex(&signature.0),
                "record_hash": hash.to_string(),
                "event_id": entry.event.id.as_str(),
            }));
        }
    }
    // The evidence digest of the decisions, written out step by step.
    let Body::DecisionRecorded(decision) = &log[7].event.body else {
        panic!("position 8 holds the first decision")
    };
    let mut preimage = EVIDENCE_MAGIC.to_vec();
    let mut items = Vec::new();
    for p in &decision.evidence {
        let entry = log
            .iter()
            .find(|e| e.position == *p)
            .expect("evidence is in the log");
        let digest = event_digest(&encode(&entry.event));
        preimage.extend_from_slice(&p.to_be_bytes());
        preimage.extend_from_slice(digest.as_bytes());
        items.push(json!({ "position": p, "event_digest": digest.to_string() }));
    }
    assert_eq!(Digest::of(&preimage), decision.evidence_digest);
    // The log pin both decisions carry (layout 2), with the leaf hashes it is built from.
    let pin = decision.log.expect("the vectors' decisions are layout 2");
    let leaves: Vec<String> = log
        .iter()
        .take_while(|e| e.position <= pin.size)
        .map(|e| vouch_tlog::tree::leaf_hash(&encode(&e.event)).to_hex())
        .collect();
    let keys: Vec<Value> = [
        ("signer", SIGNER_SEED, "release bot"),
        ("reviewer", REVIEWER_SEED, "Dana Reviewer"),
        ("deployer", DEPLOYER_SEED, "deploy bot"),
    ]
    .iter()
    .map(|(role, seed, name)| {
        let public = key(*seed).public();
        json!({
            "role": role,
            "name": name,
            "seed": hex(&[*seed; 32]),
            "public_key": public_key_text(&public),
            "key_id": key_id(&public),
        })
    })
    .collect();
    write_or_check(
        "signed.json",
        &json!({
            "about": "A small log of model loan-risk: run evidence at positions 1-6, the policy at 7, a decision that needs review at 8 (chain index 0), an approving review at 9, the decision resolving it (index 1, promoted) at 10, a signed deployment citing it at 11 and a forced deployment at 12. `records` holds every log record (key, event id, JSON as vouch prints it, stored bytes, event digest); `signed` the canonical bytes, signature and record hash of each signed record; `evidence` the evidence digest of both decisions, with its input; `log_pin` the log prefix both decisions pin (layout 2, VOUCHDR2): size 7 = evaluated_at and the RFC 6962 SHA-256 root over the stored bytes of records 1-7, with each leaf hash SHA-256(0x00 || stored bytes). The keys are TEST KEYS made from the published seeds below: never trust them. See schemas/decision-record.md and schemas/record-form.md.",
            "keys": keys,
            "policy_text": POLICY_TEXT,
            "records": records,
            "signed": signed,
            "log_pin": {
                "size": pin.size,
                "leaf_hashes": leaves,
                "root": hex(&pin.root),
            },
            "evidence": {
                "positions": decision.evidence,
                "items": items,
                "input": hex(&preimage),
                "digest": decision.evidence_digest.to_string(),
            },
        }),
    );
}

#[test]
fn ed25519_cases_are_decided_as_documented() {
    let path = vectors_dir().join("ed25519.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: Value = serde_json::from_str(&text).expect("ed25519.json is JSON");
    let cases = file["cases"].as_array().expect("a list of cases");
    assert!(cases.len() >= 8, "every documented case is there");
    for case in cases {
        let bytes =
            |field: &str| parse_hex_bytes(case[field].as_str().expect("a hex field")).expect("hex");
        let public: [u8; 32] = bytes("public_key").try_into().expect("32 bytes");
        let signature: [u8; 64] = bytes("signature").try_into().expect("64 bytes");
        let verdict = verify_body(
            &PublicKeyBytes(public),
            &bytes("message"),
            &SignatureBytes(signature),
        );
        let want = case["vouch"].as_str().expect("a verdict");
        assert_eq!(
            if verdict.is_ok() { "accept" } else { "refuse" },
            want,
            "case `{}`: {verdict:?}",
            case["name"]
        );
    }
}
