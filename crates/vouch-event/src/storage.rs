//! The canonical binary form stored in the log, and event digests.
//!
//! Layout: one format byte ([`BINARY_FORMAT_V1`] = `0x01`), then the [`Event`] in bincode
//! 2.0.1's standard configuration (little-endian, variable-length integers, enum variants
//! as their index, strings and maps length-prefixed, maps in key order). The format byte
//! lets a later encoder coexist with records written today.

use crate::{from_json, Digest, Event, WireError, MAX_EVENT_BYTES};

/// The format byte of the v1 binary form.
pub const BINARY_FORMAT_V1: u8 = 0x01;

/// Why stored bytes are not an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty record")]
    Empty,
    /// The first byte names no known form.
    #[error("unknown record format byte 0x{0:02x} (expected 0x01 binary or `{{` JSON)")]
    UnknownFormat(u8),
    /// The binary form is corrupt or truncated.
    #[error("corrupt binary event: {0}")]
    Binary(String),
    /// Bytes were left after the event.
    #[error("{0} trailing bytes after the binary event")]
    Trailing(usize),
    /// The JSON form is invalid.
    #[error(transparent)]
    Json(#[from] WireError),
}

/// Decoding allocates at most this much: a corrupt length prefix cannot ask for more.
/// It bounds memory, not input: an event of [`MAX_EVENT_BYTES`] can decode into several
/// times its size (a map of 40,000 metrics does), so the bound is generous.
const DECODE_MEMORY_LIMIT: usize = 64 * MAX_EVENT_BYTES;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_MEMORY_LIMIT>()
}

/// Encodes an event in the canonical binary form.
pub fn encode(event: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.push(BINARY_FORMAT_V1);
    bincode::encode_into_std_write(event, &mut out, bincode::config::standard())
        .expect("writing to a Vec cannot fail and events hold no unencodable values");
    out
}

/// An event whose stored form is over [`MAX_EVENT_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event `{event_id}` is {size} bytes encoded, over the {limit}-byte limit for one event; \
     record fewer or shorter values per event"
)]
pub struct EventTooLarge {
    /// The event's id.
    pub event_id: String,
    /// Its encoded size.
    pub size: usize,
    /// The limit, [`MAX_EVENT_BYTES`].
    pub limit: usize,
}

/// Encodes an event for the log, refusing one over [`MAX_EVENT_BYTES`]. Every write
/// goes through this (`vouch_ledger::record`), so it is the one place the size limit is
/// decided; [`encode`] alone is for re-encoding what is already stored.
///
/// # Errors
/// [`EventTooLarge`] when the encoded event is over the limit.
pub fn encode_checked(event: &Event) -> Result<Vec<u8>, EventTooLarge> {
    let bytes = encode(event);
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EventTooLarge {
            event_id: event.id.to_string(),
            size: bytes.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    Ok(bytes)
}

/// Decodes a record from the log: the binary form, or JSON published by another
/// language. The result is validated as [`from_json`] validates.
///
/// # Errors
/// When the bytes are neither form, or the event breaks a rule.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    match bytes.first() {
        None => Err(DecodeError::Empty),
        Some(&BINARY_FORMAT_V1) => {
            let (event, used): (Event, usize) = bincode::decode_from_slice(&bytes[1..], config())
                .map_err(|e| DecodeError::Binary(e.to_string()))?;
            if used != bytes.len() - 1 {
                return Err(DecodeError::Trailing(bytes.len() - 1 - used));
            }
            event
                .check()
                .map_err(|m| DecodeError::Json(WireError::Invalid(m)))?;
            Ok(event)
        }
        Some(b'{') | Some(b' ') | Some(b'\t') | Some(b'\n') | Some(b'\r') => Ok(from_json(bytes)?),
        Some(&other) => Err(DecodeError::UnknownFormat(other)),
    }
}

/// An event's digest: BLAKE3 over the exact bytes stored in the log.
pub fn event_digest(stored: &[u8]) -> Digest {
    Digest::of(stored)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Body, EventId, Name, ParamsLogged, Producer, RunId, Subject, Timestamp};

    /// A params event whose one value is `len` bytes long.
    fn params(len: usize) -> Event {
        let mut params = BTreeMap::new();
        params.insert(Name::new("p").unwrap(), "x".repeat(len));
        Event {
            id: EventId::new("e").unwrap(),
            time: Timestamp::EPOCH,
            producer: Producer::new("test").unwrap(),
            subject: Subject::Run(RunId::new("r").unwrap()),
            body: Body::ParamsLogged(ParamsLogged { params }),
        }
    }

    #[test]
    fn encode_checked_refuses_events_over_the_stored_limit_and_no_others() {
        // Find the value length whose encoding is exactly the limit.
        let overhead = encode(&params(MAX_EVENT_BYTES)).len() - MAX_EVENT_BYTES;
        let at_limit = params(MAX_EVENT_BYTES - overhead);
        assert_eq!(encode(&at_limit).len(), MAX_EVENT_BYTES);
        assert_eq!(encode_checked(&at_limit), Ok(encode(&at_limit)));

        let over = params(MAX_EVENT_BYTES - overhead + 1);
        let e = encode_checked(&over).unwrap_err();
        assert_eq!(
            (e.event_id.as_str(), e.size, e.limit),
            ("e", MAX_EVENT_BYTES + 1, MAX_EVENT_BYTES)
        );
        assert!(e.to_string().contains("over the 1048576-byte limit"), "{e}");
    }
}
