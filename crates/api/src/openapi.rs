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
    oip::server_metadata,
    oip::live,
    oip::ready,
    oip::model_version_metadata,
    oip::model_metadata,
    oip::model_version_ready,
    oip::model_ready,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Depot",
        description = "Model registry and deployment server. Errors under /v1 share one body: \
            `{\"code\": \"...\", \"message\": \"...\"}` with a stable code. Changes are recorded in the \
            audit log with the `x-depot-actor` and `x-depot-reason` headers."
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
struct ApiDoc;

/// The whole document: the description above and every route's operation.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(ApiPaths::openapi());
    doc
}

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
        // The API as it stands: 37 operations on 26 paths. Changing it changes these.
        assert_eq!(ROUTE_COUNT, 37);
        assert_eq!(openapi().paths.paths.len(), 26);
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
            let uri = path.replace("{name}", "m").replace("{version}", "1").replace("{alias}", "champion");
            let request = actix::TestRequest::default().method(method.clone()).uri(&uri).to_request();
            let response = actix::call_service(&app, request).await;
            assert!(response.headers().get("x-unrouted").is_none(), "{method} {path} reaches no handler");
        }
        // And the fallback is what an undocumented one gets.
        let request = actix::TestRequest::default().method(Method::PUT).uri("/v1/models").to_request();
        assert!(actix::call_service(&app, request).await.headers().get("x-unrouted").is_some());
    }
}
