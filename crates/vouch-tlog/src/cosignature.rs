//! C2SP tlog-cosignature v1, Ed25519 (signature type 0x04): a witness's statement that,
//! as of a time, this checkpoint is the largest consistent tree it has seen for the log.
//!
//! Wire format: an ordinary signed-note line `— <witness name> <base64(payload)>` where
//! the payload is 76 bytes:
//!
//! ```text
//! key ID [4]  = SHA-256(name ‖ 0x0A ‖ 0x04 ‖ 32-byte public key)[..4]
//! timestamp   = u64 big-endian, POSIX seconds, at most 2^63 − 1
//! signature   = Ed25519 [64] over the signed message below
//! ```
//!
//! Signed message: `cosignature/v1\n` ‖ `time <decimal timestamp>\n` ‖ the whole
//! checkpoint body (the note text, extension lines included). The message does not
//! commit to the witness's name, so each witness needs its own key.
//!
//! ML-DSA-44 cosignatures (type 0x06) are deferred; their lines are ignored as unknown.

use ed25519_dalek::{Signer as _, SigningKey};

use crate::checkpoint::Checkpoint;
use crate::note::{
    self, key_id, KeyName, Note, NoteSignature, SignatureType, VerifierKey, VerifyError,
};

/// The header line that separates cosignatures from every other use of the key.
pub const COSIGNATURE_V1_HEADER: &str = "cosignature/v1\n";

/// Largest timestamp the spec allows (2^63 − 1), so it fits a signed 64-bit time.
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// Bytes after the key ID in an Ed25519 cosignature: timestamp (8) and signature (64).
pub const COSIGNATURE_LEN: usize = 8 + 64;

/// The part of a cosignature line after the key ID, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cosignature {
    timestamp: u64,
    signature: [u8; 64],
}

impl Cosignature {
    /// Decodes `timestamp u64 BE ‖ signature[64]`.
    ///
    /// # Errors
    /// [`CosignatureError::WrongLength`] unless exactly 72 bytes,
    /// [`CosignatureError::TimestampTooLarge`] over 2^63 − 1.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CosignatureError> {
        let (ts, sig) = match (bytes.get(..8), bytes.get(8..)) {
            (Some(ts), Some(sig)) if bytes.len() == COSIGNATURE_LEN => (ts, sig),
            _ => {
                return Err(CosignatureError::WrongLength {
                    len: bytes.len().saturating_add(4),
                })
            }
        };
        let mut t = [0u8; 8];
        t.copy_from_slice(ts);
        let timestamp = u64::from_be_bytes(t);
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::TimestampTooLarge { timestamp });
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig);
        Ok(Self {
            timestamp,
            signature,
        })
    }

    /// Decodes the cosignature carried by a note signature line (without verifying it).
    ///
    /// # Errors
    /// As [`Cosignature::from_bytes`].
    pub fn from_note_signature(line: &NoteSignature) -> Result<Self, CosignatureError> {
        Self::from_bytes(line.signature())
    }

    /// When the witness cosigned, in POSIX seconds.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The raw Ed25519 signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }
}

/// The exact bytes a witness signs: header, `time <ts>` line, checkpoint body.
pub fn signed_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(COSIGNATURE_V1_HEADER.len() + 26 + checkpoint_text.len());
    m.extend_from_slice(COSIGNATURE_V1_HEADER.as_bytes());
    m.extend_from_slice(format!("time {timestamp}\n").as_bytes());
    m.extend_from_slice(checkpoint_text.as_bytes());
    m
}

/// Cosigns a checkpoint as witness `name` at `timestamp` (passed in: no clock here) and
/// returns the signature line to add to the checkpoint's note.
///
/// # Errors
/// [`CosignatureError::TimestampTooLarge`] over 2^63 − 1.
pub fn cosign(
    checkpoint: &Checkpoint,
    name: &KeyName,
    key: &SigningKey,
    timestamp: u64,
) -> Result<NoteSignature, CosignatureError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge { timestamp });
    }
    let id = key_id(
        name,
        SignatureType::CosignatureV1.byte(),
        key.verifying_key().as_bytes(),
    );
    let sig = key.sign(&signed_message(&checkpoint.to_text(), timestamp));
    let mut payload = Vec::with_capacity(COSIGNATURE_LEN);
    payload.extend_from_slice(&timestamp.to_be_bytes());
    payload.extend_from_slice(&sig.to_bytes());
    Ok(NoteSignature::from_parts(name.clone(), id, payload))
}

/// How many distinct known witnesses validly cosigned a note, against a required count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCount {
    /// Witnesses (by key name) whose cosignature verified, with their timestamps.
    pub cosigners: Vec<(KeyName, u64)>,
    /// How many were required.
    pub required: usize,
}

impl QuorumCount {
    /// Whether enough witnesses cosigned.
    pub fn is_met(&self) -> bool {
        self.cosigners.len() >= self.required
    }
}

/// Counts valid cosignatures from `witnesses` (keys of type 0x04; other keys in the
/// slice are ignored) on `note` and compares with `required`. A shortfall is a value
/// ([`QuorumCount::is_met`] false), not an error. Strict Ed25519: small-order keys and
/// non-canonical signatures are refused.
///
/// # Errors
/// [`VerifyError`] when a known witness's cosignature fails or is malformed, as the
/// signed-note rules reject the whole note then.
pub fn count_cosignatures(
    note: &Note,
    witnesses: &[VerifierKey],
    required: usize,
) -> Result<QuorumCount, VerifyError> {
    let keys: Vec<VerifierKey> = witnesses
        .iter()
        .filter(|k| k.signature_type() == SignatureType::CosignatureV1)
        .cloned()
        .collect();
    let cosigners = note::check_signatures(note, &keys)?
        .into_iter()
        .filter_map(|v| v.timestamp.map(|t| (v.name, t)))
        .collect();
    Ok(QuorumCount {
        cosigners,
        required,
    })
}

/// Why a cosignature could not be decoded or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CosignatureError {
    /// The decoded line is not 76 bytes (key ID, timestamp, signature).
    #[error("cosignature is {len} bytes with its key id, want 76")]
    WrongLength {
        /// Length found, key ID included.
        len: usize,
    },
    /// The timestamp is over 2^63 − 1.
    #[error("cosignature timestamp {timestamp} exceeds 2^63 - 1")]
    TimestampTooLarge {
        /// The timestamp.
        timestamp: u64,
    },
}
