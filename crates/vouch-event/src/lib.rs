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
mod time;
mod wire;

pub use digest::{Digest, DigestError};
pub use ids::{EventId, IdError, ModelName, Name, Producer, RunId, Segment};
pub use model::{
    hex, parse_hex, ArtifactLogged, Body, DatasetBound, DatasetRole, DecisionOutcome,
    DecisionRecorded, DeploymentRecorded, DeploymentSigned, Environment, Event, GateRecord,
    GateVerdict, GitInfo, Kind, LiveMetricsObserved, MetricsLogged, ParamsLogged, PolicyPublished,
    PublicKeyBytes, ReviewLink, ReviewRecorded, ReviewVerdict, RunFinished, RunStarted, RunStatus,
    SignatureBytes, Subject, MAX_POLICY_BYTES,
};
pub use storage::{
    decode, encode, encode_checked, event_digest, DecodeError, EventTooLarge, BINARY_FORMAT_V1,
};
pub use time::{FutureTimeError, Timestamp, TimestampError, MAX_CLOCK_SKEW};
pub use wire::{from_json, to_json, to_json_value, WireError};

/// The largest event Vouch accepts as a JSON document, in bytes (1 MiB).
///
/// It matches NATS's default maximum payload. The stored form has a slightly lower
/// limit, [`MAX_STORED_EVENT_BYTES`].
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Room kept in a NATS message for the headers a record travels with: its `Nats-Msg-Id`
/// (an event id is at most 256 bytes) and a conditional append's expected sequence, with
/// room to spare.
pub const NATS_HEADER_ROOM: usize = 1024;

/// The largest event Vouch stores, in its encoded (binary) form: [`MAX_EVENT_BYTES`] less
/// [`NATS_HEADER_ROOM`], so every stored event fits a NATS message of the default size
/// with its headers, and an embedded ledger can always move onto a stream.
/// [`encode_checked`] is the one place that applies it.
pub const MAX_STORED_EVENT_BYTES: usize = MAX_EVENT_BYTES - NATS_HEADER_ROOM;

/// The schema version of every event this crate produces and accepts.
pub const SCHEMA_VERSION: u16 = 1;
