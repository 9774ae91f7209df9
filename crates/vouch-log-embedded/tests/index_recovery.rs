//! The event-id index is derived data: losing or damaging it loses no dedup.

use vouch_log::{Appended, Log, LogKey, NewRecord, Position};
use vouch_log_embedded::EmbeddedLog;

fn rec(id: String) -> NewRecord {
    NewRecord {
        event_id: id,
        key: LogKey::new("run.a").unwrap(),
        bytes: b"x".to_vec(),
    }
}

fn fill(dir: &std::path::Path, n: u64) {
    let log = EmbeddedLog::open(dir).unwrap();
    log.append_batch((1..=n).map(|i| rec(format!("e{i}"))).collect())
        .unwrap();
    log.flush().unwrap();
}

fn assert_dedups(dir: &std::path::Path, n: u64) {
    let log = EmbeddedLog::open(dir).unwrap();
    assert_eq!(log.indexed_ids(), n);
    for i in [1, n / 2, n] {
        assert_eq!(
            log.append(rec(format!("e{i}"))).unwrap(),
            Appended::Duplicate(Position::new(i))
        );
    }
    assert_eq!(
        log.append(rec("new".into())).unwrap(),
        Appended::New(Position::new(n + 1))
    );
}

#[test]
fn deleted_index_is_rebuilt_from_the_blocks() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 20_000);
    std::fs::remove_file(dir.path().join("ids.idx")).unwrap();
    assert_dedups(dir.path(), 20_000);
}

#[test]
fn garbage_index_is_replaced_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), 3_000);
    std::fs::write(dir.path().join("ids.idx"), b"this is not an index").unwrap();
    assert_dedups(dir.path(), 3_000);
}

#[test]
fn index_grows_past_its_initial_size_and_keeps_every_id() {
    let dir = tempfile::tempdir().unwrap();
    // The table starts with 16,384 slots and doubles at half load.
    fill(dir.path(), 50_000);
    assert_dedups(dir.path(), 50_000);
}
