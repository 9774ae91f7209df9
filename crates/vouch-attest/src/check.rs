//! Checking a statement's fields (after its signatures verified): what `vouch attest
//! --verify` and the tests rely on. The signatures are the caller's (`Envelope`), and
//! whether a key is trusted is the trust list's.

use serde_json::Value;
use vouch_event::{PublicKeyBytes, Timestamp};

use crate::statement::{EXTENSION, LEVEL_FAILED, STATEMENT_TYPE, VSA_PREDICATE_TYPE};
use crate::AttestError;

/// One subject of a checked statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Its name.
    pub name: String,
    /// SHA-256, 64 lowercase hex digits.
    pub sha256: String,
    /// BLAKE3, 64 lowercase hex digits, when present.
    pub blake3: Option<String>,
}

/// A reviewer named in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewer {
    /// The name the review carries.
    pub name: String,
    /// The key.
    pub key: PublicKeyBytes,
    /// `approve` or `reject`.
    pub verdict: String,
    /// When the review was signed.
    pub reviewed_at: Timestamp,
}

/// What a checked statement says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The subjects.
    pub subjects: Vec<Subject>,
    /// `PASSED` or `FAILED`.
    pub result: String,
    /// `verifiedLevels`.
    pub levels: Vec<String>,
    /// `verifier.id`.
    pub verifier_id: String,
    /// `resourceUri`.
    pub resource_uri: String,
    /// `timeVerified`, parsed.
    pub time_verified: Timestamp,
    /// `policy.uri`.
    pub policy_uri: String,
    /// The decision's chain index.
    pub index: u64,
    /// The decision's hash, `blake3:<hex>`.
    pub hash: String,
    /// The decision's signing key.
    pub signer: PublicKeyBytes,
    /// The reviews the decision rests on (empty unless a review enacted it).
    pub reviewers: Vec<Reviewer>,
}

fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn key(text: &str) -> Option<PublicKeyBytes> {
    let hex = text.strip_prefix("ed25519:")?;
    if !is_hex64(hex) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(PublicKeyBytes(out))
}

/// Checks that `payload` is an in-toto Statement v1 with a VSA v1 predicate as Vouch
/// writes it (every required field present and well formed, every subject with a
/// `sha256`, result and levels consistent, Vouch's extension present) and returns what
/// it says.
///
/// # Errors
/// [`AttestError::Statement`] naming the first field that is missing or wrong.
pub fn check_statement(payload: &[u8]) -> Result<Summary, AttestError> {
    let bad = |what: String| AttestError::Statement(what);
    let v: Value = serde_json::from_slice(payload).map_err(|e| bad(format!("not JSON: {e}")))?;
    let str_at = |v: &Value, path: &str| -> Result<String, AttestError> {
        v.pointer(path)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(format!("`{}` is missing or not a string", &path[1..])))
    };
    if str_at(&v, "/_type")? != STATEMENT_TYPE {
        return Err(bad(format!("`_type` is not {STATEMENT_TYPE}")));
    }
    if str_at(&v, "/predicateType")? != VSA_PREDICATE_TYPE {
        return Err(bad(format!("`predicateType` is not {VSA_PREDICATE_TYPE}")));
    }
    let subjects = v
        .get("subject")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("`subject` is missing, empty or not a list".into()))?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let sha256 = s
                .pointer("/digest/sha256")
                .and_then(Value::as_str)
                .filter(|h| is_hex64(h))
                .ok_or_else(|| {
                    bad(format!(
                        "subject {i} has no sha256 of 64 lowercase hex digits"
                    ))
                })?
                .to_owned();
            let blake3 = match s.pointer("/digest/blake3") {
                None => None,
                Some(Value::String(h)) if is_hex64(h) => Some(h.clone()),
                Some(_) => {
                    return Err(bad(format!(
                        "subject {i}'s blake3 is not 64 lowercase hex digits"
                    )))
                }
            };
            Ok(Subject {
                name,
                sha256,
                blake3,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let p = v
        .get("predicate")
        .filter(|p| p.is_object())
        .ok_or_else(|| bad("`predicate` is missing or not an object".into()))?;
    let verifier_id = str_at(p, "/verifier/id")?;
    let time_text = str_at(p, "/timeVerified")?;
    let time_verified =
        Timestamp::parse_rfc3339(&time_text).map_err(|e| bad(format!("`timeVerified`: {e}")))?;
    let resource_uri = str_at(p, "/resourceUri")?;
    let policy_uri = str_at(p, "/policy/uri")?;
    for alg in ["sha256", "blake3"] {
        let digest = str_at(p, &format!("/policy/digest/{alg}"))?;
        if !is_hex64(&digest) {
            return Err(bad(format!(
                "`policy.digest.{alg}` is not 64 lowercase hex digits"
            )));
        }
    }
    let result = str_at(p, "/verificationResult")?;
    let levels = p
        .get("verifiedLevels")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`verifiedLevels` is missing or not a list".into()))?
        .iter()
        .map(|l| {
            l.as_str()
                .map(str::to_owned)
                .ok_or_else(|| bad("`verifiedLevels` holds a non-string".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(l) = levels.iter().find(|l| l.starts_with("SLSA_")) {
        return Err(bad(format!(
            "level {l} claims a SLSA track Vouch does not verify"
        )));
    }
    match result.as_str() {
        "PASSED" if !levels.is_empty() && !levels.iter().any(|l| l == LEVEL_FAILED) => {}
        "FAILED" if levels == [LEVEL_FAILED] => {}
        "PASSED" | "FAILED" => {
            return Err(bad(format!(
                "`verifiedLevels` {levels:?} does not fit the result {result}"
            )))
        }
        other => {
            return Err(bad(format!(
                "`verificationResult` is `{other}`, not PASSED or FAILED"
            )))
        }
    }
    let ext = p
        .get(EXTENSION)
        .ok_or_else(|| bad(format!("Vouch's extension field `{EXTENSION}` is missing")))?;
    let index = ext
        .pointer("/decision/index")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("the extension's `decision.index` is missing".into()))?;
    let hash = str_at(ext, "/decision/hash")?;
    let signer = key(&str_at(ext, "/decision/signer")?)
        .ok_or_else(|| bad("the extension's `decision.signer` is not an ed25519 key".into()))?;
    let outcome = str_at(ext, "/decision/outcome")?;
    let expected = if result == "PASSED" {
        "promoted"
    } else {
        "rejected"
    };
    if outcome != expected {
        return Err(bad(format!(
            "the decision's outcome `{outcome}` does not match the result {result}"
        )));
    }
    let reviewers = match ext.pointer("/review/reviews") {
        None => Vec::new(),
        Some(list) => list
            .as_array()
            .ok_or_else(|| bad("the extension's `review.reviews` is not a list".into()))?
            .iter()
            .map(|r| {
                Ok(Reviewer {
                    name: str_at(r, "/name")?,
                    key: key(&str_at(r, "/key")?)
                        .ok_or_else(|| bad("a review's `key` is not an ed25519 key".into()))?,
                    verdict: str_at(r, "/verdict")?,
                    reviewed_at: Timestamp::parse_rfc3339(&str_at(r, "/reviewedAt")?)
                        .map_err(|e| bad(format!("a review's `reviewedAt`: {e}")))?,
                })
            })
            .collect::<Result<Vec<_>, AttestError>>()?,
    };
    Ok(Summary {
        subjects,
        result,
        levels,
        verifier_id,
        resource_uri,
        time_verified,
        policy_uri,
        index,
        hash,
        signer,
        reviewers,
    })
}
