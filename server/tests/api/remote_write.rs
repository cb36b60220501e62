use crate::helpers::{fresh_database, spawn_app, spawn_one_app_on, TestApp};
use server::{
    config::SettingsInput,
    ingest::{
        remote_write::{encode, MetadataEntry},
        IncomingSeries,
    },
    labels::SeriesKey,
};

fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> IncomingSeries {
    IncomingSeries {
        key: SeriesKey::from_pairs(pairs.iter().copied()).unwrap(),
        samples: samples.to_vec(),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn post_write(app: &TestApp, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn stored_samples(app: &TestApp) -> i64 {
    server::tsdb::batch::count_samples(&app.db).await.unwrap() as i64
}

#[tokio::test]
async fn remote_write_stores_series_and_samples_and_answers_204() {
    let app = spawn_app().await;
    let t = now_ms();
    let body = encode(
        &[
            series(
                &[("__name__", "agent_task_success_total"), ("agent_id", "a1")],
                &[(t - 30_000, 1.0), (t - 15_000, 2.0), (t, 3.0)],
            ),
            series(
                &[("__name__", "agent_queue_depth"), ("queue_name", "triage")],
                &[(t, 7.0)],
            ),
        ],
        &[],
    );

    let response = post_write(&app, body).await;

    assert_eq!(response.status(), 204);
    assert_eq!(stored_samples(&app).await, 4);
    let (id, labels): (i64, serde_json::Value) = sqlx::query_as(
        "select series_id, labels from metric_series where metric_name = 'agent_task_success_total'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let stored = server::tsdb::batch::select_all(&app.db).await.unwrap();
    let values: Vec<f64> = stored
        .iter()
        .filter(|(series, _)| *series == id)
        .flat_map(|(_, samples)| samples.iter().map(|s| s.1))
        .collect();
    assert_eq!(labels, serde_json::json!({"agent_id": "a1"}));
    assert_eq!(values, vec![1.0, 2.0, 3.0]);
    app.stop().await;
}

#[tokio::test]
async fn writing_the_same_series_again_reuses_its_dictionary_entry() {
    let app = spawn_app().await;
    let labels = [("__name__", "up"), ("job", "agents")];
    for offset in [2_000, 1_000] {
        let response = post_write(
            &app,
            encode(&[series(&labels, &[(now_ms() - offset, 1.0)])], &[]),
        )
        .await;
        assert_eq!(response.status(), 204);
    }
    let series_rows: i64 = sqlx::query_scalar("select count(*) from metric_series")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(series_rows, 1);
    assert_eq!(stored_samples(&app).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_series_gets_400_naming_it_and_nothing_is_stored() {
    let app = spawn_app().await;
    let good = series(&[("__name__", "up")], &[(now_ms(), 1.0)]);
    let mut bad = series(&[("__name__", "up")], &[(now_ms(), 1.0)]);
    bad.key.labels.push(("bad-name".into(), "x".into()));

    let response = post_write(&app, encode(&[good, bad], &[])).await;

    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "timeseries[1].labels");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("bad-name"));
    assert_eq!(stored_samples(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn bodies_that_are_not_snappy_protobuf_are_refused() {
    let app = spawn_app().await;
    let response = post_write(&app, b"not a write request".to_vec()).await;
    assert_eq!(response.status(), 400);
    let response = app
        .client
        .post(app.url("/api/v1/write"))
        .header("content-encoding", "gzip")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "content-encoding");
    app.stop().await;
}

#[tokio::test]
async fn new_series_beyond_the_per_metric_limit_are_refused_counted_and_the_rest_stored() {
    let input = SettingsInput {
        max_series_per_metric: Some(2),
        ..Default::default()
    };
    let app = spawn_one_app_on(fresh_database().await, input).await;
    let t = now_ms();
    let agents: Vec<IncomingSeries> = ["a1", "a2", "a3"]
        .iter()
        .map(|a| {
            series(
                &[("__name__", "agent_memory_bytes"), ("agent_id", a)],
                &[(t, 1e6)],
            )
        })
        .collect();
    let mut batch = agents;
    batch.push(series(&[("__name__", "agent_queue_depth")], &[(t, 1.0)]));

    let response = post_write(&app, encode(&batch, &[])).await;

    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "limit");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("agent_memory_bytes (1 new series)"),
        "{message}"
    );
    assert_eq!(
        stored_samples(&app).await,
        3,
        "the series within the limit are stored"
    );
    // Known series keep flowing once a metric is at its limit.
    let again = post_write(
        &app,
        encode(
            &[series(
                &[("__name__", "agent_memory_bytes"), ("agent_id", "a1")],
                &[(t + 1, 2e6)],
            )],
            &[],
        ),
    )
    .await;
    assert_eq!(again.status(), 204);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("portal_ingest_series_refused_total{protocol=\"remote_write\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("portal_ingest_samples_total{protocol=\"remote_write\"} 4"));
    app.stop().await;
}

#[tokio::test]
async fn samples_outside_the_accepted_window_are_refused() {
    let app = spawn_app().await;
    let t = now_ms();
    let body = encode(
        &[series(
            &[("__name__", "up")],
            &[(t - 40 * 86_400_000, 1.0), (t, 1.0), (t + 3_600_000, 1.0)],
        )],
        &[],
    );

    let response = post_write(&app, body).await;

    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2 samples were outside the accepted window"));
    assert_eq!(stored_samples(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn metadata_only_requests_are_accepted_and_remembered() {
    let app = spawn_app().await;
    let metadata = [MetadataEntry {
        metric: "agent_task_duration_seconds".into(),
        kind: "histogram",
        help: "Time an agent spends on one task".into(),
        unit: "seconds".into(),
    }];

    let response = post_write(&app, encode(&[], &metadata)).await;

    assert_eq!(response.status(), 204);
    let (kind, help): (String, String) =
        sqlx::query_as("select metric_type, help from metric_metadata where metric_name = 'agent_task_duration_seconds'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (kind.as_str(), help.as_str()),
        ("histogram", "Time an agent spends on one task")
    );
    app.stop().await;
}
