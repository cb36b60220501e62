use crate::helpers::{spawn_app, TestApp};
use server::{ingest::IncomingSeries, labels::SeriesKey};

/// Writes `agent_task_success_total` for two agents: a1 counts 1/s, a2 counts 2/s, every 15s
/// over the last 10 minutes; returns the time of the last sample (whole seconds).
async fn seed_counters(app: &TestApp) -> i64 {
    let now = chrono::Utc::now().timestamp() / 15 * 15;
    let batch: Vec<IncomingSeries> = [("a1", 1.0), ("a2", 2.0)]
        .iter()
        .map(|(agent, per_second)| IncomingSeries {
            key: SeriesKey::from_pairs([
                ("__name__", "agent_task_success_total"),
                ("agent_id", *agent),
                ("job", "agents"),
            ])
            .unwrap(),
            samples: (0..=40)
                .map(|i| ((now - 600 + i * 15) * 1000, (i * 15) as f64 * per_second))
                .collect(),
        })
        .collect();
    app.remote_write(&batch, &[]).await;
    now
}

async fn query(app: &TestApp, path_and_query: &str) -> serde_json::Value {
    let response = app.get(path_and_query).await;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{path_and_query}: {body}");
    body["data"].clone()
}

#[tokio::test]
async fn an_instant_query_computes_rates_per_agent_from_stored_samples() {
    let app = spawn_app().await;
    let now = seed_counters(&app).await;

    let data = query(&app, &format!("/api/v1/query?query=sum%20by%20(agent_id)%20(rate(agent_task_success_total%5B5m%5D))&time={now}")).await;

    assert_eq!(data["resultType"], "vector");
    let mut result: Vec<(String, f64, f64)> = data["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["agent_id"].as_str().unwrap().to_string(),
                s["value"][0].as_f64().unwrap(),
                s["value"][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    result.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(result.len(), 2);
    assert_eq!(result[0].0, "a1");
    assert_eq!(result[0].1, now as f64);
    assert!((result[0].2 - 1.0).abs() < 1e-9, "{result:?}");
    assert!((result[1].2 - 2.0).abs() < 1e-9, "{result:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_range_query_returns_a_matrix_with_one_point_per_step() {
    let app = spawn_app().await;
    let now = seed_counters(&app).await;
    let start = now - 300;

    let data = query(
        &app,
        &format!("/api/v1/query_range?query=agent_task_success_total%7Bagent_id%3D%22a2%22%7D&start={start}&end={now}&step=60s"),
    )
    .await;

    assert_eq!(data["resultType"], "matrix");
    let series = data["result"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["metric"]["__name__"], "agent_task_success_total");
    let values = series[0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 6);
    assert_eq!(values[0], serde_json::json!([start as f64, "600"]));
    assert_eq!(values[5], serde_json::json!([now as f64, "1200"]));
    app.stop().await;
}

#[tokio::test]
async fn scalar_results_and_bad_queries_have_prometheus_shapes() {
    let app = spawn_app().await;
    let data = query(&app, "/api/v1/query?query=1%2B1&time=100").await;
    assert_eq!(
        data,
        serde_json::json!({"resultType": "scalar", "result": [100.0, "2"]})
    );

    for (path, needle) in [
        ("/api/v1/query", "no query parameter"),
        ("/api/v1/query?query=sum(", "query"),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            "end timestamp must not be before start",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=100000&step=1",
            "11,000 points",
        ),
        (
            "/api/v1/query_range?query=up&start=0&end=10&step=0",
            "zero or negative",
        ),
        (
            "/api/v1/query_range?query=up%5B5m%5D&start=0&end=10&step=1",
            "must be Scalar or instant Vector",
        ),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["errorType"], "bad_data", "{path}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    app.stop().await;
}
