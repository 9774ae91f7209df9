//! The application layer: what each Vouch command does, as a typed request and a typed
//! result (the shapes `--json` prints). The `vouch` CLI and `vouch serve --http` are thin
//! adapters over it: they parse their input into a request, call the command here, and
//! render the result (a table, a JSON document, an HTTP response). Neither holds a rule of
//! its own.
//!
//! One module per command. Time arrives as a parameter (a clock), so commands are tested
//! at any date.
#![deny(missing_docs)]

pub mod as_of;
pub mod compare;
pub mod decisions;
pub mod diagnose;
pub mod failure;
pub mod ingest;
pub mod promote;
pub mod registry;
pub mod replay;
pub mod runs;
pub mod status;
pub mod time;
pub mod transparency;
pub mod witness;

use vouch_event::Timestamp;

/// Where a command reads the time (the system clock in the binaries, a fixed one in tests).
pub type Clock = fn() -> Timestamp;
