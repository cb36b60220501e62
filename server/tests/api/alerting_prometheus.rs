//! The portal against a stock Prometheus 2.42 (a real peer, started here on loopback): the same
//! rule file (the seeds' thresholds) imported into the portal and loaded by Prometheus, the same
//! samples remote-written to both, and the same alerts come out of both `/api/v1/alerts`:
//! labels, annotations (templates expanded) and state.

use crate::alerting::{gauge, now_ms};
use crate::helpers::spawn_app;
use crate::peers::start_peer;
use serde_json::Value;
use server::ingest::IncomingSeries;
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const RULES: &str = r#"
groups:
  - name: fleet
    interval: 1s
    rules:
      - alert: AgentTaskFailures
        expr: sum by (agent_id) (increase(agent_task_failure_total[5m])) > 5
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.agent_id }} failed too many tasks"
      - alert: QueueDepthHigh
        expr: max by (queue_name) (agent_queue_depth) > 100
        for: 1h
        annotations:
          summary: "Queue {{ $labels.queue_name }} holds {{ $value }} tasks"
      - alert: TaskDurationP95High
        expr: histogram_quantile(0.95, sum by (agent_id, le) (rate(agent_task_duration_seconds_bucket[5m]))) > 60
      - alert: ApiLatencyP95High
        expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
      - alert: AgentMemoryHigh
        expr: max by (agent_id) (agent_memory_usage_bytes) > 34.5e6
        annotations:
          summary: "{{ $labels.agent_id }} uses {{ $value | humanize }}B ({{ $value | humanize1024 }}B)"
      - alert: AgentDown
        expr: up == 0
        labels:
          severity: critical
      - alert: AgentErrorRateHigh
        expr: sum by (agent_id) (rate(agent_task_failure_total[5m])) / (sum by (agent_id) (rate(agent_task_success_total[5m])) + sum by (agent_id) (rate(agent_task_failure_total[5m]))) > 0.05
        annotations:
          summary: "{{ $labels.agent_id }} fails {{ $value | humanizePercentage }} of tasks"
      - alert: LlmDailyBudgetExceeded
        expr: sum by (agent_id) (increase(llm_cost_usd_total[1d])) > 10
      - record: agent:memory:max
        expr: max by (agent_id) (agent_memory_usage_bytes)
"#;

/// Ten minutes of a small fleet, one sample every 15 s: agent "a" healthy, "b" failing often,
/// slow, spending a lot and using much memory; a deep queue and a shallow one; one target down.
fn fleet() -> Vec<IncomingSeries> {
    let end = now_ms() / 1000 * 1000;
    let times: Vec<i64> = (0..40).rev().map(|i| end - i * 15_000).collect();
    let counter = |per_sample: f64| -> Vec<(i64, f64)> {
        times
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, per_sample * i as f64))
            .collect()
    };
    let constant = |v: f64| -> Vec<(i64, f64)> { times.iter().map(|t| (*t, v)).collect() };
    let mut series = vec![
        gauge(
            "agent_task_success_total",
            &[("agent_id", "a")],
            counter(10.0),
        ),
        gauge(
            "agent_task_success_total",
            &[("agent_id", "b")],
            counter(2.0),
        ),
        gauge(
            "agent_task_failure_total",
            &[("agent_id", "a")],
            counter(0.05),
        ),
        gauge(
            "agent_task_failure_total",
            &[("agent_id", "b")],
            counter(1.0),
        ),
        gauge(
            "agent_queue_depth",
            &[("queue_name", "coding")],
            constant(250.0),
        ),
        gauge(
            "agent_queue_depth",
            &[("queue_name", "review")],
            constant(3.0),
        ),
        gauge(
            "agent_memory_usage_bytes",
            &[("agent_id", "a")],
            constant(20e6),
        ),
        gauge(
            "agent_memory_usage_bytes",
            &[("agent_id", "b")],
            constant(52_428_800.0),
        ),
        gauge(
            "up",
            &[("job", "agents"), ("instance", "a:9000")],
            constant(1.0),
        ),
        gauge(
            "up",
            &[("job", "agents"), ("instance", "b:9000")],
            constant(0.0),
        ),
        gauge("llm_cost_usd_total", &[("agent_id", "a")], counter(0.01)),
        gauge("llm_cost_usd_total", &[("agent_id", "b")], counter(1.0)),
    ];
    // Durations: "a" finishes in under a second, "b" takes about two minutes.
    for (agent, slow) in [("a", false), ("b", true)] {
        for le in ["1", "10", "60", "120", "+Inf"] {
            let share = match (slow, le) {
                (false, _) => 1.0,
                (true, "1" | "10" | "60") => 0.0,
                (true, _) => 1.0,
            };
            series.push(gauge(
                "agent_task_duration_seconds_bucket",
                &[("agent_id", agent), ("le", le)],
                counter(share),
            ));
        }
    }
    for le in ["0.1", "0.5", "1", "+Inf"] {
        let share = if le == "0.1" { 0.0 } else { 1.0 };
        series.push(gauge(
            "http_request_duration_seconds_bucket",
            &[("le", le)],
            counter(share * 5.0),
        ));
    }
    series
}

/// The alerts of an `/api/v1/alerts` answer as comparable text.
fn alerts(body: &Value) -> BTreeSet<String> {
    body["data"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} {}", a["state"], a["labels"], a["annotations"]))
        .collect()
}

#[tokio::test]
async fn the_portal_and_prometheus_raise_the_same_alerts_from_the_same_rules_and_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n",
    )
    .unwrap();
    let dir_arg = |name: &str| dir.path().join(name).display().to_string();
    let mut prometheus = start_peer(
        "prometheus",
        &[
            format!("--config.file={}", dir_arg("prometheus.yml")),
            format!("--storage.tsdb.path={}", dir_arg("data")),
            "--web.enable-remote-write-receiver".into(),
        ],
    )
    .await;
    let base = prometheus.base.clone();
    let client = reqwest::Client::new();

    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/api/alerting/import?folder=peer"))
        .body(RULES)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let series = fleet();
    app.remote_write(&series, &[]).await;
    let written = client
        .post(format!("{base}/api/v1/write"))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .header("x-prometheus-remote-write-version", "0.1.0")
        .body(server::ingest::remote_write::encode(&series, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 204, "{}", written.text().await.unwrap());

    // Both evaluate every second; give them a few rounds, then compare.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (ours, theirs) = loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ours = alerts(&app.get("/api/v1/alerts").await.json().await.unwrap());
        let theirs = alerts(
            &client
                .get(format!("{base}/api/v1/alerts"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap(),
        );
        if (ours == theirs && theirs.len() == 7) || Instant::now() > deadline {
            break (ours, theirs);
        }
    };
    assert_eq!(
        ours, theirs,
        "the same alerts:\nportal: {ours:#?}\nprometheus: {theirs:#?}"
    );
    for expected in [
        "\"firing\" {\"agent_id\":\"b\",\"alertname\":\"AgentTaskFailures\",\"severity\":\"warning\"}",
        "\"pending\" {\"alertname\":\"QueueDepthHigh\",\"queue_name\":\"coding\"}",
        "\"firing\" {\"alertname\":\"AgentDown\",\"instance\":\"b:9000\",\"job\":\"agents\",\"severity\":\"critical\"}",
        "\"firing\" {\"agent_id\":\"b\",\"alertname\":\"AgentMemoryHigh\"} {\"summary\":\"b uses 52.43MB (50MiB)\"}",
    ] {
        assert!(ours.iter().any(|a| a.starts_with(expected)), "{expected} in {ours:#?}");
    }
    // The recording rule's series is in the store like any other.
    let recorded = app.instant("agent:memory:max").await;
    assert_eq!(recorded.len(), 2);
    prometheus.child.start_kill().ok();
    app.stop().await;
}
