//! Views are derived data: for any sequence of records, however it is split into
//! appends and catch-ups, the incremental views answer exactly as a rebuild and as a
//! fresh store projected in one go. Out-of-order events are kept; bad records are
//! quarantined, and every record is accounted for. The tree over the log covers every
//! record read (applied, quarantined or skipped as a duplicate): its root is the root of a
//! fresh in-memory tree over the same stored bytes, however the appends were split.

use std::collections::BTreeMap;

use proptest::prelude::*;
use std::sync::Mutex;
use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Event, EventId, LiveMetricsObserved,
    MetricsLogged, ModelName, Name, ParamsLogged, Producer, RunFinished, RunId, RunStarted,
    RunStatus, Segment, Subject, Timestamp,
};

use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
use vouch_log_embedded::EmbeddedLog;
use vouch_rules::Trust;
use vouch_tlog::tree::Tree;
use vouch_views::{
    catch_up, rebuild, Condition, MetricKey, ProjectError, RunOrder, RunQuery, Views,
};

/// One record to append: an event, or bytes the projector must quarantine.
#[derive(Debug, Clone)]
enum Item {
    Event { run: u8, body: u8, a: u8, b: u8 },
    Garbage(u8),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        9 => (0u8..3, 0u8..7, any::<u8>(), any::<u8>()).prop_map(|(run, body, a, b)| Item::Event { run, body, a, b }),
        1 => any::<u8>().prop_map(Item::Garbage),
    ]
}

fn record(n: usize, item: &Item) -> NewRecord {
    match item {
        Item::Event { run, body, a, b } => {
            let run = RunId::new(format!("run-{run}")).unwrap();
            let name =
                |x: u8| Name::new(["auc", "loss", "latency_p95_ms"][(x % 3) as usize]).unwrap();
            let body = match body {
                0 => Body::RunStarted(RunStarted {
                    experiment: format!("exp-{}", a % 2),
                    name: None,
                    git: None,
                    env: None,
                }),
                1 => Body::ParamsLogged(ParamsLogged {
                    params: BTreeMap::from([(name(*a), b.to_string())]),
                }),
                2 => Body::MetricsLogged(MetricsLogged {
                    metrics: BTreeMap::from([
                        (name(*a), f64::from(*b) / 255.0),
                        (name(a.wrapping_add(1)), f64::from(*a)),
                    ]),
                    step: (b % 2 == 0).then_some(u64::from(*b)),
                    segment: (a % 3 == 0)
                        .then(|| Segment::new(format!("region=R{}", b % 2)).unwrap()),
                }),
                3 => Body::ArtifactLogged(ArtifactLogged {
                    name: format!("model-{}", a % 2),
                    digest: Digest::of(&[*b % 4]),
                    size: u64::from(*b),
                    uri: "s3://bucket/model".into(),
                    // Old events have none; the views index the rest both ways.
                    sha256: (a % 2 == 0).then_some(vouch_event::Sha256([*b % 4; 32])),
                }),
                4 => Body::DatasetBound(DatasetBound {
                    role: [
                        DatasetRole::Train,
                        DatasetRole::Validation,
                        DatasetRole::Test,
                    ][(a % 3) as usize],
                    name: "loans.csv".into(),
                    digest: Digest::of(&[*b]),
                    rows: u64::from(*a),
                    snapshot_at: (b % 2 == 0)
                        .then(|| Timestamp::from_unix_nanos(i64::from(*b) * 1_000_000_000)),
                    labels_through: None,
                    uri: None,
                }),
                5 => Body::RunFinished(RunFinished {
                    status: [RunStatus::Ok, RunStatus::Failed][(a % 2) as usize],
                }),
                _ => Body::LiveMetricsObserved(LiveMetricsObserved {
                    env: ["production", "staging"][(a % 2) as usize].into(),
                    artifact: Digest::of(&[*b % 4]),
                    metrics: BTreeMap::from([(name(*a), f64::from(*b) / 255.0)]),
                    segment: (a % 3 == 0)
                        .then(|| Segment::new(format!("region=R{}", b % 2)).unwrap()),
                    window_start: Timestamp::from_unix_nanos(i64::from(*a) * 1_000_000_000),
                    window_end: Timestamp::from_unix_nanos(i64::from(*a) * 2_000_000_000),
                    labels_through: Timestamp::from_unix_nanos(i64::from(*b) * 1_000_000_000),
                    count: (b % 2 == 1).then_some(u64::from(*b)),
                }),
            };
            // Live observations concern a model: one per run number, under its model key.
            let (subject, key) = match body {
                Body::LiveMetricsObserved(_) => {
                    let model = ModelName::new(format!("model-{}", run.as_str())).unwrap();
                    let key = format!("model.{model}");
                    (Subject::Model(model), key)
                }
                _ => (Subject::Run(run.clone()), format!("run.{run}")),
            };
            let event = Event {
                id: EventId::new(format!("e{n}")).unwrap(),
                time: Timestamp::from_unix_nanos(n as i64 * 1_000),
                producer: Producer::new("prop").unwrap(),
                subject,
                body,
            };
            NewRecord {
                event_id: event.id.to_string(),
                key: LogKey::new(key).unwrap(),
                bytes: vouch_event::encode(&event),
            }
        }
        Item::Garbage(kind) => {
            let bytes = match kind % 5 {
                0 => br#"{"not": "an event"}"#.to_vec(),
                1 => vec![0x01, 0xff, 0xfe],
                2 => br#"{"id":"x","kind":"decision_recorded","schema":1,"time":"2026-11-28T00:00:00Z","producer":"p","model":"m","data":{}}"#.to_vec(),
                4 => {
                    // A valid event under another run's key (a producer publishing on
                    // the wrong subject).
                    let event = Event {
                        id: EventId::new(format!("e{n}")).unwrap(),
                        time: Timestamp::EPOCH,
                        producer: Producer::new("prop").unwrap(),
                        subject: Subject::Run(RunId::new("run-0").unwrap()),
                        body: Body::RunFinished(RunFinished { status: RunStatus::Ok }),
                    };
                    vouch_event::encode(&event)
                }
                _ => {
                    // A valid event whose id differs from the record's.
                    let event = Event {
                        id: EventId::new("someone-else").unwrap(),
                        time: Timestamp::EPOCH,
                        producer: Producer::new("prop").unwrap(),
                        subject: Subject::Run(RunId::new("run-0").unwrap()),
                        body: Body::RunFinished(RunFinished { status: RunStatus::Ok }),
                    };
                    vouch_event::encode(&event)
                }
            };
            NewRecord {
                event_id: format!("e{n}"),
                key: LogKey::new("run.garbage").unwrap(),
                bytes,
            }
        }
    }
}

fn check(items: Vec<Item>, cuts: Vec<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let mut views = Views::open(&dir.path().join("views")).unwrap();
    let records: Vec<NewRecord> = items
        .iter()
        .enumerate()
        .map(|(n, item)| record(n, item))
        .collect();

    // Append in random pieces, catching up after each.
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (records.len() + 1)).collect();
    cuts.push(records.len());
    cuts.sort_unstable();
    let mut from = 0;
    let mut positions = Vec::new();
    let mut expected_tree = Tree::in_memory();
    for cut in cuts {
        log.append_batch(records[from..cut].to_vec()).unwrap();
        catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
        positions.push(views.position().unwrap());
        for r in &records[from..cut] {
            expected_tree.append(&r.bytes).unwrap();
        }
        let tree = views.log_tree().unwrap();
        assert_eq!(tree.size(), cut as u64, "one leaf per record read");
        assert_eq!(
            tree.root(),
            expected_tree.root(),
            "root after {cut} records"
        );
        from = cut;
    }
    // Every earlier root, from the stored nodes, as a fresh tree computes it.
    let tree = views.log_tree().unwrap();
    for size in 0..=records.len() as u64 {
        assert_eq!(
            tree.root_at(size).unwrap(),
            expected_tree.root_at(size).unwrap(),
            "root at size {size}"
        );
    }
    drop(tree);
    assert!(
        positions.windows(2).all(|w| w[0] <= w[1]),
        "position went back: {positions:?}"
    );
    let incremental = views.dump().unwrap();
    let counts = views.counts().unwrap();
    assert_eq!(
        counts.applied + counts.quarantined,
        records.len() as u64,
        "every record accounted for"
    );
    assert_eq!(
        views.position().unwrap(),
        Position::new(records.len() as u64)
    );

    rebuild(&log, &mut views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(
        views.dump().unwrap(),
        incremental,
        "rebuild differs from incremental"
    );
    assert_eq!(
        views.log_tree().unwrap().root(),
        expected_tree.root(),
        "rebuild gives the same tree"
    );

    let fresh = Views::open(&dir.path().join("fresh")).unwrap();
    catch_up(&log, &fresh, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(
        fresh.dump().unwrap(),
        incremental,
        "fresh projection differs from incremental"
    );
    pages_agree_with_listing(&fresh);
}

/// A page of runs (`Views::runs_page`, which reads only the page's documents when it can)
/// is the matching runs listed whole, ordered the same way, and sliced.
fn pages_agree_with_listing(views: &Views) {
    let auc = MetricKey {
        name: Name::new("auc").unwrap(),
        segment: None,
    };
    let queries = [
        RunQuery::default(),
        RunQuery {
            experiment: Some("exp-0".into()),
            conditions: Vec::new(),
        },
        RunQuery {
            experiment: None,
            conditions: vec![Condition::parse("auc>0.3").unwrap()],
        },
    ];
    let orders = [
        RunOrder::Id { descending: false },
        RunOrder::Id { descending: true },
        RunOrder::Metric {
            key: auc.clone(),
            descending: true,
        },
        RunOrder::Metric {
            key: auc.clone(),
            descending: false,
        },
    ];
    for query in &queries {
        let all = views.runs(query).unwrap();
        for order in &orders {
            let mut expected: Vec<RunId> = all.iter().map(|d| d.run.clone()).collect();
            let value = |run: &RunId| {
                all.iter()
                    .find(|d| &d.run == run)
                    .and_then(|d| d.metrics.get(&auc).map(|m| m.value))
            };
            match order {
                RunOrder::Id { descending } => {
                    expected.sort();
                    if *descending {
                        expected.reverse();
                    }
                }
                RunOrder::Metric { descending, .. } => {
                    expected.sort_by(|a, b| match (value(a), value(b)) {
                        (Some(x), Some(y)) => {
                            let o = x.total_cmp(&y);
                            (if *descending { o.reverse() } else { o }).then_with(|| a.cmp(b))
                        }
                        (Some(_), None) => std::cmp::Ordering::Less,
                        (None, Some(_)) => std::cmp::Ordering::Greater,
                        (None, None) => a.cmp(b),
                    })
                }
            }
            for (offset, limit) in [(0, 1), (1, 2), (0, 100), (2, 100)] {
                let page = views.runs_page(query, order, offset, limit).unwrap();
                assert_eq!(page.total, expected.len(), "{query:?} {order:?}");
                let got: Vec<RunId> = page.runs.iter().map(|d| d.run.clone()).collect();
                let want: Vec<RunId> = expected.iter().skip(offset).take(limit).cloned().collect();
                assert_eq!(got, want, "{query:?} {order:?} {offset}+{limit}");
            }
        }
    }
}

/// A log whose positions a test chooses (so it can skip one) and that holds every append,
/// like a stream whose duplicate window has passed.
#[derive(Default)]
struct ManualLog(Mutex<Vec<Record>>);

impl ManualLog {
    fn push(&self, position: u64, record: NewRecord) {
        self.0.lock().unwrap().push(Record {
            position: Position::new(position),
            event_id: record.event_id,
            key: record.key,
            bytes: record.bytes,
        });
    }
}

impl Log for ManualLog {
    fn identity(&self) -> Result<String, LogError> {
        Ok("windowed test log".into())
    }

    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        let mut out = Vec::new();
        for r in records {
            let position = self.last_position()?.get() + 1;
            self.push(position, r);
            out.push(Appended::New(Position::new(position)));
        }
        Ok(out)
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
        Ok(log
            .iter()
            .filter(|r| r.position >= from)
            .take(max)
            .cloned()
            .collect())
    }

    fn last_position(&self) -> Result<Position, LogError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .last()
            .map_or(Position::ZERO, |r| r.position))
    }

    fn ids_unique(&self) -> bool {
        false
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

/// On a log that can hold an id twice: items, some repeated byte for byte (a late retry,
/// skipped as a duplicate) or with another content under an earlier id (quarantined), in
/// random pieces. The tree still has one leaf per record, the stored bytes hashed.
fn check_with_repeats(items: Vec<(Item, u8)>, cuts: Vec<usize>) {
    let dir = tempfile::tempdir().unwrap();
    let log = ManualLog::default();
    let mut views = Views::open(&dir.path().join("views")).unwrap();
    let mut records: Vec<NewRecord> = Vec::new();
    for (n, (item, repeat)) in items.iter().enumerate() {
        let fresh = record(n, item);
        let next = match (*repeat % 4, records.len()) {
            (_, 0) | (0 | 1, _) => fresh,
            // A late retry of an earlier record.
            (2, len) => records[usize::from(*repeat) % len].clone(),
            // Another content under an earlier record's id.
            (_, len) => NewRecord {
                event_id: records[usize::from(*repeat) % len].event_id.clone(),
                ..fresh
            },
        };
        records.push(next);
    }
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (records.len() + 1)).collect();
    cuts.push(records.len());
    cuts.sort_unstable();
    let mut from = 0;
    let mut expected = Tree::in_memory();
    for cut in cuts {
        log.append_batch(records[from..cut].to_vec()).unwrap();
        catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
        for r in &records[from..cut] {
            expected.append(&r.bytes).unwrap();
        }
        assert_eq!(views.log_tree().unwrap().root(), expected.root());
        from = cut;
    }
    let counts = views.counts().unwrap();
    assert_eq!(
        counts.applied + counts.quarantined + counts.duplicates,
        records.len() as u64,
        "every record accounted for"
    );
    let incremental = views.dump().unwrap();
    rebuild(&log, &mut views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(views.dump().unwrap(), incremental, "a rebuild agrees");
    assert_eq!(views.log_tree().unwrap().root(), expected.root());
}

#[test]
fn a_gap_in_positions_is_an_error_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let log = ManualLog::default();
    let views = Views::open(&dir.path().join("views")).unwrap();
    let items: Vec<NewRecord> = (0..4)
        .map(|n| {
            record(
                n,
                &Item::Event {
                    run: 0,
                    body: 2,
                    a: n as u8,
                    b: 1,
                },
            )
        })
        .collect();
    log.push(1, items[0].clone());
    log.push(2, items[1].clone());
    log.push(4, items[2].clone());
    let err = catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(err, ProjectError::Gap { expected, found } if expected == Position::new(3) && found == Position::new(4)),
        "{err:?}"
    );
    assert!(err.to_string().contains("position 3 is missing"), "{err}");
    // Nothing of the batch was written: views and tree are still empty.
    assert_eq!(views.position().unwrap(), Position::ZERO);
    assert_eq!(views.log_tree().unwrap().size(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_tree_covers_duplicates_and_quarantined_records(
        items in prop::collection::vec((item(), any::<u8>()), 1..200),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        check_with_repeats(items, cuts);
    }

    #[test]
    fn incremental_views_equal_a_rebuild(
        items in prop::collection::vec(item(), 1..300),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        check(items, cuts);
    }
}

#[test]
fn events_before_run_started_are_kept() {
    let items = vec![
        Item::Event {
            run: 0,
            body: 2,
            a: 1,
            b: 2,
        },
        Item::Event {
            run: 0,
            body: 1,
            a: 1,
            b: 2,
        },
        Item::Event {
            run: 0,
            body: 0,
            a: 0,
            b: 0,
        },
    ];
    check(items.clone(), vec![1]);
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let views = Views::open(&dir.path().join("views")).unwrap();
    let run = RunId::new("run-0").unwrap();
    log.append(record(0, &items[0])).unwrap();
    catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    let doc = views
        .run(&run)
        .unwrap()
        .expect("metrics before start create the run");
    assert_eq!(doc.status(), "unknown");
    assert_eq!(doc.metrics.len(), 2);
    log.append_batch(vec![record(1, &items[1]), record(2, &items[2])])
        .unwrap();
    catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    let doc = views.run(&run).unwrap().unwrap();
    assert_eq!(doc.status(), "running");
    assert_eq!(doc.experiment(), Some("exp-0"));
    assert_eq!((doc.metrics.len(), doc.params.len(), doc.events), (2, 1, 3));
}

#[test]
fn bad_records_are_quarantined_with_reasons_and_projection_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let views = Views::open(&dir.path().join("views")).unwrap();
    let items: Vec<Item> = (0..5)
        .map(Item::Garbage)
        .chain([Item::Event {
            run: 1,
            body: 0,
            a: 0,
            b: 0,
        }])
        .collect();
    log.append_batch(
        items
            .iter()
            .enumerate()
            .map(|(n, i)| record(n, i))
            .collect(),
    )
    .unwrap();
    let report = catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!((report.applied, report.quarantined), (1, 5));
    let reasons: Vec<String> = views
        .quarantine(Position::ZERO, 10)
        .unwrap()
        .into_iter()
        .map(|q| q.reason)
        .collect();
    assert!(
        reasons[0].contains("unknown field `not`") || reasons[0].contains("missing field"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("corrupt binary event"),
        "{}",
        reasons[1]
    );
    assert!(reasons[2].contains("reserved"), "{}", reasons[2]);
    assert!(
        reasons[3].contains("differs from the event's id"),
        "{}",
        reasons[3]
    );
    assert!(
        reasons[4].contains("belongs under key `run.run-0` but was logged under `run.garbage`"),
        "{}",
        reasons[4]
    );
    assert!(views.run(&RunId::new("run-1").unwrap()).unwrap().is_some());
}

#[test]
fn a_second_run_started_or_finished_is_quarantined_not_applied() {
    let items = [
        Item::Event {
            run: 0,
            body: 0,
            a: 0,
            b: 0,
        },
        Item::Event {
            run: 0,
            body: 0,
            a: 1,
            b: 0,
        },
        Item::Event {
            run: 0,
            body: 5,
            a: 0,
            b: 0,
        },
        Item::Event {
            run: 0,
            body: 5,
            a: 1,
            b: 0,
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let views = Views::open(&dir.path().join("views")).unwrap();
    log.append_batch(
        items
            .iter()
            .enumerate()
            .map(|(n, i)| record(n, i))
            .collect(),
    )
    .unwrap();
    catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    let doc = views.run(&RunId::new("run-0").unwrap()).unwrap().unwrap();
    assert_eq!((doc.experiment(), doc.status()), (Some("exp-0"), "ok"));
    let reasons: Vec<String> = views
        .quarantine(Position::ZERO, 10)
        .unwrap()
        .into_iter()
        .map(|q| q.reason)
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(
        reasons[0].contains("already started at position 1"),
        "{}",
        reasons[0]
    );
    assert!(
        reasons[1].contains("already finished (ok) at position 3"),
        "{}",
        reasons[1]
    );
}

/// A log that stores every append, like a JetStream stream whose duplicate window has
/// passed: the same event id can sit at two positions, and the projector's own id index
/// must keep the second from being applied.
#[derive(Default)]
struct WindowedLog(std::sync::Mutex<Vec<vouch_log::Record>>);

impl Log for WindowedLog {
    fn identity(&self) -> Result<String, vouch_log::LogError> {
        Ok("windowed test log".into())
    }

    fn append_batch(
        &self,
        records: Vec<NewRecord>,
    ) -> Result<Vec<vouch_log::Appended>, vouch_log::LogError> {
        let mut log = self.0.lock().unwrap();
        Ok(records
            .into_iter()
            .map(|r| {
                let position = Position::new(log.len() as u64 + 1);
                log.push(vouch_log::Record {
                    position,
                    event_id: r.event_id,
                    key: r.key,
                    bytes: r.bytes,
                });
                vouch_log::Appended::New(position)
            })
            .collect())
    }

    fn append_if(
        &self,
        record: NewRecord,
        _expected: Option<Position>,
    ) -> Result<vouch_log::ConditionalAppend, vouch_log::LogError> {
        let appended = self.append(record)?;
        Ok(vouch_log::ConditionalAppend::Appended(appended))
    }

    fn read(
        &self,
        from: Position,
        max: usize,
    ) -> Result<Vec<vouch_log::Record>, vouch_log::LogError> {
        let log = self.0.lock().unwrap();
        let start = usize::try_from(from.get().max(1) - 1).unwrap();
        Ok(log.iter().skip(start).take(max).cloned().collect())
    }

    fn last_position(&self) -> Result<Position, vouch_log::LogError> {
        Ok(Position::new(self.0.lock().unwrap().len() as u64))
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, vouch_log::LogError> {
        let log = self.0.lock().unwrap();
        Ok(log.iter().rev().find(|r| &r.key == key).map(|r| r.position))
    }

    fn find(&self, event_id: &str) -> Result<Option<Position>, vouch_log::LogError> {
        let log = self.0.lock().unwrap();
        Ok(log
            .iter()
            .find(|r| r.event_id == event_id)
            .map(|r| r.position))
    }

    fn flush(&self) -> Result<(), vouch_log::LogError> {
        Ok(())
    }
}

#[test]
fn a_late_retry_on_a_windowed_log_is_counted_once_and_never_applied_twice() {
    let dir = tempfile::tempdir().unwrap();
    let log = WindowedLog::default();
    let mut views = Views::open(&dir.path().join("views")).unwrap();
    let items: Vec<Item> = (0..6)
        .map(|n| Item::Event {
            run: 0,
            body: if n == 0 { 0 } else { 2 },
            a: n,
            b: n,
        })
        .collect();
    let records: Vec<NewRecord> = items
        .iter()
        .enumerate()
        .map(|(n, i)| record(n, i))
        .collect();
    log.append_batch(records[..4].to_vec()).unwrap();
    catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    // Retries of records 1 and 2 arrive after the window, interleaved with new ones, one of
    // them twice in the same batch.
    log.append_batch(vec![
        records[1].clone(),
        records[4].clone(),
        records[2].clone(),
        records[2].clone(),
        records[5].clone(),
    ])
    .unwrap();
    let report = catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!((report.applied, report.duplicates), (2, 3));
    let counts = views.counts().unwrap();
    assert_eq!((counts.applied, counts.duplicates), (6, 3));
    let run = views.run(&RunId::new("run-0").unwrap()).unwrap().unwrap();
    assert_eq!(run.events, 6, "each event applied once");
    let incremental = views.dump().unwrap();
    rebuild(&log, &mut views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(views.dump().unwrap(), incremental, "a rebuild agrees");
}

/// Live observations are kept per model in log order; one published under the chain's key
/// (where only decisions belong) or under another model's key is quarantined.
#[test]
fn live_observations_are_kept_per_model_and_misplaced_ones_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let views = Views::open(&dir.path().join("views")).unwrap();
    let live = Item::Event {
        run: 1,
        body: 6,
        a: 3,
        b: 7,
    };
    let mut records: Vec<NewRecord> = (0..3).map(|n| record(n, &live)).collect();
    records[1].key = LogKey::new("chain").unwrap();
    records[2].key = LogKey::new("model.other").unwrap();
    records.push(record(3, &live));
    log.append_batch(records).unwrap();
    let report = catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!((report.applied, report.quarantined), (2, 2));
    let model = ModelName::new("model-run-1").unwrap();
    let kept = views.live_observations(&model).unwrap();
    let positions: Vec<u64> = kept.iter().map(|o| o.position).collect();
    assert_eq!(positions, [1, 4]);
    assert_eq!(kept[0].env, "staging");
    assert_eq!(
        kept[0].segment.as_ref().map(Segment::as_str),
        Some("region=R1")
    );
    assert_eq!(kept[0].count, Some(7));
    assert!(views
        .live_observations(&ModelName::new("model-run").unwrap())
        .unwrap()
        .is_empty());
    assert_eq!(views.counts().unwrap().live_observations, 2);
    let reasons: Vec<String> = views
        .quarantine(Position::ZERO, 10)
        .unwrap()
        .into_iter()
        .map(|q| q.reason)
        .collect();
    for reason in &reasons {
        assert!(
            reason.contains("belongs under key `model.model-run-1`"),
            "{reason}"
        );
    }
}
