//! MLflow's JSON: the request bodies the client sends and the objects it reads back.
//!
//! Requests ignore fields they do not know (the client sends legacy duplicates such as
//! `run_uuid`). Responses carry every field of MLflow's objects that the client reads;
//! the client ignores fields it does not know, so nothing here needs to be exhaustive.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use vouch_event::{AnyNumber, Timestamp};
use vouch_views::RunDoc;

/// A `{key, value}` pair (tags, params).
#[derive(Debug, Clone, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value; MLflow sends strings, but a missing value is an empty one.
    #[serde(default)]
    pub value: String,
}

/// One metric value as the client sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct MetricIn {
    /// Its name.
    pub key: String,
    /// Its value: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub value: AnyNumber,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The step; 0 when not given.
    #[serde(default)]
    pub step: i64,
    /// The dataset it was measured on.
    #[serde(default)]
    pub dataset_name: Option<String>,
    /// See `dataset_name`.
    #[serde(default)]
    pub dataset_digest: Option<String>,
    /// The logged model it was measured for.
    #[serde(default)]
    pub model_id: Option<String>,
}

/// A dataset as `log-inputs` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct DatasetIn {
    /// Its name.
    pub name: String,
    /// The client's digest.
    pub digest: String,
    /// `local`, `s3`, …
    #[serde(default)]
    pub source_type: Option<String>,
    /// A JSON string.
    #[serde(default)]
    pub source: Option<String>,
    /// A JSON string.
    #[serde(default)]
    pub schema: Option<String>,
    /// A JSON string.
    #[serde(default)]
    pub profile: Option<String>,
}

/// One dataset input with its tags.
#[derive(Debug, Clone, Deserialize)]
pub struct DatasetInputIn {
    /// Input tags (`mlflow.data.context`).
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    /// The dataset.
    pub dataset: DatasetIn,
}

/// A logged model reference.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelRefIn {
    /// The logged model's id.
    pub model_id: String,
    /// The step (for outputs).
    #[serde(default)]
    pub step: Option<i64>,
}

/// `[{key, value}]` pairs as a map (a key given twice keeps its last value, as MLflow's
/// server does).
pub(crate) fn kv_map(items: &[KeyValue]) -> vouch_event::Tags {
    items
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

/// An MLflow page token: the offset of the next page; none or empty is the first page.
pub(crate) fn page_offset(token: Option<&str>) -> crate::Result<usize> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(0),
        Some(t) => t
            .parse()
            .map_err(|_| crate::MlflowError::invalid(format!("invalid page_token `{t}`"))),
    }
}

/// Milliseconds since the epoch as a timestamp; outside Vouch's years is bad input.
pub fn from_millis(field: &str, ms: i64) -> crate::Result<Timestamp> {
    ms.checked_mul(1_000_000)
        .map(Timestamp::from_unix_nanos)
        .ok_or_else(|| crate::MlflowError::invalid(format!("{field} {ms} is out of range")))
}

/// A timestamp in milliseconds since the epoch.
pub fn millis(time: Timestamp) -> i64 {
    time.unix_nanos().div_euclid(1_000_000)
}

/// `[{key, value}]` from a map.
pub fn pairs<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
    Value::Array(
        map.into_iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// A metric value in MLflow's JSON: non-finite values as strings.
pub fn number(value: f64) -> Value {
    serde_json::to_value(AnyNumber(value)).expect("a number or a string")
}

/// A run's MLflow status name.
pub fn run_status(doc: &RunDoc) -> &'static str {
    match doc.status() {
        "ok" => "FINISHED",
        "failed" => "FAILED",
        "killed" => "KILLED",
        "running" => "RUNNING",
        _ => "SCHEDULED",
    }
}

/// The artifact root of a run, served by the artifact proxy.
pub fn run_artifact_uri(run: &str) -> String {
    format!("mlflow-artifacts:/runs/{run}/artifacts")
}

/// The artifact root of a logged model, served by the artifact proxy.
pub fn model_artifact_uri(model_id: &str) -> String {
    format!("mlflow-artifacts:/models/{model_id}/artifacts")
}

/// The tag that names a run's user.
pub const USER_TAG: &str = "mlflow.user";
/// The tag that names a run.
pub const RUN_NAME_TAG: &str = "mlflow.runName";

/// A `{key, value}` pair, borrowed.
#[derive(serde::Serialize)]
struct Pair<'a> {
    key: &'a str,
    value: &'a str,
}

/// A metric's latest value.
#[derive(serde::Serialize)]
struct MetricOut<'a> {
    key: &'a str,
    value: AnyNumber,
    timestamp: i64,
    step: u64,
}

#[derive(serde::Serialize)]
struct InfoOut<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    run_name: &'a str,
    experiment_id: &'a str,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    /// Left out while running: 0 would read as a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: &'static str,
}

#[derive(serde::Serialize)]
struct DataOut<'a> {
    metrics: Vec<MetricOut<'a>>,
    params: Vec<Pair<'a>>,
    tags: Vec<Pair<'a>>,
}

#[derive(serde::Serialize)]
struct DatasetOut<'a> {
    name: &'a str,
    digest: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct DatasetInputOut<'a> {
    tags: Vec<Pair<'a>>,
    dataset: DatasetOut<'a>,
}

#[derive(serde::Serialize)]
struct ModelInputOut<'a> {
    model_id: &'a str,
}

#[derive(serde::Serialize)]
struct ModelOutputOut<'a> {
    model_id: &'a str,
    step: u64,
}

#[derive(serde::Serialize)]
struct InputsOut<'a> {
    dataset_inputs: Vec<DatasetInputOut<'a>>,
    model_inputs: Vec<ModelInputOut<'a>>,
}

#[derive(serde::Serialize)]
struct OutputsOut<'a> {
    model_outputs: Vec<ModelOutputOut<'a>>,
}

/// MLflow's Run object for a run document, borrowed from it and serialized straight to
/// JSON (a search answers hundreds of these: no intermediate tree).
#[derive(serde::Serialize)]
pub struct RunOut<'a> {
    info: InfoOut<'a>,
    data: DataOut<'a>,
    inputs: InputsOut<'a>,
    outputs: OutputsOut<'a>,
}

fn pairs_of(map: &BTreeMap<String, String>) -> Vec<Pair<'_>> {
    map.iter().map(|(k, v)| Pair { key: k, value: v }).collect()
}

impl<'a> RunOut<'a> {
    /// The Run object of `doc`, whose experiment MLflow knows as `experiment_id`.
    pub fn new(doc: &'a RunDoc, experiment_id: &'a str) -> RunOut<'a> {
        let run_id = doc.run.as_str();
        let name = doc.name().unwrap_or("");
        // The run's name is its `mlflow.runName` tag, whatever a tag once said.
        let mut tags: Vec<Pair<'a>> = pairs_of(&doc.tags);
        tags.retain(|p| p.key != RUN_NAME_TAG);
        if !name.is_empty() {
            let at = tags.partition_point(|p| p.key < RUN_NAME_TAG);
            tags.insert(
                at,
                Pair {
                    key: RUN_NAME_TAG,
                    value: name,
                },
            );
        }
        RunOut {
            info: InfoOut {
                run_id,
                run_uuid: run_id,
                run_name: name,
                experiment_id,
                user_id: doc.tags.get(USER_TAG).map_or("", String::as_str),
                status: run_status(doc),
                start_time: doc.started.as_ref().map_or(0, |s| millis(s.time)),
                end_time: doc.finished.as_ref().map(|f| millis(f.time)),
                artifact_uri: run_artifact_uri(run_id),
                lifecycle_stage: doc.lifecycle.as_str(),
            },
            data: DataOut {
                metrics: doc
                    .metrics
                    .values()
                    .filter(|m| m.segment.is_none())
                    .map(|m| MetricOut {
                        key: m.name.as_str(),
                        value: AnyNumber(m.value),
                        timestamp: millis(m.time),
                        step: m.step.unwrap_or(0),
                    })
                    .collect(),
                params: doc
                    .params
                    .iter()
                    .map(|(k, v)| Pair {
                        key: k.as_str(),
                        value: &v.value,
                    })
                    .collect(),
                tags,
            },
            inputs: InputsOut {
                dataset_inputs: doc
                    .inputs
                    .iter()
                    .map(|input| {
                        let d = &input.dataset;
                        DatasetInputOut {
                            tags: pairs_of(&d.tags),
                            dataset: DatasetOut {
                                name: &d.name,
                                digest: &d.digest,
                                source_type: d.source_type.as_deref(),
                                source: d.source.as_deref(),
                                schema: d.schema.as_deref(),
                                profile: d.profile.as_deref(),
                            },
                        }
                    })
                    .collect(),
                model_inputs: doc
                    .model_inputs
                    .iter()
                    .map(|m| ModelInputOut { model_id: m })
                    .collect(),
            },
            outputs: OutputsOut {
                model_outputs: doc
                    .model_outputs
                    .iter()
                    .filter_map(|m| {
                        m.step.map(|step| ModelOutputOut {
                            model_id: &m.model_id,
                            step,
                        })
                    })
                    .collect(),
            },
        }
    }
}

/// MLflow's Run object for a run document, as a JSON value.
pub fn run_json(doc: &RunDoc, experiment_id: &str) -> Value {
    serde_json::to_value(RunOut::new(doc, experiment_id)).expect("a run serializes")
}

/// Reads a string field that may arrive as a JSON string or number (GET parameters
/// arrive as strings; some clients send numbers).
pub fn lenient_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
