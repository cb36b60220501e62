//! Silences: active, pending and expired ones with their matchers and window; a form with a
//! preview of the alerts it would mute now and the rules whose alerts it could match; extend
//! and expire in one click. `?matchers=` pre-fills the form ("silence this" from an alert or a
//! rule).

use super::{ago, LabelTags, StateBadge};
use crate::api::{
    alerting::{parse_matchers, LabelMatcher},
    endpoints,
    silences::{SaveSilence, Silence, SilencePreview, SilencePreviewRequest, SilenceState},
};
use crate::components::{page_header::PageHeader, url_state::use_tick};
use crate::time::parse_duration;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// `name="value"` text of matchers, as the form and `amtool` write them.
pub(crate) fn matchers_text(matchers: &[LabelMatcher]) -> String {
    matchers
        .iter()
        .map(|m| format!("{}{}{:?}", m.name, m.op.as_str(), m.value))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The link that opens the form with `matchers` filled in.
pub(crate) fn silence_link(matchers: &str) -> String {
    format!(
        "/alerting/silences{}",
        crate::format::query_string([("matchers", matchers)])
    )
}

#[component]
pub fn SilencesPage() -> impl IntoView {
    let query = use_query_map();
    let prefill = query.with_untracked(|q| q.get_str("matchers").map(str::to_owned));
    let show_form = RwSignal::new(prefill.is_some());
    let editing = RwSignal::new(None::<Silence>);
    let reload = RwSignal::new(0u32);
    let tick = use_tick(15);
    let error = RwSignal::new(None::<String>);
    let list = LocalResource::new(move || {
        reload.track();
        tick.track();
        endpoints::list_silences(true)
    });
    let expire = move |id: String| {
        leptos::task::spawn_local(async move {
            match endpoints::expire_silence(&id).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let extend = move |s: Silence| {
        leptos::task::spawn_local(async move {
            let request = SaveSilence {
                id: s.id.clone(),
                matchers: s.matchers.clone(),
                starts_at: s.starts_at,
                ends_at: s.ends_at.max(chrono::Utc::now()) + chrono::Duration::hours(1),
                created_by: s.created_by.clone(),
                comment: s.comment.clone(),
            };
            match endpoints::save_silence(&request).await {
                Ok(_) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <PageHeader title="Silences" subtitle="Mute the notifications of matching alerts for a while; the alerts still show"/>
        <section class="card dashboards-toolbar">
            <span class="muted">"A silence mutes every alert whose labels match all its matchers while it runs."</span>
            <span class="toolbar-spacer"></span>
            <button type="button" class="button button-primary" on:click=move |_| { editing.set(None); show_form.set(true); }>"New silence"</button>
        </section>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || show_form.get().then(|| view! {
            <SilenceForm initial=editing.get() prefill=prefill.clone()
                on_done=Callback::new(move |_| { show_form.set(false); editing.set(None); reload.update(|r| *r += 1); })/>
        })}
        {move || match list.get() {
            None => view! { <p class="muted">"Loading silences…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(all)) => [SilenceState::Active, SilenceState::Pending, SilenceState::Expired].into_iter().map(|state| {
                let items: Vec<Silence> = all.iter().filter(|s| s.state == state).take(if state == SilenceState::Expired { 20 } else { usize::MAX }).cloned().collect();
                let title = match state {
                    SilenceState::Active => "Active",
                    SilenceState::Pending => "Upcoming",
                    SilenceState::Expired => "Expired (the latest 20)",
                };
                view! {
                    <section class="card silence-group" data-state=state.as_str()>
                        <h2 class="card-title">{title}<span class="muted">{format!(" · {}", items.len())}</span></h2>
                        {if items.is_empty() {
                            view! { <p class="muted">"None."</p> }.into_any()
                        } else {
                            view! {
                                <table class="result-table silence-table">
                                    <thead><tr><th scope="col">"Matchers"</th><th scope="col">"Window"</th><th scope="col">"By"</th><th scope="col">"Why"</th><th scope="col">"Actions"</th></tr></thead>
                                    <tbody>
                                        {items.into_iter().map(|s| {
                                            let (edit, ext, exp) = (s.clone(), s.clone(), s.id.clone());
                                            let window = match s.state {
                                                SilenceState::Active => format!("since {}, ends in {}", ago(s.starts_at), crate::format::human_duration((s.ends_at - chrono::Utc::now()).num_seconds().max(0))),
                                                SilenceState::Pending => format!("starts in {}, lasts {}", crate::format::human_duration((s.starts_at - chrono::Utc::now()).num_seconds().max(0)), crate::format::human_duration((s.ends_at - s.starts_at).num_seconds())),
                                                SilenceState::Expired => format!("ended {}", ago(s.ends_at)),
                                            };
                                            view! {
                                                <tr class="silence-row" data-id=s.id.clone()>
                                                    <td><code>{matchers_text(&s.matchers)}</code></td>
                                                    <td title=format!("{} → {}", s.starts_at.to_rfc3339(), s.ends_at.to_rfc3339())>{window}</td>
                                                    <td>{s.created_by.clone()}</td>
                                                    <td>{s.comment.clone()}</td>
                                                    <td class="rule-actions">
                                                        {(s.state != SilenceState::Expired).then(|| view! {
                                                            <button type="button" class="link-button" on:click=move |_| { editing.set(Some(edit.clone())); show_form.set(true); }>"Edit"</button>
                                                            <button type="button" class="link-button" on:click=move |_| extend(ext.clone())>"+1 h"</button>
                                                            <button type="button" class="link-button danger" on:click=move |_| expire(exp.clone())>"Expire"</button>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                }
            }).collect_view().into_any(),
        }}
    }
}

const DURATIONS: [&str; 6] = ["1h", "2h", "4h", "8h", "1d", "1w"];

#[component]
fn SilenceForm(
    initial: Option<Silence>,
    prefill: Option<String>,
    on_done: Callback<()>,
) -> impl IntoView {
    let now = chrono::Utc::now();
    let matchers = RwSignal::new(
        initial
            .as_ref()
            .map(|s| matchers_text(&s.matchers))
            .or(prefill)
            .unwrap_or_default(),
    );
    let starts = RwSignal::new(
        initial
            .as_ref()
            .map_or(now, |s| s.starts_at)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let duration = RwSignal::new(
        initial
            .as_ref()
            .map(|s| crate::time::format_duration(s.ends_at - s.starts_at))
            .unwrap_or_else(|| "2h".into()),
    );
    let created_by = RwSignal::new(
        initial
            .as_ref()
            .map(|s| s.created_by.clone())
            .unwrap_or_default(),
    );
    let comment = RwSignal::new(
        initial
            .as_ref()
            .map(|s| s.comment.clone())
            .unwrap_or_default(),
    );
    let id = initial.as_ref().map(|s| s.id.clone()).unwrap_or_default();
    let error = RwSignal::new(None::<String>);
    let parsed = Memo::new(move |_| parse_matchers(&matchers.get()));
    let preview = LocalResource::new(move || {
        let parsed = parsed.get();
        async move {
            match parsed {
                Ok(m) if !m.is_empty() => {
                    endpoints::preview_silence(&SilencePreviewRequest { matchers: m })
                        .await
                        .map(Some)
                        .map_err(|e| e.to_string())
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            }
        }
    });
    let save = move |_| {
        let m = match parse_matchers(&matchers.get_untracked()) {
            Ok(m) => m,
            Err(e) => return error.set(Some(format!("matchers: {e}"))),
        };
        let start = match chrono::DateTime::parse_from_rfc3339(starts.get_untracked().trim()) {
            Ok(t) => t.with_timezone(&chrono::Utc),
            Err(_) => {
                return error.set(Some(
                    "starts: write a time like 2026-12-01T22:00:00Z".into(),
                ))
            }
        };
        let length = match parse_duration(&duration.get_untracked()) {
            Ok(d) => d,
            Err(e) => return error.set(Some(format!("duration: {e}"))),
        };
        let request = SaveSilence {
            id: id.clone(),
            matchers: m,
            starts_at: start,
            ends_at: start + length,
            created_by: created_by.get_untracked(),
            comment: comment.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match endpoints::save_silence(&request).await {
                Ok(_) => on_done.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <section class="card silence-form" aria-label="Silence">
            <h2 class="card-title">{if initial.is_some() { "Edit silence" } else { "New silence" }}</h2>
            <label class="field"><span class="field-label">"Matchers"</span>
                <input class="field-input field-grow" name="silence-matchers" placeholder="alertname=\"QueueDepthHigh\", queue_name=~\"coding|review\""
                    prop:value=move || matchers.get() on:change=move |ev| matchers.set(event_target_value(&ev))/>
                <span class="field-error" role="alert">{move || parsed.get().err().unwrap_or_default()}</span></label>
            <div class="form-row">
                <label class="field"><span class="field-label">"Starts"</span>
                    <input class="field-input" name="silence-starts" prop:value=move || starts.get() on:change=move |ev| starts.set(event_target_value(&ev))/></label>
                <label class="field"><span class="field-label">"Lasts"</span>
                    <input class="field-input field-small" name="silence-duration" list="silence-durations" prop:value=move || duration.get()
                        on:change=move |ev| duration.set(event_target_value(&ev))/></label>
                <datalist id="silence-durations">{DURATIONS.iter().map(|d| view! { <option value=*d/> }).collect_view()}</datalist>
                <label class="field"><span class="field-label">"By"</span>
                    <input class="field-input" name="silence-created-by" placeholder="your name" prop:value=move || created_by.get()
                        on:change=move |ev| created_by.set(event_target_value(&ev))/></label>
                <label class="field field-grow"><span class="field-label">"Why"</span>
                    <input class="field-input field-grow" name="silence-comment" placeholder="planned database upgrade" prop:value=move || comment.get()
                        on:change=move |ev| comment.set(event_target_value(&ev))/></label>
            </div>
            <div class="silence-preview" aria-label="What it would mute">
                {move || match preview.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e}</p> }.into_any(),
                    Some(Ok(None)) => view! { <p class="muted">"Write matchers to see what they would mute."</p> }.into_any(),
                    Some(Ok(Some(p))) => view! { <Muted preview=p/> }.into_any(),
                }}
            </div>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            <div class="form-actions">
                <button type="button" class="button" on:click=move |_| on_done.run(())>"Cancel"</button>
                <button type="button" class="button button-primary" name="save-silence" on:click=save>"Save silence"</button>
            </div>
        </section>
    }
}

#[component]
fn Muted(preview: SilencePreview) -> impl IntoView {
    let alerts = preview.alerts.len();
    view! {
        <p class="silence-preview-summary" data-alerts=alerts.to_string()>
            {format!("Mutes {} now; could match the alerts of {} rules.", if alerts == 1 { "1 alert".to_string() } else { format!("{alerts} alerts") }, preview.rules.len())}</p>
        <ul class="plain-list">
            {preview.alerts.into_iter().take(20).map(|a| view! {
                <li><StateBadge state=a.state/>" "<LabelTags labels=a.labels/></li>
            }).collect_view()}
        </ul>
        {(!preview.rules.is_empty()).then(|| view! {
            <p class="field-hint">"Rules: "{preview.rules.into_iter().map(|r| view! {
                <a href=format!("/alerting/rules/{}", r.uid) title=if r.certain { "all its alerts" } else { "those of its alerts whose labels match" }>{r.name}</a>" "
            }).collect_view()}</p>
        })}
    }
}
