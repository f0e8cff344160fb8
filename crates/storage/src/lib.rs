//! Depot's artifact storage: content-addressed blobs in any object store.
//!
//! Artifacts live under a typed key derived from their SHA-256 digest, so identical bytes are
//! stored once. Uploads stream into a staging object first (memory does not grow with the
//! artifact's size) and are moved under their digest once the caller has verified them.
//!
//! This crate is the only one that knows `object_store`. It knows nothing of HTTP, SQL or model
//! formats; which blobs are still referenced is the catalog's business.

mod config;
mod error;
#[cfg(feature = "test-support")]
pub mod faults;
mod keys;
mod store;

pub use config::StorageConfig;
pub use error::StorageError;
pub use keys::ArtifactKey;
pub use store::{ArtifactStore, BlobObject, BlobStream, StagedUpload, StagingId, StagingObject};
