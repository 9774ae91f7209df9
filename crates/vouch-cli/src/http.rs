//! The transport of `vouch --server URL`: a small blocking HTTP/1.1 client for Vouch's own
//! JSON API. One request per connection (`Connection: close`), over std's `TcpStream` with
//! a connect timeout and a read/write timeout, the answer's head parsed by `httparse` (the
//! parser hyper uses, already built for the server), its body read to the end of the
//! connection and capped, chunked bodies decoded. `http://` only: there is no TLS here, so
//! an `https://` URL is refused rather than sent in the clear (put the server behind a
//! TLS-terminating proxy reached over loopback, or use an SSH tunnel).
//!
//! Failures map to exit codes in one place, `Failure::from_http` (`vouch_app::failure`):
//! a server that cannot be reached or does not answer in time is 69, a refused token 77,
//! and otherwise the kind the server names in `{"error", "kind"}`, whose message is shown
//! as the CLI shows local errors.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::exit::{CliError, CliResult, Failure};

/// How long to wait for a connection to the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one read or write may wait: a long `verify` answers only when done.
const IO_TIMEOUT: Duration = Duration::from_secs(600);

/// The largest answer read: an audit bundle at its own cap, plus its JSON framing.
const MAX_RESPONSE_BYTES: u64 = vouch_ledger::MAX_BUNDLE_BYTES + (1 << 20);

/// The largest answer head (status line and headers).
const MAX_HEAD_BYTES: usize = 64 << 10;

/// A Vouch server: where it is and the bearer token to present.
pub struct Server {
    /// `http://host:port` as given, for messages.
    url: String,
    /// `host:port` to connect to and name in `Host`.
    authority: String,
    /// A path the API is mounted under (a proxy's prefix), without a trailing `/`.
    prefix: String,
    token: Option<String>,
}

/// An answer: its status and body.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

fn usage(message: impl std::fmt::Display) -> CliError {
    CliError::new(Failure::Usage, anyhow::anyhow!("{message}"))
}

impl Server {
    /// A server at `url` (`http://HOST[:PORT][/PREFIX]`), presenting `token` if given.
    ///
    /// # Errors
    /// Usage (64) for a URL that is not `http://`, `https://` included.
    pub fn new(url: &str, token: Option<String>) -> CliResult<Server> {
        let trimmed = url.trim_end_matches('/');
        if trimmed.starts_with("https://") {
            return Err(usage(format!(
                "--server {url}: this vouch has no TLS client; use http:// to a server on loopback, behind a TLS-terminating proxy reached locally, or over an SSH tunnel"
            )));
        }
        let Some(rest) = trimmed.strip_prefix("http://") else {
            return Err(usage(format!(
                "--server {url}: expected http://HOST:PORT (as `vouch serve --http` prints)"
            )));
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(usage(format!(
                "--server {url}: expected http://HOST:PORT, without credentials (the token comes from VOUCH_TOKEN)"
            )));
        }
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let authority = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        if let Some(t) = &token {
            if t.chars().any(|c| c.is_control() || c == ' ') {
                return Err(usage("VOUCH_TOKEN holds spaces or control characters"));
            }
        }
        Ok(Server {
            url: trimmed.to_owned(),
            authority,
            prefix: prefix.to_owned(),
            token,
        })
    }

    /// `GET path`; the JSON answer of a 2xx.
    pub fn get(&self, path: &str) -> CliResult<serde_json::Value> {
        let answer = self.request("GET", path, None)?;
        self.json_of(answer, &[])
    }

    /// `POST path` with a JSON body; the JSON answer of a 2xx.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> CliResult<serde_json::Value> {
        let bytes = serde_json::to_vec(body).expect("serializable");
        let answer = self.request("POST", path, Some(("application/json", &bytes)))?;
        self.json_of(answer, &[])
    }

    /// `POST path` with a body of `content_type`; the status and JSON answer of a 2xx or
    /// of one of `also` (an ingest's 422 carries its report).
    pub fn post_bytes(
        &self,
        path: &str,
        content_type: &str,
        bytes: &[u8],
        also: &[u16],
    ) -> CliResult<(u16, serde_json::Value)> {
        let answer = self.request("POST", path, Some((content_type, bytes)))?;
        let status = answer.status;
        Ok((status, self.json_of(answer, also)?))
    }

    /// The JSON of an answer, or the CLI error its status and `{"error", "kind"}` say.
    fn json_of(&self, answer: Answer, also: &[u16]) -> CliResult<serde_json::Value> {
        let parsed = serde_json::from_slice::<serde_json::Value>(&answer.body);
        if (200..300).contains(&answer.status) || also.contains(&answer.status) {
            return parsed.map_err(|e| {
                CliError::new(
                    Failure::Internal,
                    anyhow::anyhow!("the server at {} answered what is not JSON: {e}", self.url),
                )
            });
        }
        let body = parsed.unwrap_or_default();
        let kind = body.get("kind").and_then(|k| k.as_str());
        let failure = Failure::from_http(answer.status, kind);
        let message = match body.get("error").and_then(|e| e.as_str()) {
            Some(m) => m.to_owned(),
            None => format!(
                "the server at {} answered {}: {}",
                self.url,
                answer.status,
                String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)]).trim()
            ),
        };
        Err(CliError::new(failure, anyhow::anyhow!("{message}")))
    }

    /// Sends one request and reads the whole answer.
    ///
    /// # Errors
    /// Unavailable (69) when the server cannot be reached or does not answer in time;
    /// internal (70) for an answer that is not HTTP or is over the cap.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> CliResult<Answer> {
        let unreachable = |e: &dyn std::fmt::Display| {
            CliError::new(
                Failure::Unavailable,
                anyhow::anyhow!("cannot reach the server at {}: {e}", self.url),
            )
        };
        let addrs: Vec<_> = self
            .authority
            .to_socket_addrs()
            .map_err(|e| unreachable(&e))?
            .collect();
        let mut last = None;
        let mut stream = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let Some(mut stream) = stream else {
            return Err(match last {
                Some(e) => unreachable(&e),
                None => unreachable(&"the host name resolves to no address"),
            });
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_nodelay(true);
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/json\r\nUser-Agent: vouch/{}\r\n",
            self.prefix,
            self.authority,
            env!("CARGO_PKG_VERSION")
        );
        if let Some(token) = &self.token {
            head.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let payload: &[u8] = match body {
            Some((content_type, bytes)) => {
                head.push_str(&format!(
                    "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                    bytes.len()
                ));
                bytes
            }
            None => b"",
        };
        head.push_str("\r\n");
        let sent = stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(payload))
            .and_then(|()| stream.flush());
        // A server that refuses the body early (413) may close before reading it all:
        // its answer is still worth reading.
        let mut raw = Vec::new();
        let read = (&mut stream)
            .take(MAX_RESPONSE_BYTES + MAX_HEAD_BYTES as u64 + 1)
            .read_to_end(&mut raw);
        if let Err(e) = read {
            if raw.is_empty() {
                return Err(
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut
                    {
                        unreachable(&format!("no answer within {} s", IO_TIMEOUT.as_secs()))
                    } else {
                        unreachable(&e)
                    },
                );
            }
        }
        if raw.is_empty() {
            if let Err(e) = sent {
                return Err(unreachable(&e));
            }
            return Err(unreachable(&"the connection closed without an answer"));
        }
        parse_answer(&raw).map_err(|why| {
            CliError::new(
                Failure::Internal,
                anyhow::anyhow!("the answer from {} is not usable: {why}", self.url),
            )
        })
    }
}

/// Parses a whole HTTP/1.1 answer read to the end of the connection.
fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("the answer ended inside its head".into()),
        Err(e) => return Err(format!("not an HTTP answer ({e})")),
    };
    if head_len > MAX_HEAD_BYTES {
        return Err("its head is over 64 KiB".into());
    }
    let status = response.code.ok_or("no status")?;
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
    };
    let rest = &raw[head_len..];
    let body = if header("transfer-encoding").is_some_and(|t| t.ends_with("chunked")) {
        dechunk(rest)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length.parse().map_err(|_| "a bad Content-Length")?;
        if rest.len() < length {
            return Err(format!(
                "the body ended after {} of {length} bytes",
                rest.len()
            ));
        }
        rest[..length].to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() as u64 > MAX_RESPONSE_BYTES {
        return Err(format!("its body is over {MAX_RESPONSE_BYTES} bytes"));
    }
    Ok(Answer { status, body })
}

/// Decodes a chunked body.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk without its size line")?;
        let line = std::str::from_utf8(&rest[..end]).map_err(|_| "a bad chunk size")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| "a bad chunk size")?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("the body ended inside a chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Percent-encodes a path segment or query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs (`?a=1&b=2`), empty when there are none.
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let parts: Vec<String> = pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_whole_chunked_or_by_length() {
        let a = parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"{}"[..]));
        let a = parse_answer(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=1\r\n\":1}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((a.status, a.body.as_slice()), (404, &b"{\"a\":1}"[..]));
        assert!(parse_answer(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}").is_err());
        assert!(parse_answer(b"SSH-2.0-OpenSSH\r\n").is_err());
    }

    #[test]
    fn urls_are_http_only() {
        assert!(Server::new("http://127.0.0.1:5000/", None).is_ok());
        let s = Server::new("http://example.org/vouch", None).unwrap();
        assert_eq!(
            (s.authority.as_str(), s.prefix.as_str()),
            ("example.org:80", "/vouch")
        );
        let s = Server::new("http://[::1]:5000", None).unwrap();
        assert_eq!(s.authority, "[::1]:5000");
        for bad in ["https://x:1", "x:1", "http://u:p@x:1", "http://"] {
            let e = Server::new(bad, None).err().unwrap();
            assert_eq!(e.failure.code(), 64, "{bad}");
        }
        assert_eq!(
            query([("run", "a b"), ("where", "auc>0.8")]),
            "?run=a%20b&where=auc%3E0.8"
        );
    }
}
