use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{Health, Readiness};

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "get_health",
    responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".to_owned() })
}

/// The database and the artifact store are reachable.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A dependency is unreachable", body = Readiness),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut checks = BTreeMap::new();
    let mut ready = true;
    for check in state.services.readiness().await {
        let status = match check.result {
            Ok(()) => "ok",
            Err(error) => {
                ready = false;
                tracing::warn!(dependency = check.name, error = %error.chain(), "readiness check failed");
                "unreachable"
            }
        };
        checks.insert(check.name.to_owned(), status.to_owned());
    }
    let body = Readiness { status: if ready { "ready" } else { "unready" }.to_owned(), checks };
    if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Prometheus metrics (OpenMetrics text): HTTP requests by route, inference by model, version
/// and role (queue, compute, end to end, batch sizes), the runtime, the registry, replicas.
/// Needs the reader role on every model; the separate metrics port (`metrics.listen`) needs no
/// token.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "get_metrics",
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
    ))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let text = state.services.metrics_text(&caller.0)?;
    Ok(HttpResponse::Ok().content_type(depot_service::Metrics::CONTENT_TYPE).body(text))
}
