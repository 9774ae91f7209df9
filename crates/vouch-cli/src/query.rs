//! Read commands: `runs list|show`, `compare`, `status`, `rebuild`, `quarantine`.

use std::collections::BTreeSet;
use std::time::Instant;

use comfy_table::CellAlignment;
use vouch_app::compare::Comparison;
use vouch_app::failure::runs_failure;
use vouch_app::runs::{label, RunShown, RunsError, ShowRequest};
use vouch_app::status::StatusReport;
use vouch_event::Segment;
use vouch_log::Position;
use vouch_views::{Condition, MetricKey, RunDoc, RunQuery};

use crate::asof::At;
use crate::cli::{
    CompareArgs, QuarantineArgs, RunsCommand, RunsListArgs, RunsShowArgs, StatusArgs,
};
use crate::context::{parse_run, Context};
use crate::exit::{bad_input, CliError, CliResult};
use crate::output::{self, note, number, print, say, table, Cell, Progress};

pub fn runs(ctx: &Context, command: RunsCommand) -> CliResult<()> {
    match command {
        RunsCommand::List(args) => list(ctx, &args),
        RunsCommand::Show(args) => show(ctx, &args),
    }
}

impl From<RunsError> for CliError {
    fn from(e: RunsError) -> Self {
        match e {
            RunsError::Views(v) => v.into(),
            e => CliError::new(runs_failure(&e), anyhow::anyhow!("{e}")),
        }
    }
}

fn list(ctx: &Context, args: &RunsListArgs) -> CliResult<()> {
    let conditions = args
        .conditions
        .iter()
        .map(|c| Condition::parse(c).map_err(|e| bad_input(format!("--where: {e}"))))
        .collect::<CliResult<Vec<_>>>()?;
    let at = At::open(ctx, args.as_of.as_deref())?;
    let query = RunQuery {
        experiment: args.experiment.clone(),
        conditions: conditions.clone(),
    };
    let runs = vouch_app::runs::list(&at.app(), &query)?;
    print_runs(ctx, &runs, &conditions);
    Ok(())
}

/// `runs list`'s answer: `--json`, or a table with the metrics `conditions` name as
/// columns (else the first few overall metrics).
pub fn print_runs(ctx: &Context, runs: &[RunDoc], conditions: &[Condition]) {
    if ctx.global.json {
        output::json(&runs);
        return;
    }
    if runs.is_empty() {
        note!("no runs match");
        return;
    }
    // Columns: the metrics the conditions name, else the first few overall metrics.
    let mut shown: Vec<MetricKey> = conditions
        .iter()
        .map(|c| MetricKey {
            name: c.metric.clone(),
            segment: c.segment.clone(),
        })
        .collect();
    if shown.is_empty() {
        let all: BTreeSet<&MetricKey> = runs
            .iter()
            .flat_map(|r| r.metrics.keys())
            .filter(|k| k.segment.is_none())
            .collect();
        shown = all.into_iter().take(4).cloned().collect();
    }
    shown.dedup();
    let mut header = vec![
        "run".to_owned(),
        "experiment".into(),
        "name".into(),
        "status".into(),
        "started".into(),
    ];
    header.extend(shown.iter().map(label));
    let mut t = table(header);
    for run in runs {
        let mut row = vec![
            Cell::new(&run.run),
            Cell::new(run.experiment().unwrap_or("-")),
            Cell::new(
                run.started
                    .as_ref()
                    .and_then(|s| s.name.as_deref())
                    .unwrap_or("-"),
            ),
            Cell::new(run.status()),
            Cell::new(
                run.started
                    .as_ref()
                    .map_or("-".into(), |s| s.time.to_string()),
            ),
        ];
        for key in &shown {
            let value = run.metrics.get(key).map_or("-".into(), |m| number(m.value));
            row.push(Cell::new(value).set_alignment(CellAlignment::Right));
        }
        t.add_row(row);
    }
    print(&t);
    note!("{} runs", runs.len());
}

fn show(ctx: &Context, args: &RunsShowArgs) -> CliResult<()> {
    let run = parse_run(&args.run, "RUN")?;
    let history = args
        .history
        .as_deref()
        .map(|text| {
            vouch_app::runs::parse_metric_key(text)
                .map_err(|e| bad_input(format!("--history `{text}`: {e}")))
        })
        .transpose()?;
    let at = At::open(ctx, args.as_of.as_deref())?;
    let shown = vouch_app::runs::show(&at.app(), &ShowRequest { run, history })?;
    print_run(ctx, &shown);
    Ok(())
}

/// `runs show`'s answer: `--json`, or the run's facts and tables.
pub fn print_run(ctx: &Context, shown: &RunShown) {
    if ctx.global.json {
        output::json(shown);
        return;
    }
    let doc = &shown.doc;
    say!("run         {}", doc.run);
    match &doc.started {
        Some(s) => {
            say!("experiment  {}", s.experiment);
            if let Some(name) = &s.name {
                say!("name        {name}");
            }
            say!("started     {} by {}", s.time, s.producer);
            match &s.git {
                Some(g) => say!(
                    "code        {}{}",
                    g.commit,
                    if g.dirty { " (dirty work tree)" } else { "" }
                ),
                None => say!("code        not recorded"),
            }
            if let Some(env) = &s.env {
                let tools: Vec<String> =
                    env.tools.iter().map(|(k, v)| format!("{k} {v}")).collect();
                say!(
                    "environment {} {} on {}; {}",
                    env.os,
                    env.cpu,
                    env.host,
                    tools.join(", ")
                );
            }
        }
        None => say!("experiment  unknown: events arrived before its run_started"),
    }
    match &doc.finished {
        Some(f) => say!("status      {} at {}", f.status.as_str(), f.time),
        None => say!("status      {}", doc.status()),
    }
    say!(
        "events      {} (log positions {}..={})",
        doc.events,
        doc.first_position,
        doc.last_position
    );
    if !doc.params.is_empty() {
        say!();
        let mut t = table(["param", "value"]);
        for (k, v) in &doc.params {
            t.add_row([k.as_str(), v.value.as_str()]);
        }
        print(&t);
    }
    if !doc.metrics.is_empty() {
        say!();
        let mut t = table(["metric", "segment", "value", "step", "values", "time"]);
        for m in doc.metrics.values() {
            t.add_row(vec![
                Cell::new(&m.name),
                Cell::new(m.segment.as_ref().map_or("-", Segment::as_str)),
                Cell::new(number(m.value)).set_alignment(CellAlignment::Right),
                Cell::new(m.step.map_or("-".into(), |s| s.to_string()))
                    .set_alignment(CellAlignment::Right),
                Cell::new(m.count).set_alignment(CellAlignment::Right),
                Cell::new(m.time),
            ]);
        }
        print(&t);
    }
    if !doc.artifacts.is_empty() {
        say!();
        let mut t = table(["artifact", "digest", "size", "uri"]);
        for a in &doc.artifacts {
            t.add_row(vec![
                Cell::new(&a.name),
                Cell::new(a.digest),
                Cell::new(a.size),
                Cell::new(&a.uri),
            ]);
        }
        print(&t);
    }
    if !doc.datasets.is_empty() {
        say!();
        let mut t = table([
            "dataset",
            "role",
            "rows",
            "snapshot",
            "labels through",
            "digest",
        ]);
        for d in &doc.datasets {
            t.add_row(vec![
                Cell::new(&d.name),
                Cell::new(d.role.as_str()),
                Cell::new(d.rows),
                Cell::new(d.snapshot_at.map_or("-".into(), |t| t.to_string())),
                Cell::new(d.labels_through.map_or("-".into(), |t| t.to_string())),
                Cell::new(d.digest),
            ]);
        }
        print(&t);
    }
    if let Some((key, points)) = &shown.history {
        say!();
        let mut t = table(["step", label(key).as_str(), "time", "position"]);
        for p in points {
            t.add_row(vec![
                Cell::new(p.step.map_or("-".into(), |s| s.to_string())),
                Cell::new(number(p.value)).set_alignment(CellAlignment::Right),
                Cell::new(p.time),
                Cell::new(p.position),
            ]);
        }
        print(&t);
    }
}

pub fn compare(ctx: &Context, args: &CompareArgs) -> CliResult<()> {
    let ids = args
        .runs
        .iter()
        .map(|r| parse_run(r, "RUN"))
        .collect::<CliResult<Vec<_>>>()?;
    let at = At::open(ctx, args.as_of.as_deref())?;
    let comparison = vouch_app::compare::compare(&at.app(), &ids)?;
    print_comparison(ctx, &comparison);
    Ok(())
}

/// `compare`'s answer: `--json`, or one column per run and a row per fact that can differ.
pub fn print_comparison(ctx: &Context, comparison: &Comparison) {
    if ctx.global.json {
        output::json(comparison);
        return;
    }
    let (docs, params, metrics) = (&comparison.runs, comparison.params(), comparison.metrics());
    let mut header = vec![String::new()];
    header.extend(docs.iter().map(
        |d| match d.started.as_ref().and_then(|s| s.name.as_deref()) {
            Some(name) => format!("{} ({name})", d.run),
            None => d.run.to_string(),
        },
    ));
    header.push("differs".into());
    let mut t = table(header);
    let mut row = |what: String, values: Vec<Option<String>>, right: bool| {
        let differs = values.windows(2).any(|w| w[0] != w[1]);
        let mut cells = vec![Cell::new(what)];
        for v in values {
            let cell = Cell::new(v.unwrap_or_else(|| "-".into()));
            cells.push(if right {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            });
        }
        cells.push(Cell::new(if differs { "*" } else { "" }));
        t.add_row(cells);
    };
    row(
        "status".into(),
        docs.iter().map(|d| Some(d.status().to_owned())).collect(),
        false,
    );
    row(
        "code".into(),
        docs.iter()
            .map(|d| {
                d.started
                    .as_ref()
                    .and_then(|s| s.git.as_ref())
                    .map(|g| g.commit.chars().take(12).collect())
            })
            .collect(),
        false,
    );
    for p in &params {
        row(
            format!("param {p}"),
            docs.iter()
                .map(|d| d.params.get(*p).map(|v| v.value.clone()))
                .collect(),
            false,
        );
    }
    for m in &metrics {
        row(
            label(m),
            docs.iter()
                .map(|d| d.metrics.get(*m).map(|v| number(v.value)))
                .collect(),
            true,
        );
    }
    print(&t);
}

pub fn status(ctx: &Context, args: &StatusArgs) -> CliResult<()> {
    let ledger = if args.no_catch_up {
        ctx.open()?
    } else {
        ctx.open_caught_up()?
    };
    let report = vouch_app::status::status(&ledger)?;
    print_status(ctx, &report);
    Ok(())
}

/// `status`'s answer: `--json`, or a line per fact.
pub fn print_status(ctx: &Context, report: &StatusReport) {
    if ctx.global.json {
        output::json(report);
        return;
    }
    let (status, behind) = (&report.status, report.behind);
    let c = status.counts;
    match &status.stream {
        Some(stream) => say!(
            "ledger        {} (views of NATS stream `{stream}`)",
            status.ledger.display()
        ),
        None => say!(
            "ledger        {} ({})",
            status.ledger.display(),
            status.backend
        ),
    }
    say!("log position  {}", status.log_position);
    say!(
        "view position {}{}",
        status.view_position,
        if behind > 0 {
            format!(" ({behind} records behind the log)")
        } else {
            String::new()
        }
    );
    say!("runs          {}", c.runs);
    say!(
        "events        {} applied, {} quarantined",
        c.applied,
        c.quarantined
    );
    if c.duplicates > 0 {
        say!(
            "duplicates    {} (retries the log stored twice; each applied once)",
            c.duplicates
        );
    }
    say!("metric values {}", c.metric_values);
    say!("artifacts     {}", c.artifacts);
    say!("datasets      {}", c.datasets);
    say!("policies      {}", c.policies);
    say!("decisions     {}", c.decisions);
    say!("reviews       {}", c.reviews);
    say!("deployments   {}", c.deployments);
    say!("live windows  {}", c.live_observations);
    if c.quarantined > 0 {
        say!(
            "\n{} records are in quarantine: `vouch quarantine` lists them",
            c.quarantined
        );
    }
}

pub fn rebuild(ctx: &Context) -> CliResult<()> {
    // Rebuilding is how an operator accepts the log as it is now: another log's identity
    // or fewer records than the views saw are adopted here, and refused everywhere else.
    let mut options = ctx.options().clone();
    options.adopt_log = true;
    let mut ledger = vouch_ledger::Ledger::open(&ctx.global.ledger, &options)?;
    let progress = Progress::new("rebuilding");
    let start = Instant::now();
    let report = ledger.rebuild(&mut |at, end| progress.update(at.get(), end.get()))?;
    progress.finish();
    let seconds = start.elapsed().as_secs_f64();
    let records = report.applied + report.quarantined;
    if ctx.global.json {
        output::json(&serde_json::json!({
            "position": report.to.get(),
            "applied": report.applied,
            "quarantined": report.quarantined,
            "seconds": seconds,
        }));
    } else {
        say!(
            "rebuilt the views from {records} log records in {seconds:.2} s ({:.0} records/s): {} applied, {} quarantined",
            records as f64 / seconds.max(1e-9),
            report.applied,
            report.quarantined
        );
    }
    Ok(())
}

pub fn quarantine(ctx: &Context, args: &QuarantineArgs) -> CliResult<()> {
    let ledger = ctx.open_caught_up()?;
    let entries = ledger.views().quarantine(Position::ZERO, args.limit)?;
    if ctx.global.json {
        output::json(&entries);
        return Ok(());
    }
    if entries.is_empty() {
        say!("quarantine is empty");
        return Ok(());
    }
    let mut t = table(["position", "event id", "key", "bytes", "reason"]);
    for e in &entries {
        t.add_row(vec![
            Cell::new(e.position),
            Cell::new(&e.event_id),
            Cell::new(&e.key),
            Cell::new(e.size),
            Cell::new(&e.reason),
        ]);
    }
    print(&t);
    Ok(())
}
