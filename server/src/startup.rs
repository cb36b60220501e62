//! Builds the application from settings: the database (embedded or external), migrations, the
//! router and the listener; then serves until a stop signal and shuts down in order: stop
//! accepting, let in-flight requests finish, close the pool, stop the embedded database.

use crate::{
    admission::{ReadAdmission, WriteAdmission, WriteLimits},
    alerting::{
        notify::dispatch::{self, Dispatcher},
        scheduler, Alerting,
    },
    config::Settings,
    embedded::{EmbeddedOptions, EmbeddedPostgres},
    http::{self, AppState, RuntimeInfo},
    ingest::{IngestLimits, Ingester},
    portal_metrics::PortalMetrics,
    query::QueryService,
    scrape, store,
    tsdb::{
        compactor::{self, CompactSettings},
        HeadLimits, Storage,
    },
    workers::Supervisor,
};
use anyhow::Context;
use app::api::DatabaseMode;
use chrono::Utc;
use leptos::prelude::LeptosOptions;
use sqlx::{postgres::PgConnectOptions, PgPool};
use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
    time::Duration,
};
use tokio::net::TcpListener;
use tracing::info;

/// The database the embedded cluster holds the portal's data in.
pub const EMBEDDED_DATABASE: &str = "portal";

/// How often the dashboards directory is synced.
const PROVISIONING_INTERVAL: Duration = Duration::from_secs(10);
/// How often audit events older than the retention are dropped.
const AUDIT_PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// A block is compacted this long after it ends (room for late samples).
const COMPACTION_GRACE: Duration = Duration::from_secs(10 * 60);
/// How often each replica reads the samples other replicas wrote into its head.
const HEAD_SYNC_INTERVAL: Duration = Duration::from_millis(250);

/// A built portal, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: AppState,
    embedded: Option<EmbeddedPostgres>,
    storage: Arc<Storage>,
    connect_options: PgConnectOptions,
    shutdown_timeout: Duration,
    scrape_targets: Vec<scrape::Target>,
    /// The demo generator's ingest token, when it runs.
    demo: Option<String>,
    audit_retention: Duration,
    compaction: CompactSettings,
    dashboards_dir: Option<std::path::PathBuf>,
    rules_dir: Option<std::path::PathBuf>,
    worker_lock_retry: Duration,
    /// The first account's password when this start made it, and the file holding it.
    first_admin: Option<(String, std::path::PathBuf)>,
}

impl Application {
    /// Connects to (or starts) the database, applies migrations and binds the listener.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let (embedded, connect_options, database_mode) = match &settings.database_url {
            Some(url) => {
                let options: PgConnectOptions = url
                    .parse()
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                (None, options, DatabaseMode::External)
            }
            None => {
                let options = EmbeddedOptions {
                    data_dir: settings.data_dir.clone(),
                    bin_dir: settings.postgres_bin.clone(),
                    user: settings.postgres_user.clone(),
                };
                let pg = EmbeddedPostgres::start(&options, EMBEDDED_DATABASE).await?;
                let connect = pg.connect_options(EMBEDDED_DATABASE);
                (Some(pg), connect, DatabaseMode::Embedded)
            }
        };
        let data_directory = embedded
            .as_ref()
            .map(|pg| pg.data_dir().display().to_string());
        let built =
            Self::build_with(settings, connect_options, database_mode, data_directory).await;
        match (built, embedded) {
            (Ok(mut app), embedded) => {
                app.embedded = embedded;
                Ok(app)
            }
            (Err(e), Some(pg)) => {
                pg.stop().await.ok();
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
    }

    async fn build_with(
        settings: &Settings,
        connect_options: PgConnectOptions,
        database_mode: DatabaseMode,
        data_directory: Option<String>,
    ) -> anyhow::Result<Self> {
        // No JIT compilation: it costs 10 ms to a second per statement and this portal's
        // statements are short or bounded (a day's histogram of a word: 4.2 s with it, 0.96 s
        // without; a rare word's look-up 57 ms against 1 ms; docs/performance.md).
        let connect_options = connect_options.options([("jit", "off")]);
        let pool = store::connect(connect_options.clone(), settings.db_max_connections)
            .await
            .context("failed to connect to PostgreSQL")?;
        store::MIGRATOR
            .run(&pool)
            .await
            .context("failed to apply database migrations")?;
        let instance = store::instance::upsert_instance(&pool)
            .await
            .context("failed to read the portal instance")?;
        crate::dashboards::provision::ensure_built_in(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("failed to make the built-in dashboards: {e}"))?;
        if let Some(dir) = &settings.dashboards_dir {
            // The first sync happens before serving, so provisioned dashboards are there at once.
            crate::dashboards::provision::sync_directory(&pool, dir)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("failed to provision dashboards from {}: {e}", dir.display())
                })?;
        }

        match crate::render::load_font(settings.font.as_deref()) {
            Ok(path) => info!(font = %path, "panel images drawn with this font"),
            Err(e) => tracing::warn!(error = %e, "panel images cannot be drawn"),
        }
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("failed to listen on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let leptos_options = LeptosOptions::builder()
            .output_name(app::OUTPUT_NAME)
            .site_root(settings.site_root.display().to_string())
            .site_pkg_dir(http::assets::current_pkg_dir(&settings.site_root))
            .site_addr(address)
            .build();
        let metrics = PortalMetrics::new();
        let writes = Arc::new(WriteAdmission::new(
            WriteLimits {
                max_inflight_bytes: settings.ingest_max_inflight,
                max_inflight_requests: usize::try_from(settings.ingest_max_inflight_requests)
                    .unwrap_or(usize::MAX),
            },
            metrics.clone(),
        ));
        let query_limits = settings.query_limits();
        let reads = Arc::new(ReadAdmission::new(
            query_limits.max_concurrent,
            query_limits.max_queued,
            metrics.clone(),
        ));
        let limits = IngestLimits {
            max_series_per_metric: settings.max_series_per_metric,
            max_sample_age: chrono::Duration::from_std(settings.retention)
                .unwrap_or(chrono::Duration::days(30)),
            ..IngestLimits::default()
        };
        let storage = Arc::new(Storage::new(
            pool.clone(),
            HeadLimits {
                max_samples: usize::try_from(settings.head_max_samples).unwrap_or(usize::MAX),
                grace_ms: COMPACTION_GRACE.as_millis() as i64,
            },
        ));
        // Queries read recent samples from memory: load what the raw partitions hold first.
        let loaded = storage
            .load()
            .await
            .context("failed to load recent samples")?;
        info!(samples = loaded, "recent samples loaded");
        let ingester = Arc::new(Ingester::new(
            pool.clone(),
            storage.clone(),
            limits,
            metrics.clone(),
        ));
        let queries = QueryService::new(
            pool.clone(),
            storage.clone(),
            query_limits,
            reads.clone(),
            metrics.clone(),
        );
        let scrubber = crate::logs::Scrubber::new(
            &settings.logs_scrub,
            settings.logs_scrub_patterns.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("PORTAL_LOGS_SCRUB_PATTERNS: {e}"))?;
        let logs =
            crate::logs::LogsService::new(pool.clone(), settings.log_limits(), scrubber, reads);
        let external_url = settings.external_url(address);
        let alerting = Alerting::new(
            pool.clone(),
            queries.clone(),
            logs.clone(),
            ingester.clone(),
            external_url.clone(),
        )
        .with_max_silence(
            chrono::Duration::from_std(settings.silence_max_duration)
                .unwrap_or(chrono::Duration::days(30)),
        )
        .with_notification_retention(
            chrono::Duration::from_std(settings.notification_retention)
                .unwrap_or(chrono::Duration::days(30)),
        );
        if settings.demo {
            alerting
                .ensure_built_in()
                .await
                .map_err(|e| anyhow::anyhow!("failed to make the built-in alert rules: {e}"))?;
        }
        if let Some(dir) = &settings.rules_dir {
            // Like dashboards: provisioned rules are there before the first evaluation.
            alerting.sync_directory(dir).await.map_err(|e| {
                anyhow::anyhow!(
                    "failed to provision alert rules from {}: {e}",
                    dir.display()
                )
            })?;
        }
        let accounts = crate::accounts::Accounts::new(pool.clone());
        let first_admin = match accounts
            .ensure_admin()
            .await
            .map_err(|e| anyhow::anyhow!("failed to make the first account: {e}"))?
        {
            None => None,
            Some(password) => {
                let file = settings.data_dir.join("admin-password");
                write_private(&file, &password).with_context(|| {
                    format!("failed to write the first password to {}", file.display())
                })?;
                Some((password, file))
            }
        };
        let demo_token =
            if settings.demo {
                Some(accounts.demo_token().await.map_err(|e| {
                    anyhow::anyhow!("failed to make the demo generator's token: {e}")
                })?)
            } else {
                None
            };
        let auth_proxy = match &settings.auth_proxy_header {
            Some(header) => Some(crate::accounts::ProxyAuth {
                header: axum::http::HeaderName::from_bytes(header.as_bytes())
                    .context("PORTAL_AUTH_PROXY_HEADER")?,
                trusted: crate::accounts::parse_networks(&settings.auth_proxy_trusted)
                    .map_err(|e| anyhow::anyhow!("PORTAL_AUTH_PROXY_TRUSTED: {e}"))?,
                role: app::api::accounts::Role::parse(&settings.auth_proxy_role)
                    .unwrap_or(app::api::accounts::Role::Viewer),
            }),
            None => None,
        };
        let state = AppState {
            leptos_options,
            ingester,
            queries,
            alerting,
            logs,
            writes,
            accounts,
            audit: crate::audit::Audit::new(pool.clone()),
            self_router: Default::default(),
            pool,
            metrics,
            assets: Arc::default(),
            info: Arc::new(RuntimeInfo {
                started_at: Utc::now(),
                instance,
                external_url,
                listen_address: address.to_string(),
                body_limit: settings.body_limit,
                request_timeout: settings.request_timeout,
                database_mode,
                data_directory,
                metrics_auth: settings.metrics_auth,
                auth_proxy,
            }),
        };
        let own = settings
            .scrape_self
            .then_some((address, settings.scrape_interval));
        Ok(Self {
            listener,
            address,
            state,
            storage,
            connect_options,
            worker_lock_retry: settings.worker_lock_retry,
            first_admin,
            embedded: None,
            shutdown_timeout: settings.shutdown_timeout,
            scrape_targets: scrape::targets(&settings.scrape, own),
            demo: demo_token,
            audit_retention: settings.audit_retention,
            dashboards_dir: settings.dashboards_dir.clone(),
            rules_dir: settings.rules_dir.clone(),
            compaction: CompactSettings {
                retention: settings.retention,
                grace: COMPACTION_GRACE,
                interval: Duration::from_secs(60),
            },
        })
    }

    /// The bound address (tests bind port 0 and read the real port here).
    /// The first account's password and the file holding it, when this start made them.
    pub fn first_admin(&self) -> Option<&(String, std::path::PathBuf)> {
        self.first_admin.as_ref()
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
    }

    /// The storage engine (its head and partition cache), for tests that drive the compactor.
    pub fn storage(&self) -> Arc<Storage> {
        self.storage.clone()
    }

    /// Serves until `shutdown` completes, then drains and stops everything it started.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            embedded,
            storage,
            connect_options,
            shutdown_timeout,
            scrape_targets,
            demo,
            address,
            compaction,
            dashboards_dir,
            rules_dir,
            worker_lock_retry,
            audit_retention,
            first_admin: _,
        } = self;
        let pool = state.pool.clone();
        let workers = register_workers(Workers {
            supervisor: Supervisor::new(state.metrics.clone(), connect_options, worker_lock_retry),
            state: &state,
            storage,
            scrape_targets,
            compaction,
            dashboards_dir,
            rules_dir,
            demo: demo.map(|token| (address, token)),
            audit_retention,
        });
        let queries = state.queries.clone();
        let (router, _keep_router) = http::router(state);
        let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            info!("stop requested, finishing in-flight requests");
            // Queries are stopped rather than waited for: one can run for minutes.
            queries.shut_down();
            let _ = signalled_tx.send(());
        });
        let mut server = std::pin::pin!(server.into_future());
        let served = tokio::select! {
            result = &mut server => result,
            _ = async {
                let _ = signalled_rx.await;
                tokio::time::sleep(shutdown_timeout).await;
            } => {
                tracing::warn!(timeout = ?shutdown_timeout, "requests still running after the shutdown timeout; stopping anyway");
                Ok(())
            }
        };
        // Background work ends before the pool closes, so its last writes land.
        workers.shutdown(Duration::from_secs(5)).await;
        pool.close().await;
        if let Some(pg) = embedded {
            pg.stop().await?;
        }
        info!("portal stopped");
        served.context("server error")
    }
}

/// What the background workers are made from.
struct Workers<'a> {
    supervisor: Supervisor,
    state: &'a AppState,
    storage: Arc<Storage>,
    scrape_targets: Vec<scrape::Target>,
    compaction: CompactSettings,
    dashboards_dir: Option<std::path::PathBuf>,
    rules_dir: Option<std::path::PathBuf>,
    /// The portal's own address and an ingest token, when the demo fleet feeds it.
    demo: Option<(SocketAddr, String)>,
    audit_retention: Duration,
}

/// Every background job, registered in one place.
fn register_workers(w: Workers<'_>) -> Supervisor {
    let Workers {
        mut supervisor,
        state,
        storage,
        scrape_targets,
        compaction,
        dashboards_dir,
        rules_dir,
        demo,
        audit_retention,
    } = w;
    let pool = state.pool.clone();

    // Compaction and retention change shared tables: one replica does them.
    {
        let (pool, storage) = (pool.clone(), storage.clone());
        supervisor.every_on_one_replica("compactor", compaction.interval, move || {
            let (pool, storage, compaction) = (pool.clone(), storage.clone(), compaction.clone());
            async move {
                compactor::run_now(&pool, &storage, &compaction)
                    .await
                    .map(|_| ())
                    .context("compaction pass failed")
            }
        });
    }

    // Every replica keeps its head in step with what the others write and compact.
    {
        let storage = storage.clone();
        supervisor.every("head-sync", HEAD_SYNC_INTERVAL, move || {
            let storage = storage.clone();
            async move {
                match storage.sync().await {
                    // An outage is reported by /readyz and every write; four warnings a second
                    // would add nothing. The sync after it catches up.
                    Err(e) if store::unavailable(&e).is_some() => Ok(()),
                    result => result.context("head sync failed"),
                }
            }
        });
    }

    // Alert rules are evaluated, and notifications sent, by one replica each.
    {
        let alerting = state.alerting.clone();
        supervisor.every_on_one_replica(scheduler::WORKER, scheduler::TICK, move || {
            let alerting = alerting.clone();
            async move { scheduler::pass(&alerting).await }
        });
        let dispatcher = Dispatcher::new(state.alerting.clone(), supervisor.stop_token());
        supervisor.every_on_one_replica(dispatch::WORKER, dispatch::TICK, move || {
            let dispatcher = dispatcher.clone();
            async move { dispatcher.pass().await }
        });
    }
    if let Some(dir) = rules_dir {
        let alerting = state.alerting.clone();
        supervisor.every_on_one_replica("rule-provisioning", PROVISIONING_INTERVAL, move || {
            let (alerting, dir) = (alerting.clone(), dir.clone());
            async move {
                alerting
                    .sync_directory(&dir)
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow::anyhow!("rule provisioning failed: {e}"))
            }
        });
    }

    // Each replica scrapes itself; one replica scrapes every other target (two would store
    // each scrape twice, a few ms apart).
    let client = scrape::client();
    let (own, scrape_targets): (Vec<_>, Vec<_>) = scrape_targets.into_iter().partition(|t| t.own);
    for target in own {
        let (client, ingester, pool) = (client.clone(), state.ingester.clone(), pool.clone());
        let max_body = state.info.body_limit;
        supervisor.spawn("self-scrape", move |ctx| {
            scrape::run(target, client, ingester, pool, max_body, ctx.token())
        });
    }
    if !scrape_targets.is_empty() {
        let (ingester, pool) = (state.ingester.clone(), pool.clone());
        let max_body = state.info.body_limit;
        supervisor.spawn_on_one_replica("scrape", move |ctx| {
            let runs: Vec<_> = scrape_targets
                .iter()
                .map(|target| {
                    scrape::run(
                        target.clone(),
                        client.clone(),
                        ingester.clone(),
                        pool.clone(),
                        max_body,
                        ctx.token(),
                    )
                })
                .collect();
            async move {
                let mut scrapes = tokio::task::JoinSet::new();
                for run in runs {
                    scrapes.spawn(run);
                }
                while scrapes.join_next().await.is_some() {}
            }
        });
    }

    if let Some(dir) = dashboards_dir {
        let pool = pool.clone();
        supervisor.every_on_one_replica(
            "dashboard-provisioning",
            PROVISIONING_INTERVAL,
            move || {
                let (pool, dir) = (pool.clone(), dir.clone());
                async move {
                    crate::dashboards::provision::sync_directory(&pool, &dir)
                        .await
                        .map(|_| ())
                        .map_err(|e| anyhow::anyhow!("dashboard provisioning failed: {e}"))
                }
            },
        );
    }

    // Old notifications go, on one replica, as audit events do.
    {
        let alerting = state.alerting.clone();
        supervisor.every_on_one_replica(
            "notification-retention",
            AUDIT_PRUNE_INTERVAL,
            move || {
                let alerting = alerting.clone();
                async move {
                    let gone = alerting
                        .prune_notifications()
                        .await
                        .map_err(|e| anyhow::anyhow!("notification retention failed: {e}"))?;
                    if gone > 0 {
                        tracing::info!(gone, "notifications older than the retention forgotten");
                    }
                    Ok(())
                }
            },
        );
    }

    // Live tails here see the lines the other replicas commit: a listener on every replica,
    // started again a second after it fails (a lost connection).
    {
        let logs = state.logs.clone();
        supervisor.spawn("logs-tail-feed", move |ctx| async move {
            while !ctx.is_stopped() {
                let result = logs.feed_tails_from_other_replicas(ctx.token()).await;
                ctx.ran(&result);
                if result.is_err() {
                    tokio::select! {
                        _ = ctx.stopped() => {}
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        });
    }
    // The token entries writers leave pending are merged into the index from one session,
    // on one replica, every second.
    {
        let logs = state.logs.clone();
        supervisor.every_on_one_replica("logs-token-index", Duration::from_secs(1), move || {
            let logs = logs.clone();
            async move {
                logs.clean_pending_tokens()
                    .await
                    .map_err(|e| anyhow::anyhow!("merging pending log tokens failed: {e}"))
            }
        });
    }
    // The per-minute line counts writers append are folded, a row a key, on one replica.
    {
        let logs = state.logs.clone();
        supervisor.every_on_one_replica("logs-counts", Duration::from_secs(5), move || {
            let logs = logs.clone();
            async move {
                logs.fold_counts()
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow::anyhow!("folding log counts failed: {e}"))
            }
        });
    }
    // Log partitions past the retention are dropped whole, and closed days' token indexes
    // rebuilt compact, on one replica.
    {
        let logs = state.logs.clone();
        supervisor.every_on_one_replica("logs-retention", AUDIT_PRUNE_INTERVAL, move || {
            let logs = logs.clone();
            async move {
                let dropped = logs
                    .drop_expired()
                    .await
                    .map_err(|e| anyhow::anyhow!("logs retention failed: {e}"))?;
                if dropped > 0 {
                    tracing::info!(dropped, "log partitions past the retention dropped");
                }
                let compacted = logs
                    .compact_closed_days()
                    .await
                    .map_err(|e| anyhow::anyhow!("compacting closed log days failed: {e}"))?;
                if compacted > 0 {
                    tracing::info!(compacted, "closed log days' token indexes rebuilt");
                }
                Ok(())
            }
        });
    }
    // Old audit events go, a day's worth at a time on one replica.
    {
        let audit = state.audit.clone();
        let retention =
            chrono::Duration::from_std(audit_retention).unwrap_or(chrono::Duration::days(90));
        supervisor.every_on_one_replica("audit-retention", AUDIT_PRUNE_INTERVAL, move || {
            let audit = audit.clone();
            async move {
                audit
                    .prune(retention)
                    .await
                    .map(|_| ())
                    .map_err(|e| anyhow::anyhow!("audit retention failed: {e}"))
            }
        });
    }

    if let Some((mut own, token)) = demo {
        if own.ip().is_unspecified() {
            own.set_ip([127, 0, 0, 1].into());
        }
        supervisor.spawn("demo", move |ctx| {
            crate::demo::run(format!("http://{own}"), token, ctx.token())
        });
    }

    // The UI's files are compressed before the first visitor asks for them.
    let assets_state = state.clone();
    supervisor.spawn("asset-warm-up", move |ctx| async move {
        tokio::select! {
            _ = http::assets::warm(assets_state) => {}
            _ = ctx.stopped() => {}
        }
    });
    supervisor
}

/// Writes `text` to `file`, readable and writable by this user only.
fn write_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)?;
    writeln!(f, "{text}")
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
