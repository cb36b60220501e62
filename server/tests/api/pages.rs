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
        "/explore/errors",
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

#[tokio::test]
async fn the_current_versions_files_are_served_as_stored_and_cached_for_good() {
    let site = tempfile::tempdir().unwrap();
    let version = site.path().join("pkg/0123abcd");
    std::fs::create_dir_all(&version).unwrap();
    let css = ".panel { color: red }\n";
    std::fs::write(version.join("portal.css"), css).unwrap();
    // What the build stored is what goes on the wire: the server compresses nothing itself.
    std::fs::write(version.join("portal.css.br"), b"stored brotli").unwrap();
    std::fs::write(version.join("portal.css.gz"), b"stored gzip").unwrap();
    std::fs::write(site.path().join("site.json"), r#"{"pkg": "pkg/0123abcd"}"#).unwrap();
    let input = server::config::SettingsInput {
        site_root: Some(site.path().to_path_buf()),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_on(crate::helpers::fresh_database().await, input).await;

    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("/pkg/0123abcd/portal.js"), "{html}");
    assert!(html.contains("/pkg/0123abcd/portal.css"), "{html}");

    let url = app.url("/pkg/0123abcd/portal.css");
    // No automatic decompression: the test sees the bytes on the wire.
    let client = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let get = |accept: &'static str| client.get(&url).header("accept-encoding", accept).send();
    let brotli = get("gzip, deflate, br").await.unwrap();
    assert_eq!(brotli.status(), 200);
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(brotli.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        brotli.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(brotli.headers()["vary"], "accept-encoding");
    let etag = brotli.headers()["etag"].clone();
    assert_eq!(brotli.bytes().await.unwrap().as_ref(), b"stored brotli");

    let gzip = get("gzip").await.unwrap();
    assert_eq!(gzip.headers()["content-encoding"], "gzip");
    assert_eq!(gzip.bytes().await.unwrap().as_ref(), b"stored gzip");

    let identity = get("identity").await.unwrap();
    assert!(identity.headers().get("content-encoding").is_none());
    assert_eq!(identity.text().await.unwrap(), css);

    let revalidated = client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);

    for hostile in [
        "/pkg/0123abcd/portal.css.br",
        "/pkg/portal.css",
        "/pkg/0123abcd",
    ] {
        assert_eq!(app.get(hostile).await.status(), 404, "{hostile}");
    }
    app.stop().await;
}

#[tokio::test]
async fn unversioned_ui_files_are_revalidated_and_a_rebuilt_one_is_served_without_a_restart() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    let css: String = (0..2000)
        .map(|i| format!(".panel-{i} {{ color: red }}\n"))
        .collect();
    std::fs::write(site.path().join("pkg/portal.css"), &css).unwrap();
    let input = server::config::SettingsInput {
        site_root: Some(site.path().to_path_buf()),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_on(crate::helpers::fresh_database().await, input).await;
    let url = format!("{}/pkg/portal.css", app.address);
    let client = reqwest::Client::new();
    let first = client.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-cache");
    let etag = first.headers()["etag"].clone();
    assert_eq!(first.text().await.unwrap(), css);

    let revalidate = || {
        client
            .get(&url)
            .header("if-none-match", etag.clone())
            .send()
    };
    assert_eq!(revalidate().await.unwrap().status(), 304);

    std::fs::write(site.path().join("pkg/portal.css"), "body { margin: 0 }\n").unwrap();
    let rebuilt = revalidate().await.unwrap();
    assert_eq!(rebuilt.status(), 200);
    assert_ne!(rebuilt.headers()["etag"], etag);
    assert_eq!(rebuilt.text().await.unwrap(), "body { margin: 0 }\n");

    assert_eq!(app.get("/pkg/../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/pkg/missing.wasm").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn link_previews_use_the_external_url_and_never_a_forged_host() {
    let input = server::config::SettingsInput {
        external_url: Some("https://portal.example.com/".into()),
        ..Default::default()
    };
    let app = crate::helpers::spawn_app_on(crate::helpers::fresh_database().await, input).await;

    let html = app
        .client
        .get(app.url("/d/agent-overview?from=now-1h&to=now"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(
        !html.contains("evil.example"),
        "the forged host is in the page"
    );
    assert!(
        html.contains("<meta property=\"og:image\" content=\"https://portal.example.com/api/dashboards/agent-overview/panels/preview.png?"),
        "the preview image is under the external URL"
    );
    let other = app.get("/dashboards").await.text().await.unwrap();
    assert!(
        !other.contains("og:image"),
        "only dashboard pages carry previews"
    );
    app.stop().await;
}
