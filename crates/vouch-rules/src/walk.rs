//! A walk over log records in order, in memory: the chain state `verify` and
//! `verify-bundle` carry from record to record, judged by the rule book. The projector
//! keeps the same state in the views instead and calls the same judges.

use std::collections::HashMap;

use vouch_chain::Verifier;
use vouch_event::{Body, DecisionOutcome, DecisionRecorded, Digest, Event, Kind, ModelName};

use crate::judge::{
    judge_decision, judge_deployment, judge_review, DecisionCase, DecisionFacts, ReviewFacts, Tip,
    CHAIN_KEY,
};
use crate::trust::Trust;
use crate::verdict::{Rule, Violation};

/// What the rule book said of one log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    /// Not a release record (evidence, a policy, a live observation, or a model-key record
    /// that does not decode: the projector's quarantine names those).
    NotRelease,
    /// A valid release record.
    Accepted {
        /// Its kind.
        kind: Kind,
        /// Its hash.
        hash: Digest,
        /// Its chain index, for a decision.
        index: Option<u64>,
    },
    /// A release record the rule book refuses.
    Refused(Violation),
}

/// An accepted decision, as the walk remembers it.
#[derive(Debug, Clone)]
pub struct Known {
    /// The model.
    pub model: ModelName,
    /// Chain index.
    pub index: u64,
    /// Log position.
    pub position: u64,
    /// Outcome.
    pub outcome: DecisionOutcome,
    /// Artifacts.
    pub artifacts: Vec<Digest>,
    /// Signer.
    pub signer: vouch_event::PublicKeyBytes,
    /// Resolved by a later decision.
    pub resolved: bool,
    /// Accepted reviews.
    pub reviews: Vec<ReviewFacts>,
    /// The full record, kept while it waits for review.
    pub record: Option<DecisionRecorded>,
}

impl Known {
    fn facts(&self, hash: Digest) -> DecisionFacts<'_> {
        DecisionFacts {
            model: &self.model,
            hash,
            index: self.index,
            outcome: self.outcome,
            artifacts: &self.artifacts,
            signer: self.signer,
            resolved: self.resolved,
            reviews: &self.reviews,
        }
    }
}

/// The chain state of a walk.
#[derive(Default)]
pub struct Walk {
    head: Option<Tip>,
    decisions: HashMap<Digest, Known>,
    policies: HashMap<u64, Event>,
    verifier: Verifier,
}

impl Walk {
    /// A walk from the start of a log.
    pub fn new() -> Self {
        Walk::default()
    }

    /// A walk that starts mid-chain, at a head the caller takes as given (a bundle holds
    /// the chain from one decision on, not the decisions before it).
    pub fn starting_at(head: Option<Tip>) -> Self {
        Walk {
            head,
            ..Walk::default()
        }
    }

    /// The last accepted decision.
    pub fn head(&self) -> Option<Tip> {
        self.head
    }

    /// An accepted decision by hash.
    pub fn decision(&self, hash: &Digest) -> Option<&Known> {
        self.decisions.get(hash)
    }

    /// Judges the record at `position` under `key` with log event id `event_id`, and
    /// moves the state on when it is accepted. `digest_of` gives the digest of the log's
    /// record at a position (the evidence a decision cites), `None` where there is none.
    /// `root_at` gives the RFC 6962 root of the log's first `size` records (what a
    /// layout-2 decision pins), `None` when the caller cannot know it; it is asked only
    /// for a decision's pinned size, which is below `position`.
    #[allow(clippy::too_many_arguments)]
    pub fn judge(
        &mut self,
        position: u64,
        key: &str,
        event_id: &str,
        bytes: &[u8],
        trust: &Trust,
        digest_of: &dyn Fn(u64) -> Option<Digest>,
        root_at: &mut dyn FnMut(u64) -> Option<[u8; 32]>,
    ) -> Judged {
        let on_chain = key == CHAIN_KEY;
        if !on_chain && !key.starts_with("model.") {
            return Judged::NotRelease;
        }
        let event = match vouch_event::decode(bytes) {
            Ok(event) => event,
            // On the chain or a model's subject, where only release records and live
            // observations belong, a record that does not decode is refused.
            Err(e) => {
                return Judged::Refused(Violation::new(
                    Rule::NotARecord,
                    format!("the record under `{key}` does not decode: {e}"),
                ))
            }
        };
        let kind = event.kind();
        let release = matches!(
            kind,
            Kind::DecisionRecorded
                | Kind::ReviewRecorded
                | Kind::DeploymentRecorded
                | Kind::DeploymentSigned
        );
        if !release {
            if on_chain {
                return Judged::Refused(Violation::new(
                    Rule::WrongKey,
                    format!("a {kind} record on the chain"),
                ));
            }
            if let Body::PolicyPublished(_) = &event.body {
                self.policies.insert(position, event);
            }
            return Judged::NotRelease;
        }
        if event.id.as_str() != event_id {
            return Judged::Refused(Violation::new(
                Rule::Envelope,
                format!(
                    "the log record's id `{event_id}` differs from the event's id `{}`",
                    event.id
                ),
            ));
        }
        let verdict = match &event.body {
            Body::DecisionRecorded(d) => {
                let log_root = match &d.log {
                    Some(pin) if pin.size == d.evaluated_at && pin.size < position => {
                        root_at(pin.size)
                    }
                    _ => None,
                };
                self.judge_decision(&event, d, key, position, trust, digest_of, log_root)
            }
            Body::ReviewRecorded(r) => {
                let target = self.decisions.get(&r.decision).map(|k| k.facts(r.decision));
                judge_review(&event, key, target, trust, &mut self.verifier).map(|hash| {
                    let signer = r.signer;
                    let verdict = r.verdict;
                    if let Some(k) = self.decisions.get_mut(&r.decision) {
                        k.reviews.push(ReviewFacts {
                            hash,
                            position,
                            verdict,
                            signer,
                        });
                    }
                    (hash, None)
                })
            }
            _ => {
                let cited = match &event.body {
                    Body::DeploymentSigned(d) => d.decision,
                    _ => None,
                };
                let promoting = cited.and_then(|h| self.decisions.get(&h).map(|k| k.facts(h)));
                judge_deployment(&event, key, promoting, trust, &mut self.verifier)
                    .map(|hash| (hash, None))
            }
        };
        match verdict {
            Ok((hash, index)) => Judged::Accepted { kind, hash, index },
            Err(v) => Judged::Refused(v),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn judge_decision(
        &mut self,
        event: &Event,
        d: &DecisionRecorded,
        key: &str,
        position: u64,
        trust: &Trust,
        digest_of: &dyn Fn(u64) -> Option<Digest>,
        log_root: Option<[u8; 32]>,
    ) -> Result<(Digest, Option<u64>), Violation> {
        let evidence: Vec<Option<Digest>> = d.evidence.iter().map(|&p| digest_of(p)).collect();
        let resolves = d.review.as_ref().and_then(|link| {
            let known = self.decisions.get(&link.decision)?;
            Some((known.facts(link.decision), known.record.as_ref()?))
        });
        let case = DecisionCase {
            event,
            key,
            position,
            head: self.head,
            evidence: &evidence,
            policy: self.policies.get(&d.policy_position),
            resolves,
            log_root,
        };
        let hash = judge_decision(&case, trust, &mut self.verifier)?;
        let model = crate::judge::model_of(event)?.clone();
        if let Some(link) = &d.review {
            if let Some(target) = self.decisions.get_mut(&link.decision) {
                target.resolved = true;
                target.record = None;
            }
        }
        self.head = Some(Tip {
            index: d.index,
            hash,
            decided_at: d.decided_at,
        });
        self.decisions.insert(
            hash,
            Known {
                model,
                index: d.index,
                position,
                outcome: d.outcome,
                artifacts: d.artifacts.clone(),
                signer: d.signer,
                resolved: false,
                reviews: Vec::new(),
                record: (d.outcome == DecisionOutcome::NeedsReview).then(|| d.clone()),
            },
        );
        Ok((hash, Some(d.index)))
    }
}
