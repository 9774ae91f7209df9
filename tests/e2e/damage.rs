//! Damage through the binary: what README and the embedded log promise when the ledger's
//! files are not what Vouch left there.
//!
//! - a ledger of the previous version (a sled log) is converted on first open and answers
//!   exactly as the old binary did;
//! - a full disk fails the write with exit 74 saying so, keeps every acknowledged event,
//!   keeps nothing half-written, and the ledger works again once there is space;
//! - one flipped byte anywhere in the ledger's files ends every command in a clear error
//!   naming the damage or in the undamaged ledger's answer: never a wrong answer, a
//!   duplicate, a panic or a hang (`VOUCH_ROT_CASES` cases per kind of file, default 40;
//!   `VOUCH_TEST_SEED` replays a run);
//! - a deleted log is refused, never mistaken for an empty one; another ledger's log is
//!   refused naming both identities until `vouch rebuild` adopts it;
//! - `vouch ingest` SIGKILLed at a random moment loses no acknowledged event and stores
//!   none twice (`crash.rs` checks the views against a rebuild under many more kills).
//!
//! Every command runs under a deadline: a hang is a failure, never a stuck test.

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use vouch_event::RunId;
use vouch_log::Position;

use crate::support::{copy_dir, metric_event, seed, start_event, Rng, Run, TestLedger};

// ---------------------------------------------------------------------------------------
// Commands under a deadline
// ---------------------------------------------------------------------------------------

/// How a command ended.
struct Timed {
    run: Run,
    /// The signal that ended it, if one did.
    signal: Option<i32>,
    /// Still running at the deadline (then killed).
    hung: bool,
}

impl Timed {
    /// Panicked, killed by a signal, or hung: never an acceptable end.
    fn broke(&self) -> Option<String> {
        if self.hung {
            return Some("still running at the deadline (a hang)".into());
        }
        if let Some(signal) = self.signal {
            return Some(format!("killed by signal {signal}"));
        }
        if self.run.code == 101 || self.run.stderr.contains("panicked") {
            return Some(format!("panicked (exit {})", self.run.code));
        }
        None
    }

    /// Exit 0 and none of the above, or the details.
    #[track_caller]
    fn ok(&self) -> &str {
        assert!(
            self.broke().is_none() && self.run.code == 0,
            "expected success: {}\nstdout: {}\nstderr: {}",
            self.broke()
                .unwrap_or_else(|| format!("exit {}", self.run.code)),
            self.run.stdout,
            self.run.stderr
        );
        &self.run.stdout
    }

    #[track_caller]
    fn json(&self) -> Value {
        self.run.json()
    }

    fn describe(&self) -> String {
        format!(
            "{}\nstdout: {}\nstderr: {}",
            self.broke()
                .unwrap_or_else(|| format!("exit {}", self.run.code)),
            self.run.stdout,
            self.run.stderr
        )
    }
}

/// Runs `command` (standard input from `input`, or none) and kills it at `limit`.
fn run_timed(mut command: Command, input: Option<Vec<u8>>, limit: Duration) -> Timed {
    command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().expect("spawn vouch");
    let writer = input.map(|bytes| {
        let mut stdin = child.stdin.take().expect("stdin");
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut hung = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for vouch") {
            break status;
        }
        if start.elapsed() >= limit {
            hung = true;
            let _ = child.kill();
            break child.wait().expect("wait for vouch");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Timed {
        run: Run {
            code: status.code().unwrap_or(-1),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        },
        signal: if hung { None } else { status.signal() },
        hung,
    }
}

/// `vouch --ledger <dir> ARGS…` with a clean environment (as `TestLedger::command`).
fn command_at(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(crate::support::vouch_bin());
    command
        .arg("--ledger")
        .arg(dir)
        .args(args)
        .env_remove("VOUCH_LEDGER")
        .env_remove("VOUCH_LOG")
        .env_remove("VOUCH_LOCK_TIMEOUT")
        .env_remove("VOUCH_NATS_URL")
        .current_dir(dir.parent().expect("a ledger has a parent directory"));
    command
}

fn vouch_at(dir: &Path, args: &[&str], limit: Duration) -> Timed {
    run_timed(command_at(dir, args), None, limit)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Every regular file under `dir` (none when it does not exist), sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let entry = entry.expect("dir entry");
            if entry.file_type().expect("file type").is_dir() {
                stack.push(entry.path());
            } else {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// The segment files of the ledger at `dir`, sorted.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    files_under(&dir.join("log").join("segments"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect()
}

/// The log's event ids in order, read through the library (no process holds the ledger).
fn stored_ids(dir: &Path) -> Vec<String> {
    let ledger = vouch_ledger::Ledger::open(dir, &Default::default()).expect("open ledger");
    let last = ledger.log().last_position().expect("last position").get();
    let mut ids = Vec::with_capacity(last as usize);
    let mut next = 1;
    while next <= last {
        let records = ledger
            .log()
            .read(Position::new(next), 8192)
            .expect("read the log");
        assert!(!records.is_empty(), "the log ends before {last}");
        next += records.len() as u64;
        ids.extend(records.into_iter().map(|r| r.event_id));
    }
    ids
}

/// As [`stored_ids`], or `None` when the ledger does not open or the log does not read.
fn try_stored_ids(dir: &Path) -> Option<Vec<String>> {
    let ledger = vouch_ledger::Ledger::open(dir, &Default::default()).ok()?;
    let last = ledger.log().last_position().ok()?.get();
    let mut ids = Vec::with_capacity(last as usize);
    while (ids.len() as u64) < last {
        let records = ledger
            .log()
            .read(Position::new(ids.len() as u64 + 1), 8192)
            .ok()?;
        if records.is_empty() {
            return None;
        }
        ids.extend(records.into_iter().map(|r| r.event_id));
    }
    Some(ids)
}

/// How many times each id is stored.
fn id_counts(ids: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    counts
}

const SHORT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// 1. A sled ledger of the previous version
// ---------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// The fixture ledger (the loan-risk demo, 121 records, written by the sled version)
/// untarred at `<tmp>/ledger`.
fn sled_ledger() -> TestLedger {
    let ledger = TestLedger::uninitialised();
    let untar = Command::new("tar")
        .arg("-xzf")
        .arg(fixture("sled-ledger-v0.tar.gz"))
        .arg("-C")
        .arg(ledger.tmp.path())
        .output()
        .expect("run tar");
    assert!(
        untar.status.success(),
        "tar: {}",
        String::from_utf8_lossy(&untar.stderr)
    );
    std::fs::rename(ledger.tmp.path().join("sled-ledger"), ledger.path())
        .expect("the fixture holds sled-ledger/");
    ledger
}

#[test]
fn a_sled_ledger_of_the_previous_version_is_converted_and_answers_as_before() {
    let ledger = sled_ledger();
    let log = ledger.path().join("log");
    assert!(log.join("sled").is_dir(), "the fixture holds a sled log");
    assert!(!log.join("segments").exists());

    let status = vouch_at(&ledger.path(), &["--json", "status"], SHORT);
    status.ok();
    let status = status.json();
    assert_eq!(status["log_position"], 121, "{status}");
    assert_eq!(status["view_position"], 121, "{status}");
    assert_eq!(status["counts"]["quarantined"], 0, "{status}");
    assert!(log.join("segments").is_dir(), "converted into segments/");
    assert!(
        log.join("sled-before-segments").is_dir(),
        "the sled store is kept for the operator"
    );
    assert!(!log.join("sled").exists(), "nothing is converted twice");
    assert!(!segment_files(&ledger.path()).is_empty());

    let verify = vouch_at(&ledger.path(), &["--json", "verify"], SHORT);
    verify.ok();
    let report = &verify.json()["report"];
    assert_eq!(report["records"], 121, "{report}");
    assert_eq!(report["decisions"], 6, "{report}");
    assert_eq!(report["refused"], json!([]), "{report}");

    let expected_runs: Value = serde_json::from_slice(
        &std::fs::read(fixture("sled-ledger-v0.runs.json")).expect("runs fixture"),
    )
    .expect("runs fixture is JSON");
    let runs = vouch_at(&ledger.path(), &["--json", "runs", "list"], SHORT);
    runs.ok();
    assert_eq!(
        runs.json(),
        expected_runs,
        "runs list differs from the old binary's"
    );
    let expected_decisions: Value = serde_json::from_slice(
        &std::fs::read(fixture("sled-ledger-v0.decisions.json")).expect("decisions fixture"),
    )
    .expect("decisions fixture is JSON");
    let decisions = vouch_at(&ledger.path(), &["--json", "decisions"], SHORT);
    decisions.ok();
    assert_eq!(decisions.json(), expected_decisions);

    // A second command opens the converted log as it is: same answers, nothing redone.
    let again = vouch_at(&ledger.path(), &["--json", "status"], SHORT);
    again.ok();
    assert_eq!(again.json(), status);
    assert!(
        !again.run.stderr.contains("sled"),
        "converted again?\n{}",
        again.run.stderr
    );
    vouch_at(&ledger.path(), &["verify"], SHORT).ok();

    // The converted records keep their ids: an old event offered again is a duplicate.
    let old = {
        let open = vouch_ledger::Ledger::open(&ledger.path(), &Default::default()).unwrap();
        let records = open.log().read(Position::new(1), 121).unwrap();
        let record = records
            .iter()
            .find(|r| r.key.as_str().starts_with("run."))
            .expect("an evidence record")
            .clone();
        let event = vouch_event::decode(&record.bytes).expect("an old event decodes");
        vouch_event::to_json(&event)
    };
    let file = ledger.file("old.jsonl", format!("{old}\n").as_bytes());
    let ingest = vouch_at(&ledger.path(), &["--json", "ingest", s(&file)], SHORT);
    ingest.ok();
    assert_eq!(ingest.json()["duplicates"], 1, "{}", ingest.run.stdout);
    assert_eq!(ingest.json()["appended"], 0, "{}", ingest.run.stdout);

    // New writes continue the old log.
    let logged = vouch_at(
        &ledger.path(),
        &[
            "--json",
            "log",
            "metric",
            "--run",
            "loan-risk-b",
            "converted_check=1",
        ],
        SHORT,
    );
    logged.ok();
    assert_eq!(logged.json()["position"], 122, "{}", logged.run.stdout);
    assert_eq!(logged.json()["duplicate"], false);
    let status = vouch_at(&ledger.path(), &["--json", "status"], SHORT);
    assert_eq!(status.json()["log_position"], 122);
    assert_eq!(status.json()["view_position"], 122);
    vouch_at(&ledger.path(), &["verify"], SHORT).ok();
}

// ---------------------------------------------------------------------------------------
// 2. A full disk
// ---------------------------------------------------------------------------------------

/// A small file system for one test: a 256 MiB tmpfs mounted on a temp directory (we run
/// as root), unmounted on drop. Without mount rights, a per-file size limit
/// (RLIMIT_FSIZE) on every `vouch` process stands in for the full disk.
struct SmallDisk {
    dir: tempfile::TempDir,
    mounted: bool,
    /// The file size limit, when not mounted (`None`: space freed).
    limit: Mutex<Option<u64>>,
    filler: PathBuf,
}

impl SmallDisk {
    fn new() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mount = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256m", "tmpfs"])
            .arg(dir.path())
            .output();
        let mounted = matches!(&mount, Ok(o) if o.status.success());
        if !mounted {
            eprintln!(
                "disk-full test: cannot mount a tmpfs ({}); limiting file sizes instead",
                match &mount {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                }
            );
            // SAFETY: getrlimit writes into the struct we pass.
            let mut current = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            let known = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut current) } == 0;
            if !known || current.rlim_max != libc::RLIM_INFINITY {
                eprintln!("disk-full test skipped: neither a tmpfs nor RLIMIT_FSIZE is available");
                return None;
            }
        }
        let filler = dir.path().join("filler");
        Some(SmallDisk {
            dir,
            mounted,
            limit: Mutex::new(None),
            filler,
        })
    }

    /// A ledger on this disk (not yet initialised).
    fn ledger(&self) -> TestLedger {
        TestLedger {
            tmp: tempfile::tempdir_in(self.dir.path()).expect("temp dir on the small disk"),
            nats: None,
        }
    }

    /// `vouch` against `ledger`, subject to the disk's limit.
    fn command(&self, ledger: &TestLedger, args: &[&str]) -> Command {
        let mut command = ledger.command();
        command.args(args);
        if let Some(limit) = *self.limit.lock().unwrap() {
            use std::os::unix::process::CommandExt;
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let rlimit = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: libc::RLIM_INFINITY,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // A write past the limit fails with EFBIG instead of killing.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    Ok(())
                });
            }
        }
        command
    }

    fn run(&self, ledger: &TestLedger, args: &[&str], limit: Duration) -> Timed {
        run_timed(self.command(ledger, args), None, limit)
    }

    /// Leaves about `room` bytes for the ledger to write (above the free space Vouch
    /// keeps, `MIN_FREE_BYTES`): a filler file takes the rest of the tmpfs, or every file
    /// may grow `room` bytes past the largest one now.
    fn fill(&self, ledger: &TestLedger, room: u64) {
        if self.mounted {
            let free = free_bytes(self.dir.path());
            self.grow_filler(free.saturating_sub(vouch_ledger::MIN_FREE_BYTES + room));
        } else {
            let largest = files_under(&ledger.path())
                .iter()
                .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
                .max()
                .unwrap_or(0);
            *self.limit.lock().unwrap() = Some(largest + room);
        }
    }

    /// Appends up to `bytes` to the filler file, stopping early (without an error) when
    /// the disk is full; returns what it wrote.
    fn grow_filler(&self, bytes: u64) -> u64 {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .expect("open filler");
        let block = vec![0x5a; 64 << 10];
        let mut written = 0;
        while written < bytes {
            let n = (bytes - written).min(block.len() as u64) as usize;
            match file.write(&block[..n]) {
                Ok(0) => break,
                Ok(n) => written += n as u64,
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("write filler: {e}"),
            }
        }
        let _ = file.sync_all();
        written
    }

    /// Frees the space [`SmallDisk::fill`] took.
    fn free(&self) {
        if self.mounted {
            std::fs::remove_file(&self.filler).expect("remove filler");
        } else {
            *self.limit.lock().unwrap() = None;
        }
    }

    /// What the failing command must say (one of): README's words ("the disk is full:
    /// nothing of this write was kept"), or without a tmpfs the system's for EFBIG.
    fn full_message(&self) -> &'static [&'static str] {
        if self.mounted {
            &["the disk is full"]
        } else {
            &["File too large"]
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let path = self.dir.path().to_owned();
            let unmounted = Command::new("umount")
                .arg(&path)
                .status()
                .is_ok_and(|s| s.success());
            if !unmounted {
                let _ = Command::new("umount").arg("-l").arg(&path).status();
            }
        }
    }
}

fn free_bytes(path: &Path) -> u64 {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: statvfs writes into the zeroed struct we pass.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut st) }, 0, "statvfs");
    st.f_bavail as u64 * st.f_frsize as u64
}

/// One write for the disk-full loop: the command's arguments.
type Writer = Box<dyn Fn(u64) -> Vec<String>>;

/// Writes with `write(0)`, `write(1)`, … until one fails: it must exit 74 saying the disk
/// is full, within the deadline. Still full, every write acknowledged before must read
/// back and the failed one must not (unless `partial`: README lets a failed ingest leave
/// some of its events stored, unacknowledged), and `verify` must pass; after freeing
/// space the same write succeeds. Returns how many writes were acknowledged.
fn write_until_full(
    disk: &SmallDisk,
    ledger: &TestLedger,
    room: u64,
    partial: bool,
    write: Writer,
) -> u64 {
    let position = |ledger: &TestLedger| -> u64 {
        let status = disk.run(ledger, &["--json", "status"], SHORT);
        status.ok();
        let status = status.json();
        assert_eq!(
            status["log_position"], status["view_position"],
            "views behind the log: {status}"
        );
        status["log_position"].as_u64().expect("a position")
    };
    disk.fill(ledger, room);
    let mut acknowledged = position(ledger);
    let mut writes = 0;
    let failed = loop {
        assert!(writes < 5_000, "the disk never filled up");
        let args = write(writes);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = disk.run(ledger, &args, Duration::from_secs(30));
        if let Some(broke) = run.broke() {
            panic!(
                "write {writes} (`vouch {} …`) on a full disk {broke}\nstderr: {}",
                args.iter()
                    .take(6)
                    .map(|a| a.chars().take(24).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(" "),
                run.run.stderr
            );
        }
        if run.run.code != 0 {
            break run;
        }
        writes += 1;
        let now = position(ledger);
        assert!(now > acknowledged, "an acknowledged write stored nothing");
        acknowledged = now;
    };
    assert_eq!(
        failed.run.code,
        74,
        "a full disk is an I/O error\n{}",
        failed.describe()
    );
    assert!(
        disk.full_message()
            .iter()
            .any(|m| failed.run.stderr.contains(m)),
        "the message does not say the disk is full\nstderr: {}",
        failed.run.stderr
    );

    // Still full: what was acknowledged reads back, the failed write is absent, and the
    // log holds no half-written record.
    let now = position(ledger);
    if partial {
        assert!(
            now >= acknowledged,
            "acknowledged events lost: {now} < {acknowledged}"
        );
    } else {
        assert_eq!(now, acknowledged, "after {writes} acknowledged writes");
    }
    let verify = disk.run(ledger, &["verify"], SHORT);
    verify.ok();
    disk.run(ledger, &["--json", "runs", "list"], SHORT).ok();

    // Space again: the same write goes through, and the ledger verifies.
    disk.free();
    let args = write(writes);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    disk.run(ledger, &args, Duration::from_secs(30)).ok();
    assert!(
        position(ledger) > acknowledged,
        "the retried write stored nothing"
    );
    disk.run(ledger, &["verify"], SHORT).ok();
    eprintln!("disk full after {writes} acknowledged writes, log at {acknowledged}");
    writes
}

/// A small disk with an initialised ledger and run `r1`, or `None` (skip).
fn ledger_on_small_disk() -> Option<(SmallDisk, TestLedger)> {
    let disk = SmallDisk::new()?;
    let ledger = disk.ledger();
    disk.run(&ledger, &["init"], SHORT).ok();
    disk.run(
        &ledger,
        &[
            "run",
            "start",
            "--experiment",
            "disk",
            "--run-id",
            "r1",
            "--git",
            "none",
        ],
        SHORT,
    )
    .ok();
    Some((disk, ledger))
}

/// JSON lines: `n` metric events of run `r1` with ids `<prefix>-<i>`.
fn metric_lines(prefix: &str, n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let event = json!({
            "id": format!("{prefix}-{i}"),
            "kind": "metrics_logged",
            "schema": 1,
            "time": "2026-11-28T04:20:51Z",
            "producer": "e2e-damage",
            "run": "r1",
            "data": { "metrics": { "auc": i as f64 / 1000.0, "loss": 1.0 / (i + 1) as f64 }, "step": i },
        });
        writeln!(out, "{event}").unwrap();
    }
    out
}

#[test]
fn a_full_disk_fails_ingest_with_74_and_keeps_every_acknowledged_event() {
    let Some((disk, ledger)) = ledger_on_small_disk() else {
        return;
    };
    // The input lives off the small disk.
    let inputs = tempfile::tempdir().unwrap();
    let dir = inputs.path().to_owned();
    let writes = write_until_full(
        &disk,
        &ledger,
        400 << 10,
        true,
        Box::new(move |n| {
            let path = dir.join(format!("chunk-{n}.jsonl"));
            if !path.exists() {
                std::fs::write(&path, metric_lines(&format!("c{n}"), 600)).unwrap();
            }
            vec!["ingest".into(), path.to_str().unwrap().to_owned()]
        }),
    );
    assert!(writes > 0, "nothing was written before the disk filled");
    // Every acknowledged chunk is whole, the failed one absent (one append per chunk).
    let ids = stored_ids(&ledger.path());
    let counts = id_counts(&ids);
    assert!(counts.values().all(|&c| c == 1), "an event stored twice");
    for n in 0..=writes {
        let stored = (0..600)
            .filter(|i| counts.contains_key(format!("c{n}-{i}").as_str()))
            .count();
        assert_eq!(stored, 600, "chunk {n} is not whole");
    }
}

#[test]
fn a_full_disk_fails_log_metric_and_param_with_74_and_never_hangs() {
    let Some((disk, ledger)) = ledger_on_small_disk() else {
        return;
    };
    let big = "v".repeat(3_000);
    write_until_full(
        &disk,
        &ledger,
        200 << 10,
        false,
        Box::new(move |n| {
            let mut args: Vec<String> = ["--json", "log"].map(String::from).into();
            if n % 2 == 0 {
                args.extend(["metric", "--run", "r1", "--step"].map(String::from));
                args.push(n.to_string());
                args.extend((0..200).map(|k| format!("m{k}={n}.{k}")));
            } else {
                args.extend(["param", "--run", "r1"].map(String::from));
                args.push(format!("p{n}={big}"));
            }
            args
        }),
    );
}

/// The total size of the ledger's segment files.
fn segment_bytes(ledger: &TestLedger) -> u64 {
    segment_files(&ledger.path())
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

/// Another process fills the disk to the last byte while `vouch ingest` runs, after
/// Vouch's own check for room passed: the log's write or the views' fail for space. The
/// ingest ends within its deadline with 0 or 74 saying the disk is full; once there is
/// space the ledger verifies, an acknowledged ingest is all there, and the same ingest
/// again completes it with every event stored once.
#[test]
fn a_disk_filled_by_another_process_during_ingest_ends_in_74_and_recovers() {
    let Some((disk, ledger)) = ledger_on_small_disk() else {
        return;
    };
    if !disk.mounted {
        eprintln!("skipped: filling the disk under a running ingest needs a tmpfs");
        return;
    }
    let seed = seed();
    eprintln!("fill-during-ingest seed: {seed} (VOUCH_TEST_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let inputs = tempfile::tempdir().unwrap();
    let mut outcomes = Vec::new();
    for round in 0..3 {
        const EVENTS: u64 = 30_000;
        let file = inputs.path().join(format!("round-{round}.jsonl"));
        std::fs::write(&file, metric_lines(&format!("fill{round}"), EVENTS)).unwrap();
        disk.fill(&ledger, 1 << 20);
        let before = segment_bytes(&ledger);
        let grow = rng.below(1_500_000);
        let ingest = {
            let command = disk.command(&ledger, &["--json", "ingest", "--batch", "2000", s(&file)]);
            std::thread::spawn(move || run_timed(command, None, Duration::from_secs(90)))
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        while !ingest.is_finished() && segment_bytes(&ledger) < before + grow {
            assert!(
                Instant::now() < deadline,
                "the ingest never wrote (seed {seed})"
            );
            std::thread::sleep(Duration::from_micros(500));
        }
        disk.grow_filler(u64::MAX);
        let run = ingest.join().expect("ingest thread");
        assert!(
            run.broke().is_none() && [0, 74].contains(&run.run.code),
            "round {round} (seed {seed}): an ingest on a disk filling up must succeed or fail with 74\n{}",
            run.describe()
        );
        if run.run.code == 74 {
            assert!(
                run.run.stderr.contains("disk is full")
                    || run.run.stderr.contains("No space left on device"),
                "round {round} (seed {seed}): the message does not say the disk is full\n{}",
                run.describe()
            );
        }
        outcomes.push(run.run.code);

        disk.free();
        let verify = disk.run(&ledger, &["verify"], SHORT);
        assert!(
            verify.broke().is_none() && verify.run.code == 0,
            "round {round} (seed {seed}): {}",
            verify.describe()
        );
        let counts_of = |ids: &[String]| -> u64 {
            let counts = id_counts(ids);
            assert!(
                counts.values().all(|&n| n == 1),
                "round {round} (seed {seed}): an event stored twice"
            );
            (0..EVENTS)
                .filter(|i| counts.contains_key(format!("fill{round}-{i}").as_str()))
                .count() as u64
        };
        let stored = counts_of(&stored_ids(&ledger.path()));
        if run.run.code == 0 {
            assert_eq!(stored, EVENTS, "round {round}: acknowledged, so all there");
        }
        let again = disk.run(&ledger, &["--json", "ingest", s(&file)], SHORT);
        again.ok();
        assert_eq!(
            again.json()["appended"].as_u64().unwrap(),
            EVENTS - stored,
            "round {round} (seed {seed}): {}",
            again.run.stdout
        );
        assert_eq!(counts_of(&stored_ids(&ledger.path())), EVENTS);
        let status = disk.run(&ledger, &["--json", "status"], SHORT);
        status.ok();
        let status = status.json();
        assert_eq!(status["log_position"], status["view_position"], "{status}");
        assert_eq!(
            status["log_position"], status["counts"]["applied"],
            "{status}"
        );
    }
    eprintln!("ingests under a filling disk exited {outcomes:?}");
}

/// Absolute gates only, so every candidate's outcome is its own.
const POLICY: &str = r#"model = "credit"
version = "damage-1"

[[gate]]
name = "auc-floor"
metric = "auc"
min = 0.80
reason = "AUC below 0.80 loses money"
"#;

#[test]
fn a_full_disk_fails_promote_with_74_and_keeps_the_chain() {
    let Some((disk, ledger)) = ledger_on_small_disk() else {
        return;
    };
    let inputs = tempfile::tempdir().unwrap();
    let key = inputs.path().join("release.key");
    let generated = disk.run(&ledger, &["keys", "generate", "--out", s(&key)], SHORT);
    let public = generated
        .ok()
        .lines()
        .find_map(|l| l.strip_prefix("public key"))
        .expect("a public key line")
        .trim()
        .to_owned();
    disk.run(
        &ledger,
        &["keys", "trust", &public, "--name", "release-bot"],
        SHORT,
    )
    .ok();
    let policy = inputs.path().join("credit.toml");
    std::fs::write(&policy, POLICY).unwrap();
    // Candidates that pass, so every promotion exits 0; the policy is recorded once.
    let mut lines = Vec::new();
    for c in 0..300 {
        for (suffix, kind, data) in [
            ("start", "run_started", json!({ "experiment": "credit" })),
            (
                "auc",
                "metrics_logged",
                json!({ "metrics": { "auc": 0.85 } }),
            ),
        ] {
            lines.push(format!(
                "{}\n",
                json!({
                    "id": format!("cand-{c}-{suffix}"), "kind": kind, "schema": 1,
                    "time": "2026-11-28T04:20:51Z", "producer": "e2e-damage",
                    "run": format!("cand-{c}"), "data": data,
                })
            ));
        }
    }
    let evidence = inputs.path().join("evidence.jsonl");
    std::fs::write(&evidence, lines.concat()).unwrap();
    disk.run(&ledger, &["ingest", s(&evidence)], SHORT).ok();
    let policy_arg = s(&policy).to_owned();
    let key_arg = s(&key).to_owned();
    let promote = move |c: u64| -> Vec<String> {
        let run = format!("cand-{c}");
        [
            "--json",
            "promote",
            "--run",
            &run,
            "--model",
            "credit",
            "--policy",
            &policy_arg,
            "--key",
            &key_arg,
        ]
        .map(String::from)
        .to_vec()
    };
    // The first promotion records the policy; after it, each one appends one decision.
    let first = promote(0);
    disk.run(
        &ledger,
        &first.iter().map(String::as_str).collect::<Vec<_>>(),
        SHORT,
    )
    .ok();
    let writes = write_until_full(
        &disk,
        &ledger,
        48 << 10,
        false,
        Box::new(move |n| promote(n + 1)),
    );
    // The first promotion, every acknowledged one and the retry after freeing space.
    let status = disk.run(&ledger, &["--json", "status"], SHORT);
    status.ok();
    assert_eq!(status.json()["counts"]["decisions"], writes + 2);
    assert_eq!(status.json()["counts"]["quarantined"], 0);
}

// ---------------------------------------------------------------------------------------
// 3. Bit rot
// ---------------------------------------------------------------------------------------

/// The evidence ingested into the bit-rot ledger (and ingested again in every case).
fn rot_events() -> Vec<u8> {
    let mut out = Vec::new();
    for r in 0..3 {
        let run = format!("rot-{r}");
        let event = |suffix: String, kind: &str, data: Value| {
            json!({
                "id": format!("{run}:{suffix}"), "kind": kind, "schema": 1,
                "time": "2026-11-28T04:20:51Z", "producer": "e2e-damage", "run": run,
                "data": data,
            })
        };
        let mut events = vec![
            event(
                "start".into(),
                "run_started",
                json!({ "experiment": "rot" }),
            ),
            event(
                "params".into(),
                "params_logged",
                json!({ "params": { "lr": format!("0.0{r}"), "depth": "7" } }),
            ),
        ];
        for step in 0..8u64 {
            events.push(event(
                format!("loss-{step}"),
                "metrics_logged",
                json!({ "metrics": { "loss": 1.0 / (step + r + 1) as f64 }, "step": step }),
            ));
        }
        events.push(event(
            "eval".into(),
            "metrics_logged",
            json!({ "metrics": { "auc": 0.8 + r as f64 / 100.0, "latency_p95_ms": 150 + r } }),
        ));
        events.push(event(
            "eu".into(),
            "metrics_logged",
            json!({ "metrics": { "auc": 0.81 }, "segment": "region=EU" }),
        ));
        events.push(event(
            "end".into(),
            "run_finished",
            json!({ "status": "ok" }),
        ));
        for e in events {
            writeln!(out, "{e}").unwrap();
        }
    }
    out
}

const ROT_EVENTS: u64 = 3 * 13;

/// What each command of a case answered, normalised (paths and timings removed), or how
/// it failed.
struct Step {
    name: &'static str,
    timed: Timed,
}

/// The commands every case runs, in order, on the damaged ledger at `dir`.
fn rot_steps(dir: &Path, events: &Path) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut step = |name: &'static str, args: &[&str]| {
        steps.push(Step {
            name,
            timed: vouch_at(dir, args, SHORT),
        })
    };
    step("status", &["--json", "status"]);
    step("verify", &["--json", "verify"]);
    step("runs list", &["--json", "runs", "list"]);
    step("ingest again", &["--json", "ingest", s(events)]);
    step("status after", &["--json", "status"]);
    steps
}

/// A step's answer, comparable across ledger directories.
fn answer(step: &Step) -> Value {
    let mut value: Value = serde_json::from_str(&step.timed.run.stdout).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("ledger");
        object.remove("seconds");
    }
    value
}

/// A ledger to damage: the loan-risk demo plus [`rot_events`], and its answers.
struct Pristine {
    tmp: tempfile::TempDir,
    events: PathBuf,
    answers: Vec<(Value, i32)>,
}

impl Pristine {
    fn new() -> Pristine {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pristine");
        run_timed(
            command_at(&dir, &["demo", "loan-risk"]),
            None,
            Duration::from_secs(60),
        )
        .ok();
        let events = tmp.path().join("events.jsonl");
        std::fs::write(&events, rot_events()).unwrap();
        vouch_at(&dir, &["ingest", s(&events)], SHORT).ok();
        // The answers of an undamaged copy, through the same steps.
        let copy = tmp.path().join("undamaged");
        copy_dir(&dir, &copy);
        let steps = rot_steps(&copy, &events);
        for step in &steps {
            step.timed.ok();
        }
        let ingest = answer(&steps[3]);
        assert_eq!(ingest["appended"], 0, "{ingest}");
        assert_eq!(ingest["duplicates"], ROT_EVENTS, "{ingest}");
        assert_eq!(answer(&steps[0]), answer(&steps[4]));
        Pristine {
            answers: steps
                .iter()
                .map(|s| (answer(s), s.timed.run.code))
                .collect(),
            tmp,
            events,
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("pristine")
    }
}

/// What kind of file a case damages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Segment,
    Index,
    Views,
    Marker,
    Trust,
}

impl Target {
    fn files(self, dir: &Path) -> Vec<PathBuf> {
        match self {
            Target::Segment => segment_files(dir),
            Target::Index => vec![dir.join("log").join("index")],
            Target::Views => files_under(&dir.join("views"))
                .into_iter()
                .filter(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 0))
                .collect(),
            Target::Marker => vec![dir.join("ledger.json")],
            Target::Trust => vec![dir.join("trust.json")],
        }
    }

    /// Whether an error message names the damaged `file` as README says it must. The
    /// index and the views are derived: damage there is rebuilt, never an error.
    fn named(self, file: &Path, stderr: &str) -> bool {
        let name = file.file_name().unwrap().to_str().unwrap();
        match self {
            Target::Segment => stderr.contains(name) && stderr.contains("byte offset"),
            Target::Index | Target::Views => false,
            Target::Marker => stderr.contains(name) || stderr.contains("marker"),
            Target::Trust => stderr.contains(name),
        }
    }
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Every command answered as the undamaged ledger did.
    Correct,
    /// Every command answered as the undamaged ledger did, after one said it rebuilt a
    /// derived file (the index, the views).
    Repaired,
    /// Some command refused with a clear error naming the damage; the rest answered
    /// correctly.
    Refused,
    /// trust.json still parses, as another trust list: every command answered as a
    /// ledger projected afresh under that list does.
    TrustEdited,
}

/// One case: flip one byte of one file of a copy of `pristine`; returns the outcome or
/// what went wrong.
fn rot_case(
    pristine: &Pristine,
    target: Target,
    rng: &mut Rng,
    case: u64,
) -> Result<Outcome, String> {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("ledger");
    copy_dir(&pristine.dir(), &dir);
    let files = target.files(&dir);
    assert!(!files.is_empty(), "no {target:?} files");
    let file = files[rng.below(files.len() as u64) as usize].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    let end = bytes.len();
    let offset = rng.below(end as u64) as usize;
    let xor = 1 + rng.below(255) as u8;
    bytes[offset] ^= xor;
    std::fs::write(&file, &bytes).unwrap();
    let what = format!(
        "case {case}: {} byte {offset} of {} xor {xor:#04x}",
        file.strip_prefix(&dir).unwrap().display(),
        bytes.len()
    );

    // For a trust list that still parses, the right answers are those of the ledger
    // projected afresh under it.
    let mut expected = pristine.answers.clone();
    let mut outcome = Outcome::Correct;
    if target == Target::Trust {
        let oracle = work.path().join("oracle");
        copy_dir(&pristine.dir(), &oracle);
        std::fs::write(oracle.join("trust.json"), &bytes).unwrap();
        std::fs::remove_dir_all(oracle.join("views")).unwrap();
        let steps = rot_steps(&oracle, &pristine.events);
        if steps[0].timed.run.code == 0 {
            let answers: Vec<(Value, i32)> = steps
                .iter()
                .map(|s| (answer(s), s.timed.run.code))
                .collect();
            if answers != expected {
                outcome = Outcome::TrustEdited;
                expected = answers;
            }
        }
    }

    let steps = rot_steps(&dir, &pristine.events);
    let mut refused = false;
    for (step, (want, want_code)) in steps.iter().zip(&expected) {
        let t = &step.timed;
        if let Some(broke) = t.broke() {
            return Err(format!("{what}: `{}` {broke}\n{}", step.name, t.describe()));
        }
        if t.run.code == *want_code && answer(step) == *want {
            continue;
        }
        if t.run.code == 0 {
            return Err(format!(
                "{what}: `{}` gave a wrong answer\nexpected: {want}\n{}",
                step.name,
                t.describe()
            ));
        }
        if ![65, 66, 70, 74].contains(&t.run.code) {
            return Err(format!(
                "{what}: `{}` failed with exit {} (not a damage error)\n{}",
                step.name,
                t.run.code,
                t.describe()
            ));
        }
        if !target.named(&file, &t.run.stderr) {
            return Err(format!(
                "{what}: `{}` failed without naming the damaged file{}\n{}",
                step.name,
                match target {
                    Target::Segment => " and byte offset",
                    Target::Index | Target::Views => " (a derived file is rebuilt, not an error)",
                    _ => "",
                },
                t.describe()
            ));
        }
        refused = true;
    }
    // Whatever the commands said, the re-ingest stored nothing new: every id is once
    // in the log (checked when the log still reads).
    if let Some(ids) = try_stored_ids(&dir) {
        let counts = id_counts(&ids);
        if let Some((id, n)) = counts.iter().find(|(_, &n)| n > 1) {
            return Err(format!("{what}: event {id} is stored {n} times"));
        }
        let total = pristine.answers[0].0["log_position"].as_u64().unwrap();
        if ids.len() as u64 > total {
            return Err(format!(
                "{what}: the log grew from {total} to {} records",
                ids.len()
            ));
        }
    }
    let repaired = steps.iter().any(|s| {
        let e = &s.timed.run.stderr;
        e.contains("rebuilding") || e.contains("projected again")
    });
    Ok(match outcome {
        Outcome::Correct if refused => Outcome::Refused,
        Outcome::Correct if repaired => Outcome::Repaired,
        outcome => outcome,
    })
}

/// Where the last frame of a segment's bytes starts (header 48 bytes; a frame is magic,
/// body length, CRC, each a little-endian u32, then the body).
fn last_frame_start(segment: &[u8]) -> usize {
    let mut at = 48;
    let mut last = at;
    while at + 12 <= segment.len() {
        let len = u32::from_le_bytes(segment[at + 4..at + 8].try_into().unwrap()) as usize;
        last = at;
        at += 12 + len;
    }
    assert_eq!(at, segment.len(), "the segment ends with a whole frame");
    last
}

/// `VOUCH_ROT_CASES` cases (default 40) of damage to `target`'s files, from the test seed.
fn bit_rot(target: Target) {
    let cases: u64 = std::env::var("VOUCH_ROT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let seed = seed();
    eprintln!("bit-rot {target:?}: seed {seed} (VOUCH_TEST_SEED={seed} replays it), {cases} cases");
    let pristine = Pristine::new();
    let mut rng = Rng(seed ^ target as u64);
    let mut outcomes: BTreeMap<Outcome, u64> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in 0..cases {
        match rot_case(&pristine, target, &mut rng, case) {
            Ok(outcome) => *outcomes.entry(outcome).or_default() += 1,
            Err(failure) => failures.push(failure),
        }
    }
    eprintln!(
        "bit-rot {target:?}: {cases} cases: {} answered correctly, {} correctly after rebuilding a derived file, {} refused naming the damage, {} answered under an edited trust list, {} failed (seed {seed})",
        outcomes.get(&Outcome::Correct).unwrap_or(&0),
        outcomes.get(&Outcome::Repaired).unwrap_or(&0),
        outcomes.get(&Outcome::Refused).unwrap_or(&0),
        outcomes.get(&Outcome::TrustEdited).unwrap_or(&0),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} bit-rot cases failed (VOUCH_TEST_SEED={seed}):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn bit_rot_in_a_segment_is_refused_naming_segment_and_offset_or_harmless() {
    bit_rot(Target::Segment);
}

/// README: "A damaged record is never cut off or skipped … never mistaken for a torn
/// tail." The last record of the last segment, whole and synced, with one byte changed,
/// and several commands in a row (each must leave the evidence for the next).
#[test]
fn a_flipped_byte_in_the_last_record_is_damage_not_a_torn_tail() {
    let pristine = Pristine::new();
    let last = pristine.answers[0].0["log_position"].as_u64().unwrap();
    let segment_bytes = std::fs::read(segment_files(&pristine.dir()).pop().unwrap()).unwrap();
    let start = last_frame_start(&segment_bytes);
    // The frame's length field, its checksum, its position, and its last byte.
    for offset in [start + 4, start + 9, start + 12, segment_bytes.len() - 1] {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().join("ledger");
        copy_dir(&pristine.dir(), &dir);
        let segment = segment_files(&dir).pop().unwrap();
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes[offset] ^= 0x20;
        std::fs::write(&segment, &bytes).unwrap();
        let name = segment.file_name().unwrap().to_str().unwrap().to_owned();
        for args in [
            &["--json", "status"][..],
            &["verify"],
            &["--json", "runs", "list"],
        ] {
            let run = vouch_at(&dir, args, SHORT);
            if run.run.code == 0 && !args.contains(&"verify") {
                // Answered from the views without reading the record: fine, if right.
                continue;
            }
            assert!(
                run.broke().is_none()
                    && run.run.code == 70
                    && run.run.stderr.contains(&name)
                    && run.run.stderr.contains("byte offset"),
                "byte {offset} of the last record (position {last}): `vouch {}` must fail with 70 naming the segment and offset\n{}",
                args.join(" "),
                run.describe()
            );
        }
        assert_eq!(
            std::fs::metadata(&segment).unwrap().len(),
            bytes.len() as u64,
            "byte {offset} of the last record: the segment was cut"
        );
        let verify = vouch_at(&dir, &["verify"], SHORT);
        assert!(
            verify.run.code == 70 && verify.run.stderr.contains(&format!("position {last}")),
            "verify names the damaged record at {last}\n{}",
            verify.describe()
        );
    }
}

#[test]
fn bit_rot_in_the_log_index_never_changes_an_answer() {
    bit_rot(Target::Index);
}

#[test]
fn bit_rot_in_the_views_never_changes_an_answer() {
    bit_rot(Target::Views);
}

#[test]
fn bit_rot_in_ledger_json_is_refused_or_harmless() {
    bit_rot(Target::Marker);
}

#[test]
fn bit_rot_in_trust_json_is_refused_or_judged_under_the_list_as_it_reads() {
    bit_rot(Target::Trust);
}

// ---------------------------------------------------------------------------------------
// 4. A deleted or swapped log
// ---------------------------------------------------------------------------------------

/// A ledger with run `r1` and `n` metrics with ids `<prefix>-<i>`.
fn ledger_with_metrics(prefix: &str, n: u64) -> TestLedger {
    let ledger = TestLedger::new();
    ledger.start_run("r1");
    let lines = metric_lines(prefix, n);
    let file = ledger.file("metrics.jsonl", &lines);
    ledger.vouch(&["ingest", s(&file)]).ok();
    ledger
}

fn views_dump(ledger: &TestLedger) -> Value {
    let views = vouch_views::Views::open(&ledger.path().join("views")).expect("open views");
    views.dump().expect("dump views")
}

fn log_position(ledger: &TestLedger) -> u64 {
    let status = ledger.vouch(&["--json", "status"]);
    status.ok();
    status.json()["log_position"].as_u64().unwrap()
}

/// Every command a user might try on a ledger whose log is gone.
fn commands_without_a_log(ledger: &TestLedger) -> Vec<Vec<String>> {
    let file = ledger.file("more.jsonl", &metric_lines("more", 3));
    [
        vec!["status"],
        vec!["--json", "runs", "list"],
        vec!["runs", "show", "r1"],
        vec!["verify"],
        vec!["log", "metric", "--run", "r1", "auc=0.9"],
        vec![
            "run",
            "start",
            "--experiment",
            "x",
            "--run-id",
            "r2",
            "--git",
            "none",
        ],
        vec!["ingest", s(&file)],
        vec!["rebuild"],
        vec!["init"],
    ]
    .iter()
    .map(|args| args.iter().map(|a| a.to_string()).collect())
    .collect()
}

#[test]
fn a_deleted_log_is_refused_and_never_restarted_at_position_one() {
    let ledger = ledger_with_metrics("m", 20);
    let position = log_position(&ledger);
    assert_eq!(position, 21);
    let log = ledger.path().join("log");
    let aside = ledger.tmp.path().join("log-aside");

    // The whole log directory, its segments directory, or every segment file.
    type Remove = fn(&Path, &Path);
    let ways: [(&str, Remove); 3] = [
        ("log/", |log, aside| std::fs::rename(log, aside).unwrap()),
        ("log/segments/", |log, aside| {
            std::fs::create_dir_all(aside).unwrap();
            std::fs::rename(log.join("segments"), aside.join("segments")).unwrap()
        }),
        ("every segment file", |log, aside| {
            std::fs::create_dir_all(aside.join("segments")).unwrap();
            for f in std::fs::read_dir(log.join("segments")).unwrap() {
                let f = f.unwrap();
                std::fs::rename(f.path(), aside.join("segments").join(f.file_name())).unwrap();
            }
        }),
    ];
    for (how, remove) in ways {
        let views = views_dump(&ledger);
        remove(&log, &aside);
        for args in commands_without_a_log(&ledger) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = run_timed(
                {
                    let mut c = ledger.command();
                    c.args(&args);
                    c
                },
                None,
                SHORT,
            );
            // README: a missing `log/` is exit 66; a log without its records is a damaged
            // store (70) or missing (66).
            let codes: &[i32] = if how == "every segment file" {
                &[66, 70]
            } else {
                &[66]
            };
            assert!(
                run.broke().is_none() && codes.contains(&run.run.code),
                "{how} removed: `vouch {}` must refuse with {codes:?}\n{}",
                args.join(" "),
                run.describe()
            );
            assert!(
                run.run.stderr.contains("log"),
                "{how} removed: `vouch {}` does not name the missing log\n{}",
                args.join(" "),
                run.describe()
            );
        }
        assert!(
            segment_files(&ledger.path()).is_empty(),
            "{how} removed: a command started a new log"
        );
        assert_eq!(
            views_dump(&ledger),
            views,
            "{how} removed: the views changed"
        );

        // Restored, the log goes on where it was.
        match how {
            "log/" => std::fs::rename(&aside, &log).unwrap(),
            "log/segments/" => {
                std::fs::rename(aside.join("segments"), log.join("segments")).unwrap();
                std::fs::remove_dir_all(&aside).unwrap();
            }
            _ => {
                for f in std::fs::read_dir(aside.join("segments")).unwrap() {
                    let f = f.unwrap();
                    std::fs::rename(f.path(), log.join("segments").join(f.file_name())).unwrap();
                }
                std::fs::remove_dir_all(&aside).unwrap();
            }
        }
        let logged = ledger.vouch(&["--json", "log", "metric", "--run", "r1", "after=1"]);
        logged.ok();
        let next = logged.json()["position"].as_u64().unwrap();
        assert!(
            next > position,
            "{how} restored: the log restarted at {next}"
        );
        ledger.vouch(&["verify"]).ok();
    }
}

#[test]
fn another_ledgers_log_is_refused_naming_both_until_rebuild_adopts_it() {
    let ours = ledger_with_metrics("ours", 5);
    let theirs = ledger_with_metrics("theirs", 30);
    let identity = |l: &TestLedger| -> String {
        let status = l.vouch(&["--json", "status"]);
        status.ok();
        status.json()["log_identity"].as_str().unwrap().to_owned()
    };
    let (our_id, their_id) = (identity(&ours), identity(&theirs));
    assert_ne!(our_id, their_id);
    let their_runs = theirs.vouch(&["--json", "runs", "list"]);
    their_runs.ok();

    std::fs::remove_dir_all(ours.path().join("log")).unwrap();
    copy_dir(&theirs.path().join("log"), &ours.path().join("log"));
    for args in [
        &["status"][..],
        &["--json", "runs", "list"],
        &["verify"],
        &["log", "metric", "--run", "r1", "auc=0.5"],
    ] {
        let run = run_timed(
            {
                let mut c = ours.command();
                c.args(args);
                c
            },
            None,
            SHORT,
        );
        assert!(
            run.broke().is_none() && run.run.code == 70,
            "`vouch {}` on another ledger's log must refuse\n{}",
            args.join(" "),
            run.describe()
        );
        assert!(
            run.run.stderr.contains(&our_id) && run.run.stderr.contains(&their_id),
            "`vouch {}` must name both logs ({our_id}, {their_id})\n{}",
            args.join(" "),
            run.describe()
        );
    }

    // Adopted, the ledger is the other log's: its records, its identity, and it goes on.
    ours.vouch(&["rebuild"]).ok();
    assert_eq!(identity(&ours), their_id);
    let runs = ours.vouch(&["--json", "runs", "list"]);
    assert_eq!(runs.json(), their_runs.json());
    assert_eq!(log_position(&ours), 31);
    let logged = ours.vouch(&["--json", "log", "metric", "--run", "r1", "adopted=1"]);
    logged.ok();
    assert_eq!(logged.json()["position"], 32);
    ours.vouch(&["verify"]).ok();
    let marker = std::fs::read_to_string(ours.path().join("ledger.json")).unwrap();
    assert!(marker.contains(&their_id), "{marker}");
}

// ---------------------------------------------------------------------------------------
// 5. A killed ingest
// ---------------------------------------------------------------------------------------

#[test]
fn a_killed_ingest_loses_no_acknowledged_event_and_stores_none_twice() {
    const ROUNDS: u64 = 6;
    const EVENTS: u64 = 20_000;
    let seed = seed();
    eprintln!("kill test seed: {seed} (VOUCH_TEST_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let ledger = TestLedger::new();
    ledger.start_run("acked");

    let events_file = |round: u64| -> PathBuf {
        let run = RunId::new(format!("killed-{round}")).unwrap();
        let mut out = Vec::new();
        writeln!(out, "{}", vouch_event::to_json(&start_event(&run))).unwrap();
        for i in 0..EVENTS {
            writeln!(out, "{}", vouch_event::to_json(&metric_event(&run, i))).unwrap();
        }
        ledger.file(&format!("killed-{round}.jsonl"), &out)
    };

    // How long an uninterrupted ingest takes here, to spread the kills over it.
    let calibration = {
        let scratch = TestLedger::new();
        let file = events_file(99);
        let start = Instant::now();
        run_timed(
            {
                let mut c = scratch.command();
                c.arg("ingest").arg(&file);
                c
            },
            None,
            Duration::from_secs(120),
        )
        .ok();
        start.elapsed()
    };

    let mut acknowledged: Vec<String> = Vec::new();
    let mut kills = 0;
    for round in 0..ROUNDS {
        let file = events_file(round);
        let batch = [100u64, 1_000, 8_192][rng.below(3) as usize].to_string();
        let segment = segment_files(&ledger.path()).pop().unwrap();
        let size_before = std::fs::metadata(&segment).unwrap().len();

        // Writers keep logging while the ingest runs; each one acknowledged must survive.
        let stop = Arc::new(AtomicBool::new(false));
        let logger = {
            let stop = Arc::clone(&stop);
            let path = ledger.path();
            std::thread::spawn(move || {
                let mut acked = Vec::new();
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("acked-{round}-{k}");
                    k += 1;
                    let step = k.to_string();
                    let run = vouch_at(
                        &path,
                        &[
                            "log",
                            "metric",
                            "--run",
                            "acked",
                            "--event-id",
                            &id,
                            "--step",
                            &step,
                            "x=1",
                        ],
                        Duration::from_secs(60),
                    );
                    assert!(run.broke().is_none(), "a logger {}", run.describe());
                    if run.run.code == 0 {
                        acked.push(id);
                    }
                }
                acked
            })
        };

        let mut ingest = {
            let mut c = ledger.command();
            c.args(["ingest", "--batch", &batch])
                .arg(&file)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c.spawn().expect("spawn ingest")
        };
        // Half the kills when the log has grown by a random share of what the ingest
        // writes, half after a random share of its running time.
        let deadline = Instant::now() + Duration::from_secs(60);
        let by_size = rng.below(2) == 0;
        let grow = rng.below(1_500_000);
        let delay = calibration.mul_f64(rng.below(1_000) as f64 / 1_000.0);
        let start = Instant::now();
        let finished = loop {
            if ingest.try_wait().unwrap().is_some() {
                break true;
            }
            assert!(
                Instant::now() < deadline,
                "the ingest did not end (seed {seed})"
            );
            let due = if by_size {
                segment_files(&ledger.path())
                    .iter()
                    .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
                    .sum::<u64>()
                    >= size_before + grow
            } else {
                start.elapsed() >= delay
            };
            if due {
                break false;
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let _ = ingest.kill();
        let status = ingest.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        acknowledged.extend(logger.join().expect("logger"));
        let killed = !finished && status.signal() == Some(libc::SIGKILL);
        kills += u64::from(killed);
        if !killed {
            assert!(status.success(), "ingest failed: {status:?} (seed {seed})");
        }

        // After the kill: everything acknowledged is there once, and the log verifies.
        let verify = vouch_at(&ledger.path(), &["verify"], SHORT);
        assert!(
            verify.broke().is_none() && verify.run.code == 0,
            "round {round} (seed {seed}): {}",
            verify.describe()
        );
        let ids = stored_ids(&ledger.path());
        let counts = id_counts(&ids);
        for id in &acknowledged {
            assert_eq!(
                counts.get(id.as_str()),
                Some(&1),
                "acknowledged {id} (seed {seed})"
            );
        }
        assert!(
            counts.values().all(|&n| n == 1),
            "an event stored twice (seed {seed})"
        );
        if !killed {
            for i in 0..EVENTS {
                assert!(counts.contains_key(format!("killed-{round}-m{i}").as_str()));
            }
        }

        // The same ingest again completes it: every event once.
        let again = run_timed(
            {
                let mut c = ledger.command();
                c.args(["--json", "ingest"]).arg(&file);
                c
            },
            None,
            Duration::from_secs(120),
        );
        again.ok();
        let summary = again.json();
        assert_eq!(
            summary["appended"].as_u64().unwrap() + summary["duplicates"].as_u64().unwrap(),
            EVENTS + 1,
            "{summary}"
        );
        let ids = stored_ids(&ledger.path());
        let counts = id_counts(&ids);
        assert!(
            counts.values().all(|&n| n == 1),
            "an event stored twice after the retry (seed {seed})"
        );
        for i in 0..EVENTS {
            assert!(
                counts.contains_key(format!("killed-{round}-m{i}").as_str()),
                "killed-{round}-m{i} missing after the retry (seed {seed})"
            );
        }
        let status = ledger.vouch(&["--json", "status"]);
        status.ok();
        let status = status.json();
        assert_eq!(status["log_position"], ids.len() as u64);
        assert_eq!(status["view_position"], ids.len() as u64);
        assert_eq!(status["counts"]["applied"], ids.len() as u64);
    }
    eprintln!(
        "{kills} of {ROUNDS} ingests killed; {} logged events acknowledged meanwhile",
        acknowledged.len()
    );
    assert!(kills >= ROUNDS / 2, "too few kills landed (seed {seed})");
}
