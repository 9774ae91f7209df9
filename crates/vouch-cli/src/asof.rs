//! `--as-of POSITION|TIME`: a read command answered from the ledger as it stood then
//! (`vouch_app::as_of`), with progress bars and a note saying which point.

use vouch_app::as_of::{AsOf, AsOfError, Past, Stage};
use vouch_ledger::Ledger;
use vouch_views::Views;

use crate::context::{now, Context};
use crate::exit::{bad_input, CliError, CliResult};
use crate::output::{note, Progress};

impl From<AsOfError> for CliError {
    fn from(e: AsOfError) -> Self {
        match e {
            AsOfError::Beyond { .. } => bad_input(format!("--as-of: {e}")),
            AsOfError::Log(l) => l.into(),
            AsOfError::Project(p) => p.into(),
            AsOfError::Views(v) => v.into(),
            e => bad_input(e),
        }
    }
}

/// The ledger, caught up, and the past asked for: what a read command answers from.
pub struct At {
    pub ledger: Ledger,
    past: Option<Past>,
}

impl At {
    /// Opens the ledger caught up, then, with `as_of`, builds its views as of then.
    pub fn open(ctx: &Context, as_of: Option<&str>) -> CliResult<At> {
        let ledger = ctx.open_caught_up()?;
        let Some(text) = as_of else {
            return Ok(At { ledger, past: None });
        };
        let point = AsOf::parse(text, "--as-of", now())?;
        let mut bar: Option<(Stage, Progress)> = None;
        let past = Past::project(&ledger, point, &mut |stage, at, end| {
            if bar.as_ref().is_none_or(|(s, _)| *s != stage) {
                if let Some((_, done)) = bar.take() {
                    done.finish();
                }
                let what = match stage {
                    Stage::Finding => "finding the position",
                    Stage::Projecting => "projecting the past",
                };
                bar = Some((stage, Progress::new(what)));
            }
            if let Some((_, progress)) = &bar {
                progress.update(at.get(), end.get());
            }
        })?;
        if let Some((_, done)) = bar {
            done.finish();
        }
        note!(
            "as of log position {} of {}{}",
            past.position(),
            past.last(),
            past.time().map_or(String::new(), |t| format!(" ({t})"))
        );
        Ok(At {
            ledger,
            past: Some(past),
        })
    }

    /// The application layer's view of the same.
    pub fn app(&self) -> vouch_app::as_of::At<'_> {
        vouch_app::as_of::At::new(&self.ledger, self.past.as_ref())
    }

    /// The views to answer from.
    pub fn views(&self) -> &Views {
        self.app().views()
    }

    /// The time gates read (dataset freshness): then, or now.
    pub fn now(&self) -> vouch_event::Timestamp {
        self.app().now(now)
    }

    /// The log position answered as of, when in the past.
    pub fn position(&self) -> Option<vouch_log::Position> {
        self.app().position()
    }
}
