//! The web UI in a real browser: headless Chromium driven through chromedriver by a small
//! W3C WebDriver client over plain HTTP/1.1, against a real `vouch serve --http` over the
//! loan-risk demo (embedded, and over NATS for the main story).
//!
//! `scripts/test` installs Debian's `chromium` and `chromium-driver` and exports
//! `VOUCH_CHROMIUM` and `VOUCH_CHROMEDRIVER`; without them the defaults are
//! `/usr/bin/chromium` and `/usr/bin/chromedriver`. A failing test keeps a screenshot, the
//! page's HTML and the console log under `target/ui-failures/<test>/` and says so.
//!
//! Every wait is on a condition with a deadline; each test has its own chromedriver and
//! session (a session starts in well under a second here), ended when the test ends.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{copy_dir, crc32_ieee, Server, TestLedger};

/// How long any one condition may take to hold (2 shared cores, debug build).
const WAIT: Duration = Duration::from_secs(30);
/// W3C WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

// ---------------------------------------------------------------------------------------
// A minimal WebDriver client
// ---------------------------------------------------------------------------------------

fn chromedriver_bin() -> PathBuf {
    let path = std::env::var_os("VOUCH_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    assert!(
        path.exists(),
        "no chromedriver at {}: run the tests with scripts/test (it installs Debian's chromium \
         and chromium-driver), or `apt-get install chromium chromium-driver`, or set \
         VOUCH_CHROMEDRIVER and VOUCH_CHROMIUM",
        path.display()
    );
    path
}

fn chromium_bin() -> PathBuf {
    let path = std::env::var_os("VOUCH_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "no Chromium at {}: run the tests with scripts/test, or set VOUCH_CHROMIUM",
        path.display()
    );
    path
}

/// One HTTP/1.1 request on a fresh connection; the status and the body (a
/// `Content-Length`, chunked, or closed-connection body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> std::io::Result<(u16, Vec<u8>)> {
    http_full(addr, method, path, body, timeout).map(|(status, _, body)| (status, body))
}

/// As [`http`], with the response's header block.
fn http_full(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
    timeout: Duration,
) -> std::io::Result<(u16, String, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(timeout))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    // Read until the response is whole: chromedriver may keep the connection open.
    let mut response = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf)?;
        response.extend_from_slice(&buf[..n]);
        match parse_response(&response, n == 0) {
            Ok(Some((status, head, body))) => return Ok((status, head, body)),
            Ok(None) => {}
            Err(what) => {
                return Err(std::io::Error::other(format!(
                    "{what} in the answer to {method} {path}"
                )))
            }
        }
    }
}

/// The status, header block and body of `response` once it is whole (`None` while more
/// is to come), by its `Content-Length`, its chunks, or the end of the connection.
fn parse_response(response: &[u8], closed: bool) -> Result<Option<(u16, String, Vec<u8>)>, String> {
    let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if closed {
            Err("no end of headers".into())
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let rest = &response[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status line")?;
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
    };
    let cut = || {
        if closed {
            Err("a cut body".to_owned())
        } else {
            Ok(None)
        }
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let Some(line_end) = rest[at..].windows(2).position(|w| w == b"\r\n") else {
                return cut();
            };
            let size = String::from_utf8_lossy(&rest[at..at + line_end]);
            let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16)
                .map_err(|_| "a bad chunk size")?;
            at += line_end + 2;
            if size == 0 {
                return Ok(Some((status, head, out)));
            }
            let Some(chunk) = rest.get(at..at + size) else {
                return cut();
            };
            out.extend_from_slice(chunk);
            at += size + 2;
        }
    } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() < len {
            return cut();
        }
        Ok(Some((status, head, rest[..len].to_vec())))
    } else if closed {
        Ok(Some((status, head, rest.to_vec())))
    } else {
        Ok(None)
    }
}

/// A loopback port nobody listens on right now (bound, then released for chromedriver).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}

/// Standard base64 (WebDriver's screenshots), without a dependency.
fn base64_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// An element found on the current page.
#[derive(Clone, Debug)]
struct Element(String);

/// A chromedriver and one session of headless Chromium, both ended on drop.
struct Browser {
    driver: Child,
    addr: String,
    session: String,
    profile: tempfile::TempDir,
    /// The test's name, for `target/ui-failures/<test>/`.
    test: String,
}

impl Browser {
    fn start(test: &str) -> Browser {
        let chromium = chromium_bin();
        let began = Instant::now();
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let driver = Command::new(chromedriver_bin())
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("spawn chromedriver");
        let profile = tempfile::tempdir().expect("browser profile dir");
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
            test: test.to_owned(),
        };
        // Ready when /status says so; another process may have taken the port meanwhile.
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok((200, body)) = http(&browser.addr, "GET", "/status", None, WAIT) {
                let status: Value = serde_json::from_slice(&body).unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            if let Ok(Some(exit)) = browser.driver.try_wait() {
                panic!("chromedriver exited before it was ready ({exit}; port {port} taken?)");
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer /status ready within {WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let driver_ready = began.elapsed();
        let profile = browser.profile.path().to_str().expect("UTF-8 temp path");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--disable-quic", "--window-size=1280,900",
                    format!("--user-data-dir={profile}"),
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let answer = browser.call("POST", "/session", Some(&capabilities));
        browser.session = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {answer}"))
            .to_owned();
        eprintln!(
            "{test}: chromedriver ready in {} ms, Chromium session in {} ms",
            driver_ready.as_millis(),
            (began.elapsed() - driver_ready).as_millis()
        );
        browser
    }

    /// One WebDriver command; its `value`, or a panic naming the WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let (status, bytes) = http(&self.addr, method, path, body, Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "WebDriver {method} {path}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        let value = answer.get("value").cloned().unwrap_or(Value::Null);
        if status != 200 {
            panic!(
                "WebDriver {method} {path} answered {status}: {} {}",
                value["error"], value["message"]
            );
        }
        value
    }

    /// A command of this session.
    fn session(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    fn goto(&self, url: &str) {
        self.session("POST", "/url", Some(&json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.session("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn title(&self) -> String {
        self.session("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        self.session("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// A PNG of the viewport.
    fn screenshot(&self) -> Vec<u8> {
        base64_decode(
            self.session("GET", "/screenshot", None)
                .as_str()
                .unwrap_or_default(),
        )
    }

    /// Runs `script` (a function body) in the page; what it returns.
    fn execute(&self, script: &str, args: Value) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.session(
            "POST",
            "/elements",
            Some(&json!({ "using": "css selector", "value": css })),
        );
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
            .collect()
    }

    fn find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// Polls `condition` until it gives a value, or panics after [`WAIT`] naming `what`.
    #[track_caller]
    fn wait<T>(&self, what: &str, mut condition: impl FnMut(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(value) = condition(self) {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first element matching `css`, once there is one.
    #[track_caller]
    fn wait_for(&self, css: &str) -> Element {
        self.wait(&format!("an element matching `{css}`"), |b| b.find(css))
    }

    fn text(&self, element: &Element) -> String {
        self.session("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.session(
            "GET",
            &format!("/element/{}/attribute/{name}", element.0),
            None,
        )
        .as_str()
        .map(str::to_owned)
    }

    fn click(&self, element: &Element) {
        self.session(
            "POST",
            &format!("/element/{}/click", element.0),
            Some(&json!({})),
        );
    }

    /// Replaces the text of an input.
    fn fill(&self, element: &Element, text: &str) {
        self.session(
            "POST",
            &format!("/element/{}/clear", element.0),
            Some(&json!({})),
        );
        self.session(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(&json!({ "text": text })),
        );
    }

    /// The browser console entries since the last call (chromedriver's `se/log`).
    fn console(&self) -> Vec<Value> {
        self.session("POST", "/se/log", Some(&json!({ "type": "browser" })))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The console's errors since the last call (CSP violations are among them).
    fn console_errors(&self) -> Vec<String> {
        self.console()
            .into_iter()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// `href` of every link on the page, as written.
    fn links(&self) -> Vec<String> {
        let hrefs = self.execute(
            "return Array.from(document.querySelectorAll('a[href]'), a => a.getAttribute('href'));",
            json!([]),
        );
        hrefs
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(str::to_owned))
            .collect()
    }

    /// Keeps a screenshot, the page's HTML and the console under
    /// `target/ui-failures/<test>/`; says where (or why not).
    fn keep_failure(&self) -> String {
        let dir = target_dir().join("ui-failures").join(&self.test);
        let kept = catch_unwind(AssertUnwindSafe(|| -> std::io::Result<String> {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir)?;
            let url = self.url();
            std::fs::write(dir.join("url.txt"), format!("{url}\n"))?;
            std::fs::write(dir.join("page.html"), self.source())?;
            std::fs::write(dir.join("screenshot.png"), self.screenshot())?;
            let console: Vec<String> = self.console().iter().map(Value::to_string).collect();
            std::fs::write(dir.join("console.log"), console.join("\n"))?;
            Ok(url)
        }));
        match kept {
            Ok(Ok(url)) => format!(
                "screenshot, page HTML and console of {url} kept in {}",
                dir.display()
            ),
            Ok(Err(e)) => format!("could not keep the page in {}: {e}", dir.display()),
            Err(_) => format!(
                "could not keep the page in {}: the browser did not answer",
                dir.display()
            ),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits Chromium; the process group catches what is left.
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = http(&self.addr, "DELETE", &path, None, Duration::from_secs(10));
        }
        // SAFETY: kill(2) of the process group we made for our own child.
        unsafe {
            libc::kill(-(self.driver.id() as libc::pid_t), libc::SIGKILL);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The cargo target directory (the test binary is `<target>/<profile>/deps/e2e-…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from("target"))
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".into())
}

/// Runs `body` with a fresh browser; on failure keeps the page and says where.
fn browse(test: &str, body: impl FnOnce(&Browser)) {
    let browser = Browser::start(test);
    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| body(&browser))) {
        let kept = browser.keep_failure();
        panic!("{}\n({kept})", panic_text(&*panic));
    }
}

// ---------------------------------------------------------------------------------------
// The demo behind a server
// ---------------------------------------------------------------------------------------

/// `vouch demo loan-risk` served over HTTP (fields drop in order: server, ledger, NATS).
struct Demo {
    server: Server,
    ledger: TestLedger,
    _nats: Option<vouch_test_nats::NatsServer>,
}

impl Demo {
    fn embedded() -> Demo {
        let ledger = TestLedger::uninitialised();
        ledger.vouch(&["demo", "loan-risk"]).ok();
        Demo {
            server: Server::start(&ledger, &[]),
            ledger,
            _nats: None,
        }
    }

    /// The demo on a NATS stream: `vouch demo` writes through the NATS log as any command.
    fn nats() -> Demo {
        let nats = vouch_test_nats::NatsServer::start();
        let ledger = TestLedger::nats_uninitialised(&nats.url());
        ledger.vouch(&["demo", "loan-risk"]).ok();
        Demo {
            server: Server::start(&ledger, &[]),
            ledger,
            _nats: Some(nats),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr)
    }

    /// The CLI's JSON (the server answers requests; a command waits its turn for the lock).
    fn cli(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        self.ledger.vouch(&all).json()
    }

    /// `(hash, artifact)` of the decision that promoted `run`.
    fn promotion(&self, run: &str) -> (String, String) {
        promotion(&self.cli(&["decisions"]), run)
    }
}

fn promotion(decisions: &Value, run: &str) -> (String, String) {
    let decision = decisions
        .as_array()
        .expect("decisions --json is a list")
        .iter()
        .find(|d| d["run"] == run && d["outcome"] == "promoted")
        .unwrap_or_else(|| panic!("no promotion of {run} in {decisions}"));
    (
        decision["hash"].as_str().unwrap().to_owned(),
        decision["artifacts"][0].as_str().unwrap().to_owned(),
    )
}

fn page_exists(module: &str) -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vouch-ui/src/pages")
        .join(format!("{module}.rs"))
        .exists()
}

/// Navigates and waits until the document is there. Console errors are the crawl's to
/// report (`every_page_…`), which visits these pages too: here they are drained.
fn open(browser: &Browser, url: &str) {
    browser.goto(url);
    browser.wait_for("body");
    browser.console();
}

// ---------------------------------------------------------------------------------------
// The pages of the loan-risk story
// ---------------------------------------------------------------------------------------

fn runs_page(browser: &Browser, demo: &Demo) {
    let all: Vec<String> = demo
        .cli(&["runs", "list"])
        .as_array()
        .expect("runs list --json is a list")
        .iter()
        .map(|r| r["run"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(all.len(), 5, "the demo has five runs: {all:?}");
    let expected: BTreeSet<String> = demo
        .cli(&["runs", "list", "--where", "auc>0.85"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < all.len(),
        "auc>0.85 narrows the demo's runs: {expected:?}"
    );
    open(browser, &demo.url("/runs"));
    let shown = |b: &Browser| -> BTreeSet<String> {
        b.find_all("table#runs tbody tr[data-run]")
            .iter()
            .filter_map(|row| b.attribute(row, "data-run"))
            .collect()
    };
    let listed = browser.wait("the five runs", |b| {
        let rows = shown(b);
        (rows.len() == all.len()).then_some(rows)
    });
    assert_eq!(listed, all.iter().cloned().collect::<BTreeSet<_>>());
    let input = browser.wait_for("form input[name=where]");
    browser.fill(&input, "auc>0.85");
    let submit = browser.wait_for("form button[type=submit]");
    browser.click(&submit);
    browser.wait("the filtered runs", |b| {
        (b.url().contains("where=") && shown(b) == expected).then_some(())
    });
}

fn compare_page(browser: &Browser, demo: &Demo) {
    if !page_exists("compare") {
        eprintln!("SKIPPED: crates/vouch-ui/src/pages/compare.rs does not exist yet");
        return;
    }
    open(
        browser,
        &demo.url("/compare?run=loan-risk-b&run=loan-risk-c"),
    );
    browser.wait_for("[data-verdict]");
    // Each failing verdict with what it belongs to: its own text, its row, its column's
    // header, and the nearest element naming a run.
    let fails = browser.execute(
        "return Array.from(document.querySelectorAll('[data-verdict=fail]'), el => {
           const cell = el.closest('td,th');
           const row = el.closest('tr');
           const table = el.closest('table');
           let header = '';
           if (cell && table && table.tHead && table.tHead.rows.length) {
             const h = table.tHead.rows[table.tHead.rows.length - 1].cells[cell.cellIndex];
             header = h ? h.textContent : '';
           }
           const owner = el.closest('[data-run]');
           return {
             text: el.textContent + ' ' + (el.getAttribute('title') || ''),
             row: row ? row.textContent : '',
             header,
             run: owner ? owner.getAttribute('data-run') : (el.getAttribute('data-run') || ''),
           };
         });",
        json!([]),
    );
    let fails = fails.as_array().cloned().unwrap_or_default();
    let latency_of_c = fails.iter().any(|f| {
        let all = format!("{} {} {} {}", f["text"], f["row"], f["header"], f["run"]).to_lowercase();
        all.contains("latency")
            && (f["run"] == "loan-risk-c"
                || f["header"].as_str().unwrap_or("").contains("loan-risk-c")
                || f["row"].as_str().unwrap_or("").contains("loan-risk-c")
                || f["text"].as_str().unwrap_or("").contains("loan-risk-c"))
    });
    assert!(
        latency_of_c,
        "no [data-verdict=fail] for loan-risk-c's latency; failing verdicts: {fails:#?}"
    );
    assert!(
        !fails.iter().any(|f| f["run"] == "loan-risk-b"),
        "B passes every gate, yet a verdict of B fails: {fails:#?}"
    );
}

/// The gates the decision recorded, from the CLI's audit.
fn recorded_gates(demo: &Demo, artifact: &str) -> Vec<String> {
    let audit = demo.cli(&["audit", "--digest", artifact]);
    audit["report"]["record"]["gates"]
        .as_array()
        .unwrap_or_else(|| panic!("no gates in {audit}"))
        .iter()
        .map(|g| g["gate"].as_str().unwrap().to_owned())
        .collect()
}

fn decision_page(browser: &Browser, demo: &Demo) {
    let (hash, artifact) = demo.promotion("loan-risk-b");
    let gates = recorded_gates(demo, &artifact);
    assert!(gates.len() >= 5, "B's promotion has its gates: {gates:?}");
    open(browser, &demo.url(&format!("/decisions/{hash}")));
    let table = browser.wait_for("#gates");
    let text = browser.text(&table);
    for gate in &gates {
        assert!(
            text.contains(gate.as_str()),
            "#gates lacks gate {gate}:\n{text}"
        );
    }
    let root = browser.wait_for("#verification[data-ok]");
    assert!(
        browser.find("#verification [data-ok=false]").is_none()
            && browser.attribute(&root, "data-ok").as_deref() == Some("true"),
        "B's promotion does not verify on the page:\n{}",
        browser.text(&root)
    );
    // A 12-hex prefix names the same decision.
    let short = &hash[..hash.find(':').map_or(0, |i| i + 1) + 12];
    open(browser, &demo.url(&format!("/decisions/{short}")));
    let again = browser.text(&browser.wait_for("#gates"));
    assert_eq!(again, text, "/decisions/{short} is the same decision");
}

/// Where a page says whether it verifies: the decision page's `#verification`, the audit
/// page's `#audit` (both carry `data-ok`, and so does each check inside).
const VERIFIED: &str = "#verification[data-ok], #audit[data-ok]";
/// A failed verification or check on either page.
const FAILED: &str = "#verification[data-ok=false], #verification [data-ok=false], \
                      #audit[data-ok=false], #audit [data-ok=false]";
/// The stylesheet's red: a failing badge or verdict.
const RED: &str = "#verification .bad, #audit .bad, .verdict.bad";

fn audit_page(browser: &Browser, demo: &Demo) {
    let (_, artifact) = demo.promotion("loan-risk-b");
    open(browser, &demo.url(&format!("/audit/{artifact}")));
    let root = browser.wait_for(VERIFIED);
    assert!(
        browser.find(FAILED).is_none(),
        "B's artifact does not verify on the audit page:\n{}",
        browser.text(&root)
    );
    let bundle = browser.wait_for("#bundle");
    let href = browser
        .attribute(&bundle, "href")
        .or_else(|| {
            browser
                .find("#bundle a[href]")
                .and_then(|a| browser.attribute(&a, "href"))
        })
        .expect("#bundle is (or holds) a link");
    let path = same_origin(&demo.server.addr, &browser.url(), &href)
        .unwrap_or_else(|| panic!("the bundle link {href} leaves the server"));
    let (status, body) = demo.server.request("GET", &path, None, b"");
    assert_eq!(status, 200, "GET {path}: {body}");
    let parsed: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("the bundle is not JSON ({e})"));
    assert!(parsed.is_object(), "the bundle is a JSON object");
    let file = demo.ledger.file("page.bundle.json", body.as_bytes());
    let trust = demo.ledger.path().join("trust.json");
    demo.ledger
        .vouch(&[
            "verify-bundle",
            file.to_str().unwrap(),
            "--trust",
            trust.to_str().unwrap(),
        ])
        .ok();
}

fn diagnose_page(browser: &Browser, demo: &Demo) {
    open(browser, &demo.url("/diagnose/loan-risk"));
    let first = browser.wait_for("#findings [data-rank=\"1\"]");
    let text = browser.text(&first);
    let segment = browser
        .attribute(&first, "data-segment")
        .unwrap_or_default();
    let inner = browser
        .find("#findings [data-rank=\"1\"] [data-segment]")
        .and_then(|e| browser.attribute(&e, "data-segment"))
        .unwrap_or_default();
    assert!(
        format!("{text} {segment} {inner}").contains("APAC"),
        "the first finding is not APAC's regression: {text:?} (data-segment {segment:?})"
    );
}

/// Runs one page's check against a fresh demo and browser.
fn story(test: &str, nats: bool, check: fn(&Browser, &Demo)) {
    let demo = if nats { Demo::nats() } else { Demo::embedded() };
    browse(test, |browser| check(browser, &demo));
}

#[test]
fn runs_page_lists_the_demo_runs_and_filters_them() {
    story("runs_page", false, runs_page);
}

#[test]
fn runs_page_over_nats() {
    story("runs_page_over_nats", true, runs_page);
}

#[test]
fn compare_page_shows_c_failing_latency() {
    story("compare_page", false, compare_page);
}

#[test]
fn compare_page_over_nats() {
    story("compare_page_over_nats", true, compare_page);
}

#[test]
fn decision_page_shows_every_gate_and_verifies() {
    story("decision_page", false, decision_page);
}

#[test]
fn decision_page_over_nats() {
    story("decision_page_over_nats", true, decision_page);
}

#[test]
fn audit_page_verifies_and_its_bundle_verifies_offline() {
    story("audit_page", false, audit_page);
}

#[test]
fn audit_page_over_nats() {
    story("audit_page_over_nats", true, audit_page);
}

#[test]
fn diagnose_page_ranks_apac_first() {
    story("diagnose_page", false, diagnose_page);
}

#[test]
fn diagnose_page_over_nats() {
    story("diagnose_page_over_nats", true, diagnose_page);
}

// ---------------------------------------------------------------------------------------
// An insider's edit: one byte of evidence changed, the frame's checksum made to match
// ---------------------------------------------------------------------------------------

/// Changes one byte of the `latency_p95_ms` value in the record of event `event_id` and
/// rewrites the frame's CRC (`crc32(body length ‖ body)`), so the log reads as whole.
/// Segment layout: a 48-byte header, then frames of magic, body length, CRC (each a
/// little-endian u32) and a body of position (u64), id (u16 length + bytes), key (u16
/// length + bytes) and the event's bytes.
fn edit_evidence(ledger: &Path, event_id: &str) {
    let mut segments: Vec<PathBuf> = std::fs::read_dir(ledger.join("log").join("segments"))
        .expect("segments dir")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    for segment in segments {
        let mut bytes = std::fs::read(&segment).unwrap();
        let mut at = 48;
        while at + 12 <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            let body = at + 12;
            let id_len = u16::from_le_bytes(bytes[body + 8..body + 10].try_into().unwrap());
            let id = &bytes[body + 10..body + 10 + id_len as usize];
            if id == event_id.as_bytes() {
                let frame = &bytes[body..body + len];
                let name = b"latency_p95_ms";
                let value = frame
                    .windows(name.len())
                    .position(|w| w == name)
                    .unwrap_or_else(|| panic!("{event_id} carries no latency_p95_ms"))
                    + name.len();
                // The lowest byte of the little-endian f64: 182 becomes 182.00000000000003.
                bytes[body + value] ^= 0x01;
                let mut crc = crc32_ieee(&(len as u32).to_le_bytes(), 0);
                crc = crc32_ieee(&bytes[body..body + len], crc);
                bytes[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
                std::fs::write(&segment, &bytes).unwrap();
                return;
            }
            at = body + len;
        }
    }
    panic!("no record of {event_id} in {}", ledger.display());
}

#[test]
fn an_edited_byte_of_evidence_turns_decision_and_audit_red_naming_the_rule() {
    let pristine = TestLedger::uninitialised();
    pristine.vouch(&["demo", "loan-risk"]).ok();
    let (hash, artifact) = promotion(
        &pristine.vouch(&["--json", "decisions"]).json(),
        "loan-risk-b",
    );
    // No server runs: copy, then edit the copy's evidence behind the log's back.
    let copy = TestLedger::uninitialised();
    copy_dir(&pristine.path(), &copy.path());
    edit_evidence(&copy.path(), "demo-loan-risk:loan-risk-b:eval");
    let verify = copy.vouch(&["verify"]);
    assert_ne!(verify.code, 0, "the CLI catches the edit: {verify:?}");
    // The first decision pins a log prefix that holds the edited record, so the rule
    // that fires first is its pin; the recomputed tree names the record itself.
    assert!(
        verify.stderr.contains("[rule log_pin]")
            && verify
                .stderr
                .contains("differs: the record stored there is not the one"),
        "the CLI names the rule and the record: {verify:?}"
    );
    let server = Server::start(&copy, &[]);
    let url = |path: &str| format!("http://{}{path}", server.addr);
    browse("edited_evidence", |browser| {
        for path in [format!("/decisions/{hash}"), format!("/audit/{artifact}")] {
            browser.goto(&url(&path));
            let root = browser.wait_for(VERIFIED);
            let text = browser.text(&root);
            assert!(
                browser.find(FAILED).is_some(),
                "{path}: the edited evidence is not shown as failing:\n{text}"
            );
            assert!(
                browser.find(RED).is_some(),
                "{path}: nothing is shown in red (`{RED}`):\n{text}"
            );
            assert!(
                text.contains("evidence_digest"),
                "{path}: the failing rule evidence_digest is not named:\n{text}"
            );
        }
    });
    drop(server);
    // The pristine ledger still verifies: the edit was the copy's alone.
    pristine.vouch(&["verify"]).ok();
}

// ---------------------------------------------------------------------------------------
// Every page: a title, no broken link, no console error
// ---------------------------------------------------------------------------------------

/// The server-relative path `href` points at from the page at `page`, or `None` when it
/// leaves this server (or only moves within the page).
fn same_origin(addr: &str, page: &str, href: &str) -> Option<String> {
    let origin = format!("http://{addr}");
    let page_path = page.strip_prefix(&origin).unwrap_or("/");
    let href = href.split('#').next().unwrap_or("");
    if href.is_empty() {
        return None;
    }
    if let Some(rest) = href.strip_prefix(&origin) {
        return Some(if rest.is_empty() {
            "/".into()
        } else {
            rest.into()
        });
    }
    if href.starts_with("//") || href.contains("://") || href.starts_with("mailto:") {
        return None;
    }
    if href.starts_with('/') {
        return Some(href.to_owned());
    }
    let base = page_path.split(['?', '#']).next().unwrap_or("/");
    if href.starts_with('?') {
        return Some(format!("{base}{href}"));
    }
    let dir = &base[..base.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{dir}{href}"))
}

#[test]
fn every_page_has_a_title_working_links_and_no_console_errors() {
    let demo = Demo::embedded();
    let (hash, artifact) = demo.promotion("loan-risk-b");
    let start: Vec<String> = vec![
        "/".into(),
        "/runs".into(),
        "/runs?where=auc%3E0.85".into(),
        "/compare?run=loan-risk-b&run=loan-risk-c".into(),
        format!("/decisions/{hash}"),
        format!("/audit/{artifact}"),
        "/diagnose/loan-risk".into(),
    ];
    browse("every_page", |browser| {
        let mut problems: Vec<String> = Vec::new();
        let mut visited: BTreeSet<String> = BTreeSet::new();
        let mut checked: BTreeMap<String, (u16, bool)> = BTreeMap::new();
        // (path, depth): the start pages at depth 0, their links at 1, theirs at 2.
        let mut queue: std::collections::VecDeque<(String, u32)> =
            start.iter().map(|p| (p.clone(), 0)).collect();
        while let Some((path, depth)) = queue.pop_front() {
            if !visited.insert(path.clone()) {
                continue;
            }
            assert!(visited.len() <= 400, "more than 400 pages: a link loop?");
            let url = demo.url(&path);
            browser.goto(&url);
            browser.wait_for("body");
            let title = browser.title();
            let own = title
                .trim()
                .trim_end_matches("Vouch")
                .trim_end()
                .trim_end_matches('·')
                .trim();
            if own.is_empty() {
                problems.push(format!("{path}: empty <title> ({title:?})"));
            }
            for error in browser.console_errors() {
                problems.push(format!("{path}: console error: {error}"));
            }
            let here = browser.url();
            for href in browser.links() {
                let Some(target) = same_origin(&demo.server.addr, &here, &href) else {
                    continue;
                };
                let (status, html) = *checked.entry(target.clone()).or_insert_with(|| {
                    let (status, head, _) =
                        http_full(&demo.server.addr, "GET", &target, None, WAIT)
                            .unwrap_or_else(|e| panic!("GET {target}: {e}"));
                    (
                        status,
                        head.to_ascii_lowercase()
                            .contains("content-type: text/html"),
                    )
                });
                if status >= 400 {
                    problems.push(format!("{path}: link {href} answers {status}"));
                } else if depth < 2 && html {
                    queue.push_back((target, depth + 1));
                }
            }
        }
        eprintln!(
            "every_page: {} pages visited, {} links checked",
            visited.len(),
            checked.len()
        );
        let total = problems.len();
        if let Some(first) = problems.first() {
            // The kept screenshot and HTML are then of the first page at fault.
            let page = first.split(": ").next().unwrap_or("/");
            browser.goto(&demo.url(page));
        }
        assert!(
            problems.is_empty(),
            "{total} problem(s) over {} pages:\n{}",
            visited.len(),
            problems[..total.min(60)].join("\n")
        );
    });
}

/// The console check sees what the Content-Security-Policy refuses: an inline script put
/// into a page is blocked, and the refusal is a console error.
#[test]
fn the_console_check_catches_a_csp_violation() {
    let demo = Demo::embedded();
    browse("csp_violation", |browser| {
        open(browser, &demo.url("/runs"));
        browser.execute(
            "const s = document.createElement('script');
             s.textContent = 'window.injected = 1;';
             document.head.appendChild(s);
             return null;",
            json!([]),
        );
        let mut seen = Vec::new();
        browser.wait("the CSP violation in the console", |b| {
            seen.extend(b.console_errors());
            seen.iter()
                .any(|e| e.contains("Content Security Policy"))
                .then_some(())
        });
        assert_eq!(
            browser.execute("return window.injected === undefined;", json!([])),
            true,
            "the inline script ran despite the CSP"
        );
    });
}

/// Readable on a phone, light and dark: at 390 CSS pixels no page scrolls sideways (wide
/// tables scroll inside their own frame), and with the system in dark mode the pages are
/// dark.
#[test]
fn pages_fit_a_phone_and_follow_the_dark_theme() {
    let demo = Demo::embedded();
    let (hash, digest) = demo.promotion("loan-risk-b");
    let pages = [
        "/runs".to_owned(),
        "/runs/loan-risk-b".to_owned(),
        "/compare?run=loan-risk-b&run=loan-risk-c".to_owned(),
        "/models/loan-risk".to_owned(),
        format!("/decisions/{hash}"),
        format!("/audit/{digest}"),
        "/diagnose/loan-risk".to_owned(),
        "/chain".to_owned(),
    ];
    browse("phone_and_dark", |browser| {
        browser.session(
            "POST",
            "/window/rect",
            Some(&json!({"width": 390, "height": 844})),
        );
        for page in &pages {
            open(browser, &demo.url(page));
            let overflow = browser.execute(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth;",
                json!([]),
            );
            assert!(
                overflow.as_f64().is_some_and(|o| o <= 1.0),
                "{page} scrolls sideways on a phone by {overflow} px"
            );
        }
        browser.session(
            "POST",
            "/goog/cdp/execute",
            Some(&json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
            })),
        );
        for page in &pages {
            open(browser, &demo.url(page));
            let dark = browser.execute(
                "const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
                 return (0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]) < 64;",
                json!([]),
            );
            assert_eq!(dark, true, "{page} is not dark in the dark theme");
        }
    });
}
