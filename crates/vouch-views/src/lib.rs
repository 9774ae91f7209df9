//! Views: the log folded into queryable state in sled, and the projector that folds it.
//!
//! Architecture invariants:
//! - Views are derived data. Deleting them and projecting the log again gives the same
//!   answers ([`Views::dump`] is how tests compare).
//! - The projector's position is written in the same atomic sled batch as the view
//!   changes it caused, so a crash at any point leaves views that match a prefix of the
//!   log exactly, and a restart continues from there: no event is applied twice or
//!   skipped.
//! - Only this crate (and the embedded log backend) imports `sled`.
//!
//! Layout of a views tree (keys; every value is a format byte then bincode):
//! `r`+run → [`RunDoc`]; `e`+experiment → the experiment's run ids;
//! `h`+run+`\0`+first position (u64 BE) → the run's metric points from one batch, by series;
//! `x`+metric+`\0`+segment → every run's latest value of that series;
//! `a`+digest+run+`\0`+position → [`ArtifactRef`]; `s`+sha256 → the artifact's BLAKE3
//! digest and `S`+BLAKE3 digest → its sha256 (artifacts logged with one); `z`+run+`\0`+first position → the
//! run's event positions from one batch; `q`+position → [`QuarantineEntry`];
//! `P`+policy digest → [`PolicyEntry`]; `d`+chain index → [`DecisionEntry`]; `D`+record
//! hash → chain index; `g`+model → [`ModelDoc`] (the registry); `y`+artifact digest+position
//! → [`DeploymentEntry`]; `A`+artifact digest+chain index → () for each promotion;
//! `o`+model+`\0`+position → [`LiveObservation`] (live metrics of a deployed model, in log
//! order per model); `i`+first position → the
//! (id hash, position) pairs of the ids one batch saw first (only for logs that can hold an
//! id twice, see `ids.rs`); `T`+level+chunk → 256 node hashes of the tree over the log
//! and `mtree` its leaf count (see `tlog.rs`); `mposition`, `mcounts`, `mformat`, `mchain` ([`ChainHead`]). Values are grouped so that one projection batch costs a few sled
//! writes per run touched, not one per metric value: sled's per-key insert rate is the
//! bottleneck on these machines. The default tree names the current views tree, so a rebuild
//! projects into a fresh tree and swaps it in only when complete.
#![deny(missing_docs)]

mod ids;
mod judge;
mod model;
mod project;
mod query;
mod release;
mod tlog;
mod tracking;

use std::path::Path;

pub use model::{
    ArtifactEntry, ArtifactRef, Counts, DatasetEntry, Finished, InputEntry, LatestMetric,
    MetricKey, MetricPoint, ModelOutput, ParamValue, QuarantineEntry, RunDoc, Started,
};
pub use project::{catch_up, catch_up_to, rebuild, CatchUpReport, ProjectError, BATCH_RECORDS};
pub use query::{Comparison, Condition, ConditionError, RunOrder, RunPage, RunQuery};
pub use release::{
    ChainHead, DecisionEntry, DeploymentEntry, LiveObservation, ModelDoc, PolicyEntry, ReviewEntry,
};
pub use tlog::{SledNodes, CHUNK as TREE_CHUNK};
pub use tracking::{AliasEntry, ExperimentDoc, LoggedModelDoc, RegisteredDoc, VersionDoc};

use vouch_event::{Digest, ModelName, RunId};
use vouch_log::Position;

/// How long a flush of the views may take before the command gives up on it.
pub const FLUSH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// The layout version of the views. A store written with another version is rebuilt.
pub const VIEW_FORMAT: u32 = 10;
const VALUE_FORMAT: u8 = 1;

const CURRENT: &[u8] = b"current";
const POSITION: &[u8] = b"mposition";
const COUNTS: &[u8] = b"mcounts";
const FORMAT: &[u8] = b"mformat";
const CHAIN_HEAD: &[u8] = b"mchain";
/// The fingerprint of the trust list release records were judged under.
const TRUST: &[u8] = b"mtrust";
/// The identity of the log the views were projected from (`Log::identity`). Kept in the
/// store's default tree, so it outlives the generation a rebuild replaces.
const LOG_IDENTITY: &[u8] = b"log-identity";

/// The views store failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewsError {
    /// sled failed or refused (another process holds the store).
    #[error("views store failed")]
    Storage(#[from] sled::Error),
    /// A stored value does not decode; `vouch rebuild` recreates the views from the log.
    #[error("views store is damaged at key {key}: {reason} (run `vouch rebuild`)")]
    Corrupt {
        /// The key, escaped.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl ViewsError {
    /// Whether sled refused because another handle still holds its file lock (see
    /// `vouch_log_embedded::OpenError::is_lock_contention`).
    pub fn is_lock_contention(&self) -> bool {
        matches!(self, ViewsError::Storage(sled::Error::Io(e)) if vouch_log::is_store_lock_error(e))
    }
}

/// Why a digest a user typed names no artifact ([`Views::resolve_artifact`]).
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Neither `blake3:<hex>` nor `sha256:<hex>`.
    #[error("{0}")]
    Invalid(String),
    /// A well-formed sha256 no logged artifact carries.
    #[error(
        "no artifact with {0} has been logged (a sha256 names an artifact only once \
         `vouch log artifact` or the artifact proxy recorded it; older artifacts are named \
         by their blake3 digest)"
    )]
    UnknownSha256(vouch_event::Sha256),
    /// The views store failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
}

/// The views store.
pub struct Views {
    db: sled::Db,
    tree: sled::Tree,
    /// The event-id index in memory, loaded on first use (see `ids.rs`).
    ids: std::sync::Mutex<Option<ids::IdIndex>>,
    /// Checked before each projected batch: sled can stall or be left unreadable by a
    /// disk that fills midway, so projection stops short of full (see `Views::guard`).
    room: Option<Room>,
}

/// Free space the projector requires on a disk before writing a batch.
#[derive(Debug, Clone)]
pub struct Room {
    /// A path on the disk.
    pub dir: std::path::PathBuf,
    /// The free bytes required.
    pub bytes: u64,
}

impl Room {
    /// The one check of free space before Vouch writes (the ledger before appending, the
    /// projector before each batch): an error of kind `StorageFull`, saying so, when the
    /// disk holding `dir` has less than `bytes` free.
    ///
    /// # Errors
    /// When there is too little room, or the file system cannot say.
    pub fn check(&self) -> std::io::Result<()> {
        let free = fs2::available_space(&self.dir)?;
        if free < self.bytes {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "the disk is full: {:.1} MiB free under {}, and Vouch writes there only with at least {} MiB free (the views store, sled, cannot recover from running out midway); nothing more was written: free space and retry",
                    free as f64 / (1u64 << 20) as f64,
                    self.dir.display(),
                    self.bytes >> 20
                ),
            ));
        }
        Ok(())
    }
}

fn encode_value<T: bincode::Encode>(value: &T) -> Vec<u8> {
    let mut out = vec![VALUE_FORMAT];
    bincode::encode_into_std_write(value, &mut out, bincode::config::standard())
        .expect("writing to a Vec cannot fail");
    out
}

fn decode_value<T: bincode::Decode<()>>(key: &[u8], bytes: &[u8]) -> Result<T, ViewsError> {
    let corrupt = |reason: String| ViewsError::Corrupt {
        key: String::from_utf8_lossy(key).escape_debug().to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((&VALUE_FORMAT, rest)) => {
            bincode::decode_from_slice(rest, bincode::config::standard())
                .map(|(v, _)| v)
                .map_err(|e| corrupt(e.to_string()))
        }
        _ => Err(corrupt("unknown value format".into())),
    }
}

pub(crate) fn be_u64(key: &[u8], bytes: &[u8]) -> Result<u64, ViewsError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| ViewsError::Corrupt {
            key: String::from_utf8_lossy(key).into_owned(),
            reason: "expected 8 bytes".into(),
        })
}

pub(crate) fn run_key(run: &RunId) -> Vec<u8> {
    let mut k = vec![b'r'];
    k.extend_from_slice(run.as_str().as_bytes());
    k
}

pub(crate) fn history_prefix(run: &RunId) -> Vec<u8> {
    let mut k = vec![b'h'];
    k.extend_from_slice(run.as_str().as_bytes());
    k.push(0);
    k
}

/// The key of a metric series' value index: every run's latest value of that series.
pub(crate) fn metric_index_key(key: &MetricKey) -> Vec<u8> {
    let mut k = vec![b'x'];
    k.extend_from_slice(key.name.as_str().as_bytes());
    k.push(0);
    if let Some(segment) = &key.segment {
        k.extend_from_slice(segment.as_str().as_bytes());
    }
    k
}

pub(crate) fn experiment_key(experiment: &str) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(experiment.as_bytes());
    k
}

pub(crate) fn artifact_key(digest: &Digest, run: &RunId, position: u64) -> Vec<u8> {
    let mut k = vec![b'a'];
    k.extend_from_slice(digest.as_bytes());
    k.extend_from_slice(run.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&position.to_be_bytes());
    k
}

/// `s`+sha256: the BLAKE3 digest of the artifact logged with that sha256.
pub(crate) fn sha256_key(sha256: &[u8; 32]) -> Vec<u8> {
    let mut k = vec![b's'];
    k.extend_from_slice(sha256);
    k
}

/// `S`+BLAKE3 digest: the sha256 an artifact with that digest was logged with.
pub(crate) fn blake3_to_sha256_key(digest: &Digest) -> Vec<u8> {
    let mut k = vec![b'S'];
    k.extend_from_slice(digest.as_bytes());
    k
}

pub(crate) fn positions_key(run: &RunId, first: u64) -> Vec<u8> {
    let mut k = vec![b'z'];
    k.extend_from_slice(run.as_str().as_bytes());
    k.push(0);
    k.extend_from_slice(&first.to_be_bytes());
    k
}

pub(crate) fn policy_key(digest: &Digest) -> Vec<u8> {
    let mut k = vec![b'P'];
    k.extend_from_slice(digest.as_bytes());
    k
}

pub(crate) fn decision_key(index: u64) -> Vec<u8> {
    let mut k = vec![b'd'];
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn decision_hash_key(hash: &Digest) -> Vec<u8> {
    let mut k = vec![b'D'];
    k.extend_from_slice(hash.as_bytes());
    k
}

pub(crate) fn promotion_key(artifact: &Digest, index: u64) -> Vec<u8> {
    let mut k = vec![b'A'];
    k.extend_from_slice(artifact.as_bytes());
    k.extend_from_slice(&index.to_be_bytes());
    k
}

pub(crate) fn model_key(model: &ModelName) -> Vec<u8> {
    let mut k = vec![b'g'];
    k.extend_from_slice(model.as_str().as_bytes());
    k
}

pub(crate) fn deployment_key(artifact: &Digest, position: u64) -> Vec<u8> {
    let mut k = vec![b'y'];
    k.extend_from_slice(artifact.as_bytes());
    k.extend_from_slice(&position.to_be_bytes());
    k
}

pub(crate) fn live_prefix(model: &ModelName) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(model.as_str().as_bytes());
    k.push(0);
    k
}

pub(crate) fn live_key(model: &ModelName, position: u64) -> Vec<u8> {
    let mut k = live_prefix(model);
    k.extend_from_slice(&position.to_be_bytes());
    k
}

pub(crate) fn quarantine_key(position: u64) -> Vec<u8> {
    let mut k = vec![b'q'];
    k.extend_from_slice(&position.to_be_bytes());
    k
}

impl Views {
    /// Opens (creating if needed) the views store in `dir`.
    ///
    /// # Errors
    /// When sled cannot open it.
    pub fn open(dir: &Path) -> Result<Self, ViewsError> {
        // No background flusher: a command lives milliseconds and the ledger flushes the
        // views when it closes (they are derived, so this is about restart speed only);
        // starting sled's flusher thread was a visible part of every command's cost.
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .flush_every_ms(None)
            .open()?;
        let name = match db.get(CURRENT)? {
            Some(name) => name.to_vec(),
            None => {
                db.insert(CURRENT, b"views.0")?;
                b"views.0".to_vec()
            }
        };
        let tree = db.open_tree(&name)?;
        if tree.is_empty() {
            tree.insert(FORMAT, &VIEW_FORMAT.to_be_bytes())?;
        }
        Ok(Views::from_parts(db, tree))
    }

    /// A throwaway views store (sled's temporary mode: removed when dropped), for state
    /// projected as of an earlier log position.
    ///
    /// # Errors
    /// When sled cannot create it.
    pub fn temporary() -> Result<Self, ViewsError> {
        let db = sled::Config::new()
            .temporary(true)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        db.insert(CURRENT, b"views.0")?;
        let tree = db.open_tree(b"views.0")?;
        tree.insert(FORMAT, &VIEW_FORMAT.to_be_bytes())?;
        Ok(Views::from_parts(db, tree))
    }

    /// Whether the store was written by this version's layout. When not, rebuild.
    ///
    /// # Errors
    /// When sled fails.
    pub fn is_current_format(&self) -> Result<bool, ViewsError> {
        Ok(self.tree.get(FORMAT)?.as_deref() == Some(&VIEW_FORMAT.to_be_bytes()[..]))
    }

    /// Whether the release records in these views were judged under `trust`: views
    /// projected under another trust list (a key trusted or revoked since) are rebuilt,
    /// since the rule book's verdicts depend on it. Empty views fit any trust.
    ///
    /// # Errors
    /// When sled fails.
    pub fn judged_under(&self, trust: &vouch_rules::Trust) -> Result<bool, ViewsError> {
        if self.position()?.get() == 0 {
            return Ok(true);
        }
        Ok(self.tree.get(TRUST)?.as_deref() == Some(trust.fingerprint().as_bytes().as_slice()))
    }

    /// The identity of the log these views were projected from, if recorded.
    ///
    /// # Errors
    /// When sled fails.
    pub fn log_identity(&self) -> Result<Option<String>, ViewsError> {
        Ok(self
            .db
            .get(LOG_IDENTITY)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Records which log these views are projected from.
    ///
    /// # Errors
    /// When sled fails.
    pub fn set_log_identity(&self, identity: &str) -> Result<(), ViewsError> {
        self.db.insert(LOG_IDENTITY, identity.as_bytes())?;
        Ok(())
    }

    pub(crate) fn from_parts(db: sled::Db, tree: sled::Tree) -> Self {
        Views {
            db,
            tree,
            ids: std::sync::Mutex::new(None),
            room: None,
        }
    }

    /// Makes the projector check for `room` before each batch it writes.
    pub fn guard(&mut self, room: Room) {
        self.room = Some(room);
    }

    pub(crate) fn room(&self) -> Option<&Room> {
        self.room.as_ref()
    }

    /// An error when the guarded disk has less room than required.
    pub(crate) fn check_room(&self) -> Result<(), ViewsError> {
        match &self.room {
            Some(room) => room
                .check()
                .map_err(|e| ViewsError::Storage(sled::Error::Io(e))),
            None => Ok(()),
        }
    }

    /// Positions whose record may carry `event_id`, among the ids the projector has seen
    /// (kept only for logs that can hold an id twice). The index keys ids by a 64-bit hash,
    /// so the caller confirms a candidate against the id stored in the log.
    ///
    /// # Errors
    /// When the store fails.
    pub fn event_candidates(&self, event_id: &str) -> Result<Vec<u64>, ViewsError> {
        self.id_candidates(ids::id_hash(event_id))
    }

    /// As [`Views::event_candidates`], for an id already hashed.
    pub(crate) fn id_candidates(&self, hash: u64) -> Result<Vec<u64>, ViewsError> {
        let mut loaded = self.ids.lock().expect("not poisoned");
        if loaded.is_none() {
            let mut index = ids::IdIndex::default();
            for entry in self.tree.scan_prefix([b'i']) {
                let (k, v) = entry?;
                for (hash, position) in ids::decode_chunk(&k, &v)? {
                    index.insert(hash, position);
                }
            }
            *loaded = Some(index);
        }
        Ok(loaded.as_ref().expect("loaded above").candidates(hash))
    }

    /// Adds a committed batch's ids to the in-memory index, if it is loaded.
    pub(crate) fn remember_ids(&self, pairs: &[(u64, u64)]) {
        if let Some(index) = self.ids.lock().expect("not poisoned").as_mut() {
            for &(hash, position) in pairs {
                index.insert(hash, position);
            }
        }
    }

    /// The last log position applied.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn position(&self) -> Result<Position, ViewsError> {
        Ok(Position::new(match self.tree.get(POSITION)? {
            Some(v) => be_u64(POSITION, &v)?,
            None => 0,
        }))
    }

    /// The RFC 6962 tree over the log as projected: one leaf per record (applied,
    /// quarantined or skipped alike) up to the views' position, leaf `p − 1` hashing the
    /// exact bytes stored at position `p`. Read-only: only the projector appends.
    ///
    /// # Errors
    /// When sled fails or the stored tree is damaged (a rebuild recreates it).
    pub fn log_tree(&self) -> Result<vouch_tlog::tree::Tree<SledNodes<'_>>, ViewsError> {
        tlog::open(SledNodes::new(&self.tree)?)
    }

    /// Totals.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn counts(&self) -> Result<Counts, ViewsError> {
        match self.tree.get(COUNTS)? {
            Some(v) => decode_value(COUNTS, &v),
            None => Ok(Counts::default()),
        }
    }

    /// One run's document.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn run(&self, run: &RunId) -> Result<Option<RunDoc>, ViewsError> {
        let key = run_key(run);
        self.tree
            .get(&key)?
            .map(|v| decode_value(&key, &v))
            .transpose()
    }

    /// Every value of one metric series, in log order.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn history(&self, run: &RunId, key: &MetricKey) -> Result<Vec<MetricPoint>, ViewsError> {
        let mut points = Vec::new();
        for entry in self.tree.scan_prefix(history_prefix(run)) {
            let (k, v) = entry?;
            let chunk: Vec<(MetricKey, Vec<MetricPoint>)> = decode_value(&k, &v)?;
            points.extend(
                chunk
                    .into_iter()
                    .filter(|(series, _)| series == key)
                    .flat_map(|(_, p)| p),
            );
        }
        Ok(points)
    }

    /// Every value of each series in `keys`, in log order, read in one scan of the run's
    /// history (calling [`Views::history`] once per series reads every chunk once per
    /// series). A series the run never logged maps to no points.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn histories(
        &self,
        run: &RunId,
        keys: &std::collections::BTreeSet<MetricKey>,
    ) -> Result<std::collections::BTreeMap<MetricKey, Vec<MetricPoint>>, ViewsError> {
        let mut out: std::collections::BTreeMap<MetricKey, Vec<MetricPoint>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        if keys.is_empty() {
            return Ok(out);
        }
        for entry in self.tree.scan_prefix(history_prefix(run)) {
            let (k, v) = entry?;
            let chunk: Vec<(MetricKey, Vec<MetricPoint>)> = decode_value(&k, &v)?;
            for (series, points) in chunk {
                if let Some(list) = out.get_mut(&series) {
                    list.extend(points);
                }
            }
        }
        Ok(out)
    }

    /// Every run that logged an artifact with this digest, in log order per run.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn artifacts(&self, digest: &Digest) -> Result<Vec<ArtifactRef>, ViewsError> {
        let mut prefix = vec![b'a'];
        prefix.extend_from_slice(digest.as_bytes());
        self.tree
            .scan_prefix(prefix)
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    /// The sha256 an artifact with this BLAKE3 digest was logged with, if any was (events
    /// from before `sha256` existed carry none). Two events naming the same BLAKE3 with
    /// different sha256s cannot both be honest; the later one projected is kept.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn artifact_sha256(&self, digest: &Digest) -> Result<Option<[u8; 32]>, ViewsError> {
        self.get(&blake3_to_sha256_key(digest))
    }

    /// The BLAKE3 digest of the artifact logged with this sha256, if any was.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn artifact_by_sha256(&self, sha256: &[u8; 32]) -> Result<Option<Digest>, ViewsError> {
        self.get(&sha256_key(sha256))
    }

    /// The one place a digest a user typed names an artifact: `blake3:<hex>` (or bare hex)
    /// as it is, `sha256:<hex>` through the sha256 index.
    ///
    /// # Errors
    /// [`ResolveError::Invalid`] for text that is neither form, [`ResolveError::UnknownSha256`]
    /// when no logged artifact has that sha256, or the store failing.
    pub fn resolve_artifact(&self, text: &str) -> Result<Digest, ResolveError> {
        let text = text.trim();
        if text.starts_with("sha256:") {
            let sha256 = vouch_event::Sha256::parse(text).map_err(ResolveError::Invalid)?;
            return self
                .artifact_by_sha256(&sha256.0)?
                .ok_or(ResolveError::UnknownSha256(sha256));
        }
        Digest::parse(text).map_err(|e| {
            ResolveError::Invalid(format!(
                "{e}, or `sha256:` followed by 64 lowercase hex characters"
            ))
        })
    }

    /// Log positions of every event of `run` applied so far, ascending.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn run_positions(&self, run: &RunId) -> Result<Vec<u64>, ViewsError> {
        let mut prefix = vec![b'z'];
        prefix.extend_from_slice(run.as_str().as_bytes());
        prefix.push(0);
        let mut out = Vec::new();
        for entry in self.tree.scan_prefix(prefix) {
            let (k, v) = entry?;
            out.extend(decode_value::<Vec<u64>>(&k, &v)?);
        }
        Ok(out)
    }

    /// A policy by digest.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn policy(&self, digest: &Digest) -> Result<Option<PolicyEntry>, ViewsError> {
        self.get(&policy_key(digest))
    }

    /// A decision by chain index.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn decision(&self, index: u64) -> Result<Option<DecisionEntry>, ViewsError> {
        self.get(&decision_key(index))
    }

    /// A decision by its record hash.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn decision_by_hash(&self, hash: &Digest) -> Result<Option<DecisionEntry>, ViewsError> {
        let key = decision_hash_key(hash);
        match self.tree.get(&key)? {
            Some(v) => self.decision(be_u64(&key, &v)?),
            None => Ok(None),
        }
    }

    /// Decisions whose hash starts with `prefix` (hex), at most `limit`.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn decisions_by_hash_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<DecisionEntry>, ViewsError> {
        let mut out = Vec::new();
        // Whole bytes of the prefix narrow the scan; the odd nibble is checked after.
        let whole: Vec<u8> = (0..prefix.len() / 2)
            .filter_map(|i| u8::from_str_radix(prefix.get(i * 2..i * 2 + 2)?, 16).ok())
            .collect();
        let mut key = vec![b'D'];
        key.extend_from_slice(&whole);
        for entry in self.tree.scan_prefix(key) {
            let (k, v) = entry?;
            if vouch_event::hex(&k[1..]).starts_with(prefix) {
                if let Some(d) = self.decision(be_u64(&k, &v)?)? {
                    out.push(d);
                }
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Every decision from chain index `from` on, at most `limit`.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn decisions(&self, from: u64, limit: usize) -> Result<Vec<DecisionEntry>, ViewsError> {
        self.tree
            .range(decision_key(from)..decision_key(u64::MAX))
            .take(limit)
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    /// Chain indexes of the decisions that promoted `artifact`, oldest first.
    ///
    /// # Errors
    /// When sled fails or a key is damaged.
    pub fn promotions(&self, artifact: &Digest) -> Result<Vec<u64>, ViewsError> {
        let mut prefix = vec![b'A'];
        prefix.extend_from_slice(artifact.as_bytes());
        self.tree
            .scan_prefix(&prefix)
            .map(|entry| {
                let (k, _) = entry?;
                be_u64(&k, &k[prefix.len()..])
            })
            .collect()
    }

    /// The last decision applied.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn chain_head(&self) -> Result<Option<ChainHead>, ViewsError> {
        self.get(CHAIN_HEAD)
    }

    /// A model's registry entry.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn model(&self, model: &ModelName) -> Result<Option<ModelDoc>, ViewsError> {
        self.get(&model_key(model))
    }

    /// Every model with releases, by name.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn models(&self) -> Result<Vec<ModelDoc>, ViewsError> {
        self.tree
            .scan_prefix([b'g'])
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    /// Every deployment of an artifact, in log order.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn deployments(&self, artifact: &Digest) -> Result<Vec<DeploymentEntry>, ViewsError> {
        let mut prefix = vec![b'y'];
        prefix.extend_from_slice(artifact.as_bytes());
        self.tree
            .scan_prefix(prefix)
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    /// Every live observation of `model`, in log order.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn live_observations(&self, model: &ModelName) -> Result<Vec<LiveObservation>, ViewsError> {
        self.tree
            .scan_prefix(live_prefix(model))
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    fn get<T: bincode::Decode<()>>(&self, key: &[u8]) -> Result<Option<T>, ViewsError> {
        self.tree
            .get(key)?
            .map(|v| decode_value(key, &v))
            .transpose()
    }

    /// Quarantined records from `from` on, at most `limit`.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn quarantine(
        &self,
        from: Position,
        limit: usize,
    ) -> Result<Vec<QuarantineEntry>, ViewsError> {
        self.tree
            .range(quarantine_key(from.get())..quarantine_key(u64::MAX))
            .take(limit)
            .map(|entry| {
                let (k, v) = entry?;
                decode_value(&k, &v)
            })
            .collect()
    }

    /// Makes the views durable. Views are rebuildable, so this is about restart speed,
    /// not about losing facts.
    ///
    /// # Errors
    /// When sled fails.
    pub fn flush(&self) -> Result<(), ViewsError> {
        self.flush_within(FLUSH_DEADLINE)
    }

    /// Flushes, giving up after `deadline`: sled waits forever for a write its I/O thread
    /// could not make (a full disk), and a command must end, not hang holding the ledger.
    /// On timeout the flushing thread is left behind holding its own handle, so closing
    /// these views does not wait on it either; the views are derived, and the next open
    /// projects them again if they are left unreadable.
    ///
    /// # Errors
    /// When sled fails, or does not finish within `deadline`.
    pub fn flush_within(&self, deadline: std::time::Duration) -> Result<(), ViewsError> {
        let db = self.db.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("views flush".into())
            .spawn(move || {
                let _ = tx.send(db.flush().map(|_| ()));
            })
            .map_err(|e| ViewsError::Storage(sled::Error::Io(e)))?;
        match rx.recv_timeout(deadline) {
            Ok(result) => Ok(result?),
            Err(_) => {
                // Keep a handle alive for good, so dropping the views does not flush again.
                std::mem::forget(self.db.clone());
                Err(ViewsError::Storage(sled::Error::Io(std::io::Error::other(
                    format!(
                    "the views store did not finish writing within {deadline:?} (is the disk full?)"
                ),
                ))))
            }
        }
    }

    /// Every answer the views can give, as canonical JSON: runs with every metric's full
    /// history, the artifact index, the quarantine, totals and position. Two stores that
    /// dump equal answer every query equally; the rebuild and crash tests compare dumps.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn dump(&self) -> Result<serde_json::Value, ViewsError> {
        let mut runs = Vec::new();
        for doc in self.runs(&RunQuery::default())? {
            let mut histories = serde_json::Map::new();
            for key in doc.metrics.keys() {
                let label = match &key.segment {
                    Some(s) => format!("{}[{}]", key.name, s),
                    None => key.name.to_string(),
                };
                histories.insert(
                    label,
                    serde_json::to_value(self.history(&doc.run, key)?).expect("serializable"),
                );
            }
            let mut run = serde_json::to_value(&doc).expect("serializable");
            run["history"] = serde_json::Value::Object(histories);
            runs.push(run);
        }
        let mut artifacts = Vec::new();
        for entry in self.tree.scan_prefix([b'a']) {
            let (k, v) = entry?;
            artifacts.push(
                serde_json::to_value(decode_value::<ArtifactRef>(&k, &v)?).expect("serializable"),
            );
        }
        let mut experiments = Vec::new();
        for entry in self.tree.scan_prefix([b'e']) {
            let (k, v) = entry?;
            let runs: Vec<RunId> = decode_value(&k, &v)?;
            experiments.push(serde_json::json!({
                "experiment": String::from_utf8_lossy(&k[1..]),
                "runs": runs,
            }));
        }
        let mut metric_index = serde_json::Map::new();
        for entry in self.tree.scan_prefix([b'x']) {
            let (k, v) = entry?;
            let values: Vec<(RunId, f64)> = decode_value(&k, &v)?;
            let label = String::from_utf8_lossy(&k[1..]).replace('\0', "|");
            metric_index.insert(label, serde_json::to_value(values).expect("serializable"));
        }
        let mut runs_positions = serde_json::Map::new();
        for doc in self.runs(&RunQuery::default())? {
            runs_positions.insert(
                doc.run.to_string(),
                serde_json::to_value(self.run_positions(&doc.run)?).expect("serializable"),
            );
        }
        let mut policies = Vec::new();
        for entry in self.tree.scan_prefix([b'P']) {
            let (k, v) = entry?;
            policies.push(
                serde_json::to_value(decode_value::<PolicyEntry>(&k, &v)?).expect("serializable"),
            );
        }
        let mut deployments = Vec::new();
        for entry in self.tree.scan_prefix([b'y']) {
            let (k, v) = entry?;
            deployments.push(
                serde_json::to_value(decode_value::<DeploymentEntry>(&k, &v)?)
                    .expect("serializable"),
            );
        }
        let mut live = Vec::new();
        for entry in self.tree.scan_prefix([b'o']) {
            let (k, v) = entry?;
            live.push(
                serde_json::to_value(decode_value::<LiveObservation>(&k, &v)?)
                    .expect("serializable"),
            );
        }
        // Batches differ between incremental projection and a rebuild; the pairs do not.
        let mut event_ids = Vec::new();
        for entry in self.tree.scan_prefix([b'i']) {
            let (k, v) = entry?;
            event_ids.extend(ids::decode_chunk(&k, &v)?);
        }
        event_ids.sort_unstable_by_key(|&(hash, position)| (position, hash));
        let event_ids: Vec<String> = event_ids
            .iter()
            .map(|(hash, position)| format!("{position}:{hash:016x}"))
            .collect();
        let mut sha256_index = serde_json::Map::new();
        for entry in self.tree.scan_prefix([b's']) {
            let (k, v) = entry?;
            let digest: Digest = decode_value(&k, &v)?;
            sha256_index.insert(vouch_event::hex(&k[1..]), serde_json::json!(digest));
        }
        for entry in self.tree.scan_prefix([b'S']) {
            let (k, v) = entry?;
            let sha256: [u8; 32] = decode_value(&k, &v)?;
            sha256_index.insert(
                format!("blake3:{}", vouch_event::hex(&k[1..])),
                serde_json::json!(vouch_event::hex(&sha256)),
            );
        }
        let log_tree = self.log_tree()?;
        Ok(serde_json::json!({
            "sha256_index": sha256_index,
            "tree": { "size": log_tree.size(), "root": log_tree.root().to_hex() },
            "event_ids": event_ids,
            "deployments": deployments,
            "live": live,
            "position": self.position()?.get(),
            "counts": self.counts()?,
            "runs": runs,
            "experiments": experiments,
            "metric_index": metric_index,
            "artifacts": artifacts,
            "quarantine": self.quarantine(Position::ZERO, usize::MAX)?,
            "decisions": self.decisions(0, usize::MAX)?,
            "models": self.models()?,
            "chain_head": self.chain_head()?,
            "run_positions": runs_positions,
            "policies": policies,
        }))
    }
}
