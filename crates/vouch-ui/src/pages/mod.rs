//! One module per page; each renders one template.

pub mod audit;
pub mod chain;
pub mod compare;
pub mod decision;
pub mod diagnose;
pub mod error;
pub mod models;
pub mod replay;
pub mod run;
pub mod runs;

/// Formats a value for a table cell: short, without trailing zeros.
pub(crate) fn number(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a != 0.0 && !(0.0001..1e9).contains(&a) {
        return format!("{v:.3e}");
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// The first 12 hex characters of a digest or hash, for links and narrow cells.
pub(crate) fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("blake3:").unwrap_or(digest);
    hex.chars().take(12).collect()
}

/// A timestamp to the second, as people read it.
pub(crate) fn when(time: vouch_event::Timestamp) -> String {
    let text = time.to_string();
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}
