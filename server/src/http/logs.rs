//! The logs API: Loki's push (`POST /loki/api/v1/push`, snappy protobuf or JSON, gzip JSON),
//! bulk lines (`POST /api/logs/lines`, NDJSON or plain text, labels from the query string),
//! search, histogram, facets, the lines around a hit, export, and the scrubbing rules in force.
//! (OTLP logs come in through `otlp.rs`, the one OTLP front door.)

use super::{
    access::Actor,
    admission::IngestBody,
    params::{json_body, Params},
    AppState,
};
use crate::{
    error::ApiError,
    logs::{LogsService, Search},
};
use app::api::logs::{
    ArchivePage, ErrorGroupState, LogArchive, LogContext, LogFacets, LogHistogram, LogPage,
    LogPatterns, LogWriteSummary, SaveSearch, SavedSearch,
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use std::collections::BTreeMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/loki/api/v1/push", post(create_loki_push))
        .route("/api/logs/lines", post(create_lines))
        .route("/api/logs/search", get(get_search))
        .route("/api/logs/histogram", get(get_histogram))
        .route("/api/logs/facets", get(get_facets))
        .route("/api/logs/context", get(get_context))
        .route("/api/logs/export", get(get_export))
        .route("/api/logs/scrubbing", get(get_scrubbing))
        .route("/api/logs/tail", get(get_tail))
        .route("/api/logs/errors", get(get_errors))
        .route("/api/logs/patterns", get(get_patterns))
        .route(
            "/api/logs/saved-searches",
            get(list_saved_searches).post(create_saved_search),
        )
        .route(
            "/api/logs/saved-searches/{id}",
            get(get_saved_search).delete(delete_saved_search),
        )
        .route("/api/logs/archives", get(get_archives))
        .route("/api/logs/archives/{name}", get(get_archive))
        .route(
            "/api/logs/errors/{fingerprint}",
            get(get_error_group).put(update_error_group),
        )
}

/// Most bytes a request may expand to once decompressed, as a multiple of the body limit.
const MAX_DECODED_FACTOR: u64 = 8;

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

/// The body, gunzipped when its `Content-Encoding` says gzip (within the decoded limit and
/// charged to the write's budget), or refused when it names another encoding.
fn plain_body(body: &mut IngestBody, headers: &HeaderMap, limit: u64) -> Result<Vec<u8>, ApiError> {
    match header_text(headers, header::CONTENT_ENCODING)
        .to_ascii_lowercase()
        .as_str()
    {
        "" | "identity" => Ok(body.bytes.to_vec()),
        "gzip" => {
            let compressed = body.bytes.clone();
            Ok(crate::otlp::gunzip(&compressed, limit, |n| {
                body.hold_decoded(n)
            })?)
        }
        other => Err(ApiError::unsupported_media(
            "content-encoding",
            format!("bodies are gzip-compressed or not compressed; got {other:?}"),
        )),
    }
}

/// `POST /loki/api/v1/push`: 204 when every line is stored; 400 naming what was refused
/// (the rest is stored), as Loki answers.
async fn create_loki_push(
    State(state): State<AppState>,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<Response, ApiError> {
    let content_type = header_text(&headers, header::CONTENT_TYPE).to_ascii_lowercase();
    let protobuf = match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" | "" => true,
        "application/json" => false,
        other => {
            return Err(ApiError::unsupported_media(
                "content-type",
                format!("Loki pushes are application/x-protobuf (snappy) or application/json; got {other:?}"),
            ))
        }
    };
    let limit = state.info.body_limit.saturating_mul(MAX_DECODED_FACTOR);
    let logs = state.logs.clone();
    let headers_owned = headers.clone();
    let (_held, batch) = admitted
        .decode(move |body| -> Result<_, ApiError> {
            if protobuf {
                if let Ok(len) = snap::raw::decompress_len(&body.bytes) {
                    if len as u64 <= limit {
                        body.hold_decoded(len as u64)?;
                    }
                }
                Ok(logs.from_loki_protobuf(&body.bytes, limit as usize)?)
            } else {
                let plain = plain_body(body, &headers_owned, limit)?;
                Ok(logs.from_loki_json(&plain)?)
            }
        })
        .await?;
    let outcome = state.logs.write(batch?).await?;
    match outcome.refusal_message() {
        Some(message) => Err(ApiError::bad_request("body", message)),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// The stream labels of a bulk write: `service` and every `label.<name>` of the query string.
fn bulk_labels(params: &Params) -> Result<BTreeMap<String, String>, ApiError> {
    let mut labels = BTreeMap::new();
    for (key, value) in &params.0 {
        if key == "service" {
            labels.insert("service_name".to_string(), value.clone());
        } else if let Some(name) = key.strip_prefix("label.") {
            if !crate::labels::is_valid_label_name(name) {
                return Err(ApiError::bad_request(
                    key.clone(),
                    format!("{name:?} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                ));
            }
            labels.insert(name.to_string(), value.clone());
        }
    }
    Ok(labels)
}

/// `POST /api/logs/lines`: NDJSON (`application/x-ndjson`, `application/jsonl`) or plain text.
async fn create_lines(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<Json<LogWriteSummary>, ApiError> {
    let labels = bulk_labels(&Params::new(query, b""))?;
    let content_type = header_text(&headers, header::CONTENT_TYPE).to_ascii_lowercase();
    let ndjson = match content_type.as_str() {
        "application/x-ndjson"
        | "application/ndjson"
        | "application/jsonl"
        | "application/json-lines"
        | "application/json" => true,
        "text/plain" | "" => false,
        other => {
            return Err(ApiError::unsupported_media(
                "content-type",
                format!("lines are application/x-ndjson or text/plain; got {other:?}"),
            ))
        }
    };
    let limit = state.info.body_limit.saturating_mul(MAX_DECODED_FACTOR);
    let logs = state.logs.clone();
    let (_held, batch) = admitted
        .decode(move |body| -> Result<_, ApiError> {
            let plain = plain_body(body, &headers, limit)?;
            Ok(logs.from_bulk(&plain, ndjson, labels)?)
        })
        .await?;
    let outcome = state.logs.write(batch?).await?;
    Ok(Json(LogWriteSummary {
        accepted: outcome.accepted,
        refused: outcome.refused,
        message: outcome.refusal_message(),
    }))
}

/// The query and time range of a read: `query`, `from` and `to` (`now-1h`, RFC 3339, Unix
/// milliseconds; the last hour by default).
/// A search's query text and time range from the request's parameters.
struct SearchArgs {
    text: String,
    from_us: i64,
    to_us: i64,
}

impl SearchArgs {
    fn search(&self) -> Search<'_> {
        Search {
            query: &self.text,
            from_us: self.from_us,
            to_us: self.to_us,
        }
    }
}

fn search_of(params: &Params) -> Result<SearchArgs, ApiError> {
    let now = chrono::Utc::now();
    let time = |key: &'static str, default: &str| -> Result<i64, ApiError> {
        let text = params.get(key).unwrap_or(default);
        let expr = app::time::TimeExpr::parse(text).map_err(|e| ApiError::bad_request(key, e))?;
        Ok(expr.resolve(now).timestamp_micros())
    };
    Ok(SearchArgs {
        text: params.get("query").unwrap_or("").to_string(),
        from_us: time("from", "now-1h")?,
        to_us: time("to", "now")?,
    })
}

fn number(params: &Params, key: &'static str, default: i64) -> Result<i64, ApiError> {
    params
        .get(key)
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request(key, format!("{v:?} is not a whole number")))
        })
        .transpose()
        .map(|v| v.unwrap_or(default))
}

async fn get_search(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPage>, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    let limit = number(&params, "limit", 100)?;
    let search = args.search();
    Ok(Json(
        logs.search(&search, params.get("before"), limit).await?,
    ))
}

async fn get_errors(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<app::api::logs::ErrorGroups>, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    let search = args.search();
    Ok(Json(logs.error_groups(&search).await?))
}

/// `GET /api/logs/patterns?query=&from=&to=`: the matching lines' message patterns.
async fn get_patterns(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogPatterns>, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    Ok(Json(logs.patterns(&args.search()).await?))
}

/// `GET /api/logs/saved-searches`: every saved search, by name.
async fn list_saved_searches(
    State(logs): State<LogsService>,
) -> Result<Json<Vec<SavedSearch>>, ApiError> {
    Ok(Json(logs.saved_searches().await?))
}

/// `POST /api/logs/saved-searches` with `{"name", "query"}`: saved (a name saved again is
/// replaced).
async fn create_saved_search(
    State(logs): State<LogsService>,
    Actor(actor): Actor,
    body: Bytes,
) -> Result<(StatusCode, Json<SavedSearch>), ApiError> {
    let request: SaveSearch = json_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(logs.save_search(request, &actor).await?),
    ))
}

fn search_id(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("id", format!("{text:?} is not a saved search's id")))
}

async fn get_saved_search(
    State(logs): State<LogsService>,
    Path(id): Path<String>,
) -> Result<Json<SavedSearch>, ApiError> {
    Ok(Json(logs.saved_search(search_id(&id)?).await?))
}

async fn delete_saved_search(
    State(logs): State<LogsService>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    logs.delete_saved_search(search_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/logs/archives`: the days archived, the newest first.
async fn get_archives(State(logs): State<LogsService>) -> Result<Json<Vec<LogArchive>>, ApiError> {
    Ok(Json(logs.archives().await?))
}

/// `GET /api/logs/archives/<name>?query=&offset=&limit=`: an archive's matching lines.
async fn get_archive(
    State(logs): State<LogsService>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ArchivePage>, ApiError> {
    let params = Params::new(query, b"");
    let text = params.get("query").unwrap_or("");
    let offset = u64::try_from(number(&params, "offset", 0)?)
        .map_err(|_| ApiError::bad_request("offset", "must not be negative"))?;
    let limit = usize::try_from(number(&params, "limit", 100)?)
        .map_err(|_| ApiError::bad_request("limit", "must not be negative"))?;
    Ok(Json(logs.search_archive(&name, text, offset, limit).await?))
}

/// `GET /api/logs/errors/<fingerprint>`: what was decided about a group.
async fn get_error_group(
    State(logs): State<LogsService>,
    Path(fingerprint): Path<String>,
) -> Result<Json<ErrorGroupState>, ApiError> {
    Ok(Json(logs.error_group_state(&fingerprint).await?))
}

#[derive(serde::Deserialize)]
struct SetStatus {
    status: String,
}

/// `PUT /api/logs/errors/<fingerprint>` with `{"status": "resolved"}` (or `ignored`, `open`).
async fn update_error_group(
    State(logs): State<LogsService>,
    Path(fingerprint): Path<String>,
    Actor(actor): Actor,
    body: Bytes,
) -> Result<Json<ErrorGroupState>, ApiError> {
    let request: SetStatus = json_body(&body)?;
    Ok(Json(
        logs.set_error_group_status(&fingerprint, &request.status, &actor)
            .await?,
    ))
}

async fn get_histogram(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogHistogram>, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    let buckets = number(&params, "buckets", 120)?;
    let search = args.search();
    Ok(Json(logs.histogram(&search, buckets).await?))
}

async fn get_facets(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogFacets>, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    let search = args.search();
    Ok(Json(logs.facets(&search).await?))
}

async fn get_context(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogContext>, ApiError> {
    let params = Params::new(query, b"");
    let cursor = params
        .get("cursor")
        .ok_or_else(|| ApiError::bad_request("cursor", "no cursor parameter provided"))?;
    let before = number(&params, "before", 20)?;
    let after = number(&params, "after", 20)?;
    Ok(Json(logs.context(cursor, before, after).await?))
}

/// `GET /api/logs/export?format=ndjson|csv`: up to `limit` (10,000 at most) matching lines,
/// newest first, as a download.
async fn get_export(
    State(logs): State<LogsService>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::new(query, b"");
    let args = search_of(&params)?;
    let format = params.get("format").unwrap_or("ndjson");
    if !matches!(format, "ndjson" | "csv") {
        return Err(ApiError::bad_request("format", "is ndjson or csv"));
    }
    let limit = number(&params, "limit", 10_000)?.clamp(1, 10_000);
    let search = args.search();
    let mut lines = Vec::new();
    let mut before: Option<String> = None;
    while (lines.len() as i64) < limit {
        let page = logs
            .search(
                &search,
                before.as_deref(),
                (limit - lines.len() as i64).min(crate::logs::MAX_PAGE),
            )
            .await?;
        lines.extend(page.lines);
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let (content_type, body) = if format == "csv" {
        let mut out = String::from("time,service,level,body,trace_id,span_id,fields\n");
        for l in &lines {
            let cells = [
                l.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                l.service.clone(),
                l.level.clone(),
                l.body.clone(),
                l.trace_id.clone().unwrap_or_default(),
                l.span_id.clone().unwrap_or_default(),
                serde_json::Value::Object(l.fields.clone()).to_string(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&row.join(","));
            out.push('\n');
        }
        ("text/csv; charset=utf-8", out)
    } else {
        let mut out = String::new();
        for l in &lines {
            out.push_str(&serde_json::to_string(l).unwrap_or_default());
            out.push('\n');
        }
        ("application/x-ndjson", out)
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"logs.{format}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`,
/// `-` or `@` is prefixed with `'` so that spreadsheets do not run it as a formula.
fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

async fn get_scrubbing(State(logs): State<LogsService>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "rules": logs.scrubber().rules() }))
}

/// Live tail as server-sent events: `lines` events (JSON `{"lines": [...]}`, oldest first),
/// `dropped` events (`{"dropped": n}`) when the tail fell behind, each with an id that
/// `Last-Event-ID` resumes from (browsers send it when they reconnect by themselves). It
/// starts with the stored lines since `from` (default the last minute).
async fn get_tail(
    State(logs): State<LogsService>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let params = Params::new(query, b"");
    let text = params.get("query").unwrap_or("").to_string();
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    let from = match resume {
        Some(id) => crate::logs::tail::TailFrom::Resume(id.to_string()),
        None => {
            let since = params.get("from").unwrap_or("now-1m");
            let expr =
                app::time::TimeExpr::parse(since).map_err(|e| ApiError::bad_request("from", e))?;
            crate::logs::tail::TailFrom::Since(expr.resolve(chrono::Utc::now()).timestamp_micros())
        }
    };
    let tail = logs.tail(&text, from).await?;
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = match tail.next().await {
            crate::logs::tail::TailEvent::Lines { lines, resume } => Event::default()
                .event("lines")
                .id(resume)
                .json_data(serde_json::json!({ "lines": lines })),
            crate::logs::tail::TailEvent::Dropped { lines, resume } => Event::default()
                .event("dropped")
                .id(resume)
                .json_data(serde_json::json!({ "dropped": lines })),
        };
        Some((event, tail))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
    }
}
