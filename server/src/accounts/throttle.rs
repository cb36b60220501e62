//! Sign-in throttling: after a few failures for one login or from one address, each further
//! attempt waits twice as long as the last (up to 15 minutes), answered 429 with Retry-After
//! before any password is checked. Kept in memory: a restart forgives, which a person locked
//! out would want anyway, and an attacker gains a handful of tries per restart. Each replica
//! keeps its own, so behind a load balancer an attacker's tries are as many times more as there
//! are replicas, each still slowed down twice as much at every failure.

use crate::error::ApiError;
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Failures allowed before waits begin.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most (the oldest half is dropped beyond): an attacker spraying logins or
/// addresses cannot grow it without bound.
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    until: Instant,
    last: Instant,
}

#[derive(Default)]
pub struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

fn keys(login: &str, address: &str) -> [String; 2] {
    [format!("login:{login}"), format!("address:{address}")]
}

impl Throttle {
    /// Refuses while either the login or the address must wait.
    pub fn check(&self, login: &str, address: &str, now: Instant) -> Result<(), ApiError> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = keys(login, address)
            .iter()
            .filter_map(|k| entries.get(k))
            .map(|e| e.until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            return Ok(());
        }
        Err(ApiError::Unavailable {
            message: "too many failed sign-ins; wait before trying again".into(),
            status: axum::http::StatusCode::TOO_MANY_REQUESTS,
            retry_after_secs: wait.as_secs().max(1),
        })
    }

    pub fn failed(&self, login: &str, address: &str, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let mut by_age: Vec<(Instant, String)> =
                entries.iter().map(|(k, e)| (e.last, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(MAX_ENTRIES / 2) {
                entries.remove(&k);
            }
        }
        for key in keys(login, address) {
            let e = entries.entry(key).or_insert(Entry {
                failures: 0,
                until: now,
                last: now,
            });
            // A quiet quarter of an hour forgives.
            if now.saturating_duration_since(e.last) > MAX_WAIT {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
            if e.failures >= FREE_FAILURES {
                let wait = Duration::from_secs(1 << (e.failures - FREE_FAILURES).min(10));
                e.until = now + wait.min(MAX_WAIT);
            }
        }
    }

    /// A correct password clears the login's failures (not the address's).
    pub fn succeeded(&self, login: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&format!("login:{login}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_begin_after_a_few_failures_and_double() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed("admin", "10.0.0.1", now);
            assert!(t.check("admin", "10.0.0.1", now).is_ok());
        }
        t.failed("admin", "10.0.0.1", now);
        let wait = |login: &str, address: &str, at: Instant| match t.check(login, address, at) {
            Err(ApiError::Unavailable {
                retry_after_secs, ..
            }) => retry_after_secs,
            _ => 0,
        };
        assert_eq!(
            wait("admin", "10.0.0.9", now),
            1,
            "the login waits from anywhere"
        );
        assert_eq!(
            wait("other", "10.0.0.1", now),
            1,
            "and the address for any login"
        );
        assert_eq!(wait("other", "10.0.0.9", now), 0);
        let later = now + Duration::from_secs(2);
        t.failed("admin", "10.0.0.1", later);
        assert_eq!(wait("admin", "10.0.0.2", later), 2);
        t.succeeded("admin");
        assert_eq!(wait("admin", "10.0.0.2", later), 0);
        assert_eq!(
            wait("admin", "10.0.0.1", later),
            2,
            "the address still waits"
        );
    }
}
