//! The alert rule form: a simple mode (a metric, an aggregation, grouping labels, a condition
//! and a threshold, written out as PromQL; or, for a log rule, "more than N lines matching …
//! in M minutes", written out as LogQL) and a query mode (the Explore editor); a live
//! preview of when the rule would have been pending and firing over a chosen range, computed
//! by the evaluator's own code; where its notifications would go; and a message at each field
//! that is not right, before anything is saved.

use crate::api::{
    alerting::{
        Aggregation, Baseline, Condition, ErrorState, NoDataState, Preview, PreviewRequest,
        RouteQuery, Rule, RuleKind, RuleSummary, SaveRule, Signal as RuleSignal, SimpleLogQuery,
        SimpleQuery, ALERTNAME, DEFAULT_FOLDER, LOG_LEVELS,
    },
    dashboard::{ModelError, Threshold},
    endpoints, ClientError,
};
use crate::chart::{ChartStyle, Line, TimeRegion};
use crate::components::{
    page_header::PageHeader,
    promql_editor::PromqlEditor,
    time_series_chart::{ChartData, TimeSeriesChart},
};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use std::collections::BTreeMap;

#[component]
pub fn NewRulePage() -> impl IntoView {
    // `?template=new-error-groups` (linked from Explore → Errors) starts from a ready rule.
    let query = use_query_map();
    let template = query.with_untracked(|q| q.get("template").unwrap_or_default());
    view! {
        <PageHeader title="New alert rule" subtitle="Set a threshold, see when it would have fired, and choose where it notifies"/>
        <RuleForm initial=None template=template/>
    }
}

/// The rule `?template=new-error-groups` starts from: a log rule firing for each error group
/// announced as new in the last 10 minutes (`docs/logs.md`, "Error groups").
fn apply_template(f: &Fields, template: &str) {
    if template != "new-error-groups" {
        return;
    }
    f.signal.set(RuleSignal::Logs);
    f.name.set("NewErrorGroup".into());
    f.group.set("errors".into());
    f.log_selector
        .set("portal_event=\"new_error_group\"".into());
    f.log_contains.set(String::new());
    f.log_level.set(String::new());
    f.window.set("10m".into());
    f.group_by.set("fingerprint, error_kind".into());
    f.condition.set("above".into());
    f.threshold.set("0".into());
    f.summary
        .set("New error group: {{ $labels.error_kind }} ({{ $labels.fingerprint }})".into());
}

#[component]
pub fn EditRulePage() -> impl IntoView {
    let params = use_params_map();
    let uid = Memo::new(move |_| params.with(|p| p.get("uid").unwrap_or_default()));
    let loaded = LocalResource::new(move || {
        let uid = uid.get();
        async move { endpoints::get_alert_rule(&uid).await }
    });
    view! {
        <PageHeader title="Edit alert rule" subtitle="Changes apply at the group's next evaluation; the rule's alerts carry on"/>
        {move || match loaded.get() {
            None => view! { <p class="muted">"Loading the rule…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(summary)) => view! { <RuleForm initial=Some(summary)/> }.into_any(),
        }}
    }
}

/// How the query is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Simple,
    Promql,
}

/// The condition choices of the form.
const CONDITIONS: [(&str, &str); 7] = [
    ("above", "is above"),
    ("below", "is below"),
    ("outside", "is outside the range"),
    ("inside", "is within the range"),
    ("equal", "is equal to"),
    ("not_equal", "is not equal to"),
    (
        "any",
        "returns anything (the query holds its own comparison)",
    ),
];

const RANGES: [(&str, i64); 4] = [
    ("Last hour", 3_600_000),
    ("Last 6 hours", 6 * 3_600_000),
    ("Last 24 hours", 86_400_000),
    ("Last 7 days", 7 * 86_400_000),
];

fn number(text: &str) -> f64 {
    text.trim().parse().unwrap_or(f64::NAN)
}

fn text_of(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// `key=value` lines into a map (blank lines skipped).
fn parse_pairs(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("\"{line}\" is not name=value"))?;
        out.insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
    }
    Ok(out)
}

/// Every field of the form.
#[derive(Clone, Copy)]
struct Fields {
    uid: RwSignal<String>,
    kind: RwSignal<RuleKind>,
    /// Metrics (PromQL) or logs (LogQL).
    signal: RwSignal<RuleSignal>,
    paused: RwSignal<bool>,
    name: RwSignal<String>,
    folder: RwSignal<String>,
    group: RwSignal<String>,
    interval: RwSignal<String>,
    mode: RwSignal<Mode>,
    metric: RwSignal<String>,
    filter: RwSignal<String>,
    aggregation: RwSignal<Aggregation>,
    window: RwSignal<String>,
    group_by: RwSignal<String>,
    /// A log rule's simple mode (its window and grouping are `window` and `group_by`).
    log_selector: RwSignal<String>,
    log_contains: RwSignal<String>,
    log_level: RwSignal<String>,
    query: RwSignal<String>,
    condition: RwSignal<String>,
    threshold: RwSignal<String>,
    low: RwSignal<String>,
    high: RwSignal<String>,
    baseline: RwSignal<String>,
    days: RwSignal<String>,
    sigmas: RwSignal<String>,
    offset: RwSignal<String>,
    percent: RwSignal<String>,
    for_duration: RwSignal<String>,
    keep_firing_for: RwSignal<String>,
    no_data: RwSignal<NoDataState>,
    on_error: RwSignal<ErrorState>,
    severity: RwSignal<String>,
    labels: RwSignal<String>,
    summary: RwSignal<String>,
    description: RwSignal<String>,
    runbook: RwSignal<String>,
    dashboard: RwSignal<String>,
    other_annotations: RwSignal<BTreeMap<String, String>>,
    /// Empty: through the routing tree.
    contact_point: RwSignal<String>,
}

impl Fields {
    fn new(initial: Option<&RuleSummary>) -> Self {
        let rule = initial.map(|s| s.rule.clone()).unwrap_or_default();
        let simple = rule.simple.clone();
        let simple_logs = rule.simple_logs.clone();
        let (condition, threshold, low, high) = match rule.condition {
            Condition::Any if initial.is_some() => {
                ("any", String::new(), String::new(), String::new())
            }
            Condition::Any => ("above", String::new(), String::new(), String::new()),
            Condition::Above { threshold } => {
                ("above", text_of(threshold), String::new(), String::new())
            }
            Condition::Below { threshold } => {
                ("below", text_of(threshold), String::new(), String::new())
            }
            Condition::Equal { value } => ("equal", text_of(value), String::new(), String::new()),
            Condition::NotEqual { value } => {
                ("not_equal", text_of(value), String::new(), String::new())
            }
            Condition::Outside { low, high } => {
                ("outside", String::new(), text_of(low), text_of(high))
            }
            Condition::Inside { low, high } => {
                ("inside", String::new(), text_of(low), text_of(high))
            }
        };
        let (baseline, days, sigmas, offset, percent) = match &rule.baseline {
            None => ("none", "7".into(), "3".into(), "1w".into(), "50".into()),
            Some(Baseline::Deviation { days, sigmas }) => (
                "deviation",
                days.to_string(),
                text_of(*sigmas),
                "1w".into(),
                "50".into(),
            ),
            Some(Baseline::Change { offset, percent }) => (
                "change",
                "7".into(),
                "3".into(),
                offset.clone(),
                text_of(*percent),
            ),
        };
        let mut labels = rule.labels.clone();
        let severity = labels
            .remove("severity")
            .unwrap_or_else(|| "warning".into());
        let mut annotations = rule.annotations.clone();
        let mut take = |k: &str| annotations.remove(k).unwrap_or_default();
        let (summary, description, runbook, dashboard) = (
            take("summary"),
            take("description"),
            take("runbook_url"),
            take("dashboard_url"),
        );
        Self {
            uid: RwSignal::new(rule.uid.clone()),
            kind: RwSignal::new(rule.kind),
            signal: RwSignal::new(rule.signal),
            paused: RwSignal::new(rule.paused),
            name: RwSignal::new(rule.name.clone()),
            folder: RwSignal::new(initial.map_or(DEFAULT_FOLDER.to_string(), |s| s.folder.clone())),
            group: RwSignal::new(initial.map_or("default".to_string(), |s| s.group.clone())),
            interval: RwSignal::new(initial.map_or("1m".to_string(), |s| s.interval.clone())),
            mode: RwSignal::new(
                if initial.is_some() && simple.is_none() && simple_logs.is_none() {
                    Mode::Promql
                } else {
                    Mode::Simple
                },
            ),
            metric: RwSignal::new(
                simple
                    .as_ref()
                    .map(|s| s.metric.clone())
                    .unwrap_or_default(),
            ),
            filter: RwSignal::new(
                simple
                    .as_ref()
                    .map(|s| s.filter.clone())
                    .unwrap_or_default(),
            ),
            aggregation: RwSignal::new(
                simple
                    .as_ref()
                    .map(|s| s.aggregation)
                    .unwrap_or(Aggregation::Max),
            ),
            window: RwSignal::new(
                simple
                    .as_ref()
                    .map(|s| s.window.clone())
                    .or_else(|| simple_logs.as_ref().map(|s| s.window.clone()))
                    .unwrap_or_else(|| "5m".into()),
            ),
            group_by: RwSignal::new(
                simple
                    .as_ref()
                    .map(|s| s.group_by.join(", "))
                    .or_else(|| simple_logs.as_ref().map(|s| s.group_by.join(", ")))
                    .unwrap_or_default(),
            ),
            log_selector: RwSignal::new(
                simple_logs
                    .as_ref()
                    .map(|s| s.selector.clone())
                    .unwrap_or_default(),
            ),
            log_contains: RwSignal::new(
                simple_logs
                    .as_ref()
                    .map(|s| s.contains.clone())
                    .unwrap_or_default(),
            ),
            log_level: RwSignal::new(
                simple_logs
                    .as_ref()
                    .map(|s| s.level.clone())
                    .unwrap_or_else(|| "error".into()),
            ),
            query: RwSignal::new(rule.query.clone()),
            condition: RwSignal::new(condition.into()),
            threshold: RwSignal::new(threshold),
            low: RwSignal::new(low),
            high: RwSignal::new(high),
            baseline: RwSignal::new(baseline.into()),
            days: RwSignal::new(days),
            sigmas: RwSignal::new(sigmas),
            offset: RwSignal::new(offset),
            percent: RwSignal::new(percent),
            for_duration: RwSignal::new(rule.for_duration.clone()),
            keep_firing_for: RwSignal::new(rule.keep_firing_for.clone()),
            no_data: RwSignal::new(rule.no_data),
            on_error: RwSignal::new(rule.on_error),
            severity: RwSignal::new(severity),
            labels: RwSignal::new(
                labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            summary: RwSignal::new(summary),
            description: RwSignal::new(description),
            runbook: RwSignal::new(runbook),
            dashboard: RwSignal::new(dashboard),
            other_annotations: RwSignal::new(annotations),
            contact_point: RwSignal::new(rule.contact_point.clone().unwrap_or_default()),
        }
    }

    fn group_by(&self) -> Vec<String> {
        self.group_by
            .get()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    fn simple(&self) -> SimpleQuery {
        SimpleQuery {
            metric: self.metric.get(),
            filter: self.filter.get(),
            aggregation: self.aggregation.get(),
            window: self.window.get(),
            group_by: self.group_by(),
        }
    }

    fn simple_logs(&self) -> SimpleLogQuery {
        SimpleLogQuery {
            selector: self.log_selector.get(),
            contains: self.log_contains.get(),
            level: self.log_level.get(),
            window: self.window.get(),
            group_by: self.group_by(),
        }
    }

    fn logs(&self) -> bool {
        self.signal.get() == RuleSignal::Logs
    }

    /// The query the simple mode writes.
    fn simple_query(&self) -> String {
        if self.logs() {
            self.simple_logs().logql()
        } else {
            self.simple().promql()
        }
    }

    /// The rule the form holds, and the problems it has that the rule itself cannot say
    /// (labels that do not read).
    fn rule(&self) -> (Rule, Vec<ModelError>) {
        let mut errors = Vec::new();
        let (query, simple, simple_logs) = match self.mode.get() {
            Mode::Simple if self.logs() => {
                let s = self.simple_logs();
                (s.logql(), None, Some(s))
            }
            Mode::Simple => {
                let s = self.simple();
                if s.metric.trim().is_empty() {
                    errors.push(ModelError {
                        field: "metric".into(),
                        message: "pick a metric".into(),
                    });
                }
                (s.promql(), Some(s), None)
            }
            Mode::Promql => (self.query.get(), None, None),
        };
        let condition = match self.condition.get().as_str() {
            "above" => Condition::Above {
                threshold: number(&self.threshold.get()),
            },
            "below" => Condition::Below {
                threshold: number(&self.threshold.get()),
            },
            "equal" => Condition::Equal {
                value: number(&self.threshold.get()),
            },
            "not_equal" => Condition::NotEqual {
                value: number(&self.threshold.get()),
            },
            "outside" => Condition::Outside {
                low: number(&self.low.get()),
                high: number(&self.high.get()),
            },
            "inside" => Condition::Inside {
                low: number(&self.low.get()),
                high: number(&self.high.get()),
            },
            _ => Condition::Any,
        };
        let baseline = match self.baseline.get().as_str() {
            "deviation" => Some(Baseline::Deviation {
                days: self.days.get().trim().parse().unwrap_or(0),
                sigmas: number(&self.sigmas.get()),
            }),
            "change" => Some(Baseline::Change {
                offset: self.offset.get().trim().to_string(),
                percent: number(&self.percent.get()),
            }),
            _ => None,
        };
        let mut labels = match parse_pairs(&self.labels.get()) {
            Ok(l) => l,
            Err(e) => {
                errors.push(ModelError {
                    field: "labels".into(),
                    message: e,
                });
                BTreeMap::new()
            }
        };
        if !self.severity.get().is_empty() {
            labels.insert("severity".into(), self.severity.get());
        }
        let mut annotations = self.other_annotations.get();
        for (k, v) in [
            ("summary", self.summary.get()),
            ("description", self.description.get()),
            ("runbook_url", self.runbook.get()),
            ("dashboard_url", self.dashboard.get()),
        ] {
            if !v.trim().is_empty() {
                annotations.insert(k.into(), v.trim().to_string());
            }
        }
        let rule = Rule {
            uid: self.uid.get(),
            kind: self.kind.get(),
            signal: self.signal.get(),
            name: self.name.get().trim().to_string(),
            query,
            condition: if self.kind.get() == RuleKind::Recording {
                Condition::Any
            } else {
                condition
            },
            baseline,
            for_duration: self.for_duration.get().trim().to_string(),
            keep_firing_for: self.keep_firing_for.get().trim().to_string(),
            labels,
            annotations,
            no_data: self.no_data.get(),
            on_error: self.on_error.get(),
            paused: self.paused.get(),
            simple,
            simple_logs,
            contact_point: Some(self.contact_point.get()).filter(|c| !c.is_empty()),
        };
        errors.extend(rule.validate());
        (rule, errors)
    }
}

/// The message for `field` among `errors` (a rule's `labels.x` shows at `labels`).
fn message_for(errors: &[ModelError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
        .map(|e| e.message.clone())
}

#[component]
fn RuleForm(initial: Option<RuleSummary>, #[prop(optional)] template: String) -> impl IntoView {
    let f = Fields::new(initial.as_ref());
    apply_template(&f, &template);
    let tried = RwSignal::new(false);
    let server_error = RwSignal::new(None::<ModelError>);
    let saving = RwSignal::new(false);
    let built = Memo::new(move |_| f.rule());
    let errors = Memo::new(move |_| {
        let mut e = built.get().1;
        e.extend(server_error.get());
        e
    });
    let shown = move |field: &'static str| {
        Signal::derive(move || {
            (tried.get() || server_error.get().is_some())
                .then(|| message_for(&errors.get(), field))
                .flatten()
        })
    };
    let navigate = use_navigate();
    let save = move |_| {
        tried.set(true);
        server_error.set(None);
        let (rule, problems) = f.rule();
        if !problems.is_empty() {
            return;
        }
        let request = SaveRule {
            folder: f.folder.get_untracked().trim().to_string(),
            group: f.group.get_untracked().trim().to_string(),
            interval: Some(f.interval.get_untracked().trim().to_string()),
            rule,
        };
        let navigate = navigate.clone();
        saving.set(true);
        leptos::task::spawn_local(async move {
            match endpoints::save_alert_rule(&request).await {
                Ok(saved) => navigate(
                    &format!("/alerting/rules/{}", saved.rule.uid),
                    Default::default(),
                ),
                Err(ClientError::Api { body, .. }) => server_error.set(Some(ModelError {
                    field: body
                        .error
                        .field
                        .unwrap_or_default()
                        .trim_start_matches("rule.")
                        .to_string(),
                    message: body.error.message,
                })),
                Err(e) => server_error.set(Some(ModelError {
                    field: String::new(),
                    message: e.to_string(),
                })),
            }
            saving.set(false);
        });
    };
    let general_error = move || {
        server_error.get().filter(|e| {
            ![
                "name",
                "query",
                "folder",
                "group",
                "interval",
                "for",
                "keep_firing_for",
                "labels",
                "annotations",
                "condition",
                "baseline",
                "metric",
                "signal",
            ]
            .iter()
            .any(|f| e.field == *f || e.field.starts_with(&format!("{f}.")))
        })
    };
    let recording = move || f.kind.get() == RuleKind::Recording;

    view! {
        <form class="rule-form" on:submit=move |ev| ev.prevent_default()>
            <section class="card">
                <h2 class="card-title">"1. What to watch"</h2>
                <div class="form-row">
                    <Field label="Rule name" field="name" error=shown("name") hint="The alert's name (alertname); for a recording rule, the metric it writes.">
                        <input class="field-input" name="name" placeholder="QueueDepthHigh" prop:value=move || f.name.get()
                            on:change=move |ev| f.name.set(event_target_value(&ev))/>
                    </Field>
                    <Field label="Kind" field="kind" error=Signal::stored(None) hint="">
                        <select class="field-input" name="kind" on:change=move |ev| f.kind.set(if event_target_value(&ev) == "recording" { RuleKind::Recording } else { RuleKind::Alerting })
                            prop:value=move || if recording() { "recording" } else { "alerting" }>
                            <option value="alerting">"Alert"</option>
                            <option value="recording">"Recording rule (writes a series)"</option>
                        </select>
                    </Field>
                    <Field label="Reads" field="signal" error=shown("signal") hint="">
                        <select class="field-input" name="signal" prop:value=move || if f.logs() { "logs" } else { "metrics" }
                            on:change=move |ev| f.signal.set(if event_target_value(&ev) == "logs" { RuleSignal::Logs } else { RuleSignal::Metrics })>
                            <option value="metrics">"Metrics (PromQL)"</option>
                            <option value="logs">"Logs (counts matching lines, LogQL)"</option>
                        </select>
                    </Field>
                    <Field label="Evaluate every" field="interval" error=shown("interval") hint="The group's interval (all its rules)">
                        <input class="field-input field-small" name="interval" prop:value=move || f.interval.get() on:change=move |ev| f.interval.set(event_target_value(&ev))/>
                    </Field>
                </div>
                <div class="segmented" role="tablist" aria-label="How the query is written">
                    <button type="button" role="tab" class="segmented-item" aria-selected=move || (f.mode.get() == Mode::Simple).to_string()
                        on:click=move |_| f.mode.set(Mode::Simple)>"Simple"</button>
                    <button type="button" role="tab" class="segmented-item" aria-selected=move || (f.mode.get() == Mode::Promql).to_string()
                        on:click=move |_| {
                            if f.mode.get_untracked() == Mode::Simple
                                && (f.signal.get_untracked() == RuleSignal::Logs || !f.metric.get_untracked().is_empty())
                            {
                                f.query.set(f.simple_query());
                            }
                            f.mode.set(Mode::Promql)
                        }>{move || if f.logs() { "LogQL" } else { "PromQL" }}</button>
                </div>
                {move || match (f.mode.get(), f.logs()) {
                    (Mode::Simple, true) => view! { <SimpleLogFields f=f/> }.into_any(),
                    (Mode::Simple, false) => view! { <SimpleQueryFields f=f error=shown("metric")/> }.into_any(),
                    (Mode::Promql, true) => view! {
                        <Field label="LogQL query" field="query" error=shown("query") hint="A query that counts lines, e.g. sum by (service_name) (count_over_time({} |= \"timeout\" [5m])); an empty selector {} reads every stream">
                            <textarea class="field-input field-grow code-input" name="logql" rows="3" spellcheck="false"
                                prop:value=move || f.query.get() on:change=move |ev| f.query.set(event_target_value(&ev))></textarea>
                        </Field>
                    }.into_any(),
                    (Mode::Promql, false) => view! {
                        <div class="field">
                            <span class="field-label">"PromQL query"</span>
                            <PromqlEditor text=f.query on_run=Callback::new(|_| {}) error=shown("query")/>
                        </div>
                    }.into_any(),
                }}
                {move || (f.mode.get() == Mode::Simple).then(|| view! {
                    <p class="field-hint">"Query: "<code class="rule-query-preview">{move || f.simple_query()}</code>
                        {move || shown("query").get().map(|e| view! { <span class="field-error" role="alert">{format!(" {e}")}</span> })}</p>
                })}
            </section>

            <section class="card" class:hidden=recording>
                <h2 class="card-title">"2. When it fires"</h2>
                <div class="form-row">
                    <Field label="The value" field="condition" error=Signal::stored(None) hint="">
                        <select class="field-input" name="condition" prop:value=move || f.condition.get()
                            on:change=move |ev| f.condition.set(event_target_value(&ev))>
                            {CONDITIONS.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                        </select>
                    </Field>
                    {move || match f.condition.get().as_str() {
                        "outside" | "inside" => view! {
                            <Field label="From" field="condition.low" error=shown("condition.low") hint="">
                                <input class="field-input field-small" name="low" inputmode="decimal" prop:value=move || f.low.get()
                                    on:change=move |ev| f.low.set(event_target_value(&ev))/>
                            </Field>
                            <Field label="To" field="condition.high" error=shown("condition.high") hint="">
                                <input class="field-input field-small" name="high" inputmode="decimal" prop:value=move || f.high.get()
                                    on:change=move |ev| f.high.set(event_target_value(&ev))/>
                            </Field>
                        }.into_any(),
                        "any" => ().into_any(),
                        _ => view! {
                            <Field label="Threshold" field="threshold" error=Signal::derive(move || shown("condition.threshold").get().or_else(|| shown("condition.value").get())) hint="">
                                <input class="field-input field-small" name="threshold" inputmode="decimal" placeholder="100" prop:value=move || f.threshold.get()
                                    on:change=move |ev| f.threshold.set(event_target_value(&ev))/>
                            </Field>
                        }.into_any(),
                    }}
                    <Field label="For" field="for" error=shown("for") hint="Pending this long before firing">
                        <input class="field-input field-small" name="for" placeholder="2m" prop:value=move || f.for_duration.get()
                            on:change=move |ev| f.for_duration.set(event_target_value(&ev))/>
                    </Field>
                    <Field label="Keep firing for" field="keep_firing_for" error=shown("keep_firing_for") hint="After the condition stops holding">
                        <input class="field-input field-small" name="keep_firing_for" prop:value=move || f.keep_firing_for.get()
                            on:change=move |ev| f.keep_firing_for.set(event_target_value(&ev))/>
                    </Field>
                </div>
                <div class="form-row">
                    <Field label="Compared with its own history" field="baseline" error=shown("baseline") hint="Regression detection: fires only when the value also departs from its past">
                        <select class="field-input" name="baseline" prop:value=move || f.baseline.get() on:change=move |ev| f.baseline.set(event_target_value(&ev))>
                            <option value="none">"No (a fixed threshold)"</option>
                            <option value="deviation">"More than N standard deviations from the same time on past days"</option>
                            <option value="change">"More than N % above (or below) an earlier value"</option>
                        </select>
                    </Field>
                    {move || match f.baseline.get().as_str() {
                        "deviation" => view! {
                            <Field label="Days" field="baseline.days" error=shown("baseline.days") hint="">
                                <input class="field-input field-small" name="days" prop:value=move || f.days.get() on:change=move |ev| f.days.set(event_target_value(&ev))/>
                            </Field>
                            <Field label="Standard deviations" field="baseline.sigmas" error=shown("baseline.sigmas") hint="">
                                <input class="field-input field-small" name="sigmas" prop:value=move || f.sigmas.get() on:change=move |ev| f.sigmas.set(event_target_value(&ev))/>
                            </Field>
                        }.into_any(),
                        "change" => view! {
                            <Field label="Earlier by" field="baseline.offset" error=shown("baseline.offset") hint="">
                                <input class="field-input field-small" name="offset" prop:value=move || f.offset.get() on:change=move |ev| f.offset.set(event_target_value(&ev))/>
                            </Field>
                            <Field label="Change in %" field="baseline.percent" error=shown("baseline.percent") hint="Negative: a drop">
                                <input class="field-input field-small" name="percent" prop:value=move || f.percent.get() on:change=move |ev| f.percent.set(event_target_value(&ev))/>
                            </Field>
                        }.into_any(),
                        _ => ().into_any(),
                    }}
                </div>
                <div class="form-row">
                    <Field label="When the query returns nothing" field="no_data" error=Signal::stored(None) hint="">
                        <select class="field-input" name="no_data" on:change=move |ev| f.no_data.set(match event_target_value(&ev).as_str() {
                                "alerting" => NoDataState::Alerting, "nodata" => NoDataState::NoData, _ => NoDataState::Ok })
                            prop:value=move || match f.no_data.get() { NoDataState::Ok => "ok", NoDataState::Alerting => "alerting", NoDataState::NoData => "nodata" }>
                            <option value="ok">"Treat as normal"</option>
                            <option value="alerting">"Alert"</option>
                            <option value="nodata">"Show \"No data\" (no notification)"</option>
                        </select>
                    </Field>
                    <Field label="When the query fails" field="on_error" error=Signal::stored(None) hint="">
                        <select class="field-input" name="on_error" on:change=move |ev| f.on_error.set(if event_target_value(&ev) == "alerting" { ErrorState::Alerting } else { ErrorState::KeepLast })
                            prop:value=move || if f.on_error.get() == ErrorState::Alerting { "alerting" } else { "keep_last" }>
                            <option value="keep_last">"Keep the last state"</option>
                            <option value="alerting">"Alert"</option>
                        </select>
                    </Field>
                </div>
            </section>

            <RulePreview f=f built=built/>

            <section class="card">
                <h2 class="card-title">"3. Where it lives and what it says"</h2>
                <div class="form-row">
                    <Field label="Folder" field="folder" error=shown("folder") hint="">
                        <input class="field-input" name="folder" prop:value=move || f.folder.get() on:change=move |ev| f.folder.set(event_target_value(&ev))/>
                    </Field>
                    <Field label="Group" field="group" error=shown("group") hint="Rules of a group are evaluated together">
                        <input class="field-input" name="group" prop:value=move || f.group.get() on:change=move |ev| f.group.set(event_target_value(&ev))/>
                    </Field>
                </div>
                <div class="form-row" class:hidden=recording>
                    <Field label="Severity" field="severity" error=Signal::stored(None) hint="">
                        <select class="field-input" name="severity" prop:value=move || f.severity.get() on:change=move |ev| f.severity.set(event_target_value(&ev))>
                            <option value="critical">"critical"</option>
                            <option value="warning">"warning"</option>
                            <option value="info">"info"</option>
                            <option value="">"(none)"</option>
                        </select>
                    </Field>
                    <Field label="Summary" field="annotations.summary" error=shown("annotations.summary") hint="Templates: {{ $labels.agent_id }}, {{ $value | humanize }}">
                        <input class="field-input field-grow" name="summary" placeholder="Queue {{ $labels.queue_name }} holds {{ $value }} tasks"
                            prop:value=move || f.summary.get() on:change=move |ev| f.summary.set(event_target_value(&ev))/>
                    </Field>
                </div>
                <div class="form-row">
                    <Field label="Other labels (name=value, one per line)" field="labels" error=shown("labels") hint="">
                        <textarea class="field-input code" rows="3" name="labels" placeholder="team=agents" prop:value=move || f.labels.get()
                            on:change=move |ev| f.labels.set(event_target_value(&ev))></textarea>
                    </Field>
                    <Field label="Description" field="annotations.description" error=shown("annotations.description") hint="">
                        <textarea class="field-input" rows="3" name="description" prop:value=move || f.description.get()
                            on:change=move |ev| f.description.set(event_target_value(&ev))></textarea>
                    </Field>
                </div>
                <div class="form-row" class:hidden=recording>
                    <Field label="Runbook URL" field="annotations.runbook_url" error=shown("annotations.runbook_url") hint="">
                        <input class="field-input field-grow" name="runbook_url" prop:value=move || f.runbook.get() on:change=move |ev| f.runbook.set(event_target_value(&ev))/>
                    </Field>
                    <Field label="Dashboard URL" field="annotations.dashboard_url" error=shown("annotations.dashboard_url") hint="">
                        <input class="field-input field-grow" name="dashboard_url" placeholder="/d/agent-overview" prop:value=move || f.dashboard.get() on:change=move |ev| f.dashboard.set(event_target_value(&ev))/>
                    </Field>
                </div>
                {move || (!recording()).then(|| view! { <NotificationRoute built=built contact_point=f.contact_point/> })}
            </section>

            <div class="form-actions">
                {move || general_error().map(|e| view! { <p class="error-text" role="alert">{e.message}</p> })}
                {move || (tried.get() && !built.get().1.is_empty()).then(|| view! {
                    <p class="error-text" role="alert">"Some fields need attention; each says why."</p>
                })}
                <a class="button" href="/alerting/rules">"Cancel"</a>
                <button type="button" class="button button-primary" name="save" disabled=move || saving.get() on:click=save>
                    {move || if saving.get() { "Saving…" } else { "Save rule" }}</button>
            </div>
        </form>
    }
}

#[component]
fn Field(
    label: &'static str,
    field: &'static str,
    error: Signal<Option<String>>,
    hint: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <label class="field" data-field=field>
            <span class="field-label">{label}</span>
            {children()}
            {(!hint.is_empty()).then(|| view! { <span class="field-hint">{hint}</span> })}
            <span class="field-error" role="alert">{move || error.get().unwrap_or_default()}</span>
        </label>
    }
}

#[component]
fn SimpleQueryFields(f: Fields, error: Signal<Option<String>>) -> impl IntoView {
    let metrics =
        LocalResource::new(|| async { endpoints::list_label_values("__name__", None).await });
    let labels = LocalResource::new(move || {
        let metric = f.metric.get();
        async move {
            if metric.trim().is_empty() {
                return Ok(Vec::new());
            }
            endpoints::list_label_names(Some(metric.trim())).await
        }
    });
    view! {
        <div class="form-row">
            <Field label="Metric" field="metric" error=error hint="Start typing; names complete">
                <input class="field-input field-grow" name="metric" list="rule-metrics" autocomplete="off" placeholder="agent_queue_depth"
                    prop:value=move || f.metric.get() on:change=move |ev| f.metric.set(event_target_value(&ev))/>
            </Field>
            <datalist id="rule-metrics">
                {move || metrics.get().and_then(Result::ok).unwrap_or_default().into_iter()
                    .map(|m| view! { <option value=m/> }).collect_view()}
            </datalist>
            <Field label="Aggregation" field="aggregation" error=Signal::stored(None) hint="">
                <select class="field-input" name="aggregation" prop:value=move || f.aggregation.get().as_str()
                    on:change=move |ev| f.aggregation.set(Aggregation::parse(&event_target_value(&ev)).unwrap_or_default())>
                    {Aggregation::ALL.iter().map(|a| view! { <option value=a.as_str()>{a.label()}</option> }).collect_view()}
                </select>
            </Field>
            <Field label="Over" field="window" error=Signal::stored(None) hint="rate, increase, quantiles">
                <input class="field-input field-small" name="window" prop:value=move || f.window.get() on:change=move |ev| f.window.set(event_target_value(&ev))/>
            </Field>
        </div>
        <div class="form-row">
            <Field label="Per (grouping labels)" field="group_by" error=Signal::stored(None) hint="One alert per value; comma-separated">
                <input class="field-input" name="group_by" list="rule-labels" placeholder="agent_id" prop:value=move || f.group_by.get()
                    on:change=move |ev| f.group_by.set(event_target_value(&ev))/>
            </Field>
            <datalist id="rule-labels">
                {move || labels.get().and_then(Result::ok).unwrap_or_default().into_iter()
                    .filter(|l| l != "__name__" && l != "le")
                    .map(|l| view! { <option value=l/> }).collect_view()}
            </datalist>
            <Field label="Only series with (optional)" field="filter" error=Signal::stored(None) hint="Label matchers, e.g. queue_name=\"coding\"">
                <input class="field-input field-grow" name="filter" prop:value=move || f.filter.get() on:change=move |ev| f.filter.set(event_target_value(&ev))/>
            </Field>
        </div>
    }
}

/// A log rule's simple mode: "more than N lines matching … in M minutes".
#[component]
fn SimpleLogFields(f: Fields) -> impl IntoView {
    view! {
        <div class="form-row">
            <Field label="Lines containing (optional)" field="simple_logs.contains" error=Signal::stored(None) hint="Case-sensitive text, as LogQL's |=">
                <input class="field-input field-grow" name="log_contains" placeholder="timeout" prop:value=move || f.log_contains.get()
                    on:change=move |ev| f.log_contains.set(event_target_value(&ev))/>
            </Field>
            <Field label="At level or above" field="simple_logs.level" error=Signal::stored(None) hint="">
                <select class="field-input" name="log_level" prop:value=move || f.log_level.get()
                    on:change=move |ev| f.log_level.set(event_target_value(&ev))>
                    <option value="">"any level"</option>
                    {LOG_LEVELS.iter().map(|l| view! { <option value=*l>{*l}</option> }).collect_view()}
                </select>
            </Field>
            <Field label="Counted over" field="simple_logs.window" error=Signal::stored(None) hint="The window (5m)">
                <input class="field-input field-small" name="window" prop:value=move || f.window.get() on:change=move |ev| f.window.set(event_target_value(&ev))/>
            </Field>
        </div>
        <div class="form-row">
            <Field label="Only streams with (optional)" field="simple_logs.selector" error=Signal::stored(None) hint="Stream matchers, e.g. service_name=\"coder\"; empty reads every stream">
                <input class="field-input field-grow" name="log_selector" prop:value=move || f.log_selector.get()
                    on:change=move |ev| f.log_selector.set(event_target_value(&ev))/>
            </Field>
            <Field label="Per (grouping labels)" field="group_by" error=Signal::stored(None) hint="One alert per value (service_name, agent_id, level); comma-separated">
                <input class="field-input" name="group_by" placeholder="service_name" prop:value=move || f.group_by.get()
                    on:change=move |ev| f.group_by.set(event_target_value(&ev))/>
            </Field>
        </div>
        <p class="field-hint">"Set the condition below to \"is above\" N: the rule fires when more than N such lines arrive within the window. Its alerts carry the newest matching lines (annotation matching_lines)."</p>
    }
}

/// The rule replayed over a range: the query, its threshold, and shading where it would have
/// been pending (amber) and firing (red), with the alerts it would have sent.
#[component]
fn RulePreview(f: Fields, built: Memo<(Rule, Vec<ModelError>)>) -> impl IntoView {
    let span = RwSignal::new(86_400_000i64);
    let runs = RwSignal::new(0u32);
    let preview = LocalResource::new(move || {
        let (rule, problems) = built.get();
        let interval = f.interval.get();
        let span = span.get();
        runs.track();
        async move {
            let blocking = problems.iter().any(|e| {
                [
                    "query",
                    "metric",
                    "condition",
                    "for",
                    "keep_firing_for",
                    "baseline",
                    "simple_logs",
                ]
                .iter()
                .any(|f| e.field == *f || e.field.starts_with(&format!("{f}.")))
            });
            if blocking || rule.query.trim().is_empty() {
                return Ok(None);
            }
            let end = chrono::Utc::now().timestamp_millis();
            let request = PreviewRequest {
                rule,
                interval,
                start: Some(end - span),
                end: Some(end),
            };
            endpoints::preview_alert_rule(&request).await.map(Some)
        }
    });
    view! {
        <section class="card rule-preview" aria-label="Preview">
            <header class="rule-preview-header">
                <h2 class="card-title">"Preview"</h2>
                <select class="field-input" name="preview-range" aria-label="Preview range"
                    on:change=move |ev| span.set(event_target_value(&ev).parse().unwrap_or(86_400_000))
                    prop:value=move || span.get().to_string()>
                    {RANGES.iter().map(|(l, ms)| view! { <option value=ms.to_string()>{*l}</option> }).collect_view()}
                </select>
                <button type="button" class="button" on:click=move |_| runs.update(|r| *r += 1)>"Refresh"</button>
            </header>
            {move || match preview.get() {
                None => view! { <p class="muted">"Replaying the rule over the range…"</p> }.into_any(),
                Some(Ok(None)) => view! { <p class="muted">"Choose a metric (or write a query) and a condition to see when the rule would have fired."</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(Some(p))) => view! { <PreviewChart preview=p/> }.into_any(),
            }}
        </section>
    }
}

/// The legend name of an alert's labels.
fn series_label(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != ALERTNAME)
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

#[component]
fn PreviewChart(preview: Preview) -> impl IntoView {
    let mut regions = Vec::new();
    for s in &preview.series {
        for span in &s.spans {
            regions.push(TimeRegion {
                from: span.start,
                to: span.end.max(span.start + preview.step / 2),
                color: if span.state == crate::api::alerting::AlertState::Firing {
                    "red".into()
                } else {
                    "orange".into()
                },
            });
        }
    }
    let lines: Vec<Line> = preview
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| Line {
            label: series_label(&s.labels),
            color: i,
            points: s.points.clone(),
        })
        .collect();
    let thresholds: Vec<Threshold> = std::iter::once(Threshold {
        value: None,
        color: "green".into(),
    })
    .chain(preview.thresholds.iter().map(|v| Threshold {
        value: Some(*v),
        color: "red".into(),
    }))
    .collect();
    let style = ChartStyle {
        thresholds,
        threshold_style: if preview.thresholds.is_empty() {
            "off".into()
        } else {
            "line".into()
        },
        regions,
        ..ChartStyle::default()
    };
    let mut data = ChartData::plain(lines, preview.start, preview.end, preview.step);
    data.style = style;
    let firing_series = preview.series.iter().filter(|s| s.fired > 0).count();
    let summary = match preview.alerts {
        0 => "It would not have fired in this range.".to_string(),
        1 => "It would have fired once: 1 alert notified.".to_string(),
        n => format!(
            "It would have fired {n} times across {firing_series} series: {n} alerts notified."
        ),
    };
    let empty = preview.series.is_empty();
    view! {
        <p class="rule-preview-summary" role="status" data-alerts=preview.alerts.to_string()>{summary}
            <span class="muted">{format!(" Evaluated every {} s.", preview.step / 1000)}</span>
            <span class="legend-swatch pending">"pending"</span><span class="legend-swatch firing">"firing"</span></p>
        {preview.truncated.then(|| view! { <p class="muted">"Only the series that fired most are drawn."</p> })}
        {if empty {
            view! { <p class="explore-empty">"No data: the query matched no series in this range."</p> }.into_any()
        } else {
            view! { <TimeSeriesChart data=Signal::stored(data) height=260u32/> }.into_any()
        }}
    }
}

/// Where the rule's alerts go: a contact point picked here, or the routing tree (and which
/// contact points it would reach for these labels).
#[component]
fn NotificationRoute(
    built: Memo<(Rule, Vec<ModelError>)>,
    contact_point: RwSignal<String>,
) -> impl IntoView {
    let points = LocalResource::new(endpoints::list_contact_points);
    let routes = LocalResource::new(move || {
        let (rule, _) = built.get();
        async move {
            let mut labels = rule.labels.clone();
            labels.insert(ALERTNAME.into(), rule.name.clone());
            endpoints::route_labels(&RouteQuery { labels }).await
        }
    });
    let silences = LocalResource::new(move || {
        let (rule, _) = built.get();
        async move {
            let mut labels: BTreeMap<String, String> = rule
                .labels
                .iter()
                .filter(|(_, v)| !v.contains("{{"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            labels.insert(ALERTNAME.into(), rule.name.clone());
            endpoints::silences_matching(&RouteQuery { labels }).await
        }
    });
    view! {
        <div class="rule-route" aria-label="Notifications">
            <label class="field"><span class="field-label">"Send notifications"</span>
                <select class="field-input" name="contact_point" prop:value=move || contact_point.get()
                    on:change=move |ev| contact_point.set(event_target_value(&ev))>
                    <option value="">"By the routing tree"</option>
                    {move || points.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|p| {
                        let name = p.name.clone();
                        view! { <option value=name.clone()>{format!("Straight to {name}")}</option> }
                    }).collect_view()}
                </select></label>
            {move || match silences.get() {
                Some(Ok(list)) if !list.is_empty() => view! {
                    <p class="rule-silences" role="status">"Muted while these silences run: "
                        {list.into_iter().map(|s| view! {
                            <a href="/alerting/silences" title=s.comment.clone()><code>{super::silences::matchers_text(&s.matchers)}</code></a>
                            {format!(" ({}) ", s.state.as_str())}
                        }).collect_view()}</p>
                }.into_any(),
                Some(Ok(_)) => view! { <p class="muted rule-silences">"No silence would mute it."</p> }.into_any(),
                _ => ().into_any(),
            }}
            {move || if !contact_point.get().is_empty() {
                view! { <p class="muted">"→ "<strong>{contact_point.get()}</strong>", grouped and timed as the default route says."</p> }.into_any()
            } else {
                match routes.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                    Some(Ok(r)) if r.is_empty() => view! {
                        <p class="muted">"No contact point receives these alerts yet: "<a href="/alerting/notifications">"set up notifications"</a>"."</p>
                    }.into_any(),
                    Some(Ok(r)) => view! {
                        <ul class="plain-list">
                            {r.into_iter().map(|m| {
                                let by = m.group_by.map(|g| g.join(", ")).unwrap_or_else(|| "every label".into());
                                view! { <li>"→ "<strong>{m.receiver}</strong>
                                    <span class="muted">{format!(" grouped by {by}; first message after {} s, then every {} s while it changes, repeated every {}", m.group_wait_ms / 1000, m.group_interval_ms / 1000, crate::format::human_duration(m.repeat_interval_ms / 1000))}</span></li> }
                            }).collect_view()}
                        </ul>
                        <p class="field-hint">"Routes are set on the "<a href="/alerting/notifications">"notifications"</a>" page."</p>
                    }.into_any(),
                }
            }}
        </div>
    }
}
