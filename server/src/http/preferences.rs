//! Portal-wide preferences: the home dashboard.

use super::{params::json_body, AppState};
use crate::{dashboards, error::ApiError};
use app::api::dashboard::HomePreference;
use axum::{body::Bytes, extract::State, routing::get, Json, Router};
use sqlx::PgPool;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/preferences/home", get(get_home).put(update_home))
}

async fn get_home(State(pool): State<PgPool>) -> Result<Json<HomePreference>, ApiError> {
    Ok(Json(HomePreference {
        uid: dashboards::home_uid(&pool).await?,
    }))
}

async fn update_home(
    State(pool): State<PgPool>,
    body: Bytes,
) -> Result<Json<HomePreference>, ApiError> {
    let home: HomePreference = json_body(&body)?;
    dashboards::set_home(&pool, home.uid.as_deref()).await?;
    Ok(Json(home))
}
