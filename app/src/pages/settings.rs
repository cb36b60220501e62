//! Settings: the theme, and what the portal reports about itself and its database.

use crate::api::{endpoints, DatabaseMode, PortalStatus};
use crate::components::{
    page_header::PageHeader,
    theme::{apply_choice, stored_choice, ThemeChoice},
};
use crate::format::{human_bytes, human_duration};
use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let status = LocalResource::new(endpoints::get_portal_status);
    view! {
        <PageHeader title="Settings" subtitle="Appearance, and how this portal is set up"/>
        <ThemeSettings/>
        <section class="card">
            <h2 class="card-title">"Portal"</h2>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) => view! { <StatusDetails status=s/> }.into_any(),
                        Err(e) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <p class="muted">"Configuration comes from command-line flags, PORTAL_* environment variables and an optional TOML file; run the portal with --help to see them all."</p>
        </section>
    }
}

#[component]
fn ThemeSettings() -> impl IntoView {
    let choice = RwSignal::new(ThemeChoice::System);
    // The stored choice is only known in the browser.
    Effect::new(move |_| choice.set(stored_choice()));
    view! {
        <section class="card">
            <h2 class="card-title">"Appearance"</h2>
            <fieldset class="theme-choice">
                <legend>"Theme"</legend>
                {[ThemeChoice::Light, ThemeChoice::Dark, ThemeChoice::System].into_iter().map(|option| view! {
                    <label class="radio">
                        <input type="radio" name="theme" value=option.label()
                            prop:checked=move || choice.get() == option
                            on:change=move |_| { choice.set(option); apply_choice(option); }/>
                        <span>{option.label()}</span>
                    </label>
                }).collect_view()}
            </fieldset>
        </section>
    }
}

#[component]
fn StatusDetails(status: PortalStatus) -> impl IntoView {
    let db = status.database.clone();
    let rows: Vec<(&'static str, String)> = vec![
        ("Version", status.version.clone()),
        ("Instance", status.instance_id.clone()),
        (
            "Set up on",
            status
                .initialized_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        (
            "Started",
            status
                .started_at
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
        ),
        ("Up for", human_duration(status.uptime_seconds)),
        ("Listening on", status.listen_address.clone()),
        ("Largest request body", human_bytes(status.body_limit_bytes)),
        (
            "Database",
            match db.mode {
                DatabaseMode::Embedded => "Embedded PostgreSQL (no DATABASE_URL set)".to_string(),
                DatabaseMode::External => "External PostgreSQL (DATABASE_URL)".to_string(),
            },
        ),
        (
            "Database server",
            db.server_version
                .clone()
                .unwrap_or_else(|| "unknown".into()),
        ),
        (
            "Database reachable",
            if db.reachable {
                "yes".into()
            } else {
                "no".into()
            },
        ),
        (
            "Data directory",
            db.data_directory
                .clone()
                .unwrap_or_else(|| "managed by the external server".into()),
        ),
        (
            "Connections",
            format!(
                "{} open, {} idle, at most {}",
                db.pool_open_connections, db.pool_idle_connections, db.pool_max_connections
            ),
        ),
        ("Migrations applied", db.applied_migrations.to_string()),
    ];
    view! {
        <dl class="status-list status-list-wide">
            {rows.into_iter().map(|(k, v)| view! { <div><dt>{k}</dt><dd>{v}</dd></div> }).collect_view()}
        </dl>
    }
}
