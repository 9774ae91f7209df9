//! The trust list's file: `trust.json` in the ledger directory, like a keyring. Trust is
//! the local verifier's choice, not a fact in the log; what it means (roles, validity,
//! revocation) is the rule book's (`vouch-rules`). Only public keys are stored.

use std::path::{Path, PathBuf};

pub use vouch_rules::{Revocation, Role, Trust, TrustChangeError, TrustedKey};

/// The largest trust file read: a trust list is a few keys, never megabytes.
const MAX_TRUST_BYTES: u64 = 1024 * 1024;

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

/// Reading and writing a ledger's trust list.
pub trait TrustFile: Sized {
    /// Reads the ledger's trust list; an absent file trusts nothing.
    ///
    /// # Errors
    /// When the file cannot be read or is damaged.
    fn load(dir: &Path) -> Result<Self, TrustError>;

    /// Writes the trust list atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    fn save(&self, dir: &Path) -> Result<(), TrustError>;
}

impl TrustFile for Trust {
    fn load(dir: &Path) -> Result<Trust, TrustError> {
        use std::io::Read as _;
        let path = dir.join(FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Trust::default()),
            Err(source) => {
                return Err(TrustError::Io {
                    action: "reading",
                    path,
                    source,
                })
            }
        };
        let mut text = String::new();
        file.take(MAX_TRUST_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|source| TrustError::Io {
                action: "reading",
                path: path.clone(),
                source,
            })?;
        if text.len() as u64 > MAX_TRUST_BYTES {
            return Err(TrustError::Damaged {
                path,
                reason: format!("larger than {MAX_TRUST_BYTES} bytes"),
            });
        }
        let trust: Trust = serde_json::from_str(&text).map_err(|e| TrustError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        for k in trust.keys() {
            let key = vouch_chain::parse_public_key(&k.key)?;
            if vouch_chain::key_id(&key) != k.key_id {
                return Err(TrustError::Damaged {
                    path,
                    reason: format!("key id {} does not match key {}", k.key_id, k.key),
                });
            }
        }
        Ok(trust)
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
