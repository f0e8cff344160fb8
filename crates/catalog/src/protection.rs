//! Which of a model's serving pointers are protected: named aliases and/or the deployment,
//! and whether changing them waits for a second principal's approval.

use depot_domain::{AliasName, ModelName};
use serde_json::json;

use crate::audit::record;
use crate::{Catalog, CatalogError, Change};

/// A model's protection. The default protects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// Aliases only a deployer may move (others: a pusher may too).
    pub aliases: Vec<AliasName>,
    /// Whether the deployment (deploy, undeploy, canary, promote) is protected.
    pub deployment: bool,
    /// Whether a change to something protected waits for another principal's approval.
    pub require_approval: bool,
}

impl Protection {
    pub fn protects_alias(&self, alias: &AliasName) -> bool {
        self.aliases.contains(alias)
    }
}

impl Catalog {
    pub async fn get_protection(&self, model: &ModelName) -> Result<Protection, CatalogError> {
        let row: Option<(Vec<String>, bool, bool)> = sqlx::query_as(
            "SELECT protected_aliases, deployment_protected, require_approval FROM models WHERE name = $1",
        )
        .bind(model.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let (aliases, deployment, require_approval) =
            row.ok_or_else(|| CatalogError::ModelNotFound { name: model.clone() })?;
        let aliases = aliases
            .iter()
            .map(|a| AliasName::parse(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CatalogError::Corrupt { reason: e.to_string() })?;
        Ok(Protection { aliases, deployment, require_approval })
    }

    pub async fn set_protection(
        &self,
        model: &ModelName,
        protection: &Protection,
        change: &Change,
    ) -> Result<Protection, CatalogError> {
        let mut aliases: Vec<String> = protection.aliases.iter().map(|a| a.as_str().to_owned()).collect();
        aliases.sort();
        aliases.dedup();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE models SET protected_aliases = $2, deployment_protected = $3, require_approval = $4,
                 updated_at = now() WHERE name = $1",
        )
        .bind(model.as_str())
        .bind(&aliases)
        .bind(protection.deployment)
        .bind(protection.require_approval)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(CatalogError::ModelNotFound { name: model.clone() });
        }
        let details = json!({
            "aliases": aliases, "deployment": protection.deployment, "require_approval": protection.require_approval,
        });
        record(&mut tx, change, "model.protect", model.as_str(), None, details).await?;
        tx.commit().await?;
        self.get_protection(model).await
    }
}
