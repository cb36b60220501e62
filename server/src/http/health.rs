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
    let check = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("select 1").execute(&state.pool),
    )
    .await;
    match check {
        Ok(Ok(_)) => Json(json!({ "status": "ready", "database": "ok" })).into_response(),
        Ok(Err(e)) => not_ready(e.to_string()),
        Err(_) => not_ready("no answer within 2s".into()),
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
