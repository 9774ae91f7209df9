//! Release records on a ledger: policies, signed decisions appended to the one chain,
//! reviews, deployments; and checking them: `verify` (the whole chain) and `audit` (one
//! artifact, back to its evidence).

use std::collections::HashMap;

use vouch_chain::SigningKey;
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, DeploymentRecorded, Digest, Event, EventId,
    GateRecord, ModelName, PolicyPublished, Producer, PublicKeyBytes, ReviewLink, ReviewRecorded,
    ReviewVerdict, RunId, SignatureBytes, Subject, Timestamp,
};
use vouch_log::{ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
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

/// The first record that does not verify, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Log position of the record.
    pub position: u64,
    /// Its chain index, for a decision.
    pub index: Option<u64>,
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
    /// Signatures checked.
    pub signatures: u64,
    /// The first failure; none when everything verified.
    pub failure: Option<Failure>,
}

/// One check `audit` made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// Details.
    pub detail: String,
}

/// Everything `audit` reports about one artifact.
#[derive(Debug, Clone, serde::Serialize)]
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

/// What `verify` carries from record to record.
#[derive(Default)]
struct ChainWalk {
    /// Every record's digest so far, by position - 1.
    digests: Vec<Digest>,
    /// The last decision: index and hash.
    head: Option<(u64, Digest)>,
    /// Reviews seen: review hash → (decision reviewed, signer).
    reviews: HashMap<Digest, (Digest, PublicKeyBytes)>,
    /// Signatures of the current batch, checked together.
    jobs: Vec<SignatureJob>,
}

/// A signature to check: the canonical bytes it covers, and where the record is.
struct SignatureJob {
    position: u64,
    index: Option<u64>,
    model: ModelName,
    body: Vec<u8>,
    signer: PublicKeyBytes,
    signature: SignatureBytes,
}

/// Checks signatures on every core; returns the failure with the lowest position.
fn check_signatures(jobs: &[SignatureJob]) -> Option<Failure> {
    let check = |verifier: &mut vouch_chain::Verifier, job: &SignatureJob| {
        verifier
            .verify(&job.signer, &job.body, &job.signature)
            .err()
            .map(|e| Failure {
                position: job.position,
                index: job.index,
                reason: match job.index {
                    Some(_) => e.to_string(),
                    None => format!("review of a {} decision: {e}", job.model),
                },
            })
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if jobs.len() < 64 || threads == 1 {
        let mut verifier = vouch_chain::Verifier::default();
        return jobs.iter().find_map(|job| check(&mut verifier, job));
    }
    let chunk = jobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut verifier = vouch_chain::Verifier::default();
                    part.iter().find_map(|job| check(&mut verifier, job))
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().expect("signature checks do not panic"))
            .min_by_key(|f| f.position)
    })
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
        Subject::Run(_) => Err(corrupt(position, "a release record must concern a model")),
    }
}

fn release_record(event: &Event, key: LogKey) -> NewRecord {
    NewRecord {
        event_id: event.id.to_string(),
        key,
        bytes: vouch_event::encode(event),
    }
}

impl Ledger {
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
        let appended = self
            .append(std::slice::from_ref(&event))
            .map_err(|e| match e {
                crate::AppendError::Log(e) => ReleaseError::Log(e),
                crate::AppendError::Project(e) => ReleaseError::Project(e),
            })?;
        Ok((appended[0].position().get(), digest))
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

    /// The chain head as the log has it: position, index and hash of the last decision.
    fn log_chain_head(&self) -> Result<Option<(Position, u64, Digest)>, ReleaseError> {
        let Some(position) = self.log().last_for_key(&chain_key())? else {
            return Ok(None);
        };
        let record = self.read_positions(&[position.get()])?.remove(0);
        let event = decode(&record)?;
        let model = model_of(&event, position.get())?;
        match &event.body {
            Body::DecisionRecorded(d) => Ok(Some((
                position,
                d.index,
                vouch_chain::decision_hash(model, d),
            ))),
            _ => Err(corrupt(
                position.get(),
                "the chain holds a record that is not a decision",
            )),
        }
    }

    /// Signs `draft` as the next link of the chain and appends it, conditional on the
    /// chain head it read: a concurrent writer makes it re-read and re-sign, so the chain
    /// never forks.
    ///
    /// # Errors
    /// When the log fails, or the chain keeps moving for 1,000 attempts.
    pub fn record_decision(
        &mut self,
        draft: DecisionDraft,
        key: &SigningKey,
        producer: &Producer,
        time: Timestamp,
    ) -> Result<Recorded, ReleaseError> {
        const ATTEMPTS: u32 = 1000;
        for _ in 0..ATTEMPTS {
            let head = self.log_chain_head()?;
            let (expected, index, prev) = match head {
                None => (None, 0, None),
                Some((position, index, hash)) => (Some(position), index + 1, Some(hash)),
            };
            let mut d = DecisionRecorded {
                index,
                prev,
                run: draft.run.clone(),
                baseline: draft.baseline.clone(),
                artifacts: draft.artifacts.clone(),
                policy: draft.policy,
                policy_version: draft.policy_version.clone(),
                policy_position: draft.policy_position,
                evaluated_at: draft.evaluated_at,
                evidence: draft.evidence.clone(),
                evidence_digest: draft.evidence_digest,
                gates: draft.gates.clone(),
                outcome: draft.outcome,
                review: draft.review.clone(),
                decided_at: draft.decided_at,
                signer: PublicKeyBytes([0; 32]),
                signature: SignatureBytes([0; 64]),
            };
            vouch_chain::sign_decision(&draft.model, &mut d, key);
            let hash = vouch_chain::decision_hash(&draft.model, &d);
            let event = Event {
                id: EventId::new(format!("decision:{}", hash.hex())).expect("valid id"),
                time,
                producer: producer.clone(),
                subject: Subject::Model(draft.model.clone()),
                body: Body::DecisionRecorded(Box::new(d)),
            };
            event.check().map_err(ReleaseError::Refused)?;
            match self
                .log()
                .append_if(release_record(&event, chain_key()), expected)?
            {
                ConditionalAppend::Appended(appended) => {
                    self.flush()?;
                    self.catch_up(&mut |_, _| {})?;
                    return Ok(Recorded {
                        index,
                        hash,
                        position: appended.position().get(),
                    });
                }
                ConditionalAppend::Conflict { .. } => continue,
            }
        }
        Err(ReleaseError::ChainBusy(ATTEMPTS))
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

    /// Records a signed review of a needs-review decision and, in the same step, the
    /// chained decision that enacts it (promoted on approval, rejected otherwise), signed
    /// with the reviewer's key. Returns the review's hash and the new decision.
    ///
    /// # Errors
    /// When the decision is unknown or not waiting for review, the key is not trusted as a
    /// reviewer, or the log fails.
    #[allow(clippy::too_many_arguments)]
    pub fn record_review(
        &mut self,
        decision: &str,
        verdict: ReviewVerdict,
        reviewer: &str,
        reason: &str,
        key: &SigningKey,
        producer: &Producer,
        time: Timestamp,
    ) -> Result<(Digest, Recorded), ReleaseError> {
        let trust = Trust::load(self.dir()).map_err(|e| ReleaseError::Refused(e.to_string()))?;
        if trust.find(&key.public(), Role::Reviewer).is_none() {
            return Err(ReleaseError::Refused(format!(
                "key {} is not trusted as a reviewer key: run `vouch keys trust {} --name NAME --role reviewer` first",
                vouch_chain::key_id(&key.public()),
                vouch_chain::public_key_text(&key.public())
            )));
        }
        let target = self.find_decision(decision)?;
        if target.outcome != DecisionOutcome::NeedsReview {
            return Err(ReleaseError::Refused(format!(
                "decision {} ({}) was {}; only a decision waiting for review can be reviewed",
                target.index,
                target.hash,
                target.outcome.as_str()
            )));
        }
        let resolved = self
            .views()
            .models()?
            .into_iter()
            .filter(|m| m.model == target.model)
            .flat_map(|m| m.decisions)
            .filter_map(|i| self.views().decision(i).ok().flatten())
            .any(|d| d.resolves == Some(target.hash));
        if resolved {
            return Err(ReleaseError::Refused(format!(
                "decision {} was already reviewed",
                target.index
            )));
        }
        let mut review = ReviewRecorded {
            decision: target.hash,
            verdict,
            reviewer: reviewer.to_owned(),
            reason: reason.to_owned(),
            reviewed_at: time,
            signer: PublicKeyBytes([0; 32]),
            signature: SignatureBytes([0; 64]),
        };
        vouch_chain::sign_review(&target.model, &mut review, key);
        let review_hash = vouch_chain::review_hash(&target.model, &review);
        let event = Event {
            id: EventId::new(format!("review:{}", review_hash.hex())).expect("valid id"),
            time,
            producer: producer.clone(),
            subject: Subject::Model(target.model.clone()),
            body: Body::ReviewRecorded(Box::new(review)),
        };
        event.check().map_err(ReleaseError::Refused)?;
        let key_name = LogKey::new(format!("model.{}", target.model)).expect("valid key");
        let appended = self.log().append(release_record(&event, key_name))?;
        self.flush()?;
        self.catch_up(&mut |_, _| {})?;
        let original = self.decision_record(&target)?;
        let draft = DecisionDraft {
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
            outcome: match verdict {
                ReviewVerdict::Approve => DecisionOutcome::Promoted,
                ReviewVerdict::Reject => DecisionOutcome::Rejected,
            },
            review: Some(ReviewLink {
                decision: target.hash,
                review: review_hash,
                review_position: appended.position().get(),
            }),
            decided_at: time,
        };
        let recorded = self.record_decision(draft, key, producer, time)?;
        Ok((review_hash, recorded))
    }

    /// Records that `artifact` of `model` was deployed to `env`. Refuses an artifact no
    /// decision promoted for that model, unless `forced` with a reason (recorded as a
    /// forced deployment, which audit shows).
    ///
    /// # Errors
    /// When refused, or the log fails.
    pub fn record_deployment(
        &mut self,
        model: &ModelName,
        env: &str,
        artifact: Digest,
        forced: Option<&str>,
        producer: &Producer,
        time: Timestamp,
    ) -> Result<(u64, Option<DecisionEntry>), ReleaseError> {
        let mut promoting = None;
        for index in self.views().promotions(&artifact)?.into_iter().rev() {
            if let Some(d) = self.views().decision(index)? {
                if d.model == *model {
                    promoting = Some(d);
                    break;
                }
            }
        }
        if promoting.is_none() && forced.is_none() {
            return Err(ReleaseError::Refused(format!(
                "artifact {artifact} was never promoted for model {model}; deploy it anyway with --force --reason TEXT (recorded as a forced deployment)"
            )));
        }
        let event = Event {
            id: EventId::new(format!(
                "deployment:{model}:{env}:{}:{}",
                artifact.hex(),
                time.unix_nanos()
            ))
            .map_err(|e| ReleaseError::Refused(e.to_string()))?,
            time,
            producer: producer.clone(),
            subject: Subject::Model(model.clone()),
            body: Body::DeploymentRecorded(DeploymentRecorded {
                env: env.to_owned(),
                artifact,
                decision: promoting.as_ref().map(|d| d.hash),
                forced: forced.is_some(),
                reason: forced.map(str::to_owned),
            }),
        };
        event.check().map_err(ReleaseError::Refused)?;
        let key = LogKey::new(format!("model.{model}")).expect("valid key");
        let appended = self.log().append(release_record(&event, key))?;
        self.flush()?;
        self.catch_up(&mut |_, _| {})?;
        Ok((appended.position().get(), promoting))
    }

    /// Checks the whole log: no gaps in positions; every decision links to the one before
    /// it (index and hash), is signed by a trusted signer (or, for a record enacting a
    /// review, by the trusted reviewer who signed it), and its evidence digest matches the
    /// log bytes; every review is signed by a trusted reviewer. Stops at the first record
    /// that fails and names it.
    ///
    /// # Errors
    /// When the log cannot be read at all.
    pub fn verify(
        &self,
        trust: &Trust,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<VerifyReport, ReleaseError> {
        verify_log(self.log(), trust, progress)
    }
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
    {
        let mut report = VerifyReport::default();
        let end = log.last_position()?.get();
        let mut walk = ChainWalk {
            digests: Vec::with_capacity(end as usize),
            ..Default::default()
        };
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
                    reason: format!("the log ends at {} but reports {end} records", next - 1),
                });
                return Ok(report);
            }
            walk.jobs.clear();
            let mut failure = None;
            for record in records {
                let position = record.position.get();
                if position != next {
                    failure = Some(Failure {
                        position: next,
                        index: None,
                        reason: format!("gap in the log: position {next} is missing (next record is at {position})"),
                    });
                    break;
                }
                next += 1;
                report.records += 1;
                walk.digests.push(vouch_event::event_digest(&record.bytes));
                if let Err(f) = verify_record(&record, trust, &mut walk, &mut report) {
                    failure = Some(f);
                    break;
                }
            }
            // Signatures of this batch, on every core. A bad signature before the first
            // structural failure is the first failure.
            report.signatures += walk.jobs.len() as u64;
            if let Some(bad) = check_signatures(&walk.jobs) {
                if failure.as_ref().is_none_or(|f| bad.position < f.position) {
                    failure = Some(bad);
                }
            }
            if failure.is_some() {
                report.failure = failure;
                return Ok(report);
            }
            progress(next - 1, end);
        }
        Ok(report)
    }
}

fn verify_record(
    record: &Record,
    trust: &Trust,
    walk: &mut ChainWalk,
    report: &mut VerifyReport,
) -> Result<(), Failure> {
    let ChainWalk {
        digests,
        head,
        reviews,
        jobs,
    } = walk;
    let position = record.position.get();
    let fail = |index: Option<u64>, reason: String| Failure {
        position,
        index,
        reason,
    };
    let on_chain = record.key == chain_key();
    // Evidence is only hashed: release records live on the chain key and model keys.
    if !on_chain && !record.key.as_str().starts_with("model.") {
        return Ok(());
    }
    let event = match vouch_event::decode(&record.bytes) {
        Ok(event) => event,
        // Evidence that does not decode is the projector's quarantine's business; a
        // damaged chain record is a verification failure.
        Err(e) if on_chain => {
            return Err(fail(None, format!("decision record does not decode: {e}")))
        }
        Err(_) => return Ok(()),
    };
    match (&event.subject, &event.body) {
        (Subject::Model(model), Body::DecisionRecorded(d)) => {
            report.decisions += 1;
            let index = Some(d.index);
            if !on_chain {
                return Err(fail(
                    index,
                    "decision record is not on the chain key".into(),
                ));
            }
            let expected = head.map_or(0, |(i, _)| i + 1);
            if d.index != expected {
                return Err(fail(index, format!("chain index {} where {expected} was expected: a record is missing or out of order", d.index)));
            }
            if d.prev != head.map(|(_, h)| h) {
                return Err(fail(
                    index,
                    format!(
                        "previous hash {} does not match the preceding decision's hash {}",
                        d.prev.map_or("none".into(), |p| p.to_string()),
                        head.map_or("none".into(), |(_, h)| h.to_string())
                    ),
                ));
            }
            let body = vouch_chain::decision_body(model, d);
            let hash = vouch_chain::record_hash(&body, &d.signature);
            let trusted_signer = trust.find(&d.signer, Role::Signer).is_some();
            let enacts_trusted_review = d.review.as_ref().is_some_and(|link| {
                reviews.get(&link.review).is_some_and(|(decision, signer)| {
                    *decision == link.decision && *signer == d.signer
                })
            });
            if !trusted_signer && !enacts_trusted_review {
                return Err(fail(
                    index,
                    format!(
                        "signed by key {}, which is not trusted to sign decisions",
                        vouch_chain::key_id(&d.signer)
                    ),
                ));
            }
            if d.evidence.iter().any(|&p| p == 0 || p >= position) {
                return Err(fail(
                    index,
                    "evidence names a position at or after the decision itself".into(),
                ));
            }
            let recomputed = vouch_chain::evidence_digest(
                d.evidence.iter().map(|&p| (p, &digests[(p - 1) as usize])),
            );
            if recomputed != d.evidence_digest {
                return Err(fail(
                    index,
                    format!(
                        "evidence digest {} does not match the log's bytes ({recomputed})",
                        d.evidence_digest
                    ),
                ));
            }
            *head = Some((d.index, hash));
            jobs.push(SignatureJob {
                position,
                index,
                model: model.clone(),
                body,
                signer: d.signer,
                signature: d.signature,
            });
        }
        (Subject::Model(model), Body::ReviewRecorded(r)) => {
            report.reviews += 1;
            vouch_chain::verify_review(model, r).map_err(|e| fail(None, format!("review: {e}")))?;
            report.signatures += 1;
            if trust.find(&r.signer, Role::Reviewer).is_none() {
                return Err(fail(
                    None,
                    format!(
                        "review signed by key {}, which is not trusted as a reviewer",
                        vouch_chain::key_id(&r.signer)
                    ),
                ));
            }
            reviews.insert(vouch_chain::review_hash(model, r), (r.decision, r.signer));
        }
        _ if on_chain => {
            return Err(fail(
                None,
                format!("a {} record on the chain key", event.kind()),
            ))
        }
        _ => {}
    }
    Ok(())
}

impl Ledger {
    /// Everything about one artifact: its deployments, the decision that promoted it, the
    /// policy, reviews, the run and its evidence, with each signature, chain link and
    /// evidence digest checked against the log bytes.
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
        let mut check = |what: &str, ok: bool, detail: String| {
            report.checks.push(Check {
                what: what.to_owned(),
                ok,
                detail,
            });
        };
        let promotions = self.views().promotions(artifact)?;
        let Some(&index) = promotions.last() else {
            check(
                "promoted",
                false,
                format!("no decision promoted {artifact}"),
            );
            for d in &report.deployments {
                if d.forced {
                    report.checks.push(Check {
                        what: "deployment".into(),
                        ok: false,
                        detail: format!(
                            "forced deployment to {} at {}: {}",
                            d.env,
                            d.time,
                            d.reason.as_deref().unwrap_or("")
                        ),
                    });
                }
            }
            return Ok(report);
        };
        let entry = self
            .views()
            .decision(index)?
            .ok_or_else(|| corrupt(0, format!("decision {index} missing from the views")))?;
        let record = self.read_positions(&[entry.position])?.remove(0);
        let event = decode(&record)?;
        let model = model_of(&event, entry.position)?.clone();
        let Body::DecisionRecorded(d) = event.body else {
            return Err(corrupt(entry.position, "expected a decision"));
        };
        let d = *d;
        let hash = vouch_chain::decision_hash(&model, &d);
        check(
            "decision record",
            hash == entry.hash,
            format!(
                "decision {} at position {} hashes to {hash}",
                d.index, entry.position
            ),
        );
        let signature = vouch_chain::verify_decision(&model, &d);
        check(
            "decision signature",
            signature.is_ok(),
            match &signature {
                Ok(()) => format!(
                    "valid Ed25519 signature by key {}",
                    vouch_chain::key_id(&d.signer)
                ),
                Err(e) => e.to_string(),
            },
        );
        let signer = trust.find(&d.signer, Role::Signer).map(|k| k.name.clone());
        let reviewer_signed = d.review.is_some() && trust.find(&d.signer, Role::Reviewer).is_some();
        check(
            "signer trusted",
            signer.is_some() || reviewer_signed,
            match &signer {
                Some(name) => format!("key {} belongs to {name}", vouch_chain::key_id(&d.signer)),
                None if reviewer_signed => format!(
                    "key {} is a trusted reviewer enacting a review",
                    vouch_chain::key_id(&d.signer)
                ),
                None => format!("key {} is not trusted", vouch_chain::key_id(&d.signer)),
            },
        );
        if d.index > 0 {
            let linked = match self.views().decision(d.index - 1)? {
                Some(prev) => {
                    let prev_record = self.decision_record(&prev)?;
                    let prev_hash = vouch_chain::decision_hash(&prev.model, &prev_record);
                    Some(prev_hash) == d.prev
                }
                None => false,
            };
            check(
                "link to previous decision",
                linked,
                format!(
                    "decision {} names {} as previous",
                    d.index,
                    d.prev.map_or("none".into(), |p| p.to_string())
                ),
            );
        }
        if let Some(next) = self.views().decision(d.index + 1)? {
            let next_record = self.decision_record(&next)?;
            check(
                "link from next decision",
                next_record.prev == Some(hash),
                format!("decision {} names this one as previous", next.index),
            );
        }
        let records = self.read_positions(&d.evidence)?;
        let digests: Vec<Digest> = records
            .iter()
            .map(|r| vouch_event::event_digest(&r.bytes))
            .collect();
        let recomputed =
            vouch_chain::evidence_digest(d.evidence.iter().copied().zip(digests.iter()));
        check(
            "evidence digest",
            recomputed == d.evidence_digest,
            format!("{} events, digest {recomputed}", d.evidence.len()),
        );
        match self
            .read_positions(&[d.policy_position])
            .ok()
            .and_then(|mut r| decode(&r.remove(0)).ok())
        {
            Some(Event {
                body: Body::PolicyPublished(p),
                ..
            }) => {
                check(
                    "policy",
                    p.digest == d.policy && Digest::of(p.text.as_bytes()) == d.policy,
                    format!("policy version {} ({})", p.version, p.digest),
                );
                report.policy_text = Some(p.text);
            }
            _ => check(
                "policy",
                false,
                format!("no policy record at position {}", d.policy_position),
            ),
        }
        if let Some(link) = &d.review {
            let reviewed = self.views().decision_by_hash(&link.decision)?;
            match &reviewed {
                Some(r) => {
                    for review in r.reviews.iter().filter(|rv| rv.hash == link.review) {
                        let record = self.read_positions(&[review.position])?.remove(0);
                        let ok = match decode(&record)?.body {
                            Body::ReviewRecorded(rv) => {
                                vouch_chain::verify_review(&model, &rv).is_ok()
                                    && trust.find(&rv.signer, Role::Reviewer).is_some()
                            }
                            _ => false,
                        };
                        check(
                            "review",
                            ok,
                            format!(
                                "{:?} by {} ({}): {}",
                                review.verdict, review.reviewer, review.signer, review.reason
                            ),
                        );
                    }
                }
                None => check(
                    "review",
                    false,
                    format!("reviewed decision {} not found", link.decision),
                ),
            }
            report.reviewed = reviewed;
        }
        for deployment in &report.deployments {
            let ok = deployment.decision.is_some() && !deployment.forced;
            check(
                "deployment",
                ok || deployment.decision == Some(hash),
                format!(
                    "{} to {} at {}{}",
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
        report.run = self.views().run(&d.run)?;
        report.decision = Some(entry);
        report.record = Some(d);
        Ok(report)
    }
}
