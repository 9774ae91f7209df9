//! Release commands end to end: `keys`, `policy check`, `gate`, `promote`, `review`,
//! `deploy`, `audit [--bundle]`, `verify`, `verify-bundle`, `registry` and `decisions`, run
//! as the real binary against real ledgers in temp directories.
//!
//! Every test goes through [`Env`], which keeps a transcript of everything every command
//! printed and, when the test ends, asserts that no private key generated in it ever
//! appeared there.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use vouch_event::{
    Body, DecisionOutcome, DecisionRecorded, Digest, Event, EventId, ModelName, Producer,
    ReviewLink, Subject, Timestamp,
};
use vouch_log::{LogKey, NewRecord, Position};
use vouch_test_nats::NatsServer;

use crate::support::{Run, TestLedger};

// ---------------------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------------------

/// What a training run reports: the overall metrics the example policies read, and AUC
/// per region.
#[derive(Debug, Clone, Copy)]
struct Metrics {
    auc: f64,
    latency_p95_ms: f64,
    ece: f64,
    parity_gap: f64,
    cost_per_1k: f64,
    eu: f64,
    us: f64,
    apac: f64,
}

/// A candidate that passes every gate of `CREDIT_POLICY` and of `loan-risk.toml`.
const GOOD: Metrics = Metrics {
    auc: 0.862,
    latency_p95_ms: 142.0,
    ece: 0.021,
    parity_gap: 0.041,
    cost_per_1k: 0.82,
    eu: 0.851,
    us: 0.871,
    apac: 0.858,
};

/// Fails `auc-floor` (and any comparison with a better production model).
const WEAK: Metrics = Metrics {
    auc: 0.71,
    eu: 0.70,
    us: 0.72,
    apac: 0.71,
    ..GOOD
};

/// Passes every gate but trips the `fairness-watch` review rule (parity gap above 0.08).
const BORDERLINE: Metrics = Metrics {
    parity_gap: 0.091,
    ..GOOD
};

impl Metrics {
    fn segments(&self) -> [(&'static str, f64); 3] {
        [("EU", self.eu), ("US", self.us), ("APAC", self.apac)]
    }
}

/// A run's published `model.bin` artifact: the file and its digest.
#[derive(Debug, Clone)]
struct Published {
    artifact: PathBuf,
    digest: String,
}

/// `blake3:<hex>` of `bytes`, as Vouch writes digests.
fn digest_of(bytes: &[u8]) -> String {
    format!("blake3:{}", blake3::hash(bytes).to_hex())
}

/// The RFC 3339 UTC time `days` days before now.
fn days_ago(days: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let t = now - days * 86_400;
    let (day, secs) = ((t / 86_400) as i64, t % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn days_ago_formats_rfc3339() {
    let t = days_ago(0);
    assert_eq!(t.len(), 20, "{t}");
    assert!(
        t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T",
        "{t}"
    );
    assert!(days_ago(3) < t && days_ago(400) < days_ago(3));
}

// ---------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------

/// A release policy for model `credit`: absolute, baseline, segment, artifact and dataset
/// gates, one review rule, and a first release that needs no review.
const CREDIT_POLICY: &str = r#"# e2e: the credit model's release policy
model = "credit"
version = "e2e-1"
description = "AUC, latency, no regression, EU floor, model file, fresh validation data."

[baseline]
missing = "pass"

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
name = "auc-vs-production"
metric = "auc"
compare = "baseline"
max_drop = 0.01
reason = "no measurable regression against production"

[[gate]]
name = "eu-floor"
metric = "auc"
segment = "region=EU"
min = 0.78
reason = "the EU book must stay profitable on its own"

[[gate]]
name = "model-file"
require_artifacts = ["model.bin"]
reason = "the audited artifact is the one that gets deployed"

[[gate]]
name = "fresh-validation"
dataset = "validation"
max_snapshot_age_days = 30
max_label_lag_days = 14
reason = "stale validation data does not predict live behaviour"

[[review]]
name = "fairness-watch"
when = "metric"
metric = "demographic_parity_gap"
max = 0.08
reason = "a parity gap above 0.08 needs the fairness board"
"#;

/// The same model, but every release needs a human sign-off.
const CREDIT_SIGN_OFF: &str = r#"model = "credit"
version = "e2e-sign-off"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "AUC below 0.80 loses money"

[[review]]
name = "risk-sign-off"
when = "always"
reason = "the risk team signs off every credit release"
"#;

fn example_policy(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vouch-policy/policies")
        .join(name)
}

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A generated signing key.
#[derive(Debug, Clone)]
struct Key {
    path: PathBuf,
    /// `ed25519:<64 hex>`.
    public: String,
    /// 16 hex characters.
    id: String,
}

impl Key {
    fn arg(&self) -> &str {
        s(&self.path)
    }
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A ledger plus a transcript of every command's output, checked for private keys.
struct Env {
    ledger: TestLedger,
    transcript: RefCell<String>,
    secrets: RefCell<Vec<String>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let transcript = self.transcript.borrow();
        for secret in self.secrets.borrow().iter() {
            assert!(
                !transcript.contains(secret.as_str())
                    && !transcript.contains(&secret.to_ascii_uppercase()),
                "a private key's hex was printed by some command of this test"
            );
        }
    }
}

impl Env {
    fn new() -> Env {
        Env::with(TestLedger::new())
    }

    /// An environment around `ledger` (a NATS one, say).
    fn with(ledger: TestLedger) -> Env {
        Env {
            ledger,
            transcript: RefCell::new(String::new()),
            secrets: RefCell::new(Vec::new()),
        }
    }

    /// A copy of this (embedded) ledger as it stands, in a directory of its own: someone
    /// else's ledger with the same log, whose trust list they choose. Records appended
    /// there have the positions they would have here.
    fn fork(&self) -> Env {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("create dir");
            for entry in std::fs::read_dir(from).expect("read dir") {
                let entry = entry.expect("dir entry");
                let target = to.join(entry.file_name());
                if entry.file_type().expect("file type").is_dir() {
                    copy(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), &target).expect("copy file");
                }
            }
        }
        let fork = Env::with(TestLedger::uninitialised());
        copy(&self.ledger.path(), &fork.ledger.path());
        fork
    }

    /// The (embedded) ledger opened in this process, while no `vouch` process runs: what
    /// someone with write access to the log does, none of the CLI's checks in the way.
    fn open(&self) -> vouch_ledger::Ledger {
        vouch_ledger::Ledger::open(&self.ledger.path(), &Default::default()).expect("open ledger")
    }

    /// The log's records after position `after`, byte for byte.
    fn raw_records(&self, after: u64) -> Vec<NewRecord> {
        let ledger = self.open();
        let records = ledger
            .log()
            .read(Position::new(after + 1), 100_000)
            .expect("read the log");
        records
            .into_iter()
            .map(|r| NewRecord {
                event_id: r.event_id,
                key: r.key,
                bytes: r.bytes,
            })
            .collect()
    }

    /// The event at log position `position`.
    fn event_at(&self, position: u64) -> Event {
        let ledger = self.open();
        let record = ledger
            .log()
            .read(Position::new(position), 1)
            .expect("read the log")
            .into_iter()
            .next()
            .expect("a record there");
        vouch_event::decode(&record.bytes).expect("decodes")
    }

    /// Appends records straight to the log; returns the last position.
    fn append_raw(&self, records: Vec<NewRecord>) -> u64 {
        let ledger = self.open();
        let appended = ledger.log().append_batch(records).expect("append");
        ledger.flush().expect("flush");
        appended.last().expect("appended").position().get()
    }

    /// Appends a release event under log key `key` straight to the log.
    fn append_event(&self, key: &str, event: &Event) -> u64 {
        self.append_raw(vec![NewRecord {
            event_id: event.id.to_string(),
            key: LogKey::new(key).expect("log key"),
            bytes: vouch_event::encode(event),
        }])
    }

    fn record(&self, args: &[&str], run: &Run) {
        let mut t = self.transcript.borrow_mut();
        t.push_str(&format!("$ vouch {}\n", args.join(" ")));
        t.push_str(&run.stdout);
        t.push_str(&run.stderr);
    }

    /// Runs `vouch --ledger <ledger> ARGS…`, keeping its output in the transcript.
    fn vouch(&self, args: &[&str]) -> Run {
        let run = self.ledger.vouch(args);
        self.record(args, &run);
        run
    }

    /// Runs `vouch ARGS…` and asserts the exit code and that the output mentions `needle`
    /// (standard output on success, standard error otherwise).
    #[track_caller]
    fn check(&self, args: &[&str], code: i32, needle: &str) -> Run {
        let run = self.vouch(args);
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

    /// Runs `vouch --json ARGS…`, asserts the exit code, and returns the one JSON document
    /// standard output must hold.
    #[track_caller]
    fn json(&self, args: &[&str], code: i32) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let run = self.vouch(&full);
        assert_eq!(
            run.code, code,
            "vouch {full:?}: wrong exit code\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        );
        one_json(&run)
    }

    /// Writes a file in the temp directory.
    fn file(&self, name: &str, content: &str) -> PathBuf {
        self.ledger.file(name, content.as_bytes())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.ledger.tmp.path().join(name)
    }

    /// `keys generate`, checking what it prints; the private key joins the secrets.
    #[track_caller]
    fn key(&self, name: &str) -> Key {
        let path = self.path(&format!("{name}.key"));
        let out = self.check(&["keys", "generate", "--out", s(&path)], 0, "public key");
        let field = |label: &str| -> String {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(label))
                .unwrap_or_else(|| panic!("no `{label}` line in {}", out.stdout))
                .trim()
                .to_owned()
        };
        let public = field("public key");
        let id = field("key id");
        assert!(
            public
                .strip_prefix("ed25519:")
                .is_some_and(|h| is_hex(h, 64)),
            "public key {public:?}"
        );
        assert!(is_hex(&id, 16), "key id {id:?}");
        let text = std::fs::read_to_string(&path).expect("read key file");
        let secret = text.lines().nth(1).expect("second line").trim().to_owned();
        assert!(is_hex(&secret, 64), "the key file's second line is 64 hex");
        assert_ne!(secret, public["ed25519:".len()..]);
        self.secrets.borrow_mut().push(secret);
        Key { path, public, id }
    }

    /// `keys trust PUBLIC --name NAME --role ROLE`.
    #[track_caller]
    fn trust(&self, key: &Key, name: &str, role: &str) {
        self.check(
            &["keys", "trust", &key.public, "--name", name, "--role", role],
            0,
            &key.id,
        );
    }

    /// A key trusted to sign decisions.
    #[track_caller]
    fn signer(&self) -> Key {
        let key = self.key("release-bot");
        self.trust(&key, "release-bot", "signer");
        key
    }

    /// A key trusted to review (and nothing else: a reviewer key holds no other role),
    /// written to `<file>.key`.
    #[track_caller]
    fn reviewer(&self, file: &str, name: &str) -> Key {
        let key = self.key(file);
        self.trust(&key, name, "reviewer");
        key
    }

    /// The ledger's trust list: what an auditor who trusts this ledger's keys gives
    /// `verify-bundle --trust`.
    fn trust_file(&self) -> PathBuf {
        self.ledger.path().join("trust.json")
    }

    /// `review VERB --decision ID --key KEY --reason WHY [--release-key RELEASE]`.
    fn review(
        &self,
        verb: &str,
        decision: &str,
        key: &Key,
        reason: &str,
        release: Option<&Key>,
    ) -> Run {
        let mut args = vec![
            "review",
            verb,
            "--decision",
            decision,
            "--key",
            key.arg(),
            "--reason",
            reason,
        ];
        if let Some(release) = release {
            args.extend(["--release-key", release.arg()]);
        }
        self.vouch(&args)
    }

    /// `deploy --model MODEL --env ENV --artifact FILE --key KEY EXTRA…`.
    fn deploy(&self, model: &str, env: &str, artifact: &Path, key: &Key, extra: &[&str]) -> Run {
        let mut args = vec![
            "deploy",
            "--model",
            model,
            "--env",
            env,
            "--artifact",
            s(artifact),
            "--key",
            key.arg(),
        ];
        args.extend_from_slice(extra);
        self.vouch(&args)
    }

    /// Writes a policy file.
    fn policy(&self, name: &str, text: &str) -> PathBuf {
        self.file(name, text)
    }

    /// Publishes runs' evidence with one `vouch ingest` of JSON lines: start, params, overall
    /// metrics, AUC per region, the `model.bin` artifact, a validation dataset whose
    /// snapshot is 3 days and labels 5 days old, and finish.
    #[track_caller]
    fn publish(&self, runs: &[(&str, Metrics)]) -> Vec<Published> {
        self.publish_aged(runs, 3, 5)
    }

    /// `publish`, with the validation snapshot and labels this many days old.
    #[track_caller]
    fn publish_aged(
        &self,
        runs: &[(&str, Metrics)],
        snapshot_days: u64,
        label_days: u64,
    ) -> Vec<Published> {
        let now = days_ago(0);
        let snapshot = days_ago(snapshot_days);
        let labels = days_ago(label_days);
        let mut lines = Vec::new();
        let mut published = Vec::new();
        for &(run, m) in runs {
            let event = |suffix: &str, kind: &str, data: Value| {
                json!({
                    "id": format!("{run}:{suffix}"),
                    "kind": kind,
                    "schema": 1,
                    "time": now,
                    "producer": "ci/credit#e2e",
                    "run": run,
                    "data": data,
                })
                .to_string()
            };
            let weights = format!("gradient-boosted trees of {run}\n");
            let artifact = self.file(&format!("{run}-model.bin"), &weights);
            let digest = digest_of(weights.as_bytes());
            lines.push(event(
                "start",
                "run_started",
                json!({ "experiment": "credit-xgb", "git": { "commit": "3f2a9c1d", "dirty": false } }),
            ));
            lines.push(event(
                "params",
                "params_logged",
                json!({ "params": { "max_depth": "6", "eta": "0.05" } }),
            ));
            lines.push(event(
                "m-overall",
                "metrics_logged",
                json!({ "metrics": {
                    "auc": m.auc,
                    "latency_p95_ms": m.latency_p95_ms,
                    "ece": m.ece,
                    "demographic_parity_gap": m.parity_gap,
                    "cost_per_1k": m.cost_per_1k,
                    "recall_at_1pct_fpr": 0.83,
                    "equal_opportunity_gap": 0.03,
                    "latency_p99_ms": 38,
                } }),
            ));
            for (region, auc) in m.segments() {
                lines.push(event(
                    &format!("m-{region}"),
                    "metrics_logged",
                    json!({ "metrics": { "auc": auc }, "segment": format!("region={region}") }),
                ));
            }
            lines.push(event(
                "model",
                "artifact_logged",
                json!({
                    "name": "model.bin",
                    "digest": digest,
                    "size": weights.len(),
                    "uri": format!("s3://credit-models/{run}/model.bin"),
                }),
            ));
            lines.push(event(
                "validation",
                "dataset_bound",
                json!({
                    "role": "validation",
                    "name": "applications-holdout",
                    "digest": digest_of(format!("holdout rows for {run}").as_bytes()),
                    "rows": 48_210,
                    "snapshot_at": snapshot,
                    "labels_through": labels,
                }),
            ));
            lines.push(event("end", "run_finished", json!({ "status": "ok" })));
            published.push(Published { artifact, digest });
        }
        let file = self.file(
            &format!("evidence-{}.jsonl", runs[0].0),
            &(lines.join("\n") + "\n"),
        );
        self.check(&["ingest", s(&file)], 0, "");
        published
    }

    /// Publishes one run's evidence with `vouch run start` / `log …` / `run finish`.
    #[track_caller]
    fn publish_with_cli(&self, run: &str, m: Metrics) -> Published {
        self.check(
            &[
                "run",
                "start",
                "--experiment",
                "credit-xgb",
                "--run-id",
                run,
                "--git",
                "9c1d3f2a",
                "--env",
                "none",
            ],
            0,
            run,
        );
        let overall = [
            format!("auc={}", m.auc),
            format!("latency_p95_ms={}", m.latency_p95_ms),
            format!("ece={}", m.ece),
            format!("demographic_parity_gap={}", m.parity_gap),
            format!("cost_per_1k={}", m.cost_per_1k),
        ];
        let mut args = vec!["log", "metric", "--run", run];
        args.extend(overall.iter().map(String::as_str));
        self.check(&args, 0, "");
        for (region, auc) in m.segments() {
            let segment = format!("region={region}");
            let pair = format!("auc={auc}");
            self.check(
                &["log", "metric", "--run", run, "--segment", &segment, &pair],
                0,
                "",
            );
        }
        let weights = format!("neural net of {run}\n");
        let artifact = self.file(&format!("{run}-model.bin"), &weights);
        let digest = digest_of(weights.as_bytes());
        self.check(
            &[
                "log",
                "artifact",
                "--run",
                run,
                "--name",
                "model.bin",
                s(&artifact),
            ],
            0,
            &digest,
        );
        let dataset = self.file(
            &format!("{run}-validation.csv"),
            "id,label\n1,0\n2,1\n3,0\n",
        );
        let (snapshot, labels) = (days_ago(2), days_ago(4));
        self.check(
            &[
                "log",
                "dataset",
                "--run",
                run,
                "--role",
                "validation",
                "--snapshot-at",
                &snapshot,
                "--labels-through",
                &labels,
                s(&dataset),
            ],
            0,
            "",
        );
        self.check(&["run", "finish", "--run", run], 0, "");
        Published { artifact, digest }
    }

    /// `promote` with `policy`; asserts the exit code and returns the decision id (64 hex)
    /// printed on standard output.
    #[track_caller]
    fn promote(&self, run: &str, model: &str, policy: &Path, key: &Key, code: i32) -> String {
        let out = self.vouch(&[
            "promote",
            "--run",
            run,
            "--model",
            model,
            "--policy",
            s(policy),
            "--key",
            key.arg(),
        ]);
        assert_eq!(
            out.code, code,
            "promote {run}: wrong exit code\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        decision_id(&out.stdout)
    }

    /// `decisions --json`.
    #[track_caller]
    fn decisions(&self) -> Vec<Value> {
        self.json(&["decisions", "--limit", "1000"], 0)
            .as_array()
            .expect("decisions --json is a list")
            .clone()
    }

    /// The registry entry of `model` (`registry --json`).
    #[track_caller]
    fn registry(&self, model: &str) -> Value {
        let all = self.json(&["registry"], 0);
        all.as_array()
            .expect("registry --json is a list")
            .iter()
            .find(|m| m["model"] == model)
            .unwrap_or_else(|| panic!("no model {model} in {all:#}"))
            .clone()
    }

    /// `status --json`'s log position.
    #[track_caller]
    fn log_position(&self) -> u64 {
        self.json(&["status"], 0)["log_position"]
            .as_u64()
            .expect("log_position")
    }

    /// The decision with id `hash` (64 hex) in `decisions --json`.
    #[track_caller]
    fn decision(&self, hash: &str) -> Value {
        let want = format!("blake3:{hash}");
        self.decisions()
            .into_iter()
            .find(|d| d["hash"] == want.as_str())
            .unwrap_or_else(|| panic!("no decision {hash}"))
    }
}

/// Asserts standard output holds exactly one JSON document and returns it.
#[track_caller]
fn one_json(run: &Run) -> Value {
    let docs: Result<Vec<Value>, _> = serde_json::Deserializer::from_str(&run.stdout)
        .into_iter::<Value>()
        .collect();
    let docs = docs.unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e})\nstdout: {}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    assert_eq!(
        docs.len(),
        1,
        "expected exactly one JSON document on stdout\nstdout: {}",
        run.stdout
    );
    docs.into_iter().next().expect("one document")
}

/// The decision id from `promote`'s `decision <64 hex> (chain index N): outcome` line.
#[track_caller]
fn decision_id(stdout: &str) -> String {
    let id = stdout
        .lines()
        .find_map(|l| l.strip_prefix("decision "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no decision line in\n{stdout}"));
    assert!(is_hex(id, 64), "decision id {id:?} is not 64 hex");
    id.to_owned()
}

/// The 1-based line and column of the first occurrence of `needle` in `text`.
fn line_column(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in policy"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// The gate result named `gate` in a `gate --json` / `promote --json` document.
#[track_caller]
fn gate_result<'a>(doc: &'a Value, gate: &str) -> &'a Value {
    doc["gates"]
        .as_array()
        .expect("gates is a list")
        .iter()
        .find(|g| g["gate"] == gate)
        .unwrap_or_else(|| panic!("no gate {gate} in {doc:#}"))
}

fn gate_args<'a>(run: &'a str, model: &'a str, policy: &'a Path) -> Vec<&'a str> {
    vec![
        "gate",
        "--run",
        run,
        "--model",
        model,
        "--policy",
        s(policy),
    ]
}

/// The `what` of every failed check in a `verify-bundle --json` or `audit --json`
/// document's check list.
fn failed_checks(checks: &Value) -> Vec<String> {
    checks
        .as_array()
        .expect("checks is a list")
        .iter()
        .filter(|c| c["ok"] != true)
        .map(|c| c["what"].as_str().expect("what").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. Keys
// ---------------------------------------------------------------------------------------

#[test]
fn keys_generate_trust_list_and_refuse_unsafe_key_files() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let alice = env.key("alice");
    let mode = std::fs::metadata(&alice.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "key file mode {:o}", mode & 0o777);
    let text = std::fs::read_to_string(&alice.path).unwrap();
    assert_eq!(
        text.lines().count(),
        2,
        "header and hex: {}",
        text.lines().count()
    );

    // Never overwrites: same exit code, the file unchanged.
    env.check(
        &["keys", "generate", "--out", alice.arg()],
        65,
        "never overwritten",
    );
    assert_eq!(std::fs::read_to_string(&alice.path).unwrap(), text);

    // --json: the public parts only.
    let bob_path = env.path("bob.key");
    let bob = env.json(&["keys", "generate", "--out", s(&bob_path)], 0);
    let bob_public = bob["public_key"].as_str().expect("public_key").to_owned();
    assert!(bob_public.starts_with("ed25519:"), "{bob}");
    assert!(is_hex(bob["key_id"].as_str().expect("key_id"), 16), "{bob}");
    let bob_text = std::fs::read_to_string(&bob_path).unwrap();
    env.secrets
        .borrow_mut()
        .push(bob_text.lines().nth(1).unwrap().to_owned());

    // Trust: by public key, or taken from a private key file.
    env.trust(&alice, "Alice Martin", "reviewer");
    env.check(
        &[
            "keys",
            "trust",
            &alice.public,
            "--name",
            "Alice Martin",
            "--role",
            "reviewer",
        ],
        0,
        "already trusted",
    );
    env.check(
        &["keys", "trust", s(&bob_path), "--name", "release-bot"],
        0,
        "as signer",
    );
    let list = env.json(&["keys", "list"], 0);
    let list = list.as_array().expect("keys list --json is a list");
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["name"], "Alice Martin");
    assert_eq!(list[0]["role"], "reviewer");
    assert_eq!(list[0]["key"], alice.public.as_str());
    assert_eq!(list[0]["key_id"], alice.id.as_str());
    assert_eq!(list[1]["role"], "signer");
    assert_eq!(list[1]["key"], bob_public.as_str());
    env.check(&["keys", "list"], 0, &alice.id);

    // Never into a directory that does not exist; nothing without a ledger.
    let nowhere = env.path("no-such-dir/k.key");
    env.check(
        &["keys", "generate", "--out", s(&nowhere)],
        74,
        "no-such-dir",
    );
    let elsewhere = TestLedger::uninitialised();
    let run = elsewhere.vouch(&["keys", "trust", &alice.public, "--name", "x"]);
    env.record(&["keys", "trust"], &run);
    run.fails(66, "no ledger");
    let fresh = Env::new();
    assert_eq!(fresh.json(&["keys", "list"], 0), json!([]));

    // Garbage is not a key.
    let truncated = format!("{}zz", &alice.public[..70]);
    for garbage in ["garbage", "ed25519:1234", "ed25519:", truncated.as_str()] {
        env.check(
            &["keys", "trust", garbage, "--name", "mallory"],
            65,
            "invalid public key",
        );
    }
    env.check(
        &[
            "keys",
            "trust",
            &alice.public,
            "--name",
            "x",
            "--role",
            "owner",
        ],
        64,
        "owner",
    );

    // A key file others can read is refused, as ssh does.
    env.publish(&[("r1", GOOD)]);
    let policy = env.policy("credit.toml", CREDIT_POLICY);
    let open = env.path("open.key");
    std::fs::copy(&bob_path, &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = env.log_position();
    let promote = |key: &Path| {
        env.vouch(&[
            "promote",
            "--run",
            "r1",
            "--model",
            "credit",
            "--policy",
            s(&policy),
            "--key",
            s(key),
        ])
    };
    let refused = promote(&open);
    refused.fails(65, "chmod 600");
    // `keys trust` will not read it either.
    env.check(&["keys", "trust", s(&open), "--name", "bob"], 65, "");
    // A malformed key file (mode 0600) is refused too, without echoing its content.
    for (name, content) in [
        ("empty.key", String::new()),
        ("public.key", format!("{}\n", alice.public)),
        (
            "short.key",
            "vouch-ed25519-secret-key-v1\nabcdef\n".to_owned(),
        ),
        (
            "extra.key",
            format!("{bob_text}{}\n", &bob_text.lines().nth(1).unwrap()[..8]),
        ),
    ] {
        let path = env.file(name, &content);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        promote(&path).fails(65, "not a Vouch private key file");
    }
    // Missing key file.
    promote(&env.path("nope.key")).fails(66, "nope.key");
    assert_eq!(
        env.log_position(),
        before,
        "refused promotions record nothing"
    );
    // The readable copy still works once its mode is fixed.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ok = promote(&open);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
}

/// A private key whose 32 secret bytes also happen to be a valid public key encoding
/// (the Ed25519 base point), so a pasted private key is not rejected by chance.
const BASEPOINT_SEED: &str = "5866666666666666666666666666666666666666666666666666666666666666";

#[test]
fn keys_trust_refuses_a_private_key_pasted_as_public() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let path = env.file(
        "pasted.key",
        &format!("vouch-ed25519-secret-key-v1\n{BASEPOINT_SEED}\n"),
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The file itself is a fine way to trust the key: only the public part is stored.
    env.check(
        &["keys", "trust", s(&path), "--name", "ops"],
        0,
        "as signer",
    );
    let list = env.vouch(&["keys", "list"]);
    assert!(!list.stdout.contains(BASEPOINT_SEED));
    // Pasting the private hex instead must not be taken as a public key: the text form of
    // a public key is `ed25519:<hex>`, and storing the secret in trust.json would print
    // it on every `keys list`.
    let pasted = env.vouch(&["keys", "trust", BASEPOINT_SEED, "--name", "ops-pasted"]);
    let list = env.vouch(&["--json", "keys", "list"]);
    assert!(
        pasted.code == 65 && !list.stdout.contains(BASEPOINT_SEED),
        "`vouch keys trust <private key hex>` was accepted (exit {}), and `keys list` now \
         prints the private key:\n{}",
        pasted.code,
        list.stdout
    );
    assert!(!pasted.stdout.contains(BASEPOINT_SEED) && !pasted.stderr.contains(BASEPOINT_SEED));
}

/// `review` refuses a key not trusted as a reviewer; `promote` should likewise refuse a key
/// not trusted to sign decisions, rather than append a link that `verify` rejects forever
/// (the chain is append-only, and `verify` stops at the first failure) and that `deploy`
/// meanwhile accepts as a promotion.
#[test]
fn promote_refuses_a_key_not_trusted_to_sign() {
    let env = Env::new();
    let trusted = env.signer();
    let runs = env.publish(&[("v1", GOOD), ("v2", GOOD)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    env.promote("v1", "credit", &credit, &trusted, 0);
    let stranger = env.key("stranger");
    let before = env.log_position();
    let run = env.vouch(&[
        "promote",
        "--run",
        "v2",
        "--model",
        "credit",
        "--policy",
        s(&credit),
        "--key",
        stranger.arg(),
    ]);
    let after = env.log_position();
    let verify = env.vouch(&["verify"]);
    let deploy = env.deploy("credit", "production", &runs[1].artifact, &trusted, &[]);
    assert!(
        run.code == 65
            && run.stderr.contains("not in the trust list")
            && after == before
            && verify.code == 0
            && deploy.code == 65,
        "promote with key {} (not in trust.json): exit {} (expected 65 naming the untrusted \
         key); log position {before} -> {after}; then `verify` exits {}: {}; and `deploy` of \
         the candidate exits {} (expected 65): {}",
        stranger.id,
        run.code,
        verify.code,
        verify.stderr.trim(),
        deploy.code,
        deploy.stdout.trim(),
    );
}

// ---------------------------------------------------------------------------------------
// 2. Policy check
// ---------------------------------------------------------------------------------------

#[test]
fn policy_check_accepts_examples_and_points_at_errors() {
    let env = Env::new();
    let loan = example_policy("loan-risk.toml");
    let fraud = example_policy("fraud.toml");
    env.check(
        &["policy", "check", s(&loan)],
        0,
        "for model loan-risk: 9 gates, 2 review rules",
    );
    env.check(
        &["policy", "check", s(&fraud)],
        0,
        "for model fraud-detector",
    );
    let doc = env.json(&["policy", "check", s(&loan)], 0);
    assert_eq!(doc["model"], "loan-risk");
    assert_eq!(doc["version"], "2026.11-1");
    assert_eq!(doc["gates"], 9);
    assert_eq!(doc["reviews"], 2);
    let text = std::fs::read(&loan).unwrap();
    assert_eq!(doc["digest"], digest_of(&text).as_str());
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    env.check(
        &["policy", "check", s(&credit)],
        0,
        "policy e2e-1 for model credit: 6 gates, 1 review rules",
    );

    // Each broken policy: the piece of text the error must point at.
    let header = "model = \"credit\"\nversion = \"e2e-2\"\n\n";
    let cases: [(&str, String, &str, &str); 6] = [
        (
            "syntax",
            format!("{header}[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = = 0.8\nreason = \"x\"\n"),
            "= 0.8",
            "",
        ),
        (
            "unknown-key",
            format!("{header}[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nminimum = 0.8\nreason = \"x\"\n"),
            "minimum",
            "unknown field `minimum`",
        ),
        (
            "two-tolerances",
            format!("{header}[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.8\nreason = \"x\"\n\n[[gate]]\nname = \"no-regression\"\nmetric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0.01\nmax_drop_pct = 1.5\nreason = \"y\"\n"),
            "1.5",
            "set only one of",
        ),
        (
            "min-above-max",
            format!("{header}[[gate]]\nname = \"latency\"\nmetric = \"latency_p95_ms\"\nmin = 300\nmax = 200\nreason = \"x\"\n"),
            "200",
            "min 300 is greater than max 200",
        ),
        (
            "duplicate-name",
            format!("{header}[[gate]]\nname = \"auc\"\nmetric = \"auc\"\nmin = 0.8\nreason = \"x\"\n\n[[review]]\nname = \"auc\"\nwhen = \"always\"\nreason = \"y\"\n"),
            "name = \"auc\"\nwhen",
            "duplicate name `auc`",
        ),
        (
            "bad-when",
            format!("{header}[[review]]\nname = \"sign-off\"\nwhen = \"sometimes\"\nreason = \"y\"\n"),
            "\"sometimes\"",
            "when must be",
        ),
    ];
    for (name, text, at, message) in cases {
        let file = env.policy(&format!("{name}.toml"), &text);
        let (line, column) = line_column(&text, at);
        // The duplicate is reported at its value, after `name = `.
        let column = if name == "duplicate-name" {
            column + 7
        } else {
            column
        };
        let run = env.check(&["policy", "check", s(&file)], 65, message);
        let place = format!("line {line}, column {column}");
        assert!(
            run.stderr.contains(&place),
            "{name}: expected {place:?} in {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{name}.toml")),
            "{}",
            run.stderr
        );
        let doc = env.json(&["policy", "check", s(&file)], 65);
        assert_eq!(doc["exit_code"], 65, "{doc}");
        assert!(doc["error"].as_str().unwrap().contains(&place), "{doc}");
    }
    env.check(
        &["policy", "check", s(&env.path("absent.toml"))],
        66,
        "absent.toml",
    );
    let doc = env.json(&["policy", "check", s(&env.path("absent.toml"))], 66);
    assert_eq!(doc["exit_code"], 66);
    let empty = env.policy("empty.toml", header);
    env.check(
        &["policy", "check", s(&empty)],
        65,
        "no [[gate]] and no [[review]]",
    );
}

// ---------------------------------------------------------------------------------------
// 3. Gate
// ---------------------------------------------------------------------------------------

#[test]
fn gate_exit_codes_json_and_no_side_effects() {
    let env = Env::new();
    env.publish(&[
        ("good", GOOD),
        ("weak", WEAK),
        ("borderline", BORDERLINE),
        (
            "slow",
            Metrics {
                latency_p95_ms: 260.0,
                ..GOOD
            },
        ),
    ]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let sign_off = env.policy("sign-off.toml", CREDIT_SIGN_OFF);
    let loan = example_policy("loan-risk.toml");
    // Stale validation data, and a run that logged neither the model nor a dataset.
    env.publish_aged(&[("stale", GOOD)], 45, 20);
    env.check(
        &[
            "run",
            "start",
            "--experiment",
            "credit-xgb",
            "--run-id",
            "bare",
            "--git",
            "none",
            "--env",
            "none",
        ],
        0,
        "bare",
    );
    env.check(
        &[
            "log",
            "metric",
            "--run",
            "bare",
            "auc=0.9",
            "latency_p95_ms=120",
            "demographic_parity_gap=0.01",
        ],
        0,
        "",
    );
    env.check(
        &[
            "log",
            "metric",
            "--run",
            "bare",
            "--segment",
            "region=EU",
            "auc=0.88",
        ],
        0,
        "",
    );
    let before = env.log_position();

    env.check(
        &gate_args("good", "credit", &credit),
        0,
        "outcome: promoted",
    );
    let weak = env.check(&gate_args("weak", "credit", &credit), 1, "");
    assert!(weak.stdout.contains("outcome: rejected"), "{}", weak.stdout);
    assert!(weak.stdout.contains("FAIL"), "{}", weak.stdout);
    let slow = env.check(&gate_args("slow", "credit", &credit), 1, "");
    assert!(slow.stdout.contains("latency-slo"), "{}", slow.stdout);
    let borderline = env.check(&gate_args("borderline", "credit", &credit), 2, "");
    assert!(
        borderline
            .stdout
            .contains("review required (fairness-watch)"),
        "{}",
        borderline.stdout
    );
    // A rule that always asks for a human.
    env.check(&gate_args("good", "credit", &sign_off), 2, "");
    // loan-risk.toml: the first release has no baseline, and `[baseline] missing = "review"`.
    env.check(&gate_args("good", "loan-risk", &loan), 2, "");
    // fraud.toml: every gate passes on its metrics, but risk signs off every release.
    let fraud = env.json(
        &gate_args("good", "fraud-detector", &example_policy("fraud.toml")),
        2,
    );
    assert_eq!(fraud["outcome"], "needs_review");
    assert!(
        fraud["gates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["verdict"] == "pass"),
        "{fraud:#}"
    );

    // --json: every gate says what it read, against what, and why.
    let doc = env.json(&gate_args("good", "credit", &credit), 0);
    assert_eq!(doc["outcome"], "promoted");
    assert_eq!(doc["model"], "credit");
    assert_eq!(doc["run"], "good");
    assert_eq!(doc["baseline"], Value::Null);
    assert_eq!(doc["policy"]["version"], "e2e-1");
    assert_eq!(
        doc["policy"]["digest"],
        digest_of(CREDIT_POLICY.as_bytes()).as_str()
    );
    for g in doc["gates"].as_array().expect("gates") {
        for field in [
            "gate",
            "candidate",
            "baseline",
            "threshold",
            "verdict",
            "reason",
        ] {
            assert!(g.get(field).is_some(), "gate result lacks {field}: {g}");
        }
        assert_eq!(g["verdict"], "pass", "{g}");
    }
    let floor = gate_result(&doc, "auc-floor");
    assert_eq!(floor["candidate"], GOOD.auc);
    assert_eq!(floor["metric"], "auc");
    assert!(
        floor["threshold"].as_str().unwrap().contains("0.8"),
        "{floor}"
    );
    let eu = gate_result(&doc, "eu-floor");
    assert_eq!(eu["candidate"], GOOD.eu);
    let doc = env.json(&gate_args("loan-risk-absent", "credit", &credit), 65);
    assert!(
        doc["error"].as_str().unwrap().contains("unknown run"),
        "{doc}"
    );

    let weak = env.json(&gate_args("weak", "credit", &credit), 1);
    assert_eq!(weak["outcome"], "rejected");
    let floor = gate_result(&weak, "auc-floor");
    assert_eq!(floor["verdict"], "fail");
    assert_eq!(floor["candidate"], WEAK.auc);
    assert!(
        floor["reason"].as_str().unwrap().contains("loses money"),
        "{floor}"
    );
    let review = env.json(&gate_args("borderline", "credit", &credit), 2);
    assert_eq!(review["outcome"], "needs_review");
    let rule = review["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "fairness-watch")
        .expect("fairness-watch result");
    assert_eq!(rule["triggered"], true, "{rule}");

    let stale = env.json(&gate_args("stale", "credit", &credit), 1);
    let fresh = gate_result(&stale, "fresh-validation");
    assert_eq!(fresh["verdict"], "fail", "{fresh}");
    assert!(
        fresh["reason"]
            .as_str()
            .unwrap()
            .contains("stale validation data"),
        "{fresh}"
    );
    assert_eq!(gate_result(&stale, "auc-floor")["verdict"], "pass");
    let bare = env.json(&gate_args("bare", "credit", &credit), 1);
    for gate in ["model-file", "fresh-validation"] {
        assert_eq!(gate_result(&bare, gate)["verdict"], "fail", "{bare:#}");
    }
    assert_eq!(gate_result(&bare, "auc-floor")["verdict"], "pass");

    // Bad requests.
    env.check(
        &gate_args("good", "fraud-detector", &credit),
        65,
        "governs model credit, not fraud-detector",
    );
    env.check(
        &gate_args("nobody", "credit", &credit),
        65,
        "unknown run `nobody`",
    );
    env.check(
        &gate_args("good", "credit", &env.path("absent.toml")),
        66,
        "absent.toml",
    );
    env.check(&gate_args("bad run id!", "credit", &credit), 65, "--run");
    env.check(&gate_args("good", "no such model", &credit), 65, "--model");
    env.check(
        &["gate", "--run", "good", "--model", "credit"],
        64,
        "--policy",
    );

    assert_eq!(env.log_position(), before, "gate records nothing");
    assert!(env.decisions().is_empty());
}

// ---------------------------------------------------------------------------------------
// 4. Promote
// ---------------------------------------------------------------------------------------

#[test]
fn promote_records_the_chain_registry_and_next_baseline() {
    let env = Env::new();
    let key = env.signer();
    let runs = env.publish(&[
        ("v1", GOOD),
        ("v1-weak", WEAK),
        (
            "v2",
            Metrics {
                auc: 0.868,
                eu: 0.858,
                ..GOOD
            },
        ),
        ("v3-regress", Metrics { auc: 0.85, ..GOOD }),
        ("v3-fair", BORDERLINE),
    ]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);

    let d0 = env.promote("v1", "credit", &credit, &key, 0);
    let d1 = env.promote("v1-weak", "credit", &credit, &key, 1);
    assert_eq!(env.registry("credit")["production"], 0);
    // The baseline for the next gate is the production run.
    let next = env.json(&gate_args("v2", "credit", &credit), 0);
    assert_eq!(next["baseline"], "v1");
    let cmp = gate_result(&next, "auc-vs-production");
    assert_eq!(cmp["baseline"], GOOD.auc);
    assert_eq!(cmp["candidate"], 0.868);
    let d2 = env.promote("v2", "credit", &credit, &key, 0);
    assert_eq!(env.registry("credit")["production"], 2);
    let regress = env.json(&gate_args("v3-regress", "credit", &credit), 1);
    assert_eq!(regress["baseline"], "v2");
    let cmp = gate_result(&regress, "auc-vs-production");
    assert_eq!(cmp["verdict"], "fail", "{cmp}");
    assert_eq!(cmp["baseline"], 0.868);
    // --json promote: one document, a needs-review decision does not change production.
    let doc = env.json(
        &[
            "promote",
            "--run",
            "v3-fair",
            "--model",
            "credit",
            "--policy",
            s(&credit),
            "--key",
            key.arg(),
        ],
        2,
    );
    assert_eq!(doc["outcome"], "needs_review");
    assert_eq!(doc["index"], 3);
    assert_eq!(doc["run"], "v3-fair");
    let d3 = doc["decision"].as_str().expect("decision").to_owned();
    assert!(
        d3.strip_prefix("blake3:").is_some_and(|h| is_hex(h, 64)),
        "{doc}"
    );

    let decisions = env.decisions();
    let expect = [
        (&d0, "v1", "promoted", None),
        (&d1, "v1-weak", "rejected", Some("v1")),
        (&d2, "v2", "promoted", Some("v1")),
    ];
    assert_eq!(decisions.len(), 4, "{decisions:#?}");
    for (i, (hash, run, outcome, baseline)) in expect.into_iter().enumerate() {
        let d = &decisions[i];
        assert_eq!(d["index"], i as u64, "{d}");
        assert_eq!(d["hash"], format!("blake3:{hash}").as_str(), "{d}");
        assert_eq!(d["run"], run);
        assert_eq!(d["outcome"], outcome);
        assert_eq!(d["model"], "credit");
        assert_eq!(d["baseline"].as_str(), baseline, "{d}");
        assert_eq!(d["signer"], key.id.as_str());
        assert_eq!(d["policy_version"], "e2e-1");
    }
    assert_eq!(decisions[3]["hash"], d3.as_str());
    assert_eq!(decisions[3]["outcome"], "needs_review");
    // The promoted decisions list their artifact.
    assert_eq!(decisions[0]["artifacts"], json!([runs[0].digest]));
    assert_eq!(decisions[2]["artifacts"], json!([runs[2].digest]));

    let registry = env.registry("credit");
    assert_eq!(registry["production"], 2);
    let versions: Vec<&Value> = registry["versions"].as_array().unwrap().iter().collect();
    assert_eq!(versions.len(), 2, "{registry:#}");
    assert_eq!(versions[0]["run"], "v1");
    assert_eq!(versions[1]["run"], "v2");
    assert_eq!(registry["decisions"], json!([0, 1, 2, 3]));
    assert!(env.vouch(&["registry"]).stdout.contains("production"));
    env.check(&["registry", "--model", "credit"], 0, "v2");
    env.check(
        &["registry", "--model", "fraud-detector"],
        65,
        "has no decisions",
    );
    env.check(&["decisions"], 0, &d2[..16]);
    let limited = env.json(&["decisions", "--limit", "1", "--model", "credit"], 0);
    assert_eq!(limited.as_array().unwrap().len(), 1);
    assert_eq!(limited[0]["index"], 3);

    // Unknown runs and foreign policies record nothing.
    let before = env.log_position();
    env.check(
        &[
            "promote",
            "--run",
            "ghost",
            "--model",
            "credit",
            "--policy",
            s(&credit),
            "--key",
            key.arg(),
        ],
        65,
        "unknown run `ghost`",
    );
    env.check(
        &[
            "promote",
            "--run",
            "v2",
            "--model",
            "loan-risk",
            "--policy",
            s(&credit),
            "--key",
            key.arg(),
        ],
        65,
        "governs model credit",
    );
    assert_eq!(env.log_position(), before);
    env.check(&["verify"], 0, "the chain verifies");
}

// ---------------------------------------------------------------------------------------
// 5. Concurrency
// ---------------------------------------------------------------------------------------

#[test]
fn eight_concurrent_promote_processes_extend_one_chain() {
    let env = Env::new();
    let key = env.signer();
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    // c0, c3, c6 pass; c1, c4, c7 fail; c2, c5 need review; whatever production is
    // when each runs (no candidate is 0.01 AUC below another).
    let mut runs = vec![("seed".to_owned(), GOOD)];
    for i in 0..8u32 {
        let m = match i % 3 {
            0 => Metrics {
                auc: 0.87 + f64::from(i) * 0.001,
                ..GOOD
            },
            1 => WEAK,
            _ => Metrics {
                auc: 0.875,
                ..BORDERLINE
            },
        };
        runs.push((format!("c{i}"), m));
    }
    let borrowed: Vec<(&str, Metrics)> = runs.iter().map(|(r, m)| (r.as_str(), *m)).collect();
    env.publish(&borrowed);
    // One decision already on the chain: the eight extend it.
    env.promote("seed", "credit", &credit, &key, 0);

    let children: Vec<(String, std::process::Child)> = (0..8)
        .map(|i| {
            let run = format!("c{i}");
            let child = env
                .ledger
                .command()
                .args([
                    "promote",
                    "--run",
                    &run,
                    "--model",
                    "credit",
                    "--policy",
                    s(&credit),
                    "--key",
                    key.arg(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn vouch promote");
            (run, child)
        })
        .collect();
    let mut ids = Vec::new();
    for (run, child) in children {
        let output = child.wait_with_output().expect("wait");
        let out = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        env.record(&["promote", "--run", &run], &out);
        assert!(
            [0, 1, 2].contains(&out.code),
            "promote {run}: exit {}\nstdout: {}\nstderr: {}",
            out.code,
            out.stdout,
            out.stderr
        );
        let expected = match run[1..].parse::<u32>().unwrap() % 3 {
            0 => 0,
            1 => 1,
            _ => 2,
        };
        assert_eq!(out.code, expected, "promote {run}: {}", out.stdout);
        ids.push((run, decision_id(&out.stdout)));
    }

    let decisions = env.decisions();
    assert_eq!(decisions.len(), 9, "{decisions:#?}");
    for (i, d) in decisions.iter().enumerate() {
        assert_eq!(d["index"], i as u64, "consecutive indexes: {d}");
    }
    let mut runs: Vec<&str> = decisions[1..]
        .iter()
        .map(|d| d["run"].as_str().unwrap())
        .collect();
    runs.sort_unstable();
    assert_eq!(runs, ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"]);
    for (run, id) in &ids {
        let d = decisions
            .iter()
            .find(|d| d["hash"] == format!("blake3:{id}").as_str())
            .unwrap_or_else(|| {
                panic!("decision {id} printed by promote {run} is not on the chain")
            });
        assert_eq!(d["run"], run.as_str());
    }
    let doc = env.json(&["verify"], 0);
    assert_eq!(doc["ok"], true, "{doc}");
    assert_eq!(doc["report"]["decisions"], 9);
    env.check(&["verify"], 0, "the chain verifies");
}

// ---------------------------------------------------------------------------------------
// 6. Review
// ---------------------------------------------------------------------------------------

#[test]
fn review_approve_reject_and_refusals() {
    let env = Env::new();
    let signer = env.signer();
    let reviewer = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("first", GOOD), ("second", GOOD), ("third", GOOD)]);
    let sign_off = env.policy("sign-off.toml", CREDIT_SIGN_OFF);

    let waiting = env.promote("first", "credit", &sign_off, &signer, 2);
    assert_eq!(env.decision(&waiting)["outcome"], "needs_review");
    assert_eq!(env.registry("credit")["production"], Value::Null);
    // `reviews --pending` lists it, with the approvals its policy needs.
    let pending = env.json(&["reviews", "--pending"], 0);
    let pending = pending.as_array().expect("reviews --json is a list");
    assert_eq!(pending.len(), 1, "{pending:#?}");
    assert_eq!(
        pending[0]["decision"]["hash"],
        format!("blake3:{waiting}").as_str()
    );
    assert_eq!(pending[0]["state"]["approvals"], 0);
    assert_eq!(pending[0]["state"]["required"], 1);
    assert_eq!(pending[0]["state"]["rejected"], false);
    env.check(&["reviews", "--pending"], 0, "pending");
    // Not deployable while it waits.
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "awaits review");

    let short = &waiting[..12];
    // Reviews are signed by the reviewer's key and enacted at once with the release key.
    let review = |verb: &str, decision: &str, key: &Key, reason: &str| {
        env.review(verb, decision, key, reason, Some(&signer))
    };
    let before = env.log_position();
    // A key trusted only to sign decisions cannot review (and cannot review its own
    // decision: separation of duties).
    review("approve", short, &signer, "looks fine").fails(65, "not as reviewer");
    // An untrusted key neither.
    let stranger = env.key("stranger");
    review("approve", short, &stranger, "looks fine").fails(65, "not in the trust list");
    // A reason is required.
    review("approve", short, &reviewer, "  ").fails(65, "--reason");
    // A release key that may not sign decisions (the reviewer's own, a stranger's) is
    // refused before the review is recorded.
    for release in [&reviewer, &stranger] {
        env.review("approve", short, &reviewer, "fine", Some(release))
            .fails(65, "--release-key");
    }
    assert_eq!(env.log_position(), before, "refused reviews record nothing");
    env.check(&["verify"], 0, "the chain verifies");

    let approved = review(
        "approve",
        short,
        &reviewer,
        "fairness board minutes 2026-11-27",
    );
    assert_eq!(approved.code, 0, "{}\n{}", approved.stdout, approved.stderr);
    assert!(approved.stdout.contains("promoted"), "{}", approved.stdout);
    let enacted = decision_id(
        approved
            .stdout
            .lines()
            .find(|l| l.starts_with("decision "))
            .expect("decision line"),
    );
    let d = env.decision(&enacted);
    assert_eq!(d["outcome"], "promoted");
    assert_eq!(d["index"], 1);
    assert_eq!(d["run"], "first");
    assert_eq!(d["resolves"], format!("blake3:{waiting}").as_str());
    // The enacting decision is signed by the release key; the review by the reviewer's.
    assert_eq!(d["signer"], signer.id.as_str());
    let original = env.decision(&waiting);
    let reviews = original["reviews"].as_array().expect("reviews");
    assert_eq!(reviews.len(), 1, "{original:#}");
    assert_eq!(reviews[0]["reviewer"], "Dana Whitfield");
    assert_eq!(reviews[0]["signer"], reviewer.id.as_str());
    assert_eq!(reviews[0]["verdict"], "approve");
    assert_eq!(reviews[0]["reason"], "fairness board minutes 2026-11-27");
    let registry = env.registry("credit");
    assert_eq!(registry["production"], 1, "{registry:#}");
    assert_eq!(
        registry["versions"][0]["hash"],
        format!("blake3:{enacted}").as_str()
    );
    assert_eq!(
        registry["versions"][0]["approved_by"],
        "Dana Whitfield, by review"
    );
    assert_eq!(env.json(&["reviews", "--pending"], 0), json!([]));
    let all = env.json(&["reviews"], 0);
    assert_eq!(all[0]["state"]["resolved_by"], 1, "{all:#}");
    // The approved run is now the baseline.
    let next = env.json(&gate_args("second", "credit", &sign_off), 2);
    assert_eq!(next["baseline"], "first");

    // Reviewing a resolved decision again, by prefix or by full id or chain index.
    for id in [short, waiting.as_str(), "0"] {
        review("approve", id, &reviewer, "again").fails(65, "already resolved");
    }
    // A promoted decision is not waiting for review.
    review("approve", &enacted[..12], &reviewer, "why not")
        .fails(65, "only a decision waiting for review");
    // Unknown and malformed ids.
    review("approve", "deadbeefdeadbeef", &reviewer, "x").fails(65, "no decision with id");
    review("approve", "99", &reviewer, "x").fails(65, "no decision with chain index 99");
    review("approve", "xyz", &reviewer, "x").fails(65, "not a decision id");

    // Reject another one: rejected, production unchanged.
    let second = env.promote("second", "credit", &sign_off, &signer, 2);
    let rejected = review("reject", &second[..12], &reviewer, "wait for the Q4 data");
    assert_eq!(rejected.code, 0, "{}\n{}", rejected.stdout, rejected.stderr);
    assert!(rejected.stdout.contains("rejected"), "{}", rejected.stdout);
    let doc = {
        let third = env.promote("third", "credit", &sign_off, &signer, 2);
        env.json(
            &[
                "review",
                "reject",
                "--decision",
                &third,
                "--key",
                reviewer.arg(),
                "--reason",
                "duplicate of second",
                "--release-key",
                signer.arg(),
            ],
            0,
        )
    };
    assert_eq!(doc["rejected"], true, "{doc:#}");
    assert_eq!(doc["enacted"]["outcome"], "rejected", "{doc:#}");
    assert_eq!(doc["enacted"]["index"], 5, "{doc:#}");
    let decisions = env.decisions();
    let outcomes: Vec<&str> = decisions
        .iter()
        .map(|d| d["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "needs_review",
            "promoted",
            "needs_review",
            "rejected",
            "needs_review",
            "rejected"
        ]
    );
    assert_eq!(env.registry("credit")["production"], 1);
    review("approve", &second[..12], &reviewer, "changed my mind").fails(65, "already resolved");
    // Neither rejected candidate can be deployed.
    env.deploy("credit", "production", &runs[1].artifact, &signer, &[])
        .fails(65, "never promoted");

    // The decisions verify, and the approved artifact, once deployed, audits clean.
    env.check(&["verify"], 0, "the chain verifies");
    let deployed = env.deploy("credit", "production", &runs[0].artifact, &signer, &[]);
    assert!(
        deployed.code == 0 && deployed.stdout.contains("promoted by decision"),
        "{deployed:?}"
    );
    let audit = env.json(&["audit", s(&runs[0].artifact)], 0);
    assert_eq!(audit["ok"], true, "{audit:#}");
    let checks = &audit["report"]["checks"];
    assert!(failed_checks(checks).is_empty(), "{checks:#}");
    let whats: Vec<&str> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert!(whats.contains(&"review"), "{whats:?}");
    let text = env.check(&["audit", s(&runs[0].artifact)], 0, "Dana Whitfield");
    assert!(
        text.stdout.contains("fairness board minutes"),
        "{}",
        text.stdout
    );
}

/// `[approval] reviewers = 2`: two distinct reviewer keys must approve; one key reviews a
/// decision once; without `--release-key` the reviews wait for `review enact`; and any
/// rejection decides a rejection, whatever the approvals.
#[test]
fn two_reviewers_review_once_each_and_a_release_key_enacts() {
    let env = Env::new();
    let signer = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let eve = env.reviewer("eve", "Eve Moreau");
    let runs = env.publish(&[("first", GOOD), ("second", GOOD)]);
    let policy = env.policy(
        "two.toml",
        &CREDIT_SIGN_OFF.replace("[[review]]", "[approval]\nreviewers = 2\n\n[[review]]"),
    );
    env.check(&["policy", "check", s(&policy)], 0, "1 review rules");

    let first = env.promote("first", "credit", &policy, &signer, 2);
    let one = env.review("approve", &first, &dana, "numbers hold", Some(&signer));
    assert_eq!(one.code, 0, "{one:?}");
    assert!(
        one.stdout.contains("1 of 2 approvals"),
        "one approval of two enacts nothing: {}",
        one.stdout
    );
    // The same reviewer again: refused, nothing recorded.
    let before = env.log_position();
    env.review("approve", &first, &dana, "really", Some(&signer))
        .fails(65, "already reviewed");
    assert_eq!(env.log_position(), before);
    env.check(&["reviews", "--pending"], 0, "1/2");
    // Enacting too early is refused.
    env.check(
        &[
            "review",
            "enact",
            "--decision",
            &first,
            "--key",
            signer.arg(),
        ],
        65,
        "1 of the 2 approvals",
    );
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "awaits review");
    // A second, distinct reviewer; no release key, so the reviews wait to be enacted.
    let two = env.review("approve", &first[..12], &eve, "segments hold", None);
    assert_eq!(two.code, 0, "{two:?}");
    assert!(two.stdout.contains("review enact"), "{}", two.stdout);
    assert_eq!(env.registry("credit")["production"], Value::Null);
    env.check(&["reviews", "--pending"], 0, "awaiting enactment");
    // A reviewer key cannot enact.
    env.check(
        &["review", "enact", "--decision", &first, "--key", eve.arg()],
        65,
        "not as signer",
    );
    let enacted = env.check(
        &[
            "review",
            "enact",
            "--decision",
            &first,
            "--key",
            signer.arg(),
        ],
        0,
        "promoted",
    );
    let enacted = decision_id(&enacted.stdout);
    assert_eq!(env.registry("credit")["production"], 1);
    assert_eq!(env.decision(&enacted)["signer"], signer.id.as_str());
    // Enacted once only.
    env.check(
        &[
            "review",
            "enact",
            "--decision",
            &first,
            "--key",
            signer.arg(),
        ],
        65,
        "already resolved",
    );
    // The decisions table says which decision resolved the one that waited.
    env.check(&["decisions"], 0, "reviewed: see #1");

    // A rejection decides, even with an approval beside it.
    let second = env.promote("second", "credit", &policy, &signer, 2);
    env.check(&["decisions"], 0, "needs_review (pending)");
    env.review("approve", &second, &eve, "fine by me", None)
        .ok();
    env.review("reject", &second, &dana, "label leak in the holdout", None)
        .ok();
    let doc = env.json(
        &[
            "review",
            "enact",
            "--decision",
            &second,
            "--key",
            signer.arg(),
        ],
        0,
    );
    assert_eq!(doc["outcome"], "rejected", "{doc:#}");
    assert_eq!(env.registry("credit")["production"], 1);
    env.deploy("credit", "production", &runs[1].artifact, &signer, &[])
        .fails(65, "never promoted");
    env.check(&["verify"], 0, "the chain verifies");
}

// ---------------------------------------------------------------------------------------
// 7. Deploy
// ---------------------------------------------------------------------------------------

#[test]
fn deploy_requires_a_promotion_or_a_forced_reason() {
    let env = Env::new();
    let key = env.signer();
    let runs = env.publish(&[("good", GOOD), ("weak", WEAK), ("never", GOOD)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let promoted = env.promote("good", "credit", &credit, &key, 0);
    env.promote("weak", "credit", &credit, &key, 1);
    let deploy = |artifact: &Path, extra: &[&str], code: i32, needle: &str| {
        let mut args = vec![
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--artifact",
            s(artifact),
            "--key",
            key.arg(),
        ];
        args.extend_from_slice(extra);
        env.check(&args, code, needle)
    };

    deploy(&runs[0].artifact, &[], 0, &promoted);
    let doc = env.json(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "staging-eu",
            "--digest",
            &runs[0].digest,
            "--key",
            key.arg(),
        ],
        0,
    );
    assert_eq!(doc["forced"], false);
    assert_eq!(doc["decision"], format!("blake3:{promoted}").as_str());
    assert_eq!(doc["artifact"], runs[0].digest.as_str());

    // A rejected candidate and one never evaluated are refused…
    for p in &runs[1..] {
        deploy(&p.artifact, &[], 65, "--force --reason");
    }
    // …for another model too.
    env.check(
        &[
            "deploy",
            "--model",
            "loan-risk",
            "--env",
            "production",
            "--digest",
            &runs[0].digest,
            "--key",
            key.arg(),
        ],
        65,
        "never promoted for model loan-risk",
    );
    // --force needs a reason.
    deploy(&runs[2].artifact, &["--force"], 64, "--reason");
    deploy(
        &runs[2].artifact,
        &["--force", "--reason", " "],
        65,
        "--force needs --reason",
    );
    deploy(&runs[2].artifact, &[], 65, "never promoted");
    let forced = deploy(
        &runs[2].artifact,
        &["--force", "--reason", "hotfix"],
        0,
        "FORCED",
    );
    assert!(forced.stdout.contains(&runs[2].digest), "{}", forced.stdout);

    // The audit of the forced artifact fails and shows why.
    let audit = env.check(&["audit", s(&runs[2].artifact)], 1, "never promoted");
    assert!(audit.stdout.contains("FORCED: hotfix"), "{}", audit.stdout);
    assert!(
        audit.stdout.contains("forced deployment to production"),
        "{}",
        audit.stdout
    );
    let doc = env.json(&["audit", s(&runs[2].artifact)], 1);
    assert_eq!(doc["ok"], false);
    let deployments = doc["report"]["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0]["forced"], true);
    assert_eq!(deployments[0]["reason"], "hotfix");
    let failed = failed_checks(&doc["report"]["checks"]);
    assert_eq!(failed, ["promoted", "deployment"], "{doc:#}");

    // Bad requests.
    env.check(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "prod uction",
            "--digest",
            &runs[0].digest,
            "--key",
            key.arg(),
        ],
        65,
        "--env",
    );
    env.check(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--digest",
            "md5:abc",
            "--key",
            key.arg(),
        ],
        65,
        "--digest",
    );
    env.check(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--key",
            key.arg(),
        ],
        64,
        "",
    );
    // Deployments are signed: no key, no deployment.
    env.check(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--digest",
            &runs[0].digest,
        ],
        64,
        "--key",
    );
    env.check(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--artifact",
            s(&env.path("absent.bin")),
            "--key",
            key.arg(),
        ],
        66,
        "absent.bin",
    );
    let registry = env.registry("credit");
    let envs: Vec<&str> = registry["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["env"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["production", "staging-eu", "production"]);

    // Who may sign a deployment: a deployer key or a release (signer) key; a reviewer
    // key or an untrusted one may not, and nothing is recorded for them.
    let ops = env.key("ops");
    env.trust(&ops, "ops on call", "deployer");
    let dana = env.reviewer("dana", "Dana Whitfield");
    let stranger = env.key("stranger");
    let before = env.log_position();
    env.deploy("credit", "canary", &runs[0].artifact, &dana, &[])
        .fails(65, "not as deployer");
    env.deploy("credit", "canary", &runs[0].artifact, &stranger, &[])
        .fails(65, "not in the trust list");
    assert_eq!(env.log_position(), before);
    let by_ops = env.json(
        &[
            "deploy",
            "--model",
            "credit",
            "--env",
            "canary",
            "--digest",
            &runs[0].digest,
            "--key",
            ops.arg(),
        ],
        0,
    );
    assert_eq!(by_ops["decision"], format!("blake3:{promoted}").as_str());
    let latest = env.registry("credit")["deployments"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(latest["env"], "canary", "{latest}");
    assert_eq!(latest["signer"], ops.id.as_str(), "{latest}");
    env.check(&["verify"], 0, "the chain verifies");
}

// ---------------------------------------------------------------------------------------
// 8. Audit and bundles
// ---------------------------------------------------------------------------------------

#[test]
fn audit_bundle_verify_bundle_and_tampering() {
    let env = Env::new();
    let key = env.signer();
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let v1 = env.publish_with_cli("v1", GOOD);
    let d0 = env.promote("v1", "credit", &credit, &key, 0);
    let v2 = env
        .publish(&[("v2", Metrics { auc: 0.866, ..GOOD })])
        .remove(0);
    env.promote("v2", "credit", &credit, &key, 0);
    // Promoted but not deployed yet: the audit says no signed deployment cites it.
    let undeployed = env.json(&["audit", s(&v1.artifact)], 1);
    assert_eq!(
        failed_checks(&undeployed["report"]["checks"]),
        ["deployment"],
        "{undeployed:#}"
    );
    let deployed = env.deploy("credit", "production", &v1.artifact, &key, &[]);
    assert!(
        deployed.code == 0 && deployed.stdout.contains("promoted by decision"),
        "{deployed:?}"
    );

    // The text report: deployment, decision, policy, run, dataset freshness, evidence, gates
    // and every check.
    let audit = env.check(&["audit", s(&v1.artifact)], 0, &d0);
    for needle in [
        "deployed    credit to production",
        "policy      version e2e-1",
        "run         v1 (credit-xgb), code 9c1d3f2a",
        "dataset     validation",
        "days before the decision",
        "auc-floor",
    ] {
        assert!(
            audit.stdout.contains(needle),
            "audit lacks {needle:?}:\n{}",
            audit.stdout
        );
    }
    let doc = env.json(&["audit", s(&v1.artifact)], 0);
    assert_eq!(doc["ok"], true, "{doc:#}");
    let checks = &doc["report"]["checks"];
    assert!(failed_checks(checks).is_empty(), "{checks:#}");
    let check_of = |what: &str| -> Value {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == what)
            .unwrap_or_else(|| panic!("audit lacks the {what:?} check: {checks:#}"))
            .clone()
    };
    // One rule-book verdict on the decision (signature, signer's role, chain link,
    // evidence digest over the log's bytes, policy), the link from the next decision, and
    // the signed deployment that cites it.
    let decision = check_of("decision");
    let detail = decision["detail"].as_str().unwrap();
    for needle in [
        "valid under the rule book",
        "release-bot",
        "events of evidence match",
    ] {
        assert!(detail.contains(needle), "{needle:?} not in {detail}");
    }
    check_of("link from next decision");
    let deployment = check_of("deployment");
    assert!(
        deployment["detail"]
            .as_str()
            .unwrap()
            .contains("release-bot"),
        "{deployment}"
    );
    assert_eq!(
        doc["report"]["decision"]["hash"],
        format!("blake3:{d0}").as_str()
    );
    assert_eq!(doc["report"]["policy_text"], CREDIT_POLICY);
    // By digest: the same report.
    let by_digest = env.json(&["audit", "--digest", &v1.digest], 0);
    assert_eq!(by_digest["report"]["checks"], doc["report"]["checks"]);

    // The bundle verifies on its own, against the auditor's trust.
    let bundle_path = env.path("v1-bundle.json");
    env.check(
        &["audit", s(&v1.artifact), "--bundle", s(&bundle_path)],
        0,
        "audit bundle written",
    );
    let trust = env.trust_file();
    let verify_bundle = |path: &Path| -> Vec<String> {
        vec![
            "verify-bundle".to_owned(),
            s(path).to_owned(),
            "--trust".to_owned(),
            s(&trust).to_owned(),
        ]
    };
    let args = verify_bundle(&bundle_path);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let verified = env.check(&args, 0, "bundle verifies");
    assert!(
        verified.stdout.contains(&d0[..16]) || verified.stdout.contains("decision 0"),
        "{}",
        verified.stdout
    );
    let ok = env.json(&args, 0);
    assert_eq!(ok["ok"], true);
    assert!(failed_checks(&ok["checks"]).is_empty());
    // The keys may also be given one by one, with their roles.
    env.check(
        &[
            "verify-bundle",
            s(&bundle_path),
            "--key",
            &key.public,
            "--role",
            "signer",
        ],
        0,
        "bundle verifies",
    );
    // Behaviour change: without the auditor's trust there is no verdict at all (the keys a
    // bundle names are only names); the error says how to give trust and which keys signed.
    let untrusted = env.check(
        &["verify-bundle", s(&bundle_path)],
        65,
        "needs the auditor's trust",
    );
    assert!(
        untrusted.stderr.contains("--trust") && untrusted.stderr.contains(&key.public),
        "{}",
        untrusted.stderr
    );
    assert_eq!(
        env.json(&["verify-bundle", s(&bundle_path)], 65)["exit_code"],
        65
    );
    // Trusting another key (or the right key in the wrong role) is no trust.
    let other = env.key("other");
    for (public, role) in [(&other.public, "signer"), (&key.public, "deployer")] {
        env.check(
            &[
                "verify-bundle",
                s(&bundle_path),
                "--key",
                public,
                "--role",
                role,
            ],
            1,
            "the bundle does not verify",
        );
    }
    env.check(
        &["verify-bundle", s(&bundle_path), "--key", &key.public],
        65,
        "one --role for each --key",
    );
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle_path).unwrap()).unwrap();
    assert_eq!(bundle["format"], "vouch-audit-bundle-v3");
    assert_eq!(bundle["artifact"], v1.digest.as_str());
    assert_eq!(bundle["decision"], 0);
    // The bundle itself never carries a private key.
    let bundle_text = std::fs::read_to_string(&bundle_path).unwrap();
    for secret in env.secrets.borrow().iter() {
        assert!(!bundle_text.contains(secret.as_str()));
    }
    // --bundle also via --digest.
    let bundle2 = env.path("v1-bundle-by-digest.json");
    env.check(
        &["audit", "--digest", &v1.digest, "--bundle", s(&bundle2)],
        0,
        "",
    );
    let args2 = verify_bundle(&bundle2);
    let args2: Vec<&str> = args2.iter().map(String::as_str).collect();
    env.check(&args2, 0, "bundle verifies");

    // Tampering: each variant must fail, naming the failed check.
    let records = bundle["records"].as_array().unwrap().clone();
    let chain_at = records
        .iter()
        .position(|r| r["key"] == "chain")
        .expect("a chain record");
    let evidence_at = records
        .iter()
        .position(|r| r["key"].as_str().unwrap().starts_with("run."))
        .expect("an evidence record");
    let deployment_at = records
        .iter()
        .position(|r| r["event_id"].as_str().unwrap().starts_with("deployment:"))
        .expect("a deployment record");
    let flip = |hex: &str, at: usize| -> String {
        let mut chars: Vec<char> = hex.chars().collect();
        chars[at] = if chars[at] == '0' { '1' } else { '0' };
        chars.into_iter().collect()
    };
    let mut variants: Vec<(&str, Value, &[&str])> = Vec::new();
    {
        // The decision's last bytes are its signature.
        let mut b = bundle.clone();
        let bytes = b["records"][chain_at]["bytes"].as_str().unwrap().to_owned();
        b["records"][chain_at]["bytes"] = Value::from(flip(&bytes, bytes.len() - 3));
        variants.push(("decision signature flipped", b, &["decision"]));
    }
    {
        // One hex character inside an evidence record: it no longer decodes or no longer
        // hashes to the evidence digest.
        let mut b = bundle.clone();
        let bytes = b["records"][evidence_at]["bytes"]
            .as_str()
            .unwrap()
            .to_owned();
        b["records"][evidence_at]["bytes"] = Value::from(flip(&bytes, bytes.len() / 2));
        variants.push(("evidence byte flipped", b, &["record", "decision"]));
    }
    {
        let mut b = bundle.clone();
        b["records"].as_array_mut().unwrap().remove(evidence_at);
        variants.push(("evidence record dropped", b, &["decision"]));
    }
    {
        let mut b = bundle.clone();
        b["records"].as_array_mut().unwrap().remove(chain_at);
        variants.push(("decision dropped", b, &["decision"]));
    }
    {
        let mut b = bundle.clone();
        b["records"].as_array_mut().unwrap().remove(deployment_at);
        variants.push(("deployment dropped", b, &["deployment"]));
    }
    {
        let mut b = bundle.clone();
        b["artifact"] = Value::from(v2.digest.clone());
        variants.push(("another artifact", b, &["promotion", "deployment"]));
    }
    {
        // A record the audit does not need is not slipped in unchecked.
        let mut b = bundle.clone();
        let extra = json!({
            "position": 999_999,
            "key": records[evidence_at]["key"],
            "event_id": records[evidence_at]["event_id"],
            "bytes": records[evidence_at]["bytes"],
        });
        b["records"].as_array_mut().unwrap().push(extra);
        variants.push(("extra record", b, &["record"]));
    }
    for (name, tampered, expected) in variants {
        let path = env.file(
            &format!("tampered-{}.json", name.replace(' ', "-")),
            &serde_json::to_string_pretty(&tampered).unwrap(),
        );
        let args = verify_bundle(&path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = env.vouch(&args);
        text.fails(1, "the bundle does not verify");
        let doc = env.json(&args, 1);
        assert_eq!(doc["ok"], false, "{name}");
        let failed = failed_checks(&doc["checks"]);
        assert!(
            failed.iter().any(|f| expected.contains(&f.as_str())),
            "{name}: expected one of {expected:?} to fail, failed: {failed:?}"
        );
    }
    // Behaviour change: the names a bundle carries for its keys are not trust. Emptying
    // them changes nothing for an auditor who trusts the right keys.
    {
        let mut b = bundle.clone();
        b["keys"] = json!([]);
        let path = env.file("keys-cleared.json", &b.to_string());
        let args = verify_bundle(&path);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        env.check(&args, 0, "bundle verifies");
    }

    // Not a bundle.
    let garbage = env.file("garbage.json", "{\"format\": 3}\n");
    env.check(&["verify-bundle", s(&garbage)], 65, "not an audit bundle");
    let garbage = env.file("garbage.txt", "PK\u{3}\u{4} not json");
    env.check(&["verify-bundle", s(&garbage)], 65, "not an audit bundle");
    let doc = env.json(&["verify-bundle", s(&garbage)], 65);
    assert_eq!(doc["exit_code"], 65);
    env.check(
        &["verify-bundle", s(&env.path("absent.json"))],
        66,
        "absent.json",
    );
    env.check(
        &[
            "verify-bundle",
            s(&bundle_path),
            "--trust",
            s(&env.path("absent-trust.json")),
        ],
        66,
        "absent-trust.json",
    );
    env.check(
        &["verify-bundle", s(&bundle_path), "--trust", s(&garbage)],
        65,
        "not a trust list",
    );

    // Never promoted: audit fails, and writes no bundle.
    let never = env.publish(&[("never", GOOD)]).remove(0);
    let no_bundle = env.path("never-bundle.json");
    env.check(
        &["audit", s(&never.artifact), "--bundle", s(&no_bundle)],
        1,
        "never promoted",
    );
    assert!(!no_bundle.exists());
    let doc = env.json(&["audit", s(&never.artifact)], 1);
    assert_eq!(doc["ok"], false);
    assert_eq!(failed_checks(&doc["report"]["checks"]), ["promoted"]);
    env.check(
        &["audit", "--digest", &digest_of(b"nothing")],
        1,
        "never promoted",
    );
    env.check(&["audit", "--digest", "blake3:xyz"], 65, "--digest");
    env.check(&["audit"], 64, "");
    env.check(&["audit", s(&env.path("absent.bin"))], 66, "absent.bin");
}

/// An artifact promoted by a review approval gets a bundle that verifies like any other:
/// the bundle carries the reviewed decision and its review, judged against the auditor's
/// trust (the reviewer's key in the reviewer role).
#[test]
fn bundle_of_a_review_approved_promotion_verifies() {
    let env = Env::new();
    let signer = env.signer();
    let reviewer = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("first", GOOD)]);
    let sign_off = env.policy("sign-off.toml", CREDIT_SIGN_OFF);
    let waiting = env.promote("first", "credit", &sign_off, &signer, 2);
    let approved = env.review(
        "approve",
        &waiting[..12],
        &reviewer,
        "signed off",
        Some(&signer),
    );
    assert!(
        approved.code == 0 && approved.stdout.contains("promoted"),
        "{approved:?}"
    );
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .ok();
    let bundle = env.path("bundle.json");
    env.check(
        &["audit", s(&runs[0].artifact), "--bundle", s(&bundle)],
        0,
        "audit bundle written",
    );
    let trust = env.trust_file();
    let doc = env.json(&["verify-bundle", s(&bundle), "--trust", s(&trust)], 0);
    assert_eq!(doc["ok"], true, "{doc:#}");
    let review = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "review")
        .unwrap_or_else(|| panic!("no review check: {doc:#}"));
    assert!(
        review["detail"]
            .as_str()
            .unwrap()
            .contains("Dana Whitfield"),
        "{review}"
    );
    // The same keys given one by one: the reviewer's key must hold the reviewer role.
    let by_keys = |reviewer_role: &str| {
        env.vouch(&[
            "verify-bundle",
            s(&bundle),
            "--key",
            &signer.public,
            "--role",
            "signer",
            "--key",
            &reviewer.public,
            "--role",
            reviewer_role,
        ])
    };
    let ok = by_keys("reviewer");
    assert!(ok.code == 0, "{ok:?}");
    by_keys("deployer").fails(1, "the bundle does not verify");
}

/// A bundle covers the chain from the audited decision to the head; a later decision that
/// enacts a review (signed by the release key, the review by the reviewer's) must not make
/// it fail.
#[test]
fn bundle_verifies_after_a_later_review_approved_decision() {
    let env = Env::new();
    let signer = env.signer();
    let reviewer = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("v1", GOOD), ("v2", BORDERLINE)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    env.promote("v1", "credit", &credit, &signer, 0);
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .ok();
    let waiting = env.promote("v2", "credit", &credit, &signer, 2);
    let approved = env.review(
        "approve",
        &waiting[..12],
        &reviewer,
        "parity gap explained by the EU cohort",
        Some(&signer),
    );
    assert!(
        approved.code == 0 && approved.stdout.contains("promoted"),
        "{approved:?}"
    );
    env.check(&["verify"], 0, "the chain verifies");
    env.check(&["audit", s(&runs[0].artifact)], 0, "");
    let bundle = env.path("bundle.json");
    env.check(
        &["audit", s(&runs[0].artifact), "--bundle", s(&bundle)],
        0,
        "audit bundle written",
    );
    let trust = env.trust_file();
    let doc = env.json(&["verify-bundle", s(&bundle), "--trust", s(&trust)], 0);
    assert_eq!(doc["ok"], true, "{doc:#}");
    let links = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["what"] == "chain link")
        .count();
    assert_eq!(
        links, 2,
        "decisions 1 and 2 follow the audited one: {doc:#}"
    );
}

// ---------------------------------------------------------------------------------------
// 9. Verify
// ---------------------------------------------------------------------------------------

#[test]
fn verify_names_the_first_decision_that_fails() {
    let env = Env::new();
    // An empty ledger verifies.
    env.check(&["verify"], 0, "the chain verifies");
    let key = env.signer();
    let runs = env.publish(&[("v1", GOOD), ("v2", WEAK)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    env.promote("v1", "credit", &credit, &key, 0);
    env.promote("v2", "credit", &credit, &key, 1);
    let ok = env.check(&["verify"], 0, "the chain verifies");
    assert!(ok.stdout.contains("2 decisions"), "{}", ok.stdout);
    let doc = env.json(&["verify"], 0);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["report"]["decisions"], 2);
    assert_eq!(doc["report"]["failure"], Value::Null);

    // Trust nothing: the first decision is the first failure.
    let first = env.decisions()[0]["position"].as_u64().unwrap();
    std::fs::remove_file(env.ledger.path().join("trust.json")).unwrap();
    let failed = env.check(&["verify"], 1, "not in the trust list");
    let place = format!("log position {first} (decision 0)");
    assert!(
        failed.stderr.contains(&place),
        "expected {place:?} in {}",
        failed.stderr
    );
    assert!(failed.stderr.contains(&key.id), "{}", failed.stderr);
    let doc = env.json(&["verify"], 1);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["report"]["failure"]["position"], first);
    assert_eq!(doc["report"]["failure"]["index"], 0);
    // The audit of the promoted artifact says the same: judged under a trust list that
    // trusts nothing, no accepted decision promoted it.
    let doc = env.json(&["audit", "--digest", &runs[0].digest], 1);
    assert_eq!(
        failed_checks(&doc["report"]["checks"]),
        ["promoted"],
        "{doc:#}"
    );

    // A key trusted only as a reviewer is not a signer.
    env.trust(&key, "release-bot", "reviewer");
    let wrong_role = env.check(&["verify"], 1, "(decision 0)");
    assert!(
        wrong_role.stderr.contains("not as signer")
            && wrong_role.stderr.contains("[rule wrong_role]"),
        "{}",
        wrong_role.stderr
    );
    // …and cannot also become one (a reviewer key holds no other role): the trust list
    // is started again instead.
    env.check(
        &[
            "keys",
            "trust",
            &key.public,
            "--name",
            "release-bot",
            "--role",
            "signer",
        ],
        65,
        "a reviewer may hold no other role",
    );
    std::fs::remove_file(env.trust_file()).unwrap();
    env.trust(&key, "release-bot", "signer");
    env.check(&["verify"], 0, "the chain verifies");
    // A damaged trust file is a damaged store (70), not a verification verdict.
    env.file("ledger/trust.json", "{ not json");
    env.check(&["verify"], 70, "trust.json");
}

// ---------------------------------------------------------------------------------------
// 10. --json: exactly one document, whatever the exit code
// ---------------------------------------------------------------------------------------

#[test]
fn json_output_is_one_document_for_every_exit_code() {
    let env = Env::new();
    let key = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("good", GOOD), ("weak", WEAK), ("fair", BORDERLINE)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let bundle = env.path("bundle.json");
    let bad_bundle = env.path("bad-bundle.json");
    let trust = env.trust_file();
    let (credit, bundle_arg, bad_arg, trust_arg) =
        (s(&credit), s(&bundle), s(&bad_bundle), s(&trust));
    fn review<'a>(reason: &'a str, reviewer: &'a Key, release: &'a Key) -> Vec<&'a str> {
        vec![
            "review",
            "approve",
            "--decision",
            "2",
            "--key",
            reviewer.arg(),
            "--reason",
            reason,
            "--release-key",
            release.arg(),
        ]
    }
    let promote = |run: &'static str| {
        vec![
            "promote",
            "--run",
            run,
            "--model",
            "credit",
            "--policy",
            credit,
            "--key",
            key.arg(),
        ]
    };
    let gate = |run: &'static str| {
        vec![
            "gate", "--run", run, "--model", "credit", "--policy", credit,
        ]
    };
    // (arguments, exit code), in order: later commands see the effects of earlier ones.
    let steps: Vec<(Vec<&str>, i32)> = vec![
        (vec!["policy", "check", credit], 0),
        (vec!["keys", "list"], 0),
        (gate("good"), 0),
        (gate("weak"), 1),
        (gate("fair"), 2),
        (promote("good"), 0),
        (promote("weak"), 1),
        (promote("fair"), 2),
        (vec!["reviews", "--pending"], 0),
        (review("signer cannot review", &key, &key), 65),
        (review("fairness board agrees", &dana, &key), 0),
        (vec!["reviews"], 0),
        (vec!["decisions"], 0),
        (vec!["registry"], 0),
        (
            vec![
                "deploy",
                "--model",
                "credit",
                "--env",
                "production",
                "--artifact",
                s(&runs[0].artifact),
                "--key",
                key.arg(),
            ],
            0,
        ),
        (
            vec![
                "deploy",
                "--model",
                "credit",
                "--env",
                "production",
                "--artifact",
                s(&runs[1].artifact),
                "--key",
                key.arg(),
            ],
            65,
        ),
        (
            vec!["audit", s(&runs[0].artifact), "--bundle", bundle_arg],
            0,
        ),
        (vec!["audit", s(&runs[1].artifact)], 1),
        (vec!["verify"], 0),
        (vec!["verify-bundle", bundle_arg, "--trust", trust_arg], 0),
        (vec!["verify-bundle", bundle_arg], 65),
        (vec!["verify-bundle", bad_arg, "--trust", trust_arg], 1),
        (promote("ghost"), 65),
        (gate("ghost"), 65),
        (vec!["verify"], 1),
    ];
    let untrusted_at = steps.len() - 1;
    for (i, (args, code)) in steps.iter().enumerate() {
        if args.len() > 1 && args[..2] == ["verify-bundle", bad_arg] {
            // The bundle with the signature of its audited decision flipped.
            let text = std::fs::read_to_string(&bundle).unwrap();
            let mut b: Value = serde_json::from_str(&text).unwrap();
            let chain = b["records"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|r| r["key"] == "chain")
                .unwrap();
            let hex = chain["bytes"].as_str().unwrap();
            let flipped = format!(
                "{}{}",
                &hex[..hex.len() - 1],
                if hex.ends_with('0') { '1' } else { '0' }
            );
            chain["bytes"] = Value::from(flipped);
            std::fs::write(&bad_bundle, b.to_string()).unwrap();
        }
        if i == untrusted_at {
            std::fs::remove_file(env.ledger.path().join("trust.json")).unwrap();
        }
        let doc = env.json(args, *code);
        assert!(doc.is_object() || doc.is_array(), "{args:?}: {doc}");
        if *code >= 64 {
            assert_eq!(doc["exit_code"], *code, "{args:?}: {doc}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// 11. The trust model under attack
// ---------------------------------------------------------------------------------------

/// The private key in a key file, as whoever holds the file has it.
fn signing_key(key: &Key) -> vouch_chain::SigningKey {
    vouch_chain::SigningKey::from_file_text(&std::fs::read_to_string(&key.path).unwrap())
        .expect("a key file")
}

fn now() -> Timestamp {
    Timestamp::from_unix_nanos(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64,
    )
}

/// `d` signed with `key`, in the envelope Vouch gives a decision.
fn signed_decision(
    model: &ModelName,
    mut d: DecisionRecorded,
    key: &vouch_chain::SigningKey,
) -> Event {
    vouch_chain::sign_decision(model, &mut d, key);
    let hash = vouch_chain::decision_hash(model, &d);
    Event {
        id: EventId::new(format!("decision:{}", hash.hex())).unwrap(),
        time: d.decided_at,
        // Release records carry a fixed producer; the signer is who made them.
        producer: Producer::new("vouch-release").unwrap(),
        subject: Subject::Model(model.clone()),
        body: Body::DecisionRecorded(Box::new(d)),
    }
}

fn digest(text: &str) -> Digest {
    Digest::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// (f) One key cannot be trusted both to sign (or deploy) and to review: a reviewer is the
/// human check on what the release identity signs. A signer may also deploy.
#[test]
fn one_key_cannot_be_both_signer_and_reviewer() {
    let env = Env::new();
    let bot = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let before = std::fs::read(env.trust_file()).unwrap();
    for (key, name, role, held) in [
        (&bot, "release-bot", "reviewer", "signer"),
        (&dana, "Dana Whitfield", "signer", "reviewer"),
        (&dana, "Dana Whitfield", "deployer", "reviewer"),
    ] {
        let run = env.check(
            &["keys", "trust", &key.public, "--name", name, "--role", role],
            65,
            "a reviewer may hold no other role",
        );
        assert!(
            run.stderr.contains(&format!("already trusted as {held}"))
                && run.stderr.contains(&key.id),
            "{}",
            run.stderr
        );
    }
    // From the private key file too.
    env.check(
        &[
            "keys",
            "trust",
            dana.arg(),
            "--name",
            "Dana Whitfield",
            "--role",
            "signer",
        ],
        65,
        "a reviewer may hold no other role",
    );
    assert_eq!(
        std::fs::read(env.trust_file()).unwrap(),
        before,
        "refused changes leave trust.json as it was"
    );
    // One key has one name.
    env.check(
        &["keys", "trust", &bot.public, "--name", "someone else"],
        65,
        "one key has one name",
    );
    // A release key may deploy as well.
    env.check(
        &[
            "keys",
            "trust",
            &bot.public,
            "--name",
            "release-bot",
            "--role",
            "deployer",
        ],
        0,
        "as deployer",
    );
    let list = env.json(&["keys", "list"], 0);
    let roles: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key_id"].as_str().unwrap(), k["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        [
            (bot.id.as_str(), "signer"),
            (dana.id.as_str(), "reviewer"),
            (bot.id.as_str(), "deployer")
        ]
    );
    // A hand-edited trust list that gives one key both roles is judged as it says, but the
    // rule book still refuses a review by the key that signed the decision.
    let mut edited: Value = serde_json::from_slice(&before).unwrap();
    let mut entry = edited["keys"][0].clone();
    entry["role"] = json!("reviewer");
    edited["keys"].as_array_mut().unwrap().push(entry);
    std::fs::write(env.trust_file(), edited.to_string()).unwrap();
    let runs = env.publish(&[("first", GOOD)]);
    let sign_off = env.policy("sign-off.toml", CREDIT_SIGN_OFF);
    let waiting = env.promote("first", "credit", &sign_off, &bot, 2);
    let at = env.log_position();
    env.review("approve", &waiting, &bot, "my own work is fine", Some(&bot))
        .fails(65, "cannot review it");
    assert_eq!(env.log_position(), at, "nothing recorded");
    env.deploy("credit", "production", &runs[0].artifact, &bot, &[])
        .fails(65, "awaits review");
}

/// (a) A key trusted only as a reviewer cannot sign a promotion: `promote` refuses it and
/// records nothing. The same promotion made in another directory (a copy of this ledger
/// whose trust list the attacker wrote) and appended straight to this log is no promotion
/// here: not in the registry, not deployable, named by `verify`; and it does not block the
/// chain.
#[test]
fn a_reviewer_key_cannot_sign_a_promotion() {
    let env = Env::new();
    let signer = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("v1", GOOD)]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let before = env.log_position();
    let promote = |env: &Env, key: &Key| {
        env.vouch(&[
            "promote",
            "--run",
            "v1",
            "--model",
            "credit",
            "--policy",
            s(&credit),
            "--key",
            key.arg(),
        ])
    };
    let refused = promote(&env, &dana);
    refused.fails(65, "not as signer");
    assert!(
        refused.stderr.contains("[rule wrong_role]"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.log_position(), before, "nothing recorded");
    assert_eq!(env.json(&["registry"], 0), json!([]));
    // Nor can it enact anything or deploy.
    env.deploy("credit", "production", &runs[0].artifact, &dana, &[])
        .fails(65, "not as deployer");
    env.check(&["verify"], 0, "the chain verifies");

    // Elsewhere, the reviewer key is trusted to sign, and signs.
    let elsewhere = env.fork();
    std::fs::remove_file(elsewhere.trust_file()).unwrap();
    elsewhere.trust(&dana, "Dana Whitfield", "signer");
    let forged = elsewhere.promote("v1", "credit", &credit, &dana, 0);
    assert_eq!(elsewhere.registry("credit")["production"], 0);
    let at = env.append_raw(elsewhere.raw_records(before));
    assert_eq!(at, elsewhere.log_position());

    // Here it is no promotion.
    let registry = env.json(&["registry"], 0);
    assert!(
        registry
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["production"].is_null() && m["versions"] == json!([])),
        "{registry:#}"
    );
    assert!(env.decisions().is_empty());
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "never promoted");
    let verify = env.check(&["verify"], 1, "[rule wrong_role]");
    assert!(
        verify
            .stderr
            .contains(&format!("log position {at} (decision 0)")),
        "{}",
        verify.stderr
    );
    env.check(&["quarantine"], 0, "wrong_role");
    let audit = env.json(&["audit", s(&runs[0].artifact)], 1);
    assert_eq!(failed_checks(&audit["report"]["checks"]), ["promoted"]);

    // The chain goes on past it: the release key promotes, as decision 0.
    let real = env.promote("v1", "credit", &credit, &signer, 0);
    assert_ne!(real, forged);
    assert_eq!(env.decision(&real)["index"], 0);
    assert_eq!(env.registry("credit")["production"], 0);
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .ok();
}

/// (b) A rejection cannot be enacted as a promotion, even by the holder of the release key
/// appending a hand-signed record straight to the chain; the rejection is still enacted
/// after it.
#[test]
fn a_reject_review_cannot_enact_a_promotion() {
    let env = Env::new();
    let signer = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[("first", GOOD)]);
    let sign_off = env.policy("sign-off.toml", CREDIT_SIGN_OFF);
    let waiting = env.promote("first", "credit", &sign_off, &signer, 2);
    let rejected = env.review("reject", &waiting, &dana, "label leak in the holdout", None);
    assert!(
        rejected.code == 0 && rejected.stdout.contains("review enact"),
        "{rejected:?}"
    );
    env.check(&["reviews", "--pending"], 0, "awaiting enactment");

    // A "promotion" resolving the decision, citing the rejection, signed by the release key.
    let pending = env.decision(&waiting);
    let review = &pending["reviews"][0];
    assert_eq!(review["verdict"], "reject");
    let Body::DecisionRecorded(original) = env.event_at(pending["position"].as_u64().unwrap()).body
    else {
        panic!("not a decision")
    };
    let model = ModelName::new("credit").unwrap();
    let mut d = *original;
    d.index = 1;
    d.prev = Some(digest(pending["hash"].as_str().unwrap()));
    d.outcome = DecisionOutcome::Promoted;
    d.review = Some(ReviewLink {
        decision: digest(pending["hash"].as_str().unwrap()),
        review: digest(review["hash"].as_str().unwrap()),
        review_position: review["position"].as_u64().unwrap(),
    });
    d.decided_at = now();
    let forged = signed_decision(&model, d, &signing_key(&signer));
    let at = env.append_event("chain", &forged);

    assert_eq!(env.registry("credit")["production"], Value::Null);
    assert_eq!(env.decisions().len(), 1);
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "awaits review");
    let verify = env.check(&["verify"], 1, "[rule review_outcome]");
    assert!(
        verify
            .stderr
            .contains(&format!("log position {at} (decision 1)")),
        "{}",
        verify.stderr
    );

    // The rejection is enacted as decision 1 all the same.
    let enacted = env.check(
        &[
            "review",
            "enact",
            "--decision",
            &waiting,
            "--key",
            signer.arg(),
        ],
        0,
        "rejected",
    );
    let enacted = env.decision(&decision_id(&enacted.stdout));
    assert_eq!(enacted["index"], 1);
    assert_eq!(enacted["outcome"], "rejected");
    assert_eq!(env.registry("credit")["production"], Value::Null);
    env.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "never promoted");
}

/// (c) Two directories over one NATS stream, each with its own trust. An approval made in
/// the other directory, by keys this one does not trust, writes to the shared stream but
/// promotes nothing here: the registry shows no production version, `deploy` refuses the
/// artifact, `verify` names the records; this directory's own reviewer still decides.
#[test]
fn an_approval_signed_by_keys_this_directory_does_not_trust_promotes_nothing() {
    let server = NatsServer::start();
    let here = Env::with(TestLedger::nats(&server.url()));
    let signer = here.signer();
    let dana = here.reviewer("dana", "Dana Whitfield");
    let runs = here.publish(&[("first", GOOD)]);
    let sign_off = here.policy("sign-off.toml", CREDIT_SIGN_OFF);
    let waiting = here.promote("first", "credit", &sign_off, &signer, 2);

    // Another directory over the same stream: its owner trusts this directory's release key
    // (public, after all), and keys of their own to review, sign and deploy.
    let there = Env::with(TestLedger::nats(&server.url()));
    there.trust(&signer, "release-bot", "signer");
    let mallory = there.reviewer("mallory", "Dana Whitfield");
    let rogue = there.key("rogue");
    there.trust(&rogue, "release-bot 2", "signer");
    there.trust(&rogue, "release-bot 2", "deployer");
    let approved = there.review("approve", &waiting, &mallory, "trust me", Some(&rogue));
    assert!(
        approved.code == 0 && approved.stdout.contains("promoted"),
        "{approved:?}"
    );
    assert_eq!(there.registry("credit")["production"], 1);
    there
        .deploy("credit", "production", &runs[0].artifact, &rogue, &[])
        .ok();

    // Here: still waiting for review, nothing in production, nothing deployable.
    let registry = here.registry("credit");
    assert_eq!(registry["production"], Value::Null, "{registry:#}");
    assert_eq!(registry["versions"], json!([]), "{registry:#}");
    assert_eq!(registry["deployments"], json!([]), "{registry:#}");
    here.check(&["registry"], 0, "no promotion yet");
    assert_eq!(here.decisions().len(), 1);
    let pending = here.json(&["reviews", "--pending"], 0);
    assert_eq!(pending[0]["state"]["approvals"], 0, "{pending:#}");
    assert_eq!(pending[0]["decision"]["reviews"], json!([]), "{pending:#}");
    here.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .fails(65, "awaits review");
    let verify = here.check(&["verify"], 1, "not in the trust list");
    for id in [&mallory.id, &rogue.id] {
        assert!(verify.stderr.contains(id.as_str()), "{}", verify.stderr);
    }
    let audit = here.json(&["audit", s(&runs[0].artifact)], 1);
    assert_eq!(failed_checks(&audit["report"]["checks"]), ["promoted"]);

    // This directory's reviewer approves; its release key enacts, after the foreign records.
    let approved = here.review("approve", &waiting, &dana, "risk sign-off", Some(&signer));
    assert!(
        approved.code == 0 && approved.stdout.contains("promoted"),
        "{approved:?}"
    );
    let registry = here.registry("credit");
    assert_eq!(registry["production"], 1, "{registry:#}");
    assert_eq!(
        registry["versions"][0]["approved_by"],
        "Dana Whitfield, by review"
    );
    here.deploy("credit", "production", &runs[0].artifact, &signer, &[])
        .ok();
    here.check(&["audit", s(&runs[0].artifact)], 0, "");
}

/// Every release record of a bundle signed again (decisions and deployments with `key`,
/// reviews with `reviewer`), its links and ids made to fit, and the bundle's key names
/// pointing at those keys: a forgery consistent in itself.
fn resign_bundle(
    bundle: &Value,
    key: &vouch_chain::SigningKey,
    reviewer: &vouch_chain::SigningKey,
) -> Value {
    let mut b = bundle.clone();
    let mut renamed: std::collections::HashMap<Digest, Digest> = Default::default();
    let rename = |renamed: &std::collections::HashMap<Digest, Digest>, d: Digest| {
        renamed.get(&d).copied().unwrap_or(d)
    };
    for r in b["records"].as_array_mut().unwrap() {
        let bytes: Vec<u8> = (0..r["bytes"].as_str().unwrap().len() / 2)
            .map(|i| {
                u8::from_str_radix(&r["bytes"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap()
            })
            .collect();
        let mut event = vouch_event::decode(&bytes).expect("decodes");
        let Subject::Model(model) = event.subject.clone() else {
            continue;
        };
        let id = match &mut event.body {
            Body::DecisionRecorded(d) => {
                let old = vouch_chain::decision_hash(&model, d);
                d.prev = d.prev.map(|p| rename(&renamed, p));
                if let Some(link) = &mut d.review {
                    link.decision = rename(&renamed, link.decision);
                    link.review = rename(&renamed, link.review);
                }
                vouch_chain::sign_decision(&model, d, key);
                let new = vouch_chain::decision_hash(&model, d);
                renamed.insert(old, new);
                format!("decision:{}", new.hex())
            }
            Body::ReviewRecorded(rv) => {
                let old = vouch_chain::review_hash(&model, rv);
                rv.decision = rename(&renamed, rv.decision);
                vouch_chain::sign_review(&model, rv, reviewer);
                let new = vouch_chain::review_hash(&model, rv);
                renamed.insert(old, new);
                format!("review:{}", new.hex())
            }
            Body::DeploymentSigned(dep) => {
                dep.decision = dep.decision.map(|d| rename(&renamed, d));
                vouch_chain::sign_deployment(&model, dep, key);
                format!(
                    "deployment:{}",
                    vouch_chain::deployment_hash(&model, dep).hex()
                )
            }
            _ => continue,
        };
        event.id = EventId::new(id.clone()).unwrap();
        r["event_id"] = Value::from(id);
        r["bytes"] = Value::from(vouch_event::hex(&vouch_event::encode(&event)));
    }
    let entry = |k: &vouch_chain::SigningKey, name: &str, role: &str| {
        json!({
            "name": name,
            "role": role,
            "key": vouch_chain::public_key_text(&k.public()),
            "key_id": vouch_chain::key_id(&k.public()),
        })
    };
    b["keys"] = json!([
        entry(key, "release-bot", "signer"),
        entry(key, "release-bot", "deployer"),
        entry(reviewer, "Dana Whitfield", "reviewer"),
    ]);
    b
}

/// (d) Bundles are checked against the auditor's trust, never the keys written inside
/// them: a forgery re-signed with self-made keys (and naming them) fails against the real
/// trust list though it is consistent in itself; a flipped byte in any record, or a
/// removed deployment record, fails it. The bundle holds every kind of record: evidence,
/// the policy, the previous decision (also the one the audited decision resolves), its
/// review, the audited decision, the artifact's deployment and a later decision.
#[test]
fn forged_or_damaged_bundles_fail_against_the_auditors_trust() {
    let env = Env::new();
    let key = env.signer();
    let dana = env.reviewer("dana", "Dana Whitfield");
    let runs = env.publish(&[
        ("v0", GOOD),
        ("v1", BORDERLINE),
        ("v2", Metrics { auc: 0.866, ..GOOD }),
    ]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    env.promote("v0", "credit", &credit, &key, 0);
    let waiting = env.promote("v1", "credit", &credit, &key, 2);
    env.review(
        "approve",
        &waiting,
        &dana,
        "parity gap explained",
        Some(&key),
    )
    .ok();
    env.deploy("credit", "production", &runs[1].artifact, &key, &[])
        .ok();
    env.promote("v2", "credit", &credit, &key, 0);
    let bundle_path = env.path("bundle.json");
    env.check(
        &["audit", s(&runs[1].artifact), "--bundle", s(&bundle_path)],
        0,
        "audit bundle written",
    );
    let bundle: Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle_path).unwrap()).unwrap();
    let records = bundle["records"].as_array().unwrap();
    let ids: Vec<&str> = records
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    for kind in ["policy:", "decision:", "review:", "deployment:", "v1:"] {
        assert!(
            ids.iter().any(|id| id.starts_with(kind)),
            "no {kind} record in {ids:?}"
        );
    }
    assert_eq!(
        ids.iter().filter(|id| id.starts_with("decision:")).count(),
        3,
        "{ids:?}"
    );
    let trust = env.trust_file();
    let verify = |name: &str, b: &Value, auditor: &[&str]| -> Run {
        let path = env.file(&format!("{name}.json"), &b.to_string());
        let mut args = vec!["verify-bundle", s(&path)];
        args.extend_from_slice(auditor);
        env.vouch(&args)
    };
    let real = ["--trust", s(&trust)];
    let ok = verify("original", &bundle, &real);
    assert_eq!(ok.code, 0, "{ok:?}");

    // The attacker's keys, and the bundle re-signed with them throughout.
    let attacker = env.key("attacker");
    let mallory = env.key("mallory");
    let forged = resign_bundle(&bundle, &signing_key(&attacker), &signing_key(&mallory));
    assert_ne!(forged["records"], bundle["records"]);
    let theirs = [
        "--key",
        attacker.public.as_str(),
        "--role",
        "signer",
        "--key",
        attacker.public.as_str(),
        "--role",
        "deployer",
        "--key",
        mallory.public.as_str(),
        "--role",
        "reviewer",
    ];
    // Consistent in itself: an auditor who trusted the attacker's keys would accept it…
    let consistent = verify("forged-own-trust", &forged, &theirs);
    assert_eq!(
        consistent.code, 0,
        "the forgery is not self-consistent: {consistent:?}"
    );
    // …but against the real trust it fails, naming the unknown keys.
    let refused = verify("forged", &forged, &real);
    refused.fails(1, "the bundle does not verify");
    for id in [&attacker.id, &mallory.id] {
        assert!(
            refused
                .stderr
                .contains(&format!("key {id} is not in the trust list")),
            "{}",
            refused.stderr
        );
    }
    // And the genuine bundle does not verify under the attacker's trust.
    verify("original-their-trust", &bundle, &theirs).fails(1, "the bundle does not verify");
    // The key names alone swapped to the attacker's: names carry no trust either way.
    let mut renamed = bundle.clone();
    renamed["keys"] = forged["keys"].clone();
    assert_eq!(verify("renamed", &renamed, &real).code, 0);
    verify("renamed-their-trust", &renamed, &theirs).fails(1, "the bundle does not verify");

    // One flipped bit in any record fails the bundle: the first and last byte of every
    // record and every 16th between.
    let mut flips = 0;
    for (i, record) in records.iter().enumerate() {
        let hex = record["bytes"].as_str().unwrap();
        let len = hex.len() / 2;
        for at in (0..len).step_by(16).chain([len - 1]) {
            let byte = u8::from_str_radix(&hex[2 * at..2 * at + 2], 16).unwrap() ^ 0x01;
            let mut flipped = bundle.clone();
            flipped["records"][i]["bytes"] = Value::from(format!(
                "{}{byte:02x}{}",
                &hex[..2 * at],
                &hex[2 * at + 2..]
            ));
            let run = verify("flipped", &flipped, &real);
            assert_eq!(
                run.code, 1,
                "byte {at} of record {} ({}) flipped, and the bundle still verifies:\n{}",
                record["position"], record["event_id"], run.stdout
            );
            flips += 1;
        }
    }
    assert!(flips > 50, "{flips} flips");
    // Without the deployment record it fails too.
    let mut undeployed = bundle.clone();
    undeployed["records"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["event_id"].as_str().unwrap().starts_with("deployment:"));
    assert_eq!(
        undeployed["records"].as_array().unwrap().len(),
        records.len() - 1
    );
    verify("undeployed", &undeployed, &real).fails(1, "no valid deployment");
}

/// (e) Revoking a key: what it signed before `--from` still verifies, what it signed from
/// then on is refused (the views are judged again: the registry forgets a promotion it
/// signed after `--from`), it can sign nothing new, and the chain goes on with another key.
#[test]
fn a_revoked_key_keeps_its_earlier_decisions_and_signs_nothing_later() {
    let env = Env::new();
    let old = env.signer();
    let ops = env.key("ops");
    env.trust(&ops, "ops on call", "deployer");
    let runs = env.publish(&[("v1", GOOD), ("v2", Metrics { auc: 0.866, ..GOOD })]);
    let credit = env.policy("credit.toml", CREDIT_POLICY);
    let d0 = env.promote("v1", "credit", &credit, &old, 0);
    env.deploy("credit", "production", &runs[0].artifact, &ops, &[])
        .ok();
    let d1 = env.promote("v2", "credit", &credit, &old, 0);
    assert_eq!(env.registry("credit")["production"], 1);
    let from = env.decision(&d1)["decided_at"]
        .as_str()
        .expect("decided_at")
        .to_owned();

    // Revoked from the moment decision 1 was signed (as if the key leaked just before).
    let revoked = env.check(
        &[
            "keys",
            "revoke",
            &old.public,
            "--reason",
            "laptop stolen",
            "--from",
            &from,
        ],
        0,
        "revoked key",
    );
    assert!(revoked.stdout.contains(&old.id), "{}", revoked.stdout);
    env.check(&["keys", "list"], 0, "laptop stolen");
    let list = env.json(&["keys", "list"], 0);
    assert_eq!(list[0]["revoked"]["reason"], "laptop stolen", "{list:#}");

    // Decision 0 stands; decision 1, signed at `--from`, is refused.
    let registry = env.registry("credit");
    assert_eq!(registry["production"], 0, "{registry:#}");
    assert_eq!(registry["versions"].as_array().unwrap().len(), 1);
    let verify = env.check(&["verify"], 1, "[rule key_revoked]");
    assert!(
        verify.stderr.contains("(decision 1)")
            && verify.stderr.contains("laptop stolen")
            && !verify.stderr.contains("(decision 0)"),
        "{}",
        verify.stderr
    );
    let audit = env.json(&["audit", s(&runs[0].artifact)], 0);
    assert_eq!(audit["ok"], true, "{audit:#}");
    env.deploy("credit", "production", &runs[1].artifact, &ops, &[])
        .fails(65, "never promoted");

    // The revoked key signs nothing new: no decision, no deployment.
    let before = env.log_position();
    let refused = env.vouch(&[
        "promote",
        "--run",
        "v2",
        "--model",
        "credit",
        "--policy",
        s(&credit),
        "--key",
        old.arg(),
    ]);
    refused.fails(65, "[rule key_revoked]");
    env.deploy("credit", "staging", &runs[0].artifact, &old, &[])
        .fails(65, "refused by the rule book");
    assert_eq!(env.log_position(), before);

    // A new release key takes over; the chain goes on from decision 0.
    let new = env.key("release-bot-2");
    env.trust(&new, "release-bot 2", "signer");
    let d1b = env.promote("v2", "credit", &credit, &new, 0);
    assert_eq!(env.decision(&d1b)["index"], 1);
    assert_eq!(env.registry("credit")["production"], 1);
    env.deploy("credit", "production", &runs[1].artifact, &ops, &[])
        .ok();
    // A bundle of the first release, made now, verifies against the trust list that
    // revoked its signer: it signed decision 0 before `--from`.
    let bundle = env.path("v1-bundle.json");
    env.check(
        &["audit", s(&runs[0].artifact), "--bundle", s(&bundle)],
        0,
        "audit bundle written",
    );
    env.check(
        &["verify-bundle", s(&bundle), "--trust", s(&env.trust_file())],
        0,
        "bundle verifies",
    );
    assert_ne!(d0, d1b);

    // Revoking twice, an unknown key, or without a reason: refused.
    env.check(
        &["keys", "revoke", &old.public, "--reason", "again"],
        65,
        "already revoked",
    );
    let stranger = env.key("stranger");
    env.check(
        &["keys", "revoke", &stranger.public, "--reason", "who?"],
        65,
        "not in the trust list",
    );
    env.check(
        &["keys", "revoke", &new.public, "--reason", " "],
        65,
        "--reason",
    );

    // A key valid only from tomorrow signs nothing today.
    let later = env.key("later");
    let tomorrow = {
        let t = now().unix_nanos() + 86_400_000_000_000;
        Timestamp::from_unix_nanos(t).to_string()
    };
    env.check(
        &[
            "keys",
            "trust",
            &later.public,
            "--name",
            "later",
            "--role",
            "deployer",
            "--valid-from",
            &tomorrow,
        ],
        0,
        "as deployer",
    );
    env.deploy("credit", "staging", &runs[1].artifact, &later, &[])
        .fails(65, "only from");
}

/// An artifact promoted twice (the same model file, promoted again, then deployed to a
/// second environment): each promotion's bundle verifies on its own. A deployment citing
/// the earlier promotion belongs to that promotion's bundle, not to the later one's, where
/// the decision it cites is absent.
#[test]
fn each_promotion_of_an_artifact_promoted_twice_has_a_bundle_that_verifies() {
    let ledger = crate::support::TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let files = ledger.path().join("demo-files");
    let key = files.join("release-signer.key");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let digest = ledger
        .vouch(&["--json", "runs", "show", "loan-risk-b"])
        .json()["artifacts"][0]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    ledger
        .vouch(&[
            "promote",
            "--run",
            "loan-risk-b",
            "--model",
            "loan-risk",
            "--policy",
            &s(&files.join("loan-risk-policy.toml")),
            "--key",
            &s(&key),
        ])
        .ok();
    ledger
        .vouch(&[
            "deploy",
            "--model",
            "loan-risk",
            "--env",
            "staging",
            "--digest",
            &digest,
            "--key",
            &s(&key),
        ])
        .ok();
    let trust = ledger.path().join("trust.json");
    let later = ledger.tmp.path().join("later.json");
    ledger
        .vouch(&["audit", "--digest", &digest, "--bundle", &s(&later)])
        .ok();
    for bundle in [later, files.join("loan-risk-b.audit-bundle.json")] {
        let verified = ledger.vouch(&["verify-bundle", &s(&bundle), "--trust", &s(&trust)]);
        assert_eq!(
            verified.code,
            0,
            "{}: {}{}",
            bundle.display(),
            verified.stdout,
            verified.stderr
        );
    }
}
