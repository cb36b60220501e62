//! The time range picker: quick ranges, an absolute or relative from/to form that says what is
//! wrong with a bad entry, and buttons to move the range back, forward and out. Its state is the
//! URL's `from` and `to` parameters.

use super::url_state::{use_query_updater, use_time_range};
use crate::time::{describe, TimeRange, QUICK_RANGES};
use chrono::Utc;
use leptos::prelude::*;

#[component]
pub fn TimePicker() -> impl IntoView {
    let range = use_time_range();
    let update = use_query_updater();
    let open = RwSignal::new(false);
    let from_text = RwSignal::new(String::new());
    let to_text = RwSignal::new(String::new());
    let error = RwSignal::new(None::<(&'static str, String)>);

    let set_range = {
        let update = update.clone();
        move |range: TimeRange| {
            update(vec![
                ("from", Some(range.from.to_string())),
                ("to", Some(range.to.to_string())),
            ]);
        }
    };
    let toggle = move |_| {
        if !open.get_untracked() {
            let current = range.get_untracked();
            from_text.set(describe(&current.from));
            to_text.set(describe(&current.to));
            error.set(None);
        }
        open.update(|o| *o = !*o);
    };
    let apply = {
        let set_range = set_range.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            match TimeRange::parse(
                &from_text.get_untracked(),
                &to_text.get_untracked(),
                Utc::now(),
            ) {
                Ok(parsed) => {
                    error.set(None);
                    open.set(false);
                    set_range(parsed);
                }
                Err(e) => error.set(Some((e.field, e.message))),
            }
        }
    };
    let shift = {
        let set_range = set_range.clone();
        move |factor: f64| {
            let set_range = set_range.clone();
            move |_| set_range(range.get_untracked().shifted(factor, Utc::now()))
        }
    };
    let zoom_out = {
        let set_range = set_range.clone();
        move |_| set_range(range.get_untracked().zoomed_out(Utc::now()))
    };
    let field_error = move |field: &'static str| {
        move || {
            error
                .get()
                .filter(|(f, _)| *f == field)
                .map(|(_, message)| message)
        }
    };

    view! {
        <div class="time-picker">
            <button class="icon-button time-picker-shift" type="button" title="Move the range back"
                aria-label="Move the range back" on:click=shift(-0.5)>"‹"</button>
            <button class="time-picker-toggle" type="button" aria-haspopup="dialog"
                aria-expanded=move || open.get().to_string() on:click=toggle>
                <svg class="time-picker-clock" viewBox="0 0 24 24" aria-hidden="true">
                    <circle cx="12" cy="12" r="9"/><path d="M12 7v5l3 2"/>
                </svg>
                <span class="time-picker-label">{move || range.get().label()}</span>
            </button>
            <button class="icon-button time-picker-shift" type="button" title="Move the range forward"
                aria-label="Move the range forward" on:click=shift(0.5)>"›"</button>
            <button class="icon-button time-picker-zoom" type="button" title="Zoom out (twice the range)"
                aria-label="Zoom out" on:click=zoom_out>"−"</button>
            <Show when=move || open.get()>
                <div class="time-picker-backdrop" on:click=move |_| open.set(false)></div>
                <div class="time-picker-panel" role="dialog" aria-label="Time range">
                    <form class="time-picker-form" on:submit=apply.clone() novalidate=true>
                        <h2 class="time-picker-heading">"Time range"</h2>
                        <label class="field">
                            <span class="field-label">"From"</span>
                            <input class="field-input" name="from" autocomplete="off" spellcheck="false"
                                aria-invalid=move || field_error("from")().is_some().to_string()
                                prop:value=move || from_text.get()
                                on:input=move |ev| from_text.set(event_target_value(&ev))/>
                            <span class="field-error" role="alert">{field_error("from")}</span>
                        </label>
                        <label class="field">
                            <span class="field-label">"To"</span>
                            <input class="field-input" name="to" autocomplete="off" spellcheck="false"
                                aria-invalid=move || field_error("to")().is_some().to_string()
                                prop:value=move || to_text.get()
                                on:input=move |ev| to_text.set(event_target_value(&ev))/>
                            <span class="field-error" role="alert">{field_error("to")}</span>
                        </label>
                        <p class="field-hint">"now-6h, now/d, 2026-01-31 12:00 or RFC 3339; times in UTC"</p>
                        <button class="button button-primary" type="submit">"Apply time range"</button>
                    </form>
                    <ul class="time-picker-quick" aria-label="Quick ranges">
                        {QUICK_RANGES.iter().map(|quick| {
                            let set_range = set_range.clone();
                            let selected = move || {
                                let r = range.get();
                                r.from.to_string() == quick.from && r.to.to_string() == quick.to
                            };
                            view! {
                                <li>
                                    <button type="button" class="time-picker-quick-item"
                                        class:selected=selected
                                        on:click=move |_| {
                                            if let Ok(parsed) = TimeRange::parse(quick.from, quick.to, Utc::now()) {
                                                open.set(false);
                                                set_range(parsed);
                                            }
                                        }>
                                        {quick.label}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </div>
            </Show>
        </div>
    }
}
