//! Runs: the runs matching conditions, and one run with a metric's history, now or as of
//! an earlier point. What `vouch runs list|show` print and `GET /api/v1/runs[/{run}]`
//! answers.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vouch_event::{IdError, Name, RunId, Segment};
use vouch_log::Position;
use vouch_views::{MetricKey, MetricPoint, RunDoc, RunQuery, ViewsError};

use crate::as_of::At;

/// Why a run could not be shown or compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunsError {
    /// The ledger holds no event of the run (as of `position`, when in the past).
    #[error("{}", unknown_run(.run, *.position))]
    UnknownRun {
        /// The run asked for.
        run: RunId,
        /// The log position answered as of, when in the past.
        position: Option<Position>,
    },
    /// The run never logged the metric whose history was asked for.
    #[error("run `{run}` has no metric `{}`", label(.metric))]
    NoMetric {
        /// The run.
        run: RunId,
        /// The metric (and segment).
        metric: MetricKey,
    },
    /// A comparison needs two runs or more.
    #[error("a comparison needs two or more runs, {0} given")]
    TooFewRuns(usize),
    /// The views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
}

fn unknown_run(run: &RunId, position: Option<Position>) -> String {
    match position {
        Some(position) => format!(
            "unknown run `{run}` as of log position {position}: the ledger had no events for it then"
        ),
        None => format!("unknown run `{run}`: the ledger has no events for it"),
    }
}

/// A metric key as people write it: `auc`, or `auc[region=EU]` for a segment.
pub fn label(key: &MetricKey) -> String {
    match &key.segment {
        Some(segment) => format!("{}[{segment}]", key.name),
        None => key.name.to_string(),
    }
}

/// Parses a metric key written as [`label`] writes it.
///
/// # Errors
/// When the name or the segment is not valid.
pub fn parse_metric_key(text: &str) -> Result<MetricKey, IdError> {
    let (name, segment) = match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((name, segment)) => (name, Some(Segment::new(segment)?)),
        None => (text, None),
    };
    Ok(MetricKey {
        name: Name::new(name)?,
        segment,
    })
}

/// The runs matching every condition of `query` (and its experiment), in run order.
///
/// # Errors
/// When the views fail.
pub fn list(at: &At<'_>, query: &RunQuery) -> Result<Vec<RunDoc>, ViewsError> {
    at.views().runs(query)
}

/// One page of the runs matching `query`, in `order` (what the web UI's runs page
/// lists: only the page's documents are read when there are no conditions).
///
/// # Errors
/// When the views fail.
pub fn page(
    at: &At<'_>,
    query: &RunQuery,
    order: &vouch_views::RunOrder,
    offset: usize,
    limit: usize,
) -> Result<vouch_views::RunPage, ViewsError> {
    at.views().runs_page(query, order, offset, limit)
}

/// Which run to show.
#[derive(Debug, Clone)]
pub struct ShowRequest {
    /// The run.
    pub run: RunId,
    /// Also the full history of this metric.
    pub history: Option<MetricKey>,
}

/// A run's document, its status and, when asked for, a metric's history. Serializes as
/// the run's document with `status` (and `history: {metric, points}`) added.
#[derive(Debug, Clone, PartialEq)]
pub struct RunShown {
    /// Everything the views hold about the run.
    pub doc: RunDoc,
    /// The metric asked for and every value it took, in log order.
    pub history: Option<(MetricKey, Vec<MetricPoint>)>,
}

impl Serialize for RunShown {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut body = serde_json::to_value(&self.doc).map_err(serde::ser::Error::custom)?;
        body["status"] = serde_json::json!(self.doc.status());
        if let Some((key, points)) = &self.history {
            body["history"] = serde_json::json!({ "metric": label(key), "points": points });
        }
        body.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RunShown {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        struct History {
            metric: String,
            points: Vec<MetricPoint>,
        }
        let mut body = serde_json::Map::deserialize(deserializer)?;
        // `status` is the document's own (`RunDoc::status`), added for readers.
        body.remove("status");
        let history = match body.remove("history") {
            None => None,
            Some(h) => {
                let h: History = serde_json::from_value(h).map_err(D::Error::custom)?;
                let key = parse_metric_key(&h.metric)
                    .map_err(|e| D::Error::custom(format!("history `{}`: {e}", h.metric)))?;
                Some((key, h.points))
            }
        };
        let doc =
            serde_json::from_value(serde_json::Value::Object(body)).map_err(D::Error::custom)?;
        Ok(RunShown { doc, history })
    }
}

/// The run's document as `at` holds it.
///
/// # Errors
/// [`RunsError::UnknownRun`]; otherwise when the views fail.
pub fn find(at: &At<'_>, run: &RunId) -> Result<RunDoc, RunsError> {
    at.views().run(run)?.ok_or_else(|| RunsError::UnknownRun {
        run: run.clone(),
        position: at.position(),
    })
}

/// One run, with the history of `request.history` when asked.
///
/// # Errors
/// [`RunsError::UnknownRun`], [`RunsError::NoMetric`]; otherwise when the views fail.
pub fn show(at: &At<'_>, request: &ShowRequest) -> Result<RunShown, RunsError> {
    let doc = find(at, &request.run)?;
    let history = match &request.history {
        Some(key) => {
            if !doc.metrics.contains_key(key) {
                return Err(RunsError::NoMetric {
                    run: request.run.clone(),
                    metric: key.clone(),
                });
            }
            Some((key.clone(), at.views().history(&request.run, key)?))
        }
        None => None,
    };
    Ok(RunShown { doc, history })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_read_back_as_written() {
        for text in ["auc", "auc[region=EU]", "latency_p95_ms"] {
            assert_eq!(label(&parse_metric_key(text).unwrap()), text);
        }
        assert!(parse_metric_key("auc[bad segment]").is_err());
        assert!(parse_metric_key("").is_err());
    }
}
