//! The log contract suite, run against the embedded backend.

use vouch_log::contract::Harness;
use vouch_log_embedded::EmbeddedLog;

struct Embedded(tempfile::TempDir);

impl Harness for Embedded {
    type Log = EmbeddedLog;
    fn open(&self) -> EmbeddedLog {
        EmbeddedLog::open(self.0.path()).expect("open embedded log")
    }
}

vouch_log::log_contract_tests!(Embedded(tempfile::tempdir().unwrap()));
