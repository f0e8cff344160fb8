use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use depot_domain::{ModelName, Tags};
use depot_service::{ModelFilter, ModelPatch, NewModel, page_request};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::request::{Json, Query, model_name, reason};
use crate::state::AppState;
use crate::views::{CreateModel, DeleteModelQuery, ListModelsQuery, ModelList, ModelView, UpdateModel};

/// Register a new model.
#[utoipa::path(post, path = "/v1/models", tag = "models", operation_id = "create_model",
    request_body = CreateModel,
    params(("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 201, description = "Created", body = ModelView),
        (status = 400, description = "Invalid name, tags or body", body = ErrorBody),
        (status = 409, description = "A model with this name exists", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ))]
#[post("/v1/models")]
pub async fn create_model(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    body: Json<CreateModel>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new =
        NewModel { name: ModelName::parse(&body.name)?, description: body.description, tags: Tags::parse(&body.tags)? };
    let model = state.services.registry.create_model(&caller.with_reason(reason(&request, None)?), &new).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/models/{}", model.name)))
        .json(ModelView::from(model)))
}

/// List models in name order, optionally filtered by name prefix and tag.
#[utoipa::path(get, path = "/v1/models", tag = "models", operation_id = "list_models", params(ListModelsQuery),
    responses(
        (status = 200, description = "A page of models", body = ModelList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    ))]
#[get("/v1/models")]
pub async fn list_models(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<ListModelsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = ModelFilter { name_prefix: query.prefix, tag: query.tag, visible: None };
    let page =
        state.services.registry.list_models(&caller.0, &filter, &page_request(query.limit, query.cursor)?).await?;
    Ok(HttpResponse::Ok()
        .json(ModelList { models: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}

/// Get one model.
#[utoipa::path(get, path = "/v1/models/{name}", tag = "models", operation_id = "get_model",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The model", body = ModelView),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}")]
pub async fn get_model(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let model = state.services.registry.get_model(&caller.0, &model_name(&path)?).await?;
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
}

/// Change a model's description and/or tags.
#[utoipa::path(patch, path = "/v1/models/{name}", tag = "models", operation_id = "update_model",
    request_body = UpdateModel,
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 200, description = "The updated model", body = ModelView),
        (status = 400, description = "Invalid name, tags or body", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[patch("/v1/models/{name}")]
pub async fn update_model(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    body: Json<UpdateModel>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let body = body.into_inner();
    let patch = ModelPatch { description: body.description, tags: body.tags.as_deref().map(Tags::parse).transpose()? };
    let model =
        state.services.registry.update_model(&caller.with_reason(reason(&request, None)?), &name, &patch).await?;
    Ok(HttpResponse::Ok().json(ModelView::from(model)))
}

/// Delete a model. A model that still has versions is kept (409) unless `cascade=true`, which
/// first ends its deployment and aliases, then deletes every version and every artifact that no
/// other version references.
#[utoipa::path(delete, path = "/v1/models/{name}", tag = "models", operation_id = "delete_model",
    params(("name" = String, Path, description = "Model name"), DeleteModelQuery,
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 409, description = "The model has versions and cascade is not set", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}")]
pub async fn delete_model(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    query: Query<DeleteModelQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    state.services.registry.delete_model(&caller.with_reason(reason(&request, None)?), &name, query.cascade).await?;
    Ok(HttpResponse::NoContent().finish())
}
