//! `/compare?run=A&run=B…`: runs side by side (what `vouch compare` prints): params and
//! latest metrics as rows with the best value of each metric marked, the latest release
//! decision on each run with its gates' verdicts, and each metric's histories overlaid.
//! Fewer than two runs: a form to pick them.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::decisions::DecisionsRequest;
use vouch_app::failure::{release_failure, runs_failure, views_failure, Failure};
use vouch_app::runs::label;
use vouch_event::{Body, DecisionRecorded, GateVerdict, Name, RunId};
use vouch_views::{DecisionEntry, RunQuery};

use super::run::{history_points, status_class};
use super::runs::encode;
use super::{number, short, when};
use crate::chart::{self, Series};
use crate::{Html, Result, UiError};

/// Runs offered by the form that picks runs (the runs page filters further).
pub const PICK_LIMIT: usize = 500;
/// Overlaid history charts drawn at most.
pub const MAX_CHARTS: usize = 24;

/// What the compare page was asked for: its URL's query.
#[derive(Debug, Clone, Default)]
pub struct CompareRequest {
    /// The runs, in the order given, without repeats (`run` repeats in the query).
    pub runs: Vec<String>,
    /// For the form that picks runs: only this experiment's.
    pub experiment: Option<String>,
}

impl CompareRequest {
    /// The request a query string's pairs make. Unknown keys are ignored.
    pub fn from_query(pairs: &[(String, String)]) -> CompareRequest {
        let mut r = CompareRequest::default();
        for (k, v) in pairs {
            let v = v.trim();
            match k.as_str() {
                "run" if !v.is_empty() && !r.runs.iter().any(|x| x == v) => {
                    r.runs.push(v.to_owned());
                }
                "experiment" if !v.is_empty() => r.experiment = Some(v.to_owned()),
                _ => {}
            }
        }
        r
    }
}

/// Which way a metric improves, and who says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Direction {
    /// Lower values are better.
    pub lower: bool,
    /// A release policy's gates say so (else the metric's name does).
    pub from_policy: bool,
}

/// The direction a metric's name says, when it says one: `loss`, `latency`, `error`,
/// `cost`, `gap`, `ece` are lower-is-better; `auc`, `accuracy`, `recall`, `precision`,
/// `f1` higher. Read from the name's words (split at `_`, `-`, `.`, `/`); a name that
/// says both, or neither, says nothing.
pub(crate) fn direction_by_name(name: &str) -> Option<bool> {
    const LOWER: [&str; 8] = [
        "loss", "latency", "error", "errors", "cost", "gap", "ece", "mse",
    ];
    const HIGHER: [&str; 6] = ["auc", "accuracy", "acc", "recall", "precision", "f1"];
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::to_ascii_lowercase)
        .collect();
    let lower = words.iter().any(|w| LOWER.contains(&w.as_str()));
    let higher = words.iter().any(|w| HIGHER.contains(&w.as_str()));
    match (lower, higher) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// Which of `values` is best (lowest when `lower`, else highest): every value equal to
/// the best is marked. Nothing is marked when fewer than two values are finite or all
/// finite values are equal (no run is better).
pub(crate) fn best(values: &[Option<f64>], lower: bool) -> Vec<bool> {
    let finite: Vec<f64> = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let none = vec![false; values.len()];
    if finite.len() < 2 {
        return none;
    }
    let pick = |a: f64, b: f64| if lower { a.min(b) } else { a.max(b) };
    let top = finite.iter().copied().fold(finite[0], pick);
    if finite.iter().all(|v| *v == top) {
        return none;
    }
    values.iter().map(|v| *v == Some(top)).collect()
}

struct Column {
    run: String,
    href: String,
    name: String,
    status: &'static str,
    class: &'static str,
    started: String,
}

struct Cell {
    text: String,
    best: bool,
    failed: bool,
}

struct MetricRow {
    label: String,
    direction: &'static str,
    cells: Vec<Cell>,
}

struct ParamRow {
    name: String,
    differs: bool,
    values: Vec<String>,
}

struct Verdict {
    outcome: &'static str,
    class: &'static str,
    hash: String,
    short: String,
    decided: String,
    model: String,
    policy: String,
    failing: Vec<String>,
}

struct GateCell {
    verdict: &'static str,
    class: &'static str,
    text: String,
    reason: String,
}

struct GateRow {
    gate: String,
    metric: String,
    cells: Vec<Option<GateCell>>,
}

struct Chart {
    label: String,
    svg: String,
}

struct Pick {
    run: String,
    name: String,
    experiment: String,
    status: &'static str,
    checked: bool,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage<'a> {
    nav: &'a str,
    picking: bool,
    as_of: Option<u64>,
    // The form.
    experiments: Vec<String>,
    experiment: String,
    picks: Vec<Pick>,
    pick_total: usize,
    // The comparison.
    columns: Vec<Column>,
    params: Vec<ParamRow>,
    metrics: Vec<MetricRow>,
    verdicts: Vec<Option<Verdict>>,
    any_verdict: bool,
    gates: Vec<GateRow>,
    charts: Vec<Chart>,
    legend: Vec<(usize, String)>,
    by_name: Vec<String>,
    undirected: Vec<String>,
}

fn views_fail(e: vouch_views::ViewsError) -> UiError {
    UiError::new(views_failure(&e), e)
}

fn verdict_name(v: GateVerdict) -> (&'static str, &'static str) {
    match v {
        GateVerdict::Pass => ("pass", "ok"),
        GateVerdict::Fail => ("fail", "bad"),
        GateVerdict::Review => ("review", "warn"),
    }
}

/// The latest decision on each of `runs` (its chain entry and its record, read from the
/// log), as `vouch decisions` lists them.
fn latest_decisions(
    at: &At<'_>,
    runs: &[RunId],
) -> Result<Vec<Option<(DecisionEntry, DecisionRecorded)>>> {
    let all = vouch_app::decisions::decisions(
        at.views(),
        &DecisionsRequest {
            model: None,
            limit: usize::MAX,
        },
    )
    .map_err(views_fail)?;
    runs.iter()
        .map(|run| match all.iter().rev().find(|d| &d.run == run) {
            None => Ok(None),
            Some(entry) => {
                let record = at
                    .ledger()
                    .decision_record(entry)
                    .map_err(|e| UiError::new(release_failure(&e), e))?;
                Ok(Some((entry.clone(), record)))
            }
        })
        .collect()
}

/// Which way each metric improves, per the policies the decisions cite (their gates'
/// bounds and tolerances, as `vouch_policy::Policy::lower_is_better` reads them).
fn policy_directions(at: &At<'_>, records: &[&DecisionRecorded]) -> Result<BTreeMap<Name, bool>> {
    let positions: BTreeSet<u64> = records.iter().map(|r| r.policy_position).collect();
    let mut out = BTreeMap::new();
    for position in positions {
        let read = at
            .ledger()
            .read_positions(&[position])
            .map_err(|e| UiError::new(release_failure(&e), e))?;
        let Some(event) = read
            .first()
            .and_then(|r| vouch_event::decode(&r.bytes).ok())
        else {
            continue;
        };
        if let Body::PolicyPublished(p) = event.body {
            if let Ok(policy) = vouch_policy::Policy::parse(&p.text) {
                for (metric, lower) in policy.lower_is_better() {
                    // Policies that disagree: the safer reading (higher), as each does.
                    let entry = out.entry(metric).or_insert(lower);
                    *entry &= lower;
                }
            }
        }
    }
    Ok(out)
}

fn picker(at: &At<'_>, request: &CompareRequest) -> Result<Html> {
    let views = at.views();
    let mut experiments: Vec<String> = views
        .experiments()
        .map_err(views_fail)?
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    experiments.sort();
    let docs = vouch_app::runs::list(
        at,
        &RunQuery {
            experiment: request.experiment.clone(),
            conditions: Vec::new(),
        },
    )
    .map_err(views_fail)?;
    let picks = docs
        .iter()
        .take(PICK_LIMIT)
        .map(|d| Pick {
            run: d.run.to_string(),
            name: d.name().unwrap_or("").to_owned(),
            experiment: d.experiment().unwrap_or("").to_owned(),
            status: d.status(),
            checked: request.runs.iter().any(|r| r == d.run.as_str()),
        })
        .collect();
    let body = ComparePage {
        nav: "compare",
        picking: true,
        as_of: at.position().map(|p| p.get()),
        experiments,
        experiment: request.experiment.clone().unwrap_or_default(),
        picks,
        pick_total: docs.len(),
        columns: Vec::new(),
        params: Vec::new(),
        metrics: Vec::new(),
        verdicts: Vec::new(),
        any_verdict: false,
        gates: Vec::new(),
        charts: Vec::new(),
        legend: Vec::new(),
        by_name: Vec::new(),
        undirected: Vec::new(),
    }
    .render()?;
    Ok(Html::ok(body))
}

/// Renders the compare page at `at`: the comparison of two runs or more, else the form
/// that picks them.
///
/// # Errors
/// 404 for a run the ledger does not hold; otherwise when the views or the log fail or
/// the page does not render.
pub fn render(at: &At<'_>, request: &CompareRequest) -> Result<Html> {
    if request.runs.len() < 2 {
        return picker(at, request);
    }
    let ids = request
        .runs
        .iter()
        .map(|r| {
            RunId::new(r.as_str()).map_err(|_| {
                UiError::new(Failure::Unknown, format!("unknown run `{r}`: not a run id"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let comparison =
        vouch_app::compare::compare(at, &ids).map_err(|e| UiError::new(runs_failure(&e), e))?;
    let docs = &comparison.runs;
    let decisions = latest_decisions(at, &ids)?;
    let records: Vec<&DecisionRecorded> = decisions.iter().flatten().map(|(_, r)| r).collect();
    let directions = policy_directions(at, &records)?;

    let columns = docs
        .iter()
        .map(|d| Column {
            run: d.run.to_string(),
            href: format!("/runs/{}", encode(d.run.as_str())),
            name: d.name().unwrap_or("").to_owned(),
            status: d.status(),
            class: status_class(d.status()),
            started: d.started.as_ref().map(|s| when(s.time)).unwrap_or_default(),
        })
        .collect();
    let params = comparison
        .params()
        .into_iter()
        .map(|p| {
            let values: Vec<Option<&str>> = docs
                .iter()
                .map(|d| d.params.get(p).map(|v| v.value.as_str()))
                .collect();
            ParamRow {
                name: p.to_string(),
                differs: values.windows(2).any(|w| w[0] != w[1]),
                values: values
                    .into_iter()
                    .map(|v| v.unwrap_or("").to_owned())
                    .collect(),
            }
        })
        .collect();
    // Metrics a run's latest decision failed a gate on (`auc`, `auc[region=EU]`).
    let failed: Vec<BTreeSet<&str>> = decisions
        .iter()
        .map(|d| {
            d.iter()
                .flat_map(|(_, r)| &r.gates)
                .filter(|g| g.verdict == GateVerdict::Fail)
                .filter_map(|g| g.metric.as_deref())
                .collect()
        })
        .collect();
    let mut by_name = BTreeSet::new();
    let mut undirected = BTreeSet::new();
    let metrics = comparison
        .metrics()
        .into_iter()
        .map(|key| {
            let l = label(key);
            let values: Vec<Option<f64>> = docs
                .iter()
                .map(|d| d.metrics.get(key).map(|m| m.value))
                .collect();
            let direction = match directions.get(&key.name) {
                Some(lower) => Some(Direction {
                    lower: *lower,
                    from_policy: true,
                }),
                None => direction_by_name(key.name.as_str()).map(|lower| Direction {
                    lower,
                    from_policy: false,
                }),
            };
            match direction {
                Some(d) if !d.from_policy => {
                    by_name.insert(key.name.to_string());
                }
                None => {
                    undirected.insert(key.name.to_string());
                }
                _ => {}
            }
            let marks =
                direction.map_or_else(|| vec![false; values.len()], |d| best(&values, d.lower));
            MetricRow {
                direction: match direction {
                    Some(Direction { lower: true, .. }) => "lower is better",
                    Some(Direction { lower: false, .. }) => "higher is better",
                    None => "",
                },
                cells: values
                    .iter()
                    .zip(marks)
                    .zip(&failed)
                    .map(|((v, best), failed)| Cell {
                        text: v.map(number).unwrap_or_default(),
                        best,
                        failed: failed.contains(l.as_str()),
                    })
                    .collect(),
                label: l,
            }
        })
        .collect();

    let verdicts: Vec<Option<Verdict>> = decisions
        .iter()
        .map(|d| {
            d.as_ref().map(|(entry, record)| {
                let outcome = entry.outcome.as_str();
                Verdict {
                    outcome,
                    class: match outcome {
                        "promoted" => "ok",
                        "rejected" => "bad",
                        _ => "warn",
                    },
                    hash: entry.hash.hex(),
                    short: short(&entry.hash.hex()),
                    decided: when(entry.decided_at),
                    model: entry.model.to_string(),
                    policy: entry.policy_version.clone(),
                    failing: record
                        .gates
                        .iter()
                        .filter(|g| g.verdict == GateVerdict::Fail)
                        .map(|g| g.gate.clone())
                        .collect(),
                }
            })
        })
        .collect();
    // Every gate any of the decisions judged, in the order first met.
    let mut gate_names: Vec<(String, String)> = Vec::new();
    for (_, record) in decisions.iter().flatten() {
        for g in &record.gates {
            if !gate_names.iter().any(|(n, _)| n == &g.gate) {
                gate_names.push((g.gate.clone(), g.metric.clone().unwrap_or_default()));
            }
        }
    }
    let gates = gate_names
        .into_iter()
        .map(|(gate, metric)| GateRow {
            cells: decisions
                .iter()
                .map(|d| {
                    let (_, record) = d.as_ref()?;
                    let g = record.gates.iter().find(|g| g.gate == gate)?;
                    let (verdict, class) = verdict_name(g.verdict);
                    let text = match g.candidate {
                        Some(v) => format!("{} ({})", number(v), g.threshold),
                        None => g.threshold.clone(),
                    };
                    Some(GateCell {
                        verdict,
                        class,
                        text,
                        reason: g.reason.clone(),
                    })
                })
                .collect(),
            gate,
            metric,
        })
        .collect();

    // Histories overlaid: every series some run logged more than one value of, each run's
    // read in one scan.
    let drawn: BTreeSet<vouch_views::MetricKey> = comparison
        .metrics()
        .into_iter()
        .filter(|key| {
            docs.iter()
                .any(|d| d.metrics.get(*key).is_some_and(|m| m.count > 1))
        })
        .take(MAX_CHARTS)
        .cloned()
        .collect();
    let mut histories = Vec::with_capacity(docs.len());
    for d in docs {
        let logged: BTreeSet<vouch_views::MetricKey> = drawn
            .iter()
            .filter(|k| d.metrics.contains_key(*k))
            .cloned()
            .collect();
        histories.push(at.views().histories(&d.run, &logged).map_err(views_fail)?);
    }
    let charts = drawn
        .iter()
        .map(|key| {
            let series: Vec<Series> = docs
                .iter()
                .zip(&histories)
                .map(|(d, h)| Series {
                    label: d.run.to_string(),
                    points: h
                        .get(key)
                        .map(|points| history_points(points).0)
                        .unwrap_or_default(),
                })
                .collect();
            let l = label(key);
            Chart {
                svg: chart::line_chart(&format!("{l}, one line per run"), &series, &[]),
                label: l,
            }
        })
        .collect();
    let legend = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (i % 6, d.run.to_string()))
        .collect();
    let body = ComparePage {
        nav: "compare",
        picking: false,
        as_of: at.position().map(|p| p.get()),
        experiments: Vec::new(),
        experiment: String::new(),
        picks: Vec::new(),
        pick_total: 0,
        columns,
        params,
        metrics,
        any_verdict: verdicts.iter().any(Option::is_some),
        verdicts,
        gates,
        charts,
        legend,
        by_name: by_name.into_iter().collect(),
        undirected: undirected.into_iter().collect(),
    }
    .render()?;
    Ok(Html::ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_value_is_marked_in_the_metric_s_direction() {
        let v = [Some(0.86), Some(0.874), None, Some(0.874)];
        assert_eq!(best(&v, false), [false, true, false, true]);
        assert_eq!(best(&v, true), [true, false, false, false]);
        // Nothing to prefer: one value, or all equal, or none finite.
        assert_eq!(best(&[Some(1.0), None], true), [false, false]);
        assert_eq!(best(&[Some(1.0), Some(1.0)], true), [false, false]);
        assert_eq!(
            best(&[Some(f64::NAN), Some(f64::INFINITY), Some(2.0)], true),
            [false, false, false]
        );
        assert_eq!(
            best(&[Some(f64::NAN), Some(3.0), Some(2.0)], true),
            [false, false, true]
        );
    }

    #[test]
    fn names_say_a_direction_only_in_their_words() {
        assert_eq!(direction_by_name("latency_p95_ms"), Some(true));
        assert_eq!(direction_by_name("val_loss"), Some(true));
        assert_eq!(direction_by_name("demographic_parity_gap"), Some(true));
        assert_eq!(direction_by_name("cost_per_1k"), Some(true));
        assert_eq!(direction_by_name("ece"), Some(true));
        assert_eq!(direction_by_name("auc"), Some(false));
        assert_eq!(direction_by_name("val.f1"), Some(false));
        assert_eq!(direction_by_name("top1_accuracy"), Some(false));
        // Not a word of the name, or no direction, or both.
        assert_eq!(direction_by_name("glossary_size"), None);
        assert_eq!(direction_by_name("throughput"), None);
        assert_eq!(direction_by_name("error_vs_accuracy"), None);
    }

    #[test]
    fn requests_read_repeated_runs_once_in_order() {
        let pairs: Vec<(String, String)> = [
            ("run", "b"),
            ("run", "a"),
            ("run", "b"),
            ("run", " "),
            ("experiment", "x"),
            ("other", "y"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let r = CompareRequest::from_query(&pairs);
        assert_eq!(r.runs, ["b", "a"]);
        assert_eq!(r.experiment.as_deref(), Some("x"));
    }
}
