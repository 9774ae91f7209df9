//! `vouch --server URL …`: commands run against a running `vouch serve --http` instead of
//! a ledger directory. Only the source differs: events are built by the same code as the
//! local commands (files hashed here), reviews and deployments are signed here with the
//! same code (`vouch_ledger::sign_draft`: the key never leaves this machine), and answers
//! are read back into the types the local commands render (`vouch_app`'s results) and
//! printed by the same functions, tables and `--json` alike. The server judges and appends
//! with the code the local commands use (`Ledger::append_signed`, `vouch_app::ingest`).
//!
//! Commands that only make sense on a ledger directory (`init`, `rebuild`, `migrate`,
//! `demo`, `keys`, `serve`) refuse `--server` with exit 64; `verify-bundle` and `policy`
//! read only local files and run as they do without a server.

use std::io::Read;

use vouch_event::{Body, Digest, Event, ReviewVerdict};
use vouch_log::{Appended, Position};
use vouch_views::Condition;

use crate::cli::{
    AuditArgs, Command, CompareArgs, DecisionsArgs, DeployArgs, DiagnoseArgs, GateCommandArgs,
    IngestArgs, LogCommand, PromoteArgs, RegistryArgs, ReplayArgs, ReviewArgs, ReviewCommand,
    RunsCommand,
};
use crate::context::{now, parse_run, Context};
use crate::evidence::Store;
use crate::exit::{bad_input, CliError, CliResult, Failure};
use crate::http::{encode, query, Server};
use crate::output::{self, note, say};
use crate::release::{load_key, parse_model, read_policy};

fn usage(message: impl std::fmt::Display) -> CliError {
    CliError::new(Failure::Usage, anyhow::anyhow!("{message}"))
}

/// Runs `command` against the server at `url`; the exit code as the local command's.
pub fn run(ctx: &Context, url: &str, command: Command) -> CliResult<u8> {
    let local_only = |what: &str| {
        Err(usage(format!(
            "`vouch {what}` works on a ledger directory, not through --server: run it where the ledger is (without --server / VOUCH_SERVER)"
        )))
    };
    let server = Server::new(
        url,
        std::env::var("VOUCH_TOKEN").ok().filter(|t| !t.is_empty()),
    )?;
    match command {
        Command::Init(_) => local_only("init"),
        Command::Serve(_) => local_only("serve"),
        Command::Migrate(_) => local_only("migrate"),
        Command::Rebuild => local_only("rebuild"),
        Command::Demo(_) => local_only("demo"),
        // A public key as PEM needs no ledger.
        Command::Keys(crate::cli::KeysCommands::Pem(args)) => {
            crate::attest::pem(ctx, &args).map(|()| 0)
        }
        Command::Keys(_) => local_only("keys"),
        Command::Checkpoint(_) => local_only("checkpoint"),
        Command::Prove(_) => local_only("prove"),
        Command::Witness(_) => local_only("witness"),
        Command::Export(_) => local_only("export"),
        // Checking an attestation is offline: a file and a trust list.
        Command::Attest(args) if args.verify.is_some() => crate::attest::attest(ctx, &args),
        Command::Attest(_) => local_only("attest"),
        Command::Verify(args) if args.checkpoint.is_some() => local_only("verify --checkpoint"),
        // An exported log is a local file: no ledger, no server.
        Command::Verify(args) if args.from.is_some() => crate::release::verify(ctx, &args),
        Command::Quarantine(_) => Err(usage(
            "`vouch quarantine` is not served over HTTP yet: run it where the ledger is",
        )),
        Command::Reviews(_) => Err(usage(
            "`vouch reviews` is not served over HTTP yet: run it where the ledger is",
        )),
        // Local files only: no ledger, no server.
        Command::Policy(command) => crate::release::policy(ctx, command).map(|()| 0),
        Command::VerifyBundle(args) => crate::release::verify_bundle_command(ctx, &args),
        Command::VerifyCheckpoint(args) => crate::witness::verify_checkpoint(ctx, &args),
        Command::Status(_) => {
            let report = typed(server.get("/api/v1/status")?, "status")?;
            crate::query::print_status(ctx, &report);
            Ok(0)
        }
        Command::Runs(RunsCommand::List(args)) => {
            // Parsed here too: the table's columns are the metrics the conditions name.
            let conditions = args
                .conditions
                .iter()
                .map(|c| Condition::parse(c).map_err(|e| bad_input(format!("--where: {e}"))))
                .collect::<CliResult<Vec<_>>>()?;
            let mut pairs = Vec::new();
            if let Some(e) = &args.experiment {
                pairs.push(("experiment", e.as_str()));
            }
            pairs.extend(args.conditions.iter().map(|c| ("where", c.as_str())));
            if let Some(a) = &args.as_of {
                pairs.push(("as_of", a.as_str()));
            }
            let runs: Vec<vouch_views::RunDoc> = typed(
                server.get(&format!("/api/v1/runs{}", query(pairs)))?,
                "runs",
            )?;
            crate::query::print_runs(ctx, &runs, &conditions);
            Ok(0)
        }
        Command::Runs(RunsCommand::Show(args)) => {
            let run = parse_run(&args.run, "RUN")?;
            let mut pairs = Vec::new();
            if let Some(h) = &args.history {
                pairs.push(("history", h.as_str()));
            }
            if let Some(a) = &args.as_of {
                pairs.push(("as_of", a.as_str()));
            }
            let path = format!("/api/v1/runs/{}{}", encode(run.as_str()), query(pairs));
            let shown = typed(server.get(&path)?, "run")?;
            crate::query::print_run(ctx, &shown);
            Ok(0)
        }
        Command::Compare(args) => compare(ctx, &server, &args),
        Command::Registry(args) => registry(ctx, &server, &args),
        Command::Decisions(args) => decisions(ctx, &server, &args),
        Command::Diagnose(args) => diagnose(ctx, &server, &args),
        Command::Replay(args) => replay(ctx, &server, &args),
        Command::Verify(_) => verify(ctx, &server),
        Command::Audit(args) => audit(ctx, &server, &args),
        Command::Gate(args) => gate(ctx, &server, &args),
        Command::Promote(args) => promote(ctx, &server, &args),
        Command::Review(command) => review(ctx, &server, command).map(|()| 0),
        Command::Deploy(args) => deploy(ctx, &server, &args).map(|()| 0),
        Command::Ingest(args) => ingest(ctx, &server, &args).map(|()| 0),
        Command::Run(command) => {
            let built = crate::evidence::build_run(ctx, &command)?;
            crate::evidence::write(ctx, &mut Remote(&server), built).map(|()| 0)
        }
        Command::Log(LogCommand::Live(args)) => {
            let (model, artifact, event) = crate::diagnose::build_live(ctx, &args)?;
            let path = format!("/api/v1/registry{}", query([("model", model.as_str())]));
            if let Err(e) = server.get(&path) {
                return Err(match e.failure {
                    Failure::Unknown => crate::diagnose::unknown_model(&model),
                    _ => e,
                });
            }
            let result = Remote(&server).append_one(event)?;
            crate::diagnose::report_live(ctx, &model, &artifact, result);
            Ok(0)
        }
        Command::Log(command) => {
            let built = crate::evidence::build_log(ctx, command)?;
            crate::evidence::write(ctx, &mut Remote(&server), built).map(|()| 0)
        }
    }
}

/// The server's answer read as the type the local command renders: `--json` then prints
/// it as the local command does (the type's own key order), and tables are the local ones.
fn typed<T: serde::de::DeserializeOwned>(answer: serde_json::Value, what: &str) -> CliResult<T> {
    serde_json::from_value(answer).map_err(|e| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's {what} answer is not what this vouch reads: {e}"),
        )
    })
}

/// The server's trust list, which names signers in tables; none is needed for `--json`.
fn trust(ctx: &Context, server: &Server) -> CliResult<vouch_ledger::Trust> {
    if ctx.global.json {
        return Ok(vouch_ledger::Trust::default());
    }
    typed(server.get("/api/v1/trust")?, "trust")
}

/// The server as a place to append events: `POST /api/v1/events?positions=true`.
struct Remote<'s>(&'s Server);

impl Store for Remote<'_> {
    fn require_run(&mut self, run: &vouch_event::RunId) -> CliResult<()> {
        match self
            .0
            .get(&format!("/api/v1/runs/{}", encode(run.as_str())))
        {
            Ok(_) => Ok(()),
            Err(e) if e.failure == Failure::Unknown => Err(bad_input(format!(
                "unknown run `{run}`: the ledger has no events for it (start one with `vouch run start`)"
            ))),
            Err(e) => Err(e),
        }
    }

    fn append_one(&mut self, event: Event) -> CliResult<Appended> {
        let line = vouch_event::to_json(&event) + "\n";
        let (_, answer) = self.0.post_bytes(
            "/api/v1/events?positions=true",
            "application/x-ndjson",
            line.as_bytes(),
            &[422],
        )?;
        let report: vouch_app::ingest::IngestReport =
            serde_json::from_value(answer).map_err(|e| {
                CliError::new(
                    Failure::Internal,
                    anyhow::anyhow!("the server's ingest report: {e}"),
                )
            })?;
        if let Some(bad) = report.bad_lines.first() {
            return Err(bad_input(&bad.error));
        }
        let stored = report.stored.first().ok_or_else(|| {
            CliError::new(
                Failure::Internal,
                anyhow::anyhow!("the server stored the event but did not say where"),
            )
        })?;
        let position = Position::new(stored.position);
        Ok(if stored.duplicate {
            Appended::Duplicate(position)
        } else {
            Appended::New(position)
        })
    }
}

fn ingest(ctx: &Context, server: &Server, args: &IngestArgs) -> CliResult<()> {
    let mut input = Vec::new();
    let read = match args.file.as_deref() {
        None => std::io::stdin().read_to_end(&mut input),
        Some(p) if p.as_os_str() == "-" => std::io::stdin().read_to_end(&mut input),
        Some(path) => std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut input))
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display()))
            }),
    };
    read.map_err(|e| {
        let failure = if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound
        } else {
            Failure::Io
        };
        CliError::new(failure, anyhow::anyhow!("{e}"))
    })?;
    let (_, answer) =
        server.post_bytes("/api/v1/events", "application/x-ndjson", &input, &[422])?;
    let report: vouch_app::ingest::IngestReport = serde_json::from_value(answer).map_err(|e| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's ingest report: {e}"),
        )
    })?;
    crate::ingest::finish(ctx, &report)
}

fn compare(ctx: &Context, server: &Server, args: &CompareArgs) -> CliResult<u8> {
    let mut pairs: Vec<(&str, &str)> = args.runs.iter().map(|r| ("run", r.as_str())).collect();
    if let Some(a) = &args.as_of {
        pairs.push(("as_of", a.as_str()));
    }
    // The comparison's answer names the runs' values only; the table shows more of each
    // run (name, status, code), so the runs are read whole, as of the same point.
    server.get(&format!("/api/v1/compare{}", query(pairs)))?;
    let as_of: Vec<(&str, &str)> = args.as_of.iter().map(|a| ("as_of", a.as_str())).collect();
    let runs = args
        .runs
        .iter()
        .map(|r| {
            let run = parse_run(r, "RUN")?;
            let path = format!(
                "/api/v1/runs/{}{}",
                encode(run.as_str()),
                query(as_of.clone())
            );
            let shown: vouch_app::runs::RunShown = typed(server.get(&path)?, "run")?;
            Ok(shown.doc)
        })
        .collect::<CliResult<Vec<_>>>()?;
    crate::query::print_comparison(ctx, &vouch_app::compare::Comparison { runs });
    Ok(0)
}

fn registry(ctx: &Context, server: &Server, args: &RegistryArgs) -> CliResult<u8> {
    if args.as_of.is_some() {
        return Err(usage(
            "registry --as-of is not served over HTTP yet: run it where the ledger is",
        ));
    }
    let model = args.model.as_deref().map(parse_model).transpose()?;
    let path = format!(
        "/api/v1/registry{}",
        query(model.as_ref().map(|m| ("model", m.as_str())))
    );
    match server.get(&path) {
        Ok(answer) => {
            let models: Vec<vouch_app::registry::ModelEntry> = typed(answer, "registry")?;
            crate::release::print_registry(ctx, &models, None);
            Ok(0)
        }
        // As the local command words it.
        Err(e) if e.failure == Failure::Unknown => Err(bad_input(format!(
            "model {} has no decisions",
            model.map_or_else(String::new, |m| m.to_string())
        ))),
        Err(e) => Err(e),
    }
}

fn decisions(ctx: &Context, server: &Server, args: &DecisionsArgs) -> CliResult<u8> {
    let model = args.model.as_deref().map(parse_model).transpose()?;
    let limit = args.limit.to_string();
    let mut pairs = vec![("limit", limit.as_str())];
    if let Some(m) = &model {
        pairs.push(("model", m.as_str()));
    }
    let shown: Vec<vouch_views::DecisionEntry> = typed(
        server.get(&format!("/api/v1/decisions{}", query(pairs)))?,
        "decisions",
    )?;
    crate::release::print_decisions(ctx, &shown, &trust(ctx, server)?);
    Ok(0)
}

fn diagnose(ctx: &Context, server: &Server, args: &DiagnoseArgs) -> CliResult<u8> {
    let model = parse_model(&args.model)?;
    let tolerance = args.tolerance.to_string();
    let mut pairs = vec![
        ("model", model.as_str()),
        ("env", args.env.as_str()),
        ("tolerance", tolerance.as_str()),
    ];
    if let Some(a) = &args.as_of {
        pairs.push(("as_of", a.as_str()));
    }
    let diagnosis = typed(
        server.get(&format!("/api/v1/diagnose{}", query(pairs)))?,
        "diagnosis",
    )?;
    crate::diagnose::show_diagnosis(ctx, &diagnosis);
    Ok(0)
}

fn replay(ctx: &Context, server: &Server, args: &ReplayArgs) -> CliResult<u8> {
    let text = read_policy(&args.policy)?;
    let policy = vouch_app::replay::parse_policy(&text).map_err(|e| {
        CliError::new(
            vouch_app::failure::replay_failure(&e),
            anyhow::anyhow!("{}: {e}", args.policy.display()),
        )
    })?;
    let model = match &args.model {
        Some(m) => parse_model(m)?,
        None => policy.model().clone(),
    };
    let answer = server.post(
        "/api/v1/replay",
        &serde_json::json!({
            "policy": text, "model": model, "since": args.since, "until": args.until,
            "all": args.all,
        }),
    )?;
    let result = typed(answer, "replay")?;
    Ok(crate::replay::print_replay(ctx, &result, &args.policy))
}

fn verify(ctx: &Context, server: &Server) -> CliResult<u8> {
    let start = std::time::Instant::now();
    let answer = server.get("/api/v1/verify")?;
    let seconds = start.elapsed().as_secs_f64();
    let report = &answer["report"];
    if ctx.global.json {
        output::json(&serde_json::json!({
            "ok": answer["ok"], "seconds": seconds, "report": report,
        }));
    } else {
        say!(
            "{} records, {} decisions, {} reviews, {} signatures checked in {seconds:.2} s",
            report["records"],
            report["decisions"],
            report["reviews"],
            report["signatures"]
        );
    }
    let failure = &report["failure"];
    if failure.is_null() {
        if !ctx.global.json {
            say!("the chain verifies");
        }
        return Ok(0);
    }
    let describe = |r: &serde_json::Value| {
        format!(
            "log position {}{}: {}{}",
            r["position"],
            r["index"]
                .as_u64()
                .map_or(String::new(), |i| format!(" (decision {i})")),
            r["reason"].as_str().unwrap_or(""),
            r["rule"]
                .as_str()
                .map_or(String::new(), |rule| format!(" [rule {rule}]"))
        )
    };
    for r in report["refused"].as_array().into_iter().flatten().skip(1) {
        note!("refused: {}", describe(r));
    }
    let damaged = failure["rule"].is_null();
    note!(
        "error: {} at {}",
        if damaged {
            "the log is damaged"
        } else {
            "verification failed"
        },
        describe(failure)
    );
    Ok(if damaged {
        Failure::Internal.code()
    } else {
        Failure::Verify.code()
    })
}

fn audit(ctx: &Context, server: &Server, args: &AuditArgs) -> CliResult<u8> {
    // A file is hashed here; the server is asked by digest (a sha256 is resolved there).
    let digest = match args.digest.as_deref().map(str::trim) {
        Some(d) if d.starts_with("sha256:") => d.to_owned(),
        _ => crate::release::artifact_digest(args.path.as_deref(), args.digest.as_deref())?
            .to_string(),
    };
    let path = format!("/api/v1/audit/{}", encode(&digest));
    let answer = server.get(&path)?;
    let report: vouch_ledger::AuditReport = field(&answer, "report")?;
    let promoted = report.decision.is_some();
    if let (Some(out), true) = (&args.bundle, promoted) {
        let bundle = server.get(&format!("{path}/bundle"))?;
        let text = serde_json::to_string_pretty(&bundle).expect("serializable") + "\n";
        std::fs::write(out, text).map_err(|e| {
            CliError::new(
                Failure::Io,
                anyhow::anyhow!("writing {}: {e}", out.display()),
            )
        })?;
    }
    crate::release::print_audit(ctx, &report, &trust(ctx, server)?);
    if !ctx.global.json {
        if let (Some(out), true) = (&args.bundle, promoted) {
            say!("audit bundle written to {}", out.display());
        }
    }
    crate::release::audit_code(ctx, &report)
}

fn gate(ctx: &Context, server: &Server, args: &GateCommandArgs) -> CliResult<u8> {
    let g = &args.gate;
    let model = parse_model(&g.model)?;
    let run = parse_run(&g.run, "--run")?;
    let text = read_policy(&g.policy)?;
    let answer = server
        .post(
            "/api/v1/gate",
            &serde_json::json!({
                "model": model, "run": run, "policy": text, "as_of": args.as_of,
            }),
        )
        .map_err(|e| policy_named(e, &g.policy))?;
    let report: vouch_app::promote::GateReport = typed(answer, "gate")?;
    crate::release::print_gate(ctx, &report);
    Ok(report.outcome.exit_code())
}

/// The server names a policy that does not parse `policy: …`; the CLI names the file.
fn policy_named(e: CliError, path: &std::path::Path) -> CliError {
    let message = format!("{:#}", e.error);
    match message.strip_prefix("policy: ") {
        Some(why) => CliError::new(e.failure, anyhow::anyhow!("{}: {why}", path.display())),
        None => e,
    }
}

fn promote(ctx: &Context, server: &Server, args: &PromoteArgs) -> CliResult<u8> {
    if args.key.is_some() {
        return Err(usage(
            "--key with --server: the server signs decisions with its own release key (`vouch serve --http … --release-key FILE`); drop --key",
        ));
    }
    let g = &args.gate;
    let model = parse_model(&g.model)?;
    let run = parse_run(&g.run, "--run")?;
    let text = read_policy(&g.policy)?;
    let answer = server
        .post(
            "/api/v1/promote",
            &serde_json::json!({ "model": model, "run": run, "policy": text }),
        )
        .map_err(|e| policy_named(e, &g.policy))?;
    let report: vouch_app::promote::PromoteReport = typed(answer, "promote")?;
    // The table's header names the policy version and the baseline: the decision
    // recorded both, so they are read from it.
    let (policy_version, baseline) = if ctx.global.json {
        (String::new(), None)
    } else {
        let limit = vouch_app::decisions::DEFAULT_LIMIT.to_string();
        let path = format!(
            "/api/v1/decisions{}",
            query([("model", model.as_str()), ("limit", limit.as_str())])
        );
        let decisions: Vec<vouch_views::DecisionEntry> = typed(server.get(&path)?, "decisions")?;
        let d = decisions
            .into_iter()
            .find(|d| d.index == report.index && d.hash == report.decision)
            .ok_or_else(|| {
                CliError::new(
                    Failure::Internal,
                    anyhow::anyhow!(
                        "the server recorded decision {} but does not list it",
                        report.decision
                    ),
                )
            })?;
        (d.policy_version, d.baseline)
    };
    crate::release::print_promotion(ctx, &report, &policy_version, baseline.as_ref());
    vouch_app::promote::outcome_code(report.outcome.as_str()).ok_or_else(|| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("outcome {} has no exit code", report.outcome.as_str()),
        )
    })
}

/// A field of an answer the CLI relies on.
fn field<T: serde::de::DeserializeOwned>(answer: &serde_json::Value, name: &str) -> CliResult<T> {
    serde_json::from_value(answer[name].clone()).map_err(|e| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's answer has no usable `{name}`: {e}"),
        )
    })
}

fn digest_field(answer: &serde_json::Value, name: &str) -> CliResult<Digest> {
    let text: String = field(answer, name)?;
    Digest::parse(&text).map_err(|e| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's `{name}` is not a digest: {e}"),
        )
    })
}

/// A draft from the server: its record decoded, and the decision it cites.
fn draft_of(answer: &serde_json::Value) -> CliResult<(Event, Option<(Digest, u64)>)> {
    let text: String = field(answer, "record")?;
    let bytes = vouch_event::parse_hex_bytes(&text).ok_or_else(|| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's draft is not hex"),
        )
    })?;
    let draft = vouch_event::decode(&bytes).map_err(|e| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the server's draft does not decode: {e}"),
        )
    })?;
    let decision = match &answer["decision"] {
        serde_json::Value::Null => None,
        d => Some((digest_field(d, "hash")?, field(d, "index")?)),
    };
    Ok((draft, decision))
}

/// Refuses to sign a draft that is not what was asked: a server signs nothing here, but
/// it must not get this key's signature on a record the user did not mean.
fn not_as_asked(what: &str) -> CliError {
    CliError::new(
        Failure::Internal,
        anyhow::anyhow!(
            "the server's draft does not match the request ({what}); nothing was signed"
        ),
    )
}

fn review(ctx: &Context, server: &Server, command: ReviewCommand) -> CliResult<()> {
    let (args, verdict): (&ReviewArgs, _) = match &command {
        ReviewCommand::Approve(a) => (a, ReviewVerdict::Approve),
        ReviewCommand::Reject(a) => (a, ReviewVerdict::Reject),
        ReviewCommand::Enact(a) => {
            if a.key.is_some() {
                return Err(usage(
                    "--key with --server: the server enacts with its own release key (`vouch serve --http … --release-key FILE`); drop --key",
                ));
            }
            let path = format!("/api/v1/reviews/{}/enact", encode(&a.decision));
            let answer = server.post(&path, &serde_json::json!({}))?;
            let outcome: String = field(&answer, "outcome")?;
            crate::release::print_enacted(
                ctx,
                &outcome,
                &digest_field(&answer, "decision")?,
                field(&answer, "index")?,
            );
            return Ok(());
        }
    };
    if args.reason.trim().is_empty() {
        return Err(bad_input("--reason must say why"));
    }
    if args.release_key.is_some() {
        return Err(usage(
            "--release-key with --server: the server enacts with its own release key; once the reviews decide, run `vouch --server URL review enact --decision D`",
        ));
    }
    let key = load_key(&args.key)?;
    let at = now();
    let answer = server.post(
        "/api/v1/reviews/draft",
        &serde_json::json!({
            "decision": args.decision,
            "verdict": match verdict { ReviewVerdict::Approve => "approve", ReviewVerdict::Reject => "reject" },
            "reason": args.reason,
            "signer": vouch_chain::public_key_text(&key.public()),
            "at": at.to_string(),
        }),
    )?;
    let (draft, decision) = draft_of(&answer)?;
    let (hash, index) = decision.ok_or_else(|| not_as_asked("no decision"))?;
    match &draft.body {
        Body::ReviewRecorded(r)
            if r.verdict == verdict
                && r.reason == args.reason
                && r.reviewed_at == at
                && r.signer == key.public()
                && r.decision == hash
                && names(&args.decision, &hash, index) => {}
        _ => {
            return Err(not_as_asked(
                "another decision, verdict, reason, time or key",
            ))
        }
    }
    let signed = vouch_ledger::sign_draft(draft, &key)?;
    let answer = server.post(
        "/api/v1/reviews",
        &serde_json::json!({ "record": vouch_event::hex(&vouch_event::encode(&signed)) }),
    )?;
    crate::release::print_review(
        ctx,
        &crate::release::ReviewShown {
            review: digest_field(&answer, "review")?,
            position: field(&answer, "position")?,
            decision: digest_field(&answer, "decision")?,
            index,
            state: vouch_ledger::ReviewState {
                required: field(&answer, "required")?,
                approvals: field(&answer, "approvals")?,
                rejected: field(&answer, "rejected")?,
                resolved_by: None,
            },
            enacted: None,
        },
    );
    Ok(())
}

/// Whether `given` (a hash, a prefix of 8+ hex characters, or a chain index) names the
/// decision `hash` at `index`.
fn names(given: &str, hash: &Digest, index: u64) -> bool {
    let given = given.strip_prefix("blake3:").unwrap_or(given);
    if given.len() < 8 {
        return given.parse::<u64>() == Ok(index);
    }
    hash.hex().starts_with(&given.to_ascii_lowercase())
}

fn deploy(ctx: &Context, server: &Server, args: &DeployArgs) -> CliResult<()> {
    let (model, digest, forced) = crate::release::deploy_request(args, None)?;
    let key = load_key(&args.key)?;
    let at = now();
    let answer = server.post(
        "/api/v1/deployments/draft",
        &serde_json::json!({
            "model": model, "env": args.env, "artifact": digest, "forced": forced,
            "signer": vouch_chain::public_key_text(&key.public()), "at": at.to_string(),
        }),
    )?;
    let (draft, decision) = draft_of(&answer)?;
    match (&draft.subject, &draft.body) {
        (vouch_event::Subject::Model(m), Body::DeploymentSigned(d))
            if *m == model
                && d.env == args.env
                && d.artifact == digest
                && d.forced == forced.is_some()
                && d.reason.as_deref() == forced
                && d.deployed_at == at
                && d.signer == key.public()
                && d.decision == decision.map(|(h, _)| h) => {}
        _ => {
            return Err(not_as_asked(
                "another model, environment, artifact, time or key",
            ))
        }
    }
    let signed = vouch_ledger::sign_draft(draft, &key)?;
    let answer = server.post(
        "/api/v1/deployments",
        &serde_json::json!({ "record": vouch_event::hex(&vouch_event::encode(&signed)) }),
    )?;
    crate::release::print_deployment(
        ctx,
        &model,
        &args.env,
        &digest,
        field(&answer, "position")?,
        decision,
        forced.is_some(),
    );
    Ok(())
}
