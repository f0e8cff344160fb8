//! What the database says about versions, aliases and deployments, cached briefly so that the
//! hot path does not query it on every request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use depot_catalog::{Catalog, CatalogError, Deployment};
use depot_domain::{AliasName, BatchPolicy, Digest, ModelName, Signature, VersionNumber, VersionRef};

use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::replica::ReplicaState;

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
    /// Marked for re-reading whatever its age.
    expired: bool,
}

impl<T> Entry<T> {
    fn new(value: T) -> Self {
        Self { at: Instant::now(), value, refreshing_since: None, expired: false }
    }

    fn expire(&mut self) {
        self.expired = true;
        self.refreshing_since = None;
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
/// target is loaded (`follower`).
///
/// One request re-reads an expired entry while the others keep using it ([`lookup`]): without
/// that, every request in flight when an entry expired queried the database at once, each
/// waiting on it, and a slow database stalled all of them.
///
/// While the database cannot be reached (the notification stream is down, or a re-read fails
/// for any reason but "not found"), expired entries keep being answered: a version's serving
/// facts never change once written, and what can change (deployments, aliases, batching) cannot
/// change unseen while no replica can write it either. Only what was never read needs the
/// database then.
#[derive(Debug)]
pub struct Resolver {
    ttl: Duration,
    caches: Mutex<Caches>,
    replica: Arc<ReplicaState>,
    metrics: Metrics,
}

/// Above this many entries, expired ones are swept on insert.
const SWEEP_ABOVE: usize = 4096;

impl Resolver {
    pub fn new(ttl: Duration, replica: Arc<ReplicaState>, metrics: Metrics) -> Self {
        Self { ttl, caches: Mutex::new(Caches::default()), replica, metrics }
    }

    /// The cached value of `key`, unless this caller is to re-read it (see [`lookup`]).
    fn cached<K: Hash + Eq, T: Clone>(&self, map: &mut HashMap<K, Entry<T>>, key: &K) -> Option<T> {
        match lookup(map, key, self.ttl, self.replica.following()) {
            Found::Fresh(value) => Some(value),
            Found::Kept(value) => {
                self.metrics.stale_answer();
                Some(value)
            }
            Found::Reread => None,
        }
    }

    /// After a failed re-read: the value kept when the failure was not "not found" (the
    /// database is unreachable, say), else the error.
    fn kept<K: Hash + Eq, T: Clone>(
        &self,
        map: &mut HashMap<K, Entry<T>>,
        key: &K,
        error: CatalogError,
    ) -> Result<T, Error> {
        release(map, key, &error);
        match map.get(key) {
            Some(entry) => {
                tracing::warn!(error = %error, "the database could not be read: serving what this replica last knew");
                self.metrics.stale_answer();
                Ok(entry.value.clone())
            }
            None => Err(error.into()),
        }
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        self.caches.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fresh<T: Clone>(&self, entry: Option<&Entry<T>>) -> Option<T> {
        entry.filter(|e| !e.expired && e.at.elapsed() < self.ttl).map(|e| e.value.clone())
    }

    pub async fn resolve(
        &self,
        catalog: &Catalog,
        model: &ModelName,
        version: VersionNumber,
    ) -> Result<Arc<Resolved>, Error> {
        let key = (model.clone(), version);
        if let Some(resolved) = self.cached(&mut self.caches().versions, &key) {
            return Ok(resolved);
        }
        let row = match catalog.get_version(model, version).await {
            Ok(row) => row,
            Err(error) => return self.kept(&mut self.caches().versions, &key, error),
        };
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
    ) -> Result<Arc<Resolved>, Error> {
        let version = match reference {
            VersionRef::Number(n) => *n,
            VersionRef::Alias(alias) => self.alias(catalog, model, alias).await?,
        };
        self.resolve(catalog, model, version).await
    }

    async fn alias(&self, catalog: &Catalog, model: &ModelName, alias: &AliasName) -> Result<VersionNumber, Error> {
        let key = (model.clone(), alias.clone());
        if let Some(version) = self.cached(&mut self.caches().aliases, &key) {
            return Ok(version);
        }
        let started = Instant::now();
        let version = match catalog.get_alias(model, alias).await {
            Ok(alias) => alias.version,
            Err(error) => return self.kept(&mut self.caches().aliases, &key, error),
        };
        install(&mut self.caches().aliases, key, version, started);
        Ok(version)
    }

    /// What the model's version-less routes serve; `None` when it is not deployed.
    pub async fn deployment(&self, catalog: &Catalog, model: &ModelName) -> Result<Option<Target>, Error> {
        if let Some(target) = self.cached(&mut self.caches().deployments, model) {
            return Ok(target);
        }
        let started = Instant::now();
        let target = match catalog.get_deployment(model).await {
            Ok(deployment) => deployment.map(|d| target_of(&d)),
            Err(error) => return self.kept(&mut self.caches().deployments, model, error),
        };
        install(&mut self.caches().deployments, model.clone(), target, started);
        Ok(target)
    }

    /// Caches what a read that began at `started` saw, unless something newer is cached.
    pub(crate) fn install_deployment(&self, model: &ModelName, target: Option<Target>, started: Instant) {
        install(&mut self.caches().deployments, model.clone(), target, started);
    }

    pub(crate) fn install_alias(&self, model: &ModelName, alias: &AliasName, version: VersionNumber, started: Instant) {
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

    /// Marks everything cached about serving for re-reading (the notification stream was
    /// reconnected, or a change could not be followed: changes may have been missed), keeping
    /// the values for when the database cannot be read.
    pub fn expire_serving(&self) {
        let mut caches = self.caches();
        let Caches { versions, aliases, deployments } = &mut *caches;
        versions.values_mut().for_each(Entry::expire);
        aliases.values_mut().for_each(Entry::expire);
        deployments.values_mut().for_each(Entry::expire);
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

/// What the cache holds for a key.
#[derive(Debug, PartialEq, Eq)]
enum Found<T> {
    /// Fresh, or expired while another request re-reads it.
    Fresh(T),
    /// Expired, but the database cannot be reached (`following` is false): kept.
    Kept(T),
    /// Missing, or expired and now claimed by this caller, who is to re-read it.
    Reread,
}

/// The cached value for `key` when it is fresh, or when it has expired but another request
/// began re-reading it less than `ttl` ago, or when the database cannot be reached. Otherwise
/// the caller is to re-read it: an expired entry is claimed for that caller. A claim lapses
/// after `ttl`, so a re-read that was abandoned (its request dropped) holds no one up for
/// longer.
fn lookup<K: Hash + Eq, T: Clone>(map: &mut HashMap<K, Entry<T>>, key: &K, ttl: Duration, following: bool) -> Found<T> {
    let Some(entry) = map.get_mut(key) else { return Found::Reread };
    let now = Instant::now();
    let fresh = !entry.expired && now.duration_since(entry.at) < ttl;
    let claimed = entry.refreshing_since.is_some_and(|since| now.duration_since(since) < ttl);
    if fresh || claimed {
        return Found::Fresh(entry.value.clone());
    }
    if !following {
        return Found::Kept(entry.value.clone());
    }
    entry.refreshing_since = Some(now);
    Found::Reread
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

pub(crate) fn target_of(deployment: &Deployment) -> Target {
    Target { version: deployment.version, canary: deployment.canary.map(|c| (c.version, c.percent)) }
}

impl Resolved {
    /// The signature of a servable version, or why it cannot be served (409).
    pub fn servable_signature(&self) -> Result<&Signature, Error> {
        match (&self.signature, self.servable) {
            (Some(signature), true) => Ok(signature),
            _ => Err(Error::new(
                ErrorCode::VersionNotServable,
                format!(
                    "version {} of '{}' cannot be served: {}",
                    self.version,
                    self.model,
                    self.unservable_reason.as_deref().unwrap_or("it has no servable signature")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_millis(200);

    fn expired(value: u32, refreshing_since: Option<Instant>) -> Entry<u32> {
        Entry { at: Instant::now() - 2 * TTL, value, refreshing_since, expired: false }
    }

    #[test]
    fn one_caller_re_reads_an_expired_entry_while_the_others_keep_it() {
        let mut map = HashMap::from([("fresh", Entry::new(1)), ("expired", expired(2, None))]);
        assert_eq!(lookup(&mut map, &"fresh", TTL, true), Found::Fresh(1));
        assert_eq!(lookup(&mut map, &"missing", TTL, true), Found::Reread);

        assert_eq!(lookup(&mut map, &"expired", TTL, true), Found::Reread, "the first caller re-reads");
        assert!(map["expired"].refreshing_since.is_some(), "and has claimed the re-read");
        assert_eq!(lookup(&mut map, &"expired", TTL, true), Found::Fresh(2), "the next callers keep the old value");
        assert_eq!(lookup(&mut map, &"expired", TTL, true), Found::Fresh(2));

        install(&mut map, "expired", 3, Instant::now() - Duration::from_millis(1));
        assert_eq!(lookup(&mut map, &"expired", TTL, true), Found::Fresh(3), "the re-read value is fresh");
        assert_eq!(map["expired"].refreshing_since, None);
    }

    #[test]
    fn an_abandoned_re_read_is_taken_over_after_the_ttl() {
        let mut map = HashMap::from([("k", expired(1, Some(Instant::now() - 2 * TTL)))]);
        assert_eq!(lookup(&mut map, &"k", TTL, true), Found::Reread, "the old claim has lapsed");
        assert_eq!(lookup(&mut map, &"k", TTL, true), Found::Fresh(1), "the new one holds");
    }

    #[test]
    fn without_the_database_expired_entries_are_kept_and_only_misses_need_it() {
        let mut map = HashMap::from([("expired", expired(1, None)), ("fresh", Entry::new(2))]);
        assert_eq!(lookup(&mut map, &"expired", TTL, false), Found::Kept(1), "no one waits on the database");
        assert_eq!(map["expired"].refreshing_since, None, "nothing is claimed");
        assert_eq!(lookup(&mut map, &"fresh", TTL, false), Found::Fresh(2));
        assert_eq!(lookup(&mut map, &"missing", TTL, false), Found::Reread);
    }

    #[test]
    fn a_marked_entry_is_re_read_whatever_its_age_and_kept_meanwhile() {
        let mut map = HashMap::from([("k", Entry::new(1))]);
        map.get_mut("k").expect("entry").expire();
        assert_eq!(lookup(&mut map, &"k", TTL, false), Found::Kept(1));
        assert_eq!(lookup(&mut map, &"k", TTL, true), Found::Reread);
        assert_eq!(lookup(&mut map, &"k", TTL, true), Found::Fresh(1), "while one caller re-reads");
    }

    #[test]
    fn a_failed_re_read_forgets_what_is_gone_and_retries_the_rest() {
        let name = ModelName::parse("m").expect("name");
        let mut map = HashMap::from([("gone", expired(1, None)), ("down", expired(2, None))]);

        assert_eq!(lookup(&mut map, &"gone", TTL, true), Found::Reread);
        let not_found = CatalogError::VersionNotFound { name, version: VersionNumber::new(1).expect("version") };
        release(&mut map, &"gone", &not_found);
        assert!(!map.contains_key("gone"), "a version that no longer exists is not served from the cache");

        assert_eq!(lookup(&mut map, &"down", TTL, true), Found::Reread);
        // Any error but "not found": the database timed out, say.
        release(&mut map, &"down", &CatalogError::Corrupt { reason: "a timeout".into() });
        assert_eq!(map["down"].value, 2, "the value is kept");
        assert_eq!(
            lookup(&mut map, &"down", TTL, true),
            Found::Reread,
            "the claim was released: the next caller tries again"
        );
    }
}
