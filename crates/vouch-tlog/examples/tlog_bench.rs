//! Micro-benchmark of the tree: append N records (default 1,000,000), then the median time
//! to generate and verify an inclusion and a consistency proof at that size, warm, with the
//! in-memory store. The raw SHA-256 rate over the same bytes is the anchor.
//!
//! `cargo run --release -p vouch-tlog --example tlog_bench -- N`

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use vouch_tlog::proof::{verify_consistency, verify_inclusion};
use vouch_tlog::store::{MemoryStore, MemoryStoreGap, NodeKey, NodeStore};
use vouch_tlog::tree::{Hash, Tree};

/// Bytes per record: about the size of a stored Vouch event.
const RECORD: usize = 256;
const SAMPLES: usize = 1000;

/// The bytes of record `i`: its index then a fixed filler, so every leaf differs.
fn record(i: u64, buf: &mut [u8; RECORD]) {
    buf[..8].copy_from_slice(&i.to_be_bytes());
}

/// A small deterministic generator (xorshift64*), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// The in-memory store, counting reads: a store on disk (sled) pays per read, so the count
/// is what carries over to it.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    reads: Cell<u64>,
}

impl NodeStore for Counting {
    type Error = MemoryStoreGap;

    fn get(&self, key: NodeKey) -> Result<Option<Hash>, Self::Error> {
        self.reads.set(self.reads.get() + 1);
        self.inner.get(key)
    }

    fn put(&mut self, nodes: &[(NodeKey, Hash)], new_size: u64) -> Result<(), Self::Error> {
        self.inner.put(nodes, new_size)
    }

    fn size(&self) -> Result<u64, Self::Error> {
        self.inner.size()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: u64 = match std::env::args().nth(1) {
        Some(arg) => arg
            .replace('_', "")
            .parse()
            .expect("N: a number of records"),
        None => 1_000_000,
    };
    assert!(n >= 2, "N must be at least 2");
    let mut buf = [0x5au8; RECORD];

    let start = Instant::now();
    for i in 0..n {
        record(i, &mut buf);
        black_box(Sha256::digest(buf));
    }
    let sha = start.elapsed();

    let mut tree = Tree::open(Counting::default()).expect("open");
    let start = Instant::now();
    for i in 0..n {
        record(i, &mut buf);
        tree.append(&buf).expect("append");
    }
    let append = start.elapsed();
    let per_s = |d: Duration| n as f64 / d.as_secs_f64();
    println!("records: {n} of {RECORD} bytes");
    println!(
        "raw SHA-256 of the records: {:.0}/s ({:.0} MB/s)",
        per_s(sha),
        per_s(sha) * RECORD as f64 / 1e6
    );
    println!(
        "append: {:.0}/s ({:.2} µs each; {:.2}× the raw SHA-256 time)",
        per_s(append),
        append.as_secs_f64() * 1e6 / n as f64,
        append.as_secs_f64() / sha.as_secs_f64()
    );

    let root = tree.root();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // One warm-up round, then the measured one.
    for round in 0..2 {
        let (mut gen_i, mut ver_i, mut gen_c, mut ver_c, mut len_i, mut len_c) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), 0, 0);
        let (mut reads_i, mut reads_c) = (0u64, 0u64);
        let reads = || tree.store().reads.get();
        for _ in 0..SAMPLES {
            let index = rng.below(n);
            record(index, &mut buf);
            let leaf = vouch_tlog::tree::leaf_hash(&buf);
            let r = reads();
            let t = Instant::now();
            let proof = tree.inclusion_proof(index, n).expect("inclusion proof");
            gen_i.push(t.elapsed());
            reads_i = reads_i.max(reads() - r);
            let t = Instant::now();
            verify_inclusion(index, n, &leaf, &proof, &root).expect("inclusion verifies");
            ver_i.push(t.elapsed());
            len_i = len_i.max(proof.len());

            let old = 1 + rng.below(n - 1);
            let r = reads();
            let t = Instant::now();
            let old_root = tree.root_at(old).expect("root_at");
            let proof = tree.consistency_proof(old, n).expect("consistency proof");
            gen_c.push(t.elapsed());
            reads_c = reads_c.max(reads() - r);
            let t = Instant::now();
            verify_consistency(old, n, &old_root, &root, &proof).expect("consistency verifies");
            ver_c.push(t.elapsed());
            len_c = len_c.max(proof.len());
        }
        if round == 1 {
            println!("median of {SAMPLES}, warm, at size {n}:");
            println!(
                "  inclusion:   generate {:?}, verify {:?} (proofs up to {len_i} hashes, {reads_i} store reads)",
                median(gen_i),
                median(ver_i)
            );
            println!(
                "  consistency: generate (with the old root) {:?}, verify {:?} (proofs up to {len_c} hashes, {reads_c} store reads)",
                median(gen_c),
                median(ver_c)
            );
        }
    }
}
