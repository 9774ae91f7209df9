//! The web UI's routes (`vouch-ui` renders; this only parses the request and answers).
//! Pages are HTML, assets are served from the binary, nothing comes from elsewhere:
//! `Content-Security-Policy` allows only this server's own scripts and styles.

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use vouch_app::as_of::At;
use vouch_app::failure::Failure;
use vouch_ui::{Html, UiError};

use crate::{with_ledger, AppState};

/// Only this server's own assets; inline SVG is markup, not script.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn page(html: Html) -> Response {
    let status = StatusCode::from_u16(html.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, html.body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page that could not be shown, in the UI's layout, with the failure's status.
fn error_page(error: &UiError) -> Response {
    let status = error.failure().http_status();
    page(vouch_ui::pages::error::render(error, status))
}

/// Renders with the ledger; a failure of the ledger is shown as an error page.
async fn render(
    state: &Arc<AppState>,
    work: impl FnOnce(&mut vouch_ledger::Ledger) -> vouch_ui::Result<Html> + Send + 'static,
) -> Response {
    match with_ledger(state, true, move |ledger| Ok(work(ledger))).await {
        Ok(Ok(html)) => page(html),
        Ok(Err(e)) => error_page(&e),
        Err(e) => error_page(&UiError::new(e.failure, e.message)),
    }
}

async fn runs(
    State(state): State<Arc<AppState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = vouch_ui::pages::runs::RunsRequest::from_query(&pairs);
    render(&state, move |ledger| {
        vouch_ui::pages::runs::render(&At::new(ledger, None), &request)
    })
    .await
}

async fn run_page(
    State(state): State<Arc<AppState>>,
    UrlPath(run): UrlPath<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = vouch_ui::pages::run::RunRequest::from_query(&run, &pairs);
    let now = (state.clock)();
    render(&state, move |ledger| {
        vouch_ui::pages::run::render(&At::new(ledger, None), &request, now)
    })
    .await
}

async fn compare(
    State(state): State<Arc<AppState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = vouch_ui::pages::compare::CompareRequest::from_query(&pairs);
    render(&state, move |ledger| {
        vouch_ui::pages::compare::render(&At::new(ledger, None), &request)
    })
    .await
}

/// A file name for `Content-Disposition`: the artifact name's last part, in characters
/// that need no quoting, else the digest.
fn download_name(name: &str, digest: &vouch_event::Digest) -> String {
    let last = name.rsplit('/').next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    if clean.trim_matches('.').is_empty() {
        digest.hex()
    } else {
        clean
    }
}

/// `/artifacts/{digest}`: the bytes of an artifact a run logged, streamed as a download,
/// when the ledger's content store holds them. Only digests the views know as artifacts
/// are looked up; anything else is 404.
async fn artifact(State(state): State<Arc<AppState>>, UrlPath(text): UrlPath<String>) -> Response {
    let missing = |message: String| error_page(&UiError::new(Failure::Unknown, message));
    let Ok(digest) = vouch_event::Digest::parse(&text) else {
        return missing(format!("`{text}` is not an artifact digest"));
    };
    let known = with_ledger(&state, true, move |ledger| {
        ledger
            .views()
            .artifacts(&digest)
            .map(|refs| refs.first().map(|r| r.artifact.name.clone()))
            .map_err(|e| crate::ApiError::new(vouch_app::failure::views_failure(&e), e))
    })
    .await;
    let name = match known {
        Ok(Some(name)) => name,
        Ok(None) => return missing(format!("no run logged an artifact {digest}")),
        Err(e) => return error_page(&UiError::new(e.failure, e.message)),
    };
    let path = vouch_mlflow::artifacts::BlobStore::new(&state.dir).path(&digest);
    let file = match std::fs::File::open(&path) {
        Ok(f) if f.metadata().is_ok_and(|m| m.is_file()) => f,
        _ => {
            return missing(format!(
                "the ledger's content store does not hold artifact {digest}"
            ))
        }
    };
    let length = file.metadata().map(|m| m.len()).ok();
    let mut response = crate::file_body(file).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        download_name(&name, &digest)
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    response
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page, or the error page when it could not be rendered.
fn form_page(result: vouch_ui::Result<Html>) -> Response {
    match result {
        Ok(html) => page(html),
        Err(e) => error_page(&e),
    }
}

/// `GET /audit`: the forms; `GET /audit?digest=D` (the digest form) redirects to the
/// audit's stable URL, or shows the form again with why the digest was refused (400).
async fn audit_form(Query(pairs): Query<Vec<(String, String)>>) -> Response {
    use vouch_ui::pages::audit;
    match pairs.iter().find(|(k, _)| k == "digest") {
        None => form_page(audit::render_form("", None)),
        Some((_, text)) => match audit::parse_pasted(text) {
            Ok(digest) => Redirect::to(&audit::location(&digest)).into_response(),
            Err(e) => form_page(audit::render_form(text.trim(), Some(e.to_string()))),
        },
    }
}

/// `GET /audit/{digest}`: the audit report (404 when nothing promoted the artifact).
async fn audit_page(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(digest): axum::extract::Path<String>,
) -> Response {
    render(&state, move |ledger| {
        vouch_ui::pages::audit::render(&At::new(ledger, None), &digest)
    })
    .await
}

/// `POST /audit/upload`: the artifact's raw bytes (`application/octet-stream`, as the
/// page's script streams a chosen file), hashed as they arrive and never stored nor held
/// whole; answered with a redirect (303) to the audit of their digest. Over the server's
/// `max_upload_bytes` it is refused (413). A multipart form post is refused (415): its
/// body is not the file, and the no-script path is pasting the digest.
async fn audit_upload(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
) -> Response {
    use futures_util::StreamExt;
    let refuse = |status: StatusCode, message: String| {
        let error = UiError::new(vouch_app::failure::Failure::BadInput, message);
        page(vouch_ui::pages::error::render(&error, status.as_u16()))
    };
    let kind = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if kind.as_deref() != Some("application/octet-stream") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an upload to /audit/upload is the artifact's raw bytes (Content-Type: \
             application/octet-stream), as the audit page's script sends them; without \
             JavaScript, paste the digest `b3sum FILE` prints into the form at /audit"
                .to_owned(),
        );
    }
    let max = state.max_upload_bytes;
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the upload is larger than this server's limit of {max} bytes (--max-upload-mib); hash the file with `b3sum FILE` and paste the digest instead"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large();
    }
    let mut digest = vouch_event::DigestWriter::default();
    let mut size: u64 = 0;
    let mut stream = request.into_body().into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    format!("reading the upload failed: {e}"),
                )
            }
        };
        size += chunk.len() as u64;
        if size > max {
            return too_large();
        }
        digest.update(&chunk);
    }
    if size == 0 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the upload is empty: choose the artifact's file".to_owned(),
        );
    }
    Redirect::to(&vouch_ui::pages::audit::location(&digest.finish())).into_response()
}

/// `GET /diagnose/{model}?env=E&tolerance=X`: the diagnosis, as `vouch diagnose`.
async fn diagnose_page(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(model): axum::extract::Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = vouch_ui::pages::diagnose::DiagnoseRequest::from_query(&model, &pairs);
    let clock = state.clock;
    render(&state, move |ledger| {
        vouch_ui::pages::diagnose::render(&At::new(ledger, None), &request, clock)
    })
    .await
}

/// `GET /replay`: the form (prefilled from the query string, if any).
async fn replay_form(Query(pairs): Query<Vec<(String, String)>>) -> Response {
    let form = vouch_ui::pages::replay::ReplayForm::from_pairs(&pairs);
    form_page(vouch_ui::pages::replay::render_form(&form))
}

/// `POST /replay` (`application/x-www-form-urlencoded`): the replay report, or the form
/// again with why it was refused.
async fn replay_post(
    State(state): State<Arc<AppState>>,
    form: Result<
        axum::extract::Form<Vec<(String, String)>>,
        axum::extract::rejection::FormRejection,
    >,
) -> Response {
    let pairs = match form {
        Ok(axum::extract::Form(pairs)) => pairs,
        Err(rejection) => {
            let status = rejection.status();
            let error = UiError::new(vouch_app::failure::Failure::BadInput, rejection.body_text());
            return page(vouch_ui::pages::error::render(&error, status.as_u16()));
        }
    };
    let form = vouch_ui::pages::replay::ReplayForm::from_pairs(&pairs);
    let clock = state.clock;
    render(&state, move |ledger| {
        vouch_ui::pages::replay::render(ledger, &form, clock)
    })
    .await
}

async fn models_page(State(state): State<Arc<AppState>>) -> Response {
    render(&state, move |ledger| {
        vouch_ui::pages::models::render_list(&At::new(ledger, None))
    })
    .await
}

async fn model_page(
    State(state): State<Arc<AppState>>,
    UrlPath(model): UrlPath<String>,
) -> Response {
    render(&state, move |ledger| {
        vouch_ui::pages::models::render(&At::new(ledger, None), &model)
    })
    .await
}

async fn decision_page(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    render(&state, move |ledger| {
        vouch_ui::pages::decision::render(&At::new(ledger, None), &id)
    })
    .await
}

async fn chain_page(
    State(state): State<Arc<AppState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let request = vouch_ui::pages::chain::ChainRequest::from_query(&pairs);
    render(&state, move |ledger| {
        vouch_ui::pages::chain::render(&At::new(ledger, None), &request)
    })
    .await
}

/// The UI's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/runs", get(runs))
        .route("/models", get(models_page))
        .route("/models/{model}", get(model_page))
        .route("/decisions/{id}", get(decision_page))
        .route("/chain", get(chain_page))
        .route("/audit", get(audit_form))
        .route("/audit/upload", axum::routing::post(audit_upload))
        .route("/audit/{digest}", get(audit_page))
        .route("/diagnose/{model}", get(diagnose_page))
        .route(
            "/replay",
            get(replay_form)
                .post(replay_post)
                .layer(axum::extract::DefaultBodyLimit::max(
                    vouch_ui::pages::replay::MAX_FORM_BYTES,
                )),
        )
        .route("/runs/{run}", get(run_page))
        .route("/compare", get(compare))
        .route("/artifacts/{digest}", get(artifact))
        .route(
            "/static/vouch.css",
            get(|| async { asset(vouch_ui::STYLESHEET, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/vouch.js",
            get(|| async { asset(vouch_ui::SCRIPT, "text/javascript; charset=utf-8") }),
        )
}
