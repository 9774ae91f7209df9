//! Runs side by side: their params and latest metric values. What `vouch compare` prints
//! and `GET /api/v1/compare` answers.

use std::collections::BTreeSet;

use serde::{Serialize, Serializer};
use vouch_event::{Name, RunId};
use vouch_views::{MetricKey, RunDoc};

use crate::as_of::At;
use crate::runs::{find, label, RunsError};

/// The runs compared, in the order asked.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Each run's document.
    pub runs: Vec<RunDoc>,
}

impl Comparison {
    /// Every param any of the runs logged, in name order.
    pub fn params(&self) -> BTreeSet<&Name> {
        self.runs.iter().flat_map(|d| d.params.keys()).collect()
    }

    /// Every metric (and segment) any of the runs logged, in key order.
    pub fn metrics(&self) -> BTreeSet<&MetricKey> {
        self.runs.iter().flat_map(|d| d.metrics.keys()).collect()
    }
}

/// `{"runs": [ids], "params": {name: [value or null per run]}, "metrics": {label: [latest
/// value or null per run]}}`.
impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let docs = &self.runs;
        let params: serde_json::Map<String, serde_json::Value> = self
            .params()
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    docs.iter()
                        .map(|d| d.params.get(*p).map(|v| v.value.clone()))
                        .collect(),
                )
            })
            .collect();
        let metrics: serde_json::Map<String, serde_json::Value> = self
            .metrics()
            .iter()
            .map(|m| {
                (
                    label(m),
                    docs.iter()
                        .map(|d| d.metrics.get(*m).map(|v| v.value))
                        .collect(),
                )
            })
            .collect();
        let ids: Vec<&RunId> = docs.iter().map(|d| &d.run).collect();
        serde_json::json!({ "runs": ids, "params": params, "metrics": metrics })
            .serialize(serializer)
    }
}

/// Compares `runs` (two or more) as `at` holds them.
///
/// # Errors
/// [`RunsError::TooFewRuns`], [`RunsError::UnknownRun`] for the first run the views do not
/// hold; otherwise when the views fail.
pub fn compare(at: &At<'_>, runs: &[RunId]) -> Result<Comparison, RunsError> {
    if runs.len() < 2 {
        return Err(RunsError::TooFewRuns(runs.len()));
    }
    let runs = runs
        .iter()
        .map(|r| find(at, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Comparison { runs })
}
