//! The metadata half of the Prometheus HTTP API, with Prometheus' JSON envelope and error
//! shape so Grafana's Prometheus data source and `promtool` can browse the portal's series:
//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata`,
//! `/api/v1/status/buildinfo`. Parameters come from the query string or a form body (POST).

use crate::query::{
    fetch::fetch_for,
    promql::{self, format_value, MemorySource, Value},
};
use crate::store::samples::Resolution;
use crate::{
    error::ApiError,
    labels::is_valid_label_name,
    query::series::{find_series, Selector},
    startup::AppState,
    store,
    store::series::SeriesRow,
};
use app::api::prometheus::{
    BuildInfo, InstantSample, MetricMetadata, PromResponse, QueryData, RangeSeries, SamplePair,
    SeriesLabels,
};
use axum::{
    body::Bytes,
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(get_query).post(get_query))
        .route(
            "/api/v1/query_range",
            get(get_query_range).post(get_query_range),
        )
        .route("/api/v1/series", get(list_series).post(list_series))
        .route("/api/v1/labels", get(list_labels).post(list_labels))
        .route("/api/v1/label/{name}/values", get(list_label_values))
        .route("/api/v1/metadata", get(list_metadata))
        .route("/api/v1/status/buildinfo", get(get_buildinfo))
}

/// An [`ApiError`] written the way Prometheus writes errors.
pub struct PromError(ApiError);

impl<E: Into<ApiError>> From<E> for PromError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PromError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body = self.0.body();
        if let ApiError::Internal(e) = &self.0 {
            tracing::error!(error = ?e, "request failed");
        }
        let error_type = match body.error.kind.as_str() {
            "invalid" | "bad_request" | "limit" | "too_large" => "bad_data",
            "not_found" => "not_found",
            "unavailable" | "rate_limited" => "unavailable",
            _ => "internal",
        };
        let message = match body.error.field {
            Some(field) => format!("{field}: {}", body.error.message),
            None => body.error.message,
        };
        (
            status,
            Json(PromResponse::<()>::Error {
                error_type: error_type.into(),
                error: message,
            }),
        )
            .into_response()
    }
}

type PromResult<T> = Result<Json<PromResponse<T>>, PromError>;

/// The request's parameters, from the query string and a form-encoded body together.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    pub(crate) fn new(query: Option<String>, body: &[u8]) -> Self {
        let mut pairs: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        pairs.extend(form_urlencoded::parse(body).into_owned());
        Self(pairs)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every `match[]` selector, parsed.
    fn selectors(&self) -> Result<Vec<Selector>, ApiError> {
        self.0
            .iter()
            .filter(|(k, _)| k == "match[]")
            .map(|(_, v)| Selector::parse(v).map_err(|e| ApiError::bad_request("match[]", e)))
            .collect()
    }

    /// The series the selectors pick between the request's `start` and `end`.
    async fn find_series(
        &self,
        pool: &sqlx::PgPool,
        selectors: &[Selector],
    ) -> Result<Vec<SeriesRow>, ApiError> {
        Ok(find_series(pool, selectors, self.time("start")?, self.time("end")?).await?)
    }

    /// The required `start`, `end` (ms) and `step` (ms) of a range query.
    pub(crate) fn range(&self) -> Result<(i64, i64, i64), ApiError> {
        let time = |key: &'static str| -> Result<i64, ApiError> {
            Ok(self
                .time(key)?
                .ok_or_else(|| ApiError::bad_request(key, format!("no {key} parameter provided")))?
                .timestamp_millis())
        };
        let (start, end) = (time("start")?, time("end")?);
        let step_text = self
            .get("step")
            .ok_or_else(|| ApiError::bad_request("step", "no step parameter provided"))?;
        let step = parse_step(step_text).map_err(|e| ApiError::bad_request("step", e))?;
        Ok((start, end, step))
    }

    pub(crate) fn time(&self, key: &'static str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(key)
            .map(|v| parse_time(v).map_err(|e| ApiError::bad_request(key, e)))
            .transpose()
    }
}

/// Parses a Prometheus API time: Unix seconds (fractions allowed) or RFC 3339.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            if let Some(t) = DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64) {
                return Ok(t);
            }
        }
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("cannot parse \"{text}\" to a valid timestamp"))
}

/// Most points one series of a range query may have, as in Prometheus.
const MAX_POINTS_PER_SERIES: i64 = 11_000;

pub(crate) fn pair(t_ms: i64, v: f64) -> SamplePair {
    (t_ms as f64 / 1000.0, format_value(v))
}

pub(crate) fn series_labels(labels: promql::Labels) -> SeriesLabels {
    labels.into_iter().collect()
}

/// The smallest range-query step that reads downsampled data.
pub const DOWNSAMPLED_MIN_STEP_MS: i64 = 20 * 60_000;

/// Parses the `query` parameter.
fn parse_query(params: &Params) -> Result<promql_parser::parser::Expr, ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::bad_request("query", "no query parameter provided"))?;
    parse_expr(text)
}

/// Parses a step: a duration (`15s`) or seconds (`15`, `0.5`).
pub(crate) fn parse_step(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    app::time::parse_duration(text)
        .map(|d| d.num_milliseconds())
        .map_err(|_| format!("cannot parse \"{text}\" to a valid duration"))
}

pub(crate) fn range_series(s: promql::Series) -> RangeSeries {
    RangeSeries {
        metric: series_labels(s.labels),
        values: s.points.into_iter().map(|(t, v)| pair(t, v)).collect(),
    }
}

/// Loads what `expr` reaches when evaluated from `start` to `end`, then runs `evaluate` on it
/// off the async threads; evaluation errors name the query.
async fn evaluate<T: Send + 'static>(
    state: &AppState,
    expr: promql_parser::parser::Expr,
    (start, end, step): (i64, i64, i64),
    resolution: Resolution,
    evaluate: impl FnOnce(&MemorySource, &promql_parser::parser::Expr) -> promql::EvalResult<T>
        + Send
        + 'static,
) -> Result<T, ApiError> {
    let clock = std::time::Instant::now();
    let source = fetch_for(
        &state.pool,
        state.ingester.head(),
        &expr,
        (start, end, step),
        resolution,
    )
    .await?;
    let fetched = clock.elapsed();
    let series = source.series.len();
    let samples: usize = source.series.iter().map(|s| s.points.len()).sum();
    let result = tokio::task::spawn_blocking(move || evaluate(&source, &expr)).await;
    tracing::debug!(
        series,
        samples,
        fetch_ms = fetched.as_secs_f64() * 1000.0,
        eval_ms = (clock.elapsed() - fetched).as_secs_f64() * 1000.0,
        "query evaluated"
    );
    result
        .map_err(|e| ApiError::Internal(e.into()))?
        .map_err(|e| ApiError::invalid("query", e.0))
}

/// `/api/v1/query`: evaluates an expression at one instant (`time`, default now).
async fn get_query(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<QueryData> {
    let params = Params::new(query, &body);
    let expr = parse_query(&params)?;
    let at = params
        .time("time")?
        .unwrap_or_else(Utc::now)
        .timestamp_millis();
    let value = instant_query(&state, expr, at).await?;
    let data = match value {
        Value::Scalar(v) => QueryData::Scalar(pair(at, v)),
        Value::String(s) => QueryData::String((at as f64 / 1000.0, s)),
        Value::Vector(samples) => QueryData::Vector(
            samples
                .into_iter()
                .map(|s| InstantSample {
                    metric: series_labels(s.labels),
                    value: pair(at, s.value),
                })
                .collect(),
        ),
        Value::Matrix(series) => QueryData::Matrix(series.into_iter().map(range_series).collect()),
    };
    Ok(Json(PromResponse::success(data)))
}

/// Parses PromQL as the query API does (errors name the `query` field).
pub fn parse_expr(text: &str) -> Result<promql_parser::parser::Expr, ApiError> {
    promql_parser::parser::parse(text).map_err(|e| ApiError::bad_request("query", e))
}

/// Evaluates `expr` at every `step` from `start` to `end` (ms), with the query API's checks;
/// the one path every range query takes (the API, dashboards' public links, panel images).
pub async fn range_query(
    state: &AppState,
    expr: promql_parser::parser::Expr,
    (start, end, step): (i64, i64, i64),
) -> Result<Vec<promql::Series>, ApiError> {
    if end < start {
        return Err(ApiError::bad_request(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    if step <= 0 {
        return Err(ApiError::bad_request("step", "zero or negative query resolution step widths are not accepted. Try a positive integer"));
    }
    if (end - start) / step > MAX_POINTS_PER_SERIES {
        return Err(ApiError::bad_request(
            "step",
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
        ));
    }
    if !matches!(
        expr.value_type(),
        promql_parser::parser::value::ValueType::Vector
            | promql_parser::parser::value::ValueType::Scalar
    ) {
        return Err(ApiError::bad_request(
            "query",
            format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                expr.value_type()
            ),
        ));
    }
    // At steps of 20 minutes and more, compacted days are read from the five-minute
    // downsampled stream: a 30-day graph then reads a tenth of the samples.
    let resolution = if step >= DOWNSAMPLED_MIN_STEP_MS {
        Resolution::Downsampled
    } else {
        Resolution::Raw
    };
    evaluate(
        state,
        expr,
        (start, end, step),
        resolution,
        move |source, expr| promql::evaluate_range(source, expr, start, end, step),
    )
    .await
}

/// Evaluates `expr` at the instant `at` (ms).
pub async fn instant_query(
    state: &AppState,
    expr: promql_parser::parser::Expr,
    at: i64,
) -> Result<Value, ApiError> {
    evaluate(
        state,
        expr,
        (at, at, 0),
        Resolution::Raw,
        move |source, expr| promql::evaluate_instant(source, expr, at),
    )
    .await
}

/// `/api/v1/query_range`: evaluates an expression at every step from `start` to `end`.
async fn get_query_range(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<QueryData> {
    let params = Params::new(query, &body);
    let expr = parse_query(&params)?;
    let series = range_query(&state, expr, params.range()?).await?;
    Ok(Json(PromResponse::success(QueryData::Matrix(
        series.into_iter().map(range_series).collect(),
    ))))
}

async fn list_series(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<Vec<SeriesLabels>> {
    let params = Params::new(query, &body);
    let selectors = params.selectors()?;
    if selectors.is_empty() {
        return Err(ApiError::bad_request("match[]", "no match[] parameter provided").into());
    }
    let rows = params.find_series(&state.pool, &selectors).await?;
    let data = rows
        .into_iter()
        .map(|row| series_labels(row.into_labels().into()))
        .collect();
    Ok(Json(PromResponse::success(data)))
}

async fn list_labels(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<Vec<String>> {
    let params = Params::new(query, &body);
    let selectors = params.selectors()?;
    let mut names: BTreeSet<String> = BTreeSet::from(["__name__".to_string()]);
    if selectors.is_empty() {
        names.extend(store::series::select_label_names(&state.pool).await?);
    } else {
        for row in params.find_series(&state.pool, &selectors).await? {
            names.extend(row.labels.into_iter().map(|(k, _)| k));
        }
    }
    Ok(Json(PromResponse::success(names.into_iter().collect())))
}

async fn list_label_values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> PromResult<Vec<String>> {
    if name != "__name__" && !is_valid_label_name(&name) {
        return Err(
            ApiError::bad_request("name", format!("invalid label name: \"{name}\"")).into(),
        );
    }
    let params = Params::new(query, &[]);
    let selectors = params.selectors()?;
    let values: Vec<String> = if selectors.is_empty() {
        if name == "__name__" {
            store::series::select_metric_names(&state.pool).await?
        } else {
            store::series::select_label_values(&state.pool, &name).await?
        }
    } else {
        let rows = params.find_series(&state.pool, &selectors).await?;
        let set: BTreeSet<String> = rows
            .into_iter()
            .filter_map(|row| {
                if name == "__name__" {
                    Some(row.metric_name)
                } else {
                    row.labels
                        .get(&name)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                }
            })
            .collect();
        set.into_iter().collect()
    };
    Ok(Json(PromResponse::success(values)))
}

async fn list_metadata(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> PromResult<BTreeMap<String, Vec<MetricMetadata>>> {
    let params = Params::new(query, &[]);
    let limit = match params.get("limit") {
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::bad_request("limit", format!("\"{text}\" is not a whole number"))
        })?)
        .filter(|n| *n > 0),
        None => None,
    };
    let rows = store::metadata::select_metadata(&state.pool, params.get("metric"), limit).await?;
    let data = rows
        .into_iter()
        .map(|(metric, kind, help, unit)| (metric, vec![MetricMetadata { kind, help, unit }]))
        .collect();
    Ok(Json(PromResponse::success(data)))
}

async fn get_buildinfo() -> Json<PromResponse<BuildInfo>> {
    Json(PromResponse::success(BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        revision: String::new(),
        branch: String::new(),
        build_user: String::new(),
        build_date: String::new(),
        go_version: String::new(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_times_are_unix_seconds_or_rfc3339() {
        let expected = DateTime::parse_from_rfc3339("2026-01-31T12:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("1769860800.5").unwrap(), expected);
        assert_eq!(parse_time("2026-01-31T12:00:00.5Z").unwrap(), expected);
        assert!(parse_time("yesterday")
            .unwrap_err()
            .contains("cannot parse"));
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn parameters_come_from_the_query_and_the_form_body() {
        let params = Params::new(Some("match[]=up&start=1".into()), b"match[]=down&start=2");
        assert_eq!(params.selectors().unwrap().len(), 2);
        assert_eq!(
            params.get("start"),
            Some("2"),
            "the body wins, as it comes last"
        );
    }
}
