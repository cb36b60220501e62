//! The pages behind lazily loaded routes, in groups. The site build cuts the browser's WASM at
//! each group's `#[lazy]` function, so a group's code is fetched when one of its pages is first
//! opened; the start page, sign-in and the frame stay in the main module, so a first visit
//! downloads one module and no more. The server renders every page at once and names the
//! modules a lazily loaded page needs in `<link rel="preload">` tags, so its hydration does not
//! wait for a second round trip.
//!
//! Groups rather than one split point per page: code several split points share goes into a
//! module of its own for each combination of them, which with a point per page made hundreds of
//! small files; pages that share most of their code (charts, the rule model) load together.

use super::{
    admin::{audit::AuditPage, users::UsersPage},
    alerting::{
        AlertRulesPage, AlertsPage, EditRulePage, NewRulePage, NotificationsPage, RulePage,
        SilencesPage,
    },
    connect::ConnectPage,
    dashboard::{DashboardPage, PanelSoloPage, PublicDashboardPage},
    dashboards::DashboardsPage,
    explore::{MetricsExplorePage, TracesExplorePage},
    logs::{ErrorsPage, LogsExplorePage},
    settings::SettingsPage,
};
use leptos::prelude::*;
use leptos_router::LazyRoute;

/// `group name (preload) { Route => Page, … }` declares the lazily loaded function `name`,
/// which shows any page of the group, and for each page `Route`, the route that loads it;
/// `preload` is the name `#[lazy]` gives the function that only loads `name`'s module
/// (`__preload_<name>`).
macro_rules! lazy_groups {
    ($(group $group:ident ($preload:ident) { $($route:ident => $page:ident),* $(,)? })*) => {$(
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        #[derive(Clone, Copy)]
        enum $group { $($route),* }

        #[leptos::lazy]
        fn $group(page: $group) -> AnyView {
            match page {
                $($group::$route => view! { <$page/> }.into_any(),)*
            }
        }

        $(
            #[doc = concat!("The lazily loaded route of [`", stringify!($page), "`].")]
            pub struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                async fn view(_this: Self) -> AnyView {
                    $group($group::$route).await
                }

                // The router awaits this before hydrating or showing the page, so the view
                // above is ready at once: hydration must find the page, not a placeholder.
                async fn preload() {
                    #[cfg(target_arch = "wasm32")]
                    $preload().await;
                }
            }
        )*
    )*};
}

lazy_groups! {
    group dashboards_group (__preload_dashboards_group) {
        Dashboards => DashboardsPage,
        Dashboard => DashboardPage,
        PublicDashboard => PublicDashboardPage,
        PanelSolo => PanelSoloPage,
        MetricsExplore => MetricsExplorePage,
    }
    group alerting_group (__preload_alerting_group) {
        AlertRules => AlertRulesPage,
        NewRule => NewRulePage,
        Rule => RulePage,
        EditRule => EditRulePage,
        Notifications => NotificationsPage,
        Alerts => AlertsPage,
        Silences => SilencesPage,
    }
    group admin_group (__preload_admin_group) {
        Users => UsersPage,
        Audit => AuditPage,
    }
    group settings_group (__preload_settings_group) {
        Settings => SettingsPage,
        Connect => ConnectPage,
        LogsExplore => LogsExplorePage,
        ErrorsExplore => ErrorsPage,
        TracesExplore => TracesExplorePage,
    }
}
