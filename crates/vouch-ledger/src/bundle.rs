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

use vouch_tlog::note::Note;
use vouch_tlog::policy::{evaluate, Policy, PolicyVerdict};
use vouch_tlog::proof::{verify_consistency, verify_inclusion};
use vouch_tlog::tree::leaf_hash;

use crate::release::{chain_key, Check, ReleaseError};
use crate::tree::ProofError;
use crate::trust::TrustedKey;
use crate::Ledger;

/// The bundle format written by this version: v2 plus, optionally, the proofs that its
/// records are in the log a signed checkpoint commits to.
pub const BUNDLE_FORMAT: &str = "vouch-audit-bundle-v3";
/// The format before log proofs; still verified (it carries no `log` or `inclusion`).
pub const BUNDLE_FORMAT_V2: &str = "vouch-audit-bundle-v2";

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
    /// The record's inclusion proof against the bundle's checkpoint (leaf index =
    /// position − 1), base64 hashes; present exactly when the bundle has a `log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<Vec<String>>,
}

/// What ties a bundle's records to the one log everyone sees: a checkpoint signed by the
/// log's key (with whatever witness cosignatures it gathered), and a proof that the log
/// prefix the audited decision pinned is a prefix of that checkpoint's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleLog {
    /// The signed checkpoint note, cosignature lines included.
    pub checkpoint: String,
    /// The consistency proof from the audited decision's log pin (layout 2) to the
    /// checkpoint, base64 hashes; absent for a decision without a pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Vec<String>>,
}

/// A checkpoint the ledger's tree agrees with, to prove a bundle against.
#[derive(Debug, Clone)]
pub struct ProvingCheckpoint {
    /// The signed note, as kept or given (cosignatures included).
    pub note: String,
    /// Its size.
    pub size: u64,
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
    /// The checkpoint and pin proof the inclusion proofs are against (v3, optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<BundleLog>,
}

impl Bundle {
    /// Every key that signed a release record in the bundle, with the name the bundle
    /// gives it: what an auditor without trust is shown.
    pub fn signers(&self) -> Vec<(PublicKeyBytes, String)> {
        let mut out: Vec<(PublicKeyBytes, String)> = Vec::new();
        for r in &self.records {
            let Some(event) =
                vouch_event::parse_hex_bytes(&r.bytes).and_then(|b| vouch_event::decode(&b).ok())
            else {
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
                inclusion: None,
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
            log: None,
        })
    }

    /// Adds to `bundle` the proofs that its records are in the tree `checkpoint` signs:
    /// an inclusion proof per record and, for an audited decision that pins the log
    /// prefix it read, the consistency proof from that prefix to the checkpoint. The
    /// caller has checked that the ledger's tree agrees with the checkpoint.
    ///
    /// # Errors
    /// [`ProofError::PositionOutside`] when a record lies beyond the checkpoint (sign a
    /// newer one), store failures.
    pub fn prove_bundle(
        &self,
        bundle: &mut Bundle,
        checkpoint: &ProvingCheckpoint,
    ) -> Result<(), ProofError> {
        let b64 = |proof: Vec<vouch_tlog::tree::Hash>| -> Vec<String> {
            proof.iter().map(|h| h.to_base64()).collect()
        };
        for record in &mut bundle.records {
            let proof =
                self.inclusion_proof(vouch_log::Position::new(record.position), checkpoint.size)?;
            record.inclusion = Some(b64(proof));
        }
        let pinned = match self.audited_pin(bundle)? {
            Some(size) if size == 0 || size == checkpoint.size => Some(Vec::new()),
            Some(size) => Some(b64(self.consistency_proof(size, checkpoint.size)?)),
            None => None,
        };
        bundle.log = Some(BundleLog {
            checkpoint: checkpoint.note.clone(),
            pinned,
        });
        Ok(())
    }

    /// The log size the audited decision pinned, if it is a layout-2 decision.
    fn audited_pin(&self, bundle: &Bundle) -> Result<Option<u64>, ProofError> {
        Ok(audited_decision(bundle)
            .and_then(|d| pin_of(&d))
            .map(|(size, _)| size))
    }
}

/// The audited decision of a bundle, decoded (the first by position under `chain` with
/// the bundle's index).
fn audited_decision(bundle: &Bundle) -> Option<vouch_event::DecisionRecorded> {
    bundle.records.iter().find_map(|r| {
        if r.key != chain_key().as_str() {
            return None;
        }
        match vouch_event::parse_hex_bytes(&r.bytes)
            .and_then(|b| vouch_event::decode(&b).ok())?
            .body
        {
            Body::DecisionRecorded(d) if d.index == bundle.decision => Some(*d),
            _ => None,
        }
    })
}

/// A decision's log pin: the size and root of the log prefix it read (layout 2).
fn pin_of(d: &vouch_event::DecisionRecorded) -> Option<(u64, vouch_tlog::tree::Hash)> {
    d.log
        .map(|pin| (pin.size, vouch_tlog::tree::Hash(pin.root)))
}

/// Checks a bundle against the auditor's `trust` with the rule book: the audited decision
/// is valid (signature and role of its signer under `trust`, its link to the previous
/// decision, its evidence digest over the included bytes, its policy, and for a promotion
/// a review enacted, the reviews that decide it); every decision after it up to the head
/// is a valid link signed by a trusted key; the artifact's deployments are valid and one
/// cites the audited decision; every record's event id and key match its bytes; and no
/// record is left unchecked.
pub fn verify_bundle(bundle: &Bundle, trust: &Trust) -> Vec<Check> {
    verify_bundle_in_log(bundle, trust, None)
}

/// [`verify_bundle`], and with `log` (the auditor's trusted log key, known witnesses
/// and quorum) also that the bundle's records are in the one log the checkpoint commits
/// to: the checkpoint is signed by a trusted log and cosigned to quorum, every record's
/// inclusion proof reaches its root at the record's position, and the log prefix the
/// audited decision pinned is a prefix of that tree.
pub fn verify_bundle_in_log(bundle: &Bundle, trust: &Trust, log: Option<&Policy>) -> Vec<Check> {
    let mut checks = Vec::new();
    let v3 = bundle.format == BUNDLE_FORMAT;
    let has_proofs = bundle.log.is_some() || bundle.records.iter().any(|r| r.inclusion.is_some());
    if !v3 && (bundle.format != BUNDLE_FORMAT_V2 || has_proofs) {
        checks.push(Check {
            what: "format".into(),
            ok: false,
            detail: if bundle.format == BUNDLE_FORMAT_V2 {
                format!("a {BUNDLE_FORMAT_V2} bundle carries no log proofs, but this one does")
            } else {
                format!(
                    "unknown bundle format `{}` (expected {BUNDLE_FORMAT} or {BUNDLE_FORMAT_V2})",
                    bundle.format
                )
            },
        });
        return checks;
    }
    checks.extend(rule_checks(bundle, trust));
    if let Some(policy) = log {
        log_checks(bundle, policy, &mut checks);
    }
    checks
}

/// The checks of `schemas/audit-bundle.md` that the rule book decides.
fn rule_checks(bundle: &Bundle, trust: &Trust) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |what: &str, ok: bool, detail: String| {
        checks.push(Check {
            what: what.into(),
            ok,
            detail,
        })
    };
    // The artifact by its BLAKE3 digest, or by the sha256 an `artifact_logged` record of
    // the bundle carries (resolved once the records are decoded).
    let named_sha256 = bundle
        .artifact
        .starts_with("sha256:")
        .then(|| vouch_event::Sha256::parse(&bundle.artifact));
    let artifact = match &named_sha256 {
        Some(Ok(_)) => None,
        Some(Err(_)) => {
            check(
                "artifact",
                false,
                format!("`{}` is not a digest", bundle.artifact),
            );
            return checks;
        }
        None => match Digest::parse(&bundle.artifact) {
            Ok(d) => Some(d),
            Err(_) => {
                check(
                    "artifact",
                    false,
                    format!("`{}` is not a digest", bundle.artifact),
                );
                return checks;
            }
        },
    };
    // Every record decoded, with its digest; its event id and key must be the ones its
    // bytes imply (they are outside the bytes a digest or signature covers).
    let mut events: BTreeMap<u64, (Event, Digest, String)> = BTreeMap::new();
    for r in &bundle.records {
        let Some(bytes) = vouch_event::parse_hex_bytes(&r.bytes) else {
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
    let artifact = match (artifact, named_sha256) {
        (Some(d), _) => d,
        (None, Some(Ok(sha256))) => {
            let found = events.values().find_map(|(e, _, _)| match &e.body {
                Body::ArtifactLogged(a) if a.sha256 == Some(sha256) => Some(a.digest),
                _ => None,
            });
            match found {
                Some(d) => d,
                None => {
                    check(
                        "artifact",
                        false,
                        format!(
                            "no artifact_logged record in the bundle carries {}",
                            bundle.artifact
                        ),
                    );
                    return checks;
                }
            }
        }
        _ => unreachable!("a malformed artifact returned above"),
    };
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
        log_root: None,
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

/// The log checks of a v3 bundle against the auditor's log policy.
fn log_checks(bundle: &Bundle, policy: &Policy, checks: &mut Vec<Check>) {
    let mut check = |what: &str, ok: bool, detail: String| {
        checks.push(Check {
            what: what.into(),
            ok,
            detail,
        })
    };
    let Some(log) = &bundle.log else {
        check(
            "checkpoint",
            false,
            "the bundle carries no log proofs: it was written before a checkpoint covered its records (run `vouch checkpoint`, then write the bundle again)".into(),
        );
        return;
    };
    let note = match Note::parse(log.checkpoint.as_bytes()) {
        Ok(note) => note,
        Err(e) => {
            check(
                "checkpoint",
                false,
                format!("the bundle's checkpoint is not a signed note: {e}"),
            );
            return;
        }
    };
    let checkpoint =
        match evaluate(policy, &note) {
            Ok(PolicyVerdict::Accepted {
                checkpoint,
                cosigners,
            }) => {
                check(
                    "checkpoint",
                    true,
                    format!(
                        "log {} at {} records, root {}, signed by the trusted log key{}",
                        checkpoint.origin(),
                        checkpoint.size(),
                        checkpoint.root().to_hex(),
                        if cosigners.is_empty() {
                            String::new()
                        } else {
                            format!(", cosigned by {}", cosigners.join(", "))
                        }
                    ),
                );
                checkpoint
            }
            Ok(PolicyVerdict::QuorumNotMet {
                checkpoint,
                cosigners,
            }) => {
                check(
                    "checkpoint",
                    false,
                    format!(
                    "log {} at {} records: too few witnesses cosigned ({} of the known ones: {})",
                    checkpoint.origin(),
                    checkpoint.size(),
                    cosigners.len(),
                    if cosigners.is_empty() { "none".into() } else { cosigners.join(", ") }
                ),
                );
                return;
            }
            Err(e) => {
                check(
                    "checkpoint",
                    false,
                    format!("the bundle's checkpoint does not verify: {e}"),
                );
                return;
            }
        };
    let (size, root) = (checkpoint.size(), checkpoint.root());
    let mut proven = 0usize;
    for r in &bundle.records {
        let refuse = |reason: String| format!("record at position {}: {reason}", r.position);
        let verdict = (|| {
            let bytes = vouch_event::parse_hex_bytes(&r.bytes)
                .ok_or_else(|| refuse("its bytes are not hex".into()))?;
            let proof = parse_hashes(r.inclusion.as_deref().unwrap_or_default())
                .map_err(|e| refuse(format!("its inclusion proof {e}")))?;
            let Some(index) = r.position.checked_sub(1) else {
                return Err(refuse("positions start at 1".into()));
            };
            if r.inclusion.is_none() {
                return Err(refuse("it carries no inclusion proof".into()));
            }
            verify_inclusion(index, size, &leaf_hash(&bytes), &proof, &root).map_err(|e| {
                refuse(format!(
                    "it is not leaf {index} of the checkpoint's tree of {size} records ({e})"
                ))
            })
        })();
        match verdict {
            Ok(()) => proven += 1,
            Err(detail) => check("inclusion", false, detail),
        }
    }
    if proven == bundle.records.len() {
        check(
            "inclusion",
            true,
            format!("all {proven} records are in the checkpoint's tree, each at its position"),
        );
    }
    let Some(d) = audited_decision(bundle) else {
        return;
    };
    let pinned = log.pinned.as_deref();
    match (pin_of(&d), pinned) {
        (None, None) => {}
        (None, Some(_)) => check(
            "log pin",
            false,
            format!("decision {} pins no log prefix, but the bundle carries a proof for one", d.index),
        ),
        (Some(_), None) => check(
            "log pin",
            false,
            format!("decision {} pins a log prefix, but the bundle carries no proof that it is in the checkpoint's tree", d.index),
        ),
        (Some((pin_size, pin_root)), Some(proof)) => {
            let verdict = parse_hashes(proof).map_err(|e| format!("the pin proof {e}")).and_then(|proof| {
                if pin_size == 0 {
                    return if pin_root == vouch_tlog::tree::EMPTY_ROOT && proof.is_empty() {
                        Ok(())
                    } else {
                        Err("a pin of size 0 carries the empty root and no proof".into())
                    };
                }
                verify_consistency(pin_size, size, &pin_root, &root, &proof).map_err(|e| {
                    format!("the log prefix of {pin_size} records it read (root {}) is not a prefix of the checkpoint's tree of {size} records ({e})", pin_root.to_hex())
                })
            });
            check(
                "log pin",
                verdict.is_ok(),
                match verdict {
                    Ok(()) => format!(
                        "decision {} read a prefix of {pin_size} records of this log (root {})",
                        d.index,
                        pin_root.to_hex()
                    ),
                    Err(e) => format!("decision {}: {e}", d.index),
                },
            );
        }
    }
}

/// Base64 hashes of a proof; at most 64 (a tree of 2^64 leaves needs no more).
fn parse_hashes(text: &[String]) -> Result<Vec<vouch_tlog::tree::Hash>, String> {
    if text.len() > 64 {
        return Err(format!(
            "has {} hashes, more than any tree needs",
            text.len()
        ));
    }
    text.iter()
        .enumerate()
        .map(|(i, h)| {
            vouch_tlog::tree::Hash::from_base64(h)
                .map_err(|e| format!("hash {} is not a base64 SHA-256 hash: {e}", i + 1))
        })
        .collect()
}
