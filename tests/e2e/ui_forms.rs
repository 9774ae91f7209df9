//! The web UI's forms over raw HTTP against `vouch serve --http` on the loan-risk demo:
//! an uploaded artifact is hashed (never stored) and redirected to its audit, which shows
//! exactly the checks `vouch audit` makes; an upload over the server's cap is refused and
//! stores nothing; the replay form lists the decisions a stricter policy flips, as `vouch
//! replay` does; the diagnose page ranks findings as `vouch diagnose` does.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Server, TestLedger};

/// An answer: status, headers (names lowercased), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a request's body is sent.
enum Sent<'a> {
    /// With `Content-Length`.
    Whole(&'a [u8]),
    /// `Transfer-Encoding: chunked`, in 64 KiB chunks: the server cannot know the size
    /// before reading it.
    Chunked(&'a [u8]),
}

/// One raw HTTP/1.1 request (the connection closed after it).
fn send(server: &Server, method: &str, path: &str, kind: Option<&str>, body: Sent<'_>) -> Answer {
    send_as(server, None, method, path, kind, body)
}

/// [`send`] with a bearer token.
fn send_as(
    server: &Server,
    token: Option<&str>,
    method: &str,
    path: &str,
    kind: Option<&str>,
    body: Sent<'_>,
) -> Answer {
    let mut stream = TcpStream::connect(&server.addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        server.addr
    );
    if let Some(kind) = kind {
        head.push_str(&format!("Content-Type: {kind}\r\n"));
    }
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    match body {
        Sent::Whole(bytes) => {
            head.push_str(&format!("Content-Length: {}\r\n\r\n", bytes.len()));
            stream.write_all(head.as_bytes()).unwrap();
            // A refused body may close the connection before all of it is sent.
            let _ = stream.write_all(bytes);
        }
        Sent::Chunked(bytes) => {
            head.push_str("Transfer-Encoding: chunked\r\n\r\n");
            stream.write_all(head.as_bytes()).unwrap();
            for chunk in bytes.chunks(64 << 10) {
                let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
                framed.extend_from_slice(chunk);
                framed.extend_from_slice(b"\r\n");
                if stream.write_all(&framed).is_err() {
                    break;
                }
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

fn get(server: &Server, path: &str) -> Answer {
    send(server, "GET", path, None, Sent::Whole(b""))
}

/// `application/x-www-form-urlencoded`, as a browser sends a form.
fn form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else if b == b' ' {
                    "+".to_owned()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Every value of attribute `name` in `html`, in order.
fn attributes(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// The element with `id` and everything after it up to the closing `tag`.
fn section<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no id=\"{id}\" in {html}"));
    let end = html[start..]
        .find(&format!("</{tag}>"))
        .map_or(html.len(), |e| start + e);
    &html[start..end]
}

/// The loan-risk demo and a server over it.
fn demo(extra: &[&str]) -> (TestLedger, Server) {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let server = Server::start(&ledger, extra);
    (ledger, server)
}

fn demo_file(ledger: &TestLedger, name: &str) -> PathBuf {
    ledger.path().join("demo-files").join(name)
}

/// Every file under `dir` with its size: what the ledger holds on disk.
fn files_under(dir: &std::path::Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(m) = e.metadata() {
                out.push((path, m.len()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn an_uploaded_model_redirects_to_its_audit_with_the_clis_checks_all_green() {
    let (ledger, server) = demo(&[]);
    let model = demo_file(&ledger, "loan-risk-b.model");
    let cli = ledger
        .vouch(&["--json", "audit", model.to_str().unwrap()])
        .json();
    assert_eq!(cli["ok"], true, "the demo's B audits green: {cli}");
    let digest = cli["report"]["artifact"].as_str().unwrap().to_owned();

    // The script's upload: the raw bytes, hashed as they stream.
    let bytes = std::fs::read(&model).unwrap();
    let answer = send(
        &server,
        "POST",
        "/audit/upload",
        Some("application/octet-stream"),
        Sent::Whole(&bytes),
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    let location = answer.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/audit/{digest}"));
    // Streamed in chunks (no length known up front): the same digest.
    let chunked = send(
        &server,
        "POST",
        "/audit/upload",
        Some("application/octet-stream"),
        Sent::Chunked(&bytes),
    );
    assert_eq!(chunked.header("location"), Some(location.as_str()));

    let page = get(&server, &location);
    assert_eq!(page.status, 200, "{}", page.body);
    let audit = section(&page.body, "audit", "section");
    let checks = attributes(audit, "data-check");
    let expected: Vec<String> = cli["report"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap().to_owned())
        .collect();
    let (mut shown, mut wanted) = (checks.clone(), expected.clone());
    shown.sort();
    wanted.sort();
    assert_eq!(shown, wanted, "the page shows exactly the CLI's checks");
    assert!(checks.contains(&"decision".to_owned()) && checks.contains(&"deployment".to_owned()));
    // `data-ok` of the section itself, then of each check: all true.
    let oks = attributes(audit, "data-ok");
    assert_eq!(oks.len(), checks.len() + 1);
    assert!(oks.iter().all(|ok| ok == "true"), "all green: {oks:?}");
    let bundle = format!("/api/v1/audit/{digest}/bundle");
    assert!(
        page.body
            .contains(&format!("<a id=\"bundle\" href=\"{bundle}\" download=")),
        "a bundle download link: {}",
        page.body
    );
    let downloaded = get(&server, &bundle);
    assert_eq!(downloaded.status, 200);
    assert!(serde_json::from_str::<Value>(&downloaded.body).is_ok());

    // The digest form: `b3sum`'s bare hex (and file name) redirects to the same page.
    let hex = digest.strip_prefix("blake3:").unwrap();
    let pasted = get(&server, &format!("/audit?digest={hex}+loan-risk-b.model"));
    assert_eq!(pasted.status, 303);
    assert_eq!(pasted.header("location"), Some(location.as_str()));
    let bad = get(&server, "/audit?digest=blake3%3Anope");
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"digest-form\"") && bad.body.contains("role=\"alert\""));

    // An artifact nothing promoted: 404 with the audit's own words.
    let unknown = format!("blake3:{}", "0".repeat(64));
    let page = get(&server, &format!("/audit/{unknown}"));
    assert_eq!(page.status, 404, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("no accepted decision promoted {unknown}")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"bundle\""));
    assert!(page
        .body
        .contains("data-check=\"promoted\" data-ok=\"false\""));

    // A multipart form post is not the file: refused, the digest form is the way.
    let multipart = send(
        &server,
        "POST",
        "/audit/upload",
        Some("multipart/form-data; boundary=x"),
        Sent::Whole(b"--x\r\n\r\nabc\r\n--x--\r\n"),
    );
    assert_eq!(multipart.status, 415, "{}", multipart.body);
    assert!(multipart.body.contains("b3sum"));
}

#[test]
fn an_upload_over_the_cap_is_refused_and_stores_nothing() {
    let (ledger, server) = demo(&["--max-upload-mib", "1"]);
    let status = |server: &Server| {
        let (code, status) = server.json("/api/v1/status");
        assert_eq!(code, 200);
        status
    };
    let before_status = status(&server);
    let before_files: Vec<_> = files_under(&ledger.path().join("artifacts"));
    let big = vec![7u8; 2 << 20];
    for sent in [Sent::Whole(&big), Sent::Chunked(&big)] {
        let answer = send(
            &server,
            "POST",
            "/audit/upload",
            Some("application/octet-stream"),
            sent,
        );
        assert_eq!(answer.status, 413, "{}", answer.body);
        assert!(answer.header("location").is_none());
        assert!(answer.body.contains("--max-upload-mib"), "{}", answer.body);
    }
    assert_eq!(status(&server), before_status, "the ledger did not change");
    assert_eq!(
        files_under(&ledger.path().join("artifacts")),
        before_files,
        "nothing was stored"
    );
    // Under the cap, the same server hashes it.
    let small = vec![7u8; 1 << 10];
    let answer = send(
        &server,
        "POST",
        "/audit/upload",
        Some("application/octet-stream"),
        Sent::Whole(&small),
    );
    assert_eq!(answer.status, 303);
    let page = get(&server, answer.header("location").unwrap());
    assert_eq!(page.status, 404, "never promoted: {}", page.body);
}

#[test]
fn the_replay_form_lists_what_the_strict_policy_flips_as_the_cli_does() {
    let (ledger, server) = demo(&[]);
    let strict = demo_file(&ledger, "loan-risk-policy-strict.toml");
    let cli = ledger
        .vouch(&["--json", "replay", "--policy", strict.to_str().unwrap()])
        .json();
    let flipped: Vec<String> = cli["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["changed"] == true)
        .map(|d| d["index"].to_string())
        .collect();
    assert!(
        !flipped.is_empty(),
        "the strict policy flips a decision: {cli}"
    );

    let empty = get(&server, "/replay");
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("id=\"replay-form\""));

    let text = std::fs::read_to_string(&strict).unwrap();
    let answer = send(
        &server,
        "POST",
        "/replay",
        Some("application/x-www-form-urlencoded"),
        Sent::Whole(
            form(&[
                ("policy", &text),
                ("model", ""),
                ("since", ""),
                ("until", ""),
            ])
            .as_bytes(),
        ),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let flips = section(&answer.body, "flips", "table");
    assert_eq!(attributes(flips, "data-decision"), flipped, "{flips}");
    assert!(
        flips.contains("promoted") && flips.contains("rejected"),
        "{flips}"
    );
    assert!(
        flips.contains("latency_p95_ms"),
        "the gate that changed: {flips}"
    );

    // A policy that does not parse: the form again, with why, 400.
    let answer = send(
        &server,
        "POST",
        "/replay",
        Some("application/x-www-form-urlencoded"),
        Sent::Whole(form(&[("policy", "this is [not toml")]).as_bytes()),
    );
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("id=\"replay-form\""));
    assert!(answer.body.contains("policy: "), "{}", answer.body);
    assert!(
        answer.body.contains("this is [not toml"),
        "the text is kept"
    );
}

#[test]
fn the_diagnose_page_ranks_findings_as_the_cli_does() {
    let (ledger, server) = demo(&[]);
    let cli = ledger
        .vouch(&["--json", "diagnose", "--model", "loan-risk"])
        .json();
    let expected: Vec<(String, String)> = cli["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["check"].as_str().unwrap().to_owned(),
                f["segment"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        expected[0].1, "region=APAC",
        "the CLI ranks APAC first: {cli}"
    );

    let page = get(&server, "/diagnose/loan-risk");
    assert_eq!(page.status, 200, "{}", page.body);
    let findings = section(&page.body, "findings", "table");
    let rows: Vec<&str> = findings.split("<tr data-rank=").skip(1).collect();
    let shown: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            let row = &row[..row.find('>').unwrap()];
            let check = attributes(row, "data-check").remove(0);
            let segment = attributes(row, "data-segment").pop().unwrap_or_default();
            (check, segment)
        })
        .collect();
    assert_eq!(shown, expected, "same findings, same order");
    assert_eq!(attributes(findings, "data-rank")[0], "1");
    let live = section(&page.body, "live", "section");
    assert!(live.contains("<svg"), "live charts: {live}");
    assert!(
        live.contains("validated 0.851"),
        "APAC's validation line: {live}"
    );

    let unknown = get(&server, "/diagnose/no-such-model");
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let wrong_env = get(&server, "/diagnose/loan-risk?env=nowhere");
    assert_eq!(wrong_env.status, 404, "{}", wrong_env.body);
}

#[test]
fn the_forms_only_read_so_a_read_token_may_post_them() {
    let ledger = TestLedger::uninitialised();
    ledger.vouch(&["demo", "loan-risk"]).ok();
    let tokens = ledger.file(
        "tokens.json",
        br#"{"tokens": [{"name": "auditor", "token": "read-only-token-0123", "scopes": ["read"]}]}"#,
    );
    let server = Server::start(&ledger, &["--tokens", tokens.to_str().unwrap()]);
    let read = Some("read-only-token-0123");
    let model = std::fs::read(demo_file(&ledger, "loan-risk-b.model")).unwrap();
    let octets = Some("application/octet-stream");
    let refused = send(
        &server,
        "POST",
        "/audit/upload",
        octets,
        Sent::Whole(&model),
    );
    assert_eq!(refused.status, 401, "no token: {}", refused.body);
    let answer = send_as(
        &server,
        read,
        "POST",
        "/audit/upload",
        octets,
        Sent::Whole(&model),
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    let page = send_as(
        &server,
        read,
        "GET",
        answer.header("location").unwrap(),
        None,
        Sent::Whole(b""),
    );
    assert_eq!(page.status, 200, "{}", page.body);

    let strict =
        std::fs::read_to_string(demo_file(&ledger, "loan-risk-policy-strict.toml")).unwrap();
    let answer = send_as(
        &server,
        read,
        "POST",
        "/replay",
        Some("application/x-www-form-urlencoded"),
        Sent::Whole(form(&[("policy", &strict)]).as_bytes()),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("id=\"flips\""));
}
