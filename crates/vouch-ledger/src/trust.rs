//! The trust list's file: `trust.json` in the ledger directory, like a keyring. Trust is
//! the local verifier's choice, not a fact in the log; what it means (roles, validity,
//! revocation) is the rule book's (`vouch-rules`). Only public keys are stored.

use std::path::{Path, PathBuf};

pub use vouch_rules::{Revocation, Role, Trust, TrustChangeError, TrustedKey};

/// A trust file, and the largest one read: a trust list is a few keys, never megabytes.
const TRUST_FILE: vouch_files::FileKind = vouch_files::FileKind::new("trust list", 1 << 20);

const FILE: &str = "trust.json";

/// Why the trust file could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Reading or writing failed.
    #[error("{action} {path}")]
    Io {
        /// What.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a trust list.
    #[error("{path} is damaged: {reason}")]
    Damaged {
        /// Where.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A key entry is not a valid public key.
    #[error(transparent)]
    Key(#[from] vouch_chain::KeyError),
    /// The change breaks a rule of trust (roles, names).
    #[error(transparent)]
    Change(#[from] TrustChangeError),
}

/// The one place that says what a trust file is: a regular file of at most
/// [`TRUST_FILE`]'s size, JSON, every key id matching its key.
fn read_trust(path: &Path) -> Result<Trust, TrustError> {
    let text = vouch_files::read_to_string(path, TRUST_FILE).map_err(|source| TrustError::Io {
        action: "reading",
        path: path.to_owned(),
        source,
    })?;
    let trust: Trust = serde_json::from_str(&text).map_err(|e| TrustError::Damaged {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    for k in trust.keys() {
        let key = vouch_chain::parse_public_key(&k.key).map_err(|e| TrustError::Damaged {
            path: path.to_owned(),
            reason: format!("the key of `{}`: {e}", k.name),
        })?;
        if vouch_chain::key_id(&key) != k.key_id {
            return Err(TrustError::Damaged {
                path: path.to_owned(),
                reason: format!("key id {} does not match key {}", k.key_id, k.key),
            });
        }
    }
    Ok(trust)
}

/// Reading and writing a ledger's trust list.
pub trait TrustFile: Sized {
    /// Reads the ledger's trust list; an absent file trusts nothing.
    ///
    /// # Errors
    /// When the file cannot be read or is damaged.
    fn load(dir: &Path) -> Result<Self, TrustError>;

    /// Reads a trust list from any file (an auditor's, for `verify-bundle`), by the same
    /// rules as the ledger's own.
    ///
    /// # Errors
    /// [`TrustError::Io`] when the file cannot be read (absent, not a regular file, too
    /// large); [`TrustError::Damaged`] or [`TrustError::Key`] when it is not a trust list.
    fn read(path: &Path) -> Result<Self, TrustError>;

    /// Writes the trust list atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    fn save(&self, dir: &Path) -> Result<(), TrustError>;
}

impl TrustFile for Trust {
    fn load(dir: &Path) -> Result<Trust, TrustError> {
        match read_trust(&dir.join(FILE)) {
            Err(TrustError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(Trust::default())
            }
            other => other,
        }
    }

    fn read(path: &Path) -> Result<Trust, TrustError> {
        read_trust(path)
    }

    fn save(&self, dir: &Path) -> Result<(), TrustError> {
        let path = dir.join(FILE);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let text = serde_json::to_string_pretty(self).expect("serializable") + "\n";
        std::fs::write(&tmp, text).map_err(|source| TrustError::Io {
            action: "writing",
            path: tmp.clone(),
            source,
        })?;
        std::fs::rename(&tmp, &path).map_err(|source| TrustError::Io {
            action: "writing",
            path,
            source,
        })
    }
}
