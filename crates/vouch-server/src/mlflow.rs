//! MLflow's REST API (`/api/2.0/mlflow/…`, `/api/3.0/mlflow/…`) and artifact proxy
//! (`/api/2.0/mlflow-artifacts/…`): the HTTP side of `vouch-mlflow`. Requests become
//! `vouch_mlflow::api` calls; answers and errors take MLflow's shapes
//! (`{"error_code", "message"}`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use vouch_mlflow::api::{handle, Endpoint};
use vouch_mlflow::artifacts::{self, BlobStore, UploadError};
use vouch_mlflow::registry::Promoter;
use vouch_mlflow::{Caller, ErrorCode, MlflowError};

use crate::{with_ledger, Actor, AppState};

/// An MLflow error as the client reads it.
pub(crate) struct MlflowResponse(MlflowError);

impl IntoResponse for MlflowResponse {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = Json(json!({"error_code": self.0.code.name(), "message": self.0.message}));
        (status, body).into_response()
    }
}

impl From<MlflowError> for MlflowResponse {
    fn from(e: MlflowError) -> Self {
        MlflowResponse(e)
    }
}

/// The API error of the ledger layer, as an MLflow error.
fn from_api(e: crate::ApiError) -> MlflowResponse {
    MlflowResponse(MlflowError::ledger(e.failure, e.message))
}

fn caller(state: &AppState, actor: Option<&Actor>) -> Caller {
    let producer = match actor {
        Some(Actor(name)) => vouch_event::Producer::new(format!("mlflow:{name}"))
            .unwrap_or_else(|_| state.producer.clone()),
        None => state.producer.clone(),
    };
    Caller {
        producer,
        actor: actor.map(|a| a.0.clone()),
        now: (state.clock)(),
    }
}

/// Query parameters as a JSON object; a repeated key becomes an array.
fn query_object(pairs: Vec<(String, String)>) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            Some(Value::Array(a)) => a.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
            None => {
                map.insert(k, Value::String(v));
            }
        }
    }
    Value::Object(map)
}

/// Every MLflow endpoint: `method` and the path after `mlflow/` pick the operation.
async fn endpoint(
    State(state): State<Arc<AppState>>,
    actor: Option<Extension<Actor>>,
    UrlPath(path): UrlPath<String>,
    Query(pairs): Query<Vec<(String, String)>>,
    method: Method,
    body: Bytes,
) -> Result<Response, MlflowResponse> {
    if path == "server-info" {
        return Ok(Json(json!({
            "store_type": "vouch",
            "multipart_uploads_enabled": false,
            "multipart_downloads_enabled": false,
            "workspaces_enabled": false,
            "trace_archival_enabled": false,
        }))
        .into_response());
    }
    let Some(endpoint) = Endpoint::route(method.as_str(), &path) else {
        let e = json!({
            "error_code": "ENDPOINT_NOT_FOUND",
            "message": format!("Vouch does not serve {method} /mlflow/{path}"),
        });
        return Ok((StatusCode::NOT_FOUND, Json(e)).into_response());
    };
    let request = if method == Method::GET {
        query_object(pairs)
    } else if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| MlflowError::invalid(format!("the request body is not JSON: {e}")))?
    };
    if !request.is_object() {
        return Err(MlflowError::invalid("the request body must be a JSON object").into());
    }
    let caller = caller(&state, actor.as_ref().map(|Extension(a)| a));
    let held = state.clone();
    let answer = with_ledger(&state, true, move |ledger| {
        let promoter = Promoter {
            key: held.release_key.as_ref(),
            policies: &held.policies,
        };
        Ok(handle(ledger, &caller, &promoter, endpoint, request))
    })
    .await
    .map_err(from_api)?;
    let body = answer?.into_bytes();
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// `GET /api/2.0/mlflow-artifacts/artifacts?path=P`: a directory listing.
async fn list(
    State(state): State<Arc<AppState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, MlflowResponse> {
    let path = pairs
        .into_iter()
        .find(|(k, _)| k == "path")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let parsed = match artifacts::parse_path(&path) {
        Ok(p) => p,
        Err(e) if e.code == ErrorCode::ResourceDoesNotExist => {
            return Ok(Json(json!({"files": []})).into_response())
        }
        Err(e) => return Err(e.into()),
    };
    let answer = with_ledger(&state, true, move |ledger| {
        Ok(artifacts::list(ledger.views(), &parsed))
    })
    .await
    .map_err(from_api)?;
    Ok(Json(answer?).into_response())
}

/// `GET /api/2.0/mlflow-artifacts/artifacts/{path}`: a file's bytes, streamed.
async fn download(
    State(state): State<Arc<AppState>>,
    UrlPath(path): UrlPath<String>,
) -> Result<Response, MlflowResponse> {
    let parsed = artifacts::parse_path(&path)?;
    let found = with_ledger(&state, true, move |ledger| {
        Ok(artifacts::find(ledger.views(), &parsed))
    })
    .await
    .map_err(from_api)??;
    let (digest, _) = found;
    let blob = BlobStore::new(&state.dir).path(&digest);
    let file = std::fs::File::open(&blob).map_err(|e| {
        MlflowError::new(
            ErrorCode::InternalError,
            format!("the stored content {digest} is unreadable: {e}"),
        )
    })?;
    Ok(crate::file_body(file).into_response())
}

/// `PUT /api/2.0/mlflow-artifacts/artifacts/{path}`: stored as it streams in, hashed,
/// then logged on the run.
async fn upload(
    State(state): State<Arc<AppState>>,
    actor: Option<Extension<Actor>>,
    UrlPath(path): UrlPath<String>,
    request: Request,
) -> Result<Response, MlflowResponse> {
    let parsed = artifacts::parse_path(&path)?;
    // Nothing is stored for a path no run or model can take.
    let target = parsed.clone();
    with_ledger(&state, true, move |ledger| {
        Ok(artifacts::check_target(ledger.views(), &target))
    })
    .await
    .map_err(from_api)??;
    let store = BlobStore::new(&state.dir);
    let nonce = {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| {
            MlflowError::new(ErrorCode::InternalError, format!("no randomness: {e}"))
        })?;
        u64::from_le_bytes(bytes)
    };
    let storing = |e: std::io::Error| {
        MlflowResponse(MlflowError::new(
            ErrorCode::TemporarilyUnavailable,
            format!("storing the upload failed: {e}"),
        ))
    };
    let mut upload = tokio::task::block_in_place(|| store.begin(nonce, state.max_upload_bytes))
        .map_err(storing)?;
    let mut stream = request.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let written = match chunk {
            Ok(chunk) => tokio::task::block_in_place(|| upload.write(&chunk)),
            Err(e) => Err(UploadError::Io(std::io::Error::other(e.to_string()))),
        };
        if let Err(e) = written {
            upload.abandon();
            let code = match e {
                UploadError::TooLarge(_) => ErrorCode::InvalidParameterValue,
                UploadError::Io(_) => ErrorCode::TemporarilyUnavailable,
            };
            let e = MlflowError::new(code, e.to_string());
            let status = if code == ErrorCode::InvalidParameterValue {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = Json(json!({"error_code": e.code.name(), "message": e.message}));
            return Ok((status, body).into_response());
        }
    }
    let (digest, size, sha256) =
        tokio::task::block_in_place(|| upload.finish(&store)).map_err(|e| {
            MlflowResponse(MlflowError::new(
                ErrorCode::TemporarilyUnavailable,
                e.to_string(),
            ))
        })?;
    let caller = caller(&state, actor.as_ref().map(|Extension(a)| a));
    with_ledger(&state, true, move |ledger| {
        Ok(artifacts::record(
            ledger,
            &caller,
            &parsed,
            digest,
            size,
            Some(sha256),
        ))
    })
    .await
    .map_err(from_api)??;
    Ok(Json(json!({})).into_response())
}

/// The MLflow routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/2.0/mlflow/{*path}", any(endpoint))
        .route("/api/3.0/mlflow/{*path}", any(endpoint))
        .route("/api/2.0/mlflow-artifacts/artifacts", get(list))
        .route(
            "/api/2.0/mlflow-artifacts/artifacts/{*path}",
            get(download).put(upload),
        )
}

/// A refusal of an MLflow request before it reached its endpoint (no token, a token
/// without the scope), in MLflow's error shape.
pub(crate) fn refusal(status: StatusCode, message: String) -> Response {
    let code = if status == StatusCode::UNAUTHORIZED {
        "UNAUTHENTICATED"
    } else {
        "PERMISSION_DENIED"
    };
    (
        status,
        Json(json!({"error_code": code, "message": message})),
    )
        .into_response()
}

/// The scope a request to an MLflow path needs, if it is one: reads (searches are
/// POSTs) need `read`, writes `write`, an alias move `promote`.
pub(crate) fn scope(method: &Method, path: &str) -> Option<crate::Scope> {
    if path.starts_with("/api/2.0/mlflow-artifacts/") {
        return Some(if method == Method::PUT || method == Method::DELETE {
            crate::Scope::Write
        } else {
            crate::Scope::Read
        });
    }
    let rest = path
        .strip_prefix("/api/2.0/mlflow/")
        .or_else(|| path.strip_prefix("/api/3.0/mlflow/"))?;
    Some(match Endpoint::route(method.as_str(), rest) {
        Some(e) if e.promotes() => crate::Scope::Promote,
        Some(e) if e.writes() => crate::Scope::Write,
        _ => crate::Scope::Read,
    })
}
