//! Short links: `POST /api/short-links` makes `/s/<code>` for a path on this portal, and
//! `/s/<code>` redirects there.

use super::{params::json_body, AppState};
use crate::{dashboards::links, error::ApiError};
use app::api::dashboard::{CreateShortLink, ShortLink};
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
    Path(code): Path<String>,
) -> Result<Redirect, ApiError> {
    Ok(Redirect::to(&links::follow_short_link(&pool, &code).await?))
}
