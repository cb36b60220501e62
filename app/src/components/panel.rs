//! One dashboard panel in the browser: its queries run for the time range and the variables'
//! selection, and the result drawn by the shared plotters code (time series with the
//! interactive chart, stat, gauge, bar and heatmap as SVG), a sortable table, or Markdown.
//! "No data" and query errors show inside the panel.

use super::time_series_chart::{ChartData, TimeSeriesChart};
use crate::api::{
    dashboard::{Panel, PanelKind},
    endpoints,
    prometheus::QueryData,
};
use crate::chart::{css_color, ChartStyle, Line};
use crate::dashboard::{legend_name, panel_step, target_url, DataSource, Selection};
use crate::panel_draw::{self, value_text, PanelData};
use crate::time::TimeRange;
use leptos::prelude::*;

/// Runs every query of `panel` and names the series by the queries' legends.
pub async fn fetch_panel(
    panel: Panel,
    source: DataSource,
    selection: Selection,
    range: TimeRange,
    width: u32,
) -> Result<PanelData, String> {
    let (from, to) = range.resolve(chrono::Utc::now());
    let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
    let (start, step) = panel_step(from, to, width.max(100));
    let mut lines = Vec::new();
    // Queries still being written (empty) are left out rather than sent.
    let requests = (0..panel.targets.len())
        .filter(|&i| !panel.targets[i].expr.trim().is_empty())
        .map(|i| {
            let range = crate::api::prometheus::QueryRange {
                start,
                end: to,
                step,
            };
            let url = target_url(&source, &panel, i, &selection, range);
            async move { (i, endpoints::query_at(&url).await) }
        });
    let answers = futures_join_all(requests).await;
    for (i, answer) in answers {
        let target = &panel.targets[i];
        let parse = |v: &str| v.parse::<f64>().unwrap_or(f64::NAN);
        match answer? {
            QueryData::Matrix(m) => {
                for s in m {
                    lines.push(Line {
                        label: legend_name(&target.legend, &s.metric),
                        color: lines.len(),
                        points: s
                            .values
                            .iter()
                            .map(|(t, v)| ((t * 1000.0).round() as i64, parse(v)))
                            .collect(),
                    });
                }
            }
            QueryData::Vector(v) => {
                for s in v {
                    lines.push(Line {
                        label: legend_name(&target.legend, &s.metric),
                        color: lines.len(),
                        points: vec![((s.value.0 * 1000.0).round() as i64, parse(&s.value.1))],
                    });
                }
            }
            QueryData::Scalar(v) => lines.push(Line {
                label: target.legend.clone(),
                color: lines.len(),
                points: vec![((v.0 * 1000.0).round() as i64, parse(&v.1))],
            }),
            QueryData::String(_) => return Err("the query gives a string, not numbers".into()),
        }
    }
    Ok(PanelData {
        lines,
        from: start,
        to,
        step,
    })
}

/// Awaits every future and returns their outputs in order; the requests they make all start
/// at once, so a panel with several queries waits for the slowest, not for their sum.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, result) in pending.iter_mut().zip(out.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *result = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Renders Markdown to HTML; raw HTML in it is shown as text, never run.
pub fn markdown(text: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let parser = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH).map(
        |event| match event {
            Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
            other => other,
        },
    );
    let mut out = String::new();
    pulldown_cmark::html::push_html(&mut out, parser);
    // Links may only go to the web or within the portal.
    out.replace("href=\"javascript:", "href=\"#")
}

/// What a panel shows in its body.
#[component]
pub fn PanelBody(
    #[prop(into)] panel: Signal<Panel>,
    source: DataSource,
    #[prop(into)] selection: Signal<Selection>,
    #[prop(into)] range: Signal<TimeRange>,
    #[prop(into)] tick: Signal<u64>,
    /// Height of the body in pixels.
    #[prop(into)]
    height: Signal<u32>,
) -> impl IntoView {
    let container = NodeRef::<leptos::html::Div>::new();
    let width = RwSignal::new(0u32);
    #[cfg(feature = "hydrate")]
    {
        let measure = move || {
            if let Some(el) = container.get_untracked() {
                let w = el.client_width();
                if w > 0 && (w as u32).abs_diff(width.get_untracked()) > 8 {
                    width.set(w as u32);
                }
            }
        };
        Effect::new(move |_| {
            container.track();
            height.track();
            panel.track();
            measure();
        });
        let handle = window_event_listener(leptos::ev::resize, move |_| measure());
        on_cleanup(move || handle.remove());
    }
    let public = matches!(source, DataSource::Public(_));
    let data = LocalResource::new(move || {
        let p = panel.get();
        let source = source.clone();
        let selection = selection.get();
        let range = range.get();
        let w = width.get();
        tick.track();
        async move {
            if !p.kind.queries() || w == 0 {
                return Ok(None);
            }
            fetch_panel(p, source, selection, range, w).await.map(Some)
        }
    });
    // The last answer stays on screen while the next one loads (no flicker on refresh).
    let shown = RwSignal::new(None::<Result<PanelData, String>>);
    Effect::new(move |_| {
        if let Some(answer) = data.get() {
            shown.set(answer.transpose());
        }
    });
    let loading = move || data.get().is_none();

    // A time series keeps one chart for the panel's life, fed each new answer: mounting a new
    // chart for every refresh made the browser's memory grow.
    let chart = Memo::new(move |_| {
        let p = panel.get();
        if p.kind != PanelKind::Timeseries {
            return None;
        }
        match shown.get() {
            Some(Ok(d)) if !d.lines.is_empty() => Some(ChartData {
                lines: d.lines,
                from: d.from,
                to: d.to,
                step: d.step,
                style: ChartStyle::of_panel(&p.options),
                legend: p.options.legend.clone(),
            }),
            _ => None,
        }
    });
    let has_chart = Memo::new(move |_| chart.with(Option::is_some));
    let chart_data = Signal::derive(move || {
        chart
            .get()
            .unwrap_or_else(|| ChartData::plain(Vec::new(), 0, 1, 1))
    });
    let chart_height = Signal::derive(move || {
        let legend = chart.with(|c| {
            c.as_ref()
                .map_or((false, 0), |c| (c.legend.show, c.lines.len()))
        });
        let legend_rows = match legend {
            (false, _) => 0,
            (true, 0..=3) => 30,
            _ => 72,
        };
        height.get().saturating_sub(legend_rows).max(60)
    });

    view! {
        <div class="panel-body" node_ref=container style=move || format!("height:{}px", height.get())>
            <span class="panel-loading" class:hidden=move || !loading()>"Loading…"</span>
            <Show when=move || has_chart.get()>
                <TimeSeriesChart data=chart_data height=chart_height/>
            </Show>
            {move || {
                let p = panel.get();
                let h = height.get();
                match p.kind {
                    PanelKind::Text => view! { <div class="panel-text markdown" inner_html=markdown(&p.options.text)></div> }.into_any(),
                    PanelKind::AlertList => view! { <AlertList matchers=p.options.alert_matchers.clone() tick=tick/> }.into_any(),
                    PanelKind::Logs if public => view! {
                        <p class="panel-empty">"Log lines are not shared through public links."</p>
                    }.into_any(),
                    PanelKind::Logs => {
                        let query = logs_query(&p.options.logs_query, &selection.get());
                        view! { <LogsPanel query=query range=range tick=tick/> }.into_any()
                    }
                    PanelKind::Row => ().into_any(),
                    _ => match shown.get() {
                        None => ().into_any(),
                        Some(Err(e)) => view! { <p class="panel-error" role="alert">{e}</p> }.into_any(),
                        Some(Ok(d)) if d.lines.is_empty() => view! { <p class="panel-empty">"No data"</p> }.into_any(),
                        Some(Ok(d)) => match p.kind {
                            PanelKind::Timeseries => ().into_any(),
                            PanelKind::Table => view! { <PanelTable panel=p data=d/> }.into_any(),
                            _ => {
                                let size = (width.get_untracked().max(100), h.max(40));
                                match panel_draw::svg(&p, &d, size) {
                                    Ok(svg) => view! { <div class="panel-svg" inner_html=svg></div> }.into_any(),
                                    Err(e) => view! { <p class="panel-error" role="alert">{format!("the panel could not be drawn: {e}")}</p> }.into_any(),
                                }
                            }
                        },
                    },
                }
            }}
        </div>
    }
}

/// A logs panel's search with the variables' values in it: one value as it is, several as
/// `(a OR b)`.
pub fn logs_query(text: &str, selection: &Selection) -> String {
    let values: std::collections::BTreeMap<String, Vec<String>> = selection
        .values
        .iter()
        .map(|(k, v)| {
            let joined = match v.as_slice() {
                [one] => one.clone(),
                many => format!("({})", many.join(" OR ")),
            };
            (k.clone(), vec![joined])
        })
        .collect();
    crate::dashboard::interpolate(text, &values)
}

/// The newest log lines of the range matching the panel's search, each opening Explore →
/// Logs at that search.
#[component]
fn LogsPanel(query: String, range: Signal<TimeRange>, tick: Signal<u64>) -> impl IntoView {
    let lines = {
        let query = query.clone();
        LocalResource::new(move || {
            let query = query.clone();
            let r = range.get();
            tick.track();
            async move {
                let (from, to) = r.resolve(chrono::Utc::now());
                let span = (from.timestamp_millis(), to.timestamp_millis());
                endpoints::search_logs(&query, span, None, 100).await
            }
        })
    };
    let explore = move || {
        let (from, to) = range.get().resolve(chrono::Utc::now());
        format!(
            "/explore/logs{}",
            crate::format::query_string([
                ("query", query.as_str()),
                ("from", &from.timestamp_millis().to_string()),
                ("to", &to.timestamp_millis().to_string()),
            ])
        )
    };
    view! {
        {move || match lines.get() {
            None => ().into_any(),
            Some(Err(e)) => view! { <p class="panel-error" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(page)) if page.lines.is_empty() => view! { <p class="panel-empty">"No lines match in this range"</p> }.into_any(),
            Some(Ok(page)) => view! {
                <ol class="panel-logs">
                    {page.lines.into_iter().map(|l| view! {
                        <li class="panel-log-line" data-level=l.level.clone()>
                            <time class="muted">{crate::chart::format_instant(l.time.timestamp_millis())}</time>
                            <span class=format!("logs-level logs-level-{}", l.level)>{l.level.clone()}</span>
                            <span class="panel-log-body">{l.body.lines().next().unwrap_or("").to_string()}</span>
                        </li>
                    }).collect_view()}
                </ol>
                <a class="link-button panel-logs-more" href=explore()>"Open in Explore → Logs"</a>
            }.into_any(),
        }}
    }
}

/// The live alerts (firing first), narrowed by label matchers, each linking to its rule.
#[component]
fn AlertList(matchers: String, tick: Signal<u64>) -> impl IntoView {
    let every_ten_seconds = super::url_state::use_tick(10);
    let alerts = LocalResource::new(move || {
        let matchers = matchers.clone();
        tick.track();
        every_ten_seconds.track();
        async move { crate::api::endpoints::list_alerts(&matchers).await }
    });
    view! {
        {move || match alerts.get() {
            None => ().into_any(),
            Some(Err(e)) => view! { <p class="panel-error" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="panel-empty">"Nothing is firing or pending"</p> }.into_any(),
            Some(Ok(list)) => view! {
                <ul class="alert-list">
                    {list.into_iter().map(|a| {
                        let state = a.state.as_str();
                        let name = a.labels.get("alertname").cloned().unwrap_or_default();
                        let labels = a.labels.iter().filter(|(k, _)| k.as_str() != "alertname")
                            .map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
                        let since = crate::format::human_duration((chrono::Utc::now() - a.fired_at.unwrap_or(a.active_at)).num_seconds().max(0));
                        view! {
                            <li class="alert-list-item" data-state=state>
                                <span class=format!("state-badge state-{state}")>{state}</span>
                                <a href=format!("/alerting/rules/{}", a.rule_uid)>{name}</a>
                                <span class="muted small">{labels}</span>
                                <span class="muted small alert-list-since">{format!("for {since}")}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}

/// A table of series and their reduced values, sortable by either column.
#[component]
fn PanelTable(panel: Panel, data: PanelData) -> impl IntoView {
    let sort = RwSignal::new((1usize, true)); // (column, descending)
    let rows = panel_draw::reduced(&data.lines, &panel.options);
    let options = panel.options.clone();
    let sorted = move || {
        let (col, desc) = sort.get();
        let mut r = rows.clone();
        r.sort_by(|a, b| {
            let o = if col == 0 {
                a.0.cmp(&b.0)
            } else {
                crate::chart::compare_values(a.2, b.2)
            };
            if desc {
                o.reverse()
            } else {
                o
            }
        });
        r
    };
    let header = move |col: usize, label: &'static str| {
        let aria = move || match sort.get() {
            (c, true) if c == col => "descending",
            (c, false) if c == col => "ascending",
            _ => "none",
        };
        view! {
            <th scope="col" class:num=col == 1 aria-sort=aria>
                <button type="button" class="link-button" on:click=move |_| sort.update(|s| *s = if s.0 == col { (col, !s.1) } else { (col, col == 1) })>
                    {label}
                </button>
            </th>
        }
    };
    view! {
        <table class="result-table panel-table">
            <thead><tr>{header(0, "Series")}{header(1, "Value")}</tr></thead>
            <tbody>
                {move || sorted().into_iter().map(|(name, color, v)| {
                    let (text, value_color) = value_text(v, &options);
                    let style = value_color
                        .and_then(|c| crate::dashboard::color_rgb(&c))
                        .map(|(r, g, b)| format!("color:#{r:02x}{g:02x}{b:02x}"))
                        .unwrap_or_default();
                    view! {
                        <tr>
                            <td><span class="swatch" style=format!("background:{}", css_color(color))></span>{name}</td>
                            <td class="num" style=style>{text}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logs_panels_variables_become_search_terms() {
        let selection = Selection {
            values: [
                ("agent".to_string(), vec!["coder-1".to_string()]),
                (
                    "svc".to_string(),
                    vec!["api".to_string(), "web.v2".to_string()],
                ),
            ]
            .into_iter()
            .collect(),
            all: Default::default(),
        };
        assert_eq!(
            logs_query("agent_id:$agent service:$svc level>=error", &selection),
            "agent_id:coder-1 service:(api OR web.v2) level>=error"
        );
    }

    #[test]
    fn markdown_renders_and_never_runs_html() {
        let html = markdown("# Hi\n\n**bold** <script>alert(1)</script> [x](javascript:alert(1))");
        assert!(html.contains("<h1>Hi</h1>"));
        assert!(html.contains("<strong>bold</strong>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }
}
