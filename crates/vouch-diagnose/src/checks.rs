//! The checks: pure functions from [`Facts`], a tolerance and a time to findings.

use std::collections::BTreeMap;

use serde_json::json;
use vouch_event::{DatasetRole, Digest, Name, Segment, Timestamp};
use vouch_views::{DeploymentEntry, LiveObservation};

use crate::finding::{CheckId, Finding, Severity};
use crate::{Facts, Version};

const NANOS_PER_HOUR: i128 = 3_600_000_000_000;
const NANOS_PER_DAY: i128 = 24 * NANOS_PER_HOUR;

/// Every check's findings, unranked.
pub(crate) fn assess(facts: &Facts, tolerance: f64, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let production = facts.production.map(|p| &facts.versions[p]);
    artifact(facts, production, &mut out);
    validation(facts, production, now, &mut out);
    let current = current_observations(facts);
    if current.is_empty() {
        out.push(no_live_observations(facts));
    } else {
        live_labels(facts, &current, now, &mut out);
        below_validation(facts, production, &current, tolerance, &mut out);
        regressions(facts, &current, tolerance, &mut out);
    }
    out
}

/// The artifact serving the environment: the deployed one, else the one the latest live
/// observation names.
fn serving(facts: &Facts) -> Option<Digest> {
    facts
        .deployment
        .as_ref()
        .map(|d| d.artifact)
        .or_else(|| latest(facts.observations.iter()).map(|o| o.artifact))
}

/// The observation of the latest window (ties: the last logged).
fn latest<'a>(
    observations: impl Iterator<Item = &'a LiveObservation>,
) -> Option<&'a LiveObservation> {
    observations.max_by_key(|o| (o.window_end, o.position))
}

/// The live observations of the serving artifact.
fn current_observations(facts: &Facts) -> Vec<&LiveObservation> {
    match serving(facts) {
        Some(artifact) => facts
            .observations
            .iter()
            .filter(|o| o.artifact == artifact)
            .collect(),
        None => Vec::new(),
    }
}

/// A metric series: a metric on a segment (`None`: overall).
type Series = (Name, Option<Segment>);

/// The latest value of every series among `observations`: by window end, then log position.
fn latest_series<'a>(
    observations: &[&'a LiveObservation],
) -> BTreeMap<Series, (&'a LiveObservation, f64)> {
    let mut ordered = observations.to_vec();
    ordered.sort_by_key(|o| (o.window_end, o.position));
    let mut out = BTreeMap::new();
    for o in ordered {
        for (metric, &value) in &o.metrics {
            out.insert((metric.clone(), o.segment.clone()), (o, value));
        }
    }
    out
}

/// How much worse `value` is than `reference`: positive when worse.
fn worse_by(reference: f64, value: f64, lower_is_better: bool) -> f64 {
    if lower_is_better {
        value - reference
    } else {
        reference - value
    }
}

fn artifact(facts: &Facts, production: Option<&Version>, out: &mut Vec<Finding>) {
    let env = &facts.env;
    let newest = latest(facts.observations.iter());
    let production_fact = match production {
        Some(p) => format!(
            "production is {} (decision #{}, run {}, decided {}): {}",
            p.version,
            p.index,
            p.run,
            p.decided_at,
            digests(&p.artifacts)
        ),
        None => format!("no version of {} was ever promoted", facts.model),
    };
    let Some(dep) = &facts.deployment else {
        if let Some(o) = newest {
            out.push(
                Finding::new(
                    CheckId::Artifact,
                    Severity::Critical,
                    format!(
                        "nothing is recorded as deployed to {env}, yet live traffic there was served by {}",
                        short(&o.artifact)
                    ),
                )
                .cause(format!("no deployment recorded in {env}"))
                .facts(vec![
                    observation_fact("latest live window", o, None),
                    production_fact,
                ])
                .evidence(json!({ "deployment": null, "live": observation_json(o, None), "production": production })),
            );
        }
        return;
    };
    let a = short(&dep.artifact);
    let approved_as = facts
        .versions
        .iter()
        .rev()
        .find(|v| v.artifacts.contains(&dep.artifact));
    let in_production = production.is_some_and(|p| p.artifacts.contains(&dep.artifact));
    let forced = match (dep.forced, &dep.reason) {
        (true, Some(reason)) => format!(" (forced: {reason})"),
        (true, None) => " (forced)".to_owned(),
        (false, _) => String::new(),
    };
    let finding = match (in_production, approved_as) {
        (true, Some(v)) if !dep.forced => Finding::new(
            CheckId::Artifact,
            Severity::Ok,
            format!(
                "{env} runs the approved artifact {a} ({}, decision #{}, run {})",
                v.version, v.index, v.run
            ),
        ),
        (true, _) => Finding::new(
            CheckId::Artifact,
            Severity::Warning,
            format!("{env} runs the approved artifact {a}, but its deployment was forced{forced}"),
        )
        .cause(format!("a forced deployment to {env}")),
        (false, Some(v)) => {
            let production = production.map_or_else(String::new, |p| {
                format!(", not the production version {} (run {})", p.version, p.run)
            });
            Finding::new(
                CheckId::Artifact,
                Severity::Warning,
                format!(
                    "{env} runs {a}, approved as {} (run {}){production}{forced}",
                    v.version, v.run
                ),
            )
            .cause(format!(
                "{env} runs {}, not the production version",
                v.version
            ))
        }
        (false, None) => Finding::new(
            CheckId::Artifact,
            Severity::Critical,
            format!("{env} runs {a}, which no decision approved{forced}"),
        )
        .cause(format!("the deployed artifact {a} was never approved")),
    };
    out.push(
        finding
            .facts(vec![deployment_fact(dep), production_fact.clone()])
            .evidence(
                json!({ "deployment": dep, "production": production, "approved_as": approved_as }),
            ),
    );
    // Live traffic after the deployment that names another artifact: the record and the
    // fleet disagree. Windows that ended before the deployment belong to its predecessor.
    if let Some(o) = newest {
        if o.artifact != dep.artifact && o.window_end > dep.time {
            out.push(
                Finding::new(
                    CheckId::Artifact,
                    Severity::Critical,
                    format!(
                        "live traffic in {env} up to {} was served by {}, not the deployed {a}",
                        o.window_end,
                        short(&o.artifact)
                    ),
                )
                .cause(format!(
                    "live traffic served by {}, not the deployed artifact",
                    short(&o.artifact)
                ))
                .facts(vec![
                    observation_fact("latest live window", o, None),
                    deployment_fact(dep),
                ])
                .evidence(json!({ "deployment": dep, "live": observation_json(o, None) })),
            );
        }
    }
}

fn validation(facts: &Facts, production: Option<&Version>, now: Timestamp, out: &mut Vec<Finding>) {
    let (Some(p), Some(doc)) = (production, &facts.validated) else {
        out.push(Finding::new(
            CheckId::ValidationAge,
            Severity::Unknown,
            format!(
                "no version of {} was ever promoted: there is no validation evidence to check",
                facts.model
            ),
        ));
        return;
    };
    let datasets: Vec<_> = doc
        .datasets
        .iter()
        .filter(|d| d.role == DatasetRole::Validation)
        .collect();
    if datasets.is_empty() {
        out.push(Finding::new(
            CheckId::ValidationAge,
            Severity::Unknown,
            format!(
                "production run {} ({}) bound no validation dataset: how fresh its validation was is unknown",
                p.run, p.version
            ),
        ));
        return;
    }
    let limits = &facts.limits;
    let decided = p.decided_at;
    for d in datasets {
        let which = format!("validation dataset {}", d.name);
        let read_by = format!(
            "{} {} ({} rows, position {}), read by decision #{} ({}, run {}) decided {}",
            d.name, d.digest, d.rows, d.position, p.index, p.version, p.run, decided
        );
        let limit_text = |days: u32| format!("limit {days} days, {}", limits.source);
        match d.snapshot_at {
            None => out.push(
                Finding::new(
                    CheckId::ValidationAge,
                    Severity::Unknown,
                    format!("{which} has no snapshot_at: its age is unknown"),
                )
                .facts(vec![read_by.clone()]),
            ),
            Some(at) => {
                let then = between(at, decided);
                let age_now = between(at, now);
                let limit = days(limits.max_snapshot_age_days);
                let lt = limit_text(limits.max_snapshot_age_days);
                let finding = if then > limit {
                    Finding::new(
                        CheckId::ValidationAge,
                        Severity::Critical,
                        format!(
                            "{which} was already {} old when decision #{} was made ({lt})",
                            span(then),
                            p.index
                        ),
                    )
                    .cause(format!(
                        "validation data {} old at the decision",
                        span(then)
                    ))
                } else if age_now > limit {
                    Finding::new(
                        CheckId::ValidationAge,
                        Severity::Warning,
                        format!(
                            "{which} is now {} old ({lt}): live traffic may have moved on from what was validated",
                            span(age_now)
                        ),
                    )
                    .cause(format!("validation data {} old", span(age_now)))
                } else {
                    Finding::new(
                        CheckId::ValidationAge,
                        Severity::Ok,
                        format!(
                            "{which} was {} old at the decision and is {} old now ({lt})",
                            span(then),
                            span(age_now)
                        ),
                    )
                };
                out.push(
                    finding
                        .facts(vec![format!("snapshot taken {at}"), read_by.clone()])
                        .evidence(json!({
                            "dataset": d,
                            "decided_at": decided,
                            "age_at_decision_days": in_days(then),
                            "age_now_days": in_days(age_now),
                            "limit_days": limits.max_snapshot_age_days,
                            "limit_source": limits.source,
                        }))
                        .weight(in_days(age_now)),
                );
            }
        }
        match d.labels_through {
            None => out.push(
                Finding::new(
                    CheckId::LabelLag,
                    Severity::Unknown,
                    format!("{which} has no labels_through: how far its labels lagged is unknown"),
                )
                .facts(vec![read_by]),
            ),
            Some(at) => {
                let lag = between(at, decided);
                let lt = limit_text(limits.max_label_lag_days);
                let finding = if lag > days(limits.max_label_lag_days) {
                    Finding::new(
                        CheckId::LabelLag,
                        Severity::Critical,
                        format!(
                            "{which}'s labels lagged decision #{} by {} ({lt})",
                            p.index,
                            span(lag)
                        ),
                    )
                    .cause(format!(
                        "validation labels {} behind at the decision",
                        span(lag)
                    ))
                } else {
                    Finding::new(
                        CheckId::LabelLag,
                        Severity::Ok,
                        format!(
                            "{which}'s labels lagged decision #{} by {} ({lt})",
                            p.index,
                            span(lag)
                        ),
                    )
                };
                out.push(
                    finding
                        .facts(vec![format!("labels through {at}"), read_by])
                        .evidence(json!({
                            "dataset": d,
                            "decided_at": decided,
                            "lag_at_decision_days": in_days(lag),
                            "limit_days": limits.max_label_lag_days,
                            "limit_source": limits.source,
                        }))
                        .weight(in_days(lag)),
                );
            }
        }
    }
}

fn no_live_observations(facts: &Facts) -> Finding {
    let artifact = serving(facts);
    let digest = artifact.map_or_else(|| "blake3:…".to_owned(), |d| d.to_string());
    let mut lines = vec![format!(
        "publish them: vouch log live --model {} --env {} --artifact {digest} --window-start T --window-end T --labels-through T [--segment region=EU] auc=…",
        facts.model, facts.env
    )];
    if !facts.observations.is_empty() {
        lines.push(format!(
            "{} live observation(s) in {} name other artifacts",
            facts.observations.len(),
            facts.env
        ));
    }
    Finding::new(
        CheckId::LiveObservations,
        Severity::Unknown,
        format!(
            "no live metrics observed for the deployed artifact {} in {}: publish live_metrics_observed events for it (metrics per segment, with the labels' arrival time)",
            artifact.as_ref().map_or_else(|| "?".to_owned(), short),
            facts.env
        ),
    )
    .facts(lines)
    .evidence(json!({ "artifact": artifact, "observations_in_env": facts.observations.len() }))
}

fn live_labels(
    facts: &Facts,
    current: &[&LiveObservation],
    now: Timestamp,
    out: &mut Vec<Finding>,
) {
    let Some(end) = current.iter().map(|o| o.window_end).max() else {
        return;
    };
    // Of the latest window's observations, the one whose labels lag most.
    let Some(worst) = current
        .iter()
        .filter(|o| o.window_end == end)
        .min_by_key(|o| (o.labels_through, o.position))
    else {
        return;
    };
    let lag = between(worst.labels_through, now);
    let unlabelled = between(worst.labels_through, worst.window_end);
    let limits = &facts.limits;
    let window = format!("{} → {}", worst.window_start, worst.window_end);
    let (severity, title) = if unlabelled > 0 {
        (
            Severity::Warning,
            format!(
                "live labels are {} behind: the latest window ({window}) is labelled only through {}, so its last {} rest on partial labels",
                span(lag),
                worst.labels_through,
                span(unlabelled)
            ),
        )
    } else if lag > days(limits.max_label_lag_days) {
        (
            Severity::Warning,
            format!(
                "live labels are {} behind (limit {} days, {}): recent traffic is not measured yet",
                span(lag),
                limits.max_label_lag_days,
                limits.source
            ),
        )
    } else {
        (
            Severity::Ok,
            format!(
                "live labels are {} behind and cover the latest window ({window})",
                span(lag)
            ),
        )
    };
    let mut finding = Finding::new(CheckId::LabelLag, severity, title)
        .facts(vec![observation_fact("latest live window", worst, None)])
        .evidence(json!({
            "live": observation_json(worst, None),
            "lag_now_days": in_days(lag),
            "unlabelled_days": in_days(unlabelled.max(0)),
            "limit_days": limits.max_label_lag_days,
            "limit_source": limits.source,
        }))
        .weight(in_days(lag));
    if severity == Severity::Warning {
        finding = finding.cause(format!("labels {} behind", span(lag)));
    }
    out.push(finding);
}

fn below_validation(
    facts: &Facts,
    production: Option<&Version>,
    current: &[&LiveObservation],
    tolerance: f64,
    out: &mut Vec<Finding>,
) {
    let (Some(p), Some(doc)) = (production, &facts.validated) else {
        return;
    };
    let mut fine = Vec::new();
    let mut unmatched = Vec::new();
    for ((metric, segment), (o, value)) in latest_series(current) {
        let label = series(&metric, segment.as_ref());
        let Some(promised) = doc.metric(&metric, segment.as_ref()) else {
            unmatched.push(format!("{label}: live {}", num(value)));
            continue;
        };
        let lower = facts.lower_is_better.contains(&metric);
        let drop = worse_by(promised.value, value, lower);
        let validated = format!(
            "validated {} by run {} at position {} (decision #{}, {})",
            num(promised.value),
            doc.run,
            promised.position,
            p.index,
            p.version
        );
        if drop <= tolerance {
            fine.push(format!(
                "{label}: live {} vs validated {}",
                num(value),
                num(promised.value)
            ));
            continue;
        }
        let severity = if drop > 2.0 * tolerance {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let (direction, side) = if lower {
            ("above", "worse than")
        } else {
            ("below", "below")
        };
        out.push(
            Finding::new(
                CheckId::SegmentBelowValidation,
                severity,
                format!(
                    "{label} live {} is {} {direction} the {} validation promised (tolerance {})",
                    num(value),
                    num(drop),
                    num(promised.value),
                    num(tolerance)
                ),
            )
            .series(&metric, segment.as_ref())
            .cause(format!(
                "{} {side} validation ({metric} {} vs {})",
                place(segment.as_ref()),
                num(value),
                num(promised.value)
            ))
            .facts(vec![observation_fact("live", o, Some(value)), validated])
            .evidence(json!({
                "live": observation_json(o, Some(value)),
                "validation": {
                    "value": promised.value,
                    "run": doc.run,
                    "position": promised.position,
                    "decision": p.index,
                },
                "drop": drop,
                "tolerance": tolerance,
                "lower_is_better": lower,
            }))
            .weight(drop / tolerance.max(f64::EPSILON)),
        );
    }
    if !fine.is_empty() {
        out.push(
            Finding::new(
                CheckId::SegmentBelowValidation,
                Severity::Ok,
                format!(
                    "{} live series within {} of what validation promised",
                    fine.len(),
                    num(tolerance)
                ),
            )
            .facts(fine),
        );
    }
    if !unmatched.is_empty() {
        out.push(
            Finding::new(
                CheckId::SegmentBelowValidation,
                Severity::Unknown,
                format!(
                    "run {} logged no validation value for {} live series: nothing to compare them with",
                    doc.run,
                    unmatched.len()
                ),
            )
            .facts(unmatched),
        );
    }
}

fn regressions(
    facts: &Facts,
    current: &[&LiveObservation],
    tolerance: f64,
    out: &mut Vec<Finding>,
) {
    let Some(index) = facts.production else {
        return;
    };
    let production = &facts.versions[index];
    let Some(previous) = index.checked_sub(1).map(|i| &facts.versions[i]) else {
        out.push(Finding::new(
            CheckId::SegmentRegressed,
            Severity::Unknown,
            format!(
                "{} (run {}) is {}'s first production version: there is no previous version to compare live values with",
                production.version, production.run, facts.model
            ),
        ));
        return;
    };
    let serving = current[0].artifact;
    if previous.artifacts.contains(&serving) {
        out.push(Finding::new(
            CheckId::SegmentRegressed,
            Severity::Unknown,
            format!(
                "the serving artifact {} is the previous version's ({}): there is nothing older to compare it with",
                short(&serving),
                previous.version
            ),
        ));
        return;
    }
    let before: Vec<&LiveObservation> = facts
        .observations
        .iter()
        .filter(|o| previous.artifacts.contains(&o.artifact))
        .collect();
    if before.is_empty() {
        out.push(
            Finding::new(
                CheckId::SegmentRegressed,
                Severity::Unknown,
                format!(
                    "no live observations of the previous production version {} (run {}) in {}: nothing to compare the live values with",
                    previous.version, previous.run, facts.env
                ),
            )
            .facts(vec![format!("its artifacts: {}", digests(&previous.artifacts))]),
        );
        return;
    }
    let now = latest_series(current);
    let then = latest_series(&before);
    // The overall values first: a segment's regression reads differently when the overall
    // value held.
    let mut overall: BTreeMap<&Name, (f64, f64, f64)> = BTreeMap::new();
    let mut fine = Vec::new();
    for ((metric, segment), (o, value)) in &now {
        if segment.is_some() {
            continue;
        }
        let Some((po, old)) = then.get(&(metric.clone(), None)) else {
            continue;
        };
        let drop = worse_by(*old, *value, facts.lower_is_better.contains(metric));
        overall.insert(metric, (drop, *value, *old));
        if drop <= tolerance {
            fine.push(format!(
                "{metric} overall: {} live vs {} on {}",
                num(*value),
                num(*old),
                previous.version
            ));
            continue;
        }
        out.push(
            Finding::new(
                CheckId::OverallRegressed,
                Severity::Critical,
                format!(
                    "{metric} regressed overall: {} live vs {} on the previous version {} ({} worse, tolerance {})",
                    num(*value),
                    num(*old),
                    previous.version,
                    num(drop),
                    num(tolerance)
                ),
            )
            .series(metric, None)
            .cause(format!(
                "{metric} regressed overall ({} vs {} on {})",
                num(*value),
                num(*old),
                previous.version
            ))
            .compared(
                (production, o, *value),
                (previous, po, *old),
                drop,
                tolerance,
            ),
        );
    }
    for ((metric, segment), (o, value)) in &now {
        let Some(segment) = segment else { continue };
        let Some((po, old)) = then.get(&(metric.clone(), Some(segment.clone()))) else {
            continue;
        };
        let drop = worse_by(*old, *value, facts.lower_is_better.contains(metric));
        let label = series(metric, Some(segment));
        if drop <= tolerance {
            fine.push(format!(
                "{label}: {} live vs {} on {}",
                num(*value),
                num(*old),
                previous.version
            ));
            continue;
        }
        let context = match overall.get(metric) {
            Some((d, v, old)) if *d <= tolerance => {
                format!("while overall {metric} held ({} vs {})", num(*v), num(*old))
            }
            Some(_) => "along with the overall value".to_owned(),
            None => "(no overall value to compare)".to_owned(),
        };
        out.push(
            Finding::new(
                CheckId::SegmentRegressed,
                Severity::Critical,
                format!(
                    "{label} regressed: {} live vs {} on the previous version {} ({} worse) {context}",
                    num(*value),
                    num(*old),
                    previous.version,
                    num(drop)
                ),
            )
            .series(metric, Some(segment))
            .cause(format!(
                "segment {segment} regressed ({metric} {} vs {} on {})",
                num(*value),
                num(*old),
                previous.version
            ))
            .compared(
                (production, o, *value),
                (previous, po, *old),
                drop,
                tolerance,
            ),
        );
    }
    if !fine.is_empty() {
        out.push(
            Finding::new(
                CheckId::SegmentRegressed,
                Severity::Ok,
                format!(
                    "{} live series held within {} of the previous version {}",
                    fine.len(),
                    num(tolerance),
                    previous.version
                ),
            )
            .facts(fine),
        );
    }
}

impl Finding {
    /// Adds what a live-against-live regression rests on: both observations as facts and
    /// evidence, the drop, and a weight growing with the drop.
    fn compared(
        self,
        (production, o, value): (&Version, &LiveObservation, f64),
        (previous, po, old): (&Version, &LiveObservation, f64),
        drop: f64,
        tolerance: f64,
    ) -> Finding {
        self.facts(vec![
            observation_fact(&format!("{} live", production.version), o, Some(value)),
            observation_fact(&format!("{} live", previous.version), po, Some(old)),
        ])
        .evidence(json!({
            "live": observation_json(o, Some(value)),
            "previous": observation_json(po, Some(old)),
            "previous_version": previous,
            "drop": drop,
            "tolerance": tolerance,
        }))
        .weight(drop / tolerance.max(f64::EPSILON))
    }
}

fn observation_json(o: &LiveObservation, value: Option<f64>) -> serde_json::Value {
    json!({
        "value": value,
        "artifact": o.artifact,
        "segment": o.segment,
        "window_start": o.window_start,
        "window_end": o.window_end,
        "labels_through": o.labels_through,
        "count": o.count,
        "position": o.position,
        "event_id": o.event_id,
    })
}

/// `live 0.792 over 2026-11-14T00:00:00Z → 2026-11-21T00:00:00Z (702 labelled, labels
/// through …, artifact blake3:5d2f4c1b8e0a…, position 123)`.
fn observation_fact(what: &str, o: &LiveObservation, value: Option<f64>) -> String {
    let value = value.map_or_else(String::new, |v| format!(" {}", num(v)));
    let count = o
        .count
        .map_or_else(String::new, |c| format!("{c} labelled, "));
    format!(
        "{what}{value} over {} → {} ({count}labels through {}, artifact {}, position {})",
        o.window_start,
        o.window_end,
        o.labels_through,
        short(&o.artifact),
        o.position
    )
}

fn deployment_fact(d: &DeploymentEntry) -> String {
    let decision = d.decision.map_or_else(
        || ", citing no decision".to_owned(),
        |h| format!(", citing decision {}", short(&h)),
    );
    let forced = match (d.forced, &d.reason) {
        (true, Some(reason)) => format!(", forced: {reason}"),
        (true, None) => ", forced".to_owned(),
        (false, _) => String::new(),
    };
    format!(
        "deployed {} to {} at {} by {} (position {}{decision}{forced})",
        short(&d.artifact),
        d.env,
        d.time,
        d.producer,
        d.position
    )
}

/// `auc` or `auc[region=EU]`, as gates name a series.
fn series(metric: &Name, segment: Option<&Segment>) -> String {
    match segment {
        Some(s) => format!("{metric}[{s}]"),
        None => metric.to_string(),
    }
}

/// `segment region=EU`, or `overall`.
fn place(segment: Option<&Segment>) -> String {
    match segment {
        Some(s) => format!("segment {s}"),
        None => "overall".to_owned(),
    }
}

/// A digest's first 12 hex digits: enough to tell artifacts apart in a sentence (the
/// evidence carries the whole digest).
fn short(digest: &Digest) -> String {
    format!("blake3:{}…", &digest.hex()[..12])
}

fn digests(artifacts: &[Digest]) -> String {
    if artifacts.is_empty() {
        return "no artifacts".to_owned();
    }
    artifacts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Nanoseconds from `from` to `to`.
fn between(from: Timestamp, to: Timestamp) -> i128 {
    i128::from(to.unix_nanos()) - i128::from(from.unix_nanos())
}

fn days(n: u32) -> i128 {
    i128::from(n) * NANOS_PER_DAY
}

/// Days, to the thousandth.
fn in_days(nanos: i128) -> f64 {
    ((nanos * 1000) / NANOS_PER_DAY) as f64 / 1000.0
}

/// A duration in words, rounded down: `9 days`, `30 hours`, `12 minutes`.
fn span(nanos: i128) -> String {
    if nanos < 0 {
        return format!("-{}", span(-nanos));
    }
    let hours = nanos / NANOS_PER_HOUR;
    if hours >= 48 {
        format!("{} days", nanos / NANOS_PER_DAY)
    } else if hours >= 2 {
        format!("{hours} hours")
    } else {
        let minutes = nanos / 60_000_000_000;
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

/// A metric value or difference for a sentence: four decimals at most, trailing zeros
/// dropped (the evidence carries the exact value).
fn num(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-3 {
        return format!("{value:.2e}");
    }
    let rounded = (value * 1e4).round() / 1e4;
    if rounded == 0.0 {
        "0".to_owned()
    } else {
        rounded.to_string()
    }
}

#[cfg(test)]
mod tests;
