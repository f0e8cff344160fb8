//! Registering a version: stream the artifact into staging storage while hashing and inspecting
//! it, then move it under its digest and record the version, or leave nothing behind.
//!
//! Memory stays bounded whatever the artifact's size: chunks flow from the caller's stream to
//! the store (a few parts in flight) and, through a small channel, to the inspector on a
//! blocking thread.

use std::io::{self, Read};

use bytes::{Buf, Bytes};
use depot_catalog::{Change, NewVersion, Version};
use depot_domain::Permission;

use crate::auth::Actor;
use depot_domain::{Digest, ModelName, Sha256Hasher, Tags, VersionMetadata};
use depot_serialization::{Inspection, inspect};
use depot_storage::{ArtifactStore, StagingId};
use futures::{Stream, TryStreamExt};
use tokio::sync::mpsc;

use super::Registry;
use crate::error::{Error, ErrorCode};

/// Batches buffered between the caller's stream and the inspector thread.
const INSPECTOR_QUEUE: usize = 4;

/// How many bytes of chunks go to the inspector thread at once. A multipart parser hands over
/// what arrived from the socket (tens of KiB); sending those one by one wakes the thread for
/// each. Batches share the chunks' memory with the store's writes: no copy.
const INSPECTOR_BATCH_BYTES: usize = 1024 * 1024;

/// What the uploader says about a version, as sent.
#[derive(Debug, Default)]
pub struct UploadDetails {
    pub description: String,
    pub tags: Vec<String>,
    pub metadata: VersionMetadata,
    /// The SHA-256 the uploader expects (hex, optionally `sha256:`-prefixed).
    pub sha256: Option<String>,
}

/// The details, checked.
#[derive(Debug)]
struct CheckedDetails {
    description: String,
    tags: Tags,
    metadata: VersionMetadata,
    sha256: Option<Digest>,
}

impl UploadDetails {
    fn check(self) -> Result<CheckedDetails, Error> {
        self.metadata.validate()?;
        depot_domain::check_text("description", &self.description)?;
        Ok(CheckedDetails {
            tags: Tags::parse(&self.tags)?,
            sha256: self.sha256.as_deref().map(Digest::parse).transpose()?,
            description: self.description,
            metadata: self.metadata,
        })
    }
}

/// One version being registered: [`Registry::begin_upload`], then [`details`](Self::details)
/// and [`artifact`](Self::artifact) in either order, then [`finish`](Self::finish). Details
/// given first are checked before a byte of the artifact is stored. Dropped before it
/// finishes (the client went away), it leaves nothing behind.
#[derive(Debug)]
pub struct VersionUpload {
    registry: Registry,
    model: ModelName,
    change: Change,
    details: Option<CheckedDetails>,
    staged: Option<Staged>,
    started: std::time::Instant,
    /// Whether its outcome went to the metrics (else dropping it counts a failure).
    counted: bool,
}

impl Drop for VersionUpload {
    fn drop(&mut self) {
        if !self.counted {
            self.registry.metrics.upload(false, 0, self.started.elapsed());
        }
    }
}

/// An artifact fully written to staging storage, hashed and inspected.
#[derive(Debug)]
struct Staged {
    guard: StagingGuard,
    digest: Digest,
    size: u64,
    inspection: Inspection,
}

/// Deletes a staging object unless the upload committed it; also when the upload is dropped
/// half-way.
#[derive(Debug)]
struct StagingGuard {
    store: ArtifactStore,
    id: Option<StagingId>,
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.discard(id).await {
                    tracing::warn!(staging.id = %id, error = %crate::error_chain(&error), "could not discard a staged upload");
                }
            });
        }
    }
}

impl Registry {
    /// Starts registering a version of `model`; refuses at once when the model does not exist.
    /// Needs the pusher role on the model.
    pub async fn begin_upload(&self, actor: &Actor, model: &ModelName) -> Result<VersionUpload, Error> {
        actor.require(Permission::Push, model)?;
        self.catalog.get_model(model).await?;
        let change = actor.change();
        Ok(VersionUpload {
            registry: self.clone(),
            model: model.clone(),
            change,
            details: None,
            staged: None,
            started: std::time::Instant::now(),
            counted: false,
        })
    }
}

impl VersionUpload {
    /// The uploader's details, checked now (tags, metadata, the declared digest's format).
    pub fn details(&mut self, details: UploadDetails) -> Result<(), Error> {
        if self.details.is_some() {
            return Err(Error::invalid("the upload's details were given twice"));
        }
        self.details = Some(details.check()?);
        Ok(())
    }

    /// Streams the artifact to staging storage while hashing and inspecting it. An artifact of
    /// no accepted format, a corrupt one or one over the limit stops the stream early.
    pub async fn artifact<S>(&mut self, stream: S) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        if self.staged.is_some() {
            return Err(Error::invalid("the upload has more than one artifact"));
        }
        self.staged = Some(self.stage(stream).await?);
        Ok(())
    }

    async fn stage<S>(&self, mut stream: S) -> Result<Staged, Error>
    where
        S: Stream<Item = Result<Bytes, Error>> + Unpin,
    {
        let store = &self.registry.store;
        let max = self.registry.limits.max_artifact_bytes;
        let mut upload = store.begin_upload().await?;
        let mut guard = StagingGuard { store: store.clone(), id: None };
        let (sender, receiver) = mpsc::channel::<Vec<Bytes>>(INSPECTOR_QUEUE);
        let limits = self.registry.limits.inspect;
        let span = tracing::Span::current();
        let inspector = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut reader = ChannelReader {
                receiver,
                batch: Vec::new().into_iter(),
                current: Bytes::new(),
                hasher: Sha256Hasher::default(),
            };
            let inspection = inspect(&mut reader, &limits)?;
            Ok::<_, depot_serialization::InspectError>((inspection, reader.drain()))
        });

        let mut size: u64 = 0;
        let (mut batch, mut batched) = (Vec::new(), 0);
        while let Some(chunk) = stream.try_next().await? {
            size += chunk.len() as u64;
            if size > max {
                return Err(Error::new(
                    ErrorCode::ArtifactTooLarge,
                    format!("the artifact is larger than the limit of {max} bytes"),
                ));
            }
            batched += chunk.len();
            batch.push(chunk.clone());
            if batched >= INSPECTOR_BATCH_BYTES {
                batched = 0;
                if sender.send(std::mem::take(&mut batch)).await.is_err() {
                    // The inspector stopped reading: the artifact was refused. Report why.
                    break;
                }
            }
            upload.write(chunk).await?;
        }
        if !batch.is_empty() {
            // Fails only when the inspector has stopped: its result says why.
            let _ = sender.send(batch).await;
        }
        drop(sender);
        let (inspection, (digest, hashed)) = inspector.await.map_err(Error::internal)??;
        if hashed != size {
            return Err(Error::internal(crate::error::Cause("the artifact stream was cut short".into())));
        }
        guard.id = Some(upload.finish().await?);
        Ok(Staged { guard, digest, size, inspection })
    }

    /// Moves the staged artifact under its digest and records the version, or leaves nothing
    /// behind.
    pub async fn finish(mut self) -> Result<Version, Error> {
        let mut staged = self.staged.take().ok_or_else(|| {
            Error::new(
                ErrorCode::MissingArtifact,
                "the form has no 'artifact' part: send the model file as multipart/form-data part 'artifact'",
            )
        })?;
        let details = match self.details.take() {
            Some(details) => details,
            None => UploadDetails::default().check()?,
        };
        if let Some(expected) = details.sha256
            && expected != staged.digest
        {
            return Err(Error::new(
                ErrorCode::DigestMismatch,
                format!("the artifact's sha256 is {}, not the {expected} the request declared", staged.digest),
            ));
        }
        let new = NewVersion {
            size_bytes: staged.size,
            format: staged.inspection.format,
            servable: staged.inspection.servable(),
            unservable_reason: staged.inspection.unservable_reason(),
            signature: staged.inspection.signature.clone(),
            format_details: staged.inspection.onnx.as_ref().and_then(|o| serde_json::to_value(o).ok()),
            metadata: details.metadata,
            description: details.description,
            tags: details.tags,
        };
        let Some(staging) = staged.guard.id else {
            return Err(Error::internal(crate::error::Cause("the upload has no staged artifact".into())));
        };

        let (catalog, store) = (&self.registry.catalog, &self.registry.store);
        let mut lock = catalog.lock_digest(staged.digest).await?;
        let result: Result<Version, Error> = match store.commit(staging, staged.digest).await {
            Ok(_) => {
                // The staging object is gone (moved or discarded): nothing left for the guard.
                staged.guard.id = None;
                match lock.insert_version(&self.model, &new, &self.change).await {
                    Ok(version) => Ok(version),
                    Err(error) => {
                        // Leave no blob that no version references.
                        if matches!(lock.forget_if_unreferenced().await, Ok(true))
                            && let Err(cleanup) = store.delete(staged.digest).await
                        {
                            tracing::error!(artifact.digest = %staged.digest, error = %crate::error_chain(&cleanup),
                                "could not delete an unreferenced artifact");
                        }
                        Err(error.into())
                    }
                }
            }
            Err(error) => Err(error.into()),
        };
        lock.release().await;
        self.counted = true;
        let bytes = result.as_ref().map_or(0, |v| v.size_bytes);
        self.registry.metrics.upload(result.is_ok(), bytes, self.started.elapsed());
        let version = result?;
        tracing::info!(model.name = %version.model, model.version = %version.version, artifact.digest = %version.digest,
            artifact.size_bytes = version.size_bytes, artifact.format = %version.format, "registered version");
        Ok(version)
    }
}

/// Feeds chunks from the caller to a blocking reader, hashing everything that passes.
struct ChannelReader {
    receiver: mpsc::Receiver<Vec<Bytes>>,
    /// The rest of the batch being read.
    batch: std::vec::IntoIter<Bytes>,
    current: Bytes,
    hasher: Sha256Hasher,
}

impl ChannelReader {
    /// Consumes what the inspector did not read; returns the digest and length of everything.
    fn drain(mut self) -> (Digest, u64) {
        for chunk in self.batch.by_ref() {
            self.hasher.update(&chunk);
        }
        while let Some(batch) = self.receiver.blocking_recv() {
            for chunk in batch {
                self.hasher.update(&chunk);
            }
        }
        let len = self.hasher.len();
        (self.hasher.finish(), len)
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if let Some(chunk) = self.batch.next() {
                self.hasher.update(&chunk);
                self.current = chunk;
                continue;
            }
            match self.receiver.blocking_recv() {
                Some(batch) => self.batch = batch.into_iter(),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
