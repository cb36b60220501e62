//! The audit log service: records every change and sign-in, pages through them, and drops
//! what is older than the retention. Secrets never reach it: fields that hold passwords,
//! secrets or tokens are replaced before an event is stored.

use crate::{error::ApiError, store::audit as db};
use app::api::audit::{AuditEvent, AuditPage};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// Most events one page lists.
pub const MAX_PAGE: i64 = 500;
/// Largest JSON kept for one side of a change; bigger ones are replaced by a note.
pub const MAX_SNAPSHOT_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct Audit {
    pool: PgPool,
}

/// One thing that happened.
pub struct Event<'a> {
    pub actor: &'a str,
    pub address: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub outcome: u16,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// What to list.
#[derive(Default)]
pub struct Filter {
    pub before_id: Option<i64>,
    pub actor: Option<String>,
    pub text: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
}

/// Keys whose text values are never stored.
fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "current",
        "new",
        "authorization",
    ]
    .iter()
    .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

/// `value` with every secret field replaced, and cut to a note when it is too big.
pub fn redact(value: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    // A public link's URL is its token.
                    let public_url =
                        key == "url" && v.as_str().is_some_and(|u| u.contains("/public/"));
                    if (is_secret(key) || public_url) && v.is_string() {
                        *v = Value::String("(hidden)".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = value;
    walk(&mut value);
    let size = serde_json::to_vec(&value).map_or(0, |v| v.len());
    if size > MAX_SNAPSHOT_BYTES {
        return Value::String(format!("({size} bytes of JSON, too large to keep)"));
    }
    value
}

fn event_of(row: db::EventRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: row.at,
        actor: row.actor,
        address: row.address,
        action: row.action,
        target: row.target,
        outcome: u16::try_from(row.outcome).unwrap_or(0),
        before: row.before,
        after: row.after,
    }
}

impl Audit {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Stores an event. A change that was made is never undone for want of its record, so a
    /// failure to store is logged, not returned.
    pub async fn record(&self, event: Event<'_>) {
        let (before, after) = (event.before.map(redact), event.after.map(redact));
        let row = db::NewEvent {
            actor: event.actor,
            address: event.address,
            action: event.action,
            target: &event.target.chars().take(1000).collect::<String>(),
            outcome: i16::try_from(event.outcome).unwrap_or(i16::MAX),
            before: before.as_ref(),
            after: after.as_ref(),
        };
        if let Err(e) = db::insert_event(&self.pool, &row).await {
            tracing::error!(error = %e, action = event.action, actor = event.actor, "an audit event was not stored");
        }
    }

    pub async fn list(&self, filter: &Filter) -> Result<AuditPage, ApiError> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("between 1 and {MAX_PAGE}"),
            ));
        }
        let rows = db::select_events(
            &self.pool,
            filter.before_id,
            filter.actor.as_deref().filter(|a| !a.is_empty()),
            filter.text.as_deref().filter(|t| !t.is_empty()),
            filter.since,
            limit + 1,
        )
        .await?;
        let more = rows.len() as i64 > limit;
        let events: Vec<AuditEvent> = rows
            .into_iter()
            .take(limit as usize)
            .map(event_of)
            .collect();
        let next = if more {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage { events, next })
    }

    /// Deletes events older than `retention`, in batches; returns how many went.
    pub async fn prune(&self, retention: chrono::Duration) -> Result<u64, ApiError> {
        let cutoff = Utc::now() - retention;
        let mut total = 0;
        loop {
            let n = db::delete_before(&self.pool, cutoff, 10_000).await?;
            total += n;
            if n < 10_000 {
                return Ok(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_wherever_they_are() {
        let value = serde_json::json!({
            "login": "ana", "password": "hunter2hunter2",
            "token": {"id": 3, "name": "ci"}, "secret": "pt_abc",
            "settings": [{"url": "http://hook", "basic_password": "x"}],
            "new": "next one", "current": "old one", "empty_secret": null
        });
        let hidden = redact(value);
        assert_eq!(hidden["login"], "ana");
        assert_eq!(hidden["password"], "(hidden)");
        assert_eq!(hidden["secret"], "(hidden)");
        assert_eq!(
            hidden["token"]["name"], "ci",
            "an object under a secret's name is walked"
        );
        assert_eq!(hidden["settings"][0]["url"], "http://hook");
        assert_eq!(hidden["settings"][0]["basic_password"], "(hidden)");
        assert_eq!(hidden["new"], "(hidden)");
        assert_eq!(hidden["current"], "(hidden)");
        assert!(hidden["empty_secret"].is_null());
        let big = Value::String("x".repeat(MAX_SNAPSHOT_BYTES + 1));
        assert!(redact(big).as_str().unwrap().contains("too large"));
    }
}
