//! The web console: three files built into the binary (so it works offline, with no second
//! server), and the session a browser logs in with.
//!
//! The session is the API token in an `HttpOnly` cookie (`depot_session`, which scripts cannot
//! read) beside a random `depot_csrf` cookie that the console's script can read and must echo in
//! `X-CSRF-Token` on every request that changes something (checked in `auth::credentials`): a
//! forged cross-site request carries the cookies but cannot know that value. Both cookies are
//! `SameSite=Strict`, and `Secure` when the request came over HTTPS. Every console response
//! sends a strict Content-Security-Policy: only the console's own script and style run.
//!
//! These routes are not part of the API's OpenAPI document: they serve a browser, not clients.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::Json;
use crate::state::AppState;
use crate::views::{GrantView, WhoAmI};

/// The cookie holding the API token.
pub const SESSION_COOKIE: &str = "depot_session";
/// The cookie whose value the console sends back in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "depot_csrf";
/// The header a cookie-authenticated request that changes something must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a browser session lasts (the token's own expiry and revocation still apply).
const SESSION_HOURS: i64 = 12;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../console/index.html");
const APP_JS: &str = include_str!("../../console/app.js");
const APP_CSS: &str = include_str!("../../console/app.css");

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/console", web::get().to(redirect))
        .route("/console/", web::get().to(index))
        .route("/console/assets/{file}", web::get().to(asset))
        .route("/console/session", web::post().to(log_in))
        .route("/console/session", web::delete().to(log_out));
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/console/")).finish()
}

async fn index(request: HttpRequest) -> HttpResponse {
    page(&request, "text/html; charset=utf-8", INDEX)
}

async fn asset(request: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match file.as_str() {
        "app.js" => Ok(page(&request, "text/javascript; charset=utf-8", APP_JS)),
        "app.css" => Ok(page(&request, "text/css; charset=utf-8", APP_CSS)),
        other => Err(ApiError::new(depot_service::ErrorCode::RouteNotFound, format!("no console file {other:?}"))),
    }
}

/// A console file with its security headers; revalidated by its ETag (the files change only
/// with the binary).
fn page(request: &HttpRequest, content_type: &'static str, body: &'static str) -> HttpResponse {
    let etag = format!("\"{}-{:x}\"", env!("CARGO_PKG_VERSION"), fnv1a(body.as_bytes()));
    let unchanged = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag));
    if unchanged { response.finish() } else { response.content_type(content_type).body(body) }
}

/// A stable fingerprint of a file for its ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogIn {
    token: String,
}

/// Checks the token like any request's and, when it is good, keeps it in the session cookie.
async fn log_in(state: web::Data<AppState>, request: HttpRequest, body: Json<LogIn>) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    let token = token.trim();
    let credentials = depot_service::Credentials {
        bearer: Some(token),
        peer: request.peer_addr().map(|a| a.ip()),
        claimed_actor: None,
        predicting: false,
    };
    let actor = state.services.auth.authenticate(credentials).await?;
    let secure = request.connection_info().scheme() == "https";
    let cookie = |name: &'static str, value: String, http_only: bool| {
        Cookie::build(name, value)
            .path("/")
            .http_only(http_only)
            .secure(secure)
            .same_site(SameSite::Strict)
            .max_age(CookieDuration::hours(SESSION_HOURS))
            .finish()
    };
    let csrf = uuid::Uuid::new_v4().simple().to_string();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .cookie(cookie(SESSION_COOKIE, token.to_owned(), true))
        .cookie(cookie(CSRF_COOKIE, csrf, false))
        .json(WhoAmI {
            principal: actor.principal().to_owned(),
            token: actor.token().map(str::to_owned),
            grants: actor.grants().iter().map(GrantView::from).collect(),
        }))
}

/// Ends the browser's session (the token itself stays valid: revoke it to end it).
async fn log_out() -> HttpResponse {
    let mut response = HttpResponse::NoContent().finish();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        let mut cookie = Cookie::build(name, "").path("/").same_site(SameSite::Strict).finish();
        cookie.make_removal();
        let _ = response.add_cookie(&cookie);
    }
    response
}
