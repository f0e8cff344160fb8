use depot_tests::{Backend, TestApp, assert_error, fixture_bytes};
use serde_json::json;

crate::on_both_backends!(
    upload_reads_the_signature_and_download_returns_the_same_bytes,
    same_bytes_are_stored_once_and_freed_with_their_last_version,
    version_numbers_are_never_reused,
    recognises_but_does_not_serve_pickle_joblib_and_savedmodel,
);

/// The artifact's SHA-256, computed independently of the server.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

async fn upload_reads_the_signature_and_download_returns_the_same_bytes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("iris").await;
    let bytes = fixture_bytes("tiny.onnx");
    let digest = sha256_hex(&bytes);
    let metadata = json!({
        "description": "first cut",
        "tags": ["baseline"],
        "metadata": {
            "framework": "numpy",
            "metrics": {"accuracy": 0.93},
            "parameters": {"hidden": [4, 3]},
            "lineage": {"source_run": "run-17", "commit": "abc123", "dataset": "iris@2"}
        },
        "sha256": format!("sha256:{digest}"),
    });
    let response = app.upload("iris", bytes.clone(), Some(metadata)).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/v1/models/iris/versions/1");
    let version: serde_json::Value = response.json().await.expect("json");
    assert_eq!(version["version"], 1);
    assert_eq!(version["digest"], format!("sha256:{digest}"));
    assert_eq!(version["size_bytes"], bytes.len());
    assert_eq!(version["format"], "onnx");
    assert_eq!(version["servable"], true);
    assert_eq!(version["created_by"], "admin");
    assert_eq!(version["metadata"]["metrics"]["accuracy"], 0.93);
    assert_eq!(version["metadata"]["lineage"]["commit"], "abc123");
    assert_eq!(version["metadata"]["parameters"]["hidden"], json!([4, 3]));
    let input = &version["signature"]["inputs"][0];
    assert_eq!((input["name"].as_str(), input["datatype"].as_str()), (Some("x"), Some("FP32")));
    assert_eq!(input["shape"], json!([-1, 4]));
    assert_eq!(input["dim_names"][0], "batch");
    assert_eq!(version["signature"]["outputs"][0]["shape"], json!([-1, 3]));
    assert!(version["format_details"]["ir_version"].as_i64().is_some_and(|v| v >= 3), "{version}");

    let (status, fetched) = app.get_json("/v1/models/iris/versions/1").await;
    assert_eq!(status, 200);
    assert_eq!(fetched["digest"], version["digest"]);

    let download = app.client.get(app.url("/v1/models/iris/versions/1/artifact")).send().await.expect("download");
    assert_eq!(download.status(), 200);
    let etag = download.headers()["etag"].to_str().expect("etag").to_owned();
    assert_eq!(etag, format!("\"sha256:{digest}\""));
    assert_eq!(download.headers()["content-length"], bytes.len().to_string().as_str());
    assert_eq!(download.bytes().await.expect("body").as_ref(), bytes.as_slice());
    let cached = app
        .client
        .get(app.url("/v1/models/iris/versions/1/artifact"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("conditional");
    assert_eq!(cached.status(), 304);

    let patched = app
        .client
        .patch(app.url("/v1/models/iris/versions/1"))
        .json(&json!({"description": "promoted", "metadata": {"metrics": {"accuracy": 0.95}}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 200);
    let patched: serde_json::Value = patched.json().await.expect("json");
    assert_eq!(patched["description"], "promoted");
    assert_eq!(patched["metadata"]["metrics"]["accuracy"], 0.95);
    assert_eq!(patched["digest"], version["digest"], "the artifact never changes");
    assert_eq!(patched["tags"], json!(["baseline"]));
}

async fn same_bytes_are_stored_once_and_freed_with_their_last_version(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("a").await;
    app.create_model("b").await;
    let bytes = fixture_bytes("tiny.onnx");
    let first: serde_json::Value = app.upload("a", bytes.clone(), None).await.json().await.expect("json");
    let second: serde_json::Value = app.upload("b", bytes.clone(), None).await.json().await.expect("json");
    assert_eq!(first["digest"], second["digest"]);
    assert_eq!(app.blob_count().await, 1);

    let delete = app.client.delete(app.url("/v1/models/a/versions/1")).send().await.expect("delete");
    assert_eq!(delete.status(), 204);
    assert_eq!(app.blob_count().await, 1, "b/1 still references the bytes");
    let download = app.client.get(app.url("/v1/models/b/versions/1/artifact")).send().await.expect("download");
    assert_eq!(download.bytes().await.expect("bytes").as_ref(), bytes.as_slice());

    let delete = app.client.delete(app.url("/v1/models/b/versions/1")).send().await.expect("delete");
    assert_eq!(delete.status(), 204);
    assert_eq!(app.blob_count().await, 0, "the last reference is gone, so are the bytes");
    assert_error(
        app.client.get(app.url("/v1/models/b/versions/1")).send().await.expect("get"),
        404,
        "version_not_found",
    )
    .await;
}

async fn version_numbers_are_never_reused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("m").await;
    for n in 1..=3u8 {
        let mut bytes = fixture_bytes("model.pkl");
        bytes.push(n);
        assert_eq!(app.upload("m", bytes, None).await.status(), 201);
    }
    assert_eq!(app.client.delete(app.url("/v1/models/m/versions/3")).send().await.expect("delete").status(), 204);
    let next: serde_json::Value = app.upload("m", fixture_bytes("tiny.onnx"), None).await.json().await.expect("json");
    assert_eq!(next["version"], 4);

    let (_, page) = app.get_json("/v1/models/m/versions?limit=2").await;
    let numbers: Vec<i64> =
        page["versions"].as_array().expect("versions").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(numbers, [4, 2]);
    let cursor = page["next_cursor"].as_str().expect("cursor");
    let (_, rest) = app.get_json(&format!("/v1/models/m/versions?limit=2&cursor={cursor}")).await;
    let numbers: Vec<i64> =
        rest["versions"].as_array().expect("versions").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(numbers, [1]);
    assert!(rest["next_cursor"].is_null());
    let (_, ascending) = app.get_json("/v1/models/m/versions?order=asc").await;
    let numbers: Vec<i64> =
        ascending["versions"].as_array().expect("versions").iter().filter_map(|v| v["version"].as_i64()).collect();
    assert_eq!(numbers, [1, 2, 4]);
    let (_, model) = app.get_json("/v1/models/m").await;
    assert_eq!((model["version_count"].as_i64(), model["latest_version"].as_i64()), (Some(3), Some(4)));
}

async fn recognises_but_does_not_serve_pickle_joblib_and_savedmodel(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("legacy").await;
    let cases = [
        ("model.pkl", "pickle"),
        ("model.joblib", "joblib"),
        ("model_compressed.joblib", "joblib"),
        ("saved_model.zip", "saved_model"),
        ("saved_model.tar.gz", "saved_model"),
        ("zipmap.onnx", "onnx"),
    ];
    for (file, format) in cases {
        let response = app.upload("legacy", fixture_bytes(file), None).await;
        assert_eq!(response.status(), 201, "{file}");
        let version: serde_json::Value = response.json().await.expect("json");
        assert_eq!(version["format"], format, "{file}");
        assert_eq!(version["servable"], false, "{file}");
        assert!(version["unservable_reason"].as_str().is_some_and(|r| !r.is_empty()), "{file}: {version}");
    }
}

#[tokio::test]
async fn version_requests_with_bad_paths_get_4xx() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("m").await;
    for (path, status, code) in [
        ("/v1/models/m/versions/abc", 400, "invalid_version"),
        ("/v1/models/m/versions/0", 400, "invalid_version"),
        ("/v1/models/m/versions/-1", 400, "invalid_version"),
        ("/v1/models/m/versions/99999999999", 400, "invalid_version"),
        ("/v1/models/m/versions/7", 404, "version_not_found"),
        ("/v1/models/nope/versions/1", 404, "model_not_found"),
        ("/v1/models/nope/versions", 404, "model_not_found"),
        ("/v1/models/m/versions/7/artifact", 404, "version_not_found"),
        ("/v1/models/BAD/versions/1/artifact", 400, "invalid_model_name"),
        ("/v1/models/m/versions?cursor=zzz", 400, "invalid_cursor"),
        ("/v1/models/m/versions?order=sideways", 400, "invalid_request"),
        ("/v1/audit?cursor=zzz", 400, "invalid_cursor"),
    ] {
        let response = app.client.get(app.url(path)).send().await.expect("request");
        assert_error(response, status, code).await;
    }
    let patch = app.client.patch(app.url("/v1/models/m/versions/7")).json(&json!({"description": "x"})).send().await;
    assert_error(patch.expect("req"), 404, "version_not_found").await;
    let delete = app.client.delete(app.url("/v1/models/m/versions/7")).send().await;
    assert_error(delete.expect("req"), 404, "version_not_found").await;
    assert_eq!(app.upload("m", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let bad_metrics = json!({"metadata": {"metrics": {"auc": "high"}}});
    let patch = app.client.patch(app.url("/v1/models/m/versions/1")).json(&bad_metrics).send().await;
    assert_error(patch.expect("req"), 400, "invalid_request").await;
    let bad_tags = json!({"tags": ["no spaces allowed"]});
    let patch = app.client.patch(app.url("/v1/models/m/versions/1")).json(&bad_tags).send().await;
    assert_error(patch.expect("req"), 400, "invalid_tag").await;
}
