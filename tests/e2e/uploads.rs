//! Upload failure paths and concurrency: nothing is left half-written.

use std::sync::atomic::Ordering;
use std::time::Duration;

use depot_tests::{Backend, TestApp, assert_error, fixture_bytes};
use serde_json::json;
use tokio::io::AsyncWriteExt;

crate::on_both_backends!(
    refused_uploads_leave_nothing_behind,
    storage_failure_mid_upload_leaves_nothing_behind,
    failure_to_commit_the_blob_leaves_nothing_behind,
    a_client_that_disconnects_mid_upload_leaves_nothing_behind,
    fifty_concurrent_uploads_get_versions_one_to_fifty,
    details_sent_first_are_checked_before_the_artifact_is_read,
);

async fn assert_nothing_left(app: &TestApp) {
    assert_eq!(app.version_rows().await, 0, "no version row");
    assert_eq!(app.blob_count().await, 0, "no blob");
    assert!(app.staging_settles_to_zero().await, "no staging object");
}

async fn refused_uploads_leave_nothing_behind(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.limits.max_artifact_bytes = 3 * 1024 * 1024).await;
    app.create_model("m").await;
    let tiny = fixture_bytes("tiny.onnx");

    let wrong = json!({"sha256": "0".repeat(64)});
    assert_error(app.upload("m", tiny.clone(), Some(wrong)).await, 400, "digest_mismatch").await;
    let malformed = json!({"sha256": "not-a-digest"});
    assert_error(app.upload("m", tiny.clone(), Some(malformed)).await, 400, "invalid_digest").await;
    let bad_meta = json!({"metadata": {"framewrk": "typo"}});
    assert_error(app.upload("m", tiny.clone(), Some(bad_meta)).await, 400, "invalid_metadata").await;
    let bad_tags = json!({"tags": ["white space"]});
    assert_error(app.upload("m", tiny.clone(), Some(bad_tags)).await, 400, "invalid_tag").await;
    let body = assert_error(app.upload("m", fixture_bytes("corrupt.onnx"), None).await, 422, "corrupt_artifact").await;
    assert!(body["message"].as_str().unwrap_or("").contains("byte"), "the parser's reason: {body}");
    let body =
        assert_error(app.upload("m", b"just some text, not a model".to_vec(), None).await, 415, "unsupported_format")
            .await;
    assert!(body["message"].as_str().unwrap_or("").contains("onnx"), "lists accepted formats: {body}");
    assert_error(app.upload("m", Vec::new(), None).await, 415, "unsupported_format").await;
    let too_big = vec![0x08u8; 4 * 1024 * 1024];
    assert_error(app.upload("m", too_big, None).await, 413, "artifact_too_large").await;
    assert_error(app.upload("missing", tiny.clone(), None).await, 404, "model_not_found").await;
    // Without a Content-Length (chunked), the limit is enforced while streaming.
    let pickle = fixture_bytes("model.pkl");
    let chunks =
        (0..8).map(move |i| Ok::<_, std::io::Error>(if i == 0 { pickle.clone() } else { vec![0u8; 512 * 1024] }));
    let streamed = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    let form = reqwest::multipart::Form::new().part("artifact", streamed);
    let response = app.client.post(app.url("/v1/models/m/versions")).multipart(form).send().await.expect("req");
    assert_error(response, 413, "artifact_too_large").await;

    // Form mistakes.
    let url = app.url("/v1/models/m/versions");
    let no_artifact = reqwest::multipart::Form::new().text("metadata", "{}");
    assert_error(app.client.post(&url).multipart(no_artifact).send().await.expect("req"), 400, "missing_artifact")
        .await;
    let stray = reqwest::multipart::Form::new().text("surprise", "x");
    assert_error(app.client.post(&url).multipart(stray).send().await.expect("req"), 400, "invalid_request").await;
    let raw = app.client.post(&url).header("content-type", "application/octet-stream").body(tiny.clone()).send().await;
    assert_error(raw.expect("req"), 415, "unsupported_media_type").await;
    let bad_json = reqwest::multipart::Form::new()
        .text("metadata", "{not json")
        .part("artifact", reqwest::multipart::Part::bytes(tiny.clone()));
    assert_error(app.client.post(&url).multipart(bad_json).send().await.expect("req"), 400, "invalid_metadata").await;

    assert_nothing_left(&app).await;
    // And the next good upload still gets version 1.
    let ok: serde_json::Value = app.upload("m", tiny, None).await.json().await.expect("json");
    assert_eq!(ok["version"], 1);
}

async fn storage_failure_mid_upload_leaves_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("m").await;
    app.faults.fail_parts_after_bytes.store(8 * 1024 * 1024, Ordering::SeqCst);
    // A pickle (recognised from its first bytes) long enough to need several parts.
    let mut big = fixture_bytes("model.pkl");
    big.resize(40 * 1024 * 1024, 0);
    let response = app.upload("m", big, None).await;
    assert_error(response, 503, "unavailable").await;
    assert_nothing_left(&app).await;
}

async fn failure_to_commit_the_blob_leaves_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("m").await;
    app.faults.fail_renames.store(true, Ordering::SeqCst);
    assert_error(app.upload("m", fixture_bytes("tiny.onnx"), None).await, 503, "unavailable").await;
    assert_nothing_left(&app).await;
    app.faults.fail_renames.store(false, Ordering::SeqCst);
    let ok: serde_json::Value = app.upload("m", fixture_bytes("tiny.onnx"), None).await.json().await.expect("json");
    assert_eq!(ok["version"], 1, "a failed upload consumes no version number");
}

async fn a_client_that_disconnects_mid_upload_leaves_nothing_behind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("m").await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let mut socket = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let boundary = "depotboundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"artifact\"; filename=\"m.onnx\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let declared = 64 * 1024 * 1024;
    let request = format!(
        "POST /v1/models/m/versions HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declared}\r\n\r\n{head}",
        app.admin_token
    );
    socket.write_all(request.as_bytes()).await.expect("headers");
    let mut body = fixture_bytes("model.pkl");
    body.resize(12 * 1024 * 1024, 0);
    socket.write_all(&body).await.expect("part of the body");
    socket.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(socket);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_nothing_left(&app).await;
}

async fn fifty_concurrent_uploads_get_versions_one_to_fifty(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("busy").await;
    let uploads = (0..50u32).map(|i| {
        // Half share their bytes with another upload, half are unique.
        let mut bytes = fixture_bytes("model.pkl");
        bytes.extend_from_slice(&(i / 2).to_le_bytes());
        let app = &app;
        async move { app.upload("busy", bytes, None).await }
    });
    let responses = futures::future::join_all(uploads).await;
    let mut numbers = Vec::new();
    for response in responses {
        assert_eq!(response.status(), 201);
        let version: serde_json::Value = response.json().await.expect("json");
        numbers.push(version["version"].as_u64().expect("number"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
    assert_eq!(app.blob_count().await, 25, "equal bytes are stored once");
    assert_eq!(app.version_rows().await, 50);
    assert!(app.staging_settles_to_zero().await);
}

async fn details_sent_first_are_checked_before_the_artifact_is_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("m").await;
    let url = app.url("/v1/models/m/versions");
    let not_a_model = b"just some text, not a model".to_vec();
    let form = |metadata: serde_json::Value, first: bool| {
        let artifact = reqwest::multipart::Part::bytes(not_a_model.clone());
        let form = reqwest::multipart::Form::new();
        if first {
            form.text("metadata", metadata.to_string()).part("artifact", artifact)
        } else {
            form.part("artifact", artifact).text("metadata", metadata.to_string())
        }
    };
    // Had the artifact been read first, its format would be the error (415).
    for (metadata, code) in [
        (json!({"tags": ["white space"]}), "invalid_tag"),
        (json!({"sha256": "not-a-digest"}), "invalid_digest"),
        (json!({"metadata": {"framewrk": "typo"}}), "invalid_metadata"),
    ] {
        let response = app.client.post(&url).multipart(form(metadata.clone(), true)).send().await.expect("req");
        assert_error(response, 400, code).await;
        // Sent after the artifact, the artifact is read first and refused for what it is.
        let response = app.client.post(&url).multipart(form(metadata, false)).send().await.expect("req");
        assert_error(response, 415, "unsupported_format").await;
    }
    assert_nothing_left(&app).await;
}
