//! `/runs`: experiments and their runs, filtered with the same conditions as `vouch runs
//! list --where` (segments included), sorted by any metric, one page at a time.

use std::collections::BTreeMap;

use askama::Template;
use vouch_app::as_of::At;
use vouch_views::{Condition, MetricKey, RunDoc, RunOrder, RunQuery};

use super::{number, short, when};
use crate::{Html, Result, UiError};

/// Runs per page.
pub const PAGE_SIZE: usize = 50;
/// Metric columns shown at most (the ones most runs have).
const METRIC_COLUMNS: usize = 6;

/// What the runs page was asked for: its URL's query.
#[derive(Debug, Clone, Default)]
pub struct RunsRequest {
    /// Only runs of this experiment.
    pub experiment: Option<String>,
    /// Conditions, as `--where` takes them (`auc>0.8`, `auc[region=EU]>=0.84`).
    pub conditions: Vec<String>,
    /// The metric to sort by (`auc`, `auc[region=EU]`); none: by run id.
    pub sort: Option<String>,
    /// `asc` or `desc` (the default for a metric).
    pub dir: Option<String>,
    /// The page, from 1.
    pub page: Option<usize>,
}

impl RunsRequest {
    /// The request a query string's pairs make (`where` may repeat; the form's one box
    /// may also hold several conditions separated by spaces). Unknown keys are ignored,
    /// as a page's links may carry more.
    pub fn from_query(pairs: &[(String, String)]) -> RunsRequest {
        let mut r = RunsRequest::default();
        for (k, v) in pairs {
            match k.as_str() {
                "experiment" => r.experiment = Some(v.clone()),
                "where" => r.conditions.extend(v.split_whitespace().map(str::to_owned)),
                "sort" => r.sort = Some(v.clone()),
                "dir" => r.dir = Some(v.clone()),
                "page" => r.page = v.parse().ok(),
                _ => {}
            }
        }
        r
    }
}

struct Row {
    run: String,
    name: String,
    experiment: String,
    status: &'static str,
    class: &'static str,
    started: String,
    duration: String,
    commit: String,
    metrics: Vec<String>,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage<'a> {
    nav: &'a str,
    experiments: Vec<String>,
    experiment: String,
    conditions: String,
    sort: String,
    error: Option<String>,
    rows: Vec<Row>,
    total: usize,
    first: usize,
    previous: Option<String>,
    next: Option<String>,
    /// Per metric column: its label, the link that sorts by it, and an arrow on the
    /// column sorted by.
    sort_links: Vec<(String, String, &'static str)>,
}

fn status_class(doc: &RunDoc) -> &'static str {
    match doc.status() {
        "ok" => "ok",
        "failed" | "killed" => "bad",
        _ => "warn",
    }
}

fn duration(doc: &RunDoc) -> String {
    match (&doc.started, &doc.finished) {
        (Some(s), Some(f)) => {
            let secs = (f.time.unix_nanos() - s.time.unix_nanos()) / 1_000_000_000;
            match secs {
                s if s < 120 => format!("{s} s"),
                s if s < 7200 => format!("{} min", s / 60),
                s => format!("{:.1} h", s as f64 / 3600.0),
            }
        }
        _ => String::new(),
    }
}

/// The query string of the runs page with `change` applied.
fn link(request: &RunsRequest, change: impl FnOnce(&mut RunsRequest)) -> String {
    let mut r = request.clone();
    change(&mut r);
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(e) = r.experiment.as_ref().filter(|e| !e.is_empty()) {
        pairs.push(("experiment", e.clone()));
    }
    for c in r.conditions.iter().filter(|c| !c.trim().is_empty()) {
        pairs.push(("where", c.clone()));
    }
    if let Some(s) = r.sort.as_ref().filter(|s| !s.is_empty()) {
        pairs.push(("sort", s.clone()));
    }
    if let Some(d) = &r.dir {
        pairs.push(("dir", d.clone()));
    }
    if let Some(p) = r.page.filter(|&p| p > 1) {
        pairs.push(("page", p.to_string()));
    }
    let query: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode(&v)))
        .collect();
    if query.is_empty() {
        "/runs".to_owned()
    } else {
        format!("/runs?{}", query.join("&"))
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders the runs page at `at`.
///
/// # Errors
/// When the views fail or the page does not render.
pub fn render(at: &At<'_>, request: &RunsRequest) -> Result<Html> {
    let views = at.views();
    let fail = |e: vouch_views::ViewsError| UiError::new(vouch_app::failure::views_failure(&e), e);
    let mut experiments: Vec<String> = views
        .experiments()
        .map_err(fail)?
        .into_iter()
        .map(|e| e.name.to_string())
        .collect();
    experiments.sort();
    let mut error = None;
    let mut conditions = Vec::new();
    for text in request.conditions.iter().filter(|c| !c.trim().is_empty()) {
        match Condition::parse(text.trim()) {
            Ok(c) => conditions.push(c),
            Err(e) => error = Some(format!("where `{text}`: {e}")),
        }
    }
    let sort_key = match request.sort.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => match vouch_app::runs::parse_metric_key(text) {
            Ok(k) => Some(k),
            Err(e) => {
                error = Some(format!("sort `{text}`: {e}"));
                None
            }
        },
    };
    let desc = request.dir.as_deref() != Some("asc") && sort_key.is_some()
        || request.dir.as_deref() == Some("desc");
    let page = request.page.unwrap_or(1).max(1);
    let first = (page - 1) * PAGE_SIZE;
    let (total, docs) = if error.is_some() {
        (0, Vec::new())
    } else {
        let query = RunQuery {
            experiment: request.experiment.clone().filter(|e| !e.is_empty()),
            conditions,
        };
        let order = match &sort_key {
            Some(key) => RunOrder::Metric {
                key: key.clone(),
                descending: desc,
            },
            None => RunOrder::Id { descending: desc },
        };
        let page = vouch_app::runs::page(at, &query, &order, first, PAGE_SIZE).map_err(fail)?;
        (page.total, page.runs)
    };
    // The metric columns most of the page's runs have (whole-set values), the sort key
    // first.
    let mut seen: BTreeMap<&MetricKey, usize> = BTreeMap::new();
    for d in &docs {
        for k in d.metrics.keys().filter(|k| k.segment.is_none()) {
            *seen.entry(k).or_default() += 1;
        }
    }
    let mut columns: Vec<&MetricKey> = seen.keys().copied().collect();
    columns.sort_by_key(|k| std::cmp::Reverse(seen[k]));
    columns.truncate(METRIC_COLUMNS);
    if let Some(key) = &sort_key {
        columns.retain(|k| *k != key);
        columns.insert(0, key);
    }
    let columns: Vec<MetricKey> = columns.into_iter().cloned().collect();
    let rows = docs
        .iter()
        .map(|d| Row {
            run: d.run.to_string(),
            name: d.name().unwrap_or("").to_owned(),
            experiment: d.experiment().unwrap_or("").to_owned(),
            status: d.status(),
            class: status_class(d),
            started: d.started.as_ref().map(|s| when(s.time)).unwrap_or_default(),
            duration: duration(d),
            commit: d
                .started
                .as_ref()
                .and_then(|s| s.git.as_ref().map(|g| g.commit.clone()))
                .or_else(|| d.tags.get("mlflow.source.git.commit").cloned())
                .map(|c| short(&c)[..c.len().min(8)].to_owned())
                .unwrap_or_default(),
            metrics: columns
                .iter()
                .map(|k| {
                    d.metrics
                        .get(k)
                        .map(|m| number(m.value))
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let sort_links = columns
        .iter()
        .map(|k| {
            let label = vouch_app::runs::label(k);
            let sorted = sort_key.as_ref() == Some(k);
            let flip = sorted && desc;
            let href = link(request, |r| {
                r.sort = Some(label.clone());
                r.dir = Some(if flip { "asc" } else { "desc" }.to_owned());
                r.page = None;
            });
            let mark = match (sorted, desc) {
                (true, true) => " ↓",
                (true, false) => " ↑",
                _ => "",
            };
            (label, href, mark)
        })
        .collect();
    let previous = (page > 1).then(|| link(request, |r| r.page = Some(page - 1)));
    let next = (first + PAGE_SIZE < total).then(|| link(request, |r| r.page = Some(page + 1)));
    let status = if error.is_some() { 400 } else { 200 };
    let body = RunsPage {
        nav: "runs",
        experiments,
        experiment: request.experiment.clone().unwrap_or_default(),
        conditions: request.conditions.join(" "),
        sort: request.sort.clone().unwrap_or_default(),
        error,
        rows,
        total,
        first,
        previous,
        next,
        sort_links,
    }
    .render()?;
    Ok(Html { body, status })
}
