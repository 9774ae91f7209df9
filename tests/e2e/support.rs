//! Helpers: a temp ledger and a way to run the `vouch` binary against it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vouch_event::{
    Body, Event, EventId, MetricsLogged, Name, Producer, RunId, RunStarted, Subject, Timestamp,
};

/// The binary under test.
pub fn vouch_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vouch")
}

/// A temp directory holding one ledger at `<tmp>/ledger`: embedded, or a directory of
/// views over a NATS stream when `nats` names a server.
pub struct TestLedger {
    pub tmp: tempfile::TempDir,
    /// The NATS URL every command gets as `--nats`; `None` for the embedded log.
    pub nats: Option<String>,
}

/// What a command did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts success and returns standard output.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts the exit code and that standard error mentions `needle`.
    #[track_caller]
    pub fn fails(&self, code: i32, needle: &str) {
        assert_eq!(
            self.code, code,
            "wrong exit code\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\nstderr: {}",
            self.stderr
        );
    }

    /// Parses standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

impl TestLedger {
    /// A fresh, initialised ledger.
    pub fn new() -> TestLedger {
        let ledger = TestLedger::uninitialised();
        ledger.vouch(&["init"]).ok();
        ledger
    }

    /// A temp directory where `path()` does not exist yet.
    pub fn uninitialised() -> TestLedger {
        TestLedger {
            tmp: tempfile::tempdir().expect("temp dir"),
            nats: None,
        }
    }

    /// A fresh ledger over the NATS server at `url`: `vouch init --nats URL` provisions the
    /// default stream (or binds to it when another ledger already made it).
    pub fn nats(url: &str) -> TestLedger {
        let ledger = TestLedger::nats_uninitialised(url);
        ledger.vouch(&["init"]).ok();
        ledger
    }

    /// Like [`TestLedger::nats`], before `vouch init`.
    pub fn nats_uninitialised(url: &str) -> TestLedger {
        TestLedger {
            tmp: tempfile::tempdir().expect("temp dir"),
            nats: Some(url.to_owned()),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.tmp.path().join("ledger")
    }

    /// A `vouch` command with `--ledger` set and a clean environment.
    pub fn command(&self) -> Command {
        let mut command = Command::new(vouch_bin());
        command
            .arg("--ledger")
            .arg(self.path())
            .env_remove("VOUCH_LEDGER")
            .env_remove("VOUCH_LOG")
            .env_remove("VOUCH_LOCK_TIMEOUT")
            .env_remove("VOUCH_NATS_URL")
            .env_remove("VOUCH_NATS_CREDS")
            .env_remove("VOUCH_NATS_USER")
            .env_remove("VOUCH_NATS_PASSWORD")
            .env_remove("VOUCH_NATS_TOKEN")
            .env_remove("VOUCH_NATS_TLS")
            .env_remove("VOUCH_NATS_CA")
            // Piped output keeps whole lines unless COLUMNS says otherwise: a CI shell that
            // exports it must not narrow what the tests read (tests/e2e/tables.rs sets it).
            .env_remove("COLUMNS")
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        if let Some(url) = &self.nats {
            command.arg("--nats").arg(url);
        }
        command
    }

    /// Runs `vouch --ledger <ledger> ARGS…`.
    pub fn vouch(&self, args: &[&str]) -> Run {
        Run::from(self.command().args(args).output().expect("spawn vouch"))
    }

    /// Runs `vouch … ARGS…` with `input` on standard input.
    pub fn vouch_with_input(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vouch");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let output = child.wait_with_output().expect("wait");
        writer.join().unwrap();
        Run::from(output)
    }

    /// Writes a file inside the temp directory and returns its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.tmp.path().join(name);
        std::fs::write(&path, content).expect("write file");
        path
    }

    /// Starts a run with a chosen id.
    pub fn start_run(&self, run: &str) {
        self.vouch(&[
            "run",
            "start",
            "--experiment",
            "e2e",
            "--run-id",
            run,
            "--git",
            "none",
        ])
        .ok();
    }

    /// The views as canonical JSON, read through the library (no process holds the ledger).
    pub fn dump(&self) -> serde_json::Value {
        match &self.nats {
            None => dump(&self.path()),
            Some(url) => dump_nats(&self.path(), url),
        }
    }
}

/// Trusts in `to` every key `from` trusts, under the same name and role, through `vouch
/// keys trust`: trust is per directory (the verifier's choice, never read from the log),
/// and the registry names approvers by their trusted names.
#[track_caller]
pub fn trust_like(from: &TestLedger, to: &TestLedger) {
    let keys = from.vouch(&["--json", "keys", "list"]).json();
    let keys = keys.as_array().expect("keys list --json is a list");
    assert!(
        !keys.is_empty(),
        "{from:?} trusts no key",
        from = from.path()
    );
    for key in keys {
        let role = key["role"].as_str().expect("role");
        let name = key["name"].as_str().expect("name");
        let public = key["key"].as_str().expect("key");
        to.vouch(&["keys", "trust", public, "--name", name, "--role", role])
            .ok();
    }
}

/// Opens the views at `path` over the NATS stream at `url` in-process, catches up, and
/// dumps them.
pub fn dump_nats(path: &Path, url: &str) -> serde_json::Value {
    let options = vouch_ledger::OpenOptions::nats(url);
    let mut ledger = vouch_ledger::Ledger::open(path, &options).expect("open NATS ledger");
    ledger.catch_up(&mut |_, _| {}).expect("catch up");
    ledger.views().dump().expect("dump")
}

/// Opens the ledger at `path` in-process, catches up, and dumps the views.
pub fn dump(path: &Path) -> serde_json::Value {
    let mut ledger = vouch_ledger::Ledger::open(path, &Default::default()).expect("open ledger");
    ledger.catch_up(&mut |_, _| {}).expect("catch up");
    ledger.views().dump().expect("dump")
}

/// A tiny deterministic generator (xorshift64*), so a failing schedule can be replayed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `VOUCH_TEST_SEED`, or one from the clock (printed by the caller, to replay a failure).
pub fn seed() -> u64 {
    std::env::var("VOUCH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

/// The metric names `metric_event` cycles through.
pub const METRIC_NAMES: [&str; 3] = ["loss", "auc", "ece"];

/// The `i`th training-loop metric event of `run`: one value, step `i`.
pub fn metric_event(run: &RunId, i: u64) -> Event {
    let metrics = BTreeMap::from([(
        Name::new(METRIC_NAMES[(i % 3) as usize]).unwrap(),
        i as f64 / 7.0,
    )]);
    Event {
        id: EventId::new(format!("{run}-m{i}")).unwrap(),
        time: Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + i as i64),
        producer: Producer::new("e2e-test").unwrap(),
        subject: Subject::Run(run.clone()),
        body: Body::MetricsLogged(MetricsLogged {
            metrics,
            step: Some(i),
            segment: None,
        }),
    }
}

/// `run`'s start event.
pub fn start_event(run: &RunId) -> Event {
    Event {
        id: EventId::new(format!("{run}-start")).unwrap(),
        time: Timestamp::from_unix_nanos(1_795_000_000_000_000_000),
        producer: Producer::new("e2e-test").unwrap(),
        subject: Subject::Run(run.clone()),
        body: Body::RunStarted(RunStarted {
            experiment: "e2e".into(),
            name: None,
            git: None,
            env: None,
        }),
    }
}

/// A running `vouch serve --http`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    /// `host:port`.
    pub addr: String,
}

impl Server {
    pub fn start(ledger: &TestLedger, extra: &[&str]) -> Server {
        let mut command = ledger.command();
        command
            .args(["serve", "--http", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("spawn vouch serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        break Some(addr.trim().to_owned());
                    }
                }
                Err(_) => break None,
            }
        };
        let server = Server {
            child,
            addr: addr.clone().unwrap_or_default(),
        };
        assert!(addr.is_some(), "vouch serve did not say where it listens");
        server
    }

    /// One request; returns the status and the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // A refused body may close the connection before all of it is sent.
        let _ = stream.write_all(body);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {response:?}"));
        let body = response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, b)| b.to_owned());
        (status, body)
    }

    pub fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.request("GET", path, None, b"");
        (
            status,
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}")),
        )
    }

    pub fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "vouch serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a directory tree (files and directories only): a ledger as someone with a copy
/// of its files has it.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// CRC-32 (IEEE, as the embedded log's frames use it, like crc32fast), continued from
/// `crc`: what an insider recomputes to edit a segment behind the checksum.
pub fn crc32_ieee(data: &[u8], crc: u32) -> u32 {
    let mut crc = !crc;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Writes an Ed25519 key file (mode 0600) from a fixed seed, as `vouch keys generate`
/// writes one, and returns it with the key.
pub fn key_file(dir: &Path, name: &str, seed: u8) -> (PathBuf, vouch_chain::SigningKey) {
    use std::os::unix::fs::PermissionsExt;
    let key = vouch_chain::SigningKey::from_seed([seed; 32]);
    let path = dir.join(name);
    std::fs::write(&path, key.to_file_text()).expect("write key file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("key file mode");
    (path, key)
}
