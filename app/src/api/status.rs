//! `GET /api/portal/status`: what this portal is and how its database is doing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The portal's own status, shown on the Settings page and useful to scripts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PortalStatus {
    pub version: String,
    /// Stays the same across restarts for as long as the database is kept.
    pub instance_id: String,
    /// When this installation's database was first set up.
    pub initialized_at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub uptime_seconds: i64,
    pub listen_address: String,
    pub body_limit_bytes: u64,
    pub database: DatabaseStatus,
}

/// Where the data lives and whether it can be reached right now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatabaseStatus {
    pub mode: DatabaseMode,
    pub reachable: bool,
    pub server_version: Option<String>,
    /// The data directory of the embedded cluster; absent for an external server.
    pub data_directory: Option<String>,
    pub pool_max_connections: u32,
    pub pool_open_connections: u32,
    pub pool_idle_connections: u32,
    pub applied_migrations: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseMode {
    /// A private cluster the portal started itself because no `DATABASE_URL` was set.
    Embedded,
    /// The server named by `DATABASE_URL`.
    External,
}
