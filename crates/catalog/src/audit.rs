use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection};

use crate::{Catalog, CatalogError, Page, PageRequest};

/// Who makes a change, and why. Recorded with the change in the audit log.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The principal (a token's), never a name a client chose.
    pub actor: String,
    pub reason: Option<String>,
    /// The id of the token that made the change.
    pub token: Option<String>,
    /// The pending change this one carries out: it is marked approved in the same transaction,
    /// or the change fails with [`CatalogError::ApprovalClosed`] when it is no longer pending.
    pub approves: Option<i64>,
}

impl Change {
    pub fn by(actor: impl Into<String>) -> Self {
        Self { actor: actor.into(), ..Self::default() }
    }
}

/// One recorded change.
#[derive(Debug, Clone, FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub token: Option<String>,
    pub action: String,
    pub model: Option<String>,
    pub version: Option<i32>,
    pub reason: Option<String>,
    pub details: Value,
}

/// Writes a change's audit row, in the change's transaction. A change that carries out a
/// pending one first closes it (approved), so both happen or neither does.
pub(crate) async fn record(
    conn: &mut PgConnection,
    change: &Change,
    action: &str,
    model: &str,
    version: Option<u32>,
    details: Value,
) -> Result<(), CatalogError> {
    if let Some(id) = change.approves {
        crate::approvals::close_approved(conn, id, change).await?;
    }
    record_entry(conn, change, action, Some(model), version, details).await
}

/// Writes one audit row; `model` is `None` for changes that belong to no model (tokens).
pub(crate) async fn record_entry(
    conn: &mut PgConnection,
    change: &Change,
    action: &str,
    model: Option<&str>,
    version: Option<u32>,
    details: Value,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO audit_log (actor, token, action, model, version, reason, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&change.actor)
    .bind(&change.token)
    .bind(action)
    .bind(model)
    .bind(version.map(|v| i32::try_from(v).unwrap_or(i32::MAX)))
    .bind(&change.reason)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

impl Catalog {
    /// The audit log, newest first, optionally for one model.
    pub async fn audit_log(&self, model: Option<&str>, page: &PageRequest) -> Result<Page<AuditEntry>, CatalogError> {
        self.audit_log_visible(model, None, page).await
    }

    /// As [`Catalog::audit_log`], of the models whose names match one of `visible` (SQL `LIKE`
    /// patterns; `None`: every entry, those of no model included).
    pub async fn audit_log_visible(
        &self,
        model: Option<&str>,
        visible: Option<&[String]>,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, CatalogError> {
        let limit = page.effective_limit();
        let before = match &page.cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        let rows = sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, token, action, model, version, reason, details FROM audit_log
             WHERE ($1::text IS NULL OR model = $1) AND ($2::bigint IS NULL OR id < $2)
               AND ($4::text[] IS NULL OR model LIKE ANY($4))
             ORDER BY id DESC LIMIT $3",
        )
        .bind(model)
        .bind(before)
        .bind(limit + 1)
        .bind(visible)
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_overfetch(rows, limit, |e| e.id.to_string()))
    }
}
