//! `/decisions/{id}`: one decision of the chain: its gates, policy, runs, reviews and
//! evidence, and a verification made when the page loads with the function behind
//! `vouch audit` ([`vouch_ledger::Ledger::judge_decision`]): the rule book judges the
//! record against the log's bytes under the directory's trust, as the CLI does.

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::failure::{release_failure, Failure};
use vouch_event::{DecisionOutcome, GateVerdict, ReviewVerdict};
use vouch_ledger::{DecisionJudged, Ledger, ReleaseError};
use vouch_rules::Rule;
use vouch_views::DecisionEntry;

use super::{number, short, when};
use crate::{Html, Result, UiError};

/// Evidence rows shown at most (the count and digest cover them all).
const EVIDENCE_ROWS: usize = 1000;
/// Candidates listed for an ambiguous prefix.
const CANDIDATES: usize = 20;

struct Gate {
    gate: String,
    metric: String,
    candidate: String,
    baseline: String,
    threshold: String,
    verdict: &'static str,
    class: &'static str,
    reason: String,
}

struct Review {
    reviewer: String,
    verdict: &'static str,
    class: &'static str,
    reason: String,
    time: String,
    key: String,
    position: u64,
}

struct Evidence {
    position: u64,
    event_id: String,
    kind: String,
    digest: String,
}

/// One verification check: the stable name (`data-check`), its label, whether it held
/// (`None`: not reached, the rule book stops at the first broken rule), and what it says.
struct Check {
    name: &'static str,
    label: &'static str,
    ok: Option<bool>,
    detail: String,
}

struct Link {
    index: u64,
    hash: String,
    outcome: &'static str,
}

#[derive(Template)]
#[template(path = "decision.html")]
struct DecisionPage<'a> {
    nav: &'a str,
    index: u64,
    hash: String,
    short: String,
    outcome: &'static str,
    outcome_class: &'static str,
    model: String,
    run: String,
    baseline: Option<String>,
    policy_version: String,
    policy: String,
    policy_position: u64,
    decided_at: String,
    position: u64,
    signer: String,
    artifacts: Vec<String>,
    previous: Option<Link>,
    next: Option<Link>,
    gates: Vec<Gate>,
    /// For a needs-review decision: `pending`, `approved`, `rejected` (the reviews'
    /// state) and the approvals it has and needs.
    review_state: Option<(&'static str, u32, u32)>,
    reviews: Vec<Review>,
    /// The decision that enacted the reviews.
    enacted_by: Option<Link>,
    /// The needs-review decision this one enacts.
    resolves: Option<Link>,
    /// The commands a reviewer and a release key run, for a pending decision.
    approve_command: Option<String>,
    reject_command: Option<String>,
    enact_command: Option<String>,
    evaluated_at: u64,
    evidence_digest: String,
    evidence_count: usize,
    evidence: Vec<Evidence>,
    evidence_note: Option<String>,
    verified: bool,
    failure: Option<String>,
    checks: Vec<Check>,
}

fn release(e: ReleaseError) -> UiError {
    UiError::new(release_failure(&e), e)
}

/// The decision `id` names, as `--decision` resolves it ([`Ledger::find_decision`]); an
/// unknown one is 404, an ambiguous prefix 400 listing the candidates.
fn find(ledger: &Ledger, id: &str) -> Result<DecisionEntry> {
    match ledger.find_decision(id) {
        Ok(d) => Ok(d),
        Err(ReleaseError::Refused(message)) => {
            let hex = id
                .strip_prefix("blake3:")
                .unwrap_or(id)
                .to_ascii_lowercase();
            let hexadecimal = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let candidates = if hexadecimal && hex.len() >= 8 {
                ledger
                    .views()
                    .decisions_by_hash_prefix(&hex, CANDIDATES)
                    .map_err(|e| UiError::new(vouch_app::failure::views_failure(&e), e))?
            } else {
                Vec::new()
            };
            if candidates.len() > 1 {
                let list: Vec<String> = candidates
                    .iter()
                    .map(|d| format!("{} (chain index {}, {})", d.hash, d.index, d.model))
                    .collect();
                Err(UiError::new(
                    Failure::BadInput,
                    format!(
                        "decision id {id} is ambiguous: it starts {}{}; give more characters",
                        list.join("; "),
                        if candidates.len() == CANDIDATES {
                            " and more"
                        } else {
                            ""
                        }
                    ),
                ))
            } else if hexadecimal && candidates.is_empty() {
                // A well-formed id (a chain index or a long enough prefix) naming nothing.
                let failure = if hex.len() >= 8 || hex.bytes().all(|b| b.is_ascii_digit()) {
                    Failure::Unknown
                } else {
                    Failure::BadInput
                };
                Err(UiError::new(failure, message))
            } else {
                Err(UiError::new(Failure::BadInput, message))
            }
        }
        Err(e) => Err(release(e)),
    }
}

/// The check a broken rule belongs to, in the order the rule book judges them.
fn group(rule: Rule) -> usize {
    match rule {
        Rule::NotARecord | Rule::WrongKey | Rule::Envelope => 0,
        Rule::Signature
        | Rule::UntrustedKey
        | Rule::WrongRole
        | Rule::KeyNotYetValid
        | Rule::KeyRevoked => 1,
        Rule::ChainIndex | Rule::ChainLink | Rule::ChainTime => 2,
        Rule::EvidencePositions | Rule::EvidenceDigest => 3,
        Rule::Policy => 4,
        _ => 5,
    }
}

/// The checks the page shows, from the rule book's verdict on the decision: the checks
/// before the broken rule held, the one it belongs to failed naming it, the ones after
/// were not reached.
fn checks(ledger: &Ledger, entry: &DecisionEntry, judged: &DecisionJudged) -> Vec<Check> {
    let d = &judged.record;
    let signer = ledger
        .trust()
        .name_of(&d.signer)
        .map_or_else(|| "an untrusted key".to_owned(), str::to_owned);
    let held: [(&'static str, &'static str, String); 6] = [
        (
            "record",
            "Record",
            format!(
                "position {} holds this decision under the chain key; its event id and time match the signed record",
                entry.position
            ),
        ),
        (
            "signature",
            "Signature",
            format!(
                "the Ed25519 signature verifies; signed by {signer} (key {}), trusted to sign decisions at {}",
                vouch_chain::key_id(&d.signer),
                when(d.decided_at)
            ),
        ),
        (
            "chain",
            "Link to the previous decision",
            match (d.index.checked_sub(1), d.prev) {
                (Some(prev), Some(hash)) => {
                    format!("chain index {} follows decision {prev}, whose hash {hash} it names", d.index)
                }
                _ => "the first decision of the chain".to_owned(),
            },
        ),
        (
            "evidence",
            "Evidence",
            format!(
                "the {} events it cites, read from the log at positions up to {}, hash to its evidence digest {}",
                d.evidence.len(),
                d.evaluated_at,
                d.evidence_digest
            ),
        ),
        (
            "policy",
            "Policy",
            format!(
                "position {} holds policy version {} with digest {}",
                d.policy_position, d.policy_version, d.policy
            ),
        ),
        (
            "outcome",
            "Outcome",
            if d.review.is_some() {
                format!("{}: what the reviews of the decision it enacts decide", d.outcome.as_str())
            } else {
                format!("{}: what its gate verdicts lead to", d.outcome.as_str())
            },
        ),
    ];
    let broken = judged.verdict.as_ref().err();
    let at = broken.map(|v| group(v.rule));
    let mut out: Vec<Check> = held
        .into_iter()
        .enumerate()
        .map(|(i, (name, label, detail))| match at {
            Some(g) if i == g => {
                let v = broken.expect("a broken rule");
                Check {
                    name,
                    label,
                    ok: Some(false),
                    detail: format!("rule {}: {}", v.rule, v.detail),
                }
            }
            Some(g) if i > g => Check {
                name,
                label,
                ok: None,
                detail: "not checked: the rule book stops at the first broken rule".to_owned(),
            },
            _ => Check {
                name,
                label,
                ok: Some(true),
                detail,
            },
        })
        .collect();
    out.push(match judged.next {
        Some((next, true)) => Check {
            name: "next",
            label: "Link from the next decision",
            ok: Some(true),
            detail: format!("decision {next} names this one as previous"),
        },
        Some((next, false)) => Check {
            name: "next",
            label: "Link from the next decision",
            ok: Some(false),
            detail: format!(
                "rule {}: decision {next} does not name this one as previous",
                Rule::ChainLink
            ),
        },
        None => Check {
            name: "next",
            label: "Link from the next decision",
            ok: Some(true),
            detail: "the newest decision of the chain: none follows it yet".to_owned(),
        },
    });
    out
}

fn link(d: &DecisionEntry) -> Link {
    Link {
        index: d.index,
        hash: d.hash.hex(),
        outcome: d.outcome.as_str(),
    }
}

fn outcome_class(outcome: DecisionOutcome) -> &'static str {
    match outcome {
        DecisionOutcome::Promoted => "ok",
        DecisionOutcome::Rejected => "bad",
        DecisionOutcome::NeedsReview => "warn",
    }
}

fn evidence(ledger: &Ledger, positions: &[u64]) -> Vec<Evidence> {
    let row = |position: u64, record: Option<&vouch_log::Record>| match record {
        Some(r) => Evidence {
            position,
            event_id: r.event_id.clone(),
            kind: vouch_event::decode(&r.bytes).map_or_else(
                |e| format!("does not decode: {e}"),
                |e| e.body.kind().as_str().to_owned(),
            ),
            digest: vouch_event::event_digest(&r.bytes).to_string(),
        },
        None => Evidence {
            position,
            event_id: String::new(),
            kind: "missing from the log".to_owned(),
            digest: String::new(),
        },
    };
    match ledger.read_positions(positions) {
        Ok(records) => records
            .iter()
            .zip(positions)
            .map(|(r, &p)| row(p, Some(r)))
            .collect(),
        // One at a time, so a missing or unreadable record is shown where it is.
        Err(_) => positions
            .iter()
            .map(|&p| {
                let record = ledger.read_positions(&[p]).ok().and_then(|mut r| r.pop());
                row(p, record.as_ref())
            })
            .collect(),
    }
}

/// Renders the page of decision `id`: its hash (`blake3:…` or hex), 8 or more leading hex
/// characters of it, or its chain index.
///
/// # Errors
/// 404 when no decision matches, 400 when the id is malformed or ambiguous; otherwise when
/// the ledger fails or the page does not render.
pub fn render(at: &At<'_>, id: &str) -> Result<Html> {
    let ledger = at.ledger();
    let trust = ledger.trust();
    let entry = find(ledger, id.trim())?;
    let judged = ledger.judge_decision(&entry, trust).map_err(release)?;
    let d = &judged.record;
    let views = ledger.views();
    let fail = |e: vouch_views::ViewsError| UiError::new(vouch_app::failure::views_failure(&e), e);
    let previous = match entry.index.checked_sub(1) {
        Some(i) => views.decision(i).map_err(fail)?.map(|p| link(&p)),
        None => None,
    };
    let next = views
        .decision(entry.index + 1)
        .map_err(fail)?
        .map(|n| link(&n));
    let gates = d
        .gates
        .iter()
        .map(|g| {
            let (verdict, class) = match g.verdict {
                GateVerdict::Pass => ("pass", "ok"),
                GateVerdict::Fail => ("fail", "bad"),
                GateVerdict::Review => ("review", "warn"),
            };
            Gate {
                gate: g.gate.clone(),
                metric: g.metric.clone().unwrap_or_default(),
                candidate: g.candidate.map(number).unwrap_or_default(),
                baseline: g.baseline.map(number).unwrap_or_default(),
                threshold: g.threshold.clone(),
                verdict,
                class,
                reason: g.reason.clone(),
            }
        })
        .collect();
    // The reviews shown: this decision's own, or those of the decision it enacts.
    let reviewed = match &judged.reviewed {
        Some(r) => Some(r.clone()),
        None => (entry.outcome == DecisionOutcome::NeedsReview).then(|| entry.clone()),
    };
    let reviews = reviewed
        .iter()
        .flat_map(|r| &r.reviews)
        .map(|r| {
            let (verdict, class) = match r.verdict {
                ReviewVerdict::Approve => ("approve", "ok"),
                ReviewVerdict::Reject => ("reject", "bad"),
            };
            Review {
                reviewer: r.reviewer.clone(),
                verdict,
                class,
                reason: r.reason.clone(),
                time: when(r.reviewed_at),
                key: r.signer.clone(),
                position: r.position,
            }
        })
        .collect();
    let mut review_state = None;
    let mut enacted_by = None;
    let (mut approve_command, mut reject_command, mut enact_command) = (None, None, None);
    if entry.outcome == DecisionOutcome::NeedsReview {
        let state = ledger.review_state(&entry).map_err(release)?;
        let name = if state.rejected {
            "rejected"
        } else if state.approvals >= state.required {
            "approved"
        } else {
            "pending"
        };
        review_state = Some((name, state.approvals, state.required));
        if let Some(by) = state.resolved_by {
            enacted_by = views.decision(by).map_err(fail)?.map(|e| link(&e));
        } else {
            let prefix = short(&entry.hash.hex());
            if name == "pending" {
                approve_command = Some(format!(
                    "vouch review approve --decision {prefix} --key REVIEWER.key --reason \"…\""
                ));
                reject_command = Some(format!(
                    "vouch review reject --decision {prefix} --key REVIEWER.key --reason \"…\""
                ));
            }
            enact_command = Some(format!(
                "vouch review enact --decision {prefix} --key RELEASE.key"
            ));
        }
    }
    let resolves = judged.reviewed.as_ref().map(link);
    let shown = &d.evidence[..d.evidence.len().min(EVIDENCE_ROWS)];
    let evidence_rows = evidence(ledger, shown);
    let evidence_note = (d.evidence.len() > shown.len()).then(|| {
        format!(
            "showing the first {} of {} events",
            shown.len(),
            d.evidence.len()
        )
    });
    let checks = checks(ledger, &entry, &judged);
    let verified = checks.iter().all(|c| c.ok == Some(true));
    let failure = checks
        .iter()
        .find(|c| c.ok == Some(false))
        .map(|c| format!("{}: {}", c.label, c.detail));
    let body = DecisionPage {
        nav: "chain",
        index: entry.index,
        hash: entry.hash.to_string(),
        short: short(&entry.hash.hex()),
        outcome: entry.outcome.as_str(),
        outcome_class: outcome_class(entry.outcome),
        model: entry.model.to_string(),
        run: d.run.to_string(),
        baseline: d.baseline.as_ref().map(ToString::to_string),
        policy_version: d.policy_version.clone(),
        policy: d.policy.to_string(),
        policy_position: d.policy_position,
        decided_at: when(d.decided_at),
        position: entry.position,
        signer: trust.name_of(&d.signer).map_or_else(
            || format!("untrusted key {}", vouch_chain::key_id(&d.signer)),
            |n| format!("{n} (key {})", vouch_chain::key_id(&d.signer)),
        ),
        artifacts: d.artifacts.iter().map(ToString::to_string).collect(),
        previous,
        next,
        gates,
        review_state,
        reviews,
        enacted_by,
        resolves,
        approve_command,
        reject_command,
        enact_command,
        evaluated_at: d.evaluated_at,
        evidence_digest: d.evidence_digest.to_string(),
        evidence_count: d.evidence.len(),
        evidence: evidence_rows,
        evidence_note,
        verified,
        failure,
        checks,
    }
    .render()?;
    Ok(Html::ok(body))
}
