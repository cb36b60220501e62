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

/// The request's encoding (from its content type) and whether it is gzip-compressed.
fn body_format(headers: &HeaderMap) -> Result<(Encoding, bool), ApiError> {
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
    let content_encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let gzip = match content_encoding.as_str() {
        "identity" | "" => false,
        "gzip" => true,
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
    Ok((encoding, gzip))
}

/// The decompressed body of a gzip-compressed write, at most `limit` bytes, each piece charged
/// to the write's in-flight budget before it is kept.
fn gunzip(body: &mut IngestBody, limit: u64) -> Result<Vec<u8>, ApiError> {
    let compressed = body.bytes.clone();
    let mut decoder = flate2::read::GzDecoder::new(&compressed[..]);
    let mut out = Vec::new();
    let mut piece = vec![0u8; 64 * 1024];
    loop {
        let n = decoder
            .read(&mut piece)
            .map_err(|e| ApiError::bad_request("body", format!("not valid gzip: {e}")))?;
        if n == 0 {
            return Ok(out);
        }
        let size = (out.len() + n) as u64;
        if size > limit {
            return Err(ApiError::TooLarge { limit });
        }
        body.hold_decoded(size)?;
        out.extend_from_slice(&piece[..n]);
    }
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
    let (encoding, gzip) = body_format(&headers)?;
    let limit = state.info.body_limit.saturating_mul(MAX_DECODED_FACTOR);
    let ingester = state.ingester.clone();
    // The body is held (with its budget) until the write is answered.
    let (_admitted, translated) = admitted
        .decode(move |body| {
            let request = if gzip {
                otlp::decode(&gunzip(body, limit)?, encoding)
            } else {
                otlp::decode(&body.bytes, encoding)
            }
            .map_err(|m| ApiError::bad_request("body", m))?;
            otlp::translate(&request, ingester.delta_totals())
                .map_err(|e| ApiError::bad_request(e.field, e.message))
        })
        .await?;
    let translated = translated?;
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
