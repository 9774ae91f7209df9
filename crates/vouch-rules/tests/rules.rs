//! The rule book on hand-built chains: a valid chain is accepted record by record, and
//! each alteration an insider could make is refused with the rule it breaks.

use vouch_chain::SigningKey;
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, DeploymentSigned, Digest, Event, EventId, GateRecord,
    GateVerdict, LogPin, ModelName, PolicyPublished, Producer, PublicKeyBytes, ReviewLink,
    ReviewRecorded, ReviewVerdict, RunId, SignatureBytes, Subject, Timestamp,
};
use vouch_rules::{Judged, Role, Rule, Trust, Walk, CHAIN_KEY};

const POLICY: &str = "model = \"m\"\nversion = \"1\"\n[[gate]]\nname = \"auc\"\nmetric = \"auc\"\nmin = 0.5\nreason = \"floor\"\n";

fn model() -> ModelName {
    ModelName::new("m").unwrap()
}

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_800_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn event(id: String, time: Timestamp, body: Body) -> Event {
    Event {
        id: EventId::new(id).unwrap(),
        time,
        producer: Producer::new(vouch_rules::RELEASE_PRODUCER).unwrap(),
        subject: Subject::Model(model()),
        body,
    }
}

struct Keys {
    bot: SigningKey,
    dana: SigningKey,
    eve: SigningKey,
}

fn keys() -> (Keys, Trust) {
    let keys = Keys {
        bot: SigningKey::from_seed([1; 32]),
        dana: SigningKey::from_seed([2; 32]),
        eve: SigningKey::from_seed([3; 32]),
    };
    let mut trust = Trust::default();
    trust
        .add(&keys.bot.public(), "release bot", Role::Signer, None)
        .unwrap();
    trust
        .add(&keys.bot.public(), "release bot", Role::Deployer, None)
        .unwrap();
    trust
        .add(&keys.dana.public(), "Dana", Role::Reviewer, None)
        .unwrap();
    (keys, trust)
}

/// A log in memory: (key, event id, bytes) by position - 1.
#[derive(Default, Clone)]
struct Log(Vec<(String, String, Vec<u8>)>);

impl Log {
    fn push(&mut self, key: &str, e: &Event) -> u64 {
        self.0
            .push((key.to_owned(), e.id.to_string(), vouch_event::encode(e)));
        self.0.len() as u64
    }

    /// The RFC 6962 root of the first `size` records.
    fn root_at(&self, size: u64) -> [u8; 32] {
        let mut tree = vouch_tlog::tree::Tree::in_memory();
        for (_, _, bytes) in &self.0[..size as usize] {
            tree.append(bytes).unwrap();
        }
        tree.root().0
    }

    fn judge_all(&self, trust: &Trust) -> Vec<Judged> {
        self.judge_all_knowing_roots(trust, true)
    }

    /// Judges every record; with `roots` false the walk knows no root, as a verifier
    /// holding only a bundle.
    fn judge_all_knowing_roots(&self, trust: &Trust, roots: bool) -> Vec<Judged> {
        let mut walk = Walk::new();
        let digests: Vec<Digest> = self
            .0
            .iter()
            .map(|(_, _, b)| vouch_event::event_digest(b))
            .collect();
        self.0
            .iter()
            .enumerate()
            .map(|(i, (key, id, bytes))| {
                let position = i as u64 + 1;
                walk.judge(
                    position,
                    key,
                    id,
                    bytes,
                    trust,
                    &|p| {
                        (p >= 1 && p < position)
                            .then(|| digests.get(p as usize - 1).copied())
                            .flatten()
                    },
                    &mut |size| {
                        assert!(size < position, "a root is asked only of an earlier prefix");
                        roots.then(|| self.root_at(size))
                    },
                )
            })
            .collect()
    }
}

fn gate(verdict: GateVerdict) -> GateRecord {
    GateRecord {
        gate: "auc".into(),
        metric: Some("auc".into()),
        candidate: Some(0.9),
        baseline: None,
        threshold: ">= 0.5".into(),
        verdict,
        reason: "floor".into(),
    }
}

fn sign_decision(mut d: DecisionRecorded, key: &SigningKey) -> Event {
    vouch_chain::sign_decision(&model(), &mut d, key);
    let hash = vouch_chain::decision_hash(&model(), &d);
    let time = d.decided_at;
    event(
        format!("decision:{}", hash.hex()),
        time,
        Body::DecisionRecorded(Box::new(d)),
    )
}

fn hash_of(e: &Event) -> Digest {
    match &e.body {
        Body::DecisionRecorded(d) => vouch_chain::decision_hash(&model(), d),
        _ => unreachable!(),
    }
}

/// Evidence at 1, the policy at 2, a decision needing review at 3, Dana's approval at 4,
/// the bot's enactment at 5, a deployment at 6.
fn chain(keys: &Keys) -> (Log, Vec<Event>) {
    let mut log = Log::default();
    let run = RunId::new("r1").unwrap();
    let evidence = Event {
        id: EventId::new("r1-start").unwrap(),
        time: t(0),
        producer: Producer::new("test").unwrap(),
        subject: Subject::Run(run.clone()),
        body: Body::RunStarted(vouch_event::RunStarted {
            experiment: "e".into(),
            name: None,
            git: None,
            env: None,
        }),
    };
    log.push("run.r1", &evidence);
    let policy = event(
        format!("policy:m:{}", Digest::of(POLICY.as_bytes()).hex()),
        t(1),
        Body::PolicyPublished(PolicyPublished {
            version: "1".into(),
            digest: Digest::of(POLICY.as_bytes()),
            text: POLICY.into(),
        }),
    );
    log.push("model.m", &policy);
    let digests: Vec<Digest> = log
        .0
        .iter()
        .map(|(_, _, b)| vouch_event::event_digest(b))
        .collect();
    let draft = DecisionRecorded {
        index: 0,
        prev: None,
        run,
        baseline: None,
        artifacts: vec![Digest::of(b"model")],
        policy: Digest::of(POLICY.as_bytes()),
        policy_version: "1".into(),
        policy_position: 2,
        evaluated_at: 2,
        evidence: vec![1, 2],
        evidence_digest: vouch_chain::evidence_digest([(1, &digests[0]), (2, &digests[1])]),
        gates: vec![gate(GateVerdict::Pass), {
            let mut g = gate(GateVerdict::Review);
            g.gate = "review:first".into();
            g
        }],
        outcome: DecisionOutcome::NeedsReview,
        review: None,
        decided_at: t(2),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: Some(LogPin {
            size: 2,
            root: log.root_at(2),
        }),
    };
    let needs = sign_decision(draft.clone(), &keys.bot);
    log.push(CHAIN_KEY, &needs);
    let mut review = ReviewRecorded {
        decision: hash_of(&needs),
        verdict: ReviewVerdict::Approve,
        reviewer: "Dana".into(),
        reason: "fine".into(),
        reviewed_at: t(3),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
    };
    vouch_chain::sign_review(&model(), &mut review, &keys.dana);
    let review_hash = vouch_chain::review_hash(&model(), &review);
    let review_event = event(
        format!("review:{}", review_hash.hex()),
        t(3),
        Body::ReviewRecorded(Box::new(review)),
    );
    log.push("model.m", &review_event);
    let enact = sign_decision(
        DecisionRecorded {
            index: 1,
            prev: Some(hash_of(&needs)),
            outcome: DecisionOutcome::Promoted,
            review: Some(ReviewLink {
                decision: hash_of(&needs),
                review: review_hash,
                review_position: 4,
            }),
            decided_at: t(4),
            ..draft
        },
        &keys.bot,
    );
    log.push(CHAIN_KEY, &enact);
    let mut dep = DeploymentSigned {
        env: "production".into(),
        artifact: Digest::of(b"model"),
        decision: Some(hash_of(&enact)),
        forced: false,
        reason: None,
        deployed_at: t(5),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
    };
    vouch_chain::sign_deployment(&model(), &mut dep, &keys.bot);
    let dep_hash = vouch_chain::deployment_hash(&model(), &dep);
    let deployment = event(
        format!("deployment:{}", dep_hash.hex()),
        t(5),
        Body::DeploymentSigned(Box::new(dep)),
    );
    log.push("model.m", &deployment);
    (
        log,
        vec![evidence, policy, needs, review_event, enact, deployment],
    )
}

fn refused(j: &Judged) -> Option<Rule> {
    match j {
        Judged::Refused(v) => Some(v.rule),
        _ => None,
    }
}

#[test]
fn a_reviewed_chain_is_accepted_record_by_record() {
    let (keys, trust) = keys();
    let (log, _) = chain(&keys);
    let verdicts = log.judge_all(&trust);
    assert_eq!(verdicts[0], Judged::NotRelease);
    assert_eq!(verdicts[1], Judged::NotRelease);
    for v in &verdicts[2..] {
        assert!(matches!(v, Judged::Accepted { .. }), "{v:?}");
    }
}

/// Replaces record `i` of the chain with `e` re-encoded under `key`.
fn with(log: &Log, i: usize, key: &str, e: &Event) -> Log {
    let mut out = log.clone();
    out.0[i] = (key.to_owned(), e.id.to_string(), vouch_event::encode(e));
    out
}

#[test]
fn a_reviewer_key_cannot_sign_a_promotion() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::DecisionRecorded(d) = &events[4].body else {
        unreachable!()
    };
    let forged = sign_decision((**d).clone(), &keys.dana);
    let v = with(&log, 4, CHAIN_KEY, &forged).judge_all(&trust);
    assert_eq!(refused(&v[4]), Some(Rule::WrongRole));
}

#[test]
fn a_reject_review_cannot_enact_a_promotion() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::ReviewRecorded(r) = &events[3].body else {
        unreachable!()
    };
    let mut r = (**r).clone();
    r.verdict = ReviewVerdict::Reject;
    vouch_chain::sign_review(&model(), &mut r, &keys.dana);
    let hash = vouch_chain::review_hash(&model(), &r);
    let review = event(
        format!("review:{}", hash.hex()),
        t(3),
        Body::ReviewRecorded(Box::new(r)),
    );
    let Body::DecisionRecorded(d) = &events[4].body else {
        unreachable!()
    };
    let mut d = (**d).clone();
    d.review.as_mut().unwrap().review = hash;
    let enact = sign_decision(d, &keys.bot);
    let log = with(&with(&log, 3, "model.m", &review), 4, CHAIN_KEY, &enact);
    let v = log.judge_all(&trust);
    assert!(matches!(v[3], Judged::Accepted { .. }));
    assert_eq!(refused(&v[4]), Some(Rule::ReviewOutcome));
}

#[test]
fn a_resolution_must_promote_exactly_the_reviewed_run_and_artifacts() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::DecisionRecorded(d) = &events[4].body else {
        unreachable!()
    };
    let mut d = (**d).clone();
    d.artifacts = vec![Digest::of(b"another model")];
    let enact = sign_decision(d, &keys.bot);
    let v = with(&log, 4, CHAIN_KEY, &enact).judge_all(&trust);
    assert_eq!(refused(&v[4]), Some(Rule::ResolutionMismatch));
}

#[test]
fn a_reviewer_name_is_the_trusted_name_of_its_key() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::ReviewRecorded(r) = &events[3].body else {
        unreachable!()
    };
    let mut r = (**r).clone();
    r.reviewer = "Chief Risk Officer".into();
    vouch_chain::sign_review(&model(), &mut r, &keys.dana);
    let hash = vouch_chain::review_hash(&model(), &r);
    let review = event(
        format!("review:{}", hash.hex()),
        t(3),
        Body::ReviewRecorded(Box::new(r)),
    );
    let v = with(&log, 3, "model.m", &review).judge_all(&trust);
    assert_eq!(refused(&v[3]), Some(Rule::ReviewerName));
}

#[test]
fn junk_and_replays_on_the_chain_are_refused_and_do_not_block_the_next_decision() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    // Junk, then the genuine first decision published again, before the enactment.
    let mut poisoned = Log(log.0[..4].to_vec());
    poisoned
        .0
        .push((CHAIN_KEY.into(), "junk".into(), b"not a record".to_vec()));
    let mut replay = events[2].clone();
    replay.id = EventId::new("another-id").unwrap();
    poisoned.push(CHAIN_KEY, &replay);
    let mut again = events[2].clone();
    again.time = events[2].time;
    poisoned.push(CHAIN_KEY, &again);
    // The enactment still links to the last accepted decision.
    let Body::DecisionRecorded(d) = &events[4].body else {
        unreachable!()
    };
    poisoned.push(CHAIN_KEY, &sign_decision((**d).clone(), &keys.bot));
    let v = poisoned.judge_all(&trust);
    assert_eq!(refused(&v[4]), Some(Rule::NotARecord));
    assert_eq!(refused(&v[5]), Some(Rule::Envelope));
    assert_eq!(refused(&v[6]), Some(Rule::ChainIndex));
    assert!(matches!(v[7], Judged::Accepted { .. }), "{:?}", v[7]);
}

#[test]
fn revocation_keeps_earlier_records_and_refuses_later_ones() {
    let (keys, mut trust) = keys();
    let (log, _) = chain(&keys);
    trust
        .revoke(&keys.bot.public(), t(4), "laptop stolen", t(100))
        .unwrap();
    let v = log.judge_all(&trust);
    assert!(matches!(v[2], Judged::Accepted { .. }));
    assert_eq!(refused(&v[4]), Some(Rule::KeyRevoked));
    assert!(trust.keys().iter().all(|k| k.key_id.len() == 16));
}

#[test]
fn an_untrusted_or_colliding_key_is_refused_and_a_reviewer_holds_no_other_role() {
    let (keys, mut trust) = keys();
    assert_eq!(
        refused(&Judged::Refused(
            trust
                .authorize(&keys.eve.public(), Role::Signer, t(0))
                .unwrap_err()
        )),
        Some(Rule::UntrustedKey)
    );
    assert!(trust
        .add(&keys.dana.public(), "Dana", Role::Signer, None)
        .is_err());
    assert!(trust
        .add(&keys.bot.public(), "release bot", Role::Reviewer, None)
        .is_err());
}

#[test]
fn an_unpromoted_or_unsigned_deployment_is_refused() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::DeploymentSigned(d) = &events[5].body else {
        unreachable!()
    };
    let mut d = (**d).clone();
    d.artifact = Digest::of(b"rogue");
    vouch_chain::sign_deployment(&model(), &mut d, &keys.bot);
    let hash = vouch_chain::deployment_hash(&model(), &d);
    let rogue = event(
        format!("deployment:{}", hash.hex()),
        t(5),
        Body::DeploymentSigned(Box::new(d)),
    );
    let v = with(&log, 5, "model.m", &rogue).judge_all(&trust);
    assert_eq!(refused(&v[5]), Some(Rule::DeploymentUnpromoted));
    let unsigned = event(
        "deployment:old".into(),
        t(5),
        Body::DeploymentRecorded(vouch_event::DeploymentRecorded {
            env: "production".into(),
            artifact: Digest::of(b"model"),
            decision: None,
            forced: false,
            reason: None,
        }),
    );
    let v = with(&log, 5, "model.m", &unsigned).judge_all(&trust);
    assert_eq!(refused(&v[5]), Some(Rule::Unsigned));
}

#[test]
fn a_flipped_byte_in_any_release_record_is_refused_or_breaks_a_later_link() {
    let (keys, trust) = keys();
    let (log, _) = chain(&keys);
    for record in 2..log.0.len() {
        let len = log.0[record].2.len();
        for at in (0..len).step_by(7) {
            let mut altered = log.clone();
            altered.0[record].2[at] ^= 0x01;
            // Bytes that no longer decode are refused before the rule book (quarantined).
            if vouch_event::decode(&altered.0[record].2).is_err() {
                continue;
            }
            let v = altered.judge_all(&trust);
            assert!(
                v[2..].iter().any(|j| refused(j).is_some()),
                "flipping byte {at} of record {} went unnoticed",
                record + 1
            );
        }
    }
}

/// The chain's first decision re-signed with `change` applied, and the log with it in
/// place (the enactment then names a decision the chain does not hold).
fn with_first_decision(keys: &Keys, change: impl FnOnce(&mut DecisionRecorded)) -> (Log, Event) {
    let (log, events) = chain(keys);
    let Body::DecisionRecorded(d) = &events[2].body else {
        unreachable!()
    };
    let mut d = (**d).clone();
    change(&mut d);
    let e = sign_decision(d, &keys.bot);
    (with(&log, 2, CHAIN_KEY, &e), e)
}

#[test]
fn a_pin_with_the_wrong_root_is_refused_naming_both_roots() {
    let (keys, trust) = keys();
    let (log, _) = with_first_decision(&keys, |d| {
        d.log.as_mut().unwrap().root = [7; 32];
    });
    let v = log.judge_all(&trust);
    let Judged::Refused(violation) = &v[2] else {
        panic!("{:?}", v[2])
    };
    assert_eq!(violation.rule, Rule::LogPin);
    assert_eq!(violation.rule.as_str(), "log_pin");
    assert!(violation.detail.contains(&vouch_event::hex(&[7; 32])));
    assert!(violation
        .detail
        .contains(&vouch_event::hex(&log.root_at(2))));
    assert!(
        violation.detail.contains("position 3"),
        "{}",
        violation.detail
    );
    // A verifier without the log (a bundle) cannot see it.
    let v = log.judge_all_knowing_roots(&trust, false);
    assert!(matches!(v[2], Judged::Accepted { .. }), "{:?}", v[2]);
}

#[test]
fn a_pin_whose_size_is_not_evaluated_at_is_refused_even_without_the_log() {
    let (keys, trust) = keys();
    for size in [1, 3] {
        let (log, _) = with_first_decision(&keys, |d| {
            d.log = Some(LogPin {
                size,
                root: Log(Vec::new()).root_at(0),
            });
        });
        for roots in [true, false] {
            let v = log.judge_all_knowing_roots(&trust, roots);
            assert_eq!(
                refused(&v[2]),
                Some(Rule::LogPin),
                "size {size}: {:?}",
                v[2]
            );
        }
    }
}

#[test]
fn a_layout_1_decision_is_still_accepted() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    // Both the decision and its resolution without a pin: a ledger written before pins.
    let Body::DecisionRecorded(needs) = &events[2].body else {
        unreachable!()
    };
    let mut needs = (**needs).clone();
    needs.log = None;
    let needs = sign_decision(needs, &keys.bot);
    let Body::ReviewRecorded(r) = &events[3].body else {
        unreachable!()
    };
    let mut r = (**r).clone();
    r.decision = hash_of(&needs);
    vouch_chain::sign_review(&model(), &mut r, &keys.dana);
    let review_hash = vouch_chain::review_hash(&model(), &r);
    let review = event(
        format!("review:{}", review_hash.hex()),
        t(3),
        Body::ReviewRecorded(Box::new(r)),
    );
    let Body::DecisionRecorded(enact) = &events[4].body else {
        unreachable!()
    };
    let mut enact = (**enact).clone();
    enact.log = None;
    enact.prev = Some(hash_of(&needs));
    enact.review = Some(ReviewLink {
        decision: hash_of(&needs),
        review: review_hash,
        review_position: 4,
    });
    let enact = sign_decision(enact, &keys.bot);
    let log = with(
        &with(&with(&log, 2, CHAIN_KEY, &needs), 3, "model.m", &review),
        4,
        CHAIN_KEY,
        &enact,
    );
    let v = log.judge_all(&trust);
    for v in &v[2..5] {
        assert!(matches!(v, Judged::Accepted { .. }), "{v:?}");
    }
}

#[test]
fn a_resolution_must_carry_the_pin_of_the_decision_it_resolves() {
    let (keys, trust) = keys();
    let (log, events) = chain(&keys);
    let Body::DecisionRecorded(d) = &events[4].body else {
        unreachable!()
    };
    for pin in [
        None,
        Some(LogPin {
            size: 2,
            root: [9; 32],
        }),
    ] {
        let mut d = (**d).clone();
        d.log = pin;
        let enact = sign_decision(d, &keys.bot);
        let v = with(&log, 4, CHAIN_KEY, &enact).judge_all_knowing_roots(&trust, false);
        let Judged::Refused(violation) = &v[4] else {
            panic!("{:?}", v[4])
        };
        assert_eq!(violation.rule, Rule::ResolutionMismatch);
        assert!(violation.detail.contains("log pin"), "{}", violation.detail);
    }
}
