//! Micro-benchmark of one attestation export: build the statement (VSA predicate, Vouch's
//! extension, deterministic JSON), PAE, Ed25519 signature and the envelope's JSON, for a
//! decision with 12 gates, 2 artifacts and a log pin; beside raw Ed25519 signing of the
//! same PAE bytes in the same run. Prints the median of N exports (default 2000).
//!
//!     cargo run --release -p vouch-attest --example attest_bench [-- N]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::Signer as _;
use vouch_attest::{export, pae, Artifact, Checkpoint, Decision, PAYLOAD_TYPE};
use vouch_chain::SigningKey;
use vouch_event::{
    DecisionOutcome, DecisionRecorded, Digest, GateRecord, GateVerdict, LogPin, ModelName,
    PublicKeyBytes, RunId, SignatureBytes, Timestamp,
};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("N is a number"))
        .unwrap_or(2000)
        .max(1);
    let key = SigningKey::from_seed([5; 32]);
    let model = ModelName::new("loan-risk").expect("valid");
    let policy = "model = \"loan-risk\"\n".repeat(40);
    let mut record = DecisionRecorded {
        index: 41,
        prev: Some(Digest::of(b"prev")),
        run: RunId::new("loan-risk-b").expect("valid"),
        baseline: Some(RunId::new("loan-risk-prod").expect("valid")),
        artifacts: vec![Digest::of(b"model.bin"), Digest::of(b"card.md")],
        policy: Digest::of(policy.as_bytes()),
        policy_version: "2026.11-1".into(),
        policy_position: 96,
        evaluated_at: 5000,
        evidence: (1..=200).collect(),
        evidence_digest: Digest::of(b"evidence"),
        gates: (0..12)
            .map(|i| GateRecord {
                gate: format!("auc-floor-{i}"),
                metric: Some(format!("auc[region=r{i}]")),
                candidate: Some(0.861 + f64::from(i) / 1000.0),
                baseline: Some(0.842),
                threshold: ">= 0.84".into(),
                verdict: GateVerdict::Pass,
                reason: "0.861 >= 0.84".into(),
            })
            .collect(),
        outcome: DecisionOutcome::Promoted,
        review: None,
        decided_at: Timestamp::parse_rfc3339("2026-11-21T10:00:00Z").expect("valid"),
        signer: PublicKeyBytes([0; 32]),
        signature: SignatureBytes([0; 64]),
        log: Some(LogPin {
            size: 5000,
            root: [3; 32],
        }),
    };
    vouch_chain::sign_decision(&model, &mut record, &key);
    let artifacts: Vec<Artifact> = [&b"model.bin"[..], b"card.md"]
        .iter()
        .map(|b| {
            let mut h = vouch_attest::Hasher::default();
            h.update(b);
            let (blake3, sha256) = h.finish();
            Artifact {
                name: format!("loan-risk/{}", String::from_utf8_lossy(b)),
                blake3,
                sha256,
            }
        })
        .collect();
    let checkpoint = Checkpoint {
        size: 5100,
        root: [4; 32],
        note: "vouch/bench\n5100\nBAQE\n\n— vouch/bench AAAA\n".into(),
    };
    let decision = Decision {
        origin: "example.com/vouch/prod",
        model: &model,
        record: &record,
        position: 5001,
        policy_text: policy.as_bytes(),
        artifacts: &artifacts,
        reviews: &[],
        checkpoint: Some(&checkpoint),
    };

    let mut exports = Vec::with_capacity(n);
    let mut size = 0;
    for _ in 0..n {
        let t = Instant::now();
        let attestation = export(black_box(&decision), &key, &[]).expect("exports");
        let bytes = attestation.dsse_json();
        exports.push(t.elapsed());
        size = black_box(bytes).len();
    }
    let statement = vouch_attest::statement(&decision).expect("builds");
    let pae_bytes = pae(PAYLOAD_TYPE, &statement);
    let mut signs = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        black_box(key.ed25519().sign(black_box(&pae_bytes)));
        signs.push(t.elapsed());
    }
    let export_median = median(exports);
    let sign_median = median(signs);
    println!(
        "attestation export (statement {} B, envelope {size} B), median of {n}:",
        statement.len()
    );
    println!(
        "  export (statement + PAE + sign + envelope JSON): {:>9.1} µs",
        export_median.as_secs_f64() * 1e6
    );
    println!(
        "  raw Ed25519 sign of the same PAE bytes:          {:>9.1} µs",
        sign_median.as_secs_f64() * 1e6
    );
    println!(
        "  overhead over signing:                           {:>9.1} µs (target: export < 5 ms)",
        (export_median.saturating_sub(sign_median)).as_secs_f64() * 1e6
    );
}
