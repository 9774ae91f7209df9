//! `--as-of POSITION|TIME`: a read command answered from the ledger as it stood then.

use vouch_event::Timestamp;
use vouch_ledger::{AsOfError, Ledger};
use vouch_log::Position;
use vouch_views::Views;

use crate::context::{now, parse_time, Context, DayEnd};
use crate::exit::{bad_input, CliError, CliResult};
use crate::output::{note, Progress};

impl From<AsOfError> for CliError {
    fn from(e: AsOfError) -> Self {
        match e {
            AsOfError::Beyond { .. } => bad_input(e),
            AsOfError::Log(l) => l.into(),
            AsOfError::Project(p) => p.into(),
            AsOfError::Views(v) => v.into(),
        }
    }
}

/// The views a read command answers from: the current ones, or a temporary projection of
/// the log up to an earlier point.
pub struct At {
    pub ledger: Ledger,
    past: Option<Past>,
}

struct Past {
    views: Views,
    position: Position,
    /// The time asked for, or the time of the record at the position.
    time: Option<Timestamp>,
}

impl At {
    /// Opens the ledger caught up, then, with `as_of`, builds its views as of then.
    pub fn open(ctx: &Context, as_of: Option<&str>) -> CliResult<At> {
        let ledger = ctx.open_caught_up()?;
        let Some(text) = as_of else {
            return Ok(At { ledger, past: None });
        };
        let last = ledger.log().last_position()?;
        let (position, time) = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let position = text
                .parse::<u64>()
                .map_err(|_| bad_input(format!("--as-of: position {text} is out of range")))?;
            let position = Position::new(position);
            if position > last {
                return Err(bad_input(format!(
                    "--as-of: position {position} is beyond the log's end (its last position is {last})"
                )));
            }
            (position, record_time(&ledger, position)?)
        } else {
            let time = parse_time(text, "--as-of", DayEnd::End)?;
            let progress = Progress::new("finding the position");
            let position =
                ledger.position_at(time, &mut |at, end| progress.update(at.get(), end.get()))?;
            progress.finish();
            (position, Some(time))
        };
        let progress = Progress::new("projecting the past");
        let views = ledger.as_of(position, &mut |at, end| {
            progress.update(at.get(), end.get())
        })?;
        progress.finish();
        note!(
            "as of log position {position} of {last}{}",
            time.map_or(String::new(), |t| format!(" ({t})"))
        );
        Ok(At {
            ledger,
            past: Some(Past {
                views,
                position,
                time,
            }),
        })
    }

    /// The views to answer from.
    pub fn views(&self) -> &Views {
        match &self.past {
            Some(past) => &past.views,
            None => self.ledger.views(),
        }
    }

    /// The time gates read (dataset freshness): then, or now.
    pub fn now(&self) -> Timestamp {
        self.past.as_ref().and_then(|p| p.time).unwrap_or_else(now)
    }

    /// The log position answered as of, when in the past.
    pub fn position(&self) -> Option<Position> {
        self.past.as_ref().map(|p| p.position)
    }
}

/// The time stamped on the record at `position` (none at 0 or when it does not decode).
fn record_time(ledger: &Ledger, position: Position) -> CliResult<Option<Timestamp>> {
    if position == Position::ZERO {
        return Ok(None);
    }
    let records = ledger.log().read(position, 1)?;
    Ok(records
        .first()
        .and_then(|r| vouch_event::decode(&r.bytes).ok())
        .map(|e| e.time))
}
