//! One log line per request, written when it ends: method, route template, status, duration in
//! ms, request id, and the model and version where known; an error adds its code, and a 5xx its
//! whole cause chain. This is the only place a request's error is logged.
//!
//! Each request runs in a span carrying its request id (taken from a well-formed incoming
//! `x-request-id`, else a new UUID, and sent back in the response's `x-request-id`), so the
//! lines logged while it runs carry it too. With INFO off (`RUST_LOG=warn`), no span is built and
//! only 5xx lines are written: the hot path then does no logging work.
//!
//! Trace context (W3C `traceparent`): an incoming trace is continued, else one is started; the
//! request gets a span id of its own, its log line the `trace_id`, and the response a
//! `traceparent` naming the trace and this request's span, so a prediction can be followed from
//! the service that called it.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest};
use depot_domain::{ModelName, VersionNumber};
use depot_service::TraceContext;
use tracing::{Instrument, Level, Span};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::routes::oip::OipError;

/// The request id header, read and sent back.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header, continued and sent back.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Marks a probe's 503 (starting, draining, a dependency down): the answer the probe exists to
/// give, logged at INFO rather than as a failure of the server's.
#[derive(Debug, Clone, Copy)]
pub struct ProbeAnswer;

/// `response`, marked as a probe's answer.
pub fn probe_answer(mut response: actix_web::HttpResponse) -> actix_web::HttpResponse {
    response.extensions_mut().insert(ProbeAnswer);
    response
}

/// The version that served a request, for its log line (set by the prediction handlers).
#[derive(Debug, Clone)]
pub struct Served {
    pub model: ModelName,
    pub version: VersionNumber,
}

/// The request-logging middleware (`actix_web::middleware::from_fn`).
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = depot_service::request_id(request.request().headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()));
    let traceparent = request.request().headers().get(&TRACEPARENT).and_then(|v| v.to_str().ok());
    let mut trace = TraceContext::continuing(traceparent);
    let span = if tracing::span_enabled!(Level::INFO) {
        let span = tracing::info_span!("request", request_id = %id, trace_id = tracing::field::Empty);
        trace.export_with(&span);
        span.record("trace_id", tracing::field::display(trace.trace_id()));
        span
    } else {
        Span::none()
    };
    let mut response = next.call(request).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Ok(value) = HeaderValue::from_str(&trace.header()) {
        response.headers_mut().insert(TRACEPARENT, value);
    }
    let status = response.status();
    if let Some(state) = response.request().app_data::<actix_web::web::Data<crate::state::AppState>>() {
        let request = response.request();
        let (method, took) = (request.method().as_str(), started.elapsed());
        state.services.metrics.http(request.match_name(), || request.match_pattern(), method, status.as_u16(), took);
    }
    if status.is_server_error() || tracing::enabled!(Level::INFO) {
        let _entered = span.enter();
        log_line(&response, &id, &trace.trace_id(), started);
    }
    Ok(response)
}

fn log_line<B>(response: &ServiceResponse<B>, id: &str, trace_id: &str, started: Instant) {
    let request = response.request();
    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_secs_f64() * 1e3;
    let route = request.match_pattern();
    let route = route.as_deref().unwrap_or("(no route)");
    let served = request.extensions().get::<Served>().cloned();
    let model = served.as_ref().map(|s| s.model.as_str().to_owned()).or_else(|| path_param(request, "name"));
    let version = served.as_ref().map(|s| s.version.to_string()).or_else(|| path_param(request, "version"));
    let (model, version) = (model.as_deref().unwrap_or(""), version.as_deref().unwrap_or(""));
    let principal = request.extensions().get::<Authenticated>().map(|a| a.0.clone()).unwrap_or_default();
    let principal: &str = &principal;
    let method = request.method().as_str();
    let error = response.response().error().and_then(service_error);
    let failed = status >= 500 && response.response().extensions().get::<ProbeAnswer>().is_none();
    match error {
        Some(error) if failed => tracing::error!(
            http.method = method, http.route = route, http.status = status, duration_ms, request_id = id, trace_id,
            model.name = model, model.version = version, auth.principal = principal,
            error.code = error.code.as_str(), error.chain = %error.chain(), "request failed"
        ),
        Some(error) => tracing::info!(
            http.method = method, http.route = route, http.status = status, duration_ms, request_id = id, trace_id,
            model.name = model, model.version = version, auth.principal = principal,
            error.code = error.code.as_str(), error.message = %error.message, "request refused"
        ),
        None if failed => tracing::error!(
            http.method = method, http.route = route, http.status = status, duration_ms, request_id = id, trace_id,
            model.name = model, model.version = version, auth.principal = principal,
            error.chain = ?response.response().error().map(ToString::to_string), "request failed"
        ),
        None => tracing::info!(
            http.method = method,
            http.route = route,
            http.status = status,
            duration_ms,
            request_id = id,
            trace_id,
            model.name = model,
            model.version = version,
            auth.principal = principal,
            "request"
        ),
    }
}

/// The use case's error behind a response, whichever body it was rendered with.
fn service_error(error: &Error) -> Option<&depot_service::Error> {
    error.as_error::<ApiError>().map(|e| &e.0).or_else(|| error.as_error::<OipError>().map(|e| &e.0.0))
}

fn path_param(request: &HttpRequest, name: &str) -> Option<String> {
    request.match_info().get(name).map(str::to_owned)
}
