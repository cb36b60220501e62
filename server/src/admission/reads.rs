//! Which reads run now (PromQL queries, log searches, trace look-ups alike): at most `max_concurrent` at once, at most `max_queued` waiting
//! (more are refused with 503), and a fair share per owner: one person or token may hold at most
//! half of the slots and the queue together (at least one), so one dashboard left refreshing, or
//! one script, cannot take every slot from everybody else; past its share it gets 429 while the
//! others still get in. The owner is the principal the request acts as, set for the request's
//! task by the access layer ([`OWNER`]); the portal's own work (alert evaluation, previews with
//! no person behind them) has no owner and no share limit.

use super::AdmissionError;
use crate::portal_metrics::PortalMetrics;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};
use tokio::sync::{Semaphore, SemaphorePermit};

tokio::task_local! {
    /// Who the current request acts as, for the fair share of query slots.
    pub static OWNER: String;
}

/// The slots, the queue and each owner's count of running and waiting queries.
pub struct ReadAdmission {
    running: Semaphore,
    waiting: AtomicUsize,
    max_queued: usize,
    share: usize,
    owners: Mutex<HashMap<String, usize>>,
    metrics: PortalMetrics,
}

/// A query's slot, and its place in its owner's count, for as long as it lives.
pub struct ReadSlot<'a> {
    _permit: SemaphorePermit<'a>,
    _owner: Option<Owned<'a>>,
}

/// One query counted against its owner's share.
struct Owned<'a>(&'a ReadAdmission, String);

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        let mut owners = self.0.owners.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = owners.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                owners.remove(&self.1);
            }
        }
    }
}

/// Counts a waiting query for as long as it waits.
struct Waiting<'a>(&'a ReadAdmission);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        self.0.metrics.query_waiting(-1);
    }
}

impl ReadAdmission {
    pub fn new(max_concurrent: usize, max_queued: usize, metrics: PortalMetrics) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Self {
            running: Semaphore::new(max_concurrent),
            waiting: AtomicUsize::new(0),
            max_queued,
            share: ((max_concurrent + max_queued) / 2).max(1),
            owners: Mutex::default(),
            metrics,
        }
    }

    /// Refuses every query from now on (the portal is stopping).
    pub fn close(&self) {
        self.running.close();
    }

    /// A slot for the current task's owner: at once when one is free, else after waiting
    /// until `deadline` in the queue; refused at once past the owner's share or a full queue.
    pub async fn enter(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<ReadSlot<'_>, AdmissionError> {
        let owner = OWNER.try_with(Clone::clone).ok();
        self.enter_as(owner, deadline).await
    }

    async fn enter_as(
        &self,
        owner: Option<String>,
        deadline: tokio::time::Instant,
    ) -> Result<ReadSlot<'_>, AdmissionError> {
        let owned = match owner {
            Some(owner) => {
                let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
                let n = owners.entry(owner.clone()).or_default();
                if *n >= self.share {
                    return Err(AdmissionError::OverShare(self.share));
                }
                *n += 1;
                Some(Owned(self, owner))
            }
            None => None,
        };
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(ReadSlot {
                _permit: permit,
                _owner: owned,
            });
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= self.max_queued {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(AdmissionError::QueueFull);
        }
        self.metrics.query_waiting(1);
        let _waiting = Waiting(self);
        match tokio::time::timeout_at(deadline, self.running.acquire()).await {
            Ok(Ok(permit)) => Ok(ReadSlot {
                _permit: permit,
                _owner: owned,
            }),
            Ok(Err(_closed)) => Err(AdmissionError::QueueFull),
            Err(_elapsed) => Err(AdmissionError::TimedOut),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn later() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(30)
    }

    /// Polls `f` for a moment: true while it is still waiting.
    async fn pending<F: std::future::Future + Unpin>(f: &mut F) -> bool {
        tokio::time::timeout(Duration::from_millis(50), f)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn one_owner_gets_at_most_half_of_the_slots_and_queue_and_others_still_get_in() {
        // One slot and three places in the queue: a share of two.
        let admission = ReadAdmission::new(1, 3, PortalMetrics::new());
        let alice = || Some("alice".to_string());
        let running = admission.enter_as(alice(), later()).await.unwrap();
        let queued = admission.enter_as(alice(), later());
        tokio::pin!(queued);
        assert!(
            pending(&mut queued.as_mut()).await,
            "alice's second query waits for the slot"
        );
        assert!(matches!(
            admission.enter_as(alice(), later()).await,
            Err(AdmissionError::OverShare(2))
        ));
        // Bob is not held back by alice's share, and neither is the portal's own work.
        let bob = admission.enter_as(Some("bob".into()), later());
        tokio::pin!(bob);
        assert!(pending(&mut bob.as_mut()).await);
        let own = admission.enter_as(None, later());
        tokio::pin!(own);
        assert!(pending(&mut own.as_mut()).await);
        // The queue is full now (alice, bob, the portal): the next query from anyone is refused.
        assert!(matches!(
            admission.enter_as(Some("carol".into()), later()).await,
            Err(AdmissionError::QueueFull)
        ));
        // Alice's first query ends: her queued one runs, and she is under her share again.
        drop(running);
        let second = queued.await.unwrap();
        drop(second);
        let _bob = bob.await.unwrap();
        assert_eq!(admission.owners.lock().unwrap().get("alice"), None);
    }
}
