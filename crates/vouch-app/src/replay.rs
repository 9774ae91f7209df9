//! Past decisions replayed under another policy (given as its TOML text): which outcomes
//! would change, and why. What `vouch replay` prints and `POST /api/v1/replay` answers.

use std::time::Instant;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vouch_event::{ModelName, Timestamp};
use vouch_ledger::Ledger;
use vouch_policy::Policy;
use vouch_replay::{ReplayReport, Replayed, Scope, Summary};

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    /// The policy's TOML text.
    pub policy: String,
    /// Whose decisions (default: the model the policy governs).
    pub model: Option<ModelName>,
    /// Only decisions made at or after this time.
    pub since: Option<Timestamp>,
    /// Only decisions made at or before this time.
    pub until: Option<Timestamp>,
    /// List every replayed decision, not only those that would change or whose evidence
    /// fails.
    pub all: bool,
}

/// Why a replay could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The policy text does not parse (the parser's message, with line and column).
    #[error("{0}")]
    Policy(String),
    /// `since` is after `until`.
    #[error("since {since} is after until {until}: no decision can match")]
    EmptyRange {
        /// The start asked for.
        since: Timestamp,
        /// The end asked for.
        until: Timestamp,
    },
    /// The replay failed (a model with no decisions, a failing store).
    #[error(transparent)]
    Replay(#[from] vouch_replay::ReplayError),
}

/// A replay's report. Serializes as `{model, policy: {version, governs}, summary,
/// never_logged, seconds, decisions}`, `decisions` holding only those [`Self::listed`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayResult {
    /// What the replay found.
    pub report: ReplayReport,
    /// The model the policy governs (it may differ from the model replayed).
    pub governs: ModelName,
    /// How long the replay took.
    pub seconds: f64,
    /// Whether every decision is listed.
    pub all: bool,
}

impl ReplayResult {
    /// The decisions to show: every one with `all`, else those whose outcome would change
    /// or whose evidence fails.
    pub fn listed(&self) -> Vec<&Replayed> {
        self.report
            .decisions
            .iter()
            .filter(|d| self.all || d.changed || d.evidence_problem.is_some())
            .collect()
    }

    /// Whether the evidence of some decision no longer matches its digest (the CLI exits 1).
    pub fn evidence_failed(&self) -> bool {
        self.report.summary.evidence_failures > 0
    }
}

impl Serialize for ReplayResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = &self.report;
        serde_json::json!({
            "model": r.model,
            "policy": { "version": r.policy_version, "governs": self.governs },
            "summary": r.summary,
            "never_logged": r.never_logged,
            "seconds": self.seconds,
            "decisions": self.listed(),
        })
        .serialize(serializer)
    }
}

/// Reads what [`ReplayResult`] serializes as. Only the listed decisions are in it: read
/// back, `report.decisions` holds those, and `all` is set only when one of them is a
/// decision that neither changed nor failed (so [`ReplayResult::listed`] is all of them).
impl<'de> Deserialize<'de> for ReplayResult {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct PolicyNamed {
            version: String,
            governs: ModelName,
        }
        #[derive(Deserialize)]
        struct Wire {
            model: ModelName,
            policy: PolicyNamed,
            summary: Summary,
            never_logged: Vec<String>,
            seconds: f64,
            decisions: Vec<Replayed>,
        }
        let w = Wire::deserialize(deserializer)?;
        let all = w
            .decisions
            .iter()
            .any(|d| !d.changed && d.evidence_problem.is_none());
        Ok(ReplayResult {
            report: ReplayReport {
                model: w.model,
                policy_version: w.policy.version,
                decisions: w.decisions,
                summary: w.summary,
                never_logged: w.never_logged,
            },
            governs: w.policy.governs,
            seconds: w.seconds,
            all,
        })
    }
}

/// Parses a policy's TOML text.
///
/// # Errors
/// [`ReplayError::Policy`].
pub fn parse_policy(text: &str) -> Result<Policy, ReplayError> {
    Policy::parse(text).map_err(|e| ReplayError::Policy(e.to_string()))
}

/// Refuses a range no decision can fall in.
///
/// # Errors
/// [`ReplayError::EmptyRange`].
pub fn check_range(since: Option<Timestamp>, until: Option<Timestamp>) -> Result<(), ReplayError> {
    match (since, until) {
        (Some(since), Some(until)) if since > until => {
            Err(ReplayError::EmptyRange { since, until })
        }
        _ => Ok(()),
    }
}

/// Replays the decisions of `request.model` (or the policy's model) in the range under the
/// policy, from the ledger's current views (the caller catches up first). `progress` is
/// told the records read and the total.
///
/// # Errors
/// [`ReplayError`].
pub fn replay(
    ledger: &Ledger,
    request: &ReplayRequest,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ReplayResult, ReplayError> {
    let policy = parse_policy(&request.policy)?;
    check_range(request.since, request.until)?;
    let model = request
        .model
        .clone()
        .unwrap_or_else(|| policy.model().clone());
    let start = Instant::now();
    let report = vouch_replay::replay(
        ledger,
        &policy,
        &Scope {
            model,
            since: request.since,
            until: request.until,
        },
        progress,
    )?;
    Ok(ReplayResult {
        report,
        governs: policy.model().clone(),
        seconds: start.elapsed().as_secs_f64(),
        all: request.all,
    })
}
