//! Sign-in throttling: after a few failures for one login or from one address, each further
//! attempt waits twice as long as the last (up to 15 minutes), answered 429 with Retry-After
//! before any password is checked. An attempt counts as a failure from the moment it is taken,
//! so attempts racing each other count too; a correct password gives its count back. Kept in memory: a restart forgives, which a person locked
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
    /// Takes an attempt before its password is checked: refused while the login or the address
    /// must wait, else counted at once as a failure, so that attempts made at the same time all
    /// count (a correct password gives its count back in [`Throttle::succeeded`]).
    pub fn attempt(&self, login: &str, address: &str, now: Instant) -> Result<(), ApiError> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Self::refuse_waiting(&entries, login, address, now)?;
        Self::count_failure(&mut entries, login, address, now);
        Ok(())
    }

    /// Refuses while either the login or the address must wait.
    fn refuse_waiting(
        entries: &HashMap<String, Entry>,
        login: &str,
        address: &str,
        now: Instant,
    ) -> Result<(), ApiError> {
        let wait = keys(login, address)
            .iter()
            .filter_map(|k| entries.get(k))
            .map(|e| e.until.saturating_duration_since(now))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            return Ok(());
        }
        Err(ApiError::rate_limited(
            "too many failed sign-ins; wait before trying again",
            wait.as_secs().max(1),
        ))
    }

    fn count_failure(
        entries: &mut HashMap<String, Entry>,
        login: &str,
        address: &str,
        now: Instant,
    ) {
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

    /// A correct password clears the login's failures and gives the address back the one its
    /// attempt counted.
    pub fn succeeded(&self, login: &str, address: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&format!("login:{login}"));
        if let Some(e) = entries.get_mut(&format!("address:{address}")) {
            e.failures = e.failures.saturating_sub(1);
            if e.failures < FREE_FAILURES {
                e.until = e.last;
            }
        }
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
            assert!(t.attempt("admin", "10.0.0.1", now).is_ok());
        }
        assert!(t.attempt("admin", "10.0.0.1", now).is_ok());
        let wait = |login: &str, address: &str, at: Instant| {
            let entries = t.entries.lock().unwrap();
            match Throttle::refuse_waiting(&entries, login, address, at) {
                Err(ApiError::Unavailable {
                    retry_after_secs, ..
                }) => retry_after_secs,
                _ => 0,
            }
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
        assert!(
            t.attempt("admin", "10.0.0.1", now).is_err(),
            "refused while waiting"
        );
        let later = now + Duration::from_secs(2);
        assert!(t.attempt("admin", "10.0.0.2", later).is_ok());
        assert_eq!(wait("admin", "10.0.0.3", later), 2);
        t.succeeded("admin", "10.0.0.2");
        assert_eq!(wait("admin", "10.0.0.3", later), 0);
        assert_eq!(
            wait("other", "10.0.0.1", now),
            1,
            "the first address still waits"
        );
    }

    /// Attempts made at the same time, before any of them is answered, all count: the sixth
    /// is refused although no failure has been answered yet.
    #[test]
    fn concurrent_attempts_count_before_their_passwords_are_checked() {
        let t = Throttle::default();
        let now = Instant::now();
        let taken = (0..10)
            .filter(|i| t.attempt("admin", &format!("10.0.1.{i}"), now).is_ok())
            .count();
        assert_eq!(taken as u32, FREE_FAILURES);
        // A correct password gives its own count back, and only its own.
        let t = Throttle::default();
        assert!(t.attempt("ana", "10.0.0.7", now).is_ok());
        t.succeeded("ana", "10.0.0.7");
        assert_eq!(t.entries.lock().unwrap()["address:10.0.0.7"].failures, 0);
    }
}
