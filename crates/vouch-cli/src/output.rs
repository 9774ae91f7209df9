//! Tables, JSON and progress bars, and the one sink for human-readable text.
//!
//! Everything a person reads (tables, lines, errors) goes through [`escape`], so a value
//! from the ledger or the input (a param value, a rejected line, a file name) cannot send
//! a terminal control sequence: `runs show` of a param holding `ESC ] 0 ; … BEL` prints
//! the characters, it does not retitle the window. `--json` output is JSON, which escapes
//! control characters itself, and is printed exactly.

use std::borrow::Cow;
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
    out_line(&table.to_string());
}

/// The one rule for text shown to a person: every control character (C0, DEL and C1,
/// ESC and BEL among them) is written as an escape (`\x1b`, `\u{9b}`, `\t`), except the
/// newline, which only separates lines. Text without any is returned as it is.
pub fn escape(text: &str) -> Cow<'_, str> {
    let shown = |c: char| c == '\n' || !c.is_control();
    if text.chars().all(shown) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            c if shown(c) => out.push(c),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// A line of human-readable text on standard output, escaped. See [`say!`].
pub fn out_line(text: &str) {
    let _ = writeln!(std::io::stdout(), "{}", escape(text));
}

/// A line of human-readable text on standard error, escaped. See [`note!`].
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr(), "{}", escape(text));
}

/// `println!` for what a person reads: the line goes through [`escape`].
macro_rules! say {
    () => {
        $crate::output::out_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::out_line(&format!($($arg)*))
    };
}

/// `eprintln!` for what a person reads: the line goes through [`escape`].
macro_rules! note {
    () => {
        $crate::output::err_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::err_line(&format!($($arg)*))
    };
}

pub(crate) use {note, say};

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

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_are_escaped_and_text_is_kept() {
        assert_eq!(escape("plain, ünïcode ✓"), "plain, ünïcode ✓");
        assert_eq!(escape("two\nlines"), "two\nlines");
        assert_eq!(
            escape("\x1b]0;pwned\x07 and \x1b[31mred"),
            "\\x1b]0;pwned\\x07 and \\x1b[31mred"
        );
        assert_eq!(escape("a\tb\rc\0d\x7f"), "a\\tb\\rc\\x00d\\x7f");
        // C1 controls: CSI (U+009B) and OSC (U+009D) act like ESC [ and ESC ].
        assert_eq!(escape("\u{9b}31m\u{9d}0;x"), "\\u{9b}31m\\u{9d}0;x");
    }
}
