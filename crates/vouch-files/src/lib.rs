//! Reading the small files Vouch is handed: private keys, policies, trust lists, audit
//! bundles, NATS credentials.
//!
//! [`read`] is the one way they are read. A path that is not a regular file (a FIFO, a
//! device such as `/dev/zero`, a directory, a socket) is refused at once instead of
//! blocking or reading forever; a file over its kind's cap is refused by its size before
//! a byte is read; and the read itself stops one byte past the cap, so a file that grows
//! while it is read costs bounded memory too. Each file format decides its own cap
//! ([`FileKind`]), next to the format.
//!
//! Artifacts are the large files Vouch is handed: [`hash`] reads one once for both of
//! its digests (BLAKE3, SHA-256), and [`manifest`] names a whole directory (a saved
//! model) by the digests of its canonical manifest.
#![deny(missing_docs)]

pub mod hash;
pub mod manifest;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// A kind of file and the most bytes Vouch reads of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileKind {
    what: &'static str,
    max_bytes: u64,
}

impl FileKind {
    /// `what` names the kind in messages (`key file`, `policy`); `max_bytes` is its cap.
    pub const fn new(what: &'static str, max_bytes: u64) -> Self {
        FileKind { what, max_bytes }
    }

    /// The kind's name, as messages use it.
    pub const fn what(self) -> &'static str {
        self.what
    }

    /// The largest file of this kind that is read.
    pub const fn max_bytes(self) -> u64 {
        self.max_bytes
    }
}

/// Why a path was refused before (or while) reading it. Carried inside an
/// [`io::Error`] of kind [`io::ErrorKind::InvalidInput`]; see [`is_refused`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a regular file: what it is instead.
    NotRegular(&'static str),
    /// Over the kind's cap.
    TooLarge {
        /// The kind.
        what: &'static str,
        /// Its size, or at least how much was there.
        size: u64,
        /// The cap.
        limit: u64,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotRegular(what) => write!(f, "it is {what}, not a regular file"),
            Refused::TooLarge { what, size, limit } => {
                write!(
                    f,
                    "it is {size} bytes, over the {limit}-byte limit for a {what}"
                )
            }
        }
    }
}

impl std::error::Error for Refused {}

fn refused(why: Refused) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why)
}

/// Whether `error` is a refusal by [`read`] (not a regular file, too large), rather than
/// a failure of the file system.
pub fn is_refused(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<Refused>().is_some())
}

/// What a file that is not a regular file is, for the message.
pub(crate) fn describe(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a named pipe (FIFO)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

/// Opens `path` for reading if it is a regular file, of any size: for files Vouch streams
/// (artifacts and datasets it hashes), where a FIFO or a device would block or never end.
///
/// # Errors
/// The file system's error, or [`io::ErrorKind::InvalidInput`] carrying [`Refused`] when
/// the path is not a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(refused(Refused::NotRegular(describe(file_type))));
    }
    Ok(file)
}

/// Reads the whole file at `path`, if it is a regular file of at most
/// `kind.max_bytes()` bytes.
///
/// # Errors
/// The file system's error (not found, permission denied, …), or an error of kind
/// [`io::ErrorKind::InvalidInput`] carrying [`Refused`] when the path is not a regular
/// file or is over the cap.
pub fn read(path: &Path, kind: FileKind) -> io::Result<Vec<u8>> {
    // Non-blocking, so opening a FIFO does not wait for a writer; it changes nothing for
    // a regular file. The type is then checked on the open handle, not the path, so the
    // path cannot be swapped for something else in between.
    let file = open_regular(path)?;
    let metadata = file.metadata()?;
    let too_large = |size| {
        refused(Refused::TooLarge {
            what: kind.what,
            size,
            limit: kind.max_bytes,
        })
    };
    if metadata.len() > kind.max_bytes {
        return Err(too_large(metadata.len()));
    }
    // Sized from the metadata, but never trusting it: a file that grew stops at the cap.
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(kind.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > kind.max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
///
/// # Errors
/// As [`read`]; and [`io::ErrorKind::InvalidData`] when the file is not UTF-8.
pub fn read_to_string(path: &Path, kind: FileKind) -> io::Result<String> {
    String::from_utf8(read(path, kind)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the {} is not UTF-8 text", kind.what),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    const SMALL: FileKind = FileKind::new("test file", 16);

    #[test]
    fn reads_regular_files_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"0123456789abcdef");
        assert_eq!(read_to_string(&path, SMALL).unwrap(), "0123456789abcdef");
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read(&path, SMALL).unwrap(), b"");
    }

    #[test]
    fn refuses_a_file_over_the_cap_by_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789abcdefX").unwrap();
        let e = read(&path, SMALL).unwrap_err();
        assert!(is_refused(&e), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "it is 17 bytes, over the 16-byte limit for a test file"
        );
        // A sparse file of 5 GB is refused at once: nothing is read.
        let huge = dir.path().join("huge");
        File::create(&huge).unwrap().set_len(5 << 30).unwrap();
        let start = Instant::now();
        let e = read(&huge, FileKind::new("key file", 64 << 10)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(1));
        assert_eq!(
            e.to_string(),
            "it is 5368709120 bytes, over the 65536-byte limit for a key file"
        );
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let start = Instant::now();
        for (path, what) in [
            (fifo.as_path(), "a named pipe (FIFO)"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a directory"),
        ] {
            let e = read(path, SMALL).unwrap_err();
            assert!(is_refused(&e), "{}: {e}", path.display());
            assert_eq!(e.to_string(), format!("it is {what}, not a regular file"));
        }
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn file_system_errors_pass_through() {
        let e = read(Path::new("/nonexistent/vouch"), SMALL).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(!is_refused(&e));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latin1");
        std::fs::write(&path, b"caf\xe9").unwrap();
        let e = read_to_string(&path, SMALL).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }
}
