//! W3C trace context (`traceparent`), shared by the transports: a request continues its
//! caller's trace or starts one, gets a span id of its own, and names both in its log line and
//! its answer. Only the OpenTelemetry API is used here; the binary installs the SDK.

use tracing::Span;

/// The longest request id a client may choose.
const MAX_REQUEST_ID: usize = 64;

/// A request's id: the client's (`x-request-id`, header or metadata) when it is short, visible
/// ASCII; else a new UUID.
pub fn request_id(given: Option<&str>) -> String {
    given
        .filter(|v| !v.is_empty() && v.len() <= MAX_REQUEST_ID && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
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
    /// The incoming trace when `traceparent` (the header or metadata of that name) is
    /// well-formed (version 00, non-zero ids), else a new one; either way with a new span id
    /// for this request.
    pub fn continuing(traceparent: Option<&str>) -> Self {
        let random = uuid::Uuid::new_v4().as_u128();
        let span_id = (random as u64) | 1;
        match traceparent.and_then(Self::parse) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_id_is_kept_when_it_is_short_visible_ascii() {
        assert_eq!(request_id(Some("job-42")), "job-42");
        for bad in [None, Some(""), Some("has space"), Some("ünïcode"), Some(&*"x".repeat(65))] {
            let id = request_id(bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} gave {id}");
        }
    }

    #[test]
    fn an_incoming_trace_is_continued_with_a_new_span() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = TraceContext::continuing(Some(incoming));
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let header = trace.header();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && header.ends_with("-01"), "{header}");
        assert_ne!(&header[36..52], "00f067aa0ba902b7", "a span of its own");
        let unsampled = incoming.replace("-01", "-00");
        assert!(TraceContext::continuing(Some(&unsampled)).header().ends_with("-00"), "the caller's flags are kept");
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
            let trace = TraceContext::continuing(Some(bad));
            assert_ne!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad:?}");
            assert_eq!(TraceContext::parse(&trace.header()).map(|(t, _, _)| t), Some(trace.trace_id), "{bad:?}");
        }
        let (a, b) = (TraceContext::continuing(None), TraceContext::continuing(None));
        assert_ne!(a.trace_id, b.trace_id, "each request without a trace starts its own");
    }
}
