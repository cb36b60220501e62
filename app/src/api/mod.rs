//! The public HTTP API's request and response types, shared by the server's handlers and the
//! browser, and the browser's typed client for them.

pub mod accounts;
pub mod alerting;
pub mod audit;
mod client;
pub mod dashboard;
pub mod endpoints;
pub mod logs;
pub mod prometheus;
pub mod redirect;
pub mod silences;
mod status;

pub use client::ClientError;
pub use status::{DatabaseMode, DatabaseStatus, PortalStatus};

use serde::{Deserialize, Serialize};

/// The body of every error the API returns: `{"error": {"kind", "message", "field"?}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable machine-readable `kind`, a message for people, and the request
/// field at fault when one is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
