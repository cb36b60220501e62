use server::embedded::{EmbeddedOptions, EmbeddedPostgres};
use sqlx::{Connection, PgConnection};

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[tokio::test]
async fn the_embedded_database_keeps_its_data_across_restarts_and_leaves_no_process_behind() {
    let dir = tempfile::Builder::new()
        .prefix("portal-embedded-")
        .tempdir_in("/tmp")
        .unwrap();
    let options = EmbeddedOptions {
        data_dir: dir.path().join("data"),
        bin_dir: None,
        user: "postgres".into(),
    };

    let first = EmbeddedPostgres::start(&options, "portal")
        .await
        .expect("first start initialises the cluster");
    let mut conn = PgConnection::connect_with(&first.connect_options("portal"))
        .await
        .unwrap();
    sqlx::query("create table kept (value text)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("insert into kept values ('still here')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let first_pid = first.pid();
    first.stop().await.unwrap();
    assert!(!process_exists(first_pid), "postgres is gone after stop");

    let second = EmbeddedPostgres::start(&options, "portal")
        .await
        .expect("second start reuses the cluster");
    let mut conn = PgConnection::connect_with(&second.connect_options("portal"))
        .await
        .unwrap();
    let value: String = sqlx::query_scalar("select value from kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(value, "still here");
    conn.close().await.unwrap();
    let second_pid = second.pid();
    second.stop().await.unwrap();
    assert!(!process_exists(second_pid));
}

#[tokio::test]
async fn a_missing_postgres_installation_is_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let options = EmbeddedOptions {
        data_dir: dir.path().join("data"),
        bin_dir: Some(dir.path().join("nowhere")),
        user: "postgres".into(),
    };
    let error = EmbeddedPostgres::start(&options, "portal")
        .await
        .err()
        .expect("start fails")
        .to_string();
    assert!(error.contains("initdb not found"), "{error}");
    assert!(error.contains("PORTAL_POSTGRES_BIN"), "{error}");
}
