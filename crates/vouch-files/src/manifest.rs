//! A directory (a saved model: weights, config, tokenizer) as one artifact.
//!
//! A model is often a directory, not a file. Naming it by one digest needs a canonical
//! list of what is in it: its [`Manifest`], every regular file under it with its path,
//! size, BLAKE3 and SHA-256, in one byte encoding ([`Manifest::to_bytes`], specified in
//! `schemas/artifact-manifest.md`). The directory's BLAKE3 and SHA-256 are the two
//! hashes of those bytes, so the digest does not depend on the order files were created
//! in or the order the file system lists them, and the manifest kept beside the event
//! lets an audit name the very file that changed ([`diff`]).
//!
//! What cannot be named reproducibly is refused, each with the path in the message:
//! symbolic links (their target is outside the hashed bytes), devices, FIFOs and sockets,
//! and names that are not UTF-8. Empty directories are not recorded: only files are.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::Digest as _;

use crate::hash::{hash_reader, Hashes};

/// The first bytes of a canonical manifest: `vouch-manifest` in ASCII.
pub const MAGIC: &[u8; 14] = b"vouch-manifest";
/// The encoding version, the byte after [`MAGIC`].
pub const VERSION: u8 = 1;
/// The most files a directory artifact may hold.
pub const MAX_FILES: usize = 1_000_000;
/// The longest relative path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;

/// One file of a directory artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path relative to the directory, `/`-separated, UTF-8.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// BLAKE3-256 of its content.
    pub blake3: [u8; 32],
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
}

/// Every regular file under a directory, sorted by path (UTF-8 bytes), paths distinct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Manifest {
    entries: Vec<Entry>,
}

/// Why a manifest's bytes (or entries) are not a canonical manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The bytes do not start with [`MAGIC`] and [`VERSION`].
    #[error("not a vouch manifest (expected `vouch-manifest` and version 1)")]
    NotAManifest,
    /// The bytes end inside an entry, or go on past the last.
    #[error("the manifest is truncated or has bytes past its last entry")]
    Length,
    /// More than [`MAX_FILES`] entries.
    #[error("the manifest lists {0} files, over the limit of {MAX_FILES}")]
    TooManyFiles(u64),
    /// A path that breaks the rules (empty, `.`/`..`/empty segments, too long, not UTF-8).
    #[error("manifest path `{0}` is not a relative `/`-separated path of UTF-8 names")]
    BadPath(String),
    /// Entries out of order or repeated.
    #[error("manifest paths are not strictly ascending at `{0}`")]
    Order(String),
}

/// Whether `path` is a path a manifest may hold.
fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH_BYTES
        && !path.contains('\0')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

impl Manifest {
    /// A manifest of `entries` in any order.
    ///
    /// # Errors
    /// A path that breaks the rules, a path listed twice, or too many entries.
    pub fn new(mut entries: Vec<Entry>) -> Result<Self, ManifestError> {
        if entries.len() > MAX_FILES {
            return Err(ManifestError::TooManyFiles(entries.len() as u64));
        }
        if let Some(bad) = entries.iter().find(|e| !valid_path(&e.path)) {
            return Err(ManifestError::BadPath(bad.path.clone()));
        }
        entries.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
        if let Some(pair) = entries.windows(2).find(|w| w[0].path == w[1].path) {
            return Err(ManifestError::Order(pair[1].path.clone()));
        }
        Ok(Manifest { entries })
    }

    /// The files, by path.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The sum of the files' sizes: what `artifact_logged.size` records for a directory.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The canonical bytes: [`MAGIC`], [`VERSION`], the file count (u64 big-endian), then
    /// per file the path's length (u32 BE), the path's UTF-8 bytes, the size (u64 BE),
    /// BLAKE3 (32 bytes) and SHA-256 (32 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let paths: usize = self.entries.iter().map(|e| e.path.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 9 + paths + self.entries.len() * 76);
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.entries.len() as u64).to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&(e.path.len() as u32).to_be_bytes());
            out.extend_from_slice(e.path.as_bytes());
            out.extend_from_slice(&e.size.to_be_bytes());
            out.extend_from_slice(&e.blake3);
            out.extend_from_slice(&e.sha256);
        }
        out
    }

    /// The directory's two digests: BLAKE3 and SHA-256 of [`Manifest::to_bytes`]; `size`
    /// is [`Manifest::total_size`].
    pub fn hashes(&self) -> Hashes {
        let bytes = self.to_bytes();
        Hashes {
            blake3: *blake3::hash(&bytes).as_bytes(),
            sha256: sha2::Sha256::digest(&bytes).into(),
            size: self.total_size(),
            lines: 0,
        }
    }

    /// Reads canonical bytes back. Only the canonical form is accepted (sorted, distinct,
    /// valid paths, nothing left over), so a manifest has one encoding and one digest.
    ///
    /// # Errors
    /// Bytes that are not exactly a canonical manifest.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ManifestError> {
        let rest = bytes
            .strip_prefix(MAGIC.as_slice())
            .and_then(|r| r.strip_prefix(&[VERSION]))
            .ok_or(ManifestError::NotAManifest)?;
        let mut cursor = Cursor(rest);
        let count = u64::from_be_bytes(cursor.take()?);
        if count > MAX_FILES as u64 {
            return Err(ManifestError::TooManyFiles(count));
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = u32::from_be_bytes(cursor.take()?) as usize;
            let raw = cursor.slice(len)?;
            let path = std::str::from_utf8(raw)
                .map_err(|_| ManifestError::BadPath(String::from_utf8_lossy(raw).into_owned()))?;
            if !valid_path(path) {
                return Err(ManifestError::BadPath(path.to_owned()));
            }
            if entries
                .last()
                .is_some_and(|last| last.path.as_bytes() >= path.as_bytes())
            {
                return Err(ManifestError::Order(path.to_owned()));
            }
            entries.push(Entry {
                path: path.to_owned(),
                size: u64::from_be_bytes(cursor.take()?),
                blake3: cursor.take()?,
                sha256: cursor.take()?,
            });
        }
        if !cursor.0.is_empty() {
            return Err(ManifestError::Length);
        }
        Ok(Manifest { entries })
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], ManifestError> {
        if self.0.len() < n {
            return Err(ManifestError::Length);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], ManifestError> {
        Ok(self.slice(N)?.try_into().expect("N bytes"))
    }
}

/// How a file differs between two manifests of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// In both, with other content (or size).
    Changed(String),
    /// Only in the newer.
    Added(String),
    /// Only in the older.
    Removed(String),
}

impl Change {
    /// The file's path.
    pub fn path(&self) -> &str {
        match self {
            Change::Changed(p) | Change::Added(p) | Change::Removed(p) => p,
        }
    }

    /// `changed`, `added` or `removed`.
    pub fn what(&self) -> &'static str {
        match self {
            Change::Changed(_) => "changed",
            Change::Added(_) => "added",
            Change::Removed(_) => "removed",
        }
    }
}

/// The files that differ from `logged` to `now`, by path.
pub fn diff(logged: &Manifest, now: &Manifest) -> Vec<Change> {
    let (mut a, mut b) = (
        logged.entries.iter().peekable(),
        now.entries.iter().peekable(),
    );
    let mut out = Vec::new();
    loop {
        match (a.peek(), b.peek()) {
            (None, None) => return out,
            (Some(x), None) => {
                out.push(Change::Removed(x.path.clone()));
                a.next();
            }
            (None, Some(y)) => {
                out.push(Change::Added(y.path.clone()));
                b.next();
            }
            (Some(x), Some(y)) => match x.path.as_bytes().cmp(y.path.as_bytes()) {
                std::cmp::Ordering::Less => {
                    out.push(Change::Removed(x.path.clone()));
                    a.next();
                }
                std::cmp::Ordering::Greater => {
                    out.push(Change::Added(y.path.clone()));
                    b.next();
                }
                std::cmp::Ordering::Equal => {
                    if (x.size, x.blake3, x.sha256) != (y.size, y.blake3, y.sha256) {
                        out.push(Change::Changed(x.path.clone()));
                    }
                    a.next();
                    b.next();
                }
            },
        }
    }
}

/// Why a directory could not be hashed. Each names the path.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// The file system failed (not found, permission denied, a read error).
    #[error("{}: {source}", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A symbolic link inside the directory.
    #[error(
        "{} is a symbolic link: a directory artifact holds regular files only, \
         since a link's target is outside what is hashed (copy the file in instead)",
        path.display()
    )]
    Symlink {
        /// Where.
        path: PathBuf,
    },
    /// A device, FIFO or socket inside the directory.
    #[error(
        "{} is {what}: a directory artifact holds regular files only",
        path.display()
    )]
    NotRegular {
        /// Where.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A name that is not UTF-8, which a manifest cannot hold.
    #[error(
        "{} has a name that is not valid UTF-8: manifest paths are UTF-8 (rename it)",
        path.display()
    )]
    NotUtf8 {
        /// Where (shown lossily).
        path: PathBuf,
    },
    /// Over [`MAX_FILES`] files, or a path over [`MAX_PATH_BYTES`].
    #[error("{}: {why}", path.display())]
    TooLarge {
        /// Where.
        path: PathBuf,
        /// What limit.
        why: String,
    },
}

impl DirError {
    /// Whether the directory was refused for what it holds (rather than the file system
    /// failing): the caller's input is at fault.
    pub fn is_refused(&self) -> bool {
        !matches!(self, DirError::Io { .. })
    }

    /// The underlying I/O error, if the file system failed.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            DirError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> DirError + '_ {
    move |source| DirError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Lists every regular file under `dir` (recursively) as (relative path, full path),
/// refusing symlinks, special files and non-UTF-8 names.
fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>, DirError> {
    let mut files = Vec::new();
    // An explicit stack: a deep tree cannot overflow the thread's stack.
    let mut stack: Vec<(String, PathBuf)> = vec![(String::new(), dir.to_owned())];
    while let Some((prefix, at)) = stack.pop() {
        for entry in std::fs::read_dir(&at).map_err(io_at(&at))? {
            let entry = entry.map_err(io_at(&at))?;
            let full = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                return Err(DirError::NotUtf8 { path: full });
            };
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            if rel.len() > MAX_PATH_BYTES {
                return Err(DirError::TooLarge {
                    path: full,
                    why: format!("the relative path is over {MAX_PATH_BYTES} bytes"),
                });
            }
            // `DirEntry::file_type` does not follow symlinks.
            let file_type = entry.file_type().map_err(io_at(&full))?;
            if file_type.is_symlink() {
                return Err(DirError::Symlink { path: full });
            } else if file_type.is_dir() {
                stack.push((rel, full));
            } else if file_type.is_file() {
                if files.len() == MAX_FILES {
                    return Err(DirError::TooLarge {
                        path: dir.to_owned(),
                        why: format!("it holds over {MAX_FILES} files"),
                    });
                }
                files.push((rel, full));
            } else {
                return Err(DirError::NotRegular {
                    path: full,
                    what: crate::describe(file_type),
                });
            }
        }
    }
    files.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    Ok(files)
}

/// Opens one listed file without following a symlink swapped in since it was listed.
fn open_listed(path: &Path) -> Result<std::fs::File, DirError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                DirError::Symlink {
                    path: path.to_owned(),
                }
            } else {
                io_at(path)(e)
            }
        })?;
    let file_type = file.metadata().map_err(io_at(path))?.file_type();
    if !file_type.is_file() {
        return Err(DirError::NotRegular {
            path: path.to_owned(),
            what: crate::describe(file_type),
        });
    }
    Ok(file)
}

/// The manifest of the directory `dir`: every regular file under it hashed, files
/// spread over the CPU's cores (each file itself read once, both hashes per read).
///
/// # Errors
/// [`DirError`], naming the path at fault; the first in path order when several are.
pub fn hash_dir(dir: &Path) -> Result<Manifest, DirError> {
    let files = list(dir)?;
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(files.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Hashes, DirError>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some((_, full)) = files.get(i) else {
            return;
        };
        let hashed =
            open_listed(full).and_then(|file| hash_reader(file, false).map_err(io_at(full)));
        let failed = hashed.is_err();
        results.lock().expect("no worker panics holding it")[i] = Some(hashed);
        if failed {
            // Stop handing out work: the first error in path order is reported below.
            next.fetch_max(files.len(), Ordering::Relaxed);
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(work);
        }
        work();
    });
    let results = results.into_inner().expect("no worker panicked");
    let mut entries = Vec::with_capacity(files.len());
    for ((path, _), result) in files.into_iter().zip(results) {
        match result {
            Some(Ok(h)) => entries.push(Entry {
                path,
                size: h.size,
                blake3: h.blake3,
                sha256: h.sha256,
            }),
            Some(Err(e)) => return Err(e),
            // Not hashed because an earlier-handed file failed: that error comes later
            // in path order only if it is past this one, so keep looking for it.
            None => continue,
        }
    }
    Manifest::new(entries).map_err(|e| DirError::TooLarge {
        path: dir.to_owned(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    fn write(root: &Path, rel: &str, content: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    const FILES: [(&str, &[u8]); 6] = [
        ("config.json", b"{}"),
        ("weights/part-0.bin", b"0000"),
        ("weights/part-1.bin", b"1111"),
        ("tokenizer/vocab.txt", b"a\nb\n"),
        ("a-b", b"dash sorts before slash"),
        ("a/b", b"slash"),
    ];

    #[test]
    fn the_manifest_does_not_depend_on_creation_or_listing_order() {
        let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for (rel, content) in FILES {
            write(one.path(), rel, content);
        }
        for (rel, content) in FILES.iter().rev() {
            write(two.path(), rel, content);
        }
        // Empty directories are not recorded.
        std::fs::create_dir_all(two.path().join("empty/deeper")).unwrap();
        let (m1, m2) = (hash_dir(one.path()).unwrap(), hash_dir(two.path()).unwrap());
        assert_eq!(m1, m2);
        assert_eq!(m1.to_bytes(), m2.to_bytes());
        assert_eq!(m1.hashes(), m2.hashes());
        let paths: Vec<&str> = m1.entries().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a-b",
                "a/b",
                "config.json",
                "tokenizer/vocab.txt",
                "weights/part-0.bin",
                "weights/part-1.bin"
            ]
        );
        assert_eq!(
            m1.total_size(),
            FILES.iter().map(|f| f.1.len() as u64).sum::<u64>()
        );
        // Entries handed in any order give the same manifest as the walk.
        let mut shuffled = m1.entries().to_vec();
        shuffled.reverse();
        assert_eq!(Manifest::new(shuffled).unwrap(), m1);
        assert_eq!(Manifest::from_bytes(&m1.to_bytes()).unwrap(), m1);
    }

    #[test]
    fn canonical_bytes_of_a_one_file_manifest() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "abc", b"abc");
        let m = hash_dir(dir.path()).unwrap();
        let mut expected = b"vouch-manifest\x01".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        expected.extend_from_slice(&[0, 0, 0, 3]);
        expected.extend_from_slice(b"abc");
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        expected.extend_from_slice(blake3::hash(b"abc").as_bytes());
        expected.extend_from_slice(&<[u8; 32]>::from(sha2::Sha256::digest(b"abc")));
        assert_eq!(m.to_bytes(), expected);
        assert_eq!(m.hashes().blake3, *blake3::hash(&expected).as_bytes());
    }

    #[test]
    fn only_canonical_bytes_decode() {
        let entry = |path: &str| Entry {
            path: path.into(),
            size: 1,
            blake3: [1; 32],
            sha256: [2; 32],
        };
        let m = Manifest::new(vec![entry("b"), entry("a")]).unwrap();
        let bytes = m.to_bytes();
        for cut in 0..bytes.len() {
            assert!(Manifest::from_bytes(&bytes[..cut]).is_err(), "cut {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Manifest::from_bytes(&longer), Err(ManifestError::Length));
        // Swap the two entries: out of order.
        let half = (bytes.len() - 23) / 2;
        let mut swapped = bytes[..23].to_vec();
        swapped.extend_from_slice(&bytes[23 + half..]);
        swapped.extend_from_slice(&bytes[23..23 + half]);
        assert_eq!(
            Manifest::from_bytes(&swapped),
            Err(ManifestError::Order("a".into()))
        );
        for bad in ["", "/a", "a//b", "a/./b", "../a", "a/"] {
            assert_eq!(
                Manifest::new(vec![entry(bad)]),
                Err(ManifestError::BadPath(bad.into())),
                "{bad}"
            );
        }
        assert!(Manifest::new(vec![entry("a"), entry("a")]).is_err());
    }

    #[test]
    fn diff_names_changed_added_and_removed_files() {
        let dir = tempfile::tempdir().unwrap();
        for (rel, content) in FILES {
            write(dir.path(), rel, content);
        }
        let before = hash_dir(dir.path()).unwrap();
        write(dir.path(), "weights/part-1.bin", b"1112");
        write(dir.path(), "weights/part-2.bin", b"2222");
        std::fs::remove_file(dir.path().join("config.json")).unwrap();
        let after = hash_dir(dir.path()).unwrap();
        assert_ne!(before.hashes().blake3, after.hashes().blake3);
        assert_eq!(
            diff(&before, &after),
            [
                Change::Removed("config.json".into()),
                Change::Changed("weights/part-1.bin".into()),
                Change::Added("weights/part-2.bin".into()),
            ]
        );
        assert!(diff(&after, &after).is_empty());
    }

    #[test]
    fn symlinks_special_files_and_non_utf8_names_are_refused_by_path() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "model.bin", b"x");
        std::os::unix::fs::symlink("model.bin", dir.path().join("link")).unwrap();
        let e = hash_dir(dir.path()).unwrap_err();
        assert!(matches!(e, DirError::Symlink { .. }), "{e}");
        assert!(e.is_refused());
        assert!(e.to_string().contains("/link is a symbolic link"), "{e}");
        std::fs::remove_file(dir.path().join("link")).unwrap();

        let fifo = dir.path().join("sub/pipe");
        std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = hash_dir(dir.path()).unwrap_err();
        assert!(
            e.to_string().contains("sub/pipe is a named pipe (FIFO)"),
            "{e}"
        );
        std::fs::remove_file(&fifo).unwrap();

        let bad = dir.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
        std::fs::write(&bad, b"x").unwrap();
        let e = hash_dir(dir.path()).unwrap_err();
        assert!(matches!(e, DirError::NotUtf8 { .. }), "{e}");
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
        std::fs::remove_file(&bad).unwrap();

        assert!(hash_dir(dir.path()).is_ok());
        let e = hash_dir(&dir.path().join("missing")).unwrap_err();
        assert_eq!(e.io_kind(), Some(io::ErrorKind::NotFound));
    }

    #[test]
    fn many_files_hash_in_parallel_like_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..64 {
            write(
                dir.path(),
                &format!("d{}/f{i}", i % 5),
                &vec![i as u8; i * 997],
            );
        }
        write(dir.path(), "big", &vec![9u8; crate::hash::CHUNK * 2 + 17]);
        let m = hash_dir(dir.path()).unwrap();
        assert_eq!(m.entries().len(), 65);
        for e in m.entries() {
            let bytes = std::fs::read(dir.path().join(&e.path)).unwrap();
            assert_eq!(e.blake3, *blake3::hash(&bytes).as_bytes(), "{}", e.path);
            assert_eq!(e.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&bytes)));
            assert_eq!(e.size, bytes.len() as u64);
        }
    }
}
