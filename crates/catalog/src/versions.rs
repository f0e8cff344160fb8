use chrono::{DateTime, Utc};
use depot_domain::{ArtifactFormat, BatchPolicy, Digest, ModelName, Signature, Tags, VersionMetadata, VersionNumber};
use serde_json::{Value, json};
use sqlx::FromRow;
use sqlx::types::Json;

use crate::audit::record;
use crate::{Catalog, CatalogError, Change, DigestLock, Page, PageRequest, SortOrder};

/// A registered version of a model. Its artifact never changes; its description, tags and
/// metadata may.
#[derive(Debug, Clone)]
pub struct Version {
    pub model: ModelName,
    pub version: VersionNumber,
    pub digest: Digest,
    pub size_bytes: u64,
    pub format: ArtifactFormat,
    pub servable: bool,
    pub unservable_reason: Option<String>,
    pub signature: Option<Signature>,
    /// Format details read from the artifact (for ONNX: IR version, opsets, producer).
    pub format_details: Option<Value>,
    pub metadata: VersionMetadata,
    pub description: String,
    pub tags: Vec<String>,
    /// Dynamic batching when serving, if enabled.
    pub batching: Option<BatchPolicy>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

/// What an upload registers; the number is assigned by the catalog.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub size_bytes: u64,
    pub format: ArtifactFormat,
    pub servable: bool,
    pub unservable_reason: Option<String>,
    pub signature: Option<Signature>,
    pub format_details: Option<Value>,
    pub metadata: VersionMetadata,
    pub description: String,
    pub tags: Tags,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct VersionPatch {
    pub description: Option<String>,
    pub tags: Option<Tags>,
    pub metadata: Option<VersionMetadata>,
    /// `Some(None)` turns batching off.
    pub batching: Option<Option<BatchPolicy>>,
}

/// What deleting a version left behind.
#[derive(Debug, Clone)]
pub struct DeletedVersion {
    pub digest: Digest,
    /// Whether another version still references the same bytes.
    pub blob_still_referenced: bool,
}

#[derive(FromRow)]
struct VersionRow {
    model: String,
    version: i32,
    digest: String,
    size_bytes: i64,
    format: String,
    servable: bool,
    unservable_reason: Option<String>,
    signature: Option<Json<Signature>>,
    onnx: Option<Value>,
    metadata: Json<VersionMetadata>,
    description: String,
    tags: Vec<String>,
    batching: Option<Json<BatchPolicy>>,
    created_at: DateTime<Utc>,
    created_by: String,
    updated_at: DateTime<Utc>,
}

impl TryFrom<VersionRow> for Version {
    type Error = CatalogError;
    fn try_from(row: VersionRow) -> Result<Self, Self::Error> {
        let corrupt = |reason: String| CatalogError::Corrupt { reason };
        Ok(Self {
            model: ModelName::parse(&row.model).map_err(|e| corrupt(e.to_string()))?,
            version: u32::try_from(row.version)
                .ok()
                .and_then(VersionNumber::new)
                .ok_or_else(|| corrupt(format!("version {}", row.version)))?,
            digest: Digest::parse(&row.digest).map_err(|e| corrupt(e.to_string()))?,
            size_bytes: u64::try_from(row.size_bytes).map_err(|e| corrupt(e.to_string()))?,
            format: ArtifactFormat::parse(&row.format).ok_or_else(|| corrupt(format!("format {}", row.format)))?,
            servable: row.servable,
            unservable_reason: row.unservable_reason,
            signature: row.signature.map(|s| s.0),
            format_details: row.onnx,
            metadata: row.metadata.0,
            description: row.description,
            tags: row.tags,
            batching: row.batching.map(|b| b.0),
            created_at: row.created_at,
            created_by: row.created_by,
            updated_at: row.updated_at,
        })
    }
}

const SELECT_VERSION: &str = "SELECT m.name AS model, v.version, v.digest, v.size_bytes, v.format, v.servable,
        v.unservable_reason, v.signature, v.onnx, v.metadata, v.description, v.tags, v.batching, v.created_at, v.created_by,
        v.updated_at
    FROM versions v JOIN models m ON m.id = v.model_id";

fn db_version(version: VersionNumber) -> i32 {
    i32::try_from(version.get()).unwrap_or(i32::MAX)
}

impl Catalog {
    pub async fn get_version(&self, model: &ModelName, version: VersionNumber) -> Result<Version, CatalogError> {
        let row = sqlx::query_as::<_, VersionRow>(&format!("{SELECT_VERSION} WHERE m.name = $1 AND v.version = $2"))
            .bind(model.as_str())
            .bind(db_version(version))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => row.try_into(),
            None => {
                self.get_model(model).await?;
                Err(CatalogError::VersionNotFound { name: model.clone(), version })
            }
        }
    }

    /// Versions of a model by number, newest first unless `order` says otherwise.
    pub async fn list_versions(
        &self,
        model: &ModelName,
        order: SortOrder,
        page: &PageRequest,
    ) -> Result<Page<Version>, CatalogError> {
        let limit = page.effective_limit();
        let after = match &page.cursor {
            None => None,
            Some(c) => Some(c.parse::<i32>().map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        // COALESCE rather than `$2 IS NULL OR ...`: an index range scan under every plan.
        let (condition, direction) = match order {
            SortOrder::Asc => ("v.version > COALESCE($2, 0)", "ASC"),
            SortOrder::Desc => ("v.version < COALESCE($2, 2147483647)", "DESC"),
        };
        let model_id: i64 = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
            .bind(model.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::ModelNotFound { name: model.clone() })?;
        let rows = sqlx::query_as::<_, VersionRow>(&format!(
            "{SELECT_VERSION} WHERE v.model_id = $1 AND {condition}
             ORDER BY v.version {direction} LIMIT $3"
        ))
        .bind(model_id)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let versions = rows.into_iter().map(Version::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(versions, limit, |v| v.version.to_string()))
    }

    pub async fn update_version(
        &self,
        model: &ModelName,
        version: VersionNumber,
        patch: &VersionPatch,
        change: &Change,
    ) -> Result<Version, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE versions v SET description = COALESCE($3, v.description), tags = COALESCE($4, v.tags),
                 metadata = COALESCE($5, v.metadata),
                 batching = CASE WHEN $6 THEN $7 ELSE v.batching END, updated_at = now()
             FROM models m WHERE m.id = v.model_id AND m.name = $1 AND v.version = $2",
        )
        .bind(model.as_str())
        .bind(db_version(version))
        .bind(&patch.description)
        .bind(patch.tags.as_ref().map(Tags::to_strings))
        .bind(patch.metadata.as_ref().map(Json))
        .bind(patch.batching.is_some())
        .bind(patch.batching.flatten().map(Json))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            drop(tx);
            self.get_version(model, version).await?;
            return Err(CatalogError::VersionNotFound { name: model.clone(), version });
        }
        let details = json!({
            "description": patch.description,
            "tags": patch.tags.as_ref().map(Tags::to_strings),
            "metadata": patch.metadata,
            "batching": patch.batching,
        });
        record(&mut tx, change, "version.update", model.as_str(), Some(version.get()), details).await?;
        tx.commit().await?;
        self.get_version(model, version).await
    }
}

impl DigestLock {
    /// Registers a new version of `model` pointing at this lock's blob, which the caller has
    /// already stored. Assigns the next number; concurrent inserts into one model serialise on
    /// the model row, so numbers have no gaps and are never reused.
    pub async fn insert_version(
        &mut self,
        model: &ModelName,
        new: &NewVersion,
        change: &Change,
    ) -> Result<Version, CatalogError> {
        let digest = self.digest();
        let size = i64::try_from(new.size_bytes).unwrap_or(i64::MAX);
        let conn = self.conn()?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let number: Option<(i64, i32)> = sqlx::query_as(
            "UPDATE models SET next_version = next_version + 1, updated_at = now() WHERE name = $1
             RETURNING id, next_version - 1",
        )
        .bind(model.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((model_id, number)) = number else {
            return Err(CatalogError::ModelNotFound { name: model.clone() });
        };
        sqlx::query("INSERT INTO artifacts (digest, size_bytes) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING")
            .bind(digest.hex())
            .bind(size)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO versions (model_id, version, digest, size_bytes, format, servable, unservable_reason,
                 signature, onnx, metadata, description, tags, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(model_id)
        .bind(number)
        .bind(digest.hex())
        .bind(size)
        .bind(new.format.as_str())
        .bind(new.servable)
        .bind(&new.unservable_reason)
        .bind(new.signature.as_ref().map(Json))
        .bind(&new.format_details)
        .bind(Json(&new.metadata))
        .bind(&new.description)
        .bind(new.tags.to_strings())
        .bind(&change.actor)
        .execute(&mut *tx)
        .await?;
        let version = u32::try_from(number)
            .ok()
            .and_then(VersionNumber::new)
            .ok_or_else(|| CatalogError::Corrupt { reason: format!("next_version of '{model}' is {number}") })?;
        let details = json!({ "digest": digest.to_string(), "size_bytes": new.size_bytes, "format": new.format });
        record(&mut tx, change, "version.create", model.as_str(), Some(version.get()), details).await?;
        let row =
            sqlx::query_as::<_, VersionRow>(&format!("{SELECT_VERSION} WHERE v.model_id = $1 AND v.version = $2"))
                .bind(model_id)
                .bind(number)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        row.try_into()
    }

    /// Deletes a version whose artifact is this lock's blob.
    pub async fn delete_version(
        &mut self,
        model: &ModelName,
        version: VersionNumber,
        change: &Change,
    ) -> Result<DeletedVersion, CatalogError> {
        let digest = self.digest();
        let conn = self.conn()?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let deleted = sqlx::query(
            "DELETE FROM versions v USING models m WHERE m.id = v.model_id AND m.name = $1 AND v.version = $2
             AND v.digest = $3",
        )
        .bind(model.as_str())
        .bind(db_version(version))
        .bind(digest.hex())
        .execute(&mut *tx)
        .await
        .map_err(|e| crate::deployments::in_use(e, model, version))?;
        if deleted.rows_affected() == 0 {
            return Err(CatalogError::VersionNotFound { name: model.clone(), version });
        }
        let details = json!({ "digest": digest.to_string() });
        record(&mut tx, change, "version.delete", model.as_str(), Some(version.get()), details).await?;
        let blob_still_referenced: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM versions WHERE digest = $1)")
                .bind(digest.hex())
                .fetch_one(&mut *tx)
                .await?;
        if !blob_still_referenced {
            sqlx::query("DELETE FROM artifacts WHERE digest = $1").bind(digest.hex()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(DeletedVersion { digest, blob_still_referenced })
    }
}
