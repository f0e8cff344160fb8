//! Logging and trace export set-up, in one place.
//!
//! Logs go to stderr, filtered by `RUST_LOG` (default `info`). Spans are exported over OTLP
//! only when the standard OpenTelemetry variables ask for it (off by default): with
//! `OTEL_TRACES_EXPORTER=otlp`, or with an `OTEL_EXPORTER_OTLP_ENDPOINT` /
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and no `OTEL_TRACES_EXPORTER`; never with
//! `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The exporter, its protocol
//! (`http/protobuf`, the default, or `http/json`), headers, timeout, the sampler
//! (`OTEL_TRACES_SAMPLER`), the batch processor (`OTEL_BSP_*`) and the resource
//! (`OTEL_SERVICE_NAME`, default `depot`; `OTEL_RESOURCE_ATTRIBUTES`) read their own variables.
//!
//! The exported spans are the request's (`request`, continuing an incoming `traceparent`) and
//! its steps: `resolve`, `decode`, `queue`, `infer` and `encode`. The steps are spans of target
//! `depot::span`, which the log output never shows, so with export off they cost nothing.

use anyhow::{Context, bail};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Metadata;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, filter};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Flushes exported spans when dropped.
#[derive(Debug)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown()
        {
            eprintln!("exporting the last spans failed: {e}");
        }
    }
}

/// Installs the log output and, when the environment asks for it, the span exporter.
pub fn init(format: LogFormat) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive("depot::span=off".parse().expect("a valid directive"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.with_filter(filter).boxed(),
        LogFormat::Json => logs.json().flatten_event(true).with_filter(filter).boxed(),
    };
    let provider = tracer_provider()?;
    let export = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer().with_tracer(provider.tracer("depot")).with_filter(filter::filter_fn(exported))
    });
    tracing_subscriber::registry().with(logs).with(export).try_init().context("installing the log output")?;
    if provider.is_some() {
        tracing::info!("exporting spans over OTLP");
    }
    Ok(Telemetry { provider })
}

/// The spans that are exported: the request (the request-logging module's only span) and its
/// steps.
fn exported(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && matches!(metadata.target(), "depot::span" | "depot_api::telemetry")
}

fn tracer_provider() -> anyhow::Result<Option<SdkTracerProvider>> {
    let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"));
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        None if endpoint.is_none() => return Ok(None),
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => bail!("OTEL_TRACES_EXPORTER={other} is not supported: use otlp or none"),
    }
    let protocol =
        match var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL")).as_deref() {
            None | Some("http/protobuf") => Protocol::HttpBinary,
            Some("http/json") => Protocol::HttpJson,
            Some(other) => bail!("OTLP protocol {other} is not supported: use http/protobuf (port 4318) or http/json"),
        };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .context("building the OTLP span exporter")?;
    let resource = match var("OTEL_SERVICE_NAME") {
        Some(_) => Resource::builder().build(),
        None => Resource::builder().with_service_name("depot").build(),
    };
    Ok(Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build()))
}
