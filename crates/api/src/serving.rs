//! From a prediction request to a loaded model: resolve the version (cached briefly, so the hot
//! path does not hit the database on every request), refuse what cannot be served, and load it
//! into the runtime from its verified artifact.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use std::sync::atomic::{AtomicU64, Ordering};

use depot_catalog::{Catalog, CatalogError, Deployment};
use depot_domain::{AliasName, BatchPolicy, Digest, ModelName, Signature, VersionNumber, VersionRef};
use depot_runtime::{BatchConfig, LoadedModel, VersionKey};
use futures::StreamExt;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// What serving needs to know of a version.
#[derive(Debug)]
pub struct Resolved {
    pub model: ModelName,
    pub version: VersionNumber,
    pub digest: Digest,
    pub signature: Option<Signature>,
    pub servable: bool,
    pub unservable_reason: Option<String>,
    pub batching: Option<BatchPolicy>,
}

/// A cached value, when it was read, and since when a request has been re-reading it.
#[derive(Debug)]
struct Entry<T> {
    at: Instant,
    value: T,
    refreshing_since: Option<Instant>,
}

impl<T> Entry<T> {
    fn new(value: T) -> Self {
        Self { at: Instant::now(), value, refreshing_since: None }
    }
}

/// What a model's version-less routes serve, as cached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub version: VersionNumber,
    pub canary: Option<(VersionNumber, u8)>,
}

#[derive(Debug, Default)]
struct Caches {
    versions: HashMap<(ModelName, VersionNumber), Entry<Arc<Resolved>>>,
    aliases: HashMap<(ModelName, AliasName), Entry<VersionNumber>>,
    deployments: HashMap<ModelName, Entry<Option<Target>>>,
}

/// Short-lived caches of what the database says about versions, aliases and deployments, so
/// the hot path does not query it on every request. Every entry is re-read after `ttl` (the
/// periodic reconciliation: a missed notification leaves a replica stale for at most `ttl` plus
/// one read); changes announced on the serving channel replace entries at once, after the new
/// target is loaded ([`follow_changes`]).
///
/// One request re-reads an expired entry while the others keep using it ([`lookup`]): without
/// that, every request in flight when an entry expired queried the database at once, each
/// waiting on it, and a slow database stalled all of them.
#[derive(Debug)]
pub struct Resolver {
    ttl: Duration,
    caches: Mutex<Caches>,
}

/// Above this many entries, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 4096;

impl Resolver {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, caches: Mutex::new(Caches::default()) }
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh<T: Clone>(&self, entry: Option<&Entry<T>>) -> Option<T> {
        entry.filter(|e| e.at.elapsed() < self.ttl).map(|e| e.value.clone())
    }

    pub async fn resolve(
        &self,
        catalog: &Catalog,
        model: &ModelName,
        version: VersionNumber,
    ) -> Result<Arc<Resolved>, ApiError> {
        let key = (model.clone(), version);
        if let Some(resolved) = lookup(&mut self.caches().versions, &key, self.ttl) {
            return Ok(resolved);
        }
        let row =
            catalog.get_version(model, version).await.inspect_err(|e| release(&mut self.caches().versions, &key, e))?;
        let resolved = Arc::new(Resolved {
            model: row.model,
            version: row.version,
            digest: row.digest,
            signature: row.signature,
            servable: row.servable,
            unservable_reason: row.unservable_reason,
            batching: row.batching,
        });
        let mut caches = self.caches();
        if caches.versions.len() > SWEEP_ABOVE {
            let ttl = self.ttl;
            caches.versions.retain(|_, e| e.at.elapsed() < ttl);
        }
        caches.versions.insert(key, Entry::new(resolved.clone()));
        Ok(resolved)
    }

    /// The version's row if it is cached and fresh; never reads the database.
    pub fn cached_version(&self, model: &ModelName, version: VersionNumber) -> Option<Arc<Resolved>> {
        self.fresh(self.caches().versions.get(&(model.clone(), version)))
    }

    /// A version named by number or alias.
    pub async fn resolve_ref(
        &self,
        catalog: &Catalog,
        model: &ModelName,
        reference: &VersionRef,
    ) -> Result<Arc<Resolved>, ApiError> {
        let version = match reference {
            VersionRef::Number(n) => *n,
            VersionRef::Alias(alias) => self.alias(catalog, model, alias).await?,
        };
        self.resolve(catalog, model, version).await
    }

    async fn alias(&self, catalog: &Catalog, model: &ModelName, alias: &AliasName) -> Result<VersionNumber, ApiError> {
        let key = (model.clone(), alias.clone());
        if let Some(version) = lookup(&mut self.caches().aliases, &key, self.ttl) {
            return Ok(version);
        }
        let started = Instant::now();
        let version = catalog
            .get_alias(model, alias)
            .await
            .inspect_err(|e| release(&mut self.caches().aliases, &key, e))?
            .version;
        install(&mut self.caches().aliases, key, version, started);
        Ok(version)
    }

    /// What the model's version-less routes serve; `None` when it is not deployed.
    pub async fn deployment(&self, catalog: &Catalog, model: &ModelName) -> Result<Option<Target>, ApiError> {
        if let Some(target) = lookup(&mut self.caches().deployments, model, self.ttl) {
            return Ok(target);
        }
        let started = Instant::now();
        let target = catalog
            .get_deployment(model)
            .await
            .inspect_err(|e| release(&mut self.caches().deployments, model, e))?
            .map(|d| target_of(&d));
        install(&mut self.caches().deployments, model.clone(), target, started);
        Ok(target)
    }

    /// Caches what a read that began at `started` saw, unless something newer is cached.
    fn install_deployment(&self, model: &ModelName, target: Option<Target>, started: Instant) {
        install(&mut self.caches().deployments, model.clone(), target, started);
    }

    fn install_alias(&self, model: &ModelName, alias: &AliasName, version: VersionNumber, started: Instant) {
        install(&mut self.caches().aliases, (model.clone(), alias.clone()), version, started);
    }

    pub fn set_deployment(&self, model: &ModelName, target: Option<Target>) {
        self.caches().deployments.insert(model.clone(), Entry::new(target));
    }

    pub fn set_alias(&self, model: &ModelName, alias: &AliasName, version: Option<VersionNumber>) {
        let key = (model.clone(), alias.clone());
        match version {
            Some(version) => {
                self.caches().aliases.insert(key, Entry::new(version));
            }
            None => {
                self.caches().aliases.remove(&key);
            }
        }
    }

    pub fn forget(&self, model: &ModelName, version: VersionNumber) {
        self.caches().versions.remove(&(model.clone(), version));
    }

    /// Drops everything cached about one model's serving (it was deleted).
    pub fn forget_model(&self, model: &ModelName) {
        let mut caches = self.caches();
        caches.deployments.remove(model);
        caches.aliases.retain(|(m, _), _| m != model);
        caches.versions.retain(|(m, _), _| m != model);
    }

    /// Drops everything cached about serving (after the notification stream broke).
    pub fn forget_serving(&self) {
        let mut caches = self.caches();
        caches.aliases.clear();
        caches.deployments.clear();
    }
}

/// Inserts what a database read begun at `started` returned, unless the entry was replaced after
/// that read began: a slow read (or a slow follower task) must not overwrite a newer change.
fn install<K: Hash + Eq, T>(map: &mut HashMap<K, Entry<T>>, key: K, value: T, started: Instant) {
    if map.get(&key).is_some_and(|e| e.at > started) {
        return;
    }
    map.insert(key, Entry::new(value));
}

/// The cached value for `key` when it is fresh, or when it has expired but another request
/// began re-reading it less than `ttl` ago. Otherwise `None`, and the caller is to re-read it:
/// an expired entry is claimed for that caller. A claim lapses after `ttl`, so a re-read that
/// was abandoned (its request dropped) holds no one up for longer.
fn lookup<K: Hash + Eq, T: Clone>(map: &mut HashMap<K, Entry<T>>, key: &K, ttl: Duration) -> Option<T> {
    let entry = map.get_mut(key)?;
    let now = Instant::now();
    let fresh = now.duration_since(entry.at) < ttl;
    let claimed = entry.refreshing_since.is_some_and(|since| now.duration_since(since) < ttl);
    if fresh || claimed {
        return Some(entry.value.clone());
    }
    entry.refreshing_since = Some(now);
    None
}

/// After a failed re-read: what no longer exists is forgotten; otherwise (the database is
/// unavailable, say) the claim is released, so that the next request tries again while the
/// others keep the value they had.
fn release<K: Hash + Eq, T>(map: &mut HashMap<K, Entry<T>>, key: &K, error: &CatalogError) {
    let gone = matches!(
        error,
        CatalogError::ModelNotFound { .. } | CatalogError::VersionNotFound { .. } | CatalogError::AliasNotFound { .. }
    );
    if gone {
        map.remove(key);
    } else if let Some(entry) = map.get_mut(key) {
        entry.refreshing_since = None;
    }
}

pub fn target_of(deployment: &Deployment) -> Target {
    Target { version: deployment.version, canary: deployment.canary.map(|c| (c.version, c.percent)) }
}

/// Picks the version of one version-less request: the canary for its share of requests, but only
/// once the canary is loaded on this replica (until then it is loaded in the background).
pub fn pick(state: &AppState, model: &ModelName, target: Target) -> VersionNumber {
    let Some((canary, percent)) = target.canary else { return target.version };
    if spread() % 100 >= u64::from(percent) {
        return target.version;
    }
    // A lookup in the caches, not a listing of every loaded version on each request.
    let loaded = state
        .resolver
        .cached_version(model, canary)
        .is_some_and(|r| state.runtime.is_loaded(&VersionKey::new(model.clone(), canary, r.digest)));
    if loaded {
        return canary;
    }
    let (state, model) = (state.clone(), model.clone());
    tokio::spawn(async move {
        if let Err(error) = preload(&state, &model, canary).await {
            tracing::warn!(model.name = %model, model.version = %canary, error = %error, "canary could not be loaded");
        }
    });
    target.version
}

/// A well-spread sequence (splitmix64 of a counter): the canary share without a random crate.
fn spread() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0x9e37_79b9_7f4a_7c15);
    let mut z = COUNTER.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Loads (and warms) a version so that switching traffic to it fails no request.
pub async fn preload(state: &AppState, model: &ModelName, version: VersionNumber) -> Result<(), ApiError> {
    let resolved = state.resolver.resolve(&state.catalog, model, version).await?;
    load(state, &resolved).await.map(drop)
}

/// Keeps this replica in step with the others: on each serving change announced through
/// PostgreSQL, loads what the model now serves and then switches to it. When the notification
/// stream breaks, everything cached about serving is dropped (re-read on the next request) and
/// the listener reconnects.
pub async fn follow_changes(state: AppState) {
    loop {
        match state.catalog.listen_serving_changes().await {
            Ok(mut listener) => {
                state.resolver.forget_serving();
                loop {
                    match listener.recv().await {
                        Ok(model) => {
                            let state = state.clone();
                            tokio::spawn(async move { refresh(&state, &model).await });
                        }
                        Err(error) => {
                            tracing::warn!(error = %error, "serving notifications interrupted; reconciling");
                            break;
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(error = %error, "cannot listen for serving changes; retrying"),
        }
        state.resolver.forget_serving();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn refresh(state: &AppState, model: &str) {
    let Ok(model) = ModelName::parse(model) else { return };
    let result = async {
        let started = Instant::now();
        let deployment = state.catalog.get_deployment(&model).await?;
        let aliases = state.catalog.list_aliases(&model).await?;
        if let Some(deployment) = &deployment {
            // Load before switching; a version that cannot load keeps the old target served.
            preload(state, &model, deployment.version).await?;
        }
        state.resolver.install_deployment(&model, deployment.as_ref().map(target_of), started);
        for alias in aliases {
            state.resolver.install_alias(&model, &alias.alias, alias.version, started);
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match result {
        Ok(()) => tracing::debug!(model.name = %model, "followed a serving change"),
        Err(error) => {
            tracing::warn!(model.name = %model, error = %error, "could not follow a serving change; re-reading on demand");
            state.resolver.forget_serving();
        }
    }
}

/// The signature of a servable version, or why it cannot be served (409).
pub fn servable_signature(resolved: &Resolved) -> Result<&Signature, ApiError> {
    match (&resolved.signature, resolved.servable) {
        (Some(signature), true) => Ok(signature),
        _ => Err(ApiError::new(
            ErrorCode::VersionNotServable,
            format!(
                "version {} of '{}' cannot be served: {}",
                resolved.version,
                resolved.model,
                resolved.unservable_reason.as_deref().unwrap_or("it has no servable signature")
            ),
        )),
    }
}

fn batch_config(policy: Option<BatchPolicy>) -> Option<BatchConfig> {
    policy.map(|p| BatchConfig::new(p.max_batch_size as usize, Duration::from_millis(u64::from(p.max_queue_delay_ms))))
}

/// The loaded model of a resolved version, loading it (verified against its digest, warmed)
/// on first use. A version whose batching policy changed is reloaded with the new policy.
pub async fn load(state: &AppState, resolved: &Resolved) -> Result<Arc<LoadedModel>, ApiError> {
    let signature = servable_signature(resolved)?;
    let key = VersionKey::new(resolved.model.clone(), resolved.version, resolved.digest);
    let batching = batch_config(resolved.batching);
    if let Some(model) = state.runtime.get(&key) {
        if model.batching() == batching {
            return Ok(model);
        }
        state.runtime.unload(&key);
    }
    let store = state.store.clone();
    let digest = resolved.digest;
    let model = state.runtime.get_or_load(key, signature, batching, async move { store.read(digest).await }).await?;
    Ok(model)
}

/// Reads a request body up to `limit` bytes (413 beyond).
pub async fn read_body(request: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<BytesMut, ApiError> {
    let too_large =
        || ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes"));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the request body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(200);

    fn expired(value: u32, refreshing_since: Option<Instant>) -> Entry<u32> {
        Entry { at: Instant::now() - 2 * TTL, value, refreshing_since }
    }

    #[test]
    fn one_caller_re_reads_an_expired_entry_while_the_others_keep_it() {
        let mut map = HashMap::from([("fresh", Entry::new(1)), ("expired", expired(2, None))]);
        assert_eq!(lookup(&mut map, &"fresh", TTL), Some(1));
        assert_eq!(lookup(&mut map, &"missing", TTL), None);

        assert_eq!(lookup(&mut map, &"expired", TTL), None, "the first caller re-reads");
        assert!(map["expired"].refreshing_since.is_some(), "and has claimed the re-read");
        assert_eq!(lookup(&mut map, &"expired", TTL), Some(2), "the next callers keep the old value");
        assert_eq!(lookup(&mut map, &"expired", TTL), Some(2));

        install(&mut map, "expired", 3, Instant::now() - Duration::from_millis(1));
        assert_eq!(lookup(&mut map, &"expired", TTL), Some(3), "the re-read value is fresh");
        assert_eq!(map["expired"].refreshing_since, None);
    }

    #[test]
    fn an_abandoned_re_read_is_taken_over_after_the_ttl() {
        let mut map = HashMap::from([("k", expired(1, Some(Instant::now() - 2 * TTL)))]);
        assert_eq!(lookup(&mut map, &"k", TTL), None, "the old claim has lapsed");
        assert_eq!(lookup(&mut map, &"k", TTL), Some(1), "the new one holds");
    }

    #[test]
    fn a_failed_re_read_forgets_what_is_gone_and_retries_the_rest() {
        let name = ModelName::parse("m").expect("name");
        let mut map = HashMap::from([("gone", expired(1, None)), ("down", expired(2, None))]);

        assert_eq!(lookup(&mut map, &"gone", TTL), None);
        let not_found = CatalogError::VersionNotFound { name, version: VersionNumber::new(1).expect("version") };
        release(&mut map, &"gone", &not_found);
        assert!(!map.contains_key("gone"), "a version that no longer exists is not served from the cache");

        assert_eq!(lookup(&mut map, &"down", TTL), None);
        // Any error but "not found": the database timed out, say.
        release(&mut map, &"down", &CatalogError::Corrupt { reason: "a timeout".into() });
        assert_eq!(map["down"].value, 2, "the value is kept");
        assert_eq!(lookup(&mut map, &"down", TTL), None, "the claim was released: the next caller tries again");
    }
}
