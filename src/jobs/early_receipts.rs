//! Delivery receipts that arrive before the send they are about is recorded. The gateway may
//! post a message's first receipt before it answers our `sendText`, or while the sender's
//! record of that answer is on its way to disk (it rides the next commit, at most
//! `db::MAX_DEFER` later); the receipt then finds no message with its id. It is parked here,
//! and the write that records the send applies it. Receipts of messages that are not ours
//! (staff typing on the phone get receipts too) are parked as well, and expire.

use crate::db::rusqlite::Connection;
use crate::db::{DbError, messages, outbox::SendOutcome};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a parked receipt waits for its send to be recorded, and how many are kept.
const KEEP_FOR: Duration = Duration::from_secs(120);
const KEEP_MAX: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub status: String,
    pub reason: Option<String>,
}

#[derive(Default)]
pub struct EarlyReceipts {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<String, Parked>,
    /// Ids by when they were first parked, oldest first, for eviction.
    order: VecDeque<(Instant, String)>,
}

/// How far along a status is; a receipt only ever moves a message forward (a failure always
/// counts), as `db::messages::apply_receipt` does.
fn rank(status: &str) -> u8 {
    match status {
        "sent" => 1,
        "delivered" => 2,
        "read" => 3,
        "failed" => 9,
        _ => 0,
    }
}

impl EarlyReceipts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps a receipt that matched no message, unless one further along is already kept.
    pub fn park(&self, provider_message_id: &str, status: &str, reason: Option<&str>) {
        let mut inner = self.lock();
        let now = Instant::now();
        while let Some((at, _)) = inner.order.front() {
            if now.duration_since(*at) < KEEP_FOR && inner.order.len() < KEEP_MAX {
                break;
            }
            if let Some((_, old)) = inner.order.pop_front() {
                inner.by_id.remove(&old);
            }
        }
        if let Some(kept) = inner.by_id.get(provider_message_id)
            && rank(&kept.status) >= rank(status)
        {
            return;
        }
        let parked = Parked {
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
        };
        if inner
            .by_id
            .insert(provider_message_id.to_owned(), parked)
            .is_none()
        {
            inner.order.push_back((now, provider_message_id.to_owned()));
        }
    }

    /// Applies the receipts parked for these sends, just recorded. Runs in the job that
    /// records them, in the writer, so a receipt is either parked before it or finds the
    /// recorded message itself.
    pub fn apply(&self, conn: &Connection, outcomes: &[SendOutcome]) -> Result<(), DbError> {
        for outcome in outcomes {
            if let SendOutcome::Sent {
                provider,
                instance,
                provider_message_id: Some(id),
                at,
                ..
            } = outcome
                && let Some(parked) = self.get(id)
            {
                messages::apply_receipt(
                    conn,
                    provider,
                    instance,
                    id,
                    &parked.status,
                    parked.reason.as_deref(),
                    at,
                )?;
            }
        }
        Ok(())
    }

    /// The receipt parked for this gateway id, if any. It stays parked (a write job may run
    /// twice) until it expires.
    pub fn get(&self, provider_message_id: &str) -> Option<Parked> {
        self.lock().by_id.get(provider_message_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_furthest_receipt_of_a_message() {
        let early = EarlyReceipts::default();
        assert_eq!(early.get("3EB0A"), None);
        early.park("3EB0A", "delivered", None);
        early.park("3EB0A", "sent", None);
        assert_eq!(early.get("3EB0A").unwrap().status, "delivered");
        early.park("3EB0A", "read", None);
        assert_eq!(early.get("3EB0A").unwrap().status, "read");
        early.park("3EB0A", "failed", Some("not delivered"));
        assert_eq!(
            early.get("3EB0A"),
            Some(Parked {
                status: "failed".into(),
                reason: Some("not delivered".into())
            })
        );
    }

    #[test]
    fn keeps_at_most_keep_max_dropping_the_oldest() {
        let early = EarlyReceipts::default();
        for i in 0..=KEEP_MAX {
            early.park(&format!("ID{i}"), "sent", None);
        }
        assert_eq!(early.get("ID0"), None);
        assert!(early.get("ID1").is_some());
        assert!(early.get(&format!("ID{KEEP_MAX}")).is_some());
    }
}
