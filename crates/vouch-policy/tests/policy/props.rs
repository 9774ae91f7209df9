//! Properties: the parser never panics and always points inside the text; evaluation's
//! outcome always follows from its results.

use proptest::prelude::*;
use vouch_policy::{evaluate, Outcome, Policy, Verdict};

use crate::support::*;

const LOAN_RISK: &str = include_str!("../../policies/loan-risk.toml");

proptest! {
    /// Any edit of a real policy (a byte range replaced by short text) parses or fails
    /// with a location inside the text.
    #[test]
    fn edited_policies_parse_or_point_inside(
        at in 0..LOAN_RISK.len(),
        cut in 0usize..40,
        insert in "[a-z_=\\[\\]\" .0-9\n-]{0,12}",
    ) {
        let mut text = LOAN_RISK.to_owned();
        let mut start = at;
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + cut).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        text.replace_range(start..end, &insert);
        if let Err(e) = Policy::parse(&text) {
            if let (Some(line), Some(column)) = (e.line(), e.column()) {
                let lines: Vec<&str> = text.split('\n').collect();
                prop_assert!(line >= 1 && line <= lines.len(), "{e}");
                prop_assert!(column >= 1 && column <= lines[line - 1].chars().count() + 1, "{e}");
            }
            prop_assert!(!e.message().is_empty());
        }
    }

    /// For random loan-risk numbers, with or without a baseline: Reject iff some gate
    /// failed; NeedsReview iff none failed and something asked for review.
    #[test]
    fn outcome_follows_from_results(
        overall in proptest::array::uniform5(0.0f64..500.0),
        regions in proptest::array::uniform3(0.7f64..0.95),
        with_baseline in any::<bool>(),
    ) {
        let candidate = loan_run("cand", overall, regions);
        let baseline = production();
        let baseline = with_baseline.then_some(&baseline);
        let e = evaluate(&loan_risk(), &candidate, baseline, now());
        let failed = e.gates.iter().any(|g| g.verdict == Verdict::Fail);
        let review = e.gates.iter().any(|g| g.verdict == Verdict::Review)
            || e.reviews.iter().any(|r| r.triggered);
        let expect = if failed { Outcome::Reject } else if review { Outcome::NeedsReview } else { Outcome::Promote };
        prop_assert_eq!(e.outcome, expect);
        prop_assert_eq!(&e, &evaluate(&loan_risk(), &candidate, baseline, now()));
        for g in &e.gates {
            if g.verdict == Verdict::Fail {
                let gate = loan_risk().gates().iter().find(|p| p.name() == g.gate).unwrap().reason().to_owned();
                prop_assert!(g.reason.ends_with(&gate), "{}", g.reason);
            }
        }
    }
}
