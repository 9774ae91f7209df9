//! `vouch demo loan-risk`: the brief's worked example, published as real evidence.
//!
//! A loan-risk team has a production model and trains four candidates. Run C has the best
//! AUC but a p95 latency far over the 200 ms SLO; Run B is slightly lower on AUC and
//! sound on latency, calibration, fairness and every region; A is weaker than production;
//! D is unfair and regresses APAC. Event ids and times are fixed, so running the demo
//! twice writes nothing new.

use std::collections::BTreeMap;
use std::path::Path;

use comfy_table::{Cell, CellAlignment};
use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Environment, Event, EventId, GitInfo,
    MetricsLogged, Name, ParamsLogged, Producer, RunFinished, RunId, RunStarted, RunStatus,
    Segment, Subject, Timestamp,
};
use vouch_ledger::Ledger;

use crate::cli::DemoCommand;
use crate::context::{file_uri, Context};
use crate::exit::{CliResult, Fail, Failure};
use crate::output::{self, number, print, table};

struct Candidate {
    run: &'static str,
    name: &'static str,
    commit: &'static str,
    params: &'static [(&'static str, &'static str)],
    /// auc, latency_p95_ms, ece, demographic_parity_gap, cost_per_1k
    overall: [f64; 5],
    /// auc per region: EU, US, APAC
    regions: [f64; 3],
}

const METRICS: [&str; 5] = [
    "auc",
    "latency_p95_ms",
    "ece",
    "demographic_parity_gap",
    "cost_per_1k",
];
const REGIONS: [&str; 3] = ["region=EU", "region=US", "region=APAC"];

const RUNS: [Candidate; 5] = [
    Candidate {
        run: "loan-risk-prod",
        name: "production v3",
        commit: "4f1c2a9e7b3d5f60718293a4b5c6d7e8f9012345",
        params: &[
            ("model", "gbdt"),
            ("learning_rate", "0.05"),
            ("max_depth", "6"),
            ("n_estimators", "400"),
        ],
        overall: [0.842, 150.0, 0.041, 0.07, 1.10],
        regions: [0.851, 0.840, 0.829],
    },
    Candidate {
        run: "loan-risk-a",
        name: "A: shallow gbdt",
        commit: "9a8b7c6d5e4f30211234567890abcdef12345678",
        params: &[
            ("model", "gbdt"),
            ("learning_rate", "0.1"),
            ("max_depth", "4"),
            ("n_estimators", "200"),
        ],
        overall: [0.828, 95.0, 0.038, 0.06, 0.80],
        regions: [0.836, 0.825, 0.815],
    },
    Candidate {
        run: "loan-risk-b",
        name: "B: tuned gbdt",
        commit: "b1c2d3e4f5061728394a5b6c7d8e9f0011223344",
        params: &[
            ("model", "gbdt"),
            ("learning_rate", "0.03"),
            ("max_depth", "7"),
            ("n_estimators", "800"),
        ],
        overall: [0.861, 182.0, 0.032, 0.06, 1.25],
        regions: [0.868, 0.860, 0.851],
    },
    Candidate {
        run: "loan-risk-c",
        name: "C: deep ensemble",
        commit: "c0ffee00112233445566778899aabbccddeeff00",
        params: &[
            ("model", "dnn-ensemble"),
            ("learning_rate", "0.001"),
            ("layers", "6"),
            ("members", "5"),
        ],
        overall: [0.874, 410.0, 0.029, 0.05, 1.45],
        regions: [0.880, 0.873, 0.866],
    },
    Candidate {
        run: "loan-risk-d",
        name: "D: wide features",
        commit: "d00dfeed1234567890abcdef1234567890abcdef",
        params: &[
            ("model", "gbdt"),
            ("learning_rate", "0.05"),
            ("max_depth", "9"),
            ("n_estimators", "600"),
        ],
        overall: [0.866, 176.0, 0.044, 0.14, 1.30],
        regions: [0.889, 0.871, 0.792],
    },
];

pub fn run(ctx: &Context, command: DemoCommand) -> CliResult<()> {
    match command {
        DemoCommand::LoanRisk => loan_risk(ctx),
    }
}

fn at(minutes: i64) -> Timestamp {
    let start = Timestamp::parse_rfc3339("2026-11-20T09:00:00Z").expect("valid");
    Timestamp::from_unix_nanos(start.unix_nanos() + minutes * 60_000_000_000)
}

fn loan_risk(ctx: &Context) -> CliResult<()> {
    let dir = &ctx.global.ledger;
    if !dir.join("ledger.json").exists() {
        Ledger::init(dir, ctx.options())?;
    }
    let files = dir.join("demo-files");
    std::fs::create_dir_all(&files).fail(Failure::Io)?;
    let dataset = write_validation_set(&files)?;
    let mut events = Vec::new();
    for (i, c) in RUNS.iter().enumerate() {
        events.extend(candidate_events(c, i as i64 * 60, &files, &dataset)?);
    }
    let mut ledger = ctx.open()?;
    let results = ledger.append(&events)?;
    let new = results
        .iter()
        .filter(|r| matches!(r, vouch_log::Appended::New(_)))
        .count();
    let views = ledger.views();
    let docs = RUNS
        .iter()
        .map(|c| {
            views
                .run(&RunId::new(c.run).expect("valid"))
                .map(|d| d.expect("just appended"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ctx.global.json {
        output::json(&serde_json::json!({
            "ledger": dir,
            "events": events.len(),
            "appended": new,
            "runs": docs,
        }));
        return Ok(());
    }
    println!(
        "loan-risk demo: {} events published to {} ({new} new)\n",
        events.len(),
        dir.display()
    );
    let mut header = vec!["run".to_owned()];
    header.extend(METRICS.iter().map(|m| m.to_string()));
    header.extend(REGIONS.iter().map(|r| format!("auc[{r}]")));
    let mut t = table(header);
    for doc in &docs {
        let name = doc
            .started
            .as_ref()
            .and_then(|s| s.name.clone())
            .unwrap_or_default();
        let mut row = vec![Cell::new(format!("{} ({name})", doc.run))];
        let value = |v: Option<&vouch_views::LatestMetric>| {
            Cell::new(v.map_or("-".into(), |v| number(v.value))).set_alignment(CellAlignment::Right)
        };
        for m in METRICS {
            row.push(value(doc.metric(&Name::new(m).expect("valid"), None)));
        }
        let auc = Name::new("auc").expect("valid");
        for r in REGIONS {
            row.push(value(
                doc.metric(&auc, Some(&Segment::new(r).expect("valid"))),
            ));
        }
        t.add_row(row);
    }
    print(&t);
    let ledger_flag = format!("--ledger {}", dir.display());
    println!(
        "\nRun C has the best AUC but a p95 latency of 410 ms; Run B is close on AUC and sound on\n\
         latency, calibration, fairness and every region. Look closer:\n\
         \n  vouch {ledger_flag} compare loan-risk-prod loan-risk-b loan-risk-c\
         \n  vouch {ledger_flag} runs list --where 'auc>0.85' --where 'latency_p95_ms<=200'\
         \n  vouch {ledger_flag} runs show loan-risk-b --history loss"
    );
    Ok(())
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
    let run = RunId::new(c.run).expect("valid run id");
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
            name: Some(c.name.into()),
            git: Some(GitInfo {
                commit: c.commit.into(),
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
        .map(|(k, v)| (Name::new(*k).expect("valid"), v.to_string()))
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
            snapshot_at: Some(Timestamp::parse_rfc3339("2026-11-18T00:00:00Z").expect("valid")),
            labels_through: Some(Timestamp::parse_rfc3339("2026-11-15T00:00:00Z").expect("valid")),
            uri: Some(dataset.2.clone()),
        }),
    ));
    let metrics = METRICS
        .iter()
        .zip(c.overall)
        .map(|(m, v)| (Name::new(*m).expect("valid"), v))
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
    for (region, auc) in REGIONS.iter().zip(c.regions) {
        let metrics = BTreeMap::from([(Name::new("auc").expect("valid"), auc)]);
        let segment = Some(Segment::new(*region).expect("valid"));
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
