//! Alerting: alert rules, firing alerts and silences.

use super::Upcoming;
use crate::components::page_header::PageHeader;
use leptos::prelude::*;

#[component]
pub fn AlertRulesPage() -> impl IntoView {
    view! {
        <PageHeader title="Alert rules" subtitle="PromQL conditions the portal evaluates on a schedule"/>
        <Upcoming
            shows="The alert rules, grouped by folder, with their state, last evaluation and a form to create and edit them."
            features=&[
                "Rules written in PromQL with a pending duration, labels and annotations",
                "A preview of the condition over the chosen time range",
                "Rules as code through the same HTTP API",
            ]/>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <PageHeader title="Alerts" subtitle="What is firing now, from the portal's rules and from Prometheus" time_controls=true/>
        <Upcoming
            shows="Firing and pending alerts, grouped by labels, from the portal's own rules and from Prometheus servers that send to the Alertmanager API."
            features=&[
                "Grouping, filtering by matchers and inhibition",
                "Notifications to webhooks, Slack, email and PagerDuty",
                "The history of every alert",
            ]/>
    }
}

#[component]
pub fn SilencesPage() -> impl IntoView {
    view! {
        <PageHeader title="Silences" subtitle="Mute notifications for maintenance windows"/>
        <Upcoming
            shows="Active, pending and expired silences, and a form to create one from label matchers with a start and an end."
            features=&[
                "Matchers with =, !=, =~ and !~",
                "The alerts a silence would mute, shown before it is saved",
                "Managed by amtool through the Alertmanager API as well",
            ]/>
    }
}
