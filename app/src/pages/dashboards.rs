//! Dashboards: the list with search, tags, folders and stars; new dashboards; JSON import
//! (the portal's model or Grafana's) with a report of what could not be mapped.

use crate::api::{
    dashboard::{Dashboard, DashboardSummary, ImportReport, SaveDashboard},
    endpoints,
};
use crate::components::{page_header::PageHeader, url_state::use_query_updater};
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use std::collections::BTreeMap;

#[component]
pub fn DashboardsPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let update = use_query_updater();
    let search = Memo::new(move |_| query.with(|q| q.get_str("query").unwrap_or("").to_string()));
    let tag = Memo::new(move |_| query.with(|q| q.get_str("tag").map(str::to_owned)));
    let starred_only = Memo::new(move |_| query.with(|q| q.get_str("starred") == Some("true")));
    let reload = RwSignal::new(0u32);
    let importing = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let list = LocalResource::new(move || {
        let (search, tag, starred) = (search.get(), tag.get(), starred_only.get());
        reload.track();
        async move { endpoints::list_dashboards(&search, tag.as_deref(), starred).await }
    });
    let navigate = use_navigate();
    let create = move |_| {
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let request = SaveDashboard {
                dashboard: Dashboard::new("New dashboard"),
                version: None,
                message: "Created".into(),
                overwrite: false,
            };
            match endpoints::create_dashboard(&request).await {
                Ok(r) => navigate(&format!("/d/{}", r.dashboard.uid), Default::default()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let toggle_star = move |uid: String, on: bool| {
        leptos::task::spawn_local(async move {
            match endpoints::set_starred(&uid, on).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let set_search = {
        let update = update.clone();
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            update(vec![("query", (!v.trim().is_empty()).then_some(v))]);
        }
    };
    let set_tag = {
        let update = update.clone();
        Callback::new(move |t: Option<String>| update(vec![("tag", t)]))
    };
    let set_starred = {
        let update = update.clone();
        move |_| {
            update(vec![(
                "starred",
                (!starred_only.get_untracked()).then(|| "true".to_string()),
            )])
        }
    };

    view! {
        <PageHeader title="Dashboards" subtitle="Live dashboards built from PromQL queries"/>
        <section class="card dashboards-toolbar">
            <input class="field-input dashboards-search" type="search" name="search" placeholder="Search dashboards by title"
                aria-label="Search dashboards" prop:value=move || search.get() on:change=set_search/>
            <label class="checkbox"><input type="checkbox" prop:checked=move || starred_only.get() on:change=set_starred/>" Starred only"</label>
            {move || tag.get().map(|t| {
                view! { <button type="button" class="tag tag-active" title="Remove this filter" on:click=move |_| set_tag.run(None)>{t}" ×"</button> }
            })}
            <span class="toolbar-spacer"></span>
            <button type="button" class="button" hidden=move || !session.can(Role::Editor) on:click=move |_| importing.set(true)>"Import"</button>
            <button type="button" class="button button-primary" hidden=move || !session.can(Role::Editor) on:click=create>"New dashboard"</button>
        </section>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || importing.get().then(|| view! { <ImportDialog on_close=Callback::new(move |_| { importing.set(false); reload.update(|r| *r += 1); })/> })}
        {move || match list.get() {
            None => view! { <p class="muted">"Loading dashboards…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <section class="card"><p class="muted">"No dashboard matches."</p></section> }.into_any(),
            Some(Ok(list)) => {
                let mut folders: BTreeMap<String, Vec<DashboardSummary>> = BTreeMap::new();
                for d in list {
                    folders.entry(d.folder.clone()).or_default().push(d);
                }
                folders.into_iter().map(|(folder, items)| {
                    view! {
                        <section class="card dashboard-folder">
                            <h2 class="card-title">{if folder.is_empty() { "General".to_string() } else { folder }}</h2>
                            <ul class="dashboard-list">
                                {items.into_iter().map(|d| {
                                    let uid = d.uid.clone();
                                    let starred = d.starred;
                                    view! {
                                        <li class="dashboard-item">
                                            <button type="button" class="icon-button star-button" aria-pressed=starred.to_string()
                                                title=if starred { "Remove from starred" } else { "Star" }
                                                on:click=move |_| toggle_star(uid.clone(), !starred)>{if starred { "★" } else { "☆" }}</button>
                                            <a class="dashboard-link" href=format!("/d/{}", d.uid)>{d.title.clone()}</a>
                                            {d.home.then(|| view! { <span class="badge">"Home"</span> })}
                                            <span class="dashboard-tags">
                                                {d.tags.iter().cloned().map(|t| {
                                                    let value = t.clone();
                                                    view! { <button type="button" class="tag" on:click=move |_| set_tag.run(Some(value.clone()))>{t}</button> }
                                                }).collect_view()}
                                            </span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    }
                }).collect_view().into_any()
            }
        }}
    }
}

#[component]
fn ImportDialog(on_close: Callback<()>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let folder = RwSignal::new(String::new());
    let overwrite = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let report = RwSignal::new(None::<ImportReport>);
    let import = move |_| {
        let body: serde_json::Value = match serde_json::from_str(&text.get_untracked()) {
            Ok(v) => v,
            Err(e) => {
                error.set(Some(format!("that is not JSON: {e}")));
                return;
            }
        };
        let overwrite = overwrite.get_untracked();
        let folder = folder.get_untracked().trim().to_string();
        leptos::task::spawn_local(async move {
            let folder = (!folder.is_empty()).then_some(folder.as_str());
            match endpoints::import_dashboard(&body, overwrite, folder).await {
                Ok(r) => {
                    error.set(None);
                    report.set(Some(r));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal import-dialog" role="dialog" aria-modal="true" aria-label="Import a dashboard">
                <header class="modal-header">
                    <h2>"Import a dashboard"</h2>
                    <button type="button" class="icon-button" aria-label="Close" on:click=move |_| on_close.run(())>"×"</button>
                </header>
                <p class="muted">"Paste the portal's dashboard JSON, or a Grafana dashboard's JSON (panels with Prometheus queries are imported; the rest is reported)."</p>
                <textarea class="field-input code" rows="12" name="import-json" aria-label="Dashboard JSON" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <div class="form-row">
                    <label class="field"><span class="field-label">"Folder"</span>
                        <input class="field-input" name="import-folder" prop:value=move || folder.get() on:change=move |ev| folder.set(event_target_value(&ev))/></label>
                    <label class="checkbox"><input type="checkbox" prop:checked=move || overwrite.get() on:change=move |_| overwrite.update(|o| *o = !*o)/>" Replace a dashboard with the same uid"</label>
                    <button type="button" class="button button-primary" on:click=import>"Import"</button>
                </div>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                {move || report.get().map(|r| view! {
                    <div class="import-report" role="status">
                        <p>"Imported "<a href=format!("/d/{}", r.uid)>{r.title.clone()}</a>{format!(" with {} panels.", r.panels_imported)}</p>
                        {(!r.skipped.is_empty()).then(|| view! {
                            <p>"Not imported:"</p>
                            <ul>{r.skipped.iter().cloned().map(|s| view! { <li>{s}</li> }).collect_view()}</ul>
                        })}
                    </div>
                })}
            </div>
        </div>
    }
}
