//! Notifications to Slack-, PagerDuty- and email-shaped receivers: local HTTP servers that keep
//! what they are sent, and a real SMTP server (Python's aiosmtpd). One alert is routed to all
//! three (a `continue` route and a nested one); each gets a well-formed message when it fires
//! and when it resolves; "send test" reaches each, and a receiver that fails is retried and the
//! notification log says so.

use crate::alerting::{gauge, now_ms, send, write_depths, Receiver};
use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::{
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The SMTP sink: a real SMTP server writing each message it accepts into a directory.
struct SmtpSink {
    address: String,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpSink {
    async fn start() -> Self {
        let python = std::env::var("PORTAL_OTEL_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/portal-tools/otel")
            })
            .join("bin/python");
        let script = crate::helpers::manifest_dir().join("../tests/otel/smtp_sink.py");
        let dir = tempfile::tempdir().unwrap();
        let mut child = tokio::process::Command::new(python)
            .arg(script)
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP sink starts (aiosmtpd is installed by .ci/tools.sh)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP sink is ready")
            .unwrap()
            .unwrap();
        let port = line.strip_prefix("ready ").expect("ready <port>");
        Self {
            address: format!("127.0.0.1:{port}"),
            dir,
            _child: child,
        }
    }

    fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    async fn wait_for(&self, check: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(m) = self.messages().into_iter().find(|m| check(m)) {
                return m;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no such email; got {:?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> Value {
    let (status, body) = send(app, method, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {body}");
    body
}

/// A deep queue and a rule, evaluated every second, that fires on it.
async fn fire_queue_deep(app: &TestApp) {
    write_depths(app, &[("coding", 150.0)]).await;
    call(app, reqwest::Method::POST, "/api/alerting/rules", json!({
        "group": "queues", "interval": "1s",
        "rule": {"name": "QueueDeep", "query": "test_queue_depth", "condition": {"type": "above", "threshold": 100}}
    })).await;
}

#[tokio::test]
async fn slack_pagerduty_and_email_receive_well_formed_messages() {
    let app = spawn_app().await;
    let (slack, pagerduty, smtp) = (
        Receiver::start().await,
        Receiver::start().await,
        SmtpSink::start().await,
    );
    use reqwest::Method;
    call(
        &app,
        Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "slack", "type": "slack", "url": slack.url, "channel": "#agents"}),
    )
    .await;
    call(&app, Method::POST, "/api/alerting/contact-points", json!({"name": "pager", "type": "pagerduty", "routing_key": "R0UT1NGKEY", "url": pagerduty.url, "severity": "critical"})).await;
    call(&app, Method::POST, "/api/alerting/contact-points", json!({
        "name": "mail", "type": "email", "smtp": smtp.address, "from": "portal@example.com", "to": ["oncall@example.com", "lead@example.com"],
        "title_template": "[{{ $status | toUpper }}] {{ $alertname }} on {{ $labels.queue_name }}"
    })).await;

    // Every contact point's "send test" reaches it.
    for name in ["slack", "pager", "mail"] {
        let outcome = call(
            &app,
            Method::POST,
            &format!("/api/alerting/contact-points/{name}/test"),
            json!({}),
        )
        .await;
        assert_eq!(outcome["delivered"], true, "{name}: {outcome}");
    }
    assert!(slack.received()[0]["text"]
        .as_str()
        .unwrap()
        .contains("TestAlert"));
    let test_mail = smtp.wait_for(|m| m.contains("TestAlert")).await;
    assert!(
        test_mail.contains("X-Envelope-To: oncall@example.com, lead@example.com"),
        "{test_mail}"
    );

    // Everything to Slack (and go on); critical alerts also page (and go on); queues also mail.
    call(&app, Method::PUT, "/api/alerting/policy", json!({"root": {
        "receiver": "slack", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h",
        "routes": [
            {"receiver": "slack", "continue": true},
            {"receiver": "pager", "matchers": [{"name": "severity", "op": "=", "value": "critical"}], "continue": true,
             "routes": [{"receiver": "pager", "matchers": [{"name": "queue_name", "op": "=~", "value": "cod.*"}]}]},
            {"receiver": "mail", "matchers": [{"name": "queue_name", "op": "!=", "value": ""}]}
        ]
    }})).await;
    let write = |v: f64| {
        gauge(
            "test_queue_depth",
            &[("queue_name", "coding")],
            vec![(now_ms(), v)],
        )
    };
    app.remote_write(&[write(150.0)], &[]).await;
    call(&app, Method::POST, "/api/alerting/rules", json!({
        "group": "queues", "interval": "1s",
        "rule": {"name": "QueueDeep", "query": "max by (queue_name) (test_queue_depth)",
                 "condition": {"type": "above", "threshold": 100},
                 "labels": {"severity": "critical"},
                 "annotations": {"summary": "Queue {{ $labels.queue_name }} holds {{ $value }} tasks",
                                 "runbook_url": "https://runbooks.example.com/queues"}}
    })).await;

    let firing = slack
        .wait_for(Duration::from_secs(15), |v| {
            v["text"]
                .as_str()
                .is_some_and(|t| t.contains("FIRING") && t.contains("QueueDeep"))
        })
        .await;
    assert_eq!(firing["channel"], "#agents");
    let attachment = &firing["attachments"][0];
    assert_eq!(attachment["color"], "#d63232");
    assert_eq!(attachment["title"], "[FIRING] QueueDeep");
    assert!(attachment["title_link"]
        .as_str()
        .unwrap()
        .contains("/alerting/rules/"));
    assert!(attachment["text"]
        .as_str()
        .unwrap()
        .contains("Queue coding holds 150 tasks"));
    assert!(attachment["image_url"]
        .as_str()
        .unwrap()
        .contains("/api/alerting/images/"));

    let trigger = pagerduty
        .wait_for(Duration::from_secs(15), |v| {
            v["event_action"] == "trigger" && v["payload"]["class"] == "QueueDeep"
        })
        .await;
    assert_eq!(trigger["routing_key"], "R0UT1NGKEY");
    assert_eq!(trigger["payload"]["severity"], "critical");
    assert!(trigger["payload"]["summary"]
        .as_str()
        .unwrap()
        .contains("QueueDeep"));
    assert_eq!(trigger["payload"]["class"], "QueueDeep");
    assert!(trigger["payload"]["source"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    assert_eq!(trigger["links"][0]["text"], "Alert rule");
    let dedup = trigger["dedup_key"].as_str().unwrap().to_string();
    assert_eq!(dedup.len(), 16);

    let mail = smtp
        .wait_for(|m| m.contains("Subject: [FIRING] QueueDeep on coding"))
        .await;
    assert!(mail.contains("From: portal@example.com"), "{mail}");
    assert!(mail.contains("Queue coding holds 150 tasks"), "{mail}");
    assert!(
        mail.contains("runbook: https://runbooks.example.com/queues"),
        "{mail}"
    );
    assert!(mail.contains("/explore/metrics?q="), "{mail}");

    // Resolved: each receiver hears it once; PagerDuty resolves the same incident.
    app.remote_write(&[write(5.0)], &[]).await;
    let resolve = pagerduty
        .wait_for(Duration::from_secs(15), |v| v["event_action"] == "resolve")
        .await;
    assert_eq!(resolve["dedup_key"], dedup.as_str());
    slack
        .wait_for(Duration::from_secs(15), |v| {
            v["attachments"][0]["color"] == "#2eb67d"
        })
        .await;
    smtp.wait_for(|m| m.contains("Subject: [RESOLVED] QueueDeep on coding"))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pages: Vec<Value> = pagerduty
        .received()
        .into_iter()
        .filter(|v| v["event_action"].is_string() && v["payload"]["class"] == "QueueDeep")
        .collect();
    assert_eq!(pages.len(), 2, "one trigger, one resolve: {pages:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_receiver_that_fails_is_retried_and_the_log_says_so() {
    let app = spawn_app().await;
    // Nothing listens here.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    use reqwest::Method;
    call(
        &app,
        Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "down", "type": "webhook", "url": format!("http://{closed}/hook")}),
    )
    .await;
    let outcome = call(
        &app,
        Method::POST,
        "/api/alerting/contact-points/down/test",
        json!({}),
    )
    .await;
    assert_eq!(outcome["delivered"], false);
    assert!(
        outcome["answer"]
            .as_str()
            .unwrap()
            .contains("request failed"),
        "{outcome}"
    );
    call(
        &app,
        Method::PUT,
        "/api/alerting/policy",
        json!({"root": {"receiver": "down", "group_wait": "0s", "group_interval": "1s"}}),
    )
    .await;
    fire_queue_deep(&app).await;
    let start = Instant::now();
    loop {
        let log = call(
            &app,
            Method::GET,
            "/api/alerting/notifications",
            Value::Null,
        )
        .await;
        let entry = log
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["status"] == "firing")
            .cloned();
        if let Some(n) = entry.filter(|n| n["attempts"].as_u64().unwrap_or(0) >= 2) {
            assert_eq!(n["receiver"], "down");
            assert!(n["response"].as_str().unwrap().contains("request failed"));
            assert_ne!(n["outcome"], "delivered");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "retried: {log}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// A webhook that accepts connections and never answers: each is held open, unread.
struct HungReceiver {
    url: String,
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HungReceiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(socket);
            }
        });
        Self { url, connections }
    }
}

#[tokio::test]
async fn a_hung_receiver_delays_neither_evaluation_nor_other_receivers() {
    let app = spawn_app().await;
    let (hung, fast) = (HungReceiver::start().await, Receiver::start().await);
    use reqwest::Method;
    for (name, url) in [("hung", &hung.url), ("fast", &fast.url)] {
        call(
            &app,
            Method::POST,
            "/api/alerting/contact-points",
            json!({"name": name, "type": "webhook", "url": url}),
        )
        .await;
    }
    // The hung receiver comes first in the tree, so a sequential delivery would wait on it.
    call(
        &app,
        Method::PUT,
        "/api/alerting/policy",
        json!({"root": {
            "receiver": "fast", "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h",
            "routes": [{"receiver": "hung", "continue": true}, {"receiver": "fast"}]
        }}),
    )
    .await;
    fire_queue_deep(&app).await;

    // Each attempt on the hung receiver waits 10 s for an answer; the other is told at once.
    let started = Instant::now();
    fast.wait_for(Duration::from_secs(8), |v| v["status"] == "firing")
        .await;
    let waited = started.elapsed();
    assert!(
        hung.connections.load(std::sync::atomic::Ordering::SeqCst) >= 1,
        "the hung receiver was called too"
    );
    // Evaluation goes on: the alert resolves and is told while the hung delivery still waits.
    write_depths(&app, &[("coding", 10.0)]).await;
    fast.wait_for(Duration::from_secs(8), |v| v["status"] == "resolved")
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "firing after {waited:?} and resolved after {:?}: neither waited for the hung receiver's 10 s",
        started.elapsed()
    );
    app.stop().await;
}
