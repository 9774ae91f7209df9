//! Converting a log written by earlier versions (a sled store of record blocks) into
//! segments, once, when it is first opened.
//!
//! The records are copied in order with their ids, keys and bytes into a new log under
//! `converting/`, which is then checked record by record against the sled store and
//! moved into place in one rename. The sled store is kept, renamed
//! `sled-before-segments/`, for the operator to delete. A crash at any point leaves
//! either the sled log (converted again on the next open) or the segments.

use std::path::Path;

use vouch_log::{Log, NewRecord, Position};

use crate::{block, io_error, EmbeddedLog, OpenError, Options};

/// Where the sled store goes once its records are in segments.
pub const SET_ASIDE: &str = "sled-before-segments";

fn failed(path: &Path, reason: impl std::fmt::Display) -> OpenError {
    OpenError::Convert {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// The records of the sled log, in position order, a block at a time.
fn sled_blocks(
    sled_dir: &Path,
    mut each: impl FnMut(u64, Vec<NewRecord>) -> Result<(), OpenError>,
) -> Result<u64, OpenError> {
    let db = sled::Config::new()
        .path(sled_dir)
        .open()
        .map_err(|e| failed(sled_dir, e))?;
    let tree = db.open_tree("log").map_err(|e| failed(sled_dir, e))?;
    let last = match tree.get(b"mlast").map_err(|e| failed(sled_dir, e))? {
        Some(v) => u64::from_be_bytes(
            v.as_ref()
                .try_into()
                .map_err(|_| failed(sled_dir, "its last position is not 8 bytes"))?,
        ),
        None => 0,
    };
    let mut next = 1;
    for entry in tree.range(&b"b"[..]..&b"c"[..]) {
        let (k, v) = entry.map_err(|e| failed(sled_dir, e))?;
        let first = k
            .get(1..9)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| failed(sled_dir, "a block key is malformed"))?;
        if first != next {
            return Err(failed(
                sled_dir,
                format!("a block starts at position {first}, expected {next}"),
            ));
        }
        let raw = block::decode(&v)
            .map_err(|why| failed(sled_dir, format!("block at {first}: {why}")))?;
        let mut records = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            let record = block::to_record(r, Position::new(first + i as u64))
                .map_err(|why| failed(sled_dir, why))?;
            records.push(NewRecord {
                event_id: record.event_id,
                key: record.key,
                bytes: record.bytes,
            });
        }
        next += records.len() as u64;
        each(first, records)?;
    }
    if next - 1 != last {
        return Err(failed(
            sled_dir,
            format!("its blocks hold {} records but it says {last}", next - 1),
        ));
    }
    Ok(last)
}

/// Copies the sled log in `sled_dir` into segments under `dir`.
pub fn from_sled(dir: &Path, sled_dir: &Path) -> Result<(), OpenError> {
    tracing::info!(path = %sled_dir.display(), "converting the log from sled to segments");
    let work = dir.join("converting");
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io_error("removing", &work))?;
    }
    // A stable id for a converted log: derived from the store's first block, so two
    // conversions of one store agree.
    let mut seed = blake3::Hasher::new();
    seed.update(b"vouch converted sled log");
    let copy = EmbeddedLog::open_with(&work, Some([0; 16]), Options::default())?;
    let mut seeded = false;
    let copied = sled_blocks(sled_dir, |first, records| {
        if !seeded {
            for r in &records {
                seed.update(r.event_id.as_bytes());
                seed.update(&r.bytes);
            }
            seeded = true;
        }
        let results = copy.append_batch(records)?;
        if results
            .iter()
            .enumerate()
            .any(|(i, r)| *r != vouch_log::Appended::New(Position::new(first + i as u64)))
        {
            return Err(failed(
                sled_dir,
                format!("the block at {first} holds an event id twice"),
            ));
        }
        Ok(())
    })?;
    copy.flush()?;
    drop(copy);
    // The placeholder id above is replaced by the derived one: rewrite the headers.
    let log_id: [u8; 16] = seed.finalize().as_bytes()[..16].try_into().expect("16");
    rewrite_ids(&work, log_id)?;
    // Check every record against the sled store before the copy becomes the log.
    let check = EmbeddedLog::open_with(&work, None, Options::default())?;
    if check.last_position()?.get() != copied {
        return Err(failed(sled_dir, "the copy does not hold every record"));
    }
    sled_blocks(sled_dir, |first, records| {
        let stored = check.read(Position::new(first), records.len())?;
        let same = stored.len() == records.len()
            && stored
                .iter()
                .zip(&records)
                .all(|(s, r)| s.event_id == r.event_id && s.key == r.key && s.bytes == r.bytes);
        if !same {
            return Err(failed(
                sled_dir,
                format!("the copy differs at the block from {first}"),
            ));
        }
        Ok(())
    })?;
    drop(check);
    let segments = dir.join("segments");
    std::fs::rename(work.join("segments"), &segments)
        .map_err(io_error("moving into place", &segments))?;
    let _ = std::fs::rename(work.join("index"), dir.join("index"));
    crate::sync_dir(dir).map_err(io_error("syncing", dir))?;
    let _ = std::fs::remove_dir_all(&work);
    tracing::info!(records = copied, "converted the log to segments");
    Ok(())
}

/// Rewrites the log id in every segment header under `dir` (before the log is in use).
fn rewrite_ids(dir: &Path, log_id: [u8; 16]) -> Result<(), OpenError> {
    use std::os::unix::fs::FileExt;
    let segments = dir.join("segments");
    for entry in std::fs::read_dir(&segments).map_err(io_error("reading", &segments))? {
        let path = entry.map_err(io_error("reading", &segments))?.path();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("opening", &path))?;
        let header = crate::segment::read_header(&file).map_err(|why| failed(&path, why))?;
        let new = crate::segment::encode_header(&crate::segment::Header {
            log_id,
            first: header.first,
        });
        file.write_all_at(&new, 0)
            .and_then(|()| file.sync_all())
            .map_err(io_error("writing", &path))?;
    }
    // The index names the log too: let it be rebuilt.
    let _ = std::fs::remove_file(dir.join("index"));
    Ok(())
}

/// Moves a converted sled store aside (and the old id index with it).
pub fn set_aside(dir: &Path, sled_dir: &Path) -> Result<(), OpenError> {
    let aside = dir.join(SET_ASIDE);
    if aside.exists() {
        return Err(failed(
            sled_dir,
            format!("{} exists already; remove one of them", aside.display()),
        ));
    }
    std::fs::rename(sled_dir, &aside).map_err(io_error("moving aside", sled_dir))?;
    let _ = std::fs::remove_file(dir.join("ids.idx"));
    crate::sync_dir(dir).map_err(io_error("syncing", dir))?;
    tracing::warn!(path = %aside.display(), "the log now lives in segments; the old sled store is kept here and can be deleted");
    Ok(())
}
