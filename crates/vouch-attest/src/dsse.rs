//! DSSE v1.0.2: the envelope, PAE and Ed25519 signatures over it.

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use serde_json::{json, Value};
use vouch_chain::SigningKey;

use crate::{canonical, keys, AttestError};

/// The payload type of an in-toto statement in a DSSE envelope (the generic one: cosign
/// and model_signing expect it).
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// The largest envelope [`Envelope::from_json`] reads: far above any statement Vouch writes.
pub const MAX_ENVELOPE_BYTES: usize = 4 << 20;

/// DSSE's pre-authentication encoding, the bytes that are signed:
/// `DSSEv1 SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let type_len = payload_type.len().to_string();
    let body_len = payload.len().to_string();
    let mut out = Vec::with_capacity(
        10 + type_len.len() + payload_type.len() + body_len.len() + payload.len(),
    );
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(type_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(body_len.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The unauthenticated hint naming the key (see [`keys::keyid`]); may be empty.
    pub keyid: String,
    /// The signature bytes (64 for Ed25519).
    pub sig: Vec<u8>,
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The exact payload bytes.
    pub payload: Vec<u8>,
    /// Its type.
    pub payload_type: String,
    /// Its signatures, in order.
    pub signatures: Vec<Signature>,
}

impl Envelope {
    /// Signs `payload` with each key in turn (Ed25519 is deterministic, so the same inputs
    /// give the same envelope). Each signature's `keyid` is [`keys::keyid`] of its key.
    pub fn sign(payload_type: &str, payload: Vec<u8>, signers: &[&SigningKey]) -> Envelope {
        let pae = pae(payload_type, &payload);
        let signatures = signers
            .iter()
            .map(|key| Signature {
                keyid: keys::keyid(&key.public().0),
                sig: key.ed25519().sign(&pae).to_bytes().to_vec(),
            })
            .collect();
        Envelope {
            payload,
            payload_type: payload_type.to_owned(),
            signatures,
        }
    }

    /// The envelope as JSON: standard base64 with padding, keys in the fixed order.
    pub fn to_value(&self) -> Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        json!({
            "payload": b64.encode(&self.payload),
            "payloadType": self.payload_type,
            "signatures": self.signatures.iter().map(|s| json!({
                "keyid": s.keyid,
                "sig": b64.encode(&s.sig),
            })).collect::<Vec<_>>(),
        })
    }

    /// The envelope's deterministic JSON bytes (no trailing newline).
    pub fn to_json(&self) -> Vec<u8> {
        canonical::to_vec(&self.to_value())
    }

    /// Reads an envelope. Both base64 alphabets are accepted, padded or not, as DSSE asks.
    ///
    /// # Errors
    /// [`AttestError::Envelope`] when the bytes are not a DSSE envelope.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, AttestError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(AttestError::Envelope(format!(
                "{} bytes is more than the {MAX_ENVELOPE_BYTES} an envelope may have",
                bytes.len()
            )));
        }
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| AttestError::Envelope(format!("not JSON: {e}")))?;
        Envelope::from_value(&value)
    }

    /// Reads an envelope from parsed JSON.
    ///
    /// # Errors
    /// As [`Envelope::from_json`].
    pub fn from_value(value: &Value) -> Result<Envelope, AttestError> {
        let bad = |what: &str| AttestError::Envelope(what.to_owned());
        let object = value.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let payload = object
            .get("payload")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `payload` string"))?;
        let payload_type = object
            .get("payloadType")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `payloadType` string"))?;
        let signatures = object
            .get("signatures")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no `signatures` array"))?;
        if signatures.is_empty() {
            return Err(bad("no signatures"));
        }
        let signatures = signatures
            .iter()
            .map(|s| {
                let sig = s
                    .get("sig")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("a signature without a `sig` string"))?;
                let keyid = match s.get("keyid") {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(k)) => k.clone(),
                    Some(_) => return Err(bad("a signature whose `keyid` is not a string")),
                };
                Ok(Signature {
                    keyid,
                    sig: decode_base64(sig).ok_or_else(|| bad("a `sig` that is not base64"))?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            payload: decode_base64(payload).ok_or_else(|| bad("a `payload` that is not base64"))?,
            payload_type: payload_type.to_owned(),
            signatures,
        })
    }

    /// Whether `signature` is a valid Ed25519 signature by `key` over this envelope's PAE
    /// (verified strictly, as Vouch verifies every signature).
    pub fn verified_by(&self, signature: &Signature, key: &[u8; 32]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(signature.sig.as_slice()) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(key) else {
            return false;
        };
        key.verify_strict(
            &pae(&self.payload_type, &self.payload),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

/// Standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known-answer vector of the DSSE v1.0.2 protocol description.
    #[test]
    fn pae_matches_the_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn envelopes_round_trip_and_accept_both_alphabets() {
        let key = SigningKey::from_seed([7; 32]);
        let env = Envelope::sign(PAYLOAD_TYPE, b"\xfb\xff{}".to_vec(), &[&key]);
        let text = String::from_utf8(env.to_json()).unwrap();
        assert!(text.contains("\"+/97fQ==\""), "standard alphabet: {text}");
        assert_eq!(Envelope::from_json(text.as_bytes()).unwrap(), env);
        let url_safe = text.replace("\"+/97fQ==\"", "\"-_97fQ\"");
        let back = Envelope::from_json(url_safe.as_bytes()).unwrap();
        assert_eq!(back, env);
        assert!(back.verified_by(&back.signatures[0], &key.public().0));
    }

    #[test]
    fn a_changed_byte_or_another_key_fails() {
        let key = SigningKey::from_seed([7; 32]);
        let other = SigningKey::from_seed([8; 32]);
        let env = Envelope::sign(PAYLOAD_TYPE, b"{\"a\":1}".to_vec(), &[&key]);
        assert!(env.verified_by(&env.signatures[0], &key.public().0));
        assert!(!env.verified_by(&env.signatures[0], &other.public().0));
        let mut changed = env.clone();
        changed.payload[5] ^= 1;
        assert!(!changed.verified_by(&changed.signatures[0], &key.public().0));
        let mut retyped = env.clone();
        retyped.payload_type = "application/json".into();
        assert!(!retyped.verified_by(&retyped.signatures[0], &key.public().0));
    }
}
