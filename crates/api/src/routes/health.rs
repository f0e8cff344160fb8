use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry::probe_answer;
use crate::views::{Health, Readiness};

/// The process is alive (the liveness probe): it answers as long as its HTTP workers run.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "get_health",
    responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".to_owned() })
}

/// Whether this replica should get prediction traffic (the readiness probe): it has loaded the
/// deployed versions and is not draining. A database it cannot reach does not make it unready:
/// it then serves what it last knew (`checks.database` says so), and taking every replica out
/// of its load balancer at once would turn a database blip into an outage.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "get_readiness",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Starting (loading the deployed versions) or draining", body = Readiness),
    ))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.services.readiness();
    let status = match (readiness.ready, readiness.draining) {
        (true, _) => "ready",
        (false, true) => "draining",
        (false, false) => "starting",
    };
    let checks = BTreeMap::from([
        ("draining".to_owned(), if readiness.draining { "yes" } else { "no" }.to_owned()),
        ("deployed_versions".to_owned(), if readiness.warmed { "loaded" } else { "loading" }.to_owned()),
        (
            "database".to_owned(),
            if readiness.following { "following" } else { "unreachable: serving what this replica last knew" }
                .to_owned(),
        ),
    ]);
    let body = Readiness { status: status.to_owned(), checks };
    if readiness.ready {
        HttpResponse::Ok().json(body)
    } else {
        probe_answer(HttpResponse::ServiceUnavailable().json(body))
    }
}

/// The registry's dependencies, asked now: the database and the artifact store. For dashboards
/// and people; not a probe (a replica serves predictions without the database).
#[utoipa::path(get, path = "/healthz/dependencies", tag = "health", operation_id = "get_dependencies",
    responses(
        (status = 200, description = "Every dependency answered", body = Readiness),
        (status = 503, description = "A dependency is unreachable", body = Readiness),
    ))]
#[get("/healthz/dependencies")]
pub async fn dependencies(state: web::Data<AppState>) -> HttpResponse {
    let mut checks = BTreeMap::new();
    let mut ok = true;
    for check in state.services.dependencies().await {
        let status = match check.result {
            Ok(()) => "ok",
            Err(error) => {
                ok = false;
                tracing::warn!(dependency = check.name, error = %error.chain(), "dependency check failed");
                "unreachable"
            }
        };
        checks.insert(check.name.to_owned(), status.to_owned());
    }
    let body = Readiness { status: if ok { "ok" } else { "unavailable" }.to_owned(), checks };
    if ok { HttpResponse::Ok().json(body) } else { probe_answer(HttpResponse::ServiceUnavailable().json(body)) }
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
