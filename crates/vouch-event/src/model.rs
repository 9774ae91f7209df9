//! The event model: the envelope every event shares and one payload per kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Digest, EventId, ModelName, Name, Producer, RunId, Segment, Timestamp};

/// One immutable fact in the ledger.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub struct Event {
    /// The producer-chosen unique id: the dedup key.
    pub id: EventId,
    /// When the producer observed the fact.
    pub time: Timestamp,
    /// Who published it.
    pub producer: Producer,
    /// The run or model the event concerns.
    pub subject: Subject,
    /// What happened.
    pub body: Body,
}

/// What an event concerns: a run, or (for release events) a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Subject {
    /// A training or evaluation run.
    Run(RunId),
    /// A model under release management.
    Model(ModelName),
}

/// An event's payload. New kinds are only ever added at the end, so stored events of
/// older kinds keep decoding.
#[derive(Debug, Clone, PartialEq, bincode::Encode, bincode::Decode)]
pub enum Body {
    /// A run began.
    RunStarted(RunStarted),
    /// Hyper-parameters or configuration of a run.
    ParamsLogged(ParamsLogged),
    /// Metric values, optionally at a step and for a segment.
    MetricsLogged(MetricsLogged),
    /// A file the run produced, content-hashed.
    ArtifactLogged(ArtifactLogged),
    /// A dataset the run trained or was evaluated on.
    DatasetBound(DatasetBound),
    /// A run ended.
    RunFinished(RunFinished),
}

/// Every event kind, including those reserved for later versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`RunStarted`].
    RunStarted,
    /// [`ParamsLogged`].
    ParamsLogged,
    /// [`MetricsLogged`].
    MetricsLogged,
    /// [`ArtifactLogged`].
    ArtifactLogged,
    /// [`DatasetBound`].
    DatasetBound,
    /// [`RunFinished`].
    RunFinished,
    /// Reserved: a release policy recorded in the ledger.
    PolicyPublished,
    /// Reserved: a signed promotion decision.
    DecisionRecorded,
    /// Reserved: a signed human review of a decision.
    ReviewRecorded,
    /// Reserved: an artifact deployed to an environment.
    DeploymentRecorded,
}

impl Kind {
    /// Every kind, in wire-name order of introduction.
    pub const ALL: [Kind; 10] = [
        Kind::RunStarted,
        Kind::ParamsLogged,
        Kind::MetricsLogged,
        Kind::ArtifactLogged,
        Kind::DatasetBound,
        Kind::RunFinished,
        Kind::PolicyPublished,
        Kind::DecisionRecorded,
        Kind::ReviewRecorded,
        Kind::DeploymentRecorded,
    ];

    /// The wire name (`metrics_logged`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::RunStarted => "run_started",
            Kind::ParamsLogged => "params_logged",
            Kind::MetricsLogged => "metrics_logged",
            Kind::ArtifactLogged => "artifact_logged",
            Kind::DatasetBound => "dataset_bound",
            Kind::RunFinished => "run_finished",
            Kind::PolicyPublished => "policy_published",
            Kind::DecisionRecorded => "decision_recorded",
            Kind::ReviewRecorded => "review_recorded",
            Kind::DeploymentRecorded => "deployment_recorded",
        }
    }

    /// Whether the kind is named but not yet accepted by this version.
    pub const fn is_reserved(self) -> bool {
        matches!(
            self,
            Kind::PolicyPublished
                | Kind::DecisionRecorded
                | Kind::ReviewRecorded
                | Kind::DeploymentRecorded
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deserializes an optional field that, when present, must not be `null`: the schema
/// says "absent or a value", and accepting `null` would let the two disagree.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// `run_started`: a run began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct RunStarted {
    /// The experiment the run belongs to (`loan-risk`).
    pub experiment: String,
    /// A human-friendly run name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// The code version the run trained from.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub git: Option<GitInfo>,
    /// Where the run ran.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub env: Option<Environment>,
}

/// The code version of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct GitInfo {
    /// The commit hash (7 to 64 lowercase hex characters).
    pub commit: String,
    /// Whether the work tree had uncommitted changes.
    pub dirty: bool,
}

/// The machine and tool versions of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    /// Operating system (`linux`).
    pub os: String,
    /// CPU architecture or model (`x86_64`).
    pub cpu: String,
    /// Host name.
    pub host: String,
    /// Tool name to version (`python` → `3.11.7`).
    pub tools: BTreeMap<String, String>,
}

/// `params_logged`: hyper-parameters or configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct ParamsLogged {
    /// Param key to value, as text.
    pub params: BTreeMap<Name, String>,
}

/// `metrics_logged`: metric values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct MetricsLogged {
    /// Metric name to value; always finite.
    pub metrics: BTreeMap<Name, f64>,
    /// The training step, when the values belong to one.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub step: Option<u64>,
    /// The data segment the values were measured on; none means the whole set.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment: Option<Segment>,
}

/// `artifact_logged`: a file the run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct ArtifactLogged {
    /// The artifact's name within the run (`model.pkl`).
    pub name: String,
    /// BLAKE3 of the file's content.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Where the file lives.
    pub uri: String,
}

/// The part a dataset plays in a run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum DatasetRole {
    /// Trained on.
    Train,
    /// Validated on: the evidence gates read.
    Validation,
    /// Held out for a final test.
    Test,
}

impl DatasetRole {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DatasetRole::Train => "train",
            DatasetRole::Validation => "validation",
            DatasetRole::Test => "test",
        }
    }
}

/// `dataset_bound`: a dataset a run used, fingerprinted, with its freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct DatasetBound {
    /// The dataset's role in the run.
    pub role: DatasetRole,
    /// The dataset's name (`loans-2026q3.parquet`).
    pub name: String,
    /// BLAKE3 of the dataset's content.
    pub digest: Digest,
    /// Number of rows.
    pub rows: u64,
    /// When the snapshot was taken.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub snapshot_at: Option<Timestamp>,
    /// Labels are complete up to this time.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub labels_through: Option<Timestamp>,
    /// Where the dataset lives.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub uri: Option<String>,
}

/// How a run ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    bincode::Encode,
    bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Finished normally.
    Ok,
    /// Failed.
    Failed,
    /// Stopped from outside.
    Killed,
}

impl RunStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
        }
    }
}

/// `run_finished`: a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct RunFinished {
    /// How it ended.
    pub status: RunStatus,
}

impl Body {
    /// The event kind of this payload.
    pub const fn kind(&self) -> Kind {
        match self {
            Body::RunStarted(_) => Kind::RunStarted,
            Body::ParamsLogged(_) => Kind::ParamsLogged,
            Body::MetricsLogged(_) => Kind::MetricsLogged,
            Body::ArtifactLogged(_) => Kind::ArtifactLogged,
            Body::DatasetBound(_) => Kind::DatasetBound,
            Body::RunFinished(_) => Kind::RunFinished,
        }
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(format!(
            "{field} must be 1 to {max} characters, got {chars}"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

impl Event {
    /// The event's kind.
    pub const fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// The run this event concerns, if it concerns one.
    pub fn run(&self) -> Option<&RunId> {
        match &self.subject {
            Subject::Run(run) => Some(run),
            Subject::Model(_) => None,
        }
    }

    /// Checks the rules the types alone do not carry: lengths, finiteness, non-empty maps,
    /// and that the subject fits the kind. Both decoders call it, so a decoded event
    /// always satisfies `schemas/`.
    ///
    /// # Errors
    /// A message naming the offending field.
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.subject, Subject::Run(_)) {
            return Err(format!(
                "kind {} concerns a run: set `run`, not `model`",
                self.kind()
            ));
        }
        match &self.body {
            Body::RunStarted(b) => {
                text("data.experiment", &b.experiment, 200)?;
                if let Some(name) = &b.name {
                    text("data.name", name, 200)?;
                }
                if let Some(git) = &b.git {
                    let ok = (7..=64).contains(&git.commit.len())
                        && git
                            .commit
                            .bytes()
                            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
                    if !ok {
                        return Err(format!(
                            "data.git.commit `{}` must be 7 to 64 lowercase hex characters",
                            git.commit.chars().take(80).collect::<String>()
                        ));
                    }
                }
                if let Some(env) = &b.env {
                    text("data.env.os", &env.os, 200)?;
                    text("data.env.cpu", &env.cpu, 200)?;
                    text("data.env.host", &env.host, 256)?;
                    for (tool, version) in &env.tools {
                        text("data.env.tools key", tool, 200)?;
                        text(&format!("data.env.tools.{tool}"), version, 200)?;
                    }
                }
            }
            Body::ParamsLogged(b) => {
                if b.params.is_empty() {
                    return Err("data.params must hold at least one param".into());
                }
                for (key, value) in &b.params {
                    if value.chars().count() > 4096 {
                        return Err(format!("param `{key}` is longer than 4096 characters"));
                    }
                }
            }
            Body::MetricsLogged(b) => {
                if b.metrics.is_empty() {
                    return Err("data.metrics must hold at least one metric".into());
                }
                if let Some((name, value)) = b.metrics.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(format!("metric `{name}` is {value}: values must be finite"));
                }
            }
            Body::ArtifactLogged(b) => {
                text("data.name", &b.name, 250)?;
                text("data.uri", &b.uri, 2048)?;
            }
            Body::DatasetBound(b) => {
                text("data.name", &b.name, 250)?;
                if let Some(uri) = &b.uri {
                    text("data.uri", uri, 2048)?;
                }
            }
            Body::RunFinished(_) => {}
        }
        Ok(())
    }
}
