//! Status: the log's and the views' positions, how far the views are behind, and totals.
//! What `vouch status` prints and `GET /api/v1/status` answers.

use vouch_ledger::{Ledger, Status};
use vouch_views::ProjectError;

/// The ledger's state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StatusReport {
    /// Positions, backend, identity and totals.
    #[serde(flatten)]
    pub status: Status,
    /// Records in the log the views have not applied yet (0 after a catch-up).
    pub behind: u64,
}

/// The ledger's state as its views stand (the caller catches up first, or not, to show
/// how far a follower is behind).
///
/// # Errors
/// When a store fails.
pub fn status(ledger: &Ledger) -> Result<StatusReport, ProjectError> {
    let status = ledger.status()?;
    let behind = status.log_position.saturating_sub(status.view_position);
    Ok(StatusReport { status, behind })
}
