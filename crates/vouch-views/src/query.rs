//! Run queries: by experiment and by metric conditions such as `auc>0.85`.

use std::fmt;

use vouch_event::{Name, Segment};

use vouch_event::RunId;

use crate::{decode_value, experiment_key, metric_index_key, MetricKey, RunDoc, Views, ViewsError};

/// How a metric is compared with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Comparison {
    /// `>`
    Greater,
    /// `>=`
    GreaterOrEqual,
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `=` or `==`
    Equal,
    /// `!=`
    NotEqual,
}

impl Comparison {
    pub(crate) fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Comparison::Greater => left > right,
            Comparison::GreaterOrEqual => left >= right,
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Equal => left == right,
            Comparison::NotEqual => left != right,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterOrEqual => ">=",
            Comparison::Less => "<",
            Comparison::LessOrEqual => "<=",
            Comparison::Equal => "==",
            Comparison::NotEqual => "!=",
        }
    }
}

/// A condition on a run's latest metric value: `auc>0.85`, `latency_p95_ms<=200`,
/// `auc[region=EU]>=0.8`. A run without the metric does not match.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Condition {
    /// The metric.
    pub metric: Name,
    /// The segment, if the condition names one.
    pub segment: Option<Segment>,
    /// The comparison.
    pub comparison: Comparison,
    /// The value compared with.
    pub value: f64,
}

/// Why a condition does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid condition `{input}`: {reason} (expected e.g. `auc>0.85` or `auc[region=EU]>=0.8`)"
)]
pub struct ConditionError {
    input: String,
    reason: String,
}

impl Condition {
    /// Parses `metric[segment] OP number`, OP one of `> >= < <= = == !=`.
    ///
    /// # Errors
    /// When the text is not such a condition.
    pub fn parse(input: &str) -> Result<Self, ConditionError> {
        let fail = |reason: String| ConditionError {
            input: input.to_owned(),
            reason,
        };
        // A segment in brackets holds `=` itself: look for the operator after it.
        let after_segment = input.find(']').map_or(0, |i| i + 1);
        let at = input[after_segment..]
            .find(['<', '>', '=', '!'])
            .map(|i| i + after_segment)
            .ok_or_else(|| fail("no comparison operator".into()))?;
        let (left, rest) = input.split_at(at);
        let (comparison, right) = [
            (">=", Comparison::GreaterOrEqual),
            ("<=", Comparison::LessOrEqual),
            ("==", Comparison::Equal),
            ("!=", Comparison::NotEqual),
            (">", Comparison::Greater),
            ("<", Comparison::Less),
            ("=", Comparison::Equal),
        ]
        .into_iter()
        .find_map(|(op, c)| rest.strip_prefix(op).map(|r| (c, r)))
        .ok_or_else(|| fail("no comparison operator".into()))?;
        let left = left.trim();
        let (metric, segment) = match left.strip_suffix(']').and_then(|l| l.split_once('[')) {
            Some((metric, segment)) => (
                metric,
                Some(Segment::new(segment).map_err(|e| fail(e.to_string()))?),
            ),
            None => (left, None),
        };
        let metric = Name::new(metric).map_err(|e| fail(e.to_string()))?;
        let value: f64 = right
            .trim()
            .parse()
            .map_err(|_| fail(format!("`{}` is not a number", right.trim())))?;
        if !value.is_finite() {
            return Err(fail("the value must be finite".into()));
        }
        Ok(Condition {
            metric,
            segment,
            comparison,
            value,
        })
    }

    /// Whether `run` satisfies the condition.
    pub fn matches(&self, run: &RunDoc) -> bool {
        run.metric(&self.metric, self.segment.as_ref())
            .is_some_and(|m| self.comparison.holds(m.value, self.value))
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric.as_str())?;
        if let Some(segment) = &self.segment {
            write!(f, "[{segment}]")?;
        }
        write!(f, "{}{}", self.comparison.symbol(), self.value)
    }
}

impl std::str::FromStr for Condition {
    type Err = ConditionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Condition::parse(s)
    }
}

/// Which runs to list. The default lists every run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    /// Only runs of this experiment.
    pub experiment: Option<String>,
    /// Only runs meeting every condition.
    pub conditions: Vec<Condition>,
}

impl Views {
    /// The runs matching `query`, ordered by run id.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn runs(&self, query: &RunQuery) -> Result<Vec<RunDoc>, ViewsError> {
        let keep = |doc: &RunDoc| {
            query.conditions.iter().all(|c| c.matches(doc))
                && query
                    .experiment
                    .as_deref()
                    .is_none_or(|e| doc.experiment() == Some(e))
        };
        let mut out = Vec::new();
        let mut read = |run: &RunId| -> Result<(), ViewsError> {
            if let Some(doc) = self.run(run)? {
                if keep(&doc) {
                    out.push(doc);
                }
            }
            Ok(())
        };
        if let Some(first) = query.conditions.first() {
            // Scan the first condition's value index, then read only the runs it admits.
            let key = metric_index_key(&MetricKey {
                name: first.metric.clone(),
                segment: first.segment.clone(),
            });
            if let Some(v) = self.tree.get(&key)? {
                for (run, value) in decode_value::<Vec<(RunId, f64)>>(&key, &v)? {
                    if first.comparison.holds(value, first.value) {
                        read(&run)?;
                    }
                }
            }
        } else if let Some(experiment) = &query.experiment {
            let key = experiment_key(experiment);
            if let Some(v) = self.tree.get(&key)? {
                for run in decode_value::<Vec<RunId>>(&key, &v)? {
                    read(&run)?;
                }
            }
        } else {
            for entry in self.tree.scan_prefix([b'r']) {
                let (k, v) = entry?;
                let doc: RunDoc = decode_value(&k, &v)?;
                if keep(&doc) {
                    out.push(doc);
                }
            }
        }
        Ok(out)
    }
}

impl Views {
    /// Every run's latest value of one metric series, by run: the value index conditions
    /// and sorts read instead of every run's document.
    ///
    /// # Errors
    /// When sled fails or the value is damaged.
    pub fn series_values(&self, key: &MetricKey) -> Result<Vec<(RunId, f64)>, ViewsError> {
        let k = metric_index_key(key);
        match self.tree.get(&k)? {
            Some(v) => decode_value(&k, &v),
            None => Ok(Vec::new()),
        }
    }
}

/// How a page of runs is ordered.
#[derive(Debug, Clone, PartialEq)]
pub enum RunOrder {
    /// By run id.
    Id {
        /// Highest first.
        descending: bool,
    },
    /// By the latest value of a metric series; runs without it come last, ties by run id.
    Metric {
        /// The series.
        key: MetricKey,
        /// Highest first.
        descending: bool,
    },
}

/// One page of the runs a query matches.
#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    /// How many runs match in all.
    pub total: usize,
    /// The page's runs, in order.
    pub runs: Vec<RunDoc>,
}

impl Views {
    /// The runs matching `query`, ordered by `order`, from `offset`, at most `limit`. Without
    /// conditions only the page's documents are read (the order comes from the run keys, or
    /// from the series' value index), so a page costs the same over ten runs or a million.
    ///
    /// # Errors
    /// When sled fails or a value is damaged.
    pub fn runs_page(
        &self,
        query: &RunQuery,
        order: &RunOrder,
        offset: usize,
        limit: usize,
    ) -> Result<RunPage, ViewsError> {
        let values: Option<std::collections::HashMap<RunId, f64>> = match order {
            RunOrder::Metric { key, .. } => {
                let k = metric_index_key(key);
                Some(match self.tree.get(&k)? {
                    Some(v) => decode_value::<Vec<(RunId, f64)>>(&k, &v)?
                        .into_iter()
                        .collect(),
                    None => Default::default(),
                })
            }
            RunOrder::Id { .. } => None,
        };
        let sort = |ids: &mut Vec<RunId>| match (order, &values) {
            (RunOrder::Metric { descending, .. }, Some(values)) => {
                ids.sort_by(|a, b| match (values.get(a), values.get(b)) {
                    (Some(x), Some(y)) => {
                        let o = x.total_cmp(y);
                        (if *descending { o.reverse() } else { o }).then_with(|| a.cmp(b))
                    }
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.cmp(b),
                });
            }
            (RunOrder::Id { descending: true }, _) => ids.sort_by(|a, b| b.cmp(a)),
            _ => ids.sort(),
        };
        if !query.conditions.is_empty() {
            // Conditions read documents anyway: filter, then order what is left.
            let mut docs = self.runs(query)?;
            let mut ids: Vec<RunId> = docs.iter().map(|d| d.run.clone()).collect();
            sort(&mut ids);
            let rank: std::collections::HashMap<&RunId, usize> =
                ids.iter().enumerate().map(|(i, r)| (r, i)).collect();
            docs.sort_by_key(|d| rank[&d.run]);
            let total = docs.len();
            let runs = docs.into_iter().skip(offset).take(limit).collect();
            return Ok(RunPage { total, runs });
        }
        let mut ids: Vec<RunId> = match &query.experiment {
            Some(experiment) => {
                let key = experiment_key(experiment);
                match self.tree.get(&key)? {
                    Some(v) => decode_value::<Vec<RunId>>(&key, &v)?,
                    None => Vec::new(),
                }
            }
            None => self
                .tree
                .scan_prefix([b'r'])
                .keys()
                .map(|k| {
                    let k = k?;
                    RunId::new(String::from_utf8_lossy(&k[1..]).into_owned()).map_err(|e| {
                        ViewsError::Corrupt {
                            key: String::from_utf8_lossy(&k).escape_debug().to_string(),
                            reason: e.to_string(),
                        }
                    })
                })
                .collect::<Result<_, ViewsError>>()?,
        };
        sort(&mut ids);
        let total = ids.len();
        let mut runs = Vec::new();
        for run in ids.iter().skip(offset).take(limit) {
            if let Some(doc) = self.run(run)? {
                runs.push(doc);
            }
        }
        Ok(RunPage { total, runs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Result<&str, &str>) {
        match (Condition::parse(input), expect) {
            (Ok(c), Ok(want)) => assert_eq!(c.to_string(), want),
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{input}: {e}"),
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn parses_conditions() {
        check("auc>0.85", Ok("auc>0.85"));
        check("auc >= 0.8", Ok("auc>=0.8"));
        check("latency_p95_ms<=200", Ok("latency_p95_ms<=200"));
        check("auc[region=EU]>0.8", Ok("auc[region=EU]>0.8"));
        check("ece=0.05", Ok("ece==0.05"));
        check("ece!=0.05", Ok("ece!=0.05"));
        check("auc", Err("no comparison operator"));
        check("auc>high", Err("`high` is not a number"));
        check("auc>NaN", Err("finite"));
        check(">0.8", Err("invalid name"));
        check("auc[EU]>0.8", Err("invalid segment"));
    }
}
