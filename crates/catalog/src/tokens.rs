//! API tokens: only the SHA-256 of a token's secret is stored. Creating and revoking are
//! recorded in the audit log (`token.*`); a revocation is announced on the `depot_tokens`
//! channel by a trigger, so every replica drops its cached copy at once.

use chrono::{DateTime, Utc};
use depot_domain::{Grants, Principal};
use serde_json::json;
use sqlx::FromRow;

use crate::audit::record_entry;
use crate::error::{UNIQUE_VIOLATION, sqlstate};
use crate::{Catalog, CatalogError, Change, Page, PageRequest};

/// The channel token changes are announced on; the payload is the token's id.
pub const TOKENS_CHANNEL: &str = "depot_tokens";

/// A stored token (never its secret).
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub id: String,
    pub secret_hash: [u8; 32],
    pub name: String,
    pub principal: Principal,
    pub grants: Grants,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub id: String,
    pub secret_hash: [u8; 32],
    pub name: String,
    pub principal: Principal,
    pub grants: Grants,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct Row {
    id: String,
    secret_hash: Vec<u8>,
    name: String,
    principal: String,
    grants: serde_json::Value,
    created_at: DateTime<Utc>,
    created_by: String,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<String>,
}

const SELECT: &str = "SELECT id, secret_hash, name, principal, grants, created_at, created_by, expires_at,
        last_used_at, revoked_at, revoked_by FROM api_tokens";

impl TryFrom<Row> for TokenRecord {
    type Error = CatalogError;
    fn try_from(row: Row) -> Result<Self, Self::Error> {
        let corrupt = |what: &str| CatalogError::Corrupt { reason: format!("token {}: {what}", row.id) };
        Ok(Self {
            secret_hash: row.secret_hash.as_slice().try_into().map_err(|_| corrupt("hash"))?,
            principal: Principal::parse(&row.principal).map_err(|_| corrupt("principal"))?,
            grants: serde_json::from_value(row.grants.clone()).map_err(|_| corrupt("grants"))?,
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            created_by: row.created_by,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
            revoked_by: row.revoked_by,
        })
    }
}

fn grants_json(grants: &Grants) -> serde_json::Value {
    serde_json::to_value(grants).unwrap_or_default()
}

impl Catalog {
    pub async fn create_token(&self, new: &NewToken, change: &Change) -> Result<TokenRecord, CatalogError> {
        let mut tx = self.pool.begin().await?;
        insert(&mut tx, new, change).await?;
        tx.commit().await?;
        self.get_token(&new.id).await
    }

    /// Stores `new` only when no token exists at all (the first start of a fresh
    /// installation); replicas starting together create one between them.
    pub async fn create_first_token(&self, new: &NewToken, change: &Change) -> Result<bool, CatalogError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE api_tokens IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_tokens)").fetch_one(&mut *tx).await?;
        if any {
            return Ok(false);
        }
        insert(&mut tx, new, change).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get_token(&self, id: &str) -> Result<TokenRecord, CatalogError> {
        self.find_token(id).await?.ok_or_else(|| CatalogError::TokenNotFound { id: id.to_owned() })
    }

    pub async fn find_token(&self, id: &str) -> Result<Option<TokenRecord>, CatalogError> {
        sqlx::query_as::<_, Row>(&format!("{SELECT} WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(TokenRecord::try_from)
            .transpose()
    }

    /// Tokens in creation order (newest first), of one principal or all; revoked ones only when
    /// asked for.
    pub async fn list_tokens(
        &self,
        principal: Option<&Principal>,
        include_revoked: bool,
        page: &PageRequest,
    ) -> Result<Page<TokenRecord>, CatalogError> {
        let limit = page.effective_limit();
        let rows = sqlx::query_as::<_, Row>(&format!(
            "{SELECT} WHERE ($1::text IS NULL OR principal = $1) AND ($2 OR revoked_at IS NULL)
               AND ($3::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM api_tokens WHERE id = $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(principal.map(Principal::as_str))
        .bind(include_revoked)
        .bind(&page.cursor)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        if let Some(cursor) = &page.cursor
            && self.find_token(cursor).await?.is_none()
        {
            return Err(CatalogError::InvalidCursor { cursor: cursor.clone() });
        }
        let tokens = rows.into_iter().map(TokenRecord::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(tokens, limit, |t| t.id.clone()))
    }

    /// Revokes a token (again: no change). Every replica refuses it from the notification on.
    pub async fn revoke_token(&self, id: &str, change: &Change) -> Result<TokenRecord, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE api_tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 1 {
            record_entry(&mut tx, change, "token.revoke", None, None, json!({ "token": id })).await?;
        }
        tx.commit().await?;
        self.get_token(id).await
    }

    /// Notes that a token was used (callers do this at most once a minute per token).
    pub async fn touch_token(&self, id: &str) -> Result<(), CatalogError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}

async fn insert(conn: &mut sqlx::PgConnection, new: &NewToken, change: &Change) -> Result<(), CatalogError> {
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (id, secret_hash, name, principal, grants, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&new.id)
    .bind(&new.secret_hash[..])
    .bind(&new.name)
    .bind(new.principal.as_str())
    .bind(grants_json(&new.grants))
    .bind(&change.actor)
    .bind(new.expires_at)
    .execute(&mut *conn)
    .await;
    match inserted {
        Err(e) if sqlstate(&e).as_deref() == Some(UNIQUE_VIOLATION) => {
            return Err(CatalogError::TokenExists { principal: new.principal.clone(), name: new.name.clone() });
        }
        other => other?,
    };
    let details = json!({
        "token": new.id, "name": new.name, "principal": new.principal.as_str(),
        "grants": grants_json(&new.grants), "expires_at": new.expires_at,
    });
    record_entry(conn, change, "token.create", None, None, details).await
}
