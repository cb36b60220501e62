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

#[tokio::test]
async fn two_portals_notify_once_and_the_survivor_takes_evaluation_over() {
    let database = fresh_database().await;
    let url = url_of(&database);
    let mut a = start_portal(&url).await;
    let mut b = start_portal(&url).await;
    let receiver = Receiver::start().await;
    post(
        &a,
        reqwest::Method::POST,
        "/api/alerting/contact-points",
        json!({"name": "hook", "type": "webhook", "url": receiver.url}),
    )
    .await;
    post(&a, reqwest::Method::PUT, "/api/alerting/policy", json!({"root": {
        "receiver": "hook", "group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"
    }})).await;
    write_depth(&a, 150.0).await;
    post(
        &b,
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
    assert_eq!(
        count(&receiver, "firing"),
        1,
        "two portals, one notification"
    );

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
    write_depth(survivor, 10.0).await;
    receiver
        .wait_for(Duration::from_secs(15), |v| v["status"] == "resolved")
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&receiver, "firing"), 1);
    assert_eq!(count(&receiver, "resolved"), 1);

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
    for portal in [&mut a, &mut b] {
        if let Some(pid) = portal.child.id() {
            // SAFETY: sends SIGINT to a child this test started.
            unsafe { libc::kill(pid as i32, libc::SIGINT) };
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), portal.child.wait()).await;
    }
}
