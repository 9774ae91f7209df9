//! End-to-end throughput of a NATS ledger on loopback, beside the raw async-nats
//! JetStream publish rate of messages of the same size measured in the same run.
//!
//! ```text
//! cargo run --release -p vouch-ledger --example nats_bench                  # 1,000,000 events
//! cargo run --release -p vouch-ledger --example nats_bench -- 200000        # fewer
//! cargo run --release -p vouch-ledger --example nats_bench -- --sync-always # fsync every message
//! cargo run --release -p vouch-ledger --example nats_bench -- --url nats://127.0.0.1:4222
//! ```
//!
//! The server: unless `--url URL` (or `VOUCH_BENCH_NATS_URL`) names a running one, the
//! bench starts its own `nats-server -js` on a free loopback port with a temporary store,
//! through `vouch-test-nats`, which runs `NATS_SERVER_BIN` or `nats-server` on `PATH`
//! (`./scripts/test` installs a pinned one into `target/test-tools/bin/nats-server`:
//! `NATS_SERVER_BIN=target/test-tools/bin/nats-server cargo run --release ...`). That
//! server keeps JetStream's default fsync policy (`sync_interval` 2 minutes: an ack means
//! the message is in the server's file store, not yet on disk) unless `--sync-always`
//! (`jetstream { sync_interval: always }`: fsync before every ack). On a server given by
//! URL the bench creates streams with unique names and deletes them at the end.
//!
//! The workload is `bench`'s: metric events over 1,000 runs, one value per event. Phases:
//!
//! 1. raw: async-nats alone publishes N messages to a separate file stream with the same
//!    duplicate window, each with a unique `Nats-Msg-Id` (Vouch's event ids) and a payload
//!    of the average size of Vouch's encoded events, pipelined with at most 256 acks in
//!    flight (Vouch's window) and the same client settings, every ack awaited. The ceiling
//!    for the same work through Vouch. (This example uses async-nats directly only for
//!    this baseline and for cleaning up.) Run again at the very end, to show how far the
//!    machine's load moved meanwhile; ratios are to the mean of the two.
//! 2. Vouch publish: `Ledger::append_unprojected` in batches of 8,192 (encode, the
//!    event-id check against the views, publish, all acks), then `flush`.
//! 3. projection: `catch_up` of those events into the ledger's views. Publish plus
//!    projection is the sequential end-to-end figure.
//! 4. rebuild: `rebuild` of the views from the stream.
//! 5. overlapped end to end, twice, each on a stream of its own: the same events
//!    published while another thread, with its own ledger directory on that stream, runs
//!    `catch_up` in a loop, timed until that follower has applied every event. First the
//!    follower starts its next catch-up as soon as one ends, as `vouch serve` does with a
//!    backlog (it pauses only when idle; unlike serve, this loop keeps its ledger open
//!    rather than reopening it every second); then it starts one at most every 100 ms
//!    (`--follow-every`), so each catch-up takes a larger slice.
//!
//! Besides wall time, each phase reports the CPU seconds of this process and of the server
//! (from `/proc`), since on a small machine the two share the cores and CPU per event
//! decides the rate.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage, stream};
use vouch_event::{Body, Event, EventId, MetricsLogged, Name, Producer, RunId, Subject, Timestamp};
use vouch_ledger::{Ledger, OpenOptions, DUPLICATE_WINDOW};
use vouch_log::Appended;

/// Events per `append_unprojected`, as in `bench`.
const BATCH: usize = 8192;

/// Publish acks in flight at once: `vouch_log_nats`'s `ACK_WINDOW` (private there).
const ACK_WINDOW: usize = 256;

const USAGE: &str = "usage: nats_bench [COUNT] [--url URL] [--sync-always] [--follow-every MS]
  COUNT              metric events (default 1000000), over 1,000 runs
  --url URL          use this running server (or VOUCH_BENCH_NATS_URL), not one started here
  --sync-always      start the server with `jetstream { sync_interval: always }`
  --follow-every MS  the paced follower starts a catch-up at most every MS ms (default 100)";

struct Args {
    total: u64,
    follow_every: Duration,
    url: Option<String>,
    sync_always: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        total: 1_000_000,
        follow_every: Duration::from_millis(100),
        url: std::env::var("VOUCH_BENCH_NATS_URL")
            .ok()
            .filter(|u| !u.is_empty()),
        sync_always: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--url" => args.url = Some(it.next().unwrap_or_else(|| usage("--url needs a URL"))),
            "--sync-always" => args.sync_always = true,
            "--follow-every" => {
                let ms = it.next().and_then(|v| v.parse().ok());
                let ms = ms.unwrap_or_else(|| usage("--follow-every needs milliseconds"));
                args.follow_every = Duration::from_millis(ms);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            n => {
                args.total = n
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("unexpected argument `{n}`")))
            }
        }
    }
    if args.total < 1000 {
        usage("COUNT must be at least 1000 (one event per run)");
    }
    if args.url.is_some() && args.sync_always {
        usage("--sync-always applies only to the server the bench starts");
    }
    args
}

fn usage(problem: &str) -> ! {
    eprintln!("nats_bench: {problem}\n{USAGE}");
    std::process::exit(2);
}

/// `bench`'s metric events: 1,000 runs, one metric value per event, steps 0, 1, 2 …
fn metric_events(total: u64) -> Vec<Event> {
    let runs = 1000u64;
    let per_run = total / runs;
    let names: Vec<Name> = ["loss", "auc", "accuracy", "ece"]
        .iter()
        .map(|n| Name::new(*n).unwrap())
        .collect();
    let producer = Producer::new("bench").unwrap();
    let mut events = Vec::with_capacity(total as usize);
    for r in 0..runs {
        let run = RunId::new(format!("bench-{r:05}")).unwrap();
        for s in 0..per_run {
            let mut metrics = BTreeMap::new();
            metrics.insert(names[(s % 4) as usize].clone(), 1.0 / (s as f64 + 1.0));
            events.push(Event {
                id: EventId::new(format!("bench-{r:05}-{s}")).unwrap(),
                time: Timestamp::from_unix_nanos(1_764_300_000_000_000_000 + s as i64 * 1_000_000),
                producer: producer.clone(),
                subject: Subject::Run(run.clone()),
                body: Body::MetricsLogged(MetricsLogged {
                    metrics,
                    step: Some(s),
                    segment: None,
                }),
            });
        }
    }
    events
}

/// The runtime shape `vouch-log-nats` uses: one worker thread serving the connection,
/// the publishing loop driven by `block_on` from the calling thread.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(url: &str) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(url).await.expect("connect to NATS");
    // The context settings `vouch-log-nats` uses.
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_ack_inflight(ACK_WINDOW * 16)
        .backpressure_on_inflight(true)
        .build(client.clone());
    (client, js)
}

/// Phase 1: `ids.len()` messages of `size` bytes to a fresh file stream, window of
/// [`ACK_WINDOW`]. Returns the seconds from the first publish to the last ack.
fn raw_publish(
    rt: &tokio::runtime::Runtime,
    url: &str,
    stream_name: &str,
    subjects: &[String],
    ids: &[String],
    size: usize,
) -> f64 {
    rt.block_on(async {
        let (_client, js) = connect(url).await;
        let mut stream = js
            .create_stream(stream::Config {
                name: stream_name.to_owned(),
                subjects: vec![format!("{stream_name}.>")],
                storage: stream::StorageType::File,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .expect("create the raw stream");
        let template = PublishMessage::build().payload(vec![0x5a; size].into());
        let start = Instant::now();
        let mut in_flight = VecDeque::with_capacity(ACK_WINDOW);
        for (subject, id) in subjects.iter().zip(ids) {
            let publish = template.clone().message_id(id);
            let ack = js
                .send_publish(subject.clone(), publish)
                .await
                .expect("raw publish");
            in_flight.push_back(ack);
            if in_flight.len() >= ACK_WINDOW {
                let ack = in_flight.pop_front().unwrap().await.expect("raw ack");
                assert!(!ack.duplicate);
            }
        }
        while let Some(ack) = in_flight.pop_front() {
            assert!(!ack.await.expect("raw ack").duplicate);
        }
        let secs = start.elapsed().as_secs_f64();
        let info = stream.info().await.expect("raw stream info");
        assert_eq!(
            info.state.messages,
            ids.len() as u64,
            "raw stream holds all"
        );
        secs
    })
}

/// Ledger options for a stream of this name, its subjects prefixed with the name in lower
/// case (so streams never overlap, on someone else's server either).
fn ledger_options(url: &str, stream: &str) -> OpenOptions {
    let mut options = OpenOptions::nats(url);
    options.nats.stream = stream.to_owned();
    options.nats.prefix = stream.to_lowercase();
    options
}

/// Appends every event in batches, then flushes; the seconds taken.
fn publish(ledger: &mut Ledger, events: &[Event]) -> f64 {
    let start = Instant::now();
    for chunk in events.chunks(BATCH) {
        let results = ledger.append_unprojected(chunk).expect("append");
        assert!(results.iter().all(|a| matches!(a, Appended::New(_))));
    }
    ledger.flush().expect("flush");
    start.elapsed().as_secs_f64()
}

/// What the overlapped phase saw.
struct Overlap {
    publish: f64,
    caught_up: f64,
    lag_at_publish_end: u64,
    /// `catch_up` calls that applied something.
    rounds: u64,
}

/// Phase 5: publishes `events` into a fresh stream through `publisher_dir` while a
/// second ledger in `follower_dir` catches up in a loop.
fn overlapped(options: &OpenOptions, root: &Path, events: &[Event], every: Duration) -> Overlap {
    let n = events.len() as u64;
    let publisher_dir = root.join(format!("{}-publisher", options.nats.stream));
    let follower_dir = root.join(format!("{}-follower", options.nats.stream));
    Ledger::init(&publisher_dir, options).expect("init the e2e ledger");
    let mut publisher = Ledger::open(&publisher_dir, options).expect("open the e2e ledger");
    let position = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let follower = {
        let (options, position, barrier) = (options.clone(), position.clone(), barrier.clone());
        std::thread::spawn(move || {
            // Opening makes the follower's directory: only views, of the same stream.
            let mut ledger = Ledger::open(&follower_dir, &options).expect("open the follower");
            barrier.wait();
            let start = Instant::now();
            let mut rounds = 0;
            loop {
                let began = Instant::now();
                let report = ledger
                    .catch_up(&mut |p, _| position.store(p.get(), Ordering::Relaxed))
                    .expect("follower catch-up");
                if report.to > report.from {
                    rounds += 1;
                }
                if report.to.get() >= n {
                    return (start.elapsed().as_secs_f64(), rounds);
                }
                let pause = if report.to == report.from {
                    Duration::from_millis(2).max(every)
                } else {
                    every.saturating_sub(began.elapsed())
                };
                std::thread::sleep(pause);
            }
        })
    };
    barrier.wait();
    let publish = publish(&mut publisher, events);
    let lag_at_publish_end = n - position.load(Ordering::Relaxed);
    let (caught_up, rounds) = follower.join().expect("follower thread");
    Overlap {
        publish,
        caught_up,
        lag_at_publish_end,
        rounds,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name: state is the first, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on Linux
}

/// The pid of the server this process started (the main thread's only child).
fn server_pid() -> Option<String> {
    let pid = std::process::id();
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children.split_whitespace().next().map(str::to_owned)
}

/// CPU seconds of this process and of the server, read together.
#[derive(Clone, Copy)]
struct Cpu {
    bench: f64,
    server: Option<f64>,
}

fn cpu(server: Option<&str>) -> Cpu {
    Cpu {
        bench: cpu_seconds("self").unwrap_or(f64::NAN),
        server: server.and_then(cpu_seconds),
    }
}

/// One line of the table: a measured span and the CPU both sides used in it.
struct Row {
    what: &'static str,
    secs: f64,
    bench_cpu: f64,
    server_cpu: Option<f64>,
    /// `None` for a raw run; else whether to show the ratio to the raw rate.
    vs_raw: Option<bool>,
}

impl Row {
    fn new(what: &'static str, secs: f64, before: Cpu, after: Cpu, vs_raw: Option<bool>) -> Row {
        Row {
            what,
            secs,
            bench_cpu: after.bench - before.bench,
            server_cpu: after.server.zip(before.server).map(|(a, b)| a - b),
            vs_raw,
        }
    }

    fn print(&self, n: u64, raw: f64) {
        let rate = n as f64 / self.secs;
        let ratio = match self.vs_raw {
            None => "raw".to_owned(),
            Some(true) => format!("{:>5.0}%", 100.0 * rate / raw),
            Some(false) => String::new(),
        };
        let (server, per_event) = match self.server_cpu {
            Some(s) => (
                format!("{s:>6.2}"),
                format!("{:>6.1}", (self.bench_cpu + s) * 1e6 / n as f64),
            ),
            None => ("     -".to_owned(), "     -".to_owned()),
        };
        println!(
            "  {:<50} {:>7.3} s {:>9.0}/s {ratio:>6}   {:>6.2} {server} {per_event}",
            self.what, self.secs, rate, self.bench_cpu
        );
    }
}

fn main() {
    let args = parse_args();
    let load_before = load_average();
    // Our own server, unless one is given; it stops when dropped at the end.
    let scratch = tempfile::tempdir().unwrap();
    let (server, url, sync) = match &args.url {
        Some(url) => (
            None,
            url.clone(),
            "the server's own setting (not known here)",
        ),
        None => {
            let server = if args.sync_always {
                let config = scratch.path().join("sync-always.conf");
                std::fs::write(&config, "jetstream { sync_interval: always }\n").unwrap();
                vouch_test_nats::NatsServer::start_with(&["-c", config.to_str().unwrap()])
            } else {
                vouch_test_nats::NatsServer::start()
            };
            let url = server.url();
            let sync = if args.sync_always {
                "sync_interval: always (fsync before every ack)"
            } else {
                "default sync_interval 2m (no fsync per ack)"
            };
            (Some(server), url, sync)
        }
    };
    // Unique names on someone else's server; plain ones on ours.
    let suffix = match &server {
        Some(_) => String::new(),
        None => format!(
            "_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        ),
    };
    let streams: Vec<String> = ["RAW", "VOUCH", "E2E", "E2E_PACED", "RAW_AFTER"]
        .iter()
        .map(|name| format!("{name}{suffix}"))
        .collect();
    let rt = runtime();

    let events = metric_events(args.total);
    let n = events.len() as u64;
    let records: Vec<_> = events
        .iter()
        .map(|e| vouch_ledger::record(e).expect("bench events are small"))
        .collect();
    let payload = records.iter().map(|r| r.bytes.len()).sum::<usize>() / records.len();
    let id_len = records.iter().map(|r| r.event_id.len()).sum::<usize>() / records.len();
    drop(records);
    // The same ids and log keys as Vouch's records, under a raw stream's subjects.
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let keys: Vec<String> = events
        .iter()
        .map(|e| vouch_ledger::log_key(e).as_str().to_owned())
        .collect();
    let subjects = |stream: &str| -> Vec<String> {
        keys.iter().map(|key| format!("{stream}.{key}")).collect()
    };
    let version = rt.block_on(async {
        let (client, _) = connect(&url).await;
        client.server_info().version
    });

    println!("nats_bench: {n} metric events over 1,000 runs, one value each");
    match &server {
        Some(s) => println!(
            "  server: nats-server {version}, started here at {url}, store {}",
            s.store_dir().display()
        ),
        None => println!("  server: nats-server {version} at {url}"),
    }
    println!("  fsync: {sync}");
    println!(
        "  record: {payload} B payload on average, {id_len} B Nats-Msg-Id; \
         ack window {ACK_WINDOW}, batches of {BATCH}"
    );
    println!("  load average before: {load_before}");

    let server_pid = server.as_ref().and_then(|_| server_pid());
    let cpu = || cpu(server_pid.as_deref());
    let mut rows = Vec::new();

    // Phase 1: raw async-nats.
    let before = cpu();
    let raw_secs = raw_publish(
        &rt,
        &url,
        &streams[0],
        &subjects(&streams[0]),
        &ids,
        payload,
    );
    rows.push(Row::new(
        "raw async-nats publish, first",
        raw_secs,
        before,
        cpu(),
        None,
    ));

    // Phases 2-4: a ledger on the stream.
    let root = scratch.path();
    let options = ledger_options(&url, &streams[1]);
    let dir = root.join("ledger");
    Ledger::init(&dir, &options).expect("init the NATS ledger");
    let mut ledger = Ledger::open(&dir, &options).expect("open the NATS ledger");
    let before = cpu();
    let publish_secs = publish(&mut ledger, &events);
    let published = cpu();
    rows.push(Row::new(
        "Vouch publish (append_unprojected + flush)",
        publish_secs,
        before,
        published,
        Some(true),
    ));
    let start = Instant::now();
    let report = ledger.catch_up(&mut |_, _| {}).expect("catch up");
    let project_secs = start.elapsed().as_secs_f64();
    let projected = cpu();
    assert_eq!(report.applied, n, "every event projected");
    rows.push(Row::new(
        "Vouch projection (catch_up)",
        project_secs,
        published,
        projected,
        Some(false),
    ));
    let start = Instant::now();
    let report = ledger.rebuild(&mut |_, _| {}).expect("rebuild");
    let rebuild_secs = start.elapsed().as_secs_f64();
    assert_eq!(report.applied, n, "every event rebuilt");
    rows.push(Row::new(
        "Vouch rebuild of the views",
        rebuild_secs,
        projected,
        cpu(),
        Some(false),
    ));
    drop(ledger);
    rows.push(Row::new(
        "end to end, sequential (publish, then catch_up)",
        publish_secs + project_secs,
        before,
        projected,
        Some(true),
    ));

    // Phase 5: publish and follow at once; the follower as `vouch serve` paces itself,
    // then starting a catch-up at most every `--follow-every`.
    let mut overlaps = Vec::new();
    for (stream, every, what) in [
        (
            &streams[2],
            Duration::ZERO,
            "end to end, overlapped, follower continuous",
        ),
        (
            &streams[3],
            args.follow_every,
            "end to end, overlapped, follower paced",
        ),
    ] {
        let before = cpu();
        let e2e = overlapped(&ledger_options(&url, stream), root, &events, every);
        rows.push(Row::new(what, e2e.caught_up, before, cpu(), Some(true)));
        overlaps.push((what, every, e2e));
    }

    // The raw rate again, to see how much the machine's load moved meanwhile.
    let before = cpu();
    let raw_again = raw_publish(
        &rt,
        &url,
        &streams[4],
        &subjects(&streams[4]),
        &ids,
        payload,
    );
    rows.push(Row::new(
        "raw async-nats publish, again at the end",
        raw_again,
        before,
        cpu(),
        None,
    ));
    let load_after = load_average();
    // Ratios are to the mean of the two raw rates.
    let raw = (n as f64 / raw_secs + n as f64 / raw_again) / 2.0;

    println!();
    println!(
        "  {:<50} {:>9} {:>11} {:>6}   {:>6} {:>6} {:>6}",
        "phase", "time", "events", "vs raw", "CPU s", "server", "µs/ev"
    );
    for row in &rows {
        row.print(n, raw);
    }
    println!("  raw: {raw:.0}/s, the mean of the two raw runs; target: end to end >= 60% of raw");
    for (what, every, e2e) in &overlaps {
        println!(
            "  {what} ({} ms): publishing took {:.3} s ({:.0}/s); at the last ack the \
             follower was {} events behind, done {:.3} s later; {} catch-ups, {:.0} events each",
            every.as_millis(),
            e2e.publish,
            n as f64 / e2e.publish,
            e2e.lag_at_publish_end,
            e2e.caught_up - e2e.publish,
            e2e.rounds,
            n as f64 / e2e.rounds.max(1) as f64
        );
    }
    println!("  CPU s: this process (publisher, projector); server: the nats-server's, when");
    println!("  started here; µs/ev: both, per event.");
    println!("  load average after: {load_after}");

    if server.is_none() {
        rt.block_on(async {
            let (_client, js) = connect(&url).await;
            for name in &streams {
                if let Err(e) = js.delete_stream(name).await {
                    eprintln!("nats_bench: could not delete stream {name}: {e}");
                }
            }
        });
    }
    drop(server);
}
