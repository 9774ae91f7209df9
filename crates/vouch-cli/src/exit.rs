//! Exit codes, mapped in one place so scripts can trust them. README's "Exit codes" table
//! is the contract; this file implements it.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 1    | a gate failed; an audit or verification failed |
//! | 2    | a decision needs human review |
//! | 64   | usage: unknown command or flag, missing argument, `demo` in a ledger it did not create |
//! | 65   | bad input data: invalid value, malformed event, an event over 1 MiB, an event id already recorded with other content, unknown run, bad ingest lines, a time in the future; a release record the rule book refuses; a file given that is not a regular file or is over its size limit |
//! | 66   | input not found: no such file, no ledger at the path |
//! | 69   | unavailable: the ledger was busy past the lock timeout, or the NATS server did not answer |
//! | 70   | internal error or a damaged store: a bug, or a ledger file Vouch wrote (`ledger.json`, `trust.json`, the log, the views) that does not read back |
//! | 74   | I/O error: a read or write that failed (a full disk included) |
//! | 77   | permission denied: the NATS server refused this identity the publish (see deploy/nats/auth.conf) |
//! | 78   | configuration: a NATS stream whose settings could lose or renumber records |

use std::fmt;

pub use vouch_app::failure::{
    log_failure, nats_failure, open_failure, project_failure, trust_failure, user_file_failure,
    views_failure, Failure,
};

/// An error at the binary edge: what to print and how to exit.
pub struct CliError {
    pub failure: Failure,
    pub error: anyhow::Error,
}

impl CliError {
    pub fn new(failure: Failure, error: anyhow::Error) -> Self {
        CliError { failure, error }
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:#}", self.failure, self.error)
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// Attaches a failure kind to any error.
pub trait Fail<T> {
    fn fail(self, failure: Failure) -> CliResult<T>;
}

impl<T, E: Into<anyhow::Error>> Fail<T> for Result<T, E> {
    fn fail(self, failure: Failure) -> CliResult<T> {
        self.map_err(|e| CliError {
            failure,
            error: e.into(),
        })
    }
}

/// A bad-input error with a message.
pub fn bad_input(message: impl fmt::Display) -> CliError {
    CliError {
        failure: Failure::BadInput,
        error: anyhow::anyhow!("{message}"),
    }
}

impl From<vouch_ledger::OpenError> for CliError {
    fn from(e: vouch_ledger::OpenError) -> Self {
        CliError {
            failure: open_failure(&e),
            error: e.into(),
        }
    }
}

/// A log error as the CLI reports it: an event over the size limit is named with the
/// limit's own message (`vouch_event::EventTooLarge`), as it is refused before the log.
fn log_error(e: vouch_log::LogError) -> anyhow::Error {
    match e {
        vouch_log::LogError::TooLarge {
            event_id,
            size,
            limit,
        } => vouch_event::EventTooLarge {
            event_id,
            size,
            limit,
        }
        .into(),
        e => e.into(),
    }
}

impl From<vouch_log::LogError> for CliError {
    fn from(e: vouch_log::LogError) -> Self {
        CliError {
            failure: log_failure(&e),
            error: log_error(e),
        }
    }
}

impl From<vouch_ledger::AppendError> for CliError {
    fn from(e: vouch_ledger::AppendError) -> Self {
        match e {
            vouch_ledger::AppendError::Log(l) => l.into(),
            vouch_ledger::AppendError::Project(p) => CliError {
                failure: project_failure(&p),
                error: vouch_ledger::AppendError::Project(p).into(),
            },
            e => CliError {
                failure: Failure::Internal,
                error: e.into(),
            },
        }
    }
}

impl From<vouch_views::ProjectError> for CliError {
    fn from(e: vouch_views::ProjectError) -> Self {
        match e {
            vouch_views::ProjectError::Log(l) => l.into(),
            e => CliError {
                failure: project_failure(&e),
                error: e.into(),
            },
        }
    }
}

impl From<vouch_views::ViewsError> for CliError {
    fn from(e: vouch_views::ViewsError) -> Self {
        CliError {
            failure: views_failure(&e),
            error: e.into(),
        }
    }
}
