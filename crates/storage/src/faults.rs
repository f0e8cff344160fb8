//! A store wrapper that fails on demand, for tests of failure paths that a real store cannot
//! produce at will (a disk that fills up mid-upload, a rename that fails).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions,
    PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// What to break.
#[derive(Debug, Default)]
pub struct Faults {
    /// Fail every upload part once this many bytes were accepted across all uploads.
    pub fail_parts_after_bytes: AtomicU64,
    /// Fail renames (moving a staged upload under its digest).
    pub fail_renames: AtomicBool,
    /// Fail deletes of blobs (not of staging objects).
    pub fail_blob_deletes: AtomicBool,
}

impl Faults {
    pub fn none() -> Arc<Self> {
        Arc::new(Self { fail_parts_after_bytes: AtomicU64::new(u64::MAX), ..Default::default() })
    }
}

/// Wraps a store and injects the configured [`Faults`].
#[derive(Debug)]
pub struct FaultyStore {
    inner: Arc<dyn ObjectStore>,
    faults: Arc<Faults>,
    accepted: Arc<AtomicU64>,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn ObjectStore>, faults: Arc<Faults>) -> Self {
        Self { inner, faults, accepted: Arc::new(AtomicU64::new(0)) }
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

fn injected(what: &str) -> object_store::Error {
    object_store::Error::Generic { store: "FaultyStore", source: format!("injected fault: {what}").into() }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(FaultyUpload { inner, faults: self.faults.clone(), accepted: self.accepted.clone() }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        if self.faults.fail_blob_deletes.load(Ordering::SeqCst) {
            use futures::StreamExt;
            return locations
                .map(|location| {
                    let location = location?;
                    if location.as_ref().starts_with(crate::ArtifactKey::BLOB_PREFIX) {
                        Err(injected("delete"))
                    } else {
                        Ok(location)
                    }
                })
                .boxed();
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> object_store::Result<()> {
        if self.faults.fail_renames.load(Ordering::SeqCst) {
            return Err(injected("rename"));
        }
        self.inner.rename_opts(from, to, options).await
    }
}

#[derive(Debug)]
struct FaultyUpload {
    inner: Box<dyn MultipartUpload>,
    faults: Arc<Faults>,
    accepted: Arc<AtomicU64>,
}

#[async_trait]
impl MultipartUpload for FaultyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let total = self.accepted.fetch_add(data.content_length() as u64, Ordering::SeqCst);
        if total >= self.faults.fail_parts_after_bytes.load(Ordering::SeqCst) {
            return Box::pin(async { Err(injected("put_part")) });
        }
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

/// An artifact store over the configured backend with `faults` injected.
pub fn faulty_store(
    config: &crate::StorageConfig,
    faults: Arc<Faults>,
) -> Result<crate::ArtifactStore, crate::StorageError> {
    let inner = config.build()?;
    let store = crate::ArtifactStore::from_object_store(Arc::new(FaultyStore::new(inner, faults)));
    Ok(store.with_local_root(config.local_root()))
}
