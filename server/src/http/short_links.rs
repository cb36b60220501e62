//! Short links: `POST /api/short-links` makes `/s/<code>` for a path on this portal, and
//! `/s/<code>` redirects there.

use super::{access::Folders, params::json_body, AppState};
use crate::{accounts::Accounts, dashboards::links, error::ApiError};
use app::api::{
    accounts::{FolderKind, Permission},
    dashboard::{CreateShortLink, ShortLink},
};
use axum::{
    body::Bytes,
    extract::{Path, State},
    response::Redirect,
    routing::{get, post},
    Json, Router,
};
use sqlx::PgPool;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/short-links", post(create_short_link))
        .route("/s/{code}", get(follow_short_link))
}

async fn create_short_link(
    State(pool): State<PgPool>,
    body: Bytes,
) -> Result<Json<ShortLink>, ApiError> {
    let request: CreateShortLink = json_body(&body)?;
    Ok(Json(links::create_short_link(&pool, &request.path).await?))
}

async fn follow_short_link(
    State(pool): State<PgPool>,
    State(accounts): State<Accounts>,
    Folders(folders): Folders,
    Path(code): Path<String>,
) -> Result<Redirect, ApiError> {
    let path = links::follow_short_link(&pool, &code).await?;
    // A link into a dashboard or rule the caller may not see reads as no link at all: even
    // its address (uid, variables) is not shown.
    if let Some((kind, uid)) = target_of(&path) {
        if let Some(folder) = accounts.folder_of(kind, uid).await? {
            if !folders.allows(kind, &folder, Permission::View) {
                return Err(ApiError::not_found(format!("no short link \"{code}\"")));
            }
        }
    }
    Ok(Redirect::to(&path))
}

/// The dashboard or rule a page's path shows, when it shows one.
fn target_of(path: &str) -> Option<(FolderKind, &str)> {
    let path = path.split(['?', '#']).next()?;
    let mut segments = path.trim_start_matches('/').split('/');
    match (segments.next()?, segments.next(), segments.next()) {
        ("d" | "d-solo", Some(uid), _) => Some((FolderKind::Dashboards, uid)),
        ("alerting", Some("rules"), Some(uid)) if uid != "new" => Some((FolderKind::Rules, uid)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_name_the_dashboard_or_rule_they_show() {
        assert_eq!(
            target_of("/d/agent-overview?from=now-1h"),
            Some((FolderKind::Dashboards, "agent-overview"))
        );
        assert_eq!(
            target_of("/d-solo/x/3"),
            Some((FolderKind::Dashboards, "x"))
        );
        assert_eq!(
            target_of("/alerting/rules/r1/edit"),
            Some((FolderKind::Rules, "r1"))
        );
        assert_eq!(target_of("/alerting/rules/new"), None);
        assert_eq!(target_of("/explore/metrics?query=up"), None);
    }
}
