//! The canonical encoding: big-endian integers, u32-length-prefixed strings, presence
//! bytes for optional fields, floats as their IEEE 754 bits. Nothing host-dependent and
//! nothing whose byte form can drift.

use vouch_event::Digest;

pub struct Canonical(Vec<u8>);

impl Canonical {
    pub fn new(magic: &[u8; 8]) -> Self {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(magic);
        Canonical(out)
    }

    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }

    pub fn digest(&mut self, d: &Digest) {
        self.0.extend_from_slice(d.as_bytes());
    }

    pub fn opt_digest(&mut self, d: Option<&Digest>) {
        match d {
            None => self.u8(0),
            Some(d) => {
                self.u8(1);
                self.digest(d);
            }
        }
    }

    pub fn str(&mut self, s: &str) {
        self.u32(u32::try_from(s.len()).expect("strings are far below 4 GiB"));
        self.0.extend_from_slice(s.as_bytes());
    }

    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }

    pub fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v.to_bits());
            }
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}
