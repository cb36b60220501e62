//! The query service's guards, tried as a hostile user would: queries nested too deep, a
//! subquery with billions of steps, more samples than the limit, a query that outlives its
//! deadline, a client that goes away, too many queries at once, and a stop signal while a long
//! query runs. Each must be answered (or stopped) without the portal going down.

// The guards are each process' own (its slots, its queue, its /metrics): one portal per test.
use crate::helpers::{
    client_with, fresh_database, make_token, spawn_one_app, spawn_one_app_on, TestApp,
};
use app::api::accounts::Scope;
use server::{
    config::{HumanDuration, SettingsInput},
    ingest::IncomingSeries,
    labels::SeriesKey,
};
use std::time::{Duration, Instant};

/// A query that is cheap per step but has very many steps: it runs for minutes unless stopped.
const SLOW_QUERY: &str = "count_over_time(vector(1)[10d:1s])";

async fn post_query(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    post_query_as(&app.client, app, path, form).await
}

/// `post_query` with another caller's client.
async fn post_query_as(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("the portal answers")
}

/// The value of one sample of the portal's own metrics, 0 when absent.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits up to `limit` for `series` to reach `value`.
async fn wait_for_metric(app: &TestApp, series: &str, value: f64, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if metric(app, series).await == value {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Starts the slow range query in the background with a client that gives up after `patience`.
fn start_slow_query(app: &TestApp, patience: Duration) -> tokio::task::JoinHandle<Option<u16>> {
    let client = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", app.token).parse().unwrap(),
            )]
            .into_iter()
            .collect(),
        )
        .timeout(patience)
        .build()
        .unwrap();
    let url = app.url("/api/v1/query_range");
    let now = chrono::Utc::now().timestamp();
    let form = [
        ("query", SLOW_QUERY.to_string()),
        ("start", (now - 600).to_string()),
        ("end", now.to_string()),
        ("step", "1".to_string()),
    ];
    tokio::spawn(async move {
        client
            .post(url)
            .form(&form)
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    })
}

async fn error_of(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["errorType"].as_str().unwrap_or_default().to_string(),
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_query_nested_in_50000_parentheses_gets_400_and_the_portal_stays_up() {
    let app = spawn_one_app().await;
    let query = format!("{}1{}", "(".repeat(50_000), ")".repeat(50_000));

    let response = post_query(&app, "/api/v1/query", &[("query", &query)]).await;

    let (status, kind, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert_eq!(kind, "bad_data");
    assert!(message.contains("levels deep"), "{message}");
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        metric(&app, "portal_queries_total{outcome=\"too_deep\"}").await,
        1.0
    );
}

#[tokio::test]
async fn a_query_the_parser_panics_on_gets_400_bad_data() {
    // Found by fuzzing: a range too long for the parser's own Duration conversion.
    let app = spawn_one_app().await;
    let response = post_query(
        &app,
        "/api/v1/query",
        &[("query", "quantv[099999999999999999990000]n")],
    )
    .await;
    let (status, kind, message) = error_of(response).await;
    assert_eq!((status, kind.as_str()), (400, "bad_data"), "{message}");
    assert!(message.contains("invalid query"), "{message}");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_chain_of_5000_additions_gets_400_and_the_portal_stays_up() {
    let app = spawn_one_app().await;
    let query = vec!["up"; 5_000].join(" + ");

    let response = post_query(&app, "/api/v1/query", &[("query", &query)]).await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("operators"), "{message}");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn a_query_just_under_the_depth_limit_is_answered() {
    let app = spawn_one_app().await;
    let query = vec!["1"; 500].join(" + ");

    let response = post_query(&app, "/api/v1/query", &[("query", &query)]).await;

    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["result"][1], "500");
    // Vector operations nest the deepest frames.
    let vectors = format!("sum({})", vec!["up"; 499].join(" * on() "));
    let response = post_query(&app, "/api/v1/query", &[("query", &vectors)]).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn a_subquery_with_billions_of_steps_is_refused_at_once_by_the_sample_limit() {
    let app = spawn_one_app().await;

    let response = post_query(&app, "/api/v1/query", &[("query", "rate(up[30d:1ms])")]).await;

    let (status, _, message) = error_of(response).await;
    assert_eq!(status, 422);
    assert!(message.contains("too many samples"), "{message}");
    assert_eq!(
        metric(&app, "portal_queries_total{outcome=\"too_many_samples\"}").await,
        1.0
    );
}

#[tokio::test]
async fn a_query_loading_more_samples_than_the_limit_gets_422() {
    let input = SettingsInput {
        query_max_samples: Some(1_000),
        ..SettingsInput::default()
    };
    let app = spawn_one_app_on(fresh_database().await, input).await;
    let now = chrono::Utc::now().timestamp() * 1000;
    let batch: Vec<IncomingSeries> = ["a", "b"]
        .iter()
        .map(|agent| IncomingSeries {
            key: SeriesKey::from_pairs([("__name__", "busy"), ("agent_id", agent)]).unwrap(),
            samples: (0..600).map(|i| (now - 600_000 + i * 1000, 1.0)).collect(),
        })
        .collect();
    app.remote_write(&batch, &[]).await;

    let over = post_query(
        &app,
        "/api/v1/query",
        &[("query", "sum(count_over_time(busy[10m]))")],
    )
    .await;
    let under = post_query(
        &app,
        "/api/v1/query",
        &[("query", "count_over_time(busy{agent_id=\"a\"}[10m])")],
    )
    .await;

    let (status, _, message) = error_of(over).await;
    assert_eq!(status, 422);
    assert!(message.contains("too many samples"), "{message}");
    assert_eq!(under.status(), 200);
}

#[tokio::test]
async fn a_query_past_its_timeout_is_stopped_and_answered_503() {
    let input = SettingsInput {
        query_timeout: Some(HumanDuration(Duration::from_secs(1))),
        ..SettingsInput::default()
    };
    let app = spawn_one_app_on(fresh_database().await, input).await;

    let answer = start_slow_query(&app, Duration::from_secs(60))
        .await
        .unwrap();

    assert_eq!(answer, Some(503));
    assert_eq!(
        metric(&app, "portal_queries_total{outcome=\"timeout\"}").await,
        1.0
    );
    assert!(wait_for_metric(&app, "portal_queries_running", 0.0, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_query_whose_client_went_away_stops_evaluating() {
    let app = spawn_one_app().await;

    let answer = start_slow_query(&app, Duration::from_millis(1500))
        .await
        .unwrap();

    assert_eq!(answer, None, "the client gave up before an answer");
    assert!(
        wait_for_metric(&app, "portal_queries_running", 0.0, Duration::from_secs(10)).await,
        "the abandoned query still runs"
    );
    assert_eq!(
        metric(&app, "portal_queries_total{outcome=\"cancelled\"}").await,
        1.0
    );
}

/// A portal with one query slot and `queued` places in the queue, its slot taken by the slow
/// query of the test's own token, whose client gives up after `patience`.
async fn one_slot_taken(
    queued: usize,
    patience: Duration,
) -> (TestApp, tokio::task::JoinHandle<Option<u16>>) {
    let input = SettingsInput {
        query_max_concurrency: Some(1),
        query_max_queued: Some(queued),
        ..SettingsInput::default()
    };
    let app = spawn_one_app_on(fresh_database().await, input).await;
    let slow = start_slow_query(&app, patience);
    assert!(wait_for_metric(&app, "portal_queries_running", 1.0, Duration::from_secs(5)).await);
    (app, slow)
}

#[tokio::test]
async fn queries_beyond_the_concurrency_limit_and_the_queue_get_503_with_retry_after() {
    let (app, slow) = one_slot_taken(0, Duration::from_secs(5)).await;

    // Someone else (the slow query's owner would be over its share, a 429: see below).
    let other = other_client(&app).await;
    let response = post_query_as(&other, &app, "/api/v1/query", &[("query", "1")]).await;

    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let (_, kind, message) = error_of(response).await;
    assert_eq!(kind, "unavailable");
    assert!(message.contains("too many queries"), "{message}");
    slow.abort();
}

/// A client acting as another principal than the test's own token.
async fn other_client(app: &TestApp) -> reqwest::Client {
    let token = make_token(&app.app_pool, "someone else", &[Scope::Read]).await;
    client_with(Some(&token))
}

#[tokio::test]
async fn one_caller_past_its_fair_share_gets_429_while_others_still_get_in() {
    // One slot and two places in the queue: a share of one query per caller.
    let (app, slow) = one_slot_taken(2, Duration::from_secs(4)).await;

    let mine = post_query(&app, "/api/v1/query", &[("query", "1")]).await;
    assert_eq!(mine.status(), 429);
    assert_eq!(mine.headers()["retry-after"], "1");
    let (_, kind, message) = error_of(mine).await;
    assert_eq!(kind, "unavailable");
    assert!(message.contains("your share"), "{message}");

    // Another caller waits in the queue and is answered once the slot frees up.
    let other = other_client(&app).await;
    let theirs = post_query_as(&other, &app, "/api/v1/query", &[("query", "1")]).await;
    assert_eq!(theirs.status(), 200);
    assert_eq!(slow.await.unwrap(), None, "the slow query's client gave up");
    assert_eq!(
        metric(&app, "portal_queries_total{outcome=\"over_share\"}").await,
        1.0
    );
}

#[tokio::test]
async fn a_stop_signal_ends_running_queries_instead_of_waiting_for_them() {
    let input = SettingsInput {
        shutdown_timeout: Some(HumanDuration(Duration::from_secs(60))),
        ..SettingsInput::default()
    };
    let app = spawn_one_app_on(fresh_database().await, input).await;
    let slow = start_slow_query(&app, Duration::from_secs(60));
    assert!(wait_for_metric(&app, "portal_queries_running", 1.0, Duration::from_secs(5)).await);

    let stopping = Instant::now();
    app.stop().await;

    // The query would run for minutes and the shutdown timeout is a minute: stopping it is
    // what lets the portal exit this soon.
    assert!(
        stopping.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopping.elapsed()
    );
    assert_eq!(slow.await.unwrap(), Some(503));
}
