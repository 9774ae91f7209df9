//! The in-toto Statement v1 with a SLSA Verification Summary (VSA v1) predicate that
//! describes one decision (`schemas/attestation.md`).

use serde_json::{json, Map, Value};
use vouch_event::{
    DecisionOutcome, DecisionRecorded, Digest, GateVerdict, ModelName, PublicKeyBytes,
    ReviewVerdict, Timestamp,
};

use crate::{canonical, hex, keys, AttestError};

/// in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA Verification Summary Attestation v1.
pub const VSA_PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The predicate's extension field holding Vouch's own facts about the decision (VSA
/// allows extension fields named by a URI; consumers ignore them).
pub const EXTENSION: &str = "https://example.invalid/vouch/vsa-ext/v1";
/// The level of a promotion: every gate passed (or the reviews approved what asked for
/// review).
pub const LEVEL_GATES_PASSED: &str = "VOUCH_GATES_PASSED";
/// The extra level of a promotion that human reviewers approved.
pub const LEVEL_REVIEW_APPROVED: &str = "VOUCH_REVIEW_APPROVED";
/// The only level of a rejection, as VSA v1 asks.
pub const LEVEL_FAILED: &str = "FAILED";
/// The stage a promotion makes an artifact the production version of.
pub const STAGE: &str = "production";

/// An artifact the decision concerns: one subject of the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// The subject's name (informational; subjects match by digest).
    pub name: String,
    /// The BLAKE3 digest the decision names.
    pub blake3: Digest,
    /// SHA-256 of the same bytes.
    pub sha256: [u8; 32],
}

/// A review a resolution rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// The reviewer's name, as the review record carries it.
    pub name: String,
    /// The reviewer's key.
    pub key: PublicKeyBytes,
    /// Approve or reject.
    pub verdict: ReviewVerdict,
    /// When (the signed time).
    pub reviewed_at: Timestamp,
    /// The review record's hash.
    pub hash: Digest,
    /// Its log position.
    pub position: u64,
}

/// A signed checkpoint of the log that includes the decision record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Records covered.
    pub size: u64,
    /// Its RFC 6962 root.
    pub root: [u8; 32],
    /// The signed note, verbatim.
    pub note: String,
}

/// Everything a statement says, looked up by the caller.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    /// The log's origin (the checkpoints' origin): the authority of every `vouch://` URI.
    pub origin: &'a str,
    /// The model (the decision's envelope subject).
    pub model: &'a ModelName,
    /// The decision, as signed.
    pub record: &'a DecisionRecorded,
    /// Its log position.
    pub position: u64,
    /// The policy's exact text (its BLAKE3 must be the decision's policy digest).
    pub policy_text: &'a [u8],
    /// One entry per artifact of the decision, in the decision's order.
    pub artifacts: &'a [Artifact],
    /// For a resolution: the reviews of the decision it resolves, in log order.
    pub reviews: &'a [Review],
    /// The first kept checkpoint that includes the decision, if any.
    pub checkpoint: Option<&'a Checkpoint>,
}

/// Percent-encodes a URI path segment or query value (everything but RFC 3986 unreserved
/// characters), so model and run names can never change a URI's structure.
pub fn uri_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The origin as a URI authority and path prefix: encoded as [`uri_segment`] but keeping
/// `/` (an origin like `example.com/vouch/prod` stays readable).
fn uri_origin(origin: &str) -> String {
    origin
        .split('/')
        .map(uri_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// `vouch://<origin>/verifier/v1`: who verified (this deployment's rule book, version 1).
pub fn verifier_id(origin: &str) -> String {
    format!("vouch://{}/verifier/v1", uri_origin(origin))
}

/// `vouch://<origin>/models/<model>@<run>?stage=production`: what was verified, and for
/// which stage.
pub fn resource_uri(origin: &str, model: &str, run: &str) -> String {
    format!(
        "vouch://{}/models/{}@{}?stage={STAGE}",
        uri_origin(origin),
        uri_segment(model),
        uri_segment(run)
    )
}

/// `vouch://<origin>/models/<model>/policies/<version>?position=<p>`.
pub fn policy_uri(origin: &str, model: &str, version: &str, position: u64) -> String {
    format!(
        "vouch://{}/models/{}/policies/{}?position={position}",
        uri_origin(origin),
        uri_segment(model),
        uri_segment(version)
    )
}

/// `vouch://<origin>/evidence/<hex>`: the evidence the decision read, by its digest.
pub fn evidence_uri(origin: &str, digest: &Digest) -> String {
    format!("vouch://{}/evidence/{}", uri_origin(origin), digest.hex())
}

/// A measured value as text: Rust's shortest round-trip form (`0.861`, `NaN`, `inf`), so
/// no float ever varies between serializers.
fn number(value: f64) -> String {
    format!("{value}")
}

fn key_text(key: &PublicKeyBytes) -> String {
    format!("ed25519:{}", hex(&key.0))
}

fn digest_text(digest: &Digest) -> String {
    format!("blake3:{}", digest.hex())
}

fn verdict(v: GateVerdict) -> &'static str {
    match v {
        GateVerdict::Pass => "pass",
        GateVerdict::Fail => "fail",
        GateVerdict::Review => "review",
    }
}

/// The statement's deterministic bytes: the DSSE payload.
///
/// # Errors
/// [`AttestError::NeedsReview`] for a decision waiting for review (it has no result to
/// attest); [`AttestError::PolicyMismatch`] and [`AttestError::ArtifactMismatch`] when the
/// facts given do not match the decision.
pub fn statement(d: &Decision<'_>) -> Result<Vec<u8>, AttestError> {
    Ok(canonical::to_vec(&statement_value(d)?))
}

/// The statement as a JSON value (see [`statement`]).
///
/// # Errors
/// As [`statement`].
pub fn statement_value(d: &Decision<'_>) -> Result<Value, AttestError> {
    let r = d.record;
    let (result, levels) = match r.outcome {
        DecisionOutcome::NeedsReview => return Err(AttestError::NeedsReview { index: r.index }),
        DecisionOutcome::Rejected => ("FAILED", vec![LEVEL_FAILED]),
        DecisionOutcome::Promoted if r.review.is_some() => {
            ("PASSED", vec![LEVEL_GATES_PASSED, LEVEL_REVIEW_APPROVED])
        }
        DecisionOutcome::Promoted => ("PASSED", vec![LEVEL_GATES_PASSED]),
    };
    if Digest::of(d.policy_text) != r.policy {
        return Err(AttestError::PolicyMismatch {
            expected: digest_text(&r.policy),
        });
    }
    let given: Vec<Digest> = d.artifacts.iter().map(|a| a.blake3).collect();
    if given != r.artifacts {
        return Err(AttestError::ArtifactMismatch(format!(
            "the decision names {} artifact(s) [{}], the subjects given are [{}]",
            r.artifacts.len(),
            r.artifacts
                .iter()
                .map(digest_text)
                .collect::<Vec<_>>()
                .join(", "),
            given.iter().map(digest_text).collect::<Vec<_>>().join(", ")
        )));
    }
    if r.artifacts.is_empty() {
        return Err(AttestError::ArtifactMismatch(format!(
            "decision {} names no artifact, and a statement needs a subject",
            r.index
        )));
    }
    let model = d.model.as_str();
    let run = r.run.as_str();
    let policy_sha256 = {
        use sha2::Digest as _;
        sha2::Sha256::digest(d.policy_text)
    };
    let subjects: Vec<Value> = d
        .artifacts
        .iter()
        .map(|a| {
            json!({
                "name": a.name,
                "digest": {"sha256": hex(&a.sha256), "blake3": a.blake3.hex()},
            })
        })
        .collect();
    let hash = vouch_chain::decision_hash(d.model, r);
    let mut decision = json!({
        "index": r.index,
        "hash": digest_text(&hash),
        "position": d.position,
        "model": model,
        "run": run,
        "outcome": r.outcome.as_str(),
        "decidedAt": r.decided_at.to_string(),
        "signer": key_text(&r.signer),
        "signerKeyid": keys::keyid(&r.signer.0),
        "policyVersion": r.policy_version,
        "policyPosition": r.policy_position,
        "evaluatedAt": r.evaluated_at,
        "evidenceCount": r.evidence.len() as u64,
        "evidenceDigest": digest_text(&r.evidence_digest),
        "layout": if r.log.is_some() { 2 } else { 1 },
    });
    if let Some(prev) = &r.prev {
        decision["prev"] = json!(digest_text(prev));
    }
    if let Some(baseline) = &r.baseline {
        decision["baseline"] = json!(baseline.as_str());
    }
    let gates: Vec<Value> = r
        .gates
        .iter()
        .map(|g| {
            let mut gate = json!({
                "name": g.gate,
                "threshold": g.threshold,
                "verdict": verdict(g.verdict),
                "reason": g.reason,
            });
            if let Some(metric) = &g.metric {
                gate["metric"] = json!(metric);
            }
            if let Some(v) = g.candidate {
                gate["candidate"] = json!(number(v));
            }
            if let Some(v) = g.baseline {
                gate["baseline"] = json!(number(v));
            }
            gate
        })
        .collect();
    let mut log = json!({ "origin": d.origin });
    if let Some(pin) = &r.log {
        log["pin"] = json!({"size": pin.size, "root": hex(&pin.root)});
    }
    if let Some(c) = d.checkpoint {
        log["checkpoint"] = json!({"size": c.size, "root": hex(&c.root), "note": c.note});
    }
    let mut extension = json!({
        "decision": decision,
        "gates": gates,
        "log": log,
    });
    if let Some(link) = &r.review {
        extension["review"] = json!({
            "decision": digest_text(&link.decision),
            "review": digest_text(&link.review),
            "reviewPosition": link.review_position,
            "reviews": d.reviews.iter().map(|v| json!({
                "name": v.name,
                "key": key_text(&v.key),
                "keyid": keys::keyid(&v.key.0),
                "verdict": match v.verdict {
                    ReviewVerdict::Approve => "approve",
                    ReviewVerdict::Reject => "reject",
                },
                "reviewedAt": v.reviewed_at.to_string(),
                "hash": digest_text(&v.hash),
                "position": v.position,
            })).collect::<Vec<_>>(),
        });
    }
    let mut predicate = Map::new();
    predicate.insert("verifier".into(), json!({ "id": verifier_id(d.origin) }));
    predicate.insert("timeVerified".into(), json!(r.decided_at.to_string()));
    predicate.insert(
        "resourceUri".into(),
        json!(resource_uri(d.origin, model, run)),
    );
    predicate.insert(
        "policy".into(),
        json!({
            "uri": policy_uri(d.origin, model, &r.policy_version, r.policy_position),
            "digest": {"sha256": hex(&policy_sha256), "blake3": r.policy.hex()},
        }),
    );
    predicate.insert(
        "inputAttestations".into(),
        json!([{
            "uri": evidence_uri(d.origin, &r.evidence_digest),
            "digest": {"blake3": r.evidence_digest.hex()},
        }]),
    );
    predicate.insert("verificationResult".into(), json!(result));
    predicate.insert("verifiedLevels".into(), json!(levels));
    predicate.insert(EXTENSION.into(), extension);
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": Value::Object(predicate),
    }))
}
