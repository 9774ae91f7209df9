//! `/diagnose/{model}`: the on-call diagnosis of a deployed model, the same findings in
//! the same order as `vouch diagnose` (both call `vouch_app::diagnose`), then the live
//! metrics per segment drawn against what validation promised.

use std::collections::BTreeMap;

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::failure::{diagnose_failure, views_failure, Failure};
use vouch_app::Clock;
use vouch_diagnose::{Diagnosis, Severity};
use vouch_event::{ModelName, Name, Segment};
use vouch_views::{MetricKey, RunDoc};

use super::{number, short, when};
use crate::chart::{line_chart, Reference, Series};
use crate::{Html, Result, UiError};

/// What the diagnose page was asked for: the model in its path, `env` and `tolerance` in
/// its query (as `vouch diagnose --env --tolerance`).
#[derive(Debug, Clone)]
pub struct DiagnoseRequest {
    /// The model, as the URL names it.
    pub model: String,
    /// The environment (`production` when not named).
    pub env: Option<String>,
    /// How far a live value may fall before it is a finding, as text.
    pub tolerance: Option<String>,
}

impl DiagnoseRequest {
    /// The request for `model` with a query string's pairs (unknown keys are ignored, as
    /// a page's links may carry more).
    pub fn from_query(model: &str, pairs: &[(String, String)]) -> DiagnoseRequest {
        let mut r = DiagnoseRequest {
            model: model.to_owned(),
            env: None,
            tolerance: None,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "env" if !v.is_empty() => r.env = Some(v.clone()),
                "tolerance" if !v.is_empty() => r.tolerance = Some(v.clone()),
                _ => {}
            }
        }
        r
    }
}

struct Row {
    rank: usize,
    severity: &'static str,
    class: &'static str,
    check: &'static str,
    title: String,
    segment: Option<String>,
    metric: String,
    facts: Vec<String>,
    evidence: String,
}

struct Live {
    window: String,
    series: String,
    value: String,
    validated: String,
    count: String,
    labels: String,
    artifact: String,
    position: u64,
}

/// A chart's (x, y) points.
type Points = Vec<(f64, f64)>;

struct Chart {
    label: String,
    svg: String,
}

#[derive(Template)]
#[template(path = "diagnose.html")]
struct DiagnosePage<'a> {
    nav: &'a str,
    model: String,
    env: String,
    tolerance: String,
    headline: String,
    verdict: String,
    critical: usize,
    warning: usize,
    unknown: usize,
    ok: usize,
    findings: Vec<Row>,
    charts: Vec<Chart>,
    since: String,
    live: Vec<Live>,
}

/// `auc`, `auc[region=EU]`: a series as the CLI names it.
fn label(metric: &Name, segment: Option<&Segment>) -> String {
    vouch_app::runs::label(&MetricKey {
        name: metric.clone(),
        segment: segment.cloned(),
    })
}

/// The production decision's candidate exactly as the decision read it (what diagnosis
/// compares live values with), when there is a production version.
fn validated(at: &At<'_>, diagnosis: &Diagnosis) -> Result<Option<RunDoc>> {
    let Some(production) = &diagnosis.production else {
        return Ok(None);
    };
    let ledger = at.ledger();
    let Some(entry) = at
        .views()
        .decision(production.index)
        .map_err(|e| UiError::new(views_failure(&e), e))?
    else {
        return Ok(None);
    };
    let record = ledger
        .decision_record(&entry)
        .map_err(|e| UiError::new(vouch_app::failure::release_failure(&e), e))?;
    let (candidate, _) = vouch_replay::decision_state(ledger, &record)
        .map_err(|e| UiError::new(vouch_app::failure::replay_library_failure(&e), e))?;
    Ok(Some(candidate))
}

/// Renders the diagnosis of `request.model` at `at`, ages measured to `clock`'s now.
///
/// # Errors
/// Bad input for a malformed model or tolerance; not found for a model never released or
/// an environment it never reached (the diagnosis's own message); the store's failures.
pub fn render(at: &At<'_>, request: &DiagnoseRequest, clock: Clock) -> Result<Html> {
    let model = ModelName::new(request.model.clone())
        .map_err(|e| UiError::new(Failure::BadInput, format!("model `{}`: {e}", request.model)))?;
    let mut app = vouch_app::diagnose::DiagnoseRequest::new(model.clone());
    if let Some(env) = &request.env {
        app.env = env.clone();
    }
    if let Some(text) = &request.tolerance {
        app.tolerance = text.trim().parse().map_err(|_| {
            UiError::new(
                Failure::BadInput,
                format!("tolerance `{text}`: expected a number >= 0"),
            )
        })?;
    }
    let diagnosis = vouch_app::diagnose::diagnose(at, &app, clock)
        .map_err(|e| UiError::new(diagnose_failure(&e), e))?;
    let findings = diagnosis
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (severity, class) = match f.severity {
                Severity::Critical => ("critical", "bad"),
                Severity::Warning => ("warning", "warn"),
                Severity::Unknown => ("unknown", "warn"),
                Severity::Ok => ("ok", "ok"),
            };
            Row {
                rank: i + 1,
                severity,
                class,
                check: f.check.as_str(),
                title: f.title.clone(),
                segment: f.segment.as_ref().map(ToString::to_string),
                metric: f
                    .metric
                    .as_ref()
                    .map(|m| label(m, f.segment.as_ref()))
                    .unwrap_or_default(),
                facts: f.facts.clone(),
                evidence: if f.evidence.is_null() {
                    String::new()
                } else {
                    serde_json::to_string_pretty(&f.evidence).unwrap_or_default()
                },
            }
        })
        .collect();
    // The live series of the environment, overall first, then by segment.
    let observations: Vec<_> = at
        .views()
        .live_observations(&model)
        .map_err(|e| UiError::new(views_failure(&e), e))?
        .into_iter()
        .filter(|o| o.env == diagnosis.env)
        .collect();
    let candidate = validated(at, &diagnosis)?;
    let promised = |metric: &Name, segment: Option<&Segment>| {
        candidate.as_ref().and_then(|c| {
            c.metrics
                .get(&MetricKey {
                    name: metric.clone(),
                    segment: segment.cloned(),
                })
                .map(|m| m.value)
        })
    };
    let start = observations
        .iter()
        .map(|o| o.window_end)
        .min()
        .map(|t| t.unix_nanos());
    let mut series: BTreeMap<(Option<Segment>, Name), Points> = BTreeMap::new();
    let mut live = Vec::new();
    for o in &observations {
        let x = (o.window_end.unix_nanos() - start.unwrap_or(0)) as f64 / 86_400e9;
        for (metric, value) in &o.metrics {
            series
                .entry((o.segment.clone(), metric.clone()))
                .or_default()
                .push((x, *value));
            live.push(Live {
                window: format!("{} → {}", when(o.window_start), when(o.window_end)),
                series: label(metric, o.segment.as_ref()),
                value: number(*value),
                validated: promised(metric, o.segment.as_ref())
                    .map(number)
                    .unwrap_or_else(|| "-".into()),
                count: o.count.map(|c| c.to_string()).unwrap_or_default(),
                labels: when(o.labels_through),
                artifact: short(&o.artifact.to_string()),
                position: o.position,
            });
        }
    }
    let charts = series
        .into_iter()
        .map(|((segment, metric), mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let name = label(&metric, segment.as_ref());
            let references: Vec<Reference> = promised(&metric, segment.as_ref())
                .map(|y| Reference {
                    label: format!("validated {}", number(y)),
                    y,
                })
                .into_iter()
                .collect();
            let svg = line_chart(
                &format!("live {name} against validation"),
                &[Series {
                    label: format!("live {name}"),
                    points,
                }],
                &references,
            );
            Chart { label: name, svg }
        })
        .collect();
    let production = diagnosis.production.as_ref().map_or_else(
        || "no production version".to_owned(),
        |p| {
            format!(
                "production {} (run {}, decision #{})",
                p.version, p.run, p.index
            )
        },
    );
    let deployed = diagnosis.deployed.as_ref().map_or_else(
        || "nothing deployed".to_owned(),
        |d| format!("deployed {}", d.artifact),
    );
    let s = &diagnosis.summary;
    let body = DiagnosePage {
        nav: "models",
        model: model.to_string(),
        env: diagnosis.env.clone(),
        tolerance: diagnosis.tolerance.to_string(),
        headline: format!(
            "{production}; {deployed}; {} live observation(s); tolerance {}",
            diagnosis.observations, diagnosis.tolerance
        ),
        verdict: diagnosis.verdict.clone(),
        critical: s.critical,
        warning: s.warning,
        unknown: s.unknown,
        ok: s.ok,
        findings,
        charts,
        since: observations
            .iter()
            .map(|o| o.window_end)
            .min()
            .map(when)
            .unwrap_or_default(),
        live,
    }
    .render()?;
    Ok(Html::ok(body))
}
