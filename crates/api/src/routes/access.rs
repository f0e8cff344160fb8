//! Access control: API tokens, the caller's own identity, a model's protection, and the pending
//! changes that protection creates (approve, reject). The rules live in the use cases.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use depot_domain::{AliasName, Grant, ModelPattern, Principal, Role};
use depot_service::{PendingFilter, Protection, TokenRequest, page_request};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::request::{Json, OptionalJson, Query, alias_name, model_name, reason};
use crate::state::AppState;
use crate::views::{
    CreateTokenRequest, CreatedTokenView, GrantView, ListApprovalsQuery, ListTokensQuery, PendingChangeList,
    PendingChangeView, ProtectionView, ReasonRequest, TokenList, TokenView, WhoAmI,
};

fn grant(view: GrantView) -> Result<Grant, ApiError> {
    let role = Role::ALL.into_iter().find(|r| r.as_str() == view.role).ok_or_else(|| {
        ApiError::new(
            ErrorCode::InvalidGrant,
            format!("role {:?} is not one of reader, predictor, pusher, deployer, admin", view.role),
        )
    })?;
    Ok(Grant::new(role, ModelPattern::parse(&view.models)?))
}

/// A token's id as the path names it: 12 hex digits.
fn token_id(raw: &str) -> Result<&str, ApiError> {
    if raw.len() == 12 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(raw)
    } else {
        Err(ApiError::invalid(format!("{raw:?} is not a token id (12 hex digits, as listed by GET /v1/tokens)")))
    }
}

fn principal(raw: &str) -> Result<Principal, ApiError> {
    Ok(Principal::parse(raw)?)
}

/// Create a token for a principal, with one or more grants, each a role on a model pattern.
/// The token's text is in this response only; Depot keeps its hash. Needs the admin role on
/// the models of every grant.
#[utoipa::path(post, path = "/v1/tokens", tag = "access", operation_id = "create_token",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created; the token is shown this once", body = CreatedTokenView),
        (status = 400, description = "Invalid name, principal, grant or expiry", body = ErrorBody),
        (status = 409, description = "The principal has a live token of this name", body = ErrorBody),
    ))]
#[post("/v1/tokens")]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CreateTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = TokenRequest {
        name: body.name,
        principal: principal(&body.principal)?,
        grants: body.grants.into_iter().map(grant).collect::<Result<_, _>>()?,
        expires_at: body.expires_at,
    };
    let created = state.services.auth.create_token(&caller.0, request).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/tokens/{}", created.record.id)))
        .insert_header(("Cache-Control", "no-store"))
        .json(CreatedTokenView { token: created.text, info: created.record.into() }))
}

/// List tokens, newest first: every principal's for an admin of every model, else the
/// caller's own principal's.
#[utoipa::path(get, path = "/v1/tokens", tag = "access", operation_id = "list_tokens", params(ListTokensQuery),
    responses(
        (status = 200, description = "A page of tokens (never their secrets)", body = TokenList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    ))]
#[get("/v1/tokens")]
pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<ListTokensQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let who = query.principal.as_deref().map(principal).transpose()?;
    let page = page_request(query.limit, query.cursor)?;
    let page = state.services.auth.list_tokens(&caller.0, who, query.include_revoked, &page).await?;
    Ok(HttpResponse::Ok()
        .json(TokenList { tokens: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// One token (never its secret).
#[utoipa::path(get, path = "/v1/tokens/{id}", tag = "access", operation_id = "get_token",
    params(("id" = String, Path, description = "The token's id")),
    responses(
        (status = 200, description = "The token", body = TokenView),
        (status = 400, description = "Not a token id", body = ErrorBody),
        (status = 404, description = "No such token (or another principal's)", body = ErrorBody),
    ))]
#[get("/v1/tokens/{id}")]
pub async fn get_token(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = state.services.auth.get_token(&caller.0, token_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(TokenView::from(token)))
}

/// Revoke a token: every replica refuses it within a second (at once, through a notification).
/// A principal may revoke its own tokens; an admin of every model, anyone's.
#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "access", operation_id = "revoke_token",
    params(("id" = String, Path, description = "The token's id"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 400, description = "Not a token id", body = ErrorBody),
        (status = 404, description = "No such token (or another principal's)", body = ErrorBody),
    ))]
#[delete("/v1/tokens/{id}")]
pub async fn revoke_token(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.with_reason(reason(&request, None)?);
    let token = state.services.auth.revoke_token(&actor, token_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(TokenView::from(token)))
}

/// Who the request's token is and what it may do.
#[utoipa::path(get, path = "/v1/whoami", tag = "access", operation_id = "get_whoami",
    responses((status = 200, description = "The caller", body = WhoAmI)))]
#[get("/v1/whoami")]
pub async fn whoami(caller: Caller) -> HttpResponse {
    let actor = caller.0;
    HttpResponse::Ok().json(WhoAmI {
        principal: actor.principal().to_owned(),
        token: actor.token().map(str::to_owned),
        grants: actor.grants().iter().map(GrantView::from).collect(),
    })
}

/// A model's protection.
#[utoipa::path(get, path = "/v1/models/{name}/protection", tag = "access", operation_id = "get_protection",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "What is protected", body = ProtectionView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/protection")]
pub async fn get_protection(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let protection = state.services.registry.protection(&caller.0, &model_name(&path)?).await?;
    Ok(HttpResponse::Ok().json(ProtectionView::from(protection)))
}

/// Protect aliases and/or the deployment of a model, and require a second principal's approval
/// to change them. Needs the admin role on the model.
#[utoipa::path(put, path = "/v1/models/{name}/protection", tag = "access", operation_id = "set_protection",
    request_body = ProtectionView,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 200, description = "What is protected now", body = ProtectionView),
        (status = 400, description = "Invalid name, alias or body", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[put("/v1/models/{name}/protection")]
pub async fn set_protection(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<ProtectionView>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let protection = Protection {
        aliases: body.aliases.iter().map(|a| alias_name(a)).collect::<Result<Vec<AliasName>, _>>()?,
        deployment: body.deployment,
        require_approval: body.require_approval,
    };
    let actor = caller.with_reason(reason(&request, None)?);
    let protection = state.services.registry.set_protection(&actor, &name, &protection).await?;
    Ok(HttpResponse::Ok().json(ProtectionView::from(protection)))
}

/// Changes to protected aliases and deployments, newest first, of the models the token may read.
#[utoipa::path(get, path = "/v1/approvals", tag = "access", operation_id = "list_approvals",
    params(ListApprovalsQuery),
    responses(
        (status = 200, description = "A page of changes", body = PendingChangeList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    ))]
#[get("/v1/approvals")]
pub async fn list_approvals(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<ListApprovalsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter =
        PendingFilter { model: query.model.as_deref().map(model_name).transpose()?, state: query.state, visible: None };
    let page = page_request(query.limit, query.cursor)?;
    let page = state.services.registry.pending_changes(&caller.0, filter, &page).await?;
    Ok(HttpResponse::Ok().json(PendingChangeList {
        changes: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn change_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::invalid(format!("{raw:?} is not a change id (a positive integer)")))
}

/// One change.
#[utoipa::path(get, path = "/v1/approvals/{id}", tag = "access", operation_id = "get_approval",
    params(("id" = i64, Path, description = "The change's id")),
    responses(
        (status = 200, description = "The change", body = PendingChangeView),
        (status = 400, description = "Invalid id", body = ErrorBody),
        (status = 404, description = "No such change (or of a model the token cannot read)", body = ErrorBody),
    ))]
#[get("/v1/approvals/{id}")]
pub async fn get_approval(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let change = state.services.registry.pending_change(&caller.0, change_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(PendingChangeView::from(change)))
}

/// Approve a pending change and make it, exactly as a direct change would be made: the
/// version is loaded and warmed first, and if it cannot be served nothing changes (the change
/// stays pending). Needs the deployer role on the model, and another principal than the
/// proposer's.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", tag = "access", operation_id = "approve_change",
    request_body(content = Option<ReasonRequest>),
    params(("id" = i64, Path, description = "The change's id")),
    responses(
        (status = 200, description = "Approved and made", body = PendingChangeView),
        (status = 400, description = "Invalid id or body", body = ErrorBody),
        (status = 404, description = "No such change", body = ErrorBody),
        (status = 409, description = "No longer pending, or the version cannot be served", body = ErrorBody),
        (status = 422, description = "ONNX Runtime cannot load the version; nothing changed", body = ErrorBody),
    ))]
#[post("/v1/approvals/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = change_id(&path)?;
    let actor = caller.with_reason(reason(&request, body.into_inner().and_then(|b| b.reason))?);
    let change = state.services.registry.approve(&actor, id).await?;
    Ok(HttpResponse::Ok().json(PendingChangeView::from(change)))
}

/// Reject a pending change: nothing it proposed happens. Its proposer may withdraw it so.
#[utoipa::path(post, path = "/v1/approvals/{id}/reject", tag = "access", operation_id = "reject_change",
    request_body(content = Option<ReasonRequest>),
    params(("id" = i64, Path, description = "The change's id")),
    responses(
        (status = 200, description = "Rejected", body = PendingChangeView),
        (status = 400, description = "Invalid id or body", body = ErrorBody),
        (status = 404, description = "No such change", body = ErrorBody),
        (status = 409, description = "No longer pending", body = ErrorBody),
    ))]
#[post("/v1/approvals/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: OptionalJson<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = change_id(&path)?;
    let actor = caller.with_reason(reason(&request, body.into_inner().and_then(|b| b.reason))?);
    let change = state.services.registry.reject(&actor, id).await?;
    Ok(HttpResponse::Ok().json(PendingChangeView::from(change)))
}
