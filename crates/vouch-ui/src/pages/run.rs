//! `/runs/{run}`: one run as the ledger holds it — its facts, params, latest metrics
//! (whole set and per segment), each metric's history as a chart, its artifacts (with a
//! download link when the content store holds the bytes) and its datasets with their
//! ages. What `vouch runs show` prints, drawn.

use std::collections::{BTreeMap, BTreeSet};

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::runs::{label, ShowRequest};
use vouch_event::{Digest, RunId, Timestamp};
use vouch_views::{MetricKey, MetricPoint, RunDoc};

use super::runs::encode;
use super::{number, short, when};
use crate::chart::{self, Reference, Series};
use crate::{Html, Result, UiError};

/// History charts drawn at most on one page (the others are linked, one chart each).
pub const MAX_CHARTS: usize = 24;

/// What the run page was asked for: the run in its path, and its URL's query.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    /// The run, as the path names it.
    pub run: String,
    /// Only this metric's history (`auc`, `auc[region=EU]`), instead of every metric's.
    pub history: Option<String>,
}

impl RunRequest {
    /// The request for `run` with a query string's pairs. Unknown keys are ignored, as a
    /// page's links may carry more.
    pub fn from_query(run: &str, pairs: &[(String, String)]) -> RunRequest {
        let mut r = RunRequest {
            run: run.to_owned(),
            history: None,
        };
        for (k, v) in pairs {
            if k == "history" && !v.trim().is_empty() {
                r.history = Some(v.trim().to_owned());
            }
        }
        r
    }
}

struct MetricRow {
    label: String,
    value: String,
    step: String,
    count: u64,
    time: String,
}

struct SegmentRow {
    metric: String,
    segment: String,
    value: String,
}

struct SegmentChart {
    metric: String,
    svg: String,
}

struct HistoryChart {
    label: String,
    points: usize,
    axis: &'static str,
    svg: String,
}

struct ArtifactRow {
    name: String,
    digest: String,
    short: String,
    size: String,
    bytes: u64,
    uri: String,
    downloadable: bool,
}

struct DatasetRow {
    role: &'static str,
    name: String,
    rows: u64,
    digest: String,
    short: String,
    snapshot: String,
    snapshot_age: String,
    labels: String,
    labels_age: String,
    uri: String,
}

struct InputRow {
    name: String,
    digest: String,
    context: String,
    source_type: String,
    source: String,
    profile: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage<'a> {
    nav: &'a str,
    run: String,
    run_query: String,
    name: String,
    experiment: String,
    status: &'static str,
    class: &'static str,
    started: String,
    finished: String,
    duration: String,
    producer: String,
    commit: String,
    dirty: bool,
    tags: Vec<(String, String)>,
    env: Vec<(String, String)>,
    as_of: Option<u64>,
    now: String,
    params: Vec<(String, String)>,
    metrics: Vec<MetricRow>,
    segments: Vec<SegmentRow>,
    segment_charts: Vec<SegmentChart>,
    charts: Vec<HistoryChart>,
    /// Metrics with a history not drawn here, each with the link that draws it.
    more_charts: Vec<(String, String)>,
    artifacts: Vec<ArtifactRow>,
    datasets: Vec<DatasetRow>,
    inputs: Vec<InputRow>,
    model_outputs: Vec<String>,
}

/// Whether a run's status reads as good, bad or neither (the badge's class).
pub(crate) fn status_class(status: &str) -> &'static str {
    match status {
        "ok" => "ok",
        "failed" | "killed" => "bad",
        _ => "warn",
    }
}

/// How long `t` lies before `now`, as people read it (`3 days ago`, `in 2 h`).
pub(crate) fn age(now: Timestamp, t: Timestamp) -> String {
    let secs = (now.unix_nanos() - t.unix_nanos()) / 1_000_000_000;
    let (future, secs) = (secs < 0, secs.unsigned_abs());
    let text = match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A byte count as people read it.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The run's duration, from its start to its end.
pub(crate) fn duration(doc: &RunDoc) -> String {
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

/// The commit the run trained from: Vouch's `run_started.git`, else MLflow's tag.
pub(crate) fn commit(doc: &RunDoc) -> Option<(String, bool)> {
    doc.started
        .as_ref()
        .and_then(|s| s.git.as_ref().map(|g| (g.commit.clone(), g.dirty)))
        .or_else(|| {
            doc.tags
                .get("mlflow.source.git.commit")
                .map(|c| (c.clone(), false))
        })
}

/// A history as chart points: by step when every point has one, else by log order.
/// Non-finite values stay in (the chart skips them). Returns the points and the axis.
pub(crate) fn history_points(points: &[MetricPoint]) -> (Vec<(f64, f64)>, &'static str) {
    if points.iter().all(|p| p.step.is_some()) {
        let mut out: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.step.unwrap_or_default() as f64, p.value))
            .collect();
        // Steps may arrive out of order (a resumed run); a line is drawn in x order.
        if out.windows(2).any(|w| w[0].0 > w[1].0) {
            out.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        (out, "step")
    } else {
        (
            points
                .iter()
                .enumerate()
                .map(|(i, p)| (i as f64, p.value))
                .collect(),
            "value number (log order)",
        )
    }
}

/// One metric's history drawn as a line chart (downsampled to the chart's width).
fn history_chart(key: &MetricKey, points: &[MetricPoint]) -> HistoryChart {
    let label = label(key);
    let (xy, axis) = history_points(points);
    let svg = chart::line_chart(
        &format!("{label} by {axis}"),
        &[Series {
            label: label.clone(),
            points: xy,
        }],
        &[],
    );
    HistoryChart {
        label,
        points: points.len(),
        axis,
        svg,
    }
}

fn views_fail(e: vouch_views::ViewsError) -> UiError {
    UiError::new(vouch_app::failure::views_failure(&e), e)
}

/// The digests of `doc`'s artifacts whose bytes the ledger's content store holds.
fn stored(at: &At<'_>, doc: &RunDoc) -> BTreeMap<Digest, bool> {
    let store = vouch_mlflow::artifacts::BlobStore::new(at.ledger().dir());
    doc.artifacts
        .iter()
        .map(|a| (a.digest, store.path(&a.digest).is_file()))
        .collect()
}

/// Renders the run page at `at`; ages are measured to `now` (the server's clock, or the
/// time of the past viewed).
///
/// # Errors
/// 404 for a run the ledger does not hold (or a history of a metric it never logged,
/// 400); otherwise when the views fail or the page does not render.
pub fn render(at: &At<'_>, request: &RunRequest, now: Timestamp) -> Result<Html> {
    let run = RunId::new(request.run.as_str()).map_err(|_| {
        UiError::new(
            vouch_app::failure::Failure::Unknown,
            format!("unknown run `{}`: not a run id", request.run),
        )
    })?;
    let only = match &request.history {
        Some(text) => Some(vouch_app::runs::parse_metric_key(text).map_err(|e| {
            UiError::new(
                vouch_app::failure::Failure::BadInput,
                format!("history `{text}`: {e}"),
            )
        })?),
        None => None,
    };
    let shown = vouch_app::runs::show(
        at,
        &ShowRequest {
            run: run.clone(),
            history: only.clone(),
        },
    )
    .map_err(|e| UiError::new(vouch_app::failure::runs_failure(&e), e))?;
    let doc = &shown.doc;
    let now = at.past().and_then(|p| p.time()).unwrap_or(now);

    let metrics = doc
        .metrics
        .iter()
        .filter(|(k, _)| k.segment.is_none())
        .map(|(k, m)| MetricRow {
            label: label(k),
            value: number(m.value),
            step: m.step.map(|s| s.to_string()).unwrap_or_default(),
            count: m.count,
            time: when(m.time),
        })
        .collect();
    let mut segments = Vec::new();
    let mut by_metric: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    for (k, m) in &doc.metrics {
        if let Some(segment) = &k.segment {
            segments.push(SegmentRow {
                metric: k.name.to_string(),
                segment: segment.to_string(),
                value: number(m.value),
            });
            by_metric
                .entry(k.name.to_string())
                .or_default()
                .push((segment.to_string(), m.value));
        }
    }
    let segment_charts = by_metric
        .into_iter()
        .map(|(metric, bars)| {
            let overall: Vec<Reference> = doc
                .metrics
                .iter()
                .find(|(k, _)| k.segment.is_none() && k.name.as_str() == metric)
                .map(|(_, m)| Reference {
                    label: format!("{metric} overall"),
                    y: m.value,
                })
                .into_iter()
                .collect();
            let svg = chart::bar_chart(&format!("{metric} by segment"), &bars, &overall);
            SegmentChart { metric, svg }
        })
        .collect();

    // Histories: the one asked for, else every series with more than one value.
    let mut charts = Vec::new();
    let mut more_charts = Vec::new();
    if let Some((key, points)) = &shown.history {
        charts.push(history_chart(key, points));
    } else {
        let series: Vec<(&MetricKey, u64)> = doc
            .metrics
            .iter()
            .filter(|(_, m)| m.count > 1)
            .map(|(k, m)| (k, m.count))
            .collect();
        let drawn: BTreeSet<MetricKey> = series
            .iter()
            .take(MAX_CHARTS)
            .map(|(k, _)| (*k).clone())
            .collect();
        // One scan of the run's history for every series drawn.
        let histories = at.views().histories(&run, &drawn).map_err(views_fail)?;
        for (key, points) in &histories {
            charts.push(history_chart(key, points));
        }
        for (key, count) in series.iter().skip(MAX_CHARTS) {
            let l = label(key);
            let href = format!("/runs/{}?history={}", encode(run.as_str()), encode(&l));
            more_charts.push((format!("{l} ({count} values)"), href));
        }
    }

    let store = stored(at, doc);
    let artifacts = doc
        .artifacts
        .iter()
        .map(|a| ArtifactRow {
            name: a.name.clone(),
            digest: a.digest.to_string(),
            short: short(&a.digest.to_string()),
            size: size(a.size),
            bytes: a.size,
            uri: a.uri.clone(),
            downloadable: store.get(&a.digest).copied().unwrap_or(false),
        })
        .collect();
    let stamp = |t: Option<Timestamp>| t.map(when).unwrap_or_default();
    let ago = |t: Option<Timestamp>| t.map(|t| age(now, t)).unwrap_or_default();
    let datasets = doc
        .datasets
        .iter()
        .map(|d| DatasetRow {
            role: d.role.as_str(),
            name: d.name.clone(),
            rows: d.rows,
            digest: d.digest.to_string(),
            short: short(&d.digest.to_string()),
            snapshot: stamp(d.snapshot_at),
            snapshot_age: ago(d.snapshot_at),
            labels: stamp(d.labels_through),
            labels_age: ago(d.labels_through),
            uri: d.uri.clone().unwrap_or_default(),
        })
        .collect();
    let inputs = doc
        .inputs
        .iter()
        .map(|i| {
            let d = &i.dataset;
            InputRow {
                name: d.name.clone(),
                digest: d.digest.clone(),
                context: d
                    .tags
                    .get("mlflow.data.context")
                    .cloned()
                    .unwrap_or_default(),
                source_type: d.source_type.clone().unwrap_or_default(),
                source: d.source.clone().unwrap_or_default(),
                profile: d.profile.clone().unwrap_or_default(),
            }
        })
        .collect();
    let mut env = Vec::new();
    if let Some(e) = doc.started.as_ref().and_then(|s| s.env.as_ref()) {
        env.push(("os".to_owned(), e.os.clone()));
        env.push(("cpu".to_owned(), e.cpu.clone()));
        env.push(("host".to_owned(), e.host.clone()));
        env.extend(e.tools.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let (commit, dirty) = commit(doc).unwrap_or_default();
    let status = doc.status();
    let body = RunPage {
        nav: "runs",
        run: run.to_string(),
        run_query: encode(run.as_str()),
        name: doc.name().unwrap_or("").to_owned(),
        experiment: doc.experiment().unwrap_or("").to_owned(),
        status,
        class: status_class(status),
        started: doc
            .started
            .as_ref()
            .map(|s| when(s.time))
            .unwrap_or_default(),
        finished: doc
            .finished
            .as_ref()
            .map(|f| when(f.time))
            .unwrap_or_default(),
        duration: duration(doc),
        producer: doc
            .started
            .as_ref()
            .map(|s| s.producer.clone())
            .unwrap_or_default(),
        commit,
        dirty,
        tags: doc
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        env,
        as_of: at.position().map(|p| p.get()),
        now: when(now),
        params: doc
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.value.clone()))
            .collect(),
        metrics,
        segments,
        segment_charts,
        charts,
        more_charts,
        artifacts,
        datasets,
        inputs,
        model_outputs: doc
            .model_outputs
            .iter()
            .map(|m| m.model_id.clone())
            .collect(),
    }
    .render()?;
    Ok(Html::ok(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: Option<u64>, value: f64) -> MetricPoint {
        MetricPoint {
            step,
            value,
            time: Timestamp::from_unix_nanos(0),
            position: 0,
        }
    }

    #[test]
    fn requests_read_their_query() {
        let pairs = vec![
            ("history".to_owned(), " auc[region=EU] ".to_owned()),
            ("other".to_owned(), "x".to_owned()),
        ];
        let r = RunRequest::from_query("run-1", &pairs);
        assert_eq!(r.run, "run-1");
        assert_eq!(r.history.as_deref(), Some("auc[region=EU]"));
        let empty = RunRequest::from_query("run-1", &[("history".into(), "".into())]);
        assert_eq!(empty.history, None);
    }

    #[test]
    fn histories_chart_by_step_or_by_order_and_survive_non_finite_values() {
        let points = [
            point(Some(2), 0.5),
            point(Some(0), f64::NAN),
            point(Some(1), f64::INFINITY),
            point(Some(3), 0.7),
        ];
        let (xy, axis) = history_points(&points);
        assert_eq!(axis, "step");
        assert_eq!(
            xy.iter().map(|p| p.0).collect::<Vec<_>>(),
            [0.0, 1.0, 2.0, 3.0]
        );
        let key = vouch_app::runs::parse_metric_key("loss").unwrap();
        let c = history_chart(&key, &points);
        assert!(
            !c.svg.contains("NaN") && !c.svg.contains("inf"),
            "{}",
            c.svg
        );
        assert_eq!(c.svg.matches("<polyline").count(), 1);
        let (_, axis) = history_points(&[point(None, 1.0), point(Some(1), 2.0)]);
        assert_eq!(axis, "value number (log order)");
        let all_nan = history_chart(&key, &[point(Some(0), f64::NAN), point(Some(1), f64::NAN)]);
        assert!(all_nan.svg.contains("no finite values"));
    }

    #[test]
    fn ages_and_sizes_read_as_people_read_them() {
        let day = 86_400_000_000_000;
        let now = Timestamp::from_unix_nanos(100 * day);
        assert_eq!(age(now, Timestamp::from_unix_nanos(97 * day)), "3 days ago");
        assert_eq!(age(now, Timestamp::from_unix_nanos(101 * day)), "in 24 h");
        assert_eq!(age(now, now), "0 s ago");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
    }
}
