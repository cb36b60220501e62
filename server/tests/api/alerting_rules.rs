//! Rule behaviour beyond thresholds: baselines compared with the value's own history, no-data
//! and error handling, pause and resume, and a provisioning directory of rule files.

use crate::alerting::{gauge, now_ms, send, write_depths};
use crate::helpers::{fresh_database, spawn_app, spawn_app_on, TestApp};
use serde_json::{json, Value};
use server::config::SettingsInput;
use std::time::{Duration, Instant};

/// Waits until the live alerts satisfy `check`; returns them.
async fn alerts_until(app: &TestApp, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let (_, alerts) = send(
            app,
            reqwest::Method::GET,
            "/api/alerting/alerts",
            Value::Null,
        )
        .await;
        let alerts = alerts.as_array().cloned().unwrap_or_default();
        if check(&alerts) {
            return alerts;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "alerts never matched: {alerts:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn has(alerts: &[Value], name: &str, state: &str) -> bool {
    alerts
        .iter()
        .any(|a| a["labels"]["alertname"] == name && a["state"] == state)
}

#[tokio::test]
async fn baselines_fire_on_departures_from_the_values_own_history() {
    let app = spawn_app().await;
    let day = 86_400_000;
    let now = now_ms();
    // The same time of day on each of the last 7 days: about 10 for "steady", about 10 for
    // "jumped" too; now "steady" is 10.4 and "jumped" 40.
    let mut steady = vec![];
    let mut jumped = vec![];
    for d in 1..=7 {
        let noise = [0.0, 0.5, -0.5, 0.3, -0.3, 0.2, -0.2][d as usize - 1];
        steady.push((now - d * day, 10.0 + noise));
        jumped.push((now - d * day, 10.0 + noise));
    }
    steady.sort_by_key(|p| p.0);
    jumped.sort_by_key(|p| p.0);
    steady.push((now, 10.4));
    jumped.push((now, 40.0));
    app.remote_write(
        &[
            gauge("test_latency", &[("api", "steady")], steady),
            gauge("test_latency", &[("api", "jumped")], jumped),
        ],
        &[],
    )
    .await;
    for (name, baseline) in [
        (
            "Deviates",
            json!({"type": "deviation", "days": 7, "sigmas": 3}),
        ),
        (
            "Doubled",
            json!({"type": "change", "offset": "1w", "percent": 50}),
        ),
    ] {
        let (status, body) = send(&app, reqwest::Method::POST, "/api/alerting/rules", json!({
            "group": "baselines", "interval": "1s",
            "rule": {"name": name, "query": "test_latency", "condition": {"type": "any"}, "baseline": baseline}
        }))
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let alerts = alerts_until(&app, |a| {
        has(a, "Deviates", "firing") && has(a, "Doubled", "firing")
    })
    .await;
    for a in &alerts {
        assert_eq!(
            a["labels"]["api"], "jumped",
            "only the jump departs from its history: {a}"
        );
    }
    // A baseline with a bad field is refused, naming it.
    let (status, body) = send(&app, reqwest::Method::POST, "/api/alerting/rules", json!({
        "group": "baselines",
        "rule": {"name": "X", "query": "test_latency", "baseline": {"type": "deviation", "days": 1, "sigmas": 3}}
    }))
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("baseline.days"))
    );
    app.stop().await;
}

#[tokio::test]
async fn no_data_and_failing_queries_do_what_the_rule_says() {
    let app = spawn_app().await;
    let rules = json!([
        {"name": "NothingOk", "query": "absent_metric_here", "no_data": "ok"},
        {"name": "NothingAlerts", "query": "absent_metric_here", "no_data": "alerting", "labels": {"team": "a"}},
        {"name": "NothingShown", "query": "absent_metric_here", "no_data": "no_data"},
        // A query that fails at evaluation: a subquery with more steps than the sample limit.
        {"name": "Fails", "query": "rate(up[30d:1ms])", "on_error": "alerting"},
    ]);
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        "/api/alerting/groups",
        json!({
            "folder": "edge", "name": "edge", "interval": "1s", "rules": rules
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let alerts = alerts_until(&app, |a| {
        has(a, "NothingAlerts", "firing")
            && has(a, "NothingShown", "nodata")
            && has(a, "Fails", "firing")
    })
    .await;
    assert!(!alerts
        .iter()
        .any(|a| a["labels"]["alertname"] == "NothingOk"));
    let nodata = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "NothingAlerts")
        .unwrap();
    assert_eq!(nodata["labels"]["nodata"], "true");
    assert_eq!(nodata["labels"]["team"], "a");
    let failing = alerts
        .iter()
        .find(|a| a["labels"]["alertname"] == "Fails")
        .unwrap();
    assert_eq!(failing["labels"]["error"], "true");
    let (_, rules) = send(
        &app,
        reqwest::Method::GET,
        "/api/alerting/rules?query=Fails",
        Value::Null,
    )
    .await;
    assert_eq!(rules[0]["health"], "error");
    assert!(
        rules[0]["last_error"].as_str().unwrap().contains("samples"),
        "{rules}"
    );
    let (_, shown) = send(
        &app,
        reqwest::Method::GET,
        "/api/alerting/rules?state=nodata",
        Value::Null,
    )
    .await;
    assert_eq!(shown.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_paused_rule_resolves_its_alerts_and_resumes() {
    let app = spawn_app().await;
    write_depths(&app, &[("a", 150.0)]).await;
    let (_, created) = send(&app, reqwest::Method::POST, "/api/alerting/rules", json!({
        "group": "q", "interval": "1s",
        "rule": {"name": "Deep", "query": "test_queue_depth", "condition": {"type": "above", "threshold": 100}}
    }))
    .await;
    let uid = created["rule"]["uid"].as_str().unwrap().to_string();
    alerts_until(&app, |a| has(a, "Deep", "firing")).await;
    let (status, paused) = send(
        &app,
        reqwest::Method::POST,
        &format!("/api/alerting/rules/{uid}/pause"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(paused["rule"]["paused"], true);
    alerts_until(&app, |a| a.is_empty()).await;
    send(
        &app,
        reqwest::Method::POST,
        &format!("/api/alerting/rules/{uid}/resume"),
        Value::Null,
    )
    .await;
    alerts_until(&app, |a| has(a, "Deep", "firing")).await;
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/rules/nope/pause",
        Value::Null,
    )
    .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_directory_of_rule_files_is_provisioned_and_kept_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fleet.yml"),
        "groups:\n  - name: queues\n    interval: 1s\n    rules:\n      - alert: Deep\n        expr: test_queue_depth > 100\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("broken.yaml"),
        "groups: [{name: x, rules: [{expr: 'up'}]}]",
    )
    .unwrap();
    let input = SettingsInput {
        rules_dir: Some(dir.path().to_path_buf()),
        ..SettingsInput::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    let (_, groups) = send(
        &app,
        reqwest::Method::GET,
        "/api/alerting/groups",
        Value::Null,
    )
    .await;
    assert_eq!(
        groups.as_array().unwrap().len(),
        1,
        "the broken file is left out: {groups}"
    );
    assert_eq!(groups[0]["folder"], "fleet");
    assert_eq!(groups[0]["source"], "provisioned");
    let uid = groups[0]["rules"][0]["uid"].as_str().unwrap().to_string();
    // Changed through its file only.
    let (status, body) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/alerting/rules/{uid}"),
        json!({
            "folder": "fleet", "group": "queues", "rule": {"name": "Deep", "query": "up"}
        }),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        "/api/alerting/groups/fleet/queues",
        Value::Null,
    )
    .await;
    assert_eq!(status, 409);
    write_depths(&app, &[("a", 150.0)]).await;
    alerts_until(&app, |a| has(a, "Deep", "firing")).await;
    // The file goes: so do its groups, at the next sync (every 10 s).
    std::fs::remove_file(dir.path().join("fleet.yml")).unwrap();
    let start = Instant::now();
    loop {
        let (_, groups) = send(
            &app,
            reqwest::Method::GET,
            "/api/alerting/groups",
            Value::Null,
        )
        .await;
        if groups.as_array().unwrap().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "the group is removed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    app.stop().await;
}
