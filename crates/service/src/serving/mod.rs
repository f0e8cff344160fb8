//! Serving: from a reference to a version (a number, an alias or "what is deployed") to the
//! outputs of a run, and the version that produced them.
//!
//! One path for every transport: [`Serving::predict`] resolves the reference (cached,
//! [`resolver`]), refuses what cannot be served, hands the signature to the transport's decoder
//! (which returns [`ValidatedInputs`], the proof that the inputs fit), loads the version
//! (verified against its digest, warmed) and runs it. Deployment changes made elsewhere are
//! followed through PostgreSQL notifications ([`follower`]).

mod canary;
mod follower;
mod resolver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use depot_catalog::Catalog;
use depot_domain::{ModelName, NamedTensor, Permission, Signature, ValidatedInputs, VersionNumber, VersionRef};
use depot_runtime::{BatchConfig, LoadedModel, Runtime, VersionKey};
use depot_serialization::tensors::EncodingError;
use depot_storage::ArtifactStore;
use tracing::Instrument;

pub use resolver::{Resolved, Resolver, Target};

pub(crate) use resolver::target_of;

use crate::auth::{Actor, Auth};
use crate::error::{Error, ErrorCode};
use crate::metrics::{Metrics, Role, Sample, VersionStats};
use crate::replica::ReplicaState;

/// What a prediction names: a version (by number or alias), or the model's deployment (and its
/// canary, for the canary's share of requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Version(VersionRef),
    Deployed,
}

/// The outputs of one run and the version that produced them, with what the transport's
/// decoder kept of its request (OIP: the requested outputs and their encoding).
#[derive(Debug)]
pub struct Prediction<R> {
    pub model: ModelName,
    pub version: VersionNumber,
    pub outputs: Vec<NamedTensor>,
    pub request: R,
}

/// A servable version: its name, number and signature.
#[derive(Debug, Clone)]
pub struct ServableVersion {
    pub model: ModelName,
    pub version: VersionNumber,
    pub signature: Signature,
}

/// The serving use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Serving {
    catalog: Catalog,
    store: ArtifactStore,
    runtime: Runtime,
    resolver: Arc<Resolver>,
    metrics: Metrics,
    replica: Arc<ReplicaState>,
}

impl Serving {
    pub fn new(
        catalog: Catalog,
        store: ArtifactStore,
        runtime: Runtime,
        resolve_ttl: Duration,
        metrics: Metrics,
        replica: Arc<ReplicaState>,
    ) -> Self {
        let resolver = Arc::new(Resolver::new(resolve_ttl, Arc::clone(&replica), metrics.clone()));
        Self { catalog, store, runtime, resolver, metrics, replica }
    }

    /// Loads what is deployed (the most recently changed first, as many as the runtime's
    /// cache keeps) and then lets the replica turn ready, so that the first requests it gets
    /// find their versions loaded. A version that cannot be loaded is logged and skipped: it
    /// would fail the same way later, and must not keep the replica out of service; nor does a
    /// database that cannot be read.
    pub async fn warm_up(&self) {
        let started = Instant::now();
        let limit = u32::try_from(self.runtime.capacity()).unwrap_or(u32::MAX);
        let mut loaded = 0;
        match self.catalog.list_deployments(limit).await {
            Ok(deployments) => {
                for (model, deployment) in deployments {
                    let canary = deployment.canary.map(|c| c.version);
                    for version in std::iter::once(deployment.version).chain(canary) {
                        match self.preload(&model, version).await {
                            Ok(()) => loaded += 1,
                            Err(error) => tracing::warn!(
                                model.name = %model, model.version = %version, error = %error.chain(),
                                "a deployed version could not be loaded at start"
                            ),
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(error = %error, "the deployments could not be read at start"),
        }
        tracing::info!(versions = loaded, took_ms = started.elapsed().as_millis() as u64, "deployed versions loaded");
        self.replica.set_warmed();
    }

    /// What the metrics sample at scrape time: the loaded versions and their queues.
    pub fn sample(&self, sample: &mut Sample) {
        sample.loaded = self.runtime.loaded_waiting();
        sample.loaded_bytes = self.runtime.loaded_bytes();
        sample.following = self.replica.following();
    }

    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Runs one prediction. `decode` turns the request body into inputs validated against the
    /// version's signature; it runs once the version is known to be servable, and what it keeps
    /// besides the inputs comes back in [`Prediction::request`].
    pub async fn predict<R>(
        &self,
        actor: &Actor,
        model: &ModelName,
        reference: &Reference,
        decode: impl FnOnce(&Signature) -> Result<(ValidatedInputs, R), EncodingError>,
    ) -> Result<Prediction<R>, Error> {
        actor.require(Permission::Predict, model)?;
        let started = Instant::now();
        // The spans under target `depot::span` exist only for trace export (off by default).
        let (resolved, role) =
            self.resolve(model, reference).instrument(tracing::info_span!(target: "depot::span", "resolve")).await?;
        // From here on the version is a registered one: its name and number may be labels.
        let in_flight = self.metrics.begin(&resolved.model, resolved.version);
        let result = async {
            let signature = resolved.servable_signature()?;
            let (inputs, request) =
                tracing::info_span!(target: "depot::span", "decode").in_scope(|| decode(signature))?;
            let loaded = self.load(&resolved, signature).await?;
            let outputs = loaded.infer(inputs).await?;
            Ok::<_, Error>((outputs, request))
        }
        .await;
        let outcome = result.as_ref().map(drop).map_err(|e| e.code.as_str());
        self.metrics.inference(&in_flight, role, outcome, started.elapsed());
        let (outputs, request) = result?;
        Ok(Prediction { model: resolved.model.clone(), version: resolved.version, outputs, request })
    }

    /// The signature of the version a reference names, without loading it.
    pub async fn describe(
        &self,
        actor: &Actor,
        model: &ModelName,
        reference: &Reference,
    ) -> Result<ServableVersion, Error> {
        actor.require(Permission::Predict, model)?;
        let (resolved, _) = self.resolve(model, reference).await?;
        let signature = resolved.servable_signature()?.clone();
        Ok(ServableVersion { model: resolved.model.clone(), version: resolved.version, signature })
    }

    /// Loads (and warms) the version a reference names, when it is not loaded yet.
    pub async fn ready(
        &self,
        actor: &Actor,
        model: &ModelName,
        reference: &Reference,
    ) -> Result<ServableVersion, Error> {
        actor.require(Permission::Predict, model)?;
        let (resolved, _) = self.resolve(model, reference).await?;
        let signature = resolved.servable_signature()?;
        self.load(&resolved, signature).await?;
        Ok(ServableVersion { model: resolved.model.clone(), version: resolved.version, signature: signature.clone() })
    }

    /// Loads (and warms) a version so that switching traffic to it fails no request.
    pub async fn preload(&self, model: &ModelName, version: VersionNumber) -> Result<(), Error> {
        let resolved = self.resolver.resolve(&self.catalog, model, version).await?;
        self.load(&resolved, resolved.servable_signature()?).await.map(drop)
    }

    /// Keeps this replica in step with the others (deployments, aliases, revoked tokens) until
    /// the task is aborted.
    pub async fn follow_changes(self, auth: Auth) {
        follower::follow_changes(self, auth).await;
    }

    /// The Triton statistics of the versions that served on this replica: of one version, of
    /// one model's versions, or of every model the actor may predict with.
    pub async fn statistics(
        &self,
        actor: &Actor,
        model: Option<&ModelName>,
        version: Option<&VersionRef>,
    ) -> Result<Vec<(ModelName, u32, Arc<VersionStats>)>, Error> {
        let Some(model) = model else {
            let all = self.metrics.version_stats(None);
            return Ok(all.into_iter().filter(|(name, _, _)| actor.may(Permission::Predict, name.as_str())).collect());
        };
        actor.require(Permission::Predict, model)?;
        let stats = self.metrics.version_stats(Some(model));
        match version {
            Some(reference) => {
                // A version that exists but has not served yet has zero counts.
                let resolved = self.resolver.resolve_ref(&self.catalog, model, reference).await?;
                let number = resolved.version.get();
                let found = stats.into_iter().find(|(_, v, _)| *v == number);
                Ok(vec![found.unwrap_or_else(|| (model.clone(), number, Arc::default()))])
            }
            None => {
                if stats.is_empty() {
                    self.catalog.get_model(model).await?;
                }
                Ok(stats)
            }
        }
    }

    /// The version a reference names, and whether it was named or is the deployment's primary
    /// or canary.
    async fn resolve(&self, model: &ModelName, reference: &Reference) -> Result<(Arc<Resolved>, Role), Error> {
        match reference {
            Reference::Version(reference) => {
                Ok((self.resolver.resolve_ref(&self.catalog, model, reference).await?, Role::Direct))
            }
            Reference::Deployed => {
                let target = self.resolver.deployment(&self.catalog, model).await?.ok_or_else(|| {
                    Error::new(
                        ErrorCode::DeploymentNotFound,
                        format!(
                            "model '{model}' is not deployed: deploy a version with PUT /v1/models/{model}/deployment"
                        ),
                    )
                })?;
                let version = canary::pick(self, model, target);
                let role = if version == target.version { Role::Primary } else { Role::Canary };
                Ok((self.resolver.resolve(&self.catalog, model, version).await?, role))
            }
        }
    }

    /// The loaded model of a resolved, servable version, loading it (verified against its
    /// digest, warmed) on first use. A version whose batching policy changed is reloaded with
    /// the new policy.
    async fn load(&self, resolved: &Resolved, signature: &Signature) -> Result<Arc<LoadedModel>, Error> {
        let key = VersionKey::new(resolved.model.clone(), resolved.version, resolved.digest);
        let batching = resolved.batching.map(|p| {
            BatchConfig::new(p.max_batch_size as usize, Duration::from_millis(u64::from(p.max_queue_delay_ms)))
        });
        if let Some(model) = self.runtime.get(&key) {
            if model.batching() == batching {
                return Ok(model);
            }
            self.runtime.unload(&key);
        }
        let store = self.store.clone();
        let digest = resolved.digest;
        let model = self.runtime.get_or_load(key, signature, batching, async move { store.read(digest).await }).await?;
        Ok(model)
    }

    fn is_loaded(&self, model: &ModelName, version: VersionNumber) -> bool {
        self.resolver
            .cached_version(model, version)
            .is_some_and(|r| self.runtime.is_loaded(&VersionKey::new(model.clone(), version, r.digest)))
    }
}
