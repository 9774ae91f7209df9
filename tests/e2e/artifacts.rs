//! Artifacts named by BLAKE3 and SHA-256, and model directories as one artifact: the real
//! `vouch` binary (`vouch log artifact FILE|DIR`, `vouch audit`, `vouch ingest`,
//! `vouch verify`) against real ledgers.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::Value;

use crate::support::{Run, Server, TestLedger};

const BLAKE3_ABC: &str = "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85";
/// `hashlib.sha256(b"abc").hexdigest()`.
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

fn ledger_with_run() -> TestLedger {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    ledger
}

#[track_caller]
fn json(ledger: &TestLedger, args: &[&str]) -> Value {
    let run = ledger.vouch(args);
    run.ok();
    run.json()
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A model directory: shards, a config, a nested tokenizer, an empty directory.
fn model_dir(root: &Path, files: &[(&str, &[u8])]) {
    std::fs::create_dir_all(root.join("empty")).unwrap();
    for (rel, content) in files {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

const MODEL: &[(&str, &[u8])] = &[
    ("config.json", b"{\"layers\": 2}"),
    ("weights/shard-0.bin", b"shard zero"),
    ("weights/shard-1.bin", b"shard one"),
    ("tokenizer/vocab.txt", b"a\nb\nc\n"),
];

#[test]
fn a_file_is_logged_with_both_digests_and_named_by_either() {
    let ledger = ledger_with_run();
    ledger.file("abc.bin", b"abc");
    let out = json(
        &ledger,
        &["--json", "log", "artifact", "--run", "r1", "abc.bin"],
    );
    assert_eq!(out["digest"], BLAKE3_ABC, "{out}");
    assert_eq!(out["sha256"], format!("sha256:{SHA256_ABC}"), "{out}");
    // The views map the sha256 to the BLAKE3 digest and back.
    let dump = ledger.dump();
    let index = &dump["sha256_index"];
    assert_eq!(index[SHA256_ABC], BLAKE3_ABC, "{dump:#}");
    assert_eq!(index[BLAKE3_ABC], SHA256_ABC);
    // A multi-chunk file (over the 1 MiB read chunk): the two digests of one read.
    let big: Vec<u8> = (0..(5u32 << 19)).map(|i| (i % 251) as u8).collect();
    ledger.file("big.bin", &big);
    let out = json(
        &ledger,
        &["--json", "log", "artifact", "--run", "r1", "big.bin"],
    );
    assert_eq!(
        out["digest"],
        format!("blake3:{}", blake3::hash(&big).to_hex())
    );
    let hashes = vouch_files::hash::hash_reader_sequential(&big[..], false).unwrap();
    let sha = vouch_event::hex(&hashes.sha256);
    // `hashlib.sha256(bytes(i % 251 for i in range(5 << 19))).hexdigest()`
    assert_eq!(
        sha,
        "35aeff7e048974ee23c365c8faf6bcb868ca0529c69309a00f6cde98bfbf89ce"
    );
    assert_eq!(
        ledger.dump()["sha256_index"][&sha],
        format!("blake3:{}", blake3::hash(&big).to_hex())
    );
    ledger.vouch(&["verify"]).ok();
}

#[test]
fn an_unknown_or_malformed_sha256_digest_is_bad_input() {
    let ledger = ledger_with_run();
    let unknown = format!("sha256:{}", "0".repeat(64));
    let run = ledger.vouch(&["audit", "--digest", &unknown]);
    run.fails(65, &unknown);
    ledger
        .vouch(&["audit", "--digest", "sha256:XYZ"])
        .fails(65, "sha256:XYZ");
}

/// Resolving `--digest sha256:…` needs `release::audit` to resolve through the views
/// (`evidence::artifact_digest_in`): see the report of issue 15.
#[test]
fn digest_sha256_resolves_to_the_artifact() {
    let ledger = ledger_with_run();
    ledger.file("abc.bin", b"abc");
    json(
        &ledger,
        &["--json", "log", "artifact", "--run", "r1", "abc.bin"],
    );
    let by_sha = ledger.vouch(&[
        "--json",
        "audit",
        "--digest",
        &format!("sha256:{SHA256_ABC}"),
    ]);
    assert_eq!(
        by_sha.json()["report"]["artifact"],
        BLAKE3_ABC,
        "{}",
        by_sha.stderr
    );
    let unknown = format!("sha256:{}", "1".repeat(64));
    ledger
        .vouch(&["audit", "--digest", &unknown])
        .fails(65, "no artifact with");
}

#[test]
fn old_artifact_events_without_sha256_still_ingest_project_and_verify() {
    let ledger = ledger_with_run();
    let digest = format!("blake3:{}", "ab".repeat(32));
    let old = format!(
        r#"{{"id":"old-artifact","kind":"artifact_logged","schema":1,"time":"2026-01-01T00:00:00Z","producer":"train.py","run":"r1","data":{{"name":"old.onnx","digest":"{digest}","size":7,"uri":"s3://m/old.onnx"}}}}"#
    );
    let new = format!(
        r#"{{"id":"new-artifact","kind":"artifact_logged","schema":1,"time":"2026-01-01T00:00:01Z","producer":"train.py","run":"r1","data":{{"name":"new.onnx","digest":"{digest}","size":7,"uri":"s3://m/new.onnx","sha256":"sha256:{}"}}}}"#,
        "cd".repeat(32)
    );
    let input = format!("{old}\n{new}\n");
    let run = ledger.vouch_with_input(&["ingest", "-"], input.as_bytes());
    run.ok();
    let dump = ledger.dump();
    assert_eq!(dump["counts"]["quarantined"], 0, "{dump:#}");
    assert_eq!(dump["counts"]["artifacts"], 2);
    assert_eq!(dump["sha256_index"]["cd".repeat(32)], digest.as_str());
    ledger.vouch(&["verify"]).ok();
    // Rebuilt from the log, the index is the same.
    ledger.vouch(&["rebuild"]).ok();
    assert_eq!(ledger.dump()["sha256_index"], dump["sha256_index"]);
}

#[test]
fn a_directory_is_one_artifact_named_by_its_manifest() {
    let ledger = ledger_with_run();
    let root = ledger.path().parent().unwrap().join("model");
    model_dir(&root, MODEL);
    let out = json(
        &ledger,
        &["--json", "log", "artifact", "--run", "r1", s(&root)],
    );
    let manifest = vouch_files::manifest::hash_dir(&root).unwrap();
    let hashes = manifest.hashes();
    let digest = format!("blake3:{}", vouch_event::hex(&hashes.blake3));
    assert_eq!(out["digest"], digest.as_str(), "{out}");
    assert_eq!(
        ledger.dump()["sha256_index"][vouch_event::hex(&hashes.sha256)],
        digest.as_str()
    );
    let doc = json(&ledger, &["--json", "runs", "show", "r1"]);
    let artifact = &doc["artifacts"][0];
    assert_eq!(artifact["name"], "model");
    assert_eq!(
        artifact["size"],
        MODEL.iter().map(|f| f.1.len() as u64).sum::<u64>()
    );
    // The manifest is kept in the blob store under the directory's digest.
    let blob = ledger
        .path()
        .join("artifacts/blobs")
        .join(vouch_event::hex(&hashes.blake3));
    let bytes = std::fs::read(&blob).expect("the manifest blob");
    assert_eq!(bytes, manifest.to_bytes());
    assert!(bytes.starts_with(b"vouch-manifest\x01"));

    // The same files created in another order, elsewhere: the same digest.
    let again = ledger.path().parent().unwrap().join("copy/model");
    let reversed: Vec<_> = MODEL.iter().rev().copied().collect();
    model_dir(&again, &reversed);
    let out = json(
        &ledger,
        &["--json", "log", "artifact", "--run", "r1", s(&again)],
    );
    assert_eq!(out["digest"], digest.as_str());
    assert_eq!(out["duplicate"], false);

    // `vouch audit DIR` names the same artifact.
    let audit = ledger.vouch(&["--json", "audit", s(&root)]);
    assert_eq!(
        audit.json()["report"]["artifact"],
        digest.as_str(),
        "{}",
        audit.stderr
    );
    ledger.vouch(&["verify"]).ok();
}

#[test]
fn symlinks_special_files_non_utf8_names_and_empty_directories_are_refused() {
    let ledger = ledger_with_run();
    let root = ledger.path().parent().unwrap().join("model");
    model_dir(&root, MODEL);
    std::os::unix::fs::symlink("config.json", root.join("weights/link.json")).unwrap();
    let run: Run = ledger.vouch(&["log", "artifact", "--run", "r1", s(&root)]);
    run.fails(65, "weights/link.json is a symbolic link");
    std::fs::remove_file(root.join("weights/link.json")).unwrap();

    let bad = root.join(std::ffi::OsStr::from_bytes(b"tokenizer/caf\xe9.txt"));
    std::fs::write(&bad, b"x").unwrap();
    ledger
        .vouch(&["log", "artifact", "--run", "r1", s(&root)])
        .fails(65, "not valid UTF-8");
    std::fs::remove_file(&bad).unwrap();

    let empty = ledger.path().parent().unwrap().join("nothing/inside");
    std::fs::create_dir_all(&empty).unwrap();
    ledger
        .vouch(&["log", "artifact", "--run", "r1", s(&empty)])
        .fails(65, "is a directory holding no regular files");
    ledger
        .vouch(&["log", "artifact", "--run", "r1", "missing-dir"])
        .fails(66, "missing-dir");
    // Nothing was written by the refusals.
    assert_eq!(ledger.dump()["counts"]["artifacts"], 0);
    ledger
        .vouch(&["log", "artifact", "--run", "r1", s(&root)])
        .ok();
}

/// Naming the changed files needs `release::audit` to call `evidence::explain_directory`:
/// see the report of issue 15.
#[test]
fn audit_of_a_changed_directory_names_each_file() {
    let ledger = ledger_with_run();
    let root = ledger.path().parent().unwrap().join("model");
    model_dir(&root, MODEL);
    ledger
        .vouch(&["log", "artifact", "--run", "r1", s(&root)])
        .ok();
    std::fs::write(root.join("weights/shard-1.bin"), b"shard one, retrained").unwrap();
    std::fs::write(root.join("weights/shard-2.bin"), b"shard two").unwrap();
    std::fs::remove_file(root.join("config.json")).unwrap();
    let run = ledger.vouch(&["audit", s(&root)]);
    for needle in [
        "removed  config.json",
        "changed  weights/shard-1.bin",
        "added    weights/shard-2.bin",
    ] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
}

#[test]
fn an_upload_through_the_mlflow_artifact_proxy_records_its_sha256() {
    let ledger = ledger_with_run();
    let server = Server::start(&ledger, &[]);
    let (status, body) = server.request(
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/runs/r1/artifacts/model/abc.bin",
        None,
        b"abc",
    );
    assert_eq!(status, 200, "{body}");
    server.stop();
    let dump = ledger.dump();
    assert_eq!(dump["sha256_index"][SHA256_ABC], BLAKE3_ABC, "{dump:#}");
    assert_eq!(dump["sha256_index"][BLAKE3_ABC], SHA256_ABC);
}
