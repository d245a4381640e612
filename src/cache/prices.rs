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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::clinics::{ClinicRow, upsert_clinic};
    use crate::db::prices::{NewService, replace_services};
    use std::sync::Mutex;

    const NOW: &str = "2026-11-30T10:00:00.000000Z";

    /// Collects what the code logs, to check the operator-facing lines.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn capture(&self) -> tracing::subscriber::DefaultGuard {
            let logs = self.clone();
            tracing::subscriber::set_default(
                tracing_subscriber::fmt()
                    .with_writer(move || logs.clone())
                    .with_ansi(false)
                    .finish(),
            )
        }
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn service(code: &str, name: &str, rubles: i64) -> NewService {
        NewService {
            code: code.into(),
            name: name.into(),
            names: Default::default(),
            price_minor: rubles * 100,
            currency: "RUB".into(),
            aliases: Vec::new(),
        }
    }

    async fn cache_with_two_services() -> (tempfile::TempDir, Db, PriceCache) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            upsert_clinic(
                c,
                &ClinicRow {
                    id: "c1".into(),
                    organisation_id: None,
                    name: "Clinic".into(),
                    timezone: "Europe/Moscow".into(),
                    default_language: "ru".into(),
                    phone: None,
                    address: None,
                    hours: "{}".into(),
                },
                NOW,
            )?;
            let rows = [service("F1", "Пломба", 4500), service("C1", "Чистка", 3000)];
            replace_services(c, "c1", &rows, NOW).map(|_| ())
        })
        .await
        .unwrap();
        let cache = PriceCache::new(
            db.clone(),
            Arc::new(Router::builtin()),
            Duration::from_secs(1200),
        );
        (dir, db, cache)
    }

    #[tokio::test]
    async fn a_refresh_says_how_many_services_and_a_failed_one_keeps_the_stale_copy() {
        let (_dir, db, cache) = cache_with_two_services().await;
        let logs = Logs::default();
        let _guard = logs.capture();
        assert_eq!(cache.refresh().await.unwrap(), 2);
        assert!(
            logs.text().contains("Price cache refreshed (2 services)"),
            "{}",
            logs.text()
        );
        assert!(
            !cache.needs_refresh(),
            "fresh for three quarters of the TTL"
        );

        db.write(|c| Ok::<_, DbError>(c.execute_batch("ALTER TABLE services RENAME TO gone")?))
            .await
            .unwrap();
        assert!(cache.refresh().await.is_err());
        let names: Vec<_> = cache
            .clinic("c1")
            .services
            .iter()
            .map(|s| s.name.clone())
            .collect();
        assert_eq!(names.len(), 2, "the stale copy is still served: {names:?}");
        assert!(cache.clinic("other").services.is_empty());
    }

    #[tokio::test]
    async fn concurrent_refreshes_load_the_list_once() {
        let (_dir, _db, cache) = cache_with_two_services().await;
        let logs = Logs::default();
        let _guard = logs.capture();
        let results = futures::future::join_all((0..8).map(|_| cache.refresh())).await;
        assert!(results.iter().all(|r| matches!(r, Ok(2))), "{results:?}");
        assert_eq!(
            logs.text().matches("Price cache refreshed").count(),
            1,
            "{}",
            logs.text()
        );
    }
}
