//! Audit bundles: everything needed to check one promotion offline, with no ledger at
//! hand. A bundle is JSON: the records' exact log bytes (hex) with their positions, keys
//! and event ids, and the names the producer gave the keys that signed them.
//!
//! It holds the decision that promoted the artifact, the decision before it (its
//! previous link) and every decision after it up to the head, the decision's evidence
//! events and policy, the decision it resolves with that decision's reviews (for a
//! promotion a review enacted), and the artifact's deployments that cite one of those
//! decisions, or none (forced). A bundle is checked
//! against the auditor's trust, never the keys written inside it, and every record in it
//! must be covered by a check: an extra record fails the bundle.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vouch_event::{hex, Body, DecisionOutcome, Digest, Event, Kind, ModelName, PublicKeyBytes};
use vouch_rules::{
    judge_decision, judge_deployment, judge_link, judge_review, DecisionCase, DecisionFacts,
    ReviewFacts, Tip, Trust,
};

use crate::release::{chain_key, Check, ReleaseError};
use crate::trust::TrustedKey;
use crate::Ledger;

/// The bundle format written by this version.
pub const BUNDLE_FORMAT: &str = "vouch-audit-bundle-v2";

/// The largest bundle `verify-bundle` reads.
pub const MAX_BUNDLE_BYTES: u64 = 256 * 1024 * 1024;

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
    /// The names the producer's trust list gave the keys (names only: a bundle is
    /// verified against the auditor's trust, never these).
    pub keys: Vec<TrustedKey>,
}

impl Bundle {
    /// Every key that signed a release record in the bundle, with the name the bundle
    /// gives it: what an auditor without trust is shown.
    pub fn signers(&self) -> Vec<(PublicKeyBytes, String)> {
        let mut out: Vec<(PublicKeyBytes, String)> = Vec::new();
        for r in &self.records {
            let Some(event) = unhex(&r.bytes).and_then(|b| vouch_event::decode(&b).ok()) else {
                continue;
            };
            let signer = match &event.body {
                Body::DecisionRecorded(d) => d.signer,
                Body::ReviewRecorded(rv) => rv.signer,
                Body::DeploymentSigned(d) => d.signer,
                _ => continue,
            };
            if !out.iter().any(|(k, _)| *k == signer) {
                let name = self
                    .keys
                    .iter()
                    .find(|k| k.public() == Some(signer))
                    .map_or_else(|| "unnamed".to_owned(), |k| k.name.clone());
                out.push((signer, name));
            }
        }
        out
    }
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
        if let Some(prev) = index.checked_sub(1) {
            if let Some(entry) = self.views().decision(prev)? {
                positions.push(entry.position);
            }
        }
        let mut next = index;
        // The decisions the bundle holds from the audited one on: a deployment citing an
        // earlier promotion of the same artifact belongs to that promotion's bundle.
        let mut held = std::collections::BTreeSet::new();
        while let Some(entry) = self.views().decision(next)? {
            positions.push(entry.position);
            held.insert(entry.hash);
            if next == index {
                let record = self.decision_record(&entry)?;
                positions.extend(&record.evidence);
                positions.push(record.policy_position);
                // The decision it resolves, and that decision's reviews up to it.
                if let Some(link) = &record.review {
                    if let Some(reviewed) = self.views().decision_by_hash(&link.decision)? {
                        positions.push(reviewed.position);
                        positions.extend(
                            reviewed
                                .reviews
                                .iter()
                                .map(|r| r.position)
                                .filter(|&p| p < entry.position),
                        );
                    }
                }
            }
            next += 1;
        }
        positions.extend(
            self.views()
                .deployments(artifact)?
                .iter()
                .filter(|d| d.decision.is_none_or(|cited| held.contains(&cited)))
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
            keys: trust
                .keys()
                .iter()
                .filter(|k| k.revoked.is_none())
                .cloned()
                .collect(),
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

/// Checks a bundle against the auditor's `trust` with the rule book: the audited decision
/// is valid (signature and role of its signer under `trust`, its link to the previous
/// decision, its evidence digest over the included bytes, its policy, and for a promotion
/// a review enacted, the reviews that decide it); every decision after it up to the head
/// is a valid link signed by a trusted key; the artifact's deployments are valid and one
/// cites the audited decision; every record's event id and key match its bytes; and no
/// record is left unchecked.
pub fn verify_bundle(bundle: &Bundle, trust: &Trust) -> Vec<Check> {
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
    let Ok(artifact) = Digest::parse(&bundle.artifact) else {
        check(
            "artifact",
            false,
            format!("`{}` is not a digest", bundle.artifact),
        );
        return checks;
    };
    // Every record decoded, with its digest; its event id and key must be the ones its
    // bytes imply (they are outside the bytes a digest or signature covers).
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
        let event = match vouch_event::decode(&bytes) {
            Ok(event) => event,
            Err(e) => {
                check(
                    "record",
                    false,
                    format!("record at position {} does not decode: {e}", r.position),
                );
                return checks;
            }
        };
        let key = crate::log_key(&event);
        let on_chain = r.key == chain_key().as_str() && event.kind() == Kind::DecisionRecorded;
        if event.id.as_str() != r.event_id || (r.key != key.as_str() && !on_chain) {
            check(
                "record",
                false,
                format!(
                    "record at position {}: its event id `{}` and key `{}` are not the event's own (`{}` under `{key}`)",
                    r.position, r.event_id, r.key, event.id
                ),
            );
            return checks;
        }
        if events
            .insert(
                r.position,
                (event, vouch_event::event_digest(&bytes), r.key.clone()),
            )
            .is_some()
        {
            check(
                "record",
                false,
                format!("position {} appears twice", r.position),
            );
            return checks;
        }
    }
    let decision_at = |index: u64| {
        events.iter().find_map(|(p, (e, _, key))| match &e.body {
            Body::DecisionRecorded(d) if d.index == index && key == chain_key().as_str() => {
                Some((*p, e))
            }
            _ => None,
        })
    };
    let Some((audited_position, audited)) = decision_at(bundle.decision) else {
        check(
            "decision",
            false,
            format!("decision {} is not in the bundle", bundle.decision),
        );
        return checks;
    };
    let Body::DecisionRecorded(d) = &audited.body else {
        unreachable!("found as a decision")
    };
    let Ok(model) = vouch_rules::model_of(audited) else {
        check("decision", false, "the decision concerns no model".into());
        return checks;
    };
    let mut used: Vec<u64> = vec![audited_position];
    let mut verifier = vouch_chain::Verifier::default();
    // The head it links to: the previous decision, bound by the audited decision's hash
    // link (its own validity is the chain's before it, which the bundle does not carry).
    let head = match d.index.checked_sub(1) {
        None => None,
        Some(prev) => match decision_at(prev) {
            Some((p, e)) => {
                used.push(p);
                if let Err(v) = vouch_rules::judge_envelope(e) {
                    check(
                        "decision",
                        false,
                        format!("the previous decision {prev}: {v}"),
                    );
                    return checks;
                }
                let Body::DecisionRecorded(pd) = &e.body else {
                    unreachable!()
                };
                let pm = vouch_rules::model_of(e).ok();
                pm.map(|pm| Tip {
                    index: pd.index,
                    hash: vouch_chain::decision_hash(pm, pd),
                    decided_at: pd.decided_at,
                })
            }
            None => {
                check(
                    "decision",
                    false,
                    format!("the previous decision {prev} is not in the bundle"),
                );
                return checks;
            }
        },
    };
    // The decision it resolves, and that decision's reviews judged in order.
    let mut reviews: Vec<ReviewFacts> = Vec::new();
    let mut target: Option<(u64, &ModelName, &vouch_event::DecisionRecorded, Digest)> = None;
    if let Some(link) = &d.review {
        target = events.iter().find_map(|(p, (e, _, key))| match &e.body {
            Body::DecisionRecorded(t) if key == chain_key().as_str() && t.index < d.index => {
                let tm = vouch_rules::model_of(e).ok()?;
                let h = vouch_chain::decision_hash(tm, t);
                (h == link.decision).then_some((*p, tm, &**t, h))
            }
            _ => None,
        });
        if let Some((tp, tm, t, th)) = target {
            used.push(tp);
            if let Some(v) = events
                .get(&tp)
                .and_then(|(e, _, _)| vouch_rules::judge_envelope(e).err())
            {
                check(
                    "decision",
                    false,
                    format!("the reviewed decision {}: {v}", t.index),
                );
                return checks;
            }
            for (p, (e, _, key)) in &events {
                let Body::ReviewRecorded(r) = &e.body else {
                    continue;
                };
                if r.decision != th || *p > audited_position {
                    continue;
                }
                used.push(*p);
                let facts = DecisionFacts {
                    model: tm,
                    hash: th,
                    index: t.index,
                    outcome: t.outcome,
                    artifacts: &t.artifacts,
                    signer: t.signer,
                    resolved: false,
                    reviews: &reviews,
                };
                let verdict = judge_review(e, key, Some(facts), trust, &mut verifier);
                let name = trust.name_of(&r.signer).unwrap_or("an untrusted key");
                check(
                    "review",
                    verdict.is_ok(),
                    match &verdict {
                        Ok(_) => format!(
                            "{:?} of decision {} by {name} (key {}): {}",
                            r.verdict,
                            t.index,
                            vouch_chain::key_id(&r.signer),
                            r.reason
                        ),
                        Err(v) => format!("review at position {p}: {v}"),
                    },
                );
                if let Ok(hash) = verdict {
                    reviews.push(ReviewFacts {
                        hash,
                        position: *p,
                        verdict: r.verdict,
                        signer: r.signer,
                    });
                }
            }
        }
    }
    let evidence: Vec<Option<Digest>> = d
        .evidence
        .iter()
        .map(|p| events.get(p).map(|(_, digest, _)| *digest))
        .collect();
    used.extend(d.evidence.iter().filter(|p| events.contains_key(p)));
    if events.contains_key(&d.policy_position) {
        used.push(d.policy_position);
    }
    let resolves = target.map(|(_, tm, t, th)| {
        (
            DecisionFacts {
                model: tm,
                hash: th,
                index: t.index,
                outcome: t.outcome,
                artifacts: &t.artifacts,
                signer: t.signer,
                resolved: false,
                reviews: &reviews,
            },
            t,
        )
    });
    let case = DecisionCase {
        event: audited,
        key: vouch_rules::CHAIN_KEY,
        position: audited_position,
        head,
        evidence: &evidence,
        policy: events.get(&d.policy_position).map(|(e, _, _)| e),
        resolves,
    };
    let verdict = judge_decision(&case, trust, &mut verifier);
    let signer = trust.name_of(&d.signer).unwrap_or("an untrusted key");
    check(
        "decision",
        verdict.is_ok(),
        match &verdict {
            Ok(hash) => format!(
                "decision {} ({hash}) signed by {signer} (key {}): valid under the rule book, {} events of evidence match",
                d.index,
                vouch_chain::key_id(&d.signer),
                d.evidence.len()
            ),
            Err(v) => v.to_string(),
        },
    );
    let Ok(hash) = verdict else {
        return checks;
    };
    check(
        "promotion",
        d.outcome == DecisionOutcome::Promoted && d.artifacts.contains(&artifact),
        format!(
            "decision {} {} model {model} with artifacts {}",
            d.index,
            d.outcome.as_str(),
            d.artifacts
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    // The decisions after it, up to the head the bundle was made at: each a valid link.
    let mut tip = Tip {
        index: d.index,
        hash,
        decided_at: d.decided_at,
    };
    let mut promoting: BTreeMap<Digest, (&ModelName, DecisionOutcome, Vec<Digest>, u64)> =
        BTreeMap::new();
    promoting.insert(hash, (model, d.outcome, d.artifacts.clone(), d.index));
    let mut next = d.index + 1;
    while let Some((p, e)) = decision_at(next) {
        used.push(p);
        match judge_link(e, vouch_rules::CHAIN_KEY, Some(tip), trust, &mut verifier) {
            Ok((h, nd)) => {
                check(
                    "chain link",
                    true,
                    format!(
                        "decision {} at position {p} follows decision {} (signed by {})",
                        nd.index,
                        tip.index,
                        trust.name_of(&nd.signer).unwrap_or("?")
                    ),
                );
                if let Ok(nm) = vouch_rules::model_of(e) {
                    promoting.insert(h, (nm, nd.outcome, nd.artifacts.clone(), nd.index));
                }
                tip = Tip {
                    index: nd.index,
                    hash: h,
                    decided_at: nd.decided_at,
                };
            }
            Err(v) => {
                check("chain link", false, format!("position {p}: {v}"));
                break;
            }
        }
        next += 1;
    }
    let mut deployed = false;
    for (p, (e, _, key)) in &events {
        if !matches!(e.kind(), Kind::DeploymentSigned | Kind::DeploymentRecorded) {
            continue;
        }
        used.push(*p);
        let cited = match &e.body {
            Body::DeploymentSigned(dep) => dep.decision,
            _ => None,
        };
        let facts = cited.and_then(|c| {
            promoting
                .get(&c)
                .map(|(m, outcome, artifacts, index)| DecisionFacts {
                    model: m,
                    hash: c,
                    index: *index,
                    outcome: *outcome,
                    artifacts,
                    signer: d.signer,
                    resolved: false,
                    reviews: &[],
                })
        });
        let verdict = judge_deployment(e, key, facts, trust, &mut verifier);
        let detail = match (&e.body, &verdict) {
            (Body::DeploymentSigned(dep), Ok(_)) => {
                if dep.artifact == artifact && !dep.forced && dep.decision == Some(hash) {
                    deployed = true;
                }
                format!(
                    "{} of {} to {} at {} by {}",
                    if dep.forced {
                        "forced deployment"
                    } else {
                        "deployment"
                    },
                    dep.artifact,
                    dep.env,
                    dep.deployed_at,
                    trust.name_of(&dep.signer).unwrap_or("?")
                )
            }
            (_, Err(v)) => format!("deployment at position {p}: {v}"),
            _ => unreachable!("only signed deployments are accepted"),
        };
        check("deployment", verdict.is_ok(), detail);
    }
    if !deployed {
        check(
            "deployment",
            false,
            format!(
                "the bundle holds no valid deployment of {artifact} citing decision {}",
                d.index
            ),
        );
    }
    used.sort_unstable();
    used.dedup();
    for (p, (e, _, _)) in &events {
        if used.binary_search(p).is_err() {
            check(
                "record",
                false,
                format!(
                    "the {} record at position {p} is not part of this audit: nothing in it is checked",
                    e.kind()
                ),
            );
        }
    }
    checks
}
