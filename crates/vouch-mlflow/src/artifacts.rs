//! The artifact proxy: files the client uploads (`mlflow-artifacts:` URIs), stored
//! content-addressed under the ledger directory and logged as the run's artifacts, so
//! gates, audit and bundles see them like any other.
//!
//! Layout: `<ledger>/artifacts/blobs/<blake3 hex>` holds each distinct content once;
//! `<ledger>/artifacts/incoming/` holds uploads in progress. An upload is hashed as it
//! streams to a temporary file (never whole in memory), renamed to its digest once
//! complete and synced, and only then logged: a failed or cut upload leaves no event, and
//! a blob with no event is harmless (the next upload of that content reuses it).
//!
//! Paths: `runs/<run>/artifacts/<path>` for a run's files and
//! `models/<model id>/artifacts/<path>` for a logged model's, which are logged on the
//! model's run under `models/<model id>/<path>`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use sha2::Digest as _;
use vouch_event::{ArtifactLogged, Body, Digest, RunId, Sha256, Subject};
use vouch_ledger::Ledger;
use vouch_views::{ArtifactEntry, RunDoc, Views};

use crate::ids::event_id;
use crate::tracking::{append, event, views_error};
use crate::{Caller, MlflowError, Result};

/// The longest artifact path inside a run, in characters (an artifact's name).
pub const MAX_PATH_CHARS: usize = 250;

/// What an artifact path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A run's own artifacts.
    Run(RunId),
    /// A logged model's files.
    Model(String),
}

/// A parsed artifact path: a root and a relative path (possibly empty: the root itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactPath {
    /// Whose files.
    pub root: Root,
    /// The path inside, `/`-separated, without empty, `.` or `..` segments.
    pub rel: String,
}

/// Parses a proxy path (`runs/<run>/artifacts/a/b.txt`), already percent-decoded. Refuses
/// `..`, `.`, empty segments, backslashes and control characters: nothing can name a
/// file outside its root.
///
/// # Errors
/// 400 naming the problem; 404 for a root that is not a run's or a model's.
pub fn parse_path(path: &str) -> Result<ArtifactPath> {
    let path = path.trim_matches('/');
    let mut segments = path.split('/');
    let (kind, id, marker) = (segments.next(), segments.next(), segments.next());
    let rest: Vec<&str> = segments.collect();
    for segment in &rest {
        if segment.is_empty()
            || *segment == "."
            || *segment == ".."
            || segment.contains('\\')
            || segment.chars().any(char::is_control)
        {
            return Err(MlflowError::invalid(format!(
                "artifact path `{}` has a `{segment}` segment: paths may not climb out of \
                 their directory or hold empty, `.` or control-character segments",
                path.chars().take(200).collect::<String>()
            )));
        }
    }
    let rel = rest.join("/");
    if rel.chars().count() > MAX_PATH_CHARS {
        return Err(MlflowError::invalid(format!(
            "artifact path `{rel}` is over {MAX_PATH_CHARS} characters"
        )));
    }
    let root = match (kind, id, marker) {
        (Some("runs"), Some(run), Some("artifacts")) => {
            Root::Run(RunId::new(run).map_err(|_| MlflowError::missing(format!("no run `{run}`")))?)
        }
        (Some("models"), Some(model), Some("artifacts")) => Root::Model(model.to_owned()),
        _ => {
            return Err(MlflowError::missing(format!(
                "artifact path `{path}` is not under runs/<run>/artifacts or \
                 models/<model id>/artifacts"
            )))
        }
    };
    Ok(ArtifactPath { root, rel })
}

/// The run holding a path's files, and the prefix of their artifact names in it.
fn locate(views: &Views, root: &Root) -> Result<(RunDoc, String)> {
    let (run, prefix) = match root {
        Root::Run(run) => (run.clone(), String::new()),
        Root::Model(id) => {
            let model = views
                .logged_model(id)
                .map_err(|e| views_error(&e))?
                .ok_or_else(|| {
                    MlflowError::missing(format!("Logged model with ID '{id}' not found"))
                })?;
            (model.run, format!("models/{id}/"))
        }
    };
    let doc = views
        .run(&run)
        .map_err(|e| views_error(&e))?
        .filter(|d| d.started.is_some())
        .ok_or_else(|| MlflowError::missing(format!("Run with id={run} not found")))?;
    Ok((doc, prefix))
}

/// The latest entry per artifact name under `prefix`, by the name after the prefix. A
/// run's own listing leaves out its logged models' files.
fn latest<'a>(doc: &'a RunDoc, prefix: &str) -> BTreeMap<&'a str, &'a ArtifactEntry> {
    let models: Vec<String> = doc
        .model_outputs
        .iter()
        .map(|m| format!("models/{}/", m.model_id))
        .collect();
    let mut out = BTreeMap::new();
    for entry in &doc.artifacts {
        let Some(rest) = entry.name.strip_prefix(prefix) else {
            continue;
        };
        if prefix.is_empty() && models.iter().any(|m| entry.name.starts_with(m.as_str())) {
            continue;
        }
        out.insert(rest, entry);
    }
    out
}

/// The stored content of the file at `path`: its digest and size.
///
/// # Errors
/// 404 when no file was uploaded there.
pub fn find(views: &Views, path: &ArtifactPath) -> Result<(Digest, u64)> {
    let (doc, prefix) = locate(views, &path.root)?;
    latest(&doc, &prefix)
        .get(path.rel.as_str())
        .map(|e| (e.digest, e.size))
        .ok_or_else(|| MlflowError::missing(format!("artifact {} not found", path.rel)))
}

/// `GET mlflow-artifacts/artifacts?path=…`: the files and directories directly inside
/// `path` (names relative to it). An unknown directory lists nothing.
pub fn list(views: &Views, path: &ArtifactPath) -> Result<Value> {
    let (doc, prefix) = match locate(views, &path.root) {
        Ok(found) => found,
        Err(e) if e.code == crate::ErrorCode::ResourceDoesNotExist => {
            return Ok(json!({ "files": [] }))
        }
        Err(e) => return Err(e),
    };
    let dir = if path.rel.is_empty() {
        String::new()
    } else {
        format!("{}/", path.rel)
    };
    let mut files: BTreeMap<&str, Option<u64>> = BTreeMap::new();
    let all = latest(&doc, &prefix);
    for (name, entry) in &all {
        let Some(rest) = name.strip_prefix(dir.as_str()) else {
            continue;
        };
        match rest.split_once('/') {
            Some((sub, _)) => {
                files.insert(sub, None);
            }
            None if !rest.is_empty() => {
                files.insert(rest, Some(entry.size));
            }
            None => {}
        }
    }
    let files: Vec<Value> = files
        .into_iter()
        .map(|(name, size)| match size {
            Some(size) => json!({"path": name, "is_dir": false, "file_size": size}),
            None => json!({"path": name, "is_dir": true}),
        })
        .collect();
    Ok(json!({ "files": files }))
}

/// Whether a file may be uploaded to `path`: its run or logged model exists and the run
/// is not deleted. Checked before any byte is stored, and again when the upload is
/// logged; the one rule for both is here.
///
/// # Errors
/// 404 for an unknown run or model, 400 for a deleted run or a path without a file name.
pub fn check_target(views: &Views, path: &ArtifactPath) -> Result<()> {
    if path.rel.is_empty() {
        return Err(MlflowError::invalid("an upload needs a file name"));
    }
    let (doc, _) = locate(views, &path.root)?;
    if doc.lifecycle == vouch_event::Lifecycle::Deleted {
        return Err(MlflowError::invalid(format!(
            "The run {} must be in the 'active' state. Current state is deleted.",
            doc.run
        )));
    }
    Ok(())
}

/// Logs an uploaded file, stored as `digest`, at `path`: an `artifact_logged` event on
/// the run that owns the path, with the upload's `sha256` so supply-chain tools can name
/// it too. The same content at the same path again is no new fact.
///
/// # Errors
/// 404 for an unknown run or model, 400 for a deleted run, a ledger failure otherwise.
pub fn record(
    ledger: &mut Ledger,
    caller: &Caller,
    path: &ArtifactPath,
    digest: Digest,
    size: u64,
    sha256: Option<Sha256>,
) -> Result<()> {
    check_target(ledger.views(), path)?;
    let (doc, prefix) = locate(ledger.views(), &path.root)?;
    let name = format!("{prefix}{}", path.rel);
    if latest(&doc, "")
        .get(name.as_str())
        .is_some_and(|e| e.digest == digest)
    {
        return Ok(());
    }
    let root = match &path.root {
        Root::Run(run) => format!("runs/{run}/artifacts"),
        Root::Model(id) => format!("models/{id}/artifacts"),
    };
    let e = event(
        caller,
        event_id(
            "artifact",
            &[
                doc.run.as_str().as_bytes(),
                name.as_bytes(),
                digest.as_bytes(),
                &doc.last_position.to_le_bytes(),
            ],
        ),
        caller.now,
        Subject::Run(doc.run.clone()),
        Body::ArtifactLogged(ArtifactLogged {
            name,
            digest,
            size,
            uri: format!("mlflow-artifacts:/{root}/{}", path.rel),
            sha256,
        }),
    )?;
    append(ledger, &[e])
}

/// Content-addressed storage of uploaded files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

/// An upload in progress: written to a temporary file and hashed as it arrives.
pub struct Upload {
    file: std::fs::File,
    temp: PathBuf,
    hasher: vouch_event::DigestWriter,
    /// SHA-256 of the same bytes, taken as they stream by: the upload is read once.
    sha256: sha2::Sha256,
    size: u64,
    limit: u64,
}

impl BlobStore {
    /// The store of the ledger at `ledger_dir`.
    pub fn new(ledger_dir: &Path) -> Self {
        BlobStore {
            dir: ledger_dir.join("artifacts"),
        }
    }

    /// Where the blob with `digest` is.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs").join(digest.hex())
    }

    /// Starts an upload of at most `limit` bytes. `nonce` names its temporary file
    /// (randomness is the caller's).
    ///
    /// # Errors
    /// When the temporary file cannot be created.
    pub fn begin(&self, nonce: u64, limit: u64) -> std::io::Result<Upload> {
        let incoming = self.dir.join("incoming");
        std::fs::create_dir_all(&incoming)?;
        std::fs::create_dir_all(self.dir.join("blobs"))?;
        let temp = incoming.join(format!("{nonce:016x}"));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        Ok(Upload {
            file,
            temp,
            hasher: vouch_event::DigestWriter::default(),
            sha256: sha2::Sha256::new(),
            size: 0,
            limit,
        })
    }
}

/// Why an upload failed.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Over the size limit.
    #[error("the upload is over the {0}-byte limit for one artifact (see `vouch serve --max-upload-mib`)")]
    TooLarge(u64),
    /// Writing failed (a full disk).
    #[error("storing the upload failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Upload {
    /// Writes the next chunk.
    ///
    /// # Errors
    /// Over the limit, or when writing fails; the upload is then abandoned.
    pub fn write(&mut self, chunk: &[u8]) -> std::result::Result<(), UploadError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(UploadError::TooLarge(self.limit));
        }
        self.hasher.update(chunk);
        self.sha256.update(chunk);
        self.file.write_all(chunk)?;
        Ok(())
    }

    /// Syncs the file and moves it to its digest's place: the blob's digest, size and
    /// SHA-256.
    ///
    /// # Errors
    /// When syncing or renaming fails.
    pub fn finish(
        self,
        store: &BlobStore,
    ) -> std::result::Result<(Digest, u64, Sha256), UploadError> {
        self.file.sync_all()?;
        let digest = self.hasher.finish();
        let sha256 = Sha256(self.sha256.finalize().into());
        let target = store.path(&digest);
        if target.exists() {
            std::fs::remove_file(&self.temp)?;
        } else {
            std::fs::rename(&self.temp, &target)?;
            if let Some(parent) = target.parent() {
                std::fs::File::open(parent)?.sync_all()?;
            }
        }
        Ok((digest, self.size, sha256))
    }

    /// Abandons the upload, removing its temporary file.
    pub fn abandon(self) {
        let _ = std::fs::remove_file(&self.temp);
    }
}
