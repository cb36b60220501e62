use crate::helpers::{fresh_database, spawn_app_on};
use axum::{routing::get, Router};
use server::config::{HumanDuration, ScrapeInput, SettingsInput};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// A target whose exposition the test can change; returns its address.
async fn target(exposition: Arc<Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let text = exposition.lock().unwrap().clone();
            async move { text }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn job(name: &str, targets: Vec<String>) -> ScrapeInput {
    ScrapeInput {
        job: name.into(),
        targets,
        interval: Some(HumanDuration(Duration::from_secs(1))),
        labels: [("env".to_string(), "test".to_string())].into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn targets_are_scraped_with_job_instance_up_and_staleness() {
    let exposition = Arc::new(Mutex::new(
        "# HELP agent_queue_depth Tasks waiting\n# TYPE agent_queue_depth gauge\n\
         agent_queue_depth{queue_name=\"triage\",job=\"inner\"} 4\n\
         agent_queue_depth{queue_name=\"review\"} 9\n"
            .to_string(),
    ));
    let address = target(exposition.clone()).await;
    let down = {
        // A port nothing listens on.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let input = SettingsInput {
        scrape: vec![
            job("agents", vec![address.clone()]),
            job("gone", vec![down.clone()]),
        ],
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;

    eventually("two queue series", || async {
        app.instant("agent_queue_depth").await.len() == 2
    })
    .await;
    let triage = app
        .instant(r#"agent_queue_depth{queue_name="triage"}"#)
        .await;
    let labels = &triage[0]["metric"];
    assert_eq!(labels["job"], "agents");
    assert_eq!(labels["instance"], address.as_str());
    assert_eq!(labels["exported_job"], "inner");
    assert_eq!(labels["env"], "test");
    assert_eq!(triage[0]["value"][1], "4");

    let up = app.instant(r#"up{job="agents"}"#).await;
    assert_eq!(up[0]["value"][1], "1");
    let samples = app.instant(r#"scrape_samples_scraped{job="agents"}"#).await;
    assert_eq!(samples[0]["value"][1], "2");
    assert_eq!(
        app.instant(r#"scrape_duration_seconds{job="agents"}"#)
            .await
            .len(),
        1
    );
    eventually("up 0 for the target that is down", || async {
        let up = app.instant(&format!(r#"up{{instance="{down}"}}"#)).await;
        up.first().is_some_and(|u| u["value"][1] == "0")
    })
    .await;
    let metadata: serde_json::Value = app
        .get("/api/v1/metadata?metric=agent_queue_depth")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["data"]["agent_queue_depth"][0]["help"],
        "Tasks waiting"
    );

    // A series the target stops exposing is stale at the next scrape, not five minutes later.
    *exposition.lock().unwrap() = "agent_queue_depth{queue_name=\"review\"} 10\n".into();
    eventually("the triage series to go stale", || async {
        app.instant("agent_queue_depth").await.len() == 1
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_portal_scrapes_itself_by_default() {
    let input = SettingsInput {
        scrape_self: Some(true),
        scrape_interval: Some(HumanDuration(Duration::from_secs(1))),
        ..Default::default()
    };
    let app = spawn_app_on(fresh_database().await, input).await;
    eventually("the portal's own metrics", || async {
        !app.instant(r#"portal_build_info{job="portal"}"#)
            .await
            .is_empty()
    })
    .await;
    let up = app.instant(r#"up{job="portal"}"#).await;
    assert_eq!(up[0]["value"][1], "1");
    app.stop().await;
}
