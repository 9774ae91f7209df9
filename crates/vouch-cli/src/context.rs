//! What every command needs: global options, the clock, fresh ids, and the ledger.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vouch_app::time::DayEnd;
use vouch_event::{Body, Event, EventId, Producer, RunId, Subject, Timestamp};
use vouch_ledger::{Ledger, NatsOptions, OpenOptions};

use crate::cli::{Global, NatsArgs};
use crate::exit::{bad_input, CliResult, Fail, Failure};

pub struct Context {
    pub global: Global,
    pub producer: Producer,
    options: OpenOptions,
}

impl Context {
    pub fn new(global: Global) -> CliResult<Self> {
        let producer = Producer::new(global.producer.clone())
            .map_err(|e| bad_input(format!("--producer: {e}")))?;
        if !(global.lock_timeout.is_finite() && global.lock_timeout >= 0.0) {
            return Err(bad_input(
                "--lock-timeout must be a non-negative number of seconds",
            ));
        }
        let options = OpenOptions {
            lock_timeout: Duration::from_secs_f64(global.lock_timeout.min(86_400.0)),
            nats_url: global.nats.url.clone(),
            nats: nats_options(&global.nats, global.nats.url.clone().unwrap_or_default())?,
            adopt_log: false,
            inspect_shrunk_log: false,
        };
        Ok(Context {
            global,
            producer,
            options,
        })
    }

    pub fn options(&self) -> &OpenOptions {
        &self.options
    }

    /// Opens the ledger for `verify`: caught up (`Ok(ledger)`), or, when its log holds
    /// fewer records than its views saw (`OpenError::LogShrank`), as it is (`Err(ledger)`):
    /// the views left as they were, so their tree can locate the record that went missing.
    pub fn open_for_verify(&self) -> CliResult<Result<Ledger, Ledger>> {
        match Ledger::open(&self.global.ledger, &self.options) {
            Err(vouch_ledger::OpenError::LogShrank { .. }) => {
                let options = OpenOptions {
                    inspect_shrunk_log: true,
                    ..self.options.clone()
                };
                Ok(Err(Ledger::open(&self.global.ledger, &options)?))
            }
            Ok(mut ledger) => {
                catch_up(&mut ledger)?;
                Ok(Ok(ledger))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the ledger for writing.
    pub fn open(&self) -> CliResult<Ledger> {
        Ok(Ledger::open(&self.global.ledger, &self.options)?)
    }

    /// Opens the ledger and brings the views up to date, so a read sees every event
    /// acknowledged before the command started.
    pub fn open_caught_up(&self) -> CliResult<Ledger> {
        let mut ledger = self.open()?;
        catch_up(&mut ledger)?;
        Ok(ledger)
    }

    /// Builds and checks an event concerning `run`, timestamped now.
    pub fn event(&self, id: String, run: &RunId, body: Body) -> CliResult<Event> {
        let id = EventId::new(id).map_err(|e| bad_input(format!("--event-id: {e}")))?;
        let now = now();
        let event = Event {
            id,
            time: now,
            producer: self.producer.clone(),
            subject: Subject::Run(run.clone()),
            body,
        };
        check_flags(&event, now)?;
        Ok(event)
    }
}

/// Checks an event built from command-line flags: its rules, and no time in the future
/// (beyond the allowed clock skew). A refused time is named by its flag, which is the
/// field's name (`data.snapshot_at` is `--snapshot-at`).
pub fn check_flags(event: &Event, now: Timestamp) -> CliResult<()> {
    event.check().map_err(bad_input)?;
    event.check_times(now).map_err(|e| {
        let flag = format!(
            "--{}",
            e.field().trim_start_matches("data.").replace('_', "-")
        );
        bad_input(e.named(flag))
    })
}

/// NATS settings from the flags and the environment (secrets from the environment only).
pub fn nats_options(args: &NatsArgs, url: String) -> CliResult<NatsOptions> {
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        return Err(bad_input(
            "--nats-timeout must be a positive number of seconds",
        ));
    }
    let mut nats = NatsOptions::new(url);
    nats.timeout = Duration::from_secs_f64(args.timeout.min(3600.0));
    nats.credentials_file = args.creds.clone();
    nats.tls_required = args.tls;
    nats.root_certificates = args.ca.clone();
    let password = std::env::var("VOUCH_NATS_PASSWORD").ok();
    nats.user_password = match (&args.user, password) {
        (Some(user), Some(password)) => Some((user.clone(), password)),
        (Some(_), None) => {
            return Err(bad_input(
                "--nats-user / VOUCH_NATS_USER needs the password in VOUCH_NATS_PASSWORD",
            ))
        }
        (None, Some(_)) => {
            return Err(bad_input(
                "VOUCH_NATS_PASSWORD is set but no user: set VOUCH_NATS_USER or --nats-user",
            ))
        }
        (None, None) => None,
    };
    nats.token = std::env::var("VOUCH_NATS_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    Ok(nats)
}

/// Parses a time flag: RFC 3339, or a bare date read as the start or end of that UTC day
/// (`vouch_app::time::parse_time`, against the clock). A time in the future is refused.
pub fn parse_time(text: &str, flag: &str, day: DayEnd) -> CliResult<Timestamp> {
    vouch_app::time::parse_time(text, flag, day, now()).map_err(bad_input)
}

/// The clock, read only here at the edge.
pub fn now() -> Timestamp {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_unix_nanos(i64::try_from(since.as_nanos()).unwrap_or(i64::MAX))
}

/// 64 bits that differ between calls and processes: the process's randomly seeded hasher
/// state, the time, the pid and a counter. Enough for ids, not for keys.
pub fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now().unix_nanos() as u64);
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A fresh run id: `r-` and 12 hex digits.
pub fn new_run_id() -> RunId {
    RunId::new(format!("r-{:012x}", random_u64() >> 16)).expect("valid run id")
}

/// The event id to use: the caller's, or `<run>:<what>:<random>`.
pub fn event_id(given: Option<&str>, run: &RunId, what: &str) -> String {
    match given {
        Some(id) => id.to_owned(),
        None => format!("{run}:{what}:{:016x}", random_u64()),
    }
}

/// Parses a run id given as `what` (`--run`, `RUN`) on the command line.
pub fn parse_run(text: &str, what: &str) -> CliResult<RunId> {
    RunId::new(text).map_err(|e| bad_input(format!("{what}: {e}")))
}

/// Fails with a clear message when the ledger has never heard of `run`.
pub fn require_run(ledger: &mut Ledger, run: &RunId) -> CliResult<()> {
    ledger.catch_up(&mut |_, _| {})?;
    if ledger.views().run(run)?.is_none() {
        return Err(bad_input(format!(
            "unknown run `{run}`: the ledger has no events for it (start one with `vouch run start`)"
        )));
    }
    Ok(())
}

/// Makes a path absolute for a `file://` URI without requiring it to be UTF-8:
/// bytes outside the URI-safe set are percent-encoded.
pub fn file_uri(path: &std::path::Path) -> CliResult<String> {
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::fs::canonicalize(path).fail(Failure::Io)?;
    let mut uri = String::from("file://");
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(uri)
}

/// Brings the views up to the log, showing progress on a terminal.
fn catch_up(ledger: &mut Ledger) -> CliResult<()> {
    let progress = crate::output::Progress::new("projecting");
    ledger.catch_up(&mut |at, end| progress.update(at.get(), end.get()))?;
    progress.finish();
    Ok(())
}
