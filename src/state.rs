//! The handles every request and job shares. Cheap to clone; built once by `app`.

use crate::config::Config;
use crate::jobs::followups::FollowupJob;
use crate::jobs::sync::SyncMonitor;
use crate::services::rejections::RejectionLimiter;
use crate::services::shared::Shared;
use crate::services::turn::Conversations;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Storage, keys, time, router, caches, sender and metrics: the same handles the
    /// conversation services hold.
    pub shared: Shared,
    pub conversations: Arc<Conversations>,
    pub followups: Arc<FollowupJob>,
    /// What the sync worker last reported, for `/metrics` and `/readyz`.
    pub sync: Arc<SyncMonitor>,
    pub rejections: Arc<RejectionLimiter>,
    pub(crate) draining: Arc<AtomicBool>,
    /// Present when an LLM is configured.
    pub llm: Option<Arc<crate::services::llm::LlmAnswerer>>,
}

impl AppState {
    /// Set once shutdown starts, so `/readyz` tells load balancers to stop sending work.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
