//! Hostile requests in-process: every MLflow endpoint, handed arbitrary JSON (nested
//! objects, wrong types, strings up to 300 KB, unicode, negative and huge numbers, NaN
//! spelled every way), never panics and never answers 5xx for bad input; whatever it
//! wrote still verifies and projects to the same views as a rebuild from the log. Also:
//! no artifact path parses to one that climbs out of its root.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use vouch_event::{Producer, Timestamp};
use vouch_ledger::Ledger;
use vouch_mlflow::api::{handle, Endpoint};
use vouch_mlflow::artifacts::parse_path;
use vouch_mlflow::registry::Promoter;
use vouch_mlflow::Caller;

/// 2026-11-24, the time every request is made at.
const NOW_NANOS: i64 = 1_795_500_000_000_000_000;
/// A start time before it.
const START_MS: i64 = 1_795_000_000_000;

fn caller() -> Caller {
    Caller {
        producer: Producer::new("mlflow:hostile").unwrap(),
        actor: Some("hostile".to_owned()),
        now: Timestamp::from_unix_nanos(NOW_NANOS),
    }
}

/// What the seeded ledger holds, for requests to name.
struct Known {
    run: String,
    model_id: String,
    experiment: String,
}

/// A fresh ledger with an experiment, a run with a metric, a logged model, and a
/// registered model with one version: hostile requests then reach past the lookups.
fn seeded(dir: &std::path::Path) -> (Ledger, Known) {
    Ledger::init(dir, &Default::default()).unwrap();
    let mut ledger = Ledger::open(dir, &Default::default()).unwrap();
    let policies = BTreeMap::new();
    let promoter = Promoter {
        key: None,
        policies: &policies,
    };
    let mut ok = |endpoint: Endpoint, body: Value| {
        handle(
            &mut ledger,
            &caller(),
            &promoter,
            endpoint.clone(),
            body.clone(),
        )
        .unwrap_or_else(|e| panic!("seeding {endpoint:?} {body}: {e:?}"))
        .into_value()
    };
    let experiment = ok(Endpoint::CreateExperiment, json!({"name": "hostile"}))["experiment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let run = ok(
        Endpoint::CreateRun,
        json!({"experiment_id": experiment, "run_name": "seed", "start_time": START_MS}),
    )["run"]["info"]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        Endpoint::LogMetric,
        json!({"run_id": run, "key": "auc", "value": 0.5, "timestamp": START_MS, "step": 0}),
    );
    let model_id = ok(
        Endpoint::CreateLoggedModel,
        json!({"name": "model", "source_run_id": run}),
    )["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(Endpoint::CreateRegisteredModel, json!({"name": "churn"}));
    ok(
        Endpoint::CreateModelVersion,
        json!({"name": "churn", "source": format!("runs:/{run}/model"), "run_id": run}),
    );
    (
        ledger,
        Known {
            run,
            model_id,
            experiment,
        },
    )
}

/// Every endpoint in `api.rs`; the logged-model ones with `id`.
fn endpoint(n: u8, id: String) -> Endpoint {
    use Endpoint as E;
    match n % 36 {
        0 => E::GetExperimentByName,
        1 => E::GetExperiment,
        2 => E::CreateExperiment,
        3 => E::SetExperimentTag,
        4 => E::CreateRun,
        5 => E::UpdateRun,
        6 => E::GetRun,
        7 => E::DeleteRun,
        8 => E::RestoreRun,
        9 => E::LogParam,
        10 => E::LogMetric,
        11 => E::LogBatch,
        12 => E::SetTag,
        13 => E::DeleteTag,
        14 => E::LogInputs,
        15 => E::LogOutputs,
        16 => E::SearchRuns,
        17 => E::MetricHistory,
        18 => E::CreateLoggedModel,
        19 => E::GetLoggedModel(id),
        20 => E::FinalizeLoggedModel(id),
        21 => E::SetLoggedModelTags(id),
        22 => E::LogLoggedModelParams(id),
        23 => E::SearchLoggedModels,
        24 => E::CreateRegisteredModel,
        25 => E::GetRegisteredModel,
        26 => E::SearchRegisteredModels,
        27 => E::SetRegisteredModelTag,
        28 => E::CreateModelVersion,
        29 => E::GetModelVersion,
        30 => E::ModelVersionDownloadUri,
        31 => E::SearchModelVersions,
        32 => E::SetModelVersionTag,
        33 => E::SetAlias,
        34 => E::GetAlias,
        _ => E::DeleteAlias,
    }
}

/// Field names the endpoints read, so hostile bodies reach past "missing field".
const FIELDS: &[&str] = &[
    "run_id",
    "run_uuid",
    "key",
    "value",
    "timestamp",
    "step",
    "metrics",
    "params",
    "tags",
    "name",
    "experiment_id",
    "experiment_ids",
    "experiment_name",
    "status",
    "end_time",
    "run_name",
    "start_time",
    "user_id",
    "datasets",
    "dataset",
    "models",
    "model_id",
    "model_type",
    "source",
    "source_run_id",
    "source_type",
    "digest",
    "schema",
    "profile",
    "filter",
    "order_by",
    "max_results",
    "page_token",
    "run_view_type",
    "metric_key",
    "version",
    "alias",
    "description",
    "dataset_name",
    "dataset_digest",
];

/// Strings the seeded ledger and MLflow's grammar give meaning to; `@run`, `@model` and
/// `@experiment` are replaced with the seeded ids.
const WORDS: &[&str] = &[
    "NaN",
    "Infinity",
    "-Infinity",
    "nan",
    "inf",
    "1.0",
    "",
    "0",
    "1",
    "-1",
    "2",
    "99999999999999999999",
    "@run",
    "@model",
    "@experiment",
    "Default",
    "hostile",
    "churn",
    "model",
    "auc",
    "FINISHED",
    "RUNNING",
    "KILLED",
    "LOGGED_MODEL_READY",
    "LOGGED_MODEL_UPLOAD_FAILED",
    "ACTIVE_ONLY",
    "ALL",
    "champion",
    "staging",
    "latest",
    "v1",
    "mlflow.runName",
    "mlflow.user",
    "mlflow.data.context",
    "metrics.auc > 0.5",
    "params.lr = '0.1' and tags.t LIKE '%a%'",
    "attributes.start_time DESC",
    "name = 'churn'",
    "..",
    "a/b",
    "runs:/@run/model",
    "models:/@model",
    "\u{0}",
    "\u{202e}ünï©ødé 🦀",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(WORDS).prop_map(str::to_owned),
        4 => "\\PC{0,24}",
        1 => (0usize..=300_000, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n / c.len_utf8().max(1))),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(START_MS),
            any::<i64>()
        ]
        .prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(1e308)),
        text().prop_map(Value::String),
        text().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(FIELDS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

/// A request body: an object of known fields, or anything at all.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => prop::collection::btree_map(prop::sample::select(FIELDS), value(), 0..8).prop_map(
            |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
        ),
        1 => value(),
    ]
}

/// A body every endpoint would accept (they ignore fields they do not read), for
/// hostile values to be put into: bad values deep inside requests that otherwise pass.
fn plausible(endpoint: &Endpoint) -> Value {
    let mut body = json!({
        "run_id": "@run",
        "run_uuid": "@run",
        "experiment_id": "@experiment",
        "experiment_ids": ["@experiment", "0"],
        "experiment_name": "hostile",
        "run_name": "renamed",
        "start_time": START_MS,
        "end_time": START_MS + 1,
        "status": "FINISHED",
        "key": "auc",
        "value": 0.75,
        "timestamp": START_MS + 2,
        "step": 3,
        "metric_key": "auc",
        "metrics": [
            {"key": "loss", "value": "NaN", "timestamp": START_MS + 3, "step": 4,
             "dataset_name": "d", "dataset_digest": "0a1b", "model_id": "@model"},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "t", "value": "v"}, {"key": "mlflow.runName", "value": "renamed"}],
        "datasets": [{
            "tags": [{"key": "mlflow.data.context", "value": "training"}],
            "dataset": {"name": "d", "digest": "0a1b", "source_type": "local",
                        "source": "{}", "schema": "{}", "profile": "{}"},
        }],
        "models": [{"model_id": "@model", "step": 1}],
        "name": "churn",
        "source": "runs:/@run/model",
        "source_run_id": "@run",
        "model_id": "@model",
        "model_type": "sklearn",
        "version": "1",
        "alias": "staging",
        "description": "d",
        "filter": "metrics.auc > 0.1",
        "order_by": ["metrics.auc DESC"],
        "max_results": 5,
        "page_token": "",
        "run_view_type": "ALL",
    });
    // The few fields whose meaning differs between endpoints.
    match endpoint {
        Endpoint::LogMetric => {}
        Endpoint::FinalizeLoggedModel(_) => body["status"] = json!("LOGGED_MODEL_READY"),
        Endpoint::SearchRegisteredModels | Endpoint::SearchModelVersions => {
            body["filter"] = json!("name = 'churn'");
            body["value"] = json!("v");
        }
        Endpoint::SearchLoggedModels => {
            body["filter"] = json!("name = 'model'");
            body["value"] = json!("v");
        }
        _ => body["value"] = json!("v"),
    }
    body
}

/// Replaces the `n`th node (in preorder, counted modulo the nodes) of `value` with
/// `with`.
fn replace_node(value: &mut Value, n: usize, with: Value) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn walk(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, n, with)),
            Value::Object(o) => o.values_mut().for_each(|c| walk(c, n, with)),
            _ => {}
        }
    }
    let mut n = n % count(value);
    walk(value, &mut n, &mut Some(with));
}

/// Replaces the `@run`, `@model` and `@experiment` placeholders in every string.
fn bind(value: Value, known: &Known) -> Value {
    match value {
        Value::String(s) => Value::String(
            s.replace("@run", &known.run)
                .replace("@model", &known.model_id)
                .replace("@experiment", &known.experiment),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| bind(v, known)).collect()),
        Value::Object(o) => {
            Value::Object(o.into_iter().map(|(k, v)| (k, bind(v, known))).collect())
        }
        other => other,
    }
}

/// A request: an endpoint, a logged-model id (the seeded one half the time), and a
/// body: mostly the plausible one with hostile values put in at up to three places,
/// otherwise a body of arbitrary JSON.
#[derive(Debug, Clone)]
struct Request {
    endpoint: u8,
    id: String,
    changes: Option<Vec<(usize, Value)>>,
    body: Value,
}

fn request() -> impl Strategy<Value = Request> {
    let changes = prop_oneof![
        3 => prop::collection::vec((any::<usize>(), value()), 0..4).prop_map(Some),
        1 => Just(None),
    ];
    (any::<u8>(), text(), changes, body()).prop_map(|(endpoint, id, changes, body)| Request {
        endpoint,
        id,
        changes,
        body,
    })
}

fn check(requests: Vec<Request>) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut ledger, known) = seeded(&tmp.path().join("ledger"));
    let policies = BTreeMap::new();
    let promoter = Promoter {
        key: None,
        policies: &policies,
    };
    for request in requests {
        let id = if request.id.len().is_multiple_of(2) {
            known.model_id.clone()
        } else {
            request.id
        };
        let endpoint = endpoint(request.endpoint, id);
        let body = match request.changes {
            Some(changes) => {
                let mut body = plausible(&endpoint);
                for (n, with) in changes {
                    replace_node(&mut body, n, with);
                }
                body
            }
            None => request.body,
        };
        let body = bind(body, &known);
        let shown = || {
            let mut text = body.to_string();
            text.truncate(2000);
            text
        };
        match handle(
            &mut ledger,
            &caller(),
            &promoter,
            endpoint.clone(),
            body.clone(),
        ) {
            Ok(answer) => {
                let answer = answer.into_value();
                assert!(answer.is_object(), "{endpoint:?} {}: {answer}", shown());
            }
            Err(e) => {
                let status = e.code.http_status();
                assert!(
                    (400..500).contains(&status),
                    "{endpoint:?} answered {status} {} to {}",
                    e.code.name(),
                    shown()
                );
            }
        }
    }

    // What was written verifies, and the views are what the log projects to.
    let trust = ledger.trust().clone();
    let report = ledger.verify(&trust, &mut |_, _| {}).unwrap();
    assert!(report.failure.is_none(), "verify: {:?}", report.failure);
    let incremental = ledger.views().dump().unwrap();
    let fresh = vouch_views::Views::open(&tmp.path().join("fresh")).unwrap();
    vouch_views::catch_up(ledger.log(), &fresh, &trust, &mut |_, _| {}).unwrap();
    assert_eq!(
        fresh.dump().unwrap(),
        incremental,
        "a fresh projection differs"
    );
    ledger.rebuild(&mut |_, _| {}).unwrap();
    assert_eq!(
        ledger.views().dump().unwrap(),
        incremental,
        "a rebuild differs"
    );
}

proptest! {
    // Each case opens a ledger (two stores) and sends up to 24 requests: 128 cases take
    // seconds in the dev profile.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_requests_are_refused_with_4xx_and_leave_a_consistent_ledger(
        requests in prop::collection::vec(request(), 1..24)
    ) {
        check(requests);
    }
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            ".",
            "..",
            "...",
            "runs",
            "models",
            "artifacts",
            "r1",
            "m-1",
            "a",
            "\\",
            "..\\..",
            "%2e%2e",
            "a\\b",
            " ",
            "\u{0}",
            "\u{2024}\u{2024}",
            "ü",
            ". .",
            "./",
            "/",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,6}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_artifact_path_parses_to_one_that_climbs_out(
        prefix in prop::sample::select(vec!["runs/r1/artifacts/", "models/m-1/artifacts/", "/runs/r1/artifacts//", ""]),
        segments in prop::collection::vec(path_segment(), 0..8),
        separator in prop::sample::select(vec!["/", "//", "\\", "/./"]),
    ) {
        let path = format!("{prefix}{}", segments.join(separator));
        if let Ok(parsed) = parse_path(&path) {
            if !parsed.rel.is_empty() {
                for segment in parsed.rel.split('/') {
                    prop_assert!(
                        !segment.is_empty() && segment != "." && segment != ".."
                            && !segment.contains('\\')
                            && !segment.chars().any(char::is_control),
                        "{path:?} parsed to {:?}", parsed.rel
                    );
                }
            }
            prop_assert!(!parsed.rel.starts_with('/') && !parsed.rel.ends_with('/'), "{path:?} → {:?}", parsed.rel);
        }
    }
}
