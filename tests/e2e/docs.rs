use depot_tests::{Backend, TestApp};

#[tokio::test]
async fn serves_the_committed_openapi_document_and_offline_docs() {
    let app = TestApp::spawn(Backend::Local).await;
    let (status, served) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json")).expect("committed"),
    )
    .expect("committed document is JSON");
    assert_eq!(served, committed, "run: cargo run -p depot -- openapi --file openapi/openapi.json");

    let page = app.client.get(app.url("/docs/")).send().await.expect("docs");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // The UI's script is served by Depot itself, not a CDN.
    let script = app.client.get(app.url("/docs/swagger-ui-bundle.js")).send().await.expect("bundle");
    assert_eq!(script.status(), 200);
    assert!(!html.contains("cdn."), "docs page must not load from a CDN");
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = TestApp::spawn(Backend::Local).await;
    let response = app.client.get(app.url("/v1/nothing-here")).send().await.expect("request");
    depot_tests::assert_error(response, 404, "route_not_found").await;
}
