//! The tracing span each request runs in.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::{Level, Span};
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// tracing-actix-web's default request span (method, route, status, request id, ...), built only
/// when INFO is enabled for this crate. The default builder fills `http.route` by routing the
/// path a second time, and formats the client address and user agent, before the subscriber is
/// asked whether it wants the span at all; with `RUST_LOG=warn` that was work for nothing on
/// every request (BENCHMARKS.md, "Serving").
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        if tracing::enabled!(Level::INFO) { DefaultRootSpanBuilder::on_request_start(request) } else { Span::none() }
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if !span.is_none() {
            DefaultRootSpanBuilder::on_request_end(span, outcome);
        }
    }
}
