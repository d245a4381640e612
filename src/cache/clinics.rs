//! The clinic directory: which clinic a gateway channel belongs to, and each clinic's public
//! facts. A mapping is trusted for its TTL; a lookup that misses waits at most 600 ms, then
//! falls back to the last known mapping, then to the configured clinic, so a slow or broken
//! lookup never holds a patient's answer.

use crate::db::{Db, DbError, clinics};
use crate::domain::clinic::{ClinicFacts, WeeklyHours};
use crate::domain::message::Provider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::time::Instant;

pub const LOOKUP_CAP: Duration = Duration::from_millis(600);

/// A clinic with no organisation stands for itself in the central database: that fallback
/// lives in the central SQL (`core.organisation_for_clinic`), where rows are grouped.
#[derive(Debug, Clone)]
pub struct Clinic {
    pub facts: Arc<ClinicFacts>,
    pub organisation_id: Option<String>,
}

pub struct ClinicDirectory {
    db: Db,
    ttl: Duration,
    default_clinic_id: String,
    channels: Mutex<HashMap<(Provider, String), (String, Instant)>>,
    clinics: RwLock<HashMap<String, Clinic>>,
}

impl ClinicDirectory {
    pub fn new(db: Db, default_clinic_id: String, ttl: Duration) -> Self {
        Self {
            db,
            ttl,
            default_clinic_id,
            channels: Mutex::default(),
            clinics: RwLock::default(),
        }
    }

    pub fn default_clinic_id(&self) -> &str {
        &self.default_clinic_id
    }

    /// Loads every clinic's facts (start-up, and after the directory changes).
    pub async fn reload(&self) -> Result<usize, DbError> {
        let rows = self.db.read(clinics::list_clinics).await?;
        let loaded: HashMap<String, Clinic> = rows
            .into_iter()
            .map(|r| (r.id.clone(), to_clinic(r)))
            .collect();
        let n = loaded.len();
        *self.clinics.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(n)
    }

    /// The clinic a message arriving on this channel belongs to.
    pub async fn resolve(&self, provider: Provider, instance: &str) -> String {
        let key = (provider, instance.to_owned());
        let known = self
            .channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .cloned();
        if let Some((clinic, fetched)) = &known
            && fetched.elapsed() < self.ttl
        {
            return clinic.clone();
        }
        let (db, k) = (self.db.clone(), key.clone());
        let lookup = db.read(move |c| clinics::find_channel_clinic(c, k.0.as_str(), &k.1));
        let clinic = match tokio::time::timeout(LOOKUP_CAP, lookup).await {
            Ok(Ok(found)) => found.unwrap_or_else(|| self.default_clinic_id.clone()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "clinic lookup failed; using the last known mapping");
                return known.map_or_else(|| self.default_clinic_id.clone(), |(c, _)| c);
            }
            Err(_) => {
                tracing::warn!("clinic lookup took over 600 ms; using the last known mapping");
                return known.map_or_else(|| self.default_clinic_id.clone(), |(c, _)| c);
            }
        };
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (clinic.clone(), Instant::now()));
        clinic
    }

    /// A clinic's facts; an unknown id gets the configured clinic's.
    pub fn get(&self, clinic_id: &str) -> Option<Clinic> {
        let clinics = self.clinics.read().unwrap_or_else(|p| p.into_inner());
        clinics
            .get(clinic_id)
            .or_else(|| clinics.get(&self.default_clinic_id))
            .cloned()
    }
}

fn to_clinic(r: clinics::ClinicRow) -> Clinic {
    let mut hours = WeeklyHours::default();
    if let Ok(map) = serde_json::from_str::<HashMap<String, String>>(&r.hours) {
        for (i, day) in crate::config::ClinicConfig::DAYS.iter().enumerate() {
            if let Some(spec) = map.get(*day) {
                hours.days[i] = WeeklyHours::parse_day(spec).unwrap_or_default();
            }
        }
    }
    Clinic {
        facts: Arc::new(ClinicFacts {
            id: r.id,
            name: r.name,
            address: r.address,
            phone: r.phone,
            timezone: r.timezone.parse().unwrap_or(chrono_tz::UTC),
            default_language: r.default_language,
            hours,
        }),
        organisation_id: r.organisation_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::clinics::{ClinicRow, upsert_channel, upsert_clinic};

    const NOW: &str = "2026-11-30T10:00:00.000000Z";

    fn clinic(id: &str) -> ClinicRow {
        ClinicRow {
            id: id.into(),
            organisation_id: None,
            name: format!("Clinic {id}"),
            timezone: "Europe/Moscow".into(),
            default_language: "ru".into(),
            phone: None,
            address: None,
            hours: "{}".into(),
        }
    }

    async fn directory(ttl: Duration) -> (tempfile::TempDir, Db, ClinicDirectory) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        db.write(|c| {
            for id in ["main", "north", "south"] {
                upsert_clinic(c, &clinic(id), NOW)?;
            }
            upsert_channel(c, "evolution", "north-phone", "north", NOW)
        })
        .await
        .unwrap();
        let clinics = ClinicDirectory::new(db.clone(), "main".into(), ttl);
        clinics.reload().await.unwrap();
        (dir, db, clinics)
    }

    async fn remap(db: &Db, clinic_id: &'static str) {
        db.write(move |c| upsert_channel(c, "evolution", "north-phone", clinic_id, NOW))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_channel_maps_to_its_clinic_and_an_unknown_one_to_the_configured_clinic() {
        let (_dir, _db, clinics) = directory(Duration::from_secs(60)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north"
        );
        assert_eq!(
            clinics.resolve(Provider::Evolution, "unknown").await,
            "main"
        );
        assert_eq!(
            clinics.resolve(Provider::Cloud, "north-phone").await,
            "main"
        );
        assert_eq!(clinics.get("north").unwrap().facts.name, "Clinic north");
        assert_eq!(clinics.get("gone").unwrap().facts.id, "main");
    }

    #[tokio::test]
    async fn a_mapping_is_trusted_for_its_ttl_then_looked_up_again() {
        let (_dir, db, clinics) = directory(Duration::from_millis(300)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north"
        );
        remap(&db, "south").await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north",
            "cached within the TTL"
        );
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "south"
        );
    }

    #[tokio::test]
    async fn a_failing_lookup_falls_back_to_the_last_known_mapping_then_the_configured_clinic() {
        let (_dir, db, clinics) = directory(Duration::from_millis(1)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north"
        );
        db.write(|c| Ok::<_, DbError>(c.execute_batch("DROP TABLE clinic_channels")?))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north",
            "last known mapping"
        );
        assert_eq!(
            clinics.resolve(Provider::Evolution, "never-seen").await,
            "main",
            "configured clinic"
        );
    }

    #[tokio::test]
    async fn a_lookup_stuck_behind_a_busy_database_gives_up_at_600_ms_with_the_last_mapping() {
        let (_dir, db, clinics) = directory(Duration::from_millis(1)).await;
        assert_eq!(
            clinics.resolve(Provider::Evolution, "north-phone").await,
            "north"
        );
        // Every read connection busy for longer than the cap.
        let busy: Vec<_> = (0..8)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.read(|_| {
                        std::thread::sleep(Duration::from_millis(3000));
                        Ok::<_, DbError>(())
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let clinic = clinics.resolve(Provider::Evolution, "north-phone").await;
        let took = started.elapsed();
        assert_eq!(clinic, "north", "the last known mapping");
        assert!(
            took >= LOOKUP_CAP && took < LOOKUP_CAP + Duration::from_millis(1500),
            "{took:?}"
        );
        for b in busy {
            b.await.unwrap().unwrap();
        }
    }
}
