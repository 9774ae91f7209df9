//! One event id names one content. On a log that deduplicates only within a window (a
//! JetStream stream), a record can arrive whose id the views already hold at an earlier
//! position: the same key and bytes is a late retry, counted as a duplicate; anything else
//! is another event wearing that id, quarantined with both positions named, and the first
//! record stands.

use std::collections::BTreeMap;
use std::sync::Mutex;

use vouch_event::{
    Body, Event, EventId, MetricsLogged, Name, Producer, RunId, RunStarted, Subject, Timestamp,
};
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
use vouch_rules::Trust;
use vouch_views::{catch_up, rebuild, Views};

/// A log that stores every append, like a stream whose duplicate window has passed.
#[derive(Default)]
struct WindowedLog(Mutex<Vec<Record>>);

impl Log for WindowedLog {
    fn identity(&self) -> Result<String, LogError> {
        Ok("windowed test log".into())
    }

    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        let mut log = self.0.lock().unwrap();
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

    fn append_if(
        &self,
        record: NewRecord,
        _expected: Option<Position>,
    ) -> Result<ConditionalAppend, LogError> {
        Ok(ConditionalAppend::Appended(self.append(record)?))
    }

    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        let log = self.0.lock().unwrap();
        let start = usize::try_from(from.get().max(1) - 1).unwrap();
        Ok(log.iter().skip(start).take(max).cloned().collect())
    }

    fn last_position(&self) -> Result<Position, LogError> {
        Ok(Position::new(self.0.lock().unwrap().len() as u64))
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError> {
        let log = self.0.lock().unwrap();
        Ok(log.iter().rev().find(|r| &r.key == key).map(|r| r.position))
    }

    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError> {
        let log = self.0.lock().unwrap();
        Ok(log
            .iter()
            .find(|r| r.event_id == event_id)
            .map(|r| r.position))
    }

    fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }
}

fn run() -> RunId {
    RunId::new("r-1").unwrap()
}

fn event(id: &str, body: Body) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        time: Timestamp::from_unix_nanos(1_000),
        producer: Producer::new("test").unwrap(),
        subject: Subject::Run(run()),
        body,
    }
}

fn started(id: &str) -> Event {
    event(
        id,
        Body::RunStarted(RunStarted {
            experiment: "exp".into(),
            name: None,
            git: None,
            env: None,
        }),
    )
}

fn auc(id: &str, value: f64) -> Event {
    event(
        id,
        Body::MetricsLogged(MetricsLogged {
            metrics: BTreeMap::from([(Name::new("auc").unwrap(), value)]),
            step: None,
            segment: None,
        }),
    )
}

fn record(event: &Event, key: &str) -> NewRecord {
    NewRecord {
        event_id: event.id.to_string(),
        key: LogKey::new(key).unwrap(),
        bytes: vouch_event::encode(event),
    }
}

fn reasons(views: &Views) -> Vec<(u64, String)> {
    views
        .quarantine(Position::ZERO, 100)
        .unwrap()
        .into_iter()
        .map(|q| (q.position, q.reason))
        .collect()
}

fn auc_of(views: &Views) -> f64 {
    let doc = views.run(&run()).unwrap().unwrap();
    let (_, point) = doc
        .metrics
        .iter()
        .find(|(k, _)| k.name.as_str() == "auc")
        .unwrap();
    point.value
}

#[test]
fn a_reused_id_with_other_content_is_quarantined_naming_both_positions() {
    let dir = tempfile::tempdir().unwrap();
    let log = WindowedLog::default();
    let mut views = Views::open(&dir.path().join("views")).unwrap();
    let trust = Trust::default();
    log.append_batch(vec![
        record(&started("e0"), "run.r-1"),
        record(&auc("e1", 0.5), "run.r-1"),
    ])
    .unwrap();
    catch_up(&log, &views, &trust, &mut |_, _| {}).unwrap();

    // After the window: a true retry of e1, e1 with another value, e1's bytes under another
    // key, and, inside one batch, a new e2 followed by e2 with another value.
    log.append_batch(vec![
        record(&auc("e1", 0.5), "run.r-1"),
        record(&auc("e1", 0.9), "run.r-1"),
        record(&auc("e1", 0.5), "run.r-2"),
        record(&auc("e2", 0.7), "run.r-1"),
        record(&auc("e2", 0.1), "run.r-1"),
    ])
    .unwrap();
    let report = catch_up(&log, &views, &trust, &mut |_, _| {}).unwrap();
    assert_eq!(
        (report.applied, report.duplicates, report.quarantined),
        (1, 1, 3),
        "{report:?}"
    );
    let counts = views.counts().unwrap();
    assert_eq!(
        (counts.applied, counts.duplicates, counts.quarantined),
        (3, 1, 3)
    );
    assert_eq!(
        auc_of(&views),
        0.7,
        "the first e2 stands, the other is not applied"
    );
    assert_eq!(views.run(&run()).unwrap().unwrap().events, 3);

    let quarantined = reasons(&views);
    let expected = [(4, "`e1`", 2), (5, "`e1`", 2), (7, "`e2`", 6)];
    assert_eq!(quarantined.len(), expected.len(), "{quarantined:?}");
    for ((position, reason), (at, id, first)) in quarantined.iter().zip(expected) {
        assert_eq!(*position, at, "{reason}");
        for needle in [
            format!("event id {id} is already at position {first} with other content"),
            format!("position {at}"),
        ] {
            assert!(reason.contains(&needle), "no {needle:?} in {reason:?}");
        }
    }

    let incremental = views.dump().unwrap();
    rebuild(&log, &mut views, &trust, &mut |_, _| {}).unwrap();
    assert_eq!(views.dump().unwrap(), incremental, "a rebuild agrees");
}
