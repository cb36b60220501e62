//! The portal as an Alertmanager, against real peers started here on loopback (installed by
//! `.ci/tools.sh`): `amtool` 0.25 adds, queries, updates, imports and expires silences and
//! queries alerts; a real Alertmanager 0.25 answers the same requests in the same JSON shapes;
//! a stock Prometheus 2.42 sends its alerts to the portal, which routes, silences and notifies
//! them like its own.

use crate::alerting::{route_all_to, send, Receiver};
use crate::helpers::{make_token, spawn_app, TestApp};
use crate::maintenance::agent_down_inhibits_its_failures;
use crate::peers::start_peer;
use app::api::accounts::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use std::{
    collections::BTreeMap,
    process::Stdio,
    time::{Duration, Instant},
};

/// Where `amtool` goes, and the `--http.config.file` with its credentials.
struct Am {
    url: String,
    config: tempfile::NamedTempFile,
}

impl Am {
    /// `http_config` is the YAML of Prometheus' HTTP client configuration (credentials).
    fn new(app: &TestApp, http_config: &str) -> Self {
        let config = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(config.path(), http_config).unwrap();
        Self {
            url: app.url("").trim_end_matches('/').to_string(),
            config,
        }
    }

    async fn run(&self, args: &[&str]) -> std::process::Output {
        tokio::process::Command::new("amtool")
            .arg(format!("--alertmanager.url={}", self.url))
            .arg(format!(
                "--http.config.file={}",
                self.config.path().display()
            ))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("amtool runs (installed by .ci/tools.sh)")
    }
}

/// Runs `amtool`; its standard output, or a panic with what it said.
async fn amtool(am: &Am, args: &[&str]) -> String {
    let out = am.run(args).await;
    assert!(
        out.status.success(),
        "amtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `amtool … -o json`, read.
async fn amtool_json(am: &Am, args: &[&str]) -> Value {
    let args: Vec<&str> = args.iter().copied().chain(["-o", "json"]).collect();
    serde_json::from_str(&amtool(am, &args).await).unwrap()
}

async fn route_to(app: &TestApp, receiver: &Receiver) {
    route_all_to(
        app,
        receiver,
        "hook",
        json!({"group_by": ["alertname"], "group_wait": "0s", "group_interval": "1s"}),
    )
    .await;
}

#[tokio::test]
async fn amtool_round_trips_silences_and_queries_alerts() {
    let app = spawn_app().await;
    let token = make_token(&app.db, "amtool", &[Scope::Alertmanager]).await;
    // Without credentials amtool is turned away; with the token as basic auth's password (as
    // its --http.config.file says) everything below works.
    let refused = Am::new(&app, "").run(&["silence", "query"]).await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401")
            || String::from_utf8_lossy(&refused.stderr).contains("nauthorized"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let am = Am::new(
        &app,
        &format!("basic_auth:\n  username: amtool\n  password: {token}\n"),
    );
    let url = &am;
    let id = amtool(
        url,
        &[
            "silence",
            "add",
            "alertname=QueueDeep",
            "queue_name=~cod.*",
            "team!=infra",
            "--duration=2h",
            "--author=amtool-user",
            "--comment=reindexing",
        ],
    )
    .await
    .trim()
    .to_string();
    assert_eq!(id.len(), 36, "a silence id: {id}");
    let listed = amtool_json(url, &["silence", "query"]).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["createdBy"], "amtool-user");
    assert_eq!(
        listed[0]["matchers"],
        json!([
            {"isEqual": true, "isRegex": false, "name": "alertname", "value": "QueueDeep"},
            {"isEqual": true, "isRegex": true, "name": "queue_name", "value": "cod.*"},
            {"isEqual": false, "isRegex": false, "name": "team", "value": "infra"}
        ])
    );
    // Queried by matcher, quietly (ids only).
    let quiet = amtool(url, &["silence", "query", "-q", "alertname=QueueDeep"]).await;
    assert_eq!(quiet.trim(), id);
    assert_eq!(
        amtool(url, &["silence", "query", "-q", "alertname=Other"])
            .await
            .trim(),
        ""
    );
    // Extended: the same id, a later end.
    let updated = amtool(url, &["silence", "update", &id, "--duration=5h"]).await;
    assert!(updated.contains(&id), "{updated}");
    let (_, got) = send(
        &app,
        Method::GET,
        &format!("/api/alerting/silences/{id}"),
        Value::Null,
    )
    .await;
    let ends: chrono::DateTime<chrono::Utc> = got["ends_at"].as_str().unwrap().parse().unwrap();
    assert!(
        ends - chrono::Utc::now() > chrono::Duration::hours(4),
        "{got}"
    );
    // Exported and imported again (with --force, as new silences).
    let exported = amtool(url, &["silence", "query", "-o", "json"]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("silences.json");
    std::fs::write(&file, exported).unwrap();
    amtool(
        url,
        &["silence", "import", "--force", file.to_str().unwrap()],
    )
    .await;
    let all = amtool_json(url, &["silence", "query"]).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    // Expired, both.
    for s in all.as_array().unwrap() {
        amtool(url, &["silence", "expire", s["id"].as_str().unwrap()]).await;
    }
    assert_eq!(amtool(url, &["silence", "query", "-q"]).await.trim(), "");
    let expired = amtool(url, &["silence", "query", "--expired", "-q"]).await;
    assert_eq!(expired.lines().count(), 2);

    // Alerts: added and queried through amtool, silenced ones only when asked for.
    amtool(
        url,
        &[
            "alert",
            "add",
            "alertname=AgentDown",
            "agent_id=a1",
            "--annotation=summary=down",
        ],
    )
    .await;
    amtool(url, &["alert", "add", "alertname=AgentDown", "agent_id=a2"]).await;
    amtool(
        url,
        &[
            "silence",
            "add",
            "agent_id=a2",
            "--duration=1h",
            "--comment=known",
            "--author=ops",
        ],
    )
    .await;
    let alerts = amtool_json(url, &["alert", "query"]).await;
    let agents: Vec<&str> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["a1"]);
    // `--silenced` alone: only the silenced ones; with `--active` too: both.
    let only = amtool_json(
        url,
        &["alert", "query", "--silenced", "alertname=AgentDown"],
    )
    .await;
    assert_eq!(only.as_array().unwrap().len(), 1, "{only}");
    assert_eq!(only[0]["labels"]["agent_id"], "a2");
    let both = amtool_json(
        url,
        &[
            "alert",
            "query",
            "--active",
            "--silenced",
            "alertname=AgentDown",
        ],
    )
    .await;
    assert_eq!(both.as_array().unwrap().len(), 2, "{both}");

    // The same token as a bearer credential (`authorization:` in the HTTP config) works too;
    // a token of another scope does not.
    let bearer = Am::new(&app, &format!("authorization:\n  credentials: {token}\n"));
    let seen = amtool_json(&bearer, &["alert", "query", "alertname=AgentDown"]).await;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    let ingest = make_token(&app.db, "shipper", &[Scope::Ingest]).await;
    let wrong = Am::new(&app, &format!("authorization:\n  credentials: {ingest}\n"))
        .run(&["alert", "query"])
        .await;
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("403")
            || String::from_utf8_lossy(&wrong.stderr).contains("orbidden"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    app.stop().await;
}

/// The shape of a JSON value: objects by key, arrays by their first element, scalars by type.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

#[tokio::test]
async fn answers_have_the_shapes_of_a_real_alertmanagers() {
    let receiver = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 0s\n  group_interval: 1s\n\
         receivers:\n  - name: hook\n    webhook_configs:\n      - url: {}\n\
         inhibit_rules:\n  - source_matchers: ['alertname=\"AgentDown\"']\n    target_matchers: ['alertname=\"AgentTaskFailures\"']\n    equal: [agent_id]\n",
        receiver.url
    );
    std::fs::write(dir.path().join("am.yml"), config).unwrap();
    let dir_arg = |name: &str| dir.path().join(name).display().to_string();
    let alertmanager = start_peer(
        "prometheus-alertmanager",
        &[
            format!("--config.file={}", dir_arg("am.yml")),
            format!("--storage.path={}", dir_arg("data")),
            "--cluster.listen-address=".into(),
        ],
    )
    .await;
    let theirs = alertmanager.base.clone();
    let app = spawn_app().await;
    // Alertmanager itself ignores the token; the portal needs it.
    let client = app.client.clone();
    route_to(&app, &receiver).await;
    agent_down_inhibits_its_failures(&app).await;
    let ours = app.url("");
    let ours = ours.trim_end_matches('/');

    let now = chrono::Utc::now();
    let alerts = json!([
        {"labels": {"alertname": "AgentDown", "agent_id": "a1"}, "annotations": {"summary": "down"}, "generatorURL": "http://prometheus/graph"},
        {"labels": {"alertname": "AgentTaskFailures", "agent_id": "a1"}, "annotations": {"summary": "failing"}, "generatorURL": "http://prometheus/graph"},
        {"labels": {"alertname": "QueueDeep", "queue_name": "coding"}, "annotations": {}, "generatorURL": "http://prometheus/graph"}
    ]);
    let silence = json!({
        "matchers": [{"name": "queue_name", "value": "coding", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "ops", "comment": "reindexing"
    });
    let mut answers: BTreeMap<&str, [Value; 2]> = BTreeMap::new();
    let mut statuses = Vec::new();
    for (i, base) in [theirs.as_str(), ours].into_iter().enumerate() {
        let post =
            |path: &str, body: &Value| client.post(format!("{base}{path}")).json(body).send();
        let r = post("/api/v2/alerts", &alerts).await.unwrap();
        statuses.push(("post alerts", i, r.status().as_u16()));
        let r = post("/api/v2/silences", &silence).await.unwrap();
        statuses.push(("post silence", i, r.status().as_u16()));
        let created: Value = r.json().await.unwrap();
        let id = created["silenceID"].as_str().unwrap().to_string();
        for bad in [json!([{"labels": {}}]), json!({"not": "a list"})] {
            let r = post("/api/v2/alerts", &bad).await.unwrap();
            statuses.push(("bad alerts", i, r.status().as_u16()));
        }
        let r = client
            .get(format!("{base}/api/v2/alerts?filter=foo"))
            .send()
            .await
            .unwrap();
        statuses.push(("bad filter", i, r.status().as_u16()));
        let r = client
            .get(format!(
                "{base}/api/v2/silence/00000000-0000-0000-0000-000000000000"
            ))
            .send()
            .await
            .unwrap();
        statuses.push(("missing silence", i, r.status().as_u16()));
        tokio::time::sleep(Duration::from_secs(1)).await;
        for (name, path) in [
            ("status", "/api/v2/status".to_string()),
            ("receivers", "/api/v2/receivers".to_string()),
            ("alerts", "/api/v2/alerts".to_string()),
            ("suppressed alerts", "/api/v2/alerts?filter=agent_id%3D%22a1%22&filter=alertname%3D%22AgentTaskFailures%22".to_string()),
            ("unsilenced alerts", "/api/v2/alerts?silenced=false&inhibited=false".to_string()),
            ("groups", "/api/v2/alerts/groups".to_string()),
            ("silences", "/api/v2/silences".to_string()),
            ("silence", format!("/api/v2/silence/{id}")),
        ] {
            let r = client.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{name} from {base}");
            let body: Value = r.json().await.unwrap();
            answers.entry(name).or_insert([Value::Null, Value::Null])[i] = body;
        }
        let r = client
            .delete(format!("{base}/api/v2/silence/{id}"))
            .send()
            .await
            .unwrap();
        statuses.push(("expire", i, r.status().as_u16()));
    }
    let theirs_codes: Vec<_> = statuses
        .iter()
        .filter(|s| s.1 == 0)
        .map(|s| (s.0, s.2))
        .collect();
    let ours_codes: Vec<_> = statuses
        .iter()
        .filter(|s| s.1 == 1)
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(ours_codes, theirs_codes, "the same status codes");
    for (name, [theirs, ours]) in &answers {
        assert_eq!(
            shape(ours),
            shape(theirs),
            "{name}:\nportal: {ours:#}\nalertmanager: {theirs:#}"
        );
    }
    // And the same decisions: which alerts are muted, by what, grouped how.
    let states = |v: &Value| -> Vec<(String, String, usize, usize)> {
        let mut out: Vec<_> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["labels"]["alertname"].as_str().unwrap().to_string(),
                    a["status"]["state"].as_str().unwrap().to_string(),
                    a["status"]["silencedBy"].as_array().unwrap().len(),
                    a["status"]["inhibitedBy"].as_array().unwrap().len(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let [theirs, ours] = &answers["alerts"];
    assert_eq!(states(ours), states(theirs));
    let [theirs, ours] = &answers["unsilenced alerts"];
    assert_eq!(states(ours), states(theirs));
    let groups = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                format!(
                    "{} {} {}",
                    g["receiver"]["name"],
                    g["labels"],
                    g["alerts"].as_array().unwrap().len()
                )
            })
            .collect();
        out.sort();
        out
    };
    let [theirs, ours] = &answers["groups"];
    assert_eq!(groups(ours), groups(theirs));
    app.stop().await;
}

#[tokio::test]
async fn a_stock_prometheus_sends_its_alerts_to_the_portal_which_routes_and_silences_them() {
    let receiver = Receiver::start().await;
    let app = spawn_app().await;
    route_to(&app, &receiver).await;
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/alerting/silences",
        json!({
            "matchers": [{"name": "team", "op": "=", "value": "muted"}],
            "starts_at": chrono::Utc::now().to_rfc3339(),
            "ends_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
            "created_by": "ops"
        }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let portal = app.url("");
    let target = portal.trim_start_matches("http://").trim_end_matches('/');
    // The same portal by another name, which Prometheus is given no credentials for.
    let unauthenticated = target.replace("127.0.0.1", "localhost");
    let token = make_token(&app.db, "prometheus", &[Scope::Alertmanager]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n  - name: always\n    interval: 1s\n    rules:\n\
         \x20     - alert: AlwaysFiring\n        expr: vector(1)\n        labels:\n          team: agents\n        annotations:\n          summary: it fires\n\
         \x20     - alert: AlwaysMuted\n        expr: vector(1)\n        labels:\n          team: muted\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files:\n  - rules.yml\n\
             alerting:\n  alertmanagers:\n    - api_version: v2\n      authorization:\n        credentials: {token}\n      static_configs:\n        - targets: ['{target}']\n\
             \x20   - api_version: v2\n      static_configs:\n        - targets: ['{unauthenticated}']\n"
        ),
    )
    .unwrap();
    let dir_arg = |name: &str| dir.path().join(name).display().to_string();
    let prometheus = start_peer(
        "prometheus",
        &[
            format!("--config.file={}", dir_arg("prometheus.yml")),
            format!("--storage.tsdb.path={}", dir_arg("data")),
            // Alerts raised before Prometheus has found its Alertmanager are sent again after
            // this delay (a minute by default).
            "--rules.alert.resend-delay=2s".into(),
        ],
    )
    .await;
    let port = prometheus.port;
    let notified = receiver
        .wait_for(Duration::from_secs(60), |v| {
            v["commonLabels"]["alertname"] == "AlwaysFiring"
        })
        .await;
    assert_eq!(notified["status"], "firing");
    assert_eq!(notified["alerts"][0]["annotations"]["summary"], "it fires");
    assert!(
        notified["alerts"][0]["generatorURL"]
            .as_str()
            .unwrap()
            .contains(&format!(":{port}/")),
        "links back to the Prometheus that sent it: {notified}"
    );
    // Both arrived; the silenced one is held, shown suppressed, and never notified.
    let deadline = Instant::now() + Duration::from_secs(20);
    let alerts = loop {
        let (_, alerts) = send(&app, Method::GET, "/api/v2/alerts", Value::Null).await;
        if alerts.as_array().unwrap().len() == 2 || Instant::now() > deadline {
            break alerts;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let muted = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "AlwaysMuted")
        .unwrap_or_else(|| panic!("AlwaysMuted arrived: {alerts}"));
    assert_eq!(muted["status"]["state"], "suppressed");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(receiver
        .received()
        .iter()
        .all(|v| v["commonLabels"]["alertname"] != "AlwaysMuted"));
    // The portal's alert list shows them too, linking back to Prometheus.
    let (_, listed) = send(&app, Method::GET, "/api/alerting/alerts", Value::Null).await;
    let firing = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "AlwaysFiring")
        .unwrap();
    assert_eq!(firing["state"], "firing");
    assert!(firing["source_url"]
        .as_str()
        .unwrap()
        .contains(&format!(":{port}/")));
    // What Prometheus sent without the token was refused with 401.
    let metrics = app.every_metrics_page().await;
    let refused: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("portal_http_requests_total")
                && l.contains("\"/api/v2/alerts\"")
                && l.contains("status=\"401\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        refused > 0.0,
        "alerts without the token were refused:\n{metrics}"
    );
    app.stop().await;
}
