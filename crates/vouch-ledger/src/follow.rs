//! Following a NATS stream (`vouch serve`): project what arrives, for as long as asked,
//! through server restarts and network drops.
//!
//! The follower keeps one connection to the stream and opens the ledger directory only
//! while it applies a slice of records, so commands on the same directory interleave with
//! it. Progress lives only in the views (position and changes in one atomic batch), never
//! in consumer state on the server: a follower killed at any point resumes exactly where
//! its last batch ended.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use vouch_log::Position;
use vouch_views::ProjectError;

use crate::{Backend, Ledger, OpenError, OpenOptions};

/// How a follower paces itself.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to wait after reaching the stream's end before looking again. Also paces a
    /// follower under a steady stream of publishes: each catch-up then takes what arrived
    /// meanwhile in one go, instead of a few records at a time (a catch-up has a fixed cost:
    /// a read consumer on the server and a views commit), at the price of lagging by up to
    /// this long.
    pub poll: Duration,
    /// How long to keep the ledger directory per slice of a backlog before letting other
    /// processes in.
    pub slice: Duration,
    /// The longest pause between attempts while the server is unreachable.
    pub max_backoff: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            poll: Duration::from_millis(200),
            slice: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What a follower did before it was stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowReport {
    /// The views' position when it stopped.
    pub position: u64,
    /// Records applied.
    pub applied: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records skipped as duplicates of earlier ones.
    pub duplicates: u64,
    /// Times the server could not be reached and the follower waited to try again.
    pub retries: u64,
}

/// Sleeps up to `pause`, waking early when `stop` is set.
fn pause_unless_stopped(stop: &AtomicBool, pause: Duration) {
    let until = Instant::now() + pause;
    while !stop.load(Ordering::Relaxed) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// Whether opening failed for a reason that may pass (server down, directory busy).
fn transient(error: &OpenError) -> bool {
    use vouch_log_nats::NatsError as N;
    if matches!(error, OpenError::Nats(n) if n.is_auth_failure()) {
        return false;
    }
    matches!(
        error,
        OpenError::Busy { .. }
            | OpenError::Nats(N::Connect { .. } | N::Provision { .. })
            | OpenError::Project(ProjectError::Log(_))
    )
}

/// Follows the NATS stream of the ledger in `dir` until `stop` is set, projecting every
/// record into the views. Transient failures (server unreachable, directory busy) are
/// logged and retried with capped exponential backoff.
///
/// # Errors
/// When the ledger is not a NATS ledger, or fails for a reason waiting cannot fix (an
/// unsafe or missing stream, damaged views).
pub fn follow(
    dir: &Path,
    options: &OpenOptions,
    pacing: &FollowOptions,
    stop: &AtomicBool,
) -> Result<FollowReport, OpenError> {
    let mut report = FollowReport::default();
    let mut backoff = Duration::from_millis(100);
    let wait = |report: &mut FollowReport, backoff: &mut Duration, what: &dyn std::fmt::Display| {
        report.retries += 1;
        tracing::warn!(error = %what, retry_in = ?*backoff, "waiting for the stream");
        pause_unless_stopped(stop, *backoff);
        *backoff = (*backoff * 2).min(pacing.max_backoff);
    };
    let log = loop {
        if stop.load(Ordering::Relaxed) {
            // Stopped before reaching the stream: report where the views stand.
            report.position = stored_position(dir, options);
            return Ok(report);
        }
        match Ledger::connect_log(dir, options) {
            Ok(Backend::Embedded(_)) => return Err(OpenError::NothingToFollow(dir.to_owned())),
            Ok(log) => break log,
            Err(e) if transient(&e) => wait(&mut report, &mut backoff, &e),
            Err(e) => return Err(e),
        }
    };
    tracing::info!(ledger = %dir.display(), "following the stream");
    let mut applied_up_to: Option<Position> = None;
    while !stop.load(Ordering::Relaxed) {
        let end = match log_end(&log) {
            Ok(end) => end,
            Err(e) => {
                wait(&mut report, &mut backoff, &e);
                continue;
            }
        };
        if applied_up_to == Some(end) {
            backoff = Duration::from_millis(100);
            pause_unless_stopped(stop, pacing.poll);
            continue;
        }
        let mut ledger = match Ledger::open_with(dir, options, Some(log.clone())) {
            Ok(ledger) => ledger,
            Err(e) if transient(&e) => {
                wait(&mut report, &mut backoff, &e);
                continue;
            }
            Err(e) => return Err(e),
        };
        let started = Instant::now();
        let outcome = loop {
            let from = match ledger.views().position() {
                Ok(p) => p,
                Err(e) => break Err(ProjectError::from(e)),
            };
            // `end` was read before the directory was ours: a command that had it meanwhile
            // (`vouch status`, `vouch ingest`) caught the views up itself, possibly past
            // `end`. That is progress, not views ahead of the log: asking the projector for
            // a target behind the views would call it that. (A log that really lost
            // records was refused when the ledger opened: `OpenError::LogShrank`.)
            if from >= end {
                report.position = from.get();
                break Ok(from);
            }
            let target = Position::new(end.get().min(from.get() + 65_536));
            match ledger.catch_up_to(target, &mut |_, _| {}) {
                Ok(step) => {
                    report.applied += step.applied;
                    report.quarantined += step.quarantined;
                    report.duplicates += step.duplicates;
                    report.position = step.to.get();
                    if step.applied + step.quarantined + step.duplicates > 0 {
                        tracing::info!(
                            position = step.to.get(),
                            end = end.get(),
                            applied = step.applied,
                            quarantined = step.quarantined,
                            duplicates = step.duplicates,
                            "projected"
                        );
                    }
                    if step.to >= end
                        || started.elapsed() >= pacing.slice
                        || stop.load(Ordering::Relaxed)
                    {
                        break Ok(step.to);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        drop(ledger);
        match outcome {
            Ok(position) => {
                applied_up_to = Some(position);
                backoff = Duration::from_millis(100);
                if position >= end {
                    pause_unless_stopped(stop, pacing.poll);
                }
            }
            Err(ProjectError::Log(e)) => wait(&mut report, &mut backoff, &e),
            Err(e) => return Err(e.into()),
        }
    }
    // Where the views stand now: commands on the directory (`vouch status`, `vouch
    // ingest`) may have caught them up after the last slice, or before the first.
    // Positions only grow, and an unreadable store reads as 0, so the larger one is true.
    report.position = report.position.max(stored_position(dir, options));
    tracing::info!(position = report.position, "stopped following");
    Ok(report)
}

/// The views' position as stored, read without reaching the log, for the report of a
/// follower that stops. Called only on the way out: sled releases a store's file
/// lock some time after the store is dropped, so opening it here while the loop still
/// opens ledgers would make the next open fail. 0 when the views cannot be read.
fn stored_position(dir: &Path, options: &OpenOptions) -> u64 {
    let Ok(_lock) = crate::DirLock::acquire(dir, options.lock_timeout) else {
        return 0;
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match vouch_views::Views::open(&dir.join("views")).and_then(|views| views.position()) {
            Ok(position) => return position.get(),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => return 0,
        }
    }
}

fn log_end(log: &Backend) -> Result<Position, vouch_log::LogError> {
    log.log().last_position()
}
