//! One table of MLflow's endpoints: the HTTP adapter maps a method and path to an
//! [`Endpoint`], and [`handle`] answers it. Reads need only the views; writes the ledger.

use serde_json::Value;
use vouch_event::Lifecycle;
use vouch_ledger::Ledger;

use crate::registry::Promoter;
use crate::{models, registry, tracking, Caller, Result};

/// An endpoint's answer: a JSON value, or a document already encoded (a search writes
/// its runs straight to JSON, with no tree in between).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A value.
    Value(Value),
    /// Encoded JSON.
    Encoded(Vec<u8>),
}

impl Answer {
    /// The JSON text.
    pub fn into_bytes(self) -> Vec<u8> {
        match self {
            Answer::Value(v) => serde_json::to_vec(&v).expect("a value serializes"),
            Answer::Encoded(bytes) => bytes,
        }
    }

    /// The answer as a value (tests read it so).
    pub fn into_value(self) -> Value {
        match self {
            Answer::Value(v) => v,
            Answer::Encoded(bytes) => {
                serde_json::from_slice(&bytes).expect("encoded answers are JSON")
            }
        }
    }
}

/// An MLflow endpoint under `/api/2.0/mlflow/` (or `/api/3.0/mlflow/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET experiments/get-by-name`.
    GetExperimentByName,
    /// `GET experiments/get`.
    GetExperiment,
    /// `POST experiments/create`.
    CreateExperiment,
    /// `POST experiments/set-experiment-tag`.
    SetExperimentTag,
    /// `POST experiments/search` (also `GET`).
    SearchExperiments,
    /// `POST runs/create`.
    CreateRun,
    /// `POST runs/update`.
    UpdateRun,
    /// `GET runs/get`.
    GetRun,
    /// `POST runs/delete`.
    DeleteRun,
    /// `POST runs/restore`.
    RestoreRun,
    /// `POST runs/log-parameter`.
    LogParam,
    /// `POST runs/log-metric`.
    LogMetric,
    /// `POST runs/log-batch`.
    LogBatch,
    /// `POST runs/set-tag`.
    SetTag,
    /// `POST runs/delete-tag`.
    DeleteTag,
    /// `POST runs/log-inputs`.
    LogInputs,
    /// `POST runs/outputs`.
    LogOutputs,
    /// `POST runs/search`.
    SearchRuns,
    /// `GET metrics/get-history`.
    MetricHistory,
    /// `POST logged-models`.
    CreateLoggedModel,
    /// `GET logged-models/{id}`.
    GetLoggedModel(String),
    /// `PATCH logged-models/{id}`.
    FinalizeLoggedModel(String),
    /// `PATCH logged-models/{id}/tags`.
    SetLoggedModelTags(String),
    /// `POST logged-models/{id}/params`.
    LogLoggedModelParams(String),
    /// `POST logged-models/search`.
    SearchLoggedModels,
    /// `POST registered-models/create`.
    CreateRegisteredModel,
    /// `GET registered-models/get`.
    GetRegisteredModel,
    /// `GET registered-models/search`.
    SearchRegisteredModels,
    /// `POST registered-models/set-tag`.
    SetRegisteredModelTag,
    /// `POST model-versions/create`.
    CreateModelVersion,
    /// `GET model-versions/get`.
    GetModelVersion,
    /// `GET model-versions/get-download-uri`.
    ModelVersionDownloadUri,
    /// `GET model-versions/search`.
    SearchModelVersions,
    /// `POST model-versions/set-tag`.
    SetModelVersionTag,
    /// `POST registered-models/alias`.
    SetAlias,
    /// `GET registered-models/alias`.
    GetAlias,
    /// `DELETE registered-models/alias`.
    DeleteAlias,
}

impl Endpoint {
    /// The endpoint at `method` and `path` (the part after `mlflow/`), if MLflow has one
    /// that Vouch answers.
    pub fn route(method: &str, path: &str) -> Option<Endpoint> {
        use Endpoint as E;
        let path = path.trim_end_matches('/');
        if let Some(rest) = path.strip_prefix("logged-models/") {
            if rest != "search" {
                return match (method, rest.split_once('/')) {
                    ("GET", None) => Some(E::GetLoggedModel(rest.to_owned())),
                    ("PATCH", None) => Some(E::FinalizeLoggedModel(rest.to_owned())),
                    ("PATCH", Some((id, "tags"))) => Some(E::SetLoggedModelTags(id.to_owned())),
                    ("POST", Some((id, "params"))) => Some(E::LogLoggedModelParams(id.to_owned())),
                    _ => None,
                };
            }
        }
        Some(match (method, path) {
            ("GET", "experiments/get-by-name") => E::GetExperimentByName,
            ("GET", "experiments/get") => E::GetExperiment,
            ("POST", "experiments/create") => E::CreateExperiment,
            ("POST", "experiments/set-experiment-tag") => E::SetExperimentTag,
            ("POST" | "GET", "experiments/search") => E::SearchExperiments,
            ("POST", "runs/create") => E::CreateRun,
            ("POST", "runs/update") => E::UpdateRun,
            ("GET", "runs/get") => E::GetRun,
            ("POST", "runs/delete") => E::DeleteRun,
            ("POST", "runs/restore") => E::RestoreRun,
            ("POST", "runs/log-parameter") => E::LogParam,
            ("POST", "runs/log-metric") => E::LogMetric,
            ("POST", "runs/log-batch") => E::LogBatch,
            ("POST", "runs/set-tag") => E::SetTag,
            ("POST", "runs/delete-tag") => E::DeleteTag,
            ("POST", "runs/log-inputs") => E::LogInputs,
            ("POST", "runs/outputs") => E::LogOutputs,
            ("POST", "runs/search") => E::SearchRuns,
            ("GET", "metrics/get-history") => E::MetricHistory,
            ("POST", "logged-models") => E::CreateLoggedModel,
            ("POST", "logged-models/search") => E::SearchLoggedModels,
            ("POST", "registered-models/create") => E::CreateRegisteredModel,
            ("GET", "registered-models/get") => E::GetRegisteredModel,
            ("GET", "registered-models/search") => E::SearchRegisteredModels,
            ("POST", "registered-models/set-tag") => E::SetRegisteredModelTag,
            ("POST", "model-versions/create") => E::CreateModelVersion,
            ("GET", "model-versions/get") => E::GetModelVersion,
            ("GET", "model-versions/get-download-uri") => E::ModelVersionDownloadUri,
            ("GET", "model-versions/search") => E::SearchModelVersions,
            ("POST", "model-versions/set-tag") => E::SetModelVersionTag,
            ("POST", "registered-models/alias") => E::SetAlias,
            ("GET", "registered-models/alias") => E::GetAlias,
            ("DELETE", "registered-models/alias") => E::DeleteAlias,
            _ => return None,
        })
    }

    /// Whether the endpoint writes (needs the `write` scope; an alias move `promote`).
    pub fn writes(&self) -> bool {
        !matches!(
            self,
            Endpoint::GetExperimentByName
                | Endpoint::GetExperiment
                | Endpoint::SearchExperiments
                | Endpoint::GetRun
                | Endpoint::SearchRuns
                | Endpoint::MetricHistory
                | Endpoint::GetLoggedModel(_)
                | Endpoint::SearchLoggedModels
                | Endpoint::GetRegisteredModel
                | Endpoint::SearchRegisteredModels
                | Endpoint::GetModelVersion
                | Endpoint::ModelVersionDownloadUri
                | Endpoint::SearchModelVersions
                | Endpoint::GetAlias
        )
    }

    /// Whether the endpoint may record a release decision.
    pub fn promotes(&self) -> bool {
        matches!(self, Endpoint::SetAlias)
    }
}

/// Answers `endpoint` with the request's fields in `body` (a JSON body, or the query
/// parameters as an object).
///
/// # Errors
/// The MLflow error the client expects.
pub fn handle(
    ledger: &mut Ledger,
    caller: &Caller,
    promoter: &Promoter<'_>,
    endpoint: Endpoint,
    body: Value,
) -> Result<Answer> {
    use Endpoint as E;
    let value = match endpoint {
        E::GetExperimentByName => tracking::get_experiment_by_name(ledger.views(), body),
        E::GetExperiment => tracking::get_experiment(ledger.views(), body),
        E::CreateExperiment => tracking::create_experiment(ledger, caller, body),
        E::SetExperimentTag => tracking::set_experiment_tag(ledger, caller, body),
        E::SearchExperiments => tracking::search_experiments(ledger.views(), body),
        E::CreateRun => tracking::create_run(ledger, caller, body),
        E::UpdateRun => tracking::update_run(ledger, caller, body),
        E::GetRun => tracking::get_run(ledger.views(), body),
        E::DeleteRun => tracking::set_lifecycle(ledger, caller, body, Lifecycle::Deleted),
        E::RestoreRun => tracking::set_lifecycle(ledger, caller, body, Lifecycle::Active),
        E::LogParam => tracking::log_param(ledger, caller, body),
        E::LogMetric => tracking::log_metric(ledger, caller, body),
        E::LogBatch => tracking::log_batch(ledger, caller, body),
        E::SetTag => tracking::set_tag(ledger, caller, body),
        E::DeleteTag => tracking::delete_tag(ledger, caller, body),
        E::LogInputs => tracking::log_inputs(ledger, caller, body),
        E::LogOutputs => models::log_outputs(ledger, caller, body),
        E::SearchRuns => {
            return tracking::search_runs(ledger.views(), body).map(Answer::Encoded);
        }
        E::MetricHistory => tracking::metric_history(ledger.views(), body),
        E::CreateLoggedModel => models::create(ledger, caller, body),
        E::GetLoggedModel(id) => models::get(ledger.views(), &id),
        E::FinalizeLoggedModel(id) => models::finalize(ledger, caller, &id, body),
        E::SetLoggedModelTags(id) => models::set_tags(ledger, caller, &id, body),
        E::LogLoggedModelParams(id) => models::log_params(ledger, caller, &id, body),
        E::SearchLoggedModels => models::search(ledger.views(), body),
        E::CreateRegisteredModel => registry::create_model(ledger, caller, body),
        E::GetRegisteredModel => registry::get_model(ledger.views(), body),
        E::SearchRegisteredModels => registry::search_models(ledger.views(), body),
        E::SetRegisteredModelTag => registry::set_tag(ledger, caller, body, false),
        E::CreateModelVersion => registry::create_version(ledger, caller, body),
        E::GetModelVersion => registry::get_version(ledger.views(), body),
        E::ModelVersionDownloadUri => registry::download_uri(ledger.views(), body),
        E::SearchModelVersions => registry::search_versions(ledger.views(), body),
        E::SetModelVersionTag => registry::set_tag(ledger, caller, body, true),
        E::SetAlias => registry::set_alias(ledger, caller, promoter, body),
        E::GetAlias => registry::get_alias(ledger.views(), body),
        E::DeleteAlias => registry::delete_alias(ledger, caller, body),
    };
    value.map(Answer::Value)
}
