//! Tracking facts beyond evidence: experiments, tags, run renames and lifecycle, metric
//! points with their own times, dataset inputs, logged models and the model registry.
//!
//! These are what an experiment tracker (the MLflow client among them) records besides
//! params, metrics and artifacts. Each mutation a tracker would make in place is an event
//! here: a tag overwrite or delete, a rename, a delete or restore of a run, an alias
//! moved. The views fold them into current state; the log keeps every step.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Digest, Name, RunId, Timestamp};

fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 250;
/// The longest tag value, in characters (MLflow's largest, for registry tags).
pub const MAX_TAG_VALUE_CHARS: usize = 100_000;
/// The longest free-text field (a source, schema or profile of a dataset; a description).
pub const MAX_TEXT_CHARS: usize = 100_000;

/// Tags: key to value. Keys are 1..=250 characters without control characters.
pub type Tags = BTreeMap<String, String>;

/// `experiment_created`: an experiment exists before any run of it (a tracker's
/// `set_experiment`). Runs name their experiment in `run_started`; this records it
/// first, with its tags.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct ExperimentCreated {
    /// The experiment's tags when it was created.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// `tags_set`: tags set (last write wins) or deleted (a tombstone: the view hides the
/// tag, the log keeps it) on a run, an experiment, a registered model, or one version
/// of a registered model.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct TagsSet {
    /// Tags set, overwriting earlier values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: Tags,
    /// Tags deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
    /// For a model subject: the version whose tags these are; none for the model's own.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<u64>,
}

/// Whether a run is listed or hidden (a tracker's soft delete). Evidence is never
/// dropped: a deleted run keeps every event.
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
pub enum Lifecycle {
    /// Listed.
    Active,
    /// Hidden from listings unless asked for.
    Deleted,
}

impl Lifecycle {
    /// The wire name (`active`, `deleted`: also MLflow's `lifecycle_stage`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Active => "active",
            Lifecycle::Deleted => "deleted",
        }
    }
}

/// `run_updated`: a run renamed, deleted or restored, or reopened after it finished (a
/// tracker resuming it). At least one field is set.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct RunUpdated {
    /// The run's new display name.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// Deleted or restored.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub lifecycle: Option<Lifecycle>,
    /// The run is running again: a later `run_finished` ends it anew. A decision that
    /// read it finished pins the positions it read, so this changes no decision.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reopened: bool,
}

/// A metric value that may be NaN or infinite (a diverged loss is evidence too). In
/// JSON, a number or one of the strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Debug, Clone, Copy, PartialEq, bincode::Encode, bincode::Decode)]
pub struct AnyNumber(pub f64);

impl Serialize for AnyNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(v)
        }
    }
}

impl<'de> Deserialize<'de> for AnyNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(f64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(v) => Ok(AnyNumber(v)),
            Either::Text(t) => match t.as_str() {
                "NaN" => Ok(AnyNumber(f64::NAN)),
                "Infinity" => Ok(AnyNumber(f64::INFINITY)),
                "-Infinity" => Ok(AnyNumber(f64::NEG_INFINITY)),
                other => Err(serde::de::Error::custom(format!(
                    "`{}` is not a number (only \"NaN\", \"Infinity\" and \"-Infinity\" may be strings)",
                    other.chars().take(40).collect::<String>()
                ))),
            },
        }
    }
}

/// The dataset a metric point was measured on, as a tracker names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct DatasetRef {
    /// The dataset's name.
    pub name: String,
    /// The tracker's digest of it.
    pub digest: String,
}

/// One metric value with its own step and time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct MetricPointLogged {
    /// The metric's name.
    pub key: Name,
    /// The value; may be NaN or infinite.
    pub value: AnyNumber,
    /// The step (0 when the tracker gave none).
    pub step: u64,
    /// When the value was observed.
    pub time: Timestamp,
    /// The dataset it was measured on, if named.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub dataset: Option<DatasetRef>,
    /// The logged model it was measured for, if named.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_id: Option<String>,
}

/// `metric_points`: metric values, each with its own step and time, as a tracker batches
/// them. A run's latest value of a metric is the point with the greatest (step, time),
/// whatever order points arrive in (asynchronous loggers reorder batches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct MetricPoints {
    /// The points, at least one.
    pub points: Vec<MetricPointLogged>,
}

/// A dataset a run used, as a tracker describes it (its digest is the tracker's own,
/// often a short sample hash: `dataset_bound` carries a content digest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct DatasetInput {
    /// The dataset's name.
    pub name: String,
    /// The tracker's digest.
    pub digest: String,
    /// Where it came from (`local`, `s3`, `http`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_type: Option<String>,
    /// The source, as the tracker wrote it (a JSON string for MLflow).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<String>,
    /// The schema, as the tracker wrote it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub schema: Option<String>,
    /// The profile (row counts), as the tracker wrote it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile: Option<String>,
    /// Input tags; MLflow's `mlflow.data.context` says the dataset's role.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// `inputs_logged`: datasets (and logged models) a run consumed.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct InputsLogged {
    /// Dataset inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<DatasetInput>,
    /// Logged models the run read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
}

/// A logged model's upload state.
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
pub enum ModelStatus {
    /// Created; files still uploading.
    Pending,
    /// Every file uploaded.
    Ready,
    /// The upload failed.
    UploadFailed,
}

impl ModelStatus {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelStatus::Pending => "pending",
            ModelStatus::Ready => "ready",
            ModelStatus::UploadFailed => "upload_failed",
        }
    }
}

/// `logged_model_created`: a model a run produced (MLflow 3's `log_model`), with its
/// params and tags. Its files are logged as the run's artifacts under
/// `models/<model id>/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelCreated {
    /// The model's id (no `/` or `@`).
    pub model_id: String,
    /// The model's name within the run (`model`).
    pub name: String,
    /// The model's type, if given.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_type: Option<String>,
    /// Params.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: Tags,
    /// Tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// `logged_model_updated`: a logged model finalized, tagged, given params, or recorded
/// as the run's output at a step. At least one field besides the id is set.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct LoggedModelUpdated {
    /// The model's id.
    pub model_id: String,
    /// Its new status.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<ModelStatus>,
    /// Params added (a param, once set, keeps its value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: Tags,
    /// Tags set, overwriting.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
    /// The run records the model as its output at this step.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_step: Option<u64>,
}

/// `model_registered`: a registered model created in the registry.
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(deny_unknown_fields)]
pub struct ModelRegistered {
    /// Its description.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// `model_version_created`: a numbered version of a registered model, pointing at the
/// run (and logged model) it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionCreated {
    /// The version number, from 1, one more than the model's last.
    pub version: u64,
    /// Where the version's files are (`models:/<model id>`, `runs:/<run>/model`).
    pub source: String,
    /// The run it came from.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub run: Option<RunId>,
    /// The logged model it registers.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub model_id: Option<String>,
    /// Its description.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// Its tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: Tags,
}

/// `alias_moved`: a registry alias (`champion`) pointed at a version, or removed. An
/// alias a release policy guards moves only with a promotion: the event then cites the
/// decision, and the views follow it only while that decision promotes the version's run
/// (a needs-review decision moves it once a review approves it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct AliasMoved {
    /// The alias.
    pub alias: String,
    /// The version it now names; none: the alias is removed.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub version: Option<u64>,
    /// The hash of the decision that moved a guarded alias.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub decision: Option<Digest>,
}

/// Checks a free-text field: at most `max` characters, no control characters except
/// newlines and tabs (schemas and descriptions span lines).
pub(crate) fn free_text(field: &str, value: &str, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > max {
        return Err(format!("{field} is {chars} characters, over {max}"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

/// Checks a tag key and value.
pub(crate) fn tag(field: &str, key: &str, value: &str) -> Result<(), String> {
    tag_key(field, key)?;
    free_text(&format!("{field} `{key}`"), value, MAX_TAG_VALUE_CHARS)
}

/// Checks a tag key: 1..=250 characters, no control characters.
pub(crate) fn tag_key(field: &str, key: &str) -> Result<(), String> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_TAG_KEY_CHARS {
        return Err(format!(
            "{field} key must be 1 to {MAX_TAG_KEY_CHARS} characters, got {chars}"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(format!("{field} key must not contain control characters"));
    }
    Ok(())
}

/// Checks every tag of a map.
pub(crate) fn tags(field: &str, map: &Tags) -> Result<(), String> {
    map.iter().try_for_each(|(k, v)| tag(field, k, v))
}

/// Checks a logged model's id: 1..=128 characters, printable, no `/` or `@` (it appears
/// in `models:/<id>` URIs).
pub(crate) fn model_id(value: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'@');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "model id `{}` must be 1 to 128 printable ASCII characters without `/` or `@`",
            value.chars().take(80).collect::<String>()
        ))
    }
}

/// Checks an alias: 1..=255 characters of `[A-Za-z0-9_-]`, not `latest` nor `v<digits>`
/// (those name versions).
pub fn check_alias(alias: &str) -> Result<(), String> {
    let ok = (1..=255).contains(&alias.len())
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if !ok {
        return Err(format!(
            "alias `{}` must be 1 to 255 characters of A-Z a-z 0-9 _ -",
            alias.chars().take(80).collect::<String>()
        ));
    }
    let lower = alias.to_ascii_lowercase();
    let versionish = lower
        .strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if lower == "latest" || versionish {
        return Err(format!(
            "alias `{alias}` is reserved: `latest` and `v<number>` name versions"
        ));
    }
    Ok(())
}
