//! The JSON wire form (see `schemas/README.md`): what pipelines in any language publish.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::{
    Body, Event, EventId, ExperimentName, Kind, ModelName, Producer, RunId, Subject, Timestamp,
    MAX_EVENT_BYTES, SCHEMA_VERSION,
};

/// Why a JSON document is not a valid v1 event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Over [`MAX_EVENT_BYTES`].
    #[error("event is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// The document's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON, or the envelope is malformed (missing field, wrong type, unknown field).
    #[error("{0}")]
    Envelope(String),
    /// The kind is recognised but reserved for a later version.
    #[error("kind `{0}` is reserved for release records that Vouch writes itself (promote, review, deploy); it is not accepted as JSON")]
    ReservedKind(Kind),
    /// The schema version is not one this build reads.
    #[error("schema version {0} is not supported (this build reads version {SCHEMA_VERSION})")]
    UnsupportedSchema(u64),
    /// `data` does not fit the kind.
    #[error("data of {kind}: {message}")]
    Data {
        /// The event's kind.
        kind: Kind,
        /// What is wrong.
        message: String,
    },
    /// The event breaks a rule the JSON types alone do not express.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIn<'a> {
    id: EventId,
    kind: Kind,
    schema: u64,
    time: Timestamp,
    producer: Producer,
    #[serde(default, deserialize_with = "present")]
    run: Option<RunId>,
    #[serde(default, deserialize_with = "present")]
    model: Option<ModelName>,
    #[serde(default, deserialize_with = "present")]
    experiment: Option<ExperimentName>,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Serialize)]
struct WireOut<'a> {
    id: &'a EventId,
    kind: Kind,
    schema: u16,
    time: Timestamp,
    producer: &'a Producer,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'a RunId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a ModelName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    experiment: Option<&'a ExperimentName>,
    data: serde_json::Value,
}

/// Decodes and validates one JSON event.
///
/// # Errors
/// A [`WireError`] that names the offending field and, for syntax errors, the column.
pub fn from_json(bytes: &[u8]) -> Result<Event, WireError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(WireError::TooLarge {
            size: bytes.len(),
            limit: MAX_EVENT_BYTES,
        });
    }
    let wire: WireIn<'_> = parse(bytes).map_err(WireError::Envelope)?;
    if wire.kind.is_reserved() {
        return Err(WireError::ReservedKind(wire.kind));
    }
    if wire.schema != u64::from(SCHEMA_VERSION) {
        return Err(WireError::UnsupportedSchema(wire.schema));
    }
    let subject = match (wire.run, wire.model, wire.experiment) {
        (Some(run), None, None) => Subject::Run(run),
        (None, Some(model), None) => Subject::Model(model),
        (None, None, Some(experiment)) => Subject::Experiment(experiment),
        (None, None, None) => {
            let field = wire.kind.subject_field();
            let a = if field == "experiment" { "an" } else { "a" };
            return Err(WireError::Invalid(format!(
                "kind {} concerns {a} {field}: missing field `{field}`",
                wire.kind
            )));
        }
        _ => {
            return Err(WireError::Invalid(
                "an event concerns one run, model or experiment: set exactly one of `run`, \
                 `model` and `experiment`"
                    .into(),
            ))
        }
    };
    let data = wire.data.get();
    let body = decode_body(wire.kind, data.as_bytes()).map_err(|message| WireError::Data {
        kind: wire.kind,
        message,
    })?;
    let event = Event {
        id: wire.id,
        time: wire.time,
        producer: wire.producer,
        subject,
        body,
    };
    event.check().map_err(WireError::Invalid)?;
    Ok(event)
}

/// Deserializes JSON, naming the field at fault: `step: invalid type: …`.
fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        }
    })?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

fn decode_body(kind: Kind, data: &[u8]) -> Result<Body, String> {
    Ok(match kind {
        Kind::RunStarted => Body::RunStarted(parse(data)?),
        Kind::ParamsLogged => Body::ParamsLogged(parse(data)?),
        Kind::MetricsLogged => Body::MetricsLogged(parse(data)?),
        Kind::ArtifactLogged => Body::ArtifactLogged(parse(data)?),
        Kind::DatasetBound => Body::DatasetBound(parse(data)?),
        Kind::RunFinished => Body::RunFinished(parse(data)?),
        Kind::LiveMetricsObserved => Body::LiveMetricsObserved(parse(data)?),
        Kind::ExperimentCreated => Body::ExperimentCreated(parse(data)?),
        Kind::TagsSet => Body::TagsSet(parse(data)?),
        Kind::RunUpdated => Body::RunUpdated(parse(data)?),
        Kind::MetricPoints => Body::MetricPoints(parse(data)?),
        Kind::InputsLogged => Body::InputsLogged(parse(data)?),
        Kind::LoggedModelCreated => Body::LoggedModelCreated(parse(data)?),
        Kind::LoggedModelUpdated => Body::LoggedModelUpdated(parse(data)?),
        Kind::ModelRegistered => Body::ModelRegistered(parse(data)?),
        Kind::ModelVersionCreated => Body::ModelVersionCreated(parse(data)?),
        Kind::AliasMoved => Body::AliasMoved(parse(data)?),
        Kind::PolicyPublished
        | Kind::DecisionRecorded
        | Kind::ReviewRecorded
        | Kind::DeploymentRecorded
        | Kind::DeploymentSigned => unreachable!("reserved kinds are rejected before"),
    })
}

/// The event as a JSON value in wire form.
pub fn to_json_value(event: &Event) -> serde_json::Value {
    let data = match &event.body {
        Body::RunStarted(b) => serde_json::to_value(b),
        Body::ParamsLogged(b) => serde_json::to_value(b),
        Body::MetricsLogged(b) => serde_json::to_value(b),
        Body::ArtifactLogged(b) => serde_json::to_value(b),
        Body::DatasetBound(b) => serde_json::to_value(b),
        Body::RunFinished(b) => serde_json::to_value(b),
        Body::PolicyPublished(b) => serde_json::to_value(b),
        Body::DecisionRecorded(b) => serde_json::to_value(b),
        Body::ReviewRecorded(b) => serde_json::to_value(b),
        Body::DeploymentRecorded(b) => serde_json::to_value(b),
        Body::LiveMetricsObserved(b) => serde_json::to_value(b),
        Body::DeploymentSigned(b) => serde_json::to_value(b),
        Body::ExperimentCreated(b) => serde_json::to_value(b),
        Body::TagsSet(b) => serde_json::to_value(b),
        Body::RunUpdated(b) => serde_json::to_value(b),
        Body::MetricPoints(b) => serde_json::to_value(b),
        Body::InputsLogged(b) => serde_json::to_value(b),
        Body::LoggedModelCreated(b) => serde_json::to_value(b),
        Body::LoggedModelUpdated(b) => serde_json::to_value(b),
        Body::ModelRegistered(b) => serde_json::to_value(b),
        Body::ModelVersionCreated(b) => serde_json::to_value(b),
        Body::AliasMoved(b) => serde_json::to_value(b),
    }
    .expect("payloads serialize: string keys, finite numbers");
    let (run, model, experiment) = match &event.subject {
        Subject::Run(run) => (Some(run), None, None),
        Subject::Model(model) => (None, Some(model), None),
        Subject::Experiment(experiment) => (None, None, Some(experiment)),
    };
    serde_json::to_value(WireOut {
        id: &event.id,
        kind: event.kind(),
        schema: SCHEMA_VERSION,
        time: event.time,
        producer: &event.producer,
        run,
        model,
        experiment,
        data,
    })
    .expect("the envelope serializes")
}

/// The event as one line of compact JSON in wire form.
pub fn to_json(event: &Event) -> String {
    to_json_value(event).to_string()
}
