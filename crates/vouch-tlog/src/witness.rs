//! The witness side of C2SP tlog-witness v1.0.0: what a witness checks before it cosigns a
//! checkpoint (`add-checkpoint`), as a pure function. State (the last checkpoint cosigned
//! for the origin) is passed in and the new state returned; time is passed in. No I/O.
//!
//! Request body (every line ends in `\n`):
//!
//! ```text
//! old <size>                    the size the submitter believes the witness last cosigned
//! <base64 hash>                 0 to 63 lines: the consistency proof from <size>
//! <empty line>
//! <signed checkpoint note>      the log's signature, maybe other cosignatures
//! ```
//!
//! Checks, in the protocol's order, each with its HTTP status ([`Refusal::status`]):
//!
//! 1. the origin has no configured log key: 404;
//! 2. no valid signature from the origin's log key, or a failing known-key signature: 403;
//! 3. the old size is larger than the checkpoint's size: 400;
//! 4. the old size is not the size the witness last cosigned (0 when it never did): 409,
//!    answered with the witness's size;
//! 5. a size-0 checkpoint without the empty root, old size 0 with a non-empty proof, a
//!    failing consistency proof, or the same size as the last cosigned with another root:
//!    422. In the last case (a split view) both checkpoints are returned so the caller
//!    keeps them as evidence.
//!
//! Otherwise the witness cosigns (tlog-cosignature v1) and the checkpoint becomes its
//! state. A checkpoint of the size last cosigned with the same root is cosigned again
//! (idempotent re-submission) and leaves the state as it was.
//!
//! *Invariant:* a witness never cosigns two inconsistent checkpoints for one origin: the
//! state only moves to a checkpoint whose tree a verified consistency proof shows extends
//! the last cosigned one, so sizes never go down and a size never gets a second root.

use ed25519_dalek::SigningKey;
use sha2::{Digest as _, Sha256};

use crate::checkpoint::{self, Checkpoint, CheckpointError, CheckpointVerifyError};
use crate::cosignature::{self, CosignatureError};
use crate::note::{KeyName, Note, NoteError, NoteSignature, SignatureType, VerifierKey, VkeyError};
use crate::proof::{self, verify_consistency};
use crate::tree::{Hash, EMPTY_ROOT};

/// Most consistency-proof lines a request may carry (the protocol's cap).
pub const MAX_PROOF_LINES: usize = 63;

/// Largest request body accepted: a checkpoint note (itself capped at
/// [`crate::note::MAX_NOTE_BYTES`]) plus the `old` line and 63 proof lines.
pub const MAX_BODY_BYTES: usize = crate::note::MAX_NOTE_BYTES + 64 * 46;

/// The lowercase hex SHA-256 of an origin: the name under which witnesses publish (and
/// Vouch's witness keeps) the last checkpoint cosigned for it.
pub fn origin_hash(origin: &str) -> String {
    Hash(Sha256::digest(origin.as_bytes()).into()).to_hex()
}

/// A parsed add-checkpoint request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    old_size: u64,
    proof: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl AddCheckpoint {
    /// A request from its parts (what a log, or a test, sends).
    ///
    /// # Errors
    /// [`BodyError::TooManyProofLines`] over [`MAX_PROOF_LINES`],
    /// [`BodyError::Checkpoint`] when the note's text is not a checkpoint.
    pub fn new(old_size: u64, proof: Vec<Hash>, note: Note) -> Result<Self, BodyError> {
        if proof.len() > MAX_PROOF_LINES {
            return Err(BodyError::TooManyProofLines {
                max: MAX_PROOF_LINES,
            });
        }
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(Self {
            old_size,
            proof,
            note,
            checkpoint,
        })
    }

    /// Parses a request body.
    ///
    /// # Errors
    /// [`BodyError`] naming the line: over [`MAX_BODY_BYTES`], not UTF-8, a first line that
    /// is not `old <decimal>`, a proof line that is not base64 of 32 bytes, more than
    /// [`MAX_PROOF_LINES`], no empty line before the note, a note or checkpoint that does
    /// not parse.
    pub fn parse(bytes: &[u8]) -> Result<Self, BodyError> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge {
                size: bytes.len(),
                max: MAX_BODY_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| BodyError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        let (first, mut rest) = text.split_once('\n').ok_or(BodyError::MissingOldLine)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(crate::checkpoint::parse_decimal)
            .ok_or(BodyError::MissingOldLine)?;
        let mut proof = Vec::new();
        let mut line_no = 2;
        loop {
            let (line, after) = rest.split_once('\n').ok_or(BodyError::MissingSeparator)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(BodyError::TooManyProofLines {
                    max: MAX_PROOF_LINES,
                });
            }
            let hash = crate::checkpoint::decode_hash(line)
                .ok_or(BodyError::BadProofLine { line: line_no })?;
            proof.push(hash);
            line_no += 1;
        }
        let note = Note::parse(rest.as_bytes())?;
        Self::new(old_size, proof, note)
    }

    /// The body's wire form, which [`AddCheckpoint::parse`] reads back.
    pub fn to_text(&self) -> String {
        let mut s = format!("old {}\n", self.old_size);
        for h in &self.proof {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.note.to_text());
        s
    }

    /// The size the submitter says the witness last cosigned.
    pub fn old_size(&self) -> u64 {
        self.old_size
    }

    /// The consistency proof from [`AddCheckpoint::old_size`].
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint as sent.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint the note carries (not yet verified).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The checkpoint's origin (not yet verified): which state the caller loads.
    pub fn origin(&self) -> &str {
        self.checkpoint.origin()
    }
}

/// What a witness remembers about one origin: the last checkpoint it cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WitnessState {
    note: Note,
    checkpoint: Checkpoint,
}

impl WitnessState {
    /// The state a kept note stands for.
    ///
    /// # Errors
    /// [`CheckpointError`] when the note's text is not a checkpoint.
    pub fn from_note(note: Note) -> Result<Self, CheckpointError> {
        let checkpoint = Checkpoint::parse(note.text())?;
        Ok(Self { note, checkpoint })
    }

    /// The last cosigned checkpoint, as the log signed it.
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The last cosigned checkpoint, parsed.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Its size: the old size the next request must name.
    pub fn size(&self) -> u64 {
        self.checkpoint.size()
    }

    /// Its root.
    pub fn root(&self) -> Hash {
        self.checkpoint.root()
    }
}

/// The witness's own identity: its cosigning key under its name.
#[derive(Clone, Debug)]
pub struct WitnessKey {
    name: KeyName,
    key: SigningKey,
}

impl WitnessKey {
    /// A witness key.
    pub fn new(name: KeyName, key: SigningKey) -> Self {
        Self { name, key }
    }

    /// The witness's name, on its cosignature lines.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The verifier key (type 0x04) that checks this witness's cosignatures.
    ///
    /// # Errors
    /// [`VkeyError::WeakKey`] for a small-order public key (never from a real seed).
    pub fn verifier_key(&self) -> Result<VerifierKey, VkeyError> {
        VerifierKey::new(
            self.name.clone(),
            SignatureType::CosignatureV1,
            self.key.verifying_key(),
        )
    }
}

/// A cosigned checkpoint: the line to hand back and the state to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosigned {
    /// The tlog-cosignature v1 line (add it to the checkpoint's note).
    pub cosignature: NoteSignature,
    /// The witness's state for the origin after this request.
    pub state: WitnessState,
    /// Whether the state moved (false for a re-submission of the last cosigned
    /// checkpoint: nothing new to keep).
    pub advanced: bool,
}

/// Handles one add-checkpoint request: checks it against the configured log keys
/// (`logs`, one per origin, type 0x01, named by the origin) and the witness's `state` for
/// the request's origin (`None` when it never cosigned one: its size is then 0), and
/// cosigns at `timestamp` (POSIX seconds).
///
/// # Errors
/// A [`Refusal`] naming the rule broken, in the protocol's order; see the module docs.
pub fn add_checkpoint(
    request: &AddCheckpoint,
    logs: &[VerifierKey],
    state: Option<&WitnessState>,
    witness: &WitnessKey,
    timestamp: u64,
) -> Result<Cosigned, Refusal> {
    let origin = request.origin();
    // 404: only a log key named by the origin (checkpoint::verify requires that name).
    let log_key = logs
        .iter()
        .find(|k| k.signature_type() == SignatureType::Ed25519 && k.name().as_str() == origin)
        .ok_or_else(|| Refusal::UnknownOrigin {
            origin: origin.chars().take(128).collect(),
        })?;
    // 403.
    let checkpoint = checkpoint::verify(request.note(), log_key).map_err(Refusal::LogSignature)?;
    if checkpoint.to_text() != request.note().text() {
        // Parsing is strict, so this cannot happen; cosigning other bytes than those the
        // log signed would be worse than refusing.
        return Err(Refusal::NotCanonical);
    }
    if let Some(s) = state {
        if s.checkpoint.origin() != origin {
            return Err(Refusal::StateOfOtherOrigin {
                state_origin: s.checkpoint.origin().to_owned(),
            });
        }
    }
    let old = request.old_size();
    let size = checkpoint.size();
    // 400.
    if old > size {
        return Err(Refusal::OldBeyondSize { old, size });
    }
    // 409.
    let last_size = state.map_or(0, WitnessState::size);
    if old != last_size {
        return Err(Refusal::OldSizeMismatch {
            old,
            witness_size: last_size,
        });
    }
    // 422.
    if size == 0 && checkpoint.root() != EMPTY_ROOT {
        return Err(Refusal::EmptyTreeRoot);
    }
    let advanced = match state {
        None => {
            if !request.proof().is_empty() {
                return Err(Refusal::ProofFromEmpty {
                    lines: request.proof().len(),
                });
            }
            true
        }
        Some(s) if s.size() == 0 => {
            if !request.proof().is_empty() {
                return Err(Refusal::ProofFromEmpty {
                    lines: request.proof().len(),
                });
            }
            size > 0
        }
        Some(s) if s.size() == size => {
            if s.root() != checkpoint.root() {
                return Err(Refusal::SplitView {
                    cosigned: Box::new(s.note.clone()),
                    shown: Box::new(request.note().clone()),
                });
            }
            if !request.proof().is_empty() {
                return Err(Refusal::Inconsistent(
                    proof::VerifyError::WrongProofLength {
                        expected: 0,
                        actual: request.proof().len(),
                    },
                ));
            }
            false
        }
        Some(s) => {
            verify_consistency(
                s.size(),
                size,
                &s.root(),
                &checkpoint.root(),
                request.proof(),
            )
            .map_err(Refusal::Inconsistent)?;
            true
        }
    };
    let cosignature = cosignature::cosign(&checkpoint, &witness.name, &witness.key, timestamp)
        .map_err(Refusal::Cosign)?;
    let state = match state {
        Some(s) if !advanced => s.clone(),
        _ => WitnessState {
            note: request.note().clone(),
            checkpoint,
        },
    };
    Ok(Cosigned {
        cosignature,
        state,
        advanced,
    })
}

/// Why a witness refused to cosign: each variant one rule of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// No log key is configured for the checkpoint's origin (404).
    #[error("unknown origin {origin:?}: no log key is configured for it")]
    UnknownOrigin {
        /// The origin (first 128 characters).
        origin: String,
    },
    /// The log's signature is missing or fails, or a known key's signature fails (403).
    #[error("the checkpoint is not validly signed by the origin's log key: {0}")]
    LogSignature(CheckpointVerifyError),
    /// The old size is beyond the checkpoint's size (400).
    #[error("old size {old} is larger than the checkpoint's size {size}")]
    OldBeyondSize {
        /// The request's old size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// The old size is not the size the witness last cosigned (409).
    #[error("old size {old} is not the size this witness last cosigned, {witness_size}")]
    OldSizeMismatch {
        /// The request's old size.
        old: u64,
        /// The witness's size for the origin (what a retry must send).
        witness_size: u64,
    },
    /// A size-0 checkpoint whose root is not the empty tree's (422).
    #[error("a checkpoint of size 0 must carry the empty tree's root")]
    EmptyTreeRoot,
    /// Old size 0 with a non-empty proof (422).
    #[error("old size 0 needs an empty consistency proof, got {lines} line(s)")]
    ProofFromEmpty {
        /// Proof lines sent.
        lines: usize,
    },
    /// The consistency proof does not verify (422).
    #[error("the consistency proof from the last cosigned checkpoint does not verify: {0}")]
    Inconsistent(proof::VerifyError),
    /// The same size as the last cosigned checkpoint with another root (422): the log
    /// shows two histories. Both notes are kept here as evidence.
    #[error("split view: the checkpoint has the size of the last one cosigned but another root")]
    SplitView {
        /// The checkpoint this witness cosigned before.
        cosigned: Box<Note>,
        /// The contradicting checkpoint shown now.
        shown: Box<Note>,
    },
    /// The checkpoint's text does not re-encode to itself (400).
    #[error("the checkpoint is not in canonical form")]
    NotCanonical,
    /// The state passed in belongs to another origin: a caller bug (500).
    #[error("the witness state passed in is for origin {state_origin:?}, not the request's")]
    StateOfOtherOrigin {
        /// The state's origin.
        state_origin: String,
    },
    /// The cosignature could not be made (the time is beyond 2^63 − 1) (500).
    #[error("cannot cosign: {0}")]
    Cosign(CosignatureError),
}

impl Refusal {
    /// The HTTP status the tlog-witness protocol answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownOrigin { .. } => 404,
            Self::LogSignature(_) => 403,
            Self::OldBeyondSize { .. } | Self::NotCanonical => 400,
            Self::OldSizeMismatch { .. } => 409,
            Self::EmptyTreeRoot
            | Self::ProofFromEmpty { .. }
            | Self::Inconsistent(_)
            | Self::SplitView { .. } => 422,
            Self::StateOfOtherOrigin { .. } | Self::Cosign(_) => 500,
        }
    }

    /// A stable snake_case name for the rule broken.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::UnknownOrigin { .. } => "unknown_origin",
            Self::LogSignature(_) => "log_signature",
            Self::OldBeyondSize { .. } => "old_size_beyond_checkpoint",
            Self::OldSizeMismatch { .. } => "old_size_mismatch",
            Self::EmptyTreeRoot => "empty_tree_root",
            Self::ProofFromEmpty { .. } => "proof_from_empty_tree",
            Self::Inconsistent(_) => "inconsistent",
            Self::SplitView { .. } => "split_view",
            Self::NotCanonical => "not_canonical",
            Self::StateOfOtherOrigin { .. } => "state_of_other_origin",
            Self::Cosign(_) => "cosign",
        }
    }
}

/// Why a request body could not be parsed (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Over [`MAX_BODY_BYTES`].
    #[error("request is {size} bytes, over the {max}-byte cap")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Not UTF-8.
    #[error("request is not UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// First invalid byte.
        offset: usize,
    },
    /// Line 1 is not `old <decimal without leading zeros>`.
    #[error("request line 1: want `old <size>` (a decimal without leading zeros)")]
    MissingOldLine,
    /// A proof line is not standard base64 of 32 bytes.
    #[error("request line {line}: consistency-proof line is not standard base64 of 32 bytes")]
    BadProofLine {
        /// 1-based line.
        line: usize,
    },
    /// More proof lines than the protocol allows.
    #[error("request has more than {max} consistency-proof lines")]
    TooManyProofLines {
        /// The cap.
        max: usize,
    },
    /// No empty line between the proof and the checkpoint.
    #[error("request has no empty line before the checkpoint")]
    MissingSeparator,
    /// The checkpoint note does not parse.
    #[error("request's checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The note's text is not a checkpoint.
    #[error("request's checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::count_cosignatures;
    use crate::tree::Tree;
    use proptest::prelude::*;

    const ORIGIN: &str = "example.test/log";

    struct Log {
        tree: Tree<crate::store::MemoryStore>,
        key: SigningKey,
        vkey: VerifierKey,
    }

    impl Log {
        fn new(seed: u8) -> Self {
            let key = SigningKey::from_bytes(&[seed; 32]);
            let vkey = VerifierKey::new(
                KeyName::new(ORIGIN).unwrap(),
                SignatureType::Ed25519,
                key.verifying_key(),
            )
            .unwrap();
            Self {
                tree: Tree::in_memory(),
                key,
                vkey,
            }
        }

        fn grow_to(&mut self, size: u64, salt: &str) {
            while self.tree.size() < size {
                let n = self.tree.size();
                self.tree.append(format!("{salt}{n}").as_bytes()).unwrap();
            }
        }

        fn note(&self, size: u64) -> Note {
            let root = self.tree.root_at(size).unwrap();
            checkpoint::sign(&Checkpoint::new(ORIGIN, size, root).unwrap(), &self.key).unwrap()
        }

        fn request(&self, old: u64, size: u64) -> AddCheckpoint {
            let proof = self.tree.consistency_proof(old, size).unwrap();
            AddCheckpoint::new(old, proof, self.note(size)).unwrap()
        }
    }

    fn witness(seed: u8) -> WitnessKey {
        WitnessKey::new(
            KeyName::new(&format!("witness{seed}.test")).unwrap(),
            SigningKey::from_bytes(&[seed; 32]),
        )
    }

    fn submit(
        log: &Log,
        req: &AddCheckpoint,
        state: Option<&WitnessState>,
    ) -> Result<Cosigned, Refusal> {
        // Through the wire form, as a real request arrives.
        let req = AddCheckpoint::parse(req.to_text().as_bytes()).unwrap();
        add_checkpoint(
            &req,
            std::slice::from_ref(&log.vkey),
            state,
            &witness(9),
            1_700_000_000,
        )
    }

    fn cosigned_note(req: &AddCheckpoint, c: &Cosigned) -> Note {
        let mut n = req.note().clone();
        n.push_signature(c.cosignature.clone()).unwrap();
        n
    }

    #[test]
    fn a_correct_extension_is_cosigned_and_the_cosignature_verifies() {
        let mut log = Log::new(1);
        log.grow_to(5, "a");
        let first = log.request(0, 5);
        let c1 = submit(&log, &first, None).unwrap();
        assert!(c1.advanced);
        assert_eq!(c1.state.size(), 5);
        log.grow_to(13, "a");
        let second = log.request(5, 13);
        let c2 = submit(&log, &second, Some(&c1.state)).unwrap();
        assert!(c2.advanced);
        assert_eq!(c2.state.size(), 13);
        let wkey = witness(9).verifier_key().unwrap();
        let q = count_cosignatures(&cosigned_note(&second, &c2), &[wkey], 1).unwrap();
        assert!(q.is_met());
        assert_eq!(q.cosigners[0].1, 1_700_000_000);
    }

    #[test]
    fn a_resubmission_is_cosigned_again_and_keeps_the_state() {
        let mut log = Log::new(1);
        log.grow_to(7, "a");
        let req = log.request(0, 7);
        let c1 = submit(&log, &req, None).unwrap();
        let again = log.request(7, 7);
        let c2 = submit(&log, &again, Some(&c1.state)).unwrap();
        assert!(!c2.advanced);
        assert_eq!(c2.state, c1.state);
        let wkey = witness(9).verifier_key().unwrap();
        assert!(count_cosignatures(&cosigned_note(&again, &c2), &[wkey], 1)
            .unwrap()
            .is_met());
    }

    #[test]
    fn a_rollback_is_refused_with_the_witness_size() {
        let mut log = Log::new(1);
        log.grow_to(10, "a");
        let c = submit(&log, &log.request(0, 10), None).unwrap();
        // Claiming the witness is at 3 to get a smaller tree cosigned.
        let r = submit(&log, &log.request(3, 6), Some(&c.state)).unwrap_err();
        assert_eq!(
            r,
            Refusal::OldSizeMismatch {
                old: 3,
                witness_size: 10
            }
        );
        assert_eq!(r.status(), 409);
        // Naming the witness's size for a smaller tree.
        let note = log.note(6);
        let req = AddCheckpoint::new(10, vec![], note).unwrap();
        let r = submit(&log, &req, Some(&c.state)).unwrap_err();
        assert_eq!(r.status(), 400);
    }

    #[test]
    fn a_split_view_is_refused_and_both_checkpoints_returned() {
        let mut log = Log::new(1);
        log.grow_to(4, "a");
        let c = submit(&log, &log.request(0, 4), None).unwrap();
        let mut fork = Log::new(1);
        fork.grow_to(4, "b");
        let shown = fork.request(4, 4);
        let r = submit(&fork, &shown, Some(&c.state)).unwrap_err();
        assert_eq!(r.status(), 422);
        match r {
            Refusal::SplitView { cosigned, shown: s } => {
                assert_eq!(*cosigned, *c.state.note());
                assert_eq!(*s, *shown.note());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_untrusted_log_key_is_refused() {
        let mut log = Log::new(1);
        log.grow_to(3, "a");
        let mut impostor = Log::new(2);
        impostor.grow_to(3, "a");
        let req = impostor.request(0, 3);
        let r = submit(&log, &req, None).unwrap_err();
        assert!(matches!(r, Refusal::LogSignature(_)), "{r:?}");
        assert_eq!(r.status(), 403);
    }

    #[test]
    fn an_unknown_origin_is_refused() {
        let mut log = Log::new(1);
        log.grow_to(3, "a");
        let req = log.request(0, 3);
        let other = VerifierKey::new(
            KeyName::new("other.test/log").unwrap(),
            SignatureType::Ed25519,
            log.key.verifying_key(),
        )
        .unwrap();
        let r = add_checkpoint(&req, &[other], None, &witness(9), 1).unwrap_err();
        assert_eq!(r.status(), 404);
    }

    #[test]
    fn empty_tree_rules() {
        let log = Log::new(1);
        let c = submit(&log, &log.request(0, 0), None).unwrap();
        assert_eq!(c.state.size(), 0);
        // A size-0 checkpoint with another root.
        let note = checkpoint::sign(
            &Checkpoint::new(ORIGIN, 0, Hash([7; 32])).unwrap(),
            &log.key,
        )
        .unwrap();
        let r = submit(&log, &AddCheckpoint::new(0, vec![], note).unwrap(), None).unwrap_err();
        assert_eq!(r, Refusal::EmptyTreeRoot);
        // Old size 0 with a proof.
        let mut log = Log::new(1);
        log.grow_to(3, "a");
        let req = AddCheckpoint::new(0, vec![Hash([1; 32])], log.note(3)).unwrap();
        let r = submit(&log, &req, Some(&c.state)).unwrap_err();
        assert_eq!(r, Refusal::ProofFromEmpty { lines: 1 });
        assert_eq!(r.status(), 422);
    }

    #[test]
    fn body_round_trips_and_malformed_bodies_are_named() {
        let mut log = Log::new(1);
        log.grow_to(9, "a");
        let req = log.request(3, 9);
        assert_eq!(AddCheckpoint::parse(req.to_text().as_bytes()).unwrap(), req);
        assert_eq!(
            AddCheckpoint::parse(b"old 03\n\n").unwrap_err(),
            BodyError::MissingOldLine
        );
        let bad = req.to_text().replacen('\n', "\nnot-base64\n", 1);
        assert_eq!(
            AddCheckpoint::parse(bad.as_bytes()).unwrap_err(),
            BodyError::BadProofLine { line: 2 }
        );
        let mut many = String::from("old 1\n");
        for _ in 0..64 {
            many.push_str(&Hash([0; 32]).to_base64());
            many.push('\n');
        }
        assert!(matches!(
            AddCheckpoint::parse(many.as_bytes()).unwrap_err(),
            BodyError::TooManyProofLines { .. }
        ));
    }

    #[test]
    fn origin_hash_is_lowercase_hex_sha256() {
        assert_eq!(
            origin_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn extensions_are_cosigned_and_flipped_bits_refused(
            a in 1u64..80, b in 0u64..80, byte in 0usize..32, bit in 0u8..8, pick in 0usize..64,
        ) {
            let (old, new) = (a, a + b);
            let mut log = Log::new(1);
            log.grow_to(new, "p");
            let start = submit(&log, &log.request(0, old), None).unwrap();
            let good = log.request(old, new);
            let c = submit(&log, &good, Some(&start.state)).unwrap();
            prop_assert_eq!(c.state.size(), new);
            prop_assert_eq!(c.advanced, new > old);
            if !good.proof().is_empty() {
                let mut proof = good.proof().to_vec();
                let i = pick % proof.len();
                proof[i].0[byte] ^= 1 << bit;
                let bad = AddCheckpoint::new(old, proof, good.note().clone()).unwrap();
                let r = submit(&log, &bad, Some(&start.state)).unwrap_err();
                prop_assert!(matches!(r, Refusal::Inconsistent(_)), "{:?}", r);
                prop_assert_eq!(r.status(), 422);
                // A trailing hash is refused too.
                let mut long = good.proof().to_vec();
                long.push(Hash([0; 32]));
                let bad = AddCheckpoint::new(old, long, good.note().clone()).unwrap();
                prop_assert!(submit(&log, &bad, Some(&start.state)).is_err());
            }
        }

        #[test]
        fn the_state_never_goes_backwards(sizes in proptest::collection::vec(0u64..40, 1..8)) {
            let mut log = Log::new(1);
            log.grow_to(40, "s");
            let mut state: Option<WitnessState> = None;
            for s in sizes {
                let old = state.as_ref().map_or(0, WitnessState::size);
                let before = state.clone();
                let result = if s >= old {
                    submit(&log, &log.request(old, s), state.as_ref())
                } else {
                    let req = AddCheckpoint::new(old, vec![], log.note(s)).unwrap();
                    submit(&log, &req, state.as_ref())
                };
                match result {
                    Ok(c) => {
                        prop_assert!(s >= old);
                        state = Some(c.state);
                    }
                    Err(r) => {
                        prop_assert!(s < old);
                        prop_assert_eq!(r.status(), 400);
                        prop_assert_eq!(&state, &before);
                    }
                }
            }
        }
    }
}
