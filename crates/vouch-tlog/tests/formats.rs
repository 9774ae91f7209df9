//! Known-answer vectors, round trips, refusals and fuzz-style properties for the C2SP
//! formats: signed notes, checkpoints, cosignatures, proof files and policies.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use vouch_tlog::checkpoint::{self, Checkpoint, CheckpointError, CheckpointVerifyError};
use vouch_tlog::cosignature::{self, Cosignature};
use vouch_tlog::note::{
    self, key_id, KeyId, KeyName, Note, NoteError, SignatureType, VerifierKey, VerifyError,
    VkeyError,
};
use vouch_tlog::policy::{self, EvaluateError, Policy, PolicyError, PolicyVerdict, Quorum};
use vouch_tlog::proof_file::{ProofFile, ProofFileError};
use vouch_tlog::tree::Hash;

// ---------------------------------------------------------------- helpers

fn signing_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn name(s: &str) -> KeyName {
    KeyName::new(s).expect("valid key name")
}

fn log_vkey(origin: &str, seed: u8) -> VerifierKey {
    VerifierKey::new(
        name(origin),
        SignatureType::Ed25519,
        signing_key(seed).verifying_key(),
    )
    .expect("not weak")
}

fn witness_vkey(n: &str, seed: u8) -> VerifierKey {
    VerifierKey::new(
        name(n),
        SignatureType::CosignatureV1,
        signing_key(seed).verifying_key(),
    )
    .expect("not weak")
}

const ORIGIN: &str = "acme.example/vouch/test";
const LOG_SEED: u8 = 7;

fn sample_checkpoint(size: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, Hash([0xab; 32])).expect("valid checkpoint")
}

fn signed_checkpoint(size: u64) -> Note {
    checkpoint::sign(&sample_checkpoint(size), &signing_key(LOG_SEED)).expect("sign")
}

/// A checkpoint note signed by the log and cosigned by witnesses with the given seeds
/// (witness names `w<seed>.example`).
fn cosigned_checkpoint(size: u64, witnesses: &[u8], ts: u64) -> Note {
    let cp = sample_checkpoint(size);
    let mut n = checkpoint::sign(&cp, &signing_key(LOG_SEED)).expect("sign");
    for &w in witnesses {
        let line = cosignature::cosign(&cp, &name(&format!("w{w}.example")), &signing_key(w), ts)
            .expect("cosign");
        n.push_signature(line).expect("push");
    }
    n
}

fn parse_note(s: &str) -> Result<Note, NoteError> {
    Note::parse(s.as_bytes())
}

// ---------------------------------------------------------------- signed note vectors

const EXAMPLE_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const EXAMPLE_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const PN_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PN_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const PN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PN_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/// Go's private-key form, decoded here only (the crate has no private-key parser on
/// purpose: keys come from the caller's key store).
fn peter_neumann_key() -> SigningKey {
    let b64 = PN_SKEY.splitn(5, '+').nth(4).expect("field");
    let raw = STANDARD.decode(b64).expect("base64");
    assert_eq!(raw[0], 0x01);
    SigningKey::from_bytes(&raw[1..].try_into().expect("32-byte seed"))
}

#[test]
fn c2sp_example_note_verifies() {
    let vk = VerifierKey::parse(EXAMPLE_VKEY).expect("vkey");
    assert_eq!(vk.name().as_str(), "example.com/foo");
    assert_eq!(vk.id().to_string(), "530d903a");
    assert_eq!(vk.signature_type(), SignatureType::Ed25519);
    assert_eq!(vk.to_string(), EXAMPLE_VKEY);
    let n = parse_note(EXAMPLE_NOTE).expect("parse");
    assert_eq!(n.text(), "This is an example message.\n");
    let v = note::verify(&n, &[vk]).expect("verify");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name.as_str(), "example.com/foo");
    assert_eq!(v[0].timestamp, None);
    assert_eq!(n.to_text(), EXAMPLE_NOTE);
}

#[test]
fn go_test_sign_is_reproduced() {
    let key = peter_neumann_key();
    let vk = VerifierKey::new(
        name("PeterNeumann"),
        SignatureType::Ed25519,
        key.verifying_key(),
    )
    .expect("vkey");
    assert_eq!(vk.to_string(), PN_VKEY);
    assert_eq!(VerifierKey::parse(PN_VKEY).expect("parse"), vk);
    let mut n = Note::new(PN_TEXT.to_owned()).expect("text");
    let line = note::sign(&n, &name("PeterNeumann"), &key);
    assert_eq!(line.to_line(), PN_SIG);
    n.push_signature(line).expect("push");
    assert_eq!(n.to_text(), format!("{PN_TEXT}\n{PN_SIG}"));
    note::verify(&n, &[vk]).expect("verify");
}

#[test]
fn key_id_matches_the_vkey_examples() {
    let vk = VerifierKey::parse(PN_VKEY).expect("vkey");
    let id = key_id(&name("PeterNeumann"), 0x01, vk.public_key().as_bytes());
    assert_eq!(id, KeyId([0xc7, 0x4f, 0x20, 0xa3]));
    // The same key as a cosigner gets another ID: the type byte is hashed in.
    let cos = VerifierKey::new(
        name("PeterNeumann"),
        SignatureType::CosignatureV1,
        *vk.public_key(),
    )
    .expect("vkey");
    assert_ne!(cos.id(), vk.id());
    assert!(
        cos.to_string().contains("+BBpc2Qc"),
        "type byte 0x04 leads the key"
    );
}

#[test]
fn vkey_splits_at_the_first_two_plus_signs_only() {
    // The PeterNeumann key's base64 holds no '+', but the skey's does: a vkey whose key
    // field contains '+' must still parse. Find one by trying seeds.
    let vk = (0u8..=255)
        .map(|s| log_vkey("k.example", s))
        .find(|k| {
            k.to_string()
                .rsplit_once('+')
                .is_some_and(|(a, _)| a.matches('+').count() >= 2)
        })
        .expect("some key has '+' in its base64");
    assert_eq!(VerifierKey::parse(&vk.to_string()).expect("parse"), vk);
}

#[test]
fn vkey_refusals() {
    let good = VerifierKey::parse(PN_VKEY).expect("vkey");
    let cases: &[(&str, VkeyError)] = &[
        ("PeterNeumann", VkeyError::MissingField),
        ("PeterNeumann+c74f20a3", VkeyError::MissingField),
        (
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::InvalidName,
        ),
        (
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::InvalidName,
        ),
        (
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::BadKeyId {
                found: "C74F20A3".into(),
            },
        ),
        (
            "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::BadKeyId {
                found: "c74f20a".into(),
            },
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
            VkeyError::BadBase64,
        ),
        ("PeterNeumann+c74f20a3+", VkeyError::BadBase64),
        (
            "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::UnsupportedType(0x02),
        ),
        (
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy",
            VkeyError::WrongKeyLength { len: 29 },
        ),
        (
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            VkeyError::KeyIdMismatch {
                stated: KeyId([0xc7, 0x4f, 0x20, 0xa4]),
                computed: good.id(),
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(VerifierKey::parse(input).as_ref(), Err(want), "{input}");
    }
    // The identity point has small order: refused even with a correct key ID.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let id = key_id(&name("weak"), 0x01, &identity);
    let mut raw = vec![0x01];
    raw.extend_from_slice(&identity);
    let weak = format!("weak+{id}+{}", STANDARD.encode(raw));
    assert_eq!(VerifierKey::parse(&weak), Err(VkeyError::WeakKey));
}

#[test]
fn key_name_rules() {
    for bad in ["", "a b", "a+b", "a\tb", "a\u{00a0}b", "a\u{2003}b", "a\nb"] {
        assert!(KeyName::new(bad).is_err(), "{bad:?}");
    }
    for good in ["a", "example.com/foo", "PeterNeumann", "δ.example"] {
        assert!(KeyName::new(good).is_ok(), "{good:?}");
    }
}

// ---------------------------------------------------------------- note refusals (Go TestOpen)

#[test]
fn go_test_open_malformed_notes_are_refused() {
    let sig = PN_SIG;
    let cases: Vec<(String, NoteError)> = vec![
        (PN_TEXT.to_owned(), NoteError::MissingSeparator),
        (format!("{PN_TEXT}\n"), NoteError::NoSignatures),
        (
            format!("{PN_TEXT}\n{}", &sig[..sig.len() - 1]),
            NoteError::UnterminatedSignatures,
        ),
        (
            format!("\x01{PN_TEXT}\n{sig}"),
            NoteError::ControlCharacter { offset: 0 },
        ),
        (
            format!("{PN_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            NoteError::MalformedSignatureLine { line: 4 },
        ),
        (
            format!("{PN_TEXT}\n\u{2014} Bad+Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            NoteError::InvalidKeyName {
                name: "Bad+Name".into(),
            },
        ),
        (
            format!("{PN_TEXT}\n{sig}unexpected trailing line\n"),
            NoteError::MalformedSignatureLine { line: 5 },
        ),
        (
            format!("{PN_TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"),
            NoteError::MalformedSignatureLine { line: 4 },
        ),
        (
            format!("{PN_TEXT}\n\u{2014} PeterNeumann x08go/ZJ!\n"),
            NoteError::BadSignatureBase64 { line: 4 },
        ),
        (
            format!(
                "{PN_TEXT}\n\u{2014} PeterNeumann {}\n",
                STANDARD.encode([0xc7, 0x4f, 0x20, 0xa3])
            ),
            NoteError::EmptySignature { line: 4 },
        ),
        (
            format!("{PN_TEXT}\n{}", sig.repeat(101)),
            NoteError::TooManySignatures { max: 100 },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(parse_note(&input), Err(want), "{input:?}");
    }
    assert_eq!(
        Note::parse(b"\xffabc\n\n\xe2\x80\x94 a AAAAAAA=\n"),
        Err(NoteError::NotUtf8 { offset: 0 })
    );
    let huge = vec![b'a'; note::MAX_NOTE_BYTES + 1];
    assert!(matches!(
        Note::parse(&huge),
        Err(NoteError::TooLarge { .. })
    ));
    // Exactly 100 signatures is fine.
    assert_eq!(
        parse_note(&format!("{PN_TEXT}\n{}", sig.repeat(100)))
            .expect("100 sigs")
            .signatures()
            .len(),
        100
    );
}

#[test]
fn note_text_rules_on_construction() {
    assert_eq!(
        Note::new("no newline".into()),
        Err(NoteError::UnterminatedText)
    );
    assert_eq!(
        Note::new("tab\there\n".into()),
        Err(NoteError::ControlCharacter { offset: 3 })
    );
    assert!(Note::new("\n".into()).is_ok());
}

#[test]
fn note_splits_at_the_last_blank_line() {
    let key = signing_key(1);
    let mut n = Note::new("para one\n\npara two\n".into()).expect("text");
    let line = note::sign(&n, &name("k"), &key);
    n.push_signature(line).expect("push");
    let parsed = parse_note(&n.to_text()).expect("parse");
    assert_eq!(parsed.text(), "para one\n\npara two\n");
    assert_eq!(parsed, n);
    note::verify(&parsed, &[log_vkey("k", 1)]).expect("verify");
}

#[test]
fn unknown_key_is_ignored_bad_known_key_rejects_no_known_key_rejects() {
    let mut n = Note::new(PN_TEXT.into()).expect("text");
    let k1 = signing_key(1);
    let k2 = signing_key(2);
    n.push_signature(note::sign(&n, &name("one"), &k1))
        .expect("push");
    n.push_signature(note::sign(&n, &name("two"), &k2))
        .expect("push");
    // Only "one" known: "two" is ignored.
    let v = note::verify(&n, &[log_vkey("one", 1)]).expect("verify");
    assert_eq!(v.len(), 1);
    // Nobody known: rejected.
    assert_eq!(
        note::verify(&n, &[log_vkey("three", 3)]),
        Err(VerifyError::NoKnownSignature)
    );
    assert_eq!(note::verify(&n, &[]), Err(VerifyError::NoKnownSignature));
    // Same name, other key (so another ID): still unknown, ignored.
    assert_eq!(
        note::verify(&n, &[log_vkey("two", 9)]),
        Err(VerifyError::NoKnownSignature)
    );
    // A corrupted signature by a known key rejects the whole note, even though another
    // known key verified.
    let mut bad = n.clone();
    let s = bad.signatures()[1].clone();
    let mut sig = s.signature().to_vec();
    sig[10] ^= 1;
    let mut rebuilt = Note::new(bad.text().into()).expect("text");
    rebuilt
        .push_signature(bad.signatures()[0].clone())
        .expect("push");
    rebuilt
        .push_signature(note::NoteSignature::new(s.name().clone(), s.key_id(), sig).expect("sig"))
        .expect("push");
    bad = rebuilt;
    assert_eq!(
        note::verify(&bad, &[log_vkey("one", 1), log_vkey("two", 2)]),
        Err(VerifyError::BadSignature {
            name: name("two"),
            key_id: log_vkey("two", 2).id(),
        })
    );
    // Ignored when that key is not known.
    note::verify(&bad, &[log_vkey("one", 1)]).expect("unknown bad sig ignored");
}

#[test]
fn ambiguous_known_keys_are_reported() {
    let n = signed_checkpoint(3);
    let k = log_vkey(ORIGIN, LOG_SEED);
    // The same key listed twice is not ambiguous.
    note::verify(&n, &[k.clone(), k.clone()]).expect("duplicate entry is fine");
    // Two different keys with the same (name, key ID): forge one by reusing the ID.
    let other = log_vkey(ORIGIN, 8);
    let forged = format!(
        "{ORIGIN}+{}+{}",
        k.id(),
        other.to_string().splitn(3, '+').nth(2).expect("key")
    );
    // The parser refuses a mismatched ID, so such a pair cannot be built from vkeys.
    assert!(matches!(
        VerifierKey::parse(&forged),
        Err(VkeyError::KeyIdMismatch { .. })
    ));
}

#[test]
fn non_canonical_signature_is_refused() {
    // S + ℓ encodes the same signature in a malleated form; verify_strict refuses it.
    let n = signed_checkpoint(5);
    let s = &n.signatures()[0];
    let mut sig = s.signature().to_vec();
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(L[i]) + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    let mut m = Note::new(n.text().into()).expect("text");
    m.push_signature(note::NoteSignature::new(s.name().clone(), s.key_id(), sig).expect("sig"))
        .expect("push");
    assert!(note::verify(&m, &[log_vkey(ORIGIN, LOG_SEED)]).is_err());
}

#[test]
fn flipped_bit_anywhere_in_a_signed_note_rejects() {
    let key = log_vkey("flip.example", 4);
    let mut n = Note::new("line one\nline two\n".into()).expect("text");
    n.push_signature(note::sign(&n, &name("flip.example"), &signing_key(4)))
        .expect("push");
    let bytes = n.to_text().into_bytes();
    note::verify(&n, std::slice::from_ref(&key)).expect("original verifies");
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            if let Ok(m) = Note::parse(&b) {
                assert!(
                    note::verify(&m, std::slice::from_ref(&key)).is_err(),
                    "flip at byte {i} bit {bit} still verifies"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- checkpoints

const SOFA_BODY: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const SOFA_LOG_LINE: &str = "\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n";
const SOFA_WITNESS_LINE: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";

#[test]
fn spec_checkpoint_example_parses_and_round_trips() {
    let note_text = format!("{SOFA_BODY}\n{SOFA_LOG_LINE}{SOFA_WITNESS_LINE}");
    let n = parse_note(&note_text).expect("note");
    assert_eq!(n.to_text(), note_text);
    let cp = Checkpoint::parse(n.text()).expect("checkpoint");
    assert_eq!(cp.origin(), "example.com/behind-the-sofa");
    assert_eq!(cp.size(), 20852163);
    assert_eq!(
        cp.root().to_base64(),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(cp.extensions().is_empty());
    assert_eq!(cp.to_text(), SOFA_BODY);
}

#[test]
fn spec_cosignature_line_decodes() {
    let note_text = format!("{SOFA_BODY}\n{SOFA_LOG_LINE}{SOFA_WITNESS_LINE}");
    let n = parse_note(&note_text).expect("note");
    let w = &n.signatures()[1];
    assert_eq!(w.name().as_str(), "witness.example.com/w1");
    assert_eq!(w.key_id().to_string(), "8d66cf3f");
    assert_eq!(4 + w.signature().len(), 76);
    let c = Cosignature::from_note_signature(w).expect("cosignature");
    assert_eq!(c.timestamp(), 1679315147);
    // The message that was signed, per the spec's illustration.
    assert_eq!(
        cosignature::signed_message(n.text(), c.timestamp()),
        format!("cosignature/v1\ntime 1679315147\n{SOFA_BODY}").into_bytes()
    );
}

#[test]
fn checkpoint_round_trip_and_sign_verify() {
    let cp = Checkpoint::new(ORIGIN, 0, Hash([0; 32])).expect("cp");
    assert_eq!(Checkpoint::parse(&cp.to_text()), Ok(cp.clone()));
    let n = checkpoint::sign(&cp, &signing_key(LOG_SEED)).expect("sign");
    let parsed = parse_note(&n.to_text()).expect("parse");
    assert_eq!(parsed, n);
    assert_eq!(
        checkpoint::verify(&parsed, &log_vkey(ORIGIN, LOG_SEED)),
        Ok(cp)
    );
}

#[test]
fn checkpoint_refusals() {
    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let cases: Vec<(String, CheckpointError)> = vec![
        (
            "o\n5\n".into(),
            CheckpointError::MissingLine {
                line: 3,
                field: "root hash",
            },
        ),
        (
            "o\n".into(),
            CheckpointError::MissingLine {
                line: 2,
                field: "tree size",
            },
        ),
        (format!("\n5\n{root}\n"), CheckpointError::BadOrigin),
        (
            format!("o\n05\n{root}\n"),
            CheckpointError::BadSize { found: "05".into() },
        ),
        (
            format!("o\n00\n{root}\n"),
            CheckpointError::BadSize { found: "00".into() },
        ),
        (
            format!("o\n+5\n{root}\n"),
            CheckpointError::BadSize { found: "+5".into() },
        ),
        (
            format!("o\n-1\n{root}\n"),
            CheckpointError::BadSize { found: "-1".into() },
        ),
        (
            format!("o\n\n{root}\n"),
            CheckpointError::BadSize { found: "".into() },
        ),
        (
            format!("o\n18446744073709551616\n{root}\n"),
            CheckpointError::BadSize {
                found: "18446744073709551616".into(),
            },
        ),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n".into(),
            CheckpointError::BadRoot,
        ),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jx\n".into(),
            CheckpointError::BadRoot,
        ),
        (
            "o\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=AAAA\n".into(),
            CheckpointError::BadRoot,
        ),
        (format!("o\n5\n{root}"), CheckpointError::Unterminated),
        (
            format!("o\n5\n{root}\n\n"),
            CheckpointError::EmptyExtension { line: 4 },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(Checkpoint::parse(&input), Err(want), "{input:?}");
    }
    assert!(Checkpoint::parse(&format!("o\n18446744073709551615\n{root}\n")).is_ok());
    assert_eq!(
        Checkpoint::new("", 1, Hash([0; 32])),
        Err(CheckpointError::BadOrigin)
    );
    assert_eq!(
        Checkpoint::new("a\nb", 1, Hash([0; 32])),
        Err(CheckpointError::BadOrigin)
    );
    assert_eq!(
        checkpoint::sign(
            &Checkpoint::new("has space", 1, Hash([0; 32])).expect("cp"),
            &signing_key(1)
        ),
        Err(CheckpointError::OriginNotKeyName)
    );
}

#[test]
fn checkpoint_extension_lines_are_kept_and_signed_over() {
    let body = format!(
        "{ORIGIN}\n3\n{}\next one\next two\n",
        Hash([1; 32]).to_base64()
    );
    let cp = Checkpoint::parse(&body).expect("parse");
    assert_eq!(
        cp.extensions(),
        ["ext one".to_string(), "ext two".to_string()]
    );
    assert_eq!(cp.to_text(), body);
    let n = checkpoint::sign(&cp, &signing_key(LOG_SEED)).expect("sign");
    assert_eq!(n.text(), body);
    assert_eq!(checkpoint::verify(&n, &log_vkey(ORIGIN, LOG_SEED)), Ok(cp));
}

#[test]
fn checkpoint_signed_under_another_name_than_its_origin_is_refused() {
    let cp = sample_checkpoint(9);
    // Signed as a note by key name "other.example" rather than the origin.
    let mut n = cp.to_note().expect("note");
    n.push_signature(note::sign(
        &n,
        &name("other.example"),
        &signing_key(LOG_SEED),
    ))
    .expect("push");
    // Verifying with the key the signature was made under: name is not the origin.
    assert!(matches!(
        checkpoint::verify(&n, &log_vkey("other.example", LOG_SEED)),
        Err(CheckpointVerifyError::OriginMismatch { .. })
    ));
    // Verifying with the origin-named key: its signature is absent.
    assert_eq!(
        checkpoint::verify(&n, &log_vkey(ORIGIN, LOG_SEED)),
        Err(CheckpointVerifyError::Signature(
            VerifyError::NoKnownSignature
        ))
    );
    // A cosigner key is not a log key.
    assert_eq!(
        checkpoint::verify(&signed_checkpoint(9), &witness_vkey(ORIGIN, LOG_SEED)),
        Err(CheckpointVerifyError::NotLogKey)
    );
}

#[test]
fn checkpoint_by_wrong_log_key_is_refused() {
    assert_eq!(
        checkpoint::verify(&signed_checkpoint(9), &log_vkey(ORIGIN, 99)),
        Err(CheckpointVerifyError::Signature(
            VerifyError::NoKnownSignature
        ))
    );
}

// ---------------------------------------------------------------- cosignatures

#[test]
fn cosignature_line_has_the_spec_layout_and_verifies() {
    let cp = sample_checkpoint(42);
    let wname = name("w1.example");
    let key = signing_key(11);
    let line = cosignature::cosign(&cp, &wname, &key, 1_700_000_000).expect("cosign");
    let raw = STANDARD
        .decode(line.to_line().trim_end().rsplit(' ').next().expect("b64"))
        .expect("base64");
    assert_eq!(raw.len(), 76);
    let wk = witness_vkey("w1.example", 11);
    assert_eq!(raw[..4], wk.id().0);
    assert_eq!(
        wk.id(),
        key_id(&wname, 0x04, key.verifying_key().as_bytes())
    );
    assert_eq!(raw[4..12], 1_700_000_000u64.to_be_bytes());
    let mut n = checkpoint::sign(&cp, &signing_key(LOG_SEED)).expect("sign");
    n.push_signature(line).expect("push");
    let n = parse_note(&n.to_text()).expect("parse");
    // The log's own verification ignores the cosignature.
    checkpoint::verify(&n, &log_vkey(ORIGIN, LOG_SEED)).expect("log sig");
    let v = note::verify(&n, std::slice::from_ref(&wk)).expect("cosig");
    assert_eq!(v[0].timestamp, Some(1_700_000_000));
    assert_eq!(v[0].signature_type, SignatureType::CosignatureV1);
    // A plain (0x01) key with the witness's public key does not match its line.
    assert_eq!(
        note::verify(&n, &[log_vkey("w1.example", 11)]),
        Err(VerifyError::NoKnownSignature)
    );
}

#[test]
fn cosignature_over_another_checkpoint_body_is_refused() {
    let wk = witness_vkey("w1.example", 11);
    let line = cosignature::cosign(
        &sample_checkpoint(42),
        &name("w1.example"),
        &signing_key(11),
        5,
    )
    .expect("cosign");
    let mut other = signed_checkpoint(43);
    other.push_signature(line).expect("push");
    assert_eq!(
        note::verify(&other, std::slice::from_ref(&wk)),
        Err(VerifyError::BadSignature {
            name: name("w1.example"),
            key_id: wk.id(),
        })
    );
}

#[test]
fn changing_any_checkpoint_line_breaks_the_cosignature() {
    let cp = sample_checkpoint(42);
    let wk = witness_vkey("w1.example", 11);
    let line = cosignature::cosign(&cp, &name("w1.example"), &signing_key(11), 5).expect("cosign");
    let body = cp.to_text();
    let lines: Vec<&str> = body.lines().collect();
    let variants = [
        format!("other.example\n{}\n{}\n", lines[1], lines[2]),
        format!("{}\n41\n{}\n", lines[0], lines[2]),
        format!(
            "{}\n{}\n{}\n",
            lines[0],
            lines[1],
            Hash([0xac; 32]).to_base64()
        ),
        format!("{body}extension\n"),
    ];
    for v in variants {
        let mut n = Note::new(v.clone()).expect("text");
        n.push_signature(line.clone()).expect("push");
        assert!(
            note::verify(&n, std::slice::from_ref(&wk)).is_err(),
            "{v:?}"
        );
    }
    // A changed timestamp breaks it too.
    let mut payload = line.signature().to_vec();
    payload[7] ^= 1;
    let mut n = cp.to_note().expect("note");
    n.push_signature(
        note::NoteSignature::new(line.name().clone(), line.key_id(), payload).expect("sig"),
    )
    .expect("push");
    assert!(note::verify(&n, &[wk]).is_err());
}

#[test]
fn cosignature_timestamp_and_length_limits() {
    let cp = sample_checkpoint(1);
    assert!(
        cosignature::cosign(&cp, &name("w"), &signing_key(1), cosignature::MAX_TIMESTAMP).is_ok()
    );
    assert!(matches!(
        cosignature::cosign(
            &cp,
            &name("w"),
            &signing_key(1),
            cosignature::MAX_TIMESTAMP + 1
        ),
        Err(cosignature::CosignatureError::TimestampTooLarge { .. })
    ));
    assert!(Cosignature::from_bytes(&[0; 71]).is_err());
    assert!(Cosignature::from_bytes(&[0; 73]).is_err());
    let mut big = [0u8; 72];
    big[0] = 0x80;
    assert!(Cosignature::from_bytes(&big).is_err());
    // A known cosigner's short line rejects the note.
    let wk = witness_vkey("w", 1);
    let mut n = cp.to_note().expect("note");
    n.push_signature(
        note::NoteSignature::new(wk.name().clone(), wk.id(), vec![0; 64]).expect("sig"),
    )
    .expect("push");
    assert!(matches!(
        note::verify(&n, &[wk]),
        Err(VerifyError::MalformedCosignature { .. })
    ));
}

#[test]
fn count_cosignatures_against_a_quorum() {
    let n = cosigned_checkpoint(10, &[21, 22, 23], 1000);
    let ws: Vec<VerifierKey> = [21, 22, 24]
        .iter()
        .map(|&s| witness_vkey(&format!("w{s}.example"), s))
        .collect();
    let q = cosignature::count_cosignatures(&n, &ws, 2).expect("count");
    assert_eq!(q.cosigners.len(), 2);
    assert!(q.is_met());
    let q = cosignature::count_cosignatures(&n, &ws, 3).expect("count");
    assert!(!q.is_met());
    // Log keys in the slice do not count as witnesses.
    let q = cosignature::count_cosignatures(&n, &[log_vkey(ORIGIN, LOG_SEED)], 1).expect("count");
    assert!(q.cosigners.is_empty());
    // A duplicated cosignature line counts once.
    let mut dup = n.clone();
    dup.push_signature(n.signatures()[1].clone()).expect("push");
    assert_eq!(
        cosignature::count_cosignatures(&dup, &ws, 0)
            .expect("count")
            .cosigners
            .len(),
        2
    );
}

// ---------------------------------------------------------------- proof files

fn spec_proof_example(note: &Note) -> String {
    format!(
        "c2sp.org/tlog-proof@v1\n\
         extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n\
         index 73894\n\
         gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n\
         B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n\
         EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n\
         RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n\
         AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n\
         \n{}",
        note.to_text()
    )
}

/// The spec's example checkpoint, re-signed with test keys (the spec elides its
/// signatures).
fn fancylog_note() -> Note {
    let cp = Checkpoint::parse(
        "example.com/fancylog\n109482\nsFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n",
    )
    .expect("cp");
    let mut n = checkpoint::sign(&cp, &signing_key(30)).expect("sign");
    for (i, s) in [31u8, 32, 33].iter().enumerate() {
        let line = cosignature::cosign(
            &cp,
            &name(&format!("witness{}.example", i + 1)),
            &signing_key(*s),
            1_700_000_000,
        )
        .expect("cosign");
        n.push_signature(line).expect("push");
    }
    n
}

#[test]
fn spec_proof_file_example_parses_and_round_trips() {
    let n = fancylog_note();
    let text = spec_proof_example(&n);
    let p = ProofFile::parse(text.as_bytes()).expect("parse");
    assert_eq!(p.index(), 73894);
    assert_eq!(p.inclusion().len(), 5);
    assert_eq!(
        p.inclusion()[0].to_base64(),
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
    );
    assert!(p.extra().is_some());
    assert_eq!(p.checkpoint().size(), 109482);
    assert_eq!(p.note(), &n);
    assert_eq!(p.to_text(), text);
    checkpoint::verify(p.note(), &log_vkey("example.com/fancylog", 30)).expect("log sig");
}

#[test]
fn proof_file_without_extra_or_hashes_round_trips() {
    let p = ProofFile::new(None, 0, vec![], signed_checkpoint(1)).expect("new");
    let text = p.to_text();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\n"));
    assert_eq!(ProofFile::parse(text.as_bytes()), Ok(p));
}

#[test]
fn proof_file_refusals() {
    let n = signed_checkpoint(100).to_text();
    let h = Hash([3; 32]).to_base64();
    let cases: Vec<(String, ProofFileError)> = vec![
        (
            format!("c2sp.org/tlog-proof@v2\nindex 1\n\n{n}"),
            ProofFileError::BadHeader,
        ),
        ("".into(), ProofFileError::BadHeader),
        (
            format!("c2sp.org/tlog-proof@v1\n\n{n}"),
            ProofFileError::MissingIndex,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{n}"),
            ProofFileError::BadIndex,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex x\n\n{n}"),
            ProofFileError::BadIndex,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{n}"),
            ProofFileError::BadExtra,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\nextra AAAA\n\n{n}"),
            ProofFileError::BadHash { line: 3 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\nunknown line\n\n{n}"),
            ProofFileError::BadHash { line: 4 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n{n}"),
            ProofFileError::BadHash { line: 3 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{}\n\n{n}", &h[..43]),
            ProofFileError::BadHash { line: 3 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n"),
            ProofFileError::MissingCheckpoint,
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n\n"),
            ProofFileError::MissingCheckpoint,
        ),
        (
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{n}",
                format!("{h}\n").repeat(65)
            ),
            ProofFileError::TooManyHashes { max: 64 },
        ),
        (
            format!("c2sp.org/tlog-proof@v1\nindex 100\n\n{n}"),
            ProofFileError::IndexOutOfRange {
                index: 100,
                size: 100,
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(ProofFile::parse(input.as_bytes()), Err(want), "{input:?}");
    }
    // A note that is not a checkpoint, and a checkpoint without signatures.
    assert!(matches!(
        ProofFile::parse(
            format!("c2sp.org/tlog-proof@v1\nindex 1\n\n{PN_TEXT}\n{PN_SIG}").as_bytes()
        ),
        Err(ProofFileError::Checkpoint(_))
    ));
    assert!(matches!(
        ProofFile::parse(
            format!(
                "c2sp.org/tlog-proof@v1\nindex 1\n\n{}\n",
                sample_checkpoint(5).to_text()
            )
            .as_bytes()
        ),
        Err(ProofFileError::Checkpoint(_))
    ));
}

// ---------------------------------------------------------------- policies

fn policy_text(log_seed: u8) -> String {
    let w = |n: &str, s: u8| {
        format!(
            "witness {n} {}\n",
            witness_vkey(&format!("w{s}.example"), s)
        )
    };
    format!(
        "# Example policy (spec shape, real keys)\n\
         log {} https://log.example/\n\
         \n\
         {}{}{}\
         group X-witnesses 2 X1 X2 X3\n\
         \n\
         {}{}{}\
         group Y-witnesses any Y1 Y2 Y3\n\
         \n\
         \tgroup X-and-Y all X-witnesses Y-witnesses  \n\
         quorum X-and-Y\n",
        log_vkey(ORIGIN, log_seed),
        w("X1", 41),
        w("X2", 42),
        w("X3", 43),
        w("Y1", 51),
        w("Y2", 52),
        w("Y3", 53),
    )
}

#[test]
fn spec_policy_example_parses() {
    let p = Policy::parse(&policy_text(LOG_SEED)).expect("policy");
    assert_eq!(p.logs().len(), 1);
    assert_eq!(p.logs()[0].url.as_deref(), Some("https://log.example/"));
    assert_eq!(p.witnesses().len(), 6);
    assert_eq!(p.groups().len(), 3);
    assert_eq!(p.groups()[0].threshold, 2);
    assert_eq!(p.groups()[1].threshold, 1);
    assert_eq!(p.groups()[2].threshold, 2);
    assert_eq!(p.quorum(), &Quorum::Named("X-and-Y".into()));
}

fn verdict(policy: &Policy, witnesses: &[u8]) -> Result<bool, EvaluateError> {
    policy::evaluate(policy, &cosigned_checkpoint(77, witnesses, 1234)).map(|v| match v {
        PolicyVerdict::Accepted { .. } => true,
        PolicyVerdict::QuorumNotMet { .. } => false,
    })
}

#[test]
fn policy_quorum_rules_with_nested_groups() {
    let p = Policy::parse(&policy_text(LOG_SEED)).expect("policy");
    let cases: &[(&[u8], bool)] = &[
        (&[], false),
        (&[41, 42], false),    // X met, Y not
        (&[41, 51], false),    // Y met, X not
        (&[41, 42, 51], true), // 2 of X, any of Y
        (&[41, 42, 43, 51, 52, 53], true),
        (&[43, 42, 53], true),
        (&[61, 62, 63], false), // unknown witnesses ignored
    ];
    for (ws, want) in cases {
        assert_eq!(verdict(&p, ws), Ok(*want), "{ws:?}");
    }
    match policy::evaluate(&p, &cosigned_checkpoint(77, &[41, 43, 52], 1)).expect("eval") {
        PolicyVerdict::Accepted {
            checkpoint,
            cosigners,
        } => {
            assert_eq!(checkpoint.size(), 77);
            assert_eq!(cosigners, ["X1", "X3", "Y2"]);
        }
        other => panic!("want accepted, got {other:?}"),
    }
}

#[test]
fn policy_quorum_single_witness_and_none() {
    let w = witness_vkey("w41.example", 41);
    let log = log_vkey(ORIGIN, LOG_SEED);
    let single = Policy::parse(&format!("log {log}\nwitness A {w}\nquorum A\n")).expect("p");
    assert_eq!(verdict(&single, &[41]), Ok(true));
    assert_eq!(verdict(&single, &[42]), Ok(false));
    let none = Policy::parse(&format!("log {log}\nquorum none\n")).expect("p");
    assert_eq!(verdict(&none, &[]), Ok(true));
    // k-of-n with k numeric and `all`.
    let p = Policy::parse(&format!(
        "log {log}\nwitness A {}\nwitness B {}\nwitness C {}\ngroup g all A B C\nquorum g\n",
        witness_vkey("w41.example", 41),
        witness_vkey("w42.example", 42),
        witness_vkey("w43.example", 43)
    ))
    .expect("p");
    assert_eq!(verdict(&p, &[41, 42]), Ok(false));
    assert_eq!(verdict(&p, &[41, 42, 43]), Ok(true));
}

#[test]
fn policy_refuses_wrong_log_and_bad_witness_signatures() {
    let p = Policy::parse(&policy_text(99)).expect("policy");
    assert!(matches!(
        verdict(&p, &[41, 42, 51]),
        Err(EvaluateError::NoLogSignature { .. })
    ));
    // A bad cosignature from a known witness rejects the note.
    let p = Policy::parse(&policy_text(LOG_SEED)).expect("policy");
    let cp = sample_checkpoint(77);
    let mut n = checkpoint::sign(&cp, &signing_key(LOG_SEED)).expect("sign");
    let line = cosignature::cosign(
        &sample_checkpoint(78),
        &name("w41.example"),
        &signing_key(41),
        1,
    )
    .expect("cosign");
    n.push_signature(line).expect("push");
    assert!(matches!(
        policy::evaluate(&p, &n),
        Err(EvaluateError::Signature(VerifyError::BadSignature { .. }))
    ));
}

#[test]
fn policy_refusals() {
    let log = log_vkey(ORIGIN, LOG_SEED);
    let w1 = witness_vkey("w1.example", 1);
    let w2 = witness_vkey("w2.example", 2);
    let cases: Vec<(String, PolicyError)> = vec![
        (format!("log {log}\n"), PolicyError::MissingQuorum),
        (
            "quorum none\nquorum none\n".into(),
            PolicyError::DuplicateQuorum { line: 2 },
        ),
        (
            "quorum A\n".into(),
            PolicyError::UndefinedName {
                line: 1,
                name: "A".into(),
            },
        ),
        (
            format!("group g any A\nwitness A {w1}\nquorum g\n"),
            PolicyError::UndefinedName {
                line: 1,
                name: "A".into(),
            },
        ),
        (
            format!("witness A {w1}\nwitness A {w2}\nquorum A\n"),
            PolicyError::DuplicateName {
                line: 2,
                name: "A".into(),
            },
        ),
        (
            format!("witness none {w1}\nquorum none\n"),
            PolicyError::DuplicateName {
                line: 1,
                name: "none".into(),
            },
        ),
        (
            format!("witness A {w1}\nwitness B {w1}\nquorum A\n"),
            PolicyError::DuplicateKey { line: 2 },
        ),
        (
            format!("log {log}\nlog {log}\nquorum none\n"),
            PolicyError::DuplicateKey { line: 2 },
        ),
        (
            format!("witness A {w1}\ngroup g any A A\nquorum g\n"),
            PolicyError::RepeatedMember {
                line: 2,
                name: "A".into(),
            },
        ),
        (
            format!("witness A {w1}\ngroup g 2 A\nquorum g\n"),
            PolicyError::BadThreshold { line: 2 },
        ),
        (
            format!("witness A {w1}\ngroup g 0 A\nquorum g\n"),
            PolicyError::BadThreshold { line: 2 },
        ),
        (
            format!("witness A {w1}\ngroup g 01 A\nquorum g\n"),
            PolicyError::BadThreshold { line: 2 },
        ),
        (
            format!("witness A {w1}\ngroup g any\nquorum g\n"),
            PolicyError::FieldCount {
                line: 2,
                keyword: "group",
            },
        ),
        (
            format!("witness A {w1}\ngroup g any none\nquorum g\n"),
            PolicyError::UndefinedName {
                line: 2,
                name: "none".into(),
            },
        ),
        (
            format!("log {w1}\nquorum none\n"),
            PolicyError::WrongKeyType { line: 1 },
        ),
        (
            format!("witness A {log}\nquorum none\n"),
            PolicyError::WrongKeyType { line: 1 },
        ),
        (
            "logs x\nquorum none\n".into(),
            PolicyError::UnknownKeyword {
                line: 1,
                keyword: "logs".into(),
            },
        ),
        (
            format!("log {log} url extra\nquorum none\n"),
            PolicyError::FieldCount {
                line: 1,
                keyword: "log",
            },
        ),
        (
            "quorum none\r\n".into(),
            PolicyError::ForbiddenCharacter { line: 1 },
        ),
        (
            "quorum\n".into(),
            PolicyError::FieldCount {
                line: 1,
                keyword: "quorum",
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(Policy::parse(&input), Err(want), "{input:?}");
    }
    assert!(matches!(
        Policy::parse("log nope\nquorum none\n"),
        Err(PolicyError::BadVkey { line: 1, .. })
    ));
    // Comments, indented comments and blank lines are fine.
    assert!(Policy::parse("# c\n   # c\n\t\n\nquorum none").is_ok());
}

// ---------------------------------------------------------------- properties

fn note_strategy() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z0-9 ./+=-]{0,20}\n",
        Just("\n".to_string()),
        Just("\u{2014} ".to_string()),
        Just("\u{2014} k AAAAAAAA\n".to_string()),
        Just(PN_SIG.to_string()),
        "[\\x00-\\x7f]{0,8}",
    ];
    prop::collection::vec(line, 0..12).prop_map(|v| v.concat())
}

fn mutate(bytes: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for &(pos, op, val) in edits {
        if b.is_empty() {
            b.push(val);
            continue;
        }
        let i = pos % b.len();
        match op % 3 {
            0 => b[i] = val,
            1 => b.insert(i, val),
            _ => {
                b.remove(i);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Note::parse(&bytes);
        let _ = ProofFile::parse(&bytes);
        if let Ok(s) = std::str::from_utf8(&bytes) {
            let _ = Checkpoint::parse(s);
            let _ = VerifierKey::parse(s);
            let _ = Policy::parse(s);
            let _ = KeyName::new(s);
        }
    }

    #[test]
    fn parsers_never_panic_on_note_shaped_text(s in note_strategy()) {
        if let Ok(n) = Note::parse(s.as_bytes()) {
            prop_assert_eq!(n.to_text(), s.clone());
            let _ = note::verify(&n, &[VerifierKey::parse(PN_VKEY).unwrap()]);
            let _ = Checkpoint::parse(n.text());
        }
        let _ = ProofFile::parse(format!("c2sp.org/tlog-proof@v1\nindex 0\n\n{s}").as_bytes());
        let _ = Policy::parse(&s);
    }

    #[test]
    fn mutated_valid_notes_and_proof_files_never_panic(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6)
    ) {
        let n = cosigned_checkpoint(10, &[21, 22], 99);
        let keys = [log_vkey(ORIGIN, LOG_SEED), witness_vkey("w21.example", 21)];
        if let Ok(m) = Note::parse(&mutate(n.to_text().as_bytes(), &edits)) {
            let _ = note::verify(&m, &keys);
            let _ = checkpoint::verify(&m, &keys[0]);
            let _ = cosignature::count_cosignatures(&m, &keys, 1);
        }
        let p = ProofFile::new(Some(vec![1, 2, 3]), 3, vec![Hash([9; 32]); 4], n).unwrap();
        if let Ok(q) = ProofFile::parse(&mutate(p.to_text().as_bytes(), &edits)) {
            prop_assert_eq!(ProofFile::parse(q.to_text().as_bytes()), Ok(q));
        }
    }

    #[test]
    fn any_single_byte_change_to_a_signed_checkpoint_fails(pos in any::<usize>(), val in any::<u8>()) {
        let n = signed_checkpoint(12345);
        let mut b = n.to_text().into_bytes();
        let i = pos % b.len();
        prop_assume!(b[i] != val);
        b[i] = val;
        if let Ok(m) = Note::parse(&b) {
            prop_assert!(checkpoint::verify(&m, &log_vkey(ORIGIN, LOG_SEED)).is_err());
        }
    }

    #[test]
    fn checkpoint_round_trips(
        origin in "[a-z][a-z0-9./-]{0,40}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
    ) {
        let cp = Checkpoint::new(&origin, size, Hash(root)).unwrap();
        prop_assert_eq!(Checkpoint::parse(&cp.to_text()), Ok(cp.clone()));
        let log = VerifierKey::new(KeyName::new(&origin).unwrap(), SignatureType::Ed25519, signing_key(3).verifying_key()).unwrap();
        let n = checkpoint::sign(&cp, &signing_key(3)).unwrap();
        let parsed = Note::parse(n.to_text().as_bytes()).unwrap();
        prop_assert_eq!(checkpoint::verify(&parsed, &log), Ok(cp));
    }

    #[test]
    fn note_and_proof_file_round_trip(
        text in "([a-zA-Z0-9 ./]{0,30}\n){1,5}",
        seeds in prop::collection::vec(1u8..=255, 1..5),
        extra in prop::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        hashes in prop::collection::vec(any::<[u8; 32]>(), 0..8),
        ts in 0u64..=cosignature::MAX_TIMESTAMP,
    ) {
        let mut n = Note::new(text).unwrap();
        let mut keys = Vec::new();
        for s in &seeds {
            let nm = format!("k{s}");
            n.push_signature(note::sign(&n, &KeyName::new(&nm).unwrap(), &signing_key(*s))).unwrap();
            keys.push(log_vkey(&nm, *s));
        }
        // Listing a key twice is harmless.
        keys.push(log_vkey(&format!("k{}", seeds[0]), seeds[0]));
        let parsed = Note::parse(n.to_text().as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &n);
        prop_assert!(note::verify(&parsed, &keys).is_ok());

        let cp = sample_checkpoint(1 << 20);
        let mut cn = checkpoint::sign(&cp, &signing_key(LOG_SEED)).unwrap();
        cn.push_signature(cosignature::cosign(&cp, &KeyName::new("w").unwrap(), &signing_key(5), ts).unwrap()).unwrap();
        let p = ProofFile::new(extra, 17, hashes.into_iter().map(Hash).collect(), cn).unwrap();
        let q = ProofFile::parse(p.to_text().as_bytes()).unwrap();
        prop_assert_eq!(&q, &p);
        let v = note::verify(q.note(), &[witness_vkey("w", 5)]).unwrap();
        prop_assert_eq!(v[0].timestamp, Some(ts));
    }
}

#[test]
fn every_single_byte_change_to_a_cosigned_checkpoint_fails() {
    // Exhaustive over positions and values: the log key must reject, or the parse fails.
    // Changes inside the cosignature line must make the witness's check fail instead.
    let n = cosigned_checkpoint(12345, &[21], 77);
    let log = log_vkey(ORIGIN, LOG_SEED);
    let witness = witness_vkey("w21.example", 21);
    let bytes = n.to_text().into_bytes();
    let log_line_end = n.text().len() + 1 + n.signatures()[0].to_line().len();
    for i in 0..bytes.len() {
        for val in 0..=255u8 {
            if bytes[i] == val {
                continue;
            }
            let mut b = bytes.clone();
            b[i] = val;
            let Ok(m) = Note::parse(&b) else { continue };
            let keys = if i < log_line_end {
                std::slice::from_ref(&log)
            } else {
                std::slice::from_ref(&witness)
            };
            assert!(
                note::verify(&m, keys).is_err(),
                "byte {i} set to {val:#04x} still verifies"
            );
        }
    }
}

// Two places count cosignatures against a quorum: `count_cosignatures` (what `vouch
// verify-checkpoint` lists, with timestamps) and `policy::evaluate` over
// `Policy::from_keys` (what `verify-bundle` and `verify --checkpoint` decide with). They
// must agree on every note: the same generated witnesses, cosigners, forged lines and
// quorums go to both.
proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn count_cosignatures_and_the_flag_policy_agree(
        known in proptest::collection::btree_set(20u8..28, 0..5),
        cosigners in proptest::collection::btree_set(20u8..30, 0..6),
        forged in proptest::option::of(20u8..28),
        quorum_pick in 0usize..6,
    ) {
        let known: Vec<u8> = known.into_iter().collect();
        let cosigners: Vec<u8> = cosigners.into_iter().collect();
        let mut note = cosigned_checkpoint(5, &cosigners, 1_700_000_000);
        // A cosignature line under a known witness's name and key id made by another key.
        if let Some(w) = forged {
            let cp = sample_checkpoint(5);
            let mut line = cosignature::cosign(&cp, &name(&format!("w{w}.example")), &signing_key(w), 1)
                .expect("cosign");
            if !cosigners.contains(&w) {
                let other = cosignature::cosign(&cp, &name(&format!("w{w}.example")), &signing_key(99), 1)
                    .expect("cosign");
                line = note::NoteSignature::new(line.name().clone(), line.key_id(), other.signature().to_vec())
                    .expect("a line");
                note.push_signature(line).expect("push");
            }
        }
        let witnesses: Vec<VerifierKey> = known
            .iter()
            .map(|&w| witness_vkey(&format!("w{w}.example"), w))
            .collect();
        let quorum = quorum_pick.min(witnesses.len());
        let counted = cosignature::count_cosignatures(&note, &witnesses, quorum);
        let policy = Policy::from_keys(vec![log_vkey(ORIGIN, LOG_SEED)], witnesses.clone(), quorum)
            .expect("a policy");
        let evaluated = policy::evaluate(&policy, &note);
        match (counted, evaluated) {
            (Ok(q), Ok(PolicyVerdict::Accepted { cosigners: names, .. })) => {
                prop_assert!(q.is_met(), "evaluate accepted, count says short: {q:?}");
                prop_assert_eq!(q.cosigners.len(), names.len());
            }
            (Ok(q), Ok(PolicyVerdict::QuorumNotMet { cosigners: names, .. })) => {
                prop_assert!(!q.is_met(), "count met, evaluate says short: {q:?}");
                prop_assert_eq!(q.cosigners.len(), names.len());
            }
            (Err(_), Err(_)) => {}
            (c, e) => prop_assert!(false, "disagree: count {c:?}, evaluate {e:?}"),
        }
    }
}
