//! The stock MLflow Python client (pinned in scripts/test-requirements.txt) against a real
//! `vouch serve --http` on a free loopback port: a training script logs, searches and reads
//! back; `log_model` and the registry; aliases moved by promotion, refused by a gate, and
//! resolved after a review. What the client wrote is checked through the CLI's `--json`
//! output and `vouch verify`.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Server, TestLedger};

/// How long one client script may take (a `log_model` infers requirements: seconds).
const SCRIPT_DEADLINE: Duration = Duration::from_secs(300);

/// Runs a client script from `tests/mlflow/` against `server`; its last stdout line is
/// JSON.
fn client(server: &Server, script: &str, args: &[&str]) -> serde_json::Value {
    let python = std::env::var("VOUCH_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/mlflow")
        .join(script);
    let mut child = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("MLFLOW_TRACKING_URI", format!("http://{}", server.addr))
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        // A refusal must reach the script at once, not after minutes of retries.
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
        .env("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
        .env("GIT_PYTHON_REFRESH", "quiet")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {python} ({e}): run the tests with ./scripts/test, or set VOUCH_TEST_PYTHON")
        });
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + SCRIPT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{script} hung for {SCRIPT_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        !stderr.contains("No module named 'mlflow'"),
        "the MLflow client is not importable by {python}: run the tests with ./scripts/test, \
         which installs the pinned client under target/test-tools and sets PYTHONPATH"
    );
    assert!(status.success(), "{script} failed:\n{stderr}\n{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}\n{stderr}"))
}

#[test]
fn an_mlflow_training_script_logs_into_vouch_unchanged() {
    training_script_logs_into(&TestLedger::new());
}

/// The same script on a ledger whose log is a JetStream stream: the served directory's
/// follower and the server share the ledger.
#[test]
fn over_nats_an_mlflow_training_script_logs_into_vouch_unchanged() {
    let nats = vouch_test_nats::NatsServer::start();
    training_script_logs_into(&TestLedger::nats(&nats.url()));
}

fn training_script_logs_into(ledger: &TestLedger) {
    let server = Server::start(ledger, &["--poll-ms", "20"]);
    let downloads = ledger.tmp.path().join("downloads");
    let seen = client(&server, "train.py", &[downloads.to_str().unwrap()]);

    // What the client read back.
    assert_eq!(seen["status"], "FINISHED", "{seen}");
    assert_eq!(seen["param_change"], "INVALID_PARAMETER_VALUE", "{seen}");
    assert_eq!(seen["metrics"]["auc"], 0.91);
    assert_eq!(
        seen["metrics"]["loss"], 0.2,
        "the latest loss is the last step's"
    );
    assert_eq!(
        seen["nan_kept"], true,
        "a NaN metric is kept as NaN: {seen}"
    );
    assert_eq!(
        seen["params"],
        serde_json::json!({"depth": "6", "lr": "0.1", "trees": "100"})
    );
    assert_eq!(seen["child_parent"], seen["run_id"], "nested run's parent");
    assert_eq!(
        seen["datasets"],
        serde_json::json!([["churn-valid", ["validation"]]])
    );
    let history: Vec<(u64, f64)> = serde_json::from_value(seen["history"].clone()).unwrap();
    assert_eq!(history.len(), 5);
    assert_eq!(history[0], (0, 1.0));
    assert_eq!(
        seen["artifacts"],
        serde_json::json!([["config", true], ["notes.txt", false]])
    );
    assert_eq!(seen["notes"], "trained on november data");
    assert_eq!(
        seen["search_auc"],
        serde_json::json!(["fold-1", "gbm-a"]),
        "{seen}"
    );
    assert_eq!(seen["search_tag"], serde_json::json!(["gbm-a"]));
    assert_eq!(seen["search_failed"], serde_json::json!(["broken"]));
    assert_eq!(
        seen["ordered"],
        serde_json::json!(["gbm-a", "fold-1", "broken"]),
        "by auc, highest first"
    );
    assert_eq!(seen["bad_filter"], "INVALID_PARAMETER_VALUE");
    assert_eq!(
        seen["after_delete"],
        serde_json::json!(["broken", "gbm-a"]),
        "a deleted run is not listed"
    );
    assert_eq!(
        seen["after_restore"],
        serde_json::json!(["broken", "fold-1", "gbm-a"])
    );
    assert_eq!(seen["tags"], serde_json::json!({"team": "risk-2"}));
    assert_eq!(seen["unknown_run"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(seen["experiments"], serde_json::json!(["Default", "churn"]));
    assert_eq!(seen["experiment_found"], serde_json::json!(["churn"]));

    // The same facts, through the CLI, as Vouch's own evidence.
    let run = seen["run_id"].as_str().unwrap();
    let shown = ledger.vouch(&["--json", "runs", "show", run]).json();
    assert_eq!(shown["status"], "ok", "{shown}");
    assert_eq!(shown["started"]["experiment"], "churn");
    assert_eq!(shown["params"]["lr"]["value"], "0.1");
    assert_eq!(shown["tags"]["team"], "risk-2");
    assert!(shown["tags"].get("stage").is_none(), "the tag was deleted");
    let notes = shown["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "notes.txt")
        .unwrap_or_else(|| panic!("notes.txt is a run artifact: {shown}"));
    let blob = ledger.path().join("artifacts/blobs").join(
        notes["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("blake3:"),
    );
    assert_eq!(
        std::fs::read_to_string(blob).unwrap(),
        "trained on november data",
        "the upload is stored under its BLAKE3 digest"
    );
    let verified = ledger.vouch(&["--json", "verify"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(server.stop().success());
}

#[test]
fn mlflow_aliases_are_promotions() {
    let ledger = TestLedger::uninitialised();
    // The fraud demo leaves a release key, a reviewer key and the fraud policy published.
    ledger.vouch(&["demo", "fraud"]).ok();
    let files = ledger.path().join("demo-files");
    let churn = ledger.file(
        "churn.toml",
        br#"model = "churn"
version = "2026.12-1"
description = "Churn scorer: an AUC floor."

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.8
reason = "below 0.80 AUC the retention team calls the wrong customers"
"#,
    );
    let release_key = files.join("release-signer.key");
    let server = Server::start(
        &ledger,
        &[
            "--release-key",
            release_key.to_str().unwrap(),
            "--policy",
            churn.to_str().unwrap(),
        ],
    );
    let seen = client(&server, "registry.py", &[]);
    assert_eq!(seen["versions"], serde_json::json!(["1", "2"]), "{seen}");
    assert_eq!(seen["status"], "READY");
    assert_eq!(seen["loaded"], serde_json::json!([0.93, 0.93]));
    // A passing gate moves champion, and the model loads by alias.
    assert_eq!(seen["champion"], "1");
    assert_eq!(seen["champion_loaded"], serde_json::json!([0.93]));
    // A failing gate refuses (403, never 5xx) with the gate table; champion stays.
    let refused = &seen["refused"];
    assert_eq!(refused["code"], "PERMISSION_DENIED", "{seen}");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("auc-floor") && message.contains("FAIL") && message.contains("0.61"),
        "{message}"
    );
    assert_eq!(seen["champion_after"], "1");
    // Unguarded aliases move freely; a guarded one is never removed.
    assert_eq!(seen["challenger"], "2");
    assert_eq!(seen["challenger_gone"], true);
    assert_eq!(seen["champion_delete"], "PERMISSION_DENIED");
    // The fraud policy always asks for a review: champion waits for it.
    let review = &seen["review"];
    assert_eq!(review["code"], "PERMISSION_DENIED", "{seen}");
    let message = review["message"].as_str().unwrap();
    assert!(message.contains("needs a review"), "{message}");
    let decision = message
        .split("blake3:")
        .nth(1)
        .map(|rest| &rest[..12])
        .unwrap_or_else(|| panic!("the refusal names the decision: {message}"));
    let resolve = |model: &str| client(&server, "registry.py", &["resolve", model, "champion"]);
    assert_eq!(
        resolve("fraud-detector")["error"],
        "RESOURCE_DOES_NOT_EXIST"
    );

    // The reviewer approves on their machine; a release key enacts. The CLI works on the
    // directory while the server runs.
    let reviewer = files.join("fraud-reviewer.key");
    ledger
        .vouch(&[
            "review",
            "approve",
            "--decision",
            decision,
            "--key",
            reviewer.to_str().unwrap(),
            "--reason",
            "backtested on last month's chargebacks",
        ])
        .ok();
    assert_eq!(
        resolve("fraud-detector")["error"],
        "RESOURCE_DOES_NOT_EXIST",
        "approved but not enacted: champion has not moved"
    );
    ledger
        .vouch(&[
            "review",
            "enact",
            "--decision",
            decision,
            "--key",
            release_key.to_str().unwrap(),
        ])
        .ok();
    assert_eq!(
        resolve("fraud-detector")["version"],
        seen["review_version"],
        "after the review, champion names the approved version"
    );

    // The decisions are Vouch's own: signed, chained, and the promoted model's file is
    // audited back to the evidence the script logged.
    let decisions = ledger.vouch(&["--json", "decisions"]).json();
    let churn_decisions: Vec<&serde_json::Value> = decisions
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["model"] == "churn")
        .collect();
    assert_eq!(
        churn_decisions
            .iter()
            .map(|d| d["outcome"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["promoted", "rejected"],
        "{decisions}"
    );
    let good = seen["good_run"].as_str().unwrap();
    let shown = ledger.vouch(&["--json", "runs", "show", good]).json();
    let pickle = shown["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"].as_str().unwrap().ends_with("/python_model.pkl"))
        .unwrap_or_else(|| panic!("the logged model's files are the run's artifacts: {shown}"));
    let digest = pickle["digest"].as_str().unwrap();
    ledger
        .vouch(&[
            "deploy",
            "--model",
            "churn",
            "--env",
            "production",
            "--digest",
            digest,
            "--key",
            release_key.to_str().unwrap(),
        ])
        .ok();
    let audit = ledger.vouch(&["audit", "--digest", digest]);
    assert_eq!(audit.code, 0, "{}\n{}", audit.stdout, audit.stderr);
    assert!(audit.stdout.contains("auc-floor"), "{}", audit.stdout);
    let verified = ledger.vouch(&["verify"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert!(server.stop().success());
}
