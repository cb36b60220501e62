//! The start page: the portal's health at a glance and the way into each part of it.

use crate::api::{
    dashboard::DashboardSummary, endpoints, prometheus::QueryData, DatabaseMode, PortalStatus,
};
use crate::components::{page_header::PageHeader, url_state::use_link_with_shared_params};
use crate::format::human_duration;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    let status = LocalResource::new(endpoints::get_portal_status);
    view! {
        <PageHeader title="Overview" subtitle="Metrics, logs, traces and alerts in one place"/>
        <section class="card status-summary" aria-live="polite">
            <h2 class="card-title">"Portal status"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Checking the portal…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) => view! { <StatusSummary status=s/> }.into_any(),
                        Err(e) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
        <ConnectHint/>
        <FavouriteDashboards/>
        <div class="tile-grid">
            <Tile path="/dashboards" title="Dashboards" text="Panels of PromQL queries over a shared time range, shareable by link."/>
            <Tile path="/explore/metrics" title="Metrics" text="Query everything Prometheus, OTLP and scraping send, with PromQL."/>
            <Tile path="/explore/logs" title="Logs" text="Search the logs shipped over OTLP and the Loki push API."/>
            <Tile path="/explore/traces" title="Traces" text="Follow a request across agents and services, span by span."/>
            <Tile path="/alerting/alerts" title="Alerting" text="Rules, firing alerts, notifications and maintenance silences."/>
            <Tile path="/settings" title="Settings" text="Theme, the portal's configuration and its database."/>
        </div>
    }
}

/// While nothing but the portal itself has sent data, the way to send some.
#[component]
fn ConnectHint() -> impl IntoView {
    let data = LocalResource::new(|| async {
        endpoints::instant_query(
            "count({__name__=~\".+\", job!=\"portal\"})",
            chrono::Utc::now().timestamp_millis(),
        )
        .await
    });
    view! {
        {move || match data.get() {
            Some(Ok(QueryData::Vector(v))) if v.is_empty() => Some(view! {
                <section class="card connect-hint" aria-label="No data yet">
                    <h2 class="card-title">"No data yet"</h2>
                    <p>"Point Prometheus, an OpenTelemetry SDK or Collector, or a scrape job at this portal: "
                        <a href="/connect">"Connect a source"</a>" gives the configuration to paste."</p>
                </section>
            }),
            _ => None,
        }}
    }
}

#[component]
fn StatusSummary(status: PortalStatus) -> impl IntoView {
    let db = &status.database;
    let db_text = format!(
        "{} PostgreSQL{}",
        match db.mode {
            DatabaseMode::Embedded => "Embedded",
            DatabaseMode::External => "External",
        },
        db.server_version
            .as_deref()
            .map(|v| format!(" {v}"))
            .unwrap_or_default()
    );
    let reachable = db.reachable;
    view! {
        <dl class="status-list">
            <div><dt>"Version"</dt><dd>{status.version.clone()}</dd></div>
            <div><dt>"Up for"</dt><dd>{human_duration(status.uptime_seconds)}</dd></div>
            <div><dt>"Database"</dt><dd>{db_text}</dd></div>
            <div>
                <dt>"Database reachable"</dt>
                <dd class=if reachable { "status-ok" } else { "status-bad" }>{if reachable { "yes" } else { "no" }}</dd>
            </div>
        </dl>
    }
}

#[component]
fn Tile(path: &'static str, title: &'static str, text: &'static str) -> impl IntoView {
    let href = use_link_with_shared_params(path);
    view! {
        <A href=move || href.get() attr:class="tile card">
            <h2 class="tile-title">{title}</h2>
            <p class="tile-text">{text}</p>
        </A>
    }
}

/// The home dashboard and the starred ones, the way into what people open every morning.
#[component]
fn FavouriteDashboards() -> impl IntoView {
    let list = LocalResource::new(|| endpoints::list_dashboards("", None, false));
    view! {
        <section class="card favourites" aria-label="Your dashboards">
            <h2 class="card-title">"Dashboards"</h2>
            {move || match list.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(all)) => {
                    let home = all.iter().find(|d| d.home).cloned();
                    let starred: Vec<DashboardSummary> = all.into_iter().filter(|d| d.starred && !d.home).collect();
                    view! {
                        <ul class="dashboard-list">
                            {home.map(|d| view! {
                                <li class="dashboard-item"><a class="dashboard-link" href=format!("/d/{}", d.uid)>{d.title}</a><span class="badge">"Home"</span></li>
                            })}
                            {starred.into_iter().map(|d| view! {
                                <li class="dashboard-item"><span class="star-button" aria-hidden="true">"★"</span><a class="dashboard-link" href=format!("/d/{}", d.uid)>{d.title}</a></li>
                            }).collect_view()}
                        </ul>
                        <p class="muted"><a href="/dashboards">"All dashboards"</a>" · star a dashboard to see it here"</p>
                    }.into_any()
                }
            }}
        </section>
    }
}
