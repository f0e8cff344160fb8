//! Reading requests: who makes a change and why, validated path parameters, query strings and
//! JSON bodies, bounded bodies.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use bytes::BytesMut;
use depot_domain::{AliasName, ModelName, VersionNumber, VersionRef};
use depot_serialization::object::JsonObject;
use futures::future::{LocalBoxFuture, Ready, ready};
use futures::{FutureExt, StreamExt, TryFutureExt};
use serde::de::DeserializeOwned;

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

/// A JSON request body, which must be a JSON object (as every request schema in the document
/// says), deserialized into `T`. Under the application's `web::JsonConfig`: its size limit (413),
/// `Content-Type: application/json` required (415), and its error messages (400).
///
/// actix's own `web::Json<T>` would take a JSON array for a struct too (serde fills the fields
/// in order), so `[null, null]` passed for `{}`: see [`JsonObject`].
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        web::Json::<JsonObject<T>>::from_request(request, payload)
            .map_ok(|json| Json(json.into_inner().0))
            .boxed_local()
    }
}

/// An optional JSON request body: none at all (no `Content-Length`, or 0, and no
/// `Transfer-Encoding`) is `None`; anything else must be a [`Json`] body. (actix's
/// `Option<web::Json<T>>` turned every unreadable body into `None`, so a non-JSON body was
/// silently accepted.)
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
        if !chunked && declared_length(request).unwrap_or(0) == 0 {
            return ready(Ok(OptionalJson(None))).boxed_local();
        }
        Json::<T>::from_request(request, payload).map_ok(|json| OptionalJson(Some(json.0))).boxed_local()
    }
}

/// A query string deserialized into `T` (errors are the application's `web::QueryConfig`'s),
/// after refusing a parameter whose value has a NUL character, which PostgreSQL cannot take:
/// a 400 that names the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string()).map(web::Query::into_inner);
        let nul = pairs.unwrap_or_default().into_iter().find(|(_, value)| value.contains('\0'));
        if let Some((name, _)) = nul {
            let message = format!("query parameter {name} contains a NUL character (\\u0000); remove it");
            return ready(Err(ApiError::invalid(message).into()));
        }
        ready(web::Query::<T>::from_request(request, payload).into_inner().map(|query| Query(query.into_inner())))
    }
}
