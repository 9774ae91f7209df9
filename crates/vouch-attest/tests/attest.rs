//! The statement, predicate and envelope of an exported decision.

use serde_json::Value;
use vouch_attest::statement::{EXTENSION, STATEMENT_TYPE, VSA_PREDICATE_TYPE};
use vouch_attest::{
    check_statement, export, read_envelopes, Artifact, AttestError, Checkpoint, Decision, Envelope,
    Review, PAYLOAD_TYPE,
};
use vouch_chain::SigningKey;
use vouch_event::{
    DecisionOutcome, DecisionRecorded, Digest, GateRecord, GateVerdict, LogPin, ModelName,
    PublicKeyBytes, ReviewLink, ReviewVerdict, RunId, SignatureBytes, Timestamp,
};

const POLICY: &[u8] = b"model = \"loan-risk\"\nversion = \"2026.11-1\"\n";

fn signer() -> SigningKey {
    SigningKey::from_seed([1; 32])
}

fn reviewer() -> SigningKey {
    SigningKey::from_seed([2; 32])
}

fn model() -> ModelName {
    ModelName::new("loan-risk").unwrap()
}

fn record(outcome: DecisionOutcome, review: bool) -> DecisionRecorded {
    let mut d = DecisionRecorded {
        index: 3,
        prev: Some(Digest::of(b"prev")),
        run: RunId::new("loan-risk-b").unwrap(),
        baseline: Some(RunId::new("loan-risk-prod").unwrap()),
        artifacts: vec![Digest::of(b"model.bin"), Digest::of(b"card.md")],
        policy: Digest::of(POLICY),
        policy_version: "2026.11-1".into(),
        policy_position: 96,
        evaluated_at: 120,
        evidence: vec![39, 40, 41, 96],
        evidence_digest: Digest::of(b"evidence"),
        gates: vec![
            GateRecord {
                gate: "auc-floor".into(),
                metric: Some("auc".into()),
                candidate: Some(0.861),
                baseline: Some(f64::NAN),
                threshold: ">= 0.84".into(),
                verdict: GateVerdict::Pass,
                reason: "0.861 >= 0.84".into(),
            },
            GateRecord {
                gate: "review:first_release".into(),
                metric: None,
                candidate: None,
                baseline: None,
                threshold: "first release".into(),
                verdict: GateVerdict::Review,
                reason: "first release".into(),
            },
        ],
        outcome,
        review: review.then(|| ReviewLink {
            decision: Digest::of(b"reviewed"),
            review: Digest::of(b"review"),
            review_position: 130,
        }),
        decided_at: Timestamp::parse_rfc3339("2026-11-21T10:00:00.5Z").unwrap(),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: Some(LogPin {
            size: 120,
            root: [9; 32],
        }),
    };
    vouch_chain::sign_decision(&model(), &mut d, &signer());
    d
}

fn artifacts() -> Vec<Artifact> {
    use sha2::Digest as _;
    [&b"model.bin"[..], b"card.md"]
        .iter()
        .map(|bytes| Artifact {
            name: format!("loan-risk/{}", String::from_utf8_lossy(bytes)),
            blake3: Digest::of(bytes),
            sha256: sha2::Sha256::digest(bytes).into(),
        })
        .collect()
}

fn reviews() -> Vec<Review> {
    vec![Review {
        name: "Dana Okafor".into(),
        key: reviewer().public(),
        verdict: ReviewVerdict::Approve,
        reviewed_at: Timestamp::parse_rfc3339("2026-11-21T09:59:00Z").unwrap(),
        hash: Digest::of(b"review"),
        position: 130,
    }]
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        size: 140,
        root: [7; 32],
        note: "vouch/test\n140\nBwcH\n\n— vouch/test AAAA\n".into(),
    }
}

fn export_one(d: &DecisionRecorded, reviewers: &[&SigningKey]) -> Result<Envelope, AttestError> {
    let (model, artifacts, reviews, checkpoint) = (model(), artifacts(), reviews(), checkpoint());
    let decision = Decision {
        origin: "example.com/vouch prod",
        model: &model,
        record: d,
        position: 131,
        policy_text: POLICY,
        artifacts: &artifacts,
        reviews: if d.review.is_some() { &reviews } else { &[] },
        checkpoint: Some(&checkpoint),
    };
    export(&decision, &signer(), reviewers).map(|a| a.envelope)
}

fn payload(env: &Envelope) -> Value {
    serde_json::from_slice(&env.payload).unwrap()
}

#[test]
fn the_statement_and_predicate_have_every_required_field() {
    let env = export_one(&record(DecisionOutcome::Promoted, false), &[]).unwrap();
    assert_eq!(env.payload_type, PAYLOAD_TYPE);
    let s = payload(&env);
    assert_eq!(s["_type"], STATEMENT_TYPE);
    assert_eq!(s["predicateType"], VSA_PREDICATE_TYPE);
    let p = &s["predicate"];
    for field in [
        "/verifier/id",
        "/timeVerified",
        "/resourceUri",
        "/policy/uri",
        "/policy/digest/sha256",
        "/policy/digest/blake3",
        "/verificationResult",
    ] {
        assert!(
            p.pointer(field).and_then(Value::as_str).is_some(),
            "{field}"
        );
    }
    assert_eq!(
        p["verifier"]["id"],
        "vouch://example.com/vouch%20prod/verifier/v1"
    );
    assert_eq!(p["timeVerified"], "2026-11-21T10:00:00.5Z");
    assert_eq!(
        p["resourceUri"],
        "vouch://example.com/vouch%20prod/models/loan-risk@loan-risk-b?stage=production"
    );
    assert_eq!(p["policy"]["digest"]["blake3"], Digest::of(POLICY).hex());
    assert_eq!(p["verificationResult"], "PASSED");
    assert_eq!(
        p["verifiedLevels"],
        serde_json::json!(["VOUCH_GATES_PASSED"])
    );
    assert_eq!(
        p["inputAttestations"][0]["digest"]["blake3"],
        Digest::of(b"evidence").hex()
    );
    let ext = &p[EXTENSION];
    assert_eq!(ext["decision"]["index"], 3);
    assert_eq!(ext["decision"]["layout"], 2);
    assert_eq!(ext["log"]["pin"]["size"], 120);
    assert_eq!(ext["log"]["pin"]["root"], "09".repeat(32));
    assert_eq!(ext["log"]["checkpoint"]["size"], 140);
    assert_eq!(ext["gates"][0]["candidate"], "0.861");
    assert_eq!(ext["gates"][0]["baseline"], "NaN");
    let hash = vouch_chain::decision_hash(&model(), &record(DecisionOutcome::Promoted, false));
    assert_eq!(ext["decision"]["hash"], format!("blake3:{}", hash.hex()));

    let summary = check_statement(&env.payload).unwrap();
    assert_eq!(summary.result, "PASSED");
    assert_eq!(summary.signer, signer().public());
    assert_eq!(summary.index, 3);
}

#[test]
fn every_subject_has_sha256_and_blake3() {
    use sha2::Digest as _;
    let env = export_one(&record(DecisionOutcome::Promoted, false), &[]).unwrap();
    let s = payload(&env);
    let subjects = s["subject"].as_array().unwrap();
    assert_eq!(subjects.len(), 2);
    for (subject, bytes) in subjects.iter().zip([&b"model.bin"[..], b"card.md"]) {
        assert_eq!(
            subject["digest"]["sha256"],
            vouch_attest::hex(&sha2::Sha256::digest(bytes))
        );
        assert_eq!(subject["digest"]["blake3"], Digest::of(bytes).hex());
    }
    assert!(check_statement(&env.payload)
        .unwrap()
        .subjects
        .iter()
        .all(|s| s.sha256.len() == 64));
}

#[test]
fn exporting_twice_gives_the_same_bytes() {
    let d = record(DecisionOutcome::Promoted, true);
    let a = export_one(&d, &[&reviewer()]).unwrap();
    let b = export_one(&d, &[&reviewer()]).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    // Sorted keys, no whitespace: the payload is its own deterministic form.
    let again = vouch_attest::canonical::to_vec(&payload(&a));
    assert_eq!(again, a.payload);
}

#[test]
fn a_rejection_fails_and_a_needs_review_decision_is_refused() {
    let env = export_one(&record(DecisionOutcome::Rejected, false), &[]).unwrap();
    let p = &payload(&env)["predicate"];
    assert_eq!(p["verificationResult"], "FAILED");
    assert_eq!(p["verifiedLevels"], serde_json::json!(["FAILED"]));
    assert!(check_statement(&env.payload).is_ok());
    let err = export_one(&record(DecisionOutcome::NeedsReview, false), &[]).unwrap_err();
    assert!(
        matches!(err, AttestError::NeedsReview { index: 3 }),
        "{err}"
    );
    assert!(err.to_string().contains("vouch review enact"));
}

#[test]
fn only_the_decisions_signer_and_its_reviewers_may_sign() {
    let d = record(DecisionOutcome::Promoted, true);
    let (model, artifacts, reviews) = (model(), artifacts(), reviews());
    let decision = Decision {
        origin: "o",
        model: &model,
        record: &d,
        position: 131,
        policy_text: POLICY,
        artifacts: &artifacts,
        reviews: &reviews,
        checkpoint: None,
    };
    let err = export(&decision, &reviewer(), &[]).unwrap_err();
    assert!(matches!(err, AttestError::NotTheSigner { .. }), "{err}");
    let stranger = SigningKey::from_seed([3; 32]);
    let err = export(&decision, &signer(), &[&stranger]).unwrap_err();
    assert!(matches!(err, AttestError::NotAReviewer { .. }), "{err}");
    let env = export(&decision, &signer(), &[&reviewer()])
        .unwrap()
        .envelope;
    assert_eq!(env.signatures.len(), 2);
    assert!(env.verified_by(&env.signatures[0], &signer().public().0));
    assert!(env.verified_by(&env.signatures[1], &reviewer().public().0));
    let summary = check_statement(&env.payload).unwrap();
    assert_eq!(summary.reviewers[0].key, reviewer().public());
    assert_eq!(
        summary.levels,
        ["VOUCH_GATES_PASSED", "VOUCH_REVIEW_APPROVED"]
    );
    // A policy text that is not the decision's is refused.
    let wrong = Decision {
        policy_text: b"other",
        ..decision.clone()
    };
    assert!(matches!(
        export(&wrong, &signer(), &[]),
        Err(AttestError::PolicyMismatch { .. })
    ));
}

#[test]
fn a_changed_payload_byte_or_another_key_is_refused() {
    let env = export_one(&record(DecisionOutcome::Promoted, false), &[]).unwrap();
    let key = signer().public().0;
    assert!(env.verified_by(&env.signatures[0], &key));
    for i in [0, env.payload.len() / 2, env.payload.len() - 1] {
        let mut changed = env.clone();
        changed.payload[i] ^= 0x01;
        assert!(
            !changed.verified_by(&changed.signatures[0], &key),
            "byte {i}"
        );
    }
    let other = Envelope::sign(PAYLOAD_TYPE, env.payload.clone(), &[&reviewer()]);
    assert!(!other.verified_by(&other.signatures[0], &key));
}

#[test]
fn every_container_reads_back() {
    let d = record(DecisionOutcome::Promoted, true);
    let (model, artifacts, reviews) = (model(), artifacts(), reviews());
    let a = export(
        &Decision {
            origin: "o",
            model: &model,
            record: &d,
            position: 131,
            policy_text: POLICY,
            artifacts: &artifacts,
            reviews: &reviews,
            checkpoint: None,
        },
        &signer(),
        &[&reviewer()],
    )
    .unwrap();
    assert_eq!(
        read_envelopes(&a.dsse_json()).unwrap(),
        vec![a.envelope.clone()]
    );
    let mut jsonl = a.intoto_jsonl_line();
    jsonl.extend(a.intoto_jsonl_line());
    assert_eq!(read_envelopes(&jsonl).unwrap().len(), 2);
    let bundle: Value = serde_json::from_slice(&a.sigstore_bundle()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"],
        vouch_attest::keys::keyid(&signer().public().0)
    );
    let from_bundle = read_envelopes(&a.sigstore_bundle()).unwrap();
    assert_eq!(from_bundle[0].signatures.len(), 1);
    assert_eq!(from_bundle[0].payload, a.envelope.payload);
}

#[test]
fn the_checker_refuses_missing_fields() {
    let env = export_one(&record(DecisionOutcome::Promoted, false), &[]).unwrap();
    let s = payload(&env);
    for pointer in [
        "/_type",
        "/predicate/verifier",
        "/predicate/timeVerified",
        "/predicate/resourceUri",
        "/predicate/policy",
        "/predicate/verificationResult",
        "/predicate/verifiedLevels",
    ] {
        let mut broken = s.clone();
        let (parent, field) = pointer.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() {
            &mut broken
        } else {
            broken.pointer_mut(parent).unwrap()
        };
        parent.as_object_mut().unwrap().remove(field);
        assert!(
            check_statement(&serde_json::to_vec(&broken).unwrap()).is_err(),
            "{pointer}"
        );
    }
    let mut no_sha = s.clone();
    no_sha["subject"][1]["digest"]
        .as_object_mut()
        .unwrap()
        .remove("sha256");
    let err = check_statement(&serde_json::to_vec(&no_sha).unwrap()).unwrap_err();
    assert!(err.to_string().contains("subject 1 has no sha256"), "{err}");
    let mut slsa = s;
    slsa["predicate"]["verifiedLevels"] = serde_json::json!(["SLSA_BUILD_LEVEL_3"]);
    assert!(check_statement(&serde_json::to_vec(&slsa).unwrap()).is_err());
}
