//! Alerting end to end over the API: a rule saved through the API is evaluated on its
//! interval, its alert goes pending then firing then resolved, a webhook receiver (a real HTTP
//! server) gets Alertmanager's payload grouped as configured and then the resolved message,
//! state survives a restart, bad input is refused naming its field, Prometheus rule files go in
//! and out (`promtool check rules` accepts the export), recording rules write series, and the
//! preview replays history with the evaluator's code.

use crate::helpers::{fresh_database, spawn_app, spawn_app_on, TestApp};
use axum::{extract::State, routing::post, Json, Router};
use serde_json::{json, Value};
use server::{config::SettingsInput, ingest::IncomingSeries, labels::SeriesKey};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

pub fn gauge(name: &str, labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> IncomingSeries {
    let mut pairs = vec![("__name__", name)];
    pairs.extend_from_slice(labels);
    IncomingSeries {
        key: SeriesKey::from_pairs(pairs).unwrap(),
        samples,
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A webhook receiver on a free loopback port that keeps every JSON body it is sent.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
        let app = Router::new()
            .route(
                "/hook",
                post(
                    |State(b): State<Arc<Mutex<Vec<Value>>>>, Json(v): Json<Value>| async move {
                        b.lock().unwrap().push(v);
                        "ok"
                    },
                ),
            )
            .with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, bodies }
    }

    pub fn received(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    /// Waits until a body satisfies `check`; returns it.
    pub async fn wait_for(&self, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(v) = self.received().into_iter().find(|v| check(v)) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "no matching notification within {limit:?}; got {:?}",
            self.received()
        );
    }
}

pub async fn send(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    let response = app
        .client
        .request(method, app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

/// Waits until the alert list has an alert in `state`; returns it.
async fn wait_for_alert(app: &TestApp, state: &str, limit: Duration) -> Value {
    let start = Instant::now();
    while start.elapsed() < limit {
        let alerts = get_json(app, "/api/alerting/alerts").await;
        if let Some(a) = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["state"] == state)
        {
            return a.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no {state} alert within {limit:?}");
}

/// Writes the current depth of each queue.
pub async fn write_depths(app: &TestApp, depths: &[(&str, f64)]) {
    let t = now_ms();
    let series: Vec<IncomingSeries> = depths
        .iter()
        .map(|(queue, v)| gauge("test_queue_depth", &[("queue_name", queue)], vec![(t, *v)]))
        .collect();
    app.remote_write(&series, &[]).await;
}

/// Creates a rule (the call must succeed) and returns what the API answered.
pub async fn create_rule(app: &TestApp, body: Value) -> Value {
    let (status, created) = send(app, reqwest::Method::POST, "/api/alerting/rules", body).await;
    assert_eq!(status, 201, "{created}");
    created
}

/// Makes `receiver` the contact point `name` and the root of the routing tree, with `root`'s
/// grouping and timing.
pub async fn route_all_to(app: &TestApp, receiver: &Receiver, name: &str, mut root: Value) {
    let (status, body) = send(
        app,
        reqwest::Method::POST,
        "/api/alerting/contact-points",
        json!({"name": name, "type": "webhook", "url": receiver.url}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    root["receiver"] = json!(name);
    let (status, body) = send(
        app,
        reqwest::Method::PUT,
        "/api/alerting/policy",
        json!({ "root": root }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn route_to_webhook(app: &TestApp, receiver: &Receiver) {
    route_all_to(
        app,
        receiver,
        "ops-hook",
        json!({"group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}),
    )
    .await;
}

/// "The deepest queue of each name above 100 for `for_duration`", evaluated every second.
pub fn queue_rule(for_duration: &str) -> Value {
    json!({
        "folder": "Agents",
        "group": "queues",
        "interval": "1s",
        "rule": {
            "name": "QueueDeep",
            "query": "max by (queue_name) (test_queue_depth)",
            "condition": {"type": "above", "threshold": 100},
            "for": for_duration,
            "labels": {"severity": "warning"},
            "annotations": {"summary": "Queue {{ $labels.queue_name }} holds {{ $value }} tasks"}
        }
    })
}

#[tokio::test]
async fn an_alert_goes_pending_then_firing_then_resolves_and_is_notified_once_each_way() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    route_to_webhook(&app, &receiver).await;
    write_depths(&app, &[("coding", 150.0), ("review", 5.0)]).await;
    let created = create_rule(&app, queue_rule("2s")).await;
    let uid = created["rule"]["uid"].as_str().unwrap().to_string();

    let pending = wait_for_alert(&app, "pending", Duration::from_secs(10)).await;
    assert_eq!(pending["labels"]["queue_name"], "coding");
    assert_eq!(pending["labels"]["alertname"], "QueueDeep");
    assert_eq!(pending["labels"]["severity"], "warning");
    let firing = wait_for_alert(&app, "firing", Duration::from_secs(10)).await;
    assert_eq!(
        firing["annotations"]["summary"],
        "Queue coding holds 150 tasks"
    );
    assert_eq!(
        firing["active_at"], pending["active_at"],
        "pending time carries into firing"
    );

    let message = receiver
        .wait_for(Duration::from_secs(10), |v| v["status"] == "firing")
        .await;
    assert_eq!(message["version"], "4");
    assert_eq!(message["receiver"], "ops-hook");
    assert_eq!(message["groupLabels"], json!({"alertname": "QueueDeep"}));
    assert_eq!(message["commonLabels"]["severity"], "warning");
    let alerts = message["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only the deep queue alerts");
    assert_eq!(alerts[0]["labels"]["queue_name"], "coding");
    assert_eq!(alerts[0]["endsAt"], "0001-01-01T00:00:00Z");
    assert!(alerts[0]["generatorURL"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/alerting/rules/{uid}")));
    let image = alerts[0]["imageURL"].as_str().unwrap();
    assert!(image.contains("/api/alerting/images/"), "{image}");

    // The chart link opens without anything else, and only with its signature.
    let path = &image[image.find("/api/").unwrap()..];
    let png = app.get(path).await;
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(app.get(&path.replace(".png", "0.png")).await.status(), 404);

    // The queue drains: the alert resolves and the receiver is told once.
    write_depths(&app, &[("coding", 20.0)]).await;
    let resolved = receiver
        .wait_for(Duration::from_secs(15), |v| v["status"] == "resolved")
        .await;
    assert_eq!(resolved["alerts"][0]["status"], "resolved");
    assert_ne!(resolved["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let statuses: Vec<Value> = receiver
        .received()
        .iter()
        .map(|v| v["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!("firing"), json!("resolved")],
        "one message each way"
    );

    // History: pending, firing, resolved; the log says what was delivered.
    let history = get_json(&app, &format!("/api/alerting/rules/{uid}/history")).await;
    let changes: Vec<(String, String)> = history["changes"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|c| {
            (
                c["from"].as_str().unwrap().into(),
                c["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("inactive".into(), "pending".into()),
            ("pending".into(), "firing".into()),
            ("firing".into(), "inactive".into()),
        ]
    );
    assert_eq!(history["times_fired"], 1);
    assert!(history["mean_time_to_resolve_seconds"].as_f64().unwrap() > 0.0);
    let log = get_json(&app, "/api/alerting/notifications").await;
    let outcomes: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["delivered", "delivered"]);
    let rule = get_json(&app, &format!("/api/alerting/rules/{uid}")).await;
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["fired_7d"], 1);
    app.stop().await;
}

#[tokio::test]
async fn pending_time_and_firing_state_survive_a_restart_without_a_second_notification() {
    let database = fresh_database().await;
    let app = spawn_app_on(database.clone(), SettingsInput::default()).await;
    let receiver = Receiver::start().await;
    route_to_webhook(&app, &receiver).await;
    write_depths(&app, &[("coding", 150.0)]).await;
    create_rule(&app, queue_rule("0s")).await;
    let firing = wait_for_alert(&app, "firing", Duration::from_secs(10)).await;
    receiver
        .wait_for(Duration::from_secs(10), |v| v["status"] == "firing")
        .await;
    app.stop().await;

    let restarted_at = chrono::Utc::now();
    let app = spawn_app_on(database, SettingsInput::default()).await;
    evaluated_since(&app, restarted_at).await;
    let again = wait_for_alert(&app, "firing", Duration::from_secs(5)).await;
    assert_eq!(
        again["active_at"], firing["active_at"],
        "the same alert, not a new one"
    );
    assert_eq!(again["fired_at"], firing["fired_at"]);
    assert_eq!(receiver.received().len(), 1, "nothing is sent twice");
    // And it goes on from there: the queue drains, the restarted process resolves the alert it
    // took over and says so, once.
    write_depths(&app, &[("coding", 20.0)]).await;
    receiver
        .wait_for(Duration::from_secs(15), |v| v["status"] == "resolved")
        .await;
    assert_eq!(receiver.received().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_rules_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app().await;
    let cases = [
        (json!({"for": "5 minutes"}), "rule.for"),
        (json!({"query": "max by (queue_name (x"}), "query"),
        (
            json!({"condition": {"type": "outside", "low": 5, "high": 1}}),
            "condition.high",
        ),
        (
            json!({"annotations": {"summary": "{{ $value | shout }}"}}),
            "annotations.summary",
        ),
        (json!({"labels": {"alertname": "x"}}), "labels.alertname"),
        (json!({"name": ""}), "name"),
    ];
    for (change, field) in cases {
        let mut body = queue_rule("1m");
        for (k, v) in change.as_object().unwrap() {
            body["rule"][k] = v.clone();
        }
        let (status, answer) = send(&app, reqwest::Method::POST, "/api/alerting/rules", body).await;
        assert!(status == 422 || status == 400, "{field}: {status} {answer}");
        let got = answer["error"]["field"].as_str().unwrap_or("");
        assert!(field.ends_with(got) && !got.is_empty(), "{field}: {answer}");
    }
    let (status, answer) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/rules",
        json!({"group": "g", "interval": "0s", "rule": {"name": "x", "query": "up"}}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("interval"))
    );
    assert_eq!(get_json(&app, "/api/alerting/rules").await, json!([]));
    assert_eq!(get_json(&app, "/api/alerting/groups").await, json!([]));
    // A routing tree that names a contact point that does not exist.
    let (status, answer) = send(
        &app,
        reqwest::Method::PUT,
        "/api/alerting/policy",
        json!({"root": {"receiver": "nobody"}}),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("root.receiver"))
    );
    app.stop().await;
}

const RULE_FILE: &str = r#"
groups:
  - name: fleet
    interval: 15s
    rules:
      - alert: QueueDepthHigh
        expr: max by (queue_name) (test_queue_depth) > 100
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: "Queue {{ $labels.queue_name }} holds {{ $value }} tasks"
      - record: queue:test_queue_depth:max
        expr: max by (queue_name) (test_queue_depth)
"#;

#[tokio::test]
async fn prometheus_rule_files_import_export_and_promtool_accepts_the_export() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/alerting/import?folder=Imported"))
        .body(RULE_FILE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"groups": 1, "rules": 2})
    );
    // A form-made rule with a condition exports as a comparison.
    create_rule(&app, queue_rule("1m")).await;

    let export = app.get("/api/alerting/export").await.text().await.unwrap();
    assert!(
        export.contains("(max by (queue_name) (test_queue_depth)) > 100"),
        "{export}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &export).unwrap();
    let check = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool runs (installed by .ci/tools.sh)");
    assert!(
        check.status.success(),
        "promtool refused the export:\n{export}\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // A file that is not a rule file changes nothing.
    let before = get_json(&app, "/api/alerting/groups").await;
    let response = app
        .client
        .post(app.url("/api/alerting/import"))
        .body("groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: 'rate(x[5m]'\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "groups[0].rules[0].query");
    assert_eq!(get_json(&app, "/api/alerting/groups").await, before);
    app.stop().await;
}

#[tokio::test]
async fn recording_rules_write_series_that_queries_read() {
    let app = spawn_app().await;
    write_depths(&app, &[("a", 7.0), ("b", 9.0)]).await;
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        "/api/alerting/groups",
        json!({"folder": "Rec", "name": "rec", "interval": "1s", "rules": [
            {"kind": "recording", "name": "queue:depth:sum", "query": "sum(test_queue_depth)", "labels": {"source": "rule"}}
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let start = Instant::now();
    loop {
        let result = app.instant("queue:depth:sum").await;
        if let Some(s) = result.first() {
            assert_eq!(s["metric"]["source"], "rule");
            assert_eq!(s["value"][1], "16");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the recorded series appears"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn the_prometheus_rules_and_alerts_endpoints_list_the_portals_rules() {
    let app = spawn_app().await;
    write_depths(&app, &[("coding", 150.0)]).await;
    create_rule(&app, queue_rule("1h")).await;
    wait_for_alert(&app, "pending", Duration::from_secs(10)).await;
    let rules = get_json(&app, "/api/v1/rules").await;
    assert_eq!(rules["status"], "success");
    let group = &rules["data"]["groups"][0];
    assert_eq!(group["name"], "queues");
    assert_eq!(group["file"], "Agents");
    assert_eq!(group["interval"], 1.0);
    let rule = &group["rules"][0];
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["state"], "pending");
    assert_eq!(rule["duration"], 3600);
    assert_eq!(
        rule["query"],
        "(max by (queue_name) (test_queue_depth)) > 100"
    );
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["alerts"][0]["value"], "1.5e+02");
    let alerts = get_json(&app, "/api/v1/alerts").await;
    assert_eq!(alerts["data"]["alerts"][0]["state"], "pending");
    assert_eq!(
        get_json(&app, "/api/v1/rules?type=record").await["data"]["groups"],
        json!([])
    );
    app.stop().await;
}

#[tokio::test]
async fn the_preview_replays_history_with_the_evaluators_state_machine() {
    let app = spawn_app().await;
    // Ten minutes of history, one sample a minute: above 100 from minute 3 to minute 7.
    let minute = 60_000;
    let base = now_ms() / minute * minute - 10 * minute;
    let samples: Vec<(i64, f64)> = (0..=10)
        .map(|m| {
            (
                base + m * minute,
                if (3..=7).contains(&m) { 150.0 } else { 10.0 },
            )
        })
        .collect();
    app.remote_write(
        &[gauge(
            "test_queue_depth",
            &[("queue_name", "coding")],
            samples,
        )],
        &[],
    )
    .await;
    let mut rule = queue_rule("2m")["rule"].clone();
    rule["query"] = json!("test_queue_depth");
    let (status, preview) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/preview",
        json!({"rule": rule, "interval": "1m", "start": base, "end": base + 10 * minute}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["alerts"], 1);
    assert_eq!(preview["thresholds"], json!([100.0]));
    let spans = preview["series"][0]["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0]["state"], "pending");
    assert_eq!(spans[0]["start"], base + 3 * minute);
    assert_eq!(spans[1]["state"], "firing");
    assert_eq!(spans[1]["start"], base + 5 * minute);
    assert_eq!(spans[1]["end"], base + 8 * minute);
    app.stop().await;
}

#[tokio::test]
async fn a_rule_can_send_straight_to_a_contact_point() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "direct", "type": "webhook", "url": receiver.url}),
    )
    .await;
    assert_eq!(status, 201);
    // No routing tree at all; the root's default timing applies, made short here.
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        "/api/alerting/policy",
        json!({"root": {"group_wait": "0s", "group_interval": "1s"}}),
    )
    .await;
    assert_eq!(status, 200);
    write_depths(&app, &[("coding", 150.0)]).await;
    let mut body = queue_rule("0s");
    body["rule"]["contact_point"] = json!("nobody");
    let (status, answer) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/rules",
        body.clone(),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("contact_point"))
    );
    body["rule"]["contact_point"] = json!("direct");
    create_rule(&app, body).await;
    let message = receiver
        .wait_for(Duration::from_secs(10), |v| v["status"] == "firing")
        .await;
    assert_eq!(message["receiver"], "direct");
    // A contact point a rule sends to is not deleted from under it.
    let (status, answer) = send(
        &app,
        reqwest::Method::DELETE,
        "/api/alerting/contact-points/direct",
        Value::Null,
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    app.stop().await;
}

/// A receiver with `send_resolved: false` hears what Alertmanager's would: no message when one
/// alert of a group resolves while others fire, and the next message (a new alert firing)
/// carries only the firing ones.
#[tokio::test]
async fn send_resolved_false_is_told_only_of_firing_alerts_as_alertmanager_does() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (status, body) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "quiet", "type": "webhook", "url": receiver.url, "send_resolved": false}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        "/api/alerting/policy",
        json!({"root": {"receiver": "quiet", "group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s", "repeat_interval": "1h"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    write_depths(&app, &[("coding", 150.0), ("review", 150.0)]).await;
    create_rule(&app, queue_rule("0s")).await;
    let first = receiver
        .wait_for(Duration::from_secs(15), |v| {
            v["alerts"].as_array().is_some_and(|a| a.len() == 2)
        })
        .await;
    assert_eq!(first["status"], "firing");
    // One resolves while the other fires; then a third fires, which is news.
    write_depths(&app, &[("coding", 150.0), ("review", 5.0)]).await;
    wait_for_alert_count(&app, 1).await;
    write_depths(&app, &[("coding", 150.0), ("ops", 150.0)]).await;
    let queues = |v: &Value| -> Vec<String> {
        v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{}:{}",
                    a["labels"]["queue_name"].as_str().unwrap(),
                    a["status"].as_str().unwrap()
                )
            })
            .collect()
    };
    let second = receiver
        .wait_for(Duration::from_secs(15), |v| {
            queues(v).iter().any(|q| q.starts_with("ops:"))
        })
        .await;
    let mut told = queues(&second);
    told.sort();
    assert_eq!(told, ["coding:firing", "ops:firing"], "{second}");
    let received = receiver.received();
    assert_eq!(received.len(), 2, "nothing between them: {received:?}");
    assert!(received.iter().all(|v| v["status"] == "firing"));
    app.stop().await;
}

/// Waits until exactly `n` alerts are firing or pending.
async fn wait_for_alert_count(app: &TestApp, n: usize) {
    let start = Instant::now();
    loop {
        let alerts = get_json(app, "/api/alerting/alerts").await;
        if alerts.as_array().unwrap().len() == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "not {n} alerts within 15 s: {alerts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The notification log keeps `PORTAL_NOTIFICATION_RETENTION` of records (as the audit log
/// keeps its own): older ones are forgotten by the retention job, newer ones stay.
#[tokio::test]
async fn the_notification_log_forgets_what_is_older_than_its_retention() {
    let database = crate::helpers::fresh_database().await;
    let pool = sqlx::PgPool::connect_with(database.clone()).await.unwrap();
    for (key, age_days) in [("old-group", 40), ("recent-group", 2)] {
        sqlx::query(
            "insert into notification_log (group_key, receiver, status, alerts, payload, created_at, rule_uids)
             values ($1, 'hook', 'firing', 1, '{}', now() - make_interval(days => $2), '{}')",
        )
        .bind(key)
        .bind(age_days)
        .execute(&pool)
        .await
        .unwrap();
    }
    let app = crate::helpers::spawn_app_on(
        database,
        server::config::SettingsInput {
            notification_retention: Some(server::config::HumanDuration(Duration::from_secs(
                30 * 86_400,
            ))),
            ..Default::default()
        },
    )
    .await;
    let start = Instant::now();
    loop {
        let keys: Vec<String> =
            sqlx::query_scalar("select group_key from notification_log order by group_key")
                .fetch_all(&pool)
                .await
                .unwrap();
        if keys == ["recent-group"] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the old record is not forgotten: {keys:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// A group cut off by its interval marks the rules it did not reach as such in their health,
/// as docs/alerting.md says: evaluation blocked by a lock on the alert instances outlasts the
/// one-second interval.
#[tokio::test]
async fn rules_a_group_cut_off_by_its_interval_did_not_reach_say_so() {
    let app = spawn_app().await;
    write_depths(&app, &[("coding", 150.0)]).await;
    let created = create_rule(&app, queue_rule("0s")).await;
    let uid = created["rule"]["uid"].as_str().unwrap().to_string();
    wait_for_alert(&app, "firing", Duration::from_secs(10)).await;
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("lock table alert_instance in access exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let start = Instant::now();
    let error = loop {
        let error: Option<String> =
            sqlx::query_scalar("select last_error from alert_rule where uid = $1")
                .bind(&uid)
                .fetch_one(&app.db)
                .await
                .unwrap();
        if let Some(e) = error.filter(|e| e.contains("longer than its interval")) {
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the rule's health does not say it was cut off"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    lock.rollback().await.unwrap();
    assert!(error.contains("\"queues\""), "{error}");
    app.stop().await;
}

/// Waits until the portal has evaluated every rule for slots two seconds or more after `since`
/// (for one-second groups: two rounds, and a group interval for what they would notify).
pub async fn evaluated_since(app: &TestApp, since: chrono::DateTime<chrono::Utc>) {
    let start = Instant::now();
    loop {
        let rules = get_json(app, "/api/alerting/rules").await;
        let caught_up = rules.as_array().unwrap().iter().all(|r| {
            r["last_evaluation"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| t > since + chrono::Duration::seconds(2))
        });
        if caught_up {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the portal does not evaluate: {rules}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
