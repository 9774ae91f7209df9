//! The event-id index for logs that can hold an id twice (JetStream deduplicates only
//! within its window): which ids the views have seen, so a late retry is skipped.
//!
//! One sled value per projection batch (`i`+first position → pairs of 64-bit id hash and
//! position), not one key per id: sled inserts random keys at about 100,000/s on these
//! machines, which would cap projection there. Lookups go to an in-memory map loaded from
//! those values the first time a process needs it. A hash is only a candidate: the caller
//! confirms it against the id stored in the log, so a collision never hides an event.

use std::collections::HashMap;

use crate::{be_u64, ViewsError};

/// The 64-bit hash the index keys ids by: the first 8 bytes of BLAKE3 (stable on disk).
pub(crate) fn id_hash(event_id: &str) -> u64 {
    let digest = vouch_event::Digest::of(event_id.as_bytes());
    u64::from_be_bytes(digest.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The key of one batch's ids.
pub(crate) fn id_chunk_key(first: u64) -> Vec<u8> {
    let mut k = vec![b'i'];
    k.extend_from_slice(&first.to_be_bytes());
    k
}

/// One batch's ids as stored: (hash, position) pairs, 16 bytes each, big-endian.
pub(crate) fn encode_chunk(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pairs.len() * 16);
    for (hash, position) in pairs {
        out.extend_from_slice(&hash.to_be_bytes());
        out.extend_from_slice(&position.to_be_bytes());
    }
    out
}

/// The pairs of one stored chunk.
pub(crate) fn decode_chunk(key: &[u8], value: &[u8]) -> Result<Vec<(u64, u64)>, ViewsError> {
    if !value.len().is_multiple_of(16) {
        return Err(ViewsError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: format!("an id chunk of {} bytes is not whole pairs", value.len()),
        });
    }
    value
        .chunks_exact(16)
        .map(|pair| Ok((be_u64(key, &pair[..8])?, be_u64(key, &pair[8..])?)))
        .collect()
}

/// Every id seen, in memory: hash → first position, and the rare extra positions of
/// different ids that share a hash.
#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    first: HashMap<u64, u64>,
    collided: HashMap<u64, Vec<u64>>,
}

impl IdIndex {
    pub(crate) fn insert(&mut self, hash: u64, position: u64) {
        if let Some(&existing) = self.first.get(&hash) {
            if existing != position {
                self.collided.entry(hash).or_default().push(position);
            }
        } else {
            self.first.insert(hash, position);
        }
    }

    /// Positions whose record may carry an id with this hash.
    pub(crate) fn candidates(&self, hash: u64) -> Vec<u64> {
        let mut out: Vec<u64> = self.first.get(&hash).copied().into_iter().collect();
        if let Some(more) = self.collided.get(&hash) {
            out.extend(more);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_collisions_keep_every_candidate() {
        let pairs = vec![(id_hash("a"), 1), (id_hash("b"), 2), (u64::MAX, u64::MAX)];
        let key = id_chunk_key(1);
        assert_eq!(decode_chunk(&key, &encode_chunk(&pairs)).unwrap(), pairs);
        assert!(decode_chunk(&key, &[0; 15]).is_err());
        let mut index = IdIndex::default();
        index.insert(7, 10);
        index.insert(7, 10);
        index.insert(7, 42);
        assert_eq!(index.candidates(7), vec![10, 42]);
        assert!(index.candidates(8).is_empty());
        assert_ne!(id_hash("a"), id_hash("b"));
    }
}
