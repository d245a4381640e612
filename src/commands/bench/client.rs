//! The bench's client side: signed webhook posts, and when replies reach the gateway.

use super::super::sandbox::INSTANCE;
use crate::local_gateway::evolution_text_webhook;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Mostly price questions, in three languages, with the other fast intents mixed in.
pub const QUESTIONS: &[&str] = &[
    "Сколько стоит пломба?",
    "сколько стоит чистка зубов",
    "цена на удаление зуба",
    "почём отбеливание?",
    "сколько стоит коронка",
    "сколько стоит имплант",
    "how much is a filling?",
    "how much does teeth whitening cost?",
    "price of a crown",
    "¿cuánto cuesta una limpieza?",
    "precio de un empaste",
    "Сколько стоит консультация?",
    "сколько стоит рентген",
    "how much is a dental implant?",
    "когда вы работаете?",
    "where are you located?",
    "Здравствуйте!",
    "какие у вас цены",
    "¿cuánto cuesta una extracción?",
    "how much is teeth cleaning",
];

/// Records when each chat's replies reach the gateway.
#[derive(Clone, Default)]
pub struct Arrivals(pub Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Arrivals {
    pub fn count(&self, number: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .map_or(0, Vec::len)
    }
    pub fn first(&self, number: &str) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .and_then(|v| v.first().copied())
    }
    pub async fn wait(&self, numbers: &[String], each: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if numbers.iter().all(|n| self.count(n) >= each) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

pub struct Poster {
    pub client: reqwest::Client,
    pub url: String,
    pub auth: String,
    pub seq: AtomicU64,
}

impl Poster {
    pub async fn post(&self, number: &str, id: &str, text: &str) -> bool {
        let body = evolution_text_webhook(
            INSTANCE,
            id,
            number,
            "Bench",
            text,
            chrono::Utc::now().timestamp(),
        );
        self.client
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    pub fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

pub fn number(n: u64) -> String {
    format!("7990{n:07}")
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
