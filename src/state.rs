//! The handles every request and job shares. Cheap to clone; built once by `app`.

use crate::cache::{ClinicDirectory, PriceCache};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Keys;
use crate::db::Db;
use crate::jobs::followups::FollowupJob;
use crate::jobs::sender::SenderHandle;
use crate::jobs::sync::SyncMonitor;
use crate::metrics::Metrics;
use crate::router::Router;
use crate::services::rejections::RejectionLimiter;
use crate::services::turn::Conversations;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    pub clock: SharedClock,
    pub router: Arc<Router>,
    pub prices: Arc<PriceCache>,
    pub clinics: Arc<ClinicDirectory>,
    pub conversations: Arc<Conversations>,
    pub sender: SenderHandle,
    pub followups: Arc<FollowupJob>,
    pub metrics: Arc<Metrics>,
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
