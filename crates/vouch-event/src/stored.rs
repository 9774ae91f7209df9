//! The stored (bincode) form of [`Body`], written by hand.
//!
//! Every variant is encoded as derived bincode would: its declaration index as a `u32`
//! varint, then its payload. The one exception is a decision carrying a [`LogPin`]
//! (layout 2): it is stored under index [`DECISION_V2_INDEX`] (22), its payload the
//! layout-1 fields followed by the pin's size (`u64` varint) and root (32 bytes). A
//! decision without a pin is stored under index 7 exactly as before, so every record
//! already in a log keeps its bytes, its digest and its decoding. Index 22 is past the
//! last declared kind, so no later kind can take it.
//!
//! The same technique stores an artifact carrying a SHA-256 ([`ArtifactLogged::sha256`]):
//! under index [`ARTIFACT_SHA256_INDEX`] (23), its payload the index-3 fields followed by
//! the 32 raw bytes of the SHA-256. An artifact without one is stored under 3 exactly as
//! before. The next new kind gets 24.

use bincode::de::{BorrowDecoder, Decoder};
use bincode::enc::Encoder;
use bincode::error::{AllowedEnumVariants, DecodeError, EncodeError};
use bincode::{BorrowDecode, Decode, Encode};

use crate::model::{ArtifactLogged, Body, DecisionRecorded, LogPin, Sha256};

/// The `Body` index of a layout-1 decision (`log` absent).
pub(crate) const DECISION_V1_INDEX: u32 = 7;
/// The `Body` index of a layout-2 decision (`log` present): kind `decision_recorded`.
pub(crate) const DECISION_V2_INDEX: u32 = 22;

/// The `Body` index of an artifact without a SHA-256 (every artifact before it existed).
pub(crate) const ARTIFACT_V1_INDEX: u32 = 3;
/// The `Body` index of an artifact with a SHA-256: kind `artifact_logged`.
pub(crate) const ARTIFACT_SHA256_INDEX: u32 = 23;

/// The index-3 fields of an artifact, in their stored order.
fn encode_artifact_fields<E: Encoder>(a: &ArtifactLogged, e: &mut E) -> Result<(), EncodeError> {
    a.name.encode(e)?;
    a.digest.encode(e)?;
    a.size.encode(e)?;
    a.uri.encode(e)
}

/// Reads the index-3 fields of an artifact; `sha256` is left `None`.
fn decode_artifact_fields<C, D: Decoder<Context = C>>(
    d: &mut D,
) -> Result<ArtifactLogged, DecodeError> {
    Ok(ArtifactLogged {
        name: Decode::decode(d)?,
        digest: Decode::decode(d)?,
        size: Decode::decode(d)?,
        uri: Decode::decode(d)?,
        sha256: None,
    })
}

/// The layout-1 fields of a decision, in their stored order.
fn encode_decision_fields<E: Encoder>(d: &DecisionRecorded, e: &mut E) -> Result<(), EncodeError> {
    d.index.encode(e)?;
    d.prev.encode(e)?;
    d.run.encode(e)?;
    d.baseline.encode(e)?;
    d.artifacts.encode(e)?;
    d.policy.encode(e)?;
    d.policy_version.encode(e)?;
    d.policy_position.encode(e)?;
    d.evaluated_at.encode(e)?;
    d.evidence.encode(e)?;
    d.evidence_digest.encode(e)?;
    d.gates.encode(e)?;
    d.outcome.encode(e)?;
    d.review.encode(e)?;
    d.decided_at.encode(e)?;
    d.signer.encode(e)?;
    d.signature.encode(e)
}

/// Reads the layout-1 fields of a decision; `log` is left `None`.
fn decode_decision_fields<C, D: Decoder<Context = C>>(
    d: &mut D,
) -> Result<DecisionRecorded, DecodeError> {
    Ok(DecisionRecorded {
        index: Decode::decode(d)?,
        prev: Decode::decode(d)?,
        run: Decode::decode(d)?,
        baseline: Decode::decode(d)?,
        artifacts: Decode::decode(d)?,
        policy: Decode::decode(d)?,
        policy_version: Decode::decode(d)?,
        policy_position: Decode::decode(d)?,
        evaluated_at: Decode::decode(d)?,
        evidence: Decode::decode(d)?,
        evidence_digest: Decode::decode(d)?,
        gates: Decode::decode(d)?,
        outcome: Decode::decode(d)?,
        review: Decode::decode(d)?,
        decided_at: Decode::decode(d)?,
        signer: Decode::decode(d)?,
        signature: Decode::decode(d)?,
        log: None,
    })
}

/// Every `Body` index but the decision's and the artifact's, with its variant: one list
/// drives both the encoder and the decoder, so they cannot disagree.
macro_rules! plain_variants {
    ($m:ident) => {
        $m! {
            0 => RunStarted,
            1 => ParamsLogged,
            2 => MetricsLogged,
            4 => DatasetBound,
            5 => RunFinished,
            6 => PolicyPublished,
            8 => ReviewRecorded,
            9 => DeploymentRecorded,
            10 => LiveMetricsObserved,
            11 => DeploymentSigned,
            12 => ExperimentCreated,
            13 => TagsSet,
            14 => RunUpdated,
            15 => MetricPoints,
            16 => InputsLogged,
            17 => LoggedModelCreated,
            18 => LoggedModelUpdated,
            19 => ModelRegistered,
            20 => ModelVersionCreated,
            21 => AliasMoved,
        }
    };
}

impl Encode for Body {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        macro_rules! encode_plain {
            ($($index:literal => $variant:ident,)*) => {
                match self {
                    $(Body::$variant(payload) => {
                        ($index as u32).encode(e)?;
                        payload.encode(e)
                    })*
                    Body::ArtifactLogged(a) => match &a.sha256 {
                        None => {
                            ARTIFACT_V1_INDEX.encode(e)?;
                            encode_artifact_fields(a, e)
                        }
                        Some(sha256) => {
                            ARTIFACT_SHA256_INDEX.encode(e)?;
                            encode_artifact_fields(a, e)?;
                            sha256.0.encode(e)
                        }
                    },
                    Body::DecisionRecorded(d) => match &d.log {
                        None => {
                            DECISION_V1_INDEX.encode(e)?;
                            encode_decision_fields(d, e)
                        }
                        Some(pin) => {
                            DECISION_V2_INDEX.encode(e)?;
                            encode_decision_fields(d, e)?;
                            pin.size.encode(e)?;
                            pin.root.encode(e)
                        }
                    },
                }
            };
        }
        plain_variants!(encode_plain)
    }
}

impl<C> Decode<C> for Body {
    fn decode<D: Decoder<Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        let index = u32::decode(d)?;
        macro_rules! decode_plain {
            ($($index:literal => $variant:ident,)*) => {
                match index {
                    $($index => Ok(Body::$variant(Decode::decode(d)?)),)*
                    ARTIFACT_V1_INDEX => Ok(Body::ArtifactLogged(decode_artifact_fields(d)?)),
                    ARTIFACT_SHA256_INDEX => {
                        let mut artifact = decode_artifact_fields(d)?;
                        artifact.sha256 = Some(Sha256(<[u8; 32]>::decode(d)?));
                        Ok(Body::ArtifactLogged(artifact))
                    }
                    DECISION_V1_INDEX => Ok(Body::DecisionRecorded(Box::new(
                        decode_decision_fields(d)?,
                    ))),
                    DECISION_V2_INDEX => {
                        let mut decision = decode_decision_fields(d)?;
                        let size = u64::decode(d)?;
                        let root = <[u8; 32]>::decode(d)?;
                        decision.log = Some(LogPin { size, root });
                        Ok(Body::DecisionRecorded(Box::new(decision)))
                    }
                    found => Err(DecodeError::UnexpectedVariant {
                        type_name: "Body",
                        allowed: &AllowedEnumVariants::Range { min: 0, max: ARTIFACT_SHA256_INDEX },
                        found,
                    }),
                }
            };
        }
        plain_variants!(decode_plain)
    }
}

impl<'de, C> BorrowDecode<'de, C> for Body {
    fn borrow_decode<D: BorrowDecoder<'de, Context = C>>(d: &mut D) -> Result<Self, DecodeError> {
        Decode::decode(d)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{
        decode, encode, DecisionOutcome, Digest, Event, EventId, GateRecord, GateVerdict,
        ModelName, Producer, PublicKeyBytes, ReviewLink, RunId, SignatureBytes, Subject, Timestamp,
    };

    fn config() -> impl bincode::config::Config {
        bincode::config::standard()
    }

    prop_compose! {
        fn decision()(
            index in 0u64..u64::MAX,
            evaluated_at in any::<u64>(),
            evidence in proptest::collection::btree_set(any::<u64>(), 0..6),
            candidate in proptest::option::of(-1e6f64..1e6),
            review in proptest::option::of((any::<[u8; 32]>(), any::<u64>())),
            baseline in any::<bool>(),
            nanos in any::<i64>(),
            pin in proptest::option::of((any::<u64>(), any::<[u8; 32]>())),
            signer in any::<[u8; 32]>(),
        ) -> DecisionRecorded {
            DecisionRecorded {
                index,
                prev: (index > 0).then(|| Digest::of(&index.to_be_bytes())),
                run: RunId::new("run-1").unwrap(),
                baseline: baseline.then(|| RunId::new("run-0").unwrap()),
                artifacts: vec![Digest::of(b"model")],
                policy: Digest::of(b"policy"),
                policy_version: "v1".into(),
                policy_position: evaluated_at / 2,
                evaluated_at,
                evidence: evidence.into_iter().collect(),
                evidence_digest: Digest::of(b"evidence"),
                gates: vec![GateRecord {
                    gate: "auc".into(),
                    metric: Some("auc".into()),
                    candidate,
                    baseline: None,
                    threshold: ">= 0.5".into(),
                    verdict: GateVerdict::Pass,
                    reason: "ok".into(),
                }],
                outcome: DecisionOutcome::Promoted,
                review: review.map(|(h, p)| ReviewLink {
                    decision: Digest::of(&h),
                    review: Digest::of(&p.to_le_bytes()),
                    review_position: p,
                }),
                decided_at: Timestamp::from_unix_nanos(nanos),
                signer: PublicKeyBytes(signer),
                signature: SignatureBytes([7; 64]),
                log: pin.map(|(size, root)| LogPin { size, root }),
            }
        }
    }

    fn event(d: DecisionRecorded) -> Event {
        Event {
            id: EventId::new("decision:x").unwrap(),
            time: d.decided_at,
            producer: Producer::new("vouch-release").unwrap(),
            subject: Subject::Model(ModelName::new("m").unwrap()),
            body: Body::DecisionRecorded(Box::new(d)),
        }
    }

    /// A `u64` varint as bincode's standard configuration writes it.
    fn varint(v: u64) -> Vec<u8> {
        bincode::encode_to_vec(v, config()).unwrap()
    }

    proptest! {
        #[test]
        fn both_layouts_round_trip_and_every_truncation_is_refused(d in decision()) {
            let e = event(d.clone());
            let stored = encode(&e);
            prop_assert_eq!(decode(&stored).unwrap(), e);
            for cut in 0..stored.len() {
                prop_assert!(decode(&stored[..cut]).is_err(), "cut at {}", cut);
            }
        }

        /// Layout 2 is layout 1 under index 22 with the pin appended, computed here from
        /// the derived-style layout-1 bytes, so the two cannot drift apart.
        #[test]
        fn layout_2_is_layout_1_under_index_22_plus_the_pin(
            d in decision(),
            size in any::<u64>(),
            root in any::<[u8; 32]>(),
        ) {
            let v1 = Body::DecisionRecorded(Box::new(DecisionRecorded { log: None, ..d.clone() }));
            let v2 = Body::DecisionRecorded(Box::new(DecisionRecorded {
                log: Some(LogPin { size, root }),
                ..d
            }));
            let b1 = bincode::encode_to_vec(&v1, config()).unwrap();
            let b2 = bincode::encode_to_vec(&v2, config()).unwrap();
            prop_assert_eq!(b1[0], 7);
            prop_assert_eq!(b2[0], 22);
            let mut expected = vec![22u8];
            expected.extend_from_slice(&b1[1..]);
            expected.extend_from_slice(&varint(size));
            expected.extend_from_slice(&root);
            prop_assert_eq!(&b2, &expected);
            // Under index 7 the pin's bytes are left over; under 22 without them, it ends
            // too early.
            let (decoded, used): (Body, usize) =
                bincode::decode_from_slice(&b2, config()).unwrap();
            prop_assert_eq!(decoded, v2);
            prop_assert_eq!(used, b2.len());
            let mut as_v1 = b2.clone();
            as_v1[0] = 7;
            let (_, used): (Body, usize) = bincode::decode_from_slice(&as_v1, config()).unwrap();
            prop_assert_eq!(used, b1.len());
            let mut short = b1.clone();
            short[0] = 22;
            prop_assert!(bincode::decode_from_slice::<Body, _>(&short, config()).is_err());
        }
    }

    #[test]
    fn an_index_past_23_is_not_a_body() {
        let err = bincode::decode_from_slice::<Body, _>(&[24], config()).unwrap_err();
        assert!(err.to_string().contains("24"), "{err}");
    }

    prop_compose! {
        fn artifact()(
            name in "[a-z./]{1,20}",
            digest in any::<[u8; 32]>(),
            size in any::<u64>(),
            uri in "[a-z:/.]{1,30}",
            sha256 in proptest::option::of(any::<[u8; 32]>()),
        ) -> ArtifactLogged {
            ArtifactLogged {
                name,
                digest: Digest::from_bytes(digest),
                size,
                uri,
                sha256: sha256.map(Sha256),
            }
        }
    }

    /// Index 3 as derived bincode wrote it before `sha256` existed: the four fields.
    fn legacy_index_3(a: &ArtifactLogged) -> Vec<u8> {
        let mut out = varint(3);
        for part in [
            bincode::encode_to_vec(&a.name, config()).unwrap(),
            a.digest.as_bytes().to_vec(),
            varint(a.size),
            bincode::encode_to_vec(&a.uri, config()).unwrap(),
        ] {
            out.extend_from_slice(&part);
        }
        out
    }

    proptest! {
        /// Without a sha256 an artifact keeps exactly its old bytes; with one it is those
        /// fields under index 23 followed by the 32 raw bytes, and every cut is refused.
        #[test]
        fn artifact_layouts(a in artifact()) {
            let body = Body::ArtifactLogged(a.clone());
            let bytes = bincode::encode_to_vec(&body, config()).unwrap();
            let legacy = legacy_index_3(&ArtifactLogged { sha256: None, ..a.clone() });
            match a.sha256 {
                None => prop_assert_eq!(&bytes, &legacy),
                Some(sha) => {
                    let mut expected = vec![23u8];
                    expected.extend_from_slice(&legacy[1..]);
                    expected.extend_from_slice(&sha.0);
                    prop_assert_eq!(&bytes, &expected);
                    // Read under index 3, the sha256's bytes are left over.
                    let mut as_v1 = bytes.clone();
                    as_v1[0] = 3;
                    let (_, used): (Body, usize) =
                        bincode::decode_from_slice(&as_v1, config()).unwrap();
                    prop_assert_eq!(used, legacy.len());
                }
            }
            let (decoded, used): (Body, usize) = bincode::decode_from_slice(&bytes, config()).unwrap();
            prop_assert_eq!(decoded, body);
            prop_assert_eq!(used, bytes.len());
            for cut in 0..bytes.len() {
                prop_assert!(bincode::decode_from_slice::<Body, _>(&bytes[..cut], config()).is_err());
            }
        }
    }
}
