//! Reading requests: who makes a change and why, validated path parameters, bounded bodies.

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use bytes::BytesMut;
use depot_domain::{AliasName, ModelName, VersionNumber, VersionRef};
use futures::StreamExt;

use crate::error::{ApiError, ErrorCode};

/// Header naming the person behind a request; honoured only from a trusted proxy
/// (`auth.trusted_proxies`), and recorded as the actor in the audit log.
pub const ACTOR_HEADER: &str = "x-depot-actor";
/// Header saying why; recorded in the audit log.
pub const REASON_HEADER: &str = "x-depot-reason";
const MAX_REASON: usize = 1024;

/// Why a change is made: the body's `reason`, else the `x-depot-reason` header.
pub fn reason(request: &HttpRequest, body: Option<String>) -> Result<Option<String>, ApiError> {
    let header = match request.headers().get(REASON_HEADER) {
        None => None,
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| ApiError::invalid(format!("header {REASON_HEADER} must be visible ASCII")))?;
            Some(text.trim().to_owned())
        }
    };
    let reason = body.filter(|r| !r.trim().is_empty()).or(header).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
        return Err(ApiError::invalid(format!("reason is longer than {MAX_REASON} characters")));
    }
    if reason.as_ref().is_some_and(|r| r.contains('\0')) {
        return Err(ApiError::invalid("reason contains a NUL character (\\u0000), which cannot be stored; remove it"));
    }
    Ok(reason)
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
