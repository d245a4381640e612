//! One lock per chat, so the messages of one chat are handled one at a time, in arrival
//! order, while different chats run in parallel. Entries disappear when nobody holds or
//! waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

type Entry = Arc<tokio::sync::Mutex<()>>;

#[derive(Clone, Default)]
pub struct ChatLocks {
    map: Arc<Mutex<HashMap<String, Entry>>>,
}

pub struct ChatGuard {
    key: String,
    map: Arc<Mutex<HashMap<String, Entry>>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ChatLocks {
    /// Waits for the chat's turn. Waiters are served in the order they arrived (tokio's mutex
    /// is fair), which is what keeps replies in message order.
    pub async fn lock(&self, key: &str) -> ChatGuard {
        let entry = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_owned()).or_default().clone()
        };
        let guard = entry.lock_owned().await;
        ChatGuard {
            key: key.to_owned(),
            map: self.map.clone(),
            guard: Some(guard),
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for ChatGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Two references left (the map's and our guard's) means nobody is waiting.
        if map
            .get(&self.key)
            .is_some_and(|e| Arc::strong_count(e) == 2)
        {
            map.remove(&self.key);
        }
        self.guard.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_chat_runs_in_arrival_order_and_entries_are_cleaned_up() {
        let locks = ChatLocks::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock("a").await;
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (locks, order) = (locks.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("a").await;
                order.lock().unwrap().push(i);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(first);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn different_chats_do_not_wait_for_each_other() {
        let locks = ChatLocks::default();
        let _a = locks.lock("a").await;
        let b = tokio::time::timeout(Duration::from_millis(100), locks.lock("b")).await;
        assert!(b.is_ok());
    }
}
