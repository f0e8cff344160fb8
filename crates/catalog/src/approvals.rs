//! Pending changes: a change to a protected alias or deployment that waits for a second
//! principal's approval. Proposing, approving (in the transaction that carries the change out),
//! rejecting and expiring are each recorded in the audit log (`approval.*`).

use chrono::{DateTime, Utc};
use depot_domain::{AliasName, ModelName, VersionNumber};
use serde_json::json;
use sqlx::{FromRow, PgConnection};

use crate::audit::record_entry;
use crate::{Catalog, CatalogError, Change, Page, PageRequest};

/// What a pending change would do once approved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Deploy,
    Undeploy,
    Canary,
    PromoteCanary,
    SetAlias,
    DeleteAlias,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Deploy => "deploy",
            ChangeKind::Undeploy => "undeploy",
            ChangeKind::Canary => "canary",
            ChangeKind::PromoteCanary => "promote_canary",
            ChangeKind::SetAlias => "set_alias",
            ChangeKind::DeleteAlias => "delete_alias",
        }
    }

    fn parse(text: &str) -> Result<Self, CatalogError> {
        Ok(match text {
            "deploy" => ChangeKind::Deploy,
            "undeploy" => ChangeKind::Undeploy,
            "canary" => ChangeKind::Canary,
            "promote_canary" => ChangeKind::PromoteCanary,
            "set_alias" => ChangeKind::SetAlias,
            "delete_alias" => ChangeKind::DeleteAlias,
            other => return Err(CatalogError::Corrupt { reason: format!("pending change kind {other:?}") }),
        })
    }
}

/// A proposed change, with its state: `pending`, `approved`, `rejected` or `expired`.
#[derive(Debug, Clone)]
pub struct PendingChange {
    pub id: i64,
    pub model: ModelName,
    pub kind: ChangeKind,
    pub version: Option<VersionNumber>,
    pub alias: Option<AliasName>,
    pub percent: Option<u8>,
    pub reason: Option<String>,
    pub proposed_by: String,
    pub proposed_token: Option<String>,
    pub proposed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
}

impl PendingChange {
    /// Pending, and not past its expiry (the sweep may not have marked it yet).
    pub fn is_open(&self) -> bool {
        self.state == "pending" && self.expires_at > Utc::now()
    }
}

/// What a proposal asks for.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub kind: ChangeKind,
    pub version: Option<VersionNumber>,
    pub alias: Option<AliasName>,
    pub percent: Option<u8>,
    pub expires_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct Row {
    id: i64,
    model: String,
    kind: String,
    version: Option<i32>,
    alias: Option<String>,
    percent: Option<i16>,
    reason: Option<String>,
    proposed_by: String,
    proposed_token: Option<String>,
    proposed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    state: String,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    decision_reason: Option<String>,
}

const SELECT: &str = "SELECT p.id, m.name AS model, p.kind, p.version, p.alias, p.percent, p.reason, p.proposed_by,
        p.proposed_token, p.proposed_at, p.expires_at, p.state, p.decided_by, p.decided_at, p.decision_reason
    FROM pending_changes p JOIN models m ON m.id = p.model_id";

impl TryFrom<Row> for PendingChange {
    type Error = CatalogError;
    fn try_from(row: Row) -> Result<Self, Self::Error> {
        let corrupt = |e: &dyn std::fmt::Display| CatalogError::Corrupt { reason: e.to_string() };
        Ok(Self {
            id: row.id,
            model: ModelName::parse(&row.model).map_err(|e| corrupt(&e))?,
            kind: ChangeKind::parse(&row.kind)?,
            version: row.version.and_then(|v| u32::try_from(v).ok()).and_then(VersionNumber::new),
            alias: row.alias.as_deref().map(AliasName::parse).transpose().map_err(|e| corrupt(&e))?,
            percent: row.percent.and_then(|p| u8::try_from(p).ok()),
            reason: row.reason,
            proposed_by: row.proposed_by,
            proposed_token: row.proposed_token,
            proposed_at: row.proposed_at,
            expires_at: row.expires_at,
            // Past its expiry but not swept yet: expired all the same.
            state: if row.state == "pending" && row.expires_at <= Utc::now() {
                "expired".to_owned()
            } else {
                row.state
            },
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            decision_reason: row.decision_reason,
        })
    }
}

/// Which pending changes to list.
#[derive(Debug, Clone, Default)]
pub struct PendingFilter {
    pub model: Option<ModelName>,
    /// `pending` (open ones), `approved`, `rejected`, `expired`; `None` for all.
    pub state: Option<String>,
    /// SQL `LIKE` patterns of the models the caller may read; `None` for all.
    pub visible: Option<Vec<String>>,
}

fn details(change: &PendingChange) -> serde_json::Value {
    json!({
        "pending_change": change.id,
        "kind": change.kind.as_str(),
        "to": change.version.map(VersionNumber::get),
        "alias": change.alias.as_ref().map(AliasName::as_str),
        "percent": change.percent,
        "proposed_by": change.proposed_by,
    })
}

/// Marks pending change `id` approved by `change`'s actor, in the transaction that carries it
/// out; fails when it is no longer pending (decided, expired, or approved meanwhile).
pub(crate) async fn close_approved(conn: &mut PgConnection, id: i64, change: &Change) -> Result<(), CatalogError> {
    let row = sqlx::query_as::<_, Row>(&format!(
        "WITH closed AS (
            UPDATE pending_changes SET state = 'approved', decided_by = $2, decided_at = now(), decision_reason = $3
            WHERE id = $1 AND state = 'pending' AND expires_at > now() RETURNING *)
         {} ",
        SELECT.replace("pending_changes p", "closed p")
    ))
    .bind(id)
    .bind(&change.actor)
    .bind(&change.reason)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Err(CatalogError::ApprovalClosed { id }) };
    let pending = PendingChange::try_from(row)?;
    let version = pending.version.map(VersionNumber::get);
    record_entry(conn, change, "approval.approve", Some(pending.model.as_str()), version, details(&pending)).await
}

impl Catalog {
    /// Records a proposal; nothing else changes until it is approved.
    pub async fn propose(
        &self,
        model: &ModelName,
        proposal: &Proposal,
        change: &Change,
    ) -> Result<PendingChange, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO pending_changes
                (model_id, kind, version, alias, percent, reason, proposed_by, proposed_token, expires_at)
             SELECT id, $2, $3, $4, $5, $6, $7, $8, $9 FROM models WHERE name = $1 RETURNING id",
        )
        .bind(model.as_str())
        .bind(proposal.kind.as_str())
        .bind(proposal.version.map(|v| i32::try_from(v.get()).unwrap_or(i32::MAX)))
        .bind(proposal.alias.as_ref().map(AliasName::as_str))
        .bind(proposal.percent.map(i16::from))
        .bind(&change.reason)
        .bind(&change.actor)
        .bind(&change.token)
        .bind(proposal.expires_at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else { return Err(CatalogError::ModelNotFound { name: model.clone() }) };
        let pending = fetch(&mut tx, id).await?;
        let version = pending.version.map(VersionNumber::get);
        record_entry(&mut tx, change, "approval.propose", Some(model.as_str()), version, details(&pending)).await?;
        tx.commit().await?;
        Ok(pending)
    }

    pub async fn get_pending(&self, id: i64) -> Result<PendingChange, CatalogError> {
        fetch(&mut *self.pool.acquire().await?, id).await
    }

    /// Pending changes, newest first.
    pub async fn list_pending(
        &self,
        filter: &PendingFilter,
        page: &PageRequest,
    ) -> Result<Page<PendingChange>, CatalogError> {
        let limit = page.effective_limit();
        let before = match &page.cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE ($1::text IS NULL OR m.name = $1)
               AND ($2::text IS NULL
                    OR (CASE WHEN p.state = 'pending' AND p.expires_at <= now() THEN 'expired' ELSE p.state END) = $2)
               AND ($3::text[] IS NULL OR m.name LIKE ANY($3))
               AND ($4::bigint IS NULL OR p.id < $4)
             ORDER BY p.id DESC LIMIT $5"
        ))
        .bind(filter.model.as_ref().map(ModelName::as_str))
        .bind(&filter.state)
        .bind(&filter.visible)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.into_iter().map(PendingChange::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, limit, |p| p.id.to_string()))
    }

    /// Rejects an open pending change; nothing it proposed happens.
    pub async fn reject_pending(&self, id: i64, change: &Change) -> Result<PendingChange, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE pending_changes SET state = 'rejected', decided_by = $2, decided_at = now(), decision_reason = $3
             WHERE id = $1 AND state = 'pending' AND expires_at > now()",
        )
        .bind(id)
        .bind(&change.actor)
        .bind(&change.reason)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            fetch(&mut tx, id).await?;
            return Err(CatalogError::ApprovalClosed { id });
        }
        let pending = fetch(&mut tx, id).await?;
        let version = pending.version.map(VersionNumber::get);
        record_entry(&mut tx, change, "approval.reject", Some(pending.model.as_str()), version, details(&pending))
            .await?;
        tx.commit().await?;
        Ok(pending)
    }

    /// Marks every pending change past its expiry as expired, with an audit row each. Safe to
    /// run on every replica at once: a row is expired by one of them.
    pub async fn expire_pending(&self) -> Result<usize, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE pending_changes SET state = 'expired', decided_at = now()
             WHERE state = 'pending' AND expires_at <= now() RETURNING id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let system = Change::by("depot");
        for &id in &ids {
            let pending = fetch(&mut tx, id).await?;
            let version = pending.version.map(VersionNumber::get);
            record_entry(&mut tx, &system, "approval.expire", Some(pending.model.as_str()), version, details(&pending))
                .await?;
        }
        tx.commit().await?;
        Ok(ids.len())
    }

    /// How many changes wait for approval now.
    pub async fn count_pending(&self) -> Result<i64, CatalogError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM pending_changes WHERE state = 'pending' AND expires_at > now()")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Whether `version` was ever the deployed version of `model` (a rollback there needs no
    /// approval).
    pub async fn was_deployed(&self, model: &ModelName, version: VersionNumber) -> Result<bool, CatalogError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM audit_log WHERE model = $1 AND version = $2
                AND action IN ('deployment.deploy', 'deployment.rollback', 'deployment.promote'))",
        )
        .bind(model.as_str())
        .bind(i32::try_from(version.get()).unwrap_or(i32::MAX))
        .fetch_one(&self.pool)
        .await?)
    }
}

async fn fetch(conn: &mut PgConnection, id: i64) -> Result<PendingChange, CatalogError> {
    sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(CatalogError::ApprovalNotFound { id })?
        .try_into()
}
