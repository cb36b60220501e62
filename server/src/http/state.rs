//! What handlers share: the application state and the facts fixed at start-up. Handlers take
//! the part they need (`State<QueryService>`, `State<PgPool>`, …) through `FromRef`; nothing
//! outside `http` sees this type.

use super::AssetCache;
use crate::{
    accounts::Accounts, admission::WriteAdmission, alerting::Alerting, audit::Audit,
    ingest::Ingester, instance::Instance, logs::LogsService, portal_metrics::PortalMetrics,
    query::QueryService,
};
use app::api::DatabaseMode;
use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use std::{
    sync::{Arc, OnceLock, Weak},
    time::Duration,
};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub metrics: PortalMetrics,
    pub ingester: Arc<Ingester>,
    /// What every signal's writes are let in by.
    pub writes: Arc<WriteAdmission>,
    pub queries: QueryService,
    pub logs: LogsService,
    pub alerting: Alerting,
    pub accounts: Accounts,
    pub audit: Audit,
    /// The router itself, for the audit layer's look at a thing before and after a change.
    pub self_router: SelfRouter,
    pub info: Arc<RuntimeInfo>,
    /// The UI's files, compressed once.
    pub assets: Arc<AssetCache>,
}

/// Facts fixed at start-up that the status endpoint reports and pages use.
#[derive(Debug)]
pub struct RuntimeInfo {
    pub started_at: DateTime<Utc>,
    pub instance: Instance,
    pub listen_address: String,
    /// Where people reach the portal (`PORTAL_EXTERNAL_URL`), without a trailing slash: the
    /// origin of every absolute URL the portal writes (link previews), never the `Host` header.
    pub external_url: String,
    pub body_limit: u64,
    pub request_timeout: Duration,
    pub database_mode: DatabaseMode,
    pub data_directory: Option<String>,
    /// Whether `/metrics` asks for credentials.
    pub metrics_auth: bool,
    /// Reverse-proxy sign-in, when configured.
    pub auth_proxy: Option<crate::accounts::ProxyAuth>,
}

/// The router the audit layer asks for the state of a thing before and after a change. It is
/// held weakly (the router holds the state that holds this): whoever serves the router keeps
/// the strong [`Arc`] that [`SelfRouter::serve`] returns.
#[derive(Clone, Default)]
pub struct SelfRouter(Arc<OnceLock<Weak<axum::Router>>>);

impl SelfRouter {
    /// Remembers `router`; the answer must be kept as long as it serves.
    pub fn serve(&self, router: &axum::Router) -> Arc<axum::Router> {
        let strong = Arc::new(router.clone());
        let _ = self.0.set(Arc::downgrade(&strong));
        strong
    }

    /// The router, while it serves.
    pub fn get(&self) -> Option<axum::Router> {
        Some(axum::Router::clone(&*self.0.get()?.upgrade()?))
    }
}
