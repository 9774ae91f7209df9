//! The rule book, differentially: a seeded generator alters an honest release history
//! (every field of decisions, reviews and deployments changed, kept, given a new id or
//! re-signed by an untrusted, wrong-role, revoked or legitimate key; records dropped,
//! duplicated, swapped, republished under new ids or moved to another key; junk on the
//! chain; a review contradicting the decision it enacts), and every place that judges
//! release records must give the same verdict on every case: the projector (views and
//! registry), `verify`, `audit`, audit bundles, and a writer's check before appending.
//! Every case made without the release key must fail `verify`.
//!
//! `VOUCH_DIFF_CASES` sets the number of cases (default 1,500); `VOUCH_DIFF_SEED` the
//! first seed, to reproduce a failure the test names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, Digest, Event, EventId, GateRecord, GateVerdict,
    MetricsLogged, ModelName, Name, Producer, ReviewLink, ReviewVerdict, RunId, RunStarted,
    Subject, Timestamp,
};
use vouch_ledger::{chain_key, verify_bundle, DecisionDraft, Ledger, Role, Trust, TrustedKey};
use vouch_log::{Log, LogKey, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;

const POLICY: &str = "model = \"loan-risk\"\nversion = \"v1\"\n\n[approval]\nreviewers = 1\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.5\nreason = \"a coin flip does better\"\n";

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn producer() -> Producer {
    Producer::new("pipeline").unwrap()
}

fn model() -> ModelName {
    ModelName::new("loan-risk").unwrap()
}

fn artifact(run: usize) -> Digest {
    Digest::of(format!("run-{run}").as_bytes())
}

/// The keys of the story. `untrusted` is in no trust list; `revoked` was a signer, revoked
/// before any record; `decoy` is a signer whose trust entry carries the untrusted key's
/// 64-bit key id, as a key id collision would.
struct Keys {
    signer: SigningKey,
    reviewer: SigningKey,
    deployer: SigningKey,
    untrusted: SigningKey,
    revoked: SigningKey,
    decoy: SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        signer: SigningKey::from_seed([1; 32]),
        reviewer: SigningKey::from_seed([2; 32]),
        deployer: SigningKey::from_seed([3; 32]),
        untrusted: SigningKey::from_seed([4; 32]),
        revoked: SigningKey::from_seed([5; 32]),
        decoy: SigningKey::from_seed([6; 32]),
    })
}

fn trust() -> Trust {
    let k = keys();
    let mut trust = Trust::default();
    trust
        .add(&k.signer.public(), "release-bot", Role::Signer, None)
        .unwrap();
    trust
        .add(
            &k.reviewer.public(),
            "Chief Risk Officer",
            Role::Reviewer,
            None,
        )
        .unwrap();
    trust
        .add(&k.deployer.public(), "deploy-bot", Role::Deployer, None)
        .unwrap();
    trust
        .add(&k.revoked.public(), "old-bot", Role::Signer, None)
        .unwrap();
    trust
        .revoke(&k.revoked.public(), time(-1000), "leaked", time(-999))
        .unwrap();
    let mut entries = trust.keys().to_vec();
    entries.push(TrustedKey {
        name: "decoy".into(),
        role: Role::Signer,
        key: vouch_chain::public_key_text(&k.decoy.public()),
        key_id: vouch_chain::key_id(&k.untrusted.public()),
        valid_from: None,
        revoked: None,
    });
    Trust::from_keys(entries)
}

fn run_events(r: usize) -> Vec<Event> {
    let run = RunId::new(format!("run-{r}")).unwrap();
    let event = |what: &str, body| Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: time(0),
        producer: producer(),
        subject: Subject::Run(run.clone()),
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
                metrics: BTreeMap::from([(Name::new("auc").unwrap(), 0.8 + r as f64 / 100.0)]),
                step: None,
                segment: None,
            }),
        ),
        event(
            "model",
            Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: artifact(r),
                size: 3,
                uri: format!("s3://models/{run}"),
                sha256: None,
            }),
        ),
    ]
}

fn decide(ledger: &mut Ledger, r: usize, verdict: GateVerdict, at: i64) -> vouch_ledger::Recorded {
    let run = RunId::new(format!("run-{r}")).unwrap();
    let (policy_position, policy) = ledger
        .publish_policy(&model(), "v1", POLICY, time(1), &producer())
        .unwrap();
    let (evidence, evidence_digest) = ledger.evidence(&[&run], &[policy_position]).unwrap();
    let outcome = match verdict {
        GateVerdict::Pass => DecisionOutcome::Promoted,
        GateVerdict::Fail => DecisionOutcome::Rejected,
        GateVerdict::Review => DecisionOutcome::NeedsReview,
    };
    let draft = DecisionDraft {
        model: model(),
        run,
        baseline: None,
        artifacts: vec![artifact(r)],
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
            verdict,
            reason: "measured".into(),
        }],
        outcome,
        review: None,
        decided_at: time(at),
    };
    ledger
        .record_decision(&keys().signer, time(at), &mut |_| Ok(draft.clone()))
        .unwrap()
}

/// The honest history: run-0 promoted and deployed; run-1 reviewed, approved, enacted
/// and deployed; run-2 rejected and deployed anyway, forced.
fn honest() -> &'static Vec<NewRecord> {
    static HONEST: OnceLock<Vec<NewRecord>> = OnceLock::new();
    HONEST.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("honest");
        Ledger::init(&dir, &Default::default()).unwrap();
        let mut ledger = Ledger::open(&dir, &Default::default()).unwrap();
        ledger.set_trust(trust()).unwrap();
        for r in 0..3 {
            ledger.append(&run_events(r)).unwrap();
        }
        let k = keys();
        decide(&mut ledger, 0, GateVerdict::Pass, 10);
        ledger
            .record_deployment(
                &model(),
                "production",
                artifact(0),
                None,
                &k.deployer,
                time(15),
            )
            .unwrap();
        let waiting = decide(&mut ledger, 1, GateVerdict::Review, 20);
        ledger
            .record_review(
                &waiting.hash.hex(),
                ReviewVerdict::Approve,
                "segments hold",
                &k.reviewer,
                time(25),
            )
            .unwrap();
        ledger
            .enact_review(&waiting.hash.hex(), &k.signer, time(30))
            .unwrap();
        ledger
            .record_deployment(
                &model(),
                "production",
                artifact(1),
                None,
                &k.deployer,
                time(35),
            )
            .unwrap();
        decide(&mut ledger, 2, GateVerdict::Fail, 40);
        ledger
            .record_deployment(
                &model(),
                "production",
                artifact(2),
                Some("hotfix at 3am"),
                &k.deployer,
                time(45),
            )
            .unwrap();
        let report = ledger.verify(ledger.trust(), &mut |_, _| {}).unwrap();
        assert_eq!(report.failure, None, "the honest history verifies");
        assert_eq!(
            (report.decisions, report.reviews, report.deployments),
            (4, 1, 3)
        );
        ledger
            .log()
            .read(Position::new(1), usize::MAX)
            .unwrap()
            .into_iter()
            .map(|r| NewRecord {
                event_id: r.event_id,
                key: r.key,
                bytes: r.bytes,
            })
            .collect()
    })
}

/// SplitMix64: a seeded generator, so every case can be reproduced from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn is_release(r: &NewRecord) -> bool {
    r.key == chain_key() || r.key.as_str().starts_with("model.")
}

fn signed_kind(event: &Event) -> Option<&'static str> {
    match &event.body {
        Body::DecisionRecorded(_) => Some("decision"),
        Body::ReviewRecorded(_) => Some("review"),
        Body::DeploymentSigned(_) => Some("deployment"),
        _ => None,
    }
}

/// How an altered record is sealed again.
#[derive(Debug, Clone, Copy)]
enum Seal {
    /// Bytes changed, id and signature kept.
    Keep,
    /// Id recomputed over the new content, signature kept.
    NewId,
    /// Re-signed with a key the auditor does not trust as that record's signer.
    Attacker(Attacker),
    /// Re-signed with the legitimate key of that record's role (an insider holding it).
    Legit,
}

#[derive(Debug, Clone, Copy)]
enum Attacker {
    Untrusted,
    WrongRole,
    Revoked,
    Decoy,
}

fn attacker_key(a: Attacker, kind: &str) -> &'static SigningKey {
    let k = keys();
    match (a, kind) {
        (Attacker::Untrusted, _) => &k.untrusted,
        (Attacker::WrongRole, "decision") => &k.reviewer,
        (Attacker::WrongRole, "review") => &k.deployer,
        (Attacker::WrongRole, _) => &k.reviewer,
        (Attacker::Revoked, _) => &k.revoked,
        // The decoy is a trusted signer: as a reviewer or deployer it holds the wrong role.
        (Attacker::Decoy, _) => &k.untrusted,
    }
}

fn legit_key(kind: &str) -> &'static SigningKey {
    match kind {
        "decision" => &keys().signer,
        "review" => &keys().reviewer,
        _ => &keys().deployer,
    }
}

/// Changes field `field` of a signed record; false when the field does not apply.
fn alter_field(event: &mut Event, field: usize, rng: &mut Rng) -> bool {
    let other = Digest::of(&rng.next().to_le_bytes());
    let stranger = keys().untrusted.public();
    match &mut event.body {
        Body::DecisionRecorded(d) => match field % 17 {
            0 => d.index += 1 + rng.below(2) as u64,
            1 => {
                d.prev = if d.prev.is_some() && rng.below(2) == 0 {
                    None
                } else {
                    Some(other)
                }
            }
            2 => {
                let current = d
                    .run
                    .as_str()
                    .trim_start_matches("run-")
                    .parse::<usize>()
                    .unwrap_or(0);
                d.run = RunId::new(format!("run-{}", (current + 1 + rng.below(2)) % 3)).unwrap();
            }
            3 => d.baseline = Some(RunId::new("run-9").unwrap()),
            4 => {
                if rng.below(2) == 0 {
                    d.artifacts.push(artifact(2));
                } else {
                    d.artifacts = vec![other];
                }
            }
            5 => d.policy = other,
            6 => d.policy_version.push('x'),
            7 => d.policy_position += 1,
            8 => d.evaluated_at += 1,
            9 => {
                if d.evidence.pop().is_none() {
                    return false;
                }
            }
            10 => d.evidence_digest = other,
            11 => {
                let g = &mut d.gates[0];
                match rng.below(3) {
                    0 => g.candidate = Some(0.1),
                    1 => g.threshold = ">= 0.9".into(),
                    _ => {
                        g.verdict = match g.verdict {
                            GateVerdict::Pass => GateVerdict::Fail,
                            GateVerdict::Fail => GateVerdict::Review,
                            GateVerdict::Review => GateVerdict::Pass,
                        }
                    }
                }
            }
            12 => {
                d.outcome = match d.outcome {
                    DecisionOutcome::Promoted => DecisionOutcome::Rejected,
                    DecisionOutcome::Rejected => DecisionOutcome::Promoted,
                    DecisionOutcome::NeedsReview => DecisionOutcome::Promoted,
                }
            }
            13 => {
                d.review = match d.review.take() {
                    Some(mut link) => match rng.below(3) {
                        0 => None,
                        1 => {
                            link.review = other;
                            Some(link)
                        }
                        _ => {
                            link.review_position += 1;
                            Some(link)
                        }
                    },
                    None => Some(ReviewLink {
                        decision: other,
                        review: other,
                        review_position: 1,
                    }),
                }
            }
            14 => d.decided_at = Timestamp::from_unix_nanos(d.decided_at.unix_nanos() + 1),
            15 => d.signer = stranger,
            _ => d.signature.0[rng.below(64)] ^= 1 << rng.below(8),
        },
        Body::ReviewRecorded(r) => match field % 7 {
            0 => r.decision = other,
            1 => {
                r.verdict = match r.verdict {
                    ReviewVerdict::Approve => ReviewVerdict::Reject,
                    ReviewVerdict::Reject => ReviewVerdict::Approve,
                }
            }
            2 => r.reviewer = "Chief Executive".into(),
            3 => r.reason.push('!'),
            4 => r.reviewed_at = Timestamp::from_unix_nanos(r.reviewed_at.unix_nanos() + 1),
            5 => r.signer = stranger,
            _ => r.signature.0[rng.below(64)] ^= 1 << rng.below(8),
        },
        Body::DeploymentSigned(d) => match field % 8 {
            0 => d.env = "staging".into(),
            1 => {
                d.artifact = if rng.below(2) == 0 && d.artifact != artifact(2) {
                    artifact(2)
                } else {
                    other
                }
            }
            2 => {
                d.decision = if d.decision.is_some() && rng.below(2) == 0 {
                    None
                } else {
                    Some(other)
                }
            }
            3 => d.forced = !d.forced,
            4 => {
                d.reason = if d.reason.is_some() {
                    None
                } else {
                    Some("because".into())
                }
            }
            5 => d.deployed_at = Timestamp::from_unix_nanos(d.deployed_at.unix_nanos() + 1),
            6 => d.signer = stranger,
            _ => d.signature.0[rng.below(64)] ^= 1 << rng.below(8),
        },
        _ => return false,
    }
    true
}

fn signed_time(event: &Event) -> Timestamp {
    match &event.body {
        Body::DecisionRecorded(d) => d.decided_at,
        Body::ReviewRecorded(r) => r.reviewed_at,
        Body::DeploymentSigned(d) => d.deployed_at,
        _ => event.time,
    }
}

fn model_of(event: &Event) -> ModelName {
    match &event.subject {
        Subject::Model(m) => m.clone(),
        Subject::Run(_) | Subject::Experiment(_) => model(),
    }
}

fn sign(event: &mut Event, key: &SigningKey) {
    let model = model_of(event);
    match &mut event.body {
        Body::DecisionRecorded(d) => vouch_chain::sign_decision(&model, d, key),
        Body::ReviewRecorded(r) => vouch_chain::sign_review(&model, r, key),
        Body::DeploymentSigned(d) => vouch_chain::sign_deployment(&model, d, key),
        _ => {}
    }
    event.time = signed_time(event);
}

fn renew_id(event: &mut Event) {
    if let Some(id) = vouch_rules::expected_event_id(&model_of(event), &event.body) {
        event.id = EventId::new(id).unwrap();
    }
}

fn put(records: &mut [NewRecord], at: usize, event: &Event) {
    records[at].event_id = event.id.to_string();
    records[at].bytes = vouch_event::encode(event);
}

fn decode_at(records: &[NewRecord], at: usize) -> Option<Event> {
    vouch_event::decode(&records[at].bytes).ok()
}

/// Re-links and re-signs, with the release key, every decision after position `from`,
/// as an insider holding it would to make an altered history look whole.
fn relink_after(records: &mut [NewRecord], from: usize) {
    let mut prev: Option<(u64, Digest)> = None;
    for at in 0..records.len() {
        let Some(mut event) = decode_at(records, at) else {
            continue;
        };
        let model = model_of(&event);
        let Body::DecisionRecorded(d) = &mut event.body else {
            continue;
        };
        if at > from {
            d.index = prev.map_or(0, |(i, _)| i + 1);
            d.prev = prev.map(|(_, h)| h);
            vouch_chain::sign_decision(&model, d, &keys().signer);
        }
        prev = Some((d.index, vouch_chain::decision_hash(&model, d)));
        if at > from {
            renew_id(&mut event);
            put(records, at, &event);
        }
    }
}

/// One altered history: the records, the trust to judge it under, a description, and
/// whether it was made without the release keys (and so must fail).
struct Case {
    records: Vec<NewRecord>,
    what: String,
    must_fail: bool,
}

fn release_positions(records: &[NewRecord]) -> Vec<usize> {
    (0..records.len())
        .filter(|&i| is_release(&records[i]) && !records[i].event_id.starts_with("policy:"))
        .collect()
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let mut records = honest().clone();
    let signed = release_positions(&records);
    let at = signed[rng.below(signed.len())];
    match rng.below(10) {
        // A field of a signed record, sealed one way or another.
        0..=4 => {
            let mut event = decode_at(&records, at).unwrap();
            let kind = signed_kind(&event).unwrap();
            let field = rng.below(17);
            if !alter_field(&mut event, field, &mut rng) {
                return generate(seed.wrapping_add(1 << 40));
            }
            let seal = match rng.below(7) {
                0 => Seal::Keep,
                1 => Seal::NewId,
                2 => Seal::Attacker(Attacker::Untrusted),
                3 => Seal::Attacker(Attacker::WrongRole),
                4 => Seal::Attacker(Attacker::Revoked),
                5 => Seal::Attacker(Attacker::Decoy),
                _ => Seal::Legit,
            };
            match seal {
                Seal::Keep => {}
                Seal::NewId => renew_id(&mut event),
                Seal::Attacker(a) => {
                    sign(&mut event, attacker_key(a, kind));
                    renew_id(&mut event);
                }
                Seal::Legit => {
                    sign(&mut event, legit_key(kind));
                    renew_id(&mut event);
                }
            }
            put(&mut records, at, &event);
            // Sometimes the insider also re-links the chain after a changed decision.
            let relinked = kind == "decision" && rng.below(2) == 0;
            if relinked {
                relink_after(&mut records, at);
            }
            Case {
                what: format!(
                    "{kind} at {} field {field} sealed {seal:?}{}",
                    at + 1,
                    if relinked { ", chain re-linked" } else { "" }
                ),
                must_fail: !matches!(seal, Seal::Legit),
                records,
            }
        }
        // A record dropped (any record: evidence, policy, release). Only the order of
        // positions ties a deployment, or the chain's last decision, to what follows; with
        // none of theirs cited later, dropping one leaves a shorter valid history that
        // only a signed checkpoint of the log can expose.
        5 => {
            let at = rng.below(records.len());
            let dropped = records.remove(at);
            let last_decision = honest()
                .iter()
                .rposition(|r| r.event_id.starts_with("decision:"))
                .unwrap();
            Case {
                what: format!("dropped {} at {}", dropped.event_id, at + 1),
                must_fail: !dropped.event_id.starts_with("deployment:") && at != last_decision,
                records,
            }
        }
        // A signed record duplicated, or republished under a new id, somewhere after it.
        6 => {
            let mut copy = records[at].clone();
            let how = if rng.below(2) == 0 {
                copy.event_id.push_str("-again");
                "duplicated under a new log id"
            } else {
                let mut event = decode_at(&records, at).unwrap();
                event.id = EventId::new(format!("{}-again", event.id)).unwrap();
                copy.event_id = event.id.to_string();
                copy.bytes = vouch_event::encode(&event);
                "republished under a new event id"
            };
            let to = at + 1 + rng.below(records.len() - at);
            records.insert(to, copy);
            Case {
                what: format!("record at {} {how} at {}", at + 1, to + 1),
                must_fail: true,
                records,
            }
        }
        // Two signed records swapped.
        7 => {
            let other = signed[rng.below(signed.len())];
            if other == at {
                return generate(seed.wrapping_add(1 << 41));
            }
            records.swap(at, other);
            // A deployment cites a decision by hash, and nothing cites a deployment: moved
            // past records it does not depend on, it stays valid. Decisions and reviews are
            // sealed in order by their links and cited positions.
            let deployment = [at, other]
                .iter()
                .any(|&i| records[i].event_id.starts_with("deployment:"));
            Case {
                what: format!("records at {} and {} swapped", at + 1, other + 1),
                must_fail: !deployment,
                records,
            }
        }
        // Junk on the chain, or a signed record moved under another key.
        8 => {
            if rng.below(2) == 0 {
                let to = rng.below(records.len() + 1);
                let junk = match rng.below(3) {
                    0 => b"not a record".to_vec(),
                    1 => records[rng.below(records.len())].bytes[..5].to_vec(),
                    _ => vouch_event::encode(&run_events(0)[1]),
                };
                records.insert(
                    to,
                    NewRecord {
                        event_id: format!("junk-{seed}"),
                        key: chain_key(),
                        bytes: junk,
                    },
                );
                Case {
                    what: format!("junk on the chain at {}", to + 1),
                    must_fail: true,
                    records,
                }
            } else {
                let key = if records[at].key == chain_key() {
                    LogKey::new("model.loan-risk").unwrap()
                } else if rng.below(2) == 0 {
                    chain_key()
                } else {
                    LogKey::new("model.fraud").unwrap()
                };
                records[at].key = key;
                Case {
                    what: format!("record at {} moved under {}", at + 1, records[at].key),
                    must_fail: true,
                    records,
                }
            }
        }
        // The review turned into a rejection, re-signed by its legitimate reviewer, with the
        // promotion that enacts it re-linked and re-signed by the release key: a reject
        // enacting a promotion.
        _ => {
            let review_at = (0..records.len())
                .find(|&i| records[i].event_id.starts_with("review:"))
                .unwrap();
            let mut review = decode_at(&records, review_at).unwrap();
            if let Body::ReviewRecorded(r) = &mut review.body {
                r.verdict = ReviewVerdict::Reject;
            }
            sign(&mut review, &keys().reviewer);
            renew_id(&mut review);
            put(&mut records, review_at, &review);
            let new_hash = vouch_chain::review_hash(
                &model(),
                match &review.body {
                    Body::ReviewRecorded(r) => r,
                    _ => unreachable!(),
                },
            );
            let enact_at = (0..records.len())
                .find(|&i| {
                    decode_at(&records, i).is_some_and(
                        |e| matches!(&e.body, Body::DecisionRecorded(d) if d.review.is_some()),
                    )
                })
                .unwrap();
            let mut enact = decode_at(&records, enact_at).unwrap();
            if let Body::DecisionRecorded(d) = &mut enact.body {
                d.review.as_mut().unwrap().review = new_hash;
            }
            sign(&mut enact, &keys().signer);
            renew_id(&mut enact);
            put(&mut records, enact_at, &enact);
            relink_after(&mut records, enact_at);
            Case {
                what: "a rejection enacting a promotion, re-signed and re-linked".into(),
                must_fail: true,
                records,
            }
        }
    }
}

/// What each place says about one history.
#[derive(Debug, PartialEq, Eq)]
struct Verdicts {
    /// Release-record positions the projector quarantined.
    refused: BTreeSet<u64>,
    /// Accepted decisions by index, with hash and position.
    chain: Vec<(u64, Digest, u64)>,
    /// The model's production decision.
    production: Option<u64>,
    /// Accepted deployments' positions.
    deployments: BTreeSet<u64>,
}

fn judge_case(dir: &Path, case: &Case, seed: u64) -> Ledger {
    Ledger::init(dir, &Default::default()).unwrap();
    {
        let log = EmbeddedLog::open(&dir.join("log")).unwrap();
        log.append_batch(case.records.clone()).unwrap();
        log.flush().unwrap();
    }
    let trust = trust();
    let mut ledger = Ledger::open(dir, &Default::default()).unwrap();
    // In memory: a trust file with the decoy's key id would be refused as damaged (its
    // id is computed from its key); a true collision would pass that check.
    ledger.set_trust(trust.clone()).unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    let context = || format!("seed {seed}: {}", case.what);

    // The projector and the registry.
    let views = ledger.views();
    let projected = Verdicts {
        refused: views
            .quarantine(Position::new(1), usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|q| q.key == "chain" || q.key.starts_with("model."))
            .map(|q| q.position)
            .collect(),
        chain: views
            .decisions(0, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|d| (d.index, d.hash, d.position))
            .collect(),
        production: views.model(&model()).unwrap().and_then(|m| m.production),
        deployments: views
            .model(&model())
            .unwrap()
            .map(|m| m.deployments.iter().map(|d| d.position).collect())
            .unwrap_or_default(),
    };

    // verify, and what follows from its verdicts: the records it accepts form the chain,
    // production is the last accepted promotion, the accepted deployments stand.
    let report = ledger.verify(&trust, &mut |_, _| {}).unwrap();
    let refused: BTreeSet<u64> = report.refused.iter().map(|f| f.position).collect();
    let stored = ledger.log().read(Position::new(1), usize::MAX).unwrap();
    let mut verified = Verdicts {
        refused: refused.clone(),
        chain: Vec::new(),
        production: None,
        deployments: BTreeSet::new(),
    };
    for r in &stored {
        let position = r.position.get();
        if refused.contains(&position) {
            continue;
        }
        let Ok(event) = vouch_event::decode(&r.bytes) else {
            continue;
        };
        match &event.body {
            Body::DecisionRecorded(d) => {
                verified.chain.push((
                    d.index,
                    vouch_chain::decision_hash(&model_of(&event), d),
                    position,
                ));
                if d.outcome == DecisionOutcome::Promoted {
                    verified.production = Some(d.index);
                }
            }
            Body::DeploymentSigned(_) => {
                verified.deployments.insert(position);
            }
            _ => {}
        }
    }
    assert_eq!(
        projected,
        verified,
        "{}: projector and verify disagree",
        context()
    );
    if case.must_fail {
        assert!(
            report.failure.is_some(),
            "{}: verify passed an altered history",
            context()
        );
    }
    assert_eq!(
        report.failure.is_some(),
        !refused.is_empty(),
        "{}",
        context()
    );

    // A writer's check before appending agrees with the projector: judge the last signed
    // record against views projected up to just before it.
    if let Some(last) = stored.iter().rev().find(|r| {
        (r.key == chain_key() || r.key.as_str().starts_with("model."))
            && !r.event_id.starts_with("policy:")
    }) {
        if let Ok(event) = vouch_event::decode(&last.bytes) {
            if event.id.as_str() == last.event_id && signed_kind(&event).is_some() {
                let views = vouch_views::Views::temporary().unwrap();
                vouch_views::catch_up_to(
                    ledger.log(),
                    &views,
                    &trust,
                    Position::new(last.position.get() - 1),
                    &mut |_, _| {},
                )
                .unwrap();
                let writer = views
                    .judge_next(ledger.log(), &trust, last.key.as_str(), &event)
                    .unwrap();
                assert_eq!(
                    writer.is_err(),
                    projected.refused.contains(&last.position.get()),
                    "{}: a writer's check and the projector disagree on position {}: {writer:?}",
                    context(),
                    last.position
                );
            }
        }
    }

    // audit and audit bundles agree on every artifact of the story.
    for r in 0..3 {
        let a = artifact(r);
        let audit = ledger.audit(&a, &trust).unwrap();
        let promoted = ledger.views().promotions(&a).unwrap().last().copied();
        match promoted {
            Some(index) => {
                let bundle = ledger.bundle(&a, index, &trust).unwrap();
                let checks = verify_bundle(&bundle, &trust);
                let bundle_ok = checks.iter().all(|c| c.ok);
                assert_eq!(
                    audit.ok(),
                    bundle_ok,
                    "{}: audit and verify-bundle disagree on run-{r}: audit {:#?} bundle {checks:#?}",
                    context(),
                    audit.checks
                );
                // What the projector refused never makes an audit pass.
                let decision = ledger.views().decision(index).unwrap().unwrap();
                assert!(
                    !projected.refused.contains(&decision.position),
                    "{}",
                    context()
                );
            }
            None => assert!(
                !audit.ok(),
                "{}: audit passed run-{r} with no promotion",
                context()
            ),
        }
    }
    ledger
}

#[test]
fn every_judge_gives_the_same_verdict_on_altered_histories() {
    let cases: u64 = std::env::var("VOUCH_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1500);
    let first: u64 = std::env::var("VOUCH_DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tmp = tempfile::tempdir().unwrap();
    let mut failed = 0;
    for seed in first..first + cases {
        let case = generate(seed);
        if std::env::var("VOUCH_DIFF_SHOW").is_ok() {
            for (a, b) in honest().iter().zip(&case.records) {
                if a.bytes != b.bytes {
                    eprintln!(
                        "{:?}\n=> {:?}",
                        vouch_event::decode(&a.bytes),
                        vouch_event::decode(&b.bytes)
                    );
                }
            }
        }
        drop(judge_case(&tmp.path().join(seed.to_string()), &case, seed));
        if case.must_fail {
            failed += 1;
        }
        std::fs::remove_dir_all(tmp.path().join(seed.to_string())).unwrap();
    }
    eprintln!("{cases} altered histories judged alike; {failed} made without the release keys, all refused");
}

/// Bundles an attacker edits and re-signs, with their own key named as the release bot
/// inside: every one fails against the auditor's trust.
#[test]
fn forged_and_resigned_bundles_fail_against_the_auditors_trust() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let case = Case {
        records: honest().clone(),
        what: "honest".into(),
        must_fail: false,
    };
    let ledger = judge_case(&dir, &case, 0);
    let trust = trust();
    let a = artifact(1);
    let index = *ledger.views().promotions(&a).unwrap().last().unwrap();
    let honest_bundle = ledger.bundle(&a, index, &trust).unwrap();
    assert!(verify_bundle(&honest_bundle, &trust).iter().all(|c| c.ok));
    let mut rng = Rng(7);
    let attacker = &keys().untrusted;
    for round in 0..5000 {
        let mut bundle = honest_bundle.clone();
        let signed: Vec<usize> = (0..bundle.records.len())
            .filter(|&i| {
                let bytes = hex_decode(&bundle.records[i].bytes);
                vouch_event::decode(&bytes).is_ok_and(|e| signed_kind(&e).is_some())
            })
            .collect();
        let at = signed[rng.below(signed.len())];
        let what = match rng.below(4) {
            0 => {
                // A field changed and re-signed by the attacker, who names itself.
                let mut event =
                    vouch_event::decode(&hex_decode(&bundle.records[at].bytes)).unwrap();
                alter_field(&mut event, rng.below(17), &mut rng);
                sign(&mut event, attacker);
                renew_id(&mut event);
                bundle.records[at].event_id = event.id.to_string();
                bundle.records[at].bytes = hex_encode(&vouch_event::encode(&event));
                bundle.keys.push(TrustedKey {
                    name: "release-bot".into(),
                    role: Role::Signer,
                    key: vouch_chain::public_key_text(&attacker.public()),
                    key_id: vouch_chain::key_id(&keys().signer.public()),
                    valid_from: None,
                    revoked: None,
                });
                "re-signed by the attacker"
            }
            1 => {
                // Every signed record re-signed by the attacker: a whole forged history.
                for &i in &signed {
                    let mut event =
                        vouch_event::decode(&hex_decode(&bundle.records[i].bytes)).unwrap();
                    sign(&mut event, attacker);
                    renew_id(&mut event);
                    bundle.records[i].event_id = event.id.to_string();
                    bundle.records[i].bytes = hex_encode(&vouch_event::encode(&event));
                }
                "all re-signed"
            }
            2 => {
                let i = rng.below(bundle.records.len());
                let mut bytes = hex_decode(&bundle.records[i].bytes);
                let b = rng.below(bytes.len());
                let before = vouch_event::decode(&bytes);
                bytes[b] ^= 1 << rng.below(8);
                if std::env::var("VOUCH_DIFF_SHOW").is_ok() {
                    eprintln!("{before:?}\n=> {:?}", vouch_event::decode(&bytes));
                }
                bundle.records[i].bytes = hex_encode(&bytes);
                "a byte flipped"
            }
            _ => {
                let i = rng.below(bundle.records.len());
                match rng.below(3) {
                    0 => {
                        // The newest decision removed is an older bundle, made before it.
                        let newest = bundle
                            .records
                            .iter()
                            .rposition(|r| r.event_id.starts_with("decision:"));
                        if newest == Some(i) && bundle.records[i].position > 15 {
                            continue;
                        }
                        bundle.records.remove(i);
                        "a record removed"
                    }
                    1 => {
                        bundle.records[i].event_id.push('x');
                        "a record's event id changed"
                    }
                    _ => {
                        // Positions a decision cites (evidence, policy, review); those of
                        // decisions and deployments after it only order the bundle.
                        let id = &bundle.records[i].event_id;
                        if id.starts_with("decision:") || id.starts_with("deployment:") {
                            continue;
                        }
                        bundle.records[i].position += 1;
                        "a cited record's position changed"
                    }
                }
            }
        };
        let checks = verify_bundle(&bundle, &trust);
        assert!(
            checks.iter().any(|c| !c.ok),
            "round {round}: a bundle {what} verified: {checks:#?}"
        );
    }
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
