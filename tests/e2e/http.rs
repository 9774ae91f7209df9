//! `vouch serve --http`: the JSON API through a real server process on a free loopback
//! port, spoken to over plain HTTP/1.1 sockets, beside CLI commands on the same directory.

use std::time::{Duration, Instant};

use crate::support::{Server, TestLedger};

fn line(id: &str, param: &str) -> String {
    format!(
        r#"{{"schema":1,"id":"{id}","time":"2026-11-30T00:00:00Z","producer":"http-test","run":"r1","kind":"params_logged","data":{{"params":{{"{param}":"1"}}}}}}"#
    )
}

#[test]
fn the_json_api_reads_and_ingests_beside_the_cli() {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    ledger
        .vouch(&["log", "metric", "--run", "r1", "auc=0.91"])
        .ok();
    ledger.start_run("r2");
    ledger
        .vouch(&["log", "metric", "--run", "r2", "auc=0.71"])
        .ok();
    let server = Server::start(&ledger, &[]);

    let (code, status) = server.json("/api/v1/status");
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["log_position"], 4, "{status}");

    let (code, runs) = server.json("/api/v1/runs?where=auc%3E0.8");
    assert_eq!(code, 200, "{runs}");
    let names: Vec<_> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].clone())
        .collect();
    assert_eq!(names, ["r1"], "{runs}");
    let (code, bad) = server.json("/api/v1/runs?where=auc%3E%3Ex");
    assert_eq!(
        (code, bad["kind"].as_str()),
        (400, Some("bad_input")),
        "{bad}"
    );

    let (code, run) = server.json("/api/v1/runs/r2");
    assert_eq!((code, run["run"].as_str()), (200, Some("r2")), "{run}");
    let (code, missing) = server.json("/api/v1/runs/nope");
    assert_eq!(
        (code, missing["kind"].as_str()),
        (404, Some("not_found")),
        "{missing}"
    );

    // Ingest: the same validation and line numbers as `vouch ingest`, and idempotent.
    let body = format!("{}\nnot json\n{}\n", line("h1", "lr"), line("h2", "depth"));
    let (code, report) = server.request("POST", "/api/v1/events", None, body.as_bytes());
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(code, 422, "{report}");
    assert_eq!(
        (report["appended"].as_u64(), report["bad"].as_u64()),
        (Some(2), Some(1)),
        "{report}"
    );
    assert_eq!(report["bad_lines"][0]["line"], 2, "{report}");
    let (code, again) = server.request("POST", "/api/v1/events", None, body.as_bytes());
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(code, 422);
    assert_eq!(
        (again["appended"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(2)),
        "{again}"
    );
    // The same id with other content is refused, naming the id.
    let (code, changed) = server.request(
        "POST",
        "/api/v1/events",
        None,
        line("h1", "other").as_bytes(),
    );
    assert_eq!(code, 422, "{changed}");
    assert!(
        changed.contains("h1") && changed.contains("other content"),
        "{changed}"
    );

    // The CLI keeps working on the directory the server serves (a CLI that waited out the
    // lock would exit 69), and sees what the server stored.
    let cli = ledger.vouch(&["--lock-timeout", "10", "--json", "status"]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    assert_eq!(cli.json()["log_position"], 6, "{}", cli.stdout);
    ledger
        .vouch(&["log", "metric", "--run", "r2", "auc=0.95"])
        .ok();
    let (_, runs) = server.json("/api/v1/runs?where=auc%3E0.8");
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "the server sees the CLI's write: {runs}"
    );

    let (_, served) = server.json("/api/v1/status");
    let cli = ledger.vouch(&["--json", "status"]).json();
    assert_eq!(served, cli, "the server's status is the CLI's");

    let status = server.stop();
    assert!(
        status.success(),
        "vouch serve exits 0 on SIGTERM: {status:?}"
    );
}

#[test]
fn bodies_are_capped_and_a_capped_body_stores_nothing() {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    let server = Server::start(&ledger, &["--max-body-mib", "1"]);
    let mut body = String::new();
    let mut i = 0;
    while body.len() < (1 << 20) + 1000 {
        body.push_str(&line(&format!("big-{i}"), "p"));
        body.push('\n');
        i += 1;
    }
    let (code, _) = server.request("POST", "/api/v1/events", None, body.as_bytes());
    assert_eq!(code, 413);
    let (_, status) = server.json("/api/v1/status");
    assert_eq!(
        status["log_position"], 1,
        "nothing of a refused body is stored: {status}"
    );
}

#[test]
fn beyond_loopback_tokens_are_required_and_checked() {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    ledger
        .vouch(&["serve", "--http", "0.0.0.0:0"])
        .fails(64, "without --tokens");
    let tokens = ledger.file(
        "tokens.json",
        br#"{"tokens": [
            {"name": "dashboard", "token": "read-only-token-0123", "scopes": ["read"]},
            {"name": "ci", "token": "write-token-0123456789", "scopes": ["read", "write"]}
        ]}"#,
    );
    let short = ledger.file(
        "short.json",
        br#"{"tokens": [{"name": "x", "token": "short", "scopes": ["read"]}]}"#,
    );
    ledger
        .vouch(&[
            "serve",
            "--http",
            "127.0.0.1:0",
            "--tokens",
            short.to_str().unwrap(),
        ])
        .fails(65, "shorter than 16");
    let server = Server::start(&ledger, &["--tokens", tokens.to_str().unwrap()]);
    let (code, _) = server.request("GET", "/api/v1/status", None, b"");
    assert_eq!(code, 401, "no token");
    let (code, _) = server.request("GET", "/api/v1/status", Some("wrong-token-000000000"), b"");
    assert_eq!(code, 401, "an unknown token");
    let (code, _) = server.request("GET", "/api/v1/status", Some("read-only-token-0123"), b"");
    assert_eq!(code, 200);
    let body = line("t1", "lr");
    let (code, refused) = server.request(
        "POST",
        "/api/v1/events",
        Some("read-only-token-0123"),
        body.as_bytes(),
    );
    assert_eq!(code, 403, "{refused}");
    let (code, report) = server.request(
        "POST",
        "/api/v1/events",
        Some("write-token-0123456789"),
        body.as_bytes(),
    );
    assert_eq!(code, 200, "{report}");
    // Recording decisions needs the promote scope, which write does not include.
    let (code, refused) = server.request(
        "POST",
        "/api/v1/promote",
        Some("write-token-0123456789"),
        b"{}",
    );
    assert_eq!(code, 403, "{refused}");
    let (_, status) = server.request("GET", "/api/v1/status", Some("write-token-0123456789"), b"");
    assert!(status.contains("\"log_position\":2"), "{status}");
}

/// Over NATS, the served directory's views keep following the stream between requests, as
/// `vouch serve` does without --http.
#[test]
fn over_nats_the_served_views_follow_the_stream_between_requests() {
    use vouch_log::Log;
    let nats = vouch_test_nats::NatsServer::start();
    let ledger = TestLedger::nats(&nats.url());
    ledger.start_run("r1");
    let server = Server::start(&ledger, &["--poll-ms", "20"]);
    let run = vouch_event::RunId::new("published").unwrap();
    let mut events = vec![crate::support::start_event(&run)];
    events.extend((0..20).map(|i| crate::support::metric_event(&run, i)));
    let records = events
        .iter()
        .map(|e| vouch_ledger::record(e).unwrap())
        .collect();
    nats.log().append_batch(records).unwrap();
    // No request is made: the views must get there on their own.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = ledger.vouch(&["--json", "status", "--no-catch-up"]).json();
        if status["view_position"] == 22 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the served views did not follow the stream: {status}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, runs) = server.json("/api/v1/runs/published");
    assert_eq!(runs["run"], "published", "{runs}");
    assert!(server.stop().success());
}

/// Verify and audit over HTTP answer as the CLI does, and the bundle the server hands out
/// verifies offline against the ledger's trust.
#[test]
fn verify_audit_and_bundles_over_http() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let server = Server::start(&ledger, &[]);
    let (code, verified) = server.json("/api/v1/verify");
    assert_eq!(
        (code, verified["ok"].as_bool()),
        (200, Some(true)),
        "{verified}"
    );
    let (_, b) = server.json("/api/v1/runs/loan-risk-b");
    let digest = b["artifacts"][0]["digest"].as_str().unwrap().to_owned();
    let (code, audit) = server.json(&format!("/api/v1/audit/{digest}"));
    assert_eq!((code, audit["ok"].as_bool()), (200, Some(true)), "{audit}");
    let cli = ledger
        .vouch(&["--json", "audit", "--digest", &digest])
        .json();
    assert_eq!(
        audit["report"], cli["report"],
        "the server's audit is the CLI's"
    );
    let (code, bundle) =
        server.request("GET", &format!("/api/v1/audit/{digest}/bundle"), None, b"");
    assert_eq!(code, 200, "{bundle}");
    let path = ledger.file("served.bundle.json", bundle.as_bytes());
    let trust = ledger.path().join("trust.json");
    ledger
        .vouch(&[
            "verify-bundle",
            path.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ])
        .ok();
    let (code, registry) = server.json("/api/v1/registry");
    assert_eq!(code, 200, "{registry}");
    let cli = ledger.vouch(&["--json", "registry"]).json();
    assert_eq!(registry, cli, "the server's registry is the CLI's");
    let (code, one) = server.json("/api/v1/registry?model=loan-risk");
    assert_eq!(
        (code, one.as_array().map(Vec::len)),
        (200, Some(1)),
        "{one}"
    );
    let (code, none) = server.json("/api/v1/registry?model=no-such-model");
    assert_eq!(
        (code, none["kind"].as_str()),
        (404, Some("not_found")),
        "{none}"
    );
    let (code, chain) = server.json("/api/v1/decisions?model=loan-risk&limit=3");
    assert_eq!(code, 200, "{chain}");
    let cli = ledger
        .vouch(&[
            "--json",
            "decisions",
            "--model",
            "loan-risk",
            "--limit",
            "3",
        ])
        .json();
    assert_eq!(chain, cli, "the server's decisions are the CLI's");
    assert_eq!(chain.as_array().map(Vec::len), Some(3), "{chain}");
    let (code, bad) = server.json("/api/v1/audit/not-a-digest");
    assert_eq!(
        (code, bad["kind"].as_str()),
        (400, Some("bad_input")),
        "{bad}"
    );
    assert!(server.stop().success());
}

/// A promotion over HTTP is evaluated and signed with the server's release key, exactly as
/// `vouch promote` records it, and a server without a key refuses.
#[test]
fn promotion_over_http_signs_with_the_servers_release_key() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let files = ledger.path().join("demo-files");
    let policy = std::fs::read_to_string(files.join("loan-risk-policy.toml")).unwrap();
    let body = serde_json::json!({ "model": "loan-risk", "run": "loan-risk-c", "policy": policy })
        .to_string();
    let before = ledger.vouch(&["--json", "decisions"]).json();

    let keyless = Server::start(&ledger, &[]);
    let (code, refused) = keyless.request("POST", "/api/v1/promote", None, body.as_bytes());
    assert_eq!(code, 400, "{refused}");
    assert!(refused.contains("--release-key"), "{refused}");
    assert!(keyless.stop().success());

    let key = files.join("release-signer.key");
    let server = Server::start(&ledger, &["--release-key", key.to_str().unwrap()]);
    let (code, decided) = server.request("POST", "/api/v1/promote", None, body.as_bytes());
    assert_eq!(code, 200, "{decided}");
    let decided: serde_json::Value = serde_json::from_str(&decided).unwrap();
    // Run C fails the latency gate: a rejection, recorded and signed.
    assert_eq!(decided["outcome"], "rejected", "{decided}");
    let after = ledger.vouch(&["--json", "decisions"]).json();
    assert_eq!(
        after.as_array().unwrap().len(),
        before.as_array().unwrap().len() + 1,
        "one decision recorded"
    );
    assert_eq!(
        after.as_array().unwrap().last().unwrap()["hash"],
        decided["decision"]
    );
    let (code, verified) = server.json("/api/v1/verify");
    assert_eq!(
        (code, verified["ok"].as_bool()),
        (200, Some(true)),
        "{verified}"
    );
    // A body that is not the request's JSON, and a query that does not parse, are refused
    // in the API's error shape.
    let (code, malformed) = server.request("POST", "/api/v1/promote", None, b"{not json");
    let malformed: serde_json::Value = serde_json::from_str(&malformed).unwrap();
    assert_eq!(
        (code, malformed["kind"].as_str()),
        (400, Some("bad_input")),
        "{malformed}"
    );
    let (code, limit) = server.json("/api/v1/decisions?limit=many");
    assert_eq!(
        (code, limit["kind"].as_str()),
        (400, Some("bad_input")),
        "{limit}"
    );
    let (code, unknown) = server.json("/api/v1/registry?modle=loan-risk");
    assert_eq!(
        (code, unknown["kind"].as_str()),
        (400, Some("bad_input")),
        "{unknown}"
    );
    // A policy for another model is bad input, and nothing is recorded.
    let wrong =
        serde_json::json!({ "model": "fraud-detector", "run": "loan-risk-c", "policy": policy })
            .to_string();
    let (code, bad) = server.request("POST", "/api/v1/promote", None, wrong.as_bytes());
    assert_eq!(code, 400, "{bad}");
    assert!(bad.contains("governs model loan-risk"), "{bad}");
    assert!(server.stop().success());
}

/// The CLI's `--json` output for `args` on `ledger`, asserting it succeeded.
fn cli_json(ledger: &TestLedger, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend(args);
    let run = ledger.vouch(&full);
    run.ok();
    run.json()
}

/// A URL query value: RFC 3339 times carry `+` and `:`.
fn escaped(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asserts an error answer: its status and `kind`, in the API's shape.
fn assert_refused(answer: (u16, serde_json::Value), status: u16, kind: &str) {
    let (code, body) = answer;
    assert_eq!(
        (code, body["kind"].as_str()),
        (status, Some(kind)),
        "{body}"
    );
    assert!(body["error"].is_string(), "{body}");
}

/// `runs` and `runs/{run}` over HTTP, now and `as_of` a position or a time, answer exactly
/// `vouch runs list|show --json` for the same ledger.
#[test]
fn runs_over_http_as_of_are_the_clis_json() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let server = Server::start(&ledger, &[]);

    let (code, served) = server.json("/api/v1/runs?experiment=loan-risk&where=auc%3E0.85");
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(
        &ledger,
        &[
            "runs",
            "list",
            "--experiment",
            "loan-risk",
            "--where",
            "auc>0.85",
        ],
    );
    assert_eq!(served, cli, "the server's runs are the CLI's");

    let (code, served) = server.json("/api/v1/runs?as_of=12");
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(&ledger, &["runs", "list", "--as-of", "12"]);
    assert_eq!(
        served, cli,
        "the server's runs as of a position are the CLI's"
    );
    assert!(!cli.as_array().unwrap().is_empty(), "{cli}");

    let b = cli_json(&ledger, &["runs", "show", "loan-risk-b"]);
    let (code, served) = server.json("/api/v1/runs/loan-risk-b?history=auc");
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(
        &ledger,
        &["runs", "show", "loan-risk-b", "--history", "auc"],
    );
    assert_eq!(served, cli, "the server's run is the CLI's");
    let started = b["started"]["time"].as_str().unwrap().to_owned();
    let (code, served) = server.json(&format!(
        "/api/v1/runs/loan-risk-b?as_of={}",
        escaped(&started)
    ));
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(
        &ledger,
        &["runs", "show", "loan-risk-b", "--as-of", &started],
    );
    assert_eq!(served, cli, "the server's run as of a time is the CLI's");

    assert_refused(
        server.json("/api/v1/runs?as_of=2026-13-01"),
        400,
        "bad_input",
    );
    assert_refused(
        server.json("/api/v1/runs/loan-risk-b?as_of=2100-01-01T00:00:00Z"),
        400,
        "bad_input",
    );
    assert_refused(server.json("/api/v1/runs?as_of=99999999"), 400, "bad_input");
    assert_refused(
        server.json("/api/v1/runs/loan-risk-b?as_of=1"),
        404,
        "not_found",
    );
    assert_refused(
        server.json("/api/v1/runs/loan-risk-b?history=nope"),
        400,
        "bad_input",
    );
    assert!(server.stop().success());
}

/// `compare` over HTTP answers exactly `vouch compare --json`; an unknown run is 404.
#[test]
fn compare_over_http_is_the_clis_json() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let server = Server::start(&ledger, &[]);
    let runs = ["loan-risk-prod", "loan-risk-b", "loan-risk-c"];
    let (code, served) =
        server.json("/api/v1/compare?run=loan-risk-prod&run=loan-risk-b&run=loan-risk-c");
    assert_eq!(code, 200, "{served}");
    let mut args = vec!["compare"];
    args.extend(runs);
    let cli = cli_json(&ledger, &args);
    assert_eq!(served, cli, "the server's comparison is the CLI's");

    // As of the position of Run B's last event: both runs exist, later events do not.
    let b = cli_json(&ledger, &["runs", "show", "loan-risk-b"]);
    let at = b["last_position"].as_u64().unwrap().to_string();
    let (code, served) = server.json(&format!(
        "/api/v1/compare?run=loan-risk-prod&run=loan-risk-b&as_of={at}"
    ));
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(
        &ledger,
        &["compare", "loan-risk-prod", "loan-risk-b", "--as-of", &at],
    );
    assert_eq!(
        served, cli,
        "the server's comparison as of a position is the CLI's"
    );

    assert_refused(
        server.json("/api/v1/compare?run=loan-risk-prod&run=no-such-run"),
        404,
        "not_found",
    );
    ledger
        .vouch(&["compare", "loan-risk-prod", "no-such-run"])
        .fails(65, "unknown run `no-such-run`");
    assert_refused(
        server.json("/api/v1/compare?run=loan-risk-prod"),
        400,
        "bad_input",
    );
    assert_refused(
        server.json("/api/v1/compare?run=loan-risk-prod&run=loan-risk-b&as_of=yesterday"),
        400,
        "bad_input",
    );
    assert!(server.stop().success());
}

/// `diagnose` over HTTP answers exactly `vouch diagnose --json` (as of one time, so both
/// measure ages to the same instant); a model never released is 404.
#[test]
fn diagnose_over_http_is_the_clis_json() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let server = Server::start(&ledger, &[]);
    let status = cli_json(&ledger, &["status"]);
    let last = status["log_position"].as_u64().unwrap().to_string();
    let (code, served) = server.json(&format!(
        "/api/v1/diagnose?model=loan-risk&env=production&tolerance=0.02&as_of={last}"
    ));
    assert_eq!(code, 200, "{served}");
    let cli = cli_json(
        &ledger,
        &[
            "diagnose",
            "--model",
            "loan-risk",
            "--env",
            "production",
            "--tolerance",
            "0.02",
            "--as-of",
            &last,
        ],
    );
    assert_eq!(served, cli, "the server's diagnosis is the CLI's");
    assert_eq!(served["verdict"], cli["verdict"]);

    // Now: the same findings, measured to the server's and the CLI's own clocks.
    let (code, mut served) = server.json("/api/v1/diagnose?model=loan-risk");
    assert_eq!(code, 200, "{served}");
    let mut cli = cli_json(&ledger, &["diagnose", "--model", "loan-risk"]);
    served["now"] = serde_json::Value::Null;
    cli["now"] = serde_json::Value::Null;
    assert_eq!(
        served["findings"].as_array().map(Vec::len),
        cli["findings"].as_array().map(Vec::len)
    );
    assert_eq!(served["summary"], cli["summary"]);

    assert_refused(
        server.json("/api/v1/diagnose?model=ghost"),
        404,
        "not_found",
    );
    assert_refused(
        server.json("/api/v1/diagnose?model=loan-risk&tolerance=-1"),
        400,
        "bad_input",
    );
    assert_refused(
        server.json("/api/v1/diagnose?model=loan-risk&as_of=2100-01-01"),
        400,
        "bad_input",
    );
    assert_refused(
        server.json("/api/v1/diagnose?env=production"),
        400,
        "bad_input",
    );
    assert!(server.stop().success());
}

/// `POST /api/v1/replay` with a policy's text answers exactly `vouch replay --json` for the
/// same policy file (but for the time taken); a malformed policy is bad input.
#[test]
fn replay_over_http_is_the_clis_json() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let files = ledger.path().join("demo-files");
    let policy = std::fs::read_to_string(files.join("loan-risk-policy.toml")).unwrap();
    let strict = policy.replace("max = 200", "max = 150");
    let server = Server::start(&ledger, &[]);
    for (text, all) in [(&policy, true), (&strict, false)] {
        let body = serde_json::json!({ "policy": text, "all": all }).to_string();
        let (code, served) = server.request("POST", "/api/v1/replay", None, body.as_bytes());
        assert_eq!(code, 200, "{served}");
        let mut served: serde_json::Value = serde_json::from_str(&served).unwrap();
        let file = ledger.file("replayed.toml", text.as_bytes());
        let mut args = vec!["replay", "--policy", file.to_str().unwrap()];
        if all {
            args.push("--all");
        }
        let mut cli = cli_json(&ledger, &args);
        assert!(served["seconds"].is_number(), "{served}");
        served["seconds"] = 0.into();
        cli["seconds"] = 0.into();
        assert_eq!(served, cli, "the server's replay is the CLI's");
    }
    let changed = &cli_json(
        &ledger,
        &[
            "replay",
            "--policy",
            ledger
                .file("strict.toml", strict.as_bytes())
                .to_str()
                .unwrap(),
        ],
    )["summary"]["changed"];
    assert_eq!(changed, 1);

    let ranged = serde_json::json!({
        "policy": policy, "model": "loan-risk", "since": "2000-01-01", "until": "2000-01-02",
    })
    .to_string();
    let (code, served) = server.request("POST", "/api/v1/replay", None, ranged.as_bytes());
    assert_eq!(code, 200, "{served}");
    let served: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert_eq!(served["summary"]["in_scope"], 0, "{served}");

    let post = |body: serde_json::Value| {
        let (code, answer) =
            server.request("POST", "/api/v1/replay", None, body.to_string().as_bytes());
        (
            code,
            serde_json::from_str::<serde_json::Value>(&answer).unwrap(),
        )
    };
    let malformed = post(serde_json::json!({ "policy": "model = [" }));
    assert!(
        malformed.1["error"]
            .as_str()
            .unwrap()
            .starts_with("policy: "),
        "{}",
        malformed.1
    );
    assert_refused(malformed, 400, "bad_input");
    assert_refused(
        post(serde_json::json!({ "policy": policy, "since": "2026-12-02", "until": "2026-12-01" })),
        400,
        "bad_input",
    );
    assert_refused(
        post(serde_json::json!({ "policy": policy, "model": "ghost" })),
        404,
        "not_found",
    );
    assert_refused(
        post(serde_json::json!({ "policies": policy })),
        422,
        "bad_input",
    );
    assert!(server.stop().success());
}
