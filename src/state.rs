//! The handles every request and job shares: database, keys, config, clock. Cheap to clone.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::Keys;
use crate::db::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub keys: Arc<Keys>,
    pub clock: SharedClock,
    draining: Arc<AtomicBool>,
}

impl AppState {
    pub fn new(config: Arc<Config>, db: Db, keys: Arc<Keys>, clock: SharedClock) -> Self {
        Self {
            config,
            db,
            keys,
            clock,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Set once shutdown starts, so `/readyz` tells load balancers to stop sending work.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}
