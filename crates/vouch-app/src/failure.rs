//! Why a command failed, decided in one place for every adapter: the CLI turns a
//! [`Failure`] into an exit code (README's table), the HTTP server into a status code.

/// Why a command failed, and so its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 1: a verification failed.
    Verify,
    /// 64.
    Usage,
    /// 65.
    BadInput,
    /// 65 as well in the CLI (bad input: the request names a run, model or environment
    /// the ledger does not hold), but 404 over HTTP, where what is named is the resource.
    Unknown,
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
    /// The process exit code (README's table).
    pub fn code(self) -> u8 {
        match self {
            Failure::Verify => 1,
            Failure::Usage => 64,
            Failure::BadInput | Failure::Unknown => 65,
            Failure::NotFound => 66,
            Failure::Busy | Failure::Unavailable => 69,
            Failure::Config => 78,
            Failure::NoPermission => 77,
            Failure::Internal => 70,
            Failure::Io => 74,
        }
    }

    /// The HTTP status `vouch serve --http` answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Failure::Verify => 409,
            Failure::Usage | Failure::BadInput => 400,
            Failure::NotFound | Failure::Unknown => 404,
            Failure::Busy | Failure::Unavailable => 503,
            Failure::Config | Failure::Internal => 500,
            Failure::NoPermission => 403,
            Failure::Io => 507,
        }
    }

    /// A stable name for the kind, for JSON error bodies.
    pub fn name(self) -> &'static str {
        match self {
            Failure::Verify => "verification_failed",
            Failure::Usage => "usage",
            Failure::BadInput => "bad_input",
            Failure::NotFound | Failure::Unknown => "not_found",
            Failure::Busy => "busy",
            Failure::Unavailable => "unavailable",
            Failure::Config => "configuration",
            Failure::NoPermission => "permission_denied",
            Failure::Internal => "internal",
            Failure::Io => "io",
        }
    }
}

impl Failure {
    /// The failure a stable name ([`Failure::name`]) stands for: its inverse, for a client
    /// reading a server's `{"error", "kind"}`. `not_found` is [`Failure::Unknown`]: over
    /// HTTP what a request names is the resource, and a run, model or decision the ledger
    /// does not hold is bad input to the CLI (65), as the local command says.
    pub fn from_name(name: &str) -> Option<Failure> {
        Some(match name {
            "verification_failed" => Failure::Verify,
            "usage" => Failure::Usage,
            "bad_input" => Failure::BadInput,
            "not_found" => Failure::Unknown,
            "busy" => Failure::Busy,
            "unavailable" => Failure::Unavailable,
            "configuration" => Failure::Config,
            "permission_denied" => Failure::NoPermission,
            "internal" => Failure::Internal,
            "io" => Failure::Io,
            _ => return None,
        })
    }

    /// The failure a server's error answer is, from its status and, when it names one,
    /// its kind: a refused token (401, 403) is [`Failure::NoPermission`] whatever the
    /// body says; a known kind is itself; otherwise 404 is [`Failure::Unknown`], any
    /// other 4xx bad input, 503 unavailable, and any other status internal.
    pub fn from_http(status: u16, kind: Option<&str>) -> Failure {
        if status == 401 || status == 403 {
            return Failure::NoPermission;
        }
        if let Some(failure) = kind.and_then(Failure::from_name) {
            return failure;
        }
        match status {
            404 => Failure::Unknown,
            400..=499 => Failure::BadInput,
            503 => Failure::Unavailable,
            _ => Failure::Internal,
        }
    }
}

/// The failure an error opening a ledger is.
pub fn open_failure(e: &vouch_ledger::OpenError) -> Failure {
    use vouch_ledger::OpenError as E;
    match e {
        E::Missing(_) => Failure::NotFound,
        E::NotADirectory(_) | E::NotALedger(_) | E::NotEmpty(_) => Failure::BadInput,
        // The marker is Vouch's own file: one that does not read back is damage.
        E::BadMarker { .. } => Failure::Internal,
        E::Busy { .. } => Failure::Busy,
        E::Io { source, .. } => io_failure(source),
        E::Nats(n) => nats_failure(n),
        E::EmbeddedNotNats(_) | E::NothingToFollow(_) => Failure::Usage,
        E::Project(p) => project_failure(p),
        E::Views(v) => views_failure(v),
        E::Trust(t) => trust_failure(t),
        E::Log(inner) => chain_failure(inner).unwrap_or(Failure::Internal),
        // The ledger's log is gone: not found, like a missing stream.
        E::LogMissing { .. } => Failure::NotFound,
        // Views that met another log, or a log shorter than what they applied: the
        // store does not hold together (`vouch rebuild` adopts the log as it is).
        E::OtherLog { .. } | E::LogShrank { .. } => Failure::Internal,
        _ => chain_failure(e).unwrap_or(Failure::Internal),
    }
}

/// The exit code for a file the user named (key, policy, bundle, trust list, NATS
/// credentials) that could not be read: absent 66; not a regular file, over its size cap
/// or not text 65; any other failure of the file system 74.
pub fn user_file_failure(error: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::NotFound => Failure::NotFound,
        K::InvalidInput | K::InvalidData => Failure::BadInput,
        _ => Failure::Io,
    }
}

/// The exit code for a failed read or write of a file Vouch keeps: a store that does not
/// decode is damage (70); anything else the file system reported, a full disk included,
/// is I/O (74).
pub fn io_failure(error: &std::io::Error) -> Failure {
    match error.kind() {
        std::io::ErrorKind::InvalidData => Failure::Internal,
        _ => Failure::Io,
    }
}

/// The exit code for the failure at the root of an error whose types this crate does not
/// name (the embedded log's open errors): the first log or I/O error in its chain.
pub(crate) fn chain_failure(error: &(dyn std::error::Error + 'static)) -> Option<Failure> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(l) = e.downcast_ref::<vouch_log::LogError>() {
            return Some(log_failure(l));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io_failure(io));
        }
        next = e.source();
    }
    None
}

/// The exit code for the ledger's own trust list (`trust.json`): Vouch wrote it, so one
/// that does not read back is a damaged store (70), like the marker.
pub fn trust_failure(error: &vouch_ledger::TrustError) -> Failure {
    use vouch_ledger::TrustError as T;
    match error {
        T::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidInput => {
            Failure::Internal
        }
        T::Io { source, .. } => io_failure(source),
        T::Damaged { .. } | T::Key(_) => Failure::Internal,
        _ => Failure::BadInput,
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
        // A credentials file async-nats cannot parse arrives as `InvalidData`: bad input.
        N::Credentials { source, .. } => user_file_failure(source),
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
        L::TooLarge { .. } | L::IdConflict { .. } | L::ContentConflict { .. } => Failure::BadInput,
        L::PermissionDenied(_) => Failure::NoPermission,
        _ => Failure::Internal,
    }
}

/// The exit code for a views store failure: sled's I/O errors (a full disk) are 74, a
/// store that does not decode is damage (70).
pub fn views_failure(error: &vouch_views::ViewsError) -> Failure {
    match error {
        // sled keeps an I/O failure's kind through this conversion and calls corruption
        // `InvalidData`; the CLI needs no sled of its own for that.
        vouch_views::ViewsError::Storage(s) => io_failure(&std::io::Error::from(s.clone())),
        _ => Failure::Internal,
    }
}

/// The exit code for a projection failure.
pub fn project_failure(error: &vouch_views::ProjectError) -> Failure {
    match error {
        vouch_views::ProjectError::Log(l) => log_failure(l),
        vouch_views::ProjectError::Views(v) => views_failure(v),
        _ => Failure::Internal,
    }
}

/// The failure a release command's error is: a record the rule book refuses, or one the
/// reviews do not decide, is bad input.
pub fn release_failure(error: &vouch_ledger::ReleaseError) -> Failure {
    use vouch_ledger::ReleaseError as R;
    match error {
        R::Refused(_) | R::Violation(_) | R::Rejected { .. } => Failure::BadInput,
        R::Log(l) => log_failure(l),
        R::Views(v) => views_failure(v),
        R::Project(p) => project_failure(p),
        _ => Failure::Internal,
    }
}

/// The failure an ingest's error is: unreadable input is I/O; the rest as the log or the
/// projection classify it.
pub fn ingest_failure(error: &crate::ingest::IngestError) -> Failure {
    use crate::ingest::IngestError as I;
    match error {
        I::Read { .. } => Failure::Io,
        I::Log(l) => log_failure(l),
        I::Project(p) => project_failure(p),
    }
}

/// The failure a gate's or a promotion's error is: a policy that does not parse or
/// governs another model, or an unknown run, is bad input.
pub fn promote_failure(error: &crate::promote::PromoteError) -> Failure {
    use crate::promote::PromoteError as P;
    match error {
        P::Gate(vouch_replay::GateError::Views(v)) => views_failure(v),
        P::Release(r) => release_failure(r),
        _ => Failure::BadInput,
    }
}

/// The failure a time's refusal is: bad input.
pub fn time_failure(_error: &crate::time::TimeError) -> Failure {
    Failure::BadInput
}

/// The failure an as-of view's error is: a point that does not parse or lies beyond the
/// log is bad input; the rest as the log, the projection or the views classify it.
pub fn as_of_failure(error: &crate::as_of::AsOfError) -> Failure {
    use crate::as_of::AsOfError as A;
    match error {
        A::Log(l) => log_failure(l),
        A::Project(p) => project_failure(p),
        A::Views(v) => views_failure(v),
        _ => Failure::BadInput,
    }
}

/// The failure showing or comparing runs is: a run the ledger does not hold is
/// [`Failure::Unknown`]; a metric it never logged, or too few runs, bad input.
pub fn runs_failure(error: &crate::runs::RunsError) -> Failure {
    use crate::runs::RunsError as R;
    match error {
        R::UnknownRun { .. } => Failure::Unknown,
        R::Views(v) => views_failure(v),
        _ => Failure::BadInput,
    }
}

/// The failure a diagnosis's error is: a model never released or an environment it never
/// reached is [`Failure::Unknown`]; a bad tolerance is bad input.
pub fn diagnose_failure(error: &vouch_diagnose::DiagnoseError) -> Failure {
    use vouch_diagnose::DiagnoseError as D;
    match error {
        D::NoDecisions(_) | D::UnknownEnv { .. } => Failure::Unknown,
        D::InvalidTolerance(_) => Failure::BadInput,
        D::Views(v) => views_failure(v),
        D::Release(r) => release_failure(r),
        D::Replay(r) => replay_library_failure(r),
        _ => Failure::Internal,
    }
}

/// The failure a replay's error is: a policy that does not parse, an empty range or a
/// model with no decisions is bad input.
pub fn replay_failure(error: &crate::replay::ReplayError) -> Failure {
    use crate::replay::ReplayError as R;
    match error {
        R::Replay(r) => replay_library_failure(r),
        _ => Failure::BadInput,
    }
}

/// The failure of `vouch_replay`'s own error (folding a decision's evidence, a replay).
pub fn replay_library_failure(error: &vouch_replay::ReplayError) -> Failure {
    use vouch_replay::ReplayError as R;
    match error {
        R::NoDecisions(_) => Failure::Unknown,
        R::Log(l) => log_failure(l),
        R::Release(r) => release_failure(r),
        R::Views(v) => views_failure(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunsError;

    #[test]
    fn an_unknown_name_is_bad_input_to_the_cli_and_not_found_over_http() {
        let unknown = RunsError::UnknownRun {
            run: vouch_event::RunId::new("r1").unwrap(),
            position: None,
        };
        let failure = runs_failure(&unknown);
        assert_eq!(
            (failure.code(), failure.http_status(), failure.name()),
            (65, 404, "not_found")
        );
        assert_eq!(
            unknown.to_string(),
            "unknown run `r1`: the ledger has no events for it"
        );
        assert_eq!(runs_failure(&RunsError::TooFewRuns(1)), Failure::BadInput);
    }

    #[test]
    fn every_name_reads_back_and_a_server_answer_is_classified() {
        use Failure as F;
        let all = [
            F::Verify,
            F::Usage,
            F::BadInput,
            F::Unknown,
            F::NotFound,
            F::Busy,
            F::Unavailable,
            F::Config,
            F::NoPermission,
            F::Internal,
            F::Io,
        ];
        for f in all {
            let back = Failure::from_name(f.name()).unwrap();
            assert_eq!(back.name(), f.name());
            assert_eq!(
                Failure::from_http(f.http_status(), Some(f.name())).name(),
                f.name()
            );
        }
        assert_eq!(Failure::from_name("not_found"), Some(F::Unknown));
        assert_eq!(Failure::from_name("nonsense"), None);
        assert_eq!(Failure::from_http(401, Some("bad_input")), F::NoPermission);
        assert_eq!(Failure::from_http(404, None).code(), 65);
        assert_eq!(Failure::from_http(413, None), F::BadInput);
        assert_eq!(Failure::from_http(502, None).code(), 70);
        assert_eq!(Failure::from_http(503, None).code(), 69);
    }

    #[test]
    fn a_replay_that_cannot_run_is_classified() {
        use crate::replay::{check_range, parse_policy, ReplayError};
        let policy = parse_policy("model = [").unwrap_err();
        assert!(matches!(policy, ReplayError::Policy(_)));
        assert_eq!(replay_failure(&policy), Failure::BadInput);
        let t = |s| vouch_event::Timestamp::parse_rfc3339(s).unwrap();
        let empty = check_range(
            Some(t("2026-11-02T00:00:00Z")),
            Some(t("2026-11-01T00:00:00Z")),
        )
        .unwrap_err();
        assert_eq!(replay_failure(&empty), Failure::BadInput);
        assert!(check_range(Some(t("2026-11-01T00:00:00Z")), None).is_ok());
        let none = ReplayError::Replay(vouch_replay::ReplayError::NoDecisions(
            vouch_event::ModelName::new("ghost").unwrap(),
        ));
        assert_eq!(replay_failure(&none), Failure::Unknown);
    }
}
