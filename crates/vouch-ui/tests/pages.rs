//! The run and compare pages rendered over a real ledger: the loan-risk story's runs,
//! gated by the demo's policy with signed decisions (production approved by a reviewer,
//! B promoted, C rejected on latency), and one run with a 100,000-point history.

use std::collections::BTreeMap;

use vouch_app::as_of::At;
use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Environment, Event, EventId, GitInfo,
    MetricsLogged, ModelName, Name, ParamsLogged, Producer, ReviewVerdict, RunFinished, RunId,
    RunStarted, RunStatus, Segment, Subject, Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions, Role};
use vouch_ui::pages::compare::{self, CompareRequest};
use vouch_ui::pages::run::{self, RunRequest};

const POLICY: &str = include_str!("../../vouch-policy/policies/loan-risk.toml");
const DAY: i64 = 86_400_000_000_000;
const METRICS: [&str; 5] = [
    "auc",
    "latency_p95_ms",
    "ece",
    "demographic_parity_gap",
    "cost_per_1k",
];
/// Run, name, commit, overall metrics (in `METRICS` order), AUC by region (EU, US, APAC).
type Candidate = (&'static str, &'static str, &'static str, [f64; 5], [f64; 3]);
const RUNS: [Candidate; 3] = [
    (
        "loan-risk-prod",
        "production v1",
        "4f1c2a9e7b3d5f60718293a4b5c6d7e8f9012345",
        [0.842, 150.0, 0.041, 0.07, 1.10],
        [0.851, 0.840, 0.829],
    ),
    (
        "loan-risk-b",
        "B: tuned gbdt",
        "b1c2d3e4f5061728394a5b6c7d8e9f0011223344",
        [0.861, 182.0, 0.032, 0.06, 1.25],
        [0.868, 0.860, 0.851],
    ),
    (
        "loan-risk-c",
        "C: deep ensemble",
        "c0ffee00112233445566778899aabbccddeeff00",
        [0.874, 410.0, 0.029, 0.05, 1.45],
        [0.880, 0.873, 0.866],
    ),
];
const LONG: &str = "long-run";
const LONG_POINTS: u64 = 100_000;

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").unwrap()
}

fn days_ago(days: i64) -> Timestamp {
    Timestamp::from_unix_nanos(now().unix_nanos() - days * DAY)
}

fn event(run: &str, what: &str, minutes: i64, body: Body) -> Event {
    Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: Timestamp::from_unix_nanos(days_ago(5).unix_nanos() + minutes * 60_000_000_000),
        producer: Producer::new("ui-test/trainer").unwrap(),
        subject: Subject::Run(RunId::new(run).unwrap()),
        body,
    }
}

fn model_bytes(run: &str) -> Vec<u8> {
    format!("the model of {run}").into_bytes()
}

fn candidate_events((run, name, commit, overall, regions): &Candidate) -> Vec<Event> {
    let metrics = |pairs: &[(&str, f64)]| -> BTreeMap<Name, f64> {
        pairs
            .iter()
            .map(|(k, v)| (Name::new(*k).unwrap(), *v))
            .collect()
    };
    let mut events = vec![
        event(
            run,
            "start",
            0,
            Body::RunStarted(RunStarted {
                experiment: "loan-risk".into(),
                name: Some((*name).into()),
                git: Some(GitInfo {
                    commit: (*commit).into(),
                    dirty: false,
                }),
                env: Some(Environment {
                    os: "linux".into(),
                    cpu: "x86_64".into(),
                    host: "trainer-1".into(),
                    tools: BTreeMap::from([("python".into(), "3.12".into())]),
                }),
            }),
        ),
        event(
            run,
            "params",
            1,
            Body::ParamsLogged(ParamsLogged {
                params: BTreeMap::from([
                    (Name::new("model").unwrap(), "gbdt".into()),
                    (Name::new("max_depth").unwrap(), run.len().to_string()),
                ]),
            }),
        ),
    ];
    // A short training curve, then the evaluation.
    for step in 0..5u64 {
        events.push(event(
            run,
            &format!("train-{step}"),
            2 + step as i64,
            Body::MetricsLogged(MetricsLogged {
                metrics: metrics(&[("train_loss", 1.0 / (step as f64 + 1.0))]),
                step: Some(step),
                segment: None,
            }),
        ));
    }
    let overall: Vec<(&str, f64)> = METRICS
        .iter()
        .copied()
        .zip(overall.iter().copied())
        .collect();
    events.push(event(
        run,
        "eval",
        10,
        Body::MetricsLogged(MetricsLogged {
            metrics: metrics(&overall),
            step: None,
            segment: None,
        }),
    ));
    for (region, auc) in ["region=EU", "region=US", "region=APAC"]
        .iter()
        .zip(regions)
    {
        events.push(event(
            run,
            &format!("eval-{region}"),
            11,
            Body::MetricsLogged(MetricsLogged {
                metrics: metrics(&[("auc", *auc)]),
                step: None,
                segment: Some(Segment::new(*region).unwrap()),
            }),
        ));
    }
    let bytes = model_bytes(run);
    events.push(event(
        run,
        "model",
        12,
        Body::ArtifactLogged(ArtifactLogged {
            name: "model.bin".into(),
            digest: Digest::of(&bytes),
            size: bytes.len() as u64,
            uri: format!("s3://models/{run}/model.bin"),
            sha256: None,
        }),
    ));
    events.push(event(
        run,
        "validation",
        13,
        Body::DatasetBound(DatasetBound {
            role: DatasetRole::Validation,
            name: "loans-2026q4-validation.parquet".into(),
            digest: Digest::of(b"validation set"),
            rows: 48_000,
            snapshot_at: Some(days_ago(10)),
            labels_through: Some(days_ago(7)),
            uri: Some("s3://data/validation.parquet".into()),
        }),
    ));
    events.push(event(
        run,
        "finish",
        20,
        Body::RunFinished(RunFinished {
            status: RunStatus::Ok,
        }),
    ));
    events
}

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: Ledger,
}

fn fixture() -> &'static std::sync::Mutex<Fixture> {
    static FIXTURE: std::sync::OnceLock<std::sync::Mutex<Fixture>> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| std::sync::Mutex::new(build()))
}

fn build() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    Ledger::init(&path, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
    for c in &RUNS {
        ledger.append(&candidate_events(c)).unwrap();
    }
    // B's model bytes are in the content store (uploaded through the artifact proxy).
    let b = model_bytes("loan-risk-b");
    let blob = vouch_mlflow::artifacts::BlobStore::new(&path).path(&Digest::of(&b));
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    std::fs::write(&blob, &b).unwrap();

    // The long run: 100,000 steps of one metric (the ledger holds finite values only:
    // non-finite ones are covered by the page's unit tests).
    let mut batch = vec![event(
        LONG,
        "start",
        0,
        Body::RunStarted(RunStarted {
            experiment: "long".into(),
            name: None,
            git: None,
            env: None,
        }),
    )];
    for step in 0..LONG_POINTS {
        let value = 1.0 / (1.0 + step as f64 / 1000.0) + ((step % 97) as f64) * 1e-4;
        batch.push(event(
            LONG,
            &format!("m{step}"),
            1,
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(Name::new("loss").unwrap(), value)]),
                step: Some(step),
                segment: None,
            }),
        ));
        if batch.len() == 10_000 {
            ledger.append_unprojected(&batch).unwrap();
            batch.clear();
        }
    }
    ledger.append_unprojected(&batch).unwrap();
    ledger.flush().unwrap();
    ledger.catch_up(&mut |_, _| {}).unwrap();

    // The release: production approved after review, then B and C against it.
    let signer = SigningKey::from_seed([7; 32]);
    let reviewer = SigningKey::from_seed([8; 32]);
    let mut trust = ledger.trust().clone();
    trust
        .add(&signer.public(), "release bot", Role::Signer, None)
        .unwrap();
    trust
        .add(&reviewer.public(), "risk reviewer", Role::Reviewer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    let model = ModelName::new("loan-risk").unwrap();
    let producer = Producer::new("ui-test/release").unwrap();
    let promote = |ledger: &mut Ledger, run: &str| {
        vouch_app::promote::promote(
            ledger,
            &model,
            &RunId::new(run).unwrap(),
            POLICY.to_owned(),
            &signer,
            &producer,
            now(),
        )
        .unwrap()
    };
    let prod = promote(&mut ledger, "loan-risk-prod");
    let hash = prod.recorded.hash.hex();
    ledger
        .record_review(
            &hash,
            ReviewVerdict::Approve,
            "first release reviewed",
            &reviewer,
            now(),
        )
        .unwrap();
    ledger.enact_review(&hash, &signer, now()).unwrap();
    let b = promote(&mut ledger, "loan-risk-b");
    assert_eq!(b.outcome.as_str(), "promoted");
    let c = promote(&mut ledger, "loan-risk-c");
    assert_eq!(c.outcome.as_str(), "rejected");
    Fixture { _dir: dir, ledger }
}

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn run_page(run: &str, query: &[(&str, &str)]) -> vouch_ui::Result<vouch_ui::Html> {
    let f = fixture().lock().unwrap();
    run::render(
        &At::new(&f.ledger, None),
        &RunRequest::from_query(run, &pairs(query)),
        now(),
    )
}

fn compare_page(query: &[(&str, &str)]) -> vouch_ui::Html {
    let f = fixture().lock().unwrap();
    compare::render(
        &At::new(&f.ledger, None),
        &CompareRequest::from_query(&pairs(query)),
    )
    .unwrap()
}

/// The text of the element that starts with `open` (up to its matching `close`).
fn section<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in the page"));
    let end = html[start..].find(close).map_or(html.len(), |e| start + e);
    &html[start..end]
}

#[test]
fn the_run_page_shows_b_with_its_artifacts_datasets_and_charts() {
    let html = run_page("loan-risk-b", &[]).unwrap();
    assert_eq!(html.status, 200);
    let body = &html.body;
    for fact in [
        "B: tuned gbdt",
        "loan-risk",
        "b1c2d3e4f5061728394a5b6c7d8e9f0011223344",
        "ui-test/trainer",
        "trainer-1",
    ] {
        assert!(body.contains(fact), "missing {fact}");
    }
    let params = section(body, r#"id="params""#, "</table>");
    assert!(params.contains("max_depth"));
    let metrics = section(body, r#"id="metrics""#, "</table>");
    assert!(metrics.contains("latency_p95_ms") && metrics.contains(">182<"));
    let segments = section(body, r#"id="segments""#, "</table>");
    assert!(segments.contains("region=APAC") && segments.contains("0.851"));
    // One bar chart per segmented metric, one line chart per metric with a history.
    assert!(body.contains(r#"id="segments-auc""#));
    assert!(body.contains(r#"data-metric="train_loss" data-points="5""#));
    // The artifact, with its full digest; B's bytes are stored, so it downloads.
    let digest = Digest::of(&model_bytes("loan-risk-b")).to_string();
    let artifacts = section(body, r#"id="artifacts""#, "</table>");
    assert!(artifacts.contains("model.bin") && artifacts.contains(&digest));
    assert!(artifacts.contains(&format!(r#"href="/artifacts/{digest}""#)));
    assert!(artifacts.contains(&format!(r#"href="/audit/{digest}""#)));
    // Datasets with their ages measured to the clock.
    let datasets = section(body, r#"id="datasets""#, "</table>");
    assert!(datasets.contains("validation") && datasets.contains("48000"));
    assert!(datasets.contains("(10 days ago)") && datasets.contains("(7 days ago)"));
    assert!(body.contains(r#"href="/compare?run=loan-risk-b""#));
}

#[test]
fn only_stored_artifacts_get_a_download_link() {
    let body = run_page("loan-risk-c", &[]).unwrap().body;
    let artifacts = section(&body, r#"id="artifacts""#, "</table>");
    assert!(artifacts.contains("model.bin"));
    assert!(!artifacts.contains("/artifacts/"), "{artifacts}");
    assert!(artifacts.contains("/audit/"));
}

#[test]
fn an_unknown_run_is_404_and_a_bad_history_400() {
    let e = run_page("no-such-run", &[]).unwrap_err();
    assert_eq!(e.failure().http_status(), 404);
    let e = run_page("not a run id!", &[]).unwrap_err();
    assert_eq!(e.failure().http_status(), 404);
    let e = run_page("loan-risk-b", &[("history", "nope")]).unwrap_err();
    assert_eq!(e.failure().http_status(), 400);
    let one = run_page("loan-risk-b", &[("history", "train_loss")])
        .unwrap()
        .body;
    assert_eq!(one.matches("<polyline").count(), 1);
}

#[test]
fn a_100k_point_history_renders_downsampled() {
    let start = std::time::Instant::now();
    let body = run_page(LONG, &[]).unwrap().body;
    let elapsed = start.elapsed();
    let chart = section(
        &body,
        r#"<figure class="history" data-metric="loss""#,
        "</figure>",
    );
    assert!(
        chart.contains(r#"data-points="100000""#),
        "{}",
        &chart[..300.min(chart.len())]
    );
    let polyline = section(chart, "<polyline", "</polyline>");
    let points = section(polyline, r#"points=""#, r#"">"#);
    let n = points.split_whitespace().count();
    assert!(n > 100 && n < 2_000, "{n} points drawn");
    assert!(!polyline.contains("NaN") && !polyline.contains("inf"));
    eprintln!("run page with 100,000 points: {elapsed:?} (debug build), {n} points drawn");
}

#[test]
fn compare_shows_c_best_on_auc_yet_failing_latency() {
    let html = compare_page(&[
        ("run", "loan-risk-prod"),
        ("run", "loan-risk-b"),
        ("run", "loan-risk-c"),
    ]);
    assert_eq!(html.status, 200);
    let body = &html.body;
    let table = section(body, r#"id="compare""#, "</table>");
    // The best AUC is C's; the best latency A's … here production's (150 ms).
    let auc = section(table, r#"<tr data-metric="auc">"#, "</tr>");
    assert!(
        auc.contains(r#"<td class="num best" data-run="loan-risk-c">0.874</td>"#),
        "{auc}"
    );
    let latency = section(table, r#"<tr data-metric="latency_p95_ms">"#, "</tr>");
    assert!(
        latency.contains(r#"class="num best" data-run="loan-risk-prod""#),
        "{latency}"
    );
    assert!(latency.contains("lower is better"));
    // C's latency failed its gate: red in the metrics and in the verdicts.
    assert!(
        latency.contains(r#"class="num bad" data-run="loan-risk-c" data-verdict="fail""#),
        "{latency}"
    );
    let verdicts = section(body, r#"id="verdicts""#, "</table>");
    let slo = section(verdicts, r#"<tr data-gate="latency-slo">"#, "</tr>");
    assert!(
        slo.contains(r#"data-run="loan-risk-c" data-verdict="fail""#),
        "{slo}"
    );
    assert!(
        slo.contains(r#"data-run="loan-risk-b" data-verdict="pass""#),
        "{slo}"
    );
    assert!(verdicts.contains(r#"data-run="loan-risk-c" data-outcome="rejected""#));
    assert!(verdicts.contains(r#"data-run="loan-risk-b" data-outcome="promoted""#));
    assert!(verdicts.contains("failed: latency-slo"));
    // Segment rows are compared too, and the histories overlaid with a legend.
    assert!(table.contains(r#"data-metric="auc[region=APAC]""#));
    assert!(body.contains(r#"id="legend""#) && body.contains(r#"data-metric="train_loss""#));
    // Every direction here comes from the policy, except train_loss's (its name).
    let note = section(body, r#"id="direction-note""#, "</p>");
    assert!(
        note.contains("train_loss") && !note.contains(">auc<"),
        "{note}"
    );
}

#[test]
fn compare_with_fewer_than_two_runs_offers_a_form() {
    let html = compare_page(&[("run", "loan-risk-b")]);
    assert_eq!(html.status, 200);
    let form = section(&html.body, r#"id="pick""#, "</form>");
    assert!(html
        .body
        .contains(r#"<form method="get" action="/compare" id="pick">"#));
    let c = section(form, r#"<tr data-run="loan-risk-c">"#, "</tr>");
    assert!(c.contains(r#"name="run" value="loan-risk-c""#) && !c.contains("checked"));
    let b = section(form, r#"<tr data-run="loan-risk-b">"#, "</tr>");
    assert!(b.contains("checked"), "{b}");
}

#[test]
fn compare_with_an_unknown_run_is_404() {
    let f = fixture().lock().unwrap();
    let e = compare::render(
        &At::new(&f.ledger, None),
        &CompareRequest::from_query(&pairs(&[("run", "loan-risk-b"), ("run", "nope")])),
    )
    .unwrap_err();
    assert_eq!(e.failure().http_status(), 404);
}

#[test]
fn one_scan_of_the_histories_reads_what_one_scan_per_series_reads() {
    let f = fixture().lock().unwrap();
    let views = f.ledger.views();
    let run = RunId::new("loan-risk-b").unwrap();
    let doc = views.run(&run).unwrap().unwrap();
    let mut keys: std::collections::BTreeSet<_> = doc.metrics.keys().cloned().collect();
    let never = vouch_app::runs::parse_metric_key("never_logged").unwrap();
    keys.insert(never.clone());
    let all = views.histories(&run, &keys).unwrap();
    assert_eq!(all.len(), keys.len());
    for key in doc.metrics.keys() {
        assert_eq!(all[key], views.history(&run, key).unwrap(), "{key:?}");
    }
    assert!(all[&never].is_empty());
    assert_eq!(all.values().map(Vec::len).sum::<usize>(), 5 + 5 + 3);
}
