//! Why a policy text was refused, and where.

use std::fmt;
use std::ops::Range;

/// A policy that does not parse or does not make sense, with the place in the text.
///
/// Policies are written by hand and reviewed in pull requests, so every error that can
/// point somewhere does: TOML syntax errors, unknown keys, wrong types and the semantic
/// checks (a gate without a tolerance, `min` above `max`, a duplicate name) all carry the
/// 1-based line and column of the key, value or table at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    location: Option<(usize, usize)>,
    message: String,
}

impl PolicyError {
    /// An error at byte range `span` of `text` (only its start is reported).
    pub(crate) fn at(text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        PolicyError {
            location: Some(line_column(text, span.start)),
            message: message.into(),
        }
    }

    /// An error about the policy as a whole, with no one place to point at.
    pub(crate) fn whole(message: impl Into<String>) -> Self {
        PolicyError {
            location: None,
            message: message.into(),
        }
    }

    /// Wraps a TOML error, keeping its position and dropping toml's own rendering (which
    /// quotes the line with a caret: fine for a terminal, noise inside a JSON report).
    pub(crate) fn from_toml(text: &str, error: &toml::de::Error) -> Self {
        PolicyError {
            location: error.span().map(|span| line_column(text, span.start)),
            message: error.message().to_owned(),
        }
    }

    /// The 1-based line, when the error has a place.
    pub fn line(&self) -> Option<usize> {
        self.location.map(|(line, _)| line)
    }

    /// The 1-based column, counted in characters, when the error has a place.
    pub fn column(&self) -> Option<usize> {
        self.location.map(|(_, column)| column)
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.location {
            Some((line, column)) => write!(f, "line {line}, column {column}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The 1-based line and character column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let text = "ab\ncé=x\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 2), (1, 3));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 6), (2, 3)); // after the two-byte é
        assert_eq!(line_column(text, 100), (3, 1));
        let e = PolicyError::at(text, 3..4, "bad");
        assert_eq!(e.to_string(), "line 2, column 1: bad");
        assert_eq!(PolicyError::whole("empty").to_string(), "empty");
    }
}
