//! CLI behaviour: the real `vouch` binary against real ledgers in temp directories.
//!
//! Happy paths, `--json` on every read command, bad input (exit code and a message naming
//! the problem), `vouch ingest` with mixed good and bad lines, concurrent writers, a busy
//! ledger, and the loan-risk demo.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{Run, TestLedger};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The BLAKE3 of the three bytes `abc` (the reference test vector).
const BLAKE3_ABC: &str = "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";

/// Runs `vouch ARGS…` and asserts the exit code and that standard error mentions
/// `needle`. On success (`code == 0`) the needle is looked for on standard output.
#[track_caller]
fn check(ledger: &TestLedger, args: &[&str], code: i32, needle: &str) -> Run {
    let run = ledger.vouch(args);
    let (stream, text) = if code == 0 {
        ("stdout", &run.stdout)
    } else {
        ("stderr", &run.stderr)
    };
    assert!(
        run.code == code && text.contains(needle),
        "vouch {args:?}: expected exit {code} and {stream} mentioning {needle:?}\n\
         got exit {}\nstdout: {}\nstderr: {}",
        run.code,
        run.stdout,
        run.stderr
    );
    run
}

/// Runs a command that must succeed and whose standard output must be exactly one JSON
/// document.
#[track_caller]
fn json(ledger: &TestLedger, args: &[&str]) -> Value {
    let run = ledger.vouch(args);
    run.ok();
    run.json()
}

/// `runs show RUN --json`.
#[track_caller]
fn show(ledger: &TestLedger, run: &str) -> Value {
    json(ledger, &["--json", "runs", "show", run])
}

/// `status --json`.
#[track_caller]
fn status(ledger: &TestLedger) -> Value {
    json(ledger, &["--json", "status"])
}

/// The run ids of a `runs list --json` answer, in order.
fn run_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("runs list --json is an array")
        .iter()
        .map(|r| r["run"].as_str().expect("run id").to_owned())
        .collect()
}

/// The entry of a `runs show --json` metrics list for `name` on `segment`.
#[track_caller]
fn metric<'a>(doc: &'a Value, name: &str, segment: Option<&str>) -> &'a Value {
    doc["metrics"]
        .as_array()
        .expect("metrics is a list")
        .iter()
        .find(|m| m["name"] == name && m["segment"].as_str() == segment)
        .unwrap_or_else(|| panic!("no metric {name} on {segment:?} in {doc:#}"))
}

/// Runs `vouch` with arguments that need not be UTF-8.
fn vouch_os(ledger: &TestLedger, args: &[&OsStr]) -> Run {
    let output = ledger.command().args(args).output().expect("spawn vouch");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The first JSON document on standard output (for output that should be one document
/// but may carry more; see `ingest_json_output_is_one_document`).
#[track_caller]
fn first_json(run: &Run) -> Value {
    serde_json::Deserializer::from_str(&run.stdout)
        .into_iter::<Value>()
        .next()
        .unwrap_or_else(|| panic!("no JSON on stdout: {}", run.stdout))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", run.stdout))
}

/// `vouch ingest` error lines (`line N: reason`), by line number.
fn reported_bad_lines(stderr: &str) -> BTreeMap<u64, String> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("line ")?;
            let (n, reason) = rest.split_once(": ")?;
            Some((n.parse().ok()?, reason.to_owned()))
        })
        .collect()
}

/// The valid schema examples, each compacted to one line, in file-name order.
fn valid_examples() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/examples/valid");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the valid examples in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("read example");
            let value: Value = serde_json::from_str(&text).expect("example is JSON");
            serde_json::to_string(&value).expect("compact")
        })
        .collect()
}

/// A one-line event in wire form.
fn event_line(id: &str, kind: &str, run: &str, data: &str) -> String {
    format!(
        r#"{{"id":"{id}","kind":"{kind}","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"{run}","data":{data}}}"#
    )
}

/// The time `seconds` from now, in RFC 3339: ahead of the clock, within the allowed skew.
fn seconds_from_now(seconds: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch");
    let nanos = i64::try_from(now.as_nanos()).expect("fits") + seconds * 1_000_000_000;
    vouch_event::Timestamp::from_unix_nanos(nanos).to_string()
}

/// A ledger with run `r1` (experiment `e2e`) started.
fn ledger_with_run() -> TestLedger {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    ledger
}

// ---------------------------------------------------------------------------------------
// Happy paths
// ---------------------------------------------------------------------------------------

#[test]
fn init_creates_then_reports_already() {
    let ledger = TestLedger::uninitialised();
    check(&ledger, &["init"], 0, "initialised");
    assert!(ledger.path().join("ledger.json").is_file());
    check(&ledger, &["init"], 0, "already");
    let again = json(&ledger, &["--json", "init"]);
    assert_eq!(again["created"], false, "{again}");

    let fresh = TestLedger::uninitialised();
    let created = json(&fresh, &["--json", "init"]);
    assert_eq!(created["created"], true, "{created}");

    // An existing empty directory may become a ledger.
    let empty = TestLedger::uninitialised();
    std::fs::create_dir(empty.path()).unwrap();
    check(&empty, &["init"], 0, "initialised");
    let s = status(&empty);
    assert_eq!(s["log_position"], 0, "{s}");
}

#[test]
fn run_start_prints_only_the_run_id() {
    let ledger = TestLedger::new();
    let out = ledger
        .vouch(&["run", "start", "--experiment", "e2e", "--git", "none"])
        .ok()
        .to_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "stdout: {out:?}");
    let id = lines[0];
    let hex = id
        .strip_prefix("r-")
        .unwrap_or_else(|| panic!("{id:?} does not start with r-"));
    assert!(
        hex.len() == 12
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id:?} is not r-<12 lowercase hex digits>"
    );
    assert_eq!(out, format!("{id}\n"));
    assert_eq!(show(&ledger, id)["status"], "running");

    // A second generated id differs.
    let other = ledger
        .vouch(&["run", "start", "--experiment", "e2e", "--git", "none"])
        .ok()
        .trim()
        .to_owned();
    assert_ne!(other, id);
}

#[test]
fn run_start_with_the_same_run_id_is_a_no_op() {
    let ledger = TestLedger::new();
    let args = [
        "run",
        "start",
        "--experiment",
        "e2e",
        "--run-id",
        "train-7",
        "--git",
        "none",
    ];
    let first = ledger.vouch(&args).ok().to_owned();
    let second = ledger.vouch(&args).ok().to_owned();
    assert_eq!(first, "train-7\n");
    assert_eq!(second, "train-7\n");
    // With other options it is another fact under the same id: refused, naming both
    // records' digests, and the run keeps its first start.
    let other = ledger.vouch(&[
        "run",
        "start",
        "--experiment",
        "other",
        "--run-id",
        "train-7",
        "--git",
        "none",
    ]);
    other.fails(65, "other content");
    assert!(
        other.stderr.contains("stored record's digest"),
        "{}",
        other.stderr
    );
    let s = status(&ledger);
    assert_eq!(s["log_position"], 1, "{s}");
    assert_eq!(s["counts"]["runs"], 1, "{s}");
    let doc = show(&ledger, "train-7");
    assert_eq!(doc["started"]["experiment"], "e2e");
    assert_eq!(doc["events"], 1);
    let again = json(
        &ledger,
        &[
            "--json",
            "run",
            "start",
            "--experiment",
            "e2e",
            "--run-id",
            "train-7",
        ],
    );
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["position"], 1, "{again}");
}

#[test]
fn run_start_records_git_name_and_tools() {
    let ledger = TestLedger::new();
    let args = [
        "run",
        "start",
        "--experiment",
        "loan",
        "--name",
        "first try",
        "--run-id",
        "g1",
        "--git",
        "ABC1234DEF",
        "--dirty",
        "--tool",
        "torch=2.5.1",
        "--tool",
        "cuda=12.4",
    ];
    check(&ledger, &args, 0, "g1");
    let started = &show(&ledger, "g1")["started"];
    assert_eq!(started["experiment"], "loan");
    assert_eq!(started["name"], "first try");
    assert_eq!(
        started["git"]["commit"], "abc1234def",
        "commits are stored lowercase"
    );
    assert_eq!(started["git"]["dirty"], true);
    let tools = &started["env"]["tools"];
    assert_eq!(tools["torch"], "2.5.1", "{started}");
    assert_eq!(tools["cuda"], "12.4", "{started}");
    assert!(
        tools["vouch"].is_string(),
        "env auto records vouch's version: {started}"
    );
    assert_eq!(started["producer"], "vouch-cli");

    // --env none with tools records only the tools.
    check(
        &ledger,
        &[
            "run",
            "start",
            "--experiment",
            "loan",
            "--run-id",
            "g2",
            "--git",
            "0123abc",
            "--env",
            "none",
            "--tool",
            "k=v",
        ],
        0,
        "g2",
    );
    let started = &show(&ledger, "g2")["started"];
    assert_eq!(started["git"]["dirty"], false);
    assert_eq!(
        started["env"]["tools"],
        serde_json::json!({ "k": "v" }),
        "{started}"
    );

    // --env none without tools records no environment; --git none no code version.
    ledger
        .vouch(&[
            "--producer",
            "ci/loan#812",
            "run",
            "start",
            "--experiment",
            "loan",
            "--run-id",
            "g3",
            "--git",
            "none",
            "--env",
            "none",
        ])
        .ok();
    let started = &show(&ledger, "g3")["started"];
    assert!(
        started["env"].is_null() && started["git"].is_null(),
        "{started}"
    );
    assert_eq!(started["producer"], "ci/loan#812");
}

#[test]
fn log_params_and_metrics_with_steps_and_segments() {
    let ledger = ledger_with_run();
    check(
        &ledger,
        &[
            "log",
            "param",
            "--run",
            "r1",
            "lr=0.01",
            "depth=6",
            "note=a b=c",
        ],
        0,
        "recorded at position 2",
    );
    check(
        &ledger,
        &["log", "param", "--run", "r1", "lr=0.02"],
        0,
        "recorded",
    );
    for (step, loss) in [("0", "0.9"), ("1", "0.5"), ("2", "0.25")] {
        let pair = format!("loss={loss}");
        check(
            &ledger,
            &[
                "log", "metric", "--run", "r1", "--step", step, &pair, "auc=0.8",
            ],
            0,
            "recorded",
        );
    }
    check(
        &ledger,
        &[
            "log",
            "metric",
            "--run",
            "r1",
            "--segment",
            "region=EU",
            "auc=0.91",
        ],
        0,
        "recorded",
    );
    check(
        &ledger,
        &[
            "log",
            "metric",
            "--run",
            "r1",
            "--segment",
            "region=EU,age=18-25",
            "--step",
            "7",
            "auc=0.7",
        ],
        0,
        "recorded",
    );
    check(
        &ledger,
        &["log", "metric", "--run", "r1", "delta=-1.5e-3"],
        0,
        "recorded",
    );

    let doc = show(&ledger, "r1");
    assert_eq!(doc["status"], "running");
    assert_eq!(
        doc["params"]["lr"]["value"], "0.02",
        "the latest param value wins"
    );
    assert_eq!(doc["params"]["depth"]["value"], "6");
    assert_eq!(
        doc["params"]["note"]["value"], "a b=c",
        "only the first `=` splits"
    );
    let loss = metric(&doc, "loss", None);
    assert_eq!(loss["value"], 0.25);
    assert_eq!(loss["step"], 2);
    assert_eq!(loss["count"], 3);
    assert_eq!(loss["segment"], Value::Null);
    let auc = metric(&doc, "auc", None);
    assert_eq!(
        (auc["value"].as_f64(), auc["count"].as_u64()),
        (Some(0.8), Some(3))
    );
    let eu = metric(&doc, "auc", Some("region=EU"));
    assert_eq!(
        (eu["value"].as_f64(), eu["count"].as_u64()),
        (Some(0.91), Some(1))
    );
    assert_eq!(eu["step"], Value::Null);
    let young = metric(&doc, "auc", Some("region=EU,age=18-25"));
    assert_eq!(
        (young["value"].as_f64(), young["step"].as_u64()),
        (Some(0.7), Some(7))
    );
    assert_eq!(metric(&doc, "delta", None)["value"], -1.5e-3);
    assert_eq!(doc["metrics"].as_array().unwrap().len(), 5, "{doc:#}");

    // --history: every value in log order, with steps and positions.
    let history = json(
        &ledger,
        &["--json", "runs", "show", "r1", "--history", "loss"],
    );
    assert_eq!(history["history"]["metric"], "loss");
    let points = history["history"]["points"].as_array().expect("points");
    let got: Vec<(u64, f64)> = points
        .iter()
        .map(|p| (p["step"].as_u64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(got, [(0, 0.9), (1, 0.5), (2, 0.25)]);
    let positions: Vec<u64> = points
        .iter()
        .map(|p| p["position"].as_u64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    let segmented = json(
        &ledger,
        &[
            "--json",
            "runs",
            "show",
            "r1",
            "--history",
            "auc[region=EU]",
        ],
    );
    assert_eq!(
        segmented["history"]["points"].as_array().unwrap().len(),
        1,
        "{segmented}"
    );
    let table = check(
        &ledger,
        &["runs", "show", "r1", "--history", "loss"],
        0,
        "0.25",
    )
    .stdout;
    assert!(
        table.contains("region=EU") && table.contains("depth"),
        "{table}"
    );
}

#[test]
fn log_artifact_prints_the_blake3_digest() {
    let ledger = ledger_with_run();
    let abc = ledger.file("abc.txt", b"abc");
    assert_eq!(
        check(
            &ledger,
            &["log", "artifact", "--run", "r1", "abc.txt"],
            0,
            "blake3:"
        )
        .stdout,
        format!("{BLAKE3_ABC}\n")
    );

    // A larger file, over several read buffers, against the reference implementation.
    let big: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    ledger.file("model.bin", &big);
    let expected = format!("blake3:{}", blake3::hash(&big).to_hex());
    let out = check(
        &ledger,
        &[
            "log",
            "artifact",
            "--run",
            "r1",
            "--name",
            "weights",
            "--uri",
            "s3://bucket/m.bin",
            "model.bin",
        ],
        0,
        "blake3:",
    );
    assert_eq!(out.stdout.trim(), expected);
    let empty = json(
        &ledger,
        &[
            "--json",
            "log",
            "artifact",
            "--run",
            "r1",
            "--name",
            "empty",
            &ledger.file("empty", b"").to_string_lossy(),
        ],
    );
    assert_eq!(
        empty["digest"],
        format!("blake3:{}", blake3::hash(b"").to_hex()),
        "{empty}"
    );
    assert_eq!(empty["duplicate"], false);

    let doc = show(&ledger, "r1");
    let artifacts = doc["artifacts"].as_array().expect("artifacts");
    assert_eq!(artifacts.len(), 3, "{doc:#}");
    assert_eq!(artifacts[0]["name"], "abc.txt");
    assert_eq!(artifacts[0]["digest"], BLAKE3_ABC);
    assert_eq!(artifacts[0]["size"], 3);
    let abc_uri = format!("file://{}", std::fs::canonicalize(&abc).unwrap().display());
    assert_eq!(artifacts[0]["uri"], abc_uri.as_str());
    assert_eq!(artifacts[1]["name"], "weights");
    assert_eq!(artifacts[1]["digest"], expected.as_str());
    assert_eq!(artifacts[1]["size"], big.len());
    assert_eq!(artifacts[1]["uri"], "s3://bucket/m.bin");
    assert_eq!(artifacts[2]["size"], 0);
    assert_eq!(status(&ledger)["counts"]["artifacts"], 3);
}

#[test]
fn log_dataset_counts_rows_and_records_freshness() {
    let ledger = ledger_with_run();
    ledger.file("val.csv", b"id,label\n1,0\n2,1\n3,0\n");
    ledger.file("no-newline.CSV", b"id,label\n1,0\n2,1");
    ledger.file("plain.txt", b"a\nb\nc\nd");
    ledger.file("header-only.csv", b"id,label\n");
    let cases: &[(&[&str], &str, u64)] = &[
        (
            &[
                "--role",
                "validation",
                "--snapshot-at",
                "2026-11-18T02:00:00+02:00",
                "--labels-through",
                "2026-11-15T00:00:00Z",
                "val.csv",
            ],
            "val.csv",
            3,
        ),
        (&["--role", "train", "no-newline.CSV"], "no-newline.CSV", 2),
        (&["--role", "test", "plain.txt"], "plain.txt", 4),
        (&["--role", "test", "header-only.csv"], "header-only.csv", 0),
        (
            &[
                "--role", "train", "--rows", "42", "--name", "named", "val.csv",
            ],
            "named",
            42,
        ),
    ];
    for (args, _, _) in cases {
        let mut full = vec!["log", "dataset", "--run", "r1"];
        full.extend_from_slice(args);
        check(&ledger, &full, 0, "blake3:");
    }
    let doc = show(&ledger, "r1");
    let datasets = doc["datasets"].as_array().expect("datasets");
    assert_eq!(datasets.len(), cases.len(), "{doc:#}");
    for (d, (args, name, rows)) in datasets.iter().zip(cases) {
        assert_eq!(d["name"], *name, "{args:?}: {d}");
        assert_eq!(d["rows"], *rows, "{args:?}: {d}");
    }
    let val = &datasets[0];
    assert_eq!(val["role"], "validation");
    assert_eq!(
        val["snapshot_at"], "2026-11-18T00:00:00Z",
        "times are stored in UTC"
    );
    assert_eq!(val["labels_through"], "2026-11-15T00:00:00Z");
    assert_eq!(
        val["digest"],
        format!(
            "blake3:{}",
            blake3::hash(b"id,label\n1,0\n2,1\n3,0\n").to_hex()
        )
        .as_str()
    );
    assert!(
        val["uri"].as_str().unwrap().starts_with("file:///")
            && val["uri"].as_str().unwrap().ends_with("/val.csv"),
        "{val}"
    );
    assert_eq!(datasets[1]["role"], "train");
    assert_eq!(datasets[1]["snapshot_at"], Value::Null);
    assert_eq!(datasets[4]["digest"], val["digest"]);
    assert_eq!(status(&ledger)["counts"]["datasets"], 5);
}

/// Regression: `log dataset` took times in the future (`log live` refused them), and data
/// dated in the future passed every freshness gate with a negative age.
#[test]
fn log_dataset_refuses_times_in_the_future_beyond_the_clock_skew() {
    let ledger = ledger_with_run();
    ledger.file("val.csv", b"id,label\n1,0\n");
    let log = |flag: &str, time: &str| {
        ledger.vouch(&[
            "log",
            "dataset",
            "--run",
            "r1",
            "--role",
            "validation",
            flag,
            time,
            "val.csv",
        ])
    };
    for flag in ["--snapshot-at", "--labels-through"] {
        let run = log(flag, "2199-01-01T00:00:00Z");
        assert_eq!(run.code, 65, "{flag}: {}", run.stderr);
        for needle in [
            flag,
            "2199-01-01T00:00:00Z is in the future",
            "later than now (",
            "clock skew of 5 minutes",
        ] {
            assert!(
                run.stderr.contains(needle),
                "{flag}: want {needle:?}: {}",
                run.stderr
            );
        }
    }
    let s = status(&ledger);
    assert_eq!(s["log_position"], 1, "only the run start is stored: {s}");
    assert_eq!(s["counts"]["datasets"], 0, "{s}");

    // A minute ahead is a clock difference, within the skew: accepted and stored as given.
    let soon = seconds_from_now(60);
    check(
        &ledger,
        &[
            "log",
            "dataset",
            "--run",
            "r1",
            "--role",
            "validation",
            "--snapshot-at",
            &soon,
            "--labels-through",
            &soon,
            "val.csv",
        ],
        0,
        "blake3:",
    );
    let doc = show(&ledger, "r1");
    assert_eq!(doc["datasets"][0]["snapshot_at"], soon.as_str(), "{doc:#}");
    assert_eq!(
        doc["datasets"][0]["labels_through"],
        soon.as_str(),
        "{doc:#}"
    );
}

#[test]
fn run_finish_records_the_status_once() {
    let ledger = ledger_with_run();
    check(
        &ledger,
        &["run", "finish", "--run", "r1", "--status", "failed"],
        0,
        "recorded at position 2",
    );
    assert_eq!(show(&ledger, "r1")["status"], "failed");
    assert_eq!(show(&ledger, "r1")["finished"]["status"], "failed");
    // A retried finish is a no-op; one with another status is refused.
    check(
        &ledger,
        &["run", "finish", "--run", "r1", "--status", "failed"],
        0,
        "already recorded at position 2",
    );
    check(
        &ledger,
        &["run", "finish", "--run", "r1", "--status", "ok"],
        65,
        "other content",
    );
    assert_eq!(show(&ledger, "r1")["status"], "failed");
    assert_eq!(status(&ledger)["log_position"], 2);
    ledger.start_run("r2");
    check(&ledger, &["run", "finish", "--run", "r2"], 0, "recorded");
    assert_eq!(show(&ledger, "r2")["status"], "ok");
    ledger.start_run("r3");
    check(
        &ledger,
        &["run", "finish", "--run", "r3", "--status", "killed"],
        0,
        "recorded",
    );
    assert_eq!(show(&ledger, "r3")["status"], "killed");
}

/// Three runs in two experiments with overall and per-region AUC.
fn three_runs() -> TestLedger {
    let ledger = TestLedger::new();
    for (run, experiment, auc, eu, depth) in [
        ("run-a", "loan", "0.80", "0.85", "4"),
        ("run-b", "loan", "0.86", "0.79", "6"),
        ("run-c", "fraud", "0.90", "0.80", "8"),
    ] {
        ledger
            .vouch(&[
                "run",
                "start",
                "--experiment",
                experiment,
                "--run-id",
                run,
                "--git",
                "none",
                "--env",
                "none",
            ])
            .ok();
        ledger
            .vouch(&["log", "param", "--run", run, &format!("depth={depth}")])
            .ok();
        ledger
            .vouch(&[
                "log",
                "metric",
                "--run",
                run,
                &format!("auc={auc}"),
                "latency=100",
            ])
            .ok();
        ledger
            .vouch(&[
                "log",
                "metric",
                "--run",
                run,
                "--segment",
                "region=EU",
                &format!("auc={eu}"),
            ])
            .ok();
    }
    ledger
        .vouch(&["log", "param", "--run", "run-a", "only_a=yes"])
        .ok();
    ledger.vouch(&["run", "finish", "--run", "run-a"]).ok();
    ledger
}

#[test]
fn runs_list_table_json_and_filters() {
    let ledger = three_runs();
    let table = ledger.vouch(&["runs", "list"]);
    let out = table.ok();
    for needle in [
        "run",
        "experiment",
        "status",
        "run-a",
        "run-b",
        "run-c",
        "loan",
        "fraud",
        "auc",
        "0.86",
    ] {
        assert!(out.contains(needle), "table lacks {needle:?}:\n{out}");
    }
    assert!(table.stderr.contains("3 runs"), "{}", table.stderr);

    let all = json(&ledger, &["--json", "runs", "list"]);
    assert_eq!(run_ids(&all), ["run-a", "run-b", "run-c"]);
    assert_eq!(all[0]["finished"]["status"], "ok");

    let cases: &[(&[&str], &[&str])] = &[
        (&["--experiment", "loan"], &["run-a", "run-b"]),
        (&["--experiment", "fraud"], &["run-c"]),
        (&["--experiment", "nothing"], &[]),
        (&["--where", "auc>0.85"], &["run-b", "run-c"]),
        (&["--where", "auc>=0.86"], &["run-b", "run-c"]),
        (&["--where", "auc<0.85"], &["run-a"]),
        (&["--where", "auc==0.9"], &["run-c"]),
        (&["--where", "auc!=0.9"], &["run-a", "run-b"]),
        (
            &["--where", "auc > 0.85", "--where", "latency<=100"],
            &["run-b", "run-c"],
        ),
        (&["--where", "auc>0.85", "--experiment", "loan"], &["run-b"]),
        (&["--where", "missing_metric>0"], &[]),
    ];
    for (args, expected) in cases {
        let mut full = vec!["--json", "runs", "list"];
        full.extend_from_slice(args);
        assert_eq!(
            run_ids(&json(&ledger, &full)),
            *expected,
            "runs list {args:?}"
        );
    }
    let filtered = ledger.vouch(&["runs", "list", "--where", "auc>0.85"]);
    assert!(
        filtered.ok().contains("run-b") && !filtered.stdout.contains("run-a"),
        "{}",
        filtered.stdout
    );
    let none = ledger.vouch(&["runs", "list", "--where", "auc>5"]);
    assert!(
        none.ok().is_empty() && none.stderr.contains("no runs match"),
        "{none:?}"
    );
}

/// `--where 'auc[region=EU]>=0.8'`, the example in `vouch runs list --help`, must filter on
/// the segmented series.
#[test]
fn runs_list_where_on_a_segment() {
    let ledger = three_runs();
    let run = ledger.vouch(&["--json", "runs", "list", "--where", "auc[region=EU]>=0.8"]);
    assert_eq!(
        run.code, 0,
        "`--where auc[region=EU]>=0.8` was rejected\nstderr: {}",
        run.stderr
    );
    assert_eq!(run_ids(&run.json()), ["run-a", "run-c"]);
    let run = ledger.vouch(&["--json", "runs", "list", "--where", "auc[region=EU]<0.8"]);
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run_ids(&run.json()), ["run-b"]);
}

#[test]
fn compare_aligns_params_and_metrics_with_runs() {
    let ledger = three_runs();
    let table = check(&ledger, &["compare", "run-a", "run-b"], 0, "differs").stdout;
    for needle in [
        "run-a",
        "run-b",
        "param depth",
        "param only_a",
        "auc[region=EU]",
        "latency",
        "*",
        "status",
    ] {
        assert!(
            table.contains(needle),
            "compare table lacks {needle:?}:\n{table}"
        );
    }

    let c = json(&ledger, &["--json", "compare", "run-c", "run-a", "run-b"]);
    assert_eq!(c["runs"], serde_json::json!(["run-c", "run-a", "run-b"]));
    assert_eq!(c["params"]["depth"], serde_json::json!(["8", "4", "6"]));
    assert_eq!(
        c["params"]["only_a"],
        serde_json::json!([null, "yes", null])
    );
    assert_eq!(c["metrics"]["auc"], serde_json::json!([0.9, 0.8, 0.86]));
    assert_eq!(
        c["metrics"]["auc[region=EU]"],
        serde_json::json!([0.8, 0.85, 0.79])
    );
    assert_eq!(
        c["metrics"]["latency"],
        serde_json::json!([100.0, 100.0, 100.0])
    );
    for section in ["params", "metrics"] {
        for (key, values) in c[section].as_object().unwrap() {
            assert_eq!(
                values.as_array().map(Vec::len),
                Some(3),
                "{section}.{key} is not aligned to the runs"
            );
        }
    }
}

#[test]
fn status_rebuild_and_quarantine() {
    let ledger = three_runs();
    let s = status(&ledger);
    assert_eq!(s["log_position"], 14, "{s}");
    assert_eq!(s["log_position"], s["view_position"], "{s}");
    assert_eq!(s["backend"], "embedded");
    let counts = &s["counts"];
    assert_eq!(counts["applied"], 14, "{s}");
    assert_eq!(counts["quarantined"], 0, "{s}");
    assert_eq!(counts["runs"], 3, "{s}");
    assert_eq!(counts["metric_values"], 9, "{s}");
    check(&ledger, &["status"], 0, "log position  14");

    let before = ledger.dump();
    let report = json(&ledger, &["--json", "rebuild"]);
    assert_eq!(report["position"], 14, "{report}");
    assert_eq!(report["applied"], 14, "{report}");
    assert_eq!(report["quarantined"], 0, "{report}");
    assert_eq!(ledger.dump(), before, "a rebuild must give the same views");
    check(&ledger, &["rebuild"], 0, "14 applied, 0 quarantined");
    assert_eq!(
        ledger.dump(),
        before,
        "a second rebuild must give the same views"
    );
    let s = status(&ledger);
    assert_eq!(
        (s["log_position"].as_u64(), s["view_position"].as_u64()),
        (Some(14), Some(14))
    );

    check(&ledger, &["quarantine"], 0, "quarantine is empty");
    assert_eq!(
        json(&ledger, &["--json", "quarantine"]),
        serde_json::json!([])
    );
}

#[test]
fn json_on_every_read_command_is_one_document() {
    let ledger = three_runs();
    let commands: &[&[&str]] = &[
        &["init"],
        &["runs", "list"],
        &["runs", "list", "--where", "auc>0.85"],
        &["runs", "list", "--where", "auc>5"],
        &["runs", "show", "run-a"],
        &["runs", "show", "run-a", "--history", "auc"],
        &["compare", "run-a", "run-b"],
        &["status"],
        &["quarantine"],
        &["rebuild"],
        &["log", "metric", "--run", "run-b", "extra=1"],
        &["run", "finish", "--run", "run-b"],
    ];
    for args in commands {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let run = ledger.vouch(&full);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let _ = run.json();
    }
    let demo = TestLedger::uninitialised();
    for _ in 0..2 {
        let value = json(&demo, &["--json", "demo", "loan-risk"]);
        assert_eq!(value["runs"].as_array().map(Vec::len), Some(5), "{value}");
    }
    // A failing command under --json prints a JSON error on stdout, the message on stderr.
    let failed = ledger.vouch(&["--json", "runs", "show", "ghost"]);
    failed.fails(65, "unknown run");
    let error = failed.json();
    assert_eq!(error["exit_code"], 65, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("ghost"),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

#[test]
fn bad_input_is_refused_with_a_code_and_a_reason() {
    let ledger = ledger_with_run();
    ledger.file("abc.bin", b"abc");
    ledger.file("data.csv", b"h\n1\n");
    std::fs::create_dir(ledger.tmp.path().join("adir")).unwrap();
    // A named pipe as an artifact would block the hash forever: refused at once.
    let fifo = std::ffi::CString::new(ledger.tmp.path().join("apipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let before = status(&ledger);

    #[rustfmt::skip]
    let cases: &[(&[&str], i32, &str)] = &[
        // Metric values.
        (&["log", "metric", "--run", "r1", "loss=NaN"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=nan"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=inf"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=-inf"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=+infinity"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=1e999"], 65, "not a finite number"),
        (&["log", "metric", "--run", "r1", "loss=abc"], 65, "`abc` is not a number"),
        (&["log", "metric", "--run", "r1", "loss="], 65, "is not a number"),
        (&["log", "metric", "--run", "r1", "ok=1", "loss=abc"], 65, "loss=abc"),
        (&["log", "metric", "--run", "r1", "loss"], 65, "expected NAME=VALUE"),
        (&["log", "metric", "--run", "r1", "a b=1"], 65, "invalid name `a b`"),
        (&["log", "metric", "--run", "r1", "=1"], 65, "invalid name"),
        (&["log", "metric", "--run", "r1", "--segment", "EU", "a=1"], 65, "--segment"),
        (&["log", "metric", "--run", "r1", "--segment", "region=", "a=1"], 65, "invalid segment"),
        (&["log", "metric", "--run", "r1", "--segment", "region=EU,", "a=1"], 65, "invalid segment"),
        // Params.
        (&["log", "param", "--run", "r1", "novalue"], 65, "expected NAME=VALUE"),
        (&["log", "param", "--run", "r1", "bad key=1"], 65, "invalid name `bad key`"),
        // Unknown runs.
        (&["log", "metric", "--run", "ghost", "a=1"], 65, "unknown run `ghost`"),
        (&["log", "param", "--run", "ghost", "a=1"], 65, "unknown run `ghost`"),
        (&["log", "artifact", "--run", "ghost", "abc.bin"], 65, "unknown run `ghost`"),
        (&["log", "dataset", "--run", "ghost", "--role", "train", "data.csv"], 65, "unknown run `ghost`"),
        (&["run", "finish", "--run", "ghost"], 65, "unknown run `ghost`"),
        (&["runs", "show", "ghost"], 65, "unknown run `ghost`"),
        (&["compare", "r1", "ghost"], 65, "unknown run `ghost`"),
        (&["compare", "ghost", "r1"], 65, "unknown run `ghost`"),
        // Invalid run ids.
        (&["log", "metric", "--run", "r.1", "a=1"], 65, "invalid run id `r.1`"),
        (&["log", "param", "--run=-r", "a=1"], 65, "invalid run id `-r`"),
        (&["run", "finish", "--run", "r 1"], 65, "invalid run id `r 1`"),
        (&["runs", "show", "r.1"], 65, "invalid run id `r.1`"),
        (&["compare", "r1", "r.1"], 65, "invalid run id `r.1`"),
        (&["run", "start", "--experiment", "e", "--run-id", "r.1"], 65, "--run-id"),
        // Run start options.
        (&["run", "start", "--experiment", "e", "--git", "not-a-sha"], 65, "git.commit"),
        (&["run", "start", "--experiment", "e", "--git", "abc"], 65, "git.commit"),
        (&["run", "start", "--experiment", "e", "--git", "none", "--tool", "torch"], 65, "expected NAME=VERSION"),
        (&["run", "start", "--experiment", "", "--git", "none"], 65, "experiment"),
        // Files.
        (&["log", "artifact", "--run", "r1", "missing.bin"], 66, "missing.bin"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "missing.csv"], 66, "missing.csv"),
        (&["log", "artifact", "--run", "r1", "adir"], 65, "is a directory"),
        (&["log", "artifact", "--run", "r1", "--name", "", "abc.bin"], 65, "data.name"),
        (&["log", "artifact", "--run", "r1", "--uri", "s3://a\u{7}b", "abc.bin"], 65, "data.uri"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "--uri", "", "data.csv"], 65, "data.uri"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "adir"], 65, "is a directory"),
        (&["log", "artifact", "--run", "r1", "apipe"], 65, "named pipe"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "apipe"], 65, "named pipe"),
        // Times.
        (&["log", "dataset", "--run", "r1", "--role", "test", "--snapshot-at", "yesterday", "data.csv"], 65, "--snapshot-at"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "--snapshot-at", "2026-02-30T00:00:00Z", "data.csv"], 65, "--snapshot-at"),
        (&["log", "dataset", "--run", "r1", "--role", "test", "--labels-through", "2026-11-28", "data.csv"], 65, "--labels-through"),
        // Queries.
        (&["runs", "list", "--where", "auc>>x"], 65, "--where"),
        (&["runs", "list", "--where", "auc"], 65, "no comparison operator"),
        (&["runs", "list", "--where", "auc>NaN"], 65, "finite"),
        (&["runs", "show", "r1", "--history", "loss"], 65, "has no metric `loss`"),
        (&["runs", "show", "r1", "--history", "a b"], 65, "--history"),
        // Global options.
        (&["--lock-timeout=-1", "status"], 65, "--lock-timeout"),
        (&["--lock-timeout", "NaN", "status"], 65, "--lock-timeout"),
        (&["--producer", "", "status"], 65, "--producer"),
        (&["log", "metric", "--run", "r1", "--event-id", "a b", "x=1"], 65, "--event-id"),
        // Usage.
        (&["frob"], 64, "unrecognized subcommand"),
        (&["status", "--frob"], 64, "--frob"),
        (&["--frob", "status"], 64, "--frob"),
        (&[], 64, "Usage"),
        (&["log", "metric", "--run", "r1"], 64, "required"),
        (&["log", "metric", "x=1"], 64, "--run"),
        (&["run", "start"], 64, "--experiment"),
        (&["run", "finish", "--run", "r1", "--status", "weird"], 64, "weird"),
        (&["log", "dataset", "--run", "r1", "--role", "holdout", "data.csv"], 64, "holdout"),
        (&["log", "metric", "--run", "r1", "--step", "x", "a=1"], 64, "--step"),
        (&["compare", "r1"], 64, "compare"),
        (&["ingest", "--batch", "0"], 64, "--batch"),
        (&["demo", "nothing"], 64, "nothing"),
    ];
    let mut failures = Vec::new();
    for (args, code, needle) in cases {
        let run = ledger.vouch(args);
        if run.code != *code || !run.stderr.contains(needle) {
            failures.push(format!(
                "vouch {args:?}: want {code} and {needle:?}; got {} with stderr {:?}",
                run.code, run.stderr
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        status(&ledger),
        before,
        "refused commands must write nothing"
    );
}

/// `--lock-timeout -1` (with a space, as users type it) must be refused as bad input by
/// the value check, like `--lock-timeout=-1`, not as an unknown argument `-1`.
#[test]
fn negative_lock_timeout_is_bad_input() {
    let ledger = TestLedger::new();
    check(
        &ledger,
        &["--lock-timeout=-1", "status"],
        65,
        "--lock-timeout",
    );
    check(
        &ledger,
        &["--lock-timeout", "-1", "status"],
        65,
        "--lock-timeout",
    );
}

#[test]
fn artifact_with_a_non_utf8_file_name() {
    use std::os::unix::ffi::OsStrExt;
    let ledger = ledger_with_run();
    let name = OsStr::from_bytes(b"weights-\xff.bin");
    let path = ledger.tmp.path().join(name);
    std::fs::write(&path, b"abc").unwrap();
    let base: Vec<&OsStr> = ["log", "artifact", "--run", "r1"]
        .iter()
        .map(OsStr::new)
        .collect();

    let mut args = base.clone();
    args.push(path.as_os_str());
    let run = vouch_os(&ledger, &args);
    run.fails(65, "UTF-8");
    assert!(
        run.stderr.contains("--name"),
        "the error suggests --name: {}",
        run.stderr
    );

    let mut args = base.clone();
    args.extend([
        OsStr::new("--name"),
        OsStr::new("weights"),
        path.as_os_str(),
    ]);
    let run = vouch_os(&ledger, &args);
    assert_eq!(run.ok(), format!("{BLAKE3_ABC}\n"));
    let doc = show(&ledger, "r1");
    let artifact = &doc["artifacts"][0];
    assert_eq!(artifact["name"], "weights");
    let uri = artifact["uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/weights-%FF.bin"),
        "{uri}"
    );

    // The same for datasets.
    let mut args: Vec<&OsStr> = ["log", "dataset", "--run", "r1", "--role", "test"]
        .iter()
        .map(OsStr::new)
        .collect();
    args.push(path.as_os_str());
    vouch_os(&ledger, &args).fails(65, "UTF-8");
}

#[test]
fn ledger_location_problems_are_explained() {
    // No directory at all.
    let missing = TestLedger::uninitialised();
    for args in [
        &["status"][..],
        &["runs", "list"],
        &["log", "metric", "--run", "r1", "a=1"],
        &["ingest", "-"],
        &["rebuild"],
    ] {
        check(&missing, args, 66, "vouch init");
    }
    assert!(
        !missing.path().exists(),
        "a read must not create the ledger"
    );

    // A regular file.
    let file = TestLedger::uninitialised();
    std::fs::write(file.path(), b"not a ledger").unwrap();
    check(&file, &["status"], 65, "is a file");
    check(&file, &["init"], 65, "is a file");
    check(
        &file,
        &["run", "start", "--experiment", "e", "--git", "none"],
        65,
        "is a file",
    );

    // A directory that is not a ledger.
    let other = TestLedger::uninitialised();
    std::fs::create_dir(other.path()).unwrap();
    std::fs::write(other.path().join("notes.txt"), b"mine").unwrap();
    check(&other, &["status"], 65, "not a Vouch ledger");
    check(&other, &["runs", "list"], 65, "not a Vouch ledger");
    check(&other, &["init"], 65, "not empty");
    assert_eq!(
        std::fs::read_dir(other.path()).unwrap().count(),
        1,
        "init must leave a foreign directory alone"
    );

    // A damaged marker: a file Vouch wrote that does not read back is a damaged store.
    for marker in [
        &b"garbage"[..],
        b"",
        b"{\"format\":2,\"backend\":\"embedded\"}",
        b"{\"format\":1,\"backend\":\"nats\"}",
    ] {
        let damaged = TestLedger::new();
        std::fs::write(damaged.path().join("ledger.json"), marker).unwrap();
        let run = damaged.vouch(&["status"]);
        run.fails(70, "ledger.json");
        assert!(
            run.stderr.contains("not a ledger this version reads"),
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        check(&damaged, &["init"], 70, "ledger.json");
    }
}

// ---------------------------------------------------------------------------------------
// Ingest
// ---------------------------------------------------------------------------------------

/// One line of an ingest file and what `vouch ingest` should make of it.
enum Line {
    /// A valid event.
    Good(String),
    /// A valid event whose id appeared earlier in the file.
    Duplicate(String),
    /// Blank or whitespace-only: skipped, not an error.
    Blank(&'static str),
    /// Invalid: reported with its line number, the reason mentioning the needle.
    Bad(String, &'static str),
}

fn mixed_ingest_lines() -> Vec<Line> {
    let examples = valid_examples();
    let mut lines = Vec::new();
    let huge = format!(r#"{{"a":"{}"}}"#, "x".repeat((1 << 20) + 10));
    let bad: Vec<Line> = vec![
        Line::Bad("{not json".into(), "line 1 column"),
        Line::Bad(event_line("u1", "model_trained", "r-7f3a", r#"{"x":1}"#), "unknown variant `model_trained`"),
        Line::Bad(
            r#"{"id":"d1","kind":"decision_recorded","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","model":"loan","data":{}}"#.into(),
            "reserved",
        ),
        Line::Bad(event_line("t1", "metrics_logged", "r-7f3a", r#"{"metrics":{"auc":"0.8"}}"#), "invalid type"),
        Line::Bad(event_line("t2", "metrics_logged", "r-7f3a", r#"{"metrics":{"auc":0.8},"step":1.5}"#), "`1.5`, expected u64"),
        Line::Bad(
            r#"{"id":"m1","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","data":{"params":{"a":"b"}}}"#.into(),
            "missing field `run`",
        ),
        Line::Bad(event_line("m2", "run_finished", "r-7f3a", "{}"), "missing field `status`"),
        Line::Bad(event_line("n1", "metrics_logged", "r-7f3a", r#"{"metrics":{"auc":1e999}}"#), "out of range"),
        Line::Bad(event_line("big", "params_logged", "r-7f3a", &format!(r#"{{"params":{huge}}}"#)), "limit"),
        Line::Bad("[1,2,3]".into(), "invalid type"),
    ];
    let mut bad = bad.into_iter();
    for (i, example) in examples.iter().enumerate() {
        lines.push(Line::Good(example.clone()));
        match i % 3 {
            0 => lines.extend(bad.next()),
            1 if i < 6 => lines.push(Line::Blank(if i == 1 { "" } else { "  \t " })),
            _ => {}
        }
    }
    lines.extend(bad);
    // A duplicate id within the file: the same event again.
    lines.push(Line::Duplicate(examples[0].clone()));
    // Metrics for a run that never started are kept.
    lines.push(Line::Good(event_line(
        "ghost-m1",
        "metrics_logged",
        "ghost-run",
        r#"{"metrics":{"loss":0.5},"step":3}"#,
    )));
    lines.push(Line::Good(event_line(
        "ghost-m2",
        "metrics_logged",
        "ghost-run",
        r#"{"metrics":{"loss":0.25},"step":4}"#,
    )));
    lines
}

fn ingest_text(lines: &[Line]) -> String {
    let mut text = String::new();
    for line in lines {
        match line {
            Line::Good(s) | Line::Duplicate(s) | Line::Bad(s, _) => text.push_str(s),
            Line::Blank(s) => text.push_str(s),
        }
        text.push('\n');
    }
    text
}

/// Expected: bad lines by 1-based number, events, unique events.
fn expected_ingest(lines: &[Line]) -> (BTreeMap<u64, &'static str>, u64, u64) {
    let mut bad = BTreeMap::new();
    let (mut events, mut unique) = (0, 0);
    for (i, line) in lines.iter().enumerate() {
        match line {
            Line::Good(_) => {
                events += 1;
                unique += 1;
            }
            Line::Duplicate(_) => events += 1,
            Line::Bad(_, needle) => {
                bad.insert(i as u64 + 1, *needle);
            }
            Line::Blank(_) => {}
        }
    }
    (bad, events, unique)
}

#[test]
fn ingest_stores_good_lines_and_reports_bad_ones_by_line_number() {
    let ledger = TestLedger::new();
    let lines = mixed_ingest_lines();
    let (bad, events, unique) = expected_ingest(&lines);
    assert!(
        bad.len() >= 10 && unique >= 20,
        "the fixture mixes enough lines"
    );
    let path = ledger.file("mixed.jsonl", ingest_text(&lines).as_bytes());
    let path = path.to_str().unwrap();

    let run = ledger.vouch(&["ingest", path]);
    assert_eq!(run.code, 65, "stderr: {}", run.stderr);
    let reported = reported_bad_lines(&run.stderr);
    assert_eq!(
        reported.keys().collect::<Vec<_>>(),
        bad.keys().collect::<Vec<_>>(),
        "stderr: {}",
        run.stderr
    );
    for (n, needle) in &bad {
        assert!(
            reported[n].contains(needle),
            "line {n}: want {needle:?}, got {:?}",
            reported[n]
        );
    }
    assert!(
        run.stdout.contains(&format!(
            "{events} events read: {unique} appended, 1 already in the ledger; {} bad lines",
            bad.len()
        )),
        "{}",
        run.stdout
    );

    // The good lines are stored and projected.
    let s = status(&ledger);
    assert_eq!(s["log_position"], unique, "{s}");
    assert_eq!(s["view_position"], unique, "{s}");
    assert_eq!(
        s["counts"]["runs"], 6,
        "r-7f3a, fraud-gbm-20261127-02, r-9b21, ghost-run, and the MLflow-shaped runs \
         4c2e9a81…, 5d3f0b92: {s}"
    );
    assert_eq!(s["counts"]["quarantined"], 0, "{s}");
    let r = show(&ledger, "r-7f3a");
    assert_eq!(r["status"], "ok");
    assert_eq!(r["started"]["experiment"], "loan-risk-xgb");
    assert_eq!(r["params"]["learning_rate"]["value"], "0.05");
    assert_eq!(metric(&r, "auc", None)["value"], 0.861);
    assert_eq!(metric(&r, "auc", Some("region=EU"))["value"], 0.847);
    assert_eq!(r["artifacts"].as_array().unwrap().len(), 2);
    assert_eq!(r["datasets"].as_array().unwrap().len(), 2);
    let fraud = show(&ledger, "fraud-gbm-20261127-02");
    assert_eq!(fraud["status"], "failed");
    assert_eq!(
        fraud["started"]["git"]["commit"],
        "4c1e9a7b2d0f8e63a5b17c9d40e2f6a8b3c5d7e1"
    );
    assert_eq!(metric(&fraud, "eval/false_positives", None)["value"], 412.0);
    assert_eq!(show(&ledger, "r-9b21")["status"], "killed");
    let ghost = show(&ledger, "ghost-run");
    assert_eq!(ghost["status"], "unknown", "{ghost}");
    assert_eq!(ghost["started"], Value::Null);
    assert_eq!(metric(&ghost, "loss", None)["count"], 2);
    let history = json(
        &ledger,
        &["--json", "runs", "show", "ghost-run", "--history", "loss"],
    );
    assert_eq!(history["history"]["points"].as_array().unwrap().len(), 2);
    check(&ledger, &["runs", "show", "ghost-run"], 0, "unknown");

    // A rebuild agrees with the incremental projection, out-of-order events included.
    let before = ledger.dump();
    ledger.vouch(&["rebuild"]).ok();
    assert_eq!(ledger.dump(), before);
}

/// Regression: `vouch ingest` stored datasets and live observations dated in the future.
/// Each such line is refused with its line number; the valid lines around it are stored.
#[test]
fn ingest_refuses_lines_dated_in_the_future_and_stores_the_rest() {
    let ledger = TestLedger::new();
    let digest = format!("blake3:{}", "ab".repeat(32));
    let future = "2199-01-01T00:00:00Z";
    let past = "2026-11-01T00:00:00Z";
    let soon = seconds_from_now(60);
    let dataset = |id: &str, snapshot_at: &str, labels_through: &str| {
        event_line(
            id,
            "dataset_bound",
            "r1",
            &format!(
                r#"{{"role":"validation","name":"v","digest":"{digest}","rows":3,"snapshot_at":"{snapshot_at}","labels_through":"{labels_through}"}}"#
            ),
        )
    };
    let live = |id: &str, window_end: &str| {
        format!(
            r#"{{"id":"{id}","kind":"live_metrics_observed","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","model":"m","data":{{"env":"production","artifact":"{digest}","metrics":{{"auc":0.8}},"window_start":"{past}","window_end":"{window_end}","labels_through":"{past}"}}}}"#
        )
    };
    let lines = [
        event_line("s1", "run_started", "r1", r#"{"experiment":"e2e"}"#),
        dataset("d-future-snapshot", future, past),
        dataset("d-soon", &soon, &soon),
        live("l-future", future),
        event_line("m1", "metrics_logged", "r1", r#"{"metrics":{"auc":0.8}}"#),
        dataset("d-future-labels", past, future),
        live("l-past", past),
    ];
    let path = ledger.file("future.jsonl", (lines.join("\n") + "\n").as_bytes());
    let run = ledger.vouch(&["ingest", path.to_str().unwrap()]);
    assert_eq!(run.code, 65, "stderr: {}", run.stderr);
    let reported = reported_bad_lines(&run.stderr);
    assert_eq!(
        reported.keys().copied().collect::<Vec<_>>(),
        [2, 4, 6],
        "{}",
        run.stderr
    );
    for (line, field) in [
        (2, "data.snapshot_at"),
        (4, "data.window_end"),
        (6, "data.labels_through"),
    ] {
        let reason = &reported[&line];
        assert!(
            reason.starts_with(&format!(
                "{field} {future} is in the future: later than now ("
            )),
            "line {line}: {reason}"
        );
    }
    assert!(
        run.stdout.contains("4 events read: 4 appended"),
        "{}",
        run.stdout
    );
    let s = status(&ledger);
    assert_eq!(s["log_position"], 4, "{s}");
    assert_eq!(s["counts"]["quarantined"], 0, "{s}");
    let doc = show(&ledger, "r1");
    let datasets = doc["datasets"].as_array().expect("datasets");
    assert_eq!(datasets.len(), 1, "{doc:#}");
    assert_eq!(datasets[0]["snapshot_at"], soon.as_str(), "{doc:#}");
}

#[test]
fn ingest_json_summary_and_reingest_appends_nothing() {
    let ledger = TestLedger::new();
    let lines = mixed_ingest_lines();
    let (bad, events, unique) = expected_ingest(&lines);
    let total = lines.len() as u64;
    let path = ledger.file("mixed.jsonl", ingest_text(&lines).as_bytes());
    let path = path.to_str().unwrap();

    for (attempt, appended, duplicates) in [(1, unique, events - unique), (2, 0, events)] {
        let run = ledger.vouch(&["--json", "ingest", path]);
        assert_eq!(run.code, 65, "attempt {attempt}: {}", run.stderr);
        let summary = first_json(&run);
        assert_eq!(summary["lines"], total, "attempt {attempt}: {summary}");
        assert_eq!(summary["events"], events, "attempt {attempt}: {summary}");
        assert_eq!(
            summary["appended"], appended,
            "attempt {attempt}: {summary}"
        );
        assert_eq!(
            summary["duplicates"], duplicates,
            "attempt {attempt}: {summary}"
        );
        assert_eq!(summary["bad"], bad.len(), "attempt {attempt}: {summary}");
        let numbers: Vec<u64> = summary["bad_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["line"].as_u64().unwrap())
            .collect();
        assert_eq!(
            numbers,
            bad.keys().copied().collect::<Vec<_>>(),
            "attempt {attempt}"
        );
        for b in summary["bad_lines"].as_array().unwrap() {
            let needle = bad[&b["line"].as_u64().unwrap()];
            assert!(
                b["error"].as_str().unwrap().contains(needle),
                "{b}: want {needle:?}"
            );
        }
        assert_eq!(status(&ledger)["log_position"], unique, "attempt {attempt}");
    }
    // The text form says the same on the third attempt.
    let run = ledger.vouch(&["ingest", path]);
    assert_eq!(run.code, 65);
    assert!(
        run.stdout.contains(&format!(
            "{events} events read: 0 appended, {events} already in the ledger"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(status(&ledger)["log_position"], unique);
}

/// With `--json`, standard output is one JSON document even when ingest fails on bad
/// lines (scripts parse it).
#[test]
fn ingest_json_output_is_one_document() {
    let ledger = TestLedger::new();
    let path = ledger.file("one-bad.jsonl", b"{oops\n");
    let run = ledger.vouch(&["--json", "ingest", path.to_str().unwrap()]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    let parsed: Result<Value, _> = serde_json::from_str(&run.stdout);
    assert!(
        parsed.is_ok(),
        "`--json ingest` printed more than one JSON document:\n{}",
        run.stdout
    );
}

#[test]
fn ingest_clean_input_from_stdin_and_files() {
    let ledger = TestLedger::new();
    let examples = valid_examples();
    let mut text = examples.join("\r\n");
    text.push_str("\r\n");
    let run = ledger.vouch_with_input(&["ingest", "-"], text.as_bytes());
    let n = examples.len();
    assert_eq!(
        run.ok().trim(),
        format!("{n} events read: {n} appended, 0 already in the ledger; 0 bad lines not stored")
    );
    // No argument also reads standard input; the last line may lack a newline.
    let extra = event_line(
        "stdin-1",
        "params_logged",
        "r-7f3a",
        r#"{"params":{"from":"stdin"}}"#,
    );
    let summary = json(&ledger, &["--json", "ingest"]); // empty stdin (null)
    assert_eq!(summary["lines"], 0, "{summary}");
    let run = ledger.vouch_with_input(
        &["--json", "ingest"],
        format!("{}\n{extra}", examples[0]).as_bytes(),
    );
    run.ok();
    let summary = run.json();
    assert_eq!(
        (
            summary["lines"].as_u64(),
            summary["appended"].as_u64(),
            summary["duplicates"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{summary}"
    );
    assert_eq!(show(&ledger, "r-7f3a")["params"]["from"]["value"], "stdin");
    assert_eq!(status(&ledger)["log_position"], n as u64 + 1);

    // Small batches give the same result.
    let other = TestLedger::new();
    let path = other.file("clean.jsonl", text.as_bytes());
    other
        .vouch(&["ingest", "--batch", "1", path.to_str().unwrap()])
        .ok();
    let third = TestLedger::new();
    third
        .vouch(&["ingest", "--batch", "7", path.to_str().unwrap()])
        .ok();
    assert_eq!(other.dump(), third.dump());

    check(
        &ledger,
        &["ingest", "no-such-file.jsonl"],
        66,
        "no-such-file.jsonl",
    );
    std::fs::create_dir(ledger.tmp.path().join("a-dir")).unwrap();
    let run = ledger.vouch(&["ingest", "a-dir"]);
    assert!(
        run.code == 74 || run.code == 65,
        "ingest of a directory: {run:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------

#[test]
fn concurrent_loggers_lose_nothing() {
    const LOGGERS: u64 = 8;
    const EACH: u64 = 25;
    let ledger = TestLedger::new();
    ledger.start_run("busy-run");
    let barrier = std::sync::Barrier::new(LOGGERS as usize);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..LOGGERS)
            .map(|logger| {
                let (ledger, barrier) = (&ledger, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let mut failures = Vec::new();
                    for i in 0..EACH {
                        let step = logger * EACH + i;
                        let args = [
                            "log",
                            "metric",
                            "--run",
                            "busy-run",
                            "--step",
                            &step.to_string(),
                            &format!("loss={}", step as f64 / 1000.0),
                        ];
                        let run = ledger.vouch(&args);
                        if run.code != 0 {
                            failures.push(format!(
                                "logger {logger} step {step}: exit {} {}",
                                run.code, run.stderr
                            ));
                        }
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("logger thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} invocations failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    let total = LOGGERS * EACH;
    let history = json(
        &ledger,
        &["--json", "runs", "show", "busy-run", "--history", "loss"],
    );
    let points = history["history"]["points"].as_array().expect("points");
    assert_eq!(points.len() as u64, total);
    let positions: BTreeSet<u64> = points
        .iter()
        .map(|p| p["position"].as_u64().unwrap())
        .collect();
    assert_eq!(
        positions.len() as u64,
        total,
        "every value has its own log position"
    );
    assert_eq!(
        positions.iter().copied().collect::<Vec<_>>(),
        (2..=total + 1).collect::<Vec<_>>()
    );
    let steps: BTreeSet<u64> = points.iter().map(|p| p["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, (0..total).collect());
    for p in points {
        assert_eq!(
            p["value"].as_f64().unwrap(),
            p["step"].as_u64().unwrap() as f64 / 1000.0,
            "{p}"
        );
    }
    let s = status(&ledger);
    assert_eq!(s["log_position"], total + 1, "{s}");
    assert_eq!(s["view_position"], total + 1, "{s}");
    assert_eq!(s["counts"]["metric_values"], total, "{s}");
    assert_eq!(
        metric(&show(&ledger, "busy-run"), "loss", None)["count"],
        total
    );
}

#[test]
fn a_busy_ledger_times_out_then_works_again() {
    let ledger = ledger_with_run();
    let held = vouch_ledger::Ledger::open(&ledger.path(), &Default::default())
        .expect("open the ledger in-process");
    for args in [
        &["--lock-timeout", "0.3", "status"][..],
        &[
            "--lock-timeout",
            "0.3",
            "log",
            "metric",
            "--run",
            "r1",
            "a=1",
        ],
    ] {
        let start = Instant::now();
        let run = ledger.vouch(args);
        let waited = start.elapsed();
        run.fails(69, "busy");
        assert!(
            run.stderr
                .contains(&format!("process {}", std::process::id())),
            "names the holder: {}",
            run.stderr
        );
        assert!(
            waited >= Duration::from_millis(300),
            "gave up after {waited:?}, before the timeout"
        );
        assert!(
            waited < Duration::from_secs(20),
            "waited {waited:?} for a 0.3 s timeout"
        );
    }
    // The environment variable sets the timeout too.
    let run = ledger
        .command()
        .env("VOUCH_LOCK_TIMEOUT", "0")
        .args(["runs", "list"])
        .output()
        .expect("spawn");
    assert_eq!(
        run.status.code(),
        Some(69),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    drop(held);
    check(
        &ledger,
        &[
            "--lock-timeout",
            "0.3",
            "log",
            "metric",
            "--run",
            "r1",
            "a=1",
        ],
        0,
        "recorded at position 2",
    );
    let s = status(&ledger);
    assert_eq!(
        s["log_position"], 2,
        "the timed-out write wrote nothing: {s}"
    );
}

// ---------------------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------------------

#[test]
fn demo_loan_risk_is_idempotent_and_queryable() {
    let ledger = TestLedger::uninitialised();
    let first = check(&ledger, &["demo", "loan-risk"], 0, "new)");
    assert!(!first.stdout.contains("(0 new)"), "{}", first.stdout);
    check(&ledger, &["demo", "loan-risk"], 0, "(0 new)");
    let s = status(&ledger);
    assert!(
        first.stdout.contains("95 events published"),
        "{}",
        first.stdout
    );
    assert_eq!(s["counts"]["runs"], 5, "{s}");
    // The release part: production reviewed and approved, then A, C, D rejected and B
    // promoted and deployed; the demo is idempotent there too.
    assert_eq!(s["counts"]["decisions"], 6, "{s}");
    let decisions = json(&ledger, &["--json", "decisions"]);
    let outcomes: Vec<(String, String)> = decisions
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["run"].as_str().unwrap().to_owned(),
                d["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("loan-risk-prod", "needs_review"),
        ("loan-risk-prod", "promoted"),
        ("loan-risk-a", "rejected"),
        ("loan-risk-b", "promoted"),
        ("loan-risk-c", "rejected"),
        ("loan-risk-d", "rejected"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, o)| (r.to_string(), o.to_string()))
        .collect();
    assert_eq!(outcomes, expected);
    let registry = json(&ledger, &["--json", "registry"]);
    let production = registry[0]["production"].as_u64().unwrap();
    assert_eq!(decisions[production as usize]["run"], "loan-risk-b");
    assert!(
        first.stdout.contains("latency_p95_ms 410 > 200"),
        "{}",
        first.stdout
    );
    check(&ledger, &["verify"], 0, "");
    let model = ledger.path().join("demo-files/loan-risk-b.model");
    check(&ledger, &["audit", model.to_str().unwrap()], 0, "");
    let bundle = ledger
        .path()
        .join("demo-files/loan-risk-b.audit-bundle.json");
    // A bundle is checked against the auditor's trust, never the keys written inside it.
    let trust = ledger.path().join("trust.json");
    check(
        &ledger,
        &["verify-bundle", bundle.to_str().unwrap()],
        65,
        "needs the auditor's trust",
    );
    check(
        &ledger,
        &[
            "verify-bundle",
            bundle.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ],
        0,
        "bundle verifies",
    );

    let both = ["--where", "auc>0.85", "--where", "latency_p95_ms<=200"];
    let list = json(&ledger, &[&["--json", "runs", "list"][..], &both].concat());
    assert_eq!(run_ids(&list), ["loan-risk-b", "loan-risk-d"]);
    let table = ledger.vouch(&[&["runs", "list"][..], &both].concat());
    let out = table.ok();
    for (run, listed) in [
        ("loan-risk-b", true),
        ("loan-risk-d", true),
        ("loan-risk-c", false),
        ("loan-risk-a", false),
        ("loan-risk-prod", false),
    ] {
        assert_eq!(out.contains(run), listed, "{run}:\n{out}");
    }
    let history = json(
        &ledger,
        &["--json", "runs", "show", "loan-risk-b", "--history", "loss"],
    );
    assert_eq!(history["history"]["points"].as_array().unwrap().len(), 10);
    let before = ledger.dump();
    ledger.vouch(&["rebuild"]).ok();
    assert_eq!(ledger.dump(), before);
}

/// Regression: the demo added its throwaway keys to the trust list of whatever ledger
/// `--ledger` named. It now runs only in a ledger it created, and changes nothing in any
/// other; in its own it runs again and again.
#[test]
fn demo_runs_only_in_a_ledger_it_created() {
    let real = TestLedger::new();
    let key = real.tmp.path().join("ops.key");
    let generated = check(
        &real,
        &["keys", "generate", "--out", key.to_str().unwrap()],
        0,
        "ed25519:",
    );
    let public = generated
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("ed25519:"))
        .expect("a public key")
        .to_owned();
    check(&real, &["keys", "trust", &public, "--name", "ops"], 0, "");
    let trust = real.path().join("trust.json");
    let trusted = std::fs::read(&trust).expect("trust.json");
    for demo in ["loan-risk", "fraud"] {
        let run = check(&real, &["demo", demo], 64, "the demo did not create");
        assert!(
            run.stderr.contains("nothing was changed") && run.stderr.contains("--ledger"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        std::fs::read(&trust).expect("trust.json"),
        trusted,
        "the trust list is unchanged"
    );
    assert!(!real.path().join("demo-files").exists());
    let s = status(&real);
    assert_eq!(s["log_position"], 0, "{s}");
    assert_eq!(s["counts"]["runs"], 0, "{s}");

    // A bare `vouch init`, never trusted anything: refused too, no trust list appears.
    let bare = TestLedger::new();
    check(&bare, &["demo", "fraud"], 64, "the demo did not create");
    assert!(!bare.path().join("trust.json").exists());
    assert_eq!(status(&bare)["log_position"], 0);

    // In a new directory the demo makes its ledger, and runs there again (either demo).
    let own = TestLedger::uninitialised();
    check(&own, &["demo", "fraud"], 0, "");
    let after_first = status(&own)["log_position"].clone();
    check(&own, &["demo", "fraud"], 0, "");
    assert_eq!(
        status(&own)["log_position"],
        after_first,
        "the second run writes nothing"
    );
    check(&own, &["demo", "loan-risk"], 0, "95 events published");
}

// ---------------------------------------------------------------------------------------
// More edges
// ---------------------------------------------------------------------------------------

/// A `params_logged` event for run `r1` whose JSON is exactly `len` bytes.
fn event_of_size(id: &str, len: usize) -> String {
    let head = format!(
        r#"{{"id":"{id}","kind":"params_logged","schema":1,"time":"2026-11-28T04:20:51Z","producer":"e2e","run":"r1","data":{{"params":{{"#
    );
    let tail = "}}}";
    let mut body = String::new();
    for i in 0.. {
        let remaining = len - head.len() - tail.len() - body.len();
        // `,"p00000":"…"`: 11 bytes around the value, and a comma after the first entry.
        let overhead = 11 + usize::from(i > 0);
        let value = if remaining <= overhead + 4096 {
            remaining - overhead
        } else {
            4000
        };
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#""p{i:05}":"{}""#, "v".repeat(value)));
        if value != 4000 || remaining == overhead + 4000 {
            break;
        }
    }
    let event = format!("{head}{body}{tail}");
    assert_eq!(event.len(), len);
    event
}

#[test]
fn ingest_line_size_limit_is_exact() {
    const LIMIT: usize = 1 << 20;
    let ledger = ledger_with_run();
    let mut text = String::new();
    text.push_str(&event_of_size("at-limit", LIMIT)); // line 1: stored
    text.push('\n');
    text.push_str(&event_of_size("one-over", LIMIT + 1)); // line 2: refused
    text.push('\n');
    text.push_str(&event_of_size("far-over", LIMIT + 50_000)); // line 3: refused
    text.push('\n');
    text.push_str(&event_line(
        "small",
        "params_logged",
        "r1",
        r#"{"params":{"small":"yes"}}"#,
    )); // line 4
    text.push('\n');
    text.push_str(&event_of_size("at-limit-crlf", LIMIT)); // line 5: stored, CRLF not counted
    text.push_str("\r\n");
    text.push_str(&event_of_size("over-at-eof", LIMIT + 1)); // line 6: refused, no newline
    let path = ledger.file("sizes.jsonl", text.as_bytes());

    let run = ledger.vouch(&["--json", "ingest", path.to_str().unwrap()]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    let summary = first_json(&run);
    let numbers: Vec<u64> = summary["bad_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["line"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 3, 6], "{summary}");
    assert_eq!(
        (summary["lines"].as_u64(), summary["appended"].as_u64()),
        (Some(6), Some(3)),
        "{summary}"
    );
    for b in summary["bad_lines"].as_array().unwrap() {
        assert!(b["error"].as_str().unwrap().contains("1048576-byte"), "{b}");
    }
    assert_eq!(
        status(&ledger)["log_position"],
        4,
        "run_started and the three stored lines"
    );
    assert_eq!(show(&ledger, "r1")["params"]["small"]["value"], "yes");
}

/// Events that `vouch ingest` accepts (under the 1 MiB limit) must be applied to the
/// views, not stored and then quarantined as undecodable.
#[test]
fn large_valid_events_are_applied_not_quarantined() {
    let ledger = ledger_with_run();
    // 40,000 metrics: about 520 KB of JSON, half the limit.
    let metrics: Vec<String> = (0..40_000).map(|i| format!(r#""m{i:05}":0.5"#)).collect();
    let many = event_line(
        "many-metrics",
        "metrics_logged",
        "r1",
        &format!(r#"{{"metrics":{{{}}}}}"#, metrics.join(",")),
    );
    assert!(many.len() < (1 << 20) / 2 + 10_000, "{}", many.len());
    // A params event of exactly 1 MiB of JSON.
    let at_limit = event_of_size("at-limit", 1 << 20);
    let path = ledger.file("large.jsonl", format!("{many}\n{at_limit}\n").as_bytes());
    let run = ledger.vouch(&["--json", "ingest", path.to_str().unwrap()]);
    let summary = run.json();
    assert_eq!(
        (summary["appended"].as_u64(), summary["bad"].as_u64()),
        (Some(2), Some(0)),
        "{summary}"
    );
    let s = status(&ledger);
    let quarantine = json(&ledger, &["--json", "quarantine"]);
    assert_eq!(
        s["counts"]["quarantined"],
        0,
        "accepted events were quarantined by the projector: {}",
        serde_json::to_string(&quarantine).unwrap()
    );
    let doc = show(&ledger, "r1");
    assert_eq!(doc["metrics"].as_array().map(Vec::len), Some(40_000));
    assert_eq!(doc["params"].as_object().map(|p| p.len() > 200), Some(true));
}

#[test]
fn quarantine_lists_what_the_projector_refused() {
    let ledger = TestLedger::new();
    let lines = [
        event_line("q-start", "run_started", "q1", r#"{"experiment":"first"}"#),
        event_line(
            "q-start-again",
            "run_started",
            "q1",
            r#"{"experiment":"second"}"#,
        ),
        event_line("q-end", "run_finished", "q1", r#"{"status":"ok"}"#),
        event_line(
            "q-end-again",
            "run_finished",
            "q1",
            r#"{"status":"failed"}"#,
        ),
    ];
    ledger
        .vouch_with_input(&["ingest"], lines.join("\n").as_bytes())
        .ok();
    let entries = json(&ledger, &["--json", "quarantine"]);
    let entries = entries.as_array().expect("array");
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        (
            entries[0]["position"].as_u64(),
            entries[0]["event_id"].as_str()
        ),
        (Some(2), Some("q-start-again"))
    );
    assert!(
        entries[0]["reason"]
            .as_str()
            .unwrap()
            .contains("already started"),
        "{}",
        entries[0]
    );
    assert_eq!(
        (
            entries[1]["position"].as_u64(),
            entries[1]["event_id"].as_str()
        ),
        (Some(4), Some("q-end-again"))
    );
    assert!(
        entries[1]["reason"]
            .as_str()
            .unwrap()
            .contains("already finished"),
        "{}",
        entries[1]
    );
    assert_eq!(
        json(&ledger, &["--json", "quarantine", "--limit", "1"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    check(&ledger, &["quarantine"], 0, "q-start-again");
    check(&ledger, &["status"], 0, "2 records are in quarantine");
    let doc = show(&ledger, "q1");
    assert_eq!(
        (
            doc["status"].as_str(),
            doc["started"]["experiment"].as_str()
        ),
        (Some("ok"), Some("first")),
        "the first facts stand"
    );
    let s = status(&ledger);
    assert_eq!(
        (
            s["counts"]["applied"].as_u64(),
            s["counts"]["quarantined"].as_u64()
        ),
        (Some(2), Some(2)),
        "{s}"
    );
    let before = ledger.dump();
    let report = json(&ledger, &["--json", "rebuild"]);
    assert_eq!(
        (report["applied"].as_u64(), report["quarantined"].as_u64()),
        (Some(2), Some(2)),
        "{report}"
    );
    assert_eq!(ledger.dump(), before);
}

#[test]
fn views_are_rebuilt_when_missing() {
    let ledger = three_runs();
    let before = ledger.dump();
    std::fs::remove_dir_all(ledger.path().join("views")).unwrap();
    let s = status(&ledger);
    assert_eq!(
        (s["log_position"].as_u64(), s["view_position"].as_u64()),
        (Some(14), Some(14)),
        "{s}"
    );
    assert_eq!(ledger.dump(), before);
    assert_eq!(
        run_ids(&json(
            &ledger,
            &["--json", "runs", "list", "--where", "auc>0.85"]
        )),
        ["run-b", "run-c"]
    );
}

#[test]
fn where_compares_the_latest_value() {
    let ledger = three_runs();
    // run-c drops below the threshold, run-a rises above it.
    ledger
        .vouch(&["log", "metric", "--run", "run-c", "auc=0.5"])
        .ok();
    ledger
        .vouch(&["log", "metric", "--run", "run-a", "auc=0.95"])
        .ok();
    assert_eq!(
        run_ids(&json(
            &ledger,
            &["--json", "runs", "list", "--where", "auc>0.85"]
        )),
        ["run-a", "run-b"]
    );
    assert_eq!(
        run_ids(&json(
            &ledger,
            &[
                "--json",
                "runs",
                "list",
                "--where",
                "latency<=100",
                "--where",
                "auc>0.85"
            ]
        )),
        ["run-a", "run-b"]
    );
}

#[test]
fn a_retried_log_with_the_same_event_id_is_a_no_op() {
    let ledger = ledger_with_run();
    let args = [
        "log",
        "metric",
        "--run",
        "r1",
        "--event-id",
        "train.py:step-1",
        "--step",
        "1",
        "loss=0.4",
    ];
    check(&ledger, &args, 0, "recorded at position 2");
    check(&ledger, &args, 0, "already recorded at position 2");
    let retry = json(&ledger, &[&["--json"][..], &args].concat());
    assert_eq!(
        (retry["duplicate"].as_bool(), retry["position"].as_u64()),
        (Some(true), Some(2)),
        "{retry}"
    );
    assert_eq!(metric(&show(&ledger, "r1"), "loss", None)["count"], 1);
    assert_eq!(status(&ledger)["log_position"], 2);
}

#[test]
fn concurrent_starts_of_one_run_id_write_one_event() {
    let ledger = TestLedger::new();
    let barrier = std::sync::Barrier::new(8);
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (ledger, barrier) = (&ledger, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    ledger.vouch(&[
                        "run",
                        "start",
                        "--experiment",
                        "e2e",
                        "--run-id",
                        "shared",
                        "--git",
                        "none",
                    ])
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    for run in &runs {
        assert_eq!(run.ok(), "shared\n");
    }
    let s = status(&ledger);
    assert_eq!(
        (
            s["log_position"].as_u64(),
            s["counts"]["quarantined"].as_u64()
        ),
        (Some(1), Some(0)),
        "{s}"
    );
}

/// `init` is idempotent, so pipelines on one machine may all run it first; racing inits
/// of one new directory must all succeed (the ledger lock exists so processes queue).
#[test]
fn concurrent_inits_of_one_directory_all_succeed() {
    for _attempt in 0..3 {
        let ledger = TestLedger::uninitialised();
        let barrier = std::sync::Barrier::new(8);
        let runs: Vec<Run> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (ledger, barrier) = (&ledger, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        ledger.vouch(&["init"])
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let failed: Vec<String> = runs
            .iter()
            .filter(|r| r.code != 0)
            .map(|r| format!("exit {}: {}", r.code, r.stderr.trim()))
            .collect();
        assert!(
            failed.is_empty(),
            "{} of 8 concurrent `vouch init` failed:\n{}",
            failed.len(),
            failed.join("\n")
        );
        assert_eq!(
            runs.iter()
                .filter(|r| r.stdout.contains("initialised"))
                .count(),
            1,
            "exactly one creates it"
        );
        assert_eq!(status(&ledger)["log_position"], 0);
    }
}

/// A process that gets the ledger lock must be able to open the stores: the previous
/// holder must have closed them (sled 0.34 may release its own file lock on a background
/// thread after the handle is dropped). Open the ledger in-process, drop it, and run the
/// CLI at once, many times.
#[test]
fn the_next_holder_can_open_the_stores_right_after_a_drop() {
    let ledger = ledger_with_run();
    let mut failures = Vec::new();
    for i in 0..40 {
        {
            let mut held = vouch_ledger::Ledger::open(&ledger.path(), &Default::default())
                .expect("open in-process");
            held.catch_up(&mut |_, _| {}).expect("catch up");
        }
        let run = ledger.vouch(&[
            "log",
            "metric",
            "--run",
            "r1",
            "--step",
            &i.to_string(),
            "loss=0.5",
        ]);
        if run.code != 0 {
            failures.push(format!(
                "attempt {i}: exit {}: {}",
                run.code,
                run.stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 40 commands failed right after the ledger was released:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
