//! Transparency: signed checkpoints of the tree over the log (`vouch checkpoint`) and the
//! proofs against them (`vouch prove inclusion`, `vouch prove consistency`).
//!
//! A checkpoint is a C2SP tlog-checkpoint (origin, size, base64 root) in a C2SP signed
//! note, signed with Ed25519 under a key whose name is the origin. The ledger keeps every
//! checkpoint it signed as `<ledger>/checkpoints/<size>-<first 16 hex of the root>.checkpoint`
//! and never signs one inconsistent with the last (largest) of them: the same size with
//! another root, a smaller size, or a root the consistency proof from the last does not
//! reach is refused, naming both. So a truncated or rewritten log, or a rebuilt ledger
//! showing another history, cannot get a second, contradicting signature from this key.
//!
//! The origin is `--origin`, else the origin of the last kept checkpoint, else
//! `vouch/<the log's identity>` (characters other than letters, digits and `._:/-`
//! replaced by `-`). Once a checkpoint is kept, another origin is refused: one log, one
//! origin.

use std::path::{Path, PathBuf};

use vouch_chain::SigningKey;
use vouch_ledger::{Ledger, ProofError, TreeHead};
use vouch_log::Position;
use vouch_tlog::checkpoint::{self, Checkpoint};
use vouch_tlog::note::{KeyName, Note, SignatureType, VerifierKey};
use vouch_tlog::proof::verify_consistency;
use vouch_tlog::proof_file::ProofFile;
use vouch_tlog::tree::{Hash, EMPTY_ROOT};

use crate::failure::Failure;

/// The directory, inside the ledger, of the checkpoints it signed.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// A checkpoint note is a few hundred bytes; more is not one of ours.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 << 10;

/// Why a transparency command could not answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransparencyError {
    /// The tree disagrees with the last checkpoint this ledger signed: signing now would
    /// contradict it.
    #[error("refusing to sign: the log's tree ({size} records, root {root}) is inconsistent with the last checkpoint signed, {last} ({last_size} records, root {last_root}): {reason}")]
    Inconsistent {
        /// The last kept checkpoint.
        last: PathBuf,
        /// Its size.
        last_size: u64,
        /// Its root, hex.
        last_root: String,
        /// The tree's size now.
        size: u64,
        /// The tree's root now, hex.
        root: String,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint given (or kept) that the ledger's tree does not contain.
    #[error("checkpoint {path} ({size} records, root {root}) is not one this ledger's tree agrees with: {reason}")]
    Disagrees {
        /// The checkpoint file.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Its root, hex.
        root: String,
        /// What differs.
        reason: String,
    },
    /// Another origin than the one the kept checkpoints carry.
    #[error("origin `{asked}` differs from `{kept}`, the origin of the checkpoints this ledger signed ({last}); one log has one origin")]
    OriginChanged {
        /// The origin asked for.
        asked: String,
        /// The kept checkpoints' origin.
        kept: String,
        /// The last kept checkpoint.
        last: PathBuf,
    },
    /// The key is not the one that signed the kept checkpoints.
    #[error("the key {key} did not sign the last checkpoint, {last}; sign with the log's key")]
    OtherKey {
        /// The note verifier key given.
        key: String,
        /// The last kept checkpoint.
        last: PathBuf,
    },
    /// An origin that cannot be a key name.
    #[error("origin `{0}` cannot name a key: no spaces, `+` or control characters")]
    BadOrigin(String),
    /// A checkpoint file given that does not parse.
    #[error("{path} is not a signed checkpoint: {reason}")]
    BadCheckpoint {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A kept checkpoint that does not read back.
    #[error("kept checkpoint {path} is damaged: {reason}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No checkpoint was given and none is kept.
    #[error("this ledger has signed no checkpoint yet: run `vouch checkpoint --key FILE` or pass --checkpoint")]
    NoCheckpoint,
    /// A proof could not be built.
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

impl TransparencyError {
    /// How the CLI exits and the server answers.
    pub fn failure(&self) -> Failure {
        match self {
            TransparencyError::Inconsistent { .. } | TransparencyError::Damaged { .. } => {
                Failure::Internal
            }
            TransparencyError::Disagrees { .. } => Failure::Verify,
            TransparencyError::OriginChanged { .. }
            | TransparencyError::OtherKey { .. }
            | TransparencyError::BadOrigin(_)
            | TransparencyError::BadCheckpoint { .. } => Failure::BadInput,
            TransparencyError::NoCheckpoint => Failure::NotFound,
            TransparencyError::Proof(ProofError::Views(_)) => Failure::Internal,
            TransparencyError::Proof(_) => Failure::BadInput,
            TransparencyError::Io { source, .. } => {
                if source.kind() == std::io::ErrorKind::NotFound {
                    Failure::NotFound
                } else {
                    Failure::Io
                }
            }
        }
    }
}

/// A checkpoint as kept or given: the file, the signed note, the checkpoint in it.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    /// Where it was read from (or written to).
    pub path: PathBuf,
    /// The signed note.
    pub note: Note,
    /// Its text, parsed.
    pub checkpoint: Checkpoint,
}

/// What `vouch checkpoint` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Signed {
    /// The origin (the key's name).
    pub origin: String,
    /// Records covered.
    pub size: u64,
    /// The root, hex.
    pub root: String,
    /// The kept file.
    pub path: PathBuf,
    /// The signed note's text.
    pub note: String,
    /// False when the tree had not grown since the last checkpoint, which is returned again.
    pub new: bool,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TransparencyError {
    let path = path.to_owned();
    move |source| TransparencyError::Io {
        action,
        path,
        source,
    }
}

/// The default origin of a log: `vouch/<identity>`, made a valid key name.
pub fn default_origin(identity: &str) -> String {
    let clean: String = identity
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:/-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("vouch/{clean}")
}

/// Reads a signed checkpoint from its bytes.
///
/// # Errors
/// [`TransparencyError::BadCheckpoint`] when the bytes are not a signed note carrying a
/// checkpoint.
pub fn parse_checkpoint(path: &Path, bytes: &[u8]) -> Result<SignedCheckpoint, TransparencyError> {
    let bad = |reason: String| TransparencyError::BadCheckpoint {
        path: path.to_owned(),
        reason,
    };
    let note = Note::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let checkpoint = Checkpoint::parse(note.text()).map_err(|e| bad(e.to_string()))?;
    Ok(SignedCheckpoint {
        path: path.to_owned(),
        note,
        checkpoint,
    })
}

/// Every checkpoint the ledger in `dir` signed, smallest size first.
///
/// # Errors
/// When the directory cannot be listed or a kept checkpoint does not read back.
pub fn kept_checkpoints(dir: &Path) -> Result<Vec<SignedCheckpoint>, TransparencyError> {
    let dir = dir.join(CHECKPOINTS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("cannot list", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io("cannot list", &dir))?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("checkpoint") {
            continue;
        }
        let bytes = vouch_files::read(
            &path,
            vouch_files::FileKind::new("checkpoint", MAX_CHECKPOINT_BYTES),
        )
        .map_err(io("cannot read", &path))?;
        let kept = parse_checkpoint(&path, &bytes).map_err(|e| TransparencyError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        out.push(kept);
    }
    out.sort_by_key(|c| c.checkpoint.size());
    Ok(out)
}

/// The last (largest) checkpoint the ledger in `dir` signed.
///
/// # Errors
/// As [`kept_checkpoints`].
pub fn latest_checkpoint(dir: &Path) -> Result<Option<SignedCheckpoint>, TransparencyError> {
    Ok(kept_checkpoints(dir)?.pop())
}

/// The file name a checkpoint is kept under.
fn kept_name(size: u64, root: &Hash) -> String {
    format!("{size}-{}.checkpoint", &root.to_hex()[..16])
}

/// Checks that `last`, a checkpoint signed earlier, is consistent with the tree now:
/// `head` extends it (a consistency proof from the views' tree verifies against both
/// roots).
fn check_consistent(
    ledger: &Ledger,
    last: &SignedCheckpoint,
    head: TreeHead,
) -> Result<(), TransparencyError> {
    let (last_size, last_root) = (last.checkpoint.size(), last.checkpoint.root());
    let refuse = |reason: String| TransparencyError::Inconsistent {
        last: last.path.clone(),
        last_size,
        last_root: last_root.to_hex(),
        size: head.size,
        root: head.root.to_hex(),
        reason,
    };
    if head.size < last_size {
        return Err(refuse(format!(
            "the log holds {} records, fewer than the {last_size} already signed (truncated, or another log)",
            head.size
        )));
    }
    if head.size == last_size {
        if head.root != last_root {
            return Err(refuse(
                "the same size with another root: the log was rewritten (a split view)".into(),
            ));
        }
        return Ok(());
    }
    if last_size == 0 {
        if last_root != EMPTY_ROOT {
            return Err(refuse(
                "a checkpoint of size 0 must carry the empty root".into(),
            ));
        }
        return Ok(());
    }
    let proof = ledger.consistency_proof(last_size, head.size)?;
    verify_consistency(last_size, head.size, &last_root, &head.root, &proof).map_err(|e| {
        refuse(format!(
            "no consistency proof from the earlier checkpoint verifies ({e}): the first {last_size} records are not the ones signed"
        ))
    })
}

/// Signs the current tree head as a checkpoint, unless it contradicts the last one kept;
/// keeps it under `<ledger>/checkpoints/`. Catch up first to cover every record.
///
/// # Errors
/// [`TransparencyError::Inconsistent`] (nothing signed), a changed origin or key, an
/// origin that cannot name a key, store and file failures.
pub fn sign_checkpoint(
    ledger: &Ledger,
    key: &SigningKey,
    origin: Option<&str>,
) -> Result<Signed, TransparencyError> {
    let last = latest_checkpoint(ledger.dir())?;
    let origin = match (origin, &last) {
        (Some(asked), Some(last)) if asked != last.checkpoint.origin() => {
            return Err(TransparencyError::OriginChanged {
                asked: asked.to_owned(),
                kept: last.checkpoint.origin().to_owned(),
                last: last.path.clone(),
            });
        }
        (Some(asked), _) => asked.to_owned(),
        (None, Some(last)) => last.checkpoint.origin().to_owned(),
        (None, None) => default_origin(&ledger.log().identity().map_err(|e| {
            ProofError::Views(vouch_views::ViewsError::Corrupt {
                key: "log identity".into(),
                reason: e.to_string(),
            })
        })?),
    };
    let name = KeyName::new(&origin).map_err(|_| TransparencyError::BadOrigin(origin.clone()))?;
    let verifier = VerifierKey::new(name, SignatureType::Ed25519, key.ed25519().verifying_key())
        .map_err(|e| TransparencyError::BadOrigin(format!("{origin} ({e})")))?;
    let head = ledger.tree_head()?;
    if let Some(last) = &last {
        if checkpoint::verify(&last.note, &verifier).is_err() {
            return Err(TransparencyError::OtherKey {
                key: verifier.to_string(),
                last: last.path.clone(),
            });
        }
        check_consistent(ledger, last, head)?;
        if last.checkpoint.size() == head.size {
            return Ok(Signed {
                origin,
                size: head.size,
                root: head.root.to_hex(),
                path: last.path.clone(),
                note: last.note.to_text(),
                new: false,
            });
        }
    }
    let body = Checkpoint::new(&origin, head.size, head.root)
        .map_err(|e| TransparencyError::BadOrigin(format!("{origin} ({e})")))?;
    let note = checkpoint::sign(&body, key.ed25519())
        .map_err(|e| TransparencyError::BadOrigin(format!("{origin} ({e})")))?;
    let dir = ledger.dir().join(CHECKPOINTS_DIR);
    std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    let path = dir.join(kept_name(head.size, &head.root));
    let text = note.to_text();
    write_atomically(&path, text.as_bytes())?;
    Ok(Signed {
        origin,
        size: head.size,
        root: head.root.to_hex(),
        path,
        note: text,
        new: true,
    })
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place,
/// so a kept checkpoint is whole or absent.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), TransparencyError> {
    use std::io::Write;
    let tmp = path.with_extension("checkpoint.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
    file.write_all(bytes).map_err(io("cannot write", &tmp))?;
    file.sync_all().map_err(io("cannot sync", &tmp))?;
    std::fs::rename(&tmp, path).map_err(io("cannot rename into", path))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Checks that the ledger's tree holds `given`: its size is within the tree and the root
/// at that size is its root.
///
/// # Errors
/// [`TransparencyError::Disagrees`] naming what differs; store failures.
pub fn check_agrees(ledger: &Ledger, given: &SignedCheckpoint) -> Result<(), TransparencyError> {
    let (size, root) = (given.checkpoint.size(), given.checkpoint.root());
    let disagree = |reason: String| TransparencyError::Disagrees {
        path: given.path.clone(),
        size,
        root: root.to_hex(),
        reason,
    };
    let head = ledger.tree_head()?;
    if size > head.size {
        return Err(disagree(format!(
            "the ledger's tree covers only {} records",
            head.size
        )));
    }
    let ours = ledger.root_at(size)?;
    if ours != root {
        return Err(disagree(format!(
            "the ledger's root at that size is {}",
            ours.to_hex()
        )));
    }
    Ok(())
}

/// The C2SP tlog-proof of the record at `position` against `against` (or the latest kept
/// checkpoint), after checking the ledger's tree agrees with that checkpoint.
///
/// # Errors
/// [`TransparencyError::NoCheckpoint`], [`TransparencyError::Disagrees`], a position
/// outside the checkpoint's tree, store failures.
pub fn prove_inclusion(
    ledger: &Ledger,
    position: Position,
    against: Option<SignedCheckpoint>,
) -> Result<String, TransparencyError> {
    let against = match against {
        Some(c) => c,
        None => latest_checkpoint(ledger.dir())?.ok_or(TransparencyError::NoCheckpoint)?,
    };
    check_agrees(ledger, &against)?;
    let size = against.checkpoint.size();
    let proof = ledger.inclusion_proof(position, size)?;
    let file =
        ProofFile::new(None, position.get() - 1, proof, against.note.clone()).map_err(|e| {
            TransparencyError::BadCheckpoint {
                path: against.path.clone(),
                reason: e.to_string(),
            }
        })?;
    Ok(file.to_text())
}

/// The consistency proof from checkpoint `from` to checkpoint `to`, as the witness
/// protocol sends it: `old <size>` then one base64 hash per line. Both must be of the same
/// origin and agree with the ledger's tree.
///
/// # Errors
/// [`TransparencyError::Disagrees`], checkpoints of other origins or out of order, store
/// failures.
pub fn prove_consistency(
    ledger: &Ledger,
    from: &SignedCheckpoint,
    to: &SignedCheckpoint,
) -> Result<String, TransparencyError> {
    if from.checkpoint.origin() != to.checkpoint.origin() {
        return Err(TransparencyError::BadCheckpoint {
            path: to.path.clone(),
            reason: format!(
                "its origin `{}` differs from `{}` in {}",
                to.checkpoint.origin(),
                from.checkpoint.origin(),
                from.path.display()
            ),
        });
    }
    check_agrees(ledger, from)?;
    check_agrees(ledger, to)?;
    let proof = ledger.consistency_proof(from.checkpoint.size(), to.checkpoint.size())?;
    let mut out = format!("old {}\n", from.checkpoint.size());
    for hash in proof {
        out.push_str(&hash.to_base64());
        out.push('\n');
    }
    Ok(out)
}

/// An audit bundle, with the proofs that its records are in the log when a checkpoint
/// covers them all.
#[derive(Debug, Clone)]
pub struct ProvenBundle {
    /// The bundle.
    pub bundle: vouch_ledger::Bundle,
    /// The checkpoint its proofs are against; `None` when no checkpoint covered every
    /// record (the bundle then carries no `log`).
    pub checkpoint: Option<SignedCheckpoint>,
    /// Why it carries no proofs, when it does not.
    pub unproven: Option<String>,
}

/// The audit bundle of the promotion of `artifact` by decision `index`, proven against
/// `against` (a checkpoint given, cosigned or not) or else the last checkpoint the ledger
/// kept, when that checkpoint covers every record the bundle holds. The one place bundles
/// are written, for the CLI, the server and the demos.
///
/// # Errors
/// [`TransparencyError::Disagrees`] when a given checkpoint is not of this ledger's
/// tree, or does not cover the bundle's records; store failures.
pub fn proven_bundle(
    ledger: &Ledger,
    artifact: &vouch_event::Digest,
    index: u64,
    trust: &vouch_ledger::Trust,
    against: Option<SignedCheckpoint>,
) -> Result<ProvenBundle, BundleError> {
    let mut bundle = ledger.bundle(artifact, index, trust)?;
    let given = against.is_some();
    let against = match against {
        Some(c) => Some(c),
        None => latest_checkpoint(ledger.dir())?,
    };
    let Some(against) = against else {
        return Ok(ProvenBundle {
            bundle,
            checkpoint: None,
            unproven: Some("this ledger has signed no checkpoint yet (`vouch checkpoint`)".into()),
        });
    };
    let last = bundle.records.iter().map(|r| r.position).max().unwrap_or(0);
    let size = against.checkpoint.size();
    if last > size {
        let reason = format!(
            "checkpoint {} covers {size} records and the bundle holds the record at position {last}; sign a newer one (`vouch checkpoint`)",
            against.path.display()
        );
        if given {
            return Err(TransparencyError::Disagrees {
                path: against.path.clone(),
                size,
                root: against.checkpoint.root().to_hex(),
                reason,
            }
            .into());
        }
        return Ok(ProvenBundle {
            bundle,
            checkpoint: None,
            unproven: Some(reason),
        });
    }
    check_agrees(ledger, &against)?;
    ledger.prove_bundle(
        &mut bundle,
        &vouch_ledger::ProvingCheckpoint {
            note: against.note.to_text(),
            size,
        },
    )?;
    Ok(ProvenBundle {
        bundle,
        checkpoint: Some(against),
        unproven: None,
    })
}

/// Why a bundle could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The ledger could not build it.
    #[error(transparent)]
    Release(#[from] vouch_ledger::ReleaseError),
    /// Its proofs could not be built.
    #[error(transparent)]
    Transparency(#[from] TransparencyError),
}

impl From<ProofError> for BundleError {
    fn from(e: ProofError) -> Self {
        BundleError::Transparency(e.into())
    }
}

impl BundleError {
    /// How the CLI exits and the server answers.
    pub fn failure(&self) -> Failure {
        match self {
            BundleError::Release(e) => crate::failure::release_failure(e),
            BundleError::Transparency(e) => e.failure(),
        }
    }
}
