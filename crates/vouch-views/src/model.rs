//! What the views hold: one document per run, metric history in chunks, an artifact
//! index and the quarantine. These types are also the `--json` output of read commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use vouch_event::{
    Body, DatasetInput, DatasetRole, Digest, Environment, Event, GitInfo, Lifecycle, Name, RunId,
    RunStatus, Segment, Timestamp,
};

/// Everything known about one run, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct RunDoc {
    /// The run's id.
    pub run: RunId,
    /// From `run_started`; `None` while only later events have arrived (out of order).
    pub started: Option<Started>,
    /// From `run_finished`.
    pub finished: Option<Finished>,
    /// Latest value of each param.
    pub params: BTreeMap<Name, ParamValue>,
    /// Latest value of each metric, per segment (no segment: the whole set).
    #[serde(serialize_with = "values_only", deserialize_with = "keyed_by_series")]
    pub metrics: BTreeMap<MetricKey, LatestMetric>,
    /// Artifacts in log order.
    pub artifacts: Vec<ArtifactEntry>,
    /// Datasets in log order.
    pub datasets: Vec<DatasetEntry>,
    /// Current tags (`tags_set`: last write wins, deletes hide).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The name the run was last renamed to (`run_updated`), over `started.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed: Option<String>,
    /// Listed or deleted (hidden unless asked for).
    #[serde(default = "active", skip_serializing_if = "is_active")]
    pub lifecycle: Lifecycle,
    /// Datasets a tracker described (`inputs_logged`), in log order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputEntry>,
    /// Logged models the run read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_inputs: Vec<String>,
    /// Logged models the run produced, with the step they were recorded as output at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_outputs: Vec<ModelOutput>,
    /// How many of the run's events have been applied.
    pub events: u64,
    /// Log position of the run's first and last applied event.
    pub first_position: u64,
    /// See `first_position`.
    pub last_position: u64,
}

fn is_active(lifecycle: &Lifecycle) -> bool {
    *lifecycle == Lifecycle::Active
}

fn active() -> Lifecycle {
    Lifecycle::Active
}

/// A dataset input of a run, as a tracker described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct InputEntry {
    /// The dataset as described.
    pub dataset: DatasetInput,
    /// Log position.
    pub position: u64,
}

/// A logged model a run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ModelOutput {
    /// The logged model's id.
    pub model_id: String,
    /// The step the run recorded it at, once recorded as an output.
    pub step: Option<u64>,
}

fn values_only<S: Serializer, K, V: Serialize>(
    map: &BTreeMap<K, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values())
}

/// The inverse of [`values_only`] for the metrics: each value keyed by its series.
fn keyed_by_series<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<MetricKey, LatestMetric>, D::Error> {
    let values = Vec::<LatestMetric>::deserialize(d)?;
    Ok(values
        .into_iter()
        .map(|m| {
            let key = MetricKey {
                name: m.name.clone(),
                segment: m.segment.clone(),
            };
            (key, m)
        })
        .collect())
}

/// How a run began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct Started {
    /// The experiment.
    pub experiment: String,
    /// The run's display name.
    pub name: Option<String>,
    /// Code version.
    pub git: Option<GitInfo>,
    /// Machine and tools.
    pub env: Option<Environment>,
    /// When.
    pub time: Timestamp,
    /// Who published it.
    pub producer: String,
    /// Log position of the `run_started` event.
    pub position: u64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct Finished {
    /// Status.
    pub status: RunStatus,
    /// When.
    pub time: Timestamp,
    /// Log position.
    pub position: u64,
}

/// A param's current value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ParamValue {
    /// The value as logged.
    pub value: String,
    /// Log position of the event that set it.
    pub position: u64,
}

/// A metric series: a name on a segment.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct MetricKey {
    /// Metric name.
    pub name: Name,
    /// Segment; `None` is the whole set.
    pub segment: Option<Segment>,
}

/// The latest value of a metric series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct LatestMetric {
    /// Metric name.
    pub name: Name,
    /// Segment, if any.
    pub segment: Option<Segment>,
    /// The value.
    pub value: f64,
    /// Step, if logged with one.
    pub step: Option<u64>,
    /// When it was observed.
    pub time: Timestamp,
    /// Log position of the event.
    pub position: u64,
    /// How many values the series has.
    pub count: u64,
}

/// One point of a metric's history.
#[derive(
    Debug, Clone, Copy, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
pub struct MetricPoint {
    /// Step, if any.
    pub step: Option<u64>,
    /// Value.
    pub value: f64,
    /// When it was observed.
    pub time: Timestamp,
    /// Log position.
    pub position: u64,
}

/// An artifact of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ArtifactEntry {
    /// Name within the run.
    pub name: String,
    /// Content digest.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Location.
    pub uri: String,
    /// Log position.
    pub position: u64,
}

/// Where an artifact digest appears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ArtifactRef {
    /// The run that logged it.
    pub run: RunId,
    /// The entry.
    pub artifact: ArtifactEntry,
}

/// A dataset bound to a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct DatasetEntry {
    /// Role in the run.
    pub role: DatasetRole,
    /// Name.
    pub name: String,
    /// Content digest.
    pub digest: Digest,
    /// Rows.
    pub rows: u64,
    /// Snapshot time.
    pub snapshot_at: Option<Timestamp>,
    /// Labels complete through.
    pub labels_through: Option<Timestamp>,
    /// Location.
    pub uri: Option<String>,
    /// Log position.
    pub position: u64,
}

/// A log record the projector could not apply, with why. Nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct QuarantineEntry {
    /// Log position of the record.
    pub position: u64,
    /// The record's event id.
    pub event_id: String,
    /// The record's key.
    pub key: String,
    /// Why it was not applied.
    pub reason: String,
    /// The record's size in bytes (the bytes themselves stay in the log).
    pub size: u64,
}

/// Totals kept with the views.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
pub struct Counts {
    /// Records read from the log and applied.
    pub applied: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Distinct runs.
    pub runs: u64,
    /// Metric values (a metrics event with three metrics counts three).
    pub metric_values: u64,
    /// Artifacts logged.
    pub artifacts: u64,
    /// Datasets bound.
    pub datasets: u64,
    /// Policies published.
    pub policies: u64,
    /// Decisions in the chain.
    pub decisions: u64,
    /// Reviews recorded.
    pub reviews: u64,
    /// Deployments recorded.
    pub deployments: u64,
    /// Records whose event id an earlier record already had (a retry the log did not
    /// deduplicate, e.g. after JetStream's duplicate window): skipped, never applied twice.
    pub duplicates: u64,
    /// Live observations (`live_metrics_observed`) applied.
    pub live_observations: u64,
}

impl RunDoc {
    /// An empty document for a run seen for the first time at `position`.
    pub fn new(run: RunId, position: u64) -> Self {
        RunDoc {
            run,
            started: None,
            finished: None,
            params: BTreeMap::new(),
            metrics: BTreeMap::new(),
            artifacts: Vec::new(),
            datasets: Vec::new(),
            tags: BTreeMap::new(),
            renamed: None,
            lifecycle: Lifecycle::Active,
            inputs: Vec::new(),
            model_inputs: Vec::new(),
            model_outputs: Vec::new(),
            events: 0,
            first_position: position,
            last_position: position,
        }
    }

    /// Folds one of this run's events, logged at `position`, into the document. The
    /// projector and replay both fold with this, so a run rebuilt from a decision's
    /// evidence is exactly the document the decision read. `Err` is the reason the event
    /// cannot apply (it is quarantined); the document is then unchanged.
    ///
    /// # Errors
    /// A second `run_started` or `run_finished`, or a kind that concerns a model.
    pub fn apply(&mut self, event: &Event, position: u64) -> Result<(), String> {
        let run = &self.run;
        match &event.body {
            Body::RunStarted(b) => {
                if let Some(started) = &self.started {
                    return Err(format!(
                        "run {run} already started at position {}",
                        started.position
                    ));
                }
                self.started = Some(Started {
                    experiment: b.experiment.clone(),
                    name: b.name.clone(),
                    git: b.git.clone(),
                    env: b.env.clone(),
                    time: event.time,
                    producer: event.producer.to_string(),
                    position,
                });
            }
            Body::ParamsLogged(b) => {
                for (name, value) in &b.params {
                    self.params.insert(
                        name.clone(),
                        ParamValue {
                            value: value.clone(),
                            position,
                        },
                    );
                }
            }
            Body::MetricsLogged(b) => {
                for (name, &value) in &b.metrics {
                    let key = MetricKey {
                        name: name.clone(),
                        segment: b.segment.clone(),
                    };
                    match self.metrics.get_mut(&key) {
                        Some(latest) => {
                            latest.value = value;
                            latest.step = b.step;
                            latest.time = event.time;
                            latest.position = position;
                            latest.count += 1;
                        }
                        None => {
                            let latest = LatestMetric {
                                name: name.clone(),
                                segment: b.segment.clone(),
                                value,
                                step: b.step,
                                time: event.time,
                                position,
                                count: 1,
                            };
                            self.metrics.insert(key, latest);
                        }
                    }
                }
            }
            Body::ArtifactLogged(b) => self.artifacts.push(ArtifactEntry {
                name: b.name.clone(),
                digest: b.digest,
                size: b.size,
                uri: b.uri.clone(),
                position,
            }),
            Body::DatasetBound(b) => self.datasets.push(DatasetEntry {
                role: b.role,
                name: b.name.clone(),
                digest: b.digest,
                rows: b.rows,
                snapshot_at: b.snapshot_at,
                labels_through: b.labels_through,
                uri: b.uri.clone(),
                position,
            }),
            Body::TagsSet(b) => {
                for key in &b.deleted {
                    self.tags.remove(key);
                }
                self.tags
                    .extend(b.set.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            Body::RunUpdated(b) => {
                if let Some(name) = &b.name {
                    self.renamed = Some(name.clone());
                }
                if let Some(lifecycle) = b.lifecycle {
                    self.lifecycle = lifecycle;
                }
                if b.reopened {
                    self.finished = None;
                }
            }
            Body::MetricPoints(b) => {
                for p in &b.points {
                    let key = MetricKey {
                        name: p.key.clone(),
                        segment: None,
                    };
                    let point = (Some(p.step), p.time, p.value.0);
                    match self.metrics.get_mut(&key) {
                        Some(latest) => {
                            latest.count += 1;
                            if is_later(point, (latest.step, latest.time, latest.value)) {
                                latest.value = p.value.0;
                                latest.step = Some(p.step);
                                latest.time = p.time;
                                latest.position = position;
                            }
                        }
                        None => {
                            self.metrics.insert(
                                key,
                                LatestMetric {
                                    name: p.key.clone(),
                                    segment: None,
                                    value: p.value.0,
                                    step: Some(p.step),
                                    time: p.time,
                                    position,
                                    count: 1,
                                },
                            );
                        }
                    }
                }
            }
            Body::InputsLogged(b) => {
                self.inputs.extend(b.datasets.iter().map(|d| InputEntry {
                    dataset: d.clone(),
                    position,
                }));
                for model in &b.models {
                    if !self.model_inputs.contains(model) {
                        self.model_inputs.push(model.clone());
                    }
                }
            }
            Body::LoggedModelCreated(b) => {
                if self.model_outputs.iter().any(|m| m.model_id == b.model_id) {
                    return Err(format!("logged model {} already exists", b.model_id));
                }
                self.model_outputs.push(ModelOutput {
                    model_id: b.model_id.clone(),
                    step: None,
                });
            }
            Body::LoggedModelUpdated(b) => {
                let Some(output) = self
                    .model_outputs
                    .iter_mut()
                    .find(|m| m.model_id == b.model_id)
                else {
                    return Err(format!(
                        "logged model {} was not created by run {run}",
                        b.model_id
                    ));
                };
                if let Some(step) = b.output_step {
                    output.step = Some(step);
                }
            }
            Body::RunFinished(b) => {
                if let Some(finished) = &self.finished {
                    return Err(format!(
                        "run {run} already finished ({}) at position {}",
                        finished.status.as_str(),
                        finished.position
                    ));
                }
                self.finished = Some(Finished {
                    status: b.status,
                    time: event.time,
                    position,
                });
            }
            Body::PolicyPublished(_)
            | Body::DecisionRecorded(_)
            | Body::ReviewRecorded(_)
            | Body::DeploymentRecorded(_)
            | Body::DeploymentSigned(_)
            | Body::LiveMetricsObserved(_)
            | Body::ExperimentCreated(_)
            | Body::ModelRegistered(_)
            | Body::ModelVersionCreated(_)
            | Body::AliasMoved(_) => {
                // `Event::check` ties these kinds to a model or experiment subject.
                return Err(format!(
                    "kind {} concerns a model, not run {run}",
                    event.kind()
                ));
            }
        }
        self.events += 1;
        self.last_position = position;
        Ok(())
    }

    /// The run's display name: its last rename, else its name when started.
    pub fn name(&self) -> Option<&str> {
        self.renamed
            .as_deref()
            .or_else(|| self.started.as_ref().and_then(|s| s.name.as_deref()))
    }

    /// `ok`, `failed`, `killed`, `running`, or `unknown` (events arrived before
    /// `run_started`).
    pub fn status(&self) -> &'static str {
        match (&self.started, &self.finished) {
            (_, Some(f)) => f.status.as_str(),
            (Some(_), None) => "running",
            (None, None) => "unknown",
        }
    }

    /// The experiment, if the run has started.
    pub fn experiment(&self) -> Option<&str> {
        self.started.as_ref().map(|s| s.experiment.as_str())
    }

    /// The latest value of `name` on `segment`.
    pub fn metric(&self, name: &Name, segment: Option<&Segment>) -> Option<&LatestMetric> {
        self.metrics.get(&MetricKey {
            name: name.clone(),
            segment: segment.cloned(),
        })
    }
}

/// Whether a metric point (step, time, value) is later than the current latest: the
/// greatest step, then time, then value wins (NaN above every number), so points that
/// arrive out of order give the same latest value.
fn is_later(point: (Option<u64>, Timestamp, f64), latest: (Option<u64>, Timestamp, f64)) -> bool {
    let rank =
        |(step, time, value): (Option<u64>, Timestamp, f64)| (step.unwrap_or(0), time, value);
    let (a, b) = (rank(point), rank(latest));
    (a.0, a.1)
        .cmp(&(b.0, b.1))
        .then_with(|| a.2.total_cmp(&b.2))
        .is_gt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DecisionEntry, DeploymentEntry, ReviewEntry};
    use vouch_event::{DecisionOutcome, ModelName, PublicKeyBytes, ReviewVerdict};

    /// `value` → JSON → the same value, and JSON printed again the same.
    fn round_trip<T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
        value: &T,
    ) {
        let json = serde_json::to_string(value).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, value);
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
    }

    fn metric(name: &str, segment: Option<&str>, value: f64, position: u64) -> LatestMetric {
        LatestMetric {
            name: Name::new(name).unwrap(),
            segment: segment.map(|s| Segment::new(s).unwrap()),
            value,
            step: Some(3),
            time: at(position as i64),
            position,
            count: 2,
        }
    }

    /// A run with every field set, also those its JSON leaves out when empty or default,
    /// and metrics (keyed by series, serialized as a list) on and off segments.
    #[test]
    fn a_run_document_reads_back_from_its_json() {
        let mut doc = RunDoc::new(RunId::new("r-1").unwrap(), 4);
        round_trip(&doc);
        doc.started = Some(Started {
            experiment: "loan-risk".into(),
            name: Some("candidate b".into()),
            git: Some(GitInfo {
                commit: "0123456789abcdef".into(),
                dirty: true,
            }),
            env: Some(Environment {
                os: "linux".into(),
                cpu: "x86_64".into(),
                host: "ci-7".into(),
                tools: [("python".to_owned(), "3.11.7".to_owned())].into(),
            }),
            time: at(0),
            producer: "pipeline".into(),
            position: 4,
        });
        doc.finished = Some(Finished {
            status: RunStatus::Ok,
            time: at(9),
            position: 12,
        });
        doc.params.insert(
            Name::new("lr").unwrap(),
            ParamValue {
                value: "0.01".into(),
                position: 5,
            },
        );
        for m in [
            metric("auc", None, 0.871_234_567_890_123, 6),
            metric("auc", Some("region=EU"), 0.84, 7),
            metric("latency_p95_ms", None, 182.0, 8),
        ] {
            doc.metrics.insert(
                MetricKey {
                    name: m.name.clone(),
                    segment: m.segment.clone(),
                },
                m,
            );
        }
        doc.artifacts.push(ArtifactEntry {
            name: "model.bin".into(),
            digest: Digest::of(b"model"),
            size: 1234,
            uri: "s3://models/b".into(),
            position: 9,
        });
        doc.datasets.push(DatasetEntry {
            role: DatasetRole::Validation,
            name: "loans-2026-10".into(),
            digest: Digest::of(b"data"),
            rows: 50_000,
            snapshot_at: Some(at(-86_400)),
            labels_through: None,
            uri: Some("s3://data/v".into()),
            position: 10,
        });
        doc.tags.insert("team".into(), "risk".into());
        doc.renamed = Some("renamed b".into());
        doc.lifecycle = Lifecycle::Deleted;
        doc.inputs.push(InputEntry {
            dataset: serde_json::from_value(serde_json::json!({
                "name": "loans", "digest": "abc123", "source_type": "local",
            }))
            .unwrap(),
            position: 11,
        });
        doc.model_inputs.push("m-parent".into());
        doc.model_outputs.push(ModelOutput {
            model_id: "m-1".into(),
            step: Some(3),
        });
        doc.events = 9;
        doc.last_position = 12;
        round_trip(&doc);
        round_trip(&metric("auc", Some("region=EU"), 0.1, 3));
    }

    #[test]
    fn decisions_and_deployments_read_back_from_their_json() {
        let key = PublicKeyBytes([7; 32]);
        let model = ModelName::new("loan-risk").unwrap();
        let decision = DecisionEntry {
            index: 1,
            hash: Digest::of(b"decision"),
            position: 30,
            model: model.clone(),
            run: RunId::new("r-1").unwrap(),
            baseline: Some(RunId::new("r-0").unwrap()),
            outcome: DecisionOutcome::NeedsReview,
            artifacts: vec![Digest::of(b"model")],
            policy: Digest::of(b"policy"),
            policy_version: "2026.11-1".into(),
            decided_at: at(100),
            signer: "k-1".into(),
            signer_key: key,
            resolves: None,
            resolved_by: Some(2),
            reviews: vec![ReviewEntry {
                hash: Digest::of(b"review"),
                position: 31,
                verdict: ReviewVerdict::Approve,
                reviewer: "dana".into(),
                reason: "checked".into(),
                reviewed_at: at(200),
                signer: "k-2".into(),
                signer_key: PublicKeyBytes([9; 32]),
            }],
        };
        round_trip(&decision);
        round_trip(&DeploymentEntry {
            model,
            env: "production".into(),
            artifact: Digest::of(b"model"),
            decision: None,
            forced: true,
            reason: Some("hotfix".into()),
            time: at(300),
            producer: "vouch-release".into(),
            position: 40,
            hash: Digest::of(b"deployment"),
            signer: "k-1".into(),
            signer_key: key,
        });
        round_trip(&Counts {
            applied: 5,
            duplicates: 1,
            ..Counts::default()
        });
    }
}
