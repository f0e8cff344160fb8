//! Deployments (what the version-less routes serve), canaries, rollback, aliases and their
//! history. Every switch loads and warms the new version on this replica first: if it cannot be
//! loaded the switch fails and traffic stays where it was. Other replicas follow through the
//! notification the catalog's transaction sends.

use depot_catalog::{Alias, AuditEntry, Canary, Change, Deployment, Page, PageRequest};
use depot_domain::{AliasName, ModelName, VersionNumber};

use super::Registry;
use crate::error::{Error, ErrorCode};
use crate::serving::target_of;

impl Registry {
    /// What the model's version-less routes serve.
    pub async fn deployment(&self, name: &ModelName) -> Result<Deployment, Error> {
        self.catalog
            .get_deployment(name)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed")))
    }

    /// Deploys any registered, servable version (ending any canary).
    pub async fn deploy(&self, name: &ModelName, version: VersionNumber, change: &Change) -> Result<Deployment, Error> {
        self.serving.preload(name, version).await?;
        let deployment = self.catalog.deploy(name, version, change).await?;
        tracing::info!(model.name = %name, model.version = %version, actor = %change.actor, "deployed");
        Ok(self.switched(deployment))
    }

    /// Rolls back to `version`, or by default to the version deployed before the current one.
    pub async fn rollback(
        &self,
        name: &ModelName,
        version: Option<VersionNumber>,
        change: &Change,
    ) -> Result<Deployment, Error> {
        let target = match version {
            Some(version) => {
                self.deployment(name).await?;
                version
            }
            None => self.catalog.rollback_target(name).await?,
        };
        self.serving.preload(name, target).await?;
        let deployment = self.catalog.rollback(name, target, change).await?;
        tracing::info!(model.name = %name, model.version = %target, actor = %change.actor, "rolled back");
        Ok(self.switched(deployment))
    }

    /// Stops serving the version-less routes; the versions stay registered.
    pub async fn undeploy(&self, name: &ModelName, change: &Change) -> Result<(), Error> {
        self.catalog.undeploy(name, change).await?;
        self.serving.resolver().set_deployment(name, None);
        Ok(())
    }

    /// Starts or changes a canary: `version` gets `percent` (1-99) of the version-less requests.
    pub async fn set_canary(
        &self,
        name: &ModelName,
        version: VersionNumber,
        percent: u8,
        change: &Change,
    ) -> Result<Deployment, Error> {
        if !(1..=99).contains(&percent) {
            return Err(Error::new(ErrorCode::InvalidCanary, format!("percent must be 1 to 99, not {percent}")));
        }
        let current = self.catalog.get_deployment(name).await?.ok_or_else(|| {
            Error::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed: deploy a version first"))
        })?;
        if current.version == version {
            return Err(Error::new(ErrorCode::InvalidCanary, format!("version {version} is already the deployed one")));
        }
        self.serving.preload(name, version).await?;
        let deployment = self.catalog.set_canary(name, Canary { version, percent }, change).await?;
        Ok(self.switched(deployment))
    }

    /// The canary becomes the deployed version and takes all traffic.
    pub async fn promote_canary(&self, name: &ModelName, change: &Change) -> Result<Deployment, Error> {
        if let Some(canary) = self.catalog.get_deployment(name).await?.and_then(|d| d.canary) {
            self.serving.preload(name, canary.version).await?;
        }
        let deployment = self.catalog.promote_canary(name, change).await?;
        Ok(self.switched(deployment))
    }

    /// All traffic goes back to the deployed version.
    pub async fn abort_canary(&self, name: &ModelName, change: &Change) -> Result<Deployment, Error> {
        let deployment = self.catalog.abort_canary(name, change).await?;
        Ok(self.switched(deployment))
    }

    /// Every deployment and alias change of a model, newest first.
    pub async fn serving_history(&self, name: &ModelName, page: &PageRequest) -> Result<Page<AuditEntry>, Error> {
        Ok(self.catalog.serving_history(name, page).await?)
    }

    pub async fn aliases(&self, name: &ModelName) -> Result<Vec<Alias>, Error> {
        Ok(self.catalog.list_aliases(name).await?)
    }

    pub async fn alias(&self, name: &ModelName, alias: &AliasName) -> Result<Alias, Error> {
        Ok(self.catalog.get_alias(name, alias).await?)
    }

    /// Creates or moves an alias; a servable target is loaded and warmed first.
    pub async fn set_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        version: VersionNumber,
        change: &Change,
    ) -> Result<Alias, Error> {
        let target = self.catalog.get_version(name, version).await?;
        if target.servable {
            self.serving.preload(name, version).await?;
        }
        let alias = self.catalog.set_alias(name, alias, version, change).await?;
        self.serving.resolver().set_alias(name, &alias.alias, Some(alias.version));
        Ok(alias)
    }

    pub async fn delete_alias(&self, name: &ModelName, alias: &AliasName, change: &Change) -> Result<(), Error> {
        self.catalog.delete_alias(name, alias, change).await?;
        self.serving.resolver().set_alias(name, alias, None);
        Ok(())
    }

    /// This replica switches at once; the others follow the notification.
    fn switched(&self, deployment: Deployment) -> Deployment {
        self.serving.resolver().set_deployment(&deployment.model, Some(target_of(&deployment)));
        deployment
    }
}
