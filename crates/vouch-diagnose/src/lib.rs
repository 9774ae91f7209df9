//! On-call diagnosis of a deployed model: when live accuracy falls, the ledger answers the
//! brief's seed questions as findings ranked by evidence.
//!
//! - Is the deployed artifact the approved one? The last deployment to the environment
//!   against the artifacts of the production decision (a forced deployment is flagged),
//!   and the artifact the latest live observations name against the deployed one.
//! - Was the validation data stale? Its snapshot's age at the decision and now, and how
//!   far its labels lagged the decision.
//! - Are the labels late? How far the live observations' labels lag now, and whether they
//!   cover the observed window.
//! - Which segments fall below what validation promised (live values against the values
//!   the production decision's candidate logged, read from the decision's exact evidence),
//!   and which regressed against the previous production version's live values while the
//!   overall value held?
//!
//! Limits come from the production decision's own policy (its `dataset = "validation"`
//! freshness gate; which way each metric is better from its bounds and tolerances); where
//! the policy says nothing, [`DEFAULT_MAX_SNAPSHOT_AGE_DAYS`], [`DEFAULT_MAX_LABEL_LAG_DAYS`]
//! and "higher is better" apply. A drop counts when it exceeds the tolerance (absolute, in
//! the metric's units; [`DEFAULT_TOLERANCE`]), and is critical below validation beyond twice
//! the tolerance.
//!
//! Architecture invariant: no clock and no printing: the caller passes `now`, and gets
//! findings. Validation evidence is folded from the log bytes the decision read
//! ([`vouch_replay::decision_state`]), never from views that may hold later events.
#![deny(missing_docs)]

mod checks;
mod finding;

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use vouch_event::{Body, DatasetRole, DecisionRecorded, Digest, ModelName, Name, RunId, Timestamp};
use vouch_ledger::{Ledger, ReleaseError};
use vouch_policy::{GateCheck, Policy};
use vouch_replay::ReplayError;
use vouch_views::{DecisionEntry, DeploymentEntry, LiveObservation, RunDoc, ViewsError};

pub use finding::{CheckId, Finding, Severity};

/// The environment diagnosed when none is named.
pub const DEFAULT_ENV: &str = "production";
/// How far (absolute, in the metric's units) a live value may fall below validation or
/// the previous version before it is a finding. 0.02 is a visible AUC drop and above the
/// noise of a few thousand labelled examples.
pub const DEFAULT_TOLERANCE: f64 = 0.02;
/// The oldest validation snapshot accepted when the decision's policy sets no limit.
pub const DEFAULT_MAX_SNAPSHOT_AGE_DAYS: u32 = 30;
/// The largest label lag accepted when the decision's policy sets no limit.
pub const DEFAULT_MAX_LABEL_LAG_DAYS: u32 = 14;

/// What to diagnose against.
#[derive(Debug, Clone)]
pub struct Options {
    /// The environment (`production`).
    pub env: String,
    /// See [`DEFAULT_TOLERANCE`]; finite and non-negative.
    pub tolerance: f64,
    /// The time ages and lags are measured to (the library reads no clock).
    pub now: Timestamp,
}

/// Why a diagnosis could not run. Problems with the model are findings, not errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiagnoseError {
    /// The model has no decisions: nothing was released.
    #[error("model {0} has no decisions in this ledger: nothing was released, so there is nothing to diagnose")]
    NoDecisions(ModelName),
    /// Nothing was deployed to or observed in the environment.
    #[error("model {model} has no deployment to `{env}` and no live observations there ({})", known_envs(.known))]
    UnknownEnv {
        /// The model.
        model: ModelName,
        /// The environment asked for.
        env: String,
        /// The environments the model was deployed to or observed in.
        known: Vec<String>,
    },
    /// The tolerance is negative or not a number.
    #[error("tolerance {0} must be a finite number >= 0")]
    InvalidTolerance(f64),
    /// The registry names a decision the views do not have.
    #[error("decision {0} is missing from the views (run `vouch rebuild`)")]
    MissingDecision(u64),
    /// The views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// Reading a release record failed.
    #[error(transparent)]
    Release(#[from] ReleaseError),
    /// Folding the decision's evidence failed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

fn known_envs(known: &[String]) -> String {
    if known.is_empty() {
        "it was never deployed or observed anywhere".to_owned()
    } else {
        format!("it is known in: {}", known.join(", "))
    }
}

/// A promoted version of the model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    /// `v1`, `v2`, … in promotion order, as `vouch registry` names them.
    pub version: String,
    /// The promoting decision's chain index.
    pub index: u64,
    /// The promoting decision's hash.
    pub decision: Digest,
    /// The promoted run.
    pub run: RunId,
    /// The promoted artifacts.
    pub artifacts: Vec<Digest>,
    /// When it was decided.
    pub decided_at: Timestamp,
    /// The policy version it was decided under.
    pub policy_version: String,
}

impl Version {
    fn new(n: usize, entry: &DecisionEntry) -> Version {
        Version {
            version: format!("v{}", n + 1),
            index: entry.index,
            decision: entry.hash,
            run: entry.run.clone(),
            artifacts: entry.artifacts.clone(),
            decided_at: entry.decided_at,
            policy_version: entry.policy_version.clone(),
        }
    }
}

/// The freshness limits the checks apply, and where they come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    /// The oldest validation snapshot accepted, in days.
    pub max_snapshot_age_days: u32,
    /// The largest label lag accepted, in days.
    pub max_label_lag_days: u32,
    /// `policy <version>` or `defaults`.
    pub source: String,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_snapshot_age_days: DEFAULT_MAX_SNAPSHOT_AGE_DAYS,
            max_label_lag_days: DEFAULT_MAX_LABEL_LAG_DAYS,
            source: "defaults".to_owned(),
        }
    }
}

/// Findings by severity.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Critical findings.
    pub critical: usize,
    /// Warnings.
    pub warning: usize,
    /// Checks that could not run.
    pub unknown: usize,
    /// Checks that passed.
    pub ok: usize,
}

/// What `vouch diagnose` reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The model.
    pub model: ModelName,
    /// The environment.
    pub env: String,
    /// The time ages and lags were measured to.
    pub now: Timestamp,
    /// The tolerance applied.
    pub tolerance: f64,
    /// The current production version, if any was promoted.
    pub production: Option<Version>,
    /// The production version before it.
    pub previous: Option<Version>,
    /// The last deployment to the environment.
    pub deployed: Option<DeploymentEntry>,
    /// Live observations of the model in the environment.
    pub observations: usize,
    /// The freshness limits applied.
    pub limits: Limits,
    /// One line: the most likely causes.
    pub verdict: String,
    /// Findings by severity.
    pub summary: Summary,
    /// Every finding, most severe first.
    pub findings: Vec<Finding>,
}

/// What the checks read, gathered from the ledger: pure data, so the checks are pure.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    pub model: ModelName,
    pub env: String,
    /// Every promoted version, oldest first.
    pub versions: Vec<Version>,
    /// Which of `versions` is in production.
    pub production: Option<usize>,
    /// The production decision's candidate, exactly as the decision read it.
    pub validated: Option<RunDoc>,
    /// The last deployment to `env`.
    pub deployment: Option<DeploymentEntry>,
    /// Live observations in `env`, in log order.
    pub observations: Vec<LiveObservation>,
    pub limits: Limits,
    /// Metrics for which lower is better, per the production decision's policy.
    pub lower_is_better: BTreeSet<Name>,
}

/// Diagnoses `model` in `options.env` from the ledger's current views and log. The caller
/// catches the views up first.
///
/// # Errors
/// [`DiagnoseError::NoDecisions`] for a model never gated, [`DiagnoseError::UnknownEnv`]
/// for an environment the model was never deployed to or observed in,
/// [`DiagnoseError::InvalidTolerance`]; otherwise when the views or the log fail.
pub fn diagnose(
    ledger: &Ledger,
    model: &ModelName,
    options: &Options,
) -> Result<Diagnosis, DiagnoseError> {
    diagnose_in(ledger, ledger.views(), model, options)
}

/// [`diagnose`] answered from `views`, which may be the ledger's views as of an earlier log
/// position (`Ledger::as_of`): the log records they cite are read from `ledger`'s log.
///
/// # Errors
/// As [`diagnose`].
pub fn diagnose_in(
    ledger: &Ledger,
    views: &vouch_views::Views,
    model: &ModelName,
    options: &Options,
) -> Result<Diagnosis, DiagnoseError> {
    if !(options.tolerance.is_finite() && options.tolerance >= 0.0) {
        return Err(DiagnoseError::InvalidTolerance(options.tolerance));
    }
    let doc = views
        .model(model)?
        .filter(|m| !m.decisions.is_empty())
        .ok_or_else(|| DiagnoseError::NoDecisions(model.clone()))?;
    let all = views.live_observations(model)?;
    let deployment = doc
        .deployments
        .iter()
        .rev()
        .find(|d| d.env == options.env)
        .cloned();
    let observations: Vec<LiveObservation> = all
        .iter()
        .filter(|o| o.env == options.env)
        .cloned()
        .collect();
    if deployment.is_none() && observations.is_empty() {
        let mut known = Vec::new();
        let mut seen = HashSet::new();
        for env in doc
            .deployments
            .iter()
            .map(|d| &d.env)
            .chain(all.iter().map(|o| &o.env))
        {
            if seen.insert(env) {
                known.push(env.clone());
            }
        }
        return Err(DiagnoseError::UnknownEnv {
            model: model.clone(),
            env: options.env.clone(),
            known,
        });
    }
    let mut versions = Vec::with_capacity(doc.versions.len());
    let mut production = None;
    let mut production_entry = None;
    for (n, &index) in doc.versions.iter().enumerate() {
        let entry = views
            .decision(index)?
            .ok_or(DiagnoseError::MissingDecision(index))?;
        if doc.production == Some(index) {
            production = Some(versions.len());
            production_entry = Some(entry.clone());
        }
        versions.push(Version::new(n, &entry));
    }
    let (validated, policy) = match &production_entry {
        Some(entry) => {
            let record = ledger.decision_record(entry)?;
            let (candidate, _) = vouch_replay::decision_state(ledger, &record)?;
            (Some(candidate), policy_of(ledger, &record)?)
        }
        None => (None, None),
    };
    let facts = Facts {
        model: model.clone(),
        env: options.env.clone(),
        versions,
        production,
        validated,
        deployment,
        observations,
        limits: limits(policy.as_ref()),
        lower_is_better: lower_is_better(policy.as_ref()),
    };
    let mut findings = checks::assess(&facts, options.tolerance, options.now);
    finding::rank(&mut findings);
    let mut summary = Summary::default();
    for f in &findings {
        *match f.severity {
            Severity::Critical => &mut summary.critical,
            Severity::Warning => &mut summary.warning,
            Severity::Unknown => &mut summary.unknown,
            Severity::Ok => &mut summary.ok,
        } += 1;
    }
    let previous = facts
        .production
        .and_then(|p| p.checked_sub(1))
        .map(|p| facts.versions[p].clone());
    Ok(Diagnosis {
        model: model.clone(),
        env: options.env.clone(),
        now: options.now,
        tolerance: options.tolerance,
        production: facts.production.map(|p| facts.versions[p].clone()),
        previous,
        deployed: facts.deployment,
        observations: facts.observations.len(),
        limits: facts.limits,
        verdict: finding::verdict(&findings),
        summary,
        findings,
    })
}

/// The policy the decision was made under, from the `policy_published` record it names;
/// `None` when that record is not a policy this build parses (the defaults apply).
fn policy_of(ledger: &Ledger, record: &DecisionRecorded) -> Result<Option<Policy>, ReleaseError> {
    let records = ledger.read_positions(&[record.policy_position])?;
    let Some(event) = records
        .first()
        .and_then(|r| vouch_event::decode(&r.bytes).ok())
    else {
        return Ok(None);
    };
    Ok(match event.body {
        Body::PolicyPublished(p) => Policy::parse(&p.text).ok(),
        _ => None,
    })
}

/// The validation freshness limits of `policy`'s dataset gate, else the defaults.
fn limits(policy: Option<&Policy>) -> Limits {
    let mut limits = Limits::default();
    let Some(policy) = policy else {
        return limits;
    };
    for gate in policy.gates() {
        if let GateCheck::Dataset {
            role: DatasetRole::Validation,
            max_snapshot_age_days,
            max_label_lag_days,
        } = gate.check()
        {
            if let Some(days) = max_snapshot_age_days {
                limits.max_snapshot_age_days = *days;
            }
            if let Some(days) = max_label_lag_days {
                limits.max_label_lag_days = *days;
            }
            if max_snapshot_age_days.is_some() || max_label_lag_days.is_some() {
                limits.source = format!("policy {}", policy.version());
            }
        }
    }
    limits
}

/// Metrics `policy` treats as lower-is-better ([`Policy::lower_is_better`]). Every other
/// metric is read as higher-is-better.
fn lower_is_better(policy: Option<&Policy>) -> BTreeSet<Name> {
    policy
        .map(|p| {
            p.lower_is_better()
                .into_iter()
                .filter(|(_, lower)| *lower)
                .map(|(metric, _)| metric)
                .collect()
        })
        .unwrap_or_default()
}
