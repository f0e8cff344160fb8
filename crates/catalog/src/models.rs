use chrono::{DateTime, Utc};
use depot_domain::{ModelName, Tags};
use serde_json::json;
use sqlx::FromRow;

use crate::audit::record;
use crate::error::{FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, sqlstate};
use crate::{Catalog, CatalogError, Change, Page, PageRequest};

/// A registered model.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: ModelName,
    pub description: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub version_count: i64,
    pub latest_version: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct NewModel {
    pub name: ModelName,
    pub description: String,
    pub tags: Tags,
}

/// Fields to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ModelPatch {
    pub description: Option<String>,
    pub tags: Option<Tags>,
}

/// Which models to list.
#[derive(Debug, Clone, Default)]
pub struct ModelFilter {
    pub name_prefix: Option<String>,
    pub tag: Option<String>,
    /// SQL `LIKE` patterns of the names the caller may see; `None` for all.
    pub visible: Option<Vec<String>>,
}

#[derive(FromRow)]
struct ModelRow {
    name: String,
    description: String,
    tags: Vec<String>,
    created_at: DateTime<Utc>,
    created_by: String,
    updated_at: DateTime<Utc>,
    version_count: i64,
    latest_version: Option<i32>,
}

impl TryFrom<ModelRow> for Model {
    type Error = CatalogError;
    fn try_from(row: ModelRow) -> Result<Self, Self::Error> {
        Ok(Self {
            name: ModelName::parse(&row.name).map_err(|e| CatalogError::Corrupt { reason: e.to_string() })?,
            description: row.description,
            tags: row.tags,
            created_at: row.created_at,
            created_by: row.created_by,
            updated_at: row.updated_at,
            version_count: row.version_count,
            latest_version: row.latest_version.and_then(|v| u32::try_from(v).ok()),
        })
    }
}

const SELECT_MODEL: &str = "SELECT m.name, m.description, m.tags, m.created_at, m.created_by, m.updated_at,
        (SELECT count(*) FROM versions v WHERE v.model_id = m.id) AS version_count,
        (SELECT max(version) FROM versions v WHERE v.model_id = m.id) AS latest_version
    FROM models m";

impl Catalog {
    pub async fn create_model(&self, new: &NewModel, change: &Change) -> Result<Model, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query("INSERT INTO models (name, description, tags, created_by) VALUES ($1, $2, $3, $4)")
            .bind(new.name.as_str())
            .bind(&new.description)
            .bind(new.tags.to_strings())
            .bind(&change.actor)
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if sqlstate(&e).as_deref() == Some(UNIQUE_VIOLATION) => {
                return Err(CatalogError::ModelExists { name: new.name.clone() });
            }
            other => other?,
        };
        let details = json!({ "description": new.description, "tags": new.tags.to_strings() });
        record(&mut tx, change, "model.create", new.name.as_str(), None, details).await?;
        tx.commit().await?;
        self.get_model(&new.name).await
    }

    pub async fn get_model(&self, name: &ModelName) -> Result<Model, CatalogError> {
        sqlx::query_as::<_, ModelRow>(&format!("{SELECT_MODEL} WHERE m.name = $1"))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| CatalogError::ModelNotFound { name: name.clone() })?
            .try_into()
    }

    /// Models in name order.
    pub async fn list_models(&self, filter: &ModelFilter, page: &PageRequest) -> Result<Page<Model>, CatalogError> {
        let limit = page.effective_limit();
        // The cursor is the last name listed, so anything that is no model name is not one.
        let after = match &page.cursor {
            None => None,
            Some(c) => Some(ModelName::parse(c).map_err(|_| CatalogError::InvalidCursor { cursor: c.clone() })?),
        };
        let rows = sqlx::query_as::<_, ModelRow>(&format!(
            "{SELECT_MODEL}
             WHERE ($1::text IS NULL OR starts_with(m.name, $1))
               AND ($2::text IS NULL OR m.tags @> ARRAY[$2])
               AND ($3::text IS NULL OR m.name > $3)
               AND ($5::text[] IS NULL OR m.name LIKE ANY($5))
             ORDER BY m.name LIMIT $4"
        ))
        .bind(&filter.name_prefix)
        .bind(&filter.tag)
        .bind(after.as_ref().map(ModelName::as_str))
        .bind(limit + 1)
        .bind(&filter.visible)
        .fetch_all(&self.pool)
        .await?;
        let models = rows.into_iter().map(Model::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(models, limit, |m| m.name.to_string()))
    }

    pub async fn update_model(
        &self,
        name: &ModelName,
        patch: &ModelPatch,
        change: &Change,
    ) -> Result<Model, CatalogError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE models SET description = COALESCE($2, description), tags = COALESCE($3, tags), updated_at = now()
             WHERE name = $1",
        )
        .bind(name.as_str())
        .bind(&patch.description)
        .bind(patch.tags.as_ref().map(Tags::to_strings))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(CatalogError::ModelNotFound { name: name.clone() });
        }
        let details = json!({ "description": patch.description, "tags": patch.tags.as_ref().map(Tags::to_strings) });
        record(&mut tx, change, "model.update", name.as_str(), None, details).await?;
        tx.commit().await?;
        self.get_model(name).await
    }

    /// Deletes a model that has no versions left.
    pub async fn delete_model(&self, name: &ModelName, change: &Change) -> Result<(), CatalogError> {
        let mut tx = self.pool.begin().await?;
        let versions: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM versions v WHERE v.model_id = m.id) FROM models m WHERE m.name = $1 FOR UPDATE",
        )
        .bind(name.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        match versions {
            None => return Err(CatalogError::ModelNotFound { name: name.clone() }),
            Some(n) if n > 0 => return Err(CatalogError::ModelNotEmpty { name: name.clone(), versions: n }),
            Some(_) => {}
        }
        let deleted = sqlx::query("DELETE FROM models WHERE name = $1").bind(name.as_str()).execute(&mut *tx).await;
        match deleted {
            // A version was committed between the count and the delete.
            Err(e) if sqlstate(&e).as_deref() == Some(FOREIGN_KEY_VIOLATION) => {
                return Err(CatalogError::ModelNotEmpty { name: name.clone(), versions: 1 });
            }
            other => other?,
        };
        record(&mut tx, change, "model.delete", name.as_str(), None, json!({})).await?;
        tx.commit().await?;
        Ok(())
    }
}
