//! A view of the ledger at a log position or a time (`--as-of`, `as_of=`): the log up to
//! there, projected again into temporary views. Read commands (`runs`, `compare`,
//! `diagnose`, `registry`, `gate`) answer from an [`At`], the current views or the past.

use vouch_event::Timestamp;
use vouch_ledger::Ledger;
use vouch_log::{LogError, Position};
use vouch_views::{ProjectError, Views, ViewsError};

use crate::time::{parse_time, DayEnd, TimeError};
use crate::Clock;

/// Where in the ledger's history to answer from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Just after this log position (0: before the first record).
    Position(Position),
    /// The log as it ended at this time: every record stamped at or before it.
    Time(Timestamp),
}

/// Why the ledger could not be viewed as of a point.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AsOfError {
    /// Digits that do not fit a position.
    #[error("{what}: position {text} is out of range")]
    OutOfRange {
        /// The flag or parameter (`--as-of`, `as_of`).
        what: String,
        /// What was given.
        text: String,
    },
    /// Not a position and not a time.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// The position is past the end of the log.
    #[error("position {position} is beyond the log's end (its last position is {last})")]
    Beyond {
        /// What was asked for.
        position: Position,
        /// The log's last position.
        last: Position,
    },
    /// The log failed.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Projecting the past failed.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The temporary views failed.
    #[error(transparent)]
    Views(#[from] ViewsError),
}

impl AsOf {
    /// Parses `text` given as `what`: digits are a log position, anything else a time
    /// (RFC 3339, or a date: the end of that day), which may not lie after `now`.
    ///
    /// # Errors
    /// [`AsOfError::OutOfRange`], [`AsOfError::Time`].
    pub fn parse(text: &str, what: &str, now: Timestamp) -> Result<AsOf, AsOfError> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let position = text.parse::<u64>().map_err(|_| AsOfError::OutOfRange {
                what: what.to_owned(),
                text: text.to_owned(),
            })?;
            return Ok(AsOf::Position(Position::new(position)));
        }
        Ok(AsOf::Time(parse_time(text, what, DayEnd::End, now)?))
    }
}

/// What a past view is busy with, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading record times to find the position a time ended at.
    Finding,
    /// Projecting the log up to the position.
    Projecting,
}

/// The ledger's views as of an earlier point, projected into a temporary store.
pub struct Past {
    views: Views,
    position: Position,
    last: Position,
    time: Option<Timestamp>,
}

impl Past {
    /// Projects `ledger`'s log up to `point` into temporary views. `progress` is told the
    /// stage, the position reached and the end.
    ///
    /// # Errors
    /// [`AsOfError::Beyond`] for a position after the log's end; otherwise when the log or
    /// the temporary store fails.
    pub fn project(
        ledger: &Ledger,
        point: AsOf,
        progress: &mut dyn FnMut(Stage, Position, Position),
    ) -> Result<Past, AsOfError> {
        let last = ledger.log().last_position()?;
        let (position, time) = match point {
            AsOf::Position(position) => {
                if position > last {
                    return Err(AsOfError::Beyond { position, last });
                }
                (position, record_time(ledger, position)?)
            }
            AsOf::Time(time) => {
                let position =
                    ledger.position_at(time, &mut |at, end| progress(Stage::Finding, at, end))?;
                (position, Some(time))
            }
        };
        let views = ledger
            .as_of(position, &mut |at, end| {
                progress(Stage::Projecting, at, end)
            })
            .map_err(|e| match e {
                vouch_ledger::AsOfError::Beyond { position, last } => {
                    AsOfError::Beyond { position, last }
                }
                vouch_ledger::AsOfError::Log(l) => AsOfError::Log(l),
                vouch_ledger::AsOfError::Project(p) => AsOfError::Project(p),
                vouch_ledger::AsOfError::Views(v) => AsOfError::Views(v),
            })?;
        Ok(Past {
            views,
            position,
            last,
            time,
        })
    }

    /// The log position answered as of.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The log's last position when the past was projected.
    pub fn last(&self) -> Position {
        self.last
    }

    /// The time asked for, or the time stamped on the record at the position asked for
    /// (none at 0 or when that record does not decode).
    pub fn time(&self) -> Option<Timestamp> {
        self.time
    }

    /// The views as of then.
    pub fn views(&self) -> &Views {
        &self.views
    }
}

/// The views a read command answers from: the ledger's current ones, or a [`Past`].
#[derive(Clone, Copy)]
pub struct At<'l> {
    ledger: &'l Ledger,
    past: Option<&'l Past>,
}

impl<'l> At<'l> {
    /// The ledger now (the caller catches it up first), or as of `past`.
    pub fn new(ledger: &'l Ledger, past: Option<&'l Past>) -> At<'l> {
        At { ledger, past }
    }

    /// The ledger (its log holds every record the views cite).
    pub fn ledger(&self) -> &'l Ledger {
        self.ledger
    }

    /// The views to answer from.
    pub fn views(&self) -> &'l Views {
        match self.past {
            Some(past) => past.views(),
            None => self.ledger.views(),
        }
    }

    /// The past answered from, if any.
    pub fn past(&self) -> Option<&'l Past> {
        self.past
    }

    /// The log position answered as of, when in the past.
    pub fn position(&self) -> Option<Position> {
        self.past.map(Past::position)
    }

    /// The time ages and freshness are measured to: then, or `clock`'s now.
    pub fn now(&self, clock: Clock) -> Timestamp {
        self.past.and_then(Past::time).unwrap_or_else(clock)
    }
}

/// The time stamped on the record at `position` (none at 0 or when it does not decode).
fn record_time(ledger: &Ledger, position: Position) -> Result<Option<Timestamp>, LogError> {
    if position == Position::ZERO {
        return Ok(None);
    }
    let records = ledger.log().read(position, 1)?;
    Ok(records
        .first()
        .and_then(|r| vouch_event::decode(&r.bytes).ok())
        .map(|e| e.time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_a_position_and_anything_else_a_time() {
        let now = Timestamp::parse_rfc3339("2026-12-02T12:00:00Z").unwrap();
        assert_eq!(
            AsOf::parse("0", "--as-of", now).unwrap(),
            AsOf::Position(Position::ZERO)
        );
        assert_eq!(
            AsOf::parse("42", "--as-of", now).unwrap(),
            AsOf::Position(Position::new(42))
        );
        assert_eq!(
            AsOf::parse("2026-11-01T00:00:00Z", "--as-of", now).unwrap(),
            AsOf::Time(Timestamp::parse_rfc3339("2026-11-01T00:00:00Z").unwrap())
        );
        let huge = AsOf::parse("99999999999999999999999", "as_of", now).unwrap_err();
        assert_eq!(
            huge.to_string(),
            "as_of: position 99999999999999999999999 is out of range"
        );
        assert!(matches!(
            AsOf::parse("", "as_of", now),
            Err(AsOfError::Time(_))
        ));
        assert!(matches!(
            AsOf::parse("yesterday", "as_of", now),
            Err(AsOfError::Time(_))
        ));
    }
}
