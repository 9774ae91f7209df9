//! `vouch demo loan-risk`: the brief's worked example, published as real evidence.
//!
//! A loan-risk team has a production model and trains four candidates. Run C has the best
//! AUC but a p95 latency far over the 200 ms SLO; Run B is slightly lower on AUC and
//! sound on latency, calibration, fairness and every region; A is weaker than production;
//! D is unfair and regresses APAC. After B is deployed, live traffic shows APAC falling
//! while the average holds, and `vouch diagnose` names it. Event ids and times are fixed,
//! so running the demo twice writes nothing new.

use std::collections::BTreeMap;
use std::path::Path;

use comfy_table::CellAlignment;
use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Environment, Event, EventId, GitInfo,
    LiveMetricsObserved, MetricsLogged, Name, ParamsLogged, Producer, RunFinished, RunId,
    RunStarted, RunStatus, Segment, Subject, Timestamp,
};
use vouch_event::{ModelName, ReviewVerdict};
use vouch_files::FileKind;
use vouch_ledger::{AppendError, Ledger, Role, Trust};
use vouch_log::{Appended, LogError};

use crate::cli::GateArgs;

use crate::cli::DemoCommand;
use crate::context::{file_uri, Context};
use crate::exit::{CliError, CliResult, Fail, Failure};
use crate::output::{self, number, print, say, table, Cell};

/// The loan-risk story's data (`demo/loan-risk.toml`), compiled into the binary.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Story {
    /// The evaluation metrics, in the order of each run's `overall`.
    metrics: Vec<String>,
    /// The segments with their own AUC, in the order of each run's `regions`.
    regions: Vec<String>,
    runs: Vec<Candidate>,
    live_weeks: Vec<LiveWeek>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Candidate {
    run: String,
    name: String,
    commit: String,
    params: Vec<(String, String)>,
    overall: Vec<f64>,
    regions: Vec<f64>,
}

/// One week of live AUC for the artifact of `run`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveWeek {
    run: String,
    week: String,
    /// The window's start, its end and the labels' arrival, in days before now.
    days_ago: [i64; 3],
    /// Overall, then one value per region.
    auc: Vec<f64>,
}

const STORY: &str = include_str!("../demo/loan-risk.toml");

/// The story, parsed and checked once (its shape is fixed at build time, and a unit test
/// parses it, so a failure here is a bug).
fn story() -> &'static Story {
    static PARSED: std::sync::OnceLock<Story> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        let story: Story = toml::from_str(STORY).expect("demo/loan-risk.toml parses");
        for c in &story.runs {
            assert_eq!(c.overall.len(), story.metrics.len(), "{}: overall", c.run);
            assert_eq!(c.regions.len(), story.regions.len(), "{}: regions", c.run);
        }
        for w in &story.live_weeks {
            assert_eq!(w.auc.len(), story.regions.len() + 1, "{}: auc", w.week);
        }
        story
    })
}

pub fn run(ctx: &Context, command: DemoCommand) -> CliResult<()> {
    match command {
        DemoCommand::LoanRisk => loan_risk(ctx),
        DemoCommand::Fraud => fraud(ctx),
    }
}

/// Appends the demo's events. Some are dated relative to today (so its dataset stays
/// fresh), so on another day a second run states other facts under the same ids: each
/// event whose id the log already holds keeps its first content (a duplicate), instead of
/// the whole run failing as a conflict. Nothing else writes under the demo's ids.
fn append_demo_events(ledger: &mut Ledger, events: &[Event]) -> CliResult<Vec<Appended>> {
    let conflict = |e: &AppendError| {
        matches!(
            e,
            AppendError::Log(LogError::ContentConflict { .. } | LogError::IdConflict { .. })
        )
    };
    match ledger.append(events) {
        Err(e) if conflict(&e) => {}
        other => return Ok(other?),
    }
    let mut results = Vec::with_capacity(events.len());
    for event in events {
        match ledger.append(std::slice::from_ref(event)) {
            Ok(mut one) => results.push(one.pop().expect("one result per event")),
            Err(AppendError::Log(
                LogError::ContentConflict { position, .. } | LogError::IdConflict { position, .. },
            )) => results.push(Appended::Duplicate(position)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(results)
}

/// Midnight UTC `days` days before today: the demo's dataset is always fresh enough for
/// its policy's freshness gate, whenever the demo runs.
fn days_ago(days: i64) -> Timestamp {
    const DAY: i64 = 86_400_000_000_000;
    let today = crate::context::now().unix_nanos().div_euclid(DAY);
    Timestamp::from_unix_nanos((today - days) * DAY)
}

fn at(minutes: i64) -> Timestamp {
    let start = Timestamp::parse_rfc3339("2026-11-20T09:00:00Z").expect("valid");
    Timestamp::from_unix_nanos(start.unix_nanos() + minutes * 60_000_000_000)
}

fn loan_risk(ctx: &Context) -> CliResult<()> {
    let dir = &ctx.global.ledger;
    demo_ledger(ctx, "loan-risk")?;
    let files = dir.join("demo-files");
    std::fs::create_dir_all(&files).fail(Failure::Io)?;
    let dataset = write_validation_set(&files)?;
    let mut events = Vec::new();
    for (i, c) in story().runs.iter().enumerate() {
        events.extend(candidate_events(c, i as i64 * 60, &files, &dataset)?);
    }
    let mut ledger = ctx.open()?;
    let results = append_demo_events(&mut ledger, &events)?;
    let new = results
        .iter()
        .filter(|r| matches!(r, vouch_log::Appended::New(_)))
        .count();
    let views = ledger.views();
    let docs = story()
        .runs
        .iter()
        .map(|c| {
            views
                .run(&RunId::new(c.run.as_str()).expect("valid"))
                .map(|d| d.expect("just appended"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let json = ctx.global.json;
    if !json {
        print_candidates(dir, events.len(), new, &docs);
    }
    let release = release_flow(ctx, &mut ledger, &files)?;
    let replayed = replay_step(ctx, &ledger, &files)?;
    let diagnosed = live_step(ctx, &mut ledger)?;
    if json {
        output::json(&serde_json::json!({
            "ledger": dir,
            "events": events.len(),
            "appended": new,
            "runs": docs,
            "release": release,
            "replay": replayed,
            "diagnose": diagnosed,
        }));
    }
    Ok(())
}

/// The policy owners tighten the latency SLO from 200 to 180 ms; replay shows which past
/// decision flips (Run B, at 182 ms) on the evidence exactly as it stood.
fn replay_step(
    ctx: &Context,
    ledger: &Ledger,
    files: &Path,
) -> CliResult<vouch_replay::ReplayReport> {
    let strict = POLICY
        .replace("max = 200", "max = 180")
        .replace("the 200 ms SLO", "the 180 ms SLO")
        .replace("version = \"2026.11-1\"", "version = \"2026.12-1\"");
    let path = files.join("loan-risk-policy-strict.toml");
    std::fs::write(&path, &strict).fail(Failure::Io)?;
    let policy = vouch_policy::Policy::parse(&strict).expect("the demo's strict policy parses");
    let report = vouch_replay::replay(
        ledger,
        &policy,
        &vouch_replay::Scope {
            model: policy.model().clone(),
            since: None,
            until: None,
        },
        &mut |_, _| {},
    )?;
    if report.summary.changed != 1 || report.summary.evidence_failures != 0 {
        return Err(crate::exit::CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the demo's replay did not flip exactly Run B's promotion"),
        ));
    }
    if !ctx.global.json {
        say!("\nPolicy 2026.12-1 tightens the latency SLO to 180 ms. Replayed on the evidence each decision read:");
        for d in report.decisions.iter().filter(|d| d.changed) {
            let gates: Vec<String> = d
                .gates
                .iter()
                .filter_map(|g| g.new.as_ref())
                .map(|g| g.reason.clone())
                .collect();
            say!(
                "  decision #{} ({}): {} → {} ({})",
                d.index,
                d.run,
                d.old_outcome.as_str(),
                d.new_outcome.map_or("?", |o| o.as_str()),
                gates.join("; ")
            );
        }
        say!(
            "  {} decisions replayed, {} would change, {} unchanged  (vouch replay --policy {})",
            report.summary.replayed,
            report.summary.changed,
            report.summary.unchanged,
            path.display()
        );
    }
    Ok(report)
}

/// Live traffic, as a monitoring job publishes it: weekly AUC overall and per region, for
/// the artifact that served it, once the labels arrived. Then `vouch diagnose` on it.
fn live_step(ctx: &Context, ledger: &mut Ledger) -> CliResult<vouch_diagnose::Diagnosis> {
    let model = ModelName::new("loan-risk").expect("valid");
    let producer = Producer::new("demo/loan-risk-monitor").expect("valid");
    let mut events = Vec::new();
    for LiveWeek {
        run,
        week,
        days_ago: [start, end, labels],
        auc: aucs,
    } in &story().live_weeks
    {
        let (start, end, labels) = (*start, *end, *labels);
        let artifact = ledger
            .views()
            .run(&RunId::new(run.as_str()).expect("valid"))?
            .and_then(|doc| doc.artifacts.first().map(|a| a.digest))
            .expect("the demo's runs logged their models");
        let labels_through = days_ago(labels);
        let segments = [
            None,
            Some("region=EU"),
            Some("region=US"),
            Some("region=APAC"),
        ];
        let counts = [5200, 2400, 2100, 700];
        for ((segment, auc), count) in segments.into_iter().zip(aucs).zip(counts) {
            events.push(Event {
                id: EventId::new(format!(
                    "demo-loan-risk:live:{week}:{}",
                    segment.unwrap_or("all")
                ))
                .expect("valid"),
                time: Timestamp::from_unix_nanos(
                    labels_through.unix_nanos() + 6 * 3_600_000_000_000,
                ),
                producer: producer.clone(),
                subject: Subject::Model(model.clone()),
                body: Body::LiveMetricsObserved(LiveMetricsObserved {
                    env: "production".into(),
                    artifact,
                    metrics: BTreeMap::from([(Name::new("auc").expect("valid"), *auc)]),
                    segment: segment.map(|s| Segment::new(s).expect("valid")),
                    window_start: days_ago(start),
                    window_end: days_ago(end),
                    labels_through,
                    count: Some(count),
                }),
            });
        }
    }
    let fresh = append_demo_events(ledger, &events)?
        .iter()
        .all(|r| matches!(r, vouch_log::Appended::New(_)));
    let diagnosis = vouch_diagnose::diagnose(
        ledger,
        &model,
        &vouch_diagnose::Options {
            env: "production".into(),
            tolerance: vouch_diagnose::DEFAULT_TOLERANCE,
            now: crate::context::now(),
        },
    )?;
    let named = diagnosis.findings.first().is_some_and(|f| {
        f.check == vouch_diagnose::CheckId::SegmentRegressed
            && f.segment.as_ref().map(Segment::as_str) == Some("region=APAC")
    });
    // On a ledger where more happened since (another deployment, more observations), the
    // diagnosis may rightly say something else.
    if fresh && !named {
        return Err(crate::exit::CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the demo's diagnosis did not rank APAC's regression first"),
        ));
    }
    if !ctx.global.json {
        say!(
            "\nFour weeks of live AUC (two on production v1, then two on Run B), and the on-call diagnosis:"
        );
        crate::diagnose::print_diagnosis(&diagnosis);
        say!("  (vouch diagnose --model loan-risk)");
    }
    Ok(diagnosis)
}

fn print_candidates(dir: &Path, events: usize, new: usize, docs: &[vouch_views::RunDoc]) {
    say!(
        "loan-risk demo: {events} events published to {} ({new} new)\n",
        dir.display()
    );
    let mut header = vec!["run".to_owned()];
    header.extend(story().metrics.iter().cloned());
    header.extend(story().regions.iter().map(|r| format!("auc[{r}]")));
    let mut t = table(header);
    for doc in docs {
        let name = doc
            .started
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        let mut row = vec![Cell::new(format!("{} ({name})", doc.run))];
        let value = |v: Option<&vouch_views::LatestMetric>| {
            Cell::new(v.map_or("-".into(), |v| number(v.value))).set_alignment(CellAlignment::Right)
        };
        for m in &story().metrics {
            row.push(value(
                doc.metric(&Name::new(m.as_str()).expect("valid"), None),
            ));
        }
        let auc = Name::new("auc").expect("valid");
        for r in &story().regions {
            row.push(value(
                doc.metric(&auc, Some(&Segment::new(r.as_str()).expect("valid"))),
            ));
        }
        t.add_row(row);
    }
    print(&t);
    say!(
        "\nRun C has the best AUC but a p95 latency of 410 ms; Run B is close on AUC and sound on\n\
         latency, calibration, fairness and every region. The release policy decides.\n"
    );
}

/// The policy the demo gates with (also in `crates/vouch-policy/policies/`).
const POLICY: &str = include_str!("../../vouch-policy/policies/loan-risk.toml");

/// A key file in the demo's folder: reused when present, else generated (mode 0600).
fn demo_key(path: &Path) -> CliResult<SigningKey> {
    if path.exists() {
        return crate::release::load_key(path);
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| {
        crate::exit::CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the OS random source failed: {e}"),
        )
    })?;
    let key = SigningKey::from_seed(seed);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .fail(Failure::Io)?;
    file.write_all(key.to_file_text().as_bytes())
        .fail(Failure::Io)?;
    Ok(key)
}

/// The file that marks a ledger as made by `vouch demo`, beside `ledger.json`.
const DEMO_MARKER: &str = "demo.json";

/// What [`DEMO_MARKER`] holds: which demo created the ledger.
#[derive(serde::Serialize, serde::Deserialize)]
struct DemoMarker {
    created_by: String,
}

/// Makes sure the demo runs in a ledger of its own: creates one and marks it as the
/// demo's, or finds one a demo created before (either demo may run in it again).
///
/// The demo trusts its throwaway signing and reviewer keys (their private halves lie in
/// `demo-files/`), so it refuses any other ledger before changing anything: run in a real
/// ledger, it would make those keys trusted there.
fn demo_ledger(ctx: &Context, demo: &str) -> CliResult<()> {
    let dir = &ctx.global.ledger;
    let marker = dir.join(DEMO_MARKER);
    if !dir.join("ledger.json").exists()
        && Ledger::init(dir, ctx.options())? == vouch_ledger::Initialised::Created
    {
        let text = serde_json::to_string_pretty(&DemoMarker {
            created_by: format!("vouch demo {demo}"),
        })
        .expect("serializable");
        let tmp = dir.join(format!("{DEMO_MARKER}.tmp"));
        std::fs::write(&tmp, text + "\n").fail(Failure::Io)?;
        std::fs::rename(&tmp, &marker).fail(Failure::Io)?;
        return Ok(());
    }
    // Read by the same rules as any small file, so a FIFO put there cannot block the demo.
    let made_by_a_demo = vouch_files::read(&marker, FileKind::new("demo marker", 4096))
        .ok()
        .is_some_and(|bytes| serde_json::from_slice::<DemoMarker>(&bytes).is_ok());
    if made_by_a_demo {
        return Ok(());
    }
    Err(CliError::new(
        Failure::Usage,
        anyhow::anyhow!(
            "{} is a ledger the demo did not create (it has no {DEMO_MARKER}): the demo trusts its own throwaway signing and reviewer keys, so it runs only in a ledger of its own; nothing was changed. Run it with `--ledger` naming a new directory, e.g. `vouch demo {demo} --ledger ./vouch-demo`",
            dir.display()
        ),
    ))
}

/// The demo's signing key and reviewer key (kept in `demo-files/`), trusted in the ledger,
/// which [`demo_ledger`] made sure is the demo's own. Each demo's reviewer has a key file
/// of their own: one key has one name in a trust list, and both demos may run in one
/// ledger.
fn demo_keys(
    ledger: &mut Ledger,
    files: &Path,
    reviewer_file: &str,
    reviewer_name: &str,
) -> CliResult<(SigningKey, SigningKey, Trust)> {
    let signer = demo_key(&files.join("release-signer.key"))?;
    let reviewer = demo_key(&files.join(reviewer_file))?;
    let mut trust = ledger.trust().clone();
    let mut changed = false;
    for (key, name, role) in [
        (&signer, "demo release bot", Role::Signer),
        (&signer, "demo release bot", Role::Deployer),
        (&reviewer, reviewer_name, Role::Reviewer),
    ] {
        changed |= trust
            .add(&key.public(), name, role, None)
            .map_err(|e| crate::exit::bad_input(e.to_string()))?;
    }
    if changed {
        ledger.set_trust(trust.clone())?;
    }
    Ok((signer, reviewer, trust))
}

#[derive(serde::Serialize)]
struct DemoDecision {
    run: String,
    decision: Digest,
    index: u64,
    outcome: &'static str,
    failed_gates: Vec<String>,
}

#[derive(serde::Serialize)]
struct DemoRelease {
    already_recorded: bool,
    decisions: Vec<DemoDecision>,
    deployed: Option<Digest>,
    audit_ok: bool,
    bundle: Option<std::path::PathBuf>,
    bundle_ok: bool,
    chain_verifies: bool,
}

fn demo_decision(p: &crate::release::Promoted) -> DemoDecision {
    DemoDecision {
        run: p.evaluated.gated.candidate.run.to_string(),
        decision: p.recorded.hash,
        index: p.recorded.index,
        outcome: p.outcome.as_str(),
        failed_gates: p
            .evaluated
            .gated
            .evaluation
            .gates
            .iter()
            .filter(|g| g.verdict == vouch_policy::Verdict::Fail)
            .map(|g| g.reason.clone())
            .collect(),
    }
}

/// Gates the candidates: the production model goes first (a first release, so a human
/// reviews it), then A to D against it; B is deployed and audited, the chain verified.
fn release_flow(ctx: &Context, ledger: &mut Ledger, files: &Path) -> CliResult<DemoRelease> {
    let json = ctx.global.json;
    let model = ModelName::new("loan-risk").expect("valid");
    let (signer, reviewer, trust) = demo_keys(
        ledger,
        files,
        "risk-reviewer.key",
        "Dana Okafor (model risk)",
    )?;
    let policy_path = files.join("loan-risk-policy.toml");
    std::fs::write(&policy_path, POLICY).fail(Failure::Io)?;
    let mut release = DemoRelease {
        already_recorded: false,
        decisions: Vec::new(),
        deployed: None,
        audit_ok: false,
        bundle: None,
        bundle_ok: false,
        chain_verifies: false,
    };
    let already = ledger
        .views()
        .model(&model)?
        .is_some_and(|m| !m.decisions.is_empty());
    if already {
        release.already_recorded = true;
        if !json {
            say!("release decisions for loan-risk are already recorded in this ledger; checking them\n");
        }
    } else {
        let gate = |run: &str| GateArgs {
            run: run.into(),
            model: model.to_string(),
            policy: policy_path.clone(),
        };
        // The production model: a first release, so the policy asks for a human review.
        let prod = crate::release::promote_on(ctx, ledger, &gate("loan-risk-prod"), &signer)?;
        release.decisions.push(demo_decision(&prod));
        ledger.record_review(
            &prod.recorded.hash.hex(),
            ReviewVerdict::Approve,
            "first release of the loan-risk model: validation and segment results reviewed",
            &reviewer,
            crate::context::now(),
        )?;
        let (_, approved) =
            ledger.enact_review(&prod.recorded.hash.hex(), &signer, crate::context::now())?;
        release.decisions.push(DemoDecision {
            run: "loan-risk-prod".into(),
            decision: approved.hash,
            index: approved.index,
            outcome: "promoted",
            failed_gates: Vec::new(),
        });
        let prod_artifact = ledger
            .views()
            .run(&RunId::new("loan-risk-prod").expect("valid"))?
            .expect("published")
            .artifacts[0]
            .digest;
        ledger.record_deployment(
            &model,
            "production",
            prod_artifact,
            None,
            &signer,
            crate::context::now(),
        )?;
        if !json {
            say!("production v1: first release → needs review → approved by Dana Okafor → deployed\n");
        }
        for run in ["loan-risk-a", "loan-risk-b", "loan-risk-c", "loan-risk-d"] {
            let p = crate::release::promote_on(ctx, ledger, &gate(run), &signer)?;
            if !json {
                say!("── {run}: {}", p.outcome.as_str());
                crate::release::print_evaluation(&p.evaluated);
                say!();
            }
            release.decisions.push(demo_decision(&p));
        }
        let b_model = files.join("loan-risk-b.model");
        let (digest, _, _) = crate::evidence::hash_file(&b_model, false)?;
        ledger.record_deployment(
            &model,
            "production",
            digest,
            None,
            &signer,
            crate::context::now(),
        )?;
    }
    let (digest, _, _) = crate::evidence::hash_file(&files.join("loan-risk-b.model"), false)?;
    release.deployed = Some(digest);
    let report = ledger.audit(&digest, &trust)?;
    release.audit_ok = report.ok();
    if let Some(decision) = &report.decision {
        let bundle = ledger.bundle(&digest, decision.index, &trust)?;
        let path = files.join("loan-risk-b.audit-bundle.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&bundle).expect("serializable") + "\n",
        )
        .fail(Failure::Io)?;
        release.bundle_ok = vouch_ledger::verify_bundle(&bundle, &trust)
            .iter()
            .all(|c| c.ok);
        release.bundle = Some(path);
    }
    let verified = ledger.verify(&trust, &mut |_, _| {})?;
    release.chain_verifies = verified.failure.is_none();
    if !json {
        if !release.decisions.is_empty() {
            let mut t = table(["run", "decision", "outcome", "why"]);
            for d in &release.decisions {
                t.add_row([
                    d.run.clone(),
                    format!("{} (#{})", &d.decision.hex()[..12], d.index),
                    d.outcome.to_owned(),
                    d.failed_gates.join("; "),
                ]);
            }
            print(&t);
            say!();
        }
        say!("Run B's model ({digest}) is deployed to production. Its audit:");
        crate::release::print_checks(&report.checks);
        say!(
            "\nchain: {} decisions, {} signatures checked — {}",
            verified.decisions,
            verified.signatures,
            if release.chain_verifies {
                "verifies"
            } else {
                "FAILS"
            }
        );
        let dir = ledger.dir().display().to_string();
        say!(
            "\nTry:\n  vouch --ledger {dir} audit {}/loan-risk-b.model\
             \n  vouch --ledger {dir} registry\
             \n  vouch verify-bundle {}/loan-risk-b.audit-bundle.json --trust {dir}/trust.json\
             \n  vouch --ledger {dir} compare loan-risk-prod loan-risk-b loan-risk-c",
            files.display(),
            files.display()
        );
    }
    if !(release.audit_ok && release.bundle_ok && release.chain_verifies) {
        return Err(crate::exit::CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the demo's own audit or verification failed"),
        ));
    }
    Ok(release)
}

/// A small validation set, written once with fixed content so its digest is stable.
fn write_validation_set(dir: &Path) -> CliResult<(Digest, u64, String)> {
    let path = dir.join("loans-validation-2026-11-18.csv");
    let mut text = String::from("loan_id,region,income_band,amount,defaulted\n");
    let bands = ["<30k", "30-60k", "60-100k", ">100k"];
    for i in 0..2000u32 {
        let region = ["EU", "US", "APAC"][(i % 3) as usize];
        let defaulted = u32::from((i * 7919) % 13 == 0);
        text.push_str(&format!(
            "L{i:05},{region},{},{},{defaulted}\n",
            bands[(i % 4) as usize],
            1000 + (i * 37) % 49_000
        ));
    }
    std::fs::write(&path, &text).fail(Failure::Io)?;
    Ok((Digest::of(text.as_bytes()), 2000, file_uri(&path)?))
}

fn candidate_events(
    c: &Candidate,
    offset: i64,
    files: &Path,
    dataset: &(Digest, u64, String),
) -> CliResult<Vec<Event>> {
    let run = RunId::new(c.run.as_str()).expect("valid run id");
    let producer = Producer::new("demo/loan-risk-train").expect("valid");
    let mut n = 0;
    let mut event = |what: &str, minutes: i64, body: Body| {
        n += 1;
        Event {
            id: EventId::new(format!("demo-loan-risk:{run}:{what}")).expect("valid"),
            time: at(offset + minutes),
            producer: producer.clone(),
            subject: Subject::Run(run.clone()),
            body,
        }
    };
    let mut out = Vec::new();
    let tools = [
        ("python", "3.11.7"),
        ("lightgbm", "4.5.0"),
        ("torch", "2.5.1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    out.push(event(
        "started",
        0,
        Body::RunStarted(RunStarted {
            experiment: "loan-risk".into(),
            name: Some(c.name.clone()),
            git: Some(GitInfo {
                commit: c.commit.clone(),
                dirty: false,
            }),
            env: Some(Environment {
                os: "linux".into(),
                cpu: "x86_64".into(),
                host: "trainer-07".into(),
                tools,
            }),
        }),
    ));
    let params = c
        .params
        .iter()
        .map(|(k, v)| (Name::new(k.as_str()).expect("valid"), v.clone()))
        .collect();
    out.push(event(
        "params",
        1,
        Body::ParamsLogged(ParamsLogged { params }),
    ));
    for step in 0..10u64 {
        let loss =
            0.69 * (-(step as f64 + 1.0) * c.overall[0] / 3.0).exp() + (1.0 - c.overall[0]) / 2.0;
        let metrics = BTreeMap::from([(
            Name::new("loss").expect("valid"),
            (loss * 1e4).round() / 1e4,
        )]);
        out.push(event(
            &format!("loss-{step}"),
            2 + step as i64,
            Body::MetricsLogged(MetricsLogged {
                metrics,
                step: Some(step),
                segment: None,
            }),
        ));
    }
    out.push(event(
        "validation-set",
        13,
        Body::DatasetBound(DatasetBound {
            role: DatasetRole::Validation,
            name: "loans-validation-2026-11-18.csv".into(),
            digest: dataset.0,
            rows: dataset.1,
            snapshot_at: Some(days_ago(3)),
            labels_through: Some(days_ago(6)),
            uri: Some(dataset.2.clone()),
        }),
    ));
    let metrics = story()
        .metrics
        .iter()
        .zip(&c.overall)
        .map(|(m, v)| (Name::new(m.as_str()).expect("valid"), *v))
        .collect();
    out.push(event(
        "eval",
        14,
        Body::MetricsLogged(MetricsLogged {
            metrics,
            step: None,
            segment: None,
        }),
    ));
    for (region, auc) in story().regions.iter().zip(&c.regions) {
        let metrics = BTreeMap::from([(Name::new("auc").expect("valid"), *auc)]);
        let segment = Some(Segment::new(region.as_str()).expect("valid"));
        out.push(event(
            &format!("eval-{region}"),
            15,
            Body::MetricsLogged(MetricsLogged {
                metrics,
                step: None,
                segment,
            }),
        ));
    }
    // The model file: fixed bytes per run, so its digest is the same on every machine.
    let model = files.join(format!("{}.model", c.run));
    let bytes: Vec<u8> = format!("loan-risk model {} trained from {}\n", c.run, c.commit)
        .into_bytes()
        .repeat(64);
    std::fs::write(&model, &bytes).fail(Failure::Io)?;
    out.push(event(
        "model",
        16,
        Body::ArtifactLogged(ArtifactLogged {
            name: "model.bin".into(),
            digest: Digest::of(&bytes),
            size: bytes.len() as u64,
            uri: file_uri(&model)?,
            sha256: None,
        }),
    ));
    out.push(event(
        "finished",
        17,
        Body::RunFinished(RunFinished {
            status: RunStatus::Ok,
        }),
    ));
    Ok(out)
}

/// The fraud policy (also in `crates/vouch-policy/policies/`).
/// The fraud story's data (`demo/fraud.toml`), compiled into the binary.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FraudStory {
    run: String,
    name: String,
    commit: String,
    params: Vec<(String, String)>,
    metrics: Vec<(String, f64)>,
}

fn fraud_story() -> FraudStory {
    toml::from_str(include_str!("../demo/fraud.toml")).expect("demo/fraud.toml parses")
}

const FRAUD_POLICY: &str = include_str!("../../vouch-policy/policies/fraud.toml");

#[derive(serde::Serialize)]
struct FraudRelease {
    appended: usize,
    already_recorded: bool,
    needs_review: Option<Digest>,
    promoted: Option<Digest>,
    deployed: Digest,
    audit_ok: bool,
    chain_verifies: bool,
}

/// A fraud model whose numbers pass every gate; the policy still asks the risk team to
/// sign off, a reviewer approves, and the approved model is deployed and audited.
fn fraud(ctx: &Context) -> CliResult<()> {
    let json = ctx.global.json;
    let dir = &ctx.global.ledger;
    demo_ledger(ctx, "fraud")?;
    let files = dir.join("demo-files");
    std::fs::create_dir_all(&files).fail(Failure::Io)?;
    let story = fraud_story();
    let run = RunId::new(story.run.as_str()).expect("valid");
    let producer = Producer::new("demo/fraud-train").expect("valid");
    let model_bytes = format!("fraud-detector gradient-boosted model, run {run}\n")
        .into_bytes()
        .repeat(128);
    let model_path = files.join(format!("{run}.model"));
    std::fs::write(&model_path, &model_bytes).fail(Failure::Io)?;
    let event = |what: &str, minutes: i64, body: Body| Event {
        id: EventId::new(format!("demo-fraud:{run}:{what}")).expect("valid"),
        time: at(minutes),
        producer: producer.clone(),
        subject: Subject::Run(run.clone()),
        body,
    };
    let metrics = story
        .metrics
        .iter()
        .map(|(k, v)| (Name::new(k.as_str()).expect("valid"), *v))
        .collect();
    let events = vec![
        event(
            "started",
            0,
            Body::RunStarted(RunStarted {
                experiment: "fraud-detector".into(),
                name: Some(story.name.clone()),
                git: Some(GitInfo {
                    commit: story.commit.clone(),
                    dirty: false,
                }),
                env: None,
            }),
        ),
        event(
            "params",
            1,
            Body::ParamsLogged(ParamsLogged {
                params: story
                    .params
                    .iter()
                    .map(|(k, v)| (Name::new(k.as_str()).expect("valid"), v.clone()))
                    .collect(),
            }),
        ),
        event(
            "eval",
            2,
            Body::MetricsLogged(MetricsLogged {
                metrics,
                step: None,
                segment: None,
            }),
        ),
        event(
            "model",
            3,
            Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: Digest::of(&model_bytes),
                size: model_bytes.len() as u64,
                uri: file_uri(&model_path)?,
                sha256: None,
            }),
        ),
        event(
            "finished",
            4,
            Body::RunFinished(RunFinished {
                status: RunStatus::Ok,
            }),
        ),
    ];
    let mut ledger = ctx.open()?;
    let appended = append_demo_events(&mut ledger, &events)?
        .iter()
        .filter(|r| matches!(r, vouch_log::Appended::New(_)))
        .count();
    let model = ModelName::new("fraud-detector").expect("valid");
    let (signer, reviewer, trust) = demo_keys(
        &mut ledger,
        &files,
        "fraud-reviewer.key",
        "Priya Raman (risk team)",
    )?;
    let policy_path = files.join("fraud-policy.toml");
    std::fs::write(&policy_path, FRAUD_POLICY).fail(Failure::Io)?;
    let digest = Digest::of(&model_bytes);
    let mut release = FraudRelease {
        appended,
        already_recorded: false,
        needs_review: None,
        promoted: None,
        deployed: digest,
        audit_ok: false,
        chain_verifies: false,
    };
    if ledger
        .views()
        .model(&model)?
        .is_some_and(|m| !m.decisions.is_empty())
    {
        release.already_recorded = true;
        if !json {
            say!("the fraud release is already recorded in this ledger; checking it\n");
        }
    } else {
        let gate = GateArgs {
            run: run.to_string(),
            model: model.to_string(),
            policy: policy_path,
        };
        let promoted = crate::release::promote_on(ctx, &mut ledger, &gate, &signer)?;
        release.needs_review = Some(promoted.recorded.hash);
        if !json {
            say!("fraud demo: run {run} published ({appended} new events)\n");
            crate::release::print_evaluation(&promoted.evaluated);
            say!(
                "\ndecision {} (chain index {}): {}",
                promoted.recorded.hash.hex(),
                promoted.recorded.index,
                promoted.outcome.as_str()
            );
        }
        let (review, _) = ledger.record_review(
            &promoted.recorded.hash.hex(),
            ReviewVerdict::Approve,
            "backtested on last month's chargebacks; merchant-velocity features approved",
            &reviewer,
            crate::context::now(),
        )?;
        let (_, approved) = ledger.enact_review(
            &promoted.recorded.hash.hex(),
            &signer,
            crate::context::now(),
        )?;
        release.promoted = Some(approved.hash);
        ledger.record_deployment(
            &model,
            "production",
            digest,
            None,
            &signer,
            crate::context::now(),
        )?;
        if !json {
            say!(
                "review {} by Priya Raman (risk team): approve",
                review.hex()
            );
            say!(
                "decision {} (chain index {}): promoted, citing the review",
                approved.hash.hex(),
                approved.index
            );
            say!("deployed {digest} to production\n");
        }
    }
    let report = ledger.audit(&digest, &trust)?;
    release.audit_ok = report.ok();
    release.chain_verifies = ledger.verify(&trust, &mut |_, _| {})?.failure.is_none();
    if json {
        output::json(&release);
    } else {
        say!("audit of the deployed fraud model:");
        crate::release::print_checks(&report.checks);
        say!(
            "\nchain {}",
            if release.chain_verifies {
                "verifies"
            } else {
                "FAILS"
            }
        );
    }
    if !(release.audit_ok && release.chain_verifies) {
        return Err(crate::exit::CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the demo's own audit or verification failed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod story_tests {
    /// The story's data parses, its shapes agree, and it names versions as the registry
    /// will: the production model is the first promoted version, v1.
    #[test]
    fn the_fraud_story_parses() {
        let story = super::fraud_story();
        assert_eq!(story.run, "fraud-gbm-7");
        assert_eq!(story.metrics.len(), 4);
    }

    #[test]
    fn the_loan_risk_story_parses_and_names_versions_as_the_registry_does() {
        let story = super::story();
        assert_eq!(story.runs.len(), 5);
        assert_eq!(story.runs[0].name, "production v1");
        assert!(story.live_weeks.iter().all(|w| !w.week.contains("v3")));
        let ids: std::collections::BTreeSet<_> = story.runs.iter().map(|c| &c.run).collect();
        assert_eq!(ids.len(), story.runs.len(), "run ids are distinct");
        assert!(
            story.live_weeks.iter().all(|w| ids.contains(&w.run)),
            "live weeks name runs of the story"
        );
    }
}
