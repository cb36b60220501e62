use crate::helpers::{fresh_database, spawn_app, spawn_app_on};
use server::config::{ByteSize, SettingsInput};

async fn error_body(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404() {
    let app = spawn_app().await;
    let response = app.get("/api/no/such/thing").await;
    assert_eq!(response.status(), 404);
    let body = error_body(response).await;
    assert_eq!(body["error"]["kind"], "not_found");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/api/no/such/thing"));
    app.stop().await;
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let app = spawn_app().await;
    let response = app.client.delete(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        error_body(response).await["error"]["kind"],
        "method_not_allowed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_body_over_the_limit_gets_a_json_413_naming_the_limit() {
    let input = SettingsInput {
        body_limit: Some(ByteSize(4096)),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;

    let response = app
        .client
        .post(app.url("/api/portal/status"))
        .body(vec![b'x'; 10_000])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
    let body = error_body(response).await;
    assert_eq!(body["error"]["kind"], "too_large");
    assert!(body["error"]["message"].as_str().unwrap().contains("4096"));
    app.stop().await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_traceresponse() {
    let app = spawn_app().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id(&first).len(), 36, "a generated id is a UUID");
    assert_ne!(id(&first), id(&second));
    let trace = first.headers()["traceresponse"].to_str().unwrap();
    assert!(trace.starts_with("00-") && trace.len() == 55, "{trace}");
    app.stop().await;
}

#[tokio::test]
async fn a_callers_request_id_and_trace_are_continued() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "job-42")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "job-42");
    let trace = response.headers()["traceresponse"].to_str().unwrap();
    assert!(
        trace.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{trace}"
    );
    assert!(
        !trace.contains("00f067aa0ba902b7"),
        "the portal answers with a span of its own: {trace}"
    );
    app.stop().await;
}
