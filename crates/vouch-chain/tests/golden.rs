//! Golden records: decisions and a review written by layout version 1, with their bodies,
//! signatures and hashes pinned in `fixtures/golden-v1.json`. If this test fails, a change
//! broke records already in ledgers: bump the layout version instead.

use vouch_chain::{
    decision_body, decision_hash, review_body, review_hash, sign_decision, sign_review,
    verify_decision, verify_review, SigningKey,
};
use vouch_event::{
    hex, parse_hex, DecisionOutcome, DecisionRecorded, Digest, GateRecord, GateVerdict, LogPin,
    ModelName, PublicKeyBytes, ReviewLink, ReviewRecorded, ReviewVerdict, RunId, SignatureBytes,
    Timestamp,
};

fn key(byte: u8) -> SigningKey {
    SigningKey::from_seed([byte; 32])
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn decision(
    index: u64,
    prev: Option<Digest>,
    outcome: DecisionOutcome,
    review: Option<ReviewLink>,
) -> DecisionRecorded {
    DecisionRecorded {
        index,
        prev,
        run: RunId::new("loan-risk-b").unwrap(),
        baseline: Some(RunId::new("loan-risk-prod").unwrap()),
        artifacts: vec![Digest::of(b"model.bin")],
        policy: Digest::of(b"policy text"),
        policy_version: "2026.11-1".into(),
        policy_position: 96,
        evaluated_at: 96,
        evidence: vec![39, 40, 41, 96],
        evidence_digest: Digest::of(b"evidence"),
        gates: vec![
            GateRecord {
                gate: "auc-floor".into(),
                metric: Some("auc".into()),
                candidate: Some(0.861),
                baseline: Some(0.842),
                threshold: ">= 0.84".into(),
                verdict: GateVerdict::Pass,
                reason: "0.861 >= 0.84".into(),
            },
            GateRecord {
                gate: "model-file".into(),
                metric: None,
                candidate: None,
                baseline: None,
                threshold: "artifact model.bin".into(),
                verdict: GateVerdict::Review,
                reason: "first release".into(),
            },
        ],
        outcome,
        review,
        decided_at: time("2026-11-21T10:00:00.5Z"),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: None,
    }
}

/// A golden record: name, body, signer, signature, hash.
type Golden = (String, Vec<u8>, [u8; 32], [u8; 64], Digest);

/// The records, built and signed exactly as version 1 does.
fn records() -> Vec<Golden> {
    let model = ModelName::new("loan-risk").unwrap();
    let mut first = decision(0, None, DecisionOutcome::NeedsReview, None);
    sign_decision(&model, &mut first, &key(7));
    let first_hash = decision_hash(&model, &first);
    let mut review = ReviewRecorded {
        decision: first_hash,
        verdict: ReviewVerdict::Approve,
        reviewer: "Dana Reviewer".into(),
        reason: "checked the APAC segment by hand".into(),
        reviewed_at: time("2026-11-21T11:00:00Z"),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
    };
    sign_review(&model, &mut review, &key(9));
    let review_hash = review_hash(&model, &review);
    let link = ReviewLink {
        decision: first_hash,
        review: review_hash,
        review_position: 98,
    };
    let mut second = decision(1, Some(first_hash), DecisionOutcome::Promoted, Some(link));
    sign_decision(&model, &mut second, &key(9));
    vec![
        (
            "decision-0".into(),
            decision_body(&model, &first),
            first.signer.0,
            first.signature.0,
            first_hash,
        ),
        (
            "review".into(),
            review_body(&model, &review),
            review.signer.0,
            review.signature.0,
            review_hash,
        ),
        (
            "decision-1".into(),
            decision_body(&model, &second),
            second.signer.0,
            second.signature.0,
            decision_hash(&model, &second),
        ),
    ]
}

fn fixtures() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden-v1.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

#[test]
fn records_written_today_match_the_golden_bytes() {
    let golden = fixtures();
    for (name, body, signer, signature, hash) in records() {
        let g = &golden[name.as_str()];
        assert_eq!(
            hex(&body),
            g["body"].as_str().unwrap(),
            "{name}: body bytes changed"
        );
        assert_eq!(
            hex(&signature),
            g["signature"].as_str().unwrap(),
            "{name}: signature changed"
        );
        assert_eq!(
            hex(&signer),
            g["signer"].as_str().unwrap(),
            "{name}: signer changed"
        );
        assert_eq!(
            hash.to_string(),
            g["hash"].as_str().unwrap(),
            "{name}: hash changed"
        );
    }
}

#[test]
fn golden_bytes_verify_on_their_own() {
    // Only the pinned bytes: what a verifier in another language would hold.
    for (name, g) in fixtures().as_object().unwrap() {
        let body: Vec<u8> = (0..g["body"].as_str().unwrap().len() / 2)
            .map(|i| {
                u8::from_str_radix(&g["body"].as_str().unwrap()[i * 2..i * 2 + 2], 16).unwrap()
            })
            .collect();
        let signature = parse_hex::<64>(g["signature"].as_str().unwrap()).unwrap();
        let signer = parse_hex::<32>(g["signer"].as_str().unwrap()).unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(&signer).unwrap();
        key.verify_strict(&body, &ed25519_dalek::Signature::from_bytes(&signature))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut hashed = body.clone();
        hashed.extend_from_slice(&signature);
        assert_eq!(
            Digest::of(&hashed).to_string(),
            g["hash"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(&body[..5], b"VOUCH", "{name}");
    }
}

#[test]
fn any_changed_field_breaks_the_signature() {
    let model = ModelName::new("loan-risk").unwrap();
    let mut d = decision(0, None, DecisionOutcome::Promoted, None);
    sign_decision(&model, &mut d, &key(7));
    verify_decision(&model, &d).unwrap();
    let mut changed = d.clone();
    changed.gates[0].candidate = Some(0.862);
    assert!(verify_decision(&model, &changed).is_err());
    let mut changed = d.clone();
    changed.decided_at = time("2026-11-21T10:00:01Z");
    assert!(verify_decision(&model, &changed).is_err());
    let mut changed = d.clone();
    changed.outcome = DecisionOutcome::Rejected;
    assert!(verify_decision(&model, &changed).is_err());
    assert!(verify_decision(&ModelName::new("fraud").unwrap(), &d).is_err());
    let mut forged = d.clone();
    forged.signer = key(8).public();
    assert!(verify_decision(&model, &forged).is_err());
}

#[test]
fn reviews_sign_and_verify() {
    let model = ModelName::new("loan-risk").unwrap();
    let mut r = ReviewRecorded {
        decision: Digest::of(b"d"),
        verdict: ReviewVerdict::Reject,
        reviewer: "R".into(),
        reason: "no".into(),
        reviewed_at: Timestamp::EPOCH,
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
    };
    sign_review(&model, &mut r, &key(3));
    verify_review(&model, &r).unwrap();
    r.verdict = ReviewVerdict::Approve;
    assert!(verify_review(&model, &r).is_err());
}

#[test]
fn key_files_round_trip_and_reject_garbage() {
    let k = key(5);
    let text = k.to_file_text();
    assert_eq!(
        SigningKey::from_file_text(&text).unwrap().public(),
        k.public()
    );
    assert!(
        !format!("{k:?}").contains(&text.lines().nth(1).unwrap()[..16]),
        "Debug must not show the secret"
    );
    for bad in [
        "",
        "vouch-ed25519-secret-key-v1\n",
        "vouch-ed25519-secret-key-v1\nzz",
        "other\n00",
        &format!("{text}extra\n"),
    ] {
        assert!(SigningKey::from_file_text(bad).is_err(), "{bad:?}");
    }
    let public = vouch_chain::public_key_text(&k.public());
    assert_eq!(vouch_chain::parse_public_key(&public).unwrap(), k.public());
    assert!(vouch_chain::parse_public_key("ed25519:1234").is_err());
    assert_eq!(vouch_chain::key_id(&k.public()).len(), 16);
}

/// The fixture holds exactly these records. With `VOUCH_WRITE_GOLDEN=1` it is rewritten
/// instead: only ever for a new layout version, never to paper over a change.
#[test]
fn fixture_holds_exactly_the_version_1_records() {
    let mut out = serde_json::Map::new();
    for (name, body, signer, signature, hash) in records() {
        out.insert(name, serde_json::json!({
            "body": hex(&body), "signer": hex(&signer), "signature": hex(&signature), "hash": hash.to_string(),
        }));
    }
    let out = serde_json::Value::Object(out);
    if std::env::var_os("VOUCH_WRITE_GOLDEN").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden-v1.json");
        std::fs::write(path, serde_json::to_string_pretty(&out).unwrap() + "\n").unwrap();
    }
    assert_eq!(fixtures(), out);
}

/// Layout 2 is layout 1 with magic `VOUCHDR2` and the pin (size `u64` big-endian, then the
/// 32-byte root) after `signer`; a layout-1 decision keeps its golden bytes.
#[test]
fn layout_2_is_layout_1_plus_the_log_pin() {
    let model = ModelName::new("loan-risk").unwrap();
    let mut v1 = decision(0, None, DecisionOutcome::Promoted, None);
    sign_decision(&model, &mut v1, &key(7));
    let mut v2 = v1.clone();
    v2.log = Some(LogPin {
        size: 96,
        root: [0xab; 32],
    });
    sign_decision(&model, &mut v2, &key(7));
    verify_decision(&model, &v2).unwrap();
    let body1 = decision_body(&model, &v1);
    let body2 = decision_body(&model, &v2);
    assert_eq!(&body1[..8], b"VOUCHDR1");
    assert_eq!(&body2[..8], b"VOUCHDR2");
    assert_eq!(body2.len(), body1.len() + 40);
    assert_eq!(body1[8..], body2[8..body1.len()]);
    let mut tail = 96u64.to_be_bytes().to_vec();
    tail.extend_from_slice(&[0xab; 32]);
    assert_eq!(body2[body1.len()..], tail[..]);
    assert_ne!(decision_hash(&model, &v1), decision_hash(&model, &v2));

    // The pin is signed: another size or root, or dropping it, breaks the signature.
    for changed in [
        LogPin {
            size: 95,
            root: [0xab; 32],
        },
        LogPin {
            size: 96,
            root: [0xac; 32],
        },
    ] {
        let mut forged = v2.clone();
        forged.log = Some(changed);
        assert!(verify_decision(&model, &forged).is_err());
    }
    let mut stripped = v2.clone();
    stripped.log = None;
    assert!(verify_decision(&model, &stripped).is_err());
}
