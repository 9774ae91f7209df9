//! `vouch log live` (metrics observed on a deployed model's live traffic) and `vouch
//! diagnose` (the on-call checklist over them: findings ranked by evidence).

use std::path::Path;

use vouch_app::diagnose::DiagnoseRequest;
use vouch_app::failure::diagnose_failure;
use vouch_app::time::DayEnd;
use vouch_diagnose::{DiagnoseError, Diagnosis, Severity};
use vouch_event::{Body, Digest, Event, EventId, LiveMetricsObserved, Segment, Subject};
use vouch_log::Appended;

use crate::asof::At;
use crate::cli::{DiagnoseArgs, LogLiveArgs};
use crate::context::{check_flags, now, parse_time, random_u64, Context};
use crate::exit::{bad_input, CliError, CliResult};
use crate::output::{self, print, say, table, Cell};
use crate::release::{check_env, parse_model};

impl From<DiagnoseError> for CliError {
    fn from(e: DiagnoseError) -> Self {
        match e {
            DiagnoseError::NoDecisions(_)
            | DiagnoseError::UnknownEnv { .. }
            | DiagnoseError::InvalidTolerance(_) => {
                CliError::new(diagnose_failure(&e), anyhow::anyhow!("{e}"))
            }
            DiagnoseError::Views(v) => v.into(),
            DiagnoseError::Release(r) => r.into(),
            DiagnoseError::Replay(r) => r.into(),
            e => CliError::new(diagnose_failure(&e), e.into()),
        }
    }
}

/// `blake3:<hex>` as given, or the digest of the file at that path.
fn artifact(text: &str) -> CliResult<Digest> {
    if text.starts_with("blake3:") {
        Digest::parse(text).map_err(|e| bad_input(format!("--artifact: {e}")))
    } else {
        crate::evidence::hash_file(Path::new(text), false).map(|(d, _, _)| d)
    }
}

pub fn log_live(ctx: &Context, args: &LogLiveArgs) -> CliResult<()> {
    let (model, artifact, event) = build_live(ctx, args)?;
    let mut ledger = ctx.open_caught_up()?;
    if ledger
        .views()
        .model(&model)?
        .is_none_or(|m| m.decisions.is_empty())
    {
        return Err(unknown_model(&model));
    }
    let result = crate::evidence::append_one(&mut ledger, event)?;
    report_live(ctx, &model, &artifact, result);
    Ok(())
}

/// A live observation of a model with no decisions: nothing of it is deployed.
pub fn unknown_model(model: &vouch_event::ModelName) -> CliError {
    bad_input(format!(
        "unknown model `{model}`: it has no decisions in this ledger, so nothing of it is deployed to observe"
    ))
}

/// The event of `log live` (the artifact hashed here, where the file is): the model, the
/// artifact and the event.
pub fn build_live(
    ctx: &Context,
    args: &LogLiveArgs,
) -> CliResult<(vouch_event::ModelName, Digest, Event)> {
    let model = parse_model(&args.model)?;
    check_env(&args.env)?;
    let window_start = parse_time(&args.window_start, "--window-start", DayEnd::Start)?;
    let window_end = parse_time(&args.window_end, "--window-end", DayEnd::End)?;
    let labels_through = parse_time(&args.labels_through, "--labels-through", DayEnd::End)?;
    if window_start > window_end {
        return Err(bad_input(format!(
            "--window-start {window_start} is after --window-end {window_end}"
        )));
    }
    let segment = args
        .segment
        .as_deref()
        .map(|s| Segment::new(s).map_err(|e| bad_input(format!("--segment: {e}"))))
        .transpose()?;
    let metrics = crate::evidence::metric_pairs(&args.pairs)?;
    let artifact = artifact(&args.artifact)?;
    let id = match &args.event_id {
        Some(id) => id.clone(),
        None => format!("{model}:live:{:016x}", random_u64()),
    };
    let now = now();
    let event = Event {
        id: EventId::new(id).map_err(|e| bad_input(format!("--event-id: {e}")))?,
        time: now,
        producer: ctx.producer.clone(),
        subject: Subject::Model(model.clone()),
        body: Body::LiveMetricsObserved(LiveMetricsObserved {
            env: args.env.clone(),
            artifact,
            metrics,
            segment,
            window_start,
            window_end,
            labels_through,
            count: args.count,
        }),
    };
    check_flags(&event, now)?;
    Ok((model, artifact, event))
}

/// Prints where a live observation is.
pub fn report_live(
    ctx: &Context,
    model: &vouch_event::ModelName,
    artifact: &Digest,
    result: Appended,
) {
    let (position, duplicate) = match result {
        Appended::New(p) => (p, false),
        Appended::Duplicate(p) => (p, true),
    };
    if ctx.global.json {
        output::json(&serde_json::json!({
            "model": model, "position": position.get(), "duplicate": duplicate, "artifact": artifact,
        }));
    } else if duplicate {
        say!("already recorded at position {position}; nothing written");
    } else {
        say!("recorded at position {position}");
    }
}

pub fn diagnose(ctx: &Context, args: &DiagnoseArgs) -> CliResult<()> {
    let model = parse_model(&args.model)?;
    let at = At::open(ctx, args.as_of.as_deref())?;
    let request = DiagnoseRequest {
        model,
        env: args.env.clone(),
        tolerance: args.tolerance,
    };
    let diagnosis = vouch_app::diagnose::diagnose(&at.app(), &request, now)?;
    show_diagnosis(ctx, &diagnosis);
    Ok(())
}

/// `diagnose`'s answer: `--json`, or [`print_diagnosis`].
pub fn show_diagnosis(ctx: &Context, diagnosis: &Diagnosis) {
    if ctx.global.json {
        output::json(diagnosis);
    } else {
        print_diagnosis(diagnosis);
    }
}

/// The findings as a table (severity, check, finding, evidence), then the verdict.
pub fn print_diagnosis(d: &Diagnosis) {
    let production = d.production.as_ref().map_or_else(
        || "no production version".to_owned(),
        |p| {
            format!(
                "production {} (run {}, decision #{})",
                p.version, p.run, p.index
            )
        },
    );
    let deployed = d.deployed.as_ref().map_or_else(
        || "nothing deployed".to_owned(),
        |dep| format!("deployed {}", dep.artifact),
    );
    say!(
        "{} in {}: {production}; {deployed}; {} live observation(s); tolerance {}",
        d.model,
        d.env,
        d.observations,
        d.tolerance
    );
    let mut t = table(["severity", "check", "finding", "evidence"]);
    for f in &d.findings {
        let severity = match f.severity {
            Severity::Critical => "CRITICAL",
            Severity::Warning => "WARNING",
            other => other.as_str(),
        };
        t.add_row(vec![
            Cell::new(severity),
            Cell::new(f.check.as_str()),
            Cell::new(&f.title),
            Cell::new(f.facts.join("\n")),
        ]);
    }
    print(&t);
    let s = &d.summary;
    say!(
        "{} critical, {} warning(s), {} unknown, {} ok\nverdict: {}",
        s.critical,
        s.warning,
        s.unknown,
        s.ok,
        d.verdict
    );
}
