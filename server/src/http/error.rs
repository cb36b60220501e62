//! The one place errors become HTTP answers: each kind of [`ApiError`] gets its status, and
//! the signals' own errors (admission, OTLP, ingest, query, logs) become an `ApiError` first. A
//! database that cannot serve now is 503 with Retry-After, a caller past its share 429 with
//! Retry-After, never 500.

use crate::{
    admission::AdmissionError,
    alerting::evaluate::SourceError,
    error::{ApiError, Fault},
    ingest::IngestError,
    logs::LogsError,
    otlp::OtlpError,
    query::{promql::Abort, QueryError, RangeError},
};
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid { fault, .. } => match fault {
                Fault::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                Fault::Malformed => StatusCode::BAD_REQUEST,
                Fault::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            },
            Self::Unavailable {
                rate_limited: true, ..
            } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Limited(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } | Self::TooLargeBecause(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Marks an error answer already written in its protocol's shape, which the layer that gives
/// bare error answers the JSON body must leave alone.
#[derive(Clone, Copy)]
pub struct Shaped;

impl ApiError {
    /// This error's status and Retry-After around a body in some protocol's own shape
    /// (the portal's JSON, Prometheus' envelope, Loki's plain text); internal errors logged.
    pub fn respond_with(&self, body: impl IntoResponse) -> Response {
        if let Self::Internal(e) = self {
            tracing::error!(error = ?e, "request failed");
        }
        let mut response = (self.status(), body).into_response();
        response.extensions_mut().insert(Shaped);
        if let Self::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.respond_with(Json(self.body()))
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::LargerThanBudget { inflight_limit } => Self::TooLarge {
                limit: inflight_limit,
            },
            AdmissionError::OverShare(_) => Self::rate_limited(e.to_string(), 1),
            AdmissionError::TimedOut => Self::unavailable(Abort::TimedOut.message(), 1),
            AdmissionError::Crowded { .. }
            | AdmissionError::Overloaded { .. }
            | AdmissionError::QueueFull => Self::unavailable(e.to_string(), 1),
        }
    }
}

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::UnsupportedMedia { field, message } => {
                Self::unsupported_media(field, message)
            }
            OtlpError::Malformed { field, message } => Self::bad_request(field, message),
            OtlpError::TooLarge { limit } => Self::TooLarge { limit },
            OtlpError::Admission(e) => e.into(),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Busy => Self::unavailable("too many writes in progress; retry shortly", 1),
            // The compactor runs every minute; a back-fill sender retries until it has.
            IngestError::HeadFull(message) => {
                Self::unavailable(format!("{message}; retry shortly"), 10)
            }
            IngestError::Database(e) => e.into(),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Invalid { field, message } => Self::bad_request(field, message),
            QueryError::Execution(message) => Self::Execution(message),
            QueryError::Aborted(why) => match why {
                Abort::TooManySamples => Self::Execution(why.message().into()),
                Abort::TimedOut | Abort::Cancelled => Self::unavailable(why.message(), 1),
            },
            QueryError::Admission(e) => e.into(),
            QueryError::Database(e) => e.into(),
            QueryError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<SourceError> for ApiError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Metrics(e) => e.into(),
            SourceError::Logs(e) => e.into(),
        }
    }
}

impl From<LogsError> for ApiError {
    fn from(e: LogsError) -> Self {
        match e {
            LogsError::Invalid { field, message } => Self::bad_request(field, message),
            LogsError::TooManyLines { .. } => Self::TooLargeBecause(e.to_string()),
            LogsError::StreamRate {
                retry_after_secs, ..
            } => Self::rate_limited(e.to_string(), retry_after_secs),
            LogsError::TooManyStreams { .. } => Self::rate_limited(e.to_string(), 60),
            LogsError::Query(q) => Self::bad_request("query", q.to_string()),
            LogsError::NotFound(message) => Self::NotFound(message),
            LogsError::Admission(e) => e.into(),
            LogsError::TimedOut(_) => Self::unavailable(e.to_string(), 1),
            LogsError::Archive(message) => Self::Internal(anyhow::anyhow!(message)),
            LogsError::Database(e) => e.into(),
        }
    }
}

impl From<RangeError> for ApiError {
    fn from(e: RangeError) -> Self {
        Self::bad_request(e.field, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_their_status_and_kind() {
        let cases = [
            (ApiError::not_found("no such dashboard"), 404, "not_found"),
            (
                ApiError::invalid("ends_at", "must be after starts_at"),
                422,
                "invalid",
            ),
            (
                ApiError::bad_request("body", "not JSON"),
                400,
                "bad_request",
            ),
            (ApiError::Conflict("taken".into()), 409, "conflict"),
            (
                ApiError::Execution("many-to-one matching".into()),
                422,
                "execution",
            ),
            (ApiError::TooLarge { limit: 10 }, 413, "too_large"),
            (ApiError::Limited("series limit".into()), 400, "limit"),
            (ApiError::unavailable("busy", 1), 503, "unavailable"),
            (ApiError::rate_limited("share", 1), 429, "rate_limited"),
            (
                ApiError::unsupported_media("content-type", "text/plain"),
                415,
                "invalid",
            ),
            (
                ApiError::Internal(anyhow::anyhow!("secret detail")),
                500,
                "internal",
            ),
        ];
        for (error, status, kind) in cases {
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(error.body().error.kind, kind);
        }
    }

    #[test]
    fn invalid_input_names_the_field_and_internal_errors_hide_details() {
        let body = ApiError::invalid("ends_at", "must be after starts_at").body();
        assert_eq!(body.error.field.as_deref(), Some("ends_at"));
        assert_eq!(body.error.message, "must be after starts_at");
        let body = ApiError::Internal(anyhow::anyhow!("password=hunter2")).body();
        assert!(!body.error.message.contains("hunter2"));
    }

    #[test]
    fn unavailable_answers_carry_retry_after() {
        let response = ApiError::unavailable("busy", 7).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
