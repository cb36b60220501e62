//! Teams, their members, and folder permissions.

use sqlx::PgExecutor;

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct TeamRow {
    pub id: i64,
    pub name: String,
    pub members: Vec<String>,
}

pub async fn select_teams(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<TeamRow>> {
    sqlx::query_as(
        "select t.id, t.name,
                coalesce(array_agg(a.login order by a.login) filter (where a.id is not null), '{}') as members
         from team t
         left join team_member m on m.team_id = t.id
         left join account a on a.id = m.account_id
         group by t.id order by t.name",
    )
    .fetch_all(db)
    .await
}

/// Creates a team; None when the name is taken.
pub async fn insert_team(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into team (name) values ($1) on conflict (name) do nothing returning id",
    )
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn rename_team(db: impl PgExecutor<'_>, id: i64, name: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query("update team set name = $2 where id = $1")
        .bind(id)
        .bind(name)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// Makes the team's members exactly the accounts with these logins.
pub async fn set_members(
    db: &mut sqlx::PgConnection,
    team_id: i64,
    logins: &[String],
) -> sqlx::Result<()> {
    sqlx::query("delete from team_member where team_id = $1")
        .bind(team_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "insert into team_member (team_id, account_id)
         select $1, id from account where login = any($2)",
    )
    .bind(team_id)
    .bind(logins)
    .execute(&mut *db)
    .await?;
    Ok(())
}

pub async fn delete_team(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<bool> {
    Ok(sqlx::query("delete from team where id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        > 0)
}

/// The logins among `logins` that name no account.
pub async fn unknown_logins(
    db: impl PgExecutor<'_>,
    logins: &[String],
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select l from unnest($1::text[]) as l where not exists (select 1 from account where login = l)",
    )
    .bind(logins)
    .fetch_all(db)
    .await
}

#[derive(sqlx::FromRow, Clone, Debug)]
pub struct GrantRow {
    pub kind: String,
    pub folder: String,
    pub team_id: Option<i64>,
    pub team: Option<String>,
    pub account_id: Option<i64>,
    pub login: Option<String>,
    pub permission: String,
}

pub async fn select_grants(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<GrantRow>> {
    sqlx::query_as(
        "select p.kind, p.folder, p.team_id, t.name as team, p.account_id, a.login, p.permission
         from folder_permission p
         left join team t on t.id = p.team_id
         left join account a on a.id = p.account_id
         order by p.kind, p.folder, t.name, a.login",
    )
    .fetch_all(db)
    .await
}

/// The teams an account is in.
pub async fn teams_of(db: impl PgExecutor<'_>, account_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("select team_id from team_member where account_id = $1")
        .bind(account_id)
        .fetch_all(db)
        .await
}

/// Replaces a folder's grants: `(team name, login, permission)`, one of the names set.
pub async fn set_grants(
    db: &mut sqlx::PgConnection,
    kind: &str,
    folder: &str,
    grants: &[(Option<String>, Option<String>, String)],
) -> sqlx::Result<()> {
    sqlx::query("delete from folder_permission where kind = $1 and folder = $2")
        .bind(kind)
        .bind(folder)
        .execute(&mut *db)
        .await?;
    for (team, login, permission) in grants {
        sqlx::query(
            "insert into folder_permission (kind, folder, team_id, account_id, permission)
             values ($1, $2, (select id from team where name = $3),
                     (select id from account where login = $4), $5)",
        )
        .bind(kind)
        .bind(folder)
        .bind(team)
        .bind(login)
        .bind(permission)
        .execute(&mut *db)
        .await?;
    }
    Ok(())
}

pub async fn team_exists(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from team where name = $1)")
        .bind(name)
        .fetch_one(db)
        .await
}

/// The folder of a dashboard, when there is one with this uid.
pub async fn dashboard_folder(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select folder from dashboard where uid = $1")
        .bind(uid)
        .fetch_optional(db)
        .await
}

/// The folder of an alert rule, when there is one with this uid.
pub async fn rule_folder(db: impl PgExecutor<'_>, uid: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select g.folder from alert_rule r join alert_rule_group g on g.id = r.group_id
         where r.uid = $1",
    )
    .bind(uid)
    .fetch_optional(db)
    .await
}
