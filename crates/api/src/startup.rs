//! Building and running the server: the same function serves `main` and the tests.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use std::sync::Arc;

use depot_catalog::Catalog;
use depot_runtime::Runtime;
use depot_storage::ArtifactStore;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::Settings;
use crate::error::{ApiError, ErrorCode};
use crate::openapi::ApiDoc;
use crate::request_span::RequestSpan;
use crate::routes::{audit, deployments, health, models, oip, predict, versions};
use crate::serving::{Resolver, follow_changes};
use crate::state::AppState;

/// A server bound to its address, ready to run.
pub struct Application {
    address: SocketAddr,
    server: Server,
    catalog: Catalog,
    follower: tokio::task::JoinHandle<()>,
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
        let runtime = Runtime::new(settings.runtime.clone()).context("starting ONNX Runtime")?;
        let catalog = Catalog::connect(&settings.database).await.context("connecting to PostgreSQL")?;
        let listener = TcpListener::bind(&settings.server.listen)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        let address = listener.local_addr()?;
        let state = AppState {
            catalog: catalog.clone(),
            store,
            limits: settings.limits.clone(),
            runtime,
            resolver: Arc::new(Resolver::new(Duration::from_millis(settings.serving.resolve_ttl_ms))),
        };
        let follower = tokio::spawn(follow_changes(state.clone()));
        let json_limit = settings.limits.max_json_bytes;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::<RequestSpan>::new())
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
                .configure(routes)
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()))
                .default_service(web::to(not_found))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_s);
        let server = if settings.server.workers > 0 { server.workers(settings.server.workers) } else { server };
        let server = server.listen(listener)?.run();
        Ok(Self { address, server, catalog, follower })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), letting in-flight requests
    /// finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.follower.abort();
        tokio::time::timeout(Duration::from_secs(5), self.catalog.close()).await.ok();
        result
    }

    /// A handle that stops the server from elsewhere (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

fn routes(config: &mut web::ServiceConfig) {
    // actix tries routes in registration order: the prediction routes, the hot path, go first
    // (measured: 286 -> 212 us p50 for a tiny model at concurrency 1, BENCHMARKS.md "Serving").
    config
        .service(predict::predict_version)
        .service(predict::predict_deployed)
        .service(oip::infer_version)
        .service(oip::infer_deployed)
        .service(health::healthz)
        .service(health::readyz)
        .service(models::create_model)
        .service(models::list_models)
        .service(models::get_model)
        .service(models::update_model)
        .service(models::delete_model)
        .service(versions::create_version)
        .service(versions::list_versions)
        .service(versions::get_version)
        .service(versions::update_version)
        .service(versions::delete_version)
        .service(versions::download_artifact)
        .service(audit::list_audit)
        .service(deployments::get_deployment)
        .service(deployments::deploy)
        .service(deployments::rollback)
        .service(deployments::undeploy)
        .service(deployments::set_canary)
        .service(deployments::promote_canary)
        .service(deployments::abort_canary)
        .service(deployments::history)
        .service(deployments::list_aliases)
        .service(deployments::get_alias)
        .service(deployments::set_alias)
        .service(deployments::delete_alias)
        .service(oip::server_metadata)
        .service(oip::live)
        .service(oip::ready)
        .service(oip::model_version_metadata)
        .service(oip::model_metadata)
        .service(oip::model_version_ready)
        .service(oip::model_ready);
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
