//! Audit bundles that prove their records are in the one log everyone sees, and logs
//! checked against a witnessed checkpoint, end to end with the real binary: `vouch audit
//! --bundle` carries an inclusion proof of every record and the consistency proof of the
//! audited decision's log pin against a checkpoint; `vouch verify-bundle --log --witness
//! --quorum` checks them, and refuses each forgery an insider could try, naming it;
//! `vouch export` writes the log for `vouch verify --from`, and `vouch verify
//! --checkpoint` says whether the log is the one a witnessed checkpoint commits to.

use std::path::{Path, PathBuf};

use vouch_chain::SigningKey;
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::note::Note;

use crate::support::{key_file, Run, TestLedger};

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// A demo ledger with a signed checkpoint cosigned by one witness.
struct Proven {
    env: TestLedger,
    /// The log's verifier key.
    log_vkey: String,
    /// The witness's verifier key.
    witness_vkey: String,
    /// A second witness's verifier key, which cosigned nothing.
    absent_vkey: String,
    /// The cosigned checkpoint.
    cosigned: PathBuf,
    /// The artifact the demo promoted and deployed.
    artifact: String,
    /// The bundle proven against the cosigned checkpoint.
    bundle: PathBuf,
}

fn vkey(env: &TestLedger, key: &Path, name: &str, cosigner: bool) -> String {
    let mut args = vec!["keys", "vkey", "--key", s(key), "--name", name];
    if cosigner {
        args.push("--cosigner");
    }
    env.vouch(&args).ok().trim().to_owned()
}

fn proven() -> Proven {
    let env = TestLedger::uninitialised();
    env.vouch(&["demo", "loan-risk"]).ok();
    let dir = env.tmp.path().to_owned();
    let log_key = key_file(&dir, "log.key", 1).0;
    let signed = env
        .vouch(&["checkpoint", "--key", s(&log_key)])
        .ok()
        .to_owned();
    let note = Note::parse(signed.as_bytes()).unwrap();
    let origin = Checkpoint::parse(note.text()).unwrap().origin().to_owned();
    let log_vkey = vkey(&env, &log_key, &origin, false);
    let witness_key = key_file(&dir, "witness.key", 2).0;
    let witness_vkey = vkey(&env, &witness_key, "witness.test", true);
    let absent_vkey = vkey(
        &env,
        &key_file(&dir, "absent.key", 3).0,
        "absent.test",
        true,
    );
    let request = env.file("request", format!("old 0\n\n{signed}").as_bytes());
    let line = env
        .vouch(&[
            "witness",
            "--state",
            s(&dir.join("witness-state")),
            "--key",
            s(&witness_key),
            "--name",
            "witness.test",
            "--log",
            &log_vkey,
            s(&request),
        ])
        .ok()
        .to_owned();
    let cosigned = env.file("cosigned.checkpoint", format!("{signed}{line}").as_bytes());
    let decisions = env.vouch(&["--json", "decisions"]).json();
    let artifact = decisions
        .as_array()
        .expect("a list of decisions")
        .iter()
        .find(|d| d["run"] == "loan-risk-b" && d["outcome"] == "promoted")
        .expect("run B promoted")["artifacts"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let bundle = dir.join("bundle.json");
    env.vouch(&[
        "audit",
        "--digest",
        &artifact,
        "--bundle",
        s(&bundle),
        "--checkpoint",
        s(&cosigned),
    ])
    .ok();
    Proven {
        env,
        log_vkey,
        witness_vkey,
        absent_vkey,
        cosigned,
        artifact,
        bundle,
    }
}

impl Proven {
    fn verify_bundle(&self, bundle: &Path, witnesses: &[&str], quorum: &str) -> Run {
        let trust = self.env.path().join("trust.json");
        let mut args = vec![
            "verify-bundle",
            s(bundle),
            "--trust",
            s(&trust),
            "--log",
            &self.log_vkey,
            "--quorum",
            quorum,
        ];
        for w in witnesses {
            args.extend(["--witness", w]);
        }
        self.env.vouch(&args)
    }

    fn bundle_json(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(&self.bundle).unwrap()).unwrap()
    }

    fn write(&self, name: &str, bundle: &serde_json::Value) -> PathBuf {
        self.env.file(
            name,
            serde_json::to_string_pretty(bundle).unwrap().as_bytes(),
        )
    }
}

#[test]
fn a_bundle_proves_its_records_are_in_the_witnessed_log() {
    let p = proven();
    let b = p.bundle_json();
    assert_eq!(b["format"], "vouch-audit-bundle-v3");
    let records = b["records"].as_array().unwrap();
    assert!(records.iter().all(|r| r["inclusion"].is_array()));
    assert!(
        b["log"]["pinned"].is_array(),
        "the audited decision pins its log prefix"
    );

    let ok = p.verify_bundle(&p.bundle, &[&p.witness_vkey], "1");
    let out = ok.ok();
    assert!(out.contains("cosigned by witness.test"), "{out}");
    assert!(
        out.contains(&format!(
            "all {} records are in the checkpoint's tree",
            records.len()
        )),
        "{out}"
    );
    assert!(out.contains("log pin"), "{out}");

    // Two witnesses required, one cosigned: refused, naming the shortfall.
    p.verify_bundle(&p.bundle, &[&p.witness_vkey, &p.absent_vkey], "2")
        .fails(
            1,
            "too few witnesses cosigned (1 of the known ones: witness.test)",
        );
    // A quorum asked of a witness that never cosigned.
    p.verify_bundle(&p.bundle, &[&p.absent_vkey], "1")
        .fails(1, "too few witnesses cosigned (0 of the known ones: none)");
    // Flags that make no policy are bad input.
    p.verify_bundle(&p.bundle, &[&p.witness_vkey], "2")
        .fails(65, "--quorum 2 is more than the 1 witness key(s) given");

    // Without --log the rule-book checks still run and the output says what was skipped.
    let trust = p.env.path().join("trust.json");
    let unchecked = p
        .env
        .vouch(&["verify-bundle", s(&p.bundle), "--trust", s(&trust)]);
    unchecked.ok();
    assert!(
        unchecked
            .stderr
            .contains("were not checked: give the log's key with --log"),
        "{}",
        unchecked.stderr
    );
    // The artifact audited is the one the demo promoted.
    assert_eq!(b["artifact"], p.artifact.as_str());
}

#[test]
fn every_forgery_of_a_proven_bundle_is_refused_and_named() {
    let p = proven();
    let b = p.bundle_json();
    let w = [p.witness_vkey.as_str()];

    // One flipped bit in one inclusion hash.
    let mut flipped = b.clone();
    let hash = flipped["records"][3]["inclusion"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = base64_decode(&hash);
    raw[0] ^= 1;
    flipped["records"][3]["inclusion"][0] = base64_encode(&raw).into();
    let position = b["records"][3]["position"].as_u64().unwrap();
    p.verify_bundle(&p.write("flipped.json", &flipped), &w, "1")
        .fails(
            1,
            &format!(
                "record at position {position}: it is not leaf {}",
                position - 1
            ),
        );

    // A trailing extra hash.
    let mut trailing = b.clone();
    trailing["records"][0]["inclusion"]
        .as_array_mut()
        .unwrap()
        .push(hash.clone().into());
    p.verify_bundle(&p.write("trailing.json", &trailing), &w, "1")
        .fails(1, "record at position 1: it is not leaf 0");

    // A record moved to another position: positions are bound now.
    let mut moved = b.clone();
    let last = moved["records"].as_array().unwrap().len() - 1;
    let at = moved["records"][last]["position"].as_u64().unwrap();
    moved["records"][last]["position"] = (at + 1).into();
    p.verify_bundle(&p.write("moved.json", &moved), &w, "1")
        .fails(
            1,
            &format!("record at position {}: it is not leaf {at}", at + 1),
        );

    // The proofs taken out, or the whole log section.
    let mut bare = b.clone();
    bare.as_object_mut().unwrap().remove("log");
    for r in bare["records"].as_array_mut().unwrap() {
        r.as_object_mut().unwrap().remove("inclusion");
    }
    p.verify_bundle(&p.write("bare.json", &bare), &w, "1")
        .fails(1, "the bundle carries no log proofs");

    // A pin proof that does not lead to the checkpoint.
    let mut pin = b.clone();
    pin["log"]["pinned"][0] = hash.clone().into();
    p.verify_bundle(&p.write("pin.json", &pin), &w, "1")
        .fails(1, "is not a prefix of the checkpoint's tree");

    // A checkpoint of another history, signed by an insider's key under the log's origin.
    let note = Note::parse(b["log"]["checkpoint"].as_str().unwrap().as_bytes()).unwrap();
    let real = Checkpoint::parse(note.text()).unwrap();
    let other = Checkpoint::new(real.origin(), real.size(), vouch_tlog::tree::EMPTY_ROOT).unwrap();
    let insider = SigningKey::from_seed([9; 32]);
    let forged_note = checkpoint::sign(&other, insider.ed25519()).unwrap();
    let mut forged = b.clone();
    forged["log"]["checkpoint"] = forged_note.to_text().into();
    p.verify_bundle(&p.write("forged.json", &forged), &w, "1")
        .fails(1, "the bundle's checkpoint does not verify");

    // The log's own key, but not the checkpoint the witness saw: its cosignature breaks.
    let mut resigned_text = checkpoint::sign(&real, insider.ed25519())
        .unwrap()
        .to_text();
    resigned_text.push_str(&format!("{}\n", note.to_text().lines().last().unwrap()));
    let mut resigned = b.clone();
    resigned["log"]["checkpoint"] = resigned_text.into();
    p.verify_bundle(&p.write("resigned.json", &resigned), &w, "1")
        .fails(1, "checkpoint");

    // A v2 bundle cannot carry proofs.
    let mut v2 = b.clone();
    v2["format"] = "vouch-audit-bundle-v2".into();
    p.verify_bundle(&p.write("v2.json", &v2), &w, "1")
        .fails(1, "carries no log proofs, but this one does");
}

#[test]
fn an_exported_log_and_the_ledger_are_checked_against_a_witnessed_checkpoint() {
    let p = proven();
    let dir = p.env.tmp.path().to_owned();
    let export = dir.join("log.jsonl");
    p.env.vouch(&["export", s(&export)]).ok();
    let trust = p.env.path().join("trust.json");
    let text = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"format":"vouch-log-v1","ids_unique":true}"#);

    let verify_from = |file: &Path| {
        p.env.vouch(&[
            "verify",
            "--from",
            s(file),
            "--trust",
            s(&trust),
            "--checkpoint",
            s(&p.cosigned),
            "--log",
            &p.log_vkey,
            "--witness",
            &p.witness_vkey,
            "--quorum",
            "1",
        ])
    };
    let out = verify_from(&export);
    assert!(
        out.ok().contains("the log is the one checkpoint") && out.ok().contains("witness.test"),
        "{}",
        out.ok()
    );
    // The ledger itself, against the same checkpoint.
    p.env
        .vouch(&[
            "verify",
            "--checkpoint",
            s(&p.cosigned),
            "--log",
            &p.log_vkey,
            "--witness",
            &p.witness_vkey,
            "--quorum",
            "1",
        ])
        .ok();

    // A record lost in the middle of the copy: the gap is named.
    let mut lost = lines.clone();
    lost.remove(10);
    let lost_file = p
        .env
        .file("lost.jsonl", (lost.join("\n") + "\n").as_bytes());
    verify_from(&lost_file).fails(70, "position 10 is missing");

    // A truncated copy: shorter than the checkpoint, which says so.
    let cut = lines.len() - 3;
    let truncated = p.env.file(
        "truncated.jsonl",
        (lines[..cut].join("\n") + "\n").as_bytes(),
    );
    let run = verify_from(&truncated);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the log holds {} records in sequence, fewer than the checkpoint's {}",
            cut - 1,
            lines.len() - 1
        )),
        "{}",
        run.stderr
    );

    // A run record rewritten that no decision cites: the rule book cannot see it, the
    // checkpoint does.
    let mut rewritten: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let mut record: serde_json::Value = serde_json::from_str(&rewritten[lines.len() - 2]).unwrap();
    let bytes = record["bytes"].as_str().unwrap().to_owned();
    let mut raw: Vec<u8> = (0..bytes.len() / 2)
        .map(|i| u8::from_str_radix(&bytes[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    let at = raw.len() - 1;
    raw[at] ^= 1;
    record["bytes"] = raw
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
        .into();
    rewritten[lines.len() - 2] = record.to_string();
    let rewritten_file = p
        .env
        .file("rewritten.jsonl", (rewritten.join("\n") + "\n").as_bytes());
    let plain = p
        .env
        .vouch(&["verify", "--from", s(&rewritten_file), "--trust", s(&trust)]);
    let with_checkpoint = verify_from(&rewritten_file);
    assert_eq!(with_checkpoint.code, 1, "{}", with_checkpoint.stderr);
    assert!(
        with_checkpoint
            .stderr
            .contains("this is not the log the checkpoint (and its witnesses) saw"),
        "{}",
        with_checkpoint.stderr
    );
    // Whatever the rule book says of the rewritten record, the checkpoint refuses it.
    let _ = plain;

    // Another ledger's checkpoint, signed by another key: the log's key refuses it.
    let other = TestLedger::uninitialised();
    other.vouch(&["demo", "loan-risk"]).ok();
    let other_key = key_file(other.tmp.path(), "log.key", 5).0;
    other.vouch(&["checkpoint", "--key", s(&other_key)]).ok();
    let other_checkpoint = std::fs::read_dir(other.path().join("checkpoints"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    p.env
        .vouch(&[
            "verify",
            "--checkpoint",
            s(&other_checkpoint),
            "--log",
            &p.log_vkey,
        ])
        .fails(1, "does not verify");
}

fn base64_decode(text: &str) -> Vec<u8> {
    vouch_tlog::tree::Hash::from_base64(text)
        .expect("a base64 hash")
        .as_bytes()
        .to_vec()
}

fn base64_encode(bytes: &[u8]) -> String {
    vouch_tlog::tree::Hash::from_slice(bytes)
        .expect("32 bytes")
        .to_base64()
}
