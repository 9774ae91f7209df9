//! Evidence builders for the tests: the loan-risk demo's numbers and small variations.

use std::collections::BTreeMap;

use vouch_event::{DatasetRole, Digest, Name, RunId, Segment, Timestamp};
use vouch_policy::{DatasetEvidence, Evidence, Policy};

pub fn t(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

/// The time the loan-risk example is evaluated at.
pub fn now() -> Timestamp {
    t("2026-11-21T00:00:00Z")
}

pub fn loan_risk() -> Policy {
    Policy::parse(include_str!("../../policies/loan-risk.toml")).unwrap()
}

pub fn fraud() -> Policy {
    Policy::parse(include_str!("../../policies/fraud.toml")).unwrap()
}

/// Evidence from `(metric, segment, value)` triples, with `model.bin` and a validation
/// dataset snapshotted 2026-11-18, labelled through 2026-11-15.
pub fn evidence(run: &str, metrics: &[(&str, Option<&str>, f64)]) -> Evidence {
    let mut e = Evidence::new(RunId::new(run).unwrap());
    e.metrics = metrics
        .iter()
        .map(|(name, segment, value)| {
            let key = (
                Name::new(*name).unwrap(),
                segment.map(|s| Segment::new(s).unwrap()),
            );
            (key, *value)
        })
        .collect::<BTreeMap<_, _>>();
    e.artifacts = vec![("model.bin".to_owned(), Digest::of(run.as_bytes()))];
    e.datasets = vec![DatasetEvidence {
        role: DatasetRole::Validation,
        name: "loans-2026q3".to_owned(),
        digest: Digest::of(b"loans-2026q3"),
        snapshot_at: Some(t("2026-11-18T00:00:00Z")),
        labels_through: Some(t("2026-11-15T00:00:00Z")),
    }];
    e
}

/// A loan-risk run: overall [auc, latency_p95_ms, ece, demographic_parity_gap,
/// cost_per_1k] and auc per region [EU, US, APAC].
pub fn loan_run(run: &str, overall: [f64; 5], regions: [f64; 3]) -> Evidence {
    let names = [
        "auc",
        "latency_p95_ms",
        "ece",
        "demographic_parity_gap",
        "cost_per_1k",
    ];
    let mut metrics: Vec<(&str, Option<&str>, f64)> = names
        .iter()
        .zip(overall)
        .map(|(n, v)| (*n, None, v))
        .collect();
    for (region, v) in ["region=EU", "region=US", "region=APAC"]
        .iter()
        .zip(regions)
    {
        metrics.push(("auc", Some(region), v));
    }
    evidence(run, &metrics)
}

pub fn production() -> Evidence {
    loan_run(
        "prod",
        [0.842, 150.0, 0.041, 0.07, 1.10],
        [0.851, 0.840, 0.829],
    )
}

pub fn run_a() -> Evidence {
    loan_run(
        "run-a",
        [0.828, 95.0, 0.038, 0.06, 0.80],
        [0.836, 0.825, 0.815],
    )
}

pub fn run_b() -> Evidence {
    loan_run(
        "run-b",
        [0.861, 182.0, 0.032, 0.06, 1.25],
        [0.868, 0.860, 0.851],
    )
}

pub fn run_c() -> Evidence {
    loan_run(
        "run-c",
        [0.874, 410.0, 0.029, 0.05, 1.45],
        [0.880, 0.873, 0.866],
    )
}

pub fn run_d() -> Evidence {
    loan_run(
        "run-d",
        [0.866, 176.0, 0.044, 0.14, 1.30],
        [0.889, 0.871, 0.792],
    )
}

/// Removes one metric from `e`.
pub fn without(mut e: Evidence, metric: &str, segment: Option<&str>) -> Evidence {
    let key = (
        Name::new(metric).unwrap(),
        segment.map(|s| Segment::new(s).unwrap()),
    );
    assert!(
        e.metrics.remove(&key).is_some(),
        "{metric} {segment:?} was there"
    );
    e
}
