//! Commands that publish evidence: `init`, `run start|finish`, `log …`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Environment, Event, GitInfo,
    MetricsLogged, Name, ParamsLogged, RunFinished, RunId, RunStarted, RunStatus, Segment,
    Timestamp,
};
use vouch_ledger::{Initialised, Ledger};
use vouch_log::Appended;

use crate::cli::{EnvCapture, InitArgs, LogCommand, RoleArg, RunCommand, RunStartArgs, StatusArg};
use crate::context::{event_id, file_uri, new_run_id, parse_run, require_run, Context};
use crate::exit::{bad_input, CliResult, Failure};
use crate::output::{self, say};

pub fn init(ctx: &Context, args: &InitArgs) -> CliResult<()> {
    let mut options = ctx.options().clone();
    options.nats.replicas = usize::from(args.replicas);
    options.nats.stream = args.stream.clone();
    options.nats.prefix = args.prefix.clone();
    let outcome = Ledger::init(&ctx.global.ledger, &options)?;
    let dir = ctx.global.ledger.display();
    let backend = match &options.nats_url {
        Some(url) => format!("views of JetStream stream `{}` on {url}", args.stream),
        None => "an embedded ledger".to_owned(),
    };
    if ctx.global.json {
        output::json(&serde_json::json!({
            "ledger": ctx.global.ledger,
            "created": outcome == Initialised::Created,
            "backend": if options.nats_url.is_some() { "nats" } else { "embedded" },
        }));
    } else {
        match outcome {
            Initialised::Created => say!("initialised {backend} in {dir}"),
            Initialised::AlreadyThere => say!("{dir} is already a ledger; nothing changed"),
        }
    }
    Ok(())
}

/// An event a `run` or `log` command built from its flags, before it is appended: the
/// same whether it goes to a ledger directory or to a server (`vouch --server`).
pub struct Built {
    /// The run it concerns.
    pub run: RunId,
    /// The event.
    pub event: Event,
    /// The digest of the file it records (artifacts and datasets), printed as the answer.
    pub digest: Option<Digest>,
    /// What it does.
    pub what: Write,
}

/// What a built event does, which decides the checks before it and the report after it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `run start`: needs no run before it; prints the run id.
    Start,
    /// `run finish` and `log …`: the run must exist.
    ToRun,
}

/// Where built events go: a ledger directory, or a server.
pub trait Store {
    /// Fails with a clear message when the ledger has never heard of `run`.
    fn require_run(&mut self, run: &RunId) -> CliResult<()>;
    /// Appends one event (a retry is a duplicate; other content under its id, 65).
    fn append_one(&mut self, event: Event) -> CliResult<Appended>;
}

impl Store for Ledger {
    fn require_run(&mut self, run: &RunId) -> CliResult<()> {
        require_run(self, run)
    }

    fn append_one(&mut self, event: Event) -> CliResult<Appended> {
        append_one(self, event)
    }
}

pub fn run(ctx: &Context, command: RunCommand) -> CliResult<()> {
    let built = build_run(ctx, &command)?;
    write(ctx, &mut ctx.open()?, built)
}

/// Appends a built event to `store` and reports it.
pub fn write(ctx: &Context, store: &mut dyn Store, built: Built) -> CliResult<()> {
    let Built {
        run,
        event,
        digest,
        what,
    } = built;
    if what == Write::ToRun {
        store.require_run(&run)?;
    }
    let result = store.append_one(event)?;
    if what == Write::Start && !ctx.global.json {
        if let Appended::Duplicate(p) = result {
            tracing::warn!(
                position = p.get(),
                "run {run} was already started; nothing written"
            );
        }
        say!("{run}");
        return Ok(());
    }
    report(ctx, &run, result, digest.as_ref());
    Ok(())
}

/// The event of `run start` or `run finish`.
pub fn build_run(ctx: &Context, command: &RunCommand) -> CliResult<Built> {
    match command {
        RunCommand::Start(args) => start(ctx, args),
        RunCommand::Finish(args) => {
            let run = parse_run(&args.run, "--run")?;
            let status = match args.status {
                StatusArg::Ok => RunStatus::Ok,
                StatusArg::Failed => RunStatus::Failed,
                StatusArg::Killed => RunStatus::Killed,
            };
            // A run finishes once, so the id is fixed: a retried finish is a no-op.
            let event = ctx.event(
                args.event_id
                    .clone()
                    .unwrap_or_else(|| format!("{run}:finished")),
                &run,
                Body::RunFinished(RunFinished { status }),
            )?;
            Ok(Built {
                run,
                event,
                digest: None,
                what: Write::ToRun,
            })
        }
    }
}

fn start(ctx: &Context, args: &RunStartArgs) -> CliResult<Built> {
    let run = match (&args.run_id, &args.event_id) {
        (Some(id), _) => {
            RunId::new(id.as_str()).map_err(|e| bad_input(format!("--run-id: {e}")))?
        }
        // A retry with the same event id must start the same run, not a second one.
        (None, Some(event_id)) => run_id_for(event_id),
        (None, None) => new_run_id(),
    };
    let git = match args.git.as_str() {
        "none" => None,
        "auto" => detect_git(),
        sha => Some(GitInfo {
            commit: sha.to_ascii_lowercase(),
            dirty: args.dirty,
        }),
    };
    let mut tools = BTreeMap::new();
    for pair in &args.tools {
        let (name, version) = pair
            .split_once('=')
            .ok_or_else(|| bad_input(format!("--tool `{pair}`: expected NAME=VERSION")))?;
        tools.insert(name.to_owned(), version.to_owned());
    }
    let env = match args.env {
        EnvCapture::None if tools.is_empty() => None,
        EnvCapture::None => Some(Environment {
            os: "unrecorded".into(),
            cpu: "unrecorded".into(),
            host: "unrecorded".into(),
            tools,
        }),
        EnvCapture::Auto => {
            tools
                .entry("vouch".into())
                .or_insert_with(|| env!("CARGO_PKG_VERSION").into());
            Some(Environment {
                os: std::env::consts::OS.into(),
                cpu: std::env::consts::ARCH.into(),
                host: hostname(),
                tools,
            })
        }
    };
    let body = Body::RunStarted(RunStarted {
        experiment: args.experiment.clone(),
        name: args.name.clone(),
        git,
        env,
    });
    // A run starts once, so the id is fixed: retrying with --run-id is a no-op.
    let id = args
        .event_id
        .clone()
        .unwrap_or_else(|| format!("{run}:started"));
    let event = ctx.event(id, &run, body)?;
    Ok(Built {
        run,
        event,
        digest: None,
        what: Write::Start,
    })
}

/// `git rev-parse HEAD` and `git status --porcelain` in the current directory; nothing
/// when git or a repository is missing.
fn detect_git() -> Option<GitInfo> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    let status = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()?;
    Some(GitInfo {
        commit,
        dirty: !status.stdout.is_empty(),
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The run id `run start --event-id ID` starts when no --run-id is given: derived from the
/// event id, so the same retried command names the same run.
fn run_id_for(event_id: &str) -> RunId {
    let hash = blake3::hash(event_id.as_bytes()).to_hex();
    RunId::new(format!("r-{}", &hash[..12])).expect("a valid run id")
}

/// Appends one event a command built from its flags. A retry of the same command (the
/// same facts at a later time) is a duplicate, and other content under the id a conflict
/// (exit 65): `Ledger::append` decides both.
pub fn append_one(ledger: &mut Ledger, event: Event) -> CliResult<Appended> {
    let mut results = ledger.append(std::slice::from_ref(&event))?;
    Ok(results.pop().expect("one result per event"))
}

fn report(ctx: &Context, run: &RunId, result: Appended, digest: Option<&Digest>) {
    let (position, duplicate) = match result {
        Appended::New(p) => (p, false),
        Appended::Duplicate(p) => (p, true),
    };
    if ctx.global.json {
        let mut body =
            serde_json::json!({ "run": run, "position": position.get(), "duplicate": duplicate });
        if let Some(d) = digest {
            body["digest"] = serde_json::json!(d);
        }
        output::json(&body);
    } else if let Some(d) = digest {
        say!("{d}");
    } else if duplicate {
        say!("already recorded at position {position}; nothing written");
    } else {
        say!("recorded at position {position}");
    }
}

fn split_pair<'a>(pair: &'a str, what: &str) -> CliResult<(&'a str, &'a str)> {
    pair.split_once('=')
        .ok_or_else(|| bad_input(format!("{what} `{pair}`: expected NAME=VALUE")))
}

/// Metric values from `name=value` arguments: names checked, values finite numbers.
pub fn metric_pairs(pairs: &[String]) -> CliResult<BTreeMap<Name, f64>> {
    let mut metrics = BTreeMap::new();
    for pair in pairs {
        let (name, value) = split_pair(pair, "metric")?;
        let name = Name::new(name).map_err(|e| bad_input(format!("metric `{pair}`: {e}")))?;
        let number: f64 = value
            .trim()
            .parse()
            .map_err(|_| bad_input(format!("metric `{pair}`: `{value}` is not a number")))?;
        if !number.is_finite() {
            return Err(bad_input(format!(
                "metric `{pair}`: `{value}` is not a finite number (NaN and infinities are rejected)"
            )));
        }
        metrics.insert(name, number);
    }
    Ok(metrics)
}

pub fn log(ctx: &Context, command: LogCommand) -> CliResult<()> {
    if let LogCommand::Live(args) = &command {
        return crate::diagnose::log_live(ctx, args);
    }
    let built = build_log(ctx, command)?;
    write(ctx, &mut ctx.open()?, built)
}

/// The event of `log param|metric|artifact|dataset` (files hashed here, where they are).
pub fn build_log(ctx: &Context, command: LogCommand) -> CliResult<Built> {
    let (target, what, body, digest) = match command {
        LogCommand::Live(_) => unreachable!("`log live` concerns a model: see diagnose.rs"),
        LogCommand::Param { target, pairs } => {
            let mut params = BTreeMap::new();
            for pair in &pairs {
                let (key, value) = split_pair(pair, "param")?;
                let key = Name::new(key).map_err(|e| bad_input(format!("param `{pair}`: {e}")))?;
                params.insert(key, value.to_owned());
            }
            (
                target,
                "params",
                Body::ParamsLogged(ParamsLogged { params }),
                None,
            )
        }
        LogCommand::Metric {
            target,
            step,
            segment,
            pairs,
        } => {
            let segment = segment
                .map(|s| Segment::new(s).map_err(|e| bad_input(format!("--segment: {e}"))))
                .transpose()?;
            (
                target,
                "metrics",
                Body::MetricsLogged(MetricsLogged {
                    metrics: metric_pairs(&pairs)?,
                    step,
                    segment,
                }),
                None,
            )
        }
        LogCommand::Artifact {
            target,
            name,
            uri,
            path,
        } => {
            let (digest, size, _) = hash_file(&path, false)?;
            let name = name_or_file_name(name, &path)?;
            let uri = match uri {
                Some(uri) => uri,
                None => file_uri(&path)?,
            };
            let body = Body::ArtifactLogged(ArtifactLogged {
                name,
                digest,
                size,
                uri,
            });
            (target, "artifact", body, Some(digest))
        }
        LogCommand::Dataset {
            target,
            role,
            name,
            rows,
            snapshot_at,
            labels_through,
            uri,
            path,
        } => {
            let count_lines = rows.is_none();
            let (digest, _, lines) = hash_file(&path, count_lines)?;
            let rows = match rows {
                Some(rows) => rows,
                None => {
                    let header = path.extension().is_some_and(|e| {
                        e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("tsv")
                    });
                    lines.saturating_sub(u64::from(header))
                }
            };
            let time = |flag: &str, text: Option<String>| -> CliResult<Option<Timestamp>> {
                text.map(|t| {
                    Timestamp::parse_rfc3339(&t).map_err(|e| bad_input(format!("{flag}: {e}")))
                })
                .transpose()
            };
            let body = Body::DatasetBound(DatasetBound {
                role: match role {
                    RoleArg::Train => DatasetRole::Train,
                    RoleArg::Validation => DatasetRole::Validation,
                    RoleArg::Test => DatasetRole::Test,
                },
                name: name_or_file_name(name, &path)?,
                digest,
                rows,
                snapshot_at: time("--snapshot-at", snapshot_at)?,
                labels_through: time("--labels-through", labels_through)?,
                uri: Some(match uri {
                    Some(uri) => uri,
                    None => file_uri(&path)?,
                }),
            });
            (target, "dataset", body, Some(digest))
        }
    };
    let run = parse_run(&target.run, "--run")?;
    let event = ctx.event(event_id(target.event_id.as_deref(), &run, what), &run, body)?;
    Ok(Built {
        run,
        event,
        digest,
        what: Write::ToRun,
    })
}

fn name_or_file_name(name: Option<String>, path: &Path) -> CliResult<String> {
    if let Some(name) = name {
        return Ok(name);
    }
    let file_name = path
        .file_name()
        .ok_or_else(|| bad_input(format!("{} has no file name; pass --name", path.display())))?;
    file_name.to_str().map(str::to_owned).ok_or_else(|| {
        bad_input(format!(
            "the file name {} is not valid UTF-8; pass --name to name it",
            path.display()
        ))
    })
}

/// Streams a file through BLAKE3; returns the digest, the size and, when asked, the
/// number of lines.
pub fn hash_file(path: &Path, count_lines: bool) -> CliResult<(Digest, u64, u64)> {
    // A FIFO or a device would block or never end: only regular files are hashed.
    let mut file = vouch_files::open_regular(path).map_err(|e| {
        let failure = if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound
        } else if vouch_files::is_refused(&e) {
            Failure::BadInput
        } else {
            Failure::Io
        };
        crate::exit::CliError {
            failure,
            error: anyhow::anyhow!("cannot read {}: {e}", path.display()),
        }
    })?;
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 1 << 16];
    let (mut size, mut lines, mut last) = (0u64, 0u64, b'\n');
    loop {
        let n = file.read(&mut buffer).map_err(|e| crate::exit::CliError {
            failure: Failure::Io,
            error: anyhow::anyhow!("reading {}: {e}", path.display()),
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        if count_lines {
            lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            last = buffer[n - 1];
        }
        size += n as u64;
    }
    if count_lines && last != b'\n' {
        lines += 1;
    }
    Ok((
        Digest::from_bytes(*hasher.finalize().as_bytes()),
        size,
        lines,
    ))
}
