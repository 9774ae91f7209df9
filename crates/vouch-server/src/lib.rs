//! `vouch serve --http`: Vouch's JSON API over HTTP, a thin adapter over `vouch-app` and
//! the ledger's queries. It holds no rule of its own: events are ingested by
//! `vouch_app::ingest` (the same validation, line numbers and idempotence as `vouch
//! ingest`), failures are classified by `vouch_app::failure` (the same kinds as the CLI's
//! exit codes, as HTTP statuses), and reads are the views' own queries.
//!
//! The ledger is opened per request and closed after it, so CLI commands on the same
//! directory keep working while the server runs (they wait, at most, for one request).
//! Requests that touch the ledger are served one at a time.
//!
//! Security by default: the server listens on loopback; any other address needs a tokens
//! file (named bearer tokens with scopes `read`, `write`, `promote`), and then every
//! request must present one. Request bodies are capped.
//!
//! API, version 1 (JSON; errors are `{"error": message, "kind": name}`):
//!
//! | method and path | scope | answer |
//! |---|---|---|
//! | `GET /api/v1/status` | read | the ledger's positions and totals, as `vouch status --json` |
//! | `GET /api/v1/runs?experiment=E&where=COND…&as_of=T` | read | runs matching every condition (as of a log position or RFC 3339 time), as `vouch runs list --json` |
//! | `GET /api/v1/runs/{run}?history=METRIC&as_of=T` | read | one run, as `vouch runs show --json` |
//! | `GET /api/v1/compare?run=A&run=B…&as_of=T` | read | runs side by side, as `vouch compare --json` |
//! | `GET /api/v1/diagnose?model=M&env=E&tolerance=X&as_of=T` | read | a deployed model's findings, as `vouch diagnose --json` |
//! | `POST /api/v1/replay` | read | `{"policy", "model", "since", "until", "all"}` (the policy's TOML text): past decisions replayed under it, as `vouch replay --json` |
//! | `POST /api/v1/events?positions=true` | write | JSON lines in the body; the ingest report (422 when a line was not stored); with `positions=true` it lists in `stored` where each event is (`vouch --server`'s writes print it) |
//! | `GET /api/v1/registry?model=M` | read | models, versions, approvers, deployments, as `vouch registry --json` |
//! | `GET /api/v1/decisions?model=M&limit=N` | read | the chain, newest last (default 50), as `vouch decisions --json` |
//! | `POST /api/v1/promote` | promote | `{"model", "run", "policy"}` (the policy's TOML text): evaluated and the signed decision recorded with the server's `--release-key`, as `vouch promote --json` |
//! | `POST /api/v1/gate` | read | `{"model", "run", "policy", "as_of"}`: the policy evaluated and nothing recorded, as `vouch gate --json` (the outcome is in the answer) |
//! | `POST /api/v1/reviews/draft` | write | `{"decision", "verdict", "reason", "signer", "at"}`: the unsigned review the ledger's facts give, `{"record": HEX, "decision"}`, for the reviewer to sign locally (see `signed.rs`) |
//! | `POST /api/v1/reviews` | write | `{"record": HEX}`, a signed review: judged by the rule book and appended, as `vouch review approve --json` (the signature authorizes it) |
//! | `POST /api/v1/reviews/{decision}/enact` | promote | the reviews enacted with the server's `--release-key`, as `vouch review enact --json` |
//! | `POST /api/v1/deployments/draft` | write | `{"model", "env", "artifact", "forced", "signer", "at"}`: the unsigned deployment, `{"record": HEX, "decision"}` |
//! | `POST /api/v1/deployments` | write | `{"record": HEX}`, a signed deployment: judged and appended, as `vouch deploy --json` |
//! | `GET /api/v1/verify` | read | the whole log and chain checked, as `vouch verify --json` |
//! | `GET /api/v1/audit/{digest}` | read | an artifact walked back to its evidence, as `vouch audit --json` |
//! | `GET /api/v1/audit/{digest}/bundle` | read | the audit bundle, for `vouch verify-bundle` |
//! | `GET /api/v1/trust` | read | the trust list (public keys, names, roles), as `trust.json` |

mod mlflow;
mod queries;
mod signed;
mod ui;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vouch_app::failure::{open_failure, project_failure, release_failure, views_failure, Failure};
use vouch_app::Clock;
use vouch_ledger::{Ledger, OpenOptions};

/// The largest request body accepted by default: 64 MiB (an ingest of JSON lines).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 << 20;

/// The largest tokens file read.
const TOKENS_FILE: vouch_files::FileKind = vouch_files::FileKind::new("tokens file", 64 << 10);

/// How the server runs.
pub struct HttpOptions {
    /// Where to listen (`127.0.0.1:5000` by default in the CLI; port 0 picks one).
    pub addr: SocketAddr,
    /// The ledger directory.
    pub ledger: PathBuf,
    /// How to open it.
    pub open: OpenOptions,
    /// The bearer tokens; required to listen beyond loopback.
    pub tokens: Option<Tokens>,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The time events are checked against.
    pub clock: Clock,
    /// The release key decisions are signed with (`POST /api/v1/promote`); none: the
    /// route refuses.
    pub release_key: Option<vouch_chain::SigningKey>,
    /// Who is recorded as publishing what the server writes.
    pub producer: vouch_event::Producer,
    /// The largest artifact uploaded through the MLflow artifact proxy.
    pub max_upload_bytes: u64,
    /// Release policies by model, for moves of guarded MLflow aliases.
    pub policies: std::collections::BTreeMap<vouch_event::ModelName, String>,
}

/// The largest artifact upload accepted by default: 4 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 4 << 30;

/// The name of the token a request presented, recorded as the actor of what it writes.
#[derive(Debug, Clone)]
pub(crate) struct Actor(pub(crate) String);

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Listening beyond loopback without tokens would open the ledger to the network.
    #[error("refusing to listen on {0} without --tokens: beyond loopback every request must carry a bearer token (see `vouch serve --help`)")]
    OpenToTheNetwork(SocketAddr),
    /// The tokens file is unusable.
    #[error("tokens file {path}: {reason}")]
    Tokens {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Binding or serving failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Read anything.
    Read,
    /// Append evidence.
    Write,
    /// Record release decisions with the server's release key.
    Promote,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    token: String,
    scopes: Vec<Scope>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

/// Named bearer tokens with scopes, from a JSON file:
/// `{"tokens": [{"name": "ci", "token": "…", "scopes": ["read", "write"]}]}`.
pub struct Tokens(Vec<TokenEntry>);

impl Tokens {
    /// Reads a tokens file. Tokens must be at least 16 characters, and names and tokens
    /// distinct.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid tokens file.
    pub fn load(path: &Path) -> Result<Tokens, ServeError> {
        let bad = |reason: String| ServeError::Tokens {
            path: path.to_owned(),
            reason,
        };
        let text =
            vouch_files::read_to_string(path, TOKENS_FILE).map_err(|e| bad(e.to_string()))?;
        let file: TokensFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if file.tokens.is_empty() {
            return Err(bad("it holds no token".into()));
        }
        for (i, t) in file.tokens.iter().enumerate() {
            if t.token.len() < 16 {
                return Err(bad(format!(
                    "the token of `{}` is shorter than 16 characters",
                    t.name
                )));
            }
            if file.tokens[..i]
                .iter()
                .any(|o| o.name == t.name || o.token == t.token)
            {
                return Err(bad(format!(
                    "`{}` repeats another entry's name or token",
                    t.name
                )));
            }
        }
        Ok(Tokens(file.tokens))
    }

    /// The entry whose token is `presented`, compared in constant time per entry.
    fn find(&self, presented: &str) -> Option<&TokenEntry> {
        self.0
            .iter()
            .find(|t| constant_time_eq(t.token.as_bytes(), presented.as_bytes()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuses to listen beyond loopback without tokens.
///
/// # Errors
/// [`ServeError::OpenToTheNetwork`].
pub fn check_listen(addr: SocketAddr, tokens: Option<&Tokens>) -> Result<(), ServeError> {
    if !addr.ip().is_loopback() && tokens.is_none() {
        return Err(ServeError::OpenToTheNetwork(addr));
    }
    Ok(())
}

struct AppState {
    dir: PathBuf,
    open: OpenOptions,
    tokens: Option<Tokens>,
    clock: Clock,
    release_key: Option<vouch_chain::SigningKey>,
    producer: vouch_event::Producer,
    /// One request at a time touches the ledger, which stays open between requests.
    ledger: Arc<tokio::sync::Mutex<Held>>,
    /// The largest artifact upload accepted.
    max_upload_bytes: u64,
    /// Release policies by model, for moves of guarded MLflow aliases.
    policies: std::collections::BTreeMap<vouch_event::ModelName, String>,
}

/// A failed request: its kind (as the CLI's exit codes classify it) and message.
struct ApiError {
    failure: Failure,
    message: String,
    /// A status more precise than the failure's (401, 413, 415).
    status: Option<StatusCode>,
}

impl ApiError {
    fn new(failure: Failure, message: impl std::fmt::Display) -> Self {
        ApiError {
            failure,
            message: message.to_string(),
            status: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.failure.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        });
        let body = Json(serde_json::json!({
            "error": self.message,
            "kind": self.failure.name(),
        }));
        (status, body).into_response()
    }
}

/// The ledger the server holds open between requests, and when it was last used.
pub(crate) struct Held {
    ledger: Option<Ledger>,
    last_used: std::time::Instant,
}

/// How long the server keeps the ledger open without a request. Opening costs
/// milliseconds (two stores); holding it keeps other processes out, so it is let go
/// soon, and at once when another process waits for it (see `vouch_ledger::lock`).
const HOLD_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// How often the server checks whether to let the ledger go.
const HOLD_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

/// Runs `work` on the ledger (opened if the server does not hold it; caught up first
/// when `catch_up`), on a blocking thread, one request at a time. The ledger stays open
/// for the next request until it is idle or another process asks for it.
async fn with_ledger<T: Send + 'static>(
    state: &Arc<AppState>,
    catch_up: bool,
    work: impl FnOnce(&mut Ledger) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let mut held = state.ledger.clone().lock_owned().await;
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        // Another process waits for the ledger: let it in before this request, or it can
        // wait forever behind a steady stream of requests.
        if vouch_ledger::others_waiting(&state.dir) {
            drop(held.ledger.take());
            let deadline = std::time::Instant::now() + state.open.lock_timeout;
            while vouch_ledger::others_waiting(&state.dir) && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let mut ledger = match held.ledger.take() {
            Some(ledger) => ledger,
            None => Ledger::open(&state.dir, &state.open)
                .map_err(|e| ApiError::new(open_failure(&e), e))?,
        };
        let fresh = catch_up.then(|| ledger.catch_up(&mut |_, _| {}));
        if let Some(Err(e)) = fresh {
            // A ledger that failed is reopened by the next request.
            return Err(ApiError::new(project_failure(&e), e));
        }
        let result = work(&mut ledger);
        held.ledger = Some(ledger);
        held.last_used = std::time::Instant::now();
        result
    })
    .await
    .map_err(|e| {
        ApiError::new(
            Failure::Internal,
            format!("the request's worker failed: {e}"),
        )
    })?
}

/// Lets the held ledger go when no request used it for [`HOLD_IDLE`], or at once when
/// another process waits for the ledger's lock, so CLI commands on the directory never
/// wait out their lock timeout while the server runs.
async fn release_when_idle(state: Arc<AppState>) {
    loop {
        tokio::time::sleep(HOLD_CHECK).await;
        let Ok(mut held) = state.ledger.clone().try_lock_owned() else {
            continue;
        };
        if held.ledger.is_none() {
            continue;
        }
        if held.last_used.elapsed() >= HOLD_IDLE || vouch_ledger::others_waiting(&state.dir) {
            let ledger = held.ledger.take();
            // Closing flushes the views; off the async threads, and still holding the
            // turn so no request opens the ledger meanwhile.
            let _ = tokio::task::spawn_blocking(move || {
                drop(ledger);
                drop(held);
            })
            .await;
        }
    }
}

/// A request the extractors could not read (a malformed query or body, a missing JSON
/// content type): bad input, answered in the API's error shape like every other refusal.
fn rejected(rejection: impl IntoResponse + std::fmt::Display) -> ApiError {
    let message = rejection.to_string();
    ApiError {
        status: Some(rejection.into_response().status()),
        ..ApiError::new(Failure::BadInput, message)
    }
}

/// A model name from a request, if given.
fn parse_model(model: Option<String>) -> Result<Option<vouch_event::ModelName>, ApiError> {
    model
        .map(|m| {
            vouch_event::ModelName::new(m.clone())
                .map_err(|e| ApiError::new(Failure::BadInput, format!("model `{m}`: {e}")))
        })
        .transpose()
}

async fn status(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let report = with_ledger(&state, true, |ledger| {
        vouch_app::status::status(ledger).map_err(|e| ApiError::new(project_failure(&e), e))
    })
    .await?;
    Ok(Json(report).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    /// List where each stored event is (`vouch --server`'s writes print it).
    #[serde(default)]
    positions: bool,
}

async fn events(
    State(state): State<Arc<AppState>>,
    query: Result<Query<EventsQuery>, QueryRejection>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(rejected)?;
    let clock = state.clock;
    let report = with_ledger(&state, false, move |ledger| {
        let request = vouch_app::ingest::IngestRequest {
            input: Box::new(std::io::Cursor::new(body)),
            batch: vouch_app::ingest::DEFAULT_BATCH,
            clock,
            positions: query.positions,
        };
        vouch_app::ingest::ingest(ledger, request, &mut |_| {})
            .map_err(|e| ApiError::new(vouch_app::failure::ingest_failure(&e), e))
    })
    .await?;
    let status = if report.bad > 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryQuery {
    model: Option<String>,
}

async fn registry(
    State(state): State<Arc<AppState>>,
    query: Result<Query<RegistryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    use vouch_app::registry::RegistryError;
    let Query(query) = query.map_err(rejected)?;
    let model = parse_model(query.model)?;
    let models = with_ledger(&state, true, move |ledger| {
        vouch_app::registry::registry(ledger, ledger.views(), model.as_ref()).map_err(|e| {
            let failure = match &e {
                RegistryError::UnknownModel(_) => Failure::NotFound,
                RegistryError::Release(r) => release_failure(r),
                _ => Failure::Internal,
            };
            ApiError::new(failure, e)
        })
    })
    .await?;
    Ok(Json(models).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PromoteBody {
    model: String,
    run: String,
    policy: String,
}

async fn promote(
    State(state): State<Arc<AppState>>,
    body: Result<Json<PromoteBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let model = parse_model(Some(body.model))?.expect("given");
    let run = vouch_event::RunId::new(body.run.clone())
        .map_err(|e| ApiError::new(Failure::BadInput, format!("run `{}`: {e}", body.run)))?;
    if state.release_key.is_none() {
        return Err(ApiError::new(
            Failure::Usage,
            "this server holds no release key: start it with --release-key to record decisions",
        ));
    }
    let clock = state.clock;
    let st = state.clone();
    let promoted = with_ledger(&state, true, move |ledger| {
        let key = st.release_key.as_ref().expect("checked above");
        vouch_app::promote::promote(
            ledger,
            &model,
            &run,
            body.policy,
            key,
            &st.producer,
            clock(),
        )
        .map_err(|e| ApiError::new(vouch_app::failure::promote_failure(&e), e))
    })
    .await?;
    Ok(Json(promoted.report()).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionsQuery {
    model: Option<String>,
    limit: Option<usize>,
}

async fn decisions(
    State(state): State<Arc<AppState>>,
    query: Result<Query<DecisionsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(rejected)?;
    let request = vouch_app::decisions::DecisionsRequest {
        model: parse_model(query.model)?,
        limit: query.limit.unwrap_or(vouch_app::decisions::DEFAULT_LIMIT),
    };
    let shown = with_ledger(&state, true, move |ledger| {
        vouch_app::decisions::decisions(ledger.views(), &request)
            .map_err(|e| ApiError::new(views_failure(&e), e))
    })
    .await?;
    Ok(Json(shown).into_response())
}

/// `GET /api/v1/trust`: the server's trust list (public keys, names, roles), as the
/// ledger's `trust.json` holds it: what names signers in `vouch --server` tables.
async fn trust(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let trust = with_ledger(&state, false, |ledger| Ok(ledger.trust().clone())).await?;
    Ok(Json(trust).into_response())
}

async fn verify(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let report = with_ledger(&state, true, |ledger| {
        let trust = ledger.trust().clone();
        ledger
            .verify(&trust, &mut |_, _| {})
            .map_err(|e| ApiError::new(release_failure(&e), e))
    })
    .await?;
    Ok(
        Json(serde_json::json!({ "ok": report.failure.is_none(), "report": report }))
            .into_response(),
    )
}

fn parse_digest(text: &str) -> Result<vouch_event::Digest, ApiError> {
    vouch_event::Digest::parse(text)
        .map_err(|e| ApiError::new(Failure::BadInput, format!("digest `{text}`: {e}")))
}

/// An artifact named by its `blake3:` or `sha256:` digest, a sha256 resolved through the
/// views' index (the one place: `Views::resolve_artifact`).
fn resolve_artifact(ledger: &Ledger, text: &str) -> Result<vouch_event::Digest, ApiError> {
    ledger.views().resolve_artifact(text).map_err(|e| match e {
        vouch_views::ResolveError::Views(e) => ApiError::new(views_failure(&e), e),
        other => ApiError::new(Failure::BadInput, format!("artifact `{text}`: {other}")),
    })
}

async fn audit(
    State(state): State<Arc<AppState>>,
    UrlPath(digest): UrlPath<String>,
) -> Result<Response, ApiError> {
    let report = with_ledger(&state, true, move |ledger| {
        let digest = resolve_artifact(ledger, &digest)?;
        let trust = ledger.trust().clone();
        ledger
            .audit(&digest, &trust)
            .map_err(|e| ApiError::new(release_failure(&e), e))
    })
    .await?;
    Ok(Json(serde_json::json!({ "ok": report.ok(), "report": report })).into_response())
}

async fn bundle(
    State(state): State<Arc<AppState>>,
    UrlPath(digest): UrlPath<String>,
) -> Result<Response, ApiError> {
    let bundle = with_ledger(&state, true, move |ledger| {
        let digest = resolve_artifact(ledger, &digest)?;
        let trust = ledger.trust().clone();
        let report = ledger
            .audit(&digest, &trust)
            .map_err(|e| ApiError::new(release_failure(&e), e))?;
        let decision = report.decision.ok_or_else(|| {
            ApiError::new(
                Failure::NotFound,
                format!("no promotion of artifact {digest} to bundle"),
            )
        })?;
        vouch_app::transparency::proven_bundle(ledger, &digest, decision.index, &trust, None)
            .map(|proven| proven.bundle)
            .map_err(|e| ApiError::new(e.failure(), e))
    })
    .await?;
    Ok(Json(bundle).into_response())
}

/// With tokens configured, every request needs a bearer token with the route's scope:
/// `write` to post, `read` for the rest.
async fn authorize(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(tokens) = &state.tokens else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    // MLflow's client reads MLflow's error shape; Vouch's API answers in its own.
    let refuse = |status: StatusCode, message: String| {
        if mlflow::scope(request.method(), path).is_some() {
            mlflow::refusal(status, message)
        } else {
            ApiError {
                status: Some(status),
                ..ApiError::new(Failure::NoPermission, message)
            }
            .into_response()
        }
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(entry) = presented.and_then(|p| tokens.find(p)) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "a bearer token is required (MLflow clients: set MLFLOW_TRACKING_TOKEN)".to_owned(),
        );
    };
    let needed = needed_scope(request.method(), path);
    if !entry.scopes.contains(&needed) {
        return refuse(
            StatusCode::FORBIDDEN,
            format!("token `{}` lacks the `{needed:?}` scope", entry.name).to_lowercase(),
        );
    }
    tracing::debug!(actor = %entry.name, "authorized");
    let mut request = request;
    request.extensions_mut().insert(Actor(entry.name.clone()));
    next.run(request).await
}

/// The scope a request needs: the one place that decides it. Reads need `read` (also
/// the POSTs that only read: MLflow's searches, replay, gate), recording a decision with
/// the server's key `promote`, anything else `write`.
fn needed_scope(method: &Method, path: &str) -> Scope {
    const READING_POSTS: [&str; 4] = ["/api/v1/replay", "/api/v1/gate", "/replay", "/audit/upload"];
    if let Some(scope) = mlflow::scope(method, path) {
        scope
    } else if method == Method::GET || method == Method::HEAD || READING_POSTS.contains(&path) {
        Scope::Read
    } else if path == "/api/v1/promote" || path.ends_with("/enact") {
        Scope::Promote
    } else {
        Scope::Write
    }
}

fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/runs", get(queries::runs))
        .route("/api/v1/runs/{run}", get(queries::run))
        .route("/api/v1/compare", get(queries::compare))
        .route("/api/v1/diagnose", get(queries::diagnose))
        .route("/api/v1/replay", post(queries::replay))
        .route("/api/v1/events", post(events))
        .route("/api/v1/registry", get(registry))
        .route("/api/v1/decisions", get(decisions))
        .route("/api/v1/promote", post(promote))
        .route("/api/v1/gate", post(queries::gate))
        .route("/api/v1/reviews/draft", post(signed::review_draft))
        .route("/api/v1/reviews", post(signed::review))
        .route("/api/v1/reviews/{decision}/enact", post(signed::enact))
        .route("/api/v1/deployments/draft", post(signed::deployment_draft))
        .route("/api/v1/deployments", post(signed::deployment))
        .route("/api/v1/verify", get(verify))
        .route("/api/v1/trust", get(trust))
        .route("/api/v1/audit/{digest}", get(audit))
        .route("/api/v1/audit/{digest}/bundle", get(bundle))
        .merge(mlflow::routes())
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorize,
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Serves until `shutdown` completes. `listening` is told the bound address (port 0
/// picks a free one) once requests are accepted.
///
/// # Errors
/// [`ServeError`] when listening is refused or fails.
pub fn serve(
    options: HttpOptions,
    listening: impl FnOnce(SocketAddr),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    check_listen(options.addr, options.tokens.as_ref())?;
    let addr = options.addr;
    let io = |source| ServeError::Io { addr, source };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(io)?;
        let bound = listener.local_addr().map_err(io)?;
        let state = Arc::new(AppState {
            dir: options.ledger,
            open: options.open,
            tokens: options.tokens,
            clock: options.clock,
            release_key: options.release_key,
            producer: options.producer,
            ledger: Arc::new(tokio::sync::Mutex::new(Held {
                ledger: None,
                last_used: std::time::Instant::now(),
            })),
            max_upload_bytes: options.max_upload_bytes,
            policies: options.policies,
        });
        tokio::spawn(release_when_idle(state.clone()));
        listening(bound);
        axum::serve(listener, router(state, options.max_body_bytes))
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ServeError::Io {
                addr: bound,
                source,
            })
    })
}

/// A response body that streams `file` in 256 KiB reads, never the whole file in memory
/// (artifact downloads, of any size).
pub(crate) fn file_body(file: std::fs::File) -> axum::body::Body {
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 << 10];
        let read = tokio::task::block_in_place(|| std::io::Read::read(&mut file, &mut buf));
        match read {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    axum::body::Body::from_stream(stream)
}

/// A shutdown future that completes once `flag` is set (by a signal handler, which may
/// only store to an atomic), checked every 50 ms.
pub async fn until(flag: &'static std::sync::atomic::AtomicBool) {
    while !flag.load(std::sync::atomic::Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
