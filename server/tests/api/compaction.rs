use crate::helpers::{fresh_database, hold_compactor_lock, spawn_app_on, TestApp};
use server::{
    ingest::IncomingSeries,
    labels::SeriesKey,
    tsdb::compactor::{run_once, CompactSettings},
};
use std::time::Duration;

const MINUTE: i64 = 60_000;

fn settings(retention_days: u64) -> CompactSettings {
    CompactSettings {
        retention: Duration::from_secs(retention_days * 86_400),
        grace: Duration::from_secs(600),
        interval: Duration::from_secs(60),
    }
}

/// Writes a counter per agent every 15 s from `from` to `to` (ms), growing by 1 per sample.
async fn write_counter(app: &TestApp, agents: &[&str], from: i64, to: i64) {
    let series: Vec<IncomingSeries> = agents
        .iter()
        .map(|agent| IncomingSeries {
            key: SeriesKey::from_pairs([("__name__", "tasks_total"), ("agent_id", *agent)])
                .unwrap(),
            samples: (0..)
                .map(|i| (from + i * 15_000, i as f64))
                .take_while(|p| p.0 <= to)
                .collect(),
        })
        .collect();
    app.remote_write(&series, &[]).await;
}

async fn raw_samples(app: &TestApp) -> i64 {
    server::tsdb::batch::count_samples(&app.db).await.unwrap() as i64
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.db).await.unwrap()
}

const RAW_PARTITIONS: &str = "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhparent where p.relname = 'metric_batch'";

/// A portal whose own compactor never runs: the test holds the compactor's advisory lock on its
/// database (as another replica would), so only the test's passes compact, never one racing them.
async fn spawn_app_without_compactor() -> (TestApp, sqlx::PgConnection) {
    let database = fresh_database().await;
    let lock = hold_compactor_lock(&database).await;
    (spawn_app_on(database, Default::default()).await, lock)
}

#[tokio::test]
async fn complete_blocks_become_chunks_and_read_the_same() {
    let (app, _lock) = spawn_app_without_compactor().await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    let from = now - 7 * 60 * MINUTE;
    write_counter(&app, &["a1", "a2"], from, now).await;
    let written = raw_samples(&app).await;
    let start = from + 10 * MINUTE;
    let before = app.range("tasks_total", start, now, "1m").await;
    let rate_before = app
        .range("sum(rate(tasks_total[5m]))", start, now, "1m")
        .await;

    let report = run_once(&app.app_pool, Some(&app.storage), now, &settings(30))
        .await
        .unwrap();
    assert!(report.blocks_compacted >= 3, "{report:?}");
    // Every sample of the compacted blocks is in a chunk; only recent blocks stay raw.
    let in_chunks = count(
        &app,
        "select coalesce(sum(sample_count), 0) from metric_chunk where resolution_ms = 0",
    )
    .await;
    let still_raw = raw_samples(&app).await;
    assert_eq!(in_chunks + still_raw, written);
    assert_eq!(report.samples_compacted as i64, in_chunks);
    assert!(count(&app, RAW_PARTITIONS).await <= 2);
    let bytes = count(
        &app,
        "select sum(octet_length(data)) from metric_chunk where resolution_ms = 0",
    )
    .await;
    assert!(
        (bytes as f64) / (in_chunks as f64) < 2.0,
        "{bytes} bytes for {in_chunks} samples"
    );

    assert_eq!(app.range("tasks_total", start, now, "1m").await, before);
    assert_eq!(
        app.range("sum(rate(tasks_total[5m]))", start, now, "1m")
            .await,
        rate_before
    );

    // Long steps read the downsampled stream: the same rates at bucket-aligned steps.
    let aligned = start / (30 * MINUTE) * (30 * MINUTE) + 30 * MINUTE;
    let coarse = app
        .range(
            "sum(rate(tasks_total[5m]))",
            aligned,
            now - 3 * 60 * MINUTE,
            "30m",
        )
        .await;
    let fine = app
        .range(
            "sum(rate(tasks_total[5m]))",
            aligned,
            now - 3 * 60 * MINUTE,
            "15m",
        )
        .await;
    let coarse_values = coarse[0]["values"].as_array().unwrap();
    let fine_values: std::collections::HashMap<String, String> = fine[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v[0].to_string(), v[1].as_str().unwrap().to_string()))
        .collect();
    assert!(coarse_values.len() >= 6);
    for v in coarse_values {
        let exact: f64 = fine_values[&v[0].to_string()].parse().unwrap();
        let got: f64 = v[1].as_str().unwrap().parse().unwrap();
        assert!((got - exact).abs() < 1e-9, "at {}: {got} vs {exact}", v[0]);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_late_sample_for_a_compacted_block_is_kept_and_merged() {
    let (app, _lock) = spawn_app_without_compactor().await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    let old = now - 5 * 60 * MINUTE;
    write_counter(&app, &["a1"], old, old + 10 * MINUTE).await;
    run_once(&app.app_pool, None, now, &settings(30))
        .await
        .unwrap();
    assert_eq!(raw_samples(&app).await, 0);

    // The storage engine still believes the partition exists: the write must make it again.
    write_counter(&app, &["a1"], old + 20 * MINUTE, old + 20 * MINUTE).await;
    let result = app.range("tasks_total", old, old + 30 * MINUTE, "1m").await;
    let late_at = ((old + 20 * MINUTE) / 1000) as f64;
    let has_late = result[0]["values"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v[0].as_f64() == Some(late_at) && v[1] == "0");
    assert!(has_late, "{result}");

    run_once(&app.app_pool, Some(&app.storage), now, &settings(30))
        .await
        .unwrap();
    assert_eq!(raw_samples(&app).await, 0);
    assert_eq!(
        count(
            &app,
            "select sum(sample_count) from metric_chunk where resolution_ms = 0"
        )
        .await,
        42
    );
    assert_eq!(
        app.range("tasks_total", old, old + 30 * MINUTE, "1m").await,
        result
    );
    app.stop().await;
}

#[tokio::test]
async fn retention_drops_whole_partitions() {
    let (app, _lock) = spawn_app_without_compactor().await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    write_counter(
        &app,
        &["a1"],
        now - 3 * 86_400_000,
        now - 3 * 86_400_000 + 30 * MINUTE,
    )
    .await;
    write_counter(
        &app,
        &["a1"],
        now - 5 * 60 * MINUTE,
        now - 5 * 60 * MINUTE + 30 * MINUTE,
    )
    .await;
    let report = run_once(&app.app_pool, Some(&app.storage), now, &settings(2))
        .await
        .unwrap();
    // The old block is dropped as it is; only the recent one is compacted.
    assert_eq!(report.samples_compacted, 121, "{report:?}");
    let result = app
        .range("tasks_total", now - 4 * 86_400_000, now, "5m")
        .await;
    let values = result[0]["values"].as_array().unwrap();
    assert!(values
        .iter()
        .all(|v| v[0].as_f64().unwrap() * 1000.0 > (now - 2 * 86_400_000) as f64));
    assert!(!values.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn recent_samples_are_read_back_into_memory_after_a_restart() {
    let database = fresh_database().await;
    // Within half an hour of a block's start the previous block is ripe: no pass may compact it.
    let _lock = hold_compactor_lock(&database).await;
    let app = spawn_app_on(database.clone(), Default::default()).await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    write_counter(&app, &["a1", "a2"], now - 30 * MINUTE, now).await;
    let before = app.range("tasks_total", now - 30 * MINUTE, now, "1m").await;
    app.stop().await;

    let app = spawn_app_on(database, Default::default()).await;
    assert_eq!(app.storage.head().len(), 2 * 121);
    assert_eq!(
        app.range("tasks_total", now - 30 * MINUTE, now, "1m").await,
        before
    );
    app.stop().await;
}

#[tokio::test]
async fn writes_into_old_blocks_racing_the_compactor_are_all_kept() {
    let (app, _lock) = spawn_app_without_compactor().await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    // Passes that compact every complete block, back to back, while the writes go on. A pass
    // that loses a deadlock to a write is rolled back whole and tried again, as the portal's
    // own compactor does at its next pass.
    let racing = {
        let (pool, storage) = (app.app_pool.clone(), app.storage.clone());
        tokio::spawn(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(4);
            while std::time::Instant::now() < deadline {
                match run_once(&pool, Some(&storage), now, &settings(30)).await {
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("40P01") => {}
                    other => {
                        other.unwrap();
                    }
                }
            }
        })
    };
    // Each write has one sample in each of the last twelve complete blocks (a day of them).
    let blocks = 12;
    let writes = 30;
    for w in 0..writes {
        let samples = (1..=blocks)
            .rev()
            .map(|b| (now - b * 120 * MINUTE + w * 1000, w as f64))
            .collect();
        let series = IncomingSeries {
            key: SeriesKey::from_pairs([("__name__", "late_total")]).unwrap(),
            samples,
        };
        app.remote_write(&[series], &[]).await;
    }
    racing.await.unwrap();
    run_once(&app.app_pool, Some(&app.storage), now, &settings(30))
        .await
        .unwrap();
    let counted = app.instant("count_over_time(late_total[2d])").await;
    assert_eq!(
        counted[0]["value"][1],
        (blocks * writes).to_string(),
        "every acknowledged sample is kept"
    );
}
