//! The OpenAPI document, generated from the handlers' annotations. `depot openapi` writes it to
//! `openapi/openapi.json`; a test fails when the committed file differs.

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::routes::{audit, deployments, health, models, oip, predict, versions};
use crate::views::*;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Depot",
        description = "Model registry and deployment server. Errors under /v1 share one body: \
            `{\"code\": \"...\", \"message\": \"...\"}` with a stable code. Changes are recorded in the \
            audit log with the `x-depot-actor` and `x-depot-reason` headers."
    ),
    paths(
        health::healthz,
        health::readyz,
        models::create_model,
        models::list_models,
        models::get_model,
        models::update_model,
        models::delete_model,
        versions::create_version,
        versions::list_versions,
        versions::get_version,
        versions::update_version,
        versions::delete_version,
        versions::download_artifact,
        audit::list_audit,
        deployments::get_deployment,
        deployments::deploy,
        deployments::rollback,
        deployments::undeploy,
        deployments::set_canary,
        deployments::promote_canary,
        deployments::abort_canary,
        deployments::history,
        deployments::list_aliases,
        deployments::get_alias,
        deployments::set_alias,
        deployments::delete_alias,
        predict::predict_version,
        predict::predict_deployed,
        oip::server_metadata,
        oip::live,
        oip::ready,
        oip::model_version_metadata,
        oip::model_metadata,
        oip::model_version_ready,
        oip::model_ready,
        oip::infer_version,
        oip::infer_deployed,
    ),
    components(schemas(ErrorBody, UploadMetadata)),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "models", description = "Registered models"),
        (name = "versions", description = "Immutable, content-addressed model versions"),
        (name = "audit", description = "The append-only record of every change"),
        (name = "deployments", description = "Deploy, canary and roll back; the history of every change"),
        (name = "aliases", description = "Named pointers to versions, usable wherever a version number goes in a prediction route"),
        (name = "predict", description = "Predictions over Depot's simple JSON API"),
        (name = "inference (v2)", description = "The Open Inference Protocol v2 (KServe/Triton), binary tensor extension included"),
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}
