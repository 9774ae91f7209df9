//! End-to-end throughput of the embedded ledger, against the targets in the brief.
//!
//! ```text
//! cargo run --release -p vouch-ledger --example bench            # 1,000,000 events
//! cargo run --release -p vouch-ledger --example bench -- 200000  # fewer
//! ```
//!
//! Measures: batched ingest of metric events (encode, append, fsync), projection of the
//! same events, a full rebuild of the views; then 1,000 runs with 20 params and 10
//! metrics each (creating them, querying `auc > 0.8`, fetching one run).

use std::collections::BTreeMap;
use std::time::Instant;

use vouch_event::{
    Body, Event, EventId, MetricsLogged, Name, ParamsLogged, Producer, RunFinished, RunId,
    RunStarted, RunStatus, Subject, Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions};
use vouch_views::{Condition, RunQuery};

const BATCH: usize = 8192;

fn event(id: String, run: &RunId, n: u64, body: Body) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        time: Timestamp::from_unix_nanos(1_764_300_000_000_000_000 + n as i64 * 1_000_000),
        producer: Producer::new("bench").unwrap(),
        subject: Subject::Run(run.clone()),
        body,
    }
}

fn rate(n: u64, secs: f64) -> String {
    format!("{:>10.0}/s  ({n} in {secs:.3} s)", n as f64 / secs)
}

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    Ledger::init(&path, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();

    // 1,000 runs, each a training loop logging one metric value per event.
    let runs = 1000u64;
    let per_run = total / runs;
    let names: Vec<Name> = ["loss", "auc", "accuracy", "ece"]
        .iter()
        .map(|n| Name::new(*n).unwrap())
        .collect();
    let mut events = Vec::with_capacity(total as usize);
    for r in 0..runs {
        let run = RunId::new(format!("bench-{r:05}")).unwrap();
        for s in 0..per_run {
            let mut metrics = BTreeMap::new();
            metrics.insert(names[(s % 4) as usize].clone(), 1.0 / (s as f64 + 1.0));
            let body = Body::MetricsLogged(MetricsLogged {
                metrics,
                step: Some(s),
                segment: None,
            });
            events.push(event(format!("bench-{r:05}-{s}"), &run, s, body));
        }
    }
    let n = events.len() as u64;
    let start = Instant::now();
    for chunk in events.chunks(BATCH) {
        ledger.append_unprojected(chunk).unwrap();
    }
    ledger.flush().unwrap();
    let ingest = start.elapsed().as_secs_f64();
    let start = Instant::now();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    let project = start.elapsed().as_secs_f64();
    let start = Instant::now();
    ledger.rebuild(&mut |_, _| {}).unwrap();
    let rebuild = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let again = ledger
        .append_unprojected(&events[..BATCH.min(events.len())])
        .unwrap();
    let retry = start.elapsed().as_secs_f64();
    assert!(again
        .iter()
        .all(|a| matches!(a, vouch_log::Appended::Duplicate(_))));
    drop(events);

    println!("metric events: {n}");
    println!(
        "  ingest (encode, append, one fsync)      {}   target >= 300,000/s",
        rate(n, ingest)
    );
    println!(
        "  projection                              {}",
        rate(n, project)
    );
    println!(
        "  rebuild                                 {}   target >= 200,000/s",
        rate(n, rebuild)
    );
    println!(
        "  retried batch (all duplicates)          {}",
        rate(again.len() as u64, retry)
    );

    // 1,000 runs with 20 params and 10 metrics each.
    let mut events = Vec::new();
    for r in 0..1000u64 {
        let run = RunId::new(format!("grid-{r:04}")).unwrap();
        let started = RunStarted {
            experiment: "grid".into(),
            name: None,
            git: None,
            env: None,
        };
        events.push(event(
            format!("grid-{r}-start"),
            &run,
            0,
            Body::RunStarted(started),
        ));
        let params = (0..20)
            .map(|p| {
                (
                    Name::new(format!("param_{p}")).unwrap(),
                    format!("{}", r * p),
                )
            })
            .collect();
        events.push(event(
            format!("grid-{r}-params"),
            &run,
            1,
            Body::ParamsLogged(ParamsLogged { params }),
        ));
        let metrics = (0..10)
            .map(|m| {
                let name = if m == 0 {
                    "auc".to_owned()
                } else {
                    format!("metric_{m}")
                };
                (Name::new(name).unwrap(), (r * 7 + m) as f64 % 100.0 / 100.0)
            })
            .collect();
        events.push(event(
            format!("grid-{r}-metrics"),
            &run,
            2,
            Body::MetricsLogged(MetricsLogged {
                metrics,
                step: None,
                segment: None,
            }),
        ));
        events.push(event(
            format!("grid-{r}-end"),
            &run,
            3,
            Body::RunFinished(RunFinished {
                status: RunStatus::Ok,
            }),
        ));
    }
    let start = Instant::now();
    for chunk in events.chunks(BATCH) {
        ledger.append_unprojected(chunk).unwrap();
    }
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    let create = start.elapsed().as_secs_f64();
    let query = RunQuery {
        experiment: Some("grid".into()),
        conditions: vec![Condition::parse("auc>0.8").unwrap()],
    };
    let mut best = f64::MAX;
    let mut found = 0;
    for _ in 0..20 {
        let start = Instant::now();
        found = ledger.views().runs(&query).unwrap().len();
        best = best.min(start.elapsed().as_secs_f64());
    }
    let all = RunQuery {
        experiment: None,
        conditions: vec![Condition::parse("auc>0.8").unwrap()],
    };
    let mut best_all = f64::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        ledger.views().runs(&all).unwrap();
        best_all = best_all.min(start.elapsed().as_secs_f64());
    }
    let run = RunId::new("grid-0500").unwrap();
    let mut best_one = f64::MAX;
    for _ in 0..200 {
        let start = Instant::now();
        ledger.views().run(&run).unwrap().unwrap();
        best_one = best_one.min(start.elapsed().as_secs_f64());
    }
    println!("1,000 runs x (20 params, 10 metrics)");
    println!(
        "  create (4 events per run, projected)    {:>10.0} runs/s   target >= 10,000/s",
        1000.0 / create
    );
    println!(
        "  query grid runs with auc>0.8 ({found} hits)  {:>8.3} ms (best of 20)   target < 5 ms",
        best * 1e3
    );
    println!(
        "  query all {} runs with auc>0.8          {:>8.3} ms (best of 20)",
        1000 + runs,
        best_all * 1e3
    );
    println!(
        "  fetch one run                           {:>8.3} ms (best of 200)   target < 0.5 ms",
        best_one * 1e3
    );
}
