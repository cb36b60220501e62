//! The frame around every page: the navigation (Dashboards, Explore, Alerting, Settings), the
//! theme switch, and the area pages render into. It narrows to a menu on small screens.

use super::{session::SessionBox, theme::ThemeToggle, url_state::use_link_with_shared_params};
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

struct NavItem {
    path: &'static str,
    label: &'static str,
}

struct NavSection {
    title: &'static str,
    icon: &'static str,
    items: &'static [NavItem],
}

/// SVG path data for the section icons (24×24, stroked).
const ICON_DASHBOARDS: &str = "M3 3h8v8H3zM13 3h8v5h-8zM13 10h8v11h-8zM3 13h8v8H3z";
const ICON_EXPLORE: &str = "M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM15.5 15.5 21 21";
const ICON_ALERTING: &str = "M6 16V11a6 6 0 1 1 12 0v5l2 2H4zM10 21h4";
const ICON_SETTINGS: &str = "M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1 7 17M17 7l2.1-2.1";

const NAVIGATION: &[NavSection] = &[
    NavSection {
        title: "Dashboards",
        icon: ICON_DASHBOARDS,
        items: &[NavItem {
            path: "/dashboards",
            label: "All dashboards",
        }],
    },
    NavSection {
        title: "Explore",
        icon: ICON_EXPLORE,
        items: &[
            NavItem {
                path: "/explore/metrics",
                label: "Metrics",
            },
            NavItem {
                path: "/explore/logs",
                label: "Logs",
            },
            NavItem {
                path: "/explore/errors",
                label: "Errors",
            },
            NavItem {
                path: "/explore/traces",
                label: "Traces",
            },
        ],
    },
    NavSection {
        title: "Alerting",
        icon: ICON_ALERTING,
        items: &[
            NavItem {
                path: "/alerting/rules",
                label: "Alert rules",
            },
            NavItem {
                path: "/alerting/alerts",
                label: "Alerts",
            },
            NavItem {
                path: "/alerting/notifications",
                label: "Notifications",
            },
            NavItem {
                path: "/alerting/silences",
                label: "Silences",
            },
        ],
    },
    NavSection {
        title: "Settings",
        icon: ICON_SETTINGS,
        items: &[
            NavItem {
                path: "/settings",
                label: "Portal settings",
            },
            NavItem {
                path: "/connect",
                label: "Connect a source",
            },
            NavItem {
                path: "/settings/users",
                label: "Users and tokens",
            },
            NavItem {
                path: "/settings/audit",
                label: "Audit log",
            },
        ],
    },
];

/// The frame with the routed page inside it.
#[component]
pub fn Layout() -> impl IntoView {
    view! { <AppFrame><Outlet/></AppFrame> }
}

/// The frame around any content (also used by the not-found page, which no route matches).
#[component]
pub fn AppFrame(children: Children) -> impl IntoView {
    let nav_open = RwSignal::new(false);
    let home = use_link_with_shared_params("/");
    view! {
        <div class="app-frame" class:nav-open=move || nav_open.get()>
            <aside class="sidebar" id="sidebar">
                <div class="sidebar-top">
                    <A href=move || home.get() attr:class="brand">
                        <svg class="brand-mark" viewBox="0 0 24 24" aria-hidden="true">
                            <path d="M3 17l5-6 4 4 5-8 4 5"/>
                        </svg>
                        <span class="brand-name">"Portal"</span>
                    </A>
                    <ThemeToggle/>
                </div>
                // Following a link on a small screen closes the menu.
                <nav class="sidebar-nav" aria-label="Main" on:click=move |_| nav_open.set(false)>
                    {NAVIGATION.iter().map(|section| view! { <NavGroup section/> }).collect_view()}
                </nav>
                <SessionBox/>
            </aside>
            <div class="app-main">
                <div class="mobile-bar">
                    <button class="icon-button mobile-bar-menu" type="button" aria-controls="sidebar"
                        aria-expanded=move || nav_open.get().to_string()
                        aria-label="Menu" on:click=move |_| nav_open.update(|o| *o = !*o)>
                        <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 7h16M4 12h16M4 17h16"/></svg>
                    </button>
                    <span class="brand-name">"Portal"</span>
                    <ThemeToggle/>
                </div>
                <div class="sidebar-scrim" on:click=move |_| nav_open.set(false)></div>
                <main class="page">{children()}</main>
            </div>
        </div>
    }
}

#[component]
fn NavGroup(section: &'static NavSection) -> impl IntoView {
    view! {
        <div class="nav-group">
            <div class="nav-group-title">
                <svg class="nav-icon" viewBox="0 0 24 24" aria-hidden="true"><path d=section.icon/></svg>
                <span>{section.title}</span>
            </div>
            <ul class="nav-group-items">
                {section.items.iter().map(|item| {
                    let href = use_link_with_shared_params(item.path);
                    view! { <li><A href=move || href.get() attr:class="nav-link">{item.label}</A></li> }
                }).collect_view()}
            </ul>
        </div>
    }
}
