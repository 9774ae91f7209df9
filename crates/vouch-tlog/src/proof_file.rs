//! C2SP tlog-proof v1 (`.tlog-proof`): one self-contained, offline-verifiable proof that
//! a record is in the log, as shipped in `vouch audit --bundle`.
//!
//! Wire format (every line ends in `\n`):
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64>                optional, unauthenticated: never trust it
//! index <decimal>               zero-based leaf index, no leading zeros
//! <base64 SHA-256 hash>         inclusion proof, zero or more lines, leaf sibling first
//! <empty line>
//! <the signed checkpoint note, verbatim, cosignatures included>
//! ```
//!
//! Parsing is strict: any other line, bad base64, a hash that is not 32 bytes, an index
//! outside the checkpoint's tree or a missing checkpoint is refused. This module checks
//! the format only; verifying the note and the inclusion proof is the caller's next
//! step (the Merkle code lives in the tree and proof modules).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::checkpoint::{decode_hash, parse_decimal, Checkpoint, CheckpointError};
use crate::note::{Note, NoteError, MAX_NOTE_BYTES};
use crate::tree::Hash;

/// The first line of every v1 proof file.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most inclusion hashes: a tree of at most 2^64 leaves needs at most 64.
pub const MAX_INCLUSION_HASHES: usize = 64;

/// Largest `extra` payload (decoded), so the whole file stays bounded.
pub const MAX_EXTRA_BYTES: usize = 64 * 1024;

/// A parsed proof file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofFile {
    extra: Option<Vec<u8>>,
    index: u64,
    inclusion: Vec<Hash>,
    note: Note,
    checkpoint: Checkpoint,
}

impl ProofFile {
    /// A proof file from its parts; `note` is the signed checkpoint.
    ///
    /// # Errors
    /// [`ProofFileError`] when the note's text is not a checkpoint, `index` is not below
    /// its tree size, there are more than [`MAX_INCLUSION_HASHES`] hashes, `extra` is
    /// over [`MAX_EXTRA_BYTES`], or the note has no signature.
    pub fn new(
        extra: Option<Vec<u8>>,
        index: u64,
        inclusion: Vec<Hash>,
        note: Note,
    ) -> Result<Self, ProofFileError> {
        if extra.as_ref().is_some_and(|e| e.len() > MAX_EXTRA_BYTES) {
            return Err(ProofFileError::ExtraTooLarge {
                max: MAX_EXTRA_BYTES,
            });
        }
        if inclusion.len() > MAX_INCLUSION_HASHES {
            return Err(ProofFileError::TooManyHashes {
                max: MAX_INCLUSION_HASHES,
            });
        }
        if note.signatures().is_empty() {
            return Err(ProofFileError::Checkpoint(ProofCheckpointError::Note(
                NoteError::NoSignatures,
            )));
        }
        let checkpoint = Checkpoint::parse(note.text())
            .map_err(|e| ProofFileError::Checkpoint(ProofCheckpointError::Body(e)))?;
        if index >= checkpoint.size() {
            return Err(ProofFileError::IndexOutOfRange {
                index,
                size: checkpoint.size(),
            });
        }
        Ok(Self {
            extra,
            index,
            inclusion,
            note,
            checkpoint,
        })
    }

    /// Parses a proof file.
    ///
    /// # Errors
    /// [`ProofFileError`] naming the line: size over the cap, not UTF-8, wrong header,
    /// bad `extra` or `index`, an unknown line, bad base64 or a hash that is not 32
    /// bytes, too many hashes, a missing or invalid checkpoint note, an index outside
    /// the tree.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProofFileError> {
        let max = MAX_NOTE_BYTES + 2 * MAX_EXTRA_BYTES;
        if bytes.len() > max {
            return Err(ProofFileError::TooLarge { max });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProofFileError::NotUtf8)?;
        let mut rest = text;
        let header = next_line(&mut rest).ok_or(ProofFileError::BadHeader)?;
        if header != PROOF_HEADER {
            return Err(ProofFileError::BadHeader);
        }
        let mut line = next_line(&mut rest).ok_or(ProofFileError::MissingIndex)?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            let decoded = STANDARD.decode(b64).map_err(|_| ProofFileError::BadExtra)?;
            if decoded.len() > MAX_EXTRA_BYTES {
                return Err(ProofFileError::ExtraTooLarge {
                    max: MAX_EXTRA_BYTES,
                });
            }
            extra = Some(decoded);
            line = next_line(&mut rest).ok_or(ProofFileError::MissingIndex)?;
        }
        let index = line
            .strip_prefix("index ")
            .ok_or(ProofFileError::MissingIndex)?;
        let index = parse_decimal(index).ok_or(ProofFileError::BadIndex)?;
        let mut inclusion = Vec::new();
        let mut n = 2 + usize::from(extra.is_some());
        loop {
            let line = next_line(&mut rest).ok_or(ProofFileError::MissingCheckpoint)?;
            n += 1;
            if line.is_empty() {
                break;
            }
            let hash = decode_hash(line).ok_or(ProofFileError::BadHash { line: n })?;
            if inclusion.len() == MAX_INCLUSION_HASHES {
                return Err(ProofFileError::TooManyHashes {
                    max: MAX_INCLUSION_HASHES,
                });
            }
            inclusion.push(hash);
        }
        if rest.is_empty() {
            return Err(ProofFileError::MissingCheckpoint);
        }
        let note = Note::parse(rest.as_bytes())
            .map_err(|e| ProofFileError::Checkpoint(ProofCheckpointError::Note(e)))?;
        Self::new(extra, index, inclusion, note)
    }

    /// The file's bytes; parsing them gives back an equal value.
    pub fn to_text(&self) -> String {
        let mut s = String::from(PROOF_HEADER);
        s.push('\n');
        if let Some(e) = &self.extra {
            s.push_str("extra ");
            s.push_str(&STANDARD.encode(e));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.inclusion {
            s.push_str(&h.to_base64());
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.note.to_text());
        s
    }

    /// Unauthenticated extra data, if any: context only, never trust it.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// Zero-based leaf index of the record.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Inclusion proof hashes, leaf sibling first.
    pub fn inclusion(&self) -> &[Hash] {
        &self.inclusion
    }

    /// The signed checkpoint note, as carried (not yet verified).
    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The checkpoint parsed from the note's text (not yet verified).
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
}

fn next_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    let (line, tail) = rest.split_once('\n')?;
    *rest = tail;
    Some(line)
}

/// Why the checkpoint part of a proof file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofCheckpointError {
    /// Not a signed note.
    #[error("{0}")]
    Note(NoteError),
    /// The note's text is not a checkpoint.
    #[error("{0}")]
    Body(CheckpointError),
}

/// Why a proof file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofFileError {
    /// Larger than the cap.
    #[error("proof file is over the {max}-byte cap")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// Not UTF-8.
    #[error("proof file is not UTF-8")]
    NotUtf8,
    /// Line 1 is not `c2sp.org/tlog-proof@v1`.
    #[error("proof file line 1: want `c2sp.org/tlog-proof@v1`")]
    BadHeader,
    /// The `extra` line is not standard base64.
    #[error("proof file line 2: `extra` is not standard base64")]
    BadExtra,
    /// `extra` is over the cap.
    #[error("proof file `extra` is over {max} bytes")]
    ExtraTooLarge {
        /// The cap.
        max: usize,
    },
    /// No `index` line where one belongs (an unknown line there is reported so too).
    #[error("proof file: missing `index <decimal>` line")]
    MissingIndex,
    /// The index is not a decimal without leading zeros that fits u64.
    #[error("proof file: index is not a decimal without leading zeros")]
    BadIndex,
    /// A proof line is not standard base64 of 32 bytes (or is an unknown line).
    #[error("proof file line {line}: not a base64 SHA-256 hash")]
    BadHash {
        /// 1-based line.
        line: usize,
    },
    /// More hashes than a 2^64-leaf tree needs.
    #[error("proof file has more than {max} inclusion hashes")]
    TooManyHashes {
        /// The cap.
        max: usize,
    },
    /// No empty line, or nothing after it.
    #[error("proof file has no checkpoint after an empty line")]
    MissingCheckpoint,
    /// The checkpoint note is malformed.
    #[error("proof file checkpoint: {0}")]
    Checkpoint(ProofCheckpointError),
    /// The index is not inside the checkpoint's tree.
    #[error("proof file index {index} is outside the tree of size {size}")]
    IndexOutOfRange {
        /// The index.
        index: u64,
        /// The tree size.
        size: u64,
    },
}
