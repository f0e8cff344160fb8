//! The runtime: the ONNX Runtime environment and the cache of loaded versions.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use depot_domain::Signature;
use ort::environment::Environment;
use tokio::sync::watch;
use tracing::Instrument;

use crate::key::VersionKey;
use crate::model::LoadedModel;
use crate::pool::{self, SessionPool};
use crate::{BatchConfig, NoObserver, Observer, RuntimeConfig, RuntimeError, environment};

type LoadResult = Result<Arc<LoadedModel>, RuntimeError>;

/// Loads model versions into ONNX Runtime sessions and keeps the recently used ones.
///
/// Cheap to clone: clones share the environment and the cache.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    config: RuntimeConfig,
    environment: Environment,
    cache: Mutex<Cache>,
    observer: Arc<dyn Observer>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime").field("config", &self.inner.config).field("loaded", &self.loaded()).finish()
    }
}

impl Runtime {
    /// Loads the ONNX Runtime library named by the configuration and creates an empty cache.
    ///
    /// A missing or unloadable library is [`RuntimeError::LibraryUnavailable`], naming the path
    /// and the script that fetches it. ONNX Runtime is loaded once per process: every runtime in
    /// a process must name the same library.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        Self::with_observer(config, Arc::new(NoObserver))
    }

    /// As [`Runtime::new`], reporting its work (queue waits, runs, batches, loads, evictions)
    /// to `observer`.
    pub fn with_observer(config: RuntimeConfig, observer: Arc<dyn Observer>) -> Result<Self, RuntimeError> {
        config.validate()?;
        let environment = environment::environment(&config.library_path)?;
        tracing::info!(library = %config.library_path.display(), "ONNX Runtime loaded");
        let inner = Inner { config, environment, cache: Mutex::new(Cache::default()), observer };
        Ok(Self { inner: Arc::new(inner) })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The loaded version for `key`, loading it when it is not loaded.
    ///
    /// Concurrent callers for one key share a single load: `fetch` is awaited by one of them
    /// only. The artifact's SHA-256 must equal `key.digest` before any session is created
    /// ([`RuntimeError::DigestMismatch`]); then `sessions_per_version` sessions are created on
    /// a blocking thread, checked against `signature` and warmed up with one run each. A failed
    /// load is returned to every waiting caller and not cached. A version already loaded is
    /// returned as it is, whatever `signature` and `batching` say now.
    pub async fn get_or_load<F, E>(
        &self,
        key: VersionKey,
        signature: &Signature,
        batching: Option<BatchConfig>,
        fetch: F,
    ) -> Result<Arc<LoadedModel>, RuntimeError>
    where
        F: Future<Output = Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        loop {
            let step = {
                let mut cache = self.cache();
                cache.tick += 1;
                let now = cache.tick;
                match cache.entries.get_mut(&key) {
                    Some(Slot::Ready { model, last_used }) => {
                        *last_used = now;
                        return Ok(Arc::clone(model));
                    }
                    Some(Slot::Loading { result, .. }) => Step::Wait(result.clone()),
                    None => {
                        let (sender, receiver) = watch::channel(None);
                        cache.entries.insert(key.clone(), Slot::Loading { id: now, result: receiver });
                        Step::Lead { id: now, sender }
                    }
                }
            };
            match step {
                Step::Lead { id, sender } => {
                    let guard = LoadGuard { runtime: self, key: &key, id, sender, finished: false };
                    return self.lead_load(guard, signature.clone(), batching, fetch).await;
                }
                Step::Wait(mut result) => {
                    if let Ok(result) = result.wait_for(Option::is_some).await
                        && let Some(result) = result.as_ref()
                    {
                        return result.clone();
                    }
                    // The caller that was loading gave up (its future was dropped): try again.
                }
            }
        }
    }

    async fn lead_load<F, E>(
        &self,
        mut guard: LoadGuard<'_>,
        signature: Signature,
        batching: Option<BatchConfig>,
        fetch: F,
    ) -> LoadResult
    where
        F: Future<Output = Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        let key = guard.key.clone();
        let span = tracing::info_span!("load", model.name = %key.model, model.version = %key.version);
        let started = Instant::now();
        let result = self.load(&key, signature, batching, fetch).instrument(span.clone()).await;
        let loaded = result.as_ref().map(|model| model.artifact_bytes());
        self.inner.observer.loaded(&key, started.elapsed(), loaded);
        match &result {
            Ok(model) => tracing::info!(
                parent: &span,
                artifact_bytes = model.artifact_bytes(),
                sessions = model.sessions(),
                batching = model.batching().is_some(),
                duration_ms = started.elapsed().as_secs_f64() * 1e3,
                "model version loaded"
            ),
            Err(e) => tracing::warn!(parent: &span, error = %e, "model version failed to load"),
        }

        let evicted = {
            let mut cache = self.cache();
            guard.finished = true;
            cache.entries.remove(&key);
            match &result {
                Ok(model) => {
                    cache.tick += 1;
                    let last_used = cache.tick;
                    cache.entries.insert(key.clone(), Slot::Ready { model: Arc::clone(model), last_used });
                    cache.evict(&key, self.inner.config.cache_max_versions, self.inner.config.cache_max_bytes)
                }
                Err(_) => Vec::new(),
            }
        };
        guard.sender.send_replace(Some(result.clone()));
        for model in &evicted {
            self.inner.observer.evicted(model.key());
        }
        release(evicted);
        result
    }

    async fn load<F, E>(
        &self,
        key: &VersionKey,
        signature: Signature,
        batching: Option<BatchConfig>,
        fetch: F,
    ) -> LoadResult
    where
        F: Future<Output = Result<Bytes, E>>,
        E: Into<Box<dyn StdError + Send + Sync>>,
    {
        pool::check_servable(&signature)?;
        let bytes = fetch.await.map_err(|e| RuntimeError::Fetch { reason: depot_domain::error_chain(&*e.into()) })?;
        let artifact_bytes = bytes.len() as u64;
        let environment = self.inner.environment.clone();
        let config = self.inner.config.clone();
        let pool_key = key.clone();
        let observer = Arc::clone(&self.inner.observer);
        let span = tracing::Span::current();
        let pool = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let observer = observer.version(&pool_key);
            SessionPool::create(&environment, &config, pool_key, signature, &bytes, observer)
        })
        .await
        .map_err(|e| RuntimeError::internal(format!("the loading thread failed: {e}")))??;
        Ok(Arc::new(LoadedModel::new(artifact_bytes, pool, batching)))
    }

    /// The loaded version for `key`, if loaded; counts as a use for the LRU order.
    pub fn get(&self, key: &VersionKey) -> Option<Arc<LoadedModel>> {
        let mut cache = self.cache();
        cache.tick += 1;
        let now = cache.tick;
        match cache.entries.get_mut(key) {
            Some(Slot::Ready { model, last_used }) => {
                *last_used = now;
                Some(Arc::clone(model))
            }
            _ => None,
        }
    }

    /// Drops the cache's reference to `key`; requests in flight finish on its sessions. Returns
    /// whether it was loaded.
    pub fn unload(&self, key: &VersionKey) -> bool {
        let removed = {
            let mut cache = self.cache();
            match cache.entries.get(key) {
                Some(Slot::Ready { .. }) => cache.entries.remove(key),
                _ => None,
            }
        };
        match removed {
            Some(Slot::Ready { model, .. }) => {
                tracing::info!(model.name = %key.model, model.version = %key.version, "model version unloaded");
                release(vec![model]);
                true
            }
            _ => false,
        }
    }

    pub fn is_loaded(&self, key: &VersionKey) -> bool {
        matches!(self.cache().entries.get(key), Some(Slot::Ready { .. }))
    }

    /// The loaded versions, most recently used first.
    pub fn loaded(&self) -> Vec<VersionKey> {
        let cache = self.cache();
        let mut ready: Vec<(u64, &VersionKey)> = cache
            .entries
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Ready { last_used, .. } => Some((*last_used, key)),
                Slot::Loading { .. } => None,
            })
            .collect();
        ready.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
        ready.into_iter().map(|(_, key)| key.clone()).collect()
    }

    /// Each loaded version and how many requests wait for one of its sessions; not a use for
    /// the LRU order.
    pub fn loaded_waiting(&self) -> Vec<(VersionKey, usize)> {
        let cache = self.cache();
        cache
            .entries
            .iter()
            .filter_map(|(key, slot)| match slot {
                Slot::Ready { model, .. } => Some((key.clone(), model.stats().waiting)),
                Slot::Loading { .. } => None,
            })
            .collect()
    }

    /// The artifact bytes of the loaded versions, what `cache_max_bytes` bounds.
    pub fn loaded_bytes(&self) -> u64 {
        self.cache().ready_bytes()
    }

    /// How many versions the cache keeps loaded (`cache_max_versions`).
    pub fn capacity(&self) -> usize {
        self.inner.config.cache_max_versions
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.inner.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Drops evicted versions on a blocking thread when a Tokio runtime is at hand: releasing the
/// last sessions of a version frees ONNX Runtime memory, which can take a while.
fn release(models: Vec<Arc<LoadedModel>>) {
    if models.is_empty() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(move || drop(models));
        }
        Err(_) => drop(models),
    }
}

#[derive(Default)]
struct Cache {
    entries: HashMap<VersionKey, Slot>,
    /// A logical clock for the LRU order.
    tick: u64,
}

/// What a `get_or_load` caller does after looking at the cache.
enum Step {
    Lead { id: u64, sender: watch::Sender<Option<LoadResult>> },
    Wait(watch::Receiver<Option<LoadResult>>),
}

enum Slot {
    /// One caller is loading; the others wait for the result.
    Loading {
        id: u64,
        result: watch::Receiver<Option<LoadResult>>,
    },
    Ready {
        model: Arc<LoadedModel>,
        last_used: u64,
    },
}

impl Cache {
    fn ready(&self) -> impl Iterator<Item = (&VersionKey, &Arc<LoadedModel>, u64)> {
        self.entries.iter().filter_map(|(key, slot)| match slot {
            Slot::Ready { model, last_used } => Some((key, model, *last_used)),
            Slot::Loading { .. } => None,
        })
    }

    fn ready_bytes(&self) -> u64 {
        self.ready().map(|(_, model, _)| model.artifact_bytes()).sum()
    }

    /// Evicts least recently used versions, never `keep`, until both budgets hold.
    fn evict(&mut self, keep: &VersionKey, max_versions: usize, max_bytes: u64) -> Vec<Arc<LoadedModel>> {
        let mut evicted = Vec::new();
        while self.ready().count() > max_versions || self.ready_bytes() > max_bytes {
            let victim = self.ready().filter(|(key, _, _)| *key != keep).min_by_key(|(_, _, used)| *used);
            let Some(victim) = victim.map(|(key, _, _)| key.clone()) else { break };
            if let Some(Slot::Ready { model, .. }) = self.entries.remove(&victim) {
                tracing::info!(
                    model.name = %victim.model,
                    model.version = %victim.version,
                    artifact_bytes = model.artifact_bytes(),
                    "model version evicted"
                );
                evicted.push(model);
            }
        }
        evicted
    }
}

/// Removes the `Loading` slot when the loading caller's future is dropped before it finished,
/// then drops the sender, so that waiters retry instead of waiting forever.
struct LoadGuard<'a> {
    runtime: &'a Runtime,
    key: &'a VersionKey,
    id: u64,
    sender: watch::Sender<Option<LoadResult>>,
    finished: bool,
}

impl Drop for LoadGuard<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut cache = self.runtime.cache();
        if matches!(cache.entries.get(self.key), Some(Slot::Loading { id, .. }) if *id == self.id) {
            cache.entries.remove(self.key);
        }
    }
}
