//! The configuration tree. Loaded in layers by the binary (defaults, file, environment) and
//! validated by [`Settings::validate`] before anything starts.

use depot_service::{AuthConfig, DatabaseConfig, RuntimeConfig, StorageConfig};
use serde::Deserialize;

/// Everything a server needs to start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub limits: Limits,
    pub runtime: RuntimeConfig,
    pub serving: ServingSettings,
    pub auth: AuthConfig,
    pub metrics: MetricsSettings,
    pub gc: GcSettings,
    pub console: ConsoleSettings,
    pub grpc: GrpcSettings,
}

/// The Open Inference Protocol over gRPC, on its own port.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcSettings {
    /// Serve it (off: only REST).
    pub enabled: bool,
    /// Address to listen on (Triton's gRPC port by default); port 0 picks a free port.
    pub listen: String,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        Self { enabled: true, listen: "127.0.0.1:8001".to_owned() }
    }
}

/// The web console (`/console`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSettings {
    /// The Prometheus server that scrapes the replicas (its HTTP API base URL, e.g.
    /// `http://prometheus:9090`): the console charts each model's last hour from it. None: no
    /// charts.
    pub prometheus_url: Option<String>,
}

/// Garbage collection of the artifact store (orphan blobs, abandoned uploads).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcSettings {
    /// Seconds between sweeps; one replica sweeps at a time (0: never; `depot gc` still works).
    pub interval_s: u64,
    /// Staging objects not written to for this many seconds are abandoned uploads.
    pub staging_max_age_s: u64,
}

impl Default for GcSettings {
    fn default() -> Self {
        Self { interval_s: 3600, staging_max_age_s: 3600 }
    }
}

/// Prometheus metrics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Record metrics (off: `/metrics` answers, with nothing recorded; for measuring their cost).
    pub enabled: bool,
    /// A second address serving only `GET /metrics`, without a token (bind it where only the
    /// scraper reaches it); none by default. On the main port `/metrics` needs the reader role
    /// on every model.
    pub listen: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true, listen: None }
    }
}

/// How prediction requests find their version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingSettings {
    /// How long a replica reuses what it read of a version (digest, signature, batching) before
    /// reading it again from the database. Bounds how long a deleted version or a changed
    /// batching policy can still be seen by a replica that did not make the change.
    pub resolve_ttl_ms: u64,
}

impl Default for ServingSettings {
    fn default() -> Self {
        Self { resolve_ttl_ms: 1000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Worker threads of the HTTP server, and as many of the gRPC server; 0 means one per CPU
    /// core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_s: u64,
    /// Seconds a replica keeps serving after SIGTERM while it answers not-ready, so that load
    /// balancers stop sending to it before it stops accepting (SIGINT skips this).
    pub drain_grace_s: u64,
    /// Milliseconds a client has to send a request's head (line and headers) before 408.
    pub request_head_timeout_ms: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            workers: 0,
            shutdown_timeout_s: 30,
            drain_grace_s: 5,
            request_head_timeout_ms: 5_000,
        }
    }
}

impl ServerSettings {
    /// The worker threads of each server: `workers`, or one per core when it is 0.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            workers => workers,
        }
    }
}

/// Bounds on what a client may send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest artifact accepted by an upload, in bytes.
    pub max_artifact_bytes: u64,
    /// Largest JSON request body, in bytes.
    pub max_json_bytes: usize,
    /// Largest prediction request body (`/v1/.../predict`, `/v2/.../infer`), in bytes.
    pub max_predict_bytes: usize,
    /// Largest single protobuf message buffered while reading an ONNX signature (one input or
    /// output description), in bytes.
    pub max_onnx_message_bytes: usize,
    /// Deepest nesting of ONNX type descriptions.
    pub max_onnx_depth: usize,
    /// Most inputs plus outputs an ONNX model may declare.
    pub max_onnx_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_artifact_bytes: 4 * 1024 * 1024 * 1024,
            max_json_bytes: 1024 * 1024,
            max_predict_bytes: 64 * 1024 * 1024,
            max_onnx_message_bytes: 4 * 1024 * 1024,
            max_onnx_depth: 32,
            max_onnx_values: 4096,
        }
    }
}

impl Settings {
    /// Checks what serde cannot; returns every problem found.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.server.listen.parse::<std::net::SocketAddr>().is_err() && !self.server.listen.contains(':') {
            problems.push(format!("server.listen {:?} is not host:port", self.server.listen));
        }
        if self.grpc.enabled
            && self.grpc.listen.parse::<std::net::SocketAddr>().is_err()
            && !self.grpc.listen.contains(':')
        {
            problems.push(format!("grpc.listen {:?} is not host:port", self.grpc.listen));
        }
        if self.database.url.is_empty() {
            problems.push("database.url is empty".to_owned());
        }
        if self.database.max_connections == 0 {
            problems.push("database.max_connections must be at least 1".to_owned());
        }
        if self.storage.url.is_empty() {
            problems.push("storage.url is empty".to_owned());
        }
        if let Err(error) = self.runtime.validate() {
            problems.push(format!("runtime: {error}"));
        }
        if self.gc.staging_max_age_s < 60 {
            problems.push(
                "gc.staging_max_age_s must be at least 60: a slow upload writes its staging object rarely".to_owned(),
            );
        }
        if self.auth.approval_ttl_s == 0 {
            problems.push("auth.approval_ttl_s must be at least 1".to_owned());
        }
        if self.limits.max_artifact_bytes == 0 || self.limits.max_json_bytes == 0 || self.limits.max_predict_bytes == 0
        {
            problems.push("limits must be positive".to_owned());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}
