//! The audit log: who changed what, when, from where.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One change or sign-in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// A login, `token:<name>`, or `anonymous`.
    pub actor: String,
    pub address: String,
    /// What was done, e.g. `PUT /api/dashboards/{uid}` or `sign-in`.
    pub action: String,
    /// What it was done to, e.g. `/api/dashboards/agent-overview` or a login.
    pub target: String,
    /// The HTTP status it was answered with.
    pub outcome: u16,
    /// The thing before the change (none for a creation).
    #[serde(default)]
    pub before: Option<serde_json::Value>,
    /// The thing after the change (none for a deletion).
    #[serde(default)]
    pub after: Option<serde_json::Value>,
}

/// A page of the audit log, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `before` for the next (older) page; none at the end.
    pub next: Option<i64>,
}
