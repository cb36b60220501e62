//! Dashboards as data: the JSON model the API stores, versions, serves, imports and exports, and
//! the shapes of the dashboard, sharing and rendering endpoints. The model is documented in
//! `docs/dashboards.md`; [`Dashboard::validate`] is the one check both the API and the editor run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Panels are placed on a grid this many columns wide (as in Grafana, so imported layouts keep
/// their shape); a row of the grid is [`GRID_ROW_PX`] pixels high.
pub const GRID_COLUMNS: u32 = 24;
pub const GRID_ROW_PX: u32 = 30;

/// A whole dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Stable identifier used in URLs; chosen by the server on create when empty.
    #[serde(default)]
    pub uid: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// A folder name; empty for the top level.
    #[serde(default)]
    pub folder: String,
    /// The default time range, in the time picker's syntax (`now-6h`, `now`, RFC 3339).
    #[serde(default)]
    pub time: TimeSpec,
    /// The default auto-refresh interval (`30s`, `5m`…); empty for off.
    #[serde(default)]
    pub refresh: String,
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// Panels and rows in reading order; a row holds the panels after it up to the next row.
    #[serde(default)]
    pub panels: Vec<Panel>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimeSpec {
    pub from: String,
    pub to: String,
}

impl Default for TimeSpec {
    fn default() -> Self {
        Self {
            from: "now-6h".into(),
            to: "now".into(),
        }
    }
}

/// A template variable, used as `$name` or `${name}` in panel queries and titles.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(flatten)]
    pub source: VariableSource,
    /// Several values may be selected at once.
    #[serde(default)]
    pub multi: bool,
    /// An "All" choice that selects every value.
    #[serde(default)]
    pub include_all: bool,
    /// The values selected when the URL names none; empty selects the first (or All).
    #[serde(default)]
    pub current: Vec<String>,
}

/// Where a variable's values come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VariableSource {
    /// `label_values(label)`, `label_values(selector, label)`, `metrics(regex)` or
    /// `query_result(expr)`, as in Grafana's Prometheus data source; may use other variables.
    Query {
        query: String,
        /// Keeps only values matching this regular expression (its first group when it has one).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        regex: String,
    },
    /// A fixed list, comma-separated.
    Custom { values: String },
    /// Durations, comma-separated (`1m,5m,1h`).
    Interval { values: String },
}

/// A position on the grid, in columns (of [`GRID_COLUMNS`]) and grid rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GridPos {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelKind {
    Timeseries,
    Bar,
    Stat,
    Gauge,
    Table,
    Heatmap,
    Text,
    /// The live alerts of the portal's rules, narrowed by label matchers.
    #[serde(rename = "alertlist")]
    AlertList,
    /// The newest log lines matching a search, in the query language of Explore → Logs.
    Logs,
    /// A collapsible row heading.
    Row,
}

impl PanelKind {
    pub const ALL: [PanelKind; 10] = [
        Self::Timeseries,
        Self::Bar,
        Self::Stat,
        Self::Gauge,
        Self::Table,
        Self::Heatmap,
        Self::Text,
        Self::AlertList,
        Self::Logs,
        Self::Row,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeseries => "timeseries",
            Self::Bar => "bar",
            Self::Stat => "stat",
            Self::Gauge => "gauge",
            Self::Table => "table",
            Self::Heatmap => "heatmap",
            Self::Text => "text",
            Self::AlertList => "alertlist",
            Self::Logs => "logs",
            Self::Row => "row",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Timeseries => "Time series",
            Self::Bar => "Bar chart",
            Self::Stat => "Stat",
            Self::Gauge => "Gauge",
            Self::Table => "Table",
            Self::Heatmap => "Heatmap",
            Self::Text => "Text",
            Self::AlertList => "Alert list",
            Self::Logs => "Logs",
            Self::Row => "Row",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Whether the panel runs queries.
    pub fn queries(self) -> bool {
        !matches!(self, Self::Text | Self::AlertList | Self::Logs | Self::Row)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Unique within the dashboard; used in panel URLs (`viewPanel`, images, embeds).
    pub id: u32,
    #[serde(rename = "type")]
    pub kind: PanelKind,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(rename = "gridPos")]
    pub grid: GridPos,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub options: PanelOptions,
    /// Rows only: whether the row's panels are hidden.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub collapsed: bool,
}

impl Panel {
    /// A panel of `kind` at `grid`: untitled, no queries, default options, expanded.
    pub fn new(id: u32, kind: PanelKind, grid: GridPos) -> Self {
        Self {
            id,
            kind,
            title: String::new(),
            description: String::new(),
            grid,
            targets: Vec::new(),
            options: PanelOptions::default(),
            collapsed: false,
        }
    }
}

/// One PromQL query of a panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub expr: String,
    /// How series are named: `{{label}}` is replaced by the series' label; empty names a series
    /// by all its labels.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub legend: String,
    /// Table panels: evaluate at the end of the range only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub instant: bool,
}

/// How a panel draws; each kind reads the options that apply to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PanelOptions {
    /// `short` (1.2k), `none`, `percent` (0–100), `percentunit` (0–1), `s`, `ms`, `bytes`,
    /// `bps` (bytes/s), `reqps`, `currencyUSD`.
    pub unit: String,
    pub decimals: Option<u32>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Time series: `line`, `area`, `points` or `bars`.
    pub draw: String,
    /// Time series and bar charts: stack the series.
    pub stack: bool,
    pub legend: LegendOptions,
    /// Ascending steps: from each value up the colour applies; the first applies below all.
    pub thresholds: Vec<Threshold>,
    /// Time series: `off`, `line` or `area`.
    pub threshold_style: String,
    /// Stat, gauge, bar and table values: `last`, `mean`, `max`, `min`, `sum`, `first`.
    pub reduce: String,
    /// Stat: draw a sparkline under the number.
    pub sparkline: bool,
    pub mappings: Vec<ValueMapping>,
    /// Text panels: Markdown.
    pub text: String,
    /// Alert lists: label matchers the alerts must satisfy (`severity="critical"`); empty for all.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alert_matchers: String,
    /// Logs panels: the search (`service:coder level>=error`, `$agent` variables); empty for
    /// every line.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub logs_query: String,
}

impl Default for PanelOptions {
    fn default() -> Self {
        Self {
            unit: "short".into(),
            decimals: None,
            min: None,
            max: None,
            draw: "line".into(),
            stack: false,
            legend: LegendOptions::default(),
            thresholds: Vec::new(),
            threshold_style: "off".into(),
            reduce: "last".into(),
            sparkline: true,
            mappings: Vec::new(),
            text: String::new(),
            alert_matchers: String::new(),
            logs_query: String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegendOptions {
    pub show: bool,
    /// Columns after each name: any of `min`, `max`, `mean`, `last`.
    pub values: Vec<String>,
}

impl Default for LegendOptions {
    fn default() -> Self {
        Self {
            show: true,
            values: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// `None` for the base step below every value.
    pub value: Option<f64>,
    /// `green`, `yellow`, `orange`, `red`, `blue`, `purple` or `#rrggbb`.
    pub color: String,
}

/// Shows a value as text (and colour): an exact value, or a range `from`..=`to`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub color: String,
}

pub const UNITS: &[(&str, &str)] = &[
    ("short", "Short (1.2k)"),
    ("none", "Plain number"),
    ("percent", "Percent (0–100)"),
    ("percentunit", "Percent (0.0–1.0)"),
    ("s", "Seconds"),
    ("ms", "Milliseconds"),
    ("bytes", "Bytes"),
    ("bps", "Bytes/s"),
    ("reqps", "Requests/s"),
    ("currencyUSD", "Dollars"),
];
pub const REDUCERS: &[&str] = &["last", "mean", "max", "min", "sum", "first"];
pub const DRAW_STYLES: &[&str] = &["line", "area", "points", "bars"];
pub const LEGEND_VALUES: &[&str] = &["min", "max", "mean", "last"];
const THRESHOLD_STYLES: &[&str] = &["off", "line", "area"];
const NAMED_COLORS: &[&str] = &["green", "yellow", "orange", "red", "blue", "purple", "text"];

/// The first field at fault and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    pub field: String,
    pub message: String,
}

fn fail<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError {
        field: field.into(),
        message: message.into(),
    })
}

/// Whether `name` can be a variable name (`$name` in queries).
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// Whether `uid` can name a dashboard in a URL.
pub fn is_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 40
        && uid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `color` is a named colour or `#rrggbb`.
pub fn is_color(color: &str) -> bool {
    NAMED_COLORS.contains(&color)
        || (color.len() == 7
            && color.starts_with('#')
            && color[1..].chars().all(|c| c.is_ascii_hexdigit()))
}

impl Dashboard {
    /// An empty dashboard titled `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            uid: String::new(),
            title: title.into(),
            description: String::new(),
            tags: Vec::new(),
            folder: String::new(),
            time: TimeSpec::default(),
            refresh: String::new(),
            variables: Vec::new(),
            panels: Vec::new(),
        }
    }

    /// Checks every field; the error names the first one at fault (`panels[2].gridPos.w`).
    pub fn validate(&self) -> Result<(), ModelError> {
        if !self.uid.is_empty() && !is_uid(&self.uid) {
            return fail(
                "uid",
                "must be 1–40 letters, digits, '-' or '_' (it is part of URLs)",
            );
        }
        if self.title.trim().is_empty() {
            return fail("title", "must not be empty");
        }
        if self.title.len() > 200 {
            return fail("title", "must be at most 200 characters");
        }
        for (i, tag) in self.tags.iter().enumerate() {
            if tag.trim().is_empty() || tag.len() > 50 {
                return fail(format!("tags[{i}]"), "must be 1–50 characters");
            }
        }
        if self.folder.len() > 100 || self.folder.contains('/') {
            return fail(
                "folder",
                "must be at most 100 characters and contain no '/'",
            );
        }
        let now = chrono::Utc::now();
        if let Err(e) = crate::time::TimeRange::parse(&self.time.from, &self.time.to, now) {
            return fail(format!("time.{}", e.field), e.message);
        }
        if !self.refresh.is_empty() {
            if let Err(e) = crate::time::Refresh::parse(&self.refresh) {
                return fail("refresh", e);
            }
        }
        let mut names = BTreeSet::new();
        for (i, v) in self.variables.iter().enumerate() {
            let at = |f: &str| format!("variables[{i}].{f}");
            if !is_variable_name(&v.name) {
                return fail(
                    at("name"),
                    "must start with a letter or '_' and hold only letters, digits and '_' (not '__')",
                );
            }
            if !names.insert(v.name.as_str()) {
                return fail(at("name"), format!("\"{}\" is used twice", v.name));
            }
            match &v.source {
                VariableSource::Query { query, regex } => {
                    if query.trim().is_empty() {
                        return fail(at("query"), "must not be empty");
                    }
                    if let Err(e) = VariableQuery::parse(query) {
                        return fail(at("query"), e);
                    }
                    if !regex.is_empty() && regex.len() > 500 {
                        return fail(at("regex"), "must be at most 500 characters");
                    }
                }
                VariableSource::Custom { values } => {
                    if split_list(values).is_empty() {
                        return fail(at("values"), "must list at least one value");
                    }
                }
                VariableSource::Interval { values } => {
                    let list = split_list(values);
                    if list.is_empty() {
                        return fail(at("values"), "must list at least one duration");
                    }
                    for d in list {
                        if let Err(e) = crate::time::parse_duration(&d) {
                            return fail(at("values"), format!("\"{d}\": {e}"));
                        }
                    }
                }
            }
            if v.current.len() > 1 && !v.multi {
                return fail(
                    at("current"),
                    "a single-value variable selects at most one value",
                );
            }
        }
        let mut ids = BTreeSet::new();
        for (i, p) in self.panels.iter().enumerate() {
            let at = |f: &str| format!("panels[{i}].{f}");
            if p.id == 0 {
                return fail(at("id"), "must be a positive number");
            }
            if !ids.insert(p.id) {
                return fail(at("id"), format!("{} is used by another panel", p.id));
            }
            if p.title.len() > 200 {
                return fail(at("title"), "must be at most 200 characters");
            }
            let g = p.grid;
            if g.w == 0 || g.w > GRID_COLUMNS {
                return fail(at("gridPos.w"), format!("must be 1–{GRID_COLUMNS} columns"));
            }
            if g.x + g.w > GRID_COLUMNS {
                return fail(
                    at("gridPos.x"),
                    format!("x + w must not pass the {GRID_COLUMNS}-column grid"),
                );
            }
            if g.h == 0 || g.h > 100 {
                return fail(at("gridPos.h"), "must be 1–100 rows");
            }
            if p.kind.queries() {
                if p.targets.is_empty() {
                    return fail(at("targets"), "needs at least one query");
                }
                for (j, t) in p.targets.iter().enumerate() {
                    if t.expr.trim().is_empty() {
                        return fail(at(&format!("targets[{j}].expr")), "must not be empty");
                    }
                }
            }
            let o = &p.options;
            if !UNITS.iter().any(|(u, _)| *u == o.unit) {
                return fail(
                    at("options.unit"),
                    format!(
                        "unknown unit \"{}\"; one of {}",
                        o.unit,
                        UNITS.iter().map(|u| u.0).collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            if o.decimals.is_some_and(|d| d > 10) {
                return fail(at("options.decimals"), "must be 0–10");
            }
            if let (Some(min), Some(max)) = (o.min, o.max) {
                if min >= max {
                    return fail(at("options.max"), "must be greater than min");
                }
            }
            if !DRAW_STYLES.contains(&o.draw.as_str()) {
                return fail(at("options.draw"), "must be line, area, points or bars");
            }
            if !REDUCERS.contains(&o.reduce.as_str()) {
                return fail(
                    at("options.reduce"),
                    "must be last, mean, max, min, sum or first",
                );
            }
            if !THRESHOLD_STYLES.contains(&o.threshold_style.as_str()) {
                return fail(at("options.threshold_style"), "must be off, line or area");
            }
            for (j, v) in o.legend.values.iter().enumerate() {
                if !LEGEND_VALUES.contains(&v.as_str()) {
                    return fail(
                        at(&format!("options.legend.values[{j}]")),
                        "must be min, max, mean or last",
                    );
                }
            }
            let mut last = f64::NEG_INFINITY;
            for (j, t) in o.thresholds.iter().enumerate() {
                if !is_color(&t.color) {
                    return fail(
                        at(&format!("options.thresholds[{j}].color")),
                        "must be green, yellow, orange, red, blue, purple or #rrggbb",
                    );
                }
                match (j, t.value) {
                    (0, _) => {}
                    (_, None) => {
                        return fail(
                            at(&format!("options.thresholds[{j}].value")),
                            "only the first step may have no value",
                        )
                    }
                    (_, Some(v)) if !v.is_finite() || v < last => {
                        return fail(
                            at(&format!("options.thresholds[{j}].value")),
                            "steps must be finite and ascending",
                        )
                    }
                    (_, Some(v)) => last = v,
                }
            }
            for (j, m) in o.mappings.iter().enumerate() {
                if m.value.is_none() && m.from.is_none() && m.to.is_none() {
                    return fail(
                        at(&format!("options.mappings[{j}]")),
                        "needs a value or a from/to range",
                    );
                }
                if !m.color.is_empty() && !is_color(&m.color) {
                    return fail(
                        at(&format!("options.mappings[{j}].color")),
                        "must be a named colour or #rrggbb",
                    );
                }
            }
            if o.text.len() > 100_000 {
                return fail(at("options.text"), "must be at most 100,000 characters");
            }
        }
        Ok(())
    }

    /// A panel id no panel uses yet.
    pub fn next_panel_id(&self) -> u32 {
        self.panels.iter().map(|p| p.id).max().unwrap_or(0) + 1
    }

    pub fn panel(&self, id: u32) -> Option<&Panel> {
        self.panels.iter().find(|p| p.id == id)
    }
}

/// What a save stores: the dashboard and, for an update, the version it was edited from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SaveDashboard {
    pub dashboard: Dashboard,
    /// The version the edit started from; an update whose version is no longer the latest is
    /// refused with 409 (someone else saved in between). `None` creates.
    #[serde(default)]
    pub version: Option<i32>,
    /// A note for the version history.
    #[serde(default)]
    pub message: String,
    /// Create or replace regardless of the stored version (imports, provisioning).
    #[serde(default)]
    pub overwrite: bool,
}

/// A stored dashboard and its bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardRecord {
    pub dashboard: Dashboard,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
    pub starred: bool,
    /// Loaded from a provisioning file: edits in the UI are replaced at the next start.
    pub provisioned: bool,
}

/// A line of the dashboards list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardSummary {
    pub uid: String,
    pub title: String,
    pub tags: Vec<String>,
    pub folder: String,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    pub starred: bool,
    pub home: bool,
}

/// A line of a dashboard's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VersionSummary {
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub message: String,
}

/// One difference between two versions: the JSON path and the value on each side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// What a Grafana import did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub uid: String,
    pub version: i32,
    pub title: String,
    pub panels_imported: usize,
    /// What could not be mapped, each naming the Grafana JSON path and why.
    pub skipped: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreateShortLink {
    /// A path on this portal, starting with `/`, query included.
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShortLink {
    pub code: String,
    /// `/s/<code>`.
    pub url: String,
    pub path: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatePublicLink {
    /// When the link stops working; `None` never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PublicLink {
    /// Names the link, to revoke it.
    pub id: i64,
    /// The secret, only in the answer that made the link: the portal keeps its hash, never the
    /// token, so it is shown once.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `/public/<token>`, likewise only when the link is made.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// The token's first characters, to tell links apart.
    pub hint: String,
    pub dashboard_uid: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
}

/// The options of one variable, given the others' current values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableOptions {
    pub values: Vec<String>,
}

/// A request for a variable's options: its definition and the values of the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolveVariable {
    pub variable: Variable,
    #[serde(default)]
    pub values: std::collections::BTreeMap<String, Vec<String>>,
}

/// The home dashboard preference (`GET`/`PUT /api/preferences/home`); `None` for none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HomePreference {
    pub uid: Option<String>,
}

/// Splits a comma-separated list, trimming blanks.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The query of a query variable, in Grafana's Prometheus syntax.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableQuery {
    /// `label_values(label)` or `label_values(selector, label)`.
    LabelValues {
        selector: Option<String>,
        label: String,
    },
    /// `label_names()`.
    LabelNames,
    /// `metrics(regex)`: metric names matching the regex.
    Metrics { regex: String },
    /// `query_result(expr)`: one value per series of the instant result, written as
    /// `name{labels} value timestamp`; usually narrowed with the variable's regex.
    QueryResult { expr: String },
}

impl VariableQuery {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let call = |name: &str| -> Option<&str> {
            text.strip_prefix(name)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('('))
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(args) = call("label_values") {
            // The label is after the last top-level comma; the selector may contain commas.
            let mut depth = 0i32;
            let mut in_string = false;
            let mut split = None;
            let mut prev = ' ';
            for (i, c) in args.char_indices() {
                match c {
                    '"' if prev != '\\' => in_string = !in_string,
                    '{' | '(' | '[' if !in_string => depth += 1,
                    '}' | ')' | ']' if !in_string => depth -= 1,
                    ',' if !in_string && depth == 0 => split = Some(i),
                    _ => {}
                }
                prev = c;
            }
            let (selector, label) = match split {
                Some(i) => (Some(args[..i].trim().to_string()), args[i + 1..].trim()),
                None => (None, args),
            };
            if !is_label_name(label) {
                return Err(format!("label_values(): \"{label}\" is not a label name"));
            }
            if selector.as_deref() == Some("") {
                return Err("label_values(): the selector before the comma is empty".into());
            }
            return Ok(Self::LabelValues {
                selector,
                label: label.to_string(),
            });
        }
        if call("label_names").is_some_and(str::is_empty) {
            return Ok(Self::LabelNames);
        }
        if let Some(args) = call("metrics") {
            return Ok(Self::Metrics {
                regex: args.to_string(),
            });
        }
        if let Some(args) = call("query_result") {
            if args.is_empty() {
                return Err("query_result() needs a query".into());
            }
            return Ok(Self::QueryResult {
                expr: args.to_string(),
            });
        }
        Err("must be label_values(label), label_values(selector, label), label_names(), metrics(regex) or query_result(query)".into())
    }
}

/// Whether `name` is a Prometheus label name.
pub fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
