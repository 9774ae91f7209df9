//! The MLflow API's promises attacked over raw HTTP against a real `vouch serve --http`
//! (no Python): retries write nothing, later changes back are facts, NaN survives as
//! MLflow's strings, DELETE bodies, body and upload caps, path traversal, tokens and
//! MLflow's error shape, listening beyond loopback, error codes the client relies on, and
//! CLI commands beside a busy server. "Nothing written" is measured by the log position
//! `vouch --json status` reports.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{Server, TestLedger};

/// A start time in the past (2025-11-24), so every run id derives from fixed input.
const START_MS: i64 = 1_764_000_000_000;

/// One MLflow request; the body parsed as JSON (`Null` when it is not JSON).
fn call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap()
    };
    let (status, text) = server.request(method, path, token, &bytes);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn api(path: &str) -> String {
    format!("/api/2.0/mlflow/{path}")
}

fn artifact(path: &str) -> String {
    format!("/api/2.0/mlflow-artifacts/artifacts/{path}")
}

/// POSTs `body` to MLflow's `path` with no token and asserts 200.
#[track_caller]
fn post_ok(server: &Server, path: &str, body: Value) -> Value {
    let (code, answer) = call(server, "POST", &api(path), None, &body);
    assert_eq!(code, 200, "POST {path} {body}: {answer}");
    answer
}

/// GETs MLflow's `path?query` with no token and asserts 200.
#[track_caller]
fn get_ok(server: &Server, path_and_query: &str) -> Value {
    let (code, answer) = call(server, "GET", &api(path_and_query), None, &Value::Null);
    assert_eq!(code, 200, "GET {path_and_query}: {answer}");
    answer
}

/// Asserts an MLflow error: status and `error_code`, in MLflow's shape.
#[track_caller]
fn assert_mlflow_error(answer: &(u16, Value), status: u16, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(
        answer.1["error_code"], code,
        "MLflow's error shape {{error_code, message}}: {}",
        answer.1
    );
    assert!(answer.1["message"].is_string(), "{}", answer.1);
}

/// The log's last position, read by the CLI beside the server.
#[track_caller]
fn log_position(ledger: &TestLedger) -> u64 {
    let status = ledger.vouch(&["--json", "status"]).json();
    status["log_position"]
        .as_u64()
        .unwrap_or_else(|| panic!("no log_position in {status}"))
}

/// Runs `request` twice: the first must write, the retry must answer 200 and write nothing.
#[track_caller]
fn retried(ledger: &TestLedger, what: &str, mut request: impl FnMut() -> (u16, Value)) {
    let before = log_position(ledger);
    let first = request();
    assert_eq!(first.0, 200, "{what}: {}", first.1);
    let after_first = log_position(ledger);
    assert!(
        after_first > before,
        "{what}: the first request wrote nothing (position {before}), so its retry proves nothing"
    );
    let second = request();
    assert_eq!(second.0, 200, "{what} retried: {}", second.1);
    assert_eq!(
        log_position(ledger),
        after_first,
        "{what}: the retry wrote again"
    );
}

/// `runs/create` in the Default experiment with a fixed start time; the run's id.
fn create_run(server: &Server, name: &str) -> String {
    let answer = post_ok(
        server,
        "runs/create",
        json!({
            "experiment_id": "0",
            "run_name": name,
            "start_time": START_MS,
            "tags": [{"key": "mlflow.user", "value": "tester"}],
        }),
    );
    answer["run"]["info"]["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run id in {answer}"))
        .to_owned()
}

/// The run's tag `key` as `runs/get` reports it.
fn run_tag(server: &Server, run: &str, key: &str) -> Option<String> {
    let answer = get_ok(server, &format!("runs/get?run_id={run}"));
    answer["run"]["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| t["value"].as_str().unwrap().to_owned())
}

/// The run's latest metric values as `runs/get` reports them, by key.
fn run_metrics(server: &Server, run: &str) -> std::collections::BTreeMap<String, Value> {
    let answer = get_ok(server, &format!("runs/get?run_id={run}"));
    answer["run"]["data"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["key"].as_str().unwrap().to_owned(), m["value"].clone()))
        .collect()
}

/// A response body without HTTP/1.1 chunked framing (downloads are streamed).
fn dechunked(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_owned();
        };
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// Every file under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.map_while(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_retried_mlflow_write_writes_nothing_the_second_time() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);

    // runs/create: the same body twice is the same run, and the retry writes nothing.
    let before = log_position(&ledger);
    let run = create_run(&server, "retried");
    let after = log_position(&ledger);
    assert!(after > before, "runs/create wrote nothing");
    assert_eq!(
        create_run(&server, "retried"),
        run,
        "a retried create names the same run"
    );
    assert_eq!(
        log_position(&ledger),
        after,
        "a retried runs/create wrote again"
    );

    let batch = json!({
        "run_id": run,
        "run_uuid": run,
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": START_MS + 1, "step": 1},
            {"key": "loss", "value": 0.25, "timestamp": START_MS + 2, "step": 2},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "team", "value": "risk"}],
    });
    retried(&ledger, "runs/log-batch", || {
        call(&server, "POST", &api("runs/log-batch"), None, &batch)
    });
    let metric = json!({
        "run_id": run, "key": "auc", "value": 0.875, "timestamp": START_MS + 3, "step": 0,
    });
    retried(&ledger, "runs/log-metric", || {
        call(&server, "POST", &api("runs/log-metric"), None, &metric)
    });
    let param = json!({"run_id": run, "key": "depth", "value": "6"});
    retried(&ledger, "runs/log-parameter", || {
        call(&server, "POST", &api("runs/log-parameter"), None, &param)
    });
    let tag = json!({"run_id": run, "key": "stage", "value": "train"});
    retried(&ledger, "runs/set-tag", || {
        call(&server, "POST", &api("runs/set-tag"), None, &tag)
    });
    let inputs = json!({
        "run_id": run,
        "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": "training"}],
            "dataset": {"name": "churn", "digest": "0a1b2c3d", "source_type": "local",
                        "source": "{\"uri\": \"/data/churn.csv\"}"},
        }],
    });
    retried(&ledger, "runs/log-inputs", || {
        call(&server, "POST", &api("runs/log-inputs"), None, &inputs)
    });

    // A logged model, finalized twice.
    let created = post_ok(
        &server,
        "logged-models",
        json!({"experiment_id": "0", "name": "model", "source_run_id": run}),
    );
    let model_id = created["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Like model-versions/create below, `POST logged-models` is not retry-safe in MLflow
    // (each create is a new pending model); Vouch does the same: a second identical
    // create is a second model, one more event.
    let before = log_position(&ledger);
    let again = post_ok(
        &server,
        "logged-models",
        json!({"experiment_id": "0", "name": "model", "source_run_id": run}),
    );
    assert_ne!(
        again["model"]["info"]["model_id"],
        json!(model_id),
        "{again}"
    );
    assert_eq!(log_position(&ledger), before + 1);
    let finalize = json!({"model_id": model_id, "status": "LOGGED_MODEL_READY"});
    retried(&ledger, "PATCH logged-models/{id}", || {
        call(
            &server,
            "PATCH",
            &api(&format!("logged-models/{model_id}")),
            None,
            &finalize,
        )
    });

    // The same bytes PUT twice to the same path.
    let put = |bytes: &[u8]| {
        let (code, text) = server.request(
            "PUT",
            &artifact(&format!("runs/{run}/artifacts/reports/notes.txt")),
            None,
            bytes,
        );
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    retried(&ledger, "artifact PUT", || put(b"the same notes"));

    // model-versions/create is not a retry-safe write in MLflow either: each create is a
    // new version. Vouch does the same: a second identical create is version 2, one event.
    post_ok(
        &server,
        "registered-models/create",
        json!({"name": "churn"}),
    );
    let version = json!({
        "name": "churn", "source": format!("runs:/{run}/model"), "run_id": run,
    });
    let before = log_position(&ledger);
    let first = post_ok(&server, "model-versions/create", version.clone());
    assert_eq!(first["model_version"]["version"], "1", "{first}");
    let between = log_position(&ledger);
    assert_eq!(between, before + 1, "one version, one event");
    let second = post_ok(&server, "model-versions/create", version);
    assert_eq!(
        second["model_version"]["version"], "2",
        "a second create_model_version is a new version, as in MLflow: {second}"
    );
    assert_eq!(log_position(&ledger), between + 1);

    // What the retries left: one point per step, each param and tag once.
    let history = get_ok(
        &server,
        &format!("metrics/get-history?run_id={run}&metric_key=loss"),
    );
    assert_eq!(history["metrics"].as_array().unwrap().len(), 2, "{history}");
    assert!(ledger.vouch(&["verify"]).code == 0, "the ledger verifies");
}

#[test]
fn a_tag_set_back_to_an_earlier_value_is_a_new_fact() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "tags");
    let mut positions = vec![log_position(&ledger)];
    for value in ["a", "b", "a"] {
        post_ok(
            &server,
            "runs/set-tag",
            json!({"run_id": run, "key": "k", "value": value}),
        );
        positions.push(log_position(&ledger));
    }
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "a, b, a: three changes, three events: positions {positions:?}"
    );
    assert_eq!(run_tag(&server, &run, "k").as_deref(), Some("a"));
}

#[test]
fn a_run_tag_flipped_back_and_forth_records_every_change() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "flips");
    for value in ["a", "b", "a", "b"] {
        let before = log_position(&ledger);
        post_ok(
            &server,
            "runs/set-tag",
            json!({"run_id": run, "key": "k", "value": value}),
        );
        assert_eq!(
            log_position(&ledger),
            before + 1,
            "setting k to {value} (a change) was recorded"
        );
        assert_eq!(run_tag(&server, &run, "k").as_deref(), Some(value));
    }
}

#[test]
fn registry_and_experiment_tags_flipped_back_and_forth_record_every_change() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let created = post_ok(&server, "experiments/create", json!({"name": "flips"}));
    let experiment = created["experiment_id"].as_str().unwrap().to_owned();
    post_ok(
        &server,
        "registered-models/create",
        json!({"name": "flipper"}),
    );
    let read_experiment_tag = || {
        let e = get_ok(
            &server,
            &format!("experiments/get?experiment_id={experiment}"),
        );
        e["experiment"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "k")
            .map(|t| t["value"].clone())
    };
    let read_model_tag = || {
        let m = get_ok(&server, "registered-models/get?name=flipper");
        m["registered_model"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "k")
            .map(|t| t["value"].clone())
    };
    for value in ["a", "b", "a", "b"] {
        post_ok(
            &server,
            "experiments/set-experiment-tag",
            json!({"experiment_id": experiment, "key": "k", "value": value}),
        );
        assert_eq!(read_experiment_tag(), Some(json!(value)), "experiment tag");
        post_ok(
            &server,
            "registered-models/set-tag",
            json!({"name": "flipper", "key": "k", "value": value}),
        );
        assert_eq!(read_model_tag(), Some(json!(value)), "registered model tag");
    }
}

#[test]
fn non_finite_metrics_travel_as_mlflows_strings_and_near_misses_are_refused() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "nan");
    for (i, value) in ["NaN", "Infinity", "-Infinity"].into_iter().enumerate() {
        post_ok(
            &server,
            "runs/log-metric",
            json!({"run_id": run, "key": format!("single_{i}"), "value": value,
                   "timestamp": START_MS + 10, "step": 0}),
        );
    }
    post_ok(
        &server,
        "runs/log-batch",
        json!({"run_id": run, "metrics": [
            {"key": "batch_0", "value": "NaN", "timestamp": START_MS + 11, "step": 1},
            {"key": "batch_1", "value": "Infinity", "timestamp": START_MS + 11, "step": 1},
            {"key": "batch_2", "value": "-Infinity", "timestamp": START_MS + 11, "step": 1},
        ]}),
    );
    let metrics = run_metrics(&server, &run);
    for (i, value) in ["NaN", "Infinity", "-Infinity"].into_iter().enumerate() {
        for key in [format!("single_{i}"), format!("batch_{i}")] {
            assert_eq!(
                metrics.get(&key),
                Some(&json!(value)),
                "runs/get {key}: {metrics:?}"
            );
            let history = get_ok(
                &server,
                &format!("metrics/get-history?run_id={run}&metric_key={key}"),
            );
            let points = history["metrics"].as_array().unwrap();
            assert_eq!(points.len(), 1, "{history}");
            assert_eq!(
                points[0]["value"],
                json!(value),
                "history of {key}: {history}"
            );
        }
    }

    // Strings MLflow never sends are refused whole, and write nothing.
    let before = log_position(&ledger);
    for bad in ["nan", "1.0", "inf", "-inf", "NAN", "", " NaN"] {
        let answer = call(
            &server,
            "POST",
            &api("runs/log-metric"),
            None,
            &json!({"run_id": run, "key": "bad", "value": bad, "timestamp": START_MS, "step": 0}),
        );
        assert_mlflow_error(&answer, 400, "INVALID_PARAMETER_VALUE");
        let answer = call(
            &server,
            "POST",
            &api("runs/log-batch"),
            None,
            &json!({"run_id": run, "metrics": [
                {"key": "good", "value": 1.0, "timestamp": START_MS, "step": 0},
                {"key": "bad", "value": bad, "timestamp": START_MS, "step": 0},
            ]}),
        );
        assert_mlflow_error(&answer, 400, "INVALID_PARAMETER_VALUE");
    }
    assert_eq!(
        log_position(&ledger),
        before,
        "a refused metric wrote something"
    );
    assert!(
        !run_metrics(&server, &run).contains_key("good"),
        "half a batch was kept"
    );
}

#[test]
fn an_alias_is_deleted_by_a_delete_with_a_json_body() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "aliased");
    post_ok(
        &server,
        "registered-models/create",
        json!({"name": "churn"}),
    );
    post_ok(
        &server,
        "model-versions/create",
        json!({"name": "churn", "source": format!("runs:/{run}/model"), "run_id": run}),
    );
    post_ok(
        &server,
        "registered-models/alias",
        json!({"name": "churn", "alias": "staging", "version": "1"}),
    );
    let found = get_ok(&server, "registered-models/alias?name=churn&alias=staging");
    assert_eq!(found["model_version"]["version"], "1", "{found}");

    // A DELETE without its body names nothing: refused, the alias stays.
    let answer = call(
        &server,
        "DELETE",
        &api("registered-models/alias"),
        None,
        &Value::Null,
    );
    assert_mlflow_error(&answer, 400, "INVALID_PARAMETER_VALUE");
    get_ok(&server, "registered-models/alias?name=churn&alias=staging");

    let before = log_position(&ledger);
    let answer = call(
        &server,
        "DELETE",
        &api("registered-models/alias"),
        None,
        &json!({"name": "churn", "alias": "staging"}),
    );
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(
        log_position(&ledger),
        before + 1,
        "the deletion is an event"
    );
    let gone = call(
        &server,
        "GET",
        &api("registered-models/alias?name=churn&alias=staging"),
        None,
        &Value::Null,
    );
    assert_mlflow_error(&gone, 404, "RESOURCE_DOES_NOT_EXIST");
}

#[test]
fn bodies_and_uploads_over_their_caps_are_refused_and_store_nothing() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &["--max-body-mib", "1", "--max-upload-mib", "1"]);
    let run = create_run(&server, "capped");
    let before = log_position(&ledger);

    // A 2 MiB POST.
    let big = "x".repeat(2 << 20);
    let body = json!({"run_id": run, "tags": [{"key": "big", "value": big}]});
    let (code, answer) = call(&server, "POST", &api("runs/log-batch"), None, &body);
    assert_eq!(code, 413, "a 2 MiB body over a 1 MiB cap: {answer}");

    // A 2 MiB upload.
    let bytes = vec![7u8; 2 << 20];
    let path = artifact(&format!("runs/{run}/artifacts/big.bin"));
    let (code, answer) = server.request("PUT", &path, None, &bytes);
    assert_eq!(code, 413, "a 2 MiB upload over a 1 MiB cap: {answer}");
    let incoming = ledger.path().join("artifacts/incoming");
    assert_eq!(
        files_under(&incoming),
        Vec::<std::path::PathBuf>::new(),
        "a refused upload left its temporary file"
    );
    assert_eq!(
        files_under(&ledger.path().join("artifacts/blobs")),
        Vec::<std::path::PathBuf>::new(),
        "a refused upload was stored"
    );
    assert_eq!(
        log_position(&ledger),
        before,
        "a refused body or upload wrote"
    );

    // Under the caps, both work.
    post_ok(
        &server,
        "runs/set-tag",
        json!({"run_id": run, "key": "small", "value": "x".repeat(1000)}),
    );
    let (code, answer) = server.request("PUT", &path, None, &vec![7u8; 512 << 10]);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(log_position(&ledger), before + 2);
    assert_eq!(files_under(&incoming), Vec::<std::path::PathBuf>::new());
}

#[test]
fn artifact_paths_cannot_climb_out_and_bad_ones_write_nothing() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "paths");
    // A file to fetch back, proving GETs of good paths work.
    let (code, _) = server.request(
        "PUT",
        &artifact(&format!("runs/{run}/artifacts/dir/ok.txt")),
        None,
        b"ok",
    );
    assert_eq!(code, 200);
    let before = log_position(&ledger);
    let files_before = files_under(ledger.tmp.path());

    let bad = [
        "../../../escape.txt",
        "dir/../../escape.txt",
        "%2e%2e/%2e%2e/escape.txt",
        "%2E%2E%2F%2E%2E%2Fescape.txt",
        "dir/%2e%2e/escape.txt",
        "./escape.txt",
        "dir/./escape.txt",
        "%2e/escape.txt",
        "dir//escape.txt",
        "dir/%2F/escape.txt",
        "dir%5C..%5C..%5Cescape.txt",
        "..%5Cescape.txt",
        "dir/%00escape.txt",
        "dir/..",
        "..",
    ];
    for rel in bad {
        let path = artifact(&format!("runs/{run}/artifacts/{rel}"));
        let (code, answer) = server.request("PUT", &path, None, b"escaped");
        assert_eq!(code, 400, "PUT {rel}: {answer}");
        let (code, answer) = server.request("GET", &path, None, b"");
        assert_eq!(code, 400, "GET {rel}: {answer}");
    }
    // Climbing out of the root itself names no run or model: refused too.
    for root in [
        "runs/../artifacts/escape.txt",
        "runs/%2e%2e/artifacts/escape.txt",
        "runs/..%2F..%2F..%2Ftmp/artifacts/escape.txt",
    ] {
        let (code, answer) = server.request("PUT", &artifact(root), None, b"escaped");
        assert!((400..500).contains(&code), "PUT {root}: {code} {answer}");
    }
    assert_eq!(
        log_position(&ledger),
        before,
        "a refused path wrote an event"
    );
    let files_after = files_under(ledger.tmp.path());
    let new: Vec<_> = files_after
        .iter()
        .filter(|f| !files_before.contains(f))
        .filter(|f| !f.starts_with(ledger.path().join("views")))
        .filter(|f| !f.starts_with(ledger.path().join("log")))
        .collect();
    assert!(new.is_empty(), "refused uploads left files: {new:?}");
    let escaped: Vec<_> = files_under(ledger.tmp.path())
        .into_iter()
        .filter(|f| f.to_string_lossy().contains("escape"))
        .collect();
    assert!(escaped.is_empty(), "a file escaped: {escaped:?}");

    let (code, body) = server.request(
        "GET",
        &artifact(&format!("runs/{run}/artifacts/dir/ok.txt")),
        None,
        b"",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(dechunked(&body), "ok");
}

#[test]
fn an_upload_no_run_or_model_can_take_stores_nothing() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    let run = create_run(&server, "gone");
    post_ok(&server, "runs/delete", json!({"run_id": run}));
    let before = log_position(&ledger);
    for (path, status) in [
        (
            "models/m-0123456789abcdef/artifacts/model.pkl".to_owned(),
            404,
        ),
        ("models/../artifacts/escape.txt".to_owned(), 404),
        ("runs/0123456789abcdef/artifacts/a.txt".to_owned(), 404),
        (format!("runs/{run}/artifacts/late.txt"), 400),
    ] {
        let (code, answer) = server.request("PUT", &artifact(&path), None, b"orphan bytes");
        assert_eq!(code, status, "PUT {path}: {answer}");
    }
    assert_eq!(log_position(&ledger), before);
    let stored: Vec<_> = files_under(&ledger.path().join("artifacts"));
    assert!(stored.is_empty(), "refused uploads were stored: {stored:?}");
}

const TOKENS: &str = r#"{"tokens": [
    {"name": "dashboard", "token": "read-only-token-0123", "scopes": ["read"]},
    {"name": "ci", "token": "write-token-0123456789", "scopes": ["read", "write"]}
]}"#;
const READ: &str = "read-only-token-0123";
const WRITE: &str = "write-token-0123456789";

#[test]
fn mlflow_paths_refuse_missing_and_weak_tokens_in_mlflows_error_shape() {
    // The client reads `error_code`; Vouch's own `{"error", "kind"}` shape would reach
    // the user as a bare status.
    let ledger = TestLedger::new();
    let tokens = ledger.file("tokens.json", TOKENS.as_bytes());
    let server = Server::start(&ledger, &["--tokens", tokens.to_str().unwrap()]);
    let create = json!({"experiment_id": "0", "run_name": "r", "start_time": START_MS});
    let before = log_position(&ledger);
    let none = call(&server, "POST", &api("runs/create"), None, &create);
    assert_eq!(none.0, 401, "{}", none.1);
    let weak = call(&server, "POST", &api("runs/create"), Some(READ), &create);
    assert_eq!(weak.0, 403, "{}", weak.1);
    let upload = server.request("PUT", &artifact("runs/r/artifacts/a.txt"), Some(READ), b"a");
    assert_eq!(upload.0, 403, "{}", upload.1);
    assert_eq!(log_position(&ledger), before, "a refused request wrote");
    assert_mlflow_error(&none, 401, "UNAUTHENTICATED");
    assert_mlflow_error(&weak, 403, "PERMISSION_DENIED");
}

#[test]
fn a_token_names_the_producer_and_a_read_token_searches() {
    let ledger = TestLedger::new();
    let tokens = ledger.file("tokens.json", TOKENS.as_bytes());
    let server = Server::start(&ledger, &["--tokens", tokens.to_str().unwrap()]);
    let (code, answer) = call(
        &server,
        "POST",
        &api("runs/create"),
        Some(WRITE),
        &json!({"experiment_id": "0", "run_name": "by-ci", "start_time": START_MS}),
    );
    assert_eq!(code, 200, "{answer}");
    let run = answer["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let (code, answer) = call(
        &server,
        "POST",
        &api("runs/log-metric"),
        Some(WRITE),
        &json!({"run_id": run, "key": "auc", "value": 0.9, "timestamp": START_MS, "step": 0}),
    );
    assert_eq!(code, 200, "{answer}");

    let shown = ledger.vouch(&["--json", "runs", "show", &run]).json();
    let text = shown.to_string();
    assert!(
        text.contains("\"mlflow:ci\""),
        "the write token's name is the producer: {shown}"
    );
    assert!(!text.contains("dashboard"), "{shown}");

    let (code, found) = call(
        &server,
        "POST",
        &api("runs/search"),
        Some(READ),
        &json!({"experiment_ids": ["0"], "filter": "metrics.auc > 0.5"}),
    );
    assert_eq!(code, 200, "a search is a read: {found}");
    assert_eq!(found["runs"][0]["info"]["run_id"], json!(run), "{found}");
    let (code, got) = call(
        &server,
        "GET",
        &api(&format!("runs/get?run_id={run}")),
        Some(READ),
        &Value::Null,
    );
    assert_eq!(code, 200, "{got}");
}

#[test]
fn listening_beyond_loopback_without_tokens_is_refused_at_start() {
    let ledger = TestLedger::new();
    let mut child = ledger
        .command()
        .args(["serve", "--http", "0.0.0.0:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("vouch serve on 0.0.0.0 without tokens kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("0.0.0.0") && stderr.contains("--tokens"),
        "the message names the address and the way out: {stderr}"
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("listening on"), "{stdout}");
}

#[test]
fn mlflow_error_codes_the_client_relies_on() {
    let ledger = TestLedger::new();
    let server = Server::start(&ledger, &[]);
    for (method, path) in [
        ("GET", "no/such/endpoint"),
        ("POST", "runs/get"),
        ("GET", "runs/create"),
        ("DELETE", "runs/create"),
        ("GET", "logged-models/m-1/params/x"),
    ] {
        let answer = call(&server, method, &api(path), None, &Value::Null);
        assert_mlflow_error(&answer, 404, "ENDPOINT_NOT_FOUND");
    }
    let missing = call(
        &server,
        "GET",
        &api("experiments/get-by-name?experiment_name=nowhere"),
        None,
        &Value::Null,
    );
    assert_mlflow_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");

    // Default, id "0", exists without being created.
    let default = get_ok(&server, "experiments/get?experiment_id=0");
    assert_eq!(default["experiment"]["name"], "Default", "{default}");
    assert_eq!(default["experiment"]["lifecycle_stage"], "active");
    let by_name = get_ok(&server, "experiments/get-by-name?experiment_name=Default");
    assert_eq!(by_name["experiment"]["experiment_id"], "0", "{by_name}");

    let before = log_position(&ledger);
    post_ok(&server, "experiments/create", json!({"name": "twice"}));
    let again = call(
        &server,
        "POST",
        &api("experiments/create"),
        None,
        &json!({"name": "twice"}),
    );
    assert_mlflow_error(&again, 400, "RESOURCE_ALREADY_EXISTS");
    let again = call(
        &server,
        "POST",
        &api("experiments/create"),
        None,
        &json!({"name": "Default"}),
    );
    assert_mlflow_error(&again, 400, "RESOURCE_ALREADY_EXISTS");
    assert_eq!(log_position(&ledger), before + 1);

    // A deleted run takes no more evidence.
    let run = create_run(&server, "doomed");
    post_ok(&server, "runs/delete", json!({"run_id": run}));
    let before = log_position(&ledger);
    for (path, body) in [
        (
            "runs/log-metric",
            json!({"run_id": run, "key": "m", "value": 1.0, "timestamp": START_MS, "step": 0}),
        ),
        (
            "runs/log-batch",
            json!({"run_id": run, "params": [{"key": "p", "value": "1"}]}),
        ),
        (
            "runs/log-parameter",
            json!({"run_id": run, "key": "p", "value": "1"}),
        ),
        (
            "runs/set-tag",
            json!({"run_id": run, "key": "t", "value": "1"}),
        ),
    ] {
        let answer = call(&server, "POST", &api(path), None, &body);
        assert_mlflow_error(&answer, 400, "INVALID_PARAMETER_VALUE");
    }
    let (code, answer) = server.request(
        "PUT",
        &artifact(&format!("runs/{run}/artifacts/late.txt")),
        None,
        b"late",
    );
    assert_eq!(code, 400, "{answer}");
    assert_eq!(log_position(&ledger), before, "a deleted run took evidence");
    let unknown = call(
        &server,
        "POST",
        &api("runs/log-metric"),
        None,
        &json!({"run_id": "0123456789abcdef", "key": "m", "value": 1.0, "timestamp": START_MS}),
    );
    assert_mlflow_error(&unknown, 404, "RESOURCE_DOES_NOT_EXIST");
}

/// Stops the request loop when the test ends, a failed assertion included.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn the_cli_works_beside_a_server_under_a_burst_of_requests() {
    let ledger = TestLedger::new();
    let server = Arc::new(Server::start(&ledger, &[]));
    let run = create_run(&server, "busy");
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_failure = StopOnDrop(stop.clone());
    let sent = Arc::new(AtomicU64::new(0));
    let hammer = {
        let (server, stop, sent, run) = (server.clone(), stop.clone(), sent.clone(), run.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(120);
            let mut step = 0u64;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                let body = json!({"run_id": run, "key": "loss", "value": step as f64,
                                  "timestamp": START_MS + step as i64, "step": step});
                let (code, answer) = call(&server, "POST", &api("runs/log-metric"), None, &body);
                assert_eq!(code, 200, "{answer}");
                step += 1;
                sent.store(step, Ordering::SeqCst);
            }
        })
    };
    // The burst is under way before the first CLI command.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "the requests do not get through");
        std::thread::yield_now();
    }
    let mut took = Vec::new();
    for _ in 0..5 {
        let at = sent.load(Ordering::SeqCst);
        let started = Instant::now();
        let status = ledger.vouch(&["--lock-timeout", "5", "--json", "status"]);
        took.push(started.elapsed());
        status.ok();
        assert!(status.json()["log_position"].as_u64().unwrap() >= at);
        // Requests keep flowing between commands.
        let deadline = Instant::now() + Duration::from_secs(30);
        while sent.load(Ordering::SeqCst) < at + 3 {
            assert!(Instant::now() < deadline, "the server stopped answering");
            std::thread::yield_now();
        }
    }
    stop.store(true, Ordering::SeqCst);
    hammer.join().expect("every request answered 200");
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(5)),
        "a CLI command waited out its lock timeout: {took:?}"
    );
    let history = get_ok(
        &server,
        &format!("metrics/get-history?run_id={run}&metric_key=loss"),
    );
    assert_eq!(
        history["metrics"].as_array().unwrap().len() as u64,
        sent.load(Ordering::SeqCst),
        "every point sent is kept once"
    );
}
