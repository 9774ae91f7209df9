//! C2SP tlog-policy: which logs an auditor trusts, which witnesses, and how many
//! witnesses must cosign a checkpoint before it counts (the quorum, possibly through
//! nested groups).
//!
//! Format: lines ending in `\n`; fields separated by runs of spaces or tabs; leading and
//! trailing whitespace allowed; empty lines and `#` comment lines ignored.
//!
//! ```text
//! log <vkey> [<url>]                         vkey of type 0x01, key name = origin
//! witness <name> <vkey> [<url>]              vkey of type 0x04
//! group <name> <k|all|any> <member>…         members: earlier witnesses or groups
//! quorum <name|none>                         exactly one
//! ```
//!
//! Names share one namespace; `none` is reserved. A group or quorum may only name things
//! defined on earlier lines, so groups cannot be circular, and each member appears at
//! most once per group. Duplicate log or witness public keys are refused.

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::note::{self, Note, SignatureType, VerifierKey, VerifyError, VkeyError};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Most logs, witnesses and groups each (the spec asks implementations to support 32).
pub const MAX_ENTRIES: usize = 256;

/// A trusted log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its checkpoint key; the key name is the log's origin.
    pub key: VerifierKey,
    /// Where to reach it, if given (unused offline).
    pub url: Option<String>,
}

/// A trusted witness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Name used in groups and the quorum (policy-local; not the key name).
    pub name: String,
    /// Its cosignature key.
    pub key: VerifierKey,
    /// Its submission prefix, if given (unused offline).
    pub url: Option<String>,
}

/// A named k-of-n group of witnesses and earlier groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Group name.
    pub name: String,
    /// How many members must have witnessed (1 ≤ k ≤ n; `any` = 1, `all` = n).
    pub threshold: usize,
    /// Member names, in file order.
    pub members: Vec<String>,
}

/// What must have witnessed a checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// `quorum none`: no cosignature needed.
    None,
    /// `quorum <name>`: that witness or group.
    Named(String),
}

/// A parsed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<PolicyGroup>,
    quorum: Quorum,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Entity {
    Witness(usize),
    Group(usize),
}

impl Policy {
    /// The policy command-line flags describe: trusted logs (`--log`, type 0x01), known
    /// witnesses (`--witness`, type 0x04) and how many of them must cosign (`--quorum`;
    /// 0 asks for none). Built from the same parts as a policy file, so one evaluation
    /// ([`evaluate`]) serves both.
    ///
    /// # Errors
    /// [`PolicyError::WrongKeyType`], [`PolicyError::DuplicateKey`] or
    /// [`PolicyError::BadThreshold`] (a quorum above the number of witnesses), with the
    /// 1-based place of the key among the flags (logs first, then witnesses).
    pub fn from_keys(
        logs: Vec<VerifierKey>,
        witnesses: Vec<VerifierKey>,
        quorum: usize,
    ) -> Result<Self, PolicyError> {
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Quorum::None,
        };
        let mut seen: Vec<[u8; 32]> = Vec::new();
        let all = logs.iter().map(|k| (k, SignatureType::Ed25519));
        let all = all.chain(witnesses.iter().map(|k| (k, SignatureType::CosignatureV1)));
        for (i, (key, want)) in all.enumerate() {
            let line = i + 1;
            if key.signature_type() != want {
                return Err(PolicyError::WrongKeyType { line });
            }
            let bytes = key.public_key().to_bytes();
            if seen.contains(&bytes) {
                return Err(PolicyError::DuplicateKey { line });
            }
            seen.push(bytes);
        }
        if quorum > witnesses.len() {
            return Err(PolicyError::BadThreshold {
                line: logs.len() + witnesses.len() + 1,
            });
        }
        p.logs = logs
            .into_iter()
            .map(|key| PolicyLog { key, url: None })
            .collect();
        // Policy names are the witnesses' key names, numbered when two share one.
        let names: Vec<String> = witnesses
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let name = k.name().as_str();
                let shared = witnesses
                    .iter()
                    .filter(|o| o.name().as_str() == name)
                    .count()
                    > 1;
                if shared {
                    format!("{name}#{}", i + 1)
                } else {
                    name.to_owned()
                }
            })
            .collect();
        p.witnesses = witnesses
            .into_iter()
            .zip(names)
            .map(|(key, name)| PolicyWitness {
                name,
                key,
                url: None,
            })
            .collect();
        if quorum > 0 {
            let name = "quorum of the given witnesses".to_owned();
            p.groups.push(PolicyGroup {
                name: name.clone(),
                threshold: quorum,
                members: p.witnesses.iter().map(|w| w.name.clone()).collect(),
            });
            p.quorum = Quorum::Named(name);
        }
        Ok(p)
    }

    /// Parses a policy file.
    ///
    /// # Errors
    /// [`PolicyError`] with the 1-based line: a forbidden character, an unknown keyword,
    /// a wrong field count, a bad vkey or a vkey of the wrong type, a duplicate key or
    /// name, an undefined or repeated member, a bad threshold, zero or two quorum
    /// lines, or too many entries.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge {
                max: MAX_POLICY_BYTES,
            });
        }
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Quorum::None,
        };
        let mut quorum_seen = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            if raw.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(PolicyError::ForbiddenCharacter { line });
            }
            let fields: Vec<&str> = raw.split([' ', '\t']).filter(|f| !f.is_empty()).collect();
            let Some((&keyword, args)) = fields.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [v] => (*v, None),
                        [v, u] => (*v, Some((*u).to_owned())),
                        _ => {
                            return Err(PolicyError::FieldCount {
                                line,
                                keyword: "log",
                            })
                        }
                    };
                    let key = parse_key(vkey, SignatureType::Ed25519, line)?;
                    if p.logs
                        .iter()
                        .any(|l| l.key.public_key() == key.public_key())
                    {
                        return Err(PolicyError::DuplicateKey { line });
                    }
                    if p.logs.len() == MAX_ENTRIES {
                        return Err(PolicyError::TooManyEntries { line });
                    }
                    p.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [n, v] => (*n, *v, None),
                        [n, v, u] => (*n, *v, Some((*u).to_owned())),
                        _ => {
                            return Err(PolicyError::FieldCount {
                                line,
                                keyword: "witness",
                            })
                        }
                    };
                    p.check_new_name(name, line)?;
                    let key = parse_key(vkey, SignatureType::CosignatureV1, line)?;
                    if p.witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(PolicyError::DuplicateKey { line });
                    }
                    if p.witnesses.len() == MAX_ENTRIES {
                        return Err(PolicyError::TooManyEntries { line });
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_owned(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, k, members @ ..] = args else {
                        return Err(PolicyError::FieldCount {
                            line,
                            keyword: "group",
                        });
                    };
                    if members.is_empty() {
                        return Err(PolicyError::FieldCount {
                            line,
                            keyword: "group",
                        });
                    }
                    p.check_new_name(name, line)?;
                    let mut seen: Vec<&str> = Vec::new();
                    for m in members {
                        if p.lookup(m).is_none() {
                            return Err(PolicyError::UndefinedName {
                                line,
                                name: (*m).to_owned(),
                            });
                        }
                        if seen.contains(m) {
                            return Err(PolicyError::RepeatedMember {
                                line,
                                name: (*m).to_owned(),
                            });
                        }
                        seen.push(m);
                    }
                    let n = members.len();
                    let threshold = match *k {
                        "all" => n,
                        "any" => 1,
                        k => match crate::checkpoint::parse_decimal(k) {
                            Some(k) if k >= 1 && k <= n as u64 => k as usize,
                            _ => return Err(PolicyError::BadThreshold { line }),
                        },
                    };
                    if p.groups.len() == MAX_ENTRIES {
                        return Err(PolicyError::TooManyEntries { line });
                    }
                    p.groups.push(PolicyGroup {
                        name: (*name).to_owned(),
                        threshold,
                        members: members.iter().map(|m| (*m).to_owned()).collect(),
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(PolicyError::FieldCount {
                            line,
                            keyword: "quorum",
                        });
                    };
                    if quorum_seen {
                        return Err(PolicyError::DuplicateQuorum { line });
                    }
                    quorum_seen = true;
                    p.quorum = if *name == "none" {
                        Quorum::None
                    } else if p.lookup(name).is_some() {
                        Quorum::Named((*name).to_owned())
                    } else {
                        return Err(PolicyError::UndefinedName {
                            line,
                            name: (*name).to_owned(),
                        });
                    };
                }
                other => {
                    return Err(PolicyError::UnknownKeyword {
                        line,
                        keyword: other.chars().take(32).collect(),
                    })
                }
            }
        }
        if !quorum_seen {
            return Err(PolicyError::MissingQuorum);
        }
        Ok(p)
    }

    fn check_new_name(&self, name: &str, line: usize) -> Result<(), PolicyError> {
        if name == "none" || self.lookup(name).is_some() {
            return Err(PolicyError::DuplicateName {
                line,
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<Entity> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(Entity::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(Entity::Group)
    }

    /// The trusted logs.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The known witnesses.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// The groups, in file order.
    pub fn groups(&self) -> &[PolicyGroup] {
        &self.groups
    }

    /// The quorum rule.
    pub fn quorum(&self) -> &Quorum {
        &self.quorum
    }

    /// Whether the witnesses whose indices are set in `cosigned` satisfy the quorum.
    /// Groups only name earlier entries, so one pass in file order settles every group
    /// without recursion.
    fn quorum_met(&self, cosigned: &[bool]) -> bool {
        let mut group_ok: Vec<bool> = Vec::with_capacity(self.groups.len());
        let ok = |e: Entity, group_ok: &[bool]| match e {
            Entity::Witness(i) => cosigned[i],
            Entity::Group(i) => group_ok[i],
        };
        for g in &self.groups {
            let count = g
                .members
                .iter()
                .filter_map(|m| self.lookup(m))
                .filter(|&e| ok(e, &group_ok))
                .count();
            group_ok.push(count >= g.threshold);
        }
        match &self.quorum {
            Quorum::None => true,
            Quorum::Named(n) => self.lookup(n).is_some_and(|e| ok(e, &group_ok)),
        }
    }
}

fn parse_key(vkey: &str, want: SignatureType, line: usize) -> Result<VerifierKey, PolicyError> {
    let key = VerifierKey::parse(vkey).map_err(|source| PolicyError::BadVkey { line, source })?;
    if key.signature_type() != want {
        return Err(PolicyError::WrongKeyType { line });
    }
    Ok(key)
}

/// The outcome of checking a checkpoint against a policy. A quorum shortfall is a
/// verdict, not an error; errors are reserved for notes that are malformed or carry a
/// failing signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyVerdict {
    /// Signed by a trusted log and cosigned to quorum.
    Accepted {
        /// The verified checkpoint.
        checkpoint: Checkpoint,
        /// Policy names of the witnesses whose cosignatures verified.
        cosigners: Vec<String>,
    },
    /// Signed by a trusted log, but too few cosignatures.
    QuorumNotMet {
        /// The checkpoint (log-signed, not witnessed enough: do not rely on it).
        checkpoint: Checkpoint,
        /// Policy names of the witnesses whose cosignatures verified.
        cosigners: Vec<String>,
    },
}

/// Checks a signed checkpoint note against a policy: one trusted log whose key name is
/// the origin must have signed it, and the valid cosignatures of known witnesses must
/// meet the quorum. Strict Ed25519 throughout (small-order keys and non-canonical
/// signatures refused).
///
/// # Errors
/// [`EvaluateError::Checkpoint`] when the note's text is not a checkpoint,
/// [`EvaluateError::Signature`] when a known log or witness signature fails,
/// [`EvaluateError::NoLogSignature`] when no trusted log for this origin signed.
pub fn evaluate(policy: &Policy, note: &Note) -> Result<PolicyVerdict, EvaluateError> {
    let checkpoint = Checkpoint::parse(note.text())?;
    let mut known: Vec<VerifierKey> = policy
        .logs
        .iter()
        .filter(|l| l.key.name().as_str() == checkpoint.origin())
        .map(|l| l.key.clone())
        .collect();
    known.extend(policy.witnesses.iter().map(|w| w.key.clone()));
    let verified = note::check_signatures(note, &known)?;
    let signed_by_log = verified.iter().any(|v| {
        v.signature_type == SignatureType::Ed25519 && v.name.as_str() == checkpoint.origin()
    });
    if !signed_by_log {
        return Err(EvaluateError::NoLogSignature {
            origin: checkpoint.origin().chars().take(64).collect(),
        });
    }
    let cosigned: Vec<bool> = policy
        .witnesses
        .iter()
        .map(|w| {
            verified.iter().any(|v| {
                v.signature_type == SignatureType::CosignatureV1
                    && &v.name == w.key.name()
                    && v.key_id == w.key.id()
            })
        })
        .collect();
    let cosigners = policy
        .witnesses
        .iter()
        .zip(&cosigned)
        .filter(|(_, &c)| c)
        .map(|(w, _)| w.name.clone())
        .collect();
    Ok(if policy.quorum_met(&cosigned) {
        PolicyVerdict::Accepted {
            checkpoint,
            cosigners,
        }
    } else {
        PolicyVerdict::QuorumNotMet {
            checkpoint,
            cosigners,
        }
    })
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Larger than the cap.
    #[error("policy is over the {max}-byte cap")]
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// A control character other than tab (or DEL).
    #[error("policy line {line}: forbidden control character")]
    ForbiddenCharacter {
        /// 1-based line.
        line: usize,
    },
    /// Not `log`, `witness`, `group`, `quorum` or a comment.
    #[error("policy line {line}: unknown keyword {keyword:?}")]
    UnknownKeyword {
        /// 1-based line.
        line: usize,
        /// The keyword (first 32 characters).
        keyword: String,
    },
    /// Too few or too many fields.
    #[error("policy line {line}: wrong number of fields for `{keyword}`")]
    FieldCount {
        /// 1-based line.
        line: usize,
        /// The keyword.
        keyword: &'static str,
    },
    /// A vkey does not parse.
    #[error("policy line {line}: {source}")]
    BadVkey {
        /// 1-based line.
        line: usize,
        /// Why.
        source: VkeyError,
    },
    /// A log key that is not type 0x01, or a witness key that is not type 0x04.
    #[error("policy line {line}: key has the wrong signature type for this role")]
    WrongKeyType {
        /// 1-based line.
        line: usize,
    },
    /// A log or witness public key already listed.
    #[error("policy line {line}: duplicate public key")]
    DuplicateKey {
        /// 1-based line.
        line: usize,
    },
    /// A name already defined, or `none`.
    #[error("policy line {line}: name {name:?} already defined or reserved")]
    DuplicateName {
        /// 1-based line.
        line: usize,
        /// The name.
        name: String,
    },
    /// A member or quorum names nothing defined earlier.
    #[error("policy line {line}: {name:?} is not defined on an earlier line")]
    UndefinedName {
        /// 1-based line.
        line: usize,
        /// The name.
        name: String,
    },
    /// A member listed twice in one group.
    #[error("policy line {line}: member {name:?} listed twice")]
    RepeatedMember {
        /// 1-based line.
        line: usize,
        /// The name.
        name: String,
    },
    /// Threshold not `all`, `any` or a decimal k with 1 ≤ k ≤ n.
    #[error("policy line {line}: threshold must be all, any or 1..=n")]
    BadThreshold {
        /// 1-based line.
        line: usize,
    },
    /// A second quorum line.
    #[error("policy line {line}: second quorum line")]
    DuplicateQuorum {
        /// 1-based line.
        line: usize,
    },
    /// No quorum line.
    #[error("policy has no quorum line")]
    MissingQuorum,
    /// Over [`MAX_ENTRIES`] logs, witnesses or groups.
    #[error("policy line {line}: too many entries of this kind")]
    TooManyEntries {
        /// 1-based line.
        line: usize,
    },
}

/// Why a checkpoint could not be evaluated against a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluateError {
    /// The note's text is not a checkpoint.
    #[error("not a checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    /// A known signature failed or was malformed.
    #[error("{0}")]
    Signature(#[from] VerifyError),
    /// No trusted log whose key name is the origin signed it.
    #[error("no trusted log for origin {origin:?} signed the checkpoint")]
    NoLogSignature {
        /// The origin (first 64 characters).
        origin: String,
    },
}
