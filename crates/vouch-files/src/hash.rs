//! BLAKE3 and SHA-256 of a file in one read.
//!
//! Vouch names an artifact by BLAKE3; supply-chain tools (in-toto, SLSA, OCI) name it by
//! SHA-256. Reading a multi-gigabyte model twice would double the cost of `vouch log
//! artifact`, so both hashes are taken from one pass over the bytes. The two hashes run
//! at very different speeds (BLAKE3 vectorises across 1 KiB chunks; SHA-256 is one serial
//! chain, fast only with the CPU's SHA instructions), so for a file of more than one
//! [`CHUNK`] the reading thread feeds each chunk to BLAKE3 itself and hands the same
//! buffer to a second thread running SHA-256: the pass then costs about what the slower
//! hash costs alone. A file of at most one chunk is hashed on the calling thread, where a
//! thread would cost more than it saves.

use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use sha2::Digest as _;

/// The bytes read and handed to both hashers at a time. Large enough that the hand-off
/// between threads is noise, small enough that the buffers in flight stay a few MiB.
pub const CHUNK: usize = 1 << 20;

/// Chunks in flight between the reader and the SHA-256 thread: the reader can run this
/// far ahead before it waits for a buffer to come back.
const IN_FLIGHT: usize = 4;

/// The two digests, the size and (when asked) the line count of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashes {
    /// BLAKE3-256.
    pub blake3: [u8; 32],
    /// SHA-256.
    pub sha256: [u8; 32],
    /// The number of bytes.
    pub size: u64,
    /// Lines: newlines, plus one for a last line without one (0 for no bytes). Counted
    /// only when asked (datasets); otherwise 0.
    pub lines: u64,
}

/// Counts lines as they stream by.
#[derive(Clone, Copy)]
struct Lines {
    on: bool,
    newlines: u64,
    last: u8,
}

impl Lines {
    fn new(on: bool) -> Self {
        Lines {
            on,
            newlines: 0,
            last: b'\n',
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        if self.on && !bytes.is_empty() {
            self.newlines += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            self.last = bytes[bytes.len() - 1];
        }
    }

    fn finish(self) -> u64 {
        if self.on && self.last != b'\n' {
            self.newlines + 1
        } else {
            self.newlines
        }
    }
}

/// A buffer of [`CHUNK`] bytes and how many of them hold data.
struct Chunk {
    bytes: Vec<u8>,
    len: usize,
}

impl Chunk {
    fn new() -> Self {
        Chunk {
            bytes: vec![0; CHUNK],
            len: 0,
        }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Reads until the buffer is full or the reader ends; `len` says how far it got.
    fn fill(&mut self, reader: &mut impl Read) -> io::Result<()> {
        self.len = 0;
        while self.len < self.bytes.len() {
            match reader.read(&mut self.bytes[self.len..]) {
                Ok(0) => break,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn is_full(&self) -> bool {
        self.len == self.bytes.len()
    }
}

/// Opens `path` as a regular file ([`crate::open_regular`]) and hashes it: see
/// [`hash_reader`].
///
/// # Errors
/// As [`crate::open_regular`], and any read error.
pub fn hash_file(path: &Path, count_lines: bool) -> io::Result<Hashes> {
    hash_reader(crate::open_regular(path)?, count_lines)
}

/// Both digests of everything `reader` yields, in one pass: on this thread for at most
/// one [`CHUNK`] (or on a single core), with SHA-256 on a second thread beyond that.
///
/// # Errors
/// Any read error (the hashes of a partial read are never returned).
pub fn hash_reader(mut reader: impl Read, count_lines: bool) -> io::Result<Hashes> {
    let mut first = Chunk::new();
    first.fill(&mut reader)?;
    // At most one chunk, or one core (a second thread would only take turns with this
    // one): both hashes here.
    let one_core = std::thread::available_parallelism().map_or(true, |n| n.get() == 1);
    if !first.is_full() || one_core {
        return hash_sequential_from(reader, first, count_lines);
    }
    hash_parallel(reader, first, count_lines)
}

/// Both digests on the calling thread, one hasher after the other per chunk: the
/// reference [`hash_reader`] is tested against, and the baseline of the benchmark.
///
/// # Errors
/// Any read error.
pub fn hash_reader_sequential(mut reader: impl Read, count_lines: bool) -> io::Result<Hashes> {
    let mut first = Chunk::new();
    first.fill(&mut reader)?;
    hash_sequential_from(reader, first, count_lines)
}

/// Both hashes on this thread, starting from an already-read first chunk.
fn hash_sequential_from(
    mut reader: impl Read,
    mut chunk: Chunk,
    count_lines: bool,
) -> io::Result<Hashes> {
    let mut b3 = blake3::Hasher::new();
    let mut sha = sha2::Sha256::new();
    let mut lines = Lines::new(count_lines);
    let mut size = 0u64;
    loop {
        b3.update(chunk.data());
        sha.update(chunk.data());
        lines.update(chunk.data());
        size += chunk.len as u64;
        if !chunk.is_full() {
            break;
        }
        chunk.fill(&mut reader)?;
    }
    Ok(Hashes {
        blake3: *b3.finalize().as_bytes(),
        sha256: sha.finalize().into(),
        size,
        lines: lines.finish(),
    })
}

/// The reader thread (this one) reads each chunk and hashes it with BLAKE3 while a
/// scoped thread hashes the same shared buffer with SHA-256 and sends it back for reuse.
fn hash_parallel(mut reader: impl Read, first: Chunk, count_lines: bool) -> io::Result<Hashes> {
    std::thread::scope(|scope| {
        let (to_sha, chunks) = mpsc::sync_channel::<Arc<Chunk>>(IN_FLIGHT);
        let (give_back, returned) = mpsc::channel::<Arc<Chunk>>();
        let sha_thread = scope.spawn(move || {
            let mut sha = sha2::Sha256::new();
            for chunk in chunks {
                sha.update(chunk.data());
                // The reader may have finished and dropped its end: nothing to reuse then.
                let _ = give_back.send(chunk);
            }
            <[u8; 32]>::from(sha.finalize())
        });
        let mut b3 = blake3::Hasher::new();
        let mut lines = Lines::new(count_lines);
        let mut size = 0u64;
        let mut allocated = 1;
        let mut chunk = first;
        loop {
            let shared = Arc::new(chunk);
            let full = shared.is_full();
            if to_sha.send(Arc::clone(&shared)).is_err() {
                break; // The SHA-256 thread died: its join below reports the panic.
            }
            b3.update(shared.data());
            lines.update(shared.data());
            size += shared.len as u64;
            drop(shared);
            if !full {
                break;
            }
            chunk = if allocated < IN_FLIGHT {
                allocated += 1;
                Chunk::new()
            } else {
                match returned.recv() {
                    // Our clone was dropped above, so the SHA-256 thread's is the last.
                    Ok(back) => Arc::try_unwrap(back).unwrap_or_else(|_| Chunk::new()),
                    Err(_) => break,
                }
            };
            chunk.fill(&mut reader)?;
            if chunk.len == 0 {
                break;
            }
        }
        drop(to_sha);
        let sha256 = sha_thread
            .join()
            .map_err(|_| io::Error::other("the SHA-256 thread panicked"))?;
        Ok(Hashes {
            blake3: *b3.finalize().as_bytes(),
            sha256,
            size,
            lines: lines.finish(),
        })
    })
}

/// Whether this CPU has the x86 SHA extensions (SHA-NI) or the ARMv8 SHA2 instructions
/// that `sha2` picks at run time: the benchmark reports it, since SHA-256 runs several
/// times slower without them.
pub fn cpu_has_sha_instructions() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("sha2")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Known answers from Python's `hashlib.sha256` and the `blake3` reference.
    #[test]
    fn known_answers() {
        let empty = hash_reader(&b""[..], true).unwrap();
        assert_eq!(
            hex(&empty.sha256),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&empty.blake3),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!((empty.size, empty.lines), (0, 0));
        let abc = hash_reader(&b"abc"[..], true).unwrap();
        assert_eq!(
            hex(&abc.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&abc.blake3),
            "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!((abc.size, abc.lines), (3, 1));
    }

    /// 2.5 chunks of the repeating bytes 0..=250 (`bytes(i % 251 for i in range(n))`,
    /// the input pattern of BLAKE3's official vectors): the two-thread path with a
    /// partial last chunk. SHA-256 from Python's hashlib; BLAKE3 against the crate's
    /// one-shot `blake3::hash`, a different code path from the streaming one (no Python
    /// BLAKE3 was at hand to take an outside answer).
    #[test]
    fn multi_chunk_known_answer() {
        let n = CHUNK * 5 / 2;
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let h = hash_reader(&data[..], false).unwrap();
        assert_eq!(h.size, n as u64);
        assert_eq!(
            hex(&h.sha256),
            "35aeff7e048974ee23c365c8faf6bcb868ca0529c69309a00f6cde98bfbf89ce"
        );
        assert_eq!(h.blake3, *blake3::hash(&data).as_bytes());
    }

    /// A reader that hands out at most `step` bytes a call, to cross chunk boundaries
    /// at odd places.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// The two-thread path equals the one-thread path (and the one-shot hashes) for
        /// sizes on and around chunk boundaries, however the reader splits its bytes.
        #[test]
        fn parallel_equals_sequential(
            chunks in 0usize..4,
            offset in -3isize..=3,
            step in prop_oneof![Just(usize::MAX), 1usize..200_000],
            seed in any::<u8>(),
        ) {
            let n = (chunks * CHUNK) as isize + offset;
            prop_assume!(n >= 0);
            let data: Vec<u8> = (0..n as usize).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
            let parallel = hash_reader(Trickle { data: &data, step }, true).unwrap();
            let sequential = hash_reader_sequential(&data[..], true).unwrap();
            prop_assert_eq!(parallel, sequential);
            prop_assert_eq!(parallel.blake3, *blake3::hash(&data).as_bytes());
            prop_assert_eq!(parallel.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&data)));
            prop_assert_eq!(parallel.size, data.len() as u64);
            let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
            let expected = newlines + u64::from(data.last().is_some_and(|&b| b != b'\n'));
            prop_assert_eq!(parallel.lines, expected);
        }
    }

    #[test]
    fn a_read_error_midway_is_an_error() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk gone"));
                }
                let n = self.0.min(buf.len());
                buf[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let e = hash_reader(Failing(3 * CHUNK + 5), false).unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
    }
}
