//! Writes N metric events as JSON lines (1,000 runs, one value per event), for measuring
//! `vouch ingest` end to end:
//!
//! ```text
//! cargo run --release -p vouch-ledger --example gen_events -- 1000000 > events.jsonl
//! vouch --ledger /tmp/l init && time vouch --ledger /tmp/l ingest events.jsonl
//! ```

use std::io::{BufWriter, Write};

fn main() {
    let total: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs = 1000u64.min(total.max(1));
    let per_run = total / runs;
    let names = ["loss", "auc", "accuracy", "ece"];
    let mut out = BufWriter::new(std::io::stdout().lock());
    for r in 0..runs {
        for s in 0..per_run {
            let name = names[(s % 4) as usize];
            let value = 1.0 / (s as f64 + 1.0);
            let seconds = s % 60;
            writeln!(
                out,
                r#"{{"id":"gen-{r:05}-{s}","kind":"metrics_logged","schema":1,"time":"2026-11-28T04:00:{seconds:02}Z","producer":"gen_events","run":"gen-{r:05}","data":{{"metrics":{{"{name}":{value}}},"step":{s}}}}}"#
            )
            .expect("write to stdout");
        }
    }
}
