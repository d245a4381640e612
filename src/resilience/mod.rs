//! Policies for talking to things that fail: capped exponential backoff with jitter, a
//! circuit breaker, and `Retry-After`. Pure logic on the injected clock, shared by the
//! sender, the LLM client and sync.

pub mod backoff;
pub mod breaker;

pub use backoff::{Backoff, retry_after};
pub use breaker::{Admission, Breaker, BreakerState};
