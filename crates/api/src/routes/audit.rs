use actix_web::{HttpResponse, get, web};
use depot_service::page_request;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::request::{Query, model_name};
use crate::state::AppState;
use crate::views::{AuditList, AuditQuery};

/// The audit log of every change, newest first: of the models the token may read (changes to
/// tokens only for an admin of every model).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", operation_id = "list_audit_entries", params(AuditQuery),
    responses(
        (status = 200, description = "A page of changes", body = AuditList),
        (status = 400, description = "Invalid query", body = ErrorBody),
    ))]
#[get("/v1/audit")]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let model = query.model.as_deref().map(model_name).transpose()?;
    let page =
        state.services.registry.audit_log(&caller.0, model.as_ref(), &page_request(query.limit, query.cursor)?).await?;
    Ok(HttpResponse::Ok()
        .json(AuditList { entries: page.items.into_iter().map(Into::into).collect(), next_cursor: page.next_cursor }))
}
