//! The decision chain on the embedded ledger: concurrent writers build one linear chain;
//! `verify` passes on an honest log and names the first record of a tampered one; audit
//! and audit bundles check a promotion back to its evidence against the auditor's trust;
//! reviews are signed by reviewers and enacted by a release key; records a writer forges
//! or replays onto the chain are refused without stopping the next honest decision.

use std::collections::BTreeMap;
use std::path::Path;

use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, DecisionRecorded, Digest, Event, EventId, GateRecord,
    GateVerdict, LogPin, MetricsLogged, ModelName, Name, Producer, PublicKeyBytes, ReviewVerdict,
    RunId, RunStarted, SignatureBytes, Subject, Timestamp,
};
use vouch_ledger::{
    chain_key, verify_bundle, DecisionDraft, Ledger, ReleaseError, Role, Trust, TrustFile,
};
use vouch_log::{Log, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;
use vouch_rules::Rule;

const POLICY: &str = "model = \"loan-risk\"\nversion = \"v1\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.5\nreason = \"a coin flip does better\"\n";

fn producer() -> Producer {
    Producer::new("chain-test").unwrap()
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn signer() -> SigningKey {
    SigningKey::from_seed([1; 32])
}

fn reviewer() -> SigningKey {
    SigningKey::from_seed([2; 32])
}

fn deployer() -> SigningKey {
    SigningKey::from_seed([3; 32])
}

fn model() -> ModelName {
    ModelName::new("loan-risk").unwrap()
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
                sha256: None,
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
    trust
        .add(&signer().public(), "release-bot", Role::Signer, None)
        .unwrap();
    trust
        .add(
            &reviewer().public(),
            "Chief Risk Officer",
            Role::Reviewer,
            None,
        )
        .unwrap();
    trust
        .add(&deployer().public(), "deploy-bot", Role::Deployer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    ledger
}

/// One gate whose verdict makes `outcome` follow, as the rule book requires.
fn gates_for(outcome: DecisionOutcome) -> Vec<GateRecord> {
    let verdict = match outcome {
        DecisionOutcome::Promoted => GateVerdict::Pass,
        DecisionOutcome::Rejected => GateVerdict::Fail,
        DecisionOutcome::NeedsReview => GateVerdict::Review,
    };
    vec![GateRecord {
        gate: "auc-floor".into(),
        metric: Some("auc".into()),
        candidate: Some(0.8),
        baseline: None,
        threshold: ">= 0.5".into(),
        verdict,
        reason: "good enough".into(),
    }]
}

fn draft(ledger: &mut Ledger, run: &str, outcome: DecisionOutcome, at: i64) -> DecisionDraft {
    let run = RunId::new(run).unwrap();
    let (policy_position, policy) = ledger
        .publish_policy(&model(), "v1", POLICY, time(at), &producer())
        .unwrap();
    let (evidence, evidence_digest) = ledger.evidence(&[&run], &[policy_position]).unwrap();
    DecisionDraft {
        model: model(),
        run: run.clone(),
        baseline: None,
        artifacts: vec![Digest::of(run.as_str().as_bytes())],
        policy,
        policy_version: "v1".into(),
        policy_position,
        evaluated_at: ledger.log().last_position().unwrap().get(),
        evidence,
        evidence_digest,
        gates: gates_for(outcome),
        outcome,
        review: None,
        decided_at: time(at),
    }
}

fn try_promote(
    ledger: &mut Ledger,
    run: &str,
    outcome: DecisionOutcome,
    key: &SigningKey,
    at: i64,
) -> Result<vouch_ledger::Recorded, ReleaseError> {
    let draft = draft(ledger, run, outcome, at);
    ledger.record_decision(key, time(at), &mut |_| Ok(draft.clone()))
}

fn promote(
    ledger: &mut Ledger,
    run: &str,
    outcome: DecisionOutcome,
    key: &SigningKey,
    at: i64,
) -> vouch_ledger::Recorded {
    try_promote(ledger, run, outcome, key, at).unwrap()
}

/// What an insider with write access to the chain subject can do: sign the next link
/// with any key they hold and append it raw, past every check of `record_decision`.
fn forge_next_decision(ledger: &mut Ledger, run: &str, key: &SigningKey, at: i64) -> Digest {
    forge_with(ledger, run, DecisionOutcome::Promoted, key, at, |_| {})
}

/// [`forge_next_decision`] with the outcome given and `change` applied before signing
/// (the decision is layout 2, its pin right, unless `change` says otherwise).
fn forge_with(
    ledger: &mut Ledger,
    run: &str,
    outcome: DecisionOutcome,
    key: &SigningKey,
    at: i64,
    change: impl FnOnce(&mut DecisionRecorded),
) -> Digest {
    let draft = draft(ledger, run, outcome, at);
    ledger.catch_up(&mut |_, _| {}).unwrap();
    let pin = LogPin {
        size: draft.evaluated_at,
        root: ledger.root_at(draft.evaluated_at).unwrap().0,
    };
    let head = ledger.views().chain_head().unwrap();
    let mut d = DecisionRecorded {
        index: head.as_ref().map_or(0, |h| h.index + 1),
        prev: head.as_ref().map(|h| h.hash),
        run: draft.run,
        baseline: None,
        artifacts: draft.artifacts,
        policy: draft.policy,
        policy_version: draft.policy_version,
        policy_position: draft.policy_position,
        evaluated_at: draft.evaluated_at,
        evidence: draft.evidence,
        evidence_digest: draft.evidence_digest,
        gates: draft.gates,
        outcome: draft.outcome,
        review: None,
        decided_at: time(at),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: Some(pin),
    };
    change(&mut d);
    vouch_chain::sign_decision(&model(), &mut d, key);
    let hash = vouch_chain::decision_hash(&model(), &d);
    let event = Event {
        id: EventId::new(format!("decision:{}", hash.hex())).unwrap(),
        time: time(at),
        producer: Producer::new(vouch_rules::RELEASE_PRODUCER).unwrap(),
        subject: Subject::Model(model()),
        body: Body::DecisionRecorded(Box::new(d)),
    };
    append_raw(
        ledger,
        chain_key(),
        event.id.as_str(),
        vouch_event::encode(&event),
    );
    hash
}

fn append_raw(ledger: &mut Ledger, key: vouch_log::LogKey, id: &str, bytes: Vec<u8>) {
    ledger
        .log()
        .append(NewRecord {
            event_id: id.to_owned(),
            key,
            bytes,
        })
        .unwrap();
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
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
                        i * 10 + t,
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

    let case = |name: &str, tamper: &dyn Fn(&mut Vec<NewRecord>), index: Option<u64>, rule| {
        let report = verify_tampered(&honest, &tmp.path().join(name), |r| tamper(r));
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("{name}: tampering went unnoticed"));
        assert_eq!(failure.index, index, "{name}: {failure:?}");
        assert_eq!(failure.rule, rule, "{name}: {failure:?}");
    };
    // One byte of a decision: its content no longer matches its id.
    case(
        "decision-byte",
        &|r| {
            let at = position_of(r, "decision:", 1);
            flip_in(&mut r[at].bytes, b"good enough");
        },
        Some(1),
        Some(Rule::Envelope),
    );
    // The same, with the id recomputed over the changed content: the signature fails.
    case(
        "decision-byte-new-id",
        &|r| {
            let at = position_of(r, "decision:", 1);
            flip_in(&mut r[at].bytes, b"good enough");
            let mut event = vouch_event::decode(&r[at].bytes).unwrap();
            let id = vouch_rules::expected_event_id(&model(), &event.body).unwrap();
            event.id = EventId::new(id.clone()).unwrap();
            r[at].bytes = vouch_event::encode(&event);
            r[at].event_id = id;
        },
        Some(1),
        Some(Rule::Signature),
    );
    // One byte of an evidence event (run-1's auc): decision 0, whose log pin covers the
    // whole log before it (run-1 included), is the first to break; decision 1 would break
    // on its evidence digest.
    case(
        "evidence-byte",
        &|r| {
            let at = position_of(r, "run-1:eval", 0);
            let len = r[at].bytes.len();
            r[at].bytes[len - 3] ^= 0x01;
        },
        Some(0),
        Some(Rule::LogPin),
    );
    // A dropped decision: the next one's index and link no longer fit.
    case(
        "dropped",
        &|r| {
            let at = position_of(r, "decision:", 1);
            r.remove(at);
        },
        Some(2),
        Some(Rule::ChainIndex),
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
        Some(Rule::ChainIndex),
    );
}

#[test]
fn a_decision_signed_by_an_untrusted_key_is_refused_and_does_not_block_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 3);
    promote(
        &mut ledger,
        "run-0",
        DecisionOutcome::Promoted,
        &signer(),
        0,
    );
    // The writer's own checks refuse a stranger's key and a reviewer's key up front.
    let stranger = SigningKey::from_seed([66; 32]);
    for (key, rule) in [
        (&stranger, Rule::UntrustedKey),
        (&reviewer(), Rule::WrongRole),
    ] {
        match try_promote(&mut ledger, "run-1", DecisionOutcome::Promoted, key, 1) {
            Err(ReleaseError::Violation(v)) => assert_eq!(v.rule, rule, "{v:?}"),
            other => panic!("expected a violation, got {other:?}"),
        }
    }
    // An insider appends them anyway, with junk and a replay of decision 0 between.
    let forged = forge_next_decision(&mut ledger, "run-1", &stranger, 1);
    forge_next_decision(&mut ledger, "run-1", &reviewer(), 1);
    append_raw(&mut ledger, chain_key(), "junk", b"not a record".to_vec());
    let first = ledger.views().decision(0).unwrap().unwrap();
    let replay = ledger.read_positions(&[first.position]).unwrap().remove(0);
    append_raw(&mut ledger, chain_key(), "decision:replayed", replay.bytes);

    // None of it reaches the views: no production, nothing for the forged hash.
    assert!(ledger.views().decision_by_hash(&forged).unwrap().is_none());
    assert_eq!(ledger.views().chain_head().unwrap().unwrap().index, 0);
    let doc = ledger.views().model(&model()).unwrap().unwrap();
    assert_eq!(doc.versions, vec![0]);
    assert!(ledger
        .record_deployment(
            &model(),
            "production",
            Digest::of(b"run-1"),
            None,
            &deployer(),
            time(2)
        )
        .is_err());

    // The next honest decision links to decision 0 and is accepted.
    let next = promote(
        &mut ledger,
        "run-2",
        DecisionOutcome::Promoted,
        &signer(),
        3,
    );
    assert_eq!(next.index, 1);
    assert_eq!(ledger.views().decision(1).unwrap().unwrap().hash, next.hash);

    // verify names every refused record, the first as the failure, and each rule.
    let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    let rules: Vec<_> = report.refused.iter().map(|f| f.rule).collect();
    assert_eq!(
        rules,
        vec![
            Some(Rule::UntrustedKey),
            Some(Rule::WrongRole),
            Some(Rule::NotARecord),
            Some(Rule::Envelope),
        ],
        "{:#?}",
        report.refused
    );
    assert_eq!(report.failure.as_ref(), report.refused.first());
    assert_eq!(report.decisions, 2);
}

#[test]
fn reviews_are_signed_by_reviewers_and_enacted_by_a_release_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 2);
    let waiting = promote(
        &mut ledger,
        "run-0",
        DecisionOutcome::NeedsReview,
        &signer(),
        0,
    );
    let id = waiting.hash.hex();
    // Only a reviewer key reviews, in the name trust gives it; the decision's signer may not.
    let by_signer = ledger.record_review(&id, ReviewVerdict::Approve, "fine", &signer(), time(1));
    assert!(
        matches!(&by_signer, Err(ReleaseError::Violation(v)) if v.rule == Rule::WrongRole),
        "{by_signer:?}"
    );
    // Deployment waits for the review.
    let artifact = Digest::of(b"run-0");
    let early =
        ledger.record_deployment(&model(), "production", artifact, None, &deployer(), time(1));
    assert!(
        matches!(&early, Err(ReleaseError::Refused(r)) if r.contains("awaits review")),
        "{early:?}"
    );
    ledger
        .record_review(
            &id,
            ReviewVerdict::Approve,
            "segments hold",
            &reviewer(),
            time(2),
        )
        .unwrap();
    // A reviewer reviews once.
    assert!(ledger
        .record_review(&id, ReviewVerdict::Approve, "again", &reviewer(), time(3),)
        .is_err());
    let entry = ledger.find_decision(&id).unwrap();
    assert_eq!(entry.reviews.len(), 1);
    assert_eq!(entry.reviews[0].reviewer, "Chief Risk Officer");
    // A reviewer's key cannot enact.
    assert!(ledger.enact_review(&id, &reviewer(), time(4)).is_err());
    let (outcome, enacted) = ledger.enact_review(&id, &signer(), time(4)).unwrap();
    assert_eq!(outcome, DecisionOutcome::Promoted);
    assert_eq!(enacted.index, 1);
    let doc = ledger.views().model(&model()).unwrap().unwrap();
    assert_eq!(doc.versions, vec![1]);
    assert_eq!(
        ledger.views().decision(0).unwrap().unwrap().resolved_by,
        Some(1)
    );
    // Enacted twice: refused.
    assert!(ledger.enact_review(&id, &signer(), time(5)).is_err());
    ledger
        .record_deployment(&model(), "production", artifact, None, &deployer(), time(6))
        .unwrap();
    let report = ledger.audit(&artifact, ledger.trust()).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
    let bundle = ledger.bundle(&artifact, 1, ledger.trust()).unwrap();
    let checks = verify_bundle(&bundle, ledger.trust());
    assert!(checks.iter().all(|c| c.ok), "{checks:#?}");
    let verified = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    assert_eq!(verified.failure, None);
    assert_eq!(
        (verified.decisions, verified.reviews, verified.deployments),
        (2, 1, 1)
    );

    // A rejection enacts a rejection, never a promotion.
    let second = promote(
        &mut ledger,
        "run-1",
        DecisionOutcome::NeedsReview,
        &signer(),
        7,
    );
    ledger
        .record_review(
            &second.hash.hex(),
            ReviewVerdict::Reject,
            "latency",
            &reviewer(),
            time(8),
        )
        .unwrap();
    let (outcome, _) = ledger
        .enact_review(&second.hash.hex(), &signer(), time(9))
        .unwrap();
    assert_eq!(outcome, DecisionOutcome::Rejected);
    assert!(ledger
        .views()
        .promotions(&Digest::of(b"run-1"))
        .unwrap()
        .is_empty());
}

#[test]
fn revoking_a_key_judges_the_views_again_and_keeps_earlier_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 3);
    for (i, run) in ["run-0", "run-1", "run-2"].iter().enumerate() {
        promote(
            &mut ledger,
            run,
            DecisionOutcome::Promoted,
            &signer(),
            10 * i as i64,
        );
    }
    // The key leaked at time 15: decision 2 (time 20) is no longer trusted, 0 and 1 are.
    let mut trust = ledger.trust().clone();
    trust
        .revoke(&signer().public(), time(15), "leaked", time(30))
        .unwrap();
    ledger.set_trust(trust).unwrap();
    assert_eq!(ledger.views().chain_head().unwrap().unwrap().index, 1);
    assert!(ledger
        .views()
        .promotions(&Digest::of(b"run-2"))
        .unwrap()
        .is_empty());
    let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    let failure = report.failure.unwrap();
    assert_eq!(
        (failure.index, failure.rule),
        (Some(2), Some(Rule::KeyRevoked))
    );
    assert_eq!(report.decisions, 2);
    // Reopening judges under the saved trust: the same views.
    drop(ledger);
    let ledger = Ledger::open(&dir, &Default::default()).unwrap();
    assert_eq!(ledger.views().chain_head().unwrap().unwrap().index, 1);
    assert!(ledger
        .trust()
        .authorize(&signer().public(), Role::Signer, time(31))
        .is_err());
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
        .record_deployment(&model, "production", artifact, None, &deployer(), time(5))
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
        .record_deployment(&model, "production", rogue, None, &deployer(), time(6))
        .is_err());
    ledger
        .record_deployment(
            &model,
            "production",
            rogue,
            Some("hotfix at 3am"),
            &deployer(),
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
    let checks = verify_bundle(&bundle, &trust);
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
    assert!(verify_bundle(&tampered, &trust)
        .iter()
        .any(|c| c.what == "decision" && !c.ok && c.detail.contains("evidence_digest")));
    // The names inside a bundle carry no trust: an auditor who trusts none of its keys
    // sees it fail, and emptying them changes nothing for one who does.
    let mut unnamed = bundle.clone();
    unnamed.keys.clear();
    assert!(verify_bundle(&unnamed, &trust).iter().all(|c| c.ok));
    let stranger_only = {
        let mut t = Trust::default();
        t.add(
            &SigningKey::from_seed([66; 32]).public(),
            "release-bot",
            Role::Signer,
            None,
        )
        .unwrap();
        t
    };
    assert!(verify_bundle(&bundle, &stranger_only).iter().any(|c| !c.ok));
    // Removing the deployment record fails the bundle.
    let mut undeployed = bundle.clone();
    undeployed
        .records
        .retain(|r| !r.event_id.starts_with("deployment:"));
    assert!(verify_bundle(&undeployed, &trust).iter().any(|c| !c.ok));
    // Flipping one byte of any record fails the bundle.
    for i in 0..bundle.records.len() {
        let mut flipped = bundle.clone();
        let hex = &mut flipped.records[i].bytes;
        let at = hex.len() / 2;
        let c = if &hex[at..=at] == "0" { "1" } else { "0" };
        hex.replace_range(at..=at, c);
        assert!(
            verify_bundle(&flipped, &trust).iter().any(|c| !c.ok),
            "a flipped byte in {} went unnoticed",
            flipped.records[i].event_id
        );
    }
    // Without the policy record (which the evidence also cites), the decision fails.
    let mut truncated = bundle;
    truncated
        .records
        .retain(|r| !r.event_id.starts_with("policy:"));
    assert!(verify_bundle(&truncated, &trust)
        .iter()
        .any(|c| c.what == "decision" && !c.ok));
}

/// The decision at `position` of a ledger's log.
fn decision_at(ledger: &Ledger, position: u64) -> DecisionRecorded {
    let record = ledger.read_positions(&[position]).unwrap().remove(0);
    match vouch_event::decode(&record.bytes).unwrap().body {
        Body::DecisionRecorded(d) => *d,
        _ => panic!("position {position} holds no decision"),
    }
}

/// Decision 1 with `change` applied to its pin, re-signed with the right key and given its
/// new id, so only the pin is wrong.
fn resign_second_decision(r: &mut [NewRecord], change: &dyn Fn(&mut LogPin)) {
    let at = position_of(r, "decision:", 1);
    let mut event = vouch_event::decode(&r[at].bytes).unwrap();
    let Body::DecisionRecorded(d) = &mut event.body else {
        unreachable!()
    };
    change(d.log.as_mut().unwrap());
    vouch_chain::sign_decision(&model(), d, &signer());
    let id = vouch_rules::expected_event_id(&model(), &event.body).unwrap();
    event.id = EventId::new(id.clone()).unwrap();
    r[at].bytes = vouch_event::encode(&event);
    r[at].event_id = id;
}

#[test]
fn decisions_pin_the_log_prefix_they_read_and_verify_checks_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = tmp.path().join("honest");
    let mut ledger = setup(&honest, 3);
    let mut positions = Vec::new();
    for (i, run) in ["run-0", "run-1", "run-2"].iter().enumerate() {
        positions.push(
            promote(
                &mut ledger,
                run,
                DecisionOutcome::Promoted,
                &signer(),
                i as i64,
            )
            .position,
        );
    }
    // Every decision vouch writes is layout 2, pinning the root at its evaluated_at.
    for &p in &positions {
        let d = decision_at(&ledger, p);
        let pin = d.log.expect("layout 2");
        assert_eq!(pin.size, d.evaluated_at);
        assert_eq!(pin.root, ledger.root_at(d.evaluated_at).unwrap().0);
        assert_eq!(&vouch_chain::decision_body(&model(), &d)[..8], b"VOUCHDR2");
    }
    drop(ledger);

    for (name, change) in [
        (
            "wrong-root",
            &(|p: &mut LogPin| p.root[0] ^= 1) as &dyn Fn(&mut LogPin),
        ),
        ("root-of-another-size", &|p: &mut LogPin| p.size -= 1),
    ] {
        let report = verify_tampered(&honest, &tmp.path().join(name), |r| {
            resign_second_decision(r, change)
        });
        let failure = report
            .failure
            .unwrap_or_else(|| panic!("{name}: unnoticed"));
        assert_eq!(failure.rule, Some(Rule::LogPin), "{name}: {failure:?}");
        assert_eq!(failure.index, Some(1), "{name}: {failure:?}");
        assert_eq!(failure.position, positions[1], "{name}: {failure:?}");
        assert!(
            failure
                .reason
                .contains(&format!("position {}", positions[1])),
            "{failure:?}"
        );
        // The next decision still links to the refused one, so it is refused too.
        assert_eq!(report.refused.len(), 2, "{name}: {:#?}", report.refused);
    }
}

#[test]
fn a_wrong_root_appended_raw_is_refused_by_verify_and_the_projector() {
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
    forge_with(
        &mut ledger,
        "run-1",
        DecisionOutcome::Promoted,
        &signer(),
        1,
        |d| {
            d.log.as_mut().unwrap().root = [7; 32];
        },
    );
    let position = ledger.log().last_position().unwrap().get();
    let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    let failure = report.failure.expect("a wrong root is found");
    assert_eq!(
        (failure.position, failure.rule),
        (position, Some(Rule::LogPin))
    );
    assert!(
        failure.reason.contains(&vouch_event::hex(&[7; 32])),
        "{failure:?}"
    );
    assert!(
        failure
            .reason
            .contains(&ledger.root_at(position - 1).unwrap().to_hex()),
        "{failure:?}"
    );
    // The projector judged it with the root of the views' tree and refused it too.
    let forged = vouch_chain::decision_hash(&model(), &decision_at(&ledger, position));
    assert!(ledger.views().decision_by_hash(&forged).unwrap().is_none());
    assert_eq!(ledger.views().chain_head().unwrap().unwrap().index, 0);
}

#[test]
fn an_old_ledger_of_layout_1_decisions_then_layout_2_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 3);
    // Written before pins: a promotion and a decision waiting for review, layout 1.
    forge_with(
        &mut ledger,
        "run-0",
        DecisionOutcome::Promoted,
        &signer(),
        0,
        |d| d.log = None,
    );
    let waiting = forge_with(
        &mut ledger,
        "run-1",
        DecisionOutcome::NeedsReview,
        &signer(),
        1,
        |d| d.log = None,
    );
    assert_eq!(ledger.views().chain_head().unwrap().unwrap().index, 1);
    // Then this version: a promotion, and the resolution of the old decision, which
    // copies its (absent) pin and so stays layout 1.
    let new = promote(
        &mut ledger,
        "run-2",
        DecisionOutcome::Promoted,
        &signer(),
        2,
    );
    assert!(decision_at(&ledger, new.position).log.is_some());
    ledger
        .record_review(
            &waiting.hex(),
            ReviewVerdict::Approve,
            "fine",
            &reviewer(),
            time(3),
        )
        .unwrap();
    let (outcome, enacted) = ledger
        .enact_review(&waiting.hex(), &signer(), time(4))
        .unwrap();
    assert_eq!(outcome, DecisionOutcome::Promoted);
    assert_eq!(decision_at(&ledger, enacted.position).log, None);
    let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    assert_eq!(report.failure, None, "{:#?}", report.refused);
    assert_eq!(report.decisions, 4);
    // Nothing deployed it yet; everything else about the resolution holds.
    let audit = ledger.audit(&Digest::of(b"run-1"), ledger.trust()).unwrap();
    assert!(
        audit.checks.iter().all(|c| c.ok || c.what == "deployment"),
        "{:#?}",
        audit.checks
    );
}

#[test]
fn a_resolution_copies_the_pin_of_the_decision_it_resolves() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let mut ledger = setup(&dir, 2);
    let waiting = promote(
        &mut ledger,
        "run-0",
        DecisionOutcome::NeedsReview,
        &signer(),
        0,
    );
    // More records after it: the resolution still pins the prefix the decision read.
    promote(
        &mut ledger,
        "run-1",
        DecisionOutcome::Rejected,
        &signer(),
        1,
    );
    let id = waiting.hash.hex();
    ledger
        .record_review(&id, ReviewVerdict::Approve, "ok", &reviewer(), time(2))
        .unwrap();
    let (_, enacted) = ledger.enact_review(&id, &signer(), time(3)).unwrap();
    let pinned = decision_at(&ledger, waiting.position).log.unwrap();
    assert_eq!(decision_at(&ledger, enacted.position).log, Some(pinned));
    let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
    assert_eq!(report.failure, None, "{:#?}", report.refused);
}
