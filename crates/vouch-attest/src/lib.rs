//! Vouch decisions as standard attestations (`schemas/attestation.md`).
//!
//! A decision that promoted or rejected artifacts becomes an in-toto Statement v1 whose
//! predicate is a SLSA Verification Summary (VSA v1), with Vouch's own facts (gates,
//! chain index, decision hash, log pin and checkpoint, reviews) under one URI-named
//! extension field. It is serialized as deterministic JSON ([`canonical`]) and signed in a DSSE
//! v1.0.2 envelope ([`dsse`]) by the decision's own key, plus the reviewers' keys when a
//! review enacted it. Three containers: the envelope itself, an `.intoto.jsonl` line, and
//! a Sigstore bundle v0.3 carrying the signer's signature and a public-key hint.
//!
//! *Invariant:* no I/O and no clock: the decision, policy text, artifact digests,
//! checkpoint and keys arrive as values; the same values give the same bytes.

pub mod canonical;
pub mod check;
pub mod dsse;
pub mod keys;
pub mod statement;

use serde_json::{json, Value};
use sha2::Digest as _;
use vouch_chain::SigningKey;
use vouch_event::PublicKeyBytes;

pub use check::{check_statement, Summary};
pub use dsse::{pae, Envelope, Signature, PAYLOAD_TYPE};
pub use statement::{statement, Artifact, Checkpoint, Decision, Review};

/// The media type of a Sigstore bundle v0.3 in JSON.
pub const SIGSTORE_BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Why an attestation cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// A needs-review decision promotes and rejects nothing.
    #[error("decision {index} needs review: it neither promotes nor rejects, so it has no verification result to attest; once the reviews decide it, enact them (`vouch review enact`) and attest the decision that resolves it")]
    NeedsReview {
        /// Its chain index.
        index: u64,
    },
    /// The key given is not the one that signed the decision.
    #[error("the key given (key id {given}) did not sign decision {index}, which key {signer} signed: an attestation is signed with the decision's own signing key")]
    NotTheSigner {
        /// The decision's chain index.
        index: u64,
        /// The key id of the key given.
        given: String,
        /// The key id of the decision's signer.
        signer: String,
    },
    /// A reviewer key that did not review the decision this one resolves.
    #[error("reviewer key {key} did not review the decision that decision {index} resolves")]
    NotAReviewer {
        /// The decision's chain index.
        index: u64,
        /// The key id of the key given.
        key: String,
    },
    /// Reviewer keys for a decision no review enacted.
    #[error("decision {index} was not enacted by a review, so it has no reviewer to sign it")]
    NoReview {
        /// The decision's chain index.
        index: u64,
    },
    /// The policy text does not hash to the decision's policy digest.
    #[error("the policy text does not hash to the decision's policy digest {expected}")]
    PolicyMismatch {
        /// The decision's policy digest.
        expected: String,
    },
    /// The subjects given are not the decision's artifacts.
    #[error("subjects: {0}")]
    ArtifactMismatch(String),
    /// Not a DSSE envelope (or a container of one).
    #[error("not a DSSE envelope: {0}")]
    Envelope(String),
    /// A statement that is not a Vouch VSA.
    #[error("the statement is not a Vouch VSA: {0}")]
    Statement(String),
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// BLAKE3 and SHA-256 of bytes that arrive in pieces (an artifact file).
#[derive(Default)]
pub struct Hasher {
    blake3: blake3::Hasher,
    sha256: sha2::Sha256,
}

impl Hasher {
    /// Adds the next piece.
    pub fn update(&mut self, bytes: &[u8]) {
        self.blake3.update(bytes);
        self.sha256.update(bytes);
    }

    /// The BLAKE3 digest and the SHA-256.
    pub fn finish(self) -> (vouch_event::Digest, [u8; 32]) {
        (
            vouch_event::Digest::from_bytes(*self.blake3.finalize().as_bytes()),
            self.sha256.finalize().into(),
        )
    }
}

/// A signed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The envelope: the statement's bytes, signed by the decision's key first, then by
    /// each reviewer key given.
    pub envelope: Envelope,
}

/// Builds the statement for `decision` and signs it with `signer`, which must be the key
/// that signed the decision, and then with each of `reviewers`, each of which must have
/// reviewed the decision it resolves.
///
/// # Errors
/// The errors of [`statement`], [`AttestError::NotTheSigner`],
/// [`AttestError::NoReview`] and [`AttestError::NotAReviewer`].
pub fn export(
    decision: &Decision<'_>,
    signer: &SigningKey,
    reviewers: &[&SigningKey],
) -> Result<Attestation, AttestError> {
    let index = decision.record.index;
    let expected: &PublicKeyBytes = &decision.record.signer;
    if signer.public() != *expected {
        return Err(AttestError::NotTheSigner {
            index,
            given: vouch_chain::key_id(&signer.public()),
            signer: vouch_chain::key_id(expected),
        });
    }
    if !reviewers.is_empty() && decision.record.review.is_none() {
        return Err(AttestError::NoReview { index });
    }
    for r in reviewers {
        if !decision.reviews.iter().any(|v| v.key == r.public()) {
            return Err(AttestError::NotAReviewer {
                index,
                key: vouch_chain::key_id(&r.public()),
            });
        }
    }
    let payload = statement(decision)?;
    let mut keys = vec![signer];
    keys.extend_from_slice(reviewers);
    Ok(Attestation {
        envelope: Envelope::sign(PAYLOAD_TYPE, payload, &keys),
    })
}

impl Attestation {
    /// The DSSE envelope as a JSON file: deterministic JSON and a newline.
    pub fn dsse_json(&self) -> Vec<u8> {
        let mut out = self.envelope.to_json();
        out.push(b'\n');
        out
    }

    /// One line of an `.intoto.jsonl` bundle (`application/vnd.in-toto.bundle`): the
    /// envelope's deterministic JSON and a newline.
    pub fn intoto_jsonl_line(&self) -> Vec<u8> {
        self.dsse_json()
    }

    /// A Sigstore bundle v0.3 with the first (the decision signer's) signature only: a
    /// bundle holds one. `verificationMaterial.publicKey.hint` is the signer's
    /// [`keys::keyid`]; no transparency-log entries.
    pub fn sigstore_bundle(&self) -> Vec<u8> {
        let mut envelope = self.envelope.clone();
        envelope.signatures.truncate(1);
        let hint = envelope.signatures[0].keyid.clone();
        let mut out = canonical::to_vec(&json!({
            "mediaType": SIGSTORE_BUNDLE_V03,
            "verificationMaterial": {
                "publicKey": { "hint": hint },
                "tlogEntries": [],
            },
            "dsseEnvelope": envelope.to_value(),
        }));
        out.push(b'\n');
        out
    }
}

/// Reads the envelopes of any container this crate writes: a DSSE envelope, a Sigstore
/// bundle (its `dsseEnvelope`) or an `.intoto.jsonl` bundle (one envelope a line).
///
/// # Errors
/// [`AttestError::Envelope`] when the bytes are none of these.
pub fn read_envelopes(bytes: &[u8]) -> Result<Vec<Envelope>, AttestError> {
    if bytes.len() > dsse::MAX_ENVELOPE_BYTES {
        return Err(AttestError::Envelope(format!(
            "{} bytes is more than the {} an attestation file may have",
            bytes.len(),
            dsse::MAX_ENVELOPE_BYTES
        )));
    }
    let one = |value: &Value| -> Result<Envelope, AttestError> {
        match value.get("mediaType").and_then(Value::as_str) {
            Some(t) if t.starts_with("application/vnd.dev.sigstore.bundle") => {
                let env = value.get("dsseEnvelope").ok_or_else(|| {
                    AttestError::Envelope("a Sigstore bundle without a `dsseEnvelope`".into())
                })?;
                Envelope::from_value(env)
            }
            _ => Envelope::from_value(value),
        }
    };
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return Ok(vec![one(&value)?]);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AttestError::Envelope("neither JSON nor JSON lines".into()))?;
    let envelopes = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let value: Value = serde_json::from_str(line)
                .map_err(|e| AttestError::Envelope(format!("line {} is not JSON: {e}", i + 1)))?;
            one(&value)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if envelopes.is_empty() {
        return Err(AttestError::Envelope("no envelope in the file".into()));
    }
    Ok(envelopes)
}
