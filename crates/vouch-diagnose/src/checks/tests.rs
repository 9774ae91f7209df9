//! The checks on hand-built facts: the loan-risk story (one region regresses while the
//! average holds), then one change per case, each checked for the findings it must produce
//! and where they rank.

use std::collections::{BTreeMap, BTreeSet};

use vouch_event::{
    Body, DatasetBound, DatasetRole, Digest, Event, EventId, MetricsLogged, ModelName, Name,
    Producer, RunId, Segment, Subject, Timestamp,
};
use vouch_views::{DeploymentEntry, LiveObservation, RunDoc};

use crate::finding::{rank, verdict, CheckId, Finding, Severity};
use crate::{Facts, Limits, Version};

const DAY: i64 = 86_400_000_000_000;
const TOL: f64 = 0.02;

/// Day 100, noon: "now" in every case.
fn now() -> Timestamp {
    later(day(100), DAY / 2)
}

fn day(n: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_790_000_000_000_000_000 + n * DAY)
}

fn later(t: Timestamp, nanos: i64) -> Timestamp {
    Timestamp::from_unix_nanos(t.unix_nanos() + nanos)
}

fn name(n: &str) -> Name {
    Name::new(n).unwrap()
}

fn segment(s: &str) -> Segment {
    Segment::new(s).unwrap()
}

const PREVIOUS: u8 = 1;
const CURRENT: u8 = 2;
const ROGUE: u8 = 9;

fn artifact(n: u8) -> Digest {
    Digest::of(&[n])
}

fn version(n: usize, index: u64, a: u8, decided: i64) -> Version {
    Version {
        version: format!("v{n}"),
        index,
        decision: Digest::of(&[100 + a]),
        run: RunId::new(format!("run-{a}")).unwrap(),
        artifacts: vec![artifact(a)],
        decided_at: day(decided),
        policy_version: "p1".into(),
    }
}

/// The production candidate as its decision read it: AUC overall and per region, latency,
/// and a validation set snapshotted on day 78 with labels through day 75.
fn validated() -> RunDoc {
    let run = RunId::new("run-2").unwrap();
    let mut doc = RunDoc::new(run.clone(), 10);
    let mut position = 10;
    let mut apply = |body: Body| {
        let event = Event {
            id: EventId::new(format!("e{position}")).unwrap(),
            time: day(79),
            producer: Producer::new("test").unwrap(),
            subject: Subject::Run(run.clone()),
            body,
        };
        doc.apply(&event, position).unwrap();
        position += 1;
    };
    let metrics = |values: &[(&str, f64)], seg: Option<&str>| {
        Body::MetricsLogged(MetricsLogged {
            metrics: values.iter().map(|(n, v)| (name(n), *v)).collect(),
            step: None,
            segment: seg.map(segment),
        })
    };
    apply(Body::DatasetBound(DatasetBound {
        role: DatasetRole::Validation,
        name: "loans.csv".into(),
        digest: Digest::of(b"loans"),
        rows: 2000,
        snapshot_at: Some(day(78)),
        labels_through: Some(day(75)),
        uri: None,
    }));
    apply(metrics(&[("auc", 0.861), ("latency_p95_ms", 182.0)], None));
    apply(metrics(&[("auc", 0.868)], Some("region=EU")));
    apply(metrics(&[("auc", 0.860)], Some("region=US")));
    apply(metrics(&[("auc", 0.851)], Some("region=APAC")));
    doc
}

fn observation(
    a: u8,
    seg: Option<&str>,
    values: &[(&str, f64)],
    window: (i64, i64),
    labels: i64,
    position: u64,
) -> LiveObservation {
    LiveObservation {
        model: ModelName::new("loan-risk").unwrap(),
        env: "production".into(),
        artifact: artifact(a),
        metrics: values
            .iter()
            .map(|(n, v)| (name(n), *v))
            .collect::<BTreeMap<_, _>>(),
        segment: seg.map(segment),
        window_start: day(window.0),
        window_end: day(window.1),
        labels_through: day(labels),
        count: Some(1000),
        time: later(day(labels), DAY / 4),
        producer: "monitor".into(),
        event_id: format!("live-{position}"),
        position,
    }
}

fn deployment(a: u8, at: i64, forced: bool) -> DeploymentEntry {
    DeploymentEntry {
        model: ModelName::new("loan-risk").unwrap(),
        env: "production".into(),
        artifact: artifact(a),
        decision: (!forced).then(|| Digest::of(&[100 + a])),
        forced,
        reason: forced.then(|| "hotfix".to_owned()),
        time: day(at),
        producer: "deployer".into(),
        position: 500 + u64::from(a),
        hash: Digest::of(&[200 + a]),
        signer: "deployer".into(),
        signer_key: vouch_event::PublicKeyBytes([7; 32]),
    }
}

/// Two weeks of the previous version live, then the current one: fine in its first week;
/// in its second, APAC falls from 0.842 to 0.792 while the overall AUC holds at 0.851, and
/// the labels stop two days short of the window's end.
fn story() -> Facts {
    let regions = |a: u8, week: (i64, i64), labels: i64, base: u64, values: [f64; 4]| {
        vec![
            observation(a, None, &[("auc", values[0])], week, labels, base),
            observation(
                a,
                Some("region=EU"),
                &[("auc", values[1])],
                week,
                labels,
                base + 1,
            ),
            observation(
                a,
                Some("region=US"),
                &[("auc", values[2])],
                week,
                labels,
                base + 2,
            ),
            observation(
                a,
                Some("region=APAC"),
                &[("auc", values[3])],
                week,
                labels,
                base + 3,
            ),
        ]
    };
    let mut observations = Vec::new();
    observations.extend(regions(
        PREVIOUS,
        (65, 72),
        72,
        600,
        [0.838, 0.848, 0.836, 0.826],
    ));
    observations.extend(regions(
        PREVIOUS,
        (72, 79),
        79,
        610,
        [0.839, 0.849, 0.837, 0.827],
    ));
    observations.extend(regions(
        CURRENT,
        (79, 86),
        86,
        620,
        [0.856, 0.866, 0.858, 0.842],
    ));
    observations.extend(regions(
        CURRENT,
        (86, 93),
        91,
        630,
        [0.851, 0.867, 0.859, 0.792],
    ));
    Facts {
        model: ModelName::new("loan-risk").unwrap(),
        env: "production".into(),
        versions: vec![version(1, 1, PREVIOUS, 50), version(2, 3, CURRENT, 79)],
        production: Some(1),
        validated: Some(validated()),
        deployment: Some(deployment(CURRENT, 79, false)),
        observations,
        limits: Limits {
            max_snapshot_age_days: 30,
            max_label_lag_days: 14,
            source: "policy p1".into(),
        },
        lower_is_better: BTreeSet::from([name("latency_p95_ms")]),
    }
}

/// Runs the checks and ranks them, as `diagnose` does.
fn findings(facts: &Facts) -> Vec<Finding> {
    let mut out = super::assess(facts, TOL, now());
    rank(&mut out);
    out
}

fn find(findings: &[Finding], check: CheckId, severity: Severity) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| f.check == check && f.severity == severity)
        .collect()
}

/// The findings as `severity check [segment]` lines, for whole-list assertions.
fn outline(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let mut line = format!("{} {}", f.severity.as_str(), f.check.as_str());
            if let Some(m) = &f.metric {
                line.push_str(&format!(" {m}"));
                if let Some(s) = &f.segment {
                    line.push_str(&format!("[{s}]"));
                }
            }
            line
        })
        .collect()
}

#[test]
fn a_region_that_regressed_while_the_average_held_ranks_first() {
    let out = findings(&story());
    assert_eq!(
        outline(&out),
        [
            "critical segment_regressed auc[region=APAC]",
            "critical segment_below_validation auc[region=APAC]",
            "warning label_lag",
            "ok artifact",
            "ok segment_regressed",
            "ok segment_below_validation",
            "ok label_lag",
            "ok validation_age",
        ],
        "{out:#?}"
    );
    let top = &out[0];
    assert_eq!(
        top.title,
        "auc[region=APAC] regressed: 0.792 live vs 0.827 on the previous version v1 (0.035 worse) while overall auc held (0.851 vs 0.839)"
    );
    assert_eq!(top.evidence["live"]["position"], 633);
    assert_eq!(top.evidence["previous"]["position"], 613);
    assert_eq!(top.evidence["previous_version"]["version"], "v1");
    assert_eq!(
        out[1].title,
        "auc[region=APAC] live 0.792 is 0.059 below the 0.851 validation promised (tolerance 0.02)"
    );
    assert_eq!(out[1].evidence["validation"]["position"], 14);
    assert_eq!(
        out[2].title,
        format!(
            "live labels are 9 days behind: the latest window ({} → {}) is labelled only through {}, so its last 2 days rest on partial labels",
            day(86),
            day(93),
            day(91)
        )
    );
    assert_eq!(
        verdict(&out),
        "most likely: segment region=APAC regressed (auc 0.792 vs 0.827 on v1); labels 9 days behind"
    );
    let ok = find(&out, CheckId::SegmentBelowValidation, Severity::Ok);
    assert_eq!(ok[0].facts.len(), 3, "{:#?}", ok[0]);
    assert!(out[3]
        .title
        .starts_with("production runs the approved artifact blake3:"));
    assert!(out[3].title.ends_with("(v2, decision #3, run run-2)"));
    let age = find(&out, CheckId::ValidationAge, Severity::Ok);
    assert_eq!(
        age[0].title,
        "validation dataset loans.csv was 24 hours old at the decision and is 22 days old now (limit 30 days, policy p1)"
    );
}

#[test]
fn an_unapproved_artifact_in_production_is_critical_and_first() {
    let mut facts = story();
    facts.deployment = Some(deployment(ROGUE, 95, true));
    let out = findings(&facts);
    assert_eq!(
        outline(&out)[..2],
        ["critical artifact", "unknown live_observations"],
        "{out:#?}"
    );
    assert!(
        out[0]
            .title
            .ends_with("which no decision approved (forced: hotfix)"),
        "{}",
        out[0].title
    );
    assert!(
        out[0].facts[0].contains("forced: hotfix"),
        "{:?}",
        out[0].facts
    );
    assert!(out[1].facts[0].starts_with(
        "publish them: vouch log live --model loan-risk --env production --artifact blake3:"
    ));
    assert!(verdict(&out).starts_with("most likely: the deployed artifact blake3:"));
    // The live windows ended before the forced deployment: they are the old artifact's,
    // not evidence against the record.
    assert_eq!(find(&out, CheckId::Artifact, Severity::Critical).len(), 1);
}

#[test]
fn live_traffic_after_a_deployment_that_names_another_artifact_is_critical() {
    let mut facts = story();
    facts.observations.push(observation(
        ROGUE,
        None,
        &[("auc", 0.85)],
        (93, 94),
        94,
        700,
    ));
    let out = findings(&facts);
    let critical = find(&out, CheckId::Artifact, Severity::Critical);
    assert_eq!(critical.len(), 1, "{out:#?}");
    assert!(
        critical[0].title.contains("not the deployed blake3:"),
        "{}",
        critical[0].title
    );
    assert_eq!(out[0].check, CheckId::Artifact);
}

#[test]
fn a_forced_deployment_of_the_approved_artifact_is_a_warning() {
    let mut facts = story();
    facts.deployment = Some(deployment(CURRENT, 79, true));
    let out = findings(&facts);
    let warning = find(&out, CheckId::Artifact, Severity::Warning);
    assert_eq!(warning.len(), 1, "{out:#?}");
    assert!(warning[0]
        .title
        .ends_with("but its deployment was forced (forced: hotfix)"));
}

#[test]
fn a_rollback_to_the_previous_version_is_a_warning_with_nothing_older_to_compare() {
    let mut facts = story();
    facts.deployment = Some(deployment(PREVIOUS, 80, false));
    facts
        .observations
        .retain(|o| o.artifact == artifact(PREVIOUS));
    let out = findings(&facts);
    let warning = find(&out, CheckId::Artifact, Severity::Warning);
    assert_eq!(warning.len(), 1, "{out:#?}");
    assert!(warning[0]
        .title
        .contains("approved as v1 (run run-1), not the production version v2 (run run-2)"));
    let unknown = find(&out, CheckId::SegmentRegressed, Severity::Unknown);
    assert!(unknown[0].title.contains("is the previous version's (v1)"));
}

#[test]
fn without_live_observations_the_finding_says_what_to_publish() {
    let mut facts = story();
    facts.observations.clear();
    let out = findings(&facts);
    assert_eq!(
        outline(&out),
        [
            "unknown live_observations",
            "ok artifact",
            "ok label_lag",
            "ok validation_age"
        ]
    );
    assert!(out[0]
        .title
        .contains("publish live_metrics_observed events"));
    assert!(verdict(&out).starts_with(
        "nothing wrong found, but 1 check could not run: no live metrics observed for the deployed artifact"
    ));
}

#[test]
fn an_overall_regression_is_named_and_segments_fall_with_it() {
    let mut facts = story();
    for o in &mut facts.observations {
        if o.position >= 630 {
            for v in o.metrics.values_mut() {
                *v -= 0.05;
            }
        }
    }
    let out = findings(&facts);
    assert_eq!(out[0].check, CheckId::OverallRegressed, "{out:#?}");
    assert_eq!(out[0].severity, Severity::Critical);
    let segments = find(&out, CheckId::SegmentRegressed, Severity::Critical);
    assert_eq!(segments.len(), 3);
    assert!(segments
        .iter()
        .all(|f| f.title.ends_with("along with the overall value")));
    assert!(
        verdict(&out).starts_with("most likely: auc regressed overall (0.801 vs 0.839 on v1); ")
    );
}

#[test]
fn lower_is_better_metrics_are_worse_when_they_rise() {
    let mut facts = story();
    facts.observations.push(observation(
        CURRENT,
        None,
        &[("latency_p95_ms", 240.0)],
        (86, 93),
        91,
        640,
    ));
    let out = findings(&facts);
    let latency: Vec<&Finding> = out
        .iter()
        .filter(|f| {
            f.metric
                .as_ref()
                .is_some_and(|m| m.as_str() == "latency_p95_ms")
        })
        .collect();
    assert_eq!(latency.len(), 1, "{out:#?}");
    assert_eq!(latency[0].severity, Severity::Critical);
    assert_eq!(
        latency[0].title,
        "latency_p95_ms live 240 is 58 above the 182 validation promised (tolerance 0.02)"
    );
    // 182 -> 170 is better, not a finding.
    facts.observations.last_mut().unwrap().metrics =
        BTreeMap::from([(name("latency_p95_ms"), 170.0)]);
    assert!(findings(&facts).iter().all(|f| f
        .metric
        .as_ref()
        .is_none_or(|m| m.as_str() != "latency_p95_ms")));
}

#[test]
fn small_drops_within_the_tolerance_are_warnings_below_validation_and_fine_at_all_below_it() {
    let mut facts = story();
    let apac = facts
        .observations
        .iter_mut()
        .find(|o| o.position == 633)
        .unwrap();
    apac.metrics.insert(name("auc"), 0.826);
    let out = findings(&facts);
    let below = find(&out, CheckId::SegmentBelowValidation, Severity::Warning);
    assert_eq!(below.len(), 1, "{out:#?}");
    assert!(find(&out, CheckId::SegmentRegressed, Severity::Critical).is_empty());
    assert!(find(&out, CheckId::SegmentBelowValidation, Severity::Critical).is_empty());
}

#[test]
fn stale_validation_data_is_a_warning_now_and_critical_at_the_decision() {
    let mut facts = story();
    facts.limits.max_snapshot_age_days = 10;
    let out = findings(&facts);
    let warning = find(&out, CheckId::ValidationAge, Severity::Warning);
    assert_eq!(warning.len(), 1, "{out:#?}");
    assert!(warning[0]
        .title
        .contains("is now 22 days old (limit 10 days, policy p1)"));
    facts.limits.max_label_lag_days = 3;
    facts.limits.max_snapshot_age_days = 0;
    let out = findings(&facts);
    let critical = find(&out, CheckId::ValidationAge, Severity::Critical);
    assert!(critical[0]
        .title
        .contains("was already 24 hours old when decision #3 was made"));
    let labels = find(&out, CheckId::LabelLag, Severity::Critical);
    assert!(labels[0]
        .title
        .contains("labels lagged decision #3 by 4 days (limit 3 days"));
}

#[test]
fn the_first_production_version_has_nothing_to_regress_from() {
    let mut facts = story();
    facts.versions.remove(0);
    facts.production = Some(0);
    let out = findings(&facts);
    let unknown = find(&out, CheckId::SegmentRegressed, Severity::Unknown);
    assert!(unknown[0]
        .title
        .contains("is loan-risk's first production version"));
}

#[test]
fn no_previous_live_observations_and_unmatched_segments_are_unknown() {
    let mut facts = story();
    facts
        .observations
        .retain(|o| o.artifact != artifact(PREVIOUS));
    facts.observations.push(observation(
        CURRENT,
        Some("region=LATAM"),
        &[("auc", 0.7)],
        (86, 93),
        93,
        650,
    ));
    let out = findings(&facts);
    let regressed = find(&out, CheckId::SegmentRegressed, Severity::Unknown);
    assert!(regressed[0].title.starts_with(
        "no live observations of the previous production version v1 (run run-1) in production"
    ));
    let unmatched = find(&out, CheckId::SegmentBelowValidation, Severity::Unknown);
    assert_eq!(unmatched[0].facts, ["auc[region=LATAM]: live 0.7"]);
}

#[test]
fn no_deployment_but_live_traffic_is_critical() {
    let mut facts = story();
    facts.deployment = None;
    let out = findings(&facts);
    assert_eq!(outline(&out)[0], "critical artifact");
    assert!(out[0]
        .title
        .starts_with("nothing is recorded as deployed to production"));
    // The checks still read the artifact the latest window names.
    assert!(!find(&out, CheckId::SegmentRegressed, Severity::Critical).is_empty());
}

#[test]
fn words_for_durations_and_numbers() {
    use super::{num, span};
    const H: i128 = 3_600_000_000_000;
    for (nanos, text) in [
        (0, "0 minutes"),
        (60_000_000_000, "1 minute"),
        (H + H / 2, "90 minutes"),
        (2 * H, "2 hours"),
        (47 * H, "47 hours"),
        (48 * H, "2 days"),
        (9 * 24 * H + 12 * H, "9 days"),
        (-3 * 24 * H, "-3 days"),
    ] {
        assert_eq!(span(nanos), text, "{nanos}");
    }
    for (value, text) in [
        (0.851, "0.851"),
        (0.851 - 0.792, "0.059"),
        (182.0, "182"),
        (-0.0, "0"),
        (0.0001, "1.00e-4"),
        (1234.56789, "1234.5679"),
    ] {
        assert_eq!(num(value), text, "{value}");
    }
}
