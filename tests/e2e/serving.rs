//! Predictions over the simple JSON API and the Open Inference Protocol v2, against the real
//! ONNX Runtime, compared with Python onnxruntime's outputs (tests/fixtures/expected).

use std::path::PathBuf;

use depot_tests::{Backend, TestApp, assert_error, fixture, fixture_bytes, run_python_check};
use serde_json::{Value, json};

fn expected(model: &str) -> Value {
    let path = fixture(&format!("expected/{model}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("expected outputs")).expect("json")
}

fn flatten(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other.clone()),
    }
}

fn assert_close(name: &str, got: &Value, want: &Value) {
    let (mut g, mut w) = (Vec::new(), Vec::new());
    flatten(got, &mut g);
    flatten(want, &mut w);
    assert_eq!(g.len(), w.len(), "{name}: element count");
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        match (g.as_f64(), w.as_f64()) {
            (Some(g), Some(w)) => {
                assert!((g - w).abs() <= 1e-5 + 1e-5 * w.abs(), "{name}[{i}]: got {g}, want {w}");
            }
            _ => assert_eq!(g, w, "{name}[{i}]"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_predictions_match_python_onnxruntime() {
    let app = TestApp::spawn(Backend::Local).await;
    for model in ["tiny", "mlp", "multi_io", "sklearn_logreg", "sklearn_forest", "legacy_ir3"] {
        let name = model.replace('_', "-");
        app.register_fixture(&name, &format!("{model}.onnx")).await;
        let case = expected(model);
        let inputs: serde_json::Map<String, Value> = case["inputs"]
            .as_object()
            .expect("inputs")
            .iter()
            .map(|(k, v)| (k.clone(), json!({"data": v["data"], "shape": v["shape"]})))
            .collect();
        let response = app
            .client
            .post(app.url(&format!("/v1/models/{name}/versions/1/predict")))
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .expect("predict");
        assert_eq!(response.status(), 200, "{model}");
        assert_eq!(response.headers()["depot-served-by"], format!("{name}/1").as_str());
        let body: Value = response.json().await.expect("json");
        assert_eq!((body["model"].as_str(), body["version"].as_u64()), (Some(name.as_str()), Some(1)));
        for (output, want) in case["outputs"].as_object().expect("outputs") {
            let got = &body["outputs"][output];
            assert_eq!(got["datatype"], want["datatype"], "{model}.{output}");
            assert_eq!(got["shape"], want["shape"], "{model}.{output}");
            assert_close(&format!("{model}.{output}"), &got["data"], &want["data"]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_accepts_nested_arrays_and_validates_every_input() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.limits.max_predict_bytes = 64 * 1024).await;
    app.register_fixture("tiny", "tiny.onnx").await;
    app.register_fixture("multi", "multi_io.onnx").await;
    app.create_model("pickled").await;
    assert_eq!(app.upload("pickled", fixture_bytes("model.pkl"), None).await.status(), 201);

    let url = app.url("/v1/models/tiny/versions/1/predict");
    let ok = app.client.post(&url).json(&json!({"inputs": {"x": [[1, 2, 3, 4], [0.5, 0.5, 0.5, 0.5]]}})).send().await;
    let body: Value = ok.expect("predict").json().await.expect("json");
    assert_eq!(body["outputs"]["y"]["shape"], json!([2, 3]), "{body}");
    let row: f64 = body["outputs"]["y"]["data"][0].as_array().expect("row").iter().filter_map(Value::as_f64).sum();
    assert!((row - 1.0).abs() < 1e-5, "softmax rows sum to one: {body}");

    let cases = [
        (json!({"inputs": {"z": [[1, 2, 3, 4]]}}), "z"),
        (json!({"inputs": {}}), "x"),
        (json!({"inputs": {"x": [[1, 2, 3]]}}), "x"),
        (json!({"inputs": {"x": [1, 2, 3, 4]}}), "x"),
        (json!({"inputs": {"x": [[1, 2, 3, 4], [1, 2]]}}), "x"),
        (json!({"inputs": {"x": [["a", "b", "c", "d"]]}}), "x"),
        (json!({"inputs": {"x": {"data": [1, 2, 3], "shape": [1, 4]}}}), "x"),
        (json!({"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [1, 4], "datatype": "INT64"}}}), "x"),
    ];
    for (request, input) in cases {
        let response = app.client.post(&url).json(&request).send().await.expect("request");
        let body = assert_error(response, 400, "invalid_input").await;
        assert!(body["message"].as_str().unwrap_or("").contains(input), "{request} -> {body}");
    }
    let multi = app.url("/v1/models/multi/versions/1/predict");
    let wrong_type = json!({"inputs": {
        "counts": [[1.5, 2, 3]], "weights": [[1.0, 2.0, 3.0]], "mask": [[true, false]]}});
    let body =
        assert_error(app.client.post(&multi).json(&wrong_type).send().await.expect("req"), 400, "invalid_input").await;
    assert!(body["message"].as_str().unwrap_or("").contains("counts"), "{body}");
    let not_bool = json!({"inputs": {"counts": [[1, 2, 3]], "weights": [[1.0, 2.0, 3.0]], "mask": [[1, 0]]}});
    assert_error(app.client.post(&multi).json(&not_bool).send().await.expect("req"), 400, "invalid_input").await;

    let malformed = app.client.post(&url).header("content-type", "application/json").body("{").send().await;
    assert_error(malformed.expect("req"), 400, "invalid_input").await;
    let big = json!({"inputs": {"x": vec![[1.0f32, 2.0, 3.0, 4.0]; 4000]}});
    assert_error(app.client.post(&url).json(&big).send().await.expect("req"), 413, "payload_too_large").await;
    let pickled = app.client.post(app.url("/v1/models/pickled/versions/1/predict")).json(&json!({"inputs": {}})).send();
    let body = assert_error(pickled.await.expect("req"), 409, "version_not_servable").await;
    assert!(body["message"].as_str().unwrap_or("").contains("pickle"), "{body}");
    let missing = app.client.post(app.url("/v1/models/tiny/versions/9/predict")).json(&json!({"inputs": {}})).send();
    assert_error(missing.await.expect("req"), 404, "version_not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_speaks_the_open_inference_protocol() {
    let app = TestApp::spawn(Backend::Local).await;
    app.register_fixture("tiny", "tiny.onnx").await;
    let (status, server) = app.get_json("/v2").await;
    assert_eq!(status, 200);
    assert!(server["extensions"].as_array().expect("extensions").contains(&json!("binary_tensor_data")));
    assert_eq!(app.get_json("/v2/health/live").await.0, 200);
    assert_eq!(app.get_json("/v2/health/ready").await.0, 200);
    let (status, metadata) = app.get_json("/v2/models/tiny/versions/1").await;
    assert_eq!(status, 200);
    assert_eq!(metadata["inputs"], json!([{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]));
    assert_eq!(app.get_json("/v2/models/tiny/versions/1/ready").await.0, 200);

    let url = app.url("/v2/models/tiny/versions/1/infer");
    let request =
        json!({"id": "r1", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]});
    let response = app.client.post(&url).json(&request).send().await.expect("infer");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        (body["model_name"].as_str(), body["model_version"].as_str(), body["id"].as_str()),
        (Some("tiny"), Some("1"), Some("r1"))
    );
    assert_eq!(body["outputs"][0]["name"], "y");
    assert_eq!(body["outputs"][0]["shape"], json!([1, 3]));
    assert_eq!(body["outputs"][0]["data"].as_array().map(Vec::len), Some(3));

    // The binary extension: JSON header, then the raw little-endian tensor.
    let header =
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}],
        "outputs": [{"name": "y", "parameters": {"binary_data": true}}]})
        .to_string();
    let mut payload = header.clone().into_bytes();
    for v in [1.0f32, 2.0, 3.0, 4.0] {
        payload.extend_from_slice(&v.to_le_bytes());
    }
    let response = app
        .client
        .post(&url)
        .header("inference-header-content-length", header.len())
        .header("content-type", "application/octet-stream")
        .body(payload)
        .send()
        .await
        .expect("binary infer");
    assert_eq!(response.status(), 200);
    let json_length: usize =
        response.headers()["inference-header-content-length"].to_str().expect("hdr").parse().expect("n");
    let bytes = response.bytes().await.expect("body");
    let head: Value = serde_json::from_slice(&bytes[..json_length]).expect("json header");
    assert_eq!(head["outputs"][0]["parameters"]["binary_data_size"], 12);
    let probabilities: Vec<f32> =
        bytes[json_length..].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    let json_probabilities: Vec<f32> = body["outputs"][0]["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|v| v.as_f64())
        .map(|v| v as f32)
        .collect();
    assert_eq!(probabilities, json_probabilities, "binary and JSON outputs agree");

    // Errors take the protocol's shape.
    for (request, status) in [
        (json!({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}), 400),
        (json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}), 400),
        (json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3]}]}), 400),
        (json!({"inputs": [{"name": "w", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}), 400),
        (json!({"nothing": true}), 400),
    ] {
        let response = app.client.post(&url).json(&request).send().await.expect("infer");
        assert_eq!(response.status(), status, "{request}");
        let body: Value = response.json().await.expect("json");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{request} -> {body}");
        assert!(body.get("code").is_none(), "v2 errors use the protocol's body: {body}");
    }
    // Missing input, non-numeric data, an unsupported datatype.
    for request in [
        json!({"inputs": []}),
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": ["a", "b", "c", "d"]}]}),
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP16", "data": [1, 2, 3, 4]}]}),
        json!({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}}]}),
    ] {
        let response = app.client.post(&url).json(&request).send().await.expect("infer");
        assert_eq!(response.status(), 400, "{request}");
        let body: Value = response.json().await.expect("json");
        assert!(body["error"].as_str().is_some_and(|e| e.contains('x') || e.contains("input")), "{request} -> {body}");
    }
    let short = app.client.post(&url).header("inference-header-content-length", 10_000).body(header).send().await;
    assert_eq!(short.expect("req").status(), 400);
    let response = app.client.get(app.url("/v2/models/nope/versions/1")).send().await.expect("req");
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.expect("json")["error"].is_string());
    app.create_model("pickled").await;
    assert_eq!(app.upload("pickled", fixture_bytes("model.pkl"), None).await.status(), 201);
    let response =
        app.client.post(app.url("/v2/models/pickled/versions/1/infer")).json(&request).send().await.expect("req");
    assert_eq!(response.status(), 409);
    assert!(response.json::<Value>().await.expect("json")["error"].as_str().is_some_and(|e| e.contains("pickle")));
    let response = app.client.get(app.url("/v2/models/pickled/versions/1/ready")).send().await.expect("req");
    assert_eq!(response.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_bodies_over_the_limit_get_413_in_the_protocols_shape() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.limits.max_predict_bytes = 1024).await;
    app.register_fixture("tiny", "tiny.onnx").await;
    let data: Vec<f32> = vec![0.5; 4 * 100];
    let request = json!({"inputs": [{"name": "x", "shape": [100, 4], "datatype": "FP32", "data": data}]});
    let response =
        app.client.post(app.url("/v2/models/tiny/versions/1/infer")).json(&request).send().await.expect("req");
    assert_eq!(response.status(), 413);
    assert!(response.json::<Value>().await.expect("json")["error"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_works_unchanged() {
    let app = TestApp::spawn(Backend::Local).await;
    for model in ["tiny", "multi_io", "sklearn_forest"] {
        let name = model.replace('_', "-");
        app.register_fixture(&name, &format!("{model}.onnx")).await;
        let file = fixture(&format!("{model}.onnx"));
        let args = [app.base.as_str(), &name, "1", file.to_str().expect("path")];
        run_python_check("oip_client_check.py", &args, &[("DEPOT_TOKEN", &app.admin_token)]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_is_refused_with_429_and_never_a_5xx() {
    let app = TestApp::spawn_with(Backend::Local, |s| {
        s.runtime.sessions_per_version = 1;
        s.runtime.max_queue_per_version = 1;
        // Every run on a blocking thread: an inline run holds its worker, and the queue this
        // test fills is the one in front of the sessions.
        s.runtime.inline_run_max_us = 0;
    })
    .await;
    app.register_fixture("mlp", "mlp.onnx").await;
    // 256 rows in binary: a run holds the one session for milliseconds while the next requests,
    // cheap to decode, arrive. With one row the run (~40 µs on a fast CPU) could end before the
    // next request was read, and no request was ever refused.
    let rows = 256;
    let header = json!({"inputs": [{"name": "x", "shape": [rows, 784], "datatype": "FP32",
        "parameters": {"binary_data_size": rows * 784 * 4}}]})
    .to_string();
    let mut payload = header.clone().into_bytes();
    payload.extend((0..rows * 784).flat_map(|i| ((i % 8) as f32 * 0.25).to_le_bytes()));
    let url = app.url("/v2/models/mlp/versions/1/infer");
    let send = || {
        app.client
            .post(&url)
            .header("inference-header-content-length", header.len())
            .header("content-type", "application/octet-stream")
            .body(payload.clone())
            .send()
    };
    // Load it first, so the burst measures queueing, not loading.
    assert_eq!(send().await.expect("warm").status(), 200);
    let burst = (0..64).map(|_| send());
    let statuses: Vec<u16> =
        futures::future::join_all(burst).await.into_iter().map(|r| r.expect("request").status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200 || *s == 429), "{statuses:?}");
    assert!(statuses.contains(&429), "a queue of 1 must refuse some of 64 concurrent requests: {statuses:?}");
    assert!(statuses.contains(&200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batching_is_opt_in_per_version_and_keeps_answers_exact() {
    let app = TestApp::spawn(Backend::Local).await;
    app.register_fixture("tiny", "tiny.onnx").await;
    let patch = |body: Value| app.client.patch(app.url("/v1/models/tiny/versions/1")).json(&body).send();
    let refused = patch(json!({"batching": {"max_batch_size": 0, "max_queue_delay_ms": 2}})).await.expect("req");
    assert_error(refused, 400, "invalid_batching").await;
    let on = patch(json!({"batching": {"max_batch_size": 16, "max_queue_delay_ms": 5}})).await.expect("req");
    let version: Value = on.json().await.expect("json");
    assert_eq!(version["batching"]["max_batch_size"], 16);

    let url = app.url("/v1/models/tiny/versions/1/predict");
    let requests = (0..24).map(|i| {
        let x = [i as f32, 1.0, -(i as f32), 0.5];
        let request = app.client.post(&url).json(&json!({"inputs": {"x": [x]}})).send();
        async move { (x, request.await) }
    });
    let batched = futures::future::join_all(requests).await;
    let off = patch(json!({"batching": null})).await.expect("req");
    assert!(off.json::<Value>().await.expect("json")["batching"].is_null());
    for (x, response) in batched {
        let got: Value = response.expect("predict").json().await.expect("json");
        let alone: Value = app
            .client
            .post(&url)
            .json(&json!({"inputs": {"x": [x]}}))
            .send()
            .await
            .expect("req")
            .json()
            .await
            .expect("json");
        assert_eq!(got["outputs"]["y"]["shape"], json!([1, 3]));
        assert_close("y", &got["outputs"]["y"]["data"], &alone["outputs"]["y"]["data"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_artifact_is_refused_and_never_served() {
    let app = TestApp::spawn(Backend::Local).await;
    app.register_fixture("tiny", "tiny.onnx").await;
    // Overwrite the stored blob behind Depot's back: same size, other bytes.
    let mut blobs = Vec::new();
    let root = PathBuf::from(&app.storage.url);
    for entry in walk(&root) {
        if entry.to_string_lossy().contains("artifacts/sha256") {
            blobs.push(entry);
        }
    }
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    let mut bytes = std::fs::read(&blobs[0]).expect("blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blobs[0], bytes).expect("tamper");
    let request = json!({"inputs": {"x": [[1, 2, 3, 4]]}});
    for _ in 0..2 {
        let response = app.client.post(app.url("/v1/models/tiny/versions/1/predict")).json(&request).send().await;
        let body = assert_error(response.expect("req"), 500, "artifact_integrity").await;
        // A fixed message: the digests (internals) go to the log only.
        let message = body["message"].as_str().unwrap_or("");
        assert!(message.contains("digest") && !message.contains("sha256:"), "{body}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
        }
    }
    out
}
