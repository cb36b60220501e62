//! Recurring maintenance windows: a window open now mutes the alerts it matches (the others are
//! notified), keeps muting across a restart, shows in Alertmanager's API as a silence spanning
//! the running window, tells its contact point when it starts; bad schedules are refused by
//! field; inhibition rules mute an agent's task failures while that agent is down.

use crate::alerting::{create_rule, queue_rule, route_all_to, send, write_depths, Receiver};
use crate::helpers::{fresh_database, spawn_app, spawn_app_on};
use reqwest::Method;
use serde_json::{json, Value};
use server::config::SettingsInput;
use std::time::Duration;

/// A daily window, on the clock of `zone`, from 30 minutes ago to 90 minutes from now (over
/// midnight when the clock passes it).
fn open_window(zone: &str) -> Value {
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let now = chrono::Utc::now().with_timezone(&tz);
    let start = now - chrono::Duration::minutes(30);
    let end = now + chrono::Duration::minutes(90);
    json!({
        "time_zone": zone,
        "start_time": start.format("%H:%M").to_string(),
        "end_time": end.format("%H:%M").to_string(),
        "from": (start.date_naive() - chrono::Duration::days(1)).to_string(),
    })
}

async fn hook(app: &crate::helpers::TestApp, receiver: &Receiver) {
    route_all_to(
        app,
        receiver,
        "hook",
        json!({"group_by": ["alertname", "queue_name"], "group_wait": "0s", "group_interval": "1s"}),
    )
    .await;
}

/// One inhibition rule: `AgentDown` mutes `AgentTaskFailures` of the same `agent_id`.
pub async fn agent_down_inhibits_its_failures(app: &crate::helpers::TestApp) {
    let (status, body) = send(
        app,
        Method::PUT,
        "/api/alerting/inhibit-rules",
        json!([{
            "source_matchers": [{"name": "alertname", "op": "=", "value": "AgentDown"}],
            "target_matchers": [{"name": "alertname", "op": "=", "value": "AgentTaskFailures"}],
            "equal": ["agent_id"], "comment": "a down agent fails its tasks"
        }]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_window_open_now_mutes_its_alerts_across_a_restart_and_tells_its_contact_point() {
    let database = fresh_database().await;
    let app = spawn_app_on(database.clone(), SettingsInput::default()).await;
    let receiver = Receiver::start().await;
    hook(&app, &receiver).await;
    let (status, window) = send(
        &app,
        Method::POST,
        "/api/alerting/silences",
        json!({
            "matchers": [{"name": "queue_name", "op": "=", "value": "coding"}],
            "schedule": open_window("America/New_York"),
            "created_by": "ops", "comment": "nightly reindex", "notify": "hook"
        }),
    )
    .await;
    assert_eq!(status, 201, "{window}");
    assert_eq!(window["state"], "active", "{window}");
    let id = window["id"].as_str().unwrap().to_string();
    let occurrences = window["occurrences"].as_array().unwrap();
    assert_eq!(occurrences.len(), 5, "the running window and the next ones");
    let running_ends: chrono::DateTime<chrono::Utc> =
        occurrences[0]["ends_at"].as_str().unwrap().parse().unwrap();
    let next_starts: chrono::DateTime<chrono::Utc> = occurrences[1]["starts_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(next_starts - running_ends > chrono::Duration::hours(21));

    // Its contact point hears that it started.
    let notice = receiver
        .wait_for(Duration::from_secs(10), |v| {
            v["commonLabels"]["alertname"] == "SilenceStarted"
        })
        .await;
    assert_eq!(notice["commonLabels"]["silence_id"], id.as_str());

    // Alertmanager's API shows it as a silence over the running window.
    let (_, am) = send(
        &app,
        Method::GET,
        &format!("/api/v2/silence/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(am["status"]["state"], "active");
    let am_ends: chrono::DateTime<chrono::Utc> = am["endsAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(am_ends.timestamp(), running_ends.timestamp());

    write_depths(&app, &[("coding", 150.0), ("review", 150.0)]).await;
    create_rule(&app, queue_rule("0s")).await;
    receiver
        .wait_for(Duration::from_secs(15), |v| {
            v["groupLabels"]["queue_name"] == "review"
        })
        .await;
    app.stop().await;

    // Restarted during the window: still muted, and the start is not told again.
    let restarted_at = chrono::Utc::now();
    let app = spawn_app_on(database, SettingsInput::default()).await;
    write_depths(&app, &[("coding", 160.0), ("review", 160.0)]).await;
    crate::alerting::evaluated_since(&app, restarted_at).await;
    let received = receiver.received();
    assert!(
        received
            .iter()
            .all(|v| v["groupLabels"]["queue_name"] != "coding"),
        "the window mutes coding: {received:?}"
    );
    assert_eq!(
        received
            .iter()
            .filter(|v| v["commonLabels"]["alertname"] == "SilenceStarted")
            .count(),
        1
    );
    let (_, alerts) = send(
        &app,
        Method::GET,
        "/api/v2/alerts?filter=queue_name%3D%22coding%22",
        Value::Null,
    )
    .await;
    assert_eq!(alerts[0]["status"]["state"], "suppressed", "{alerts}");
    assert_eq!(alerts[0]["status"]["silencedBy"], json!([id]));
    let (_, active) = send(
        &app,
        Method::GET,
        "/api/v2/alerts?silenced=false",
        Value::Null,
    )
    .await;
    assert!(active
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["labels"]["queue_name"] == "review"));

    // Expiring the series ends the running window: coding is notified.
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
async fn windows_list_their_next_occurrences_and_bad_schedules_name_their_field() {
    let app = spawn_app().await;
    let (status, next) = send(
        &app,
        Method::POST,
        "/api/alerting/silences/occurrences",
        json!({
            "schedule": {"time_zone": "Europe/Berlin", "start_time": "02:30", "end_time": "03:30",
                         "weekdays": ["Sun"], "from": "2027-03-01", "until": "2027-04-30"},
            "count": 3
        }),
    )
    .await;
    assert_eq!(status, 200, "{next}");
    // 28 March 2027 springs forward at 02:00: the window opens at the jump (01:00 UTC).
    assert_eq!(next[0]["starts_at"], "2027-03-07T01:30:00Z");
    assert_eq!(next[3], Value::Null);
    assert_eq!(next[2]["starts_at"], "2027-03-21T01:30:00Z");
    let (_, more) = send(
        &app,
        Method::POST,
        "/api/alerting/silences/occurrences",
        json!({
            "schedule": {"time_zone": "Europe/Berlin", "start_time": "02:30", "end_time": "03:30",
                         "weekdays": ["Sun"], "from": "2027-03-28", "until": "2027-03-28"}
        }),
    )
    .await;
    assert_eq!(
        more,
        json!([{"starts_at": "2027-03-28T01:00:00Z", "ends_at": "2027-03-28T01:30:00Z"}])
    );

    let base = json!({"time_zone": "UTC", "start_time": "02:00", "end_time": "04:00", "from": "2026-01-01"});
    for (change, field) in [
        (json!({"time_zone": "Mars/Olympus"}), "schedule.time_zone"),
        (json!({"start_time": "2am"}), "schedule.start_time"),
        (json!({"end_time": "24:30"}), "schedule.end_time"),
        (json!({"weeks_of_month": [1]}), "schedule.weekdays"),
        (
            json!({"weeks_of_month": [6], "weekdays": ["Mon"]}),
            "schedule.weeks_of_month",
        ),
        (json!({"days_of_month": [0]}), "schedule.days_of_month"),
        (json!({"months": [13]}), "schedule.months"),
        (json!({"every_weeks": 0}), "schedule.every_weeks"),
        (json!({"until": "2025-01-01"}), "schedule.until"),
        (json!({"from": "0001-01-01"}), "schedule.from"),
        (json!({"days_of_month": [31], "months": [2]}), "schedule"),
    ] {
        let mut schedule = base.clone();
        for (k, v) in change.as_object().unwrap() {
            schedule[k] = v.clone();
        }
        let (status, body) = send(&app, Method::POST, "/api/alerting/silences", json!({
            "matchers": [{"name": "a", "op": "=", "value": "b"}], "schedule": schedule, "created_by": "ops"
        }))
        .await;
        assert_eq!(
            (status, body["error"]["field"].as_str()),
            (422, Some(field)),
            "{change}: {body}"
        );
    }
    let (status, body) = send(&app, Method::POST, "/api/alerting/silences", json!({
        "matchers": [{"name": "a", "op": "=", "value": "b"}], "schedule": base, "created_by": "ops", "notify": "nobody"
    }))
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("notify"))
    );
    let (_, list) = send(&app, Method::GET, "/api/alerting/silences", Value::Null).await;
    assert_eq!(list, json!([]), "nothing was saved");

    // A window that is not open now is upcoming, shown in Alertmanager's API as its next one;
    // Alertmanager clients cannot turn it into a one-off silence.
    let tz: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let later = chrono::Utc::now().with_timezone(&tz) + chrono::Duration::hours(3);
    let (status, window) = send(&app, Method::POST, "/api/alerting/silences", json!({
        "matchers": [{"name": "a", "op": "=", "value": "b"}], "created_by": "ops",
        "schedule": {"time_zone": "Asia/Tokyo", "start_time": later.format("%H:%M").to_string(),
                     "end_time": (later + chrono::Duration::minutes(30)).format("%H:%M").to_string(),
                     "from": (later.date_naive() - chrono::Duration::days(1)).to_string()}
    }))
    .await;
    assert_eq!(status, 201, "{window}");
    assert_eq!(window["state"], "pending");
    let id = window["id"].as_str().unwrap();
    let (_, am) = send(
        &app,
        Method::GET,
        &format!("/api/v2/silence/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(am["status"]["state"], "pending");
    assert_eq!(
        am["startsAt"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(
            window["occurrences"][0]["starts_at"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        )
    );
    let mut posted = json!({
        "id": id, "matchers": [{"name": "a", "value": "b", "isRegex": false, "isEqual": true}],
        "startsAt": am["startsAt"], "endsAt": am["endsAt"], "createdBy": "amtool", "comment": ""
    });
    let (status, body) = send(&app, Method::POST, "/api/v2/silences", posted.clone()).await;
    assert_eq!(status, 400, "{body}");
    posted["id"] = json!("");
    let (status, _) = send(&app, Method::POST, "/api/v2/silences", posted).await;
    assert_eq!(status, 200, "a new one-off silence is fine");
    app.stop().await;
}

#[tokio::test]
async fn an_agent_down_alert_inhibits_that_agents_task_failures() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    hook(&app, &receiver).await;
    agent_down_inhibits_its_failures(&app).await;
    // Refused whole, naming the field: the stored rule stays.
    let (status, body) = send(&app, Method::PUT, "/api/alerting/inhibit-rules", json!([
        {"source_matchers": [{"name": "a", "op": "=", "value": "b"}], "target_matchers": [{"name": "c", "op": "=~", "value": "("}]}
    ]))
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("rules[0].target_matchers[0].value"))
    );
    let (status, body) = send(
        &app,
        Method::PUT,
        "/api/alerting/inhibit-rules",
        json!([
            {"source_matchers": [], "target_matchers": [{"name": "c", "op": "=", "value": "d"}]}
        ]),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (422, Some("rules[0].source_matchers"))
    );
    let (_, rules) = send(
        &app,
        Method::GET,
        "/api/alerting/inhibit-rules",
        Value::Null,
    )
    .await;
    assert_eq!(rules.as_array().unwrap().len(), 1);

    // Alerts sent the way Prometheus sends them.
    let alert = |name: &str, agent: &str| {
        json!({"labels": {"alertname": name, "agent_id": agent, "queue_name": agent},
               "annotations": {"summary": format!("{name} on {agent}")},
               "generatorURL": "http://prometheus.example/graph"})
    };
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v2/alerts",
        json!([
            alert("AgentDown", "a1"),
            alert("AgentTaskFailures", "a1"),
            alert("AgentTaskFailures", "a2")
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    receiver
        .wait_for(Duration::from_secs(10), |v| {
            v["commonLabels"]["alertname"] == "AgentTaskFailures"
                && v["commonLabels"]["agent_id"] == "a2"
        })
        .await;
    receiver
        .wait_for(Duration::from_secs(10), |v| {
            v["commonLabels"]["alertname"] == "AgentDown"
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !receiver
            .received()
            .iter()
            .any(|v| v["commonLabels"]["alertname"] == "AgentTaskFailures"
                && v["commonLabels"]["agent_id"] == "a1"),
        "a1's failures are inhibited: {:?}",
        receiver.received()
    );
    let (_, listed) = send(
        &app,
        Method::GET,
        "/api/v2/alerts?inhibited=false",
        Value::Null,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    let (_, all) = send(
        &app,
        Method::GET,
        "/api/v2/alerts?filter=agent_id%3D%22a1%22&filter=alertname%3D%22AgentTaskFailures%22",
        Value::Null,
    )
    .await;
    assert_eq!(all[0]["status"]["state"], "suppressed");
    assert_eq!(all[0]["status"]["inhibitedBy"].as_array().unwrap().len(), 1);
    assert_eq!(all[0]["generatorURL"], "http://prometheus.example/graph");
    assert_eq!(all[0]["receivers"], json!([{"name": "hook"}]));
    let (_, ours) = send(&app, Method::GET, "/api/alerting/alerts", Value::Null).await;
    let inhibited = ours
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["labels"]["agent_id"] == "a1" && a["labels"]["alertname"] == "AgentTaskFailures"
        })
        .unwrap();
    assert_eq!(
        inhibited["inhibited_by"][0],
        "AgentDown{agent_id=\"a1\", queue_name=\"a1\"}"
    );

    // The source resolves: the inhibited alert is notified.
    let mut resolved = alert("AgentDown", "a1");
    resolved["endsAt"] = json!(chrono::Utc::now().to_rfc3339());
    let (status, _) = send(&app, Method::POST, "/api/v2/alerts", json!([resolved])).await;
    assert_eq!(status, 200);
    receiver
        .wait_for(Duration::from_secs(10), |v| {
            v["commonLabels"]["alertname"] == "AgentTaskFailures"
                && v["commonLabels"]["agent_id"] == "a1"
        })
        .await;

    // Bad alerts are refused whole, with the field.
    for (body, field) in [
        (json!([{"labels": {}}]), "[0].labels"),
        (
            json!([alert("X", "y"), {"labels": {"1bad": "x"}}]),
            "[1].labels",
        ),
        (
            json!([{"labels": {"a": "b"}, "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}]),
            "[0].endsAt",
        ),
    ] {
        let (status, answer) = send(&app, Method::POST, "/api/v2/alerts", body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer.as_str().unwrap().starts_with(field), "{answer}");
    }
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v2/alerts?active=maybe",
        Value::Null,
    )
    .await;
    assert_eq!(status, 400);
    let (_, listed) = send(&app, Method::GET, "/api/v2/alerts", Value::Null).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["labels"]["alertname"] != "X"),
        "nothing of a refused post was kept"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_silence_tells_its_contact_point_when_it_starts_and_before_it_ends() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    hook(&app, &receiver).await;
    let now = chrono::Utc::now();
    // Twenty seconds long: the ending notice is due halfway.
    let (status, silence) = send(&app, Method::POST, "/api/alerting/silences", json!({
        "matchers": [{"name": "queue_name", "op": "=", "value": "coding"}],
        "starts_at": now.to_rfc3339(), "ends_at": (now + chrono::Duration::seconds(20)).to_rfc3339(),
        "created_by": "ops", "comment": "failover drill", "notify": "hook"
    }))
    .await;
    assert_eq!(status, 201, "{silence}");
    let started = receiver
        .wait_for(Duration::from_secs(10), |v| {
            v["commonLabels"]["alertname"] == "SilenceStarted"
        })
        .await;
    assert_eq!(started["commonLabels"]["silence_id"], silence["id"]);
    assert_eq!(
        started["alerts"][0]["annotations"]["description"],
        "failover drill"
    );
    let ending = receiver
        .wait_for(Duration::from_secs(20), |v| {
            v["commonLabels"]["alertname"] == "SilenceEnding"
        })
        .await;
    assert!(ending["alerts"][0]["annotations"]["summary"]
        .as_str()
        .unwrap()
        .contains("queue_name=\"coding\""));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), 2, "each notice once");
    app.stop().await;
}
