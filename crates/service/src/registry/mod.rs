//! The registry's use cases: models, versions and their artifacts, deployments, aliases and
//! the audit log. Each one is one call, owns its transaction (in the catalog) and its audit
//! record, and leaves nothing half-written when it fails.

mod approvals;
mod deployments;
mod upload;

use depot_catalog::{
    AuditEntry, Catalog, Model, ModelFilter, ModelPatch, NewModel, Page, PageRequest, SortOrder, Version, VersionPatch,
};
use depot_domain::{ArtifactFormat, BatchPolicy, ModelName, Permission, Tags, VersionMetadata, VersionNumber};
use depot_serialization::InspectLimits;
use depot_storage::{ArtifactStore, BlobStream};

pub use approvals::Outcome;
pub use upload::{UploadDetails, VersionUpload};

use crate::auth::Actor;
use crate::error::{Error, ErrorCode};
use crate::metrics::Metrics;
use crate::serving::Serving;

/// Bounds on what an upload may be.
#[derive(Debug, Clone)]
pub struct RegistryLimits {
    /// Largest artifact accepted, in bytes.
    pub max_artifact_bytes: u64,
    /// Bounds on reading an artifact's signature.
    pub inspect: InspectLimits,
}

/// The registry's use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    catalog: Catalog,
    store: ArtifactStore,
    limits: RegistryLimits,
    serving: Serving,
    approval_ttl: std::time::Duration,
    metrics: Metrics,
}

/// A page request from a client's `limit` and `cursor`, checked.
pub fn page_request(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, Error> {
    if let Some(limit) = limit
        && !(1..=PageRequest::MAX_LIMIT).contains(&limit)
    {
        return Err(Error::invalid(format!("limit must be between 1 and {}, not {limit}", PageRequest::MAX_LIMIT)));
    }
    Ok(PageRequest { limit: limit.unwrap_or(PageRequest::DEFAULT_LIMIT), cursor })
}

/// A change to a version's description, tags, metadata or batching; `None` leaves it as it is.
#[derive(Debug, Default)]
pub struct VersionUpdate {
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<VersionMetadata>,
    /// `Some(None)` turns batching off.
    pub batching: Option<Option<BatchPolicy>>,
}

/// A version's artifact to download.
pub struct Artifact {
    pub version: Version,
    /// Its size and bytes; `None` when the caller already has them ([`Registry::artifact`]).
    pub content: Option<(u64, BlobStream)>,
}

impl std::fmt::Debug for Artifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifact").field("version", &self.version).finish_non_exhaustive()
    }
}

impl Artifact {
    /// A file name for the download, such as `fraud-3.onnx`.
    pub fn file_name(&self) -> String {
        let extension = match self.version.format {
            ArtifactFormat::Onnx => "onnx",
            ArtifactFormat::Pickle => "pkl",
            ArtifactFormat::Joblib => "joblib",
            ArtifactFormat::SavedModel => "savedmodel",
        };
        format!("{}-{}.{extension}", self.version.model, self.version.version)
    }
}

impl Registry {
    pub fn new(
        catalog: Catalog,
        store: ArtifactStore,
        limits: RegistryLimits,
        serving: Serving,
        approval_ttl: std::time::Duration,
        metrics: Metrics,
    ) -> Self {
        Self { catalog, store, limits, serving, approval_ttl, metrics }
    }

    pub fn limits(&self) -> &RegistryLimits {
        &self.limits
    }

    /// Needs the pusher role on the new name.
    pub async fn create_model(&self, actor: &Actor, new: &NewModel) -> Result<Model, Error> {
        actor.require(Permission::Push, &new.name)?;
        depot_domain::check_text("description", &new.description)?;
        Ok(self.catalog.create_model(new, &actor.change()).await?)
    }

    /// The models the actor may read.
    pub async fn list_models(
        &self,
        actor: &Actor,
        filter: &ModelFilter,
        page: &PageRequest,
    ) -> Result<Page<Model>, Error> {
        let filter = ModelFilter { visible: actor.visible(Permission::Read), ..filter.clone() };
        Ok(self.catalog.list_models(&filter, page).await?)
    }

    pub async fn get_model(&self, actor: &Actor, name: &ModelName) -> Result<Model, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.get_model(name).await?)
    }

    pub async fn update_model(&self, actor: &Actor, name: &ModelName, patch: &ModelPatch) -> Result<Model, Error> {
        actor.require(Permission::Push, name)?;
        depot_domain::check_text("description", patch.description.as_deref().unwrap_or(""))?;
        Ok(self.catalog.update_model(name, patch, &actor.change()).await?)
    }

    /// Deletes a model. One with versions is kept ([`ErrorCode::ModelNotEmpty`]) unless
    /// `cascade`, which first ends its deployment and aliases, then deletes every version and
    /// every artifact that no other version references. A version deleted meanwhile by another
    /// request is just as good. Needs the admin role.
    pub async fn delete_model(&self, actor: &Actor, name: &ModelName, cascade: bool) -> Result<(), Error> {
        actor.require(Permission::Admin, name)?;
        let change = &actor.change();
        if cascade {
            self.catalog.clear_serving(name, change).await?;
            loop {
                let batch = self.catalog.list_versions(name, SortOrder::Asc, &page_request(Some(100), None)?).await?;
                if batch.items.is_empty() {
                    break;
                }
                for version in batch.items {
                    match self.delete_version(actor, name, version.version).await {
                        Err(error) if error.code == ErrorCode::VersionNotFound => {}
                        other => other?,
                    }
                }
            }
        }
        self.catalog.delete_model(name, change).await?;
        self.serving.resolver().forget_model(name);
        Ok(())
    }

    pub async fn list_versions(
        &self,
        actor: &Actor,
        name: &ModelName,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Page<Version>, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.list_versions(name, order, page).await?)
    }

    pub async fn get_version(&self, actor: &Actor, name: &ModelName, number: VersionNumber) -> Result<Version, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.get_version(name, number).await?)
    }

    /// Changes what may change of a version; the artifact never does.
    pub async fn update_version(
        &self,
        actor: &Actor,
        name: &ModelName,
        number: VersionNumber,
        update: VersionUpdate,
    ) -> Result<Version, Error> {
        actor.require(Permission::Push, name)?;
        depot_domain::check_text("description", update.description.as_deref().unwrap_or(""))?;
        if let Some(metadata) = &update.metadata {
            metadata.validate()?;
        }
        if let Some(Some(policy)) = &update.batching {
            policy.validate().map_err(|e| Error::new(ErrorCode::InvalidBatching, e.to_string()))?;
        }
        let patch = VersionPatch {
            description: update.description,
            tags: update.tags.as_deref().map(Tags::parse).transpose()?,
            metadata: update.metadata,
            batching: update.batching,
        };
        let version = self.catalog.update_version(name, number, &patch, &actor.change()).await?;
        self.serving.resolver().forget(name, number);
        Ok(version)
    }

    /// Deletes a version and, under its digest's lock, the blob once nothing references it.
    /// A deployed, canaried or aliased version is kept ([`ErrorCode::VersionInUse`]). Needs
    /// the admin role: pushing a version gives no right to delete it.
    pub async fn delete_version(&self, actor: &Actor, name: &ModelName, number: VersionNumber) -> Result<(), Error> {
        actor.require(Permission::Admin, name)?;
        let change = &actor.change();
        let version = self.catalog.get_version(name, number).await?;
        let users = self.catalog.version_users(name, number).await?;
        if !users.is_empty() {
            return Err(depot_catalog::CatalogError::VersionInUse { name: name.clone(), version: number, users }.into());
        }
        let mut lock = self.catalog.lock_digest(version.digest).await?;
        let result = match lock.delete_version(name, number, change).await {
            Ok(deleted) if !deleted.blob_still_referenced => {
                if let Err(error) = self.store.delete(deleted.digest).await {
                    // The version is gone; the bytes stay behind as an orphan blob.
                    tracing::error!(artifact.digest = %deleted.digest, error = %crate::error_chain(&error),
                        "could not delete an unreferenced artifact");
                }
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error) => Err(error.into()),
        };
        lock.release().await;
        self.serving.resolver().forget(name, number);
        result
    }

    /// A version's artifact; its bytes are not opened when `already_have` says the caller has
    /// them (an `If-None-Match` with its digest, say).
    pub async fn artifact(
        &self,
        actor: &Actor,
        name: &ModelName,
        number: VersionNumber,
        already_have: impl FnOnce(&Version) -> bool,
    ) -> Result<Artifact, Error> {
        actor.require(Permission::Read, name)?;
        let version = self.catalog.get_version(name, number).await?;
        if already_have(&version) {
            return Ok(Artifact { version, content: None });
        }
        let content = self.store.open(version.digest).await?;
        Ok(Artifact { version, content: Some(content) })
    }

    /// The audit log, newest first; of one model when `model` is given. An actor sees the
    /// entries of the models it may read; those of no model (tokens) only an admin of every
    /// model sees.
    pub async fn audit_log(
        &self,
        actor: &Actor,
        model: Option<&ModelName>,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, Error> {
        if let Some(model) = model {
            actor.require(Permission::Read, model)?;
        }
        let visible = if actor.grants().allows_everywhere(Permission::Admin) {
            None
        } else {
            Some(actor.grants().patterns_for(Permission::Read).into_iter().map(|p| p.to_like()).collect::<Vec<_>>())
        };
        Ok(self.catalog.audit_log_visible(model.map(|m| m.as_str()), visible.as_deref(), page).await?)
    }
}
