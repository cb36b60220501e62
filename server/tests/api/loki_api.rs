//! Loki's query API, called the way Grafana's Loki data source and `logcli` call it (Loki's
//! HTTP API reference: query, query_range, labels, label values, series, index stats), with
//! its exact answer shapes and plain-text errors.

use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};

const MINUTE_NS: i64 = 60_000_000_000;

/// A minute boundary a few minutes ago, so the lines sit in whole minutes.
fn base_ns() -> i64 {
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    (now / MINUTE_NS - 10) * MINUTE_NS
}

async fn push(app: &TestApp, base: i64) {
    let at =
        |minute: i64, second: i64| (base + minute * MINUTE_NS + second * 1_000_000_000).to_string();
    let body = json!({"streams": [
        {"stream": {"app": "api", "env": "prod"}, "values": [
            [at(0, 10), r#"{"level":"info","msg":"GET /orders","status":200,"user":{"id":7}}"#],
            [at(0, 20), r#"{"level":"error","msg":"GET /orders upstream timeout","status":504}"#],
            [at(1, 5), r#"{"level":"error","msg":"POST /pay upstream timeout","status":503}"#],
            [at(2, 30), r#"{"level":"warn","msg":"slow GET /orders","status":200}"#],
        ]},
        {"stream": {"app": "worker", "env": "dev"}, "values": [
            [at(0, 30), "level=info msg=\"job started\" job=reindex"],
            [at(1, 40), "level=error msg=\"job failed: timeout\" job=reindex"],
        ]},
    ]});
    let response = app
        .client
        .post(app.url("/loki/api/v1/push"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
}

async fn get(app: &TestApp, path: &str, params: &[(&str, String)]) -> (u16, String) {
    let response = app
        .client
        .get(app.url(path))
        .query(params)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn ok(app: &TestApp, path: &str, params: &[(&str, String)]) -> Value {
    let (status, text) = get(app, path, params).await;
    assert_eq!(status, 200, "{path} {params:?}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    body
}

fn lines(result: &Value) -> Vec<String> {
    result["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["values"].as_array().unwrap().iter())
        .map(|v| v[1].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn grafana_and_logcli_requests_get_lokis_answers() {
    let app = spawn_app().await;
    let base = base_ns();
    push(&app, base).await;
    let (start, end) = (
        (base - MINUTE_NS).to_string(),
        (base + 5 * MINUTE_NS).to_string(),
    );

    // Grafana's log query: streams, newest first, values as [ns text, line].
    let body = ok(
        &app,
        "/loki/api/v1/query_range",
        &[
            ("direction", "backward".into()),
            ("limit", "1000".into()),
            ("query", r#"{env=~"prod|dev"} |= "timeout""#.into()),
            ("start", start.clone()),
            ("end", end.clone()),
            ("step", "60000ms".into()),
        ],
    )
    .await;
    assert_eq!(body["status"], "success");
    assert_eq!(body["data"]["resultType"], "streams");
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "{body}");
    let api = result.iter().find(|s| s["stream"]["app"] == "api").unwrap();
    assert_eq!(api["stream"], json!({"app": "api", "env": "prod"}));
    let values = api["values"].as_array().unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(
        values[0][0],
        json!((base + MINUTE_NS + 5_000_000_000).to_string())
    );
    assert!(values[0][1].as_str().unwrap().contains("POST /pay"));
    assert!(values[1][1]
        .as_str()
        .unwrap()
        .contains("GET /orders upstream"));
    assert!(body["data"]["stats"]["summary"].is_object());

    // logcli's query: forward, capitals, a limit; line filters chained, a regex, negation.
    let body = ok(
        &app,
        "/loki/api/v1/query_range",
        &[
            ("direction", "FORWARD".into()),
            ("limit", "2".into()),
            ("query", r#"{app="api"} |~ "GET|POST" != "slow""#.into()),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
    )
    .await;
    let found = lines(&body);
    assert_eq!(found.len(), 2);
    assert!(found[0].contains("GET /orders\""), "{found:?}");
    assert!(found[1].contains("upstream timeout"));

    // A parser makes the fields labels; label filters compare numbers and levels.
    let body = ok(
        &app,
        "/loki/api/v1/query_range",
        &[
            (
                "query",
                r#"{app="api"} | json | status >= 500 | drop msg"#.into(),
            ),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
    )
    .await;
    let result = body["data"]["result"].as_array().unwrap();
    assert_eq!(result.len(), 2, "one stream per set of labels: {body}");
    for stream in result {
        assert_eq!(stream["stream"]["level"], "error");
        assert!(stream["stream"]["msg"].is_null(), "dropped");
        assert!(stream["stream"]["status"] == "504" || stream["stream"]["status"] == "503");
    }
    let errors = ok(
        &app,
        "/loki/api/v1/query_range",
        &[
            (
                "query",
                r#"{env=~".+"} | logfmt | level="error" or level="warn""#.into(),
            ),
            ("start", start.clone()),
            ("end", end.clone()),
        ],
    )
    .await;
    assert_eq!(lines(&errors).len(), 4, "{errors}");

    // Grafana's logs volume: a matrix, per level, one point per minute that had lines.
    let body = ok(
        &app,
        "/loki/api/v1/query_range",
        &[
            (
                "query",
                r#"sum by (level) (count_over_time({env=~"prod|dev"} | drop __error__ [1m]))"#
                    .into(),
            ),
            ("start", (base + MINUTE_NS).to_string()),
            ("end", (base + 3 * MINUTE_NS).to_string()),
            ("step", "60".into()),
        ],
    )
    .await;
    assert_eq!(body["data"]["resultType"], "matrix");
    let mut series: Vec<(String, Vec<(i64, String)>)> = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["metric"]["level"].as_str().unwrap().to_string(),
                s["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| (v[0].as_i64().unwrap(), v[1].as_str().unwrap().to_string()))
                    .collect(),
            )
        })
        .collect();
    series.sort();
    let t = |minute: i64| (base + minute * MINUTE_NS) / 1_000_000_000;
    assert_eq!(
        series,
        vec![
            // Each step counts (t - 1m, t]: at 1m the lines of minute 0, and so on.
            ("error".into(), vec![(t(1), "1".into()), (t(2), "2".into())]),
            ("info".into(), vec![(t(1), "2".into())]),
            ("warn".into(), vec![(t(3), "1".into())]),
        ]
    );

    // rate over a sliding window longer than the step; an instant query answers a vector.
    let body = ok(
        &app,
        "/loki/api/v1/query",
        &[
            ("query", r#"sum(rate({app="api"}[10m]))"#.into()),
            ("time", (base + 5 * MINUTE_NS).to_string()),
        ],
    )
    .await;
    assert_eq!(body["data"]["resultType"], "vector");
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {}, "value": [t(5), "0.006666666666666667"]}])
    );
    let body = ok(
        &app,
        "/loki/api/v1/query",
        &[
            (
                "query",
                r#"topk(1, count_over_time({env=~".+"}[1h]))"#.into(),
            ),
            ("time", (base + 5 * MINUTE_NS).to_string()),
        ],
    )
    .await;
    assert_eq!(
        body["data"]["result"],
        json!([{"metric": {"app": "api", "env": "prod"}, "value": [t(5), "4"]}])
    );

    // Labels, values and series, as Grafana's query builder asks for them.
    let range = [("start", start.clone()), ("end", end.clone())];
    let body = ok(&app, "/loki/api/v1/labels", &range).await;
    assert_eq!(body, json!({"status": "success", "data": ["app", "env"]}));
    let body = ok(&app, "/loki/api/v1/label/app/values", &range).await;
    assert_eq!(body["data"], json!(["api", "worker"]));
    let mut with_query = range.to_vec();
    with_query.push(("query", r#"{env="dev"}"#.into()));
    let body = ok(&app, "/loki/api/v1/label/app/values", &with_query).await;
    assert_eq!(body["data"], json!(["worker"]));
    let mut series_params = range.to_vec();
    series_params.push(("match[]", r#"{app=~"api|worker", env!="dev"}"#.into()));
    let body = ok(&app, "/loki/api/v1/series", &series_params).await;
    assert_eq!(body["data"], json!([{"app": "api", "env": "prod"}]));
    // Outside the range there is nothing.
    let past = [
        ("start", (base - 60 * MINUTE_NS).to_string()),
        ("end", (base - 30 * MINUTE_NS).to_string()),
    ];
    assert_eq!(
        ok(&app, "/loki/api/v1/labels", &past).await["data"],
        json!([])
    );

    let mut stats = range.to_vec();
    stats.push(("query", r#"{app="api"}"#.into()));
    let body = ok(&app, "/loki/api/v1/index/stats", &stats).await;
    assert_eq!(body["streams"], 1);
    assert_eq!(body["entries"], 4);
    assert!(body["bytes"].as_i64().unwrap() > 100);
    let body = ok(&app, "/loki/api/v1/status/buildinfo", &[]).await;
    assert!(body["version"].as_str().unwrap().starts_with("2."));
    app.stop().await;
}

#[tokio::test]
async fn bad_logql_gets_a_plain_text_400_that_says_where() {
    let app = spawn_app().await;
    for (path, query, words) in [
        (
            "/loki/api/v1/query_range",
            r#"{app="api""#,
            "parse error at col 11",
        ),
        (
            "/loki/api/v1/query_range",
            r#"{app="api"} | line_format "{{.msg}}""#,
            "not supported",
        ),
        (
            "/loki/api/v1/query_range",
            r#"rate({app="api"}[5x])"#,
            "not a duration",
        ),
        (
            "/loki/api/v1/query",
            r#"{app="api"}"#,
            "not supported as an instant query",
        ),
    ] {
        let (status, text) = get(&app, path, &[("query", query.into())]).await;
        assert_eq!(status, 400, "{query}");
        assert!(text.contains(words), "{query}: {text}");
    }
    let (status, text) = get(
        &app,
        "/loki/api/v1/query_range",
        &[("query", r#"{app="api"}"#.into()), ("limit", "5001".into())],
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("max entries limit"), "{text}");
    let (status, text) = get(
        &app,
        "/loki/api/v1/query_range",
        &[
            ("query", r#"count_over_time({app="api"}[1m])"#.into()),
            ("start", "0".into()),
            ("end", "1700000000".into()),
            ("step", "1".into()),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("maximum resolution"), "{text}");
    let (status, text) = get(
        &app,
        "/loki/api/v1/query_range",
        &[("start", "soon".into()), ("query", "{a=\"b\"}".into())],
    )
    .await;
    assert_eq!(status, 400);
    assert!(text.contains("start"), "{text}");
    let (status, _) = get(&app, "/loki/api/v1/series", &[]).await;
    assert_eq!(status, 400);
    app.stop().await;
}
