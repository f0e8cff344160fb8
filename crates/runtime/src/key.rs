//! The identity of a loaded version, shared by every layer of the runtime.

use std::fmt;

use depot_domain::{Digest, ModelName, VersionNumber};

/// Identifies one loaded version: the model, the version number and the digest of the artifact
/// that was registered for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionKey {
    pub model: ModelName,
    pub version: VersionNumber,
    pub digest: Digest,
}

impl VersionKey {
    pub fn new(model: ModelName, version: VersionNumber, digest: Digest) -> Self {
        Self { model, version, digest }
    }
}

impl fmt::Display for VersionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.model, self.version)
    }
}
