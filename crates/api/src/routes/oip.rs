//! The Open Inference Protocol v2 (REST), as KServe and Triton speak it, with Triton's binary
//! tensor data extension, so standard clients (tritonclient) work unchanged. Errors use the
//! protocol's body, `{"error": "..."}`.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, get, post, web};
use depot_serialization::tensors;

use depot_domain::ModelName;
use depot_service::{Actor, Reference, ServableVersion};

use crate::auth::Predictor;
use crate::error::ApiError;
use crate::request::{model_name, read_body, version_ref};
use crate::routes::predict::served_by;
use crate::state::AppState;
use crate::views::{
    OipErrorBody, OipInferRequest, OipInferResponse, OipModelMetadata, OipServerMetadata, OipStatistics,
    OipTensorMetadata,
};

/// Header giving the length of the JSON part of a binary request or response.
pub const HEADER_LENGTH: &str = "inference-header-content-length";

/// An [`ApiError`] rendered the way the protocol wants it.
#[derive(Debug)]
pub struct OipError(pub ApiError);

impl fmt::Display for OipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<E: Into<ApiError>> From<E> for OipError {
    fn from(error: E) -> Self {
        Self(error.into())
    }
}

impl ResponseError for OipError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        crate::error::challenge(&mut response, self.0.code());
        response.json(OipErrorBody { error: self.0.0.message.clone() })
    }
}

/// Server metadata.
#[utoipa::path(get, path = "/v2", tag = "inference (v2)", operation_id = "get_v2_server_metadata",
    responses((status = 200, description = "Server metadata", body = OipServerMetadata)))]
#[get("/v2")]
pub async fn server_metadata() -> HttpResponse {
    HttpResponse::Ok().json(OipServerMetadata {
        name: "depot".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        extensions: vec!["binary_tensor_data".to_owned(), "statistics".to_owned()],
    })
}

/// The server is alive.
#[utoipa::path(get, path = "/v2/health/live", tag = "inference (v2)", operation_id = "get_v2_live",
    responses((status = 200, description = "Alive")))]
#[get("/v2/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "live": true }))
}

/// The server can take inference requests: the same as `/readyz` (it has loaded what is
/// deployed and is not draining; a database it cannot reach does not make it unready).
#[utoipa::path(get, path = "/v2/health/ready", tag = "inference (v2)", operation_id = "get_v2_ready",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready", body = OipErrorBody)))]
#[get("/v2/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let readiness = state.services.readiness();
    if !readiness.ready {
        let why = if readiness.draining { "draining" } else { "loading the deployed versions" };
        let body = OipErrorBody { error: format!("not ready: {why}") };
        return crate::telemetry::probe_answer(HttpResponse::ServiceUnavailable().json(body));
    }
    HttpResponse::Ok().json(serde_json::json!({ "ready": true }))
}

/// The model and version an OIP path names: a number or an alias in `{version}`, else the
/// deployment.
fn reference(name: &str, version: Option<&str>) -> Result<(ModelName, Reference), OipError> {
    let reference = match version {
        Some(version) => Reference::Version(version_ref(version)?),
        None => Reference::Deployed,
    };
    Ok((model_name(name)?, reference))
}

fn tensor_metadata(spec: &depot_domain::TensorSpec) -> OipTensorMetadata {
    OipTensorMetadata {
        name: spec.name.clone(),
        datatype: spec.datatype.map(|d| d.as_str().to_owned()).unwrap_or_else(|| spec.type_name.clone()),
        shape: spec.shape.clone().unwrap_or_default(),
    }
}

/// Model metadata of an exact version (or alias), from its signature.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}", tag = "inference (v2)",
    operation_id = "get_v2_model_version_metadata",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number, or an alias")),
    responses(
        (status = 200, description = "Inputs and outputs", body = OipModelMetadata),
        (status = 400, description = "Invalid name or version", body = OipErrorBody),
        (status = 404, description = "No such model, version or alias", body = OipErrorBody),
        (status = 409, description = "The version cannot be served", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}/versions/{version}")]
pub async fn model_version_metadata(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path.0, Some(&path.1))?;
    Ok(metadata_of(state.services.serving.describe(&caller.0, &name, &reference).await?))
}

/// Model metadata of the deployed version.
#[utoipa::path(get, path = "/v2/models/{name}", tag = "inference (v2)", operation_id = "get_v2_model_metadata",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Inputs and outputs", body = OipModelMetadata),
        (status = 400, description = "Invalid name", body = OipErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}")]
pub async fn model_metadata(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<String>,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path, None)?;
    Ok(metadata_of(state.services.serving.describe(&caller.0, &name, &reference).await?))
}

fn metadata_of(servable: ServableVersion) -> HttpResponse {
    HttpResponse::Ok().json(OipModelMetadata {
        name: servable.model.to_string(),
        versions: vec![servable.version.to_string()],
        platform: "onnxruntime_onnx".to_owned(),
        inputs: servable.signature.inputs.iter().map(tensor_metadata).collect(),
        outputs: servable.signature.outputs.iter().map(tensor_metadata).collect(),
    })
}

/// Whether an exact version (or alias) is ready: it is loaded (and loads it when it is not yet).
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/ready", tag = "inference (v2)",
    operation_id = "get_v2_model_version_ready",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number, or an alias")),
    responses(
        (status = 200, description = "Loaded and warmed"),
        (status = 400, description = "Invalid name or version", body = OipErrorBody),
        (status = 404, description = "No such model, version or alias", body = OipErrorBody),
        (status = 409, description = "The version cannot be served", body = OipErrorBody),
        (status = 422, description = "ONNX Runtime cannot load this model", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}/versions/{version}/ready")]
pub async fn model_version_ready(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path.0, Some(&path.1))?;
    Ok(ready_of(state.services.serving.ready(&caller.0, &name, &reference).await?))
}

/// Whether the deployed version is ready.
#[utoipa::path(get, path = "/v2/models/{name}/ready", tag = "inference (v2)", operation_id = "get_v2_model_ready",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Loaded and warmed"),
        (status = 400, description = "Invalid name", body = OipErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}/ready")]
pub async fn model_ready(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<String>,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path, None)?;
    Ok(ready_of(state.services.serving.ready(&caller.0, &name, &reference).await?))
}

fn ready_of(servable: ServableVersion) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": servable.model.as_str(), "version": servable.version.to_string(), "ready": true
    }))
}

/// Inference on an exact version (or alias): JSON tensors, or the binary tensor data extension (JSON
/// header of `Inference-Header-Content-Length` bytes followed by the raw tensors).
#[utoipa::path(post, path = "/v2/models/{name}/versions/{version}/infer", tag = "inference (v2)",
    operation_id = "infer_v2_version",
    request_body(content = OipInferRequest, description = "JSON, or JSON header + binary tensors", content_type = "application/json"),
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number, or an alias"),
           ("inference-header-content-length" = Option<usize>, Header, description = "Length of the JSON part when binary tensors follow")),
    responses(
        (status = 200, description = "Outputs", body = OipInferResponse),
        (status = 400, description = "Invalid request or inputs", body = OipErrorBody),
        (status = 404, description = "No such model or version", body = OipErrorBody),
        (status = 409, description = "The version cannot be served", body = OipErrorBody),
        (status = 413, description = "Body larger than the limit", body = OipErrorBody),
        (status = 429, description = "Too many requests queued for this version", body = OipErrorBody),
    ))]
#[post("/v2/models/{name}/versions/{version}/infer")]
pub async fn infer_version(
    state: web::Data<AppState>,
    caller: Predictor,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path.0, Some(&path.1))?;
    let body = read_body(&request, payload, state.limits.max_predict_bytes).await?;
    infer(&state, &caller.0, &request, &name, &reference, &body).await
}

/// Inference on the deployed version (or its canary, for the canary's share of requests).
#[utoipa::path(post, path = "/v2/models/{name}/infer", tag = "inference (v2)", operation_id = "infer_v2_deployed",
    request_body(content = OipInferRequest, description = "JSON, or JSON header + binary tensors", content_type = "application/json"),
    params(("name" = String, Path, description = "Model name"),
           ("inference-header-content-length" = Option<usize>, Header, description = "Length of the JSON part when binary tensors follow")),
    responses(
        (status = 200, description = "Outputs", body = OipInferResponse),
        (status = 400, description = "Invalid request or inputs", body = OipErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = OipErrorBody),
        (status = 413, description = "Body larger than the limit", body = OipErrorBody),
        (status = 429, description = "Too many requests queued for this version", body = OipErrorBody),
    ))]
#[post("/v2/models/{name}/infer")]
pub async fn infer_deployed(
    state: web::Data<AppState>,
    caller: Predictor,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, OipError> {
    let (name, reference) = reference(&path, None)?;
    let body = read_body(&request, payload, state.limits.max_predict_bytes).await?;
    infer(&state, &caller.0, &request, &name, &reference, &body).await
}

async fn infer(
    state: &AppState,
    actor: &Actor,
    request: &HttpRequest,
    name: &ModelName,
    reference: &Reference,
    body: &[u8],
) -> Result<HttpResponse, OipError> {
    let header_length = match request.headers().get(HEADER_LENGTH) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| ApiError::invalid(format!("{HEADER_LENGTH} must be a byte count")))?,
        ),
    };
    let prediction = state
        .services
        .serving
        .predict(actor, name, reference, |signature| {
            let mut decoded = tensors::decode_oip_request(body, header_length, signature)?;
            Ok((std::mem::take(&mut decoded.inputs), decoded))
        })
        .await?;
    let version = prediction.version.to_string();
    let decoded = &prediction.request;
    let response = tracing::info_span!(target: "depot::span", "encode").in_scope(|| {
        tensors::encode_oip_response(
            prediction.model.as_str(),
            &version,
            decoded.id.as_deref(),
            &prediction.outputs,
            decoded,
        )
    });
    let mut builder = served_by(request, prediction.model, prediction.version);
    match response.json_header_length {
        Some(length) => {
            builder.content_type("application/octet-stream").insert_header((HEADER_LENGTH, length.to_string()));
        }
        None => {
            builder.content_type("application/json");
        }
    }
    Ok(builder.body(response.body))
}

/// Triton's statistics extension: cumulative success and failure counts and durations, queue
/// and compute time, of the versions that served on this replica (nanoseconds), so that
/// `tritonclient.get_inference_statistics` works unchanged.
#[utoipa::path(get, path = "/v2/models/{name}/versions/{version}/stats", tag = "inference (v2)",
    operation_id = "get_v2_model_version_stats",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version number, or an alias")),
    responses(
        (status = 200, description = "The version's statistics", body = OipStatistics),
        (status = 400, description = "Invalid name or version", body = OipErrorBody),
        (status = 404, description = "No such model, version or alias", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}/versions/{version}/stats")]
pub async fn model_version_stats(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, OipError> {
    let (name, version) = (model_name(&path.0)?, version_ref(&path.1)?);
    let stats = state.services.serving.statistics(&caller.0, Some(&name), Some(&version)).await?;
    Ok(HttpResponse::Ok().json(OipStatistics::from(stats)))
}

/// Triton's statistics of every version of a model that served on this replica.
#[utoipa::path(get, path = "/v2/models/{name}/stats", tag = "inference (v2)", operation_id = "get_v2_model_stats",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The model's versions' statistics", body = OipStatistics),
        (status = 400, description = "Invalid name", body = OipErrorBody),
        (status = 404, description = "No such model", body = OipErrorBody),
    ))]
#[get("/v2/models/{name}/stats")]
pub async fn model_stats(
    state: web::Data<AppState>,
    caller: Predictor,
    path: web::Path<String>,
) -> Result<HttpResponse, OipError> {
    let name = model_name(&path)?;
    let stats = state.services.serving.statistics(&caller.0, Some(&name), None).await?;
    Ok(HttpResponse::Ok().json(OipStatistics::from(stats)))
}

/// Triton's statistics of every version that served on this replica, of the models the token
/// may predict with.
#[utoipa::path(get, path = "/v2/models/stats", tag = "inference (v2)", operation_id = "get_v2_stats",
    responses((status = 200, description = "Statistics", body = OipStatistics)))]
#[get("/v2/models/stats")]
pub async fn all_stats(state: web::Data<AppState>, caller: Predictor) -> Result<HttpResponse, OipError> {
    let stats = state.services.serving.statistics(&caller.0, None, None).await?;
    Ok(HttpResponse::Ok().json(OipStatistics::from(stats)))
}
