//! Admission of ingest bodies: a write takes a request slot and its share of the in-flight byte
//! budget before its body is read and keeps them until it is answered; past either it is shed at once with 503
//! and Retry-After (what remote-write and OTLP senders retry on), so overload never turns into
//! an unbounded pile of buffered bodies.

use super::AppState;
use crate::error::ApiError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::header,
    response::{IntoResponse, Response},
};

/// A write's body, read after admission; the budget is held while this lives.
pub struct IngestBody {
    pub bytes: Bytes,
    _admitted: crate::ingest::Admitted,
}

impl FromRequest<AppState> for IngestBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        // A body of unknown length (chunked) is charged the most it may be.
        let length = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(state.info.body_limit, |n| n.min(state.info.body_limit));
        let admitted = state
            .ingester
            .admit(length)
            .map_err(|e| ApiError::from(e).into_response())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            bytes,
            _admitted: admitted,
        })
    }
}
