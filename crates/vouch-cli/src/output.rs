//! Tables, JSON and progress bars.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use comfy_table::{presets, ContentArrangement, Table, TableComponent};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

static PRINTED_JSON: AtomicBool = AtomicBool::new(false);

/// Whether this command already printed its JSON document: a failing command then does not
/// print a second one (its document says what failed).
pub fn printed_json() -> bool {
    PRINTED_JSON.load(Ordering::Relaxed)
}

/// Prints `value` as JSON on standard output.
pub fn json<T: Serialize>(value: &T) {
    PRINTED_JSON.store(true, Ordering::Relaxed);
    let text = serde_json::to_string_pretty(value).expect("serializable");
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// A table with a header row, sized to the terminal.
pub fn table<I: IntoIterator<Item = S>, S: Into<comfy_table::Cell>>(header: I) -> Table {
    let mut table = Table::new();
    // Columns separated by spaces, one rule under the header: easy to read and to grep.
    table
        .load_preset(presets::NOTHING)
        .set_style(TableComponent::HeaderLines, '─')
        .set_style(TableComponent::MiddleHeaderIntersections, '─')
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

pub fn print(table: &Table) {
    let _ = writeln!(std::io::stdout(), "{table}");
}

/// Formats a metric value compactly without losing precision.
pub fn number(value: f64) -> String {
    let text = format!("{value}");
    if text.len() > 12 {
        format!("{value:.6e}")
    } else {
        text
    }
}

/// A progress bar on standard error when it is a terminal; silent otherwise.
pub struct Progress(Option<ProgressBar>);

impl Progress {
    pub fn new(what: &'static str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Progress(None);
        }
        let bar = ProgressBar::hidden();
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what);
        Progress(Some(bar))
    }

    /// A bar counting bytes, for reading a file.
    pub fn bytes(what: &'static str, total: u64) -> Self {
        if !std::io::stderr().is_terminal() || total < 8 << 20 {
            return Progress(None);
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>12} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(what);
        Progress(Some(bar))
    }

    pub fn update(&self, at: u64, end: u64) {
        if let Some(bar) = &self.0 {
            // Only show work that is worth watching.
            if end > 50_000 && bar.is_hidden() {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            bar.set_length(end);
            bar.set_position(at);
        }
    }

    pub fn set_message(&self, what: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(what.to_owned());
        }
    }

    pub fn set(&self, at: u64) {
        if let Some(bar) = &self.0 {
            bar.set_position(at);
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}
