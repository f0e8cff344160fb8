//! Who is asking, and what they may do: API tokens ([`Auth::authenticate`], cached per replica
//! and dropped on revocation), the [`Actor`] every use case checks its permission against, and
//! the token use cases (create, list, get, revoke).
//!
//! Only the SHA-256 of a token's secret is stored and cached; the secret is compared in
//! constant time and never logged. Failed attempts are logged (with the token's public id at
//! most) and counted per address; past `max_failed_attempts` in a minute an address gets 429
//! for the rest of that minute, valid token or not, so guessing learns nothing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use depot_catalog::{Catalog, CatalogError, Change, NewToken, Page, PageRequest, TokenRecord};
use depot_domain::{Grant, Grants, ModelName, ModelPattern, Permission, Principal, Role, TokenText, hash_secret};
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorCode};
use crate::replica::ReplicaState;

/// Whether requests need tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Every route but health, readiness and the docs needs a token (the default).
    Tokens,
    /// No authentication at all: everyone may do everything. For a laptop only.
    Off,
}

/// How requests are authenticated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `tokens` (the default) or `off` (for a laptop only: anyone may do anything).
    pub mode: AuthMode,
    /// Whether the prediction routes need a token (with any grant on the model).
    pub predict_requires_token: bool,
    /// Addresses of proxies whose `x-depot-actor` header names the person behind a request
    /// (recorded as the actor; the proxy's token still decides what may be done).
    pub trusted_proxies: Vec<IpAddr>,
    /// Where the first start writes the admin token it creates (readable by its owner only).
    pub bootstrap_token_file: PathBuf,
    /// How long a pending change waits for approval before it expires.
    pub approval_ttl_s: u64,
    /// How long a replica trusts its cached copy of a token before reading it again; a
    /// revocation reaches every replica within this bound even if a notification is lost. A
    /// token in use is read again in the background during the second half of this time, so
    /// that requests do not wait for the database (nor pile onto it) when a copy expires.
    pub token_cache_ms: u64,
    /// Failed authentications one address may make in a minute before it gets 429 for the
    /// rest of that minute; 0 turns the limit off.
    pub max_failed_attempts: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Tokens,
            predict_requires_token: true,
            trusted_proxies: Vec::new(),
            bootstrap_token_file: PathBuf::from("./.depot/admin-token"),
            approval_ttl_s: 24 * 3600,
            token_cache_ms: 1000,
            max_failed_attempts: 20,
        }
    }
}

/// Who makes a request, with what rights, and why. Every use case checks it.
#[derive(Debug, Clone)]
pub struct Actor {
    principal: Arc<str>,
    token: Option<Arc<str>>,
    grants: Arc<Grants>,
    /// Why (recorded with a change).
    pub reason: Option<String>,
}

impl Actor {
    /// A system actor with every right (start-up tasks, the command line's recovery token).
    pub fn system(principal: &str) -> Self {
        Self {
            principal: principal.into(),
            token: None,
            grants: Arc::new(Grants::single(Role::Admin, ModelPattern::any())),
            reason: None,
        }
    }

    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The principal, shared (for keeping it past the request without copying it).
    pub fn principal_shared(&self) -> Arc<str> {
        Arc::clone(&self.principal)
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    pub fn with_reason(mut self, reason: Option<String>) -> Self {
        self.reason = reason;
        self
    }

    pub fn may(&self, permission: Permission, model: &str) -> bool {
        self.grants.allows(permission, model)
    }

    /// Refuses with 403 naming the missing role. Depends only on the name and the grants,
    /// never on whether the model exists, so a refusal tells nothing about other models.
    pub fn require(&self, permission: Permission, model: &ModelName) -> Result<(), Error> {
        if self.may(permission, model.as_str()) { Ok(()) } else { Err(self.forbidden(permission, model.as_str())) }
    }

    pub(crate) fn forbidden(&self, permission: Permission, model: &str) -> Error {
        let role = permission.least_role();
        let also = if role == Role::Admin { String::new() } else { " (or admin)".to_owned() };
        Error::new(
            ErrorCode::Forbidden,
            format!("{} needs the {role} role{also} on model '{model}' for this", self.who()),
        )
    }

    fn who(&self) -> String {
        match &self.token {
            Some(token) => format!("token {token} of '{}'", self.principal),
            None => format!("'{}'", self.principal),
        }
    }

    /// The `LIKE` patterns of the models this actor may see with `permission`; `None` when
    /// it may see them all.
    pub fn visible(&self, permission: Permission) -> Option<Vec<String>> {
        if self.grants.allows_everywhere(permission) {
            None
        } else {
            Some(self.grants.patterns_for(permission).into_iter().map(ModelPattern::to_like).collect())
        }
    }

    /// The audit record's who and why.
    pub fn change(&self) -> Change {
        Change {
            actor: self.principal.to_string(),
            reason: self.reason.clone(),
            token: self.token.as_deref().map(str::to_owned),
            approves: None,
        }
    }
}

/// What a request presents.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The `Authorization: Bearer` value.
    pub bearer: Option<&'a str>,
    /// The peer's address.
    pub peer: Option<IpAddr>,
    /// The `x-depot-actor` header (honoured from trusted proxies only).
    pub claimed_actor: Option<&'a str>,
    /// Whether the request is a prediction (which may not need a token).
    pub predicting: bool,
}

/// A token as created: its text, shown this once.
#[derive(Debug)]
pub struct CreatedToken {
    pub text: String,
    pub record: TokenRecord,
}

/// What a new token should be.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub name: String,
    pub principal: Principal,
    pub grants: Vec<Grant>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A replica's copy of a stored token.
struct TokenEntry {
    record: TokenRecord,
    grants: Arc<Grants>,
    principal: Arc<str>,
    id: Arc<str>,
    read_at: Instant,
    /// When this replica last wrote the token's use: seconds since it started, plus one; 0
    /// for never.
    touched_at: AtomicU64,
    /// Whether a re-read of this copy is under way ([`Auth::refresh_ahead`]).
    refreshing: AtomicBool,
}

/// The actor a presented secret makes of a token, or why it is refused (the reason for the
/// log, the message for the client). The hashes are compared in constant time.
fn check(entry: &TokenEntry, presented: &[u8; 32]) -> Result<Actor, (&'static str, &'static str)> {
    let record = &entry.record;
    if !bool::from(record.secret_hash.ct_eq(presented)) {
        Err(("wrong_secret", "unknown or revoked token"))
    } else if record.revoked_at.is_some() {
        Err(("revoked", "this token has been revoked"))
    } else if record.expires_at.is_some_and(|at| at <= Utc::now()) {
        Err(("expired", "this token has expired; create a new one"))
    } else {
        Ok(Actor {
            principal: entry.principal.clone(),
            token: Some(entry.id.clone()),
            grants: entry.grants.clone(),
            reason: None,
        })
    }
}

#[derive(Default)]
struct Failures {
    by_address: HashMap<IpAddr, (Instant, u32)>,
}

/// Authentication and the token use cases. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    catalog: Catalog,
    config: AuthConfig,
    replica: Arc<ReplicaState>,
    tokens: RwLock<HashMap<String, Arc<TokenEntry>>>,
    /// The reads of tokens from the database under way ([`Auth::read_token`]).
    reads: Mutex<Reads>,
    /// How many times cached tokens were dropped on a change: a read that began before a drop
    /// is not cached ([`Auth::settle`]).
    forgotten: AtomicU64,
    failures: Mutex<Failures>,
    /// Addresses over the limit now (a fast path skips the map while it is zero).
    blocked: AtomicUsize,
    started: Instant,
    /// Shared by the actors that are not a token's.
    anonymous: Arc<str>,
    everything: Arc<Grants>,
    predict_anything: Arc<Grants>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// How a cached token's copy of `age` stands, for a cache that trusts copies for `ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Freshness {
    /// Younger than half the time: used as it is.
    Fresh,
    /// In the second half: still used, and read again in the background.
    Ageing,
    /// Older than `ttl`: read again before it is used.
    Expired,
}

fn freshness(age: Duration, ttl: Duration) -> Freshness {
    if age > ttl {
        Freshness::Expired
    } else if age > ttl / 2 {
        Freshness::Ageing
    } else {
        Freshness::Fresh
    }
}

/// One read of a token from the database, shared by every request that waits for it: the
/// copy it made (`None`: no such token).
type TokenRead = Shared<BoxFuture<'static, Result<Option<Arc<TokenEntry>>, ReadFailure>>>;

/// The reads under way by token id, each with its number (a finished read removes itself, not
/// a later one of the same token).
#[derive(Default)]
struct Reads {
    by_id: HashMap<String, (u64, TokenRead)>,
    started: u64,
}

/// Why a shared read of a token failed.
#[derive(Debug, Clone)]
enum ReadFailure {
    Catalog(Arc<CatalogError>),
    /// The reading task panicked or its runtime is shutting down.
    Task(Arc<tokio::task::JoinError>),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Catalog(error) => error.fmt(f),
            Self::Task(error) => write!(f, "the token's read did not finish: {error}"),
        }
    }
}

impl From<ReadFailure> for Error {
    fn from(failure: ReadFailure) -> Self {
        match failure {
            ReadFailure::Catalog(error) => match Arc::try_unwrap(error) {
                Ok(error) => error.into(),
                Err(shared) if matches!(*shared, CatalogError::Unavailable(_)) => {
                    Error::unavailable("the database", shared)
                }
                Err(shared) => Error::internal(shared),
            },
            ReadFailure::Task(error) => Error::internal(error),
        }
    }
}

/// Caches a copy of `record`, read at `read_at` (when the read began: a copy is never trusted
/// for longer than `token_cache_ms` after the database answered for it), keeping when this
/// replica last wrote the token's use.
fn cache(tokens: &mut HashMap<String, Arc<TokenEntry>>, record: TokenRecord, read_at: Instant) -> Arc<TokenEntry> {
    let touched_at = tokens.get(&record.id).map_or(0, |e| e.touched_at.load(Ordering::Relaxed));
    let entry = copy_of(record, read_at, touched_at);
    tokens.insert(entry.record.id.clone(), entry.clone());
    entry
}

fn copy_of(record: TokenRecord, read_at: Instant, touched_at: u64) -> Arc<TokenEntry> {
    Arc::new(TokenEntry {
        grants: Arc::new(record.grants.clone()),
        principal: record.principal.as_str().into(),
        id: record.id.as_str().into(),
        record,
        read_at,
        touched_at: AtomicU64::new(touched_at),
        refreshing: AtomicBool::new(false),
    })
}

fn unauthenticated(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::Unauthenticated, message)
}

impl Auth {
    /// Authentication for one replica: while it cannot reach the database (`replica` is not
    /// following), tokens it already checked stay valid whatever their age (no revocation can
    /// be committed meanwhile); new ones need the database.
    pub fn new(catalog: Catalog, config: AuthConfig, replica: Arc<ReplicaState>) -> Self {
        Self {
            inner: Arc::new(Inner {
                catalog,
                config,
                replica,
                tokens: RwLock::new(HashMap::new()),
                reads: Mutex::new(Reads::default()),
                forgotten: AtomicU64::new(0),
                failures: Mutex::new(Failures::default()),
                blocked: AtomicUsize::new(0),
                started: Instant::now(),
                anonymous: "anonymous".into(),
                everything: Arc::new(Grants::single(Role::Admin, ModelPattern::any())),
                predict_anything: Arc::new(Grants::single(Role::Predictor, ModelPattern::any())),
            }),
        }
    }

    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    pub fn approval_ttl(&self) -> Duration {
        Duration::from_secs(self.inner.config.approval_ttl_s)
    }

    /// Who the request is from. No token: 401, unless authentication is off or the request
    /// predicts and predictions need no token. A wrong, unknown, expired or revoked token: 401.
    pub async fn authenticate(&self, credentials: Credentials<'_>) -> Result<Actor, Error> {
        match self.authenticate_now(&credentials) {
            Some(answer) => answer,
            None => self.authenticate_from_database(&credentials).await,
        }
    }

    /// [`Auth::authenticate`] without waiting: the answer, unless it needs the database (a token
    /// this replica has not read, or not within `token_cache_ms`). The hot path of every
    /// request: a hash of the secret, a map lookup, and no allocation beyond the actor's.
    pub fn authenticate_now(&self, credentials: &Credentials<'_>) -> Option<Result<Actor, Error>> {
        let config = &self.inner.config;
        if config.mode == AuthMode::Off {
            return Some(self.claimed(credentials).map(|claimed| Actor {
                principal: claimed.unwrap_or_else(|| self.inner.anonymous.clone()),
                token: None,
                grants: self.inner.everything.clone(),
                reason: None,
            }));
        }
        let Some(bearer) = credentials.bearer else {
            if credentials.predicting && !config.predict_requires_token {
                return Some(Ok(Actor {
                    principal: self.inner.anonymous.clone(),
                    token: None,
                    grants: self.inner.predict_anything.clone(),
                    reason: None,
                }));
            }
            return Some(Err(unauthenticated("this route needs an API token: send 'Authorization: Bearer <token>'")));
        };
        if let Err(error) = self.check_not_blocked(credentials.peer) {
            return Some(Err(error));
        }
        let Ok(text) = TokenText::parse(bearer) else {
            return Some(Err(self.failed(
                credentials.peer,
                None,
                "malformed",
                "the bearer token is not a Depot token",
            )));
        };
        let now = Instant::now();
        let entry = self.lookup(text.id)?;
        match freshness(now.duration_since(entry.read_at), Duration::from_millis(config.token_cache_ms)) {
            Freshness::Fresh => {}
            // The database is out of reach: the copy holds (see `new`).
            _ if !self.inner.replica.following() => {}
            Freshness::Ageing => self.refresh_ahead(&entry),
            Freshness::Expired => return None,
        }
        Some(self.admit(&entry, &text, credentials, now))
    }

    /// Re-reads a cached token in the background, once at a time, so that a token in use is
    /// read again before its copy expires and no request waits for the database. The new copy
    /// replaces this one only if this one is still the cached copy (a revocation's
    /// notification may have dropped it meanwhile); a token gone from the database is
    /// dropped; on an error the next request tries again, and the copy still expires on time
    /// (all of it [`Auth::settle`]'s rule, the same for every read). Requests that find the
    /// copy expired while this read is under way wait for it rather than read the token
    /// themselves ([`Auth::read_token`]).
    fn refresh_ahead(&self, entry: &TokenEntry) {
        if !entry.refreshing.swap(true, Ordering::Relaxed) {
            drop(self.read_token(&entry.record.id));
        }
    }

    async fn authenticate_from_database(&self, credentials: &Credentials<'_>) -> Result<Actor, Error> {
        let Some(Ok(text)) = credentials.bearer.map(TokenText::parse) else {
            return Err(unauthenticated("the bearer token is not a Depot token"));
        };
        let stale = self.lookup(text.id);
        let entry = match self.read_token(text.id).await {
            Ok(Some(entry)) => entry,
            Ok(None) => {
                return Err(self.failed(credentials.peer, Some(text.id), "unknown", "unknown or revoked token"));
            }
            Err(failure) => match (failure, stale) {
                // The database is down: the copy read earlier still holds (no revocation can
                // be committed meanwhile).
                (ReadFailure::Catalog(error), Some(stale)) if matches!(*error, CatalogError::Unavailable(_)) => stale,
                (failure, _) => return Err(failure.into()),
            },
        };
        self.admit(&entry, &text, credentials, Instant::now())
    }

    /// Reads a token from the database, or joins the read of it already under way. When a
    /// token's copy expires under load, every request in flight needs it at once: they share
    /// one query instead of each taking a connection from the pool (64 requests queued for
    /// 16 connections for seconds). The read runs as a task of its own, so it completes, and
    /// leaves the map, even when every request waiting for it has gone, and caches what it
    /// found ([`Auth::settle`]). A change to the token ([`Auth::forget_token`]) takes the read
    /// out of the map: requests after it read again.
    fn read_token(&self, id: &str) -> TokenRead {
        let mut reads = self.inner.reads.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, read)) = reads.by_id.get(id) {
            return read.clone();
        }
        reads.started += 1;
        let number = reads.started;
        let (began, forgotten) = (Instant::now(), self.inner.forgotten.load(Ordering::Acquire));
        let (auth, key) = (self.clone(), id.to_owned());
        // It removes itself under the lock held here until it is in the map.
        let task = tokio::spawn(async move {
            let found = auth.inner.catalog.find_token(&key).await;
            let settled = auth.settle(&key, found, began, forgotten);
            let mut reads = auth.inner.reads.lock().unwrap_or_else(|e| e.into_inner());
            if reads.by_id.get(&key).is_some_and(|(n, _)| *n == number) {
                reads.by_id.remove(&key);
            }
            settled
        });
        let read =
            async move { task.await.unwrap_or_else(|error| Err(ReadFailure::Task(Arc::new(error)))) }.boxed().shared();
        reads.by_id.insert(id.to_owned(), (number, read.clone()));
        read
    }

    /// The actor a presented token makes of a cached one, or the 401 (counted and logged).
    fn admit(
        &self,
        entry: &TokenEntry,
        text: &TokenText<'_>,
        credentials: &Credentials<'_>,
        now: Instant,
    ) -> Result<Actor, Error> {
        let mut actor = check(entry, &text.secret_hash())
            .map_err(|(reason, message)| self.failed(credentials.peer, Some(text.id), reason, message))?;
        if let Some(claimed) = self.claimed(credentials)? {
            actor.principal = claimed;
        }
        self.touch(entry, now);
        Ok(actor)
    }

    /// The person a trusted proxy names in `x-depot-actor`; `None` from anywhere else.
    fn claimed(&self, credentials: &Credentials<'_>) -> Result<Option<Arc<str>>, Error> {
        let proxies = &self.inner.config.trusted_proxies;
        if proxies.is_empty() || !credentials.peer.is_some_and(|p| proxies.contains(&p)) {
            return Ok(None);
        }
        let Some(name) = credentials.claimed_actor else { return Ok(None) };
        let principal = Principal::parse(name).map_err(|e| Error::new(ErrorCode::InvalidPrincipal, e.to_string()))?;
        Ok(Some(principal.as_str().into()))
    }

    /// Writes a token's last use, at most once a minute per token and replica, off the
    /// request's path.
    fn touch(&self, entry: &TokenEntry, now: Instant) {
        // Seconds since this replica started (+1, so that 0 means never): one atomic read per
        // request, no lock.
        let second = now.duration_since(self.inner.started).as_secs() + 1;
        let last = entry.touched_at.load(Ordering::Relaxed);
        if last != 0 && second < last + TOUCH_EVERY.as_secs() {
            return;
        }
        if entry.touched_at.compare_exchange(last, second, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return; // another request is writing it
        }
        let catalog = self.inner.catalog.clone();
        let id = entry.record.id.clone();
        tokio::spawn(async move {
            if let Err(error) = catalog.touch_token(&id).await {
                tracing::debug!(auth.token = %id, error = %error, "could not note a token's use");
            }
        });
    }

    fn lookup(&self, id: &str) -> Option<Arc<TokenEntry>> {
        self.inner.tokens.read().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// What a read of token `id` that began at `began`, with [`Inner::forgotten`] at
    /// `forgotten`, makes of the cache. If cached tokens were dropped since it began, it may
    /// predate a revocation: it changes nothing, and its copy serves only the requests that
    /// waited for it. Otherwise a token found is cached, unless a newer copy already is; a
    /// token gone is dropped; after an error the cached copy may be read ahead again.
    fn settle(
        &self,
        id: &str,
        found: Result<Option<TokenRecord>, CatalogError>,
        began: Instant,
        forgotten: u64,
    ) -> Result<Option<Arc<TokenEntry>>, ReadFailure> {
        let mut tokens = self.inner.tokens.write().unwrap_or_else(|e| e.into_inner());
        let current = self.inner.forgotten.load(Ordering::Acquire) == forgotten;
        match found {
            Ok(Some(record)) if !current => Ok(Some(copy_of(record, began, 0))),
            Ok(Some(record)) => Ok(Some(match tokens.get(id) {
                Some(cached) if cached.read_at >= began => cached.clone(),
                _ => cache(&mut tokens, record, began),
            })),
            Ok(None) => {
                if current {
                    tokens.remove(id);
                }
                Ok(None)
            }
            Err(error) => {
                if let Some(cached) = tokens.get(id) {
                    cached.refreshing.store(false, Ordering::Relaxed);
                }
                tracing::debug!(auth.token = %id, error = %error, "could not read a token");
                Err(ReadFailure::Catalog(Arc::new(error)))
            }
        }
    }

    /// Drops a token's cached copy (it changed); the next request reads it again.
    pub fn forget_token(&self, id: &str) {
        self.forget(Some(id));
    }

    /// Drops every cached token (notifications may have been missed).
    pub fn forget_tokens(&self) {
        self.forget(None);
    }

    /// Drops token `id`'s copy and read under way, or every token's: requests after this read
    /// again, and reads that began before it cache nothing ([`Auth::settle`]).
    fn forget(&self, id: Option<&str>) {
        let mut reads = self.inner.reads.lock().unwrap_or_else(|e| e.into_inner());
        match id {
            Some(id) => drop(reads.by_id.remove(id)),
            None => reads.by_id.clear(),
        }
        drop(reads);
        let mut tokens = self.inner.tokens.write().unwrap_or_else(|e| e.into_inner());
        // Under the lock that `settle` checks it under.
        self.inner.forgotten.fetch_add(1, Ordering::AcqRel);
        match id {
            Some(id) => drop(tokens.remove(id)),
            None => tokens.clear(),
        }
    }

    fn check_not_blocked(&self, peer: Option<IpAddr>) -> Result<(), Error> {
        let limit = self.inner.config.max_failed_attempts;
        if limit == 0 || self.inner.blocked.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let Some(peer) = peer else { return Ok(()) };
        let mut failures = self.inner.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match failures.by_address.get(&peer) {
            Some(&(start, count)) if count >= limit && now.duration_since(start) < FAILURE_WINDOW => {
                let retry = FAILURE_WINDOW.saturating_sub(now.duration_since(start)).as_secs().max(1);
                Err(Error::new(
                    ErrorCode::TooManyAttempts,
                    format!("too many failed authentications from this address; retry in {retry} s"),
                ))
            }
            Some(&(_, count)) if count >= limit => {
                // The minute is over.
                failures.by_address.remove(&peer);
                self.inner.blocked.fetch_sub(1, Ordering::Relaxed);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Counts and logs a failed authentication; the 401 to answer with.
    fn failed(&self, peer: Option<IpAddr>, token: Option<&str>, reason: &'static str, message: &str) -> Error {
        let limit = self.inner.config.max_failed_attempts;
        let mut count = 0;
        if let Some(peer) = peer {
            let mut failures = self.inner.failures.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            if failures.by_address.len() > 100_000 {
                failures.by_address.retain(|_, (start, _)| now.duration_since(*start) < FAILURE_WINDOW);
            }
            let entry = failures.by_address.entry(peer).or_insert((now, 0));
            if now.duration_since(entry.0) >= FAILURE_WINDOW {
                if limit > 0 && entry.1 >= limit {
                    self.inner.blocked.fetch_sub(1, Ordering::Relaxed);
                }
                *entry = (now, 0);
            }
            entry.1 += 1;
            count = entry.1;
            if limit > 0 && count == limit {
                self.inner.blocked.fetch_add(1, Ordering::Relaxed);
            }
        }
        tracing::warn!(auth.failure = reason, auth.token = token.unwrap_or("-"),
            client.address = %peer.map(|p| p.to_string()).unwrap_or_default(), auth.failures_in_window = count,
            "authentication failed");
        unauthenticated(message)
    }

    /// On the first start of an installation (no token at all), creates an admin token for
    /// principal `admin` and writes it to `bootstrap_token_file` (mode 0600). Returns the
    /// file when it wrote one.
    pub async fn bootstrap(&self) -> Result<Option<PathBuf>, Error> {
        if self.inner.config.mode == AuthMode::Off {
            return Ok(None);
        }
        let (text, new) = new_token(NewTokenParts {
            name: "bootstrap".to_owned(),
            principal: Principal::parse("admin").map_err(Error::internal)?,
            grants: Grants::single(Role::Admin, ModelPattern::any()),
            expires_at: None,
        })?;
        // The file is written first, under a name of its own, and renamed into place only once
        // the token is stored: a start that cannot write it stores nothing, and replicas
        // starting together (one of which stores the token) never overwrite each other's file.
        let path = self.inner.config.bootstrap_token_file.clone();
        let staged = path.with_file_name(format!(
            ".{}.{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("admin-token"),
            new.id
        ));
        let io_error = |e: std::io::Error, what: &str| {
            Error::new(ErrorCode::Internal, "internal error")
                .with_source(crate::error::Cause(format!("{what} the admin token file {}: {e}", path.display())))
        };
        write_private(&staged, &text).map_err(|e| io_error(e, "writing"))?;
        let created = match self.inner.catalog.create_first_token(&new, &Change::by("depot")).await {
            Ok(created) => created,
            Err(error) => {
                let _ = std::fs::remove_file(&staged);
                return Err(error.into());
            }
        };
        if !created {
            let _ = std::fs::remove_file(&staged);
            return Ok(None);
        }
        std::fs::rename(&staged, &path).map_err(|e| io_error(e, "moving into place"))?;
        Ok(Some(path))
    }

    /// Creates a token. The caller needs admin on every model each grant covers.
    pub async fn create_token(&self, actor: &Actor, request: TokenRequest) -> Result<CreatedToken, Error> {
        let name = request.name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(Error::invalid("a token's name must be 1 to 64 printable characters"));
        }
        let grants = Grants::new(request.grants).map_err(|e| Error::new(ErrorCode::InvalidGrant, e.to_string()))?;
        for grant in grants.iter() {
            if !actor.grants.may_delegate(grant) {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    format!(
                        "{} may not grant {} on '{}': that needs the admin role on those models",
                        actor.who(),
                        grant.role,
                        grant.models
                    ),
                ));
            }
        }
        if request.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(Error::invalid("expires_at is in the past"));
        }
        let (text, new) = new_token(NewTokenParts {
            name: name.to_owned(),
            principal: request.principal,
            grants,
            expires_at: request.expires_at,
        })?;
        let record = self.inner.catalog.create_token(&new, &actor.change()).await?;
        tracing::info!(auth.token = %record.id, auth.principal = %record.principal, actor = %actor.principal, "token created");
        Ok(CreatedToken { text, record })
    }

    /// Whether `actor` may see and revoke tokens of `principal`: its own, or any as an admin
    /// of every model.
    fn may_manage(actor: &Actor, principal: &str) -> bool {
        actor.grants.allows_everywhere(Permission::Admin) || actor.principal() == principal
    }

    /// Tokens the actor may see: all for an admin of every model, else its principal's own.
    pub async fn list_tokens(
        &self,
        actor: &Actor,
        principal: Option<Principal>,
        include_revoked: bool,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>, Error> {
        let principal = match principal {
            Some(p) if Self::may_manage(actor, p.as_str()) => Some(p),
            Some(p) => {
                return Err(Error::new(
                    ErrorCode::Forbidden,
                    format!("{} may list only its own tokens, not those of '{p}'", actor.who()),
                ));
            }
            None if actor.grants.allows_everywhere(Permission::Admin) => None,
            None => Some(Principal::parse(actor.principal()).map_err(|e| Error::invalid(e.to_string()))?),
        };
        Ok(self.inner.catalog.list_tokens(principal.as_ref(), include_revoked, page).await?)
    }

    /// One token; another principal's is "not found" unless the actor administers everything.
    pub async fn get_token(&self, actor: &Actor, id: &str) -> Result<TokenRecord, Error> {
        let record = self.inner.catalog.get_token(id).await?;
        if !Self::may_manage(actor, record.principal.as_str()) {
            return Err(CatalogError::TokenNotFound { id: id.to_owned() }.into());
        }
        Ok(record)
    }

    /// Revokes a token: on this replica at once, on the others through the notification.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> Result<TokenRecord, Error> {
        self.get_token(actor, id).await?;
        let record = self.inner.catalog.revoke_token(id, &actor.change()).await?;
        self.forget_token(id);
        tracing::info!(auth.token = %id, actor = %actor.principal, "token revoked");
        Ok(record)
    }
}

struct NewTokenParts {
    name: String,
    principal: Principal,
    grants: Grants,
    expires_at: Option<DateTime<Utc>>,
}

/// A fresh token's text and what is stored of it.
fn new_token(parts: NewTokenParts) -> Result<(String, NewToken), Error> {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).and_then(|()| getrandom::fill(&mut secret)).map_err(|e| {
        Error::new(ErrorCode::Internal, "internal error").with_source(crate::error::Cause(e.to_string()))
    })?;
    let text = TokenText::format(&id, &secret);
    let parsed = TokenText::parse(&text).map_err(Error::internal)?;
    debug_assert_eq!(parsed.secret_hash(), hash_secret(&text[text.len() - TokenText::SECRET_LEN..]));
    let new = NewToken {
        id: parsed.id.to_owned(),
        secret_hash: parsed.secret_hash(),
        name: parts.name,
        principal: parts.principal,
        grants: parts.grants,
        expires_at: parts.expires_at,
    };
    Ok((text, new))
}

/// Writes `text` to a new file only its owner can read (replacing an older one of that name).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_read_again_in_the_second_half_of_its_time_and_before_use_after_it() {
        let ttl = Duration::from_millis(1000);
        let at = |ms| freshness(Duration::from_millis(ms), ttl);
        assert_eq!([at(0), at(500)], [Freshness::Fresh; 2]);
        assert_eq!([at(501), at(1000)], [Freshness::Ageing; 2]);
        assert_eq!([at(1001), at(60_000)], [Freshness::Expired; 2]);
        assert_eq!(freshness(Duration::ZERO, Duration::ZERO), Freshness::Fresh);
        assert_eq!(freshness(Duration::from_nanos(1), Duration::ZERO), Freshness::Expired);
    }
}
