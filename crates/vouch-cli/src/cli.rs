//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Vouch: an evidence ledger for machine-learning releases.
///
/// Pipelines publish immutable evidence (params, metrics, artifacts, datasets, code
/// version, environment); Vouch keeps it in an append-only log and answers queries from
/// views folded from that log.
#[derive(Debug, Parser)]
#[command(name = "vouch", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The ledger directory.
    #[arg(
        long,
        global = true,
        env = "VOUCH_LEDGER",
        default_value = ".vouch",
        value_name = "DIR"
    )]
    pub ledger: PathBuf,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for another process using the ledger before giving up.
    #[arg(
        long,
        global = true,
        env = "VOUCH_LOCK_TIMEOUT",
        default_value_t = 30.0,
        value_name = "SECS",
        allow_negative_numbers = true
    )]
    pub lock_timeout: f64,
    /// Who is publishing, recorded in every event this command writes.
    #[arg(
        long,
        global = true,
        env = "VOUCH_PRODUCER",
        default_value = "vouch-cli",
        value_name = "NAME"
    )]
    pub producer: String,
    /// Run the command against a running `vouch serve --http` at this URL
    /// (http://HOST:PORT) instead of a ledger directory. A bearer token comes from
    /// VOUCH_TOKEN. Keys stay here: reviews and deployments are signed locally.
    #[arg(long, global = true, env = "VOUCH_SERVER", value_name = "URL")]
    pub server: Option<String>,
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// Where the NATS log is and how to authenticate. Secrets (password, token) are read from
/// the environment only, never from arguments other users can see in `ps`.
#[derive(Debug, Args)]
#[command(next_help_heading = "NATS log")]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated: the ledger's log is a JetStream stream there.
    /// For `init`, makes a NATS ledger; otherwise overrides the URL recorded at init.
    #[arg(
        long = "nats",
        global = true,
        env = "VOUCH_NATS_URL",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// A NATS credentials file (user JWT and NKey seed).
    #[arg(
        long = "nats-creds",
        global = true,
        env = "VOUCH_NATS_CREDS",
        value_name = "FILE"
    )]
    pub creds: Option<PathBuf>,
    /// NATS user name; the password comes from VOUCH_NATS_PASSWORD.
    #[arg(
        long = "nats-user",
        global = true,
        env = "VOUCH_NATS_USER",
        value_name = "USER"
    )]
    pub user: Option<String>,
    /// Refuse to talk to the NATS server without TLS (VOUCH_NATS_TLS: 1/true/yes/on or
    /// 0/false/no/off).
    #[arg(
        long = "nats-tls",
        global = true,
        env = "VOUCH_NATS_TLS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub tls: bool,
    /// A PEM file of CA certificates to trust for the NATS server's TLS certificate.
    #[arg(
        long = "nats-ca",
        global = true,
        env = "VOUCH_NATS_CA",
        value_name = "FILE"
    )]
    pub ca: Option<PathBuf>,
    /// Seconds to wait for the NATS server on each request before failing.
    #[arg(
        long = "nats-timeout",
        global = true,
        env = "VOUCH_NATS_TIMEOUT",
        default_value_t = 10.0,
        value_name = "SECS"
    )]
    pub timeout: f64,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Stream replicas when `init --nats` creates the stream: 1, or 3 on a cluster.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
    /// The JetStream stream holding the log.
    #[arg(long, default_value = "VOUCH", value_name = "NAME")]
    pub stream: String,
    /// The subject prefix: records go to `<prefix>.run.<run>`, `<prefix>.model.<model>`.
    #[arg(long, default_value = "vouch", value_name = "PREFIX")]
    pub prefix: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Milliseconds between checks of the stream when there is nothing new.
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub poll_ms: u64,
    /// Serve Vouch's JSON API over HTTP on this address (embedded or NATS ledgers), e.g.
    /// 127.0.0.1:5000. Beyond loopback, --tokens is required.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// A JSON file of named bearer tokens with scopes (read, write, promote):
    /// {"tokens": [{"name": "ci", "token": "…", "scopes": ["read", "write"]}]}.
    #[arg(long, value_name = "FILE", requires = "http")]
    pub tokens: Option<std::path::PathBuf>,
    /// The release key `POST /api/v1/promote` signs decisions with (a key file only the
    /// owner can read, trusted as a signer).
    #[arg(long, value_name = "FILE", requires = "http")]
    pub release_key: Option<std::path::PathBuf>,
    /// The largest request body accepted, in MiB.
    #[arg(long, default_value_t = 64, value_name = "MIB", requires = "http")]
    pub max_body_mib: u32,
    /// A release policy (TOML) that moving a guarded MLflow alias (`champion`,
    /// `production`) of its model evaluates; repeat for several models. A model without
    /// one uses the policy last published for it in the ledger.
    #[arg(long = "policy", value_name = "FILE", requires = "http")]
    pub policies: Vec<std::path::PathBuf>,
    /// The largest artifact uploaded through the MLflow artifact proxy, in MiB.
    #[arg(long, default_value_t = 4096, value_name = "MIB", requires = "http")]
    pub max_upload_mib: u64,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The NATS server URL(s) to copy this embedded ledger's log to.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// Stream replicas if the stream is created: 1, or 3 on a cluster.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
    /// The stream to create or continue.
    #[arg(long, default_value = "VOUCH", value_name = "NAME")]
    pub stream: String,
    /// The subject prefix.
    #[arg(long, default_value = "vouch", value_name = "PREFIX")]
    pub prefix: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a ledger (the directory given by --ledger): embedded, or with --nats URL a
    /// view of a JetStream stream (created if absent, checked if present).
    Init(InitArgs),
    /// Follow the NATS stream and keep this ledger's views current until SIGINT/SIGTERM.
    ///
    /// Reconnects with backoff when the server goes away; the position is kept in the views,
    /// so a restart resumes where it stopped. Commands on the same directory run between its
    /// batches.
    Serve(ServeArgs),
    /// Copy this embedded ledger's log into a JetStream stream, keeping event ids, order and
    /// positions, then read it back and verify the chain there.
    ///
    /// The stream must be empty or hold an interrupted copy of this log, which is
    /// continued. Afterwards, `vouch init --nats URL --ledger NEWDIR` follows it.
    Migrate(MigrateArgs),
    /// Start or finish a run.
    #[command(subcommand)]
    Run(RunCommand),
    /// Log params, metrics, artifacts or datasets to a run, or live metrics of a deployed
    /// model.
    #[command(subcommand)]
    Log(LogCommand),
    /// Append events from JSON lines (a file, or - for standard input).
    ///
    /// Every line is one event in the wire form of schemas/README.md. Valid lines are
    /// stored; each invalid line is reported with its line number and reason and is not
    /// stored; the exit code is 65 when any line was invalid. Events whose id is already
    /// in the ledger are counted as duplicates and not stored again, so re-running an
    /// ingest is safe.
    Ingest(IngestArgs),
    /// List or show runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Compare runs side by side: params and metrics, segments included.
    Compare(CompareArgs),
    /// Log and view positions, totals and quarantine size.
    Status(StatusArgs),
    /// Drop the views and project the whole log again.
    Rebuild,
    /// Records the projector could not apply, with the reason.
    Quarantine(QuarantineArgs),
    /// Run a worked example end to end.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Generate signing keys and choose which public keys to trust.
    #[command(subcommand)]
    Keys(KeysCommands),
    /// Validate release policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Evaluate a policy's gates on a run's evidence now, without recording anything.
    ///
    /// Exit code 0: every gate passes; 1: a gate fails; 2: a human review is required.
    Gate(GateCommandArgs),
    /// Evaluate a policy and record the signed decision on the chain.
    ///
    /// Prints the decision id. Exit code as for `gate`.
    Promote(PromoteArgs),
    /// Approve or reject a decision that needs review (signed with the reviewer's key), or
    /// enact the reviews that decide it (signed with a release key).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Decisions that need review: pending ones and resolved ones.
    Reviews(ReviewsArgs),
    /// Record that an artifact was deployed to an environment.
    Deploy(DeployArgs),
    /// Walk a deployed artifact back to the decision, policy, reviews and evidence, checking
    /// every signature, chain link and digest. Exits 1 when anything fails to verify or the
    /// artifact was never promoted.
    Audit(AuditArgs),
    /// Check the whole log and decision chain; name the first record that fails. Exits 1
    /// on a failure. With --checkpoint, also that the log is the one a signed (and
    /// witnessed) checkpoint commits to; with --from, an exported copy of a log, offline.
    Verify(VerifyArgs),
    /// Write the whole log, record by record with its exact bytes, for an auditor to
    /// verify elsewhere (`vouch verify --from`) or with another tool.
    Export(ExportArgs),
    /// Check an audit bundle offline, with no ledger at hand. Exits 1 on a failure.
    VerifyBundle(VerifyBundleArgs),
    /// Export a decision as a signed in-toto statement with a SLSA Verification Summary
    /// (VSA v1) predicate: a DSSE envelope, an .intoto.jsonl bundle or a Sigstore bundle
    /// (schemas/attestation.md). With --verify, check one offline against a trust list
    /// (exit 1 when it does not verify).
    Attest(crate::attest::AttestArgs),
    /// Sign the tree head over the whole log as a C2SP checkpoint and keep it under
    /// <ledger>/checkpoints/. Refuses (exit 70, naming both) to sign one inconsistent with
    /// the last checkpoint signed.
    Checkpoint(crate::checkpoint::CheckpointArgs),
    /// Prove that a record is in the log (C2SP tlog-proof), or that a checkpoint extends an
    /// earlier one.
    #[command(subcommand)]
    Prove(crate::prove::ProveCommand),
    /// Act as a witness (C2SP tlog-witness): cosign a log's checkpoint only after checking
    /// a consistency proof from the last checkpoint cosigned for its origin. Reads an
    /// add-checkpoint request and prints the cosignature line. Refuses (exit 65, naming the
    /// rule and the protocol's status) a rollback, a bad proof or an untrusted log key; a
    /// split view (another root for the size it cosigned) exits 1 and both checkpoints are
    /// kept under <state>/conflicts/.
    Witness(crate::witness::WitnessArgs),
    /// Check a checkpoint's log signature and that at least N known witnesses cosigned it
    /// (and, with --check-ledger, that the ledger's tree has its root). Exits 1 on a
    /// failure.
    VerifyCheckpoint(crate::witness::VerifyCheckpointArgs),
    /// Models, their promoted versions and the current production version.
    Registry(RegistryArgs),
    /// The decision chain, newest last.
    Decisions(DecisionsArgs),
    /// Re-evaluate past decisions under another policy, on the evidence exactly as each
    /// decision read it, and list the decisions whose outcome would change. Exits 0 when it
    /// ran, 1 when a decision's evidence does not match the log
    Replay(ReplayArgs),
    /// Diagnose a live drop of a deployed model: is the deployed artifact the approved one,
    /// how old was the validation data, how far behind are the labels, and which segments of
    /// the live observations fall below validation or regressed against the previous
    /// production version while the average held. Findings are ranked most severe first.
    ///
    /// Exit code 0 when it ran, whatever it found (findings are output, not failures); 65
    /// for a model with no decisions, an environment it was never deployed to or observed
    /// in, or a bad tolerance.
    Diagnose(DiagnoseArgs),
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// The model.
    #[arg(long)]
    pub model: String,
    /// The environment whose deployment and live observations are read.
    #[arg(long, default_value = "production")]
    pub env: String,
    /// How far (absolute, in the metric's units) a live value may fall below validation or
    /// the previous version before it is a finding.
    #[arg(long, default_value_t = vouch_diagnose::DEFAULT_TOLERANCE, value_name = "X")]
    pub tolerance: f64,
    /// Answer from the ledger as it stood at a log position (a number) or a time (RFC 3339
    /// or a date), with ages measured to then: the log up to there, projected again.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Report the views as they are, without catching them up first: how far this
    /// directory (for example the one `vouch serve` keeps) is behind the log.
    #[arg(long)]
    pub no_catch_up: bool,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The policy to replay under (TOML, as for `vouch gate`).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The model whose decisions are replayed (default: the model the policy governs).
    #[arg(long)]
    pub model: Option<String>,
    /// Only decisions made at or after this time (RFC 3339, or a date: 2026-11-01).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only decisions made at or before this time (RFC 3339, or a date: the end of that day).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// List every replayed decision, not only those whose outcome would change.
    #[arg(long)]
    pub all: bool,
}

/// `vouch keys`: the key-file and trust commands (`release.rs`) and `vkey` (`witness.rs`).
#[derive(Debug, Subcommand)]
pub enum KeysCommands {
    #[command(flatten)]
    Key(KeysCommand),
    /// Print the C2SP verifier key (vkey) of a private key: a log's checkpoint key (type
    /// 0x01, named by the origin) or, with --cosigner, a witness's key (type 0x04).
    Vkey(crate::witness::VkeyArgs),
    /// Print a public key as PEM (SubjectPublicKeyInfo, Ed25519) for verifiers of `vouch
    /// attest` output (cosign, slsa-verifier, securesystemslib, sigstore-js); its DSSE
    /// keyid goes to standard error.
    Pem(crate::attest::PemArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 private key (mode 0600; never overwrites) and print its public key.
    Generate {
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Trust a public key to sign decisions (signer), reviews (reviewer) or deployments
    /// (deployer). A reviewer key may hold no other role. The views are judged again.
    Trust {
        /// The public key, `ed25519:<hex>`, or a private key file to take it from.
        public: String,
        /// Who holds the key: the name shown for everything it signs.
        #[arg(long)]
        name: String,
        /// What the key may sign.
        #[arg(long, value_enum, default_value = "signer")]
        role: KeyRole,
        /// Refuse records the key signed before this time (RFC 3339 or a date).
        #[arg(long, value_name = "TIME")]
        valid_from: Option<String>,
    },
    /// Revoke a key: records it signed from `--from` on are refused, earlier ones stay
    /// valid, and the trust list keeps the entry with the reason.
    Revoke {
        /// The public key, `ed25519:<hex>`.
        public: String,
        /// From when (RFC 3339 or a date; default now).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// List trusted keys, revoked ones included.
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KeyRole {
    Signer,
    Reviewer,
    Deployer,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file; errors name the line and column.
    Check {
        /// The policy (TOML).
        file: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The candidate run.
    #[arg(long)]
    pub run: String,
    /// The model.
    #[arg(long)]
    pub model: String,
    /// The policy file (TOML).
    #[arg(long)]
    pub policy: PathBuf,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// The private key file that signs the decision (required; with --server the server
    /// signs with its own release key, so it is refused).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The decision: its id (hash, or 8+ leading hex characters) or chain index.
    #[arg(long)]
    pub decision: String,
    /// The reviewer's private key file (trusted as a reviewer key). The review is signed
    /// in the name the trust list gives this key.
    #[arg(long)]
    pub key: PathBuf,
    /// Why.
    #[arg(long)]
    pub reason: String,
    /// A release key (trusted as a signer) to enact the reviews at once when they decide
    /// the decision; without it, `vouch review enact` does that later.
    #[arg(long, value_name = "FILE")]
    pub release_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnactArgs {
    /// The decision that needed review.
    #[arg(long)]
    pub decision: String,
    /// The release key (trusted as a signer) that signs the enacting decision (required;
    /// with --server the server signs with its own release key, so it is refused).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReviewsArgs {
    /// Only decisions still waiting.
    #[arg(long)]
    pub pending: bool,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Approve: once its policy's reviewers approved, a release key promotes the candidate.
    Approve(ReviewArgs),
    /// Reject: a release key then records the rejection.
    Reject(ReviewArgs),
    /// Enact the reviews of a decision: append the decision that promotes (enough
    /// approvals) or rejects (any rejection) its candidate, signed with a release key.
    Enact(EnactArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["artifact", "digest"])))]
pub struct DeployArgs {
    /// The model.
    #[arg(long)]
    pub model: String,
    /// The environment (`production`, `staging-eu`).
    #[arg(long)]
    pub env: String,
    /// The artifact file (hashed).
    #[arg(long)]
    pub artifact: Option<PathBuf>,
    /// The artifact's digest.
    #[arg(long)]
    pub digest: Option<String>,
    /// The deployer's private key file (trusted as a deployer or signer).
    #[arg(long)]
    pub key: PathBuf,
    /// Deploy even though no decision promoted the artifact (recorded as forced).
    #[arg(long, requires = "reason")]
    pub force: bool,
    /// Why the deployment is forced.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["path", "digest"])))]
pub struct AuditArgs {
    /// The artifact file (hashed).
    pub path: Option<PathBuf>,
    /// The artifact's digest.
    #[arg(long)]
    pub digest: Option<String>,
    /// Also write a self-contained audit bundle here, for `vouch verify-bundle`. It
    /// carries the proofs that its records are in the log, against the last checkpoint
    /// the ledger signed when that covers them (or --checkpoint).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Prove the bundle's records against this signed checkpoint of the ledger (a
    /// witness-cosigned copy, say) instead of the last one kept.
    #[arg(long, value_name = "FILE", requires = "bundle")]
    pub checkpoint: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyBundleArgs {
    /// The bundle file.
    pub file: PathBuf,
    /// The auditor's trust list (a `trust.json`): the keys the bundle must be signed by.
    #[arg(long, value_name = "FILE")]
    pub trust: Option<PathBuf>,
    /// A trusted key, `ed25519:<hex>`, with `--role` (repeatable, in order).
    #[arg(long = "key", value_name = "ed25519:HEX")]
    pub keys: Vec<String>,
    /// The role of each `--key`, in order: signer, reviewer or deployer.
    #[arg(long = "role", value_enum)]
    pub roles: Vec<KeyRole>,
    /// The log the bundle's records must be in: with --log, its checkpoint and every
    /// inclusion proof are checked too.
    #[command(flatten)]
    pub log: LogTrustArgs,
}

/// The log an auditor trusts, for checks against a signed checkpoint: its key, the
/// witnesses they know, and how many must have cosigned.
#[derive(Debug, Clone, Default, Args)]
pub struct LogTrustArgs {
    /// The log's verifier key (`vouch keys vkey`: type 0x01, named by the log's origin);
    /// the checkpoint must be signed by it.
    #[arg(long = "log", value_name = "VKEY")]
    pub log: Option<String>,
    /// A witness's verifier key (`vouch keys vkey --cosigner`, type 0x04); repeat for
    /// each witness you know.
    #[arg(long = "witness", value_name = "VKEY", requires = "log")]
    pub witnesses: Vec<String>,
    /// How many of those witnesses must have cosigned the checkpoint (default 0).
    #[arg(long, value_name = "N", requires = "log")]
    pub quorum: Option<usize>,
}

/// Arguments of `vouch verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Verify a copy of a log exported by `vouch export` instead of the ledger: offline,
    /// with the trust list of --trust.
    #[arg(long, value_name = "FILE", requires = "trust")]
    pub from: Option<PathBuf>,
    /// The trust list to judge an exported log with (the ledger's own trust.json is used
    /// for the ledger).
    #[arg(long, value_name = "FILE", requires = "from")]
    pub trust: Option<PathBuf>,
    /// Also check the log against this signed checkpoint: signed by --log, cosigned by
    /// --quorum of the --witness keys, and its root the root of the log's first records.
    #[arg(long, value_name = "FILE", requires = "log")]
    pub checkpoint: Option<PathBuf>,
    /// The log whose checkpoint it is.
    #[command(flatten)]
    pub log: LogTrustArgs,
}

/// Arguments of `vouch export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write the log: JSON Lines, a header then one record per line with its
    /// position, key, event id and exact stored bytes (hex); - for standard output.
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct GateCommandArgs {
    #[command(flatten)]
    pub gate: GateArgs,
    /// Evaluate on the evidence as it stood at a log position or a time (RFC 3339 or a
    /// date), with the policy's freshness gates read at that time.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Only this model.
    #[arg(long)]
    pub model: Option<String>,
    /// Answer from the ledger as it stood at a log position (a number) or a time (RFC 3339
    /// or a date): the log up to there, projected again.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecisionsArgs {
    /// Only decisions about this model.
    #[arg(long)]
    pub model: Option<String>,
    /// At most this many, newest.
    #[arg(long, default_value_t = vouch_app::decisions::DEFAULT_LIMIT)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum RunCommand {
    /// Start a run and print its id (only the id, for `RUN=$(vouch run start …)`).
    Start(RunStartArgs),
    /// Mark a run finished.
    Finish(RunFinishArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvCapture {
    /// Record OS, CPU, host and tool versions.
    Auto,
    /// Record nothing.
    None,
}

#[derive(Debug, Args)]
pub struct RunStartArgs {
    /// The experiment the run belongs to.
    #[arg(long)]
    pub experiment: String,
    /// A human-friendly name.
    #[arg(long)]
    pub name: Option<String>,
    /// The code version: `auto` (ask git in the current directory), `none`, or a commit
    /// hash.
    #[arg(long, default_value = "auto", value_name = "auto|none|SHA")]
    pub git: String,
    /// With --git SHA: the work tree had uncommitted changes.
    #[arg(long)]
    pub dirty: bool,
    /// Record the environment.
    #[arg(long, value_enum, default_value = "auto")]
    pub env: EnvCapture,
    /// Extra tool versions to record, `name=version` (repeatable).
    #[arg(long = "tool", value_name = "NAME=VERSION")]
    pub tools: Vec<String>,
    /// Choose the run id instead of generating one; re-running with the same id is a no-op.
    #[arg(long)]
    pub run_id: Option<String>,
    /// The event id (the dedup key); a retried command with the same id is a no-op. Without
    /// --run-id, the run id is derived from it, so a retry names the same run. Default:
    /// `<run>:started`.
    #[arg(long)]
    pub event_id: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StatusArg {
    Ok,
    Failed,
    Killed,
}

#[derive(Debug, Args)]
pub struct RunFinishArgs {
    /// The run.
    #[arg(long)]
    pub run: String,
    /// How it ended.
    #[arg(long, value_enum, default_value = "ok")]
    pub status: StatusArg,
    /// The event id (the dedup key); a retried command with the same id is a no-op.
    /// Default: `<run>:finished`.
    #[arg(long)]
    pub event_id: Option<String>,
}

/// Options every `log` subcommand shares.
#[derive(Debug, Args)]
pub struct LogTarget {
    /// The run to log to.
    #[arg(long)]
    pub run: String,
    /// The event id (the dedup key); a retried command with the same id is a no-op.
    /// Generated when omitted.
    #[arg(long)]
    pub event_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Log params: `vouch log param --run R lr=0.01 depth=6`.
    Param {
        #[command(flatten)]
        target: LogTarget,
        /// `key=value` pairs.
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// Log metric values: `vouch log metric --run R --step 3 auc=0.86 loss=0.31`.
    Metric {
        #[command(flatten)]
        target: LogTarget,
        /// The training step the values belong to.
        #[arg(long)]
        step: Option<u64>,
        /// The data segment the values were measured on (`region=EU`).
        #[arg(long)]
        segment: Option<String>,
        /// `name=value` pairs; values must be finite numbers.
        #[arg(required = true, value_name = "NAME=VALUE", allow_hyphen_values = true)]
        pairs: Vec<String>,
    },
    /// Log a file the run produced (or a model directory, as one artifact: a manifest of its
    /// files): hashes it with BLAKE3 and SHA-256 in one read and prints the BLAKE3 digest.
    Artifact {
        #[command(flatten)]
        target: LogTarget,
        /// The artifact's name (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Where the artifact lives (default: a file:// URI of the path).
        #[arg(long)]
        uri: Option<String>,
        /// The file.
        path: PathBuf,
    },
    /// Bind a dataset to the run: hashes the file and records its freshness.
    Dataset {
        #[command(flatten)]
        target: LogTarget,
        /// The dataset's role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// The dataset's name (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Number of rows (default: lines in the file, less a header line for .csv/.tsv).
        #[arg(long)]
        rows: Option<u64>,
        /// When the snapshot was taken (RFC 3339).
        #[arg(long, value_name = "TIME")]
        snapshot_at: Option<String>,
        /// Labels are complete up to this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        labels_through: Option<String>,
        /// Where the dataset lives (default: a file:// URI of the path).
        #[arg(long)]
        uri: Option<String>,
        /// The file.
        path: PathBuf,
    },
    /// Log metrics observed on a deployed model's live traffic over one window, once its
    /// labels arrived: `vouch log live --model M --artifact model.bin --window-start T
    /// --window-end T --labels-through T --segment region=EU auc=0.81`.
    Live(LogLiveArgs),
}

#[derive(Debug, Args)]
pub struct LogLiveArgs {
    /// The model.
    #[arg(long)]
    pub model: String,
    /// The environment that served the traffic.
    #[arg(long, default_value = "production")]
    pub env: String,
    /// The artifact that served it: a file (hashed) or its digest (`blake3:…`).
    #[arg(long, value_name = "FILE|DIGEST")]
    pub artifact: String,
    /// The start of the traffic window (RFC 3339, or a date: its start).
    #[arg(long, value_name = "TIME")]
    pub window_start: String,
    /// The end of the traffic window (RFC 3339, or a date: its end).
    #[arg(long, value_name = "TIME")]
    pub window_end: String,
    /// Labels had arrived up to this time when the values were computed (RFC 3339, or a
    /// date: its end).
    #[arg(long, value_name = "TIME")]
    pub labels_through: String,
    /// The traffic segment measured (`region=EU`); none: all of the window's traffic.
    #[arg(long)]
    pub segment: Option<String>,
    /// How many labelled examples the values rest on.
    #[arg(long)]
    pub count: Option<u64>,
    /// The event id (the dedup key); a retried command with the same id is a no-op.
    /// Generated when omitted.
    #[arg(long)]
    pub event_id: Option<String>,
    /// `name=value` pairs; values must be finite numbers.
    #[arg(required = true, value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub pairs: Vec<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Train,
    Validation,
    Test,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The JSON-lines file; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Events per append.
    #[arg(long, default_value_t = vouch_app::ingest::DEFAULT_BATCH as u64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, optionally filtered.
    List(RunsListArgs),
    /// Show one run: status, code, environment, params, metrics, artifacts, datasets.
    Show(RunsShowArgs),
}

#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Only runs of this experiment.
    #[arg(long)]
    pub experiment: Option<String>,
    /// Only runs whose latest metric value meets the condition, e.g. `auc>0.85`,
    /// `latency_p95_ms<=200`, `auc[region=EU]>=0.8` (repeatable: all must hold).
    #[arg(long = "where", value_name = "CONDITION")]
    pub conditions: Vec<String>,
    /// Answer from the ledger as it stood at a log position (a number) or a time (RFC 3339
    /// or a date): the log up to there, projected again.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// The run.
    pub run: String,
    /// Also print the full history of a metric: `loss` or `auc[region=EU]`.
    #[arg(long, value_name = "METRIC")]
    pub history: Option<String>,
    /// Answer from the ledger as it stood at a log position (a number) or a time (RFC 3339
    /// or a date): the log up to there, projected again.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Two or more runs.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<String>,
    /// Answer from the ledger as it stood at a log position (a number) or a time (RFC 3339
    /// or a date): the log up to there, projected again.
    #[arg(long, value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
}

#[derive(Debug, Args)]
pub struct QuarantineArgs {
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// The loan-risk example: a production baseline and four candidates with params,
    /// metrics per segment, artifacts and a validation dataset; gated, promoted, deployed,
    /// audited and verified; past decisions replayed; a live drop in one region diagnosed.
    LoanRisk,
    /// The fraud example: the numbers pass, the policy still demands a human review, and a
    /// reviewer approves.
    Fraud,
}
