//! Deployments (what the version-less routes serve), canaries, rollback, aliases and their
//! history. Every switch loads and warms the new version on this replica first: if it cannot be
//! loaded the switch fails and traffic stays where it was. Other replicas follow through the
//! notification the catalog's transaction sends.
//!
//! A change to a protected deployment or alias of a model that requires approval is not made:
//! it becomes a pending change ([`Outcome::Proposed`]) that another principal approves
//! ([`Registry::approve`], which carries it out through the same functions below).

use depot_catalog::{Alias, AuditEntry, Canary, Change, ChangeKind, Deployment, Page, PageRequest, Proposal};
use depot_domain::{AliasName, ModelName, Permission, VersionNumber};

use super::{Outcome, Registry};
use crate::auth::Actor;
use crate::error::{Error, ErrorCode};
use crate::serving::target_of;

impl Registry {
    /// What the model's version-less routes serve.
    pub async fn deployment(&self, actor: &Actor, name: &ModelName) -> Result<Deployment, Error> {
        actor.require(Permission::Read, name)?;
        self.current_deployment(name).await
    }

    async fn current_deployment(&self, name: &ModelName) -> Result<Deployment, Error> {
        self.catalog
            .get_deployment(name)
            .await?
            .ok_or_else(|| Error::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed")))
    }

    /// Whether changing the model's deployment waits for approval.
    async fn deployment_needs_approval(&self, name: &ModelName) -> Result<bool, Error> {
        let protection = self.catalog.get_protection(name).await?;
        Ok(protection.deployment && protection.require_approval)
    }

    /// Deploys any registered, servable version (ending any canary).
    pub async fn deploy(
        &self,
        actor: &Actor,
        name: &ModelName,
        version: VersionNumber,
    ) -> Result<Outcome<Deployment>, Error> {
        actor.require(Permission::Deploy, name)?;
        if self.deployment_needs_approval(name).await? {
            self.serving.preload(name, version).await?;
            return self.propose(actor, name, ChangeKind::Deploy, Some(version), None, None).await;
        }
        Ok(Outcome::Done(self.apply_deploy(name, version, &actor.change()).await?))
    }

    pub(super) async fn apply_deploy(
        &self,
        name: &ModelName,
        version: VersionNumber,
        change: &Change,
    ) -> Result<Deployment, Error> {
        self.serving.preload(name, version).await?;
        let deployment = self.catalog.deploy(name, version, change).await?;
        self.metrics.change("deploy");
        tracing::info!(model.name = %name, model.version = %version, actor = %change.actor, "deployed");
        Ok(self.switched(deployment))
    }

    /// Rolls back to `version`, or by default to the version deployed before the current one.
    /// Going back to a version that was deployed before never waits for approval.
    pub async fn rollback(
        &self,
        actor: &Actor,
        name: &ModelName,
        version: Option<VersionNumber>,
    ) -> Result<Outcome<Deployment>, Error> {
        actor.require(Permission::Deploy, name)?;
        let target = match version {
            Some(version) => {
                self.current_deployment(name).await?;
                version
            }
            None => self.catalog.rollback_target(name).await?,
        };
        // Loaded and warmed first either way: a proposal of a version that cannot be served is
        // refused at once, like a direct rollback.
        self.serving.preload(name, target).await?;
        if self.deployment_needs_approval(name).await? && !self.catalog.was_deployed(name, target).await? {
            return self.propose(actor, name, ChangeKind::Deploy, Some(target), None, None).await;
        }
        let change = actor.change();
        let deployment = self.catalog.rollback(name, target, &change).await?;
        self.metrics.change("rollback");
        tracing::info!(model.name = %name, model.version = %target, actor = %change.actor, "rolled back");
        Ok(Outcome::Done(self.switched(deployment)))
    }

    /// Stops serving the version-less routes; the versions stay registered.
    pub async fn undeploy(&self, actor: &Actor, name: &ModelName) -> Result<Outcome<()>, Error> {
        actor.require(Permission::Deploy, name)?;
        if self.deployment_needs_approval(name).await? {
            self.current_deployment(name).await?;
            return self.propose(actor, name, ChangeKind::Undeploy, None, None, None).await;
        }
        self.apply_undeploy(name, &actor.change()).await.map(Outcome::Done)
    }

    pub(super) async fn apply_undeploy(&self, name: &ModelName, change: &Change) -> Result<(), Error> {
        self.catalog.undeploy(name, change).await?;
        self.metrics.change("undeploy");
        self.serving.resolver().set_deployment(name, None);
        Ok(())
    }

    /// Starts or changes a canary: `version` gets `percent` (1-99) of the version-less requests.
    pub async fn set_canary(
        &self,
        actor: &Actor,
        name: &ModelName,
        version: VersionNumber,
        percent: u8,
    ) -> Result<Outcome<Deployment>, Error> {
        actor.require(Permission::Deploy, name)?;
        if self.deployment_needs_approval(name).await? {
            // Checked now so that a proposal is one that could be made; `apply_canary` checks
            // again when it is approved (the deployment may have moved since).
            self.check_canary(name, version, percent).await?;
            self.serving.preload(name, version).await?;
            return self.propose(actor, name, ChangeKind::Canary, Some(version), None, Some(percent)).await;
        }
        self.apply_canary(name, version, percent, &actor.change()).await.map(Outcome::Done)
    }

    async fn check_canary(&self, name: &ModelName, version: VersionNumber, percent: u8) -> Result<(), Error> {
        if !(1..=99).contains(&percent) {
            return Err(Error::new(ErrorCode::InvalidCanary, format!("percent must be 1 to 99, not {percent}")));
        }
        let current = self.catalog.get_deployment(name).await?.ok_or_else(|| {
            Error::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed: deploy a version first"))
        })?;
        if current.version == version {
            return Err(Error::new(ErrorCode::InvalidCanary, format!("version {version} is already the deployed one")));
        }
        Ok(())
    }

    pub(super) async fn apply_canary(
        &self,
        name: &ModelName,
        version: VersionNumber,
        percent: u8,
        change: &Change,
    ) -> Result<Deployment, Error> {
        self.check_canary(name, version, percent).await?;
        self.serving.preload(name, version).await?;
        let deployment = self.catalog.set_canary(name, Canary { version, percent }, change).await?;
        self.metrics.change("canary");
        Ok(self.switched(deployment))
    }

    /// The canary becomes the deployed version and takes all traffic.
    pub async fn promote_canary(&self, actor: &Actor, name: &ModelName) -> Result<Outcome<Deployment>, Error> {
        actor.require(Permission::Deploy, name)?;
        if self.deployment_needs_approval(name).await? {
            let canary = self
                .current_deployment(name)
                .await?
                .canary
                .ok_or_else(|| Error::new(ErrorCode::CanaryNotFound, format!("model '{name}' has no canary")))?;
            return self.propose(actor, name, ChangeKind::PromoteCanary, Some(canary.version), None, None).await;
        }
        self.apply_promote(name, None, &actor.change()).await.map(Outcome::Done)
    }

    /// Promotes the canary; when `expected` is given, only if it is still that version.
    pub(super) async fn apply_promote(
        &self,
        name: &ModelName,
        expected: Option<VersionNumber>,
        change: &Change,
    ) -> Result<Deployment, Error> {
        let canary = self.catalog.get_deployment(name).await?.and_then(|d| d.canary);
        if let Some(expected) = expected
            && canary.is_none_or(|c| c.version != expected)
        {
            return Err(Error::new(
                ErrorCode::CanaryNotFound,
                format!("the canary of '{name}' is no longer version {expected}; nothing changed"),
            ));
        }
        if let Some(canary) = canary {
            self.serving.preload(name, canary.version).await?;
        }
        let deployment = self.catalog.promote_canary(name, change).await?;
        self.metrics.change("promote_canary");
        Ok(self.switched(deployment))
    }

    /// All traffic goes back to the deployed version. Never waits for approval: it only goes
    /// back to what was already serving.
    pub async fn abort_canary(&self, actor: &Actor, name: &ModelName) -> Result<Deployment, Error> {
        actor.require(Permission::Deploy, name)?;
        let deployment = self.catalog.abort_canary(name, &actor.change()).await?;
        self.metrics.change("abort_canary");
        Ok(self.switched(deployment))
    }

    /// Every deployment and alias change of a model, newest first.
    pub async fn serving_history(
        &self,
        actor: &Actor,
        name: &ModelName,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.serving_history(name, page).await?)
    }

    pub async fn aliases(&self, actor: &Actor, name: &ModelName) -> Result<Vec<Alias>, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.list_aliases(name).await?)
    }

    pub async fn alias(&self, actor: &Actor, name: &ModelName, alias: &AliasName) -> Result<Alias, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.get_alias(name, alias).await?)
    }

    /// Moving an alias needs the pusher or deployer role; a protected one needs deployer (and,
    /// when the model requires it, approval). Returns whether that approval is needed.
    async fn check_alias_change(&self, actor: &Actor, name: &ModelName, alias: &AliasName) -> Result<bool, Error> {
        if !actor.may(Permission::Push, name.as_str()) && !actor.may(Permission::Deploy, name.as_str()) {
            return Err(actor.forbidden(Permission::Push, name.as_str()));
        }
        let protection = self.catalog.get_protection(name).await?;
        if !protection.protects_alias(alias) {
            return Ok(false);
        }
        if !actor.may(Permission::Deploy, name.as_str()) {
            let mut error = actor.forbidden(Permission::Deploy, name.as_str());
            error.message = format!("alias '{alias}' of '{name}' is protected: {}", error.message);
            return Err(error);
        }
        Ok(protection.require_approval)
    }

    /// Creates or moves an alias; a servable target is loaded and warmed first.
    pub async fn set_alias(
        &self,
        actor: &Actor,
        name: &ModelName,
        alias: &AliasName,
        version: VersionNumber,
    ) -> Result<Outcome<Alias>, Error> {
        if self.check_alias_change(actor, name, alias).await? {
            let target = self.catalog.get_version(name, version).await?;
            if target.servable {
                self.serving.preload(name, version).await?;
            }
            return self.propose(actor, name, ChangeKind::SetAlias, Some(version), Some(alias.clone()), None).await;
        }
        self.apply_set_alias(name, alias, version, &actor.change()).await.map(Outcome::Done)
    }

    pub(super) async fn apply_set_alias(
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
        self.metrics.change("set_alias");
        self.serving.resolver().set_alias(name, &alias.alias, Some(alias.version));
        Ok(alias)
    }

    pub async fn delete_alias(&self, actor: &Actor, name: &ModelName, alias: &AliasName) -> Result<Outcome<()>, Error> {
        if self.check_alias_change(actor, name, alias).await? {
            self.catalog.get_alias(name, alias).await?;
            return self.propose(actor, name, ChangeKind::DeleteAlias, None, Some(alias.clone()), None).await;
        }
        self.apply_delete_alias(name, alias, &actor.change()).await.map(Outcome::Done)
    }

    pub(super) async fn apply_delete_alias(
        &self,
        name: &ModelName,
        alias: &AliasName,
        change: &Change,
    ) -> Result<(), Error> {
        self.catalog.delete_alias(name, alias, change).await?;
        self.metrics.change("delete_alias");
        self.serving.resolver().set_alias(name, alias, None);
        Ok(())
    }

    async fn propose<T>(
        &self,
        actor: &Actor,
        name: &ModelName,
        kind: ChangeKind,
        version: Option<VersionNumber>,
        alias: Option<AliasName>,
        percent: Option<u8>,
    ) -> Result<Outcome<T>, Error> {
        let ttl = chrono::Duration::from_std(self.approval_ttl).unwrap_or(chrono::Duration::days(1));
        let proposal = Proposal { kind, version, alias, percent, expires_at: chrono::Utc::now() + ttl };
        let pending = self.catalog.propose(name, &proposal, &actor.change()).await?;
        tracing::info!(model.name = %name, approval.id = pending.id, approval.kind = kind.as_str(),
            actor = %actor.principal(), "change proposed; it waits for approval");
        Ok(Outcome::Proposed(Box::new(pending)))
    }

    /// This replica switches at once; the others follow the notification.
    fn switched(&self, deployment: Deployment) -> Deployment {
        self.serving.resolver().set_deployment(&deployment.model, Some(target_of(&deployment)));
        deployment
    }
}
