//! The release pages (`/models`, `/models/{model}`, `/decisions/{id}`, `/chain`) rendered
//! over a real ledger with signed decisions, reviews and deployments: a promoted
//! decision's page says it verifies; after an insider changes one byte of an evidence
//! record in a copy of the log (the frame's checksum made to match, so the log reads it
//! as whole), the same page shows the evidence check red naming the broken rule, and the
//! chain page names the first failing record.

use std::collections::BTreeMap;
use std::path::Path;

use vouch_app::as_of::At;
use vouch_app::failure::Failure;
use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, Digest, Event, EventId, GateRecord, GateVerdict,
    MetricsLogged, ModelName, Name, Producer, RunId, RunStarted, Subject, Timestamp,
};
use vouch_ledger::{DecisionDraft, Ledger, Recorded, Role, Trust};
use vouch_ui::pages::{chain, decision, models};

const POLICY: &str = "model = \"loan-risk\"\nversion = \"v1\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.5\nreason = \"a coin flip does better\"\n";

fn producer() -> Producer {
    Producer::new("pages-test").unwrap()
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn signer() -> SigningKey {
    SigningKey::from_seed([1; 32])
}

fn reviewer() -> SigningKey {
    SigningKey::from_seed([2; 32])
}

fn deployer() -> SigningKey {
    SigningKey::from_seed([3; 32])
}

fn model() -> ModelName {
    ModelName::new("loan-risk").unwrap()
}

fn artifact(run: &str) -> Digest {
    Digest::of(run.as_bytes())
}

fn run_events(run: &str, auc: f64) -> Vec<Event> {
    let run_id = RunId::new(run).unwrap();
    let event = |what: &str, body| Event {
        id: EventId::new(format!("{run}:{what}")).unwrap(),
        time: time(0),
        producer: producer(),
        subject: Subject::Run(run_id.clone()),
        body,
    };
    vec![
        event(
            "start",
            Body::RunStarted(RunStarted {
                experiment: "loan-risk".into(),
                name: None,
                git: None,
                env: None,
            }),
        ),
        event(
            "eval",
            Body::MetricsLogged(MetricsLogged {
                metrics: BTreeMap::from([(Name::new("auc").unwrap(), auc)]),
                step: None,
                segment: None,
            }),
        ),
        event(
            "model",
            Body::ArtifactLogged(ArtifactLogged {
                name: "model.bin".into(),
                digest: artifact(run),
                size: 3,
                uri: format!("s3://models/{run}"),
                sha256: None,
            }),
        ),
    ]
}

fn gates_for(outcome: DecisionOutcome) -> Vec<GateRecord> {
    let verdict = match outcome {
        DecisionOutcome::Promoted => GateVerdict::Pass,
        DecisionOutcome::Rejected => GateVerdict::Fail,
        DecisionOutcome::NeedsReview => GateVerdict::Review,
    };
    vec![GateRecord {
        gate: "auc-floor".into(),
        metric: Some("auc".into()),
        candidate: Some(0.8),
        baseline: None,
        threshold: ">= 0.5".into(),
        verdict,
        reason: "good enough".into(),
    }]
}

fn decide(ledger: &mut Ledger, run: &str, outcome: DecisionOutcome, at: i64) -> Recorded {
    let run = RunId::new(run).unwrap();
    let (policy_position, policy) = ledger
        .publish_policy(&model(), "v1", POLICY, time(at), &producer())
        .unwrap();
    let (evidence, evidence_digest) = ledger.evidence(&[&run], &[policy_position]).unwrap();
    let draft = DecisionDraft {
        model: model(),
        run: run.clone(),
        baseline: None,
        artifacts: vec![artifact(run.as_str())],
        policy,
        policy_version: "v1".into(),
        policy_position,
        evaluated_at: ledger.log().last_position().unwrap().get(),
        evidence,
        evidence_digest,
        gates: gates_for(outcome),
        outcome,
        review: None,
        decided_at: time(at),
    };
    ledger
        .record_decision(&signer(), time(at), &mut |_| Ok(draft.clone()))
        .unwrap()
}

/// The ledger the pages are shown over: run-0 promoted and deployed, run-1 waiting for
/// review, run-2 rejected, and a forced deployment of an artifact nothing promoted.
struct Fixture {
    promoted: Recorded,
    pending: Recorded,
    rejected: Recorded,
}

fn build(dir: &Path) -> Fixture {
    Ledger::init(dir, &Default::default()).unwrap();
    let mut ledger = Ledger::open(dir, &Default::default()).unwrap();
    for r in 0..3 {
        ledger
            .append(&run_events(&format!("run-{r}"), 0.8 + r as f64 / 1000.0))
            .unwrap();
    }
    let mut trust = Trust::default();
    trust
        .add(&signer().public(), "release-bot", Role::Signer, None)
        .unwrap();
    trust
        .add(
            &reviewer().public(),
            "Chief Risk Officer",
            Role::Reviewer,
            None,
        )
        .unwrap();
    trust
        .add(&deployer().public(), "deploy-bot", Role::Deployer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    let promoted = decide(&mut ledger, "run-0", DecisionOutcome::Promoted, 1);
    let pending = decide(&mut ledger, "run-1", DecisionOutcome::NeedsReview, 2);
    let rejected = decide(&mut ledger, "run-2", DecisionOutcome::Rejected, 3);
    ledger
        .record_deployment(
            &model(),
            "production",
            artifact("run-0"),
            None,
            &deployer(),
            time(4),
        )
        .unwrap();
    ledger
        .record_deployment(
            &model(),
            "staging",
            Digest::of(b"hotfix"),
            Some("incident 42: hotfix before review"),
            &deployer(),
            time(5),
        )
        .unwrap();
    ledger.flush().unwrap();
    Fixture {
        promoted,
        pending,
        rejected,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// What an insider with write access to the log's files can do: change one byte inside
/// the record with `event_id` and recompute its frame's CRC-32, so the log reads the
/// record as whole (`crates/vouch-log-embedded/src/segment.rs` documents the frame:
/// magic u32 | body length u32 | CRC-32 of (length ‖ body) | body: position u64 | id
/// length u16 | id | key length u16 | key | bytes). Returns the record's position.
fn edit_record(dir: &Path, event_id: &str) -> u64 {
    const HEADER: usize = 48;
    const FRAME_HEAD: usize = 12;
    let segments = dir.join("log").join("segments");
    for entry in std::fs::read_dir(&segments).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let mut at = HEADER;
        while at + FRAME_HEAD <= bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
            let body = at + FRAME_HEAD;
            let position = u64::from_le_bytes(bytes[body..body + 8].try_into().unwrap());
            let id_len =
                u16::from_le_bytes(bytes[body + 8..body + 10].try_into().unwrap()) as usize;
            let id = &bytes[body + 10..body + 10 + id_len];
            if id == event_id.as_bytes() {
                // A byte near the end of the record's own bytes (the metric's value).
                bytes[body + len - 3] ^= 0x01;
                let mut crc = crc32fast::Hasher::new();
                crc.update(&(len as u32).to_le_bytes());
                crc.update(&bytes[body..body + len]);
                let crc = crc.finalize();
                bytes[at + 8..at + 12].copy_from_slice(&crc.to_le_bytes());
                std::fs::write(&path, &bytes).unwrap();
                return position;
            }
            at = body + len;
        }
    }
    panic!("no record {event_id} in {}", segments.display());
}

/// The element with `data-check="{name}"` on a page, as text.
fn check<'a>(page: &'a str, name: &str) -> &'a str {
    let at = page
        .find(&format!("data-check=\"{name}\""))
        .unwrap_or_else(|| panic!("no check {name} in\n{page}"));
    let end = page[at..].find("</li>").map_or(page.len(), |e| at + e);
    &page[at..end]
}

fn refused(result: vouch_ui::Result<vouch_ui::Html>) -> Failure {
    match result {
        Ok(html) => panic!("expected a refusal, got {}", html.body),
        Err(e) => e.failure(),
    }
}

#[test]
fn release_pages_show_a_verified_ledger_and_name_an_insiders_edit() {
    let tmp = tempfile::tempdir().unwrap();
    let honest = tmp.path().join("honest");
    let f = build(&honest);
    let short = |r: &Recorded| r.hash.hex()[..12].to_owned();

    {
        let ledger = Ledger::open(&honest, &Default::default()).unwrap();
        let at = At::new(&ledger, None);

        // The promoted decision, by hash, by 12 hex characters and by chain index.
        let page = decision::render(&at, &f.promoted.hash.to_string())
            .unwrap()
            .body;
        for id in [short(&f.promoted), f.promoted.index.to_string()] {
            assert_eq!(decision::render(&at, &id).unwrap().body, page, "{id}");
        }
        assert!(page.contains("This decision verifies"), "{page}");
        assert!(page.contains("id=\"verification\" data-ok=\"true\""));
        for name in [
            "record",
            "signature",
            "chain",
            "evidence",
            "policy",
            "outcome",
            "next",
        ] {
            assert!(
                check(&page, name).contains("data-ok=\"true\""),
                "{name}: {}",
                check(&page, name)
            );
        }
        for id in ["gates", "evidence", "reviews"] {
            assert!(page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(page.contains("data-gate=\"auc-floor\" data-verdict=\"pass\""));
        assert!(page.contains("run-0:eval"), "the evidence lists its events");
        assert!(page.contains("metrics_logged"), "with their kinds");
        assert!(page.contains("/runs/run-0"), "links the candidate run");

        // The decision waiting for review shows the commands to run, without script.
        let pending = decision::render(&at, &short(&f.pending)).unwrap().body;
        assert!(
            pending.contains("data-review-state=\"pending\""),
            "{pending}"
        );
        let approve = format!(
            "vouch review approve --decision {} --key REVIEWER.key --reason",
            short(&f.pending)
        );
        assert!(pending.contains(&approve), "{pending}");
        assert!(pending.contains(&format!(
            "vouch review enact --decision {} --key RELEASE.key",
            short(&f.pending)
        )));
        assert!(pending.contains("data-copy=\"vouch review approve"));
        assert!(pending.contains("data-verdict=\"review\""));

        let rejected = decision::render(&at, &f.rejected.index.to_string())
            .unwrap()
            .body;
        assert!(rejected.contains("data-verdict=\"fail\""));
        assert!(!rejected.contains("vouch review approve"));

        // Unknown and malformed ids.
        assert_eq!(refused(decision::render(&at, "999")), Failure::Unknown);
        assert_eq!(
            refused(decision::render(&at, "abcdef0123456")),
            Failure::Unknown
        );
        assert_eq!(
            refused(decision::render(&at, "not-an-id")),
            Failure::BadInput
        );

        // The registry: v1, its deployment, and the forced one marked with its reason.
        let model_page = models::render(&at, "loan-risk").unwrap().body;
        for id in ["versions", "deployments"] {
            assert!(model_page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(model_page.contains("data-version=\"v1\""), "{model_page}");
        assert!(model_page.contains(&format!("/decisions/{}", f.promoted.hash.hex())));
        assert!(model_page.contains("deploy-bot"), "names the deployer");
        assert!(model_page.contains("<span class=\"badge bad\""));
        assert!(model_page.contains("incident 42: hotfix before review"));
        assert!(model_page.contains("data-env=\"staging\" data-forced=\"true\""));
        assert!(model_page.contains("data-env=\"production\" data-forced=\"false\""));
        assert_eq!(
            refused(models::render(&at, "no-such-model")),
            Failure::Unknown
        );
        let list = models::render_list(&at).unwrap().body;
        assert!(list.contains("href=\"/models/loan-risk\""), "{list}");

        // The chain: newest first, verified.
        let chain_page = chain::render(&at, &chain::ChainRequest::default())
            .unwrap()
            .body;
        assert!(chain_page.contains("The chain verifies"), "{chain_page}");
        for id in ["chain", "quarantine", "verification"] {
            assert!(chain_page.contains(&format!("id=\"{id}\"")), "{id}");
        }
        let first = chain_page.find("data-index=\"2\"").unwrap();
        let last = chain_page.find("data-index=\"0\"").unwrap();
        assert!(first < last, "newest first");
    }

    // An insider's edit of one evidence record of the promoted decision, in a copy.
    let edited = tmp.path().join("edited");
    copy_dir(&honest, &edited);
    let position = edit_record(&edited, "run-0:eval");
    let ledger = Ledger::open(&edited, &Default::default()).unwrap();
    let at = At::new(&ledger, None);
    let page = decision::render(&at, &short(&f.promoted)).unwrap().body;
    assert!(
        page.contains("id=\"verification\" data-ok=\"false\""),
        "{page}"
    );
    assert!(page.contains("This decision does not verify"));
    let evidence = check(&page, "evidence");
    assert!(evidence.contains("data-ok=\"false\""), "{evidence}");
    assert!(evidence.contains("rule evidence_digest"), "{evidence}");
    for name in ["record", "signature", "chain"] {
        assert!(check(&page, name).contains("data-ok=\"true\""), "{name}");
    }
    let chain_page = chain::render(&at, &chain::ChainRequest::default())
        .unwrap()
        .body;
    assert!(
        chain_page.contains("The chain does not verify"),
        "{chain_page}"
    );
    assert!(chain_page.contains("data-rule=\"evidence_digest\""));
    assert!(position > 0);
}
