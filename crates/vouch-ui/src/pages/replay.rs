//! `/replay`: past decisions replayed under a pasted policy, as `vouch replay` replays
//! them (both call `vouch_app::replay`): which outcomes would flip, and the gates behind
//! each flip. Replaying only reads, so the form is allowed with the read scope.

use askama::Template;
use vouch_app::failure::{replay_failure, time_failure, Failure};
use vouch_app::replay::{ReplayError, ReplayRequest};
use vouch_app::time::DayEnd;
use vouch_app::Clock;
use vouch_event::{GateRecord, GateVerdict, ModelName};
use vouch_ledger::Ledger;
use vouch_replay::Replayed;

use super::{number, short, when};
use crate::{Html, Result, UiError};

/// The largest replay form accepted: a policy is a few kilobytes.
pub const MAX_FORM_BYTES: usize = 1 << 20;

/// What the replay form holds, as `vouch replay` takes it.
#[derive(Debug, Clone, Default)]
pub struct ReplayForm {
    /// The policy's TOML text.
    pub policy: String,
    /// Whose decisions (empty: the model the policy governs).
    pub model: String,
    /// Only decisions made at or after this time (RFC 3339 or a date).
    pub since: String,
    /// Only decisions made at or before this time.
    pub until: String,
    /// List every replayed decision, not only those that would change.
    pub all: bool,
}

impl ReplayForm {
    /// The form a request's pairs make (a form post's body, or a query string to
    /// prefill it). Unknown keys are ignored.
    pub fn from_pairs(pairs: &[(String, String)]) -> ReplayForm {
        let mut f = ReplayForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "policy" => f.policy = v.clone(),
                "model" => f.model = v.trim().to_owned(),
                "since" => f.since = v.trim().to_owned(),
                "until" => f.until = v.trim().to_owned(),
                "all" => f.all = !matches!(v.as_str(), "" | "false" | "0" | "off"),
                _ => {}
            }
        }
        f
    }
}

struct Change {
    gate: String,
    old: &'static str,
    new: &'static str,
    detail: String,
}

struct Flip {
    index: u64,
    hash: String,
    short: String,
    model: String,
    run: String,
    decided: String,
    old: &'static str,
    new: &'static str,
    changed: bool,
    problem: Option<String>,
    changes: Vec<Change>,
    missing: String,
}

struct Outcome {
    model: String,
    governs: String,
    policy_version: String,
    in_scope: usize,
    replayed: usize,
    changed: usize,
    unchanged: usize,
    review_resolutions: usize,
    evidence_failures: usize,
    transitions: String,
    never_logged: String,
    records_read: u64,
    seconds: String,
    flips: Vec<Flip>,
}

#[derive(Template)]
#[template(path = "replay.html")]
struct ReplayPage<'a> {
    nav: &'a str,
    form: &'a ReplayForm,
    error: Option<String>,
    result: Option<Outcome>,
}

/// The empty form (or prefilled from the query string).
///
/// # Errors
/// When the page does not render.
pub fn render_form(form: &ReplayForm) -> Result<Html> {
    let body = ReplayPage {
        nav: "replay",
        form,
        error: None,
        result: None,
    }
    .render()?;
    Ok(Html::ok(body))
}

/// The form again with why it was refused, answered with `failure`'s status.
fn refused(form: &ReplayForm, failure: Failure, message: String) -> Result<Html> {
    let body = ReplayPage {
        nav: "replay",
        form,
        error: Some(message),
        result: None,
    }
    .render()?;
    Ok(Html {
        body,
        status: failure.http_status(),
    })
}

fn verdict(g: Option<&GateRecord>) -> &'static str {
    match g.map(|g| g.verdict) {
        None => "absent",
        Some(GateVerdict::Pass) => "pass",
        Some(GateVerdict::Fail) => "FAIL",
        Some(GateVerdict::Review) => "review",
    }
}

fn flip(model: &ModelName, d: &Replayed) -> Flip {
    Flip {
        index: d.index,
        hash: d.decision.hex(),
        short: short(&d.decision.hex()),
        model: model.to_string(),
        run: d.run.to_string(),
        decided: when(d.decided_at),
        old: d.old_outcome.as_str(),
        new: d.new_outcome.map_or("EVIDENCE FAILS", |o| o.as_str()),
        changed: d.changed,
        problem: d.evidence_problem.clone(),
        changes: d
            .gates
            .iter()
            .map(|g| Change {
                gate: match &g.metric {
                    Some(m) if *m != g.gate => format!("{} ({m})", g.gate),
                    _ => g.gate.clone(),
                },
                old: verdict(g.old.as_ref()),
                new: verdict(g.new.as_ref()),
                detail: g
                    .new
                    .as_ref()
                    .or(g.old.as_ref())
                    .map_or(String::new(), |r| {
                        let value = r
                            .candidate
                            .map_or(String::new(), |v| format!("{} vs ", number(v)));
                        format!("{value}{}", r.threshold)
                    }),
            })
            .collect(),
        missing: d.missing.join(", "),
    }
}

/// Replays the ledger's decisions under the posted policy: the report (200), or the form
/// again with the error (400 for a policy that does not parse, a bad time or model, an
/// empty range; 404 for a model with no decisions). `clock` is now, for relative times.
///
/// # Errors
/// When the page does not render.
pub fn render(ledger: &Ledger, form: &ReplayForm, clock: Clock) -> Result<Html> {
    if form.policy.trim().is_empty() {
        return refused(
            form,
            Failure::BadInput,
            "paste a policy (its TOML text) to replay".into(),
        );
    }
    let model = if form.model.is_empty() {
        None
    } else {
        match ModelName::new(form.model.clone()) {
            Ok(m) => Some(m),
            Err(e) => {
                return refused(
                    form,
                    Failure::BadInput,
                    format!("model `{}`: {e}", form.model),
                )
            }
        }
    };
    let now = clock();
    let mut times = [None, None];
    for (slot, (text, what, day)) in times.iter_mut().zip([
        (&form.since, "since", DayEnd::Start),
        (&form.until, "until", DayEnd::End),
    ]) {
        if !text.is_empty() {
            match vouch_app::time::parse_time(text, what, day, now) {
                Ok(t) => *slot = Some(t),
                Err(e) => return refused(form, time_failure(&e), e.to_string()),
            }
        }
    }
    let request = ReplayRequest {
        policy: form.policy.clone(),
        model,
        since: times[0],
        until: times[1],
        all: form.all,
    };
    let result = match vouch_app::replay::replay(ledger, &request, &mut |_, _| {}) {
        Ok(r) => r,
        Err(e) => {
            let failure = replay_failure(&e);
            if failure == Failure::Internal {
                return Err(UiError::new(failure, e));
            }
            let message = match e {
                ReplayError::Policy(why) => format!("policy: {why}"),
                e => e.to_string(),
            };
            return refused(form, failure, message);
        }
    };
    let report = &result.report;
    let s = &report.summary;
    let outcome = Outcome {
        model: report.model.to_string(),
        governs: result.governs.to_string(),
        policy_version: report.policy_version.clone(),
        in_scope: s.in_scope,
        replayed: s.replayed,
        changed: s.changed,
        unchanged: s.unchanged,
        review_resolutions: s.review_resolutions,
        evidence_failures: s.evidence_failures,
        transitions: s
            .transitions
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", "),
        never_logged: report.never_logged.join(", "),
        records_read: s.records_read,
        seconds: format!("{:.2}", result.seconds),
        flips: result
            .listed()
            .into_iter()
            .map(|d| flip(&report.model, d))
            .collect(),
    };
    let body = ReplayPage {
        nav: "replay",
        form,
        error: None,
        result: Some(outcome),
    }
    .render()?;
    Ok(Html::ok(body))
}
