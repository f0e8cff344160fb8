use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgConnection};

use crate::{Catalog, CatalogError, Page, PageRequest};

/// Who makes a change, and why. Recorded with the change in the audit log.
#[derive(Debug, Clone)]
pub struct Change {
    pub actor: String,
    pub reason: Option<String>,
}

/// One recorded change.
#[derive(Debug, Clone, FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub model: String,
    pub version: Option<i32>,
    pub reason: Option<String>,
    pub details: Value,
}

pub(crate) async fn record(
    conn: &mut PgConnection,
    change: &Change,
    action: &str,
    model: &str,
    version: Option<u32>,
    details: Value,
) -> Result<(), CatalogError> {
    sqlx::query(
        "INSERT INTO audit_log (actor, action, model, version, reason, details) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&change.actor)
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
        let limit = page.effective_limit();
        let before = match &page.cursor {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        let rows = sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, action, model, version, reason, details FROM audit_log
             WHERE ($1::text IS NULL OR model = $1) AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
        )
        .bind(model)
        .bind(before)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        Ok(Page::from_overfetch(rows, limit, |e| e.id.to_string()))
    }
}
