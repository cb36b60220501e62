//! `POST /api/v1/write`: Prometheus remote-write 1.0, so a stock Prometheus can send its
//! samples with `remote_write: [{url: http://portal/api/v1/write}]`.
//! Answers as Prometheus' own receiver does: 204 when stored; 400 for a request that retrying
//! cannot fix (malformed, or refused by a limit: the rest of it is stored); 413 when too large;
//! 503 with Retry-After when busy, which senders retry.

use super::{admission::IngestBody, AppState};
use crate::{error::ApiError, ingest::remote_write};
use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    routing::post,
    Router,
};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/write", post(create_remote_write))
}

/// Most bytes a request may expand to once decompressed.
const MAX_DECODED_FACTOR: usize = 8;

async fn create_remote_write(
    State(state): State<AppState>,
    headers: HeaderMap,
    admitted: IngestBody,
) -> Result<StatusCode, ApiError> {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        if !encoding.as_bytes().eq_ignore_ascii_case(b"snappy") {
            return Err(ApiError::unsupported_media(
                "content-encoding",
                format!("remote write bodies are snappy-compressed; got {encoding:?}"),
            ));
        }
    }
    let body_limit = state.info.body_limit;
    let max_decoded = usize::try_from(body_limit)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_DECODED_FACTOR);
    let ingester = state.ingester.clone();
    // The body is held (with its budget) until the write is answered.
    let (_admitted, decoded) = admitted
        .decode(move |body| {
            // Snappy says what a body decompresses to: the budget is charged before.
            if let Ok(len) = snap::raw::decompress_len(&body.bytes) {
                if len <= max_decoded {
                    body.hold_decoded(len as u64)?;
                }
            }
            remote_write::decode(&body.bytes, max_decoded, |fingerprints| {
                ingester.known_ids(fingerprints)
            })
            .map_err(|e| {
                if e.too_large {
                    ApiError::TooLarge {
                        limit: body_limit.saturating_mul(MAX_DECODED_FACTOR as u64),
                    }
                } else {
                    ApiError::bad_request(e.field, e.message)
                }
            })
        })
        .await?;
    let decoded = decoded?;
    state.ingester.write_metadata(&decoded.metadata).await?;
    state
        .metrics
        .observe_exemplars_dropped("remote_write", decoded.exemplars_dropped);
    let outcome = state
        .ingester
        .write_with_known("remote_write", decoded.known, decoded.series)
        .await?;
    match outcome.refusal_message(state.ingester.limits()) {
        Some(message) => Err(ApiError::Limited(message)),
        None => Ok(StatusCode::NO_CONTENT),
    }
}
