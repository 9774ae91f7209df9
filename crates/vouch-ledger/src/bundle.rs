//! Audit bundles: everything needed to check one promotion offline, with no ledger at
//! hand. A bundle is JSON: the records' exact log bytes (hex) with their positions and
//! keys, and the public keys the producer trusted.
//!
//! It holds the decision that promoted the artifact and every decision after it up to the
//! head (so the chain from it to the head can be checked), the decision's evidence events,
//! its policy event, the review it enacts (with the decision reviewed), and the artifact's
//! deployments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vouch_event::{hex, Body, DecisionOutcome, Digest, Event, Subject};

use crate::release::{chain_key, Check, ReleaseError};
use crate::trust::{Role, Trust, TrustedKey};
use crate::Ledger;

/// The bundle format written by this version.
pub const BUNDLE_FORMAT: &str = "vouch-audit-bundle-v1";

/// One log record, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// Log position.
    pub position: u64,
    /// Log key.
    pub key: String,
    /// Event id.
    pub event_id: String,
    /// The exact stored bytes, hex.
    pub bytes: String,
}

/// A self-contained audit bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// [`BUNDLE_FORMAT`].
    pub format: String,
    /// The artifact audited.
    pub artifact: String,
    /// Chain index of the decision that promoted it.
    pub decision: u64,
    /// The records, ascending by position.
    pub records: Vec<BundleRecord>,
    /// The keys trusted when the bundle was made.
    pub keys: Vec<TrustedKey>,
}

impl Ledger {
    /// Builds the bundle for the promotion of `artifact` by decision `index`.
    ///
    /// # Errors
    /// When the log or views fail.
    pub fn bundle(
        &self,
        artifact: &Digest,
        index: u64,
        trust: &Trust,
    ) -> Result<Bundle, ReleaseError> {
        let mut positions = Vec::new();
        let mut next = index;
        while let Some(entry) = self.views().decision(next)? {
            positions.push(entry.position);
            let record = self.decision_record(&entry)?;
            if next == index {
                positions.extend(&record.evidence);
                positions.push(record.policy_position);
            }
            // A decision enacting a review is signed by the reviewer: the review record
            // (and the decision it reviewed) show that key may sign it.
            if let Some(link) = &record.review {
                positions.push(link.review_position);
                if let Some(reviewed) = self.views().decision_by_hash(&link.decision)? {
                    positions.push(reviewed.position);
                }
            }
            next += 1;
        }
        positions.extend(
            self.views()
                .deployments(artifact)?
                .iter()
                .map(|d| d.position),
        );
        positions.sort_unstable();
        positions.dedup();
        let records = self
            .read_positions(&positions)?
            .into_iter()
            .map(|r| BundleRecord {
                position: r.position.get(),
                key: r.key.to_string(),
                event_id: r.event_id,
                bytes: hex(&r.bytes),
            })
            .collect();
        Ok(Bundle {
            format: BUNDLE_FORMAT.into(),
            artifact: artifact.to_string(),
            decision: index,
            records,
            keys: trust.keys().to_vec(),
        })
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok())
        .collect()
}

/// Checks a bundle on its own: every decision from the audited one to the head is signed
/// by a key the bundle trusts and links to the one before; the audited decision promoted
/// the artifact, its evidence digest matches the included bytes, its policy text matches
/// its digest, and the review it enacts is signed by a trusted reviewer.
pub fn verify_bundle(bundle: &Bundle) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        checks.push(Check {
            what: what.into(),
            ok,
            detail,
        })
    };
    if bundle.format != BUNDLE_FORMAT {
        check(
            "format",
            false,
            format!(
                "unknown bundle format `{}` (expected {BUNDLE_FORMAT})",
                bundle.format
            ),
        );
        return checks;
    }
    let trust = Trust::from_keys(bundle.keys.clone());
    let Ok(artifact) = Digest::parse(&bundle.artifact) else {
        check(
            "artifact",
            false,
            format!("`{}` is not a digest", bundle.artifact),
        );
        return checks;
    };
    let mut events: BTreeMap<u64, (Event, Digest, String)> = BTreeMap::new();
    for r in &bundle.records {
        let Some(bytes) = unhex(&r.bytes) else {
            check(
                "record",
                false,
                format!("record at position {} is not hex", r.position),
            );
            return checks;
        };
        match vouch_event::decode(&bytes) {
            Ok(event) => {
                events.insert(
                    r.position,
                    (event, vouch_event::event_digest(&bytes), r.key.clone()),
                );
            }
            Err(e) => {
                check(
                    "record",
                    false,
                    format!("record at position {} does not decode: {e}", r.position),
                );
                return checks;
            }
        }
    }
    // The chain from the audited decision to the head. Earlier decisions in the bundle
    // (one a review resolved) are context, not links of this walk.
    let chain: Vec<(u64, &Event)> = events
        .iter()
        .filter(|(_, (_, _, key))| *key == chain_key().as_str())
        .filter(|(_, (e, _, _))| !matches!(&e.body, Body::DecisionRecorded(d) if d.index < bundle.decision))
        .map(|(p, (e, _, _))| (*p, e))
        .collect();
    let mut prev: Option<(u64, Digest)> = None;
    let mut audited = None;
    let mut reviews: BTreeMap<Digest, (Digest, vouch_event::PublicKeyBytes, bool)> =
        BTreeMap::new();
    for (_, (event, _, _)) in events.iter() {
        if let (Subject::Model(model), Body::ReviewRecorded(r)) = (&event.subject, &event.body) {
            let ok = vouch_chain::verify_review(model, r).is_ok()
                && trust.find(&r.signer, Role::Reviewer).is_some();
            reviews.insert(
                vouch_chain::review_hash(model, r),
                (r.decision, r.signer, ok),
            );
        }
    }
    for (position, event) in &chain {
        let (Subject::Model(model), Body::DecisionRecorded(d)) = (&event.subject, &event.body)
        else {
            check(
                "chain",
                false,
                format!("record at position {position} on the chain is not a decision"),
            );
            return checks;
        };
        let hash = vouch_chain::decision_hash(model, d);
        if let Some((index, prev_hash)) = prev {
            let linked = d.index == index + 1 && d.prev == Some(prev_hash);
            check(
                "chain link",
                linked,
                format!(
                    "decision {} at position {position} follows decision {index}",
                    d.index
                ),
            );
        } else if d.index != bundle.decision {
            check(
                "chain",
                false,
                format!(
                    "the bundle's chain starts at decision {}, not {}",
                    d.index, bundle.decision
                ),
            );
        }
        let signature = vouch_chain::verify_decision(model, d);
        let trusted = trust.find(&d.signer, Role::Signer).is_some()
            || d.review.as_ref().is_some_and(|l| {
                reviews.get(&l.review).is_some_and(|(dec, signer, ok)| {
                    *ok && *dec == l.decision && *signer == d.signer
                })
            });
        check(
            "decision signature",
            signature.is_ok() && trusted,
            format!(
                "decision {} signed by key {}{}",
                d.index,
                vouch_chain::key_id(&d.signer),
                match (&signature, trusted) {
                    (Err(e), _) => format!(": {e}"),
                    (Ok(()), false) => ", which the bundle does not trust".into(),
                    (Ok(()), true) => String::new(),
                }
            ),
        );
        if d.index == bundle.decision {
            audited = Some((model.clone(), (**d).clone(), hash));
        }
        prev = Some((d.index, hash));
    }
    let Some((model, d, hash)) = audited else {
        check(
            "decision",
            false,
            format!("decision {} is not in the bundle", bundle.decision),
        );
        return checks;
    };
    check(
        "promotion",
        d.outcome == DecisionOutcome::Promoted && d.artifacts.contains(&artifact),
        format!(
            "decision {} ({hash}) {} model {model} with artifacts {}",
            d.index,
            d.outcome.as_str(),
            d.artifacts
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let missing: Vec<u64> = d
        .evidence
        .iter()
        .copied()
        .filter(|p| !events.contains_key(p))
        .collect();
    if missing.is_empty() {
        let recomputed =
            vouch_chain::evidence_digest(d.evidence.iter().map(|p| (*p, &events[p].1)));
        check(
            "evidence digest",
            recomputed == d.evidence_digest,
            format!("{} events hash to {recomputed}", d.evidence.len()),
        );
    } else {
        check(
            "evidence digest",
            false,
            format!("evidence at positions {missing:?} is missing from the bundle"),
        );
    }
    match events.get(&d.policy_position) {
        Some((
            Event {
                body: Body::PolicyPublished(p),
                ..
            },
            _,
            _,
        )) => {
            check(
                "policy",
                p.digest == d.policy && Digest::of(p.text.as_bytes()) == d.policy,
                format!("policy version {} ({})", p.version, d.policy),
            );
        }
        _ => check(
            "policy",
            false,
            format!("policy record at position {} is missing", d.policy_position),
        ),
    }
    if let Some(link) = &d.review {
        let ok = reviews
            .get(&link.review)
            .is_some_and(|(dec, _, ok)| *ok && *dec == link.decision);
        check(
            "review",
            ok,
            format!("review {} of decision {}", link.review, link.decision),
        );
    }
    for (position, (event, _, _)) in &events {
        if let Body::DeploymentRecorded(dep) = &event.body {
            if dep.artifact == artifact {
                check(
                    "deployment",
                    dep.decision == Some(hash) && !dep.forced,
                    format!(
                        "{} to {} at position {position}",
                        if dep.forced {
                            "forced deployment"
                        } else {
                            "deployment"
                        },
                        dep.env
                    ),
                );
            }
        }
    }
    checks
}
