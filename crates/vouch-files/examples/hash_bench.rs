//! How fast `vouch log artifact` hashes a large file: BLAKE3 alone, SHA-256 alone, and
//! both in one read as `vouch_files::hash::hash_file` does it (the target: both at least
//! 80% of the slower hash alone), and for comparison both on one thread.
//!
//! `cargo run --release -p vouch-files --example hash_bench -- [MiB]` (default 2048)
//! writes a file of that size in a temporary directory, then times each three times
//! (best of 3, the file in the page cache after the first pass).

use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use sha2::Digest as _;
use vouch_files::hash::{cpu_has_sha_instructions, hash_file, hash_reader_sequential, CHUNK};

fn main() {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the size in MiB, a whole number"))
        .unwrap_or(2048);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("artifact.bin");
    write_file(&path, mib);
    let bytes = mib << 20;
    println!(
        "file: {mib} MiB; SHA instructions: {}; cores: {}",
        if cpu_has_sha_instructions() {
            "yes"
        } else {
            "no"
        },
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    let blake3_alone = best_of_3(bytes, || {
        stream(&path, |chunk, h: &mut blake3::Hasher| {
            h.update(chunk);
        })
    });
    let sha256_alone = best_of_3(bytes, || {
        stream(&path, |chunk, h: &mut sha2::Sha256| h.update(chunk))
    });
    let both = best_of_3(bytes, || {
        std::hint::black_box(hash_file(&path, false).expect("hashed"));
    });
    let one_thread = best_of_3(bytes, || {
        let file = std::fs::File::open(&path).expect("opened");
        std::hint::black_box(hash_reader_sequential(file, false).expect("hashed"));
    });
    let slower = blake3_alone.min(sha256_alone);
    println!("blake3 alone:        {blake3_alone:8.0} MB/s");
    println!("sha256 alone:        {sha256_alone:8.0} MB/s");
    println!("both, one thread:    {one_thread:8.0} MB/s (for comparison: no second thread)");
    println!(
        "both, one read:      {both:8.0} MB/s ({:.0}% of the slower alone; target 80%)",
        100.0 * both / slower
    );
}

/// A file of `mib` MiB of varied bytes (not zeros, which a file system may keep sparse).
fn write_file(path: &Path, mib: u64) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("created"));
    let mut block = vec![0u8; 1 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..mib {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&(state ^ i).to_le_bytes());
        }
        file.write_all(&block).expect("written");
    }
    file.flush().expect("flushed");
}

/// Reads the file once in [`CHUNK`]s through one hasher.
fn stream<H: Default>(path: &Path, mut update: impl FnMut(&[u8], &mut H)) {
    let mut file = std::fs::File::open(path).expect("opened");
    let mut hasher = H::default();
    let mut buffer = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buffer).expect("read");
        if n == 0 {
            break;
        }
        update(&buffer[..n], &mut hasher);
    }
    std::hint::black_box(&hasher);
}

/// The best of three runs, in MB/s (10^6 bytes a second).
fn best_of_3(bytes: u64, mut run: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            run();
            bytes as f64 / start.elapsed().as_secs_f64() / 1e6
        })
        .fold(0.0, f64::max)
}
