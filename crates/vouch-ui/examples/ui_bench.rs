//! The web UI's pages at scale, rendered in process (no HTTP): the runs page over N runs
//! (first page, filtered with a condition, sorted by a metric) and the run page of a run
//! with a 100,000-point metric history.
//!
//! ```text
//! cargo run --release -p vouch-ui --example ui_bench            # 10,000 runs
//! cargo run --release -p vouch-ui --example ui_bench -- 1000
//! ```
//!
//! Events are appended in bulk without projecting, then projected once (as
//! `vouch-ledger`'s `chain_bench` does). Each figure is the median and the 95th
//! percentile of repeated renders. Targets: runs page under 50 ms, run page under 30 ms
//! (printed, never enforced).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use vouch_app::as_of::At;
use vouch_event::{
    Body, Event, EventId, MetricsLogged, Name, ParamsLogged, Producer, RunId, RunStarted, Subject,
    Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions};
use vouch_ui::pages::{compare, run, runs};

const HISTORY_POINTS: u64 = 100_000;
const LONG_RUN: &str = "long-history";

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Median and 95th percentile of `repeat` calls of `work`, after one warm-up call.
fn time(repeat: usize, mut work: impl FnMut() -> usize) -> (Duration, Duration, usize) {
    let bytes = work();
    let mut samples: Vec<Duration> = (0..repeat)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(work());
            start.elapsed()
        })
        .collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95), bytes)
}

fn report(what: &str, target_ms: f64, (median, p95, bytes): (Duration, Duration, usize)) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let verdict = if ms(median) <= target_ms {
        "within"
    } else {
        "OVER"
    };
    println!(
        "{what:<44} median {:>7.2} ms  p95 {:>7.2} ms  {:>7} bytes  ({verdict} the {target_ms} ms target)",
        ms(median),
        ms(p95),
        bytes
    );
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the number of runs"))
        .unwrap_or(10_000);
    let repeat: usize = std::env::args()
        .nth(2)
        .map(|a| a.parse().expect("the number of renders"))
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    Ledger::init(&path, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
    let producer = Producer::new("ui-bench").unwrap();
    let time0 = Timestamp::from_unix_nanos(1_795_000_000_000_000_000);
    let event = |run: &RunId, id: String, minutes: i64, body: Body| Event {
        id: EventId::new(id).unwrap(),
        time: Timestamp::from_unix_nanos(time0.unix_nanos() + minutes * 60_000_000_000),
        producer: producer.clone(),
        subject: Subject::Run(run.clone()),
        body,
    };
    let name = |n: &str| Name::new(n).unwrap();

    let start = Instant::now();
    let mut batch = Vec::with_capacity(8192);
    for r in 0..n {
        let run = RunId::new(format!("run-{r:06}")).unwrap();
        let x = (r as f64 * 0.618_033_988_7).fract();
        batch.push(event(
            &run,
            format!("{run}:start"),
            r as i64,
            Body::RunStarted(RunStarted {
                experiment: format!("exp-{}", r % 10),
                name: Some(format!("candidate {r}")),
                git: None,
                env: None,
            }),
        ));
        batch.push(event(
            &run,
            format!("{run}:params"),
            r as i64,
            Body::ParamsLogged(ParamsLogged {
                params: BTreeMap::from([
                    (name("learning_rate"), format!("{:.4}", 0.001 + x / 10.0)),
                    (name("max_depth"), (3 + r % 8).to_string()),
                    (name("model"), "gbdt".into()),
                ]),
            }),
        ));
        batch.push(event(
            &run,
            format!("{run}:eval"),
            r as i64,
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([
                    (name("auc"), 0.75 + 0.2 * x),
                    (name("latency_p95_ms"), 80.0 + 300.0 * (1.0 - x)),
                    (name("ece"), 0.02 + 0.05 * x),
                    (name("loss"), 0.6 - 0.3 * x),
                ]),
                step: None,
                segment: None,
            }),
        ));
        if batch.len() >= 8192 {
            ledger.append_unprojected(&batch).unwrap();
            batch.clear();
        }
    }
    let long = RunId::new(LONG_RUN).unwrap();
    batch.push(event(
        &long,
        format!("{long}:start"),
        0,
        Body::RunStarted(RunStarted {
            experiment: "long".into(),
            name: Some("100k steps".into()),
            git: None,
            env: None,
        }),
    ));
    for step in 0..HISTORY_POINTS {
        batch.push(event(
            &long,
            format!("{long}:{step}"),
            0,
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(
                    name("loss"),
                    1.0 / (1.0 + step as f64 / 1000.0) + ((step * 7919) % 101) as f64 * 1e-4,
                )]),
                step: Some(step),
                segment: None,
            }),
        ));
        if batch.len() >= 8192 {
            ledger.append_unprojected(&batch).unwrap();
            batch.clear();
        }
    }
    ledger.append_unprojected(&batch).unwrap();
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    println!(
        "{n} runs (3 events each) and one run of {HISTORY_POINTS} metric values, projected in {:.1} s; {repeat} renders each",
        start.elapsed().as_secs_f64()
    );

    let at = At::new(&ledger, None);
    let runs_page = |query: &[(&str, &str)]| {
        let request = runs::RunsRequest::from_query(&pairs(query));
        move || runs::render(&at, &request).unwrap().body.len()
    };
    report("runs page, first page", 50.0, time(repeat, runs_page(&[])));
    report(
        "runs page, where auc>0.9",
        50.0,
        time(repeat, runs_page(&[("where", "auc>0.9")])),
    );
    report(
        "runs page, sorted by auc",
        50.0,
        time(repeat, runs_page(&[("sort", "auc")])),
    );
    let run_page = |id: &str| {
        let request = run::RunRequest::from_query(id, &[]);
        move || run::render(&at, &request, time0).unwrap().body.len()
    };
    report(
        "run page, 100,000-point history",
        30.0,
        time(repeat, run_page(LONG_RUN)),
    );
    report(
        "run page, a run of the many",
        30.0,
        time(repeat, run_page("run-000001")),
    );
    let request = compare::CompareRequest::from_query(&pairs(&[
        ("run", "run-000001"),
        ("run", "run-000002"),
        ("run", LONG_RUN),
    ]));
    report(
        "compare page, with the 100,000-point run",
        50.0,
        time(repeat, || {
            compare::render(&at, &request).unwrap().body.len()
        }),
    );
}
