//! History through the CLI: `vouch replay` under the demo's policy and a stricter one, and
//! `--as-of` answering from the ledger as it stood, on the embedded log and over NATS.

use serde_json::Value;
use vouch_test_nats::NatsServer;

use crate::support::TestLedger;

fn policy() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vouch-policy/policies/loan-risk.toml"
    ))
    .expect("loan-risk policy")
}

fn demo(ledger: &TestLedger) {
    ledger.vouch(&["demo", "loan-risk"]).ok();
}

/// `replay --json` under `text`, asserting it ran.
fn replay(ledger: &TestLedger, name: &str, text: &str, extra: &[&str]) -> Value {
    let file = ledger.file(name, text.as_bytes());
    let mut args = vec!["replay", "--policy", file.to_str().unwrap(), "--json"];
    args.extend(extra);
    let run = ledger.vouch(&args);
    run.ok();
    run.json()
}

fn check_replay(ledger: &TestLedger) {
    let original = policy();
    let same = replay(ledger, "same.toml", &original, &["--all"]);
    let summary = &same["summary"];
    assert_eq!(summary["replayed"], 5, "{same:#}");
    assert_eq!(summary["changed"], 0, "{same:#}");
    assert_eq!(summary["review_resolutions"], 1, "{same:#}");
    assert_eq!(same["decisions"].as_array().unwrap().len(), 5);

    // A stricter latency SLO flips Run B's promotion (182 ms) and nothing else.
    let strict = original
        .replace("max = 200", "max = 150")
        .replace("version = \"2026.11-1\"", "version = \"2026.12-strict\"");
    let report = replay(ledger, "strict.toml", &strict, &[]);
    assert_eq!(report["summary"]["changed"], 1, "{report:#}");
    assert_eq!(report["summary"]["transitions"]["promoted -> rejected"], 1);
    let flipped = &report["decisions"][0];
    assert_eq!(flipped["run"], "loan-risk-b");
    assert_eq!(flipped["old_outcome"], "promoted");
    assert_eq!(flipped["new_outcome"], "rejected");
    assert_eq!(flipped["gates"][0]["gate"], "latency-slo");
    assert_eq!(flipped["gates"][0]["new"]["candidate"], 182.0);
    assert_eq!(report["policy"]["version"], "2026.12-strict");

    // The table names the flipped decision and the gate.
    let file = ledger.file("strict2.toml", strict.as_bytes());
    let table = ledger.vouch(&["replay", "--policy", file.to_str().unwrap()]);
    let out = table.ok();
    assert!(
        out.contains("loan-risk-b") && out.contains("latency-slo"),
        "{out}"
    );
    assert!(
        out.contains("1 would change (1 promoted -> rejected)"),
        "{out}"
    );

    // A metric no run logged is reported per decision, not a crash.
    let typo = original.replace("metric = \"ece\"", "metric = \"ece_v2\"");
    let report = replay(ledger, "typo.toml", &typo, &["--all"]);
    assert_eq!(report["never_logged"], serde_json::json!(["ece_v2"]));
    for d in report["decisions"].as_array().unwrap() {
        assert_eq!(d["missing"], serde_json::json!(["ece_v2"]), "{d:#}");
    }
}

fn check_as_of(ledger: &TestLedger) {
    let decisions = ledger.vouch(&["decisions", "--json"]).json();
    let decisions = decisions.as_array().unwrap();
    let b = decisions
        .iter()
        .find(|d| d["run"] == "loan-risk-b")
        .unwrap();
    let before_b = b["position"].as_u64().unwrap() - 1;
    let before = before_b.to_string();

    // Just before B's promotion the registry's production version was the first release.
    let then = ledger
        .vouch(&[
            "registry",
            "--model",
            "loan-risk",
            "--as-of",
            &before,
            "--json",
        ])
        .json();
    let versions = then[0]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{then:#}");
    assert_eq!(versions[0]["run"], "loan-risk-prod");
    assert_eq!(versions[0]["production"], true);
    assert!(
        versions[0]["approved_by"]
            .as_str()
            .unwrap()
            .contains("by review"),
        "{then:#}"
    );
    assert!(versions[0]["evidence"]["events"].as_u64().unwrap() > 0);
    let now = ledger
        .vouch(&["registry", "--model", "loan-risk", "--json"])
        .json();
    let current = now[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["production"] == true)
        .unwrap()
        .clone();
    assert_eq!(current["run"], "loan-risk-b");

    // Time travel by time: before any decision, no model had one.
    let early = ledger.vouch(&["registry", "--as-of", "2026-01-01"]);
    assert!(early.ok().contains("no model had decisions"), "{early:?}");

    // Runs as of position 1 hold only the first event.
    let listed = ledger
        .vouch(&["runs", "list", "--as-of", "1", "--json"])
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");

    // The whole log equals now.
    let last = ledger.vouch(&["status", "--json"]).json()["log_position"]
        .as_u64()
        .unwrap()
        .to_string();
    let all_then = ledger
        .vouch(&["runs", "show", "loan-risk-b", "--as-of", &last, "--json"])
        .json();
    let all_now = ledger
        .vouch(&["runs", "show", "loan-risk-b", "--json"])
        .json();
    assert_eq!(all_then, all_now);

    // gate --as-of evaluates on the evidence then.
    let file = ledger.file("gate.toml", policy().as_bytes());
    let gate = ledger.vouch(&[
        "gate",
        "--run",
        "loan-risk-c",
        "--model",
        "loan-risk",
        "--policy",
        file.to_str().unwrap(),
        "--as-of",
        &before,
        "--json",
    ]);
    assert_eq!(gate.code, 1, "C is rejected for latency: {gate:?}");
    assert_eq!(gate.json()["baseline"], "loan-risk-prod");
}

#[test]
fn replay_and_time_travel_on_the_embedded_ledger() {
    let ledger = TestLedger::uninitialised();
    demo(&ledger);
    check_replay(&ledger);
    check_as_of(&ledger);
}

#[test]
fn replay_and_time_travel_over_nats() {
    let server = NatsServer::start();
    let ledger = TestLedger::nats_uninitialised(&server.url());
    demo(&ledger);
    check_replay(&ledger);
    check_as_of(&ledger);
}

#[test]
fn bad_history_input_gets_a_clear_error() {
    // No decisions yet.
    let empty = TestLedger::new();
    let file = empty.file("p.toml", policy().as_bytes());
    empty
        .vouch(&["replay", "--policy", file.to_str().unwrap()])
        .fails(65, "loan-risk has no decisions");
    // The demo runs only in a ledger it creates.
    let ledger = TestLedger::uninitialised();
    let file = ledger.file("p.toml", policy().as_bytes());
    let p = file.to_str().unwrap();
    demo(&ledger);
    ledger
        .vouch(&["replay", "--policy", p, "--since", "yesterday"])
        .fails(65, "--since");
    ledger
        .vouch(&["replay", "--policy", p, "--since", "2100-01-01"])
        .fails(65, "is in the future");
    ledger
        .vouch(&[
            "replay",
            "--policy",
            p,
            "--since",
            "2026-11-02",
            "--until",
            "2026-11-01",
        ])
        .fails(65, "no decision can match");
    ledger
        .vouch(&["replay", "--policy", "missing.toml"])
        .fails(66, "cannot read policy");
    let broken = ledger.file("broken.toml", b"model = \"loan-risk\"\nversion = 3\n");
    ledger
        .vouch(&["replay", "--policy", broken.to_str().unwrap()])
        .fails(65, "broken.toml");
    ledger
        .vouch(&["replay", "--policy", p, "--model", "nobody"])
        .fails(65, "nobody has no decisions");
    ledger
        .vouch(&["registry", "--as-of", "99999999"])
        .fails(65, "beyond the log's end");
    ledger
        .vouch(&["runs", "list", "--as-of", "2026-13-01"])
        .fails(65, "--as-of");
    ledger
        .vouch(&["runs", "show", "loan-risk-b", "--as-of", "1"])
        .fails(65, "as of log position 1");
    ledger
        .vouch(&["registry", "--as-of", "2100-01-01T00:00:00Z"])
        .fails(65, "is in the future");
    // Replay is a read: it never writes to the ledger.
    let before = ledger.dump();
    replay(&ledger, "again.toml", &policy(), &[]);
    assert_eq!(before, ledger.dump());
}
