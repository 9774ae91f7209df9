//! Trust: which public keys may do what, and when.
//!
//! A key is trusted by its full 32 bytes (never by its short key id, which is only for
//! people to read), for one or more roles, from an optional time, until it is revoked.
//! Revocation keeps the entry: records a key signed before its revocation time stay
//! valid, records after fail, and the trust list keeps the history of who revoked it and
//! why.

use serde::{Deserialize, Serialize};
use vouch_event::{PublicKeyBytes, Timestamp};

use crate::verdict::{Rule, Violation};

/// What a trusted key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Decisions: the chain's links (`vouch promote`, and the record that enacts reviews).
    Signer,
    /// Reviews of decisions that need a human (`vouch review`).
    Reviewer,
    /// Deployments (`vouch deploy`).
    Deployer,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Signer, Role::Reviewer, Role::Deployer];

    /// The name used on the command line and in `trust.json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Signer => "signer",
            Role::Reviewer => "reviewer",
            Role::Deployer => "deployer",
        }
    }

    /// Whether one key may hold both roles. A reviewer is the human check on what the
    /// release identity signs, so a reviewer key may hold no other role.
    pub const fn compatible(self, other: Role) -> bool {
        !matches!(
            (self, other),
            (Role::Reviewer, Role::Signer | Role::Deployer)
                | (Role::Signer | Role::Deployer, Role::Reviewer)
        )
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When and why a key stopped being trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Records the key signed at or after this time are refused.
    pub from: Timestamp,
    /// Why.
    pub reason: String,
    /// When the revocation was entered.
    pub recorded_at: Timestamp,
}

/// One trusted key in one role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// Who holds it: the name shown for everything it signs.
    pub name: String,
    /// What it may sign.
    pub role: Role,
    /// `ed25519:<hex>`.
    pub key: String,
    /// The key id (for people to read; matching is by the full key).
    pub key_id: String,
    /// Records signed before this time are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    /// Set once the key is revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
}

impl TrustedKey {
    /// The key's bytes; `None` when the entry's text is not a valid key.
    pub fn public(&self) -> Option<PublicKeyBytes> {
        vouch_chain::parse_public_key(&self.key).ok()
    }
}

/// Why a change to the trust list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustChangeError {
    /// The key already holds a role that may not be combined with the new one.
    #[error("key {key_id} is already trusted as {held} ({name}); a {wanted} key must be a separate key (a reviewer may hold no other role)")]
    Conflict {
        /// The key id.
        key_id: String,
        /// The role it holds.
        held: Role,
        /// Its name there.
        name: String,
        /// The role asked for.
        wanted: Role,
    },
    /// The key is trusted under another name: one key, one name.
    #[error("key {key_id} is already trusted as `{name}`; one key has one name")]
    OtherName {
        /// The key id.
        key_id: String,
        /// The name it has.
        name: String,
    },
    /// The name is 1 to 200 characters without control characters.
    #[error("a key's name must be 1 to 200 characters without control characters")]
    BadName,
    /// Nothing to revoke.
    #[error("key {0} is not in the trust list")]
    Unknown(String),
    /// Already revoked.
    #[error("key {0} is already revoked")]
    AlreadyRevoked(String),
}

/// The trusted keys, as a verifier chose them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    keys: Vec<TrustedKey>,
}

impl Trust {
    /// A trust list from explicit entries. Entries whose key text is invalid trust nothing.
    pub fn from_keys(keys: Vec<TrustedKey>) -> Trust {
        Trust { keys }
    }

    /// Every entry, revoked ones included.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// Trusts `key` for `role` under `name`, valid from `valid_from` (if given). Returns
    /// false when it already was.
    ///
    /// # Errors
    /// When the key holds a role that may not be combined with `role`, is known under
    /// another name, or the name is unusable.
    pub fn add(
        &mut self,
        key: &PublicKeyBytes,
        name: &str,
        role: Role,
        valid_from: Option<Timestamp>,
    ) -> Result<bool, TrustChangeError> {
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(TrustChangeError::BadName);
        }
        let key_id = vouch_chain::key_id(key);
        for k in self.entries(key) {
            if k.name != name {
                return Err(TrustChangeError::OtherName {
                    key_id,
                    name: k.name.clone(),
                });
            }
            if !k.role.compatible(role) {
                return Err(TrustChangeError::Conflict {
                    key_id,
                    held: k.role,
                    name: k.name.clone(),
                    wanted: role,
                });
            }
        }
        if self
            .entries(key)
            .any(|k| k.role == role && k.revoked.is_none())
        {
            return Ok(false);
        }
        self.keys.push(TrustedKey {
            name: name.to_owned(),
            role,
            key: vouch_chain::public_key_text(key),
            key_id,
            valid_from,
            revoked: None,
        });
        Ok(true)
    }

    /// Revokes every role of `key` from `from` on. The entries stay, so records signed
    /// before `from` keep verifying.
    ///
    /// # Errors
    /// When the key is not trusted, or every entry of it is already revoked.
    pub fn revoke(
        &mut self,
        key: &PublicKeyBytes,
        from: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<usize, TrustChangeError> {
        let key_id = vouch_chain::key_id(key);
        let text = vouch_chain::public_key_text(key);
        let mut any = false;
        let mut changed = 0;
        for k in self.keys.iter_mut().filter(|k| k.key == text) {
            any = true;
            if k.revoked.is_none() {
                k.revoked = Some(Revocation {
                    from,
                    reason: reason.to_owned(),
                    recorded_at: now,
                });
                changed += 1;
            }
        }
        match (any, changed) {
            (false, _) => Err(TrustChangeError::Unknown(key_id)),
            (true, 0) => Err(TrustChangeError::AlreadyRevoked(key_id)),
            _ => Ok(changed),
        }
    }

    fn entries<'a>(&'a self, key: &PublicKeyBytes) -> impl Iterator<Item = &'a TrustedKey> + 'a {
        let key = *key;
        self.keys
            .iter()
            .filter(move |k| k.public().is_some_and(|p| p == key))
    }

    /// The name this trust list gives `key`, whatever its role.
    pub fn name_of(&self, key: &PublicKeyBytes) -> Option<&str> {
        self.entries(key).next().map(|k| k.name.as_str())
    }

    /// Authorizes `key` to sign a deployment at `at`: a deployer key, or a release
    /// (signer) key. The refusal names the deployer role.
    ///
    /// # Errors
    /// When the key may not deploy at `at`.
    pub fn authorize_deployment(
        &self,
        key: &PublicKeyBytes,
        at: Timestamp,
    ) -> Result<&TrustedKey, Violation> {
        self.authorize(key, Role::Deployer, at)
            .or_else(|as_deployer| {
                self.authorize(key, Role::Signer, at)
                    .map_err(|_| as_deployer)
            })
    }

    /// Whether `key` may sign as `role` a record dated `at`: the one answer to "is this
    /// signer trusted", for every caller.
    ///
    /// # Errors
    /// A violation naming why not: unknown key, another role, not yet valid, revoked.
    pub fn authorize(
        &self,
        key: &PublicKeyBytes,
        role: Role,
        at: Timestamp,
    ) -> Result<&TrustedKey, Violation> {
        let id = vouch_chain::key_id(key);
        let mut held = Vec::new();
        let mut refusal = None;
        for k in self.entries(key) {
            if k.role != role {
                held.push(k.role.as_str());
                continue;
            }
            if k.valid_from.is_some_and(|from| at < from) {
                refusal = Some(Violation::new(
                    Rule::KeyNotYetValid,
                    format!(
                        "key {id} ({}) is trusted as {role} only from {}, and the record is dated {at}",
                        k.name,
                        k.valid_from.expect("checked")
                    ),
                ));
                continue;
            }
            if let Some(r) = k.revoked.as_ref().filter(|r| at >= r.from) {
                refusal = Some(Violation::new(
                    Rule::KeyRevoked,
                    format!(
                        "key {id} ({}) was revoked as {role} from {} ({}), and the record is dated {at}",
                        k.name, r.from, r.reason
                    ),
                ));
                continue;
            }
            return Ok(k);
        }
        Err(refusal.unwrap_or_else(|| {
            if held.is_empty() {
                Violation::new(
                    Rule::UntrustedKey,
                    format!("key {id} is not in the trust list"),
                )
            } else {
                Violation::new(
                    Rule::WrongRole,
                    format!(
                        "key {id} ({}) is trusted as {} only, not as {role}",
                        self.name_of(key).unwrap_or("?"),
                        held.join(" and ")
                    ),
                )
            }
        }))
    }

    /// A digest of the whole list: views judged under one trust list are rebuilt when it
    /// changes.
    pub fn fingerprint(&self) -> vouch_event::Digest {
        vouch_event::Digest::of(
            serde_json::to_string(self)
                .expect("a trust list serializes")
                .as_bytes(),
        )
    }
}
