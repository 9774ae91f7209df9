//! Gate evaluation: a policy, a candidate's evidence, the baseline's, and a time in; a
//! verdict per gate, per review rule, and an outcome out.
//!
//! Every result says what it read (`candidate`, `baseline`), what it held that against
//! (`threshold`) and why it concluded what it did (`reason`), so a decision record is
//! readable on its own, years later, without the policy at hand.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use vouch_event::{
    DatasetRole, DecisionOutcome, Digest, GateRecord, GateVerdict, Name, RunId, Segment, Timestamp,
};

use crate::policy::{
    BaselineMissing, Bounds, Gate, GateCheck, GateKind, Policy, ReviewRule, ReviewWhen,
    SegmentSelection, Tolerance,
};

/// What a run offers as evidence: the caller builds it from its views.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The run.
    pub run: RunId,
    /// The latest value of each metric, overall (`None`) and per segment.
    pub metrics: BTreeMap<(Name, Option<Segment>), f64>,
    /// The artifacts the run logged: name and content digest.
    pub artifacts: Vec<(String, Digest)>,
    /// The datasets bound to the run.
    pub datasets: Vec<DatasetEvidence>,
}

impl Evidence {
    /// Evidence with no metrics, artifacts or datasets yet.
    pub fn new(run: RunId) -> Self {
        Evidence {
            run,
            metrics: BTreeMap::new(),
            artifacts: Vec::new(),
            datasets: Vec::new(),
        }
    }

    fn metric(&self, metric: &Name, segment: Option<&Segment>) -> Option<f64> {
        self.metrics
            .get(&(metric.clone(), segment.cloned()))
            .copied()
    }

    /// The segments this run reports for `metric` (not the overall value).
    fn segments_of<'a>(&'a self, metric: &'a Name) -> impl Iterator<Item = &'a Segment> + 'a {
        self.metrics
            .range((metric.clone(), None)..)
            .take_while(move |((name, _), _)| name == metric)
            .filter_map(|((_, segment), _)| segment.as_ref())
    }
}

/// One dataset bound to a run, with its freshness.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetEvidence {
    /// The part it plays.
    pub role: DatasetRole,
    /// Its name.
    pub name: String,
    /// BLAKE3 of its content.
    pub digest: Digest,
    /// When the snapshot was taken, if known.
    pub snapshot_at: Option<Timestamp>,
    /// Labels are complete up to this time, if known.
    pub labels_through: Option<Timestamp>,
}

/// Everything an evaluation concluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// One result per gate, in policy order; a segment gate gives one per segment (sorted),
    /// an artifact gate one per artifact.
    pub gates: Vec<GateResult>,
    /// One result per review rule, in policy order.
    pub reviews: Vec<ReviewResult>,
    /// The outcome.
    pub outcome: Outcome,
}

impl Evaluation {
    /// The gate results as a decision records them: every gate, then one `review:<rule>`
    /// entry per triggered review rule.
    pub fn records(&self) -> Vec<GateRecord> {
        let mut records: Vec<GateRecord> = self.gates.iter().map(GateRecord::from).collect();
        records.extend(
            self.reviews
                .iter()
                .filter(|r| r.triggered)
                .map(|r| GateRecord {
                    gate: format!("review:{}", r.rule),
                    metric: None,
                    candidate: None,
                    baseline: None,
                    threshold: "review rule".into(),
                    verdict: GateVerdict::Review,
                    reason: r.reason.clone(),
                }),
        );
        records
    }
}

/// The promotion decision an evaluation reaches. A rejection is an outcome, not an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Every gate passed and no review rule triggered.
    #[serde(rename = "promoted")]
    Promote,
    /// At least one gate failed.
    #[serde(rename = "rejected")]
    Reject,
    /// No gate failed, but a review rule triggered or a gate asked for review.
    #[serde(rename = "needs_review")]
    NeedsReview,
}

impl Outcome {
    /// The process exit code `vouch gate` reports it with: 0, 1 or 2.
    pub const fn exit_code(self) -> u8 {
        match self {
            Outcome::Promote => 0,
            Outcome::Reject => 1,
            Outcome::NeedsReview => 2,
        }
    }

    /// `promoted`, `rejected` or `needs_review`: the same words a decision record uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Promote => "promoted",
            Outcome::Reject => "rejected",
            Outcome::NeedsReview => "needs_review",
        }
    }
}

impl From<Outcome> for DecisionOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Promote => DecisionOutcome::Promoted,
            Outcome::Reject => DecisionOutcome::Rejected,
            Outcome::NeedsReview => DecisionOutcome::NeedsReview,
        }
    }
}

/// What one check concluded. Ordered by severity, so the worst of several is their `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Passed.
    Pass,
    /// Asks a human to decide.
    Review,
    /// Failed: the candidate is rejected.
    Fail,
}

impl Verdict {
    /// `pass`, `review` or `fail`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Review => "review",
            Verdict::Fail => "fail",
        }
    }
}

impl From<Verdict> for GateVerdict {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Pass => GateVerdict::Pass,
            Verdict::Review => GateVerdict::Review,
            Verdict::Fail => GateVerdict::Fail,
        }
    }
}

/// One gate's conclusion on one metric, segment, artifact or dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate's name.
    pub gate: String,
    /// The gate's kind.
    pub kind: GateKind,
    /// The metric read, as `auc` or `auc[region=EU]`; `None` for evidence gates.
    pub metric: Option<String>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// The baseline's value, whenever the baseline has one (also for absolute gates, so a
    /// report can show the two side by side).
    pub baseline: Option<f64>,
    /// What the value was held against, for people: `>= 0.84`, `drop <= 0.005 vs baseline`.
    pub threshold: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The fact behind the verdict; on failure followed by the policy's reason.
    pub reason: String,
}

impl From<&GateResult> for GateRecord {
    fn from(result: &GateResult) -> Self {
        GateRecord {
            gate: result.gate.clone(),
            metric: result.metric.clone(),
            candidate: result.candidate,
            baseline: result.baseline,
            threshold: result.threshold.clone(),
            verdict: result.verdict.into(),
            reason: result.reason.clone(),
        }
    }
}

/// One review rule's conclusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewResult {
    /// The rule's name.
    pub rule: String,
    /// Whether it asks for a human.
    pub triggered: bool,
    /// The fact behind it; when triggered, followed by the policy's reason.
    pub reason: String,
}

/// Evaluates `policy` for `candidate` against the production `baseline` (`None` for a
/// first release), with `now` as the time dataset freshness is measured at.
///
/// Pure: the same arguments always give the same evaluation, so a past decision can be
/// recomputed exactly from the evidence and the time it was made at.
pub fn evaluate(
    policy: &Policy,
    candidate: &Evidence,
    baseline: Option<&Evidence>,
    now: Timestamp,
) -> Evaluation {
    let cx = Context {
        candidate,
        baseline,
        now,
        missing: policy.baseline_missing(),
    };
    let mut gates = Vec::new();
    for gate in policy.gates() {
        cx.gate(gate, &mut gates);
    }
    let reviews: Vec<ReviewResult> = policy.reviews().iter().map(|r| cx.review(r)).collect();
    let outcome = match gates.iter().map(|g| g.verdict).max() {
        Some(Verdict::Fail) => Outcome::Reject,
        Some(Verdict::Review) => Outcome::NeedsReview,
        _ if reviews.iter().any(|r| r.triggered) => Outcome::NeedsReview,
        _ => Outcome::Promote,
    };
    Evaluation {
        gates,
        reviews,
        outcome,
    }
}

const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;

struct Context<'a> {
    candidate: &'a Evidence,
    baseline: Option<&'a Evidence>,
    now: Timestamp,
    missing: BaselineMissing,
}

/// What a dataset freshness check measures.
#[derive(Debug, Clone, Copy)]
enum Measure {
    /// How long before now the snapshot was taken (`max_snapshot_age_days`).
    SnapshotAge,
    /// How long before now the labels end (`max_label_lag_days`).
    LabelLag,
}

/// One finding inside a gate result.
struct Check {
    verdict: Verdict,
    fact: String,
}

impl Check {
    fn new(verdict: Verdict, fact: impl Into<String>) -> Self {
        Check {
            verdict,
            fact: fact.into(),
        }
    }
}

/// The parts of a gate result that do not depend on the checks.
struct Row<'g> {
    gate: &'g Gate,
    metric: Option<String>,
    candidate: Option<f64>,
    baseline: Option<f64>,
    threshold: String,
}

impl Row<'_> {
    /// The worst verdict wins; the reason lists the facts behind it (all of them on a
    /// pass), and on a failure ends with the policy's reason.
    fn finish(self, checks: Vec<Check>) -> GateResult {
        let verdict = checks
            .iter()
            .map(|c| c.verdict)
            .max()
            .unwrap_or(Verdict::Pass);
        let facts: Vec<&str> = checks
            .iter()
            .filter(|c| c.verdict == verdict)
            .map(|c| c.fact.as_str())
            .collect();
        let mut reason = facts.join("; ");
        if verdict == Verdict::Fail {
            reason = format!("{reason}: {}", self.gate.reason());
        }
        GateResult {
            gate: self.gate.name().to_owned(),
            kind: self.gate.kind(),
            metric: self.metric,
            candidate: self.candidate,
            baseline: self.baseline,
            threshold: self.threshold,
            verdict,
            reason,
        }
    }
}

impl Context<'_> {
    fn baseline_value(&self, metric: &Name, segment: Option<&Segment>) -> Option<f64> {
        self.baseline.and_then(|b| b.metric(metric, segment))
    }

    /// What a baseline comparison says when there is no baseline value to compare with.
    fn no_baseline(&self, label: &str) -> Check {
        let fact = match self.baseline {
            None => "no production baseline (first release)".to_owned(),
            Some(_) => format!("baseline has no metric {label}"),
        };
        let verdict = match self.missing {
            BaselineMissing::Pass => Verdict::Pass,
            BaselineMissing::Fail => Verdict::Fail,
            BaselineMissing::Review => Verdict::Review,
        };
        Check::new(
            verdict,
            format!("{fact}; baseline.missing = {}", self.missing.as_str()),
        )
    }

    /// Every segment of `metric` the candidate or the baseline reports, sorted.
    fn all_segments(&self, metric: &Name) -> BTreeSet<Segment> {
        let mut all: BTreeSet<Segment> = self.candidate.segments_of(metric).cloned().collect();
        if let Some(baseline) = self.baseline {
            all.extend(baseline.segments_of(metric).cloned());
        }
        all
    }

    fn gate(&self, gate: &Gate, out: &mut Vec<GateResult>) {
        match gate.check() {
            GateCheck::Absolute {
                metric,
                segment,
                bounds,
            } => {
                let label = label(metric, segment.as_ref());
                let candidate = self.candidate.metric(metric, segment.as_ref());
                let row = Row {
                    gate,
                    metric: Some(label.clone()),
                    candidate,
                    baseline: self.baseline_value(metric, segment.as_ref()),
                    threshold: bounds_text(bounds),
                };
                let checks = match candidate {
                    None => vec![no_candidate(&label)],
                    Some(value) => bounds_checks(&label, value, bounds),
                };
                out.push(row.finish(checks));
            }
            GateCheck::Baseline { metric, tolerance } => {
                let label = metric.to_string();
                let candidate = self.candidate.metric(metric, None);
                let baseline = self.baseline_value(metric, None);
                let row = Row {
                    gate,
                    metric: Some(label.clone()),
                    candidate,
                    baseline,
                    threshold: tolerance_text(*tolerance),
                };
                let check = match (candidate, baseline) {
                    (None, _) => no_candidate(&label),
                    (Some(_), None) => self.no_baseline(&label),
                    (Some(c), Some(b)) => tolerance_check(&label, c, b, *tolerance),
                };
                out.push(row.finish(vec![check]));
            }
            GateCheck::Segments {
                metric,
                segments,
                tolerance,
                bounds,
            } => {
                let threshold = [
                    bounds.as_ref().map(bounds_text),
                    tolerance.map(tolerance_text),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ");
                let chosen: Vec<Segment> = match segments {
                    SegmentSelection::All => self.all_segments(metric).into_iter().collect(),
                    SegmentSelection::Listed(list) => list.clone(),
                };
                if chosen.is_empty() {
                    // Vacuous success would hide missing evidence: a gate written for
                    // segments that nobody reported fails.
                    let row = Row {
                        gate,
                        metric: Some(metric.to_string()),
                        candidate: None,
                        baseline: None,
                        threshold,
                    };
                    let fact =
                        format!("neither candidate nor baseline reports a segment of {metric}");
                    out.push(row.finish(vec![Check::new(Verdict::Fail, fact)]));
                    return;
                }
                for segment in &chosen {
                    let label = label(metric, Some(segment));
                    let candidate = self.candidate.metric(metric, Some(segment));
                    let baseline = self.baseline_value(metric, Some(segment));
                    let row = Row {
                        gate,
                        metric: Some(label.clone()),
                        candidate,
                        baseline,
                        threshold: threshold.clone(),
                    };
                    let mut checks = Vec::new();
                    match candidate {
                        None => checks.push(no_candidate(&label)),
                        Some(c) => {
                            if let Some(bounds) = bounds {
                                checks.extend(bounds_checks(&label, c, bounds));
                            }
                            if let Some(tolerance) = tolerance {
                                checks.push(match baseline {
                                    None => self.no_baseline(&label),
                                    Some(b) => tolerance_check(&label, c, b, *tolerance),
                                });
                            }
                        }
                    }
                    out.push(row.finish(checks));
                }
            }
            GateCheck::Artifacts { names } => {
                for name in names {
                    let row = Row {
                        gate,
                        metric: None,
                        candidate: None,
                        baseline: None,
                        threshold: format!("artifact {name}"),
                    };
                    let found = self.candidate.artifacts.iter().find(|(n, _)| n == name);
                    let check = match found {
                        Some((_, digest)) => Check::new(Verdict::Pass, format!("{name} {digest}")),
                        None => {
                            Check::new(Verdict::Fail, format!("candidate has no artifact {name}"))
                        }
                    };
                    out.push(row.finish(vec![check]));
                }
            }
            GateCheck::Dataset {
                role,
                max_snapshot_age_days,
                max_label_lag_days,
            } => {
                let threshold = [
                    max_snapshot_age_days.map(|d| format!("snapshot age <= {d} d")),
                    max_label_lag_days.map(|d| format!("label lag <= {d} d")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
                let threshold = if threshold.is_empty() {
                    format!("{} dataset bound", role.as_str())
                } else {
                    threshold.join(", ")
                };
                let row = Row {
                    gate,
                    metric: None,
                    candidate: None,
                    baseline: None,
                    threshold,
                };
                let checks =
                    self.dataset_checks(*role, *max_snapshot_age_days, *max_label_lag_days);
                out.push(row.finish(checks));
            }
        }
    }

    fn dataset_checks(
        &self,
        role: DatasetRole,
        max_snapshot_age_days: Option<u32>,
        max_label_lag_days: Option<u32>,
    ) -> Vec<Check> {
        let role_name = role.as_str();
        let mut bound: Vec<&DatasetEvidence> = self
            .candidate
            .datasets
            .iter()
            .filter(|d| d.role == role)
            .collect();
        if bound.is_empty() {
            return vec![Check::new(
                Verdict::Fail,
                format!("no {} dataset bound", role_name),
            )];
        }
        bound.sort_by(|a, b| (&a.name, a.digest).cmp(&(&b.name, b.digest)));
        // Name the dataset only when there is more than one to tell apart.
        let several = bound.len() > 1;
        let mut checks = Vec::new();
        for d in bound {
            let who = if several {
                format!("{} dataset {}", role_name, d.name)
            } else {
                role_name.to_owned()
            };
            if max_snapshot_age_days.is_none() && max_label_lag_days.is_none() {
                checks.push(Check::new(
                    Verdict::Pass,
                    format!("{} dataset {} {}", role_name, d.name, d.digest),
                ));
            }
            if let Some(limit) = max_snapshot_age_days {
                checks.push(match d.snapshot_at {
                    None => Check::new(Verdict::Fail, format!("{who} dataset has no snapshot_at")),
                    Some(at) => self.age_check(&who, Measure::SnapshotAge, at, limit),
                });
            }
            if let Some(limit) = max_label_lag_days {
                checks.push(match d.labels_through {
                    None => Check::new(
                        Verdict::Fail,
                        format!("{who} dataset has no labels_through"),
                    ),
                    Some(at) => self.age_check(&who, Measure::LabelLag, at, limit),
                });
            }
        }
        checks
    }

    /// Whether `at` is at most `limit_days` before now. Ages are compared in whole
    /// nanoseconds (as i128, so no pair of timestamps overflows), and a snapshot exactly
    /// `limit_days` old passes.
    ///
    /// A time after now fails when it is beyond the allowed clock skew
    /// ([`vouch_event::MAX_CLOCK_SKEW`]): data dated in the future would otherwise look
    /// fresh forever. Within the skew it is a clock difference and counts as age 0.
    fn age_check(&self, who: &str, measure: Measure, at: Timestamp, limit_days: u32) -> Check {
        let field = match measure {
            Measure::SnapshotAge => "snapshot",
            Measure::LabelLag => "labels_through",
        };
        if at.is_beyond_skew(self.now) {
            return Check::new(
                Verdict::Fail,
                format!(
                    "{who} {field} {at} is dated after the evaluation time {}: data from the future is refused",
                    self.now
                ),
            );
        }
        let age = (i128::from(self.now.unix_nanos()) - i128::from(at.unix_nanos())).max(0);
        let pass = age <= i128::from(limit_days) * NANOS_PER_DAY;
        let age = days_text(age);
        let fact = match (measure, pass) {
            (Measure::SnapshotAge, true) => {
                format!("{who} snapshot is {age} days old <= {limit_days}")
            }
            (Measure::SnapshotAge, false) => {
                format!("{who} snapshot is {age} days old (limit {limit_days})")
            }
            (Measure::LabelLag, true) => format!("{who} labels lag {age} days <= {limit_days}"),
            (Measure::LabelLag, false) => {
                format!("{who} labels lag {age} days (limit {limit_days})")
            }
        };
        Check::new(if pass { Verdict::Pass } else { Verdict::Fail }, fact)
    }

    fn review(&self, rule: &ReviewRule) -> ReviewResult {
        let (triggered, fact) = match rule.when() {
            ReviewWhen::Always => (true, None),
            ReviewWhen::FirstRelease => match self.baseline {
                None => (
                    true,
                    Some("no production baseline (first release)".to_owned()),
                ),
                Some(b) => (false, Some(format!("production baseline is run {}", b.run))),
            },
            ReviewWhen::Metric {
                metric,
                segment,
                bounds,
            } => {
                let label = label(metric, segment.as_ref());
                match self.candidate.metric(metric, segment.as_ref()) {
                    None => (true, Some(format!("candidate has no metric {label}"))),
                    Some(value) => {
                        let checks = bounds_checks(&label, value, bounds);
                        let outside: Vec<&str> = checks
                            .iter()
                            .filter(|c| c.verdict != Verdict::Pass)
                            .map(|c| c.fact.as_str())
                            .collect();
                        if outside.is_empty() {
                            let facts: Vec<&str> = checks.iter().map(|c| c.fact.as_str()).collect();
                            (false, Some(facts.join("; ")))
                        } else {
                            (true, Some(outside.join("; ")))
                        }
                    }
                }
            }
            ReviewWhen::SegmentRegression { metric, above } => self.regressions(metric, *above),
        };
        let reason = match (triggered, fact) {
            (true, Some(fact)) => format!("{fact}: {}", rule.reason()),
            (true, None) => rule.reason().to_owned(),
            (false, fact) => fact.unwrap_or_default(),
        };
        ReviewResult {
            rule: rule.name().to_owned(),
            triggered,
            reason,
        }
    }

    fn regressions(&self, metric: &Name, above: f64) -> (bool, Option<String>) {
        let Some(baseline) = self.baseline else {
            return (
                false,
                Some("no production baseline to compare with".to_owned()),
            );
        };
        let mut facts = Vec::new();
        for segment in self.all_segments(metric) {
            let label = label(metric, Some(&segment));
            let Some(b) = baseline.metric(metric, Some(&segment)) else {
                continue; // a new segment has nothing to regress from
            };
            match self.candidate.metric(metric, Some(&segment)) {
                None => facts.push(format!("candidate has no metric {label} (baseline {b})")),
                Some(c) if !le(b - c, above, b.abs().max(c.abs())) => facts.push(format!(
                    "{label} dropped {} > {above} ({b} -> {c})",
                    num(b - c, 9)
                )),
                Some(_) => {}
            }
        }
        if facts.is_empty() {
            (
                false,
                Some(format!("no segment of {metric} dropped more than {above}")),
            )
        } else {
            (true, Some(facts.join("; ")))
        }
    }
}

fn label(metric: &Name, segment: Option<&Segment>) -> String {
    match segment {
        Some(segment) => format!("{metric}[{segment}]"),
        None => metric.to_string(),
    }
}

fn no_candidate(label: &str) -> Check {
    Check::new(Verdict::Fail, format!("candidate has no metric {label}"))
}

fn bounds_text(bounds: &Bounds) -> String {
    match (bounds.min(), bounds.max()) {
        (Some(lo), Some(hi)) => format!(">= {lo}, <= {hi}"),
        (Some(lo), None) => format!(">= {lo}"),
        (None, Some(hi)) => format!("<= {hi}"),
        (None, None) => String::new(),
    }
}

/// Absolute bounds compare exactly: the policy's number and the logged one are both
/// decimal literals parsed to the nearest `f64`, so equal text gives equal values.
fn bounds_checks(label: &str, value: f64, bounds: &Bounds) -> Vec<Check> {
    if value.is_nan() {
        return vec![Check::new(
            Verdict::Fail,
            format!("{label} is not a number"),
        )];
    }
    let mut checks = Vec::new();
    if let Some(lo) = bounds.min() {
        checks.push(if value >= lo {
            Check::new(Verdict::Pass, format!("{value} >= {lo}"))
        } else {
            Check::new(Verdict::Fail, format!("{label} {value} < {lo}"))
        });
    }
    if let Some(hi) = bounds.max() {
        checks.push(if value <= hi {
            Check::new(Verdict::Pass, format!("{value} <= {hi}"))
        } else {
            Check::new(Verdict::Fail, format!("{label} {value} > {hi}"))
        });
    }
    checks
}

fn tolerance_text(tolerance: Tolerance) -> String {
    match tolerance {
        Tolerance::MaxDrop(x) => format!("drop <= {x} vs baseline"),
        Tolerance::MaxDropPct(x) => format!("drop <= {x}% vs baseline"),
        Tolerance::MaxRise(x) => format!("rise <= {x} vs baseline"),
        Tolerance::MaxRisePct(x) => format!("rise <= {x}% vs baseline"),
    }
}

/// `candidate` compared with `baseline` under `tolerance`.
fn tolerance_check(label: &str, candidate: f64, baseline: f64, tolerance: Tolerance) -> Check {
    if candidate.is_nan() || baseline.is_nan() {
        return Check::new(Verdict::Fail, format!("{label} is not a number"));
    }
    let (word, limit, percent) = match tolerance {
        Tolerance::MaxDrop(x) => ("drop", x, false),
        Tolerance::MaxDropPct(x) => ("drop", x, true),
        Tolerance::MaxRise(x) => ("rise", x, false),
        Tolerance::MaxRisePct(x) => ("rise", x, true),
    };
    let moved = if word == "drop" {
        baseline - candidate
    } else {
        candidate - baseline
    };
    let (amount, shown, unit) = if percent {
        let pct = if moved <= 0.0 {
            0.0
        } else if baseline == 0.0 {
            f64::INFINITY
        } else {
            moved / baseline.abs() * 100.0
        };
        (pct, num(pct, 4), "%")
    } else {
        (moved, num(moved, 9), "")
    };
    let scale = baseline.abs().max(candidate.abs());
    let versus = format!("{candidate} vs baseline {baseline}");
    if moved <= 0.0 {
        Check::new(Verdict::Pass, format!("no {word} ({versus})"))
    } else if le(amount, limit, if percent { 0.0 } else { scale }) {
        Check::new(
            Verdict::Pass,
            format!("{word} {shown}{unit} <= {limit}{unit} ({versus})"),
        )
    } else {
        Check::new(
            Verdict::Fail,
            format!("{label} {versus}: {word} {shown}{unit} > {limit}{unit}"),
        )
    }
}

/// `x <= limit`, forgiving floating-point rounding in `x`: `0.842 - 0.837` is
/// `0.005000000000000004` in binary, and a drop that is exactly the limit in decimal
/// must pass. The slack is 1e-9 of the magnitudes `x` was computed from (`scale`) or of
/// the limit, whichever is larger: far below any meaningful metric difference.
fn le(x: f64, limit: f64, scale: f64) -> bool {
    x <= limit + 1e-9 * scale.max(limit.abs()).max(1.0)
}

/// A computed number (a difference, a percentage) rounded to `decimals` places for
/// display, so `0.01399999999999999` reads `0.014`.
fn num(x: f64, decimals: i32) -> String {
    let factor = 10f64.powi(decimals);
    if x.is_finite() && (x * factor).abs() < 1e15 {
        format!("{}", (x * factor).round() / factor + 0.0)
    } else {
        format!("{x}")
    }
}

/// A duration in nanoseconds as days: whole days exactly, otherwise rounded *up* to two
/// decimals. Limits are whole days, so rounding up never shows an age over its limit as
/// equal to it ("30 days old (limit 30)") nor one within its limit as over it.
fn days_text(nanos: i128) -> String {
    if nanos % NANOS_PER_DAY == 0 {
        (nanos / NANOS_PER_DAY).to_string()
    } else {
        let hundredths = nanos * 100;
        let up = hundredths.div_euclid(NANOS_PER_DAY)
            + i128::from(hundredths.rem_euclid(NANOS_PER_DAY) != 0);
        let sign = if up < 0 { "-" } else { "" };
        let up = up.abs();
        let text = format!("{sign}{}.{:02}", up / 100, up % 100);
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_decimals() {
        for (x, decimals, want) in [
            (0.842 - 0.828, 9, "0.014"),
            (0.829 - 0.792, 9, "0.037"),
            (10.0, 9, "10"),
            (-0.0, 9, "0"),
            (0.014 / 0.842 * 100.0, 4, "1.6627"),
            (f64::INFINITY, 4, "inf"),
            (1e12 + 0.5, 9, "1000000000000.5"),
        ] {
            assert_eq!(num(x, decimals), want, "{x}");
        }
    }

    #[test]
    fn ages_round_up_to_hundredths_of_a_day() {
        let day = NANOS_PER_DAY;
        for (nanos, want) in [
            (0, "0"),
            (30 * day, "30"),
            (30 * day + 1, "30.01"),
            (30 * day + day / 2, "30.5"),
            (day / 100 * 99, "0.99"),
            (-(day + day / 2), "-1.5"),
            (-(day / 100 * 5) - 1, "-0.05"),
        ] {
            assert_eq!(days_text(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn limits_forgive_rounding_only() {
        assert!(le(0.842 - 0.837, 0.005, 0.842));
        assert!(!le(0.842 - 0.8369, 0.005, 0.842));
        assert!(le(1_000_010.0 - 1_000_000.0, 10.0, 1_000_010.0));
        assert!(!le(f64::INFINITY, 5.0, 0.0));
        assert!(!le(f64::NAN, 5.0, 0.0));
    }
}
