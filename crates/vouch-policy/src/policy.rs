//! A release policy: its gates and review rules, parsed from TOML and validated.
//!
//! The types here can only be built by [`Policy::parse`], so a `Policy` in hand always
//! satisfies every rule below; evaluation never has to re-check or guess.
//!
//! ```toml
//! model = "loan-risk"             # a model name (A-Z a-z 0-9 _ -)
//! version = "2026.11-1"           # 1 to 64 characters, no control characters
//! description = "optional"
//!
//! [baseline]
//! missing = "review"              # pass | fail | review (the default)
//!
//! [[gate]]                        # one of five kinds, told apart by their keys:
//! name = "auc-floor"              #   absolute:  metric, segment?, min and/or max
//! metric = "auc"                  #   baseline:  metric, compare = "baseline", one tolerance
//! min = 0.84                      #   segments:  metric, segments, compare? + tolerance, min?, max?
//! reason = "why this gate exists" #   artifacts: require_artifacts
//!                                 #   dataset:   dataset, max_snapshot_age_days?, max_label_lag_days?
//! [approval]                      # who may resolve a decision that needs review
//! reviewers = 2                   # distinct reviewer keys that must approve (1 to 16; 1)
//!                                 # (a reviewer's key never may be the decision's signer)
//!
//! [[review]]
//! name = "first-release"          # when: first_release | always
//! when = "first_release"          #       metric (metric, segment?, min and/or max)
//! reason = "..."                  #       segment_regression (metric, above)
//! ```
//!
//! Every key is known (unknown keys are errors), every number is finite, and every name
//! (gates and review rules share one namespace, since decisions refer to them by name) is
//! unique.

use std::collections::HashMap;
use std::ops::Range;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;
use vouch_event::{DatasetRole, ModelName, Name, Segment};

use crate::error::PolicyError;

/// A validated release policy for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    model: ModelName,
    version: String,
    description: Option<String>,
    baseline_missing: BaselineMissing,
    gates: Vec<Gate>,
    reviews: Vec<ReviewRule>,
    approval: Approval,
}

/// What resolving a decision that needs review takes (`[approval]`): the rule book reads
/// it from the policy a decision cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    /// Distinct reviewer keys whose approval promotes the candidate. A reviewer's key is
    /// never the key that signed the decision: the rule book enforces that always.
    pub reviewers: u32,
}

impl Default for Approval {
    fn default() -> Self {
        Approval { reviewers: 1 }
    }
}

impl Policy {
    /// Parses and validates a policy written in TOML.
    ///
    /// # Errors
    /// When the text is not TOML, has an unknown key or a value of the wrong type, or
    /// breaks a rule of the format (see the module documentation). The error carries the
    /// line and column of the offending key, value or table whenever there is one.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let raw: RawPolicy = toml::from_str(text).map_err(|e| PolicyError::from_toml(text, &e))?;
        Validator { text }.policy(raw)
    }

    /// The model this policy gates.
    pub fn model(&self) -> &ModelName {
        &self.model
    }

    /// The policy's own version, as its authors wrote it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The free-text description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The gates, in policy order.
    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    /// The review rules, in policy order.
    pub fn reviews(&self) -> &[ReviewRule] {
        &self.reviews
    }

    /// What resolving a decision that needs review takes.
    pub fn approval(&self) -> Approval {
        self.approval
    }

    /// What a baseline comparison says when there is nothing to compare with.
    pub fn baseline_missing(&self) -> BaselineMissing {
        self.baseline_missing
    }

    /// Each metric whose direction this policy's gates say, and whether lower is better
    /// for it: a `max` bound without a `min`, or a `max_rise` tolerance, says lower; a
    /// `min` without a `max`, or a `max_drop` tolerance, says higher. A metric the gates
    /// say both of is read as higher-is-better (the safer reading); a metric no gate
    /// bounds one-sidedly or compares is absent. Diagnosis and the web UI's comparison
    /// read directions from here, so they agree with the gates.
    pub fn lower_is_better(&self) -> std::collections::BTreeMap<Name, bool> {
        let mut out = std::collections::BTreeMap::new();
        let mut note = |metric: &Name, lower: Option<bool>| {
            if let Some(lower) = lower {
                let entry = out.entry(metric.clone()).or_insert(lower);
                *entry &= lower;
            }
        };
        let from_bounds = |b: &Bounds| match (b.min(), b.max()) {
            (None, Some(_)) => Some(true),
            (Some(_), None) => Some(false),
            _ => None,
        };
        let from_tolerance = |t: &Tolerance| {
            Some(matches!(
                t,
                Tolerance::MaxRise(_) | Tolerance::MaxRisePct(_)
            ))
        };
        for gate in &self.gates {
            match gate.check() {
                GateCheck::Absolute { metric, bounds, .. } => note(metric, from_bounds(bounds)),
                GateCheck::Baseline { metric, tolerance } => {
                    note(metric, from_tolerance(tolerance));
                }
                GateCheck::Segments {
                    metric,
                    tolerance,
                    bounds,
                    ..
                } => {
                    if let Some(t) = tolerance {
                        note(metric, from_tolerance(t));
                    }
                    if let Some(b) = bounds {
                        note(metric, from_bounds(b));
                    }
                }
                GateCheck::Artifacts { .. } | GateCheck::Dataset { .. } => {}
            }
        }
        out
    }
}

/// What a comparison with the production baseline concludes when there is no baseline
/// value: no production model yet (a first release), or a metric or segment the baseline
/// never reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineMissing {
    /// The comparison passes.
    Pass,
    /// The comparison fails.
    Fail,
    /// A human decides: the comparison asks for review.
    Review,
}

impl BaselineMissing {
    /// The policy-file spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            BaselineMissing::Pass => "pass",
            BaselineMissing::Fail => "fail",
            BaselineMissing::Review => "review",
        }
    }
}

/// One `[[gate]]`: a check that can fail a release.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    name: String,
    reason: String,
    check: GateCheck,
}

impl Gate {
    /// The gate's name, unique within its policy.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why the gate exists, in the policy author's words; quoted when it fails.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// What the gate checks.
    pub fn check(&self) -> &GateCheck {
        &self.check
    }

    /// The gate's kind.
    pub fn kind(&self) -> GateKind {
        match self.check {
            GateCheck::Absolute { .. } => GateKind::Absolute,
            GateCheck::Baseline { .. } => GateKind::Baseline,
            GateCheck::Segments { .. } => GateKind::Segments,
            GateCheck::Artifacts { .. } => GateKind::Artifacts,
            GateCheck::Dataset { .. } => GateKind::Dataset,
        }
    }
}

/// The five kinds of gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// An absolute bound on one metric, overall or in one segment.
    Absolute,
    /// A comparison of one overall metric with the production baseline.
    Baseline,
    /// A bound or baseline comparison applied to each of several segments.
    Segments,
    /// Required artifacts.
    Artifacts,
    /// A bound dataset and its freshness.
    Dataset,
}

impl GateKind {
    /// The name used in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            GateKind::Absolute => "absolute",
            GateKind::Baseline => "baseline",
            GateKind::Segments => "segments",
            GateKind::Artifacts => "artifacts",
            GateKind::Dataset => "dataset",
        }
    }
}

/// What a gate checks.
#[derive(Debug, Clone, PartialEq)]
pub enum GateCheck {
    /// `metric` (in `segment`, if any) lies within `bounds`.
    Absolute {
        /// The metric.
        metric: Name,
        /// The segment, or `None` for the overall value.
        segment: Option<Segment>,
        /// The bounds.
        bounds: Bounds,
    },
    /// The overall `metric` moved no further from the baseline than `tolerance`.
    Baseline {
        /// The metric.
        metric: Name,
        /// How far it may move.
        tolerance: Tolerance,
    },
    /// Per segment of `metric`: within `bounds` and `tolerance`, where given (at least
    /// one is).
    Segments {
        /// The metric.
        metric: Name,
        /// Which segments.
        segments: SegmentSelection,
        /// How far each segment may move from its baseline value.
        tolerance: Option<Tolerance>,
        /// An absolute bound on each segment.
        bounds: Option<Bounds>,
    },
    /// Each named artifact was logged by the run.
    Artifacts {
        /// Artifact names, in policy order, without duplicates.
        names: Vec<String>,
    },
    /// A dataset with `role` is bound, and fresh enough.
    Dataset {
        /// The dataset's role.
        role: DatasetRole,
        /// The oldest snapshot accepted, in days before the evaluation time.
        max_snapshot_age_days: Option<u32>,
        /// The largest gap between the evaluation time and `labels_through`, in days.
        max_label_lag_days: Option<u32>,
    },
}

/// An inclusive range with at least one end; both ends finite and `min <= max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    min: Option<f64>,
    max: Option<f64>,
}

impl Bounds {
    /// The lower bound, if any.
    pub fn min(&self) -> Option<f64> {
        self.min
    }

    /// The upper bound, if any.
    pub fn max(&self) -> Option<f64> {
        self.max
    }
}

/// How far a metric may move from its baseline value. Always finite and non-negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tolerance {
    /// `baseline - candidate <= x`: for metrics where higher is better.
    MaxDrop(f64),
    /// The drop as a percentage of the baseline value.
    MaxDropPct(f64),
    /// `candidate - baseline <= x`: for metrics where lower is better (latency, cost).
    MaxRise(f64),
    /// The rise as a percentage of the baseline value.
    MaxRisePct(f64),
}

/// Which segments a segment gate or rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SegmentSelection {
    /// Every segment the candidate or the baseline reports for the metric.
    All,
    /// These segments, sorted, without duplicates.
    Listed(Vec<Segment>),
}

/// One `[[review]]`: a condition that asks for a human even when every gate passes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRule {
    name: String,
    reason: String,
    when: ReviewWhen,
}

impl ReviewRule {
    /// The rule's name, unique within its policy.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Why a human should look, in the policy author's words.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The condition.
    pub fn when(&self) -> &ReviewWhen {
        &self.when
    }
}

/// When a review rule triggers.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewWhen {
    /// There is no production baseline.
    FirstRelease,
    /// Always: every release of this model needs a sign-off.
    Always,
    /// `metric` (in `segment`, if any) lies outside `bounds`, or is missing.
    Metric {
        /// The metric.
        metric: Name,
        /// The segment, or `None` for the overall value.
        segment: Option<Segment>,
        /// The range that needs no review.
        bounds: Bounds,
    },
    /// Some segment of `metric` dropped from its baseline value by more than `above`
    /// (absolute), or the candidate lacks a segment the baseline has.
    SegmentRegression {
        /// The metric.
        metric: Name,
        /// The largest drop that needs no review; finite and non-negative.
        above: f64,
    },
}

// ---------------------------------------------------------------------------------------
// The raw form: exactly what the TOML says, with spans, before any rule is checked.
// Keeping every field optional here and checking kinds by hand (rather than with serde
// enums) is what lets each error name the key at fault.

type S<T> = Spanned<T>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    model: S<String>,
    version: S<String>,
    description: Option<String>,
    baseline: Option<RawBaseline>,
    approval: Option<RawApproval>,
    #[serde(default)]
    gate: Vec<S<RawGate>>,
    #[serde(default)]
    review: Vec<S<RawReview>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaseline {
    missing: Option<BaselineMissing>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApproval {
    reviewers: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    name: S<String>,
    reason: S<String>,
    metric: Option<S<String>>,
    segment: Option<S<String>>,
    segments: Option<S<RawSegments>>,
    min: Option<S<f64>>,
    max: Option<S<f64>>,
    compare: Option<S<String>>,
    max_drop: Option<S<f64>>,
    max_drop_pct: Option<S<f64>>,
    max_rise: Option<S<f64>>,
    max_rise_pct: Option<S<f64>>,
    require_artifacts: Option<S<Vec<S<String>>>>,
    dataset: Option<S<String>>,
    max_snapshot_age_days: Option<S<i64>>,
    max_label_lag_days: Option<S<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    name: S<String>,
    reason: S<String>,
    when: S<String>,
    metric: Option<S<String>>,
    segment: Option<S<String>>,
    min: Option<S<f64>>,
    max: Option<S<f64>>,
    above: Option<S<f64>>,
}

/// `segments = "all"` or `segments = ["region=EU", …]`.
enum RawSegments {
    Word(String),
    List(Vec<S<String>>),
}

impl<'de> Deserialize<'de> for RawSegments {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawSegmentsVisitor;
        impl<'de> Visitor<'de> for RawSegmentsVisitor {
            type Value = RawSegments;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("\"all\" or a list of segments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSegments, E> {
                Ok(RawSegments::Word(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawSegments, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element()? {
                    list.push(item);
                }
                Ok(RawSegments::List(list))
            }
        }
        deserializer.deserialize_any(RawSegmentsVisitor)
    }
}

// ---------------------------------------------------------------------------------------
// Validation: raw form to the model, one rule at a time, each error at its key.

/// Builds the error for one table, prefixed with ``gate `x`: `` or ``review `x`: ``.
type Fail<'a> = &'a dyn Fn(Range<usize>, String) -> PolicyError;

/// A `Tolerance` variant's constructor.
type MakeTolerance = fn(f64) -> Tolerance;

const TOLERANCE_KEYS: &str = "max_drop, max_drop_pct, max_rise, max_rise_pct";

struct Validator<'t> {
    text: &'t str,
}

/// A key that was present, for "which keys did this table set" questions.
struct Key {
    name: &'static str,
    span: Range<usize>,
}

fn key<T>(name: &'static str, value: &Option<S<T>>) -> Option<Key> {
    value.as_ref().map(|v| Key {
        name,
        span: v.span(),
    })
}

fn is_gate_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Validator<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        PolicyError::at(self.text, span, message)
    }

    fn policy(&self, raw: RawPolicy) -> Result<Policy, PolicyError> {
        let model = ModelName::new(raw.model.get_ref().as_str())
            .map_err(|e| self.err(raw.model.span(), e.to_string()))?;
        let version = raw.version.get_ref();
        if !(1..=64).contains(&version.chars().count()) || version.chars().any(char::is_control) {
            return Err(self.err(
                raw.version.span(),
                "version must be 1 to 64 characters, without control characters",
            ));
        }
        let baseline_missing = raw
            .baseline
            .and_then(|b| b.missing)
            .unwrap_or(BaselineMissing::Review);
        let mut approval = Approval::default();
        if let Some(raw) = raw.approval {
            if let Some(n) = raw.reviewers {
                approval.reviewers = u32::try_from(*n.get_ref())
                    .ok()
                    .filter(|n| (1..=16).contains(n))
                    .ok_or_else(|| {
                        self.err(
                            n.span(),
                            "approval.reviewers must be 1 to 16 distinct reviewers",
                        )
                    })?;
            }
        }

        // Gates and review rules share one namespace: a decision names either.
        let mut seen = HashMap::new();
        let mut gates = Vec::with_capacity(raw.gate.len());
        for gate in raw.gate {
            let gate_check = self.gate(gate.span(), gate.get_ref())?;
            self.claim(&mut seen, &gate.get_ref().name, "gate")?;
            gates.push(gate_check);
        }
        let mut reviews = Vec::with_capacity(raw.review.len());
        for review in raw.review {
            let rule = self.review(review.get_ref())?;
            self.claim(&mut seen, &review.get_ref().name, "review")?;
            reviews.push(rule);
        }
        if gates.is_empty() && reviews.is_empty() {
            return Err(PolicyError::whole(
                "the policy has no [[gate]] and no [[review]]: it would promote anything",
            ));
        }
        Ok(Policy {
            model,
            version: version.clone(),
            description: raw.description,
            baseline_missing,
            gates,
            reviews,
            approval,
        })
    }

    /// Records `name` as used by a `what`, refusing a name already used.
    fn claim(
        &self,
        seen: &mut HashMap<String, &'static str>,
        name: &S<String>,
        what: &'static str,
    ) -> Result<(), PolicyError> {
        match seen.insert(name.get_ref().clone(), what) {
            None => Ok(()),
            Some(earlier) => Err(self.err(
                name.span(),
                format!(
                    "duplicate name `{}`: a {earlier} already uses it \
                     (gate and review names must be unique)",
                    name.get_ref()
                ),
            )),
        }
    }

    /// The name and reason every table needs; `what` is "gate" or "review".
    fn header(
        &self,
        what: &str,
        name: &S<String>,
        reason: &S<String>,
    ) -> Result<(String, String), PolicyError> {
        let n = name.get_ref();
        if !is_gate_name(n) {
            return Err(self.err(
                name.span(),
                format!("{what} name `{n}` must be 1 to 64 characters of A-Z a-z 0-9 _ -"),
            ));
        }
        if reason.get_ref().trim().is_empty() {
            return Err(self.err(
                reason.span(),
                format!("{what} `{n}`: reason must not be empty: say why the {what} exists"),
            ));
        }
        Ok((n.clone(), reason.get_ref().clone()))
    }

    /// One `[[gate]]` table, at `table` in the text.
    fn gate(&self, table: Range<usize>, raw: &RawGate) -> Result<Gate, PolicyError> {
        let (name, reason) = self.header("gate", &raw.name, &raw.reason)?;
        let fail =
            |span: Range<usize>, msg: String| self.err(span, format!("gate `{name}`: {msg}"));

        // Which of the three families of keys the table uses; it must use exactly one.
        let metric_keys: Vec<Key> = [
            key("metric", &raw.metric),
            key("segment", &raw.segment),
            key("segments", &raw.segments),
            key("min", &raw.min),
            key("max", &raw.max),
            key("compare", &raw.compare),
            key("max_drop", &raw.max_drop),
            key("max_drop_pct", &raw.max_drop_pct),
            key("max_rise", &raw.max_rise),
            key("max_rise_pct", &raw.max_rise_pct),
        ]
        .into_iter()
        .flatten()
        .collect();
        let artifact_keys: Vec<Key> = [key("require_artifacts", &raw.require_artifacts)]
            .into_iter()
            .flatten()
            .collect();
        let dataset_keys: Vec<Key> = [
            key("dataset", &raw.dataset),
            key("max_snapshot_age_days", &raw.max_snapshot_age_days),
            key("max_label_lag_days", &raw.max_label_lag_days),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut families: Vec<(&str, &Key)> = [
            ("a metric check", &metric_keys),
            ("an artifact check", &artifact_keys),
            ("a dataset check", &dataset_keys),
        ]
        .into_iter()
        .filter_map(|(what, keys)| keys.iter().min_by_key(|k| k.span.start).map(|k| (what, k)))
        .collect();
        families.sort_by_key(|(_, k)| k.span.start);
        match families.as_slice() {
            [] => {
                return Err(fail(
                    table,
                    "nothing to check: set metric (with min/max, compare or segments), require_artifacts, or dataset".into(),
                ))
            }
            [(first, first_key), (second, second_key), ..] => {
                return Err(fail(
                    second_key.span.clone(),
                    format!(
                        "mixes {first} ({}) with {second} ({}): write them as two gates",
                        first_key.name, second_key.name
                    ),
                ))
            }
            [_] => {}
        }

        let check = if let Some(names) = &raw.require_artifacts {
            self.artifacts(&fail, names)?
        } else if !dataset_keys.is_empty() {
            self.dataset_gate(&fail, table, raw)?
        } else {
            self.metric_gate(&fail, table, raw)?
        };
        Ok(Gate {
            name,
            reason,
            check,
        })
    }

    fn metric_gate(
        &self,
        fail: Fail<'_>,
        table: Range<usize>,
        raw: &RawGate,
    ) -> Result<GateCheck, PolicyError> {
        let metric = match &raw.metric {
            Some(m) => self.name(fail, m)?,
            None => return Err(fail(table, "metric is required".into())),
        };
        let tolerances = [
            key("max_drop", &raw.max_drop),
            key("max_drop_pct", &raw.max_drop_pct),
            key("max_rise", &raw.max_rise),
            key("max_rise_pct", &raw.max_rise_pct),
        ];
        let compare = match &raw.compare {
            Some(c) if c.get_ref() == "baseline" => Some(c.span()),
            Some(c) => {
                return Err(fail(
                    c.span(),
                    format!("compare must be \"baseline\", not \"{}\"", c.get_ref()),
                ))
            }
            None => None,
        };
        if compare.is_none() {
            if let Some(k) = tolerances.iter().flatten().next() {
                return Err(fail(
                    k.span.clone(),
                    format!(
                        "{} compares with the baseline: add compare = \"baseline\"",
                        k.name
                    ),
                ));
            }
        }
        let tolerance = match compare {
            Some(span) => Some(self.tolerance(fail, span, raw)?),
            None => None,
        };
        let bounds = self.bounds(fail, &raw.min, &raw.max)?;

        if let Some(segments) = &raw.segments {
            if let Some(segment) = &raw.segment {
                return Err(fail(
                    segment.span(),
                    "set segment (one segment) or segments (several), not both".into(),
                ));
            }
            if tolerance.is_none() && bounds.is_none() {
                return Err(fail(
                    segments.span(),
                    "segments needs compare = \"baseline\" with a tolerance, or min/max, or both"
                        .into(),
                ));
            }
            let segments = self.segments(fail, segments)?;
            return Ok(GateCheck::Segments {
                metric,
                segments,
                tolerance,
                bounds,
            });
        }
        if let Some(tolerance) = tolerance {
            if let Some(segment) = &raw.segment {
                return Err(fail(
                    segment.span(),
                    format!(
                        "to compare one segment with the baseline, write segments = [\"{}\"]",
                        segment.get_ref()
                    ),
                ));
            }
            if let Some(k) = [key("min", &raw.min), key("max", &raw.max)]
                .into_iter()
                .flatten()
                .next()
            {
                return Err(fail(
                    k.span,
                    format!(
                        "{} is an absolute bound and compare a baseline comparison: write two gates, or use segments",
                        k.name
                    ),
                ));
            }
            return Ok(GateCheck::Baseline { metric, tolerance });
        }
        let Some(bounds) = bounds else {
            let span = raw.metric.as_ref().map_or(table, S::span);
            return Err(fail(span, "set min, max or both".into()));
        };
        let segment = raw
            .segment
            .as_ref()
            .map(|s| self.segment(fail, s))
            .transpose()?;
        Ok(GateCheck::Absolute {
            metric,
            segment,
            bounds,
        })
    }

    fn tolerance(
        &self,
        fail: Fail<'_>,
        compare: Range<usize>,
        raw: &RawGate,
    ) -> Result<Tolerance, PolicyError> {
        let set: Vec<(&str, &S<f64>, MakeTolerance)> = [
            (
                "max_drop",
                &raw.max_drop,
                Tolerance::MaxDrop as MakeTolerance,
            ),
            ("max_drop_pct", &raw.max_drop_pct, Tolerance::MaxDropPct),
            ("max_rise", &raw.max_rise, Tolerance::MaxRise),
            ("max_rise_pct", &raw.max_rise_pct, Tolerance::MaxRisePct),
        ]
        .into_iter()
        .filter_map(|(k, v, f)| v.as_ref().map(|v| (k, v, f)))
        .collect();
        match set.as_slice() {
            [] => Err(fail(compare, format!("set one of {TOLERANCE_KEYS}"))),
            [(key, value, make)] => {
                let x = self.number(fail, key, value)?;
                if x < 0.0 {
                    return Err(fail(
                        value.span(),
                        format!("{key} must not be negative (it is a tolerance)"),
                    ));
                }
                Ok(make(x))
            }
            [(first, ..), (second, value, _), ..] => Err(fail(
                value.span(),
                format!("set only one of {TOLERANCE_KEYS} (found {first} and {second})"),
            )),
        }
    }

    fn number(&self, fail: Fail<'_>, key: &str, value: &S<f64>) -> Result<f64, PolicyError> {
        let x = *value.get_ref();
        if x.is_finite() {
            Ok(x)
        } else {
            Err(fail(
                value.span(),
                format!("{key} must be a finite number, not {x}"),
            ))
        }
    }

    fn bounds(
        &self,
        fail: Fail<'_>,
        min: &Option<S<f64>>,
        max: &Option<S<f64>>,
    ) -> Result<Option<Bounds>, PolicyError> {
        let lo = min
            .as_ref()
            .map(|v| self.number(fail, "min", v))
            .transpose()?;
        let hi = max
            .as_ref()
            .map(|v| self.number(fail, "max", v))
            .transpose()?;
        if let (Some(lo), Some(hi), Some(max)) = (lo, hi, max) {
            if lo > hi {
                return Err(fail(
                    max.span(),
                    format!("min {lo} is greater than max {hi}"),
                ));
            }
        }
        Ok((lo.is_some() || hi.is_some()).then_some(Bounds { min: lo, max: hi }))
    }

    fn name(&self, fail: Fail<'_>, metric: &S<String>) -> Result<Name, PolicyError> {
        Name::new(metric.get_ref().as_str()).map_err(|e| fail(metric.span(), e.to_string()))
    }

    fn segment(&self, fail: Fail<'_>, segment: &S<String>) -> Result<Segment, PolicyError> {
        Segment::new(segment.get_ref().as_str()).map_err(|e| fail(segment.span(), e.to_string()))
    }

    fn segments(
        &self,
        fail: Fail<'_>,
        raw: &S<RawSegments>,
    ) -> Result<SegmentSelection, PolicyError> {
        match raw.get_ref() {
            RawSegments::Word(w) if w == "all" => Ok(SegmentSelection::All),
            RawSegments::Word(w) => Err(fail(
                raw.span(),
                format!("segments must be \"all\" or a list like [\"region=EU\"], not \"{w}\""),
            )),
            RawSegments::List(list) if list.is_empty() => Err(fail(
                raw.span(),
                "segments lists no segment: name some, or write \"all\"".into(),
            )),
            RawSegments::List(list) => {
                let mut out: Vec<Segment> = Vec::with_capacity(list.len());
                for item in list {
                    let segment = self.segment(fail, item)?;
                    if out.contains(&segment) {
                        return Err(fail(
                            item.span(),
                            format!("segment `{segment}` is listed twice"),
                        ));
                    }
                    out.push(segment);
                }
                out.sort();
                Ok(SegmentSelection::Listed(out))
            }
        }
    }

    fn artifacts(&self, fail: Fail<'_>, raw: &S<Vec<S<String>>>) -> Result<GateCheck, PolicyError> {
        if raw.get_ref().is_empty() {
            return Err(fail(
                raw.span(),
                "require_artifacts must name at least one artifact".into(),
            ));
        }
        let mut names: Vec<String> = Vec::with_capacity(raw.get_ref().len());
        for item in raw.get_ref() {
            let name = item.get_ref();
            if name.trim().is_empty() {
                return Err(fail(
                    item.span(),
                    "an artifact name must not be empty".into(),
                ));
            }
            if names.contains(name) {
                return Err(fail(
                    item.span(),
                    format!("artifact `{name}` is listed twice"),
                ));
            }
            names.push(name.clone());
        }
        Ok(GateCheck::Artifacts { names })
    }

    fn dataset_gate(
        &self,
        fail: Fail<'_>,
        table: Range<usize>,
        raw: &RawGate,
    ) -> Result<GateCheck, PolicyError> {
        let role = match &raw.dataset {
            None => {
                return Err(fail(
                    table,
                    "dataset is required (train, validation or test)".into(),
                ))
            }
            Some(d) => match d.get_ref().as_str() {
                "train" => DatasetRole::Train,
                "validation" => DatasetRole::Validation,
                "test" => DatasetRole::Test,
                other => {
                    return Err(fail(
                        d.span(),
                        format!("dataset must be train, validation or test, not \"{other}\""),
                    ))
                }
            },
        };
        let days = |key: &str, value: &Option<S<i64>>| -> Result<Option<u32>, PolicyError> {
            let Some(value) = value else { return Ok(None) };
            let n = *value.get_ref();
            if n < 0 {
                return Err(fail(value.span(), format!("{key} must not be negative")));
            }
            u32::try_from(n)
                .map(Some)
                .map_err(|_| fail(value.span(), format!("{key} is too large")))
        };
        Ok(GateCheck::Dataset {
            role,
            max_snapshot_age_days: days("max_snapshot_age_days", &raw.max_snapshot_age_days)?,
            max_label_lag_days: days("max_label_lag_days", &raw.max_label_lag_days)?,
        })
    }

    /// One `[[review]]` table.
    fn review(&self, raw: &RawReview) -> Result<ReviewRule, PolicyError> {
        let (name, reason) = self.header("review", &raw.name, &raw.reason)?;
        let fail =
            |span: Range<usize>, msg: String| self.err(span, format!("review `{name}`: {msg}"));
        let fail: Fail<'_> = &fail;
        let when_word = raw.when.get_ref().as_str();
        let present = [
            key("metric", &raw.metric),
            key("segment", &raw.segment),
            key("min", &raw.min),
            key("max", &raw.max),
            key("above", &raw.above),
        ];
        let allowed: &[&str] = match when_word {
            "first_release" | "always" => &[],
            "metric" => &["metric", "segment", "min", "max"],
            "segment_regression" => &["metric", "above"],
            other => {
                return Err(fail(
                    raw.when.span(),
                    format!(
                        "when must be first_release, always, metric or segment_regression, not \"{other}\""
                    ),
                ))
            }
        };
        if let Some(k) = present
            .iter()
            .flatten()
            .find(|k| !allowed.contains(&k.name))
        {
            return Err(fail(
                k.span.clone(),
                format!("when = \"{when_word}\" takes no {}", k.name),
            ));
        }
        let metric = || match &raw.metric {
            Some(m) => self.name(fail, m),
            None => Err(fail(
                raw.when.span(),
                format!("when = \"{when_word}\" needs a metric"),
            )),
        };
        let when = match when_word {
            "first_release" => ReviewWhen::FirstRelease,
            "always" => ReviewWhen::Always,
            "metric" => {
                let metric = metric()?;
                let segment = raw
                    .segment
                    .as_ref()
                    .map(|s| self.segment(fail, s))
                    .transpose()?;
                let Some(bounds) = self.bounds(fail, &raw.min, &raw.max)? else {
                    return Err(fail(
                        raw.when.span(),
                        "when = \"metric\" needs min, max or both".into(),
                    ));
                };
                ReviewWhen::Metric {
                    metric,
                    segment,
                    bounds,
                }
            }
            _ => {
                let metric = metric()?;
                let Some(above) = &raw.above else {
                    return Err(fail(
                        raw.when.span(),
                        "when = \"segment_regression\" needs above (the largest drop that needs no review)".into(),
                    ));
                };
                let x = self.number(fail, "above", above)?;
                if x < 0.0 {
                    return Err(fail(above.span(), "above must not be negative".into()));
                }
                ReviewWhen::SegmentRegression { metric, above: x }
            }
        };
        Ok(ReviewRule { name, reason, when })
    }
}
