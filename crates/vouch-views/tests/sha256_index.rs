//! Either digest names an artifact: the views map an artifact's sha256 to its BLAKE3
//! digest and back, for artifacts logged with one, and artifacts logged before sha256
//! existed still project (and are named by BLAKE3 only). The index is rebuilt from the
//! log like every view.

use vouch_event::{
    ArtifactLogged, Body, Digest, Event, EventId, Producer, RunId, RunStarted, Sha256, Subject,
    Timestamp,
};
use vouch_log::{Log, LogKey, NewRecord};
use vouch_log_embedded::EmbeddedLog;
use vouch_rules::Trust;
use vouch_views::{catch_up, rebuild, ResolveError, Views};

fn event(id: &str, body: Body) -> NewRecord {
    let event = Event {
        id: EventId::new(id).unwrap(),
        time: Timestamp::from_unix_nanos(1_795_167_000_000_000_000),
        producer: Producer::new("test").unwrap(),
        subject: Subject::Run(RunId::new("r-1").unwrap()),
        body,
    };
    NewRecord {
        event_id: id.into(),
        key: LogKey::new("run.r-1").unwrap(),
        bytes: vouch_event::encode(&event),
    }
}

fn artifact(name: &str, content: &[u8], sha256: Option<[u8; 32]>) -> Body {
    Body::ArtifactLogged(ArtifactLogged {
        name: name.into(),
        digest: Digest::of(content),
        size: content.len() as u64,
        uri: format!("file:///{name}"),
        sha256: sha256.map(Sha256),
    })
}

#[test]
fn sha256_names_an_artifact_and_old_events_still_project() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log")).unwrap();
    let views = Views::open(&dir.path().join("views")).unwrap();
    let new_sha = [0xab; 32];
    log.append_batch(vec![
        event(
            "start",
            Body::RunStarted(RunStarted {
                experiment: "e".into(),
                name: None,
                git: None,
                env: None,
            }),
        ),
        // Before sha256 existed: stored under index 3, exactly the old bytes.
        event("old", artifact("old.bin", b"old", None)),
        event("new", artifact("new.bin", b"new", Some(new_sha))),
    ])
    .unwrap();
    catch_up(&log, &views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(views.counts().unwrap().quarantined, 0);
    assert_eq!(views.counts().unwrap().artifacts, 2);

    let (old, new) = (Digest::of(b"old"), Digest::of(b"new"));
    assert_eq!(
        views.artifacts(&old).unwrap().len(),
        1,
        "the old event projects"
    );
    assert_eq!(views.artifact_sha256(&old).unwrap(), None);
    assert_eq!(views.artifact_sha256(&new).unwrap(), Some(new_sha));
    assert_eq!(views.artifact_by_sha256(&new_sha).unwrap(), Some(new));

    let sha_text = format!("sha256:{}", "ab".repeat(32));
    assert_eq!(views.resolve_artifact(&sha_text).unwrap(), new);
    assert_eq!(views.resolve_artifact(&new.to_string()).unwrap(), new);
    assert_eq!(views.resolve_artifact(&old.to_string()).unwrap(), old);
    let unknown = format!("sha256:{}", "cd".repeat(32));
    let e = views.resolve_artifact(&unknown).unwrap_err();
    assert!(matches!(e, ResolveError::UnknownSha256(_)), "{e}");
    assert!(e.to_string().contains(&unknown), "{e}");
    for bad in [
        "sha256:AB",
        "md5:00",
        "sha256:",
        &format!("sha256:{}", "AB".repeat(32)),
    ] {
        assert!(
            matches!(views.resolve_artifact(bad), Err(ResolveError::Invalid(_))),
            "{bad}"
        );
    }

    // Rebuilt from the log, the index is the same.
    let before = views.dump().unwrap();
    assert_eq!(before["sha256_index"].as_object().unwrap().len(), 2);
    drop(views);
    let mut views = Views::open(&dir.path().join("views")).unwrap();
    rebuild(&log, &mut views, &Trust::default(), &mut |_, _| {}).unwrap();
    assert_eq!(views.dump().unwrap(), before);
    assert_eq!(views.artifact_by_sha256(&new_sha).unwrap(), Some(new));
}
