//! The title row of a page, with the time controls on pages whose data depends on time.

use super::{refresh_picker::RefreshPicker, time_picker::TimePicker};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn PageHeader(
    title: &'static str,
    #[prop(optional)] subtitle: Option<&'static str>,
    /// Shows the time range and refresh pickers.
    #[prop(optional)]
    time_controls: bool,
) -> impl IntoView {
    view! {
        <Title text=title/>
        <header class="page-header">
            <div class="page-header-titles">
                <h1 class="page-header-title">{title}</h1>
                {subtitle.map(|s| view! { <p class="page-header-subtitle">{s}</p> })}
            </div>
            {time_controls.then(|| view! {
                <div class="page-header-controls">
                    <TimePicker/>
                    <RefreshPicker/>
                </div>
            })}
        </header>
    }
}
