//! Explore: ad-hoc metric queries, log search and trace timelines.

use super::Upcoming;
use crate::components::page_header::PageHeader;
use leptos::prelude::*;

#[component]
pub fn MetricsExplorePage() -> impl IntoView {
    view! {
        <PageHeader title="Explore metrics" subtitle="Ad-hoc PromQL over everything the portal has taken in" time_controls=true/>
        <Upcoming
            shows="A PromQL editor over the metrics sent by Prometheus remote_write, OTLP and scraping, with the result as a chart and a table."
            features=&[
                "Metric-name and label autocomplete",
                "A step that follows the time range",
                "Hover values, zoom by selecting a range, errors shown at the query",
            ]/>
    }
}

#[component]
pub fn LogsExplorePage() -> impl IntoView {
    view! {
        <PageHeader title="Explore logs" subtitle="Search the logs shipped over OTLP and the Loki push API" time_controls=true/>
        <Upcoming
            shows="Log lines for the time range, filtered by labels and text, with their volume over time."
            features=&[
                "Label selectors and text or regular-expression filters",
                "A volume histogram above the lines",
                "Links from a log line to its trace",
            ]/>
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
