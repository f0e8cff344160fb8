//! Who a request is from: the `Caller` extractors authenticate the bearer token (through
//! [`depot_service::Auth`]) before a handler runs, so an upload is refused before a byte is
//! read. What the caller may do is checked by the use cases, not here.

use actix_web::cookie::Cookie;
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::{AUTHORIZATION, COOKIE, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use depot_service::{Actor, Credentials};
use futures::TryFutureExt;
use futures::future::{Either, LocalBoxFuture, Ready, ready};

use crate::error::ApiError;
use crate::request::ACTOR_HEADER;
use crate::routes::console;
use crate::routes::oip::OipError;
use crate::state::AppState;

/// The caller of a registry route (any route but predictions and health).
#[derive(Debug)]
pub struct Caller(pub Actor);

/// The caller of a prediction route (which may not need a token, by configuration).
#[derive(Debug)]
pub struct Predictor(pub Actor);

impl Caller {
    /// The actor, with why it acts (recorded with a change).
    pub fn with_reason(self, reason: Option<String>) -> Actor {
        self.0.with_reason(reason)
    }
}

/// The token of an `Authorization: Bearer <token>` header. Any other header is as good as
/// none (a 401 that asks for a bearer token).
fn bearer(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A cookie's value, borrowed from the request's `Cookie` headers.
fn cookie<'r>(request: &'r HttpRequest, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim()).ok())
        .find(|cookie| cookie.name() == name)
        .and_then(|cookie| cookie.value_raw())
        .filter(|value| !value.is_empty())
}

/// What a request presents: its bearer token (else the console's session cookie), its peer, and
/// the actor a trusted proxy names. A request authenticated by the cookie that changes
/// something must echo the CSRF cookie in its header: a cross-site form or script sends the
/// cookies but cannot read that value.
fn credentials(request: &HttpRequest, predicting: bool) -> Result<Credentials<'_>, depot_service::Error> {
    let headers = request.headers();
    let bearer = match headers.get(AUTHORIZATION) {
        Some(value) => bearer(value),
        None => match cookie(request, console::SESSION_COOKIE) {
            Some(session) => {
                let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
                let echoed = headers.get(console::CSRF_HEADER).and_then(|v| v.to_str().ok());
                let expected = cookie(request, console::CSRF_COOKIE);
                if !safe && (echoed.is_none() || echoed != expected) {
                    return Err(depot_service::Error::new(
                        depot_service::ErrorCode::Forbidden,
                        "this request carries the console's session cookie but not its X-CSRF-Token header: \
                         refused as a possible cross-site request",
                    ));
                }
                Some(session)
            }
            None => None,
        },
    };
    Ok(Credentials {
        bearer,
        peer: request.peer_addr().map(|a| a.ip()),
        claimed_actor: headers.get(ACTOR_HEADER).and_then(|v| v.to_str().ok()).map(str::trim),
        predicting,
    })
}

/// Authenticates a request: at once when the token is in this replica's cache (no
/// allocation for the future), else after reading it from the database.
fn authenticate(request: &HttpRequest, predicting: bool) -> Authentication {
    let as_response = |request: &HttpRequest, e: depot_service::Error| -> actix_web::Error {
        if request.path().starts_with("/v2") { OipError(ApiError(e)).into() } else { ApiError(e).into() }
    };
    let Some(state) = request.app_data::<web::Data<AppState>>().cloned() else {
        let error = depot_service::Error::new(depot_service::ErrorCode::Internal, "internal error");
        return Either::Left(ready(Err(as_response(request, error))));
    };
    let presented = match credentials(request, predicting) {
        Ok(presented) => presented,
        Err(refused) => return Either::Left(ready(Err(as_response(request, refused)))),
    };
    if let Some(answer) = state.services.auth.authenticate_now(&presented) {
        return Either::Left(ready(answered(request, answer).map_err(|e| as_response(request, e))));
    }
    let request = request.clone();
    Either::Right(Box::pin(async move {
        let answer = match credentials(&request, predicting) {
            Ok(presented) => state.services.auth.authenticate(presented).await,
            Err(refused) => Err(refused),
        };
        answered(&request, answer).map_err(|e| as_response(&request, e))
    }))
}

type Authentication =
    Either<Ready<Result<Actor, actix_web::Error>>, LocalBoxFuture<'static, Result<Actor, actix_web::Error>>>;

/// Notes who the request is from for its log line (only an INFO line reads it: no allocation
/// for it otherwise).
fn answered(request: &HttpRequest, answer: Result<Actor, depot_service::Error>) -> Result<Actor, depot_service::Error> {
    if let Ok(actor) = &answer
        && tracing::enabled!(tracing::Level::INFO)
    {
        request.extensions_mut().insert(Authenticated(actor.principal_shared()));
    }
    answer
}

/// The principal a request was authenticated as, for its log line.
#[derive(Debug, Clone)]
pub(crate) struct Authenticated(pub std::sync::Arc<str>);

impl FromRequest for Caller {
    type Error = actix_web::Error;
    type Future = futures::future::MapOk<Authentication, fn(Actor) -> Caller>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(request, false).map_ok(Caller as fn(Actor) -> Caller)
    }
}

impl FromRequest for Predictor {
    type Error = actix_web::Error;
    type Future = futures::future::MapOk<Authentication, fn(Actor) -> Predictor>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        authenticate(request, true).map_ok(Predictor as fn(Actor) -> Predictor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bearer_credentials_are_read() {
        let value = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer(&value("Bearer depot_x")), Some("depot_x"));
        assert_eq!(bearer(&value("bearer   depot_x ")), Some("depot_x"));
        assert_eq!(bearer(&value("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer(&value("depot_x")), None);
    }
}
