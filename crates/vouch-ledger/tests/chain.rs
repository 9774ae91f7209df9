//! The decision chain on the embedded ledger: concurrent writers build one linear chain;
//! `verify` passes on an honest log and names the first record of a tampered one; audit
//! and audit bundles check a promotion back to its evidence.

use std::collections::BTreeMap;
use std::path::Path;

use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, Digest, Event, EventId, GateRecord, GateVerdict,
    MetricsLogged, ModelName, Name, Producer, RunId, RunStarted, Subject, Timestamp,
};
use vouch_ledger::{verify_bundle, DecisionDraft, Ledger, Role, Trust};
use vouch_log::{Log, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;

const POLICY: &str = "model = \"loan-risk\"\nversion = \"v1\"\n";

fn producer() -> Producer {
    Producer::new("chain-test").unwrap()
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn signer() -> SigningKey {
    SigningKey::from_seed([1; 32])
}

fn run_events(run: &str, auc: f64) -> Vec<Event> {
    let run_id = RunId::new(run).unwrap();
    let event = |what: &str, body| Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: time(0),
        producer: producer(),
        subject: Subject::Run(run_id.clone()),
        body,
    };
    vec![
        event(
            "start",
            Body::RunStarted(RunStarted {
                experiment: "loan-risk".into(),
                name: None,
                git: None,
                env: None,
            }),
        ),
        event(
            "eval",
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(Name::new("auc").unwrap(), auc)]),
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
            }),
        ),
    ]
}

/// A ledger with `runs` runs, a published policy and a trusted signer.
fn setup(dir: &Path, runs: usize) -> Ledger {
    Ledger::init(dir, &Default::default()).unwrap();
    let mut ledger = Ledger::open(dir, &Default::default()).unwrap();
    for r in 0..runs {
        ledger
            .append(&run_events(&format!("run-{r}"), 0.8 + r as f64 / 1000.0))
            .unwrap();
    }
    let mut trust = Trust::default();
    trust.add(&signer().public(), "release-bot", Role::Signer);
    trust.save(dir).unwrap();
    ledger
}

fn promote(
    ledger: &mut Ledger,
    run: &str,
    outcome: DecisionOutcome,
    key: &SigningKey,
    at: i64,
) -> vouch_ledger::Recorded {
    let model = ModelName::new("loan-risk").unwrap();
    let run = RunId::new(run).unwrap();
    let (policy_position, policy) = ledger
        .publish_policy(&model, "v1", POLICY, time(at), &producer())
        .unwrap();
    let (evidence, evidence_digest) = ledger.evidence(&[&run], &[policy_position]).unwrap();
    let draft = DecisionDraft {
        model,
        run: run.clone(),
        baseline: None,
        artifacts: vec![Digest::of(run.as_str().as_bytes())],
        policy,
        policy_version: "v1".into(),
        policy_position,
        evaluated_at: ledger.log().last_position().unwrap().get(),
        evidence,
        evidence_digest,
        gates: vec![GateRecord {
            gate: "auc-floor".into(),
            metric: Some("auc".into()),
            candidate: Some(0.8),
            baseline: None,
            threshold: ">= 0.5".into(),
            verdict: GateVerdict::Pass,
            reason: "good enough".into(),
        }],
        outcome,
        review: None,
        decided_at: time(at),
    };
    ledger
        .record_decision(draft, key, &producer(), time(at))
        .unwrap()
}

#[test]
fn concurrent_promoters_in_threads_build_one_linear_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    drop(setup(&dir, 4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let dir = dir.clone();
            std::thread::spawn(move || {
                for i in 0..6 {
                    // Each decision opens the ledger afresh, as separate commands would.
                    let mut ledger = Ledger::open(&dir, &Default::default()).unwrap();
                    promote(
                        &mut ledger,
                        &format!("run-{t}"),
                        DecisionOutcome::Rejected,
                        &signer(),
                        t * 100 + i,
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let ledger = Ledger::open(&dir, &Default::default()).unwrap();
    let decisions = ledger.views().decisions(0, 100).unwrap();
    assert_eq!(decisions.len(), 24);
    assert!(decisions
        .iter()
        .enumerate()
        .all(|(i, d)| d.index == i as u64));
    let report = ledger
        .verify(&Trust::load(&dir).unwrap(), &mut |_, _| {})
        .unwrap();
    assert_eq!(report.failure, None);
    assert_eq!(report.decisions, 24);
}

/// Copies the log of `from` into a fresh ledger at `to`, through `tamper`, with the same
/// trust list, and returns what `verify` says.
fn verify_tampered(
    from: &Path,
    to: &Path,
    tamper: impl FnOnce(&mut Vec<NewRecord>),
) -> vouch_ledger::VerifyReport {
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
    tamper(&mut records);
    Ledger::init(to, &Default::default()).unwrap();
    {
        let log = EmbeddedLog::open(&to.join("log")).unwrap();
        log.append_batch(records).unwrap();
        log.flush().unwrap();
    }
    std::fs::copy(from.join("trust.json"), to.join("trust.json")).unwrap();
    let ledger = Ledger::open(to, &Default::default()).unwrap();
    ledger
        .verify(&Trust::load(to).unwrap(), &mut |_, _| {})
        .unwrap()
}

fn flip_in(bytes: &mut [u8], needle: &[u8]) {
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in record");
    bytes[at] ^= 0x01;
}

fn position_of(records: &[NewRecord], event_id_prefix: &str, nth: usize) -> usize {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.event_id.starts_with(event_id_prefix))
        .nth(nth)
        .expect("record")
        .0
}

#[test]
fn verify_names_the_first_tampered_record() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = tmp.path().join("honest");
    let mut ledger = setup(&honest, 3);
    for (i, run) in ["run-0", "run-1", "run-2"].iter().enumerate() {
        promote(
            &mut ledger,
            run,
            DecisionOutcome::Promoted,
            &signer(),
            i as i64,
        );
    }
    drop(ledger);
    let trust = Trust::load(&honest).unwrap();
    let honest_report = Ledger::open(&honest, &Default::default())
        .unwrap()
        .verify(&trust, &mut |_, _| {})
        .unwrap();
    assert_eq!(honest_report.failure, None);
    assert_eq!((honest_report.decisions, honest_report.signatures), (3, 3));

    let case =
        |name: &str, tamper: &dyn Fn(&mut Vec<NewRecord>), index: Option<u64>, needle: &str| {
            let report = verify_tampered(&honest, &tmp.path().join(name), |r| tamper(r));
            let failure = report
                .failure
                .unwrap_or_else(|| panic!("{name}: tampering went unnoticed"));
            assert_eq!(failure.index, index, "{name}: {failure:?}");
            assert!(
                failure.reason.contains(needle),
                "{name}: {}",
                failure.reason
            );
        };
    // One byte of a decision: its signature no longer verifies.
    case(
        "decision-byte",
        &|r| {
            let at = position_of(r, "decision:", 1);
            flip_in(&mut r[at].bytes, b"good enough");
        },
        Some(1),
        "signature",
    );
    // One byte of an evidence event (run-1's auc): decision 1's evidence digest breaks.
    case(
        "evidence-byte",
        &|r| {
            let at = position_of(r, "run-1:eval", 0);
            let len = r[at].bytes.len();
            r[at].bytes[len - 3] ^= 0x01;
        },
        Some(1),
        "evidence digest",
    );
    // A dropped decision: the next one's index and link no longer fit.
    case(
        "dropped",
        &|r| {
            let at = position_of(r, "decision:", 1);
            r.remove(at);
        },
        Some(2),
        "chain index 2 where 1 was expected",
    );
    // Two decisions swapped.
    case(
        "reordered",
        &|r| {
            let (a, b) = (
                position_of(r, "decision:", 1),
                position_of(r, "decision:", 2),
            );
            r.swap(a, b);
        },
        Some(2),
        "chain index 2 where 1 was expected",
    );
}

#[test]
fn a_decision_signed_by_an_untrusted_key_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 2);
    promote(
        &mut ledger,
        "run-0",
        DecisionOutcome::Promoted,
        &signer(),
        0,
    );
    let stranger = SigningKey::from_seed([66; 32]);
    promote(
        &mut ledger,
        "run-1",
        DecisionOutcome::Promoted,
        &stranger,
        1,
    );
    let failure = ledger
        .verify(&Trust::load(&dir).unwrap(), &mut |_, _| {})
        .unwrap()
        .failure
        .unwrap();
    assert_eq!(failure.index, Some(1));
    assert!(failure.reason.contains("not trusted"), "{}", failure.reason);
}

#[test]
fn audit_and_bundles_check_a_promotion_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 2);
    promote(
        &mut ledger,
        "run-0",
        DecisionOutcome::Promoted,
        &signer(),
        0,
    );
    promote(
        &mut ledger,
        "run-1",
        DecisionOutcome::Rejected,
        &signer(),
        1,
    );
    let model = ModelName::new("loan-risk").unwrap();
    let artifact = Digest::of(b"run-0");
    ledger
        .record_deployment(&model, "production", artifact, None, &producer(), time(5))
        .unwrap();
    let trust = Trust::load(&dir).unwrap();

    let report = ledger.audit(&artifact, &trust).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
    assert_eq!(report.deployments.len(), 1);
    assert_eq!(report.decision.as_ref().unwrap().index, 0);
    assert!(report
        .checks
        .iter()
        .any(|c| c.what == "link from next decision" && c.ok));

    // An artifact nobody promoted: refused for deployment unless forced, and audit fails.
    let rogue = Digest::of(b"run-1");
    assert!(ledger
        .record_deployment(&model, "production", rogue, None, &producer(), time(6))
        .is_err());
    ledger
        .record_deployment(
            &model,
            "production",
            rogue,
            Some("hotfix at 3am"),
            &producer(),
            time(7),
        )
        .unwrap();
    let rogue_report = ledger.audit(&rogue, &trust).unwrap();
    assert!(!rogue_report.ok());
    assert!(rogue_report
        .checks
        .iter()
        .any(|c| c.detail.contains("hotfix at 3am")));

    let bundle = ledger.bundle(&artifact, 0, &trust).unwrap();
    let checks = verify_bundle(&bundle);
    assert!(checks.iter().all(|c| c.ok), "{checks:#?}");
    assert!(checks.iter().any(|c| c.what == "chain link"));

    // Tampering with any record in the bundle is caught.
    let mut tampered = bundle.clone();
    let evidence = tampered
        .records
        .iter_mut()
        .find(|r| r.event_id == "run-0:eval")
        .unwrap();
    // The auc value 0.8 is stored as the f64 bytes 9a 99 99 99 99 99 e9 3f: nudge it.
    evidence.bytes = evidence
        .bytes
        .replacen("9a9999999999e93f", "9b9999999999e93f", 1);
    assert!(verify_bundle(&tampered)
        .iter()
        .any(|c| c.what == "evidence digest" && !c.ok));
    let mut untrusted = bundle.clone();
    untrusted.keys.clear();
    assert!(verify_bundle(&untrusted)
        .iter()
        .any(|c| c.what == "decision signature" && !c.ok));
    let mut truncated = bundle;
    truncated
        .records
        .retain(|r| !r.event_id.starts_with("policy:"));
    assert!(verify_bundle(&truncated)
        .iter()
        .any(|c| c.what == "policy" && !c.ok));
}
