//! The log's promises across crashes, against real servers: a server SIGKILLed and started
//! again on its store, and a three-node cluster losing a node, while writers keep going.
//! Writers retry a failed append with the same event ids, as the ledger does, so these
//! tests show an acknowledged record is kept, kept once, and the conditional chain stays
//! linear.
//!
//! `NatsLog` blocks on its own runtime, so the writers are plain threads.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, sleep, ScopedJoinHandle};
use std::time::{Duration, Instant};

use vouch_log::{Appended, ConditionalAppend, Log, LogError, LogKey, NewRecord, Position, Record};
use vouch_log_nats::{NatsLog, NatsOptions};
use vouch_test_nats::{NatsCluster, NatsServer};

/// Records per `append_batch`.
const BATCH: usize = 50;

/// Batches acknowledged before, between and after the crashes.
const BATCHES_PER_PHASE: usize = 10;

/// Chain records appended before and after the node loss.
const CHAIN_PER_PHASE: usize = 10;

/// Everything a test waits for must happen within this; the tests finish well before.
const BUDGET: Duration = Duration::from_secs(45);

/// The pause before retrying a failed call.
const BACKOFF: Duration = Duration::from_millis(50);

fn rec(id: String, key: &str, bytes: Vec<u8>) -> NewRecord {
    NewRecord {
        event_id: id,
        key: LogKey::new(key).unwrap(),
        bytes,
    }
}

/// Options with a short timeout, so a call to a dead server fails fast and is retried.
fn short(mut options: NatsOptions) -> NatsOptions {
    options.timeout = Duration::from_secs(2);
    options
}

/// `f` until it succeeds; panics with the last error at the deadline.
fn retry<T>(deadline: Instant, what: &str, mut f: impl FnMut() -> Result<T, LogError>) -> T {
    loop {
        match f() {
            Ok(value) => return value,
            Err(_) if Instant::now() < deadline => {
                sleep(BACKOFF);
            }
            Err(e) => panic!("{what} still failing at the deadline: {e}"),
        }
    }
}

fn connect(options: &NatsOptions, deadline: Instant) -> NatsLog {
    loop {
        match NatsLog::connect(options) {
            Ok(log) => return log,
            Err(_) if Instant::now() < deadline => {
                sleep(BACKOFF);
            }
            Err(e) => panic!("cannot connect to {}: {e}", options.url),
        }
    }
}

/// Sets the flag when dropped, so writer threads stop even when the test body panics
/// (a scope joins its threads before it unwinds).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Waits until `done`, failing the test if a writer died (its panic is the real story) or
/// the deadline passes.
fn wait_until(
    deadline: Instant,
    what: &str,
    writers: &[&ScopedJoinHandle<'_, Vec<(String, Position)>>],
    done: impl Fn() -> bool,
) {
    while !done() {
        if writers.iter().any(|w| w.is_finished()) {
            panic!("a writer stopped early while waiting for {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(10));
    }
}

fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Appends batches of `BATCH` records under `run.r1` until `stop`, retrying a failed batch
/// with the same event ids; returns every acknowledged id with its position.
fn publish(
    log: &NatsLog,
    prefix: &str,
    stop: &AtomicBool,
    acked_batches: &AtomicUsize,
    deadline: Instant,
) -> Vec<(String, Position)> {
    let mut acked = Vec::new();
    let mut batch = 0usize;
    let (mut failures, mut duplicates) = (0usize, 0usize);
    while !stop.load(Ordering::SeqCst) {
        let records: Vec<NewRecord> = (0..BATCH)
            .map(|i| {
                let id = format!("{prefix}-{batch}-{i}");
                let bytes = id.as_bytes().to_vec();
                rec(id, "run.r1", bytes)
            })
            .collect();
        let results = retry(deadline, &format!("batch {batch}"), || {
            log.append_batch(records.clone())
                .inspect_err(|_| failures += 1)
        });
        assert_eq!(results.len(), records.len());
        for (record, result) in records.into_iter().zip(results) {
            duplicates += usize::from(matches!(result, Appended::Duplicate(_)));
            acked.push((record.event_id, result.position()));
        }
        batch += 1;
        acked_batches.fetch_add(1, Ordering::SeqCst);
    }
    eprintln!(
        "publisher {prefix}: {batch} batches acknowledged after {failures} failed attempts; \
         {duplicates} records reported as duplicates by a retry"
    );
    acked
}

/// Extends the chain on key `chain` until `stop`: reads the key's last position and drafts
/// a record whose bytes are that position. A failed append is retried with the same draft
/// (same event id, same bytes: one id names one content), so a record that landed despite
/// an error is found, not doubled; a conflict means the draft was not stored, and a new
/// draft (a new id) is made on the new last position.
///
/// Errors are retried after only a short pause so the two writers keep racing. In a
/// cluster the leader refuses a conditional publish while another one for the same
/// subject is in flight with error code 10164 ("wrong last sequence", without the actual
/// sequence); the log must report that lost race as a [`ConditionalAppend::Conflict`],
/// never as a storage error.
fn extend_chain(
    log: &NatsLog,
    writer: usize,
    stop: &AtomicBool,
    appended: &AtomicUsize,
    deadline: Instant,
) -> Vec<(String, Position)> {
    let key = LogKey::new("chain").unwrap();
    let pause = Duration::from_millis(2);
    let mut acked = Vec::new();
    let (mut conflicts, mut errors) = (0usize, 0usize);
    let mut drafts = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let mut draft: Option<(String, Option<Position>)> = None;
        let mut last_error = None;
        let (id, position) = loop {
            assert!(
                Instant::now() < deadline,
                "chain writer {writer}: record {} not appended by the deadline; last error: \
                 {last_error:?}",
                acked.len()
            );
            let (id, expected) = match &draft {
                Some(draft) => draft.clone(),
                None => match log.last_for_key(&key) {
                    Ok(expected) => {
                        drafts += 1;
                        let made = (format!("chain-{writer}-{drafts}"), expected);
                        draft = Some(made.clone());
                        made
                    }
                    Err(e) => {
                        errors += 1;
                        last_error = Some(e);
                        sleep(pause);
                        continue;
                    }
                },
            };
            let bytes = expected.map_or(0, Position::get).to_be_bytes().to_vec();
            match log.append_if(rec(id.clone(), "chain", bytes), expected) {
                Ok(ConditionalAppend::Appended(appended)) => break (id, appended.position()),
                Ok(ConditionalAppend::Conflict { .. }) => {
                    conflicts += 1;
                    draft = None;
                }
                Err(e) if e.to_string().contains("wrong last sequence") => {
                    panic!("chain writer {writer}: a lost race surfaced as an error: {e}")
                }
                Err(e) => {
                    errors += 1;
                    last_error = Some(e);
                    sleep(pause);
                }
            }
        };
        acked.push((id, position));
        appended.fetch_add(1, Ordering::SeqCst);
    }
    eprintln!(
        "chain writer {writer}: {} appended; {conflicts} conflicts, {errors} errors",
        acked.len()
    );
    acked
}

/// The whole stream, read in one go.
fn read_all(log: &NatsLog, deadline: Instant) -> Vec<Record> {
    retry(deadline, "reading the stream", || {
        let last = log.last_position()?;
        log.read(Position::new(1), usize::try_from(last.get()).unwrap())
    })
}

/// Positions 1..=n without gaps, no event id twice, and every acknowledged id at the
/// position its acknowledgement gave; every record in the stream was acknowledged.
fn assert_exactly_once(records: &[Record], acked: &[(String, Position)]) {
    let mut at: HashMap<&str, Position> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            record.position,
            Position::new(i as u64 + 1),
            "gap or reorder"
        );
        if let Some(first) = at.insert(&record.event_id, record.position) {
            panic!(
                "`{}` is in the stream twice: at {first} and {}",
                record.event_id, record.position
            );
        }
    }
    let mut acked_ids = HashSet::new();
    for (id, position) in acked {
        assert!(acked_ids.insert(id.as_str()), "`{id}` acknowledged twice");
        assert_eq!(
            at.get(id.as_str()),
            Some(position),
            "acknowledged `{id}` is not where its ack said"
        );
    }
    // Every attempt was retried until acknowledged, so nothing else may be there.
    let extra: Vec<_> = at.keys().filter(|id| !acked_ids.contains(*id)).collect();
    assert!(
        extra.is_empty(),
        "records nobody saw acknowledged: {extra:?}"
    );
}

/// Each chain record names the position of the chain record before it (0 for the first):
/// one line, no fork.
fn assert_linear_chain(records: &[Record]) -> usize {
    let mut previous = 0u64;
    let mut length = 0;
    for record in records.iter().filter(|r| r.key.as_str() == "chain") {
        let expected = u64::from_be_bytes(record.bytes.as_slice().try_into().unwrap());
        assert_eq!(
            expected, previous,
            "chain record `{}` at {} was appended after {expected}, but the chain's previous \
             record is at {previous}",
            record.event_id, record.position
        );
        previous = record.position.get();
        length += 1;
    }
    length
}

#[test]
fn restart_during_publishing_keeps_every_acknowledged_event_exactly_once() {
    let deadline = Instant::now() + BUDGET;
    let mut server = NatsServer::start();
    let options = short(server.options());
    let log = NatsLog::connect(&options).unwrap();
    let stop = AtomicBool::new(false);
    let batches = AtomicUsize::new(0);
    let acked = thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        let publisher = scope.spawn(|| publish(&log, "e", &stop, &batches, deadline));
        for restart in 1..=2 {
            let target = batches.load(Ordering::SeqCst) + BATCHES_PER_PHASE;
            wait_until(deadline, "batches", &[&publisher], || {
                batches.load(Ordering::SeqCst) >= target
            });
            let started = Instant::now();
            server.restart();
            eprintln!(
                "restart {restart}: accepting again after {:?}",
                started.elapsed()
            );
        }
        let target = batches.load(Ordering::SeqCst) + BATCHES_PER_PHASE;
        wait_until(
            deadline,
            "batches after the restarts",
            &[&publisher],
            || batches.load(Ordering::SeqCst) >= target,
        );
        stop.store(true, Ordering::SeqCst);
        join(publisher)
    });
    assert!(acked.len() >= 3 * BATCHES_PER_PHASE * BATCH);

    // Through the connection that lived through the restarts, and a fresh one.
    let records = read_all(&log, deadline);
    assert_exactly_once(&records, &acked);
    let fresh = read_all(&connect(&options, deadline), deadline);
    assert_eq!(fresh, records);
}

/// The server's dedup memory is in its store: after a crash and a start on the same store,
/// a retry of an acknowledged record is a duplicate, not a second copy.
#[test]
fn a_server_started_again_on_its_store_remembers_event_ids() {
    let deadline = Instant::now() + BUDGET;
    let mut server = NatsServer::start();
    let (port, options) = (server.port(), short(server.options()));
    let log = NatsLog::connect(&options).unwrap();
    let batch = || {
        (1..=3)
            .map(|i| rec(format!("e{i}"), "run.a", vec![i]))
            .collect::<Vec<_>>()
    };
    log.append_batch(batch()[..2].to_vec()).unwrap();

    server.stop();
    assert!(!server.is_running());
    assert!(
        log.append(batch()[2].clone()).is_err(),
        "nothing to append to"
    );

    server.start_again();
    assert_eq!(server.port(), port);
    let again = retry(deadline, "appending after the start", || {
        log.append_batch(batch())
    });
    assert_eq!(again[0], Appended::Duplicate(Position::new(1)));
    assert_eq!(again[1], Appended::Duplicate(Position::new(2)));
    // e3's failed append may have been sent once the client reconnected.
    assert_eq!(again[2].position(), Position::new(3));
    assert_eq!(read_all(&log, deadline).len(), 3);
}

/// Which node leads the stream, asked with a plain client through node `via`.
fn stream_leader(cluster: &NatsCluster, via: usize) -> Option<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = cluster.node_url(via);
    let leader = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), async {
            let client = async_nats::connect(url).await.ok()?;
            let js = async_nats::jetstream::new(client);
            let mut stream = js.get_stream("VOUCH").await.ok()?;
            let info = stream.info().await.ok()?;
            info.cluster.as_ref()?.leader.clone()
        })
        .await
        .ok()
        .flatten()
    })?;
    cluster.node_index(&leader)
}

#[test]
fn cluster_node_loss_keeps_acknowledged_events_and_a_linear_chain() {
    let deadline = Instant::now() + BUDGET;
    let mut cluster = NatsCluster::start(3);
    let options = short(cluster.options());
    assert_eq!(options.replicas, 3);
    let publisher_log = connect(&options, deadline);
    let chain_logs = [connect(&options, deadline), connect(&options, deadline)];
    let stop = AtomicBool::new(false);
    let batches = AtomicUsize::new(0);
    let chained = AtomicUsize::new(0);
    let (acked, chain_acked, killed, identity) = thread::scope(|scope| {
        let _stop = StopOnDrop(&stop);
        let publisher = scope.spawn(|| publish(&publisher_log, "e", &stop, &batches, deadline));
        let chain_writers: Vec<_> = chain_logs
            .iter()
            .enumerate()
            .map(|(writer, log)| {
                let (stop, chained) = (&stop, &chained);
                scope.spawn(move || extend_chain(log, writer, stop, chained, deadline))
            })
            .collect();
        let writers = [&publisher, &chain_writers[0], &chain_writers[1]];
        let progress = |what: &str| {
            let (b, c) = (
                batches.load(Ordering::SeqCst) + BATCHES_PER_PHASE,
                chained.load(Ordering::SeqCst) + CHAIN_PER_PHASE,
            );
            wait_until(deadline, what, &writers, || {
                batches.load(Ordering::SeqCst) >= b && chained.load(Ordering::SeqCst) >= c
            });
        };
        progress("writes before the node loss");
        let leader = loop {
            if let Some(leader) = stream_leader(&cluster, 0) {
                break leader;
            }
            assert!(Instant::now() < deadline, "no stream leader reported");
            sleep(BACKOFF);
        };
        eprintln!(
            "killing the stream leader {} (clients connected through {})",
            cluster.node_name(leader),
            cluster.node_name(0)
        );
        let (b0, c0) = (
            batches.load(Ordering::SeqCst),
            chained.load(Ordering::SeqCst),
        );
        let identity = retry(deadline, "the log's identity", || publisher_log.identity());
        cluster.kill(leader);
        let killed_at = Instant::now();
        wait_until(deadline, "a batch after the node loss", &writers, || {
            batches.load(Ordering::SeqCst) > b0 + 1
        });
        let batch_resumed = killed_at.elapsed();
        wait_until(
            deadline,
            "a chain record after the node loss",
            &writers,
            || chained.load(Ordering::SeqCst) > c0 + 1,
        );
        eprintln!(
            "after the node loss: batches acknowledged again within {batch_resumed:?}, chain \
             records within {:?}",
            killed_at.elapsed()
        );
        progress("writes after the node loss");
        stop.store(true, Ordering::SeqCst);
        let acked = join(publisher);
        let chain_acked: Vec<_> = chain_writers.into_iter().flat_map(join).collect();
        (acked, chain_acked, leader, identity)
    });

    // Reading works through every surviving node, and they agree.
    let survivors: Vec<usize> = (0..cluster.len()).filter(|&i| i != killed).collect();
    let read_via = |url: String| {
        let mut options = options.clone();
        options.url = url;
        options.create = false;
        let log = connect(&options, deadline);
        // A new leader is the same log: directories recorded its identity and would
        // refuse another.
        let now = retry(deadline, "the log's identity", || log.identity());
        assert_eq!(
            now, identity,
            "the stream's identity changed with its leader"
        );
        read_all(&log, deadline)
    };
    let reading = Instant::now();
    let records = read_via(cluster.node_url(survivors[0]));
    eprintln!("read {} records in {:?}", records.len(), reading.elapsed());
    assert_eq!(read_via(cluster.node_url(survivors[1])), records);

    let run_records: Vec<Record> = records
        .iter()
        .filter(|r| r.key.as_str() == "run.r1")
        .cloned()
        .collect();
    let all_acked: Vec<_> = acked.iter().chain(&chain_acked).cloned().collect();
    assert_exactly_once(&records, &all_acked);
    assert_eq!(run_records.len(), acked.len());
    let length = assert_linear_chain(&records);
    assert_eq!(length, chain_acked.len());
    assert!(length >= 2 * CHAIN_PER_PHASE);

    // The lost node comes back on its store, catches up, and serves the same log.
    let restarting = Instant::now();
    cluster.restart(killed);
    eprintln!("lost node back and healthy in {:?}", restarting.elapsed());
    assert_eq!(read_via(cluster.node_url(killed)), records);
}
