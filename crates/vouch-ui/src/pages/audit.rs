//! `/audit` and `/audit/{digest}`: an artifact walked back to its evidence, exactly as
//! `vouch audit` walks it. Every check comes from `Ledger::audit` (the function behind the
//! CLI and `GET /api/v1/audit/{digest}`); this page only arranges them: deployment,
//! decision, policy, reviews, evidence, each check green or red with its detail.
//!
//! Without JavaScript an artifact is audited by pasting its digest (`b3sum FILE` prints
//! it); with the script, a chosen file is streamed to `POST /audit/upload`, which hashes
//! it and redirects here (nothing is stored).

use askama::Template;
use vouch_app::as_of::At;
use vouch_event::{Digest, GateVerdict};
use vouch_ledger::{AuditReport, Check};

use super::{number, short, when};
use crate::{Html, Result, UiError};

/// The page's URL for `digest`: where the digest form and the upload redirect to.
pub fn location(digest: &Digest) -> String {
    format!("/audit/{digest}")
}

/// The digest a person pasted, as the CLI's `--digest` takes it (`blake3:<hex>`), also
/// accepting what `b3sum FILE` prints (the bare hex, then the file name).
///
/// # Errors
/// Bad input when it is not a digest.
pub fn parse_pasted(text: &str) -> Result<Digest> {
    let first = text.split_whitespace().next().unwrap_or("");
    let candidate = if first.len() == 64 && first.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("blake3:{}", first.to_ascii_lowercase())
    } else {
        first.to_owned()
    };
    Digest::parse(&candidate).map_err(|e| {
        UiError::new(
            vouch_app::failure::Failure::BadInput,
            if first.is_empty() {
                "paste a digest: `blake3:` and 64 hex characters, as `b3sum FILE` prints them"
                    .to_owned()
            } else {
                e.to_string()
            },
        )
    })
}

/// One check as shown: what, whether it held, why.
struct Shown {
    what: String,
    ok: bool,
    detail: String,
}

impl From<&Check> for Shown {
    fn from(c: &Check) -> Self {
        Shown {
            what: c.what.clone(),
            ok: c.ok,
            detail: c.detail.clone(),
        }
    }
}

struct Deployment {
    model: String,
    env: String,
    time: String,
    by: String,
    forced: bool,
    reason: String,
    position: u64,
}

struct Decision {
    hash: String,
    index: u64,
    outcome: &'static str,
    decided_at: String,
    signer: String,
    run: String,
    experiment: String,
    code: String,
    params: String,
}

struct Review {
    verdict: String,
    reviewer: String,
    at: String,
    signer: String,
    reason: String,
}

struct Gate {
    gate: String,
    metric: String,
    candidate: String,
    baseline: String,
    threshold: String,
    verdict: &'static str,
    class: &'static str,
}

struct Dataset {
    role: String,
    name: String,
    rows: u64,
    snapshot: String,
    labels: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    nav: &'a str,
    /// The digest in the form (what was asked, or empty).
    pasted: String,
    /// Why the pasted digest was refused.
    error: Option<String>,
    report: Option<Body>,
}

/// The report's parts, in the page's order.
struct Body {
    artifact: String,
    short: String,
    ok: bool,
    /// The audit's own words when the artifact was never promoted.
    never_promoted: Option<String>,
    deployments: Vec<Deployment>,
    deployment_checks: Vec<Shown>,
    decision: Option<Decision>,
    decision_checks: Vec<Shown>,
    policy_version: String,
    policy_digest: String,
    policy_text: Option<String>,
    reviews: Vec<Review>,
    review_checks: Vec<Shown>,
    evidence_count: usize,
    evaluated_at: u64,
    evidence_digest: String,
    gates: Vec<Gate>,
    datasets: Vec<Dataset>,
    /// Checks of a kind this page does not place in a section (none today).
    other_checks: Vec<Shown>,
    failed: usize,
    total: usize,
}

/// The audit page with only its forms: `error` says why a pasted digest was refused
/// (then the page is answered with 400).
///
/// # Errors
/// When the page does not render.
pub fn render_form(pasted: &str, error: Option<String>) -> Result<Html> {
    let status = if error.is_some() { 400 } else { 200 };
    let body = AuditPage {
        nav: "audit",
        pasted: pasted.to_owned(),
        error,
        report: None,
    }
    .render()?;
    Ok(Html { body, status })
}

/// The audit of the artifact `digest` (as pasted in the URL): every check shown, green or
/// red, for an artifact the ledger knows (promoted or not); 404 with the audit's own
/// message for a digest no run logged and nothing deployed.
///
/// # Errors
/// Bad input for a malformed digest; the audit's failure when the ledger fails.
pub fn render(at: &At<'_>, digest: &str) -> Result<Html> {
    let digest = parse_pasted(digest)?;
    let ledger = at.ledger();
    let trust = ledger.trust().clone();
    let report = ledger
        .audit(&digest, &trust)
        .map_err(|e| UiError::new(vouch_app::failure::release_failure(&e), e))?;
    // An artifact a run logged but nothing promoted is a red audit, not a missing page;
    // a digest the ledger has never seen is 404.
    let known = report.decision.is_some()
        || !report.deployments.is_empty()
        || !at
            .views()
            .artifacts(&digest)
            .map_err(|e| UiError::new(vouch_app::failure::views_failure(&e), e))?
            .is_empty();
    let status = if known { 200 } else { 404 };
    let body = AuditPage {
        nav: "audit",
        pasted: digest.to_string(),
        error: None,
        report: Some(arrange(&report, &trust)),
    }
    .render()?;
    Ok(Html { body, status })
}

fn arrange(report: &AuditReport, trust: &vouch_ledger::Trust) -> Body {
    let name = |key: &vouch_event::PublicKeyBytes| {
        trust
            .name_of(key)
            .map_or_else(|| "an untrusted key".to_owned(), str::to_owned)
    };
    let mut deployment_checks = Vec::new();
    let mut decision_checks = Vec::new();
    let mut review_checks = Vec::new();
    let mut other_checks = Vec::new();
    for c in &report.checks {
        match c.what.as_str() {
            "deployment" => deployment_checks.push(c.into()),
            "promoted" | "decision" | "link from next decision" => decision_checks.push(c.into()),
            "review" => review_checks.push(c.into()),
            _ => other_checks.push(c.into()),
        }
    }
    let never_promoted = report.decision.is_none().then(|| {
        report
            .checks
            .iter()
            .find(|c| c.what == "promoted")
            .map_or_else(
                || format!("no accepted decision promoted {}", report.artifact),
                |c| c.detail.clone(),
            )
    });
    let record = report.record.as_ref();
    let run = report.run.as_ref();
    let decision = match (&report.decision, record) {
        (Some(entry), Some(record)) => Some(Decision {
            hash: entry.hash.hex(),
            index: entry.index,
            outcome: entry.outcome.as_str(),
            decided_at: when(record.decided_at),
            signer: entry.signer.clone(),
            run: record.run.to_string(),
            experiment: run.and_then(|r| r.experiment()).unwrap_or("-").to_owned(),
            code: run
                .and_then(|r| r.started.as_ref())
                .and_then(|s| s.git.as_ref())
                .map_or_else(
                    || "not recorded".to_owned(),
                    |g| format!("{}{}", g.commit, if g.dirty { " (dirty)" } else { "" }),
                ),
            params: run
                .map(|r| {
                    r.params
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.value))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default(),
        }),
        _ => None,
    };
    let reviews = report
        .reviewed
        .iter()
        .flat_map(|r| &r.reviews)
        .map(|r| Review {
            verdict: format!("{:?}", r.verdict).to_lowercase(),
            reviewer: r.reviewer.clone(),
            at: when(r.reviewed_at),
            signer: r.signer.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    let gates = record
        .map(|r| {
            r.gates
                .iter()
                .map(|g| {
                    let (verdict, class) = match g.verdict {
                        GateVerdict::Pass => ("pass", "ok"),
                        GateVerdict::Fail => ("fail", "bad"),
                        GateVerdict::Review => ("review", "warn"),
                    };
                    Gate {
                        gate: g.gate.clone(),
                        metric: g.metric.clone().unwrap_or_else(|| "-".into()),
                        candidate: g.candidate.map_or("-".into(), number),
                        baseline: g.baseline.map_or("-".into(), number),
                        threshold: g.threshold.clone(),
                        verdict,
                        class,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let datasets = run
        .map(|r| {
            r.datasets
                .iter()
                .map(|d| Dataset {
                    role: d.role.as_str().to_owned(),
                    name: d.name.to_string(),
                    rows: d.rows,
                    snapshot: d.snapshot_at.map(when).unwrap_or_else(|| "-".into()),
                    labels: d.labels_through.map(when).unwrap_or_else(|| "-".into()),
                })
                .collect()
        })
        .unwrap_or_default();
    Body {
        artifact: report.artifact.to_string(),
        short: short(&report.artifact.to_string()),
        ok: report.ok(),
        never_promoted,
        deployments: report
            .deployments
            .iter()
            .map(|d| Deployment {
                model: d.model.to_string(),
                env: d.env.clone(),
                time: when(d.time),
                by: name(&d.signer_key),
                forced: d.forced,
                reason: d.reason.clone().unwrap_or_default(),
                position: d.position,
            })
            .collect(),
        deployment_checks,
        decision,
        decision_checks,
        policy_version: record.map(|r| r.policy_version.clone()).unwrap_or_default(),
        policy_digest: record.map(|r| r.policy.to_string()).unwrap_or_default(),
        policy_text: report.policy_text.clone(),
        reviews,
        review_checks,
        evidence_count: record.map_or(0, |r| r.evidence.len()),
        evaluated_at: record.map_or(0, |r| r.evaluated_at),
        evidence_digest: record
            .map(|r| r.evidence_digest.to_string())
            .unwrap_or_default(),
        gates,
        datasets,
        other_checks,
        failed: report.checks.iter().filter(|c| !c.ok).count(),
        total: report.checks.len(),
    }
}
