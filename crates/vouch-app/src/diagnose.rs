//! On-call diagnosis of a deployed model: findings ranked by evidence, now or as of an
//! earlier point. What `vouch diagnose` prints and `GET /api/v1/diagnose` answers.

use vouch_diagnose::{DiagnoseError, Diagnosis, Options};
use vouch_event::ModelName;

use crate::as_of::At;
use crate::Clock;

/// What to diagnose.
#[derive(Debug, Clone)]
pub struct DiagnoseRequest {
    /// The model.
    pub model: ModelName,
    /// The environment whose deployment and live observations are read
    /// ([`vouch_diagnose::DEFAULT_ENV`] when not named).
    pub env: String,
    /// How far a live value may fall before it is a finding
    /// ([`vouch_diagnose::DEFAULT_TOLERANCE`] when not named).
    pub tolerance: f64,
}

impl DiagnoseRequest {
    /// The model in the default environment with the default tolerance.
    pub fn new(model: ModelName) -> DiagnoseRequest {
        DiagnoseRequest {
            model,
            env: vouch_diagnose::DEFAULT_ENV.to_owned(),
            tolerance: vouch_diagnose::DEFAULT_TOLERANCE,
        }
    }
}

/// Diagnoses `request.model` from `at`'s views, measuring ages to `at`'s time (then, or
/// `clock`'s now).
///
/// # Errors
/// [`DiagnoseError`]: a model never released, an environment it was never deployed to or
/// observed in, a tolerance that is not a finite number >= 0, or a failing store.
pub fn diagnose(
    at: &At<'_>,
    request: &DiagnoseRequest,
    clock: Clock,
) -> Result<Diagnosis, DiagnoseError> {
    vouch_diagnose::diagnose_in(
        at.ledger(),
        at.views(),
        &request.model,
        &Options {
            env: request.env.clone(),
            tolerance: request.tolerance,
            now: at.now(clock),
        },
    )
}
