//! Public keys in the forms other tools read: DER SubjectPublicKeyInfo, PEM, and the
//! `keyid` DSSE signatures and Sigstore bundles carry.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (0 unused bits) }, then the 32 key bytes.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The key's DER SubjectPublicKeyInfo (44 bytes).
pub fn spki_der(key: &[u8; 32]) -> [u8; 44] {
    let mut out = [0u8; 44];
    out[..12].copy_from_slice(&ED25519_SPKI_PREFIX);
    out[12..].copy_from_slice(key);
    out
}

/// The key as a PEM `PUBLIC KEY` block (what `openssl pkey -pubout`, cosign and
/// slsa-verifier read), ending in a newline.
pub fn pem(key: &[u8; 32]) -> String {
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(spki_der(key))
    )
}

/// The raw key in a PEM block, when `text` is one Ed25519 `PUBLIC KEY` block.
pub fn from_pem(text: &str) -> Option<[u8; 32]> {
    let body = text
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")?
        .strip_suffix("-----END PUBLIC KEY-----")?;
    let der: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD.decode(der).ok()?;
    let key = der.strip_prefix(&ED25519_SPKI_PREFIX[..])?;
    key.try_into().ok()
}

/// The `keyid` Vouch writes for a key: the lowercase hex SHA-256 of the key's canonical
/// JSON in securesystemslib/TUF form,
/// `{"keytype":"ed25519","keyval":{"public":"<64 hex>"},"scheme":"ed25519"}`. It is the
/// id securesystemslib computes for the key on its own (`SSlibKey.from_crypto`,
/// `from_pem`), and securesystemslib counts only signatures whose `keyid` equals its
/// key's; Sigstore clients look the key up by the bundle's `publicKey.hint`, which Vouch
/// sets to the same value. Like every DSSE `keyid` it is a hint, never trusted.
pub fn keyid(key: &[u8; 32]) -> String {
    let mut hex = String::with_capacity(64);
    for b in key {
        hex.push_str(&format!("{b:02x}"));
    }
    let canonical =
        format!(r#"{{"keytype":"ed25519","keyval":{{"public":"{hex}"}},"scheme":"ed25519"}}"#);
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410 §10.1's example public key.
    #[test]
    fn spki_and_pem_match_rfc_8410() {
        let key: [u8; 32] = [
            0x19, 0xbf, 0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc,
            0x3b, 0x96, 0xc8, 0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad,
            0x70, 0x31, 0x66, 0xe1,
        ];
        assert_eq!(
            pem(&key),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
        );
        assert_eq!(from_pem(&pem(&key)), Some(key));
        assert_eq!(
            from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"),
            None
        );
    }

    #[test]
    fn keyid_is_the_sha256_of_the_tuf_key() {
        let id = keyid(&[0; 32]);
        assert_eq!(id.len(), 64);
        assert_ne!(id, keyid(&[1; 32]));
    }
}
