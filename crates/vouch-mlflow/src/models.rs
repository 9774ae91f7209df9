//! Logged models (MLflow 3's `log_model`): created by a run, their files uploaded under
//! their own artifact root, then finalized.

use serde::Deserialize;
use serde_json::{json, Value};
use vouch_event::{Body, LoggedModelCreated, LoggedModelUpdated, ModelStatus, Subject, Tags};
use vouch_ledger::Ledger;
use vouch_views::{LoggedModelDoc, Views};

use crate::filter::{LoggedModelFacts, LoggedModelFilter};
use crate::ids::{event_id, hash};
use crate::tracking::{append, event, experiment_id, parse, views_error};
use crate::wire::{kv_map, millis, model_artifact_uri, page_offset, pairs, KeyValue};
use crate::{Caller, MlflowError, Result};

fn status_name(status: ModelStatus) -> &'static str {
    match status {
        ModelStatus::Pending => "LOGGED_MODEL_PENDING",
        ModelStatus::Ready => "LOGGED_MODEL_READY",
        ModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
    }
}

fn parse_status(text: &str) -> Result<ModelStatus> {
    match text {
        "LOGGED_MODEL_PENDING" => Ok(ModelStatus::Pending),
        "LOGGED_MODEL_READY" => Ok(ModelStatus::Ready),
        "LOGGED_MODEL_UPLOAD_FAILED" => Ok(ModelStatus::UploadFailed),
        other => Err(MlflowError::invalid(format!(
            "logged model status `{other}` is not LOGGED_MODEL_PENDING, LOGGED_MODEL_READY \
             or LOGGED_MODEL_UPLOAD_FAILED"
        ))),
    }
}

/// The experiment id of the run that logged `doc`.
fn experiment_of(views: &Views, doc: &LoggedModelDoc) -> Result<String> {
    Ok(views
        .run(&doc.run)
        .map_err(|e| views_error(&e))?
        .and_then(|r| r.experiment().map(experiment_id))
        .unwrap_or_else(|| "0".to_owned()))
}

/// MLflow's LoggedModel object.
pub fn model_json(views: &Views, doc: &LoggedModelDoc) -> Result<Value> {
    let registrations: Vec<Value> = views
        .registered_models()
        .map_err(|e| views_error(&e))?
        .iter()
        .flat_map(|m| {
            m.versions
                .iter()
                .filter(|v| v.model_id.as_deref() == Some(doc.model_id.as_str()))
                .map(|v| json!({"name": m.name.as_str(), "version": v.version.to_string()}))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut info = json!({
        "model_id": doc.model_id,
        "experiment_id": experiment_of(views, doc)?,
        "name": doc.name,
        "artifact_uri": model_artifact_uri(&doc.model_id),
        "creation_timestamp_ms": millis(doc.created),
        "last_updated_timestamp_ms": millis(doc.updated),
        "status": status_name(doc.status),
        "source_run_id": doc.run.as_str(),
        "status_message": "",
        "tags": pairs(&doc.tags),
        "registrations": registrations,
    });
    if let Some(t) = &doc.model_type {
        info["model_type"] = json!(t);
    }
    Ok(json!({"info": info, "data": {"params": pairs(&doc.params), "metrics": []}}))
}

fn find(views: &Views, model_id: &str) -> Result<LoggedModelDoc> {
    views
        .logged_model(model_id)
        .map_err(|e| views_error(&e))?
        .ok_or_else(|| MlflowError::missing(format!("Logged model with ID '{model_id}' not found")))
}

/// `POST logged-models`: a model the source run is producing; its files follow.
pub fn create(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        source_run_id: Option<String>,
        #[serde(default)]
        model_type: Option<String>,
        #[serde(default)]
        tags: Vec<KeyValue>,
        #[serde(default)]
        params: Vec<KeyValue>,
    }
    let req: Req = parse(body)?;
    let Some(run) = req.source_run_id.filter(|r| !r.is_empty()) else {
        return Err(MlflowError::invalid(
            "Vouch records a logged model as evidence of the run that produced it: \
             log the model inside a run (`with mlflow.start_run(): …log_model(…)`)",
        ));
    };
    let doc = crate::tracking::find_active_run(ledger.views(), &run)?;
    let name = req
        .name
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "model".to_owned());
    let tags = kv_map(&req.tags);
    let params = kv_map(&req.params);
    // One model per (run, name, params, tags, models the run already has): a retry after
    // the first create landed makes a second pending model, as MLflow's server does.
    let encoded = serde_json::to_vec(&(&name, &tags, &params)).expect("serializes");
    let count = doc.model_outputs.len().to_le_bytes();
    let model_id = format!(
        "m-{}",
        &hash(&[doc.run.as_str().as_bytes(), &encoded, &count])[..32]
    );
    let e = event(
        caller,
        event_id("logged-model", &[model_id.as_bytes()]),
        caller.now,
        Subject::Run(doc.run.clone()),
        Body::LoggedModelCreated(LoggedModelCreated {
            model_id: model_id.clone(),
            name,
            model_type: req.model_type.filter(|t| !t.is_empty()),
            params,
            tags,
        }),
    )?;
    append(ledger, &[e])?;
    let doc = find(ledger.views(), &model_id)?;
    Ok(json!({ "model": model_json(ledger.views(), &doc)? }))
}

/// `GET logged-models/{id}`.
pub fn get(views: &Views, model_id: &str) -> Result<Value> {
    let doc = find(views, model_id)?;
    Ok(json!({ "model": model_json(views, &doc)? }))
}

/// Appends a change of a logged model unless it changes nothing.
fn update(
    ledger: &mut Ledger,
    caller: &Caller,
    doc: &LoggedModelDoc,
    change: LoggedModelUpdated,
) -> Result<()> {
    let encoded = serde_json::to_vec(&change).expect("serializes");
    let at = doc.updated.unix_nanos().to_le_bytes();
    let e = event(
        caller,
        event_id(
            "logged-model-update",
            &[doc.model_id.as_bytes(), &encoded, &at],
        ),
        caller.now,
        Subject::Run(doc.run.clone()),
        Body::LoggedModelUpdated(change),
    )?;
    append(ledger, &[e])
}

/// `PATCH logged-models/{id}`: finalize (status READY or UPLOAD_FAILED).
pub fn finalize(
    ledger: &mut Ledger,
    caller: &Caller,
    model_id: &str,
    body: Value,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        status: String,
    }
    let req: Req = parse(body)?;
    let status = parse_status(&req.status)?;
    let doc = find(ledger.views(), model_id)?;
    if doc.status != status {
        let change = LoggedModelUpdated {
            model_id: model_id.to_owned(),
            status: Some(status),
            ..LoggedModelUpdated::default()
        };
        update(ledger, caller, &doc, change)?;
    }
    get(ledger.views(), model_id)
}

/// `PATCH logged-models/{id}/tags`.
pub fn set_tags(
    ledger: &mut Ledger,
    caller: &Caller,
    model_id: &str,
    body: Value,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        tags: Vec<KeyValue>,
    }
    let req: Req = parse(body)?;
    let doc = find(ledger.views(), model_id)?;
    let tags: Tags = kv_map(&req.tags)
        .into_iter()
        .filter(|(k, v)| doc.tags.get(k) != Some(v))
        .collect();
    if !tags.is_empty() {
        let change = LoggedModelUpdated {
            model_id: model_id.to_owned(),
            tags,
            ..LoggedModelUpdated::default()
        };
        update(ledger, caller, &doc, change)?;
    }
    get(ledger.views(), model_id)
}

/// `POST logged-models/{id}/params`: params beyond the first hundred.
pub fn log_params(
    ledger: &mut Ledger,
    caller: &Caller,
    model_id: &str,
    body: Value,
) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        params: Vec<KeyValue>,
    }
    let req: Req = parse(body)?;
    let doc = find(ledger.views(), model_id)?;
    let params: Tags = kv_map(&req.params)
        .into_iter()
        .filter(|(k, _)| !doc.params.contains_key(k))
        .collect();
    if !params.is_empty() {
        let change = LoggedModelUpdated {
            model_id: model_id.to_owned(),
            params,
            ..LoggedModelUpdated::default()
        };
        update(ledger, caller, &doc, change)?;
    }
    Ok(json!({}))
}

/// `POST runs/outputs`: the run records logged models as its outputs.
pub fn log_outputs(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        models: Vec<crate::wire::ModelRefIn>,
    }
    let run = crate::tracking::find_active_run_in(ledger.views(), &body)?;
    let req: Req = parse(body)?;
    for m in req.models {
        let doc = find(ledger.views(), &m.model_id)?;
        if doc.run != run.run {
            return Err(MlflowError::invalid(format!(
                "logged model {} was created by run {}, not {}",
                m.model_id, doc.run, run.run
            )));
        }
        let step = u64::try_from(m.step.unwrap_or(0))
            .map_err(|_| MlflowError::invalid("an output's step is 0 or more"))?;
        let recorded = run
            .model_outputs
            .iter()
            .any(|o| o.model_id == m.model_id && o.step == Some(step));
        if !recorded {
            let change = LoggedModelUpdated {
                model_id: m.model_id.clone(),
                output_step: Some(step),
                ..LoggedModelUpdated::default()
            };
            update(ledger, caller, &doc, change)?;
        }
    }
    Ok(json!({}))
}

/// `POST logged-models/search`.
pub fn search(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        experiment_ids: Vec<String>,
        #[serde(default)]
        filter: Option<String>,
        #[serde(default)]
        max_results: Option<Value>,
        #[serde(default)]
        page_token: Option<String>,
    }
    let req: Req = parse(body)?;
    let filter = LoggedModelFilter::parse(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| MlflowError::invalid(e.to_string()))?;
    let max = req
        .max_results
        .as_ref()
        .and_then(crate::wire::lenient_i64)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n > 0)
        .unwrap_or(100);
    let offset = page_offset(req.page_token.as_deref())?;
    let mut found = Vec::new();
    for doc in views.logged_models().map_err(|e| views_error(&e))? {
        let experiment = experiment_of(views, &doc)?;
        if !req.experiment_ids.is_empty() && !req.experiment_ids.contains(&experiment) {
            continue;
        }
        let facts = LoggedModelFacts {
            model_id: &doc.model_id,
            name: &doc.name,
            model_type: doc.model_type.as_deref(),
            status: status_name(doc.status),
            source_run_id: Some(doc.run.as_str()),
            creation_timestamp: millis(doc.created),
            last_updated_timestamp: millis(doc.updated),
            params: doc
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            tags: doc
                .tags
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
            metrics: Default::default(),
        };
        if filter.matches(&facts) {
            found.push(doc);
        }
    }
    // Newest first, as MLflow orders by default.
    found.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.model_id.cmp(&b.model_id))
    });
    let models: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(max)
        .map(|d| model_json(views, d))
        .collect::<Result<_>>()?;
    let mut out = json!({ "models": models });
    if offset + max < found.len() {
        out["next_page_token"] = json!((offset + max).to_string());
    }
    Ok(out)
}
