//! The decision chain at scale: `verify` throughput next to raw Ed25519 verification, and
//! warm `audit` latency, on a ledger with many events and decisions.
//!
//! ```text
//! cargo run --release -p vouch-ledger --example chain_bench                  # 1,000,000 events, 100,000 decisions
//! cargo run --release -p vouch-ledger --example chain_bench -- 1000000 10000
//! ```
//!
//! Decisions are signed and appended in bulk by this program (a single writer, so the
//! conditional append is not needed); each cites ten evidence events of its run.

use std::collections::BTreeMap;
use std::time::Instant;

use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, DecisionRecorded, Digest, Event, EventId, GateRecord,
    GateVerdict, MetricsLogged, ModelName, Name, Producer, PublicKeyBytes, RunId, SignatureBytes,
    Subject, Timestamp,
};
use vouch_ledger::{chain_key, Ledger, OpenOptions, Role, Trust};
use vouch_log::NewRecord;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let events = args.next().unwrap_or(1_000_000);
    let decisions = args.next().unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    Ledger::init(&path, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
    let producer = Producer::new("chain-bench").unwrap();
    let time = Timestamp::from_unix_nanos(1_795_000_000_000_000_000);

    // Evidence: runs of 1,000 metric events, each run with one model artifact.
    let runs = (events / 1000).max(1);
    let start = Instant::now();
    for r in 0..runs {
        let run = RunId::new(format!("run-{r:06}")).unwrap();
        let mut batch = Vec::with_capacity(1000);
        for s in 0..999u64 {
            let metrics = BTreeMap::from([(Name::new("auc").unwrap(), 0.8 + (s as f64) / 1e5)]);
            batch.push(Event {
                id: EventId::new(format!("{run}-{s}")).unwrap(),
                time,
                producer: producer.clone(),
                subject: Subject::Run(run.clone()),
                body: Body::MetricsLogged(MetricsLogged {
                    metrics,
                    step: Some(s),
                    segment: None,
                }),
            });
        }
        batch.push(Event {
            id: EventId::new(format!("{run}-model")).unwrap(),
            time,
            producer: producer.clone(),
            subject: Subject::Run(run.clone()),
            body: Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: Digest::of(run.as_str().as_bytes()),
                size: 1,
                uri: "s3://m".into(),
                sha256: None,
            }),
        });
        ledger.append_unprojected(&batch).unwrap();
    }
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    println!(
        "{} evidence events in {:.1} s",
        runs * 1000,
        start.elapsed().as_secs_f64()
    );

    // Decisions: signed links of one chain, each citing ten events of a run.
    let key = SigningKey::from_seed([42; 32]);
    let mut trust = Trust::default();
    trust
        .add(&key.public(), "bench", Role::Signer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    let model = ModelName::new("bench-model").unwrap();
    let policy_text = "model = \"bench-model\"\nversion = \"v1\"\n";
    let (policy_position, policy) = ledger
        .publish_policy(&model, "v1", policy_text, time, &producer)
        .unwrap();
    // Every decision read the log at the end of the evidence: layout 2 pins that prefix.
    let pin = vouch_event::LogPin {
        size: runs * 1000,
        root: ledger.root_at(runs * 1000).unwrap().0,
    };
    let start = Instant::now();
    let mut prev: Option<Digest> = None;
    let mut batch = Vec::new();
    for index in 0..decisions {
        let r = index % runs;
        let run = RunId::new(format!("run-{r:06}")).unwrap();
        let first = r * 1000 + 1;
        let evidence: Vec<u64> = (first..first + 10).collect();
        let records = ledger.read_positions(&evidence).unwrap();
        let digests: Vec<Digest> = records
            .iter()
            .map(|r| vouch_event::event_digest(&r.bytes))
            .collect();
        let mut d = DecisionRecorded {
            index,
            prev,
            run: run.clone(),
            baseline: None,
            artifacts: vec![Digest::of(run.as_str().as_bytes())],
            policy,
            policy_version: "v1".into(),
            policy_position,
            evaluated_at: runs * 1000,
            evidence_digest: vouch_chain::evidence_digest(
                evidence.iter().copied().zip(digests.iter()),
            ),
            evidence,
            gates: vec![GateRecord {
                gate: "auc-floor".into(),
                metric: Some("auc".into()),
                candidate: Some(0.8),
                baseline: None,
                threshold: ">= 0.5".into(),
                verdict: GateVerdict::Pass,
                reason: "0.8 >= 0.5".into(),
            }],
            outcome: DecisionOutcome::Promoted,
            review: None,
            decided_at: time,
            signer: PublicKeyBytes([0; 32]),
            signature: SignatureBytes([0; 64]),
            log: Some(pin),
        };
        vouch_chain::sign_decision(&model, &mut d, &key);
        let hash = vouch_chain::decision_hash(&model, &d);
        prev = Some(hash);
        let event = Event {
            id: EventId::new(format!("decision:{}", hash.hex())).unwrap(),
            time,
            producer: Producer::new(vouch_rules::RELEASE_PRODUCER).unwrap(),
            subject: Subject::Model(model.clone()),
            body: Body::DecisionRecorded(Box::new(d)),
        };
        batch.push(NewRecord {
            event_id: event.id.to_string(),
            key: chain_key(),
            bytes: vouch_event::encode(&event),
        });
        if batch.len() == 4096 {
            ledger
                .log()
                .append_batch(std::mem::take(&mut batch))
                .unwrap();
        }
    }
    ledger.log().append_batch(batch).unwrap();
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    println!(
        "{decisions} decisions signed, appended and projected in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    // Raw Ed25519: verify the same kind of signature, one at a time, on one core.
    let probe = ledger.views().decision(0).unwrap().unwrap();
    let record = ledger.decision_record(&probe).unwrap();
    let samples = 20_000u32;
    let body = vouch_chain::decision_body(&model, &record);
    let mut verifier = vouch_chain::Verifier::default();
    let start = Instant::now();
    for _ in 0..samples {
        verifier
            .verify(&record.signer, &body, &record.signature)
            .unwrap();
    }
    let raw = f64::from(samples) / start.elapsed().as_secs_f64();

    // The floor under `verify`: reading every record and hashing it.
    let start = Instant::now();
    let (mut next, mut scanned) = (1u64, 0u64);
    loop {
        let records = ledger
            .log()
            .read(vouch_log::Position::new(next), 8192)
            .unwrap();
        if records.is_empty() {
            break;
        }
        for r in &records {
            std::hint::black_box(vouch_event::event_digest(&r.bytes));
        }
        scanned += records.len() as u64;
        next += records.len() as u64;
    }
    println!(
        "read and hash every record: {scanned} in {:.2} s",
        start.elapsed().as_secs_f64()
    );

    let trust = ledger.trust().clone();
    let start = Instant::now();
    let report = ledger.verify(&trust, &mut |_, _| {}).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    println!(
        "verify: {} records, {} decisions in {seconds:.2} s = {:.0} decisions/s ({:.0} records/s); raw Ed25519 verify_strict on one core {raw:.0}/s",
        report.records,
        report.decisions,
        report.decisions as f64 / seconds,
        report.records as f64 / seconds
    );

    // Audit, warm: an artifact promoted in the middle of the chain.
    let artifact = Digest::of(format!("run-{:06}", (decisions / 2) % runs).as_bytes());
    ledger
        .record_deployment(&model, "production", artifact, None, &key, time)
        .unwrap();
    ledger.audit(&artifact, &trust).unwrap();
    let mut times: Vec<f64> = (0..200)
        .map(|_| {
            let start = Instant::now();
            let report = ledger.audit(&artifact, &trust).unwrap();
            assert!(report.ok(), "{:?}", report.checks);
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "audit of one artifact, warm: median {:.3} ms, p95 {:.3} ms (target < 5 ms)",
        times[times.len() / 2],
        times[times.len() * 95 / 100]
    );
}
