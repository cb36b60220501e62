use crate::helpers::spawn_app;

#[tokio::test]
async fn the_start_page_is_server_rendered_with_the_navigation_and_the_hydration_script() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = response.text().await.unwrap();
    for link in [
        "/dashboards",
        "/explore/metrics",
        "/explore/logs",
        "/explore/traces",
        "/alerting/rules",
        "/alerting/alerts",
        "/alerting/silences",
        "/settings",
    ] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "navigation lacks {link}"
        );
    }
    assert!(
        html.contains("/pkg/portal.js"),
        "the page loads the hydration script"
    );
    assert!(html.contains("/pkg/portal.css"));
    app.stop().await;
}

#[tokio::test]
async fn a_page_keeps_the_url_time_range_in_its_links_and_picker() {
    let app = spawn_app().await;
    let html = app
        .get("/explore/metrics?from=now-6h&to=now&refresh=30s")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("href=\"/dashboards?from=now-6h&amp;to=now&amp;refresh=30s\""),
        "links keep the range"
    );
    assert!(html.contains("Last 6 hours"), "the picker names the range");
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_answer_404_with_the_not_found_page() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.unwrap();
    assert!(html.contains("Page not found"));
    assert!(html.contains("/no/such/page"));
    app.stop().await;
}

#[tokio::test]
async fn pages_are_compressed_for_clients_that_accept_it() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/settings"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    app.stop().await;
}
