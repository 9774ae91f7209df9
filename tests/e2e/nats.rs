//! The CLI over a NATS JetStream stream: every ledger directory here is a set of views
//! over one stream on a server the test started itself.

use vouch_test_nats::NatsServer;

use crate::support::TestLedger;

/// Two directories over one stream see the same evidence: the stream is the truth, each
/// directory only its own views of it.
#[test]
fn two_directories_over_one_stream_see_the_same_runs() {
    let server = NatsServer::start();
    let first = TestLedger::nats(&server.url());
    first.start_run("r-1");
    first
        .vouch(&["log", "metric", "--run", "r-1", "auc=0.91", "loss=0.2"])
        .ok();
    let second = TestLedger::nats(&server.url());
    let shown = second.vouch(&["runs", "show", "r-1", "--json"]).json();
    assert_eq!(shown["metrics"][0]["name"], "auc", "{shown}");
    assert_eq!(shown["metrics"][0]["value"], 0.91, "{shown}");
    assert_eq!(first.dump(), second.dump());
}
