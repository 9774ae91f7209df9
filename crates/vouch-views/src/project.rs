//! The projector: reads the log from the views' position and applies records in batches,
//! each batch one atomic sled write that includes the new position.

use std::collections::{BTreeMap, HashMap};

use vouch_event::{Body, Event, RunId};
use vouch_log::{Log, LogError, Position, Record};

use crate::{
    artifact_key, decode_value, encode_value, experiment_key, history_prefix, metric_index_key,
    quarantine_key, run_key, ArtifactEntry, ArtifactRef, Counts, DatasetEntry, Finished,
    LatestMetric, MetricKey, MetricPoint, ParamValue, QuarantineEntry, RunDoc, Started, Views,
    ViewsError, COUNTS, CURRENT, FORMAT, POSITION, VIEW_FORMAT,
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
}

/// Applies every record after the views' position, in batches of [`BATCH_RECORDS`].
/// `progress` is told the position reached and the log's end after every batch.
///
/// # Errors
/// When reading the log or writing the views fails, or the views are ahead of the log.
pub fn catch_up(
    log: &dyn Log,
    views: &Views,
    progress: &mut dyn FnMut(Position, Position),
) -> Result<CatchUpReport, ProjectError> {
    let start = views.position()?;
    let end = log.last_position()?;
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
    loop {
        let records = log.read(report.to.next(), BATCH_RECORDS)?;
        let Some(last) = records.last() else { break };
        let last = last.position;
        let mut batch = Batch::new(views)?;
        for record in records {
            batch.apply(record)?;
        }
        report.applied += batch.applied;
        report.quarantined += batch.quarantined;
        batch.commit(last)?;
        report.to = last;
        progress(last, end.max(last));
    }
    Ok(report)
}

/// Projects the whole log into a fresh views tree and swaps it in when complete; the old
/// views answer queries until then, and a crash midway leaves them in place.
///
/// # Errors
/// As [`catch_up`].
pub fn rebuild(
    log: &dyn Log,
    views: &mut Views,
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
    let staging = Views {
        db: views.db.clone(),
        tree: fresh,
    };
    let report = catch_up(log, &staging, progress)?;
    staging
        .db
        .insert(CURRENT, new_name.as_bytes())
        .map_err(ViewsError::from)?;
    staging.db.flush().map_err(ViewsError::from)?;
    views.db.drop_tree(&old_name).map_err(ViewsError::from)?;
    views.tree = staging.tree;
    Ok(report)
}

/// The changes of one batch, held in memory until the atomic commit.
struct Batch<'v> {
    views: &'v Views,
    counts: Counts,
    docs: HashMap<RunId, RunDoc>,
    /// Per run, the metric points of this batch, grouped by series.
    history: HashMap<RunId, BTreeMap<MetricKey, Vec<MetricPoint>>>,
    experiments: HashMap<String, Vec<RunId>>,
    writes: sled::Batch,
    applied: u64,
    quarantined: u64,
}

impl<'v> Batch<'v> {
    fn new(views: &'v Views) -> Result<Self, ViewsError> {
        Ok(Batch {
            views,
            counts: views.counts()?,
            docs: HashMap::new(),
            history: HashMap::new(),
            experiments: HashMap::new(),
            writes: sled::Batch::default(),
            applied: 0,
            quarantined: 0,
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

    fn apply(&mut self, record: Record) -> Result<(), ViewsError> {
        let event = match vouch_event::decode(&record.bytes) {
            Ok(event) => event,
            Err(e) => {
                self.quarantine(&record, e.to_string());
                return Ok(());
            }
        };
        if event.id.as_str() != record.event_id {
            let reason = format!(
                "the log record's id `{}` differs from the event's id `{}`",
                record.event_id, event.id
            );
            self.quarantine(&record, reason);
            return Ok(());
        }
        match self.apply_event(&event, record.position.get())? {
            Ok(()) => {
                self.counts.applied += 1;
                self.applied += 1;
            }
            Err(reason) => self.quarantine(&record, reason),
        }
        Ok(())
    }

    /// Applies one decoded event. The inner `Err` is a reason to quarantine it.
    fn apply_event(
        &mut self,
        event: &Event,
        position: u64,
    ) -> Result<Result<(), String>, ViewsError> {
        let Some(run) = event.run() else {
            return Ok(Err(format!(
                "kind {} is not applied by this version",
                event.kind()
            )));
        };
        self.load_doc(run, position)?;
        let Batch {
            docs,
            history,
            experiments,
            writes,
            counts,
            ..
        } = self;
        let doc = docs.get_mut(run).expect("loaded above");
        match &event.body {
            Body::RunStarted(b) => {
                if let Some(started) = &doc.started {
                    return Ok(Err(format!(
                        "run {run} already started at position {}",
                        started.position
                    )));
                }
                doc.started = Some(Started {
                    experiment: b.experiment.clone(),
                    name: b.name.clone(),
                    git: b.git.clone(),
                    env: b.env.clone(),
                    time: event.time,
                    producer: event.producer.to_string(),
                    position,
                });
                experiments
                    .entry(b.experiment.clone())
                    .or_default()
                    .push(run.clone());
            }
            Body::ParamsLogged(b) => {
                for (name, value) in &b.params {
                    doc.params.insert(
                        name.clone(),
                        ParamValue {
                            value: value.clone(),
                            position,
                        },
                    );
                }
            }
            Body::MetricsLogged(b) => {
                if !history.contains_key(run) {
                    history.insert(run.clone(), BTreeMap::new());
                }
                let series = history.get_mut(run).expect("inserted above");
                for (name, &value) in &b.metrics {
                    let key = MetricKey {
                        name: name.clone(),
                        segment: b.segment.clone(),
                    };
                    match doc.metrics.get_mut(&key) {
                        Some(latest) => {
                            latest.value = value;
                            latest.step = b.step;
                            latest.time = event.time;
                            latest.position = position;
                            latest.count += 1;
                        }
                        None => {
                            let latest = LatestMetric {
                                name: name.clone(),
                                segment: b.segment.clone(),
                                value,
                                step: b.step,
                                time: event.time,
                                position,
                                count: 1,
                            };
                            doc.metrics.insert(key.clone(), latest);
                        }
                    }
                    let point = MetricPoint {
                        step: b.step,
                        value,
                        time: event.time,
                        position,
                    };
                    match series.get_mut(&key) {
                        Some(points) => points.push(point),
                        None => {
                            series.insert(key, vec![point]);
                        }
                    }
                }
                counts.metric_values += b.metrics.len() as u64;
            }
            Body::ArtifactLogged(b) => {
                let entry = ArtifactEntry {
                    name: b.name.clone(),
                    digest: b.digest,
                    size: b.size,
                    uri: b.uri.clone(),
                    position,
                };
                doc.artifacts.push(entry.clone());
                let reference = ArtifactRef {
                    run: run.clone(),
                    artifact: entry,
                };
                writes.insert(
                    artifact_key(&b.digest, run, position),
                    encode_value(&reference),
                );
                counts.artifacts += 1;
            }
            Body::DatasetBound(b) => {
                doc.datasets.push(DatasetEntry {
                    role: b.role,
                    name: b.name.clone(),
                    digest: b.digest,
                    rows: b.rows,
                    snapshot_at: b.snapshot_at,
                    labels_through: b.labels_through,
                    uri: b.uri.clone(),
                    position,
                });
                counts.datasets += 1;
            }
            Body::RunFinished(b) => {
                if let Some(finished) = &doc.finished {
                    return Ok(Err(format!(
                        "run {run} already finished ({}) at position {}",
                        finished.status.as_str(),
                        finished.position
                    )));
                }
                doc.finished = Some(Finished {
                    status: b.status,
                    time: event.time,
                    position,
                });
            }
            Body::PolicyPublished(_)
            | Body::DecisionRecorded(_)
            | Body::ReviewRecorded(_)
            | Body::DeploymentRecorded(_) => {
                // `Event::check` ties these kinds to a model subject, handled above.
                return Ok(Err(format!(
                    "kind {} concerns a model, not run {run}",
                    event.kind()
                )));
            }
        }
        doc.events += 1;
        doc.last_position = position;
        Ok(Ok(()))
    }

    fn commit(mut self, position: Position) -> Result<(), ViewsError> {
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
        self.writes.insert(COUNTS, encode_value(&self.counts));
        self.writes.insert(POSITION, &position.get().to_be_bytes());
        self.views.tree.apply_batch(self.writes)?;
        Ok(())
    }
}
