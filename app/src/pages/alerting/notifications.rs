//! Notifications: contact points (webhook, Slack, PagerDuty, email) each with a "send test"
//! button, the routing tree (a default route and routes by label matchers, grouping and
//! timing), and the notification log: what was sent to whom, when, and the answer.

use super::silences::matchers_text;
use crate::api::{
    alerting::{parse_matchers, ContactKind, ContactPoint, NotificationPolicy, Route},
    endpoints,
};
use crate::components::{page_header::PageHeader, url_state::use_tick};
use crate::{api::accounts::Role, components::session::use_session};
use leptos::prelude::*;

/// `1 alert`, `2 alerts`.
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn kind_name(kind: &ContactKind) -> &'static str {
    match kind {
        ContactKind::Webhook { .. } => "webhook",
        ContactKind::Slack { .. } => "slack",
        ContactKind::Pagerduty { .. } => "pagerduty",
        ContactKind::Email { .. } => "email",
    }
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let session = use_session();
    let reload = RwSignal::new(0u32);
    let points = LocalResource::new(move || {
        reload.track();
        endpoints::list_contact_points()
    });
    let editing = RwSignal::new(None::<(ContactPoint, bool)>);
    let error = RwSignal::new(None::<String>);
    let remove = move |name: String| {
        leptos::task::spawn_local(async move {
            match endpoints::delete_contact_point(&name).await {
                Ok(()) => reload.update(|r| *r += 1),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let new_point = move |_| {
        editing.set(Some((
            ContactPoint {
                name: String::new(),
                kind: ContactKind::Webhook {
                    url: String::new(),
                    max_alerts: 0,
                },
                title_template: String::new(),
                body_template: String::new(),
                send_resolved: true,
                configured: Vec::new(),
            },
            false,
        )))
    };
    view! {
        <PageHeader title="Notifications" subtitle="Where alerts are sent, how they are grouped, and what was sent"/>
        <section class="card">
            <header class="rule-preview-header">
                <h2 class="card-title">"Contact points"</h2>
                <span class="toolbar-spacer"></span>
                <button type="button" class="button button-primary" hidden=move || !session.can(Role::Admin) on:click=new_point>"New contact point"</button>
            </header>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || match points.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"No contact point yet: add one, then route alerts to it below."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="result-table">
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Type"</th><th scope="col">"Target"</th><th scope="col">"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|p| {
                                let target = match &p.kind {
                                    ContactKind::Webhook { url, .. } | ContactKind::Slack { url, .. } if url.is_empty() => "URL configured (hidden)".to_string(),
                                    ContactKind::Webhook { url, .. } | ContactKind::Slack { url, .. } => url.clone(),
                                    ContactKind::Pagerduty { url, .. } => url.clone(),
                                    ContactKind::Email { to, .. } => to.join(", "),
                                };
                                let (edit, name) = (p.clone(), p.name.clone());
                                view! {
                                    <tr>
                                        <td><strong>{p.name.clone()}</strong></td>
                                        <td>{kind_name(&p.kind)}</td>
                                        <td><code>{target}</code></td>
                                        <td class="rule-actions">
                                            <button type="button" class="link-button" hidden=move || !session.can(Role::Admin) on:click=move |_| editing.set(Some((edit.clone(), true)))>"Edit"</button>
                                            <button type="button" class="link-button danger" hidden=move || !session.can(Role::Admin) on:click=move |_| remove(name.clone())>"Delete"</button>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            {move || editing.get().map(|(point, existing)| view! {
                <ContactForm point=point existing=existing on_done=Callback::new(move |_| { editing.set(None); reload.update(|r| *r += 1); })/>
            })}
        </section>
        <PolicyEditor reload=reload/>
        <NotificationLog/>
    }
}

#[component]
fn ContactForm(point: ContactPoint, existing: bool, on_done: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(point.name.clone());
    let kind = RwSignal::new(kind_name(&point.kind).to_string());
    let (url0, channel0, key0, severity0, smtp0, from0, to0, max0) = match &point.kind {
        ContactKind::Webhook { url, max_alerts } => (
            url.clone(),
            String::new(),
            String::new(),
            "error".to_string(),
            String::new(),
            String::new(),
            String::new(),
            *max_alerts,
        ),
        ContactKind::Slack { url, channel } => (
            url.clone(),
            channel.clone(),
            String::new(),
            "error".into(),
            String::new(),
            String::new(),
            String::new(),
            0,
        ),
        ContactKind::Pagerduty {
            routing_key,
            url,
            severity,
        } => (
            url.clone(),
            String::new(),
            routing_key.clone(),
            severity.clone(),
            String::new(),
            String::new(),
            String::new(),
            0,
        ),
        ContactKind::Email { smtp, from, to } => (
            String::new(),
            String::new(),
            String::new(),
            "error".into(),
            smtp.clone(),
            from.clone(),
            to.join(", "),
            0,
        ),
    };
    let url = RwSignal::new(url0);
    let channel = RwSignal::new(channel0);
    let routing_key = RwSignal::new(key0);
    let severity = RwSignal::new(severity0);
    let smtp = RwSignal::new(smtp0);
    let from = RwSignal::new(from0);
    let to = RwSignal::new(to0);
    let max_alerts = RwSignal::new(max0.to_string());
    let title = RwSignal::new(point.title_template.clone());
    let body = RwSignal::new(point.body_template.clone());
    let send_resolved = RwSignal::new(point.send_resolved);
    let outcome = RwSignal::new(None::<(bool, String)>);
    let error = RwSignal::new(None::<String>);
    // The kind and the secrets it had when saved (shown blank, see `secret` below).
    let secret_kind = kind_name(&point.kind);
    let configured = StoredValue::new(point.configured.clone());
    let build = move || ContactPoint {
        name: name.get_untracked().trim().to_string(),
        kind: match kind.get_untracked().as_str() {
            "slack" => ContactKind::Slack {
                url: url.get_untracked().trim().into(),
                channel: channel.get_untracked().trim().into(),
            },
            "pagerduty" => ContactKind::Pagerduty {
                routing_key: routing_key.get_untracked().trim().into(),
                url: if url.get_untracked().trim().is_empty() {
                    "https://events.pagerduty.com/v2/enqueue".into()
                } else {
                    url.get_untracked().trim().into()
                },
                severity: severity.get_untracked(),
            },
            "email" => ContactKind::Email {
                smtp: smtp.get_untracked().trim().into(),
                from: from.get_untracked().trim().into(),
                to: to
                    .get_untracked()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            },
            _ => ContactKind::Webhook {
                url: url.get_untracked().trim().into(),
                max_alerts: max_alerts.get_untracked().trim().parse().unwrap_or(0),
            },
        },
        title_template: title.get_untracked(),
        body_template: body.get_untracked(),
        send_resolved: send_resolved.get_untracked(),
        // Secrets shown as configured stay as saved while their fields are left blank.
        configured: if kind.get_untracked() == secret_kind {
            configured.get_value()
        } else {
            Vec::new()
        },
    };
    let check = move |p: &ContactPoint| -> bool {
        match p.validate().into_iter().next() {
            Some(e) => {
                error.set(Some(format!("{}: {}", e.field, e.message)));
                false
            }
            None => {
                error.set(None);
                true
            }
        }
    };
    let test = move |_| {
        let p = build();
        if !check(&p) {
            return;
        }
        outcome.set(None);
        leptos::task::spawn_local(async move {
            match endpoints::test_contact_point(&p).await {
                Ok(o) => outcome.set(Some((o.delivered, o.answer))),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let save = move |_| {
        let p = build();
        if !check(&p) {
            return;
        }
        leptos::task::spawn_local(async move {
            match endpoints::save_contact_point(&p, existing).await {
                Ok(_) => on_done.run(()),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let input = move |label: &'static str,
                      field: &'static str,
                      signal: RwSignal<String>,
                      placeholder: &'static str| {
        view! {
            <label class="field"><span class="field-label">{label}</span>
                <input class="field-input field-grow" name=field placeholder=placeholder prop:value=move || signal.get()
                    on:change=move |ev| signal.set(event_target_value(&ev))/></label>
        }
    };
    // A secret already saved is never sent back: its field stays blank to keep it, and typing
    // into it replaces it.
    let secret = move |label: &'static str,
                       field: &'static str,
                       signal: RwSignal<String>,
                       placeholder: &'static str| {
        let set =
            configured.with_value(|c| c.iter().any(|c| field.ends_with(&c.replace('_', "-"))));
        let kept = move || set && kind.get() == secret_kind;
        view! {
            <label class="field"><span class="field-label">{label}</span>
                <input class="field-input field-grow" name=field type="password" autocomplete="off"
                    placeholder=move || if kept() { "configured (hidden): leave blank to keep, type to replace" } else { placeholder }
                    prop:value=move || signal.get()
                    on:change=move |ev| signal.set(event_target_value(&ev))/></label>
        }
    };
    view! {
        <div class="contact-form" role="group" aria-label="Contact point">
            <div class="form-row">
                <label class="field"><span class="field-label">"Name"</span>
                    <input class="field-input" name="contact-name" prop:disabled=existing prop:value=move || name.get()
                        on:change=move |ev| name.set(event_target_value(&ev))/></label>
                <label class="field"><span class="field-label">"Type"</span>
                    <select class="field-input" name="contact-type" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                        <option value="webhook">"Webhook (Alertmanager payload)"</option>
                        <option value="slack">"Slack incoming webhook"</option>
                        <option value="pagerduty">"PagerDuty (Events API v2)"</option>
                        <option value="email">"Email (SMTP)"</option>
                    </select></label>
            </div>
            {move || match kind.get().as_str() {
                "slack" => view! { <div class="form-row">{secret("Webhook URL", "contact-url", url, "https://hooks.slack.com/services/…")}{input("Channel (optional)", "contact-channel", channel, "#alerts")}</div> }.into_any(),
                "pagerduty" => view! { <div class="form-row">{secret("Routing key", "contact-routing-key", routing_key, "")}{input("Events URL", "contact-url", url, "https://events.pagerduty.com/v2/enqueue")}
                    <label class="field"><span class="field-label">"Severity"</span>
                        <select class="field-input" name="contact-severity" prop:value=move || severity.get() on:change=move |ev| severity.set(event_target_value(&ev))>
                            <option value="critical">"critical"</option><option value="error">"error"</option><option value="warning">"warning"</option><option value="info">"info"</option>
                        </select></label></div> }.into_any(),
                "email" => view! { <div class="form-row">{input("SMTP server (host:port)", "contact-smtp", smtp, "localhost:25")}{input("From", "contact-from", from, "portal@example.com")}{input("To (comma-separated)", "contact-to", to, "oncall@example.com")}</div> }.into_any(),
                _ => view! { <div class="form-row">{secret("URL", "contact-url", url, "https://example.com/alerts")}{input("Most alerts per message (0: all)", "contact-max-alerts", max_alerts, "0")}</div> }.into_any(),
            }}
            <div class="form-row">
                {input("Title template (optional)", "contact-title", title, "[{{ $status | toUpper }}{{ $count }}] {{ $alertname }}")}
                <label class="checkbox"><input type="checkbox" prop:checked=move || send_resolved.get() on:change=move |_| send_resolved.update(|v| *v = !*v)/>" Tell when alerts resolve"</label>
            </div>
            <label class="field"><span class="field-label">"Message template (optional)"</span>
                <textarea class="field-input code" rows="3" name="contact-body" placeholder="{{ $alerts }}" prop:value=move || body.get()
                    on:change=move |ev| body.set(event_target_value(&ev))></textarea>
                <span class="field-hint">"Variables: $status, $count, $firing, $resolved, $alertname, $groupLabels, $alerts (each alert with its value and links), $labels.<name> (labels all alerts share)."</span></label>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || outcome.get().map(|(ok, answer)| view! {
                <p class=if ok { "status-ok" } else { "status-bad" } role="status">{if ok { "Delivered: " } else { "Not delivered: " }}<code>{answer}</code></p>
            })}
            <div class="form-actions">
                <button type="button" class="button" on:click=move |_| on_done.run(())>"Cancel"</button>
                <button type="button" class="button" on:click=test>"Send test"</button>
                <button type="button" class="button button-primary" on:click=save>"Save contact point"</button>
            </div>
        </div>
    }
}

/// One child route as the editor holds it.
#[derive(Clone)]
struct RouteRow {
    matchers: RwSignal<String>,
    receiver: RwSignal<String>,
    group_by: RwSignal<String>,
    continue_matching: RwSignal<bool>,
    /// What the editor does not show (timing overrides, nested routes) is kept as it was.
    rest: Route,
}

fn split_list(text: &str) -> Option<Vec<String>> {
    let items: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!items.is_empty()).then_some(items)
}

#[component]
fn PolicyEditor(reload: RwSignal<u32>) -> impl IntoView {
    // The policy is read once: a contact point saved meanwhile only refreshes the choices, so
    // it never resets a routing tree being edited.
    let policy = LocalResource::new(endpoints::get_notification_policy);
    let points = LocalResource::new(move || {
        reload.track();
        endpoints::list_contact_points()
    });
    let receivers = RwSignal::new(None::<Vec<String>>);
    Effect::new(move |_| {
        if let Some(Ok(list)) = points.get() {
            receivers.set(Some(list.into_iter().map(|p| p.name).collect()));
        }
    });
    let ready = Memo::new(move |_| receivers.with(Option::is_some));
    let names = Signal::derive(move || receivers.get().unwrap_or_default());
    view! {
        <section class="card">
            <h2 class="card-title">"Routing"</h2>
            {move || match (policy.get(), ready.get()) {
                (Some(Err(e)), _) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                (Some(Ok(policy)), true) => view! { <PolicyForm policy=policy receivers=names/> }.into_any(),
                _ => view! { <p class="muted">"Loading…"</p> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn PolicyForm(policy: NotificationPolicy, receivers: Signal<Vec<String>>) -> impl IntoView {
    let session = use_session();
    let root = policy.root.clone();
    let receiver = RwSignal::new(root.receiver.clone());
    let group_by = RwSignal::new(root.group_by.clone().unwrap_or_default().join(", "));
    let group_wait = RwSignal::new(root.group_wait.clone().unwrap_or_else(|| "30s".into()));
    let group_interval = RwSignal::new(root.group_interval.clone().unwrap_or_else(|| "5m".into()));
    let repeat_interval =
        RwSignal::new(root.repeat_interval.clone().unwrap_or_else(|| "4h".into()));
    let rows = RwSignal::new(
        root.routes
            .iter()
            .map(|r| RouteRow {
                matchers: RwSignal::new(matchers_text(&r.matchers)),
                receiver: RwSignal::new(r.receiver.clone()),
                group_by: RwSignal::new(
                    r.group_by.clone().map(|g| g.join(", ")).unwrap_or_default(),
                ),
                continue_matching: RwSignal::new(r.continue_matching),
                rest: r.clone(),
            })
            .collect::<Vec<_>>(),
    );
    let saved = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let options = move |selected: RwSignal<String>, allow_inherit: bool| {
        // New choices keep the one chosen: each option says whether it is the one.
        view! {
            <select class="field-input" prop:value=move || selected.get() on:change=move |ev| selected.set(event_target_value(&ev))>
                <option value="">{if allow_inherit { "(the default)" } else { "(none: alerts are not sent)" }}</option>
                {move || receivers.get().into_iter().map(|r| {
                    let chosen = selected.get_untracked() == r;
                    view! { <option value=r.clone() selected=chosen>{r.clone()}</option> }
                }).collect_view()}
            </select>
        }
    };
    let save = move |_| {
        let mut routes = Vec::new();
        for (i, row) in rows.get_untracked().into_iter().enumerate() {
            let matchers = match parse_matchers(&row.matchers.get_untracked()) {
                Ok(m) => m,
                Err(e) => {
                    error.set(Some(format!("route {}: {e}", i + 1)));
                    return;
                }
            };
            routes.push(Route {
                receiver: row.receiver.get_untracked(),
                matchers,
                group_by: split_list(&row.group_by.get_untracked()),
                continue_matching: row.continue_matching.get_untracked(),
                ..row.rest.clone()
            });
        }
        let policy = NotificationPolicy {
            root: Route {
                receiver: receiver.get_untracked(),
                matchers: Vec::new(),
                group_by: split_list(&group_by.get_untracked()),
                group_wait: Some(group_wait.get_untracked().trim().to_string()),
                group_interval: Some(group_interval.get_untracked().trim().to_string()),
                repeat_interval: Some(repeat_interval.get_untracked().trim().to_string()),
                continue_matching: false,
                routes,
            },
        };
        leptos::task::spawn_local(async move {
            match endpoints::save_notification_policy(&policy).await {
                Ok(_) => {
                    error.set(None);
                    saved.set(true);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let timing = move |label: &'static str, name: &'static str, signal: RwSignal<String>| {
        view! {
            <label class="field"><span class="field-label">{label}</span>
                <input class="field-input field-small" name=name prop:value=move || signal.get() on:change=move |ev| { saved.set(false); signal.set(event_target_value(&ev)) }/></label>
        }
    };
    view! {
        <p class="field-hint">"Every alert goes to the default contact point unless a route below matches its labels first (top to bottom; \"continue\" goes on matching). Alerts with the same values of the grouping labels are sent together."</p>
        <div class="form-row policy-root">
            <label class="field"><span class="field-label">"Default contact point"</span>{options(receiver, false)}</label>
            <label class="field"><span class="field-label">"Group by"</span>
                <input class="field-input" name="group_by" placeholder="alertname" prop:value=move || group_by.get() on:change=move |ev| group_by.set(event_target_value(&ev))/></label>
            {timing("Wait before the first message", "group_wait", group_wait)}
            {timing("Between messages of a group", "group_interval", group_interval)}
            {timing("Repeat while firing", "repeat_interval", repeat_interval)}
        </div>
        <table class="result-table routes-table">
            <thead><tr><th scope="col">"Alerts with labels"</th><th scope="col">"Go to"</th><th scope="col">"Grouped by"</th><th scope="col">"Continue"</th><th scope="col"></th></tr></thead>
            <tbody>
                <For each=move || rows.get().into_iter().enumerate() key=|(i, r)| (*i, r.matchers.get_untracked()) let:item>
                    {
                        let (i, row) = item;
                        view! {
                            <tr>
                                <td><input class="field-input field-grow" placeholder="severity=\"critical\"" prop:value=move || row.matchers.get()
                                    on:change=move |ev| row.matchers.set(event_target_value(&ev))/></td>
                                <td>{options(row.receiver, true)}</td>
                                <td><input class="field-input" placeholder="(inherited)" prop:value=move || row.group_by.get() on:change=move |ev| row.group_by.set(event_target_value(&ev))/></td>
                                <td><input type="checkbox" prop:checked=move || row.continue_matching.get() on:change=move |_| row.continue_matching.update(|c| *c = !*c)/></td>
                                <td><button type="button" class="link-button danger" on:click=move |_| rows.update(|r| { r.remove(i); })>"Remove"</button></td>
                            </tr>
                        }
                    }
                </For>
            </tbody>
        </table>
        {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        <div class="form-actions">
            {move || saved.get().then(|| view! { <span class="status-ok" role="status">"Saved."</span> })}
            <button type="button" class="button" on:click=move |_| rows.update(|r| r.push(RouteRow {
                matchers: RwSignal::new(String::new()), receiver: RwSignal::new(String::new()), group_by: RwSignal::new(String::new()),
                continue_matching: RwSignal::new(false), rest: Route { group_by: None, group_wait: None, group_interval: None, repeat_interval: None, ..Route::default() },
            }))>"Add a route"</button>
            <button type="button" class="button button-primary" name="save-policy" hidden=move || !session.can(Role::Admin) on:click=save>"Save routing"</button>
        </div>
    }
}

#[component]
fn NotificationLog() -> impl IntoView {
    let tick = use_tick(10);
    let log = LocalResource::new(move || {
        tick.track();
        endpoints::list_notifications(50)
    });
    view! {
        <section class="card">
            <h2 class="card-title">"Sent notifications"</h2>
            {move || match log.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"Nothing sent yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="result-table notification-log">
                        <thead><tr><th scope="col">"When"</th><th scope="col">"To"</th><th scope="col">"What"</th><th scope="col">"Outcome"</th><th scope="col">"Answer"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|n| view! {
                                <tr>
                                    <td title=n.created_at.to_rfc3339()>{super::ago(n.created_at)}</td>
                                    <td>{n.receiver.clone()}</td>
                                    <td>{format!("{} · {}", n.status, plural(n.alerts, "alert"))}<div class="muted small"><code>{n.group_key.clone()}</code></div></td>
                                    <td class=if n.outcome == "delivered" { "status-ok" } else if n.outcome == "failed" { "status-bad" } else { "" }>
                                        {format!("{} ({})", n.outcome, plural(n.attempts, "attempt"))}</td>
                                    <td><code class="small">{n.response.clone()}</code></td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}
