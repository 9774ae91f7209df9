//! Live observations and `vouch diagnose` through the CLI, on the embedded log and over
//! NATS: the demo's live drop is diagnosed with the regressed region ranked first, a wrong
//! artifact in production is critical, `vouch log live` and `vouch ingest` publish
//! observations and refuse bad ones with a reason, and the same bad JSON published straight
//! onto the log is quarantined rather than lost.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use vouch_event::Timestamp;
use vouch_log::{Log, LogKey, NewRecord};
use vouch_test_nats::NatsServer;

use crate::support::{trust_like, TestLedger};

const DAY: i64 = 86_400_000_000_000;

/// RFC 3339 for `days` days ago (fractions allowed), by this machine's clock.
fn days_ago(days: f64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    Timestamp::from_unix_nanos(now - (days * DAY as f64) as i64).to_string()
}

fn demo(ledger: &TestLedger) {
    ledger.vouch(&["demo", "loan-risk"]).ok();
}

/// `vouch --json diagnose --model loan-risk EXTRA…`, asserting it ran (exit 0).
fn diagnose(ledger: &TestLedger, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "diagnose", "--model", "loan-risk"];
    args.extend(extra);
    let run = ledger.vouch(&args);
    run.ok();
    run.json()
}

/// The findings as `severity check [metric[segment]]`, in rank order.
fn outline(d: &Value) -> Vec<String> {
    d["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let mut line = format!(
                "{} {}",
                f["severity"].as_str().unwrap(),
                f["check"].as_str().unwrap()
            );
            if let Some(metric) = f["metric"].as_str() {
                line.push(' ');
                line.push_str(metric);
                if let Some(segment) = f["segment"].as_str() {
                    line.push_str(&format!("[{segment}]"));
                }
            }
            line
        })
        .collect()
}

/// The digest of a demo model file, e.g. `loan-risk-b`.
fn demo_artifact(ledger: &TestLedger, run: &str) -> String {
    let shown = ledger.vouch(&["--json", "runs", "show", run]).json();
    shown["artifacts"][0]["digest"]
        .as_str()
        .expect("a digest")
        .to_owned()
}

/// A refused `log live`: flags to replace, arguments to add, the exit code, a needle.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], i32, &'a str);

fn log_position(ledger: &TestLedger) -> u64 {
    ledger.vouch(&["--json", "status"]).json()["log_position"]
        .as_u64()
        .unwrap()
}

/// What the demo's diagnosis must say, on any log.
fn check_demo_diagnosis(d: &Value) {
    assert_eq!(
        outline(d),
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
        "{d:#}"
    );
    let top = &d["findings"][0];
    assert_eq!(
        top["title"],
        "auc[region=APAC] regressed: 0.792 live vs 0.827 on the previous version v1 (0.035 worse) while overall auc held (0.851 vs 0.839)"
    );
    assert_eq!(top["evidence"]["live"]["value"], 0.792);
    assert_eq!(top["evidence"]["previous"]["value"], 0.827);
    assert!(top["evidence"]["live"]["position"].as_u64().unwrap() > 0);
    let verdict = d["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with(
            "most likely: segment region=APAC regressed (auc 0.792 vs 0.827 on v1); labels "
        ) && verdict.ends_with(" behind"),
        "{verdict}"
    );
    assert_eq!(d["production"]["run"], "loan-risk-b");
    assert_eq!(d["previous"]["run"], "loan-risk-prod");
    assert_eq!(d["observations"], 16);
    assert_eq!(d["limits"]["source"], "policy 2026.11-1");
    assert_eq!(d["summary"]["critical"], 2);
}

#[test]
fn the_demo_diagnoses_the_region_that_regressed_while_the_average_held() {
    let ledger = TestLedger::uninitialised();
    let first = ledger.vouch(&["demo", "loan-risk"]);
    let out = first.ok();
    assert!(
        out.contains("verdict: most likely: segment region=APAC regressed"),
        "{out}"
    );
    check_demo_diagnosis(&diagnose(&ledger, &[]));

    // The table: findings are output, so critical ones still exit 0.
    let table = ledger.vouch(&["diagnose", "--model", "loan-risk"]);
    let text = table.ok();
    for needle in [
        "severity",
        "CRITICAL",
        "segment_regressed",
        "WARNING",
        "label_lag",
        "2 critical, 1 warning(s), 0 unknown, 5 ok",
        "verdict: most likely: segment region=APAC regressed",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from\n{text}");
    }

    // The demo again writes nothing, and `--json` carries the diagnosis.
    let before = log_position(&ledger);
    let again = ledger.vouch(&["--json", "demo", "loan-risk"]).json();
    assert_eq!(log_position(&ledger), before);
    assert_eq!(
        again["diagnose"]["findings"][0]["check"],
        "segment_regressed"
    );

    // A looser tolerance: the APAC drops (0.035 and 0.059) are within 0.1.
    let lenient = diagnose(&ledger, &["--tolerance", "0.1"]);
    assert_eq!(lenient["summary"]["critical"], 0, "{lenient:#}");
    assert_eq!(outline(&lenient)[0], "warning label_lag");
    assert!(lenient["verdict"]
        .as_str()
        .unwrap()
        .starts_with("most likely: labels "));
}

#[test]
fn a_wrong_artifact_in_production_is_a_critical_artifact_finding() {
    let ledger = TestLedger::uninitialised();
    demo(&ledger);
    // Deployments are signed: an operator's key, trusted to deploy.
    let ops = ledger.tmp.path().join("ops.key");
    ledger
        .vouch(&["keys", "generate", "--out", ops.to_str().unwrap()])
        .ok();
    ledger
        .vouch(&[
            "keys",
            "trust",
            ops.to_str().unwrap(),
            "--name",
            "ops",
            "--role",
            "deployer",
        ])
        .ok();
    // Run C was rejected for latency; someone deploys it anyway.
    let c = ledger.path().join("demo-files/loan-risk-c.model");
    ledger
        .vouch(&[
            "deploy",
            "--model",
            "loan-risk",
            "--env",
            "production",
            "--artifact",
            c.to_str().unwrap(),
            "--key",
            ops.to_str().unwrap(),
            "--force",
            "--reason",
            "hotfix: lower false declines",
        ])
        .ok();
    let d = diagnose(&ledger, &[]);
    let outline = outline(&d);
    assert_eq!(
        outline[..2],
        ["critical artifact", "unknown live_observations"],
        "{d:#}"
    );
    let top = &d["findings"][0];
    let title = top["title"].as_str().unwrap();
    assert!(
        title.starts_with("production runs blake3:")
            && title.ends_with("which no decision approved (forced: hotfix: lower false declines)"),
        "{title}"
    );
    assert_eq!(top["evidence"]["deployment"]["forced"], true);
    assert_eq!(
        top["evidence"]["deployment"]["artifact"],
        demo_artifact(&ledger, "loan-risk-c")
    );
    assert!(d["verdict"]
        .as_str()
        .unwrap()
        .starts_with("most likely: the deployed artifact blake3:"));
    assert!(d["findings"][1]["title"]
        .as_str()
        .unwrap()
        .contains("publish live_metrics_observed events"));

    // Rolling back to the previous approved version: a warning, not the production version.
    let prod = ledger.path().join("demo-files/loan-risk-prod.model");
    ledger
        .vouch(&[
            "deploy",
            "--model",
            "loan-risk",
            "--env",
            "production",
            "--artifact",
            prod.to_str().unwrap(),
            "--key",
            ops.to_str().unwrap(),
        ])
        .ok();
    let d = diagnose(&ledger, &[]);
    let top = &d["findings"][0];
    assert_eq!(
        (top["severity"].as_str(), top["check"].as_str()),
        (Some("warning"), Some("artifact")),
        "{d:#}"
    );
    assert!(top["title"].as_str().unwrap().contains(
        "approved as v1 (run loan-risk-prod), not the production version v2 (run loan-risk-b)"
    ));
}

#[test]
fn log_live_publishes_observations_that_diagnose_reads() {
    let ledger = TestLedger::uninitialised();
    demo(&ledger);
    let b = ledger.path().join("demo-files/loan-risk-b.model");
    let b = b.to_str().unwrap();
    let (start, end) = (days_ago(6.0), days_ago(1.0));
    let eu = |event_id: &str, extra: &[&str]| {
        let mut args = vec![
            "log",
            "live",
            "--model",
            "loan-risk",
            "--artifact",
            b,
            "--window-start",
            &start,
            "--window-end",
            &end,
            "--labels-through",
            &end,
            "--segment",
            "region=EU",
            "--count",
            "2400",
            "--event-id",
            event_id,
        ];
        args.extend(extra);
        ledger.vouch(&args)
    };
    let recorded = eu("live-eu-1", &["auc=0.80"]);
    assert!(
        recorded.ok().starts_with("recorded at position"),
        "{}",
        recorded.stdout
    );
    let again = eu("live-eu-1", &["auc=0.80"]);
    assert!(
        again.ok().starts_with("already recorded"),
        "{}",
        again.stdout
    );

    // EU now falls further than APAC: 0.049 below v1's live EU, 0.068 below validation.
    let d = diagnose(&ledger, &[]);
    assert_eq!(
        outline(&d)[..4],
        [
            "critical segment_regressed auc[region=EU]",
            "critical segment_regressed auc[region=APAC]",
            "critical segment_below_validation auc[region=EU]",
            "critical segment_below_validation auc[region=APAC]",
        ],
        "{d:#}"
    );
    assert_eq!(d["findings"][0]["evidence"]["live"]["count"], 2400);
    assert_eq!(
        d["findings"][0]["evidence"]["live"]["event_id"],
        "live-eu-1"
    );

    // By digest, with --json.
    let digest = demo_artifact(&ledger, "loan-risk-b");
    let by_digest = ledger
        .vouch(&[
            "--json",
            "log",
            "live",
            "--model",
            "loan-risk",
            "--artifact",
            &digest,
            "--window-start",
            &start,
            "--window-end",
            &end,
            "--labels-through",
            &end,
            "auc=0.85",
        ])
        .json();
    assert_eq!(by_digest["duplicate"], false);
    assert_eq!(by_digest["artifact"], digest.as_str());

    let before = log_position(&ledger);
    let future = days_ago(-1.0);
    let (start, end) = (start.as_str(), end.as_str());
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (&[("--model", "ghost")], &["auc=0.8"], 65, "unknown model `ghost`"),
        (&[("--model", "a.b")], &["auc=0.8"], 65, "--model"),
        (&[("--window-start", end), ("--window-end", start)], &["auc=0.8"], 65, "is after --window-end"),
        (&[("--labels-through", &future)], &["auc=0.8"], 65, "is in the future"),
        (&[("--window-end", "yesterday")], &["auc=0.8"], 65, "--window-end"),
        (&[], &["auc=NaN"], 65, "not a finite number"),
        (&[], &["auc"], 65, "expected NAME=VALUE"),
        (&[("--artifact", "blake3:abc")], &["auc=0.8"], 65, "--artifact"),
        (&[("--artifact", "no-such.model")], &["auc=0.8"], 66, "no-such.model"),
        (&[], &["--env", "prod uction", "auc=0.8"], 65, "--env"),
        (&[], &["--segment", "EU", "auc=0.8"], 65, "--segment"),
        (&[], &[], 64, "NAME=VALUE"),
    ];
    for (replace, extra, code, needle) in cases {
        let mut args = vec![
            "log",
            "live",
            "--model",
            "loan-risk",
            "--artifact",
            b,
            "--window-start",
            start,
            "--window-end",
            end,
            "--labels-through",
            end,
        ];
        for (flag, value) in *replace {
            let at = args.iter().position(|a| a == flag).unwrap();
            args[at + 1] = value;
        }
        args.extend(*extra);
        ledger.vouch(&args).fails(*code, needle);
    }
    assert_eq!(
        log_position(&ledger),
        before,
        "a refused observation wrote nothing"
    );
}

#[test]
fn diagnose_refuses_bad_input_with_65() {
    let ledger = TestLedger::uninitialised();
    demo(&ledger);
    let diagnose_with = |args: &[&str]| {
        let mut full = vec!["diagnose"];
        full.extend(args);
        ledger.vouch(&full)
    };
    diagnose_with(&["--model", "ghost"]).fails(65, "model ghost has no decisions in this ledger");
    diagnose_with(&["--model", "a.b"]).fails(65, "--model");
    diagnose_with(&["--model", "loan-risk", "--env", "staging"]).fails(
        65,
        "model loan-risk has no deployment to `staging` and no live observations there (it is known in: production)",
    );
    diagnose_with(&["--model", "loan-risk", "--tolerance=-0.5"]).fails(65, "tolerance -0.5");
    diagnose_with(&["--model", "loan-risk", "--tolerance", "NaN"]).fails(65, "tolerance NaN");
    diagnose_with(&["--model", "loan-risk", "--tolerance", "lots"]).fails(64, "--tolerance");
    diagnose_with(&[]).fails(64, "--model");
    let json = ledger.vouch(&["--json", "diagnose", "--model", "ghost"]);
    json.fails(65, "no decisions");
    let error = json.json();
    assert_eq!(error["exit_code"], 65, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("ghost"),
        "{error}"
    );
    // No ledger at all.
    let missing = TestLedger::uninitialised();
    missing
        .vouch(&["diagnose", "--model", "loan-risk"])
        .fails(66, "no ledger");
}

/// One live observation of Run B's model as a JSON line, with `data` edited by `edit`.
fn live_line(id: &str, artifact: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut event = serde_json::json!({
        "id": id,
        "kind": "live_metrics_observed",
        "schema": 1,
        "time": days_ago(0.5),
        "producer": "monitoring",
        "model": "loan-risk",
        "data": {
            "env": "production",
            "artifact": artifact,
            "metrics": { "auc": 0.70 },
            "segment": "region=US",
            "window_start": days_ago(6.0),
            "window_end": days_ago(1.0),
            "labels_through": days_ago(1.0),
            "count": 2100
        }
    });
    edit(&mut event);
    event.to_string()
}

/// The bad line both paths see: `labels_through` missing.
fn without_labels(event: &mut Value) {
    event["data"]
        .as_object_mut()
        .unwrap()
        .remove("labels_through");
}

#[test]
fn ingest_takes_live_observations_and_the_log_quarantines_bad_ones() {
    let ledger = TestLedger::uninitialised();
    demo(&ledger);
    let b = demo_artifact(&ledger, "loan-risk-b");
    let lines = [
        live_line("live-us-1", &b, |_| {}),
        live_line("live-us-bad", &b, without_labels),
        live_line("live-us-run", &b, |e| {
            let model = e.as_object_mut().unwrap().remove("model").unwrap();
            e["run"] = model;
        }),
        live_line("live-us-2", &b, |e| {
            e["data"]["segment"] = "region=EU".into();
            e["data"]["metrics"]["auc"] = 0.86.into();
        }),
    ];
    let ingest = ledger.vouch_with_input(&["ingest"], lines.join("\n").as_bytes());
    ingest.fails(
        65,
        "line 2: data of live_metrics_observed: missing field `labels_through`",
    );
    ingest.fails(
        65,
        "line 3: kind live_metrics_observed concerns a model: set `model`, not `run`",
    );
    assert!(
        ingest.stdout.contains("2 events read: 2 appended"),
        "{}",
        ingest.stdout
    );
    let d = diagnose(&ledger, &[]);
    assert_eq!(d["observations"], 18, "{d:#}");
    assert_eq!(
        outline(&d)[0],
        "critical segment_regressed auc[region=US]",
        "{d:#}"
    );

    // The same bad JSON, and a good one, published straight onto the log (as a producer
    // in another language would): the bad one is quarantined with its reason, the good one
    // applied.
    let good = live_line("live-raw-good", &b, |e| {
        e["data"]["segment"] = "region=APAC".into()
    });
    let bad = live_line("live-raw-bad", &b, without_labels);
    {
        let opened = vouch_ledger::Ledger::open(&ledger.path(), &Default::default()).unwrap();
        opened
            .log()
            .append_batch(vec![raw("live-raw-bad", &bad), raw("live-raw-good", &good)])
            .unwrap();
        opened.flush().unwrap();
    }
    check_quarantined(&ledger, "live-raw-bad");
    assert_eq!(diagnose(&ledger, &[])["observations"], 19);
}

fn raw(id: &str, json: &str) -> NewRecord {
    NewRecord {
        event_id: id.to_owned(),
        key: LogKey::new("model.loan-risk").unwrap(),
        bytes: json.as_bytes().to_vec(),
    }
}

fn check_quarantined(ledger: &TestLedger, id: &str) {
    let quarantine = ledger.vouch(&["--json", "quarantine"]).json();
    let entries = quarantine.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{quarantine:#}");
    assert_eq!(entries[0]["event_id"], id);
    assert_eq!(entries[0]["key"], "model.loan-risk");
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing field `labels_through`"),
        "{quarantine:#}"
    );
}

/// The demo over a stream diagnoses exactly as on the embedded log, a second directory
/// following the stream agrees, and bad JSON published onto the stream is quarantined.
#[test]
fn diagnose_over_nats_matches_the_embedded_ledger() {
    let server = NatsServer::start();
    let embedded = TestLedger::uninitialised();
    demo(&embedded);
    let nats = TestLedger::nats_uninitialised(&server.url());
    demo(&nats);
    let here = diagnose(&nats, &[]);
    check_demo_diagnosis(&here);
    let there = diagnose(&embedded, &[]);
    assert_eq!(outline(&here), outline(&there));
    assert_eq!(here["verdict"], there["verdict"]);
    assert_eq!(here["findings"][0]["title"], there["findings"][0]["title"]);

    // Another directory over the stream judges the release records under its own trust:
    // it trusts the demo's keys too.
    let follower = TestLedger::nats(&server.url());
    trust_like(&nats, &follower);
    let followed = diagnose(&follower, &[]);
    assert_eq!(outline(&followed), outline(&here));
    assert_eq!(followed["findings"][0], here["findings"][0]);

    let b = demo_artifact(&nats, "loan-risk-b");
    let bad = live_line("live-nats-bad", &b, without_labels);
    let good = live_line("live-nats-good", &b, |_| {});
    server
        .log()
        .append_batch(vec![
            raw("live-nats-bad", &bad),
            raw("live-nats-good", &good),
        ])
        .unwrap();
    check_quarantined(&nats, "live-nats-bad");
    let d = diagnose(&follower, &[]);
    assert_eq!(d["observations"], 17);
    assert_eq!(
        outline(&d)[0],
        "critical segment_regressed auc[region=US]",
        "{d:#}"
    );
}
