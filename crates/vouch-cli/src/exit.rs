//! Exit codes, mapped in one place so scripts can trust them.
//!
//! | code | meaning |
//! |------|---------|
//! | 0    | success |
//! | 1    | a gate failed; an audit or verification failed |
//! | 2    | a decision needs human review |
//! | 64   | usage: unknown command or flag, missing argument, `demo` in a ledger it did not create |
//! | 65   | bad input data: invalid value, malformed event, unknown run, bad ingest lines, a time in the future; a release record the rule book refuses |
//! | 66   | input not found: no such file, no ledger at the path |
//! | 69   | unavailable: the ledger was busy past the lock timeout, or the NATS server did not answer |
//! | 70   | internal error: a bug or a damaged store |
//! | 74   | I/O error reading or writing files or the log's storage |
//! | 77   | permission denied: the NATS server refused this identity the publish (see deploy/nats/auth.conf) |
//! | 78   | configuration: a NATS stream whose settings could lose or renumber records |

use std::fmt;

/// Why a command failed, and so its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 1: a verification failed.
    Verify,
    /// 64.
    Usage,
    /// 65.
    BadInput,
    /// 66.
    NotFound,
    /// 69.
    Busy,
    /// 69: a server did not answer.
    Unavailable,
    /// 78.
    Config,
    /// 77: the server refused the credentials.
    NoPermission,
    /// 70.
    Internal,
    /// 74.
    Io,
}

impl Failure {
    pub fn code(self) -> u8 {
        match self {
            Failure::Verify => 1,
            Failure::Usage => 64,
            Failure::BadInput => 65,
            Failure::NotFound => 66,
            Failure::Busy | Failure::Unavailable => 69,
            Failure::Config => 78,
            Failure::NoPermission => 77,
            Failure::Internal => 70,
            Failure::Io => 74,
        }
    }
}

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
        use vouch_ledger::OpenError as E;
        let failure = match &e {
            E::Missing(_) => Failure::NotFound,
            E::NotADirectory(_) | E::NotALedger(_) | E::NotEmpty(_) | E::BadMarker { .. } => {
                Failure::BadInput
            }
            E::Busy { .. } => Failure::Busy,
            E::Io { .. } => Failure::Io,
            E::Nats(n) => nats_failure(n),
            E::EmbeddedNotNats(_) | E::NothingToFollow(_) => Failure::Usage,
            E::Project(vouch_views::ProjectError::Log(l)) => log_failure(l),
            E::Trust(vouch_ledger::TrustError::Io { .. }) => Failure::Io,
            E::Trust(_) => Failure::BadInput,
            _ => Failure::Internal,
        };
        CliError {
            failure,
            error: e.into(),
        }
    }
}

/// The exit code for a NATS connection or stream problem.
pub fn nats_failure(error: &vouch_ledger::NatsError) -> Failure {
    use vouch_ledger::NatsError as N;
    if error.is_auth_failure() {
        return Failure::NoPermission;
    }
    match error {
        N::InvalidOption(_) => Failure::Usage,
        N::Credentials { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Failure::NotFound
        }
        N::Credentials { .. } => Failure::BadInput,
        N::UnsafeStream { .. } | N::Refused { .. } => Failure::Config,
        N::MissingStream { .. } => Failure::NotFound,
        _ => Failure::Unavailable,
    }
}

/// The exit code for a log failure.
pub fn log_failure(error: &vouch_log::LogError) -> Failure {
    use vouch_log::LogError as L;
    match error {
        L::Unavailable(_) => Failure::Unavailable,
        L::Storage(_) => Failure::Io,
        L::TooLarge { .. } => Failure::BadInput,
        L::PermissionDenied(_) => Failure::NoPermission,
        _ => Failure::Internal,
    }
}

impl From<vouch_log::LogError> for CliError {
    fn from(e: vouch_log::LogError) -> Self {
        CliError {
            failure: log_failure(&e),
            error: e.into(),
        }
    }
}

impl From<vouch_ledger::AppendError> for CliError {
    fn from(e: vouch_ledger::AppendError) -> Self {
        let failure = match &e {
            vouch_ledger::AppendError::Log(l)
            | vouch_ledger::AppendError::Project(vouch_views::ProjectError::Log(l)) => {
                log_failure(l)
            }
            _ => Failure::Internal,
        };
        CliError {
            failure,
            error: e.into(),
        }
    }
}

impl From<vouch_views::ProjectError> for CliError {
    fn from(e: vouch_views::ProjectError) -> Self {
        let failure = match &e {
            vouch_views::ProjectError::Log(l) => log_failure(l),
            _ => Failure::Internal,
        };
        CliError {
            failure,
            error: e.into(),
        }
    }
}

macro_rules! internal_from {
    ($($t:ty),*) => {$(
        impl From<$t> for CliError {
            fn from(e: $t) -> Self {
                CliError { failure: Failure::Internal, error: e.into() }
            }
        }
    )*};
}

internal_from!(vouch_views::ViewsError);
