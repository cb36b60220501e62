use crate::helpers::{fresh_database, spawn_app, spawn_app_on, TestApp};
use serde_json::{json, Value};
use server::{config::SettingsInput, ingest::IncomingSeries, labels::SeriesKey};

/// `agent_task_success_total` for agents a1 (1/s) and a2 (2/s) of job "agents" over the last
/// ten minutes.
async fn seed(app: &TestApp) {
    let now = chrono::Utc::now().timestamp() / 15 * 15;
    let batch: Vec<IncomingSeries> = [
        ("a1", 1.0, "agents"),
        ("a2", 2.0, "agents"),
        ("b1", 5.0, "other"),
    ]
    .iter()
    .map(|(agent, per_second, job)| IncomingSeries {
        key: SeriesKey::from_pairs([
            ("__name__", "agent_task_success_total"),
            ("agent_id", *agent),
            ("job", *job),
        ])
        .unwrap(),
        samples: (0..=40)
            .map(|i| ((now - 600 + i * 15) * 1000, (i * 15) as f64 * per_second))
            .collect(),
    })
    .collect();
    app.remote_write(&batch, &[]).await;
}

fn dashboard(title: &str) -> Value {
    json!({
        "title": title,
        "tags": ["team-a", "agents"],
        "folder": "Ops",
        "time": {"from": "now-15m", "to": "now"},
        "variables": [
            {"name": "job", "type": "query", "query": "label_values(agent_task_success_total, job)", "current": ["agents"]},
            {"name": "agent", "type": "query", "query": "label_values(agent_task_success_total{job=\"$job\"}, agent_id)", "multi": true, "include_all": true}
        ],
        "panels": [
            {"id": 1, "type": "timeseries", "title": "Rate", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
             "targets": [{"expr": "sum by (agent_id) (rate(agent_task_success_total{job=\"$job\", agent_id=~\"$agent\"}[$__rate_interval]))", "legend": "{{agent_id}}"}]},
            {"id": 2, "type": "stat", "title": "Total", "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
             "targets": [{"expr": "sum(rate(agent_task_success_total{agent_id=~\"$agent\"}[1m]))"}],
             "options": {"unit": "reqps"}}
        ]
    })
}

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = app.client.request(method, app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn create(app: &TestApp, title: &str) -> String {
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/dashboards",
        Some(json!({"dashboard": dashboard(title)})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["dashboard"]["uid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn built_in_dashboards_are_there_and_home_is_set() {
    let app = spawn_app().await;
    let (status, list) = send(&app, reqwest::Method::GET, "/api/dashboards", None).await;
    assert_eq!(status, 200);
    let uids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    assert_eq!(uids, vec!["agent-overview", "portal-self"]);
    assert_eq!(list[0]["home"], true);
    let (_, home) = send(&app, reqwest::Method::GET, "/api/preferences/home", None).await;
    assert_eq!(home["uid"], "agent-overview");
    // A deleted built-in stays deleted across restarts of the same database.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/api/dashboards/portal-self",
        None,
    )
    .await;
    assert_eq!(status, 204);
    app.stop().await;
}

#[tokio::test]
async fn dashboards_keep_versions_and_refuse_stale_saves() {
    let app = spawn_app().await;
    let uid = create(&app, "Fleet").await;

    // Bad input names the field and stores nothing.
    let mut bad = dashboard("Broken");
    bad["panels"][0]["gridPos"]["w"] = json!(30);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/dashboards",
        Some(json!({"dashboard": bad})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "dashboard.panels[0].gridPos.w");
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/dashboards",
        Some(json!({"dashboard": {"panels": []}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("title"),
        "{body}"
    );
    let (_, list) = send(
        &app,
        reqwest::Method::GET,
        "/api/dashboards?folder=Ops",
        None,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let mut edited = dashboard("Fleet v2");
    edited["uid"] = json!(uid);
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/dashboards/{uid}"),
        Some(json!({"dashboard": edited, "version": 1, "message": "rename"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["version"], 2);
    assert_eq!(
        body["updated_by"], "token:tests",
        "the author is who the request acts as"
    );

    // Someone still on version 1 cannot overwrite version 2 unknowingly.
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/dashboards/{uid}"),
        Some(json!({"dashboard": dashboard("Mine"), "version": 1})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 2"),
        "{body}"
    );

    let (_, versions) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}/versions"),
        None,
    )
    .await;
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);
    assert_eq!(versions[0]["message"], "rename");
    assert_eq!(versions[0]["created_by"], "token:tests");

    let (_, changes) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}/diff?from=1&to=2"),
        None,
    )
    .await;
    assert_eq!(
        changes,
        json!([{"path": "title", "before": "Fleet", "after": "Fleet v2"}])
    );

    let (status, restored) = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/dashboards/{uid}/versions/1/restore"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(restored["version"], 3);
    assert_eq!(restored["dashboard"]["title"], "Fleet");

    // Search, tags, stars.
    let (_, found) = send(
        &app,
        reqwest::Method::GET,
        "/api/dashboards?query=fle&tag=team-a",
        None,
    )
    .await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, none) = send(
        &app,
        reqwest::Method::GET,
        "/api/dashboards?query=fle&tag=nope",
        None,
    )
    .await;
    assert!(none.as_array().unwrap().is_empty());
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/dashboards/{uid}/star"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, starred) = send(
        &app,
        reqwest::Method::GET,
        "/api/dashboards?starred=true",
        None,
    )
    .await;
    assert_eq!(starred.as_array().unwrap().len(), 1);
    assert_eq!(starred[0]["uid"], uid.as_str());

    // Export, then import under another uid.
    let (status, exported) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}/export"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let mut copy = exported.clone();
    copy["uid"] = json!("fleet-copy");
    let (status, report) = send(
        &app,
        reqwest::Method::POST,
        "/api/dashboards/import",
        Some(copy),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["uid"], "fleet-copy");
    assert_eq!(report["panels_imported"], 2);

    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/dashboards/{uid}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn grafana_dashboards_import_with_a_report() {
    let app = spawn_app().await;
    let grafana = json!({"dashboard": {
    "uid": "graf", "title": "From Grafana", "schemaVersion": 39,
    "templating": {"list": [{"name": "job", "type": "query", "query": "label_values(up, job)"}]},
    "panels": [
        {"id": 1, "type": "timeseries", "title": "Up", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
         "targets": [{"expr": "up{job=\"$job\"}", "legendFormat": "{{instance}}"}]},
        {"id": 2, "type": "nodeGraph", "title": "Calls", "gridPos": {"x": 0, "y": 8, "w": 24, "h": 8}},
        {"id": 3, "type": "logs", "title": "Logs", "gridPos": {"x": 0, "y": 16, "w": 24, "h": 8},
         "targets": [{"expr": "{app=\"api\"} |= \"timeout\""}]}
    ]}});
    let (status, report) = send(
        &app,
        reqwest::Method::POST,
        "/api/dashboards/import?folder=Imported",
        Some(grafana),
    )
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["uid"], "graf");
    assert_eq!(report["panels_imported"], 2);
    let skipped: Vec<&str> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(
        skipped.iter().any(|s| s.contains("\"nodeGraph\"")),
        "{report}"
    );
    assert!(
        skipped
            .iter()
            .any(|s| s.contains("LogQL") && s.contains("timeout")),
        "the logs panel's query is named as not carried over: {report}"
    );
    let (_, stored) = send(&app, reqwest::Method::GET, "/api/dashboards/graf", None).await;
    assert_eq!(stored["dashboard"]["folder"], "Imported");
    assert_eq!(
        stored["dashboard"]["panels"][0]["targets"][0]["legend"],
        "{{instance}}"
    );
    assert_eq!(stored["dashboard"]["panels"][1]["type"], "logs");
    app.stop().await;
}

#[tokio::test]
async fn variables_chain_and_panels_render_as_images() {
    let app = spawn_app().await;
    seed(&app).await;
    let uid = create(&app, "Images").await;
    let (status, options) = send(&app, reqwest::Method::POST, "/api/variables/options", Some(json!({
        "variable": {"name": "agent", "type": "query", "query": "label_values(agent_task_success_total{job=\"$job\"}, agent_id)"},
        "values": {"job": ["other"]}
    }))).await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options["values"], json!(["b1"]));
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/variables/options",
        Some(json!({
            "variable": {"name": "agent", "type": "query", "query": "nonsense(x)"}
        })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "variable.query");

    let response = app
        .get(&format!(
            "/api/dashboards/{uid}/panels/1.png?from=now-10m&to=now&width=640&height=240"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 640);
    assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), 240);

    // The SVG shows the selected agents' series by their legend names.
    let svg = app
        .get(&format!(
            "/api/dashboards/{uid}/panels/1.svg?from=now-10m&var-job=agents&var-agent=a2"
        ))
        .await
        .text()
        .await
        .unwrap()
        .replace('\n', "");
    assert!(svg.contains(">a2<"), "{svg}");
    assert!(!svg.contains(">a1<"), "{svg}");
    let svg = app
        .get(&format!(
            "/api/dashboards/{uid}/panels/2.svg?from=now-10m&var-agent=$__all"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(svg.contains("req/s"), "{svg}");

    let response = app
        .get(&format!("/api/dashboards/{uid}/panels/1.png?width=5"))
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "width");
    assert_eq!(
        app.get(&format!("/api/dashboards/{uid}/panels/9.png"))
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn short_links_redirect_to_the_same_view() {
    let app = spawn_app().await;
    let path = "/d/agent-overview?from=now-1h&to=now&var-agent=a1";
    let (status, link) = send(
        &app,
        reqwest::Method::POST,
        "/api/short-links",
        Some(json!({"path": path})),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    let (_, again) = send(
        &app,
        reqwest::Method::POST,
        "/api/short-links",
        Some(json!({"path": path})),
    )
    .await;
    assert_eq!(link["code"], again["code"]);
    let response = app.get(link["url"].as_str().unwrap()).await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], path);
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/short-links",
        Some(json!({"path": "https://evil.example/"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "path");
    // Every spelling a browser resolves to another site, or that runs code, is refused.
    for bad in [
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "/x\u{1}",
    ] {
        let (status, body) = send(
            &app,
            reqwest::Method::POST,
            "/api/short-links",
            Some(json!({ "path": bad })),
        )
        .await;
        assert_eq!(status, 422, "{bad:?}: {body}");
        assert_eq!(body["error"]["field"], "path");
    }
    // A link stored before the check was this strict is never followed.
    sqlx::query("insert into short_link (code, path) values ('oldbad', '/%5Cevil.example')")
        .execute(&app.db)
        .await
        .unwrap();
    let r = app.get("/s/oldbad").await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("location").is_none());
    assert_eq!(app.get("/s/nothing").await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn public_links_open_one_dashboard_until_revoked_or_expired() {
    let app = spawn_app().await;
    seed(&app).await;
    let uid = create(&app, "Public").await;
    let (status, link) = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/dashboards/{uid}/public-links"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 201, "{link}");
    let token = link["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);

    let (status, d) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/public/{token}/dashboard"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(d["title"], "Public");
    // Variables stay usable: options chain on the values given.
    let (status, options) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/public/{token}/variables/agent/options?var-job=other"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options["values"], json!(["b1"]));

    let now = chrono::Utc::now().timestamp();
    let range = format!("start={}&end={now}&step=15", now - 600);
    let (status, result) = send(&app, reqwest::Method::GET,
        &format!("/api/public/{token}/panels/1/targets/0/query_range?{range}&var-job=agents&var-agent=a1"), None).await;
    assert_eq!(status, 200, "{result}");
    let series = result["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["metric"]["agent_id"], "a1");
    // A value that is not one of the variable's options cannot smuggle in another query.
    let (status, result) = send(&app, reqwest::Method::GET,
        &format!("/api/public/{token}/panels/1/targets/0/query_range?{range}&var-agent=.%2B%22%7D%20or%20up%7B"), None).await;
    assert_eq!(status, 422, "{result}");
    assert!(
        result["error"].as_str().unwrap().contains("var-agent"),
        "{result}"
    );
    let png = app.get(&format!("/api/public/{token}/panels/2.png")).await;
    assert_eq!(png.status(), 200);

    // The token is kept as a hash: neither the table nor the list holds it.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from public_link where hint = left($1, 4) and token_hash = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&token)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    let (_, listed) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}/public-links"),
        None,
    )
    .await;
    assert!(!listed.to_string().contains(&token), "{listed}");
    assert_eq!(listed[0]["hint"], token[..4]);
    let log = app.get("/api/audit").await.text().await.unwrap();
    assert!(!log.contains(&token), "the audit log keeps no token: {log}");
    let id = link["id"].as_i64().unwrap();
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/dashboards/{uid}/public-links/{token}"),
        None,
    )
    .await;
    assert_eq!(status, 404, "links are revoked by id");
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/dashboards/{uid}/public-links/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    for path in [
        format!("/api/public/{token}/dashboard"),
        format!("/api/public/{token}/panels/2.png"),
    ] {
        assert_eq!(app.get(&path).await.status(), 404, "{path}");
    }
    let (_, links) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/dashboards/{uid}/public-links"),
        None,
    )
    .await;
    assert_eq!(links[0]["revoked"], true);

    // Expiry: in the past is refused; a link that runs out stops working.
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/dashboards/{uid}/public-links"),
        Some(json!({"expires_at": "2001-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["field"], "expires_at");
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (_, link) = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/dashboards/{uid}/public-links"),
        Some(json!({"expires_at": soon})),
    )
    .await;
    let token = link["token"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/public/{token}/dashboard"))
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        app.get(&format!("/api/public/{token}/dashboard"))
            .await
            .status(),
        404
    );
    app.stop().await;
}

#[tokio::test]
async fn a_directory_of_files_is_provisioned_and_kept_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = dashboard("As code");
    model["uid"] = json!("as-code");
    std::fs::write(dir.path().join("as-code.json"), model.to_string()).unwrap();
    std::fs::write(dir.path().join("broken.json"), "{not json").unwrap();
    let database = fresh_database().await;
    let input = SettingsInput {
        dashboards_dir: Some(dir.path().to_path_buf()),
        ..SettingsInput::default()
    };
    let app = spawn_app_on(database.clone(), input.clone()).await;
    let (status, stored) = send(&app, reqwest::Method::GET, "/api/dashboards/as-code", None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["provisioned"], true);
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        "/api/dashboards/as-code",
        Some(json!({"dashboard": model, "version": 1})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("as-code.json"));
    app.stop().await;

    // A changed file is a new version; a removed file removes its dashboard.
    model["title"] = json!("As code, edited");
    std::fs::write(dir.path().join("as-code.json"), model.to_string()).unwrap();
    let app = spawn_app_on(database.clone(), input.clone()).await;
    let (_, stored) = send(&app, reqwest::Method::GET, "/api/dashboards/as-code", None).await;
    assert_eq!(stored["dashboard"]["title"], "As code, edited");
    assert_eq!(stored["version"], 2);
    app.stop().await;
    std::fs::remove_file(dir.path().join("as-code.json")).unwrap();
    let app = spawn_app_on(database, input).await;
    assert_eq!(app.get("/api/dashboards/as-code").await.status(), 404);
    app.stop().await;
}
