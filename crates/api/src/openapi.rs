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
    traffic::get_traffic,
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

/// The operations whose bodies are read as bytes, whatever their `Content-Type` (the predict
/// and inference routes: JSON, or the binary tensor extension); every other JSON body must be
/// sent as `application/json` (415).
const RAW_BODY: &[&str] = &["predict_version", "predict_deployed", "infer_v2_version", "infer_v2_deployed"];

/// The operations open to requests without a token.
const PUBLIC: &[&str] =
    &["get_health", "get_readiness", "get_dependencies", "get_v2_server_metadata", "get_v2_live", "get_v2_ready"];

/// The whole document: the description above and every route's operation, completed in one
/// place with what every handler shares: the answers reading a request can give (400 for an
/// invalid path, query, header or body; 413 and 415 for a body), the constraints of the path
/// and query parameters ([`constrain`]), and the bearer scheme with the answers authentication
/// adds (401, 403, 429) on every operation that needs a token.
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
            for parameter in operation.parameters.iter_mut().flatten() {
                constrain(parameter, path);
            }
            // What reading the request can answer, before the handler's own errors.
            let id = operation.operation_id.clone().unwrap_or_default();
            let json_body =
                operation.request_body.as_ref().is_some_and(|body| body.content.contains_key("application/json"));
            let has_body = operation.request_body.is_some();
            let has_parameters = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
            let responses = &mut operation.responses.responses;
            if has_body || has_parameters {
                responses.entry("400".to_owned()).or_insert_with(|| {
                    error("An invalid path, query string, header or body, with what was wrong", schema).into()
                });
            }
            if has_body {
                responses
                    .entry("413".to_owned())
                    .or_insert_with(|| error("The body is larger than the server's limit", schema).into());
            }
            if json_body && !RAW_BODY.contains(&id.as_str()) {
                responses
                    .entry("415".to_owned())
                    .or_insert_with(|| error("A body without `Content-Type: application/json`", schema).into());
            }
            if PUBLIC.contains(&id.as_str()) {
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

/// Writes what the server checks of a path or query parameter into its schema (the rules of
/// `depot_domain`'s `parse` constructors and of paging), so that the document says which values
/// are accepted and generated requests reach the handlers. Values outside are answered with 400.
fn constrain(parameter: &mut utoipa::openapi::path::Parameter, path: &str) {
    use depot_domain::{AliasName, ModelName, TokenText};
    use utoipa::Number;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};

    let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() else { return };
    let integer = match &schema.schema_type {
        SchemaType::Type(t) => *t == Type::Integer,
        SchemaType::Array(types) => types.contains(&Type::Integer),
        SchemaType::AnyValue => false,
    };
    let mut text = |pattern: &str, max_length: usize, example: Option<&str>| {
        schema.pattern = Some(pattern.to_owned());
        schema.min_length = Some(1);
        schema.max_length = Some(max_length);
        schema.examples = example.map(|e| vec![e.into()]).unwrap_or_default();
    };
    match (&parameter.parameter_in, parameter.name.as_str()) {
        (ParameterIn::Path, "name") => text(MODEL_NAME, ModelName::MAX_LEN, Some("fraud-detector")),
        (ParameterIn::Query, "model") => text(MODEL_NAME, ModelName::MAX_LEN, None),
        (ParameterIn::Path, "alias") => text(ALIAS_NAME, AliasName::MAX_LEN, Some("champion")),
        // A number or an alias (the prediction and inference routes).
        (ParameterIn::Path, "version") if !integer => text(VERSION_REF, 63, Some("1")),
        (ParameterIn::Path, "version") => {
            // A u32, which utoipa writes as `int32`: the bounds say it better.
            schema.format = None;
            schema.minimum = Some(Number::UInt(1));
            schema.maximum = Some(Number::UInt(u32::MAX as usize));
            schema.examples = vec![1.into()];
        }
        (ParameterIn::Path, "id") if path.starts_with("/v1/tokens") => {
            text(TOKEN_ID, TokenText::ID_LEN, None);
            schema.min_length = Some(TokenText::ID_LEN);
        }
        (ParameterIn::Path, "id") => schema.minimum = Some(Number::UInt(1)),
        (ParameterIn::Query, "limit") => {
            schema.minimum = Some(Number::UInt(1));
            schema.maximum = Some(Number::UInt(depot_service::PageRequest::MAX_LIMIT as usize));
        }
        (ParameterIn::Query, "principal") => text(PRINCIPAL, 64, None),
        // `HeaderValue::to_str`: visible ASCII, spaces and tabs.
        (ParameterIn::Header, crate::request::REASON_HEADER) => schema.pattern = Some("^[\\t -~]*$".to_owned()),
        (ParameterIn::Query, "state") if path == "/v1/approvals" => {
            schema.enum_values = Some(["pending", "approved", "rejected", "expired"].map(Into::into).to_vec());
        }
        _ => {}
    }
}

/// `ModelName::parse`.
const MODEL_NAME: &str = "^[a-z0-9][a-z0-9._-]*$";
/// `AliasName::parse`.
const ALIAS_NAME: &str = "^[a-z][a-z0-9_-]*$";
/// `VersionRef::parse`: a version number (a positive integer) or an alias.
const VERSION_REF: &str = "^([0-9]+|[a-z][a-z0-9_-]*)$";
/// A token's public id (`TokenText::ID_LEN` hex digits).
const TOKEN_ID: &str = "^[0-9a-f]+$";
/// `Principal::parse`.
const PRINCIPAL: &str = "^[A-Za-z0-9][A-Za-z0-9._@-]*$";

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
        // The API as it stands: 54 operations on 40 paths. Changing it changes these.
        assert_eq!(ROUTE_COUNT, 54);
        assert_eq!(openapi().paths.paths.len(), 40);
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

    /// Reading a body can answer 400 (not JSON, not an object, a field of the wrong type), 413
    /// (over the limit) and 415 (not `application/json`): every operation with a body says so.
    #[test]
    fn every_body_documents_how_reading_it_can_fail() {
        let doc = openapi();
        let mut json_bodies = 0;
        for item in doc.paths.paths.values() {
            for operation in [&item.get, &item.post, &item.put, &item.patch, &item.delete].into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                let Some(body) = &operation.request_body else { continue };
                let responses = &operation.responses.responses;
                for status in ["400", "413"] {
                    assert!(responses.contains_key(status), "{id} lacks {status}");
                }
                if body.content.contains_key("application/json") && !RAW_BODY.contains(&id.as_str()) {
                    json_bodies += 1;
                    assert!(responses.contains_key("415"), "{id} lacks 415");
                }
            }
        }
        assert_eq!(json_bodies, 14, "the operations with JSON bodies");
    }

    /// The documented constraints of path parameters are those of the parsers: the examples
    /// parse, and the lengths are the parsers' limits.
    #[test]
    fn path_parameters_say_what_the_server_accepts() {
        use depot_domain::{AliasName, ModelName, VersionRef};

        let doc = serde_json::to_value(openapi()).expect("json");
        let parameter = |path: &str, method: &str, name: &str| {
            let parameters = doc["paths"][path][method]["parameters"].as_array().expect("parameters").clone();
            let found = parameters.into_iter().find(|p| p["name"] == name).expect("the parameter");
            found["schema"].clone()
        };
        let model = parameter("/v1/models/{name}", "get", "name");
        assert_eq!(model["pattern"], MODEL_NAME);
        assert_eq!(model["maxLength"], ModelName::MAX_LEN);
        assert!(ModelName::parse(model["examples"][0].as_str().expect("example")).is_ok());
        let alias = parameter("/v1/models/{name}/aliases/{alias}", "put", "alias");
        assert_eq!((&alias["pattern"], &alias["maxLength"]), (&ALIAS_NAME.into(), &AliasName::MAX_LEN.into()));
        assert!(AliasName::parse(alias["examples"][0].as_str().expect("example")).is_ok());
        let version = parameter("/v1/models/{name}/versions/{version}", "get", "version");
        assert_eq!((&version["minimum"], &version["maximum"]), (&1.into(), &u32::MAX.into()));
        let reference = parameter("/v1/models/{name}/versions/{version}/predict", "post", "version");
        assert_eq!(reference["pattern"], VERSION_REF);
        assert!(VersionRef::parse(reference["examples"][0].as_str().expect("example")).is_ok());
        let token = parameter("/v1/tokens/{id}", "get", "id");
        assert_eq!((&token["minLength"], &token["maxLength"]), (&12.into(), &12.into()));
        assert_eq!(parameter("/v1/approvals/{id}", "get", "id")["minimum"], 1);
        assert_eq!(parameter("/v1/models", "get", "limit")["maximum"], depot_service::PageRequest::MAX_LIMIT);
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
