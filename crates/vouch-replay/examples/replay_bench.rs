//! Replay against the brief's target: 10,000 decisions over a log of 1,000,000 events in
//! under 2 s, with every decision's evidence verified against the log bytes.
//!
//! ```text
//! cargo run --release -p vouch-replay --example replay_bench                 # 10,000 runs × 100 events
//! cargo run --release -p vouch-replay --example replay_bench -- 1000 100     # runs, events per run
//! ```
//!
//! Builds an embedded ledger with one decision per run (each gated against the production
//! version of the moment, so every decision's evidence is its candidate's 100 events, the
//! baseline's 100 and the policy), then times `replay` under the same policy (nothing may
//! change) and under a stricter one, and `as_of` for the state halfway through the log.

use std::collections::BTreeMap;
use std::time::Instant;

use vouch_chain::SigningKey;
use vouch_event::{
    Body, Event, EventId, MetricsLogged, ModelName, Name, Producer, RunId, RunStarted, Subject,
    Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions, Role, Trust};
use vouch_log::Position;
use vouch_policy::Policy;
use vouch_replay::{record, replay, Scope};

const POLICY: &str = r#"
model = "bench"
version = "v1"

[baseline]
missing = "pass"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "floor"

[[gate]]
name = "latency-slo"
metric = "latency_p95_ms"
max = 200
reason = "SLO"

[[gate]]
name = "no-regression"
metric = "auc"
compare = "baseline"
max_drop = 0.02
reason = "no worse than production"
"#;

fn time(n: u64) -> Timestamp {
    Timestamp::from_unix_nanos(1_764_300_000_000_000_000 + n as i64 * 1_000_000)
}

fn event(run: &RunId, id: String, n: u64, body: Body) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        time: time(n),
        producer: Producer::new("bench").unwrap(),
        subject: Subject::Run(run.clone()),
        body,
    }
}

/// A run of `per_run` events: started, a training loop of loss values, then the eval.
fn run_events(r: u64, per_run: u64) -> Vec<Event> {
    let run = RunId::new(format!("run-{r:06}")).unwrap();
    let mut events = vec![event(
        &run,
        format!("run-{r:06}-start"),
        r,
        Body::RunStarted(RunStarted {
            experiment: "bench".into(),
            name: None,
            git: None,
            env: None,
        }),
    )];
    let loss = Name::new("loss").unwrap();
    for s in 0..per_run.saturating_sub(2) {
        events.push(event(
            &run,
            format!("run-{r:06}-{s}"),
            r,
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(loss.clone(), 1.0 / (s as f64 + 1.0))]),
                step: Some(s),
                segment: None,
            }),
        ));
    }
    let auc = 0.79 + ((r * 7919) % 100) as f64 / 1000.0;
    let latency = 100.0 + ((r * 31) % 150) as f64;
    events.push(event(
        &run,
        format!("run-{r:06}-eval"),
        r,
        Body::MetricsLogged(MetricsLogged {
            metrics: BTreeMap::from([
                (Name::new("auc").unwrap(), auc),
                (Name::new("latency_p95_ms").unwrap(), latency),
            ]),
            step: None,
            segment: None,
        }),
    ));
    events
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u64>().unwrap());
    let runs = args.next().unwrap_or(10_000);
    let per_run = args.next().unwrap_or(100).max(2);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    Ledger::init(&dir, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&dir, &OpenOptions::default()).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let key = SigningKey::from_seed([9; 32]);
    let mut trust = Trust::default();
    trust
        .add(&key.public(), "bench", Role::Signer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    let producer = Producer::new("bench").unwrap();

    let start = Instant::now();
    let batch = 100;
    let mut r = 0;
    while r < runs {
        let end = (r + batch).min(runs);
        let events: Vec<Event> = (r..end).flat_map(|r| run_events(r, per_run)).collect();
        ledger.append_unprojected(&events).unwrap();
        ledger.catch_up(&mut |_, _| {}).unwrap();
        for r in r..end {
            let run = RunId::new(format!("run-{r:06}")).unwrap();
            record(&mut ledger, &policy, POLICY, &run, &key, &producer, time(r)).unwrap();
        }
        r = end;
        eprint!("\rsetup: {r}/{runs} runs decided");
    }
    let last = ledger.log().last_position().unwrap();
    eprintln!(
        "\rsetup: {runs} runs, {runs} decisions, {} log records in {:.1} s",
        last,
        start.elapsed().as_secs_f64()
    );
    let model = ModelName::new("bench").unwrap();
    let scope = Scope {
        model,
        since: None,
        until: None,
    };

    println!("| measure | result |");
    println!("|---|---|");
    for (name, text) in [
        ("replay, same policy", POLICY.to_owned()),
        (
            "replay, stricter latency (150 ms)",
            POLICY.replace("max = 200", "max = 150"),
        ),
    ] {
        let policy = Policy::parse(&text).unwrap();
        let start = Instant::now();
        let report = replay(&ledger, &policy, &scope, &mut |_, _| {}).unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(report.summary.evidence_failures, 0);
        if name.contains("same") {
            assert_eq!(
                report.summary.changed, 0,
                "replay under the same policy changed"
            );
        }
        println!(
            "| {name}: {} decisions over {} records | {secs:.2} s ({:.0} decisions/s; {} would change, {} refolded) |",
            report.summary.replayed,
            report.summary.records_read,
            report.summary.replayed as f64 / secs,
            report.summary.changed,
            report.summary.refolded,
        );
    }
    let start = Instant::now();
    ledger.rebuild(&mut |_, _| {}).unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "| rebuild of the views, for comparison | {secs:.2} s ({:.0} records/s) |",
        last.get() as f64 / secs
    );
    let half = Position::new(last.get() / 2);
    let start = Instant::now();
    let views = ledger.as_of(half, &mut |_, _| {}).unwrap();
    let secs = start.elapsed().as_secs_f64();
    let runs_then = views.counts().unwrap().runs;
    println!(
        "| as_of position {half} (time travel: project the first half again) | {secs:.2} s ({:.0} records/s, {runs_then} runs then) |",
        half.get() as f64 / secs
    );
}
