//! The decision chain, newest last: what `vouch decisions` prints and
//! `GET /api/v1/decisions` answers.

use vouch_event::ModelName;
use vouch_views::{DecisionEntry, Views, ViewsError};

/// How many decisions are listed when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;

/// Which decisions to list.
#[derive(Debug, Clone, Default)]
pub struct DecisionsRequest {
    /// Only this model's.
    pub model: Option<ModelName>,
    /// The last this many (after the model filter).
    pub limit: usize,
}

/// The last `request.limit` decisions (of `request.model`), oldest first.
///
/// # Errors
/// When the views fail.
pub fn decisions(
    views: &Views,
    request: &DecisionsRequest,
) -> Result<Vec<DecisionEntry>, ViewsError> {
    let mut all = views.decisions(0, usize::MAX)?;
    if let Some(m) = &request.model {
        all.retain(|d| d.model == *m);
    }
    let skip = all.len().saturating_sub(request.limit);
    Ok(all.split_off(skip))
}
