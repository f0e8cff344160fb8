use depot_domain::Digest;
use object_store::path::Path;
use uuid::Uuid;

/// Every object Depot writes, and where it lives in the bucket. No part of a key is taken
/// verbatim from a request: digests and ids are parsed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKey {
    /// A committed artifact, addressed by content: `artifacts/sha256/ab/abcdef…`.
    Blob(Digest),
    /// An upload in progress or awaiting verification: `staging/<uuid>`.
    Staging(Uuid),
}

impl ArtifactKey {
    pub const BLOB_PREFIX: &'static str = "artifacts/sha256";
    pub const STAGING_PREFIX: &'static str = "staging";

    pub fn path(&self) -> Path {
        match self {
            Self::Blob(digest) => {
                let hex = digest.hex();
                Path::from(format!("{}/{}/{}", Self::BLOB_PREFIX, &hex[..2], hex))
            }
            Self::Staging(id) => Path::from(format!("{}/{}", Self::STAGING_PREFIX, id.simple())),
        }
    }

    /// The digest of a blob key, for listing; `None` for anything else.
    pub fn parse_blob(path: &Path) -> Option<Digest> {
        let rest = path.as_ref().strip_prefix(Self::BLOB_PREFIX)?.strip_prefix('/')?;
        let (_, hex) = rest.split_once('/')?;
        Digest::parse(hex).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_keys_round_trip() {
        let digest = Digest::of(b"model");
        let path = ArtifactKey::Blob(digest).path();
        assert!(path.as_ref().starts_with("artifacts/sha256/"));
        assert_eq!(ArtifactKey::parse_blob(&path), Some(digest));
        assert_eq!(ArtifactKey::parse_blob(&ArtifactKey::Staging(Uuid::nil()).path()), None);
    }
}
