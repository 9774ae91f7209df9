//! What the JetStream backend adds to the contract, against a real server: the stream
//! settings it insists on, the server semantics it relies on, and failures that must be
//! clear errors rather than hangs.

use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    context::PublishErrorKind,
    message::PublishMessage,
    stream::{Config, StorageType},
};
use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position};
use vouch_log_nats::{NatsError, NatsLog};
use vouch_test_nats::NatsServer;

fn rec(id: &str, key: &str, bytes: &[u8]) -> NewRecord {
    NewRecord {
        event_id: id.to_owned(),
        key: LogKey::new(key).unwrap(),
        bytes: bytes.to_vec(),
    }
}

/// Runs `f` with a raw async-nats JetStream context on `server`, as another tool would.
fn with_jetstream<T>(server: &NatsServer, f: impl AsyncFnOnce(jetstream::Context) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(server.url()).await.unwrap();
        f(jetstream::new(client)).await
    })
}

#[test]
fn creates_a_stream_that_keeps_the_promises() {
    let server = NatsServer::start();
    drop(server.log());
    let config = with_jetstream(&server, async |js| {
        js.get_stream("VOUCH")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .config
            .clone()
    });
    assert_eq!(config.subjects, ["vouch.>"]);
    assert_eq!(config.storage, StorageType::File);
    assert!(config.deny_delete && config.deny_purge && !config.allow_rollup);
    assert_eq!(config.duplicate_window, Duration::from_secs(120));
    assert!(config.max_age.is_zero());
    assert!(config.max_bytes <= 0 && config.max_messages <= 0);
    assert_eq!(config.num_replicas, 1);
    // A second connect accepts the stream it created.
    server.log();
}

#[test]
fn refuses_an_unsafe_stream_naming_every_problem_and_leaves_it_alone() {
    let server = NatsServer::start();
    let unsafe_config = Config {
        name: "VOUCH".into(),
        subjects: vec!["vouch.run.>".into()],
        storage: StorageType::Memory,
        max_age: Duration::from_secs(3600),
        max_messages: 1000,
        deny_delete: false,
        deny_purge: false,
        allow_rollup: true,
        ..Default::default()
    };
    with_jetstream(&server, async |js| {
        js.create_stream(unsafe_config.clone()).await.unwrap();
    });
    let error = NatsLog::connect(&server.options()).unwrap_err();
    let NatsError::UnsafeStream { stream, problems } = &error else {
        panic!("expected UnsafeStream, got {error}");
    };
    assert_eq!(stream, "VOUCH");
    let text = problems.join("\n");
    for needle in [
        "do not cover `vouch.>`",
        "storage is memory",
        "deny_delete is off",
        "deny_purge is off",
        "allow_rollup is on",
        "max_age is 3600s",
        "max_msgs is 1000",
    ] {
        assert!(text.contains(needle), "no `{needle}` in:\n{text}");
    }
    assert_eq!(problems.len(), 7, "{text}");
    assert!(error.to_string().contains("deny_delete is off"), "{error}");
    let after = with_jetstream(&server, async |js| {
        js.get_stream("VOUCH")
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .config
            .clone()
    });
    assert_eq!(after.subjects, unsafe_config.subjects);
    assert!(!after.deny_delete && after.allow_rollup);
}

#[test]
fn refuses_a_stream_with_fewer_replicas_than_asked() {
    let server = NatsServer::start();
    drop(server.log());
    let mut options = server.options();
    options.replicas = 3;
    match NatsLog::connect(&options) {
        Err(NatsError::UnsafeStream { problems, .. }) => {
            assert!(
                problems[0].contains("fewer than the 3 asked"),
                "{problems:?}"
            );
        }
        other => panic!("expected UnsafeStream, got {other:?}"),
    }
}

/// `Nats-Expected-Last-Subject-Sequence: 0` means "no message on this subject yet", and the
/// server checks it before the message id: what `append_if` builds on.
#[test]
fn expected_last_subject_sequence_zero_means_no_message_yet() {
    let server = NatsServer::start();
    drop(server.log());
    with_jetstream(&server, async |js| {
        let publish = |id: &str, expected: u64| {
            PublishMessage::build()
                .message_id(id)
                .expected_last_subject_sequence(expected)
                .payload("x".into())
        };
        let first = js
            .send_publish("vouch.chain.m", publish("a", 0))
            .await
            .unwrap();
        assert_eq!(first.await.unwrap().sequence, 1);
        let other = js
            .send_publish("vouch.chain.n", publish("b", 0))
            .await
            .unwrap();
        assert_eq!(other.await.unwrap().sequence, 2, "0 is per subject");
        let stale = js
            .send_publish("vouch.chain.m", publish("c", 0))
            .await
            .unwrap();
        let error = stale.await.unwrap_err();
        assert_eq!(error.kind(), PublishErrorKind::WrongLastSequence);
        let retry = js
            .send_publish("vouch.chain.m", publish("a", 0))
            .await
            .unwrap();
        let error = retry.await.unwrap_err();
        assert_eq!(
            error.kind(),
            PublishErrorKind::WrongLastSequence,
            "the condition is checked before the message id"
        );
        let next = js
            .send_publish("vouch.chain.m", publish("c", 1))
            .await
            .unwrap();
        assert_eq!(next.await.unwrap().sequence, 3);
    });
}

#[test]
fn conditional_retry_after_the_key_moved_on_is_a_duplicate() {
    let server = NatsServer::start();
    let log = server.log();
    let first = log.append_if(rec("d1", "chain.m", b"1"), None).unwrap();
    assert_eq!(
        first,
        ConditionalAppend::Appended(Appended::New(Position::new(1)))
    );
    log.append(rec("noise", "run.a", b"n")).unwrap();
    let second = log
        .append_if(rec("d2", "chain.m", b"2"), Some(Position::new(1)))
        .unwrap();
    assert_eq!(
        second,
        ConditionalAppend::Appended(Appended::New(Position::new(3)))
    );
    // A late retry of d1 with its original condition: the key has moved on, but d1 is in.
    let retry = log.append_if(rec("d1", "chain.m", b"1"), None).unwrap();
    assert_eq!(
        retry,
        ConditionalAppend::Appended(Appended::Duplicate(Position::new(1)))
    );
    // A new record with a stale condition is a conflict naming the real head.
    let stale = log.append_if(rec("d3", "chain.m", b"3"), None).unwrap();
    assert_eq!(
        stale,
        ConditionalAppend::Conflict {
            expected: None,
            actual: Some(Position::new(3))
        }
    );
    assert_eq!(log.last_position().unwrap(), Position::new(3));
}

#[test]
fn a_record_over_the_server_limit_is_refused_up_front() {
    let server = NatsServer::start();
    let log = server.log();
    let started = Instant::now();
    let big = vec![7u8; 2 << 20];
    let error = log
        .append_batch(vec![rec("small", "run.a", b"s"), rec("big", "run.a", &big)])
        .unwrap_err();
    let LogError::TooLarge {
        event_id,
        size,
        limit,
    } = error
    else {
        panic!("expected TooLarge, got {error}");
    };
    assert_eq!((event_id.as_str(), size), ("big", 2 << 20));
    assert!(limit < 1 << 20 && limit > (1 << 20) - 100, "limit {limit}");
    assert!(started.elapsed() < Duration::from_secs(2), "no hang");
    assert_eq!(
        log.last_position().unwrap(),
        Position::ZERO,
        "nothing of the batch written"
    );
    // The limit is exact: a record of `limit` bytes is stored, one more byte is not.
    assert!(matches!(
        log.append(rec("big", "run.a", &vec![1u8; limit + 1])),
        Err(LogError::TooLarge { .. })
    ));
    let at_limit = log.append(rec("big", "run.a", &vec![1u8; limit])).unwrap();
    assert_eq!(at_limit, Appended::New(Position::new(1)));
    assert_eq!(log.read(Position::new(1), 1).unwrap()[0].bytes.len(), limit);
    // The conditional header counts too.
    let conditional = log.append_if(rec("big2", "chain.m", &vec![1u8; limit]), None);
    assert!(
        matches!(conditional, Err(LogError::TooLarge { .. })),
        "{conditional:?}"
    );
}

#[test]
fn event_ids_that_are_not_clean_headers_are_refused() {
    let server = NatsServer::start();
    let log = server.log();
    for id in ["", "a b", "a\r\nNats-Expected-Stream: X", "ü"] {
        assert!(
            matches!(
                log.append(rec(id, "run.a", b"x")),
                Err(LogError::Storage(_))
            ),
            "{id:?}"
        );
    }
    assert_eq!(log.last_position().unwrap(), Position::ZERO);
    // Every id `vouch_event::EventId` accepts (printable ASCII) survives the header.
    let id = "x:y/z#1!~\"'";
    log.append(rec(id, "run.a", b"x")).unwrap();
    assert_eq!(log.read(Position::new(1), 1).unwrap()[0].event_id, id);
    assert_eq!(
        log.append(rec(id, "run.a", b"x")).unwrap(),
        Appended::Duplicate(Position::new(1))
    );
}

#[test]
fn an_unreachable_server_is_an_error_not_a_hang() {
    let server = NatsServer::start();
    let mut options = server.options();
    options.timeout = Duration::from_secs(1);
    let log = NatsLog::connect(&options).unwrap();
    log.append(rec("a", "run.a", b"a")).unwrap();
    drop(server);
    let started = Instant::now();
    let append = log.append(rec("b", "run.a", b"b"));
    assert!(
        matches!(append, Err(LogError::Unavailable(_))),
        "{append:?}"
    );
    let read = log.read(Position::new(1), 10);
    assert!(matches!(read, Err(LogError::Unavailable(_))), "{read:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    drop(log);
    let refused = NatsLog::connect(&options).unwrap_err();
    assert!(matches!(refused, NatsError::Connect { .. }), "{refused}");
}

/// The server itself keeps the promise once made: a stream created with deny_delete and
/// deny_purge cannot be loosened, so records cannot vanish from under a connected log.
/// (Hence the read path's gap check, which reports a missing position as `Corrupt`, cannot
/// be provoked through a real server here.)
#[test]
fn the_server_refuses_to_loosen_the_stream() {
    let server = NatsServer::start();
    let log = server.log();
    log.append_batch(
        (1..=3)
            .map(|i| rec(&format!("e{i}"), "run.a", &[i]))
            .collect(),
    )
    .unwrap();
    with_jetstream(&server, async |js| {
        let stream = js.get_stream("VOUCH").await.unwrap();
        let config = stream.cached_info().config.clone();
        for loosen in [
            (|c: &mut Config| c.deny_delete = false) as fn(&mut Config),
            |c: &mut Config| c.deny_purge = false,
        ] {
            let mut loose = config.clone();
            loosen(&mut loose);
            let error = js.update_stream(loose).await.unwrap_err();
            assert!(error.to_string().contains("can not cancel"), "{error}");
        }
        assert!(stream.delete_message(2).await.is_err());
        assert!(stream.purge().await.is_err());
    });
    let ids: Vec<_> = log
        .read(Position::new(1), 10)
        .unwrap()
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    assert_eq!(ids, ["e1", "e2", "e3"]);
}

/// A stream that keeps the promises, under `name` and `prefix.>`, as an operator might
/// create it by hand.
fn safe_config(name: &str, prefix: &str) -> Config {
    Config {
        name: name.into(),
        subjects: vec![format!("{prefix}.>")],
        storage: StorageType::File,
        deny_delete: true,
        deny_purge: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    }
}

/// Settings that lose nothing at once still break promises later, so they are refused
/// like the others: a message size limit (valid events would fail when appended) and a
/// duplicate window other than the documented two minutes.
#[test]
fn refuses_a_message_size_limit_and_another_duplicate_window() {
    let server = NatsServer::start();
    let limited = Config {
        max_message_size: 1024,
        ..safe_config("LIMITED", "limited")
    };
    let short = Config {
        duplicate_window: Duration::from_secs(10),
        ..safe_config("SHORT", "short")
    };
    let long = Config {
        duplicate_window: Duration::from_secs(3600),
        ..safe_config("LONG", "long")
    };
    with_jetstream(&server, async |js| {
        for config in [&limited, &short, &long, &safe_config("SAFE", "safe")] {
            js.create_stream(config.clone()).await.unwrap();
        }
    });
    let connect = |stream: &str, prefix: &str| {
        let mut options = server.options();
        options.stream = stream.into();
        options.prefix = prefix.into();
        NatsLog::connect(&options)
    };
    for (stream, prefix, needle) in [
        ("LIMITED", "limited", "max_msg_size is 1024"),
        ("SHORT", "short", "duplicate_window is 10s"),
        ("LONG", "long", "duplicate_window is 3600s"),
    ] {
        match connect(stream, prefix) {
            Err(NatsError::UnsafeStream { problems, .. }) => {
                assert_eq!(problems.len(), 1, "{stream}: {problems:?}");
                assert!(problems[0].contains(needle), "{stream}: {problems:?}");
            }
            other => panic!("{stream}: expected UnsafeStream, got {other:?}"),
        }
    }
    connect("SAFE", "safe").expect("the same settings without the bad one are accepted");
}

/// A prefix whose subjects belong to NATS itself (client inboxes, the server's reply
/// routing, `$` system subjects) is a usage error, refused before a stream is made.
#[test]
fn reserved_prefixes_are_refused_and_no_stream_is_made() {
    let server = NatsServer::start();
    for prefix in ["_INBOX", "_INBOX.vouch", "_R_", "_GR_.x", "$JS"] {
        let mut options = server.options();
        options.stream = "RESERVED".into();
        options.prefix = prefix.into();
        match NatsLog::connect(&options) {
            Err(NatsError::InvalidOption(text)) => {
                assert!(text.contains(prefix) && text.contains("reserved"), "{text}");
            }
            other => panic!("prefix {prefix}: expected InvalidOption, got {other:?}"),
        }
    }
    let found = with_jetstream(&server, async |js| js.get_stream("RESERVED").await.is_ok());
    assert!(!found, "a stream was created for a reserved prefix");
}

/// A log's identity is the stream's name and creation time: the same across reconnects
/// and server restarts, another for a stream deleted and made again under the same name,
/// and another for a same-named stream on another server.
#[test]
fn identity_changes_when_the_stream_is_replaced() {
    let mut server = NatsServer::start();
    let first = server.log().identity().unwrap();
    assert!(first.contains("VOUCH"), "{first}");
    assert_eq!(server.log().identity().unwrap(), first);
    server.restart();
    assert_eq!(server.log().identity().unwrap(), first, "after a restart");
    with_jetstream(&server, async |js| {
        js.delete_stream("VOUCH").await.unwrap();
    });
    let again = server.log().identity().unwrap();
    assert_ne!(again, first, "a recreated stream is another log");
    let other = NatsServer::start();
    let elsewhere = other.log().identity().unwrap();
    assert_ne!(elsewhere, again, "another server's stream is another log");
    assert_ne!(elsewhere, first);
}

/// A conditional retry whose key has moved on is found among the key's later records;
/// if the record found there has other bytes, the retry is a conflict, not a duplicate.
#[test]
fn a_conditional_retry_with_other_bytes_is_an_id_conflict_after_the_key_moved_on() {
    let server = NatsServer::start();
    let log = server.log();
    log.append_if(rec("d1", "chain.m", b"1"), None).unwrap();
    log.append_if(rec("d2", "chain.m", b"2"), Some(Position::new(1)))
        .unwrap();
    match log.append_if(rec("d1", "chain.m", b"forged"), None) {
        Err(LogError::IdConflict { event_id, position }) => {
            assert_eq!((event_id.as_str(), position), ("d1", Position::new(1)));
        }
        other => panic!("expected an id conflict, got {other:?}"),
    }
    assert_eq!(
        log.append_if(rec("d1", "chain.m", b"1"), None).unwrap(),
        ConditionalAppend::Appended(Appended::Duplicate(Position::new(1)))
    );
    assert_eq!(log.last_position().unwrap(), Position::new(2));
}

/// A retried batch larger than the checks kept in flight: every deduplicated record is
/// compared, and the one that changed is named with its stored position.
#[test]
fn a_retried_batch_with_one_changed_record_is_an_id_conflict_naming_it() {
    let server = NatsServer::start();
    let log = server.log();
    let batch = |changed: Option<usize>| -> Vec<NewRecord> {
        (0..300)
            .map(|i| {
                let bytes = if Some(i) == changed {
                    b"changed".to_vec()
                } else {
                    format!("r{i}").into_bytes()
                };
                rec(&format!("e{i}"), "run.a", &bytes)
            })
            .collect()
    };
    log.append_batch(batch(None)).unwrap();
    match log.append_batch(batch(Some(250))) {
        Err(LogError::IdConflict { event_id, position }) => {
            assert_eq!((event_id.as_str(), position), ("e250", Position::new(251)));
        }
        other => panic!("expected an id conflict, got {other:?}"),
    }
    let again = log.append_batch(batch(None)).unwrap();
    assert!(again.iter().all(|a| matches!(a, Appended::Duplicate(_))));
    assert_eq!(log.last_position().unwrap(), Position::new(300));
}

/// A read right after an append sees the record, every time: the stream's state can count
/// a message before the reading consumer is told of it, and a read must wait for it
/// rather than call it missing (this failed as "record N is missing" under load).
#[test]
fn a_read_right_after_an_append_sees_the_record() {
    let server = NatsServer::start();
    let log = server.log();
    // Another connection appends, as another process or machine would; this log reads on
    // with its reused consumer.
    let writer = server.log();
    for i in 1..=500u64 {
        writer
            .append(rec(&format!("e{i}"), "run.r", format!("{i}").as_bytes()))
            .unwrap();
        let records = log
            .read(Position::new(i), 1)
            .unwrap_or_else(|e| panic!("read {i} right after its append: {e}"));
        assert_eq!(records.len(), 1, "read {i}");
        assert_eq!(records[0].position, Position::new(i));
    }
}
