//! What one MLflow request may carry: MLflow's own server limits, which the client
//! splits its batches to fit. A request over them is refused whole (400) before anything
//! is written.

/// Metrics in one `log-batch`.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// Params in one `log-batch`.
pub const MAX_PARAMS_PER_BATCH: usize = 100;
/// Tags in one `log-batch`.
pub const MAX_TAGS_PER_BATCH: usize = 100;
/// Entities of all kinds in one `log-batch`.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// A param's value, in characters.
pub const MAX_PARAM_VALUE_CHARS: usize = 6000;
/// A run tag's value, in characters.
pub const MAX_RUN_TAG_VALUE_CHARS: usize = 8000;
/// An experiment tag's value, in characters.
pub const MAX_EXPERIMENT_TAG_VALUE_CHARS: usize = 20_000;
/// Results of one search page.
pub const MAX_SEARCH_RESULTS: usize = 50_000;
/// Points of one metric-history page.
pub const MAX_HISTORY_RESULTS: usize = 25_000;
