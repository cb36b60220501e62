//! Live tail: server-sent events with the search's filters, lines arriving as they are
//! stored (from any replica), a reconnect that resumes without a gap or a repeat; and Loki's
//! WebSocket tail in Loki's frames.

use crate::helpers::{spawn_app, TestApp};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;

async fn push(app: &TestApp, lines: &[Value]) {
    let body: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let response = app
        .client
        .post(app.url("/api/logs/lines?service=tailed"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// Reads server-sent events from a streaming answer.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next event as (type, id, data), within `wait`.
    async fn next(&mut self, wait: Duration) -> (String, String, Value) {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let (mut kind, mut id, mut data) =
                        (String::new(), String::new(), String::new());
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            kind = v.trim().into();
                        } else if let Some(v) = line.strip_prefix("id:") {
                            id = v.trim().into();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if kind.is_empty() {
                        continue; // a keep-alive comment
                    }
                    return (kind, id, serde_json::from_str(&data).unwrap());
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream goes on");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event in time")
    }

    /// Lines' bodies from `lines` events until `n` have come, and the last event's id.
    async fn bodies(&mut self, n: usize) -> (Vec<String>, String) {
        let mut out = Vec::new();
        let mut last = String::new();
        while out.len() < n {
            let (kind, id, data) = self.next(Duration::from_secs(5)).await;
            assert_eq!(kind, "lines", "{data}");
            last = id;
            out.extend(
                data["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["body"].as_str().unwrap().to_string()),
            );
        }
        (out, last)
    }
}

async fn open_tail(app: &TestApp, query: &str, resume: Option<&str>) -> Events {
    let mut request = app
        .client
        .get(app.url("/api/logs/tail"))
        .query(&[("query", query)]);
    if let Some(id) = resume {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    Events {
        response,
        buffer: String::new(),
    }
}

fn line(n: i64, level: &str, text: &str) -> Value {
    let t = chrono::Utc::now() + chrono::Duration::milliseconds(n);
    json!({"time": t.to_rfc3339(), "level": level, "msg": text, "n": n})
}

#[tokio::test]
async fn a_tail_gets_matching_lines_as_they_come_and_resumes_without_gaps() {
    let app = spawn_app().await;
    push(&app, &[line(0, "error", "before the tail")]).await;
    let mut tail = open_tail(&app, "level>=error service:tailed", None).await;
    // It starts with the stored lines of the last minute.
    let (history, _) = tail.bodies(1).await;
    assert_eq!(history.len(), 1);
    assert!(history[0].contains("before the tail"));

    let started = std::time::Instant::now();
    push(
        &app,
        &[
            line(1, "error", "first failure"),
            line(2, "info", "not for this tail"),
            line(3, "fatal", "second failure"),
        ],
    )
    .await;
    let (bodies, resume) = tail.bodies(2).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].contains("first failure") && bodies[1].contains("second failure"));
    drop(tail);

    // While no tail is open, more lines are stored; the reconnect gets exactly those.
    push(
        &app,
        &[
            line(4, "error", "while away one"),
            line(5, "debug", "while away, not matching"),
            line(6, "error", "while away two"),
        ],
    )
    .await;
    let mut again = open_tail(&app, "level>=error service:tailed", Some(&resume)).await;
    let (bodies, _) = again.bodies(2).await;
    assert_eq!(bodies.len(), 2, "no repeats: {bodies:?}");
    assert!(bodies[0].contains("while away one") && bodies[1].contains("while away two"));
    push(&app, &[line(7, "error", "after the reconnect")]).await;
    let (bodies, _) = again.bodies(1).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(bodies[0].contains("after the reconnect"));

    // A bad query is refused before the stream starts.
    let response = app
        .client
        .get(app.url("/api/logs/tail"))
        .query(&[("query", "level>=nonsense")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn many_tails_run_at_once_without_holding_up_ingest() {
    let app = spawn_app().await;
    // Far past Loki's default of 10 tails.
    let mut tails = Vec::new();
    for _ in 0..30 {
        let mut tail = open_tail(&app, "service:tailed", None).await;
        let (kind, _, _) = tail.next(Duration::from_secs(5)).await;
        assert_eq!(kind, "lines");
        tails.push(tail);
    }
    let lines: Vec<Value> = (0..200).map(|n| line(n, "info", "fan out")).collect();
    push(&app, &lines).await;
    for tail in &mut tails {
        let (bodies, _) = tail.bodies(200).await;
        assert_eq!(bodies.len(), 200);
    }
    app.stop().await;
}

#[tokio::test]
async fn lokis_websocket_tail_sends_lokis_frames() {
    let app = spawn_app().await;
    push(&app, &[line(0, "error", "already stored")]).await;
    // `or` between line filters is not in the subset: refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(ws_request(
        &app,
        r#"{service_name="tailed"} |= "stored" or "live""#,
    ))
    .await;
    assert!(
        refused.is_err(),
        "a bad query is refused before the upgrade"
    );

    let request = ws_request(
        &app,
        r#"{service_name="tailed"} | json | level=~"error|fatal""#,
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = frame(&mut socket).await;
    assert_eq!(first["streams"][0]["stream"]["service_name"], "tailed");
    let values = first["streams"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{first}");
    assert!(values[0][0].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert!(values[0][1].as_str().unwrap().contains("already stored"));
    push(
        &app,
        &[line(1, "info", "quiet"), line(2, "fatal", "live one")],
    )
    .await;
    let next = frame(&mut socket).await;
    let values = next["streams"][0]["values"].as_array().unwrap();
    assert_eq!(values.len(), 1, "{next}");
    assert!(values[0][1].as_str().unwrap().contains("live one"));
    assert!(next["dropped_entries"].is_null());
    socket.close(None).await.unwrap();
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn frame(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

/// A WebSocket request for Loki's tail of `query` (up to 10 stored lines first), with the
/// test's token.
fn ws_request(
    app: &TestApp,
    query: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!(
        "{}?query={}&limit=10",
        app.url("/loki/api/v1/tail").replacen("http", "ws", 1),
        urlencode(query)
    );
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", app.token).parse().unwrap(),
    );
    request
}
