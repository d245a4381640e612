//! The handles a conversation needs, shared by the turn (fast path) and the LLM answerer:
//! storage, keys, time, the router and the in-memory caches, the sender, metrics.

use crate::cache::{ChatLocks, ClinicDirectory, PriceCache, SessionCache};
use crate::clock::SharedClock;
use crate::crypto::Keys;
use crate::db::Db;
use crate::jobs::sender::SenderHandle;
use crate::metrics::Metrics;
use crate::router::Router;
use std::sync::Arc;

#[derive(Clone)]
pub struct Shared {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub clock: SharedClock,
    pub router: Arc<Router>,
    pub prices: Arc<PriceCache>,
    pub clinics: Arc<ClinicDirectory>,
    pub sessions: Arc<SessionCache>,
    /// One lock per chat: its messages and answers go in order.
    pub locks: ChatLocks,
    pub sender: SenderHandle,
    pub metrics: Arc<Metrics>,
}
