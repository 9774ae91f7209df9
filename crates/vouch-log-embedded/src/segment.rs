//! Segment files: where the embedded log's records live, appended and never rewritten.
//!
//! A segment is named by its first position (`00000000000000000001.seg`) and holds a
//! header then frames, little-endian throughout:
//!
//! ```text
//! header  "VOUCHSG1" | format u32 = 1 | reserved u32 | log id [16] | first position u64
//!         | CRC-32 u32 of the preceding 40 bytes | reserved u32            (48 bytes)
//! frame   magic u32 = FRAME_MAGIC | body length u32 | CRC-32 u32 of (length ‖ body)
//!         | body: position u64 | id length u16 | id | key length u16 | key | bytes
//! ```
//!
//! Every frame carries its own position and checksum, so a frame read through a damaged
//! index, a flipped byte, a torn write or a segment from another log is recognised as
//! such, and named by segment and offset.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use vouch_log::{LogKey, NewRecord, Position, Record};

/// Marks a segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"VOUCHSG1";
/// The segment layout this version writes and reads.
pub const SEGMENT_FORMAT: u32 = 1;
/// Bytes before the first frame.
pub const HEADER_LEN: u64 = 48;
/// The first four bytes of every frame, so damage can be told from a torn tail: after a
/// bad frame, the scan looks for a later good one.
pub const FRAME_MAGIC: u32 = 0x5643_4652; // "RFCV"
/// Magic, length and checksum.
pub const FRAME_HEADER_LEN: u64 = 12;

/// A log's random identity, chosen when it is created and written in every segment.
pub type LogId = [u8; 16];

/// A segment's header, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub log_id: LogId,
    pub first: u64,
}

pub fn file_name(first: u64) -> String {
    format!("{first:020}.seg")
}

/// The first position a segment file name states, if it is one.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub fn encode_header(header: &Header) -> [u8; HEADER_LEN as usize] {
    let mut out = [0u8; HEADER_LEN as usize];
    out[..8].copy_from_slice(SEGMENT_MAGIC);
    out[8..12].copy_from_slice(&SEGMENT_FORMAT.to_le_bytes());
    out[16..32].copy_from_slice(&header.log_id);
    out[32..40].copy_from_slice(&header.first.to_le_bytes());
    let crc = crc32fast::hash(&out[..40]);
    out[40..44].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a segment header, or says what is wrong with it.
pub fn decode_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(format!(
            "the header is {} bytes, shorter than {HEADER_LEN}",
            bytes.len()
        ));
    }
    if &bytes[..8] != SEGMENT_MAGIC {
        return Err("not a Vouch segment (bad magic)".into());
    }
    let crc = u32::from_le_bytes(bytes[40..44].try_into().expect("4"));
    if crc32fast::hash(&bytes[..40]) != crc {
        return Err("the header's checksum does not match".into());
    }
    let format = u32::from_le_bytes(bytes[8..12].try_into().expect("4"));
    if format != SEGMENT_FORMAT {
        return Err(format!(
            "segment format {format} (this version reads {SEGMENT_FORMAT})"
        ));
    }
    Ok(Header {
        log_id: bytes[16..32].try_into().expect("16"),
        first: u64::from_le_bytes(bytes[32..40].try_into().expect("8")),
    })
}

/// Reads and decodes the header of the segment at `path`.
pub fn read_header(file: &File) -> Result<Header, String> {
    let mut bytes = [0u8; HEADER_LEN as usize];
    let got = read_full_at(file, &mut bytes, 0).map_err(|e| e.to_string())?;
    decode_header(&bytes[..got])
}

/// Appends one record's frame at `position` to `out`; returns the frame's length.
pub fn push_frame(out: &mut Vec<u8>, position: u64, record: &NewRecord) -> u64 {
    let start = out.len();
    let id = record.event_id.as_bytes();
    let key = record.key.as_str().as_bytes();
    let body_len = 8 + 2 + id.len() + 2 + key.len() + record.bytes.len();
    let body_len = u32::try_from(body_len).expect("records are bounded far below 4 GiB");
    out.extend_from_slice(&FRAME_MAGIC.to_le_bytes());
    out.extend_from_slice(&body_len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&record.bytes);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&body_len.to_le_bytes());
    crc.update(&out[start + FRAME_HEADER_LEN as usize..]);
    let crc = crc.finalize();
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
    (out.len() - start) as u64
}

/// What a frame header says: the body's length and checksum.
#[derive(Debug, Clone, Copy)]
pub struct FrameHead {
    pub body_len: u32,
    pub crc: u32,
}

/// Decodes a frame header, or says why these bytes are not one.
pub fn decode_frame_head(bytes: &[u8; FRAME_HEADER_LEN as usize]) -> Result<FrameHead, String> {
    let magic = u32::from_le_bytes(bytes[..4].try_into().expect("4"));
    if magic != FRAME_MAGIC {
        return Err("no frame starts here (bad magic)".into());
    }
    Ok(FrameHead {
        body_len: u32::from_le_bytes(bytes[4..8].try_into().expect("4")),
        crc: u32::from_le_bytes(bytes[8..12].try_into().expect("4")),
    })
}

/// Checks a frame body against its header, and decodes it.
pub fn decode_body(head: FrameHead, body: &[u8]) -> Result<Record, String> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head.body_len.to_le_bytes());
    crc.update(body);
    if crc.finalize() != head.crc {
        return Err("the record's checksum does not match its bytes".into());
    }
    let mut at = 0usize;
    let mut take = |len: usize| -> Result<&[u8], String> {
        let slice = body
            .get(at..at + len)
            .ok_or("the record's fields run past its length")?;
        at += len;
        Ok(slice)
    };
    let position = u64::from_le_bytes(take(8)?.try_into().expect("8"));
    let id_len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
    let event_id = std::str::from_utf8(take(id_len)?)
        .map_err(|_| "the event id is not UTF-8")?
        .to_owned();
    let key_len = u16::from_le_bytes(take(2)?.try_into().expect("2")) as usize;
    let key = std::str::from_utf8(take(key_len)?).map_err(|_| "the key is not UTF-8")?;
    let key = LogKey::new(key).map_err(|e| e.to_string())?;
    let bytes = body[at..].to_vec();
    Ok(Record {
        position: Position::new(position),
        event_id,
        key,
        bytes,
    })
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
pub fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The file ends inside (or at the start of) the frame.
    End,
    /// The bytes are not a whole, checksummed frame.
    Bad(String),
    /// Reading failed.
    Io(io::Error),
}

/// Reads the frame at `offset` with a `limit` on its body length; returns the record and
/// the frame's total length.
pub fn read_frame(file: &File, offset: u64, limit: u32) -> Result<(Record, u64), FrameError> {
    let mut head = [0u8; FRAME_HEADER_LEN as usize];
    let got = read_full_at(file, &mut head, offset).map_err(FrameError::Io)?;
    if got < head.len() {
        return Err(FrameError::End);
    }
    let head = decode_frame_head(&head).map_err(FrameError::Bad)?;
    if head.body_len > limit {
        return Err(FrameError::Bad(format!(
            "a frame length of {} bytes, over the {limit}-byte limit",
            head.body_len
        )));
    }
    let mut body = vec![0u8; head.body_len as usize];
    let got = read_full_at(file, &mut body, offset + FRAME_HEADER_LEN).map_err(FrameError::Io)?;
    if got < body.len() {
        return Err(FrameError::End);
    }
    let record = decode_body(head, &body).map_err(FrameError::Bad)?;
    Ok((record, FRAME_HEADER_LEN + u64::from(head.body_len)))
}

/// Whether a whole, checksummed frame for a position after `after` starts anywhere in
/// `file` at or beyond `from`: the difference between a torn tail (nothing good follows
/// the bad bytes) and damage in the middle (something does).
pub fn good_frame_after(file: &File, from: u64, after: u64, limit: u32) -> io::Result<Option<u64>> {
    let len = file.metadata()?.len();
    let magic = FRAME_MAGIC.to_le_bytes();
    let mut chunk = vec![0u8; 1 << 20];
    let mut offset = from;
    while offset < len {
        let got = read_full_at(file, &mut chunk, offset)?;
        if got < 4 {
            break;
        }
        for i in 0..=got - 4 {
            if chunk[i..i + 4] == magic {
                if let Ok((record, _)) = read_frame(file, offset + i as u64, limit) {
                    if record.position.get() > after {
                        return Ok(Some(offset + i as u64));
                    }
                }
            }
        }
        offset += (got - 3) as u64;
    }
    Ok(None)
}

/// A segment on disk.
pub struct Segment {
    pub first: u64,
    pub path: PathBuf,
    pub file: File,
}

impl Segment {
    pub fn open(dir: &Path, first: u64, writable: bool) -> io::Result<Segment> {
        let path = dir.join(file_name(first));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&path)?;
        Ok(Segment { first, path, file })
    }
}

/// Reads frames one after another from a segment, a megabyte at a time.
pub struct Reader<'a> {
    file: &'a File,
    end: u64,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    buf_at: u64,
    pos: usize,
    /// How much the next fill reads at least: it starts small (a lookup reads one
    /// record) and doubles up to a megabyte (a scan reads many).
    chunk: usize,
}

impl<'a> Reader<'a> {
    /// Reads from `offset` up to `end` (the segment's length, or the whole records in it).
    pub fn new(file: &'a File, offset: u64, end: u64) -> Self {
        Reader {
            file,
            end,
            buf: Vec::new(),
            buf_at: offset,
            pos: 0,
            chunk: 4096,
        }
    }

    /// Where the next frame starts.
    pub fn offset(&self) -> u64 {
        self.buf_at + self.pos as u64
    }

    /// Makes `need` bytes available at `pos`; `false` when the segment ends first.
    fn fill(&mut self, need: usize) -> io::Result<bool> {
        if self.buf.len() - self.pos >= need {
            return Ok(true);
        }
        let at = self.offset();
        let left = self.end.saturating_sub(at);
        if left < need as u64 {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.buf_at = at;
        self.pos = 0;
        let want = (need.max(self.chunk) as u64).min(left) as usize;
        self.chunk = (self.chunk * 2).min(1 << 20);
        let have = self.buf.len();
        self.buf.resize(want, 0);
        let got = read_full_at(self.file, &mut self.buf[have..], at + have as u64)?;
        self.buf.truncate(have + got);
        Ok(self.buf.len() >= need)
    }

    /// The next frame's record, offset and length; `None` at the end. An error carries
    /// the offset of the frame that failed.
    #[allow(clippy::type_complexity)]
    pub fn next(&mut self, limit: u32) -> Result<Option<(Record, u64, u64)>, (u64, FrameError)> {
        let at = self.offset();
        if at >= self.end {
            return Ok(None);
        }
        let fail = |e: FrameError| (at, e);
        if !self
            .fill(FRAME_HEADER_LEN as usize)
            .map_err(|e| fail(FrameError::Io(e)))?
        {
            return Err(fail(FrameError::End));
        }
        let head: [u8; FRAME_HEADER_LEN as usize] = self.buf
            [self.pos..self.pos + FRAME_HEADER_LEN as usize]
            .try_into()
            .expect("12 bytes");
        let head = decode_frame_head(&head).map_err(|why| fail(FrameError::Bad(why)))?;
        if head.body_len > limit {
            return Err(fail(FrameError::Bad(format!(
                "a record length of {} bytes, over the {limit}-byte limit",
                head.body_len
            ))));
        }
        let total = FRAME_HEADER_LEN as usize + head.body_len as usize;
        if !self.fill(total).map_err(|e| fail(FrameError::Io(e)))? {
            return Err(fail(FrameError::End));
        }
        let body = &self.buf[self.pos + FRAME_HEADER_LEN as usize..self.pos + total];
        let record = decode_body(head, body).map_err(|why| fail(FrameError::Bad(why)))?;
        self.pos += total;
        Ok(Some((record, at, total as u64)))
    }
}
