//! The event model: the envelope every event shares and one payload per kind.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::tracking;

use crate::tracking::{
    AliasMoved, ExperimentCreated, InputsLogged, LoggedModelCreated, LoggedModelUpdated,
    MetricPoints, ModelRegistered, ModelVersionCreated, RunUpdated, TagsSet,
};
use crate::{
    Digest, EventId, ExperimentName, ModelName, Name, Producer, RunId, Segment, Timestamp,
};

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

/// What an event concerns: a run, a model (release events, the registry), or an
/// experiment. New subjects are only added at the end, so stored events keep decoding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, bincode::Encode, bincode::Decode)]
pub enum Subject {
    /// A training or evaluation run.
    Run(RunId),
    /// A model under release management.
    Model(ModelName),
    /// An experiment: a group of runs.
    Experiment(ExperimentName),
}

impl Subject {
    /// The subject's kind of thing: `run`, `model` or `experiment` (also the envelope's
    /// field name in JSON).
    pub const fn field(&self) -> &'static str {
        match self {
            Subject::Run(_) => "run",
            Subject::Model(_) => "model",
            Subject::Experiment(_) => "experiment",
        }
    }

    /// The log key events of this subject are stored under: `run.<id>`, `model.<name>`,
    /// or `experiment.<token>`, where an experiment's token is [`ExperimentName::token`]
    /// (its name may hold characters a NATS subject cannot). The one place keys are
    /// decided: the ledger writes under it, the projector checks it.
    pub fn log_key(&self) -> String {
        match self {
            Subject::Run(run) => format!("run.{run}"),
            Subject::Model(model) => format!("model.{model}"),
            Subject::Experiment(experiment) => format!("experiment.{}", experiment.token()),
        }
    }
}

/// An event's payload. New kinds are only ever added at the end, so stored events of
/// older kinds keep decoding.
///
/// Its stored form is written by hand (`stored.rs`), not derived: every variant is its
/// declaration index followed by its payload, as derived bincode would write it, except
/// that a decision carrying a [`LogPin`] (layout 2) is stored under index 22, so that a
/// layout-1 decision keeps exactly the bytes it was stored with.
#[derive(Debug, Clone, PartialEq)]
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
    /// A release policy, its exact text recorded so replay and audit find it.
    PolicyPublished(PolicyPublished),
    /// A signed, hash-chained promotion decision.
    DecisionRecorded(Box<DecisionRecorded>),
    /// A signed human review of a decision.
    ReviewRecorded(Box<ReviewRecorded>),
    /// An artifact deployed to an environment.
    DeploymentRecorded(DeploymentRecorded),
    /// Metrics observed on live traffic for a deployed model.
    LiveMetricsObserved(LiveMetricsObserved),
    /// An artifact deployed to an environment, signed by a deployer or release key.
    DeploymentSigned(Box<DeploymentSigned>),
    /// An experiment created before its runs.
    ExperimentCreated(ExperimentCreated),
    /// Tags set or deleted.
    TagsSet(TagsSet),
    /// A run renamed, deleted, restored or reopened.
    RunUpdated(RunUpdated),
    /// Metric values, each with its own step and time.
    MetricPoints(MetricPoints),
    /// Datasets and models a run consumed.
    InputsLogged(InputsLogged),
    /// A model a run logged.
    LoggedModelCreated(LoggedModelCreated),
    /// A logged model finalized, tagged or linked as an output.
    LoggedModelUpdated(LoggedModelUpdated),
    /// A registered model created.
    ModelRegistered(ModelRegistered),
    /// A registered model's new version.
    ModelVersionCreated(ModelVersionCreated),
    /// A registry alias moved or removed.
    AliasMoved(AliasMoved),
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
    /// [`PolicyPublished`]: written by Vouch, not accepted as JSON.
    PolicyPublished,
    /// [`DecisionRecorded`]: written by Vouch, not accepted as JSON.
    DecisionRecorded,
    /// [`ReviewRecorded`]: written by Vouch, not accepted as JSON.
    ReviewRecorded,
    /// [`DeploymentRecorded`]: written by Vouch, not accepted as JSON.
    DeploymentRecorded,
    /// [`LiveMetricsObserved`]: concerns a model; published by monitoring, like evidence.
    LiveMetricsObserved,
    /// [`DeploymentSigned`]: written by Vouch, not accepted as JSON.
    DeploymentSigned,
    /// [`ExperimentCreated`].
    ExperimentCreated,
    /// [`TagsSet`].
    TagsSet,
    /// [`RunUpdated`].
    RunUpdated,
    /// [`MetricPoints`].
    MetricPoints,
    /// [`InputsLogged`].
    InputsLogged,
    /// [`LoggedModelCreated`].
    LoggedModelCreated,
    /// [`LoggedModelUpdated`].
    LoggedModelUpdated,
    /// [`ModelRegistered`].
    ModelRegistered,
    /// [`ModelVersionCreated`].
    ModelVersionCreated,
    /// [`AliasMoved`].
    AliasMoved,
}

impl Kind {
    /// Every kind, in wire-name order of introduction.
    pub const ALL: [Kind; 22] = [
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
        Kind::LiveMetricsObserved,
        Kind::DeploymentSigned,
        Kind::ExperimentCreated,
        Kind::TagsSet,
        Kind::RunUpdated,
        Kind::MetricPoints,
        Kind::InputsLogged,
        Kind::LoggedModelCreated,
        Kind::LoggedModelUpdated,
        Kind::ModelRegistered,
        Kind::ModelVersionCreated,
        Kind::AliasMoved,
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
            Kind::LiveMetricsObserved => "live_metrics_observed",
            Kind::DeploymentSigned => "deployment_signed",
            Kind::ExperimentCreated => "experiment_created",
            Kind::TagsSet => "tags_set",
            Kind::RunUpdated => "run_updated",
            Kind::MetricPoints => "metric_points",
            Kind::InputsLogged => "inputs_logged",
            Kind::LoggedModelCreated => "logged_model_created",
            Kind::LoggedModelUpdated => "logged_model_updated",
            Kind::ModelRegistered => "model_registered",
            Kind::ModelVersionCreated => "model_version_created",
            Kind::AliasMoved => "alias_moved",
        }
    }

    /// Whether the kind is reserved for release records that Vouch writes itself
    /// (`vouch promote`, `review`, `deploy`): they are never accepted as JSON from a
    /// producer, only in the binary form, and decisions and reviews carry signatures.
    pub const fn is_reserved(self) -> bool {
        matches!(
            self,
            Kind::PolicyPublished
                | Kind::DecisionRecorded
                | Kind::ReviewRecorded
                | Kind::DeploymentRecorded
                | Kind::DeploymentSigned
        )
    }

    /// Whether events of this kind may concern `subject`: release records, live
    /// observations and the registry concern a model; `experiment_created` an
    /// experiment; `tags_set` any subject; the rest a run.
    pub fn fits(self, subject: &Subject) -> bool {
        matches!(self, Kind::TagsSet) || self.subject_field() == subject.field()
    }

    /// The envelope field events of this kind usually carry (`run`, `model` or
    /// `experiment`), for messages; `tags_set` accepts any of them and says `run`.
    pub const fn subject_field(self) -> &'static str {
        if self.is_reserved()
            || matches!(
                self,
                Kind::LiveMetricsObserved
                    | Kind::ModelRegistered
                    | Kind::ModelVersionCreated
                    | Kind::AliasMoved
            )
        {
            "model"
        } else if matches!(self, Kind::ExperimentCreated) {
            "experiment"
        } else {
            "run"
        }
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

/// `artifact_logged`: a file (or a directory, by its manifest) the run produced.
///
/// Not bincode-encoded on its own: its stored form depends on `sha256` (index 3 without
/// it, exactly the bytes of every artifact event written before it existed; index 23
/// with it), so only [`Body`] encodes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactLogged {
    /// The artifact's name within the run (`model.pkl`).
    pub name: String,
    /// BLAKE3 of the file's content (of a directory's canonical manifest bytes).
    pub digest: Digest,
    /// Size in bytes (of a directory: the sum of its files' sizes).
    pub size: u64,
    /// Where the file lives.
    pub uri: String,
    /// SHA-256 of the same bytes `digest` covers, so supply-chain tools that match
    /// artifacts by sha256 can name it too. Absent on events written before it existed.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub sha256: Option<Sha256>,
}

/// A SHA-256 digest, written `sha256:<64 lowercase hex>`: the name supply-chain tools
/// (in-toto, SLSA, OCI) give an artifact.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Parses `sha256:<64 lowercase hex>` (the prefix is required: a bare hex string
    /// would be ambiguous with a BLAKE3 digest).
    ///
    /// # Errors
    /// When the text is not such a digest.
    pub fn parse(text: &str) -> Result<Self, String> {
        let fail = || {
            format!(
                "invalid sha256 digest `{}`: expected `sha256:` followed by 64 lowercase hex characters",
                text.chars().take(80).collect::<String>()
            )
        };
        let hex = text.strip_prefix("sha256:").ok_or_else(fail)?;
        if hex.len() != 64 || hex.bytes().any(|c| c.is_ascii_uppercase()) {
            return Err(fail());
        }
        parse_hex::<32>(hex).map(Sha256).ok_or_else(fail)
    }
}

impl std::fmt::Display for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", hex(&self.0))
    }
}

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256::parse(&text).map_err(serde::de::Error::custom)
    }
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
            Body::PolicyPublished(_) => Kind::PolicyPublished,
            Body::DecisionRecorded(_) => Kind::DecisionRecorded,
            Body::ReviewRecorded(_) => Kind::ReviewRecorded,
            Body::DeploymentRecorded(_) => Kind::DeploymentRecorded,
            Body::LiveMetricsObserved(_) => Kind::LiveMetricsObserved,
            Body::DeploymentSigned(_) => Kind::DeploymentSigned,
            Body::ExperimentCreated(_) => Kind::ExperimentCreated,
            Body::TagsSet(_) => Kind::TagsSet,
            Body::RunUpdated(_) => Kind::RunUpdated,
            Body::MetricPoints(_) => Kind::MetricPoints,
            Body::InputsLogged(_) => Kind::InputsLogged,
            Body::LoggedModelCreated(_) => Kind::LoggedModelCreated,
            Body::LoggedModelUpdated(_) => Kind::LoggedModelUpdated,
            Body::ModelRegistered(_) => Kind::ModelRegistered,
            Body::ModelVersionCreated(_) => Kind::ModelVersionCreated,
            Body::AliasMoved(_) => Kind::AliasMoved,
        }
    }
}

/// The largest policy text a `policy_published` event carries.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// `policy_published`: the exact text of a release policy, recorded before a decision
/// uses it.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct PolicyPublished {
    /// The policy's version string.
    pub version: String,
    /// BLAKE3 of `text`.
    pub digest: Digest,
    /// The policy, byte for byte.
    pub text: String,
}

/// A 32-byte Ed25519 public key, as bytes (this crate does no cryptography).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct PublicKeyBytes(pub [u8; 32]);

/// A 64-byte Ed25519 signature, as bytes.
#[derive(Clone, Copy, PartialEq, Eq, bincode::Encode, bincode::Decode)]
pub struct SignatureBytes(pub [u8; 64]);

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Parses hex of any even length into bytes.
pub fn parse_hex_bytes(text: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Parses lowercase or uppercase hex into exactly `N` bytes.
pub fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

impl std::fmt::Debug for PublicKeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::fmt::Display for PublicKeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::fmt::Debug for SignatureBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl Serialize for PublicKeyBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl Serialize for SignatureBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

/// Reads the lowercase hex [`PublicKeyBytes`] and [`SignatureBytes`] serialize as.
fn deserialize_hex<'de, D: serde::Deserializer<'de>, const N: usize>(
    d: D,
) -> Result<[u8; N], D::Error> {
    let text = String::deserialize(d)?;
    parse_hex::<N>(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("expected {} hex digits, got `{text}`", N * 2))
    })
}

impl<'de> Deserialize<'de> for PublicKeyBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_hex(d).map(PublicKeyBytes)
    }
}

impl<'de> Deserialize<'de> for SignatureBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_hex(d).map(SignatureBytes)
    }
}

/// What a gate said.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    /// Passed.
    Pass,
    /// Failed: the candidate is rejected.
    Fail,
    /// Asks for a human review.
    Review,
}

/// The outcome of a decision.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    /// The run's artifacts are promoted: the model's new production version.
    Promoted,
    /// Rejected by a gate or a reviewer.
    Rejected,
    /// Waiting for a human review.
    NeedsReview,
}

impl DecisionOutcome {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DecisionOutcome::Promoted => "promoted",
            DecisionOutcome::Rejected => "rejected",
            DecisionOutcome::NeedsReview => "needs_review",
        }
    }
}

/// One gate's result, as recorded in a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct GateRecord {
    /// The gate's name in the policy.
    pub gate: String,
    /// The metric it read (`auc`, `auc[region=EU]`), if any.
    pub metric: Option<String>,
    /// The candidate's value.
    pub candidate: Option<f64>,
    /// The baseline's value.
    pub baseline: Option<f64>,
    /// The threshold, as text.
    pub threshold: String,
    /// The verdict.
    pub verdict: GateVerdict,
    /// Why.
    pub reason: String,
}

/// The review a decision resolves (an approval or rejection of a needs-review decision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ReviewLink {
    /// The hash of the needs-review decision.
    pub decision: Digest,
    /// The hash of the review record.
    pub review: Digest,
    /// Log position of the review event.
    pub review_position: u64,
}

/// `decision_recorded`: one link of the decision chain. Its canonical bytes, hash and
/// signature are defined in `schemas/decision-record.md` (crate `vouch-chain`).
///
/// Not bincode-encoded on its own: its stored form depends on `log` (layout 1 under
/// [`Body`] index 7 without it, layout 2 under index 22 with it), so only [`Body`]
/// encodes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecorded {
    /// Place in the chain, from 0.
    pub index: u64,
    /// Hash of the previous record; none for the first.
    pub prev: Option<Digest>,
    /// The candidate run.
    pub run: RunId,
    /// The production run compared against, if any.
    pub baseline: Option<RunId>,
    /// The artifact digests the decision concerns (what it promotes).
    pub artifacts: Vec<Digest>,
    /// Digest of the policy text.
    pub policy: Digest,
    /// The policy's version string.
    pub policy_version: String,
    /// Log position of the `policy_published` event.
    pub policy_position: u64,
    /// The log position the evidence was read at.
    pub evaluated_at: u64,
    /// Log positions of every event read, ascending.
    pub evidence: Vec<u64>,
    /// BLAKE3 over those events' exact bytes (see `schemas/decision-record.md`).
    pub evidence_digest: Digest,
    /// Every gate's result.
    pub gates: Vec<GateRecord>,
    /// The outcome.
    pub outcome: DecisionOutcome,
    /// The review this record resolves, for a record following a needs-review decision.
    pub review: Option<ReviewLink>,
    /// When the decision was made (inside the signed bytes).
    pub decided_at: Timestamp,
    /// The signer's public key.
    pub signer: PublicKeyBytes,
    /// Ed25519 signature over the canonical bytes.
    pub signature: SignatureBytes,
    /// The log prefix the decision read (layout 2): its size and RFC 6962 root, so the
    /// signature also commits to everything the log held when the evidence was read, not
    /// only to the evidence records. `None` only for layout-1 decisions written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogPin>,
}

/// The log prefix a decision read: the size of the log (its `evaluated_at`) and the root
/// of the RFC 6962 SHA-256 Merkle tree over the stored bytes of its first `size` records.
/// A verifier holding the log recomputes the root; one holding a bundle can only check
/// the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogPin {
    /// The number of records in the prefix (equal to the decision's `evaluated_at`).
    pub size: u64,
    /// The RFC 6962 Merkle tree hash (SHA-256) of that prefix.
    pub root: [u8; 32],
}

/// How a [`LogPin`] looks in JSON: the root as 64 lowercase hex digits.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogPinJson {
    size: u64,
    root: String,
}

impl Serialize for LogPin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LogPinJson {
            size: self.size,
            root: hex(&self.root),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LogPin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = LogPinJson::deserialize(d)?;
        let root = parse_hex::<32>(&json.root).ok_or_else(|| {
            serde::de::Error::custom(format!("expected 64 hex digits, got `{}`", json.root))
        })?;
        Ok(LogPin {
            size: json.size,
            root,
        })
    }
}

/// A reviewer's verdict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// Promote the candidate.
    Approve,
    /// Reject it.
    Reject,
}

/// `review_recorded`: a signed human review of a needs-review decision.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct ReviewRecorded {
    /// Hash of the decision reviewed.
    pub decision: Digest,
    /// The verdict.
    pub verdict: ReviewVerdict,
    /// Who reviewed.
    pub reviewer: String,
    /// Why.
    pub reason: String,
    /// When (inside the signed bytes).
    pub reviewed_at: Timestamp,
    /// The reviewer's public key.
    pub signer: PublicKeyBytes,
    /// Ed25519 signature over the canonical bytes.
    pub signature: SignatureBytes,
}

/// `deployment_recorded`: an artifact deployed to an environment, unsigned. Written by
/// versions before deployments were signed; the rule book refuses it now (anyone with
/// write access could have written one), so it stays only so that old logs decode.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct DeploymentRecorded {
    /// The environment (`production`, `staging-eu`).
    pub env: String,
    /// The artifact deployed.
    pub artifact: Digest,
    /// Hash of the decision that promoted it; none for a forced deployment without one.
    pub decision: Option<Digest>,
    /// Deployed without a promotion, on purpose.
    pub forced: bool,
    /// Why it was forced.
    pub reason: Option<String>,
}

/// `deployment_signed`: an artifact deployed to an environment, signed by a key trusted to
/// deploy. Its canonical bytes are defined in `schemas/decision-record.md` (crate
/// `vouch-chain`).
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct DeploymentSigned {
    /// The environment (`production`, `staging-eu`).
    pub env: String,
    /// The artifact deployed.
    pub artifact: Digest,
    /// Hash of the decision that promoted it; none for a forced deployment without one.
    pub decision: Option<Digest>,
    /// Deployed without a valid promotion, on purpose.
    pub forced: bool,
    /// Why it was forced.
    pub reason: Option<String>,
    /// When (inside the signed bytes).
    pub deployed_at: Timestamp,
    /// The deployer's public key.
    pub signer: PublicKeyBytes,
    /// Ed25519 signature over the canonical bytes.
    pub signature: SignatureBytes,
}

/// `live_metrics_observed`: metric values measured on a deployed model's live traffic in
/// one time window, once its labels arrived: what production actually delivers, set
/// against what validation promised (`vouch diagnose`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
#[serde(deny_unknown_fields)]
pub struct LiveMetricsObserved {
    /// The environment that served the traffic (`production`), as in deployments.
    pub env: String,
    /// The artifact that served the traffic.
    pub artifact: Digest,
    /// Metric name to value; always finite, at least one.
    pub metrics: BTreeMap<Name, f64>,
    /// The traffic segment measured; none means all of the window's traffic.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub segment: Option<Segment>,
    /// The start of the traffic window observed.
    pub window_start: Timestamp,
    /// The end of the traffic window observed; not before `window_start`.
    pub window_end: Timestamp,
    /// Labels (outcomes) had arrived up to this time when the values were computed.
    pub labels_through: Timestamp,
    /// How many labelled examples the values rest on.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub count: Option<u64>,
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
            Subject::Model(_) | Subject::Experiment(_) => None,
        }
    }

    /// Checks the rules the types alone do not carry: lengths, finiteness, non-empty maps,
    /// and that the subject fits the kind. Both decoders call it, so a decoded event
    /// always satisfies `schemas/`.
    ///
    /// # Errors
    /// A message naming the offending field.
    pub fn check(&self) -> Result<(), String> {
        if !self.kind().fits(&self.subject) {
            let wanted = self.kind().subject_field();
            let a = if wanted == "experiment" { "an" } else { "a" };
            return Err(format!(
                "kind {} concerns {a} {wanted}: set `{wanted}`, not `{}`",
                self.kind(),
                self.subject.field()
            ));
        }
        if let (Body::TagsSet(b), false) = (&self.body, matches!(self.subject, Subject::Model(_))) {
            if b.version.is_some() {
                return Err(
                    "data.version names a model version: only a model's tags have one".into(),
                );
            }
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
            Body::PolicyPublished(b) => {
                text("data.version", &b.version, 64)?;
                if b.text.len() > MAX_POLICY_BYTES {
                    return Err(format!("policy text is over {MAX_POLICY_BYTES} bytes"));
                }
                if Digest::of(b.text.as_bytes()) != b.digest {
                    return Err("policy digest does not match its text".into());
                }
            }
            Body::DecisionRecorded(b) => {
                text("data.policy_version", &b.policy_version, 64)?;
                if (b.index == 0) != b.prev.is_none() {
                    return Err(
                        "a decision has a previous hash exactly when its index is above 0".into(),
                    );
                }
                if !b.evidence.windows(2).all(|w| w[0] < w[1]) {
                    return Err("evidence positions must be strictly ascending".into());
                }
                for gate in &b.gates {
                    text("gate name", &gate.gate, 200)?;
                    if gate.candidate.is_some_and(|v| !v.is_finite())
                        || gate.baseline.is_some_and(|v| !v.is_finite())
                    {
                        return Err(format!(
                            "gate `{}` holds a value that is not finite",
                            gate.gate
                        ));
                    }
                }
            }
            Body::ReviewRecorded(b) => {
                text("data.reviewer", &b.reviewer, 200)?;
                text("data.reason", &b.reason, 4096)?;
            }
            Body::DeploymentRecorded(b) => {
                text("data.env", &b.env, 64)?;
                if b.forced && b.reason.as_deref().is_none_or(str::is_empty) {
                    return Err("a forced deployment needs a reason".into());
                }
            }
            Body::DeploymentSigned(b) => {
                text("data.env", &b.env, 64)?;
                if b.forced && b.reason.as_deref().is_none_or(str::is_empty) {
                    return Err("a forced deployment needs a reason".into());
                }
                if let Some(reason) = &b.reason {
                    text("data.reason", reason, 4096)?;
                }
            }
            Body::LiveMetricsObserved(b) => {
                text("data.env", &b.env, 64)?;
                if b.metrics.is_empty() {
                    return Err("data.metrics must hold at least one metric".into());
                }
                if let Some((name, value)) = b.metrics.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(format!("metric `{name}` is {value}: values must be finite"));
                }
                if b.window_start > b.window_end {
                    return Err(format!(
                        "data.window_start {} is after data.window_end {}",
                        b.window_start, b.window_end
                    ));
                }
            }
            Body::ExperimentCreated(b) => tracking::tags("data.tags", &b.tags)?,
            Body::TagsSet(b) => {
                if b.version == Some(0) {
                    return Err("data.version counts from 1".into());
                }
                if b.set.is_empty() && b.deleted.is_empty() {
                    return Err("data must set or delete at least one tag".into());
                }
                tracking::tags("data.set", &b.set)?;
                for key in &b.deleted {
                    tracking::tag_key("data.deleted", key)?;
                    if b.set.contains_key(key) {
                        return Err(format!("tag `{key}` is both set and deleted"));
                    }
                }
            }
            Body::RunUpdated(b) => {
                if b.name.is_none() && b.lifecycle.is_none() && !b.reopened {
                    return Err("data must rename, delete, restore or reopen the run".into());
                }
                if let Some(name) = &b.name {
                    text("data.name", name, 250)?;
                }
            }
            Body::MetricPoints(b) => {
                if b.points.is_empty() {
                    return Err("data.points must hold at least one point".into());
                }
                for p in &b.points {
                    if let Some(d) = &p.dataset {
                        text("data.points.dataset.name", &d.name, 500)?;
                        text("data.points.dataset.digest", &d.digest, 64)?;
                    }
                    if let Some(id) = &p.model_id {
                        tracking::model_id(id)?;
                    }
                }
            }
            Body::InputsLogged(b) => {
                if b.datasets.is_empty() && b.models.is_empty() {
                    return Err("data must name at least one dataset or model".into());
                }
                for d in &b.datasets {
                    text("data.datasets.name", &d.name, 500)?;
                    text("data.datasets.digest", &d.digest, 64)?;
                    for (field, value) in [
                        ("data.datasets.source_type", &d.source_type),
                        ("data.datasets.source", &d.source),
                        ("data.datasets.schema", &d.schema),
                        ("data.datasets.profile", &d.profile),
                    ] {
                        if let Some(v) = value {
                            tracking::free_text(field, v, tracking::MAX_TEXT_CHARS)?;
                        }
                    }
                    tracking::tags("data.datasets.tags", &d.tags)?;
                }
                b.models.iter().try_for_each(|m| tracking::model_id(m))?;
            }
            Body::LoggedModelCreated(b) => {
                tracking::model_id(&b.model_id)?;
                text("data.name", &b.name, 250)?;
                if let Some(t) = &b.model_type {
                    text("data.model_type", t, 250)?;
                }
                tracking::tags("data.params", &b.params)?;
                tracking::tags("data.tags", &b.tags)?;
            }
            Body::LoggedModelUpdated(b) => {
                tracking::model_id(&b.model_id)?;
                if b.status.is_none()
                    && b.params.is_empty()
                    && b.tags.is_empty()
                    && b.output_step.is_none()
                {
                    return Err(
                        "data must change the model's status, params, tags or output".into(),
                    );
                }
                tracking::tags("data.params", &b.params)?;
                tracking::tags("data.tags", &b.tags)?;
            }
            Body::ModelRegistered(b) => {
                if let Some(d) = &b.description {
                    tracking::free_text("data.description", d, tracking::MAX_TEXT_CHARS)?;
                }
                tracking::tags("data.tags", &b.tags)?;
            }
            Body::ModelVersionCreated(b) => {
                if b.version == 0 {
                    return Err("data.version counts from 1".into());
                }
                text("data.source", &b.source, 2048)?;
                if let Some(id) = &b.model_id {
                    tracking::model_id(id)?;
                }
                if let Some(d) = &b.description {
                    tracking::free_text("data.description", d, tracking::MAX_TEXT_CHARS)?;
                }
                tracking::tags("data.tags", &b.tags)?;
            }
            Body::AliasMoved(b) => {
                tracking::check_alias(&b.alias)?;
                if b.version == Some(0) {
                    return Err("data.version counts from 1".into());
                }
                if b.version.is_none() && b.decision.is_some() {
                    return Err("a removed alias cites no decision".into());
                }
            }
        }
        Ok(())
    }
}
