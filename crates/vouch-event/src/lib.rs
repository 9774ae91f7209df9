//! Vouch's event model, version 1.
//!
//! An [`Event`] is one immutable fact a pipeline publishes: a run started, params or
//! metrics logged, an artifact or dataset bound, a run finished, metrics observed on a
//! deployed model's live traffic, and the release records. Events travel as JSON
//! (the wire form any language can publish, specified in `schemas/`) and are stored in
//! the log in a canonical binary form; an event's [`Digest`] is BLAKE3 over the exact
//! stored bytes.
//!
//! Architecture invariant: this crate does no I/O and reads no clock. Bytes in, events,
//! bytes and digests out.
#![deny(missing_docs)]

mod digest;
mod future;
mod ids;
mod model;
mod storage;
mod stored;
mod time;
mod tracking;
mod wire;

pub use digest::{Digest, DigestError, DigestWriter};
pub use ids::{EventId, ExperimentName, IdError, ModelName, Name, Producer, RunId, Segment};
pub use model::{
    hex, parse_hex, parse_hex_bytes, ArtifactLogged, Body, DatasetBound, DatasetRole,
    DecisionOutcome, DecisionRecorded, DeploymentRecorded, DeploymentSigned, Environment, Event,
    GateRecord, GateVerdict, GitInfo, Kind, LiveMetricsObserved, LogPin, MetricsLogged,
    ParamsLogged, PolicyPublished, PublicKeyBytes, ReviewLink, ReviewRecorded, ReviewVerdict,
    RunFinished, RunStarted, RunStatus, Sha256, SignatureBytes, Subject, MAX_POLICY_BYTES,
};
pub use storage::{
    decode, encode, encode_checked, event_digest, DecodeError, EventTooLarge, BINARY_FORMAT_V1,
};
pub use time::{FutureTimeError, Timestamp, TimestampError, MAX_CLOCK_SKEW};
pub use tracking::{
    check_alias, AliasMoved, AnyNumber, DatasetInput, DatasetRef, ExperimentCreated, InputsLogged,
    Lifecycle, LoggedModelCreated, LoggedModelUpdated, MetricPointLogged, MetricPoints,
    ModelRegistered, ModelStatus, ModelVersionCreated, RunUpdated, Tags, TagsSet,
    MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS,
};
pub use wire::{from_json, to_json, to_json_value, WireError};

/// The largest event Vouch accepts, in bytes (1 MiB), in either form: a JSON document,
/// and the stored (binary) form, which [`encode_checked`] is the one place to apply.
///
/// It matches NATS's default maximum payload, so an event accepted by the embedded
/// ledger can be moved onto a stream (one within a few hundred bytes of the limit also
/// needs room for its headers there: see deploy/README.md).
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// The schema version of every event this crate produces and accepts.
pub const SCHEMA_VERSION: u16 = 1;
