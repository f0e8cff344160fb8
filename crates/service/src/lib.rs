//! Depot's use cases, beneath every transport: the registry ([`Registry`]: models, versions and
//! their artifacts, deployments, canaries, rollback, aliases, the audit log) and serving
//! ([`Serving`]: resolve a reference, validate the inputs once, load, infer, and say which
//! version served).
//!
//! A transport (the HTTP API today; gRPC or the command line tomorrow) parses its request,
//! calls one use case and renders the answer. Every failure is an [`Error`] whose
//! [`ErrorCode`] says what went wrong and whose fault it is; transports map codes to their own
//! statuses.
//!
//! This crate knows no HTTP (no actix, no utoipa). It wires the catalog, the artifact store,
//! the serialization formats and the runtime together and owns the caches that serving keeps.

mod auth;
mod error;
pub mod metrics;
mod registry;
mod replica;
mod serving;
mod sweep;
mod trace;
mod traffic;

use std::sync::Arc;
use std::time::Duration;

pub use auth::{Actor, Auth, AuthConfig, AuthMode, CreatedToken, Credentials, TokenRequest};
pub use depot_catalog::{
    Alias, AuditEntry, Catalog, Change, ChangeKind, DatabaseConfig, Deployment, Model, ModelFilter, ModelPatch,
    NewModel, Page, PageRequest, PendingChange, PendingFilter, Protection, SortOrder, TokenRecord, Version,
};
pub use depot_runtime::{Runtime, RuntimeConfig};
pub use depot_serialization::InspectLimits;
pub use depot_storage::{ArtifactStore, BlobStream, StorageConfig};
pub use error::{Error, ErrorCode, Fault, error_chain};
pub use metrics::{Metrics, VersionStats};
pub use registry::{
    Artifact, Outcome, Registry, RegistryLimits, UploadDetails, VersionUpdate, VersionUpload, page_request,
};
pub use replica::{Readiness, ReplicaState};
pub use serving::{Prediction, Reference, ServableVersion, Serving};
pub use sweep::{SweepOptions, SweepReport, sweep};
pub use trace::{TraceContext, request_id};
pub use traffic::{Series, Traffic, TrafficSource};

/// Everything the use cases need, as configured.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub limits: RegistryLimits,
    /// How long a replica reuses what it read of a version, an alias or a deployment.
    pub resolve_ttl: Duration,
    pub auth: AuthConfig,
    /// How often a replica sweeps the store (one at a time); `None`: never.
    pub sweep_every: Option<Duration>,
    /// Staging objects idle this long are abandoned uploads.
    pub staging_max_age: Duration,
    /// The Prometheus that scrapes the replicas, for the console's traffic charts.
    pub prometheus_url: Option<String>,
}

/// The use cases over one catalog, store and runtime. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Services {
    pub registry: Registry,
    pub serving: Serving,
    pub auth: Auth,
    pub metrics: Metrics,
    /// Whether this replica follows the database, has warmed up, is draining.
    pub replica: Arc<ReplicaState>,
    /// Traffic over the last hour, from Prometheus.
    pub traffic: TrafficSource,
    catalog: Catalog,
    store: ArtifactStore,
    sweep_every: Option<Duration>,
    staging_max_age: Duration,
}

/// Whether a dependency answered.
#[derive(Debug)]
pub struct Check {
    pub name: &'static str,
    pub result: Result<(), Error>,
}

impl Services {
    /// The use cases; `metrics` should be the observer `runtime` was made with.
    pub fn new(
        catalog: Catalog,
        store: ArtifactStore,
        runtime: Runtime,
        config: ServiceConfig,
        metrics: Metrics,
    ) -> Self {
        let replica = Arc::new(ReplicaState::default());
        let serving = Serving::new(
            catalog.clone(),
            store.clone(),
            runtime,
            config.resolve_ttl,
            metrics.clone(),
            Arc::clone(&replica),
        );
        let auth = Auth::new(catalog.clone(), config.auth, Arc::clone(&replica));
        let registry = Registry::new(
            catalog.clone(),
            store.clone(),
            config.limits,
            serving.clone(),
            auth.approval_ttl(),
            metrics.clone(),
        );
        let (sweep_every, staging_max_age) = (config.sweep_every, config.staging_max_age);
        let traffic = TrafficSource::new(catalog.clone(), config.prometheus_url.as_deref());
        Self { registry, serving, auth, metrics, replica, traffic, catalog, store, sweep_every, staging_max_age }
    }

    /// The metrics in the OpenMetrics text format, with what is sampled at scrape time (loaded
    /// versions, queues, the database pool) read now. They name every model that served, so
    /// they need the reader role on every model.
    pub fn metrics_text(&self, actor: &Actor) -> Result<String, Error> {
        if !actor.grants().allows_everywhere(depot_domain::Permission::Read) {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "the metrics name every model: they need the reader role (or more) on '*'; or scrape \
                 the separate metrics port (metrics.listen), which needs no token",
            ));
        }
        Ok(self.metrics_text_unchecked())
    }

    /// [`Services::metrics_text`] for the separate metrics listener, which needs no token.
    pub fn metrics_text_unchecked(&self) -> String {
        let mut sample = metrics::Sample::default();
        self.serving.sample(&mut sample);
        (sample.pool_in_use, sample.pool_idle, sample.pool_max) = self.catalog.pool_state();
        self.metrics.sample(&sample);
        self.metrics.encode()
    }

    /// The background work of a replica, until aborted: loading what is deployed (then the
    /// replica is ready), following changes made through other replicas, and expiring pending
    /// changes (every replica sweeps; each row expires once).
    pub async fn run_background(self) {
        let follower = self.serving.clone().follow_changes(self.auth.clone());
        let warm_up = self.serving.warm_up();
        let sweeper = async {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            loop {
                every.tick().await;
                match self.registry.expire_pending().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(approval.expired = n, "pending changes expired"),
                    Err(error) => tracing::debug!(error = %error.chain(), "could not expire pending changes"),
                }
            }
        };
        let storage_sweeper = async {
            let Some(every) = self.sweep_every else { return };
            let options = SweepOptions { dry_run: false, staging_older_than: self.staging_max_age };
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                match self.sweep(options).await {
                    Ok(Some(report)) if report.orphan_blobs.is_empty() && report.stale_staging.is_empty() => {}
                    Ok(Some(report)) => tracing::info!(
                        gc.orphan_blobs = report.orphan_blobs.len(),
                        gc.stale_staging = report.stale_staging.len(),
                        gc.bytes = report.bytes(),
                        "storage swept"
                    ),
                    Ok(None) => tracing::debug!("another replica is sweeping storage"),
                    Err(error) => tracing::warn!(error = %error.chain(), "sweeping storage failed"),
                }
            }
        };
        tokio::join!(follower, warm_up, sweeper, storage_sweeper);
    }

    /// Removes what no version references from the artifact store, and abandoned uploads (see
    /// [`sweep`](crate::sweep)); `None` when another replica or `depot gc` is sweeping. Not a
    /// use case of the API: the server runs it on a timer and operators through `depot gc`,
    /// both with the database's own credentials.
    pub async fn sweep(&self, options: SweepOptions) -> Result<Option<SweepReport>, Error> {
        sweep::sweep(&self.catalog, &self.store, options).await
    }

    /// Whether this replica should get prediction traffic: it has loaded what is deployed and
    /// is not draining. Whether the database answers is not part of it (see
    /// [`Services::dependencies`]): without it, the replica serves what it last knew.
    pub fn readiness(&self) -> Readiness {
        self.replica.readiness()
    }

    /// Asks the database and the artifact store, at the same time.
    pub async fn dependencies(&self) -> Vec<Check> {
        let (database, storage) = tokio::join!(self.catalog.ping(), self.store.check());
        vec![
            Check { name: "database", result: database.map_err(Error::from) },
            Check { name: "storage", result: storage.map_err(Error::from) },
        ]
    }
}

/// Creates the database if missing and applies pending migrations, once.
pub async fn migrate(config: &DatabaseConfig) -> Result<(), Error> {
    let config = DatabaseConfig { create_if_missing: true, migrate_on_start: false, ..config.clone() };
    let catalog = Catalog::connect(&config).await?;
    let result = catalog.migrate().await;
    catalog.close().await;
    Ok(result?)
}
