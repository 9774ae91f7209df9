//! The worked examples every Vouch demo knows: loan-risk runs A to D against production,
//! and the fraud model that always needs a sign-off.

use vouch_policy::{evaluate, Evaluation, Outcome, Policy, Verdict};

use crate::support::*;

/// Every result on one line each, then the outcome.
pub fn render(e: &Evaluation) -> String {
    render_where(e, true)
}

/// Only the results that stand in the way of promotion, then the outcome.
pub fn render_problems(e: &Evaluation) -> String {
    render_where(e, false)
}

fn render_where(e: &Evaluation, all: bool) -> String {
    let mut out = String::new();
    for g in e.gates.iter().filter(|g| all || g.verdict != Verdict::Pass) {
        out += &format!(
            "{} {} {}: {}\n",
            g.verdict.as_str(),
            g.gate,
            g.metric.as_deref().unwrap_or("-"),
            g.reason
        );
    }
    for r in e.reviews.iter().filter(|r| all || r.triggered) {
        let word = if r.triggered { "triggered" } else { "quiet" };
        out += &format!("review {} {word}: {}\n", r.rule, r.reason);
    }
    out += &format!("=> {}", e.outcome.as_str());
    out
}

#[track_caller]
fn check(e: &Evaluation, expect: &str) {
    assert_eq!(
        render_problems(e),
        expect.trim(),
        "\n--- all results ---\n{}",
        render(e)
    );
}

#[test]
fn run_b_is_promoted_and_every_result_says_why() {
    let e = evaluate(&loan_risk(), &run_b(), Some(&production()), now());
    assert_eq!(e.outcome, Outcome::Promote);
    assert_eq!(
        render(&e),
        "\
pass auc-floor auc: 0.861 >= 0.84
pass latency-slo latency_p95_ms: 182 <= 200
pass calibration ece: 0.032 <= 0.05
pass fairness demographic_parity_gap: 0.06 <= 0.1
pass serving-cost cost_per_1k: 1.25 <= 1.5
pass auc-vs-production auc: no drop (0.861 vs baseline 0.842)
pass auc-by-region auc[region=APAC]: no drop (0.851 vs baseline 0.829)
pass auc-by-region auc[region=EU]: no drop (0.868 vs baseline 0.851)
pass auc-by-region auc[region=US]: no drop (0.86 vs baseline 0.84)
pass model-file -: model.bin blake3:XXX
pass fresh-validation -: validation snapshot is 3 days old <= 30; validation labels lag 6 days <= 14
review fairness-watch quiet: 0.06 <= 0.08
review region-regression quiet: no segment of auc dropped more than 0.01
=> promoted"
            .replace("XXX", &vouch_event::Digest::of(b"run-b").hex())
    );
    // The table a report prints: values, baseline values and thresholds.
    let g = &e.gates[0];
    assert_eq!(
        (g.candidate, g.baseline, g.threshold.as_str()),
        (Some(0.861), Some(0.842), ">= 0.84")
    );
    let thresholds: Vec<&str> = e.gates.iter().map(|g| g.threshold.as_str()).collect();
    assert_eq!(
        thresholds,
        [
            ">= 0.84",
            "<= 200",
            "<= 0.05",
            "<= 0.1",
            "<= 1.5",
            "drop <= 0.005 vs baseline",
            "drop <= 0.02 vs baseline",
            "drop <= 0.02 vs baseline",
            "drop <= 0.02 vs baseline",
            "artifact model.bin",
            "snapshot age <= 30 d, label lag <= 14 d",
        ]
    );
    assert_eq!(e.outcome.exit_code(), 0);
}

#[test]
fn run_a_is_rejected_for_auc() {
    let e = evaluate(&loan_risk(), &run_a(), Some(&production()), now());
    check(
        &e,
        "
fail auc-floor auc: auc 0.828 < 0.84: AUC below 0.84 loses money on approvals
fail auc-vs-production auc: auc 0.828 vs baseline 0.842: drop 0.014 > 0.005: a new model must not be measurably worse than production
review region-regression triggered: auc[region=APAC] dropped 0.014 > 0.01 (0.829 -> 0.815); auc[region=EU] dropped 0.015 > 0.01 (0.851 -> 0.836); auc[region=US] dropped 0.015 > 0.01 (0.84 -> 0.825): a region losing AUC deserves a look, even within the gate's tolerance
=> rejected",
    );
    assert_eq!(e.outcome.exit_code(), 1);
}

#[test]
fn run_c_is_rejected_for_latency_alone() {
    let e = evaluate(&loan_risk(), &run_c(), Some(&production()), now());
    check(
        &e,
        "
fail latency-slo latency_p95_ms: latency_p95_ms 410 > 200: p95 latency must stay within the 200 ms SLO
=> rejected",
    );
}

#[test]
fn run_d_is_rejected_for_fairness_and_the_apac_regression() {
    let e = evaluate(&loan_risk(), &run_d(), Some(&production()), now());
    check(
        &e,
        "
fail fairness demographic_parity_gap: demographic_parity_gap 0.14 > 0.1: a demographic parity gap above 0.10 breaches the fair-lending policy
fail auc-by-region auc[region=APAC]: auc[region=APAC] 0.792 vs baseline 0.829: drop 0.037 > 0.02: no region may lose more than 0.02 AUC, even when the average holds
review fairness-watch triggered: demographic_parity_gap 0.14 > 0.08: a parity gap above 0.08 is legal but needs the fairness board's sign-off
review region-regression triggered: auc[region=APAC] dropped 0.037 > 0.01 (0.829 -> 0.792): a region losing AUC deserves a look, even within the gate's tolerance
=> rejected",
    );
}

#[test]
fn a_first_release_needs_review() {
    let e = evaluate(&loan_risk(), &run_b(), None, now());
    check(
        &e,
        "
review auc-vs-production auc: no production baseline (first release); baseline.missing = review
review auc-by-region auc[region=APAC]: no production baseline (first release); baseline.missing = review
review auc-by-region auc[region=EU]: no production baseline (first release); baseline.missing = review
review auc-by-region auc[region=US]: no production baseline (first release); baseline.missing = review
=> needs_review",
    );
    assert_eq!(e.outcome.exit_code(), 2);
    // Absolute gates still hold without a baseline: C is rejected either way.
    let e = evaluate(&loan_risk(), &run_c(), None, now());
    assert_eq!(e.outcome, Outcome::Reject);
}

#[test]
fn a_first_release_under_missing_pass_is_promoted() {
    let text = include_str!("../../policies/loan-risk.toml")
        .replace("missing = \"review\"", "missing = \"pass\"");
    let policy = Policy::parse(&text).unwrap();
    let e = evaluate(&policy, &run_b(), None, now());
    check(&e, "=> promoted");
    assert_eq!(
        e.gates[5].reason,
        "no production baseline (first release); baseline.missing = pass"
    );
    // And under missing = "fail", rejected with the gate's reason.
    let text = text.replace("missing = \"pass\"", "missing = \"fail\"");
    let e = evaluate(&Policy::parse(&text).unwrap(), &run_b(), None, now());
    assert_eq!(e.outcome, Outcome::Reject);
    assert_eq!(
        e.gates[5].reason,
        "no production baseline (first release); baseline.missing = fail: a new model must not be measurably worse than production"
    );
}

#[test]
fn a_candidate_without_the_apac_segment_fails_naming_it() {
    let b = without(run_b(), "auc", Some("region=APAC"));
    let e = evaluate(&loan_risk(), &b, Some(&production()), now());
    check(
        &e,
        "
fail auc-by-region auc[region=APAC]: candidate has no metric auc[region=APAC]: no region may lose more than 0.02 AUC, even when the average holds
review region-regression triggered: candidate has no metric auc[region=APAC] (baseline 0.829): a region losing AUC deserves a look, even within the gate's tolerance
=> rejected",
    );
    let apac = &e.gates[6];
    assert_eq!((apac.candidate, apac.baseline), (None, Some(0.829)));
}

#[test]
fn stale_data_fails_with_the_ages() {
    let e = evaluate(
        &loan_risk(),
        &run_b(),
        Some(&production()),
        t("2027-01-30T00:00:00Z"),
    );
    check(
        &e,
        "
fail fresh-validation -: validation snapshot is 73 days old (limit 30); validation labels lag 76 days (limit 14): validation on stale data or late labels does not predict live behaviour
=> rejected",
    );
}

#[test]
fn the_fraud_model_always_needs_a_sign_off() {
    let pass = evidence(
        "fraud-7",
        &[
            ("recall_at_1pct_fpr", None, 0.83),
            ("cost_per_1k", None, 0.62),
            ("equal_opportunity_gap", None, 0.03),
            ("latency_p99_ms", None, 38.0),
        ],
    );
    // With or without a production baseline: the rule is "always".
    for baseline in [None, Some(&pass)] {
        let e = evaluate(&fraud(), &pass, baseline, now());
        check(
            &e,
            "
review risk-sign-off triggered: fraud model changes need sign-off from the risk team
=> needs_review",
        );
    }
    // A failing gate still rejects: review is for candidates the numbers allow.
    let mut slow = pass.clone();
    slow.metrics.insert(
        (vouch_event::Name::new("latency_p99_ms").unwrap(), None),
        64.0,
    );
    let e = evaluate(&fraud(), &slow, None, now());
    check(
        &e,
        "
fail latency-ceiling latency_p99_ms: latency_p99_ms 64 > 50: authorisation waits for the score: p99 must stay under 50 ms
review risk-sign-off triggered: fraud model changes need sign-off from the risk team
=> rejected",
    );
}
