//! Two portals on one database, as replicas behind a load balancer: a sample one acknowledges
//! is read from the other, compaction on one empties both heads, a late sample after it is
//! seen by both, and a back-fill that would take the head past its limit waits for the
//! compactor with 503 and Retry-After.

use crate::helpers::{fresh_database, hold_compactor_lock, spawn_one_app_on, TestApp};
use server::{
    config::SettingsInput,
    ingest::IncomingSeries,
    labels::SeriesKey,
    tsdb::compactor::{run_once, CompactSettings},
};
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

fn series(name: &str, agent: &str, points: Vec<(i64, f64)>) -> IncomingSeries {
    IncomingSeries {
        key: SeriesKey::from_pairs([("__name__", name), ("agent_id", agent)]).unwrap(),
        samples: points,
    }
}

/// Remote-writes `series` to `app` and returns the answer, whatever it is.
async fn post_write(app: &TestApp, series: &[IncomingSeries]) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(server::ingest::remote_write::encode(series, &[]))
        .send()
        .await
        .unwrap()
}

fn every_15s(from: i64, to: i64) -> Vec<(i64, f64)> {
    (0..)
        .map(|i| (from + i * 15_000, i as f64))
        .take_while(|p| p.0 <= to)
        .collect()
}

/// A database whose compactor lock the test holds (so only the test compacts), and two
/// portals on it.
async fn two_replicas(input: impl Fn() -> SettingsInput) -> (TestApp, TestApp, sqlx::PgConnection) {
    let database = fresh_database().await;
    let lock = hold_compactor_lock(&database).await;
    let a = spawn_one_app_on(database.clone(), input()).await;
    let b = spawn_one_app_on(database, input()).await;
    (a, b, lock)
}

fn settings() -> CompactSettings {
    CompactSettings {
        retention: Duration::from_secs(30 * 86_400),
        grace: Duration::from_secs(600),
        interval: Duration::from_secs(60),
    }
}

fn values(result: &serde_json::Value) -> Vec<(f64, String)> {
    result[0]["values"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|p| (p[0].as_f64().unwrap(), p[1].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_sample_one_replica_acknowledges_is_read_from_the_other() {
    let (a, b, _lock) = two_replicas(SettingsInput::default).await;
    let now = chrono::Utc::now().timestamp_millis() / 1000 * 1000;
    // Each write is read at once from the other replica: a query brings its head up to date.
    for (i, (writer, reader)) in [(&a, &b), (&b, &a), (&a, &b)].into_iter().enumerate() {
        let value = 10.0 + i as f64;
        writer
            .remote_write(
                &[series(
                    "queue_depth",
                    "a1",
                    vec![(now - 3000 + i as i64 * 1000, value)],
                )],
                &[],
            )
            .await;
        let got = reader.instant("queue_depth").await;
        assert_eq!(got[0]["value"][1], value.to_string(), "write {i}: {got:?}");
    }
    // Without a query, each replica's head takes the other's writes within a second.
    a.remote_write(
        &[series(
            "tasks_total",
            "a2",
            every_15s(now - 30 * MINUTE, now),
        )],
        &[],
    )
    .await;
    let started = Instant::now();
    while b.storage.head().len() != a.storage.head().len() {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "b holds {} samples, a {}",
            b.storage.head().len(),
            a.storage.head().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        a.range("tasks_total", now - 30 * MINUTE, now, "1m").await,
        b.range("tasks_total", now - 30 * MINUTE, now, "1m").await
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn compaction_on_one_replica_empties_both_heads_and_a_late_sample_is_read_by_both() {
    let (a, b, _lock) = two_replicas(SettingsInput::default).await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    // Two blocks ago: old enough to compact.
    let old = server::tsdb::block_start(now) - 2 * server::tsdb::BLOCK_MS;
    a.remote_write(
        &[series(
            "tasks_total",
            "a1",
            every_15s(old, old + 30 * MINUTE),
        )],
        &[],
    )
    .await;
    b.remote_write(
        &[series(
            "tasks_total",
            "a1",
            every_15s(now - 5 * MINUTE, now),
        )],
        &[],
    )
    .await;
    let window = (old, now);
    let before = values(&a.range("tasks_total", window.0, window.1, "1m").await);
    assert_eq!(
        before,
        values(&b.range("tasks_total", window.0, window.1, "1m").await)
    );
    assert_eq!(a.storage.head().len(), 121 + 21);
    assert_eq!(b.storage.head().len(), 121 + 21);

    let report = run_once(&a.app_pool, Some(&a.storage), now, &settings())
        .await
        .unwrap();
    assert_eq!(report.samples_compacted, 121, "{report:?}");
    assert_eq!(a.storage.head().len(), 21);
    // The other replica forgets the compacted block at its next look.
    b.storage.sync().await.unwrap();
    assert_eq!(b.storage.head().len(), 21);
    assert_eq!(
        values(&b.range("tasks_total", window.0, window.1, "1m").await),
        before
    );

    // A late sample for the compacted block, through the replica that did not compact: both
    // read it with the compacted ones.
    b.remote_write(
        &[series(
            "tasks_total",
            "a1",
            vec![(old + 30 * MINUTE + 30_000, 500.0)],
        )],
        &[],
    )
    .await;
    let at = (old + 60 * MINUTE) / 1000;
    for app in [&a, &b] {
        let count = app
            .instant(&format!("count_over_time(tasks_total[1h] @ {at})"))
            .await;
        assert_eq!(count[0]["value"][1], "122", "{count:?}");
        let last = app
            .instant(&format!("last_over_time(tasks_total[1h] @ {at})"))
            .await;
        assert_eq!(last[0]["value"][1], "500", "{last:?}");
    }
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_back_fill_past_the_head_limit_waits_for_the_compactor_and_live_writes_do_not() {
    let input = || SettingsInput {
        head_max_samples: Some(1000),
        ..Default::default()
    };
    let (a, b, _lock) = two_replicas(input).await;
    let now = chrono::Utc::now().timestamp_millis() / MINUTE * MINUTE;
    let old = server::tsdb::block_start(now) - 3 * server::tsdb::BLOCK_MS;
    // Live samples past the limit on their own (the last nine minutes: never a block old
    // enough to compact) do not count against a back-fill…
    let live: Vec<IncomingSeries> = (0..30)
        .map(|i| series("live", &format!("l{i}"), every_15s(now - 9 * MINUTE, now)))
        .collect();
    let live_samples: usize = live.iter().map(|s| s.samples.len()).sum();
    assert!(live_samples > 1000);
    a.remote_write(&live, &[]).await;
    // …so a back-fill is taken, even when it takes the old blocks' samples past the limit…
    let back_fill = |agent| series("old", agent, every_15s(old, old + 115 * MINUTE));
    a.remote_write(&[back_fill("a1"), back_fill("a3"), back_fill("a4")], &[])
        .await;
    assert!(a.storage.head().len_before(now - 10 * MINUTE) > 1000);
    // …and past it the next one is refused, on either replica, and stores nothing.
    b.storage.sync().await.unwrap();
    for app in [&a, &b] {
        let response = post_write(app, &[series("old", "a2", every_15s(old, old + MINUTE))]).await;
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "10");
        let text = response.text().await.unwrap();
        assert!(text.contains("uncompacted samples"), "{text}");
    }
    assert!(a.instant("old{agent_id=\"a2\"}").await.is_empty());
    let shed = a.get("/metrics").await.text().await.unwrap();
    assert!(
        shed.contains("portal_ingest_requests_shed_total{reason=\"head_full\"} 1"),
        "{shed}"
    );
    // Live samples are never refused by the limit.
    a.remote_write(&[series("live", "a1", vec![(now + 1000, 1.0)])], &[])
        .await;
    // Once the compactor has compacted the old block the back-fill goes on.
    run_once(&a.app_pool, Some(&a.storage), now, &settings())
        .await
        .unwrap();
    assert_eq!(a.storage.head().len(), live_samples + 1);
    a.remote_write(&[series("old", "a2", every_15s(old, old + MINUTE))], &[])
        .await;
    assert_eq!(
        b.instant(&format!(
            "count_over_time(old{{agent_id=\"a2\"}}[2m] @ {})",
            (old + MINUTE) / 1000
        ))
        .await[0]["value"][1],
        "5"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn replicas_keep_to_one_series_limit_between_them() {
    let input = || SettingsInput {
        max_series_per_metric: Some(3),
        ..Default::default()
    };
    let (a, b, _lock) = two_replicas(input).await;
    let now = chrono::Utc::now().timestamp_millis();
    let agents = |names: &[&str]| -> Vec<IncomingSeries> {
        names
            .iter()
            .map(|n| series("agent_memory_bytes", n, vec![(now, 1.0)]))
            .collect()
    };
    a.remote_write(&agents(&["a1", "a2"]), &[]).await;
    // Two more through the other replica: one fits, one is refused (400 says how many).
    let response = post_write(&b, &agents(&["a3", "a4"])).await;
    assert_eq!(response.status(), 400);
    // And the first replica refuses the next new one too.
    let response = post_write(&a, &agents(&["a5"])).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        a.instant("count(agent_memory_bytes)").await[0]["value"][1],
        "3"
    );
    a.stop().await;
    b.stop().await;
}
