//! `GET /api/portal/status`: version, uptime, instance and database state.

use super::AppState;
use crate::{error::ApiError, instance};
use app::api::{DatabaseStatus, PortalStatus};
use axum::{extract::State, routing::get, Json, Router};
use chrono::Utc;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/portal/status", get(get_status))
}

/// Always answers: an unreachable database shows as `reachable: false`, not as an error.
async fn get_status(State(state): State<AppState>) -> Result<Json<PortalStatus>, ApiError> {
    let info = &state.info;
    let (server_version, migrations) = instance::database_facts(&state.pool).await;
    let reachable = server_version.is_some();
    let idle = u32::try_from(state.pool.num_idle()).unwrap_or(u32::MAX);
    Ok(Json(PortalStatus {
        version: env!("CARGO_PKG_VERSION").to_string(),
        instance_id: info.instance.portal_instance_id.to_string(),
        initialized_at: info.instance.created_at,
        started_at: info.started_at,
        uptime_seconds: (Utc::now() - info.started_at).num_seconds(),
        listen_address: info.listen_address.clone(),
        body_limit_bytes: info.body_limit,
        database: DatabaseStatus {
            mode: info.database_mode,
            reachable,
            server_version,
            data_directory: info.data_directory.clone(),
            pool_max_connections: state.pool.options().get_max_connections(),
            pool_open_connections: state.pool.size(),
            pool_idle_connections: idle,
            applied_migrations: migrations.unwrap_or(0),
        },
    }))
}
