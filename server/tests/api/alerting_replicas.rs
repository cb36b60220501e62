//! Alerting across replicas: two real portal processes on one database; exactly one evaluates
//! and one notifies, a notification is sent once, and when the evaluating process is killed
//! (SIGKILL) the other takes evaluation over within two intervals and sends the resolved
//! message, once.

use crate::alerting::{gauge, now_ms, Receiver};
use crate::helpers::{fresh_database, url_of};
use crate::workers::{eventually, runs_worker, start_portal, Portal};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const EVALUATOR: &str = "portal_worker_up{worker=\"alert-evaluator\"}";

async fn write_depth(portal: &Portal, value: f64) {
    let body = server::ingest::remote_write::encode(
        &[gauge(
            "test_queue_depth",
            &[("queue_name", "coding")],
            vec![(now_ms(), value)],
        )],
        &[],
    );
    let r = portal
        .client
        .post(format!("{}/api/v1/write", portal.url))
        .header("content-encoding", "snappy")
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
}

async fn post(portal: &Portal, method: reqwest::Method, path: &str, body: Value) {
    let r = portal
        .client
        .request(method, format!("{}{path}", portal.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "{path}: {}",
        r.text().await.unwrap()
    );
}

fn count(receiver: &Receiver, status: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|b| b["status"] == status)
        .count()
}

/// Sets up a webhook contact point and a rule on a deep queue through `setup` and `rules`,
/// and waits for the one firing notification.
async fn fire(setup: &Portal, rules: &Portal, receiver: &Receiver) {
    post(
        setup,
        reqwest::Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "hook", "type": "webhook", "url": receiver.url}),
    )
    .await;
    post(setup, reqwest::Method::PUT, "/api/alerting/policy", json!({"root": {
        "receiver": "hook", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"
    }})).await;
    write_depth(setup, 150.0).await;
    post(
        rules,
        reqwest::Method::POST,
        "/api/alerting/rules",
        json!({
            "group": "queues", "interval": "1s",
            "rule": {"name": "QueueDeep", "query": "max by (queue_name) (test_queue_depth)",
                     "condition": {"type": "above", "threshold": 100}}
        }),
    )
    .await;
    receiver
        .wait_for(Duration::from_secs(15), |v| v["status"] == "firing")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(receiver, "firing"), 1, "one notification");
}

/// Drains the queue through `portal` and checks that the alert resolved once: one firing and
/// one resolved notification in all, and each state change recorded once.
async fn resolve_once(
    portal: &Portal,
    receiver: &Receiver,
    database: sqlx::postgres::PgConnectOptions,
) {
    write_depth(portal, 10.0).await;
    receiver
        .wait_for(Duration::from_secs(15), |v| v["status"] == "resolved")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(receiver, "firing"), 1);
    assert_eq!(count(receiver, "resolved"), 1);

    let pool = sqlx::PgPool::connect_with(database).await.unwrap();
    let changes: Vec<(String, String)> =
        sqlx::query_as("select from_state, to_state from alert_state_change order by id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        changes,
        vec![
            ("inactive".into(), "firing".into()),
            ("firing".into(), "inactive".into())
        ],
        "each change recorded once"
    );
}

/// Stops portals as a stop signal would.
async fn stop(portals: &mut [&mut Portal]) {
    for portal in portals {
        if let Some(pid) = portal.child.id() {
            // SAFETY: sends SIGINT to a child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGINT) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), portal.child.wait()).await;
    }
}

#[tokio::test]
async fn two_portals_notify_once_and_the_survivor_takes_evaluation_over() {
    let database = fresh_database().await;
    let url = url_of(&database);
    let mut a = start_portal(&url).await;
    let mut b = start_portal(&url).await;
    let receiver = Receiver::start().await;
    fire(&a, &b, &receiver).await;

    // Kill the evaluating portal as a crash would.
    let (ra, rb) = (
        runs_worker(&a, EVALUATOR).await,
        runs_worker(&b, EVALUATOR).await,
    );
    assert!(
        matches!(
            (ra, rb),
            (Some(true), Some(false)) | (Some(false), Some(true))
        ),
        "{ra:?} {rb:?}"
    );
    let (dead, survivor) = if ra == Some(true) {
        (&mut a, &b)
    } else {
        (&mut b, &a)
    };
    dead.child.start_kill().unwrap();
    dead.child.wait().await.unwrap();
    let killed = Instant::now();
    assert!(
        eventually(Duration::from_secs(10), || async {
            runs_worker(survivor, EVALUATOR).await == Some(true)
        })
        .await,
        "the survivor takes evaluation over"
    );
    // The lock retry is 300 ms here; with the default of 2 s a 1 s group loses at most two.
    assert!(
        killed.elapsed() < Duration::from_secs(2),
        "took {:?}",
        killed.elapsed()
    );

    // The queue drains; the survivor resolves the alert and says so, once.
    resolve_once(survivor, &receiver, database).await;
    stop(&mut [&mut a, &mut b]).await;
}

#[tokio::test]
async fn a_lone_portal_killed_while_an_alert_fires_goes_on_from_its_saved_state_after_a_restart() {
    let database = fresh_database().await;
    let url = url_of(&database);
    let mut portal = start_portal(&url).await;
    let receiver = Receiver::start().await;
    fire(&portal, &portal, &receiver).await;

    // SIGKILL while it evaluates every second, then a restart as a supervisor would do it.
    portal.child.start_kill().unwrap();
    portal.child.wait().await.unwrap();
    let mut portal = start_portal(&url).await;
    assert!(
        eventually(Duration::from_secs(10), || async {
            runs_worker(&portal, EVALUATOR).await == Some(true)
        })
        .await,
        "the restarted portal evaluates"
    );
    // Still firing, and not announced again: the state and the notification log were saved.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(&receiver, "firing"),
        1,
        "no duplicate after the restart"
    );
    resolve_once(&portal, &receiver, database).await;
    stop(&mut [&mut portal]).await;
}
