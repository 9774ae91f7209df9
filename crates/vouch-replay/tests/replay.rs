//! Replay recomputes past decisions on the evidence exactly as each decision read it: under
//! the original policy nothing changes, later evidence never leaks in, a stricter policy
//! flips what it should, and evidence whose log bytes changed is named, not evaluated. The
//! same scenario runs on the embedded log and on a JetStream stream.

use std::collections::BTreeMap;
use std::path::Path;

use vouch_chain::SigningKey;
use vouch_event::{
    Body, DecisionOutcome, Event, EventId, MetricsLogged, ModelName, Name, Producer, RunId,
    RunStarted, Subject, Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions};
use vouch_log::{Log, LogKey, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;
use vouch_policy::Policy;
use vouch_replay::{record, replay, ReplayReport, Scope};
use vouch_test_nats::NatsServer;

const POLICY: &str = r#"
model = "scoring"
version = "v1"

[baseline]
missing = "pass"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "AUC below 0.80 loses money"

[[gate]]
name = "latency-slo"
metric = "latency_p95_ms"
max = 200
reason = "the latency SLO"

[[gate]]
name = "no-regression"
metric = "auc"
compare = "baseline"
max_drop = 0.01
reason = "no worse than production"
"#;

fn strict() -> String {
    POLICY
        .replace("version = \"v1\"", "version = \"v2-strict\"")
        .replace("max = 200", "max = 150")
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn producer() -> Producer {
    Producer::new("replay-test").unwrap()
}

fn model() -> ModelName {
    ModelName::new("scoring").unwrap()
}

fn event(run: &str, what: &str, at: i64, body: Body) -> Event {
    Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: time(at),
        producer: producer(),
        subject: Subject::Run(RunId::new(run).unwrap()),
        body,
    }
}

fn metrics(run: &str, what: &str, at: i64, values: &[(&str, f64)]) -> Event {
    event(
        run,
        what,
        at,
        Body::MetricsLogged(MetricsLogged {
            metrics: values
                .iter()
                .map(|(n, v)| (Name::new(*n).unwrap(), *v))
                .collect::<BTreeMap<_, _>>(),
            step: None,
            segment: None,
        }),
    )
}

fn start(run: &str, at: i64) -> Event {
    event(
        run,
        "start",
        at,
        Body::RunStarted(RunStarted {
            experiment: "scoring".into(),
            name: None,
            git: None,
            env: None,
        }),
    )
}

/// Logs a run and gates it under `text`, recording the signed decision.
fn decide(ledger: &mut Ledger, text: &str, run: &str, auc: f64, latency: f64, at: i64) {
    ledger
        .append(&[
            start(run, at),
            metrics(
                run,
                "eval",
                at,
                &[("auc", auc), ("latency_p95_ms", latency)],
            ),
        ])
        .unwrap();
    let policy = Policy::parse(text).unwrap();
    let key = SigningKey::from_seed([7; 32]);
    trust_key(ledger, &key);
    record(
        ledger,
        &policy,
        text,
        &RunId::new(run).unwrap(),
        &key,
        &producer(),
        time(at),
    )
    .unwrap();
}

/// Four decisions: `a` first release (promoted), `b` promoted over it at 180 ms, `c`
/// rejected for AUC, `d` promoted at 140 ms; then `b` logs a worse AUC after its decision.
fn scenario(ledger: &mut Ledger) {
    decide(ledger, POLICY, "a", 0.85, 120.0, 0);
    decide(ledger, POLICY, "b", 0.86, 180.0, 10);
    decide(ledger, POLICY, "c", 0.70, 100.0, 20);
    decide(ledger, POLICY, "d", 0.87, 140.0, 30);
    // Evidence logged after a decision must not change what replay sees for it.
    ledger
        .append(&[metrics("b", "late", 40, &[("auc", 0.10)])])
        .unwrap();
}

fn run_replay(ledger: &Ledger, text: &str) -> ReplayReport {
    replay(
        ledger,
        &Policy::parse(text).unwrap(),
        &Scope {
            model: model(),
            since: None,
            until: None,
        },
        &mut |_, _| {},
    )
    .unwrap()
}

fn outcomes(report: &ReplayReport) -> Vec<(String, DecisionOutcome, Option<DecisionOutcome>)> {
    report
        .decisions
        .iter()
        .map(|d| (d.run.to_string(), d.old_outcome, d.new_outcome))
        .collect()
}

/// What every backend must show.
fn check_replays(ledger: &Ledger) {
    use DecisionOutcome::{Promoted, Rejected};
    let same = run_replay(ledger, POLICY);
    assert_eq!(same.summary.replayed, 4, "{:#?}", same.summary);
    assert_eq!(same.summary.changed, 0, "{:#?}", same.decisions);
    assert_eq!(same.summary.refolded, 0, "one pass sufficed");
    assert_eq!(
        outcomes(&same),
        vec![
            ("a".into(), Promoted, Some(Promoted)),
            ("b".into(), Promoted, Some(Promoted)),
            ("c".into(), Rejected, Some(Rejected)),
            ("d".into(), Promoted, Some(Promoted)),
        ]
    );
    for d in &same.decisions {
        assert!(d.gates.is_empty(), "{d:#?}");
        assert_eq!(d.evidence_problem, None);
    }

    let stricter = run_replay(ledger, &strict());
    assert_eq!(stricter.summary.changed, 1, "{:#?}", stricter.decisions);
    assert_eq!(stricter.summary.transitions["promoted -> rejected"], 1);
    let flipped = stricter.decisions.iter().find(|d| d.changed).unwrap();
    assert_eq!(flipped.run.as_str(), "b");
    assert_eq!(flipped.baseline.as_ref().map(RunId::as_str), Some("a"));
    assert_eq!(flipped.gates.len(), 1, "{:#?}", flipped.gates);
    let gate = &flipped.gates[0];
    assert_eq!(gate.gate, "latency-slo");
    assert_eq!(gate.new.as_ref().unwrap().candidate, Some(180.0));
    assert_eq!(gate.old.as_ref().unwrap().threshold, "<= 200");
    assert_eq!(gate.new.as_ref().unwrap().threshold, "<= 150");

    // A metric nobody logged fails its gate for every decision and is named.
    let typo = POLICY.replace("metric = \"latency_p95_ms\"", "metric = \"latency_p99_ms\"");
    let report = run_replay(ledger, &typo);
    assert_eq!(report.never_logged, vec!["latency_p99_ms".to_owned()]);
    assert!(report
        .decisions
        .iter()
        .all(|d| d.missing == vec!["latency_p99_ms".to_owned()]));
    assert_eq!(
        report.summary.changed, 3,
        "every promotion would be rejected"
    );

    // The time range selects by decision time.
    let report = replay(
        ledger,
        &Policy::parse(&strict()).unwrap(),
        &Scope {
            model: model(),
            since: Some(time(15)),
            until: Some(time(35)),
        },
        &mut |_, _| {},
    )
    .unwrap();
    let runs: Vec<String> = report.decisions.iter().map(|d| d.run.to_string()).collect();
    assert_eq!(runs, ["c", "d"]);
    assert_eq!(report.summary.changed, 0);
}

fn embedded(dir: &Path) -> Ledger {
    Ledger::init(dir, &OpenOptions::default()).unwrap();
    Ledger::open(dir, &OpenOptions::default()).unwrap()
}

#[test]
fn replay_on_the_embedded_log_sees_evidence_as_each_decision_read_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = embedded(&tmp.path().join("ledger"));
    scenario(&mut ledger);
    check_replays(&ledger);
}

#[test]
fn replay_on_a_jetstream_stream_sees_evidence_as_each_decision_read_it() {
    let server = NatsServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let options = OpenOptions::nats(server.url());
    Ledger::init(&dir, &options).unwrap();
    let mut ledger = Ledger::open(&dir, &options).unwrap();
    scenario(&mut ledger);
    check_replays(&ledger);
    // A second directory over the same stream replays identically.
    let other = tmp.path().join("other");
    let mut second = Ledger::open(&other, &options).unwrap();
    // Trust is each directory's own choice: the second trusts the same release key.
    second.set_trust(ledger.trust().clone()).unwrap();
    second.catch_up(&mut |_, _| {}).unwrap();
    check_replays(&second);
}

#[test]
fn a_model_without_decisions_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let ledger = embedded(&tmp.path().join("ledger"));
    let err = replay(
        &ledger,
        &Policy::parse(POLICY).unwrap(),
        &Scope {
            model: model(),
            since: None,
            until: None,
        },
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("scoring has no decisions"),
        "{err}"
    );
}

/// Copies `from`'s log into a new ledger at `to` through `edit`, with the same ids.
fn copy_log(from: &Path, to: &Path, edit: impl FnOnce(&mut Vec<NewRecord>)) -> Ledger {
    let mut records: Vec<NewRecord> = {
        let log = EmbeddedLog::open(&from.join("log")).unwrap();
        log.read(Position::new(1), usize::MAX)
            .unwrap()
            .into_iter()
            .map(|r| NewRecord {
                event_id: r.event_id,
                key: r.key,
                bytes: r.bytes,
            })
            .collect()
    };
    edit(&mut records);
    Ledger::init(to, &OpenOptions::default()).unwrap();
    {
        let log = EmbeddedLog::open(&to.join("log")).unwrap();
        log.append_batch(records).unwrap();
        log.flush().unwrap();
    }
    std::fs::copy(from.join("trust.json"), to.join("trust.json")).unwrap();
    let mut ledger = Ledger::open(to, &OpenOptions::default()).unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    ledger
}

#[test]
fn evidence_whose_bytes_changed_is_named_and_not_evaluated() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = tmp.path().join("honest");
    {
        let mut ledger = embedded(&honest);
        scenario(&mut ledger);
    }
    // Lower c's AUC in the log: the decision's evidence digest no longer matches.
    let ledger = copy_log(&honest, &tmp.path().join("tampered"), |records| {
        let eval = records.iter_mut().find(|r| r.event_id == "c:eval").unwrap();
        let mut event = vouch_event::decode(&eval.bytes).unwrap();
        if let Body::MetricsLogged(m) = &mut event.body {
            m.metrics.insert(Name::new("auc").unwrap(), 0.95);
        }
        eval.bytes = vouch_event::encode(&event);
    });
    // The rule book refuses c's decision as the views are built (and the decisions
    // chained after it, whose link names it): replay never evaluates it, and verify
    // names it with the rule it breaks.
    let verified = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    let failure = verified.failure.expect("the changed evidence is found");
    assert_eq!(
        failure.rule,
        Some(vouch_rules::Rule::EvidenceDigest),
        "{failure:?}"
    );
    let report = run_replay(&ledger, POLICY);
    assert!(report.decisions.iter().all(|d| d.run.as_str() != "c"));
    assert_eq!(report.summary.evidence_failures, 0);
    assert_eq!(
        report.summary.replayed as u64,
        failure.index.expect("a decision"),
        "every decision before c's is replayed"
    );
}

#[test]
fn a_quarantined_record_of_a_run_makes_replay_fold_the_exact_evidence() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = embedded(&dir);
    decide(&mut ledger, POLICY, "a", 0.85, 120.0, 0);
    // Garbage under b's key before its decision: quarantined, so not in b's evidence.
    ledger
        .log()
        .append(NewRecord {
            event_id: "b:garbage".into(),
            key: LogKey::new("run.b").unwrap(),
            bytes: b"{not json".to_vec(),
        })
        .unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    decide(&mut ledger, POLICY, "b", 0.86, 180.0, 10);
    let report = run_replay(&ledger, &strict());
    assert_eq!(report.summary.refolded, 1, "{:#?}", report.summary);
    assert_eq!(report.summary.changed, 1);
    assert_eq!(report.summary.evidence_failures, 0);
    let same = run_replay(&ledger, POLICY);
    assert_eq!(same.summary.changed, 0);
}

/// Trusts `key` to sign decisions and deployments in `ledger`.
fn trust_key(ledger: &mut Ledger, key: &SigningKey) {
    let mut trust = ledger.trust().clone();
    let a = trust
        .add(
            &key.public(),
            "test release bot",
            vouch_ledger::Role::Signer,
            None,
        )
        .unwrap();
    let b = trust
        .add(
            &key.public(),
            "test release bot",
            vouch_ledger::Role::Deployer,
            None,
        )
        .unwrap();
    if a || b {
        ledger.set_trust(trust).unwrap();
    }
}
