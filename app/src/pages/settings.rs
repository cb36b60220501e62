//! Settings: the theme, and what the portal reports about itself and its database.

use crate::api::{accounts::PasswordChange, endpoints, DatabaseMode, PortalStatus};
use crate::components::{
    page_header::PageHeader,
    session::use_session,
    theme::{apply_choice, stored_choice, ThemeChoice},
};
use crate::format::{human_bytes, human_duration};
use leptos::prelude::*;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let status = LocalResource::new(endpoints::get_portal_status);
    view! {
        <PageHeader title="Settings" subtitle="Your account, appearance, and how this portal is set up"/>
        <AccountSettings/>
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

/// Who you are, and a new password (the current one asked; your other sessions end).
#[component]
fn AccountSettings() -> impl IntoView {
    let session = use_session();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let change = PasswordChange {
            current: current.get_untracked(),
            new: new.get_untracked(),
        };
        if let Some(e) = change.validate().into_iter().next() {
            message.set(Some(Err(format!("{}: {}", e.field, e.message))));
            return;
        }
        leptos::task::spawn_local(async move {
            match endpoints::change_password(&change).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    message.set(Some(Ok(
                        "Password changed; your other sessions were signed out.".into(),
                    )));
                }
                Err(e) => message.set(Some(Err(e.to_string()))),
            }
        });
    };
    view! {
        <section class="card" id="account" aria-label="Your account">
            <h2 class="card-title">"Your account"</h2>
            {move || session.account.get().map(|a| view! {
                <p>"Signed in as "<strong>{a.login.clone()}</strong>" ("{a.role.as_str()}")."</p>
            })}
            <form class="form-row" on:submit=submit aria-label="Change your password">
                <label class="field"><span class="field-label">"Current password"</span>
                    <input class="field-input" type="password" name="current-password" autocomplete="current-password"
                        prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev))/></label>
                <label class="field"><span class="field-label">"New password"</span>
                    <input class="field-input" type="password" name="new-password" autocomplete="new-password"
                        prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev))/>
                    <span class="field-hint">"12 to 256 characters"</span></label>
                <div class="form-actions"><button type="submit" class="button">"Change password"</button></div>
            </form>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="status-ok" role="status">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error-text" role="alert">{text}</p> }.into_any(),
            })}
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
