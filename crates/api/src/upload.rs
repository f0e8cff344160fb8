//! The multipart form of a version upload, read part by part into the registry's
//! [`VersionUpload`]: a `metadata` part (JSON, optional) is checked as soon as it has arrived,
//! so that when it comes first, a bad tag or digest is refused before the artifact is stored;
//! the `artifact` part is streamed.

use actix_multipart::{Field, Multipart, MultipartError};
use depot_domain::{ModelName, VersionMetadata};
use depot_serialization::object::JsonObject;
use depot_service::{Actor, Error, Registry, UploadDetails, Version};
use futures::TryStreamExt;

use crate::error::{ApiError, ErrorCode};
use crate::views::UploadMetadata;

/// Handles the body of `POST /v1/models/{name}/versions`.
pub async fn register_version(
    registry: &Registry,
    actor: &Actor,
    model: &ModelName,
    mut form: Multipart,
) -> Result<Version, ApiError> {
    // Refuses before reading a byte of the body when the model does not exist.
    let mut upload = registry.begin_upload(actor, model).await?;
    let (mut metadata_seen, mut artifact_seen) = (false, false);
    while let Some(field) = form.try_next().await.map_err(multipart_error)? {
        match field.name() {
            Some("metadata") if !metadata_seen => {
                metadata_seen = true;
                upload.details(read_metadata(field).await?)?;
            }
            Some("artifact") if !artifact_seen => {
                artifact_seen = true;
                upload.artifact(field.map_err(multipart_error)).await?;
            }
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
    Ok(upload.finish().await?)
}

async fn read_metadata(mut field: Field) -> Result<UploadDetails, ApiError> {
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
    let JsonObject(metadata) = serde_json::from_slice::<JsonObject<UploadMetadata>>(&buf)
        .map_err(|e| ApiError::new(ErrorCode::InvalidMetadata, format!("the 'metadata' part is not valid: {e}")))?;
    Ok(UploadDetails {
        description: metadata.description,
        tags: metadata.tags,
        metadata: metadata.metadata.into(),
        sha256: metadata.sha256,
    })
}

fn multipart_error(error: MultipartError) -> Error {
    match error {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => Error::new(
            ErrorCode::UnsupportedMediaType,
            "send the upload as multipart/form-data with a 'metadata' part (JSON, optional) and an 'artifact' part",
        ),
        other => Error::invalid(format!("the upload could not be read: {other}")),
    }
}
