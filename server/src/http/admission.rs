//! A write's body, read only once the shared write admission (`crate::admission::writes`) has
//! let it in: every signal's write endpoint (remote-write, OTLP, Loki push, bulk logs) takes
//! its body through this extractor, so none can read a body the budget has not counted.

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
    admitted: crate::admission::Admitted,
}

/// Bodies larger than this are decompressed and decoded on the blocking pool, so that a large
/// write never holds up the async workers that answer everything else.
pub const BLOCKING_DECODE_BYTES: usize = 64 * 1024;

impl IngestBody {
    /// Charges the budget for `decoded` bytes on top of the body, before they are made.
    pub fn hold_decoded(&mut self, decoded: u64) -> Result<(), crate::admission::AdmissionError> {
        self.admitted
            .hold((self.bytes.len() as u64).saturating_add(decoded))
    }

    /// Runs `work` on this body: on the blocking pool when the body is large, in place when it
    /// is small (a hop to another thread costs more than decoding a few kilobytes).
    pub async fn decode<T: Send + 'static>(
        self,
        work: impl FnOnce(&mut IngestBody) -> T + Send + 'static,
    ) -> Result<(IngestBody, T), ApiError> {
        let mut body = self;
        if body.bytes.len() <= BLOCKING_DECODE_BYTES {
            let out = work(&mut body);
            return Ok((body, out));
        }
        tokio::task::spawn_blocking(move || {
            let out = work(&mut body);
            (body, out)
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::from(e)))
    }
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
            .writes
            .admit(length)
            .map_err(|e| ApiError::from(e).into_response())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self { bytes, admitted })
    }
}
