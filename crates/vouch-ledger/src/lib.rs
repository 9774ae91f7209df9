//! A Vouch ledger: one directory holding a marker, a lock, the log and the views.
//!
//! ```text
//! .vouch/
//!   ledger.json   marker: format and backend (and for NATS: URL, stream, prefix)
//!   LOCK          held (flock) by the one process using the ledger; holds its pid
//!   log/          the embedded log (checksummed segments + derived index); absent for NATS
//!   views/        the views (sled), derived from the log
//! ```
//!
//! With the NATS backend the log is a JetStream stream shared by many machines, and the
//! directory is this machine's views of it: any number of directories can follow one
//! stream, each catching up on its own.
//!
//! Every command goes through [`Ledger`]: appends are flushed to the log before they are
//! acknowledged, then projected into the views. Processes that find the ledger busy wait
//! their turn, up to a bounded time.

mod bundle;
mod export;
mod follow;
mod lock;
mod migrate;
mod pins;
mod release;
mod tree;
mod trust;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vouch_event::{Event, Timestamp};
use vouch_log::{Appended, Log, LogError, LogKey, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;
use vouch_log_nats::NatsLog;
use vouch_views::{CatchUpReport, Counts, ProjectError, Views, ViewsError};

pub use bundle::{
    verify_bundle, verify_bundle_in_log, Bundle, BundleLog, BundleRecord, ProvingCheckpoint,
    BUNDLE_FORMAT, BUNDLE_FORMAT_V2, MAX_BUNDLE_BYTES,
};
pub use export::{
    root_of_log, write_export, ExportError, ExportHeader, ExportedLog, EXPORT_FORMAT,
    MAX_EXPORT_BYTES,
};
pub use follow::{follow, FollowOptions, FollowReport};
pub use lock::{lock_waiters_path, others_waiting, DirLock};
pub use migrate::{MigrateError, MigrateReport};
pub use release::{
    chain_key, sign_draft, verify_log, AuditReport, Check, DecisionDraft, DecisionJudged, Failure,
    Recorded, ReleaseError, ReviewState, VerifyReport,
};
pub use tree::{ProofError, TreeHead, TreeVerdict};
pub use trust::{Revocation, Role, Trust, TrustChangeError, TrustError, TrustFile, TrustedKey};
pub use vouch_log_nats::{NatsError, NatsOptions, DUPLICATE_WINDOW};

const MARKER: &str = "ledger.json";
const FORMAT: u32 = 1;

/// Vouch writes only while the disk holding the ledger has this much room: the log cuts
/// back a write that fails for space, but the views store (sled) can stall or be left
/// unreadable by one, so writes stop short of full. Exit 74 below it.
pub const MIN_FREE_BYTES: u64 = 16 << 20;

/// The projector writes the views only with this much room: less than the log needs, so
/// whatever the log accepted can still be projected (a slice of an ingest, a decision)
/// and reads keep answering after a write was refused for space.
pub const MIN_FREE_TO_PROJECT: u64 = 4 << 20;

/// How long a command waits for another process to release the ledger, by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the views as of an earlier position could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AsOfError {
    /// The position is past the end of the log.
    #[error("position {position} is beyond the log's end (its last position is {last})")]
    Beyond {
        /// What was asked for.
        position: Position,
        /// The log's last position.
        last: Position,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Projecting failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The temporary store failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
}

/// Why a ledger could not be opened or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No directory there.
    #[error("no ledger at {0}: run `vouch init` first (or point --ledger / VOUCH_LEDGER at one)")]
    Missing(PathBuf),
    /// The path is a file.
    #[error("{0} is a file, not a ledger directory")]
    NotADirectory(PathBuf),
    /// A directory without the marker.
    #[error("{0} is not a Vouch ledger (it has no {MARKER}); `vouch init` creates one in an empty or new directory")]
    NotALedger(PathBuf),
    /// `init` in a non-empty directory that is not a ledger.
    #[error("{0} is not empty and not a Vouch ledger; choose an empty or new directory")]
    NotEmpty(PathBuf),
    /// The marker is damaged or from another version.
    #[error("{path} is not a ledger this version reads: {reason}")]
    BadMarker {
        /// The marker file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Another process kept the ledger for longer than the timeout.
    #[error("ledger {dir} is busy: {holder} has held it for over {waited:?}; try again, or raise VOUCH_LOCK_TIMEOUT")]
    Busy {
        /// The ledger.
        dir: PathBuf,
        /// Who holds it, as far as the lock file says.
        holder: String,
        /// How long this process waited.
        waited: Duration,
    },
    /// Filesystem failure.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The log could not be opened.
    #[error(transparent)]
    Log(#[from] vouch_log_embedded::OpenError),
    /// The NATS stream could not be reached or is unsafe.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// `vouch serve` on a ledger whose log is embedded.
    #[error("ledger {0} keeps its log on this machine (embedded): every command projects what it writes, so there is nothing to follow; `vouch serve` follows a NATS stream")]
    NothingToFollow(PathBuf),
    /// `--nats` given for a ledger whose log is embedded.
    #[error("ledger {0} keeps its log on this machine (embedded), so --nats / VOUCH_NATS_URL does not apply; `vouch migrate --to URL` copies it into a stream")]
    EmbeddedNotNats(PathBuf),
    /// The views could not be opened.
    #[error(transparent)]
    Views(#[from] ViewsError),
    /// Bringing the views up to date failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The trust list could not be read.
    #[error(transparent)]
    Trust(#[from] TrustError),
    /// The marker records an embedded log but the log's directory is gone.
    #[error("the log of ledger {dir} is missing ({log} does not exist), though the ledger recorded {recorded}; views are at position {views}. Restore the log from a backup: an empty log is never assumed")]
    LogMissing {
        /// The ledger.
        dir: PathBuf,
        /// The log's directory.
        log: PathBuf,
        /// The identity the ledger recorded.
        recorded: String,
        /// The views' position.
        views: u64,
    },
    /// The log is not the one this ledger (or its views) recorded: a log replaced by
    /// another, a stream deleted and recreated, or a views directory pointed at another
    /// server's stream of the same name.
    #[error("ledger {dir}: {what} recorded log {recorded}, but the log found is {found}; refusing to project one log's records onto another's views. If the new log is the one meant, `vouch rebuild` adopts it")]
    OtherLog {
        /// The ledger.
        dir: PathBuf,
        /// Who recorded the identity: `the marker` or `the views`.
        what: &'static str,
        /// The identity recorded.
        recorded: String,
        /// The identity of the log found.
        found: String,
    },
    /// The views have seen more of the log than the log holds now: it lost records.
    #[error("ledger {dir}: the views have applied the log up to position {views}, but the log ends at {log}: records were lost from the log (restored from an older backup, or a stream that lost unsynced messages). Nothing was projected; `vouch rebuild` projects the log as it is now")]
    LogShrank {
        /// The ledger.
        dir: PathBuf,
        /// The views' position.
        views: u64,
        /// The log's last position.
        log: u64,
    },
}

/// Why an append failed. Nothing was acknowledged; retrying with the same event ids is
/// safe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The events were stored, but projecting them failed; the next command retries.
    #[error("events stored, but updating the views failed: {0}")]
    Project(#[from] ProjectError),
}

/// How to open a ledger.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// How long to wait for another process to release the ledger.
    pub lock_timeout: Duration,
    /// Server URL(s) of a NATS log: for `init`, makes the ledger a NATS one; for `open`,
    /// overrides the URL recorded at init (the stream and prefix stay the recorded ones).
    /// `None`: the ledger's recorded backend.
    pub nats_url: Option<String>,
    /// Credentials, TLS and timeout for NATS, and for `init` the stream, prefix and
    /// replicas. Its `url` and `create` are set from the above.
    pub nats: NatsOptions,
    /// For `vouch rebuild`: accept the log as it is now (another identity, fewer
    /// records than the views saw), record it, and project it from scratch.
    pub adopt_log: bool,
    /// For `vouch verify`: open a ledger whose log holds fewer records than the views
    /// saw, leaving the views exactly as they are (no projection, no rebuild), so the
    /// views' tree can locate the first record that differs.
    pub inspect_shrunk_log: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            nats_url: None,
            nats: NatsOptions::new(String::new()),
            adopt_log: false,
            inspect_shrunk_log: false,
        }
    }
}

impl OpenOptions {
    /// Options for a NATS ledger at `url` with default settings.
    pub fn nats(url: impl Into<String>) -> Self {
        OpenOptions {
            nats_url: Some(url.into()),
            ..OpenOptions::default()
        }
    }
}

/// What `init` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initialised {
    /// A new ledger was created.
    Created,
    /// The directory already was a ledger; nothing changed.
    AlreadyThere,
}

/// The state `vouch status` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The ledger directory.
    pub ledger: PathBuf,
    /// The log backend: `embedded` or `nats`.
    pub backend: &'static str,
    /// For NATS: the stream followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// What the log is (`Log::identity`): the embedded log's id, or a stream's name and
    /// creation time.
    pub log_identity: String,
    /// The log's last position.
    pub log_position: u64,
    /// The views' position.
    pub view_position: u64,
    /// View totals.
    pub counts: Counts,
}

/// [`Status`] as read back from its JSON: the backend named by any string.
#[derive(serde::Deserialize)]
struct StatusRead {
    ledger: PathBuf,
    backend: String,
    #[serde(default)]
    stream: Option<String>,
    log_identity: String,
    log_position: u64,
    view_position: u64,
    counts: Counts,
}

impl<'de> serde::Deserialize<'de> for Status {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = StatusRead::deserialize(d)?;
        let backend = ["embedded", "nats"]
            .into_iter()
            .find(|known| *known == s.backend)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown log backend `{}` (expected embedded or nats)",
                    s.backend
                ))
            })?;
        Ok(Status {
            ledger: s.ledger,
            backend,
            stream: s.stream,
            log_identity: s.log_identity,
            log_position: s.log_position,
            view_position: s.view_position,
            counts: s.counts,
        })
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Marker {
    format: u32,
    backend: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nats: Option<NatsMarker>,
    /// The log's identity (`Log::identity`), recorded when the ledger is made (or first
    /// opened by a version that records it), so another log is never taken for this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    log: Option<String>,
}

fn write_marker(dir: &Path, marker: &Marker) -> Result<(), OpenError> {
    let text = serde_json::to_string_pretty(marker).expect("serializable");
    let path = dir.join(MARKER);
    let tmp = dir.join(format!("{MARKER}.tmp"));
    let write = || -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut &file, (text + "\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(io("writing", &path))
}

/// Where a NATS ledger's stream is; credentials are never written here.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NatsMarker {
    url: String,
    stream: String,
    prefix: String,
}

/// The log under a ledger.
#[derive(Clone)]
pub enum Backend {
    /// sled in `log/`.
    Embedded(Arc<EmbeddedLog>),
    /// A JetStream stream.
    Nats(Arc<NatsLog>),
}

impl Backend {
    fn log(&self) -> &dyn Log {
        match self {
            Backend::Embedded(log) => log.as_ref(),
            Backend::Nats(log) => log.as_ref(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Embedded(_) => "embedded",
            Backend::Nats(_) => "nats",
        }
    }
}

/// An open ledger. Holds the directory lock until dropped.
pub struct Ledger {
    dir: PathBuf,
    log: Backend,
    views: Views,
    /// The trust list the views' release records are judged under (`trust.json`).
    trust: Trust,
    /// The views' position once opened: a command that projected nothing since has
    /// nothing of its own to flush when it closes (a read costs no sled flush).
    clean_at: Option<Position>,
    _lock: DirLock,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> OpenError + 'a {
    move |source| OpenError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// The log key an event is appended under.
pub fn log_key(event: &Event) -> LogKey {
    LogKey::new(event.subject.log_key())
        .expect("run ids, model names and experiment tokens are valid key tokens")
}

/// The log record for an event: its canonical binary form. Every event the ledger
/// appends goes through here, so an event over the size limit
/// ([`vouch_event::encode_checked`]) is refused on every write path, before the log.
///
/// # Errors
/// [`LogError::TooLarge`] when the encoded event is over
/// [`vouch_event::MAX_EVENT_BYTES`] (1 MiB).
pub fn record(event: &Event) -> Result<NewRecord, LogError> {
    let bytes = vouch_event::encode_checked(event).map_err(|e| LogError::TooLarge {
        event_id: e.event_id,
        size: e.size,
        limit: e.limit,
    })?;
    Ok(NewRecord {
        event_id: event.id.to_string(),
        key: log_key(event),
        bytes,
    })
}

/// Whether two events state the same facts: equal but for the envelope's time.
fn same_but_time(a: &Event, b: &Event) -> bool {
    // Compared whole but for the time, so a field added to events later counts too.
    let b = Event {
        time: a.time,
        ..b.clone()
    };
    *a == b
}

/// Opens the views, starting them afresh when the store cannot be read (they are derived
/// from the log). Returns whether they were started afresh, so the caller rebuilds.
fn open_views(views_dir: &Path, deadline: Instant) -> Result<(Views, bool), OpenError> {
    let parent = views_dir.parent().unwrap_or(views_dir);
    match retry_store_lock(parent, deadline, || Ok(Views::open(views_dir)?)) {
        Ok(views) => match views.is_current_format() {
            Ok(_) => Ok((views, false)),
            Err(e) => {
                drop(views);
                fresh_views(views_dir, &e)
            }
        },
        Err(OpenError::Views(e)) if !e.is_lock_contention() => fresh_views(views_dir, &e),
        Err(e) => Err(e),
    }
}

fn fresh_views(views_dir: &Path, why: &dyn std::fmt::Display) -> Result<(Views, bool), OpenError> {
    tracing::warn!(path = %views_dir.display(), error = %why, "the views store is unreadable; it is derived from the log, so it is removed and projected again");
    let removed = if views_dir.is_dir() {
        std::fs::remove_dir_all(views_dir)
    } else {
        std::fs::remove_file(views_dir)
    };
    removed.map_err(io("removing", views_dir))?;
    Ok((Views::open(views_dir)?, true))
}

/// Whether `dir` holds anything but what an interrupted or concurrent `init` leaves.
fn holds_foreign_files(dir: &Path) -> Result<bool, OpenError> {
    let entries = std::fs::read_dir(dir).map_err(io("reading", dir))?;
    for entry in entries {
        let entry = entry.map_err(io("reading", dir))?;
        let name = entry.file_name();
        // The marker too: another `init` may finish between the caller's look for the
        // marker and this listing; the caller looks again under the lock and finds a ledger.
        let ours = [
            "LOCK",
            "LOCK.waiting",
            "log",
            "views",
            MARKER,
            "ledger.json.tmp",
        ];
        if !ours.iter().any(|o| name == *o) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs `open` until sled no longer reports the file lock of a process that has just
/// exited (sled releases it from a background thread, after the ledger lock).
fn retry_store_lock<T>(
    dir: &Path,
    deadline: Instant,
    open: impl Fn() -> Result<T, OpenError>,
) -> Result<T, OpenError> {
    let mut pause = Duration::from_millis(1);
    loop {
        let attempt = open();
        let contended = match &attempt {
            Err(OpenError::Log(e)) => e.is_lock_contention(),
            Err(OpenError::Views(e)) => e.is_lock_contention(),
            _ => false,
        };
        if !contended {
            return attempt;
        }
        if Instant::now() >= deadline {
            return Err(OpenError::Busy {
                dir: dir.to_owned(),
                holder: "a process that has just exited (its store lock is still held)".into(),
                waited: Duration::ZERO,
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn read_marker(dir: &Path) -> Result<Marker, OpenError> {
    let marker_path = dir.join(MARKER);
    const MARKER_FILE: vouch_files::FileKind =
        vouch_files::FileKind::new("ledger marker", 64 << 10);
    let text = match vouch_files::read_to_string(&marker_path, MARKER_FILE) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OpenError::NotALedger(dir.to_owned()))
        }
        // Not a regular file, too large, not UTF-8: a damaged marker, not an I/O failure.
        Err(e) if vouch_files::is_refused(&e) || e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(OpenError::BadMarker {
                path: marker_path,
                reason: e.to_string(),
            })
        }
        Err(e) => return Err(io("reading", &marker_path)(e)),
    };
    let bad = |reason: String| OpenError::BadMarker {
        path: marker_path.clone(),
        reason,
    };
    let marker: Marker = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    match (marker.format, marker.backend.as_str(), &marker.nats) {
        (FORMAT, "embedded", None) | (FORMAT, "nats", Some(_)) => Ok(marker),
        _ => Err(bad(format!(
            "format {} with backend `{}` (this version reads format {FORMAT}, backend `embedded` or `nats` with its stream)",
            marker.format, marker.backend
        ))),
    }
}

/// The NATS options for a ledger recorded as `recorded`, with the caller's overrides.
fn nats_options(recorded: &NatsMarker, options: &OpenOptions) -> NatsOptions {
    let mut nats = options.nats.clone();
    nats.url = options
        .nats_url
        .clone()
        .unwrap_or_else(|| recorded.url.clone());
    nats.stream = recorded.stream.clone();
    nats.prefix = recorded.prefix.clone();
    nats.create = false;
    nats
}

fn check_dir(dir: &Path) -> Result<(), OpenError> {
    if !dir.exists() {
        return Err(OpenError::Missing(dir.to_owned()));
    }
    if !dir.is_dir() {
        return Err(OpenError::NotADirectory(dir.to_owned()));
    }
    Ok(())
}

impl Ledger {
    /// Makes `dir` a ledger (creating it if needed). Idempotent on an existing ledger.
    /// With `options.nats_url`, the log is that server's stream (created if absent, checked
    /// if present) and the directory holds this machine's views of it.
    ///
    /// # Errors
    /// When `dir` is a file or a non-empty directory that is not a ledger, the stream is
    /// unreachable or unsafe, or on I/O failure.
    pub fn init(dir: &Path, options: &OpenOptions) -> Result<Initialised, OpenError> {
        Ledger::init_with(dir, options, true)
    }

    fn init_with(
        dir: &Path,
        options: &OpenOptions,
        create_stream: bool,
    ) -> Result<Initialised, OpenError> {
        if dir.is_file() {
            return Err(OpenError::NotADirectory(dir.to_owned()));
        }
        let marker = dir.join(MARKER);
        if marker.exists() {
            // `init` again on a NATS ledger whose stream is gone (a new server, a deleted
            // stream) provisions the recorded stream again, as the error for it advises.
            if let (Some(recorded), true) = (read_marker(dir)?.nats, create_stream) {
                let mut nats = nats_options(&recorded, options);
                nats.create = true;
                NatsLog::connect(&nats)?;
                // Provisioning the recorded stream again is the operator saying that this
                // stream is the ledger's log now.
                let adopt = OpenOptions {
                    adopt_log: true,
                    ..options.clone()
                };
                Ledger::open(dir, &adopt)?;
                return Ok(Initialised::AlreadyThere);
            }
            Ledger::open(dir, options)?;
            return Ok(Initialised::AlreadyThere);
        }
        if dir.exists() && holds_foreign_files(dir)? {
            return Err(OpenError::NotEmpty(dir.to_owned()));
        }
        // Reach the stream before anything is written, so a wrong URL leaves no directory.
        let nats = match &options.nats_url {
            Some(url) => {
                let mut nats = options.nats.clone();
                nats.url = url.clone();
                nats.create = create_stream;
                let log = NatsLog::connect(&nats)?;
                Some((
                    log,
                    NatsMarker {
                        url: url.clone(),
                        stream: nats.stream,
                        prefix: nats.prefix,
                    },
                ))
            }
            None => None,
        };
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        // Several processes may init the same directory at once: one creates the ledger
        // under the lock, the others find it made.
        let lock = DirLock::acquire(dir, options.lock_timeout)?;
        if marker.exists() {
            drop(lock);
            Ledger::open(dir, options)?;
            return Ok(Initialised::AlreadyThere);
        }
        if holds_foreign_files(dir)? {
            return Err(OpenError::NotEmpty(dir.to_owned()));
        }
        // Create the stores before the marker appears, so a ledger is never half made.
        let deadline = Instant::now() + options.lock_timeout;
        let identity = match &nats {
            Some((log, _)) => log.identity().map_err(|e| OpenError::Project(e.into()))?,
            None => {
                let log_dir = dir.join("log");
                if log_dir.exists() {
                    // Left by an init that stopped before the marker: start it again.
                    std::fs::remove_dir_all(&log_dir).map_err(io("removing", &log_dir))?;
                }
                let id = vouch_log_embedded::random_log_id();
                let log =
                    retry_store_lock(dir, deadline, || Ok(EmbeddedLog::create(&log_dir, id)?))?;
                log.flush().map_err(|e| OpenError::Project(e.into()))?;
                log.identity().map_err(|e| OpenError::Project(e.into()))?
            }
        };
        let views = retry_store_lock(dir, deadline, || Ok(Views::open(&dir.join("views"))?))?;
        views.set_log_identity(&identity)?;
        views.flush()?;
        drop(views);
        let (backend, nats) = match nats {
            Some((_, recorded)) => ("nats", Some(recorded)),
            None => ("embedded", None),
        };
        write_marker(
            dir,
            &Marker {
                format: FORMAT,
                backend: backend.into(),
                nats,
                log: Some(identity),
            },
        )?;
        Ok(Initialised::Created)
    }

    /// Opens the ledger in `dir`, waiting up to `options.lock_timeout` for other
    /// processes, and rebuilds the views if they are missing or from another layout.
    /// With `options.nats_url` and no directory yet, creates it for that stream's views.
    ///
    /// # Errors
    /// When `dir` is not a ledger, stays busy, or its stores fail to open.
    pub fn open(dir: &Path, options: &OpenOptions) -> Result<Ledger, OpenError> {
        // With a NATS URL the directory only holds this machine's views: make it on first
        // use, so a pipeline runner needs no `init` (the stream itself must exist).
        if options.nats_url.is_some() && !dir.exists() {
            Ledger::init_with(dir, options, false)?;
        }
        Ledger::open_with(dir, options, None)
    }

    /// Connects to the ledger's log without locking the directory or opening the views:
    /// for a process that follows the log and opens the ledger now and then
    /// ([`Ledger::open_with`]), or copies it.
    ///
    /// # Errors
    /// When `dir` is not a ledger or its log cannot be opened.
    pub fn connect_log(dir: &Path, options: &OpenOptions) -> Result<Backend, OpenError> {
        check_dir(dir)?;
        let marker = read_marker(dir)?;
        match &marker.nats {
            Some(recorded) => Ok(Backend::Nats(Arc::new(NatsLog::connect(&nats_options(
                recorded, options,
            ))?))),
            None if options.nats_url.is_some() => Err(OpenError::EmbeddedNotNats(dir.to_owned())),
            None => {
                let _lock = DirLock::acquire(dir, options.lock_timeout)?;
                let deadline = Instant::now() + options.lock_timeout;
                let log = retry_store_lock(dir, deadline, || {
                    Ok(EmbeddedLog::open_existing(&dir.join("log"))?)
                })?;
                Ok(Backend::Embedded(Arc::new(log)))
            }
        }
    }

    /// Opens the ledger in `dir` as [`Ledger::open`] does, reusing `log` (from
    /// [`Ledger::connect_log`] on the same directory) instead of connecting again.
    ///
    /// # Errors
    /// As [`Ledger::open`].
    pub fn open_with(
        dir: &Path,
        options: &OpenOptions,
        log: Option<Backend>,
    ) -> Result<Ledger, OpenError> {
        check_dir(dir)?;
        let marker = read_marker(dir)?;
        if marker.nats.is_none() && options.nats_url.is_some() {
            return Err(OpenError::EmbeddedNotNats(dir.to_owned()));
        }
        // Connect before taking the lock: it may take a round trip or two.
        let log = match (log, &marker.nats) {
            (Some(log), _) => Some(log),
            (None, Some(recorded)) => Some(Backend::Nats(Arc::new(NatsLog::connect(
                &nats_options(recorded, options),
            )?))),
            (None, None) => None,
        };
        let deadline = Instant::now() + options.lock_timeout;
        let lock = DirLock::acquire(dir, options.lock_timeout)?;
        let views_dir = dir.join("views");
        let (mut views, views_damaged) = open_views(&views_dir, deadline)?;
        views.guard(vouch_views::Room {
            dir: dir.to_owned(),
            bytes: MIN_FREE_TO_PROJECT,
        });
        let log = match log {
            Some(log) => log,
            None => {
                let log_dir = dir.join("log");
                match retry_store_lock(dir, deadline, || Ok(EmbeddedLog::open_existing(&log_dir)?))
                {
                    Ok(log) => Backend::Embedded(Arc::new(log)),
                    Err(OpenError::Log(vouch_log_embedded::OpenError::Missing(_))) => {
                        return Err(OpenError::LogMissing {
                            dir: dir.to_owned(),
                            log: log_dir,
                            recorded: marker
                                .log
                                .clone()
                                .unwrap_or_else(|| "an embedded log".into()),
                            views: views.position().map_or(0, |p| p.get()),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        let trust = <Trust as TrustFile>::load(dir)?;
        let mut ledger = Ledger {
            dir: dir.to_owned(),
            log,
            views,
            trust,
            clean_at: None,
            _lock: lock,
        };
        let identity = ledger
            .log()
            .identity()
            .map_err(|e| OpenError::Project(e.into()))?;
        let mut rebuild = views_damaged;
        match &marker.log {
            Some(recorded) if *recorded != identity && !options.adopt_log => {
                return Err(OpenError::OtherLog {
                    dir: dir.to_owned(),
                    what: "the ledger's marker",
                    recorded: recorded.clone(),
                    found: identity,
                });
            }
            Some(recorded) if *recorded == identity => {}
            _ => {
                if marker.log.is_some() {
                    tracing::warn!(recorded = ?marker.log, found = %identity, "adopting another log, as asked");
                    rebuild = true;
                }
                write_marker(
                    dir,
                    &Marker {
                        log: Some(identity.clone()),
                        ..marker
                    },
                )?;
            }
        }
        match ledger.views.log_identity()? {
            Some(seen) if seen == identity => {}
            Some(seen) if !options.adopt_log && ledger.views.position()?.get() > 0 => {
                return Err(OpenError::OtherLog {
                    dir: dir.to_owned(),
                    what: "the views",
                    recorded: seen,
                    found: identity,
                });
            }
            // Views from before identities were recorded, empty views, or adopting.
            seen => {
                rebuild |= seen.is_some() || ledger.views.position()?.get() > 0;
                ledger.views.set_log_identity(&identity)?;
                ledger.views.flush()?;
            }
        }
        if !rebuild {
            let (views, log) = (
                ledger.views.position()?,
                ledger
                    .log()
                    .last_position()
                    .map_err(|e| OpenError::Project(e.into()))?,
            );
            if views > log && !options.inspect_shrunk_log {
                if !options.adopt_log {
                    return Err(OpenError::LogShrank {
                        dir: dir.to_owned(),
                        views: views.get(),
                        log: log.get(),
                    });
                }
                rebuild = true;
            }
        }
        if rebuild {
            tracing::info!("projecting the whole log again");
            ledger.rebuild(&mut |_, _| {})?;
        } else if !ledger.views.is_current_format()? {
            tracing::info!("views were written by another layout; rebuilding");
            ledger.rebuild(&mut |_, _| {})?;
        } else if !ledger.views.judged_under(&ledger.trust)? {
            tracing::info!("the trust list changed since the views were projected; rebuilding");
            ledger.rebuild(&mut |_, _| {})?;
        }
        ledger.clean_at = Some(ledger.views.position()?);
        Ok(ledger)
    }

    /// The ledger directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The log.
    pub fn log(&self) -> &dyn Log {
        self.log.log()
    }

    /// The log backend, shareable with [`Ledger::open_with`].
    pub fn backend(&self) -> &Backend {
        &self.log
    }

    /// The trust list the views judge release records under.
    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Replaces the trust list: saves `trust.json` and judges every release record again
    /// under it (the rule book's verdicts depend on trust, so the views are rebuilt).
    ///
    /// # Errors
    /// When the file cannot be written or the rebuild fails.
    pub fn set_trust(&mut self, trust: Trust) -> Result<(), OpenError> {
        trust.save(&self.dir)?;
        self.trust = trust;
        self.rebuild(&mut |_, _| {})?;
        Ok(())
    }

    /// The views. Call [`Ledger::catch_up`] first to see every appended event.
    pub fn views(&self) -> &Views {
        &self.views
    }

    /// Appends events (deduplicated by event id), makes them durable, then projects them.
    /// When this returns `Ok`, every event is on disk in the log.
    ///
    /// # Errors
    /// When the log fails (nothing acknowledged), or projecting fails after the events
    /// were stored.
    pub fn append(&mut self, events: &[Event]) -> Result<Vec<Appended>, AppendError> {
        let results = self.append_unprojected(events)?;
        self.flush()?;
        self.catch_up(&mut |_, _| {})?;
        Ok(results)
    }

    /// Appends without flushing or projecting, for bulk ingest: it calls
    /// [`Ledger::flush`] before reporting success and projects once at the end. Until that
    /// flush, a crash may lose these events; a retry with the same ids is safe.
    ///
    /// # Errors
    /// When the log fails; nothing of the batch is acknowledged then.
    ///
    /// An event whose id the log holds with other content is refused
    /// ([`LogError::ContentConflict`], naming both digests), unless the two differ only in
    /// the envelope's time: a retried command (`run start`, `log` with `--event-id`) states
    /// the same facts at a later time, and is the duplicate it means to be.
    pub fn append_unprojected(&mut self, events: &[Event]) -> Result<Vec<Appended>, LogError> {
        let mut pending: Vec<Event> = events.to_vec();
        let mut settled: std::collections::HashMap<usize, Position> = Default::default();
        let mut index: Vec<usize> = (0..events.len()).collect();
        loop {
            match self.append_once(&pending) {
                Ok(results) => {
                    let mut results = results.into_iter();
                    return Ok((0..events.len())
                        .map(|i| match settled.get(&i) {
                            Some(&p) => Appended::Duplicate(p),
                            None => results.next().expect("one result per pending event"),
                        })
                        .collect());
                }
                Err(LogError::IdConflict { event_id, position }) => {
                    let stored = self.log().read(position, 1)?;
                    let stored = stored.first().filter(|r| r.position == position);
                    let offered = pending
                        .iter()
                        .position(|e| e.id.as_str() == event_id)
                        .ok_or_else(|| LogError::IdConflict {
                            event_id: event_id.clone(),
                            position,
                        })?;
                    let stored_event = stored.and_then(|r| vouch_event::decode(&r.bytes).ok());
                    if stored_event.is_some_and(|s| same_but_time(&s, &pending[offered])) {
                        settled.insert(index[offered], position);
                        pending.remove(offered);
                        index.remove(offered);
                        continue;
                    }
                    return Err(LogError::ContentConflict {
                        event_id,
                        position,
                        stored: stored.map_or_else(
                            || "unreadable".into(),
                            |r| vouch_event::event_digest(&r.bytes).to_string(),
                        ),
                        offered: vouch_event::event_digest(&record(&pending[offered])?.bytes)
                            .to_string(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// [`LogError::Storage`] when the disk is too full to write (see [`MIN_FREE_BYTES`]).
    pub(crate) fn room_to_write(&self) -> Result<(), LogError> {
        vouch_views::Room {
            dir: self.dir.clone(),
            bytes: MIN_FREE_BYTES,
        }
        .check()
        .map_err(|e| LogError::Storage(e.to_string()))
    }

    fn append_once(&mut self, events: &[Event]) -> Result<Vec<Appended>, LogError> {
        self.room_to_write()?;
        if let Backend::Embedded(log) = &self.log {
            return log.append_batch(events.iter().map(record).collect::<Result<_, _>>()?);
        }
        // JetStream deduplicates only within its window: an event these views have
        // already seen is a late retry, answered without publishing it again, provided it
        // is the same record byte for byte (one event id names one content).
        let mut known = Vec::with_capacity(events.len());
        let mut fresh = Vec::with_capacity(events.len());
        for event in events {
            let new = record(event)?;
            let candidates = self
                .views
                .event_candidates(event.id.as_str())
                .map_err(|e| LogError::Storage(format!("reading the event-id index: {e}")))?;
            let mut seen = None;
            for candidate in candidates {
                let position = Position::new(candidate);
                let records = self.log().read(position, 1)?;
                let Some(stored) = records
                    .into_iter()
                    .next()
                    .filter(|r| r.position == position && r.event_id == new.event_id)
                else {
                    continue;
                };
                if stored.key != new.key || stored.bytes != new.bytes {
                    return Err(LogError::IdConflict {
                        event_id: new.event_id,
                        position,
                    });
                }
                seen = Some(position);
                break;
            }
            known.push(seen);
            if seen.is_none() {
                fresh.push(new);
            }
        }
        let mut published = self.log().append_batch(fresh)?.into_iter();
        Ok(known
            .into_iter()
            .map(|seen| match seen {
                Some(position) => Appended::Duplicate(position),
                None => published.next().expect("one result per published record"),
            })
            .collect())
    }

    /// Makes every appended event durable (sled flush and id-index sync).
    ///
    /// # Errors
    /// When the log fails.
    pub fn flush(&self) -> Result<(), LogError> {
        self.log().flush()
    }

    /// Projects every log record the views have not applied yet. A read command calls
    /// this first, so it sees every event acknowledged before it started.
    ///
    /// # Errors
    /// When reading the log or writing the views fails.
    pub fn catch_up(
        &mut self,
        progress: &mut dyn FnMut(Position, Position),
    ) -> Result<CatchUpReport, ProjectError> {
        vouch_views::catch_up(self.log.log(), &self.views, &self.trust, progress)
    }

    /// The views as they stood when the log ended at `end`: the log's first `end` records
    /// projected into a temporary store, by the same projector, so every query answers
    /// exactly as it would have then. Costs a projection of `end` records.
    ///
    /// # Errors
    /// [`AsOfError::Beyond`] when `end` is past the log's last position; otherwise when
    /// reading the log or writing the temporary views fails.
    pub fn as_of(
        &self,
        end: Position,
        progress: &mut dyn FnMut(Position, Position),
    ) -> Result<Views, AsOfError> {
        let last = self.log().last_position()?;
        if end > last {
            return Err(AsOfError::Beyond {
                position: end,
                last,
            });
        }
        let views = Views::temporary()?;
        vouch_views::catch_up_to(self.log.log(), &views, &self.trust, end, progress)?;
        Ok(views)
    }

    /// The log position that ended the log at `time`: just before the first record stamped
    /// after it (0 when the very first is). Records are stamped by whoever wrote them, so
    /// this trusts producers' clocks; a position is exact. A record that does not decode
    /// has no time and never ends the prefix.
    ///
    /// # Errors
    /// When reading the log fails.
    pub fn position_at(
        &self,
        time: Timestamp,
        progress: &mut dyn FnMut(Position, Position),
    ) -> Result<Position, LogError> {
        const CHUNK: usize = 8192;
        let last = self.log().last_position()?;
        let mut next = Position::new(1);
        while next <= last {
            let records = self.log().read(next, CHUNK)?;
            let Some(tail) = records.last() else { break };
            let tail = tail.position;
            for record in &records {
                if let Ok(event) = vouch_event::decode(&record.bytes) {
                    if event.time > time {
                        return Ok(Position::new(record.position.get() - 1));
                    }
                }
            }
            progress(tail, last);
            next = Position::new(tail.get() + 1);
        }
        Ok(last)
    }

    /// Projects the records after the views' position up to `end`: a slice of a backlog.
    ///
    /// # Errors
    /// As [`Ledger::catch_up`].
    pub fn catch_up_to(
        &mut self,
        end: Position,
        progress: &mut dyn FnMut(Position, Position),
    ) -> Result<CatchUpReport, ProjectError> {
        vouch_views::catch_up_to(self.log.log(), &self.views, &self.trust, end, progress)
    }

    /// Drops the views and projects the whole log again.
    ///
    /// # Errors
    /// When reading the log or writing the views fails; the old views stay in place.
    pub fn rebuild(
        &mut self,
        progress: &mut dyn FnMut(Position, Position),
    ) -> Result<CatchUpReport, ProjectError> {
        let report = vouch_views::rebuild(self.log.log(), &mut self.views, &self.trust, progress)?;
        self.views.flush()?;
        Ok(report)
    }

    /// Log and view positions and totals.
    ///
    /// # Errors
    /// When a store fails.
    pub fn status(&self) -> Result<Status, ProjectError> {
        Ok(Status {
            ledger: self.dir.clone(),
            backend: self.log.name(),
            stream: match &self.log {
                Backend::Nats(log) => Some(log.stream_name().to_owned()),
                Backend::Embedded(_) => None,
            },
            log_identity: self.log().identity()?,
            log_position: self.log().last_position()?.get(),
            view_position: self.views.position()?.get(),
            counts: self.views.counts()?,
        })
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.clean_at.is_some() && self.views.position().ok() == self.clean_at {
            return;
        }
        if let Err(e) = self.views.flush() {
            tracing::warn!(error = %e, "flushing the views on close failed");
        }
    }
}
