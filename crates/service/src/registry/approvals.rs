//! Protection of a model's aliases and deployment, and the pending changes it creates: list,
//! approve (by another principal, carrying the change out exactly as a direct one would be),
//! reject, and the sweep that expires them.

use depot_catalog::{ChangeKind, PageRequest, PendingChange, PendingFilter, Protection};
use depot_domain::{ModelName, Permission};

use super::Registry;
use crate::auth::Actor;
use crate::error::{Error, ErrorCode};

/// What a change to something protected came to: made, or waiting for approval.
#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    Proposed(Box<PendingChange>),
}

fn not_found(id: i64) -> Error {
    depot_catalog::CatalogError::ApprovalNotFound { id }.into()
}

impl Registry {
    pub async fn protection(&self, actor: &Actor, name: &ModelName) -> Result<Protection, Error> {
        actor.require(Permission::Read, name)?;
        Ok(self.catalog.get_protection(name).await?)
    }

    /// Sets which aliases and whether the deployment are protected, and whether changing them
    /// needs approval. Needs the admin role.
    pub async fn set_protection(
        &self,
        actor: &Actor,
        name: &ModelName,
        protection: &Protection,
    ) -> Result<Protection, Error> {
        actor.require(Permission::Admin, name)?;
        if protection.aliases.len() > 64 {
            return Err(Error::invalid("at most 64 aliases can be protected"));
        }
        Ok(self.catalog.set_protection(name, protection, &actor.change()).await?)
    }

    /// Pending changes (of every state unless filtered) of the models the actor may read.
    pub async fn pending_changes(
        &self,
        actor: &Actor,
        filter: PendingFilter,
        page: &PageRequest,
    ) -> Result<depot_catalog::Page<PendingChange>, Error> {
        if let Some(model) = &filter.model {
            actor.require(Permission::Read, model)?;
        }
        if let Some(state) = &filter.state
            && !["pending", "approved", "rejected", "expired"].contains(&state.as_str())
        {
            return Err(Error::invalid(format!("state must be pending, approved, rejected or expired, not {state:?}")));
        }
        let filter = PendingFilter { visible: actor.visible(Permission::Read), ..filter };
        Ok(self.catalog.list_pending(&filter, page).await?)
    }

    /// One pending change; one of a model the actor may not read does not exist for it.
    pub async fn pending_change(&self, actor: &Actor, id: i64) -> Result<PendingChange, Error> {
        let pending = self.catalog.get_pending(id).await?;
        if !actor.may(Permission::Read, pending.model.as_str()) {
            return Err(not_found(id));
        }
        Ok(pending)
    }

    async fn open_for_decision(&self, actor: &Actor, id: i64) -> Result<PendingChange, Error> {
        let pending = self.pending_change(actor, id).await?;
        actor.require(Permission::Deploy, &pending.model)?;
        if !pending.is_open() {
            return Err(Error::new(
                ErrorCode::ApprovalClosed,
                format!("change {id} is {}; nothing to decide", pending.state),
            ));
        }
        Ok(pending)
    }

    /// Approves a pending change and carries it out, exactly as a direct change: the target is
    /// loaded and warmed first, and if it cannot be served nothing changes (the change stays
    /// pending). The proposer's principal can never approve its own change.
    pub async fn approve(&self, actor: &Actor, id: i64) -> Result<PendingChange, Error> {
        let pending = self.open_for_decision(actor, id).await?;
        if pending.proposed_by == actor.principal() {
            return Err(Error::new(
                ErrorCode::SelfApproval,
                format!("change {id} was proposed by '{}': another principal must approve it", pending.proposed_by),
            ));
        }
        let mut change = actor.change();
        change.approves = Some(id);
        if change.reason.is_none() {
            change.reason = pending.reason.clone();
        }
        let name = &pending.model;
        let missing = |what: &str| Error::new(ErrorCode::Internal, format!("pending change {id} has no {what}"));
        match pending.kind {
            ChangeKind::Deploy => {
                let version = pending.version.ok_or_else(|| missing("version"))?;
                self.apply_deploy(name, version, &change).await?;
            }
            ChangeKind::Undeploy => self.apply_undeploy(name, &change).await?,
            ChangeKind::Canary => {
                let version = pending.version.ok_or_else(|| missing("version"))?;
                let percent = pending.percent.ok_or_else(|| missing("percent"))?;
                self.apply_canary(name, version, percent, &change).await?;
            }
            ChangeKind::PromoteCanary => {
                self.apply_promote(name, pending.version, &change).await?;
            }
            ChangeKind::SetAlias => {
                let version = pending.version.ok_or_else(|| missing("version"))?;
                let alias = pending.alias.as_ref().ok_or_else(|| missing("alias"))?;
                self.apply_set_alias(name, alias, version, &change).await?;
            }
            ChangeKind::DeleteAlias => {
                let alias = pending.alias.as_ref().ok_or_else(|| missing("alias"))?;
                self.apply_delete_alias(name, alias, &change).await?;
            }
        }
        tracing::info!(model.name = %name, approval.id = id, actor = %actor.principal(), "change approved and made");
        Ok(self.catalog.get_pending(id).await?)
    }

    /// Rejects a pending change: nothing it proposed happens. Its proposer may withdraw it so.
    pub async fn reject(&self, actor: &Actor, id: i64) -> Result<PendingChange, Error> {
        self.open_for_decision(actor, id).await?;
        Ok(self.catalog.reject_pending(id, &actor.change()).await?)
    }

    /// Marks pending changes past their expiry as expired (each with an audit row), and
    /// refreshes the count of those still pending in the metrics.
    pub async fn expire_pending(&self) -> Result<usize, Error> {
        let expired = self.catalog.expire_pending().await?;
        self.metrics.set_pending_approvals(self.catalog.count_pending().await?);
        Ok(expired)
    }
}
