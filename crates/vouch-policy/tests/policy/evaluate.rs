//! Evaluation details, one small policy per case: comparisons at their limits, missing
//! evidence, percentages, segments, artifacts, datasets, review rules, outcomes.

use vouch_event::{DatasetRole, DecisionOutcome, Digest, GateRecord, GateVerdict, Timestamp};
use vouch_policy::{evaluate, DatasetEvidence, Evaluation, Evidence, Outcome, Policy};

use crate::examples::render;
use crate::support::*;

type Metrics<'a> = &'a [(&'a str, Option<&'a str>, f64)];

/// Evaluates `tables` (gates and review rules after a fixed header) for a candidate with
/// `cand` metrics against a baseline with `base` metrics (`None`: first release).
fn run(tables: &str, cand: Metrics, base: Option<Metrics>) -> Evaluation {
    run_at(tables, cand, base, now())
}

fn run_at(tables: &str, cand: Metrics, base: Option<Metrics>, at: Timestamp) -> Evaluation {
    let policy = Policy::parse(&format!("model = \"m\"\nversion = \"1\"\n{tables}"))
        .unwrap_or_else(|e| panic!("{e}\n{tables}"));
    let candidate = evidence("cand", cand);
    let baseline = base.map(|b| evidence("base", b));
    evaluate(&policy, &candidate, baseline.as_ref(), at)
}

#[track_caller]
fn check(tables: &str, cand: Metrics, base: Option<Metrics>, expect: &str) {
    assert_eq!(render(&run(tables, cand, base)), expect.trim());
}

fn gate(body: &str) -> String {
    format!("[[gate]]\nname = \"g\"\nreason = \"why\"\n{body}\n")
}

const AUC: Metrics = &[("auc", None, 0.837)];
const BASE_AUC: Metrics = &[("auc", None, 0.842)];

#[test]
fn absolute_bounds() {
    let g = gate("metric = \"auc\"\nmin = 0.8\nmax = 0.9");
    check(
        &g,
        AUC,
        None,
        "pass g auc: 0.837 >= 0.8; 0.837 <= 0.9\n=> promoted",
    );
    check(
        &g,
        &[("auc", None, 0.8)],
        None,
        "pass g auc: 0.8 >= 0.8; 0.8 <= 0.9\n=> promoted",
    );
    check(
        &g,
        &[("auc", None, 0.95)],
        None,
        "fail g auc: auc 0.95 > 0.9: why\n=> rejected",
    );
    check(
        &g,
        &[("auc", None, f64::NAN)],
        None,
        "fail g auc: auc is not a number: why\n=> rejected",
    );
    check(
        &g,
        &[("ece", None, 0.1)],
        None,
        "fail g auc: candidate has no metric auc: why\n=> rejected",
    );
    // The overall gate does not read a segment, and a segment gate not the overall value.
    check(
        &g,
        &[("auc", Some("region=EU"), 0.85)],
        None,
        "fail g auc: candidate has no metric auc: why\n=> rejected",
    );
    let g = gate("metric = \"auc\"\nsegment = \"region=EU\"\nmin = 0.8");
    check(
        &g,
        &[("auc", Some("region=EU"), 0.79), ("auc", None, 0.9)],
        None,
        "fail g auc[region=EU]: auc[region=EU] 0.79 < 0.8: why\n=> rejected",
    );
    let e = run(
        &g,
        &[("auc", Some("region=EU"), 0.85)],
        Some(&[("auc", Some("region=EU"), 0.83)]),
    );
    assert_eq!(
        (e.gates[0].candidate, e.gates[0].baseline),
        (Some(0.85), Some(0.83))
    );
    assert_eq!(e.gates[0].threshold, ">= 0.8");
}

#[test]
fn baseline_tolerances() {
    let drop = gate("metric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0.005");
    // 0.842 - 0.837 is 0.005000000000000004 in binary: a drop of exactly the limit passes.
    check(
        &drop,
        AUC,
        Some(BASE_AUC),
        "pass g auc: drop 0.005 <= 0.005 (0.837 vs baseline 0.842)\n=> promoted",
    );
    check(
        &drop,
        &[("auc", None, 0.8369)],
        Some(BASE_AUC),
        "fail g auc: auc 0.8369 vs baseline 0.842: drop 0.0051 > 0.005: why\n=> rejected",
    );
    check(
        &drop,
        &[("auc", None, 0.9)],
        Some(BASE_AUC),
        "pass g auc: no drop (0.9 vs baseline 0.842)\n=> promoted",
    );
    check(
        &drop,
        &[],
        Some(BASE_AUC),
        "fail g auc: candidate has no metric auc: why\n=> rejected",
    );
    check(
        &drop,
        &[],
        None,
        "fail g auc: candidate has no metric auc: why\n=> rejected",
    );
    // A baseline that never reported the metric is treated like no baseline.
    check(
        &drop,
        AUC,
        Some(&[("ece", None, 0.1)]),
        "review g auc: baseline has no metric auc; baseline.missing = review\n=> needs_review",
    );

    let pct = gate("metric = \"auc\"\ncompare = \"baseline\"\nmax_drop_pct = 1");
    check(
        &pct,
        &[("auc", None, 0.83)],
        Some(BASE_AUC),
        "fail g auc: auc 0.83 vs baseline 0.842: drop 1.4252% > 1%: why\n=> rejected",
    );
    check(
        &pct,
        &[("auc", None, 0.8336)],
        Some(BASE_AUC),
        "pass g auc: drop 0.9976% <= 1% (0.8336 vs baseline 0.842)\n=> promoted",
    );
    check(
        &pct,
        &[("auc", None, 0.99)],
        Some(&[("auc", None, 1.0)]),
        "pass g auc: drop 1% <= 1% (0.99 vs baseline 1)\n=> promoted",
    );

    let rise = gate("metric = \"p95\"\ncompare = \"baseline\"\nmax_rise = 10");
    check(
        &rise,
        &[("p95", None, 160.0)],
        Some(&[("p95", None, 150.0)]),
        "pass g p95: rise 10 <= 10 (160 vs baseline 150)\n=> promoted",
    );
    check(
        &rise,
        &[("p95", None, 160.5)],
        Some(&[("p95", None, 150.0)]),
        "fail g p95: p95 160.5 vs baseline 150: rise 10.5 > 10: why\n=> rejected",
    );
    check(
        &rise,
        &[("p95", None, 120.0)],
        Some(&[("p95", None, 150.0)]),
        "pass g p95: no rise (120 vs baseline 150)\n=> promoted",
    );

    let rise_pct = gate("metric = \"cost\"\ncompare = \"baseline\"\nmax_rise_pct = 5");
    check(
        &rise_pct,
        &[("cost", None, 1.05)],
        Some(&[("cost", None, 1.0)]),
        "pass g cost: rise 5% <= 5% (1.05 vs baseline 1)\n=> promoted",
    );
    check(
        &rise_pct,
        &[("cost", None, 1.2)],
        Some(&[("cost", None, 1.0)]),
        "fail g cost: cost 1.2 vs baseline 1: rise 20% > 5%: why\n=> rejected",
    );
    // Any rise from zero is an infinite percentage.
    check(
        &rise_pct,
        &[("cost", None, 0.01)],
        Some(&[("cost", None, 0.0)]),
        "fail g cost: cost 0.01 vs baseline 0: rise inf% > 5%: why\n=> rejected",
    );
    check(
        &rise_pct,
        &[("cost", None, 0.0)],
        Some(&[("cost", None, 0.0)]),
        "pass g cost: no rise (0 vs baseline 0)\n=> promoted",
    );
}

#[test]
fn segment_gates() {
    let all = gate(
        "metric = \"auc\"\nsegments = \"all\"\ncompare = \"baseline\"\nmax_drop = 0.02\nmin = 0.8",
    );
    let base: Metrics = &[
        ("auc", Some("region=EU"), 0.85),
        ("auc", Some("region=US"), 0.84),
    ];
    // "all" is the union of both sides, sorted; a new segment has no baseline value.
    check(
        &all,
        &[("auc", Some("region=US"), 0.79), ("auc", Some("region=EU"), 0.85), ("auc", Some("region=LATAM"), 0.9)],
        Some(base),
        "
pass g auc[region=EU]: 0.85 >= 0.8; no drop (0.85 vs baseline 0.85)
review g auc[region=LATAM]: baseline has no metric auc[region=LATAM]; baseline.missing = review
fail g auc[region=US]: auc[region=US] 0.79 < 0.8; auc[region=US] 0.79 vs baseline 0.84: drop 0.05 > 0.02: why
=> rejected",
    );
    // Both checks failing are both named.
    check(
        &all,
        &[("auc", Some("region=EU"), 0.75), ("auc", Some("region=US"), 0.84)],
        Some(base),
        "
fail g auc[region=EU]: auc[region=EU] 0.75 < 0.8; auc[region=EU] 0.75 vs baseline 0.85: drop 0.1 > 0.02: why
pass g auc[region=US]: 0.84 >= 0.8; no drop (0.84 vs baseline 0.84)
=> rejected",
    );
    // Nothing reported at all: the gate fails rather than passing vacuously.
    check(
        &all,
        AUC,
        Some(BASE_AUC),
        "fail g auc: neither candidate nor baseline reports a segment of auc: why\n=> rejected",
    );
    let e = run(&all, AUC, None);
    assert_eq!(e.gates[0].threshold, ">= 0.8, drop <= 0.02 vs baseline");

    // Bounds alone need no baseline.
    let floor = gate("metric = \"auc\"\nsegments = \"all\"\nmin = 0.8");
    check(
        &floor,
        &[("auc", Some("region=EU"), 0.81)],
        None,
        "pass g auc[region=EU]: 0.81 >= 0.8\n=> promoted",
    );

    // A listed segment nobody reported fails; unlisted ones are not read.
    let listed = gate("metric = \"auc\"\nsegments = [\"region=US\", \"region=APAC\"]\nmax = 1");
    check(
        &listed,
        &[
            ("auc", Some("region=US"), 0.9),
            ("auc", Some("region=EU"), 2.0),
        ],
        None,
        "
fail g auc[region=APAC]: candidate has no metric auc[region=APAC]: why
pass g auc[region=US]: 0.9 <= 1
=> rejected",
    );
}

#[test]
fn artifact_gates() {
    let g = gate("require_artifacts = [\"model.bin\", \"card.md\"]");
    let e = run(&g, &[], None);
    assert_eq!(
        render(&e),
        format!(
            "pass g -: model.bin {}\nfail g -: candidate has no artifact card.md: why\n=> rejected",
            Digest::of(b"cand")
        )
    );
    let thresholds: Vec<&str> = e.gates.iter().map(|g| g.threshold.as_str()).collect();
    assert_eq!(thresholds, ["artifact model.bin", "artifact card.md"]);
    assert!(e
        .gates
        .iter()
        .all(|g| g.metric.is_none() && g.candidate.is_none()));
}

fn dataset(name: &str, snapshot: Option<&str>, labels: Option<&str>) -> DatasetEvidence {
    DatasetEvidence {
        role: DatasetRole::Validation,
        name: name.to_owned(),
        digest: Digest::of(name.as_bytes()),
        snapshot_at: snapshot.map(t),
        labels_through: labels.map(t),
    }
}

#[track_caller]
fn check_datasets(body: &str, datasets: Vec<DatasetEvidence>, at: &str, expect: &str) {
    check_datasets_at(body, datasets, t(at), expect);
}

#[track_caller]
fn check_datasets_at(body: &str, datasets: Vec<DatasetEvidence>, at: Timestamp, expect: &str) {
    let policy = Policy::parse(&format!("model = \"m\"\nversion = \"1\"\n{}", gate(body))).unwrap();
    let mut candidate = Evidence::new(vouch_event::RunId::new("cand").unwrap());
    candidate.datasets = datasets;
    assert_eq!(
        render(&evaluate(&policy, &candidate, None, at)),
        expect.trim()
    );
}

#[test]
fn dataset_gates() {
    let fresh = "dataset = \"validation\"\nmax_snapshot_age_days = 30\nmax_label_lag_days = 14";
    let v = || {
        dataset(
            "v1",
            Some("2026-10-01T00:00:00Z"),
            Some("2026-10-17T00:00:00Z"),
        )
    };
    // Exactly at the limits passes; a second later fails, and the age shown is over it.
    check_datasets(fresh, vec![v()], "2026-10-31T00:00:00Z", "pass g -: validation snapshot is 30 days old <= 30; validation labels lag 14 days <= 14\n=> promoted");
    check_datasets(fresh, vec![v()], "2026-10-31T00:00:01Z", "fail g -: validation snapshot is 30.01 days old (limit 30); validation labels lag 14.01 days (limit 14): why\n=> rejected");
    check_datasets(fresh, vec![v()], "2026-10-31T12:00:00Z", "fail g -: validation snapshot is 30.5 days old (limit 30); validation labels lag 14.5 days (limit 14): why\n=> rejected");
    // Data dated after `now` beyond the clock skew fails, naming the time (a regression:
    // it passed as "-1.5 days old"); the label time is checked on its own.
    check_datasets(fresh, vec![v()], "2026-09-29T12:00:00Z", "fail g -: validation snapshot 2026-10-01T00:00:00Z is dated after the evaluation time 2026-09-29T12:00:00Z: data from the future is refused; validation labels_through 2026-10-17T00:00:00Z is dated after the evaluation time 2026-09-29T12:00:00Z: data from the future is refused: why\n=> rejected");
    check_datasets(fresh, vec![v()], "2026-10-16T12:00:00Z", "fail g -: validation labels_through 2026-10-17T00:00:00Z is dated after the evaluation time 2026-10-16T12:00:00Z: data from the future is refused: why\n=> rejected");
    let far = dataset(
        "v1",
        Some("2199-01-01T00:00:00Z"),
        Some("2026-10-17T00:00:00Z"),
    );
    check_datasets(fresh, vec![far], "2026-10-31T00:00:00Z", "fail g -: validation snapshot 2199-01-01T00:00:00Z is dated after the evaluation time 2026-10-31T00:00:00Z: data from the future is refused: why\n=> rejected");
    // Within the allowed clock skew (5 minutes) it is a clock difference: age 0. A
    // nanosecond beyond it is the future.
    let ahead = dataset(
        "v1",
        Some("2026-10-31T00:05:00Z"),
        Some("2026-10-31T00:04:59.999Z"),
    );
    check_datasets(fresh, vec![ahead], "2026-10-31T00:00:00Z", "pass g -: validation snapshot is 0 days old <= 30; validation labels lag 0 days <= 14\n=> promoted");
    let beyond = dataset(
        "v1",
        Some("2026-10-31T00:05:00.000000001Z"),
        Some("2026-10-31T00:00:00Z"),
    );
    check_datasets(fresh, vec![beyond], "2026-10-31T00:00:00Z", "fail g -: validation snapshot 2026-10-31T00:05:00.000000001Z is dated after the evaluation time 2026-10-31T00:00:00Z: data from the future is refused: why\n=> rejected");
    // Missing evidence fails.
    check_datasets(
        fresh,
        vec![],
        "2026-10-31T00:00:00Z",
        "fail g -: no validation dataset bound: why\n=> rejected",
    );
    check_datasets(fresh, vec![dataset("v1", None, None)], "2026-10-31T00:00:00Z", "fail g -: validation dataset has no snapshot_at; validation dataset has no labels_through: why\n=> rejected");
    let mut train = v();
    train.role = DatasetRole::Train;
    check_datasets(
        fresh,
        vec![train],
        "2026-10-31T00:00:00Z",
        "fail g -: no validation dataset bound: why\n=> rejected",
    );
    // Several datasets with the role: each must hold, each is named.
    check_datasets(
        "dataset = \"validation\"\nmax_snapshot_age_days = 30",
        vec![dataset("v2", Some("2026-08-01T00:00:00Z"), None), v()],
        "2026-10-31T00:00:00Z",
        "fail g -: validation dataset v2 snapshot is 91 days old (limit 30): why\n=> rejected",
    );
    // No limits: the gate checks that a dataset is bound.
    check_datasets(
        "dataset = \"validation\"",
        vec![v()],
        "2026-10-31T00:00:00Z",
        &format!(
            "pass g -: validation dataset v1 {}\n=> promoted",
            Digest::of(b"v1")
        ),
    );
}

/// Ages between the extreme timestamps are computed without overflow: the oldest data
/// against the latest time is stale, the latest against the oldest is the future.
#[test]
fn dataset_ages_at_the_extremes_do_not_overflow() {
    let (min, max) = (
        Timestamp::from_unix_nanos(i64::MIN),
        Timestamp::from_unix_nanos(i64::MAX),
    );
    let at = |time: Timestamp| DatasetEvidence {
        snapshot_at: Some(time),
        labels_through: Some(time),
        ..dataset("v1", None, None)
    };
    let limits = |days: u32| {
        format!(
            "dataset = \"validation\"\nmax_snapshot_age_days = {days}\nmax_label_lag_days = {days}"
        )
    };
    // The whole range is 213,503.99 days (2^64 ns): over a limit just below, under the largest.
    check_datasets_at(&limits(213_503), vec![at(min)], max, "fail g -: validation snapshot is 213503.99 days old (limit 213503); validation labels lag 213503.99 days (limit 213503): why\n=> rejected");
    check_datasets_at(&limits(u32::MAX), vec![at(min)], max, "pass g -: validation snapshot is 213503.99 days old <= 4294967295; validation labels lag 213503.99 days <= 4294967295\n=> promoted");
    check_datasets_at(&limits(u32::MAX), vec![at(max)], min, &format!("fail g -: validation snapshot {max} is dated after the evaluation time {min}: data from the future is refused; validation labels_through {max} is dated after the evaluation time {min}: data from the future is refused: why\n=> rejected"));
    check_datasets_at(&limits(0), vec![at(max)], max, "pass g -: validation snapshot is 0 days old <= 0; validation labels lag 0 days <= 0\n=> promoted");
    check_datasets_at(&limits(0), vec![at(min)], min, "pass g -: validation snapshot is 0 days old <= 0; validation labels lag 0 days <= 0\n=> promoted");
}

#[test]
fn review_rules() {
    let first = "[[review]]\nname = \"first\"\nwhen = \"first_release\"\nreason = \"a human signs off v1\"\n";
    check(first, AUC, None, "review first triggered: no production baseline (first release): a human signs off v1\n=> needs_review");
    check(
        first,
        AUC,
        Some(BASE_AUC),
        "review first quiet: production baseline is run base\n=> promoted",
    );

    let gap = "[[review]]\nname = \"gap\"\nwhen = \"metric\"\nmetric = \"gap\"\nmin = 0.01\nmax = 0.08\nreason = \"fairness board\"\n";
    check(
        gap,
        &[("gap", None, 0.09)],
        None,
        "review gap triggered: gap 0.09 > 0.08: fairness board\n=> needs_review",
    );
    check(
        gap,
        &[("gap", None, 0.0)],
        None,
        "review gap triggered: gap 0 < 0.01: fairness board\n=> needs_review",
    );
    check(
        gap,
        &[("gap", None, 0.05)],
        None,
        "review gap quiet: 0.05 >= 0.01; 0.05 <= 0.08\n=> promoted",
    );
    check(
        gap,
        &[],
        None,
        "review gap triggered: candidate has no metric gap: fairness board\n=> needs_review",
    );

    let eu = "[[review]]\nname = \"eu\"\nwhen = \"metric\"\nmetric = \"auc\"\nsegment = \"region=EU\"\nmin = 0.85\nreason = \"EU launch\"\n";
    check(
        eu,
        &[("auc", Some("region=EU"), 0.84), ("auc", None, 0.9)],
        None,
        "review eu triggered: auc[region=EU] 0.84 < 0.85: EU launch\n=> needs_review",
    );

    let reg = "[[review]]\nname = \"reg\"\nwhen = \"segment_regression\"\nmetric = \"auc\"\nabove = 0.01\nreason = \"look\"\n";
    let base: Metrics = &[("auc", Some("a=1"), 0.85), ("auc", Some("a=2"), 0.85)];
    check(
        reg,
        &[("auc", Some("a=1"), 0.84), ("auc", Some("a=2"), 0.85)],
        Some(base),
        "review reg quiet: no segment of auc dropped more than 0.01\n=> promoted",
    );
    check(reg, &[("auc", Some("a=1"), 0.839), ("auc", Some("a=2"), 0.9)], Some(base), "review reg triggered: auc[a=1] dropped 0.011 > 0.01 (0.85 -> 0.839): look\n=> needs_review");
    check(reg, &[("auc", Some("a=2"), 0.9), ("auc", Some("a=3"), 0.1)], Some(base), "review reg triggered: candidate has no metric auc[a=1] (baseline 0.85): look\n=> needs_review");
    check(
        reg,
        &[("auc", Some("a=1"), 0.1)],
        None,
        "review reg quiet: no production baseline to compare with\n=> promoted",
    );
}

#[test]
fn outcomes() {
    let floor = gate("metric = \"auc\"\nmin = 0.8");
    let vs = "[[gate]]\nname = \"vs\"\nmetric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0.01\nreason = \"r\"\n";
    let always = "[[review]]\nname = \"always\"\nwhen = \"always\"\nreason = \"sign\"\n";
    let outcome = |tables: &str, auc: f64, base: Option<Metrics>| {
        run(tables, &[("auc", None, auc)], base).outcome
    };
    assert_eq!(outcome(&floor, 0.9, None), Outcome::Promote);
    assert_eq!(outcome(&floor, 0.7, None), Outcome::Reject);
    // A gate asking for review, with no failure: needs review.
    assert_eq!(
        outcome(&format!("{floor}{vs}"), 0.9, None),
        Outcome::NeedsReview
    );
    // A failure outweighs any review.
    assert_eq!(
        outcome(&format!("{floor}{vs}{always}"), 0.7, None),
        Outcome::Reject
    );
    assert_eq!(
        outcome(&format!("{floor}{always}"), 0.9, None),
        Outcome::NeedsReview
    );
    assert_eq!(
        outcome(&format!("{floor}{vs}"), 0.9, Some(BASE_AUC)),
        Outcome::Promote
    );
    let words: Vec<(&str, u8)> = [Outcome::Promote, Outcome::Reject, Outcome::NeedsReview]
        .iter()
        .map(|o| (o.as_str(), o.exit_code()))
        .collect();
    assert_eq!(
        words,
        [("promoted", 0), ("rejected", 1), ("needs_review", 2)]
    );
}

#[test]
fn results_serialize_for_json_output_and_convert_to_records() {
    let e = evaluate(&loan_risk(), &run_c(), Some(&production()), now());
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["outcome"], "rejected");
    assert_eq!(
        json["gates"][1],
        serde_json::json!({
            "gate": "latency-slo",
            "kind": "absolute",
            "metric": "latency_p95_ms",
            "candidate": 410.0,
            "baseline": 150.0,
            "threshold": "<= 200",
            "verdict": "fail",
            "reason": "latency_p95_ms 410 > 200: p95 latency must stay within the 200 ms SLO",
        })
    );
    assert_eq!(json["gates"][9]["kind"], "artifacts");
    assert_eq!(json["gates"][10]["candidate"], serde_json::Value::Null);
    assert_eq!(json["reviews"][0]["triggered"], false);

    let record = GateRecord::from(&e.gates[1]);
    assert_eq!(record.verdict, GateVerdict::Fail);
    assert_eq!(
        (record.gate.as_str(), record.candidate),
        ("latency-slo", Some(410.0))
    );
    assert_eq!(DecisionOutcome::from(e.outcome), DecisionOutcome::Rejected);
}

#[test]
fn evaluation_is_deterministic() {
    // Same inputs, same output; datasets and artifacts in any order give the same result.
    let policy = loan_risk();
    let mut b = run_b();
    let first = evaluate(&policy, &b, Some(&production()), now());
    b.datasets.push(dataset(
        "other",
        Some("2026-11-20T00:00:00Z"),
        Some("2026-11-19T00:00:00Z"),
    ));
    let with_two = evaluate(&policy, &b, Some(&production()), now());
    b.datasets.reverse();
    b.artifacts
        .insert(0, ("notes.txt".to_owned(), Digest::of(b"n")));
    assert_eq!(evaluate(&policy, &b, Some(&production()), now()), with_two);
    assert_eq!(
        evaluate(&policy, &run_b(), Some(&production()), now()),
        first
    );
}
