//! Dashboard settings (title, tags, folder, default time and refresh, variables, the JSON model,
//! home) and the version history (compare two versions, restore one).

use crate::api::{
    dashboard::{Dashboard, Variable, VariableSource},
    endpoints,
};
use crate::chart::format_instant;
use leptos::prelude::*;

#[component]
pub fn SettingsDialog(dash: RwSignal<Dashboard>, on_close: Callback<()>) -> impl IntoView {
    let draft = RwSignal::new(dash.get_untracked());
    let error = RwSignal::new(None::<String>);
    let json = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<String>);
    let apply = move |_| {
        let d = draft.get_untracked();
        match d.validate() {
            Ok(()) => {
                dash.set(d);
                on_close.run(());
            }
            Err(e) => error.set(Some(format!("{}: {}", e.field, e.message))),
        }
    };
    let apply_json = move |_| match serde_json::from_str::<Dashboard>(&json.get_untracked()) {
        Ok(mut d) => {
            d.uid = dash.with_untracked(|x| x.uid.clone());
            match d.validate() {
                Ok(()) => {
                    dash.set(d);
                    on_close.run(());
                }
                Err(e) => error.set(Some(format!("{}: {}", e.field, e.message))),
            }
        }
        Err(e) => error.set(Some(format!("the JSON does not read as a dashboard: {e}"))),
    };
    let make_home = move |_| {
        let uid = dash.with_untracked(|d| d.uid.clone());
        leptos::task::spawn_local(async move {
            match endpoints::set_home(Some(uid)).await {
                Ok(_) => notice.set(Some("This is now the home dashboard.".into())),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let text_field = move |label: &'static str,
                           name: &'static str,
                           get: fn(&Dashboard) -> String,
                           set: fn(&mut Dashboard, String)| {
        view! {
            <label class="field">
                <span class="field-label">{label}</span>
                <input class="field-input" name=name prop:value=move || draft.with(get) on:change=move |ev| { let v = event_target_value(&ev); draft.update(|d| set(d, v)); }/>
            </label>
        }
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal settings-dialog" role="dialog" aria-modal="true" aria-label="Dashboard settings">
                <header class="modal-header">
                    <h2>"Dashboard settings"</h2>
                    <div class="modal-actions">
                        <button type="button" class="button" on:click=move |_| on_close.run(())>"Cancel"</button>
                        <button type="button" class="button button-primary" on:click=apply>"Apply"</button>
                    </div>
                </header>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                {move || notice.get().map(|n| view! { <p class="banner" role="status">{n}</p> })}
                {text_field("Title", "title", |d| d.title.clone(), |d, v| d.title = v)}
                {text_field("Description", "description", |d| d.description.clone(), |d, v| d.description = v)}
                <div class="form-row">
                    {text_field("Tags (comma-separated)", "tags", |d| d.tags.join(", "), |d, v| d.tags = crate::dashboard::split_list(&v))}
                    {text_field("Folder", "folder", |d| d.folder.clone(), |d, v| d.folder = v.trim().to_string())}
                </div>
                <div class="form-row">
                    {text_field("Default from", "time-from", |d| d.time.from.clone(), |d, v| d.time.from = v.trim().to_string())}
                    {text_field("Default to", "time-to", |d| d.time.to.clone(), |d, v| d.time.to = v.trim().to_string())}
                    {text_field("Default refresh", "refresh", |d| d.refresh.clone(), |d, v| d.refresh = v.trim().to_string())}
                </div>
                <VariablesEditor draft=draft/>
                <fieldset class="editor-section">
                    <legend>"Home"</legend>
                    <button type="button" class="button" on:click=make_home>"Make this the home dashboard"</button>
                </fieldset>
                <details class="editor-section" on:toggle=move |_| json.set(serde_json::to_string_pretty(&draft.get_untracked()).unwrap_or_default())>
                    <summary>"JSON model"</summary>
                    <textarea class="field-input code" rows="16" name="json" aria-label="JSON model" prop:value=move || json.get() on:change=move |ev| json.set(event_target_value(&ev))></textarea>
                    <button type="button" class="button" on:click=apply_json>"Apply JSON"</button>
                </details>
            </div>
        </div>
    }
}

fn source_text(v: &Variable) -> (&'static str, String, String) {
    match &v.source {
        VariableSource::Query { query, regex } => ("query", query.clone(), regex.clone()),
        VariableSource::Custom { values } => ("custom", values.clone(), String::new()),
        VariableSource::Interval { values } => ("interval", values.clone(), String::new()),
    }
}

#[component]
fn VariablesEditor(draft: RwSignal<Dashboard>) -> impl IntoView {
    let edit =
        move |i: usize, f: Box<dyn Fn(&mut Variable)>| draft.update(|d| f(&mut d.variables[i]));
    let set_source = move |i: usize, kind: String, text: String, regex: String| {
        edit(
            i,
            Box::new(move |v| {
                v.source = match kind.as_str() {
                    "custom" => VariableSource::Custom {
                        values: text.clone(),
                    },
                    "interval" => VariableSource::Interval {
                        values: text.clone(),
                    },
                    _ => VariableSource::Query {
                        query: text.clone(),
                        regex: regex.clone(),
                    },
                }
            }),
        )
    };
    view! {
        <fieldset class="editor-section">
            <legend>"Variables"</legend>
            <p class="muted">"Use them in queries and titles as $name. Query variables take label_values(label), label_values(selector, label), metrics(regex) or query_result(query), and may use the variables above them."</p>
            {move || draft.with(|d| d.variables.clone()).into_iter().enumerate().map(|(i, v)| {
                let (kind, text, regex) = source_text(&v);
                let (t2, r2) = (text.clone(), regex.clone());
                let k3 = kind.to_string();
                view! {
                    <div class="variable-editor">
                        <div class="form-row">
                            <input class="field-input field-small" aria-label="Name" placeholder="name" prop:value=v.name.clone()
                                on:change=move |ev| { let n = event_target_value(&ev); edit(i, Box::new(move |v| v.name = n.trim().to_string())); }/>
                            <input class="field-input field-small" aria-label="Label" placeholder="Label" prop:value=v.label.clone()
                                on:change=move |ev| { let n = event_target_value(&ev); edit(i, Box::new(move |v| v.label = n.clone())); }/>
                            <select class="field-input" aria-label="Type" on:change=move |ev| set_source(i, event_target_value(&ev), t2.clone(), r2.clone())>
                                {["query", "custom", "interval"].into_iter().map(|k| view! { <option value=k selected=k == kind>{k}</option> }).collect_view()}
                            </select>
                            <label class="checkbox"><input type="checkbox" prop:checked=v.multi on:change=move |_| edit(i, Box::new(|v| { v.multi = !v.multi; if !v.multi { v.current.truncate(1); } }))/>" Multi"</label>
                            <label class="checkbox"><input type="checkbox" prop:checked=v.include_all on:change=move |_| edit(i, Box::new(|v| v.include_all = !v.include_all))/>" All"</label>
                            <button type="button" class="link-button" on:click=move |_| draft.update(|d| { d.variables.remove(i); })>"Remove"</button>
                        </div>
                        <input class="field-input" aria-label="Query or values" placeholder=if kind == "query" { "label_values(metric, label)" } else { "a,b,c" }
                            prop:value=text.clone() on:change=move |ev| set_source(i, k3.clone(), event_target_value(&ev), regex.clone())/>
                    </div>
                }
            }).collect_view()}
            <button type="button" class="button" on:click=move |_| draft.update(|d| {
                let n = d.variables.len() + 1;
                d.variables.push(Variable {
                    name: format!("var{n}"),
                    label: String::new(),
                    source: VariableSource::Query { query: "label_values(job)".into(), regex: String::new() },
                    multi: false,
                    include_all: false,
                    current: Vec::new(),
                });
            })>"Add variable"</button>
        </fieldset>
    }
}

#[component]
pub fn HistoryDialog(
    dash: RwSignal<Dashboard>,
    saved: RwSignal<Dashboard>,
    version: RwSignal<i32>,
    on_close: Callback<()>,
) -> impl IntoView {
    let uid = dash.with_untracked(|d| d.uid.clone());
    let reload = RwSignal::new(0u32);
    let picked = RwSignal::new(Vec::<i32>::new());
    let error = RwSignal::new(None::<String>);
    let versions = {
        let uid = uid.clone();
        LocalResource::new(move || {
            reload.track();
            let uid = uid.clone();
            async move { endpoints::list_versions(&uid).await }
        })
    };
    let diff = {
        let uid = uid.clone();
        LocalResource::new(move || {
            let p = picked.get();
            let uid = uid.clone();
            async move {
                if p.len() != 2 {
                    return Ok(None);
                }
                let (a, b) = (p[0].min(p[1]), p[0].max(p[1]));
                endpoints::diff_versions(&uid, a, b).await.map(Some)
            }
        })
    };
    let restore = move |v: i32| {
        let uid = uid.clone();
        leptos::task::spawn_local(async move {
            match endpoints::restore_version(&uid, v).await {
                Ok(r) => {
                    version.set(r.version);
                    saved.set(r.dashboard.clone());
                    dash.set(r.dashboard);
                    reload.update(|x| *x += 1);
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div class="modal history-dialog" role="dialog" aria-modal="true" aria-label="Version history" on:click=|ev| ev.stop_propagation()>
                <header class="modal-header">
                    <h2>"Version history"</h2>
                    <button type="button" class="icon-button" aria-label="Close" on:click=move |_| on_close.run(())>"×"</button>
                </header>
                <p class="muted">"Tick two versions to compare them."</p>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                {move || match versions.get() {
                    None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <table class="result-table">
                            <thead><tr><th></th><th scope="col">"Version"</th><th scope="col">"Saved"</th><th scope="col">"By"</th><th scope="col">"Note"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|v| {
                                    let n = v.version;
                                    let restore = restore.clone();
                                    view! {
                                        <tr>
                                            <td><input type="checkbox" aria-label=format!("Compare version {n}") prop:checked=move || picked.with(|p| p.contains(&n))
                                                on:change=move |_| picked.update(|p| { if let Some(i) = p.iter().position(|x| *x == n) { p.remove(i); } else { p.push(n); if p.len() > 2 { p.remove(0); } } })/></td>
                                            <td>{n}{move || (version.get() == n).then_some(" (current)")}</td>
                                            <td>{format_instant(v.created_at.timestamp_millis())}</td>
                                            <td>{v.created_by.clone()}</td>
                                            <td>{v.message.clone()}</td>
                                            <td>{move || (version.get() != n).then(|| { let restore = restore.clone(); view! { <button type="button" class="link-button" on:click=move |_| restore(n)>"Restore"</button> } })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }}
                {move || match diff.get() {
                    Some(Ok(Some(changes))) if changes.is_empty() => view! { <p class="muted">"The two versions are the same."</p> }.into_any(),
                    Some(Ok(Some(changes))) => view! {
                        <table class="result-table diff-table">
                            <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                            <tbody>
                                {changes.into_iter().map(|c| {
                                    let show = |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
                                    view! { <tr><td><code>{c.path}</code></td><td class="diff-before"><code>{show(c.before)}</code></td><td class="diff-after"><code>{show(c.after)}</code></td></tr> }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                    _ => ().into_any(),
                }}
            </div>
        </div>
    }
}
