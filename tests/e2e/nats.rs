//! The CLI over a NATS JetStream stream: every ledger directory here is a set of views
//! over one stream on a server the test started itself.
//!
//! What is shown: directories sharing a stream agree (the demo, concurrent promoters from
//! many directories), bad NATS input fails fast with its documented exit code and never
//! echoes a secret, `vouch migrate` copies an embedded ledger faithfully and refuses a
//! stream holding something else, and a retry published after the server's duplicate window
//! is stored twice but applied once.
//!
//! Streams with settings the CLI would never choose are made through the JetStream API
//! over the plain NATS text protocol ([`jetstream_api`]): a few lines, and no client
//! library besides the one under test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use vouch_event::{Body, RunId, Subject};
use vouch_ledger::{AppendError, Ledger, OpenOptions};
use vouch_log::{Appended, Log, Position};
use vouch_test_nats::NatsServer;

use crate::support::{metric_event, start_event, trust_like, Run, TestLedger};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// What a finished process did.
fn finished(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a prepared command to completion.
fn run(command: &mut Command) -> Run {
    finished(command.output().expect("spawn vouch"))
}

/// Asserts the exit code and that standard error mentions every needle.
#[track_caller]
fn fails_with(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(
        run.code, code,
        "wrong exit code\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}\nstderr: {}",
            run.stderr
        );
    }
}

/// Asserts that nothing the command printed contains `secret`.
#[track_caller]
fn never_shows(run: &Run, secret: &str) {
    assert!(
        !run.stdout.contains(secret) && !run.stderr.contains(secret),
        "a secret was printed\nstdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
}

/// A `nats://` URL on a loopback port nobody listens on (bound, then released).
fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("free loopback port");
    let port = listener.local_addr().expect("bound address").port();
    drop(listener);
    format!("nats://127.0.0.1:{port}")
}

/// The JSON document a read command prints with `--json`.
#[track_caller]
fn json(ledger: &TestLedger, args: &[&str]) -> Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    ledger.vouch(&full).json()
}

/// `decisions --json`, the whole chain.
#[track_caller]
fn decisions(ledger: &TestLedger) -> Vec<Value> {
    json(ledger, &["decisions", "--limit", "100000"])
        .as_array()
        .expect("decisions --json is a list")
        .clone()
}

/// One JetStream API request over the NATS text protocol: CONNECT, subscribe to a reply
/// inbox, publish the request, answer the server's PINGs, return the reply's JSON.
fn jetstream_api(url: &str, subject: &str, request: &Value) -> Value {
    nats_request(url, subject, &[], request.to_string().as_bytes())
}

/// One request over the NATS text protocol, with `headers` if any (HPUB): a JetStream API
/// call, or a publish to the stream whose reply is its ack (`seq`, `duplicate`) or error.
fn nats_request(url: &str, subject: &str, headers: &[(&str, &str)], payload: &[u8]) -> Value {
    const INBOX: &str = "_INBOX.vouch-e2e";
    let addr = url.strip_prefix("nats://").expect("a nats:// URL");
    let socket = TcpStream::connect(addr).expect("connect to the test server");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut writer = socket.try_clone().expect("socket handle");
    let mut reader = BufReader::new(socket);
    let mut line = String::new();
    reader.read_line(&mut line).expect("the server's INFO");
    assert!(line.starts_with("INFO "), "not a NATS server: {line}");
    write!(
        writer,
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"lang\":\"vouch-e2e\",\"version\":\"0\",\
         \"protocol\":1,\"headers\":true,\"no_responders\":true}}\r\n\
         SUB {INBOX} 1\r\n"
    )
    .expect("send CONNECT");
    if headers.is_empty() {
        write!(writer, "PUB {subject} {INBOX} {}\r\n", payload.len()).expect("send PUB");
    } else {
        let mut block = String::from("NATS/1.0\r\n");
        for (name, value) in headers {
            block.push_str(&format!("{name}: {value}\r\n"));
        }
        block.push_str("\r\n");
        write!(
            writer,
            "HPUB {subject} {INBOX} {} {}\r\n{block}",
            block.len(),
            block.len() + payload.len()
        )
        .expect("send HPUB");
    }
    writer.write_all(payload).expect("send the payload");
    writer.write_all(b"\r\n").expect("send the payload");
    writer.flush().expect("flush");
    loop {
        line.clear();
        let n = reader.read_line(&mut line).expect("read from the server");
        assert!(n > 0, "the server closed the connection");
        let text = line.trim_end();
        let body = |reader: &mut BufReader<TcpStream>, len: &str| -> Vec<u8> {
            let len: usize = len.parse().expect("payload length");
            let mut buf = vec![0; len + 2];
            reader.read_exact(&mut buf).expect("payload");
            buf.truncate(len);
            buf
        };
        if text == "PING" {
            writer.write_all(b"PONG\r\n").expect("pong");
        } else if text.starts_with("-ERR") {
            panic!("the server refused the request: {text}");
        } else if let Some(rest) = text.strip_prefix("MSG ") {
            let len = rest.split_whitespace().last().expect("MSG length");
            let reply = body(&mut reader, len);
            return serde_json::from_slice(&reply).expect("the API answers JSON");
        } else if let Some(rest) = text.strip_prefix("HMSG ") {
            // Only a status reply (no responders: JetStream is off) carries headers here.
            let len = rest.split_whitespace().last().expect("HMSG length");
            let reply = body(&mut reader, len);
            panic!(
                "{subject}: status reply {}",
                String::from_utf8_lossy(&reply)
            );
        }
        // +OK, PONG, INFO: nothing to do.
    }
}

/// Makes the server of stream `VOUCH` forget the event ids `ids` (published on `subject`),
/// as if its duplicate window had passed, without waiting two minutes: the window is
/// shortened to 1 s until the server no longer recognises any of them, then set back to
/// the 2 minutes Vouch requires. Whether an id is remembered is asked with a publish that
/// cannot be stored: the id with `Nats-Expected-Last-Msg-Id` set to an id nobody uses. The
/// server answers a remembered id as a duplicate before it checks that condition, and
/// refuses a forgotten one for the condition.
fn forget_ids(url: &str, subject: &str, ids: &[&str]) {
    let set_window = |nanos: u64| {
        let mut config = stream_config(url, "VOUCH");
        config["duplicate_window"] = json!(nanos);
        let reply = jetstream_api(url, "$JS.API.STREAM.UPDATE.VOUCH", &config);
        assert!(reply["error"].is_null(), "updating the window: {reply:#}");
    };
    set_window(1_000_000_000);
    let until = std::time::Instant::now() + Duration::from_secs(60);
    for id in ids {
        loop {
            let headers = [
                ("Nats-Msg-Id", *id),
                ("Nats-Expected-Last-Msg-Id", "vouch-e2e-no-such-id"),
            ];
            let ack = nats_request(url, subject, &headers, b"probe");
            if ack["duplicate"] == true {
                assert!(
                    std::time::Instant::now() < until,
                    "the server still remembers `{id}`: {ack}"
                );
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            assert!(
                ack["error"]["err_code"] == 10070,
                "the probe for `{id}` was not refused for its condition (was it stored?): {ack}"
            );
            break;
        }
    }
    set_window(120_000_000_000);
}

/// Creates a stream with exactly `config`, as an operator (or another tool) might.
fn create_stream(url: &str, config: Value) {
    let name = config["name"].as_str().expect("stream name").to_owned();
    let reply = jetstream_api(url, &format!("$JS.API.STREAM.CREATE.{name}"), &config);
    assert!(
        reply["error"].is_null(),
        "creating stream {name}: {reply:#}"
    );
}

/// The configuration of stream `name` as the server reports it.
fn stream_config(url: &str, name: &str) -> Value {
    let reply = jetstream_api(url, &format!("$JS.API.STREAM.INFO.{name}"), &json!({}));
    assert!(reply["error"].is_null(), "stream info {name}: {reply:#}");
    reply["config"].clone()
}

/// A stream config that keeps every promise but the ones the caller overrides.
fn vouch_stream(overrides: Value) -> Value {
    let mut config = json!({
        "name": "VOUCH",
        "subjects": ["vouch.>"],
        "retention": "limits",
        "storage": "file",
        "discard": "old",
        "num_replicas": 1,
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "duplicate_window": 120_000_000_000u64,
        "deny_delete": true,
        "deny_purge": true,
        "allow_rollup_hdrs": false,
    });
    for (key, value) in overrides.as_object().expect("an object of overrides") {
        config[key] = value.clone();
    }
    config
}

/// Every record on the stream `VOUCH` of `server`, in order.
fn stream_records(server: &NatsServer) -> Vec<vouch_log::Record> {
    let log = server.log();
    let mut all = Vec::new();
    let mut next = Position::new(1);
    loop {
        let records = log.read(next, 4096).expect("read the stream");
        let Some(last) = records.last() else {
            return all;
        };
        next = last.position.next();
        all.extend(records);
    }
}

// ---------------------------------------------------------------------------------------
// Sharing one stream
// ---------------------------------------------------------------------------------------

/// Two directories over one stream see the same evidence: the stream is the truth, each
/// directory only its own views of it.
#[test]
fn two_directories_over_one_stream_see_the_same_runs() {
    let server = NatsServer::start();
    let first = TestLedger::nats(&server.url());
    first.start_run("r-1");
    first
        .vouch(&["log", "metric", "--run", "r-1", "auc=0.91", "loss=0.2"])
        .ok();
    let second = TestLedger::nats(&server.url());
    let shown = second.vouch(&["runs", "show", "r-1", "--json"]).json();
    assert_eq!(shown["metrics"][0]["name"], "auc", "{shown}");
    assert_eq!(shown["metrics"][0]["value"], 0.91, "{shown}");
    assert_eq!(first.dump(), second.dump());
}

/// The worked example runs unchanged over a stream, and another machine following that
/// stream answers every release question the same way; it verifies the chain once it
/// trusts the same keys (trust is the verifier's choice, kept per directory).
#[test]
fn the_loan_risk_demo_over_nats_reads_the_same_from_a_second_directory() {
    let server = NatsServer::start();
    let first = TestLedger::nats_uninitialised(&server.url());
    let out = first.vouch(&["demo", "loan-risk"]).ok().to_owned();
    assert!(out.contains("95 events published"), "{out}");
    let status = json(&first, &["status"]);
    assert_eq!(status["backend"], "nats", "{status}");
    assert_eq!(status["stream"], "VOUCH", "{status}");
    assert_eq!(status["counts"]["runs"], 5, "{status}");
    assert_eq!(status["counts"]["decisions"], 6, "{status}");
    assert_eq!(status["counts"]["quarantined"], 0, "{status}");

    let second = TestLedger::nats(&server.url());
    // Before it trusts the demo's keys, the second directory cannot vouch for the chain.
    fails_with(&second.vouch(&["verify"]), 1, &["not in the trust list"]);
    trust_like(&first, &second);

    assert_eq!(json(&second, &["registry"]), json(&first, &["registry"]));
    let chain = decisions(&second);
    assert_eq!(chain, decisions(&first));
    let outcomes: Vec<(&str, &str)> = chain
        .iter()
        .map(|d| (d["run"].as_str().unwrap(), d["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("loan-risk-prod", "needs_review"),
            ("loan-risk-prod", "promoted"),
            ("loan-risk-a", "rejected"),
            ("loan-risk-b", "promoted"),
            ("loan-risk-c", "rejected"),
            ("loan-risk-d", "rejected"),
        ]
    );
    assert_eq!(first.dump(), second.dump());
    let verified = second.vouch(&["--json", "verify"]).json();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["report"]["decisions"], 6, "{verified}");
    second.vouch(&["verify"]).ok();
    // The deployed artifact audits back to its evidence from the other directory too.
    let model = first.path().join("demo-files/loan-risk-b.model");
    second.vouch(&["audit", s(&model)]).ok();
    // The stream holds exactly what the first directory counted, nothing twice.
    assert_eq!(
        json(&second, &["status"])["log_position"],
        status["log_position"]
    );
}

// ---------------------------------------------------------------------------------------
// Concurrent promoters
// ---------------------------------------------------------------------------------------

/// A policy whose gates are absolute, so each candidate's outcome does not depend on
/// which promotion lands first.
const CREDIT_POLICY: &str = r#"model = "credit"
version = "nats-e2e-1"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "AUC below 0.80 loses money"

[[gate]]
name = "latency-slo"
metric = "latency_p95_ms"
max = 200
reason = "p95 latency must stay within the 200 ms SLO"

[[gate]]
name = "model-file"
require_artifacts = ["model.bin"]
reason = "the audited artifact is the one that gets deployed"
"#;

/// JSON lines for a finished run with overall metrics and a `model.bin` artifact.
fn run_evidence(run: &str, auc: f64, latency: f64) -> Vec<String> {
    let event = |suffix: &str, kind: &str, data: Value| {
        json!({
            "id": format!("{run}:{suffix}"),
            "kind": kind,
            "schema": 1,
            "time": "2026-11-28T04:20:51Z",
            "producer": "ci/credit#nats",
            "run": run,
            "data": data,
        })
        .to_string()
    };
    let weights = format!("weights of {run}\n");
    vec![
        event(
            "start",
            "run_started",
            json!({ "experiment": "credit-xgb" }),
        ),
        event(
            "metrics",
            "metrics_logged",
            json!({ "metrics": { "auc": auc, "latency_p95_ms": latency } }),
        ),
        event(
            "model",
            "artifact_logged",
            json!({
                "name": "model.bin",
                "digest": format!("blake3:{}", blake3::hash(weights.as_bytes()).to_hex()),
                "size": weights.len(),
                "uri": format!("s3://credit-models/{run}/model.bin"),
            }),
        ),
        event("end", "run_finished", json!({ "status": "ok" })),
    ]
}

/// Eight processes, each on its own machine's directory, promote at once onto one
/// stream: the server's conditional append keeps the chain linear, every promotion lands
/// exactly once, and every directory verifies the same chain.
#[test]
fn concurrent_promoters_in_separate_directories_extend_one_linear_chain() {
    const PROMOTERS: usize = 8;
    let server = NatsServer::start();
    let url = server.url();
    let seed = TestLedger::nats(&url);
    let key_file = seed.tmp.path().join("release.key");
    let generated = seed.vouch(&["keys", "generate", "--out", s(&key_file)]);
    let public = generated
        .ok()
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .expect("a public key line")
        .trim()
        .to_owned();
    seed.vouch(&["keys", "trust", &public, "--name", "release-bot"])
        .ok();
    let policy = seed.file("credit.toml", CREDIT_POLICY.as_bytes());
    // Even candidates pass every gate, odd ones miss the AUC floor.
    let mut lines = run_evidence("seed", 0.85, 150.0);
    for i in 0..PROMOTERS {
        let auc = if i % 2 == 0 {
            0.86 + i as f64 * 0.001
        } else {
            0.71
        };
        lines.extend(run_evidence(&format!("c{i}"), auc, 140.0));
    }
    let evidence = seed.file("evidence.jsonl", (lines.join("\n") + "\n").as_bytes());
    seed.vouch(&["ingest", s(&evidence)]).ok();
    let promote = |run: &str| -> Vec<String> {
        let args = [
            "promote",
            "--run",
            run,
            "--model",
            "credit",
            "--policy",
            s(&policy),
            "--key",
            s(&key_file),
        ];
        args.map(str::to_owned).to_vec()
    };
    // One decision already on the chain: the eight extend it.
    let seed_promote = promote("seed");
    let seed_promote: Vec<&str> = seed_promote.iter().map(String::as_str).collect();
    seed.vouch(&seed_promote).ok();

    let directories: Vec<TestLedger> = (0..PROMOTERS)
        .map(|_| {
            let dir = TestLedger::nats(&url);
            dir.vouch(&["keys", "trust", &public, "--name", "release-bot"])
                .ok();
            dir
        })
        .collect();
    let children: Vec<_> = directories
        .iter()
        .enumerate()
        .map(|(i, dir)| {
            dir.command()
                .args(promote(&format!("c{i}")))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn vouch promote")
        })
        .collect();
    let mut printed = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = finished(child.wait_with_output().expect("wait for promote"));
        // 0: promoted, 1: a gate failed (and the rejection is recorded). Anything else,
        // a lost race included, is a failure of the promise.
        let expected = if i % 2 == 0 { 0 } else { 1 };
        assert_eq!(
            out.code, expected,
            "promote c{i}\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        let id = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("decision "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("promote c{i} printed no decision: {}", out.stdout))
            .to_owned();
        printed.push((format!("c{i}"), format!("blake3:{id}")));
    }

    let chain = decisions(&directories[0]);
    assert_eq!(chain.len(), PROMOTERS + 1, "{chain:#?}");
    assert_eq!(chain[0]["run"], "seed");
    for (i, d) in chain.iter().enumerate() {
        assert_eq!(d["index"], i as u64, "consecutive indexes: {d}");
    }
    for (run, hash) in &printed {
        let on_chain = chain
            .iter()
            .find(|d| d["hash"] == hash.as_str())
            .unwrap_or_else(|| panic!("the decision promote {run} printed is not on the chain"));
        assert_eq!(on_chain["run"], run.as_str());
        let outcome = if run[1..].parse::<usize>().unwrap() % 2 == 0 {
            "promoted"
        } else {
            "rejected"
        };
        assert_eq!(on_chain["outcome"], outcome, "{on_chain}");
    }
    // The links themselves, read from the stream: each decision names the one before.
    let mut previous: Option<String> = None;
    let mut on_stream = Vec::new();
    for record in stream_records(&server) {
        let event = vouch_event::decode(&record.bytes).expect("every record decodes");
        if let (Body::DecisionRecorded(d), Subject::Model(model)) = (&event.body, &event.subject) {
            assert_eq!(d.index, on_stream.len() as u64, "chain index on the stream");
            assert_eq!(
                d.prev.map(|p| p.to_string()),
                previous,
                "decision {} does not link to the one before it",
                d.index
            );
            let hash = vouch_chain::decision_hash(model, d).to_string();
            previous = Some(hash.clone());
            on_stream.push(hash);
        }
    }
    let listed: Vec<&str> = chain.iter().map(|d| d["hash"].as_str().unwrap()).collect();
    assert_eq!(
        on_stream, listed,
        "the views list the stream's chain in order"
    );
    // Production is the last promotion on the chain.
    let last_promoted = chain
        .iter()
        .rev()
        .find(|d| d["outcome"] == "promoted")
        .expect("a promotion");
    let registry = json(&directories[0], &["registry"]);
    assert_eq!(
        registry[0]["production"], last_promoted["index"],
        "{registry:#}"
    );
    // Every directory verifies the chain and holds the same views.
    for dir in [&seed, &directories[0], &directories[PROMOTERS - 1]] {
        let report = dir.vouch(&["--json", "verify"]).json();
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["report"]["decisions"], PROMOTERS + 1, "{report}");
    }
    let expected = seed.dump();
    for dir in &directories {
        assert_eq!(dir.dump(), expected);
    }
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

/// A server nobody runs is unavailable (69: retry later), reported promptly with the URL,
/// and `init` leaves no directory behind.
#[test]
fn an_unreachable_server_is_unavailable_and_init_leaves_nothing() {
    let url = unreachable_url();
    let ledger = TestLedger::nats_uninitialised(&url);
    let init = ledger.vouch(&["--nats-timeout", "2", "init"]);
    fails_with(&init, 69, &["cannot connect to NATS", &url]);
    assert!(
        !ledger.path().exists(),
        "a failed init made {:?}",
        ledger.path()
    );
    let status = ledger.vouch(&["--nats-timeout", "2", "status"]);
    fails_with(&status, 69, &["cannot connect to NATS", &url]);
    // With --json the error is one document with the code.
    let doc = ledger
        .vouch(&["--nats-timeout", "2", "--json", "status"])
        .json();
    assert_eq!(doc["exit_code"], 69, "{doc}");
}

/// A directory whose server stopped answering is unavailable too, not damaged: the
/// commands fail with 69 and work again once the server is back.
#[test]
fn a_server_that_went_away_is_unavailable_until_it_returns() {
    let mut server = NatsServer::start();
    let ledger = TestLedger::nats(&server.url());
    ledger.start_run("r-1");
    server.stop();
    let status = ledger.vouch(&["--nats-timeout", "2", "status"]);
    fails_with(&status, 69, &[&server.url()]);
    let log = ledger.vouch(&[
        "--nats-timeout",
        "2",
        "log",
        "metric",
        "--run",
        "r-1",
        "auc=0.9",
    ]);
    assert_eq!(
        log.code, 69,
        "stdout: {}\nstderr: {}",
        log.stdout, log.stderr
    );
    server.start_again();
    let shown = json(&ledger, &["runs", "show", "r-1"]);
    assert_eq!(shown["run"], "r-1", "{shown}");
}

/// `--nats` (or VOUCH_NATS_URL) on a ledger whose log is embedded is a usage error that
/// says why and points at `vouch migrate`: the flag would otherwise be silently ignored.
#[test]
fn nats_on_an_embedded_ledger_is_a_usage_error_naming_the_mismatch() {
    let server = NatsServer::start();
    let mut ledger = TestLedger::new();
    ledger.start_run("r-1");
    ledger.nats = Some(server.url());
    let flagged = ledger.vouch(&["runs", "show", "r-1"]);
    fails_with(&flagged, 64, &["embedded", "vouch migrate"]);
    ledger.nats = None;
    let from_env = run(ledger
        .command()
        .env("VOUCH_NATS_URL", server.url())
        .args(["status"]));
    fails_with(&from_env, 64, &["embedded", "VOUCH_NATS_URL"]);
    // And `init --nats` on it changes nothing.
    let init = run(ledger.command().args(["--nats", &server.url(), "init"]));
    fails_with(&init, 64, &["embedded"]);
    assert_eq!(json(&ledger, &["status"])["backend"], "embedded");
}

/// Secrets come only from the environment, and half of a user/password pair is bad
/// input that is caught before any connection, without repeating the secret.
#[test]
fn a_password_without_a_user_is_bad_input_and_never_echoed() {
    const SECRET: &str = "pw-Zq81-do-not-print";
    let server = NatsServer::start();
    let ledger = TestLedger::nats_uninitialised(&server.url());
    let alone = run(ledger
        .command()
        .env("VOUCH_NATS_PASSWORD", SECRET)
        .args(["init"]));
    fails_with(&alone, 65, &["VOUCH_NATS_PASSWORD", "VOUCH_NATS_USER"]);
    never_shows(&alone, SECRET);
    let user_only = ledger.vouch(&["--nats-user", "alice", "init"]);
    fails_with(&user_only, 65, &["VOUCH_NATS_PASSWORD"]);
    assert!(!ledger.path().exists());
    // No flag takes a password: it cannot leak through `ps`.
    let flag = ledger.vouch(&["--nats-password", SECRET, "init"]);
    assert_eq!(flag.code, 64, "{}", flag.stderr);
}

/// Against a server that requires a user: the right password (from the environment)
/// works and is written nowhere; a wrong one fails without being echoed. (The code is
/// not pinned: an authorization failure has no row of its own in the exit-code table;
/// today it is 69.)
#[test]
fn user_and_password_authenticate_and_a_wrong_password_is_never_echoed() {
    const PASSWORD: &str = "s3cret-Kx7-right";
    const WRONG: &str = "s3cret-Kx7-wrong";
    let server = NatsServer::start_with(&["--user", "alice", "--pass", PASSWORD]);
    let ledger = TestLedger::nats_uninitialised(&server.url());
    let wrong = run(ledger
        .command()
        .env("VOUCH_NATS_USER", "alice")
        .env("VOUCH_NATS_PASSWORD", WRONG)
        .args(["--nats-timeout", "2", "init"]));
    assert_eq!(
        wrong.code, 77,
        "a wrong password is refused credentials\nstderr: {}",
        wrong.stderr
    );
    assert!(
        wrong.stderr.contains(&server.url()),
        "the error names the server: {}",
        wrong.stderr
    );
    never_shows(&wrong, WRONG);
    never_shows(&wrong, PASSWORD);
    assert!(!ledger.path().exists());

    let right = run(ledger
        .command()
        .env("VOUCH_NATS_USER", "alice")
        .env("VOUCH_NATS_PASSWORD", PASSWORD)
        .args(["init"]));
    assert_eq!(right.code, 0, "{}", right.stderr);
    never_shows(&right, PASSWORD);
    let marker = std::fs::read_to_string(ledger.path().join("ledger.json")).expect("marker");
    assert!(!marker.contains(PASSWORD), "the marker holds the password");
    let status = run(ledger
        .command()
        .env("VOUCH_NATS_USER", "alice")
        .env("VOUCH_NATS_PASSWORD", PASSWORD)
        .args(["--json", "status"]));
    assert_eq!(status.code, 0, "{}", status.stderr);
    never_shows(&status, PASSWORD);
    // Without credentials the server refuses the next command.
    let anonymous = ledger.vouch(&["--nats-timeout", "2", "status"]);
    assert!(
        ![0, 70].contains(&anonymous.code),
        "no credentials: exit {}\nstderr: {}",
        anonymous.code,
        anonymous.stderr
    );
    never_shows(&anonymous, PASSWORD);
}

/// A token works from VOUCH_NATS_TOKEN, and a wrong one is never printed.
#[test]
fn a_token_authenticates_and_a_wrong_token_is_never_echoed() {
    const TOKEN: &str = "tok-Vq93-right";
    const WRONG: &str = "tok-Vq93-wrong";
    let server = NatsServer::start_with(&["--auth", TOKEN]);
    let ledger = TestLedger::nats_uninitialised(&server.url());
    let wrong =
        run(ledger
            .command()
            .env("VOUCH_NATS_TOKEN", WRONG)
            .args(["--nats-timeout", "2", "init"]));
    assert_eq!(
        wrong.code, 77,
        "a wrong token is refused credentials\nstderr: {}",
        wrong.stderr
    );
    never_shows(&wrong, WRONG);
    never_shows(&wrong, TOKEN);
    let right = run(ledger
        .command()
        .env("VOUCH_NATS_TOKEN", TOKEN)
        .args(["init"]));
    assert_eq!(right.code, 0, "{}", right.stderr);
    never_shows(&right, TOKEN);
    let marker = std::fs::read_to_string(ledger.path().join("ledger.json")).expect("marker");
    assert!(!marker.contains(TOKEN), "the marker holds the token");
}

/// A password written into the URL (`nats://user:pass@host`, the NATS convention) is a
/// secret as much as VOUCH_NATS_PASSWORD. Vouch refuses such a URL (64: it would be
/// recorded in ledger.json and printed in errors), and no message repeats the password.
#[test]
fn a_password_inside_the_url_is_never_echoed() {
    const PASSWORD: &str = "pw-in-url-Tz55";
    let server = NatsServer::start_with(&["--user", "alice", "--pass", PASSWORD]);
    let right = format!("nats://alice:{PASSWORD}@127.0.0.1:{}", server.port());
    let ledger = TestLedger::nats_uninitialised(&right);
    let init = ledger.vouch(&["--nats-timeout", "2", "init"]);
    never_shows(&init, PASSWORD);
    if init.code == 0 {
        let marker = std::fs::read_to_string(ledger.path().join("ledger.json")).expect("marker");
        assert!(!marker.contains(PASSWORD), "the marker holds the password");
        never_shows(&ledger.vouch(&["status"]), PASSWORD);
    }
    let unreachable = unreachable_url().replace("nats://", &format!("nats://alice:{PASSWORD}@"));
    let down = TestLedger::nats_uninitialised(&unreachable);
    let init = down.vouch(&["--nats-timeout", "2", "init"]);
    assert_eq!(init.code, 64, "{}", init.stderr);
    assert!(
        init.stderr.contains("credentials in the URL"),
        "{}",
        init.stderr
    );
    never_shows(&init, PASSWORD);
    assert!(!down.path().exists(), "a refused URL leaves no directory");
}

/// A credentials file that is not there is "not found" (66), as the README's exit-code
/// table says for every missing file.
#[test]
fn a_missing_credentials_file_is_not_found() {
    let server = NatsServer::start();
    let ledger = TestLedger::nats_uninitialised(&server.url());
    let missing = ledger.tmp.path().join("nobody.creds");
    let run_missing = ledger.vouch(&["--nats-creds", s(&missing), "init"]);
    fails_with(&run_missing, 66, &["credentials", "nobody.creds"]);
}

/// A credentials file that is missing or is not a credentials file is refused before
/// anything is made, naming the file; a garbled one is bad input (65).
#[test]
fn a_missing_or_garbled_credentials_file_is_refused_and_named() {
    let server = NatsServer::start();
    let ledger = TestLedger::nats_uninitialised(&server.url());
    let missing = ledger.tmp.path().join("nobody.creds");
    let run_missing = ledger.vouch(&["--nats-creds", s(&missing), "init"]);
    assert!(
        [65, 66].contains(&run_missing.code),
        "exit {}\nstderr: {}",
        run_missing.code,
        run_missing.stderr
    );
    for needle in ["credentials", "nobody.creds", "No such file"] {
        assert!(
            run_missing.stderr.contains(needle),
            "lacks {needle:?}: {}",
            run_missing.stderr
        );
    }
    assert!(!ledger.path().exists());
    let garbled = ledger.file("garbled.creds", b"this is not a JWT and not an NKey seed\n");
    let run_garbled = ledger.vouch(&["--nats-creds", s(&garbled), "init"]);
    fails_with(&run_garbled, 65, &["garbled.creds"]);
    assert!(!ledger.path().exists());
}

/// A URL that cannot name a server is a mistake in the command, not a server that is
/// down: retrying later cannot help, so it must not exit 69 ("unavailable").
#[test]
fn a_malformed_url_is_a_usage_error_not_an_outage() {
    for url in ["nats://127.0.0.1:notaport", "nats://[::1", "::::"] {
        let ledger = TestLedger::nats_uninitialised(url);
        let init = ledger.vouch(&["--nats-timeout", "2", "init"]);
        fails_with(&init, 64, &[url]);
        assert!(!ledger.path().exists());
    }
}

/// Whatever code a malformed URL gets, it fails promptly, names the URL and leaves no
/// directory.
#[test]
fn a_malformed_url_is_refused_and_named() {
    for url in ["nats://127.0.0.1:notaport", "nats://[::1", "::::"] {
        let ledger = TestLedger::nats_uninitialised(url);
        let init = ledger.vouch(&["--nats-timeout", "2", "init"]);
        assert!(
            ![0, 70].contains(&init.code),
            "{url}: exit {}\nstderr: {}",
            init.code,
            init.stderr
        );
        assert!(init.stderr.contains(url), "{url}: {}", init.stderr);
        assert!(!ledger.path().exists(), "{url}: a directory was made");
    }
}

/// An existing stream that could lose records (purges allowed, records expiring) is
/// refused with 78 and every broken promise named; it is left exactly as it was, and
/// no directory is made for it.
#[test]
fn init_refuses_a_stream_whose_settings_could_lose_records() {
    let server = NatsServer::start();
    let url = server.url();
    create_stream(
        &url,
        vouch_stream(json!({ "deny_purge": false, "max_age": 3_600_000_000_000u64 })),
    );
    let before = stream_config(&url, "VOUCH");
    let ledger = TestLedger::nats_uninitialised(&url);
    let init = ledger.vouch(&["init"]);
    fails_with(&init, 78, &["VOUCH", "deny_purge", "max_age"]);
    assert!(
        !ledger.path().exists(),
        "init made a directory for an unsafe stream"
    );
    let json_init = ledger.vouch(&["--json", "init"]).json();
    assert_eq!(json_init["exit_code"], 78, "{json_init}");
    assert_eq!(
        stream_config(&url, "VOUCH"),
        before,
        "the stream was changed"
    );
    // A stream that does not capture every subject of the prefix is refused as well,
    // naming its subjects.
    create_stream(
        &url,
        vouch_stream(json!({ "name": "NARROW", "subjects": ["narrow.run.>"] })),
    );
    let narrow = TestLedger::nats_uninitialised(&url);
    let init = narrow.vouch(&["init", "--stream", "NARROW", "--prefix", "narrow"]);
    fails_with(&init, 78, &["NARROW", "narrow.run.>", "narrow.>"]);
    assert!(!narrow.path().exists());
}

/// Settings that lose nothing today but break a promise later are refused the same way
/// (78, the setting named, the stream left alone): a message size limit, under which
/// valid events would fail when appended, and a duplicate window other than the
/// documented two minutes.
#[test]
fn init_refuses_a_message_size_limit_and_another_duplicate_window() {
    let server = NatsServer::start();
    let url = server.url();
    for (name, overrides, needle) in [
        ("LIMITED", json!({ "max_msg_size": 4096 }), "max_msg_size"),
        (
            "SHORT",
            json!({ "duplicate_window": 10_000_000_000u64 }),
            "duplicate_window",
        ),
    ] {
        let prefix = name.to_lowercase();
        let mut config = vouch_stream(overrides);
        config["name"] = json!(name);
        config["subjects"] = json!([format!("{prefix}.>")]);
        create_stream(&url, config);
        let before = stream_config(&url, name);
        let ledger = TestLedger::nats_uninitialised(&url);
        let init = ledger.vouch(&["init", "--stream", name, "--prefix", &prefix]);
        fails_with(&init, 78, &[name, needle]);
        assert!(!ledger.path().exists(), "{name}: a directory was made");
        assert_eq!(stream_config(&url, name), before, "{name} was changed");
    }
}

/// A prefix whose subjects NATS keeps for itself (client inboxes, reply routing, `$`
/// system subjects) is a usage error (64) naming it; no stream and no directory is made.
#[test]
fn init_refuses_a_reserved_prefix() {
    let server = NatsServer::start();
    let url = server.url();
    for prefix in ["_INBOX", "_INBOX.vouch", "_R_", "$SYS"] {
        let ledger = TestLedger::nats_uninitialised(&url);
        let init = ledger.vouch(&["init", "--stream", "RESERVED", "--prefix", prefix]);
        fails_with(&init, 64, &[prefix, "reserved"]);
        assert!(!ledger.path().exists(), "{prefix}: a directory was made");
    }
    let reply = jetstream_api(&url, "$JS.API.STREAM.INFO.RESERVED", &json!({}));
    assert!(!reply["error"].is_null(), "a stream was made: {reply:#}");
}

/// A new stream whose subjects another stream already captures cannot be created; the
/// server's reason is passed on and no directory is made.
#[test]
fn init_of_a_second_stream_on_taken_subjects_names_the_overlap() {
    let server = NatsServer::start();
    let url = server.url();
    TestLedger::nats(&url);
    let second = TestLedger::nats_uninitialised(&url);
    let init = second.vouch(&["init", "--stream", "SECOND"]);
    assert!(
        ![0, 70].contains(&init.code),
        "exit {}\nstderr: {}",
        init.code,
        init.stderr
    );
    for needle in ["SECOND", "subjects overlap"] {
        assert!(
            init.stderr.contains(needle),
            "lacks {needle:?}: {}",
            init.stderr
        );
    }
    assert!(!second.path().exists());
    // With its own prefix it is fine.
    second
        .vouch(&["init", "--stream", "SECOND", "--prefix", "second"])
        .ok();
}

/// Subjects taken by another stream are a configuration problem that no retry fixes, so
/// the exit code must not say "unavailable, retry later" (69).
#[test]
fn init_of_a_second_stream_on_taken_subjects_is_a_configuration_error() {
    let server = NatsServer::start();
    let url = server.url();
    TestLedger::nats(&url);
    let second = TestLedger::nats_uninitialised(&url);
    let init = second.vouch(&["init", "--stream", "SECOND"]);
    fails_with(&init, 78, &["SECOND", "subjects overlap"]);
}

/// A directory bound to a stream the server does not have (another server, or a stream
/// deleted since) is "not found" (66), names the stream, and creates nothing there:
/// only `init` provisions streams.
#[test]
fn a_directory_whose_stream_is_missing_on_the_server_is_not_found() {
    let a = NatsServer::start();
    let b = NatsServer::start();
    let mut ledger = TestLedger::nats_uninitialised(&a.url());
    ledger.vouch(&["init", "--stream", "EVIDENCE"]).ok();
    ledger.start_run("r-1");
    ledger.nats = Some(b.url());
    let status = ledger.vouch(&["status"]);
    fails_with(&status, 66, &["EVIDENCE", &b.url()]);
    let write = ledger.vouch(&["log", "metric", "--run", "r-1", "auc=0.9"]);
    fails_with(&write, 66, &["EVIDENCE"]);
    let names = jetstream_api(&b.url(), "$JS.API.STREAM.NAMES", &json!({}));
    assert!(
        names["streams"].is_null() || names["streams"] == json!([]),
        "a command created a stream on B: {names}"
    );
    // Back on A, nothing was lost.
    ledger.nats = Some(a.url());
    assert_eq!(json(&ledger, &["runs", "show", "r-1"])["run"], "r-1");
}

/// The missing-stream error tells the operator what to run, and it works on the directory
/// that failed: `init` provisions the stream (with `--stream`). The new stream is another
/// log (its identity differs), so the directory's views, made from the stream that is
/// gone, are not projected onto it until `vouch rebuild` adopts it, as the errors say.
#[test]
fn the_missing_stream_advice_provisions_the_stream() {
    let a = NatsServer::start();
    let b = NatsServer::start();
    let mut ledger = TestLedger::nats_uninitialised(&a.url());
    ledger.vouch(&["init", "--stream", "EVIDENCE"]).ok();
    ledger.nats = Some(b.url());
    let status = ledger.vouch(&["status"]);
    fails_with(
        &status,
        66,
        &[
            "EVIDENCE",
            "vouch init --nats",
            "--stream EVIDENCE",
            "vouch rebuild",
        ],
    );
    let init = ledger.vouch(&["init"]);
    assert!(
        init.code == 0 || init.stderr.contains("vouch rebuild"),
        "exit {}: {}",
        init.code,
        init.stderr
    );
    stream_config(&b.url(), "EVIDENCE");
    ledger.vouch(&["rebuild"]).ok();
    assert_eq!(json(&ledger, &["status"])["stream"], "EVIDENCE");
}

// ---------------------------------------------------------------------------------------
// Migrate
// ---------------------------------------------------------------------------------------

/// `vouch migrate` copies an embedded ledger into a stream with every record at its
/// position, so decisions keep pointing at their evidence: a directory following the
/// stream answers exactly as the embedded ledger did and verifies the chain. Re-running
/// copies nothing; a stream holding other events is refused and left alone.
#[test]
fn migrate_copies_an_embedded_ledger_faithfully_and_refuses_a_foreign_stream() {
    let server = NatsServer::start();
    let url = server.url();
    let embedded = TestLedger::uninitialised();
    embedded.vouch(&["demo", "loan-risk"]).ok();
    let records = json(&embedded, &["status"])["log_position"]
        .as_u64()
        .expect("log position");

    let first = embedded.vouch(&["migrate", "--to", &url]);
    let out = first.ok();
    assert!(
        out.contains(&format!("copied {records} records into stream `VOUCH`")),
        "{out}"
    );
    let again = embedded.vouch(&["--json", "migrate", "--to", &url]).json();
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(again["report"]["copied"], 0, "{again}");
    assert_eq!(again["report"]["already_there"], records, "{again}");
    assert_eq!(again["report"]["verify"]["decisions"], 6, "{again}");

    let follower = TestLedger::nats(&url);
    trust_like(&embedded, &follower);
    assert_eq!(json(&follower, &["status"])["log_position"], records);
    assert_eq!(
        json(&follower, &["registry"]),
        json(&embedded, &["registry"])
    );
    assert_eq!(decisions(&follower), decisions(&embedded));
    follower.vouch(&["verify"]).ok();
    // A NATS ledger is not a source.
    let from_nats = follower.vouch(&["migrate", "--to", &url]);
    fails_with(&from_nats, 65, &["already a NATS stream"]);

    // A stream that already holds other events.
    // (Its own prefix: a server gives each subject to one stream only.)
    let other = TestLedger::nats_uninitialised(&url);
    other
        .vouch(&["init", "--stream", "OTHER", "--prefix", "other"])
        .ok();
    other.start_run("someone-else");
    let foreign = embedded.vouch(&[
        "migrate", "--to", &url, "--stream", "OTHER", "--prefix", "other",
    ]);
    fails_with(
        &foreign,
        65,
        &["OTHER", "not a copy of this ledger", "position 1"],
    );
    assert_eq!(json(&other, &["status"])["log_position"], 1);
}

// ---------------------------------------------------------------------------------------
// A retry after the duplicate window
// ---------------------------------------------------------------------------------------

/// The server deduplicates ids only within its window. A retry from a directory that
/// has seen the events is answered from its views and publishes nothing; a retry from a
/// directory that has not, after the window, is stored again, and every directory applies
/// it once and counts it as a duplicate.
#[test]
fn a_retry_after_the_duplicate_window_is_applied_once() {
    let server = NatsServer::start();
    let url = server.url();
    let first = TestLedger::nats(&url);
    // A second machine whose views have not caught up when it retries.
    let stale = TestLedger::nats(&url);
    let mut lines = vec![
        json!({"id": "late:start", "kind": "run_started", "schema": 1,
               "time": "2026-11-28T04:00:00Z", "producer": "train.py", "run": "late",
               "data": {"experiment": "retries"}}),
        json!({"id": "late:params", "kind": "params_logged", "schema": 1,
               "time": "2026-11-28T04:00:01Z", "producer": "train.py", "run": "late",
               "data": {"params": {"learning_rate": "0.03"}}}),
    ];
    for step in 0..5u64 {
        lines.push(
            json!({"id": format!("late:loss:{step}"), "kind": "metrics_logged",
            "schema": 1, "time": "2026-11-28T04:01:00Z", "producer": "train.py",
            "run": "late", "data": {"metrics": {"loss": 1.0 / (step as f64 + 1.0)},
            "step": step}}),
        );
    }
    lines.push(
        json!({"id": "late:auc", "kind": "metrics_logged", "schema": 1,
        "time": "2026-11-28T04:02:00Z", "producer": "train.py", "run": "late",
        "data": {"metrics": {"auc": 0.861}, "segment": "region=EU"}}),
    );
    lines.push(
        json!({"id": "late:end", "kind": "run_finished", "schema": 1,
        "time": "2026-11-28T04:03:00Z", "producer": "train.py", "run": "late",
        "data": {"status": "ok"}}),
    );
    let events = lines.len() as u64;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = first.file("events.jsonl", text.as_bytes());

    let ingested = json(&first, &["ingest", s(&file)]);
    assert_eq!(ingested["appended"], events, "{ingested}");
    let before = json(&first, &["status"]);
    assert_eq!(before["log_position"], events);
    let shown_before = json(&first, &["runs", "show", "late", "--history", "loss"]);

    // Past the window: the server no longer remembers the ids.
    let ids: Vec<String> = lines
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect();
    forget_ids(
        &url,
        "vouch.run.late",
        &ids.iter().map(String::as_str).collect::<Vec<_>>(),
    );

    // The directory that has the events answers from its views: nothing is published.
    let retried = json(&first, &["ingest", s(&file)]);
    assert_eq!(retried["appended"], 0, "{retried}");
    assert_eq!(retried["duplicates"], events, "{retried}");
    assert_eq!(json(&first, &["status"])["log_position"], events);

    // The stale directory publishes them again; the server no longer remembers the ids.
    let late = json(&stale, &["ingest", s(&file)]);
    assert_eq!(late["events"], events, "{late}");
    let republished = late["appended"].as_u64().expect("appended");
    assert_eq!(
        republished + late["duplicates"].as_u64().expect("duplicates"),
        events,
        "{late}"
    );
    let log_position = events + republished;
    for dir in [&stale, &first] {
        let status = json(dir, &["status"]);
        assert_eq!(status["log_position"], log_position, "{status}");
        assert_eq!(status["view_position"], log_position, "{status}");
        let counts = &status["counts"];
        let expected = &before["counts"];
        assert_eq!(counts["applied"], expected["applied"], "{status}");
        assert_eq!(
            counts["metric_values"], expected["metric_values"],
            "{status}"
        );
        assert_eq!(counts["runs"], 1, "{status}");
        assert_eq!(counts["quarantined"], 0, "{status}");
        assert_eq!(counts["duplicates"], republished, "{status}");
        let shown = json(dir, &["runs", "show", "late", "--history", "loss"]);
        assert_eq!(shown, shown_before, "each event applied once");
        assert_eq!(
            shown["history"]["points"].as_array().map(Vec::len),
            Some(5),
            "{shown}"
        );
    }
    // This test's point needs the late copy on the stream; today's ingest publishes it.
    assert_eq!(
        republished, events,
        "the stale directory did not republish: {late}"
    );
    let fresh = TestLedger::nats(&url);
    assert_eq!(fresh.dump(), first.dump());
    assert_eq!(stale.dump(), first.dump());
    fresh.vouch(&["verify"]).ok();
}

/// One event id names one content, also after the server's window, where only the
/// directory's views recognise a retry: a retry is answered from them only if it is the
/// same record byte for byte; an event reusing the id with other content is refused as an
/// id conflict naming where the id is, and nothing is published.
#[test]
fn a_late_retry_with_other_content_is_an_id_conflict_not_a_duplicate() {
    let server = NatsServer::start();
    let url = server.url();
    let ledger = TestLedger::nats(&url);
    let options = OpenOptions::nats(&url);
    let open = || Ledger::open(&ledger.path(), &options).expect("open the ledger");
    let run = RunId::new("late-conflict").unwrap();
    let (start, metric) = (start_event(&run), metric_event(&run, 1));
    open()
        .append(&[start.clone(), metric.clone()])
        .expect("append");
    forget_ids(
        &url,
        "vouch.run.late-conflict",
        &[start.id.as_str(), metric.id.as_str()],
    );

    let mut changed = metric.clone();
    let Body::MetricsLogged(logged) = &mut changed.body else {
        panic!("a metric event")
    };
    logged.metrics.values_mut().for_each(|v| *v += 1.0);
    // The log's IdConflict, or the ledger's report of it with both digests.
    let conflict = format!(
        "event id `{}` is already in the log at position 2 with other content",
        metric.id
    );
    match open().append(&[changed]) {
        Err(AppendError::Log(e)) if e.to_string().contains(&conflict) => {}
        other => panic!("expected an id conflict, got {other:?}"),
    }
    assert_eq!(
        open().append(&[metric]).expect("a true retry"),
        [Appended::Duplicate(Position::new(2))]
    );
    assert_eq!(stream_records(&server).len(), 2, "nothing was published");
}

/// `status --no-catch-up` shows how far a directory's views are behind the stream (what an
/// operator watches for `vouch serve`); a plain `status` catches up first.
#[test]
fn status_without_catching_up_shows_how_far_the_views_are_behind() {
    let server = NatsServer::start();
    let writer = TestLedger::nats(&server.url());
    let reader = TestLedger::nats(&server.url());
    writer.start_run("r-lag");
    writer
        .vouch(&["log", "metric", "--run", "r-lag", "auc=0.5"])
        .ok();
    let before = reader.vouch(&["status", "--no-catch-up", "--json"]).json();
    assert_eq!(before["behind"], 2, "{before:#}");
    assert_eq!(before["view_position"], 0, "{before:#}");
    let table = reader.vouch(&["status", "--no-catch-up"]);
    assert!(table.ok().contains("2 records behind the log"), "{table:?}");
    let after = reader.vouch(&["status", "--json"]).json();
    assert_eq!(after["behind"], 0, "{after:#}");
    assert_eq!(after["view_position"], 2, "{after:#}");
}

/// VOUCH_NATS_TLS takes the usual spellings of a boolean and refuses anything else.
#[test]
fn vouch_nats_tls_takes_boolean_spellings_and_refuses_others() {
    let server = NatsServer::start();
    let ledger = TestLedger::nats(&server.url());
    for off in ["0", "false", "no", "off"] {
        let status = run(ledger.command().env("VOUCH_NATS_TLS", off).arg("status"));
        assert_eq!(status.code, 0, "VOUCH_NATS_TLS={off}: {}", status.stderr);
    }
    let required =
        run(ledger
            .command()
            .env("VOUCH_NATS_TLS", "1")
            .args(["--nats-timeout", "2", "status"]));
    assert!(
        ![0, 70].contains(&required.code),
        "TLS required of a plain server: {required:?}"
    );
    let bad = run(ledger
        .command()
        .env("VOUCH_NATS_TLS", "maybe")
        .arg("status"));
    fails_with(&bad, 64, &["--nats-tls", "maybe"]);
}
