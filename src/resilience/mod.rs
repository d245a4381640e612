//! Policies for talking to things that fail: capped exponential backoff with jitter, a
//! circuit breaker, `Retry-After`, and rate-limited error logs. Pure logic on the injected
//! clock, shared by the sender, the LLM client and sync.

pub mod backoff;
pub mod breaker;
pub mod error_log;

pub use backoff::{Backoff, retry_after};
pub use breaker::{Admission, Breaker, BreakerState};
pub use error_log::ErrorLog;
