//! The Open Inference Protocol over gRPC, driven by the real client (`tritonclient[grpc]`,
//! unchanged) from `scripts/oip_grpc_check.py`: metadata, readiness, predictions equal to
//! onnxruntime's and byte for byte to REST's, typed and raw tensors, every addressing (number,
//! alias, deployment), every validation error with REST's message, tokens, and overload.

use depot_tests::{Backend, TestApp, fixture, run_python_check};
use serde_json::json;

/// Runs the check script in `mode` against the app's gRPC address with `args`, as the admin.
async fn check(app: &TestApp, env: &[(&str, &str)], mode: &str, args: &[&str]) {
    let grpc = app.grpc_address.expect("gRPC is on by default").to_string();
    let all: Vec<&str> = [mode, grpc.as_str()].into_iter().chain(args.iter().copied()).collect();
    let env: Vec<(&str, &str)> =
        [("DEPOT_TOKEN", app.admin_token.as_str())].into_iter().chain(env.iter().copied()).collect();
    run_python_check("oip_grpc_check.py", &all, &env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_grpc_works_unchanged_and_answers_as_rest_does() {
    let app = TestApp::spawn(Backend::Local).await;
    for model in ["tiny", "multi_io", "sklearn_forest", "mlp"] {
        let name = model.replace('_', "-");
        app.register_fixture(&name, &format!("{model}.onnx")).await;
        let file = fixture(&format!("{model}.onnx"));
        check(&app, &[], "model", &[&app.base, &name, "1", file.to_str().expect("path")]).await;
    }
    // An alias and the deployment address the same version.
    let put = |path: &str, body| app.client.put(app.url(path)).json(&body).send();
    let alias = put("/v1/models/mlp/aliases/champion", json!({"version": 1})).await.expect("alias");
    assert_eq!(alias.status(), 200);
    let deployed = put("/v1/models/mlp/deployment", json!({"version": 1})).await.expect("deploy");
    assert_eq!(deployed.status(), 200);
    let file = fixture("mlp.onnx");
    for version in ["champion", ""] {
        check(&app, &[], "model", &[&app.base, "mlp", version, file.to_str().expect("path")]).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_grpc_validation_error_has_its_code_and_rests_message() {
    let app = TestApp::spawn(Backend::Local).await;
    app.register_fixture("multi-io", "multi_io.onnx").await;
    app.register_fixture("tiny", "tiny.onnx").await;
    let other = app.token("stranger", &[("predictor", "tiny")]).await;
    let env = [("DEPOT_OTHER_TOKEN", other.as_str())];
    let file = fixture("multi_io.onnx");
    check(&app, &env, "errors", &[&app.base, "multi-io", "1", file.to_str().expect("path")]).await;
    // The model exists but nothing is deployed: NOT_FOUND saying so.
    let file = fixture("tiny.onnx");
    check(&app, &[("DEPOT_NOT_DEPLOYED", "1")], "errors", &[&app.base, "tiny", "1", file.to_str().expect("path")])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_overload_is_resource_exhausted_and_never_a_failure() {
    let app = TestApp::spawn_with(Backend::Local, |s| {
        s.runtime.sessions_per_version = 1;
        s.runtime.max_queue_per_version = 1;
        s.runtime.inline_run_max_us = 0;
    })
    .await;
    app.register_fixture("mlp", "mlp.onnx").await;
    let file = fixture("mlp.onnx");
    check(&app, &[], "overload", &["mlp", file.to_str().expect("path"), "64"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_message_over_the_prediction_limit_is_refused() {
    // The MLP's one input is 784 floats: 3,136 bytes raw.
    let app = TestApp::spawn_with(Backend::Local, |s| s.limits.max_predict_bytes = 2048).await;
    app.register_fixture("mlp", "mlp.onnx").await;
    let file = fixture("mlp.onnx");
    check(&app, &[], "oversize", &["mlp", file.to_str().expect("path")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_is_off_when_disabled() {
    let app = TestApp::spawn_with(Backend::Local, |s| s.grpc.enabled = false).await;
    assert_eq!(app.grpc_address, None);
}
