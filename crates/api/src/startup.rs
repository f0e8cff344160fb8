//! Building and running the server: the same function serves `main` and the tests.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use depot_service::{
    ArtifactStore, Catalog, InspectLimits, Metrics, RegistryLimits, ReplicaState, Runtime, ServiceConfig, Services,
};
use utoipa_swagger_ui::SwaggerUi;

use crate::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use crate::telemetry::log_request;

/// A server bound to its address, ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    catalog: Catalog,
    background: tokio::task::JoinHandle<()>,
    bootstrap_token: Option<std::path::PathBuf>,
    /// The separate metrics listener (`metrics.listen`) and its address.
    metrics_server: Option<(SocketAddr, Server)>,
    replica: Arc<ReplicaState>,
    drain_grace: Duration,
    /// The gRPC listener (`grpc.listen`), when it is on.
    grpc: Option<depot_grpc::GrpcServer>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database (creating and migrating it as configured) and the artifact store,
    /// and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = ArtifactStore::from_config(&settings.storage).context("opening artifact storage")?;
        Self::build_with_store(settings, store).await
    }

    /// As [`Application::build`], with an artifact store made by the caller (tests inject faults
    /// this way).
    pub async fn build_with_store(settings: Settings, store: ArtifactStore) -> anyhow::Result<Self> {
        if let Err(problems) = settings.validate() {
            anyhow::bail!("invalid configuration: {}", problems.join("; "));
        }
        let metrics = if settings.metrics.enabled { Metrics::new() } else { Metrics::disabled() };
        let runtime = if settings.metrics.enabled {
            Runtime::with_observer(settings.runtime.clone(), Arc::new(metrics.clone()))
        } else {
            Runtime::new(settings.runtime.clone())
        }
        .context("starting ONNX Runtime")?;
        let catalog = Catalog::connect(&settings.database).await.context("connecting to PostgreSQL")?;
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let address = listener.local_addr()?;
        let limits = &settings.limits;
        let config = ServiceConfig {
            limits: RegistryLimits {
                max_artifact_bytes: limits.max_artifact_bytes,
                inspect: InspectLimits {
                    max_artifact_bytes: limits.max_artifact_bytes,
                    max_message_bytes: limits.max_onnx_message_bytes,
                    max_depth: limits.max_onnx_depth,
                    max_values: limits.max_onnx_values,
                },
            },
            resolve_ttl: Duration::from_millis(settings.serving.resolve_ttl_ms),
            auth: settings.auth.clone(),
            sweep_every: (settings.gc.interval_s > 0).then(|| Duration::from_secs(settings.gc.interval_s)),
            staging_max_age: Duration::from_secs(settings.gc.staging_max_age_s),
            prometheus_url: settings.console.prometheus_url.clone(),
        };
        let services = Services::new(catalog.clone(), store, runtime, config, metrics);
        let bootstrap_token = services.auth.bootstrap().await.map_err(|e| anyhow::anyhow!(e.chain()))?;
        if let Some(path) = &bootstrap_token {
            tracing::warn!(path = %path.display(), "first start: an admin token was created and written to this file");
        }
        let background = tokio::spawn(services.clone().run_background());
        let replica = Arc::clone(&services.replica);
        let drain_grace = Duration::from_secs(settings.server.drain_grace_s);
        let services_for_metrics = services.clone();
        let grpc = if settings.grpc.enabled {
            let server = depot_grpc::GrpcServer::bind(
                &settings.grpc.listen,
                services.clone(),
                limits.max_predict_bytes,
                settings.server.worker_threads(),
            )
            .await
            .with_context(|| format!("binding grpc.listen {}", settings.grpc.listen))?;
            Some(server)
        } else {
            None
        };
        let state = AppState { services, limits: settings.limits.clone() };
        let json_limit = settings.limits.max_json_bytes;
        let openapi = crate::openapi::openapi();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(log_request))
                .app_data(web::Data::new(state.clone()))
                .app_data(json_config(json_limit))
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| ApiError::invalid(format!("invalid query string: {e}")).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| ApiError::invalid(format!("invalid path: {e}")).into()),
                )
                .configure(crate::openapi::configure)
                .configure(crate::routes::console::configure)
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
                .default_service(web::to(not_found))
        })
        .workers(settings.server.worker_threads())
        .shutdown_timeout(settings.server.shutdown_timeout_s)
        .client_request_timeout(Duration::from_millis(settings.server.request_head_timeout_ms))
        // SIGTERM drains first (`run_until_stopped`); actix's own handling would stop at once.
        .disable_signals();
        let server = server.listen(listener)?.run();
        let metrics_server = match &settings.metrics.listen {
            Some(listen) => Some(metrics_server(listen, services_for_metrics)?),
            None => None,
        };
        Ok(Self {
            address,
            server,
            catalog,
            background,
            bootstrap_token,
            metrics_server,
            replica,
            drain_grace,
            grpc,
            shutdown_timeout: Duration::from_secs(settings.server.shutdown_timeout_s),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The address of the separate metrics listener, when there is one.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(address, _)| *address)
    }

    /// The address of the gRPC listener, when it is on.
    pub fn grpc_address(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(depot_grpc::GrpcServer::address)
    }

    /// The file the first start wrote its admin token to, when this start was the first.
    pub fn bootstrap_token(&self) -> Option<&std::path::Path> {
        self.bootstrap_token.as_deref()
    }

    /// Serves until the process is told to stop, letting in-flight requests finish (for up to
    /// `server.shutdown_timeout_s`). On SIGTERM the replica first drains: it answers not-ready
    /// and keeps serving for `server.drain_grace_s`, so that load balancers stop sending to it
    /// before it stops accepting. SIGINT (or a second signal) skips the grace.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let metrics_handle = self.metrics_server.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        // gRPC stops accepting when HTTP does (after the grace) and finishes its calls in flight.
        let (stop_grpc, grpc_stopping) = tokio::sync::watch::channel(false);
        let grpc = self.grpc.map(|server| {
            let mut stopping = grpc_stopping.clone();
            tokio::spawn(async move {
                let stopped = async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                };
                if let Err(error) = server.serve(stopped).await {
                    tracing::error!(error = %error, "the gRPC server stopped");
                }
            })
        });
        let (replica, grace) = (self.replica, self.drain_grace);
        let stop_grpc_on_signal = stop_grpc.clone();
        let signals = tokio::spawn(async move {
            let Ok(mut signals) = Signals::new() else {
                tracing::warn!("cannot listen for signals: only a stop from within ends the server");
                return;
            };
            let first = signals.next().await;
            replica.start_draining();
            if first == Signal::Terminate && !grace.is_zero() {
                tracing::info!(grace_s = grace.as_secs(), "SIGTERM: draining (not ready) before stopping");
                tokio::select! {
                    () = tokio::time::sleep(grace) => {}
                    _ = signals.next() => tracing::info!("second signal: stopping now"),
                }
            }
            tracing::info!("stopping: finishing the requests in flight");
            let _ = stop_grpc_on_signal.send(true);
            handle.stop(true).await;
        });
        let result = self.server.await;
        signals.abort();
        let _ = stop_grpc.send(true);
        if let Some(grpc) = grpc
            && tokio::time::timeout(self.shutdown_timeout, grpc).await.is_err()
        {
            tracing::warn!("gRPC calls still in flight after the shutdown timeout were cut off");
        }
        if let Some(handle) = metrics_handle {
            handle.stop(true).await;
        }
        self.background.abort();
        tokio::time::timeout(Duration::from_secs(5), self.catalog.close()).await.ok();
        result
    }

    /// This replica's state (readiness, draining).
    pub fn replica(&self) -> Arc<ReplicaState> {
        Arc::clone(&self.replica)
    }

    /// A handle that stops the server from elsewhere (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Terminate,
    Interrupt,
}

/// SIGTERM and SIGINT, as they come.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self { terminate: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.terminate.recv() => Signal::Terminate,
            _ = self.interrupt.recv() => Signal::Interrupt,
        }
    }
}

/// A listener that serves only `GET /metrics`, without a token.
fn metrics_server(listen: &str, services: Services) -> anyhow::Result<(SocketAddr, Server)> {
    let listener = TcpListener::bind(listen).with_context(|| format!("binding metrics.listen {listen}"))?;
    let address = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let services = services.clone();
        App::new().route(
            "/metrics",
            web::get().to(move || {
                let text = services.metrics_text_unchecked();
                async move { HttpResponse::Ok().content_type(depot_service::Metrics::CONTENT_TYPE).body(text) }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok((address, server))
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |error, _| {
        use actix_web::error::JsonPayloadError;
        let api = match &error {
            JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
                ApiError::new(ErrorCode::PayloadTooLarge, format!("the JSON body is larger than {limit} bytes"))
            }
            JsonPayloadError::ContentType => {
                ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as application/json")
            }
            other => ApiError::invalid(format!("invalid JSON body: {other}")),
        };
        api.into()
    })
}

async fn not_found(request: HttpRequest) -> HttpResponse {
    use actix_web::ResponseError;
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {} {}; see /docs for the API", request.method(), request.path()),
    )
    .error_response()
}
