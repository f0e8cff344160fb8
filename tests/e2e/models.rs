use depot_tests::{Backend, TestApp, assert_error, client_with, fixture_bytes};
use serde_json::json;

#[tokio::test]
async fn create_get_update_and_delete_a_model_with_an_audit_trail() {
    let app = TestApp::spawn(Backend::Local).await;
    // Each change is recorded as made by its token's principal; the actor header a client
    // sends is ignored (this address is no trusted proxy).
    let alice = client_with(&app.token("alice", &[("pusher", "fraud-*")]).await);
    let bob = client_with(&app.token("bob", &[("pusher", "*")]).await);
    let carol = client_with(&app.token("carol", &[("admin", "fraud-detector")]).await);
    let response = alice
        .post(app.url("/v1/models"))
        .header("x-depot-actor", "mallory")
        .json(&json!({"name": "fraud-detector", "description": "scores payments", "tags": ["payments", "prod"]}))
        .send()
        .await
        .expect("create");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/v1/models/fraud-detector");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["name"], "fraud-detector");
    assert_eq!(body["created_by"], "alice");
    assert_eq!(body["tags"], json!(["payments", "prod"]));
    assert_eq!(body["version_count"], 0);

    let again =
        app.client.post(app.url("/v1/models")).json(&json!({"name": "fraud-detector"})).send().await.expect("dup");
    assert_error(again, 409, "model_exists").await;

    let updated = bob
        .patch(app.url("/v1/models/fraud-detector"))
        .json(&json!({"description": "v2 scorer"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(updated.status(), 200);
    let (_, model) = app.get_json("/v1/models/fraud-detector").await;
    assert_eq!(model["description"], "v2 scorer");
    assert_eq!(model["tags"], json!(["payments", "prod"]), "tags untouched by a description-only patch");

    let deleted = carol
        .delete(app.url("/v1/models/fraud-detector"))
        .header("x-depot-reason", "retired")
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let (status, _) = app.get_json("/v1/models/fraud-detector").await;
    assert_eq!(status, 404);

    let (_, audit) = app.get_json("/v1/audit?model=fraud-detector").await;
    let entries = audit["entries"].as_array().expect("entries");
    let trail: Vec<(&str, &str)> =
        entries.iter().map(|e| (e["action"].as_str().unwrap_or(""), e["actor"].as_str().unwrap_or(""))).collect();
    assert_eq!(trail, vec![("model.delete", "carol"), ("model.update", "bob"), ("model.create", "alice")]);
    assert_eq!(entries[0]["reason"], "retired");

    // The log refuses edits at the database level.
    let edit = sqlx::query("UPDATE audit_log SET actor = 'mallory'").execute(&mut app.db().await).await;
    assert!(edit.is_err(), "audit_log must be append-only");
}

#[tokio::test]
async fn invalid_model_requests_get_clear_4xx_errors() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.limits.max_json_bytes = 1024).await;
    let post = |body: serde_json::Value| app.client.post(app.url("/v1/models")).json(&body).send();
    for name in ["Upper", "../etc", "", "a b", &"x".repeat(129)] {
        assert_error(post(json!({ "name": name })).await.expect("req"), 400, "invalid_model_name").await;
    }
    assert_error(post(json!({"name": "ok", "tags": ["has space"]})).await.expect("req"), 400, "invalid_tag").await;
    assert_error(post(json!({"name": "ok", "colour": "red"})).await.expect("req"), 400, "invalid_request").await;
    assert_error(post(json!({"description": "no name"})).await.expect("req"), 400, "invalid_request").await;
    let big = post(json!({"name": "ok", "description": "x".repeat(4096)})).await.expect("req");
    assert_error(big, 413, "payload_too_large").await;
    let not_json =
        app.client.post(app.url("/v1/models")).header("content-type", "text/plain").body("name=x").send().await;
    assert_error(not_json.expect("req"), 415, "unsupported_media_type").await;
    let garbage =
        app.client.post(app.url("/v1/models")).header("content-type", "application/json").body("{").send().await;
    assert_error(garbage.expect("req"), 400, "invalid_request").await;

    assert_error(app.client.get(app.url("/v1/models/Nope")).send().await.expect("req"), 400, "invalid_model_name")
        .await;
    assert_error(app.client.get(app.url("/v1/models/nope")).send().await.expect("req"), 404, "model_not_found").await;
    let patch = app.client.patch(app.url("/v1/models/nope")).json(&json!({"description": "x"})).send().await;
    assert_error(patch.expect("req"), 404, "model_not_found").await;
    let delete = app.client.delete(app.url("/v1/models/nope")).send().await;
    assert_error(delete.expect("req"), 404, "model_not_found").await;
    let listing = app.client.get(app.url("/v1/models?limit=0")).send().await;
    assert_error(listing.expect("req"), 400, "invalid_request").await;
    let listing = app.client.get(app.url("/v1/models?limit=abc")).send().await;
    assert_error(listing.expect("req"), 400, "invalid_request").await;
}

#[tokio::test]
async fn lists_models_by_prefix_and_tag_in_pages() {
    let app = TestApp::spawn(Backend::Local).await;
    for (name, tag) in [("nlp-a", "nlp"), ("nlp-b", "nlp"), ("nlp-c", "nlp"), ("vision-a", "cv"), ("vision_b", "cv")] {
        let body = json!({"name": name, "tags": [tag]});
        assert_eq!(app.client.post(app.url("/v1/models")).json(&body).send().await.expect("create").status(), 201);
    }
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["models"].as_array().expect("models").iter().map(|m| m["name"].as_str().unwrap_or("").to_owned()).collect()
    };
    let (_, first) = app.get_json("/v1/models?limit=2").await;
    assert_eq!(names(&first), ["nlp-a", "nlp-b"]);
    let cursor = first["next_cursor"].as_str().expect("more pages");
    let (_, second) = app.get_json(&format!("/v1/models?limit=2&cursor={cursor}")).await;
    assert_eq!(names(&second), ["nlp-c", "vision-a"]);
    let cursor = second["next_cursor"].as_str().expect("more pages");
    let (_, last) = app.get_json(&format!("/v1/models?limit=2&cursor={cursor}")).await;
    assert_eq!(names(&last), ["vision_b"]);
    assert!(last["next_cursor"].is_null());

    let (_, by_prefix) = app.get_json("/v1/models?prefix=vision").await;
    assert_eq!(names(&by_prefix), ["vision-a", "vision_b"]);
    // '_' is a literal character in a prefix, not a wildcard.
    let (_, literal) = app.get_json("/v1/models?prefix=vision_").await;
    assert_eq!(names(&literal), ["vision_b"]);
    let (_, by_tag) = app.get_json("/v1/models?tag=nlp&prefix=nlp-b").await;
    assert_eq!(names(&by_tag), ["nlp-b"]);
    let (_, none) = app.get_json("/v1/models?tag=audio").await;
    assert!(names(&none).is_empty());
}

#[tokio::test]
async fn a_model_with_versions_is_deleted_only_with_cascade() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("m").await;
    app.create_model("other").await;
    let tiny = fixture_bytes("tiny.onnx");
    assert_eq!(app.upload("m", tiny.clone(), None).await.status(), 201);
    assert_eq!(app.upload("m", fixture_bytes("mlp.onnx"), None).await.status(), 201);
    assert_eq!(app.upload("other", tiny, None).await.status(), 201);
    assert_eq!(app.blob_count().await, 2);

    let refused = app.client.delete(app.url("/v1/models/m")).send().await.expect("delete");
    let body = assert_error(refused, 409, "model_not_empty").await;
    assert!(body["message"].as_str().unwrap_or("").contains("cascade=true"), "{body}");

    let cascade = app.client.delete(app.url("/v1/models/m?cascade=true")).send().await.expect("delete");
    assert_eq!(cascade.status(), 204);
    assert_eq!(app.get_json("/v1/models/m").await.0, 404);
    // mlp's bytes are gone; tiny's stay because 'other' still references them.
    assert_eq!(app.blob_count().await, 1);
    assert_eq!(app.version_rows().await, 1);
    let (status, _) = app.get_json("/v1/models/other/versions/1").await;
    assert_eq!(status, 200);
}

/// PostgreSQL stores no NUL character in text or JSON: every field that is stored refuses one
/// with a 400 that names it, and nothing is written (it used to be a 500, SQLSTATE 22P05).
#[tokio::test]
async fn text_the_database_cannot_store_is_refused_with_400() {
    let app = TestApp::spawn(Backend::Local).await;
    let nul = "a\u{0}b";
    let created = app.client.post(app.url("/v1/models")).json(&json!({"name": "m", "description": nul})).send().await;
    let body = assert_error(created.expect("req"), 400, "invalid_request").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("description")), "{body}");
    app.create_model("m").await;
    let patch = app.client.patch(app.url("/v1/models/m")).json(&json!({"description": nul})).send().await;
    assert_error(patch.expect("req"), 400, "invalid_request").await;

    // In a version's metadata, at any depth, at upload and on update.
    let metadata = json!({"metadata": {"parameters": {"layers": [{"name": nul}]}}});
    let upload = app.upload("m", fixture_bytes("tiny.onnx"), Some(metadata)).await;
    let body = assert_error(upload, 400, "invalid_request").await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("metadata.parameters.layers")), "{body}");
    assert_eq!(app.version_rows().await, 0);
    assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), Some(json!({"description": nul}))).await.status(), 400);
    assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let update =
        app.client.patch(app.url("/v1/models/m/versions/1")).json(&json!({"metadata": {"framework": nul}})).send();
    assert_error(update.await.expect("req"), 400, "invalid_request").await;
    // A reason, in the body or the header.
    let deploy = app.client.put(app.url("/v1/models/m/deployment")).json(&json!({"version": 1, "reason": nul})).send();
    assert_error(deploy.await.expect("req"), 400, "invalid_request").await;
    let (_, deployment) = app.get_json("/v1/models/m/deployment").await;
    assert_eq!(deployment["code"], "deployment_not_found", "nothing was deployed");
    // A token's name, an alias to protect.
    let token = json!({"name": nul, "principal": "p", "grants": [{"role": "reader", "models": "*"}]});
    let body = assert_error(
        app.client.post(app.url("/v1/tokens")).json(&token).send().await.expect("req"),
        400,
        "invalid_request",
    )
    .await;
    assert!(body["message"].as_str().is_some_and(|m| m.contains("name")), "{body}");
    let protect = app.client.put(app.url("/v1/models/m/protection")).json(&json!({"aliases": [nul]})).send();
    assert_error(protect.await.expect("req"), 400, "invalid_alias").await;
    // Text that is only looked up, in a query string: the parameter is named.
    for query in ["prefix=a%00b", "tag=%00", "cursor=x%00"] {
        let listing = app.client.get(app.url(&format!("/v1/models?{query}"))).send().await.expect("req");
        let body = assert_error(listing, 400, "invalid_request").await;
        let parameter = query.split('=').next().unwrap_or_default();
        assert!(body["message"].as_str().is_some_and(|m| m.contains(parameter) && m.contains("NUL")), "{body}");
    }
}

/// A body is what the document says: a JSON object, sent as `application/json`. serde would
/// also take an array of a struct's field values (`[null, null]` for `{}`): refused, at any
/// depth. An optional body is absent or such an object, never something unreadable that is
/// silently ignored (as `Option<web::Json<..>>` did).
#[tokio::test]
async fn request_bodies_are_json_objects() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("m").await;
    assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let json = |method: reqwest::Method, path: &str, body: serde_json::Value| {
        app.client.request(method, app.url(path)).json(&body).send()
    };
    let not_an_object = |body: serde_json::Value| {
        assert!(body["message"].as_str().is_some_and(|m| m.contains("expected a JSON object")), "{body}");
    };
    let patch = json(reqwest::Method::PATCH, "/v1/models/m", json!([null, null])).await.expect("req");
    not_an_object(assert_error(patch, 400, "invalid_request").await);
    let batching = json!({"batching": [32, 2]});
    let patch = json(reqwest::Method::PATCH, "/v1/models/m/versions/1", batching).await.expect("req");
    not_an_object(assert_error(patch, 400, "invalid_request").await);
    let lineage = json!({"metadata": {"lineage": ["run-1"]}});
    let patch = json(reqwest::Method::PATCH, "/v1/models/m/versions/1", lineage).await.expect("req");
    not_an_object(assert_error(patch, 400, "invalid_request").await);
    let token = json!({"name": "t", "principal": "p", "grants": [["reader", "*"]]});
    not_an_object(
        assert_error(json(reqwest::Method::POST, "/v1/tokens", token).await.expect("req"), 400, "invalid_request")
            .await,
    );
    let upload = app.upload("m", fixture_bytes("tiny.onnx"), Some(json!([]))).await;
    not_an_object(assert_error(upload, 400, "invalid_metadata").await);
    let (_, version) = app.get_json("/v1/models/m/versions/1").await;
    assert_eq!(version["batching"], serde_json::Value::Null, "nothing changed");

    // No Content-Type: 415, whether a body is required or optional.
    let bare = app.client.patch(app.url("/v1/models/m")).body(r#"{"description": "x"}"#).send().await;
    assert_error(bare.expect("req"), 415, "unsupported_media_type").await;
    let rollback = "/v1/models/m/deployment/rollback";
    let garbage = app.client.post(app.url(rollback)).body("garbage").send().await.expect("req");
    assert_error(garbage, 415, "unsupported_media_type").await;
    let array = app.client.post(app.url(rollback)).header("content-type", "application/json").body("[]").send();
    not_an_object(assert_error(array.await.expect("req"), 400, "invalid_request").await);
    let string = json(reqwest::Method::POST, rollback, json!({"version": "1"})).await.expect("req");
    assert_error(string, 400, "invalid_request").await;
    // An optional body that is absent, or an empty object, reaches the use case.
    let none = app.client.post(app.url(rollback)).send().await.expect("req");
    assert_error(none, 404, "deployment_not_found").await;
    let empty = json(reqwest::Method::POST, rollback, json!({})).await.expect("req");
    assert_error(empty, 404, "deployment_not_found").await;
}
