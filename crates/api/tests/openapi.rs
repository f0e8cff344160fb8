//! The committed OpenAPI document must be exactly what the code generates.

#[test]
fn committed_openapi_document_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = depot_api::openapi::document();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale; regenerate it with: cargo run -p depot -- openapi --file openapi/openapi.json"
    );
}

#[test]
fn every_operation_has_an_id_and_documents_its_errors() {
    let document: serde_json::Value = serde_json::from_str(&depot_api::openapi::document()).expect("valid JSON");
    let paths = document["paths"].as_object().expect("paths");
    // Exact: the unit test `openapi::tests` checks each of these reaches its handler.
    assert_eq!(paths.len(), 40, "paths documented: {:?}", paths.keys().collect::<Vec<_>>());
    let mut ids = std::collections::HashSet::new();
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has no operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            let responses = operation["responses"].as_object().expect("responses");
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} does not document 404");
                assert!(responses.contains_key("400"), "{method} {path} does not document 400");
            }
        }
    }
    assert_eq!(ids.len(), 54, "one operation per route");
}
