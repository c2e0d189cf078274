//! Request-scoped batching of keyed loads, without a waiting window.
//!
//! A router sends one `_entities` call with every representation of a hop; async-graphql resolves
//! them as sibling futures of one task, each asking for its own key. async-graphql's `DataLoader`
//! gathers such keys by waiting a fixed delay on a timer before it queries, and a delay short
//! enough not to matter splits a hundred siblings into several queries. The [`Batcher`] needs no
//! clock: the first caller of a batch yields to the executor (tokio polls it again once the
//! worker has run the tasks that were ready; no timer) until a whole pass over its siblings has
//! added no key, so every sibling has registered its key, then sends the batch as one load. A
//! batch that reaches [`MAX_BATCH`] keys is sent at once, so one load never names more. A hundred representations are one query, and an
//! entity hop costs no idle time.
//!
//! The load itself runs as its own task, so a caller that is dropped (its part of the response
//! cut short by an error) never strands the callers waiting on the same batch; a batch whose
//! first caller is dropped before it sends is sent at once.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::dataloader::Loader;
use tokio::sync::watch;

use web::{ApiError, ErrorCode};

/// How many executor passes the first caller of a batch waits, at most, for siblings to add
/// keys. One pass is enough when siblings ask at once (entity resolvers, list items); the bound
/// keeps a stream of late keys from delaying the batch without end.
const MAX_PASSES: usize = 8;

/// The most keys one load names (async-graphql's DataLoader used the same bound): far inside
/// what a SQL `IN (…)` list may hold.
pub const MAX_BATCH: usize = 1000;

type Outcome<K, V> = Arc<Result<HashMap<K, V>, ApiError>>;

/// Loads the keys that the futures of one request ask for together in one call of `L`.
pub struct Batcher<K, L: Loader<K, Error = ApiError>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    shared: Arc<Shared<K, L>>,
}

struct Shared<K, L: Loader<K, Error = ApiError>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    loader: L,
    open: Mutex<Open<K, L::Value>>,
}

struct Open<K, V> {
    /// Numbers batches, so a first caller only ever sends its own.
    generation: u64,
    batch: Option<Batch<K, V>>,
}

struct Batch<K, V> {
    keys: HashSet<K>,
    done: watch::Sender<Option<Outcome<K, V>>>,
}

impl<K, L> Batcher<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = ApiError>,
{
    pub fn new(loader: L) -> Self {
        Self {
            shared: Arc::new(Shared {
                loader,
                open: Mutex::new(Open {
                    generation: 0,
                    batch: None,
                }),
            }),
        }
    }

    /// The value for `key`, loaded with every key its sibling futures ask for; `None` when the
    /// loader has no value for it.
    pub async fn load_one(&self, key: K) -> Result<Option<L::Value>, ApiError> {
        let (mut done, first) = {
            let mut open = self.shared.lock();
            match open.batch.as_mut() {
                Some(batch) => {
                    batch.keys.insert(key.clone());
                    let done = batch.done.subscribe();
                    if batch.keys.len() >= MAX_BATCH {
                        let full = open.batch.take().expect("the open batch");
                        self.shared.clone().send(full);
                    }
                    (done, None)
                }
                None => {
                    let (done, waiting) = watch::channel(None);
                    open.generation += 1;
                    open.batch = Some(Batch {
                        keys: HashSet::from([key.clone()]),
                        done,
                    });
                    let send = FirstCaller {
                        shared: self.shared.clone(),
                        generation: open.generation,
                    };
                    (waiting, Some(send))
                }
            }
        };
        if let Some(send) = first {
            let mut seen = 1;
            for _ in 0..MAX_PASSES {
                tokio::task::yield_now().await;
                let now = send.pending();
                if now == seen {
                    break;
                }
                seen = now;
            }
            drop(send);
        }
        let outcome = done
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "internal error"))?
            .clone()
            .expect("waited for a value");
        match outcome.as_ref() {
            Ok(values) => Ok(values.get(&key).cloned()),
            Err(error) => Err(error.clone()),
        }
    }
}

impl<K, L> Shared<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = ApiError>,
{
    fn lock(&self) -> std::sync::MutexGuard<'_, Open<K, L::Value>> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads a closed batch on its own task and hands every waiter the outcome. Without a
    /// runtime (never the case inside a request) the waiters see the sender go and answer an
    /// internal error rather than hang.
    fn send(self: Arc<Self>, batch: Batch<K, L::Value>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let keys: Vec<K> = batch.keys.into_iter().collect();
            let outcome = self.loader.load(&keys).await;
            batch.done.send_replace(Some(Arc::new(outcome)));
        });
    }
}

/// Held by the first caller of a batch: dropping it sends the batch, whether the caller goes on
/// to wait for the answer or is itself dropped.
struct FirstCaller<K, L: Loader<K, Error = ApiError>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    shared: Arc<Shared<K, L>>,
    generation: u64,
}

impl<K, L> FirstCaller<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = ApiError>,
{
    fn pending(&self) -> usize {
        let open = self.shared.lock();
        match &open.batch {
            Some(batch) if open.generation == self.generation => batch.keys.len(),
            _ => 0,
        }
    }
}

impl<K, L> Drop for FirstCaller<K, L>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    L: Loader<K, Error = ApiError>,
{
    fn drop(&mut self) {
        let batch = {
            let mut open = self.shared.lock();
            if open.generation != self.generation {
                return;
            }
            open.batch.take()
        };
        if let Some(batch) = batch {
            self.shared.clone().send(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use futures::future::{join_all, try_join_all};

    use super::*;

    /// Doubles its keys, recording each call's keys; a key of a million or more fails the batch.
    #[derive(Default)]
    struct Doubler {
        calls: Mutex<Vec<Vec<u32>>>,
        delay: Option<Duration>,
    }

    struct Doubling(Arc<Doubler>);

    impl Loader<u32> for Doubling {
        type Value = u32;
        type Error = ApiError;

        async fn load(&self, keys: &[u32]) -> Result<HashMap<u32, u32>, ApiError> {
            let this = &self.0;
            this.calls.lock().unwrap().push(keys.to_vec());
            if let Some(delay) = this.delay {
                tokio::time::sleep(delay).await;
            }
            if keys.iter().any(|&k| k >= 1_000_000) {
                return Err(ApiError::validation("too big"));
            }
            Ok(keys
                .iter()
                .filter(|&&k| k % 7 != 0)
                .map(|&k| (k, k * 2))
                .collect())
        }
    }

    fn batcher(delay: Option<Duration>) -> (Batcher<u32, Doubling>, Arc<Doubler>) {
        let loader = Arc::new(Doubler {
            delay,
            ..Default::default()
        });
        (Batcher::new(Doubling(loader.clone())), loader)
    }

    fn calls(loader: &Doubler) -> Vec<Vec<u32>> {
        let mut calls = loader.calls.lock().unwrap().clone();
        for call in &mut calls {
            call.sort_unstable();
        }
        calls
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn siblings_of_one_join_are_one_load() {
        // 100 siblings: more than `join_all` polls as a small join, as `_entities` has them.
        let (batcher, loader) = batcher(None);
        let values = join_all((1..=100).map(|k| batcher.load_one(k))).await;
        for (k, value) in (1..=100).zip(values) {
            let expected = (k % 7 != 0).then_some(k * 2);
            assert_eq!(value.unwrap(), expected, "key {k}");
        }
        assert_eq!(calls(&loader), vec![(1..=100).collect::<Vec<_>>()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_key_asked_twice_is_loaded_once_and_answers_both() {
        let (batcher, loader) = batcher(None);
        let values = try_join_all([3, 3, 4, 3].map(|k| batcher.load_one(k)))
            .await
            .unwrap();
        assert_eq!(values, [Some(6), Some(6), Some(8), Some(6)]);
        assert_eq!(calls(&loader), vec![vec![3, 4]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_asked_deeper_in_the_tree_join_the_batch() {
        // Ten entities with ten list items each, as a selection resolves them: the first caller
        // waits until a whole pass adds no key.
        let (batcher, loader) = batcher(None);
        let batcher = &batcher;
        let lists = join_all((0..10).map(|e| async move {
            try_join_all((1..=10).map(|i| batcher.load_one(e * 10 + i))).await
        }))
        .await;
        assert!(lists.iter().all(Result::is_ok));
        assert_eq!(calls(&loader), vec![(1..=100).collect::<Vec<_>>()]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_batch_is_sent_at_once_and_the_rest_follow() {
        let (batcher, loader) = batcher(None);
        let asked = MAX_BATCH as u32 + 5;
        let values = join_all((0..asked).map(|k| batcher.load_one(k))).await;
        assert!(values.iter().all(Result::is_ok));
        let mut sizes: Vec<usize> = calls(&loader).iter().map(Vec::len).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [5, MAX_BATCH]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_later_ask_is_a_new_batch() {
        let (batcher, loader) = batcher(None);
        assert_eq!(batcher.load_one(1).await.unwrap(), Some(2));
        assert_eq!(batcher.load_one(2).await.unwrap(), Some(4));
        assert_eq!(calls(&loader), vec![vec![1], vec![2]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_load_fails_every_caller_of_its_batch() {
        let (batcher, _) = batcher(None);
        let values = join_all([1, 1_000_000, 2].map(|k| batcher.load_one(k))).await;
        for value in values {
            assert_eq!(value.unwrap_err().code, ErrorCode::ValidationFailed);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dropping_the_first_caller_does_not_strand_the_others() {
        let (batcher, loader) = batcher(Some(Duration::from_millis(20)));
        let batcher = Arc::new(batcher);
        let answered = Arc::new(AtomicUsize::new(0));
        // The first caller is dropped while it yields, before it sends the batch.
        {
            let mut first = Box::pin(batcher.load_one(1));
            assert!(futures::poll!(first.as_mut()).is_pending());
            let others = (2..=5).map(|k| {
                let batcher = batcher.clone();
                let answered = answered.clone();
                tokio::spawn(async move {
                    let value = batcher.load_one(k).await.unwrap();
                    answered.fetch_add(1, Ordering::SeqCst);
                    value
                })
            });
            let others: Vec<_> = others.collect();
            while batcher.shared.lock().batch.as_ref().unwrap().keys.len() < 5 {
                tokio::task::yield_now().await;
            }
            drop(first);
            for (k, other) in (2..=5).zip(others) {
                let value = tokio::time::timeout(Duration::from_secs(2), other)
                    .await
                    .expect("a waiter was stranded")
                    .unwrap();
                assert_eq!(value, Some(k * 2));
            }
        }
        assert_eq!(answered.load(Ordering::SeqCst), 4);
        assert_eq!(calls(&loader), vec![vec![1, 2, 3, 4, 5]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_cut_short_mid_load_does_not_cancel_it_for_the_others() {
        let (batcher, loader) = batcher(Some(Duration::from_millis(50)));
        let (first, second) = tokio::join!(
            tokio::time::timeout(Duration::from_millis(10), batcher.load_one(8)),
            batcher.load_one(9),
        );
        assert!(first.is_err(), "the first caller was cut short mid-load");
        assert_eq!(second.unwrap(), Some(18));
        assert_eq!(loader.calls.lock().unwrap().len(), 1);
    }
}
