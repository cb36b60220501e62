//! The dashboards API: list/search, get, create, update (optimistic concurrency), delete,
//! export/import (the portal's JSON or Grafana's), stars, and the options of a variable.

use super::{
    access::{Actor, Folders},
    params::{json_body, Params},
    AppState,
};
use crate::{
    accounts::{Accounts, FolderAccess},
    dashboards::{self, query::variable_options, Origin},
    error::ApiError,
    query::QueryService,
};
use app::api::{
    accounts::{FolderKind, Permission},
    dashboard::{
        DashboardRecord, DashboardSummary, ResolveVariable, SaveDashboard, VariableOptions,
    },
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post, put},
    Json, Router,
};
use sqlx::PgPool;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/dashboards",
            get(list_dashboards).post(create_dashboard),
        )
        .route("/api/dashboards/import", post(import_dashboard))
        .route(
            "/api/dashboards/{uid}",
            get(get_dashboard)
                .put(update_dashboard)
                .delete(delete_dashboard),
        )
        .route("/api/dashboards/{uid}/export", get(export_dashboard))
        .route(
            "/api/dashboards/{uid}/star",
            put(star_dashboard).delete(unstar_dashboard),
        )
        .route("/api/variables/options", post(list_variable_options))
}

/// Refuses to file a dashboard where the principal may not change things: its new folder, and
/// the folder of the dashboard it would replace.
async fn may_file(
    accounts: &Accounts,
    folders: &FolderAccess,
    uid: &str,
    folder: &str,
) -> Result<(), ApiError> {
    folders.check(FolderKind::Dashboards, folder, Permission::Edit)?;
    if !uid.is_empty() {
        if let Some(existing) = accounts.folder_of(FolderKind::Dashboards, uid).await? {
            folders.check(FolderKind::Dashboards, &existing, Permission::Edit)?;
        }
    }
    Ok(())
}

async fn list_dashboards(
    State(pool): State<PgPool>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<DashboardSummary>>, ApiError> {
    let params = Params::new(query, &[]);
    let tags: Vec<String> = params.all("tag").map(str::to_owned).collect();
    let starred = match params.get("starred") {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "starred",
                format!("must be true or false, not \"{other}\""),
            ))
        }
    };
    let filter = dashboards::ListFilter {
        query: params.get("query").filter(|q| !q.trim().is_empty()),
        tags: &tags,
        folder: params.get("folder"),
        starred,
    };
    let mut list = dashboards::list(&pool, &filter).await?;
    list.retain(|d| folders.allows(FolderKind::Dashboards, &d.folder, Permission::View));
    Ok(Json(list))
}

async fn create_dashboard(
    State(pool): State<PgPool>,
    State(accounts): State<Accounts>,
    Folders(folders): Folders,
    Actor(by): Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SaveDashboard = json_body(&body)?;
    may_file(
        &accounts,
        &folders,
        &request.dashboard.uid,
        &request.dashboard.folder,
    )
    .await?;
    let record = dashboards::save(
        &pool,
        request,
        Origin {
            by: &by,
            file: None,
        },
    )
    .await?;
    let status = if record.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(
            header::LOCATION,
            format!("/api/dashboards/{}", record.dashboard.uid),
        )],
        Json(record),
    )
        .into_response())
}

async fn update_dashboard(
    State(pool): State<PgPool>,
    Folders(folders): Folders,
    Path(uid): Path<String>,
    Actor(by): Actor,
    body: Bytes,
) -> Result<Json<DashboardRecord>, ApiError> {
    let mut request: SaveDashboard = json_body(&body)?;
    // The access layer checked the folder it is in; this is the one it moves to.
    folders.check(
        FolderKind::Dashboards,
        &request.dashboard.folder,
        Permission::Edit,
    )?;
    if request.dashboard.uid.is_empty() {
        request.dashboard.uid = uid.clone();
    } else if request.dashboard.uid != uid {
        return Err(ApiError::invalid(
            "dashboard.uid",
            format!(
                "\"{}\" does not match the URL's \"{uid}\"",
                request.dashboard.uid
            ),
        ));
    }
    if request.version.is_none() && !request.overwrite {
        return Err(ApiError::invalid(
            "version",
            "give the version you edited (or overwrite: true)",
        ));
    }
    Ok(Json(
        dashboards::save(
            &pool,
            request,
            Origin {
                by: &by,
                file: None,
            },
        )
        .await?,
    ))
}

async fn get_dashboard(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<Json<DashboardRecord>, ApiError> {
    Ok(Json(dashboards::get(&pool, &uid).await?))
}

async fn delete_dashboard(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    dashboards::delete(&pool, &uid).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export_dashboard(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<Response, ApiError> {
    let record = dashboards::get(&pool, &uid).await?;
    let body = serde_json::to_string_pretty(&record.dashboard)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/json".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{uid}.json\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Imports the portal's JSON or Grafana's (`{"dashboard": …}` too); `?overwrite=true` replaces
/// a dashboard with the same uid, `?folder=` files it.
async fn import_dashboard(
    State(pool): State<PgPool>,
    State(accounts): State<Accounts>,
    Folders(folders): Folders,
    RawQuery(query): RawQuery,
    Actor(by): Actor,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = Params::new(query, &[]);
    let overwrite = params.get("overwrite") == Some("true");
    let value: serde_json::Value = json_body(&body)?;
    let (dashboard, _) = dashboards::parse_import(value.clone(), params.get("folder"))?;
    may_file(&accounts, &folders, &dashboard.uid, &dashboard.folder).await?;
    let report = dashboards::import(&pool, value, overwrite, params.get("folder"), &by).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

async fn star_dashboard(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    dashboards::set_starred(&pool, &uid, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unstar_dashboard(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<StatusCode, ApiError> {
    dashboards::set_starred(&pool, &uid, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The options of a variable being edited, given the values of the variables before it.
async fn list_variable_options(
    State(queries): State<QueryService>,
    body: Bytes,
) -> Result<Json<VariableOptions>, ApiError> {
    let request: ResolveVariable = json_body(&body)?;
    let values = variable_options(&queries, &request.variable, &request.values)
        .await
        .map_err(|e| match e {
            ApiError::Invalid {
                field,
                message,
                fault,
            } => ApiError::Invalid {
                field: format!("variable.{field}"),
                message,
                fault,
            },
            other => other,
        })?;
    Ok(Json(VariableOptions { values }))
}
