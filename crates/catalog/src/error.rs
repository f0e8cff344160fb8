use depot_domain::{AliasName, ModelName, VersionNumber};

/// Failures of catalog operations.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("model '{name}' does not exist")]
    ModelNotFound { name: ModelName },
    #[error("model '{name}' has no version {version}")]
    VersionNotFound { name: ModelName, version: VersionNumber },
    #[error("model '{name}' already exists")]
    ModelExists { name: ModelName },
    #[error("model '{name}' still has {versions} version(s); delete them first or pass cascade=true")]
    ModelNotEmpty { name: ModelName, versions: i64 },
    #[error("model '{name}' has no alias '{alias}'")]
    AliasNotFound { name: ModelName, alias: AliasName },
    #[error("model '{name}' is not deployed")]
    NotDeployed { name: ModelName },
    #[error("model '{name}' has no canary")]
    NoCanary { name: ModelName },
    #[error(
        "nothing to roll back to: version {version} of '{name}' is the first one deployed; name a version to roll back to"
    )]
    NothingToRollBack { name: ModelName, version: VersionNumber },
    #[error("version {version} of '{name}' is in use by {}; move or remove them first", users.join(", "))]
    VersionInUse { name: ModelName, version: VersionNumber, users: Vec<String> },
    #[error("no token with id '{id}'")]
    TokenNotFound { id: String },
    #[error("principal '{principal}' already has a live token named '{name}'")]
    TokenExists { principal: depot_domain::Principal, name: String },
    #[error("no pending change {id}")]
    ApprovalNotFound { id: i64 },
    #[error("change {id} is no longer pending (approved, rejected or expired)")]
    ApprovalClosed { id: i64 },
    #[error("cursor {cursor:?} is not one this listing returned")]
    InvalidCursor { cursor: String },
    #[error("a text value contains a character the database cannot store (such as NUL, \\u0000); remove it")]
    UnstorableText(#[source] sqlx::Error),
    #[error("a stored row is invalid: {reason}")]
    Corrupt { reason: String },
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for CatalogError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                Self::Unavailable(error)
            }
            // The server is shutting down, restarting or refusing connections (SQLSTATE classes
            // 08, connection exception, and 57, operator intervention: 57P01 admin_shutdown when
            // PostgreSQL stops under a query): unavailable, not a fault in the query.
            error if sqlstate(&error).is_some_and(|code| code.starts_with("08") || code.starts_with("57")) => {
                Self::Unavailable(error)
            }
            sqlx::Error::Protocol(_) | sqlx::Error::WorkerCrashed => Self::Unavailable(error),
            // Text the database refuses (NUL in TEXT or JSONB): the request's, whichever field
            // a use case did not check itself.
            error if matches!(sqlstate(&error).as_deref(), Some("22P05" | "22021")) => Self::UnstorableText(error),
            error => Self::Database(error),
        }
    }
}

/// The SQLSTATE of a database error, if it is one.
pub(crate) fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error.as_database_error().and_then(|e| e.code()).map(|c| c.into_owned())
}

pub(crate) const UNIQUE_VIOLATION: &str = "23505";
pub(crate) const FOREIGN_KEY_VIOLATION: &str = "23503";
