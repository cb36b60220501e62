//! OTLP/HTTP receivers: `POST /v1/metrics` and `POST /v1/logs`, protobuf
//! (`application/x-protobuf`) or JSON (`application/json`), gzip-compressed or not, as the
//! OpenTelemetry SDKs and Collector send, through the one front door (`crate::otlp`).
//! Answers as the OTLP/HTTP spec says: 200 with an `Export…ServiceResponse` in the request's
//! encoding (its `partial_success` says what was refused and why); 400 for a request no retry
//! can fix; 413 when too large; 415 for an unknown content type or encoding; 503 with
//! Retry-After when busy, which exporters retry.

use super::{admission::IngestBody, AppState};
use crate::{
    error::ApiError,
    ingest::otlp as metrics_otlp,
    otlp::{self, Encoding},
};
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use opentelemetry_proto::tonic::collector::{
    logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse},
    metrics::v1::{
        ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
    },
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/metrics", post(create_metrics))
        .route("/v1/logs", post(create_logs))
}

/// Most bytes a request may expand to once decompressed, as a multiple of the body limit.
const MAX_DECODED_FACTOR: u64 = 8;

/// The request's encoding, from its headers, before anything is decoded.
fn encoding_of(headers: &HeaderMap) -> Result<(Encoding, bool), ApiError> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let encoding = Encoding::from_content_type(text(header::CONTENT_TYPE).unwrap_or(""))?;
    let gzip = otlp::is_gzip(text(header::CONTENT_ENCODING))?;
    Ok((encoding, gzip))
}

/// Decodes the export request in `body` (on the blocking pool when large), then runs `then`
/// on it there too; the body and its budget stay held by the returned [`IngestBody`] until the
/// write is answered.
async fn decode_then<M, T>(
    state: &AppState,
    headers: &HeaderMap,
    admitted: IngestBody,
    what: &'static str,
    then: impl FnOnce(M) -> Result<T, ApiError> + Send + 'static,
) -> Result<(Encoding, IngestBody, T), ApiError>
where
    M: prost::Message + Default + serde::de::DeserializeOwned,
    T: Send + 'static,
{
    let (encoding, gzip) = encoding_of(headers)?;
    let limit = state.info.body_limit.saturating_mul(MAX_DECODED_FACTOR);
    let (held, out) = admitted
        .decode(move |body| {
            let request: M = if gzip {
                let compressed = body.bytes.clone();
                let plain = otlp::gunzip(&compressed, limit, |n| body.hold_decoded(n))?;
                otlp::decode(&plain, encoding, what)?
            } else {
                otlp::decode(&body.bytes, encoding, what)?
            };
            then(request)
        })
        .await?;
    Ok((encoding, held, out?))
}

/// Answers with `message` in the request's encoding.
fn export_response<M: prost::Message + serde::Serialize>(
    encoding: Encoding,
    message: &M,
) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(encoding.content_type()),
        )],
        otlp::encode(encoding, message),
    )
        .into_response()
}

async fn create_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<Response, ApiError> {
    let ingester = state.ingester.clone();
    let (encoding, _held, translated) = decode_then(
        &state,
        &headers,
        admitted,
        "ExportMetricsServiceRequest",
        move |request: ExportMetricsServiceRequest| {
            metrics_otlp::translate(&request, ingester.delta_totals())
                .map_err(|e| ApiError::bad_request(e.field, e.message))
        },
    )
    .await?;
    state.ingester.write_metadata(&translated.metadata).await?;
    let outcome = state.ingester.write("otlp", translated.series).await?;
    let partial_success = outcome
        .refusal_message(state.ingester.limits())
        .map(|error_message| ExportMetricsPartialSuccess {
            rejected_data_points: (outcome.samples_refused_by_limit + outcome.samples_out_of_bounds)
                as i64,
            error_message,
        });
    Ok(export_response(
        encoding,
        &ExportMetricsServiceResponse { partial_success },
    ))
}

async fn create_logs(
    State(state): State<AppState>,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<Response, ApiError> {
    let logs = state.logs.clone();
    let (encoding, _held, batch) = decode_then(
        &state,
        &headers,
        admitted,
        "ExportLogsServiceRequest",
        move |request: ExportLogsServiceRequest| Ok(logs.from_otlp(&request)?),
    )
    .await?;
    let outcome = state.logs.write(batch).await?;
    let partial_success = outcome
        .refusal_message()
        .map(|error_message| ExportLogsPartialSuccess {
            rejected_log_records: outcome.refused as i64,
            error_message,
        });
    Ok(export_response(
        encoding,
        &ExportLogsServiceResponse { partial_success },
    ))
}
