//! Settings → Users, continued: teams (accounts that share folder grants) and the grants of
//! each dashboard and rule folder. A folder without grants is open to every role as the role
//! says; with grants, only its teams and accounts see it, and those granted `edit` (with the
//! Editor role) change it.

use crate::api::{
    accounts::{
        Account, FolderGrants, FolderKind, FolderPermissions, Grant, Permission, SaveTeam, Team,
    },
    alerting::DEFAULT_FOLDER,
    endpoints, ClientError,
};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// Runs `call`, then shows its error (or clears it) and bumps `changed`.
fn apply<F>(call: F, error: RwSignal<Option<String>>, changed: RwSignal<u32>)
where
    F: std::future::Future<Output = Result<(), ClientError>> + 'static,
{
    leptos::task::spawn_local(async move {
        error.set(call.await.err().map(|e| e.to_string()));
        changed.update(|c| *c += 1);
    });
}

#[component]
pub fn TeamsCard(
    /// Bumped by every change on the page, so lists of accounts and teams stay current.
    changed: RwSignal<u32>,
) -> impl IntoView {
    let data = LocalResource::new(move || {
        changed.track();
        async {
            Ok::<_, ClientError>((
                endpoints::list_teams().await?,
                endpoints::list_users().await?,
            ))
        }
    });
    let error = RwSignal::new(None::<String>);
    let save = move |team: &Team, members: Vec<String>| {
        let (id, request) = (
            team.id,
            SaveTeam {
                name: team.name.clone(),
                members,
            },
        );
        apply(
            async move { endpoints::save_team(Some(id), &request).await.map(|_| ()) },
            error,
            changed,
        );
    };
    let name = RwSignal::new(String::new());
    let add_team = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = SaveTeam {
            name: name.get_untracked(),
            members: Vec::new(),
        };
        leptos::task::spawn_local(async move {
            match endpoints::save_team(None, &request).await {
                Ok(_) => {
                    error.set(None);
                    name.set(String::new());
                }
                Err(e) => error.set(Some(e.to_string())),
            }
            changed.update(|c| *c += 1);
        });
    };
    view! {
        <section class="card" aria-label="Teams">
            <h2 class="card-title">"Teams"</h2>
            <p class="muted">"Accounts that share the grants of folders below."</p>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            {move || match data.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok((teams, _))) if teams.is_empty() => view! { <p class="muted">"No team yet."</p> }.into_any(),
                Some(Ok((teams, accounts))) => view! {
                    <table class="result-table teams-table">
                        <thead><tr><th scope="col">"Team"</th><th scope="col">"Members"</th><th scope="col"></th></tr></thead>
                        <tbody>
                            {teams.into_iter().map(|team| {
                                let outside: Vec<Account> = accounts.iter().filter(|a| !team.members.contains(&a.login)).cloned().collect();
                                let (for_add, for_delete) = (team.clone(), team.id);
                                view! {
                                    <tr>
                                        <td><strong>{team.name.clone()}</strong></td>
                                        <td>
                                            <div class="member-list">
                                                {team.members.iter().map(|login| {
                                                    let (team, gone) = (team.clone(), login.clone());
                                                    view! {
                                                        <span class="tag member">{login.clone()}
                                                            <button type="button" class="link-button" aria-label=format!("Remove {login} from {}", team.name)
                                                                on:click=move |_| {
                                                                    let members = team.members.iter().filter(|m| **m != gone).cloned().collect();
                                                                    save(&team, members);
                                                                }>"×"</button>
                                                        </span>
                                                    }
                                                }).collect_view()}
                                                {(!outside.is_empty()).then(|| {
                                                    // Back to its placeholder after each pick.
                                                    let picked = RwSignal::new(String::new());
                                                    view! {
                                                    <select class="field-input field-small" aria-label=format!("Add a member to {}", team.name)
                                                        prop:value=move || picked.get()
                                                        on:change=move |ev| {
                                                            let login = event_target_value(&ev);
                                                            picked.set(String::new());
                                                            if !login.is_empty() {
                                                                let mut members = for_add.members.clone();
                                                                members.push(login);
                                                                save(&for_add, members);
                                                            }
                                                        }>
                                                        <option value="" selected>"Add a member…"</option>
                                                        {outside.into_iter().map(|a| view! { <option value=a.login.clone()>{a.login.clone()}</option> }).collect_view()}
                                                    </select>
                                                    }
                                                })}
                                            </div>
                                        </td>
                                        <td><button type="button" class="link-button danger"
                                            on:click=move |_| apply(endpoints::delete_team(for_delete), error, changed)>"Delete"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
            <form class="form-row" on:submit=add_team aria-label="Add a team">
                <label class="field"><span class="field-label">"Team name"</span>
                    <input class="field-input" name="team-name" placeholder="platform" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/></label>
                <div class="form-actions"><button type="submit" class="button">"Add team"</button></div>
            </form>
        </section>
    }
}

/// Everything the folders card shows: the folders that exist or have grants, with their grants.
#[derive(Clone)]
struct FolderData {
    folders: Vec<FolderPermissions>,
    teams: Vec<Team>,
    accounts: Vec<Account>,
}

async fn folder_data() -> Result<FolderData, ClientError> {
    let granted = endpoints::list_folder_permissions().await?;
    let mut known: BTreeSet<(FolderKind, String)> =
        granted.iter().map(|f| (f.kind, f.folder.clone())).collect();
    for d in endpoints::list_dashboards("", None, false).await? {
        known.insert((FolderKind::Dashboards, d.folder));
    }
    for r in endpoints::list_alert_rules("", "", "", "").await? {
        known.insert((FolderKind::Rules, r.folder));
    }
    let folders = known
        .into_iter()
        .map(|(kind, folder)| {
            let grants = granted
                .iter()
                .find(|f| f.kind == kind && f.folder == folder)
                .map(|f| f.grants.clone())
                .unwrap_or_default();
            FolderPermissions {
                kind,
                folder,
                grants,
            }
        })
        .collect();
    Ok(FolderData {
        folders,
        teams: endpoints::list_teams().await?,
        accounts: endpoints::list_users().await?,
    })
}

fn folder_name(kind: FolderKind, folder: &str) -> String {
    match (kind, folder.is_empty()) {
        (FolderKind::Dashboards, true) => "General".into(),
        (FolderKind::Rules, true) => DEFAULT_FOLDER.into(),
        _ => folder.to_string(),
    }
}

fn grantee(grant: &Grant) -> String {
    match (&grant.team, &grant.login) {
        (Some(team), _) => format!("team {team}"),
        (None, Some(login)) => login.clone(),
        (None, None) => "nobody".into(),
    }
}

#[component]
pub fn FoldersCard(changed: RwSignal<u32>) -> impl IntoView {
    let data = LocalResource::new(move || {
        changed.track();
        folder_data()
    });
    // The folder being edited and its grants as edited so far.
    let editing = RwSignal::new(None::<FolderPermissions>);
    // A folder that holds nothing yet.
    let other_kind = RwSignal::new(FolderKind::Dashboards);
    let other_name = RwSignal::new(String::new());
    let open_other = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let folder = other_name.get_untracked().trim().to_string();
        let kind = other_kind.get_untracked();
        let grants = data
            .get_untracked()
            .and_then(|d| d.ok())
            .and_then(|d| {
                d.folders
                    .into_iter()
                    .find(|f| f.kind == kind && f.folder == folder)
            })
            .map(|f| f.grants)
            .unwrap_or_default();
        editing.set(Some(FolderPermissions {
            kind,
            folder,
            grants,
        }));
    };
    view! {
        <section class="card" aria-label="Folder permissions">
            <h2 class="card-title">"Folder permissions"</h2>
            <p class="muted">"A folder without grants is open to every role as the role says. With grants, only its teams and accounts see it, and those granted edit (with the Editor role) change it; an Editor granted edit on some folders changes only those."</p>
            {move || match data.get() {
                None => view! { <p class="muted">"Loading…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error-text" role="alert">{e.to_string()}</p> }.into_any(),
                Some(Ok(FolderData { folders, teams, accounts })) => view! {
                    <table class="result-table folders-table">
                        <thead><tr><th scope="col">"Holds"</th><th scope="col">"Folder"</th><th scope="col">"Who"</th><th scope="col"></th></tr></thead>
                        <tbody>
                            {folders.into_iter().map(|f| {
                                let who = if f.grants.is_empty() {
                                    "every role".to_string()
                                } else {
                                    f.grants.iter().map(|g| format!("{}: {}", grantee(g), g.permission.as_str())).collect::<Vec<_>>().join(", ")
                                };
                                let name = folder_name(f.kind, &f.folder);
                                let label = format!("Permissions of {name}");
                                view! {
                                    <tr>
                                        <td>{f.kind.as_str()}</td>
                                        <td><strong>{name}</strong></td>
                                        <td class:muted=f.grants.is_empty()>{who}</td>
                                        <td><button type="button" class="link-button" aria-label=label
                                            on:click=move |_| editing.set(Some(f.clone()))>"Permissions"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                    {move || editing.get().map(|f| view! {
                        <GrantsEditor folder=f teams=teams.clone() accounts=accounts.clone()
                            on_done=Callback::new(move |saved: bool| {
                                editing.set(None);
                                if saved { changed.update(|c| *c += 1) }
                            })/>
                    })}
                }.into_any(),
            }}
            <form class="form-row" on:submit=open_other aria-label="Grants of another folder">
                <label class="field"><span class="field-label">"Holds"</span>
                    <select class="field-input field-small" name="folder-kind"
                        on:change=move |ev| other_kind.set(FolderKind::parse(&event_target_value(&ev)).unwrap_or(FolderKind::Dashboards))>
                        <option value="dashboards" selected>"dashboards"</option>
                        <option value="rules">"rules"</option>
                    </select></label>
                <label class="field"><span class="field-label">"A folder that holds nothing yet"</span>
                    <input class="field-input" name="folder-name" placeholder="Platform" prop:value=move || other_name.get()
                        on:input=move |ev| other_name.set(event_target_value(&ev))/></label>
                <div class="form-actions"><button type="submit" class="button">"Set its grants"</button></div>
            </form>
        </section>
    }
}

/// The grants of one folder, edited and then saved as a whole.
#[component]
fn GrantsEditor(
    folder: FolderPermissions,
    teams: Vec<Team>,
    accounts: Vec<Account>,
    /// Called with whether the grants were saved.
    on_done: Callback<bool>,
) -> impl IntoView {
    let grants = RwSignal::new(folder.grants.clone());
    let who = RwSignal::new(String::new());
    let permission = RwSignal::new(Permission::View);
    let error = RwSignal::new(None::<String>);
    let (kind, name) = (folder.kind, folder.folder.clone());
    let title = format!("{} folder {}", kind.as_str(), folder_name(kind, &name));
    let add = move |_| {
        let chosen = who.get_untracked();
        let grant = match chosen.split_once(':') {
            Some(("team", team)) => Grant {
                team: Some(team.into()),
                login: None,
                permission: permission.get_untracked(),
            },
            Some(("login", login)) => Grant {
                team: None,
                login: Some(login.into()),
                permission: permission.get_untracked(),
            },
            _ => {
                error.set(Some("choose a team or an account to grant".into()));
                return;
            }
        };
        error.set(None);
        grants.update(|g| {
            g.retain(|x| x.team != grant.team || x.login != grant.login);
            g.push(grant);
        });
    };
    let save = move |grants: Vec<Grant>| {
        let name = name.clone();
        leptos::task::spawn_local(async move {
            match endpoints::save_folder_permissions(kind, &name, &FolderGrants { grants }).await {
                Ok(_) => on_done.run(true),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let save_all = save.clone();
    view! {
        <div class="grants-editor" role="group" aria-label=format!("Grants of {title}")>
            <h3 class="grants-title">{format!("Grants of the {title}")}</h3>
            {move || {
                let list = grants.get();
                if list.is_empty() {
                    return view! { <p class="muted">"No grants: every role sees this folder as the role says."</p> }.into_any();
                }
                view! {
                    <ul class="grants-list">
                        {list.into_iter().enumerate().map(|(i, g)| view! {
                            <li>
                                <span>{grantee(&g)}</span>
                                <select class="field-input field-small" aria-label=format!("Permission of {}", grantee(&g))
                                    on:change=move |ev| {
                                        let p = Permission::parse(&event_target_value(&ev)).unwrap_or(Permission::View);
                                        grants.update(|l| l[i].permission = p);
                                    }>
                                    <option value="view" selected=g.permission == Permission::View>"view"</option>
                                    <option value="edit" selected=g.permission == Permission::Edit>"edit"</option>
                                </select>
                                <button type="button" class="link-button danger" aria-label=format!("Remove the grant of {}", grantee(&g))
                                    on:click=move |_| grants.update(|l| { l.remove(i); })>"Remove"</button>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            <div class="form-row">
                <label class="field"><span class="field-label">"Grant to"</span>
                    <select class="field-input" name="grant-who" on:change=move |ev| who.set(event_target_value(&ev))>
                        <option value="" selected>"a team or an account…"</option>
                        <optgroup label="Teams">
                            {teams.iter().map(|t| view! { <option value=format!("team:{}", t.name)>{t.name.clone()}</option> }).collect_view()}
                        </optgroup>
                        <optgroup label="Accounts">
                            {accounts.iter().map(|a| view! { <option value=format!("login:{}", a.login)>{a.login.clone()}</option> }).collect_view()}
                        </optgroup>
                    </select></label>
                <label class="field"><span class="field-label">"May"</span>
                    <select class="field-input field-small" name="grant-permission"
                        on:change=move |ev| permission.set(Permission::parse(&event_target_value(&ev)).unwrap_or(Permission::View))>
                        <option value="view" selected>"view"</option>
                        <option value="edit">"edit"</option>
                    </select></label>
                <div class="form-actions"><button type="button" class="button" on:click=add>"Add grant"</button></div>
            </div>
            {move || error.get().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            <div class="form-actions">
                <button type="button" class="button button-primary" on:click=move |_| save_all(grants.get_untracked())>"Save grants"</button>
                <button type="button" class="button" on:click=move |_| save(Vec::new())>"Open to every role"</button>
                <button type="button" class="button" on:click=move |_| on_done.run(false)>"Cancel"</button>
            </div>
        </div>
    }
}
