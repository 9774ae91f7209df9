//! Attacks on the transparency guarantees, end to end with the real `vouch` binary, real
//! keys and temp ledgers. Each attack must be detected and located: the refusal names the
//! position, leaf, size, root or key involved.
//!
//! - A record lost in the middle of the embedded log (one frame cut out of a segment, the
//!   later frames renumbered and their checksums fixed, so the log reads as a clean log one
//!   record shorter): `verify` names the first leaf that moved, `checkpoint` refuses to sign
//!   a tree the last checkpoint is not a prefix of, and `prove inclusion` against the old
//!   checkpoint refuses it.
//! - A forked NATS stream: two `nats-server` processes serve copies of one stream, which
//!   then grow apart; two ledger directories, one on each, sign checkpoints of the same
//!   size with the same log key. A witness cosigns one and refuses the other as a split
//!   view, keeping both; `verify-checkpoint --check-ledger` of each in the other's
//!   directory names the size and both roots.
//! - A checkpoint signed by an untrusted key: `verify-checkpoint` and a witness that knows
//!   the real log key refuse it.
//! - Proofs with one flipped bit or a trailing extra hash: a witness refuses the
//!   consistency request; the inclusion tlog-proof is refused by `vouch_tlog` (the CLI has
//!   no verifier for a lone proof file, so the library is called, as a verifier would).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vouch_test_nats::NatsServer;
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::note::{Note, NoteSignature, VerifierKey};
use vouch_tlog::proof::{verify_inclusion, VerifyError};
use vouch_tlog::proof_file::ProofFile;
use vouch_tlog::tree::{leaf_hash, Hash};
use vouch_tlog::witness::origin_hash;

use crate::support::{copy_dir, crc32_ieee, key_file, Run, TestLedger};

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Asserts the exit code and that standard error mentions every needle.
#[track_caller]
fn refused(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(
        run.code, code,
        "wrong exit code\nstdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "stderr lacks {needle:?}\nstderr: {}",
            run.stderr
        );
    }
}

/// Ingests `n` metric events for `run`, steps `from..from + n`.
fn log_metrics(ledger: &TestLedger, run: &str, from: u64, n: u64) {
    let lines: String = (from..from + n)
        .map(|i| {
            format!(
                "{{\"id\":\"{run}-m{i}\",\"kind\":\"metrics_logged\",\"schema\":1,\"time\":\"2026-11-28T00:00:00Z\",\"producer\":\"e2e\",\"run\":\"{run}\",\"data\":{{\"metrics\":{{\"auc\":0.{i}}},\"step\":{i}}}}}\n"
            )
        })
        .collect();
    ledger
        .vouch_with_input(&["ingest", "-"], lines.as_bytes())
        .ok();
}

/// Signs a checkpoint in `ledger`; returns the kept file and the parsed checkpoint.
fn checkpoint(ledger: &TestLedger, key: &Path) -> (PathBuf, Checkpoint) {
    let text = ledger
        .vouch(&["checkpoint", "--key", s(key)])
        .ok()
        .to_owned();
    let note = Note::parse(text.as_bytes()).expect("a signed note");
    let parsed = Checkpoint::parse(note.text()).expect("a checkpoint");
    let file = ledger.path().join("checkpoints").join(format!(
        "{}-{}.checkpoint",
        parsed.size(),
        &parsed.root().to_hex()[..16]
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    (file, parsed)
}

/// The log's vkey (type 0x01) for `origin`, as `vouch keys vkey` prints it.
fn log_vkey(env: &TestLedger, key: &Path, origin: &str) -> String {
    env.vouch(&["keys", "vkey", "--key", s(key), "--name", origin])
        .ok()
        .trim()
        .to_owned()
}

/// A witness: its name, key file, vkey (type 0x04) and state directory.
struct Witness {
    name: String,
    key: PathBuf,
    vkey: String,
    state: PathBuf,
}

impl Witness {
    fn new(env: &TestLedger, name: &str, seed: u8) -> Witness {
        let dir = env.tmp.path();
        let (key, _) = key_file(dir, &format!("{name}.key"), seed);
        let vkey = env
            .vouch(&[
                "keys",
                "vkey",
                "--key",
                s(&key),
                "--name",
                name,
                "--cosigner",
            ])
            .ok()
            .trim()
            .to_owned();
        Witness {
            name: name.to_owned(),
            key,
            vkey,
            state: dir.join(format!("{name}-state")),
        }
    }

    /// Runs `vouch witness` on `body` (written to a file) for the log `log_vkey`.
    fn add(&self, env: &TestLedger, log_vkey: &str, body: &str) -> Run {
        let input = env.file("request", body.as_bytes());
        env.vouch(&[
            "witness",
            "--state",
            s(&self.state),
            "--key",
            s(&self.key),
            "--name",
            &self.name,
            "--log",
            log_vkey,
            s(&input),
        ])
    }

    /// The checkpoint the witness last cosigned for `origin`.
    fn state_of(&self, origin: &str) -> String {
        std::fs::read_to_string(self.state.join(origin_hash(origin))).expect("a state file")
    }
}

/// An add-checkpoint request: `old`, the proof lines (already ending in newlines), an
/// empty line, the signed checkpoint.
fn request(old_and_proof: &str, checkpoint_note: &str) -> String {
    format!("{old_and_proof}\n{checkpoint_note}")
}

/// The stored bytes of every record of an embedded ledger, in log order.
fn record_bytes(ledger: &Path) -> Vec<Vec<u8>> {
    use vouch_log::Log;
    let log = vouch_log_embedded::EmbeddedLog::open_existing(&ledger.join("log")).unwrap();
    let end = log.last_position().unwrap().get();
    let records = log.read(vouch_log::Position::new(1), end as usize).unwrap();
    assert_eq!(records.len() as u64, end);
    records.into_iter().map(|r| r.bytes).collect()
}

fn ledger_with_key(records: u64) -> (TestLedger, PathBuf) {
    let ledger = TestLedger::new();
    let (key, _) = key_file(ledger.tmp.path(), "log.key", 0x41);
    ledger.start_run("t-1");
    log_metrics(&ledger, "t-1", 0, records - 1);
    (ledger, key)
}

// ---------------------------------------------------------------------------------------
// A record lost in the middle of the embedded log
// ---------------------------------------------------------------------------------------

fn segments(ledger: &Path) -> Vec<PathBuf> {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(ledger.join("log").join("segments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    segments
}

/// Segment header length, frame header length (magic, body length, CRC), and where a
/// frame body keeps its position (its first 8 bytes).
const SEGMENT_HEADER: usize = 48;
const FRAME_HEADER: usize = 12;

/// Frames of a segment: (frame start, body length).
fn frames(segment: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = SEGMENT_HEADER;
    while at + FRAME_HEADER <= segment.len() {
        let len = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap()) as usize;
        out.push((at, len));
        at += FRAME_HEADER + len;
    }
    out
}

/// Cuts the record at `position` out of the ledger's only segment: the frames after it
/// move down one position, each with its checksum fixed, so what is left reads as a whole,
/// undamaged log one record shorter. The log's index is dropped (it is derived).
fn remove_record(ledger: &Path, position: u64) {
    let segments = segments(ledger);
    assert_eq!(segments.len(), 1, "a small log fits one segment");
    let bytes = std::fs::read(&segments[0]).unwrap();
    let mut out = bytes[..SEGMENT_HEADER].to_vec();
    let mut removed = false;
    for (start, len) in frames(&bytes) {
        let mut frame = bytes[start..start + FRAME_HEADER + len].to_vec();
        let body = FRAME_HEADER;
        let at = u64::from_le_bytes(frame[body..body + 8].try_into().unwrap());
        if at == position {
            removed = true;
            continue;
        }
        if at > position {
            frame[body..body + 8].copy_from_slice(&(at - 1).to_le_bytes());
            let crc = crc32_ieee(&frame[body..], crc32_ieee(&(len as u32).to_le_bytes(), 0));
            frame[8..12].copy_from_slice(&crc.to_le_bytes());
        }
        out.extend_from_slice(&frame);
    }
    assert!(removed, "position {position} was in the segment");
    std::fs::write(&segments[0], &out).unwrap();
    let _ = std::fs::remove_file(ledger.join("log").join("index"));
}

/// Appends one record straight to the embedded log, behind the views' back (as an insider
/// with write access to the files would).
fn append_behind_the_views(ledger: &Path, i: u64) {
    use vouch_log::Log;
    let log = vouch_log_embedded::EmbeddedLog::open_existing(&ledger.join("log")).unwrap();
    let run = vouch_event::RunId::new("t-1").unwrap();
    let event = crate::support::metric_event(&run, 9000 + i);
    log.append(vouch_log::NewRecord {
        event_id: event.id.to_string(),
        key: vouch_log::LogKey::new(event.subject.log_key()).unwrap(),
        bytes: vouch_event::encode(&event),
    })
    .unwrap();
}

#[test]
fn a_record_lost_in_the_middle_is_named_by_verify_and_refused_by_checkpoint_and_prove() {
    let (ledger, key) = ledger_with_key(41);
    let (first, cp) = checkpoint(&ledger, &key);
    assert_eq!(cp.size(), 41);
    let before = record_bytes(&ledger.path());

    remove_record(&ledger.path(), 20);
    let after = record_bytes(&ledger.path());
    assert_eq!(
        after.len(),
        40,
        "the log reads back clean, one record shorter"
    );
    assert_eq!(after[19], before[20], "record 21 now sits at position 20");

    // The log is shorter than the views: commands refuse to project it, and `verify`
    // names the first record the views saw differently.
    refused(
        &ledger.vouch(&["status"]),
        70,
        &[
            "applied the log up to position 41, but the log ends at 40",
            "records were lost",
        ],
    );
    refused(
        &ledger.vouch(&["verify"]),
        70,
        &[
            "the views applied it up to position 41, but it holds 40 records",
            "at log position 20 (leaf 19)",
        ],
    );

    // The insider hides the loss: one record appended behind the views' back brings the
    // log back to 41 records. `verify` recomputes the tree from the log and names the
    // first leaf that moved: the gap.
    append_behind_the_views(&ledger.path(), 0);
    assert_eq!(record_bytes(&ledger.path()).len(), 41);
    refused(
        &ledger.vouch(&["verify"]),
        1,
        &["leaf 19 (log position 20) differs", "from its 41 records"],
    );

    // The operator then rebuilds the views from what is left, so the ledger looks whole,
    // and records more evidence: the tree is larger than the checkpoint's, but its first 41
    // leaves are not the ones signed. No consistency proof reaches it.
    std::fs::remove_dir_all(ledger.path().join("views")).unwrap();
    let verified = ledger.vouch(&["verify"]);
    assert!(verified
        .ok()
        .contains("the tree over the log verifies: 41 records"));
    log_metrics(&ledger, "t-1", 100, 2);
    let root41 = cp.root().to_hex();
    let signing = ledger.vouch(&["checkpoint", "--key", s(&key)]);
    refused(
        &signing,
        70,
        &[
            "refusing to sign",
            "43 records",
            "41 records",
            &root41,
            s(&first),
            "no consistency proof",
        ],
    );
    assert_eq!(
        std::fs::read_dir(ledger.path().join("checkpoints"))
            .unwrap()
            .count(),
        1,
        "nothing new was signed"
    );

    // An inclusion proof against the old checkpoint is refused, naming its size and root.
    let proving = ledger.vouch(&[
        "prove",
        "inclusion",
        "--position",
        "5",
        "--checkpoint",
        s(&first),
    ]);
    refused(
        &proving,
        1,
        &[
            "is not one this ledger's tree agrees with",
            "41 records",
            &root41,
            "the ledger's root at that size is",
        ],
    );
    // The checkpoint was honest: the records before the edit have its root.
    let mut tree = vouch_tlog::tree::Tree::in_memory();
    for r in &before {
        tree.append(r).unwrap();
    }
    assert_eq!(tree.root(), cp.root());
}

/// A record cut out of the middle with nothing appended: `verify` refuses the log as
/// shorter than the views, but does not say which record went missing, although the
/// views' tree holds every leaf hash it needs to (the first leaf that no longer matches
/// is leaf 19, log position 20).
#[test]
fn a_record_lost_in_the_middle_without_cover_is_located_by_verify() {
    let (ledger, _) = ledger_with_key(41);
    remove_record(&ledger.path(), 20);
    let failed = ledger.vouch(&["verify"]);
    failed.fails(
        70,
        "the first record that differs from what the views saw is at log position 20 (leaf 19)",
    );
}

// ---------------------------------------------------------------------------------------
// A forked NATS stream served to two directories
// ---------------------------------------------------------------------------------------

/// Runs `args` in `ledger` until it succeeds, or fails the test at the deadline: a server
/// just started may still be recovering its streams.
fn until_ok(ledger: &TestLedger, args: &[&str], deadline: Duration) -> String {
    let end = Instant::now() + deadline;
    loop {
        let run = ledger.vouch(args);
        if run.code == 0 {
            return run.stdout;
        }
        assert!(
            Instant::now() < end,
            "{args:?} did not succeed within {deadline:?}: {}",
            run.stderr
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_forked_nats_stream_is_a_split_view_a_witness_refuses_and_each_ledger_disowns() {
    // One stream on server A with a shared prefix of evidence.
    let mut a = NatsServer::start();
    let left = TestLedger::nats(&a.url());
    let (key, _) = key_file(left.tmp.path(), "log.key", 0x42);
    left.start_run("shared");
    log_metrics(&left, "shared", 0, 9);
    let prefix = 10;
    assert_eq!(
        left.vouch(&["status", "--json"]).json()["log_position"],
        prefix
    );

    // Server B serves a copy of that stream: both stopped while the store is copied, so the
    // copy is whole, then both started again on their own stores and ports.
    let mut b = NatsServer::start();
    a.stop();
    b.stop();
    let b_js = b.store_dir().join("jetstream");
    let _ = std::fs::remove_dir_all(&b_js);
    copy_dir(&a.store_dir().join("jetstream"), &b_js);
    a.start_again();
    b.start_again();
    assert_ne!(a.url(), b.url());

    // A second directory over B sees the same prefix.
    let right = TestLedger::nats_uninitialised(&b.url());
    until_ok(&right, &["init"], Duration::from_secs(60));
    until_ok(&left, &["status"], Duration::from_secs(60));
    assert_eq!(
        right.vouch(&["status", "--json"]).json()["log_position"],
        prefix
    );

    // Then each stream gets its own continuation, of the same length.
    left.start_run("left");
    log_metrics(&left, "left", 0, 4);
    right.start_run("right");
    log_metrics(&right, "right", 0, 4);

    // Each directory signs a checkpoint with the same log key, under the same origin (the
    // stream's identity was copied with it).
    let (left_file, left_cp) = checkpoint(&left, &key);
    let (right_file, right_cp) = checkpoint(&right, &key);
    assert_eq!(left_cp.origin(), right_cp.origin());
    assert!(
        left_cp.origin().starts_with("vouch/nats-stream-VOUCH"),
        "{}",
        left_cp.origin()
    );
    let size = left_cp.size();
    assert_eq!(size, prefix + 5);
    assert_eq!(right_cp.size(), size);
    assert_ne!(left_cp.root(), right_cp.root(), "two histories");
    let origin = left_cp.origin().to_owned();
    let vkey = log_vkey(&left, &key, &origin);

    // A witness cosigns the left checkpoint, then is shown the right one: a split view.
    let w = Witness::new(&left, "witness.test", 0x51);
    let left_note = std::fs::read_to_string(&left_file).unwrap();
    let right_note = std::fs::read_to_string(&right_file).unwrap();
    let line = w
        .add(&left, &vkey, &request("old 0\n", &left_note))
        .ok()
        .to_owned();
    let split = w.add(
        &left,
        &vkey,
        &request(&format!("old {size}\n"), &right_note),
    );
    refused(&split, 1, &["422", "split_view", "both checkpoints kept"]);
    let conflicts = w.state.join("conflicts").join(origin_hash(&origin));
    let mut kept: Vec<String> = std::fs::read_dir(&conflicts)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    kept.sort();
    let mut want = vec![left_note.clone(), right_note.clone()];
    want.sort();
    assert_eq!(kept, want, "both checkpoints kept as evidence");
    assert_eq!(
        w.state_of(&origin),
        left_note,
        "the witness stays on the left"
    );
    // The right side, grown, cannot get past the witness either: no consistency proof
    // from the left checkpoint exists in its tree.
    log_metrics(&right, "right", 10, 2);
    let (grown_file, _) = checkpoint(&right, &key);
    let prove = right.vouch(&[
        "prove",
        "consistency",
        "--from",
        s(&left_file),
        "--to",
        s(&grown_file),
    ]);
    refused(
        &prove,
        1,
        &[
            "is not one this ledger's tree agrees with",
            &left_cp.root().to_hex(),
        ],
    );

    // The cosigned left checkpoint verifies in its own directory, quorum 1.
    let mut cosigned = left_note.clone();
    cosigned.push_str(&line);
    let cosigned = left.file("left.cosigned", cosigned.as_bytes());
    let verify = |env: &TestLedger, file: &Path| {
        env.vouch(&[
            "verify-checkpoint",
            "--checkpoint",
            s(file),
            "--log",
            &vkey,
            "--witness",
            &w.vkey,
            "--quorum",
            "0",
            "--check-ledger",
        ])
    };
    let ok = verify(&left, &cosigned);
    assert!(ok.ok().contains("same root"), "{}", ok.stdout);
    // Each checkpoint checked against the other directory fails, naming the size and both
    // roots.
    let crossed = verify(&right, &cosigned);
    refused(
        &crossed,
        1,
        &[
            &format!("at size {size}"),
            &right_cp.root().to_hex(),
            &left_cp.root().to_hex(),
        ],
    );
    let crossed = verify(&left, &right_file);
    refused(
        &crossed,
        1,
        &[
            &format!("at size {size}"),
            &left_cp.root().to_hex(),
            &right_cp.root().to_hex(),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// A checkpoint signed by an untrusted key
// ---------------------------------------------------------------------------------------

#[test]
fn a_checkpoint_signed_by_an_untrusted_key_is_refused_by_verifiers_and_witnesses() {
    let (ledger, key) = ledger_with_key(12);
    let (real_file, real) = checkpoint(&ledger, &key);
    let origin = real.origin().to_owned();
    let vkey = log_vkey(&ledger, &key, &origin);
    let real_note = std::fs::read_to_string(&real_file).unwrap();

    // The impostor signs the same tree under the same origin from a copy of the ledger
    // without its checkpoints: a valid note, by another key.
    let copy = TestLedger::uninitialised();
    copy_dir(&ledger.path(), &copy.path());
    std::fs::remove_dir_all(copy.path().join("checkpoints")).unwrap();
    let (impostor_key, _) = key_file(copy.tmp.path(), "impostor.key", 0x66);
    let out = copy
        .vouch(&["checkpoint", "--key", s(&impostor_key), "--origin", &origin])
        .ok()
        .to_owned();
    let impostor_vkey = log_vkey(&copy, &impostor_key, &origin);
    let forged = copy.file("impostor.checkpoint", out.as_bytes());
    let forged_note = Note::parse(out.as_bytes()).unwrap();
    assert_eq!(
        forged_note.text(),
        Note::parse(real_note.as_bytes()).unwrap().text()
    );

    let check = |file: &Path, vkey: &str| {
        ledger.vouch(&[
            "verify-checkpoint",
            "--checkpoint",
            s(file),
            "--log",
            vkey,
            "--quorum",
            "0",
        ])
    };
    // The real checkpoint passes; the impostor's note passes only under its own key.
    check(&real_file, &vkey).ok();
    check(&forged, &impostor_vkey).ok();
    let key_id = VerifierKey::parse(&vkey).unwrap().id().to_string();
    let unknown = check(&forged, &vkey);
    refused(
        &unknown,
        1,
        &["log signature", "no signature from a known key"],
    );
    assert!(
        unknown
            .stdout
            .contains(&format!("checkpoint {origin} size {}", real.size())),
        "{}",
        unknown.stdout
    );
    // Spoofing the real key's id on the impostor's signature line: now the line claims the
    // real key, and the refusal names it.
    let line = &forged_note.signatures()[0];
    let spoofed_line = NoteSignature::new(
        line.name().clone(),
        VerifierKey::parse(&vkey).unwrap().id(),
        line.signature().to_vec(),
    )
    .unwrap();
    let mut spoofed = Note::new(forged_note.text().to_owned()).unwrap();
    spoofed.push_signature(spoofed_line).unwrap();
    let spoofed = copy.file("spoofed.checkpoint", spoofed.to_text().as_bytes());
    refused(
        &check(&spoofed, &vkey),
        1,
        &[
            "log signature",
            &format!("signature by known key {origin} ({key_id}) does not verify"),
        ],
    );

    // A witness configured with the real log key refuses both, 403, and keeps no state.
    let w = Witness::new(&ledger, "witness.test", 0x52);
    for file in [&forged, &spoofed] {
        let note = std::fs::read_to_string(file).unwrap();
        let out = w.add(&ledger, &vkey, &request("old 0\n", &note));
        refused(&out, 65, &["403", "log_signature"]);
        assert!(!w.state.join(origin_hash(&origin)).exists());
    }
    refused(
        &w.add(
            &ledger,
            &vkey,
            &request("old 0\n", &std::fs::read_to_string(&spoofed).unwrap()),
        ),
        65,
        &[&key_id],
    );
    // The real one is cosigned.
    w.add(&ledger, &vkey, &request("old 0\n", &real_note)).ok();
    assert_eq!(w.state_of(&origin), real_note);
}

// ---------------------------------------------------------------------------------------
// Proofs with a flipped bit or a trailing extra hash
// ---------------------------------------------------------------------------------------

/// `s` with one bit flipped in the base64 hash on line `line` (0-based), still valid
/// base64 of 32 bytes.
fn flip_bit_in_line(text: &str, line: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut hash = Hash::from_base64(&lines[line]).expect("a base64 hash line");
    hash.0[5] ^= 0x08;
    lines[line] = hash.to_base64();
    lines.join("\n") + "\n"
}

/// `s` with an extra hash line after line `after` (0-based).
fn extra_line_after(text: &str, after: usize, extra: &Hash) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.insert(after + 1, extra.to_base64());
    lines.join("\n") + "\n"
}

#[test]
fn proofs_with_a_flipped_bit_or_an_extra_hash_are_refused() {
    let (ledger, key) = ledger_with_key(13);
    let (first, cp1) = checkpoint(&ledger, &key);
    log_metrics(&ledger, "t-1", 100, 9);
    let (second, cp2) = checkpoint(&ledger, &key);
    assert_eq!((cp1.size(), cp2.size()), (13, 22));
    let origin = cp1.origin().to_owned();
    let vkey = log_vkey(&ledger, &key, &origin);
    let first_note = std::fs::read_to_string(&first).unwrap();
    let second_note = std::fs::read_to_string(&second).unwrap();

    // --- The consistency request, given to a witness that cosigned the first checkpoint ---
    let w = Witness::new(&ledger, "witness.test", 0x53);
    w.add(&ledger, &vkey, &request("old 0\n", &first_note)).ok();
    let proof = ledger
        .vouch(&[
            "prove",
            "consistency",
            "--from",
            s(&first),
            "--to",
            s(&second),
        ])
        .ok()
        .to_owned();
    let hashes = proof.lines().count() - 1;
    assert!(proof.starts_with("old 13\n") && hashes >= 2, "{proof}");
    // One bit flipped in each proof line in turn: every one is refused.
    for line in 1..=hashes {
        let bad = flip_bit_in_line(&proof, line);
        assert_ne!(bad, proof);
        let out = w.add(&ledger, &vkey, &request(&bad, &second_note));
        refused(
            &out,
            65,
            &[
                "422",
                "inconsistent",
                "consistency proof does not lead to the",
            ],
        );
        assert_eq!(w.state_of(&origin), first_note, "the state did not move");
    }
    // A trailing extra hash (a real node of the tree, the new root): refused by length.
    let extra = extra_line_after(&proof, hashes, &cp2.root());
    let out = w.add(&ledger, &vkey, &request(&extra, &second_note));
    refused(
        &out,
        65,
        &[
            "422",
            "inconsistent",
            &format!(
                "proof has {} hashes, the sizes call for {hashes}",
                hashes + 1
            ),
        ],
    );
    assert_eq!(w.state_of(&origin), first_note, "the state did not move");
    // The honest request is cosigned.
    w.add(&ledger, &vkey, &request(&proof, &second_note)).ok();
    assert_eq!(w.state_of(&origin), second_note);

    // --- The inclusion tlog-proof of record 7 against the second checkpoint ---
    let position = 7u64;
    let text = ledger
        .vouch(&["prove", "inclusion", "--position", &position.to_string()])
        .ok()
        .to_owned();
    let bytes = record_bytes(&ledger.path());
    let leaf = leaf_hash(&bytes[(position - 1) as usize]);
    let log_key = VerifierKey::parse(&vkey).unwrap();
    // What a verifier does with a proof file: check the note, then the path.
    let check = |text: &str| -> Result<(), VerifyError> {
        let file = ProofFile::parse(text.as_bytes()).expect("a well-formed proof file");
        let cp = checkpoint::verify(file.note(), &log_key).expect("the log signed it");
        assert_eq!(file.index(), position - 1);
        verify_inclusion(file.index(), cp.size(), &leaf, file.inclusion(), &cp.root())
    };
    check(&text).expect("the proof as printed verifies");
    let path_lines = ProofFile::parse(text.as_bytes()).unwrap().inclusion().len();
    assert!(path_lines >= 3, "{text}");
    // Lines: 0 header, 1 index, 2.. the path.
    for i in 0..path_lines {
        assert_eq!(
            check(&flip_bit_in_line(&text, 2 + i)),
            Err(VerifyError::RootMismatch),
            "a bit flipped in path hash {i}"
        );
    }
    assert_eq!(
        check(&extra_line_after(&text, 1 + path_lines, &cp2.root())),
        Err(VerifyError::WrongProofLength {
            expected: path_lines,
            actual: path_lines + 1
        })
    );
}
