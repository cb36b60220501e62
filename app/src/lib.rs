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
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, Lazy,
};
use pages::lazy;

/// The name of the stylesheet, the JS glue and the WASM (`portal_bg.wasm`) the site build writes
/// into the site's versioned directory (`LeptosOptions::site_pkg_dir`).
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
                <link rel="stylesheet" href=format!("/{}/{OUTPUT_NAME}.css", options.site_pkg_dir)/>
                <AutoReload options=options.clone()/>
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
        <Title formatter=|page: String| if page.is_empty() { "Portal".to_string() } else { format!("{page} · Portal") }/>
        <Router>
            <Routes fallback=pages::not_found::NotFoundPage>
                <Route path=path!("public/:token") view={Lazy::<lazy::PublicDashboard>::new()}/>
                <Route path=path!("sign-in") view=pages::sign_in::SignInPage/>
                <Route path=path!("d-solo/:uid/:panel") view={Lazy::<lazy::PanelSolo>::new()}/>
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=pages::home::HomePage/>
                    <Route path=path!("dashboards") view={Lazy::<lazy::Dashboards>::new()}/>
                    <Route path=path!("d/:uid") view={Lazy::<lazy::Dashboard>::new()}/>
                    <Route path=path!("explore/metrics") view={Lazy::<lazy::MetricsExplore>::new()}/>
                    <Route path=path!("explore/logs") view={Lazy::<lazy::LogsExplore>::new()}/>
                    <Route path=path!("explore/errors") view={Lazy::<lazy::ErrorsExplore>::new()}/>
                    <Route path=path!("explore/traces") view={Lazy::<lazy::TracesExplore>::new()}/>
                    <Route path=path!("alerting/rules") view={Lazy::<lazy::AlertRules>::new()}/>
                    <Route path=path!("alerting/rules/new") view={Lazy::<lazy::NewRule>::new()}/>
                    <Route path=path!("alerting/rules/:uid") view={Lazy::<lazy::Rule>::new()}/>
                    <Route path=path!("alerting/rules/:uid/edit") view={Lazy::<lazy::EditRule>::new()}/>
                    <Route path=path!("alerting/notifications") view={Lazy::<lazy::Notifications>::new()}/>
                    <Route path=path!("alerting/alerts") view={Lazy::<lazy::Alerts>::new()}/>
                    <Route path=path!("alerting/silences") view={Lazy::<lazy::Silences>::new()}/>
                    <Route path=path!("settings") view={Lazy::<lazy::Settings>::new()}/>
                    <Route path=path!("settings/users") view={Lazy::<lazy::Users>::new()}/>
                    <Route path=path!("settings/audit") view={Lazy::<lazy::Audit>::new()}/>
                    <Route path=path!("connect") view={Lazy::<lazy::Connect>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}
