//! The metadata half of the Prometheus HTTP API, with Prometheus' JSON envelope and error
//! shape so Grafana's Prometheus data source and `promtool` can browse the portal's series:
//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata`,
//! `/api/v1/status/buildinfo`. Parameters come from the query string or a form body (POST).

use super::{params::Params, AppState};
use crate::{
    error::ApiError,
    labels::is_valid_label_name,
    query::{
        promql::{self, format_value, Value},
        series::Selector,
        QueryService,
    },
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
use chrono::Utc;
use std::collections::BTreeMap;

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
        let body = self.0.body();
        let error_type = match body.error.kind.as_str() {
            "invalid" | "bad_request" | "limit" | "too_large" => "bad_data",
            "not_found" => "not_found",
            "execution" => "execution",
            "unavailable" | "rate_limited" => "unavailable",
            _ => "internal",
        };
        let message = match body.error.field {
            Some(field) => format!("{field}: {}", body.error.message),
            None => body.error.message,
        };
        self.0.respond_with(Json(PromResponse::<()>::Error {
            error_type: error_type.into(),
            error: message,
        }))
    }
}

type PromResult<T> = Result<Json<PromResponse<T>>, PromError>;

/// Every `match[]` selector, parsed.
fn selectors(params: &Params) -> Result<Vec<Selector>, ApiError> {
    params
        .all("match[]")
        .map(|v| Selector::parse(v).map_err(|e| ApiError::bad_request("match[]", e)))
        .collect()
}

pub fn pair(t_ms: i64, v: f64) -> SamplePair {
    (t_ms as f64 / 1000.0, format_value(v))
}

pub fn series_labels(labels: promql::Labels) -> SeriesLabels {
    labels.into_iter().collect()
}

pub fn range_series(s: promql::Series) -> RangeSeries {
    RangeSeries {
        metric: series_labels(s.labels),
        values: s.points.into_iter().map(|(t, v)| pair(t, v)).collect(),
    }
}

/// Parses the `query` parameter.
fn parse_query(
    queries: &QueryService,
    params: &Params,
) -> Result<promql_parser::parser::Expr, ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::bad_request("query", "no query parameter provided"))?;
    Ok(queries.parse(text)?)
}

/// `/api/v1/query`: evaluates an expression at one instant (`time`, default now).
async fn get_query(
    State(queries): State<QueryService>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<QueryData> {
    let params = Params::new(query, &body);
    let expr = parse_query(&queries, &params)?;
    let at = params
        .time("time")?
        .unwrap_or_else(Utc::now)
        .timestamp_millis();
    let value = queries.instant(expr, at).await?;
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

/// `/api/v1/query_range`: evaluates an expression at every step from `start` to `end`.
async fn get_query_range(
    State(queries): State<QueryService>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<QueryData> {
    let params = Params::new(query, &body);
    let expr = parse_query(&queries, &params)?;
    let series = queries.range(expr, params.range()?).await?;
    Ok(Json(PromResponse::success(QueryData::Matrix(
        series.into_iter().map(range_series).collect(),
    ))))
}

async fn list_series(
    State(queries): State<QueryService>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<Vec<SeriesLabels>> {
    let params = Params::new(query, &body);
    let selectors = selectors(&params)?;
    if selectors.is_empty() {
        return Err(ApiError::bad_request("match[]", "no match[] parameter provided").into());
    }
    let rows = queries
        .series(&selectors, params.time("start")?, params.time("end")?)
        .await?;
    let data = rows
        .into_iter()
        .map(|row| series_labels(row.into_labels().into()))
        .collect();
    Ok(Json(PromResponse::success(data)))
}

async fn list_labels(
    State(queries): State<QueryService>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> PromResult<Vec<String>> {
    let params = Params::new(query, &body);
    let names = queries
        .label_names(
            &selectors(&params)?,
            params.time("start")?,
            params.time("end")?,
        )
        .await?;
    Ok(Json(PromResponse::success(names)))
}

async fn list_label_values(
    State(queries): State<QueryService>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> PromResult<Vec<String>> {
    if name != "__name__" && !is_valid_label_name(&name) {
        return Err(
            ApiError::bad_request("name", format!("invalid label name: \"{name}\"")).into(),
        );
    }
    let params = Params::new(query, &[]);
    let values = queries
        .label_values(
            &name,
            &selectors(&params)?,
            params.time("start")?,
            params.time("end")?,
        )
        .await?;
    Ok(Json(PromResponse::success(values)))
}

async fn list_metadata(
    State(queries): State<QueryService>,
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
    let rows = queries.metadata(params.get("metric"), limit).await?;
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
