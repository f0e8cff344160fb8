use actix_web::{HttpMessage, HttpRequest, HttpResponse, post, web};
use depot_domain::ModelName;
use depot_serialization::tensors;
use depot_service::{Actor, Reference};

use crate::auth::Predictor;
use crate::error::{ApiError, ErrorBody};
use crate::request::{model_name, read_body, version_ref};
use crate::state::AppState;
use crate::telemetry::Served;
use crate::views::{PredictRequest, PredictResponse};

/// Response header naming the version that served a prediction, as `name/version`.
pub const SERVED_BY_HEADER: &str = "depot-served-by";

/// Predict with an exact version, or the version an alias points at (`.../versions/champion/predict`).
///
/// Each input is nested arrays (`[[5.1, 3.5, 1.4, 0.2]]`) or `{"data": [...], "shape": [...]}`;
/// element types come from the version's signature. Inputs are validated against the signature
/// before anything runs: a wrong name, type, rank, dimension or data length is a 400 naming the
/// input and what was expected.
#[utoipa::path(post, path = "/v1/models/{name}/versions/{version}/predict", tag = "predict",
    operation_id = "predict_version",
    request_body = PredictRequest,
    params(("name" = String, Path, description = "Model name"),
           ("version" = String, Path, description = "Version number, or an alias")),
    responses(
        (status = 200, description = "Outputs by name", body = PredictResponse,
            headers(("depot-served-by" = String, description = "The version that served, as name/version"))),
        (status = 400, description = "Invalid name, version or inputs", body = ErrorBody),
        (status = 404, description = "No such model, version or alias", body = ErrorBody),
        (status = 409, description = "The version cannot be served (pickle, joblib, ...)", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load this model", body = ErrorBody),
        (status = 413, description = "Body larger than the limit", body = ErrorBody),
        (status = 429, description = "Too many requests queued for this version", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/versions/{version}/predict")]
pub async fn predict_version(
    state: web::Data<AppState>,
    caller: Predictor,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, reference) = (model_name(&path.0)?, version_ref(&path.1)?);
    let body = read_body(&request, payload, state.limits.max_predict_bytes).await?;
    predict(&state, &caller.0, &request, &name, &Reference::Version(reference), &body).await
}

/// Predict with the deployed version (or its canary, for the canary's share of requests).
#[utoipa::path(post, path = "/v1/models/{name}/predict", tag = "predict", operation_id = "predict_deployed",
    request_body = PredictRequest,
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Outputs by name, and the version that served", body = PredictResponse,
            headers(("depot-served-by" = String, description = "The version that served, as name/version"))),
        (status = 400, description = "Invalid name or inputs", body = ErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = ErrorBody),
        (status = 413, description = "Body larger than the limit", body = ErrorBody),
        (status = 429, description = "Too many requests queued for this version", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/predict")]
pub async fn predict_deployed(
    state: web::Data<AppState>,
    caller: Predictor,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = read_body(&request, payload, state.limits.max_predict_bytes).await?;
    predict(&state, &caller.0, &request, &name, &Reference::Deployed, &body).await
}

async fn predict(
    state: &AppState,
    actor: &Actor,
    request: &HttpRequest,
    name: &ModelName,
    reference: &Reference,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let prediction = state
        .services
        .serving
        .predict(actor, name, reference, |signature| Ok((tensors::decode_simple_inputs(body, signature)?, ())))
        .await?;
    let mut out = Vec::with_capacity(256);
    tracing::info_span!(target: "depot::span", "encode").in_scope(|| {
        tensors::write_simple_response(
            &mut out,
            prediction.model.as_str(),
            prediction.version.get(),
            &prediction.outputs,
        )
    });
    Ok(served_by(request, prediction.model, prediction.version).content_type("application/json").body(out))
}

/// A 200 that names the version that served, in its header and its log line.
pub(crate) fn served_by(
    request: &HttpRequest,
    model: ModelName,
    version: depot_domain::VersionNumber,
) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::Ok();
    builder.insert_header((SERVED_BY_HEADER, format!("{model}/{version}")));
    // Only an INFO line reads it (a 5xx never comes this way): no allocation for it otherwise.
    if tracing::enabled!(tracing::Level::INFO) {
        request.extensions_mut().insert(Served { model, version });
    }
    builder
}
