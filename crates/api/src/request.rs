//! Reading requests: who makes a change and why, validated path parameters, bounded bodies.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use depot_domain::{AliasName, ModelName, VersionNumber, VersionRef};
use depot_service::Change;
use futures::StreamExt;

use crate::error::{ApiError, ErrorCode};

/// Header naming who makes a change; recorded in the audit log.
pub const ACTOR_HEADER: &str = "x-depot-actor";
/// Header saying why; recorded in the audit log.
pub const REASON_HEADER: &str = "x-depot-reason";
const MAX_HEADER_TEXT: usize = 256;
const MAX_REASON: usize = 1024;

/// The actor and reason of a change, from the request's headers. Without an actor header the
/// change is recorded as made by `anonymous`.
pub fn change_of(request: &HttpRequest) -> Result<Change, ApiError> {
    let header = |name: &str| -> Result<Option<String>, ApiError> {
        let Some(value) = request.headers().get(name) else { return Ok(None) };
        let text = value.to_str().map_err(|_| ApiError::invalid(format!("header {name} must be visible ASCII")))?;
        let text = text.trim();
        if text.len() > MAX_HEADER_TEXT {
            return Err(ApiError::invalid(format!("header {name} is longer than {MAX_HEADER_TEXT} characters")));
        }
        Ok((!text.is_empty()).then(|| text.to_owned()))
    };
    Ok(Change {
        actor: header(ACTOR_HEADER)?.unwrap_or_else(|| "anonymous".to_owned()),
        reason: header(REASON_HEADER)?,
    })
}

/// As [`change_of`], with a reason from the body that overrides the header's.
pub fn change_with(request: &HttpRequest, reason: Option<String>) -> Result<Change, ApiError> {
    let mut change = change_of(request)?;
    if let Some(reason) = reason.filter(|r| !r.trim().is_empty()) {
        if reason.len() > MAX_REASON {
            return Err(ApiError::invalid(format!("reason is longer than {MAX_REASON} characters")));
        }
        change.reason = Some(reason);
    }
    Ok(change)
}

pub fn model_name(raw: &str) -> Result<ModelName, ApiError> {
    Ok(ModelName::parse(raw)?)
}

pub fn version_number(raw: &str) -> Result<VersionNumber, ApiError> {
    Ok(VersionNumber::parse(raw)?)
}

/// A version number from a JSON body.
pub fn version_from_body(value: u32) -> Result<VersionNumber, ApiError> {
    version_number(&value.to_string())
}

pub fn version_ref(raw: &str) -> Result<VersionRef, ApiError> {
    Ok(VersionRef::parse(raw)?)
}

pub fn alias_name(raw: &str) -> Result<AliasName, ApiError> {
    Ok(AliasName::parse(raw)?)
}

/// The body's length as declared by `Content-Length`, if it is.
pub fn declared_length(request: &HttpRequest) -> Option<u64> {
    request.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Reads a request body up to `limit` bytes (413 beyond).
pub async fn read_body(request: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<BytesMut, ApiError> {
    let too_large =
        || ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body is larger than {limit} bytes"));
    let declared = declared_length(request).and_then(|length| usize::try_from(length).ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid(format!("the request body could not be read: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
