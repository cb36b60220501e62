//! Alerting as data: rule groups and their alerting and recording rules (conditions, baselines,
//! no-data and error handling), the simple query builder the rule form writes PromQL with, the
//! shapes of the preview, the rule list, alert instances and their history, contact points and
//! the notification routing tree. [`Rule::validate`] is the one check the API and the form run.

use super::dashboard::ModelError;
use crate::time::{format_duration, parse_duration};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The folder of rules that name none.
pub const DEFAULT_FOLDER: &str = "General";
/// The label every alert carries: the rule's name.
pub const ALERTNAME: &str = "alertname";
/// Shortest and longest evaluation interval of a group.
pub const MIN_INTERVAL_SECONDS: u32 = 1;
pub const MAX_INTERVAL_SECONDS: u32 = 86_400;

/// A group of rules evaluated together, one after the other, every `interval`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleGroup {
    #[serde(default = "default_folder")]
    pub folder: String,
    pub name: String,
    /// A Prometheus duration (`1m`); at least 1 s.
    #[serde(default = "default_interval")]
    pub interval: String,
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Where the group comes from; read-only for provisioned and built-in groups.
    #[serde(default)]
    pub source: RuleSource,
}

fn default_folder() -> String {
    DEFAULT_FOLDER.into()
}

fn default_interval() -> String {
    "1m".into()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    /// Made through the API or the UI.
    #[default]
    Api,
    /// From a rule file in the provisioning directory: edit the file.
    Provisioned,
    /// Shipped with the portal (the "Agent fleet" group).
    BuiltIn,
}

/// What a rule's query reads: metrics (PromQL) or logs (LogQL, counting lines).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    #[default]
    Metrics,
    /// The query is a LogQL metric query (`count_over_time`, `rate`, `sum by`), as Loki's
    /// ruler reads; alerts carry the newest matching lines.
    Logs,
}

impl Signal {
    pub fn is_metrics(&self) -> bool {
        *self == Signal::Metrics
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    #[default]
    Alerting,
    /// Writes the query's result into the store as the series named `name`.
    Recording,
}

/// One rule. Alerting rules fire one alert per series their condition holds for; recording
/// rules store their query's result under a new metric name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable identifier; chosen by the server on create when empty.
    #[serde(default)]
    pub uid: String,
    #[serde(default)]
    pub kind: RuleKind,
    /// What the query reads; metrics unless said.
    #[serde(default, skip_serializing_if = "Signal::is_metrics")]
    pub signal: Signal,
    /// The alert name (`alertname`), or the metric a recording rule writes.
    pub name: String,
    /// PromQL, or LogQL for a log rule.
    pub query: String,
    /// When an alert fires for a series of the query.
    #[serde(default)]
    pub condition: Condition,
    /// Compares the value with its own history instead of (before) the condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// How long the condition must hold before the alert fires (`for`).
    #[serde(default = "zero_duration", rename = "for")]
    pub for_duration: String,
    /// How long an alert keeps firing after its condition stops holding.
    #[serde(default = "zero_duration")]
    pub keep_firing_for: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`, `dashboard_url`, …; templates over
    /// `$labels` and `$value`.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub no_data: NoDataState,
    #[serde(default)]
    pub on_error: ErrorState,
    #[serde(default)]
    pub paused: bool,
    /// The simple-mode choices the query was written from, so the form reopens in that mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleQuery>,
    /// The simple-mode choices of a log rule ("more than N lines matching … in M minutes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple_logs: Option<SimpleLogQuery>,
    /// Sends the rule's alerts straight to this contact point (grouped and timed as the
    /// default route says) instead of through the routing tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_point: Option<String>,
}

fn zero_duration() -> String {
    "0s".into()
}

impl Default for Rule {
    fn default() -> Self {
        Self {
            uid: String::new(),
            kind: RuleKind::Alerting,
            signal: Signal::Metrics,
            name: String::new(),
            query: String::new(),
            condition: Condition::default(),
            baseline: None,
            for_duration: zero_duration(),
            keep_firing_for: zero_duration(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            no_data: NoDataState::default(),
            on_error: ErrorState::default(),
            paused: false,
            simple: None,
            simple_logs: None,
            contact_point: None,
        }
    }
}

/// When an alert fires for a value. `Any` fires for every series the query returns (Prometheus'
/// rules, whose comparison is part of the query).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Condition {
    #[default]
    Any,
    Above {
        threshold: f64,
    },
    Below {
        threshold: f64,
    },
    /// Below `low` or above `high`.
    Outside {
        low: f64,
        high: f64,
    },
    /// From `low` to `high`, both included.
    Inside {
        low: f64,
        high: f64,
    },
    Equal {
        value: f64,
    },
    NotEqual {
        value: f64,
    },
}

impl Condition {
    /// Whether `value` meets the condition. NaN never does (a stale or undefined value).
    pub fn holds(&self, value: f64) -> bool {
        if value.is_nan() {
            return false;
        }
        match *self {
            Self::Any => true,
            Self::Above { threshold } => value > threshold,
            Self::Below { threshold } => value < threshold,
            Self::Outside { low, high } => value < low || value > high,
            Self::Inside { low, high } => value >= low && value <= high,
            Self::Equal { value: v } => value == v,
            Self::NotEqual { value: v } => value != v,
        }
    }

    /// How people read it: `> 100`, `outside 1 … 5`.
    pub fn describe(&self) -> String {
        match self {
            Self::Any => "any result".into(),
            Self::Above { threshold } => format!("> {threshold}"),
            Self::Below { threshold } => format!("< {threshold}"),
            Self::Outside { low, high } => format!("outside {low} … {high}"),
            Self::Inside { low, high } => format!("within {low} … {high}"),
            Self::Equal { value } => format!("== {value}"),
            Self::NotEqual { value } => format!("!= {value}"),
        }
    }

    /// The threshold lines a chart draws for it.
    pub fn lines(&self) -> Vec<f64> {
        match *self {
            Self::Any => vec![],
            Self::Above { threshold } | Self::Below { threshold } => vec![threshold],
            Self::Outside { low, high } | Self::Inside { low, high } => vec![low, high],
            Self::Equal { value } | Self::NotEqual { value } => vec![value],
        }
    }

    /// The PromQL comparison that filters a query the same way (`None` for `Any`).
    pub fn promql(&self, query: &str) -> Option<String> {
        let q = format!("({query})");
        Some(match *self {
            Self::Any => return None,
            Self::Above { threshold } => format!("{q} > {threshold}"),
            Self::Below { threshold } => format!("{q} < {threshold}"),
            Self::Outside { low, high } => format!("{q} < {low} or {q} > {high}"),
            Self::Inside { low, high } => format!("{q} >= {low} and {q} <= {high}"),
            Self::Equal { value } => format!("{q} == {value}"),
            Self::NotEqual { value } => format!("{q} != {value}"),
        })
    }
}

/// A comparison of the value with its own history, which fixed thresholds cannot express.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Baseline {
    /// More than `sigmas` standard deviations away from the mean of the values at the same time
    /// of day on each of the last `days` days.
    Deviation { days: u32, sigmas: f64 },
    /// More than `percent` % above (or, when negative, below) the value `offset` ago.
    Change { offset: String, percent: f64 },
}

impl Baseline {
    /// The instants (ms before the evaluation time) whose values make the baseline.
    pub fn offsets_ms(&self) -> Vec<i64> {
        match self {
            Self::Deviation { days, .. } => {
                (1..=i64::from(*days)).map(|d| d * 86_400_000).collect()
            }
            Self::Change { offset, .. } => vec![parse_duration(offset)
                .map(|d| d.num_milliseconds())
                .unwrap_or(0)],
        }
    }

    /// Whether `value` departs from `history` (the values at [`Self::offsets_ms`], those that
    /// exist). Too little history never fires.
    pub fn departs(&self, value: f64, history: &[f64]) -> bool {
        if value.is_nan() {
            return false;
        }
        let history: Vec<f64> = history.iter().copied().filter(|v| v.is_finite()).collect();
        match *self {
            Self::Deviation { sigmas, .. } => {
                if history.len() < 2 {
                    return false;
                }
                let n = history.len() as f64;
                let mean = history.iter().sum::<f64>() / n;
                let var = history.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                (value - mean).abs() > sigmas * var.sqrt()
            }
            Self::Change { percent, .. } => {
                let Some(&before) = history.first() else {
                    return false;
                };
                let limit = before * (1.0 + percent / 100.0);
                if percent >= 0.0 {
                    value > limit
                } else {
                    value < limit
                }
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Deviation { days, sigmas } => {
                format!("more than {sigmas}σ from the same time over the last {days} days")
            }
            Self::Change { offset, percent } if *percent >= 0.0 => {
                format!("more than {percent}% above the value {offset} ago")
            }
            Self::Change { offset, percent } => {
                format!("more than {}% below the value {offset} ago", -percent)
            }
        }
    }
}

/// What a rule does when its query returns nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoDataState {
    /// Nothing fires (Prometheus' behaviour).
    #[default]
    Ok,
    /// One alert (the rule's labels only) goes through pending and firing.
    Alerting,
    /// The rule shows a separate "no data" state; nothing is notified.
    NoData,
}

/// What a rule does when its query fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorState {
    /// Alerts stay as they were; the rule's health shows the error.
    #[default]
    KeepLast,
    /// One alert (the rule's labels and `error="true"`) goes through pending and firing.
    Alerting,
}

/// The simple mode of the rule form: a metric, an aggregation and grouping labels, written
/// out as PromQL by [`SimpleQuery::promql`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimpleQuery {
    pub metric: String,
    /// Label matchers inside the braces, e.g. `queue_name="coding"`; may be empty.
    #[serde(default)]
    pub filter: String,
    #[serde(default)]
    pub aggregation: Aggregation,
    /// The window of rate, increase and the quantiles (`5m`).
    #[serde(default = "default_window")]
    pub window: String,
    #[serde(default)]
    pub group_by: Vec<String>,
}

fn default_window() -> String {
    "5m".into()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The value as it is (max over the grouping, so a group is one series).
    #[default]
    Last,
    Avg,
    Max,
    Min,
    Sum,
    /// Per-second rate of a counter.
    Rate,
    /// Increase of a counter over the window.
    Increase,
    /// Quantiles of a histogram (`_bucket` series).
    P50,
    P90,
    P95,
    P99,
}

impl Aggregation {
    pub const ALL: [Aggregation; 11] = [
        Self::Last,
        Self::Avg,
        Self::Max,
        Self::Min,
        Self::Sum,
        Self::Rate,
        Self::Increase,
        Self::P50,
        Self::P90,
        Self::P95,
        Self::P99,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Last => "last",
            Self::Avg => "avg",
            Self::Max => "max",
            Self::Min => "min",
            Self::Sum => "sum",
            Self::Rate => "rate",
            Self::Increase => "increase",
            Self::P50 => "p50",
            Self::P90 => "p90",
            Self::P95 => "p95",
            Self::P99 => "p99",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Last => "Last value",
            Self::Avg => "Average",
            Self::Max => "Maximum",
            Self::Min => "Minimum",
            Self::Sum => "Sum",
            Self::Rate => "Rate per second (counter)",
            Self::Increase => "Increase over the window (counter)",
            Self::P50 => "Median (histogram)",
            Self::P90 => "90th percentile (histogram)",
            Self::P95 => "95th percentile (histogram)",
            Self::P99 => "99th percentile (histogram)",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }

    fn quantile(self) -> Option<&'static str> {
        Some(match self {
            Self::P50 => "0.5",
            Self::P90 => "0.9",
            Self::P95 => "0.95",
            Self::P99 => "0.99",
            _ => return None,
        })
    }
}

impl SimpleQuery {
    /// The PromQL this stands for, e.g. `histogram_quantile(0.95, sum by (agent_id, le)
    /// (rate(agent_task_duration_seconds_bucket[5m])))`.
    pub fn promql(&self) -> String {
        let filter = self.filter.trim();
        let metric = self.metric.trim();
        let by = |extra: Option<&str>| {
            let mut labels: Vec<&str> = self.group_by.iter().map(|s| s.trim()).collect();
            labels.extend(extra);
            labels.retain(|l| !l.is_empty());
            if labels.is_empty() {
                String::new()
            } else {
                format!(" by ({})", labels.join(", "))
            }
        };
        let window = self.window.trim();
        match self.aggregation.quantile() {
            Some(q) => {
                let base = metric.strip_suffix("_bucket").unwrap_or(metric);
                let selector = if filter.is_empty() {
                    format!("{base}_bucket")
                } else {
                    format!("{base}_bucket{{{filter}}}")
                };
                format!(
                    "histogram_quantile({q}, sum{} (rate({selector}[{window}])))",
                    by(Some("le"))
                )
            }
            None => {
                let selector = if filter.is_empty() {
                    metric.to_string()
                } else {
                    format!("{metric}{{{filter}}}")
                };
                let (op, inner) = match self.aggregation {
                    Aggregation::Last | Aggregation::Max => ("max", selector),
                    Aggregation::Avg => ("avg", selector),
                    Aggregation::Min => ("min", selector),
                    Aggregation::Sum => ("sum", selector),
                    Aggregation::Rate => ("sum", format!("rate({selector}[{window}])")),
                    Aggregation::Increase => ("sum", format!("increase({selector}[{window}])")),
                    _ => unreachable!("quantiles are handled above"),
                };
                format!("{op}{} ({inner})", by(None))
            }
        }
    }
}

/// A log rule's simple mode: lines of the streams `selector` picks, containing `contains`, at
/// `level` or above, counted over `window` per `group_by`; written out as LogQL by
/// [`SimpleLogQuery::logql`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SimpleLogQuery {
    /// Stream matchers inside the braces, e.g. `service_name="coder"`; empty for every stream.
    #[serde(default)]
    pub selector: String,
    /// Text the line must contain (case-sensitive, as LogQL's `|=`); may be empty.
    #[serde(default)]
    pub contains: String,
    /// The lowest level counted (`warn` counts warn, error and fatal); empty for any level.
    #[serde(default)]
    pub level: String,
    #[serde(default = "default_window")]
    pub window: String,
    #[serde(default)]
    pub group_by: Vec<String>,
}

/// Levels from the lowest, as a log rule's simple mode offers them.
pub const LOG_LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

/// A LogQL `"…"` string.
fn logql_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl SimpleLogQuery {
    /// The LogQL this stands for, e.g. `sum by (agent_id) (count_over_time({service_name="coder"}
    /// |= "timeout" | level=~"error|fatal" [5m]))`.
    pub fn logql(&self) -> String {
        let mut pipeline = String::new();
        let contains = self.contains.trim();
        if !contains.is_empty() {
            pipeline.push_str(&format!(" |= {}", logql_string(contains)));
        }
        let level = self.level.trim();
        if let Some(from) = LOG_LEVELS.iter().position(|l| *l == level) {
            let levels = LOG_LEVELS[from..].join("|");
            pipeline.push_str(&format!(" | level=~\"{levels}\""));
        }
        let labels: Vec<&str> = self
            .group_by
            .iter()
            .map(|s| s.trim())
            .filter(|l| !l.is_empty())
            .collect();
        let by = if labels.is_empty() {
            String::new()
        } else {
            format!(" by ({})", labels.join(", "))
        };
        format!(
            "sum{by} (count_over_time({{{}}}{pipeline} [{}]))",
            self.selector.trim(),
            self.window.trim()
        )
    }

    /// Problems with the choices, each naming its field (`simple_logs.window`, …).
    pub fn validate(&self) -> Vec<ModelError> {
        let mut errors = Vec::new();
        match duration_field("simple_logs.window", &self.window) {
            Ok(ms) if !(1000..=86_400_000).contains(&ms) => errors.push(error(
                "simple_logs.window",
                "must be from 1 second to 1 day",
            )),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
        let level = self.level.trim();
        if !level.is_empty() && !LOG_LEVELS.contains(&level) {
            errors.push(error(
                "simple_logs.level",
                format!(
                    "must be one of {} (or empty for any level)",
                    LOG_LEVELS.join(", ")
                ),
            ));
        }
        for label in &self.group_by {
            if !is_label_name(label.trim()) {
                errors.push(error(
                    "simple_logs.group_by",
                    format!("\"{label}\" is not a label name (letters, digits and '_')"),
                ));
            }
        }
        errors
    }
}

/// Whether `uid` can be a rule identifier (it is part of URLs).
pub fn is_rule_uid(uid: &str) -> bool {
    (1..=40).contains(&uid.len())
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn error(field: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError {
        field: field.into(),
        message: message.into(),
    }
}

/// Reads a non-negative duration field, naming it when it is not one.
pub fn duration_field(field: &str, text: &str) -> Result<i64, ModelError> {
    let ms = parse_duration(text)
        .map_err(|e| error(field, e))?
        .num_milliseconds();
    if ms < 0 {
        return Err(error(field, "must not be negative"));
    }
    Ok(ms)
}

/// Writes milliseconds as a Prometheus duration.
pub fn duration_text(ms: i64) -> String {
    format_duration(chrono::Duration::milliseconds(ms))
}

impl Rule {
    /// Every problem with the rule, each naming its field (`for`, `labels.team`, …). The query's
    /// PromQL is checked by the server's parser, not here.
    pub fn validate(&self) -> Vec<ModelError> {
        let mut errors = Vec::new();
        if !self.uid.is_empty() && !is_rule_uid(&self.uid) {
            errors.push(error(
                "uid",
                "must be 1–40 letters, digits, '-' or '_' (it is part of URLs)",
            ));
        }
        if self.signal == Signal::Logs && self.kind == RuleKind::Recording {
            errors.push(error(
                "signal",
                "a recording rule writes metrics from PromQL; count lines in an alerting rule",
            ));
        }
        if let Some(simple) = &self.simple_logs {
            errors.extend(simple.validate());
        }
        let name = self.name.trim();
        match self.kind {
            RuleKind::Alerting if name.is_empty() => {
                errors.push(error("name", "must not be empty"))
            }
            RuleKind::Alerting if name.len() > 200 => {
                errors.push(error("name", "must be at most 200 characters"))
            }
            RuleKind::Recording if !is_metric_name(name) => errors.push(error(
                "name",
                "a recording rule's name is the metric it writes: letters, digits, '_' and ':', not starting with a digit",
            )),
            _ => {}
        }
        if self.query.trim().is_empty() {
            errors.push(error("query", "must not be empty"));
        } else if self.query.len() > 10_000 {
            errors.push(error("query", "must be at most 10,000 characters"));
        }
        let number = |field: &str, v: f64, errors: &mut Vec<ModelError>| {
            if !v.is_finite() {
                errors.push(error(field, "must be a finite number"));
            }
        };
        match self.condition {
            Condition::Any => {}
            Condition::Above { threshold } | Condition::Below { threshold } => {
                number("condition.threshold", threshold, &mut errors)
            }
            Condition::Equal { value } | Condition::NotEqual { value } => {
                number("condition.value", value, &mut errors)
            }
            Condition::Outside { low, high } | Condition::Inside { low, high } => {
                number("condition.low", low, &mut errors);
                number("condition.high", high, &mut errors);
                if low > high {
                    errors.push(error("condition.high", "must not be below the low bound"));
                }
            }
        }
        match &self.baseline {
            Some(Baseline::Deviation { days, sigmas }) => {
                if !(2..=28).contains(days) {
                    errors.push(error("baseline.days", "must be from 2 to 28 days"));
                }
                if !(sigmas.is_finite() && *sigmas > 0.0) {
                    errors.push(error("baseline.sigmas", "must be a positive number"));
                }
            }
            Some(Baseline::Change { offset, percent }) => {
                match duration_field("baseline.offset", offset) {
                    Ok(ms) if !(60_000..=28 * 86_400_000).contains(&ms) => {
                        errors.push(error("baseline.offset", "must be from 1 minute to 4 weeks"))
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
                if !(percent.is_finite() && *percent != 0.0 && *percent >= -100.0) {
                    errors.push(error(
                        "baseline.percent",
                        "must be a number other than 0, and not below -100",
                    ));
                }
            }
            None => {}
        }
        for (field, text) in [
            ("for", &self.for_duration),
            ("keep_firing_for", &self.keep_firing_for),
        ] {
            match duration_field(field, text) {
                Ok(ms) if ms > 7 * 86_400_000 => {
                    errors.push(error(field, "must be at most 7 days"))
                }
                Ok(_) => {}
                Err(e) => errors.push(e),
            }
        }
        for (name, value) in &self.labels {
            if !is_label_name(name) || name.starts_with("__") {
                errors.push(error(
                    format!("labels.{name}"),
                    "a label name is letters, digits and '_', not starting with a digit or '__'",
                ));
            } else if name == ALERTNAME {
                errors.push(error(
                    format!("labels.{name}"),
                    "alertname is the rule's name; it cannot be set as a label",
                ));
            } else if value.len() > 1_000 {
                errors.push(error(format!("labels.{name}"), "at most 1,000 characters"));
            }
        }
        for (name, value) in &self.annotations {
            if !is_label_name(name) {
                errors.push(error(
                    format!("annotations.{name}"),
                    "an annotation name is letters, digits and '_', not starting with a digit",
                ));
            } else if value.len() > 10_000 {
                errors.push(error(
                    format!("annotations.{name}"),
                    "at most 10,000 characters",
                ));
            }
        }
        if self.labels.len() > 50 || self.annotations.len() > 50 {
            errors.push(error("labels", "at most 50 labels and 50 annotations"));
        }
        errors
    }

    pub fn for_ms(&self) -> i64 {
        duration_field("for", &self.for_duration).unwrap_or(0)
    }

    pub fn keep_firing_for_ms(&self) -> i64 {
        duration_field("keep_firing_for", &self.keep_firing_for).unwrap_or(0)
    }
}

impl RuleGroup {
    /// Problems with the group's own fields (its rules are checked one by one).
    pub fn validate(&self) -> Vec<ModelError> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() || self.name.len() > 200 {
            errors.push(error("name", "must be 1–200 characters"));
        }
        if self.folder.trim().is_empty() || self.folder.len() > 200 {
            errors.push(error("folder", "must be 1–200 characters"));
        }
        match duration_field("interval", &self.interval) {
            Ok(ms)
                if ms < i64::from(MIN_INTERVAL_SECONDS) * 1000
                    || ms > i64::from(MAX_INTERVAL_SECONDS) * 1000
                    || ms % 1000 != 0 =>
            {
                errors.push(error("interval", "must be whole seconds from 1s to 1d"))
            }
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
        if self.rules.len() > 1_000 {
            errors.push(error("rules", "at most 1,000 rules in one group"));
        }
        errors
    }

    pub fn interval_ms(&self) -> i64 {
        duration_field("interval", &self.interval).unwrap_or(60_000)
    }
}

/// The state of an alert instance (one per series of a rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
    /// The rule's query returned nothing and the rule says so (see [`NoDataState::NoData`]).
    #[serde(rename = "nodata")]
    NoData,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::NoData => "nodata",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "inactive" | "normal" | "resolved" => Self::Inactive,
            "pending" => Self::Pending,
            "firing" => Self::Firing,
            "nodata" => Self::NoData,
            _ => return None,
        })
    }
}

/// How a rule's last evaluation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleHealth {
    #[default]
    Unknown,
    Ok,
    Error,
}

/// A rule as the rule list shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleSummary {
    pub rule: Rule,
    pub folder: String,
    pub group: String,
    pub interval: String,
    pub source: RuleSource,
    /// The most severe state of its alerts (firing > pending > nodata > inactive).
    pub state: AlertState,
    pub firing: u32,
    pub pending: u32,
    pub health: RuleHealth,
    pub last_evaluation: Option<DateTime<Utc>>,
    pub evaluation_ms: Option<f64>,
    pub last_error: Option<String>,
    /// Times an alert of the rule started firing in the last 7 days.
    pub fired_7d: u64,
}

/// A live alert: one series of a rule that is pending, firing or without data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule_uid: String,
    pub rule_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub state: AlertState,
    /// Since when the condition has held.
    pub active_at: DateTime<Utc>,
    pub fired_at: Option<DateTime<Utc>>,
    pub value: f64,
    /// Muted by a silence (see the silences page).
    #[serde(default)]
    pub silenced: bool,
    /// The ids of the silences muting it.
    #[serde(default)]
    pub silenced_by: Vec<String>,
    /// The firing alerts muting it through an inhibition rule, as `name{label="value", …}`.
    #[serde(default)]
    pub inhibited_by: Vec<String>,
    /// For an alert another tool sent (its `generatorURL`); the portal's own have a rule.
    #[serde(default)]
    pub source_url: String,
}

/// One state change of one alert instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub rule_uid: String,
    pub labels: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
    pub from: AlertState,
    pub to: AlertState,
    pub value: f64,
}

/// A rule's history over a range: its changes and what they add up to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleHistory {
    pub changes: Vec<StateChange>,
    /// Changes to firing in the range.
    pub times_fired: u64,
    /// Mean seconds from firing to resolved, over alerts that resolved in the range.
    pub mean_time_to_resolve_seconds: Option<f64>,
    /// The label values that fired most: (label, value, times).
    pub top_labels: Vec<(String, String, u64)>,
    /// Set when more changes than fit in one answer exist.
    pub truncated: bool,
}

/// Ask for a preview of a rule over a range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewRequest {
    pub rule: Rule,
    /// Evaluation interval of the rule's group (`1m`).
    #[serde(default = "default_interval")]
    pub interval: String,
    /// Milliseconds since the epoch; default the last 24 hours.
    #[serde(default)]
    pub start: Option<i64>,
    #[serde(default)]
    pub end: Option<i64>,
}

/// A stretch of time an alert would have been pending or firing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewSpan {
    pub state: AlertState,
    pub start: i64,
    pub end: i64,
}

/// One series of a preview: its values at every evaluation and when it would have alerted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreviewSeries {
    pub labels: BTreeMap<String, String>,
    pub points: Vec<(i64, f64)>,
    pub spans: Vec<PreviewSpan>,
    /// Times it would have started firing (each one a notification).
    pub fired: u32,
}

/// What a rule would have done over a range, computed by the live evaluator's code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub query: String,
    /// Threshold lines (one, or the two bounds of a band).
    pub thresholds: Vec<f64>,
    /// Whether the band between two thresholds is where it fires (`inside`) or outside it.
    pub band_fires_inside: bool,
    pub series: Vec<PreviewSeries>,
    /// Alerts it would have sent over the range.
    pub alerts: u32,
    /// Set when there were more series than a preview draws.
    pub truncated: bool,
}

/// Where notifications go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContactPoint {
    /// Stable name, used by routes.
    pub name: String,
    #[serde(flatten)]
    pub kind: ContactKind,
    /// Message templates over the notification (`{{ $status }}`, `{{ $alertname }}`,
    /// `{{ $labels.x }}` for labels all its alerts share, `{{ $alerts }}` for the list).
    #[serde(default)]
    pub title_template: String,
    #[serde(default)]
    pub body_template: String,
    /// Also tell when alerts resolve.
    #[serde(default = "yes")]
    pub send_resolved: bool,
    /// Secret fields that are set but, once saved, never shown again (their values come back
    /// blank): a save that leaves one blank keeps it; a value replaces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configured: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContactKind {
    /// Alertmanager's webhook payload (version 4), POSTed as JSON.
    Webhook {
        url: String,
        /// Most alerts in one message (0: all).
        #[serde(default)]
        max_alerts: u32,
    },
    /// A Slack incoming webhook.
    Slack {
        url: String,
        #[serde(default)]
        channel: String,
    },
    /// PagerDuty Events API v2.
    Pagerduty {
        routing_key: String,
        /// The events endpoint; PagerDuty's own by default.
        #[serde(default = "pagerduty_url")]
        url: String,
        #[serde(default = "pagerduty_severity")]
        severity: String,
    },
    /// Email over SMTP (plain or STARTTLS-less submission on a local relay).
    Email {
        /// `host:port`.
        smtp: String,
        from: String,
        to: Vec<String>,
    },
}

fn pagerduty_url() -> String {
    "https://events.pagerduty.com/v2/enqueue".into()
}

fn pagerduty_severity() -> String {
    "error".into()
}

impl ContactPoint {
    /// The fields of this kind that hold secrets (a webhook's or Slack's URL carries its token,
    /// PagerDuty's routing key is one), by name.
    fn secrets_mut(&mut self) -> Vec<(&'static str, &mut String)> {
        match &mut self.kind {
            ContactKind::Webhook { url, .. } | ContactKind::Slack { url, .. } => vec![("url", url)],
            ContactKind::Pagerduty { routing_key, .. } => vec![("routing_key", routing_key)],
            ContactKind::Email { .. } => Vec::new(),
        }
    }

    /// The point as it is shown once saved: each secret that is set blanked and named in
    /// `configured`.
    pub fn masked(mut self) -> Self {
        let mut configured = Vec::new();
        for (name, value) in self.secrets_mut() {
            if !value.is_empty() {
                value.clear();
                configured.push(name.to_string());
            }
        }
        self.configured = configured;
        self
    }

    /// Fills the secrets left blank with the ones `stored` (the point as saved, of the same
    /// kind) holds: "keep what is configured". `configured` is what was shown, never saved.
    pub fn keep_secrets_of(&mut self, stored: &ContactPoint) {
        self.configured.clear();
        if std::mem::discriminant(&self.kind) != std::mem::discriminant(&stored.kind) {
            return;
        }
        let mut stored = stored.clone();
        let kept: Vec<(&'static str, String)> = stored
            .secrets_mut()
            .into_iter()
            .map(|(name, value)| (name, value.clone()))
            .collect();
        for (name, value) in self.secrets_mut() {
            if value.trim().is_empty() {
                if let Some((_, old)) = kept.iter().find(|(n, _)| *n == name) {
                    *value = old.clone();
                }
            }
        }
    }

    /// Whether secret `field` is left blank to keep the configured one.
    fn keeps(&self, field: &str, value: &str) -> bool {
        value.is_empty() && self.configured.iter().any(|c| c == field)
    }

    pub fn validate(&self) -> Vec<ModelError> {
        let mut errors = Vec::new();
        if !is_rule_uid(&self.name) {
            errors.push(error("name", "must be 1–40 letters, digits, '-' or '_'"));
        }
        let url_ok = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match &self.kind {
            ContactKind::Webhook { url, .. } | ContactKind::Slack { url, .. } => {
                if !url_ok(url) && !self.keeps("url", url) {
                    errors.push(error("url", "must be an http:// or https:// URL"));
                }
            }
            ContactKind::Pagerduty {
                routing_key,
                url,
                severity,
            } => {
                if routing_key.trim().is_empty() && !self.keeps("routing_key", routing_key) {
                    errors.push(error("routing_key", "must not be empty"));
                }
                if !url_ok(url) {
                    errors.push(error("url", "must be an http:// or https:// URL"));
                }
                if !["critical", "error", "warning", "info"].contains(&severity.as_str()) {
                    errors.push(error(
                        "severity",
                        "must be critical, error, warning or info",
                    ));
                }
            }
            ContactKind::Email { smtp, from, to } => {
                if smtp
                    .rsplit_once(':')
                    .is_none_or(|(host, port)| host.is_empty() || port.parse::<u16>().is_err())
                {
                    errors.push(error("smtp", "must be host:port"));
                }
                let address = |a: &str| {
                    a.contains('@')
                        && !a
                            .chars()
                            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
                };
                if !address(from) {
                    errors.push(error("from", "must be an email address"));
                }
                if to.is_empty() || to.len() > 100 || to.iter().any(|a| !address(a)) {
                    errors.push(error("to", "must be one or more email addresses"));
                }
            }
        }
        if self.title_template.len() > 10_000 || self.body_template.len() > 10_000 {
            errors.push(error("body_template", "at most 10,000 characters"));
        }
        errors
    }
}

/// A label matcher: `name op "value"` with `=`, `!=`, `=~` or `!~`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regex,
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// `name="value"` text of matchers, as the silence form and `amtool` write them.
pub fn matchers_text(matchers: &[LabelMatcher]) -> String {
    matchers
        .iter()
        .map(|m| format!("{}{}{:?}", m.name, m.op.as_str(), m.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `{a="b", c=~"d.*"}` or `a="b",c!="d"` into matchers.
pub fn parse_matchers(text: &str) -> Result<Vec<LabelMatcher>, String> {
    let text = text.trim();
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text)
        .trim();
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| format!("matcher \"{rest}\" has no operator"))?;
        let name = rest[..name_end].trim().to_string();
        if !is_label_name(&name) {
            return Err(format!("\"{name}\" is not a label name"));
        }
        rest = rest[name_end..].trim_start();
        let op = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find(|(s, _)| rest.starts_with(s))
        .ok_or_else(|| format!("matcher for \"{name}\" needs =, !=, =~ or !~"))?;
        rest = rest[op.0.len()..].trim_start();
        let (value, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(match n {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unclosed quote in the value of \"{name}\""))?;
            (value, &quoted[end + 1..])
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            (rest[..end].trim().to_string(), &rest[end..])
        };
        out.push(LabelMatcher {
            name,
            op: op.1,
            value,
        });
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Ok(out)
}

/// A node of the notification routing tree: alerts matching `matchers` go to `receiver` (or to
/// the first matching child), grouped by `group_by`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// The contact point; empty inherits the parent's.
    #[serde(default)]
    pub receiver: String,
    #[serde(default)]
    pub matchers: Vec<LabelMatcher>,
    /// Labels that split alerts into notifications; `["..."]` groups by every label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<String>,
    /// Go on matching the next siblings after this one matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    #[serde(default)]
    pub routes: Vec<Route>,
}

impl Default for Route {
    fn default() -> Self {
        Self {
            receiver: String::new(),
            matchers: Vec::new(),
            group_by: Some(vec![ALERTNAME.into()]),
            group_wait: Some("30s".into()),
            group_interval: Some("5m".into()),
            repeat_interval: Some("4h".into()),
            continue_matching: false,
            routes: Vec::new(),
        }
    }
}

/// The whole notification set-up: contact points and the routing tree whose root is the
/// default route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NotificationPolicy {
    pub root: Route,
}

/// One delivery attempt of a notification, as the notification log keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub id: i64,
    pub receiver: String,
    pub group_key: String,
    pub status: String,
    pub alerts: u32,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// `sending`, `delivered` or `failed`.
    pub outcome: String,
    /// The receiver's answer (status line and the start of its body) or the error.
    pub response: String,
}

/// Save one rule into a folder and group (made with `interval` when new).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveRule {
    #[serde(default = "default_folder")]
    pub folder: String,
    pub group: String,
    /// The group's interval when the group is new or changes it.
    #[serde(default)]
    pub interval: Option<String>,
    pub rule: Rule,
}

/// Where alerts with some labels would be notified: one entry per route they reach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteMatch {
    pub path: String,
    pub receiver: String,
    /// `None`: grouped by every label.
    pub group_by: Option<Vec<String>>,
    pub group_wait_ms: i64,
    pub group_interval_ms: i64,
    pub repeat_interval_ms: i64,
}

/// Ask where alerts with `labels` would be notified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteQuery {
    pub labels: BTreeMap<String, String>,
}

/// What a contact point's "send test" got back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    pub delivered: bool,
    /// The receiver's answer, or why it could not be reached.
    pub answer: String,
}

/// The answer of an import of Prometheus rule files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub groups: u32,
    pub rules: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_log_queries_write_the_logql_they_stand_for() {
        let mut q = SimpleLogQuery {
            selector: "service=\"coder\"".into(),
            contains: "say \"hi\"".into(),
            level: "error".into(),
            window: "5m".into(),
            group_by: vec!["agent_id".into()],
        };
        assert_eq!(
            q.logql(),
            r#"sum by (agent_id) (count_over_time({service="coder"} |= "say \"hi\"" | level=~"error|fatal" [5m]))"#
        );
        q = SimpleLogQuery {
            window: "10m".into(),
            ..SimpleLogQuery::default()
        };
        assert_eq!(q.logql(), "sum (count_over_time({} [10m]))");
        assert!(q.validate().is_empty());
        q.level = "loud".into();
        q.window = "0s".into();
        let fields: Vec<String> = q.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["simple_logs.window", "simple_logs.level"]);
    }

    #[test]
    fn a_log_rule_cannot_record() {
        let rule = Rule {
            kind: RuleKind::Recording,
            signal: Signal::Logs,
            name: "lines:rate5m".into(),
            query: "sum(rate({} [5m]))".into(),
            ..Rule::default()
        };
        assert_eq!(rule.validate()[0].field, "signal");
    }

    #[test]
    fn simple_queries_write_the_promql_they_stand_for() {
        let mut q = SimpleQuery {
            metric: "agent_queue_depth".into(),
            aggregation: Aggregation::Max,
            group_by: vec!["queue_name".into()],
            ..SimpleQuery::default()
        };
        q.window = "5m".into();
        assert_eq!(q.promql(), "max by (queue_name) (agent_queue_depth)");
        q.aggregation = Aggregation::P95;
        q.metric = "agent_task_duration_seconds_bucket".into();
        q.filter = "agent_type=\"coder\"".into();
        assert_eq!(
            q.promql(),
            "histogram_quantile(0.95, sum by (queue_name, le) (rate(agent_task_duration_seconds_bucket{agent_type=\"coder\"}[5m])))"
        );
        q.aggregation = Aggregation::Increase;
        q.group_by.clear();
        q.metric = "agent_task_failure_total".into();
        q.filter.clear();
        assert_eq!(q.promql(), "sum (increase(agent_task_failure_total[5m]))");
    }

    #[test]
    fn conditions_and_baselines_decide() {
        assert!(Condition::Above { threshold: 100.0 }.holds(101.0));
        assert!(!Condition::Above { threshold: 100.0 }.holds(100.0));
        assert!(!Condition::Any.holds(f64::NAN));
        assert!(Condition::Outside {
            low: 1.0,
            high: 2.0
        }
        .holds(3.0));
        assert!(Condition::Inside {
            low: 1.0,
            high: 2.0
        }
        .holds(2.0));
        let deviation = Baseline::Deviation {
            days: 7,
            sigmas: 3.0,
        };
        let history = [10.0, 11.0, 9.0, 10.0, 10.5, 9.5, 10.0];
        assert!(deviation.departs(20.0, &history));
        assert!(!deviation.departs(11.0, &history));
        assert!(!deviation.departs(20.0, &[10.0]), "one day is no baseline");
        let change = Baseline::Change {
            offset: "1w".into(),
            percent: 50.0,
        };
        assert!(change.departs(16.0, &[10.0]));
        assert!(!change.departs(15.0, &[10.0]));
        assert_eq!(change.offsets_ms(), vec![7 * 86_400_000]);
    }

    #[test]
    fn validation_names_each_field() {
        let rule = Rule {
            name: "".into(),
            query: "up".into(),
            for_duration: "5 minutes".into(),
            condition: Condition::Inside {
                low: 5.0,
                high: 1.0,
            },
            labels: BTreeMap::from([("alertname".into(), "x".into()), ("1x".into(), "y".into())]),
            ..Rule::default()
        };
        let fields: Vec<String> = rule.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "name",
                "condition.high",
                "for",
                "labels.1x",
                "labels.alertname"
            ]
        );
    }

    #[test]
    fn matchers_parse_like_alertmanager() {
        let m = parse_matchers(r#"{severity="critical", team=~"a|b",x!="q\"z"}"#).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].op, MatchOp::Regex);
        assert_eq!(m[2].value, "q\"z");
        assert!(parse_matchers("a").is_err());
        assert!(parse_matchers("a=\"b").is_err());
        assert_eq!(parse_matchers("").unwrap(), vec![]);
    }
}
