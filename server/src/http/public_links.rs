//! Public links: making, listing and revoking them (for a dashboard's editors), and the
//! read-only endpoints a link opens to anyone who has it: its dashboard, its variables' options
//! and its panels' stored queries. Only the variables' values come from the caller, and each
//! must be one of the variable's options, so a public link queries nothing else.

use super::{
    params::{json_body, Params},
    prometheus::{pair, range_series, series_labels, PromError},
    AppState,
};
use crate::{
    dashboards::{
        links,
        query::{requested_selection, resolve_selection, run_target, variable_options},
    },
    error::ApiError,
    query::QueryService,
};
use app::api::{
    dashboard::{CreatePublicLink, Dashboard, PublicLink, VariableOptions},
    prometheus::{InstantSample, PromResponse, QueryData},
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get},
    Json, Router,
};
use sqlx::PgPool;

/// Managing a dashboard's public links.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/dashboards/{uid}/public-links",
            get(list_public_links).post(create_public_link),
        )
        .route(
            "/api/dashboards/{uid}/public-links/{id}",
            delete(revoke_public_link),
        )
}

/// What a public link opens, to anyone who has it.
pub fn open_router() -> Router<AppState> {
    Router::new()
        .route("/api/public/{token}/dashboard", get(get_public_dashboard))
        .route(
            "/api/public/{token}/variables/{name}/options",
            get(list_public_variable_options),
        )
        .route(
            "/api/public/{token}/panels/{id}/targets/{index}/query_range",
            get(get_public_query),
        )
}

async fn list_public_links(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
) -> Result<Json<Vec<PublicLink>>, ApiError> {
    Ok(Json(links::list_public_links(&pool, &uid).await?))
}

async fn create_public_link(
    State(pool): State<PgPool>,
    Path(uid): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreatePublicLink = if body.is_empty() {
        CreatePublicLink { expires_at: None }
    } else {
        json_body(&body)?
    };
    let link = links::create_public_link(&pool, &uid, request.expires_at).await?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

async fn revoke_public_link(
    State(pool): State<PgPool>,
    Path((uid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    links::revoke_public_link(&pool, &uid, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_public_dashboard(
    State(pool): State<PgPool>,
    Path(token): Path<String>,
) -> Result<Json<Dashboard>, ApiError> {
    Ok(Json(links::open_public_link(&pool, &token).await?))
}

/// The options of one variable of a public dashboard, given the others (`var-<name>`), which
/// must themselves be options.
async fn list_public_variable_options(
    State(pool): State<PgPool>,
    State(queries): State<QueryService>,
    Path((token, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<VariableOptions>, ApiError> {
    let dashboard = links::open_public_link(&pool, &token).await?;
    let params = Params::new(query, &[]);
    let index = dashboard
        .variables
        .iter()
        .position(|v| v.name == name)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no variable \"{name}\"")))?;
    // Only the variables before this one can be used by its query.
    let mut before = dashboard.clone();
    before.variables.truncate(index);
    let selection =
        resolve_selection(&queries, &before, &requested_selection(&params.0), true).await?;
    let values = variable_options(&queries, &dashboard.variables[index], &selection).await?;
    Ok(Json(VariableOptions { values }))
}

/// Runs one stored query of a public dashboard.
async fn get_public_query(
    State(pool): State<PgPool>,
    State(queries): State<QueryService>,
    Path((token, id, index)): Path<(String, u32, usize)>,
    RawQuery(query): RawQuery,
) -> Result<Json<PromResponse<QueryData>>, PromError> {
    let dashboard = links::open_public_link(&pool, &token).await?;
    let panel = dashboard
        .panel(id)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no panel {id}")))?;
    let params = Params::new(query, &[]);
    let range = params.range()?;
    let selection =
        resolve_selection(&queries, &dashboard, &requested_selection(&params.0), true).await?;
    let series = run_target(&queries, panel, index, &selection, range).await?;
    let data = if panel.targets[index].instant {
        QueryData::Vector(
            series
                .into_iter()
                .map(|s| InstantSample {
                    metric: series_labels(s.labels),
                    value: pair(range.end, s.points.first().map_or(f64::NAN, |p| p.1)),
                })
                .collect(),
        )
    } else {
        QueryData::Matrix(series.into_iter().map(range_series).collect())
    };
    Ok(Json(PromResponse::success(data)))
}
