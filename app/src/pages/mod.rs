//! One routed page per module.

pub mod admin;
pub mod alerting;
pub mod connect;
pub mod dashboard;
pub mod dashboards;
pub mod explore;
pub mod home;
pub mod lazy;
pub mod logs;
pub mod not_found;
pub mod settings;
pub mod sign_in;

use leptos::prelude::*;

/// The body of a page whose capability is not in the portal yet: what it will show and what it
/// is waiting for, so nobody mistakes it for an empty result.
#[component]
fn Upcoming(
    /// What the page will show, in a sentence or two.
    shows: &'static str,
    /// The capabilities a person will find here.
    features: &'static [&'static str],
) -> impl IntoView {
    view! {
        <section class="upcoming card">
            <p class="upcoming-lead">{shows}</p>
            <ul class="upcoming-features">
                {features.iter().map(|f| view! { <li>{*f}</li> }).collect_view()}
            </ul>
            <p class="upcoming-note">"This part of the portal is not built yet."</p>
        </section>
    }
}
