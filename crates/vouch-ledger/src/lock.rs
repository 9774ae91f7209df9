//! The ledger directory lock: one process at a time, others wait their turn.
//!
//! sled refuses a second process outright; pipelines on one machine logging at once
//! should queue instead. An advisory `flock` on `LOCK` is taken before sled is opened,
//! polled with capped backoff until a deadline. The holder writes its pid into the file
//! so a timeout can say who holds it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use fs2::FileExt;

use crate::OpenError;

/// Holds the ledger lock until dropped.
pub struct DirLock {
    file: File,
}

impl DirLock {
    /// Takes the lock on `dir`, waiting up to `timeout`.
    ///
    /// # Errors
    /// [`OpenError::Busy`] after `timeout`; [`OpenError::Io`] when the lock file cannot
    /// be opened.
    pub fn acquire(dir: &Path, timeout: Duration) -> Result<DirLock, OpenError> {
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| OpenError::Io {
                action: "opening",
                path: path.clone(),
                source,
            })?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        let waiting = lock_waiters_path(dir);
        let mut announced = false;
        loop {
            match file.try_lock_exclusive() {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => {
                    // Tell a holder that keeps the ledger open between its own requests
                    // (`vouch serve --http`) that someone is waiting.
                    if !announced {
                        announced =
                            std::fs::write(&waiting, std::process::id().to_string()).is_ok();
                    }
                    if start.elapsed() >= timeout {
                        let mut holder = String::new();
                        let _ = file.read_to_string(&mut holder);
                        let holder = match holder.trim() {
                            "" => "another process".to_owned(),
                            pid => format!("process {pid}"),
                        };
                        return Err(OpenError::Busy {
                            dir: dir.to_owned(),
                            holder,
                            waited: start.elapsed(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(25));
                }
                Err(source) => {
                    return Err(OpenError::Io {
                        action: "locking",
                        path,
                        source,
                    });
                }
            }
        }
        if announced {
            let _ = std::fs::remove_file(&waiting);
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(DirLock { file })
    }
}

/// The file a process waiting for the ledger's lock creates while it waits, and removes
/// once it has the lock: a holder that would otherwise keep the ledger open lets it go
/// when it sees the file.
pub fn lock_waiters_path(dir: &Path) -> std::path::PathBuf {
    dir.join("LOCK.waiting")
}

/// Whether another live process is waiting for the ledger's lock (it left
/// [`lock_waiters_path`] naming itself). A file left by a process that died is ignored.
pub fn others_waiting(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock_waiters_path(dir)) else {
        return false;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}
