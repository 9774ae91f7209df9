//! The registry: models, their promoted versions in order, who approved each and on what
//! evidence, and where each is deployed. What `vouch registry` prints and
//! `GET /api/v1/registry` answers.

use std::collections::BTreeMap;

use vouch_event::{ModelName, ReviewVerdict};
use vouch_ledger::{Ledger, ReleaseError, Trust};
use vouch_views::{DecisionEntry, Views};

/// One promoted version, with who approved it and on what evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct VersionRow {
    /// The decision that promoted it.
    #[serde(flatten)]
    pub decision: DecisionEntry,
    /// `v1`, `v2`, … in promotion order.
    pub version: String,
    /// Whether it is the production version.
    pub production: bool,
    /// The reviewer who approved it, or the name (else key id) of the signer.
    pub approved_by: String,
    /// How many events the decision read, at which log position, and their digest.
    pub evidence: serde_json::Value,
    /// Environments whose latest deployment is this version.
    pub deployed_to: Vec<String>,
}

/// One model in the registry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelEntry {
    /// Its name.
    pub model: ModelName,
    /// The production decision's index, if any.
    pub production: Option<u64>,
    /// Every promoted version, oldest first.
    pub versions: Vec<VersionRow>,
    /// Every deployment, in log order.
    pub deployments: Vec<vouch_views::DeploymentEntry>,
    /// Every decision index about the model.
    pub decisions: Vec<u64>,
}

/// Why the registry could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The model asked for has no decisions.
    #[error("model {0} has no decisions")]
    UnknownModel(ModelName),
    /// The ledger failed.
    #[error(transparent)]
    Release(#[from] ReleaseError),
}

impl From<vouch_views::ViewsError> for RegistryError {
    fn from(e: vouch_views::ViewsError) -> Self {
        RegistryError::Release(e.into())
    }
}

/// The registry as `views` hold it (the current views, or views as of an earlier
/// position), every model or only `model`.
///
/// # Errors
/// [`RegistryError::UnknownModel`] when `model` has no decisions; otherwise when the log
/// or the views fail.
pub fn registry(
    ledger: &Ledger,
    views: &Views,
    model: Option<&ModelName>,
) -> Result<Vec<ModelEntry>, RegistryError> {
    let trust = ledger.trust();
    let mut models = views.models()?;
    if let Some(m) = model {
        models.retain(|d| &d.model == m);
        if models.is_empty() {
            return Err(RegistryError::UnknownModel(m.clone()));
        }
    }
    let mut out = Vec::with_capacity(models.len());
    for m in models {
        // The latest deployment per environment.
        let mut latest: BTreeMap<&str, &vouch_views::DeploymentEntry> = BTreeMap::new();
        for d in &m.deployments {
            latest.insert(d.env.as_str(), d);
        }
        let mut versions = Vec::new();
        for (n, &index) in m.versions.iter().enumerate() {
            let Some(d) = views.decision(index)? else {
                continue;
            };
            let record = ledger.decision_record(&d)?;
            let approved_by = approver(views, trust, &d)?;
            let deployed_to = latest
                .iter()
                .filter(|(_, dep)| dep.decision == Some(d.hash))
                .map(|(env, _)| (*env).to_owned())
                .collect();
            versions.push(VersionRow {
                version: format!("v{}", n + 1),
                production: m.production == Some(d.index),
                approved_by,
                evidence: serde_json::json!({
                    "events": record.evidence.len(),
                    "evaluated_at": record.evaluated_at,
                    "digest": record.evidence_digest,
                }),
                deployed_to,
                decision: d,
            });
        }
        out.push(ModelEntry {
            model: m.model.clone(),
            production: m.production,
            versions,
            deployments: m.deployments.clone(),
            decisions: m.decisions.clone(),
        });
    }
    Ok(out)
}

/// Who approved decision `d`: the last approving reviewer of the decision it resolves,
/// else its signer, named by trust (else by key id).
///
/// # Errors
/// When the views fail.
pub fn approver(
    views: &Views,
    trust: &Trust,
    d: &DecisionEntry,
) -> Result<String, vouch_views::ViewsError> {
    if let Some(resolved) = &d.resolves {
        if let Some(original) = views.decision_by_hash(resolved)? {
            if let Some(review) = original
                .reviews
                .iter()
                .rev()
                .find(|r| r.verdict == ReviewVerdict::Approve)
            {
                let name = trust
                    .name_of(&review.signer_key)
                    .map_or_else(|| format!("key {}", review.signer), str::to_owned);
                return Ok(format!("{name}, by review"));
            }
        }
    }
    Ok(trust
        .name_of(&d.signer_key)
        .map_or_else(|| format!("key {}", d.signer), str::to_owned))
}
