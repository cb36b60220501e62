//! Silences: an active silence mutes the notifications of the alerts it matches while the
//! others are notified, the muted alerts show which silence mutes them, the preview names what a
//! silence would mute, and Alertmanager's v2 silence API (the shapes `amtool` speaks) creates,
//! changes (in place or by replacing, as Alertmanager decides), lists and expires them.

use crate::alerting::{send, write_depths, Receiver};
use crate::helpers::spawn_app;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn window(hours: i64) -> (String, String) {
    let now = chrono::Utc::now();
    (
        (now - chrono::Duration::seconds(5)).to_rfc3339(),
        (now + chrono::Duration::hours(hours)).to_rfc3339(),
    )
}

#[tokio::test]
async fn a_silence_mutes_the_alerts_it_matches_and_only_those() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "hook", "type": "webhook", "url": receiver.url}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(&app, Method::PUT, "/api/alerting/policy", json!({"root": {
        "receiver": "hook", "group_by": ["alertname", "queue_name"], "group_wait": "0s", "group_interval": "1s"
    }}))
    .await;
    assert_eq!(status, 200);
    let (starts, ends) = window(2);
    let (status, silence) = send(&app, Method::POST, "/api/alerting/silences", json!({
        "matchers": [{"name": "queue_name", "op": "=", "value": "coding"}],
        "starts_at": starts, "ends_at": ends, "created_by": "ops", "comment": "planned migration"
    }))
    .await;
    assert_eq!(status, 201, "{silence}");
    assert_eq!(silence["state"], "active");
    let id = silence["id"].as_str().unwrap().to_string();

    // Before anything fires, the preview already names the rule the silence could match.
    write_depths(&app, &[("coding", 150.0), ("review", 150.0)]).await;
    let (status, _) = send(
        &app,
        Method::POST,
        "/api/alerting/rules",
        json!({
            "group": "queues", "interval": "1s",
            "rule": {"name": "QueueDeep", "query": "max by (queue_name) (test_queue_depth)",
                     "condition": {"type": "above", "threshold": 100}}
        }),
    )
    .await;
    assert_eq!(status, 201);
    receiver
        .wait_for(Duration::from_secs(15), |v| {
            v["groupLabels"]["queue_name"] == "review"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        receiver
            .received()
            .iter()
            .all(|v| v["groupLabels"]["queue_name"] != "coding"),
        "the silenced queue is not notified: {:?}",
        receiver.received()
    );
    let (_, alerts) = send(&app, Method::GET, "/api/alerting/alerts", Value::Null).await;
    let coding = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["queue_name"] == "coding")
        .unwrap();
    assert_eq!(coding["silenced"], true, "still shown, marked silenced");
    assert_eq!(coding["silenced_by"], json!([id]));
    let (_, preview) = send(&app, Method::POST, "/api/alerting/silences/preview", json!({
        "matchers": [{"name": "alertname", "op": "=", "value": "QueueDeep"}, {"name": "queue_name", "op": "=~", "value": "cod.*"}]
    }))
    .await;
    assert_eq!(preview["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(preview["rules"][0]["name"], "QueueDeep");
    assert_eq!(
        preview["rules"][0]["certain"], false,
        "it depends on the series' labels"
    );

    // Expired: the muted alert is notified.
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/api/alerting/silences/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 204);
    receiver
        .wait_for(Duration::from_secs(15), |v| {
            v["groupLabels"]["queue_name"] == "coding"
        })
        .await;
    app.stop().await;
}

#[tokio::test]
async fn silences_that_would_mute_everything_or_last_too_long_are_refused() {
    let app = spawn_app().await;
    let (starts, ends) = window(2);
    for (matchers, field) in [
        (json!([]), "matchers"),
        (
            json!([{"name": "a", "op": "=~", "value": ".*"}]),
            "matchers",
        ),
        (json!([{"name": "a", "op": "=", "value": ""}]), "matchers"),
        (
            json!([{"name": "a", "op": "=~", "value": "("}]),
            "matchers[0].value",
        ),
        (
            json!([{"name": "1a", "op": "=", "value": "x"}]),
            "matchers[0].name",
        ),
    ] {
        let (status, body) = send(
            &app,
            Method::POST,
            "/api/alerting/silences",
            json!({
                "matchers": matchers, "starts_at": starts, "ends_at": ends, "created_by": "ops"
            }),
        )
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}"
        );
    }
    let (_, far) = window(24 * 40);
    let (status, body) = send(&app, Method::POST, "/api/alerting/silences", json!({
        "matchers": [{"name": "a", "op": "=", "value": "b"}], "starts_at": starts, "ends_at": far, "created_by": "ops"
    }))
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("ends_at"))
    );
    let (_, list) = send(&app, Method::GET, "/api/alerting/silences", Value::Null).await;
    assert_eq!(list, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn alertmanagers_v2_silence_api_round_trips() {
    let app = spawn_app().await;
    let (starts, ends) = window(1);
    let posted = json!({
        "matchers": [
            {"name": "alertname", "value": "QueueDeep", "isRegex": false, "isEqual": true},
            {"name": "queue_name", "value": "cod.*", "isRegex": true, "isEqual": true},
            {"name": "team", "value": "infra", "isRegex": false, "isEqual": false}
        ],
        "startsAt": starts, "endsAt": ends, "createdBy": "amtool", "comment": "maintenance"
    });
    let (status, created) = send(&app, Method::POST, "/api/v2/silences", posted.clone()).await;
    assert_eq!(status, 200, "{created}");
    let id = created["silenceID"].as_str().unwrap().to_string();

    let (status, got) = send(
        &app,
        Method::GET,
        &format!("/api/v2/silence/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got["status"]["state"], "active");
    assert_eq!(got["createdBy"], "amtool");
    assert_eq!(got["matchers"], posted["matchers"]);
    for key in ["id", "updatedAt", "startsAt", "endsAt", "comment"] {
        assert!(got.get(key).is_some(), "{key} in {got}");
    }

    // Extending a running silence keeps its id; changing its matchers replaces it.
    let mut extended = posted.clone();
    extended["id"] = json!(id);
    extended["startsAt"] = got["startsAt"].clone();
    extended["endsAt"] = json!((chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339());
    let (status, same) = send(&app, Method::POST, "/api/v2/silences", extended.clone()).await;
    assert_eq!(
        (status, same["silenceID"].as_str()),
        (200, Some(id.as_str()))
    );
    let mut changed = extended;
    changed["matchers"][0]["value"] = json!("QueueDeeper");
    let (_, replaced) = send(&app, Method::POST, "/api/v2/silences", changed).await;
    let new_id = replaced["silenceID"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    let (_, old) = send(
        &app,
        Method::GET,
        &format!("/api/v2/silence/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(old["status"]["state"], "expired");

    let (_, list) = send(
        &app,
        Method::GET,
        "/api/v2/silences?filter=alertname%3D%22QueueDeeper%22",
        Value::Null,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], new_id.as_str());
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/api/v2/silence/{new_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    let (_, gone) = send(
        &app,
        Method::GET,
        &format!("/api/v2/silence/{new_id}"),
        Value::Null,
    )
    .await;
    assert_eq!(gone["status"]["state"], "expired");
    let (status, _) = send(&app, Method::GET, "/api/v2/silence/nope", Value::Null).await;
    assert_eq!(status, 404);
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v2/silences",
        json!({"matchers": []}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    app.stop().await;
}
