//! Loki's query API, as Grafana's Loki data source and `logcli` call it: `query`,
//! `query_range`, `labels`, `label/<name>/values`, `series`, `index/stats`,
//! `status/buildinfo` (and `tail`, in `tail.rs`). Answers have Loki's exact shapes; errors are
//! Loki's plain-text bodies with the proper status (and Retry-After when busy).

use super::{params::Params, AppState};
use crate::{
    error::ApiError,
    logs::{
        loki_query::{Answer, Labels, Series, StreamLines, Window},
        LogsService,
    },
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::Utc;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/loki/api/v1/query", get(query).post(query))
        .route(
            "/loki/api/v1/query_range",
            get(query_range).post(query_range),
        )
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label/{name}/values", get(label_values))
        .route("/loki/api/v1/series", get(series).post(series))
        .route("/loki/api/v1/index/stats", get(index_stats))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
        .route("/loki/api/v1/tail", get(tail))
}

/// An error as Loki writes it: the message as plain text.
pub struct LokiError(ApiError);

impl<E: Into<ApiError>> From<E> for LokiError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for LokiError {
    fn into_response(self) -> Response {
        let body = self.0.body();
        let message = match body.error.field {
            Some(field) => format!("{field}: {}", body.error.message),
            None => body.error.message,
        };
        self.0.respond_with(message)
    }
}

const HOUR_NS: i64 = 3_600_000_000_000;

/// A Loki time: nanoseconds (or seconds when 10 digits or fewer), seconds with a fraction,
/// or RFC 3339.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad = || format!("cannot parse \"{text}\" to a valid timestamp");
    if text.contains('.') {
        if let Ok(seconds) = text.parse::<f64>() {
            return if seconds.is_finite() && seconds.abs() < 9.2e9 {
                Ok((seconds * 1e9) as i64)
            } else {
                Err(bad())
            };
        }
    }
    match text.parse::<i64>() {
        Ok(n) if text.trim_start_matches('-').len() <= 10 => {
            n.checked_mul(1_000_000_000).ok_or_else(bad)
        }
        Ok(n) => Ok(n),
        Err(_) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .and_then(|t| t.timestamp_nanos_opt())
            .ok_or_else(bad),
    }
}

fn time(params: &Params, key: &'static str, default: i64) -> Result<i64, ApiError> {
    match params.get(key) {
        None | Some("") => Ok(default),
        Some(text) => parse_time(text).map_err(|e| ApiError::bad_request(key, e)),
    }
}

fn now_ns() -> i64 {
    Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn limit(params: &Params) -> Result<i64, ApiError> {
    match params.get("limit") {
        None | Some("") => Ok(100),
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::bad_request("limit", "must be a whole number above 0")),
    }
}

fn forward(params: &Params) -> Result<bool, ApiError> {
    match params
        .get("direction")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("") | Some("backward") => Ok(false),
        Some("forward") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "direction",
            "must be forward or backward",
        )),
    }
}

fn text<'a>(params: &'a Params, key: &'static str) -> Result<&'a str, ApiError> {
    params
        .get(key)
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request(key, format!("no {key} parameter provided")))
}

/// Range bounds in microseconds from nanoseconds (end exclusive).
fn micros((start_ns, end_ns): (i64, i64)) -> (i64, i64) {
    (start_ns.div_euclid(1000), end_ns.div_euclid(1000) + 1)
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

fn stream_json(s: StreamLines) -> Value {
    json!({
        "stream": s.labels,
        "values": s.entries.into_iter().map(|(t, line)| json!([t.to_string(), line])).collect::<Vec<_>>(),
    })
}

fn seconds(ms: i64) -> Value {
    if ms % 1000 == 0 {
        json!(ms / 1000)
    } else {
        json!(ms as f64 / 1000.0)
    }
}

fn value_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

fn matrix_json(s: Series) -> Value {
    json!({
        "metric": s.labels,
        "values": s.points.into_iter().map(|(t, v)| json!([seconds(t), value_text(v)])).collect::<Vec<_>>(),
    })
}

fn no_stats() -> Value {
    json!({"summary": {"bytesProcessedPerSecond": 0, "linesProcessedPerSecond": 0, "totalBytesProcessed": 0, "totalLinesProcessed": 0, "execTime": 0}})
}

async fn query_range(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, &body);
    let query = text(&params, "query")?;
    let end_ns = time(&params, "end", now_ns())?;
    let start_ns = time(&params, "start", end_ns.saturating_sub(HOUR_NS))?;
    let step_ms = match params.get("step") {
        None | Some("") => ((end_ns.saturating_sub(start_ns)) / 250 / 1_000_000_000).max(1) * 1000,
        Some(step) => {
            super::params::parse_step(step).map_err(|e| ApiError::bad_request("step", e))?
        }
    };
    let window = Window {
        start_ns,
        end_ns,
        step_ms,
        limit: limit(&params)?,
        forward: forward(&params)?,
    };
    Ok(match logs.logql(query, window).await? {
        Answer::Streams(streams) => success(json!({
            "resultType": "streams",
            "result": streams.into_iter().map(stream_json).collect::<Vec<_>>(),
            "stats": no_stats(),
        })),
        Answer::Series(series) => success(json!({
            "resultType": "matrix",
            "result": series.into_iter().map(matrix_json).collect::<Vec<_>>(),
            "stats": no_stats(),
        })),
    })
}

async fn query(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, &body);
    let query = text(&params, "query")?;
    let at = time(&params, "time", now_ns())?;
    let window = Window {
        start_ns: at,
        end_ns: at,
        step_ms: 0,
        limit: limit(&params)?,
        forward: forward(&params)?,
    };
    match logs.logql(query, window).await? {
        Answer::Streams(_) => Err(ApiError::bad_request(
            "query",
            "log queries are not supported as an instant query type, please change your query to a range query type",
        )
        .into()),
        Answer::Series(series) => Ok(success(json!({
            "resultType": "vector",
            "result": series.into_iter().filter_map(|s| {
                let (t, v) = *s.points.last()?;
                Some(json!({"metric": s.labels, "value": [seconds(t), value_text(v)]}))
            }).collect::<Vec<_>>(),
            "stats": no_stats(),
        }))),
    }
}

/// The range the label APIs look at: Loki's default is the last 6 hours.
fn label_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let end = time(params, "end", now_ns())?;
    let start = time(params, "start", end.saturating_sub(6 * HOUR_NS))?;
    Ok(micros((start, end)))
}

async fn labels(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, &body);
    let range = label_range(&params)?;
    let names = logs.loki_labels(params.get("query"), range).await?;
    Ok(success(json!(names)))
}

async fn label_values(
    State(logs): State<LogsService>,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, b"");
    let range = label_range(&params)?;
    let values = logs
        .loki_label_values(&name, params.get("query"), range)
        .await?;
    Ok(success(json!(values)))
}

async fn series(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, &body);
    let range = label_range(&params)?;
    let selectors: Vec<String> = params
        .all("match[]")
        .chain(params.all("match"))
        .map(str::to_string)
        .collect();
    let found: Vec<Labels> = logs.loki_series(&selectors, range).await?;
    Ok(success(json!(found)))
}

async fn index_stats(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, b"");
    let query = text(&params, "query")?;
    let end = time(&params, "end", now_ns())?;
    let start = time(&params, "start", end.saturating_sub(HOUR_NS))?;
    let (streams, entries, bytes) = logs.loki_stats(query, micros((start, end))).await?;
    // Lines are stored one row each: there are no chunks, so each stream counts as one.
    Ok(
        Json(json!({"streams": streams, "chunks": streams, "entries": entries, "bytes": bytes}))
            .into_response(),
    )
}

/// Loki's live tail over a WebSocket: frames of `{"streams": [...], "dropped_entries": ...}`,
/// starting with up to `limit` stored lines since `start` (default an hour ago).
async fn tail(
    State(logs): State<LogsService>,
    RawQuery(raw): RawQuery,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Result<Response, LokiError> {
    let params = Params::new(raw, b"");
    let query = text(&params, "query")?;
    let start = time(&params, "start", now_ns().saturating_sub(HOUR_NS))?;
    let limit = limit(&params)?.min(crate::logs::tail::HISTORY_LINES);
    match params.get("delay_for").map(str::parse::<u32>) {
        None | Some(Ok(0..=5)) => {}
        _ => {
            return Err(ApiError::bad_request(
                "delay_for",
                "must be a whole number of seconds from 0 to 5",
            )
            .into())
        }
    }
    let mut session = logs.loki_tail(query, start.div_euclid(1000), limit).await?;
    Ok(upgrade.on_upgrade(move |mut socket| async move {
        use axum::extract::ws::Message;
        loop {
            tokio::select! {
                frame = session.next() => {
                    let text = serde_json::to_string(&frame).unwrap_or_default();
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                incoming = socket.recv() => match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }))
}

/// The Loki API version the portal answers like, for clients that check it.
async fn buildinfo() -> Json<Value> {
    Json(json!({
        "version": "2.9.0",
        "revision": env!("CARGO_PKG_VERSION"),
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loki_times() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(
            parse_time("1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("1700000000123456789").unwrap(),
            1_700_000_000_123_456_789
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("1e300.0").is_err());
    }

    #[test]
    fn values_and_times_as_loki_writes_them() {
        assert_eq!(seconds(1_700_000_000_000), json!(1_700_000_000));
        assert_eq!(seconds(1_700_000_000_500), json!(1_700_000_000.5));
        assert_eq!(value_text(3.0), "3");
        assert_eq!(value_text(0.25), "0.25");
    }
}
