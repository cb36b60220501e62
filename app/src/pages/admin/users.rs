//! Settings → Users: accounts with their roles, teams and folder grants (see [`super::teams`]),
//! and API tokens (made with scopes and an optional expiry, shown once, revocable, with their
//! last use).

use super::teams::{FoldersCard, TeamsCard};
use crate::api::{
    accounts::{Account, ApiToken, CreateToken, NewAccount, Role, Scope, UpdateAccount},
    endpoints,
};
use crate::components::{page_header::PageHeader, session::use_session};
use leptos::prelude::*;

const ROLES: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];
const SCOPES: [(Scope, &str); 4] = [
    (Scope::Ingest, "send data: remote-write, OTLP"),
    (
        Scope::Read,
        "query: the Prometheus API, a Grafana data source",
    ),
    (
        Scope::Alertmanager,
        "Alertmanager's API: Prometheus alerts, amtool",
    ),
    (Scope::Admin, "everything an admin may do"),
];

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

#[component]
pub fn UsersPage() -> impl IntoView {
    // Bumped by every change, so each card's lists of accounts and teams stay current.
    let changed = RwSignal::new(0u32);
    view! {
        <PageHeader title="Users and tokens" subtitle="Who may read and change what, and the credentials tools send"/>
        <UsersCard changed/>
        <TeamsCard changed/>
        <FoldersCard changed/>
        <TokensCard/>
    }
}

#[component]
fn UsersCard(changed: RwSignal<u32>) -> impl IntoView {
    let users = LocalResource::new(move || {
        changed.track();
        endpoints::list_users()
    });
    let error = RwSignal::new(None::<String>);
    let session = use_session();
    let set_role = move |account: Account, role: Role| {
        leptos::task::spawn_local(async move {
            let change = UpdateAccount {
                name: account.name.clone(),
                role,
            };
            match endpoints::update_user(account.id, &change).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
            changed.update(|r| *r += 1);
        });
    };
    let remove = move |id: i64| {
        leptos::task::spawn_local(async move {
            match endpoints::delete_user(id).await {
                Ok(()) => error.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
            changed.update(|r| *r += 1);
        });
    };
    view! {
        <section class="card" aria-label="Users">
            <h2 class="card-title">"Users"</h2>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || match users.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="result-table users-table">
                        <thead><tr><th scope="col">"Login"</th><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"Since"</th><th scope="col"></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|account| {
                                let me = session.account.with_untracked(|a| a.as_ref().map(|a| a.id)) == Some(account.id);
                                let (for_role, id) = (account.clone(), account.id);
                                view! {
                                    <tr>
                                        <td><strong>{account.login.clone()}</strong>{me.then_some(" (you)")}</td>
                                        <td>{account.name.clone()}</td>
                                        <td>
                                            <select class="field-input field-small" aria-label=format!("Role of {}", account.login)
                                                on:change=move |ev| {
                                                    if let Some(role) = Role::parse(&event_target_value(&ev)) {
                                                        set_role(for_role.clone(), role);
                                                    }
                                                }>
                                                {ROLES.iter().map(|r| view! {
                                                    <option value=r.as_str() selected=*r == account.role>{r.as_str()}</option>
                                                }).collect_view()}
                                            </select>
                                        </td>
                                        <td>{account.created_at.format("%Y-%m-%d").to_string()}</td>
                                        <td>{(!me).then(|| view! {
                                            <button type="button" class="link-button danger" on:click=move |_| remove(id)>"Delete"</button>
                                        })}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            <NewUserForm on_made=Callback::new(move |_| changed.update(|r| *r += 1))/>
        </section>
    }
}

#[component]
fn NewUserForm(on_made: Callback<()>) -> impl IntoView {
    let login = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = NewAccount {
            login: login.get_untracked(),
            name: name.get_untracked(),
            role: role.get_untracked(),
            password: password.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match endpoints::create_user(&request).await {
                Ok(_) => {
                    error.set(None);
                    login.set(String::new());
                    name.set(String::new());
                    password.set(String::new());
                    on_made.run(());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <form class="form-row new-user" on:submit=submit aria-label="Add a user">
            <label class="field"><span class="field-label">"Login"</span>
                <input class="field-input" name="new-login" prop:value=move || login.get() on:input=move |ev| login.set(event_target_value(&ev))/></label>
            <label class="field"><span class="field-label">"Name"</span>
                <input class="field-input" name="new-name" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
            <label class="field"><span class="field-label">"Role"</span>
                <select class="field-input" name="new-role" on:change=move |ev| if let Some(r) = Role::parse(&event_target_value(&ev)) { role.set(r) }>
                    {ROLES.iter().map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> }).collect_view()}
                </select></label>
            <label class="field"><span class="field-label">"Password"</span>
                <input class="field-input" type="password" name="new-password" autocomplete="new-password" prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
                <span class="field-hint">"12 to 256 characters"</span></label>
            <div class="form-actions"><button type="submit" class="button button-primary">"Add user"</button></div>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
        </form>
    }
}

#[component]
fn TokensCard() -> impl IntoView {
    let reload = RwSignal::new(0u32);
    let tokens = LocalResource::new(move || {
        reload.track();
        endpoints::list_tokens()
    });
    let error = RwSignal::new(None::<String>);
    let revoke = move |id: i64| {
        leptos::task::spawn_local(async move {
            match endpoints::revoke_token(id).await {
                Ok(()) => error.set(None),
                Err(e) => error.set(Some(e.to_string())),
            }
            reload.update(|r| *r += 1);
        });
    };
    view! {
        <section class="card" aria-label="API tokens">
            <h2 class="card-title">"API tokens"</h2>
            <p class="muted">"Tools send a token as "<code>"Authorization: Bearer <token>"</code>" or as the password of basic auth."</p>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || match tokens.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(list)) if list.is_empty() => view! { <p class="muted">"No token yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <table class="result-table tokens-table">
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Scopes"</th><th scope="col">"Made by"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th><th scope="col"></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|t: ApiToken| {
                                let id = t.id;
                                let scopes = t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
                                view! {
                                    <tr class:revoked=t.revoked_at.is_some()>
                                        <td><strong>{t.name.clone()}</strong></td>
                                        <td>{scopes}</td>
                                        <td>{t.created_by.clone()}</td>
                                        <td>{t.expires_at.map_or_else(|| "never".to_string(), |e| when(Some(e)))}</td>
                                        <td>{when(t.last_used_at)}</td>
                                        <td>{match t.revoked_at {
                                            Some(at) => view! { <span class="muted">{format!("revoked {}", when(Some(at)))}</span> }.into_any(),
                                            None => view! { <button type="button" class="link-button danger" on:click=move |_| revoke(id)>"Revoke"</button> }.into_any(),
                                        }}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            <NewTokenForm on_made=Callback::new(move |_| reload.update(|r| *r += 1))/>
        </section>
    }
}

/// Makes a token and shows its secret, this once.
#[component]
pub fn NewTokenForm(on_made: Callback<()>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let scopes = RwSignal::new(vec![Scope::Read]);
    let days = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let secret = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let expires_at = match days.get_untracked().trim() {
            "" => None,
            d => match d.parse::<i64>() {
                Ok(d) if d > 0 => Some(chrono::Utc::now() + chrono::Duration::days(d)),
                _ => {
                    error.set(Some("expires in: a whole number of days, or empty".into()));
                    return;
                }
            },
        };
        let request = CreateToken {
            name: name.get_untracked(),
            scopes: scopes.get_untracked(),
            expires_at,
        };
        leptos::task::spawn_local(async move {
            match endpoints::create_token(&request).await {
                Ok(made) => {
                    error.set(None);
                    secret.set(Some(made.secret));
                    name.set(String::new());
                    on_made.run(());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    view! {
        <form class="new-token" on:submit=submit aria-label="Make a token">
            <div class="form-row">
                <label class="field"><span class="field-label">"Token name"</span>
                    <input class="field-input" name="token-name" placeholder="prometheus-remote-write" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <label class="field"><span class="field-label">"Expires in (days)"</span>
                    <input class="field-input field-small" name="token-days" inputmode="numeric" placeholder="never" prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/></label>
            </div>
            <fieldset class="scope-choice">
                <legend>"Scopes"</legend>
                {SCOPES.iter().map(|(scope, text)| {
                    let scope = *scope;
                    view! {
                        <label class="checkbox">
                            <input type="checkbox" name=format!("scope-{}", scope.as_str())
                                prop:checked=move || scopes.with(|s| s.contains(&scope))
                                on:change=move |ev| {
                                    let on = event_target_checked(&ev);
                                    scopes.update(|s| { s.retain(|x| *x != scope); if on { s.push(scope) } });
                                }/>
                            <span><strong>{scope.as_str()}</strong>" — "{*text}</span>
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <div class="form-actions"><button type="submit" class="button button-primary">"Make token"</button></div>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || secret.get().map(|s| view! {
                <div class="token-secret" role="status">
                    <p>"The token, shown this once: copy it now."</p>
                    <code class="token-value">{s}</code>
                </div>
            })}
        </form>
    }
}
