//! MLflow compatibility: what the stock MLflow 3 client sends to a tracking server,
//! mapped onto Vouch's ledger as events, and answered from Vouch's views.
//!
//! Every MLflow request becomes events (see `schemas/`): params, metric points, tags set
//! or deleted, run renames and lifecycle, dataset inputs, logged models, registry
//! versions and aliases. Nothing is changed in place; the views fold the events into the
//! state MLflow's API reports. Each write derives its event ids from what it states (and,
//! for overwrites, the state it replaces), so a client's retry of a request it already
//! made writes nothing the second time, while a later request that happens to repeat an
//! earlier one (a tag set back to an old value) is a new fact.
//!
//! The HTTP routes live in `vouch-server`; this crate is the protocol: requests in, the
//! ledger's answer out, errors as MLflow's error codes.
#![deny(missing_docs)]

pub mod api;
pub mod artifacts;
pub mod filter;
mod ids;
pub mod limits;
pub mod models;
pub mod registry;
pub mod tracking;
pub mod wire;

use vouch_event::{Producer, Timestamp};

/// MLflow's error codes, with the HTTP status the client expects for each. Only
/// deterministic refusals are answered here, and all of them are 4xx: the client retries
/// 5xx for minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 404: no such experiment, run, model or alias (`set_experiment` relies on it).
    ResourceDoesNotExist,
    /// 400: already exists (`register_model` and `set_experiment` rely on it).
    ResourceAlreadyExists,
    /// 400: the request breaks a rule.
    InvalidParameterValue,
    /// 403: refused (a release gate said no).
    PermissionDenied,
    /// 500: the ledger failed (the client retries; the request may be repeated safely).
    InternalError,
    /// 503: the disk is full or the ledger is busy (retried with backoff).
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The name the client reads (`RESOURCE_DOES_NOT_EXIST`).
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::ResourceDoesNotExist => "RESOURCE_DOES_NOT_EXIST",
            ErrorCode::ResourceAlreadyExists => "RESOURCE_ALREADY_EXISTS",
            ErrorCode::InvalidParameterValue => "INVALID_PARAMETER_VALUE",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::TemporarilyUnavailable => "TEMPORARILY_UNAVAILABLE",
        }
    }

    /// The HTTP status.
    pub const fn http_status(self) -> u16 {
        match self {
            ErrorCode::ResourceDoesNotExist => 404,
            ErrorCode::ResourceAlreadyExists | ErrorCode::InvalidParameterValue => 400,
            ErrorCode::PermissionDenied => 403,
            ErrorCode::InternalError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
        }
    }
}

/// A refused or failed MLflow request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MlflowError {
    /// The code.
    pub code: ErrorCode,
    /// What the user reads.
    pub message: String,
}

impl MlflowError {
    /// An error with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        MlflowError {
            code,
            message: message.into(),
        }
    }

    /// 400 `INVALID_PARAMETER_VALUE`.
    pub fn invalid(message: impl Into<String>) -> Self {
        MlflowError::new(ErrorCode::InvalidParameterValue, message)
    }

    /// 404 `RESOURCE_DOES_NOT_EXIST`.
    pub fn missing(message: impl Into<String>) -> Self {
        MlflowError::new(ErrorCode::ResourceDoesNotExist, message)
    }

    /// A failure of the ledger, classified as the CLI's exit codes are: a full disk, an
    /// I/O error or a busy ledger is temporary (503, retried), bad input 400, anything
    /// else 500.
    pub fn ledger(failure: vouch_app::failure::Failure, message: impl std::fmt::Display) -> Self {
        use vouch_app::failure::Failure;
        let code = match failure {
            Failure::BadInput | Failure::Usage => ErrorCode::InvalidParameterValue,
            Failure::Unknown | Failure::NotFound => ErrorCode::ResourceDoesNotExist,
            Failure::Busy | Failure::Unavailable | Failure::Io => ErrorCode::TemporarilyUnavailable,
            Failure::NoPermission => ErrorCode::PermissionDenied,
            Failure::Verify | Failure::Config | Failure::Internal => ErrorCode::InternalError,
        };
        MlflowError::new(code, message.to_string())
    }
}

/// Who is asking and when: every write records the actor and reads the clock here.
#[derive(Debug, Clone)]
pub struct Caller {
    /// What events are published as (`mlflow:<token name>` or `mlflow`).
    pub producer: Producer,
    /// The token's name, when the server has tokens.
    pub actor: Option<String>,
    /// The time now.
    pub now: Timestamp,
}

/// The result of an MLflow operation.
pub type Result<T> = std::result::Result<T, MlflowError>;
