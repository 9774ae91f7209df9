//! Witnesses: `vouch witness` (cosign a checkpoint after checking it extends the last one
//! cosigned for its origin), `vouch keys vkey` (a key's C2SP verifier key) and `vouch
//! verify-checkpoint` (a checkpoint's log signature and its witnesses' quorum, and
//! optionally that a ledger's tree has its root).
//!
//! The checks are `vouch_tlog::witness::add_checkpoint`'s (C2SP tlog-witness); this module
//! keeps the state directory around them:
//!
//! ```text
//! <state>/LOCK                                   held while a request is handled
//! <state>/<hex SHA-256(origin)>                  the last checkpoint cosigned for the origin
//! <state>/conflicts/<hex SHA-256(origin)>/<size>-<16 hex of root>.checkpoint
//!                                                both checkpoints of a split view
//! ```
//!
//! A state file is the checkpoint note as the log signed it, replaced atomically (temporary
//! file, fsync, rename, fsync of the directory) only after the checks pass, so a crash
//! leaves the old state or the new one, never a state the witness did not reach.
//!
//! *Invariant:* a witness never cosigns two inconsistent checkpoints for one origin.

use std::path::{Path, PathBuf};

use vouch_chain::SigningKey;
use vouch_files::FileKind;
use vouch_ledger::{Ledger, ProofError};
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::cosignature::count_cosignatures;
use vouch_tlog::note::{KeyName, Note, SignatureType, VerifierKey};
use vouch_tlog::witness::{self, AddCheckpoint, BodyError, Refusal, WitnessKey, WitnessState};

use crate::failure::Failure;

/// Where split-view evidence is kept, inside the state directory.
pub const CONFLICTS_DIR: &str = "conflicts";
/// The largest add-checkpoint request read.
pub const MAX_REQUEST_BYTES: u64 = witness::MAX_BODY_BYTES as u64;
/// A kept state file: one checkpoint note.
const STATE_FILE: FileKind =
    FileKind::new("witness state", vouch_tlog::note::MAX_NOTE_BYTES as u64);
/// A checkpoint file given to `verify-checkpoint`.
pub const CHECKPOINT_FILE: FileKind =
    FileKind::new("checkpoint", vouch_tlog::note::MAX_NOTE_BYTES as u64);

/// Which kind of C2SP verifier key: the log's checkpoint key or a witness's cosigning key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUse {
    /// Type 0x01: Ed25519 signatures on checkpoints (the key name is the log's origin).
    Log,
    /// Type 0x04: tlog-cosignature v1 by a witness.
    Witness,
}

impl KeyUse {
    fn signature_type(self) -> SignatureType {
        match self {
            KeyUse::Log => SignatureType::Ed25519,
            KeyUse::Witness => SignatureType::CosignatureV1,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyUse::Log => "a log key (type 0x01)",
            KeyUse::Witness => "a witness cosignature key (type 0x04)",
        }
    }
}

/// Why a witness command could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// The request body does not parse (protocol status 400).
    #[error("refused (tlog-witness status 400, rule malformed_request): {0}")]
    Body(#[from] BodyError),
    /// The witness refused to cosign, by the named rule.
    #[error("refused (tlog-witness status {status}, rule {rule}): {refusal}{kept}", status = refusal.status(), rule = refusal.rule(), kept = kept_list(kept))]
    Refused {
        /// The rule broken.
        refusal: Refusal,
        /// Files kept as evidence (a split view's two checkpoints).
        kept: Vec<PathBuf>,
    },
    /// A key name that C2SP notes cannot carry.
    #[error("{flag}: {name:?} cannot be a key name (no spaces, `+` or control characters)")]
    BadKeyName {
        /// The flag it came from.
        flag: &'static str,
        /// The name.
        name: String,
    },
    /// A verifier key that does not parse or is of the wrong kind.
    #[error("{flag}: {vkey:?} is not {what}: {reason}")]
    BadVkey {
        /// The flag it came from.
        flag: &'static str,
        /// The vkey (first 200 characters).
        vkey: String,
        /// What was wanted.
        what: &'static str,
        /// Why not.
        reason: String,
    },
    /// The witness's key is the key of a log it witnesses.
    #[error("--key is the log key of {origin}: a witness needs a key of its own")]
    SharedKey {
        /// The log's origin.
        origin: String,
    },
    /// A checkpoint file that is not a signed checkpoint note.
    #[error("{path} is not a signed checkpoint: {reason}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A state file that does not read back.
    #[error("witness state {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Log, witness and quorum flags that make no policy.
    #[error("{0}")]
    BadPolicy(String),
    /// The ledger's tree could not be read.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn kept_list(kept: &[PathBuf]) -> String {
    if kept.is_empty() {
        return String::new();
    }
    let list: Vec<String> = kept.iter().map(|p| p.display().to_string()).collect();
    format!("; both checkpoints kept as evidence: {}", list.join(", "))
}

impl WitnessError {
    /// How the CLI exits: a split view is a failed verification of the log (1); any other
    /// refusal, or a malformed request, key or file, is bad input (65); a damaged state or
    /// a caller bug is internal (70); a failed read or write is I/O (74).
    pub fn failure(&self) -> Failure {
        match self {
            WitnessError::Refused { refusal, .. } => match refusal {
                Refusal::SplitView { .. } => Failure::Verify,
                r if r.status() >= 500 => Failure::Internal,
                _ => Failure::BadInput,
            },
            WitnessError::Body(_)
            | WitnessError::BadKeyName { .. }
            | WitnessError::SharedKey { .. }
            | WitnessError::BadVkey { .. }
            | WitnessError::BadPolicy(_)
            | WitnessError::BadCheckpoint { .. } => Failure::BadInput,
            WitnessError::Damaged { .. } | WitnessError::Proof(_) => Failure::Internal,
            WitnessError::Io { source, .. } => crate::failure::user_file_failure(source),
        }
    }

    /// The tlog-witness HTTP status this answer stands for, when it is a protocol answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            WitnessError::Body(_) => Some(400),
            WitnessError::Refused { refusal, .. } => Some(refusal.status()),
            _ => None,
        }
    }
}

fn key_name(name: &str, flag: &'static str) -> Result<KeyName, WitnessError> {
    KeyName::new(name).map_err(|_| WitnessError::BadKeyName {
        flag,
        name: name.chars().take(200).collect(),
    })
}

/// The C2SP verifier key (`<name>+<key id>+<base64(type ‖ key)>`) of a private key, for a
/// log (type 0x01, name = the origin) or a witness (type 0x04).
///
/// # Errors
/// [`WitnessError::BadKeyName`] for a name notes cannot carry.
pub fn verifier_key(key: &SigningKey, name: &str, use_: KeyUse) -> Result<String, WitnessError> {
    let name = key_name(name, "--name")?;
    VerifierKey::new(name, use_.signature_type(), key.ed25519().verifying_key())
        .map(|k| k.to_string())
        .map_err(|e| WitnessError::BadVkey {
            flag: "--key",
            vkey: String::new(),
            what: use_.describe(),
            reason: e.to_string(),
        })
}

/// Parses verifier keys given on the command line, each of the kind `use_` asks for.
///
/// # Errors
/// [`WitnessError::BadVkey`] naming the flag and the key.
pub fn parse_vkeys(
    texts: &[String],
    use_: KeyUse,
    flag: &'static str,
) -> Result<Vec<VerifierKey>, WitnessError> {
    texts
        .iter()
        .map(|t| {
            let bad = |reason: String| WitnessError::BadVkey {
                flag,
                vkey: t.chars().take(200).collect(),
                what: use_.describe(),
                reason,
            };
            let k = VerifierKey::parse(t.trim()).map_err(|e| bad(e.to_string()))?;
            if k.signature_type() != use_.signature_type() {
                return Err(bad(format!(
                    "its type is 0x{:02x}",
                    k.signature_type().byte()
                )));
            }
            Ok(k)
        })
        .collect()
}

/// The auditor's log policy from command-line flags: the log's verifier key, the
/// witnesses they know and how many must have cosigned. Every check of a checkpoint
/// against flags (`verify-bundle`, `verify --checkpoint`) evaluates this one policy.
///
/// # Errors
/// [`WitnessError::BadVkey`] for a key that does not parse or is of the wrong type;
/// [`WitnessError::BadPolicy`] for a quorum above the witnesses given or a key given
/// twice.
pub fn log_policy(
    log: &str,
    witnesses: &[String],
    quorum: usize,
) -> Result<vouch_tlog::policy::Policy, WitnessError> {
    let logs = parse_vkeys(std::slice::from_ref(&log.to_owned()), KeyUse::Log, "--log")?;
    let witnesses = parse_vkeys(witnesses, KeyUse::Witness, "--witness")?;
    let count = witnesses.len();
    vouch_tlog::policy::Policy::from_keys(logs, witnesses, quorum).map_err(|e| {
        WitnessError::BadPolicy(match e {
            vouch_tlog::policy::PolicyError::BadThreshold { .. } => {
                format!("--quorum {quorum} is more than the {count} witness key(s) given")
            }
            vouch_tlog::policy::PolicyError::DuplicateKey { .. } => {
                "the same public key is given twice among --log and --witness".into()
            }
            other => other.to_string(),
        })
    })
}

/// A witness: where it keeps its state, the logs it witnesses, and its key.
#[derive(Debug)]
pub struct Witness {
    /// The state directory (created when missing).
    pub state_dir: PathBuf,
    /// One log key per origin it witnesses (type 0x01, named by the origin).
    pub logs: Vec<VerifierKey>,
    /// Its cosigning key and name.
    pub key: WitnessKey,
}

impl Witness {
    /// A witness named `name` cosigning with `key`.
    ///
    /// # Errors
    /// [`WitnessError::BadKeyName`] for a name notes cannot carry.
    pub fn new(
        state_dir: PathBuf,
        logs: Vec<VerifierKey>,
        key: &SigningKey,
        name: &str,
    ) -> Result<Self, WitnessError> {
        let name = key_name(name, "--name")?;
        // tlog-cosignature's message does not commit to the signer's name: a witness
        // cosigning with a log's own key would vouch for that log with its signature.
        let public = key.ed25519().verifying_key();
        if let Some(log) = logs.iter().find(|l| *l.public_key() == public) {
            return Err(WitnessError::SharedKey {
                origin: log.name().to_string(),
            });
        }
        Ok(Self {
            state_dir,
            logs,
            key: WitnessKey::new(name, key.ed25519().clone()),
        })
    }
}

/// A checkpoint the witness cosigned: what `vouch witness` prints.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CosignOutcome {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's size.
    pub size: u64,
    /// Its root, hex.
    pub root: String,
    /// The cosignature line (`— <witness> <base64>`, with its newline).
    pub cosignature: String,
    /// Whether the witness's state moved (false when the checkpoint was the last one
    /// cosigned, submitted again).
    pub advanced: bool,
    /// The state file for the origin.
    pub state: PathBuf,
}

/// Handles one add-checkpoint request at time `now` (POSIX seconds): checks it, keeps the
/// new state, and returns the cosignature. A split view's two checkpoints are kept under
/// `conflicts/` before the refusal is returned.
///
/// # Errors
/// [`WitnessError::Body`] for a malformed request, [`WitnessError::Refused`] naming the
/// rule (and the files kept), [`WitnessError::Damaged`] for a state file that does not
/// read back, [`WitnessError::Io`] when the state directory cannot be read or written.
pub fn add_checkpoint(
    witness: &Witness,
    body: &[u8],
    now: u64,
) -> Result<CosignOutcome, WitnessError> {
    let request = AddCheckpoint::parse(body)?;
    let dir = &witness.state_dir;
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let lock_path = dir.join("LOCK");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io("cannot open", &lock_path))?;
    // One request at a time per state directory: check and write are one step.
    lock.lock().map_err(io("cannot lock", &lock_path))?;
    let origin_hex = witness::origin_hash(request.origin());
    let state_path = dir.join(&origin_hex);
    let state = load_state(&state_path)?;
    match witness::add_checkpoint(&request, &witness.logs, state.as_ref(), &witness.key, now) {
        Ok(cosigned) => {
            if cosigned.advanced {
                write_atomically(&state_path, cosigned.state.note().to_text().as_bytes())?;
            }
            let checkpoint = cosigned.state.checkpoint();
            Ok(CosignOutcome {
                origin: checkpoint.origin().to_owned(),
                size: checkpoint.size(),
                root: checkpoint.root().to_hex(),
                cosignature: cosigned.cosignature.to_line(),
                advanced: cosigned.advanced,
                state: state_path,
            })
        }
        Err(refusal) => {
            let mut kept = Vec::new();
            if let Refusal::SplitView { cosigned, shown } = &refusal {
                let conflicts = dir.join(CONFLICTS_DIR).join(&origin_hex);
                std::fs::create_dir_all(&conflicts).map_err(io("cannot create", &conflicts))?;
                for note in [cosigned, shown] {
                    let path = conflicts.join(conflict_name(note));
                    write_atomically(&path, note.to_text().as_bytes())?;
                    kept.push(path);
                }
            }
            Err(WitnessError::Refused { refusal, kept })
        }
    }
}

/// `<size>-<16 hex of root>.checkpoint`, as `vouch checkpoint` names the ones it keeps.
fn conflict_name(note: &Note) -> String {
    match Checkpoint::parse(note.text()) {
        Ok(c) => format!("{}-{}.checkpoint", c.size(), &c.root().to_hex()[..16]),
        // Both notes were parsed as checkpoints before; kept whatever happens.
        Err(_) => "unparsed.checkpoint".to_owned(),
    }
}

fn load_state(path: &Path) -> Result<Option<WitnessState>, WitnessError> {
    let bytes = match vouch_files::read(path, STATE_FILE) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot read", path)(e)),
    };
    let damaged = |reason: String| WitnessError::Damaged {
        path: path.to_owned(),
        reason,
    };
    let note = Note::parse(&bytes).map_err(|e| damaged(e.to_string()))?;
    WitnessState::from_note(note)
        .map(Some)
        .map_err(|e| damaged(e.to_string()))
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> WitnessError + 'a {
    move |source| WitnessError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, renames it into place and
/// syncs the directory, so the file is whole or as it was.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WitnessError> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
    file.write_all(bytes).map_err(io("cannot write", &tmp))?;
    file.sync_all().map_err(io("cannot sync", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io("cannot rename into", path))?;
    if let Some(dir) = path.parent() {
        let d = std::fs::File::open(dir).map_err(io("cannot open", dir))?;
        d.sync_all().map_err(io("cannot sync", dir))?;
    }
    Ok(())
}

/// One witness whose cosignature verified.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Cosigner {
    /// The witness's key name.
    pub name: String,
    /// When it cosigned (POSIX seconds).
    pub timestamp: u64,
}

/// How a checkpoint's root compares with a ledger's tree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LedgerCheck {
    /// The ledger's tree size (records projected).
    pub tree_size: u64,
    /// The ledger's root at the checkpoint's size, hex (absent when the tree is smaller).
    pub root_at_size: Option<String>,
    /// Whether the ledger's log has the checkpoint's root at its size.
    pub agrees: bool,
}

/// What `vouch verify-checkpoint` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckpointCheck {
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's size.
    pub size: u64,
    /// Its root, hex.
    pub root: String,
    /// Known witnesses whose cosignature verified.
    pub cosigners: Vec<Cosigner>,
    /// How many were required.
    pub quorum: usize,
    /// Whether enough cosigned.
    pub quorum_met: bool,
    /// The ledger comparison, when asked for.
    pub ledger: Option<LedgerCheck>,
    /// Whether every check passed.
    pub ok: bool,
    /// What failed, in words (empty when `ok`).
    pub problems: Vec<String>,
}

/// Checks a checkpoint note: the log's signature (the key named by the origin), and how
/// many of `witnesses` cosigned it against `quorum`. A shortfall is a value (`ok` false);
/// a bad signature from the log or a known witness is a problem too, not an error.
///
/// # Errors
/// [`WitnessError::BadCheckpoint`] when the bytes are not a signed checkpoint note.
pub fn verify_checkpoint(
    path: &Path,
    bytes: &[u8],
    log: &VerifierKey,
    witnesses: &[VerifierKey],
    quorum: usize,
) -> Result<CheckpointCheck, WitnessError> {
    let bad = |reason: String| WitnessError::BadCheckpoint {
        path: path.to_owned(),
        reason,
    };
    let note = Note::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let parsed = Checkpoint::parse(note.text()).map_err(|e| bad(e.to_string()))?;
    let mut problems = Vec::new();
    if let Err(e) = checkpoint::verify(&note, log) {
        problems.push(format!("log signature: {e}"));
    }
    let (cosigners, quorum_met) = match count_cosignatures(&note, witnesses, quorum) {
        Ok(q) => {
            let met = q.is_met();
            let cosigners: Vec<Cosigner> = q
                .cosigners
                .into_iter()
                .map(|(name, timestamp)| Cosigner {
                    name: name.to_string(),
                    timestamp,
                })
                .collect();
            if !met {
                problems.push(format!(
                    "quorum not met: {} of the known witnesses cosigned, {quorum} required",
                    cosigners.len()
                ));
            }
            (cosigners, met)
        }
        Err(e) => {
            problems.push(format!("cosignatures: {e}"));
            (Vec::new(), false)
        }
    };
    Ok(CheckpointCheck {
        origin: parsed.origin().to_owned(),
        size: parsed.size(),
        root: parsed.root().to_hex(),
        cosigners,
        quorum,
        quorum_met,
        ledger: None,
        ok: problems.is_empty(),
        problems,
    })
}

/// Adds to `check` whether the ledger's tree has the checkpoint's root at its size (the
/// ledger's log is then the log the checkpoint, and its witnesses, saw).
///
/// # Errors
/// [`WitnessError::Proof`] when the views store fails or its tree is damaged.
pub fn check_against_ledger(
    check: &mut CheckpointCheck,
    ledger: &Ledger,
) -> Result<(), WitnessError> {
    let tree_size = ledger.tree_head()?.size;
    let (root_at_size, agrees) = match ledger.root_at(check.size) {
        Ok(root) => {
            let hex = root.to_hex();
            let agrees = hex == check.root;
            if !agrees {
                check.problems.push(format!(
                    "the ledger's tree has root {hex} at size {}, not the checkpoint's {}",
                    check.size, check.root
                ));
            }
            (Some(hex), agrees)
        }
        Err(ProofError::BeyondTree { .. }) => {
            check.problems.push(format!(
                "the ledger's tree has {tree_size} records, fewer than the checkpoint's {}",
                check.size
            ));
            (None, false)
        }
        Err(e) => return Err(e.into()),
    };
    check.ledger = Some(LedgerCheck {
        tree_size,
        root_at_size,
        agrees,
    });
    check.ok = check.problems.is_empty();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vouch_tlog::tree::Tree;

    const ORIGIN: &str = "example.test/log";

    fn log_note(tree: &Tree<vouch_tlog::store::MemoryStore>, key: &SigningKey) -> Note {
        let c = Checkpoint::new(ORIGIN, tree.size(), tree.root()).unwrap();
        checkpoint::sign(&c, key.ed25519()).unwrap()
    }

    #[test]
    fn state_is_kept_and_a_split_view_leaves_evidence() {
        let tmp = std::env::temp_dir().join(format!("vouch-witness-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let log_key = SigningKey::from_seed([1; 32]);
        let vkey = verifier_key(&log_key, ORIGIN, KeyUse::Log).unwrap();
        let logs = parse_vkeys(&[vkey], KeyUse::Log, "--log").unwrap();
        let same = Witness::new(tmp.clone(), logs.clone(), &log_key, "w.test").unwrap_err();
        assert!(matches!(same, WitnessError::SharedKey { .. }), "{same}");
        let w = Witness::new(tmp.clone(), logs, &SigningKey::from_seed([2; 32]), "w.test").unwrap();
        let mut tree = Tree::in_memory();
        for i in 0..3u8 {
            tree.append(&[i]).unwrap();
        }
        let body = format!("old 0\n\n{}", log_note(&tree, &log_key).to_text());
        let out = add_checkpoint(&w, body.as_bytes(), 10).unwrap();
        assert!(out.advanced);
        assert_eq!(out.state, tmp.join(witness::origin_hash(ORIGIN)));
        let mut fork = Tree::in_memory();
        for i in 10..13u8 {
            fork.append(&[i]).unwrap();
        }
        let body = format!("old 3\n\n{}", log_note(&fork, &log_key).to_text());
        let e = add_checkpoint(&w, body.as_bytes(), 11).unwrap_err();
        assert_eq!(e.failure(), Failure::Verify);
        assert_eq!(e.status(), Some(422));
        let kept = std::fs::read_dir(tmp.join(CONFLICTS_DIR).join(witness::origin_hash(ORIGIN)))
            .unwrap()
            .count();
        assert_eq!(kept, 2);
        // The state still holds the first checkpoint.
        let state = load_state(&out.state).unwrap().unwrap();
        assert_eq!(state.root(), tree.root());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
