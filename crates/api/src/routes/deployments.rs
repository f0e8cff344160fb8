//! Deployments (what the version-less routes serve), canaries, rollback, aliases, and their
//! history. Every switch loads and warms the new version first: if it cannot be loaded the
//! switch fails and traffic stays where it was.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use depot_service::{Outcome, page_request};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::request::{Json, OptionalJson, Query, alias_name, model_name, reason, version_from_body};
use crate::state::AppState;
use crate::views::{
    AliasList, AliasView, CanaryRequest, DeployRequest, DeploymentView, HistoryList, HistoryQuery, PendingChangeView,
    ReasonRequest, RollbackRequest, SetAliasRequest,
};

/// The current deployment.
#[utoipa::path(get, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "get_deployment",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "What the version-less routes serve", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/deployment")]
pub async fn get_deployment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let deployment = state.services.registry.deployment(&caller.0, &model_name(&path)?).await?;
    Ok(HttpResponse::Ok().json(DeploymentView::from(deployment)))
}

/// Deploy any registered, servable version: it is loaded and warmed, then traffic switches to
/// it (ending any canary). Recorded with who, when and why.
#[utoipa::path(put, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "deploy_version",
    request_body = DeployRequest,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The deployment is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 200, description = "Deployed", body = DeploymentView),
        (status = 400, description = "Invalid name, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "The version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load this model; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/deployment")]
pub async fn deploy(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<DeployRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let version = version_from_body(body.version)?;
    let actor = caller.with_reason(reason(&request, body.reason)?);
    let outcome = state.services.registry.deploy(&actor, &name, version).await?;
    Ok(render(outcome, |d| HttpResponse::Ok().json(DeploymentView::from(d))))
}

/// Roll back in one call: to the version deployed before the current one, or to a named one.
#[utoipa::path(post, path = "/v1/models/{name}/deployment/rollback", tag = "deployments",
    operation_id = "rollback_deployment",
    request_body(content = Option<RollbackRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The deployment is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 200, description = "Rolled back", body = DeploymentView),
        (status = 400, description = "Invalid name, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version, or the model is not deployed", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to, or the version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load the target; nothing changed", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/deployment/rollback")]
pub async fn rollback(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<RollbackRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner().unwrap_or_default();
    let actor = caller.with_reason(reason(&request, body.reason)?);
    let version = body.version.map(version_from_body).transpose()?;
    let outcome = state.services.registry.rollback(&actor, &name, version).await?;
    Ok(render(outcome, |d| HttpResponse::Ok().json(DeploymentView::from(d))))
}

/// Stop serving the version-less routes (the versions stay registered).
#[utoipa::path(delete, path = "/v1/models/{name}/deployment", tag = "deployments", operation_id = "undeploy",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The deployment is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 204, description = "Undeployed"),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, or it is not deployed", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/deployment")]
pub async fn undeploy(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let actor = caller.with_reason(reason(&request, body.into_inner().and_then(|b| b.reason))?);
    let outcome = state.services.registry.undeploy(&actor, &name).await?;
    Ok(render(outcome, |()| HttpResponse::NoContent().finish()))
}

/// Start or change a canary: a second version gets `percent` of the version-less requests
/// (once it is loaded and ready on a replica).
#[utoipa::path(put, path = "/v1/models/{name}/deployment/canary", tag = "deployments", operation_id = "set_canary",
    request_body = CanaryRequest,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The deployment is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 200, description = "The deployment with its canary", body = DeploymentView),
        (status = 400, description = "Invalid name, version, percent or body", body = ErrorBody),
        (status = 404, description = "No such model or version, or the model is not deployed", body = ErrorBody),
        (status = 409, description = "The version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load it; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/deployment/canary")]
pub async fn set_canary(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<CanaryRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let version = version_from_body(body.version)?;
    let actor = caller.with_reason(reason(&request, body.reason)?);
    let outcome = state.services.registry.set_canary(&actor, &name, version, body.percent).await?;
    Ok(render(outcome, |d| HttpResponse::Ok().json(DeploymentView::from(d))))
}

/// Promote the canary: it becomes the deployed version and takes all traffic.
#[utoipa::path(post, path = "/v1/models/{name}/deployment/canary/promote", tag = "deployments",
    operation_id = "promote_canary",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The deployment is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 200, description = "Promoted", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, no deployment or no canary", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/deployment/canary/promote")]
pub async fn promote_canary(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let actor = caller.with_reason(reason(&request, body.into_inner().and_then(|b| b.reason))?);
    let outcome = state.services.registry.promote_canary(&actor, &name).await?;
    Ok(render(outcome, |d| HttpResponse::Ok().json(DeploymentView::from(d))))
}

/// Abort the canary: all traffic goes back to the deployed version.
#[utoipa::path(delete, path = "/v1/models/{name}/deployment/canary", tag = "deployments", operation_id = "abort_canary",
    request_body(content = Option<ReasonRequest>),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 200, description = "The deployment without canary", body = DeploymentView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model, no deployment or no canary", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/deployment/canary")]
pub async fn abort_canary(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let actor = caller.with_reason(reason(&request, body.into_inner().and_then(|b| b.reason))?);
    let deployment = state.services.registry.abort_canary(&actor, &name).await?;
    Ok(HttpResponse::Ok().json(DeploymentView::from(deployment)))
}

/// Every deployment and alias change of a model (action, from → to, who, when, why), newest
/// first. Append-only.
#[utoipa::path(get, path = "/v1/models/{name}/deployment/history", tag = "deployments",
    operation_id = "list_deployment_history",
    params(("name" = String, Path, description = "Model name"), HistoryQuery),
    responses(
        (status = 200, description = "A page of changes", body = HistoryList),
        (status = 400, description = "Invalid name or query", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/deployment/history")]
pub async fn history(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: Query<HistoryQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let query = query.into_inner();
    let page =
        state.services.registry.serving_history(&caller.0, &name, &page_request(query.limit, query.cursor)?).await?;
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
pub async fn list_aliases(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let aliases = state.services.registry.aliases(&caller.0, &model_name(&path)?).await?;
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
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let alias = state.services.registry.alias(&caller.0, &model_name(&path.0)?, &alias_name(&path.1)?).await?;
    Ok(HttpResponse::Ok().json(AliasView::from(alias)))
}

/// Create or move an alias. Predictions through it (`/v1/models/{name}/versions/{alias}/predict`,
/// `/v2/models/{name}/versions/{alias}/infer`) follow it. A servable target is loaded and warmed
/// before the alias moves.
#[utoipa::path(put, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", operation_id = "set_alias",
    request_body = SetAliasRequest,
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The alias is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 200, description = "The alias", body = AliasView),
        (status = 400, description = "Invalid name, alias, version or body", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load the target; nothing changed", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/aliases/{alias}")]
pub async fn set_alias(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<SetAliasRequest>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = (model_name(&path.0)?, alias_name(&path.1)?);
    let body = body.into_inner();
    let version = version_from_body(body.version)?;
    let actor = caller.with_reason(reason(&request, body.reason)?);
    let outcome = state.services.registry.set_alias(&actor, &name, &alias, version).await?;
    Ok(render(outcome, |a| HttpResponse::Ok().json(AliasView::from(a))))
}

/// Delete an alias.
#[utoipa::path(delete, path = "/v1/models/{name}/aliases/{alias}", tag = "aliases", operation_id = "delete_alias",
    params(("name" = String, Path, description = "Model name"), ("alias" = String, Path, description = "Alias"),
           ("x-depot-reason" = Option<String>, Header, description = "Why")),
    responses(
        (status = 202, description = "The alias is protected and needs approval: the change is pending", body = PendingChangeView,
            headers(("Location" = String, description = "The pending change, under /v1/approvals"))),
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid name or alias", body = ErrorBody),
        (status = 404, description = "No such model or alias", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/aliases/{alias}")]
pub async fn delete_alias(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, alias) = (model_name(&path.0)?, alias_name(&path.1)?);
    let actor = caller.with_reason(reason(&request, None)?);
    let outcome = state.services.registry.delete_alias(&actor, &name, &alias).await?;
    Ok(render(outcome, |()| HttpResponse::NoContent().finish()))
}

/// The change made (`done`), or 202 with the pending change it became.
fn render<T>(outcome: Outcome<T>, done: impl FnOnce(T) -> HttpResponse) -> HttpResponse {
    match outcome {
        Outcome::Done(value) => done(value),
        Outcome::Proposed(pending) => HttpResponse::Accepted()
            .insert_header(("Location", format!("/v1/approvals/{}", pending.id)))
            .json(PendingChangeView::from(*pending)),
    }
}
