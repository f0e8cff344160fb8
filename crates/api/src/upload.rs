//! Registering a version: stream the artifact into staging storage while hashing and inspecting
//! it, then move it under its digest and record the version, or leave nothing behind.
//!
//! Memory stays bounded whatever the artifact's size: chunks flow from the request to the store
//! (a few parts in flight) and, through a small channel, to the inspector on a blocking thread.

use std::io::{self, Read};

use actix_multipart::{Field, Multipart, MultipartError};
use bytes::{Buf, Bytes};
use depot_catalog::{Change, NewVersion, Version};
use depot_domain::{Digest, ModelName, Sha256Hasher, Tags, VersionMetadata};
use depot_serialization::{Inspection, inspect};
use depot_storage::{ArtifactStore, StagingId};
use futures::TryStreamExt;
use tokio::sync::mpsc;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::views::UploadMetadata;

/// Chunks buffered between the request and the inspector thread.
const INSPECTOR_QUEUE: usize = 8;

/// An artifact fully written to staging storage, hashed and inspected.
struct Staged {
    guard: StagingGuard,
    digest: Digest,
    size: u64,
    inspection: Inspection,
}

/// Deletes a staging object unless the upload committed it; also when the request is dropped
/// half-way (the client went away).
struct StagingGuard {
    store: ArtifactStore,
    id: Option<StagingId>,
}

impl StagingGuard {
    fn id(&self) -> Option<StagingId> {
        self.id
    }

    fn disarm(&mut self) {
        self.id = None;
    }
}

impl Drop for StagingGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let store = self.store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.discard(id).await {
                    tracing::warn!(staging.id = %id, error = %error, "could not discard a staged upload");
                }
            });
        }
    }
}

/// Handles `POST /v1/models/{name}/versions`.
pub async fn register_version(
    state: &AppState,
    model: &ModelName,
    change: &Change,
    mut form: Multipart,
) -> Result<Version, ApiError> {
    // Refuse before reading a byte of the body when the model does not exist.
    state.catalog.get_model(model).await?;

    let mut metadata: Option<UploadMetadata> = None;
    let mut staged: Option<Staged> = None;
    while let Some(field) = form.try_next().await.map_err(multipart_error)? {
        match field.name() {
            Some("metadata") if metadata.is_none() => metadata = Some(read_metadata(field).await?),
            Some("artifact") if staged.is_none() => staged = Some(stream_artifact(state, field).await?),
            Some(name @ ("metadata" | "artifact")) => {
                return Err(ApiError::invalid(format!("the form has more than one '{name}' part")));
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "unexpected form part {:?}: send 'metadata' (JSON, optional) and 'artifact' (the file)",
                    other.unwrap_or("")
                )));
            }
        }
    }
    let staged = staged.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingArtifact,
            "the form has no 'artifact' part: send the model file as multipart/form-data part 'artifact'",
        )
    })?;
    let metadata = metadata.unwrap_or_default();
    commit(state, model, change, staged, metadata).await
}

async fn read_metadata(mut field: Field) -> Result<UploadMetadata, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        if buf.len() + chunk.len() > VersionMetadata::MAX_JSON_BYTES {
            return Err(ApiError::new(
                ErrorCode::InvalidMetadata,
                format!("the 'metadata' part is larger than {} bytes", VersionMetadata::MAX_JSON_BYTES),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&buf)
        .map_err(|e| ApiError::new(ErrorCode::InvalidMetadata, format!("the 'metadata' part is not valid: {e}")))
}

async fn stream_artifact(state: &AppState, mut field: Field) -> Result<Staged, ApiError> {
    let max = state.limits.max_artifact_bytes;
    let mut upload = state.store.begin_upload().await?;
    let mut guard = StagingGuard { store: state.store.clone(), id: None };
    let (sender, receiver) = mpsc::channel::<Bytes>(INSPECTOR_QUEUE);
    let limits = state.inspect_limits();
    let span = tracing::Span::current();
    let inspector = tokio::task::spawn_blocking(move || {
        let _entered = span.enter();
        let mut reader = ChannelReader { receiver, current: Bytes::new(), hasher: Sha256Hasher::default() };
        let inspection = inspect(&mut reader, &limits)?;
        Ok::<_, depot_serialization::InspectError>((inspection, reader.drain()))
    });

    let mut size: u64 = 0;
    while let Some(chunk) = field.try_next().await.map_err(multipart_error)? {
        size += chunk.len() as u64;
        if size > max {
            return Err(ApiError::new(
                ErrorCode::ArtifactTooLarge,
                format!("the artifact is larger than the limit of {max} bytes"),
            ));
        }
        if sender.send(chunk.clone()).await.is_err() {
            // The inspector stopped reading: the artifact was refused. Report why.
            break;
        }
        upload.write(chunk).await?;
    }
    drop(sender);
    let (inspection, (digest, hashed)) = inspector
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, "artifact inspection failed").with_source(e))??;
    if hashed != size {
        return Err(ApiError::new(ErrorCode::Internal, "artifact stream was cut short"));
    }
    guard.id = Some(upload.finish().await?);
    Ok(Staged { guard, digest, size, inspection })
}

async fn commit(
    state: &AppState,
    model: &ModelName,
    change: &Change,
    mut staged: Staged,
    upload: UploadMetadata,
) -> Result<Version, ApiError> {
    if let Some(expected) = &upload.sha256 {
        let expected = Digest::parse(expected)?;
        if expected != staged.digest {
            return Err(ApiError::new(
                ErrorCode::DigestMismatch,
                format!("the artifact's sha256 is {}, not the {expected} the request declared", staged.digest),
            ));
        }
    }
    let metadata = VersionMetadata::from(upload.metadata);
    metadata.validate()?;
    let new = NewVersion {
        size_bytes: staged.size,
        format: staged.inspection.format,
        servable: staged.inspection.servable(),
        unservable_reason: staged.inspection.unservable_reason(),
        signature: staged.inspection.signature.clone(),
        format_details: staged.inspection.onnx.as_ref().and_then(|o| serde_json::to_value(o).ok()),
        metadata,
        description: upload.description,
        tags: Tags::parse(&upload.tags)?,
    };
    let Some(staging) = staged.guard.id() else {
        return Err(ApiError::new(ErrorCode::Internal, "upload has no staged artifact"));
    };

    let mut lock = state.catalog.lock_digest(staged.digest).await?;
    let stored = state.store.commit(staging, staged.digest).await;
    let result = match stored {
        Ok(_) => {
            // The staging object is gone (moved or discarded): nothing left for the guard.
            staged.guard.disarm();
            match lock.insert_version(model, &new, change).await {
                Ok(version) => Ok(version),
                Err(error) => {
                    // Leave no blob that no version references.
                    if matches!(lock.forget_if_unreferenced().await, Ok(true))
                        && let Err(cleanup) = state.store.delete(staged.digest).await
                    {
                        tracing::error!(artifact.digest = %staged.digest, error = %cleanup, "could not delete an unreferenced artifact");
                    }
                    Err(error.into())
                }
            }
        }
        Err(error) => Err(error.into()),
    };
    lock.release().await;
    result
}

fn multipart_error(error: MultipartError) -> ApiError {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the upload as multipart/form-data with a 'metadata' part (JSON, optional) and an 'artifact' part",
        ),
        other => ApiError::invalid(format!("the upload could not be read: {other}")),
    }
}

/// Feeds chunks from the request to a blocking reader, hashing everything that passes.
struct ChannelReader {
    receiver: mpsc::Receiver<Bytes>,
    current: Bytes,
    hasher: Sha256Hasher,
}

impl ChannelReader {
    /// Consumes what the inspector did not read; returns the digest and length of everything.
    fn drain(mut self) -> (Digest, u64) {
        while let Some(chunk) = self.receiver.blocking_recv() {
            self.hasher.update(&chunk);
        }
        let len = self.hasher.len();
        (self.hasher.finish(), len)
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receiver.blocking_recv() {
                Some(chunk) => {
                    self.hasher.update(&chunk);
                    self.current = chunk;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
