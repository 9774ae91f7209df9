//! Commands that publish evidence: `init`, `run start|finish`, `log …`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use vouch_event::{
    ArtifactLogged, Body, DatasetBound, DatasetRole, Digest, Environment, Event, GitInfo,
    MetricsLogged, Name, ParamsLogged, RunFinished, RunId, RunStarted, RunStatus, Segment, Sha256,
    Timestamp,
};
use vouch_files::manifest::{Change, DirError, Manifest};
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
    /// A directory artifact's manifest, kept in the ledger's blob store before the event
    /// is appended (so no event names a manifest that is not there).
    pub manifest: Option<Manifest>,
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
    /// Keeps a directory artifact's manifest where `vouch audit DIR` finds it. A store
    /// with nowhere to keep it (a server, today) says so: the digest is recorded all the
    /// same, and an audit then matches the directory but cannot name changed files.
    fn keep_manifest(&mut self, manifest: &Manifest) -> CliResult<()> {
        let _ = manifest;
        tracing::warn!(
            "the server keeps no directory manifests: the directory's digest is recorded, \
             but `vouch audit DIR` will not be able to name the files that changed"
        );
        Ok(())
    }
}

impl Store for Ledger {
    fn require_run(&mut self, run: &RunId) -> CliResult<()> {
        require_run(self, run)
    }

    fn append_one(&mut self, event: Event) -> CliResult<Appended> {
        append_one(self, event)
    }

    fn keep_manifest(&mut self, manifest: &Manifest) -> CliResult<()> {
        store_manifest(self.dir(), manifest).map_err(|e| crate::exit::CliError {
            failure: Failure::Io,
            error: anyhow::anyhow!("storing the directory's manifest: {e}"),
        })
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
        manifest,
    } = built;
    if what == Write::ToRun {
        store.require_run(&run)?;
    }
    if let Some(manifest) = &manifest {
        store.keep_manifest(manifest)?;
    }
    // Printed beside the digest in `--json`, for tools that name artifacts by sha256.
    let sha256 = match &event.body {
        Body::ArtifactLogged(a) => a.sha256,
        _ => None,
    };
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
    report(ctx, &run, result, digest.as_ref(), sha256);
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
                manifest: None,
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
        manifest: None,
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

fn report(
    ctx: &Context,
    run: &RunId,
    result: Appended,
    digest: Option<&Digest>,
    sha256: Option<Sha256>,
) {
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
        if let Some(sha256) = sha256 {
            body["sha256"] = serde_json::json!(sha256);
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
    let mut manifest = None;
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
            let hashed = hash_artifact(&path)?;
            let name = name_or_file_name(name, &path)?;
            let uri = match uri {
                Some(uri) => uri,
                None => file_uri(&path)?,
            };
            let digest = hashed.digest;
            let body = Body::ArtifactLogged(ArtifactLogged {
                name,
                digest,
                size: hashed.size,
                uri,
                sha256: Some(hashed.sha256),
            });
            manifest = hashed.manifest;
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
        manifest,
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

/// The CLI error for a path that could not be hashed: not found (66), refused (65: not
/// a regular file, a symlink or non-UTF-8 name in a directory), or the file system (74).
fn unreadable(
    path: &Path,
    kind: Option<std::io::ErrorKind>,
    refused: bool,
    why: String,
) -> crate::exit::CliError {
    let failure = if kind == Some(std::io::ErrorKind::NotFound) {
        Failure::NotFound
    } else if refused {
        Failure::BadInput
    } else {
        Failure::Io
    };
    crate::exit::CliError {
        failure,
        error: anyhow::anyhow!("cannot read {}: {why}", path.display()),
    }
}

/// Streams a file once through BLAKE3 and SHA-256 (`vouch_files::hash`); returns the
/// BLAKE3 digest, the size and, when asked, the number of lines.
pub fn hash_file(path: &Path, count_lines: bool) -> CliResult<(Digest, u64, u64)> {
    let hashes = hash_one_file(path, count_lines)?;
    Ok((Digest::from_bytes(hashes.blake3), hashes.size, hashes.lines))
}

fn hash_one_file(path: &Path, count_lines: bool) -> CliResult<vouch_files::hash::Hashes> {
    // A FIFO or a device would block or never end: only regular files are hashed.
    vouch_files::hash::hash_file(path, count_lines).map_err(|e| {
        unreadable(
            path,
            Some(e.kind()),
            vouch_files::is_refused(&e),
            e.to_string(),
        )
    })
}

/// An artifact hashed: a file by its bytes, a directory by its canonical manifest.
pub struct HashedArtifact {
    /// BLAKE3 of the file, or of the directory's manifest bytes.
    pub digest: Digest,
    /// SHA-256 of the same bytes.
    pub sha256: Sha256,
    /// The file's size, or the sum of the directory's file sizes.
    pub size: u64,
    /// A directory's manifest.
    pub manifest: Option<Manifest>,
}

/// Hashes what `vouch log artifact PATH` (and `vouch audit PATH`) is handed: a regular
/// file in one read for both digests, or a directory as its manifest
/// (`schemas/artifact-manifest.md`), its files hashed in parallel.
pub fn hash_artifact(path: &Path) -> CliResult<HashedArtifact> {
    let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
    if !is_dir {
        let h = hash_one_file(path, false)?;
        return Ok(HashedArtifact {
            digest: Digest::from_bytes(h.blake3),
            sha256: Sha256(h.sha256),
            size: h.size,
            manifest: None,
        });
    }
    let manifest = vouch_files::manifest::hash_dir(path)
        .map_err(|e: DirError| unreadable(path, e.io_kind(), e.is_refused(), e.to_string()))?;
    if manifest.entries().is_empty() {
        return Err(bad_input(format!(
            "{} is a directory holding no regular files: there is nothing to name",
            path.display()
        )));
    }
    let h = manifest.hashes();
    Ok(HashedArtifact {
        digest: Digest::from_bytes(h.blake3),
        sha256: Sha256(h.sha256),
        size: h.size,
        manifest: Some(manifest),
    })
}

/// Where a directory artifact's manifest is kept: the ledger's content-addressed blob
/// store (`<ledger>/artifacts/blobs/<blake3 hex>`, shared with the MLflow artifact
/// proxy), under the directory's own digest, since that is the BLAKE3 of these bytes.
pub fn manifest_path(ledger_dir: &Path, digest: &Digest) -> PathBuf {
    ledger_dir
        .join("artifacts")
        .join("blobs")
        .join(digest.hex())
}

/// Writes a manifest's canonical bytes to the blob store, through a synced temporary
/// file renamed into place: a crash leaves the blob whole or absent, never partial.
fn store_manifest(ledger_dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
    use std::io::Write as _;
    let bytes = manifest.to_bytes();
    let digest = Digest::of(&bytes);
    let target = manifest_path(ledger_dir, &digest);
    if target.exists() {
        return Ok(());
    }
    let incoming = ledger_dir.join("artifacts").join("incoming");
    std::fs::create_dir_all(&incoming)?;
    std::fs::create_dir_all(target.parent().expect("under blobs"))?;
    let temp = incoming.join(format!("manifest-{}-{}", digest.hex(), std::process::id()));
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    std::fs::rename(&temp, &target)?;
    std::fs::File::open(target.parent().expect("under blobs"))?.sync_all()
}

/// The largest manifest blob read back (1,000,000 files of long paths fit).
const MAX_MANIFEST_BYTES: u64 = 1 << 30;

/// The manifest kept for a directory artifact with this digest, if the blob store
/// holds one (a file artifact, or a directory logged through a server, has none).
pub fn logged_manifest(ledger_dir: &Path, digest: &Digest) -> CliResult<Option<Manifest>> {
    let path = manifest_path(ledger_dir, digest);
    if !path.exists() {
        return Ok(None);
    }
    let kind = vouch_files::FileKind::new("directory manifest", MAX_MANIFEST_BYTES);
    let bytes = vouch_files::read(&path, kind).map_err(|e| {
        unreadable(
            &path,
            Some(e.kind()),
            vouch_files::is_refused(&e),
            e.to_string(),
        )
    })?;
    // A blob that is not a manifest, or not the one its name says, is not this one's.
    if Digest::of(&bytes) != *digest {
        return Ok(None);
    }
    Ok(Manifest::from_bytes(&bytes).ok())
}

/// What `vouch audit DIR` says when the directory's digest is not a logged artifact:
/// the latest logged directory artifact of the same name, and each file that changed,
/// was added or was removed since.
pub struct DirectoryDrift {
    /// The run that logged it.
    pub run: RunId,
    /// Its digest.
    pub logged: Digest,
    /// The files that differ, by path.
    pub changes: Vec<Change>,
}

/// Compares a directory's manifest now with the latest directory artifact of `name`
/// logged in the ledger: `None` when no run logged a directory under that name (with
/// its manifest kept) or the latest one has the same digest.
pub fn directory_drift(
    ledger: &Ledger,
    name: &str,
    now: &Manifest,
) -> CliResult<Option<DirectoryDrift>> {
    let digest = Digest::from_bytes(now.hashes().blake3);
    let mut latest: Option<(u64, RunId, Digest)> = None;
    let runs = ledger
        .views()
        .runs(&vouch_views::RunQuery::default())
        .map_err(|e| crate::exit::CliError {
            failure: crate::exit::views_failure(&e),
            error: anyhow::anyhow!("reading the views: {e}"),
        })?;
    for doc in runs {
        for a in doc.artifacts.iter().filter(|a| a.name == name) {
            if latest.as_ref().is_none_or(|(p, _, _)| a.position > *p)
                && manifest_path(ledger.dir(), &a.digest).exists()
            {
                latest = Some((a.position, doc.run.clone(), a.digest));
            }
        }
    }
    let Some((_, run, logged)) = latest else {
        return Ok(None);
    };
    if logged == digest {
        return Ok(None);
    }
    let Some(before) = logged_manifest(ledger.dir(), &logged)? else {
        return Ok(None);
    };
    Ok(Some(DirectoryDrift {
        run,
        logged,
        changes: vouch_files::manifest::diff(&before, now),
    }))
}

/// For `vouch audit PATH`: when PATH is a directory whose digest differs from the
/// latest logged directory artifact of its name, names each changed, added or removed
/// file on stderr (stdout stays the audit's answer, JSON included).
pub fn explain_directory(ledger: &Ledger, path: &Path) -> CliResult<()> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    let hashed = hash_artifact(path)?;
    let (Some(now), Ok(name)) = (hashed.manifest, name_or_file_name(None, path)) else {
        return Ok(());
    };
    if let Some(drift) = directory_drift(ledger, &name, &now)? {
        eprintln!(
            "{} differs from directory artifact `{name}` logged by run {} ({}):",
            path.display(),
            drift.run,
            drift.logged
        );
        for change in &drift.changes {
            eprintln!("  {:<8} {}", change.what(), change.path());
        }
    }
    Ok(())
}

/// The one place a digest typed on the command line (`--digest`) names an artifact:
/// `blake3:<hex>` as it is, `sha256:<hex>` through the views' sha256 index. An unknown
/// sha256 is bad input (65), naming it.
pub fn resolve_digest(ledger: &Ledger, text: &str) -> CliResult<Digest> {
    ledger.views().resolve_artifact(text).map_err(|e| match e {
        vouch_views::ResolveError::Views(e) => crate::exit::CliError {
            failure: crate::exit::views_failure(&e),
            error: anyhow::anyhow!("reading the views: {e}"),
        },
        other => bad_input(format!("--digest: {other}")),
    })
}

/// `artifact_digest` of `release.rs` for a caller holding the ledger: `--digest` as
/// `blake3:<hex>` or `sha256:<hex>` (resolved through the views), or a file or directory
/// hashed here.
pub fn artifact_digest_in(
    ledger: &Ledger,
    path: Option<&Path>,
    digest: Option<&str>,
) -> CliResult<Digest> {
    match digest {
        Some(text) => resolve_digest(ledger, text),
        None => crate::release::artifact_digest(path, None),
    }
}

#[cfg(test)]
mod tests {
    use vouch_event::{EventId, Producer, Subject};
    use vouch_ledger::OpenOptions;

    use super::*;

    fn event(id: &str, body: Body) -> Event {
        Event {
            id: EventId::new(id).unwrap(),
            time: Timestamp::from_unix_nanos(1_795_167_000_000_000_000),
            producer: Producer::new("test").unwrap(),
            subject: Subject::Run(RunId::new("r1").unwrap()),
            body,
        }
    }

    fn logged(ledger: &mut Ledger, id: &str, path: &Path) -> HashedArtifact {
        let hashed = hash_artifact(path).unwrap();
        if let Some(m) = &hashed.manifest {
            Store::keep_manifest(ledger, m).unwrap();
        }
        let body = Body::ArtifactLogged(ArtifactLogged {
            name: name_or_file_name(None, path).unwrap(),
            digest: hashed.digest,
            size: hashed.size,
            uri: "file:///model".into(),
            sha256: Some(hashed.sha256),
        });
        append_one(ledger, event(id, body)).unwrap();
        ledger.catch_up(&mut |_, _| {}).unwrap();
        hashed
    }

    /// What `vouch audit DIR` and `--digest sha256:…` do once `release::audit` calls
    /// these (the e2e tests of both are ignored until then).
    #[test]
    fn a_changed_directory_is_explained_and_sha256_resolves() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ledger");
        Ledger::init(&dir, &OpenOptions::default()).unwrap();
        let mut ledger = Ledger::open(&dir, &OpenOptions::default()).unwrap();
        let start = Body::RunStarted(RunStarted {
            experiment: "e".into(),
            name: None,
            git: None,
            env: None,
        });
        append_one(&mut ledger, event("start", start)).unwrap();
        let model = tmp.path().join("model");
        std::fs::create_dir_all(model.join("weights")).unwrap();
        std::fs::write(model.join("config.json"), b"{}").unwrap();
        std::fs::write(model.join("weights/0.bin"), b"0").unwrap();
        std::fs::write(model.join("weights/1.bin"), b"1").unwrap();
        let first = logged(&mut ledger, "a1", &model);

        // Unchanged: nothing to explain; either digest names the artifact.
        let now = hash_artifact(&model).unwrap().manifest.unwrap();
        assert!(directory_drift(&ledger, "model", &now).unwrap().is_none());
        let sha = first.sha256.to_string();
        assert_eq!(resolve_digest(&ledger, &sha).unwrap(), first.digest);
        assert_eq!(
            artifact_digest_in(&ledger, None, Some(&first.digest.to_string())).unwrap(),
            first.digest
        );
        assert_eq!(
            artifact_digest_in(&ledger, Some(&model), None).unwrap(),
            first.digest
        );
        let unknown = format!("sha256:{}", "0".repeat(64));
        let e = resolve_digest(&ledger, &unknown).unwrap_err();
        assert_eq!(e.failure, Failure::BadInput);
        assert!(
            e.error.to_string().contains("no artifact with"),
            "{}",
            e.error
        );

        std::fs::write(model.join("weights/1.bin"), b"one").unwrap();
        std::fs::write(model.join("weights/2.bin"), b"2").unwrap();
        std::fs::remove_file(model.join("config.json")).unwrap();
        let now = hash_artifact(&model).unwrap().manifest.unwrap();
        let drift = directory_drift(&ledger, "model", &now).unwrap().unwrap();
        assert_eq!(drift.logged, first.digest);
        assert_eq!(drift.run.as_str(), "r1");
        let named: Vec<(&str, &str)> = drift.changes.iter().map(|c| (c.what(), c.path())).collect();
        assert_eq!(
            named,
            [
                ("removed", "config.json"),
                ("changed", "weights/1.bin"),
                ("added", "weights/2.bin"),
            ]
        );
        // The drift is measured against the latest logging of that name.
        let second = logged(&mut ledger, "a2", &model);
        assert!(directory_drift(&ledger, "model", &now).unwrap().is_none());
        assert_ne!(second.digest, first.digest);
        assert!(explain_directory(&ledger, &model).is_ok());
    }
}
