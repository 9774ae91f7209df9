//! The rule book: the one place that decides whether a release record (a decision, a
//! review, a deployment) is valid.
//!
//! Each rule is a pure function of the record, the chain state before it, the records it
//! cites and the trust, returning the record's hash or a [`Violation`] naming the rule it
//! broke. The projector (what the registry and `deploy` see), `verify`, `audit`,
//! `verify-bundle` and every writer's pre-check call these functions; nothing else decides
//! validity. [`Walk`] carries the chain state over records in memory, for callers that
//! read a log or a bundle in order; the projector keeps the same state in its views.
//!
//! Architecture invariant: no I/O, no clock. Time comes in as the records' own signed
//! times; trust comes in as a value.
#![deny(missing_docs)]

mod judge;
mod trust;
mod verdict;
mod walk;

pub use judge::{
    expected_event_id, judge_decision, judge_deployment, judge_envelope, judge_link, judge_review,
    model_key, model_of, outcome_of_gates, DecisionCase, DecisionFacts, ReviewFacts, Tip,
    CHAIN_CLOCK_SKEW_NANOS, CHAIN_KEY, RELEASE_PRODUCER,
};
pub use trust::{Revocation, Role, Trust, TrustChangeError, TrustedKey};
pub use verdict::{Rule, Violation};
pub use walk::{Judged, Known, Walk};
