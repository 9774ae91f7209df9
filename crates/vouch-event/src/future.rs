//! Times an event carries from the outside world, checked against a clock reading the
//! caller passes in: data dated in the future is refused at the edge.
//!
//! [`Event::check`] has no clock, by design: a decoded event must satisfy it forever. This
//! check depends on when it runs, so it is separate, and only the writers call it (the
//! CLI's log commands and `vouch ingest`), never the decoders or the projector.

use crate::{Body, Event, FutureTimeError, Timestamp};

impl Event {
    /// Refuses an event that states a fact about the future: a `dataset_bound` whose
    /// `snapshot_at` or `labels_through`, or a `live_metrics_observed` whose `window_end`
    /// or `labels_through`, is later than `now` by more than
    /// [`MAX_CLOCK_SKEW`](crate::MAX_CLOCK_SKEW). (A window's start is not after its end,
    /// which [`Event::check`] ensures.) Freshness is measured from these times, so a date
    /// in the future would pass every freshness gate.
    ///
    /// # Errors
    /// [`FutureTimeError`] naming the first offending field (`data.snapshot_at`, …).
    pub fn check_times(&self, now: Timestamp) -> Result<(), FutureTimeError> {
        let check = |field: &str, time: Option<Timestamp>| match time {
            Some(time) => time.check_not_future(field, now),
            None => Ok(()),
        };
        match &self.body {
            Body::DatasetBound(b) => {
                check("data.snapshot_at", b.snapshot_at)?;
                check("data.labels_through", b.labels_through)
            }
            Body::LiveMetricsObserved(b) => {
                check("data.window_end", Some(b.window_end))?;
                check("data.labels_through", Some(b.labels_through))
            }
            Body::RunStarted(_)
            | Body::ParamsLogged(_)
            | Body::MetricsLogged(_)
            | Body::ArtifactLogged(_)
            | Body::RunFinished(_)
            | Body::PolicyPublished(_)
            | Body::DecisionRecorded(_)
            | Body::ReviewRecorded(_)
            | Body::DeploymentRecorded(_)
            | Body::DeploymentSigned(_)
            | Body::ExperimentCreated(_)
            | Body::TagsSet(_)
            | Body::RunUpdated(_)
            | Body::MetricPoints(_)
            | Body::InputsLogged(_)
            | Body::LoggedModelCreated(_)
            | Body::LoggedModelUpdated(_)
            | Body::ModelRegistered(_)
            | Body::ModelVersionCreated(_)
            | Body::AliasMoved(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{from_json, Timestamp};

    const NOW: &str = "2026-11-28T04:20:51Z";

    fn dataset(snapshot_at: &str, labels_through: &str) -> String {
        format!(
            r#"{{"id":"d-1","kind":"dataset_bound","schema":1,"time":"{NOW}","producer":"p","run":"r-1","data":{{"role":"validation","name":"v","digest":"blake3:{}","rows":1,"snapshot_at":"{snapshot_at}","labels_through":"{labels_through}"}}}}"#,
            "ab".repeat(32)
        )
    }

    fn live(window_end: &str, labels_through: &str) -> String {
        format!(
            r#"{{"id":"l-1","kind":"live_metrics_observed","schema":1,"time":"{NOW}","producer":"p","model":"m","data":{{"env":"production","artifact":"blake3:{}","metrics":{{"auc":0.8}},"window_start":"2026-11-01T00:00:00Z","window_end":"{window_end}","labels_through":"{labels_through}"}}}}"#,
            "ab".repeat(32)
        )
    }

    #[track_caller]
    fn check(json: &str, expect: Result<(), &str>) {
        let event = from_json(json.as_bytes()).unwrap();
        let now = Timestamp::parse_rfc3339(NOW).unwrap();
        match (event.check_times(now), expect) {
            (Ok(()), Ok(())) => {}
            (Err(e), Err(field)) => {
                assert_eq!(e.field(), field, "{e}");
                assert!(e.to_string().contains(NOW), "{e}");
            }
            (got, want) => panic!("got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn times_later_than_now_beyond_the_skew_are_refused() {
        let past = "2026-11-01T00:00:00Z";
        let within = "2026-11-28T04:25:51Z";
        let beyond = "2026-11-28T04:25:52Z";
        check(&dataset(past, past), Ok(()));
        check(&dataset(within, within), Ok(()));
        check(&dataset(beyond, past), Err("data.snapshot_at"));
        check(
            &dataset(past, "2199-01-01T00:00:00Z"),
            Err("data.labels_through"),
        );
        check(&live(past, past), Ok(()));
        check(&live(within, within), Ok(()));
        check(&live(beyond, past), Err("data.window_end"));
        check(&live(past, beyond), Err("data.labels_through"));
    }
}
