use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::request::model_name;
use crate::state::AppState;

/// A model's traffic over the last hour, one point a minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrafficView {
    /// Where the figures come from (`prometheus`); null when no Prometheus is configured
    /// (`console.prometheus_url`), and then every series is empty.
    pub source: Option<String>,
    /// Seconds between points.
    pub step_s: u32,
    /// Predictions a second, every version and replica together (5-minute windows).
    pub requests_per_s: Vec<Point>,
    /// The share of predictions that failed.
    pub error_ratio: Vec<Point>,
    /// The 99th percentile of the time a prediction spent in the server, in seconds.
    pub p99_s: Vec<Point>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

fn points(series: depot_service::Series) -> Vec<Point> {
    series.into_iter().map(|(at, value)| Point { at, value }).collect()
}

/// The model's request rate, error ratio and p99 latency over the last hour, across every
/// replica, as the Prometheus server that scrapes them has it (the console's charts). Needs the
/// reader role on the model.
#[utoipa::path(get, path = "/v1/models/{name}/traffic", tag = "models", operation_id = "get_model_traffic",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The last hour (empty series when no Prometheus is configured)", body = TrafficView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 503, description = "Prometheus did not answer", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/traffic")]
pub async fn get_traffic(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = model_name(&path)?;
    let traffic = state.services.traffic.model(&caller.0, &model).await?;
    let source = traffic.is_some().then(|| "prometheus".to_owned());
    let traffic = traffic.unwrap_or_default();
    Ok(HttpResponse::Ok().json(TrafficView {
        source,
        step_s: 60,
        requests_per_s: points(traffic.requests_per_s),
        error_ratio: points(traffic.error_ratio),
        p99_s: points(traffic.p99_s),
    }))
}
