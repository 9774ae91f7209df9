//! Trusted keys: which public keys may sign decisions and which may review.
//!
//! Kept in `trust.json` in the ledger directory, like a keyring: trust is the local
//! verifier's choice, not a fact in the log. Only public keys are stored.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vouch_event::PublicKeyBytes;

/// What a trusted key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sign decisions (`vouch promote`).
    Signer,
    /// Sign reviews (`vouch review`).
    Reviewer,
}

impl Role {
    /// The name used on the command line and in `trust.json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Signer => "signer",
            Role::Reviewer => "reviewer",
        }
    }
}

/// One trusted key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// Who holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// `ed25519:<hex>`.
    pub key: String,
    /// The key id.
    pub key_id: String,
}

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
}

/// The trusted keys of a ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    keys: Vec<TrustedKey>,
}

const FILE: &str = "trust.json";

impl Trust {
    /// Reads the ledger's trust list; an absent file trusts nothing.
    ///
    /// # Errors
    /// When the file cannot be read or is damaged.
    pub fn load(dir: &Path) -> Result<Trust, TrustError> {
        let path = dir.join(FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Trust::default()),
            Err(source) => {
                return Err(TrustError::Io {
                    action: "reading",
                    path,
                    source,
                })
            }
        };
        let trust: Trust = serde_json::from_str(&text).map_err(|e| TrustError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        for k in &trust.keys {
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

    /// Writes the trust list atomically.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, dir: &Path) -> Result<(), TrustError> {
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

    /// Trusts `key` for `role` under `name`. Returns false when it already was.
    pub fn add(&mut self, key: &PublicKeyBytes, name: &str, role: Role) -> bool {
        let key_id = vouch_chain::key_id(key);
        if self
            .keys
            .iter()
            .any(|k| k.key_id == key_id && k.role == role)
        {
            return false;
        }
        self.keys.push(TrustedKey {
            name: name.to_owned(),
            role,
            key: vouch_chain::public_key_text(key),
            key_id,
        });
        true
    }

    /// The entry trusting `key` for `role`, if any.
    pub fn find(&self, key: &PublicKeyBytes, role: Role) -> Option<&TrustedKey> {
        let key_id = vouch_chain::key_id(key);
        self.keys
            .iter()
            .find(|k| k.key_id == key_id && k.role == role)
    }

    /// Every trusted key.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// A trust list from explicit entries (an audit bundle carries its own).
    pub fn from_keys(keys: Vec<TrustedKey>) -> Trust {
        Trust { keys }
    }
}
