//! The price list in memory, ready for matching. Loaded at start-up ("Price cache refreshed
//! (N services)"), refreshed in the background before its TTL runs out, one refresh at a time;
//! a failed refresh keeps the stale copy. A change to the price list (from this process or
//! `frontdesk prices import` in another) bumps a version in the database that is checked every
//! second, so edits show up at once.

use crate::db::{Db, DbError, prices};
use crate::domain::service::Service;
use crate::router::{PriceIndex, Router};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;

pub struct ClinicPrices {
    pub services: Vec<Service>,
    pub index: PriceIndex,
}

struct Snapshot {
    clinics: HashMap<String, Arc<ClinicPrices>>,
    version: i64,
    loaded_at: Option<Instant>,
    total: usize,
}

pub struct PriceCache {
    db: Db,
    router: Arc<Router>,
    ttl: Duration,
    empty: Arc<ClinicPrices>,
    snapshot: RwLock<Arc<Snapshot>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl PriceCache {
    pub fn new(db: Db, router: Arc<Router>, ttl: Duration) -> Self {
        let empty = Arc::new(ClinicPrices {
            services: Vec::new(),
            index: router.index_prices(&[]),
        });
        Self {
            db,
            router,
            ttl,
            empty,
            snapshot: RwLock::new(Arc::new(Snapshot {
                clinics: HashMap::new(),
                version: -1,
                loaded_at: None,
                total: 0,
            })),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The clinic's price list as last loaded (empty if it has none). Never waits.
    pub fn clinic(&self, clinic_id: &str) -> Arc<ClinicPrices> {
        self.current()
            .clinics
            .get(clinic_id)
            .cloned()
            .unwrap_or_else(|| self.empty.clone())
    }

    pub fn total_services(&self) -> usize {
        self.current().total
    }

    /// Older than three quarters of the TTL: time to refresh in the background.
    pub fn needs_refresh(&self) -> bool {
        self.current()
            .loaded_at
            .is_none_or(|at| at.elapsed() >= self.ttl.mul_f32(0.75))
    }

    /// Reloads from the database. If a refresh is already running this waits for it rather
    /// than starting a second one. On error the previous copy stays in use.
    pub async fn refresh(&self) -> Result<usize, DbError> {
        let started_at = self.current().loaded_at;
        let _one_at_a_time = self.refreshing.lock().await;
        if self.current().loaded_at != started_at {
            return Ok(self.total_services()); // someone refreshed while we waited
        }
        let (version, rows) = self
            .db
            .read(|c| {
                Ok::<_, DbError>((prices::prices_version(c)?, prices::list_active_services(c)?))
            })
            .await?;
        let total = rows.len();
        let mut by_clinic: HashMap<String, Vec<Service>> = HashMap::new();
        for (clinic, service) in rows {
            by_clinic.entry(clinic).or_default().push(service);
        }
        let router = self.router.clone();
        let clinics = tokio::task::spawn_blocking(move || {
            by_clinic
                .into_iter()
                .map(|(clinic, services)| {
                    let index = router.index_prices(&services);
                    (clinic, Arc::new(ClinicPrices { services, index }))
                })
                .collect()
        })
        .await
        .map_err(|_| DbError::Corrupt("price indexing panicked".into()))?;
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(Snapshot {
            clinics,
            version,
            loaded_at: Some(Instant::now()),
            total,
        });
        tracing::info!("Price cache refreshed ({total} services)");
        Ok(total)
    }

    /// Refreshes if the price list changed since the last load, or the copy is getting old.
    /// Returns whether it refreshed.
    pub async fn refresh_if_needed(&self) -> Result<bool, DbError> {
        let version = self.db.read(prices::prices_version).await?;
        if version != self.current().version || self.needs_refresh() {
            self.refresh().await?;
            return Ok(true);
        }
        Ok(false)
    }
}
