//! The promises a JetStream stream must keep to hold a Vouch log, checked on every connect.
//!
//! The log contract says records are never lost, never reordered and never renumbered.
//! JetStream can be configured to break each of those (limits, deletes, purges, rollups,
//! TTLs, work-queue retention, memory storage…), and a stream may have been created or
//! edited by someone else. So the backend never trusts an existing stream: it lists every
//! setting that breaks a promise and refuses the stream, rather than "fixing" it silently.

use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};

/// Every way `config` breaks the log's promises, as sentences for an operator; empty when it
/// keeps them all. `prefix` is the subject prefix (`vouch`), `replicas` the replicas asked.
pub(crate) fn problems(config: &Config, prefix: &str, replicas: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(text);
    let wanted = format!("{prefix}.>");
    if !config.subjects.iter().any(|s| covers(s, &wanted)) {
        problem(format!(
            "subjects {:?} do not cover `{wanted}`: appends would find no stream",
            config.subjects
        ));
    }
    if config.storage != StorageType::File {
        problem(
            "storage is memory, not file: records would be lost when the server restarts".into(),
        );
    }
    if config.retention != RetentionPolicy::Limits {
        problem(format!(
            "retention is {:?}, not limits: records would be removed once consumed",
            config.retention
        ));
    }
    if !config.deny_delete {
        problem("deny_delete is off: single records could be deleted, leaving gaps".into());
    }
    if !config.deny_purge {
        problem("deny_purge is off: the stream or a key could be purged".into());
    }
    if config.allow_rollup {
        problem("allow_rollup is on: a rollup message would erase earlier records".into());
    }
    if !config.max_age.is_zero() {
        problem(format!(
            "max_age is {:?}: old records would expire",
            config.max_age
        ));
    }
    if config.max_bytes > 0 {
        problem(format!(
            "max_bytes is {}: old records would be discarded",
            config.max_bytes
        ));
    }
    if config.max_messages > 0 {
        problem(format!(
            "max_msgs is {}: old records would be discarded",
            config.max_messages
        ));
    }
    if config.max_messages_per_subject > 0 {
        problem(format!(
            "max_msgs_per_subject is {}: a key's old records would be discarded",
            config.max_messages_per_subject
        ));
    }
    if config.max_message_size > 0 {
        problem(format!(
            "max_msg_size is {}: valid events larger than that (up to the server's \
             max_payload) would be refused when appended",
            config.max_message_size
        ));
    }
    if config.duplicate_window != crate::DUPLICATE_WINDOW {
        problem(format!(
            "duplicate_window is {:?}, not the {:?} Vouch documents: retries would be \
             deduplicated by the server for another span than promised",
            config.duplicate_window,
            crate::DUPLICATE_WINDOW
        ));
    }
    if config.allow_message_ttl {
        problem("allow_msg_ttl is on: a record could carry its own expiry".into());
    }
    if config.subject_delete_marker_ttl.is_some() {
        problem("subject_delete_marker_ttl is set: the server would add marker records".into());
    }
    if config.allow_message_counter {
        problem("allow_msg_counter is on: the stream holds counters, not records".into());
    }
    if let Some(first) = config.first_sequence.filter(|&first| first > 1) {
        problem(format!("first_seq is {first}: positions must start at 1"));
    }
    if config.sealed {
        problem("the stream is sealed: appends would be refused".into());
    }
    if config.no_ack {
        problem("no_ack is on: appends could not be confirmed".into());
    }
    if config.mirror.is_some() {
        problem("the stream is a mirror: it takes no appends of its own".into());
    }
    if config.sources.as_ref().is_some_and(|s| !s.is_empty()) {
        problem("the stream sources other streams: their messages would mix into the log".into());
    }
    if config.subject_transform.is_some() {
        problem("a subject transform is set: stored keys would differ from appended ones".into());
    }
    if config.num_replicas < replicas {
        problem(format!(
            "it has {} replica(s), fewer than the {replicas} asked",
            config.num_replicas
        ));
    }
    problems
}

/// Whether the subject filter `filter` matches every subject that `wanted` matches
/// (`>` covers `vouch.>`, `vouch.>` covers itself, `*.>` covers `vouch.>`, `vouch.*` does not).
pub(crate) fn covers(filter: &str, wanted: &str) -> bool {
    let mut filter = filter.split('.');
    let mut wanted = wanted.split('.');
    loop {
        match (filter.next(), wanted.next()) {
            (Some(">"), Some(_)) => return true,
            (Some(_), Some(">")) => return false,
            (Some("*"), Some(_)) => {}
            (Some(f), Some(w)) if f == w => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn subject_coverage() {
        assert!(covers(">", "vouch.>"));
        assert!(covers("vouch.>", "vouch.>"));
        assert!(covers("*.>", "vouch.>"));
        assert!(covers("a.*.>", "a.vouch.>"));
        assert!(!covers("vouch.*", "vouch.>"));
        assert!(!covers("vouch.run.>", "vouch.>"));
        assert!(!covers("other.>", "vouch.>"));
        assert!(!covers("vouch", "vouch.>"));
        assert!(!covers("vouch.a.>", "vouch.>"));
    }
}
