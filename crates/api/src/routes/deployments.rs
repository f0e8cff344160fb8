//! Deployments (what the version-less routes serve), canaries, rollback, aliases, and their
//! history. Every switch loads and warms the new version first: if it cannot be loaded the
//! switch fails and traffic stays where it was.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use depot_catalog::{Canary, Change};
use depot_domain::{ModelName, VersionNumber};

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::request::{alias_name, change_of, model_name, version_number};
use crate::routes::page;
use crate::serving::{preload, target_of};
use crate::state::AppState;
use crate::views::{
    AliasList, AliasView, CanaryRequest, DeployRequest, DeploymentView, HistoryList, ListVersionsQuery, ReasonRequest,
    RollbackRequest, SetAliasRequest,
};

fn change_with(request: &HttpRequest, reason: Option<String>) -> Result<Change, ApiError> {
    let mut change = change_of(request)?;
    if let Some(reason) = reason.filter(|r| !r.trim().is_empty()) {
        if reason.len() > 1024 {
            return Err(ApiError::invalid("reason is longer than 1024 characters"));
        }
        change.reason = Some(reason);
    }
    Ok(change)
}

fn number(value: u32) -> Result<VersionNumber, ApiError> {
    version_number(&value.to_string())
}

/// Loads and warms `version` on this replica: a version that cannot be served or loaded is
/// refused before anything switches.
async fn ready_to_switch(state: &AppState, name: &ModelName, version: VersionNumber) -> Result<(), ApiError> {
    preload(state, name, version).await
}

fn deployed(state: &AppState, deployment: depot_catalog::Deployment) -> HttpResponse {
    state.resolver.set_deployment(&deployment.model, Some(target_of(&deployment)));
    HttpResponse::Ok().json(DeploymentView::from(deployment))
}

/// The current deployment.
#[utoipa::path(get, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "get_deployment",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "What the version-less routes serve", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/deployment")]
pub async fn get_deployment(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let deployment = state
        .catalog
        .get_deployment(&name)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed")))?;
    Ok(HttpResponse::Ok().json(DeploymentView::from(deployment)))
}

/// Deploy any registered, servable version: it is loaded and warmed, then traffic switches to
/// it (ending any canary). Recorded with who, when and why.
#[utoipa::path(put, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "deploy_version",
    request_body = DeployRequest,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "Deployed", body = DeploymentView),
        (status = 400, description = "Invalid name, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "The version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load this model; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/deployment")]
pub async fn deploy(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Json<DeployRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let version = number(body.version)?;
    let change = change_with(&request, body.reason)?;
    ready_to_switch(&state, &name, version).await?;
    let deployment = state.catalog.deploy(&name, version, &change).await?;
    tracing::info!(model.name = %name, model.version = %version, actor = %change.actor, "deployed");
    Ok(deployed(&state, deployment))
}

/// Roll back in one call: to the version deployed before the current one, or to a named one.
#[utoipa::path(post, path = "/v1/models/{name}/deployment/rollback", tag = "deployments",
    operation_id = "rollback_deployment",
    request_body = RollbackRequest,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "Rolled back", body = DeploymentView),
        (status = 400, description = "Invalid name, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version, or the model is not deployed", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to, or the version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load the target; nothing changed", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/deployment/rollback")]
pub async fn rollback(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<RollbackRequest>>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let change = change_with(&request, body.reason)?;
    let target = match body.version {
        Some(v) => {
            if state.catalog.get_deployment(&name).await?.is_none() {
                return Err(ApiError::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed")));
            }
            number(v)?
        }
        None => state.catalog.rollback_target(&name).await?,
    };
    ready_to_switch(&state, &name, target).await?;
    let deployment = state.catalog.rollback(&name, target, &change).await?;
    tracing::info!(model.name = %name, model.version = %target, actor = %change.actor, "rolled back");
    Ok(deployed(&state, deployment))
}

/// Stop serving the version-less routes (the versions stay registered).
#[utoipa::path(delete, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "undeploy",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 204, description = "Undeployed"),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/deployment")]
pub async fn undeploy(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<ReasonRequest>>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let change = change_with(&request, body.and_then(|b| b.into_inner().reason))?;
    state.catalog.undeploy(&name, &change).await?;
    state.resolver.set_deployment(&name, None);
    Ok(HttpResponse::NoContent().finish())
}

/// Start or change a canary: a second version gets `percent` of the version-less requests
/// (once it is loaded and ready on a replica).
#[utoipa::path(put, path = "/v1/models/{name}/deployment/canary", tag = "deployments", operation_id = "set_canary",
    request_body = CanaryRequest,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "The deployment with its canary", body = DeploymentView),
        (status = 400, description = "Invalid name, version, percent or body", body = ErrorBody),
        (status = 404, description = "No such model or version, or the model is not deployed", body = ErrorBody),
        (status = 409, description = "The version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load it; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/deployment/canary")]
pub async fn set_canary(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Json<CanaryRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let version = number(body.version)?;
    if !(1..=99).contains(&body.percent) {
        return Err(ApiError::new(ErrorCode::InvalidCanary, format!("percent must be 1 to 99, not {}", body.percent)));
    }
    let change = change_with(&request, body.reason)?;
    let current = state.catalog.get_deployment(&name).await?.ok_or_else(|| {
        ApiError::new(ErrorCode::DeploymentNotFound, format!("model '{name}' is not deployed: deploy a version first"))
    })?;
    if current.version == version {
        return Err(ApiError::new(ErrorCode::InvalidCanary, format!("version {version} is already the deployed one")));
    }
    ready_to_switch(&state, &name, version).await?;
    let deployment = state.catalog.set_canary(&name, Canary { version, percent: body.percent }, &change).await?;
    Ok(deployed(&state, deployment))
}

/// Promote the canary: it becomes the deployed version and takes all traffic.
#[utoipa::path(post, path = "/v1/models/{name}/deployment/canary/promote", tag = "deployments",
    operation_id = "promote_canary",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "Promoted", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, no deployment or no canary", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/deployment/canary/promote")]
pub async fn promote_canary(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<ReasonRequest>>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let change = change_with(&request, body.and_then(|b| b.into_inner().reason))?;
    if let Some(canary) = state.catalog.get_deployment(&name).await?.and_then(|d| d.canary) {
        ready_to_switch(&state, &name, canary.version).await?;
    }
    let deployment = state.catalog.promote_canary(&name, &change).await?;
    Ok(deployed(&state, deployment))
}

/// Abort the canary: all traffic goes back to the deployed version.
#[utoipa::path(delete, path = "/v1/models/{name}/deployment/canary", tag = "deployments", operation_id = "abort_canary",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "The deployment without canary", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, no deployment or no canary", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/deployment/canary")]
pub async fn abort_canary(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: Option<web::Json<ReasonRequest>>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let change = change_with(&request, body.and_then(|b| b.into_inner().reason))?;
    let deployment = state.catalog.abort_canary(&name, &change).await?;
    Ok(deployed(&state, deployment))
}

/// Every deployment and alias change of a model (action, from → to, who, when, why), newest
/// first. Append-only.
#[utoipa::path(get, path = "/v1/models/{name}/deployment/history", tag = "deployments",
    operation_id = "list_deployment_history",
    params(("name" = String, Path, description = "Model name"), ListVersionsQuery),
    responses(
        (status = 200, description = "A page of changes", body = HistoryList),
        (status = 400, description = "Invalid name or query", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/deployment/history")]
pub async fn history(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListVersionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let query = query.into_inner();
    let page = state.catalog.serving_history(&name, &page(query.limit, query.cursor)?).await?;
    Ok(HttpResponse::Ok()
        .json(HistoryList { entries: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// A model's aliases.
#[utoipa::path(get, path = "/v1/models/{name}/aliases", tag = "aliases", operation_id = "list_aliases",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "Aliases in name order", body = AliasList),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/aliases")]
pub async fn list_aliases(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let aliases = state.catalog.list_aliases(&model_name(&path)?).await?;
    Ok(HttpResponse::Ok().json(AliasList { aliases: aliases.into_iter().map(Into::into).collect() }))
}

/// One alias.
#[utoipa::path(get, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", operation_id = "get_alias",
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias")),
    responses(
        (status = 200, description = "The alias", body = AliasView),
        (status = 400, description = "Invalid name or alias", body = ErrorBody),
        (status = 404, description = "No such model or alias", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/aliases/{alias}")]
pub async fn get_alias(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let alias = state.catalog.get_alias(&model_name(&path.0)?, &alias_name(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(AliasView::from(alias)))
}

/// Create or move an alias. Predictions through it (`/v1/models/{name}/versions/{alias}/predict`,
/// `/v2/models/{name}/versions/{alias}/infer`) follow it. A servable target is loaded and warmed
/// before the alias moves.
#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", operation_id = "set_alias",
    request_body = SetAliasRequest,
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change")),
    responses(
        (status = 200, description = "The alias", body = AliasView),
        (status = 400, description = "Invalid name, alias, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load the target; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/aliases/{alias}")]
pub async fn set_alias(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<SetAliasRequest>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = (model_name(&path.0)?, alias_name(&path.1)?);
    let body = body.into_inner();
    let version = number(body.version)?;
    let change = change_with(&request, body.reason)?;
    let resolved = state.resolver.resolve(&state.catalog, &name, version).await?;
    if resolved.servable {
        ready_to_switch(&state, &name, version).await?;
    }
    let alias = state.catalog.set_alias(&name, &alias, version, &change).await?;
    state.resolver.set_alias(&name, &alias.alias, Some(alias.version));
    Ok(HttpResponse::Ok().json(AliasView::from(alias)))
}

/// Delete an alias.
#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", operation_id = "delete_alias",
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias"),
           ("x-depot-actor" = Option<String>, Header, description = "Who makes the change"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid name or alias", body = ErrorBody),
        (status = 404, description = "No such model or alias", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/aliases/{alias}")]
pub async fn delete_alias(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = (model_name(&path.0)?, alias_name(&path.1)?);
    state.catalog.delete_alias(&name, &alias, &change_of(&request)?).await?;
    state.resolver.set_alias(&name, &alias, None);
    Ok(HttpResponse::NoContent().finish())
}
