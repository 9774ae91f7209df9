//! `verify` holds every log to one event id, one content, whatever its deduplication let
//! through: a log that promises unique ids (the embedded log) fails on any repeat, and a
//! windowed log (a stream past its duplicate window) fails on a repeat with other content.

use std::sync::Mutex;

use vouch_ledger::{verify_log, Trust};
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};

/// A log that stores whatever it is given, as a broken index or a stream past its
/// window would.
struct StoresEverything {
    records: Mutex<Vec<Record>>,
    unique: bool,
}

impl StoresEverything {
    fn with(unique: bool, records: &[(&str, &[u8])]) -> Self {
        let log = StoresEverything {
            records: Mutex::new(Vec::new()),
            unique,
        };
        log.append_batch(
            records
                .iter()
                .map(|(id, bytes)| NewRecord {
                    event_id: (*id).into(),
                    key: LogKey::new("run.r1").unwrap(),
                    bytes: bytes.to_vec(),
                })
                .collect(),
        )
        .unwrap();
        log
    }
}

impl Log for StoresEverything {
    fn identity(&self) -> Result<String, LogError> {
        Ok("test".into())
    }
    fn ids_unique(&self) -> bool {
        self.unique
    }
    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        let mut log = self.records.lock().unwrap();
        Ok(records
            .into_iter()
            .map(|r| {
                let position = Position::new(log.len() as u64 + 1);
                log.push(Record {
                    position,
                    event_id: r.event_id,
                    key: r.key,
                    bytes: r.bytes,
                });
                Appended::New(position)
            })
            .collect())
    }
    fn append_if(&self, _: NewRecord, _: Option<Position>) -> Result<ConditionalAppend, LogError> {
        unimplemented!("not needed")
    }
    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        let log = self.records.lock().unwrap();
        Ok(log
            .iter()
            .skip(from.get().max(1) as usize - 1)
            .take(max)
            .cloned()
            .collect())
    }
    fn last_position(&self) -> Result<Position, LogError> {
        Ok(Position::new(self.records.lock().unwrap().len() as u64))
    }
    fn last_for_key(&self, _: &LogKey) -> Result<Option<Position>, LogError> {
        Ok(None)
    }
    fn find(&self, _: &str) -> Result<Option<Position>, LogError> {
        Ok(None)
    }
    fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }
}

fn verify(log: &StoresEverything) -> vouch_ledger::VerifyReport {
    verify_log(log, &Trust::default(), &mut |_, _| {}).unwrap()
}

#[test]
fn distinct_ids_verify() {
    let report = verify(&StoresEverything::with(
        true,
        &[("a", b"1"), ("b", b"2"), ("c", b"3")],
    ));
    assert!(
        report.failure.is_none() && report.refused.is_empty(),
        "{report:?}"
    );
}

#[test]
fn a_log_promising_unique_ids_fails_on_any_repeat() {
    let report = verify(&StoresEverything::with(
        true,
        &[("a", b"1"), ("b", b"2"), ("a", b"1")],
    ));
    let failure = report.failure.expect("a repeated id must fail verify");
    assert_eq!(failure.position, 3);
    assert!(
        failure
            .reason
            .contains("stored twice, at positions 1 and 3"),
        "{}",
        failure.reason
    );
}

#[test]
fn a_windowed_log_may_repeat_a_record_but_not_change_it() {
    let same = verify(&StoresEverything::with(
        false,
        &[("a", b"1"), ("b", b"2"), ("a", b"1")],
    ));
    assert!(
        same.failure.is_none() && same.refused.is_empty(),
        "{same:?}"
    );
    let changed = verify(&StoresEverything::with(
        false,
        &[("a", b"1"), ("b", b"2"), ("a", b"changed")],
    ));
    assert!(changed.failure.is_none(), "{changed:?}");
    assert_eq!(changed.refused.len(), 1, "{changed:?}");
    assert!(
        changed.refused[0].reason.contains("with other content"),
        "{}",
        changed.refused[0].reason
    );
}
