use crate::helpers::spawn_one_app;

/// Returns the value of the sample whose name and labels are exactly `series`.
fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.rsplit_once(' ')
                .filter(|(s, _)| *s == series)
                .and_then(|(_, v)| v.parse().ok())
        })
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_one_app().await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    assert_eq!(app.get("/api/nothing-here").await.status(), 404);

    let exposition = app.get("/metrics").await.text().await.unwrap();

    assert_eq!(
        sample(
            &exposition,
            r#"portal_http_requests_total{method="GET",route="/healthz",status="200"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &exposition,
            r#"portal_http_requests_total{method="GET",route="/api/{*rest}",status="404"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &exposition,
            r#"portal_http_request_duration_seconds_count{method="GET",route="/healthz"}"#
        ),
        Some(3.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_describe_the_pool_and_the_process() {
    let app = spawn_one_app().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let exposition = response.text().await.unwrap();

    assert_eq!(
        sample(&exposition, "portal_db_pool_max_connections"),
        Some(16.0)
    );
    assert!(sample(&exposition, r#"portal_db_pool_connections{state="idle"}"#).is_some());
    assert!(sample(&exposition, "process_resident_memory_bytes").unwrap() > 1_000_000.0);
    assert!(sample(&exposition, "process_cpu_seconds_total").is_some());
    assert!(exposition.contains(&format!(
        "portal_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    app.stop().await;
}
