/// Failures of the artifact store.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage configuration is invalid: {reason}")]
    Config { reason: String },
    #[error("object {key} does not exist")]
    NotFound { key: String },
    #[error("object store operation {operation} on {key} failed")]
    Backend {
        operation: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    /// A local store's file that object_store does not manage (an unfinished upload's).
    #[error("local storage file {path} could not be read or removed")]
    Local {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl StorageError {
    pub(crate) fn backend(
        operation: &'static str,
        key: &object_store::path::Path,
        source: object_store::Error,
    ) -> Self {
        match source {
            object_store::Error::NotFound { .. } => Self::NotFound { key: key.to_string() },
            source => Self::Backend { operation, key: key.to_string(), source },
        }
    }
}
