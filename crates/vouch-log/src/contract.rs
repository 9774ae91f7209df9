//! The contract test suite. Every backend runs it with [`log_contract_tests!`]:
//!
//! ```text
//! vouch_log::log_contract_tests!(MyHarness::new());
//! ```
//!
//! Each check takes a fresh [`Harness`]: fresh, empty storage that can be opened more
//! than once (to prove what survives a reopen).

use std::sync::Arc;

use crate::{Appended, ConditionalAppend, Log, LogKey, NewRecord, Position};

/// Fresh storage for one contract check.
pub trait Harness {
    /// The backend under test.
    type Log: Log + 'static;
    /// Opens the storage; a second call after dropping the first log reopens it.
    fn open(&self) -> Self::Log;
}

/// Generates one `#[test]` per contract check, each with a fresh harness from `$make`.
#[macro_export]
macro_rules! log_contract_tests {
    ($make:expr) => {
        $crate::log_contract_tests!(@each $make;
            empty_log, appends_get_consecutive_positions, duplicate_id_writes_nothing,
            batch_append_dedups_within_and_across, read_windows, conditional_append,
            last_for_key_tracks_each_key, survives_reopen, concurrent_appends_get_unique_positions,
            concurrent_conditional_appends_form_one_chain, large_records_round_trip,
            long_log_reads_back_in_order, conflicting_id_is_refused, identity_is_stable);
    };
    (@each $make:expr; $($check:ident),*) => {
        $(
            #[test]
            fn $check() {
                let harness = $make;
                $crate::contract::$check(&harness);
            }
        )*
    };
}

fn key(text: &str) -> LogKey {
    LogKey::new(text).expect("valid test key")
}

fn rec(id: &str, k: &str, bytes: &[u8]) -> NewRecord {
    NewRecord {
        event_id: id.to_owned(),
        key: key(k),
        bytes: bytes.to_vec(),
    }
}

fn pos(raw: u64) -> Position {
    Position::new(raw)
}

/// A new log is empty.
pub fn empty_log<H: Harness>(h: &H) {
    let log = h.open();
    assert_eq!(log.last_position().unwrap(), Position::ZERO);
    assert!(log.read(pos(1), 10).unwrap().is_empty());
    assert_eq!(log.last_for_key(&key("run.a")).unwrap(), None);
    assert_eq!(log.find("nope").unwrap(), None);
}

/// Appends get 1, 2, 3 … and read back exactly.
pub fn appends_get_consecutive_positions<H: Harness>(h: &H) {
    let log = h.open();
    for i in 1..=5u64 {
        let got = log
            .append(rec(&format!("e{i}"), "run.a", &[i as u8; 3]))
            .unwrap();
        assert_eq!(got, Appended::New(pos(i)));
    }
    assert_eq!(log.last_position().unwrap(), pos(5));
    let records = log.read(pos(1), 100).unwrap();
    assert_eq!(records.len(), 5);
    for (i, r) in records.iter().enumerate() {
        let n = i as u64 + 1;
        assert_eq!(r.position, pos(n));
        assert_eq!(r.event_id, format!("e{n}"));
        assert_eq!(r.key, key("run.a"));
        assert_eq!(r.bytes, vec![n as u8; 3]);
    }
    assert_eq!(log.find("e3").unwrap(), Some(pos(3)));
}

/// A retried append returns the original position and writes nothing.
pub fn duplicate_id_writes_nothing<H: Harness>(h: &H) {
    let log = h.open();
    assert_eq!(
        log.append(rec("x", "run.a", b"one")).unwrap(),
        Appended::New(pos(1))
    );
    assert_eq!(
        log.append(rec("y", "run.a", b"two")).unwrap(),
        Appended::New(pos(2))
    );
    assert_eq!(
        log.append(rec("x", "run.a", b"one")).unwrap(),
        Appended::Duplicate(pos(1))
    );
    assert_eq!(log.last_position().unwrap(), pos(2));
    assert_eq!(log.read(pos(1), 10).unwrap()[0].bytes, b"one");
}

fn assert_conflict(result: Result<impl std::fmt::Debug, crate::LogError>, id: &str, at: u64) {
    match result {
        Err(crate::LogError::IdConflict { event_id, position }) => {
            assert_eq!((event_id.as_str(), position), (id, pos(at)));
        }
        other => panic!("expected an id conflict for `{id}` at {at}, got {other:?}"),
    }
}

/// One event id names one content: the same id with other bytes or under another key is
/// refused with the stored record's position, on every write path, and the stored record
/// stands.
pub fn conflicting_id_is_refused<H: Harness>(h: &H) {
    let log = h.open();
    log.append(rec("x", "run.a", b"one")).unwrap();
    log.append(rec("y", "run.a", b"two")).unwrap();
    assert_conflict(log.append(rec("x", "run.a", b"changed")), "x", 1);
    assert_conflict(log.append(rec("x", "run.b", b"one")), "x", 1);
    assert_conflict(
        log.append_batch(vec![rec("x", "run.a", b"changed")]),
        "x",
        1,
    );
    assert_conflict(
        log.append_if(rec("y", "run.a", b"changed"), Some(pos(2))),
        "y",
        2,
    );
    // Two records with one id and different bytes in one batch: the second conflicts
    // with the first.
    match log.append_batch(vec![
        rec("z", "run.a", b"first"),
        rec("z", "run.a", b"second"),
    ]) {
        Err(crate::LogError::IdConflict { event_id, .. }) => assert_eq!(event_id, "z"),
        other => panic!("expected an id conflict inside the batch, got {other:?}"),
    }
    let records = log.read(pos(1), 10).unwrap();
    assert_eq!(records[0].bytes, b"one");
    assert_eq!(records[1].bytes, b"two");
    assert!(
        records
            .iter()
            .all(|r| r.bytes != b"changed" && r.bytes != b"second"),
        "a conflicting record was written"
    );
    assert_eq!(log.last_for_key(&key("run.b")).unwrap(), None);
    // The same bytes again are still a plain duplicate.
    assert_eq!(
        log.append(rec("x", "run.a", b"one")).unwrap(),
        Appended::Duplicate(pos(1))
    );
}

/// A log names itself the same way across reopens.
pub fn identity_is_stable<H: Harness>(h: &H) {
    let first = {
        let log = h.open();
        log.append(rec("a", "run.a", b"a")).unwrap();
        log.flush().unwrap();
        log.identity().unwrap()
    };
    assert!(!first.is_empty());
    assert_eq!(h.open().identity().unwrap(), first);
}

/// A batch gets consecutive positions; duplicates inside it and against the log are
/// reported, not written.
pub fn batch_append_dedups_within_and_across<H: Harness>(h: &H) {
    let log = h.open();
    assert!(log.append_batch(Vec::new()).unwrap().is_empty());
    log.append(rec("a", "run.a", b"a")).unwrap();
    let got = log
        .append_batch(vec![
            rec("b", "run.a", b"b"),
            rec("a", "run.a", b"a"),
            rec("c", "run.b", b"c"),
            rec("b", "run.a", b"b"),
            rec("d", "run.b", b"d"),
        ])
        .unwrap();
    assert_eq!(
        got,
        vec![
            Appended::New(pos(2)),
            Appended::Duplicate(pos(1)),
            Appended::New(pos(3)),
            Appended::Duplicate(pos(2)),
            Appended::New(pos(4)),
        ]
    );
    let ids: Vec<_> = log
        .read(pos(1), 10)
        .unwrap()
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
}

/// Reads start where asked, stop at `max`, and return nothing past the end.
pub fn read_windows<H: Harness>(h: &H) {
    let log = h.open();
    let batch = (1..=20)
        .map(|i| rec(&format!("e{i}"), "run.a", &[i]))
        .collect();
    log.append_batch(batch).unwrap();
    let window = log.read(pos(7), 5).unwrap();
    let positions: Vec<u64> = window.iter().map(|r| r.position.get()).collect();
    assert_eq!(positions, [7, 8, 9, 10, 11]);
    assert_eq!(log.read(pos(20), 5).unwrap().len(), 1);
    assert!(log.read(pos(21), 5).unwrap().is_empty());
    assert_eq!(log.read(Position::ZERO, 3).unwrap()[0].position, pos(1));
    assert!(log.read(pos(1), 0).unwrap().is_empty());
}

/// The compare-and-swap on a key's last position.
pub fn conditional_append<H: Harness>(h: &H) {
    let log = h.open();
    let chain = key("chain.m");
    log.append(rec("noise", "run.a", b"n")).unwrap();
    let first = log.append_if(rec("d1", "chain.m", b"1"), None).unwrap();
    assert_eq!(first, ConditionalAppend::Appended(Appended::New(pos(2))));
    let stale = log.append_if(rec("d2", "chain.m", b"2"), None).unwrap();
    assert_eq!(
        stale,
        ConditionalAppend::Conflict {
            expected: None,
            actual: Some(pos(2))
        }
    );
    let wrong = log
        .append_if(rec("d2", "chain.m", b"2"), Some(pos(1)))
        .unwrap();
    assert_eq!(
        wrong,
        ConditionalAppend::Conflict {
            expected: Some(pos(1)),
            actual: Some(pos(2))
        }
    );
    log.append(rec("noise2", "run.a", b"n")).unwrap();
    let second = log
        .append_if(rec("d2", "chain.m", b"2"), Some(pos(2)))
        .unwrap();
    assert_eq!(second, ConditionalAppend::Appended(Appended::New(pos(4))));
    assert_eq!(log.last_for_key(&chain).unwrap(), Some(pos(4)));
    let retry = log
        .append_if(rec("d2", "chain.m", b"2"), Some(pos(2)))
        .unwrap();
    assert_eq!(
        retry,
        ConditionalAppend::Appended(Appended::Duplicate(pos(4)))
    );
    assert_eq!(log.last_position().unwrap(), pos(4));
}

/// Each key's last position is tracked separately.
pub fn last_for_key_tracks_each_key<H: Harness>(h: &H) {
    let log = h.open();
    log.append_batch(vec![
        rec("1", "run.a", b""),
        rec("2", "run.b", b""),
        rec("3", "run.a", b""),
    ])
    .unwrap();
    log.append(rec("4", "run.b.x", b"")).unwrap();
    assert_eq!(log.last_for_key(&key("run.a")).unwrap(), Some(pos(3)));
    assert_eq!(log.last_for_key(&key("run.b")).unwrap(), Some(pos(2)));
    assert_eq!(log.last_for_key(&key("run.b.x")).unwrap(), Some(pos(4)));
    assert_eq!(log.last_for_key(&key("run.c")).unwrap(), None);
}

/// Flushed records, dedup state and key heads survive a reopen.
pub fn survives_reopen<H: Harness>(h: &H) {
    {
        let log = h.open();
        log.append_batch(
            (1..=10)
                .map(|i| rec(&format!("e{i}"), "run.a", &[i]))
                .collect(),
        )
        .unwrap();
        log.append_if(rec("c1", "chain.m", b"c"), None).unwrap();
        log.flush().unwrap();
    }
    let log = h.open();
    assert_eq!(log.last_position().unwrap(), pos(11));
    assert_eq!(
        log.append(rec("e4", "run.a", &[4])).unwrap(),
        Appended::Duplicate(pos(4))
    );
    assert_eq!(
        log.append(rec("e11", "run.a", &[11])).unwrap(),
        Appended::New(pos(12))
    );
    assert_eq!(log.last_for_key(&key("chain.m")).unwrap(), Some(pos(11)));
    assert_eq!(log.read(pos(10), 1).unwrap()[0].bytes, vec![10]);
}

/// Threads appending at once each get distinct positions, with no gaps.
pub fn concurrent_appends_get_unique_positions<H: Harness>(h: &H) {
    let log = Arc::new(h.open());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| {
                        let r = rec(&format!("t{t}-{i}"), "run.a", format!("{t}/{i}").as_bytes());
                        log.append(r).unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut positions: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .map(|a| match a {
            Appended::New(p) => p.get(),
            Appended::Duplicate(p) => panic!("unexpected duplicate at {p}"),
        })
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=400).collect::<Vec<_>>());
    let records = log.read(pos(1), 1000).unwrap();
    assert_eq!(records.len(), 400);
    for r in records {
        let (t, i) = r.event_id[1..].split_once('-').unwrap();
        assert_eq!(r.bytes, format!("{t}/{i}").as_bytes());
    }
}

/// Writers racing to extend one chain with conditional appends build one linear chain:
/// every link names the link before it, and none is lost.
pub fn concurrent_conditional_appends_form_one_chain<H: Harness>(h: &H) {
    let log = Arc::new(h.open());
    let chain = key("chain.m");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (log, chain) = (Arc::clone(&log), chain.clone());
            std::thread::spawn(move || {
                for i in 0..25 {
                    loop {
                        let head = log.last_for_key(&chain).unwrap();
                        let prev = head.map_or(0, Position::get);
                        let r = rec(&format!("t{t}-{i}"), "chain.m", &prev.to_be_bytes());
                        match log.append_if(r, head).unwrap() {
                            ConditionalAppend::Appended(_) => break,
                            ConditionalAppend::Conflict { .. } => continue,
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let records = log.read(pos(1), 1000).unwrap();
    assert_eq!(records.len(), 100);
    let mut prev = 0u64;
    for r in &records {
        assert_eq!(
            r.bytes,
            prev.to_be_bytes(),
            "link at {} names the wrong parent",
            r.position
        );
        prev = r.position.get();
    }
}

/// Records up to half a MiB keep every byte.
pub fn large_records_round_trip<H: Harness>(h: &H) {
    let log = h.open();
    let big: Vec<u8> = (0..512 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    log.append(rec("big", "run.a", &big)).unwrap();
    log.append(rec("small", "run.a", b"s")).unwrap();
    let records = log.read(pos(1), 2).unwrap();
    assert_eq!(records[0].bytes, big);
    assert_eq!(records[1].bytes, b"s");
}

/// Ten thousand records in several batches read back in order, in windows.
pub fn long_log_reads_back_in_order<H: Harness>(h: &H) {
    let log = h.open();
    for chunk in 0..10u64 {
        let batch = (0..1000u64)
            .map(|i| {
                let n = chunk * 1000 + i + 1;
                rec(&format!("e{n}"), "run.a", &n.to_le_bytes())
            })
            .collect();
        log.append_batch(batch).unwrap();
    }
    let mut next = 1u64;
    while next <= 10_000 {
        let window = log.read(pos(next), 333).unwrap();
        assert!(!window.is_empty());
        for r in window {
            assert_eq!(r.position, pos(next));
            assert_eq!(r.bytes, next.to_le_bytes());
            next += 1;
        }
    }
    assert_eq!(next, 10_001);
}
