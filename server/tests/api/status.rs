use crate::helpers::{fresh_database, spawn_app_on, spawn_one_app};
use app::api::{DatabaseMode, PortalStatus};
use server::config::SettingsInput;

#[tokio::test]
async fn status_reports_the_version_and_the_database() {
    let app = spawn_one_app().await;

    let status: PortalStatus = app.get("/api/portal/status").await.json().await.unwrap();

    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(status.database.mode, DatabaseMode::External);
    assert!(status.database.reachable);
    assert!(status
        .database
        .server_version
        .unwrap()
        .starts_with(char::is_numeric));
    assert_eq!(
        status.database.applied_migrations,
        server::store::MIGRATOR.iter().count() as i64
    );
    assert_eq!(
        status.listen_address,
        app.address.trim_start_matches("http://")
    );
    let stored: uuid::Uuid = sqlx::query_scalar("select portal_instance_id from portal_instance")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status.instance_id, stored.to_string());
    app.stop().await;
}

#[tokio::test]
async fn the_instance_survives_a_restart_on_the_same_database() {
    let database = fresh_database().await;
    let first = spawn_app_on(database.clone(), SettingsInput::default()).await;
    let before: PortalStatus = first.get("/api/portal/status").await.json().await.unwrap();
    first.stop().await;

    let second = spawn_app_on(database, SettingsInput::default()).await;
    let after: PortalStatus = second.get("/api/portal/status").await.json().await.unwrap();

    assert_eq!(before.instance_id, after.instance_id);
    assert_eq!(before.initialized_at, after.initialized_at);
    let rows: i64 = sqlx::query_scalar("select count(*) from portal_instance")
        .fetch_one(&second.db)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    second.stop().await;
}

#[tokio::test]
async fn status_says_so_when_the_database_is_unreachable() {
    let app = spawn_one_app().await;
    // A credential checked moments ago is believed for a few seconds without the database.
    assert_eq!(app.get("/api/portal/status").await.status(), 200);
    app.app_pool.close().await;

    let response = app.get("/api/portal/status").await;

    assert_eq!(response.status(), 200);
    let status: PortalStatus = response.json().await.unwrap();
    assert!(!status.database.reachable);
    // A credential that must be looked up is answered 503, with when to try again.
    let other = app
        .anonymous
        .get(app.url("/api/portal/status"))
        .bearer_auth("pt_not_checked_before")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 503);
    assert!(other.headers().contains_key("retry-after"));
    app.stop().await;
}
