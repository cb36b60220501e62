//! Teams and per-folder permissions, which narrow what roles allow and never widen it:
//! - a folder of dashboards or rules with no grant is seen by every account and changed by
//!   every Editor, except an Editor whose teams (or who) hold edit grants elsewhere: such an
//!   Editor changes only the folders granted ("a team edits only its folder");
//! - a folder with grants is seen only by the teams and accounts named, and changed only by the
//!   Editors among them with `edit`.
//!
//! Admins always can. API tokens with the admin scope act as Admins; other tokens act for no
//! one: they see the folders without grants and change none.

use super::{Accounts, Principal};
use crate::{error::ApiError, store::permissions as db};
use app::api::accounts::{
    FolderKind, FolderPermissions, Grant, Permission, Role, SaveTeam, Scope, Team,
};
use std::collections::BTreeMap;

/// One grant as the checks use it.
#[derive(Clone, Debug)]
struct Granted {
    team_id: Option<i64>,
    account_id: Option<i64>,
    permission: Permission,
}

/// What one principal may do in which folder.
#[derive(Clone, Debug)]
pub struct FolderAccess {
    who: Principal,
    teams: Vec<i64>,
    grants: BTreeMap<(FolderKind, String), Vec<Granted>>,
    everything: bool,
}

/// A stored permission (the table's check allows only `view` and `edit`).
fn permission_of(text: &str) -> Permission {
    Permission::parse(text).unwrap_or(Permission::View)
}

/// The longest folder name grants are kept for, and the most grants one folder holds.
const MAX_FOLDER_CHARS: usize = 200;
const MAX_GRANTS: usize = 500;

impl FolderAccess {
    /// Whether the principal may `need` in `folder` of `kind`.
    pub fn allows(&self, kind: FolderKind, folder: &str, need: Permission) -> bool {
        if self.everything || self.who.has_role(Role::Admin) {
            return true;
        }
        let account = match &self.who {
            Principal::User(account) => account,
            Principal::Token(token) => {
                return token.scopes.contains(&Scope::Admin)
                    || (need == Permission::View
                        && !self.grants.contains_key(&(kind, folder.to_string())))
            }
            Principal::Anonymous => return false,
        };
        if need == Permission::Edit && account.role < Role::Editor {
            return false;
        }
        let mine = |g: &Granted| {
            g.account_id == Some(account.id) || g.team_id.is_some_and(|t| self.teams.contains(&t))
        };
        match self.grants.get(&(kind, folder.to_string())) {
            Some(grants) => grants.iter().any(|g| mine(g) && g.permission >= need),
            None => {
                need == Permission::View
                    || !self
                        .grants
                        .iter()
                        .filter(|((k, _), _)| *k == kind)
                        .flat_map(|(_, grants)| grants)
                        .any(|g| mine(g) && g.permission == Permission::Edit)
            }
        }
    }

    /// Whether every folder of `kind` is open to the principal (then so is what was recorded
    /// without saying which folder it came from).
    pub fn sees_every(&self, kind: FolderKind) -> bool {
        self.grants
            .keys()
            .filter(|(k, _)| *k == kind)
            .all(|(_, folder)| self.allows(kind, folder, Permission::View))
    }

    /// Access to everything, for the portal's own work (its notifier, its evaluations).
    pub fn unrestricted() -> Self {
        Self {
            who: Principal::Anonymous,
            teams: Vec::new(),
            grants: BTreeMap::new(),
            everything: true,
        }
    }

    /// 403 naming the folder when the principal may not `need` in it.
    pub fn check(&self, kind: FolderKind, folder: &str, need: Permission) -> Result<(), ApiError> {
        if self.allows(kind, folder, need) {
            return Ok(());
        }
        let kind_name = kind.as_str().trim_end_matches('s');
        // A folder one may not see is not named either.
        if !self.allows(kind, folder, Permission::View) {
            return Err(ApiError::Forbidden(format!(
                "{} may not see this {kind_name}",
                self.who.name()
            )));
        }
        let shown = if folder.is_empty() { "General" } else { folder };
        Err(ApiError::Forbidden(format!(
            "{} may not change the {kind_name} folder \"{shown}\"",
            self.who.name(),
        )))
    }
}

impl Accounts {
    /// What `who` may do in which folder (two small reads).
    pub async fn folder_access(&self, who: &Principal) -> Result<FolderAccess, ApiError> {
        let teams = match who {
            Principal::User(account) => db::teams_of(&self.pool, account.id).await?,
            _ => Vec::new(),
        };
        let mut grants: BTreeMap<(FolderKind, String), Vec<Granted>> = BTreeMap::new();
        for row in db::select_grants(&self.pool).await? {
            let Some(kind) = FolderKind::parse(&row.kind) else {
                continue;
            };
            grants.entry((kind, row.folder)).or_default().push(Granted {
                team_id: row.team_id,
                account_id: row.account_id,
                permission: permission_of(&row.permission),
            });
        }
        Ok(FolderAccess {
            who: who.clone(),
            teams,
            grants,
            everything: false,
        })
    }

    /// The folder the dashboard or rule with `uid` is in, when there is one.
    pub async fn folder_of(&self, kind: FolderKind, uid: &str) -> Result<Option<String>, ApiError> {
        Ok(match kind {
            FolderKind::Dashboards => db::dashboard_folder(&self.pool, uid).await?,
            FolderKind::Rules => db::rule_folder(&self.pool, uid).await?,
        })
    }

    pub async fn teams(&self) -> Result<Vec<Team>, ApiError> {
        Ok(db::select_teams(&self.pool)
            .await?
            .into_iter()
            .map(|t| Team {
                id: t.id,
                name: t.name,
                members: t.members,
            })
            .collect())
    }

    /// Makes a team (no `id`) or renames one and sets its members.
    pub async fn save_team(&self, id: Option<i64>, team: &SaveTeam) -> Result<Team, ApiError> {
        let name = team.name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::invalid("name", "1 to 100 characters"));
        }
        let unknown = db::unknown_logins(&self.pool, &team.members).await?;
        if !unknown.is_empty() {
            return Err(ApiError::invalid(
                "members",
                format!("no account named {}", unknown.join(", ")),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let id = match id {
            None => db::insert_team(&mut *tx, name)
                .await?
                .ok_or_else(|| ApiError::Conflict(format!("a team is named \"{name}\"")))?,
            Some(id) => {
                if !db::rename_team(&mut *tx, id, name).await? {
                    return Err(ApiError::not_found(format!("no team {id}")));
                }
                id
            }
        };
        db::set_members(&mut tx, id, &team.members).await?;
        tx.commit().await?;
        self.teams()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| anyhow::anyhow!("the team just saved is gone").into())
    }

    pub async fn delete_team(&self, id: i64) -> Result<(), ApiError> {
        if db::delete_team(&self.pool, id).await? {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("no team {id}")))
        }
    }

    /// Every folder with grants.
    pub async fn folder_permissions(&self) -> Result<Vec<FolderPermissions>, ApiError> {
        let mut folders: BTreeMap<(FolderKind, String), Vec<Grant>> = BTreeMap::new();
        for row in db::select_grants(&self.pool).await? {
            let Some(kind) = FolderKind::parse(&row.kind) else {
                continue;
            };
            folders.entry((kind, row.folder)).or_default().push(Grant {
                team: row.team,
                login: row.login,
                permission: permission_of(&row.permission),
            });
        }
        Ok(folders
            .into_iter()
            .map(|((kind, folder), grants)| FolderPermissions {
                kind,
                folder,
                grants,
            })
            .collect())
    }

    /// Replaces a folder's grants (none: open to every role again).
    pub async fn set_folder_permissions(
        &self,
        kind: FolderKind,
        folder: &str,
        grants: &[Grant],
    ) -> Result<FolderPermissions, ApiError> {
        if folder.chars().count() > MAX_FOLDER_CHARS {
            return Err(ApiError::invalid(
                "folder",
                format!("at most {MAX_FOLDER_CHARS} characters"),
            ));
        }
        if grants.len() > MAX_GRANTS {
            return Err(ApiError::invalid(
                "grants",
                format!("at most {MAX_GRANTS} grants a folder"),
            ));
        }
        let mut rows = Vec::new();
        for (i, grant) in grants.iter().enumerate() {
            let field = format!("grants[{i}]");
            match (&grant.team, &grant.login) {
                (Some(team), None) => {
                    if !db::team_exists(&self.pool, team).await? {
                        return Err(ApiError::invalid(
                            field,
                            format!("no team named \"{team}\""),
                        ));
                    }
                }
                (None, Some(login)) => {
                    if !db::unknown_logins(&self.pool, std::slice::from_ref(login))
                        .await?
                        .is_empty()
                    {
                        return Err(ApiError::invalid(
                            field,
                            format!("no account named \"{login}\""),
                        ));
                    }
                }
                _ => {
                    return Err(ApiError::invalid(
                        field,
                        "name a team or a login, not both or neither",
                    ))
                }
            }
            rows.push((
                grant.team.clone(),
                grant.login.clone(),
                grant.permission.as_str().to_string(),
            ));
        }
        rows.sort();
        rows.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        let mut tx = self.pool.begin().await?;
        db::set_grants(&mut tx, kind.as_str(), folder, &rows).await?;
        tx.commit().await?;
        Ok(FolderPermissions {
            kind,
            folder: folder.to_string(),
            grants: self
                .folder_permissions()
                .await?
                .into_iter()
                .find(|f| f.kind == kind && f.folder == folder)
                .map(|f| f.grants)
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::accounts::Account;

    fn person(id: i64, role: Role) -> Principal {
        Principal::User(Account {
            id,
            login: format!("p{id}"),
            name: String::new(),
            role,
            created_at: chrono::Utc::now(),
        })
    }

    #[test]
    fn a_teams_folder_is_theirs_and_other_folders_follow_the_role() {
        let grants = BTreeMap::from([(
            (FolderKind::Dashboards, "Team A".to_string()),
            vec![
                Granted {
                    team_id: Some(7),
                    account_id: None,
                    permission: Permission::Edit,
                },
                Granted {
                    team_id: None,
                    account_id: Some(3),
                    permission: Permission::View,
                },
            ],
        )]);
        let access = |who: Principal, teams: Vec<i64>| FolderAccess {
            who,
            teams,
            grants: grants.clone(),
            everything: false,
        };
        let (d, edit, view) = (FolderKind::Dashboards, Permission::Edit, Permission::View);
        // An Editor in team 7 edits its folder, and nothing else.
        let member = access(person(1, Role::Editor), vec![7]);
        assert!(member.allows(d, "Team A", edit));
        assert!(!member.allows(d, "", edit));
        assert!(member.allows(d, "", view));
        // A grant never lifts a Viewer above the role.
        assert!(!access(person(5, Role::Viewer), vec![7]).allows(d, "Team A", edit));
        // An Editor outside it cannot even see it; account 3 only sees it.
        let outsider = access(person(2, Role::Editor), vec![]);
        assert!(!outsider.allows(d, "Team A", view));
        assert!(outsider.allows(d, "Other", edit));
        let reader = access(person(3, Role::Editor), vec![]);
        assert!(reader.allows(d, "Team A", view) && !reader.allows(d, "Team A", edit));
        // Rules' folders of the same name are not dashboards' folders.
        assert!(outsider.allows(FolderKind::Rules, "Team A", edit));
        // Admins always can.
        assert!(access(person(4, Role::Admin), vec![]).allows(d, "Team A", edit));
        let message = outsider.check(d, "Team A", view).unwrap_err().to_string();
        assert!(
            !message.contains("Team A"),
            "an unseen folder is not named: {message}"
        );
        let message = reader.check(d, "Team A", edit).unwrap_err().to_string();
        assert!(message.contains("Team A"), "{message}");
        assert!(!outsider.sees_every(d) && outsider.sees_every(FolderKind::Rules));
        assert!(reader.sees_every(d));
        // A token acts for no one: folders with grants are closed to it, unless it is an
        // admin token.
        let token = |scopes: Vec<Scope>| {
            Principal::Token(app::api::accounts::ApiToken {
                id: 1,
                name: "t".into(),
                scopes,
                created_by: "admin".into(),
                created_at: chrono::Utc::now(),
                expires_at: None,
                last_used_at: None,
                revoked_at: None,
            })
        };
        let read = access(token(vec![Scope::Read]), vec![]);
        assert!(!read.allows(d, "Team A", view));
        assert!(read.allows(d, "Other", view) && !read.allows(d, "Other", edit));
        assert!(access(token(vec![Scope::Admin]), vec![]).allows(d, "Team A", edit));
        assert!(FolderAccess::unrestricted().allows(d, "Team A", edit));
    }
}
