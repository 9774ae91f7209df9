//! The log contract suite, run against a real JetStream server: one server per check, and
//! every `open()` is a new connection to the same server and stream, so "reopen" means
//! reconnect.

use vouch_log::contract::Harness;
use vouch_log_nats::NatsLog;
use vouch_test_nats::NatsServer;

struct Nats(NatsServer);

impl Harness for Nats {
    type Log = NatsLog;
    fn open(&self) -> NatsLog {
        self.0.log()
    }
}

vouch_log::log_contract_tests!(Nats(NatsServer::start()));
