//! `vouch attest`: a decision as a signed in-toto statement with a SLSA VSA predicate
//! (`vouch_attest`, `schemas/attestation.md`), as a DSSE envelope, an `.intoto.jsonl`
//! bundle or a Sigstore bundle; `vouch attest --verify` checks one offline against a
//! trust list; `vouch keys pem` prints a public key as PEM for other verifiers.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use vouch_attest::{AttestError, Envelope};
use vouch_chain::SigningKey;
use vouch_event::{Body, DecisionOutcome, DecisionRecorded, Digest, PublicKeyBytes};
use vouch_files::FileKind;
use vouch_ledger::{Ledger, Role, Trust};
use vouch_views::{DecisionEntry, Views};

use crate::context::Context;
use crate::exit::{bad_input, CliError, CliResult, Fail, Failure};
use crate::output::{self, note, say};

/// An attestation file given to `--verify`: far above any Vouch writes.
const ATTESTATION_FILE: FileKind =
    FileKind::new("attestation", vouch_attest::dsse::MAX_ENVELOPE_BYTES as u64);

/// The container an attestation is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One DSSE envelope (JSON), signed by the decision's key and the reviewers' keys given.
    Dsse,
    /// An in-toto JSON Lines bundle (`.intoto.jsonl`): one envelope a line.
    IntotoJsonl,
    /// A Sigstore bundle v0.3 (`.sigstore.json`) with the decision signer's signature and a
    /// public-key hint; no transparency-log entries. It holds one signature, so reviewers'
    /// signatures need `dsse` or `intoto-jsonl`.
    Sigstore,
}

/// Arguments of `vouch attest`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .args(["decision", "artifact_digest", "verify"])
))]
pub struct AttestArgs {
    /// The decision to attest: its chain index, or its hash (8 or more leading hex digits).
    #[arg(long, value_name = "ID")]
    pub decision: Option<String>,
    /// Attest the latest decision that promoted this artifact (`blake3:<hex>`, or
    /// `sha256:<hex>` of an artifact logged with one).
    #[arg(long, value_name = "DIGEST")]
    pub artifact_digest: Option<String>,
    /// The key that signed the decision (the release key file, mode 0600); another key is
    /// refused.
    #[arg(long, value_name = "FILE", required_unless_present = "verify")]
    pub key: Option<PathBuf>,
    /// For a decision a review enacted: a reviewer's key file, whose signature is added to
    /// the envelope (repeatable; the key must have reviewed the decision).
    #[arg(long, value_name = "FILE")]
    pub reviewer_key: Vec<PathBuf>,
    /// An artifact file of the decision, for an artifact whose SHA-256 the ledger does not
    /// hold (its BLAKE3 must be the decision's; repeatable).
    #[arg(long, value_name = "FILE")]
    pub artifact: Vec<PathBuf>,
    /// The container written.
    #[arg(long, value_enum, default_value = "dsse")]
    pub format: Format,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The origin naming this ledger in the statement's `vouch://` URIs (default: the
    /// origin of its checkpoints, else `vouch/<log identity>`).
    #[arg(long)]
    pub origin: Option<String>,
    /// Check an attestation file (any of the three containers) offline instead: its
    /// signatures by keys the trust list trusts as signer (and reviewer), and the
    /// statement's fields. Exit 1 when a check fails.
    #[arg(
        long,
        value_name = "FILE",
        requires = "trust",
        conflicts_with_all = ["key", "reviewer_key", "artifact", "out", "origin"]
    )]
    pub verify: Option<PathBuf>,
    /// The trust list `--verify` checks against (`trust.json` format).
    #[arg(long, value_name = "FILE", requires = "verify")]
    pub trust: Option<PathBuf>,
}

/// Arguments of `vouch keys pem`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["key", "public"])))]
pub struct PemArgs {
    /// A private key file: its public half is printed.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// A public key, `ed25519:<hex>`.
    #[arg(long, value_name = "KEY")]
    pub public: Option<String>,
}

/// `vouch keys pem`: the public key as a PEM SubjectPublicKeyInfo (Ed25519, OID
/// 1.3.101.112), with its DSSE keyid on standard error.
pub fn pem(ctx: &Context, args: &PemArgs) -> CliResult<()> {
    let public = match (&args.key, &args.public) {
        (Some(path), _) => crate::release::load_key(path)?.public(),
        (None, Some(text)) => {
            vouch_chain::parse_public_key(text).map_err(|e| bad_input(format!("--public: {e}")))?
        }
        (None, None) => unreachable!("clap requires --key or --public"),
    };
    let pem = vouch_attest::keys::pem(&public.0);
    let keyid = vouch_attest::keys::keyid(&public.0);
    if ctx.global.json {
        output::json(&serde_json::json!({
            "public_key": vouch_chain::public_key_text(&public),
            "pem": pem,
            "keyid": keyid,
        }));
    } else {
        let _ = std::io::stdout().write_all(pem.as_bytes());
        note!("DSSE keyid {keyid}");
    }
    Ok(())
}

/// `vouch attest`.
pub fn attest(ctx: &Context, args: &AttestArgs) -> CliResult<u8> {
    if let Some(path) = &args.verify {
        let trust = args.trust.as_deref().expect("clap requires --trust");
        return verify(ctx, path, trust);
    }
    export(ctx, args).map(|()| 0)
}

fn attest_error(e: AttestError) -> CliError {
    bad_input(e)
}

/// The SHA-256 the ledger recorded for an artifact (`vouch log artifact` records it beside
/// the BLAKE3 digest): the one place `vouch attest` asks.
fn recorded_sha256(views: &Views, digest: &Digest) -> CliResult<Option<[u8; 32]>> {
    Ok(views.artifact_sha256(digest)?)
}

/// BLAKE3 and SHA-256 of a file, streamed.
fn hash_file(path: &Path) -> CliResult<(Digest, [u8; 32])> {
    let mut file = vouch_files::open_regular(path).map_err(|e| {
        let failure = if e.kind() == std::io::ErrorKind::NotFound {
            Failure::NotFound
        } else if vouch_files::is_refused(&e) {
            Failure::BadInput
        } else {
            Failure::Io
        };
        CliError::new(
            failure,
            anyhow::anyhow!("cannot read {}: {e}", path.display()),
        )
    })?;
    let mut hasher = vouch_attest::Hasher::default();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buffer).map_err(|e| {
            CliError::new(
                Failure::Io,
                anyhow::anyhow!("reading {}: {e}", path.display()),
            )
        })?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finish())
}

/// The decision `--decision` or `--artifact-digest` names.
fn chosen_decision(ledger: &Ledger, args: &AttestArgs) -> CliResult<DecisionEntry> {
    if let Some(id) = &args.decision {
        return Ok(ledger.find_decision(id)?);
    }
    let text = args
        .artifact_digest
        .as_deref()
        .expect("clap requires one of them");
    // `blake3:<hex>`, or `sha256:<hex>` through the views' sha256 index.
    let digest = ledger.views().resolve_artifact(text).map_err(|e| match e {
        vouch_views::ResolveError::Views(e) => CliError::from(e),
        other => bad_input(format!("--artifact-digest: {other}")),
    })?;
    let promoted = ledger.views().promotions(&digest)?;
    let Some(&index) = promoted.last() else {
        return Err(CliError::new(
            Failure::Unknown,
            anyhow::anyhow!(
                "no accepted decision promoted artifact {digest}; name a decision with --decision (a rejection can be attested too)"
            ),
        ));
    };
    ledger.views().decision(index)?.ok_or_else(|| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!("the views list promotion {index} of {digest} but not the decision"),
        )
    })
}

/// The policy text a decision cites, from the log.
fn policy_text(ledger: &Ledger, record: &DecisionRecorded) -> CliResult<String> {
    let stored = ledger.read_positions(&[record.policy_position])?.remove(0);
    match vouch_event::decode(&stored.bytes).map(|e| e.body) {
        Ok(Body::PolicyPublished(p)) if p.digest == record.policy => Ok(p.text),
        _ => Err(CliError::new(
            Failure::Internal,
            anyhow::anyhow!(
                "log position {} does not hold the decision's policy {}",
                record.policy_position,
                record.policy
            ),
        )),
    }
}

/// The subjects: one per artifact of the decision, named by the candidate run's artifact
/// name, with the SHA-256 the ledger recorded or the file given computed.
fn subjects(
    views: &Views,
    entry: &DecisionEntry,
    record: &DecisionRecorded,
    files: &[PathBuf],
) -> CliResult<Vec<vouch_attest::Artifact>> {
    let mut given: BTreeMap<Digest, (PathBuf, [u8; 32])> = BTreeMap::new();
    for path in files {
        let (blake3, sha256) = hash_file(path)?;
        if !record.artifacts.contains(&blake3) {
            return Err(bad_input(format!(
                "--artifact {}: its BLAKE3 {blake3} is none of decision {}'s artifacts ({})",
                path.display(),
                record.index,
                record
                    .artifacts
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        given.insert(blake3, (path.clone(), sha256));
    }
    let mut out = Vec::with_capacity(record.artifacts.len());
    for digest in &record.artifacts {
        let refs = views.artifacts(digest)?;
        let name = refs
            .iter()
            .find(|r| r.run == record.run)
            .or(refs.first())
            .map(|r| format!("{}/{}", entry.model, r.artifact.name))
            .unwrap_or_else(|| format!("{}/{digest}", entry.model));
        let recorded = recorded_sha256(views, digest)?;
        let sha256 = match (recorded, given.get(digest)) {
            (Some(recorded), Some((path, computed))) if recorded != *computed => {
                return Err(bad_input(format!(
                    "--artifact {}: its SHA-256 {} differs from the one recorded for {digest} ({}): the file is not the bytes that were logged",
                    path.display(),
                    vouch_attest::hex(computed),
                    vouch_attest::hex(&recorded)
                )))
            }
            (Some(recorded), _) => recorded,
            (None, Some((_, computed))) => *computed,
            (None, None) => {
                return Err(bad_input(format!(
                    "artifact {name} ({digest}) has no SHA-256 recorded in the ledger, and every attestation subject needs one: pass the file with --artifact FILE (its BLAKE3 is checked)"
                )))
            }
        };
        out.push(vouch_attest::Artifact {
            name,
            blake3: *digest,
            sha256,
        });
    }
    Ok(out)
}

/// The reviews a resolution rests on: those of the decision it resolves, up to the one it
/// cites.
fn reviews(views: &Views, record: &DecisionRecorded) -> CliResult<Vec<vouch_attest::Review>> {
    let Some(link) = &record.review else {
        return Ok(Vec::new());
    };
    let reviewed = views.decision_by_hash(&link.decision)?.ok_or_else(|| {
        CliError::new(
            Failure::Internal,
            anyhow::anyhow!(
                "decision {} resolves {}, which the views do not hold",
                record.index,
                link.decision
            ),
        )
    })?;
    Ok(reviewed
        .reviews
        .iter()
        .filter(|r| r.position <= link.review_position)
        .map(|r| vouch_attest::Review {
            name: r.reviewer.clone(),
            key: r.signer_key,
            verdict: r.verdict,
            reviewed_at: r.reviewed_at,
            hash: r.hash,
            position: r.position,
        })
        .collect())
}

fn export(ctx: &Context, args: &AttestArgs) -> CliResult<()> {
    let key = crate::release::load_key(args.key.as_deref().expect("clap requires --key"))?;
    let reviewer_keys = args
        .reviewer_key
        .iter()
        .map(|p| crate::release::load_key(p))
        .collect::<CliResult<Vec<SigningKey>>>()?;
    let ledger = ctx.open_caught_up()?;
    let entry = chosen_decision(&ledger, args)?;
    let record = ledger.decision_record(&entry)?;
    if record.outcome == DecisionOutcome::NeedsReview {
        return Err(attest_error(AttestError::NeedsReview {
            index: record.index,
        }));
    }
    let views = ledger.views();
    let policy = policy_text(&ledger, &record)?;
    let artifacts = subjects(views, &entry, &record, &args.artifact)?;
    let reviews = reviews(views, &record)?;
    let kept = vouch_app::transparency::kept_checkpoints(ledger.dir())
        .map_err(crate::checkpoint::transparency_error)?;
    let origin = match (&args.origin, kept.first()) {
        (Some(origin), _) => origin.clone(),
        (None, Some(first)) => first.checkpoint.origin().to_owned(),
        (None, None) => vouch_app::transparency::default_origin(&ledger.log().identity()?),
    };
    let checkpoint = kept
        .iter()
        .find(|c| c.checkpoint.size() >= entry.position)
        .map(|c| vouch_attest::Checkpoint {
            size: c.checkpoint.size(),
            root: c.checkpoint.root().0,
            note: c.note.to_text(),
        });
    let decision = vouch_attest::Decision {
        origin: &origin,
        model: &entry.model,
        record: &record,
        position: entry.position,
        policy_text: policy.as_bytes(),
        artifacts: &artifacts,
        reviews: &reviews,
        checkpoint: checkpoint.as_ref(),
    };
    let reviewer_refs: Vec<&SigningKey> = reviewer_keys.iter().collect();
    let attestation =
        vouch_attest::export(&decision, &key, &reviewer_refs).map_err(attest_error)?;
    let bytes = match args.format {
        Format::Dsse => attestation.dsse_json(),
        Format::IntotoJsonl => attestation.intoto_jsonl_line(),
        Format::Sigstore => attestation.sigstore_bundle(),
    };
    match &args.out {
        Some(path) => write_file(path, &bytes)?,
        None => std::io::stdout().write_all(&bytes).fail(Failure::Io)?,
    }
    let result = if record.outcome == DecisionOutcome::Promoted {
        "PASSED"
    } else {
        "FAILED"
    };
    let signed_by: Vec<String> = std::iter::once(&key)
        .chain(&reviewer_keys)
        .take(if args.format == Format::Sigstore {
            1
        } else {
            usize::MAX
        })
        .map(|k| vouch_attest::keys::keyid(&k.public().0))
        .collect();
    if ctx.global.json && args.out.is_some() {
        output::json(&serde_json::json!({
            "decision": record.index,
            "hash": entry.hash,
            "result": result,
            "subjects": artifacts.iter().map(|a| serde_json::json!({
                "name": a.name,
                "sha256": vouch_attest::hex(&a.sha256),
                "blake3": a.blake3.hex(),
            })).collect::<Vec<_>>(),
            "signed_by": signed_by,
            "reviewer_signatures_absent": record.review.is_some() && reviewer_keys.is_empty(),
            "out": args.out,
        }));
    }
    note!(
        "attested decision {} ({}): {result}, {} subject(s), signed by keyid {}",
        record.index,
        record.outcome.as_str(),
        artifacts.len(),
        signed_by.join(", ")
    );
    if record.review.is_some() && reviewer_keys.is_empty() {
        note!(
            "the reviewers' signatures are absent (reviewed by {}): pass --reviewer-key FILE to add one",
            reviews
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if args.format == Format::Sigstore && !reviewer_keys.is_empty() {
        note!("a Sigstore bundle holds one signature: the reviewers' signatures are left out; use --format dsse or intoto-jsonl to carry them");
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file beside it, so a reader never sees
/// half an attestation.
fn write_file(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let io = |e: std::io::Error| {
        CliError::new(
            Failure::Io,
            anyhow::anyhow!("cannot write {}: {e}", path.display()),
        )
    };
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The trusted key that made `signature`, if any.
fn signed_by(
    envelope: &Envelope,
    sig: &vouch_attest::Signature,
    trust: &Trust,
) -> Option<PublicKeyBytes> {
    trust
        .keys()
        .iter()
        .filter_map(|k| k.public())
        .find(|k| envelope.verified_by(sig, &k.0))
}

fn verify(ctx: &Context, path: &Path, trust_path: &Path) -> CliResult<u8> {
    let bytes = vouch_files::read(path, ATTESTATION_FILE).map_err(|e| {
        CliError::new(
            crate::exit::user_file_failure(&e),
            anyhow::anyhow!("cannot read attestation {}: {e}", path.display()),
        )
    })?;
    let trust = crate::release::read_trust_file(trust_path)?;
    let envelopes = vouch_attest::read_envelopes(&bytes)
        .map_err(|e| bad_input(format!("{}: {e}", path.display())))?;
    let mut reports = Vec::new();
    for (i, envelope) in envelopes.iter().enumerate() {
        let report = verify_envelope(envelope, &trust).map_err(|reason| {
            let which = if envelopes.len() > 1 {
                format!(" (envelope {})", i + 1)
            } else {
                String::new()
            };
            CliError::new(
                Failure::Verify,
                anyhow::anyhow!("{}{which} does not verify: {reason}", path.display()),
            )
        })?;
        reports.push(report);
    }
    if ctx.global.json {
        output::json(&reports);
    } else {
        for r in &reports {
            let levels = if r.result == "PASSED" {
                format!(" ({})", r.levels.join(", "))
            } else {
                String::new()
            };
            say!(
                "verified: decision {} ({}): {}{levels}",
                r.decision,
                r.hash,
                r.result
            );
            say!("  resource {}", r.resource_uri);
            say!("  verifier {} at {}", r.verifier_id, r.time_verified);
            for s in &r.signatures {
                say!("  signed by {} ({}, key id {})", s.name, s.role, s.key_id);
            }
            if !r.reviewers_unsigned.is_empty() {
                say!(
                    "  reviewed by {} (no reviewer signature in the envelope)",
                    r.reviewers_unsigned.join(", ")
                );
            }
            for s in &r.subjects {
                say!(
                    "  subject {} sha256:{}{}",
                    s.name,
                    s.sha256,
                    s.blake3
                        .as_deref()
                        .map(|b| format!(" blake3:{b}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(0)
}

#[derive(serde::Serialize)]
struct SignatureReport {
    name: String,
    role: &'static str,
    key: String,
    key_id: String,
}

#[derive(serde::Serialize)]
struct SubjectReport {
    name: String,
    sha256: String,
    blake3: Option<String>,
}

#[derive(serde::Serialize)]
struct VerifyReport {
    decision: u64,
    hash: String,
    result: String,
    levels: Vec<String>,
    resource_uri: String,
    verifier_id: String,
    time_verified: String,
    policy_uri: String,
    signatures: Vec<SignatureReport>,
    reviewers_unsigned: Vec<String>,
    subjects: Vec<SubjectReport>,
}

/// Checks one envelope: its type, every signature by a trusted key over the PAE (before
/// the payload is read), then the statement, then that the signers are the decision's
/// signer (trusted as signer when it decided) and its reviewers (trusted as reviewers).
fn verify_envelope(envelope: &Envelope, trust: &Trust) -> Result<VerifyReport, String> {
    if envelope.payload_type != vouch_attest::PAYLOAD_TYPE {
        return Err(format!(
            "payload type `{}` is not {}",
            envelope.payload_type,
            vouch_attest::PAYLOAD_TYPE
        ));
    }
    let mut keys = Vec::new();
    for (i, sig) in envelope.signatures.iter().enumerate() {
        match signed_by(envelope, sig, trust) {
            Some(key) => keys.push(key),
            None => {
                return Err(format!(
                    "signature {} (keyid `{}`) is not a valid signature by any key in the trust list over this payload: the payload was changed, or another key signed it",
                    i + 1,
                    sig.keyid
                ))
            }
        }
    }
    let summary = vouch_attest::check_statement(&envelope.payload).map_err(|e| e.to_string())?;
    let mut signatures = Vec::new();
    let mut signer_seen = false;
    let mut reviewers_signed = Vec::new();
    for key in keys {
        let key_id = vouch_chain::key_id(&key);
        let (role, name) = if key == summary.signer {
            let name = trust
                .authorize(&key, Role::Signer, summary.time_verified)
                .map_err(|v| format!("the decision's signer (key id {key_id}): {}", v.detail))?
                .name
                .clone();
            signer_seen = true;
            ("signer", name)
        } else if let Some(reviewer) = summary.reviewers.iter().find(|r| r.key == key) {
            let name = trust
                .authorize(&key, Role::Reviewer, reviewer.reviewed_at)
                .map_err(|v| format!("reviewer {} (key id {key_id}): {}", reviewer.name, v.detail))?
                .name
                .clone();
            reviewers_signed.push(key);
            ("reviewer", name)
        } else {
            return Err(format!(
                "key id {key_id} signed the envelope but is neither the decision's signer nor one of its reviewers"
            ));
        };
        signatures.push(SignatureReport {
            name,
            role,
            key: vouch_chain::public_key_text(&key),
            key_id,
        });
    }
    if !signer_seen {
        return Err(format!(
            "no signature by the decision's signer (key id {})",
            vouch_chain::key_id(&summary.signer)
        ));
    }
    Ok(VerifyReport {
        decision: summary.index,
        hash: summary.hash,
        result: summary.result,
        levels: summary.levels,
        resource_uri: summary.resource_uri,
        verifier_id: summary.verifier_id,
        time_verified: summary.time_verified.to_string(),
        policy_uri: summary.policy_uri,
        signatures,
        reviewers_unsigned: summary
            .reviewers
            .iter()
            .filter(|r| !reviewers_signed.contains(&r.key))
            .map(|r| r.name.clone())
            .collect(),
        subjects: summary
            .subjects
            .into_iter()
            .map(|s| SubjectReport {
                name: s.name,
                sha256: s.sha256,
                blake3: s.blake3,
            })
            .collect(),
    })
}
