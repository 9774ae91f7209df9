//! Who may write what, against a real server running the authorization Vouch ships:
//! `deploy/nats/auth.conf` itself, with test passwords in place of its placeholder hashes,
//! so a change there is what these tests exercise. Pipelines append evidence and model
//! events but cannot publish on the decision chain; release identities can; readers read
//! and append nowhere; only the admin provisions the stream. A refused publish is a prompt
//! `LogError::PermissionDenied`, not a wait for the timeout, and stores nothing.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position};
use vouch_log_nats::{NatsError, NatsLog, NatsOptions};
use vouch_test_nats::NatsServer;

/// The shipped authorization, read at build time (cargo rebuilds the test when it changes).
const AUTH_CONF: &str = include_str!("../../../deploy/nats/auth.conf");

/// Each user of auth.conf: its placeholder hash, and the password this test gives it.
const ADMIN: (&str, &str) = ("vouch-admin", "admin-pw");
const PIPELINE: (&str, &str) = ("pipeline", "pipeline-pw");
const RELEASE: (&str, &str) = ("release", "release-pw");
const SERVE: (&str, &str) = ("vouch-serve", "serve-pw");
const AUDITOR: (&str, &str) = ("auditor", "auditor-pw");
const PLACEHOLDERS: [(&str, &str); 6] = [
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.admin", ADMIN.1),
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.pipe", PIPELINE.1),
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.release", RELEASE.1),
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.serve", SERVE.1),
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.audit", AUDITOR.1),
    ("$2a$11$REPLACE.WITH.A.BCRYPT.HASH.sys", "sys-pw"),
];

/// The client timeout in these tests: long, so that an error well inside it cannot be the
/// timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A refusal must arrive well before the timeout; on a loaded machine it still takes
/// milliseconds.
const PROMPT: Duration = Duration::from_secs(5);

/// auth.conf with a plain-text test password for every placeholder (nats-server compares a
/// password that does not start with `$2` as plain text).
fn auth_config() -> String {
    let mut text = AUTH_CONF.to_owned();
    for (placeholder, password) in PLACEHOLDERS {
        assert_eq!(
            text.matches(placeholder).count(),
            1,
            "deploy/nats/auth.conf should hold the placeholder {placeholder} once; if the \
             users changed, change this test with them"
        );
        text = text.replace(placeholder, password);
    }
    assert!(
        !text.contains("REPLACE.WITH"),
        "deploy/nats/auth.conf has a placeholder this test does not know"
    );
    text
}

fn server() -> NatsServer {
    NatsServer::start_with_config(&auth_config())
}

fn options(server: &NatsServer, (user, password): (&str, &str)) -> NatsOptions {
    let mut options = server.options();
    options.user_password = Some((user.to_owned(), password.to_owned()));
    options.timeout = TIMEOUT;
    options
}

fn connect(server: &NatsServer, user: (&str, &str)) -> NatsLog {
    NatsLog::connect(&options(server, user))
        .unwrap_or_else(|e| panic!("connect as {}: {e}", user.0))
}

/// A server whose stream the admin has provisioned.
fn provisioned() -> NatsServer {
    let server = server();
    drop(connect(&server, ADMIN));
    server
}

fn rec(id: &str, key: &str) -> NewRecord {
    NewRecord {
        event_id: id.to_owned(),
        key: LogKey::new(key).unwrap(),
        bytes: format!("{{\"id\":\"{id}\"}}").into_bytes(),
    }
}

fn chain() -> LogKey {
    LogKey::new("chain").unwrap()
}

/// Runs `f`, asserts it is refused for lack of permission, promptly, with a message that
/// names the event and the subject; returns the message.
fn refused<T: std::fmt::Debug>(
    what: &str,
    event_id: &str,
    subject: &str,
    f: impl FnOnce() -> Result<T, LogError>,
) -> String {
    let started = Instant::now();
    let result = f();
    let took = started.elapsed();
    let Err(LogError::PermissionDenied(message)) = &result else {
        panic!("{what}: expected a permission error, got {result:?} after {took:?}");
    };
    assert!(
        took < PROMPT,
        "{what}: refused only after {took:?}; the timeout is {TIMEOUT:?}"
    );
    assert!(
        message.contains(event_id) && message.contains(subject),
        "{what}: the message should name the event `{event_id}` and the subject \
         `{subject}`: {message}"
    );
    message.clone()
}

/// Waits until the server's log says it refused a publish to `subject` (it logs the
/// violation as it answers, so this takes one poll or two).
fn server_logged_violation(server: &NatsServer, user: &str, subject: &str) {
    let wanted = format!("Publish Violation - Subject \"{subject}\"");
    let deadline = Instant::now() + PROMPT;
    loop {
        let log = std::fs::read_to_string(server.log_file()).unwrap_or_default();
        if log
            .lines()
            .any(|l| l.contains(&wanted) && l.contains(&format!("user:{user}")))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not log `{wanted}` for {user}:\n{log}"
        );
        sleep(Duration::from_millis(20));
    }
}

#[test]
fn pipelines_append_evidence_but_cannot_publish_on_the_chain() {
    let server = provisioned();
    let pipeline = connect(&server, PIPELINE);
    let appended = pipeline
        .append_batch(vec![rec("ev-run", "run.x"), rec("ev-live", "model.m")])
        .unwrap();
    assert_eq!(
        appended,
        [
            Appended::New(Position::new(1)),
            Appended::New(Position::new(2))
        ]
    );
    let read = pipeline.read(Position::new(1), 10).unwrap();
    let got: Vec<(&str, &str, &[u8])> = read
        .iter()
        .map(|r| (r.event_id.as_str(), r.key.as_str(), r.bytes.as_slice()))
        .collect();
    assert_eq!(
        got,
        [
            ("ev-run", "run.x", rec("ev-run", "run.x").bytes.as_slice()),
            (
                "ev-live",
                "model.m",
                rec("ev-live", "model.m").bytes.as_slice()
            ),
        ]
    );

    refused("append on the chain", "ev-forged", "vouch.chain", || {
        pipeline.append(rec("ev-forged", "chain"))
    });
    server_logged_violation(&server, PIPELINE.0, "vouch.chain");
    refused(
        "conditional append on an empty chain",
        "ev-forged-2",
        "vouch.chain",
        || pipeline.append_if(rec("ev-forged-2", "chain"), None),
    );
    refused(
        "conditional append after a head",
        "ev-forged-3",
        "vouch.chain",
        || pipeline.append_if(rec("ev-forged-3", "chain"), Some(Position::new(2))),
    );
    // In a batch, the chain record fails it, whatever else the batch holds.
    refused(
        "a batch with a chain record",
        "ev-forged-4",
        "vouch.chain",
        || pipeline.append_batch(vec![rec("ev-forged-4", "chain")]),
    );

    // Nothing reached the stream: every position is the pipeline's evidence.
    let admin = connect(&server, ADMIN);
    assert_eq!(admin.last_position().unwrap(), Position::new(2));
    assert_eq!(admin.last_for_key(&chain()).unwrap(), None);
    assert_eq!(admin.find("ev-forged").unwrap(), None);

    // A batch mixing evidence and a chain record fails, naming the chain record; the
    // evidence before it may be stored (batches are not atomic), the chain record is not.
    refused("a mixed batch", "ev-forged-5", "vouch.chain", || {
        pipeline.append_batch(vec![rec("ev-run-y", "run.y"), rec("ev-forged-5", "chain")])
    });
    assert_eq!(admin.last_for_key(&chain()).unwrap(), None);

    // The connection survives refusals: the pipeline goes on appending evidence.
    assert!(matches!(
        pipeline.append(rec("ev-run-2", "run.x")).unwrap(),
        Appended::New(_)
    ));
}

#[test]
fn release_identities_append_on_the_chain() {
    let server = provisioned();
    let pipeline = connect(&server, PIPELINE);
    pipeline.append(rec("ev-run", "run.x")).unwrap();
    let release = connect(&server, RELEASE);
    let first = release.append_if(rec("decision-0", "chain"), None).unwrap();
    assert_eq!(
        first,
        ConditionalAppend::Appended(Appended::New(Position::new(2)))
    );
    let second = release
        .append_if(rec("decision-1", "chain"), Some(Position::new(2)))
        .unwrap();
    assert_eq!(
        second,
        ConditionalAppend::Appended(Appended::New(Position::new(3)))
    );
    // The compare-and-swap still works under permissions: a stale head is a conflict.
    let stale = release
        .append_if(rec("decision-x", "chain"), Some(Position::new(2)))
        .unwrap();
    assert_eq!(
        stale,
        ConditionalAppend::Conflict {
            expected: Some(Position::new(2)),
            actual: Some(Position::new(3)),
        }
    );
    // Reviews and deployments go on model subjects, evidence on run subjects.
    let more = release
        .append_batch(vec![rec("review-0", "model.m"), rec("ev-run-r", "run.r")])
        .unwrap();
    assert_eq!(
        more,
        [
            Appended::New(Position::new(4)),
            Appended::New(Position::new(5))
        ]
    );
    // The pipeline sees the chain it cannot write.
    assert_eq!(
        pipeline.last_for_key(&chain()).unwrap(),
        Some(Position::new(3))
    );
}

#[test]
fn readers_read_everything_and_append_nowhere() {
    let server = provisioned();
    let pipeline = connect(&server, PIPELINE);
    pipeline
        .append_batch(vec![rec("ev-run", "run.x"), rec("ev-live", "model.m")])
        .unwrap();
    let release = connect(&server, RELEASE);
    release.append_if(rec("decision-0", "chain"), None).unwrap();

    for reader_user in [SERVE, AUDITOR] {
        let reader = connect(&server, reader_user);
        let ids: Vec<String> = reader
            .read(Position::new(1), 10)
            .unwrap()
            .into_iter()
            .map(|r| r.event_id)
            .collect();
        assert_eq!(
            ids,
            ["ev-run", "ev-live", "decision-0"],
            "{}",
            reader_user.0
        );
        assert_eq!(reader.last_position().unwrap(), Position::new(3));
        assert_eq!(
            reader.last_for_key(&chain()).unwrap(),
            Some(Position::new(3))
        );
        assert_eq!(reader.find("ev-live").unwrap(), Some(Position::new(2)));

        refused("reader: evidence", "r-run", "vouch.run.x", || {
            reader.append(rec("r-run", "run.x"))
        });
        refused("reader: model event", "r-live", "vouch.model.m", || {
            reader.append_batch(vec![rec("r-live", "model.m")])
        });
        refused("reader: chain", "r-chain", "vouch.chain", || {
            reader.append_if(rec("r-chain", "chain"), Some(Position::new(3)))
        });
        server_logged_violation(&server, reader_user.0, "vouch.chain");
        // Reading still works after the refusals.
        assert_eq!(reader.read(Position::new(3), 10).unwrap().len(), 1);
    }
    assert_eq!(
        connect(&server, ADMIN).last_position().unwrap(),
        Position::new(3)
    );
}

/// Only the admin creates the stream. A pipeline that gets there first is told, promptly,
/// that it may not: a configuration problem, not an outage to wait out.
#[test]
fn only_the_admin_provisions_the_stream() {
    let server = server();
    let started = Instant::now();
    let error = NatsLog::connect(&options(&server, PIPELINE)).unwrap_err();
    let took = started.elapsed();
    let NatsError::Refused { stream, reason } = &error else {
        panic!("a pipeline creating the stream: expected a refusal, got {error:?} after {took:?}");
    };
    assert_eq!(stream, "VOUCH");
    assert!(
        reason.contains("permission denied") && reason.contains("$JS.API.STREAM.CREATE.VOUCH"),
        "{reason}"
    );
    assert!(took < PROMPT, "refused only after {took:?}");

    let mut reader_options = options(&server, SERVE);
    reader_options.create = false;
    assert!(matches!(
        NatsLog::connect(&reader_options),
        Err(NatsError::MissingStream { .. })
    ));

    drop(connect(&server, ADMIN));
    // Now everyone finds it.
    for user in [PIPELINE, RELEASE, SERVE, AUDITOR] {
        assert_eq!(
            connect(&server, user).last_position().unwrap(),
            Position::new(0),
            "{}",
            user.0
        );
    }
}

/// The node configurations point at the file these tests run (their `include` is
/// commented out, as authorization is until the placeholders are replaced).
#[test]
fn every_node_config_includes_the_tested_auth_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats");
    for name in [
        "single-node.conf",
        "cluster-n1.conf",
        "cluster-n2.conf",
        "cluster-n3.conf",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            text.lines().any(|l| l.trim() == "# include \"auth.conf\""),
            "{name} does not offer `include \"auth.conf\"`"
        );
        assert!(
            !text.contains("permissions:") && !text.contains("accounts {"),
            "{name} defines permissions of its own; they belong in auth.conf"
        );
    }
}
