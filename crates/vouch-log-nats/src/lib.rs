//! The NATS JetStream log: Vouch's log contract on one JetStream stream, so several machines
//! can share a ledger through a server instead of one sled directory.
//!
//! Mapping. One stream (default `VOUCH`) captures `<prefix>.>` (default `vouch.>`). A record
//! is one message: subject `<prefix>.<LogKey>` (a key's dot-separated tokens are valid subject
//! tokens), header `Nats-Msg-Id` = event id, payload = the record's bytes exactly. A record's
//! position is its stream sequence, which JetStream assigns 1, 2, 3 … with no gaps as long as
//! nothing is ever removed, hence the stream settings [`NatsLog::connect`] insists on
//! (`deny_delete`, `deny_purge`, no rollups, no limits: see `check.rs`).
//!
//! Dedup is JetStream's: within the stream's duplicate window (2 minutes when this crate
//! creates the stream) a second publish with the same `Nats-Msg-Id` is acknowledged as a
//! duplicate with the original sequence. The server compares ids only, so the backend reads
//! the stored message back and refuses one with another subject or payload as
//! [`LogError::IdConflict`]: one event id names one content. Conditional appends use the
//! server's `Nats-Expected-Last-Subject-Sequence` check, so the compare-and-swap happens
//! where the sequence is assigned, with no lock and no race between processes.
//!
//! The [`Log`] trait is synchronous; the backend owns a small tokio runtime (one worker
//! thread, which keeps the connection alive between calls: it answers server pings and
//! reconnects) and blocks on it. Consequently a `NatsLog` must not be used, nor dropped, from
//! inside an async task: call it from ordinary threads or `spawn_blocking`.
//!
//! Permissions. A server may forbid a user to publish on some subjects (deploy/nats/auth.conf:
//! pipelines may not publish on the decision chain). It drops such a publish and reports it
//! only as an asynchronous `-ERR 'Permissions Violation for Publish to "<subject>"'` on the
//! connection; the publish's ack never comes. The client's event callback forwards those
//! subjects to every append waiting for an ack, which then fails at once with
//! [`LogError::PermissionDenied`] instead of waiting out the timeout as if the server were
//! down.
//!
//! Architecture invariant: only this crate (among the log backends) imports `async_nats`.
#![deny(missing_docs)]

mod check;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy},
    context::{PublishAckFuture, PublishErrorKind},
    message::PublishMessage,
    publish::PublishAck,
    stream::{self, DiscardPolicy, LastRawMessageErrorKind, RetentionPolicy, StorageType},
    ErrorCode,
};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};

/// Publishes whose acks may be outstanding at once in one `append_batch`. Pipelining hides
/// the round trip (one ack per record would cap a batch at one record per RTT); the bound
/// keeps memory and the server's inbound queue in check.
const ACK_WINDOW: usize = 256;

/// Messages asked of the server per pull request while reading.
const FETCH_CHUNK: usize = 1024;

/// How long a read waits for records the stream's state says exist before calling them
/// missing.
const FETCH_WAIT: Duration = Duration::from_secs(2);

/// Deduplicated records compared with the stored ones at once (one request each).
const STORED_CHECKS: usize = 64;

/// Records per `read` while `find` scans the stream.
const SCAN_CHUNK: usize = 4096;

/// Refused publishes buffered for each waiting append. A waiter needs only the first one
/// for its subjects; one that falls further behind waits for its ack (or the timeout).
const DENIALS_BUFFER: usize = 64;

/// The duplicate window of a stream this crate creates. Retries within it are deduplicated
/// by the server; older retries are caught by the views' event-id index (see [`NatsLog`]).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// How to reach the server and which stream holds the log.
#[derive(Clone)]
pub struct NatsOptions {
    /// Server URL(s), comma-separated (`nats://host:4222`, `tls://host:4222`).
    pub url: String,
    /// The stream's name (default `VOUCH`).
    pub stream: String,
    /// The subject prefix: records go to `<prefix>.<key>` (default `vouch`).
    pub prefix: String,
    /// Replicas when the stream is created (1, or 3 in a cluster); an existing stream
    /// with fewer is refused.
    pub replicas: usize,
    /// A `.creds` file (user JWT and NKey seed).
    pub credentials_file: Option<PathBuf>,
    /// User name and password.
    pub user_password: Option<(String, String)>,
    /// An authentication token.
    pub token: Option<String>,
    /// Refuse to talk to the server without TLS.
    pub tls_required: bool,
    /// A PEM file of CA certificates to trust besides the system's.
    pub root_certificates: Option<PathBuf>,
    /// Bound on connecting and on each server round trip (API request, publish ack).
    pub timeout: Duration,
    /// Create the stream when it does not exist (`vouch init`, `vouch migrate`). Other
    /// commands refuse a missing stream rather than create one with the wrong replicas.
    pub create: bool,
}

impl NatsOptions {
    /// Options for `url` with the defaults: stream `VOUCH`, prefix `vouch`, one replica, no
    /// credentials, TLS only if the server asks, 10 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        NatsOptions {
            url: url.into(),
            stream: "VOUCH".to_owned(),
            prefix: "vouch".to_owned(),
            replicas: 1,
            credentials_file: None,
            user_password: None,
            token: None,
            tls_required: false,
            root_certificates: None,
            timeout: Duration::from_secs(10),
            create: true,
        }
    }
}

/// Secrets stay out of logs and error reports.
impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &self.url)
            .field("stream", &self.stream)
            .field("prefix", &self.prefix)
            .field("replicas", &self.replicas)
            .field("credentials_file", &self.credentials_file)
            .field(
                "user_password",
                &self
                    .user_password
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tls_required", &self.tls_required)
            .field("root_certificates", &self.root_certificates)
            .field("timeout", &self.timeout)
            .field("create", &self.create)
            .finish()
    }
}

/// Why the NATS log could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// An option is unusable.
    #[error("invalid NATS log option: {0}")]
    InvalidOption(String),
    /// The runtime that drives the client could not start.
    #[error("cannot start the NATS client runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The credentials file could not be read.
    #[error("cannot read NATS credentials file {path}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to NATS at {url}")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The stream does not exist and the options say not to create it.
    #[error(
        "no JetStream stream `{stream}` on {url}: point --nats at the server that has it, or create \
         it with `vouch init --nats {url} --stream {stream}` (a new stream is another log: a \
         directory whose views came from the one that is gone adopts it with `vouch rebuild`)"
    )]
    MissingStream {
        /// The stream.
        stream: String,
        /// The server URL(s).
        url: String,
    },
    /// The stream could not be looked up or created.
    #[error("cannot provision JetStream stream `{stream}`: {reason}")]
    Provision {
        /// The stream.
        stream: String,
        /// Why.
        reason: String,
    },
    /// The server refused to create the stream (its subjects belong to another stream, an
    /// account limit, a user without the right to create streams): a configuration
    /// problem, not an outage.
    #[error("the server refused to create JetStream stream `{stream}`: {reason}")]
    Refused {
        /// The stream.
        stream: String,
        /// The server's reason.
        reason: String,
    },
    /// The stream exists but its configuration breaks the log's promises; it is left as is.
    #[error("JetStream stream `{stream}` is unsafe for a Vouch log: {}", problems.join("; "))]
    UnsafeStream {
        /// The stream.
        stream: String,
        /// Every broken promise.
        problems: Vec<String>,
    },
}

impl NatsError {
    /// Whether the server refused these credentials (a wrong user, password, token or
    /// credentials file): retrying will not help.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            NatsError::Connect { source, .. } if matches!(
                source.kind(),
                async_nats::ConnectErrorKind::AuthorizationViolation
                    | async_nats::ConnectErrorKind::Authentication
            )
        )
    }
}

/// The log on a JetStream stream.
///
/// Dedup: the server deduplicates event ids within the stream's duplicate window only
/// ([`DUPLICATE_WINDOW`] for a stream created here). A retry older than the window is
/// written again at a new position; the projector's event-id index recognises it and
/// applies it once, so views stay exact, but the log holds both copies.
///
/// Durability: an acknowledged publish is in the stream (on a quorum of replicas in a
/// cluster); whether it is also fsynced depends on the server's `sync_interval` setting
/// (default: every 2 minutes), so [`Log::flush`] has nothing more to do.
pub struct NatsLog {
    js: jetstream::Context,
    client: async_nats::Client,
    stream: stream::Stream,
    stream_name: String,
    /// `<prefix>.`, stripped from subjects to recover keys.
    subject_prefix: String,
    timeout: Duration,
    /// Subjects the server refused this connection's publishes to, as they are reported.
    denials: Denials,
    /// The read consumer of the last forward read and the position it continues at: a
    /// follower reading on from where it stopped reuses it instead of creating one per read.
    reader: std::sync::Mutex<Option<Reader>>,
    /// Last, so the handles above are dropped before the tasks that serve them stop.
    runtime: tokio::runtime::Runtime,
}

/// A read consumer positioned at `next`.
struct Reader {
    consumer: jetstream::consumer::PullConsumer,
    next: u64,
}

impl Drop for NatsLog {
    fn drop(&mut self) {
        let reader = self.reader.get_mut().map(Option::take).unwrap_or(None);
        if let Some(reader) = reader {
            let name = reader.consumer.cached_info().name.clone();
            let (js, stream) = (self.js.clone(), self.stream_name.clone());
            // Best effort: the server drops an idle consumer after a minute anyway.
            let _ = self.runtime.block_on(async move {
                tokio::time::timeout(
                    Duration::from_secs(1),
                    js.delete_consumer_from_stream(&name, &stream),
                )
                .await
            });
        }
    }
}

impl fmt::Debug for NatsLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsLog")
            .field("stream", &self.stream_name)
            .field("subject_prefix", &self.subject_prefix)
            .finish_non_exhaustive()
    }
}

impl NatsLog {
    /// Connects to the server and makes sure the stream exists and keeps the log's promises:
    /// creates it if absent; if present, checks it and refuses it with
    /// [`NatsError::UnsafeStream`] if any setting could lose, reorder or renumber records.
    /// An existing stream is never modified.
    ///
    /// # Errors
    /// See [`NatsError`].
    pub fn connect(options: &NatsOptions) -> Result<NatsLog, NatsError> {
        if let Some(why) = reserved_prefix(&options.prefix) {
            return Err(NatsError::InvalidOption(format!(
                "prefix `{}` is reserved: {why}; choose another (the default is `vouch`)",
                options.prefix
            )));
        }
        if LogKey::new(options.prefix.clone()).is_err() {
            return Err(NatsError::InvalidOption(format!(
                "prefix `{}` must be dot-separated tokens of A-Z a-z 0-9 _ -",
                options.prefix
            )));
        }
        let name_ok = !options.stream.is_empty()
            && options
                .stream
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(NatsError::InvalidOption(format!(
                "stream name `{}` must be letters, digits, _ and -",
                options.stream
            )));
        }
        if !(1..=5).contains(&options.replicas) {
            return Err(NatsError::InvalidOption(format!(
                "replicas must be 1 to 5, not {}",
                options.replicas
            )));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("vouch-nats")
            .enable_all()
            .build()
            .map_err(NatsError::Runtime)?;
        let denials = Denials::new();
        let (client, js, stream) = runtime.block_on(async {
            let mut denied = denials.subscribe();
            let client = connect_client(options, denials.clone()).await?;
            let js = jetstream::ContextBuilder::new()
                .timeout(options.timeout)
                .max_ack_inflight(ACK_WINDOW * 16)
                .backpressure_on_inflight(true)
                .build(client.clone());
            let stream = ensure_stream(&js, options, &mut denied).await?;
            Ok::<_, NatsError>((client, js, stream))
        })?;
        Ok(NatsLog {
            js,
            client,
            stream,
            stream_name: options.stream.clone(),
            subject_prefix: format!("{}.", options.prefix),
            timeout: options.timeout,
            denials,
            reader: std::sync::Mutex::new(None),
            runtime,
        })
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    fn subject(&self, key: &LogKey) -> String {
        format!("{}{}", self.subject_prefix, key.as_str())
    }

    /// Runs `future` on the runtime, bounded by the options' timeout.
    fn block<T>(
        &self,
        what: &str,
        future: impl Future<Output = Result<T, LogError>>,
    ) -> Result<T, LogError> {
        self.runtime.block_on(within(self.timeout, what, future))
    }

    /// Refuses what cannot be published faithfully, before anything is sent: an event id
    /// that is not a clean header value (it would be altered or split), and a record over
    /// the server's message size (payload plus headers).
    fn check_record(&self, record: &NewRecord, extra_headers: usize) -> Result<(), LogError> {
        let id = &record.event_id;
        let clean = !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic());
        if !clean {
            return Err(LogError::Storage(format!(
                "event id {id:?} cannot be a Nats-Msg-Id header: it must be non-empty printable \
                 ASCII without spaces"
            )));
        }
        let max_payload = self.client.max_payload();
        // "NATS/1.0\r\n" + "Nats-Msg-Id: <id>\r\n" + other headers + "\r\n".
        let headers = 10 + "Nats-Msg-Id".len() + 2 + id.len() + 2 + extra_headers + 2;
        let limit = max_payload.saturating_sub(headers);
        if max_payload > 0 && record.bytes.len() > limit {
            return Err(LogError::TooLarge {
                event_id: id.clone(),
                size: record.bytes.len(),
                limit,
            });
        }
        Ok(())
    }

    /// Turns a delivered message into a record, checking it is at `expected`.
    fn decode(&self, message: &jetstream::Message, expected: u64) -> Result<Record, LogError> {
        let corrupt = |reason: String| LogError::Corrupt {
            position: Position::new(expected),
            reason,
        };
        let info = message
            .info()
            .map_err(|e| corrupt(format!("delivery metadata does not parse: {e}")))?;
        let sequence = info.stream_sequence;
        if sequence != expected {
            return Err(corrupt(format!(
                "record {expected} is missing: the stream continues at {sequence}"
            )));
        }
        // Anyone with publish rights can put a message on the stream. One without an id or
        // with a subject that is not a log key is still a record (it has a sequence); it gets
        // an empty event id, which the projector quarantines, and the key `unkeyed`.
        let subject = message.subject.as_str();
        let key = subject
            .strip_prefix(&self.subject_prefix)
            .and_then(|k| LogKey::new(k).ok());
        let event_id = match (&key, message.headers.as_ref()) {
            (Some(_), Some(headers)) => headers
                .get(async_nats::header::NATS_MESSAGE_ID)
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let key = key.unwrap_or_else(|| LogKey::new("unkeyed").expect("valid key"));
        Ok(Record {
            position: Position::new(sequence),
            event_id,
            key,
            bytes: message.payload.to_vec(),
        })
    }

    /// Reads by sequence through an ephemeral pull consumer (no acks, in-memory state),
    /// fetching in chunks without waiting: the server sends what it has and says when
    /// there is no more. Bounded by the stream's last sequence read first, so a read of an
    /// up-to-date log costs one round trip and creates no consumer.
    async fn read_async(&self, start: u64, max: usize) -> Result<Vec<Record>, LogError> {
        let last = within(self.timeout, "reading the stream's state", async {
            let info =
                self.stream.get_info().await.map_err(|e| {
                    classify(&e, format!("stream `{}` info: {e}", self.stream_name))
                })?;
            Ok(info.state.last_sequence)
        })
        .await?;
        if start > last {
            return Ok(Vec::new());
        }
        let want = usize::try_from(last - start + 1).map_or(max, |n| n.min(max));
        // Reading on from where the last read stopped: reuse its consumer.
        let cached = self.reader.lock().expect("not poisoned").take();
        let consumer = match cached {
            Some(reader) if reader.next == start => reader.consumer,
            other => {
                if let Some(stale) = other {
                    self.delete_consumer_later(stale.consumer.cached_info().name.clone());
                }
                self.create_reader(start).await?
            }
        };
        let result = self.fetch_records(&consumer, start, want).await;
        match &result {
            Ok(records) => {
                *self.reader.lock().expect("not poisoned") = Some(Reader {
                    consumer,
                    next: start + records.len() as u64,
                });
            }
            // Where the consumer stands after a failed fetch is unknown: start afresh.
            Err(_) => self.delete_consumer_later(consumer.cached_info().name.clone()),
        }
        result
    }

    async fn create_reader(
        &self,
        start: u64,
    ) -> Result<jetstream::consumer::PullConsumer, LogError> {
        within(self.timeout, "creating a read consumer", async {
            self.stream
                .create_consumer(pull::Config {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: start,
                    },
                    ack_policy: AckPolicy::None,
                    inactive_threshold: Duration::from_secs(60),
                    memory_storage: true,
                    num_replicas: 1,
                    ..Default::default()
                })
                .await
                .map_err(|e| classify(&e, format!("creating a read consumer: {e}")))
        })
        .await
    }

    async fn fetch_records(
        &self,
        consumer: &jetstream::consumer::PullConsumer,
        start: u64,
        want: usize,
    ) -> Result<Vec<Record>, LogError> {
        let mut records = Vec::with_capacity(want.min(FETCH_CHUNK));
        let mut next = start;
        while records.len() < want {
            let chunk = (want - records.len()).min(FETCH_CHUNK);
            // Not a no-wait fetch: the stream's state can already count a message the
            // consumer has not been told of yet (a read right after an append), and a
            // no-wait fetch then answers "nothing" for a record that exists. Every record
            // asked for is at or below the last sequence, so the server answers as soon as
            // they are delivered; only a real gap waits out FETCH_WAIT.
            let mut batch = within(self.timeout, "requesting records", async {
                consumer
                    .batch()
                    .max_messages(chunk)
                    .expires(FETCH_WAIT)
                    .messages()
                    .await
                    .map_err(|e| classify(&e, format!("requesting records from {next}: {e}")))
            })
            .await?;
            let before = records.len();
            while let Some(message) = within(self.timeout, "receiving records", async {
                Ok(batch.next().await)
            })
            .await?
            {
                let message = message
                    .map_err(|e| LogError::Storage(format!("reading record {next}: {e}")))?;
                records.push(self.decode(&message, next)?);
                next += 1;
            }
            if records.len() == before {
                return Err(LogError::Corrupt {
                    position: Position::new(next),
                    reason: format!(
                        "record {next} is missing: the stream's last sequence is at least {}",
                        start + want as u64 - 1
                    ),
                });
            }
        }
        Ok(records)
    }
}

/// Connects with the options' authentication and TLS settings.
impl NatsLog {
    /// The position of the record with `event_id` among the records on `subject` after
    /// sequence `after`, read through a filtered, headers-only consumer: the cost is the
    /// number of such records, not the log's length.
    async fn find_on_subject(
        &self,
        subject: &str,
        after: u64,
        event_id: &str,
    ) -> Result<Option<Position>, LogError> {
        let consumer = within(self.timeout, "creating a search consumer", async {
            self.stream
                .create_consumer(pull::Config {
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: after + 1,
                    },
                    filter_subject: subject.to_owned(),
                    headers_only: true,
                    ack_policy: AckPolicy::None,
                    inactive_threshold: Duration::from_secs(60),
                    memory_storage: true,
                    num_replicas: 1,
                    ..Default::default()
                })
                .await
                .map_err(|e| classify(&e, format!("creating a search consumer: {e}")))
        })
        .await?;
        let result = async {
            loop {
                let mut batch = within(self.timeout, "searching a key", async {
                    consumer
                        .fetch()
                        .max_messages(FETCH_CHUNK)
                        .messages()
                        .await
                        .map_err(|e| classify(&e, format!("searching `{subject}`: {e}")))
                })
                .await?;
                let mut seen = 0;
                while let Some(message) = within(self.timeout, "searching a key", async {
                    Ok(batch.next().await)
                })
                .await?
                {
                    let message = message
                        .map_err(|e| LogError::Storage(format!("searching `{subject}`: {e}")))?;
                    seen += 1;
                    let id = message
                        .headers
                        .as_ref()
                        .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID));
                    if id.is_some_and(|id| id.as_str() == event_id) {
                        let info = message.info().map_err(|e| {
                            LogError::Storage(format!("searching `{subject}`: {e}"))
                        })?;
                        return Ok(Some(Position::new(info.stream_sequence)));
                    }
                }
                if seen < FETCH_CHUNK {
                    return Ok(None);
                }
            }
        }
        .await;
        self.delete_consumer_later(consumer.cached_info().name.clone());
        result
    }

    /// Checks that the record stored at `position`, which the server says carries
    /// `event_id`, was published to `subject` with exactly `payload`: one event id names
    /// one content, so a record that differs is [`LogError::IdConflict`], not a duplicate.
    async fn check_stored(
        &self,
        position: Position,
        event_id: &str,
        subject: &str,
        payload: &[u8],
    ) -> Result<(), LogError> {
        let stored = within(self.timeout, "reading a deduplicated record", async {
            self.stream
                .get_raw_message(position.get())
                .await
                .map_err(|e| classify(&e, format!("reading record {position}: {e}")))
        })
        .await?;
        if stored.subject.as_str() == subject && stored.payload.as_ref() == payload {
            Ok(())
        } else {
            Err(LogError::IdConflict {
                event_id: event_id.to_owned(),
                position,
            })
        }
    }

    /// Deletes a consumer of ours in the background (best effort: an unused one also
    /// expires on its own after its inactive threshold).
    fn delete_consumer_later(&self, name: String) {
        let (js, stream) = (self.js.clone(), self.stream_name.clone());
        self.runtime.spawn(async move {
            if let Err(e) = js.delete_consumer_from_stream(&name, &stream).await {
                tracing::debug!(consumer = %name, error = %e, "could not delete a consumer");
            }
        });
    }
}

async fn connect_client(
    options: &NatsOptions,
    denials: Denials,
) -> Result<async_nats::Client, NatsError> {
    let mut connect = async_nats::ConnectOptions::new()
        .name("vouch")
        .connection_timeout(options.timeout)
        .request_timeout(Some(options.timeout))
        .require_tls(options.tls_required)
        .event_callback(move |event| {
            if let Some(subject) = refused_publish(&event) {
                tracing::debug!(%subject, "the server refused a publish");
                denials.report(subject);
            }
            std::future::ready(())
        });
    if let Some(path) = &options.credentials_file {
        // Read it here: async-nats rewraps a read error, and "no such file" must stay one;
        // and by `vouch_files`' rules, so a FIFO or a huge file is refused, not read.
        const CREDENTIALS_FILE: vouch_files::FileKind =
            vouch_files::FileKind::new("NATS credentials file", 64 << 10);
        let text = vouch_files::read_to_string(path, CREDENTIALS_FILE).map_err(|source| {
            NatsError::Credentials {
                path: path.clone(),
                source,
            }
        })?;
        connect = connect
            .credentials(&text)
            .map_err(|source| NatsError::Credentials {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, source),
            })?;
    }
    if let Some((user, password)) = &options.user_password {
        connect = connect.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &options.token {
        connect = connect.token(token.clone());
    }
    if let Some(path) = &options.root_certificates {
        connect = connect.add_root_certificates(path.clone());
    }
    // A comma-separated list names several servers of one cluster: the client picks one
    // and fails over to the others (and to any the cluster gossips).
    let servers = parse_servers(&options.url)?;
    connect
        .connect(servers)
        .await
        .map_err(|source| NatsError::Connect {
            url: options.url.clone(),
            source,
        })
}

/// The servers of a (comma-separated) URL list. A URL with a user or password in it is
/// refused: the URL is recorded in `ledger.json` and printed in errors, so secrets belong
/// in the credentials options.
fn parse_servers(urls: &str) -> Result<Vec<async_nats::ServerAddr>, NatsError> {
    let mut servers = Vec::new();
    for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let shown = redact(url);
        let server = url.parse::<async_nats::ServerAddr>().map_err(|e| {
            NatsError::InvalidOption(format!(
                "`{shown}` is not a NATS server URL ({e}); expected nats://host:4222, \
                 tls://host:4222 or host:4222, comma-separated for a cluster"
            ))
        })?;
        if server.has_user_pass() {
            return Err(NatsError::InvalidOption(format!(
                "`{shown}` carries credentials in the URL, where they would be recorded in \
                 ledger.json and printed in errors: use VOUCH_NATS_USER and \
                 VOUCH_NATS_PASSWORD, VOUCH_NATS_TOKEN or --nats-creds instead"
            )));
        }
        servers.push(server);
    }
    if servers.is_empty() {
        return Err(NatsError::InvalidOption("no NATS server URL given".into()));
    }
    Ok(servers)
}

/// `url` with anything between `://` and `@` masked.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme + 3 => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        (None, Some(at)) => format!("***@{}", &url[at + 1..]),
        _ => url.to_owned(),
    }
}

/// Why the subjects under `prefix` belong to NATS itself, if they do: a stream capturing
/// them would swallow replies (every request's answer, JetStream's included) or system
/// traffic, and the log would fill with messages that are not records.
fn reserved_prefix(prefix: &str) -> Option<&'static str> {
    let first = prefix.split('.').next().unwrap_or_default();
    if first.starts_with('$') {
        Some("subjects starting with `$` belong to the server ($JS, $SYS, $KV …)")
    } else if first == "_INBOX" {
        Some("`_INBOX.>` is where NATS clients receive replies")
    } else if first == "_R_" || first == "_GR_" {
        Some("the server routes replies across accounts and gateways on `_R_.>` and `_GR_.>`")
    } else {
        None
    }
}

/// Whether a publish failed its expected-last-sequence condition. A clustered stream
/// answers with code 10164 (no sequence in the text) where a single server answers 10071,
/// and async-nats only names the latter; both mean the same conflict.
fn is_wrong_last_sequence(error: &async_nats::jetstream::context::PublishError) -> bool {
    if error.kind() == PublishErrorKind::WrongLastSequence {
        return true;
    }
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<async_nats::jetstream::Error>())
        .is_some_and(|e| e.error_code() == ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT)
}

/// The configuration a stream created by this crate has.
fn stream_config(options: &NatsOptions) -> stream::Config {
    stream::Config {
        name: options.stream.clone(),
        description: Some("Vouch evidence log".to_owned()),
        subjects: vec![format!("{}.>", options.prefix)],
        storage: StorageType::File,
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::Old,
        num_replicas: options.replicas,
        deny_delete: true,
        deny_purge: true,
        allow_rollup: false,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: Duration::ZERO,
        max_bytes: -1,
        max_messages: -1,
        max_messages_per_subject: -1,
        max_consumers: -1,
        ..Default::default()
    }
}

/// Finds or creates the stream, then checks what the server reports, so a stream created
/// concurrently by someone else (or adjusted by the server) is checked too.
async fn ensure_stream(
    js: &jetstream::Context,
    options: &NatsOptions,
    denied: &mut broadcast::Receiver<String>,
) -> Result<stream::Stream, NatsError> {
    let provision = |reason: String| NatsError::Provision {
        stream: options.stream.clone(),
        reason,
    };
    let mut stream = match js.get_stream(&options.stream).await {
        Ok(stream) => stream,
        Err(e) if is_stream_not_found(&e) && !options.create => {
            return Err(NatsError::MissingStream {
                stream: options.stream.clone(),
                url: options.url.clone(),
            })
        }
        Err(e) if is_stream_not_found(&e) => {
            // A user without the right to create streams (deploy/nats/auth.conf gives it
            // to the admin only) gets no answer, only a violation on the connection: say
            // so now rather than time out as if the server were down.
            let created = unless_denied(js.create_stream(stream_config(options)), denied, |s| {
                s.starts_with("$JS.API.STREAM.CREATE.")
            })
            .await
            .map_err(|subject| NatsError::Refused {
                stream: options.stream.clone(),
                reason: format!(
                    "permission denied: these credentials may not publish to `{subject}`; \
                     create the stream as the admin user"
                ),
            })?;
            match created {
                Ok(stream) => {
                    tracing::info!(stream = %options.stream, "created JetStream stream");
                    stream
                }
                // Lost a race with another creator: check theirs.
                Err(create) => match js.get_stream(&options.stream).await {
                    Ok(stream) => stream,
                    Err(_) => {
                        return Err(match create.kind() {
                            // The server answered and said no (subjects taken by another
                            // stream, limits): waiting will not help.
                            jetstream::context::CreateStreamErrorKind::JetStream(e) => {
                                NatsError::Refused {
                                    stream: options.stream.clone(),
                                    reason: e.to_string(),
                                }
                            }
                            _ => provision(format!("creating the stream failed: {create}")),
                        });
                    }
                },
            }
        }
        Err(e) => return Err(provision(format!("looking up the stream failed: {e}"))),
    };
    let info = stream
        .info()
        .await
        .map_err(|e| provision(format!("reading the stream's configuration failed: {e}")))?;
    let problems = check::problems(&info.config, &options.prefix, options.replicas);
    if problems.is_empty() {
        Ok(stream)
    } else {
        Err(NatsError::UnsafeStream {
            stream: options.stream.clone(),
            problems,
        })
    }
}

fn is_stream_not_found(error: &jetstream::context::GetStreamError) -> bool {
    matches!(
        error.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(e)
            if e.error_code() == ErrorCode::STREAM_NOT_FOUND
    )
}

/// Bounds `future` by `timeout`; running out means the server is not answering.
async fn within<T>(
    timeout: Duration,
    what: &str,
    future: impl Future<Output = Result<T, LogError>>,
) -> Result<T, LogError> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| {
            Err(LogError::Unavailable(format!(
                "{what}: no answer from NATS within {timeout:?}"
            )))
        })
}

/// `Unavailable` when the error (or one of its causes) says the server did not answer or
/// nothing serves the stream right now (a retry may succeed); `Storage` otherwise.
fn classify(error: &(dyn std::error::Error + 'static), context: String) -> LogError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        let unreachable = if let Some(e) = e.downcast_ref::<jetstream::context::RequestError>() {
            use jetstream::context::RequestErrorKind as K;
            matches!(e.kind(), K::TimedOut | K::NoResponders)
        } else if let Some(e) = e.downcast_ref::<jetstream::context::PublishError>() {
            matches!(
                e.kind(),
                PublishErrorKind::TimedOut
                    | PublishErrorKind::BrokenPipe
                    | PublishErrorKind::StreamNotFound
            )
        } else if let Some(e) = e.downcast_ref::<stream::ConsumerError>() {
            matches!(e.kind(), stream::ConsumerErrorKind::TimedOut)
        } else if let Some(e) = e.downcast_ref::<async_nats::RequestError>() {
            use async_nats::RequestErrorKind as K;
            matches!(e.kind(), K::TimedOut | K::NoResponders)
        } else if let Some(e) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind as K;
            matches!(
                e.kind(),
                K::TimedOut | K::BrokenPipe | K::ConnectionReset | K::NotConnected
            )
        } else {
            false
        };
        if unreachable {
            return LogError::Unavailable(context);
        }
        cause = e.source();
    }
    LogError::Storage(context)
}

/// One publish's outcome as the contract names it.
fn appended(ack: PublishAck, event_id: &str) -> Result<Appended, LogError> {
    if ack.sequence == 0 {
        return Err(LogError::Storage(format!(
            "append of `{event_id}` was acknowledged without a position (duplicate still in \
             flight?); retry"
        )));
    }
    let position = Position::new(ack.sequence);
    Ok(if ack.duplicate {
        Appended::Duplicate(position)
    } else {
        Appended::New(position)
    })
}

fn publish_failed(error: &jetstream::context::PublishError, event_id: &str) -> LogError {
    classify(error, format!("append of `{event_id}` failed: {error}"))
}

/// A refused publish: the server dropped it, so nothing was stored under `subject`.
fn publish_denied(subject: &str, event_id: &str) -> LogError {
    LogError::PermissionDenied(format!(
        "append of `{event_id}` refused: the server denies these credentials publishing to \
         `{subject}`, so it was not stored (see deploy/README.md, \"Who may write what\")"
    ))
}

/// Subjects of the publishes the server refused on one connection, fanned out to every
/// append waiting for an ack. Why a broadcast: the server names only the subject, not the
/// message, and a refusal for a subject concerns every publish to it (permissions belong
/// to the connection's user), so every waiter with a publish to that subject may stop.
#[derive(Clone)]
struct Denials(broadcast::Sender<String>);

impl Denials {
    fn new() -> Self {
        Denials(broadcast::channel(DENIALS_BUFFER).0)
    }

    /// Listens for refusals from now on: take it before publishing, or one may be missed.
    fn subscribe(&self) -> broadcast::Receiver<String> {
        self.0.subscribe()
    }

    fn report(&self, subject: String) {
        // No receiver means nobody is waiting for an ack: nothing to tell.
        let _ = self.0.send(subject);
    }
}

/// The subject of a refused publish, from the server's
/// `-ERR 'Permissions Violation for Publish to "<subject>"'`; `None` for any other event.
fn refused_publish(event: &async_nats::Event) -> Option<String> {
    const PREFIX: &str = "permissions violation for publish to ";
    let async_nats::Event::ServerError(async_nats::ServerError::Other(text)) = event else {
        return None;
    };
    let head = text.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let rest = text[PREFIX.len()..].trim();
    let subject = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(rest);
    Some(subject.to_owned())
}

/// Runs `future` unless the server first refuses a publish to a subject `ours` accepts;
/// then `Err` with that subject. An outcome that is ready wins over a refusal (`biased`):
/// if the ack came, the record is stored whatever else was refused.
async fn unless_denied<T>(
    future: impl Future<Output = T>,
    denied: &mut broadcast::Receiver<String>,
    ours: impl Fn(&str) -> bool,
) -> Result<T, String> {
    let mut future = std::pin::pin!(future);
    loop {
        tokio::select! {
            biased;
            output = &mut future => return Ok(output),
            refusal = denied.recv() => match refusal {
                Ok(subject) if ours(&subject) => return Err(subject),
                // Another caller's refusal, or refusals missed: the ack or its timeout decides.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(future.await),
            },
        }
    }
}

/// Awaits one ack of a batch whose publishes went to `subjects` (with event ids `ids`); a
/// refused publish to any of them fails the batch, naming the first record sent there.
async fn await_ack(
    future: PublishAckFuture,
    event_id: &str,
    subjects: &[String],
    ids: &[String],
    denied: &mut broadcast::Receiver<String>,
) -> Result<Appended, LogError> {
    let ours = |s: &str| subjects.iter().any(|x| x == s);
    match unless_denied(future.into_future(), denied, ours).await {
        Ok(ack) => appended(ack.map_err(|e| publish_failed(&e, event_id))?, event_id),
        Err(subject) => {
            let id = subjects
                .iter()
                .position(|x| *x == subject)
                .and_then(|i| ids.get(i))
                .map_or(event_id, String::as_str);
            Err(publish_denied(&subject, id))
        }
    }
}

impl Log for NatsLog {
    /// Publishes every record with its event id as `Nats-Msg-Id`, keeping up to
    /// [`ACK_WINDOW`] acks in flight, and returns once every ack is in. Not atomic: on an
    /// error a prefix may be stored; a retry with the same ids within the duplicate window
    /// deduplicates it. Repeated ids inside the batch are resolved here, not sent twice.
    ///
    /// One event id names one content: a record the server acknowledges as a duplicate is
    /// compared with the stored one, and a repeated id inside the batch with its first
    /// occurrence; any difference fails the batch with [`LogError::IdConflict`] (the other
    /// records are stored, as after any failure of a batch).
    fn append_batch(&self, records: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        for record in &records {
            self.check_record(record, 0)?;
        }
        // For each record, the index of the first record in the batch with its id.
        let mut first_with_id: HashMap<&str, usize> = HashMap::new();
        let firsts: Vec<usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| *first_with_id.entry(r.event_id.as_str()).or_insert(i))
            .collect();
        let ids: Vec<String> = records.iter().map(|r| r.event_id.clone()).collect();
        let subjects: Vec<String> = records.iter().map(|r| self.subject(&r.key)).collect();
        let mut results: Vec<Option<Appended>> = vec![None; records.len()];
        let mut denied = self.denials.subscribe();
        self.runtime.block_on(async {
            let mut in_flight: VecDeque<(usize, PublishAckFuture)> = VecDeque::new();
            for (i, record) in records.iter().enumerate() {
                if firsts[i] != i {
                    continue;
                }
                // A copy: the batch's bytes are kept to compare with what a duplicate
                // ack says is stored.
                let publish = PublishMessage::build()
                    .message_id(&record.event_id)
                    .payload(record.bytes.clone().into());
                let future = self
                    .js
                    .send_publish(subjects[i].clone(), publish)
                    .await
                    .map_err(|e| publish_failed(&e, &record.event_id))?;
                in_flight.push_back((i, future));
                if in_flight.len() >= ACK_WINDOW {
                    let (j, future) = in_flight.pop_front().expect("window is not empty");
                    results[j] =
                        Some(await_ack(future, &ids[j], &subjects, &ids, &mut denied).await?);
                }
            }
            while let Some((j, future)) = in_flight.pop_front() {
                results[j] = Some(await_ack(future, &ids[j], &subjects, &ids, &mut denied).await?);
            }
            // Every ack is in: check what the server deduplicated, several at a time.
            let duplicates = results
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match r {
                    Some(Appended::Duplicate(p)) => Some((i, *p)),
                    _ => None,
                })
                .map(|(i, position)| {
                    let record = &records[i];
                    self.check_stored(position, &record.event_id, &subjects[i], &record.bytes)
                });
            let mut checks = futures_util::stream::iter(duplicates).buffered(STORED_CHECKS);
            while let Some(check) = checks.next().await {
                check?;
            }
            Ok::<_, LogError>(())
        })?;
        for (i, &first) in firsts.iter().enumerate() {
            let same = subjects[i] == subjects[first] && records[i].bytes == records[first].bytes;
            if !same {
                return Err(LogError::IdConflict {
                    event_id: ids[i].clone(),
                    position: results[first]
                        .expect("every first occurrence was published")
                        .position(),
                });
            }
        }
        Ok(firsts
            .iter()
            .enumerate()
            .map(|(i, &first)| {
                let got = results[first].expect("every first occurrence was published");
                if first == i {
                    got
                } else {
                    Appended::Duplicate(got.position())
                }
            })
            .collect())
    }

    /// Publishes with `Nats-Expected-Last-Subject-Sequence` (0 when `expected` is `None`:
    /// the server reads 0 as "no message on this subject yet"), so the compare-and-swap is
    /// decided where sequences are assigned. The server checks that condition *before* the
    /// event id, so on a conflict the key's records after `expected` are searched for the
    /// event id (headers only): a retry of a record that landed is reported as the
    /// duplicate it is. A record with the same id under another key, or before `expected`,
    /// is not searched for: when the condition holds the server's dedup catches it within
    /// the duplicate window, and when it fails the result is a conflict.
    fn append_if(
        &self,
        record: NewRecord,
        expected: Option<Position>,
    ) -> Result<ConditionalAppend, LogError> {
        self.check_record(&record, condition_header_len(expected))?;
        let subject = self.subject(&record.key);
        let publish = PublishMessage::build()
            .message_id(&record.event_id)
            .expected_last_subject_sequence(expected.map_or(0, Position::get))
            .payload(record.bytes.clone().into());
        let mut denied = self.denials.subscribe();
        // Ok(Err(subject)): the server refused the publish (see `unless_denied`).
        let outcome = self.runtime.block_on(async {
            let future = self.js.send_publish(subject.clone(), publish).await?;
            match unless_denied(future.into_future(), &mut denied, |s| s == subject).await {
                Ok(ack) => ack.map(Ok),
                Err(refused) => Ok(Err(refused)),
            }
        });
        match outcome {
            Ok(Ok(ack)) => {
                let got = appended(ack, &record.event_id)?;
                if let Appended::Duplicate(position) = got {
                    self.runtime.block_on(self.check_stored(
                        position,
                        &record.event_id,
                        &subject,
                        &record.bytes,
                    ))?;
                }
                Ok(ConditionalAppend::Appended(got))
            }
            Ok(Err(refused)) => Err(publish_denied(&refused, &record.event_id)),
            Err(e) if is_wrong_last_sequence(&e) => {
                // The server checks the condition before the event id, so a retry of a
                // record that did land fails the condition: look for it among the key's
                // records after `expected` (where a landed retry must be).
                let after = expected.map_or(0, Position::get);
                let found = self.runtime.block_on(async {
                    let found = self
                        .find_on_subject(&subject, after, &record.event_id)
                        .await?;
                    if let Some(position) = found {
                        self.check_stored(position, &record.event_id, &subject, &record.bytes)
                            .await?;
                    }
                    Ok::<_, LogError>(found)
                })?;
                if let Some(position) = found {
                    return Ok(ConditionalAppend::Appended(Appended::Duplicate(position)));
                }
                Ok(ConditionalAppend::Conflict {
                    expected,
                    actual: self.last_for_key(&record.key)?,
                })
            }
            Err(e) => Err(publish_failed(&e, &record.event_id)),
        }
    }

    fn read(&self, from: Position, max: usize) -> Result<Vec<Record>, LogError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let start = from.get().max(1);
        // Each step inside is bounded by the timeout; the whole read is not.
        self.runtime.block_on(self.read_async(start, max))
    }

    /// The stream's name and creation time (nanoseconds since the epoch, as the server
    /// records it): a stream deleted and created again under the same name, or another
    /// server's stream of that name, has another. Asked of the server each time, so a
    /// stream replaced under a long-lived connection is noticed.
    fn identity(&self) -> Result<String, LogError> {
        self.block("reading the stream's creation time", async {
            let info =
                self.stream.get_info().await.map_err(|e| {
                    classify(&e, format!("stream `{}` info: {e}", self.stream_name))
                })?;
            Ok(format!(
                "nats stream {} created {}",
                self.stream_name,
                info.created.unix_timestamp_nanos()
            ))
        })
    }

    fn last_position(&self) -> Result<Position, LogError> {
        self.block("reading the stream's state", async {
            let info =
                self.stream.get_info().await.map_err(|e| {
                    classify(&e, format!("stream `{}` info: {e}", self.stream_name))
                })?;
            Ok(Position::new(info.state.last_sequence))
        })
    }

    fn last_for_key(&self, key: &LogKey) -> Result<Option<Position>, LogError> {
        let subject = self.subject(key);
        self.block("reading a key's last record", async {
            match self.stream.get_last_raw_message_by_subject(&subject).await {
                Ok(message) => Ok(Some(Position::new(message.sequence))),
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
                Err(e) => Err(classify(&e, format!("last record of `{subject}`: {e}"))),
            }
        })
    }

    /// JetStream keeps no index by message id, so this scans the whole stream: O(log
    /// length) reads. For diagnostics and tests; the ledger finds events through its views.
    fn find(&self, event_id: &str) -> Result<Option<Position>, LogError> {
        let mut next = Position::new(1);
        loop {
            let records = self.read(next, SCAN_CHUNK)?;
            let Some(last) = records.last() else {
                return Ok(None);
            };
            next = last.position.next();
            if let Some(r) = records.iter().find(|r| r.event_id == event_id) {
                return Ok(Some(r.position));
            }
        }
    }

    /// Nothing to do: every append returned only after its ack, and an acknowledged message
    /// is in the stream (on a quorum in a cluster). Whether it is on disk yet is the server's
    /// `sync_interval` (`sync_always` for fsync per message).
    fn flush(&self) -> Result<(), LogError> {
        Ok(())
    }
}

/// Wire length of `Nats-Expected-Last-Subject-Sequence: <n>\r\n`.
fn condition_header_len(expected: Option<Position>) -> usize {
    let n = expected.map_or(0, Position::get);
    "Nats-Expected-Last-Subject-Sequence".len() + 2 + n.to_string().len() + 2
}

#[cfg(test)]
mod url_tests {
    use super::{parse_servers, redact, reserved_prefix, NatsError};

    #[test]
    fn reserved_prefixes_are_named_and_others_pass() {
        for prefix in ["_INBOX", "_INBOX.vouch", "$JS", "$SYS.x", "_R_", "_GR_.a"] {
            assert!(reserved_prefix(prefix).is_some(), "{prefix}");
        }
        for prefix in ["vouch", "_INBOXES", "my._INBOX", "a.$b", "inbox"] {
            assert!(reserved_prefix(prefix).is_none(), "{prefix}");
        }
    }

    #[test]
    fn urls_parse_and_credentials_in_them_are_refused_without_echoing_them() {
        assert_eq!(
            parse_servers("nats://a:4222, nats://b:4222").unwrap().len(),
            2
        );
        assert_eq!(redact("nats://alice:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("alice:secret@h:4222"), "***@h:4222");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
        let err = parse_servers("nats://alice:secret@h:4222").unwrap_err();
        assert!(matches!(err, NatsError::InvalidOption(_)));
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(matches!(
            parse_servers(" , "),
            Err(NatsError::InvalidOption(_))
        ));
        assert!(matches!(
            parse_servers("nats://127.0.0.1:notaport"),
            Err(NatsError::InvalidOption(_))
        ));
    }
}
