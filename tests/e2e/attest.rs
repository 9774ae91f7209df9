//! `vouch attest`: decisions of a real ledger (`vouch demo loan-risk`) exported as signed
//! in-toto / SLSA VSA statements, checked by `vouch attest --verify` and by two verifiers
//! Vouch did not write: securesystemslib (Python, the DSSE envelope) and @sigstore/verify
//! (npm, the Sigstore bundle). Both must accept the real output and refuse a copy with one
//! payload byte changed and a copy signed by another key. `scripts/test` installs both,
//! pinned; without them the external checks are skipped, except under `CI=true`, where a
//! missing tool fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use vouch_attest::{Envelope, PAYLOAD_TYPE};
use vouch_chain::SigningKey;

use crate::support::TestLedger;

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A real demo ledger and the decisions the tests attest.
struct Demo {
    ledger: TestLedger,
    /// The promotion of run B (gates only).
    promoted: u64,
    /// The promotion a review enacted (the production model).
    enacted: u64,
    /// A rejection.
    rejected: u64,
    /// The decision that waited for review.
    pending: u64,
}

impl Demo {
    fn new() -> Demo {
        let ledger = TestLedger::uninitialised();
        ledger.vouch(&["demo", "loan-risk"]).ok();
        let decisions = ledger.vouch(&["--json", "decisions"]).json();
        let find = |pred: &dyn Fn(&Value) -> bool| -> u64 {
            decisions
                .as_array()
                .expect("a list")
                .iter()
                .find(|d| pred(d))
                .and_then(|d| d["index"].as_u64())
                .unwrap_or_else(|| panic!("the demo's decisions lack one: {decisions:#}"))
        };
        Demo {
            promoted: find(&|d| d["run"] == "loan-risk-b" && d["outcome"] == "promoted"),
            enacted: find(&|d| d["outcome"] == "promoted" && !d["resolves"].is_null()),
            rejected: find(&|d| d["outcome"] == "rejected"),
            pending: find(&|d| d["outcome"] == "needs_review"),
            ledger,
        }
    }

    fn files(&self) -> PathBuf {
        self.ledger.path().join("demo-files")
    }

    fn signer_key(&self) -> PathBuf {
        self.files().join("release-signer.key")
    }

    fn reviewer_key(&self) -> PathBuf {
        self.files().join("risk-reviewer.key")
    }

    fn trust(&self) -> PathBuf {
        self.ledger.path().join("trust.json")
    }

    /// The model file a decision concerns.
    fn model_file(&self, index: u64) -> PathBuf {
        let decisions = self.ledger.vouch(&["--json", "decisions"]).json();
        let run = decisions[index as usize]["run"].as_str().expect("run");
        self.files().join(format!("{run}.model"))
    }

    /// `vouch attest --decision N --key <signer> --artifact <model> EXTRA… --out OUT`.
    fn attest(&self, index: u64, extra: &[&str], out: &str) -> PathBuf {
        let path = self.ledger.tmp.path().join(out);
        let (n, key, model) = (index.to_string(), self.signer_key(), self.model_file(index));
        let mut args = vec![
            "attest",
            "--decision",
            &n,
            "--key",
            s(&key),
            "--artifact",
            s(&model),
            "--out",
            s(&path),
        ];
        args.extend_from_slice(extra);
        self.ledger.vouch(&args).ok();
        path
    }

    /// The signer's (or reviewer's) public key as PEM, written by `vouch keys pem`.
    fn pem(&self, key: &Path, name: &str) -> PathBuf {
        let pem = self.ledger.vouch(&["keys", "pem", "--key", s(key)]);
        self.ledger.file(name, pem.ok().as_bytes())
    }
}

fn sha256_hex(path: &Path) -> String {
    let mut h = vouch_attest::Hasher::default();
    h.update(&std::fs::read(path).expect("read"));
    vouch_attest::hex(&h.finish().1)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("JSON")
}

/// The envelope inside a DSSE file or a Sigstore bundle.
fn envelope_of(json: &mut Value) -> &mut Value {
    if json.get("dsseEnvelope").is_some() {
        &mut json["dsseEnvelope"]
    } else {
        json
    }
}

/// A copy of an attestation file with one payload byte changed: the first hex digit of
/// the first subject's sha256 (the JSON stays valid; the signature must not).
fn with_changed_byte(original: &Path, out: &Path) -> PathBuf {
    let mut json = read_json(original);
    let slot = envelope_of(&mut json);
    let mut env = Envelope::from_value(slot).expect("an envelope");
    let needle = b"\"sha256\":\"";
    let at = env
        .payload
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("a sha256 in the payload")
        + needle.len();
    env.payload[at] = if env.payload[at] == b'0' { b'1' } else { b'0' };
    *slot = env.to_value();
    std::fs::write(out, serde_json::to_vec(&json).unwrap()).unwrap();
    out.to_owned()
}

/// A copy signed by another key over the same payload, keeping the signer's keyid and
/// hint: only the signature itself can tell.
fn signed_by_another_key(original: &Path, out: &Path) -> PathBuf {
    let mut json = read_json(original);
    let slot = envelope_of(&mut json);
    let mut env = Envelope::from_value(slot).expect("an envelope");
    let other = SigningKey::from_seed([0x42; 32]);
    let forged = Envelope::sign(PAYLOAD_TYPE, env.payload.clone(), &[&other]);
    env.signatures.truncate(1);
    env.signatures[0].sig = forged.signatures[0].sig.clone();
    *slot = env.to_value();
    std::fs::write(out, serde_json::to_vec(&json).unwrap()).unwrap();
    out.to_owned()
}

#[test]
fn decisions_export_as_signed_statements_and_verify_offline() {
    let demo = Demo::new();
    let l = &demo.ledger;
    let key = demo.signer_key();
    let trust = demo.trust();

    // A decision waiting for review has no result to attest.
    let pending = demo.pending.to_string();
    l.vouch(&["attest", "--decision", &pending, "--key", s(&key)])
        .fails(65, "needs review");

    // Without a recorded SHA-256 the artifact file is needed, and must be the artifact.
    let promoted = demo.promoted.to_string();
    let bare = l.vouch(&["attest", "--decision", &promoted, "--key", s(&key)]);
    if bare.code != 0 {
        bare.fails(65, "--artifact FILE");
    }
    let wrong_file = demo.model_file(demo.rejected);
    l.vouch(&[
        "attest",
        "--decision",
        &promoted,
        "--key",
        s(&key),
        "--artifact",
        s(&wrong_file),
    ])
    .fails(65, "none of decision");
    // Only the decision's own key signs its attestation.
    let model = demo.model_file(demo.promoted);
    l.vouch(&[
        "attest",
        "--decision",
        &promoted,
        "--key",
        s(&demo.reviewer_key()),
        "--artifact",
        s(&model),
    ])
    .fails(65, "did not sign decision");

    // Exported twice: byte-identical, to a file and to standard output.
    let first = demo.attest(demo.promoted, &[], "b.dsse.json");
    let second = demo.attest(demo.promoted, &[], "b-again.dsse.json");
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap());
    let stdout = l
        .command()
        .args([
            "attest",
            "--decision",
            &promoted,
            "--key",
            s(&key),
            "--artifact",
            s(&model),
        ])
        .output()
        .unwrap();
    assert!(stdout.status.success());
    assert_eq!(stdout.stdout, bytes);

    // The statement: in-toto v1, VSA v1, every subject with sha256 (the file's) and blake3.
    let env = read_json(&first);
    assert_eq!(env["payloadType"], PAYLOAD_TYPE);
    assert_eq!(env["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(
        env["signatures"][0]["keyid"],
        vouch_attest::keys::keyid(
            &SigningKey::from_file_text(&std::fs::read_to_string(&key).unwrap())
                .unwrap()
                .public()
                .0
        )
    );
    let payload = Envelope::from_value(&env).expect("an envelope").payload;
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        statement["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    let subjects = statement["subject"].as_array().unwrap();
    assert!(!subjects.is_empty());
    for subject in subjects {
        assert_eq!(subject["digest"]["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(subject["digest"]["blake3"].as_str().unwrap().len(), 64);
    }
    assert_eq!(subjects[0]["digest"]["sha256"], sha256_hex(&model));
    let p = &statement["predicate"];
    assert_eq!(p["verificationResult"], "PASSED");
    assert!(p["verifier"]["id"]
        .as_str()
        .unwrap()
        .starts_with("vouch://"));
    assert!(p["resourceUri"]
        .as_str()
        .unwrap()
        .ends_with("/models/loan-risk@loan-risk-b?stage=production"));
    let ext = &p[vouch_attest::statement::EXTENSION];
    assert_eq!(ext["decision"]["index"], demo.promoted);
    assert!(ext["log"]["pin"]["size"].as_u64().is_some(), "{ext:#}");

    // --verify: the real file passes and names the subject; a changed byte or another
    // key's signature fails with exit 1.
    let ok = l.vouch(&["attest", "--verify", s(&first), "--trust", s(&trust)]);
    assert!(ok.ok().contains("PASSED"), "{}", ok.stdout);
    assert!(ok.stdout.contains(&sha256_hex(&model)), "{}", ok.stdout);
    let dir = l.tmp.path();
    let changed = with_changed_byte(&first, &dir.join("changed.dsse.json"));
    l.vouch(&["attest", "--verify", s(&changed), "--trust", s(&trust)])
        .fails(1, "does not verify");
    let forged = signed_by_another_key(&first, &dir.join("forged.dsse.json"));
    l.vouch(&["attest", "--verify", s(&forged), "--trust", s(&trust)])
        .fails(1, "does not verify");

    // A rejection attests FAILED.
    let rejected = demo.attest(demo.rejected, &["--format", "sigstore"], "a.sigstore.json");
    let bundle = read_json(&rejected);
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"],
        env["signatures"][0]["keyid"]
    );
    let ok = l.vouch(&["attest", "--verify", s(&rejected), "--trust", s(&trust)]);
    assert!(ok.ok().contains("FAILED"), "{}", ok.stdout);

    // The decision a review enacted: the reviewer's signature too, in an .intoto.jsonl.
    let enacted = demo.enacted.to_string();
    let alone = l.vouch(&[
        "attest",
        "--decision",
        &enacted,
        "--key",
        s(&key),
        "--artifact",
        s(&demo.model_file(demo.enacted)),
    ]);
    assert!(alone.ok().starts_with('{'));
    assert!(
        alone.stderr.contains("reviewers' signatures are absent"),
        "{}",
        alone.stderr
    );
    let reviewer = demo.reviewer_key();
    let both = demo.attest(
        demo.enacted,
        &["--reviewer-key", s(&reviewer), "--format", "intoto-jsonl"],
        "prod.intoto.jsonl",
    );
    let text = std::fs::read_to_string(&both).unwrap();
    assert_eq!(text.lines().count(), 1);
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["signatures"].as_array().unwrap().len(), 2);
    let ok = l.vouch(&[
        "--json",
        "attest",
        "--verify",
        s(&both),
        "--trust",
        s(&trust),
    ]);
    let report = ok.json();
    let roles: Vec<&str> = report[0]["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["signer", "reviewer"], "{report:#}");
    assert_eq!(report[0]["levels"][1], "VOUCH_REVIEW_APPROVED");
    // A reviewer key that did not review it is refused; so is a trust list without the keys.
    let stranger = l.tmp.path().join("stranger.key");
    l.vouch(&["keys", "generate", "--out", s(&stranger)]).ok();
    l.vouch(&[
        "attest",
        "--decision",
        &enacted,
        "--key",
        s(&key),
        "--artifact",
        s(&demo.model_file(demo.enacted)),
        "--reviewer-key",
        s(&stranger),
    ])
    .fails(65, "did not review");
    let empty = l.file("empty-trust.json", br#"{"keys":[]}"#);
    l.vouch(&["attest", "--verify", s(&both), "--trust", s(&empty)])
        .fails(1, "not a valid signature by any key in the trust list");

    // `vouch keys pem`: the key as a SubjectPublicKeyInfo other tools read.
    let pem = l.vouch(&["keys", "pem", "--key", s(&key)]);
    let pem = pem.ok();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA"),
        "{pem}"
    );
    let from_public = l.vouch(&[
        "keys",
        "pem",
        "--public",
        &format!(
            "ed25519:{}",
            vouch_attest::hex(&vouch_attest::keys::from_pem(pem).unwrap())
        ),
    ]);
    assert_eq!(from_public.ok(), pem);
}

/// An interpreter that imports securesystemslib and cryptography, or `None` (skipped)
/// outside CI.
fn python() -> Option<String> {
    let python = std::env::var("VOUCH_TEST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python)
        .args(["-c", "import securesystemslib.dsse, cryptography"])
        .stdin(Stdio::null())
        .output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => format!(
            "{python} cannot import securesystemslib: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run {python}: {e}"),
    };
    let hint = "run the tests with ./scripts/test, which installs the pinned securesystemslib \
                under target/test-tools and sets PYTHONPATH, or set VOUCH_TEST_PYTHON";
    if in_ci() {
        panic!("{problem}: {hint}");
    }
    eprintln!("skipping securesystemslib: {problem}: {hint}");
    None
}

/// Node and the directory holding @sigstore/verify (`VOUCH_TEST_NODE_MODULES`, else
/// `target/test-tools/node/node_modules`), or `None` (skipped) outside CI.
fn node() -> Option<(String, PathBuf)> {
    let node = std::env::var("VOUCH_TEST_NODE").unwrap_or_else(|_| "node".to_owned());
    let modules = std::env::var_os("VOUCH_TEST_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/test-tools/node/node_modules"));
    let probe = Command::new(&node)
        .args([
            "-e",
            "require('@sigstore/verify'); require('@sigstore/bundle')",
        ])
        .env("NODE_PATH", &modules)
        .stdin(Stdio::null())
        .output();
    let problem = match probe {
        Ok(out) if out.status.success() => return Some((node, modules)),
        Ok(out) => format!(
            "{node} cannot load @sigstore/verify from {}: {}",
            modules.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("cannot run {node}: {e}"),
    };
    let hint = "run the tests with ./scripts/test, which installs the pinned @sigstore/verify \
                under target/test-tools/node (npm ci from scripts/node)";
    if in_ci() {
        panic!("{problem}: {hint}");
    }
    eprintln!("skipping @sigstore/verify: {problem}: {hint}");
    None
}

/// Runs a verifier; returns (exit code, stdout and stderr).
fn run(command: &mut Command) -> (i32, String) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .expect("run a verifier");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn securesystemslib_verifies_the_dsse_envelope() {
    let Some(python) = python() else { return };
    let demo = Demo::new();
    let script = repo().join("scripts/verify_dsse.py");
    let signer_pem = demo.pem(&demo.signer_key(), "signer.pem");
    let reviewer_pem = demo.pem(&demo.reviewer_key(), "reviewer.pem");
    let verify = |file: &Path, keys: &[&Path]| {
        let mut command = Command::new(&python);
        command.arg(&script).arg(file).args(keys);
        run(&mut command)
    };
    let dir = demo.ledger.tmp.path();

    let promoted = demo.attest(demo.promoted, &[], "b.dsse.json");
    let (code, out) = verify(&promoted, &[&signer_pem]);
    assert_eq!(
        code, 0,
        "securesystemslib refused the real envelope:\n{out}"
    );
    assert!(out.contains("result PASSED"), "{out}");
    assert!(
        out.contains(&sha256_hex(&demo.model_file(demo.promoted))),
        "{out}"
    );
    println!("{out}");

    let changed = with_changed_byte(&promoted, &dir.join("changed.dsse.json"));
    let (code, out) = verify(&changed, &[&signer_pem]);
    assert_eq!(code, 1, "a changed payload byte:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");
    let forged = signed_by_another_key(&promoted, &dir.join("forged.dsse.json"));
    let (code, out) = verify(&forged, &[&signer_pem]);
    assert_eq!(code, 1, "another key's signature:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");
    let (code, out) = verify(&promoted, &[&reviewer_pem]);
    assert_eq!(code, 1, "checked against a key that did not sign:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");

    // The enacted decision: both the signer's and the reviewer's signatures (threshold 2).
    let both = demo.attest(
        demo.enacted,
        &["--reviewer-key", s(&demo.reviewer_key())],
        "prod.dsse.json",
    );
    let (code, out) = verify(&both, &[&signer_pem, &reviewer_pem]);
    assert_eq!(
        code, 0,
        "securesystemslib refused the signer and reviewer:\n{out}"
    );
    println!("{out}");
    let rejected = demo.attest(demo.rejected, &[], "a.dsse.json");
    let (code, out) = verify(&rejected, &[&signer_pem]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("result FAILED"), "{out}");
}

#[test]
fn sigstore_js_verifies_the_sigstore_bundle() {
    let Some((node, modules)) = node() else {
        return;
    };
    let demo = Demo::new();
    let script = repo().join("scripts/node/verify_bundle.js");
    let signer_pem = demo.pem(&demo.signer_key(), "signer.pem");
    let reviewer_pem = demo.pem(&demo.reviewer_key(), "reviewer.pem");
    let verify = |file: &Path, key: &Path| {
        let mut command = Command::new(&node);
        command
            .arg(&script)
            .arg(file)
            .arg(key)
            .env("NODE_PATH", &modules);
        run(&mut command)
    };
    let dir = demo.ledger.tmp.path();

    let bundle = demo.attest(demo.promoted, &["--format", "sigstore"], "b.sigstore.json");
    let (code, out) = verify(&bundle, &signer_pem);
    assert_eq!(code, 0, "@sigstore/verify refused the real bundle:\n{out}");
    assert!(out.contains("(ed25519); result PASSED"), "{out}");
    assert!(
        out.contains(&sha256_hex(&demo.model_file(demo.promoted))),
        "{out}"
    );
    println!("{out}");

    let changed = with_changed_byte(&bundle, &dir.join("changed.sigstore.json"));
    let (code, out) = verify(&changed, &signer_pem);
    assert_eq!(code, 1, "a changed payload byte:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");
    let forged = signed_by_another_key(&bundle, &dir.join("forged.sigstore.json"));
    let (code, out) = verify(&forged, &signer_pem);
    assert_eq!(code, 1, "another key's signature:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");
    let (code, out) = verify(&bundle, &reviewer_pem);
    assert_eq!(code, 1, "checked against a key that did not sign:\n{out}");
    assert!(out.contains("REFUSED"), "{out}");

    let rejected = demo.attest(demo.rejected, &["--format", "sigstore"], "a.sigstore.json");
    let (code, out) = verify(&rejected, &signer_pem);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("result FAILED"), "{out}");
}

/// A ledger built by hand: `vouch log artifact` records the artifact's SHA-256, so the
/// attestation needs no file, `--artifact-digest` takes the sha256, and once a checkpoint
/// covers the decision the statement carries it and its origin.
#[test]
fn an_artifact_logged_with_its_sha256_needs_no_file() {
    let l = TestLedger::new();
    let dir = l.tmp.path();
    let key = dir.join("signer.key");
    let public = l
        .vouch(&["--json", "keys", "generate", "--out", s(&key)])
        .json()["public_key"]
        .as_str()
        .expect("a public key")
        .to_owned();
    l.vouch(&[
        "keys",
        "trust",
        &public,
        "--name",
        "release bot",
        "--role",
        "signer",
    ])
    .ok();
    l.start_run("r1");
    l.vouch(&["log", "metric", "--run", "r1", "auc=0.9"]).ok();
    let model = l.file("model.bin", b"gradient-boosted trees\n");
    l.vouch(&[
        "log",
        "artifact",
        "--run",
        "r1",
        s(&model),
        "--name",
        "model.bin",
    ])
    .ok();
    let policy = l.file(
        "tiny.toml",
        b"model = \"tiny\"\nversion = \"t-1\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.80\nreason = \"floor\"\n\n[[gate]]\nname = \"model-file\"\nrequire_artifacts = [\"model.bin\"]\nreason = \"the file\"\n",
    );
    l.vouch(&[
        "promote",
        "--run",
        "r1",
        "--model",
        "tiny",
        "--policy",
        s(&policy),
        "--key",
        s(&key),
    ])
    .ok();
    let sha256 = sha256_hex(&model);
    let by_sha = format!("sha256:{sha256}");
    let attest = |extra: &[&str]| {
        let mut args = vec!["attest", "--artifact-digest", &by_sha, "--key", s(&key)];
        args.extend_from_slice(extra);
        let run = l.vouch(&args);
        let env = Envelope::from_value(&serde_json::from_str(run.ok()).expect("JSON"))
            .expect("an envelope");
        serde_json::from_slice::<Value>(&env.payload).expect("a statement")
    };
    let statement = attest(&[]);
    assert_eq!(statement["subject"][0]["digest"]["sha256"], sha256);
    assert_eq!(statement["subject"][0]["name"], "tiny/model.bin");
    let ext = &statement["predicate"][vouch_attest::statement::EXTENSION];
    assert!(ext["log"].get("checkpoint").is_none(), "{ext:#}");

    // A checkpoint that covers the decision: the statement carries it, under its origin.
    let log_key = dir.join("log.key");
    l.vouch(&["keys", "generate", "--out", s(&log_key)]).ok();
    l.vouch(&[
        "checkpoint",
        "--key",
        s(&log_key),
        "--origin",
        "example.com/vouch/e2e",
    ])
    .ok();
    let statement = attest(&[]);
    let p = &statement["predicate"];
    assert_eq!(
        p["resourceUri"],
        "vouch://example.com/vouch/e2e/models/tiny@r1?stage=production"
    );
    let ext = &p[vouch_attest::statement::EXTENSION];
    assert_eq!(ext["log"]["origin"], "example.com/vouch/e2e");
    assert!(ext["log"]["checkpoint"]["note"]
        .as_str()
        .unwrap()
        .starts_with("example.com/vouch/e2e\n"));
    assert!(
        ext["log"]["checkpoint"]["size"].as_u64() >= ext["decision"]["position"].as_u64(),
        "{ext:#}"
    );
    // --origin names another authority.
    let statement = attest(&["--origin", "acme.example/prod"]);
    assert_eq!(
        statement["predicate"]["verifier"]["id"],
        "vouch://acme.example/prod/verifier/v1"
    );
    // Client mode: exporting reads the ledger, so it is local; checking a file is offline,
    // so it works whatever server is named (the URL is never contacted).
    let file = l.file(
        "tiny.dsse.json",
        l.vouch(&["attest", "--decision", "0", "--key", s(&key)])
            .ok()
            .as_bytes(),
    );
    let trust = l.path().join("trust.json");
    l.vouch(&[
        "--server",
        "http://server.invalid",
        "attest",
        "--decision",
        "0",
        "--key",
        s(&key),
    ])
    .fails(64, "works on a ledger directory");
    let remote = l.vouch(&[
        "--server",
        "http://server.invalid",
        "attest",
        "--verify",
        s(&file),
        "--trust",
        s(&trust),
    ]);
    assert!(remote.ok().contains("PASSED"), "{}", remote.stdout);
}
