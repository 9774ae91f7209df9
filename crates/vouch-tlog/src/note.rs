//! C2SP signed-note v1.0.0: the text-plus-signature-lines envelope that carries Vouch's
//! checkpoints and the witnesses' cosignatures.
//!
//! Wire format (every line ends in `\n`):
//!
//! ```text
//! <text, one or more lines, UTF-8, no ASCII control characters but \n>
//! <empty line>
//! — <key name> <base64(key ID[4] ‖ signature)>      (one or more, at most 100)
//! ```
//!
//! The dash is U+2014 followed by one space. The text is separated from the signatures by
//! the *last* empty line; the signed message is the text including its final `\n`.
//! Key IDs are `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[..4]`; verifier keys are written
//! `<name>+<8 lowercase hex of the key ID>+<base64(type ‖ public key)>`.
//!
//! Verification follows the spec: signatures from unknown (name, key ID) pairs are
//! ignored, a failing signature from a known key rejects the whole note, and a note with
//! no verified known signature is rejected.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

/// Largest note accepted by [`Note::parse`]: bounds memory for hostile input; a
/// checkpoint with a hundred cosignatures is under 12 KiB.
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Most signature lines accepted on one note (Go's `x/mod/sumdb/note` cap; the spec
/// asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The signature-line prefix: U+2014 EM DASH then a space.
const DASH: &str = "\u{2014} ";

/// A signed-note key name: non-empty, no Unicode whitespace, no `+` (which separates
/// vkey fields), no control characters (which notes forbid).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    /// Checks the spec's key-name rules.
    ///
    /// # Errors
    /// [`NoteError::InvalidKeyName`] when the name is empty or holds a space, `+` or a
    /// control character.
    pub fn new(name: &str) -> Result<Self, NoteError> {
        let bad = name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+');
        if bad {
            return Err(NoteError::InvalidKeyName {
                name: truncate(name),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as written in notes and vkeys.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 4-byte key ID that, with the key name, says which key made a signature.
/// Displayed as 8 lowercase hex digits, as in vkeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 4]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The signature types Vouch understands. Others (ECDSA 0x02, RFC 6962 0x05, ML-DSA
/// 0x06 …) are refused in vkeys and their signature lines are ignored as unknown keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureType {
    /// 0x01: plain Ed25519 over the note text (log checkpoint signatures).
    Ed25519,
    /// 0x04: timestamped Ed25519 witness cosignature (c2sp.org/tlog-cosignature v1).
    CosignatureV1,
}

impl SignatureType {
    /// The type byte hashed into key IDs and prefixed to vkey public keys.
    pub fn byte(self) -> u8 {
        match self {
            Self::Ed25519 => 0x01,
            Self::CosignatureV1 => 0x04,
        }
    }

    /// The type for a type byte, if Vouch supports it.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(Self::Ed25519),
            0x04 => Some(Self::CosignatureV1),
            _ => None,
        }
    }
}

/// `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[..4]`, the spec's recommended key ID (and
/// the required one for Ed25519 and cosignature keys).
pub fn key_id(name: &KeyName, signature_type: u8, public_key: &[u8]) -> KeyId {
    let mut h = Sha256::new();
    h.update(name.as_str().as_bytes());
    h.update([b'\n', signature_type]);
    h.update(public_key);
    let d = h.finalize();
    KeyId([d[0], d[1], d[2], d[3]])
}

/// A public key a verifier trusts, with its name and type: the parsed form of a vkey.
///
/// Construction refuses small-order ("weak") Ed25519 keys, so that a key that would
/// accept forged signatures can never be configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: KeyName,
    id: KeyId,
    signature_type: SignatureType,
    key: VerifyingKey,
}

impl VerifierKey {
    /// A verifier key for `key` under `name`, with the key ID computed from both.
    ///
    /// # Errors
    /// [`VkeyError::WeakKey`] for a small-order public key.
    pub fn new(
        name: KeyName,
        signature_type: SignatureType,
        key: VerifyingKey,
    ) -> Result<Self, VkeyError> {
        if key.is_weak() {
            return Err(VkeyError::WeakKey);
        }
        let id = key_id(&name, signature_type.byte(), key.as_bytes());
        Ok(Self {
            name,
            id,
            signature_type,
            key,
        })
    }

    /// Parses `<name>+<8 hex key ID>+<base64(type ‖ public key)>`. Only the first two `+`
    /// split fields, since standard base64 may itself contain `+`.
    ///
    /// # Errors
    /// A [`VkeyError`] naming the bad field: a missing field, an invalid name, a key ID
    /// that is not 8 lowercase hex digits or does not match the key, bad base64, an
    /// unsupported type byte, a wrong key length, or an invalid or small-order key.
    pub fn parse(vkey: &str) -> Result<Self, VkeyError> {
        let mut parts = vkey.splitn(3, '+');
        let name = parts.next().unwrap_or_default();
        let (Some(id_hex), Some(key_b64)) = (parts.next(), parts.next()) else {
            return Err(VkeyError::MissingField);
        };
        let name = KeyName::new(name).map_err(|_| VkeyError::InvalidName)?;
        let stated = parse_key_id_hex(id_hex).ok_or_else(|| VkeyError::BadKeyId {
            found: truncate(id_hex),
        })?;
        let raw = STANDARD.decode(key_b64).map_err(|_| VkeyError::BadBase64)?;
        let (&type_byte, key_bytes) = raw.split_first().ok_or(VkeyError::BadBase64)?;
        let signature_type =
            SignatureType::from_byte(type_byte).ok_or(VkeyError::UnsupportedType(type_byte))?;
        let key_bytes: [u8; 32] = key_bytes
            .try_into()
            .map_err(|_| VkeyError::WrongKeyLength {
                len: key_bytes.len(),
            })?;
        let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| VkeyError::InvalidKey)?;
        let parsed = Self::new(name, signature_type, key)?;
        if parsed.id != stated {
            return Err(VkeyError::KeyIdMismatch {
                stated,
                computed: parsed.id,
            });
        }
        Ok(parsed)
    }

    /// The key name signature lines must carry.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID signature lines must carry.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether this key verifies plain note signatures or cosignatures.
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl fmt::Display for VerifierKey {
    /// Writes the vkey form that [`VerifierKey::parse`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = Vec::with_capacity(33);
        raw.push(self.signature_type.byte());
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, self.id, STANDARD.encode(raw))
    }
}

fn parse_key_id_hex(s: &str) -> Option<KeyId> {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut id = [0u8; 4];
    for (i, out) in id.iter_mut().enumerate() {
        *out = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(KeyId(id))
}

/// One signature line: the key it claims, and the signature bytes after the key ID
/// (for a cosignature: timestamp then Ed25519 signature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    name: KeyName,
    key_id: KeyId,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature line from its parts.
    ///
    /// # Errors
    /// [`NoteError::EmptySignature`] when `signature` is empty (the spec's 4 + n bytes
    /// needs n ≥ 1, and a line of only a key ID would mean nothing).
    pub fn new(name: KeyName, key_id: KeyId, signature: Vec<u8>) -> Result<Self, NoteError> {
        if signature.is_empty() {
            return Err(NoteError::EmptySignature { line: 0 });
        }
        Ok(Self {
            name,
            key_id,
            signature,
        })
    }

    /// For callers that produce the signature bytes themselves and know they are not
    /// empty (signing, cosigning).
    pub(crate) fn from_parts(name: KeyName, key_id: KeyId, signature: Vec<u8>) -> Self {
        debug_assert!(!signature.is_empty());
        Self {
            name,
            key_id,
            signature,
        }
    }

    /// The key name on the line.
    pub fn name(&self) -> &KeyName {
        &self.name
    }

    /// The key ID on the line.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The signature bytes that follow the key ID.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The full line, `— <name> <base64>` plus `\n`.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(4 + self.signature.len());
        raw.extend_from_slice(&self.key_id.0);
        raw.extend_from_slice(&self.signature);
        format!("{DASH}{} {}\n", self.name, STANDARD.encode(raw))
    }
}

/// A note: text plus its signature lines, in their original order.
///
/// Parsing then formatting a note gives back the same bytes, so a checkpoint can be
/// stored and passed on verbatim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note; add signatures with [`Note::push_signature`]. A note needs at
    /// least one signature before its formatted bytes parse back.
    ///
    /// # Errors
    /// [`NoteError`] when the text is over [`MAX_NOTE_BYTES`], does not end in `\n`, or
    /// holds an ASCII control character other than `\n`.
    pub fn new(text: String) -> Result<Self, NoteError> {
        check_text(&text)?;
        Ok(Self {
            text,
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note.
    ///
    /// # Errors
    /// [`NoteError`] naming what is wrong: size over [`MAX_NOTE_BYTES`], invalid UTF-8, a
    /// control character, no blank line before the signatures, a malformed signature line
    /// (wrong prefix, invalid key name, bad base64, fewer than 5 bytes), no signatures or
    /// more than [`MAX_SIGNATURES`].
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge {
                size: bytes.len(),
                max: MAX_NOTE_BYTES,
            });
        }
        let msg = std::str::from_utf8(bytes).map_err(|e| NoteError::NotUtf8 {
            offset: e.valid_up_to(),
        })?;
        check_controls(msg)?;
        let split = msg.rfind("\n\n").ok_or(NoteError::MissingSeparator)?;
        let text = &msg[..=split];
        let sigs = &msg[split + 2..];
        if sigs.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        if !sigs.ends_with('\n') {
            return Err(NoteError::UnterminatedSignatures);
        }
        let first_sig_line = text.matches('\n').count() + 2;
        let mut signatures = Vec::new();
        for (i, line) in sigs[..sigs.len() - 1].split('\n').enumerate() {
            let line_no = first_sig_line + i;
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            signatures.push(parse_signature_line(line, line_no)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The signed text, including its final `\n`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends a signature line.
    ///
    /// # Errors
    /// [`NoteError::TooManySignatures`] when the note already has [`MAX_SIGNATURES`].
    pub fn push_signature(&mut self, signature: NoteSignature) -> Result<(), NoteError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// The wire form: text, empty line, signature lines.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 1 + 120 * self.signatures.len());
        out.push_str(&self.text);
        out.push('\n');
        for s in &self.signatures {
            out.push_str(&s.to_line());
        }
        out
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            size: text.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    check_controls(text)?;
    if !text.ends_with('\n') {
        return Err(NoteError::UnterminatedText);
    }
    Ok(())
}

fn check_controls(s: &str) -> Result<(), NoteError> {
    match s.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter { offset }),
        None => Ok(()),
    }
}

fn parse_signature_line(line: &str, line_no: usize) -> Result<NoteSignature, NoteError> {
    let rest = line
        .strip_prefix(DASH)
        .ok_or(NoteError::MalformedSignatureLine { line: line_no })?;
    let (name, b64) = match rest.split_once(' ') {
        Some((name, b64)) if !b64.contains(' ') => (name, b64),
        _ => return Err(NoteError::MalformedSignatureLine { line: line_no }),
    };
    let name = KeyName::new(name)?;
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| NoteError::BadSignatureBase64 { line: line_no })?;
    if raw.len() < 5 {
        return Err(NoteError::EmptySignature { line: line_no });
    }
    Ok(NoteSignature {
        name,
        key_id: KeyId([raw[0], raw[1], raw[2], raw[3]]),
        signature: raw[4..].to_vec(),
    })
}

/// Signs the note text with Ed25519 (type 0x01) and returns the signature line; add it
/// with [`Note::push_signature`]. Ed25519 signing is deterministic, so the same key and
/// text always give the same line.
pub fn sign(note: &Note, name: &KeyName, key: &SigningKey) -> NoteSignature {
    let id = key_id(
        name,
        SignatureType::Ed25519.byte(),
        key.verifying_key().as_bytes(),
    );
    let sig = key.sign(note.text.as_bytes());
    NoteSignature {
        name: name.clone(),
        key_id: id,
        signature: sig.to_bytes().to_vec(),
    }
}

/// A signature that verified against a known key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key name.
    pub name: KeyName,
    /// The key ID.
    pub key_id: KeyId,
    /// Which kind of signature it was.
    pub signature_type: SignatureType,
    /// The cosignature timestamp (POSIX seconds); `None` for a plain signature.
    pub timestamp: Option<u64>,
}

/// Verifies every signature on `note` made by a key in `known` and returns one entry
/// per distinct known key that signed; signatures from unknown (name, key ID) pairs are
/// ignored. Unlike [`verify`], an empty result is not an error: witness counting wants
/// "how many", not "at least one".
///
/// Verification is strict (`verify_strict`): small-order keys and non-canonical
/// signatures (S ≥ ℓ, small-order R) are refused, so a signature cannot be malleated
/// into a second valid one.
///
/// # Errors
/// [`VerifyError::BadSignature`] when a signature from a known key fails (the whole note
/// is rejected, as the spec advises), [`VerifyError::AmbiguousKey`] when two different
/// known keys share a name and key ID, [`VerifyError::MalformedCosignature`] when a known
/// cosigner's line is not 72 bytes after the key ID or its timestamp exceeds 2^63 − 1.
pub fn check_signatures(
    note: &Note,
    known: &[VerifierKey],
) -> Result<Vec<VerifiedSignature>, VerifyError> {
    let mut verified: Vec<VerifiedSignature> = Vec::new();
    for sig in &note.signatures {
        let mut matches = known
            .iter()
            .filter(|k| k.name == sig.name && k.id == sig.key_id);
        let Some(key) = matches.next() else {
            continue;
        };
        if matches.any(|other| other != key) {
            return Err(VerifyError::AmbiguousKey {
                name: sig.name.clone(),
                key_id: sig.key_id,
            });
        }
        let bad = || VerifyError::BadSignature {
            name: sig.name.clone(),
            key_id: sig.key_id,
        };
        let timestamp = match key.signature_type {
            SignatureType::Ed25519 => {
                let s = Signature::from_slice(&sig.signature).map_err(|_| bad())?;
                key.key
                    .verify_strict(note.text.as_bytes(), &s)
                    .map_err(|_| bad())?;
                None
            }
            SignatureType::CosignatureV1 => {
                let c =
                    crate::cosignature::Cosignature::from_bytes(&sig.signature).map_err(|_| {
                        VerifyError::MalformedCosignature {
                            name: sig.name.clone(),
                            key_id: sig.key_id,
                        }
                    })?;
                let msg = crate::cosignature::signed_message(&note.text, c.timestamp());
                let s = Signature::from_bytes(c.signature());
                key.key.verify_strict(&msg, &s).map_err(|_| bad())?;
                Some(c.timestamp())
            }
        };
        if !verified
            .iter()
            .any(|v| v.name == key.name && v.key_id == key.id)
        {
            verified.push(VerifiedSignature {
                name: key.name.clone(),
                key_id: key.id,
                signature_type: key.signature_type,
                timestamp,
            });
        }
    }
    Ok(verified)
}

/// Verifies a note by the signed-note rules: unknown keys ignored, a failing known
/// signature rejects, and at least one known key must have signed. Strict Ed25519:
/// small-order keys and non-canonical signatures are refused.
///
/// # Errors
/// As [`check_signatures`], plus [`VerifyError::NoKnownSignature`] when no known key
/// signed.
pub fn verify(note: &Note, known: &[VerifierKey]) -> Result<Vec<VerifiedSignature>, VerifyError> {
    let verified = check_signatures(note, known)?;
    if verified.is_empty() {
        return Err(VerifyError::NoKnownSignature);
    }
    Ok(verified)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Why a note (or a note signature) could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is larger than the cap.
    #[error("note is {size} bytes, over the {max}-byte cap")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap.
        max: usize,
    },
    /// Not UTF-8.
    #[error("note is not UTF-8 (at byte {offset})")]
    NotUtf8 {
        /// First invalid byte.
        offset: usize,
    },
    /// An ASCII control character other than newline.
    #[error("note has a control character at byte {offset}")]
    ControlCharacter {
        /// Where.
        offset: usize,
    },
    /// No empty line separates text from signatures.
    #[error("note has no empty line before its signatures")]
    MissingSeparator,
    /// The text does not end in a newline.
    #[error("note text does not end in a newline")]
    UnterminatedText,
    /// The last signature line does not end in a newline.
    #[error("note's last signature line does not end in a newline")]
    UnterminatedSignatures,
    /// Nothing after the empty line.
    #[error("note has no signature lines")]
    NoSignatures,
    /// More signature lines than the cap.
    #[error("note has more than {max} signature lines")]
    TooManySignatures {
        /// The cap.
        max: usize,
    },
    /// A line after the empty line is not `— <name> <base64>`.
    #[error("note line {line}: not a signature line `— <name> <base64>`")]
    MalformedSignatureLine {
        /// 1-based line number in the note.
        line: usize,
    },
    /// A key name is empty or holds a space, `+` or control character.
    #[error("invalid key name {name:?}")]
    InvalidKeyName {
        /// The name (first 64 characters).
        name: String,
    },
    /// A signature is not canonical standard base64.
    #[error("note line {line}: signature is not standard base64")]
    BadSignatureBase64 {
        /// 1-based line number.
        line: usize,
    },
    /// A signature has no bytes after its key ID.
    #[error("note line {line}: signature has no bytes after the key ID")]
    EmptySignature {
        /// 1-based line number (0 when built, not parsed).
        line: usize,
    },
}

/// Why a vkey (verifier key string) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VkeyError {
    /// Fewer than three `+`-separated fields.
    #[error("vkey must be <name>+<key id>+<base64 key>")]
    MissingField,
    /// The name field breaks the key-name rules.
    #[error("vkey name is empty or holds a space, `+` or control character")]
    InvalidName,
    /// The key ID field is not 8 lowercase hex digits.
    #[error("vkey key id {found:?} is not 8 lowercase hex digits")]
    BadKeyId {
        /// The field as found.
        found: String,
    },
    /// The key field is not standard base64 (or is empty).
    #[error("vkey key is not standard base64")]
    BadBase64,
    /// A signature type Vouch does not support.
    #[error("vkey signature type 0x{0:02x} is not supported (only 0x01 and 0x04)")]
    UnsupportedType(u8),
    /// The public key is not 32 bytes.
    #[error("vkey public key is {len} bytes, want 32")]
    WrongKeyLength {
        /// Length found.
        len: usize,
    },
    /// Not a valid Ed25519 point.
    #[error("vkey public key is not a valid Ed25519 point")]
    InvalidKey,
    /// A small-order Ed25519 key, which would accept forged signatures.
    #[error("vkey public key has small order")]
    WeakKey,
    /// The stated key ID is not the one computed from name, type and key.
    #[error("vkey key id {stated} does not match the computed {computed}")]
    KeyIdMismatch {
        /// In the vkey.
        stated: KeyId,
        /// Computed.
        computed: KeyId,
    },
}

/// Why a note failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A known key's signature does not verify: the note is rejected.
    #[error("signature by known key {name} ({key_id}) does not verify")]
    BadSignature {
        /// Key name.
        name: KeyName,
        /// Key ID.
        key_id: KeyId,
    },
    /// A known cosigner's line is not timestamp ‖ 64-byte signature, or its timestamp is
    /// over 2^63 − 1.
    #[error("cosignature by {name} ({key_id}) is malformed")]
    MalformedCosignature {
        /// Key name.
        name: KeyName,
        /// Key ID.
        key_id: KeyId,
    },
    /// Two known keys share a name and key ID, so a signature cannot be attributed.
    #[error("two known keys share name {name} and key id {key_id}")]
    AmbiguousKey {
        /// Key name.
        name: KeyName,
        /// Key ID.
        key_id: KeyId,
    },
    /// No signature from a known key.
    #[error("note has no signature from a known key")]
    NoKnownSignature,
}
