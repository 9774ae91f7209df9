//! Times people give (`--since`, `--until`, `--as-of`, `as_of=`): RFC 3339 or a bare date,
//! never in the future. One parser, so every adapter reads a time the same way.

use vouch_event::{FutureTimeError, Timestamp, TimestampError};

/// Which end of a day a bare date (`2026-11-01`) stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayEnd {
    /// Midnight at its start (UTC): for `--since`.
    Start,
    /// The last nanosecond of the day (UTC), or now if the day is today: for `--until` and
    /// `--as-of`.
    End,
}

/// Why a time was refused. Messages name the input as the caller called it (`what`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// Neither RFC 3339 nor a date.
    #[error("{what}: {reason}; a bare date like 2026-11-01 works too")]
    Malformed {
        /// The flag or parameter (`--as-of`, `as_of`).
        what: String,
        /// What is wrong with it.
        reason: TimestampError,
    },
    /// After now, beyond the allowed clock skew: the ledger cannot know the future.
    #[error(transparent)]
    Future(#[from] FutureTimeError),
}

/// Parses a time given as `what`: RFC 3339, or a bare date read as the start or end of
/// that UTC day. A time after `now` beyond [`vouch_event::MAX_CLOCK_SKEW`] is refused (a
/// date, when its day has not begun).
///
/// # Errors
/// [`TimeError`].
pub fn parse_time(
    text: &str,
    what: &str,
    day: DayEnd,
    now: Timestamp,
) -> Result<Timestamp, TimeError> {
    let date = text.len() == 10;
    let parsed = if date {
        Timestamp::parse_rfc3339(&format!("{text}T00:00:00Z"))
    } else {
        Timestamp::parse_rfc3339(text)
    };
    let time = parsed.map_err(|reason| TimeError::Malformed {
        what: what.to_owned(),
        reason,
    })?;
    time.check_not_future(what, now)?;
    Ok(match (date, day) {
        (true, DayEnd::End) => Timestamp::from_unix_nanos(
            (time.unix_nanos() + 86_400_000_000_000 - 1).min(now.unix_nanos()),
        ),
        _ => time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_date_is_the_start_or_the_end_of_its_day_and_never_after_now() {
        let now = at("2026-12-02T12:00:00Z");
        let start = parse_time("2026-11-01", "--since", DayEnd::Start, now).unwrap();
        assert_eq!(start, at("2026-11-01T00:00:00Z"));
        let end = parse_time("2026-11-01", "--until", DayEnd::End, now).unwrap();
        assert_eq!(end, at("2026-11-01T23:59:59.999999999Z"));
        // Today ends now.
        let today = parse_time("2026-12-02", "--as-of", DayEnd::End, now).unwrap();
        assert_eq!(today, now);
        let exact = parse_time("2026-11-01T10:00:00+01:00", "as_of", DayEnd::End, now).unwrap();
        assert_eq!(exact, at("2026-11-01T09:00:00Z"));
    }

    #[test]
    fn refusals_name_the_input_as_the_caller_called_it() {
        let now = at("2026-12-02T12:00:00Z");
        let bad = parse_time("2026-13-01", "--as-of", DayEnd::End, now).unwrap_err();
        assert!(matches!(bad, TimeError::Malformed { .. }), "{bad}");
        assert!(bad.to_string().starts_with("--as-of: "), "{bad}");
        assert!(bad
            .to_string()
            .ends_with("a bare date like 2026-11-01 works too"));
        let future = parse_time("2100-01-01", "as_of", DayEnd::Start, now).unwrap_err();
        assert!(matches!(future, TimeError::Future(_)), "{future}");
        assert!(future.to_string().contains("as_of"), "{future}");
    }
}
