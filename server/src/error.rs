//! The error the shared services (accounts, dashboards, alerting, audit) answer with, and the
//! JSON body every error becomes: `{"error": {"kind", "message", "field"?}}`. It says what went
//! wrong, never which HTTP status that is: `http::error` alone maps it (and the signals' own
//! errors: ingest, query, logs) to a status. Internal details go to the log, never to clients.

use app::api::{ErrorBody, ErrorDetail};

/// Why an input was refused: it breaks a rule (`Unprocessable`), it cannot be read at all
/// (`Malformed`), or it comes in a format the portal does not take (`UnsupportedMedia`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Unprocessable,
    Malformed,
    UnsupportedMedia,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    /// Bad input: names the field and why (422 for well-formed but invalid, 400 for unreadable).
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        message: String,
        fault: Fault,
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
    /// Too large for another reason than its bytes (too many lines in one request).
    #[error("{0}")]
    TooLargeBecause(String),
    /// Overload or a dependency that is down: 429 or 503, with Retry-After.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
        /// The caller has had its share (429), rather than the portal being busy for all (503).
        rate_limited: bool,
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
            fault: Fault::Unprocessable,
        }
    }

    /// A 400 for a request that cannot be read at all (bad JSON, bad encoding).
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            fault: Fault::Malformed,
        }
    }

    pub fn unsupported_media(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
            fault: Fault::UnsupportedMedia,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A 503 with Retry-After.
    pub fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Unavailable {
            message: message.into(),
            retry_after_secs,
            rate_limited: false,
        }
    }

    /// The caller has asked for more than its share; it may ask again after `retry_after_secs`.
    pub fn rate_limited(message: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::Unavailable {
            message: message.into(),
            retry_after_secs,
            rate_limited: true,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid {
                fault: Fault::Malformed,
                ..
            } => "bad_request",
            Self::Invalid { .. } => "invalid",
            Self::Conflict(_) => "conflict",
            Self::Execution(_) => "execution",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Limited(_) => "limit",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::TooLarge { .. } | Self::TooLargeBecause(_) => "too_large",
            Self::Unavailable {
                rate_limited: true, ..
            } => "rate_limited",
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
    fn constraint_errors_say_what_broke_without_the_database_message() {
        let e = constraint_error("23505", Some("dashboard_pkey"));
        assert!(matches!(e, ApiError::Conflict(_)));
        assert!(e.to_string().contains("uid"));
        let e = constraint_error("23503", Some("public_link_dashboard_uid_fkey"));
        assert_eq!(e.body().error.field.as_deref(), Some("uid"));
        let e = constraint_error("23514", Some("some_check"));
        assert_eq!(e.body().error.kind, "invalid");
        assert!(!e.body().error.message.contains("some_check"));
    }
}
