//! Admission, shared by every signal: which writes are taken in now (`writes`: a request slot
//! and the decoded bytes in flight) and which reads run now (`reads`: query slots, a bounded
//! queue, a fair share per caller). Refusals come at once, before the work takes memory or a
//! database connection, and say what to do: [`AdmissionError`] tells a busy portal (retry
//! shortly) from a request no retry can fit. Nothing here knows metrics, logs or traces.

pub mod reads;
pub mod writes;

pub use reads::{ReadAdmission, ReadSlot, OWNER};
pub use writes::{Admitted, WriteAdmission, WriteLimits};

/// Why a write or a read was not let in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// As many writes in progress as the portal takes at once.
    #[error("the portal has {limit} writes in progress, the most it takes at once; retry shortly")]
    Crowded { limit: usize },
    /// The bodies being received already take the in-flight budget.
    #[error("the portal is receiving more than it can take in at once ({} MiB of request bodies in flight); retry shortly", inflight_limit >> 20)]
    Overloaded { inflight_limit: u64 },
    /// A body that decodes to more than the whole in-flight budget: no retry can fit it.
    #[error("the body decodes to more than the in-flight budget of {inflight_limit} bytes")]
    LargerThanBudget { inflight_limit: u64 },
    /// The caller holds its share of the read slots and queue already.
    #[error("you already have {0} queries running or waiting, your share of the portal's; try again when one has finished")]
    OverShare(usize),
    /// Every slot is taken and the queue is full, or the portal is stopping.
    #[error("too many queries are running; try again shortly")]
    QueueFull,
    /// The deadline passed while waiting in the queue.
    #[error("the query waited for a slot until its deadline")]
    TimedOut,
}
