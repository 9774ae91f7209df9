//! The web UI's routes (`vouch-ui` renders; this only parses the request and answers).
//! Pages are HTML, assets are served from the binary, nothing comes from elsewhere:
//! `Content-Security-Policy` allows only this server's own scripts and styles.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use vouch_app::as_of::At;
use vouch_ui::{Html, UiError};

use crate::{with_ledger, AppState};

/// Only this server's own assets; inline SVG is markup, not script.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

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

/// The UI's routes.
pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/runs", get(runs))
        .route(
            "/static/vouch.css",
            get(|| async { asset(vouch_ui::STYLESHEET, "text/css; charset=utf-8") }),
        )
        .route(
            "/static/vouch.js",
            get(|| async { asset(vouch_ui::SCRIPT, "text/javascript; charset=utf-8") }),
        )
}
