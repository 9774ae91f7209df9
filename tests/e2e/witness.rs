//! Witnesses end to end: two `vouch witness` processes with their own state directories
//! cosign a growing log's checkpoints (built here with `vouch_tlog` over an in-memory tree,
//! independent of `vouch checkpoint`), refuse a rollback (409) and a split view (422, both
//! checkpoints kept under conflicts/), and `vouch verify-checkpoint` counts their
//! cosignatures against a quorum, and compares a checkpoint with a ledger's tree.

use std::path::{Path, PathBuf};

use vouch_chain::SigningKey;
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::note::Note;
use vouch_tlog::store::MemoryStore;
use vouch_tlog::tree::{Hash, Tree};
use vouch_tlog::witness::origin_hash;

use crate::support::{key_file, Run, TestLedger};

const ORIGIN: &str = "example.test/vouch";

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

struct Setup {
    env: TestLedger,
    log_key: SigningKey,
    log_vkey: String,
    /// (name, key file, vkey, state dir) of each witness.
    witnesses: Vec<(String, PathBuf, String, PathBuf)>,
}

fn setup() -> Setup {
    let env = TestLedger::uninitialised();
    let dir = env.tmp.path().to_owned();
    let (log_file, log_key) = key_file(&dir, "log.key", 1);
    let log_vkey = env
        .vouch(&["keys", "vkey", "--key", s(&log_file), "--name", ORIGIN])
        .ok()
        .trim()
        .to_owned();
    let witnesses = (0..2u8)
        .map(|i| {
            let name = format!("witness{i}.test");
            let (file, _) = key_file(&dir, &format!("{name}.key"), 10 + i);
            let vkey = env
                .vouch(&[
                    "keys",
                    "vkey",
                    "--key",
                    s(&file),
                    "--name",
                    &name,
                    "--cosigner",
                ])
                .ok()
                .trim()
                .to_owned();
            (name.clone(), file, vkey, dir.join(format!("{name}-state")))
        })
        .collect();
    Setup {
        env,
        log_key,
        log_vkey,
        witnesses,
    }
}

/// An add-checkpoint body: `old <size>`, the proof, an empty line, the note.
fn body_of(old: u64, proof: &[Hash], note: &Note) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&h.to_base64());
        body.push('\n');
    }
    body.push('\n');
    body.push_str(&note.to_text());
    body
}

fn grow(tree: &mut Tree<MemoryStore>, size: u64, salt: &str) {
    while tree.size() < size {
        let n = tree.size();
        tree.append(format!("{salt} record {n}").as_bytes())
            .unwrap();
    }
}

impl Setup {
    /// The log's signed checkpoint of the tree at `size`.
    fn note(&self, tree: &Tree<MemoryStore>, size: u64) -> Note {
        let c = Checkpoint::new(ORIGIN, size, tree.root_at(size).unwrap()).unwrap();
        checkpoint::sign(&c, self.log_key.ed25519()).unwrap()
    }

    /// The add-checkpoint body from `old` to `size`.
    fn body(&self, tree: &Tree<MemoryStore>, old: u64, size: u64) -> String {
        let proof = tree.consistency_proof(old, size).unwrap();
        body_of(old, &proof, &self.note(tree, size))
    }

    /// Runs witness `w` on `body`, given as a file.
    fn witness(&self, w: usize, body: &str) -> Run {
        let (name, key, _, state) = &self.witnesses[w];
        let input = self.env.file("request", body.as_bytes());
        self.env.vouch(&[
            "witness",
            "--state",
            s(state),
            "--key",
            s(key),
            "--name",
            name,
            "--log",
            &self.log_vkey,
            s(&input),
        ])
    }

    /// Runs `vouch verify-checkpoint` with both witnesses' keys, in `env`'s ledger.
    fn verify_in(&self, env: &TestLedger, checkpoint: &Path, quorum: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "verify-checkpoint",
            "--checkpoint",
            s(checkpoint),
            "--log",
            &self.log_vkey,
            "--quorum",
            quorum,
        ];
        for (_, _, vkey, _) in &self.witnesses {
            args.extend(["--witness", vkey.as_str()]);
        }
        args.extend(extra);
        env.vouch(&args)
    }

    fn verify(&self, checkpoint: &Path, quorum: &str, extra: &[&str]) -> Run {
        self.verify_in(&self.env, checkpoint, quorum, extra)
    }
}

#[test]
fn two_witnesses_cosign_a_growing_log_and_refuse_rollback_and_split_view() {
    let t = setup();
    let mut tree = Tree::in_memory();
    let mut last = 0;
    let mut lines = Vec::new();
    for size in [0u64, 3, 8, 8, 21] {
        grow(&mut tree, size, "main");
        let body = t.body(&tree, last, size);
        lines = (0..2)
            .map(|w| t.witness(w, &body).ok().to_owned())
            .collect();
        for line in &lines {
            assert!(line.starts_with("\u{2014} witness"), "{line}");
            assert_eq!(line.matches('\n').count(), 1, "one line: {line}");
        }
        last = size;
    }
    // Standard input works as well (the same checkpoint again: cosigned again).
    let (name, key, _, state) = &t.witnesses[0];
    t.env
        .vouch_with_input(
            &[
                "witness",
                "--state",
                s(state),
                "--key",
                s(key),
                "--name",
                name,
                "--log",
                &t.log_vkey,
            ],
            t.body(&tree, 21, 21).as_bytes(),
        )
        .ok();
    let state_file = state.join(origin_hash(ORIGIN));
    assert_eq!(
        std::fs::read_to_string(&state_file).unwrap(),
        t.note(&tree, 21).to_text(),
        "the state holds the last checkpoint cosigned"
    );

    // Both cosignatures on the checkpoint: quorum 2 passes.
    let mut both = t.note(&tree, 21).to_text();
    both.push_str(&lines[0]);
    both.push_str(&lines[1]);
    let both = t.env.file("both.checkpoint", both.as_bytes());
    let out = t.verify(&both, "2", &[]);
    assert!(out.ok().contains("ok"), "{}", out.stdout);
    let json = t.verify(&both, "2", &["--json"]).json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["cosigners"].as_array().unwrap().len(), 2);
    // One cosignature: quorum 2 fails, quorum 1 passes.
    let mut one = t.note(&tree, 21).to_text();
    one.push_str(&lines[1]);
    let one = t.env.file("one.checkpoint", one.as_bytes());
    t.verify(&one, "2", &[]).fails(1, "quorum not met");
    t.verify(&one, "1", &[]).ok();
    // A cosignature line from a witness on another checkpoint fails the note.
    let mut moved = t.note(&tree, 8).to_text();
    moved.push_str(&lines[0]);
    let moved = t.env.file("moved.checkpoint", moved.as_bytes());
    t.verify(&moved, "1", &[]).fails(1, "does not verify");

    // A rollback: the witness is at 21; a request naming 8 for a tree of 13.
    grow(&mut tree, 30, "main");
    let rollback = t.body(&tree, 8, 13);
    let out = t.witness(0, &rollback);
    out.fails(65, "409");
    out.fails(65, "old_size_mismatch");
    out.fails(65, "last cosigned, 21");
    // Naming the witness's size for the smaller tree: 400.
    let mut smaller = String::from("old 21\n\n");
    smaller.push_str(&t.note(&tree, 13).to_text());
    t.witness(0, &smaller).fails(65, "400");

    // A proof with a flipped bit: 422.
    let good = t.body(&tree, 21, 30);
    let mut proof = tree.consistency_proof(21, 30).unwrap();
    proof[1].0[7] ^= 0x10;
    let bad = body_of(21, &proof, &t.note(&tree, 30));
    let out = t.witness(0, &bad);
    out.fails(65, "422");
    out.fails(65, "inconsistent");

    // A checkpoint signed by a key the witness does not know for the origin: 403.
    let (_, impostor) = key_file(t.env.tmp.path(), "impostor.key", 99);
    let forged = checkpoint::sign(
        &Checkpoint::new(ORIGIN, 30, tree.root_at(30).unwrap()).unwrap(),
        impostor.ed25519(),
    )
    .unwrap();
    let body = body_of(21, &tree.consistency_proof(21, 30).unwrap(), &forged);
    t.witness(0, &body).fails(65, "403");
    // The state has not moved through any of it.
    assert_eq!(
        std::fs::read_to_string(&state_file).unwrap(),
        t.note(&tree, 21).to_text()
    );

    // A split view: another tree of 21 records, signed by the same log key.
    let mut fork = Tree::in_memory();
    grow(&mut fork, 21, "fork");
    let out = t.witness(1, &t.body(&fork, 21, 21));
    out.fails(1, "422");
    out.fails(1, "split_view");
    let conflicts = t.witnesses[1].3.join("conflicts").join(origin_hash(ORIGIN));
    let mut kept: Vec<String> = std::fs::read_dir(&conflicts)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    kept.sort();
    let mut want = vec![t.note(&tree, 21).to_text(), t.note(&fork, 21).to_text()];
    want.sort();
    assert_eq!(kept, want, "both checkpoints kept as evidence");
    // The witness still cosigns the honest extension afterwards.
    t.witness(1, &good).ok();
    t.witness(0, &good).ok();
}

#[test]
fn a_witnessed_checkpoint_is_checked_against_the_ledger() {
    use vouch_log::Log as _;
    let t = setup();
    let ledger = TestLedger::new();
    ledger.start_run("w-1");
    let records = {
        let log =
            vouch_log_embedded::EmbeddedLog::open_existing(&ledger.path().join("log")).unwrap();
        let end = log.last_position().unwrap().get();
        log.read(vouch_log::Position::new(1), end as usize).unwrap()
    };
    assert!(!records.is_empty());
    let mut tree = Tree::in_memory();
    for r in &records {
        tree.append(&r.bytes).unwrap();
    }
    let size = tree.size();
    let body = t.body(&tree, 0, size);
    let line = t.witness(0, &body).ok().to_owned();
    let mut note = t.note(&tree, size).to_text();
    note.push_str(&line);
    let cp = t.env.file("ledger.checkpoint", note.as_bytes());
    let out = t.verify_in(&ledger, &cp, "1", &["--check-ledger"]);
    assert!(
        out.ok().contains("same root"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    // A checkpoint of a tree the ledger does not have.
    tree.append(b"not in the ledger").unwrap();
    let mut other = t.note(&tree, size + 1).to_text();
    let body = t.body(&tree, size, size + 1);
    other.push_str(t.witness(0, &body).ok());
    let other = t.env.file("other.checkpoint", other.as_bytes());
    t.verify_in(&ledger, &other, "1", &["--check-ledger"])
        .fails(1, "fewer than the checkpoint's");
}
