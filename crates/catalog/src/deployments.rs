//! Aliases and deployments: which version a name or the version-less routes serve. Every change
//! is recorded in the audit log (`alias.*`, `deployment.*`, with `from` and `to`) and announced
//! on the `depot_serving` channel by a trigger.

use chrono::{DateTime, Utc};
use depot_domain::{AliasName, ModelName, VersionNumber};
use serde_json::json;
use sqlx::{FromRow, PgConnection};

use crate::audit::record;
use crate::error::{FOREIGN_KEY_VIOLATION, sqlstate};
use crate::{AuditEntry, Catalog, CatalogError, Change, Page, PageRequest};

/// The channel replicas listen on; the payload is the model's name.
pub const SERVING_CHANNEL: &str = "depot_serving";

/// What a model's version-less routes serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub model: ModelName,
    pub version: VersionNumber,
    pub canary: Option<Canary>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

/// A second version taking a share of the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canary {
    pub version: VersionNumber,
    /// 1 to 99.
    pub percent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub model: ModelName,
    pub alias: AliasName,
    pub version: VersionNumber,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

#[derive(FromRow)]
struct DeploymentRow {
    version: i32,
    canary_version: Option<i32>,
    canary_percent: Option<i16>,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

#[derive(FromRow)]
struct NamedDeploymentRow {
    name: String,
    #[sqlx(flatten)]
    deployment: DeploymentRow,
}

#[derive(FromRow)]
struct AliasRow {
    alias: String,
    version: i32,
    updated_at: DateTime<Utc>,
    updated_by: String,
}

fn number(value: i32) -> Result<VersionNumber, CatalogError> {
    u32::try_from(value)
        .ok()
        .and_then(VersionNumber::new)
        .ok_or_else(|| CatalogError::Corrupt { reason: format!("version {value}") })
}

fn db(version: VersionNumber) -> i32 {
    i32::try_from(version.get()).unwrap_or(i32::MAX)
}

impl DeploymentRow {
    fn into_deployment(self, model: &ModelName) -> Result<Deployment, CatalogError> {
        let canary = match (self.canary_version, self.canary_percent) {
            (Some(v), Some(p)) => Some(Canary { version: number(v)?, percent: u8::try_from(p).unwrap_or(0) }),
            _ => None,
        };
        Ok(Deployment {
            model: model.clone(),
            version: number(self.version)?,
            canary,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

impl AliasRow {
    fn into_alias(self, model: &ModelName) -> Result<Alias, CatalogError> {
        Ok(Alias {
            model: model.clone(),
            alias: AliasName::parse(&self.alias).map_err(|e| CatalogError::Corrupt { reason: e.to_string() })?,
            version: number(self.version)?,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
        })
    }
}

/// Locks the model row (serialising every serving change of one model) and returns its id.
async fn lock_model(conn: &mut PgConnection, model: &ModelName) -> Result<i64, CatalogError> {
    sqlx::query_scalar("SELECT id FROM models WHERE name = $1 FOR UPDATE")
        .bind(model.as_str())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| CatalogError::ModelNotFound { name: model.clone() })
}

async fn ensure_version(
    conn: &mut PgConnection,
    model: &ModelName,
    id: i64,
    v: VersionNumber,
) -> Result<(), CatalogError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM versions WHERE model_id = $1 AND version = $2)")
            .bind(id)
            .bind(db(v))
            .fetch_one(conn)
            .await?;
    if exists { Ok(()) } else { Err(CatalogError::VersionNotFound { name: model.clone(), version: v }) }
}

async fn current(conn: &mut PgConnection, id: i64) -> Result<Option<DeploymentRow>, CatalogError> {
    Ok(sqlx::query_as::<_, DeploymentRow>(
        "SELECT version, canary_version, canary_percent, updated_at, updated_by FROM deployments WHERE model_id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

impl Catalog {
    /// The deployed models, most recently changed first, at most `limit` (what a replica loads
    /// before it turns ready).
    pub async fn list_deployments(&self, limit: u32) -> Result<Vec<(ModelName, Deployment)>, CatalogError> {
        let rows = sqlx::query_as::<_, NamedDeploymentRow>(
            "SELECT m.name, d.version, d.canary_version, d.canary_percent, d.updated_at, d.updated_by
             FROM deployments d JOIN models m ON m.id = d.model_id ORDER BY d.updated_at DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let name = ModelName::parse(&row.name)
                    .map_err(|_| CatalogError::Corrupt { reason: format!("model name {:?}", row.name) })?;
                let deployment = row.deployment.into_deployment(&name)?;
                Ok((name, deployment))
            })
            .collect()
    }

    pub async fn get_deployment(&self, model: &ModelName) -> Result<Option<Deployment>, CatalogError> {
        let row = sqlx::query_as::<_, DeploymentRow>(
            "SELECT d.version, d.canary_version, d.canary_percent, d.updated_at, d.updated_by
             FROM deployments d JOIN models m ON m.id = d.model_id WHERE m.name = $1",
        )
        .bind(model.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(row.into_deployment(model)?)),
            None => {
                self.get_model(model).await?;
                Ok(None)
            }
        }
    }

    /// Makes `version` the deployed one (any canary ends). `action` is recorded as
    /// `deployment.<action>`.
    async fn put_deployment(
        &self,
        model: &ModelName,
        version: VersionNumber,
        action: &str,
        change: &Change,
    ) -> Result<Deployment, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        ensure_version(&mut tx, model, id, version).await?;
        let before = current(&mut tx, id).await?;
        sqlx::query(
            "INSERT INTO deployments (model_id, version, updated_by) VALUES ($1, $2, $3)
             ON CONFLICT (model_id) DO UPDATE SET version = $2, canary_version = NULL, canary_percent = NULL,
                 updated_at = now(), updated_by = $3",
        )
        .bind(id)
        .bind(db(version))
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let details = json!({
            "from": before.as_ref().map(|b| b.version),
            "to": version.get(),
            "canary_ended": before.as_ref().and_then(|b| b.canary_version),
        });
        record(&mut tx, change, &format!("deployment.{action}"), model.as_str(), Some(version.get()), details).await?;
        let row = current(&mut tx, id)
            .await?
            .ok_or_else(|| CatalogError::Corrupt { reason: "deployment vanished".into() })?;
        tx.commit().await?;
        row.into_deployment(model)
    }

    pub async fn deploy(
        &self,
        model: &ModelName,
        version: VersionNumber,
        change: &Change,
    ) -> Result<Deployment, CatalogError> {
        self.put_deployment(model, version, "deploy", change).await
    }

    /// The version a rollback would go back to: the one deployed before the current one, found
    /// by walking the deployment history (so repeated rollbacks keep going back). Redeploying
    /// the deployed version (a re-run pipeline, ending a canary) does not count as a step.
    pub async fn rollback_target(&self, model: &ModelName) -> Result<VersionNumber, CatalogError> {
        let Some(deployment) = self.get_deployment(model).await? else {
            return Err(CatalogError::NotDeployed { name: model.clone() });
        };
        let previous: Option<i32> = sqlx::query_scalar(
            "SELECT (details->>'from')::int FROM audit_log
             WHERE model = $1 AND action IN ('deployment.deploy', 'deployment.promote') AND version = $2
               AND details->>'from' IS NOT NULL AND (details->>'from')::int <> version
             ORDER BY id DESC LIMIT 1",
        )
        .bind(model.as_str())
        .bind(db(deployment.version))
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        match previous {
            Some(v) => number(v),
            None => Err(CatalogError::NothingToRollBack { name: model.clone(), version: deployment.version }),
        }
    }

    pub async fn rollback(
        &self,
        model: &ModelName,
        to: VersionNumber,
        change: &Change,
    ) -> Result<Deployment, CatalogError> {
        self.put_deployment(model, to, "rollback", change).await
    }

    /// Stops serving the model's version-less routes.
    pub async fn undeploy(&self, model: &ModelName, change: &Change) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        let Some(before) = current(&mut tx, id).await? else {
            return Err(CatalogError::NotDeployed { name: model.clone() });
        };
        sqlx::query("DELETE FROM deployments WHERE model_id = $1").bind(id).execute(&mut *tx).await?;
        let details = json!({ "from": before.version, "to": null });
        record(&mut tx, change, "deployment.undeploy", model.as_str(), None, details).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sends `percent` of the version-less traffic to `version` beside the deployed one.
    pub async fn set_canary(
        &self,
        model: &ModelName,
        canary: Canary,
        change: &Change,
    ) -> Result<Deployment, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        ensure_version(&mut tx, model, id, canary.version).await?;
        let Some(before) = current(&mut tx, id).await? else {
            return Err(CatalogError::NotDeployed { name: model.clone() });
        };
        sqlx::query(
            "UPDATE deployments SET canary_version = $2, canary_percent = $3, updated_at = now(), updated_by = $4
             WHERE model_id = $1",
        )
        .bind(id)
        .bind(db(canary.version))
        .bind(i16::from(canary.percent))
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let details = json!({
            "from": before.canary_version, "to": canary.version.get(), "percent": canary.percent, "deployed": before.version,
        });
        record(&mut tx, change, "deployment.canary", model.as_str(), Some(canary.version.get()), details).await?;
        let row = current(&mut tx, id)
            .await?
            .ok_or_else(|| CatalogError::Corrupt { reason: "deployment vanished".into() })?;
        tx.commit().await?;
        row.into_deployment(model)
    }

    /// Makes the canary the deployed version.
    pub async fn promote_canary(&self, model: &ModelName, change: &Change) -> Result<Deployment, CatalogError> {
        let deployment =
            self.get_deployment(model).await?.ok_or_else(|| CatalogError::NotDeployed { name: model.clone() })?;
        let canary = deployment.canary.ok_or_else(|| CatalogError::NoCanary { name: model.clone() })?;
        self.put_deployment(model, canary.version, "promote", change).await
    }

    /// Ends the canary; all traffic goes to the deployed version.
    pub async fn abort_canary(&self, model: &ModelName, change: &Change) -> Result<Deployment, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        let before = current(&mut tx, id).await?.ok_or_else(|| CatalogError::NotDeployed { name: model.clone() })?;
        let Some(canary) = before.canary_version else {
            return Err(CatalogError::NoCanary { name: model.clone() });
        };
        sqlx::query(
            "UPDATE deployments SET canary_version = NULL, canary_percent = NULL, updated_at = now(), updated_by = $2
             WHERE model_id = $1",
        )
        .bind(id)
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let details = json!({ "from": canary, "to": null, "deployed": before.version });
        record(&mut tx, change, "deployment.abort_canary", model.as_str(), None, details).await?;
        let row = current(&mut tx, id)
            .await?
            .ok_or_else(|| CatalogError::Corrupt { reason: "deployment vanished".into() })?;
        tx.commit().await?;
        row.into_deployment(model)
    }

    pub async fn list_aliases(&self, model: &ModelName) -> Result<Vec<Alias>, CatalogError> {
        let id: i64 = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
            .bind(model.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::ModelNotFound { name: model.clone() })?;
        let rows = sqlx::query_as::<_, AliasRow>(
            "SELECT alias, version, updated_at, updated_by FROM aliases WHERE model_id = $1 ORDER BY alias",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(|r| r.into_alias(model)).collect()
    }

    pub async fn get_alias(&self, model: &ModelName, alias: &AliasName) -> Result<Alias, CatalogError> {
        let row = sqlx::query_as::<_, AliasRow>(
            "SELECT a.alias, a.version, a.updated_at, a.updated_by FROM aliases a JOIN models m ON m.id = a.model_id
             WHERE m.name = $1 AND a.alias = $2",
        )
        .bind(model.as_str())
        .bind(alias.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => row.into_alias(model),
            None => {
                self.get_model(model).await?;
                Err(CatalogError::AliasNotFound { name: model.clone(), alias: alias.clone() })
            }
        }
    }

    /// Points `alias` at `version`, creating or moving it.
    pub async fn set_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        version: VersionNumber,
        change: &Change,
    ) -> Result<Alias, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        ensure_version(&mut tx, model, id, version).await?;
        let before: Option<i32> = sqlx::query_scalar("SELECT version FROM aliases WHERE model_id = $1 AND alias = $2")
            .bind(id)
            .bind(alias.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO aliases (model_id, alias, version, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (model_id, alias) DO UPDATE SET version = $3, updated_at = now(), updated_by = $4",
        )
        .bind(id)
        .bind(alias.as_str())
        .bind(db(version))
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let details = json!({ "alias": alias.as_str(), "from": before, "to": version.get() });
        record(&mut tx, change, "alias.set", model.as_str(), Some(version.get()), details).await?;
        tx.commit().await?;
        self.get_alias(model, alias).await
    }

    pub async fn delete_alias(
        &self,
        model: &ModelName,
        alias: &AliasName,
        change: &Change,
    ) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id = lock_model(&mut tx, model).await?;
        let before: Option<i32> =
            sqlx::query_scalar("DELETE FROM aliases WHERE model_id = $1 AND alias = $2 RETURNING version")
                .bind(id)
                .bind(alias.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(before) = before else {
            return Err(CatalogError::AliasNotFound { name: model.clone(), alias: alias.clone() });
        };
        let details = json!({ "alias": alias.as_str(), "from": before, "to": null });
        record(&mut tx, change, "alias.delete", model.as_str(), None, details).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes the deployment and every alias of a model (before deleting it with its versions).
    pub async fn clear_serving(&self, model: &ModelName, change: &Change) -> Result<(), CatalogError> {
        if self.get_deployment(model).await?.is_some() {
            match self.undeploy(model, change).await {
                Ok(()) | Err(CatalogError::NotDeployed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        for alias in self.list_aliases(model).await? {
            match self.delete_alias(model, &alias.alias, change).await {
                Ok(()) | Err(CatalogError::AliasNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Every deployment and alias change of a model, newest first.
    pub async fn serving_history(
        &self,
        model: &ModelName,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, CatalogError> {
        self.get_model(model).await?;
        let limit = page.effective_limit();
        let before = match &page.cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        let rows = sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, token, action, model, version, reason, details FROM audit_log
             WHERE model = $1 AND (action LIKE 'deployment.%' OR action LIKE 'alias.%')
               AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(model.as_str())
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_overfetch(rows, limit, |e| e.id.to_string()))
    }

    /// What a version is used by (deployment, canary, aliases), for a clear refusal to delete it.
    pub async fn version_users(&self, model: &ModelName, version: VersionNumber) -> Result<Vec<String>, CatalogError> {
        let mut users = Vec::new();
        if let Some(d) = self.get_deployment(model).await? {
            if d.version == version {
                users.push("the deployment".to_owned());
            }
            if d.canary.is_some_and(|c| c.version == version) {
                users.push("the deployment's canary".to_owned());
            }
        }
        for alias in self.list_aliases(model).await? {
            if alias.version == version {
                users.push(format!("alias '{}'", alias.alias));
            }
        }
        Ok(users)
    }
}

/// Maps a foreign-key refusal on deleting a version to [`CatalogError::VersionInUse`].
pub(crate) fn in_use(error: sqlx::Error, model: &ModelName, version: VersionNumber) -> CatalogError {
    if sqlstate(&error).as_deref() == Some(FOREIGN_KEY_VIOLATION) {
        CatalogError::VersionInUse { name: model.clone(), version, users: vec!["a deployment or alias".to_owned()] }
    } else {
        error.into()
    }
}

/// What a notification announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// A model's deployment or aliases changed.
    Serving(String),
    /// A token was revoked or its expiry changed.
    Token(String),
}

/// Notifications of serving changes (deployments, aliases) and token changes.
#[derive(Debug)]
pub struct ChangeListener {
    inner: sqlx::postgres::PgListener,
}

impl Catalog {
    /// Starts listening on [`SERVING_CHANNEL`] and [`crate::TOKENS_CHANNEL`] on a dedicated
    /// connection.
    pub async fn listen_changes(&self) -> Result<ChangeListener, CatalogError> {
        let mut inner = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        // A lost connection is reported at once (the follower reconnects by itself), instead of
        // after a reconnection attempt as long as the pool's acquire timeout.
        inner.eager_reconnect(false);
        inner.listen_all([SERVING_CHANNEL, crate::TOKENS_CHANNEL]).await?;
        Ok(ChangeListener { inner })
    }
}

impl ChangeListener {
    /// The next notification. An error means notifications may have been missed: the caller
    /// should reconcile everything. A lost connection is an error at once (`recv` would
    /// reconnect silently, hiding both the outage and the notifications missed meanwhile).
    pub async fn recv(&mut self) -> Result<Notification, CatalogError> {
        let Some(notification) = self.inner.try_recv().await? else {
            return Err(CatalogError::Unavailable(sqlx::Error::Protocol(
                "the notification connection was lost".to_owned(),
            )));
        };
        let payload = notification.payload().to_owned();
        Ok(if notification.channel() == crate::TOKENS_CHANNEL {
            Notification::Token(payload)
        } else {
            Notification::Serving(payload)
        })
    }
}
