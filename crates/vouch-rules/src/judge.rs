//! The rules themselves: one pure function per kind of release record.
//!
//! Each takes the record, the chain state before it and the records it cites (looked up
//! by the caller: from the views, from a walk over the log, or from a bundle) and the
//! trust, and returns the verdict. Nothing else in Vouch decides whether a release record
//! is valid.

use vouch_chain::Verifier;
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, DeploymentSigned, Digest, Event, GateVerdict,
    ModelName, PublicKeyBytes, ReviewRecorded, ReviewVerdict, Subject, Timestamp,
};

use crate::trust::{Role, Trust};
use crate::verdict::{Rule, Violation};

/// How far a decision may be dated before the one it follows: promoters on several
/// machines have clocks that disagree a little. Beyond it the chain's order and its times
/// contradict each other, which is what a backdated record signed with a revoked key
/// would show.
pub const CHAIN_CLOCK_SKEW_NANOS: i64 = 5 * 60 * 1_000_000_000;

/// The log key decisions are appended under: one chain per log.
pub const CHAIN_KEY: &str = "chain";

/// The producer every decision, review and signed deployment carries in its envelope.
/// The envelope is outside the signature; fixing its one free field means every byte of
/// a release record is covered by its signature or a rule. Who made a record is its
/// signing key, named by the verifier's trust.
pub const RELEASE_PRODUCER: &str = "vouch-release";

/// The log key of the release records of `model` other than decisions.
pub fn model_key(model: &ModelName) -> String {
    format!("model.{model}")
}

/// The chain's head: the last decision the rule book accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tip {
    /// Its chain index.
    pub index: u64,
    /// Its hash.
    pub hash: Digest,
    /// When it was decided.
    pub decided_at: Timestamp,
}

/// An accepted review of a decision, as later records need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    /// The review record's hash.
    pub hash: Digest,
    /// Its log position.
    pub position: u64,
    /// Approve or reject.
    pub verdict: ReviewVerdict,
    /// The reviewer's key.
    pub signer: PublicKeyBytes,
}

/// An accepted decision, as a later record citing it needs it.
#[derive(Debug, Clone, Copy)]
pub struct DecisionFacts<'a> {
    /// The model it is about.
    pub model: &'a ModelName,
    /// Its hash.
    pub hash: Digest,
    /// Its chain index.
    pub index: u64,
    /// Its outcome.
    pub outcome: DecisionOutcome,
    /// The artifacts it concerns.
    pub artifacts: &'a [Digest],
    /// Its signer.
    pub signer: PublicKeyBytes,
    /// Whether a later accepted decision resolved it.
    pub resolved: bool,
    /// Its accepted reviews, in log order.
    pub reviews: &'a [ReviewFacts],
}

/// A decision record to judge, with what it cites.
pub struct DecisionCase<'a> {
    /// The decoded record.
    pub event: &'a Event,
    /// The log key it sits under.
    pub key: &'a str,
    /// Its log position.
    pub position: u64,
    /// The chain head before it.
    pub head: Option<Tip>,
    /// The digests of the records at its evidence positions, as the log holds them, in
    /// the decision's order; `None` where the log has no record.
    pub evidence: &'a [Option<Digest>],
    /// The decoded record at its policy position, if the log has one that decodes.
    pub policy: Option<&'a Event>,
    /// For a decision that resolves a review: the decision its link names, if the chain
    /// holds it, with its full record.
    pub resolves: Option<(DecisionFacts<'a>, &'a DecisionRecorded)>,
    /// The RFC 6962 root of the log's first `evaluated_at` records, recomputed from the
    /// log by a verifier that holds it; `None` when it does not (an audit bundle carries
    /// only some records), and then only the pin's size is checked. Every verifier that
    /// holds the log passes it: otherwise a decision pinning a false prefix is accepted.
    pub log_root: Option<[u8; 32]>,
}

/// The model a release record concerns.
///
/// # Errors
/// When the event concerns a run.
pub fn model_of(event: &Event) -> Result<&ModelName, Violation> {
    match &event.subject {
        Subject::Model(model) => Ok(model),
        Subject::Run(_) | Subject::Experiment(_) => Err(Violation::new(
            Rule::NotARecord,
            "a release record must concern a model",
        )),
    }
}

/// The event id Vouch gives a release record: derived from its content, so the id cannot
/// be changed without the record being refused.
pub fn expected_event_id(model: &ModelName, body: &Body) -> Option<String> {
    match body {
        Body::DecisionRecorded(d) => Some(format!(
            "decision:{}",
            vouch_chain::decision_hash(model, d).hex()
        )),
        Body::ReviewRecorded(r) => Some(format!(
            "review:{}",
            vouch_chain::review_hash(model, r).hex()
        )),
        Body::DeploymentSigned(d) => Some(format!(
            "deployment:{}",
            vouch_chain::deployment_hash(model, d).hex()
        )),
        Body::PolicyPublished(p) => Some(format!("policy:{model}:{}", p.digest.hex())),
        _ => None,
    }
}

/// Judges the envelope of a decision, review or signed deployment alone: its id derived
/// from its content, the fixed release producer, and the time it signed. For a record
/// another one binds by hash (an audit bundle's previous decision, or the decision a
/// review resolved), this covers the bytes the hash does not.
///
/// # Errors
/// The envelope rule it breaks, or that it is not a release record.
pub fn judge_envelope(event: &Event) -> Result<(), Violation> {
    let model = model_of(event)?;
    let signed_at = match &event.body {
        Body::DecisionRecorded(d) => d.decided_at,
        Body::ReviewRecorded(r) => r.reviewed_at,
        Body::DeploymentSigned(d) => d.deployed_at,
        _ => {
            return Err(Violation::new(
                Rule::NotARecord,
                format!("a {} record is not a signed release record", event.kind()),
            ))
        }
    };
    envelope(event, model, signed_at)
}

fn envelope(event: &Event, model: &ModelName, signed_at: Timestamp) -> Result<(), Violation> {
    let expected = expected_event_id(model, &event.body).expect("a release record");
    if event.id.as_str() != expected {
        return Err(Violation::new(
            Rule::Envelope,
            format!(
                "event id `{}` is not the record's own id `{expected}`",
                event.id
            ),
        ));
    }
    if event.producer.as_str() != RELEASE_PRODUCER {
        return Err(Violation::new(
            Rule::Envelope,
            format!(
                "producer `{}` where a release record carries `{RELEASE_PRODUCER}` (the signer is who made it)",
                event.producer
            ),
        ));
    }
    if event.time != signed_at {
        return Err(Violation::new(
            Rule::Envelope,
            format!(
                "envelope time {} differs from the signed time {signed_at}",
                event.time
            ),
        ));
    }
    Ok(())
}

fn signature(result: Result<(), vouch_chain::SignatureError>) -> Result<(), Violation> {
    result.map_err(|e| Violation::new(Rule::Signature, e.to_string()))
}

/// Judges what a decision is as a link of the chain, without the records it cites: its
/// place under the chain key, envelope, signature, signer's trust, index, previous hash
/// and time. [`judge_decision`] starts with this; an audit bundle applies it alone to the
/// decisions after the audited one, whose evidence it does not carry.
///
/// # Errors
/// The first rule it breaks.
pub fn judge_link<'e>(
    event: &'e Event,
    key: &str,
    head: Option<Tip>,
    trust: &Trust,
    verifier: &mut Verifier,
) -> Result<(Digest, &'e DecisionRecorded), Violation> {
    let model = model_of(event)?;
    let Body::DecisionRecorded(d) = &event.body else {
        return Err(Violation::new(
            Rule::NotARecord,
            format!("a {} record is not a decision", event.kind()),
        ));
    };
    if key != CHAIN_KEY {
        return Err(Violation::new(
            Rule::WrongKey,
            format!(
                "decision {} sits under key `{key}`, not on the chain",
                d.index
            ),
        ));
    }
    envelope(event, model, d.decided_at)?;
    let body = vouch_chain::decision_body(model, d);
    signature(verifier.verify(&d.signer, &body, &d.signature))?;
    let hash = vouch_chain::record_hash(&body, &d.signature);
    trust.authorize(&d.signer, Role::Signer, d.decided_at)?;
    let expected = head.map_or(0, |h| h.index + 1);
    if d.index != expected {
        let what = if d.index < expected {
            "a replay or a fork of an index the chain already holds"
        } else {
            "a decision is missing before it"
        };
        return Err(Violation::new(
            Rule::ChainIndex,
            format!("chain index {} where {expected} is next: {what}", d.index),
        ));
    }
    if d.prev != head.map(|h| h.hash) {
        return Err(Violation::new(
            Rule::ChainLink,
            format!(
                "decision {} names previous hash {} but the chain head is {}",
                d.index,
                d.prev.map_or("none".into(), |p| p.to_string()),
                head.map_or("none".into(), |h| h.hash.to_string())
            ),
        ));
    }
    if let Some(head) = head {
        if d.decided_at.unix_nanos()
            < head
                .decided_at
                .unix_nanos()
                .saturating_sub(CHAIN_CLOCK_SKEW_NANOS)
        {
            return Err(Violation::new(
                Rule::ChainTime,
                format!(
                    "decision {} is dated {}, before decision {} ({}) that it follows",
                    d.index, d.decided_at, head.index, head.decided_at
                ),
            ));
        }
    }
    Ok((hash, d))
}

/// The outcome a decision's own gate verdicts lead to.
pub fn outcome_of_gates(d: &DecisionRecorded) -> DecisionOutcome {
    if d.gates.iter().any(|g| g.verdict == GateVerdict::Fail) {
        DecisionOutcome::Rejected
    } else if d.gates.iter().any(|g| g.verdict == GateVerdict::Review) {
        DecisionOutcome::NeedsReview
    } else {
        DecisionOutcome::Promoted
    }
}

/// Judges a decision. On success returns its hash.
///
/// # Errors
/// The first rule it breaks.
pub fn judge_decision(
    case: &DecisionCase<'_>,
    trust: &Trust,
    verifier: &mut Verifier,
) -> Result<Digest, Violation> {
    let (hash, d) = judge_link(case.event, case.key, case.head, trust, verifier)?;
    let model = model_of(case.event)?;
    evidence(d, case)?;
    log_pin(d, case)?;
    let policy_text = policy(d, model, case)?;
    match (&d.review, case.resolves) {
        (None, _) => {
            let gates = outcome_of_gates(d);
            if d.outcome != gates {
                return Err(Violation::new(
                    Rule::Outcome,
                    format!(
                        "decision {} is {} but its gates say {}",
                        d.index,
                        d.outcome.as_str(),
                        gates.as_str()
                    ),
                ));
            }
        }
        (Some(link), None) => {
            return Err(Violation::new(
                Rule::UnknownDecision,
                format!(
                    "decision {} resolves decision {}, which the chain does not hold",
                    d.index, link.decision
                ),
            ))
        }
        (Some(link), Some((target, record))) => {
            resolution(d, link, model, target, record, policy_text)?;
        }
    }
    Ok(hash)
}

fn evidence(d: &DecisionRecorded, case: &DecisionCase<'_>) -> Result<(), Violation> {
    let bad = |detail: String| Err(Violation::new(Rule::EvidencePositions, detail));
    if d.evidence.len() != case.evidence.len() {
        return bad(format!(
            "decision {} lists {} evidence positions but {} were looked up",
            d.index,
            d.evidence.len(),
            case.evidence.len()
        ));
    }
    if d.evaluated_at >= case.position {
        return bad(format!(
            "decision {} at position {} claims it read the log at position {}",
            d.index, case.position, d.evaluated_at
        ));
    }
    if let Some(&p) = d.evidence.iter().find(|&&p| p == 0 || p > d.evaluated_at) {
        return bad(format!(
            "decision {} cites evidence at position {p}, after position {} where it read the log",
            d.index, d.evaluated_at
        ));
    }
    let mut digests = Vec::with_capacity(d.evidence.len());
    for (p, digest) in d.evidence.iter().zip(case.evidence) {
        match digest {
            Some(digest) => digests.push((*p, digest)),
            None => {
                return bad(format!(
                    "decision {} cites evidence at position {p}, which the log does not hold",
                    d.index
                ))
            }
        }
    }
    let recomputed = vouch_chain::evidence_digest(digests);
    if recomputed != d.evidence_digest {
        return Err(Violation::new(
            Rule::EvidenceDigest,
            format!(
                "decision {}: evidence digest {} does not match the log's bytes ({recomputed})",
                d.index, d.evidence_digest
            ),
        ));
    }
    Ok(())
}

/// A layout-2 decision's pin must name the prefix it read: `evaluated_at` records, with
/// the root the log has at that size (when the verifier holds the log). A layout-1
/// decision has no pin and passes: ledgers written before pins keep verifying.
fn log_pin(d: &DecisionRecorded, case: &DecisionCase<'_>) -> Result<(), Violation> {
    let Some(pin) = &d.log else {
        return Ok(());
    };
    if pin.size != d.evaluated_at {
        return Err(Violation::new(
            Rule::LogPin,
            format!(
                "decision {} at position {} pins a log of {} records but read the log at position {}",
                d.index, case.position, pin.size, d.evaluated_at
            ),
        ));
    }
    if let Some(root) = case.log_root {
        if root != pin.root {
            return Err(Violation::new(
                Rule::LogPin,
                format!(
                    "decision {} at position {} pins root {} for the log's first {} records, but the log's root at that size is {}",
                    d.index,
                    case.position,
                    vouch_event::hex(&pin.root),
                    pin.size,
                    vouch_event::hex(&root)
                ),
            ));
        }
    }
    Ok(())
}

fn policy<'a>(
    d: &DecisionRecorded,
    model: &ModelName,
    case: &DecisionCase<'a>,
) -> Result<&'a str, Violation> {
    let bad = |detail: String| Violation::new(Rule::Policy, detail);
    if d.policy_position >= case.position {
        return Err(bad(format!(
            "decision {} cites a policy at position {}, not before it",
            d.index, d.policy_position
        )));
    }
    match case.policy {
        Some(Event {
            subject: Subject::Model(m),
            body: Body::PolicyPublished(p),
            ..
        }) if m == model => {
            if p.digest != d.policy || Digest::of(p.text.as_bytes()) != d.policy {
                return Err(bad(format!(
                    "decision {} names policy {} but the record at position {} holds {}",
                    d.index, d.policy, d.policy_position, p.digest
                )));
            }
            if p.version != d.policy_version {
                return Err(bad(format!(
                    "decision {} names policy version `{}` but the policy is `{}`",
                    d.index, d.policy_version, p.version
                )));
            }
            Ok(p.text.as_str())
        }
        _ => Err(bad(format!(
            "decision {} cites position {}, which holds no policy of model {model}",
            d.index, d.policy_position
        ))),
    }
}

fn resolution(
    d: &DecisionRecorded,
    link: &vouch_event::ReviewLink,
    model: &ModelName,
    target: DecisionFacts<'_>,
    record: &DecisionRecorded,
    policy_text: &str,
) -> Result<(), Violation> {
    let mismatch = |field: &str| {
        Err(Violation::new(
            Rule::ResolutionMismatch,
            format!(
                "decision {} resolves decision {} but its {field} differs from it",
                d.index, target.index
            ),
        ))
    };
    if vouch_chain::decision_hash(target.model, record) != link.decision
        || target.hash != link.decision
    {
        return Err(Violation::new(
            Rule::UnknownDecision,
            format!(
                "decision {} resolves {}, but the record looked up is another decision",
                d.index, link.decision
            ),
        ));
    }
    if target.model != model {
        return mismatch("model");
    }
    if target.outcome != DecisionOutcome::NeedsReview {
        return Err(Violation::new(
            Rule::NotPending,
            format!(
                "decision {} resolves decision {}, which was {}, not waiting for review",
                d.index,
                target.index,
                target.outcome.as_str()
            ),
        ));
    }
    if target.resolved {
        return Err(Violation::new(
            Rule::AlreadyResolved,
            format!(
                "decision {} resolves decision {}, which was already resolved",
                d.index, target.index
            ),
        ));
    }
    let fields: [(&str, bool); 10] = [
        ("run", d.run == record.run),
        ("baseline", d.baseline == record.baseline),
        ("artifacts", d.artifacts == record.artifacts),
        (
            "policy",
            d.policy == record.policy
                && d.policy_version == record.policy_version
                && d.policy_position == record.policy_position,
        ),
        ("evaluation position", d.evaluated_at == record.evaluated_at),
        ("evidence", d.evidence == record.evidence),
        (
            "evidence digest",
            d.evidence_digest == record.evidence_digest,
        ),
        ("gates", d.gates == record.gates),
        ("log pin", d.log == record.log),
        ("model", target.model == model),
    ];
    if let Some((field, _)) = fields.iter().find(|(_, same)| !same) {
        return mismatch(field);
    }
    let Some(cited) = target
        .reviews
        .iter()
        .find(|r| r.hash == link.review && r.position == link.review_position)
    else {
        return Err(Violation::new(
            Rule::ReviewOutcome,
            format!(
                "decision {} cites review {} at position {}, which is not an accepted review of decision {}",
                d.index, link.review, link.review_position, target.index
            ),
        ));
    };
    let required = vouch_policy::Policy::parse(policy_text)
        .map(|p| p.approval().reviewers)
        .map_err(|e| {
            Violation::new(
                Rule::Policy,
                format!("decision {}: its policy does not parse: {e}", d.index),
            )
        })?;
    let rejected = target
        .reviews
        .iter()
        .any(|r| r.verdict == ReviewVerdict::Reject);
    let mut approvers: Vec<PublicKeyBytes> = target
        .reviews
        .iter()
        .filter(|r| r.verdict == ReviewVerdict::Approve)
        .map(|r| r.signer)
        .collect();
    approvers.sort_unstable();
    approvers.dedup();
    let expected = if rejected {
        DecisionOutcome::Rejected
    } else if approvers.len() as u64 >= u64::from(required) {
        DecisionOutcome::Promoted
    } else {
        return Err(Violation::new(
            Rule::ReviewOutcome,
            format!(
                "decision {} resolves decision {} with {} approval(s); its policy needs {required} distinct reviewers",
                d.index,
                target.index,
                approvers.len()
            ),
        ));
    };
    if d.outcome != expected {
        return Err(Violation::new(
            Rule::ReviewOutcome,
            format!(
                "decision {} is {} but the reviews of decision {} decide {} (cited review: {:?})",
                d.index,
                d.outcome.as_str(),
                target.index,
                expected.as_str(),
                cited.verdict
            ),
        ));
    }
    Ok(())
}

/// Judges a review. On success returns its hash.
///
/// # Errors
/// The first rule it breaks.
pub fn judge_review(
    event: &Event,
    key: &str,
    target: Option<DecisionFacts<'_>>,
    trust: &Trust,
    verifier: &mut Verifier,
) -> Result<Digest, Violation> {
    let model = model_of(event)?;
    let Body::ReviewRecorded(r) = &event.body else {
        return Err(Violation::new(Rule::NotARecord, "not a review"));
    };
    let r: &ReviewRecorded = r;
    if key != model_key(model) {
        return Err(Violation::new(
            Rule::WrongKey,
            format!("a review of model {model} sits under key `{key}`"),
        ));
    }
    envelope(event, model, r.reviewed_at)?;
    let body = vouch_chain::review_body(model, r);
    signature(verifier.verify(&r.signer, &body, &r.signature))?;
    let hash = vouch_chain::record_hash(&body, &r.signature);
    let trusted = trust.authorize(&r.signer, Role::Reviewer, r.reviewed_at)?;
    if trusted.name != r.reviewer {
        return Err(Violation::new(
            Rule::ReviewerName,
            format!(
                "review signed as `{}` by key {}, which the trust list names `{}`",
                r.reviewer,
                vouch_chain::key_id(&r.signer),
                trusted.name
            ),
        ));
    }
    let Some(target) = target else {
        return Err(Violation::new(
            Rule::UnknownDecision,
            format!(
                "review of decision {}, which the chain does not hold",
                r.decision
            ),
        ));
    };
    if target.hash != r.decision || target.model != model {
        return Err(Violation::new(
            Rule::UnknownDecision,
            format!(
                "review of decision {} of model {model}, but the decision looked up is {} of model {}",
                r.decision, target.hash, target.model
            ),
        ));
    }
    if target.outcome != DecisionOutcome::NeedsReview {
        return Err(Violation::new(
            Rule::NotPending,
            format!(
                "decision {} is {}, not waiting for review",
                target.index,
                target.outcome.as_str()
            ),
        ));
    }
    if target.resolved {
        return Err(Violation::new(
            Rule::AlreadyResolved,
            format!("decision {} was already resolved", target.index),
        ));
    }
    if target.signer == r.signer {
        return Err(Violation::new(
            Rule::SeparationOfDuties,
            format!(
                "key {} signed decision {} and cannot review it",
                vouch_chain::key_id(&r.signer),
                target.index
            ),
        ));
    }
    if target
        .reviews
        .iter()
        .any(|earlier| earlier.signer == r.signer)
    {
        return Err(Violation::new(
            Rule::SeparationOfDuties,
            format!(
                "key {} ({}) already reviewed decision {}",
                vouch_chain::key_id(&r.signer),
                trusted.name,
                target.index
            ),
        ));
    }
    Ok(hash)
}

/// Judges a deployment. On success returns its hash. `promoting` is the accepted decision
/// the deployment names, if the chain holds it.
///
/// # Errors
/// The first rule it breaks.
pub fn judge_deployment(
    event: &Event,
    key: &str,
    promoting: Option<DecisionFacts<'_>>,
    trust: &Trust,
    verifier: &mut Verifier,
) -> Result<Digest, Violation> {
    let model = model_of(event)?;
    let d: &DeploymentSigned = match &event.body {
        Body::DeploymentSigned(d) => d,
        Body::DeploymentRecorded(_) => {
            return Err(Violation::new(
                Rule::Unsigned,
                "an unsigned deployment record (written before deployments were signed): anyone with write access could have written it",
            ))
        }
        _ => return Err(Violation::new(Rule::NotARecord, "not a deployment")),
    };
    if key != model_key(model) {
        return Err(Violation::new(
            Rule::WrongKey,
            format!("a deployment of model {model} sits under key `{key}`"),
        ));
    }
    envelope(event, model, d.deployed_at)?;
    let body = vouch_chain::deployment_body(model, d);
    signature(verifier.verify(&d.signer, &body, &d.signature))?;
    let hash = vouch_chain::record_hash(&body, &d.signature);
    trust.authorize_deployment(&d.signer, d.deployed_at)?;
    if d.forced {
        return Ok(hash);
    }
    let Some(decision) = d.decision else {
        return Err(Violation::new(
            Rule::DeploymentUnpromoted,
            format!(
                "deployment of {} names no decision and is not forced",
                d.artifact
            ),
        ));
    };
    match promoting {
        Some(p)
            if p.hash == decision
                && p.model == model
                && p.outcome == DecisionOutcome::Promoted
                && p.artifacts.contains(&d.artifact) =>
        {
            Ok(hash)
        }
        Some(p) if p.hash == decision => Err(Violation::new(
            Rule::DeploymentUnpromoted,
            format!(
                "deployment of {} to {} cites decision {}, which {} {} for model {}",
                d.artifact,
                d.env,
                p.index,
                p.outcome.as_str(),
                if p.artifacts.contains(&d.artifact) {
                    "that artifact"
                } else {
                    "other artifacts"
                },
                p.model
            ),
        )),
        _ => Err(Violation::new(
            Rule::DeploymentUnpromoted,
            format!(
                "deployment of {} cites decision {decision}, which the chain does not hold",
                d.artifact
            ),
        )),
    }
}
