//! The OpenAPI document, generated from the handlers' annotations. `depot openapi` writes it to
//! `openapi/openapi.json`; a test fails when the committed file differs.

use utoipa::OpenApi;

use crate::error::ErrorBody;
use crate::views::*;

/// Declares the routes once: the same list registers them with actix ([`configure`], in this
/// order, since actix tries routes in registration order) and documents them ([`ApiPaths`]), so
/// the server and `openapi/openapi.json` cannot disagree on which operations exist. (That each
/// handler's actix path and its documented path agree is checked by a test that routes every
/// documented operation.)
macro_rules! routes {
    ($($module:ident :: $handler:ident),+ $(,)?) => {
        /// Registers every route with actix.
        pub(crate) fn configure(config: &mut actix_web::web::ServiceConfig) {
            $(config.service(crate::routes::$module::$handler);)+
        }

        /// The documented operations.
        #[derive(OpenApi)]
        #[openapi(paths($(crate::routes::$module::$handler),+))]
        struct ApiPaths;

        /// How many routes there are.
        #[cfg(test)]
        pub(crate) const ROUTE_COUNT: usize = [$(stringify!($handler)),+].len();
    };
}

routes! {
    // The prediction routes, the hot path, go first (measured: 286 -> 212 us p50 for a tiny
    // model at concurrency 1, BENCHMARKS.md "Serving").
    predict::predict_version,
    predict::predict_deployed,
    oip::infer_version,
    oip::infer_deployed,
    health::healthz,
    health::readyz,
    health::dependencies,
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
    access::create_token,
    access::list_tokens,
    access::get_token,
    access::revoke_token,
    access::whoami,
    access::get_protection,
    access::set_protection,
    access::list_approvals,
    access::get_approval,
    access::approve,
    access::reject,
    oip::server_metadata,
    oip::live,
    oip::ready,
    // Before /v2/models/{name}, which would take "stats" for a model's name (as in Triton).
    oip::all_stats,
    oip::model_version_stats,
    oip::model_stats,
    oip::model_version_metadata,
    oip::model_metadata,
    oip::model_version_ready,
    oip::model_ready,
    health::metrics,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Depot",
        description = "Model registry and deployment server. Errors under /v1 share one body: \
            `{\"code\": \"...\", \"message\": \"...\"}` with a stable code. Every route but health, \
            readiness and the docs needs an API token (`Authorization: Bearer depot_...`); what it may do \
            comes from its grants (a role on a model-name pattern). Changes are recorded in the audit log \
            as made by the token's principal, with the `x-depot-reason` header or the body's `reason`."
    ),
    components(schemas(ErrorBody, UploadMetadata)),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "models", description = "Registered models"),
        (name = "versions", description = "Immutable, content-addressed model versions"),
        (name = "audit", description = "The append-only record of every change"),
        (name = "access", description = "API tokens, protected aliases and deployments, and approvals of changes to them"),
        (name = "deployments", description = "Deploy, canary and roll back; the history of every change"),
        (name = "aliases", description = "Named pointers to versions, usable wherever a version number goes in a prediction route"),
        (name = "predict", description = "Predictions over Depot's simple JSON API"),
        (name = "inference (v2)", description = "The Open Inference Protocol v2 (KServe/Triton), binary tensor extension included"),
    )
)]
struct ApiDoc;

/// The operations open to requests without a token.
const PUBLIC: &[&str] =
    &["get_health", "get_readiness", "get_dependencies", "get_v2_server_metadata", "get_v2_live", "get_v2_ready"];

/// The whole document: the description above and every route's operation, with the bearer
/// scheme on every operation that needs a token and the answers authentication adds to it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
    use utoipa::openapi::{Ref, ResponseBuilder, content::ContentBuilder};

    let mut doc = ApiDoc::openapi();
    doc.merge(ApiPaths::openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    let mut scheme = Http::new(HttpAuthScheme::Bearer);
    scheme.description = Some("An API token, `depot_<id>_<secret>`".to_owned());
    components.add_security_scheme(BEARER, SecurityScheme::Http(scheme));
    let error = |description: &str, schema: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build())
            .build()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let schema = if path.starts_with("/v2") { "OipErrorBody" } else { "ErrorBody" };
        for operation in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            if operation.operation_id.as_deref().is_some_and(|id| PUBLIC.contains(&id)) {
                operation.security = Some(vec![SecurityRequirement::default()]);
                continue;
            }
            operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
            let responses = &mut operation.responses.responses;
            responses.entry("401".to_owned()).or_insert_with(|| {
                error("No token, or an unknown, expired or revoked one (with `WWW-Authenticate: Bearer`)", schema)
                    .into()
            });
            responses
                .entry("403".to_owned())
                .or_insert_with(|| error("The token's grants do not allow this on this model", schema).into());
            responses.entry("429".to_owned()).or_insert_with(|| {
                error("Too many failed authentications from this address, or too many requests queued", schema).into()
            });
        }
    }
    doc
}

/// The name of the bearer security scheme.
const BEARER: &str = "bearer";

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document() -> String {
    let mut json = openapi().to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix;
    use actix_web::{App, HttpResponse, http::Method, web};

    use super::*;

    /// Every (method, path) the document names.
    fn documented() -> Vec<(Method, String)> {
        let mut operations = Vec::new();
        for (path, item) in &openapi().paths.paths {
            let methods = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
                (Method::HEAD, item.head.is_some()),
                (Method::OPTIONS, item.options.is_some()),
            ];
            operations.extend(methods.into_iter().filter(|(_, present)| *present).map(|(m, _)| (m, path.clone())));
        }
        operations
    }

    #[test]
    fn the_document_has_exactly_one_operation_per_route() {
        let operations = documented();
        assert_eq!(operations.len(), ROUTE_COUNT, "{operations:?}");
        // The API as it stands: 53 operations on 39 paths. Changing it changes these.
        assert_eq!(ROUTE_COUNT, 53);
        assert_eq!(openapi().paths.paths.len(), 39);
    }

    /// Every operation but the open ones asks for the bearer token and documents the 401 and
    /// 403 it may answer; the open ones ask for nothing.
    #[test]
    fn operations_declare_the_bearer_token_unless_open() {
        let doc = openapi();
        let schemes = &doc.components.as_ref().expect("components").security_schemes;
        assert!(schemes.contains_key(BEARER));
        let mut open = Vec::new();
        for item in doc.paths.paths.values() {
            for operation in [&item.get, &item.post, &item.put, &item.patch, &item.delete].into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                let security = serde_json::to_value(&operation.security).expect("json");
                if PUBLIC.contains(&id.as_str()) {
                    assert_eq!(security, serde_json::json!([{}]), "{id}");
                    open.push(id);
                } else {
                    assert_eq!(security, serde_json::json!([{"bearer": []}]), "{id}");
                    for status in ["401", "403"] {
                        assert!(operation.responses.responses.contains_key(status), "{id} lacks {status}");
                    }
                }
            }
        }
        open.sort();
        let mut expected: Vec<&str> = PUBLIC.to_vec();
        expected.sort();
        assert_eq!(open, expected, "every open operation exists");
    }

    /// The handlers' actix paths and methods are written separately from their documented ones:
    /// each documented operation must reach a handler, not the fallback.
    #[actix_web::test]
    async fn every_documented_operation_is_routed() {
        let app = actix::init_service(App::new().configure(configure).default_service(web::to(|| async {
            HttpResponse::NotFound().insert_header(("x-unrouted", "1")).finish()
        })))
        .await;
        for (method, path) in documented() {
            let uri = path
                .replace("{name}", "m")
                .replace("{version}", "1")
                .replace("{alias}", "champion")
                .replace("{id}", "1");
            let request = actix::TestRequest::default().method(method.clone()).uri(&uri).to_request();
            let response = actix::call_service(&app, request).await;
            assert!(response.headers().get("x-unrouted").is_none(), "{method} {path} reaches no handler");
        }
        // And the fallback is what an undocumented one gets.
        let request = actix::TestRequest::default().method(Method::PUT).uri("/v1/models").to_request();
        assert!(actix::call_service(&app, request).await.headers().get("x-unrouted").is_some());
    }
}
