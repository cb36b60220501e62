//! Evaluating a rule: its query through the query service, its baseline and condition, the
//! labels and annotations of each alert, and the state machine step. The live evaluator and the
//! preview both go through [`active_set`] and [`super::state::advance`]; a rule's query is read
//! through its [`Source`]: PromQL over metrics, or LogQL counting log lines.

use super::state::{self, Active, AlertLabels, Change, Instances, Timing};
use super::template;
use crate::logs::{logql::MetricExpr, LogsError, LogsService};
use crate::query::{promql, QueryError, QueryRange, QueryService};
use app::api::alerting::{
    AlertState, Baseline, Condition, Preview, PreviewSeries, PreviewSpan, Rule, ALERTNAME,
};
use app::api::prometheus::MAX_POINTS_PER_SERIES;
use promql_parser::parser::Expr;
use std::collections::{BTreeMap, HashMap};

/// Most series a preview draws (all of them still count towards its alerts).
pub const PREVIEW_MAX_SERIES: usize = 100;

/// A series' labels as an alert sees them (`__name__` left out).
fn series_labels(labels: &promql::Labels) -> AlertLabels {
    labels
        .iter()
        .filter(|(k, _)| k != "__name__")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The labels of the alert for one series: the series' labels, the rule's (templates expanded,
/// overriding), and `alertname`.
pub fn alert_labels(
    rule: &Rule,
    series: AlertLabels,
    value: f64,
    external_url: &str,
) -> AlertLabels {
    let vars = BTreeMap::new();
    let ctx = template::Context {
        labels: &series,
        value,
        external_url,
        vars: &vars,
    };
    let extra: Vec<(String, String)> = rule
        .labels
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                template::expand(v, &ctx).unwrap_or_else(|_| v.clone()),
            )
        })
        .collect();
    let mut labels = series;
    labels.extend(extra);
    labels.retain(|_, v| !v.is_empty());
    labels.insert(ALERTNAME.into(), rule.name.clone());
    labels
}

/// The rule's annotations expanded for one alert.
pub fn annotations(
    rule: &Rule,
    labels: &AlertLabels,
    value: f64,
    external_url: &str,
) -> BTreeMap<String, String> {
    let vars = BTreeMap::new();
    let ctx = template::Context {
        labels,
        value,
        external_url,
        vars: &vars,
    };
    rule.annotations
        .iter()
        .map(|(k, v)| {
            let text = template::expand(v, &ctx)
                .unwrap_or_else(|e| format!("<error expanding template: {e}>"));
            (k.clone(), text)
        })
        .collect()
}

/// The alert for one series when the rule's baseline and condition hold for its `value`
/// (`history`: its values at the baseline's offsets).
pub fn active_one(
    rule: &Rule,
    labels: &AlertLabels,
    value: f64,
    history: Option<&Vec<f64>>,
    external_url: &str,
) -> Option<Active> {
    let holds = match &rule.baseline {
        Some(baseline) => {
            history.is_some_and(|h| baseline.departs(value, h))
                && (rule.condition == Condition::Any || rule.condition.holds(value))
        }
        None => rule.condition.holds(value),
    };
    holds.then(|| Active {
        labels: alert_labels(rule, labels.clone(), value, external_url),
        value,
    })
}

/// The alerts of the series the rule's baseline and condition hold for, from the query's
/// `values` and, for baselines, each series' values at the baseline's offsets.
pub fn active_set(
    rule: &Rule,
    values: &[(AlertLabels, f64)],
    history: &HashMap<AlertLabels, Vec<f64>>,
    external_url: &str,
) -> Vec<Active> {
    values
        .iter()
        .filter_map(|(labels, value)| {
            active_one(rule, labels, *value, history.get(labels), external_url)
        })
        .collect()
}

/// What a rule's query reads through: PromQL over the metric store, or LogQL counting lines.
pub enum Source<'a> {
    Metrics(&'a QueryService, Expr),
    Logs(&'a LogsService, MetricExpr),
}

/// Why a rule's query could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Metrics(#[from] QueryError),
    #[error(transparent)]
    Logs(#[from] LogsError),
}

impl SourceError {
    /// Whether the store failed (rather than the query being wrong or too big).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            SourceError::Metrics(QueryError::Database(_) | QueryError::Internal(_))
                | SourceError::Logs(LogsError::Database(_))
        )
    }
}

impl Source<'_> {
    /// The query's result at `at`: one value per series.
    pub async fn values_at(&self, at: i64) -> Result<Vec<(AlertLabels, f64)>, SourceError> {
        Ok(match self {
            Source::Metrics(queries, expr) => queries
                .instant_series(expr.clone(), at)
                .await?
                .into_iter()
                .filter_map(|s| {
                    let value = s.points.first()?.1;
                    (!promql::is_stale_marker(value)).then(|| (series_labels(&s.labels), value))
                })
                .collect(),
            Source::Logs(logs, metric) => logs
                .count_series(metric, (at, at, 0))
                .await?
                .into_iter()
                .filter_map(|s| Some((s.labels, s.points.last()?.1)))
                .collect(),
        })
    }

    /// Each series' points over `range`, their times moved on by `shift_ms`.
    async fn range(&self, range: QueryRange, shift_ms: i64) -> Result<RangeValues, SourceError> {
        Ok(match self {
            Source::Metrics(queries, expr) => {
                by_labels(queries.range(expr.clone(), range).await?, shift_ms)
            }
            Source::Logs(logs, metric) => logs
                .count_series(metric, (range.start, range.end, range.step))
                .await?
                .into_iter()
                .map(|s| {
                    let points = s.points.into_iter().map(|(t, v)| (t + shift_ms, v));
                    (s.labels, points.collect())
                })
                .collect(),
        })
    }
}

/// Each series' values at the baseline's offsets before `at`.
pub async fn history_at(
    source: &Source<'_>,
    baseline: &Baseline,
    at: i64,
) -> Result<HashMap<AlertLabels, Vec<f64>>, SourceError> {
    let mut history: HashMap<AlertLabels, Vec<f64>> = HashMap::new();
    for offset in baseline.offsets_ms() {
        for (labels, value) in source.values_at(at - offset).await? {
            history.entry(labels).or_default().push(value);
        }
    }
    Ok(history)
}

/// What a rule's query, baseline and condition give at `at`: `None` when the query returned
/// nothing at all (no data).
pub async fn evaluate_alerting(
    source: &Source<'_>,
    rule: &Rule,
    at: i64,
    external_url: &str,
) -> Result<Option<Vec<Active>>, SourceError> {
    let values = source.values_at(at).await?;
    if values.is_empty() {
        return Ok(None);
    }
    let history = match &rule.baseline {
        Some(b) => history_at(source, b, at).await?,
        None => HashMap::new(),
    };
    Ok(Some(active_set(rule, &values, &history, external_url)))
}

/// A rule's timing as the state machine wants it.
pub fn timing(rule: &Rule) -> Timing {
    Timing {
        for_ms: rule.for_ms(),
        keep_firing_for_ms: rule.keep_firing_for_ms(),
    }
}

/// The evaluation step a preview of `span_ms` uses: the group's interval, or larger when the
/// range holds more evaluations than a series may have points.
pub fn preview_step(interval_ms: i64, span_ms: i64) -> i64 {
    let max_points = MAX_POINTS_PER_SERIES - 1;
    let mut step = interval_ms.max(1000);
    if span_ms / step > max_points {
        step = (span_ms + max_points - 1) / max_points;
        step = (step + 999) / 1000 * 1000;
    }
    step
}

/// Series of a range query keyed by alert labels, each point (ms, value).
type RangeValues = HashMap<AlertLabels, Vec<(i64, f64)>>;

fn by_labels(series: Vec<promql::Series>, shift_ms: i64) -> RangeValues {
    let mut out: RangeValues = HashMap::new();
    for s in series {
        let points = s
            .points
            .into_iter()
            .filter(|(_, v)| !promql::is_stale_marker(*v))
            .map(|(t, v)| (t + shift_ms, v));
        out.entry(series_labels(&s.labels))
            .or_default()
            .extend(points);
    }
    out
}

/// What the rule would have done from `start` to `end` evaluated every `step`: the same
/// condition, baseline and state machine as live evaluation, over the stored history.
pub async fn preview(
    source: &Source<'_>,
    rule: &Rule,
    range: QueryRange,
    external_url: &str,
) -> Result<Preview, SourceError> {
    let values = source.range(range, 0).await?;
    let mut history: Vec<RangeValues> = Vec::new();
    if let Some(baseline) = &rule.baseline {
        for offset in baseline.offsets_ms() {
            let shifted = QueryRange {
                start: range.start - offset,
                end: range.end - offset,
                step: range.step,
            };
            history.push(source.range(shifted, offset).await?);
        }
    }
    Ok(replay(rule, values, &history, range, external_url))
}

/// Steps the state machine over the range; pure, so tests and benchmarks call it directly.
pub fn replay(
    rule: &Rule,
    values: RangeValues,
    history: &[RangeValues],
    range: QueryRange,
    external_url: &str,
) -> Preview {
    let timing = timing(rule);
    // Each series' values by step index (NaN where it has none): the range query's points
    // fall on the steps, so a step is an index, not a lookup.
    let steps = usize::try_from((range.end - range.start) / range.step.max(1) + 1).unwrap_or(0);
    let dense = |points: &[(i64, f64)]| -> Vec<f64> {
        let mut out = vec![f64::NAN; steps];
        for &(t, v) in points {
            let offset = t - range.start;
            if offset >= 0 && offset % range.step == 0 {
                if let Some(slot) = out.get_mut((offset / range.step) as usize) {
                    *slot = v;
                }
            }
        }
        out
    };
    // Each series: its labels, its values by step, its points in order.
    type Indexed = (AlertLabels, Vec<f64>, Vec<(i64, f64)>);
    let mut series: Vec<Indexed> = values
        .into_iter()
        .map(|(labels, points)| (labels, dense(&points), points))
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let history: Vec<HashMap<&AlertLabels, Vec<f64>>> = history
        .iter()
        .map(|h| h.iter().map(|(l, p)| (l, dense(p))).collect())
        .collect();

    let mut instances = Instances::new();
    // fingerprint -> its spans, the times it fired, the series it belongs to.
    let mut spans: HashMap<i64, Vec<PreviewSpan>> = HashMap::new();
    let mut fired: HashMap<i64, u32> = HashMap::new();
    let mut alert_fp: HashMap<i64, usize> = HashMap::new();
    let mut total_alerts = 0;
    for step in 0..steps {
        let t = range.start + step as i64 * range.step;
        let mut active = Vec::new();
        for (i, (labels, values, _)) in series.iter().enumerate() {
            let v = values[step];
            if v.is_nan() {
                continue;
            }
            let past: Option<Vec<f64>> = (!history.is_empty()).then(|| {
                history
                    .iter()
                    .filter_map(|h| h.get(labels).map(|p| p[step]))
                    .filter(|v| !v.is_nan())
                    .collect()
            });
            if let Some(a) = active_one(rule, labels, v, past.as_ref(), external_url) {
                alert_fp.entry(state::fingerprint(&a.labels)).or_insert(i);
                active.push(a);
            }
        }
        for change in state::advance(&mut instances, active, t, timing) {
            record(&mut spans, &mut fired, &change, &mut total_alerts);
        }
    }
    // Close what is still open at the end.
    for list in spans.values_mut() {
        if let Some(last) = list.last_mut() {
            if last.end == i64::MAX {
                last.end = range.end;
            }
        }
    }
    // The series that alerted most first; only those drawn are copied out.
    let mut fps_of: HashMap<usize, Vec<i64>> = HashMap::new();
    for (fp, i) in &alert_fp {
        fps_of.entry(*i).or_default().push(*fp);
    }
    let no_fps = Vec::new();
    let mut order: Vec<(usize, u32, usize)> = (0..series.len())
        .map(|i| {
            let fps = fps_of.get(&i).unwrap_or(&no_fps);
            let times: u32 = fps
                .iter()
                .map(|fp| fired.get(fp).copied().unwrap_or(0))
                .sum();
            let stretches: usize = fps.iter().map(|fp| spans.get(fp).map_or(0, Vec::len)).sum();
            (i, times, stretches)
        })
        .collect();
    order.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let truncated = order.len() > PREVIEW_MAX_SERIES;
    order.truncate(PREVIEW_MAX_SERIES);
    let out: Vec<PreviewSeries> = order
        .into_iter()
        .map(|(i, times, _)| {
            let (labels, _, points) = &series[i];
            let mut s: Vec<PreviewSpan> = fps_of
                .get(&i)
                .unwrap_or(&no_fps)
                .iter()
                .flat_map(|fp| spans.get(fp).cloned().unwrap_or_default())
                .collect();
            s.sort_by_key(|s| s.start);
            PreviewSeries {
                labels: labels.clone(),
                points: points.clone(),
                spans: s,
                fired: times,
            }
        })
        .collect();
    let (band_fires_inside, thresholds) = (
        matches!(rule.condition, Condition::Inside { .. }),
        rule.condition.lines(),
    );
    Preview {
        start: range.start,
        end: range.end,
        step: range.step,
        query: rule.query.clone(),
        thresholds,
        band_fires_inside,
        series: out,
        alerts: total_alerts,
        truncated,
    }
}

fn record(
    spans: &mut HashMap<i64, Vec<PreviewSpan>>,
    fired: &mut HashMap<i64, u32>,
    change: &Change,
    total: &mut u32,
) {
    let list = spans.entry(change.fingerprint).or_default();
    if let Some(open) = list.last_mut().filter(|s| s.end == i64::MAX) {
        open.end = change.at;
    }
    if matches!(change.to, AlertState::Pending | AlertState::Firing) {
        list.push(PreviewSpan {
            state: change.to,
            start: change.at,
            end: i64::MAX,
        });
    }
    if change.to == AlertState::Firing {
        *fired.entry(change.fingerprint).or_default() += 1;
        *total += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_marks_pending_and_firing_like_the_evaluator() {
        let rule = Rule {
            name: "QueueDeep".into(),
            query: "agent_queue_depth".into(),
            condition: Condition::Above { threshold: 100.0 },
            for_duration: "2m".into(),
            ..Rule::default()
        };
        let labels = AlertLabels::from([("queue_name".into(), "coding".into())]);
        // Above 100 from minute 3 to minute 8, evaluated every minute.
        let points: Vec<(i64, f64)> = (0..12)
            .map(|m| (m * 60_000, if (3..=8).contains(&m) { 150.0 } else { 10.0 }))
            .collect();
        let values = HashMap::from([(labels.clone(), points)]);
        let preview = replay(
            &rule,
            values,
            &[],
            QueryRange {
                start: 0,
                end: 11 * 60_000,
                step: 60_000,
            },
            "",
        );
        assert_eq!(preview.alerts, 1);
        let s = &preview.series[0];
        assert_eq!(s.fired, 1);
        assert_eq!(
            s.spans,
            vec![
                PreviewSpan {
                    state: AlertState::Pending,
                    start: 3 * 60_000,
                    end: 5 * 60_000
                },
                PreviewSpan {
                    state: AlertState::Firing,
                    start: 5 * 60_000,
                    end: 9 * 60_000
                },
            ]
        );
        assert_eq!(preview.thresholds, vec![100.0]);
    }

    #[test]
    fn alert_labels_take_the_rules_labels_over_the_series() {
        let rule = Rule {
            name: "HighMemory".into(),
            labels: BTreeMap::from([
                ("severity".into(), "warning".into()),
                ("who".into(), "{{ $labels.agent_id }}".into()),
            ]),
            ..Rule::default()
        };
        let labels = alert_labels(
            &rule,
            AlertLabels::from([
                ("agent_id".into(), "coder-1".into()),
                ("severity".into(), "info".into()),
            ]),
            1.0,
            "",
        );
        assert_eq!(labels["severity"], "warning");
        assert_eq!(labels["who"], "coder-1");
        assert_eq!(labels[ALERTNAME], "HighMemory");
    }

    #[test]
    fn preview_steps_stay_within_the_point_limit() {
        assert_eq!(preview_step(60_000, 86_400_000), 60_000);
        let step = preview_step(1_000, 86_400_000);
        assert!(86_400_000 / step < MAX_POINTS_PER_SERIES);
    }
}
