//! Depot's catalog: models, versions, artifact references and the audit log, in PostgreSQL.
//!
//! All registry state lives here, so any number of stateless replicas can share it. Every
//! change is written together with its audit entry in one transaction. Blob lifetimes are
//! decided here too: a blob may be deleted only while its digest lock ([`DigestLock`]) is held
//! and no version references it.
//!
//! This crate is the only one that knows `sqlx`. It knows nothing of HTTP, object storage or
//! model formats beyond the domain types.

mod approvals;
mod audit;
mod connect;
mod deployments;
mod error;
mod lock;
mod models;
mod page;
mod protection;
mod tokens;
mod versions;

pub use approvals::{ChangeKind, PendingChange, PendingFilter, Proposal};
pub use audit::{AuditEntry, Change};
pub use connect::{Catalog, DatabaseConfig};
pub use deployments::{Alias, Canary, ChangeListener, Deployment, Notification, SERVING_CHANNEL};
pub use error::CatalogError;
pub use lock::{DigestLock, SweepLock};
pub use models::{Model, ModelFilter, ModelPatch, NewModel};
pub use page::{Page, PageRequest, SortOrder};
pub use protection::Protection;
pub use tokens::{NewToken, TOKENS_CHANNEL, TokenRecord};
pub use versions::{DeletedVersion, NewVersion, Version, VersionPatch};
