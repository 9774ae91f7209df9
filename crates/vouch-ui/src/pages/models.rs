//! `/models` and `/models/{model}`: the registry as `vouch registry` reports it
//! ([`vouch_app::registry`]): promoted versions with who approved them, the production
//! version, where each environment runs what (forced deployments marked), every decision
//! about the model; and, for models registered through MLflow, their versions and alias
//! moves, each alias resolved as the MLflow API resolves it
//! ([`vouch_mlflow::registry::resolve`]).

use std::collections::BTreeMap;

use askama::Template;
use vouch_app::as_of::At;
use vouch_app::failure::{release_failure, views_failure, Failure};
use vouch_app::registry::{ModelEntry, RegistryError};
use vouch_event::{DecisionOutcome, Digest, ModelName};
use vouch_ledger::Trust;
use vouch_views::{DeploymentEntry, RegisteredDoc, Views};

use super::{short, when};
use crate::{Html, Result, UiError};

fn views_error(e: vouch_views::ViewsError) -> UiError {
    UiError::new(views_failure(&e), e)
}

fn registry_error(e: RegistryError) -> UiError {
    let failure = match &e {
        RegistryError::UnknownModel(_) => Failure::Unknown,
        RegistryError::Release(r) => release_failure(r),
        _ => Failure::Internal,
    };
    UiError::new(failure, e)
}

fn mlflow_error(e: vouch_mlflow::MlflowError) -> UiError {
    UiError::new(Failure::Internal, e)
}

/// Who signed a record: the trust list's name for the key, else its id.
fn named(trust: &Trust, key: &vouch_event::PublicKeyBytes, id: &str) -> String {
    trust
        .name_of(key)
        .map_or_else(|| format!("key {id}"), str::to_owned)
}

fn outcome_class(outcome: DecisionOutcome) -> &'static str {
    match outcome {
        DecisionOutcome::Promoted => "ok",
        DecisionOutcome::Rejected => "bad",
        DecisionOutcome::NeedsReview => "warn",
    }
}

struct ModelRow {
    model: String,
    versions: usize,
    production: Option<String>,
    /// Environment → the version (or artifact) running there, forced or not.
    environments: Vec<(String, String, bool)>,
    decisions: usize,
    registered: Option<usize>,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage<'a> {
    nav: &'a str,
    rows: Vec<ModelRow>,
}

struct Version {
    version: String,
    production: bool,
    index: u64,
    hash: String,
    run: String,
    artifacts: Vec<(String, String)>,
    decided: String,
    approved_by: String,
    deployed_to: Vec<String>,
    outcome: &'static str,
}

struct Deployment {
    env: String,
    artifact: String,
    artifact_short: String,
    version: String,
    decision: Option<(u64, String)>,
    time: String,
    deployer: String,
    forced: bool,
    reason: String,
    position: u64,
}

struct Decision {
    index: u64,
    hash: String,
    short: String,
    outcome: &'static str,
    class: &'static str,
    run: String,
    time: String,
}

struct MlflowVersion {
    version: u64,
    run: String,
    source: String,
    created: String,
    aliases: Vec<String>,
}

struct AliasMove {
    alias: String,
    version: String,
    decision: Option<(String, String)>,
    time: String,
    position: u64,
    in_force: bool,
}

/// A model's MLflow registration as the page shows it.
struct Mlflow {
    versions: Vec<MlflowVersion>,
    /// Alias → the version it resolves to now.
    aliases: Vec<(String, Option<u64>)>,
    moves: Vec<AliasMove>,
}

#[derive(Template)]
#[template(path = "model.html")]
struct ModelPage<'a> {
    nav: &'a str,
    model: String,
    production: Option<String>,
    versions: Vec<Version>,
    current: Vec<Deployment>,
    deployments: Vec<Deployment>,
    decisions: Vec<Decision>,
    registered: bool,
    mlflow_versions: Vec<MlflowVersion>,
    /// Alias → the version it resolves to now.
    aliases: Vec<(String, Option<u64>)>,
    alias_moves: Vec<AliasMove>,
}

/// Renders the list of models: every model with decisions, and every model registered
/// through MLflow.
///
/// # Errors
/// When the views or the log fail, or the page does not render.
pub fn render_list(at: &At<'_>) -> Result<Html> {
    let views = at.views();
    let entries =
        vouch_app::registry::registry(at.ledger(), views, None).map_err(registry_error)?;
    let mut rows: BTreeMap<String, ModelRow> = BTreeMap::new();
    for e in &entries {
        let (_, current) = deployments(at.ledger().trust(), e);
        rows.insert(
            e.model.to_string(),
            ModelRow {
                model: e.model.to_string(),
                versions: e.versions.len(),
                production: e
                    .versions
                    .iter()
                    .find(|v| v.production)
                    .map(|v| v.version.clone()),
                environments: current
                    .into_iter()
                    .map(|d| {
                        let label = if d.version.is_empty() {
                            d.artifact_short
                        } else {
                            d.version
                        };
                        (d.env, label, d.forced)
                    })
                    .collect(),
                decisions: e.decisions.len(),
                registered: None,
            },
        );
    }
    for doc in views.registered_models().map_err(views_error)? {
        let row = rows
            .entry(doc.name.to_string())
            .or_insert_with(|| ModelRow {
                model: doc.name.to_string(),
                versions: 0,
                production: None,
                environments: Vec::new(),
                decisions: 0,
                registered: None,
            });
        row.registered = Some(doc.versions.len());
    }
    let body = ModelsPage {
        nav: "models",
        rows: rows.into_values().collect(),
    }
    .render()?;
    Ok(Html::ok(body))
}

/// Every deployment of `entry`, in log order, and the latest per environment.
fn deployments(trust: &Trust, entry: &ModelEntry) -> (Vec<Deployment>, Vec<Deployment>) {
    let versions: BTreeMap<Digest, (&str, u64)> = entry
        .versions
        .iter()
        .map(|v| (v.decision.hash, (v.version.as_str(), v.decision.index)))
        .collect();
    let row = |d: &DeploymentEntry| {
        let promoted = d.decision.as_ref().and_then(|h| versions.get(h));
        Deployment {
            env: d.env.clone(),
            artifact: d.artifact.to_string(),
            artifact_short: short(&d.artifact.hex()),
            version: promoted.map(|(v, _)| (*v).to_owned()).unwrap_or_default(),
            decision: d
                .decision
                .as_ref()
                .map(|h| (promoted.map_or(u64::MAX, |(_, i)| *i), h.hex())),
            time: when(d.time),
            deployer: named(trust, &d.signer_key, &d.signer),
            forced: d.forced,
            reason: d.reason.clone().unwrap_or_default(),
            position: d.position,
        }
    };
    let all: Vec<Deployment> = entry.deployments.iter().map(row).collect();
    let mut latest: BTreeMap<&str, &DeploymentEntry> = BTreeMap::new();
    for d in &entry.deployments {
        latest.insert(d.env.as_str(), d);
    }
    let current = latest.values().map(|d| row(d)).collect();
    (all, current)
}

/// The MLflow registry's versions and alias moves of `doc`, each alias resolved as the
/// MLflow API resolves it.
fn mlflow(views: &Views, doc: &RegisteredDoc) -> Result<Mlflow> {
    let mut aliases = Vec::new();
    for alias in doc.aliases.keys() {
        let resolved = vouch_mlflow::registry::resolve(views, doc, alias).map_err(mlflow_error)?;
        aliases.push((alias.clone(), resolved));
    }
    let versions = doc
        .versions
        .iter()
        .map(|v| MlflowVersion {
            version: v.version,
            run: v.run.as_ref().map(ToString::to_string).unwrap_or_default(),
            source: v.source.clone(),
            created: when(v.created),
            aliases: aliases
                .iter()
                .filter(|(_, r)| *r == Some(v.version))
                .map(|(a, _)| a.clone())
                .collect(),
        })
        .collect();
    let mut moves = Vec::new();
    for (alias, entries) in &doc.aliases {
        let resolved = aliases
            .iter()
            .find(|(a, _)| a == alias)
            .and_then(|(_, r)| *r);
        // The move in force: the latest one naming the version the alias resolves to.
        let in_force = entries
            .iter()
            .rposition(|m| m.version.is_some() && m.version == resolved);
        for (i, m) in entries.iter().enumerate() {
            let decision = match &m.decision {
                Some(hash) => Some(match views.decision_by_hash(hash).map_err(views_error)? {
                    Some(d) => (
                        hash.hex(),
                        format!("decision {} ({})", d.index, d.outcome.as_str()),
                    ),
                    None => (hash.hex(), "a decision the chain does not hold".to_owned()),
                }),
                None => None,
            };
            moves.push(AliasMove {
                alias: alias.clone(),
                version: m
                    .version
                    .map_or_else(|| "removed".to_owned(), |v| v.to_string()),
                decision,
                time: when(m.time),
                position: m.position,
                in_force: in_force == Some(i),
            });
        }
    }
    Ok(Mlflow {
        versions,
        aliases,
        moves,
    })
}

/// Renders the page of `model`: its registry entry and MLflow registration.
///
/// # Errors
/// 404 when the ledger knows no such model; otherwise when the views or the log fail, or
/// the page does not render.
pub fn render(at: &At<'_>, model: &str) -> Result<Html> {
    let unknown = || UiError::new(Failure::Unknown, format!("no model {model}"));
    let name = ModelName::new(model).map_err(|_| unknown())?;
    let ledger = at.ledger();
    let views = at.views();
    let trust = ledger.trust();
    let entry = match vouch_app::registry::registry(ledger, views, Some(&name)) {
        Ok(mut e) => e.pop(),
        Err(RegistryError::UnknownModel(_)) => None,
        Err(e) => return Err(registry_error(e)),
    };
    let registered = views.registered(&name).map_err(views_error)?;
    if entry.is_none() && registered.is_none() {
        return Err(unknown());
    }
    let mut page = ModelPage {
        nav: "models",
        model: name.to_string(),
        production: None,
        versions: Vec::new(),
        current: Vec::new(),
        deployments: Vec::new(),
        decisions: Vec::new(),
        registered: registered.is_some(),
        mlflow_versions: Vec::new(),
        aliases: Vec::new(),
        alias_moves: Vec::new(),
    };
    if let Some(e) = &entry {
        page.versions = e
            .versions
            .iter()
            .rev()
            .map(|v| Version {
                version: v.version.clone(),
                production: v.production,
                index: v.decision.index,
                hash: v.decision.hash.hex(),
                run: v.decision.run.to_string(),
                artifacts: v
                    .decision
                    .artifacts
                    .iter()
                    .map(|a| (a.to_string(), short(&a.hex())))
                    .collect(),
                decided: when(v.decision.decided_at),
                approved_by: v.approved_by.clone(),
                deployed_to: v.deployed_to.clone(),
                outcome: v.decision.outcome.as_str(),
            })
            .collect();
        page.production = e
            .versions
            .iter()
            .find(|v| v.production)
            .map(|v| v.version.clone());
        let (all, current) = deployments(trust, e);
        page.deployments = all.into_iter().rev().collect();
        page.current = current;
        for &index in e.decisions.iter().rev() {
            if let Some(d) = views.decision(index).map_err(views_error)? {
                page.decisions.push(Decision {
                    index: d.index,
                    hash: d.hash.hex(),
                    short: short(&d.hash.hex()),
                    outcome: d.outcome.as_str(),
                    class: outcome_class(d.outcome),
                    run: d.run.to_string(),
                    time: when(d.decided_at),
                });
            }
        }
    }
    if let Some(doc) = &registered {
        let m = mlflow(views, doc)?;
        page.mlflow_versions = m.versions;
        page.aliases = m.aliases;
        page.alias_moves = m.moves;
    }
    Ok(Html::ok(page.render()?))
}
