//! `vouch --server URL …`: the CLI as a client of a running `vouch serve --http`, run from
//! a directory with no ledger, against the same commands on the server's ledger directory.
//! Keys stay on the client: reviews and deployments are signed there; the server's rule
//! book judges them before they are appended.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{vouch_bin, Run, Server, TestLedger};

const TOKEN: &str = "client-e2e-token-0123456789";
const READER: &str = "client-e2e-reader-0123456789";

/// A place with no ledger, and the server it talks to.
struct Client {
    dir: tempfile::TempDir,
    url: String,
    token: Option<String>,
}

impl Client {
    fn new(url: String) -> Client {
        Client {
            dir: tempfile::tempdir().expect("temp dir"),
            url,
            token: Some(TOKEN.to_owned()),
        }
    }

    /// `vouch --server URL ARGS…` from the client's directory (no `.vouch` there).
    fn vouch(&self, args: &[&str]) -> Run {
        let mut command = Command::new(vouch_bin());
        command
            .arg("--server")
            .arg(&self.url)
            .args(args)
            .env_remove("VOUCH_LEDGER")
            .env_remove("VOUCH_SERVER")
            .env_remove("VOUCH_LOG")
            .env_remove("VOUCH_NATS_URL")
            .env_remove("COLUMNS")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        match &self.token {
            Some(t) => command.env("VOUCH_TOKEN", t),
            None => command.env_remove("VOUCH_TOKEN"),
        };
        let output = command.output().expect("spawn vouch");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn json(&self, args: &[&str], code: i32) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = self.vouch(&all);
        assert_eq!(
            run.code, code,
            "vouch --server {args:?}\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        run.json()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `vouch --json ARGS…` on the ledger directory itself.
fn local(ledger: &TestLedger, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = ledger.vouch(&all);
    assert_eq!(
        run.code, code,
        "vouch {args:?}\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    run.json()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A served demo ledger (its release key on the server) and a client with a token.
fn demo() -> (TestLedger, Server, Client) {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let tokens = ledger.file(
        "tokens.json",
        format!(
            r#"{{"tokens": [{{"name": "ci", "token": "{TOKEN}", "scopes": ["read", "write", "promote"]}}, {{"name": "dashboard", "token": "{READER}", "scopes": ["read"]}}]}}"#
        )
        .as_bytes(),
    );
    let key = ledger.path().join("demo-files/release-signer.key");
    let server = Server::start(&ledger, &["--tokens", s(&tokens), "--release-key", s(&key)]);
    let client = Client::new(format!("http://{}", server.addr));
    (ledger, server, client)
}

/// The loan-risk story through the server: reads equal the local commands' `--json`,
/// gates decide as locally, a promotion needing review is approved with a key that stays
/// on the client and enacted with the server's key, a deployment signed on the client,
/// an audit of B's artifact hashed on the client, and the chain verifies.
#[test]
fn the_loan_risk_story_runs_through_the_server() {
    let (ledger, _server, client) = demo();
    let files = ledger.path().join("demo-files");
    let release_key = files.join("release-signer.key");

    for args in [
        &["runs", "list"][..],
        &["runs", "list", "--where", "auc>0.85"],
        &["runs", "show", "loan-risk-b"],
        &["runs", "list", "--as-of", "10"],
        &["compare", "loan-risk-b", "loan-risk-c"],
        &["decisions"],
        &["registry"],
        &["registry", "--model", "loan-risk"],
    ] {
        assert_eq!(client.json(args, 0), local(&ledger, args, 0), "{args:?}");
    }
    let status = client.json(&["status"], 0);
    assert_eq!(
        status["log_position"],
        local(&ledger, &["status"], 0)["log_position"]
    );
    // An unknown run is bad input, as locally.
    client
        .vouch(&["runs", "show", "nope"])
        .fails(65, "unknown run `nope`");

    // An audit bundle of B's promotion, fetched from the server, verifies offline
    // (`verify-bundle` reads only local files, so it runs here even with --server).
    let model = files.join("loan-risk-b.model");
    let bundle = client.path("b.bundle.json");
    let digest = Value::Null;
    let digest = digest.as_str().map_or_else(
        || {
            format!(
                "blake3:{}",
                blake3::hash(&std::fs::read(&model).unwrap()).to_hex()
            )
        },
        str::to_owned,
    );
    client.json(&["audit", "--digest", &digest, "--bundle", s(&bundle)], 0);
    let checked = client.json(
        &[
            "verify-bundle",
            s(&bundle),
            "--trust",
            s(&ledger.path().join("trust.json")),
        ],
        0,
    );
    assert_eq!(checked["ok"], true, "{checked}");

    // Gates: C fails its latency SLO, B passes; nothing is recorded.
    let policy = files.join("loan-risk-policy.toml");
    let gate = |run: &str| {
        [
            "gate",
            "--model",
            "loan-risk",
            "--run",
            run,
            "--policy",
            s(&policy),
        ]
        .map(str::to_owned)
    };
    let before = local(&ledger, &["decisions"], 0);
    for (run, code) in [("loan-risk-c", 1), ("loan-risk-b", 0)] {
        let args = gate(run);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let remote = client.json(&args, code);
        let here = local(&ledger, &args, code);
        for field in ["model", "run", "baseline", "policy", "outcome", "reviews"] {
            assert_eq!(remote[field], here[field], "{run} {field}");
        }
        let verdicts = |v: &Value| -> Vec<(Value, Value)> {
            v["gates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| (g["gate"].clone(), g["verdict"].clone()))
                .collect()
        };
        assert_eq!(verdicts(&remote), verdicts(&here), "{run}");
    }
    assert_eq!(
        local(&ledger, &["decisions"], 0),
        before,
        "a gate records nothing"
    );

    // Promote with the server's key: the client's --key is refused.
    let strict = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("version = \"2026.11-1\"", "version = \"2026.11-client\"")
        .replace("max = 0.08", "max = 0.0");
    let review_policy = client.path("review-policy.toml");
    std::fs::write(&review_policy, strict).unwrap();
    let promote = [
        "promote",
        "--model",
        "loan-risk",
        "--run",
        "loan-risk-b",
        "--policy",
        s(&review_policy),
    ];
    let mut with_key = promote.to_vec();
    with_key.extend(["--key", s(&release_key)]);
    client
        .vouch(&with_key)
        .fails(64, "the server signs decisions with its own release key");
    let promoted = client.json(&promote, 2);
    assert_eq!(promoted["outcome"], "needs_review", "{promoted}");
    let waiting = promoted["decision"].as_str().unwrap().to_owned();
    let short = &waiting["blake3:".len().."blake3:".len() + 12];
    let last = local(&ledger, &["decisions"], 0);
    assert_eq!(
        last.as_array().unwrap().last().unwrap()["hash"],
        waiting.as_str()
    );

    // A reviewer key the server does not trust: refused by its rule book, with the
    // message the local command gives, and nothing written.
    let stranger = client.path("stranger.key");
    ledger
        .vouch(&["keys", "generate", "--out", s(&stranger)])
        .ok();
    let review = |key: &Path| {
        [
            "review",
            "approve",
            "--decision",
            short,
            "--key",
            s(key),
            "--reason",
            "parity reviewed",
        ]
        .map(str::to_owned)
    };
    let args = review(&stranger);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let position = local(&ledger, &["status"], 0)["log_position"].clone();
    let remote = client.vouch(&args);
    let here = ledger.vouch(&args);
    remote.fails(65, "not in the trust list");
    here.fails(65, "not in the trust list");
    let error = |run: &Run| {
        run.stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .map(str::to_owned)
    };
    assert_eq!(error(&remote), error(&here));
    assert_eq!(local(&ledger, &["status"], 0)["log_position"], position);

    // The reviewer signs on the client; the server enacts with its release key.
    let args = review(&files.join("risk-reviewer.key"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reviewed = client.json(&args, 0);
    assert_eq!(
        (
            &reviewed["approvals"],
            &reviewed["required"],
            &reviewed["enacted"]
        ),
        (&Value::from(1), &Value::from(1), &Value::Null),
        "{reviewed}"
    );
    assert_eq!(reviewed["decision"], waiting.as_str());
    client
        .vouch(&[
            "review",
            "enact",
            "--decision",
            short,
            "--key",
            s(&release_key),
        ])
        .fails(64, "own release key");
    let enacted = client.json(&["review", "enact", "--decision", short], 0);
    assert_eq!(enacted["outcome"], "promoted", "{enacted}");

    // The deployer signs on the client too.
    let deployed = client.json(
        &[
            "deploy",
            "--model",
            "loan-risk",
            "--env",
            "staging",
            "--artifact",
            s(&model),
            "--key",
            s(&release_key),
        ],
        0,
    );
    assert_eq!(deployed["decision"], enacted["decision"], "{deployed}");
    assert_eq!(deployed["forced"], false);
    // Audit: the file is hashed on the client, the server asked by digest.
    let audited = client.json(&["audit", s(&model)], 0);
    assert_eq!(audited["ok"], true, "{audited}");
    assert_eq!(audited, local(&ledger, &["audit", s(&model)], 0));
    // The chain verifies, and both sides hold the same decisions and registry.
    let mut remote = client.json(&["verify"], 0);
    let mut here = local(&ledger, &["verify"], 0);
    remote["seconds"] = Value::Null;
    here["seconds"] = Value::Null;
    assert_eq!(remote, here);
    for args in [&["decisions"][..], &["registry", "--model", "loan-risk"]] {
        assert_eq!(client.json(args, 0), local(&ledger, args, 0), "{args:?}");
    }
}

/// Evidence written through the server: events built on the client exactly as locally
/// (the artifact hashed there), appended by the server with the same idempotence.
#[test]
fn evidence_is_written_through_the_server() {
    let (ledger, _server, client) = demo();
    let started = client.json(
        &[
            "run",
            "start",
            "--experiment",
            "remote",
            "--run-id",
            "remote-1",
            "--git",
            "none",
        ],
        0,
    );
    assert_eq!(
        (&started["run"], &started["duplicate"]),
        (&Value::from("remote-1"), &Value::from(false))
    );
    // A retry is a duplicate at the same position.
    let again = client.json(
        &[
            "run",
            "start",
            "--experiment",
            "remote",
            "--run-id",
            "remote-1",
            "--git",
            "none",
        ],
        0,
    );
    assert_eq!(
        (&again["position"], &again["duplicate"]),
        (&started["position"], &Value::from(true))
    );
    client.json(
        &["log", "param", "--run", "remote-1", "lr=0.1", "depth=6"],
        0,
    );
    let metric = client.json(
        &[
            "log", "metric", "--run", "remote-1", "--step", "3", "auc=0.91",
        ],
        0,
    );
    assert_eq!(metric["duplicate"], false, "{metric}");
    let artifact = client.path("model.bin");
    std::fs::write(&artifact, b"weights").unwrap();
    let logged = client.json(&["log", "artifact", "--run", "remote-1", s(&artifact)], 0);
    assert_eq!(
        logged["digest"],
        format!("blake3:{}", blake3::hash(b"weights").to_hex()).as_str()
    );
    client.json(&["run", "finish", "--run", "remote-1"], 0);
    // Logging to a run the server does not know: bad input, as locally.
    client
        .vouch(&["log", "metric", "--run", "ghost", "auc=0.5"])
        .fails(65, "unknown run `ghost`");
    let shown = local(&ledger, &["runs", "show", "remote-1"], 0);
    assert_eq!(client.json(&["runs", "show", "remote-1"], 0), shown);
    assert_eq!(shown["params"]["lr"]["value"], "0.1", "{shown}");
    assert_eq!(shown["artifacts"][0]["name"], "model.bin", "{shown}");

    // Ingest through the server: the same report, bad lines included.
    let lines = client.path("events.jsonl");
    std::fs::write(
        &lines,
        "{\"schema\":1,\"id\":\"remote-p\",\"time\":\"2026-11-30T00:00:00Z\",\"producer\":\"t\",\"run\":\"remote-1\",\"kind\":\"params_logged\",\"data\":{\"params\":{\"seed\":\"7\"}}}\nnot json\n",
    )
    .unwrap();
    let run = client.vouch(&["--json", "ingest", s(&lines)]);
    run.fails(65, "1 of 2 lines were not valid events");
    let report = run.json();
    assert_eq!(
        (&report["appended"], &report["bad"]),
        (&Value::from(1), &Value::from(1)),
        "{report}"
    );
}

/// What goes wrong is said clearly and with the local exit codes.
#[test]
fn unreachable_servers_bad_tokens_and_local_only_commands() {
    // Nobody listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nobody = Client::new(format!("http://127.0.0.1:{port}"));
    let start = Instant::now();
    nobody.vouch(&["status"]).fails(
        69,
        &format!("cannot reach the server at http://127.0.0.1:{port}"),
    );
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let json = nobody.vouch(&["--json", "status"]);
    assert_eq!(json.code, 69);
    assert_eq!(json.json()["exit_code"], 69);
    Client::new("https://127.0.0.1:1".into())
        .vouch(&["status"])
        .fails(64, "no TLS");
    // Local-only commands refuse --server before anything else.
    for args in [
        &["init"][..],
        &["rebuild"],
        &["demo", "loan-risk"],
        &["keys", "list"],
    ] {
        nobody.vouch(args).fails(64, "works on a ledger directory");
    }

    let (_ledger, _server, mut client) = demo();
    client.token = Some("not-the-token-at-all-0000".into());
    client.vouch(&["status"]).fails(77, "bearer token");
    client.token = None;
    client.vouch(&["runs", "list"]).fails(77, "bearer token");
    // A token without the scope a command needs: 77, naming the scope.
    client.token = Some(READER.into());
    client.vouch(&["runs", "list"]).ok();
    client
        .vouch(&["run", "start", "--experiment", "x", "--git", "none"])
        .fails(77, "lacks the `write` scope");
    client
        .vouch(&["review", "enact", "--decision", "0"])
        .fails(77, "lacks the `promote` scope");
}

/// Without `--json` the client prints exactly what the local command prints on the same
/// ledger: the server's answers are read back into the types the local command renders,
/// and printed by the same code (widths are equal: output piped, `COLUMNS` unset).
#[test]
fn tables_through_the_server_equal_the_local_ones() {
    let (ledger, _server, client) = demo();
    let files = ledger.path().join("demo-files");
    let policy = files.join("loan-risk-policy.toml");
    let model = files.join("loan-risk-b.model");
    // The same stdout and exit code from the client and the local command.
    let same = |args: &[&str], code: i32| -> String {
        let remote = client.vouch(args);
        let here = ledger.vouch(args);
        assert_eq!(
            (remote.code, here.code),
            (code, code),
            "{args:?}\nclient stderr: {}\nlocal stderr: {}",
            remote.stderr,
            here.stderr
        );
        assert!(!here.stdout.is_empty(), "{args:?} printed nothing");
        assert_eq!(remote.stdout, here.stdout, "{args:?}");
        here.stdout
    };
    for (args, code) in [
        (&["status"][..], 0),
        (&["runs", "list"], 0),
        (&["runs", "list", "--where", "auc>0.85"], 0),
        (
            &["runs", "list", "--experiment", "loan-risk", "--as-of", "10"],
            0,
        ),
        (&["runs", "show", "loan-risk-b"], 0),
        (&["runs", "show", "loan-risk-b", "--history", "auc"], 0),
        (&["compare", "loan-risk-a", "loan-risk-b", "loan-risk-c"], 0),
        (
            &["compare", "loan-risk-b", "loan-risk-c", "--as-of", "60"],
            0,
        ),
        (&["registry"], 0),
        (&["registry", "--model", "loan-risk"], 0),
        (&["decisions"], 0),
        (&["decisions", "--model", "loan-risk", "--limit", "2"], 0),
        (&["diagnose", "--model", "loan-risk"], 0),
        (&["audit", s(&model)], 0),
        (&["audit", s(&files.join("loan-risk-c.model"))], 1),
    ] {
        same(args, code);
    }
    // Gates: B passes, C fails its latency SLO.
    for (run, code) in [("loan-risk-b", 0), ("loan-risk-c", 1)] {
        let args = [
            "gate",
            "--model",
            "loan-risk",
            "--run",
            run,
            "--policy",
            s(&policy),
        ];
        same(&args, code);
        let mut json = vec!["--json"];
        json.extend(args);
        same(&json, code);
    }
    // Replay: its summary line ends with the seconds it took and the records it read,
    // which vary between two local runs too; everything before them is compared.
    let stricter = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("version = \"2026.11-1\"", "version = \"2026.11-replay\"")
        .replace("max = 0.08", "max = 0.0");
    let replayed = client.path("replay-policy.toml");
    std::fs::write(&replayed, stricter).unwrap();
    for extra in [&[][..], &["--all"]] {
        let mut args = vec!["replay", "--policy", s(&replayed)];
        args.extend(extra);
        let remote = client.vouch(&args);
        let here = ledger.vouch(&args);
        assert_eq!((remote.code, here.code), (0, 0), "{}", remote.stderr);
        let timeless = |out: &str| -> String {
            out.lines()
                .map(|l| l.split(" s, ").next().unwrap_or(l))
                .map(|l| l.rsplit_once(" (").map_or(l, |(kept, _)| kept).to_owned() + "\n")
                .collect()
        };
        assert_eq!(timeless(&remote.stdout), timeless(&here.stdout), "{args:?}");
        assert!(here.stdout.contains("would change"), "{}", here.stdout);
    }
    // Promote: the client's table is the local gate's table for the same request, and its
    // decision line names the decision recorded.
    let gate_args = [
        "gate",
        "--model",
        "loan-risk",
        "--run",
        "loan-risk-b",
        "--policy",
        s(&replayed),
    ];
    let gated = ledger.vouch(&gate_args);
    assert_eq!(gated.code, 2, "{}", gated.stderr);
    let mut promote = gate_args;
    promote[0] = "promote";
    let promoted = client.vouch(&promote);
    assert_eq!(promoted.code, 2, "{}", promoted.stderr);
    let decision = local(&ledger, &["decisions"], 0);
    let decision = decision.as_array().unwrap().last().unwrap().clone();
    let (table, _) = gated.stdout.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(
        promoted.stdout,
        format!(
            "{table}\ndecision {} (chain index {}): needs_review\n",
            decision["hash"]
                .as_str()
                .unwrap()
                .trim_start_matches("blake3:"),
            decision["index"]
        )
    );
    // And the decisions and registry that follow still read the same.
    same(&["decisions"], 0);
    same(&["registry"], 0);
}

/// Every answer the client reads back is a type that round-trips: the local `--json` of a
/// demo ledger read as its type prints byte for byte again, and reads back equal.
#[test]
fn answers_read_back_into_the_types_that_printed_them() {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    let (ledger, _server, client) = demo();
    let files = ledger.path().join("demo-files");
    let policy = files.join("loan-risk-policy.toml");
    let model = files.join("loan-risk-b.model");
    /// `args`' `--json` read as `T`: printed again the same, and read back equal.
    fn check<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
        ledger: &TestLedger,
        args: &[&str],
        code: i32,
    ) -> T {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let run = ledger.vouch(&all);
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        let value: T = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", run.stdout));
        let again = serde_json::to_string_pretty(&value).unwrap() + "\n";
        assert_eq!(again, run.stdout, "{args:?}");
        let back: T = serde_json::from_str(&again).unwrap();
        assert_eq!(back, value, "{args:?}");
        value
    }
    check::<vouch_app::status::StatusReport>(&ledger, &["status"], 0);
    let runs = check::<Vec<vouch_views::RunDoc>>(&ledger, &["runs", "list"], 0);
    assert!(runs
        .iter()
        .any(|r| !r.metrics.is_empty() && !r.datasets.is_empty()));
    let shown = check::<vouch_app::runs::RunShown>(
        &ledger,
        &["runs", "show", "loan-risk-b", "--history", "auc"],
        0,
    );
    assert!(shown.history.is_some());
    check::<Vec<vouch_app::registry::ModelEntry>>(&ledger, &["registry"], 0);
    check::<Vec<vouch_views::DecisionEntry>>(&ledger, &["decisions"], 0);
    // A diagnosis' findings keep a ranking weight they do not print: compared as printed.
    let diagnosed = ledger.vouch(&["--json", "diagnose", "--model", "loan-risk"]);
    let diagnosis: vouch_diagnose::Diagnosis = serde_json::from_str(&diagnosed.stdout).unwrap();
    assert_eq!(
        serde_json::to_string_pretty(&diagnosis).unwrap() + "\n",
        diagnosed.stdout
    );
    assert!(!diagnosis.findings.is_empty());
    let gate = [
        "gate",
        "--model",
        "loan-risk",
        "--run",
        "loan-risk-c",
        "--policy",
        s(&policy),
    ];
    check::<vouch_app::promote::GateReport>(&ledger, &gate, 1);
    check::<vouch_app::replay::ReplayResult>(
        &ledger,
        &["replay", "--policy", s(&policy), "--all"],
        0,
    );
    /// `audit --json`: `{ok, report}`, printed with its keys sorted as `json!` sorts them.
    #[derive(serde::Deserialize, PartialEq, Debug)]
    struct Audited {
        ok: bool,
        report: vouch_ledger::AuditReport,
    }
    impl Serialize for Audited {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            serde_json::json!({ "ok": self.ok, "report": self.report }).serialize(s)
        }
    }
    let audited = check::<Audited>(&ledger, &["audit", s(&model)], 0);
    assert!(audited.report.record.is_some() && audited.report.run.is_some());
    // A promotion through the server (the demo's key is there), read as its type.
    let promoted = client.json(
        &[
            "promote",
            "--model",
            "loan-risk",
            "--run",
            "loan-risk-c",
            "--policy",
            s(&policy),
        ],
        1,
    );
    let report: vouch_app::promote::PromoteReport =
        serde_json::from_value(promoted.clone()).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap(), promoted);
    // The trust list `GET /api/v1/trust` answers, which names signers in tables.
    let trust = std::fs::read_to_string(ledger.path().join("trust.json")).unwrap();
    let trust: vouch_ledger::Trust = serde_json::from_str(&trust).unwrap();
    let again: vouch_ledger::Trust =
        serde_json::from_str(&serde_json::to_string(&trust).unwrap()).unwrap();
    assert_eq!(again, trust);
}
