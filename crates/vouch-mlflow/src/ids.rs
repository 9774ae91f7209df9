//! Ids derived from content, so that a client's retry of a request states the same facts
//! under the same ids and the ledger stores them once.

use vouch_event::{Digest, EventId};

/// An event id for an MLflow write: `mlflow:<what>:<hex>`, where the hex is BLAKE3 over
/// every part (each length-prefixed, so parts cannot run into each other).
pub(crate) fn event_id(what: &str, parts: &[&[u8]]) -> EventId {
    let hex = hash(parts);
    EventId::new(format!("mlflow:{what}:{}", &hex[..48])).expect("ascii without spaces")
}

/// 64 hex characters of BLAKE3 over length-prefixed parts.
pub(crate) fn hash(parts: &[&[u8]]) -> String {
    let mut bytes = Vec::new();
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    Digest::of(&bytes).hex()
}
