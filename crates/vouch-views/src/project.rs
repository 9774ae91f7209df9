//! The projector: reads the log from the views' position and applies records in batches,
//! each batch one atomic sled write that includes the new position.

use std::collections::{BTreeMap, HashMap};

use vouch_event::{Body, DecisionOutcome, Digest, Event, ModelName, RunId, Subject};
use vouch_log::{Log, LogError, Position, Record};

use crate::judge::{judge_release, ChainState};
use crate::tlog::{self, SledNodes};
use crate::tracking::{
    experiment_doc_key, is_registry, logged_model_key, registered_key, ExperimentDoc,
    LoggedModelDoc, RegisteredDoc,
};
use crate::{
    artifact_key, blake3_to_sha256_key, decision_hash_key, decision_key, decode_value,
    deployment_key, encode_value, experiment_key, history_prefix, live_key, metric_index_key,
    model_key, policy_key, positions_key, promotion_key, quarantine_key, run_key, sha256_key,
    ArtifactRef, ChainHead, Counts, DecisionEntry, DeploymentEntry, LiveObservation, MetricKey,
    MetricPoint, ModelDoc, PolicyEntry, QuarantineEntry, ReviewEntry, RunDoc, Views, ViewsError,
    CHAIN_HEAD, COUNTS, CURRENT, FORMAT, POSITION, TRUST, VIEW_FORMAT,
};

/// Records read and applied per atomic write.
pub const BATCH_RECORDS: usize = 8192;

/// Projection failed. Nothing partial was written: the views still match the log up to
/// their stored position.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectError {
    /// Reading the log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The views store failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// The log skipped a position: every record is a leaf of the tree over the log, at
    /// index position − 1, so a log with a hole cannot be projected (or proven).
    #[error(
        "the log has a gap: position {expected} is missing (the next record read is at {found})"
    )]
    Gap {
        /// The position that should have come next.
        expected: Position,
        /// The position that came instead.
        found: Position,
    },
    /// The views have applied more than the log holds: they belong to another log, or
    /// the log lost unsynced records. Rebuild them.
    #[error("views are at position {views} but the log ends at {log}; run `vouch rebuild`")]
    AheadOfLog {
        /// The views' position.
        views: Position,
        /// The log's last position.
        log: Position,
    },
}

/// What a catch-up did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatchUpReport {
    /// Position before.
    pub from: Position,
    /// Position after.
    pub to: Position,
    /// Records applied.
    pub applied: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records skipped because their event id was already applied or quarantined.
    pub duplicates: u64,
}

/// Applies every record after the views' position, in batches of [`BATCH_RECORDS`].
/// `progress` is told the position reached and the log's end after every batch.
///
/// # Errors
/// When reading the log or writing the views fails, or the views are ahead of the log.
pub fn catch_up(
    log: &dyn Log,
    views: &Views,
    trust: &vouch_rules::Trust,
    progress: &mut dyn FnMut(Position, Position),
) -> Result<CatchUpReport, ProjectError> {
    let end = log.last_position()?;
    catch_up_to(log, views, trust, end, progress)
}

/// As [`catch_up`], but stops at `end` (or earlier, where the log ends): a follower
/// applies a long backlog in slices and lets other processes in between.
///
/// # Errors
/// When reading the log or writing the views fails, or the views are ahead of `end`.
pub fn catch_up_to(
    log: &dyn Log,
    views: &Views,
    trust: &vouch_rules::Trust,
    end: Position,
    progress: &mut dyn FnMut(Position, Position),
) -> Result<CatchUpReport, ProjectError> {
    let start = views.position()?;
    if start > end {
        return Err(ProjectError::AheadOfLog {
            views: start,
            log: end,
        });
    }
    let mut report = CatchUpReport {
        from: start,
        to: start,
        ..Default::default()
    };
    while report.to < end {
        let wanted = usize::try_from(end.get() - report.to.get())
            .map_or(BATCH_RECORDS, |n| n.min(BATCH_RECORDS));
        views.check_room()?;
        let records = log.read(report.to.next(), wanted)?;
        let Some(last) = records.last() else { break };
        let last = last.position;
        let mut batch = Batch::new(views, log, trust)?;
        // The tree over the log does not depend on what the projector decides about a
        // record: it grows on the other core while the batch is applied.
        let tree = batch.log_tree.take().expect("opened with the batch");
        if records
            .iter()
            .any(|r| r.key.as_str() == vouch_rules::CHAIN_KEY)
        {
            // A decision's log pin is judged against the tree at an earlier size, which
            // may lie inside this batch: grow it first, then apply.
            batch.log_tree = Some(grow(tree, &records)?);
            records.iter().try_for_each(|r| batch.apply(r))?;
        } else {
            let (grown, applied) = std::thread::scope(|s| {
                let growing = s.spawn(|| grow(tree, &records));
                let applied = records.iter().try_for_each(|r| batch.apply(r));
                (growing.join(), applied)
            });
            let grown = grown.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            applied?;
            batch.log_tree = Some(grown);
        }
        report.applied += batch.applied;
        report.quarantined += batch.quarantined;
        report.duplicates += batch.duplicates;
        batch.commit(last)?;
        report.to = last;
        progress(last, end.max(last));
    }
    Ok(report)
}

/// Appends every record read to the tree over the log, in position order: a gap in
/// positions is an error (every record is a leaf, whatever the projector makes of it).
fn grow<'v>(
    mut tree: vouch_tlog::tree::Tree<SledNodes<'v>>,
    records: &[Record],
) -> Result<vouch_tlog::tree::Tree<SledNodes<'v>>, ProjectError> {
    for record in records {
        let expected = tree.size() + 1;
        if record.position.get() != expected {
            return Err(ProjectError::Gap {
                expected: Position::new(expected),
                found: record.position,
            });
        }
        tree.append(&record.bytes).map_err(tlog::tree_error)?;
    }
    Ok(tree)
}

/// Projects the whole log into a fresh views tree and swaps it in when complete; the old
/// views answer queries until then, and a crash midway leaves them in place.
///
/// # Errors
/// As [`catch_up`].
pub fn rebuild(
    log: &dyn Log,
    views: &mut Views,
    trust: &vouch_rules::Trust,
    progress: &mut dyn FnMut(Position, Position),
) -> Result<CatchUpReport, ProjectError> {
    let old_name = views.tree.name();
    let generation = std::str::from_utf8(&old_name)
        .ok()
        .and_then(|n| n.strip_prefix("views."))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    let new_name = format!("views.{}", generation + 1);
    views
        .db
        .drop_tree(new_name.as_bytes())
        .map_err(ViewsError::from)?;
    let fresh = views
        .db
        .open_tree(new_name.as_bytes())
        .map_err(ViewsError::from)?;
    fresh
        .insert(FORMAT, &VIEW_FORMAT.to_be_bytes())
        .map_err(ViewsError::from)?;
    let mut staging = Views::from_parts(views.db.clone(), fresh);
    if let Some(room) = views.room() {
        staging.guard(room.clone());
    }
    let report = catch_up(log, &staging, trust, progress)?;
    staging
        .db
        .insert(CURRENT, new_name.as_bytes())
        .map_err(ViewsError::from)?;
    staging.db.flush().map_err(ViewsError::from)?;
    views.db.drop_tree(&old_name).map_err(ViewsError::from)?;
    views.tree = staging.tree;
    Ok(report)
}

/// Whether a record sits under the key its event belongs to. The ledger always writes it
/// there; a producer publishing straight onto a stream might not, and an event under a
/// foreign key would mislead whoever reads that key (the chain head is the last record
/// under `chain`), so it is quarantined instead of applied.
fn check_key(event: &Event, key: &str) -> Result<(), String> {
    let expected = event.subject.log_key();
    // Only decisions sit on the chain; anything else there is quarantined (the rule book
    // would refuse it too).
    let fits = match &event.subject {
        Subject::Model(_) if key == "chain" => matches!(event.body, Body::DecisionRecorded(_)),
        _ => key == expected,
    };
    if fits {
        return Ok(());
    }
    Err(format!(
        "the event belongs under key `{expected}` but was logged under `{key}` (on NATS: \
         publish it on subject `<prefix>.{expected}`)"
    ))
}

/// The changes of one batch, held in memory until the atomic commit.
struct Batch<'v> {
    views: &'v Views,
    counts: Counts,
    docs: HashMap<RunId, RunDoc>,
    /// Per run, the metric points of this batch, grouped by series.
    history: HashMap<RunId, BTreeMap<MetricKey, Vec<MetricPoint>>>,
    experiments: HashMap<String, Vec<RunId>>,
    /// Per run, the positions of this batch's events.
    positions: HashMap<RunId, Vec<u64>>,
    /// Registry entries touched by this batch.
    models: HashMap<ModelName, ModelDoc>,
    /// Experiments touched by this batch, by token.
    experiment_docs: HashMap<String, ExperimentDoc>,
    /// Logged models touched by this batch, by id.
    logged_models: HashMap<String, LoggedModelDoc>,
    /// Registered models (the tracker's registry) touched by this batch.
    registered: HashMap<ModelName, RegisteredDoc>,
    /// Decisions added or changed (a review was added) by this batch, by chain index.
    decisions: BTreeMap<u64, DecisionEntry>,
    /// Hashes of the decisions this batch added.
    new_hashes: HashMap<Digest, u64>,
    /// The chain head, once read: `None` until then.
    head: Option<Option<ChainHead>>,
    /// Event ids first seen in this batch, with their positions.
    seen: HashMap<String, u64>,
    /// The log, when the event-id index is kept: only for a log that can hold an id
    /// twice; it confirms an index hit against the id stored there.
    track_ids: Option<&'v dyn Log>,
    /// The log, for the records release records cite (evidence, policies, decisions).
    log: &'v dyn Log,
    /// The trust the rule book judges release records under.
    trust: &'v vouch_rules::Trust,
    /// Signature checks, each signer's key decompressed once.
    verifier: vouch_chain::Verifier,
    /// Ids first seen in this batch: (hash, position).
    new_ids: Vec<(u64, u64)>,
    /// The tree over the log, appended to for every record read (taken out while a
    /// batch is applied: it grows on another thread, see `grow`).
    log_tree: Option<vouch_tlog::tree::Tree<SledNodes<'v>>>,
    writes: sled::Batch,
    applied: u64,
    quarantined: u64,
    duplicates: u64,
}

impl<'v> Batch<'v> {
    fn new(
        views: &'v Views,
        log: &'v dyn Log,
        trust: &'v vouch_rules::Trust,
    ) -> Result<Self, ViewsError> {
        let track_ids = (!log.ids_unique()).then_some(log);
        let log_tree = tlog::open(SledNodes::new(&views.tree)?)?;
        let position = views.position()?.get();
        if log_tree.size() != position {
            return Err(ViewsError::Corrupt {
                key: "mtree".into(),
                reason: format!(
                    "the tree over the log holds {} leaves but the views are at position {position}",
                    log_tree.size()
                ),
            });
        }
        Ok(Batch {
            views,
            counts: views.counts()?,
            docs: HashMap::new(),
            history: HashMap::new(),
            experiments: HashMap::new(),
            positions: HashMap::new(),
            models: HashMap::new(),
            experiment_docs: HashMap::new(),
            logged_models: HashMap::new(),
            registered: HashMap::new(),
            decisions: BTreeMap::new(),
            new_hashes: HashMap::new(),
            head: None,
            seen: HashMap::new(),
            track_ids,
            log,
            trust,
            verifier: vouch_chain::Verifier::default(),
            new_ids: Vec::new(),
            log_tree: Some(log_tree),
            writes: sled::Batch::default(),
            applied: 0,
            quarantined: 0,
            duplicates: 0,
        })
    }

    fn quarantine(&mut self, record: &Record, reason: String) {
        tracing::warn!(position = record.position.get(), event_id = %record.event_id, %reason, "quarantined");
        let entry = QuarantineEntry {
            position: record.position.get(),
            event_id: record.event_id.clone(),
            key: record.key.to_string(),
            reason,
            size: record.bytes.len() as u64,
        };
        self.writes
            .insert(quarantine_key(entry.position), encode_value(&entry));
        self.counts.quarantined += 1;
        self.quarantined += 1;
    }

    fn load_doc(&mut self, run: &RunId, position: u64) -> Result<(), ViewsError> {
        if !self.docs.contains_key(run) {
            let doc = match self.views.run(run)? {
                Some(doc) => doc,
                None => {
                    self.counts.runs += 1;
                    RunDoc::new(run.clone(), position)
                }
            };
            self.docs.insert(run.clone(), doc);
        }
        Ok(())
    }

    /// Whether `record` repeats an event id already seen: with the same key and bytes it is
    /// a late retry, counted and skipped; with other content it is quarantined (one event
    /// id names one content, and the first record with an id stands). Otherwise remembers
    /// its id.
    fn skip_duplicate(&mut self, record: &Record) -> Result<bool, ProjectError> {
        let hash = crate::ids::id_hash(&record.event_id);
        let first = match self.seen.get(&record.event_id) {
            Some(&position) => {
                Some(self.record_at(position, &record.event_id)?.ok_or_else(|| {
                    LogError::Corrupt {
                        position: Position::new(position),
                        reason: format!(
                            "the record with id `{}` read there moments ago is gone",
                            record.event_id
                        ),
                    }
                })?)
            }
            None => self.first_record(&record.event_id, hash)?,
        };
        let Some(first) = first else {
            self.seen
                .insert(record.event_id.clone(), record.position.get());
            self.new_ids.push((hash, record.position.get()));
            return Ok(false);
        };
        if first.key != record.key || first.bytes != record.bytes {
            let reason = format!(
                "event id `{}` is already at position {} with other content (another key or \
                 other bytes); the record at position {} is not applied, the first stands",
                record.event_id, first.position, record.position
            );
            self.quarantine(record, reason);
            return Ok(true);
        }
        tracing::info!(
            position = record.position.get(),
            first = first.position.get(),
            event_id = %record.event_id,
            "skipped a duplicate of an earlier record"
        );
        self.counts.duplicates += 1;
        self.duplicates += 1;
        Ok(true)
    }

    /// The record the views first saw with `event_id`, confirming each index candidate
    /// against the id the log holds there.
    fn first_record(&self, event_id: &str, hash: u64) -> Result<Option<Record>, ProjectError> {
        if self.track_ids.is_none() {
            return Ok(None);
        }
        for candidate in self.views.id_candidates(hash)? {
            if let Some(found) = self.record_at(candidate, event_id)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The log's record at `position`, if it is there and carries `event_id`.
    fn record_at(&self, position: u64, event_id: &str) -> Result<Option<Record>, ProjectError> {
        let Some(log) = self.track_ids else {
            return Ok(None);
        };
        let found = log.read(Position::new(position), 1)?.into_iter().next();
        Ok(found.filter(|r| r.position.get() == position && r.event_id == event_id))
    }

    fn apply(&mut self, record: &Record) -> Result<(), ProjectError> {
        if record.event_id.is_empty() {
            self.quarantine(
                record,
                "the record has no event id: publish it on `<prefix>.run.<run id>` (or \
                 `<prefix>.model.<model>`) with a Nats-Msg-Id header equal to the event's id"
                    .to_owned(),
            );
            return Ok(());
        }
        // A log that deduplicates only within a window (JetStream) can hold a late retry
        // twice; the first record with an id wins, whatever became of it. A log whose ids
        // are unique needs no index (one sled insert per record halves projection).
        if self.track_ids.is_some() && self.skip_duplicate(record)? {
            return Ok(());
        }
        let event = match vouch_event::decode(&record.bytes) {
            Ok(event) => event,
            Err(e) => {
                self.quarantine(record, e.to_string());
                return Ok(());
            }
        };
        if event.id.as_str() != record.event_id {
            let reason = format!(
                "the log record's id `{}` differs from the event's id `{}`",
                record.event_id, event.id
            );
            self.quarantine(record, reason);
            return Ok(());
        }
        if let Err(reason) = check_key(&event, record.key.as_str()) {
            self.quarantine(record, reason);
            return Ok(());
        }
        match self.apply_event(&event, record.key.as_str(), record.position.get())? {
            Ok(()) => {
                self.counts.applied += 1;
                self.applied += 1;
            }
            Err(reason) => self.quarantine(record, reason),
        }
        Ok(())
    }

    /// Applies one decoded event. The inner `Err` is a reason to quarantine it.
    fn apply_event(
        &mut self,
        event: &Event,
        key: &str,
        position: u64,
    ) -> Result<Result<(), String>, ProjectError> {
        let run = match &event.subject {
            Subject::Run(run) => run,
            Subject::Model(model) if is_registry(&event.body) => {
                return self.apply_registry(event, model, position);
            }
            Subject::Model(model) => return self.apply_release(event, model, key, position),
            Subject::Experiment(experiment) => {
                return self.apply_experiment(event, experiment, position);
            }
        };
        // A logged model's id names one model across the ledger: a second creation under
        // another run is refused before the run document changes.
        if let Body::LoggedModelCreated(b) = &event.body {
            if let Some(existing) = self.logged_model(&b.model_id)? {
                return Ok(Err(format!(
                    "logged model {} already exists (created by run {} at position {})",
                    b.model_id, existing.run, existing.position
                )));
            }
        }
        self.load_doc(run, position)?;
        match self.positions.get_mut(run) {
            Some(positions) => positions.push(position),
            None => {
                self.positions.insert(run.clone(), vec![position]);
            }
        }
        let Batch {
            docs,
            history,
            experiments,
            writes,
            counts,
            ..
        } = self;
        let doc = docs.get_mut(run).expect("loaded above");
        if let Err(reason) = doc.apply(event, position) {
            return Ok(Err(reason));
        }
        // What the run document does not hold: the experiment list, metric history, the
        // artifact index and the totals.
        match &event.body {
            Body::RunStarted(b) => {
                experiments
                    .entry(b.experiment.clone())
                    .or_default()
                    .push(run.clone());
                if let Ok(name) = vouch_event::ExperimentName::new(b.experiment.clone()) {
                    let token = name.token();
                    if self.experiment_doc(&token)?.is_none() {
                        let doc = ExperimentDoc::new(name, event.time, position);
                        self.experiment_docs.insert(token, doc);
                    }
                }
            }
            Body::MetricPoints(b) => {
                let series = history.entry(run.clone()).or_default();
                for p in &b.points {
                    let key = MetricKey {
                        name: p.key.clone(),
                        segment: None,
                    };
                    series.entry(key).or_default().push(MetricPoint {
                        step: Some(p.step),
                        value: p.value.0,
                        time: p.time,
                        position,
                    });
                }
                counts.metric_values += b.points.len() as u64;
            }
            Body::LoggedModelCreated(b) => {
                let doc = LoggedModelDoc {
                    model_id: b.model_id.clone(),
                    run: run.clone(),
                    name: b.name.clone(),
                    model_type: b.model_type.clone(),
                    status: vouch_event::ModelStatus::Pending,
                    params: b.params.clone(),
                    tags: b.tags.clone(),
                    created: event.time,
                    updated: event.time,
                    position,
                };
                self.logged_models.insert(b.model_id.clone(), doc);
            }
            Body::LoggedModelUpdated(b) => {
                let Some(mut doc) = self.logged_model(&b.model_id)? else {
                    unreachable!("the run document holds only models it created")
                };
                if let Some(status) = b.status {
                    doc.status = status;
                }
                for (k, v) in &b.params {
                    doc.params.entry(k.clone()).or_insert_with(|| v.clone());
                }
                doc.tags.extend(b.tags.clone());
                doc.updated = doc.updated.max(event.time);
                self.logged_models.insert(b.model_id.clone(), doc);
            }
            Body::MetricsLogged(b) => {
                let series = history.entry(run.clone()).or_default();
                for (name, &value) in &b.metrics {
                    let key = MetricKey {
                        name: name.clone(),
                        segment: b.segment.clone(),
                    };
                    series.entry(key).or_default().push(MetricPoint {
                        step: b.step,
                        value,
                        time: event.time,
                        position,
                    });
                }
                counts.metric_values += b.metrics.len() as u64;
            }
            Body::ArtifactLogged(b) => {
                let entry = doc.artifacts.last().expect("applied above").clone();
                let reference = ArtifactRef {
                    run: run.clone(),
                    artifact: entry,
                };
                writes.insert(
                    artifact_key(&b.digest, run, position),
                    encode_value(&reference),
                );
                if let Some(sha256) = &b.sha256 {
                    // Both ways: a user may name the artifact by its sha256, and the
                    // attestation exporter asks a BLAKE3 digest for its sha256.
                    writes.insert(sha256_key(&sha256.0), encode_value(&b.digest));
                    writes.insert(blake3_to_sha256_key(&b.digest), encode_value(&sha256.0));
                }
                counts.artifacts += 1;
            }
            Body::DatasetBound(_) => counts.datasets += 1,
            _ => {}
        }
        Ok(Ok(()))
    }

    fn experiment_doc(&self, token: &str) -> Result<Option<ExperimentDoc>, ViewsError> {
        match self.experiment_docs.get(token) {
            Some(doc) => Ok(Some(doc.clone())),
            None => self.views.experiment(token),
        }
    }

    fn logged_model(&self, model_id: &str) -> Result<Option<LoggedModelDoc>, ViewsError> {
        match self.logged_models.get(model_id) {
            Some(doc) => Ok(Some(doc.clone())),
            None => self.views.logged_model(model_id),
        }
    }

    /// Applies `experiment_created` or an experiment's `tags_set`.
    fn apply_experiment(
        &mut self,
        event: &Event,
        experiment: &vouch_event::ExperimentName,
        position: u64,
    ) -> Result<Result<(), String>, ProjectError> {
        let token = experiment.token();
        let existing = self.experiment_doc(&token)?;
        let doc = match (&event.body, existing) {
            (Body::ExperimentCreated(b), None) => {
                let mut doc = ExperimentDoc::new(experiment.clone(), event.time, position);
                doc.tags.extend(b.tags.clone());
                doc
            }
            (Body::ExperimentCreated(_), Some(doc)) => {
                return Ok(Err(format!(
                    "experiment `{experiment}` already exists (since position {})",
                    doc.position
                )));
            }
            (Body::TagsSet(b), existing) => {
                let mut doc = existing.unwrap_or_else(|| {
                    ExperimentDoc::new(experiment.clone(), event.time, position)
                });
                for key in &b.deleted {
                    doc.tags.remove(key);
                }
                doc.tags.extend(b.set.clone());
                doc.updated = doc.updated.max(event.time);
                doc.last_position = position;
                doc
            }
            (_, _) => {
                return Ok(Err(format!(
                    "kind {} does not concern an experiment",
                    event.kind()
                )));
            }
        };
        self.experiment_docs.insert(token, doc);
        Ok(Ok(()))
    }

    /// Applies a registry event (`model_registered`, `model_version_created`, a model's
    /// `tags_set`, `alias_moved`).
    fn apply_registry(
        &mut self,
        event: &Event,
        model: &ModelName,
        position: u64,
    ) -> Result<Result<(), String>, ProjectError> {
        if !self.registered.contains_key(model) {
            let doc = match self.views.registered(model)? {
                Some(doc) => doc,
                None => RegisteredDoc::new(model.clone(), event.time),
            };
            self.registered.insert(model.clone(), doc);
        }
        let doc = self.registered.get_mut(model).expect("inserted above");
        let mut changed = doc.clone();
        if let Err(reason) = changed.apply(event, position) {
            return Ok(Err(reason));
        }
        *doc = changed;
        Ok(Ok(()))
    }

    fn model_doc(&mut self, model: &ModelName) -> Result<&mut ModelDoc, ViewsError> {
        if !self.models.contains_key(model) {
            let doc = self
                .views
                .model(model)?
                .unwrap_or_else(|| ModelDoc::new(model.clone()));
            self.models.insert(model.clone(), doc);
        }
        Ok(self.models.get_mut(model).expect("inserted above"))
    }

    fn chain_head(&mut self) -> Result<Option<ChainHead>, ViewsError> {
        if self.head.is_none() {
            self.head = Some(self.views.chain_head()?);
        }
        Ok(self.head.expect("loaded above"))
    }

    /// The decision with this hash, from this batch or the store, loaded into the batch
    /// so changes to it are written at commit.
    fn decision_by_hash(
        &mut self,
        hash: &Digest,
    ) -> Result<Option<&mut DecisionEntry>, ViewsError> {
        let index = match self.new_hashes.get(hash) {
            Some(&index) => Some(index),
            None => match self.views.decision_by_hash(hash)? {
                Some(entry) => {
                    let index = entry.index;
                    self.decisions.entry(index).or_insert(entry);
                    Some(index)
                }
                None => None,
            },
        };
        Ok(index.and_then(|i| self.decisions.get_mut(&i)))
    }

    /// Applies a policy, decision, review, deployment or live observation. Decisions,
    /// reviews and deployments are judged by the rule book (`vouch-rules`) under the
    /// trust the views are projected with; what it refuses is quarantined with the rule.
    fn apply_release(
        &mut self,
        event: &Event,
        model: &ModelName,
        key: &str,
        position: u64,
    ) -> Result<Result<(), String>, ProjectError> {
        match &event.body {
            Body::PolicyPublished(b) => {
                // The same text published twice is one policy: the first event is kept.
                if self.views.policy(&b.digest)?.is_none() {
                    let entry = PolicyEntry {
                        model: model.clone(),
                        version: b.version.clone(),
                        digest: b.digest,
                        position,
                        time: event.time,
                    };
                    self.writes
                        .insert(policy_key(&b.digest), encode_value(&entry));
                    self.counts.policies += 1;
                }
            }
            Body::DecisionRecorded(_)
            | Body::ReviewRecorded(_)
            | Body::DeploymentRecorded(_)
            | Body::DeploymentSigned(_) => {
                let mut verifier = std::mem::take(&mut self.verifier);
                let (log, trust) = (self.log, self.trust);
                let verdict = judge_release(self, log, event, key, position, trust, &mut verifier);
                self.verifier = verifier;
                match verdict? {
                    Ok(hash) => self.accept_release(event, model, position, hash)?,
                    Err(v) => return Ok(Err(v.to_string())),
                }
            }
            Body::LiveMetricsObserved(b) => {
                let entry = LiveObservation {
                    model: model.clone(),
                    env: b.env.clone(),
                    artifact: b.artifact,
                    metrics: b.metrics.clone(),
                    segment: b.segment.clone(),
                    window_start: b.window_start,
                    window_end: b.window_end,
                    labels_through: b.labels_through,
                    count: b.count,
                    time: event.time,
                    producer: event.producer.to_string(),
                    event_id: event.id.to_string(),
                    position,
                };
                self.writes
                    .insert(live_key(model, position), encode_value(&entry));
                self.counts.live_observations += 1;
            }
            _ => {
                return Ok(Err(format!(
                    "kind {} concerns a run, not model {model}",
                    event.kind()
                )));
            }
        }
        Ok(Ok(()))
    }

    /// Writes what an accepted decision, review or deployment changes in the views.
    fn accept_release(
        &mut self,
        event: &Event,
        model: &ModelName,
        position: u64,
        hash: Digest,
    ) -> Result<(), ViewsError> {
        match &event.body {
            Body::DecisionRecorded(d) => {
                let resolves = d.review.as_ref().map(|link| link.decision);
                if let Some(link) = &d.review {
                    if let Some(t) = self.decision_by_hash(&link.decision)? {
                        t.resolved_by = Some(d.index);
                    }
                }
                let entry = DecisionEntry {
                    index: d.index,
                    hash,
                    position,
                    model: model.clone(),
                    run: d.run.clone(),
                    baseline: d.baseline.clone(),
                    outcome: d.outcome,
                    artifacts: d.artifacts.clone(),
                    policy: d.policy,
                    policy_version: d.policy_version.clone(),
                    decided_at: d.decided_at,
                    signer: vouch_chain::key_id(&d.signer),
                    signer_key: d.signer,
                    resolves,
                    resolved_by: None,
                    reviews: Vec::new(),
                };
                self.decisions.insert(d.index, entry);
                self.new_hashes.insert(hash, d.index);
                self.head = Some(Some(ChainHead {
                    index: d.index,
                    hash,
                    position,
                    decided_at: d.decided_at,
                }));
                self.counts.decisions += 1;
                let doc = self.model_doc(model)?;
                doc.decisions.push(d.index);
                if d.outcome == DecisionOutcome::Promoted {
                    doc.production = Some(d.index);
                    doc.versions.push(d.index);
                    for artifact in &d.artifacts {
                        self.writes.insert(promotion_key(artifact, d.index), &[]);
                    }
                }
            }
            Body::ReviewRecorded(r) => {
                let target = self
                    .decision_by_hash(&r.decision)?
                    .expect("the rule book accepted a review of a known decision");
                target.reviews.push(ReviewEntry {
                    hash,
                    position,
                    verdict: r.verdict,
                    reviewer: r.reviewer.clone(),
                    reason: r.reason.clone(),
                    reviewed_at: r.reviewed_at,
                    signer: vouch_chain::key_id(&r.signer),
                    signer_key: r.signer,
                });
                self.counts.reviews += 1;
            }
            Body::DeploymentSigned(b) => {
                let entry = DeploymentEntry {
                    model: model.clone(),
                    env: b.env.clone(),
                    artifact: b.artifact,
                    decision: b.decision,
                    forced: b.forced,
                    reason: b.reason.clone(),
                    time: b.deployed_at,
                    producer: event.producer.to_string(),
                    position,
                    hash,
                    signer: vouch_chain::key_id(&b.signer),
                    signer_key: b.signer,
                };
                self.writes
                    .insert(deployment_key(&b.artifact, position), encode_value(&entry));
                self.model_doc(model)?.deployments.push(entry);
                self.counts.deployments += 1;
            }
            _ => {
                unreachable!("the rule book accepts only decisions, reviews and signed deployments")
            }
        }
        Ok(())
    }

    fn commit(mut self, position: Position) -> Result<(), ViewsError> {
        let log_tree = self
            .log_tree
            .take()
            .expect("put back after the batch was applied");
        debug_assert_eq!(log_tree.size(), position.get());
        log_tree.store().write_into(&mut self.writes);
        for (run, positions) in &self.positions {
            self.writes
                .insert(positions_key(run, positions[0]), encode_value(positions));
        }
        for (index, entry) in &self.decisions {
            self.writes
                .insert(decision_key(*index), encode_value(entry));
        }
        for (hash, index) in &self.new_hashes {
            self.writes
                .insert(decision_hash_key(hash), &index.to_be_bytes());
        }
        for (model, doc) in &self.models {
            self.writes.insert(model_key(model), encode_value(doc));
        }
        for (token, doc) in &self.experiment_docs {
            self.writes
                .insert(experiment_doc_key(token), encode_value(doc));
        }
        for (id, doc) in &self.logged_models {
            self.writes.insert(logged_model_key(id), encode_value(doc));
        }
        for (model, doc) in &self.registered {
            self.writes.insert(registered_key(model), encode_value(doc));
        }
        if let Some(Some(head)) = &self.head {
            self.writes.insert(CHAIN_HEAD, encode_value(head));
        }
        for (run, doc) in &self.docs {
            self.writes.insert(run_key(run), encode_value(doc));
        }
        let mut latest: HashMap<&MetricKey, Vec<(RunId, f64)>> = HashMap::new();
        for (run, series) in &self.history {
            let first = series
                .values()
                .flatten()
                .map(|p| p.position)
                .min()
                .expect("non-empty");
            let mut k = history_prefix(run);
            k.extend_from_slice(&first.to_be_bytes());
            let chunk: Vec<(&MetricKey, &Vec<MetricPoint>)> = series.iter().collect();
            self.writes.insert(k, encode_value(&chunk));
            let doc = &self.docs[run];
            for key in series.keys() {
                latest
                    .entry(key)
                    .or_default()
                    .push((run.clone(), doc.metrics[key].value));
            }
        }
        for (key, updates) in latest {
            let k = metric_index_key(key);
            let mut values: std::collections::BTreeMap<RunId, f64> =
                match self.views.tree.get(&k)? {
                    Some(v) => decode_value::<Vec<(RunId, f64)>>(&k, &v)?
                        .into_iter()
                        .collect(),
                    None => Default::default(),
                };
            values.extend(updates);
            let values: Vec<(RunId, f64)> = values.into_iter().collect();
            self.writes.insert(k, encode_value(&values));
        }
        for (experiment, runs) in &self.experiments {
            let k = experiment_key(experiment);
            let mut all: std::collections::BTreeSet<RunId> = match self.views.tree.get(&k)? {
                Some(v) => decode_value::<Vec<RunId>>(&k, &v)?.into_iter().collect(),
                None => Default::default(),
            };
            all.extend(runs.iter().cloned());
            self.writes
                .insert(k, encode_value(&all.into_iter().collect::<Vec<_>>()));
        }
        if let Some(&(_, first)) = self.new_ids.first() {
            self.writes.insert(
                crate::ids::id_chunk_key(first),
                crate::ids::encode_chunk(&self.new_ids),
            );
        }
        self.writes.insert(COUNTS, encode_value(&self.counts));
        self.writes
            .insert(TRUST, self.trust.fingerprint().as_bytes().as_slice());
        self.writes.insert(POSITION, &position.get().to_be_bytes());
        self.views.tree.apply_batch(self.writes)?;
        self.views.remember_ids(&self.new_ids);
        Ok(())
    }
}

impl ChainState for Batch<'_> {
    fn head(&mut self) -> Result<Option<vouch_rules::Tip>, ProjectError> {
        Ok(self.chain_head()?.map(|h| vouch_rules::Tip {
            index: h.index,
            hash: h.hash,
            decided_at: h.decided_at,
        }))
    }

    fn decision(&mut self, hash: &Digest) -> Result<Option<DecisionEntry>, ProjectError> {
        Ok(self.decision_by_hash(hash)?.map(|d| d.clone()))
    }

    fn log_root(&mut self, size: u64) -> Result<Option<[u8; 32]>, ProjectError> {
        match &self.log_tree {
            Some(tree) => crate::judge::root_of(tree, size),
            None => Ok(None),
        }
    }
}
