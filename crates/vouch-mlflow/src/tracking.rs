//! Experiments and runs: MLflow's tracking service over the ledger.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use vouch_app::failure::{log_failure, project_failure, views_failure};
use vouch_event::{
    Body, DatasetInput, DatasetRef, Event, ExperimentCreated, ExperimentName, InputsLogged,
    Lifecycle, MetricPointLogged, MetricPoints, Name, ParamsLogged, RunFinished, RunId, RunStarted,
    RunStatus, RunUpdated, Subject, Tags, TagsSet, Timestamp,
};
use vouch_ledger::Ledger;
use vouch_views::{MetricKey, RunDoc, RunQuery, Views};

use crate::filter::{DatasetFacts, RunFacts, RunFilter, RunOrder};
use crate::ids::{event_id, hash};
use crate::limits::{
    MAX_ENTITIES_PER_BATCH, MAX_EXPERIMENT_TAG_VALUE_CHARS, MAX_HISTORY_RESULTS,
    MAX_METRICS_PER_BATCH, MAX_PARAMS_PER_BATCH, MAX_PARAM_VALUE_CHARS, MAX_RUN_TAG_VALUE_CHARS,
    MAX_SEARCH_RESULTS, MAX_TAGS_PER_BATCH,
};
use crate::wire::{
    from_millis, millis, pairs, run_json, DatasetInputIn, KeyValue, MetricIn, ModelRefIn,
    RUN_NAME_TAG, USER_TAG,
};
use crate::{Caller, MlflowError, Result};

/// The experiment MLflow's client assumes exists, id `"0"`.
pub const DEFAULT_EXPERIMENT: &str = "Default";

/// Parses a request body into `T`, naming the field at fault.
pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: Value) -> Result<T> {
    serde_json::from_value(body).map_err(|e| MlflowError::invalid(format!("invalid request: {e}")))
}

pub(crate) fn views_error(e: &vouch_views::ViewsError) -> MlflowError {
    MlflowError::ledger(views_failure(e), e)
}

/// Appends events (a retry's duplicates are no-ops) and projects them.
pub(crate) fn append(ledger: &mut Ledger, events: &[Event]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    ledger.append(events).map(drop).map_err(|e| match &e {
        vouch_ledger::AppendError::Log(l) => MlflowError::ledger(log_failure(l), &e),
        vouch_ledger::AppendError::Project(p) => MlflowError::ledger(project_failure(p), &e),
        _ => MlflowError::new(crate::ErrorCode::InternalError, e.to_string()),
    })
}

pub(crate) fn event(
    caller: &Caller,
    id: vouch_event::EventId,
    time: Timestamp,
    subject: Subject,
    body: Body,
) -> Result<Event> {
    let event = Event {
        id,
        time,
        producer: caller.producer.clone(),
        subject,
        body,
    };
    event.check().map_err(MlflowError::invalid)?;
    Ok(event)
}

// ---------------------------------------------------------------------------------------
// Experiments

/// The MLflow id of an experiment: `"0"` for `Default`, else its token.
pub fn experiment_id(name: &str) -> String {
    if name == DEFAULT_EXPERIMENT {
        return "0".to_owned();
    }
    match ExperimentName::new(name) {
        Ok(n) => n.token(),
        Err(_) => hash(&[name.as_bytes()])[..32].to_owned(),
    }
}

/// The name of the experiment with MLflow id `id`, if it exists.
pub fn experiment_name(views: &Views, id: &str) -> Result<Option<String>> {
    if id == "0" {
        return Ok(Some(DEFAULT_EXPERIMENT.to_owned()));
    }
    Ok(views
        .experiment(id)
        .map_err(|e| views_error(&e))?
        .map(|doc| doc.name.to_string()))
}

fn experiment_json(views: &Views, name: &str) -> Result<Option<Value>> {
    let id = experiment_id(name);
    let doc = match ExperimentName::new(name) {
        Ok(n) => views.experiment(&n.token()).map_err(|e| views_error(&e))?,
        Err(_) => None,
    };
    let (created, updated, tags, stage) = match &doc {
        Some(d) => (
            millis(d.created),
            millis(d.updated),
            pairs(&d.tags),
            d.lifecycle.as_str(),
        ),
        None if name == DEFAULT_EXPERIMENT => (0, 0, json!([]), "active"),
        None => return Ok(None),
    };
    Ok(Some(json!({
        "experiment_id": id,
        "name": name,
        "artifact_location": format!("mlflow-artifacts:/experiments/{id}"),
        "lifecycle_stage": stage,
        "tags": tags,
        "creation_time": created,
        "last_update_time": updated,
    })))
}

fn no_experiment(what: &str) -> MlflowError {
    MlflowError::missing(format!("Could not find experiment with {what}"))
}

/// `GET experiments/get-by-name`.
pub fn get_experiment_by_name(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        experiment_name: String,
    }
    let req: Req = parse(body)?;
    let experiment = experiment_json(views, &req.experiment_name)?
        .ok_or_else(|| no_experiment(&format!("name={}", req.experiment_name)))?;
    Ok(json!({ "experiment": experiment }))
}

/// `GET experiments/get`.
pub fn get_experiment(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        experiment_id: String,
    }
    let req: Req = parse(body)?;
    let name = experiment_name(views, &req.experiment_id)?
        .ok_or_else(|| no_experiment(&format!("id={}", req.experiment_id)))?;
    let experiment = experiment_json(views, &name)?
        .ok_or_else(|| no_experiment(&format!("id={}", req.experiment_id)))?;
    Ok(json!({ "experiment": experiment }))
}

fn tag_map(tags: &[KeyValue], max_value: usize, what: &str) -> Result<Tags> {
    let mut map = Tags::new();
    for t in tags {
        check_tag(&t.key, &t.value, max_value, what)?;
        map.insert(t.key.clone(), t.value.clone());
    }
    Ok(map)
}

fn check_tag(key: &str, value: &str, max_value: usize, what: &str) -> Result<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > 250 {
        return Err(MlflowError::invalid(format!(
            "{what} key must be 1 to 250 characters, got {chars}"
        )));
    }
    let chars = value.chars().count();
    if chars > max_value {
        return Err(MlflowError::invalid(format!(
            "{what} `{key}` value is {chars} characters, over the limit of {max_value}"
        )));
    }
    Ok(())
}

/// `POST experiments/create`.
pub fn create_experiment(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        name: String,
        #[serde(default)]
        tags: Vec<KeyValue>,
    }
    let req: Req = parse(body)?;
    let name =
        ExperimentName::new(req.name.clone()).map_err(|e| MlflowError::invalid(e.to_string()))?;
    if experiment_json(ledger.views(), &req.name)?.is_some() {
        return Err(MlflowError::new(
            crate::ErrorCode::ResourceAlreadyExists,
            format!("Experiment(name={}) already exists.", req.name),
        ));
    }
    let tags = tag_map(&req.tags, MAX_EXPERIMENT_TAG_VALUE_CHARS, "experiment tag")?;
    let e = event(
        caller,
        event_id("experiment", &[req.name.as_bytes()]),
        caller.now,
        Subject::Experiment(name.clone()),
        Body::ExperimentCreated(ExperimentCreated { tags }),
    )?;
    append(ledger, &[e])?;
    Ok(json!({ "experiment_id": name.token() }))
}

/// `POST experiments/search`: every experiment (`Default` included) whose name and tags
/// match the filter (the registered-model grammar: `name LIKE 'churn%'`, `tags.team =
/// 'risk'`), by name.
pub fn search_experiments(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        filter: Option<String>,
        #[serde(default)]
        max_results: Option<Value>,
        #[serde(default)]
        page_token: Option<String>,
    }
    let req: Req = parse(body)?;
    let filter = crate::filter::ModelFilter::parse(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| MlflowError::invalid(e.to_string()))?;
    let mut names: Vec<String> = views
        .experiments()
        .map_err(|e| views_error(&e))?
        .into_iter()
        .map(|d| d.name.to_string())
        .collect();
    if !names.iter().any(|n| n == DEFAULT_EXPERIMENT) {
        names.push(DEFAULT_EXPERIMENT.to_owned());
    }
    names.sort();
    let mut found = Vec::new();
    for name in names {
        let Some(experiment) = experiment_json(views, &name)? else {
            continue;
        };
        let tags: BTreeMap<&str, &str> = experiment["tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t["key"].as_str()?, t["value"].as_str()?)))
            .collect();
        let facts = crate::filter::ModelFacts { name: &name, tags };
        if filter.matches(&facts) {
            found.push(experiment);
        }
    }
    let max = match &req.max_results {
        None => 1000,
        Some(v) => crate::wire::lenient_i64(v)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| MlflowError::invalid("max_results must be a positive number"))?,
    };
    let offset = crate::wire::page_offset(req.page_token.as_deref())?;
    let total = found.len();
    let experiments: Vec<Value> = found.into_iter().skip(offset).take(max).collect();
    let mut out = json!({ "experiments": experiments });
    if offset + max < total {
        out["next_page_token"] = json!((offset + max).to_string());
    }
    Ok(out)
}

/// `POST experiments/set-experiment-tag`.
pub fn set_experiment_tag(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        experiment_id: String,
        key: String,
        #[serde(default)]
        value: String,
    }
    let req: Req = parse(body)?;
    let name = experiment_name(ledger.views(), &req.experiment_id)?
        .ok_or_else(|| no_experiment(&format!("id={}", req.experiment_id)))?;
    check_tag(
        &req.key,
        &req.value,
        MAX_EXPERIMENT_TAG_VALUE_CHARS,
        "experiment tag",
    )?;
    let name = ExperimentName::new(name).map_err(|e| MlflowError::invalid(e.to_string()))?;
    let doc = ledger
        .views()
        .experiment(&name.token())
        .map_err(|e| views_error(&e))?;
    let current = doc.as_ref().and_then(|d| d.tags.get(&req.key).cloned());
    if current.as_deref() == Some(req.value.as_str()) {
        return Ok(json!({}));
    }
    // The id names the state the change follows, so a retry is a duplicate and a later
    // change back and forth is a new fact.
    let at = doc.map_or(0, |d| d.last_position).to_le_bytes();
    let id = event_id(
        "experiment-tag",
        &[
            name.as_str().as_bytes(),
            req.key.as_bytes(),
            req.value.as_bytes(),
            &at,
        ],
    );
    let body = Body::TagsSet(TagsSet {
        set: Tags::from([(req.key, req.value)]),
        ..TagsSet::default()
    });
    let e = event(caller, id, caller.now, Subject::Experiment(name), body)?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------
// Runs

fn run_id(text: &str) -> Result<RunId> {
    RunId::new(text).map_err(|_| MlflowError::missing(format!("Run with id={text} not found")))
}

/// The run named by a request's `run_id` (or legacy `run_uuid`).
fn find_run(views: &Views, body: &Value) -> Result<RunDoc> {
    let text = body
        .get("run_id")
        .or_else(|| body.get("run_uuid"))
        .and_then(Value::as_str)
        .ok_or_else(|| MlflowError::invalid("missing value for required parameter 'run_id'"))?;
    let run = run_id(text)?;
    views
        .run(&run)
        .map_err(|e| views_error(&e))?
        .filter(|doc| doc.started.is_some())
        .ok_or_else(|| MlflowError::missing(format!("Run with id={text} not found")))
}

/// A run that may still be written to: MLflow refuses writes to a deleted run.
fn active_run(views: &Views, body: &Value) -> Result<RunDoc> {
    let doc = find_run(views, body)?;
    if doc.lifecycle == Lifecycle::Deleted {
        return Err(MlflowError::invalid(format!(
            "The run {} must be in the 'active' state. Current state is deleted.",
            doc.run
        )));
    }
    Ok(doc)
}

/// The active run `run` (404 when unknown, 400 when deleted).
pub(crate) fn find_active_run(views: &Views, run: &str) -> Result<RunDoc> {
    active_run(views, &json!({ "run_id": run }))
}

/// The active run a request body names.
pub(crate) fn find_active_run_in(views: &Views, body: &Value) -> Result<RunDoc> {
    active_run(views, body)
}

fn run_response(views: &Views, doc: &RunDoc) -> Value {
    let experiment = doc
        .experiment()
        .map_or_else(|| "0".to_owned(), experiment_id);
    let _ = views;
    run_json(doc, &experiment)
}

/// `POST runs/create`. The run's id is derived from what the request states (experiment,
/// name, start time, user and tags), so a retried create returns the run the first one
/// made instead of a second run.
pub fn create_run(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        experiment_id: Option<String>,
        #[serde(default)]
        user_id: Option<String>,
        #[serde(default)]
        run_name: Option<String>,
        #[serde(default)]
        start_time: Option<i64>,
        #[serde(default)]
        tags: Vec<KeyValue>,
    }
    let req: Req = parse(body)?;
    let experiment_id = req.experiment_id.unwrap_or_else(|| "0".to_owned());
    let experiment = experiment_name(ledger.views(), &experiment_id)?
        .ok_or_else(|| no_experiment(&format!("id={experiment_id}")))?;
    let mut tags = tag_map(&req.tags, MAX_RUN_TAG_VALUE_CHARS, "tag")?;
    let tagged_name = tags.remove(RUN_NAME_TAG);
    let given_name = req.run_name.filter(|n| !n.is_empty());
    if let (Some(a), Some(b)) = (&given_name, &tagged_name) {
        if a != b {
            return Err(MlflowError::invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with \
                 different values (run_name='{a}', mlflow.runName='{b}')."
            )));
        }
    }
    let start_ms = req.start_time.unwrap_or_else(|| millis(caller.now));
    let start = from_millis("start_time", start_ms)?;
    if let Some(user) = req.user_id.filter(|u| !u.is_empty()) {
        tags.entry(USER_TAG.to_owned()).or_insert(user);
    }
    let name = given_name.or(tagged_name);
    let mut parts: Vec<Vec<u8>> = vec![
        experiment.clone().into_bytes(),
        name.clone().unwrap_or_default().into_bytes(),
        start_ms.to_le_bytes().to_vec(),
    ];
    for (k, v) in &tags {
        parts.push(k.clone().into_bytes());
        parts.push(v.clone().into_bytes());
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let run_hex = hash(&refs)[..32].to_owned();
    let run = RunId::new(run_hex.clone()).expect("hex is a valid run id");
    if let Some(doc) = ledger.views().run(&run).map_err(|e| views_error(&e))? {
        if doc.started.is_some() {
            return Ok(json!({ "run": run_response(ledger.views(), &doc) }));
        }
    }
    let name = name.unwrap_or_else(|| format!("run-{}", &run_hex[..8]));
    let mut events = vec![event(
        caller,
        event_id("run", &[run_hex.as_bytes()]),
        start,
        Subject::Run(run.clone()),
        Body::RunStarted(RunStarted {
            experiment,
            name: Some(name),
            git: None,
            env: None,
        }),
    )?];
    if !tags.is_empty() {
        events.push(event(
            caller,
            event_id("run-tags", &[run_hex.as_bytes()]),
            start,
            Subject::Run(run.clone()),
            Body::TagsSet(TagsSet {
                set: tags,
                ..TagsSet::default()
            }),
        )?);
    }
    append(ledger, &events)?;
    let doc = ledger
        .views()
        .run(&run)
        .map_err(|e| views_error(&e))?
        .ok_or_else(|| {
            MlflowError::new(
                crate::ErrorCode::InternalError,
                "the new run is not in the views",
            )
        })?;
    Ok(json!({ "run": run_response(ledger.views(), &doc) }))
}

/// `GET runs/get`.
pub fn get_run(views: &Views, body: Value) -> Result<Value> {
    let doc = find_run(views, &body)?;
    Ok(json!({ "run": run_response(views, &doc) }))
}

/// `POST runs/update`: a status change (ending or resuming the run) and a rename.
pub fn update_run(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        end_time: Option<i64>,
        #[serde(default)]
        run_name: Option<String>,
    }
    let doc = find_run(ledger.views(), &body)?;
    let req: Req = parse(body)?;
    let run = doc.run.clone();
    let subject = || Subject::Run(run.clone());
    // Each event's id states the run's state it changes, so a retry after it applied
    // changes nothing, and a later change back is a new fact.
    let at = doc.last_position.to_le_bytes();
    let mut events = Vec::new();
    if let Some(name) = req
        .run_name
        .filter(|n| !n.is_empty() && Some(n.as_str()) != doc.name())
    {
        events.push(event(
            caller,
            event_id(
                "run-rename",
                &[run.as_str().as_bytes(), name.as_bytes(), &at],
            ),
            caller.now,
            subject(),
            Body::RunUpdated(RunUpdated {
                name: Some(name),
                ..RunUpdated::default()
            }),
        )?);
    }
    let wanted = match req.status.as_deref() {
        None => None,
        Some("RUNNING" | "SCHEDULED") => Some(None),
        Some("FINISHED") => Some(Some(RunStatus::Ok)),
        Some("FAILED") => Some(Some(RunStatus::Failed)),
        Some("KILLED") => Some(Some(RunStatus::Killed)),
        Some(other) => {
            return Err(MlflowError::invalid(format!(
                "status `{other}` is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
            )))
        }
    };
    let current = doc.finished.as_ref().map(|f| f.status);
    if let Some(wanted) = wanted {
        if wanted != current {
            if current.is_some() {
                events.push(event(
                    caller,
                    event_id("run-reopen", &[run.as_str().as_bytes(), &at]),
                    caller.now,
                    subject(),
                    Body::RunUpdated(RunUpdated {
                        reopened: true,
                        ..RunUpdated::default()
                    }),
                )?);
            }
            if let Some(status) = wanted {
                let end = match req.end_time {
                    Some(ms) => from_millis("end_time", ms)?,
                    None => caller.now,
                };
                events.push(event(
                    caller,
                    event_id(
                        "run-end",
                        &[run.as_str().as_bytes(), status.as_str().as_bytes(), &at],
                    ),
                    end,
                    subject(),
                    Body::RunFinished(RunFinished { status }),
                )?);
            }
        }
    }
    append(ledger, &events)?;
    let doc = find_run(ledger.views(), &json!({"run_id": run.as_str()}))?;
    Ok(json!({ "run_info": run_response(ledger.views(), &doc)["info"] }))
}

/// `POST runs/delete` and `runs/restore`: the run is hidden or listed again; its
/// evidence stays.
pub fn set_lifecycle(
    ledger: &mut Ledger,
    caller: &Caller,
    body: Value,
    lifecycle: Lifecycle,
) -> Result<Value> {
    let doc = find_run(ledger.views(), &body)?;
    if doc.lifecycle == lifecycle {
        return Ok(json!({}));
    }
    let run = doc.run.clone();
    let e = event(
        caller,
        event_id(
            "run-lifecycle",
            &[
                run.as_str().as_bytes(),
                lifecycle.as_str().as_bytes(),
                &doc.last_position.to_le_bytes(),
            ],
        ),
        caller.now,
        Subject::Run(run),
        Body::RunUpdated(RunUpdated {
            lifecycle: Some(lifecycle),
            ..RunUpdated::default()
        }),
    )?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

fn metric_name(key: &str) -> Result<Name> {
    Name::new(key).map_err(|e| MlflowError::invalid(e.to_string()))
}

/// The params of a request that are new to the run; a param logged again with the same
/// value is no change, with another value it is refused (a param is written once).
fn new_params(doc: &RunDoc, params: &[KeyValue]) -> Result<BTreeMap<Name, String>> {
    let mut out = BTreeMap::new();
    for p in params {
        let name = metric_name(&p.key)?;
        let chars = p.value.chars().count();
        if chars > MAX_PARAM_VALUE_CHARS {
            return Err(MlflowError::invalid(format!(
                "param `{}` value is {chars} characters, over the limit of {MAX_PARAM_VALUE_CHARS}",
                p.key
            )));
        }
        let earlier = doc.params.get(&name).map(|v| &v.value).or(out.get(&name));
        match earlier {
            Some(v) if *v == p.value => {}
            Some(v) => {
                return Err(MlflowError::invalid(format!(
                    "Changing param values is not allowed. Param with key='{}' was already \
                     logged with value='{v}' for run ID='{}'. Attempted logging new value '{}'.",
                    p.key, doc.run, p.value
                )))
            }
            None => {
                out.insert(name, p.value.clone());
            }
        }
    }
    Ok(out)
}

fn points(metrics: &[MetricIn]) -> Result<Vec<MetricPointLogged>> {
    metrics
        .iter()
        .map(|m| {
            let step = u64::try_from(m.step).map_err(|_| {
                MlflowError::invalid(format!(
                    "metric `{}` has step {}: Vouch records steps from 0 up",
                    m.key, m.step
                ))
            })?;
            let dataset = match (&m.dataset_name, &m.dataset_digest) {
                (Some(name), Some(digest)) => Some(DatasetRef {
                    name: name.clone(),
                    digest: digest.clone(),
                }),
                _ => None,
            };
            Ok(MetricPointLogged {
                key: metric_name(&m.key)?,
                value: m.value,
                step,
                time: from_millis("timestamp", m.timestamp)?,
                dataset,
                model_id: m.model_id.clone(),
            })
        })
        .collect()
}

/// The changes of a batch, checked whole before anything is written.
#[derive(Default)]
struct Batch {
    params: BTreeMap<Name, String>,
    points: Vec<MetricPointLogged>,
    tags: Tags,
    rename: Option<String>,
}

fn batch_events(caller: &Caller, doc: &RunDoc, batch: Batch) -> Result<Vec<Event>> {
    let run = doc.run.as_str();
    let subject = || Subject::Run(doc.run.clone());
    let mut events = Vec::new();
    if !batch.params.is_empty() {
        let mut parts: Vec<&[u8]> = vec![run.as_bytes()];
        for (k, v) in &batch.params {
            parts.push(k.as_str().as_bytes());
            parts.push(v.as_bytes());
        }
        events.push(event(
            caller,
            event_id("params", &parts),
            caller.now,
            subject(),
            Body::ParamsLogged(ParamsLogged {
                params: batch.params,
            }),
        )?);
    }
    if !batch.points.is_empty() {
        let encoded = serde_json::to_vec(&batch.points).expect("points serialize");
        events.push(event(
            caller,
            event_id("metrics", &[run.as_bytes(), &encoded]),
            caller.now,
            subject(),
            Body::MetricPoints(MetricPoints {
                points: batch.points,
            }),
        )?);
    }
    // Tags: only those that change, under an id that names what they replace.
    let changed: Tags = batch
        .tags
        .into_iter()
        .filter(|(k, v)| doc.tags.get(k) != Some(v))
        .collect();
    if !changed.is_empty() {
        let mut parts: Vec<Vec<u8>> = vec![
            run.as_bytes().to_vec(),
            doc.last_position.to_le_bytes().to_vec(),
        ];
        for (k, v) in &changed {
            parts.push(k.clone().into_bytes());
            parts.push(v.clone().into_bytes());
            parts.push(doc.tags.get(k).cloned().unwrap_or_default().into_bytes());
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        events.push(event(
            caller,
            event_id("tags", &refs),
            caller.now,
            subject(),
            Body::TagsSet(TagsSet {
                set: changed,
                ..TagsSet::default()
            }),
        )?);
    }
    if let Some(name) = batch.rename.filter(|n| Some(n.as_str()) != doc.name()) {
        events.push(event(
            caller,
            event_id(
                "run-rename",
                &[
                    run.as_bytes(),
                    name.as_bytes(),
                    &doc.last_position.to_le_bytes(),
                ],
            ),
            caller.now,
            subject(),
            Body::RunUpdated(RunUpdated {
                name: Some(name),
                ..RunUpdated::default()
            }),
        )?);
    }
    Ok(events)
}

fn tags_and_rename(tags: &[KeyValue]) -> Result<(Tags, Option<String>)> {
    let mut map = tag_map(tags, MAX_RUN_TAG_VALUE_CHARS, "tag")?;
    // Setting `mlflow.runName` renames the run: the name is the run's, not a tag's.
    let rename = map.remove(RUN_NAME_TAG);
    Ok((map, rename))
}

/// `POST runs/log-batch`: params, metrics and tags, checked whole, then written.
pub fn log_batch(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        metrics: Vec<MetricIn>,
        #[serde(default)]
        params: Vec<KeyValue>,
        #[serde(default)]
        tags: Vec<KeyValue>,
    }
    let doc = active_run(ledger.views(), &body)?;
    let req: Req = parse(body)?;
    if req.metrics.len() > MAX_METRICS_PER_BATCH
        || req.params.len() > MAX_PARAMS_PER_BATCH
        || req.tags.len() > MAX_TAGS_PER_BATCH
        || req.metrics.len() + req.params.len() + req.tags.len() > MAX_ENTITIES_PER_BATCH
    {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics, \
             {MAX_PARAMS_PER_BATCH} params and {MAX_TAGS_PER_BATCH} tags, \
             {MAX_ENTITIES_PER_BATCH} in all; got {} metrics, {} params, {} tags",
            req.metrics.len(),
            req.params.len(),
            req.tags.len()
        )));
    }
    let (tags, rename) = tags_and_rename(&req.tags)?;
    let batch = Batch {
        params: new_params(&doc, &req.params)?,
        points: points(&req.metrics)?,
        tags,
        rename,
    };
    let events = batch_events(caller, &doc, batch)?;
    append(ledger, &events)?;
    Ok(json!({}))
}

/// `POST runs/log-parameter`.
pub fn log_param(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    let doc = active_run(ledger.views(), &body)?;
    let p: KeyValue = parse(body)?;
    let batch = Batch {
        params: new_params(&doc, &[p])?,
        ..Batch::default()
    };
    append(ledger, &batch_events(caller, &doc, batch)?)?;
    Ok(json!({}))
}

/// `POST runs/log-metric`.
pub fn log_metric(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    let doc = active_run(ledger.views(), &body)?;
    let m: MetricIn = parse(body)?;
    let batch = Batch {
        points: points(&[m])?,
        ..Batch::default()
    };
    append(ledger, &batch_events(caller, &doc, batch)?)?;
    Ok(json!({}))
}

/// `POST runs/set-tag`: last write wins; `mlflow.runName` renames the run.
pub fn set_tag(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    let doc = active_run(ledger.views(), &body)?;
    let t: KeyValue = parse(body)?;
    let (tags, rename) = tags_and_rename(&[t])?;
    let batch = Batch {
        tags,
        rename,
        ..Batch::default()
    };
    append(ledger, &batch_events(caller, &doc, batch)?)?;
    Ok(json!({}))
}

/// `POST runs/delete-tag`: a tombstone; a tag the run does not have is 404, as in MLflow.
pub fn delete_tag(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        key: String,
    }
    let doc = active_run(ledger.views(), &body)?;
    let req: Req = parse(body)?;
    let Some(prior) = doc.tags.get(&req.key) else {
        return Err(MlflowError::missing(format!(
            "No tag with name: {} in run with id {}",
            req.key, doc.run
        )));
    };
    let run = doc.run.as_str();
    let e = event(
        caller,
        event_id(
            "tag-delete",
            &[
                run.as_bytes(),
                req.key.as_bytes(),
                prior.as_bytes(),
                &doc.last_position.to_le_bytes(),
            ],
        ),
        caller.now,
        Subject::Run(doc.run.clone()),
        Body::TagsSet(TagsSet {
            deleted: vec![req.key],
            ..TagsSet::default()
        }),
    )?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

/// `POST runs/log-inputs`: dataset inputs (and logged models read), as described.
pub fn log_inputs(ledger: &mut Ledger, caller: &Caller, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        datasets: Vec<DatasetInputIn>,
        #[serde(default)]
        models: Vec<ModelRefIn>,
    }
    let doc = active_run(ledger.views(), &body)?;
    let req: Req = parse(body)?;
    let mut inputs = InputsLogged::default();
    for d in req.datasets {
        let tags = tag_map(&d.tags, 500, "input tag")?;
        let input = DatasetInput {
            name: d.dataset.name,
            digest: d.dataset.digest,
            source_type: d.dataset.source_type,
            source: d.dataset.source,
            schema: d.dataset.schema,
            profile: d.dataset.profile,
            tags,
        };
        // The same dataset in the same role again is no new fact.
        if !doc.inputs.iter().any(|i| i.dataset == input) {
            inputs.datasets.push(input);
        }
    }
    for m in req.models {
        if !doc.model_inputs.contains(&m.model_id) {
            inputs.models.push(m.model_id);
        }
    }
    if inputs.datasets.is_empty() && inputs.models.is_empty() {
        return Ok(json!({}));
    }
    let encoded = serde_json::to_vec(&inputs).expect("inputs serialize");
    let e = event(
        caller,
        event_id("inputs", &[doc.run.as_str().as_bytes(), &encoded]),
        caller.now,
        Subject::Run(doc.run.clone()),
        Body::InputsLogged(inputs),
    )?;
    append(ledger, &[e])?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------
// Reading back

/// Which runs a search lists.
fn view_type(text: Option<&str>) -> Result<(bool, bool)> {
    match text.unwrap_or("ACTIVE_ONLY") {
        "ACTIVE_ONLY" | "1" => Ok((true, false)),
        "DELETED_ONLY" | "2" => Ok((false, true)),
        "ALL" | "3" => Ok((true, true)),
        other => Err(MlflowError::invalid(format!(
            "run_view_type `{other}` is not ACTIVE_ONLY, DELETED_ONLY or ALL"
        ))),
    }
}

/// What the filter grammar sees of a run.
fn facts(doc: &RunDoc) -> RunFacts<'_> {
    RunFacts {
        run_id: doc.run.as_str(),
        run_name: doc.name().unwrap_or(""),
        status: crate::wire::run_status(doc),
        user_id: doc.tags.get(USER_TAG).map_or("", String::as_str),
        artifact_uri: "",
        start_time: doc.started.as_ref().map_or(0, |s| millis(s.time)),
        end_time: doc.finished.as_ref().map(|f| millis(f.time)),
        metrics: doc
            .metrics
            .values()
            .filter(|m| m.segment.is_none())
            .map(|m| (m.name.as_str(), m.value))
            .collect(),
        params: doc
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect(),
        tags: doc
            .tags
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
        datasets: doc
            .inputs
            .iter()
            .map(|i| DatasetFacts {
                name: &i.dataset.name,
                digest: &i.dataset.digest,
                context: i
                    .dataset
                    .tags
                    .get("mlflow.data.context")
                    .map(String::as_str),
            })
            .collect(),
    }
}

/// `POST runs/search`: runs of the given experiments matching the filter, ordered, one
/// page at a time (the page token is the offset of the next page), encoded straight to
/// JSON.
pub fn search_runs(views: &Views, body: Value) -> Result<Vec<u8>> {
    #[derive(Deserialize)]
    struct Req {
        #[serde(default)]
        experiment_ids: Vec<String>,
        #[serde(default)]
        filter: Option<String>,
        #[serde(default)]
        run_view_type: Option<String>,
        #[serde(default)]
        max_results: Option<Value>,
        #[serde(default)]
        order_by: Vec<String>,
        #[serde(default)]
        page_token: Option<String>,
    }
    let req: Req = parse(body)?;
    let filter = RunFilter::parse(req.filter.as_deref().unwrap_or(""))
        .map_err(|e| MlflowError::invalid(e.to_string()))?;
    let order = RunOrder::parse(&req.order_by).map_err(|e| MlflowError::invalid(e.to_string()))?;
    let (active, deleted) = view_type(req.run_view_type.as_deref())?;
    let max = match &req.max_results {
        None => 1000,
        Some(v) => crate::wire::lenient_i64(v)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| MlflowError::invalid("max_results must be a positive number"))?,
    };
    if max == 0 || max > MAX_SEARCH_RESULTS {
        return Err(MlflowError::invalid(format!(
            "Invalid value {max} for parameter 'max_results' supplied. It must be at most \
             {MAX_SEARCH_RESULTS} and positive."
        )));
    }
    let offset = crate::wire::page_offset(req.page_token.as_deref())?;
    let mut names = Vec::new();
    for id in &req.experiment_ids {
        if let Some(name) = experiment_name(views, id)? {
            names.push(name);
        }
    }
    // A metric clause reads the metric's value index: only the runs it admits are read
    // whole (a run without the metric matches no metric clause).
    let admitted = match filter.metric_clause() {
        Some((key, holds)) => {
            let key = MetricKey {
                name: metric_name(key)?,
                segment: None,
            };
            let values = views.series_values(&key).map_err(|e| views_error(&e))?;
            Some(
                values
                    .into_iter()
                    .filter(|(_, v)| holds(*v))
                    .map(|(run, _)| run)
                    .collect::<Vec<RunId>>(),
            )
        }
        None => None,
    };
    let mut docs = Vec::new();
    match admitted {
        Some(runs) => {
            for run in runs {
                if let Some(doc) = views.run(&run).map_err(|e| views_error(&e))? {
                    if doc
                        .experiment()
                        .is_some_and(|e| names.iter().any(|n| n == e))
                    {
                        docs.push(doc);
                    }
                }
            }
        }
        None => {
            for name in names {
                let query = RunQuery {
                    experiment: Some(name),
                    conditions: Vec::new(),
                };
                docs.extend(views.runs(&query).map_err(|e| views_error(&e))?);
            }
        }
    }
    docs.retain(|d| {
        let listed = match d.lifecycle {
            Lifecycle::Active => active,
            Lifecycle::Deleted => deleted,
        };
        listed && d.started.is_some()
    });
    let mut matched: Vec<(RunFacts<'_>, &RunDoc)> = docs
        .iter()
        .map(|d| (facts(d), d))
        .filter(|(f, _)| filter.matches(f))
        .collect();
    matched.sort_by(|a, b| order.compare(&a.0, &b.0));
    #[derive(serde::Serialize)]
    struct Found<'a> {
        runs: Vec<crate::wire::RunOut<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_page_token: Option<String>,
    }
    let page: Vec<&RunDoc> = matched
        .iter()
        .skip(offset)
        .take(max)
        .map(|(_, d)| *d)
        .collect();
    let experiments: Vec<String> = page
        .iter()
        .map(|d| d.experiment().map_or_else(|| "0".to_owned(), experiment_id))
        .collect();
    let found = Found {
        runs: page
            .iter()
            .zip(&experiments)
            .map(|(d, e)| crate::wire::RunOut::new(d, e))
            .collect(),
        next_page_token: (offset + max < matched.len()).then(|| (offset + max).to_string()),
    };
    Ok(serde_json::to_vec(&found).expect("runs serialize"))
}

/// `GET metrics/get-history`: every point of one metric, in step and time order.
pub fn metric_history(views: &Views, body: Value) -> Result<Value> {
    #[derive(Deserialize)]
    struct Req {
        metric_key: String,
        #[serde(default)]
        max_results: Option<Value>,
        #[serde(default)]
        page_token: Option<String>,
    }
    let doc = find_run(views, &body)?;
    let req: Req = parse(body)?;
    let max = match &req.max_results {
        None => MAX_HISTORY_RESULTS,
        Some(v) => crate::wire::lenient_i64(v)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| MlflowError::invalid("max_results must be a positive number"))?
            .min(MAX_HISTORY_RESULTS),
    };
    let offset = crate::wire::page_offset(req.page_token.as_deref())?;
    let key = MetricKey {
        name: metric_name(&req.metric_key)?,
        segment: None,
    };
    let mut points = views.history(&doc.run, &key).map_err(|e| views_error(&e))?;
    points.sort_by_key(|p| (p.step, p.time));
    points.dedup_by(|a, b| {
        a.step == b.step && a.time == b.time && a.value.to_bits() == b.value.to_bits()
    });
    let metrics: Vec<Value> = points
        .iter()
        .skip(offset)
        .take(max)
        .map(|p| {
            json!({
                "key": req.metric_key,
                "value": crate::wire::number(p.value),
                "timestamp": millis(p.time),
                "step": p.step.unwrap_or(0),
                "run_id": doc.run.as_str(),
            })
        })
        .collect();
    let mut out = json!({ "metrics": metrics });
    if offset + max < points.len() {
        out["next_page_token"] = json!((offset + max).to_string());
    }
    Ok(out)
}
