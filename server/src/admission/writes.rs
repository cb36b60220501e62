//! Which writes are taken in now, for every signal: a request slot and the request's share of
//! the in-flight byte budget are taken before its body is read and kept until it is answered.
//! Past either the write is shed at once (503 with Retry-After, which every shipper retries),
//! so overload never turns into an unbounded pile of buffered bodies. The budget counts what a
//! body decodes to, charged before the decoded bytes are made: a small gzip body that expands
//! to a large one is charged what it takes.

use super::AdmissionError;
use crate::portal_metrics::PortalMetrics;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// How much is taken in at once.
#[derive(Clone, Copy, Debug)]
pub struct WriteLimits {
    /// Most bytes of request bodies being received and decoded at once.
    pub max_inflight_bytes: u64,
    /// Most write requests admitted at once (receiving, decoding, waiting to commit,
    /// committing). Queueing more than this only makes every write slower: at twice the rate
    /// the machine sustains, writes waited seconds and throughput fell tenfold.
    pub max_inflight_requests: usize,
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            max_inflight_bytes: 256 << 20,
            max_inflight_requests: 64,
        }
    }
}

/// The request slots and the byte budget every write shares.
pub struct WriteAdmission {
    limits: WriteLimits,
    /// The in-flight budget, one permit per KiB.
    inflight: Arc<Semaphore>,
    inflight_kib: u32,
    /// The requests admitted, one permit each.
    requests: Arc<Semaphore>,
    metrics: PortalMetrics,
}

/// A write's place among those admitted: its request and its bytes, given back when dropped.
pub struct Admitted {
    _request: tokio::sync::OwnedSemaphorePermit,
    bytes: tokio::sync::OwnedSemaphorePermit,
    budget: Arc<Semaphore>,
    budget_kib: u32,
    limit: u64,
}

impl WriteAdmission {
    pub fn new(limits: WriteLimits, metrics: PortalMetrics) -> Self {
        let inflight_kib = u32::try_from(limits.max_inflight_bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, Semaphore::MAX_PERMITS as u32);
        Self {
            inflight: Arc::new(Semaphore::new(inflight_kib as usize)),
            inflight_kib,
            requests: Arc::new(Semaphore::new(
                limits
                    .max_inflight_requests
                    .clamp(1, Semaphore::MAX_PERMITS),
            )),
            limits,
            metrics,
        }
    }

    pub fn limits(&self) -> WriteLimits {
        self.limits
    }

    /// Takes a request slot and `bytes` (a body's length, or the body limit when it is not
    /// known) from the in-flight budget for as long as the returned permit lives, or refuses
    /// at once.
    pub fn admit(&self, bytes: u64) -> Result<Admitted, AdmissionError> {
        let request = self.requests.clone().try_acquire_owned().map_err(|_| {
            self.metrics.observe_ingest_shed("inflight_requests");
            AdmissionError::Crowded {
                limit: self.limits.max_inflight_requests,
            }
        })?;
        let kib = u32::try_from(bytes.div_ceil(1024))
            .unwrap_or(u32::MAX)
            .clamp(1, self.inflight_kib);
        let bytes = self
            .inflight
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| {
                self.metrics.observe_ingest_shed("inflight_bytes");
                AdmissionError::Overloaded {
                    inflight_limit: self.limits.max_inflight_bytes,
                }
            })?;
        Ok(Admitted {
            _request: request,
            bytes,
            budget: self.inflight.clone(),
            budget_kib: self.inflight_kib,
            limit: self.limits.max_inflight_bytes,
        })
    }
}

impl Admitted {
    /// Grows the share of the in-flight budget this write holds to `bytes` in all (its body
    /// and what it decodes to, counted before the decoded bytes are made), or refuses at once.
    pub fn hold(&mut self, bytes: u64) -> Result<(), AdmissionError> {
        let want = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX);
        let have = u32::try_from(self.bytes.num_permits()).unwrap_or(u32::MAX);
        if want <= have {
            return Ok(());
        }
        if want > self.budget_kib {
            return Err(AdmissionError::LargerThanBudget {
                inflight_limit: self.limit,
            });
        }
        let more = self
            .budget
            .clone()
            .try_acquire_many_owned(want - have)
            .map_err(|_| AdmissionError::Overloaded {
                inflight_limit: self.limit,
            })?;
        self.bytes.merge(more);
        Ok(())
    }

    /// The bytes held.
    pub fn held(&self) -> u64 {
        self.bytes.num_permits() as u64 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_shed_past_the_request_slots_or_the_byte_budget_and_gives_both_back() {
        let admission = WriteAdmission::new(
            WriteLimits {
                max_inflight_bytes: 64 << 10,
                max_inflight_requests: 2,
            },
            PortalMetrics::new(),
        );
        let mut first = admission.admit(16 << 10).unwrap();
        assert_eq!(first.held(), 16 << 10);
        // What the body decodes to is charged before it is made, up to the whole budget.
        first.hold(64 << 10).unwrap();
        assert_eq!(first.held(), 64 << 10);
        let second = admission.admit(1 << 10);
        assert!(matches!(second, Err(AdmissionError::Overloaded { .. })));
        first.hold(1 << 20).unwrap_err();
        assert!(matches!(
            first.hold(1 << 20),
            Err(AdmissionError::LargerThanBudget { .. })
        ));
        drop(first);
        let _a = admission.admit(1 << 10).unwrap();
        let _b = admission.admit(1 << 10).unwrap();
        assert!(matches!(
            admission.admit(1 << 10),
            Err(AdmissionError::Crowded { limit: 2 })
        ));
    }
}
