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

#[derive(Debug, Clone)]
pub struct Clinic {
    pub facts: Arc<ClinicFacts>,
    pub organisation_id: Option<String>,
}

impl Clinic {
    /// The organisation for grouping and sync; a clinic with none stands for itself.
    pub fn organisation_or_clinic_id(&self) -> &str {
        self.organisation_id.as_deref().unwrap_or(&self.facts.id)
    }
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
