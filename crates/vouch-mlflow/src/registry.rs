//! The model registry: registered models, versions and aliases. Moving an alias a
//! release policy guards (`champion`, `production`) is a promotion: the model's policy
//! is evaluated on the version's run and the signed decision recorded with the server's
//! release key; a failed gate or a pending review refuses the move (403, the gate table
//! in the message) and the alias stays where it was.

use serde::Deserialize;
use serde_json::{json, Value};
use vouch_event::{
    AliasMoved, Body, DecisionOutcome, GateRecord, GateVerdict, ModelName, ModelRegistered,
    ModelVersionCreated, RunId, Subject, Tags, TagsSet,
};
use vouch_ledger::Ledger;
use vouch_views::{RegisteredDoc, VersionDoc, Views};

use crate::filter::{ModelFacts, ModelFilter, VersionFacts, VersionFilter};
use crate::ids::event_id;
use crate::tracking::{append, event, parse, views_error};
use crate::wire::{kv_map, millis, pairs, KeyValue};
use crate::{Caller, ErrorCode, MlflowError, Result};

/// Aliases that move only by promotion.
pub const GUARDED_ALIASES: [&str; 2] = ["champion", "production"];

/// Whether moving `alias` is a promotion.
pub fn is_guarded(alias: &str) -> bool {
    GUARDED_ALIASES.contains(&alias)
}

/// What an alias move needs to promote.
pub struct Promoter<'a> {
    /// The server's release key; none: guarded aliases cannot move.
    pub key: Option<&'a vouch_chain::SigningKey>,
    /// Policies the server was started with, by model (their exact text); a model
    /// without one uses the policy last published for it in the ledger.
    pub policies: &'a std::collections::BTreeMap<ModelName, String>,
}

fn model_name(name: &str) -> Result<ModelName> {
    ModelName::new(name).map_err(|e| MlflowError::invalid(e.to_string()))
}

fn not_found(name: &str) -> MlflowError {
    MlflowError::missing(format!("Registered Model with name={name} not found"))
}

fn find(views: &Views, name: &str) -> Result<RegisteredDoc> {
    let model = ModelName::new(name).map_err(|_| not_found(name))?;
    views
        .registered(&model)
        .map_err(|e| views_error(&e))?
        .ok_or_else(|| not_found(name))
}

fn find_version<'a>(doc: &'a RegisteredDoc, version: &str) -> Result<&'a VersionDoc> {
    version
        .parse::<u64>()
        .ok()
        .and_then(|n| doc.version(n))
        .ok_or_else(|| {
            MlflowError::missing(format!(
                "Model Version (name={}, version={version}) not found",
                doc.name
            ))
        })
}

/// The version an alias names now. A guarded alias follows only moves whose decision
/// promotes the version's run (directly, or once a review approved it); any other move
/// of it, whoever wrote it, is not followed.
pub fn resolve(views: &Views, doc: &RegisteredDoc, alias: &str) -> Result<Option<u64>> {
    let Some(moves) = doc.aliases.get(alias) else {
        return Ok(None);
    };
    for entry in moves.iter().rev() {
        let Some(version) = entry.version else {
            return Ok(None);
        };
        if doc.version(version).is_none() {
            continue;
        }
        if !is_guarded(alias) {
            return Ok(Some(version));
        }
        let Some(hash) = entry.decision else { continue };
        let Some(run) = doc.version(version).and_then(|v| v.run.clone()) else {
            continue;
        };
        if promotes(views, &hash, &doc.name, &run)? {
            return Ok(Some(version));
        }
    }
    Ok(None)
}

/// Whether the decision with `hash` (or the decision that resolved its review) promoted
/// `run` of `model`.
fn promotes(
    views: &Views,
    hash: &vouch_event::Digest,
    model: &ModelName,
    run: &RunId,
) -> Result<bool> {
    let Some(decision) = views.decision_by_hash(hash).map_err(|e| views_error(&e))? else {
        return Ok(false);
    };
    let effective = match (decision.outcome, decision.resolved_by) {
        (DecisionOutcome::Promoted, _) => Some(decision),
        (DecisionOutcome::NeedsReview, Some(index)) => {
            views.decision(index).map_err(|e| views_error(&e))?
        }
        _ => None,
    };
    Ok(effective.is_some_and(|d| {
        d.outcome == DecisionOutcome::Promoted && &d.model == model && &d.run == run
    }))
}

fn aliases_of(
    views: &Views,
    doc: &RegisteredDoc,
    version: Option<u64>,
) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    for alias in doc.aliases.keys() {
        if let Some(v) = resolve(views, doc, alias)? {
            if version.is_none_or(|n| n == v) {
                out.push((alias.clone(), v));
            }
        }
    }
    Ok(out)
}

/// MLflow's ModelVersion object.
pub fn version_json(views: &Views, doc: &RegisteredDoc, v: &VersionDoc) -> Result<Value> {
    let aliases: Vec<String> = aliases_of(views, doc, Some(v.version))?
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let mut out = json!({
        "name": doc.name.as_str(),
        "version": v.version.to_string(),
        "creation_timestamp": millis(v.created),
        "last_updated_timestamp": millis(v.updated),
        "current_stage": "None",
        "description": v.description.clone().unwrap_or_default(),
        "source": v.source,
        "status": "READY",
        "status_message": "",
        "tags": pairs(&v.tags),
        "aliases": aliases,
    });
    if let Some(run) = &v.run {
        out["run_id"] = json!(run.as_str());
    }
    if let Some(id) = &v.model_id {
        out["model_id"] = json!(id);
    }
    Ok(out)
}

/// MLflow's RegisteredModel object.
pub fn model_json(views: &Views, doc: &RegisteredDoc) -> Result<Value> {
    let aliases: Vec<Value> = aliases_of(views, doc, None)?
        .into_iter()
        .map(|(alias, v)| json!({"alias": alias, "version": v.to_string()}))
        .collect();
    let latest: Vec<Value> = doc
        .versions
        .last()
        .map(|v| version_json(views, doc, v))
        .transpose()?
        .into_iter()
        .collect();
    Ok(json!({
        "name": doc.name.as_str(),
        "creation_timestamp": millis(doc.created),
        "last_updated_timestamp": millis(doc.updated),
        "description": doc.description.clone().unwrap_or_default(),
        "tags": pairs(&doc.tags),
        "aliases": aliases,
        "latest_versions": latest,
    }))
}

/// `POST registered-models/create`.
pub fn create_model(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        #[serde(default)]
        tags: Vec<KeyValue>,
        #[serde(default)]
        description: Option<String>,
    }
    let req: Req = parse(body)?;
    let model = model_name(&req.name)?;
    if let Some(doc) = ledger
        .views()
        .registered(&model)
        .map_err(|e| views_error(&e))?
    {
        if doc.registered {
            return Err(MlflowError::new(
                ErrorCode::ResourceAlreadyExists,
                format!("Registered Model (name={}) already exists.", req.name),
            ));
        }
    }
    let e = event(
        caller,
        event_id("registered-model", &[req.name.as_bytes()]),
        caller.now,
        Subject::Model(model),
        Body::ModelRegistered(ModelRegistered {
            description: req.description.filter(|d| !d.is_empty()),
            tags: kv_map(&req.tags),
        }),
    )?;
    append(ledger, &[e])?;
    let doc = find(ledger.views(), &req.name)?;
    Ok(json!({ "registered_model": model_json(ledger.views(), &doc)? }))
}

/// `GET registered-models/get`.
pub fn get_model(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
    }
    let req: Req = parse(body)?;
    let doc = find(views, &req.name)?;
    Ok(json!({ "registered_model": model_json(views, &doc)? }))
}

fn paged(
    items: Vec<Value>,
    max: Option<&Value>,
    token: Option<&str>,
    field: &str,
) -> Result<Value> {
    let max = max
        .and_then(crate::wire::lenient_i64)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(100);
    let offset = crate::wire::page_offset(token)?;
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(offset).take(max).collect();
    let mut out = json!({ field: page });
    if offset + max < total {
        out["next_page_token"] = json!((offset + max).to_string());
    }
    Ok(out)
}

#[derive(Deserialize)]
struct SearchReq {
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    max_results: Option<Value>,
    #[serde(default)]
    page_token: Option<String>,
}

/// `GET registered-models/search`.
pub fn search_models(views: &Views, body: Value) -> Result<Value> {
    let req: SearchReq = parse(body)?;
    let filter = ModelFilter::parse(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| MlflowError::invalid(e.to_string()))?;
    let mut items = Vec::new();
    for doc in views.registered_models().map_err(|e| views_error(&e))? {
        let facts = ModelFacts {
            name: doc.name.as_str(),
            tags: doc
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        };
        if filter.matches(&facts) {
            items.push(model_json(views, &doc)?);
        }
    }
    paged(
        items,
        req.max_results.as_ref(),
        req.page_token.as_deref(),
        "registered_models",
    )
}

/// The run a version's source names, when the request gives none.
fn source_run(views: &Views, source: &str, model_id: Option<&str>) -> Result<Option<RunId>> {
    if let Some(rest) = source.strip_prefix("runs:/") {
        let run = rest.split('/').next().unwrap_or("");
        return Ok(RunId::new(run).ok());
    }
    let id = model_id.or_else(|| source.strip_prefix("models:/"));
    match id {
        Some(id) => Ok(views
            .logged_model(id)
            .map_err(|e| views_error(&e))?
            .map(|m| m.run)),
        None => Ok(None),
    }
}

/// `POST model-versions/create`: the next version of a model (created if new).
pub fn create_version(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        source: String,
        #[serde(default)]
        run_id: Option<String>,
        #[serde(default)]
        tags: Vec<KeyValue>,
        #[serde(default)]
        description: Option<String>,
        #[serde(default)]
        model_id: Option<String>,
    }
    let req: Req = parse(body)?;
    let model = model_name(&req.name)?;
    let views = ledger.views();
    let run = match req.run_id.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => Some(RunId::new(r).map_err(|e| MlflowError::invalid(e.to_string()))?),
        None => source_run(views, &req.source, req.model_id.as_deref())?,
    };
    if let Some(run) = &run {
        if views.run(run).map_err(|e| views_error(&e))?.is_none() {
            return Err(MlflowError::missing(format!("Run with id={run} not found")));
        }
    }
    let doc = views.registered(&model).map_err(|e| views_error(&e))?;
    let version = doc
        .as_ref()
        .and_then(|d| d.versions.last())
        .map_or(1, |v| v.version + 1);
    let e = event(
        caller,
        event_id(
            "model-version",
            &[req.name.as_bytes(), &version.to_le_bytes()],
        ),
        caller.now,
        Subject::Model(model),
        Body::ModelVersionCreated(ModelVersionCreated {
            version,
            source: req.source,
            run,
            model_id: req.model_id.filter(|m| !m.is_empty()),
            description: req.description.filter(|d| !d.is_empty()),
            tags: kv_map(&req.tags),
        }),
    )?;
    append(ledger, &[e])?;
    let doc = find(ledger.views(), &req.name)?;
    let v = find_version(&doc, &version.to_string())?;
    Ok(json!({ "model_version": version_json(ledger.views(), &doc, v)? }))
}

#[derive(Deserialize)]
struct VersionReq {
    name: String,
    version: Value,
}

fn version_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `GET model-versions/get`.
pub fn get_version(views: &Views, body: Value) -> Result<Value> {
    let req: VersionReq = parse(body)?;
    let doc = find(views, &req.name)?;
    let v = find_version(&doc, &version_text(&req.version))?;
    Ok(json!({ "model_version": version_json(views, &doc, v)? }))
}

/// `GET model-versions/get-download-uri`.
pub fn download_uri(views: &Views, body: Value) -> Result<Value> {
    let req: VersionReq = parse(body)?;
    let doc = find(views, &req.name)?;
    let v = find_version(&doc, &version_text(&req.version))?;
    let uri = match &v.model_id {
        Some(id) => format!("models:/{id}"),
        None => v.source.clone(),
    };
    Ok(json!({ "artifact_uri": uri }))
}

/// `GET model-versions/search`.
pub fn search_versions(views: &Views, body: Value) -> Result<Value> {
    let req: SearchReq = parse(body)?;
    let filter = VersionFilter::parse(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| MlflowError::invalid(e.to_string()))?;
    let mut items = Vec::new();
    for doc in views.registered_models().map_err(|e| views_error(&e))? {
        for v in doc.versions.iter().rev() {
            let facts = VersionFacts {
                name: doc.name.as_str(),
                version: v.version,
                run_id: v.run.as_ref().map(RunId::as_str),
                source: &v.source,
                tags: v
                    .tags
                    .iter()
                    .map(|(k, t)| (k.as_str(), t.as_str()))
                    .collect(),
            };
            if filter.matches(&facts) {
                items.push(version_json(views, &doc, v)?);
            }
        }
    }
    paged(
        items,
        req.max_results.as_ref(),
        req.page_token.as_deref(),
        "model_versions",
    )
}

/// `POST model-versions/set-tag` and `registered-models/set-tag`.
pub fn set_tag(
    ledger: &mut Ledger,
    caller: &Caller,
    body: Value,
    of_version: bool,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        #[serde(default)]
        version: Option<Value>,
        key: String,
        #[serde(default)]
        value: String,
    }
    let req: Req = parse(body)?;
    let doc = find(ledger.views(), &req.name)?;
    let (version, current) = if of_version {
        let text = req.version.as_ref().map(version_text).unwrap_or_default();
        let v = find_version(&doc, &text)?;
        (Some(v.version), v.tags.get(&req.key).cloned())
    } else {
        (None, doc.tags.get(&req.key).cloned())
    };
    if current.as_deref() == Some(req.value.as_str()) {
        return Ok(json!({}));
    }
    // The id names the state the change follows: a retry is a duplicate, a change back
    // and forth a new fact.
    let e = event(
        caller,
        event_id(
            "registry-tag",
            &[
                req.name.as_bytes(),
                &version.unwrap_or(0).to_le_bytes(),
                req.key.as_bytes(),
                req.value.as_bytes(),
                &doc.last_position.to_le_bytes(),
            ],
        ),
        caller.now,
        Subject::Model(doc.name.clone()),
        Body::TagsSet(TagsSet {
            set: Tags::from([(req.key, req.value)]),
            deleted: Vec::new(),
            version,
        }),
    )?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

fn gate_table(gates: &[GateRecord]) -> String {
    let mut out = String::new();
    for g in gates {
        let verdict = match g.verdict {
            GateVerdict::Pass => "pass",
            GateVerdict::Fail => "FAIL",
            GateVerdict::Review => "review",
        };
        let value = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"));
        out.push_str(&format!(
            "\n  {verdict:<6} {:<28} candidate {} baseline {} threshold {}: {}",
            g.gate,
            value(g.candidate),
            value(g.baseline),
            g.threshold,
            g.reason
        ));
    }
    out
}

/// The text of the release policy most recently published for `model`.
fn policy_text(ledger: &Ledger, model: &ModelName) -> Result<String> {
    let entry = ledger
        .views()
        .latest_policy(model)
        .map_err(|e| views_error(&e))?
        .ok_or_else(|| {
            MlflowError::new(
                ErrorCode::PermissionDenied,
                format!(
                    "no release policy governs model {model}: a guarded alias moves only by \
                     promotion (start the server with `--policy FILE` for it)"
                ),
            )
        })?;
    let record = ledger
        .log()
        .read(vouch_log::Position::new(entry.position), 1)
        .map_err(|e| MlflowError::ledger(vouch_app::failure::log_failure(&e), &e))?
        .into_iter()
        .next()
        .ok_or_else(|| {
            MlflowError::new(ErrorCode::InternalError, "the policy record is missing")
        })?;
    match vouch_event::decode(&record.bytes).map(|e| e.body) {
        Ok(Body::PolicyPublished(p)) => Ok(p.text),
        _ => Err(MlflowError::new(
            ErrorCode::InternalError,
            "the policy record does not decode",
        )),
    }
}

/// `POST registered-models/alias`: an unguarded alias moves; a guarded one moves only
/// when the model's policy promotes the version's run.
pub fn set_alias(
    ledger: &mut Ledger,
    caller: &Caller,
    promoter: &Promoter<'_>,
    body: Value,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        alias: String,
        version: Value,
    }
    let req: Req = parse(body)?;
    vouch_event::check_alias(&req.alias).map_err(MlflowError::invalid)?;
    let doc = find(ledger.views(), &req.name)?;
    let v = find_version(&doc, &version_text(&req.version))?.clone();
    if resolve(ledger.views(), &doc, &req.alias)? == Some(v.version) {
        return Ok(json!({}));
    }
    let mut decision = None;
    if is_guarded(&req.alias) {
        let refuse = |message: String| MlflowError::new(ErrorCode::PermissionDenied, message);
        let Some(run) = v.run.clone() else {
            return Err(refuse(format!(
                "alias `{}` is guarded by the release policy, and version {} names no run \
                 to evaluate",
                req.alias, v.version
            )));
        };
        let Some(key) = promoter.key else {
            return Err(refuse(format!(
                "alias `{}` is guarded by the release policy: moving it is a promotion, and \
                 this server has no release key (`vouch serve --release-key FILE`)",
                req.alias
            )));
        };
        let text = match promoter.policies.get(&doc.name) {
            Some(text) => text.clone(),
            None => policy_text(ledger, &doc.name)?,
        };
        let promoted = vouch_app::promote::promote(
            ledger,
            &doc.name,
            &run,
            text,
            key,
            &caller.producer,
            caller.now,
        )
        .map_err(|e| MlflowError::ledger(vouch_app::failure::promote_failure(&e), e))?;
        let table = gate_table(&promoted.evaluated.gated.evaluation.records());
        let hash = promoted.recorded.hash;
        match promoted.outcome {
            DecisionOutcome::Promoted => decision = Some(hash),
            DecisionOutcome::Rejected => {
                return Err(refuse(format!(
                    "alias `{}` not moved: the release policy rejected version {} (run {run}); \
                     decision {hash}:{table}",
                    req.alias, v.version
                )))
            }
            DecisionOutcome::NeedsReview => {
                let e = alias_event(caller, &doc, &req.alias, v.version, Some(hash))?;
                append(ledger, &[e])?;
                return Err(refuse(format!(
                    "alias `{}` not moved yet: version {} (run {run}) needs a review; decision \
                     {hash}. Once reviewers approve it (`vouch review approve --decision {} \
                     --key REVIEWER.key --reason …`) and a release key enacts it, the alias \
                     names version {}.{table}",
                    req.alias,
                    v.version,
                    &hash.hex()[..12],
                    v.version
                )));
            }
        }
    }
    let e = alias_event(caller, &doc, &req.alias, v.version, decision)?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

fn alias_event(
    caller: &Caller,
    doc: &RegisteredDoc,
    alias: &str,
    version: u64,
    decision: Option<vouch_event::Digest>,
) -> Result<vouch_event::Event> {
    let moves = doc.aliases.get(alias).map_or(0, Vec::len) as u64;
    let decision_bytes = decision.map(|d| *d.as_bytes()).unwrap_or_default();
    event(
        caller,
        event_id(
            "alias",
            &[
                doc.name.as_str().as_bytes(),
                alias.as_bytes(),
                &version.to_le_bytes(),
                &moves.to_le_bytes(),
                &decision_bytes,
            ],
        ),
        caller.now,
        Subject::Model(doc.name.clone()),
        Body::AliasMoved(AliasMoved {
            alias: alias.to_owned(),
            version: Some(version),
            decision,
        }),
    )
}

/// `GET registered-models/alias`.
pub fn get_alias(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        alias: String,
    }
    let req: Req = parse(body)?;
    let doc = find(views, &req.name)?;
    let version = resolve(views, &doc, &req.alias)?.ok_or_else(|| {
        MlflowError::missing(format!("Registered model alias {} not found.", req.alias))
    })?;
    let v = find_version(&doc, &version.to_string())?;
    Ok(json!({ "model_version": version_json(views, &doc, v)? }))
}

/// `DELETE registered-models/alias` (the name and alias in a JSON body). A guarded
/// alias is not removed: it leaves production only by another promotion.
pub fn delete_alias(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        alias: String,
    }
    let req: Req = parse(body)?;
    let doc = find(ledger.views(), &req.name)?;
    if is_guarded(&req.alias) {
        return Err(MlflowError::new(
            ErrorCode::PermissionDenied,
            format!(
                "alias `{}` is guarded by the release policy: it moves only by promotion and \
                 is never removed",
                req.alias
            ),
        ));
    }
    if resolve(ledger.views(), &doc, &req.alias)?.is_none() {
        return Ok(json!({}));
    }
    let moves = doc.aliases.get(&req.alias).map_or(0, Vec::len) as u64;
    let e = event(
        caller,
        event_id(
            "alias-delete",
            &[
                req.name.as_bytes(),
                req.alias.as_bytes(),
                &moves.to_le_bytes(),
            ],
        ),
        caller.now,
        Subject::Model(doc.name.clone()),
        Body::AliasMoved(AliasMoved {
            alias: req.alias,
            version: None,
            decision: None,
        }),
    )?;
    append(ledger, &[e])?;
    Ok(json!({}))
}
