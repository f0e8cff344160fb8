//! Shared helpers: a fresh migrated database per test, a raw connection to it, and short ways
//! to make models and versions.

use depot_catalog::{Catalog, CatalogError, Change, DatabaseConfig, NewModel, NewVersion, Page, PageRequest};
use depot_domain::{ArtifactFormat, Digest, ModelName, Tags, VersionMetadata, VersionNumber};
use sqlx::{Connection, PgConnection};

/// The PostgreSQL server tests create their databases on.
pub fn postgres_url() -> String {
    std::env::var("DEPOT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A catalog over a database no other test uses.
#[derive(Debug)]
pub struct TestDb {
    pub catalog: Catalog,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let url =
            format!("{}/depot_test_catalog_{}", postgres_url().trim_end_matches('/'), uuid::Uuid::new_v4().simple());
        let catalog = connect(&url).await;
        Self { catalog, url }
    }

    /// A second catalog (another replica) over the same database.
    pub async fn replica(&self) -> Catalog {
        connect(&self.url).await
    }

    /// A plain connection to the test database, beside the catalog's pool.
    pub async fn raw(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.expect("raw connection to the test database")
    }

    /// Creates a model named `name`.
    pub async fn model(&self, name: &str) -> ModelName {
        let name = model_name(name);
        let new = NewModel { name: name.clone(), description: String::new(), tags: Tags::default() };
        self.catalog.create_model(&new, &change("tester")).await.expect("create model");
        name
    }

    /// Registers a version of `model` with the bytes `digest` names, under its lock.
    pub async fn version(&self, model: &ModelName, digest: Digest) -> VersionNumber {
        let mut lock = self.catalog.lock_digest(digest).await.expect("lock digest");
        let inserted = lock.insert_version(model, &new_version(), &change("tester")).await;
        lock.release().await;
        inserted.expect("insert version").version
    }

    /// A model with `count` versions, each with bytes of its own.
    pub async fn model_with_versions(&self, name: &str, count: u32) -> ModelName {
        let model = self.model(name).await;
        for n in 1..=count {
            self.version(&model, digest(&format!("{name}-{n}"))).await;
        }
        model
    }

    /// Rows in the audit log, counted by the database.
    pub async fn audit_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_log").fetch_one(&mut self.raw().await).await.expect("count")
    }

    /// Whether the artifacts table has a row for `digest`.
    pub async fn artifact_row(&self, digest: Digest) -> bool {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM artifacts WHERE digest = $1)")
            .bind(digest.hex())
            .fetch_one(&mut self.raw().await)
            .await
            .expect("artifact row")
    }
}

async fn connect(url: &str) -> Catalog {
    let config = DatabaseConfig {
        url: url.to_owned(),
        max_connections: 24,
        acquire_timeout_ms: 10_000,
        create_if_missing: true,
        migrate_on_start: true,
    };
    Catalog::connect(&config).await.unwrap_or_else(|e| panic!("connecting to {url}: {e:?} (is PostgreSQL up?)"))
}

pub fn model_name(name: &str) -> ModelName {
    ModelName::parse(name).expect("valid model name")
}

pub fn v(number: u32) -> VersionNumber {
    VersionNumber::new(number).expect("version numbers start at 1")
}

pub fn digest(seed: &str) -> Digest {
    Digest::of(seed.as_bytes())
}

pub fn change(actor: &str) -> Change {
    Change::by(actor)
}

pub fn new_version() -> NewVersion {
    NewVersion {
        size_bytes: 4,
        format: ArtifactFormat::Onnx,
        servable: true,
        unservable_reason: None,
        signature: None,
        format_details: None,
        metadata: VersionMetadata::default(),
        description: String::new(),
        tags: Tags::default(),
    }
}

pub fn page(limit: u32, cursor: Option<String>) -> PageRequest {
    PageRequest { limit, cursor }
}

/// Follows `next_cursor` from the first page to the last, returning every page. Fails the test
/// when a page is longer than `limit` or the walk does not end.
pub async fn walk<T>(
    limit: u32,
    mut fetch: impl AsyncFnMut(PageRequest) -> Result<Page<T>, CatalogError>,
) -> Vec<Vec<T>> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(page(limit, cursor)).await.expect("page");
        assert!(page.items.len() <= limit as usize, "a page of {} items for limit {limit}", page.items.len());
        pages.push(page.items);
        assert!(pages.len() <= 1_000, "the walk does not end");
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return pages,
        }
    }
}
