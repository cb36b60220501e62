//! The portal's web UI: the HTML shell, the routes and the pages, server-rendered by `server`
//! and hydrated in the browser by `frontend`; plus the API types both sides share.
#![recursion_limit = "512"]

pub mod api;
pub mod chart;
pub mod components;
pub mod dashboard;
pub mod format;
pub mod pages;
pub mod panel_draw;
pub mod promql_complete;
pub mod time;

use components::layout::Layout;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};

/// The stylesheet, WASM and JS file names cargo-leptos writes (`name` in Cargo.toml).
pub const OUTPUT_NAME: &str = "portal";

/// Runs before the first paint so a stored dark theme never flashes light.
const THEME_BOOT_SCRIPT: &str = r#"(function(){try{var t=localStorage.getItem('portal-theme');if(t!=='light'&&t!=='dark'){t=window.matchMedia('(prefers-color-scheme: dark)').matches?'dark':'light'}document.documentElement.setAttribute('data-theme',t)}catch(e){}})()"#;

/// The whole HTML document; only `<App/>` inside `<body>` is hydrated.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme="light">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <script inner_html=THEME_BOOT_SCRIPT></script>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::session::provide_session();
    view! {
        <Stylesheet id="portal-style" href=format!("/pkg/{OUTPUT_NAME}.css")/>
        <Title formatter=|page: String| if page.is_empty() { "Portal".to_string() } else { format!("{page} · Portal") }/>
        <Router>
            <Routes fallback=pages::not_found::NotFoundPage>
                <Route path=path!("public/:token") view=pages::dashboard::PublicDashboardPage/>
                <Route path=path!("sign-in") view=pages::sign_in::SignInPage/>
                <Route path=path!("d-solo/:uid/:panel") view=pages::dashboard::PanelSoloPage/>
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=pages::home::HomePage/>
                    <Route path=path!("dashboards") view=pages::dashboards::DashboardsPage/>
                    <Route path=path!("d/:uid") view=pages::dashboard::DashboardPage/>
                    <Route path=path!("explore/metrics") view=pages::explore::MetricsExplorePage/>
                    <Route path=path!("explore/logs") view=pages::explore::LogsExplorePage/>
                    <Route path=path!("explore/traces") view=pages::explore::TracesExplorePage/>
                    <Route path=path!("alerting/rules") view=pages::alerting::AlertRulesPage/>
                    <Route path=path!("alerting/rules/new") view=pages::alerting::NewRulePage/>
                    <Route path=path!("alerting/rules/:uid") view=pages::alerting::RulePage/>
                    <Route path=path!("alerting/rules/:uid/edit") view=pages::alerting::EditRulePage/>
                    <Route path=path!("alerting/notifications") view=pages::alerting::NotificationsPage/>
                    <Route path=path!("alerting/alerts") view=pages::alerting::AlertsPage/>
                    <Route path=path!("alerting/silences") view=pages::alerting::SilencesPage/>
                    <Route path=path!("settings") view=pages::settings::SettingsPage/>
                    <Route path=path!("settings/users") view=pages::admin::users::UsersPage/>
                    <Route path=path!("settings/audit") view=pages::admin::audit::AuditPage/>
                    <Route path=path!("connect") view=pages::connect::ConnectPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
