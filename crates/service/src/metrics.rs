//! Depot's metrics, in the Prometheus (OpenMetrics) text format through `prometheus-client`:
//! HTTP requests by route template, inference by model, version and role, the runtime, the
//! registry and the replica's following of other replicas. Histograms, not summaries, so that
//! replicas aggregate; buckets from 50 µs, since a prediction here takes well under a
//! millisecond. Label values are bounded: route templates, registered models and their versions
//! (a request for a model that does not resolve never becomes a label), error codes.
//!
//! Per-version counters for the Triton statistics extension (`/v2/.../stats`) are kept here too
//! ([`VersionStats`]), updated on the same path.
//!
//! This is the only module that knows prometheus-client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use depot_domain::{ModelName, VersionNumber};
use depot_runtime::{Observer, RuntimeError, VersionKey, VersionObserver};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Latency buckets, in seconds.
const LATENCY: [f64; 17] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Batch sizes, in rows.
const ROWS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

fn latency() -> Histogram {
    Histogram::new(LATENCY)
}

fn rows() -> Histogram {
    Histogram::new(ROWS)
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// A family of latency histograms.
fn histograms<L: Clone + std::hash::Hash + Eq>() -> Histograms<L> {
    Family::new_with_constructor(latency as fn() -> Histogram)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: String,
    status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcLabels {
    method: &'static str,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrpcMethodLabels {
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RoleLabels {
    model: String,
    version: String,
    role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    model: String,
    version: String,
    role: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Action {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolState {
    state: &'static str,
}

/// Which version served a version-less request, or that the request named its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The deployed version.
    Primary,
    /// The canary, for its share.
    Canary,
    /// A version or alias named in the path.
    Direct,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Canary => "canary",
            Role::Direct => "direct",
        }
    }
}

/// Cumulative counts and durations of one version, as Triton's statistics extension reports
/// them (durations in nanoseconds).
#[derive(Debug, Default)]
pub struct VersionStats {
    pub success_count: AtomicU64,
    pub success_ns: AtomicU64,
    pub fail_count: AtomicU64,
    pub fail_ns: AtomicU64,
    pub queue_count: AtomicU64,
    pub queue_ns: AtomicU64,
    pub compute_count: AtomicU64,
    pub compute_ns: AtomicU64,
    /// Requests that ran (one per request, batched or not).
    pub inference_count: AtomicU64,
    /// Session runs (one per batch).
    pub execution_count: AtomicU64,
    /// When the last request ended, in ms since the Unix epoch.
    pub last_inference_ms: AtomicU64,
}

/// The metrics of one replica. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    /// Off: nothing is recorded (for measuring what recording costs).
    enabled: bool,
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Histograms<RouteLabels>,
    grpc_requests: Family<GrpcLabels, Counter>,
    grpc_duration: Histograms<GrpcMethodLabels>,
    inference_requests: Family<OutcomeLabels, Counter>,
    inference_duration: Histograms<RoleLabels>,
    queue_duration: Histograms<VersionLabels>,
    compute_duration: Histograms<VersionLabels>,
    batch_size: Histograms<VersionLabels>,
    in_flight: Family<VersionLabels, Gauge>,
    queued: Family<VersionLabels, Gauge>,
    loaded_versions: Gauge,
    loaded_bytes: Gauge,
    loads: Family<Outcome, Counter>,
    load_duration: Histogram,
    evictions: Counter,
    digest_failures: Counter,
    uploads: Family<Outcome, Counter>,
    upload_bytes: Counter,
    upload_duration: Histogram,
    changes: Family<Action, Counter>,
    pending_approvals: Gauge,
    follow_delay: Histogram,
    reconnects: Counter,
    following: Gauge,
    stale: Counter,
    pool: Family<PoolState, Gauge>,
    pool_max: Gauge,
    /// Each version's handles, made on its first request: recording then allocates nothing
    /// and looks up no label set.
    versions: RwLock<HashMap<ModelName, HashMap<u32, Arc<VersionMetrics>>>>,
    /// Each route's handles, by route template and method.
    routes: RwLock<HashMap<String, HashMap<String, Arc<RouteMetrics>>>>,
}

/// One version's series and Triton statistics.
#[derive(Debug)]
struct VersionMetrics {
    labels: VersionLabels,
    in_flight: Gauge,
    queue: Histogram,
    compute: Histogram,
    batch: Histogram,
    stats: Arc<VersionStats>,
    /// By role (direct, primary, canary): made when the role first serves.
    roles: [OnceLock<RoleMetrics>; 3],
}

#[derive(Debug)]
struct RoleMetrics {
    duration: Histogram,
    success: Counter,
}

/// One route's series: a counter per status class (made when first seen) and a histogram.
struct RouteMetrics {
    labels: RouteLabels,
    classes: [OnceLock<Counter>; 5],
    duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::with_recording(true)
    }

    /// Metrics that record nothing: `/metrics` then shows every family empty.
    pub fn disabled() -> Self {
        Self::with_recording(false)
    }

    pub fn enabled(&self) -> bool {
        self.inner.enabled
    }

    fn with_recording(enabled: bool) -> Self {
        let mut registry = Registry::with_prefix("depot");
        macro_rules! register {
            ($name:literal, $help:literal, $metric:expr) => {{
                let metric = $metric;
                registry.register($name, $help, metric.clone());
                metric
            }};
        }
        let inner = Inner {
            http_requests: register!(
                "http_requests",
                "HTTP requests by route template, method and status class",
                Family::default()
            ),
            http_duration: register!(
                "http_request_duration_seconds",
                "HTTP request duration by route template and method",
                histograms()
            ),
            grpc_requests: register!(
                "grpc_requests",
                "Open Inference Protocol gRPC calls by method and status code",
                Family::default()
            ),
            grpc_duration: register!("grpc_request_duration_seconds", "gRPC call duration by method", histograms()),
            inference_requests: register!(
                "inference_requests",
                "Predictions of registered versions by role and outcome (success or the error code)",
                Family::default()
            ),
            inference_duration: register!(
                "inference_duration_seconds",
                "Predictions' time in the server, from resolving the version to the outputs",
                histograms()
            ),
            queue_duration: register!(
                "inference_queue_duration_seconds",
                "Time a request waited for a session or in a batch",
                histograms()
            ),
            compute_duration: register!(
                "inference_compute_duration_seconds",
                "ONNX Runtime session runs (one per request, or per batch)",
                histograms()
            ),
            batch_size: register!(
                "inference_batch_size",
                "Rows per run of batched versions",
                Family::<_, _, fn() -> Histogram>::new_with_constructor(rows as fn() -> Histogram)
            ),
            in_flight: register!("inference_in_flight", "Predictions being served now", Family::default()),
            queued: register!("inference_queued", "Requests waiting for a session now", Family::default()),
            loaded_versions: register!("runtime_loaded_versions", "Versions loaded on this replica", Gauge::default()),
            loaded_bytes: register!("runtime_loaded_bytes", "Artifact bytes of the loaded versions", Gauge::default()),
            loads: register!("runtime_loads", "Version loads by outcome", Family::default()),
            load_duration: register!("runtime_load_duration_seconds", "Version loads (fetch, verify, warm)", latency()),
            evictions: register!("runtime_evictions", "Versions evicted from the cache", Counter::default()),
            digest_failures: register!(
                "runtime_digest_failures",
                "Loads refused because the stored bytes differ from the registered digest",
                Counter::default()
            ),
            uploads: register!("registry_uploads", "Version uploads by outcome", Family::default()),
            upload_bytes: register!("registry_upload_bytes", "Bytes of registered versions", Counter::default()),
            upload_duration: register!("registry_upload_duration_seconds", "Version uploads", latency()),
            changes: register!("registry_changes", "Deployment and alias changes made", Family::default()),
            pending_approvals: register!(
                "registry_pending_approvals",
                "Changes waiting for approval (refreshed every 5 s)",
                Gauge::default()
            ),
            follow_delay: register!(
                "replica_follow_delay_seconds",
                "From a change's commit (through another replica or this one) to this replica serving it",
                latency()
            ),
            reconnects: register!(
                "replica_notification_reconnects",
                "Times the notification stream was (re)connected after it broke",
                Counter::default()
            ),
            following: register!(
                "replica_following",
                "1 while this replica follows the database's changes; 0 while it cannot reach it and serves what it last knew",
                Gauge::default()
            ),
            stale: register!(
                "serving_stale_answers",
                "Versions, aliases or deployments answered from an expired cache entry because the database could not be read",
                Counter::default()
            ),
            pool: register!("db_pool_connections", "Database connections of this replica by state", Family::default()),
            pool_max: register!("db_pool_max_connections", "The pool's limit", Gauge::default()),
            versions: RwLock::new(HashMap::new()),
            routes: RwLock::new(HashMap::new()),
            enabled,
            registry,
        };
        Self { inner: Arc::new(inner) }
    }

    /// One HTTP request, by its route: `name` is the route's name (cheap, the key of its
    /// series), `template` gives its template (asked once per route, for the label); neither
    /// when it matched no route.
    pub fn http(
        &self,
        name: Option<&str>,
        template: impl FnOnce() -> Option<String>,
        method: &str,
        status: u16,
        took: Duration,
    ) {
        if !self.inner.enabled {
            return;
        }
        const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        let class = usize::from((status / 100).clamp(1, 5) - 1);
        let route = match name {
            Some(name) => self.route(name, method, template),
            None => {
                let template = template();
                let key = template.as_deref().unwrap_or("(unmatched)");
                self.route(key, method, || template.clone())
            }
        };
        let counter = route.classes[class].get_or_init(|| {
            let RouteLabels { route: r, method: m } = route.labels.clone();
            let labels = HttpLabels { route: r, method: m, status_class: CLASSES[class] };
            self.inner.http_requests.get_or_create(&labels).clone()
        });
        counter.inc();
        route.duration.observe(took.as_secs_f64());
    }

    /// One gRPC call: its method (`ModelInfer`) and status code (`OK`, `NOT_FOUND`).
    pub fn grpc(&self, method: &'static str, code: &'static str, took: Duration) {
        if !self.inner.enabled {
            return;
        }
        self.inner.grpc_requests.get_or_create(&GrpcLabels { method, code }).inc();
        self.inner.grpc_duration.get_or_create(&GrpcMethodLabels { method }).observe(took.as_secs_f64());
    }

    fn route(&self, key: &str, method: &str, template: impl FnOnce() -> Option<String>) -> Arc<RouteMetrics> {
        let found = {
            let routes = self.inner.routes.read().unwrap_or_else(|e| e.into_inner());
            routes.get(key).and_then(|m| m.get(method)).cloned()
        };
        if let Some(found) = found {
            return found;
        }
        let route = template().unwrap_or_else(|| "(unmatched)".to_owned());
        let labels = RouteLabels { route, method: method.to_owned() };
        let made = Arc::new(RouteMetrics {
            duration: self.inner.http_duration.get_or_create(&labels).clone(),
            classes: Default::default(),
            labels,
        });
        let mut routes = self.inner.routes.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(routes.entry(key.to_owned()).or_default().entry(method.to_owned()).or_insert(made))
    }

    fn version(&self, model: &ModelName, version: VersionNumber) -> Arc<VersionMetrics> {
        let found = {
            let versions = self.inner.versions.read().unwrap_or_else(|e| e.into_inner());
            versions.get(model).and_then(|v| v.get(&version.get())).cloned()
        };
        if let Some(found) = found {
            return found;
        }
        let labels = labels(model, version);
        let made = Arc::new(VersionMetrics {
            in_flight: self.inner.in_flight.get_or_create(&labels).clone(),
            queue: self.inner.queue_duration.get_or_create(&labels).clone(),
            compute: self.inner.compute_duration.get_or_create(&labels).clone(),
            batch: self.inner.batch_size.get_or_create(&labels).clone(),
            stats: Arc::default(),
            roles: Default::default(),
            labels,
        });
        let mut versions = self.inner.versions.write().unwrap_or_else(|e| e.into_inner());
        Arc::clone(versions.entry(model.clone()).or_default().entry(version.get()).or_insert(made))
    }

    /// A prediction of a registered version begins; the guard ends it (in-flight gauge).
    pub fn begin(&self, model: &ModelName, version: VersionNumber) -> InFlight {
        if !self.inner.enabled {
            return InFlight { version: None };
        }
        let version = self.version(model, version);
        version.in_flight.inc();
        InFlight { version: Some(version) }
    }

    /// A prediction of a registered version ended: `outcome` is `success` or the error code.
    pub fn inference(&self, in_flight: &InFlight, role: Role, outcome: Result<(), &'static str>, took: Duration) {
        let Some(metrics) = &in_flight.version else { return };
        let index = role as usize;
        let role = role.as_str();
        let by_role = metrics.roles[index].get_or_init(|| {
            let VersionLabels { model, version } = metrics.labels.clone();
            let success = OutcomeLabels { model: model.clone(), version: version.clone(), role, outcome: "success" };
            RoleMetrics {
                duration: self.inner.inference_duration.get_or_create(&RoleLabels { model, version, role }).clone(),
                success: self.inner.inference_requests.get_or_create(&success).clone(),
            }
        });
        by_role.duration.observe(took.as_secs_f64());
        match outcome {
            Ok(()) => {
                by_role.success.inc();
            }
            Err(code) => {
                let VersionLabels { model, version } = metrics.labels.clone();
                self.inner
                    .inference_requests
                    .get_or_create(&OutcomeLabels { model, version, role, outcome: code })
                    .inc();
            }
        }
        let stats = &metrics.stats;
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        if outcome.is_ok() {
            stats.success_count.fetch_add(1, Ordering::Relaxed);
            stats.success_ns.fetch_add(ns, Ordering::Relaxed);
        } else {
            stats.fail_count.fetch_add(1, Ordering::Relaxed);
            stats.fail_ns.fetch_add(ns, Ordering::Relaxed);
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        stats.last_inference_ms.store(now, Ordering::Relaxed);
    }

    /// The Triton statistics of the versions of `model` (all models when `None`) that served a
    /// request on this replica, by name and version.
    pub fn version_stats(&self, model: Option<&ModelName>) -> Vec<(ModelName, u32, Arc<VersionStats>)> {
        let all = self.inner.versions.read().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<_> = all
            .iter()
            .filter(|(name, _)| model.is_none_or(|m| m == *name))
            .flat_map(|(name, versions)| versions.iter().map(|(v, m)| (name.clone(), *v, Arc::clone(&m.stats))))
            .collect();
        out.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        out
    }

    /// A version upload ended.
    pub fn upload(&self, ok: bool, bytes: u64, took: Duration) {
        self.inner.uploads.get_or_create(&Outcome { outcome: if ok { "success" } else { "failure" } }).inc();
        if ok {
            self.inner.upload_bytes.inc_by(bytes);
        }
        self.inner.upload_duration.observe(took.as_secs_f64());
    }

    /// A deployment or alias change was made (`deploy`, `rollback`, `set_alias`, ...).
    pub fn change(&self, action: &'static str) {
        self.inner.changes.get_or_create(&Action { action }).inc();
    }

    pub fn set_pending_approvals(&self, count: i64) {
        self.inner.pending_approvals.set(count);
    }

    /// This replica serves a change committed `delay` ago.
    pub fn followed(&self, delay: Duration) {
        self.inner.follow_delay.observe(delay.as_secs_f64());
    }

    pub fn reconnected(&self) {
        self.inner.reconnects.inc();
    }

    /// A resolution answered from an expired cache entry: the database could not be read.
    pub fn stale_answer(&self) {
        self.inner.stale.inc();
    }

    /// The state sampled at scrape time: what is loaded, what waits, the database pool.
    pub fn sample(&self, sample: &Sample) {
        self.inner.loaded_versions.set(i64::try_from(sample.loaded.len()).unwrap_or(i64::MAX));
        self.inner.loaded_bytes.set(i64::try_from(sample.loaded_bytes).unwrap_or(i64::MAX));
        for (key, waiting) in &sample.loaded {
            let gauge = self.inner.queued.get_or_create(&labels(&key.model, key.version));
            gauge.set(i64::try_from(*waiting).unwrap_or(i64::MAX));
        }
        self.inner.pool.get_or_create(&PoolState { state: "in_use" }).set(i64::from(sample.pool_in_use));
        self.inner.pool.get_or_create(&PoolState { state: "idle" }).set(i64::from(sample.pool_idle));
        self.inner.pool_max.set(i64::from(sample.pool_max));
        self.inner.following.set(i64::from(sample.following));
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(64 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    /// The content type of [`Metrics::encode`]'s text.
    pub const CONTENT_TYPE: &'static str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
}

/// What [`Metrics::sample`] reads.
#[derive(Debug, Default)]
pub struct Sample {
    /// Each loaded version and how many requests wait for it.
    pub loaded: Vec<(VersionKey, usize)>,
    pub loaded_bytes: u64,
    pub pool_in_use: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    /// Whether the replica follows the database's changes now.
    pub following: bool,
}

fn labels(model: &ModelName, version: VersionNumber) -> VersionLabels {
    VersionLabels { model: model.as_str().to_owned(), version: version.to_string() }
}

/// A prediction in flight; dropping it ends it.
#[derive(Debug)]
pub struct InFlight {
    version: Option<Arc<VersionMetrics>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(version) = &self.version {
            version.in_flight.dec();
        }
    }
}

/// The runtime's events, as metrics.
impl Observer for Metrics {
    fn version(&self, key: &VersionKey) -> Arc<dyn VersionObserver> {
        if !self.inner.enabled {
            return Arc::new(depot_runtime::NoObserver);
        }
        self.version(&key.model, key.version)
    }

    fn loaded(&self, _key: &VersionKey, took: Duration, result: Result<u64, &RuntimeError>) {
        let outcome = if result.is_ok() { "success" } else { "failure" };
        self.inner.loads.get_or_create(&Outcome { outcome }).inc();
        self.inner.load_duration.observe(took.as_secs_f64());
        if matches!(result, Err(RuntimeError::DigestMismatch { .. })) {
            self.inner.digest_failures.inc();
        }
    }

    fn evicted(&self, _key: &VersionKey) {
        self.inner.evictions.inc();
    }
}

/// One loaded version's requests, as metrics and Triton statistics.
impl VersionObserver for VersionMetrics {
    fn queued(&self, waited: Duration) {
        self.queue.observe(waited.as_secs_f64());
        self.stats.queue_count.fetch_add(1, Ordering::Relaxed);
        self.stats.queue_ns.fetch_add(u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn ran(&self, requests: u64, took: Duration, _ok: bool) {
        self.compute.observe(took.as_secs_f64());
        self.stats.execution_count.fetch_add(1, Ordering::Relaxed);
        self.stats.inference_count.fetch_add(requests, Ordering::Relaxed);
        self.stats.compute_count.fetch_add(requests, Ordering::Relaxed);
        self.stats.compute_ns.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn batched(&self, rows: usize) {
        self.batch.observe(rows as f64);
    }
}
