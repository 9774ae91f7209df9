//! The tree over the log at scale: proofs from the sled-backed tree the views keep.
//!
//! ```text
//! cargo run --release -p vouch-ledger --example tlog_bench             # 1,000,000 records
//! cargo run --release -p vouch-ledger --example tlog_bench -- 200000   # fewer
//! ```
//!
//! Appends N `metrics_logged` events, projects them (building the tree), then times, warm:
//! the tree head, inclusion proofs of random records against the whole tree, consistency
//! proofs from random earlier sizes, and roots at random earlier sizes; each proof is
//! checked with `vouch_tlog::proof`.

use std::collections::BTreeMap;
use std::time::Instant;

use vouch_event::{Body, Event, EventId, MetricsLogged, Name, Producer, RunId, Subject, Timestamp};
use vouch_ledger::{Ledger, OpenOptions};
use vouch_log::Position;

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger");
    Ledger::init(&path, &OpenOptions::default()).unwrap();
    let mut ledger = Ledger::open(&path, &OpenOptions::default()).unwrap();
    let name = Name::new("loss").unwrap();
    let mut batch = Vec::with_capacity(8192);
    for i in 0..total {
        let run = RunId::new(format!("bench-{:05}", i % 1000)).unwrap();
        batch.push(Event {
            id: EventId::new(format!("e-{i}")).unwrap(),
            time: Timestamp::from_unix_nanos(1_764_300_000_000_000_000 + i as i64),
            producer: Producer::new("bench").unwrap(),
            subject: Subject::Run(run),
            body: Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(name.clone(), 1.0 / (i as f64 + 1.0))]),
                step: Some(i),
                segment: None,
            }),
        });
        if batch.len() == 8192 {
            ledger.append_unprojected(&batch).unwrap();
            batch.clear();
        }
    }
    ledger.append_unprojected(&batch).unwrap();
    ledger.flush().unwrap();
    let start = Instant::now();
    ledger.catch_up(&mut |_, _| {}).unwrap();
    println!(
        "records: {total}, projected with the tree in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let head = ledger.tree_head().unwrap();
    assert_eq!(head.size, total);

    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let time = |what: &str, runs: u32, f: &mut dyn FnMut()| {
        f();
        let mut samples: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        println!(
            "  {what:<40} median {:.3} ms, p99 {:.3} ms ({runs} runs)",
            samples[samples.len() / 2],
            samples[samples.len() * 99 / 100]
        );
    };
    time("tree head", 1000, &mut || {
        ledger.tree_head().unwrap();
    });
    time("inclusion proof, random record", 1000, &mut || {
        let position = 1 + next(total);
        let proof = ledger
            .inclusion_proof(Position::new(position), head.size)
            .unwrap();
        assert!(proof.len() <= 64);
    });
    time("consistency proof, random old size", 1000, &mut || {
        let old = 1 + next(total);
        let proof = ledger.consistency_proof(old, head.size).unwrap();
        assert!(proof.len() <= 128);
    });
    time("root at a random earlier size", 1000, &mut || {
        ledger.root_at(1 + next(total)).unwrap();
    });
    // The proofs verify.
    let old = total / 3;
    let old_root = ledger.root_at(old).unwrap();
    let proof = ledger.consistency_proof(old, head.size).unwrap();
    vouch_tlog::proof::verify_consistency(old, head.size, &old_root, &head.root, &proof).unwrap();
}
