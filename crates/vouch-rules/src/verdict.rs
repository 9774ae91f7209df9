//! The rule book's verdicts: which rule a record broke, and the details.

use serde::Serialize;

/// Every rule a release record can break. The names are stable: they appear in `--json`
/// output, quarantine reasons and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// The bytes are not a release record of the kind their place needs.
    NotARecord,
    /// A decision outside the chain key, or another record on it.
    WrongKey,
    /// The envelope (event id, time) does not match the signed record.
    Envelope,
    /// The Ed25519 signature does not verify.
    Signature,
    /// The signer's key is not trusted at all.
    UntrustedKey,
    /// The signer's key is trusted, but not for this kind of record.
    WrongRole,
    /// The record is dated before the key became valid.
    KeyNotYetValid,
    /// The record is dated at or after the key's revocation.
    KeyRevoked,
    /// The decision's chain index is not the next one (a replay, a gap, a reorder).
    ChainIndex,
    /// The decision's previous hash is not the chain head's hash.
    ChainLink,
    /// The decision is dated before the decision it follows (beyond the clock skew).
    ChainTime,
    /// The evidence names positions that are missing, or at or after the decision.
    EvidencePositions,
    /// The evidence digest does not match the log's bytes.
    EvidenceDigest,
    /// The log prefix a layout-2 decision pins is not the one it read: its size is not
    /// `evaluated_at`, or its root is not the log's root at that size.
    LogPin,
    /// The cited policy record is missing or does not match the decision.
    Policy,
    /// The outcome does not follow from the recorded gate verdicts.
    Outcome,
    /// A review or resolution cites a decision the chain does not hold.
    UnknownDecision,
    /// The decision cited is not waiting for review.
    NotPending,
    /// The decision cited was already resolved.
    AlreadyResolved,
    /// A resolution differs from the decision it resolves (run, artifacts, evidence …).
    ResolutionMismatch,
    /// A resolution's outcome is not what its reviews decide, or cites a review that is
    /// not one of them.
    ReviewOutcome,
    /// The reviewer's key signed the decision under review, or reviewed it already.
    SeparationOfDuties,
    /// The reviewer's name is not the name the trust list gives its key.
    ReviewerName,
    /// A deployment cites no valid promotion of its artifact and is not forced.
    DeploymentUnpromoted,
    /// A deployment record written before deployments were signed.
    Unsigned,
}

impl Rule {
    /// The stable snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NotARecord => "not_a_record",
            Rule::WrongKey => "wrong_key",
            Rule::Envelope => "envelope",
            Rule::Signature => "signature",
            Rule::UntrustedKey => "untrusted_key",
            Rule::WrongRole => "wrong_role",
            Rule::KeyNotYetValid => "key_not_yet_valid",
            Rule::KeyRevoked => "key_revoked",
            Rule::ChainIndex => "chain_index",
            Rule::ChainLink => "chain_link",
            Rule::ChainTime => "chain_time",
            Rule::EvidencePositions => "evidence_positions",
            Rule::EvidenceDigest => "evidence_digest",
            Rule::LogPin => "log_pin",
            Rule::Policy => "policy",
            Rule::Outcome => "outcome",
            Rule::UnknownDecision => "unknown_decision",
            Rule::NotPending => "not_pending",
            Rule::AlreadyResolved => "already_resolved",
            Rule::ResolutionMismatch => "resolution_mismatch",
            Rule::ReviewOutcome => "review_outcome",
            Rule::SeparationOfDuties => "separation_of_duties",
            Rule::ReviewerName => "reviewer_name",
            Rule::DeploymentUnpromoted => "deployment_unpromoted",
            Rule::Unsigned => "unsigned",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record the rule book refuses: the rule it broke and what exactly is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{detail} [rule {rule}]")]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What is wrong, naming the values involved.
    pub detail: String,
}

impl Violation {
    /// A violation of `rule`.
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Violation {
            rule,
            detail: detail.into(),
        }
    }
}
