//! Tracking state beyond runs: experiments, logged models and the model registry
//! (registered models, versions, aliases), folded from their events.
//!
//! Keys: `X`+experiment token → [`ExperimentDoc`]; `L`+logged model id →
//! [`LoggedModelDoc`]; `G`+model → [`RegisteredDoc`].

use std::collections::BTreeMap;

use serde::Serialize;
use vouch_event::{
    Body, Digest, Event, ExperimentName, Lifecycle, ModelName, ModelStatus, RunId, Timestamp,
};

use crate::{decode_value, Views, ViewsError};

/// An experiment: created explicitly (`experiment_created`) or by its first run.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct ExperimentDoc {
    /// The experiment's name.
    pub name: ExperimentName,
    /// When it was created (its first event).
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Listed or deleted.
    pub lifecycle: Lifecycle,
    /// Log position of its first event.
    pub position: u64,
    /// Log position of its last event: a change names the state it follows by it.
    pub last_position: u64,
}

/// A model a run logged, with its files under the run's `models/<id>/` artifacts.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct LoggedModelDoc {
    /// Its id.
    pub model_id: String,
    /// The run that logged it.
    pub run: RunId,
    /// Its name within the run.
    pub name: String,
    /// Its type, if given.
    pub model_type: Option<String>,
    /// Upload state.
    pub status: ModelStatus,
    /// Params.
    pub params: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Log position of its creation.
    pub position: u64,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct VersionDoc {
    /// The version number, from 1.
    pub version: u64,
    /// Where its files are.
    pub source: String,
    /// The run it came from.
    pub run: Option<RunId>,
    /// The logged model it registers.
    pub model_id: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Log position of its creation.
    pub position: u64,
}

/// One move of an alias.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct AliasEntry {
    /// The version named; none: removed.
    pub version: Option<u64>,
    /// The decision that moved a guarded alias.
    pub decision: Option<Digest>,
    /// When.
    pub time: Timestamp,
    /// Log position.
    pub position: u64,
}

/// A registered model: created explicitly (`model_registered`), or by its first
/// version.
#[derive(Debug, Clone, PartialEq, Serialize, bincode::Encode, bincode::Decode)]
pub struct RegisteredDoc {
    /// Its name.
    pub name: ModelName,
    /// Whether `model_registered` created it (a version alone does not).
    pub registered: bool,
    /// Its description.
    pub description: Option<String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// Its versions, by number.
    pub versions: Vec<VersionDoc>,
    /// Every move of every alias, oldest first: which move is in force is decided at read
    /// time (a guarded alias follows only promoting decisions, see `vouch-mlflow`).
    pub aliases: BTreeMap<String, Vec<AliasEntry>>,
    /// When it was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// Log position of its last event: a change names the state it follows by it.
    pub last_position: u64,
}

impl RegisteredDoc {
    pub(crate) fn new(name: ModelName, time: Timestamp) -> Self {
        RegisteredDoc {
            name,
            registered: false,
            description: None,
            tags: BTreeMap::new(),
            versions: Vec::new(),
            aliases: BTreeMap::new(),
            created: time,
            updated: time,
            last_position: 0,
        }
    }

    /// The version numbered `version`.
    pub fn version(&self, version: u64) -> Option<&VersionDoc> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// Folds one registry event. `Err` is why it cannot apply (it is quarantined).
    pub(crate) fn apply(&mut self, event: &Event, position: u64) -> Result<(), String> {
        let time = event.time;
        match &event.body {
            Body::ModelRegistered(b) => {
                if self.registered {
                    return Err(format!("registered model {} already exists", self.name));
                }
                self.registered = true;
                self.description.clone_from(&b.description);
                self.tags.extend(b.tags.clone());
            }
            Body::ModelVersionCreated(b) => {
                let next = self.versions.last().map_or(1, |v| v.version + 1);
                if b.version != next {
                    return Err(format!(
                        "model {} version {} is out of order: the next version is {next}",
                        self.name, b.version
                    ));
                }
                self.versions.push(VersionDoc {
                    version: b.version,
                    source: b.source.clone(),
                    run: b.run.clone(),
                    model_id: b.model_id.clone(),
                    description: b.description.clone(),
                    tags: b.tags.clone(),
                    created: time,
                    updated: time,
                    position,
                });
            }
            Body::TagsSet(b) => {
                let tags = match b.version {
                    Some(n) => {
                        let name = self.name.clone();
                        let version = self
                            .versions
                            .iter_mut()
                            .find(|v| v.version == n)
                            .ok_or_else(|| format!("model {name} has no version {n}"))?;
                        version.updated = time;
                        &mut version.tags
                    }
                    None => &mut self.tags,
                };
                for key in &b.deleted {
                    tags.remove(key);
                }
                tags.extend(b.set.clone());
            }
            Body::AliasMoved(b) => {
                // A move to a version not (yet) registered is kept: it names nothing until
                // the version exists (see `vouch_mlflow::registry::resolve`).
                self.aliases
                    .entry(b.alias.clone())
                    .or_default()
                    .push(AliasEntry {
                        version: b.version,
                        decision: b.decision,
                        time,
                        position,
                    });
            }
            _ => return Err(format!("kind {} is not a registry event", event.kind())),
        }
        self.updated = self.updated.max(time);
        self.last_position = position;
        Ok(())
    }
}

impl ExperimentDoc {
    pub(crate) fn new(name: ExperimentName, time: Timestamp, position: u64) -> Self {
        ExperimentDoc {
            name,
            created: time,
            updated: time,
            tags: BTreeMap::new(),
            lifecycle: Lifecycle::Active,
            position,
            last_position: position,
        }
    }
}

/// Whether `kind` is folded into the registry document.
pub(crate) fn is_registry(body: &Body) -> bool {
    matches!(
        body,
        Body::ModelRegistered(_)
            | Body::ModelVersionCreated(_)
            | Body::TagsSet(_)
            | Body::AliasMoved(_)
    )
}

pub(crate) fn experiment_doc_key(token: &str) -> Vec<u8> {
    let mut k = vec![b'X'];
    k.extend_from_slice(token.as_bytes());
    k
}

pub(crate) fn logged_model_key(model_id: &str) -> Vec<u8> {
    let mut k = vec![b'L'];
    k.extend_from_slice(model_id.as_bytes());
    k
}

pub(crate) fn registered_key(model: &ModelName) -> Vec<u8> {
    let mut k = vec![b'G'];
    k.extend_from_slice(model.as_str().as_bytes());
    k
}

impl Views {
    /// The experiment with this token ([`ExperimentName::token`]).
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn experiment(&self, token: &str) -> Result<Option<ExperimentDoc>, ViewsError> {
        self.get(&experiment_doc_key(token))
    }

    /// Every experiment, by token.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn experiments(&self) -> Result<Vec<ExperimentDoc>, ViewsError> {
        self.scan(b'X')
    }

    /// The logged model with this id.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModelDoc>, ViewsError> {
        self.get(&logged_model_key(model_id))
    }

    /// Every logged model, by id.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn logged_models(&self) -> Result<Vec<LoggedModelDoc>, ViewsError> {
        self.scan(b'L')
    }

    /// The registered model named `model`.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn registered(&self, model: &ModelName) -> Result<Option<RegisteredDoc>, ViewsError> {
        self.get(&registered_key(model))
    }

    /// Every registered model, by name.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn registered_models(&self) -> Result<Vec<RegisteredDoc>, ViewsError> {
        self.scan(b'G')
    }

    /// The release policy most recently published for `model`.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn latest_policy(
        &self,
        model: &ModelName,
    ) -> Result<Option<crate::PolicyEntry>, ViewsError> {
        Ok(self
            .scan::<crate::PolicyEntry>(b'P')?
            .into_iter()
            .filter(|p| &p.model == model)
            .max_by_key(|p| p.position))
    }

    fn scan<T: bincode::Decode<()>>(&self, prefix: u8) -> Result<Vec<T>, ViewsError> {
        self.tree
            .scan_prefix([prefix])
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }
}
