//! Release records on a ledger: policies, signed decisions appended to the one chain,
//! reviews, deployments; and checking them: `verify` (the whole chain) and `audit` (one
//! artifact, back to its evidence).

use vouch_chain::SigningKey;
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, DeploymentSigned, Digest, Event, EventId, GateRecord,
    Kind, LogPin, ModelName, PolicyPublished, Producer, PublicKeyBytes, ReviewLink, ReviewRecorded,
    ReviewVerdict, RunId, SignatureBytes, Subject, Timestamp,
};
use vouch_log::{ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
use vouch_rules::{DecisionCase, DecisionFacts, Judged, ReviewFacts, Tip, Walk};
use vouch_views::{DecisionEntry, DeploymentEntry, ProjectError, ViewsError};

use crate::trust::{Role, Trust};
use crate::Ledger;

/// The log key every decision is appended under: one chain for the whole ledger.
pub fn chain_key() -> LogKey {
    LogKey::new("chain").expect("valid key")
}

/// A release operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// Projecting failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A record in the log does not decode or is not what its place says.
    #[error("the log record at position {position} is not a valid release record: {reason}")]
    Corrupt {
        /// Where.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The rule book refuses the record (or the key that would sign it).
    #[error("refused by the rule book: {0}")]
    Violation(vouch_rules::Violation),
    /// The record was appended but the projector refused it (a concurrent change).
    #[error("the release record {hash} at position {position} was appended but refused: {reason}")]
    Rejected {
        /// Where.
        position: u64,
        /// Its hash.
        hash: Digest,
        /// The projector's quarantine reason.
        reason: String,
    },
    /// Other writers kept extending the chain.
    #[error("the decision chain kept moving: gave up after {0} attempts")]
    ChainBusy(u32),
    /// The request names something the ledger does not have, or contradicts it.
    #[error("{0}")]
    Refused(String),
}

/// What a decision says, before it is placed on the chain and signed.
#[derive(Debug, Clone)]
pub struct DecisionDraft {
    /// The model.
    pub model: ModelName,
    /// The candidate run.
    pub run: RunId,
    /// The production run compared against.
    pub baseline: Option<RunId>,
    /// The artifacts it concerns.
    pub artifacts: Vec<Digest>,
    /// Digest, version and log position of the policy.
    pub policy: Digest,
    /// See `policy`.
    pub policy_version: String,
    /// See `policy`.
    pub policy_position: u64,
    /// The log position the evidence was read at.
    pub evaluated_at: u64,
    /// Positions of every event read, ascending.
    pub evidence: Vec<u64>,
    /// Their digest.
    pub evidence_digest: Digest,
    /// Gate results.
    pub gates: Vec<GateRecord>,
    /// The outcome.
    pub outcome: DecisionOutcome,
    /// The review it resolves.
    pub review: Option<ReviewLink>,
    /// When.
    pub decided_at: Timestamp,
}

/// A decision now on the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Recorded {
    /// Chain index.
    pub index: u64,
    /// Record hash: the decision id.
    pub hash: Digest,
    /// Log position.
    pub position: u64,
}

/// A record that does not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Log position of the record.
    pub position: u64,
    /// Its chain index, for a decision.
    pub index: Option<u64>,
    /// The rule it broke; none for a damaged or gapped log.
    pub rule: Option<vouch_rules::Rule>,
    /// What is wrong.
    pub reason: String,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Log records read.
    pub records: u64,
    /// Decisions checked.
    pub decisions: u64,
    /// Reviews checked.
    pub reviews: u64,
    /// Deployments checked.
    pub deployments: u64,
    /// Signatures checked.
    pub signatures: u64,
    /// The first failure; none when everything verified.
    pub failure: Option<Failure>,
    /// Every release record the rule book refused, in log order.
    pub refused: Vec<Failure>,
    /// The tree over the log recomputed from the records read, against the views' tree
    /// (`Ledger::verify` only; none when verifying a bare log).
    pub tree: Option<crate::tree::TreeVerdict>,
}

/// One check `audit` made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

/// Everything `audit` reports about one artifact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditReport {
    /// The artifact.
    pub artifact: Digest,
    /// Its deployments.
    pub deployments: Vec<DeploymentEntry>,
    /// The decision that promoted it (the latest, when several did).
    pub decision: Option<DecisionEntry>,
    /// That decision's full record.
    pub record: Option<DecisionRecorded>,
    /// The needs-review decision it resolved, with its reviews.
    pub reviewed: Option<DecisionEntry>,
    /// The policy's text.
    pub policy_text: Option<String>,
    /// The candidate run as of now.
    pub run: Option<vouch_views::RunDoc>,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl AuditReport {
    /// Whether the artifact was promoted and every check held.
    pub fn ok(&self) -> bool {
        self.decision.is_some() && self.checks.iter().all(|c| c.ok)
    }
}

/// A decision judged again against the log ([`Ledger::judge_decision`]).
#[derive(Debug, Clone)]
pub struct DecisionJudged {
    /// The decision's record, read from the log.
    pub record: DecisionRecorded,
    /// Its hash when the rule book accepts it, else the first rule it breaks.
    pub verdict: Result<Digest, vouch_rules::Violation>,
    /// The decision after it, if any, and whether it names this one as previous.
    pub next: Option<(u64, bool)>,
    /// The needs-review decision it resolves, with its reviews.
    pub reviewed: Option<DecisionEntry>,
    /// The decoded record at its policy position, if the log has one that decodes.
    pub policy: Option<Event>,
}

fn corrupt(position: u64, reason: impl Into<String>) -> ReleaseError {
    ReleaseError::Corrupt {
        position,
        reason: reason.into(),
    }
}

/// Decodes a log record into an event; a record that does not decode is corrupt.
fn decode(record: &Record) -> Result<Event, ReleaseError> {
    vouch_event::decode(&record.bytes).map_err(|e| corrupt(record.position.get(), e.to_string()))
}

fn model_of(event: &Event, position: u64) -> Result<&ModelName, ReleaseError> {
    match &event.subject {
        Subject::Model(m) => Ok(m),
        Subject::Run(_) | Subject::Experiment(_) => {
            Err(corrupt(position, "a release record must concern a model"))
        }
    }
}

impl Ledger {
    /// The log record for a release record Vouch is about to append, once the rule book
    /// has judged it as the projector will on the views caught up to now: a writer never
    /// appends what the projector would refuse. (A record another writer appends first
    /// can still change the verdict; [`Ledger::accepted`] reports that after the append.)
    fn judged_record(&mut self, event: &Event, key: LogKey) -> Result<NewRecord, ReleaseError> {
        self.catch_up(&mut |_, _| {})?;
        self.judged_here(event, key)
    }

    /// [`Ledger::judged_record`] on the views as they stand, without catching up: for
    /// [`Ledger::record_decision`], which drafted and linked the record on exactly these
    /// views and lets its conditional append catch a chain that moved since.
    fn judged_here(&self, event: &Event, key: LogKey) -> Result<NewRecord, ReleaseError> {
        event.check().map_err(ReleaseError::Refused)?;
        self.views()
            .judge_next(self.log(), self.trust(), key.as_str(), event)?
            .map_err(ReleaseError::Violation)?;
        // The one size check every stored event passes (a decision citing a huge
        // evidence list must not reach a stream that would refuse it).
        let bytes = vouch_event::encode_checked(event).map_err(|e| {
            ReleaseError::Log(LogError::TooLarge {
                event_id: e.event_id,
                size: e.size,
                limit: e.limit,
            })
        })?;
        Ok(NewRecord {
            event_id: event.id.to_string(),
            key,
            bytes,
        })
    }

    /// Reads the records at `positions` (ascending), reading each run of consecutive
    /// positions once.
    ///
    /// # Errors
    /// When the log fails or a position is missing.
    pub fn read_positions(&self, positions: &[u64]) -> Result<Vec<Record>, ReleaseError> {
        let mut out = Vec::with_capacity(positions.len());
        let mut i = 0;
        while i < positions.len() {
            let mut j = i + 1;
            while j < positions.len() && positions[j] == positions[j - 1] + 1 {
                j += 1;
            }
            let records = self.log().read(Position::new(positions[i]), j - i)?;
            if records.len() != j - i
                || records.first().map(|r| r.position.get()) != Some(positions[i])
            {
                return Err(corrupt(
                    positions[i],
                    "the log has no record at this position",
                ));
            }
            out.extend(records);
            i = j;
        }
        Ok(out)
    }

    /// Records `text` as the policy for `model` (once: the same text again returns the
    /// first record's position). Returns its position and digest.
    ///
    /// # Errors
    /// When the log fails.
    pub fn publish_policy(
        &mut self,
        model: &ModelName,
        version: &str,
        text: &str,
        time: Timestamp,
        producer: &Producer,
    ) -> Result<(u64, Digest), ReleaseError> {
        let digest = Digest::of(text.as_bytes());
        if let Some(entry) = self.views().policy(&digest)? {
            return Ok((entry.position, digest));
        }
        let event = Event {
            id: EventId::new(format!("policy:{model}:{}", digest.hex())).expect("valid id"),
            time,
            producer: producer.clone(),
            subject: Subject::Model(model.clone()),
            body: Body::PolicyPublished(PolicyPublished {
                version: version.to_owned(),
                digest,
                text: text.to_owned(),
            }),
        };
        event.check().map_err(ReleaseError::Refused)?;
        match self.append(std::slice::from_ref(&event)) {
            Ok(appended) => Ok((appended[0].position().get(), digest)),
            // Another writer recorded the same policy text first (its envelope differs:
            // another time or producer). The id names the text's digest, so the stored
            // record is this policy if it publishes the same digest for the same model.
            Err(crate::AppendError::Log(
                LogError::IdConflict { event_id, position }
                | LogError::ContentConflict {
                    event_id, position, ..
                },
            )) => {
                let stored = self.log().read(position, 1)?;
                let same = stored
                    .first()
                    .and_then(|r| vouch_event::decode(&r.bytes).ok())
                    .is_some_and(|e| {
                        e.subject == event.subject
                            && matches!(&e.body, Body::PolicyPublished(p) if p.digest == digest)
                    });
                if !same {
                    return Err(ReleaseError::Log(LogError::IdConflict {
                        event_id,
                        position,
                    }));
                }
                self.catch_up(&mut |_, _| {})?;
                Ok((position.get(), digest))
            }
            Err(crate::AppendError::Log(e)) => Err(ReleaseError::Log(e)),
            Err(crate::AppendError::Project(e)) => Err(ReleaseError::Project(e)),
        }
    }

    /// The positions of every event of `runs` (and `extra`), ascending, and their evidence
    /// digest over the exact log bytes.
    ///
    /// # Errors
    /// When the views or the log fail.
    pub fn evidence(
        &self,
        runs: &[&RunId],
        extra: &[u64],
    ) -> Result<(Vec<u64>, Digest), ReleaseError> {
        let mut positions: Vec<u64> = extra.to_vec();
        for run in runs {
            positions.extend(self.views().run_positions(run)?);
        }
        positions.sort_unstable();
        positions.dedup();
        let records = self.read_positions(&positions)?;
        let digests: Vec<Digest> = records
            .iter()
            .map(|r| vouch_event::event_digest(&r.bytes))
            .collect();
        let digest = vouch_chain::evidence_digest(positions.iter().copied().zip(digests.iter()));
        Ok((positions, digest))
    }

    /// Records the next decision of the one chain as one transaction: brings the views up
    /// to the log, has `draft` evaluate on them (so the evidence digested is exactly the
    /// evidence evaluated, and the baseline is the production version at this chain
    /// position), signs the next link after the last decision the rule book accepted, and
    /// appends it conditionally on the last record under the chain key. When another
    /// writer got there first, it starts again from the top: caught up, evaluated again,
    /// signed again. It reports success only once the projector has accepted the record.
    ///
    /// # Errors
    /// When `key` may not sign decisions, `draft` refuses, the rule book refuses the
    /// record, the log fails, or the chain keeps moving for 1,000 attempts.
    pub fn record_decision(
        &mut self,
        key: &SigningKey,
        time: Timestamp,
        draft: &mut dyn FnMut(&Ledger) -> Result<DecisionDraft, ReleaseError>,
    ) -> Result<Recorded, ReleaseError> {
        const ATTEMPTS: u32 = 1000;
        self.trust
            .authorize(&key.public(), Role::Signer, time)
            .map_err(ReleaseError::Violation)?;
        for _ in 0..ATTEMPTS {
            self.catch_up(&mut |_, _| {})?;
            // The conditional append names the last record under the chain key, whatever
            // it is (junk included); the link names the last decision the rule book took.
            let tail = self.log().last_for_key(&chain_key())?;
            if tail.is_some_and(|t| t > self.views().position().unwrap_or_default()) {
                continue;
            }
            let draft = draft(self)?;
            let head = self.views().chain_head()?;
            let log = self.log_pin(draft.evaluated_at, draft.review.as_ref())?;
            let mut d = DecisionRecorded {
                index: head.map_or(0, |h| h.index + 1),
                prev: head.map(|h| h.hash),
                run: draft.run,
                baseline: draft.baseline,
                artifacts: draft.artifacts,
                policy: draft.policy,
                policy_version: draft.policy_version,
                policy_position: draft.policy_position,
                evaluated_at: draft.evaluated_at,
                evidence: draft.evidence,
                evidence_digest: draft.evidence_digest,
                gates: draft.gates,
                outcome: draft.outcome,
                review: draft.review,
                decided_at: time,
                signer: PublicKeyBytes([0; 32]),
                signature: SignatureBytes([0; 64]),
                log,
            };
            vouch_chain::sign_decision(&draft.model, &mut d, key);
            let hash = vouch_chain::decision_hash(&draft.model, &d);
            let index = d.index;
            let event = Event {
                id: EventId::new(format!("decision:{}", hash.hex())).expect("valid id"),
                time,
                producer: release_producer(),
                subject: Subject::Model(draft.model.clone()),
                body: Body::DecisionRecorded(Box::new(d)),
            };
            // Judged on the views the draft and the link were made on. Catching up here
            // could take in another writer's decision and refuse this one as a fork (its
            // index is taken) instead of starting again; the conditional append below
            // answers a chain that moved with a conflict, and the loop starts again.
            let record = self.judged_here(&event, chain_key())?;
            self.room_to_write()?;
            match self.log().append_if(record, tail)? {
                ConditionalAppend::Appended(appended) => {
                    let position = appended.position().get();
                    self.accepted(position, &hash)?;
                    return Ok(Recorded {
                        index,
                        hash,
                        position,
                    });
                }
                ConditionalAppend::Conflict { .. } => continue,
            }
        }
        Err(ReleaseError::ChainBusy(ATTEMPTS))
    }

    /// The log pin of a decision evaluated at `evaluated_at`: the size and the root of the
    /// views' tree over the log at that size (the views are caught up past it, as the
    /// draft was evaluated on them). A resolution (`review`) copies the pin of the
    /// decision it resolves instead, as the rule book requires it to carry the same one,
    /// which keeps a resolution of a layout-1 decision in layout 1.
    fn log_pin(
        &self,
        evaluated_at: u64,
        review: Option<&ReviewLink>,
    ) -> Result<Option<LogPin>, ReleaseError> {
        if let Some(link) = review {
            if let Some(entry) = self.views().decision_by_hash(&link.decision)? {
                return Ok(self.decision_record(&entry)?.log);
            }
        }
        let root = self.root_at(evaluated_at).map_err(proof_error)?;
        Ok(Some(LogPin {
            size: evaluated_at,
            root: root.0,
        }))
    }

    /// Flushes, projects, and checks that the projector accepted the release record just
    /// appended at `position`: a writer never reports success for a record the rule book
    /// refuses.
    fn accepted(&mut self, position: u64, hash: &Digest) -> Result<(), ReleaseError> {
        self.flush()?;
        self.catch_up(&mut |_, _| {})?;
        let quarantined = self.views().quarantine(Position::new(position), 1)?;
        match quarantined.into_iter().find(|q| q.position == position) {
            Some(q) => Err(ReleaseError::Rejected {
                position,
                hash: *hash,
                reason: q.reason,
            }),
            None => Ok(()),
        }
    }

    /// Finds a decision by hash, hash prefix (at least 8 hex characters) or chain index.
    ///
    /// # Errors
    /// When nothing or more than one decision matches.
    pub fn find_decision(&self, id: &str) -> Result<DecisionEntry, ReleaseError> {
        let id = id.strip_prefix("blake3:").unwrap_or(id);
        if let Ok(index) = id.parse::<u64>() {
            if id.len() < 8 {
                return self.views().decision(index)?.ok_or_else(|| {
                    ReleaseError::Refused(format!("no decision with chain index {index}"))
                });
            }
        }
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReleaseError::Refused(format!(
                "`{id}` is not a decision id: give its hash (at least 8 hex characters) or its chain index"
            )));
        }
        let mut found = self
            .views()
            .decisions_by_hash_prefix(&id.to_ascii_lowercase(), 2)?;
        match found.len() {
            0 => Err(ReleaseError::Refused(format!("no decision with id {id}"))),
            1 => Ok(found.remove(0)),
            _ => Err(ReleaseError::Refused(format!(
                "decision id {id} is ambiguous: give more characters"
            ))),
        }
    }

    /// The full record of a decision, read from the log.
    ///
    /// # Errors
    /// When the log fails or the record is not a decision.
    pub fn decision_record(&self, entry: &DecisionEntry) -> Result<DecisionRecorded, ReleaseError> {
        let record = self.read_positions(&[entry.position])?.remove(0);
        match decode(&record)?.body {
            Body::DecisionRecorded(d) => Ok(*d),
            _ => Err(corrupt(entry.position, "expected a decision")),
        }
    }

    /// Records a signed review of a decision waiting for review. The reviewer's name is
    /// the name the trust list gives the key. The review does not resolve the decision by
    /// itself: a release identity enacts it ([`Ledger::enact_review`]) once the reviews
    /// decide it. Returns the review's hash and position.
    ///
    /// Drafting, signing and appending are three steps ([`Ledger::draft_review`],
    /// [`sign_draft`], [`Ledger::append_signed`]) so that a reviewer on another machine
    /// (`vouch --server`) signs with a key that never leaves it; this is the three in a row.
    ///
    /// # Errors
    /// When the key may not review, the decision is unknown, not waiting, already
    /// resolved or already reviewed by this key, the rule book refuses the review, or the
    /// log fails.
    pub fn record_review(
        &mut self,
        decision: &str,
        verdict: ReviewVerdict,
        reason: &str,
        key: &SigningKey,
        time: Timestamp,
    ) -> Result<(Digest, u64), ReleaseError> {
        let (draft, _) = self.draft_review(decision, verdict, reason, &key.public(), time)?;
        self.append_signed(&sign_draft(draft, key)?)
    }

    /// Drafts the review `signer` would sign: the decision it cites, the reviewer's name
    /// the trust list gives the key, the verdict, reason and time; unsigned. Returns the
    /// draft (a `review_recorded` event with a zero signature, for [`sign_draft`]) and the
    /// decision reviewed.
    ///
    /// # Errors
    /// When the key may not review at `time`, or the decision is unknown, not waiting or
    /// already resolved.
    pub fn draft_review(
        &mut self,
        decision: &str,
        verdict: ReviewVerdict,
        reason: &str,
        signer: &PublicKeyBytes,
        time: Timestamp,
    ) -> Result<(Event, DecisionEntry), ReleaseError> {
        let reviewer = self
            .trust
            .authorize(signer, Role::Reviewer, time)
            .map_err(ReleaseError::Violation)?
            .name
            .clone();
        let target = self.find_decision(decision)?;
        pending(&target)?;
        let review = ReviewRecorded {
            decision: target.hash,
            verdict,
            reviewer,
            reason: reason.to_owned(),
            reviewed_at: time,
            signer: *signer,
            signature: SignatureBytes([0; 64]),
        };
        let draft = release_event(
            &target.model,
            "review:draft",
            time,
            Body::ReviewRecorded(Box::new(review)),
        );
        Ok((draft, target))
    }

    /// Appends a signed review or deployment (made by [`sign_draft`], here or on the
    /// signer's machine) once the rule book accepts it on the views caught up to now, as
    /// the projector will judge it; reports success only once the projector accepted it.
    /// The one path by which reviews and deployments are written, locally and over HTTP.
    /// Returns the record's hash and position.
    ///
    /// # Errors
    /// When the event is not a review or deployment about a model, the rule book refuses
    /// it, the projector quarantined it, or the log fails.
    pub fn append_signed(&mut self, event: &Event) -> Result<(Digest, u64), ReleaseError> {
        let Subject::Model(model) = &event.subject else {
            return Err(ReleaseError::Refused(
                "a review or deployment must concern a model".into(),
            ));
        };
        let hash = match &event.body {
            Body::ReviewRecorded(r) => vouch_chain::review_hash(model, r),
            Body::DeploymentSigned(d) => vouch_chain::deployment_hash(model, d),
            other => {
                return Err(ReleaseError::Refused(format!(
                    "expected a signed review or deployment, not a `{}` event",
                    other.kind().as_str()
                )))
            }
        };
        let key = LogKey::new(vouch_rules::model_key(model)).expect("valid key");
        let record = self.judged_record(event, key)?;
        self.room_to_write()?;
        let appended = self.log().append(record)?;
        let position = appended.position().get();
        self.accepted(position, &hash)?;
        Ok((hash, position))
    }

    /// Where the reviews of a decision waiting for review stand.
    ///
    /// # Errors
    /// When the decision is unknown or the log fails.
    pub fn review_state(&self, decision: &DecisionEntry) -> Result<ReviewState, ReleaseError> {
        let record = self.decision_record(decision)?;
        let required = self
            .read_positions(&[record.policy_position])
            .ok()
            .and_then(|mut r| decode(&r.remove(0)).ok())
            .and_then(|e| match e.body {
                Body::PolicyPublished(p) => vouch_policy::Policy::parse(&p.text).ok(),
                _ => None,
            })
            .map_or(1, |p| p.approval().reviewers);
        let mut approvers: Vec<&str> = decision
            .reviews
            .iter()
            .filter(|r| r.verdict == ReviewVerdict::Approve)
            .map(|r| r.signer.as_str())
            .collect();
        approvers.sort_unstable();
        approvers.dedup();
        let rejected = decision
            .reviews
            .iter()
            .any(|r| r.verdict == ReviewVerdict::Reject);
        Ok(ReviewState {
            required,
            approvals: approvers.len() as u32,
            rejected,
            resolved_by: decision.resolved_by,
        })
    }

    /// Enacts the reviews of a decision waiting for review: appends the chain record that
    /// promotes its candidate (enough distinct approvals) or rejects it (any rejection),
    /// signed with a release key. It copies the reviewed decision's run, artifacts,
    /// policy, evidence and gates, as the rule book requires.
    ///
    /// # Errors
    /// When the key may not sign decisions, the decision is not waiting, already resolved
    /// or its reviews do not decide it yet, the rule book refuses the record, or the log
    /// fails.
    pub fn enact_review(
        &mut self,
        decision: &str,
        key: &SigningKey,
        time: Timestamp,
    ) -> Result<(DecisionOutcome, Recorded), ReleaseError> {
        let wanted = self.find_decision(decision)?.hash;
        let mut outcome = DecisionOutcome::NeedsReview;
        let recorded = self.record_decision(key, time, &mut |ledger| {
            // Read afresh on every attempt: another machine may have resolved it meanwhile.
            let target = ledger
                .views()
                .decision_by_hash(&wanted)?
                .ok_or_else(|| ReleaseError::Refused(format!("no decision {wanted}")))?;
            pending(&target)?;
            let state = ledger.review_state(&target)?;
            outcome = if state.rejected {
                DecisionOutcome::Rejected
            } else if state.approvals >= state.required {
                DecisionOutcome::Promoted
            } else {
                return Err(ReleaseError::Refused(format!(
                    "decision {} has {} of the {} approvals its policy requires; nothing enacted",
                    target.index, state.approvals, state.required
                )));
            };
            let last = target
                .reviews
                .last()
                .expect("a decided review state has a review");
            let original = ledger.decision_record(&target)?;
            Ok(DecisionDraft {
                model: target.model.clone(),
                run: original.run,
                baseline: original.baseline,
                artifacts: original.artifacts,
                policy: original.policy,
                policy_version: original.policy_version,
                policy_position: original.policy_position,
                evaluated_at: original.evaluated_at,
                evidence: original.evidence,
                evidence_digest: original.evidence_digest,
                gates: original.gates,
                outcome,
                review: Some(ReviewLink {
                    decision: target.hash,
                    review: last.hash,
                    review_position: last.position,
                }),
                decided_at: time,
            })
        })?;
        Ok((outcome, recorded))
    }

    /// Every decision that needed review, oldest first: pending ones and resolved ones.
    ///
    /// # Errors
    /// When the views fail.
    pub fn reviews(&self) -> Result<Vec<(DecisionEntry, ReviewState)>, ReleaseError> {
        let mut out = Vec::new();
        let mut from = 0;
        loop {
            let page = self.views().decisions(from, 1024)?;
            let Some(last) = page.last() else { break };
            from = last.index + 1;
            for d in page {
                if d.outcome == DecisionOutcome::NeedsReview {
                    let state = self.review_state(&d)?;
                    out.push((d, state));
                }
            }
        }
        Ok(out)
    }

    /// Records that `artifact` of `model` was deployed to `env`, signed with `key` (a
    /// deployer or release key). Refuses an artifact no accepted decision promoted for
    /// that model, unless `forced` with a reason (recorded as a forced deployment, which
    /// audit shows); one that awaits review is named as such. Drafting, signing and
    /// appending in a row, as [`Ledger::record_review`].
    ///
    /// # Errors
    /// When refused, or the log fails.
    #[allow(clippy::too_many_arguments)]
    pub fn record_deployment(
        &mut self,
        model: &ModelName,
        env: &str,
        artifact: Digest,
        forced: Option<&str>,
        key: &SigningKey,
        time: Timestamp,
    ) -> Result<(u64, Option<DecisionEntry>), ReleaseError> {
        let (draft, promoting) =
            self.draft_deployment(model, env, artifact, forced, &key.public(), time)?;
        let (_, position) = self.append_signed(&sign_draft(draft, key)?)?;
        Ok((position, promoting))
    }

    /// Drafts the deployment `signer` would sign: citing the latest accepted promotion of
    /// `artifact` for `model`, or forced with a reason; unsigned. Returns the draft (a
    /// `deployment_signed` event with a zero signature, for [`sign_draft`]) and the
    /// promoting decision.
    ///
    /// # Errors
    /// When the key may not deploy at `time`, or the artifact was never promoted (naming
    /// a pending review when there is one) and the deployment is not forced.
    pub fn draft_deployment(
        &mut self,
        model: &ModelName,
        env: &str,
        artifact: Digest,
        forced: Option<&str>,
        signer: &PublicKeyBytes,
        time: Timestamp,
    ) -> Result<(Event, Option<DecisionEntry>), ReleaseError> {
        self.trust
            .authorize_deployment(signer, time)
            .map_err(ReleaseError::Violation)?;
        let mut promoting = None;
        for index in self.views().promotions(&artifact)?.into_iter().rev() {
            if let Some(d) = self.views().decision(index)? {
                if d.model == *model && d.outcome == DecisionOutcome::Promoted {
                    promoting = Some(d);
                    break;
                }
            }
        }
        if promoting.is_none() && forced.is_none() {
            if let Some(waiting) = self.awaiting_review(model, &artifact)? {
                return Err(ReleaseError::Refused(format!(
                    "artifact {artifact} awaits review: decision {} (chain index {}) needs a reviewer's approval; a reviewer runs `vouch review approve --decision {} --key REVIEWER.key --reason TEXT`, then a release key enacts it",
                    waiting.hash.hex(),
                    waiting.index,
                    &waiting.hash.hex()[..12]
                )));
            }
            return Err(ReleaseError::Refused(format!(
                "artifact {artifact} was never promoted for model {model}; deploy it anyway with --force --reason TEXT (recorded as a forced deployment)"
            )));
        }
        let deployment = DeploymentSigned {
            env: env.to_owned(),
            artifact,
            decision: promoting.as_ref().map(|d| d.hash),
            forced: forced.is_some(),
            reason: forced.map(str::to_owned),
            deployed_at: time,
            signer: *signer,
            signature: SignatureBytes([0; 64]),
        };
        let draft = release_event(
            model,
            "deployment:draft",
            time,
            Body::DeploymentSigned(Box::new(deployment)),
        );
        Ok((draft, promoting))
    }

    /// A decision about `model` concerning `artifact` that waits for review, if any.
    fn awaiting_review(
        &self,
        model: &ModelName,
        artifact: &Digest,
    ) -> Result<Option<DecisionEntry>, ReleaseError> {
        let Some(doc) = self.views().model(model)? else {
            return Ok(None);
        };
        for index in doc.decisions.iter().rev() {
            if let Some(d) = self.views().decision(*index)? {
                if d.outcome == DecisionOutcome::NeedsReview
                    && d.resolved_by.is_none()
                    && d.artifacts.contains(artifact)
                {
                    return Ok(Some(d));
                }
            }
        }
        Ok(None)
    }

    /// Checks the whole log with the rule book: no gaps in positions, and every release
    /// record (decision, review, deployment) valid under `trust`. Names every record the
    /// rule book refuses; the first is the failure.
    ///
    /// # Errors
    /// When the log cannot be read at all.
    pub fn verify(
        &self,
        trust: &Trust,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<VerifyReport, ReleaseError> {
        let views_tree = self.views().log_tree()?;
        let mut check = crate::tree::TreeCheck::new(views_tree.store(), views_tree.size());
        let mut report =
            verify_log_with(self.log(), trust, progress, &mut |r| check.leaf(&r.bytes))?;
        report.tree = Some(check.finish(&views_tree, report.records)?);
        Ok(report)
    }
}

/// Refuses a decision that is not waiting for review, or already resolved.
fn pending(target: &DecisionEntry) -> Result<(), ReleaseError> {
    if target.outcome != DecisionOutcome::NeedsReview {
        return Err(ReleaseError::Refused(format!(
            "decision {} ({}) was {}; only a decision waiting for review can be reviewed",
            target.index,
            target.hash,
            target.outcome.as_str()
        )));
    }
    if let Some(by) = target.resolved_by {
        return Err(ReleaseError::Refused(format!(
            "decision {} was already resolved by decision {by}",
            target.index
        )));
    }
    Ok(())
}

/// Where the reviews of a decision that needed review stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ReviewState {
    /// Distinct approvals its policy requires.
    pub required: u32,
    /// Distinct approvals so far.
    pub approvals: u32,
    /// Whether a reviewer rejected it.
    pub rejected: bool,
    /// The decision that resolved it, if any.
    pub resolved_by: Option<u64>,
}

/// [`Ledger::verify`] on any log: `vouch migrate` checks the stream it wrote with it.
///
/// # Errors
/// When the log cannot be read at all.
pub fn verify_log(
    log: &dyn Log,
    trust: &Trust,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, ReleaseError> {
    verify_log_with(log, trust, progress, &mut |_| {})
}

/// [`verify_log`], showing `each` every record read, in log order (`Ledger::verify`
/// recomputes the tree over the log from them).
fn verify_log_with(
    log: &dyn Log,
    trust: &Trust,
    progress: &mut dyn FnMut(u64, u64),
    each: &mut dyn FnMut(&vouch_log::Record),
) -> Result<VerifyReport, ReleaseError> {
    let mut report = VerifyReport::default();
    let end = log.last_position()?.get();
    let mut digests: Vec<Digest> = Vec::with_capacity(usize::try_from(end).unwrap_or(0));
    let mut walk = Walk::new();
    // The tree over the records read so far, for the roots layout-2 decisions pin.
    let mut pins = crate::pins::Pins::new();
    let mut seen_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Every record's event id, by a 64-bit hash (a hit is confirmed against the log):
    // one id, one content, whatever the index or the stream's window let through.
    let mut ids: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let unique = log.ids_unique();
    let mut next = 1u64;
    while next <= end {
        let records = match log.read(Position::new(next), 8192) {
            Ok(records) => records,
            // A record that cannot be read (a gap in a stream's sequence, damaged
            // storage) is a finding, named like any other.
            Err(vouch_log::LogError::Corrupt { position, reason }) => {
                report.failure = Some(Failure {
                    position: position.get(),
                    index: None,
                    rule: None,
                    reason,
                });
                return Ok(report);
            }
            Err(e) => return Err(e.into()),
        };
        if records.is_empty() {
            report.failure = Some(Failure {
                position: next,
                index: None,
                rule: None,
                reason: format!("the log ends at {} but reports {end} records", next - 1),
            });
            return Ok(report);
        }
        for record in records {
            let position = record.position.get();
            if position != next {
                report.failure = Some(Failure {
                    position: next,
                    index: None,
                    rule: None,
                    reason: format!(
                        "gap in the log: position {next} is missing (next record is at {position})"
                    ),
                });
                return Ok(report);
            }
            next += 1;
            report.records += 1;
            each(&record);
            pins.push(&record.bytes);
            digests.push(vouch_event::event_digest(&record.bytes));
            let id_hash = {
                use std::hash::{Hash, Hasher};
                let mut h = std::hash::DefaultHasher::new();
                record.event_id.hash(&mut h);
                h.finish()
            };
            if let Some(&earlier) = ids.get(&id_hash) {
                let same_id = log
                    .read(Position::new(earlier), 1)?
                    .first()
                    .is_some_and(|r| r.event_id == record.event_id);
                let same_content =
                    digests[(earlier - 1) as usize] == digests[(position - 1) as usize];
                if same_id && (unique || !same_content) {
                    let failure = Failure {
                        position,
                        index: None,
                        rule: None,
                        reason: if unique {
                            format!("event id `{}` is stored twice, at positions {earlier} and {position}: the log's deduplication failed", record.event_id)
                        } else {
                            format!("event id `{}` is at position {earlier} and again at {position} with other content; the first stands", record.event_id)
                        },
                    };
                    if unique {
                        report.failure = Some(failure);
                        return Ok(report);
                    }
                    report.refused.push(failure);
                    continue;
                }
            } else {
                ids.insert(id_hash, position);
            }
            let release = record.key == chain_key() || record.key.as_str().starts_with("model.");
            // A windowed log can hold a late retry twice: the first record with an id is
            // the one that counts, as for the projector.
            if release && !record.event_id.is_empty() && !seen_ids.insert(record.event_id.clone()) {
                continue;
            }
            let digest_of = |p: u64| {
                usize::try_from(p)
                    .ok()
                    .and_then(|p| p.checked_sub(1))
                    .and_then(|i| digests.get(i).copied())
                    .filter(|_| p < position)
            };
            // A root the log cannot give (a read failure) stops the verification: it is
            // passed on as an error after the walk, never taken as "no root known".
            let mut root_failure: Option<ReleaseError> = None;
            let mut root_at = |size: u64| match pins
                .root_at(size, |first, count| reread_leaves(log, first, count))
            {
                Ok(root) => root.map(|r| r.0),
                Err(e) => {
                    root_failure = Some(e);
                    None
                }
            };
            let judged = walk.judge(
                position,
                record.key.as_str(),
                &record.event_id,
                &record.bytes,
                trust,
                &digest_of,
                &mut root_at,
            );
            if let Some(e) = root_failure {
                return Err(e);
            }
            match judged {
                Judged::NotRelease => {}
                Judged::Accepted { kind, .. } => {
                    report.signatures += 1;
                    match kind {
                        Kind::DecisionRecorded => report.decisions += 1,
                        Kind::ReviewRecorded => report.reviews += 1,
                        _ => report.deployments += 1,
                    }
                }
                Judged::Refused(v) => {
                    let index =
                        vouch_event::decode(&record.bytes)
                            .ok()
                            .and_then(|e| match e.body {
                                Body::DecisionRecorded(d) => Some(d.index),
                                _ => None,
                            });
                    let failure = Failure {
                        position,
                        index,
                        rule: Some(v.rule),
                        reason: v.detail,
                    };
                    if report.failure.is_none() {
                        report.failure = Some(failure.clone());
                    }
                    report.refused.push(failure);
                }
            }
        }
        progress(next - 1, end);
    }
    Ok(report)
}

/// The leaf hashes of the `count` records from leaf index `first` (position `first + 1`)
/// on, read again from the log for [`crate::pins::Pins::root_at`].
fn reread_leaves(
    log: &dyn Log,
    first: u64,
    count: usize,
) -> Result<Vec<vouch_tlog::tree::Hash>, ReleaseError> {
    let mut leaves = Vec::with_capacity(count);
    let mut next = first + 1;
    while leaves.len() < count {
        let records = log.read(Position::new(next), count - leaves.len())?;
        if records.is_empty() {
            return Err(corrupt(next, "the log no longer holds a record it held"));
        }
        for record in records.into_iter().take(count - leaves.len()) {
            if record.position.get() != next {
                return Err(corrupt(next, "the log no longer holds a record it held"));
            }
            leaves.push(vouch_tlog::tree::leaf_hash(&record.bytes));
            next += 1;
        }
    }
    Ok(leaves)
}

/// A root the views' tree cannot give, as a release error.
fn proof_error(e: crate::ProofError) -> ReleaseError {
    match e {
        crate::ProofError::Views(e) => ReleaseError::Views(e),
        other => ReleaseError::Refused(other.to_string()),
    }
}

impl Ledger {
    /// Everything about one artifact: its deployments, the decision that promoted it, the
    /// policy, reviews, the run and its evidence. The promoting decision, the reviews it
    /// enacts and each deployment are judged again by the rule book against the log's
    /// bytes; the decision after it must link to it.
    ///
    /// # Errors
    /// When the views or the log fail outright (a failed check is reported, not an error).
    pub fn audit(&self, artifact: &Digest, trust: &Trust) -> Result<AuditReport, ReleaseError> {
        let mut report = AuditReport {
            artifact: *artifact,
            deployments: self.views().deployments(artifact)?,
            decision: None,
            record: None,
            reviewed: None,
            policy_text: None,
            run: None,
            checks: Vec::new(),
        };
        let promotions = self.views().promotions(artifact)?;
        let Some(&index) = promotions.last() else {
            report.check(
                "promoted",
                false,
                format!("no accepted decision promoted {artifact}"),
            );
            for d in report.deployments.clone() {
                if d.forced {
                    report.check(
                        "deployment",
                        false,
                        format!(
                            "forced deployment to {} at {}: {}",
                            d.env,
                            d.time,
                            d.reason.as_deref().unwrap_or("")
                        ),
                    );
                }
            }
            return Ok(report);
        };
        let entry = self
            .views()
            .decision(index)?
            .ok_or_else(|| corrupt(0, format!("decision {index} missing from the views")))?;
        let DecisionJudged {
            record: d,
            verdict,
            next,
            reviewed,
            policy: policy_event,
        } = self.judge_decision(&entry, trust)?;
        let signer = trust
            .name_of(&d.signer)
            .map_or_else(|| "an untrusted key".to_owned(), str::to_owned);
        report.check(
            "decision",
            verdict.is_ok(),
            match &verdict {
                Ok(hash) => format!(
                    "decision {} ({hash}) at position {}: valid under the rule book, signed by {signer} (key {}), {} events of evidence match the log",
                    d.index,
                    entry.position,
                    vouch_chain::key_id(&d.signer),
                    d.evidence.len()
                ),
                Err(v) => v.to_string(),
            },
        );
        let hash = verdict.as_ref().map_or(entry.hash, |h| *h);
        if let Some((next, links)) = next {
            report.check(
                "link from next decision",
                links,
                format!("decision {next} names this one as previous"),
            );
        }
        if let Some(Event {
            body: Body::PolicyPublished(p),
            ..
        }) = &policy_event
        {
            report.policy_text = Some(p.text.clone());
        }
        if let (Some(reviewed), Some(_)) = (&reviewed, &d.review) {
            for review in reviewed
                .reviews
                .iter()
                .filter(|r| r.position < entry.position)
            {
                let name = trust
                    .name_of(&review.signer_key)
                    .unwrap_or("an untrusted key");
                report.check(
                    "review",
                    trust
                        .authorize(&review.signer_key, Role::Reviewer, review.reviewed_at)
                        .is_ok(),
                    format!(
                        "{:?} by {name} (key {}) at {}: {}",
                        review.verdict, review.signer, review.reviewed_at, review.reason
                    ),
                );
            }
        }
        report.reviewed = reviewed;
        let mut deployed = false;
        for deployment in report.deployments.clone() {
            let ok = !deployment.forced && deployment.decision == Some(hash);
            deployed |= ok;
            let who = trust
                .name_of(&deployment.signer_key)
                .unwrap_or("an untrusted key");
            report.check(
                "deployment",
                ok || deployment.decision.is_some(),
                format!(
                    "{} to {} at {} by {who}{}",
                    if deployment.forced {
                        "forced deployment"
                    } else {
                        "deployed"
                    },
                    deployment.env,
                    deployment.time,
                    deployment
                        .reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
            );
        }
        if !deployed {
            report.check(
                "deployment",
                false,
                format!(
                    "no signed deployment of {artifact} cites decision {}",
                    d.index
                ),
            );
        }
        report.run = self.views().run(&d.run)?;
        report.decision = Some(entry);
        report.record = Some(d);
        Ok(report)
    }

    /// One decision judged again by the rule book against the log's bytes, as [`Ledger::audit`]
    /// judges the decision that promoted an artifact: its signature and signer's trust,
    /// its link to the decision before it, its evidence digest, policy and outcome; and
    /// whether the decision after it links to it. For any decision (the web UI's decision
    /// page), so every adapter judges with this one path.
    ///
    /// # Errors
    /// When the views or the log fail outright, or the record at the decision's position
    /// is not a decision (a failed rule is reported in the verdict, not an error).
    pub fn judge_decision(
        &self,
        entry: &DecisionEntry,
        trust: &Trust,
    ) -> Result<DecisionJudged, ReleaseError> {
        let record = self.read_positions(&[entry.position])?.remove(0);
        let event = decode(&record)?;
        model_of(&event, entry.position)?;
        let Body::DecisionRecorded(d) = &event.body else {
            return Err(corrupt(entry.position, "expected a decision"));
        };
        let d = (**d).clone();
        // The chain before it, as the views hold it: the head it had to link to.
        let head = match d.index.checked_sub(1) {
            Some(prev) => self.views().decision(prev)?.map(|p| Tip {
                index: p.index,
                hash: p.hash,
                decided_at: p.decided_at,
            }),
            None => None,
        };
        let evidence = self.digests_at(&d.evidence)?;
        // The root of the prefix a layout-2 decision pins, from the views' tree over the
        // log (it covers every record the views projected, this decision's included).
        let log_root = match &d.log {
            Some(pin) if pin.size < entry.position => {
                Some(self.root_at(pin.size).map_err(proof_error)?.0)
            }
            _ => None,
        };
        let policy_event = self
            .read_positions(&[d.policy_position])
            .ok()
            .and_then(|mut r| decode(&r.remove(0)).ok());
        let reviewed = match &d.review {
            Some(link) => self.views().decision_by_hash(&link.decision)?,
            None => None,
        };
        let reviewed_record = match &reviewed {
            Some(r) => Some(self.decision_record(r)?),
            None => None,
        };
        // The reviews as they stood when this decision was appended.
        let review_facts: Vec<ReviewFacts> = reviewed
            .iter()
            .flat_map(|r| &r.reviews)
            .filter(|r| r.position < entry.position)
            .map(|r| ReviewFacts {
                hash: r.hash,
                position: r.position,
                verdict: r.verdict,
                signer: r.signer_key,
            })
            .collect();
        let resolves = match (&reviewed, &reviewed_record) {
            (Some(r), Some(rec)) => Some((
                DecisionFacts {
                    model: &r.model,
                    hash: r.hash,
                    index: r.index,
                    outcome: r.outcome,
                    artifacts: &r.artifacts,
                    signer: r.signer_key,
                    resolved: false,
                    reviews: &review_facts,
                },
                rec,
            )),
            _ => None,
        };
        let case = DecisionCase {
            event: &event,
            key: record.key.as_str(),
            position: entry.position,
            head,
            evidence: &evidence,
            policy: policy_event.as_ref(),
            resolves,
            log_root,
        };
        let mut verifier = vouch_chain::Verifier::default();
        let verdict = vouch_rules::judge_decision(&case, trust, &mut verifier);
        let hash = verdict.as_ref().map_or(entry.hash, |h| *h);
        let next = match self.views().decision(d.index + 1)? {
            Some(next) => Some((next.index, self.decision_record(&next)?.prev == Some(hash))),
            None => None,
        };
        Ok(DecisionJudged {
            record: d,
            verdict,
            next,
            reviewed,
            policy: policy_event,
        })
    }

    /// The digests of the log's records at `positions`, `None` where the log has none.
    fn digests_at(&self, positions: &[u64]) -> Result<Vec<Option<Digest>>, ReleaseError> {
        let mut out = Vec::with_capacity(positions.len());
        for &p in positions {
            let found = if p == 0 {
                None
            } else {
                self.log()
                    .read(Position::new(p), 1)?
                    .into_iter()
                    .find(|r| r.position.get() == p)
                    .map(|r| vouch_event::event_digest(&r.bytes))
            };
            out.push(found);
        }
        Ok(out)
    }
}

impl AuditReport {
    fn check(&mut self, what: &str, ok: bool, detail: String) {
        self.checks.push(Check {
            what: what.to_owned(),
            ok,
            detail,
        });
    }
}

/// Signs a drafted review or deployment ([`Ledger::draft_review`],
/// [`Ledger::draft_deployment`]) with `key`, and gives it the envelope the rule book
/// requires: the event id derived from the signed record's hash, the envelope time equal
/// to the signed time, the release producer. Runs where the key is: no ledger needed.
///
/// # Errors
/// When `draft` is not a review or deployment about a model, or was drafted for another
/// key than `key`.
pub fn sign_draft(draft: Event, key: &SigningKey) -> Result<Event, ReleaseError> {
    let Subject::Model(model) = &draft.subject else {
        return Err(ReleaseError::Refused(
            "a review or deployment must concern a model".into(),
        ));
    };
    let (kind, time, hash, body) = match draft.body {
        Body::ReviewRecorded(mut r) if r.signer == key.public() => {
            vouch_chain::sign_review(model, &mut r, key);
            let hash = vouch_chain::review_hash(model, &r);
            ("review", r.reviewed_at, hash, Body::ReviewRecorded(r))
        }
        Body::DeploymentSigned(mut d) if d.signer == key.public() => {
            vouch_chain::sign_deployment(model, &mut d, key);
            let hash = vouch_chain::deployment_hash(model, &d);
            ("deployment", d.deployed_at, hash, Body::DeploymentSigned(d))
        }
        Body::ReviewRecorded(_) | Body::DeploymentSigned(_) => {
            return Err(ReleaseError::Refused(
                "the draft names another signer than this key".into(),
            ))
        }
        other => {
            return Err(ReleaseError::Refused(format!(
                "expected a review or deployment to sign, not a `{}` event",
                other.kind().as_str()
            )))
        }
    };
    Ok(release_event(
        model,
        &format!("{kind}:{}", hash.hex()),
        time,
        body,
    ))
}

/// A release record's event about `model`.
fn release_event(model: &ModelName, id: &str, time: Timestamp, body: Body) -> Event {
    Event {
        id: EventId::new(id).expect("valid id"),
        time,
        producer: release_producer(),
        subject: Subject::Model(model.clone()),
        body,
    }
}

/// The envelope producer of the release records Vouch writes (the rule book's).
fn release_producer() -> Producer {
    Producer::new(vouch_rules::RELEASE_PRODUCER).expect("a valid producer")
}
