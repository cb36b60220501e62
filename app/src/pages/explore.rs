//! Explore: ad-hoc metric queries and trace timelines (logs are in `logs.rs`).

use super::Upcoming;
use crate::api::{
    endpoints,
    prometheus::{series_name, QueryData},
};
use crate::chart::format_instant;
use crate::components::{
    page_header::PageHeader,
    promql_editor::PromqlEditor,
    time_series_chart::{ChartData, TimeSeriesChart},
    url_state::{use_query_text, use_query_updater, use_refresh_tick, use_time_range, QueryText},
};
use crate::time::{auto_step_ms, format_duration, TimeRange};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// What a query gave, ready to show.
#[derive(Clone, Debug, PartialEq)]
enum Answer {
    /// A range query: the chart's data and how many series it has.
    Graph(Box<ChartData>),
    /// An instant query at the range's end: one row per series.
    Table {
        at: i64,
        rows: Vec<(String, String)>,
    },
}

/// Example queries offered while the editor is empty.
const EXAMPLES: &[&str] = &[
    "sum by (agent_id) (rate(agent_task_success_total[5m]))",
    "sum by (error_type) (rate(agent_task_failure_total[5m]))",
    "histogram_quantile(0.95, sum by (le, agent_type) (rate(agent_task_duration_seconds_bucket[5m])))",
    "agent_queue_depth",
    "up",
];

/// Runs the query over the range: a range query for the graph, an instant one for the table.
async fn run_query(query: String, range: TimeRange, table: bool) -> Result<Answer, String> {
    let (from, to) = range.resolve(chrono::Utc::now());
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    if table {
        let data = endpoints::instant_query(&query, to).await?;
        let rows = match data {
            QueryData::Vector(v) => v
                .into_iter()
                .map(|s| (series_name(&s.metric), s.value.1))
                .collect(),
            QueryData::Matrix(m) => m
                .into_iter()
                .map(|s| {
                    (
                        series_name(&s.metric),
                        s.values.last().map(|v| v.1.clone()).unwrap_or_default(),
                    )
                })
                .collect(),
            QueryData::Scalar(v) => vec![("scalar".into(), v.1)],
            QueryData::String(v) => vec![("string".into(), v.1)],
        };
        return Ok(Answer::Table { at: to, rows });
    }
    let step = auto_step_ms(to - from, 1000);
    // Aligned to the step, so refreshing does not make the lines wobble.
    let start = from / step * step;
    let range = crate::api::prometheus::QueryRange {
        start,
        end: to,
        step,
    };
    let lines = match endpoints::range_query(&query, range).await? {
        QueryData::Matrix(m) => crate::chart::lines_of(m),
        other => return Err(format!("a range query answered {other:?}")),
    };
    Ok(Answer::Graph(Box::new(ChartData::plain(
        lines, start, to, step,
    ))))
}

#[component]
pub fn MetricsExplorePage() -> impl IntoView {
    let query_map = use_query_map();
    let QueryText {
        url: url_query,
        text,
        runs,
        run,
    } = use_query_text("q");
    let table = Memo::new(move |_| query_map.with(|q| q.get_str("view") == Some("table")));
    let range = use_time_range();
    let tick = use_refresh_tick();
    let update = use_query_updater();
    let answer = LocalResource::new(move || {
        let query = url_query.get();
        let range = range.get();
        let table = table.get();
        tick.track();
        runs.track();
        async move {
            if query.trim().is_empty() {
                return Ok(None);
            }
            let started = chrono::Utc::now();
            let answer = run_query(query, range, table).await?;
            Ok::<_, String>(Some((
                answer,
                (chrono::Utc::now() - started).num_milliseconds(),
            )))
        }
    });
    let error = Signal::derive(move || answer.get().and_then(|a| a.err()));
    let set_view = move |table: bool| {
        let update = update.clone();
        move |_| update(vec![("view", table.then(|| "table".to_string()))])
    };

    view! {
        <PageHeader title="Explore metrics" subtitle="Ad-hoc PromQL over everything the portal has taken in" time_controls=true/>
        <section class="card explore-query">
            <div class="explore-query-row">
                <PromqlEditor text=text on_run=run error=error/>
                <button type="button" class="button button-primary explore-run" on:click=move |_| run.run(())>"Run query"</button>
            </div>
            <div class="explore-toolbar">
                <div class="segmented" role="tablist" aria-label="Result view">
                    <button type="button" role="tab" class="segmented-item" aria-selected=move || if table.get() { "false" } else { "true" }
                        on:click=set_view(false)>"Graph"</button>
                    <button type="button" role="tab" class="segmented-item" aria-selected=move || if table.get() { "true" } else { "false" }
                        on:click=set_view(true)>"Table"</button>
                </div>
                <span class="explore-stats muted" aria-live="polite">
                    {move || match answer.get() {
                        Some(Ok(Some((Answer::Graph(d), ms)))) => format!(
                            "{} series · step {} · {} ms",
                            d.lines.len(),
                            format_duration(chrono::Duration::milliseconds(d.step)),
                            ms
                        ),
                        Some(Ok(Some((Answer::Table { rows, .. }, ms)))) => format!("{} series · {} ms", rows.len(), ms),
                        None if !url_query.get().is_empty() => "Running…".to_string(),
                        _ => String::new(),
                    }}
                </span>
            </div>
        </section>
        <section class="card explore-result">
            {move || match answer.get() {
                None if url_query.get().is_empty() => view! { <Examples text=text run=run/> }.into_any(),
                None => view! { <p class="muted">"Running the query…"</p> }.into_any(),
                Some(Err(_)) => view! { <p class="muted">"The query did not run; see the error above."</p> }.into_any(),
                Some(Ok(None)) => view! { <Examples text=text run=run/> }.into_any(),
                Some(Ok(Some((Answer::Graph(d), _)))) if d.lines.is_empty() => view! {
                    <p class="explore-empty">"No data: the query matched no series in this time range."</p>
                }.into_any(),
                Some(Ok(Some((Answer::Graph(d), _)))) => view! { <TimeSeriesChart data=Signal::stored(*d)/> }.into_any(),
                Some(Ok(Some((Answer::Table { at, rows }, _)))) => view! { <ResultTable at=at rows=rows/> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn Examples(text: RwSignal<String>, run: Callback<()>) -> impl IntoView {
    view! {
        <div class="explore-examples">
            <p class="muted">"Type a query above (names and labels complete as you type), or start from one of these:"</p>
            <ul>
                {EXAMPLES.iter().map(|e| view! {
                    <li><button type="button" class="link-button" on:click=move |_| { text.set(e.to_string()); run.run(()); }>
                        <code>{*e}</code>
                    </button></li>
                }).collect_view()}
            </ul>
        </div>
    }
}

#[component]
fn ResultTable(at: i64, rows: Vec<(String, String)>) -> impl IntoView {
    let empty = rows.is_empty();
    view! {
        <p class="muted">"Values at "{format_instant(at)}</p>
        {if empty {
            view! { <p class="explore-empty">"No data: the query matched no series at this time."</p> }.into_any()
        } else {
            view! {
                <table class="result-table">
                    <thead><tr><th scope="col">"Series"</th><th scope="col" class="num">"Value"</th></tr></thead>
                    <tbody>
                        {rows.into_iter().map(|(series, value)| view! {
                            <tr><td><code>{series}</code></td><td class="num">{value}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}

#[component]
pub fn TracesExplorePage() -> impl IntoView {
    view! {
        <PageHeader title="Explore traces" subtitle="Find traces sent over OTLP and follow them span by span" time_controls=true/>
        <Upcoming
            shows="Traces found by service, operation, duration and attributes, and each trace as a timeline of its spans."
            features=&[
                "Search by service, operation, status and duration",
                "A span timeline with attributes, events and links",
                "The logs of a span beside it",
            ]/>
    }
}
