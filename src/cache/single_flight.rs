//! Single-flight: concurrent requests for the same key share one in-flight lookup instead of
//! each doing their own.

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;

pub struct SingleFlight<K, V> {
    flights: Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            flights: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone, V: Clone + Send + Sync + 'static> SingleFlight<K, V> {
    /// Runs `make()` for `key` unless a lookup for it is already running, in which case this
    /// waits for that one's result.
    pub async fn run<F, Fut>(&self, key: K, make: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V> + Send + 'static,
    {
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key) {
                Some(f) => (f.clone(), false),
                None => {
                    let f = make().boxed().shared();
                    flights.insert(key.clone(), f.clone());
                    (f, true)
                }
            }
        };
        // The caller that started the lookup takes it off the map when it ends: when its
        // result is in, or when that caller is cancelled (a request cut off). Left there, a
        // lookup whose starter was cancelled would answer every later caller with its old
        // result; callers still waiting on it keep their copy and get the result all the same.
        let _done = leader.then(|| Forget {
            flights: &self.flights,
            key: &key,
        });
        flight.await
    }
}

struct Forget<'a, K: Eq + Hash, V> {
    flights: &'a Mutex<HashMap<K, Shared<BoxFuture<'static, V>>>>,
    key: &'a K,
}

impl<K: Eq + Hash, V> Drop for Forget<'_, K, V> {
    fn drop(&mut self) {
        self.flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_callers_share_one_lookup() {
        let sf = Arc::new(SingleFlight::<&str, u32>::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (sf, calls) = (sf.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                sf.run("chat", || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    7
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 7);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Once finished, the next call looks up afresh.
        assert_eq!(sf.run("chat", || async { 8 }).await, 8);
    }

    #[tokio::test]
    async fn a_lookup_whose_starter_was_cancelled_is_not_reused() {
        let sf = SingleFlight::<&str, u32>::default();
        let (_never, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut starter = Box::pin(sf.run("chat", || async { rx.await.unwrap_or(1) }));
        assert!(
            futures::poll!(&mut starter).is_pending(),
            "lookup in flight"
        );
        drop(starter); // the request was cut off
        let again = tokio::time::timeout(Duration::from_secs(5), sf.run("chat", || async { 2 }));
        assert_eq!(again.await, Ok(2), "a fresh lookup, not the abandoned one");
    }

    #[tokio::test]
    async fn callers_waiting_on_a_cancelled_starter_still_get_its_result() {
        let sf = SingleFlight::<&str, u32>::default();
        let (tx, rx) = tokio::sync::oneshot::channel::<u32>();
        let mut starter = Box::pin(sf.run("chat", || async { rx.await.unwrap_or(0) }));
        assert!(futures::poll!(&mut starter).is_pending());
        let mut waiter = Box::pin(sf.run("chat", || async { 2 }));
        assert!(
            futures::poll!(&mut waiter).is_pending(),
            "joined the lookup"
        );
        drop(starter);
        tx.send(1).unwrap();
        assert_eq!(waiter.await, 1, "shared, not looked up twice");
    }
}
