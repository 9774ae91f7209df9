//! Evaluating a policy on the ledger now, and recording the signed decision: what `vouch
//! gate` and `vouch promote` do, and what replay recomputes later.

use vouch_chain::SigningKey;
use vouch_event::{DecisionOutcome, Producer, RunId, Timestamp};
use vouch_ledger::{DecisionDraft, Ledger, Recorded, ReleaseError};
use vouch_policy::{evaluate, Evaluation, Policy};
use vouch_views::{RunDoc, Views, ViewsError};

use crate::gate_evidence;

/// A policy evaluated on a candidate and the production baseline.
#[derive(Debug, Clone)]
pub struct Gated {
    /// The candidate run as the views hold it.
    pub candidate: RunDoc,
    /// The current production version's run, if the model has one.
    pub baseline: Option<RunDoc>,
    /// Every gate's and review rule's result, and the outcome.
    pub evaluation: Evaluation,
}

/// Why a policy could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The candidate has no events.
    #[error("unknown run `{0}`: the ledger has no events for it")]
    UnknownRun(RunId),
    /// The registry names a production decision the views do not have.
    #[error("decision {0} is missing from the views")]
    MissingDecision(u64),
    /// The views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
}

/// Evaluates `policy` on `run` against the model's current production version in `views`,
/// with time-dependent gates (dataset freshness) read at `now`.
///
/// # Errors
/// When the run is unknown or the views fail.
pub fn gate_on(
    views: &Views,
    policy: &Policy,
    run: &RunId,
    now: Timestamp,
) -> Result<Gated, GateError> {
    let candidate = views
        .run(run)?
        .ok_or_else(|| GateError::UnknownRun(run.clone()))?;
    let baseline = match views.model(policy.model())?.and_then(|m| m.production) {
        Some(index) => {
            let decision = views
                .decision(index)?
                .ok_or(GateError::MissingDecision(index))?;
            views.run(&decision.run)?
        }
        None => None,
    };
    let evaluation = evaluate(
        policy,
        &gate_evidence(&candidate),
        baseline.as_ref().map(gate_evidence).as_ref(),
        now,
    );
    Ok(Gated {
        candidate,
        baseline,
        evaluation,
    })
}

/// Evaluates `policy` on `run` and records the signed decision, as one transaction:
/// publishes the policy text (once), then, caught up with the log, evaluates the gates
/// against the production version at this chain position, digests the exact log bytes of
/// every candidate and baseline event plus the policy (the events just evaluated), and
/// appends the decision conditionally on the chain. When another writer extended the
/// chain meanwhile, it evaluates again from the top. Returns the evaluation that was
/// signed.
///
/// # Errors
/// When the run is unknown, the key may not sign, the log or views fail, or the chain
/// keeps moving.
#[allow(clippy::too_many_arguments)]
pub fn record(
    ledger: &mut Ledger,
    policy: &Policy,
    text: &str,
    run: &RunId,
    key: &SigningKey,
    producer: &Producer,
    time: Timestamp,
) -> Result<(Gated, Recorded), ReleaseError> {
    let model = policy.model().clone();
    let (policy_position, policy_digest) =
        ledger.publish_policy(&model, policy.version(), text, time, producer)?;
    let mut signed: Option<Gated> = None;
    let recorded = ledger.record_decision(key, time, &mut |ledger| {
        let gated = gate_on(ledger.views(), policy, run, time).map_err(|e| match e {
            GateError::Views(e) => ReleaseError::Views(e),
            other => ReleaseError::Refused(other.to_string()),
        })?;
        let baseline_run: Option<&RunId> = gated.baseline.as_ref().map(|b| &b.run);
        let mut runs = vec![&gated.candidate.run];
        runs.extend(baseline_run);
        let (positions, evidence_digest) = ledger.evidence(&runs, &[policy_position])?;
        let draft = DecisionDraft {
            model: model.clone(),
            run: gated.candidate.run.clone(),
            baseline: baseline_run.cloned(),
            artifacts: gated.candidate.artifacts.iter().map(|a| a.digest).collect(),
            policy: policy_digest,
            policy_version: policy.version().to_owned(),
            policy_position,
            evaluated_at: ledger.views().position()?.get(),
            evidence: positions,
            evidence_digest,
            gates: gated.evaluation.records(),
            outcome: DecisionOutcome::from(gated.evaluation.outcome),
            review: None,
            decided_at: time,
        };
        signed = Some(gated);
        Ok(draft)
    })?;
    Ok((signed.expect("the decision was drafted"), recorded))
}
