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
use std::sync::OnceLock;

use comfy_table::{
    presets, CellAlignment, ColumnConstraint, ContentArrangement, TableComponent, Width,
};
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

/// How many columns a person's terminal has, if output is limited at all: the width of
/// standard output when it is a terminal (`TIOCGWINSZ`), else `COLUMNS` when set, else no
/// limit, so a pipe or a file gets whole lines and a script that greps output finds full
/// values. Decided once per process.
pub fn width() -> Option<usize> {
    static WIDTH: OnceLock<Option<usize>> = OnceLock::new();
    *WIDTH.get_or_init(|| stream_width(&std::io::stdout(), libc::STDOUT_FILENO))
}

/// [`width`] for standard error.
fn err_width() -> Option<usize> {
    static WIDTH: OnceLock<Option<usize>> = OnceLock::new();
    *WIDTH.get_or_init(|| stream_width(&std::io::stderr(), libc::STDERR_FILENO))
}

fn stream_width(stream: &impl IsTerminal, fd: libc::c_int) -> Option<usize> {
    let terminal = stream.is_terminal().then(|| {
        // SAFETY: TIOCGWINSZ writes one `winsize` into the struct it is given.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
        (ok && size.ws_col > 0).then_some(usize::from(size.ws_col))
    });
    terminal.flatten().or_else(|| {
        std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&c| c > 0)
    })
}

/// The narrowest a table or a wrapped line is laid out for, however narrow the terminal.
const MIN_WIDTH: usize = 20;

/// A cell of a [`Table`]: text and an alignment. When the output has a width, long digests
/// and sub-second times in it are shortened ([`shorten_digests`], [`shorten_times`]);
/// everything else wraps inside its column.
pub struct Cell {
    text: String,
    alignment: Option<CellAlignment>,
}

impl Cell {
    pub fn new<T: ToString>(content: T) -> Self {
        Cell {
            text: content.to_string(),
            alignment: None,
        }
    }

    pub fn set_alignment(mut self, alignment: CellAlignment) -> Self {
        self.alignment = Some(alignment);
        self
    }

    fn into_comfy(self, limited: bool) -> comfy_table::Cell {
        let text = if limited {
            shorten_times(&shorten_digests(&self.text)).into_owned()
        } else {
            self.text
        };
        // Escaped before layout, so the columns are measured on what is printed.
        let cell = comfy_table::Cell::new(escape(&text));
        match self.alignment {
            Some(alignment) => cell.set_alignment(alignment),
            None => cell,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Self {
        Cell::new(text)
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Self {
        Cell::new(text)
    }
}

impl From<&String> for Cell {
    fn from(text: &String) -> Self {
        Cell::new(text)
    }
}

/// A table for a person to read: the one place that decides how tables fit the terminal.
/// With a [`width`], the table is laid out to it ([`laid_out`]: comfy-table's dynamic
/// arrangement then wraps long cells inside their column, or [`records`] when no grid is
/// readable) and digests and times are shortened; without one (a pipe), every row is one
/// whole line with full values. `--json` always has the full values.
pub struct Table {
    inner: comfy_table::Table,
    width: Option<usize>,
}

impl Table {
    pub fn add_row<I: IntoIterator<Item = C>, C: Into<Cell>>(&mut self, row: I) -> &mut Self {
        let limited = self.width.is_some();
        self.inner.add_row(
            row.into_iter()
                .map(|c| c.into().into_comfy(limited))
                .collect::<Vec<_>>(),
        );
        self
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.width {
            Some(width) => match laid_out(&self.inner, width, true) {
                Some(table) => table.fmt(f),
                None => records(&self.inner, width).fmt(f),
            },
            None => self.inner.fmt(f),
        }
    }
}

/// A cell word longer than this may be broken inside its column rather than widen it.
const LONGEST_WORD: usize = 24;

/// `table` with every column given its width for a line of `width` characters: each column
/// at least as wide as its longest word (a cell word counts up to [`LONGEST_WORD`]; a header
/// word breaks only after `_`, `=` or `,` or before `[`), and the room left shared out to
/// the columns whose content wants it. Header words are broken at those points when their
/// column is narrower, so a header stays readable; cells wrap inside their column.
///
/// When even the narrowest grid that keeps names whole to 10 characters is too wide and
/// `or_records` allows, there is no grid (`None`): see [`records`].
fn laid_out(
    table: &comfy_table::Table,
    width: usize,
    or_records: bool,
) -> Option<comfy_table::Table> {
    let mut table = table.clone();
    let columns = table.column_iter().count();
    if columns == 0 {
        return Some(table);
    }
    let len = |s: &str| s.chars().count();
    let headers: Vec<String> = table
        .header()
        .map(|h| h.cell_iter().map(comfy_table::Cell::content).collect())
        .unwrap_or_default();
    let mut natural = vec![1usize; columns];
    // The longest word of a column's cells, and of its header.
    let mut words = vec![1usize; columns];
    let mut least = vec![1usize; columns];
    let mut machine = vec![false; columns];
    for (i, header) in headers.iter().enumerate().take(columns) {
        natural[i] = header.lines().map(len).max().unwrap_or(0).max(1);
        least[i] = header_pieces(header).map(len).max().unwrap_or(1).max(1);
    }
    for row in table.row_iter() {
        for (i, cell) in row.cell_iter().enumerate().take(columns) {
            let content = cell.content();
            natural[i] = natural[i].max(content.lines().map(len).max().unwrap_or(0));
            let word = content.split_whitespace().max_by_key(|w| len(w));
            if let Some(word) = word {
                words[i] = words[i].max(len(word).min(LONGEST_WORD));
                // A column is machine text when its longest word is (a name is not).
                if len(word) >= words[i] {
                    machine[i] = machine_word(word);
                }
            }
        }
    }
    for i in 0..columns {
        least[i] = least[i].max(words[i]);
    }
    // No separator between columns (the rule under the header then has none to cross):
    // each column has one space of padding on either side and nothing else.
    table.remove_style(TableComponent::MiddleHeaderIntersections);
    let room = width
        .max(MIN_WIDTH)
        .saturating_sub(2 * columns)
        .max(columns);
    if natural.iter().sum::<usize>() <= room {
        return Some(table);
    }
    let mut widths: Vec<usize> = least.iter().zip(&natural).map(|(l, n)| *l.min(n)).collect();
    // Too narrow for every column's longest word. Columns narrow widest first, each down to
    // a floor: machine text (digests, times, versions) first, to 8 characters; then header
    // words (to 6) if that is enough, names (cell words, to 10) kept whole; else names
    // first and header words after.
    let pieces: Vec<usize> = headers
        .iter()
        .map(|h| header_pieces(h).map(len).max().unwrap_or(1))
        .chain(std::iter::repeat(1))
        .take(columns)
        .collect();
    let cells: Vec<usize> = (0..columns)
        .map(|i| {
            if machine[i] {
                words[i].min(8)
            } else {
                words[i]
            }
        })
        .collect();
    let floor = |header: usize, name: usize| -> Vec<usize> {
        (0..columns)
            .map(|i| {
                let cell = if machine[i] {
                    cells[i]
                } else {
                    cells[i].min(name)
                };
                cell.max(pieces[i].min(header)).max(1)
            })
            .collect()
    };
    let narrow = |widths: &mut Vec<usize>, floor: &[usize]| {
        while widths.iter().sum::<usize>() > room {
            let Some(widest) = (0..columns)
                .filter(|&i| widths[i] > floor[i])
                .max_by_key(|&i| widths[i])
            else {
                break;
            };
            widths[widest] -= 1;
        }
    };
    narrow(&mut widths, &floor(usize::MAX, usize::MAX));
    let headers_broken = floor(6, usize::MAX);
    let headers_enough = widths
        .iter()
        .zip(&headers_broken)
        .map(|(w, f)| w.min(f))
        .sum::<usize>()
        <= room;
    if headers_enough {
        narrow(&mut widths, &headers_broken);
    } else {
        narrow(&mut widths, &floor(usize::MAX, 10));
        narrow(&mut widths, &floor(6, 10));
    }
    if widths.iter().sum::<usize>() > room {
        if or_records {
            return None;
        }
        narrow(&mut widths, &vec![1; columns]);
    }
    // Room to spare: first to the columns it makes whole, the nearest first; then one
    // character at a time to the column furthest from its natural width.
    let mut spare = room.saturating_sub(widths.iter().sum());
    while let Some(nearest) = (0..columns)
        .filter(|&i| widths[i] < natural[i] && natural[i] - widths[i] <= spare)
        .min_by_key(|&i| natural[i] - widths[i])
    {
        spare -= natural[nearest] - widths[nearest];
        widths[nearest] = natural[nearest];
    }
    while spare > 0 {
        let Some(wanting) = (0..columns)
            .filter(|&i| widths[i] < natural[i])
            .max_by_key(|&i| (natural[i] - widths[i]) * 1000 / natural[i])
        else {
            break;
        };
        widths[wanting] += 1;
        spare -= 1;
    }
    if !headers.is_empty() {
        let header: Vec<comfy_table::Cell> = headers
            .iter()
            .zip(&widths)
            .map(|(h, &w)| comfy_table::Cell::new(wrap_header(h, w)))
            .collect();
        table.set_header(header);
    }
    for (column, &w) in table.column_iter_mut().zip(&widths) {
        column.set_constraint(ColumnConstraint::Absolute(Width::Fixed(
            u16::try_from(w + 2).unwrap_or(u16::MAX),
        )));
    }
    Some(table)
}

/// A table too wide for a grid, as records: for each row, one line a column (the header,
/// then the value, wrapped beside it), and a rule between rows.
fn records(table: &comfy_table::Table, width: usize) -> String {
    let headers: Vec<String> = table
        .header()
        .map(|h| h.cell_iter().map(comfy_table::Cell::content).collect())
        .unwrap_or_default();
    let rule = "─".repeat(width.max(MIN_WIDTH));
    let mut out = Vec::new();
    for row in table.row_iter() {
        let mut record = comfy_table::Table::new();
        record
            .load_preset(presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(u16::try_from(width.max(MIN_WIDTH)).unwrap_or(u16::MAX));
        for (i, cell) in row.cell_iter().enumerate() {
            let header = headers.get(i).map_or("", String::as_str);
            record.add_row([header.to_owned(), cell.content()]);
        }
        let record = laid_out(&record, width, false).expect("a grid");
        out.push(record.to_string());
    }
    out.join(&format!("\n{rule}\n"))
}

/// Whether `word` is machine text rather than a name: hex digits, decimal digits and the
/// punctuation of times, versions and digests, with no other letters.
fn machine_word(word: &str) -> bool {
    word.chars().all(|c| {
        c.is_ascii_digit()
            || ('a'..='f').contains(&c)
            || matches!(
                c,
                ':' | '.' | '-' | '+' | 'T' | 'Z' | '#' | '(' | ')' | ',' | '…'
            )
    })
}

/// A header's pieces: its words, each broken after `_`, `=` or `,` and before `[`.
fn header_pieces(header: &str) -> impl Iterator<Item = &str> {
    header.split_whitespace().flat_map(|word| {
        let mut pieces = Vec::new();
        let mut start = 0;
        for (i, c) in word.char_indices() {
            let end = match c {
                '_' | '=' | ',' => i + c.len_utf8(),
                '[' => i,
                _ => continue,
            };
            if end > start {
                pieces.push(&word[start..end]);
                start = end;
            }
        }
        pieces.push(&word[start..]);
        pieces.into_iter().filter(|p| !p.is_empty())
    })
}

/// `header` as lines of at most `width` characters, broken between its pieces
/// ([`header_pieces`]; spaces between words are kept where a line goes on).
fn wrap_header(header: &str, width: usize) -> String {
    if header.chars().count() <= width {
        return header.to_owned();
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in header.split_whitespace() {
        for (n, piece) in header_pieces(word).enumerate() {
            let glue = if n == 0 && !line.is_empty() { " " } else { "" };
            if !line.is_empty() && line.chars().count() + glue.len() + piece.chars().count() > width
            {
                lines.push(std::mem::take(&mut line));
            } else {
                line.push_str(glue);
            }
            line.push_str(piece);
        }
    }
    lines.push(line);
    lines.join("\n")
}

/// A table with a header row, sized to the terminal (see [`Table`]).
pub fn table<I: IntoIterator<Item = S>, S: Into<Cell>>(header: I) -> Table {
    table_for(header, width())
}

fn table_for<I: IntoIterator<Item = S>, S: Into<Cell>>(header: I, width: Option<usize>) -> Table {
    let mut table = comfy_table::Table::new();
    // Columns separated by spaces, one rule under the header: easy to read and to grep.
    table
        .load_preset(presets::NOTHING)
        .set_style(TableComponent::HeaderLines, '─')
        .set_style(TableComponent::MiddleHeaderIntersections, '─')
        .set_header(
            header
                .into_iter()
                .map(|c| c.into().into_comfy(false))
                .collect::<Vec<_>>(),
        );
    match width {
        Some(width) => {
            let width = u16::try_from(width.max(MIN_WIDTH)).unwrap_or(u16::MAX);
            table
                .set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(width);
        }
        None => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    Table {
        inner: table,
        width,
    }
}

pub fn print(table: &Table) {
    out_line(&table.to_string());
}

/// Long hexadecimal digests in `text` (a run of 32 or more lowercase hex digits standing
/// alone, such as the hex of `blake3:…` or `ed25519:…`) shortened to their first 12 digits
/// and `…`: a prefix that still tells them apart, which a person can match against the
/// full value in `--json` or a piped listing.
pub fn shorten_digests(text: &str) -> Cow<'_, str> {
    const LONG: usize = 32;
    const KEPT: usize = 12;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !hex(bytes[i]) || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && hex(bytes[i]) {
            i += 1;
        }
        let alone = i == bytes.len() || !bytes[i].is_ascii_alphanumeric();
        if alone && i - start >= LONG {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..start + KEPT]);
            out.push('…');
            copied = i;
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// RFC 3339 times in `text` shown to the second: `2026-12-02T00:37:15.272783076Z` as
/// `2026-12-02T00:37:15Z`.
pub fn shorten_times(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let second = i >= 3
            && bytes[i] == b'.'
            && bytes[i - 3] == b':'
            && bytes[i - 2].is_ascii_digit()
            && bytes[i - 1].is_ascii_digit();
        if !second {
            i += 1;
            continue;
        }
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let end = i + 1 + digits;
        if digits > 0 && bytes.get(end) == Some(&b'Z') {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(&text[copied..i]);
            copied = end;
        }
        i = end;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.push_str(&text[copied..]);
            Cow::Owned(out)
        }
    }
}

/// `text` broken into lines of at most `width` characters: at spaces where it can, inside a
/// word longer than a line where it must. A broken line's continuation is indented two
/// spaces more than the line it continues. Lines that fit are kept as they are.
fn wrap(text: &str, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let mut out = String::with_capacity(text.len() + 16);
    for (n, line) in text.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        if line.chars().count() <= width {
            out.push_str(line);
            continue;
        }
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        let next_indent = if indent + 2 <= width / 2 {
            indent + 2
        } else {
            0
        };
        out.push_str(&line[..indent]);
        let mut used = indent;
        let mut fresh = true;
        // Each word with the spaces before it, kept unless the line breaks there.
        let mut rest = body;
        while !rest.is_empty() {
            let spaces = rest.len() - rest.trim_start_matches(' ').len();
            let after = &rest[spaces..];
            let end = after.find(' ').unwrap_or(after.len());
            let mut word = &after[..end];
            rest = &after[end..];
            if word.is_empty() {
                break;
            }
            let mut len = word.chars().count();
            if !fresh && used + spaces + len > width {
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', next_indent));
                used = next_indent;
            } else if !fresh {
                out.extend(std::iter::repeat_n(' ', spaces));
                used += spaces;
            }
            // A word longer than a whole line is cut where the line ends.
            while used + len > width {
                let room = width.saturating_sub(used);
                if room > 0 {
                    let cut = word.char_indices().nth(room).map_or(word.len(), |(i, _)| i);
                    out.push_str(&word[..cut]);
                    word = &word[cut..];
                    len -= room;
                }
                out.push('\n');
                out.extend(std::iter::repeat_n(' ', next_indent));
                used = next_indent;
            }
            out.push_str(word);
            used += len;
            fresh = false;
        }
    }
    out
}

fn fitted(text: &str, width: Option<usize>) -> Cow<'_, str> {
    let escaped = escape(text);
    match width {
        Some(width) if escaped.lines().any(|l| l.chars().count() > width) => {
            Cow::Owned(wrap(&escaped, width))
        }
        _ => escaped,
    }
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

/// A line of human-readable text on standard output, escaped, and wrapped to the
/// terminal's [`width`] when it has one. See [`say!`].
pub fn out_line(text: &str) {
    let _ = writeln!(std::io::stdout(), "{}", fitted(text, width()));
}

/// A line of human-readable text on standard error, escaped, and wrapped to the
/// terminal's width when it has one. See [`note!`].
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr(), "{}", fitted(text, err_width()));
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
    use super::{escape, shorten_digests, shorten_times, table_for, wrap, Cell};

    const HEX: &str = "99eeafeb0e794eefa122e2530ae181a47be5d23ef8e44d397bd9ed4b725bb126";

    #[test]
    fn digests_are_shortened_to_twelve_hex_digits_and_other_text_is_kept() {
        assert_eq!(
            shorten_digests(&format!("model.bin blake3:{HEX}, ed25519:{HEX}")),
            "model.bin blake3:99eeafeb0e79…, ed25519:99eeafeb0e79…"
        );
        // Short hex, hex inside a word and decimal numbers stay.
        for kept in [
            "decision 12b90d845e23 (#0)",
            &format!("x{HEX}"),
            "1234567890",
        ] {
            assert_eq!(shorten_digests(kept), kept);
        }
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(
            shorten_times("at 2026-12-02T00:37:15.272783076Z by bot"),
            "at 2026-12-02T00:37:15Z by bot"
        );
        assert_eq!(
            shorten_times("2026-11-20T11:14:00Z 0.5"),
            "2026-11-20T11:14:00Z 0.5"
        );
    }

    #[test]
    fn long_lines_wrap_at_spaces_and_long_words_are_cut() {
        let line = format!("review required (rule): {}", "word ".repeat(20));
        let wrapped = wrap(&line, 30);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert!(
            wrapped.lines().skip(1).all(|l| l.starts_with("  ")),
            "{wrapped}"
        );
        assert_eq!(
            wrapped.split_whitespace().count(),
            line.split_whitespace().count()
        );
        let digest = format!("deployed blake3:{HEX}");
        let wrapped = wrap(&digest, 30);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 30),
            "{wrapped}"
        );
        assert_eq!(wrapped.replace(['\n', ' '], ""), digest.replace(' ', ""));
        assert_eq!(wrap("short  spaced", 30), "short  spaced");
    }

    #[test]
    fn a_table_fits_its_width_or_is_whole_without_one() {
        let fill = |width| {
            let mut t = table_for(["gate", "metric", "reason"], width);
            t.add_row([
                Cell::new("model-file"),
                Cell::new("-"),
                Cell::new(format!(
                    "model.bin blake3:{HEX} {}",
                    "long reason ".repeat(8)
                )),
            ]);
            t.to_string()
        };
        let whole = fill(None);
        assert!(whole.contains(HEX), "{whole}");
        assert_eq!(whole.lines().count(), 3, "{whole}");
        for width in [40, 80] {
            let fitted = fill(Some(width));
            assert!(
                fitted.lines().all(|l| l.chars().count() <= width),
                "{width}:\n{fitted}"
            );
            assert!(!fitted.contains(HEX), "{fitted}");
            if width == 80 {
                assert!(fitted.contains("blake3:99eeafeb0e79…"), "{fitted}");
            }
            assert!(fitted.contains("model-file"), "{fitted}");
        }
    }

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
