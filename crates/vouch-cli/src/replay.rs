//! `vouch replay`: past decisions under another policy.

use std::path::Path;
use vouch_app::failure::{replay_failure, replay_library_failure};

use vouch_app::replay::{ReplayError, ReplayRequest, ReplayResult};
use vouch_app::time::DayEnd;
use vouch_event::{GateRecord, GateVerdict};
use vouch_replay::Replayed;

use crate::cli::ReplayArgs;
use crate::context::{parse_time, Context};
use crate::exit::{CliError, CliResult, Failure};
use crate::output::{self, note, number, print, say, table, Cell, Progress};
use crate::release::{parse_model, read_policy};

impl From<vouch_replay::ReplayError> for CliError {
    fn from(e: vouch_replay::ReplayError) -> Self {
        use vouch_replay::ReplayError as R;
        match e {
            R::NoDecisions(_) => CliError::new(replay_library_failure(&e), anyhow::anyhow!("{e}")),
            R::Log(l) => l.into(),
            R::Release(r) => r.into(),
            R::Views(v) => v.into(),
        }
    }
}

pub fn replay(ctx: &Context, args: &ReplayArgs) -> CliResult<u8> {
    let path = args.policy.display();
    let refused = |e: ReplayError| -> CliError {
        let failure = replay_failure(&e);
        match e {
            ReplayError::Policy(why) => CliError::new(failure, anyhow::anyhow!("{path}: {why}")),
            ReplayError::EmptyRange { since, until } => CliError::new(
                failure,
                anyhow::anyhow!("--since {since} is after --until {until}: no decision can match"),
            ),
            ReplayError::Replay(r) => r.into(),
            e => CliError::new(failure, e.into()),
        }
    };
    let text = read_policy(&args.policy)?;
    let policy = vouch_app::replay::parse_policy(&text).map_err(refused)?;
    let model = match &args.model {
        Some(m) => parse_model(m)?,
        None => policy.model().clone(),
    };
    let since = args
        .since
        .as_deref()
        .map(|t| parse_time(t, "--since", DayEnd::Start))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|t| parse_time(t, "--until", DayEnd::End))
        .transpose()?;
    vouch_app::replay::check_range(since, until).map_err(refused)?;
    let ledger = ctx.open_caught_up()?;
    let progress = Progress::new("replaying");
    let result = vouch_app::replay::replay(
        &ledger,
        &ReplayRequest {
            policy: text,
            model: Some(model.clone()),
            since,
            until,
            all: args.all,
        },
        &mut |at, end| progress.update(at, end),
    )
    .map_err(refused)?;
    progress.finish();
    Ok(print_replay(ctx, &result, &args.policy))
}

/// `replay`'s answer: `--json`, or the decisions that would change and a summary; what
/// failed on standard error. Returns the exit code.
pub fn print_replay(ctx: &Context, result: &ReplayResult, policy: &Path) -> u8 {
    let (report, seconds) = (&result.report, result.seconds);
    let model = &report.model;
    let listed = result.listed();
    let s = &report.summary;
    if ctx.global.json {
        output::json(result);
    } else {
        if &result.governs != model {
            note!(
                "note: policy {} governs model {}; replaying it on {model}'s decisions",
                policy.display(),
                result.governs
            );
        }
        if !listed.is_empty() {
            let mut t = table([
                "decision",
                "index",
                "run",
                "decided",
                "was",
                "now",
                "gates that changed",
            ]);
            for d in &listed {
                t.add_row(vec![
                    Cell::new(&d.decision.hex()[..12]),
                    Cell::new(d.index),
                    Cell::new(&d.run),
                    Cell::new(d.decided_at),
                    Cell::new(d.old_outcome.as_str()),
                    Cell::new(d.new_outcome.map_or("EVIDENCE FAILS", |o| o.as_str())),
                    Cell::new(describe_changes(d)),
                ]);
            }
            print(&t);
        }
        let transitions: Vec<String> = s
            .transitions
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        say!(
            "{} decisions of {model} in range: {} replayed under policy {}, {} would change{}, {} unchanged; {} review resolution(s) not re-evaluated ({:.2} s, {} records read)",
            s.in_scope,
            s.replayed,
            report.policy_version,
            s.changed,
            if transitions.is_empty() {
                String::new()
            } else {
                format!(" ({})", transitions.join(", "))
            },
            s.unchanged,
            s.review_resolutions,
            seconds,
            s.records_read,
        );
        if !report.never_logged.is_empty() {
            say!(
                "warning: no replayed candidate ever logged {}: the policy's gates on them fail for every decision",
                report.never_logged.join(", ")
            );
        }
    }
    for d in report
        .decisions
        .iter()
        .filter(|d| d.evidence_problem.is_some())
    {
        note!(
            "error: decision {} (index {}): {}",
            d.decision,
            d.index,
            d.evidence_problem.as_deref().unwrap_or_default()
        );
    }
    if result.evidence_failed() {
        Failure::Verify.code()
    } else {
        0
    }
}

/// `latency_p95_ms: pass -> FAIL (182 > 150)` for each changed gate.
fn describe_changes(d: &Replayed) -> String {
    if let Some(problem) = &d.evidence_problem {
        return problem.clone();
    }
    let verdict = |g: Option<&GateRecord>| match g.map(|g| g.verdict) {
        None => "absent",
        Some(GateVerdict::Pass) => "pass",
        Some(GateVerdict::Fail) => "FAIL",
        Some(GateVerdict::Review) => "review",
    };
    let mut lines: Vec<String> = d
        .gates
        .iter()
        .map(|g| {
            let name = match &g.metric {
                Some(m) if *m != g.gate => format!("{} ({m})", g.gate),
                _ => g.gate.clone(),
            };
            let detail = g
                .new
                .as_ref()
                .or(g.old.as_ref())
                .map_or(String::new(), |r| {
                    let value = r
                        .candidate
                        .map_or(String::new(), |v| format!("{} vs ", number(v)));
                    format!(": {value}{}", r.threshold)
                });
            format!(
                "{name}: {} -> {}{detail}",
                verdict(g.old.as_ref()),
                verdict(g.new.as_ref())
            )
        })
        .collect();
    if !d.missing.is_empty() {
        lines.push(format!("not logged: {}", d.missing.join(", ")));
    }
    if lines.is_empty() {
        "-".into()
    } else {
        lines.join("\n")
    }
}
