use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use depot_domain::Digest;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{ArtifactKey, StorageConfig, StorageError};

/// Identifies a staged upload.
pub type StagingId = Uuid;

/// The bytes of a blob, streamed.
pub type BlobStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// Chunk size when streaming a blob from a local file.
const FILE_READ_CHUNK: usize = 1024 * 1024;
/// Chunks read ahead of the consumer when streaming a local file: lets the disk read overlap
/// the socket write, and bounds a download's buffers to about `FILE_READ_CHUNK * (this + 2)`.
const FILE_READ_AHEAD: usize = 2;

/// Size of the parts a staged upload sends; also the most it buffers per part.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// Parts of one upload in flight at once: bounds an upload's memory to about
/// `PART_SIZE * (MAX_PARTS_IN_FLIGHT + 1)`.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// Content-addressed artifact storage over any [`ObjectStore`].
#[derive(Clone)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: its unfinished uploads are files object_store does not
    /// list (`staging/<id>#<n>`), which a crash leaves behind.
    local_root: Option<std::path::PathBuf>,
}

/// A stored blob and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobObject {
    pub digest: Digest,
    pub size: u64,
}

/// A staging object: an upload in progress, or one abandoned (a crash, a lost client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagingObject {
    /// Its key, for reports.
    pub key: String,
    pub size: u64,
    /// When it was last written to.
    pub modified: DateTime<Utc>,
    location: StagingLocation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum StagingLocation {
    Object(Path),
    /// A local store's unfinished multipart upload.
    PartialFile(std::path::PathBuf),
}

impl fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactStore").field("store", &self.store.to_string()).finish()
    }
}

impl ArtifactStore {
    pub fn from_config(config: &StorageConfig) -> Result<Self, StorageError> {
        Ok(Self::from_object_store(config.build()?).with_local_root(config.local_root()))
    }

    /// Wraps an existing store (tests use this to inject faults).
    pub fn from_object_store(store: Arc<dyn ObjectStore>) -> Self {
        Self { store, local_root: None }
    }

    /// The directory `store` keeps its files in, when it is a local store.
    pub(crate) fn with_local_root(mut self, root: Option<std::path::PathBuf>) -> Self {
        self.local_root = root;
        self
    }

    /// Starts streaming a new artifact into a staging object.
    pub async fn begin_upload(&self) -> Result<StagedUpload, StorageError> {
        let id = Uuid::new_v4();
        let path = ArtifactKey::Staging(id).path();
        let upload =
            self.store.put_multipart(&path).await.map_err(|e| StorageError::backend("put_multipart", &path, e))?;
        Ok(StagedUpload { id, path, writer: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)), written: 0 })
    }

    /// Moves a finished staging object under its digest. Returns `false` when the blob already
    /// existed (the staging copy is then discarded). The caller must hold the digest's lock so
    /// that no concurrent delete of the same blob interleaves.
    pub async fn commit(&self, staging: StagingId, digest: Digest) -> Result<bool, StorageError> {
        let from = ArtifactKey::Staging(staging).path();
        if self.exists(digest).await? {
            self.discard(staging).await?;
            return Ok(false);
        }
        let to = ArtifactKey::Blob(digest).path();
        self.store.rename(&from, &to).await.map_err(|e| StorageError::backend("rename", &from, e))?;
        Ok(true)
    }

    /// Deletes a staging object; a missing one is not an error.
    pub async fn discard(&self, staging: StagingId) -> Result<(), StorageError> {
        self.delete_path(&ArtifactKey::Staging(staging).path()).await
    }

    /// Opens a blob for streaming: its size and its bytes.
    pub async fn open(&self, digest: Digest) -> Result<(u64, BlobStream), StorageError> {
        let path = ArtifactKey::Blob(digest).path();
        let result = self.store.get(&path).await.map_err(|e| StorageError::backend("get", &path, e))?;
        let size = result.meta.size;
        let stream = match result.payload {
            // object_store streams local files 8 KiB at a time, each read handed to a blocking
            // thread: a tenth of the disk's speed. Read them in large chunks instead, on one
            // blocking thread that keeps a few chunks ahead of the socket.
            GetResultPayload::File(file, _) => {
                read_ahead(file, result.range.start, result.range.end - result.range.start, path.to_string())
            }
            GetResultPayload::Stream(stream) => stream.map_err(move |e| StorageError::backend("get", &path, e)).boxed(),
        };
        Ok((size, stream))
    }

    /// Reads a whole blob into memory (for loading a model into a runtime).
    pub async fn read(&self, digest: Digest) -> Result<Bytes, StorageError> {
        let path = ArtifactKey::Blob(digest).path();
        let result = self.store.get(&path).await.map_err(|e| StorageError::backend("get", &path, e))?;
        result.bytes().await.map_err(|e| StorageError::backend("get", &path, e))
    }

    pub async fn exists(&self, digest: Digest) -> Result<bool, StorageError> {
        let path = ArtifactKey::Blob(digest).path();
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(StorageError::backend("head", &path, e)),
        }
    }

    /// Deletes a blob; a missing one is not an error. The caller must hold the digest's lock and
    /// have made sure nothing references it any more.
    pub async fn delete(&self, digest: Digest) -> Result<(), StorageError> {
        self.delete_path(&ArtifactKey::Blob(digest).path()).await
    }

    /// A cheap round trip that fails when the store is unreachable or the credentials are wrong.
    pub async fn check(&self) -> Result<(), StorageError> {
        let prefix = Path::from(ArtifactKey::STAGING_PREFIX);
        self.store.list_with_delimiter(Some(&prefix)).await.map_err(|e| StorageError::backend("list", &prefix, e))?;
        Ok(())
    }

    /// Every stored blob.
    pub async fn list_blobs(&self) -> Result<Vec<Digest>, StorageError> {
        let prefix = Path::from(ArtifactKey::BLOB_PREFIX);
        self.store
            .list(Some(&prefix))
            .map_err(|e| StorageError::backend("list", &prefix, e))
            .try_filter_map(|meta| async move { Ok(ArtifactKey::parse_blob(&meta.location)) })
            .try_collect()
            .await
    }

    /// Every stored blob with its size.
    pub async fn list_blob_objects(&self) -> Result<Vec<BlobObject>, StorageError> {
        let prefix = Path::from(ArtifactKey::BLOB_PREFIX);
        self.store
            .list(Some(&prefix))
            .map_err(|e| StorageError::backend("list", &prefix, e))
            .try_filter_map(|meta| async move {
                Ok(ArtifactKey::parse_blob(&meta.location).map(|digest| BlobObject { digest, size: meta.size }))
            })
            .try_collect()
            .await
    }

    /// Every staging object with when it was last written: uploads in progress and abandoned
    /// ones, including a local store's unfinished multipart files. (An S3 multipart upload
    /// that was never completed is invisible here: a bucket lifecycle rule aborts those.)
    pub async fn list_staging(&self) -> Result<Vec<StagingObject>, StorageError> {
        let prefix = Path::from(ArtifactKey::STAGING_PREFIX);
        let mut objects: Vec<StagingObject> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| StagingObject {
                key: meta.location.to_string(),
                size: meta.size,
                modified: meta.last_modified,
                location: StagingLocation::Object(meta.location),
            })
            .map_err(|e| StorageError::backend("list", &prefix, e))
            .try_collect()
            .await?;
        if let Some(root) = &self.local_root {
            objects.extend(partial_files(&root.join(ArtifactKey::STAGING_PREFIX))?);
        }
        Ok(objects)
    }

    /// Deletes a staging object; one already gone is not an error.
    pub async fn delete_staging(&self, object: &StagingObject) -> Result<(), StorageError> {
        match &object.location {
            StagingLocation::Object(path) => self.delete_path(path).await,
            StagingLocation::PartialFile(file) => match tokio::fs::remove_file(file).await {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(StorageError::Local { path: file.display().to_string(), source: e }),
            },
        }
    }

    async fn delete_path(&self, path: &Path) -> Result<(), StorageError> {
        match self.store.delete(path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StorageError::backend("delete", path, e)),
        }
    }
}

/// Streams `len` bytes of a local file from `offset`: one blocking thread reads
/// [`FILE_READ_CHUNK`]s straight into the buffers it sends (no second copy, unlike
/// `tokio::fs::File`), at most [`FILE_READ_AHEAD`] ahead of the consumer. When the consumer
/// goes away, the next send fails and the thread stops.
fn read_ahead(file: std::fs::File, offset: u64, len: u64, key: String) -> BlobStream {
    use std::io::{Read, Seek, SeekFrom};

    let (sender, receiver) = mpsc::channel::<Result<Bytes, StorageError>>(FILE_READ_AHEAD);
    let read_error = move |e: std::io::Error| StorageError::Backend {
        operation: "read",
        key: key.clone(),
        source: object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(e) },
    };
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        if let Err(e) = file.seek(SeekFrom::Start(offset)) {
            let _ = sender.blocking_send(Err(read_error(e)));
            return;
        }
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(FILE_READ_CHUNK);
            let mut buf = Vec::with_capacity(want);
            // `read_to_end` on a `File` reads into the spare capacity without zeroing it first.
            let chunk = match file.by_ref().take(want as u64).read_to_end(&mut buf) {
                Ok(0) => Err(read_error(std::io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    left -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(read_error(e)),
            };
            let failed = chunk.is_err();
            if sender.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) })
        .boxed()
}

/// A local store's unfinished multipart uploads in `dir`: files named `<id>#<n>`, which
/// object_store's listing skips.
fn partial_files(dir: &std::path::Path) -> Result<Vec<StagingObject>, StorageError> {
    let local = |e: std::io::Error| StorageError::Local { path: dir.display().to_string(), source: e };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(local(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(local)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let partial = name.split_once('#').is_some_and(|(id, n)| {
            Uuid::try_parse(id).is_ok() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())
        });
        let Ok(meta) = entry.metadata() else { continue };
        if !partial || !meta.is_file() {
            continue;
        }
        let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or_else(|_| Utc::now());
        found.push(StagingObject {
            key: format!("{}/{name}", ArtifactKey::STAGING_PREFIX),
            size: meta.len(),
            modified,
            location: StagingLocation::PartialFile(entry.path()),
        });
    }
    Ok(found)
}

/// An artifact being streamed into a staging object.
///
/// Dropped without [`StagedUpload::finish`] (a failed request, a client that went away), the
/// upload is aborted in the background so no partial object is left behind.
pub struct StagedUpload {
    id: StagingId,
    path: Path,
    writer: Option<WriteMultipart>,
    written: u64,
}

impl fmt::Debug for StagedUpload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StagedUpload").field("id", &self.id).field("written", &self.written).finish()
    }
}

impl StagedUpload {
    /// Appends a chunk, waiting while too many parts are in flight (back-pressure on the client).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        let writer = self.writer.as_mut().ok_or_else(|| StorageError::NotFound { key: self.path.to_string() })?;
        writer
            .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
            .await
            .map_err(|e| StorageError::backend("put_part", &self.path, e))?;
        self.written += chunk.len() as u64;
        writer.put(chunk);
        Ok(())
    }

    /// Completes the upload: the staging object becomes visible.
    pub async fn finish(mut self) -> Result<StagingId, StorageError> {
        let writer = self.writer.take().ok_or_else(|| StorageError::NotFound { key: self.path.to_string() })?;
        writer.finish().await.map_err(|e| StorageError::backend("complete_multipart", &self.path, e))?;
        Ok(self.id)
    }
}

impl Drop for StagedUpload {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let path = self.path.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(handle) => {
                    handle.spawn(async move {
                        if let Err(error) = writer.abort().await {
                            tracing::warn!(staging.key = %path, error = %error, "aborting a dropped upload failed");
                        }
                    });
                }
                Err(_) => tracing::warn!(staging.key = %path, "upload dropped outside a runtime; not aborted"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::local::LocalFileSystem;

    use super::*;

    #[tokio::test]
    async fn a_local_blob_streams_back_whole_in_chunks_of_at_most_the_read_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::from_object_store(Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap()));
        // Two and a half read chunks plus a few bytes, written in uneven pieces.
        let data: Vec<u8> = (0..FILE_READ_CHUNK * 5 / 2 + 3).map(|i| (i * 31 % 251) as u8).collect();
        let mut upload = store.begin_upload().await.unwrap();
        for piece in data.chunks(300_007) {
            upload.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let staging = upload.finish().await.unwrap();
        let digest = Digest::of(&data);
        assert!(store.commit(staging, digest).await.unwrap());

        let (size, stream) = store.open(digest).await.unwrap();
        assert_eq!(size, data.len() as u64);
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert_eq!(
            chunks.iter().map(Bytes::len).collect::<Vec<_>>(),
            [FILE_READ_CHUNK, FILE_READ_CHUNK, FILE_READ_CHUNK / 2 + 3]
        );
        assert_eq!(chunks.concat(), data);
    }
}
