//! BLAKE3 digests, written `blake3:<64 lowercase hex>`.

use std::fmt;
use std::str::FromStr;

/// A BLAKE3-256 digest of some bytes: an event, an artifact file, a dataset.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, bincode::Encode, bincode::Decode)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest `{input}`: expected `blake3:` followed by 64 lowercase hex characters")]
pub struct DigestError {
    input: String,
}

/// A digest computed over bytes that arrive in pieces (a streamed upload).
#[derive(Default)]
pub struct DigestWriter(blake3::Hasher);

impl DigestWriter {
    /// Adds the next piece.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest of every piece, in order.
    pub fn finish(&self) -> Digest {
        Digest(*self.0.finalize().as_bytes())
    }
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps a digest computed elsewhere (for example by streaming a file through BLAKE3).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 hex characters, without the `blake3:` prefix.
    pub fn hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in self.0 {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        out
    }

    /// Parses `blake3:<hex>`; a bare 64-character hex string is accepted too.
    ///
    /// # Errors
    /// When the text is not such a digest.
    pub fn parse(input: &str) -> Result<Self, DigestError> {
        let fail = || DigestError {
            input: input.chars().take(80).collect(),
        };
        let hex = input.strip_prefix("blake3:").unwrap_or(input).as_bytes();
        if hex.len() != 64 {
            return Err(fail());
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0]).ok_or_else(fail)? << 4) | nibble(pair[1]).ok_or_else(fail)?;
        }
        Ok(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if !text.starts_with("blake3:") {
            return Err(serde::de::Error::custom(DigestError {
                input: text.chars().take(80).collect(),
            }));
        }
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_blake3() {
        let d = Digest::of(b"abc");
        assert_eq!(
            d.to_string(),
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(Digest::parse(&d.to_string()), Ok(d));
        assert_eq!(Digest::parse(&d.hex()), Ok(d));
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "blake3:", "blake3:XYZ", "sha256:00", &"A".repeat(64)] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }
}
