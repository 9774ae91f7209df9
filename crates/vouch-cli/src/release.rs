//! Release commands: keys, policy check, gate, promote, review, deploy, audit, verify,
//! verify-bundle, registry, decisions.

use std::io::Write;
use std::path::Path;

use comfy_table::CellAlignment;
use vouch_app::registry::ModelEntry;
use vouch_chain::SigningKey;
use vouch_event::{DecisionOutcome, Digest, ModelName, ReviewVerdict, RunId, Timestamp};
use vouch_files::FileKind;
use vouch_ledger::AuditReport;
use vouch_ledger::{Bundle, Check, Ledger, ReleaseError, Role, Trust, TrustFile};
use vouch_policy::{GateResult, Outcome, Policy, ReviewResult, Verdict};
use vouch_views::{DecisionEntry, Views};

use crate::asof::At;
use crate::cli::{
    AuditArgs, DecisionsArgs, DeployArgs, ExportArgs, GateArgs, GateCommandArgs, KeyRole,
    KeysCommand, LogTrustArgs, PolicyCommand, PromoteArgs, RegistryArgs, ReviewCommand,
    ReviewsArgs, VerifyArgs, VerifyBundleArgs,
};
use crate::context::{now, parse_run, Context};
use crate::exit::{bad_input, CliError, CliResult, Fail, Failure};
use crate::output::{self, note, number, print, say, table, Cell, Progress};

impl From<ReleaseError> for CliError {
    fn from(e: ReleaseError) -> Self {
        CliError::new(vouch_app::failure::release_failure(&e), e.into())
    }
}

impl From<vouch_ledger::TrustError> for CliError {
    fn from(e: vouch_ledger::TrustError) -> Self {
        CliError::new(crate::exit::trust_failure(&e), e.into())
    }
}

/// A private key file: a few lines of text.
const KEY_FILE: FileKind = FileKind::new("key file", 64 << 10);
/// A policy: at most what a `policy_published` event holds.
const POLICY_FILE: FileKind = FileKind::new("policy", vouch_event::MAX_POLICY_BYTES as u64);
/// An audit bundle, capped where the format is defined.
pub const BUNDLE_FILE: FileKind = FileKind::new("audit bundle", vouch_ledger::MAX_BUNDLE_BYTES);

/// Reads a file the user named (key, policy, bundle) by `vouch_files`' rules.
pub fn read_text(path: &Path, kind: FileKind) -> CliResult<String> {
    vouch_files::read_to_string(path, kind).map_err(|e| {
        CliError::new(
            crate::exit::user_file_failure(&e),
            anyhow::anyhow!("cannot read {} {}: {e}", kind.what(), path.display()),
        )
    })
}

/// Reads a policy file.
pub fn read_policy(path: &Path) -> CliResult<String> {
    read_text(path, POLICY_FILE)
}

/// Reads a private key file, refusing one that others can read (as ssh does).
pub fn load_key(path: &Path) -> CliResult<SigningKey> {
    use std::os::unix::fs::PermissionsExt;
    let text = read_text(path, KEY_FILE)?;
    let mode = std::fs::metadata(path)
        .fail(Failure::Io)?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(bad_input(format!(
            "key file {} is accessible by other users (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    SigningKey::from_file_text(&text).map_err(|e| bad_input(format!("{}: {e}", path.display())))
}

pub fn parse_model(text: &str) -> CliResult<ModelName> {
    ModelName::new(text).map_err(|e| bad_input(format!("--model: {e}")))
}

pub fn keys(ctx: &Context, command: KeysCommand) -> CliResult<()> {
    match command {
        KeysCommand::Generate { out } => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| {
                CliError::new(
                    Failure::Internal,
                    anyhow::anyhow!("the OS random source failed: {e}"),
                )
            })?;
            let key = SigningKey::from_seed(seed);
            let mut file = {
                use std::os::unix::fs::OpenOptionsExt;
                std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&out).map_err(|e| {
                    let failure = if e.kind() == std::io::ErrorKind::AlreadyExists { Failure::BadInput } else { Failure::Io };
                    CliError::new(failure, anyhow::anyhow!("cannot create key file {}: {e} (an existing key is never overwritten)", out.display()))
                })?
            };
            file.write_all(key.to_file_text().as_bytes())
                .fail(Failure::Io)?;
            file.sync_all().fail(Failure::Io)?;
            let public = vouch_chain::public_key_text(&key.public());
            let key_id = vouch_chain::key_id(&key.public());
            if ctx.global.json {
                output::json(
                    &serde_json::json!({ "private_key_file": out, "public_key": public, "key_id": key_id }),
                );
            } else {
                say!("private key written to {} (mode 0600)", out.display());
                say!("public key  {public}");
                say!("key id      {key_id}");
            }
            Ok(())
        }
        KeysCommand::Trust {
            public,
            name,
            role,
            valid_from,
        } => {
            let key = match vouch_chain::parse_public_key(&public) {
                Ok(key) => key,
                // A private key file: take its public half (its own checks say what is wrong).
                Err(_) if Path::new(&public).is_file() => load_key(Path::new(&public))?.public(),
                Err(e) => return Err(bad_input(e.to_string())),
            };
            let role = key_role(role);
            let valid_from = valid_from
                .as_deref()
                .map(|t| parse_any_time(t, "--valid-from"))
                .transpose()?;
            let mut ledger = ctx.open()?;
            let mut trust = ledger.trust().clone();
            let added = trust
                .add(&key, &name, role, valid_from)
                .map_err(|e| bad_input(e.to_string()))?;
            if added {
                ledger.set_trust(trust)?;
            }
            let key_id = vouch_chain::key_id(&key);
            if ctx.global.json {
                output::json(
                    &serde_json::json!({ "key_id": key_id, "name": name, "role": role.as_str(), "added": added }),
                );
            } else if added {
                say!("trusted key {key_id} ({name}) as {}", role.as_str());
            } else {
                say!("key {key_id} was already trusted as {}", role.as_str());
            }
            Ok(())
        }
        KeysCommand::Revoke {
            public,
            from,
            reason,
        } => {
            let key =
                vouch_chain::parse_public_key(&public).map_err(|e| bad_input(e.to_string()))?;
            if reason.trim().is_empty() {
                return Err(bad_input("--reason must say why the key is revoked"));
            }
            let now = now();
            let from = match from.as_deref() {
                Some(t) => parse_any_time(t, "--from")?,
                None => now,
            };
            let mut ledger = ctx.open()?;
            let mut trust = ledger.trust().clone();
            let revoked = trust
                .revoke(&key, from, &reason, now)
                .map_err(|e| bad_input(e.to_string()))?;
            ledger.set_trust(trust)?;
            let key_id = vouch_chain::key_id(&key);
            if ctx.global.json {
                output::json(
                    &serde_json::json!({ "key_id": key_id, "from": from, "roles_revoked": revoked, "reason": reason }),
                );
            } else {
                say!("revoked key {key_id} from {from} ({revoked} role(s)): records it signed from then on are refused");
            }
            Ok(())
        }
        KeysCommand::List => {
            let ledger = ctx.open()?;
            let trust = ledger.trust();
            if ctx.global.json {
                output::json(&trust.keys());
                return Ok(());
            }
            let mut t = table(["key id", "name", "role", "valid", "public key"]);
            for k in trust.keys() {
                let valid = match (&k.valid_from, &k.revoked) {
                    (_, Some(r)) => format!("revoked from {} ({})", r.from, r.reason),
                    (Some(from), None) => format!("from {from}"),
                    (None, None) => "yes".into(),
                };
                t.add_row([
                    k.key_id.clone(),
                    k.name.clone(),
                    k.role.as_str().to_owned(),
                    valid,
                    k.key.clone(),
                ]);
            }
            print(&t);
            Ok(())
        }
    }
}

fn key_role(role: KeyRole) -> Role {
    match role {
        KeyRole::Signer => Role::Signer,
        KeyRole::Reviewer => Role::Reviewer,
        KeyRole::Deployer => Role::Deployer,
    }
}

/// A time flag that may lie in the future (a key's validity, a revocation).
fn parse_any_time(text: &str, flag: &str) -> CliResult<Timestamp> {
    let text = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    Timestamp::parse_rfc3339(&text).map_err(|e| bad_input(format!("{flag}: {e}")))
}

pub fn policy(ctx: &Context, command: PolicyCommand) -> CliResult<()> {
    let PolicyCommand::Check { file } = command;
    let text = read_policy(&file)?;
    let policy = Policy::parse(&text).map_err(|e| bad_input(format!("{}: {e}", file.display())))?;
    if ctx.global.json {
        output::json(&serde_json::json!({
            "file": file,
            "model": policy.model(),
            "version": policy.version(),
            "gates": policy.gates().len(),
            "reviews": policy.reviews().len(),
            "digest": Digest::of(text.as_bytes()),
        }));
    } else {
        say!(
            "{}: policy {} for model {}: {} gates, {} review rules",
            file.display(),
            policy.version(),
            policy.model(),
            policy.gates().len(),
            policy.reviews().len()
        );
    }
    Ok(())
}

pub use vouch_app::promote::{Evaluated, GateReport, PromoteReport, Promoted};

/// Evaluates `args` on `views` with the gates reading the time `now`.
fn evaluate_on(views: &Views, args: &GateArgs, now: Timestamp) -> CliResult<Evaluated> {
    let model = parse_model(&args.model)?;
    let run = parse_run(&args.run, "--run")?;
    let text = read_policy(&args.policy)?;
    vouch_app::promote::evaluate(views, &model, &run, text, now)
        .map_err(|e| promote_error(e, &args.policy))
}

/// A gate's or a promotion's error, naming the policy file where it is the policy's.
fn promote_error(e: vouch_app::promote::PromoteError, policy: &Path) -> CliError {
    use vouch_app::promote::PromoteError as P;
    let failure = vouch_app::failure::promote_failure(&e);
    let error = match e {
        P::Policy(why) => anyhow::anyhow!("{}: {why}", policy.display()),
        P::WrongModel {
            policy: governs,
            asked,
        } => anyhow::anyhow!(
            "policy {} governs model {governs}, not {asked}",
            policy.display()
        ),
        P::Release(r) => return r.into(),
        other => other.into(),
    };
    CliError::new(failure, error)
}

pub fn print_evaluation(e: &Evaluated) {
    let r = e.gate_report();
    print_gates(
        &r.model,
        &r.policy.version,
        &r.run,
        r.baseline.as_ref(),
        &r.gates,
        &r.reviews,
    );
}

/// An evaluation's header line, its gates as a table, and the review rules that asked for
/// a human: what `gate` and `promote` show.
pub fn print_gates(
    model: &ModelName,
    policy_version: &str,
    run: &RunId,
    baseline: Option<&RunId>,
    gates: &[GateResult],
    reviews: &[ReviewResult],
) {
    say!(
        "model {model}  policy {policy_version}  candidate {run}  baseline {}",
        baseline.map_or("none (first release)".into(), ToString::to_string)
    );
    let mut t = table([
        "gate",
        "metric",
        "candidate",
        "baseline",
        "threshold",
        "result",
        "reason",
    ]);
    for g in gates {
        let value = |v: Option<f64>| {
            Cell::new(v.map_or("-".into(), number)).set_alignment(CellAlignment::Right)
        };
        t.add_row(vec![
            Cell::new(&g.gate),
            Cell::new(g.metric.as_deref().unwrap_or("-")),
            value(g.candidate),
            value(g.baseline),
            Cell::new(&g.threshold),
            Cell::new(match g.verdict {
                Verdict::Pass => "pass",
                Verdict::Fail => "FAIL",
                Verdict::Review => "review",
            }),
            Cell::new(&g.reason),
        ]);
    }
    print(&t);
    for r in reviews.iter().filter(|r| r.triggered) {
        say!("review required ({}): {}", r.rule, r.reason);
    }
}

fn outcome_code(outcome: Outcome) -> u8 {
    outcome.exit_code()
}

pub fn gate(ctx: &Context, args: &GateCommandArgs) -> CliResult<u8> {
    let at = At::open(ctx, args.as_of.as_deref())?;
    let e = evaluate_on(at.views(), &args.gate, at.now())?;
    let report = e.gate_report();
    print_gate(ctx, &report);
    Ok(outcome_code(report.outcome))
}

/// `gate`'s answer: `--json`, or the evaluation and its outcome.
pub fn print_gate(ctx: &Context, r: &GateReport) {
    if ctx.global.json {
        output::json(r);
    } else {
        print_gates(
            &r.model,
            &r.policy.version,
            &r.run,
            r.baseline.as_ref(),
            &r.gates,
            &r.reviews,
        );
        say!("outcome: {}", r.outcome.as_str());
    }
}

/// Evaluates `args` on `ledger` now and records the signed decision.
pub fn promote_on(
    ctx: &Context,
    ledger: &mut Ledger,
    args: &GateArgs,
    key: &SigningKey,
) -> CliResult<Promoted> {
    let model = parse_model(&args.model)?;
    let run = parse_run(&args.run, "--run")?;
    let text = read_policy(&args.policy)?;
    vouch_app::promote::promote(ledger, &model, &run, text, key, &ctx.producer, now())
        .map_err(|e| promote_error(e, &args.policy))
}

pub fn promote(ctx: &Context, args: &PromoteArgs) -> CliResult<u8> {
    let Some(key) = &args.key else {
        return Err(CliError::new(
            Failure::Usage,
            anyhow::anyhow!("promote needs --key FILE: the release key that signs the decision"),
        ));
    };
    let key = load_key(key)?;
    let mut ledger = ctx.open_caught_up()?;
    let promoted = promote_on(ctx, &mut ledger, &args.gate, &key)?;
    let e = &promoted.evaluated;
    print_promotion(
        ctx,
        &promoted.report(),
        e.policy.version(),
        e.gated.baseline.as_ref().map(|b| &b.run),
    );
    Ok(outcome_code(e.gated.evaluation.outcome))
}

/// `promote`'s answer: `--json`, or the evaluation (under the policy version, against
/// the baseline the decision records) and the decision.
pub fn print_promotion(
    ctx: &Context,
    r: &PromoteReport,
    policy_version: &str,
    baseline: Option<&RunId>,
) {
    if ctx.global.json {
        output::json(r);
    } else {
        print_gates(
            &r.model,
            policy_version,
            &r.run,
            baseline,
            &r.gates,
            &r.reviews,
        );
        say!(
            "decision {} (chain index {}): {}",
            r.decision.hex(),
            r.index,
            r.outcome.as_str()
        );
    }
}

pub fn review(ctx: &Context, command: ReviewCommand) -> CliResult<()> {
    let (args, verdict) = match &command {
        ReviewCommand::Approve(a) => (a, ReviewVerdict::Approve),
        ReviewCommand::Reject(a) => (a, ReviewVerdict::Reject),
        ReviewCommand::Enact(a) => {
            let Some(key) = &a.key else {
                return Err(CliError::new(
                    Failure::Usage,
                    anyhow::anyhow!(
                        "review enact needs --key FILE: the release key that signs the enacting decision"
                    ),
                ));
            };
            return enact(ctx, &a.decision, key);
        }
    };
    if args.reason.trim().is_empty() {
        return Err(bad_input("--reason must say why"));
    }
    let key = load_key(&args.key)?;
    let release_key = args.release_key.as_deref().map(load_key).transpose()?;
    let mut ledger = ctx.open_caught_up()?;
    // A release key that may not sign decisions is refused before the review is recorded,
    // not after (which would record the review and still fail the command).
    if let Some(release) = &release_key {
        ledger
            .trust()
            .authorize(&release.public(), Role::Signer, now())
            .map_err(|v| bad_input(format!("--release-key: refused by the rule book: {v}")))?;
    }
    let (review, position) =
        ledger.record_review(&args.decision, verdict, &args.reason, &key, now())?;
    let target = ledger.find_decision(&args.decision)?;
    let state = ledger.review_state(&target)?;
    let decided = state.rejected || state.approvals >= state.required;
    let enacted = match (&release_key, decided) {
        (Some(release), true) => Some(ledger.enact_review(&target.hash.hex(), release, now())?),
        _ => None,
    };
    print_review(
        ctx,
        &ReviewShown {
            review,
            position,
            decision: target.hash,
            index: target.index,
            state,
            enacted: enacted.map(|(outcome, r)| (outcome.as_str().to_owned(), r.hash, r.index)),
        },
    );
    Ok(())
}

/// A review recorded, as `review approve|reject` reports it.
pub struct ReviewShown {
    /// The review's hash and position.
    pub review: Digest,
    pub position: u64,
    /// The decision reviewed, and its chain index.
    pub decision: Digest,
    pub index: u64,
    /// Where its reviews stand.
    pub state: vouch_ledger::ReviewState,
    /// The enacting decision, when a release key enacted it at once: outcome, hash, index.
    pub enacted: Option<(String, Digest, u64)>,
}

pub fn print_review(ctx: &Context, r: &ReviewShown) {
    let state = &r.state;
    let decided = state.rejected || state.approvals >= state.required;
    if ctx.global.json {
        output::json(&serde_json::json!({
            "review": r.review, "position": r.position, "decision": r.decision,
            "approvals": state.approvals, "required": state.required, "rejected": state.rejected,
            "enacted": r.enacted.as_ref().map(|(outcome, hash, index)| serde_json::json!({
                "decision": hash, "index": index, "outcome": outcome,
            })),
        }));
    } else {
        say!("review {} recorded", r.review.hex());
        match &r.enacted {
            Some((outcome, hash, index)) => say!(
                "decision {} (chain index {}): {}",
                hash.hex(),
                index,
                outcome
            ),
            None if decided => say!(
                "the reviews decide decision {}: a release key enacts it with `vouch review enact --decision {} --key RELEASE.key`",
                r.index,
                &r.decision.hex()[..12]
            ),
            None => say!(
                "decision {} has {} of {} approvals; waiting for more reviewers",
                r.index, state.approvals, state.required
            ),
        }
    }
}

fn enact(ctx: &Context, decision: &str, key: &Path) -> CliResult<()> {
    let key = load_key(key)?;
    let mut ledger = ctx.open_caught_up()?;
    let (outcome, recorded) = ledger.enact_review(decision, &key, now())?;
    print_enacted(ctx, outcome.as_str(), &recorded.hash, recorded.index);
    Ok(())
}

/// An enacting decision, as `review enact` reports it.
pub fn print_enacted(ctx: &Context, outcome: &str, hash: &Digest, index: u64) {
    if ctx.global.json {
        output::json(&serde_json::json!({ "decision": hash, "index": index, "outcome": outcome }));
    } else {
        say!(
            "decision {} (chain index {}): {}",
            hash.hex(),
            index,
            outcome
        );
    }
}

pub fn reviews(ctx: &Context, args: &ReviewsArgs) -> CliResult<()> {
    let ledger = ctx.open_caught_up()?;
    let mut all = ledger.reviews()?;
    if args.pending {
        all.retain(|(_, s)| s.resolved_by.is_none());
    }
    if ctx.global.json {
        output::json(
            &all.iter()
                .map(|(d, s)| serde_json::json!({ "decision": d, "state": s }))
                .collect::<Vec<_>>(),
        );
        return Ok(());
    }
    let mut t = table([
        "#",
        "decision",
        "model",
        "run",
        "approvals",
        "state",
        "reviewers",
    ]);
    for (d, s) in &all {
        let state = match (s.resolved_by, s.rejected, s.approvals >= s.required) {
            (Some(by), _, _) => format!("resolved by decision {by}"),
            (None, true, _) | (None, false, true) => "decided: awaiting enactment".into(),
            (None, false, false) => "pending".into(),
        };
        let reviewers: Vec<String> = d
            .reviews
            .iter()
            .map(|r| {
                format!(
                    "{} ({:?})",
                    ledger.trust().name_of(&r.signer_key).unwrap_or(&r.reviewer),
                    r.verdict
                )
            })
            .collect();
        t.add_row([
            d.index.to_string(),
            d.hash.hex()[..12].to_owned(),
            d.model.to_string(),
            d.run.to_string(),
            format!("{}/{}", s.approvals, s.required),
            state,
            reviewers.join(", "),
        ]);
    }
    print(&t);
    Ok(())
}

pub fn artifact_digest(path: Option<&Path>, digest: Option<&str>) -> CliResult<Digest> {
    match (path, digest) {
        // A sha256 names an artifact only through the views' index, which this helper
        // cannot reach: callers holding a ledger use `evidence::artifact_digest_in`.
        (_, Some(d)) if d.trim().starts_with("sha256:") => Err(bad_input(format!(
            "--digest {}: here an artifact is named by its file or its blake3 digest (a sha256 is resolved by the ledger that logged it: run this where the ledger is)",
            d.trim()
        ))),
        (_, Some(d)) => Digest::parse(d).map_err(|e| bad_input(format!("--digest: {e}"))),
        // A file, or a directory by its manifest (`schemas/artifact-manifest.md`).
        (Some(path), None) => crate::evidence::hash_artifact(path).map(|h| h.digest),
        (None, None) => Err(bad_input("give an artifact file or --digest")),
    }
}

/// Checks an environment name (`--env`): 1 to 64 bytes, no spaces or control characters.
pub fn check_env(env: &str) -> CliResult<()> {
    if env.is_empty() || env.len() > 64 || env.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(bad_input("--env must be 1 to 64 characters without spaces"));
    }
    Ok(())
}

/// What `deploy` is asked: the model, the artifact's digest (a file hashed here) and the
/// reason of a forced deployment.
pub fn deploy_request<'a>(
    args: &'a DeployArgs,
    ledger: Option<&Ledger>,
) -> CliResult<(ModelName, Digest, Option<&'a str>)> {
    let model = parse_model(&args.model)?;
    check_env(&args.env)?;
    let digest = match ledger {
        Some(ledger) => crate::evidence::artifact_digest_in(
            ledger,
            args.artifact.as_deref(),
            args.digest.as_deref(),
        )?,
        None => artifact_digest(args.artifact.as_deref(), args.digest.as_deref())?,
    };
    let forced = match (args.force, args.reason.as_deref()) {
        (true, Some(reason)) if !reason.trim().is_empty() => Some(reason),
        (true, _) => return Err(bad_input("--force needs --reason TEXT")),
        (false, _) => None,
    };
    Ok((model, digest, forced))
}

pub fn deploy(ctx: &Context, args: &DeployArgs) -> CliResult<()> {
    let key = load_key(&args.key)?;
    let mut ledger = ctx.open_caught_up()?;
    let (model, digest, forced) = deploy_request(args, Some(&ledger))?;
    let (position, decision) =
        ledger.record_deployment(&model, &args.env, digest, forced, &key, now())?;
    let decision = decision.map(|d| (d.hash, d.index));
    print_deployment(
        ctx,
        &model,
        &args.env,
        &digest,
        position,
        decision,
        forced.is_some(),
    );
    Ok(())
}

/// A deployment recorded, as `deploy` reports it; `decision` is the promoting one's hash
/// and chain index.
pub fn print_deployment(
    ctx: &Context,
    model: &ModelName,
    env: &str,
    digest: &Digest,
    position: u64,
    decision: Option<(Digest, u64)>,
    forced: bool,
) {
    if ctx.global.json {
        output::json(&serde_json::json!({
            "model": model, "env": env, "artifact": digest, "position": position,
            "decision": decision.map(|d| d.0), "forced": forced,
        }));
    } else {
        match &decision {
            Some((hash, index)) => say!(
                "deployed {digest} to {env} (promoted by decision {}, chain index {index})",
                hash.hex(),
            ),
            None => {
                say!("FORCED deployment of {digest} to {env} recorded: no decision promoted it")
            }
        }
    }
}

pub fn print_checks(checks: &[Check]) {
    let mut t = table(["check", "", "detail"]);
    for c in checks {
        t.add_row([
            c.what.as_str(),
            if c.ok { "ok" } else { "FAILED" },
            c.detail.as_str(),
        ]);
    }
    print(&t);
}

pub fn audit(ctx: &Context, args: &AuditArgs) -> CliResult<u8> {
    let ledger = ctx.open_caught_up()?;
    let digest =
        crate::evidence::artifact_digest_in(&ledger, args.path.as_deref(), args.digest.as_deref())?;
    let trust = ledger.trust().clone();
    let report = ledger.audit(&digest, &trust)?;
    if report.run.is_none() {
        // A directory never promoted: say which of its files differ from the one logged.
        if let Some(path) = args.path.as_deref() {
            crate::evidence::explain_directory(&ledger, path)?;
        }
    }
    let mut unproven = None;
    if let (Some(path), Some(decision)) = (&args.bundle, &report.decision) {
        let against = args
            .checkpoint
            .as_deref()
            .map(crate::prove::read_checkpoint)
            .transpose()?;
        let proven = vouch_app::transparency::proven_bundle(
            &ledger,
            &digest,
            decision.index,
            &trust,
            against,
        )
        .map_err(|e| CliError::new(e.failure(), e.into()))?;
        unproven = proven.unproven;
        let text = serde_json::to_string_pretty(&proven.bundle).expect("serializable") + "\n";
        std::fs::write(path, text).map_err(|e| {
            CliError::new(
                Failure::Io,
                anyhow::anyhow!("writing {}: {e}", path.display()),
            )
        })?;
    }
    print_audit(ctx, &report, &trust);
    if !ctx.global.json {
        if let Some(path) = &args.bundle {
            if report.decision.is_some() {
                say!("audit bundle written to {}", path.display());
                if let Some(why) = &unproven {
                    note!(
                        "note: the bundle carries no proof that its records are in the log: {why}"
                    );
                }
            }
        }
    }
    audit_code(ctx, &report)
}

/// `audit`'s exit code, and on failure (without `--json`) what failed.
pub fn audit_code(ctx: &Context, report: &AuditReport) -> CliResult<u8> {
    if report.ok() {
        Ok(0)
    } else {
        if !ctx.global.json {
            note!(
                "error: audit of {} failed: {}",
                report.artifact,
                match report.decision {
                    None => "the artifact was never promoted".to_owned(),
                    Some(_) => report
                        .checks
                        .iter()
                        .filter(|c| !c.ok)
                        .map(|c| c.what.clone())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            );
        }
        Ok(1)
    }
}

/// `audit`'s answer: `--json` (`{ok, report}`), or the artifact's story and the checks,
/// signers named by `trust`.
pub fn print_audit(ctx: &Context, report: &AuditReport, trust: &Trust) {
    let digest = report.artifact;
    if ctx.global.json {
        output::json(&serde_json::json!({ "ok": report.ok(), "report": report }));
    } else {
        say!("artifact {digest}");
        for d in &report.deployments {
            say!(
                "deployed    {} to {} at {} by {}{}",
                d.model,
                d.env,
                d.time,
                trust.name_of(&d.signer_key).unwrap_or("an untrusted key"),
                if d.forced {
                    format!(" — FORCED: {}", d.reason.as_deref().unwrap_or(""))
                } else {
                    String::new()
                }
            );
        }
        if let (Some(entry), Some(record)) = (&report.decision, &report.record) {
            say!(
                "decision    {} (chain index {}) {} at {}, signed by key {}",
                entry.hash.hex(),
                entry.index,
                entry.outcome.as_str(),
                record.decided_at,
                entry.signer
            );
            say!(
                "policy      version {} ({})",
                record.policy_version,
                record.policy
            );
            if let Some(reviewed) = &report.reviewed {
                for r in &reviewed.reviews {
                    say!(
                        "review      {:?} by {} at {} (key {}): {}",
                        r.verdict,
                        r.reviewer,
                        r.reviewed_at,
                        r.signer,
                        r.reason
                    );
                }
            }
            if let Some(run) = &report.run {
                let code = run
                    .started
                    .as_ref()
                    .and_then(|s| s.git.as_ref())
                    .map_or("not recorded".into(), |g| {
                        format!("{}{}", g.commit, if g.dirty { " (dirty)" } else { "" })
                    });
                say!(
                    "run         {} ({}), code {code}",
                    run.run,
                    run.experiment().unwrap_or("-")
                );
                let params: Vec<String> = run
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.value))
                    .collect();
                say!("params      {}", params.join(" "));
                for d in &run.datasets {
                    let age = |t: Option<vouch_event::Timestamp>| {
                        t.map_or("-".into(), |t| {
                            format!(
                                "{t} ({:.1} days before the decision)",
                                (record.decided_at.unix_nanos() - t.unix_nanos()) as f64 / 86_400e9
                            )
                        })
                    };
                    say!(
                        "dataset     {} {} rows={} snapshot {} labels through {}",
                        d.role.as_str(),
                        d.name,
                        d.rows,
                        age(d.snapshot_at),
                        age(d.labels_through)
                    );
                }
            }
            say!(
                "evidence    {} events read at log position {}, digest {}",
                record.evidence.len(),
                record.evaluated_at,
                record.evidence_digest
            );
            let mut t = table([
                "gate",
                "metric",
                "candidate",
                "baseline",
                "threshold",
                "result",
            ]);
            for g in &record.gates {
                t.add_row([
                    g.gate.clone(),
                    g.metric.clone().unwrap_or_else(|| "-".into()),
                    g.candidate.map_or("-".into(), number),
                    g.baseline.map_or("-".into(), number),
                    g.threshold.clone(),
                    format!("{:?}", g.verdict).to_lowercase(),
                ]);
            }
            print(&t);
        }
        print_checks(&report.checks);
    }
}

/// The log policy `--log`, `--witness` and `--quorum` describe, if `--log` is given.
pub fn log_policy(args: &LogTrustArgs) -> CliResult<Option<vouch_tlog::policy::Policy>> {
    let Some(log) = &args.log else {
        return Ok(None);
    };
    vouch_app::witness::log_policy(log, &args.witnesses, args.quorum.unwrap_or(0))
        .map(Some)
        .map_err(|e| CliError::new(e.failure(), e.into()))
}

/// `vouch export`: the whole log, record by record.
pub fn export(ctx: &Context, args: &ExportArgs) -> CliResult<()> {
    let ledger = ctx.open()?;
    let io = |e: vouch_ledger::ExportError| match e {
        vouch_ledger::ExportError::Io(source) => CliError::new(
            crate::exit::user_file_failure(&source),
            anyhow::anyhow!("cannot write {}: {source}", args.out.display()),
        ),
        other => CliError::new(Failure::Internal, other.into()),
    };
    let count = if args.out.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        vouch_ledger::write_export(ledger.log(), &mut out).map_err(io)?
    } else {
        let tmp = args.out.with_extension("partial");
        let file = std::fs::File::create(&tmp).map_err(|e| {
            CliError::new(
                crate::exit::user_file_failure(&e),
                anyhow::anyhow!("cannot create {}: {e}", tmp.display()),
            )
        })?;
        let mut out = std::io::BufWriter::new(file);
        let count = vouch_ledger::write_export(ledger.log(), &mut out).map_err(io)?;
        drop(out);
        std::fs::rename(&tmp, &args.out).map_err(|e| {
            CliError::new(
                Failure::Io,
                anyhow::anyhow!(
                    "cannot rename {} to {}: {e}",
                    tmp.display(),
                    args.out.display()
                ),
            )
        })?;
        count
    };
    if !ctx.global.json && args.out.as_os_str() != "-" {
        note!("{count} records written to {}", args.out.display());
    }
    Ok(())
}

/// What `verify --checkpoint` found: the checkpoint's signatures under the auditor's
/// policy, and the root of the log's first records at its size.
#[derive(Debug, serde::Serialize)]
struct CheckpointFinding {
    ok: bool,
    origin: Option<String>,
    size: Option<u64>,
    root: Option<String>,
    log_root: Option<String>,
    cosigners: Vec<String>,
    problem: Option<String>,
}

fn check_log_against(
    log: &dyn vouch_log::Log,
    path: &Path,
    policy: &vouch_tlog::policy::Policy,
) -> CliResult<CheckpointFinding> {
    use vouch_tlog::policy::PolicyVerdict;
    let checkpoint = crate::prove::read_checkpoint(path)?;
    let mut finding = CheckpointFinding {
        ok: false,
        origin: Some(checkpoint.checkpoint.origin().to_owned()),
        size: Some(checkpoint.checkpoint.size()),
        root: Some(checkpoint.checkpoint.root().to_hex()),
        log_root: None,
        cosigners: Vec::new(),
        problem: None,
    };
    let (size, root) = (checkpoint.checkpoint.size(), checkpoint.checkpoint.root());
    match vouch_tlog::policy::evaluate(policy, &checkpoint.note) {
        Ok(PolicyVerdict::Accepted { cosigners, .. }) => finding.cosigners = cosigners,
        Ok(PolicyVerdict::QuorumNotMet { cosigners, .. }) => {
            finding.problem = Some(format!(
                "checkpoint {}: too few of the known witnesses cosigned it ({}: {})",
                path.display(),
                cosigners.len(),
                if cosigners.is_empty() {
                    "none".into()
                } else {
                    cosigners.join(", ")
                }
            ));
            finding.cosigners = cosigners;
            return Ok(finding);
        }
        Err(e) => {
            finding.problem = Some(format!(
                "checkpoint {} does not verify: {e}",
                path.display()
            ));
            return Ok(finding);
        }
    }
    match vouch_ledger::root_of_log(log, size) {
        Ok(ours) => {
            finding.log_root = Some(ours.to_hex());
            if ours == root {
                finding.ok = true;
            } else {
                finding.problem = Some(format!(
                    "the log's first {size} records have root {}, not the checkpoint's {}: this is not the log the checkpoint (and its witnesses) saw",
                    ours.to_hex(),
                    root.to_hex()
                ));
            }
        }
        Err(vouch_ledger::ProofError::LogShorter { records, .. }) => {
            finding.problem = Some(format!(
                "the log holds {records} records in sequence, fewer than the checkpoint's {size}: it was truncated, or lost a record"
            ));
        }
        Err(e) => return Err(CliError::new(Failure::Internal, e.into())),
    }
    Ok(finding)
}

pub fn verify(ctx: &Context, args: &VerifyArgs) -> CliResult<u8> {
    let policy = log_policy(&args.log)?;
    if let Some(from) = &args.from {
        return verify_export(ctx, args, from, policy.as_ref());
    }
    // A log that lost records cannot be projected; its views still hold the tree of the
    // log as it was, which locates the first record that differs.
    let ledger = match ctx.open_for_verify()? {
        Ok(ledger) => ledger,
        Err(shrunk) => return verify_shrunk(&shrunk),
    };
    let trust = ledger.trust().clone();
    let progress = Progress::new("verifying");
    let start = std::time::Instant::now();
    let report = ledger.verify(&trust, &mut |at, end| progress.update(at, end))?;
    progress.finish();
    let checkpoint = match (&args.checkpoint, &policy) {
        (Some(path), Some(policy)) => Some(check_log_against(ledger.log(), path, policy)?),
        _ => None,
    };
    let seconds = start.elapsed().as_secs_f64();
    finish_verify(ctx, &report, checkpoint.as_ref(), seconds)
}

/// `vouch verify` of a ledger whose log holds fewer records than its views saw: exit 70,
/// naming the first record that is not the one the views hashed (lost, or shifted into
/// its place).
fn verify_shrunk(ledger: &Ledger) -> CliResult<u8> {
    let trust = ledger.trust().clone();
    let report = ledger.verify(&trust, &mut |_, _| {})?;
    let views = ledger.views().position().map_err(|e| CliError {
        failure: crate::exit::views_failure(&e),
        error: anyhow::anyhow!("reading the views: {e}"),
    })?;
    let location = match report.tree.as_ref().and_then(|t| t.first_difference) {
        Some(leaf) => format!(
            "the first record that differs from what the views saw is at log position {} (leaf {leaf}): it was lost, or a later record moved into its place",
            leaf + 1
        ),
        None => format!(
            "every record the log still holds is the one the views saw: the records after position {} were lost",
            report.records
        ),
    };
    note!(
        "error: the log is damaged: the views applied it up to position {}, but it holds {} records; {location}. `vouch rebuild` projects the log as it is now",
        views.get(),
        report.records
    );
    Ok(Failure::Internal.code())
}

/// `vouch verify --from FILE --trust FILE`: an exported log, offline, with the code that
/// verifies a ledger.
fn verify_export(
    ctx: &Context,
    args: &VerifyArgs,
    from: &Path,
    policy: Option<&vouch_tlog::policy::Policy>,
) -> CliResult<u8> {
    let export_file = FileKind::new("exported log", vouch_ledger::MAX_EXPORT_BYTES);
    let text = read_text(from, export_file)?;
    let log = vouch_ledger::ExportedLog::parse(&text)
        .map_err(|e| bad_input(format!("{} is not an exported log: {e}", from.display())))?;
    let trust_path = args
        .trust
        .as_deref()
        .expect("clap requires --trust with --from");
    let trust = read_trust_file(trust_path)?;
    let start = std::time::Instant::now();
    let report = vouch_ledger::verify_log(&log, &trust, &mut |_, _| {})?;
    let checkpoint = match (&args.checkpoint, policy) {
        (Some(path), Some(policy)) => Some(check_log_against(&log, path, policy)?),
        _ => None,
    };
    finish_verify(
        ctx,
        &report,
        checkpoint.as_ref(),
        start.elapsed().as_secs_f64(),
    )
}

/// Prints a verification and gives its exit code: 0 when the log, the tree over it and
/// the checkpoint (when asked) all verify; 1 on a failed check; 70 on a damaged log.
fn finish_verify(
    ctx: &Context,
    report: &vouch_ledger::VerifyReport,
    checkpoint: Option<&CheckpointFinding>,
    seconds: f64,
) -> CliResult<u8> {
    let checkpoint_failure = checkpoint.and_then(|c| c.problem.clone());
    if ctx.global.json {
        let mut out = serde_json::json!({
            "ok": report.failure.is_none() && report.tree.as_ref().is_none_or(|t| t.ok)
                && checkpoint.is_none_or(|c| c.ok),
            "seconds": seconds,
            "report": report,
        });
        if let Some(c) = checkpoint {
            out["checkpoint"] = serde_json::to_value(c).expect("serializable");
        }
        output::json(&out);
    } else {
        say!(
            "{} records, {} decisions, {} reviews, {} signatures checked in {seconds:.2} s",
            report.records,
            report.decisions,
            report.reviews,
            report.signatures
        );
    }
    // The tree over the log, recomputed from the records read, against the views' tree. A
    // log that cannot be read to its end (damage) makes this comparison meaningless: the
    // damage is the failure then.
    let damaged = report.failure.as_ref().is_some_and(|f| f.rule.is_none());
    let tree_failure = report.tree.as_ref().filter(|t| !t.ok && !damaged).map(|tree| {
        let what = match tree.first_difference {
            Some(leaf) => format!(
                "leaf {leaf} (log position {}) differs: the record stored there is not the one the views hashed when they projected it",
                leaf + 1
            ),
            None if tree.size != tree.views_size => format!(
                "the log holds {} records but the views' tree {}",
                tree.size, tree.views_size
            ),
            None => "every leaf matches but the roots differ: the views' tree is damaged (run `vouch rebuild`)".into(),
        };
        format!(
            "the tree over the log recomputed from its {} records (root {}) differs from the views' tree of {} (root {}): {what}",
            tree.size, tree.root, tree.views_size, tree.views_root
        )
    });
    if report.failure.is_none() {
        if let Some(t) = &tree_failure {
            note!("error: verification failed: {t}");
            return Ok(Failure::Verify.code());
        }
        if let (Some(tree), false) = (&report.tree, ctx.global.json) {
            say!(
                "the tree over the log verifies: {} records, root {}",
                tree.size,
                tree.root
            );
        }
    } else if let Some(t) = &tree_failure {
        note!("also: {t}");
    }
    if let (Some(c), None, false) = (checkpoint, &checkpoint_failure, ctx.global.json) {
        say!(
            "the log is the one checkpoint {} at {} records commits to{}",
            c.origin.as_deref().unwrap_or("?"),
            c.size.unwrap_or(0),
            if c.cosigners.is_empty() {
                String::new()
            } else {
                format!(" (cosigned by {})", c.cosigners.join(", "))
            }
        );
    }
    match &report.failure {
        None => {
            if let Some(problem) = &checkpoint_failure {
                note!("error: verification failed: {problem}");
                return Ok(Failure::Verify.code());
            }
            if !ctx.global.json {
                say!("the chain verifies");
            }
            Ok(0)
        }
        Some(f) => {
            for r in report.refused.iter().skip(1) {
                note!(
                    "refused: log position {}{}: {}{}",
                    r.position,
                    r.index
                        .map_or(String::new(), |i| format!(" (decision {i})")),
                    r.reason,
                    r.rule
                        .map_or(String::new(), |rule| format!(" [rule {rule}]"))
                );
            }
            if let Some(problem) = &checkpoint_failure {
                note!("also: {problem}");
            }
            // A record the log cannot read back (damaged, or missing from the sequence)
            // has no rule: that is a damaged store, and `rebuild` (or any command reading
            // that far) fails on it with the same code.
            let damaged = f.rule.is_none();
            note!(
                "error: {} at log position {}{}: {}{}",
                if damaged {
                    "the log is damaged"
                } else {
                    "verification failed"
                },
                f.position,
                f.index
                    .map_or(String::new(), |i| format!(" (decision {i})")),
                f.reason,
                f.rule
                    .map_or(String::new(), |rule| format!(" [rule {rule}]"))
            );
            Ok(if damaged {
                Failure::Internal.code()
            } else {
                Failure::Verify.code()
            })
        }
    }
}

pub fn verify_bundle_command(ctx: &Context, args: &VerifyBundleArgs) -> CliResult<u8> {
    let text = read_text(&args.file, BUNDLE_FILE)?;
    let bundle: Bundle = serde_json::from_str(&text).map_err(|e| {
        bad_input(format!(
            "{} is not an audit bundle: {e}",
            args.file.display()
        ))
    })?;
    let trust = auditor_trust(args, &bundle)?;
    if trust.keys().is_empty() {
        let signers: Vec<String> = bundle
            .signers()
            .iter()
            .map(|(key, name)| format!("{} ({name})", vouch_chain::public_key_text(key)))
            .collect();
        return Err(bad_input(format!(
            "verify-bundle needs the auditor's trust: --trust FILE, or --key ed25519:HEX --role ROLE for each key you trust (a bundle's own keys are only names). The bundle is signed by: {}",
            if signers.is_empty() { "nobody".into() } else { signers.join(", ") }
        )));
    }
    let policy = log_policy(&args.log)?;
    let checks = vouch_ledger::verify_bundle_in_log(&bundle, &trust, policy.as_ref());
    let ok = !checks.is_empty() && checks.iter().all(|c| c.ok);
    if ctx.global.json {
        output::json(&serde_json::json!({ "ok": ok, "checks": checks }));
    } else {
        print_checks(&checks);
        if ok {
            say!(
                "bundle verifies: artifact {} was promoted by decision {}",
                bundle.artifact,
                bundle.decision
            );
            if policy.is_none() && bundle.log.is_some() {
                note!("note: the bundle's proofs that its records are in the log were not checked: give the log's key with --log VKEY (and --witness/--quorum)");
            }
        }
    }
    if !ok {
        note!(
            "error: the bundle does not verify: {}",
            checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.detail.clone())
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(if ok { 0 } else { 1 })
}

/// An auditor's trust list file (`verify-bundle --trust`, `verify --from --trust`,
/// `attest --verify --trust`): what is wrong with it is bad input, not a damaged ledger.
pub fn read_trust_file(path: &Path) -> CliResult<Trust> {
    <Trust as TrustFile>::read(path).map_err(|e| match e {
        vouch_ledger::TrustError::Io { source, .. } => CliError::new(
            crate::exit::user_file_failure(&source),
            anyhow::anyhow!("cannot read trust list {}: {source}", path.display()),
        ),
        e => bad_input(format!("{} is not a trust list: {e}", path.display())),
    })
}

/// The trust an auditor gives `verify-bundle`: a trust file and/or keys with roles. A key
/// given with `--key` is named as the trust file names it, else as the bundle names it (a
/// review must carry the name its key is trusted under, and `--key` gives no name; the
/// trust is in the key, the name is a label), else by its key id.
fn auditor_trust(args: &VerifyBundleArgs, bundle: &Bundle) -> CliResult<Trust> {
    let mut trust = match &args.trust {
        Some(path) => read_trust_file(path)?,
        None => Trust::default(),
    };
    if args.keys.len() != args.roles.len() {
        return Err(bad_input(format!(
            "give one --role for each --key ({} keys, {} roles)",
            args.keys.len(),
            args.roles.len()
        )));
    }
    for (text, role) in args.keys.iter().zip(&args.roles) {
        let key = vouch_chain::parse_public_key(text).map_err(|e| bad_input(e.to_string()))?;
        let named = bundle
            .signers()
            .into_iter()
            .find(|(signer, name)| *signer == key && name != "unnamed")
            .map(|(_, name)| name);
        let name = match trust.name_of(&key) {
            Some(name) => name.to_owned(),
            None => named.unwrap_or_else(|| format!("key {}", vouch_chain::key_id(&key))),
        };
        trust
            .add(&key, &name, key_role(*role), None)
            .map_err(|e| bad_input(e.to_string()))?;
    }
    Ok(trust)
}

pub fn registry(ctx: &Context, args: &RegistryArgs) -> CliResult<()> {
    use vouch_app::registry::RegistryError;
    let at = At::open(ctx, args.as_of.as_deref())?;
    let model = args.model.as_deref().map(parse_model).transpose()?;
    let out = vouch_app::registry::registry(&at.ledger, at.views(), model.as_ref()).map_err(
        |e| match e {
            RegistryError::UnknownModel(m) => bad_input(match at.position() {
                Some(p) => format!("model {m} had no decisions as of log position {p}"),
                None => format!("model {m} has no decisions"),
            }),
            RegistryError::Release(r) => r.into(),
            other => CliError::new(Failure::Internal, other.into()),
        },
    )?;
    print_registry(ctx, &out, at.position());
    Ok(())
}

/// `registry`'s answer: `--json`, or a row per promoted version (as of log position
/// `as_of`, when the registry is of the past).
pub fn print_registry(ctx: &Context, out: &[ModelEntry], as_of: Option<vouch_log::Position>) {
    if ctx.global.json {
        output::json(&out);
        return;
    }
    if out.is_empty() {
        match as_of {
            Some(p) => say!("no model had decisions as of log position {p}"),
            None => say!("no model has decisions yet"),
        }
        return;
    }
    let mut t = table([
        "model",
        "version",
        "run",
        "decision",
        "promoted at",
        "policy",
        "approved by",
        "evidence",
        "deployed",
        "status",
    ]);
    for m in out {
        for v in &m.versions {
            let d = &v.decision;
            t.add_row([
                m.model.to_string(),
                v.version.clone(),
                d.run.to_string(),
                format!("{} (#{})", &d.hash.hex()[..12], d.index),
                d.decided_at.to_string(),
                d.policy_version.clone(),
                v.approved_by.clone(),
                format!(
                    "{} events @{}",
                    v.evidence["events"], v.evidence["evaluated_at"]
                ),
                if v.deployed_to.is_empty() {
                    "-".into()
                } else {
                    v.deployed_to.join(", ")
                },
                if v.production {
                    "production"
                } else {
                    "superseded"
                }
                .to_owned(),
            ]);
        }
        if m.versions.is_empty() {
            let mut row = vec![m.model.to_string()];
            row.extend(std::iter::repeat_n("-".to_owned(), 8));
            row.push("no promotion yet".into());
            t.add_row(row);
        }
    }
    print(&t);
}

pub fn decisions(ctx: &Context, args: &DecisionsArgs) -> CliResult<()> {
    let ledger = ctx.open_caught_up()?;
    let request = vouch_app::decisions::DecisionsRequest {
        model: args.model.as_deref().map(parse_model).transpose()?,
        limit: args.limit,
    };
    let shown = vouch_app::decisions::decisions(ledger.views(), &request)?;
    print_decisions(ctx, &shown, ledger.trust());
    Ok(())
}

/// `decisions`' answer: `--json`, or a row per decision, signers named by `trust`.
pub fn print_decisions(ctx: &Context, shown: &[DecisionEntry], trust: &Trust) {
    if ctx.global.json {
        output::json(&shown);
        return;
    }
    let mut t = table([
        "#",
        "decision",
        "model",
        "run",
        "outcome",
        "policy",
        "decided at",
        "signer",
    ]);
    for d in shown {
        // A decision that waited for review says which decision resolved it.
        let outcome = match (d.outcome, d.resolved_by) {
            (DecisionOutcome::NeedsReview, Some(by)) => format!("reviewed: see #{by}"),
            (DecisionOutcome::NeedsReview, None) => "needs_review (pending)".to_owned(),
            (outcome, _) => outcome.as_str().to_owned(),
        };
        let signer = trust
            .name_of(&d.signer_key)
            .map_or_else(|| format!("key {}", d.signer), str::to_owned);
        t.add_row([
            d.index.to_string(),
            d.hash.hex()[..16].to_owned(),
            d.model.to_string(),
            d.run.to_string(),
            outcome,
            d.policy_version.clone(),
            d.decided_at.to_string(),
            signer,
        ]);
    }
    print(&t);
}
