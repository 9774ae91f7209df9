//! Two machines over one JetStream stream race promotions of different candidates while a
//! third connection publishes junk on the chain subject: every call succeeds, both machines
//! hold the same linear chain, every decision's baseline is the production version at its
//! chain position, the junk is quarantined and named by `verify` without blocking anyone,
//! and a replay under the same policy changes nothing.
//!
//! The interleaving differs from run to run; every assertion holds for any of them, because
//! what each decision should say is computed from the chain as it came out.
//!
//! Regression: a writer that took in the other machine's decision between linking its own
//! and appending it used to refuse its own as a fork (`chain_index`) instead of starting
//! again; most runs of this test hit that window.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, DecisionRecorded, Digest, Event, EventId, MetricsLogged,
    ModelName, Name, Producer, PublicKeyBytes, RunId, RunStarted, Subject, Timestamp,
};
use vouch_ledger::{chain_key, Ledger, OpenOptions, Recorded, Role, Trust};
use vouch_log::{Appended, Log, NewRecord, Position, Record};
use vouch_log_nats::NatsLog;
use vouch_policy::Policy;
use vouch_replay::{record, replay, Scope};
use vouch_rules::Rule;
use vouch_test_nats::NatsServer;

/// A real policy whose outcome depends on the baseline: a candidate more than 0.015 AUC
/// below production is rejected, the first release (no production yet) passes.
const POLICY: &str = r#"
model = "pricing"
version = "race-1"

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
max_drop = 0.015
reason = "no worse than production"

[[gate]]
name = "model-file"
require_artifacts = ["model.bin"]
reason = "the audited artifact is the one that gets deployed"
"#;

/// Candidates per machine: (run, auc). AUCs are whole hundredths, so every drop against a
/// baseline is 0.01 (within the tolerance) or at least 0.02 (beyond it), never borderline.
/// `east-2` and `west-1` fail the floor whatever the baseline.
const EAST: [(&str, f64); 5] = [
    ("east-0", 0.84),
    ("east-1", 0.87),
    ("east-2", 0.79),
    ("east-3", 0.86),
    ("east-4", 0.91),
];
const WEST: [(&str, f64); 5] = [
    ("west-0", 0.85),
    ("west-1", 0.78),
    ("west-2", 0.89),
    ("west-3", 0.88),
    ("west-4", 0.90),
];
const PER_MACHINE: usize = 5;

/// How long any wait in this test may take before it fails.
const WAIT: Duration = Duration::from_secs(60);

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn model() -> ModelName {
    ModelName::new("pricing").unwrap()
}

fn east_key() -> SigningKey {
    SigningKey::from_seed([11; 32])
}

fn west_key() -> SigningKey {
    SigningKey::from_seed([12; 32])
}

fn stranger() -> SigningKey {
    SigningKey::from_seed([66; 32])
}

fn run_events(producer: &Producer, run: &str, auc: f64, at: i64) -> Vec<Event> {
    let run_id = RunId::new(run).unwrap();
    let event = |what: &str, body| Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: time(at),
        producer: producer.clone(),
        subject: Subject::Run(run_id.clone()),
        body,
    };
    vec![
        event(
            "start",
            Body::RunStarted(RunStarted {
                experiment: "pricing".into(),
                name: None,
                git: None,
                env: None,
            }),
        ),
        event(
            "eval",
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([
                    (Name::new("auc").unwrap(), auc),
                    (Name::new("latency_p95_ms").unwrap(), 120.0),
                ]),
                step: None,
                segment: None,
            }),
        ),
        event(
            "model",
            Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: Digest::of(run.as_bytes()),
                size: 3,
                uri: format!("s3://models/{run}"),
                sha256: None,
            }),
        ),
    ]
}

/// What the threads tell each other: accepted decisions so far and junk rounds published.
#[derive(Default)]
struct Progress {
    decisions: usize,
    junk_rounds: usize,
}

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap());
        self.changed.notify_all();
    }

    /// Waits until `ready` holds, failing the test after [`WAIT`].
    fn wait(&self, what: &str, ready: impl Fn(&Progress) -> bool) {
        let deadline = Instant::now() + WAIT;
        let mut progress = self.progress.lock().unwrap();
        while !ready(&progress) {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("timed out waiting for {what}"));
            progress = self.changed.wait_timeout(progress, left).unwrap().0;
        }
    }
}

/// One machine: promotes its candidates in order, the k-th only once k junk rounds are on
/// the chain, so every promotion after the first has junk somewhere before it.
fn promote_all(
    mut ledger: Ledger,
    name: &'static str,
    candidates: [(&'static str, f64); PER_MACHINE],
    key: SigningKey,
    offset: i64,
    shared: Arc<Shared>,
) -> (Ledger, Vec<(RunId, Option<RunId>, Recorded)>) {
    let producer = Producer::new(name).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let mut out = Vec::new();
    for (k, (run, auc)) in candidates.into_iter().enumerate() {
        shared.wait("the junk before the next promotion", |p| p.junk_rounds >= k);
        let at = 10 * k as i64 + offset;
        ledger.append(&run_events(&producer, run, auc, at)).unwrap();
        let run = RunId::new(run).unwrap();
        let (gated, recorded) = record(
            &mut ledger,
            &policy,
            POLICY,
            &run,
            &key,
            &producer,
            time(at),
        )
        .unwrap_or_else(|e| panic!("{name}: promoting {run} failed: {e}"));
        out.push((run, gated.baseline.map(|b| b.run), recorded));
        shared.update(|p| p.decisions += 1);
    }
    (ledger, out)
}

/// The junk kinds, in the order each round publishes them, and the rule refusing each.
const JUNK_RULES: [Rule; 3] = [Rule::NotARecord, Rule::UntrustedKey, Rule::Envelope];

/// The decisions in the log signed by a trusted key under their own id: what the honest
/// machines appended.
fn genuine_decisions(records: &[Record], trusted: &[PublicKeyBytes]) -> Vec<(Record, Event)> {
    records
        .iter()
        .filter(|r| r.key == chain_key())
        .filter_map(|r| {
            let event = vouch_event::decode(&r.bytes).ok()?;
            match &event.body {
                Body::DecisionRecorded(d)
                    if trusted.contains(&d.signer) && event.id.as_str() == r.event_id =>
                {
                    Some((r.clone(), event))
                }
                _ => None,
            }
        })
        .collect()
}

/// The third connection: after each of the first `rounds` accepted decisions, appends raw
/// to the chain bytes that are no record, the next link signed by an untrusted key, and the
/// latest genuine decision's bytes again under a new event id. Returns each junk record's
/// position with the rule that must refuse it.
fn publish_junk(
    log: NatsLog,
    rounds: usize,
    trusted: [PublicKeyBytes; 2],
    shared: Arc<Shared>,
) -> Vec<(u64, Rule)> {
    let mut junk = Vec::new();
    let mut append = |event_id: String, bytes: Vec<u8>, rule: Rule| {
        let appended = log
            .append(NewRecord {
                event_id,
                key: chain_key(),
                bytes,
            })
            .unwrap();
        let Appended::New(position) = appended else {
            panic!("junk was deduplicated: {appended:?}")
        };
        junk.push((position.get(), rule));
    };
    for round in 0..rounds {
        shared.wait("an accepted decision to imitate", |p| p.decisions > round);
        let records = log.read(Position::new(1), usize::MAX).unwrap();
        let (latest, event) = genuine_decisions(&records, &trusted)
            .pop()
            .expect("a decision was reported accepted, so it is in the log");
        let Body::DecisionRecorded(genuine) = &event.body else {
            unreachable!()
        };

        append(
            format!("junk-{round}"),
            format!("not a record, round {round}").into_bytes(),
            JUNK_RULES[0],
        );

        let mut forged: DecisionRecorded = (**genuine).clone();
        forged.index = genuine.index + 1;
        forged.prev = Some(vouch_chain::decision_hash(&model(), genuine));
        vouch_chain::sign_decision(&model(), &mut forged, &stranger());
        let hash = vouch_chain::decision_hash(&model(), &forged);
        let forged = Event {
            id: EventId::new(format!("decision:{}", hash.hex())).unwrap(),
            time: forged.decided_at,
            // The genuine envelope's producer: only the key differs.
            producer: event.producer.clone(),
            subject: Subject::Model(model()),
            body: Body::DecisionRecorded(Box::new(forged)),
        };
        append(
            forged.id.to_string(),
            vouch_event::encode(&forged),
            JUNK_RULES[1],
        );

        append(
            format!("decision:replayed-{round}"),
            latest.bytes.clone(),
            JUNK_RULES[2],
        );
        shared.update(|p| p.junk_rounds += 1);
    }
    junk
}

fn nats_ledger(dir: &Path, url: &str, trust: &Trust) -> Ledger {
    let options = OpenOptions::nats(url);
    Ledger::init(dir, &options).unwrap();
    let mut ledger = Ledger::open(dir, &options).unwrap();
    ledger.set_trust(trust.clone()).unwrap();
    ledger
}

/// Under [`POLICY`]: promoted when the AUC clears the floor and drops at most 0.015 below
/// the baseline's (none: pass); latency and the artifact always pass here.
fn expected_outcome(auc: f64, baseline: Option<f64>) -> DecisionOutcome {
    let floor = auc >= 0.80;
    let no_regression = baseline.is_none_or(|b| b - auc <= 0.015);
    if floor && no_regression {
        DecisionOutcome::Promoted
    } else {
        DecisionOutcome::Rejected
    }
}

#[test]
fn two_machines_racing_promotions_over_one_stream_with_junk_on_the_chain() {
    let started = Instant::now();
    let server = NatsServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let mut trust = Trust::default();
    trust
        .add(&east_key().public(), "east-release", Role::Signer, None)
        .unwrap();
    trust
        .add(&west_key().public(), "west-release", Role::Signer, None)
        .unwrap();
    let east = nats_ledger(&tmp.path().join("east"), &server.url(), &trust);
    let west = nats_ledger(&tmp.path().join("west"), &server.url(), &trust);
    let junk_log = {
        let mut options = server.options();
        options.create = false;
        NatsLog::connect(&options).unwrap()
    };

    let shared = Arc::new(Shared {
        progress: Mutex::new(Progress::default()),
        changed: Condvar::new(),
    });
    let rounds = PER_MACHINE - 1;
    let junk = {
        let shared = shared.clone();
        let trusted = [east_key().public(), west_key().public()];
        std::thread::spawn(move || publish_junk(junk_log, rounds, trusted, shared))
    };
    let east = {
        let shared = shared.clone();
        std::thread::spawn(move || promote_all(east, "east", EAST, east_key(), 0, shared))
    };
    let west = {
        let shared = shared.clone();
        std::thread::spawn(move || promote_all(west, "west", WEST, west_key(), 5, shared))
    };
    let (mut east, east_recorded) = east.join().expect("east promotes every candidate");
    let (mut west, west_recorded) = west.join().expect("west promotes every candidate");
    let junk = junk.join().expect("the junk is published");
    assert_eq!(junk.len(), 3 * rounds);
    let junk_positions: BTreeSet<u64> = junk.iter().map(|(p, _)| *p).collect();

    east.catch_up(&mut |_, _| {}).unwrap();
    west.catch_up(&mut |_, _| {}).unwrap();
    let total = 2 * PER_MACHINE;

    // One linear chain, the same on both machines: indices 0..n, same hashes and positions.
    let chain = east.views().decisions(0, 1000).unwrap();
    let link = |d: &vouch_views::DecisionEntry| (d.index, d.hash, d.position);
    assert_eq!(
        chain.iter().map(link).collect::<Vec<_>>(),
        west.views()
            .decisions(0, 1000)
            .unwrap()
            .iter()
            .map(link)
            .collect::<Vec<_>>(),
        "the two machines disagree about the chain"
    );
    assert_eq!(chain.len(), total);
    for (i, d) in chain.iter().enumerate() {
        assert_eq!(d.index, i as u64, "{chain:#?}");
    }
    assert_eq!(
        east.views().chain_head().unwrap().map(|h| h.hash),
        chain.last().map(|d| d.hash)
    );

    // What each call returned is what the chain holds: index, hash, position, baseline.
    for (run, gated_baseline, recorded) in east_recorded.iter().chain(&west_recorded) {
        let d = &chain[usize::try_from(recorded.index).unwrap()];
        assert_eq!(
            (&d.run, d.hash, d.position),
            (run, recorded.hash, recorded.position)
        );
        assert_eq!(&d.baseline, gated_baseline, "decision {}", d.index);
    }

    // Every baseline is the production version at the decision's chain position, and every
    // outcome follows from the candidate against that baseline.
    let auc: BTreeMap<&str, f64> = EAST.iter().chain(&WEST).copied().collect();
    let mut production: Option<RunId> = None;
    for d in &chain {
        assert_eq!(
            d.baseline, production,
            "decision {} ({}) was compared against the wrong production version",
            d.index, d.run
        );
        let expected = expected_outcome(
            auc[d.run.as_str()],
            production.as_ref().map(|p| auc[p.as_str()]),
        );
        assert_eq!(d.outcome, expected, "decision {} ({})", d.index, d.run);
        if d.outcome == DecisionOutcome::Promoted {
            production = Some(d.run.clone());
        }
    }
    let doc = east.views().model(&model()).unwrap().unwrap();
    assert_eq!(
        doc.production
            .map(|i| chain[usize::try_from(i).unwrap()].run.clone()),
        production
    );
    // The first decision has no baseline and clears the floor, and east-4 (0.91, the best
    // AUC) passes against any production: at least two promotions in every interleaving.
    assert!(doc.versions.len() >= 2, "promotions kept working: {doc:#?}");

    // Junk sat on the chain right before an accepted decision: it did not block it.
    let records = east.log().read(Position::new(1), usize::MAX).unwrap();
    let on_chain: Vec<u64> = records
        .iter()
        .filter(|r| r.key == chain_key())
        .map(|r| r.position.get())
        .collect();
    let accepted: BTreeSet<u64> = chain.iter().map(|d| d.position).collect();
    assert_eq!(on_chain.len(), total + junk.len(), "{on_chain:?}");
    assert!(
        on_chain
            .windows(2)
            .any(|w| junk_positions.contains(&w[0]) && accepted.contains(&w[1])),
        "no decision followed junk on the chain: {on_chain:?}, junk {junk_positions:?}"
    );

    // Both machines quarantined exactly the junk; verify names exactly the junk, with the
    // rule for each, and no accepted decision.
    for ledger in [&east, &west] {
        let quarantined: BTreeSet<u64> = ledger
            .views()
            .quarantine(Position::ZERO, 1000)
            .unwrap()
            .iter()
            .map(|q| q.position)
            .collect();
        assert_eq!(quarantined, junk_positions, "{}", ledger.dir().display());
        let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
        let refused: Vec<(u64, Option<Rule>)> = report
            .refused
            .iter()
            .map(|f| (f.position, f.rule))
            .collect();
        let expected: Vec<(u64, Option<Rule>)> =
            junk.iter().map(|(p, rule)| (*p, Some(*rule))).collect();
        assert_eq!(refused, expected, "{:#?}", report.refused);
        assert!(report
            .refused
            .iter()
            .all(|f| !accepted.contains(&f.position)));
        assert_eq!(report.decisions, total as u64);
        assert_eq!(report.failure.as_ref(), report.refused.first());
    }

    // Replaying every decision under the same policy, on either machine, changes nothing.
    let policy = Policy::parse(POLICY).unwrap();
    let scope = Scope {
        model: model(),
        since: None,
        until: None,
    };
    for ledger in [&east, &west] {
        let report = replay(ledger, &policy, &scope, &mut |_, _| {}).unwrap();
        assert_eq!(report.summary.replayed, total, "{:#?}", report.summary);
        assert_eq!(
            report.summary.evidence_failures, 0,
            "{:#?}",
            report.decisions
        );
        assert_eq!(report.summary.changed, 0, "{:#?}", report.decisions);
        let baselines: Vec<(u64, Option<RunId>)> = report
            .decisions
            .iter()
            .map(|d| (d.index, d.baseline.clone()))
            .collect();
        let recorded: Vec<(u64, Option<RunId>)> = chain
            .iter()
            .map(|d| (d.index, d.baseline.clone()))
            .collect();
        assert_eq!(baselines, recorded);
    }
    eprintln!(
        "nats_race: {total} decisions and {} junk records in {:?}",
        junk.len(),
        started.elapsed()
    );
}
