//! The test harness: one PostgreSQL per test run (the server named by `DATABASE_URL`, or an
//! embedded cluster in a temporary directory), a fresh database per test cloned from a migrated
//! template, and `spawn_app` to serve the portal on port 0 against it.

use app::api::accounts::{CreateToken, Scope};
use server::{
    config::{Settings, SettingsInput},
    embedded::{EmbeddedOptions, EmbeddedPostgres},
    startup::Application,
    store,
};
use sqlx::{postgres::PgConnectOptions, Connection, PgConnection, PgPool};
use std::{path::PathBuf, str::FromStr};
use tokio::sync::{oneshot, OnceCell};

/// The server tests create their databases on.
struct TestServer {
    admin: PgConnectOptions,
    template: String,
    /// Kept alive for the whole run; the kernel stops it when the test process exits.
    _embedded: Option<EmbeddedPostgres>,
}

static SERVER: OnceCell<TestServer> = OnceCell::const_new();

/// Where embedded clusters of test runs live; old ones are removed at the start of a run.
fn scratch_root() -> PathBuf {
    std::env::temp_dir().join("portal-api-tests")
}

async fn test_server() -> &'static TestServer {
    SERVER
        .get_or_init(|| async {
            let (admin, embedded) =
                match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
                    Some(url) => (
                        PgConnectOptions::from_str(&url).expect("DATABASE_URL is a PostgreSQL URL"),
                        None,
                    ),
                    None => {
                        let root = scratch_root();
                        remove_stale_clusters(&root);
                        let options = EmbeddedOptions {
                            data_dir: root.join(std::process::id().to_string()),
                            bin_dir: None,
                            user: "postgres".into(),
                        };
                        let pg = EmbeddedPostgres::start(&options, "postgres")
                            .await
                            .expect("embedded PostgreSQL starts");
                        (pg.connect_options("postgres"), Some(pg))
                    }
                };
            let template = format!("portal_test_template_{}", std::process::id());
            let mut conn = PgConnection::connect_with(&admin)
                .await
                .expect("connect to the test server");
            sqlx::query(&format!("drop database if exists {template}"))
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(&format!("create database {template}"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            let pool = PgPool::connect_with(admin.clone().database(&template))
                .await
                .unwrap();
            store::MIGRATOR
                .run(&pool)
                .await
                .expect("migrations apply to an empty database");
            pool.close().await;
            TestServer {
                admin,
                template,
                _embedded: embedded,
            }
        })
        .await
}

/// Removes the clusters of earlier runs whose process is gone.
fn remove_stale_clusters(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let alive = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
            // SAFETY: kill with signal 0 only checks whether the process exists.
            .is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0);
        if !alive {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Creates an empty, migrated database for one test and returns its connect options.
pub async fn fresh_database() -> PgConnectOptions {
    let server = test_server().await;
    let name = format!("portal_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect_with(&server.admin).await.unwrap();
    sqlx::query(&format!(
        "create database {name} template {}",
        server.template
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    server.admin.clone().database(&name)
}

/// Writes connect options as the URL `DATABASE_URL` takes.
pub fn url_of(options: &PgConnectOptions) -> String {
    let host = options
        .get_socket()
        .map(|s| s.display().to_string())
        .unwrap_or_else(|| options.get_host().to_string());
    let user = options.get_username();
    let db = options.get_database().unwrap_or("postgres");
    let port = options.get_port();
    if options.get_socket().is_some() {
        format!("postgres://{user}@localhost:{port}/{db}?host={host}")
    } else {
        let password = std::env::var("DATABASE_URL")
            .ok()
            .and_then(|u| url_password(&u))
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        format!("postgres://{user}{password}@{host}:{port}/{db}")
    }
}

fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p.to_string())
}

/// A portal serving on a free port.
pub struct TestApp {
    /// The first account's password and the file holding it, when this start made them.
    pub first_admin: Option<(String, std::path::PathBuf)>,
    pub address: String,
    /// A client carrying an API token with the admin scope: what most tests act as.
    pub client: reqwest::Client,
    /// A client with no credentials.
    pub anonymous: reqwest::Client,
    /// The secret of the admin token `client` carries.
    pub token: String,
    /// A pool on the app's database, for arranging and asserting on stored data.
    pub db: PgPool,
    /// The app's own pool: closing it makes the database unreachable to the app.
    pub app_pool: PgPool,
    pub storage: std::sync::Arc<server::tsdb::Storage>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// With `PORTAL_TEST_REPLICAS`: the other portals on the database, and the round-robin
    /// proxy in front of all of them that `address` names.
    others: Vec<TestApp>,
    proxy: Option<tokio::task::JoinHandle<()>>,
    /// This portal's own address (`address` is the proxy's when there are replicas).
    direct: String,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The `/metrics` page of every portal behind `address`, one after the other: a counter
    /// of one process counts what reached that process only.
    pub async fn every_metrics_page(&self) -> String {
        let mut out = String::new();
        for direct in std::iter::once(&self.direct).chain(self.others.iter().map(|o| &o.direct)) {
            let page = self.client.get(format!("{direct}/metrics")).send().await;
            out.push_str(&page.expect("/metrics answers").text().await.unwrap());
        }
        out
    }

    /// Posts a form to a Prometheus API endpoint and returns `data.result` (the call must
    /// succeed).
    async fn prom_result(&self, path: &str, form: &[(&str, &str)]) -> serde_json::Value {
        let body: serde_json::Value = self
            .client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["status"], "success", "{body}");
        body["data"]["result"].clone()
    }

    /// The result of a PromQL instant query at the current time.
    pub async fn instant(&self, query: &str) -> Vec<serde_json::Value> {
        let result = self.prom_result("/api/v1/query", &[("query", query)]).await;
        result.as_array().unwrap().clone()
    }

    /// The result of a PromQL range query (`start`, `end` in milliseconds).
    pub async fn range(&self, query: &str, start: i64, end: i64, step: &str) -> serde_json::Value {
        let (start, end) = (
            (start as f64 / 1000.0).to_string(),
            (end as f64 / 1000.0).to_string(),
        );
        let form = [
            ("query", query),
            ("start", &start),
            ("end", &end),
            ("step", step),
        ];
        self.prom_result("/api/v1/query_range", &form).await
    }

    /// Remote-writes `series` (and `metadata`) as Prometheus does and asserts they were stored.
    pub async fn remote_write(
        &self,
        series: &[server::ingest::IncomingSeries],
        metadata: &[server::ingest::remote_write::MetadataEntry],
    ) {
        let response = self
            .client
            .post(self.url("/api/v1/write"))
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .body(server::ingest::remote_write::encode(series, metadata))
            .send()
            .await
            .expect("the portal answers");
        let status = response.status();
        assert_eq!(status, 204, "{}", response.text().await.unwrap());
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request is answered")
    }

    /// Stops the app as a stop signal would and waits until it has shut down.
    pub async fn stop(mut self) {
        if let Some(proxy) = self.proxy.take() {
            proxy.abort();
        }
        for other in std::mem::take(&mut self.others) {
            Box::pin(other.stop()).await;
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server shut down cleanly");
        }
    }
}

/// Takes the compactor's advisory lock on `database` (as another replica would) and keeps it
/// while the connection lives: portals started on it never compact, so only a test's own
/// passes do, never one racing them.
pub async fn hold_compactor_lock(database: &PgConnectOptions) -> PgConnection {
    let mut lock = PgConnection::connect_with(database).await.unwrap();
    let taken: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(server::workers::lock_key("compactor"))
        .fetch_one(&mut lock)
        .await
        .unwrap();
    assert!(taken);
    lock
}

/// Starts the portal on port 0 against a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(fresh_database().await, SettingsInput::default()).await
}

/// How many portals [`spawn_app_on`] starts on one database: `PORTAL_TEST_REPLICAS`, 1 unless
/// set. With more, requests reach them in turn through a proxy, as behind a load balancer, and
/// the clients open a connection per request so that consecutive requests go to different
/// portals (`PORTAL_TEST_REPLICAS=2 cargo test --test api` runs the suite against two).
pub fn replicas() -> usize {
    std::env::var("PORTAL_TEST_REPLICAS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// Starts the portal on port 0 against `database` with some settings changed (as many
/// replicas as [`replicas`] says, behind one address).
pub async fn spawn_app_on(database: PgConnectOptions, input: SettingsInput) -> TestApp {
    let mut apps = Vec::new();
    for _ in 0..replicas() {
        apps.push(spawn_one_app_on(database.clone(), input.clone()).await);
    }
    let mut first = apps.remove(0);
    if apps.is_empty() {
        return first;
    }
    let backends: Vec<String> = std::iter::once(&first)
        .chain(&apps)
        .map(|a| a.address.trim_start_matches("http://").to_string())
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    first.address = format!("http://{}", listener.local_addr().unwrap());
    first.proxy = Some(tokio::spawn(round_robin(listener, backends)));
    first.others = apps;
    first
}

/// Starts one portal on port 0 against `database`, whatever [`replicas`] says: for tests of
/// one process' own state (its `/metrics`, its in-flight budget, its memory).
pub async fn spawn_one_app_on(database: PgConnectOptions, mut input: SettingsInput) -> TestApp {
    input.database_url = Some(url_of(&database));
    spawn_app_with(input).await
}

/// [`spawn_one_app_on`] a fresh database.
pub async fn spawn_one_app() -> TestApp {
    spawn_one_app_on(fresh_database().await, SettingsInput::default()).await
}

/// Hands each connection accepted on `listener` to the next of `backends`, byte for byte.
async fn round_robin(listener: tokio::net::TcpListener, backends: Vec<String>) {
    let mut next = 0;
    while let Ok((mut inbound, _)) = listener.accept().await {
        let backend = backends[next % backends.len()].clone();
        next += 1;
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(&backend).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// Starts the portal on port 0 with these settings: with no `database_url`, on an embedded
/// PostgreSQL in its data directory.
pub async fn spawn_app_with(mut input: SettingsInput) -> TestApp {
    input.listen = Some("127.0.0.1:0".parse().unwrap());
    // Files the portal writes (the first account's password) stay out of the machine's own
    // data directory.
    input.data_dir = input.data_dir.or_else(|| Some(scratch_dir()));
    // Tests count what they store; the portal's own scrapes would add to it unasked.
    input.scrape_self = input.scrape_self.or(Some(false));
    let settings = Settings::merge(input, SettingsInput::default()).unwrap();
    let app = Application::build(&settings)
        .await
        .expect("the portal builds");
    let address = format!("http://{}", app.address());
    let first_admin = app.first_admin().cloned();
    let app_pool = app.pool().clone();
    let token = make_token(&app_pool, "tests", &[Scope::Admin]).await;
    let storage = app.storage();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    TestApp {
        direct: address.clone(),
        address,
        client: client_with(Some(&token)),
        anonymous: client_with(None),
        token,
        db: PgPool::connect_with(app_pool.connect_options().as_ref().clone())
            .await
            .unwrap(),
        app_pool,
        storage,
        stop: Some(stop_tx),
        task: Some(task),
        first_admin,
        others: Vec::new(),
        proxy: None,
    }
}

/// An API token with `scopes`, made straight in the portal's database.
pub async fn make_token(pool: &PgPool, name: &str, scopes: &[Scope]) -> String {
    server::accounts::Accounts::new(pool.clone())
        .create_token(
            &CreateToken {
                name: name.into(),
                scopes: scopes.to_vec(),
                expires_at: None,
            },
            "tests",
        )
        .await
        .expect("a token is made")
        .secret
}

/// A client that follows no redirects and sends `token` as a bearer credential when given.
pub fn client_with(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers);
    if replicas() > 1 {
        builder = builder.pool_max_idle_per_host(0);
    }
    builder.build().unwrap()
}

/// A directory of its own for one portal of this test process.
pub fn scratch_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("portal-test-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server crate's directory, as cargo names it when it runs the tests: clones share a build
/// directory, and a test binary compiled in one clone is reused by another, so the directory it
/// was compiled in (`env!`) may be another clone's or gone.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}
