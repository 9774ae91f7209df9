//! The audit and replay pages rendered over a real ledger built with `vouch_ledger`'s own
//! APIs (signed decisions, deployments): the audit of a promoted and deployed artifact is
//! all green with a bundle link and shows exactly the checks `Ledger::audit` makes; a
//! digest the ledger never saw is a 404 in the audit's own words, a known artifact nothing
//! promoted a red report; a replay under a
//! stricter policy lists the decision that flips; a policy that does not parse shows the
//! form again with why (400).

use std::collections::BTreeMap;
use std::path::Path;

use vouch_app::as_of::At;
use vouch_app::failure::Failure;
use vouch_chain::SigningKey;
use vouch_event::{
    ArtifactLogged, Body, DecisionOutcome, Digest, Event, EventId, GateRecord, GateVerdict,
    MetricsLogged, ModelName, Name, Producer, RunId, RunStarted, Subject, Timestamp,
};
use vouch_ledger::{DecisionDraft, Ledger, Role, Trust};
use vouch_ui::pages::audit;
use vouch_ui::pages::replay::{self, ReplayForm};

const POLICY: &str = "model = \"loan-risk\"\nversion = \"v1\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.5\nreason = \"a coin flip does better\"\n";

/// The same gate, raised above every candidate's AUC.
const STRICT: &str = "model = \"loan-risk\"\nversion = \"v2-strict\"\n\n[[gate]]\nname = \"auc-floor\"\nmetric = \"auc\"\nmin = 0.9\nreason = \"only excellent models\"\n";

fn producer() -> Producer {
    Producer::new("audit-pages-test").unwrap()
}

fn time(seconds: i64) -> Timestamp {
    Timestamp::from_unix_nanos(1_795_000_000_000_000_000 + seconds * 1_000_000_000)
}

fn now() -> Timestamp {
    time(3600)
}

fn signer() -> SigningKey {
    SigningKey::from_seed([1; 32])
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

fn decide(ledger: &mut Ledger, run: &str, outcome: DecisionOutcome, auc: f64, at: i64) {
    let run = RunId::new(run).unwrap();
    let (policy_position, policy) = ledger
        .publish_policy(&model(), "v1", POLICY, time(at), &producer())
        .unwrap();
    let (evidence, evidence_digest) = ledger.evidence(&[&run], &[policy_position]).unwrap();
    let verdict = match outcome {
        DecisionOutcome::Promoted => GateVerdict::Pass,
        DecisionOutcome::Rejected => GateVerdict::Fail,
        DecisionOutcome::NeedsReview => GateVerdict::Review,
    };
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
        gates: vec![GateRecord {
            gate: "auc-floor".into(),
            metric: Some("auc".into()),
            candidate: Some(auc),
            baseline: None,
            threshold: ">= 0.5".into(),
            verdict,
            reason: "a coin flip does better".into(),
        }],
        outcome,
        review: None,
        decided_at: time(at),
    };
    ledger
        .record_decision(&signer(), time(at), &mut |_| Ok(draft.clone()))
        .unwrap();
}

/// run-0 (AUC 0.8) promoted and deployed to production; run-1 (AUC 0.4) rejected; an
/// artifact nothing promoted force-deployed to staging.
fn build(dir: &Path) -> Ledger {
    Ledger::init(dir, &Default::default()).unwrap();
    let mut ledger = Ledger::open(dir, &Default::default()).unwrap();
    ledger.append(&run_events("run-0", 0.8)).unwrap();
    ledger.append(&run_events("run-1", 0.4)).unwrap();
    let mut trust = Trust::default();
    trust
        .add(&signer().public(), "release-bot", Role::Signer, None)
        .unwrap();
    trust
        .add(&deployer().public(), "deploy-bot", Role::Deployer, None)
        .unwrap();
    ledger.set_trust(trust).unwrap();
    decide(&mut ledger, "run-0", DecisionOutcome::Promoted, 0.8, 1);
    decide(&mut ledger, "run-1", DecisionOutcome::Rejected, 0.4, 2);
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
    ledger
}

/// Every value of attribute `name` in `html`, in order.
fn attributes(html: &str, name: &str) -> Vec<String> {
    let needle = format!(" {name}=\"");
    html.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[test]
fn the_audit_of_a_promoted_deployed_artifact_is_all_green_and_unknown_ones_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = build(&dir.path().join("ledger"));
    let at = At::new(&ledger, None);
    let digest = artifact("run-0");
    let report = ledger.audit(&digest, &ledger.trust().clone()).unwrap();
    assert!(report.ok(), "the fixture audits green: {report:?}");

    let page = audit::render(&at, &digest.to_string()).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(body.contains("id=\"audit\""));
    let checks = attributes(body, "data-check");
    let mut expected: Vec<String> = report.checks.iter().map(|c| c.what.clone()).collect();
    let mut shown = checks.clone();
    expected.sort();
    shown.sort();
    assert_eq!(shown, expected, "exactly the audit's checks");
    assert!(checks.contains(&"deployment".to_owned()) && checks.contains(&"decision".to_owned()));
    assert!(attributes(body, "data-ok").iter().all(|ok| ok == "true"));
    assert!(body.contains(&format!(
        "id=\"bundle\" href=\"/api/v1/audit/{digest}/bundle\" download="
    )));
    assert!(body.contains("Audit passed"));

    // The bare hex `b3sum` prints, with the file name after it, is the same digest.
    let pasted = audit::parse_pasted(&format!("{}  model.bin", digest.hex())).unwrap();
    assert_eq!(pasted, digest);
    assert_eq!(audit::location(&digest), format!("/audit/{digest}"));

    // Nothing promoted it: 404 in the audit's words, no bundle.
    let unknown = Digest::of(b"never logged");
    let page = audit::render(&at, &unknown.to_string()).unwrap();
    assert_eq!(page.status, 404);
    assert!(page
        .body
        .contains(&format!("no accepted decision promoted {unknown}")));
    assert!(!page.body.contains("id=\"bundle\""));
    assert!(page
        .body
        .contains("data-check=\"promoted\" data-ok=\"false\""));

    // Force-deployed without a decision: the ledger knows it, so the page is the audit's
    // red report (200), with the red deployment check.
    let hotfix = Digest::of(b"hotfix");
    let page = audit::render(&at, &hotfix.to_string()).unwrap();
    assert_eq!(page.status, 200);
    assert!(page
        .body
        .contains("data-check=\"deployment\" data-ok=\"false\""));
    assert!(page.body.contains("incident 42"));

    // Not a digest: bad input, and the form says why.
    let refused = audit::render(&at, "blake3:nope").unwrap_err();
    assert_eq!(refused.failure(), Failure::BadInput);
    let form = audit::render_form("blake3:nope", Some(refused.to_string())).unwrap();
    assert_eq!(form.status, 400);
    assert!(form.body.contains("role=\"alert\""));
}

#[test]
fn a_stricter_policy_replayed_lists_the_decision_that_flips() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = build(&dir.path().join("ledger"));
    let form = ReplayForm::from_pairs(&[
        ("policy".to_owned(), STRICT.to_owned()),
        ("model".to_owned(), String::new()),
    ]);
    let page = replay::render(&ledger, &form, now).unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    let flips = &page.body[page.body.find("id=\"flips\"").expect("a flips table")..];
    assert_eq!(
        attributes(flips, "data-decision"),
        vec!["0".to_owned()],
        "run-0's promotion flips; run-1 stays rejected: {flips}"
    );
    assert!(flips.contains("promoted") && flips.contains("rejected"));
    assert!(flips.contains("data-gate=\"auc-floor (auc)\""));

    // The same replay with every decision listed shows run-1 too, unchanged.
    let all = ReplayForm {
        all: true,
        ..form.clone()
    };
    let page = replay::render(&ledger, &all, now).unwrap();
    assert_eq!(attributes(&page.body, "data-decision"), vec!["0", "1"]);

    // A policy that does not parse: the form again, with the text kept and why.
    let bad = ReplayForm {
        policy: "model = [".into(),
        ..ReplayForm::default()
    };
    let page = replay::render(&ledger, &bad, now).unwrap();
    assert_eq!(page.status, 400);
    assert!(page.body.contains("id=\"replay-form\""));
    assert!(page.body.contains("policy: "));
    assert!(page.body.contains("model = ["));
    assert!(!page.body.contains("id=\"flips\""));
}
