//! What the embedded log does with damage: torn tails cut, flipped bytes located, a
//! damaged index rebuilt without losing dedup, failed writes cut back.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use vouch_log::{Appended, Log, LogError, LogKey, NewRecord, Position};
use vouch_log_embedded::{EmbeddedLog, OpenError, Options};

fn rec(i: u64) -> NewRecord {
    NewRecord {
        event_id: format!("e{i}"),
        key: LogKey::new(format!("run.r{}", i % 7)).unwrap(),
        bytes: format!("record number {i}").into_bytes(),
    }
}

fn fill(dir: &Path, n: u64, options: Options) {
    let log = EmbeddedLog::open_with(dir, Some([7; 16]), options).unwrap();
    for chunk in (1..=n).collect::<Vec<_>>().chunks(1000) {
        log.append_batch(chunk.iter().map(|&i| rec(i)).collect())
            .unwrap();
    }
    log.flush().unwrap();
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// Changes one byte of record `n`'s bytes in the last segment, `offset` bytes into them,
/// to `change(old)`; returns the segment and its length.
fn damage_record(dir: &Path, n: u64, offset: u64, change: impl Fn(u8) -> u8) -> (PathBuf, u64) {
    let segment = segments(dir).pop().unwrap();
    let bytes = std::fs::read(&segment).unwrap();
    let needle = format!("record number {n}");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap() as u64
        + offset;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.write_all_at(&[change(bytes[at as usize])], at)
        .unwrap();
    (segment, bytes.len() as u64)
}

/// Every record reads back, every id is a duplicate, key heads are right, and the next
/// append gets the next position.
fn assert_whole(dir: &Path, n: u64) {
    let log = EmbeddedLog::open_existing(dir).unwrap();
    assert_eq!(log.last_position().unwrap(), Position::new(n));
    let all = log.read(Position::new(1), n as usize + 10).unwrap();
    assert_eq!(all.len() as u64, n);
    for (i, r) in all.iter().enumerate() {
        assert_eq!(r.event_id, format!("e{}", i + 1));
    }
    for i in 1..=n {
        assert_eq!(
            log.append(rec(i)).unwrap(),
            Appended::Duplicate(Position::new(i)),
            "id e{i} must still be known"
        );
    }
    for k in 0..7u64 {
        let last = (1..=n).rev().find(|i| i % 7 == k);
        assert_eq!(
            log.last_for_key(&LogKey::new(format!("run.r{k}")).unwrap())
                .unwrap(),
            last.map(Position::new)
        );
    }
    assert_eq!(
        log.append(rec(n + 1)).unwrap(),
        Appended::New(Position::new(n + 1))
    );
}

#[test]
fn records_span_segments_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        segment_bytes: 4096,
    };
    fill(dir.path(), 2_000, options);
    assert!(segments(dir.path()).len() > 10);
    assert_whole(dir.path(), 2_000);
}

#[test]
fn a_torn_tail_is_cut_and_reported_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 100, Options::default());
    let segment = segments(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    // Half a frame, as a crash in the middle of a write leaves it.
    let mut frame = Vec::new();
    frame.extend_from_slice(&0x5643_4652u32.to_le_bytes());
    frame.extend_from_slice(&500u32.to_le_bytes());
    frame.extend_from_slice(&[0xAB; 40]);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap();
    file.write_all_at(&frame, len).unwrap();
    drop(file);
    {
        let log = EmbeddedLog::open_existing(dir.path()).unwrap();
        let torn = log.torn_tail().expect("reported");
        assert_eq!((torn.offset, torn.dropped), (len, frame.len() as u64));
    }
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len);
    assert_whole(dir.path(), 100);
}

#[test]
fn a_flipped_byte_in_a_record_is_located_and_other_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 300, Options::default());
    // Flip a byte inside record 150's bytes.
    damage_record(dir.path(), 150, 3, |b| b ^ 0x20);
    let log = EmbeddedLog::open_existing(dir.path()).unwrap();
    assert_eq!(log.read(Position::new(1), 149).unwrap().len(), 149);
    assert_eq!(log.read(Position::new(151), 1000).unwrap().len(), 150);
    for err in [
        log.read(Position::new(150), 1).unwrap_err(),
        log.read(Position::new(1), 1000).unwrap_err(),
    ] {
        match err {
            LogError::Corrupt { position, reason } => {
                assert_eq!(position, Position::new(150), "{reason}");
                assert!(reason.contains("checksum"), "{reason}");
                assert!(reason.contains(".seg"), "{reason}");
                assert!(reason.contains("byte offset"), "{reason}");
            }
            other => panic!("expected a located corruption, got {other:?}"),
        }
    }
}

#[test]
fn damage_in_the_middle_of_the_last_segment_is_refused_not_truncated() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 300, Options::default());
    // Lose the index, so opening must scan the segment and meet the damage.
    std::fs::remove_file(dir.path().join("index")).unwrap();
    let (segment, len) = damage_record(dir.path(), 150, 0, |_| b'X');
    match EmbeddedLog::open_existing(dir.path()) {
        Err(OpenError::Log(LogError::Corrupt { position, reason })) => {
            assert_eq!(position, Position::new(150), "{reason}");
            assert!(reason.contains("whole records follow"), "{reason}");
        }
        Err(other) => panic!("expected a located corruption, got {other}"),
        Ok(_) => panic!("expected a located corruption, the log opened"),
    }
    // Nothing was cut off.
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len);
}

fn damage_index(dir: &Path, how: &dyn Fn(&mut Vec<u8>)) {
    let path = dir.join("index");
    let mut bytes = std::fs::read(&path).unwrap();
    how(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn a_damaged_index_loses_no_dedup() {
    type Damage = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Damage)> = vec![
        ("deleted", Box::new(|b: &mut Vec<u8>| b.clear())),
        (
            "garbage",
            Box::new(|b: &mut Vec<u8>| *b = b"not an index".to_vec()),
        ),
        (
            "page zeroed",
            Box::new(|b: &mut Vec<u8>| b[4096..8192].fill(0)),
        ),
        ("header flipped", Box::new(|b: &mut Vec<u8>| b[9] ^= 1)),
        (
            "entry flipped",
            Box::new(|b: &mut Vec<u8>| b[32 * 700 + 3] ^= 0x40),
        ),
        (
            "offset flipped",
            Box::new(|b: &mut Vec<u8>| b[32 * 1200 + 17] ^= 0x01),
        ),
        (
            "last entry flipped",
            Box::new(|b: &mut Vec<u8>| {
                let n = b.len();
                b[n - 20] ^= 0x08;
            }),
        ),
        (
            "cut short",
            Box::new(|b: &mut Vec<u8>| b.truncate(32 + 32 * 500 + 7)),
        ),
        (
            "from another log",
            Box::new(|b: &mut Vec<u8>| b[8..24].fill(0x55)),
        ),
    ];
    for (name, how) in cases {
        let dir = tempfile::tempdir().unwrap();
        fill(dir.path(), 2_000, Options::default());
        damage_index(dir.path(), &how);
        let log = EmbeddedLog::open_existing(dir.path()).unwrap();
        // Reads through the damaged index, then every id again.
        assert_eq!(
            log.read(Position::new(701), 1).unwrap()[0].event_id,
            "e701",
            "{name}"
        );
        let again: Vec<_> = (1..=2_000).map(rec).collect();
        let results = log.append_batch(again).unwrap();
        for (i, r) in results.iter().enumerate() {
            assert_eq!(
                *r,
                Appended::Duplicate(Position::new(i as u64 + 1)),
                "{name}: id e{} was stored twice",
                i + 1
            );
        }
        assert_eq!(log.last_position().unwrap(), Position::new(2_000), "{name}");
        drop(log);
        assert_whole(dir.path(), 2_000);
    }
}

#[test]
fn a_missing_log_is_not_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        EmbeddedLog::open_existing(&dir.path().join("log")),
        Err(OpenError::Missing(_))
    ));
    fill(dir.path(), 10, Options::default());
    std::fs::remove_dir_all(dir.path().join("segments")).unwrap();
    assert!(matches!(
        EmbeddedLog::open_existing(dir.path()),
        Err(OpenError::Missing(_))
    ));
}

#[test]
fn a_missing_segment_in_the_middle_is_named() {
    let dir = tempfile::tempdir().unwrap();
    fill(
        dir.path(),
        500,
        Options {
            segment_bytes: 4096,
        },
    );
    let all = segments(dir.path());
    std::fs::remove_file(&all[3]).unwrap();
    std::fs::remove_file(dir.path().join("index")).unwrap();
    match EmbeddedLog::open_existing(dir.path()) {
        Err(OpenError::Log(LogError::Corrupt { reason, .. })) => {
            assert!(reason.contains("records are missing"), "{reason}")
        }
        Err(other) => panic!("expected a corruption, got {other}"),
        Ok(_) => panic!("a log with a segment missing opened"),
    }
}

#[test]
fn a_second_opener_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _log = EmbeddedLog::open(dir.path()).unwrap();
    let second = EmbeddedLog::open(dir.path());
    assert!(matches!(second, Err(ref e) if e.is_lock_contention()));
}

#[test]
fn a_flipped_byte_in_the_last_acknowledged_record_is_damage_not_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 50, Options::default());
    let (segment, len) = damage_record(dir.path(), 50, 2, |b| b ^ 0x01);
    match EmbeddedLog::open_existing(dir.path()) {
        Err(OpenError::Log(LogError::Corrupt { position, reason })) => {
            assert_eq!(position, Position::new(50), "{reason}");
            assert!(reason.contains("not a torn write"), "{reason}");
        }
        Err(other) => panic!("expected a located corruption, got {other}"),
        Ok(log) => panic!(
            "the damaged record was taken for a torn tail: {:?}, {} records left",
            log.torn_tail(),
            log.last_position().unwrap()
        ),
    }
    assert_eq!(
        std::fs::metadata(&segment).unwrap().len(),
        len,
        "nothing may be cut off"
    );
}

#[test]
fn damage_found_on_open_stays_found_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 50, Options::default());
    let (segment, len) = damage_record(dir.path(), 50, 2, |b| b ^ 0x01);
    for attempt in 0..3 {
        assert!(
            matches!(
                EmbeddedLog::open_existing(dir.path()),
                Err(OpenError::Log(LogError::Corrupt { .. }))
            ),
            "open {attempt} did not refuse the damaged last record"
        );
    }
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len);
}
