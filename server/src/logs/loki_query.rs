//! LogQL evaluated over the store: log queries answer streams of lines; metric queries count
//! lines per bucket in SQL and slide their windows here, then aggregate. Every read runs under
//! the shared read admission and the search time limit, and the series × steps it may make
//! are bounded.

use super::{
    logql::{Aggregation, Expr, Grouping, LogQuery, MetricExpr, RangeFunction},
    LogsError, LogsService,
};
use crate::store::logs::{self as db, Condition, CountKey, LineRow};
use serde_json::Value;
use std::collections::BTreeMap;

pub type Labels = BTreeMap<String, String>;

/// Most lines a log query answers (Loki's `max_entries_limit_per_query`).
pub const MAX_LINES: i64 = 5000;
/// Most points a series may have (as Prometheus and Loki).
pub const MAX_POINTS: i64 = 11_000;
/// Most (bucket, key) rows a metric query may count, and series it may answer.
pub const MAX_ROWS: i64 = 500_000;
pub const MAX_SERIES: usize = 10_000;
/// Most streams the label and series APIs answer.
pub const MAX_STREAMS: i64 = 10_000;

/// Lines of one stream (or, after a parser, one set of labels), in the order asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamLines {
    pub labels: Labels,
    /// (time in nanoseconds, line).
    pub entries: Vec<(i64, String)>,
}

/// A series of a metric query: (time in milliseconds, value) at each step that had lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<(i64, f64)>,
}

/// What a LogQL query answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Streams(Vec<StreamLines>),
    Series(Vec<Series>),
}

/// When and how much: times in milliseconds (`start == end` for an instant query).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start_ns: i64,
    pub end_ns: i64,
    pub step_ms: i64,
    pub limit: i64,
    pub forward: bool,
}

fn invalid(field: &str, message: impl Into<String>) -> LogsError {
    LogsError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Reads a LogQL query that must count lines, as a log rule's must.
pub fn parse_count_query(text: &str) -> Result<MetricExpr, LogsError> {
    match super::logql::parse(text).map_err(|e| invalid("query", e.to_string()))? {
        Expr::Metric(metric) => Ok(metric),
        Expr::Log(_) => Err(invalid(
            "query",
            "this query selects lines; a log rule counts them: wrap it as sum(count_over_time({…} [5m])) or sum by (service_name) (rate({…} [5m]))",
        )),
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

impl LogsService {
    /// Runs a LogQL query over a window.
    pub async fn logql(&self, text: &str, window: Window) -> Result<Answer, LogsError> {
        let expr = super::logql::parse(text).map_err(|e| invalid("query", e.to_string()))?;
        if window.end_ns < window.start_ns {
            return Err(invalid("end", "the end is before the start"));
        }
        match expr {
            Expr::Log(query) => self.log_lines(&query, window).await.map(Answer::Streams),
            Expr::Metric(metric) => self.metric(&metric, window).await.map(Answer::Series),
        }
    }

    async fn log_lines(
        &self,
        query: &LogQuery,
        window: Window,
    ) -> Result<Vec<StreamLines>, LogsError> {
        if window.limit > MAX_LINES {
            return Err(invalid(
                "limit",
                format!("max entries limit per query exceeded, limit > max_entries_limit ({} > {MAX_LINES})", window.limit),
            ));
        }
        let limit = window.limit.max(1);
        // Loki's range is start inclusive, end exclusive, in nanoseconds; lines are stored
        // to the microsecond.
        let range = (
            window.start_ns.div_euclid(1000) + i64::from(window.start_ns.rem_euclid(1000) > 0),
            window.end_ns.div_euclid(1000) + i64::from(window.end_ns.rem_euclid(1000) > 0),
        );
        let condition = query.condition.clone();
        let newest_first = !window.forward;
        let rows = self
            .read(|mut tx| async move {
                Ok(db::lines_in_order(&mut tx, &condition, range, newest_first, limit).await?)
            })
            .await?;
        let mut streams: Vec<StreamLines> = Vec::new();
        let mut index: BTreeMap<Labels, usize> = BTreeMap::new();
        for row in rows {
            let labels = result_labels(&row.labels, query.parsed.then_some(&row.fields), query);
            let at = *index.entry(labels.clone()).or_insert_with(|| {
                streams.push(StreamLines {
                    labels,
                    entries: Vec::new(),
                });
                streams.len() - 1
            });
            streams[at]
                .entries
                .push((row.time_us.saturating_mul(1000), row.body));
        }
        Ok(streams)
    }

    async fn metric(&self, metric: &MetricExpr, window: Window) -> Result<Vec<Series>, LogsError> {
        let (function, query, range_ms) = metric.range();
        let start_ms = window.start_ns.div_euclid(1_000_000);
        let end_ms = window.end_ns.div_euclid(1_000_000);
        let step_ms = if start_ms == end_ms {
            range_ms
        } else {
            window.step_ms
        };
        if step_ms <= 0 {
            return Err(invalid(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        let steps = (end_ms - start_ms) / step_ms + 1;
        if steps > MAX_POINTS {
            return Err(invalid(
                "step",
                format!("exceeded maximum resolution of {MAX_POINTS} points per timeseries. Try increasing the value of the step parameter"),
            ));
        }
        // Buckets as long as the steps and the range both divide: each window is a run of
        // whole buckets.
        let bucket_ms = gcd(step_ms, range_ms);
        let buckets = (end_ms - start_ms + range_ms) / bucket_ms;
        if buckets > 4 * MAX_ROWS {
            return Err(invalid(
                "step",
                format!("a range of {range_ms} ms with a step of {step_ms} ms splits the time into {buckets} pieces; choose a step and range with a larger common divisor"),
            ));
        }
        let origin_us = (start_ms - range_ms) * 1000;
        let end_us = end_ms * 1000;
        let bucket_us = bucket_ms * 1000;
        let only = metric.only_labels().map(<[String]>::to_vec);
        let condition = query.condition.clone();
        let parsed = query.parsed;
        let grouped = only.is_some();
        let rows = self
            .read(|mut tx| async move {
                let key = match &only {
                    Some(names) => CountKey::Labels(names),
                    None => CountKey::Streams { fields: parsed },
                };
                Ok(db::counts(
                    &mut tx,
                    &condition,
                    (origin_us, end_us),
                    bucket_us,
                    &key,
                    MAX_ROWS,
                )
                .await?)
            })
            .await?;
        if rows.len() as i64 > MAX_ROWS {
            return Err(invalid(
                "query",
                format!("the query counts more than {MAX_ROWS} series × buckets; group it with sum by (…) or narrow the selector"),
            ));
        }
        // Per key, the buckets' counts in order, then summed over each step's window.
        let mut per_key: BTreeMap<Labels, BTreeMap<i64, (i64, i64)>> = BTreeMap::new();
        for (k, key, lines, bytes) in rows {
            let labels = match grouped {
                true => plain_labels(&key),
                false => {
                    let fields = key.get("__fields__");
                    result_labels(&key, fields, query)
                }
            };
            let slot = per_key.entry(labels).or_default().entry(k).or_default();
            slot.0 += lines;
            slot.1 += bytes;
        }
        if per_key.len() > MAX_SERIES {
            return Err(invalid(
                "query",
                format!("the query makes more than {MAX_SERIES} series; group it with sum by (…)"),
            ));
        }
        let per_window = range_ms / bucket_ms;
        let per_step = step_ms / bucket_ms;
        let seconds = range_ms as f64 / 1000.0;
        let mut series: Vec<Series> = per_key
            .into_iter()
            .map(|(labels, buckets)| {
                // Running totals, to sum any run of buckets with two look-ups.
                let mut keys = Vec::with_capacity(buckets.len());
                let mut totals = Vec::with_capacity(buckets.len());
                let (mut lines, mut bytes) = (0i64, 0i64);
                for (k, (l, b)) in buckets {
                    lines += l;
                    bytes += b;
                    keys.push(k);
                    totals.push((lines, bytes));
                }
                let upto = |k: i64| -> (i64, i64) {
                    match keys.partition_point(|&x| x <= k) {
                        0 => (0, 0),
                        n => totals[n - 1],
                    }
                };
                let mut points = Vec::new();
                for i in 0..steps {
                    let first = i * per_step; // exclusive
                    let last = first + per_window;
                    let (l1, b1) = upto(last);
                    let (l0, b0) = upto(first);
                    let (n, b) = (l1 - l0, b1 - b0);
                    if n == 0 {
                        continue;
                    }
                    let value = match function {
                        RangeFunction::CountOverTime => n as f64,
                        RangeFunction::Rate => n as f64 / seconds,
                        RangeFunction::BytesOverTime => b as f64,
                        RangeFunction::BytesRate => b as f64 / seconds,
                    };
                    points.push((start_ms + i * step_ms, value));
                }
                Series { labels, points }
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        aggregate(metric, &mut series);
        Ok(series)
    }

    /// A LogQL metric query for alert rules (read by [`parse_count_query`]): each series'
    /// value at `at_ms` (instant) or its points from `start_ms` to `end_ms` every `step_ms`.
    pub async fn count_series(
        &self,
        metric: &MetricExpr,
        (start_ms, end_ms, step_ms): (i64, i64, i64),
    ) -> Result<Vec<Series>, LogsError> {
        self.metric(
            metric,
            Window {
                start_ns: start_ms.saturating_mul(1_000_000),
                end_ns: end_ms.saturating_mul(1_000_000),
                step_ms,
                limit: 0,
                forward: false,
            },
        )
        .await
    }

    /// The newest `limit` lines a metric query counted for its series `labels` in the window
    /// ending at `at_ms`: what an alert from the query shows of its cause.
    pub async fn counted_lines(
        &self,
        metric: &MetricExpr,
        labels: &Labels,
        at_ms: i64,
        limit: i64,
    ) -> Result<Vec<LineRow>, LogsError> {
        let (_, query, range_ms) = metric.range();
        let mut all = vec![query.condition.clone()];
        all.extend(
            labels
                .iter()
                .map(|(name, value)| super::logql::label_equals(name, value)),
        );
        let condition = Condition::And(all);
        // The window `(at - range, at]`, as the count's.
        let range = ((at_ms - range_ms) * 1000 + 1, at_ms * 1000 + 1);
        let limit = limit.clamp(1, MAX_LINES);
        self.read(|mut tx| async move {
            Ok(db::lines_in_order(&mut tx, &condition, range, true, limit).await?)
        })
        .await
    }

    /// Label names of the streams matching `selector` with lines in the range.
    pub async fn loki_labels(
        &self,
        selector: Option<&str>,
        (from_us, to_us): (i64, i64),
    ) -> Result<Vec<String>, LogsError> {
        let streams = self.matching_streams(selector, (from_us, to_us)).await?;
        let mut names: Vec<String> = streams
            .iter()
            .flat_map(|labels| labels.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Values of one label among the streams matching `selector` with lines in the range.
    pub async fn loki_label_values(
        &self,
        name: &str,
        selector: Option<&str>,
        range: (i64, i64),
    ) -> Result<Vec<String>, LogsError> {
        let streams = self.matching_streams(selector, range).await?;
        let mut values: Vec<String> = streams
            .into_iter()
            .filter_map(|mut labels| labels.remove(name))
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The label sets of the streams matching any of `selectors` with lines in the range.
    pub async fn loki_series(
        &self,
        selectors: &[String],
        range: (i64, i64),
    ) -> Result<Vec<Labels>, LogsError> {
        if selectors.is_empty() {
            return Err(invalid(
                "match[]",
                "at least one match[] selector is required",
            ));
        }
        let mut out = Vec::new();
        for selector in selectors {
            out.extend(self.matching_streams(Some(selector), range).await?);
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn matching_streams(
        &self,
        selector: Option<&str>,
        range: (i64, i64),
    ) -> Result<Vec<Labels>, LogsError> {
        let condition = match selector.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => {
                super::logql::parse_selector(text).map_err(|e| invalid("query", e.to_string()))?
            }
            None => Condition::All,
        };
        let rows = self
            .read(|mut tx| async move {
                Ok(db::streams_with_lines(&mut *tx, &condition, range, MAX_STREAMS).await?)
            })
            .await?;
        Ok(rows.iter().map(plain_labels).collect())
    }

    /// Streams, lines and bytes a query would read (Loki's `index/stats`).
    pub async fn loki_stats(
        &self,
        text: &str,
        range: (i64, i64),
    ) -> Result<(i64, i64, i64), LogsError> {
        let condition =
            match super::logql::parse(text).map_err(|e| invalid("query", e.to_string()))? {
                Expr::Log(q) => q.condition,
                Expr::Metric(m) => m.range().1.condition.clone(),
            };
        self.read(|mut tx| async move { Ok(db::stats(&mut tx, &condition, range).await?) })
            .await
    }
}

/// A Loki tail: the portal's tail, answered in Loki's frames.
pub struct LokiTail {
    tail: super::tail::Tail,
    query: LogQuery,
}

impl LogsService {
    /// Starts a Loki tail of a log query, with up to `limit` stored lines since `start_us`.
    pub async fn loki_tail(
        &self,
        text: &str,
        start_us: i64,
        limit: i64,
    ) -> Result<LokiTail, LogsError> {
        let query = match super::logql::parse(text).map_err(|e| invalid("query", e.to_string()))? {
            Expr::Log(q) => q,
            Expr::Metric(_) => {
                return Err(invalid("query", "only log queries can be tailed"));
            }
        };
        let tail = self
            .tail_condition(
                query.condition.clone(),
                super::tail::TailFrom::Since(start_us),
                limit,
            )
            .await?;
        Ok(LokiTail { tail, query })
    }
}

impl LokiTail {
    /// The next frame: `{"streams": [...], "dropped_entries": ...}`.
    pub async fn next(&mut self) -> Value {
        match self.tail.next().await {
            super::tail::TailEvent::Lines { lines, .. } => {
                let mut streams: Vec<StreamLines> = Vec::new();
                let mut index: BTreeMap<Labels, usize> = BTreeMap::new();
                for line in lines {
                    let stream = serde_json::to_value(&line.labels).unwrap_or(Value::Null);
                    let fields = Value::Object(line.fields);
                    let labels =
                        result_labels(&stream, self.query.parsed.then_some(&fields), &self.query);
                    let at = *index.entry(labels.clone()).or_insert_with(|| {
                        streams.push(StreamLines {
                            labels,
                            entries: Vec::new(),
                        });
                        streams.len() - 1
                    });
                    let ns = line.time.timestamp_nanos_opt().unwrap_or(0);
                    streams[at].entries.push((ns, line.body));
                }
                serde_json::json!({
                    "streams": streams.into_iter().map(|s| serde_json::json!({
                        "stream": s.labels,
                        "values": s.entries.into_iter().map(|(t, l)| serde_json::json!([t.to_string(), l])).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                    "dropped_entries": null,
                })
            }
            // Which lines were missed is not known, only how many: one entry says so.
            super::tail::TailEvent::Dropped { lines, .. } => serde_json::json!({
                "streams": [],
                "dropped_entries": [{
                    "labels": {"dropped_lines": lines.to_string()},
                    "timestamp": chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0).to_string(),
                }],
            }),
        }
    }
}

/// A JSON object of labels as text labels (nulls left out).
fn plain_labels(value: &Value) -> Labels {
    let Value::Object(map) = value else {
        return Labels::new();
    };
    map.iter()
        .filter(|(k, _)| *k != "__fields__")
        .filter_map(|(k, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((k.clone(), s.clone())),
            other => Some((k.clone(), other.to_string())),
        })
        .collect()
}

/// The labels of a result: the stream's, then (after a parser) the line's fields as labels
/// (nested objects flattened with `_`, names made label names, a name the stream has already
/// given `_extracted`), less what the pipeline drops.
fn result_labels(stream: &Value, fields: Option<&Value>, query: &LogQuery) -> Labels {
    let mut labels = plain_labels(stream);
    if let Some(Value::Object(fields)) = fields {
        let mut flat = Vec::new();
        flatten("", fields, &mut flat, 0);
        for (name, value) in flat {
            let name = crate::otlp::resource::label_name(&name);
            if name.is_empty() {
                continue;
            }
            let name = if labels.contains_key(&name) && stream.get(&name).is_some() {
                format!("{name}_extracted")
            } else {
                name
            };
            labels.insert(name, value);
        }
    }
    for name in &query.dropped {
        labels.remove(name);
    }
    labels
}

fn flatten(
    prefix: &str,
    map: &serde_json::Map<String, Value>,
    out: &mut Vec<(String, String)>,
    depth: usize,
) {
    for (k, v) in map {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}_{k}")
        };
        match v {
            Value::Object(inner) if depth < 8 => flatten(&name, inner, out, depth + 1),
            Value::Null => {}
            Value::String(s) => out.push((name, s.clone())),
            other => out.push((name, other.to_string())),
        }
    }
}

/// Applies the aggregations above the range function, innermost first.
fn aggregate(expr: &MetricExpr, series: &mut Vec<Series>) {
    let MetricExpr::Aggregate {
        op,
        grouping,
        inner,
    } = expr
    else {
        return;
    };
    aggregate(inner, series);
    let key_of = |labels: &Labels| -> Labels {
        match grouping {
            None => Labels::new(),
            Some(Grouping {
                without: false,
                labels: names,
            }) => labels
                .iter()
                .filter(|(k, _)| names.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            Some(Grouping {
                without: true,
                labels: names,
            }) => labels
                .iter()
                .filter(|(k, _)| !names.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    };
    let mut groups: BTreeMap<Labels, Vec<Series>> = BTreeMap::new();
    for s in series.drain(..) {
        groups.entry(key_of(&s.labels)).or_default().push(s);
    }
    for (key, members) in groups {
        match op {
            Aggregation::Topk(k) | Aggregation::Bottomk(k) => {
                let top = matches!(op, Aggregation::Topk(_));
                // Per step, the k highest (lowest) members keep their point.
                let mut by_time: BTreeMap<i64, Vec<(f64, usize)>> = BTreeMap::new();
                for (i, m) in members.iter().enumerate() {
                    for &(t, v) in &m.points {
                        by_time.entry(t).or_default().push((v, i));
                    }
                }
                let mut kept: Vec<Vec<(i64, f64)>> = vec![Vec::new(); members.len()];
                for (t, mut values) in by_time {
                    values.sort_by(|a, b| {
                        let order = a.0.total_cmp(&b.0);
                        if top {
                            order.reverse()
                        } else {
                            order
                        }
                    });
                    for (v, i) in values.into_iter().take(*k) {
                        kept[i].push((t, v));
                    }
                }
                for (m, points) in members.into_iter().zip(kept) {
                    if !points.is_empty() {
                        series.push(Series {
                            labels: m.labels,
                            points,
                        });
                    }
                }
            }
            _ => {
                let mut by_time: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                for m in &members {
                    for &(t, v) in &m.points {
                        by_time.entry(t).or_default().push(v);
                    }
                }
                let points = by_time
                    .into_iter()
                    .map(|(t, values)| {
                        let n = values.len() as f64;
                        let v = match op {
                            Aggregation::Sum => values.iter().sum(),
                            Aggregation::Count => n,
                            Aggregation::Min => {
                                values.iter().copied().fold(f64::INFINITY, f64::min)
                            }
                            Aggregation::Max => {
                                values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                            }
                            _ => values.iter().sum::<f64>() / n,
                        };
                        (t, v)
                    })
                    .collect();
                series.push(Series {
                    labels: key,
                    points,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(labels: &[(&str, &str)], points: &[(i64, f64)]) -> Series {
        Series {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            points: points.to_vec(),
        }
    }

    fn metric(text: &str) -> MetricExpr {
        match super::super::logql::parse(text).unwrap() {
            Expr::Metric(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn aggregations_group_and_pick() {
        let input = vec![
            series(&[("app", "a"), ("level", "error")], &[(0, 1.0), (10, 4.0)]),
            series(&[("app", "a"), ("level", "info")], &[(0, 3.0)]),
            series(&[("app", "b"), ("level", "info")], &[(10, 2.0)]),
        ];
        let mut s = input.clone();
        aggregate(
            &metric(r#"sum by (app) (count_over_time({x="y"}[1m]))"#),
            &mut s,
        );
        assert_eq!(
            s,
            vec![
                series(&[("app", "a")], &[(0, 4.0), (10, 4.0)]),
                series(&[("app", "b")], &[(10, 2.0)]),
            ]
        );
        let mut s = input.clone();
        aggregate(
            &metric(r#"max without (app) (count_over_time({x="y"}[1m]))"#),
            &mut s,
        );
        assert_eq!(
            s,
            vec![
                series(&[("level", "error")], &[(0, 1.0), (10, 4.0)]),
                series(&[("level", "info")], &[(0, 3.0), (10, 2.0)]),
            ]
        );
        let mut s = input.clone();
        aggregate(&metric(r#"topk(1, count_over_time({x="y"}[1m]))"#), &mut s);
        assert_eq!(
            s,
            vec![
                series(&[("app", "a"), ("level", "error")], &[(10, 4.0)]),
                series(&[("app", "a"), ("level", "info")], &[(0, 3.0)]),
            ]
        );
        let mut s = input;
        aggregate(&metric(r#"avg(count_over_time({x="y"}[1m]))"#), &mut s);
        assert_eq!(s, vec![series(&[], &[(0, 2.0), (10, 3.0)])]);
    }

    #[test]
    fn parsed_fields_become_labels() {
        let query = match super::super::logql::parse(r#"{app="a"} | json | drop secret"#).unwrap() {
            Expr::Log(q) => q,
            _ => unreachable!(),
        };
        let labels = result_labels(
            &serde_json::json!({"app": "a"}),
            Some(
                &serde_json::json!({"app": "b", "user": {"id": 7, "name": "x"}, "agent.id": "c", "secret": "s"}),
            ),
            &query,
        );
        let expected: Labels = [
            ("app", "a"),
            ("app_extracted", "b"),
            ("user_id", "7"),
            ("user_name", "x"),
            ("agent_id", "c"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(labels, expected);
    }
}
