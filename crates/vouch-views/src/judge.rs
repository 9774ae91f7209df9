//! How the views put a release record to the rule book: what they know of the chain (its
//! head, the decisions a record names and their reviews) and of the log (the bytes a
//! decision cites) becomes the rule book's case. The projector judges every record this
//! way as it applies it; a writer judges the record it is about to append the same way
//! ([`Views::judge_next`]), so nothing the projector would refuse is ever written by Vouch.

use vouch_event::{Body, Digest, Event};
use vouch_log::{Log, Position};
use vouch_rules::{DecisionFacts, ReviewFacts, Tip, Trust, Violation};

use crate::{DecisionEntry, ProjectError, ReviewEntry, Views};

/// What the views hold of the chain: the projector's batch (with its pending writes) or
/// the stored views.
pub(crate) trait ChainState {
    /// The last accepted decision.
    fn head(&mut self) -> Result<Option<Tip>, ProjectError>;
    /// The accepted decision with this hash, with its reviews.
    fn decision(&mut self, hash: &Digest) -> Result<Option<DecisionEntry>, ProjectError>;
    /// The root of the tree over the log's first `size` records, `None` beyond the
    /// records the tree covers (what a layout-2 decision's log pin is checked against).
    fn log_root(&mut self, size: u64) -> Result<Option<[u8; 32]>, ProjectError>;
}

/// The root of `tree` at `size`, if it covers that many records.
pub(crate) fn root_of(
    tree: &vouch_tlog::tree::Tree<crate::SledNodes<'_>>,
    size: u64,
) -> Result<Option<[u8; 32]>, ProjectError> {
    if size > tree.size() {
        return Ok(None);
    }
    Ok(Some(tree.root_at(size).map_err(crate::tlog::tree_error)?.0))
}

/// Judges a decision, review or deployment of `model` at `position` under `trust`.
/// The outer error is a failure to read; the inner one the rule the record breaks.
pub(crate) fn judge_release(
    state: &mut dyn ChainState,
    log: &dyn Log,
    event: &Event,
    key: &str,
    position: u64,
    trust: &Trust,
    verifier: &mut vouch_chain::Verifier,
) -> Result<Result<Digest, Violation>, ProjectError> {
    Ok(match &event.body {
        Body::DecisionRecorded(d) => {
            let head = state.head()?;
            let evidence = digests_at(log, &d.evidence)?;
            let policy = event_at(log, d.policy_position)?;
            // The decision a resolution names, with its full record from the log.
            let target = match &d.review {
                Some(link) => state.decision(&link.decision)?,
                None => None,
            };
            let target_record = match &target {
                Some(entry) => match event_at(log, entry.position)? {
                    Some(Event {
                        body: Body::DecisionRecorded(r),
                        ..
                    }) => Some(*r),
                    _ => None,
                },
                None => None,
            };
            // The root of the prefix a layout-2 decision pins, from the tree over the log
            // (grown over the whole batch before a batch holding chain records is applied).
            let log_root = match &d.log {
                Some(pin) if pin.size == d.evaluated_at && pin.size < position => {
                    state.log_root(pin.size)?
                }
                _ => None,
            };
            let reviews = review_facts(target.as_ref());
            let resolves = match (&target, &target_record) {
                (Some(t), Some(r)) => Some((decision_facts(t, &reviews), r)),
                _ => None,
            };
            let case = vouch_rules::DecisionCase {
                event,
                key,
                position,
                head,
                evidence: &evidence,
                policy: policy.as_ref(),
                resolves,
                log_root,
            };
            vouch_rules::judge_decision(&case, trust, verifier)
        }
        Body::ReviewRecorded(r) => {
            let target = state.decision(&r.decision)?;
            let reviews = review_facts(target.as_ref());
            let facts = target.as_ref().map(|t| decision_facts(t, &reviews));
            vouch_rules::judge_review(event, key, facts, trust, verifier)
        }
        Body::DeploymentRecorded(_) | Body::DeploymentSigned(_) => {
            let promoting = match &event.body {
                Body::DeploymentSigned(b) => match b.decision {
                    Some(hash) => state.decision(&hash)?,
                    None => None,
                },
                _ => None,
            };
            let facts = promoting.as_ref().map(|t| decision_facts(t, &[]));
            vouch_rules::judge_deployment(event, key, facts, trust, verifier)
        }
        _ => Err(Violation::new(
            vouch_rules::Rule::NotARecord,
            format!("a {} record is not a release record", event.kind()),
        )),
    })
}

/// The stored views, read only.
struct Stored<'v>(&'v Views);

impl ChainState for Stored<'_> {
    fn head(&mut self) -> Result<Option<Tip>, ProjectError> {
        Ok(self.0.chain_head()?.map(|h| Tip {
            index: h.index,
            hash: h.hash,
            decided_at: h.decided_at,
        }))
    }

    fn decision(&mut self, hash: &Digest) -> Result<Option<DecisionEntry>, ProjectError> {
        Ok(self.0.decision_by_hash(hash)?)
    }

    fn log_root(&mut self, size: u64) -> Result<Option<[u8; 32]>, ProjectError> {
        root_of(&self.0.log_tree()?, size)
    }
}

impl Views {
    /// Judges `event`, a release record about to be appended under `key`, as the
    /// projector will when it applies it right after the views' position: the writer's
    /// check before it writes. The views must be caught up with `log`.
    ///
    /// # Errors
    /// The outer error when the views or the log cannot be read; the inner one names the
    /// rule the record would break.
    pub fn judge_next(
        &self,
        log: &dyn Log,
        trust: &Trust,
        key: &str,
        event: &Event,
    ) -> Result<Result<Digest, Violation>, ProjectError> {
        let position = self.position()?.get() + 1;
        let mut verifier = vouch_chain::Verifier::default();
        judge_release(
            &mut Stored(self),
            log,
            event,
            key,
            position,
            trust,
            &mut verifier,
        )
    }
}

fn review_facts(target: Option<&DecisionEntry>) -> Vec<ReviewFacts> {
    target
        .iter()
        .flat_map(|t| &t.reviews)
        .map(|r: &ReviewEntry| ReviewFacts {
            hash: r.hash,
            position: r.position,
            verdict: r.verdict,
            signer: r.signer_key,
        })
        .collect()
}

fn decision_facts<'a>(d: &'a DecisionEntry, reviews: &'a [ReviewFacts]) -> DecisionFacts<'a> {
    DecisionFacts {
        model: &d.model,
        hash: d.hash,
        index: d.index,
        outcome: d.outcome,
        artifacts: &d.artifacts,
        signer: d.signer_key,
        resolved: d.resolved_by.is_some(),
        reviews,
    }
}

/// The digests of the log's records at `positions`, `None` where the log has none.
fn digests_at(log: &dyn Log, positions: &[u64]) -> Result<Vec<Option<Digest>>, ProjectError> {
    let mut out = Vec::with_capacity(positions.len());
    let mut i = 0;
    while i < positions.len() {
        let mut j = i + 1;
        while j < positions.len() && positions[j] == positions[j - 1] + 1 {
            j += 1;
        }
        let records = if positions[i] == 0 {
            Vec::new()
        } else {
            log.read(Position::new(positions[i]), j - i)?
        };
        for &p in &positions[i..j] {
            out.push(
                records
                    .iter()
                    .find(|r| r.position.get() == p)
                    .map(|r| vouch_event::event_digest(&r.bytes)),
            );
        }
        i = j;
    }
    Ok(out)
}

/// The decoded event at `position`, if the log has one there that decodes.
fn event_at(log: &dyn Log, position: u64) -> Result<Option<Event>, ProjectError> {
    if position == 0 {
        return Ok(None);
    }
    let records = log.read(Position::new(position), 1)?;
    Ok(records
        .first()
        .filter(|r| r.position.get() == position)
        .and_then(|r| vouch_event::decode(&r.bytes).ok()))
}
