//! The one error type that crosses HTTP: each variant maps to a status and to the JSON body
//! `{"error": {"kind", "message", "field"?}}`. Internal details go to the log, never to clients.

use app::api::{ErrorBody, ErrorDetail};
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// Bad input: names the field and why (422 for well-formed but invalid, 400 for unreadable).
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        message: String,
        status: StatusCode,
    },
    #[error("{0}")]
    Conflict(String),
    /// A well-formed query that cannot be evaluated on this data (many-to-one matching, a
    /// duplicate label set, a limit on samples): 422, Prometheus' `execution` error.
    #[error("{0}")]
    Execution(String),
    /// Not signed in, or credentials that do not hold: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, without the right to: 403.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Refused by a limit that retrying cannot lift (series per metric, time window).
    #[error("{0}")]
    Limited(String),
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// Overload or a dependency that is down: 429 or 503, with Retry-After.
    #[error("{message}")]
    Unavailable {
        message: String,
        status: StatusCode,
        retry_after_secs: u64,
    },
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    /// Internal, unless a database error in its chain says the database cannot serve now.
    fn from(e: anyhow::Error) -> Self {
        e.chain()
            .filter_map(|cause| cause.downcast_ref::<sqlx::Error>())
            .find_map(database_unavailable)
            .unwrap_or(Self::Internal(e))
    }
}

/// The 503 for a database error that says the database cannot serve now (see
/// `store::unavailable`); a busy pool is worth retrying sooner than a database that is away.
fn database_unavailable(e: &sqlx::Error) -> Option<ApiError> {
    let why = crate::store::unavailable(e)?;
    tracing::warn!(error = %e, "the database cannot serve the request now");
    let retry_after = if matches!(e, sqlx::Error::PoolTimedOut) {
        1
    } else {
        5
    };
    Some(ApiError::unavailable(why, retry_after))
}

impl ApiError {
    /// A 422 naming the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// A 400 for a request that cannot be read at all (bad JSON, bad encoding).
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A 503 with Retry-After.
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Unavailable {
            message: message.into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after_secs,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid { status, .. } | Self::Unavailable { status, .. } => *status,
            Self::Limited(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid { status, .. } if *status == StatusCode::BAD_REQUEST => "bad_request",
            Self::Invalid { .. } => "invalid",
            Self::Conflict(_) => "conflict",
            Self::Execution(_) => "execution",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Limited(_) => "limit",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::TooLarge { .. } => "too_large",
            Self::Unavailable { status, .. } if *status == StatusCode::TOO_MANY_REQUESTS => {
                "rate_limited"
            }
            Self::Unavailable { .. } => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The body clients see.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Self::Internal(_) => "internal error; the server log has the details".to_string(),
            Self::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let field = match self {
            Self::Invalid { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                kind: self.kind().into(),
                message,
                field,
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Self::Unavailable {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<crate::ingest::IngestError> for ApiError {
    fn from(e: crate::ingest::IngestError) -> Self {
        match e {
            crate::ingest::IngestError::Busy => {
                Self::unavailable("too many writes in progress; retry shortly", 1)
            }
            crate::ingest::IngestError::Overloaded { inflight_limit } => Self::unavailable(
                format!(
                    "the portal is receiving more than it can take in at once ({} MiB of request bodies in flight); retry shortly",
                    inflight_limit >> 20
                ),
                1,
            ),
            // The compactor runs every minute; a back-fill sender retries until it has.
            crate::ingest::IngestError::HeadFull(message) => {
                Self::unavailable(format!("{message}; retry shortly"), 10)
            }
            crate::ingest::IngestError::LargerThanBudget { inflight_limit } => {
                Self::TooLarge {
                    limit: inflight_limit,
                }
            }
            crate::ingest::IngestError::Crowded { limit } => Self::unavailable(
                format!("the portal has {limit} writes in progress, the most it takes at once; retry shortly"),
                1,
            ),
            crate::ingest::IngestError::Database(e) => e.into(),
        }
    }
}

impl From<crate::query::QueryError> for ApiError {
    fn from(e: crate::query::QueryError) -> Self {
        use crate::query::QueryError;
        match e {
            QueryError::Invalid { field, message } => Self::bad_request(field, message),
            QueryError::Execution(message) => Self::Execution(message),
            QueryError::Aborted(why) => match why {
                crate::query::promql::Abort::TooManySamples => {
                    Self::Execution(why.message().into())
                }
                crate::query::promql::Abort::TimedOut | crate::query::promql::Abort::Cancelled => {
                    Self::unavailable(why.message(), 1)
                }
            },
            QueryError::Busy => Self::unavailable(e.to_string(), 1),
            QueryError::OverShare(_) => Self::Unavailable {
                message: e.to_string(),
                status: axum::http::StatusCode::TOO_MANY_REQUESTS,
                retry_after_secs: 1,
            },
            QueryError::Database(e) => e.into(),
            QueryError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<crate::query::RangeError> for ApiError {
    fn from(e: crate::query::RangeError) -> Self {
        Self::bad_request(e.field, e.message)
    }
}

/// What a broken constraint means to a client, by constraint name; PostgreSQL's own message
/// (which names tables and values) stays in the log.
fn constraint_error(code: &str, constraint: Option<&str>) -> ApiError {
    match (code, constraint) {
        ("23505", Some("short_link_path_key")) => {
            ApiError::Conflict("a short link for this path already exists".into())
        }
        ("23505", Some("dashboard_pkey")) => {
            ApiError::Conflict("a dashboard with this uid already exists".into())
        }
        ("23505", _) => ApiError::Conflict("this already exists".into()),
        ("23503", Some(c)) if c.contains("dashboard_uid") || c.contains("uid_fkey") => {
            ApiError::invalid("uid", "no such dashboard")
        }
        ("23503", _) => ApiError::invalid("body", "refers to something that does not exist"),
        _ => ApiError::invalid("body", "breaks a rule of the stored data"),
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(unavailable) = database_unavailable(&e) {
            return unavailable;
        }
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound("not found".into()),
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some(code @ ("23505" | "23503" | "23514")) => {
                    tracing::info!(constraint = db.constraint(), error = %db.message(), "request refused by a constraint");
                    constraint_error(code, db.constraint())
                }
                _ => Self::Internal(e.into()),
            },
            _ => Self::Internal(e.into()),
        }
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
    fn constraint_errors_say_what_broke_without_the_database_message() {
        let e = constraint_error("23505", Some("dashboard_pkey"));
        assert_eq!(e.status().as_u16(), 409);
        assert!(e.to_string().contains("uid"));
        let e = constraint_error("23503", Some("public_link_dashboard_uid_fkey"));
        assert_eq!(e.body().error.field.as_deref(), Some("uid"));
        let e = constraint_error("23514", Some("some_check"));
        assert_eq!(e.status().as_u16(), 422);
        assert!(!e.body().error.message.contains("some_check"));
    }

    #[test]
    fn unavailable_answers_carry_retry_after() {
        let response = ApiError::unavailable("busy", 7).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
    }
}
