//! Alerting: the rule list, the rule form and each rule's page, the live alerts, contact points
//! with the routing tree and the notification log, and silences.

mod form;
mod notifications;
mod rule;
mod silences;

pub use form::{EditRulePage, NewRulePage};
pub use notifications::NotificationsPage;
pub use rule::RulePage;
pub use silences::SilencesPage;

use crate::api::{
    alerting::{Alert, AlertState, RuleHealth, RuleSummary},
    endpoints::{self, paths},
};
use crate::components::{
    page_header::PageHeader,
    url_state::{use_query_updater, use_tick},
};
use crate::format::human_duration;
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use std::collections::BTreeMap;

/// How long ago `t` was, in words (`3m ago`).
pub(crate) fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = (chrono::Utc::now() - t).num_seconds().max(0);
    format!("{} ago", human_duration(seconds))
}

/// A state as a coloured badge: Firing, Pending, Normal, No data.
#[component]
pub(crate) fn StateBadge(state: AlertState, #[prop(optional)] paused: bool) -> impl IntoView {
    let (class, text) = if paused {
        ("state-badge state-paused", "Paused")
    } else {
        match state {
            AlertState::Firing => ("state-badge state-firing", "Firing"),
            AlertState::Pending => ("state-badge state-pending", "Pending"),
            AlertState::Inactive => ("state-badge state-normal", "Normal"),
            AlertState::NoData => ("state-badge state-nodata", "No data"),
        }
    };
    view! { <span class=class>{text}</span> }
}

/// Labels as `name=value` tags.
#[component]
pub(crate) fn LabelTags(labels: BTreeMap<String, String>) -> impl IntoView {
    view! {
        <span class="label-tags">
            {labels.into_iter().map(|(k, v)| view! { <span class="tag label-tag">{k}"="{v}</span> }).collect_view()}
        </span>
    }
}

#[component]
pub fn AlertRulesPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let update = use_query_updater();
    let param = move |name: &'static str| {
        Memo::new(move |_| query.with(|q| q.get_str(name).unwrap_or("").to_string()))
    };
    let (search, state, folder, matchers) = (
        param("query"),
        param("state"),
        param("folder"),
        param("matcher"),
    );
    let reload = RwSignal::new(0u32);
    let tick = use_tick(15);
    let importing = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let list = LocalResource::new(move || {
        let (search, state, folder, matchers) =
            (search.get(), state.get(), folder.get(), matchers.get());
        reload.track();
        tick.track();
        async move { endpoints::list_alert_rules(&state, &folder, &search, &matchers).await }
    });
    let set = {
        let update = update.clone();
        move |name: &'static str| {
            let update = update.clone();
            move |ev: leptos::ev::Event| {
                let v = event_target_value(&ev);
                update(vec![(name, (!v.trim().is_empty()).then_some(v))]);
            }
        }
    };
    let pause = move |uid: String, paused: bool| {
        leptos::task::spawn_local(async move {
            match endpoints::set_alert_rule_paused(&uid, paused).await {
                Ok(_) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let remove = move |uid: String, name: String| {
        #[cfg(feature = "hydrate")]
        {
            let sure = web_sys::window()
                .and_then(|w| {
                    w.confirm_with_message(&format!("Delete the alert rule \"{name}\"?"))
                        .ok()
                })
                .unwrap_or(false);
            if !sure {
                return;
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = name;
        leptos::task::spawn_local(async move {
            match endpoints::delete_alert_rule(&uid).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    view! {
        <PageHeader title="Alert rules" subtitle="Thresholds and PromQL conditions the portal evaluates on a schedule"/>
        <section class="card dashboards-toolbar rules-toolbar">
            <input class="field-input" type="search" name="search" placeholder="Search rules by name or query" aria-label="Search rules"
                prop:value=move || search.get() on:change=set("query")/>
            <select class="field-input" name="state" aria-label="State" prop:value=move || state.get() on:change=set("state")>
                <option value="">"Any state"</option>
                <option value="firing">"Firing"</option>
                <option value="pending">"Pending"</option>
                <option value="inactive">"Normal"</option>
                <option value="nodata">"No data"</option>
            </select>
            <input class="field-input" name="matcher" placeholder="Labels, e.g. severity=\"critical\"" aria-label="Label matchers"
                prop:value=move || matchers.get() on:change=set("matcher")/>
            {move || (!folder.get().is_empty()).then(|| {
                let update = update.clone();
                view! { <button type="button" class="tag tag-active" title="Remove this filter"
                    on:click=move |_| update(vec![("folder", None)])>{format!("Folder: {} ×", folder.get())}</button> }
            })}
            <span class="toolbar-spacer"></span>
            <button type="button" class="button" hidden=move || !session.can(Role::Editor) on:click=move |_| importing.set(true)>"Import"</button>
            <a class="button" href=paths::export_rules("") download="rules.yml">"Export"</a>
            <a class="button button-primary" hidden=move || !session.can(Role::Editor) href="/alerting/rules/new">"New alert rule"</a>
        </section>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        {move || importing.get().then(|| view! { <ImportRules on_close=Callback::new(move |_| { importing.set(false); reload.update(|r| *r += 1); })/> })}
        {move || match list.get() {
            None => view! { <p class="muted">"Loading alert rules…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(rules)) if rules.is_empty() => view! {
                <section class="card">
                    <p class="muted">"No alert rule matches. Make one with "<a href="/alerting/rules/new">"New alert rule"</a>", or import a Prometheus rule file."</p>
                </section>
            }.into_any(),
            Some(Ok(rules)) => {
                let mut folders: BTreeMap<(String, String), Vec<RuleSummary>> = BTreeMap::new();
                for r in rules {
                    folders.entry((r.folder.clone(), r.group.clone())).or_default().push(r);
                }
                folders.into_iter().map(|((folder, group), rules)| {
                    let interval = rules.first().map(|r| r.interval.clone()).unwrap_or_default();
                    let folder_link = format!("/alerting/rules?folder={}", crate::format::escape_query_part(&folder));
                    view! {
                        <section class="card rule-group">
                            <h2 class="card-title"><a href=folder_link>{folder}</a>" › "{group}
                                <span class="muted rule-group-interval">{format!(" every {interval}")}</span></h2>
                            <table class="result-table rule-table">
                                <thead><tr>
                                    <th scope="col">"State"</th><th scope="col">"Rule"</th><th scope="col">"Labels"</th>
                                    <th scope="col">"Health"</th><th scope="col" class="num">"Fired (7 d)"</th><th scope="col">"Actions"</th>
                                </tr></thead>
                                <tbody>
                                    {rules.into_iter().map(|r| {
                                        let uid = r.rule.uid.clone();
                                        let (uid_pause, uid_delete, name) = (uid.clone(), uid.clone(), r.rule.name.clone());
                                        let paused = r.rule.paused;
                                        let counts = match (r.firing, r.pending) {
                                            (0, 0) => String::new(),
                                            (f, 0) => format!("{f} firing"),
                                            (0, p) => format!("{p} pending"),
                                            (f, p) => format!("{f} firing, {p} pending"),
                                        };
                                        let condition = if r.rule.kind == crate::api::alerting::RuleKind::Recording {
                                            "records a series".to_string()
                                        } else {
                                            r.rule.condition.describe()
                                        };
                                        view! {
                                            <tr class="rule-row" data-rule=uid.clone()>
                                                <td><StateBadge state=r.state paused=paused/><div class="muted small">{counts}</div></td>
                                                <td>
                                                    <a class="rule-name" href=format!("/alerting/rules/{uid}")>{r.rule.name.clone()}</a>
                                                    <div class="muted small"><code>{r.rule.query.clone()}</code>" "{condition}</div>
                                                </td>
                                                <td><LabelTags labels=r.rule.labels.clone()/></td>
                                                <td><Health summary=r.clone()/></td>
                                                <td class="num">{r.fired_7d}</td>
                                                <td class="rule-actions">
                                                    <a class="link-button" hidden=move || !session.can(Role::Editor) href=format!("/alerting/rules/{uid}/edit")>"Edit"</a>
                                                    <button type="button" class="link-button" hidden=move || !session.can(Role::Editor) on:click=move |_| pause(uid_pause.clone(), !paused)>
                                                        {if paused { "Resume" } else { "Pause" }}</button>
                                                    <button type="button" class="link-button danger" hidden=move || !session.can(Role::Editor) on:click=move |_| remove(uid_delete.clone(), name.clone())>"Delete"</button>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }
                }).collect_view().into_any()
            }
        }}
    }
}

/// Last evaluation, its duration and error.
#[component]
pub(crate) fn Health(summary: RuleSummary) -> impl IntoView {
    let when = summary
        .last_evaluation
        .map(ago)
        .unwrap_or_else(|| "not evaluated yet".into());
    let took = summary
        .evaluation_ms
        .map(|ms| format!(" · {ms:.0} ms"))
        .unwrap_or_default();
    match summary.health {
        RuleHealth::Error => view! {
            <span class="status-bad" title=summary.last_error.clone().unwrap_or_default()>"Error"</span>
            <div class="muted small rule-error">{summary.last_error.unwrap_or_default()}</div>
        }.into_any(),
        RuleHealth::Ok => view! { <span class="status-ok">"OK"</span><div class="muted small">{when}{took}</div> }.into_any(),
        RuleHealth::Unknown => view! { <span class="muted">{when}</span> }.into_any(),
    }
}

#[component]
fn ImportRules(on_close: Callback<()>) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let folder = RwSignal::new("Imported".to_string());
    let error = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let import = move |_| {
        let (yaml, folder) = (text.get_untracked(), folder.get_untracked());
        leptos::task::spawn_local(async move {
            match endpoints::import_rules(folder.trim(), &yaml).await {
                Ok(s) => {
                    error.set(None);
                    done.set(Some(format!(
                        "Imported {} groups with {} rules into \"{}\".",
                        s.groups,
                        s.rules,
                        folder.trim()
                    )));
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <div class="modal-backdrop">
            <div class="modal import-dialog" role="dialog" aria-modal="true" aria-label="Import rules">
                <header class="modal-header">
                    <h2>"Import a Prometheus rule file"</h2>
                    <button type="button" class="icon-button" aria-label="Close" on:click=move |_| on_close.run(())>"×"</button>
                </header>
                <p class="muted">"Paste a rule file (groups: with alert and record rules). Groups with the same name in the folder are replaced; their alerts carry on."</p>
                <textarea class="field-input code" rows="14" name="rules-yaml" aria-label="Rule file" prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))></textarea>
                <div class="form-row">
                    <label class="field"><span class="field-label">"Folder"</span>
                        <input class="field-input" name="import-folder" prop:value=move || folder.get() on:change=move |ev| folder.set(event_target_value(&ev))/></label>
                    <button type="button" class="button button-primary" on:click=import>"Import"</button>
                </div>
                {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
                {move || done.get().map(|d| view! { <p class="import-report" role="status">{d}</p> })}
            </div>
        </div>
    }
}

#[component]
pub fn AlertsPage() -> impl IntoView {
    let query = use_query_map();
    let update = use_query_updater();
    let matchers =
        Memo::new(move |_| query.with(|q| q.get_str("matcher").unwrap_or("").to_string()));
    let group_by =
        Memo::new(move |_| query.with(|q| q.get_str("group").unwrap_or("alertname").to_string()));
    let tick = use_tick(10);
    let list = LocalResource::new(move || {
        let m = matchers.get();
        tick.track();
        async move { endpoints::list_alerts(&m).await }
    });
    let set = move |name: &'static str| {
        let update = update.clone();
        move |ev: leptos::ev::Event| {
            let v = event_target_value(&ev);
            update(vec![(name, (!v.trim().is_empty()).then_some(v))]);
        }
    };
    view! {
        <PageHeader title="Alerts" subtitle="What is firing and pending now, from the portal's rules and the tools that send it alerts"/>
        <section class="card dashboards-toolbar">
            <input class="field-input field-grow" name="matcher" placeholder="Filter by labels, e.g. severity=\"critical\", team=~\"agents|infra\""
                aria-label="Label matchers" prop:value=move || matchers.get() on:change=set("matcher")/>
            <label class="field-inline">"Group by "
                <input class="field-input" name="group" list="alert-group-labels" aria-label="Group by label"
                    prop:value=move || group_by.get() on:change=set("group")/></label>
            <datalist id="alert-group-labels">
                <option value="alertname"/><option value="severity"/><option value="team"/><option value="agent_id"/><option value="queue_name"/>
            </datalist>
        </section>
        {move || match list.get() {
            None => view! { <p class="muted">"Loading alerts…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
            Some(Ok(alerts)) if alerts.is_empty() => view! {
                <section class="card"><p class="muted alerts-empty">"Nothing is firing or pending."</p></section>
            }.into_any(),
            Some(Ok(alerts)) => {
                let key = group_by.get();
                let mut groups: BTreeMap<String, Vec<Alert>> = BTreeMap::new();
                for a in alerts {
                    let value = a.labels.get(&key).cloned().unwrap_or_else(|| "(none)".into());
                    groups.entry(value).or_default().push(a);
                }
                groups.into_iter().map(|(value, alerts)| {
                    let firing = alerts.iter().filter(|a| a.state == AlertState::Firing).count();
                    view! {
                        <section class="card alert-group">
                            <h2 class="card-title">{format!("{key}={value}")}
                                <span class="muted">{format!(" · {} alerts, {firing} firing", alerts.len())}</span></h2>
                            <table class="result-table alert-table">
                                <thead><tr><th scope="col">"State"</th><th scope="col">"Labels"</th><th scope="col">"Since"</th>
                                    <th scope="col" class="num">"Value"</th><th scope="col">"Rule"</th></tr></thead>
                                <tbody>
                                    {alerts.into_iter().map(|a| view! {
                                        <tr class="alert-row" data-state=a.state.as_str()>
                                            <td><StateBadge state=a.state/>{(!a.silenced_by.is_empty()).then(|| view! {
                                                <a class="badge" href="/alerting/silences" title=format!("muted by {}", a.silenced_by.join(", "))>"Silenced"</a> })}
                                                {(!a.inhibited_by.is_empty()).then(|| view! {
                                                    <span class="badge badge-inhibited" title=format!("inhibited by {}", a.inhibited_by.join("; "))>"Inhibited"</span>
                                                    <div class="small muted">{format!("inhibited by {}", a.inhibited_by.join("; "))}</div> })}</td>
                                            <td><LabelTags labels=a.labels.clone()/>
                                                {a.annotations.get("summary").cloned().map(|s| view! { <div class="small">{s}</div> })}</td>
                                            <td title=a.active_at.to_rfc3339()>{ago(a.fired_at.unwrap_or(a.active_at))}</td>
                                            <td class="num">{crate::format::format_value(a.value)}</td>
                                            <td>{if a.rule_uid.is_empty() {
                                                    view! { <a href=a.source_url.clone() title="sent by another tool">{a.rule_name.clone()}</a> }.into_any()
                                                } else {
                                                    view! { <a href=format!("/alerting/rules/{}", a.rule_uid)>{a.rule_name.clone()}</a> }.into_any()
                                                }}
                                                " · "<a class="small" href=silences::silence_link(&a.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(", "))>"Silence"</a></td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }
                }).collect_view().into_any()
            }
        }}
    }
}
