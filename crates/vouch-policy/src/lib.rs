//! Release policies and gate evaluation.
//!
//! A [`Policy`] (TOML, written and reviewed by people) states what evidence a model
//! release needs: metric floors and ceilings, comparisons with the production baseline
//! overall and per segment, required artifacts, dataset freshness, and the conditions that
//! call for a human review even when every number passes. [`evaluate`] holds a candidate
//! run's [`Evidence`] against it and returns an [`Evaluation`]: a result per gate, a result
//! per review rule, and an [`Outcome`] (promote, reject, or needs review). A rejection is a
//! value, not an error.
//!
//! Architecture invariant: gates are pure functions of (policy, evidence, time given as a
//! parameter). This crate does no I/O, reads no clock, and knows nothing about sled, the log
//! or JSON; the caller builds [`Evidence`] from its views and passes `now`, so any past
//! decision can be recomputed exactly (`vouch replay`).
#![deny(missing_docs)]

mod error;
mod evaluate;
mod policy;

pub use error::PolicyError;
pub use evaluate::{
    evaluate, DatasetEvidence, Evaluation, Evidence, GateResult, Outcome, ReviewResult, Verdict,
};
pub use policy::{
    Approval, BaselineMissing, Bounds, Gate, GateCheck, GateKind, Policy, ReviewRule, ReviewWhen,
    SegmentSelection, Tolerance,
};
