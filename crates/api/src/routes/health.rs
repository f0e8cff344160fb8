use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, web};

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
