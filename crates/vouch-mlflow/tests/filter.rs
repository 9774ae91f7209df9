//! MLflow's search filter grammar and `order_by`, checked against hand-built facts: every
//! example and refusal from the reference's §4, the registry and logged-model filters,
//! and property tests for the parser, LIKE and the run order.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::select;
use vouch_mlflow::filter::{
    DatasetFacts, FilterError, InputKind, LoggedModelFacts, LoggedModelFilter, ModelFacts,
    ModelFilter, RunFacts, RunFilter, RunOrder, VersionFacts, VersionFilter,
};

// ---------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------

/// Three runs: r1 finished with datasets, r2 failed with a NaN loss, r3 running and bare.
fn runs() -> Vec<RunFacts<'static>> {
    vec![
        RunFacts {
            run_id: "r1",
            run_name: "x",
            status: "FINISHED",
            user_id: "alice",
            artifact_uri: "mlflow-artifacts:/1/r1/artifacts",
            start_time: 1_000,
            end_time: Some(2_000),
            metrics: BTreeMap::from([("auc", 0.9), ("val/auc", 0.85), ("loss", 0.5)]),
            params: BTreeMap::from([("lr", "0.1"), ("model", "XGBoost")]),
            tags: BTreeMap::from([("team", "risk-2"), ("mlflow.runName", "x")]),
            datasets: vec![
                DatasetFacts {
                    name: "train",
                    digest: "fb0c9f33",
                    context: Some("training"),
                },
                DatasetFacts {
                    name: "eval",
                    digest: "0000aaaa",
                    context: None,
                },
            ],
        },
        RunFacts {
            run_id: "r2",
            run_name: "y",
            status: "FAILED",
            user_id: "bob",
            artifact_uri: "s3://bucket/r2",
            start_time: 3_000,
            end_time: None,
            metrics: BTreeMap::from([("auc", 0.7), ("loss", f64::NAN)]),
            params: BTreeMap::from([("lr", "0.01")]),
            tags: BTreeMap::from([("team", "fraud")]),
            datasets: vec![DatasetFacts {
                name: "train",
                digest: "12345678",
                context: Some("eval"),
            }],
        },
        RunFacts {
            run_id: "r3",
            run_name: "run three",
            status: "RUNNING",
            user_id: "alice",
            artifact_uri: "mlflow-artifacts:/1/r3/artifacts",
            start_time: 2_000,
            ..RunFacts::default()
        },
    ]
}

/// Parses `filter` and asserts which of [`runs`] it matches, by run id.
#[track_caller]
fn check(filter: &str, expected: &[&str]) {
    let parsed = RunFilter::parse(filter).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = runs()
        .iter()
        .filter(|r| parsed.matches(r))
        .map(|r| r.run_id)
        .collect();
    assert_eq!(got, expected, "filter `{filter}`");
}

/// Asserts that `filter` is refused with a message containing `needle`.
#[track_caller]
fn refused(filter: &str, needle: &str) -> FilterError {
    let e = RunFilter::parse(filter).expect_err(filter);
    assert!(e.to_string().contains(needle), "`{filter}` gave: {e}");
    assert!(
        e.to_string().starts_with(&format!("filter `{filter}`: ")),
        "{e}"
    );
    e
}

#[track_caller]
fn order(entries: &[&str]) -> Vec<&'static str> {
    let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
    let parsed = RunOrder::parse(&entries).unwrap_or_else(|e| panic!("{e}"));
    let mut all = runs();
    all.sort_by(|a, b| parsed.compare(a, b));
    all.iter().map(|r| r.run_id).collect()
}

#[track_caller]
fn order_refused(entry: &str, needle: &str) {
    let e = RunOrder::parse(&[entry.to_string()]).expect_err(entry);
    assert_eq!(e.kind(), InputKind::OrderBy);
    assert!(e.to_string().contains(needle), "`{entry}` gave: {e}");
    assert!(e.to_string().starts_with("order_by `"), "{e}");
}

// ---------------------------------------------------------------------------------------
// §4: runs
// ---------------------------------------------------------------------------------------

#[test]
fn section4_examples() {
    check("metrics.auc > 0.8", &["r1"]);
    check(
        "params.lr = '0.1' and tags.team = 'risk-2' and attributes.status = 'FINISHED'",
        &["r1"],
    );
    check("status != 'FAILED'", &["r1", "r3"]);
    check("run_name = 'x'", &["r1"]);
    check("attributes.run_id IN ('r1','r3')", &["r1", "r3"]);
    check("datasets.digest = 'fb0c9f33'", &["r1"]);
    check("metrics.auc > -1e3", &["r1", "r2"]);
}

#[test]
fn empty_filter_matches_everything() {
    check("", &["r1", "r2", "r3"]);
    check("   \t\n ", &["r1", "r2", "r3"]);
    let everything = RunFilter::default();
    assert!(runs().iter().all(|r| everything.matches(r)));
}

#[test]
fn entity_prefix_aliases() {
    check("metric.auc >= 0.9", &["r1"]);
    check("metrics.auc >= 0.9", &["r1"]);
    check("param.lr = '0.1'", &["r1"]);
    check("params.lr = '0.1'", &["r1"]);
    check("parameter.lr = '0.1'", &["r1"]);
    check("parameters.lr = '0.1'", &["r1"]);
    check("tag.team = 'fraud'", &["r2"]);
    check("tags.team = 'fraud'", &["r2"]);
    check("attribute.status = 'RUNNING'", &["r3"]);
    check("attributes.status = 'RUNNING'", &["r3"]);
    check("attr.status = 'RUNNING'", &["r3"]);
    check("run.status = 'RUNNING'", &["r3"]);
    check("dataset.name = 'eval'", &["r1"]);
    check("datasets.name = 'eval'", &["r1"]);
    check("METRICS.auc > 0.8", &["r1"]);
}

#[test]
fn quoted_keys() {
    check("metrics.`val/auc` > 0.8", &["r1"]);
    check("tags.\"team\" = 'fraud'", &["r2"]);
    check("tags.`mlflow.runName` = 'x'", &["r1"]);
    check("tags.mlflow.runName = 'x'", &["r1"]);
    check("`run name` = 'run three'", &["r3"]);
    check("attributes.`run name` = 'run three'", &["r3"]);
    check("attributes.`status` = 'FAILED'", &["r2"]);
}

#[test]
fn values_quotes_numbers_and_whitespace() {
    check("params.lr = \"0.1\"", &["r1"]);
    check("params.lr='0.1'", &["r1"]);
    check("metrics.auc>0.8", &["r1"]);
    check("metrics.auc>=0.7AND status='FAILED'", &["r2"]);
    check("metrics.auc > 8e-1", &["r1"]);
    check("metrics.auc > .8", &["r1"]);
    check("metrics.auc > 0.", &["r1", "r2"]);
    check("metrics.auc < +1", &["r1", "r2"]);
    check("metrics.auc > -0.5E+1", &["r1", "r2"]);
    check("metrics.auc = 0.9", &["r1"]);
    check("metrics.auc <= 0.7", &["r2"]);
    check("metrics.auc < 0.7", &[]);
}

#[test]
fn keywords_and_operators_ignore_case() {
    check("metrics.auc > 0.5 AnD status = 'FAILED'", &["r2"]);
    check("params.model like 'XG%'", &["r1"]);
    check("params.lr is not null", &["r1", "r2"]);
    check("attributes.run_id not in ('r1')", &["r2", "r3"]);
}

#[test]
fn like_and_ilike() {
    check("params.model LIKE 'XG%'", &["r1"]);
    check("params.model LIKE 'xg%'", &[]);
    check("params.model ILIKE 'xg%'", &["r1"]);
    check("params.lr LIKE '0._'", &["r1"]);
    check("params.lr LIKE '0.__'", &["r2"]);
    check("params.lr LIKE '%'", &["r1", "r2"]);
    check("run_name LIKE '%three'", &["r3"]);
    check("run_name ILIKE 'RUN%'", &["r3"]);
    check("artifact_uri LIKE 'mlflow-artifacts:%'", &["r1", "r3"]);
    check("tags.team LIKE '%-_'", &["r1"]);
    check("datasets.name ILIKE 'TR%'", &["r1", "r2"]);
}

#[test]
fn is_null_and_is_not_null() {
    check("params.lr IS NULL", &["r3"]);
    check("params.lr IS NOT NULL", &["r1", "r2"]);
    check("tags.team IS NULL", &["r3"]);
    check("tags.`mlflow.runName` IS NOT NULL", &["r1"]);
}

#[test]
fn absent_keys_match_nothing_but_is_null() {
    check("metrics.auc != 0.9", &["r2"]);
    check("params.lr != '0.1'", &["r2"]);
    check("tags.team != 'x'", &["r1", "r2"]);
    check("metrics.nope < 1", &[]);
    check("params.nope LIKE '%'", &[]);
}

#[test]
fn nan_metric_matches_only_not_equal() {
    check("metrics.loss != 0.5", &["r2"]);
    check("metrics.loss < 1", &["r1"]);
    check("metrics.loss >= -1e300", &["r1"]);
}

#[test]
fn numeric_attributes() {
    check("end_time > 0", &["r1"]);
    check("end_time != 5", &["r1"]);
    check("start_time >= 2000", &["r2", "r3"]);
    check("created < 2000", &["r1"]);
    check("attributes.start_time = 1e3", &["r1"]);
    check("attributes.created = 3000", &["r2"]);
}

#[test]
fn string_attributes() {
    check("user_id = 'alice'", &["r1", "r3"]);
    check("run_id = 'r2'", &["r2"]);
    check("run_id != 'r2'", &["r1", "r3"]);
    check("status ILIKE 'run%'", &["r3"]);
}

#[test]
fn datasets_match_when_any_input_matches() {
    check("datasets.name = 'train'", &["r1", "r2"]);
    check("datasets.context = 'training'", &["r1"]);
    // r1's second input has no context, and an absent context matches no `!=`.
    check("datasets.context != 'training'", &["r2"]);
    check("datasets.digest IN ('12345678', 'nope')", &["r2"]);
    check("datasets.name NOT IN ('train')", &["r1"]);
    check("datasets.name != 'x'", &["r1", "r2"]);
}

#[test]
fn in_lists() {
    check("run_id IN ('r2')", &["r2"]);
    check("run_id IN (\"r1\", 'r2')", &["r1", "r2"]);
    check("run_id NOT IN ('r1','r2')", &["r3"]);
    check("run_id IN('r3')", &["r3"]);
}

// ---------------------------------------------------------------------------------------
// §4: refusals
// ---------------------------------------------------------------------------------------

#[test]
fn metric_against_string_names_token_and_offset() {
    let e = refused("metrics.auc > '0.8'", "got the string '0.8'");
    assert_eq!(
        e.to_string(),
        "filter `metrics.auc > '0.8'`: a metric is compared with a number, got the string \
         '0.8' at character 14"
    );
    assert_eq!(e.offset(), 14);
    assert_eq!(e.kind(), InputKind::Filter);
    assert_eq!(e.input(), "metrics.auc > '0.8'");
    assert_eq!(
        e.reason(),
        "a metric is compared with a number, got the string '0.8'"
    );
}

#[test]
fn documented_refusals() {
    refused(
        "params.lr = 0.1",
        "a param is compared with a quoted string, got the number 0.1",
    );
    refused("tags.team = 2", "compared with a quoted string");
    refused("start_time > 'yesterday'", "compared with a number");
    refused(
        "metrics.auc > 0.8 OR metrics.auc < 0.1",
        "MLflow itself rejects OR",
    );
    refused(
        "metrics.auc > 0.8 or metrics.auc < 0.1",
        "MLflow itself rejects OR",
    );
    refused("(metrics.auc > 0.8)", "parentheses are not supported");
    refused(
        "metrics.auc > 0.8 AND (params.lr = '0.1')",
        "parentheses are not supported",
    );
    refused("metrics.auc > (0.8)", "parentheses are not supported");
    refused(
        "metrics.auc IS NULL",
        "`IS NULL` is not allowed on a metric",
    );
    refused(
        "metrics.auc IS NOT NULL",
        "`IS NOT NULL` is not allowed on a metric",
    );
    refused(
        "run_name IN ('a')",
        "`IN` is not allowed on the attribute `run_name`",
    );
    refused(
        "status NOT IN ('a')",
        "`NOT IN` is not allowed on the attribute `status`",
    );
    refused("lifecycle_stage = 'active'", "run_view_type");
    refused("attributes.lifecycle_stage = 'deleted'", "run_view_type");
    refused("foo.bar = 'x'", "unknown entity `foo`");
    refused("params.lr = '0.1", "unterminated quote");
    refused("tags.`team = 'x'", "unterminated quote");
    refused(
        "metrics.auc > 0.8 garbage",
        "expected `AND` or the end of the filter, got `garbage`",
    );
    refused("metrics.auc > 0.8 0.9", "got `0.9`");
    refused(
        "params.lr = '0.1' AND",
        "expected a clause after `AND`, got the end of the filter",
    );
    refused("params.lr = '0.1' AND AND status = 'x'", "got `AND`");
}

#[test]
fn further_refusals() {
    refused("auc > 0.8", "unknown attribute `auc`");
    refused("metrics.auc LIKE 'a'", "`LIKE` is not allowed on a metric");
    refused(
        "status IS NULL",
        "`IS NULL` is not allowed on the attribute `status`",
    );
    refused(
        "end_time IN ('1')",
        "`IN` is not allowed on the attribute `end_time`",
    );
    refused(
        "metrics.auc >",
        "expected a number or a quoted string, got the end of the filter",
    );
    refused("metrics.auc", "expected an operator");
    refused("metrics.auc == 1", "got `=`");
    refused("metrics.auc <> 1", "got `>`");
    refused("params.lr = abc", "quote text with single quotes");
    refused("run_id IN 'a'", "expected `(` after IN");
    refused("run_id IN ('a' 'b')", "expected `,` or `)`");
    refused(
        "run_id IN ()",
        "expected a quoted string in the list, got `)`",
    );
    refused("run_id IN ('a',", "got the end of the filter");
    refused(
        "run_id IN (1)",
        "expected a quoted string in the list, got `1`",
    );
    refused("datasets.size = '1'", "unknown dataset field `size`");
    refused("metrics. = 1", "a key after `metrics.`");
    refused("tags.`` = 'x'", "the key is empty");
    refused("params.lr NOT LIKE 'x'", "NOT LIKE is not supported");
    refused("params.lr IS 'x'", "NULL or NOT NULL after IS");
    refused("tags.team = 'a' && x", "unexpected character `&`");
    refused("params.lr ! 1", "`!` must be followed by `=`");
    refused("AND x = 'y'", "got `AND`");
    refused("= 'y'", "expected a key");
    refused("metrics.auc > 1e3e3", "got `e3`");
}

#[test]
fn offsets_count_characters_not_bytes() {
    let e = refused("tags.é = 'ü' OR x", "OR");
    assert_eq!(e.offset(), 13);
    let e = refused("params.lr = 'ü", "unterminated");
    assert_eq!(e.offset(), 12);
    let e = refused("params.lr = 'a' AND", "after `AND`");
    assert_eq!(e.offset(), 19);
}

// ---------------------------------------------------------------------------------------
// order_by
// ---------------------------------------------------------------------------------------

#[test]
fn default_order_is_start_time_desc_then_run_id() {
    assert_eq!(order(&[]), ["r2", "r3", "r1"]);
    let default = RunOrder::default();
    let mut tie = runs();
    for r in &mut tie {
        r.start_time = 7;
    }
    tie.reverse();
    tie.sort_by(|a, b| default.compare(a, b));
    let ids: Vec<&str> = tie.iter().map(|r| r.run_id).collect();
    assert_eq!(ids, ["r1", "r2", "r3"]);
}

#[test]
fn order_by_keys_with_missing_values_last() {
    assert_eq!(order(&["metrics.auc DESC"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["metrics.auc"]), ["r2", "r1", "r3"]);
    assert_eq!(order(&["metrics.auc ASC"]), ["r2", "r1", "r3"]);
    assert_eq!(order(&["params.lr desc"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["tags.`team` DESC"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["tags.team"]), ["r2", "r1", "r3"]);
    assert_eq!(order(&["end_time DESC"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["end_time"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["attributes.run_name"]), ["r3", "r1", "r2"]);
    assert_eq!(order(&["created"]), ["r1", "r3", "r2"]);
    assert_eq!(order(&["start_time asc"]), ["r1", "r3", "r2"]);
    assert_eq!(order(&["user_id", "run_id DESC"]), ["r3", "r1", "r2"]);
    assert_eq!(order(&["status", "artifact_uri"]), ["r2", "r1", "r3"]);
    assert_eq!(order(&["metrics.`val/auc`"]), ["r1", "r2", "r3"]);
}

#[test]
fn nan_metrics_order_above_every_number() {
    assert_eq!(order(&["metrics.loss ASC"]), ["r1", "r2", "r3"]);
    assert_eq!(order(&["metrics.loss DESC"]), ["r2", "r1", "r3"]);
}

#[test]
fn order_by_refusals() {
    order_refused("datasets.name", "dataset fields");
    order_refused(
        "metrics.auc UP",
        "expected ASC, DESC or the end of the entry, got `UP`",
    );
    order_refused(
        "metrics.auc DESC x",
        "end of the entry after the direction, got `x`",
    );
    order_refused(
        "lifecycle_stage",
        "cannot order by the attribute `lifecycle_stage`",
    );
    order_refused("", "expected a key");
    order_refused("foo.bar", "unknown entity `foo`");
    order_refused("metrics.`auc", "unterminated quote");
    order_refused("metrics.auc OR", "MLflow itself rejects OR");
}

// ---------------------------------------------------------------------------------------
// Registry and logged models
// ---------------------------------------------------------------------------------------

fn models() -> Vec<ModelFacts<'static>> {
    vec![
        ModelFacts {
            name: "fraud-model",
            tags: BTreeMap::new(),
        },
        ModelFacts {
            name: "fraud-prompt",
            tags: BTreeMap::from([("mlflow.prompt.is_prompt", "true")]),
        },
        ModelFacts {
            name: "churn",
            tags: BTreeMap::from([("stage", "prod"), ("mlflow.prompt.is_prompt", "false")]),
        },
    ]
}

#[track_caller]
fn check_models(filter: &str, expected: &[&str]) {
    let parsed = ModelFilter::parse(filter).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = models()
        .iter()
        .filter(|m| parsed.matches(m))
        .map(|m| m.name)
        .collect();
    assert_eq!(got, expected, "filter `{filter}`");
}

#[test]
fn registered_model_filters() {
    check_models(
        "name = 'fraud-model' AND tag.`mlflow.prompt.is_prompt` != 'true'",
        &["fraud-model"],
    );
    check_models(
        "tag.`mlflow.prompt.is_prompt` != 'true'",
        &["fraud-model", "churn"],
    );
    check_models("name LIKE 'fraud%'", &["fraud-model", "fraud-prompt"]);
    check_models("name ILIKE 'FRAUD-M%'", &["fraud-model"]);
    check_models("name != 'churn'", &["fraud-model", "fraud-prompt"]);
    check_models("tags.stage = 'prod'", &["churn"]);
    check_models("name='churn'", &["churn"]);
    check_models("", &["fraud-model", "fraud-prompt", "churn"]);
    for (filter, needle) in [
        (
            "metrics.x > 1",
            "registered models cannot be filtered on metrics",
        ),
        ("version_number = 1", "unknown attribute `version_number`"),
        (
            "name IN ('a')",
            "`IN` is not allowed on the attribute `name`",
        ),
        ("tags.x IS NULL", "`IS NULL` is not allowed on a tag"),
        ("name = 1", "compared with a quoted string"),
        ("name = 'a' OR name = 'b'", "OR"),
    ] {
        let e = ModelFilter::parse(filter).expect_err(filter);
        assert!(e.to_string().contains(needle), "`{filter}` gave: {e}");
    }
}

fn versions() -> Vec<VersionFacts<'static>> {
    vec![
        VersionFacts {
            name: "fraud-model",
            version: 1,
            run_id: Some("r1"),
            source: "runs:/r1/model",
            tags: BTreeMap::from([("validation", "passed")]),
        },
        VersionFacts {
            name: "fraud-model",
            version: 2,
            run_id: None,
            source: "models:/m-2",
            tags: BTreeMap::new(),
        },
        VersionFacts {
            name: "churn",
            version: 1,
            run_id: Some("r2"),
            source: "models:/m-3",
            tags: BTreeMap::new(),
        },
    ]
}

#[track_caller]
fn check_versions(filter: &str, expected: &[(&str, u64)]) {
    let parsed = VersionFilter::parse(filter).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, u64)> = versions()
        .iter()
        .filter(|v| parsed.matches(v))
        .map(|v| (v.name, v.version))
        .collect();
    assert_eq!(got, expected, "filter `{filter}`");
}

#[test]
fn model_version_filters() {
    check_versions(
        "name='fraud-model'",
        &[("fraud-model", 1), ("fraud-model", 2)],
    );
    check_versions("name IN ('churn')", &[("churn", 1)]);
    check_versions(
        "name NOT IN ('churn')",
        &[("fraud-model", 1), ("fraud-model", 2)],
    );
    check_versions("run_id IN ('r1','r2')", &[("fraud-model", 1), ("churn", 1)]);
    check_versions("run_id != 'r1'", &[("churn", 1)]);
    check_versions("run_id = 'r1'", &[("fraud-model", 1)]);
    check_versions("version_number >= 2", &[("fraud-model", 2)]);
    check_versions(
        "name = 'fraud-model' AND version_number = 1",
        &[("fraud-model", 1)],
    );
    check_versions(
        "source_path LIKE 'models:/%'",
        &[("fraud-model", 2), ("churn", 1)],
    );
    check_versions("tags.validation = 'passed'", &[("fraud-model", 1)]);
    check_versions(
        "tags.validation != 'passed'",
        &[("fraud-model", 2), ("churn", 1)],
    );
    for (filter, needle) in [
        (
            "version_number = '1'",
            "compared with a number, got the string '1'",
        ),
        (
            "source_path IN ('x')",
            "`IN` is not allowed on the attribute `source_path`",
        ),
        (
            "params.x = 'y'",
            "model versions cannot be filtered on params",
        ),
        ("stage = 'Production'", "unknown attribute `stage`"),
    ] {
        let e = VersionFilter::parse(filter).expect_err(filter);
        assert!(e.to_string().contains(needle), "`{filter}` gave: {e}");
    }
}

fn logged_models() -> Vec<LoggedModelFacts<'static>> {
    vec![
        LoggedModelFacts {
            model_id: "m-1",
            name: "model",
            model_type: Some("sklearn"),
            status: "LOGGED_MODEL_READY",
            source_run_id: Some("r1"),
            creation_timestamp: 100,
            last_updated_timestamp: 150,
            params: BTreeMap::from([("alpha", "0.5")]),
            tags: BTreeMap::from([("mlflow.source.name", "train.py")]),
            metrics: BTreeMap::from([("acc", 0.93)]),
        },
        LoggedModelFacts {
            model_id: "m-2",
            name: "other",
            model_type: None,
            status: "LOGGED_MODEL_PENDING",
            source_run_id: None,
            creation_timestamp: 200,
            last_updated_timestamp: 200,
            ..LoggedModelFacts::default()
        },
    ]
}

#[track_caller]
fn check_logged(filter: &str, expected: &[&str]) {
    let parsed = LoggedModelFilter::parse(filter).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<&str> = logged_models()
        .iter()
        .filter(|m| parsed.matches(m))
        .map(|m| m.model_id)
        .collect();
    assert_eq!(got, expected, "filter `{filter}`");
}

#[test]
fn logged_model_filters() {
    check_logged("name = 'model'", &["m-1"]);
    check_logged("model_id = 'm-2'", &["m-2"]);
    check_logged("source_run_id = 'r1'", &["m-1"]);
    check_logged("source_run_id != 'r1'", &[]);
    check_logged("model_type = 'sklearn'", &["m-1"]);
    check_logged("status LIKE '%READY'", &["m-1"]);
    check_logged("creation_timestamp > 100", &["m-2"]);
    check_logged("creation_time >= 100", &["m-1", "m-2"]);
    check_logged("last_updated_timestamp < 200", &["m-1"]);
    check_logged("metrics.acc >= 0.9", &["m-1"]);
    check_logged("params.alpha = '0.5'", &["m-1"]);
    check_logged("params.alpha IS NULL", &["m-2"]);
    check_logged("tags.`mlflow.source.name` LIKE '%train.py'", &["m-1"]);
    check_logged("", &["m-1", "m-2"]);
    for (filter, needle) in [
        (
            "datasets.name = 'x'",
            "logged models cannot be filtered on datasets",
        ),
        ("run_id = 'x'", "unknown attribute `run_id`"),
        ("metrics.acc = '1'", "a metric is compared with a number"),
        (
            "model_type IS NULL",
            "`IS NULL` is not allowed on the attribute `model_type`",
        ),
    ] {
        let e = LoggedModelFilter::parse(filter).expect_err(filter);
        assert!(e.to_string().contains(needle), "`{filter}` gave: {e}");
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

const TOKENS: &[&str] = &[
    "metrics.auc",
    "params.lr",
    "tags.",
    "`team`",
    "\"x\"",
    "'0.1'",
    "'",
    "\"",
    "`",
    "0.8",
    "-1e3",
    "1e",
    ".",
    "-",
    "=",
    "!=",
    "!",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "ilike",
    "IS",
    "NOT",
    "NULL",
    "IN",
    "(",
    ")",
    ",",
    "AND",
    "or",
    "status",
    "run_id",
    "datasets.name",
    "lifecycle_stage",
    "é",
    "%",
    "_",
    "name",
    "version_number",
    "ASC",
    "desc",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((select(TOKENS), any::<bool>()), 0..14).prop_map(|parts| {
        parts
            .iter()
            .map(|(t, space)| {
                if *space {
                    format!("{t} ")
                } else {
                    t.to_string()
                }
            })
            .collect()
    })
}

/// Runs every parser on `s`; any refusal must point inside the input.
fn parse_everything(s: &str) {
    let len = s.chars().count();
    let errors = [
        RunFilter::parse(s).err(),
        ModelFilter::parse(s).err(),
        VersionFilter::parse(s).err(),
        LoggedModelFilter::parse(s).err(),
        RunOrder::parse(&[s.to_string()]).err(),
    ];
    for e in errors.into_iter().flatten() {
        assert!(e.offset() <= len, "{e}");
        assert_eq!(e.input(), s);
    }
    if let Ok(f) = RunFilter::parse(s) {
        for r in runs() {
            f.matches(&r);
        }
    }
}

/// LIKE written the obvious way, to check the iterative matcher against.
fn reference_like(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('%', rest)) => (0..=text.len()).any(|i| reference_like(rest, &text[i..])),
        Some(('_', rest)) => !text.is_empty() && reference_like(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && reference_like(rest, &text[1..]),
    }
}

fn reference_like_str(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    reference_like(&p, &t)
}

const NUM_OPS: &[&str] = &["=", "!=", ">", ">=", "<", "<="];
const TEXT_OPS: &[&str] = &["=", "!=", "LIKE", "ILIKE", "like", "ilike"];
const TEXT_VALUES: &[&str] = &[
    "0.1", "0.01", "abc", "ABC", "a_c", "", "é", "%", "a%", "_b_", "%C", "0._",
];
const METRIC_VALUES: &[f64] = &[-1.0, 0.0, 0.5, 0.8, 1.0, 1e3, -2.5e-3];

/// One generated clause, rendered into a filter and evaluated directly.
#[derive(Debug, Clone)]
enum Clause {
    Metric {
        alias: &'static str,
        key: &'static str,
        op: &'static str,
        value: f64,
    },
    Text {
        alias: &'static str,
        param: bool,
        key: &'static str,
        op: &'static str,
        value: &'static str,
    },
    Null {
        alias: &'static str,
        param: bool,
        key: &'static str,
        negated: bool,
    },
    Status {
        op: &'static str,
        value: &'static str,
    },
    RunIds {
        negated: bool,
        ids: Vec<&'static str>,
    },
    Time {
        end: bool,
        op: &'static str,
        value: i64,
    },
    Dataset {
        field: &'static str,
        op: &'static str,
        value: &'static str,
    },
}

fn clause() -> impl Strategy<Value = Clause> {
    prop_oneof![
        (
            select(&["metrics", "metric"][..]),
            select(&["auc", "loss"][..]),
            select(NUM_OPS),
            select(METRIC_VALUES)
        )
            .prop_map(|(alias, key, op, value)| Clause::Metric {
                alias,
                key,
                op,
                value
            }),
        (
            any::<bool>(),
            select(&["lr", "model"][..]),
            select(TEXT_OPS),
            select(TEXT_VALUES),
            any::<bool>()
        )
            .prop_map(|(param, key, op, value, short)| Clause::Text {
                alias: match (param, short) {
                    (true, true) => "param",
                    (true, false) => "params",
                    (false, true) => "tag",
                    (false, false) => "tags",
                },
                param,
                key,
                op,
                value,
            }),
        (any::<bool>(), select(&["lr", "model"][..]), any::<bool>()).prop_map(
            |(param, key, negated)| Clause::Null {
                alias: if param { "parameters" } else { "tags" },
                param,
                key,
                negated,
            }
        ),
        (
            select(TEXT_OPS),
            select(&["FINISHED", "FAILED", "RUN%", "%ED", "f%"][..])
        )
            .prop_map(|(op, value)| Clause::Status { op, value }),
        (
            any::<bool>(),
            prop::collection::vec(select(&["r1", "r2", "r3", "r4"][..]), 1..4)
        )
            .prop_map(|(negated, ids)| Clause::RunIds { negated, ids }),
        (any::<bool>(), select(NUM_OPS), 0i64..5).prop_map(|(end, op, value)| Clause::Time {
            end,
            op,
            value
        }),
        (
            select(&["name", "digest", "context"][..]),
            select(&["=", "!=", "LIKE", "ILIKE"][..]),
            select(&["train", "T%", "e%", "x"][..])
        )
            .prop_map(|(field, op, value)| Clause::Dataset { field, op, value }),
    ]
}

fn render(c: &Clause, tight: bool) -> String {
    let sp = if tight { "" } else { " " };
    match c {
        Clause::Metric {
            alias,
            key,
            op,
            value,
        } => format!("{alias}.{key}{sp}{op}{sp}{value:?}"),
        Clause::Text {
            alias,
            key,
            op,
            value,
            ..
        } => format!("{alias}.`{key}` {op} '{value}'"),
        Clause::Null {
            alias,
            key,
            negated,
            ..
        } => {
            format!(
                "{alias}.\"{key}\" IS {}NULL",
                if *negated { "NOT " } else { "" }
            )
        }
        Clause::Status { op, value } => format!("attributes.status {op} \"{value}\""),
        Clause::RunIds { negated, ids } => {
            let list: Vec<String> = ids.iter().map(|id| format!("'{id}'")).collect();
            format!(
                "run_id {}IN{sp}({})",
                if *negated { "NOT " } else { "" },
                list.join(",")
            )
        }
        Clause::Time { end, op, value } => {
            format!(
                "{}{sp}{op}{sp}{value}",
                if *end { "end_time" } else { "created" }
            )
        }
        Clause::Dataset { field, op, value } => format!("datasets.{field} {op} '{value}'"),
    }
}

fn compare_num(op: &str, v: f64, x: f64) -> bool {
    match op {
        "=" => v == x,
        "!=" => v != x,
        ">" => v > x,
        ">=" => v >= x,
        "<" => v < x,
        "<=" => v <= x,
        _ => unreachable!("{op}"),
    }
}

fn compare_text(op: &str, v: &str, x: &str) -> bool {
    match op {
        "=" => v == x,
        "!=" => v != x,
        "LIKE" | "like" => reference_like_str(x, v),
        "ILIKE" | "ilike" => reference_like_str(&x.to_lowercase(), &v.to_lowercase()),
        _ => unreachable!("{op}"),
    }
}

/// The meaning of a clause, written independently of the parser.
fn direct(c: &Clause, run: &RunFacts<'_>) -> bool {
    let text_map = |param: bool| if param { &run.params } else { &run.tags };
    match c {
        Clause::Metric { key, op, value, .. } => run
            .metrics
            .get(key)
            .is_some_and(|v| compare_num(op, *v, *value)),
        Clause::Text {
            param,
            key,
            op,
            value,
            ..
        } => text_map(*param)
            .get(key)
            .is_some_and(|v| compare_text(op, v, value)),
        Clause::Null {
            param,
            key,
            negated,
            ..
        } => text_map(*param).contains_key(key) == *negated,
        Clause::Status { op, value } => compare_text(op, run.status, value),
        Clause::RunIds { negated, ids } => ids.contains(&run.run_id) != *negated,
        Clause::Time { end, op, value } => {
            let t = if *end {
                run.end_time
            } else {
                Some(run.start_time)
            };
            t.is_some_and(|t| compare_num(op, t as f64, *value as f64))
        }
        Clause::Dataset { field, op, value } => run.datasets.iter().any(|d| {
            let v = match *field {
                "name" => Some(d.name),
                "digest" => Some(d.digest),
                _ => d.context,
            };
            v.is_some_and(|v| compare_text(op, v, value))
        }),
    }
}

fn arb_run() -> impl Strategy<Value = RunFacts<'static>> {
    let dataset = (
        select(&["train", "eval"][..]),
        select(&["fb0c9f33", "x"][..]),
        prop::option::of(select(&["training", "eval"][..])),
    )
        .prop_map(|(name, digest, context)| DatasetFacts {
            name,
            digest,
            context,
        });
    (
        (
            select(&["r1", "r2", "r3", "r4"][..]),
            select(&["x", "y", "Abc"][..]),
            select(&["FINISHED", "FAILED", "RUNNING"][..]),
        ),
        (0i64..5, prop::option::of(0i64..5)),
        prop::collection::btree_map(
            select(&["auc", "loss"][..]),
            select(&[-1.0, 0.0, 0.5, 0.8, 1e3, f64::NAN, f64::INFINITY][..]),
            0..=2,
        ),
        prop::collection::btree_map(select(&["lr", "model"][..]), select(TEXT_VALUES), 0..=2),
        prop::collection::btree_map(
            select(&["lr", "model", "team"][..]),
            select(TEXT_VALUES),
            0..=2,
        ),
        prop::collection::vec(dataset, 0..3),
    )
        .prop_map(
            |(
                (run_id, run_name, status),
                (start_time, end_time),
                metrics,
                params,
                tags,
                datasets,
            )| RunFacts {
                run_id,
                run_name,
                status,
                user_id: "alice",
                artifact_uri: "mlflow-artifacts:/1",
                start_time,
                end_time,
                metrics,
                params,
                tags,
                datasets,
            },
        )
}

const ORDER_ENTRIES: &[&str] = &[
    "metrics.auc",
    "metrics.loss DESC",
    "metrics.`loss` asc",
    "params.lr",
    "params.lr desc",
    "tags.team DESC",
    "tags.model",
    "end_time",
    "end_time DESC",
    "start_time ASC",
    "run_name",
    "status DESC",
    "attributes.run_id desc",
    "created",
];

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_strings(s in any::<String>()) {
        parse_everything(&s);
    }

    #[test]
    fn parser_never_panics_on_printable_strings(s in "\\PC{0,40}") {
        parse_everything(&s);
    }

    #[test]
    fn parser_never_panics_on_token_soup(s in token_soup()) {
        parse_everything(&s);
    }

    #[test]
    fn rendered_filters_mean_what_they_say(
        clauses in prop::collection::vec(clause(), 1..5),
        tight in any::<bool>(),
        and in select(&[" AND ", " and ", " And "][..]),
        run in arb_run(),
    ) {
        let rendered: Vec<String> = clauses.iter().map(|c| render(c, tight)).collect();
        let filter = rendered.join(and);
        let parsed = RunFilter::parse(&filter).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = clauses.iter().all(|c| direct(c, &run));
        prop_assert_eq!(parsed.matches(&run), expected, "filter `{}` on {:?}", filter, run);
    }

    #[test]
    fn like_agrees_with_a_recursive_reference(
        pattern in prop::collection::vec(select(&['a', 'b', 'A', 'é', '%', '_'][..]), 0..8),
        text in prop::collection::vec(select(&['a', 'b', 'A', 'é'][..]), 0..8),
    ) {
        let pattern: String = pattern.into_iter().collect();
        let text: String = text.into_iter().collect();
        let run = RunFacts { params: BTreeMap::from([("p", text.as_str())]), ..RunFacts::default() };
        let like = RunFilter::parse(&format!("params.p LIKE '{pattern}'")).unwrap();
        prop_assert_eq!(like.matches(&run), reference_like_str(&pattern, &text));
        let ilike = RunFilter::parse(&format!("params.p ILIKE '{pattern}'")).unwrap();
        prop_assert_eq!(
            ilike.matches(&run),
            reference_like_str(&pattern.to_lowercase(), &text.to_lowercase())
        );
    }

    #[test]
    fn run_order_is_a_total_order(
        entries in prop::collection::vec(select(ORDER_ENTRIES), 0..4),
        mut all in prop::collection::vec(arb_run(), 3..6),
    ) {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        let order = RunOrder::parse(&entries).unwrap();
        for a in &all {
            prop_assert_eq!(order.compare(a, a), Ordering::Equal);
            for b in &all {
                prop_assert_eq!(order.compare(a, b), order.compare(b, a).reverse());
                for c in &all {
                    if order.compare(a, b) != Ordering::Greater && order.compare(b, c) != Ordering::Greater {
                        prop_assert_ne!(order.compare(a, c), Ordering::Greater);
                    }
                }
            }
        }
        all.sort_by(|a, b| order.compare(a, b));
        for pair in all.windows(2) {
            prop_assert_ne!(order.compare(&pair[0], &pair[1]), Ordering::Greater);
        }
    }
}
