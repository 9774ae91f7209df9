//! Real `nats-server` processes for tests: one JetStream server ([`NatsServer`]) or a
//! JetStream cluster ([`NatsCluster`]), each on free loopback ports with its own temporary
//! store, killed when dropped.
//!
//! Why real servers: the log's promises (dedup, compare-and-swap, no gaps) are the
//! server's, so only a server can show they hold, and only a process we can SIGKILL and
//! start again on the same store can show they survive a crash.
//!
//! The binary is `NATS_SERVER_BIN`, else `nats-server` on `PATH`; `./scripts/test` sets
//! the former. Every wait is bounded polling; a server that dies or never becomes ready
//! fails the test with its own output (kept in `server.log` in its store directory).
//!
//! Everything here blocks the calling thread; nothing needs an async runtime.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use vouch_log_nats::{NatsLog, NatsOptions};

/// How long a single server may take to accept connections.
const SERVER_READY: Duration = Duration::from_secs(15);

/// How long a cluster may take to connect its routes and elect a JetStream meta leader, or
/// a restarted node to catch up.
const CLUSTER_READY: Duration = Duration::from_secs(30);

/// Free ports tried before giving up on starting a server.
const PORT_ATTEMPTS: usize = 10;

/// The pause between polls.
const POLL: Duration = Duration::from_millis(20);

/// A running `nats-server -js` on 127.0.0.1 with its own store directory.
pub struct NatsServer {
    process: Process,
    /// Last: the directory goes after the process that writes into it.
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts a server with a fresh store and waits until it accepts connections.
    pub fn start() -> NatsServer {
        Self::start_with(&[])
    }

    /// Starts a server with extra command-line arguments.
    pub fn start_with(extra: &[&str]) -> NatsServer {
        Self::start_inner(None, extra)
    }

    /// Starts a server that also reads `config`: nats-server configuration text, such as
    /// the authorization of `deploy/nats/auth.conf` with test passwords, so a test runs the
    /// permissions that are shipped. It is written to `server.conf` in the store directory.
    /// JetStream, the loopback address, the port and the store come from the command line
    /// and win over the same settings in `config`.
    ///
    /// # Panics
    /// If the server does not start, for instance because `config` does not parse (the
    /// panic shows the server's output, which names the line).
    pub fn start_with_config(config: &str) -> NatsServer {
        Self::start_inner(Some(config), &[])
    }

    fn start_inner(config: Option<&str>, extra: &[&str]) -> NatsServer {
        let store = tempfile::tempdir().expect("temp store dir");
        let config_path = config.map(|text| {
            let path = store.path().join("server.conf");
            std::fs::write(&path, text).expect("write server config");
            path
        });
        // A port found free can be taken by another test before the server binds it: then
        // try another one, rather than wait for a port someone else holds.
        for _ in 0..PORT_ATTEMPTS {
            let port = free_ports(1)[0];
            let mut args: Vec<OsString> = Vec::new();
            if let Some(path) = &config_path {
                args.push("-c".into());
                args.push(path.into());
            }
            args.extend(
                ["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"]
                    .iter()
                    .map(OsString::from),
            );
            args.push(store.path().into());
            args.extend(extra.iter().map(OsString::from));
            let mut process = Process::new("nats-server", args, port, None, store.path());
            process.spawn();
            if process.wait_ready(Instant::now() + SERVER_READY, false) {
                return NatsServer { process, store };
            }
        }
        panic!(
            "nats-server: {PORT_ATTEMPTS} free ports in a row were taken before it could bind them"
        )
    }

    /// The client URL.
    pub fn url(&self) -> String {
        self.process.url()
    }

    /// The client port; it stays the same across restarts.
    pub fn port(&self) -> u16 {
        self.process.port
    }

    /// The JetStream store directory; it stays the same across restarts.
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// The file that collects the server's output, over every start.
    pub fn log_file(&self) -> &Path {
        &self.process.log
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

    /// A crash and recovery: SIGKILL, then a new server on the same port and store (so the
    /// JetStream data survives), returning once it accepts connections.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process.start();
    }

    /// SIGKILL, leaving the server down until [`NatsServer::start_again`].
    pub fn stop(&mut self) {
        self.process.kill();
    }

    /// Starts a stopped server again on the same port and store.
    ///
    /// # Panics
    /// If it is running.
    pub fn start_again(&mut self) {
        assert!(
            !self.process.running(),
            "start_again: {} is running",
            self.process.label
        );
        self.process.start();
    }

    /// Whether the process is alive (it may still be starting).
    pub fn is_running(&mut self) -> bool {
        self.process.running()
    }
}

/// The name of every test cluster.
const CLUSTER_NAME: &str = "vouch-test";

/// A JetStream cluster of `nats-server` processes on 127.0.0.1: node `i` is named
/// `n{i+1}`, has its own client, route and monitoring ports and its own store, and routes
/// to every other node.
pub struct NatsCluster {
    nodes: Vec<Node>,
}

struct Node {
    name: String,
    process: Process,
    store: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts `n` nodes and waits until every one accepts connections and reports healthy,
    /// which includes knowing the JetStream meta leader; so a stream with `n` replicas can
    /// be created right away.
    ///
    /// # Panics
    /// If `n` is 0, or the cluster is not ready within 30 s.
    pub fn start(n: usize) -> NatsCluster {
        assert!(n > 0, "a cluster needs at least one node");
        // Client, route and monitoring ports, all chosen before any is released.
        let ports = free_ports(3 * n);
        let (client, route, http) = (&ports[..n], &ports[n..2 * n], &ports[2 * n..]);
        let mut nodes = Vec::with_capacity(n);
        for i in 0..n {
            let name = format!("n{}", i + 1);
            let store = tempfile::tempdir().expect("temp store dir");
            let routes: Vec<String> = (0..n)
                .filter(|&j| j != i)
                .map(|j| format!("nats-route://127.0.0.1:{}", route[j]))
                .collect();
            let config = format!(
                "server_name: {name}\n\
                 listen: 127.0.0.1:{client}\n\
                 http: 127.0.0.1:{http}\n\
                 jetstream {{ store_dir: {store:?} }}\n\
                 cluster {{\n  name: {CLUSTER_NAME}\n  listen: 127.0.0.1:{route}\n  routes: [{routes}]\n}}\n",
                client = client[i],
                http = http[i],
                store = store.path().display().to_string(),
                route = route[i],
                routes = routes.join(", "),
            );
            let config_path = store.path().join("server.conf");
            std::fs::write(&config_path, config).expect("write node config");
            let process = Process::new(
                &format!("nats-server {name}"),
                vec!["-c".into(), config_path.into()],
                client[i],
                Some(http[i]),
                store.path(),
            );
            nodes.push(Node {
                name,
                process,
                store,
            });
        }
        // All at once, so the routes find each other on their first attempts.
        for node in &mut nodes {
            node.process.spawn();
        }
        let mut cluster = NatsCluster { nodes };
        let deadline = Instant::now() + CLUSTER_READY;
        for node in &mut cluster.nodes {
            node.process.wait_accepting(deadline);
        }
        for node in &mut cluster.nodes {
            node.process.wait_healthy(deadline);
        }
        cluster
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: a cluster has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's client URL, comma-separated, in node order: the seed list the `nats`
    /// CLI and the Go and Python clients take. async-nats takes a list as a slice, not as
    /// one string; see [`NatsCluster::options`].
    pub fn url(&self) -> String {
        let urls: Vec<String> = self.nodes.iter().map(|n| n.process.url()).collect();
        urls.join(",")
    }

    /// Node `i`'s client URL.
    pub fn node_url(&self, i: usize) -> String {
        self.nodes[i].process.url()
    }

    /// Node `i`'s `server_name` (`n{i+1}`), as JetStream reports leaders and peers.
    pub fn node_name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// The index of the node with this `server_name`.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Node `i`'s store directory (its config and `server.log` are there too).
    pub fn store_dir(&self, i: usize) -> &Path {
        self.nodes[i].store.path()
    }

    /// Whether node `i`'s process is alive.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.nodes[i].process.running()
    }

    /// Options for the cluster: a stream with one replica per node, a short timeout, and
    /// every running node's URL comma-separated so the client can fail over between them.
    pub fn options(&self) -> NatsOptions {
        let up: Vec<String> = self
            .nodes
            .iter()
            .filter(|n| n.process.child.is_some())
            .map(|n| n.process.url())
            .collect();
        assert!(!up.is_empty(), "options: every node is down");
        // Every running node, comma-separated, as an operator would write it.
        let mut options = NatsOptions::new(up.join(","));
        options.replicas = self.nodes.len();
        options.timeout = Duration::from_secs(5);
        options
    }

    /// Connects a new log to the cluster's default stream with [`NatsCluster::options`].
    pub fn log(&self) -> NatsLog {
        NatsLog::connect(&self.options()).expect("connect NATS log")
    }

    /// SIGKILLs node `i` and leaves it down.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].process.kill();
    }

    /// Starts node `i` again (killing it first if it runs) with the same ports, store and
    /// config, and waits until it accepts connections; and, when a majority of nodes runs
    /// (so a meta leader can exist), until it reports healthy, i.e. has caught up.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i].process.kill();
        let deadline = Instant::now() + CLUSTER_READY;
        self.nodes[i].process.spawn();
        self.nodes[i].process.wait_accepting(deadline);
        let running = (0..self.nodes.len())
            .filter(|&j| self.is_running(j))
            .count();
        if running * 2 > self.nodes.len() {
            self.nodes[i].process.wait_healthy(deadline);
        }
    }
}

/// One server process that can be killed and started again with the same arguments.
struct Process {
    label: String,
    binary: PathBuf,
    args: Vec<OsString>,
    port: u16,
    /// The monitoring port, when the server serves `/healthz`.
    http: Option<u16>,
    log: PathBuf,
    /// Where the current run's output starts in `log`.
    log_offset: u64,
    child: Option<Child>,
}

impl Process {
    fn new(label: &str, args: Vec<OsString>, port: u16, http: Option<u16>, dir: &Path) -> Self {
        Process {
            label: label.to_owned(),
            binary: binary(),
            args,
            port,
            http,
            log: dir.join("server.log"),
            log_offset: 0,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Spawns and waits until the client port accepts connections.
    fn start(&mut self) {
        self.spawn();
        self.wait_accepting(Instant::now() + SERVER_READY);
    }

    /// Waits until this server says it listens on its port and is ready, and the port
    /// accepts connections (a port that accepts could be another test's server). A server
    /// that exits because the address is in use is started again until the deadline when
    /// `wait_for_port` (a restart must keep its port), or reported as `false`.
    fn wait_ready(&mut self, deadline: Instant, wait_for_port: bool) -> bool {
        let listening = format!(
            "Listening for client connections on 127.0.0.1:{}",
            self.port
        );
        loop {
            let output = self.this_run_output();
            if output.contains(&listening)
                && output.contains("Server is ready")
                && accepts(self.addr())
            {
                return true;
            }
            if let Some(status) = self.exited() {
                let output = self.this_run_output();
                if output.contains("address already in use") {
                    if !wait_for_port {
                        return false;
                    }
                    if Instant::now() < deadline {
                        sleep(Duration::from_millis(100));
                        self.spawn();
                        continue;
                    }
                }
                self.fail(&format!("exited with {status}"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("did not accept connections on {}", self.addr()));
            }
            sleep(POLL);
        }
    }

    /// Spawns the server, its output appended to the log file.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.label);
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log file");
        self.log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        if self.log_offset > 0 {
            let _ = writeln!(log, "---- vouch-test-nats: starting again ----");
        }
        let child = Command::new(&self.binary)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
    }

    /// SIGKILL and reap; nothing if not running.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Alive, as far as the OS says; reaps a process that exited.
    fn running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => match child.try_wait() {
                Ok(None) => true,
                _ => {
                    self.child = None;
                    false
                }
            },
            None => false,
        }
    }

    /// Waits until this server accepts connections on its port, starting it again while a
    /// connection left from its previous run still holds the port.
    fn wait_accepting(&mut self, deadline: Instant) {
        self.wait_ready(deadline, true);
    }

    /// Waits until `/healthz` answers 200: routes up, the JetStream meta leader known and
    /// this node's streams current.
    fn wait_healthy(&mut self, deadline: Instant) {
        let port = self.http.expect("no monitoring port");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut last = String::from("no answer");
        loop {
            match http_get(addr, "/healthz") {
                Some((200, _)) => return,
                Some((status, body)) => last = format!("{status} {}", body.trim()),
                None => {}
            }
            if let Some(status) = self.exited() {
                self.fail(&format!("exited with {status}"));
            }
            if Instant::now() > deadline {
                self.fail(&format!("not healthy in time; /healthz said: {last}"));
            }
            sleep(POLL);
        }
    }

    /// The exit status if the process has exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        self.child = None;
        Some(status)
    }

    fn this_run_output(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = File::open(&self.log) {
            use std::io::Seek;
            let _ = file.seek(std::io::SeekFrom::Start(self.log_offset));
            let _ = file.read_to_string(&mut text);
        }
        text
    }

    fn fail(&mut self, what: &str) -> ! {
        self.kill();
        panic!(
            "{} {what}; its output ({}):\n{}",
            self.label,
            self.log.display(),
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `n` distinct free loopback ports: the kernel picks each (bind to port 0), and every
/// listener is held until all are picked so none repeats. Another process could take one
/// before the server binds it; the server's start then fails loudly.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound address").port())
        .collect()
}

/// Whether a server accepts connections at `addr`. A connection to itself (possible on
/// loopback while nothing listens: the kernel may pick the target as the local port) is
/// not a server.
fn accepts(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200))
        .is_ok_and(|s| s.local_addr().ok() != Some(addr))
}

/// A minimal HTTP/1.0 GET: the status code and body, or `None` if nothing answered.
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).ok()?;
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    let body = rest
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((status, body))
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
            "nats-server not found: these tests need a real server. Run them with \
             `./scripts/test`, which finds or installs a pinned nats-server, or put \
             nats-server on PATH, or set NATS_SERVER_BIN to its path."
        )
    })
}
