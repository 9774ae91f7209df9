//! Crash consistency: SIGKILL the `vouch` process while it appends and projects, at
//! random points (some while it is still opening the ledger), restart, and check that
//! the views equal a clean rebuild, the stored position never went backwards, and no
//! event was applied twice or lost.
//!
//! The kill delays come from a seeded generator; a failure prints the seed, and
//! `VOUCH_TEST_SEED=<seed>` replays the same schedule.

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::Duration;

use vouch_event::RunId;
use vouch_ledger::Ledger;

use crate::support::{metric_event, seed, start_event, Rng, TestLedger};

/// A chunk of JSON lines for `vouch ingest`: new metric events for one run, a few bad
/// lines (quarantine is not involved: ingest rejects them), and one event of an earlier
/// chunk (a duplicate).
fn chunk(n: u64, events: u64) -> Vec<u8> {
    let run = RunId::new(format!("ingested-{}", n % 4)).unwrap();
    let mut out = Vec::new();
    for i in 0..events {
        let event = metric_event(&run, n * events + i);
        writeln!(out, "{}", vouch_event::to_json(&event)).unwrap();
    }
    if n > 0 {
        let earlier = RunId::new(format!("ingested-{}", (n - 1) % 4)).unwrap();
        writeln!(
            out,
            "{}",
            vouch_event::to_json(&metric_event(&earlier, (n - 1) * events))
        )
        .unwrap();
    }
    out
}

/// The views' position, read in this process. sled 0.34 releases a store's file lock from
/// a background thread after the handle is dropped, so this process's previous open can
/// still hold it when the next iteration comes round fast (a child killed at once):
/// contention is waited out, up to a deadline, as the ledger itself does.
fn views_position(ledger: &TestLedger) -> u64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match vouch_views::Views::open(&ledger.path().join("views")) {
            Ok(views) => return views.position().unwrap().get(),
            Err(e) if e.is_lock_contention() && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("open views after a kill: {e:?}"),
        }
    }
}

fn kill_after(mut child: Child, delay: Duration) -> bool {
    std::thread::sleep(delay);
    let finished = matches!(child.try_wait(), Ok(Some(_)));
    let _ = child.kill();
    let _ = child.wait();
    !finished
}

#[test]
fn killing_the_projector_at_random_points_never_corrupts_the_views() {
    let seed = seed();
    eprintln!("crash test seed: {seed} (VOUCH_TEST_SEED={seed} replays it)");
    let mut rng = Rng(seed);
    let ledger = TestLedger::new();

    // A log long enough that projecting it takes a while: 60,000 events, unprojected.
    {
        let mut open = Ledger::open(&ledger.path(), &Default::default()).unwrap();
        for r in 0..6u64 {
            let run = RunId::new(format!("bulk-{r}")).unwrap();
            let mut events = vec![start_event(&run)];
            events.extend((0..9_999).map(|i| metric_event(&run, i)));
            open.append_unprojected(&events).unwrap();
        }
        open.flush().unwrap();
    }

    // New work keeps arriving: each ingest that completes is followed by a fresh chunk,
    // so most kills land while there is appending or projecting to do.
    const PER_CHUNK: u64 = 1_000;
    let mut chunks: Vec<std::path::PathBuf> = Vec::new();
    let mut last_position = 0u64;
    let mut kills = 0u32;
    let mut early_kills = 0u32;
    let mut completed = 0u32;
    let mut attempts = 0u32;
    while kills < 110 {
        attempts += 1;
        assert!(attempts < 1_000, "too few kills landed (seed {seed})");
        if chunks.len() == completed as usize {
            let n = chunks.len() as u64;
            chunks.push(ledger.file(&format!("chunk-{n}.jsonl"), &chunk(n, PER_CHUNK)));
        }
        // Mostly append-then-project (ingest), sometimes a pure projection (status).
        let ingesting = rng.below(3) != 0;
        let mut command = ledger.command();
        command.stdout(Stdio::null()).stderr(Stdio::null());
        if ingesting {
            command.arg("ingest").arg(chunks.last().unwrap());
        } else {
            command.arg("status");
        }
        let child = command.spawn().expect("spawn vouch");
        // One kill in six lands within 2 ms of the start: during process start-up and
        // while sled opens its stores.
        let early = rng.below(6) == 0;
        let delay = if early {
            Duration::from_micros(rng.below(2_000))
        } else {
            Duration::from_micros(rng.below(150_000))
        };
        let killed = kill_after(child, delay);
        if killed {
            kills += 1;
            early_kills += u32::from(early);
        } else if ingesting {
            completed += 1;
        }
        let position = views_position(&ledger);
        assert!(
            position >= last_position,
            "views position went back from {last_position} to {position} (seed {seed})"
        );
        last_position = position;
    }
    assert!(
        early_kills >= 5,
        "only {early_kills} early kills (seed {seed})"
    );

    // Finish the work: every chunk ingested once more (killed ingests may have stored a
    // prefix; the retry must deduplicate it).
    for path in &chunks {
        let run = ledger.command().arg("ingest").arg(path).output().unwrap();
        assert!(
            run.status.success(),
            "ingest after kills failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }

    let incremental = ledger.dump();
    let expected_events = 60_000 + chunks.len() as u64 * PER_CHUNK;
    assert_eq!(
        incremental["position"], expected_events,
        "every event stored exactly once (seed {seed})"
    );
    assert_eq!(
        incremental["counts"]["applied"], expected_events,
        "every event applied exactly once (seed {seed})"
    );
    assert_eq!(incremental["counts"]["quarantined"], 0);

    // A clean rebuild, and a projection into brand-new views, answer identically.
    let rebuilt = {
        let mut open = Ledger::open(&ledger.path(), &Default::default()).unwrap();
        open.rebuild(&mut |_, _| {}).unwrap();
        open.views().dump().unwrap()
    };
    assert_eq!(
        incremental, rebuilt,
        "views after kills differ from a rebuild (seed {seed})"
    );
    std::fs::remove_dir_all(ledger.path().join("views")).unwrap();
    assert_eq!(ledger.dump(), rebuilt, "fresh views differ (seed {seed})");
    eprintln!("{kills} kills ({early_kills} early) over {attempts} runs; views reached {last_position} during the kills; {completed} ingests completed");
}
