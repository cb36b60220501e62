//! Log rules: an alert rule whose LogQL query counts matching lines, previewed against the
//! stored lines with the evaluator's own code, evaluated on its interval, and notified with
//! the newest lines it counted; bad log rules are refused naming the field.

use crate::alerting::{create_rule, now_ms, route_all_to, send, Receiver};
use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

const QUERY: &str =
    r#"sum by (service_name) (count_over_time({} |= "timeout" | level=~"error|fatal" [5m]))"#;

async fn push_ndjson(app: &TestApp, lines: &[Value]) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    crate::logs::push_lines(app, "", "application/x-ndjson", &body).await;
}

fn line(service: &str, level: &str, at_ms: Option<i64>, message: &str) -> Value {
    let mut l = json!({"service": service, "level": level, "message": message});
    if let Some(t) = at_ms {
        l["time"] = json!(t);
    }
    l
}

fn log_rule(interval: &str) -> Value {
    json!({
        "folder": "Agents",
        "group": "log-errors",
        "interval": interval,
        "rule": {
            "name": "ToolTimeouts",
            "signal": "logs",
            "query": QUERY,
            "simple_logs": {"contains": "timeout", "level": "error", "window": "5m", "group_by": ["service_name"]},
            "condition": {"type": "above", "threshold": 3},
            "for": "0s",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "{{ $labels.service_name }}: {{ $value }} timeouts in 5 minutes"}
        }
    })
}

#[tokio::test]
async fn a_log_rule_previews_fires_and_notifies_with_the_lines_it_counted() {
    let app = spawn_app().await;
    // Ten minutes of history: six error timeouts from the coder in minute 3, two from the
    // planner, and info lines that mention timeouts (not counted: below the level).
    let minute = 60_000;
    let base = now_ms() / minute * minute - 20 * minute;
    let mut history: Vec<Value> = (0..6)
        .map(|i| {
            line(
                "coder",
                "error",
                Some(base + 3 * minute + i * 10_000),
                "tool call timeout after 30 s",
            )
        })
        .collect();
    for i in 0..2 {
        history.push(line(
            "planner",
            "error",
            Some(base + 3 * minute + i * 10_000),
            "timeout",
        ));
    }
    for i in 0..10 {
        history.push(line(
            "coder",
            "info",
            Some(base + 3 * minute + i * 1000),
            "retrying after timeout",
        ));
    }
    push_ndjson(&app, &history).await;

    let rule = log_rule("1m")["rule"].clone();
    let (status, preview) = send(
        &app,
        reqwest::Method::POST,
        "/api/alerting/preview",
        json!({"rule": rule, "interval": "1m", "start": base, "end": base + 12 * minute}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["alerts"], 1, "{preview}");
    let series = preview["series"].as_array().unwrap();
    let coder = series
        .iter()
        .find(|s| s["labels"]["service_name"] == "coder")
        .unwrap_or_else(|| panic!("{preview}"));
    assert_eq!(coder["fired"], 1);
    // Counted over (t - 5m, t]: the six lines from 3:00 to 3:50 are all in the windows
    // ending at 4:00 … 8:00 (at 8:00 the 3:00 line has left: five remain, still above 3).
    assert_eq!(coder["spans"][0]["state"], "firing");
    assert_eq!(coder["spans"][0]["start"], base + 4 * minute);
    assert_eq!(coder["spans"][0]["end"], base + 9 * minute);
    let peak = coder["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(peak, 6.0, "info lines must not be counted");
    let planner = series
        .iter()
        .find(|s| s["labels"]["service_name"] == "planner")
        .unwrap_or_else(|| panic!("{preview}"));
    assert_eq!(planner["fired"], 0);

    // Live: five fresh timeouts from the coder, a rule evaluated every second, and a webhook.
    let receiver = Receiver::start().await;
    route_all_to(
        &app,
        &receiver,
        "ops-hook",
        json!({"group_by": ["alertname"], "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}),
    )
    .await;
    let fresh: Vec<Value> = (0..5)
        .map(|i| {
            line(
                "coder",
                "error",
                None,
                &format!("tool call timeout after 30 s (task t-{i})"),
            )
        })
        .collect();
    push_ndjson(&app, &fresh).await;
    create_rule(&app, log_rule("1s")).await;
    let body = receiver
        .wait_for(Duration::from_secs(20), |b| b["status"] == "firing")
        .await;
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "ToolTimeouts");
    assert_eq!(alert["labels"]["service_name"], "coder");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(
        alert["annotations"]["summary"],
        "coder: 5 timeouts in 5 minutes"
    );
    let lines = alert["annotations"]["matching_lines"].as_str().unwrap();
    assert_eq!(lines.lines().count(), 5, "{lines}");
    assert!(
        lines
            .lines()
            .all(|l| l.contains(" error tool call timeout after 30 s (task t-")),
        "{lines}"
    );
    assert!(
        lines.lines().next().unwrap().ends_with("(task t-4)"),
        "newest first: {lines}"
    );
    app.stop().await;
}

#[tokio::test]
async fn bad_log_rules_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        // Lines, not a count of them.
        (
            json!({"query": "{service=\"coder\"} |= \"timeout\""}),
            "query",
            "counts",
        ),
        (
            json!({"query": "sum(count_over_time({} [5m]) "}),
            "query",
            "parse error",
        ),
        (
            json!({"query": "sum(count_over_time({} |= \"x\" [500d]))"}),
            "query",
            "range",
        ),
        // PromQL is not LogQL.
        (
            json!({"query": "rate(http_requests_total[5m])"}),
            "query",
            "parse error",
        ),
        (
            json!({"simple_logs": {"level": "loud", "window": "5m"}}),
            "simple_logs.level",
            "one of",
        ),
        (
            json!({"kind": "recording", "name": "lines:5m"}),
            "signal",
            "recording",
        ),
    ];
    for (change, field, says) in cases {
        let mut body = log_rule("1m");
        for (k, v) in change.as_object().unwrap() {
            body["rule"][k] = v.clone();
        }
        let (status, answer) = send(&app, reqwest::Method::POST, "/api/alerting/rules", body).await;
        assert!(status == 422 || status == 400, "{field}: {status} {answer}");
        let got = answer["error"]["field"].as_str().unwrap_or("");
        assert!(got.ends_with(field), "{field}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains(says), "{field}: {answer}");
    }
    let (_, rules) = send(
        &app,
        reqwest::Method::GET,
        "/api/alerting/rules",
        Value::Null,
    )
    .await;
    assert_eq!(rules, json!([]));
    app.stop().await;
}

/// The lines of the portal's own error-group stream, newest first.
async fn group_events(app: &TestApp, event: &str) -> Vec<Value> {
    let (status, page) = send(
        app,
        reqwest::Method::GET,
        &format!("/api/logs/search?query=portal_event:{event}&from=now-1h&to=now%2B5m"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    page["lines"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_new_or_regressed_error_group_is_announced_once_and_alerts_through_a_log_rule() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    route_all_to(
        &app,
        &receiver,
        "ops-hook",
        json!({"group_by": ["alertname", "fingerprint"], "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}),
    )
    .await;
    // The rule the Errors page offers: a line of the new-group stream, by fingerprint.
    create_rule(
        &app,
        json!({
            "folder": "Agents",
            "group": "new-errors",
            "interval": "1s",
            "rule": {
                "name": "NewErrorGroup",
                "signal": "logs",
                "query": r#"sum by (fingerprint, error_kind) (count_over_time({portal_event="new_error_group"} [10m]))"#,
                "simple_logs": {"selector": "portal_event=\"new_error_group\"", "window": "10m", "group_by": ["fingerprint", "error_kind"]},
                "condition": {"type": "above", "threshold": 0},
                "for": "0s",
                "annotations": {"summary": "{{ $labels.error_kind }} is new"}
            }
        }),
    )
    .await;
    let failure = |task: i64| {
        line(
            "coder",
            "error",
            None,
            &format!("ToolTimeoutError: tool search timed out after 30 s (task t-{task})\nTraceback (most recent call last):\n  File \"agents/tools.py\", line 88, in call\nToolTimeoutError: timed out"),
        )
    };
    // Three lines of one failure (the task id varies) in two writes: one group, announced once.
    push_ndjson(&app, &[failure(1), failure(2)]).await;
    push_ndjson(&app, &[failure(3), line("coder", "info", None, "fine")]).await;
    let events = group_events(&app, "new_error_group").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["level"], "warn");
    assert_eq!(event["fields"]["error_kind"], "ToolTimeoutError");
    assert_eq!(event["fields"]["error_service"], "coder");
    assert_eq!(event["fields"]["error_frame"], "agents/tools.py in call");
    assert!(
        event["fields"]["example"]
            .as_str()
            .unwrap()
            .contains("(task t-1)"),
        "the group's first line: {event}"
    );
    let fingerprint = event["fields"]["fingerprint"].as_str().unwrap().to_string();
    let (_, groups) = send(
        &app,
        reqwest::Method::GET,
        "/api/logs/errors?from=now-1h",
        Value::Null,
    )
    .await;
    assert_eq!(groups["groups"][0]["fingerprint"], fingerprint.as_str());

    // The rule fires for the new group, with the announcement among its lines.
    let body = receiver
        .wait_for(Duration::from_secs(20), |b| b["status"] == "firing")
        .await;
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "NewErrorGroup");
    assert_eq!(alert["labels"]["fingerprint"], fingerprint.as_str());
    assert_eq!(alert["annotations"]["summary"], "ToolTimeoutError is new");
    assert!(alert["annotations"]["matching_lines"]
        .as_str()
        .unwrap()
        .contains("new error group in coder: ToolTimeoutError"));

    // Resolved, then seen again: one regression announced, not one a line.
    let path = format!("/api/logs/errors/{fingerprint}");
    let resolve = || async {
        let (status, _) = send(
            &app,
            reqwest::Method::PUT,
            &path,
            json!({"status": "resolved"}),
        )
        .await;
        assert_eq!(status, 200);
        // Lines after it, on the clock the resolve was stamped with.
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    resolve().await;
    assert!(group_events(&app, "regressed_error_group").await.is_empty());
    push_ndjson(&app, &[failure(4)]).await;
    push_ndjson(&app, &[failure(5)]).await;
    let regressed = group_events(&app, "regressed_error_group").await;
    assert_eq!(regressed.len(), 1, "{regressed:?}");
    assert_eq!(regressed[0]["fields"]["fingerprint"], fingerprint.as_str());
    assert_eq!(group_events(&app, "new_error_group").await.len(), 1);
    // Resolved again and seen again: announced again.
    resolve().await;
    push_ndjson(&app, &[failure(6)]).await;
    assert_eq!(group_events(&app, "regressed_error_group").await.len(), 2);
    app.stop().await;
}
