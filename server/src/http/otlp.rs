//! OTLP/HTTP receivers: `POST /v1/metrics`, protobuf (`application/x-protobuf`) or JSON
//! (`application/json`), gzip-compressed or not, as the OpenTelemetry SDKs and Collector send.
//! Answers as the OTLP/HTTP spec says: 200 with an `Export…ServiceResponse` in the request's
//! encoding (its `partial_success` says what was refused and why); 400 for a request no retry
//! can fix; 413 when too large; 415 for an unknown content type or encoding; 503 with
//! Retry-After when busy, which exporters retry.

use super::{admission::IngestBody, AppState};
use crate::{
    error::ApiError,
    ingest::otlp::{self, Encoding},
    store,
};
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use std::io::Read;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/metrics", post(create_metrics))
}

/// Most bytes a request may expand to once decompressed, as a multiple of the body limit.
const MAX_DECODED_FACTOR: u64 = 8;

/// The request's encoding and its decompressed body.
fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Encoding, Vec<u8>), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let encoding = match content_type.as_str() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        other => {
            return Err(ApiError::Invalid {
                field: "content-type".into(),
                message: format!(
                    "OTLP/HTTP bodies are application/x-protobuf or application/json; got {other:?}"
                ),
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            })
        }
    };
    let limit = state.info.body_limit.saturating_mul(MAX_DECODED_FACTOR);
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let decoded = match content_encoding.as_str() {
        "identity" | "" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(limit + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request("body", format!("not valid gzip: {e}")))?;
            if out.len() as u64 > limit {
                return Err(ApiError::TooLarge { limit });
            }
            out
        }
        other => {
            return Err(ApiError::Invalid {
                field: "content-encoding".into(),
                message: format!(
                    "OTLP/HTTP bodies are gzip-compressed or not compressed; got {other:?}"
                ),
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            })
        }
    };
    Ok((encoding, decoded))
}

/// Answers with `message` in the request's encoding.
fn export_response<M: prost::Message + serde::Serialize>(
    encoding: Encoding,
    message: &M,
) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", message.encode_to_vec()),
        Encoding::Json => (
            "application/json",
            serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec()),
        ),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn create_metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<Response, ApiError> {
    let (encoding, body) = read_body(&state, &headers, &admitted.bytes)?;
    let request = otlp::decode(&body, encoding).map_err(|m| ApiError::bad_request("body", m))?;
    let translated = otlp::translate(&request, state.ingester.delta_totals())
        .map_err(|e| ApiError::bad_request(e.field, e.message))?;
    store::metadata::upsert_metadata(&state.pool, &translated.metadata).await?;
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
