//! Read queries over HTTP, each a thin adapter over its `vouch_app` command: runs (listed
//! and shown), comparisons, diagnoses, all optionally `as_of` an earlier time or log
//! position, and replays of past decisions under a posted policy. Each answers exactly
//! what the CLI's `--json` prints for the same request, and fails in the API's error shape
//! with the failure `vouch_app::failure` decides.

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path as UrlPath, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use vouch_app::as_of::{AsOf, AsOfError, At, Past};
use vouch_app::failure::{
    as_of_failure, diagnose_failure, replay_failure, runs_failure, time_failure, views_failure,
    Failure,
};
use vouch_app::time::DayEnd;
use vouch_event::{RunId, Timestamp};
use vouch_ledger::Ledger;
use vouch_views::{Condition, RunQuery};

use super::{parse_model, rejected, with_ledger, ApiError, AppState};

/// An `as_of` parameter (a log position, or RFC 3339 / a date as `--as-of` reads it).
fn parse_as_of(text: Option<&str>, now: Timestamp) -> Result<Option<AsOf>, ApiError> {
    text.map(|t| AsOf::parse(t, "as_of", now).map_err(as_of_error))
        .transpose()
}

fn as_of_error(e: AsOfError) -> ApiError {
    let failure = as_of_failure(&e);
    match e {
        AsOfError::Beyond { .. } => ApiError::new(failure, format!("as_of: {e}")),
        e => ApiError::new(failure, e),
    }
}

/// The ledger's views as of `point`, when given.
fn project(ledger: &Ledger, point: Option<AsOf>) -> Result<Option<Past>, ApiError> {
    point
        .map(|p| Past::project(ledger, p, &mut |_, _, _| {}).map_err(as_of_error))
        .transpose()
}

fn parse_run(text: &str) -> Result<RunId, ApiError> {
    RunId::new(text).map_err(|e| ApiError::new(Failure::BadInput, format!("run `{text}`: {e}")))
}

/// `GET /api/v1/runs?experiment=E&where=COND…&as_of=T`.
pub(crate) async fn runs(
    State(state): State<Arc<AppState>>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = pairs.map_err(rejected)?;
    let mut query = RunQuery::default();
    let mut as_of = None;
    for (key, value) in pairs {
        match key.as_str() {
            "experiment" => query.experiment = Some(value),
            "where" => {
                query.conditions.push(Condition::parse(&value).map_err(|e| {
                    ApiError::new(Failure::BadInput, format!("where `{value}`: {e}"))
                })?)
            }
            "as_of" => as_of = Some(value),
            other => {
                return Err(ApiError::new(
                    Failure::BadInput,
                    format!(
                        "unknown query parameter `{other}` (expected experiment, where, as_of)"
                    ),
                ))
            }
        }
    }
    let point = parse_as_of(as_of.as_deref(), (state.clock)())?;
    let runs = with_ledger(&state, true, move |ledger| {
        let past = project(ledger, point)?;
        vouch_app::runs::list(&At::new(ledger, past.as_ref()), &query)
            .map_err(|e| ApiError::new(views_failure(&e), e))
    })
    .await?;
    Ok(Json(runs).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunParams {
    history: Option<String>,
    as_of: Option<String>,
}

/// `GET /api/v1/runs/{run}?history=METRIC&as_of=T`.
pub(crate) async fn run(
    State(state): State<Arc<AppState>>,
    UrlPath(run): UrlPath<String>,
    params: Result<Query<RunParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(rejected)?;
    let run = parse_run(&run)?;
    let history = params
        .history
        .as_deref()
        .map(|text| {
            vouch_app::runs::parse_metric_key(text)
                .map_err(|e| ApiError::new(Failure::BadInput, format!("history `{text}`: {e}")))
        })
        .transpose()?;
    let point = parse_as_of(params.as_of.as_deref(), (state.clock)())?;
    let shown = with_ledger(&state, true, move |ledger| {
        let past = project(ledger, point)?;
        let request = vouch_app::runs::ShowRequest { run, history };
        vouch_app::runs::show(&At::new(ledger, past.as_ref()), &request)
            .map_err(|e| ApiError::new(runs_failure(&e), e))
    })
    .await?;
    Ok(Json(shown).into_response())
}

/// `GET /api/v1/compare?run=A&run=B…&as_of=T`.
pub(crate) async fn compare(
    State(state): State<Arc<AppState>>,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(pairs) = pairs.map_err(rejected)?;
    let mut runs = Vec::new();
    let mut as_of = None;
    for (key, value) in pairs {
        match key.as_str() {
            "run" => runs.push(parse_run(&value)?),
            "as_of" => as_of = Some(value),
            other => {
                return Err(ApiError::new(
                    Failure::BadInput,
                    format!("unknown query parameter `{other}` (expected run, as_of)"),
                ))
            }
        }
    }
    let point = parse_as_of(as_of.as_deref(), (state.clock)())?;
    let comparison = with_ledger(&state, true, move |ledger| {
        let past = project(ledger, point)?;
        vouch_app::compare::compare(&At::new(ledger, past.as_ref()), &runs)
            .map_err(|e| ApiError::new(runs_failure(&e), e))
    })
    .await?;
    Ok(Json(comparison).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DiagnoseParams {
    model: String,
    env: Option<String>,
    tolerance: Option<f64>,
    as_of: Option<String>,
}

/// `GET /api/v1/diagnose?model=M&env=E&tolerance=X&as_of=T`.
pub(crate) async fn diagnose(
    State(state): State<Arc<AppState>>,
    params: Result<Query<DiagnoseParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(rejected)?;
    let model = parse_model(Some(params.model))?.expect("given");
    let mut request = vouch_app::diagnose::DiagnoseRequest::new(model);
    if let Some(env) = params.env {
        request.env = env;
    }
    if let Some(tolerance) = params.tolerance {
        request.tolerance = tolerance;
    }
    let clock = state.clock;
    let point = parse_as_of(params.as_of.as_deref(), clock())?;
    let diagnosis = with_ledger(&state, true, move |ledger| {
        let past = project(ledger, point)?;
        vouch_app::diagnose::diagnose(&At::new(ledger, past.as_ref()), &request, clock)
            .map_err(|e| ApiError::new(diagnose_failure(&e), e))
    })
    .await?;
    Ok(Json(diagnosis).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBody {
    policy: String,
    model: Option<String>,
    since: Option<String>,
    until: Option<String>,
    #[serde(default)]
    all: bool,
}

/// `POST /api/v1/replay` with `{"policy": TOML text, "model", "since", "until", "all"}`.
pub(crate) async fn replay(
    State(state): State<Arc<AppState>>,
    body: Result<Json<ReplayBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let model = parse_model(body.model)?;
    let now = (state.clock)();
    let time = |text: Option<String>, what: &str, day: DayEnd| {
        text.map(|t| {
            vouch_app::time::parse_time(&t, what, day, now)
                .map_err(|e| ApiError::new(time_failure(&e), e))
        })
        .transpose()
    };
    let request = vouch_app::replay::ReplayRequest {
        policy: body.policy,
        model,
        since: time(body.since, "since", DayEnd::Start)?,
        until: time(body.until, "until", DayEnd::End)?,
        all: body.all,
    };
    let result = with_ledger(&state, true, move |ledger| {
        vouch_app::replay::replay(ledger, &request, &mut |_, _| {}).map_err(|e| {
            let failure = replay_failure(&e);
            match e {
                vouch_app::replay::ReplayError::Policy(why) => {
                    ApiError::new(failure, format!("policy: {why}"))
                }
                e => ApiError::new(failure, e),
            }
        })
    })
    .await?;
    Ok(Json(result).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GateBody {
    model: String,
    run: String,
    policy: String,
    as_of: Option<String>,
}

/// `POST /api/v1/gate` with `{"model", "run", "policy": TOML text, "as_of"}`: the policy
/// evaluated on the run (as of a past point, when given) and nothing recorded, as `vouch
/// gate --json`. The outcome is in the answer, not the status: a failed gate is a verdict.
pub(crate) async fn gate(
    State(state): State<Arc<AppState>>,
    body: Result<Json<GateBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let model = parse_model(Some(body.model))?.expect("given");
    let run = parse_run(&body.run)?;
    let clock = state.clock;
    let point = parse_as_of(body.as_of.as_deref(), clock())?;
    let report = with_ledger(&state, true, move |ledger| {
        let past = project(ledger, point)?;
        let at = At::new(ledger, past.as_ref());
        vouch_app::promote::evaluate(at.views(), &model, &run, body.policy, at.now(clock))
            .map(|e| e.gate_report())
            .map_err(|e| {
                let failure = vouch_app::failure::promote_failure(&e);
                match e {
                    vouch_app::promote::PromoteError::Policy(why) => {
                        ApiError::new(failure, format!("policy: {why}"))
                    }
                    e => ApiError::new(failure, e),
                }
            })
    })
    .await?;
    Ok(Json(report).into_response())
}
