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
use tracing::{Instrument, Level, Span};

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::routes::oip::OipError;

/// The request id header, read and sent back.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header, continued and sent back.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const MAX_REQUEST_ID: usize = 64;

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
    let id = request_id(request.request());
    let mut trace = TraceContext::of(request.request());
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

/// A request's place in a W3C trace: the trace (continued or new), this request's span, and
/// the flags (sampled unless the caller said otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: u128,
    span_id: u64,
    flags: u8,
    /// The caller's span, when the trace was continued.
    parent: Option<u64>,
}

impl TraceContext {
    /// The incoming trace when `traceparent` is well-formed (version 00, non-zero ids), else a
    /// new one; either way with a new span id for this request.
    pub fn of(request: &HttpRequest) -> Self {
        let random = uuid::Uuid::new_v4().as_u128();
        let span_id = (random as u64) | 1;
        match request.headers().get(&TRACEPARENT).and_then(|v| v.to_str().ok()).and_then(Self::parse) {
            Some((trace_id, parent, flags)) => Self { trace_id, span_id, flags, parent: Some(parent) },
            None => Self { trace_id: uuid::Uuid::new_v4().as_u128(), span_id, flags: 1, parent: None },
        }
    }

    /// Makes `span` this request's span for trace export: its parent is the caller's span, and
    /// when spans are exported (an OpenTelemetry layer is installed), the ids become the
    /// exported span's, so the log line and the response name what the collector received.
    /// Without that layer, nothing changes.
    pub fn export_with(&mut self, span: &Span) {
        use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
        use tracing_opentelemetry::OpenTelemetrySpanExt;
        if let Some(parent) = self.parent {
            let caller = SpanContext::new(
                TraceId::from(self.trace_id),
                SpanId::from(parent),
                TraceFlags::new(self.flags),
                true,
                TraceState::default(),
            );
            // Fails only when no layer exports spans: then there is no parent to set.
            let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(caller));
        }
        let context = span.context();
        let exported = context.span();
        let exported = exported.span_context();
        if exported.is_valid() {
            self.trace_id = u128::from_be_bytes(exported.trace_id().to_bytes());
            self.span_id = u64::from_be_bytes(exported.span_id().to_bytes());
            self.flags = exported.trace_flags().to_u8();
        }
    }

    /// The trace id, parent span id and flags of a `traceparent` value
    /// (`00-<32 hex>-<16 hex>-<2 hex>`).
    fn parse(value: &str) -> Option<(u128, u64, u8)> {
        let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut parts = value.trim().split('-');
        let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || version != "00" || !hex(trace, 32) || !hex(parent, 16) || !hex(flags, 2) {
            return None;
        }
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
        let parent = u64::from_str_radix(parent, 16).ok().filter(|p| *p != 0)?;
        Some((trace_id, parent, u8::from_str_radix(flags, 16).ok()?))
    }

    pub fn trace_id(&self) -> String {
        format!("{:032x}", self.trace_id)
    }

    /// The `traceparent` naming this request's span.
    pub fn header(&self) -> String {
        format!("00-{:032x}-{:016x}-{:02x}", self.trace_id, self.span_id, self.flags)
    }
}

/// The client's request id when it is short, visible ASCII; else a new one.
fn request_id(request: &HttpRequest) -> String {
    request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn an_incoming_trace_is_continued_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let request = TestRequest::default().insert_header(("traceparent", incoming)).to_http_request();
        let trace = TraceContext::of(&request);
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let header = trace.header();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && header.ends_with("-01"), "{header}");
        assert_ne!(&header[36..52], "00f067aa0ba902b7", "a span of its own");
        let unsampled = incoming.replace("-01", "-00");
        let request = TestRequest::default().insert_header(("traceparent", unsampled)).to_http_request();
        assert!(TraceContext::of(&request).header().ends_with("-00"), "the caller's flags are kept");
    }

    #[test]
    fn a_malformed_or_missing_trace_starts_a_new_one() {
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",
        ] {
            let request = TestRequest::default().insert_header(("traceparent", bad)).to_http_request();
            let trace = TraceContext::of(&request);
            assert_ne!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad:?}");
            assert_eq!(TraceContext::parse(&trace.header()).map(|(t, _, _)| t), Some(trace.trace_id), "{bad:?}");
        }
        let request = TestRequest::default().to_http_request();
        let (a, b) = (TraceContext::of(&request), TraceContext::of(&request));
        assert_ne!(a.trace_id, b.trace_id, "each request without a trace starts its own");
    }
}
