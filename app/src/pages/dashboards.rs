//! Dashboards: the list of dashboards (filled by the dashboards capability).

use super::Upcoming;
use crate::components::page_header::PageHeader;
use leptos::prelude::*;

#[component]
pub fn DashboardsPage() -> impl IntoView {
    view! {
        <PageHeader title="Dashboards" subtitle="Live dashboards built from PromQL queries" time_controls=true/>
        <Upcoming
            shows="Your dashboards, with search, tags, folders and starred favourites, and the built-in Agent overview and Portal self-monitoring dashboards."
            features=&[
                "Time series, bar, stat, gauge, table, heatmap and text panels drawn on the server and in the browser",
                "Template variables, collapsible rows and full-screen panels",
                "Version history, JSON import and export, Grafana dashboard import",
                "Share links, public read-only links and panel images",
            ]/>
    }
}
