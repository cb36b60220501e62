//! One rule's page: what it watches, its health, its alerts' state timeline over the query's
//! value, how often it fired, how long its alerts took to resolve and the label values that
//! fire most, over the time picker's range.

use super::{ago, Health, LabelTags, StateBadge};
use crate::api::{
    alerting::{AlertState, RuleHistory, RuleKind, RuleSummary, Signal as RuleSignal, StateChange},
    endpoints,
    prometheus::{QueryData, QueryRange},
};
use crate::chart::{ChartStyle, TimeRegion};
use crate::components::{
    page_header::PageHeader,
    time_series_chart::{ChartData, TimeSeriesChart},
    url_state::{use_refresh_tick, use_time_range},
};
use crate::format::human_duration;
use crate::time::auto_step_ms;
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::BTreeMap;

/// One instance's stretches of pending and firing over the range.
#[derive(Clone, Debug, PartialEq)]
struct Timeline {
    labels: BTreeMap<String, String>,
    spans: Vec<(AlertState, i64, i64)>,
}

/// Rebuilds each instance's spans from its state changes (oldest first).
fn timelines(changes: &[StateChange], from: i64, to: i64) -> Vec<Timeline> {
    let mut by_labels: BTreeMap<BTreeMap<String, String>, Vec<&StateChange>> = BTreeMap::new();
    for c in changes {
        by_labels.entry(c.labels.clone()).or_default().push(c);
    }
    by_labels
        .into_iter()
        .map(|(labels, mut list)| {
            list.sort_by_key(|c| c.at);
            let mut spans = Vec::new();
            // What held before the first change in the range: the state it changed from.
            let mut open: Option<(AlertState, i64)> = list
                .first()
                .filter(|c| matches!(c.from, AlertState::Pending | AlertState::Firing))
                .map(|c| (c.from, from));
            for c in list {
                let at = c.at.timestamp_millis();
                if let Some((state, start)) = open.take() {
                    spans.push((state, start, at));
                }
                if matches!(
                    c.to,
                    AlertState::Pending | AlertState::Firing | AlertState::NoData
                ) {
                    open = Some((c.to, at));
                }
            }
            if let Some((state, start)) = open {
                spans.push((state, start, to));
            }
            Timeline { labels, spans }
        })
        .collect()
}

#[component]
pub fn RulePage() -> impl IntoView {
    let session = use_session();
    let params = use_params_map();
    let uid = Memo::new(move |_| params.with(|p| p.get("uid").unwrap_or_default()));
    let range = use_time_range();
    let tick = use_refresh_tick();
    let reload = RwSignal::new(0u32);
    let error = RwSignal::new(None::<String>);
    let rule = LocalResource::new(move || {
        let uid = uid.get();
        reload.track();
        tick.track();
        async move { endpoints::get_alert_rule(&uid).await }
    });
    let navigate = use_navigate();
    let pause = move |paused: bool| {
        leptos::task::spawn_local(async move {
            match endpoints::set_alert_rule_paused(&uid.get_untracked(), paused).await {
                Ok(_) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let delete = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message("Delete this alert rule and its history?")
                        .ok()
                })
                .unwrap_or(false);
            if !sure {
                return;
            }
        }
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            match endpoints::delete_alert_rule(&uid.get_untracked()).await {
                Ok(()) => navigate("/alerting/rules", Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <PageHeader title="Alert rule" subtitle="Its alerts over time, and how it has been doing" time_controls=true/>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || match rule.get() {
            None => view! { <p class="muted">"Loading the rule…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(s)) => {
                let paused = s.rule.paused;
                let delete = delete.clone();
                view! {
                    <section class="card rule-summary">
                        <header class="rule-summary-header">
                            <h2 class="rule-title">{s.rule.name.clone()}</h2>
                            <StateBadge state=s.state paused=paused/>
                            <span class="toolbar-spacer"></span>
                            <a class="button" hidden=move || !session.can(Role::Editor) href=format!("/alerting/rules/{}/edit", s.rule.uid)>"Edit"</a>
                            <a class="button" hidden=move || !session.can(Role::Editor) href=super::silences::silence_link(&format!("alertname={:?}", s.rule.name))>"Silence"</a>
                            <button type="button" class="button" hidden=move || !session.can(Role::Editor) on:click=move |_| pause(!paused)>{if paused { "Resume" } else { "Pause" }}</button>
                            <button type="button" class="button danger" hidden=move || !session.can(Role::Editor) on:click=delete>"Delete"</button>
                        </header>
                        <RuleDetails summary=s.clone()/>
                    </section>
                    <RuleHistoryView summary=s range=range/>
                }.into_any()
            }
        }}
    }
}

#[component]
fn RuleDetails(summary: RuleSummary) -> impl IntoView {
    let r = summary.rule.clone();
    let condition = match (&r.kind, &r.baseline) {
        (RuleKind::Recording, _) => "writes its result as a series".to_string(),
        (_, Some(b)) => format!("{} and {}", r.condition.describe(), b.describe()),
        (_, None) => r.condition.describe(),
    };
    let explore = match (&r.signal, &r.simple_logs) {
        (RuleSignal::Metrics, _) => format!(
            "/explore/metrics{}",
            crate::format::query_string([("q", r.query.as_str())])
        ),
        // The lines a simple log rule counts, in the search language of Explore -> Logs.
        (RuleSignal::Logs, Some(simple)) => {
            let mut terms = Vec::new();
            if !simple.level.is_empty() {
                terms.push(format!("level>={}", simple.level));
            }
            if !simple.contains.trim().is_empty() {
                terms.push(format!(
                    "\"{}\"",
                    simple.contains.trim().replace('"', "\\\"")
                ));
            }
            format!(
                "/explore/logs{}",
                crate::format::query_string([("query", terms.join(" ").as_str())])
            )
        }
        (RuleSignal::Logs, None) => "/explore/logs".to_string(),
    };
    view! {
        <dl class="status-list status-list-wide rule-details">
            <dt>"Query"</dt><dd><code>{r.query.clone()}</code>" "<a href=explore>"Explore"</a></dd>
            <dt>"Fires when"</dt><dd>{condition}</dd>
            <dt>"For / keep firing for"</dt><dd>{format!("{} / {}", r.for_duration, r.keep_firing_for)}</dd>
            <dt>"Group"</dt><dd>{format!("{} › {} (every {})", summary.folder, summary.group, summary.interval)}</dd>
            <dt>"Labels"</dt><dd><LabelTags labels=r.labels.clone()/></dd>
            <dt>"Annotations"</dt><dd>{r.annotations.iter().map(|(k, v)| view! { <div><strong>{k.clone()}</strong>": "{v.clone()}</div> }).collect_view()}</dd>
            <dt>"Health"</dt><dd><Health summary=summary.clone()/></dd>
            <dt>"Alerts now"</dt><dd>{format!("{} firing, {} pending", summary.firing, summary.pending)}</dd>
        </dl>
    }
}

#[component]
fn RuleHistoryView(summary: RuleSummary, range: Memo<crate::time::TimeRange>) -> impl IntoView {
    let uid = summary.rule.uid.clone();
    let query = summary.rule.query.clone();
    let signal = summary.rule.signal;
    let thresholds = summary.rule.condition.lines();
    let data = LocalResource::new(move || {
        let (uid, query) = (uid.clone(), query.clone());
        let r = range.get();
        async move {
            let (from, to) = r.resolve(chrono::Utc::now());
            let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
            let history = endpoints::get_rule_history(&uid, from, to)
                .await
                .map_err(|e| e.to_string())?;
            let step = auto_step_ms(to - from, 1000);
            let start = from / step * step;
            let range = QueryRange {
                start,
                end: to,
                step,
            };
            let answer = match signal {
                RuleSignal::Metrics => endpoints::range_query(&query, range).await,
                RuleSignal::Logs => endpoints::loki_range_query(&query, range).await,
            };
            let lines = match answer {
                Ok(QueryData::Matrix(m)) => crate::chart::lines_of(m),
                _ => Vec::new(),
            };
            Ok::<_, String>((history, lines, start, to, step))
        }
    });
    view! {
        {move || match data.get() {
            None => view! { <p class="muted">"Loading the history…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
            Some(Ok((history, lines, from, to, step))) => {
                let timelines = timelines(&history.changes, from, to);
                let regions: Vec<TimeRegion> = timelines.iter().flat_map(|t| t.spans.iter().filter(|s| s.0 != AlertState::NoData).map(|(state, a, b)| TimeRegion {
                    from: *a,
                    to: *b,
                    color: if *state == AlertState::Firing { "red".into() } else { "orange".into() },
                })).collect();
                let mut chart = ChartData::plain(lines, from, to, step);
                chart.style = ChartStyle {
                    thresholds: std::iter::once(crate::api::dashboard::Threshold { value: None, color: "green".into() })
                        .chain(thresholds.iter().map(|v| crate::api::dashboard::Threshold { value: Some(*v), color: "red".into() }))
                        .collect(),
                    threshold_style: if thresholds.is_empty() { "off".into() } else { "line".into() },
                    regions,
                    ..ChartStyle::default()
                };
                view! {
                    <section class="card">
                        <h2 class="card-title">"Value and alerts"</h2>
                        <TimeSeriesChart data=Signal::stored(chart) height=260u32/>
                        <Timelines timelines=timelines from=from to=to/>
                    </section>
                    <HistoryStats history=history/>
                }.into_any()
            }
        }}
    }
}

#[component]
fn Timelines(timelines: Vec<Timeline>, from: i64, to: i64) -> impl IntoView {
    let width = (to - from).max(1) as f64;
    let pct = move |t: i64| ((t - from) as f64 / width * 100.0).clamp(0.0, 100.0);
    view! {
        <div class="state-timelines" aria-label="State timeline per alert">
            {if timelines.is_empty() {
                view! { <p class="muted">"No alert changed state in this range."</p> }.into_any()
            } else {
                timelines.into_iter().map(|t| view! {
                    <div class="state-timeline">
                        <div class="state-timeline-labels"><LabelTags labels=t.labels.into_iter().filter(|(k, _)| k != "alertname").collect()/></div>
                        <div class="state-timeline-bar">
                            {t.spans.into_iter().map(|(state, a, b)| {
                                let style = format!("left:{:.3}%;width:{:.3}%", pct(a), (pct(b) - pct(a)).max(0.3));
                                view! { <span class=format!("state-span state-span-{}", state.as_str()) style=style
                                    title=format!("{} from {} to {}", state.as_str(), crate::chart::format_instant(a), crate::chart::format_instant(b))></span> }
                            }).collect_view()}
                        </div>
                    </div>
                }).collect_view().into_any()
            }}
        </div>
    }
}

/// A state as the history reads it: a resolved alert is back to normal.
fn state_word(state: AlertState) -> &'static str {
    match state {
        AlertState::Inactive => "normal",
        AlertState::Pending => "pending",
        AlertState::Firing => "firing",
        AlertState::NoData => "no data",
    }
}

#[component]
fn HistoryStats(history: RuleHistory) -> impl IntoView {
    let mttr = history
        .mean_time_to_resolve_seconds
        .map(|s| human_duration(s.round() as i64))
        .unwrap_or_else(|| "—".into());
    view! {
        <section class="card history-stats">
            <h2 class="card-title">"History"</h2>
            <div class="tile-grid">
                <div class="tile"><div class="tile-title">"Times fired"</div><div class="tile-text" data-stat="fired">{history.times_fired}</div></div>
                <div class="tile"><div class="tile-title">"Mean time to resolve"</div><div class="tile-text">{mttr}</div></div>
                <div class="tile"><div class="tile-title">"Fires most"</div><div class="tile-text small">
                    {if history.top_labels.is_empty() { view! { <span class="muted">"—"</span> }.into_any() } else {
                        view! { <ul class="plain-list">{history.top_labels.iter().take(5).map(|(k, v, n)| view! { <li><code>{format!("{k}={v}")}</code>{format!(" × {n}")}</li> }).collect_view()}</ul> }.into_any()
                    }}
                </div></div>
            </div>
            {history.truncated.then(|| view! { <p class="muted">"Only the newest changes are listed; narrow the range to see the rest."</p> })}
            <table class="result-table">
                <thead><tr><th scope="col">"When"</th><th scope="col">"Change"</th><th scope="col">"Labels"</th><th scope="col" class="num">"Value"</th></tr></thead>
                <tbody>
                    {history.changes.iter().take(200).map(|c| view! {
                        <tr>
                            <td title=c.at.to_rfc3339()>{ago(c.at)}</td>
                            <td>{format!("{} → {}", state_word(c.from), state_word(c.to))}</td>
                            <td><LabelTags labels=c.labels.iter().filter(|(k, _)| k.as_str() != "alertname").map(|(k, v)| (k.clone(), v.clone())).collect()/></td>
                            <td class="num">{crate::format::format_value(c.value)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}
