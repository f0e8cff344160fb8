use depot_domain::Digest;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, Postgres};

use crate::{Catalog, CatalogError};

/// A session-level advisory lock held on a dedicated connection, so that it spans a database
/// commit *and* the object-store operation that must follow it. If its holder goes away without
/// [`AdvisoryLock::release`] (a cancelled request), the connection is closed rather than
/// returned to the pool, which makes PostgreSQL drop the lock.
#[derive(Debug)]
struct AdvisoryLock {
    conn: Option<PoolConnection<Postgres>>,
    key: i64,
}

impl AdvisoryLock {
    /// Waits for the lock of `key`.
    async fn take(catalog: &Catalog, key: i64) -> Result<Self, CatalogError> {
        let mut conn = catalog.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)").bind(key).execute(&mut *conn).await?;
        Ok(Self { conn: Some(conn), key })
    }

    /// The lock of `key` when no one holds it.
    async fn try_take(catalog: &Catalog, key: i64) -> Result<Option<Self>, CatalogError> {
        let mut conn = catalog.pool.acquire().await?;
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *conn).await?;
        Ok(taken.then(|| Self { conn: Some(conn), key }))
    }

    fn conn(&mut self) -> Result<&mut PgConnection, CatalogError> {
        self.conn
            .as_deref_mut()
            .ok_or_else(|| CatalogError::Corrupt { reason: "advisory lock already released".into() })
    }

    /// Releases the lock and returns the connection to the pool.
    async fn release(mut self) {
        if let Some(mut conn) = self.conn.take()
            && let Err(error) = sqlx::query("SELECT pg_advisory_unlock($1)").bind(self.key).execute(&mut *conn).await
        {
            tracing::warn!(error = %error, "releasing an advisory lock failed; closing its connection");
            drop(conn.detach());
        }
    }
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session releases its advisory locks.
            drop(conn.detach());
        }
    }
}

/// Exclusive right to change which versions reference one blob, and to store or delete it
/// (an [`AdvisoryLock`] keyed by the digest).
#[derive(Debug)]
pub struct DigestLock {
    lock: AdvisoryLock,
    digest: Digest,
}

fn lock_key(digest: &Digest) -> i64 {
    let hex = digest.hex();
    // The first 16 hex digits are a uniformly distributed 64-bit value.
    u64::from_str_radix(&hex[..16], 16).map(|v| v as i64).unwrap_or_default()
}

impl Catalog {
    /// Waits for and takes the lock of `digest`.
    pub async fn lock_digest(&self, digest: Digest) -> Result<DigestLock, CatalogError> {
        Ok(DigestLock { lock: AdvisoryLock::take(self, lock_key(&digest)).await?, digest })
    }
}

impl DigestLock {
    pub fn digest(&self) -> Digest {
        self.digest
    }

    pub(crate) fn conn(&mut self) -> Result<&mut PgConnection, CatalogError> {
        self.lock.conn()
    }

    /// Whether any version still references the blob.
    pub async fn is_referenced(&mut self) -> Result<bool, CatalogError> {
        let digest = self.digest.hex();
        let referenced = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM versions WHERE digest = $1)")
            .bind(digest)
            .fetch_one(self.conn()?)
            .await?;
        Ok(referenced)
    }

    /// Forgets the blob's row when nothing references it; returns whether it did (the caller then
    /// deletes the bytes, still under this lock).
    pub async fn forget_if_unreferenced(&mut self) -> Result<bool, CatalogError> {
        let digest = self.digest.hex();
        let deleted = sqlx::query(
            "DELETE FROM artifacts a WHERE a.digest = $1 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.digest = a.digest)",
        )
        .bind(digest)
        .execute(self.conn()?)
        .await?;
        Ok(deleted.rows_affected() == 1 || !self.is_referenced().await?)
    }

    /// Releases the lock and returns the connection to the pool.
    pub async fn release(self) {
        self.lock.release().await;
    }
}

/// The advisory lock key of the garbage collector (outside the digest keys' use: those are
/// hashes, so a clash is as likely as any two digests sharing 64 bits).
const SWEEP_KEY: i64 = 0x6465_706f_7467_6301; // "depotgc" + 1

/// The right to sweep storage: one holder among every replica and `depot gc` at a time.
#[derive(Debug)]
pub struct SweepLock(AdvisoryLock);

impl Catalog {
    /// Takes the sweep lock when no one holds it; `None` when another replica (or a
    /// `depot gc`) is sweeping.
    pub async fn try_lock_sweep(&self) -> Result<Option<SweepLock>, CatalogError> {
        Ok(AdvisoryLock::try_take(self, SWEEP_KEY).await?.map(SweepLock))
    }

    /// The digests some version references.
    pub async fn referenced_digests(&self) -> Result<std::collections::HashSet<Digest>, CatalogError> {
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT digest FROM versions").fetch_all(&self.pool).await?;
        rows.iter().map(|hex| parse_digest(hex)).collect()
    }

    /// The digests of the artifact rows (a blob the registry stored and has not forgotten).
    pub async fn artifact_digests(&self) -> Result<Vec<Digest>, CatalogError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT digest FROM artifacts").fetch_all(&self.pool).await?;
        rows.iter().map(|hex| parse_digest(hex)).collect()
    }
}

fn parse_digest(hex: &str) -> Result<Digest, CatalogError> {
    Digest::parse(hex).map_err(|_| CatalogError::Corrupt { reason: format!("digest {hex:?}") })
}

impl SweepLock {
    pub async fn release(self) {
        self.0.release().await;
    }
}
