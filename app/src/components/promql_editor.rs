//! The PromQL editor: a text area that completes metric and function names, label names and
//! label values from the portal's own metadata endpoints as you type. Enter runs the query
//! (Shift+Enter adds a line); with suggestions open, arrows move, Enter or Tab picks, Escape
//! closes.

use crate::api::endpoints;
use crate::promql_complete::{apply, context, Context, Want, FUNCTIONS};
use leptos::prelude::*;

/// One suggestion: the text, and whether it is a function (completed with `(`).
#[derive(Clone, Debug, PartialEq)]
struct Suggestion {
    text: String,
    function: bool,
}

/// How many suggestions the list shows.
const MAX_SUGGESTIONS: usize = 12;

/// The candidates for `ctx`, fetched from the API (metric names are fetched once).
async fn candidates(
    ctx: &Context,
    metric_names: StoredValue<Option<Vec<String>>>,
) -> Vec<Suggestion> {
    let plain = |v: Vec<String>| {
        v.into_iter()
            .map(|text| Suggestion {
                text,
                function: false,
            })
            .collect::<Vec<_>>()
    };
    match &ctx.want {
        Want::Metric => {
            if metric_names.get_value().is_none() {
                let names = endpoints::list_label_values("__name__", None)
                    .await
                    .unwrap_or_default();
                metric_names.set_value(Some(names));
            }
            let mut out = plain(metric_names.get_value().unwrap_or_default());
            out.extend(FUNCTIONS.iter().map(|f| Suggestion {
                text: f.to_string(),
                function: true,
            }));
            out
        }
        Want::LabelName { metric } => {
            let names = endpoints::list_label_names(metric.as_deref())
                .await
                .unwrap_or_default();
            plain(names.into_iter().filter(|n| n != "__name__").collect())
        }
        Want::LabelValue { metric, label } => plain(
            endpoints::list_label_values(label, metric.as_deref())
                .await
                .unwrap_or_default(),
        ),
    }
}

/// Keeps the candidates that contain the prefix, those starting with it first.
fn rank(mut all: Vec<Suggestion>, prefix: &str) -> Vec<Suggestion> {
    let p = prefix.to_ascii_lowercase();
    all.retain(|s| s.text.to_ascii_lowercase().contains(&p) && s.text != prefix);
    all.sort_by_key(|s| {
        (
            !s.text.to_ascii_lowercase().starts_with(&p),
            s.function,
            s.text.len(),
        )
    });
    all.dedup_by(|a, b| a.text == b.text);
    all.truncate(MAX_SUGGESTIONS);
    all
}

#[component]
pub fn PromqlEditor(
    /// The query text, edited in place.
    text: RwSignal<String>,
    /// Called when the person asks to run the query.
    on_run: Callback<()>,
    /// The error of the last run, shown at the editor.
    #[prop(into)]
    error: Signal<Option<String>>,
) -> impl IntoView {
    let area = NodeRef::<leptos::html::Textarea>::new();
    let suggestions = RwSignal::new(Vec::<Suggestion>::new());
    let selected = RwSignal::new(0usize);
    let current = RwSignal::new(None::<(Context, usize)>);
    let metric_names = StoredValue::new(None::<Vec<String>>);
    // Answers can arrive out of order; only the latest request's answer is shown.
    let generation = StoredValue::new(0u64);

    let close = move || {
        suggestions.set(Vec::new());
        current.set(None);
    };
    let suggest = move |value: String, cursor: usize| {
        let Some(ctx) = context(&value, cursor) else {
            close();
            return;
        };
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        current.set(Some((ctx.clone(), cursor)));
        leptos::task::spawn_local(async move {
            let found = rank(candidates(&ctx, metric_names).await, &ctx.prefix);
            if generation.get_value() == mine {
                selected.set(0);
                suggestions.set(found);
            }
        });
    };
    let cursor_of = move || {
        area.get_untracked()
            .and_then(|el| el.selection_start().ok().flatten())
            .map(|c| c as usize)
    };
    let pick = move |i: usize| {
        let (Some(choice), Some((ctx, cursor))) = (
            suggestions.get_untracked().get(i).cloned(),
            current.get_untracked(),
        ) else {
            return;
        };
        let value = text.get_untracked();
        let (new_text, new_cursor) = apply(&value, cursor, &ctx, &choice.text, choice.function);
        text.set(new_text.clone());
        close();
        if let Some(el) = area.get_untracked() {
            el.set_value(&new_text);
            let at = new_text[..new_cursor].encode_utf16().count() as u32;
            let _ = el.set_selection_range(at, at);
            let _ = el.focus();
        }
        // A label name is followed by its values at once.
        if matches!(ctx.want, Want::LabelName { metric: Some(_) }) {
            suggest(new_text.clone(), new_cursor);
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        text.set(value.clone());
        if let Some(c) = cursor_of() {
            suggest(value.clone(), utf16_to_byte(&value, c));
        }
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let open = !suggestions.with_untracked(Vec::is_empty);
        match ev.key().as_str() {
            "ArrowDown" if open => {
                ev.prevent_default();
                let n = suggestions.with_untracked(Vec::len);
                selected.update(|s| *s = (*s + 1) % n);
            }
            "ArrowUp" if open => {
                ev.prevent_default();
                let n = suggestions.with_untracked(Vec::len);
                selected.update(|s| *s = (*s + n - 1) % n);
            }
            "Enter" | "Tab" if open => {
                ev.prevent_default();
                pick(selected.get_untracked());
            }
            "Escape" if open => {
                ev.prevent_default();
                close();
            }
            "Enter" if !ev.shift_key() => {
                ev.prevent_default();
                close();
                on_run.run(());
            }
            _ => {}
        }
    };

    view! {
        <div class="promql-editor">
            <textarea
                class="promql-editor-input field-input"
                node_ref=area
                rows="2"
                spellcheck="false"
                autocomplete="off"
                aria-label="PromQL query"
                aria-invalid=move || if error.get().is_some() { "true" } else { "false" }
                aria-autocomplete="list"
                aria-controls="promql-suggestions"
                placeholder="Enter a PromQL query, e.g. sum by (agent_id) (rate(agent_task_success_total[5m]))"
                prop:value=move || text.get()
                on:input=on_input
                on:keydown=on_keydown
                on:blur=move |_| {
                    // Let a click on a suggestion land before the list goes.
                    set_timeout(close, std::time::Duration::from_millis(150));
                }
            ></textarea>
            <Show when=move || !suggestions.with(Vec::is_empty)>
                <ul class="promql-suggestions" id="promql-suggestions" role="listbox">
                    {move || suggestions.get().into_iter().enumerate().map(|(i, s)| {
                        let kind = if s.function { "function" } else {
                            match current.with(|c| c.as_ref().map(|(c, _)| c.want.clone())) {
                                Some(Want::LabelName { .. }) => "label",
                                Some(Want::LabelValue { .. }) => "value",
                                _ => "metric",
                            }
                        };
                        view! {
                            <li role="option" class="promql-suggestion"
                                class:selected=move || selected.get() == i
                                aria-selected=move || if selected.get() == i { "true" } else { "false" }
                                on:mousedown=move |ev: leptos::ev::MouseEvent| { ev.prevent_default(); pick(i); }>
                                <span class="promql-suggestion-text">{s.text.clone()}</span>
                                <span class="promql-suggestion-kind">{kind}</span>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </Show>
            {move || error.get().map(|e| view! {
                <p class="query-error" role="alert">{e}</p>
            })}
        </div>
    }
}

/// The byte offset of UTF-16 position `units` in `text` (what the browser's cursor counts).
fn utf16_to_byte(text: &str, units: usize) -> usize {
    let mut count = 0;
    for (i, c) in text.char_indices() {
        if count >= units {
            return i;
        }
        count += c.len_utf16();
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking_puts_prefix_matches_first_and_metrics_before_functions() {
        let all = ["agent_rate_total", "rate", "irate", "x_rate"]
            .iter()
            .map(|t| Suggestion {
                text: t.to_string(),
                function: !t.contains('_'),
            })
            .collect();
        let ranked: Vec<String> = rank(all, "rat").into_iter().map(|s| s.text).collect();
        assert_eq!(ranked, ["rate", "x_rate", "agent_rate_total", "irate"]);
    }

    #[test]
    fn cursor_positions_convert_from_utf16() {
        assert_eq!(utf16_to_byte("aé{", 2), 3);
        assert_eq!(utf16_to_byte("abc", 10), 3);
    }
}
