//! What the views hold about releases: policies, the decision chain, reviews,
//! deployments, the registry (model → versions and the production version), and live
//! observations of deployed models.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vouch_event::{
    DecisionOutcome, Digest, ModelName, Name, PublicKeyBytes, ReviewVerdict, RunId, Segment,
    Timestamp,
};

/// A policy recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct PolicyEntry {
    /// The model it governs.
    pub model: ModelName,
    /// Its version string.
    pub version: String,
    /// BLAKE3 of its text.
    pub digest: Digest,
    /// Log position of the `policy_published` event (the text is there).
    pub position: u64,
    /// When it was published.
    pub time: Timestamp,
}

/// A signed review of a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ReviewEntry {
    /// The review record's hash.
    pub hash: Digest,
    /// Log position.
    pub position: u64,
    /// Approve or reject.
    pub verdict: ReviewVerdict,
    /// Who.
    pub reviewer: String,
    /// Why.
    pub reason: String,
    /// When.
    pub reviewed_at: Timestamp,
    /// The signing key's id.
    pub signer: String,
    /// The signing key.
    pub signer_key: PublicKeyBytes,
}

/// One link of the decision chain, as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct DecisionEntry {
    /// Place in the chain.
    pub index: u64,
    /// The record's hash.
    pub hash: Digest,
    /// Log position of the record.
    pub position: u64,
    /// The model.
    pub model: ModelName,
    /// The candidate run.
    pub run: RunId,
    /// The baseline run compared against.
    pub baseline: Option<RunId>,
    /// The outcome.
    pub outcome: DecisionOutcome,
    /// The artifacts it concerns.
    pub artifacts: Vec<Digest>,
    /// The policy's digest and version.
    pub policy: Digest,
    /// See `policy`.
    pub policy_version: String,
    /// When it was decided.
    pub decided_at: Timestamp,
    /// The signing key's id.
    pub signer: String,
    /// The signing key.
    pub signer_key: PublicKeyBytes,
    /// The needs-review decision this record resolves, if any.
    pub resolves: Option<Digest>,
    /// For a decision that needed review: the chain index of the decision that resolved it.
    pub resolved_by: Option<u64>,
    /// Reviews of this decision, in log order.
    pub reviews: Vec<ReviewEntry>,
}

/// An artifact deployed to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct DeploymentEntry {
    /// The model.
    pub model: ModelName,
    /// The environment.
    pub env: String,
    /// The artifact.
    pub artifact: Digest,
    /// The decision that promoted it.
    pub decision: Option<Digest>,
    /// Deployed without a promotion, on purpose.
    pub forced: bool,
    /// Why it was forced.
    pub reason: Option<String>,
    /// When (the signed time).
    pub time: Timestamp,
    /// The envelope's producer: for a signed deployment always `vouch-release`; who
    /// deployed is the signing key (`signer_key`), named by trust.
    pub producer: String,
    /// Log position.
    pub position: u64,
    /// The record's hash.
    pub hash: Digest,
    /// The signing key's id.
    pub signer: String,
    /// The signing key.
    pub signer_key: PublicKeyBytes,
}

/// Metrics observed on a deployed model's live traffic in one window
/// (`live_metrics_observed`), as applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct LiveObservation {
    /// The model.
    pub model: ModelName,
    /// The environment that served the traffic.
    pub env: String,
    /// The artifact that served it.
    pub artifact: Digest,
    /// Metric name to value.
    pub metrics: BTreeMap<Name, f64>,
    /// The traffic segment; `None` is all of the window's traffic.
    pub segment: Option<Segment>,
    /// The traffic window.
    pub window_start: Timestamp,
    /// See `window_start`.
    pub window_end: Timestamp,
    /// Labels had arrived up to here when the values were computed.
    pub labels_through: Timestamp,
    /// Labelled examples behind the values.
    pub count: Option<u64>,
    /// When the producer published it.
    pub time: Timestamp,
    /// Who published it.
    pub producer: String,
    /// Its event id.
    pub event_id: String,
    /// Log position.
    pub position: u64,
}

/// A model's releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, bincode::Encode, bincode::Decode)]
pub struct ModelDoc {
    /// The model.
    pub model: ModelName,
    /// Chain index of the decision that made the current production version.
    pub production: Option<u64>,
    /// Chain indexes of every promotion, oldest first.
    pub versions: Vec<u64>,
    /// Chain indexes of every decision about the model.
    pub decisions: Vec<u64>,
    /// Deployments, in log order.
    pub deployments: Vec<DeploymentEntry>,
}

impl ModelDoc {
    /// An empty registry entry.
    pub fn new(model: ModelName) -> Self {
        ModelDoc {
            model,
            production: None,
            versions: Vec::new(),
            decisions: Vec::new(),
            deployments: Vec::new(),
        }
    }
}

/// The last decision applied: what the next one must link to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, bincode::Encode, bincode::Decode,
)]
pub struct ChainHead {
    /// Its index.
    pub index: u64,
    /// Its hash.
    pub hash: Digest,
    /// Its log position.
    pub position: u64,
    /// When it was decided.
    pub decided_at: Timestamp,
}
