//! Known-answer vectors for the stored record form (`schemas/record-form.md`): bincode
//! primitives and one event of every kind that carries no signature, each as its JSON wire
//! form, its stored bytes and its event digest. The signed kinds are in
//! `crates/vouch-chain/tests/vectors.rs`.
//!
//! The files live in `schemas/vectors/`, beside the docs, for verifiers in other languages.
//! By default this test recomputes every vector and compares the committed files byte for
//! byte, so a change in the encoding fails here before it breaks stored records. With
//! `VOUCH_WRITE_VECTORS=1` it writes the files instead (only for an intended change).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};
use vouch_event::{
    decode, encode, event_digest, from_json, to_json, Body, DeploymentRecorded, Digest, Event,
    EventId, Kind, ModelName, PolicyPublished, Producer, Subject, Timestamp,
};

fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schemas/vectors"
    ))
}

/// Writes `value` to `schemas/vectors/<name>` when `VOUCH_WRITE_VECTORS=1`, else checks the
/// committed file is exactly what this version computes.
fn write_or_check(name: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("vectors serialize") + "\n";
    let path = vectors_dir().join(name);
    if std::env::var("VOUCH_WRITE_VECTORS").as_deref() == Ok("1") {
        std::fs::create_dir_all(vectors_dir()).expect("create schemas/vectors");
        std::fs::write(&path, text).expect("write a vector file");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; generate it with VOUCH_WRITE_VECTORS=1",
            path.display()
        )
    });
    assert!(
        committed == text,
        "{} differs from what this version computes: the stored form changed, which breaks \
         records already in logs. If the change is intended, bump the format and regenerate \
         with VOUCH_WRITE_VECTORS=1 cargo test -p vouch-event --test vectors",
        path.display()
    );
}

fn hex(bytes: &[u8]) -> String {
    vouch_event::hex(bytes)
}

fn bincode_hex<T: bincode::Encode>(value: T) -> String {
    hex(&bincode::encode_to_vec(value, bincode::config::standard()).expect("encodes"))
}

fn time(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).expect("a valid time")
}

#[test]
fn bincode_primitives() {
    let mut cases: Vec<Value> = Vec::new();
    let mut add = |ty: &str, value: Value, encoded: String| {
        cases.push(json!({ "type": ty, "value": value, "hex": encoded }));
    };
    for v in [
        0u64,
        1,
        250,
        251,
        255,
        256,
        65_535,
        65_536,
        4_294_967_295,
        4_294_967_296,
        u64::MAX,
    ] {
        add("u64", json!(v.to_string()), bincode_hex(v));
    }
    for v in [
        0i64,
        1,
        -1,
        2,
        -2,
        125,
        -126,
        126,
        -32_768,
        32_768,
        i64::MAX,
        i64::MIN,
    ] {
        add("i64", json!(v.to_string()), bincode_hex(v));
    }
    for text in [
        "1970-01-01T00:00:00Z",
        "1969-12-31T23:59:59.999999999Z",
        "2026-11-21T10:00:00.5Z",
    ] {
        let t = time(text);
        add(
            "time (i64 nanoseconds)",
            json!(format!("{text} = {} ns", t.unix_nanos())),
            bincode_hex(t),
        );
    }
    add("u8", json!("7"), bincode_hex(7u8));
    add("u8", json!("255"), bincode_hex(255u8));
    add("bool", json!(false), bincode_hex(false));
    add("bool", json!(true), bincode_hex(true));
    for v in [0.861f64, 1.0, -0.0] {
        add("f64", json!(format!("{v:?}")), bincode_hex(v));
    }
    add("string", json!(""), bincode_hex(String::new()));
    add("string", json!("auc"), bincode_hex("auc".to_owned()));
    add("string", json!("é"), bincode_hex("é".to_owned()));
    add(
        "string",
        json!("x".repeat(300)),
        bincode_hex("x".repeat(300)),
    );
    add("option<u64>", Value::Null, bincode_hex(None::<u64>));
    add("option<u64>", json!("300"), bincode_hex(Some(300u64)));
    add(
        "vec<u64>",
        json!(["1", "300"]),
        bincode_hex(vec![1u64, 300]),
    );
    let map: BTreeMap<String, String> = [("b", "2"), ("a", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    add(
        "map<string,string>",
        json!({"b": "2", "a": "1"}),
        bincode_hex(map),
    );
    let mut bytes = [0u8; 32];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::try_from(i).expect("below 32");
    }
    add(
        "digest ([u8; 32], no length)",
        json!(hex(&bytes)),
        bincode_hex(Digest::from_bytes(bytes)),
    );
    write_or_check(
        "primitives.json",
        &json!({
            "about": "bincode 2.0.1 standard configuration: each value and its encoding in hex. Integer values are given as decimal strings (JSON numbers lose precision past 2^53). See schemas/record-form.md.",
            "cases": cases,
        }),
    );
}

/// One JSON event of every kind a producer may publish, chosen to use optional fields.
const PRODUCER_EVENTS: &[&str] = &[
    r#"{"id":"r-7f3a-start","kind":"run_started","schema":1,"time":"2026-11-20T08:00:00Z","producer":"train.py","run":"r-7f3a","data":{"experiment":"loan-risk","name":"xgb depth 6","git":{"commit":"9f2c1ab","dirty":false},"env":{"os":"linux","cpu":"x86_64","host":"gpu-7","tools":{"python":"3.11.7","xgboost":"2.0.3"}}}}"#,
    r#"{"id":"r-7f3a-params","kind":"params_logged","schema":1,"time":"2026-11-20T08:00:01Z","producer":"train.py","run":"r-7f3a","data":{"params":{"max_depth":"6","learning_rate":"0.1"}}}"#,
    r#"{"id":"r-7f3a-m-0003","kind":"metrics_logged","schema":1,"time":"2026-11-20T09:20:51Z","producer":"train.py","run":"r-7f3a","data":{"metrics":{"auc":0.861,"latency_p95_ms":182.0},"step":300,"segment":"region=EU"}}"#,
    r#"{"id":"r-7f3a-model","kind":"artifact_logged","schema":1,"time":"2026-11-20T09:30:00Z","producer":"train.py","run":"r-7f3a","data":{"name":"model.onnx","digest":"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","size":1048576,"uri":"s3://models/r-7f3a/model.onnx"}}"#,
    // Body index 23: an artifact with its sha256 (both digests of the empty file).
    r#"{"id":"r-7f3a-model-sha","kind":"artifact_logged","schema":1,"time":"2026-11-20T09:30:00Z","producer":"train.py","run":"r-7f3a","data":{"name":"model.onnx","digest":"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","size":0,"uri":"s3://models/r-7f3a/empty.onnx","sha256":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}"#,
    r#"{"id":"r-7f3a-val","kind":"dataset_bound","schema":1,"time":"2026-11-20T08:00:02Z","producer":"train.py","run":"r-7f3a","data":{"role":"validation","name":"loans-2026q3.parquet","digest":"blake3:2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213","rows":48213,"snapshot_at":"2026-11-19T00:00:00Z","labels_through":"2026-11-18T23:59:59.5+01:00","uri":"s3://data/loans-2026q3.parquet"}}"#,
    r#"{"id":"r-7f3a-end","kind":"run_finished","schema":1,"time":"2026-11-20T09:31:00Z","producer":"train.py","run":"r-7f3a","data":{"status":"ok"}}"#,
    r#"{"id":"loan-risk:live:w47:APAC","kind":"live_metrics_observed","schema":1,"time":"2026-11-21T06:00:00Z","producer":"monitoring","model":"loan-risk","data":{"env":"production","artifact":"blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","metrics":{"auc":0.792},"segment":"region=APAC","window_start":"2026-11-14T00:00:00Z","window_end":"2026-11-21T00:00:00Z","labels_through":"2026-11-19T00:00:00Z","count":702}}"#,
    r#"{"id":"exp-loan-risk","kind":"experiment_created","schema":1,"time":"2026-11-01T00:00:00Z","producer":"mlflow-bridge","experiment":"/Shared/loan risk","data":{"tags":{"team":"credit"}}}"#,
    r#"{"id":"mv-3-tags","kind":"tags_set","schema":1,"time":"2026-11-22T00:00:00Z","producer":"mlflow-bridge","model":"loan-risk","data":{"set":{"validated":"yes"},"deleted":["draft"],"version":3}}"#,
    r#"{"id":"r-7f3a-rename","kind":"run_updated","schema":1,"time":"2026-11-20T10:00:00Z","producer":"mlflow-bridge","run":"r-7f3a","data":{"name":"xgb final","lifecycle":"active","reopened":true}}"#,
    r#"{"id":"r-7f3a-points-1","kind":"metric_points","schema":1,"time":"2026-11-20T09:00:00Z","producer":"mlflow-bridge","run":"r-7f3a","data":{"points":[{"key":"loss","value":0.25,"step":10,"time":"2026-11-20T08:59:59Z","dataset":{"name":"train","digest":"3b0e9f"},"model_id":"m-7d0a4c1e"},{"key":"loss","value":"NaN","step":11,"time":"2026-11-20T09:00:00Z"}]}}"#,
    r#"{"id":"r-7f3a-inputs","kind":"inputs_logged","schema":1,"time":"2026-11-20T08:00:03Z","producer":"mlflow-bridge","run":"r-7f3a","data":{"datasets":[{"name":"loans","digest":"3b0e9f","source_type":"s3","source":"s3://data/loans","tags":{"mlflow.data.context":"training"}}],"models":["m-1a2b3c"]}}"#,
    r#"{"id":"r-7f3a-lm","kind":"logged_model_created","schema":1,"time":"2026-11-20T09:29:00Z","producer":"mlflow-bridge","run":"r-7f3a","data":{"model_id":"m-7d0a4c1e","name":"model","model_type":"xgboost","params":{"depth":"6"},"tags":{"stage":"candidate"}}}"#,
    r#"{"id":"r-7f3a-lm-ready","kind":"logged_model_updated","schema":1,"time":"2026-11-20T09:30:30Z","producer":"mlflow-bridge","run":"r-7f3a","data":{"model_id":"m-7d0a4c1e","status":"ready","output_step":300}}"#,
    r#"{"id":"rm-loan-risk","kind":"model_registered","schema":1,"time":"2026-11-02T00:00:00Z","producer":"mlflow-bridge","model":"loan-risk","data":{"description":"Loan default risk","tags":{"owner":"credit"}}}"#,
    r#"{"id":"mv-loan-risk-3","kind":"model_version_created","schema":1,"time":"2026-11-21T00:00:00Z","producer":"mlflow-bridge","model":"loan-risk","data":{"version":3,"source":"models:/m-7d0a4c1e","run":"r-7f3a","model_id":"m-7d0a4c1e"}}"#,
    r#"{"id":"alias-champion-3","kind":"alias_moved","schema":1,"time":"2026-11-22T12:00:00Z","producer":"mlflow-bridge","model":"loan-risk","data":{"alias":"champion","version":3,"decision":"blake3:0ca3e5e2f8e5c0c4b1c0a3b7b3b8f2f0f1e4d6c9a8b7c6d5e4f3a2b1c0d9e8f7"}}"#,
];

/// The two release kinds that carry no signature, built as Vouch writes them.
fn unsigned_release_events() -> Vec<Event> {
    let model = ModelName::new("loan-risk").expect("a model name");
    let text =
        "version = \"2026.11-1\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.84\n";
    let digest = Digest::of(text.as_bytes());
    vec![
        Event {
            id: EventId::new(format!("policy:{model}:{}", digest.hex())).expect("an id"),
            time: time("2026-11-20T12:00:00Z"),
            producer: Producer::new("vouch").expect("a producer"),
            subject: Subject::Model(model.clone()),
            body: Body::PolicyPublished(PolicyPublished {
                version: "2026.11-1".into(),
                digest,
                text: text.into(),
            }),
        },
        Event {
            id: EventId::new("deploy-old-1").expect("an id"),
            time: time("2026-10-01T00:00:00Z"),
            producer: Producer::new("vouch-release").expect("a producer"),
            subject: Subject::Model(model),
            body: Body::DeploymentRecorded(DeploymentRecorded {
                env: "production".into(),
                artifact: Digest::of(b"model.onnx"),
                decision: None,
                forced: true,
                reason: Some("hotfix before signed deployments".into()),
            }),
        },
    ]
}

fn kind_index(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in Kind::ALL")
}

#[test]
fn every_unsigned_kind() {
    let mut events: Vec<Event> = PRODUCER_EVENTS
        .iter()
        .map(|text| from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{text}: {e}")))
        .collect();
    events.extend(unsigned_release_events());
    events.sort_by_key(|e| kind_index(e.kind()));
    let mut out = Vec::new();
    for event in &events {
        let stored = encode(event);
        // Compared as bytes: a NaN point is not equal to itself.
        let decoded = decode(&stored).unwrap_or_else(|e| panic!("{}: {e}", event.id));
        assert_eq!(encode(&decoded), stored, "{} round-trips", event.id);
        let subject = match &event.subject {
            Subject::Run(r) => json!({"variant": 0, "field": "run", "value": r.as_str()}),
            Subject::Model(m) => json!({"variant": 1, "field": "model", "value": m.as_str()}),
            Subject::Experiment(x) => {
                json!({"variant": 2, "field": "experiment", "value": x.as_str()})
            }
        };
        // The `Body` variant: an artifact with a sha256 is stored under 23, not 3.
        let variant = match &event.body {
            Body::ArtifactLogged(a) if a.sha256.is_some() => 23,
            _ => kind_index(event.kind()),
        };
        out.push(json!({
            "kind": event.kind().as_str(),
            "kind_index": variant,
            "json": to_json(event),
            "time_unix_nanos": event.time.unix_nanos().to_string(),
            "subject": subject,
            "log_key": event.subject.log_key(),
            "stored": hex(&stored),
            "event_digest": event_digest(&stored).to_string(),
        }));
    }
    // Every kind without a signature is here; the three signed kinds are in signed.json.
    let signed = [
        Kind::DecisionRecorded,
        Kind::ReviewRecorded,
        Kind::DeploymentSigned,
    ];
    let covered: Vec<&str> = events.iter().map(|e| e.kind().as_str()).collect();
    for kind in Kind::ALL.iter().filter(|k| !signed.contains(k)) {
        assert!(covered.contains(&kind.as_str()), "no vector for {kind}");
    }
    write_or_check(
        "events.json",
        &json!({
            "about": "One event of every kind without a signature: `json` is the JSON wire form as vouch prints it (policy_published and deployment_recorded have no JSON form a producer may publish: vouch ingest refuses it), `stored` the stored record form in hex (0x01, then bincode), `event_digest` BLAKE3 over the stored bytes. The signed kinds are in signed.json. See schemas/record-form.md.",
            "kinds": Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            "events": out,
        }),
    );
}
