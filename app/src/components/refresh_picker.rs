//! The auto-refresh interval picker; its value is the URL's `refresh` parameter.

use super::url_state::{use_query_updater, use_refresh};
use crate::time::{format_duration, Refresh, REFRESH_CHOICES};
use leptos::prelude::*;

#[component]
pub fn RefreshPicker() -> impl IntoView {
    let refresh = use_refresh();
    let update = use_query_updater();
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        let parsed = Refresh::parse(&value).unwrap_or_default();
        update(vec![("refresh", parsed.to_query())]);
    };
    view! {
        <label class="refresh-picker" title="Auto-refresh interval">
            <span class="refresh-picker-label">"Refresh"</span>
            <select class="refresh-picker-select" aria-label="Auto-refresh interval" on:change=on_change
                prop:value=move || refresh.get().to_query().unwrap_or_else(|| "off".into())>
                <option value="off" selected=move || refresh.get() == Refresh::Off>"Off"</option>
                {REFRESH_CHOICES.iter().map(|seconds| {
                    let seconds = *seconds;
                    let value = format_duration(chrono::Duration::seconds(seconds));
                    view! {
                        <option value=value.clone() selected=move || refresh.get() == Refresh::Every(seconds)>
                            {value.clone()}
                        </option>
                    }
                }).collect_view()}
            </select>
        </label>
    }
}
