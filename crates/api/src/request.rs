//! Reading who makes a change, and validated path parameters.

use actix_web::HttpRequest;
use depot_catalog::Change;
use depot_domain::{AliasName, ModelName, VersionNumber, VersionRef};

use crate::error::ApiError;

/// Header naming who makes a change; recorded in the audit log.
pub const ACTOR_HEADER: &str = "x-depot-actor";
/// Header saying why; recorded in the audit log.
pub const REASON_HEADER: &str = "x-depot-reason";
const MAX_HEADER_TEXT: usize = 256;

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

pub fn model_name(raw: &str) -> Result<ModelName, ApiError> {
    Ok(ModelName::parse(raw)?)
}

pub fn version_number(raw: &str) -> Result<VersionNumber, ApiError> {
    Ok(VersionNumber::parse(raw)?)
}

pub fn version_ref(raw: &str) -> Result<VersionRef, ApiError> {
    Ok(VersionRef::parse(raw)?)
}

pub fn alias_name(raw: &str) -> Result<AliasName, ApiError> {
    Ok(AliasName::parse(raw)?)
}
