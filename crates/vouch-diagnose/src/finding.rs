//! Findings: what a check concluded, how severe, on which evidence; their ranking and the
//! one-line verdict drawn from them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use vouch_event::{Name, Segment};

/// How bad a finding is. Declared most severe first: that is the ranking order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Explains a live drop on its own, or breaks a release promise.
    Critical,
    /// Worth fixing; may contribute.
    Warning,
    /// The check could not run: the finding says what evidence is missing.
    Unknown,
    /// Checked and fine.
    Ok,
}

impl Severity {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Unknown => "unknown",
            Severity::Ok => "ok",
        }
    }
}

/// Which check a finding comes from. Declared in the order findings of equal severity are
/// ranked: the checks whose evidence is the most direct come first. A wrong artifact
/// explains everything; a regression measured live against the previous version's live
/// traffic (same population, same label process) is stronger evidence than a gap between
/// live and validation numbers, which distribution shift alone can open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckId {
    /// The deployed artifact against the approved one, and the artifact live traffic names.
    Artifact,
    /// Whether there are live observations of the deployed artifact at all.
    LiveObservations,
    /// The overall live value against the previous production version's.
    OverallRegressed,
    /// A segment's live value against the previous production version's, while the
    /// overall value held.
    SegmentRegressed,
    /// A live value (per segment, and overall) against what validation promised.
    SegmentBelowValidation,
    /// How far behind the labels are: of the validation data at decision time, and of the
    /// live observations now.
    LabelLag,
    /// How old the validation snapshot was at decision time, and is now.
    ValidationAge,
}

impl CheckId {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CheckId::Artifact => "artifact",
            CheckId::LiveObservations => "live_observations",
            CheckId::OverallRegressed => "overall_regressed",
            CheckId::SegmentRegressed => "segment_regressed",
            CheckId::SegmentBelowValidation => "segment_below_validation",
            CheckId::LabelLag => "label_lag",
            CheckId::ValidationAge => "validation_age",
        }
    }

    /// Whether the check compares metric series (its findings name a metric and segment).
    const fn compares_series(self) -> bool {
        matches!(
            self,
            CheckId::OverallRegressed | CheckId::SegmentRegressed | CheckId::SegmentBelowValidation
        )
    }
}

/// One conclusion of one check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// Which check.
    pub check: CheckId,
    /// One line saying what was found.
    pub title: String,
    /// The metric, for series comparisons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<Name>,
    /// The segment, for series comparisons (`None`: the overall value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// The few words this finding adds to the verdict, for critical and warning findings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The evidence, one readable line per fact: values, windows, times, positions.
    pub facts: Vec<String>,
    /// The same evidence, structured.
    pub evidence: serde_json::Value,
    /// Ranks findings of one check and severity: the size of the effect (a drop in
    /// tolerances, a lag in days).
    #[serde(skip)]
    pub(crate) weight: f64,
}

impl Finding {
    /// A finding with no metric, segment, cause, facts or evidence yet.
    pub(crate) fn new(check: CheckId, severity: Severity, title: String) -> Finding {
        Finding {
            severity,
            check,
            title,
            metric: None,
            segment: None,
            cause: None,
            facts: Vec::new(),
            evidence: serde_json::Value::Null,
            weight: 0.0,
        }
    }

    pub(crate) fn cause(mut self, cause: String) -> Finding {
        self.cause = Some(cause);
        self
    }

    pub(crate) fn facts(mut self, facts: Vec<String>) -> Finding {
        self.facts = facts;
        self
    }

    pub(crate) fn evidence(mut self, evidence: serde_json::Value) -> Finding {
        self.evidence = evidence;
        self
    }

    pub(crate) fn series(mut self, metric: &Name, segment: Option<&Segment>) -> Finding {
        self.metric = Some(metric.clone());
        self.segment = segment.cloned();
        self
    }

    pub(crate) fn weight(mut self, weight: f64) -> Finding {
        self.weight = weight;
        self
    }
}

/// Sorts findings most severe first; within a severity by check (most direct evidence
/// first, see [`CheckId`]), then by the size of the effect; otherwise in the order found.
pub(crate) fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.severity, a.check)
            .cmp(&(b.severity, b.check))
            .then(b.weight.total_cmp(&a.weight))
    });
}

/// How many verdict phrases at most.
const VERDICT_CAUSES: usize = 3;

/// One line from ranked findings: the causes of the top critical and warning findings, one
/// per check and one per segment (a segment that regressed is not named again for falling
/// below validation), or what could not be checked.
pub(crate) fn verdict(ranked: &[Finding]) -> String {
    let mut causes = Vec::new();
    let mut checks = BTreeSet::new();
    let mut series = BTreeSet::new();
    for f in ranked {
        if !matches!(f.severity, Severity::Critical | Severity::Warning) {
            break;
        }
        let Some(cause) = &f.cause else { continue };
        if checks.contains(&f.check) {
            continue;
        }
        if f.check.compares_series() && !series.insert(f.segment.clone()) {
            continue;
        }
        checks.insert(f.check);
        causes.push(cause.as_str());
        if causes.len() == VERDICT_CAUSES {
            break;
        }
    }
    if !causes.is_empty() {
        return format!("most likely: {}", causes.join("; "));
    }
    let unknown: Vec<&Finding> = ranked
        .iter()
        .filter(|f| f.severity == Severity::Unknown)
        .collect();
    match unknown.first() {
        None => "no problem found: every check passed".to_owned(),
        Some(first) => format!(
            "nothing wrong found, but {} check{} could not run: {}",
            unknown.len(),
            if unknown.len() == 1 { "" } else { "s" },
            first.title
        ),
    }
}
