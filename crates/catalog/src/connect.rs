use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::CatalogError;
use crate::error::sqlstate;

/// How to reach PostgreSQL.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Connections in this replica's pool.
    pub max_connections: u32,
    /// How long a request waits for a free connection before failing with 503.
    pub acquire_timeout_ms: u64,
    /// Create the database when it does not exist yet.
    pub create_if_missing: bool,
    /// Apply pending migrations at start-up (replicas serialise on a lock).
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/depot".to_owned(),
            max_connections: 16,
            acquire_timeout_ms: 5_000,
            create_if_missing: true,
            migrate_on_start: true,
        }
    }
}

/// The password never reaches a log line.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = match url::Url::parse(&self.url) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("REDACTED"));
                url.to_string()
            }
            Ok(url) => url.to_string(),
            Err(_) => "<unparseable>".to_owned(),
        };
        f.debug_struct("DatabaseConfig")
            .field("url", &url)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("create_if_missing", &self.create_if_missing)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// The catalog: a connection pool and the queries over it.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) pool: PgPool,
}

impl Catalog {
    /// Connects (creating the database first when configured to and it is missing) and applies
    /// migrations when configured to.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, CatalogError> {
        let options = PgConnectOptions::from_str(&config.url)?.log_statements(tracing::log::LevelFilter::Trace);
        if config.create_if_missing {
            create_database_if_missing(&options).await?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .connect_with(options)
            .await?;
        let catalog = Self { pool };
        if config.migrate_on_start {
            catalog.migrate().await?;
        }
        Ok(catalog)
    }

    /// Applies every migration in `migrations/` not applied yet.
    pub async fn migrate(&self) -> Result<(), CatalogError> {
        sqlx::migrate!("../../migrations").run(&self.pool).await?;
        Ok(())
    }

    /// A round trip to the database.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The pool now: connections in use, idle, and the most it opens.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let (size, idle) = (self.pool.size(), u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX));
        (size.saturating_sub(idle), idle, self.pool.options().get_max_connections())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), CatalogError> {
    let Some(name) = options.get_database().map(str::to_owned) else { return Ok(()) };
    let mut admin = options.clone().database("postgres").connect().await?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&mut admin)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match sqlx::query(&format!("CREATE DATABASE {quoted}")).execute(&mut admin).await {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another replica created it at the same moment.
            Err(e) if matches!(sqlstate(&e).as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    admin.close().await?;
    Ok(())
}
