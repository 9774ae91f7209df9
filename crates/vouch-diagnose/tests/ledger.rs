//! `diagnose` on a real ledger: two promoted versions, a deployment and live observations
//! appended through the ledger. Validation values come from the decision's own evidence
//! (not from evidence logged later), limits and metric directions from its policy, and bad
//! requests are errors, not findings.

use std::collections::BTreeMap;

use vouch_chain::SigningKey;
use vouch_diagnose::{diagnose, CheckId, DiagnoseError, Diagnosis, Options, Severity};
use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Event, EventId, LiveMetricsObserved,
    MetricsLogged, ModelName, Name, Producer, RunId, RunStarted, Segment, Subject, Timestamp,
};
use vouch_ledger::{Ledger, OpenOptions};
use vouch_policy::Policy;
use vouch_replay::record;

const POLICY: &str = r#"
model = "scoring"
version = "v1"

[baseline]
missing = "pass"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "AUC below 0.80 loses money"

[[gate]]
name = "latency-slo"
metric = "latency_p95_ms"
max = 200
reason = "the latency SLO"

[[gate]]
name = "fresh-validation"
dataset = "validation"
max_snapshot_age_days = 20
max_label_lag_days = 10
reason = "fresh validation"
"#;

const DAY: i64 = 86_400_000_000_000;

fn day(n: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_790_000_000_000_000_000 + n * DAY)
}

fn producer() -> Producer {
    Producer::new("diagnose-test").unwrap()
}

fn model() -> ModelName {
    ModelName::new("scoring").unwrap()
}

fn run_event(run: &str, what: &str, at: i64, body: Body) -> Event {
    Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: day(at),
        producer: producer(),
        subject: Subject::Run(RunId::new(run).unwrap()),
        body,
    }
}

fn metrics(values: &[(&str, f64)], segment: Option<&str>) -> Body {
    Body::MetricsLogged(MetricsLogged {
        metrics: values
            .iter()
            .map(|(n, v)| (Name::new(*n).unwrap(), *v))
            .collect::<BTreeMap<_, _>>(),
        step: None,
        segment: segment.map(|s| Segment::new(s).unwrap()),
    })
}

fn artifact(run: &str) -> Digest {
    Digest::of(run.as_bytes())
}

/// A run with AUC overall and on two regions, latency, a validation set and its model file;
/// gated and recorded under the policy on day `at`.
fn release(ledger: &mut Ledger, run: &str, auc: [f64; 3], at: i64) {
    let events = vec![
        run_event(
            run,
            "start",
            at,
            Body::RunStarted(RunStarted {
                experiment: "scoring".into(),
                name: None,
                git: None,
                env: None,
            }),
        ),
        run_event(
            run,
            "validation",
            at,
            Body::DatasetBound(DatasetBound {
                role: DatasetRole::Validation,
                name: "holdout".into(),
                digest: Digest::of(b"holdout"),
                rows: 100,
                snapshot_at: Some(day(at - 2)),
                labels_through: Some(day(at - 5)),
                uri: None,
            }),
        ),
        run_event(
            run,
            "eval",
            at,
            metrics(&[("auc", auc[0]), ("latency_p95_ms", 150.0)], None),
        ),
        run_event(
            run,
            "eval-eu",
            at,
            metrics(&[("auc", auc[1])], Some("region=EU")),
        ),
        run_event(
            run,
            "eval-apac",
            at,
            metrics(&[("auc", auc[2])], Some("region=APAC")),
        ),
        run_event(
            run,
            "model",
            at,
            Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: artifact(run),
                size: 1,
                uri: "s3://models/model.bin".into(),
                sha256: None,
            }),
        ),
    ];
    ledger.append(&events).unwrap();
    let policy = Policy::parse(POLICY).unwrap();
    let key = SigningKey::from_seed([7; 32]);
    trust_key(ledger, &key);
    record(
        ledger,
        &policy,
        POLICY,
        &RunId::new(run).unwrap(),
        &key,
        &producer(),
        day(at),
    )
    .unwrap();
}

fn live(
    run: &str,
    what: &str,
    segment: Option<&str>,
    values: &[(&str, f64)],
    window: (i64, i64),
    labels: i64,
) -> Event {
    Event {
        id: EventId::new(format!("live:{run}:{what}")).unwrap(),
        time: day(labels),
        producer: producer(),
        subject: Subject::Model(model()),
        body: Body::LiveMetricsObserved(LiveMetricsObserved {
            env: "production".into(),
            artifact: artifact(run),
            metrics: values
                .iter()
                .map(|(n, v)| (Name::new(*n).unwrap(), *v))
                .collect(),
            segment: segment.map(|s| Segment::new(s).unwrap()),
            window_start: day(window.0),
            window_end: day(window.1),
            labels_through: day(labels),
            count: Some(500),
        }),
    }
}

fn options(env: &str) -> Options {
    Options {
        env: env.into(),
        tolerance: 0.02,
        now: day(60),
    }
}

/// v1 (`a`) then v2 (`b`) promoted and deployed; both observed live, and in `b`'s second
/// week APAC falls while the overall AUC holds; latency rises past validation.
fn scenario(dir: &std::path::Path) -> Ledger {
    Ledger::init(dir, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(dir, &OpenOptions::default()).unwrap();
    release(&mut ledger, "a", [0.84, 0.85, 0.83], 10);
    release(&mut ledger, "b", [0.86, 0.87, 0.85], 40);
    // Evidence logged after b's decision must not change what it promised.
    ledger
        .append(&[run_event(
            "b",
            "late-eval",
            45,
            metrics(&[("auc", 0.5)], Some("region=APAC")),
        )])
        .unwrap();
    ledger
        .record_deployment(
            &model(),
            "production",
            artifact("b"),
            None,
            &SigningKey::from_seed([7; 32]),
            day(40),
        )
        .unwrap();
    ledger
        .append(&[
            live("a", "w1", None, &[("auc", 0.84)], (30, 37), 37),
            live(
                "a",
                "w1-apac",
                Some("region=APAC"),
                &[("auc", 0.83)],
                (30, 37),
                37,
            ),
            live(
                "b",
                "w2",
                None,
                &[("auc", 0.855), ("latency_p95_ms", 190.0)],
                (44, 51),
                51,
            ),
            live(
                "b",
                "w2-apac",
                Some("region=APAC"),
                &[("auc", 0.79)],
                (44, 51),
                51,
            ),
        ])
        .unwrap();
    ledger
}

fn diagnosis(ledger: &Ledger, env: &str) -> Diagnosis {
    diagnose(ledger, &model(), &options(env)).unwrap()
}

#[test]
fn diagnoses_from_the_decisions_own_evidence_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = scenario(&dir.path().join("ledger"));
    let d = diagnosis(&ledger, "production");
    assert_eq!(d.production.as_ref().unwrap().run.as_str(), "b");
    assert_eq!(d.previous.as_ref().unwrap().version, "v1");
    assert_eq!(d.observations, 4);
    assert_eq!(d.limits.source, "policy v1");
    assert_eq!(d.limits.max_label_lag_days, 10);
    let top = &d.findings[0];
    assert_eq!(
        (top.check, top.severity),
        (CheckId::SegmentRegressed, Severity::Critical)
    );
    assert_eq!(top.segment.as_ref().unwrap().as_str(), "region=APAC");
    // APAC is measured against the 0.85 b's decision read, not the 0.5 logged later.
    let below: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.check == CheckId::SegmentBelowValidation && f.severity == Severity::Critical)
        .collect();
    assert_eq!(below.len(), 2, "{:#?}", d.findings);
    let (latency, apac) = (below[0], below[1]);
    assert_eq!(apac.evidence["validation"]["value"], 0.85);
    // Latency is lower-is-better by the policy's `max`: 190 against 150 is 40 worse, the
    // larger effect, so it ranks first among these.
    assert!(
        latency
            .title
            .starts_with("latency_p95_ms live 190 is 40 above the 150"),
        "{}",
        latency.title
    );
    // The live labels are 9 days behind, within the policy's 10, and cover the window.
    let labels: Vec<_> = d
        .findings
        .iter()
        .filter(|f| f.check == CheckId::LabelLag)
        .map(|f| (f.severity, f.title.clone()))
        .collect();
    assert!(
        labels.iter().all(|(s, _)| *s == Severity::Ok),
        "{labels:#?}"
    );
    assert!(
        d.verdict
            .starts_with("most likely: segment region=APAC regressed (auc 0.79 vs 0.83 on v1)"),
        "{}",
        d.verdict
    );
    assert_eq!(d.summary.critical, 3);
    // The JSON form carries the same findings.
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["findings"][0]["check"], "segment_regressed");
    assert_eq!(json["findings"][0]["severity"], "critical");
    assert_eq!(json["findings"][0]["segment"], "region=APAC");
}

#[test]
fn bad_requests_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = scenario(&dir.path().join("ledger"));
    let unknown = ModelName::new("nope").unwrap();
    let e = diagnose(&ledger, &unknown, &options("production")).unwrap_err();
    assert!(matches!(e, DiagnoseError::NoDecisions(_)), "{e}");
    assert_eq!(
        e.to_string(),
        "model nope has no decisions in this ledger: nothing was released, so there is nothing to diagnose"
    );
    let e = diagnose(&ledger, &model(), &options("staging")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "model scoring has no deployment to `staging` and no live observations there (it is known in: production)"
    );
    for tolerance in [-0.1, f64::NAN, f64::INFINITY] {
        let mut o = options("production");
        o.tolerance = tolerance;
        let e = diagnose(&ledger, &model(), &o).unwrap_err();
        assert!(matches!(e, DiagnoseError::InvalidTolerance(_)), "{e}");
    }
}

#[test]
fn an_environment_known_only_from_live_traffic_is_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = scenario(&dir.path().join("ledger"));
    let mut event = live("b", "canary", None, &[("auc", 0.86)], (50, 51), 51);
    if let Body::LiveMetricsObserved(b) = &mut event.body {
        b.env = "canary".into();
    }
    ledger.append(&[event]).unwrap();
    let d = diagnosis(&ledger, "canary");
    assert_eq!(
        (d.findings[0].check, d.findings[0].severity),
        (CheckId::Artifact, Severity::Critical)
    );
    assert!(d.findings[0]
        .title
        .starts_with("nothing is recorded as deployed to canary"));
}

/// Trusts `key` to sign decisions and deployments in `ledger`.
fn trust_key(ledger: &mut Ledger, key: &SigningKey) {
    let mut trust = ledger.trust().clone();
    let a = trust
        .add(
            &key.public(),
            "test release bot",
            vouch_ledger::Role::Signer,
            None,
        )
        .unwrap();
    let b = trust
        .add(
            &key.public(),
            "test release bot",
            vouch_ledger::Role::Deployer,
            None,
        )
        .unwrap();
    if a || b {
        ledger.set_trust(trust).unwrap();
    }
}
