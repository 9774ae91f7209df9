//! A second verifier, written in Python from `schemas/` alone
//! (`verifiers/python/vouch_verify.py`), against the real `vouch`: its unit checks over
//! every known-answer vector, then a small real ledger (a decision, a review, its enactment, a
//! deployment: every kind of release record), a checkpoint a
//! witness cosigned, an audit bundle, an exported log and proofs, which it must accept,
//! and two tamper sweeps in which every byte flipped once must get the same verdict from
//! both verifiers (vouch's from the library code its command line runs, in process).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use vouch_ledger::{Bundle, ExportedLog, Trust, TrustFile};
use vouch_tlog::checkpoint::Checkpoint;
use vouch_tlog::note::{Note, VerifierKey};
use vouch_tlog::policy::Policy;

use crate::support::TestLedger;

const WITNESS: &str = "witness.second-verifier.test";

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn verifier_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../verifiers/python")
}

/// The Python interpreter with PyNaCl importable, or `None` (the test is skipped) outside
/// CI. Under `CI=true` a missing interpreter or PyNaCl fails the test.
fn python() -> Option<String> {
    let python = std::env::var("VOUCH_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import sys, nacl.bindings; assert sys.version_info >= (3, 11)",
        ])
        .stdin(Stdio::null())
        .output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!(
            "{python} cannot import PyNaCl (or is older than 3.11): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run {python}: {e}"),
    };
    let hint = "run the tests with ./scripts/test, which installs the pinned PyNaCl under \
                target/test-tools and sets PYTHONPATH, or set VOUCH_TEST_PYTHON";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{problem}: {hint}");
    }
    eprintln!("skipping the second verifier: {problem}: {hint}");
    None
}

/// Runs `vouch_verify.py ARGS…`; returns (exit code, stdout, stderr).
fn py(python: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(python)
        .arg(verifier_dir().join("vouch_verify.py"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run the Python verifier");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn py_ok(python: &str, args: &[&str]) {
    let (code, out, err) = py(python, args);
    assert_eq!(code, 0, "vouch_verify.py {args:?}:\n{out}\n{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("--json output");
    assert_eq!(json["ok"], true, "{out}");
}

fn py_fails(python: &str, args: &[&str], want: i32) {
    let (code, out, err) = py(python, args);
    assert_eq!(code, want, "vouch_verify.py {args:?}:\n{out}\n{err}");
}

#[test]
fn the_python_verifier_passes_its_vector_checks() {
    let Some(python) = python() else { return };
    let out = Command::new(&python)
        .arg(verifier_dir().join("test_vouch_verify.py"))
        .stdin(Stdio::null())
        .output()
        .expect("run the Python unit checks");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "test_vouch_verify.py failed:\n{err}");
    println!("{}", err.lines().last().unwrap_or_default());
}

/// Every `stride`-th flip of the sweeps: 1 (every byte) unless
/// `VOUCH_SECOND_VERIFIER_STRIDE` says otherwise (the unoptimised test build takes minutes
/// for every byte).
fn stride() -> usize {
    std::env::var("VOUCH_SECOND_VERIFIER_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n >= 1)
        .unwrap_or(1)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A case's text for the batch: as a string when it is UTF-8, else as hex.
fn text_field(bytes: &[u8]) -> (&'static str, serde_json::Value) {
    match std::str::from_utf8(bytes) {
        Ok(t) => ("text", t.into()),
        Err(_) => ("text_hex", hex(bytes).into()),
    }
}

/// One row of the Python batch output.
#[derive(Debug, Clone, PartialEq)]
struct PyVerdict {
    ok: bool,
    failure_position: Option<u64>,
    ok_without_log: bool,
    failure_position_without_log: Option<u64>,
}

/// Runs the batch mode once over the `n` cases `case(i)` makes, streamed through a pipe
/// while `vouch_side(i)` computes vouch's verdicts on this thread. Returns both, by case.
fn run_batch<V: Send>(
    python: &str,
    n: usize,
    case: impl Fn(usize) -> serde_json::Value + Send + Sync,
    vouch_side: impl Fn(usize) -> V + Sync,
) -> (Vec<PyVerdict>, Vec<V>) {
    let mut child = Command::new(python)
        .arg(verifier_dir().join("vouch_verify.py"))
        .args(["batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run the Python batch");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (rows, ours) = std::thread::scope(|scope| {
        let case = &case;
        scope.spawn(move || {
            let mut w = BufWriter::new(stdin);
            for i in 0..n {
                let mut line = serde_json::to_string(&case(i)).unwrap();
                line.push('\n');
                if w.write_all(line.as_bytes()).is_err() {
                    return;
                }
            }
            let _ = w.flush();
        });
        let reader = scope.spawn(move || {
            let mut rows = vec![None; n];
            for line in BufReader::new(stdout).lines() {
                let line = line.expect("batch output");
                let row: serde_json::Value = serde_json::from_str(&line).expect("a JSON row");
                assert!(
                    row.get("error")
                        .is_none_or(|e| !e.as_str().unwrap_or_default().starts_with("exception")),
                    "the Python verifier crashed on a case: {row}"
                );
                let i: usize = row["id"].as_str().unwrap().parse().unwrap();
                let pos = |v: &serde_json::Value| v.as_u64();
                rows[i] = Some(PyVerdict {
                    ok: row["ok"].as_bool().unwrap(),
                    failure_position: pos(&row["failure_position"]),
                    ok_without_log: row
                        .get("ok_without_log")
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false),
                    failure_position_without_log: row
                        .get("failure_position_without_log")
                        .and_then(pos),
                });
            }
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| r.unwrap_or_else(|| panic!("no verdict for case {i}")))
                .collect::<Vec<_>>()
        });
        let t = std::time::Instant::now();
        // vouch's side on every core (the test profile builds the workspace unoptimised).
        let workers = std::thread::available_parallelism().map_or(2, |p| p.get().min(8));
        let chunk = n.div_ceil(workers).max(1);
        let vouch_side = &vouch_side;
        let parts: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                scope.spawn(move || {
                    (from..(from + chunk).min(n))
                        .map(vouch_side)
                        .collect::<Vec<V>>()
                })
            })
            .collect();
        let ours: Vec<V> = parts
            .into_iter()
            .flat_map(|p| p.join().expect("a vouch worker"))
            .collect();
        let vouch_seconds = t.elapsed().as_secs_f64();
        let rows = reader.join().expect("reader");
        println!(
            "  {n} cases: vouch's verdicts in {vouch_seconds:.1} s, Python's batch done {:.1} s after the start",
            t.elapsed().as_secs_f64()
        );
        (rows, ours)
    });
    assert!(child.wait().unwrap().success(), "the batch failed");
    (rows, ours)
}

/// Byte ranges of the JSON string values (or arrays) of `field` in `text`.
fn value_ranges(text: &str, field: &str) -> Vec<(usize, usize)> {
    let needle = format!("\"{field}\":");
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find(&needle) {
        let mut i = from + at + needle.len();
        while bytes[i] == b' ' {
            i += 1;
        }
        let start = i;
        let end = if bytes[i] == b'[' {
            start + text[start..].find(']').unwrap()
        } else {
            // A string: to the closing quote not escaped.
            let mut j = start + 1;
            while bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            j
        };
        out.push((start, end + 1));
        from = end + 1;
    }
    out
}

struct World {
    ledger: TestLedger,
    trust_path: PathBuf,
    trust_json: serde_json::Value,
    log_vkey: String,
    witness_vkey: String,
    /// The checkpoint with the witness's cosignature.
    cosigned: PathBuf,
    cosigned_text: String,
    /// The same checkpoint, signed by the log only.
    uncosigned: PathBuf,
    bundle: PathBuf,
    /// The model file the ledger promoted and deployed.
    model: PathBuf,
    export: PathBuf,
}

/// A policy every candidate above the floor passes, with a human sign-off on each release:
/// the smallest story with a decision, a review, the decision enacting it and a deployment.
const SIGN_OFF: &str = r#"model = "credit"
version = "sweep-1"

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

/// A small real ledger: one run with a metric and a model file, a policy, a decision that
/// needs review, the review that approves it, the decision that enacts it and a signed
/// deployment (9 records). Small, so that flipping every byte of its bundle and its log
/// stays within the CI budget while covering every kind of release record.
fn small_ledger() -> (TestLedger, PathBuf) {
    let ledger = TestLedger::new();
    let dir = ledger.tmp.path().to_owned();
    let release = dir.join("release.key");
    let reviewer = dir.join("reviewer.key");
    for key in [&release, &reviewer] {
        ledger.vouch(&["keys", "generate", "--out", s(key)]).ok();
    }
    ledger
        .vouch(&[
            "keys",
            "trust",
            s(&release),
            "--name",
            "release bot",
            "--role",
            "signer",
        ])
        .ok();
    ledger
        .vouch(&[
            "keys",
            "trust",
            s(&reviewer),
            "--name",
            "Dana Reviewer",
            "--role",
            "reviewer",
        ])
        .ok();
    let run = "credit-cand";
    ledger
        .vouch(&[
            "run",
            "start",
            "--experiment",
            "credit",
            "--run-id",
            run,
            "--git",
            "none",
        ])
        .ok();
    ledger
        .vouch(&["log", "metric", "--run", run, "auc=0.861"])
        .ok();
    let model = ledger.file("model.bin", b"a credit model, weights and all");
    ledger
        .vouch(&["log", "artifact", "--run", run, s(&model)])
        .ok();
    ledger
        .vouch(&["run", "finish", "--run", run, "--status", "ok"])
        .ok();
    let policy = ledger.file("credit.toml", SIGN_OFF.as_bytes());
    let promoted = ledger.vouch(&[
        "promote",
        "--run",
        run,
        "--model",
        "credit",
        "--policy",
        s(&policy),
        "--key",
        s(&release),
    ]);
    let decision = promoted
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("decision "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no decision printed: {promoted:?}"))
        .to_owned();
    ledger
        .vouch(&[
            "review",
            "approve",
            "--decision",
            &decision,
            "--key",
            s(&reviewer),
            "--reason",
            "numbers hold",
            "--release-key",
            s(&release),
        ])
        .ok();
    ledger
        .vouch(&[
            "deploy",
            "--model",
            "credit",
            "--env",
            "production",
            "--artifact",
            s(&model),
            "--key",
            s(&release),
        ])
        .ok();
    (ledger, model)
}

fn world() -> World {
    let (ledger, model) = small_ledger();
    let dir = ledger.tmp.path().to_owned();
    let trust_path = ledger.path().join("trust.json");
    let trust_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&trust_path).unwrap()).unwrap();
    let log_key = dir.join("log.key");
    let witness_key = dir.join("witness.key");
    ledger
        .vouch(&["keys", "generate", "--out", s(&log_key)])
        .ok();
    ledger
        .vouch(&["keys", "generate", "--out", s(&witness_key)])
        .ok();
    let note = ledger
        .vouch(&["checkpoint", "--key", s(&log_key)])
        .ok()
        .to_owned();
    let origin = note.lines().next().unwrap().to_owned();
    let log_vkey = ledger
        .vouch(&["keys", "vkey", "--key", s(&log_key), "--name", &origin])
        .ok()
        .trim()
        .to_owned();
    let witness_vkey = ledger
        .vouch(&[
            "keys",
            "vkey",
            "--key",
            s(&witness_key),
            "--name",
            WITNESS,
            "--cosigner",
        ])
        .ok()
        .trim()
        .to_owned();
    // The witness's first request for this origin: old 0, no proof.
    let request = ledger.file("request", format!("old 0\n\n{note}").as_bytes());
    let line = ledger
        .vouch(&[
            "witness",
            "--state",
            s(&dir.join("witness-state")),
            "--key",
            s(&witness_key),
            "--name",
            WITNESS,
            "--log",
            &log_vkey,
            s(&request),
        ])
        .ok()
        .to_owned();
    let cosigned_text = format!("{note}{line}");
    let cosigned = ledger.file("cosigned.checkpoint", cosigned_text.as_bytes());
    let uncosigned = ledger.file("log-only.checkpoint", note.as_bytes());
    let bundle = dir.join("bundle.json");
    ledger
        .vouch(&[
            "audit",
            s(&model),
            "--bundle",
            s(&bundle),
            "--checkpoint",
            s(&cosigned),
        ])
        .ok();
    let export = dir.join("log.jsonl");
    ledger.vouch(&["export", s(&export)]).ok();
    World {
        ledger,
        trust_path,
        trust_json,
        log_vkey,
        witness_vkey,
        cosigned,
        cosigned_text,
        uncosigned,
        bundle,
        model,
        export,
    }
}

#[test]
fn the_python_verifier_accepts_a_real_ledger_and_agrees_with_vouch_on_every_flipped_byte() {
    let Some(python) = python() else { return };
    let w = world();
    let trust = <Trust as TrustFile>::read(&w.trust_path).expect("the ledger's trust list");
    let policy = Policy::from_keys(
        vec![VerifierKey::parse(&w.log_vkey).unwrap()],
        vec![VerifierKey::parse(&w.witness_vkey).unwrap()],
        1,
    )
    .unwrap();
    let (trust_s, log_s, wit_s) = (
        s(&w.trust_path),
        w.log_vkey.as_str(),
        w.witness_vkey.as_str(),
    );
    let logged = ["--log", log_s, "--witness", wit_s, "--quorum", "1"];

    // Everything vouch wrote verifies under the second verifier.
    let mut args = vec!["bundle", s(&w.bundle), "--trust", trust_s, "--json"];
    py_ok(&python, &args);
    args.extend(logged);
    py_ok(&python, &args);
    let mut args = vec!["log", s(&w.export), "--trust", trust_s, "--json"];
    py_ok(&python, &args);
    args.extend(["--checkpoint", s(&w.cosigned)]);
    args.extend(logged);
    py_ok(&python, &args);
    let mut args = vec!["checkpoint", s(&w.cosigned), "--json"];
    args.extend(logged);
    py_ok(&python, &args);
    // The note before the witness cosigned it: short of the quorum. No trust: bad input.
    let mut args = vec!["checkpoint", s(&w.uncosigned)];
    args.extend(logged);
    py_fails(&python, &args, 1);
    py_fails(
        &python,
        &["bundle", s(&w.bundle), "--trust", "/nonexistent"],
        65,
    );

    // The bundle naming its artifact by sha256, as supply-chain tools do: both verifiers
    // resolve it through the artifact_logged record the bundle holds, and both refuse a
    // sha256 no record carries.
    let sha256 = vouch_files::hash::hash_file(&w.model, false)
        .expect("hash the model")
        .sha256;
    let mut named: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&w.bundle).unwrap()).unwrap();
    named["artifact"] = format!("sha256:{}", hex(&sha256)).into();
    let by_sha256 = w
        .ledger
        .file("bundle-sha256.json", named.to_string().as_bytes());
    let mut unknown = sha256;
    unknown[31] ^= 1;
    named["artifact"] = format!("sha256:{}", hex(&unknown)).into();
    let by_unknown = w
        .ledger
        .file("bundle-unknown.json", named.to_string().as_bytes());
    let mut args = vec!["bundle", s(&by_sha256), "--trust", trust_s, "--json"];
    args.extend(logged);
    py_ok(&python, &args);
    args[1] = s(&by_unknown);
    py_fails(&python, &args, 1);
    let mut args = vec!["verify-bundle", s(&by_sha256), "--trust", trust_s];
    args.extend(logged);
    w.ledger.vouch(&args).ok();
    args[1] = s(&by_unknown);
    w.ledger
        .vouch(&args)
        .fails(1, "no artifact_logged record in the bundle carries sha256:");

    // Inclusion proofs of some records, against the cosigned checkpoint.
    let export_text = std::fs::read_to_string(&w.export).unwrap();
    let records: Vec<Vec<u8>> = export_text
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            unhex(v["bytes"].as_str().unwrap())
        })
        .collect();
    let size = records.len() as u64;
    for position in [1, 2, size / 2, size - 1, size] {
        let proof = w
            .ledger
            .vouch(&[
                "prove",
                "inclusion",
                "--position",
                &position.to_string(),
                "--checkpoint",
                s(&w.cosigned),
            ])
            .ok()
            .to_owned();
        let proof_file = w
            .ledger
            .file(&format!("p{position}.tlog-proof"), proof.as_bytes());
        let record = &records[(position - 1) as usize];
        let record_file = w.ledger.file(&format!("r{position}.bin"), record);
        let mut args = vec![
            "inclusion",
            s(&proof_file),
            "--record",
            s(&record_file),
            "--json",
        ];
        args.extend(logged);
        py_ok(&python, &args);
        let mut other = record.clone();
        let last = other.len() - 1;
        other[last] ^= 1;
        let other_file = w.ledger.file(&format!("r{position}.other"), &other);
        args[3] = s(&other_file);
        py_fails(&python, &args, 1);
    }

    // Grow the log, sign a second checkpoint; the consistency proof between them verifies.
    w.ledger.start_run("second-verifier-1");
    let second = w
        .ledger
        .vouch(&[
            "checkpoint",
            "--key",
            s(&w.ledger.tmp.path().join("log.key")),
        ])
        .ok()
        .to_owned();
    let second_file = w.ledger.file("second.checkpoint", second.as_bytes());
    let proof = w
        .ledger
        .vouch(&[
            "prove",
            "consistency",
            "--from",
            s(&w.cosigned),
            "--to",
            s(&second_file),
        ])
        .ok()
        .to_owned();
    let proof_file = w.ledger.file("consistency.proof", proof.as_bytes());
    let args = [
        "consistency",
        "--from",
        s(&w.cosigned),
        "--to",
        s(&second_file),
        "--proof",
        s(&proof_file),
        "--log",
        log_s,
        "--json",
    ];
    py_ok(&python, &args);
    let mut lines: Vec<&str> = proof.lines().collect();
    assert!(lines.len() > 1, "{proof}");
    let flipped = {
        let mut h = lines[1].as_bytes().to_vec();
        h[0] = if h[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(h).unwrap()
    };
    lines[1] = &flipped;
    let bad = w
        .ledger
        .file("bad.proof", (lines.join("\n") + "\n").as_bytes());
    let mut bad_args = args;
    bad_args[6] = s(&bad);
    py_fails(&python, &bad_args, 1);

    sweep_bundle(&python, &w, &trust, &policy);
    sweep_log(&python, &w, &trust, &export_text);
}

/// The checks `verify_bundle_in_log` adds with the log key (`audit-bundle.md`, "The log
/// checks"): the others are exactly those `verify_bundle` runs without it.
const LOG_CHECKS: [&str; 3] = ["checkpoint", "inclusion", "log pin"];

/// vouch's verdicts on bundle bytes, as `vouch verify-bundle` reaches them: without the
/// log key, and with it (one run: the checks without the key are a subset).
fn vouch_bundle_verdicts(bytes: &[u8], trust: &Trust, policy: &Policy) -> (bool, bool) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return (false, false);
    };
    let Ok(bundle) = serde_json::from_str::<Bundle>(text) else {
        return (false, false);
    };
    let checks = vouch_ledger::verify_bundle_in_log(&bundle, trust, Some(policy));
    let plain: Vec<_> = checks
        .iter()
        .filter(|c| !LOG_CHECKS.contains(&c.what.as_str()))
        .collect();
    (
        !plain.is_empty() && plain.iter().all(|c| c.ok),
        !checks.is_empty() && checks.iter().all(|c| c.ok),
    )
}

fn sweep_bundle(python: &str, w: &World, trust: &Trust, policy: &Policy) {
    let original = std::fs::read(&w.bundle).unwrap();
    let text = std::str::from_utf8(&original).unwrap();
    // Flips here must be refused when the log key is given: records' bytes, the
    // checkpoint, the proofs.
    let mut protected = BTreeSet::new();
    for field in ["bytes", "checkpoint", "inclusion", "pinned"] {
        for (a, b) in value_ranges(text, field) {
            protected.extend(a..b);
        }
    }
    assert!(protected.len() > original.len() / 3, "{}", protected.len());
    let at: Vec<usize> = (0..original.len()).step_by(stride()).collect();
    let flip = |i: usize| {
        let mut b = original.clone();
        b[at[i]] ^= 0x01;
        b
    };
    let (trust_json, log_vkey, witness) = (&w.trust_json, &w.log_vkey, &w.witness_vkey);
    let n = at.len();
    // The verdict without the key, read off the run with it, is `verify_bundle`'s.
    for i in (0..n).step_by(101).chain([usize::MAX]) {
        let bytes = if i == usize::MAX {
            original.clone()
        } else {
            flip(i)
        };
        let alone = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| serde_json::from_str::<Bundle>(t).ok())
            .is_some_and(|b| {
                let checks = vouch_ledger::verify_bundle(&b, trust);
                !checks.is_empty() && checks.iter().all(|c| c.ok)
            });
        assert_eq!(
            vouch_bundle_verdicts(&bytes, trust, policy).0,
            alone,
            "byte {i}"
        );
    }
    let started = std::time::Instant::now();
    let (rows, ours) = run_batch(
        python,
        n,
        |i| {
            let (field, value) = text_field(&flip(i));
            let mut case = serde_json::json!({
                "id": i.to_string(), "kind": "bundle", "trust": trust_json,
                "log": log_vkey, "witnesses": [witness], "quorum": 1, "checkpoint": null,
            });
            case[field] = value;
            case
        },
        |i| vouch_bundle_verdicts(&flip(i), trust, policy),
    );
    let mut agree = 0;
    let mut disagreements = Vec::new();
    let mut accepted = (0, 0);
    let mut checked_protected = 0;
    for (k, (py, (plain, logged))) in rows.iter().zip(&ours).enumerate() {
        let i = at[k];
        let same = py.ok_without_log == *plain && py.ok == *logged;
        if same {
            agree += 1;
        } else {
            disagreements.push(format!(
                "byte {i} ({:?} -> {:?}): vouch {plain}/{logged} with the log, python {py:?}; context {:?}",
                original[i] as char,
                (original[i] ^ 1) as char,
                String::from_utf8_lossy(&original[i.saturating_sub(40)..(i + 20).min(original.len())])
            ));
        }
        accepted.0 += usize::from(*plain);
        accepted.1 += usize::from(*logged);
        if protected.contains(&i) {
            checked_protected += 1;
            assert!(!py.ok && !logged, "byte {i} flipped inside a record, the checkpoint or a proof is accepted with --log");
        }
    }
    println!(
        "second verifier, bundle sweep: {n} cases ({checked_protected} in records, checkpoint and proofs), {agree} agreements \
         on both verdicts; vouch accepted {} without the log key and {} with it ({:.1} s)",
        accepted.0,
        accepted.1,
        started.elapsed().as_secs_f64()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn sweep_log(python: &str, w: &World, trust: &Trust, export_text: &str) {
    let lines: Vec<&str> = export_text.lines().collect();
    let records: Vec<serde_json::Value> = lines[1..]
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let note = Note::parse(w.cosigned_text.as_bytes()).unwrap();
    let checkpoint = Checkpoint::parse(note.text()).unwrap();
    // Every (record, byte) flip.
    let mut flips = Vec::new();
    for (r, record) in records.iter().enumerate() {
        let len = record["bytes"].as_str().unwrap().len() / 2;
        flips.extend((0..len).map(|j| (r, j)));
    }
    let stride = stride();
    let flips: Vec<(usize, usize)> = flips.into_iter().step_by(stride).collect();
    let text_of = |k: usize| {
        let (r, j) = flips[k];
        let mut record = records[r].clone();
        let mut bytes = unhex(record["bytes"].as_str().unwrap());
        bytes[j] ^= 0x01;
        record["bytes"] = hex(&bytes).into();
        let mut out = String::with_capacity(export_text.len());
        for (i, line) in lines.iter().enumerate() {
            if i == r + 1 {
                out.push_str(&serde_json::to_string(&record).unwrap());
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        out
    };
    let (trust_json, log_vkey, witness) = (&w.trust_json, &w.log_vkey, &w.witness_vkey);
    let n = flips.len();
    let started = std::time::Instant::now();
    let (rows, ours) = run_batch(
        python,
        n,
        |k| {
            serde_json::json!({
                "id": k.to_string(), "kind": "log", "text": text_of(k), "trust": trust_json,
                "log": log_vkey, "witnesses": [witness], "quorum": 1,
                "checkpoint": w.cosigned_text,
            })
        },
        |k| {
            let log = ExportedLog::parse(&text_of(k)).expect("a flipped record is still an export");
            let report = vouch_ledger::verify_log(&log, trust, &mut |_, _| {})
                .expect("an exported log can be read");
            let position = report.failure.as_ref().map(|f| f.position);
            let root_matches = vouch_ledger::root_of_log(&log, checkpoint.size())
                .is_ok_and(|root| root == checkpoint.root());
            (position, root_matches)
        },
    );
    let mut agree = 0;
    let mut refused = 0;
    let mut disagreements = Vec::new();
    for (k, (py, (position, root_matches))) in rows.iter().zip(&ours).enumerate() {
        let vouch_ok = position.is_none();
        if py.ok_without_log == vouch_ok && py.failure_position_without_log == *position {
            agree += 1;
        } else {
            let (r, j) = flips[k];
            disagreements.push(format!(
                "record {} byte {j}: vouch {position:?}, python {py:?}",
                r + 1
            ));
        }
        refused += usize::from(!vouch_ok);
        assert!(!root_matches, "flip {k}: the tree root did not change");
        assert!(!py.ok, "flip {k}: accepted by Python with the checkpoint");
    }
    println!(
        "second verifier, log sweep: {n} cases over {} records, {agree} agreements on the verdict \
         and the first failure position ({refused} refused by the rule book alone; all {n} refused \
         against the checkpoint by both) ({:.1} s)",
        records.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
