//! A dashboard's history: its versions, one version's model, the changes between two, and
//! restoring an old version as the newest.

use super::{access::Actor, params::Params, AppState};
use crate::{dashboards, error::ApiError};
use app::api::dashboard::{Change, Dashboard, DashboardRecord, VersionSummary};
use axum::{
    extract::{Path, RawQuery, State},
    routing::{get, post},
    Json, Router,
};
use sqlx::PgPool;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dashboards/{uid}/versions", get(list_versions))
        .route("/api/dashboards/{uid}/versions/{version}", get(get_version))
        .route(
            "/api/dashboards/{uid}/versions/{version}/restore",
            post(restore_version),
        )
        .route("/api/dashboards/{uid}/diff", get(get_diff))
}

async fn list_versions(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<Json<Vec<VersionSummary>>, ApiError> {
    Ok(Json(dashboards::versions(&pool, &uid).await?))
}

async fn get_version(
    State(pool): State<PgPool>,
    Path((uid, version)): Path<(String, i32)>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(dashboards::version(&pool, &uid, version).await?))
}

async fn restore_version(
    State(pool): State<PgPool>,
    Path((uid, version)): Path<(String, i32)>,
    Actor(by): Actor,
) -> Result<Json<DashboardRecord>, ApiError> {
    Ok(Json(dashboards::restore(&pool, &uid, version, &by).await?))
}

/// `?from=<version>&to=<version>` (`to` defaults to the latest).
async fn get_diff(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<Change>>, ApiError> {
    let params = Params::new(query, &[]);
    let number = |key: &'static str| -> Result<Option<i32>, ApiError> {
        params
            .get(key)
            .map(|v| {
                v.parse::<i32>().map_err(|_| {
                    ApiError::bad_request(key, format!("\"{v}\" is not a version number"))
                })
            })
            .transpose()
    };
    let from = number("from")?
        .ok_or_else(|| ApiError::bad_request("from", "give the version to compare from"))?;
    Ok(Json(
        dashboards::diff_versions(&pool, &uid, from, number("to")?).await?,
    ))
}
