//! Gate and promote: a policy evaluated on a candidate run against the model's production
//! version, and, for `promote`, the signed decision recorded on the chain. What `vouch
//! gate` / `vouch promote` do and `POST /api/v1/promote` does with the server's key.

use serde::{Deserialize, Serialize, Serializer};
use vouch_chain::SigningKey;
use vouch_event::{DecisionOutcome, Digest, ModelName, Producer, RunId, Timestamp};
use vouch_ledger::{Ledger, ReleaseError, Role};
use vouch_policy::{GateResult, Outcome, Policy, ReviewResult};
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
    /// What `vouch gate` shows and `POST /api/v1/gate` answers.
    pub fn gate_report(&self) -> GateReport {
        GateReport {
            model: self.model.clone(),
            policy: PolicyCited {
                version: self.policy.version().to_owned(),
                digest: Digest::of(self.text.as_bytes()),
            },
            run: self.gated.candidate.run.clone(),
            baseline: self.gated.baseline.as_ref().map(|b| b.run.clone()),
            gates: self.gated.evaluation.gates.clone(),
            reviews: self.gated.evaluation.reviews.clone(),
            outcome: self.gated.evaluation.outcome,
        }
    }
}

/// A policy as a report names it: its version and the digest of its text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyCited {
    /// Its version string.
    pub version: String,
    /// BLAKE3 of its text.
    pub digest: Digest,
}

/// A policy evaluated on a run, nothing recorded: what `vouch gate` shows (`--json`
/// prints it) and `POST /api/v1/gate` answers. Serializes with its keys sorted, as
/// `vouch gate --json` always has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GateReport {
    /// The model.
    pub model: ModelName,
    /// The policy evaluated.
    pub policy: PolicyCited,
    /// The candidate run.
    pub run: RunId,
    /// The production run it was held against; `None` for a first release.
    pub baseline: Option<RunId>,
    /// The gates' results.
    pub gates: Vec<GateResult>,
    /// The review rules' results.
    pub reviews: Vec<ReviewResult>,
    /// The outcome.
    pub outcome: Outcome,
}

impl Serialize for GateReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "model": self.model,
            "policy": { "version": self.policy.version, "digest": self.policy.digest },
            "run": self.run,
            "baseline": self.baseline,
            "gates": self.gates,
            "reviews": self.reviews,
            "outcome": self.outcome.as_str(),
        })
        .serialize(serializer)
    }
}

/// A recorded decision: what `vouch promote` shows (`--json` prints it) and `POST
/// /api/v1/promote` answers. Serializes with its keys sorted, as `vouch promote --json`
/// always has.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PromoteReport {
    /// The decision record's hash.
    pub decision: Digest,
    /// Its chain index.
    pub index: u64,
    /// Its log position.
    pub position: u64,
    /// The model.
    pub model: ModelName,
    /// The candidate run.
    pub run: RunId,
    /// The outcome recorded.
    pub outcome: DecisionOutcome,
    /// The gates' results.
    pub gates: Vec<GateResult>,
    /// The review rules' results.
    pub reviews: Vec<ReviewResult>,
}

impl Serialize for PromoteReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::json!({
            "decision": self.decision,
            "index": self.index,
            "position": self.position,
            "model": self.model,
            "run": self.run,
            "outcome": self.outcome.as_str(),
            "gates": self.gates,
            "reviews": self.reviews,
        })
        .serialize(serializer)
    }
}

impl Promoted {
    /// What `vouch promote --json` prints and `POST /api/v1/promote` answers.
    pub fn report(&self) -> PromoteReport {
        let e = &self.evaluated;
        PromoteReport {
            decision: self.recorded.hash,
            index: self.recorded.index,
            position: self.recorded.position,
            model: e.model.clone(),
            run: e.gated.candidate.run.clone(),
            outcome: self.outcome,
            gates: e.gated.evaluation.gates.clone(),
            reviews: e.gated.evaluation.reviews.clone(),
        }
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
