//! Signing keys and their text forms.
//!
//! A private key file is two lines: `vouch-ed25519-secret-key-v1` and the 32-byte seed in
//! hex. A public key is written `ed25519:<64 hex>`; its key id is the first 16 hex
//! characters of BLAKE3 over the 32 key bytes. A private key is never printed: the type
//! has no `Display`, and its `Debug` shows only the key id.

use vouch_event::{hex, parse_hex, PublicKeyBytes};

const SECRET_HEADER: &str = "vouch-ed25519-secret-key-v1";

/// Why a key file or key text is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a Vouch private key file.
    #[error("not a Vouch private key file: expected a first line `{SECRET_HEADER}` and a second line of 64 hex characters")]
    BadSecretFile,
    /// Not a public key.
    #[error("invalid public key: expected `ed25519:` followed by 64 hex characters of a valid Ed25519 point")]
    BadPublicKey,
}

/// An Ed25519 signing key.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A key from a 32-byte seed (from the OS's random source, at the binary edge).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Parses a private key file's text.
    ///
    /// # Errors
    /// When the text is not exactly the header line and 64 hex characters.
    pub fn from_file_text(text: &str) -> Result<Self, KeyError> {
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        if lines.next() != Some(SECRET_HEADER) {
            return Err(KeyError::BadSecretFile);
        }
        let seed = lines
            .next()
            .and_then(parse_hex::<32>)
            .ok_or(KeyError::BadSecretFile)?;
        if lines.next().is_some() {
            return Err(KeyError::BadSecretFile);
        }
        Ok(SigningKey::from_seed(seed))
    }

    /// The private key file's text. Write it with mode 0600.
    pub fn to_file_text(&self) -> String {
        format!("{SECRET_HEADER}\n{}\n", hex(self.0.as_bytes()))
    }

    /// The public key.
    pub fn public(&self) -> PublicKeyBytes {
        PublicKeyBytes(self.0.verifying_key().to_bytes())
    }

    /// The Ed25519 key itself, for signing formats defined elsewhere (the transparency
    /// log's C2SP signed notes, `vouch-tlog`), which take it as `ed25519_dalek` does.
    pub fn ed25519(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }

    pub(crate) fn inner(&self) -> &ed25519_dalek::SigningKey {
        &self.0
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(key id {})", key_id(&self.public()))
    }
}

/// The key id: the first 16 hex characters of BLAKE3 over the public key.
pub fn key_id(key: &PublicKeyBytes) -> String {
    hex(&blake3::hash(&key.0).as_bytes()[..8])
}

/// `ed25519:<hex>`.
pub fn public_key_text(key: &PublicKeyBytes) -> String {
    format!("ed25519:{}", hex(&key.0))
}

/// Parses `ed25519:<64 hex>`. The prefix is required: 64 bare hex characters are what a
/// private key file holds, and must never be mistaken for (and stored as) a public key.
///
/// # Errors
/// When the text is not such a key, or not a valid Ed25519 point. The error does not
/// repeat the input, which may be a secret pasted by mistake.
pub fn parse_public_key(text: &str) -> Result<PublicKeyBytes, KeyError> {
    let bytes = text
        .trim()
        .strip_prefix("ed25519:")
        .and_then(parse_hex::<32>)
        .ok_or(KeyError::BadPublicKey)?;
    ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::BadPublicKey)?;
    Ok(PublicKeyBytes(bytes))
}
