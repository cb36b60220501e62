//! `/healthz` (the process answers) and `/readyz` (the database answers too).

use super::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Json, Router};
use serde_json::json;
use std::time::Duration;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(get_health))
        .route("/readyz", get(get_readiness))
}

async fn get_health() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 when PostgreSQL answers a query within two seconds, else 503 with Retry-After.
async fn get_readiness(State(state): State<AppState>) -> impl IntoResponse {
    match crate::instance::database_ready(&state.pool, Duration::from_secs(2)).await {
        Ok(()) => Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Err(reason) => not_ready(reason),
    }
}

fn not_ready(reason: String) -> axum::response::Response {
    tracing::warn!(%reason, "database not reachable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "5")],
        Json(json!({ "status": "unavailable", "database": reason })),
    )
        .into_response()
}
