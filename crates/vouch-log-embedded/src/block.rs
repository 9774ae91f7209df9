//! Blocks: the unit the embedded log stored in sled before segments; read only to
//! convert such a log ([`crate::convert`]).
//!
//! Blocks were the unit the embedded log stored. One sled value holds a run of consecutive
//! records, so a batch of thousands of events costs a handful of sled writes instead of
//! one each (sled's per-key insert rate is far below Vouch's ingest target).
//!
//! Layout, little-endian throughout:
//! `[format: u8 = 1][count: u32]` then per record
//! `[id_len: u16][id][key_len: u16][key][len: u32][bytes]`.
//! The first record's position is the sled key; the others follow without gaps.

use vouch_log::{LogKey, Position, Record};

/// The only block format there was.
pub const BLOCK_FORMAT_V1: u8 = 1;

/// A record borrowed from a decoded block.
pub struct RawRecord<'a> {
    pub event_id: &'a str,
    pub key: &'a str,
    pub bytes: &'a [u8],
}

/// The number of records in an encoded block.
pub fn count(block: &[u8]) -> usize {
    block.get(1..5).map_or(0, |c| {
        u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize
    })
}

/// Decodes a block's records, in order.
///
/// # Errors
/// A description of the damage when the block is truncated or malformed.
pub fn decode(block: &[u8]) -> Result<Vec<RawRecord<'_>>, String> {
    if block.first() != Some(&BLOCK_FORMAT_V1) {
        return Err(format!("unknown block format {:?}", block.first()));
    }
    let n = count(block);
    let mut out = Vec::with_capacity(n);
    let mut at = 5;
    let mut take = |len: usize| -> Result<&[u8], String> {
        let end = at + len;
        let slice = block.get(at..end).ok_or("block is truncated")?;
        at = end;
        Ok(slice)
    };
    for _ in 0..n {
        let id_len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
        let event_id = std::str::from_utf8(take(id_len)?).map_err(|_| "event id is not UTF-8")?;
        let key_len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
        let key = std::str::from_utf8(take(key_len)?).map_err(|_| "key is not UTF-8")?;
        let len = u32::from_le_bytes(take(4)?.try_into().expect("4")) as usize;
        let bytes = take(len)?;
        out.push(RawRecord {
            event_id,
            key,
            bytes,
        });
    }
    if at != block.len() {
        return Err(format!(
            "{} stray bytes after the last record",
            block.len() - at
        ));
    }
    Ok(out)
}

/// Turns a borrowed record into an owned [`Record`] at `position`.
///
/// # Errors
/// When the stored key is not a valid key.
pub fn to_record(raw: &RawRecord<'_>, position: Position) -> Result<Record, String> {
    Ok(Record {
        position,
        event_id: raw.event_id.to_owned(),
        key: LogKey::new(raw.key).map_err(|e| e.to_string())?,
        bytes: raw.bytes.to_vec(),
    })
}
