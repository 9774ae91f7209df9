//! Reviews and deployments signed on the signer's machine (`vouch --server … review
//! approve`, `deploy`), and enactment with the server's release key.
//!
//! A signer's key never reaches the server. Writing a review or deployment takes two
//! requests: a draft (`POST /api/v1/reviews/draft`, `/api/v1/deployments/draft`): the
//! ledger's facts the record cites, from `Ledger::draft_review` / `draft_deployment`; then
//! the signed record (`POST /api/v1/reviews`, `/api/v1/deployments`), judged by the rule
//! book and appended by `Ledger::append_signed`, the one path local commands take too.
//!
//! Wire form of a record, draft or signed: `{"record": HEX}`, the lowercase hex of the
//! event's stored bytes (`vouch_event::encode`: format byte, then bincode), which is what
//! the log keeps; the JSON event form does not carry release records.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path as UrlPath, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use vouch_app::failure::{release_failure, Failure};
use vouch_event::{Body, Digest, Event, ReviewVerdict, Timestamp};
use vouch_ledger::ReleaseError;
use vouch_views::DecisionEntry;

use super::{parse_digest, parse_model, rejected, with_ledger, ApiError, AppState};

fn release_error(e: ReleaseError) -> ApiError {
    ApiError::new(release_failure(&e), e)
}

fn bad(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(Failure::BadInput, message)
}

/// The signer's public key and the signed time of a draft.
fn signer_and_time(
    signer: &str,
    at: &str,
) -> Result<(vouch_event::PublicKeyBytes, Timestamp), ApiError> {
    let key = vouch_chain::parse_public_key(signer).map_err(|e| bad(format!("signer: {e}")))?;
    let at = Timestamp::parse_rfc3339(at).map_err(|e| bad(format!("at: {e}")))?;
    Ok((key, at))
}

/// A record in its wire form.
fn wire(event: &Event) -> String {
    vouch_event::hex(&vouch_event::encode(event))
}

/// A record from its wire form.
fn unwire(text: &str) -> Result<Event, ApiError> {
    let bytes = vouch_event::parse_hex_bytes(text)
        .ok_or_else(|| bad("record: expected the lowercase hex of a stored event"))?;
    vouch_event::decode(&bytes).map_err(|e| bad(format!("record: {e}")))
}

fn decision_ref(d: &DecisionEntry) -> serde_json::Value {
    serde_json::json!({ "hash": d.hash, "index": d.index })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewDraftBody {
    decision: String,
    verdict: String,
    reason: String,
    signer: String,
    at: String,
}

/// `POST /api/v1/reviews/draft`: `{"decision", "verdict": "approve"|"reject", "reason",
/// "signer": "ed25519:HEX", "at": RFC 3339}` → `{"record", "decision": {"hash", "index"}}`.
pub(crate) async fn review_draft(
    State(state): State<Arc<AppState>>,
    body: Result<Json<ReviewDraftBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let verdict = match body.verdict.as_str() {
        "approve" => ReviewVerdict::Approve,
        "reject" => ReviewVerdict::Reject,
        other => {
            return Err(bad(format!(
                "verdict `{other}`: expected approve or reject"
            )))
        }
    };
    let (signer, at) = signer_and_time(&body.signer, &body.at)?;
    let answer = with_ledger(&state, true, move |ledger| {
        let (draft, target) = ledger
            .draft_review(&body.decision, verdict, &body.reason, &signer, at)
            .map_err(release_error)?;
        Ok(serde_json::json!({ "record": wire(&draft), "decision": decision_ref(&target) }))
    })
    .await?;
    Ok(Json(answer).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignedBody {
    record: String,
}

/// `POST /api/v1/reviews`: `{"record"}`, a signed review → as `vouch review approve
/// --json`: `{"review", "position", "decision", "approvals", "required", "rejected"}`.
pub(crate) async fn review(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SignedBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let event = unwire(&body.record)?;
    let Body::ReviewRecorded(signed) = &event.body else {
        return Err(bad(
            "record: expected a signed review (use /api/v1/deployments for deployments)",
        ));
    };
    let decision = signed.decision;
    let answer = with_ledger(&state, true, move |ledger| {
        let (review, position) = ledger.append_signed(&event).map_err(release_error)?;
        let target = ledger
            .find_decision(&decision.hex())
            .map_err(release_error)?;
        let state = ledger.review_state(&target).map_err(release_error)?;
        Ok(serde_json::json!({
            "review": review, "position": position, "decision": target.hash,
            "approvals": state.approvals, "required": state.required, "rejected": state.rejected,
        }))
    })
    .await?;
    Ok(Json(answer).into_response())
}

/// `POST /api/v1/reviews/{decision}/enact`: the reviews of a decision enacted with the
/// server's `--release-key`, as `vouch review enact --json`. It signs with the server's
/// key, so it needs the `promote` scope, like `POST /api/v1/promote` (`needed_scope`).
pub(crate) async fn enact(
    State(state): State<Arc<AppState>>,
    UrlPath(decision): UrlPath<String>,
) -> Result<Response, ApiError> {
    if state.release_key.is_none() {
        return Err(ApiError::new(
            Failure::Usage,
            "this server holds no release key: start it with --release-key to enact reviews",
        ));
    }
    let clock = state.clock;
    let st = state.clone();
    let answer = with_ledger(&state, true, move |ledger| {
        let key = st.release_key.as_ref().expect("checked above");
        let (outcome, recorded) = ledger
            .enact_review(&decision, key, clock())
            .map_err(release_error)?;
        Ok(serde_json::json!({
            "decision": recorded.hash, "index": recorded.index, "outcome": outcome.as_str(),
        }))
    })
    .await?;
    Ok(Json(answer).into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeploymentDraftBody {
    model: String,
    env: String,
    artifact: String,
    /// The reason of a forced deployment.
    forced: Option<String>,
    signer: String,
    at: String,
}

/// `POST /api/v1/deployments/draft`: `{"model", "env", "artifact", "forced": REASON|null,
/// "signer", "at"}` → `{"record", "decision": {"hash", "index"}|null}`.
pub(crate) async fn deployment_draft(
    State(state): State<Arc<AppState>>,
    body: Result<Json<DeploymentDraftBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let model = parse_model(Some(body.model))?.expect("given");
    let artifact = parse_digest(&body.artifact)?;
    let (signer, at) = signer_and_time(&body.signer, &body.at)?;
    let answer = with_ledger(&state, true, move |ledger| {
        let (draft, promoting) = ledger
            .draft_deployment(
                &model,
                &body.env,
                artifact,
                body.forced.as_deref(),
                &signer,
                at,
            )
            .map_err(release_error)?;
        Ok(serde_json::json!({
            "record": wire(&draft),
            "decision": promoting.as_ref().map(decision_ref),
        }))
    })
    .await?;
    Ok(Json(answer).into_response())
}

/// `POST /api/v1/deployments`: `{"record"}`, a signed deployment → as `vouch deploy
/// --json`: `{"model", "env", "artifact", "position", "decision", "forced"}`.
pub(crate) async fn deployment(
    State(state): State<Arc<AppState>>,
    body: Result<Json<SignedBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(rejected)?;
    let event = unwire(&body.record)?;
    let (vouch_event::Subject::Model(model), Body::DeploymentSigned(signed)) =
        (&event.subject, &event.body)
    else {
        return Err(bad(
            "record: expected a signed deployment about a model (use /api/v1/reviews for reviews)",
        ));
    };
    let answer = serde_json::json!({
        "model": model, "env": signed.env, "artifact": signed.artifact,
        "decision": signed.decision, "forced": signed.forced,
    });
    let position = with_ledger(&state, true, move |ledger| {
        let (_, position): (Digest, u64) = ledger.append_signed(&event).map_err(release_error)?;
        Ok(position)
    })
    .await?;
    let mut answer = answer;
    answer["position"] = position.into();
    Ok(Json(answer).into_response())
}
