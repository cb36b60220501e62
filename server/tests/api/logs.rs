//! Logs: lines in through OTLP, Loki's push (protobuf and JSON) and bulk NDJSON or text, then
//! found by the query language with their labels, fields and trace ids; histogram, facets,
//! context, export; and every limit answering with its status and reason.

use crate::helpers::{client_with, make_token, spawn_app, spawn_app_with, TestApp};
use app::api::{
    accounts::Scope,
    logs::{ErrorStatus, LogContext, LogFacets, LogHistogram, LogPage, LogWriteSummary},
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use prost::Message;
use server::{config::SettingsInput, logs::loki};
use std::io::Write;

/// Asserts a 400 whose error names `field` (or a field under it).
async fn assert_refused(response: reqwest::Response, field: &str, sent: &serde_json::Value) {
    assert_eq!(response.status(), 400, "{sent}");
    let answer: serde_json::Value = response.json().await.unwrap();
    let named = answer["error"]["field"].as_str().unwrap_or("");
    assert!(named.starts_with(field), "{sent}: {answer}");
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

pub async fn push_lines(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: &str,
) -> LogWriteSummary {
    let response = app
        .client
        .post(app.url(&format!("/api/logs/lines{query}")))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

async fn search(app: &TestApp, query: &str) -> LogPage {
    let response = app
        .client
        .get(app.url("/api/logs/search"))
        .query(&[("query", query), ("from", "now-1h"), ("to", "now+5m")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{query}: {}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

fn bodies(page: &LogPage) -> Vec<&str> {
    page.lines.iter().map(|l| l.body.as_str()).collect()
}

fn otlp_request(time_ns: i64) -> ExportLogsServiceRequest {
    serde_json::from_value(serde_json::json!({"resourceLogs": [{
    "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "coder"}},
        {"key": "service.instance.id", "value": {"stringValue": "coder-1"}},
        {"key": "host.name", "value": {"stringValue": "box-7"}}]},
    "scopeLogs": [{"scope": {"name": "agents.coder"}, "logRecords": [
        {"timeUnixNano": time_ns.to_string(), "severityNumber": 17, "severityText": "ERROR",
         "body": {"stringValue": "tool search failed: upstream timeout"},
         "attributes": [{"key": "agent_id", "value": {"stringValue": "coder-1"}},
                        {"key": "tool", "value": {"stringValue": "search"}},
                        {"key": "duration_ms", "value": {"intValue": "812"}}],
         "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"},
        {"timeUnixNano": (time_ns + 1000).to_string(), "severityNumber": 9,
         "body": {"stringValue": "task finished"},
         "attributes": [{"key": "agent_id", "value": {"stringValue": "coder-1"}},
                        {"key": "duration_ms", "value": {"intValue": "120"}}]}
    ]}]}]}))
    .unwrap()
}

#[tokio::test]
async fn otlp_logs_in_protobuf_json_and_gzip_are_found_with_fields_and_trace_ids() {
    let app = spawn_app().await;
    let t = now_ns() - 60_000_000_000;
    let request = otlp_request(t);
    let response = app
        .client
        .post(app.url("/v1/logs"))
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-protobuf");
    // The same request as JSON, gzip-compressed: the same lines again, a second later.
    let mut json = serde_json::to_value(otlp_request(t + 1_000_000_000)).unwrap();
    json["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"] = "planner".into();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(json.to_string().as_bytes()).unwrap();
    let response = app
        .client
        .post(app.url("/v1/logs"))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gz.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let answer: serde_json::Value = response.json().await.unwrap();
    assert!(
        answer.get("partialSuccess").is_none_or(|p| p.is_null()),
        "{answer}"
    );

    // The error's group was new: the portal's own stream says so (see error_group_events).
    let page = search(&app, "timeout -service:portal").await;
    assert_eq!(page.lines.len(), 2, "{:?}", bodies(&page));
    let newest = &page.lines[0];
    assert_eq!(newest.service, "planner");
    let line = &page.lines[1];
    assert_eq!(line.service, "coder");
    assert_eq!(line.level, "error");
    assert_eq!(line.labels["service_name"], "coder");
    assert_eq!(line.labels["service_instance_id"], "coder-1");
    assert_eq!(line.fields["host.name"], "box-7");
    assert_eq!(line.fields["tool"], "search");
    assert_eq!(line.fields["scope"], "agents.coder");
    assert_eq!(
        line.trace_id.as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    assert_eq!(line.span_id.as_deref(), Some("eee19b7ec3c1b174"));
    assert_eq!(line.time.timestamp_nanos_opt().unwrap() / 1000, t / 1000);

    // Field filters, levels, numbers, negation, phrases, regular expressions, trace ids.
    assert_eq!(search(&app, "service:coder").await.lines.len(), 2);
    assert_eq!(
        search(&app, "service:coder level>=warn").await.lines.len(),
        1
    );
    assert_eq!(
        search(&app, "agent_id:coder-1 duration_ms>500")
            .await
            .lines
            .len(),
        2
    );
    assert_eq!(
        search(&app, "agent_id:coder-1 -timeout").await.lines.len(),
        2
    );
    assert_eq!(
        search(&app, "\"upstream timeout\" tool:search")
            .await
            .lines
            .len(),
        2
    );
    assert_eq!(search(&app, "\"timeout upstream\"").await.lines.len(), 0);
    assert_eq!(
        search(&app, "/fail(ed|ure)/ service_instance_id:coder-1")
            .await
            .lines
            .len(),
        2
    );
    assert_eq!(
        search(&app, "trace_id:5b8efff798038103d269b633813fc60c")
            .await
            .lines
            .len(),
        2
    );
    // OR binds looser than terms side by side, as in every search language.
    assert_eq!(
        search(&app, "task OR tool service:planner")
            .await
            .lines
            .len(),
        3
    );
    assert_eq!(
        search(&app, "(task OR tool) service:planner")
            .await
            .lines
            .len(),
        2
    );
    assert_eq!(search(&app, "fin*").await.lines.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn loki_pushes_in_snappy_protobuf_and_json_are_found_by_label_and_metadata() {
    let app = spawn_app().await;
    let t = now_ns() - 30_000_000_000;
    let request = loki::PushRequest {
        streams: vec![loki::StreamAdapter {
            labels: r#"{job="agents", env="prod", level="warn"}"#.into(),
            entries: vec![loki::EntryAdapter {
                timestamp: Some(loki::Timestamp {
                    seconds: t / 1_000_000_000,
                    nanos: (t % 1_000_000_000) as i32,
                }),
                line: "queue depth high for agent reviewer-2".into(),
                structured_metadata: vec![loki::LabelPairAdapter {
                    name: "trace_id".into(),
                    value: "0af7651916cd43dd8448eb211c80319c".into(),
                }],
            }],
            hash: 0,
        }],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .unwrap();
    let response = app
        .client
        .post(app.url("/loki/api/v1/push"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    let json = serde_json::json!({"streams": [{"stream": {"job": "agents", "env": "dev"},
        "values": [[(t + 1000).to_string(), "level=error msg=\"tool crashed\" agent=coder-3"],
                   [(t + 2000).to_string(), "plain words only", {"user": "u-17"}]]}]});
    let response = app
        .client
        .post(app.url("/loki/api/v1/push"))
        .header("content-type", "application/json")
        .body(json.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());

    let page = search(&app, "job:agents").await;
    assert_eq!(bodies(&page).len(), 3);
    let warn = page
        .lines
        .iter()
        .find(|l| l.body.starts_with("queue"))
        .unwrap();
    assert_eq!(warn.level, "warn", "the level label gives the severity");
    assert_eq!(warn.labels["env"], "prod");
    assert_eq!(
        warn.trace_id.as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    let logfmt = page
        .lines
        .iter()
        .find(|l| l.body.contains("crashed"))
        .unwrap();
    assert_eq!(
        logfmt.level, "error",
        "logfmt's level field gives the severity"
    );
    assert_eq!(logfmt.fields["agent"], "coder-3");
    assert_eq!(search(&app, "user:u-17").await.lines.len(), 1);
    assert_eq!(search(&app, "env:dev level:error").await.lines.len(), 1);

    // A push with a bad label set names it and stores nothing of that stream.
    let response = app
        .client
        .post(app.url("/loki/api/v1/push"))
        .header("content-type", "application/json")
        .body(r#"{"streams":[{"stream":{"bad-name":"x"},"values":[["1","x"]]}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("bad-name"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn bulk_lines_are_parsed_scrubbed_counted_and_paged() {
    let app = spawn_app().await;
    let base = chrono::Utc::now().timestamp_millis() - 600_000;
    let mut ndjson = String::new();
    for i in 0..250 {
        let level = if i % 10 == 0 { "error" } else { "info" };
        ndjson.push_str(
            &serde_json::json!({"ts": base + i * 1000, "level": level,
                "msg": format!("step {i} by agent coder-{}", i % 3), "agent_id": format!("coder-{}", i % 3),
                "user_email": "ada@example.com"})
            .to_string(),
        );
        ndjson.push('\n');
    }
    let summary = push_lines(
        &app,
        "?service=worker&label.env=test",
        "application/x-ndjson",
        &ndjson,
    )
    .await;
    assert_eq!(summary.accepted, 250);
    let text = "WARNING:agents.planner:queue is long; mail bob@example.org\n\
                127.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /api/v1/query HTTP/1.1\" 503 12\n";
    let summary = push_lines(&app, "?service=edge", "text/plain", text).await;
    assert_eq!(summary.accepted, 2);

    // Personal data never reaches the store.
    let page = search(&app, "service:edge").await;
    assert!(
        page.lines.iter().all(|l| !l.body.contains("@example")),
        "{:?}",
        bodies(&page)
    );
    let python = page
        .lines
        .iter()
        .find(|l| l.body.starts_with("WARNING"))
        .unwrap();
    assert_eq!(python.level, "warn");
    assert!(python.body.contains("[email]"));
    let access = page.lines.iter().find(|l| l.body.contains("GET")).unwrap();
    assert_eq!(access.level, "error", "a 503 in an access log is an error");
    assert_eq!(access.fields["status"], 503);
    let stored: Vec<String> = sqlx::query_scalar("select fields::text from log_line")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(stored.iter().all(|f| !f.contains("ada@example.com")));

    // Newest first, a page at a time, with nothing lost or repeated across pages.
    let seen = all_matches(&app, "service:worker").await;
    assert_eq!(seen.len(), 250);
    assert_eq!(seen[0], "step 249 by agent coder-0");
    assert_eq!(seen[249], "step 0 by agent coder-0");

    // The histogram's counts add up to the matches, by level.
    let histogram = hour_histogram(&app, "service:worker", &[]).await;
    assert_eq!(histogram.total, 250);
    assert_eq!(error_lines(&histogram), 25);
    assert!(histogram.buckets.len() >= 60 && histogram.step_ms >= 1000);

    // Facets: the most common values of each field among the matches.
    let facets: LogFacets = app
        .client
        .get(app.url("/api/logs/facets"))
        .query(&[("query", "service:worker")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(facets.sampled, 250);
    let agents = facets
        .fields
        .iter()
        .find(|f| f.field == "agent_id")
        .unwrap();
    assert_eq!(agents.values[0], ("coder-0".to_string(), 84));
    let levels = facets.fields.iter().find(|f| f.field == "level").unwrap();
    assert_eq!(
        levels.values,
        vec![("info".into(), 225), ("error".into(), 25)]
    );

    // The lines around a hit, like grep -C.
    let hit = search(&app, "\"step 100 \"").await.lines[0].clone();
    let context: LogContext = app
        .client
        .get(app.url("/api/logs/context"))
        .query(&[
            ("cursor", hit.cursor.as_str()),
            ("before", "2"),
            ("after", "3"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let around: Vec<&str> = context
        .before
        .iter()
        .chain([&context.line])
        .chain(&context.after)
        .map(|l| l.body.split(" by").next().unwrap())
        .collect();
    assert_eq!(
        around,
        ["step 98", "step 99", "step 100", "step 101", "step 102", "step 103"]
    );

    // Export as CSV.
    let csv = app
        .client
        .get(app.url("/api/logs/export"))
        .query(&[("query", "service:worker level:error"), ("format", "csv")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 26, "{csv}");
    app.stop().await;
}

#[tokio::test]
async fn bad_queries_and_writes_say_what_is_wrong_and_change_nothing() {
    let app = spawn_app().await;
    for (query, expected) in [
        ("(error", "expected )"),
        ("level>=loud", "not a level"),
        ("/(/", "not a regular expression"),
        ("ms>abc", "compares numbers"),
    ] {
        let response = app
            .client
            .get(app.url("/api/logs/search"))
            .query(&[("query", query)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], "query");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{body}"
        );
    }
    let response = app.get("/api/logs/search?from=soon").await;
    assert_eq!(response.status(), 400);
    let response = app.get("/api/logs/context?cursor=x").await;
    assert_eq!(response.status(), 400);
    let response = app.get("/api/logs/context?cursor=1-1").await;
    assert_eq!(response.status(), 404);

    for (content_type, body, status) in [
        ("application/x-ndjson", "{\"msg\":\"ok\"}\nnot json\n", 400),
        ("image/png", "x", 415),
    ] {
        let response = app
            .client
            .post(app.url("/api/logs/lines"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{content_type}");
    }
    let response = app
        .client
        .post(app.url("/loki/api/v1/push"))
        .header("content-type", "application/x-protobuf")
        .body("not snappy")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let count: i64 = sqlx::query_scalar("select count(*) from log_line")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing of a refused request is stored");
    app.stop().await;
}

#[tokio::test]
async fn every_limit_answers_with_its_status_and_reason() {
    let app = spawn_app_with(SettingsInput {
        logs_max_line: Some(server::config::ByteSize(2048)),
        logs_max_streams: Some(3),
        logs_stream_rate: Some(server::config::ByteSize(64 << 10)),
        ..Default::default()
    })
    .await;
    // A line too long is refused with the reason; the rest is stored.
    let long = "x".repeat(3000);
    let summary = push_lines(
        &app,
        "?service=a",
        "text/plain",
        &format!("short one\n{long}\n"),
    )
    .await;
    assert_eq!((summary.accepted, summary.refused), (1, 1));
    assert!(summary.message.unwrap().contains("longer than 2048 bytes"));
    // Too far in the past or the future.
    let old = chrono::Utc::now().timestamp_millis() - 40 * 86_400_000;
    let body = format!("{{\"ts\":{old},\"msg\":\"old\"}}\n");
    let summary = push_lines(&app, "?service=a", "application/x-ndjson", &body).await;
    assert_eq!(summary.refused, 1);
    assert!(summary
        .message
        .unwrap()
        .contains("older than the retention"));

    // A stream sending faster than its rate: 429 with Retry-After, nothing stored.
    let burst = "y".repeat(1000);
    let body: String = (0..300).map(|_| format!("{burst}\n")).collect();
    let response = app
        .client
        .post(app.url("/api/logs/lines?service=fast"))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains("service_name=\\\"fast\\\"") || text.contains("fast"),
        "{text}"
    );

    // More streams than the store keeps: 429 naming the limit, nothing stored.
    push_lines(&app, "?service=b", "text/plain", "one\n").await;
    let response = app
        .client
        .post(app.url("/api/logs/lines?service=c&label.pod=p1"))
        .header("content-type", "text/plain")
        .body("x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = app
        .client
        .post(app.url("/api/logs/lines?service=d"))
        .header("content-type", "text/plain")
        .body("x\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.text().await.unwrap().contains("at most 3 streams"));
    let lines: i64 = sqlx::query_scalar("select count(*) from log_line where service = 'd'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(lines, 0);
    app.stop().await;
}

#[tokio::test]
async fn writing_needs_an_ingest_token_and_reading_a_read_token() {
    let app = spawn_app().await;
    let read = client_with(Some(&make_token(&app.db, "reader", &[Scope::Read]).await));
    let ingest = client_with(Some(
        &make_token(&app.db, "shipper", &[Scope::Ingest]).await,
    ));
    let push = |client: &reqwest::Client| {
        client
            .post(app.url("/api/logs/lines?service=x"))
            .header("content-type", "text/plain")
            .body("hello\n")
            .send()
    };
    assert_eq!(push(&app.anonymous).await.unwrap().status(), 401);
    assert_eq!(push(&read).await.unwrap().status(), 403);
    assert_eq!(push(&ingest).await.unwrap().status(), 200);
    let search = |client: &reqwest::Client| client.get(app.url("/api/logs/search")).send();
    assert_eq!(search(&app.anonymous).await.unwrap().status(), 401);
    assert_eq!(search(&ingest).await.unwrap().status(), 403);
    assert_eq!(search(&read).await.unwrap().status(), 200);
    app.stop().await;
}

/// The logs service of `app`'s database under `limits` (the retention job's view).
fn service_with(app: &TestApp, limits: server::logs::LogLimits) -> server::logs::LogsService {
    server::logs::LogsService::new(
        app.db.clone(),
        limits,
        server::logs::Scrubber::default(),
        std::sync::Arc::new(server::admission::ReadAdmission::new(
            1,
            1,
            server::portal_metrics::PortalMetrics::new(),
        )),
    )
}

/// The logs service of `app`'s database, as the retention job sees it.
fn retention_service(app: &TestApp) -> server::logs::LogsService {
    service_with(app, Default::default())
}

#[tokio::test]
async fn partitions_past_the_retention_are_dropped_whole() {
    let app = spawn_app().await;
    push_lines(&app, "?service=keep", "text/plain", "recent\n").await;
    // A partition of a day long gone, as an older portal with a longer retention left it.
    sqlx::query("create table log_line_p20000101 partition of log_line for values from ('2000-01-01') to ('2000-01-02')")
        .execute(&app.db)
        .await
        .unwrap();
    let logs = retention_service(&app);
    assert_eq!(logs.drop_expired().await.unwrap(), 1);
    let partitions: Vec<String> = sqlx::query_scalar(
        "select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
         join pg_class p on p.oid = i.inhparent where p.relname = 'log_line'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(partitions.len(), 1, "{partitions:?}");
    assert_eq!(search(&app, "recent").await.lines.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn concurrent_writes_of_the_same_minutes_are_counted_and_folded_by_the_job() {
    let app = spawn_app().await;
    // Eight requests at once, each with lines of the same two streams, levels and minutes: the
    // per-minute counts get a row from each, summed when read and folded into one by the job.
    let minute = 60_000_000_000i64;
    let t0 = (now_ns() / minute - 12) * minute;
    let bodies: Vec<String> = (0..8i64)
        .map(|w| {
            (0..250i64)
                .map(|i| {
                    let t = t0 + (i % 5) * minute + w * 1_000_000 + i;
                    let service = if i % 2 == 0 { "fold-a" } else { "fold-b" };
                    let level = if i % 3 == 0 { "error" } else { "info" };
                    format!(
                        "{{\"ts\": {t}, \"level\": \"{level}\", \"service\": \"{service}\", \"msg\": \"w{w} line {i}\"}}\n"
                    )
                })
                .collect()
        })
        .collect();
    let writes = bodies
        .iter()
        .map(|body| push_lines(&app, "", "application/x-ndjson", body));
    for summary in futures_util::future::join_all(writes).await {
        assert_eq!(summary.accepted, 250);
    }
    let (from, to) = (
        ((t0 - minute) / 1_000_000).to_string(),
        ((t0 + 6 * minute) / 1_000_000).to_string(),
    );
    let counted = || async {
        let params = [("query", "service:fold-a"), ("from", &from), ("to", &to)];
        let h = histogram_with(&app, &params).await;
        (h.total, error_lines(&h))
    };
    // fold-a: the even i of 250 (125) in each of 8 writes; errors where i is a multiple of 6.
    let expected = (8 * 125, 8 * 42);
    assert_eq!(counted().await, expected);
    let rows = || async {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select count(*), count(distinct (minute, stream_id, severity)),
                    count(*) filter (where not folded) from log_count",
        )
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (all, keys, unfolded) = rows().await;
        if all == keys && unfolded == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "counts not folded after 30 s: {all} rows, {keys} keys, {unfolded} unfolded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(counted().await, expected);
    app.stop().await;
}

#[tokio::test]
async fn histograms_from_the_minute_counts_match_the_lines_to_the_line() {
    let app = spawn_app().await;
    // 40 lines over 10 minutes, two services, every level; the range starts and ends inside a
    // minute, so the ends are counted from the lines and the middle from the minute counts.
    let minute = 60_000_000_000i64;
    let t0 = (now_ns() / minute - 15) * minute;
    let levels = ["debug", "info", "warn", "error", "fatal"];
    let mut body = String::new();
    let mut expected: std::collections::BTreeMap<(i64, &str), u64> = Default::default();
    let (from, to) = (t0 + 20_000_000_000, t0 + 10 * minute + 10_000_000_000);
    for i in 0..40i64 {
        let t = t0 + i * 16_000_000_000; // every 16 s
        let level = levels[(i % 5) as usize];
        let service = if i % 2 == 0 { "even" } else { "odd" };
        body.push_str(&format!(
            "{{\"ts\": {t}, \"level\": \"{level}\", \"service\": \"{service}\", \"msg\": \"line {i}\"}}\n"
        ));
        if t >= from && t < to && service == "even" && matches!(level, "warn" | "error" | "fatal") {
            *expected
                .entry((t / minute * minute / 1_000_000, level))
                .or_default() += 1;
        }
    }
    push_lines(&app, "", "application/x-ndjson", &body).await;
    let ms = |ns: i64| (ns / 1_000_000).to_string();
    let histogram = |query: &'static str| {
        let (from, to) = (ms(from), ms(to));
        let app = &app;
        async move {
            let response = app
                .client
                .get(app.url("/api/logs/histogram"))
                .query(&[
                    ("query", query),
                    ("from", &from),
                    ("to", &to),
                    ("buckets", "12"),
                ])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<LogHistogram>().await.unwrap()
        }
    };
    // Counted by minute (service and level only) and from the lines (a word): the same.
    for query in ["service:even level>=warn", "service:even level>=warn line"] {
        let h = histogram(query).await;
        assert_eq!(h.step_ms, 60_000, "{query}");
        let mut found: std::collections::BTreeMap<(i64, &str), u64> = Default::default();
        for b in &h.buckets {
            for (level, n) in &b.counts {
                let level = levels.iter().find(|l| *l == level).unwrap();
                found.insert((b.time.timestamp_millis(), level), *n);
            }
        }
        assert_eq!(found, expected, "{query}");
        assert_eq!(h.total, expected.values().sum::<u64>());
    }
    app.stop().await;
}

#[tokio::test]
async fn error_lines_group_by_failure_with_counts_trends_and_agents() {
    let app = spawn_app().await;
    let t = now_ns() - 120_000_000_000;
    let stack = "Traceback (most recent call last):\n  File \"agents/llm.py\", line 88, in complete\n    x\nTimeoutError: LLM call exceeded its 60 s deadline";
    let mut body = String::new();
    for i in 0..5i64 {
        body.push_str(
            &serde_json::json!({
                "ts": t + i * 1_000_000_000, "level": "error", "service": "agents",
                "msg": format!("task t-{i:06} failed: TimeoutError: LLM call exceeded its 60 s deadline"),
                "exception.type": "TimeoutError",
                "exception.message": "LLM call exceeded its 60 s deadline",
                "exception.stacktrace": stack,
                "agent.id": format!("coder-{}", i % 2 + 1),
            })
            .to_string(),
        );
        body.push('\n');
    }
    for (i, level) in ["error", "fatal", "info"].iter().enumerate() {
        body.push_str(
            &serde_json::json!({
                "ts": t + (10 + i as i64) * 1_000_000_000, "level": level, "service": "shop",
                "msg": format!("payment failed: CardDeclinedError for order o-{}", 17 + i),
            })
            .to_string(),
        );
        body.push('\n');
    }
    push_lines(&app, "", "application/x-ndjson", &body).await;
    let response = app
        .client
        .get(app.url("/api/logs/errors"))
        .query(&[("from", "now-1h"), ("to", "now")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let errors: app::api::logs::ErrorGroups = response.json().await.unwrap();
    assert!(errors.complete);
    assert_eq!(errors.sampled, 7, "error and fatal lines only");
    assert_eq!(errors.groups.len(), 2);
    let timeout = &errors.groups[0];
    assert_eq!((timeout.count, timeout.kind.as_str()), (5, "TimeoutError"));
    assert_eq!(timeout.frame, "agents/llm.py in complete");
    assert_eq!(timeout.agents, vec!["coder-1", "coder-2"]);
    assert_eq!(timeout.services, vec!["agents"]);
    assert_eq!(timeout.trend.iter().sum::<u64>(), 5);
    assert!(timeout.example.body.contains("t-000004"));
    let declined = &errors.groups[1];
    assert_eq!(
        (declined.count, declined.kind.as_str()),
        (2, "CardDeclinedError")
    );
    assert_eq!(
        declined.message,
        "payment failed: CardDeclinedError for order <id>"
    );
    // A query narrows the lines grouped.
    let response = app
        .client
        .get(app.url("/api/logs/errors"))
        .query(&[("query", "service:shop"), ("from", "now-1h"), ("to", "now")])
        .send()
        .await
        .unwrap();
    let errors: app::api::logs::ErrorGroups = response.json().await.unwrap();
    assert_eq!(errors.groups.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn error_groups_are_resolved_or_ignored_and_regress_when_seen_again() {
    let app = spawn_app().await;
    let failure = |t: Option<i64>| {
        let mut line = serde_json::json!({
            "level": "error", "service": "agents",
            "msg": "TimeoutError: LLM call exceeded its 60 s deadline",
        });
        if let Some(t) = t {
            line["ts"] = serde_json::json!(t);
        }
        format!("{line}\n")
    };
    let earlier = now_ns() - 60_000_000_000;
    push_lines(
        &app,
        "",
        "application/x-ndjson",
        &(failure(Some(earlier)) + &failure(Some(earlier + 1))),
    )
    .await;
    let groups = |app: &TestApp| {
        let request = app
            .client
            .get(app.url("/api/logs/errors"))
            .query(&[("from", "now-1h"), ("to", "now+1m")]);
        async move {
            let errors: app::api::logs::ErrorGroups =
                request.send().await.unwrap().json().await.unwrap();
            assert_eq!(errors.groups.len(), 1);
            errors.groups[0].clone()
        }
    };
    let group = groups(&app).await;
    assert_eq!(group.status, ErrorStatus::Open);
    let path = format!("/api/logs/errors/{}", group.fingerprint);
    let set = |status: &str| {
        app.client
            .put(app.url(&path))
            .json(&serde_json::json!({ "status": status }))
            .send()
    };
    let response = set("resolved").await.unwrap();
    assert_eq!(response.status(), 200);
    let state: app::api::logs::ErrorGroupState = response.json().await.unwrap();
    assert_eq!(state.status, ErrorStatus::Resolved);
    assert!(state.changed_by.is_some_and(|by| !by.is_empty()));
    assert_eq!(groups(&app).await.status, ErrorStatus::Resolved);

    // The same failure again, after it was resolved: regressed.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    push_lines(&app, "", "application/x-ndjson", &failure(None)).await;
    let group = groups(&app).await;
    assert_eq!((group.status, group.count), (ErrorStatus::Regressed, 3));

    assert_eq!(set("ignored").await.unwrap().status(), 200);
    assert_eq!(groups(&app).await.status, ErrorStatus::Ignored);

    // Bad input names its field and changes nothing; a read token cannot change a status.
    for (body, field) in [
        (serde_json::json!({"status": "regressed"}), "status"),
        (serde_json::json!({"status": 3}), "body"),
    ] {
        let response = app
            .client
            .put(app.url(&path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_refused(response, field, &body).await;
    }
    let response = app
        .client
        .put(app.url("/api/logs/errors/not-a-fingerprint"))
        .json(&serde_json::json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let token = make_token(&app.db, "reader", &[Scope::Read]).await;
    let reader = client_with(Some(&token));
    let response = reader
        .put(app.url(&path))
        .json(&serde_json::json!({"status": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let state: app::api::logs::ErrorGroupState = reader
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state.status, ErrorStatus::Ignored);
    app.stop().await;
}

/// The logs service of `app`'s database with an archive directory (the retention job's view).
fn archiving_service(app: &TestApp, dir: &std::path::Path) -> server::logs::LogsService {
    service_with(
        app,
        server::logs::LogLimits {
            archive_dir: Some(dir.to_path_buf()),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_day_past_the_retention_is_archived_before_it_is_dropped_and_searched_back() {
    let dir = crate::helpers::scratch_dir().join("archive");
    let app = spawn_app_with(SettingsInput {
        logs_archive_dir: Some(dir.clone()),
        ..Default::default()
    })
    .await;
    push_lines(&app, "?service=coder", "text/plain", "recent\n").await;
    let stream: i64 = sqlx::query_scalar("select id from log_stream limit 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    // A day long gone, as a portal with a longer retention left it: three lines.
    sqlx::query("create table log_line_p20000101 partition of log_line for values from ('2000-01-01') to ('2000-01-02')")
        .execute(&app.db)
        .await
        .unwrap();
    for (i, (severity, body, fields)) in [
        (
            9,
            "task started",
            serde_json::json!({"agent.id": "coder-1"}),
        ),
        (
            17,
            "tool call timeout after 30 s",
            serde_json::json!({"agent.id": "coder-1", "tokens": 812}),
        ),
        (
            17,
            "tool call timeout after 30 s",
            serde_json::json!({"agent.id": "coder-2"}),
        ),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query("insert into log_line (time, stream_id, service, severity, body, fields, trace_id) values ('2000-01-01T10:00:00Z'::timestamptz + $1 * interval '1 second', $2, 'coder', $3, $4, $5, '0af7651916cd43dd8448eb211c80319c')")
            .bind(i as f64)
            .bind(stream)
            .bind(severity as i16)
            .bind(body)
            .bind(fields)
            .execute(&app.db)
            .await
            .unwrap();
    }

    // An archive that cannot be written keeps the lines: the directory's place is a file.
    std::fs::write(&dir, b"not a directory").unwrap();
    assert!(archiving_service(&app, &dir).drop_expired().await.is_err());
    let kept: i64 = sqlx::query_scalar("select count(*) from log_line_p20000101")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(kept, 3);
    std::fs::remove_file(&dir).unwrap();

    assert_eq!(
        archiving_service(&app, &dir).drop_expired().await.unwrap(),
        1
    );
    let gone: Option<String> = sqlx::query_scalar("select to_regclass('log_line_p20000101')::text")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(gone, None, "the partition is dropped once archived");
    let archives: Vec<app::api::logs::LogArchive> =
        app.get("/api/logs/archives").await.json().await.unwrap();
    assert_eq!(archives.len(), 1);
    assert_eq!(
        (archives[0].name.as_str(), archives[0].day.as_str()),
        ("logs-2000-01-01.ndjson.gz", "2000-01-01")
    );
    assert!(archives[0].bytes > 0);

    // Searched back with the same language, oldest first, a page at a time.
    let page = |query: &str, offset: u64, limit: u64| {
        let request = app
            .client
            .get(app.url("/api/logs/archives/logs-2000-01-01.ndjson.gz"))
            .query(&[
                ("query", query.to_string()),
                ("offset", offset.to_string()),
                ("limit", limit.to_string()),
            ]);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response
                .json::<app::api::logs::ArchivePage>()
                .await
                .unwrap()
        }
    };
    let all = page("level>=error timeout", 0, 100).await;
    assert_eq!(all.lines.len(), 2);
    assert_eq!(all.next_offset, None);
    let first = &all.lines[0];
    assert_eq!(first.fields["agent.id"], "coder-1");
    assert_eq!(first.fields["tokens"], 812);
    assert_eq!(first.level, "error");
    assert_eq!(first.labels["service_name"], "coder");
    assert_eq!(
        first.trace_id.as_deref(),
        Some("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(first.time.to_rfc3339(), "2000-01-01T10:00:01+00:00");
    let one = page("timeout", 0, 1).await;
    assert_eq!(one.lines.len(), 1);
    let next = page("timeout", one.next_offset.unwrap(), 1).await;
    assert_eq!(next.lines[0].fields["agent.id"], "coder-2");

    // Names that lead elsewhere, and archives that do not exist.
    for (path, status) in [
        ("/api/logs/archives/..%2F..%2Fetc%2Fpasswd", 400),
        ("/api/logs/archives/logs-1999-01-01.ndjson.gz", 404),
        ("/api/logs/archives/logs-2000-01-01.ndjson.gz?limit=0", 400),
        (
            "/api/logs/archives/logs-2000-01-01.ndjson.gz?query=%22open",
            400,
        ),
    ] {
        assert_eq!(app.get(path).await.status(), status, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn lines_cluster_into_patterns_whose_counts_add_up_to_the_lines() {
    let app = spawn_app().await;
    let t = now_ns() - 300_000_000_000;
    let mut body = String::new();
    for i in 0..40i64 {
        let (level, msg) = match i % 4 {
            0 | 1 => (
                "info",
                format!("task t-{i:05} finished in {} ms", 200 + i * 7),
            ),
            2 => ("info", format!("tool web_search called by coder-{}", i % 3)),
            _ => (
                "error",
                format!("tool code_exec exited with status {}", i % 5),
            ),
        };
        body.push_str(
            &serde_json::json!({"ts": t + i * 1_000_000_000, "level": level, "service": "agents", "msg": msg})
                .to_string(),
        );
        body.push('\n');
    }
    push_lines(&app, "", "application/x-ndjson", &body).await;
    let patterns = |query: &'static str| {
        let request = app.client.get(app.url("/api/logs/patterns")).query(&[
            ("query", query),
            ("from", "now-1h"),
            ("to", "now"),
        ]);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response
                .json::<app::api::logs::LogPatterns>()
                .await
                .unwrap()
        }
    };
    // (The error lines' group is announced on the portal's own stream, left out here.)
    let all = patterns("service:agents").await;
    let found: Vec<(&str, u64)> = all
        .patterns
        .iter()
        .map(|p| (p.pattern.as_str(), p.count))
        .collect();
    assert_eq!(
        found,
        [
            ("task <id> finished in <number> ms", 20),
            ("tool code_exec exited with status <number>", 10),
            ("tool web_search called by <id>", 10),
        ]
    );
    assert_eq!((all.sampled, all.others, all.complete), (40, 0, true));
    let exec = &all.patterns[1];
    assert_eq!(exec.levels["error"], 10);
    assert_eq!(exec.services, ["agents"]);
    assert!(exec
        .example
        .body
        .starts_with("tool code_exec exited with status"));
    // A search narrows the lines clustered; a bad one is refused naming the query.
    assert_eq!(
        patterns("service:agents level>=error").await.patterns.len(),
        1
    );
    let response = app
        .client
        .get(app.url("/api/logs/patterns"))
        .query(&[("query", "\"unclosed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn searches_are_saved_by_name_listed_replaced_and_deleted() {
    let app = spawn_app().await;
    let save = |body: serde_json::Value| {
        app.client
            .post(app.url("/api/logs/saved-searches"))
            .json(&body)
            .send()
    };
    let response =
        save(serde_json::json!({"name": "Coder errors", "query": "service:coder level>=error"}))
            .await
            .unwrap();
    assert_eq!(response.status(), 201);
    let saved: app::api::logs::SavedSearch = response.json().await.unwrap();
    assert!(saved.id > 0 && !saved.created_by.is_empty());
    // The same name again replaces its search.
    let again: app::api::logs::SavedSearch =
        save(serde_json::json!({"name": " Coder errors ", "query": "service:coder level>=warn"}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(again.id, saved.id);
    save(serde_json::json!({"name": "a timeouts", "query": "timeout"}))
        .await
        .unwrap();
    let list: Vec<app::api::logs::SavedSearch> = app
        .get("/api/logs/saved-searches")
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = list
        .iter()
        .map(|s| (s.name.as_str(), s.query.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("a timeouts", "timeout"),
            ("Coder errors", "service:coder level>=warn")
        ]
    );

    // Bad input names its field and changes nothing; a read token cannot save.
    for (body, field) in [
        (serde_json::json!({"name": "", "query": "x"}), "name"),
        (
            serde_json::json!({"name": "x", "query": "\"unclosed"}),
            "query",
        ),
        (serde_json::json!({"name": "x"}), "body"),
    ] {
        let response = save(body.clone()).await.unwrap();
        assert_refused(response, field, &body).await;
    }
    let token = make_token(&app.db, "reader", &[Scope::Read]).await;
    let reader = client_with(Some(&token));
    let response = reader
        .post(app.url("/api/logs/saved-searches"))
        .json(&serde_json::json!({"name": "mine", "query": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let listed: Vec<app::api::logs::SavedSearch> = reader
        .get(app.url("/api/logs/saved-searches"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    let path = format!("/api/logs/saved-searches/{}", saved.id);
    let response = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let response = app.client.delete(app.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(app.get("/api/logs/saved-searches/x").await.status(), 400);
    app.stop().await;
}

/// The histogram of the last hour's lines matching `query`, with `extra` parameters.
async fn hour_histogram(app: &TestApp, query: &str, extra: &[(&str, &str)]) -> LogHistogram {
    let mut params = vec![("query", query), ("from", "now-1h"), ("to", "now")];
    params.extend_from_slice(extra);
    histogram_with(app, &params).await
}

async fn histogram_with(app: &TestApp, params: &[(&str, &str)]) -> LogHistogram {
    app.client
        .get(app.url("/api/logs/histogram"))
        .query(params)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The error lines a histogram counts.
fn error_lines(histogram: &LogHistogram) -> u64 {
    histogram
        .buckets
        .iter()
        .filter_map(|b| b.counts.get("error"))
        .sum()
}

/// Lines, their number by level over an hour (30 buckets of 2 minutes), and the total.
async fn histogram_total(app: &TestApp, query: &str) -> (u64, u64) {
    let histogram = hour_histogram(app, query, &[("buckets", "30")]).await;
    (histogram.total, error_lines(&histogram))
}

/// Every matching line of the last hour, paged through.
async fn all_matches(app: &TestApp, query: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut params = vec![("query", query), ("from", "now-1h"), ("limit", "50")];
        if let Some(b) = &before {
            params.push(("before", b));
        }
        let page: LogPage = app
            .client
            .get(app.url("/api/logs/search"))
            .query(&params)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        seen.extend(page.lines.iter().map(|l| l.body.clone()));
        match page.next {
            Some(next) => before = Some(next),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn the_token_index_finds_every_match_and_counts_them_exactly() {
    let app = spawn_app().await;
    // 600 lines over 50 minutes: "timeout" in every 4th, "kerberos" in every 97th, status
    // 500 in every 5th, errors every 3rd; sent in three writes.
    let base = chrono::Utc::now().timestamp_millis() - 55 * 60_000;
    for part in 0..3 {
        let mut ndjson = String::new();
        for i in part * 200..(part + 1) * 200 {
            let mut msg = format!("step {i} upstream");
            if i % 4 == 0 {
                msg.push_str(" timeout (retrying)");
            }
            if i % 97 == 0 {
                msg.push_str(" kerberos ticket expired");
            }
            let level = if i % 3 == 0 { "error" } else { "info" };
            let status = if i % 5 == 0 { 500 } else { 200 };
            ndjson.push_str(
                &serde_json::json!({"ts": base + i * 5000, "level": level, "msg": msg, "status": status})
                    .to_string(),
            );
            ndjson.push('\n');
        }
        push_lines(&app, "?service=gateway", "application/x-ndjson", &ndjson).await;
    }
    check_token_index(&app).await;

    let untokened: i64 = sqlx::query_scalar("select count(*) from log_line where tokens is null")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(untokened, 0);

    // Lines stored before tokens existed have none: every search still finds them.
    sqlx::query("update log_line set tokens = null")
        .execute(&app.db)
        .await
        .unwrap();
    check_token_index(&app).await;
    app.stop().await;
}

/// What `the_token_index_finds_every_match_and_counts_them_exactly` wrote, searched and counted.
async fn check_token_index(app: &TestApp) {
    let expected = |pick: &dyn Fn(i64) -> bool| (0..600).filter(|i| pick(*i)).count() as u64;
    let timeouts = expected(&|i| i % 4 == 0);
    let kerberos = expected(&|i| i % 97 == 0);
    assert_eq!(
        all_matches(app, "service:gateway TIMEOUT").await.len() as u64,
        timeouts
    );
    assert_eq!(
        all_matches(app, "service:gateway kerberos").await.len() as u64,
        kerberos
    );
    assert_eq!(
        all_matches(app, "service:gateway status:500").await.len() as u64,
        expected(&|i| i % 5 == 0)
    );
    assert_eq!(
        all_matches(app, "service:gateway timeout status:500 level:error")
            .await
            .len() as u64,
        expected(&|i| i % 4 == 0 && i % 5 == 0 && i % 3 == 0)
    );
    assert_eq!(
        all_matches(app, "service:gateway \"upstream timeout (\"")
            .await
            .len() as u64,
        timeouts
    );
    assert!(all_matches(app, "service:gateway \"pstream timeou\"")
        .await
        .is_empty());
    assert_eq!(
        all_matches(app, "service:gateway kerb*").await.len() as u64,
        kerberos
    );
    // Counted from the blocks (one word, one field) or from the lines: the same.
    let errors = |pick: &dyn Fn(i64) -> bool| expected(&|i| pick(i) && i % 3 == 0);
    assert_eq!(
        histogram_total(app, "service:gateway timeout").await,
        (timeouts, errors(&|i| i % 4 == 0))
    );
    assert_eq!(
        histogram_total(app, "service:gateway status:500").await,
        (expected(&|i| i % 5 == 0), errors(&|i| i % 5 == 0))
    );
    assert_eq!(
        histogram_total(app, "service:gateway timeout kerberos").await,
        (
            expected(&|i| i % 4 == 0 && i % 97 == 0),
            errors(&|i| i % 4 == 0 && i % 97 == 0)
        )
    );
}

#[tokio::test]
async fn a_closed_days_token_index_is_rebuilt_once_and_still_finds_its_lines() {
    let app = spawn_app().await;
    // Lines of yesterday (a closed day) and of now.
    let yesterday = chrono::Utc::now().timestamp_millis() - 86_400_000 - 3_600_000;
    let mut ndjson = String::new();
    for i in 0..50 {
        ndjson.push_str(
            &serde_json::json!({"ts": yesterday + i, "msg": format!("old line {i} kerberos")})
                .to_string(),
        );
        ndjson.push('\n');
    }
    push_lines(&app, "?service=past", "application/x-ndjson", &ndjson).await;
    push_lines(&app, "?service=now", "text/plain", "fresh kerberos\n").await;
    let logs = retention_service(&app);
    let today = chrono::Utc::now().format("log_line_p%Y%m%d").to_string();
    let closed = (chrono::Utc::now() - chrono::Duration::hours(25))
        .format("log_line_p%Y%m%d")
        .to_string();
    let oid = |name: String| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, sqlx::postgres::types::Oid>(
                "select i.indexrelid from pg_index i join pg_class t on t.oid = i.indrelid
                 join pg_class c on c.oid = i.indexrelid join pg_am a on a.oid = c.relam
                 where t.relname = $1 and a.amname = 'gin'",
            )
            .bind(name)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let (before, today_before) = (oid(closed.clone()).await, oid(today.clone()).await);
    // The portal's own retention job may have got there first (it runs when it starts).
    if logs.compact_closed_days().await.unwrap() == 1 {
        assert_ne!(oid(closed.clone()).await, before, "rebuilt: a new index");
    }
    let compacted: Vec<String> =
        sqlx::query_scalar("select partition from log_partition_compacted")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(compacted, vec![closed.clone()]);
    // Today's is left alone; a second pass has nothing to do.
    assert_eq!(oid(today.clone()).await, today_before);
    assert_eq!(logs.compact_closed_days().await.unwrap(), 0);
    let page: LogPage = app
        .client
        .get(app.url("/api/logs/search"))
        .query(&[("query", "kerberos"), ("from", "now-2d"), ("limit", "100")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.lines.len(), 51);
    app.stop().await;
}

/// Writers leave new tokens in the index's pending list; the `logs-token-index` job merges
/// them into the index within seconds, and the lines are found before and after.
#[tokio::test]
async fn pending_tokens_are_merged_into_the_index_by_the_job() {
    let app = spawn_app().await;
    let body: String = (0..3000)
        .map(|i| format!("request {i} served by worker-{} in {}ms\n", i % 7, i % 500))
        .collect();
    push_lines(&app, "?service=merge", "text/plain", &body).await;
    assert_eq!(search(&app, "worker-3").await.lines.len(), 100);
    sqlx::query("create extension if not exists pgstattuple")
        .execute(&app.db)
        .await
        .unwrap();
    let pending = || async {
        sqlx::query_scalar::<_, i64>(
            "select coalesce(sum((pgstatginindex(i.oid)).pending_tuples), 0)::int8
             from pg_inherits h join pg_index x on x.indrelid = h.inhrelid
             join pg_class i on i.oid = x.indexrelid join pg_am a on a.oid = i.relam
             where h.inhparent = 'log_line'::regclass and a.amname = 'gin'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while pending().await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} pending token entries left after 20 s",
            pending().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(search(&app, "worker-3").await.lines.len(), 100);
    assert_eq!(search(&app, "\"request 2999 served\"").await.lines.len(), 1);
    app.stop().await;
}
