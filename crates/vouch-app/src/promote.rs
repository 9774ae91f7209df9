//! Gate and promote: a policy evaluated on a candidate run against the model's production
//! version, and, for `promote`, the signed decision recorded on the chain. What `vouch
//! gate` / `vouch promote` do and `POST /api/v1/promote` does with the server's key.

use vouch_chain::SigningKey;
use vouch_event::{DecisionOutcome, ModelName, Producer, RunId, Timestamp};
use vouch_ledger::{Ledger, ReleaseError, Role};
use vouch_policy::Policy;
use vouch_replay::{gate_on, record, GateError, Gated};
use vouch_views::Views;

/// A policy evaluated on a run.
pub struct Evaluated {
    /// The policy's exact text (what a decision records).
    pub text: String,
    /// The policy.
    pub policy: Policy,
    /// The model it governs.
    pub model: ModelName,
    /// The gates' results against the production baseline.
    pub gated: Gated,
}

impl Evaluated {
    /// What `vouch gate --json` prints and `POST /api/v1/gate` answers.
    pub fn gate_report(&self) -> serde_json::Value {
        serde_json::json!({
            "model": self.model,
            "policy": {
                "version": self.policy.version(),
                "digest": vouch_event::Digest::of(self.text.as_bytes()),
            },
            "run": self.gated.candidate.run,
            "baseline": self.gated.baseline.as_ref().map(|b| &b.run),
            "gates": self.gated.evaluation.gates,
            "reviews": self.gated.evaluation.reviews,
            "outcome": self.gated.evaluation.outcome.as_str(),
        })
    }
}

/// The exit code of a gate's or a promotion's outcome as `--json` names it (`promoted`
/// 0, `rejected` 1, `needs_review` 2), for a client reading a server's answer.
pub fn outcome_code(name: &str) -> Option<u8> {
    use vouch_policy::Outcome as O;
    [O::Promote, O::Reject, O::NeedsReview]
        .into_iter()
        .find(|o| o.as_str() == name)
        .map(O::exit_code)
}

/// A recorded decision and the evaluation it signed.
pub struct Promoted {
    /// What was signed: the evaluation made inside the recording transaction.
    pub evaluated: Evaluated,
    /// Where the decision is.
    pub recorded: vouch_ledger::Recorded,
    /// Its outcome.
    pub outcome: DecisionOutcome,
}

/// Why a policy could not be evaluated or its decision recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromoteError {
    /// The policy text does not parse.
    #[error("{0}")]
    Policy(String),
    /// The policy governs another model.
    #[error("the policy governs model {policy}, not {asked}")]
    WrongModel {
        /// The policy's model.
        policy: ModelName,
        /// The model asked for.
        asked: ModelName,
    },
    /// The gates could not be evaluated (an unknown run, the views).
    #[error(transparent)]
    Gate(#[from] GateError),
    /// The decision could not be recorded (a key the rule book refuses, the log).
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

/// Evaluates the policy `text` on `run` of `model` in `views`, with the gates reading the
/// time `now`. Records nothing.
///
/// # Errors
/// [`PromoteError`] when the policy does not parse or governs another model, or the
/// gates cannot be evaluated.
pub fn evaluate(
    views: &Views,
    model: &ModelName,
    run: &RunId,
    text: String,
    now: Timestamp,
) -> Result<Evaluated, PromoteError> {
    let policy = Policy::parse(&text).map_err(|e| PromoteError::Policy(e.to_string()))?;
    if policy.model() != model {
        return Err(PromoteError::WrongModel {
            policy: policy.model().clone(),
            asked: model.clone(),
        });
    }
    let gated = gate_on(views, &policy, run, now)?;
    Ok(Evaluated {
        text,
        policy,
        model: model.clone(),
        gated,
    })
}

/// Evaluates the policy on `run` now and records the signed decision with `key`.
///
/// # Errors
/// As [`evaluate`]; and when `key` may not sign decisions (refused before anything is
/// written) or recording fails.
pub fn promote(
    ledger: &mut Ledger,
    model: &ModelName,
    run: &RunId,
    text: String,
    key: &SigningKey,
    producer: &Producer,
    now: Timestamp,
) -> Result<Promoted, PromoteError> {
    // A key that may not sign decisions is refused before anything is written: recording
    // publishes the policy before it signs.
    ledger
        .trust()
        .authorize(&key.public(), Role::Signer, now)
        .map_err(ReleaseError::Violation)?;
    let e = evaluate(ledger.views(), model, run, text, now)?;
    let (gated, recorded) = record(
        ledger,
        &e.policy,
        &e.text,
        &e.gated.candidate.run,
        key,
        producer,
        now,
    )?;
    // What was signed is the evaluation made inside the transaction (on a conflict with
    // another promoter, against the new production version).
    let evaluated = Evaluated { gated, ..e };
    let outcome = DecisionOutcome::from(evaluated.gated.evaluation.outcome);
    Ok(Promoted {
        evaluated,
        recorded,
        outcome,
    })
}
