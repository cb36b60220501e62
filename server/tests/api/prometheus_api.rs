use crate::helpers::{spawn_app, TestApp};
use server::{
    ingest::{remote_write::MetadataEntry, IncomingSeries},
    labels::SeriesKey,
};

fn series(pairs: &[(&str, &str)]) -> IncomingSeries {
    let now = chrono::Utc::now().timestamp_millis();
    IncomingSeries {
        key: SeriesKey::from_pairs(pairs.iter().copied()).unwrap(),
        samples: vec![(now, 1.0)],
    }
}

/// Writes a small fleet of agents through remote write.
async fn seed(app: &TestApp) {
    let batch = vec![
        series(&[
            ("__name__", "agent_task_success_total"),
            ("agent_id", "a1"),
            ("job", "agents"),
        ]),
        series(&[
            ("__name__", "agent_task_success_total"),
            ("agent_id", "a2"),
            ("job", "agents"),
        ]),
        series(&[
            ("__name__", "agent_task_failure_total"),
            ("agent_id", "a1"),
            ("error_type", "timeout"),
            ("job", "agents"),
        ]),
        series(&[
            ("__name__", "agent_queue_depth"),
            ("queue_name", "triage"),
            ("job", "queues"),
        ]),
    ];
    let metadata = [MetadataEntry {
        metric: "agent_queue_depth".into(),
        kind: "gauge",
        help: "Tasks waiting".into(),
        unit: String::new(),
    }];
    app.remote_write(&batch, &metadata).await;
}

async fn data(app: &TestApp, path: &str) -> serde_json::Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "success");
    body["data"].clone()
}

#[tokio::test]
async fn series_are_found_by_selectors_with_every_matcher_kind() {
    let app = spawn_app().await;
    seed(&app).await;

    let found = data(&app, "/api/v1/series?match[]=agent_task_success_total").await;
    assert_eq!(found.as_array().unwrap().len(), 2);
    assert_eq!(
        found[0],
        serde_json::json!({"__name__": "agent_task_success_total", "agent_id": "a1", "job": "agents"})
    );

    let regex = data(
        &app,
        "/api/v1/series?match[]=%7B__name__%3D~%22agent_task_.*%22%2Cagent_id!%3D%22a2%22%7D",
    )
    .await;
    let names: Vec<&str> = regex
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["__name__"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["agent_task_success_total", "agent_task_failure_total"]
    );

    let two = data(
        &app,
        "/api/v1/series?match[]=agent_queue_depth&match[]=agent_task_failure_total",
    )
    .await;
    assert_eq!(two.as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn series_searches_by_form_post_like_grafana_does() {
    let app = spawn_app().await;
    seed(&app).await;
    let response = app
        .client
        .post(app.url("/api/v1/series"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("match[]=%7Bjob%3D%22queues%22%7D")
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"][0]["queue_name"], "triage");
    app.stop().await;
}

#[tokio::test]
async fn a_series_search_outside_the_days_with_samples_finds_nothing() {
    let app = spawn_app().await;
    seed(&app).await;
    let found = data(
        &app,
        "/api/v1/series?match[]=agent_queue_depth&start=1000000000&end=1000003600",
    )
    .await;
    assert_eq!(found, serde_json::json!([]));
    app.stop().await;
}

#[tokio::test]
async fn label_names_and_values_are_listed() {
    let app = spawn_app().await;
    seed(&app).await;

    assert_eq!(
        data(&app, "/api/v1/labels").await,
        serde_json::json!(["__name__", "agent_id", "error_type", "job", "queue_name"])
    );
    assert_eq!(
        data(&app, "/api/v1/labels?match[]=agent_queue_depth").await,
        serde_json::json!(["__name__", "job", "queue_name"])
    );
    assert_eq!(
        data(&app, "/api/v1/label/__name__/values").await,
        serde_json::json!([
            "agent_queue_depth",
            "agent_task_failure_total",
            "agent_task_success_total"
        ])
    );
    assert_eq!(
        data(&app, "/api/v1/label/agent_id/values").await,
        serde_json::json!(["a1", "a2"])
    );
    assert_eq!(
        data(
            &app,
            "/api/v1/label/agent_id/values?match[]=agent_task_failure_total"
        )
        .await,
        serde_json::json!(["a1"])
    );
    app.stop().await;
}

#[tokio::test]
async fn metadata_and_build_info_have_prometheus_shapes() {
    let app = spawn_app().await;
    seed(&app).await;
    assert_eq!(
        data(&app, "/api/v1/metadata").await,
        serde_json::json!({"agent_queue_depth": [{"type": "gauge", "help": "Tasks waiting", "unit": ""}]})
    );
    assert_eq!(
        data(&app, "/api/v1/status/buildinfo").await["version"],
        env!("CARGO_PKG_VERSION")
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_parameters_get_prometheus_errors() {
    let app = spawn_app().await;
    for (path, needle) in [
        ("/api/v1/series", "no match[] parameter provided"),
        ("/api/v1/series?match[]=sum(up)", "not a series selector"),
        (
            "/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D",
            "non-empty matcher",
        ),
        (
            "/api/v1/series?match[]=up&start=yesterday",
            "start: cannot parse",
        ),
        ("/api/v1/label/bad-name/values", "invalid label name"),
        ("/api/v1/metadata?limit=many", "limit"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "error", "{path}");
        assert_eq!(body["errorType"], "bad_data", "{path}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
    }
    app.stop().await;
}
