//! C2SP tlog-checkpoint v1.0.0: the log's signed statement "my tree of this size has
//! this root", carried as the text of a signed note.
//!
//! Wire format (the note text; every line ends in `\n`):
//!
//! ```text
//! <origin>                      non-empty, e.g. acme.example/vouch/prod
//! <tree size>                   ASCII decimal, no leading zeros ("0" when empty)
//! <root hash>                   standard base64 of the 32-byte RFC 6962 SHA-256 root
//! [<extension line>…]           optional, non-empty; kept verbatim, Vouch writes none
//! ```
//!
//! The log signs with Ed25519 (type 0x01) under a key whose name equals the origin, and
//! verifiers refuse a signature under any other name.

use ed25519_dalek::SigningKey;

use crate::tree::Hash;

use crate::note::{self, KeyName, Note, NoteError, SignatureType, VerifierKey, VerifyError};

/// Most extension lines accepted: they carry nothing Vouch relies on, and the cap keeps
/// hostile input small.
pub const MAX_EXTENSION_LINES: usize = 64;

/// A parsed checkpoint body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint with no extension lines (the only kind Vouch writes).
    ///
    /// # Errors
    /// [`CheckpointError::BadOrigin`] when the origin is empty or holds a control
    /// character (a newline would split it into two lines).
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, CheckpointError> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(CheckpointError::BadOrigin);
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Parses a checkpoint body (a note's text).
    ///
    /// # Errors
    /// [`CheckpointError`] naming the line: a missing line, an empty origin, a size with
    /// leading zeros, a sign or over u64, a root that is not base64 of 32 bytes, an empty
    /// extension line, more than [`MAX_EXTENSION_LINES`], a text not ending in `\n`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Unterminated)?;
        if let Some(offset) = text.bytes().position(|b| b < 0x20 && b != b'\n') {
            return Err(CheckpointError::ControlCharacter { offset });
        }
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(CheckpointError::BadOrigin);
        }
        let size = lines.next().ok_or(CheckpointError::MissingLine {
            line: 2,
            field: "tree size",
        })?;
        let size = parse_decimal(size).ok_or_else(|| CheckpointError::BadSize {
            found: truncate(size),
        })?;
        let root = lines.next().ok_or(CheckpointError::MissingLine {
            line: 3,
            field: "root hash",
        })?;
        let root = decode_hash(root).ok_or(CheckpointError::BadRoot)?;
        let mut extensions = Vec::new();
        for (i, ext) in lines.enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: 4 + i });
            }
            if extensions.len() == MAX_EXTENSION_LINES {
                return Err(CheckpointError::TooManyExtensions {
                    max: MAX_EXTENSION_LINES,
                });
            }
            extensions.push(ext.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The body: origin, size, root and extension lines, each ending in `\n`.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// The log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The RFC 6962 SHA-256 root.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// Extension lines as found (witnesses sign over them but vouch for none).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The checkpoint as an unsigned note.
    ///
    /// # Errors
    /// [`CheckpointError::Note`] if the body breaks a note rule (over 1 MiB).
    pub fn to_note(&self) -> Result<Note, CheckpointError> {
        Ok(Note::new(self.to_text())?)
    }
}

/// `0` or a decimal without leading zeros that fits u64.
pub(crate) fn parse_decimal(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    s.parse().ok()
}

/// Standard padded base64 of exactly 32 bytes.
pub(crate) fn decode_hash(s: &str) -> Option<Hash> {
    if s.len() != 44 {
        return None;
    }
    Hash::from_base64(s).ok()
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Signs a checkpoint as the log (Ed25519, key name = origin) and returns the signed
/// note.
///
/// # Errors
/// [`CheckpointError::OriginNotKeyName`] when the origin cannot be a key name (spaces or
/// `+`), [`CheckpointError::Note`] when the body breaks a note rule.
pub fn sign(checkpoint: &Checkpoint, key: &SigningKey) -> Result<Note, CheckpointError> {
    let name = KeyName::new(&checkpoint.origin).map_err(|_| CheckpointError::OriginNotKeyName)?;
    let mut n = checkpoint.to_note()?;
    let line = note::sign(&n, &name, key);
    n.push_signature(line)?;
    Ok(n)
}

/// Verifies a signed checkpoint against the log's key and returns the checkpoint.
/// Other signatures (witness cosignatures) are ignored here. Strict Ed25519: small-order
/// keys and non-canonical signatures are refused.
///
/// # Errors
/// [`CheckpointVerifyError::Parse`] when the text is not a checkpoint,
/// [`CheckpointVerifyError::NotLogKey`] when `log_key` is not a type-0x01 key,
/// [`CheckpointVerifyError::OriginMismatch`] when the key's name is not the origin,
/// [`CheckpointVerifyError::Signature`] when the log's signature is missing or bad.
pub fn verify(note: &Note, log_key: &VerifierKey) -> Result<Checkpoint, CheckpointVerifyError> {
    let checkpoint = Checkpoint::parse(note.text())?;
    if log_key.signature_type() != SignatureType::Ed25519 {
        return Err(CheckpointVerifyError::NotLogKey);
    }
    if log_key.name().as_str() != checkpoint.origin {
        return Err(CheckpointVerifyError::OriginMismatch {
            origin: truncate(&checkpoint.origin),
            key_name: log_key.name().clone(),
        });
    }
    note::verify(note, std::slice::from_ref(log_key))?;
    Ok(checkpoint)
}

/// Why a checkpoint body could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Line 1 is empty or holds a control character.
    #[error("checkpoint line 1: origin is empty or holds a control character")]
    BadOrigin,
    /// A required line is absent.
    #[error("checkpoint line {line}: missing {field}")]
    MissingLine {
        /// 1-based line.
        line: usize,
        /// What belongs there.
        field: &'static str,
    },
    /// Line 2 is not a decimal without leading zeros that fits u64.
    #[error("checkpoint line 2: tree size {found:?} is not a decimal without leading zeros")]
    BadSize {
        /// The line (first 64 characters).
        found: String,
    },
    /// Line 3 is not standard base64 of 32 bytes.
    #[error("checkpoint line 3: root hash is not standard base64 of 32 bytes")]
    BadRoot,
    /// An extension line is empty.
    #[error("checkpoint line {line}: empty extension line")]
    EmptyExtension {
        /// 1-based line.
        line: usize,
    },
    /// More extension lines than the cap.
    #[error("checkpoint has more than {max} extension lines")]
    TooManyExtensions {
        /// The cap.
        max: usize,
    },
    /// The body does not end in a newline.
    #[error("checkpoint does not end in a newline")]
    Unterminated,
    /// A control character other than newline.
    #[error("checkpoint has a control character at byte {offset}")]
    ControlCharacter {
        /// Where.
        offset: usize,
    },
    /// The origin has a space or `+`, so no note key can carry its name.
    #[error("checkpoint origin cannot be a note key name (space or `+`)")]
    OriginNotKeyName,
    /// The body breaks a signed-note rule.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
}

/// Why a signed checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointVerifyError {
    /// The note text is not a checkpoint.
    #[error("not a checkpoint: {0}")]
    Parse(#[from] CheckpointError),
    /// The configured key is not an Ed25519 note key (type 0x01).
    #[error("log key must be an Ed25519 (type 0x01) key")]
    NotLogKey,
    /// The log key's name differs from the checkpoint's origin.
    #[error("log key name {key_name} differs from checkpoint origin {origin:?}")]
    OriginMismatch {
        /// The origin line.
        origin: String,
        /// The key name.
        key_name: KeyName,
    },
    /// The log signature is missing or does not verify.
    #[error("checkpoint signature: {0}")]
    Signature(#[from] VerifyError),
}
