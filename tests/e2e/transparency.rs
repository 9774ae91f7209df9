//! Transparency end to end: `vouch checkpoint` signs the tree over the whole log, `vouch
//! prove` gives inclusion and consistency proofs that verify against the checkpoints with
//! `vouch_tlog` alone, a truncated copy of the log is refused a checkpoint contradicting the
//! one kept, and a record rewritten in the middle makes `vouch verify` name its leaf.

use std::path::{Path, PathBuf};

use vouch_tlog::checkpoint::Checkpoint;
use vouch_tlog::note::Note;
use vouch_tlog::proof::{verify_consistency, verify_inclusion};
use vouch_tlog::proof_file::ProofFile;
use vouch_tlog::tree::{leaf_hash, Hash};

use crate::support::{copy_dir, crc32_ieee, TestLedger};

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Logs `n` metric values to `run`, one event each.
fn log_metrics(ledger: &TestLedger, run: &str, from: u64, n: u64) {
    let lines: String = (from..from + n)
        .map(|i| {
            format!(
                "{{\"id\":\"{run}-m{i}\",\"kind\":\"metrics_logged\",\"schema\":1,\"time\":\"2026-11-28T00:00:00Z\",\"producer\":\"e2e\",\"run\":\"{run}\",\"data\":{{\"metrics\":{{\"latency_p95_ms\":{i}.5}},\"step\":{i}}}}}\n"
            )
        })
        .collect();
    ledger
        .vouch_with_input(&["ingest", "-"], lines.as_bytes())
        .ok();
}

/// Signs a checkpoint and returns the kept file and the parsed checkpoint.
fn checkpoint(ledger: &TestLedger, key: &Path) -> (PathBuf, Checkpoint) {
    let run = ledger.vouch(&["checkpoint", "--key", s(key)]);
    let text = run.ok().to_owned();
    let note = Note::parse(text.as_bytes()).expect("a signed note");
    let parsed = Checkpoint::parse(note.text()).expect("a checkpoint");
    let file = ledger.path().join("checkpoints").join(format!(
        "{}-{}.checkpoint",
        parsed.size(),
        &parsed.root().to_hex()[..16]
    ));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "kept as printed"
    );
    (file, parsed)
}

/// The stored bytes of every record, in log order, read through the library.
fn record_bytes(ledger: &Path) -> Vec<Vec<u8>> {
    use vouch_log::Log;
    let log = vouch_log_embedded::EmbeddedLog::open_existing(&ledger.join("log")).unwrap();
    let end = log.last_position().unwrap().get();
    let records = log.read(vouch_log::Position::new(1), end as usize).unwrap();
    assert_eq!(records.len() as u64, end);
    records.into_iter().map(|r| r.bytes).collect()
}

fn ledger_with_key() -> (TestLedger, PathBuf) {
    let ledger = TestLedger::new();
    let key = ledger.tmp.path().join("log.key");
    ledger.vouch(&["keys", "generate", "--out", s(&key)]).ok();
    ledger.start_run("t-1");
    log_metrics(&ledger, "t-1", 0, 40);
    (ledger, key)
}

#[test]
fn a_checkpoint_proves_inclusion_and_the_next_one_consistency() {
    let (ledger, key) = ledger_with_key();
    let (first, cp1) = checkpoint(&ledger, &key);
    assert_eq!(cp1.size(), 41);
    assert!(
        cp1.origin().starts_with("vouch/embedded:"),
        "{}",
        cp1.origin()
    );

    // Inclusion of record 17 against the kept checkpoint (the latest, by default).
    let bytes = record_bytes(&ledger.path());
    for position in [1u64, 17, 41] {
        let out = ledger.vouch(&["prove", "inclusion", "--position", &position.to_string()]);
        let proof = ProofFile::parse(out.ok().as_bytes()).expect("a C2SP tlog-proof");
        assert_eq!(proof.index(), position - 1);
        assert_eq!(proof.checkpoint(), &cp1);
        verify_inclusion(
            position - 1,
            cp1.size(),
            &leaf_hash(&bytes[(position - 1) as usize]),
            proof.inclusion(),
            &cp1.root(),
        )
        .expect("the inclusion proof verifies against the checkpoint's root");
        // Not for another record's bytes.
        assert!(verify_inclusion(
            position - 1,
            cp1.size(),
            &leaf_hash(b"not the record"),
            proof.inclusion(),
            &cp1.root()
        )
        .is_err());
    }
    ledger
        .vouch(&["prove", "inclusion", "--position", "42"])
        .fails(65, "position 42 is not in a tree of 41 records");

    // More records, a second checkpoint, and the consistency proof between the two.
    log_metrics(&ledger, "t-1", 40, 30);
    let (second, cp2) = checkpoint(&ledger, &key);
    assert_eq!(cp2.size(), 71);
    assert_eq!(cp2.origin(), cp1.origin());
    let out = ledger.vouch(&[
        "prove",
        "consistency",
        "--from",
        s(&first),
        "--to",
        s(&second),
    ]);
    let text = out.ok();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("old 41"));
    let proof: Vec<Hash> = lines.map(|l| Hash::from_base64(l).unwrap()).collect();
    verify_consistency(cp1.size(), cp2.size(), &cp1.root(), &cp2.root(), &proof)
        .expect("the consistency proof verifies");

    // The first checkpoint still proves inclusion when named.
    let out = ledger.vouch(&[
        "prove",
        "inclusion",
        "--position",
        "5",
        "--checkpoint",
        s(&first),
    ]);
    let proof = ProofFile::parse(out.ok().as_bytes()).unwrap();
    verify_inclusion(4, 41, &leaf_hash(&bytes[4]), proof.inclusion(), &cp1.root()).unwrap();

    // Signing again without new records hands back the last checkpoint.
    let (again, cp3) = checkpoint(&ledger, &key);
    assert_eq!((again, cp3), (second, cp2));

    // A checkpoint this ledger's tree does not contain is refused by `prove`.
    let forged = Checkpoint::new(cp1.origin(), 41, leaf_hash(b"another history")).unwrap();
    let mut note = Note::new(forged.to_text()).unwrap();
    let signed = Note::parse(std::fs::read(&first).unwrap().as_slice()).unwrap();
    note.push_signature(signed.signatures()[0].clone()).unwrap();
    let forged_file = ledger.file("forged.checkpoint", note.to_text().as_bytes());
    ledger
        .vouch(&[
            "prove",
            "inclusion",
            "--position",
            "3",
            "--checkpoint",
            s(&forged_file),
        ])
        .fails(1, "is not one this ledger's tree agrees with");
}

fn segments(ledger: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(ledger.join("log").join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments
}

/// Frames of a segment: (frame start, body start, body length).
fn frames(segment: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 48;
    while at + 12 <= segment.len() {
        let len = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, at + 12, len));
        at += 12 + len;
    }
    out
}

#[test]
fn a_truncated_copy_of_the_log_is_refused_a_checkpoint() {
    let (ledger, key) = ledger_with_key();
    let (_, cp) = checkpoint(&ledger, &key);
    assert_eq!(cp.size(), 41);

    // A copy of the ledger whose last record is cut off, its views projected again from
    // what is left (as an operator hiding the record would).
    let copy = TestLedger::uninitialised();
    copy_dir(&ledger.path(), &copy.path());
    let segment = segments(&copy.path()).pop().unwrap();
    let bytes = std::fs::read(&segment).unwrap();
    let (last, _, _) = *frames(&bytes).last().unwrap();
    std::fs::write(&segment, &bytes[..last]).unwrap();
    std::fs::remove_dir_all(copy.path().join("views")).unwrap();
    let _ = std::fs::remove_file(copy.path().join("log").join("index"));
    assert_eq!(copy.vouch(&["status", "--json"]).json()["log_position"], 40);
    let refused = copy.vouch(&["checkpoint", "--key", s(&key)]);
    refused.fails(70, "refusing to sign");
    for needle in ["40 records", "41 records", "41-"] {
        assert!(
            refused.stderr.contains(needle),
            "no {needle:?} in {}",
            refused.stderr
        );
    }
    // Nothing new was kept.
    assert_eq!(
        std::fs::read_dir(copy.path().join("checkpoints"))
            .unwrap()
            .count(),
        1
    );

    // Another history of the same length is refused as well: the last record replaced.
    let forked = TestLedger::uninitialised();
    copy_dir(&copy.path(), &forked.path());
    log_metrics(&forked, "t-1", 900, 1);
    forked
        .vouch(&["checkpoint", "--key", s(&key)])
        .fails(70, "same size with another root");

    // The original, grown, signs on.
    log_metrics(&ledger, "t-1", 40, 2);
    assert_eq!(checkpoint(&ledger, &key).1.size(), 43);
}

#[test]
fn a_record_rewritten_in_the_middle_fails_verify_naming_its_leaf() {
    let (ledger, _) = ledger_with_key();
    let ok = ledger.vouch(&["verify"]);
    assert!(
        ok.ok()
            .contains("the tree over the log verifies: 41 records"),
        "{}",
        ok.stdout
    );

    // An insider edits record 20 in place, with a valid frame checksum.
    let segment = segments(&ledger.path()).pop().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let (frame, body, len) = frames(&bytes)[19];
    let value = bytes[body..body + len]
        .windows(b"latency_p95_ms".len())
        .position(|w| w == b"latency_p95_ms")
        .expect("a metric record")
        + b"latency_p95_ms".len();
    bytes[body + value] ^= 0x01;
    let mut crc = crc32_ieee(&(len as u32).to_le_bytes(), 0);
    crc = crc32_ieee(&bytes[body..body + len], crc);
    bytes[frame + 8..frame + 12].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&segment, &bytes).unwrap();

    let failed = ledger.vouch(&["verify"]);
    failed.fails(1, "leaf 19 (log position 20) differs");
}
