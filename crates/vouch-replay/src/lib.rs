//! Policies evaluated on the ledger: now ([`gate_on`], [`record`]: what `vouch gate` and
//! `vouch promote` do) and in the past ([`replay`]: past release decisions re-evaluated under
//! another policy, on the evidence exactly as each decision read it).
//!
//! A decision records the log positions of every event it read and a digest over their
//! exact bytes. [`replay`] reads the log once, in order, up to the last decision in scope. It
//! digests every record, folds the events of the runs the decisions name with the
//! projector's own fold ([`RunDoc::apply`]), and at each decision record checks the evidence
//! digest against the bytes it just read and evaluates the new policy on the candidate and
//! the baseline as they stood then. One pass, whatever the number of decisions: that is what
//! keeps 10,000 decisions over a million events within seconds.
//!
//! The running fold of a run equals the fold of the decision's evidence only when the
//! evidence lists exactly the run's records read so far (the normal case: evidence is taken
//! and the decision appended under one lock). When it does not (a record of the run was
//! quarantined, or another machine appended to the run between evidence and decision on a
//! shared stream), that decision is folded again from exactly its evidence positions.
//!
//! Architecture invariant: replay reads the log and trusts no view for evidence; views only
//! say which decisions exist.
#![deny(missing_docs)]

mod gate;

pub use gate::{gate_on, record, GateError, Gated};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, Digest, Event, GateRecord, GateVerdict, ModelName,
    RunId, Subject, Timestamp,
};
use vouch_ledger::{Ledger, ReleaseError};
use vouch_log::{LogError, Position, Record};
use vouch_policy::{evaluate, DatasetEvidence, Evidence, Policy};
use vouch_views::{DecisionEntry, RunDoc, ViewsError};

/// Records read from the log per call during the pass.
const READ_CHUNK: usize = 8192;

/// Why a replay could not run. A decision whose evidence fails to verify is not an error:
/// it is reported in [`ReplayReport`].
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The model has no decisions at all.
    #[error("model {0} has no decisions in this ledger")]
    NoDecisions(ModelName),
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// Reading release records failed.
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

/// Which decisions to replay.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The model whose decisions are replayed.
    pub model: ModelName,
    /// Only decisions made at or after this time.
    pub since: Option<Timestamp>,
    /// Only decisions made at or before this time.
    pub until: Option<Timestamp>,
}

/// What a replay found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReplayReport {
    /// The model.
    pub model: ModelName,
    /// The new policy's version string.
    pub policy_version: String,
    /// Every decision replayed, in chain order.
    pub decisions: Vec<Replayed>,
    /// Counts.
    pub summary: Summary,
    /// Metrics the policy reads that no replayed candidate ever logged: probably a typo or a
    /// metric that pipelines do not publish yet.
    pub never_logged: Vec<String>,
}

/// Counts over a replay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// Decisions of the model in the time range.
    pub in_scope: usize,
    /// Evaluations replayed (review resolutions are not evaluations).
    pub replayed: usize,
    /// Replayed decisions whose outcome would change.
    pub changed: usize,
    /// Replayed decisions whose outcome stays.
    pub unchanged: usize,
    /// Records that enact a review (approve or reject a needs-review decision): they carry
    /// no evaluation of their own, so they are not replayed.
    pub review_resolutions: usize,
    /// Decisions whose evidence does not match the log: not evaluated.
    pub evidence_failures: usize,
    /// Outcome changes by kind, e.g. `promoted -> rejected`.
    pub transitions: BTreeMap<String, usize>,
    /// Log records read.
    pub records_read: u64,
    /// Decisions folded again from their exact evidence (see the crate docs).
    pub refolded: usize,
}

/// One decision, replayed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Replayed {
    /// Place in the chain.
    pub index: u64,
    /// The decision record's hash.
    pub decision: Digest,
    /// Log position of the decision record.
    pub position: u64,
    /// The candidate run.
    pub run: RunId,
    /// The production run it was compared against.
    pub baseline: Option<RunId>,
    /// When it was decided; the new policy's time-dependent gates (dataset freshness) are
    /// evaluated at this time.
    pub decided_at: Timestamp,
    /// The log position the evidence was read at.
    pub evaluated_at: u64,
    /// The policy version it was decided under.
    pub policy_version: String,
    /// The recorded outcome.
    pub old_outcome: DecisionOutcome,
    /// The outcome under the new policy; `None` when the evidence failed to verify.
    pub new_outcome: Option<DecisionOutcome>,
    /// Whether the outcome would change.
    pub changed: bool,
    /// Gates whose verdict differs, or that only one policy has and that did not pass.
    pub gates: Vec<GateChange>,
    /// Metrics the new policy reads that the candidate had not logged.
    pub missing: Vec<String>,
    /// Why the evidence failed to verify, if it did.
    pub evidence_problem: Option<String>,
}

/// A gate whose verdict the new policy changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GateChange {
    /// The gate's name.
    pub gate: String,
    /// The metric it reads, if any.
    pub metric: Option<String>,
    /// What the decision recorded; `None` when the old policy had no such gate.
    pub old: Option<GateRecord>,
    /// What the new policy concludes; `None` when it has no such gate.
    pub new: Option<GateRecord>,
}

/// A run's evidence as the gates read it: the latest value of every metric per segment,
/// the artifacts and the datasets. `gate`, `promote` and replay all build it with this.
pub fn gate_evidence(doc: &RunDoc) -> Evidence {
    Evidence {
        run: doc.run.clone(),
        metrics: doc
            .metrics
            .values()
            .map(|m| ((m.name.clone(), m.segment.clone()), m.value))
            .collect(),
        artifacts: doc
            .artifacts
            .iter()
            .map(|a| (a.name.clone(), a.digest))
            .collect(),
        datasets: doc
            .datasets
            .iter()
            .map(|d| DatasetEvidence {
                role: d.role,
                name: d.name.clone(),
                digest: d.digest,
                snapshot_at: d.snapshot_at,
                labels_through: d.labels_through,
            })
            .collect(),
    }
}

/// A run folded so far in the pass: its document and the positions of every record logged
/// under its key.
struct Folding {
    doc: RunDoc,
    positions: Vec<u64>,
}

/// Replays every evaluation of `scope.model` in the time range under `policy`.
/// `progress(at, end)` reports the pass through the log.
///
/// # Errors
/// When the model has no decisions, or the log or views fail. Evidence that does not match
/// the log is reported per decision, not returned as an error.
pub fn replay(
    ledger: &Ledger,
    policy: &Policy,
    scope: &Scope,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReplayReport, ReplayError> {
    let views = ledger.views();
    let model_doc = views
        .model(&scope.model)?
        .filter(|m| !m.decisions.is_empty())
        .ok_or_else(|| ReplayError::NoDecisions(scope.model.clone()))?;
    let mut summary = Summary::default();
    // The decisions to evaluate, by log position.
    let mut wanted: BTreeMap<u64, DecisionEntry> = BTreeMap::new();
    for index in &model_doc.decisions {
        let Some(entry) = views.decision(*index)? else {
            continue;
        };
        let after_since = scope.since.is_none_or(|t| entry.decided_at >= t);
        let before_until = scope.until.is_none_or(|t| entry.decided_at <= t);
        if !(after_since && before_until) {
            continue;
        }
        summary.in_scope += 1;
        if entry.resolves.is_some() {
            summary.review_resolutions += 1;
            continue;
        }
        wanted.insert(entry.position, entry);
    }
    let mut report = ReplayReport {
        model: scope.model.clone(),
        policy_version: policy.version().to_owned(),
        decisions: Vec::with_capacity(wanted.len()),
        summary,
        never_logged: Vec::new(),
    };
    let Some(&end) = wanted.keys().next_back() else {
        return Ok(report);
    };
    let runs: BTreeSet<&RunId> = wanted
        .values()
        .flat_map(|e| std::iter::once(&e.run).chain(e.baseline.as_ref()))
        .collect();
    let mut folding: HashMap<String, Folding> = runs
        .iter()
        .map(|run| {
            (
                format!("run.{run}"),
                Folding {
                    doc: RunDoc::new((*run).clone(), 0),
                    positions: Vec::new(),
                },
            )
        })
        .collect();
    // Digest of every record read, by position - 1.
    let mut digests: Vec<Digest> = Vec::with_capacity(usize::try_from(end).unwrap_or(0));
    let mut next = 1u64;
    progress(0, end);
    while next <= end {
        let want = usize::try_from(end - next + 1).map_or(READ_CHUNK, |n| n.min(READ_CHUNK));
        let records = ledger.log().read(Position::new(next), want)?;
        if records.is_empty() {
            break;
        }
        for record in &records {
            let position = record.position.get();
            if position != next {
                // A gap: every decision after it fails on the missing position.
                while next < position {
                    digests.push(Digest::from_bytes([0; 32]));
                    next += 1;
                }
            }
            digests.push(vouch_event::event_digest(&record.bytes));
            next = position + 1;
            report.summary.records_read += 1;
            if let Some(run) = folding.get_mut(record.key.as_str()) {
                run.positions.push(position);
                fold(&mut run.doc, record);
            } else if let Some(entry) = wanted.get(&position) {
                let replayed = replay_one(ledger, policy, entry, record, &folding, &digests)?;
                if replayed.1 {
                    report.summary.refolded += 1;
                }
                report.decisions.push(replayed.0);
            }
        }
        progress(next - 1, end);
    }
    finish(&mut report);
    Ok(report)
}

/// Applies a record to a run's running document the way the projector would: records that
/// do not decode, carry another id, or belong to another run are left out.
fn fold(doc: &mut RunDoc, record: &Record) {
    let Ok(event) = vouch_event::decode(&record.bytes) else {
        return;
    };
    if event.id.as_str() != record.event_id {
        return;
    }
    if !matches!(&event.subject, Subject::Run(run) if *run == doc.run) {
        return;
    }
    if doc.first_position == 0 {
        doc.first_position = record.position.get();
    }
    let _ = doc.apply(&event, record.position.get());
}

/// Replays the decision in `record`. The flag says whether it had to be folded again from
/// its exact evidence.
fn replay_one(
    ledger: &Ledger,
    policy: &Policy,
    entry: &DecisionEntry,
    record: &Record,
    folding: &HashMap<String, Folding>,
    digests: &[Digest],
) -> Result<(Replayed, bool), ReplayError> {
    let decision = match vouch_event::decode(&record.bytes).map(|e| e.body) {
        Ok(Body::DecisionRecorded(d)) => *d,
        _ => {
            return Ok((
                failed(
                    entry,
                    None,
                    "the decision record in the log does not decode".into(),
                ),
                false,
            ))
        }
    };
    if let Some(problem) = check_evidence(&decision, record.position.get(), digests) {
        return Ok((failed(entry, Some(&decision), problem), false));
    }
    let candidate = folding
        .get(&format!("run.{}", decision.run))
        .expect("every candidate is folded");
    let baseline = decision.baseline.as_ref().map(|b| {
        folding
            .get(&format!("run.{b}"))
            .expect("every baseline is folded")
    });
    // The running folds are the decision's evidence exactly when the evidence lists every
    // record of both runs so far, plus the policy.
    let mut expected: Vec<u64> = candidate.positions.clone();
    if let Some(b) = baseline {
        expected.extend(&b.positions);
    }
    expected.push(decision.policy_position);
    expected.sort_unstable();
    expected.dedup();
    let (new, refolded) = if expected == decision.evidence {
        let evaluation = evaluate(
            policy,
            &gate_evidence(&candidate.doc),
            baseline.map(|b| gate_evidence(&b.doc)).as_ref(),
            decision.decided_at,
        );
        (evaluation, false)
    } else {
        let (candidate, baseline) = decision_state(ledger, &decision)?;
        let evaluation = evaluate(
            policy,
            &gate_evidence(&candidate),
            baseline.as_ref().map(gate_evidence).as_ref(),
            decision.decided_at,
        );
        (evaluation, true)
    };
    let new_records = new.records();
    let new_outcome = DecisionOutcome::from(new.outcome);
    let missing: Vec<String> = new
        .gates
        .iter()
        .filter(|g| g.candidate.is_none())
        .filter_map(|g| g.metric.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok((
        Replayed {
            index: entry.index,
            decision: entry.hash,
            position: entry.position,
            run: decision.run.clone(),
            baseline: decision.baseline.clone(),
            decided_at: decision.decided_at,
            evaluated_at: decision.evaluated_at,
            policy_version: decision.policy_version.clone(),
            old_outcome: decision.outcome,
            new_outcome: Some(new_outcome),
            changed: new_outcome != decision.outcome,
            gates: gate_changes(&decision.gates, &new_records),
            missing,
            evidence_problem: None,
        },
        refolded,
    ))
}

/// Recomputes the evidence digest from the digests of the bytes just read.
fn check_evidence(decision: &DecisionRecorded, at: u64, digests: &[Digest]) -> Option<String> {
    let zero = Digest::from_bytes([0; 32]);
    let mut pairs = Vec::with_capacity(decision.evidence.len());
    for &position in &decision.evidence {
        if position == 0 || position >= at {
            return Some(format!(
                "evidence position {position} is not before the decision at {at}"
            ));
        }
        let digest = &digests[usize::try_from(position - 1).expect("position fits")];
        if *digest == zero {
            return Some(format!(
                "evidence position {position} is missing from the log"
            ));
        }
        pairs.push((position, digest));
    }
    let digest = vouch_chain::evidence_digest(pairs);
    (digest != decision.evidence_digest).then(|| {
        format!(
            "the evidence digest does not match the log: recorded {}, the log's bytes give {}",
            decision.evidence_digest, digest
        )
    })
}

/// The candidate's and the baseline's documents exactly as `decision` read them: folded
/// from its evidence positions alone (read from the log), whatever was logged later.
///
/// # Errors
/// When the log fails or an evidence position is missing.
pub fn decision_state(
    ledger: &Ledger,
    decision: &DecisionRecorded,
) -> Result<(RunDoc, Option<RunDoc>), ReplayError> {
    let records = ledger.read_positions(&decision.evidence)?;
    let events: Vec<(u64, Event)> = records
        .iter()
        .filter_map(|r| {
            let event = vouch_event::decode(&r.bytes).ok()?;
            (event.id.as_str() == r.event_id).then_some((r.position.get(), event))
        })
        .collect();
    let fold_run = |run: &RunId| {
        let mut doc: Option<RunDoc> = None;
        for (position, event) in &events {
            if matches!(&event.subject, Subject::Run(r) if r == run) {
                let doc = doc.get_or_insert_with(|| RunDoc::new(run.clone(), *position));
                let _ = doc.apply(event, *position);
            }
        }
        doc.unwrap_or_else(|| RunDoc::new(run.clone(), 0))
    };
    Ok((
        fold_run(&decision.run),
        decision.baseline.as_ref().map(fold_run),
    ))
}

fn failed(entry: &DecisionEntry, decision: Option<&DecisionRecorded>, problem: String) -> Replayed {
    Replayed {
        index: entry.index,
        decision: entry.hash,
        position: entry.position,
        run: entry.run.clone(),
        baseline: entry.baseline.clone(),
        decided_at: entry.decided_at,
        evaluated_at: decision.map_or(0, |d| d.evaluated_at),
        policy_version: entry.policy_version.clone(),
        old_outcome: entry.outcome,
        new_outcome: None,
        changed: false,
        gates: Vec::new(),
        missing: Vec::new(),
        evidence_problem: Some(problem),
    }
}

/// Gates whose verdict differs between the recorded and the new results, matched by gate
/// and metric; a gate only one side has is listed when it did not pass.
fn gate_changes(old: &[GateRecord], new: &[GateRecord]) -> Vec<GateChange> {
    let key = |g: &GateRecord| (g.gate.clone(), g.metric.clone());
    let old_by: BTreeMap<_, &GateRecord> = old.iter().map(|g| (key(g), g)).collect();
    let new_by: BTreeMap<_, &GateRecord> = new.iter().map(|g| (key(g), g)).collect();
    let mut changes = Vec::new();
    for g in new {
        let before = old_by.get(&key(g)).copied();
        let differs = match before {
            Some(b) => b.verdict != g.verdict,
            None => g.verdict != GateVerdict::Pass,
        };
        if differs {
            changes.push(GateChange {
                gate: g.gate.clone(),
                metric: g.metric.clone(),
                old: before.cloned(),
                new: Some(g.clone()),
            });
        }
    }
    for g in old {
        if !new_by.contains_key(&key(g)) && g.verdict != GateVerdict::Pass {
            changes.push(GateChange {
                gate: g.gate.clone(),
                metric: g.metric.clone(),
                old: Some(g.clone()),
                new: None,
            });
        }
    }
    changes
}

/// Fills in the counts and the metrics no candidate logged.
fn finish(report: &mut ReplayReport) {
    let summary = &mut report.summary;
    let mut never: Option<BTreeSet<String>> = None;
    for d in &report.decisions {
        let Some(new) = d.new_outcome else {
            summary.evidence_failures += 1;
            continue;
        };
        summary.replayed += 1;
        if d.changed {
            summary.changed += 1;
            *summary
                .transitions
                .entry(format!("{} -> {}", d.old_outcome.as_str(), new.as_str()))
                .or_default() += 1;
        } else {
            summary.unchanged += 1;
        }
        let missing: BTreeSet<String> = d.missing.iter().cloned().collect();
        never = Some(match never {
            None => missing,
            Some(so_far) => so_far.intersection(&missing).cloned().collect(),
        });
    }
    report.never_logged = never.unwrap_or_default().into_iter().collect();
}
