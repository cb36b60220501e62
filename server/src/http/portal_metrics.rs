//! `/metrics`: the portal's own metrics in the Prometheus text exposition format.

use super::AppState;
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(get_metrics))
}

async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        state
            .metrics
            .render(&state.pool, state.ingester.storage().head().len()),
    )
}
