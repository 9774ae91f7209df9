//! The decision chain's cryptography: canonical bytes, hashes and signatures of decision
//! and review records, evidence digests, and signing keys.
//!
//! The byte layouts are specified in `schemas/decision-record.md`, well enough for a
//! verifier in another language; `tests/golden.rs` pins records written by this version
//! so that they verify forever.
//!
//! Architecture invariant: no I/O, no clock, no randomness. Keys come in as bytes (the
//! binary edge reads the OS's random source); time comes in as a field.
#![deny(missing_docs)]

mod bytes;
mod keys;

use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use vouch_event::{
    DecisionOutcome, DecisionRecorded, DeploymentSigned, Digest, GateVerdict, ModelName,
    PublicKeyBytes, ReviewRecorded, ReviewVerdict, SignatureBytes,
};

pub use keys::{key_id, parse_public_key, public_key_text, KeyError, SigningKey};

use crate::bytes::Canonical;

/// Magic and layout version at the start of a layout-1 decision's canonical bytes (a
/// decision without a log pin).
pub const DECISION_MAGIC: &[u8; 8] = b"VOUCHDR1";
/// Magic and layout version at the start of a layout-2 decision's canonical bytes: the
/// layout-1 fields, then the log pin's size and root.
pub const DECISION_MAGIC_V2: &[u8; 8] = b"VOUCHDR2";
/// Magic and layout version at the start of a review record's canonical bytes.
pub const REVIEW_MAGIC: &[u8; 8] = b"VOUCHRV1";
/// Magic and layout version at the start of a signed deployment's canonical bytes.
pub const DEPLOYMENT_MAGIC: &[u8; 8] = b"VOUCHDP1";
/// Magic and layout version at the start of an evidence digest's input.
pub const EVIDENCE_MAGIC: &[u8; 8] = b"VOUCHEV1";

/// A signature that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key is not a valid Ed25519 point.
    #[error("signer key {0} is not a valid Ed25519 public key")]
    BadKey(String),
    /// The signature does not match the record's bytes and key.
    #[error("signature by key {0} does not verify over the record's bytes")]
    Mismatch(String),
}

/// The canonical bytes of a decision about `model`: everything but the signature.
///
/// A decision without a log pin has layout 1 (`VOUCHDR1`), byte for byte as written
/// before pins existed, so old decisions keep their hashes and signatures. With a pin it
/// has layout 2 (`VOUCHDR2`): the same fields, then the pin's size (`u64`) and root (32
/// bytes), so the signature covers the log prefix the decision read.
pub fn decision_body(model: &ModelName, d: &DecisionRecorded) -> Vec<u8> {
    let magic = if d.log.is_some() {
        DECISION_MAGIC_V2
    } else {
        DECISION_MAGIC
    };
    let mut out = Canonical::new(magic);
    out.u64(d.index);
    out.opt_digest(d.prev.as_ref());
    out.str(model.as_str());
    out.str(d.run.as_str());
    out.opt_str(d.baseline.as_ref().map(|r| r.as_str()));
    out.u32(len32(d.artifacts.len()));
    for a in &d.artifacts {
        out.digest(a);
    }
    out.digest(&d.policy);
    out.str(&d.policy_version);
    out.u64(d.policy_position);
    out.u64(d.evaluated_at);
    out.u32(len32(d.evidence.len()));
    for p in &d.evidence {
        out.u64(*p);
    }
    out.digest(&d.evidence_digest);
    out.u32(len32(d.gates.len()));
    for g in &d.gates {
        out.str(&g.gate);
        out.opt_str(g.metric.as_deref());
        out.opt_f64(g.candidate);
        out.opt_f64(g.baseline);
        out.str(&g.threshold);
        out.u8(match g.verdict {
            GateVerdict::Pass => 0,
            GateVerdict::Fail => 1,
            GateVerdict::Review => 2,
        });
        out.str(&g.reason);
    }
    out.u8(match d.outcome {
        DecisionOutcome::Promoted => 0,
        DecisionOutcome::Rejected => 1,
        DecisionOutcome::NeedsReview => 2,
    });
    match &d.review {
        None => out.u8(0),
        Some(link) => {
            out.u8(1);
            out.digest(&link.decision);
            out.digest(&link.review);
            out.u64(link.review_position);
        }
    }
    out.i64(d.decided_at.unix_nanos());
    out.bytes(&d.signer.0);
    if let Some(pin) = &d.log {
        out.u64(pin.size);
        out.bytes(&pin.root);
    }
    out.finish()
}

/// A decision's hash: BLAKE3 over its canonical bytes followed by its signature. The next
/// record names it as `prev`.
pub fn decision_hash(model: &ModelName, d: &DecisionRecorded) -> Digest {
    hash_with_signature(&decision_body(model, d), &d.signature)
}

/// Sets `d.signer` to `key` and signs the decision.
pub fn sign_decision(model: &ModelName, d: &mut DecisionRecorded, key: &SigningKey) {
    d.signer = key.public();
    d.signature = SignatureBytes(key.inner().sign(&decision_body(model, d)).to_bytes());
}

/// Checks the decision's signature against the key it names (trust is the caller's
/// question).
///
/// # Errors
/// When the key or the signature is invalid.
pub fn verify_decision(model: &ModelName, d: &DecisionRecorded) -> Result<(), SignatureError> {
    verify_body(&d.signer, &decision_body(model, d), &d.signature)
}

/// The canonical bytes of a review of a decision about `model`.
pub fn review_body(model: &ModelName, r: &ReviewRecorded) -> Vec<u8> {
    let mut out = Canonical::new(REVIEW_MAGIC);
    out.str(model.as_str());
    out.digest(&r.decision);
    out.u8(match r.verdict {
        ReviewVerdict::Approve => 0,
        ReviewVerdict::Reject => 1,
    });
    out.str(&r.reviewer);
    out.str(&r.reason);
    out.i64(r.reviewed_at.unix_nanos());
    out.bytes(&r.signer.0);
    out.finish()
}

/// A review's hash: BLAKE3 over its canonical bytes followed by its signature.
pub fn review_hash(model: &ModelName, r: &ReviewRecorded) -> Digest {
    hash_with_signature(&review_body(model, r), &r.signature)
}

/// Sets `r.signer` to `key` and signs the review.
pub fn sign_review(model: &ModelName, r: &mut ReviewRecorded, key: &SigningKey) {
    r.signer = key.public();
    r.signature = SignatureBytes(key.inner().sign(&review_body(model, r)).to_bytes());
}

/// Checks the review's signature against the key it names.
///
/// # Errors
/// When the key or the signature is invalid.
pub fn verify_review(model: &ModelName, r: &ReviewRecorded) -> Result<(), SignatureError> {
    verify_body(&r.signer, &review_body(model, r), &r.signature)
}

/// The canonical bytes of a deployment of `model`: everything but the signature.
pub fn deployment_body(model: &ModelName, d: &DeploymentSigned) -> Vec<u8> {
    let mut out = Canonical::new(DEPLOYMENT_MAGIC);
    out.str(model.as_str());
    out.str(&d.env);
    out.digest(&d.artifact);
    out.opt_digest(d.decision.as_ref());
    out.u8(u8::from(d.forced));
    out.opt_str(d.reason.as_deref());
    out.i64(d.deployed_at.unix_nanos());
    out.bytes(&d.signer.0);
    out.finish()
}

/// A deployment's hash: BLAKE3 over its canonical bytes followed by its signature.
pub fn deployment_hash(model: &ModelName, d: &DeploymentSigned) -> Digest {
    hash_with_signature(&deployment_body(model, d), &d.signature)
}

/// Sets `d.signer` to `key` and signs the deployment.
pub fn sign_deployment(model: &ModelName, d: &mut DeploymentSigned, key: &SigningKey) {
    d.signer = key.public();
    d.signature = SignatureBytes(key.inner().sign(&deployment_body(model, d)).to_bytes());
}

/// Checks the deployment's signature against the key it names.
///
/// # Errors
/// When the key or the signature is invalid.
pub fn verify_deployment(model: &ModelName, d: &DeploymentSigned) -> Result<(), SignatureError> {
    verify_body(&d.signer, &deployment_body(model, d), &d.signature)
}

/// The evidence digest: BLAKE3 over [`EVIDENCE_MAGIC`] and, for each event read in
/// ascending position, its position (u64 BE) and its event digest (BLAKE3 of its exact
/// stored bytes). Committing to per-event digests lets a verifier scanning the log keep 32
/// bytes per event instead of the events themselves.
pub fn evidence_digest<'a>(events: impl IntoIterator<Item = (u64, &'a Digest)>) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(EVIDENCE_MAGIC);
    for (position, digest) in events {
        hasher.update(&position.to_be_bytes());
        hasher.update(digest.as_bytes());
    }
    Digest::from_bytes(*hasher.finalize().as_bytes())
}

/// A record's hash from its canonical bytes and signature: what [`decision_hash`] and
/// [`review_hash`] compute, for a caller that already built the body.
pub fn record_hash(body: &[u8], signature: &SignatureBytes) -> Digest {
    hash_with_signature(body, signature)
}

fn hash_with_signature(body: &[u8], signature: &SignatureBytes) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(body);
    hasher.update(&signature.0);
    Digest::from_bytes(*hasher.finalize().as_bytes())
}

/// Checks many signatures, decompressing each signer's public key once: a chain has few
/// signers and many records, and decompression is a third of a verification's cost.
#[derive(Default)]
pub struct Verifier {
    keys: std::collections::HashMap<[u8; 32], Option<VerifyingKey>>,
}

impl Verifier {
    /// Checks `signature` by `signer` over `body` (see [`verify_body`]).
    ///
    /// # Errors
    /// When the key or the signature is invalid.
    pub fn verify(
        &mut self,
        signer: &PublicKeyBytes,
        body: &[u8],
        signature: &SignatureBytes,
    ) -> Result<(), SignatureError> {
        let key = self
            .keys
            .entry(signer.0)
            .or_insert_with(|| VerifyingKey::from_bytes(&signer.0).ok())
            .as_ref()
            .ok_or_else(|| SignatureError::BadKey(key_id(signer)))?;
        key.verify_strict(body, &Signature::from_bytes(&signature.0))
            .map_err(|_| SignatureError::Mismatch(key_id(signer)))
    }
}

/// Checks a signature over canonical bytes already built (by [`decision_body`] or
/// [`review_body`]): lets a verifier build bodies in log order and check signatures in
/// parallel.
///
/// # Errors
/// When the key or the signature is invalid.
pub fn verify_body(
    signer: &PublicKeyBytes,
    body: &[u8],
    signature: &SignatureBytes,
) -> Result<(), SignatureError> {
    let key =
        VerifyingKey::from_bytes(&signer.0).map_err(|_| SignatureError::BadKey(key_id(signer)))?;
    key.verify_strict(body, &Signature::from_bytes(&signature.0))
        .map_err(|_| SignatureError::Mismatch(key_id(signer)))
}

fn len32(len: usize) -> u32 {
    u32::try_from(len).expect("record fields are far below 4 GiB")
}
