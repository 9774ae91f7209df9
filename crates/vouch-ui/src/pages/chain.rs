//! `/chain`: the decision chain, newest first, one page at a time; above it the whole
//! log verified when the page loads with the function behind `vouch verify`
//! ([`vouch_ledger::Ledger::verify`]), the log's and the views' positions, and the
//! records the projector quarantined.

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::failure::{log_failure, release_failure, views_failure};
use vouch_log::Position;

use super::{short, when};
use crate::{Html, Result, UiError};

/// Decisions per page.
pub const PAGE_SIZE: u64 = 50;
/// Quarantined records listed at most.
const QUARANTINE_ROWS: usize = 200;

/// What the chain page was asked for: its URL's query.
#[derive(Debug, Clone, Default)]
pub struct ChainRequest {
    /// The page, from 1 (the newest decisions).
    pub page: Option<u64>,
}

impl ChainRequest {
    /// The request a query string's pairs make; unknown keys are ignored.
    pub fn from_query(pairs: &[(String, String)]) -> ChainRequest {
        let mut r = ChainRequest::default();
        for (k, v) in pairs {
            if k == "page" {
                r.page = v.parse().ok();
            }
        }
        r
    }
}

struct Row {
    index: u64,
    hash: String,
    short: String,
    model: String,
    run: String,
    outcome: &'static str,
    class: &'static str,
    signer: String,
    time: String,
}

struct Refused {
    position: u64,
    index: String,
    rule: String,
    reason: String,
}

struct Quarantined {
    position: u64,
    event_id: String,
    key: String,
    reason: String,
}

#[derive(Template)]
#[template(path = "chain.html")]
struct ChainPage<'a> {
    nav: &'a str,
    verified: bool,
    records: u64,
    decisions: u64,
    reviews: u64,
    deployments: u64,
    signatures: u64,
    /// The first failing record: position, chain index, rule, reason.
    failure: Option<Refused>,
    refused: Vec<Refused>,
    log_position: u64,
    views_position: u64,
    quarantined: u64,
    quarantine: Vec<Quarantined>,
    total: u64,
    rows: Vec<Row>,
    previous: Option<String>,
    next: Option<String>,
}

fn refused(f: &vouch_ledger::Failure) -> Refused {
    Refused {
        position: f.position,
        index: f.index.map(|i| i.to_string()).unwrap_or_default(),
        rule: f
            .rule
            .map_or_else(|| "log".to_owned(), |r| r.as_str().to_owned()),
        reason: f.reason.clone(),
    }
}

/// Renders the chain page.
///
/// # Errors
/// When the log cannot be read at all, the views fail, or the page does not render.
pub fn render(at: &At<'_>, request: &ChainRequest) -> Result<Html> {
    let ledger = at.ledger();
    let views = at.views();
    let trust = ledger.trust();
    let fail = |e: vouch_views::ViewsError| UiError::new(views_failure(&e), e);
    let report = ledger
        .verify(trust, &mut |_, _| {})
        .map_err(|e| UiError::new(release_failure(&e), e))?;
    let log_position = ledger
        .log()
        .last_position()
        .map_err(|e| UiError::new(log_failure(&e), e))?
        .get();
    let views_position = views.position().map_err(fail)?.get();
    let counts = views.counts().map_err(fail)?;
    let quarantine = views
        .quarantine(Position::ZERO, QUARANTINE_ROWS)
        .map_err(fail)?
        .into_iter()
        .map(|q| Quarantined {
            position: q.position,
            event_id: q.event_id,
            key: q.key,
            reason: q.reason,
        })
        .collect();
    let total = views.chain_head().map_err(fail)?.map_or(0, |h| h.index + 1);
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let page = request.page.unwrap_or(1).clamp(1, pages);
    // Newest first: page 1 ends at the head.
    let end = total.saturating_sub((page - 1) * PAGE_SIZE);
    let start = end.saturating_sub(PAGE_SIZE);
    let mut entries = views
        .decisions(start, usize::try_from(end - start).unwrap_or(usize::MAX))
        .map_err(fail)?;
    entries.retain(|d| d.index < end);
    entries.reverse();
    let rows = entries
        .into_iter()
        .map(|d| Row {
            index: d.index,
            hash: d.hash.hex(),
            short: short(&d.hash.hex()),
            model: d.model.to_string(),
            run: d.run.to_string(),
            outcome: d.outcome.as_str(),
            class: match d.outcome {
                vouch_event::DecisionOutcome::Promoted => "ok",
                vouch_event::DecisionOutcome::Rejected => "bad",
                vouch_event::DecisionOutcome::NeedsReview => "warn",
            },
            signer: trust
                .name_of(&d.signer_key)
                .map_or_else(|| format!("key {}", d.signer), str::to_owned),
            time: when(d.decided_at),
        })
        .collect();
    let body = ChainPage {
        nav: "chain",
        verified: report.failure.is_none(),
        records: report.records,
        decisions: report.decisions,
        reviews: report.reviews,
        deployments: report.deployments,
        signatures: report.signatures,
        failure: report.failure.as_ref().map(refused),
        refused: report.refused.iter().map(refused).collect(),
        log_position,
        views_position,
        quarantined: counts.quarantined,
        quarantine,
        total,
        rows,
        previous: (page > 1).then(|| format!("/chain?page={}", page - 1)),
        next: (page < pages).then(|| format!("/chain?page={}", page + 1)),
    }
    .render()?;
    Ok(Html::ok(body))
}
