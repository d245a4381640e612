//! Our own sends, remembered for a while so the gateway's echo of them (a `fromMe` message)
//! is not taken for staff typing on the clinic's phone: by the id the gateway gave the send,
//! and, for an echo that overtakes the gateway's answer, by a digest of recipient and text.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// Gateway ids of messages we sent recently, so their webhook echoes are not mistaken for
/// staff typing on the phone. Bounded in time and size; both evictions take the oldest id
/// first, so each insert costs O(1).
pub struct RecentSends {
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    ids: HashSet<String>,
    order: VecDeque<(std::time::Instant, String)>,
}

/// How long an echo can take to come back, and how many ids are kept at most.
const RECENT_FOR: Duration = Duration::from_secs(600);
const RECENT_MAX: usize = 100_000;

impl Default for RecentSends {
    fn default() -> Self {
        Self {
            inner: Mutex::new(RecentInner::default()),
        }
    }
}

impl RecentSends {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecentInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn remember(&self, id: &str) {
        let mut inner = self.lock();
        let now = std::time::Instant::now();
        while let Some((at, _)) = inner.order.front() {
            if now.duration_since(*at) < RECENT_FOR && inner.order.len() < RECENT_MAX {
                break;
            }
            if let Some((_, old)) = inner.order.pop_front() {
                inner.ids.remove(&old);
            }
        }
        if inner.ids.insert(id.to_owned()) {
            inner.order.push_back((now, id.to_owned()));
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.lock().ids.contains(id)
    }

    /// Whether `text` to `to` is one of our sends: remembered when the send starts, because
    /// the gateway may echo it back before it answers with the message's id.
    pub fn contains_text(&self, to: &str, text: &str) -> bool {
        self.contains(&Self::text_key(to, text))
    }

    pub(super) fn remember_text(&self, to: &str, text: &str) {
        self.remember(&Self::text_key(to, text));
    }

    /// A digest, so no patient text or number sits in this map.
    fn text_key(to: &str, text: &str) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::new()
            .chain_update(to.as_bytes())
            .chain_update([0])
            .chain_update(text.trim().as_bytes())
            .finalize();
        format!("text:{}", hex::encode(&digest[..16]))
    }
}
