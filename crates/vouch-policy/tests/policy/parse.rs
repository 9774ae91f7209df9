//! Parsing: what is accepted, and for every rule a refused policy with the exact line,
//! column and message.

use vouch_policy::{
    BaselineMissing, GateCheck, GateKind, Policy, ReviewWhen, SegmentSelection, Tolerance,
};

/// Two lines every case starts with, so gate tables begin on line 3.
const HEAD: &str = "model = \"m\"\nversion = \"1\"\n";

/// `expect` is `ok`, or the error's Display (`line L, column C: message`).
#[track_caller]
fn check(policy: &str, expect: &str) {
    match Policy::parse(policy) {
        Ok(_) => assert_eq!("ok", expect, "\n--- policy ---\n{policy}"),
        Err(e) => {
            // The accessors and Display agree.
            match (e.line(), e.column()) {
                (Some(l), Some(c)) => {
                    assert_eq!(
                        e.to_string(),
                        format!("line {l}, column {c}: {}", e.message())
                    )
                }
                (None, None) => assert_eq!(e.to_string(), e.message()),
                other => panic!("line and column come together: {other:?}"),
            }
            assert_eq!(e.to_string(), expect, "\n--- policy ---\n{policy}");
        }
    }
}

/// A gate table after `HEAD`.
#[track_caller]
fn check_gate(body: &str, expect: &str) {
    check(
        &format!("{HEAD}[[gate]]\nname = \"g\"\nreason = \"r\"\n{body}"),
        expect,
    );
}

/// A review table after `HEAD`.
#[track_caller]
fn check_review(body: &str, expect: &str) {
    check(
        &format!("{HEAD}[[review]]\nname = \"v\"\nreason = \"r\"\n{body}"),
        expect,
    );
}

#[test]
fn accepts_every_kind() {
    check_gate("metric = \"auc\"\nmin = 0.8", "ok");
    check_gate("metric = \"auc\"\nmax = 1", "ok");
    check_gate("metric = \"auc\"\nmin = 0.8\nmax = 0.8", "ok");
    check_gate(
        "metric = \"auc\"\nsegment = \"region=EU,age=18-25\"\nmin = 0.8",
        "ok",
    );
    check_gate(
        "metric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0",
        "ok",
    );
    check_gate(
        "metric = \"p95\"\ncompare = \"baseline\"\nmax_rise_pct = 10",
        "ok",
    );
    check_gate("metric = \"auc\"\nsegments = \"all\"\nmin = 0.8", "ok");
    check_gate("metric = \"auc\"\nsegments = [\"region=EU\"]\ncompare = \"baseline\"\nmax_drop_pct = 2\nmin = 0.7\nmax = 1", "ok");
    check_gate(
        "require_artifacts = [\"model.bin\", \"tokenizer.json\"]",
        "ok",
    );
    check_gate("dataset = \"train\"", "ok");
    check_gate(
        "dataset = \"test\"\nmax_snapshot_age_days = 0\nmax_label_lag_days = 14",
        "ok",
    );
    check_review("when = \"first_release\"", "ok");
    check_review("when = \"always\"", "ok");
    check_review(
        "when = \"metric\"\nmetric = \"gap\"\nsegment = \"region=EU\"\nmin = 0\nmax = 0.08",
        "ok",
    );
    check_review(
        "when = \"segment_regression\"\nmetric = \"auc\"\nabove = 0.01",
        "ok",
    );
    // Inline tables and arrays of them are TOML too.
    check(
        &format!("{HEAD}gate = [{{ name = \"g\", metric = \"a\", min = 1, reason = \"r\" }}]"),
        "ok",
    );
    // A policy of review rules only is a policy.
    check(&format!("{HEAD}description = \"d\"\n[baseline]\nmissing = \"fail\"\n[[review]]\nname = \"v\"\nwhen = \"always\"\nreason = \"r\"\n"), "ok");
}

#[test]
fn reads_back_what_it_parsed() {
    let p = Policy::parse(
        "model = \"loan-risk\"\nversion = \"2026.11-1\"\ndescription = \"d\"\n\
         [baseline]\nmissing = \"pass\"\n\
         [[gate]]\nname = \"seg\"\nmetric = \"auc\"\nsegments = [\"region=US\", \"region=EU\"]\ncompare = \"baseline\"\nmax_drop = 0.02\nreason = \"r1\"\n\
         [[gate]]\nname = \"fresh\"\ndataset = \"validation\"\nmax_label_lag_days = 14\nreason = \"r2\"\n\
         [[review]]\nname = \"reg\"\nwhen = \"segment_regression\"\nmetric = \"auc\"\nabove = 0.01\nreason = \"r3\"\n",
    )
    .unwrap();
    assert_eq!(p.model().as_str(), "loan-risk");
    assert_eq!(p.version(), "2026.11-1");
    assert_eq!(p.description(), Some("d"));
    assert_eq!(p.baseline_missing(), BaselineMissing::Pass);
    let [seg, fresh] = p.gates() else {
        panic!("two gates")
    };
    assert_eq!(
        (seg.name(), seg.reason(), seg.kind()),
        ("seg", "r1", GateKind::Segments)
    );
    match seg.check() {
        GateCheck::Segments {
            metric,
            segments: SegmentSelection::Listed(list),
            tolerance,
            bounds,
        } => {
            assert_eq!(metric.as_str(), "auc");
            // Listed segments come back sorted.
            let list: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
            assert_eq!(list, ["region=EU", "region=US"]);
            assert_eq!(*tolerance, Some(Tolerance::MaxDrop(0.02)));
            assert_eq!(*bounds, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fresh.kind(), GateKind::Dataset);
    match fresh.check() {
        GateCheck::Dataset {
            role,
            max_snapshot_age_days,
            max_label_lag_days,
        } => {
            assert_eq!(role.as_str(), "validation");
            assert_eq!(
                (*max_snapshot_age_days, *max_label_lag_days),
                (None, Some(14))
            );
        }
        other => panic!("{other:?}"),
    }
    let [reg] = p.reviews() else {
        panic!("one review")
    };
    assert_eq!((reg.name(), reg.reason()), ("reg", "r3"));
    assert!(matches!(reg.when(), ReviewWhen::SegmentRegression { above, .. } if *above == 0.01));
    // Without a [baseline] table, a missing baseline asks for review.
    let p = Policy::parse(&format!(
        "{HEAD}[[review]]\nname = \"v\"\nwhen = \"always\"\nreason = \"r\"\n"
    ))
    .unwrap();
    assert_eq!(p.baseline_missing(), BaselineMissing::Review);
    assert_eq!(p.description(), None);
}

#[test]
fn refuses_bad_toml_and_bad_types() {
    check(
        "model = \"m\"\nversion = \n",
        "line 2, column 11: string values must be quoted, expected literal string",
    );
    check(
        "model = \"m\"\nversion = \"1\"\n[[gate]\n",
        "line 3, column 8: unclosed array table, expected `]`",
    );
    check(
        "model = \"m\"\nmodel = \"n\"\n",
        "line 2, column 1: duplicate key",
    );
    check(
        "version = \"1\"\n",
        "line 1, column 1: missing field `model`",
    );
    check(
        "model = 3\nversion = \"1\"\n",
        "line 1, column 9: invalid type: integer `3`, expected a string",
    );
    check(
        &format!("{HEAD}gate = 1\n"),
        "line 3, column 8: invalid type: integer `1`, expected a sequence",
    );
    check_gate(
        "metric = \"auc\"\nmin = \"high\"",
        "line 7, column 7: invalid type: string \"high\", expected f64",
    );
    check_gate(
        "dataset = \"train\"\nmax_snapshot_age_days = 1.5",
        "line 7, column 25: invalid type: floating point `1.5`, expected i64",
    );
    check_gate(
        "metric = \"auc\"\nsegments = 3\nmin = 1",
        "line 7, column 12: invalid type: integer `3`, expected \"all\" or a list of segments",
    );
    check_gate(
        "require_artifacts = \"model.bin\"",
        "line 6, column 21: invalid type: string \"model.bin\", expected a sequence",
    );
    check(
        &format!("{HEAD}[baseline]\nmissing = \"maybe\"\n"),
        "line 4, column 11: unknown variant `maybe`, expected one of `pass`, `fail`, `review`",
    );
}

#[test]
fn refuses_unknown_keys_everywhere() {
    check("model = \"m\"\nversion = \"1\"\nowner = \"x\"\n", "line 3, column 1: unknown field `owner`, expected one of `model`, `version`, `description`, `baseline`, `approval`, `gate`, `review`");
    check(
        &format!("{HEAD}[baseline]\nmising = \"pass\"\n"),
        "line 4, column 1: unknown field `mising`, expected `missing`",
    );
    check_gate("metric = \"auc\"\nmin = 1\nminimum = 2", "line 8, column 1: unknown field `minimum`, expected one of `name`, `reason`, `metric`, `segment`, `segments`, `min`, `max`, `compare`, `max_drop`, `max_drop_pct`, `max_rise`, `max_rise_pct`, `require_artifacts`, `dataset`, `max_snapshot_age_days`, `max_label_lag_days`");
    check_review("when = \"always\"\nseverity = 1", "line 7, column 1: unknown field `severity`, expected one of `name`, `reason`, `when`, `metric`, `segment`, `min`, `max`, `above`");
    check(&format!("{HEAD}[[gates]]\nname = \"g\"\n"), "line 3, column 3: unknown field `gates`, expected one of `model`, `version`, `description`, `baseline`, `approval`, `gate`, `review`");
}

#[test]
fn refuses_bad_headers() {
    check("model = \"loan risk\"\nversion = \"1\"\n", "line 1, column 9: invalid model name `loan risk`: 1 to 128 characters of A-Z a-z 0-9 _ -, starting with a letter or digit");
    check(
        "model = \"m\"\nversion = \"\"\n",
        "line 2, column 11: version must be 1 to 64 characters, without control characters",
    );
    check(
        &format!("model = \"m\"\nversion = \"{}\"\n", "v".repeat(65)),
        "line 2, column 11: version must be 1 to 64 characters, without control characters",
    );
    check(
        "model = \"m\"\nversion = \"1\\n2\"\n",
        "line 2, column 11: version must be 1 to 64 characters, without control characters",
    );
    check(&format!("model = \"m\"\nversion = \"{}\"\n[[review]]\nname = \"v\"\nwhen = \"always\"\nreason = \"r\"\n", "é".repeat(64)), "ok");
    check(
        HEAD,
        "the policy has no [[gate]] and no [[review]]: it would promote anything",
    );
    check(
        &format!("{HEAD}[baseline]\nmissing = \"pass\"\n"),
        "the policy has no [[gate]] and no [[review]]: it would promote anything",
    );
}

#[test]
fn refuses_bad_names_and_reasons() {
    check(
        &format!(
            "{HEAD}[[gate]]\nname = \"auc floor\"\nreason = \"r\"\nmetric = \"auc\"\nmin = 1\n"
        ),
        "line 4, column 8: gate name `auc floor` must be 1 to 64 characters of A-Z a-z 0-9 _ -",
    );
    check(
        &format!("{HEAD}[[gate]]\nname = \"\"\nreason = \"r\"\nmetric = \"auc\"\nmin = 1\n"),
        "line 4, column 8: gate name `` must be 1 to 64 characters of A-Z a-z 0-9 _ -",
    );
    check(
        &format!(
            "{HEAD}[[gate]]\nname = \"{}\"\nreason = \"r\"\nmetric = \"auc\"\nmin = 1\n",
            "g".repeat(65)
        ),
        &format!(
            "line 4, column 8: gate name `{}` must be 1 to 64 characters of A-Z a-z 0-9 _ -",
            "g".repeat(65)
        ),
    );
    check(
        &format!("{HEAD}[[gate]]\nname = \"g\"\nreason = \"  \"\nmetric = \"auc\"\nmin = 1\n"),
        "line 5, column 10: gate `g`: reason must not be empty: say why the gate exists",
    );
    check(
        &format!("{HEAD}[[gate]]\nname = \"g\"\nmetric = \"auc\"\nmin = 1\n"),
        "line 3, column 1: missing field `reason`",
    );
    check(
        &format!("{HEAD}[[review]]\nname = \"v.1\"\nwhen = \"always\"\nreason = \"r\"\n"),
        "line 4, column 8: review name `v.1` must be 1 to 64 characters of A-Z a-z 0-9 _ -",
    );
    check(
        &format!("{HEAD}[[review]]\nname = \"v\"\nreason = \"r\"\n"),
        "line 3, column 1: missing field `when`",
    );
    // One namespace for gates and review rules.
    let gate = "[[gate]]\nname = \"g\"\nmetric = \"a\"\nmin = 1\nreason = \"r\"\n";
    check(&format!("{HEAD}{gate}{gate}"), "line 9, column 8: duplicate name `g`: a gate already uses it (gate and review names must be unique)");
    check(&format!("{HEAD}{gate}[[review]]\nname = \"g\"\nwhen = \"always\"\nreason = \"r\"\n"), "line 9, column 8: duplicate name `g`: a gate already uses it (gate and review names must be unique)");
}

#[test]
fn refuses_gates_of_no_kind_or_two_kinds() {
    check_gate("", "line 3, column 1: gate `g`: nothing to check: set metric (with min/max, compare or segments), require_artifacts, or dataset");
    check_gate("metric = \"auc\"\nmin = 1\nrequire_artifacts = [\"m\"]", "line 8, column 21: gate `g`: mixes a metric check (metric) with an artifact check (require_artifacts): write them as two gates");
    check_gate("dataset = \"validation\"\nmax = 1", "line 7, column 7: gate `g`: mixes a dataset check (dataset) with a metric check (max): write them as two gates");
    check_gate("max_label_lag_days = 3\nrequire_artifacts = [\"m\"]", "line 7, column 21: gate `g`: mixes a dataset check (max_label_lag_days) with an artifact check (require_artifacts): write them as two gates");
}

#[test]
fn refuses_bad_metric_gates() {
    check_gate("min = 1", "line 3, column 1: gate `g`: metric is required");
    check_gate("metric = \"a b\"\nmin = 1", "line 6, column 10: gate `g`: invalid name `a b`: 1 to 250 characters of A-Z a-z 0-9 _ . : / -");
    check_gate(
        "metric = \"auc\"",
        "line 6, column 10: gate `g`: set min, max or both",
    );
    check_gate(
        "metric = \"auc\"\nmin = 0.9\nmax = 0.8",
        "line 8, column 7: gate `g`: min 0.9 is greater than max 0.8",
    );
    check_gate(
        "metric = \"auc\"\nmin = nan",
        "line 7, column 7: gate `g`: min must be a finite number, not NaN",
    );
    check_gate(
        "metric = \"auc\"\nmax = inf",
        "line 7, column 7: gate `g`: max must be a finite number, not inf",
    );
    check_gate(
        "metric = \"auc\"\nmax = -inf",
        "line 7, column 7: gate `g`: max must be a finite number, not -inf",
    );
    check_gate("metric = \"auc\"\nsegment = \"EU\"\nmin = 1", "line 7, column 11: gate `g`: invalid segment `EU`: dim=value pairs joined by `,`; dims are names, values 1 to 100 characters without `=` `,` or control characters");
    // Baseline comparisons.
    check_gate(
        "metric = \"auc\"\ncompare = \"baseline\"",
        "line 7, column 11: gate `g`: set one of max_drop, max_drop_pct, max_rise, max_rise_pct",
    );
    check_gate(
        "metric = \"auc\"\ncompare = \"production\"\nmax_drop = 1",
        "line 7, column 11: gate `g`: compare must be \"baseline\", not \"production\"",
    );
    check_gate("metric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0.1\nmax_rise = 0.1", "line 9, column 12: gate `g`: set only one of max_drop, max_drop_pct, max_rise, max_rise_pct (found max_drop and max_rise)");
    check_gate(
        "metric = \"auc\"\ncompare = \"baseline\"\nmax_drop = -0.1",
        "line 8, column 12: gate `g`: max_drop must not be negative (it is a tolerance)",
    );
    check_gate(
        "metric = \"auc\"\ncompare = \"baseline\"\nmax_rise_pct = nan",
        "line 8, column 16: gate `g`: max_rise_pct must be a finite number, not NaN",
    );
    check_gate("metric = \"auc\"\nmax_drop = 0.1", "line 7, column 12: gate `g`: max_drop compares with the baseline: add compare = \"baseline\"");
    check_gate("metric = \"auc\"\nmin = 0.8\nmax_drop = 0.1", "line 8, column 12: gate `g`: max_drop compares with the baseline: add compare = \"baseline\"");
    check_gate("metric = \"auc\"\ncompare = \"baseline\"\nmax_drop = 0.1\nmin = 0.8", "line 9, column 7: gate `g`: min is an absolute bound and compare a baseline comparison: write two gates, or use segments");
    check_gate("metric = \"auc\"\nsegment = \"region=EU\"\ncompare = \"baseline\"\nmax_drop = 0.1", "line 7, column 11: gate `g`: to compare one segment with the baseline, write segments = [\"region=EU\"]");
    // Segment gates.
    check_gate("metric = \"auc\"\nsegments = \"all\"", "line 7, column 12: gate `g`: segments needs compare = \"baseline\" with a tolerance, or min/max, or both");
    check_gate("metric = \"auc\"\nsegments = \"every\"\nmin = 1", "line 7, column 12: gate `g`: segments must be \"all\" or a list like [\"region=EU\"], not \"every\"");
    check_gate(
        "metric = \"auc\"\nsegments = []\nmin = 1",
        "line 7, column 12: gate `g`: segments lists no segment: name some, or write \"all\"",
    );
    check_gate("metric = \"auc\"\nsegments = [\"region=EU\", \"EU\"]\nmin = 1", "line 7, column 26: gate `g`: invalid segment `EU`: dim=value pairs joined by `,`; dims are names, values 1 to 100 characters without `=` `,` or control characters");
    check_gate(
        "metric = \"auc\"\nsegments = [\"region=EU\", \"region=EU\"]\nmin = 1",
        "line 7, column 26: gate `g`: segment `region=EU` is listed twice",
    );
    check_gate(
        "metric = \"auc\"\nsegments = [1]\nmin = 1",
        "line 7, column 13: invalid type: integer `1`, expected a string",
    );
    check_gate(
        "metric = \"auc\"\nsegment = \"region=EU\"\nsegments = \"all\"\nmin = 1",
        "line 7, column 11: gate `g`: set segment (one segment) or segments (several), not both",
    );
    check_gate("metric = \"auc\"\nsegments = \"all\"\nmax_drop = 0.02", "line 8, column 12: gate `g`: max_drop compares with the baseline: add compare = \"baseline\"");
    check_gate(
        "metric = \"auc\"\nsegments = \"all\"\ncompare = \"baseline\"",
        "line 8, column 11: gate `g`: set one of max_drop, max_drop_pct, max_rise, max_rise_pct",
    );
    check_gate(
        "metric = \"auc\"\nsegments = \"all\"\nmin = 2\nmax = 1",
        "line 9, column 7: gate `g`: min 2 is greater than max 1",
    );
}

#[test]
fn refuses_bad_evidence_gates() {
    check_gate(
        "require_artifacts = []",
        "line 6, column 21: gate `g`: require_artifacts must name at least one artifact",
    );
    check_gate(
        "require_artifacts = [\"a\", \"\"]",
        "line 6, column 27: gate `g`: an artifact name must not be empty",
    );
    check_gate(
        "require_artifacts = [\"a\", \"a\"]",
        "line 6, column 27: gate `g`: artifact `a` is listed twice",
    );
    check_gate(
        "dataset = \"holdout\"",
        "line 6, column 11: gate `g`: dataset must be train, validation or test, not \"holdout\"",
    );
    check_gate(
        "max_snapshot_age_days = 3",
        "line 3, column 1: gate `g`: dataset is required (train, validation or test)",
    );
    check_gate(
        "dataset = \"validation\"\nmax_snapshot_age_days = -1",
        "line 7, column 25: gate `g`: max_snapshot_age_days must not be negative",
    );
    check_gate(
        "dataset = \"validation\"\nmax_label_lag_days = -14",
        "line 7, column 22: gate `g`: max_label_lag_days must not be negative",
    );
    check_gate(
        "dataset = \"validation\"\nmax_label_lag_days = 5000000000",
        "line 7, column 22: gate `g`: max_label_lag_days is too large",
    );
}

#[test]
fn refuses_bad_review_rules() {
    check_review("when = \"sometimes\"", "line 6, column 8: review `v`: when must be first_release, always, metric or segment_regression, not \"sometimes\"");
    check_review(
        "when = \"always\"\nmetric = \"auc\"",
        "line 7, column 10: review `v`: when = \"always\" takes no metric",
    );
    check_review(
        "when = \"first_release\"\nabove = 1",
        "line 7, column 9: review `v`: when = \"first_release\" takes no above",
    );
    check_review(
        "when = \"metric\"\nmax = 1",
        "line 6, column 8: review `v`: when = \"metric\" needs a metric",
    );
    check_review(
        "when = \"metric\"\nmetric = \"gap\"",
        "line 6, column 8: review `v`: when = \"metric\" needs min, max or both",
    );
    check_review(
        "when = \"metric\"\nmetric = \"gap\"\nmin = 1\nmax = 0",
        "line 9, column 7: review `v`: min 1 is greater than max 0",
    );
    check_review(
        "when = \"metric\"\nmetric = \"gap\"\nmax = 0.08\nabove = 1",
        "line 9, column 9: review `v`: when = \"metric\" takes no above",
    );
    check_review("when = \"metric\"\nmetric = \"gap\"\nsegment = \"x\"\nmax = 1", "line 8, column 11: review `v`: invalid segment `x`: dim=value pairs joined by `,`; dims are names, values 1 to 100 characters without `=` `,` or control characters");
    check_review("when = \"segment_regression\"\nmetric = \"auc\"", "line 6, column 8: review `v`: when = \"segment_regression\" needs above (the largest drop that needs no review)");
    check_review(
        "when = \"segment_regression\"\nabove = 0.01",
        "line 6, column 8: review `v`: when = \"segment_regression\" needs a metric",
    );
    check_review(
        "when = \"segment_regression\"\nmetric = \"auc\"\nabove = -0.01",
        "line 8, column 9: review `v`: above must not be negative",
    );
    check_review(
        "when = \"segment_regression\"\nmetric = \"auc\"\nabove = inf",
        "line 8, column 9: review `v`: above must be a finite number, not inf",
    );
    check_review(
        "when = \"segment_regression\"\nmetric = \"auc\"\nabove = 0.01\nmax = 1",
        "line 9, column 7: review `v`: when = \"segment_regression\" takes no max",
    );
}

#[test]
fn the_checked_in_policies_parse() {
    for (file, text) in [
        (
            "loan-risk.toml",
            include_str!("../../policies/loan-risk.toml"),
        ),
        ("fraud.toml", include_str!("../../policies/fraud.toml")),
    ] {
        if let Err(e) = Policy::parse(text) {
            panic!("{file}: {e}");
        }
    }
}

#[test]
fn approval_names_how_many_distinct_reviewers_promote() {
    let review = "[[review]]\nname = \"r\"\nwhen = \"always\"\nreason = \"x\"\n";
    let policy =
        vouch_policy::Policy::parse(&format!("{HEAD}[approval]\nreviewers = 2\n{review}")).unwrap();
    assert_eq!(policy.approval().reviewers, 2);
    let default = vouch_policy::Policy::parse(&format!("{HEAD}{review}")).unwrap();
    assert_eq!(default.approval().reviewers, 1);
    let refused =
        vouch_policy::Policy::parse(&format!("{HEAD}[approval]\nreviewers = 0\n{review}"))
            .unwrap_err()
            .to_string();
    assert!(
        refused.contains("approval.reviewers must be 1 to 16"),
        "{refused}"
    );
}

/// The directions the gates say: a one-sided bound or a tolerance says which way a metric
/// improves; two-sided bounds, artifacts and datasets say nothing; a metric said both
/// ways reads as higher-is-better.
#[test]
fn gates_say_which_way_a_metric_improves() {
    let text = format!(
        "{HEAD}{}",
        r#"
[[gate]]
name = "latency"
metric = "latency_p95_ms"
max = 200
reason = "slo"

[[gate]]
name = "auc"
metric = "auc"
compare = "baseline"
max_drop = 0.01
reason = "no regression"

[[gate]]
name = "cost"
metric = "cost"
compare = "baseline"
max_rise_pct = 5
reason = "budget"

[[gate]]
name = "band"
metric = "score"
min = 0.1
max = 0.9
reason = "sane"

[[gate]]
name = "both-a"
metric = "mixed"
max = 1
reason = "a"

[[gate]]
name = "both-b"
metric = "mixed"
min = 0
reason = "b"
"#
    );
    let policy = Policy::parse(&text).unwrap();
    let directions: Vec<(String, bool)> = policy
        .lower_is_better()
        .into_iter()
        .map(|(m, lower)| (m.to_string(), lower))
        .collect();
    assert_eq!(
        directions,
        [
            ("auc".to_owned(), false),
            ("cost".to_owned(), true),
            ("latency_p95_ms".to_owned(), true),
            ("mixed".to_owned(), false),
        ]
    );
}
