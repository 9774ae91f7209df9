//! The JSON Schemas in `schemas/` and the Rust types agree.
//!
//! `schemas/` is the contract for publishers in any language; `vouch_event` is what Vouch
//! enforces. This test holds both to the examples in `schemas/examples/`, to boundary probes
//! (one-field edits of valid examples), and to random events built through the public
//! constructors. It carries its own validator for exactly the keyword subset the schemas use
//! (`schemas/README.md`); the validator panics on any keyword or regex construct it does not
//! know, so a rule added to a schema can never be skipped silently.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};
use vouch_event::{decode, encode, from_json, to_json, to_json_value, Body, Event, Kind, Name};

use schema::Schemas;

fn schemas_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas"))
}

fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| Schemas::load(&schemas_dir()))
}

/// The `*.json` files of `schemas/examples/<which>`, sorted by name.
fn examples(which: &str) -> Vec<(String, Vec<u8>)> {
    let dir = schemas_dir().join("examples").join(which);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("a UTF-8 name");
            (
                name.to_owned(),
                fs::read(&path).expect("a readable example"),
            )
        })
        .collect();
    files.sort();
    files
}

/// The `<kind>` (or `envelope`) of an example named `<kind>-<description>.json`.
fn prefix(file: &str) -> &str {
    file.split_once('-')
        .unwrap_or_else(|| panic!("{file}: examples are named <kind>-<description>.json"))
        .0
}

/// A JSON value for a message, cut to a readable length.
fn short(value: &Value) -> String {
    let text = value.to_string();
    let chars = text.chars().count();
    if chars <= 80 {
        text
    } else {
        format!(
            "{}… ({chars} chars)",
            text.chars().take(60).collect::<String>()
        )
    }
}

/// Whether two events are the same: equal, or (a NaN metric value is unequal to itself)
/// with the same canonical binary form.
fn same(a: &Event, b: &Event) -> bool {
    a == b || encode(a) == encode(b)
}

/// The wire form of `event` satisfies its kind's schema and decodes back to `event`, and
/// so does the binary form.
fn round_trip(event: &Event) -> Result<(), String> {
    let json = to_json_value(event);
    let errors = schemas().validate(event.kind().as_str(), &json);
    if !errors.is_empty() {
        return Err(format!(
            "to_json_value breaks the schema:\n  {}\n  json = {json}",
            errors.join("\n  ")
        ));
    }
    let text = to_json(event);
    match from_json(text.as_bytes()) {
        Ok(back) if same(&back, event) => {}
        Ok(back) => {
            return Err(format!(
                "from_json(to_json(e)) != e\n  e    = {event:?}\n  back = {back:?}\n  json = {text}"
            ))
        }
        Err(e) => return Err(format!("from_json(to_json(e)) fails: {e}\n  json = {text}")),
    }
    match decode(&encode(event)) {
        Ok(back) if same(&back, event) => Ok(()),
        other => Err(format!("decode(encode(e)) = {other:?}\n  e = {event:?}")),
    }
}

#[test]
fn valid_examples_pass_the_schema_decode_and_round_trip() {
    let files = examples("valid");
    assert!(!files.is_empty(), "no valid examples found");
    for (file, bytes) in &files {
        let kind = prefix(file);
        let json: Value =
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        assert_eq!(
            json["kind"], kind,
            "{file}: `kind` must match the file-name prefix"
        );
        let errors = schemas().validate(kind, &json);
        assert!(
            errors.is_empty(),
            "{file} breaks {kind}.v1.schema.json:\n  {}",
            errors.join("\n  ")
        );
        let event =
            from_json(bytes).unwrap_or_else(|e| panic!("{file}: from_json rejects it: {e}"));
        assert_eq!(event.kind().as_str(), kind, "{file}");
        let decoded = decode(bytes).unwrap_or_else(|e| panic!("{file}: decode rejects it: {e}"));
        assert!(
            same(&decoded, &event),
            "{file}: the log's decode of the JSON form"
        );
        round_trip(&event).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn invalid_examples_fail_the_schema_and_decoding() {
    let files = examples("invalid");
    assert!(!files.is_empty(), "no invalid examples found");
    let mut problems = Vec::new();
    for (file, bytes) in &files {
        let json: Value =
            serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        let kind = match prefix(file) {
            "envelope" => json["kind"]
                .as_str()
                .expect("an envelope example has a string `kind`"),
            kind => kind,
        };
        let errors = schemas().validate(kind, &json);
        let decoded = from_json(bytes);
        println!(
            "{file}\n  schema: {}\n  vouch:  {:?}",
            errors.join("; "),
            decoded.as_ref().err()
        );
        if errors.is_empty() {
            problems.push(format!("{file}: {kind}.v1.schema.json accepts it"));
        }
        if let Ok(event) = decoded {
            problems.push(format!("{file}: from_json accepts it as {event:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "invalid examples that pass:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_invalid_example_is_explained() {
    let reasons = fs::read_to_string(schemas_dir().join("examples/invalid/REASONS.md"))
        .expect("schemas/examples/invalid/REASONS.md");
    let listed: BTreeSet<&str> = reasons
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split_once('`'))
        .map(|(file, _)| file)
        .collect();
    let files = examples("invalid");
    let present: BTreeSet<&str> = files.iter().map(|(file, _)| file.as_str()).collect();
    assert_eq!(
        listed, present,
        "REASONS.md must list exactly the invalid examples"
    );
}

#[test]
fn every_kind_has_a_schema_and_examples() {
    let with_schema = schemas().kinds();
    let accepted: BTreeSet<String> = Kind::ALL
        .into_iter()
        .filter(|kind| !kind.is_reserved())
        .map(|kind| kind.as_str().to_owned())
        .collect();
    assert_eq!(
        with_schema, accepted,
        "a <kind>.v1.schema.json for exactly the accepted kinds"
    );
    let valid = examples("valid");
    let invalid = examples("invalid");
    let valid: BTreeSet<&str> = valid.iter().map(|(file, _)| prefix(file)).collect();
    let invalid: BTreeSet<&str> = invalid.iter().map(|(file, _)| prefix(file)).collect();
    for kind in &with_schema {
        assert!(valid.contains(kind.as_str()), "no valid example for {kind}");
        assert!(
            invalid.contains(kind.as_str()),
            "no invalid example for {kind}"
        );
    }
    for p in &valid {
        assert!(
            with_schema.contains(*p),
            "valid example prefix `{p}` is not a kind with a schema"
        );
    }
    for p in &invalid {
        assert!(
            *p == "envelope" || with_schema.contains(*p),
            "unknown invalid example prefix `{p}`"
        );
    }
}

/// What a probe expects of the schema and of Vouch.
enum Expect {
    Valid,
    Invalid,
    /// The schema accepts it and Vouch rejects it, as the quoted documentation says.
    OnlyVouchRejects(&'static str),
}

/// A valid example with one field set to `value`.
struct Probe {
    base: &'static str,
    pointer: &'static str,
    value: Value,
    expect: Expect,
}

fn probe(
    base: &'static str,
    pointer: &'static str,
    value: impl Into<Value>,
    expect: Expect,
) -> Probe {
    Probe {
        base,
        pointer,
        value: value.into(),
        expect,
    }
}

fn object(entries: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(entries.into_iter().collect())
}

fn probes() -> Vec<Probe> {
    use Expect::{Invalid, OnlyVouchRejects as Gap, Valid};
    const RS: &str = "run_started-git-and-env.json";
    const PL: &str = "params_logged-xgboost-hyperparams.json";
    const ML: &str = "metrics_logged-segment-region-eu.json";
    const AL: &str = "artifact_logged-model-onnx.json";
    const ALS: &str = "artifact_logged-with-sha256.json";
    const DB: &str = "dataset_bound-train-snapshot.json";
    const RF: &str = "run_finished-ok.json";
    const LM: &str = "live_metrics_observed-segment-region-apac.json";
    // The rules README.md lists as checked by Vouch, not by the schemas.
    const KEYS: &str = "README: map keys are names; tool names are 1..=200 characters";
    const SIZE: &str = "README: an encoded event is at most 1 MiB";
    const TIME: &str =
        "README: a time's date, time of day and UTC offset exist, its year is 1678..=2261";
    const CONTROL: &str = "README: free text contains no control characters";
    const SEGMENT: &str = "common segment: Vouch additionally rejects control characters in values";
    const U64: &str = "README: integers are at most 2^64 - 1";
    const WHOLE: &str = "README: integers are written without a fraction";
    const WINDOW: &str = "README: a live window's start is not after its end";
    const EC: &str = "experiment_created-shared-fraud-detection.json";
    const TS: &str = "tags_set-run-delete-tag.json";
    const TM: &str = "tags_set-model-version.json";
    const TE: &str = "tags_set-experiment.json";
    const RU: &str = "run_updated-deleted.json";
    const MP: &str = "metric_points-nan-loss.json";
    const IL: &str = "inputs_logged-train-and-eval.json";
    const LC: &str = "logged_model_created-xgboost.json";
    const LU: &str = "logged_model_updated-ready.json";
    const MR: &str = "model_registered-fraud-gbm.json";
    const MV: &str = "model_version_created-from-logged-model.json";
    const AM: &str = "alias_moved-champion-guarded.json";
    const BOTH: &str = "README: no tag key is both set and deleted";
    const TAG_KEYS: &str = "README: tag keys contain no control characters";
    const FREE: &str =
        "README: tag values and free text contain no control characters but newline, tab, CR";
    let max_tag = "v".repeat(100_000);
    let too_big = object((0..300).map(|i| (format!("p{i}"), json!("v".repeat(4000)))));
    vec![
        // Envelope.
        probe(RF, "/time", "2026-11-28T04:22:41.123456789Z", Valid),
        probe(RF, "/time", "2026-11-28T05:52:41+01:30", Valid),
        probe(RF, "/time", "2016-12-31T23:59:60Z", Valid),
        probe(RF, "/time", "2026-11-28T04:22:41.1234567890Z", Invalid),
        probe(RF, "/time", "2026-11-28T04:22:41.Z", Invalid),
        probe(RF, "/time", "2026-11-28T04:22:41+0100", Invalid),
        probe(RF, "/time", "2026-11-28t04:22:41Z", Invalid),
        probe(RF, "/time", "2026-11-28T04:22:41z", Invalid),
        probe(RF, "/time", "2026-11-28 04:22:41Z", Invalid),
        probe(RF, "/time", " 2026-11-28T04:22:41Z", Invalid),
        probe(RF, "/time", "2026-02-30T00:00:00Z", Gap(TIME)),
        probe(RF, "/time", "2026-11-28T24:00:00Z", Gap(TIME)),
        probe(RF, "/time", "2026-11-28T04:22:41+24:00", Gap(TIME)),
        probe(RF, "/time", "9999-12-31T23:59:59Z", Gap(TIME)),
        probe(RF, "/id", "x".repeat(256), Valid),
        probe(RF, "/id", "r-7f3a-\u{e9}", Invalid),
        probe(RF, "/id", "r-7f3a\tend", Invalid),
        probe(RF, "/producer", "p".repeat(256), Valid),
        probe(RF, "/producer", "p".repeat(257), Invalid),
        probe(RF, "/producer", "caf\u{e9}.py", Invalid),
        probe(RF, "/run", "r".repeat(128), Valid),
        probe(RF, "/run", "0", Valid),
        probe(RF, "/run", "_r", Invalid),
        probe(RF, "/run", "r/1", Invalid),
        probe(RF, "/kind", "policy_published", Invalid),
        probe(RF, "/schema", 0, Invalid),
        // JSON Schema: a number with a zero fraction is an integer, so 1.0 is the const 1;
        // Vouch asks producers to write integers as integers.
        probe(RF, "/schema", 1.0, Gap(WHOLE)),
        // run_started.
        probe(RS, "/data/experiment", "e".repeat(200), Valid),
        probe(RS, "/data/experiment", "\u{e9}".repeat(200), Valid),
        probe(RS, "/data/experiment", "e".repeat(201), Invalid),
        probe(RS, "/data/experiment", "loan\nrisk", Gap(CONTROL)),
        probe(RS, "/data/name", "n".repeat(201), Invalid),
        probe(RS, "/data/git/commit", "a".repeat(64), Valid),
        probe(RS, "/data/git/commit", "a".repeat(65), Invalid),
        probe(RS, "/data/git/commit", "A91F03C", Invalid),
        probe(RS, "/data/env/os", "", Invalid),
        probe(RS, "/data/env/cpu", "c".repeat(201), Invalid),
        probe(RS, "/data/env/host", "h".repeat(256), Valid),
        probe(RS, "/data/env/host", "h".repeat(257), Invalid),
        probe(RS, "/data/env/host", "gpu\u{7f}07", Gap(CONTROL)),
        probe(RS, "/data/env/tools", json!({}), Valid),
        probe(RS, "/data/env/tools", json!({ "python": "" }), Invalid),
        probe(
            RS,
            "/data/env/tools",
            json!({ "python": "3".repeat(201) }),
            Invalid,
        ),
        probe(RS, "/data/env/tools", json!({ "": "3.12" }), Gap(KEYS)),
        // params_logged.
        probe(PL, "/data/params", json!({ "k": "v".repeat(4096) }), Valid),
        probe(
            PL,
            "/data/params",
            json!({ "k": "v".repeat(4097) }),
            Invalid,
        ),
        probe(
            PL,
            "/data/params",
            json!({ "k": "", "note": "tab\there" }),
            Valid,
        ),
        probe(
            PL,
            "/data/params",
            json!({ "learning rate": "0.1" }),
            Gap(KEYS),
        ),
        probe(PL, "/data/params", too_big, Gap(SIZE)),
        // metrics_logged.
        probe(
            ML,
            "/data/metrics",
            json!({ "auc": 1e308, "n": -5, "z": -0.0 }),
            Valid,
        ),
        probe(
            ML,
            "/data/metrics",
            object([("m".repeat(250), json!(1))]),
            Valid,
        ),
        probe(
            ML,
            "/data/metrics",
            object([("m".repeat(251), json!(1))]),
            Gap(KEYS),
        ),
        probe(ML, "/data/step", 0, Valid),
        probe(ML, "/data/step", u64::MAX, Valid),
        probe(ML, "/data/step", 1.0, Gap(WHOLE)),
        probe(ML, "/data/step", 18_446_744_073_709_551_616.0, Gap(U64)),
        probe(ML, "/data/segment", "a=b,c=d", Valid),
        probe(
            ML,
            "/data/segment",
            "region=caf\u{e9} \u{1F600} <30k",
            Valid,
        ),
        probe(
            ML,
            "/data/segment",
            format!("region={}", "v".repeat(100)),
            Valid,
        ),
        probe(
            ML,
            "/data/segment",
            format!("region={}", "v".repeat(101)),
            Invalid,
        ),
        probe(
            ML,
            "/data/segment",
            format!("{}=EU", "d".repeat(250)),
            Valid,
        ),
        probe(
            ML,
            "/data/segment",
            format!("{}=EU", "d".repeat(251)),
            Invalid,
        ),
        probe(ML, "/data/segment", "region=EU,", Invalid),
        probe(ML, "/data/segment", ",region=EU", Invalid),
        probe(ML, "/data/segment", "region=E=U", Invalid),
        probe(ML, "/data/segment", "re gion=EU", Invalid),
        probe(ML, "/data/segment", "region=E\u{7}U", Gap(SEGMENT)),
        // artifact_logged.
        probe(AL, "/data/name", "n".repeat(250), Valid),
        probe(AL, "/data/name", "\u{e9}".repeat(250), Valid),
        probe(AL, "/data/name", "n".repeat(251), Invalid),
        probe(AL, "/data/uri", "u".repeat(2048), Valid),
        probe(AL, "/data/uri", "u".repeat(2049), Invalid),
        probe(AL, "/data/uri", "s3://a/b\r\n", Gap(CONTROL)),
        probe(AL, "/data/size", u64::MAX, Valid),
        probe(
            AL,
            "/data/digest",
            format!("blake3:{}", "0".repeat(64)),
            Valid,
        ),
        // Digest::parse takes bare hex; the wire form must not.
        probe(AL, "/data/digest", "0".repeat(64), Invalid),
        // The optional sha256 (from an example that has one): prefix and 64 lowercase hex.
        probe(
            ALS,
            "/data/sha256",
            format!("sha256:{}", "f".repeat(64)),
            Valid,
        ),
        probe(ALS, "/data/sha256", "f".repeat(64), Invalid),
        probe(
            ALS,
            "/data/sha256",
            format!("sha256:{}", "f".repeat(63)),
            Invalid,
        ),
        probe(
            ALS,
            "/data/sha256",
            format!("sha256:{}", "F".repeat(64)),
            Invalid,
        ),
        probe(ALS, "/data/sha256", json!(null), Invalid),
        // dataset_bound.
        probe(
            DB,
            "/data/snapshot_at",
            "2026-11-01T00:00:00.5+05:30",
            Valid,
        ),
        probe(DB, "/data/rows", 0, Valid),
        probe(DB, "/data/uri", "", Invalid),
        probe(DB, "/data/name", "loan\u{0}s", Gap(CONTROL)),
        // run_finished.
        probe(RF, "/data/status", "killed", Valid),
        probe(RF, "/data/status", "OK", Invalid),
        // live_metrics_observed.
        probe(LM, "/model", "m".repeat(128), Valid),
        probe(LM, "/model", "m".repeat(129), Invalid),
        probe(LM, "/model", "-loan", Invalid),
        probe(LM, "/kind", "metrics_logged", Invalid),
        probe(LM, "/data/env", "e".repeat(64), Valid),
        probe(LM, "/data/env", "e".repeat(65), Invalid),
        probe(LM, "/data/env", "prod\nuction", Gap(CONTROL)),
        probe(
            LM,
            "/data/metrics",
            json!({ "auc": -0.0, "n": 1e308 }),
            Valid,
        ),
        probe(LM, "/data/metrics", json!({ "auc": "0.8" }), Invalid),
        probe(LM, "/data/metrics", json!({ "a uc": 0.8 }), Gap(KEYS)),
        probe(LM, "/data/segment", "region=", Invalid),
        probe(
            LM,
            "/data/artifact",
            format!("blake3:{}", "A".repeat(64)),
            Invalid,
        ),
        probe(LM, "/data/count", 0, Valid),
        probe(LM, "/data/count", u64::MAX, Valid),
        probe(LM, "/data/count", 2.0, Gap(WHOLE)),
        probe(LM, "/data/count", 18_446_744_073_709_551_616.0, Gap(U64)),
        probe(LM, "/data/window_start", "2026-11-21T00:00:00Z", Valid),
        probe(
            LM,
            "/data/window_start",
            "2026-11-21T00:00:00.000000001Z",
            Gap(WINDOW),
        ),
        probe(LM, "/data/window_start", "2026-11-21T01:00:00+02:00", Valid),
        probe(LM, "/data/labels_through", "2026-11-01T00:00:00Z", Valid),
        probe(
            LM,
            "/data/labels_through",
            "2026-02-30T00:00:00Z",
            Gap(TIME),
        ),
        // experiment_created, and the experiment subject.
        probe(EC, "/experiment", "e".repeat(200), Valid),
        probe(EC, "/experiment", "\u{e9}".repeat(200), Valid),
        probe(EC, "/experiment", "e".repeat(201), Invalid),
        probe(EC, "/experiment", "", Invalid),
        probe(EC, "/experiment", "fraud\tdetection", Gap(CONTROL)),
        probe(EC, "/data/tags", json!({}), Valid),
        probe(TE, "/experiment", "Shared/caf\u{e9} \u{1F600}", Valid),
        // tags_set.
        probe(
            TS,
            "/data/set",
            object([("k".repeat(250), json!("v"))]),
            Valid,
        ),
        probe(
            TS,
            "/data/set",
            object([("k".repeat(251), json!("v"))]),
            Invalid,
        ),
        probe(TS, "/data/set", json!({ "k": max_tag.clone() }), Valid),
        probe(
            TS,
            "/data/set",
            json!({ "k": format!("{max_tag}v") }),
            Invalid,
        ),
        probe(TS, "/data/set", json!({ "k": "" }), Valid),
        probe(TS, "/data/set", json!({ "k": "two\nlines\tand\r" }), Valid),
        probe(TS, "/data/set", json!({ "k": "bell\u{7}" }), Gap(FREE)),
        probe(TS, "/data/set", json!({ "a\nb": "v" }), Gap(TAG_KEYS)),
        probe(TS, "/data/set", json!({ "k": null }), Invalid),
        probe(TS, "/data/set", json!({}), Valid),
        probe(TS, "/data/deleted", json!([]), Valid),
        probe(TS, "/data/deleted", json!([""]), Invalid),
        probe(TS, "/data/deleted", json!(["k".repeat(251)]), Invalid),
        probe(TS, "/data/deleted", json!(["reviewed"]), Gap(BOTH)),
        probe(TS, "/data/deleted", json!("wip"), Invalid),
        probe(TS, "/model", "fraud-gbm", Invalid),
        probe(TM, "/data/version", u64::MAX, Valid),
        probe(TM, "/data/version", 0, Invalid),
        probe(TM, "/data/version", -1, Invalid),
        probe(TE, "/data/version", 1, Invalid),
        // run_updated.
        probe(RU, "/data/name", "n".repeat(250), Valid),
        probe(RU, "/data/name", "n".repeat(251), Invalid),
        probe(RU, "/data/name", "", Invalid),
        probe(RU, "/data/name", "gbm\u{0}", Gap(CONTROL)),
        probe(RU, "/data/reopened", false, Valid),
        probe(RU, "/data/lifecycle", "active", Valid),
        probe(RU, "/data/lifecycle", "Deleted", Invalid),
        // metric_points.
        probe(MP, "/data/points/0/value", "-Infinity", Valid),
        probe(MP, "/data/points/0/value", -1e308, Valid),
        probe(MP, "/data/points/0/value", "NAN", Invalid),
        probe(MP, "/data/points/0/value", "+Infinity", Invalid),
        probe(MP, "/data/points/0/value", "inf", Invalid),
        probe(MP, "/data/points/0/value", Value::Null, Invalid),
        probe(MP, "/data/points/0/value", true, Invalid),
        probe(MP, "/data/points/0/step", 0, Valid),
        probe(MP, "/data/points/0/step", u64::MAX, Valid),
        probe(MP, "/data/points/0/step", -1, Invalid),
        probe(MP, "/data/points/0/step", 2.0, Gap(WHOLE)),
        probe(MP, "/data/points/0/key", "eval loss", Invalid),
        probe(MP, "/data/points/0/time", "2026-11-27", Invalid),
        probe(MP, "/data/points/0/extra", 1, Invalid),
        probe(MP, "/data/points/3/model_id", "m".repeat(128), Valid),
        probe(MP, "/data/points/3/model_id", "m".repeat(129), Invalid),
        probe(MP, "/data/points/3/model_id", "m-\u{e9}", Invalid),
        probe(MP, "/data/points/3/model_id", "m 1", Invalid),
        probe(
            MP,
            "/data/points/3/model_id",
            "~!#$%^&*()=+[]{}|;:'\",.<>?",
            Valid,
        ),
        probe(
            MP,
            "/data/points/3/dataset",
            json!({ "name": "n".repeat(500), "digest": "d".repeat(64) }),
            Valid,
        ),
        probe(
            MP,
            "/data/points/3/dataset",
            json!({ "name": "n".repeat(501), "digest": "d" }),
            Invalid,
        ),
        probe(
            MP,
            "/data/points/3/dataset",
            json!({ "name": "n", "digest": "d".repeat(65) }),
            Invalid,
        ),
        probe(
            MP,
            "/data/points/3/dataset",
            json!({ "name": "n", "digest": "" }),
            Invalid,
        ),
        // inputs_logged.
        probe(IL, "/data/models", json!([]), Valid),
        probe(IL, "/data/models", json!(["a/b"]), Invalid),
        probe(IL, "/data/datasets/0/source", "", Valid),
        probe(IL, "/data/datasets/0/source", "s".repeat(100_000), Valid),
        probe(IL, "/data/datasets/0/source", "s".repeat(100_001), Invalid),
        probe(IL, "/data/datasets/0/schema", "{\n  \"a\": 1\n}", Valid),
        probe(IL, "/data/datasets/0/profile", "rows\u{0}", Gap(FREE)),
        probe(IL, "/data/datasets/0/tags", json!({ "": "x" }), Invalid),
        probe(IL, "/data/datasets/0/name", "", Invalid),
        // logged_model_created, logged_model_updated.
        probe(LC, "/data/name", "n".repeat(250), Valid),
        probe(LC, "/data/name", "n".repeat(251), Invalid),
        probe(LC, "/data/model_type", "", Invalid),
        probe(LC, "/data/model_id", "", Invalid),
        probe(LC, "/data/params", json!({ "eta": 0.05 }), Invalid),
        probe(LU, "/data/output_step", 0, Valid),
        probe(LU, "/data/output_step", -3, Invalid),
        probe(LU, "/data/status", "upload_failed", Valid),
        probe(LU, "/data/tags", json!({}), Valid),
        // model_registered, model_version_created.
        probe(MR, "/data/description", "", Valid),
        probe(MR, "/data/description", "d".repeat(100_001), Invalid),
        probe(MR, "/run", "4c2e9a81", Invalid),
        probe(MV, "/data/version", 1, Valid),
        probe(MV, "/data/version", u64::MAX, Valid),
        probe(MV, "/data/source", "s".repeat(2048), Valid),
        probe(MV, "/data/source", "s".repeat(2049), Invalid),
        probe(MV, "/data/source", "", Invalid),
        probe(MV, "/data/run", "_r", Invalid),
        probe(MV, "/data/model_id", "m@1", Invalid),
        // alias_moved.
        probe(AM, "/data/alias", "a".repeat(255), Valid),
        probe(AM, "/data/alias", "a".repeat(256), Invalid),
        probe(AM, "/data/alias", "", Invalid),
        probe(AM, "/data/alias", "v", Valid),
        probe(AM, "/data/alias", "v1a", Valid),
        probe(AM, "/data/alias", "latest2", Valid),
        probe(AM, "/data/alias", "-_-", Valid),
        probe(AM, "/data/alias", "Latest", Invalid),
        probe(AM, "/data/alias", "LATEST", Invalid),
        probe(AM, "/data/alias", "V10", Invalid),
        probe(AM, "/data/alias", "v007", Invalid),
        probe(AM, "/data/alias", "champion eu", Invalid),
        probe(AM, "/data/version", u64::MAX, Valid),
        probe(AM, "/data/decision", "0".repeat(64), Invalid),
    ]
}

#[test]
fn boundary_probes_agree() {
    let valid: BTreeMap<String, Vec<u8>> = examples("valid").into_iter().collect();
    let mut disagreements = Vec::new();
    for Probe {
        base,
        pointer,
        value,
        expect,
    } in probes()
    {
        let mut json: Value = serde_json::from_slice(&valid[base]).expect("a JSON example");
        let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
        json.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{base}: no object at `{parent}`"))
            .insert(key.to_owned(), value.clone());
        let errors = schemas().validate(prefix(base), &json);
        let decoded = from_json(&serde_json::to_vec(&json).expect("JSON serializes"));
        let (schema_ok, vouch_ok) = (errors.is_empty(), decoded.is_ok());
        let (want, expected) = match expect {
            Expect::Valid => ((true, true), "valid".to_owned()),
            Expect::Invalid => ((false, false), "invalid".to_owned()),
            Expect::OnlyVouchRejects(why) => {
                ((true, false), format!("only Vouch to reject it ({why})"))
            }
        };
        if (schema_ok, vouch_ok) != want {
            disagreements.push(format!(
                "{base} {pointer} = {}: expected {expected}\n    schema: {}\n    vouch:  {}",
                short(&value),
                if schema_ok {
                    "accepts".to_owned()
                } else {
                    errors.join("; ")
                },
                match &decoded {
                    Ok(_) => "accepts".to_owned(),
                    Err(e) => e.to_string(),
                },
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "probes that disagree:\n  {}",
        disagreements.join("\n  ")
    );
}

/// Metric values survive the JSON round trip exactly. serde_json parses floats exactly only
/// with its `float_roundtrip` feature; without it the first value comes back one ULP off.
#[test]
fn metric_values_round_trip_exactly() {
    let valid: BTreeMap<String, Vec<u8>> = examples("valid").into_iter().collect();
    let mut event =
        from_json(&valid["metrics_logged-holdout-overall.json"]).expect("a valid example");
    for value in [
        -983_609.359_476_291_1,
        0.1,
        1e-320,
        f64::MAX,
        f64::MIN_POSITIVE,
        -0.0,
    ] {
        let Body::MetricsLogged(body) = &mut event.body else {
            unreachable!("a metrics_logged example")
        };
        body.metrics = BTreeMap::from([(Name::new("m").expect("a name"), value)]);
        round_trip(&event).unwrap_or_else(|e| panic!("metric value {value:?}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_events_match_their_schema_and_round_trip(event in gen::event()) {
        prop_assert!(event.check().is_ok(), "the generator made an invalid event: {:?}", event.check());
        round_trip(&event).map_err(TestCaseError::fail)?;
    }
}

mod gen {
    //! Strategies for valid events, built only through the public constructors.

    use std::ops::RangeInclusive;

    use proptest::collection::{btree_map, vec};
    use proptest::option;
    use proptest::prelude::*;
    use proptest::sample::select;
    use vouch_event::{
        AliasMoved, AnyNumber, ArtifactLogged, Body, DatasetBound, DatasetInput, DatasetRef,
        DatasetRole, Digest, Environment, Event, EventId, ExperimentCreated, ExperimentName,
        GitInfo, InputsLogged, Kind, Lifecycle, LiveMetricsObserved, LoggedModelCreated,
        LoggedModelUpdated, MetricPointLogged, MetricPoints, MetricsLogged, ModelName,
        ModelRegistered, ModelStatus, ModelVersionCreated, Name, ParamsLogged, Producer,
        RunFinished, RunId, RunStarted, RunStatus, RunUpdated, Segment, Subject, Tags, TagsSet,
        Timestamp,
    };

    const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const KEY: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    const NAME: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/-";

    fn one_of(set: &str) -> impl Strategy<Value = char> + Clone {
        select(set.chars().collect::<Vec<_>>())
    }

    /// Any character but a control character (and the surrogates, which are no characters).
    fn text_char() -> impl Strategy<Value = char> + Clone {
        const RANGES: &[RangeInclusive<char>] =
            &[' '..='~', '\u{a0}'..='\u{d7ff}', '\u{e000}'..=char::MAX];
        prop::char::ranges(RANGES.into())
    }

    /// A character of a segment value: no control character, `=` or `,`.
    fn value_char() -> impl Strategy<Value = char> + Clone {
        const RANGES: &[RangeInclusive<char>] = &[
            ' '..='+',
            '-'..='<',
            '>'..='~',
            '\u{a0}'..='\u{d7ff}',
            '\u{e000}'..=char::MAX,
        ];
        prop::char::ranges(RANGES.into())
    }

    /// Strings of `min..=max` characters from `ch`: mostly short, sometimes of any length,
    /// sometimes exactly `max`.
    fn string(
        ch: impl Strategy<Value = char> + Clone + 'static,
        min: usize,
        max: usize,
    ) -> BoxedStrategy<String> {
        let short = max.min(min + 12);
        prop_oneof![
            4 => vec(ch.clone(), min..=short),
            1 => vec(ch.clone(), min..=max),
            1 => vec(ch, max..=max),
        ]
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .boxed()
    }

    /// Free text: 1 to `max` characters, no control characters.
    fn text(max: usize) -> BoxedStrategy<String> {
        string(text_char(), 1, max)
    }

    fn name() -> impl Strategy<Value = Name> {
        string(one_of(NAME), 1, 250).prop_map(|s| Name::new(s).expect("a valid name"))
    }

    fn segment() -> impl Strategy<Value = Segment> {
        vec(
            (string(one_of(NAME), 1, 250), string(value_char(), 1, 100)),
            1..=3,
        )
        .prop_map(|pairs| {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(dim, value)| format!("{dim}={value}"))
                .collect();
            Segment::new(pairs.join(",")).expect("a valid segment")
        })
    }

    /// Times in years 1970..2200: any nanosecond, or whole milliseconds, or whole seconds.
    fn timestamp() -> impl Strategy<Value = Timestamp> {
        let end = Timestamp::parse_rfc3339("2200-01-01T00:00:00Z")
            .expect("a time")
            .unix_nanos();
        prop_oneof![
            0..end,
            (0..end / 1_000_000).prop_map(|ms| ms * 1_000_000),
            (0..end / 1_000_000_000).prop_map(|s| s * 1_000_000_000),
        ]
        .prop_map(Timestamp::from_unix_nanos)
    }

    fn digest() -> impl Strategy<Value = Digest> {
        any::<[u8; 32]>().prop_map(Digest::from_bytes)
    }

    fn metric() -> impl Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        prop_oneof![
            POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
            -1e6..1e6f64,
            any::<i32>().prop_map(f64::from),
        ]
    }

    fn run_started() -> impl Strategy<Value = RunStarted> {
        let git = (string(one_of("0123456789abcdef"), 7, 64), any::<bool>())
            .prop_map(|(commit, dirty)| GitInfo { commit, dirty });
        let env = (
            text(200),
            text(200),
            text(256),
            btree_map(text(200), text(200), 0..4),
        )
            .prop_map(|(os, cpu, host, tools)| Environment {
                os,
                cpu,
                host,
                tools,
            });
        (
            text(200),
            option::of(text(200)),
            option::of(git),
            option::of(env),
        )
            .prop_map(|(experiment, name, git, env)| RunStarted {
                experiment,
                name,
                git,
                env,
            })
    }

    fn params_logged() -> impl Strategy<Value = ParamsLogged> {
        // Param values are any text up to 4096 characters, control characters included.
        btree_map(name(), string(any::<char>(), 0, 4096), 1..6)
            .prop_map(|params| ParamsLogged { params })
    }

    fn metrics_logged() -> impl Strategy<Value = MetricsLogged> {
        (
            btree_map(name(), metric(), 1..6),
            option::of(any::<u64>()),
            option::of(segment()),
        )
            .prop_map(|(metrics, step, segment)| MetricsLogged {
                metrics,
                step,
                segment,
            })
    }

    fn artifact_logged() -> impl Strategy<Value = ArtifactLogged> {
        (
            text(250),
            digest(),
            any::<u64>(),
            text(2048),
            proptest::option::of(any::<[u8; 32]>()),
        )
            .prop_map(|(name, digest, size, uri, sha256)| ArtifactLogged {
                name,
                digest,
                size,
                uri,
                sha256: sha256.map(vouch_event::Sha256),
            })
    }

    fn dataset_bound() -> impl Strategy<Value = DatasetBound> {
        let role = select(vec![
            DatasetRole::Train,
            DatasetRole::Validation,
            DatasetRole::Test,
        ]);
        let times = (option::of(timestamp()), option::of(timestamp()));
        (
            role,
            text(250),
            digest(),
            any::<u64>(),
            times,
            option::of(text(2048)),
        )
            .prop_map(
                |(role, name, digest, rows, (snapshot_at, labels_through), uri)| DatasetBound {
                    role,
                    name,
                    digest,
                    rows,
                    snapshot_at,
                    labels_through,
                    uri,
                },
            )
    }

    fn run_finished() -> impl Strategy<Value = RunFinished> {
        select(vec![RunStatus::Ok, RunStatus::Failed, RunStatus::Killed])
            .prop_map(|status| RunFinished { status })
    }

    fn live_metrics_observed() -> impl Strategy<Value = LiveMetricsObserved> {
        (
            text(64),
            digest(),
            btree_map(name(), metric(), 1..6),
            option::of(segment()),
            (timestamp(), timestamp(), timestamp()),
            option::of(any::<u64>()),
        )
            .prop_map(|(env, artifact, metrics, segment, (a, b, labels), count)| {
                LiveMetricsObserved {
                    env,
                    artifact,
                    metrics,
                    segment,
                    window_start: a.min(b),
                    window_end: a.max(b),
                    labels_through: labels,
                    count,
                }
            })
    }

    /// Any character but a control character, or a newline, tab or carriage return: what
    /// free text and tag values may hold.
    fn free_char() -> impl Strategy<Value = char> + Clone {
        prop_oneof![9 => text_char(), 1 => select(vec!['\n', '\t', '\r'])]
    }

    /// Free text a tracker passes through: 0 to `max` characters.
    fn free_text(max: usize) -> BoxedStrategy<String> {
        string(free_char(), 0, max)
    }

    /// Tags: keys of 1..=250 characters without control characters, values of up to
    /// 100,000 characters (kept short mostly: maps of long values would be slow).
    fn tags(max: usize) -> impl Strategy<Value = Tags> {
        let value = prop_oneof![
            29 => string(free_char(), 0, 40),
            1 => free_text(100_000),
        ];
        btree_map(text(250), value, 0..=max)
    }

    fn tag_keys(max: usize) -> impl Strategy<Value = Vec<String>> {
        vec(text(250), 0..=max)
    }

    /// Logged model ids: 1..=128 printable ASCII characters but `/` and `@`.
    fn model_id() -> BoxedStrategy<String> {
        let ch = prop::char::range('!', '~').prop_filter("no / or @", |c| !matches!(c, '/' | '@'));
        string(ch, 1, 128)
    }

    fn version() -> impl Strategy<Value = u64> {
        prop_oneof![1..100u64, 1..=u64::MAX]
    }

    /// Metric values, NaN and the infinities included.
    fn any_number() -> impl Strategy<Value = AnyNumber> {
        prop_oneof![
            8 => metric(),
            1 => select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        ]
        .prop_map(AnyNumber)
    }

    fn experiment_created() -> impl Strategy<Value = ExperimentCreated> {
        tags(3).prop_map(|tags| ExperimentCreated { tags })
    }

    /// A tags_set payload, with a version only if `model`.
    fn tags_set(model: bool) -> impl Strategy<Value = TagsSet> {
        let version = if model {
            option::of(version()).boxed()
        } else {
            Just(None).boxed()
        };
        (tags(3), tag_keys(3), version).prop_filter_map(
            "sets or deletes a tag",
            |(set, deleted, version)| {
                let deleted: Vec<String> = deleted
                    .into_iter()
                    .filter(|key| !set.contains_key(key))
                    .collect();
                (!set.is_empty() || !deleted.is_empty()).then_some(TagsSet {
                    set,
                    deleted,
                    version,
                })
            },
        )
    }

    fn run_updated() -> impl Strategy<Value = RunUpdated> {
        (
            option::of(text(250)),
            option::of(select(vec![Lifecycle::Active, Lifecycle::Deleted])),
            any::<bool>(),
        )
            .prop_filter_map("changes the run", |(name, lifecycle, reopened)| {
                let update = RunUpdated {
                    name,
                    lifecycle,
                    reopened,
                };
                (update != RunUpdated::default()).then_some(update)
            })
    }

    fn metric_points() -> impl Strategy<Value = MetricPoints> {
        let dataset = (text(500), text(64)).prop_map(|(name, digest)| DatasetRef { name, digest });
        let point = (
            name(),
            any_number(),
            prop_oneof![Just(0u64), any::<u64>()],
            timestamp(),
            option::of(dataset),
            option::of(model_id()),
        )
            .prop_map(
                |(key, value, step, time, dataset, model_id)| MetricPointLogged {
                    key,
                    value,
                    step,
                    time,
                    dataset,
                    model_id,
                },
            );
        vec(point, 1..5).prop_map(|points| MetricPoints { points })
    }

    fn inputs_logged() -> impl Strategy<Value = InputsLogged> {
        let dataset = (
            (text(500), text(64)),
            option::of(free_text(20)),
            option::of(free_text(100_000)),
            option::of(free_text(200)),
            option::of(free_text(200)),
            tags(2),
        )
            .prop_map(
                |((name, digest), source_type, source, schema, profile, tags)| DatasetInput {
                    name,
                    digest,
                    source_type,
                    source,
                    schema,
                    profile,
                    tags,
                },
            );
        (vec(dataset, 0..3), vec(model_id(), 0..3)).prop_filter_map(
            "names a dataset or model",
            |(datasets, models)| {
                (!datasets.is_empty() || !models.is_empty())
                    .then_some(InputsLogged { datasets, models })
            },
        )
    }

    fn logged_model_created() -> impl Strategy<Value = LoggedModelCreated> {
        (
            model_id(),
            text(250),
            option::of(text(250)),
            tags(3),
            tags(3),
        )
            .prop_map(
                |(model_id, name, model_type, params, tags)| LoggedModelCreated {
                    model_id,
                    name,
                    model_type,
                    params,
                    tags,
                },
            )
    }

    fn logged_model_updated() -> impl Strategy<Value = LoggedModelUpdated> {
        let status = select(vec![
            ModelStatus::Pending,
            ModelStatus::Ready,
            ModelStatus::UploadFailed,
        ]);
        (
            model_id(),
            option::of(status),
            tags(2),
            tags(2),
            option::of(any::<u64>()),
        )
            .prop_filter_map(
                "changes the model",
                |(model_id, status, params, tags, output_step)| {
                    let changes = status.is_some()
                        || !params.is_empty()
                        || !tags.is_empty()
                        || output_step.is_some();
                    changes.then_some(LoggedModelUpdated {
                        model_id,
                        status,
                        params,
                        tags,
                        output_step,
                    })
                },
            )
    }

    fn model_registered() -> impl Strategy<Value = ModelRegistered> {
        (option::of(free_text(100_000)), tags(3))
            .prop_map(|(description, tags)| ModelRegistered { description, tags })
    }

    fn model_version_created() -> impl Strategy<Value = ModelVersionCreated> {
        let run = (one_of(ALNUM), string(one_of(KEY), 0, 127))
            .prop_map(|(first, rest)| RunId::new(format!("{first}{rest}")).expect("a run id"));
        (
            version(),
            text(2048),
            option::of(run),
            option::of(model_id()),
            option::of(free_text(100_000)),
            tags(3),
        )
            .prop_map(|(version, source, run, model_id, description, tags)| {
                ModelVersionCreated {
                    version,
                    source,
                    run,
                    model_id,
                    description,
                    tags,
                }
            })
    }

    /// Aliases: 1..=255 characters of `[A-Za-z0-9_-]`, not `latest` nor `v<digits>`.
    fn alias_moved() -> impl Strategy<Value = AliasMoved> {
        let alias = prop_oneof![
            3 => select(vec!["champion", "challenger", "v", "vx", "v1a", "latest2", "V2-rc"])
                .prop_map(str::to_owned),
            1 => string(one_of(KEY), 1, 255),
        ]
        .prop_filter("not a version name", |alias| {
            vouch_event::check_alias(alias).is_ok()
        });
        (alias, option::of((version(), option::of(digest())))).prop_map(|(alias, moved)| {
            let (version, decision) = moved.map_or((None, None), |(v, d)| (Some(v), d));
            AliasMoved {
                alias,
                version,
                decision,
            }
        })
    }

    /// The payloads of `kind`. The match is exhaustive, so a new kind does not compile
    /// until it has a strategy here.
    fn body(kind: Kind) -> BoxedStrategy<Body> {
        match kind {
            Kind::RunStarted => run_started().prop_map(Body::RunStarted).boxed(),
            Kind::ParamsLogged => params_logged().prop_map(Body::ParamsLogged).boxed(),
            Kind::MetricsLogged => metrics_logged().prop_map(Body::MetricsLogged).boxed(),
            Kind::ArtifactLogged => artifact_logged().prop_map(Body::ArtifactLogged).boxed(),
            Kind::DatasetBound => dataset_bound().prop_map(Body::DatasetBound).boxed(),
            Kind::RunFinished => run_finished().prop_map(Body::RunFinished).boxed(),
            Kind::LiveMetricsObserved => live_metrics_observed()
                .prop_map(Body::LiveMetricsObserved)
                .boxed(),
            Kind::ExperimentCreated => experiment_created()
                .prop_map(Body::ExperimentCreated)
                .boxed(),
            // Generated with a version; `event` drops it unless the subject is a model.
            Kind::TagsSet => tags_set(true).prop_map(Body::TagsSet).boxed(),
            Kind::RunUpdated => run_updated().prop_map(Body::RunUpdated).boxed(),
            Kind::MetricPoints => metric_points().prop_map(Body::MetricPoints).boxed(),
            Kind::InputsLogged => inputs_logged().prop_map(Body::InputsLogged).boxed(),
            Kind::LoggedModelCreated => logged_model_created()
                .prop_map(Body::LoggedModelCreated)
                .boxed(),
            Kind::LoggedModelUpdated => logged_model_updated()
                .prop_map(Body::LoggedModelUpdated)
                .boxed(),
            Kind::ModelRegistered => model_registered().prop_map(Body::ModelRegistered).boxed(),
            Kind::ModelVersionCreated => model_version_created()
                .prop_map(Body::ModelVersionCreated)
                .boxed(),
            Kind::AliasMoved => alias_moved().prop_map(Body::AliasMoved).boxed(),
            Kind::PolicyPublished
            | Kind::DecisionRecorded
            | Kind::ReviewRecorded
            | Kind::DeploymentRecorded
            | Kind::DeploymentSigned => {
                unreachable!("reserved kind {kind} has no payload yet")
            }
        }
    }

    /// Valid events of every accepted kind.
    pub fn event() -> impl Strategy<Value = Event> {
        let kinds: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|kind| !kind.is_reserved())
            .collect();
        let id = string(prop::char::range('!', '~'), 1, 256)
            .prop_map(|s| EventId::new(s).expect("an id"));
        let producer = string(prop::char::range(' ', '~'), 1, 256)
            .prop_map(|s| Producer::new(s).expect("a producer"));
        let subject_id = (one_of(ALNUM), string(one_of(KEY), 0, 127))
            .prop_map(|(first, rest)| format!("{first}{rest}"));
        let experiment = prop_oneof![
            1 => Just("/Shared/fraud detection".to_owned()),
            4 => text(200),
        ];
        (
            id,
            timestamp(),
            producer,
            (subject_id, experiment, 0..3u8),
            select(kinds).prop_flat_map(body),
        )
            .prop_map(
                |(id, time, producer, (subject_id, experiment, pick), mut body)| {
                    // Run and model ids follow one rule; the kind says which subject the event
                    // concerns, and tags_set may concern any of them.
                    let field = match body.kind() {
                        Kind::TagsSet => ["run", "model", "experiment"][usize::from(pick)],
                        kind => kind.subject_field(),
                    };
                    let subject = match field {
                        "run" => Subject::Run(RunId::new(subject_id).expect("a run id")),
                        "model" => {
                            Subject::Model(ModelName::new(subject_id).expect("a model name"))
                        }
                        _ => Subject::Experiment(
                            ExperimentName::new(experiment).expect("an experiment name"),
                        ),
                    };
                    if let (Body::TagsSet(tags), false) =
                        (&mut body, matches!(subject, Subject::Model(_)))
                    {
                        // Only a model's tags name a version.
                        tags.version = None;
                    }
                    assert!(body.kind().fits(&subject), "{field} for {}", body.kind());
                    Event {
                        id,
                        time,
                        producer,
                        subject,
                        body,
                    }
                },
            )
            // Long free text can add up past the limit, which from_json rightly refuses.
            .prop_filter("at most 1 MiB as JSON", |event| {
                vouch_event::to_json(event).len() <= vouch_event::MAX_EVENT_BYTES
            })
    }
}

mod schema {
    //! A JSON Schema (draft 2020-12) validator for exactly the keywords `schemas/` uses:
    //! `$ref` (to `#/$defs/X` or `<file>#/$defs/X`), `type`, `const`, `enum`, `properties`,
    //! `required`, `additionalProperties` (false or a schema), `propertyNames`,
    //! `dependentRequired`, `minProperties`, `items`, `minItems`, `minLength`, `maxLength`,
    //! `pattern`, `minimum`, `anyOf`, `oneOf`, `not` and `format: date-time` (which must sit
    //! beside a `pattern` that checks it); `$schema`, `$id`, `$defs`, `title` and
    //! `description` are annotations. Any other keyword panics, when loading and when
    //! validating.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use serde_json::Value;

    use super::pattern::Pattern;

    /// Schema documents by file name (their `$id`).
    pub struct Schemas {
        docs: BTreeMap<String, Value>,
    }

    impl Schemas {
        /// Loads every `*.schema.json` in `dir`.
        pub fn load(dir: &Path) -> Schemas {
            let mut docs = BTreeMap::new();
            for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.expect("a directory entry").path();
                let file = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .expect("a UTF-8 name")
                    .to_owned();
                if file.ends_with(".schema.json") {
                    let bytes = std::fs::read(&path).expect("a readable schema");
                    let doc: Value =
                        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
                    assert_eq!(
                        doc["$id"], file,
                        "{file}: `$id` must be the file name, so references resolve"
                    );
                    docs.insert(file, doc);
                }
            }
            Schemas::new(docs)
        }

        /// Wraps schema documents keyed by `$id`, after checking every keyword, reference and
        /// pattern in them, including branches no instance reaches.
        pub fn new(docs: BTreeMap<String, Value>) -> Schemas {
            let schemas = Schemas { docs };
            for (file, doc) in &schemas.docs {
                schemas.audit(&format!("{file}#"), doc);
            }
            schemas
        }

        /// The kinds with a `<kind>.v1.schema.json`.
        pub fn kinds(&self) -> BTreeSet<String> {
            let kinds = self
                .docs
                .keys()
                .filter_map(|file| file.strip_suffix(".v1.schema.json"));
            kinds
                .filter(|kind| *kind != "common")
                .map(str::to_owned)
                .collect()
        }

        /// Validates `instance` against `<kind>.v1.schema.json`: one message per broken rule,
        /// naming the instance path and the rule's location.
        pub fn validate(&self, kind: &str, instance: &Value) -> Vec<String> {
            let file = format!("{kind}.v1.schema.json");
            let doc = self
                .docs
                .get(&file)
                .unwrap_or_else(|| panic!("no schema {file}"));
            let mut errors = Vec::new();
            self.check(&format!("{file}#"), doc, instance, "", &mut errors);
            errors
        }

        fn resolve(&self, at: &str, reference: &Value) -> (String, &Value) {
            let reference = reference
                .as_str()
                .unwrap_or_else(|| panic!("{at}: `$ref` must be a string"));
            let (file, fragment) = reference
                .split_once('#')
                .unwrap_or_else(|| panic!("{at}: unsupported $ref {reference}"));
            let file = if file.is_empty() {
                at.split('#').next().expect("a file")
            } else {
                file
            };
            let name = fragment
                .strip_prefix("/$defs/")
                .filter(|name| !name.contains(['/', '~', '%']))
                .unwrap_or_else(|| panic!("{at}: unsupported $ref {reference}"));
            let target = self
                .docs
                .get(file)
                .and_then(|doc| doc.get("$defs")?.get(name));
            let target = target.unwrap_or_else(|| panic!("{at}: unresolvable $ref {reference}"));
            (format!("{file}#/$defs/{name}"), target)
        }

        fn audit(&self, at: &str, schema: &Value) {
            let keywords = schema
                .as_object()
                .unwrap_or_else(|| panic!("{at}: a schema must be an object"));
            for (key, rule) in keywords {
                let here = format!("{at}/{key}");
                match key.as_str() {
                    "$schema" | "$id" | "title" | "description" | "const" => {}
                    "$defs" | "properties" => {
                        let subschemas = rule
                            .as_object()
                            .unwrap_or_else(|| panic!("{here}: must be an object"));
                        for (name, sub) in subschemas {
                            self.audit(&format!("{here}/{name}"), sub);
                        }
                    }
                    "additionalProperties" | "items" | "not" | "propertyNames"
                        if rule.is_object() =>
                    {
                        self.audit(&here, rule)
                    }
                    "anyOf" | "oneOf" => {
                        let branches = rule
                            .as_array()
                            .filter(|branches| !branches.is_empty())
                            .unwrap_or_else(|| panic!("{here}: must be a non-empty array"));
                        for (i, branch) in branches.iter().enumerate() {
                            self.audit(&format!("{here}/{i}"), branch);
                        }
                    }
                    "dependentRequired" => assert!(
                        rule.as_object()
                            .is_some_and(|deps| deps.values().all(|names| {
                                names
                                    .as_array()
                                    .is_some_and(|names| names.iter().all(Value::is_string))
                            })),
                        "{here}: must map names to arrays of names"
                    ),
                    "items" | "not" | "propertyNames" => panic!("{here}: must be a schema"),
                    "additionalProperties" => {
                        assert_eq!(rule, &Value::Bool(false), "{here}: only false or a schema")
                    }
                    "$ref" => {
                        self.resolve(&here, rule);
                    }
                    "type" => {
                        has_type(&Value::Null, rule.as_str().expect("`type` is one name"));
                    }
                    "enum" => assert!(rule.is_array(), "{here}: must be an array"),
                    "required" => assert!(
                        rule.as_array()
                            .is_some_and(|names| names.iter().all(Value::is_string)),
                        "{here}: must be an array of names"
                    ),
                    "minProperties" | "minLength" | "maxLength" | "minItems" => {
                        assert!(rule.is_u64(), "{here}: must be a count")
                    }
                    "minimum" => assert!(rule.is_number(), "{here}: must be a number"),
                    "pattern" => {
                        Pattern::new(rule.as_str().expect("`pattern` is a string"));
                    }
                    "format" => assert!(
                        rule == "date-time" && keywords.contains_key("pattern"),
                        "{here}: only `date-time`, beside a `pattern` that checks it"
                    ),
                    other => panic!("{here}: unsupported keyword `{other}`"),
                }
            }
        }

        fn check(
            &self,
            at: &str,
            schema: &Value,
            instance: &Value,
            path: &str,
            errors: &mut Vec<String>,
        ) {
            let keywords = schema
                .as_object()
                .unwrap_or_else(|| panic!("{at}: a schema must be an object"));
            let object = instance.as_object();
            let string = instance.as_str();
            for (key, rule) in keywords {
                let here = format!("{at}/{key}");
                let mut fail = |message: String| {
                    let path = if path.is_empty() { "/" } else { path };
                    errors.push(format!("{path}: {message} ({here})"));
                };
                match key.as_str() {
                    "$schema" | "$id" | "$defs" | "title" | "description" => {}
                    "$ref" => {
                        let (target_at, target) = self.resolve(&here, rule);
                        self.check(&target_at, target, instance, path, errors);
                    }
                    "type" => {
                        let name = rule.as_str().expect("`type` is one name");
                        if !has_type(instance, name) {
                            fail(format!("expected {name}, got {}", super::short(instance)));
                        }
                    }
                    "const" if !json_eq(instance, rule) => {
                        fail(format!("expected {rule}, got {}", super::short(instance)))
                    }
                    "const" => {}
                    "enum" => {
                        let options = rule.as_array().expect("`enum` is an array");
                        if !options.iter().any(|option| json_eq(instance, option)) {
                            fail(format!("{} is not one of {rule}", super::short(instance)));
                        }
                    }
                    "properties" => {
                        let subschemas = rule.as_object().expect("`properties` is an object");
                        for (name, value) in object.into_iter().flatten() {
                            if let Some(sub) = subschemas.get(name) {
                                let path = format!(
                                    "{path}/{}",
                                    name.replace('~', "~0").replace('/', "~1")
                                );
                                self.check(&format!("{here}/{name}"), sub, value, &path, errors);
                            }
                        }
                    }
                    "required" => {
                        for name in rule.as_array().expect("`required` is an array") {
                            let name = name.as_str().expect("a property name");
                            if object.is_some_and(|object| !object.contains_key(name)) {
                                fail(format!("missing required property `{name}`"));
                            }
                        }
                    }
                    "additionalProperties" => {
                        let declared = keywords.get("properties").and_then(Value::as_object);
                        let extra = object.into_iter().flatten();
                        for (name, value) in extra
                            .filter(|(name, _)| !declared.is_some_and(|d| d.contains_key(*name)))
                        {
                            match rule {
                                Value::Bool(false) => errors.push(format!(
                                    "{}: unknown property `{name}` ({here})",
                                    if path.is_empty() { "/" } else { path }
                                )),
                                Value::Object(_) => {
                                    let path = format!(
                                        "{path}/{}",
                                        name.replace('~', "~0").replace('/', "~1")
                                    );
                                    self.check(&here, rule, value, &path, errors);
                                }
                                _ => panic!("{here}: only false or a schema"),
                            }
                        }
                    }
                    "minProperties" => {
                        let min = rule.as_u64().expect("a count");
                        if object.is_some_and(|object| (object.len() as u64) < min) {
                            fail(format!("fewer than {min} properties"));
                        }
                    }
                    "minItems" => {
                        let min = rule.as_u64().expect("a count");
                        if instance
                            .as_array()
                            .is_some_and(|items| (items.len() as u64) < min)
                        {
                            fail(format!("fewer than {min} items"));
                        }
                    }
                    "items" => {
                        for (i, item) in instance.as_array().into_iter().flatten().enumerate() {
                            self.check(&here, rule, item, &format!("{path}/{i}"), errors);
                        }
                    }
                    "propertyNames" => {
                        for name in object.into_iter().flatten().map(|(name, _)| name) {
                            let mut inner = Vec::new();
                            self.check(&here, rule, &Value::String(name.clone()), path, &mut inner);
                            for e in inner {
                                fail(format!("property name {name:?}: {e}"));
                            }
                        }
                    }
                    "dependentRequired" => {
                        let deps = rule.as_object().expect("`dependentRequired` is an object");
                        for (name, needs) in deps {
                            if !object.is_some_and(|object| object.contains_key(name)) {
                                continue;
                            }
                            for need in needs.as_array().expect("an array of names") {
                                let need = need.as_str().expect("a property name");
                                if object.is_some_and(|object| !object.contains_key(need)) {
                                    fail(format!("`{name}` requires `{need}`"));
                                }
                            }
                        }
                    }
                    "not" => {
                        let mut inner = Vec::new();
                        self.check(&here, rule, instance, path, &mut inner);
                        if inner.is_empty() {
                            fail(format!(
                                "{} matches a schema it must not",
                                super::short(instance)
                            ));
                        }
                    }
                    "anyOf" | "oneOf" => {
                        let branches = rule.as_array().expect("an array of schemas");
                        let mut passed = 0;
                        let mut reasons = Vec::new();
                        for (i, branch) in branches.iter().enumerate() {
                            let mut inner = Vec::new();
                            self.check(&format!("{here}/{i}"), branch, instance, path, &mut inner);
                            if inner.is_empty() {
                                passed += 1;
                            } else {
                                reasons.push(inner.join(", "));
                            }
                        }
                        if passed == 0 {
                            fail(format!("no branch matches: {}", reasons.join(" | ")));
                        } else if key == "oneOf" && passed > 1 {
                            fail(format!("{passed} branches match, oneOf wants exactly one"));
                        }
                    }
                    "minLength" | "maxLength" => {
                        let limit = rule.as_u64().expect("a count");
                        if let Some(chars) = string.map(|s| s.chars().count() as u64) {
                            if (key == "minLength" && chars < limit)
                                || (key == "maxLength" && chars > limit)
                            {
                                fail(format!("{chars} characters, {key} is {limit}"));
                            }
                        }
                    }
                    "pattern" => {
                        let pattern = rule.as_str().expect("`pattern` is a string");
                        if string.is_some_and(|s| !Pattern::new(pattern).is_match(s)) {
                            fail(format!(
                                "{} does not match {pattern}",
                                super::short(instance)
                            ));
                        }
                    }
                    "minimum" => {
                        let min = rule.as_f64().expect("a number");
                        if instance.as_f64().is_some_and(|n| n < min) {
                            fail(format!("{instance} is less than the minimum {min}"));
                        }
                    }
                    // Audited to sit beside the `pattern` that checks it.
                    "format" if rule == "date-time" => {}
                    other => panic!("{here}: unsupported keyword `{other}`"),
                }
            }
        }
    }

    /// Whether `instance` has JSON Schema type `name`; an integer is any number with a zero
    /// fraction, `1.0` included.
    fn has_type(instance: &Value, name: &str) -> bool {
        match name {
            "object" => instance.is_object(),
            "array" => instance.is_array(),
            "string" => instance.is_string(),
            "boolean" => instance.is_boolean(),
            "null" => instance.is_null(),
            "number" => instance.is_number(),
            "integer" => {
                instance.is_i64()
                    || instance.is_u64()
                    || instance.as_f64().is_some_and(|n| n.fract() == 0.0)
            }
            other => panic!("unsupported type `{other}`"),
        }
    }

    /// JSON Schema equality: numbers compare by value, so `1.0` equals `1`.
    fn json_eq(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
                x.as_f64() == y.as_f64()
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
            }
            _ => a == b,
        }
    }

    #[cfg(test)]
    mod tests {
        use serde_json::json;

        use super::*;

        fn one(schema: Value) -> Schemas {
            let mut doc = schema;
            doc["$id"] = json!("t.v1.schema.json");
            Schemas::new(BTreeMap::from([("t.v1.schema.json".to_owned(), doc)]))
        }

        #[test]
        fn checks_each_keyword() {
            let s = one(json!({
                "$defs": { "n": { "type": "integer", "minimum": 0 } },
                "type": "object",
                "properties": { "a": { "$ref": "#/$defs/n" }, "b": { "enum": ["x", 1] } },
                "required": ["a"],
                "additionalProperties": false
            }));
            assert!(s.validate("t", &json!({ "a": 3, "b": 1.0 })).is_empty());
            assert!(
                s.validate("t", &json!({ "a": 3.0 })).is_empty(),
                "3.0 is an integer"
            );
            let errors = s.validate("t", &json!({ "a": -1.5, "b": "y", "c": null }));
            assert_eq!(errors.len(), 4, "{errors:#?}");
            for want in [
                "/a: expected integer, got -1.5 (t.v1.schema.json#/$defs/n/type)",
                "/a: -1.5 is less than the minimum 0",
                "/b: \"y\" is not one of",
                "/: unknown property `c`",
            ] {
                assert!(
                    errors.iter().any(|e| e.starts_with(want)),
                    "no {want:?} in {errors:#?}"
                );
            }
            assert!(s
                .validate("t", &json!({}))
                .iter()
                .any(|e| e.contains("missing required property `a`")));
        }

        #[test]
        fn checks_combinators_arrays_and_names() {
            let s = one(json!({
                "type": "object",
                "properties": {
                    "a": { "type": "array", "minItems": 1, "items": { "type": "integer" } },
                    "m": { "type": "object", "propertyNames": { "maxLength": 2 } },
                    "x": { "type": "string", "not": { "enum": ["no"] } },
                    "d": { "type": "boolean" },
                    "v": { "type": "integer" }
                },
                "dependentRequired": { "d": ["v"] },
                "oneOf": [{ "required": ["a"] }, { "required": ["m"] }],
                "anyOf": [{ "required": ["x"] }, { "properties": { "a": { "minItems": 2 } } }]
            }));
            assert!(s.validate("t", &json!({ "a": [1, 2] })).is_empty());
            assert!(s
                .validate("t", &json!({ "m": { "ab": 1 }, "x": "yes" }))
                .is_empty());
            for (bad, want) in [
                (json!({ "a": [] }), "fewer than 1 items"),
                (json!({ "a": [1, "2"] }), "/a/1: expected integer"),
                (
                    json!({ "m": { "abc": 1 }, "x": "y" }),
                    "property name \"abc\"",
                ),
                (
                    json!({ "a": [1, 2], "x": "no" }),
                    "matches a schema it must not",
                ),
                (json!({ "a": [1, 2], "m": {} }), "2 branches match"),
                (json!({ "x": "y" }), "no branch matches"),
                (json!({ "a": [1] }), "no branch matches"),
                (json!({ "a": [1, 2], "d": true }), "`d` requires `v`"),
            ] {
                let errors = s.validate("t", &bad);
                assert!(
                    errors.iter().any(|e| e.contains(want)),
                    "{bad}: no {want:?} in {errors:#?}"
                );
            }
        }

        #[test]
        #[should_panic(expected = "unsupported keyword `patternProperties`")]
        fn panics_on_an_unknown_keyword_even_where_no_instance_reaches() {
            one(json!({ "properties": { "never": { "patternProperties": { "^a": {} } } } }));
        }

        #[test]
        #[should_panic(expected = "only `date-time`")]
        fn panics_on_a_format_it_cannot_check() {
            one(json!({ "type": "string", "format": "email" }));
        }

        #[test]
        #[should_panic(expected = "unresolvable $ref")]
        fn panics_on_a_dangling_reference() {
            one(json!({ "$ref": "#/$defs/missing" }));
        }
    }
}

mod pattern {
    //! A backtracking matcher for the regular expressions the schemas use: anchors `^` `$`,
    //! literal characters, escaped metacharacters (`\.`), classes with ranges and negation
    //! (`[A-Za-z0-9_-]`, `[^=,]`, `[ -~]`), groups, `|`, and the quantifiers `?` `*` `+`
    //! `{m}` `{m,n}`. Anything else panics. It matches code points (like ECMA-262 with the
    //! `u` flag) and finds a match anywhere in the text, as JSON Schema's `pattern` does.

    #[derive(Debug)]
    enum Node {
        Start,
        End,
        Char(char),
        /// Negated?, inclusive ranges.
        Class(bool, Vec<(char, char)>),
        /// Alternatives, each a sequence.
        Group(Vec<Vec<Node>>),
        /// Node, minimum count, maximum count (none: unbounded).
        Repeat(Box<Node>, usize, Option<usize>),
    }

    /// A compiled pattern: alternatives, each a sequence of nodes.
    #[derive(Debug)]
    pub struct Pattern(Vec<Vec<Node>>);

    impl Pattern {
        /// Compiles `source`, panicking on anything outside the subset.
        pub fn new(source: &str) -> Pattern {
            let mut parser = Parser {
                source,
                chars: source.chars().collect(),
                pos: 0,
            };
            let alternatives = parser.alternation();
            if parser.pos < parser.chars.len() {
                parser.unsupported("an unopened `)`");
            }
            Pattern(alternatives)
        }

        /// Whether the pattern matches somewhere in `text`.
        pub fn is_match(&self, text: &str) -> bool {
            let input: Vec<char> = text.chars().collect();
            (0..=input.len()).any(|start| alternatives(&self.0, &input, start, &|_| true))
        }
    }

    struct Parser<'a> {
        source: &'a str,
        chars: Vec<char>,
        pos: usize,
    }

    impl Parser<'_> {
        fn unsupported(&self, what: &str) -> ! {
            panic!(
                "pattern {:?}: {what} (at char {}) is outside the supported subset",
                self.source, self.pos
            )
        }

        fn peek(&self) -> Option<char> {
            self.chars.get(self.pos).copied()
        }

        fn bump(&mut self) -> Option<char> {
            let c = self.peek();
            self.pos += usize::from(c.is_some());
            c
        }

        fn alternation(&mut self) -> Vec<Vec<Node>> {
            let mut alternatives = vec![self.sequence()];
            while self.peek() == Some('|') {
                self.pos += 1;
                alternatives.push(self.sequence());
            }
            alternatives
        }

        fn sequence(&mut self) -> Vec<Node> {
            let mut nodes = Vec::new();
            while let Some(c) = self.peek().filter(|c| !matches!(c, '|' | ')')) {
                self.pos += 1;
                let atom = match c {
                    '^' => Node::Start,
                    '$' => Node::End,
                    '(' => {
                        if self.peek() == Some('?') {
                            self.unsupported("a group modifier `(?`");
                        }
                        let group = Node::Group(self.alternation());
                        if self.bump() != Some(')') {
                            self.unsupported("an unclosed `(`");
                        }
                        group
                    }
                    '[' => self.class(),
                    '\\' => Node::Char(self.escape()),
                    '.' | '?' | '*' | '+' | '{' | '}' | ']' => {
                        self.unsupported(&format!("`{c}` here"))
                    }
                    c => Node::Char(c),
                };
                let node = self.quantifier(atom);
                nodes.push(node);
            }
            nodes
        }

        fn quantifier(&mut self, atom: Node) -> Node {
            let (min, max) = match self.peek() {
                Some('?') => (0, Some(1)),
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('{') => {
                    self.pos += 1;
                    let min = self.count();
                    let max = if self.peek() == Some(',') {
                        self.pos += 1;
                        self.count()
                    } else {
                        min
                    };
                    if self.peek() != Some('}') || min > max {
                        self.unsupported("a quantifier other than `{m}` or `{m,n}` with m <= n");
                    }
                    (min, Some(max))
                }
                _ => return atom,
            };
            self.pos += 1;
            if matches!(atom, Node::Start | Node::End) {
                self.unsupported("a quantified anchor");
            }
            if matches!(self.peek(), Some('?' | '*' | '+' | '{')) {
                self.unsupported("a lazy or stacked quantifier");
            }
            Node::Repeat(Box::new(atom), min, max)
        }

        fn count(&mut self) -> usize {
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            let digits: String = self.chars[start..self.pos].iter().collect();
            digits
                .parse()
                .unwrap_or_else(|_| self.unsupported("a missing or huge repeat count"))
        }

        fn escape(&mut self) -> char {
            match self.bump() {
                Some(c) if "\\/.-^$|?*+()[]{}".contains(c) => c,
                _ => self.unsupported("an escape other than a metacharacter"),
            }
        }

        fn class(&mut self) -> Node {
            let negated = self.peek() == Some('^');
            self.pos += usize::from(negated);
            let mut ranges = Vec::new();
            loop {
                let lo = match self.bump() {
                    Some(']') if !ranges.is_empty() => break,
                    None | Some(']' | '[') => {
                        self.unsupported("an empty, unclosed or nested class")
                    }
                    Some('\\') => self.escape(),
                    Some(c) => c,
                };
                let mut hi = lo;
                if self.peek() == Some('-')
                    && self.chars.get(self.pos + 1).is_some_and(|&c| c != ']')
                {
                    self.pos += 1;
                    hi = match self.bump() {
                        Some('\\') => self.escape(),
                        Some(c) if c != '[' => c,
                        _ => self.unsupported("a bad range end"),
                    };
                    if hi < lo {
                        self.unsupported("a reversed range");
                    }
                }
                ranges.push((lo, hi));
            }
            Node::Class(negated, ranges)
        }
    }

    /// The continuation: called with each position where a match so far could end; the
    /// first `true` wins.
    type Next<'a> = &'a dyn Fn(usize) -> bool;

    fn alternatives(alternatives: &[Vec<Node>], input: &[char], pos: usize, next: Next) -> bool {
        alternatives
            .iter()
            .any(|nodes| sequence(nodes, input, pos, next))
    }

    fn sequence(nodes: &[Node], input: &[char], pos: usize, next: Next) -> bool {
        match nodes.split_first() {
            None => next(pos),
            Some((first, rest)) => node(first, input, pos, &|end| sequence(rest, input, end, next)),
        }
    }

    /// Whether a one-character node matches `c`.
    fn single(n: &Node, c: char) -> bool {
        match n {
            Node::Char(want) => c == *want,
            Node::Class(negated, ranges) => {
                ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&c)) != *negated
            }
            _ => unreachable!("not a one-character node"),
        }
    }

    fn node(n: &Node, input: &[char], pos: usize, next: Next) -> bool {
        match n {
            Node::Start => pos == 0 && next(pos),
            Node::End => pos == input.len() && next(pos),
            Node::Char(_) | Node::Class(..) => {
                input.get(pos).is_some_and(|&c| single(n, c)) && next(pos + 1)
            }
            Node::Group(alts) => alternatives(alts, input, pos, next),
            Node::Repeat(inner, min, max) if matches!(**inner, Node::Char(_) | Node::Class(..)) => {
                // One character per repetition: take as many as allowed, then back off.
                let limit = max.map_or(input.len(), |max| input.len().min(pos + max));
                let end = (pos..limit)
                    .find(|&i| !single(inner, input[i]))
                    .unwrap_or(limit);
                (pos + min..=end).rev().any(next)
            }
            Node::Repeat(inner, min, max) => repeat(inner, (*min, *max), input, pos, next),
        }
    }

    /// Greedy repetition of a group: one more first, then stop if `min` is met. A repetition
    /// that matches nothing ends the loop, which could otherwise never end.
    fn repeat(
        inner: &Node,
        count: (usize, Option<usize>),
        input: &[char],
        pos: usize,
        next: Next,
    ) -> bool {
        let (min, max) = count;
        let rest = (min.saturating_sub(1), max.map(|m| m.saturating_sub(1)));
        let more = max != Some(0)
            && node(inner, input, pos, &|end| {
                end == pos && next(end) || end > pos && repeat(inner, rest, input, end, next)
            });
        more || (min == 0 && next(pos))
    }

    #[cfg(test)]
    mod tests {
        use super::Pattern;

        fn matches(pattern: &str, yes: &[&str], no: &[&str]) {
            let p = Pattern::new(pattern);
            for text in yes {
                assert!(p.is_match(text), "{pattern} should match {text:?}");
            }
            for text in no {
                assert!(!p.is_match(text), "{pattern} should not match {text:?}");
            }
        }

        #[test]
        fn the_schema_patterns() {
            let time = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$";
            matches(
                time,
                &[
                    "2026-11-28T04:20:51Z",
                    "2026-11-28T05:20:51.5+01:00",
                    "2026-11-28T04:20:51.123456789-00:30",
                ],
                &[
                    "2026-11-28T04:20:51",
                    "2026-11-28T04:20:51z",
                    "2026-11-28 04:20:51Z",
                    "2026-11-28T04:20:51.Z",
                ],
            );
            matches(
                time,
                &[],
                &[
                    "2026-11-28T04:20:51.1234567890Z",
                    "x2026-11-28T04:20:51Z",
                    "2026-11-28T04:20:51+0100",
                ],
            );
            let segment =
                "^[A-Za-z0-9_.:/-]{1,250}=[^=,]{1,100}(,[A-Za-z0-9_.:/-]{1,250}=[^=,]{1,100})*$";
            matches(
                segment,
                &["region=EU", "region=EU,age=18-25", "income=<30k", "r=é😀"],
                &["", "EU", "region=", "=EU", "a=b,", "a=b=c", "r g=EU"],
            );
            matches("^[!-~]{1,3}$", &["a", "~!#"], &["", "a b", "abcd", "é"]);
            matches(
                "^[!-.0-?A-~]{1,128}$",
                &["m-7d0a", "a.b:c?d=e~"],
                &["", "a/b", "a@b", "a b", "é"],
            );
            matches(
                "^([Ll][Aa][Tt][Ee][Ss][Tt]|[Vv][0-9]+)$",
                &["latest", "LaTeSt", "v1", "V20"],
                &["v", "v1a", "latest2", "champion"],
            );
            matches("^[ -~]{1,256}$", &["a b"], &["\t"]);
        }

        #[test]
        fn groups_alternation_and_quantifiers() {
            matches(
                "^(ab|c)+d?$",
                &["ab", "cabd", "abcab"],
                &["", "d", "abd d", "a"],
            );
            matches(
                "^a{2}(b{1,2}|x*)$",
                &["aa", "aab", "aabb", "aaxxx"],
                &["a", "aabbb", "aaa"],
            );
            matches("^(a?){3}$", &["", "aaa"], &["aaaa"]);
            matches("b", &["abc"], &["xyz"]);
            matches("^[-a]$|^[a-]$", &["-", "a"], &["b"]);
        }

        #[test]
        fn panics_outside_the_subset() {
            for bad in [
                r"\d",
                ".",
                "(?:a)",
                "a{2,}",
                "a*?",
                "a++",
                "[[:alpha:]]",
                "[]",
                "(a",
                "a)",
                "^*",
                "[z-a]",
                r"\u0041",
            ] {
                let result = std::panic::catch_unwind(|| Pattern::new(bad));
                assert!(result.is_err(), "{bad:?} should be rejected");
            }
        }
    }
}
