use actix_multipart::Multipart;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType, EntityTag};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use depot_domain::{BatchPolicy, ModelName, VersionMetadata, VersionNumber};
use depot_service::{SortOrder, VersionUpdate, page_request};

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::request::{Json, Query, declared_length, model_name, reason, version_number};
use crate::state::AppState;
use crate::upload::register_version;
use crate::views::{ArtifactBytes, ListVersionsQuery, Order, UpdateVersion, UploadForm, VersionList, VersionView};

/// Upload a new version: the artifact and its metadata in one `multipart/form-data` request.
///
/// `curl -F 'metadata={"description":"retrain"}' -F artifact=@model.onnx .../v1/models/NAME/versions`.
/// The artifact is streamed to storage while its SHA-256 is computed and its format recognised;
/// for ONNX the signature is read from it. The server assigns the next version number.
#[utoipa::path(post, path = "/v1/models/{name}/versions", tag = "versions", operation_id = "create_version",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    params(("name" = String, Path, description = "Model name"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 201, description = "Registered", body = VersionView),
        (status = 400, description = "Invalid form, metadata, tags or digest mismatch", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Artifact larger than the limit", body = ErrorBody),
        (status = 415, description = "Not multipart, or an artifact of no accepted format", body = ErrorBody),
        (status = 422, description = "A corrupt ONNX file", body = ErrorBody),
    ))]
#[post("/v1/models/{name}/versions")]
pub async fn create_version(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let actor = caller.with_reason(reason(&request, None)?);
    if let Some(length) = declared_length(&request)
        && length > state.limits.max_artifact_bytes.saturating_add(VersionMetadata::MAX_JSON_BYTES as u64 + 64 * 1024)
    {
        return Err(ApiError::new(
            ErrorCode::ArtifactTooLarge,
            format!("the upload is {length} bytes; artifacts are limited to {} bytes", state.limits.max_artifact_bytes),
        ));
    }
    let version = register_version(&state.services.registry, &actor, &name, form).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/models/{}/versions/{}", version.model, version.version)))
        .json(VersionView::from(version)))
}

/// List a model's versions, newest first by default.
#[utoipa::path(get, path = "/v1/models/{name}/versions", tag = "versions", operation_id = "list_versions",
    params(("name" = String, Path, description = "Model name"), ListVersionsQuery),
    responses(
        (status = 200, description = "A page of versions", body = VersionList),
        (status = 400, description = "Invalid name or query", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/versions")]
pub async fn list_versions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: Query<ListVersionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let name = model_name(&path)?;
    let query = query.into_inner();
    let order = match query.order.unwrap_or_default() {
        Order::Asc => SortOrder::Asc,
        Order::Desc => SortOrder::Desc,
    };
    let page = state
        .services
        .registry
        .list_versions(&caller.0, &name, order, &page_request(query.limit, query.cursor)?)
        .await?;
    Ok(HttpResponse::Ok().json(VersionList {
        versions: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}

fn model_and_version(path: &(String, String)) -> Result<(ModelName, VersionNumber), ApiError> {
    Ok((model_name(&path.0)?, version_number(&path.1)?))
}

/// Get one version.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}", tag = "versions", operation_id = "get_version",
    params(("name" = String, Path, description = "Model name"), ("version" = u32, Path, description = "Version number")),
    responses(
        (status = 200, description = "The version", body = VersionView),
        (status = 400, description = "Invalid name or version", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/versions/{version}")]
pub async fn get_version(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, number) = model_and_version(&path)?;
    let version = state.services.registry.get_version(&caller.0, &name, number).await?;
    Ok(HttpResponse::Ok().json(VersionView::from(version)))
}

/// Change a version's description, tags or metadata. The artifact never changes.
#[utoipa::path(patch, path = "/v1/models/{name}/versions/{version}", tag = "versions", operation_id = "update_version",
    request_body = UpdateVersion,
    params(("name" = String, Path, description = "Model name"), ("version" = u32, Path, description = "Version number"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 200, description = "The updated version", body = VersionView),
        (status = 400, description = "Invalid name, version, tags, metadata or batching", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
    ))]
#[patch("/v1/models/{name}/versions/{version}")]
pub async fn update_version(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
    body: Json<UpdateVersion>,
) -> Result<HttpResponse, ApiError> {
    let (name, number) = model_and_version(&path)?;
    let body = body.into_inner();
    let update = VersionUpdate {
        description: body.description,
        tags: body.tags,
        metadata: body.metadata.map(VersionMetadata::from),
        batching: body.batching.map(|b| b.map(BatchPolicy::from)),
    };
    let version = state
        .services
        .registry
        .update_version(&caller.with_reason(reason(&request, None)?), &name, number, update)
        .await?;
    Ok(HttpResponse::Ok().json(VersionView::from(version)))
}

/// Delete a version. Its artifact's bytes are deleted too unless another version has the same
/// digest. The version number is never reused.
#[utoipa::path(delete, path = "/v1/models/{name}/versions/{version}", tag = "versions", operation_id = "delete_version",
    params(("name" = String, Path, description = "Model name"), ("version" = u32, Path, description = "Version number"),
           ("x-depot-reason" = Option<String>, Header, description = "Why (audit log)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid name or version", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "The version is deployed or aliased", body = ErrorBody),
    ))]
#[delete("/v1/models/{name}/versions/{version}")]
pub async fn delete_version(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, number) = model_and_version(&path)?;
    state.services.registry.delete_version(&caller.with_reason(reason(&request, None)?), &name, number).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Download a version's artifact, streamed, with `ETag` = its digest.
#[utoipa::path(get, path = "/v1/models/{name}/versions/{version}/artifact", tag = "versions",
    operation_id = "get_version_artifact",
    params(("name" = String, Path, description = "Model name"), ("version" = u32, Path, description = "Version number"),
           ("if-none-match" = Option<String>, Header, description = "An ETag from an earlier download")),
    responses(
        (status = 200, description = "The artifact's bytes", content_type = "application/octet-stream", body = ArtifactBytes,
            headers(("ETag" = String, description = "The quoted digest, such as \"sha256:…\""),
                    ("Content-Length" = u64, description = "Size in bytes"))),
        (status = 304, description = "Unchanged since the ETag given"),
        (status = 400, description = "Invalid name or version", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
    ))]
#[get("/v1/models/{name}/versions/{version}/artifact")]
pub async fn download_artifact(
    state: web::Data<AppState>,
    caller: Caller,
    request: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, number) = model_and_version(&path)?;
    let known = |digest: &str| {
        let etag = EntityTag::new_strong(digest.to_owned()).to_string();
        request
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    };
    let artifact = state
        .services
        .registry
        .artifact(&caller.0, &name, number, |version| known(&version.digest.to_string()))
        .await?;
    let etag = header::ETag(EntityTag::new_strong(artifact.version.digest.to_string()));
    let file_name = artifact.file_name();
    let Some((size, stream)) = artifact.content else {
        return Ok(HttpResponse::NotModified().insert_header(etag).finish());
    };
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(etag)
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .no_chunking(size)
        .streaming(stream))
}
