//! The Share dialog: the link to this view (relative or locked to absolute times, and short),
//! public read-only links (create with an expiry, revoke), panel images and embed code.

use crate::api::{
    dashboard::{CreatePublicLink, Dashboard},
    endpoints,
};
use crate::components::url_state::query_string;
use crate::dashboard::{image_url, DataSource, Selection};
use crate::time::TimeRange;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

/// The page's origin (`http://host:port`), for links people paste elsewhere.
fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        window().location().origin().unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// Copies `text` to the clipboard (best effort; the text is also shown selectable).
fn copy(text: String) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(&text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// The tabs of the Share dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShareTab {
    Link,
    Public,
    Image,
    Embed,
}

#[component]
pub fn ShareDialog(
    dashboard: RwSignal<Dashboard>,
    source: DataSource,
    #[prop(into)] selection: Signal<Selection>,
    #[allow(unused_variables)] panels: RwSignal<Dashboard>,
    on_close: Callback<()>,
) -> impl IntoView {
    let tab = RwSignal::new(ShareTab::Link);
    let location = use_location();
    let query = use_query_map();
    let absolute = RwSignal::new(false);
    let short = RwSignal::new(None::<Result<String, String>>);
    // The path of the view, with the time range fixed to absolute times when asked.
    let path = Memo::new(move |_| {
        let pathname = location.pathname.get();
        let q = query.get();
        let mut pairs: Vec<(String, String)> = Vec::new();
        let range = TimeRange::from_query(q.get_str("from"), q.get_str("to"), chrono::Utc::now());
        let range = if absolute.get() {
            range.to_absolute(chrono::Utc::now())
        } else {
            range
        };
        let (from, to) = (range.from.to_string(), range.to.to_string());
        for (key, _) in q.latest_values() {
            match key.as_ref() {
                "from" | "to" => {}
                k => pairs.extend(
                    q.get_all(k)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|v| (k.to_string(), v)),
                ),
            }
        }
        pairs.insert(0, ("to".into(), to));
        pairs.insert(0, ("from".into(), from));
        format!(
            "{pathname}{}",
            query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        )
    });
    Effect::new(move |_| {
        path.track();
        short.set(None);
    });
    let shorten = move |_| {
        let path = path.get_untracked();
        leptos::task::spawn_local(async move {
            let answer = endpoints::create_short_link(&path).await;
            short.set(Some(
                answer
                    .map(|l| format!("{}{}", origin(), l.url))
                    .map_err(|e| e.to_string()),
            ));
        });
    };
    let first_panel = dashboard.with_untracked(|d| {
        d.panels
            .iter()
            .find(|p| p.kind.queries())
            .map(|p| p.id)
            .unwrap_or(0)
    });
    let image_panel = RwSignal::new(first_panel);
    let uid = dashboard.with_untracked(|d| d.uid.clone());
    let source_for_image = source.clone();
    let image = {
        let uid = uid.clone();
        move |ext: &'static str| {
            let q = query.get();
            image_url(
                &source_for_image,
                &uid,
                image_panel.get(),
                (
                    q.get_str("from").unwrap_or("now-6h"),
                    q.get_str("to").unwrap_or("now"),
                ),
                &selection.get(),
                ext,
            )
        }
    };
    let embed = {
        let uid = uid.clone();
        move || {
            let q = query.get();
            let mut pairs: Vec<(String, String)> = vec![
                (
                    "from".into(),
                    q.get_str("from").unwrap_or("now-6h").to_string(),
                ),
                ("to".into(), q.get_str("to").unwrap_or("now").to_string()),
            ];
            pairs.extend(selection.get().url_pairs());
            let src = format!(
                "{}/d-solo/{uid}/{}{}",
                origin(),
                image_panel.get(),
                query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            );
            format!(
                "<iframe src=\"{src}\" width=\"800\" height=\"400\" frameborder=\"0\"></iframe>"
            )
        }
    };
    let public = source == DataSource::Direct;
    let panel_choices = move || {
        dashboard.with(|d| {
            d.panels
                .iter()
                .filter(|p| p.kind.queries())
                .map(|p| (p.id, p.title.clone()))
                .collect::<Vec<_>>()
        })
    };
    let tab_button = move |id: ShareTab, label: &'static str| {
        view! {
            <button type="button" role="tab" class="segmented-item" aria-selected=move || (tab.get() == id).to_string() on:click=move |_| tab.set(id)>{label}</button>
        }
    };
    let image_for_png = image.clone();
    let image_for_svg = image.clone();
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal share-dialog" role="dialog" aria-modal="true" aria-label="Share" on:click=|ev| ev.stop_propagation()>
                <header class="modal-header">
                    <h2>"Share"</h2>
                    <button type="button" class="icon-button" aria-label="Close" on:click=move |_| on_close.run(())>"×"</button>
                </header>
                <div class="segmented" role="tablist">
                    {tab_button(ShareTab::Link, "Link")}
                    {public.then(|| tab_button(ShareTab::Public, "Public link"))}
                    {tab_button(ShareTab::Image, "Image")}
                    {public.then(|| tab_button(ShareTab::Embed, "Embed"))}
                </div>
                <Show when=move || tab.get() == ShareTab::Link>
                    <label class="checkbox"><input type="checkbox" name="absolute" prop:checked=move || absolute.get() on:change=move |_| absolute.update(|a| *a = !*a)/>
                        " Lock the time range (absolute times)"</label>
                    <div class="copy-row">
                        <input class="field-input" readonly aria-label="Link" name="share-link" prop:value=move || format!("{}{}", origin(), path.get())/>
                        <button type="button" class="button" on:click=move |_| copy(format!("{}{}", origin(), path.get_untracked()))>"Copy"</button>
                        <button type="button" class="button" on:click=shorten>"Shorten"</button>
                    </div>
                    {move || short.get().map(|s| match s {
                        Ok(url) => view! {
                            <div class="copy-row">
                                <input class="field-input" readonly aria-label="Short link" name="short-link" prop:value=url.clone()/>
                                <button type="button" class="button" on:click=move |_| copy(url.clone())>"Copy"</button>
                            </div>
                        }.into_any(),
                        Err(e) => view! { <p class="error-text" role="alert">{e}</p> }.into_any(),
                    })}
                </Show>
                <Show when=move || tab.get() == ShareTab::Public>
                    <PublicLinks uid=uid.clone()/>
                </Show>
                <Show when=move || tab.get() == ShareTab::Image>
                    <label class="field">
                        <span class="field-label">"Panel"</span>
                        <select class="field-input" name="image-panel" on:change=move |ev| image_panel.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {move || panel_choices().into_iter().map(|(id, title)| view! { <option value=id.to_string() selected=move || image_panel.get() == id>{title}</option> }).collect_view()}
                        </select>
                    </label>
                    <p class="muted">"Drawn on the server for the current time range and variables."</p>
                    <div class="copy-row">
                        <a class="button" href={ let image = image_for_png.clone(); move || image("png") } target="_blank" rel="noopener">"Open PNG"</a>
                        <a class="button" href={ let image = image_for_svg.clone(); move || image("svg") } target="_blank" rel="noopener">"Open SVG"</a>
                    </div>
                </Show>
                <Show when=move || tab.get() == ShareTab::Embed>
                    <label class="field">
                        <span class="field-label">"Panel"</span>
                        <select class="field-input" on:change=move |ev| image_panel.set(event_target_value(&ev).parse().unwrap_or(0))>
                            {move || panel_choices().into_iter().map(|(id, title)| view! { <option value=id.to_string() selected=move || image_panel.get() == id>{title}</option> }).collect_view()}
                        </select>
                    </label>
                    <textarea class="field-input" readonly rows="3" aria-label="Embed code" prop:value=embed.clone()></textarea>
                </Show>
            </div>
        </div>
    }
}

/// Expiry choices for a public link, in hours (0: never).
const EXPIRIES: &[(i64, &str)] = &[
    (0, "Never"),
    (1, "1 hour"),
    (24, "1 day"),
    (168, "7 days"),
    (720, "30 days"),
];

#[component]
fn PublicLinks(uid: String) -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let expiry = RwSignal::new(0i64);
    let error = RwSignal::new(None::<String>);
    // The link just made: its URL is shown this once (the portal keeps only its hash).
    let made = RwSignal::new(None::<String>);
    let links = {
        let uid = uid.clone();
        LocalResource::new(move || {
            reload.track();
            let uid = uid.clone();
            async move { endpoints::list_public_links(&uid).await }
        })
    };
    let create = {
        let uid = uid.clone();
        move |_| {
            let hours = expiry.get_untracked();
            let request = CreatePublicLink {
                expires_at: (hours > 0)
                    .then(|| chrono::Utc::now() + chrono::Duration::hours(hours)),
            };
            let uid = uid.clone();
            leptos::task::spawn_local(async move {
                match endpoints::create_public_link(&uid, &request).await {
                    Ok(link) => {
                        error.set(None);
                        made.set(Some(format!("{}{}", origin(), link.url)));
                        reload.update(|r| *r += 1);
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            });
        }
    };
    let revoke = move |uid: String, id: i64| {
        leptos::task::spawn_local(async move {
            match endpoints::revoke_public_link(&uid, id).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <p class="muted">"A public link opens this dashboard read-only, without an account; its variables still work. It gives access to nothing else."</p>
        <div class="form-row">
            <label class="field">
                <span class="field-label">"Expires"</span>
                <select class="field-input" name="expiry" on:change=move |ev| expiry.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {EXPIRIES.iter().map(|(h, label)| view! { <option value=h.to_string()>{*label}</option> }).collect_view()}
                </select>
            </label>
            <button type="button" class="button button-primary" on:click=create>"Create public link"</button>
        </div>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || made.get().map(|url| view! {
            <div class="public-link-made" role="status">
                <input class="field-input" readonly aria-label="Public link" name="public-link" prop:value=url.clone()/>
                <button type="button" class="button" on:click=move |_| copy(url.clone())>"Copy"</button>
                <p class="field-hint">"Copy it now: the portal keeps only a hash of the link, so it is not shown again."</p>
            </div>
        })}
        {move || match links.get() {
            None => view! { <p class="muted">"Loading links…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"No public links yet."</p> }.into_any(),
            Some(Ok(list)) => view! {
                <ul class="public-links">
                    {list.into_iter().map(|l| {
                        let shown = format!("{}/public/{}…", origin(), l.hint);
                        let state = if l.revoked { "revoked".to_string() } else {
                            match l.expires_at {
                                Some(t) if t <= chrono::Utc::now() => "expired".into(),
                                Some(t) => format!("expires {}", crate::chart::format_instant(t.timestamp_millis())),
                                None => "never expires".into(),
                            }
                        };
                        let live = !l.revoked && l.expires_at.is_none_or(|t| t > chrono::Utc::now());
                        let (uid, id) = (l.dashboard_uid.clone(), l.id);
                        view! {
                            <li class="public-link" class:dimmed=!live>
                                <code>{shown}</code>
                                <span class="muted">{state}</span>
                                {live.then(|| view! {
                                    <button type="button" class="button" on:click=move |_| revoke(uid.clone(), id)>"Revoke"</button>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
    }
}
