use crate::helpers::{fresh_database, spawn_app, spawn_app_on, TestApp};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use server::config::SettingsInput;
use std::io::Write;

fn now_nanos() -> String {
    chrono::Utc::now()
        .timestamp_nanos_opt()
        .unwrap()
        .to_string()
}

/// A request from planner/p-1 carrying `metrics` (OTLP/JSON metric objects).
fn export(metrics: serde_json::Value) -> ExportMetricsServiceRequest {
    serde_json::from_value(serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "planner"}},
            {"key": "service.instance.id", "value": {"stringValue": "p-1"}}]},
        "scopeMetrics": [{"metrics": metrics}]}]}))
    .unwrap()
}

fn counter(name: &str, agent: &str, value: i64) -> serde_json::Value {
    serde_json::json!({"name": name, "sum": {"isMonotonic": true, "aggregationTemporality": 2,
        "dataPoints": [{"timeUnixNano": now_nanos(), "asInt": value.to_string(),
            "attributes": [{"key": "agent.id", "value": {"stringValue": agent}}]}]}})
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn post(
    app: &TestApp,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/v1/metrics"))
        .header("content-type", content_type)
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn gzip_protobuf_metrics_are_stored_under_prometheus_names() {
    let app = spawn_app().await;
    let histogram = serde_json::json!({"name": "agent.task.duration", "unit": "s",
        "description": "How long tasks take",
        "histogram": {"aggregationTemporality": 2, "dataPoints": [{
            "timeUnixNano": now_nanos(), "count": "4", "sum": 6.0,
            "bucketCounts": ["1", "2", "1"], "explicitBounds": [1.0, 2.5],
            "attributes": [{"key": "agent.id", "value": {"stringValue": "a1"}}]}]}});
    let request = export(serde_json::json!([
        counter("agent.task.success", "a1", 5),
        histogram
    ]));

    let response = post(
        &app,
        "application/x-protobuf",
        Some("gzip"),
        gzip(&request.encode_to_vec()),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    let answer = ExportMetricsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    assert!(answer.partial_success.is_none(), "{answer:?}");

    let result = app.instant("agent_task_success_total").await;
    assert_eq!(result[0]["metric"]["job"], "planner");
    assert_eq!(result[0]["metric"]["instance"], "p-1");
    assert_eq!(result[0]["metric"]["agent_id"], "a1");
    assert_eq!(result[0]["value"][1], "5");
    let buckets = app
        .instant(r#"agent_task_duration_seconds_bucket{le="2.5"}"#)
        .await;
    assert_eq!(buckets[0]["value"][1], "3");
    let metadata: serde_json::Value = app
        .get("/api/v1/metadata?metric=agent_task_duration_seconds")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["data"]["agent_task_duration_seconds"][0]["type"],
        "histogram"
    );
    assert_eq!(
        metadata["data"]["agent_task_duration_seconds"][0]["help"],
        "How long tasks take"
    );
}

#[tokio::test]
async fn json_metrics_are_accepted_and_answered_in_json() {
    let app = spawn_app().await;
    let body = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "router"}}]},
        "scopeMetrics": [{"metrics": [{"name": "agent.queue.depth", "gauge": {"dataPoints": [
            {"timeUnixNano": now_nanos(), "asDouble": 12.0,
             "attributes": [{"key": "queue_name", "value": {"stringValue": "triage"}}]}]}}]}]}]});

    let response = post(
        &app,
        "application/json",
        None,
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer.get("partialSuccess").is_none_or(|p| p.is_null()),
        "{answer}"
    );
    let result = app.instant(r#"agent_queue_depth{job="router"}"#).await;
    assert_eq!(result[0]["metric"]["queue_name"], "triage");
    assert_eq!(result[0]["value"][1], "12");
}

#[tokio::test]
async fn malformed_requests_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    let unknown_type = post(&app, "text/plain", None, b"x".to_vec()).await;
    assert_eq!(unknown_type.status(), 415);
    let body: serde_json::Value = unknown_type.json().await.unwrap();
    assert_eq!(body["error"]["field"], "content-type");

    let garbage = post(&app, "application/x-protobuf", None, vec![0xff; 16]).await;
    assert_eq!(garbage.status(), 400);

    let not_gzip = post(
        &app,
        "application/x-protobuf",
        Some("gzip"),
        b"plain".to_vec(),
    )
    .await;
    assert_eq!(not_gzip.status(), 400);

    // One good point and one without a timestamp: the whole request is refused.
    let mut metric = counter("agent.task.success", "a1", 1);
    let points = metric["sum"]["dataPoints"].as_array_mut().unwrap();
    let mut bad = points[0].clone();
    bad["timeUnixNano"] = "0".into();
    points.push(bad);
    let response = post(
        &app,
        "application/x-protobuf",
        None,
        export(serde_json::json!([metric])).encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["field"],
        "resourceMetrics[0].scopeMetrics[0].metrics[0].dataPoints[1].timeUnixNano"
    );
    let stored = server::tsdb::batch::count_samples(&app.db).await.unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn series_over_the_limit_come_back_as_partial_success() {
    let input = SettingsInput {
        max_series_per_metric: Some(1),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    let request = export(serde_json::json!([
        counter("agent.task.success", "a1", 1),
        counter("agent.task.success", "a2", 1),
    ]));
    let response = post(
        &app,
        "application/x-protobuf",
        None,
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(response.status(), 200);
    let answer = ExportMetricsServiceResponse::decode(response.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_data_points, 1);
    assert!(
        partial.error_message.contains("agent_task_success_total"),
        "{}",
        partial.error_message
    );
    assert_eq!(app.instant("agent_task_success_total").await.len(), 1);
}
