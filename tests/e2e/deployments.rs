//! Aliases, deployments, rollback, canaries and zero-downtime swaps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use depot_tests::{Backend, TestApp, assert_error, fixture_bytes};
use serde_json::{Value, json};

/// `iris` with version 1 = logistic regression and 2 = random forest (same signature), and
/// version 3 = a pickle (not servable).
async fn iris(app: &TestApp) {
    app.create_model("iris").await;
    for file in ["sklearn_logreg.onnx", "sklearn_forest.onnx", "model.pkl"] {
        assert_eq!(app.upload("iris", fixture_bytes(file), None).await.status(), 201, "{file}");
    }
}

const ROW: [f32; 4] = [5.9, 3.0, 5.1, 1.8];

fn v1_request() -> Value {
    json!({"inputs": {"X": [ROW]}})
}

fn v2_request() -> Value {
    json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": ROW}]})
}

async fn put(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.put(app.url(path)).json(&body).send().await.expect("request")
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(path)).json(&body).send().await.expect("request")
}

/// The version that served a version-less v1 prediction (header and body agree).
async fn served(app: &TestApp) -> u64 {
    let response = post(app, "/v1/models/iris/predict", v1_request()).await;
    assert_eq!(response.status(), 200);
    let header = response.headers()["depot-served-by"].to_str().expect("header").to_owned();
    let body: Value = response.json().await.expect("json");
    let version = body["version"].as_u64().expect("version");
    assert_eq!(header, format!("iris/{version}"));
    version
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_point_at_versions_and_serve_on_both_apis() {
    let app = TestApp::spawn(Backend::Local).await;
    iris(&app).await;
    let set = put(&app, "/v1/models/iris/aliases/champion", json!({"version": 1, "reason": "best auc"})).await;
    assert_eq!(set.status(), 200);
    assert_eq!(set.json::<Value>().await.expect("json")["version"], 1);
    assert_eq!(put(&app, "/v1/models/iris/aliases/legacy", json!({"version": 3})).await.status(), 200);

    let v1 = post(&app, "/v1/models/iris/versions/champion/predict", v1_request()).await;
    assert_eq!(v1.headers()["depot-served-by"], "iris/1");
    let v2 = post(&app, "/v2/models/iris/versions/champion/infer", v2_request()).await;
    assert_eq!(v2.status(), 200);
    assert_eq!(v2.json::<Value>().await.expect("json")["model_version"], "1");
    let (status, metadata) = app.get_json("/v2/models/iris/versions/champion").await;
    assert_eq!((status, metadata["versions"][0].as_str()), (200, Some("1")));

    // Moving the alias moves its traffic.
    assert_eq!(put(&app, "/v1/models/iris/aliases/champion", json!({"version": 2})).await.status(), 200);
    let moved = post(&app, "/v1/models/iris/versions/champion/predict", v1_request()).await;
    assert_eq!(moved.headers()["depot-served-by"], "iris/2");
    let (_, list) = app.get_json("/v1/models/iris/aliases").await;
    let names: Vec<&str> =
        list["aliases"].as_array().expect("aliases").iter().filter_map(|a| a["alias"].as_str()).collect();
    assert_eq!(names, ["champion", "legacy"]);

    // Errors.
    assert_error(put(&app, "/v1/models/iris/aliases/Champ", json!({"version": 1})).await, 400, "invalid_alias").await;
    assert_error(put(&app, "/v1/models/iris/aliases/7up", json!({"version": 1})).await, 400, "invalid_alias").await;
    assert_error(put(&app, "/v1/models/iris/aliases/x", json!({"version": 9})).await, 404, "version_not_found").await;
    assert_error(put(&app, "/v1/models/nope/aliases/x", json!({"version": 1})).await, 404, "model_not_found").await;
    assert_error(put(&app, "/v1/models/iris/aliases/x", json!({"version": "one"})).await, 400, "invalid_request").await;
    let missing = app.client.get(app.url("/v1/models/iris/aliases/nobody")).send().await.expect("req");
    assert_error(missing, 404, "alias_not_found").await;
    let through_missing = post(&app, "/v1/models/iris/versions/nobody/predict", v1_request()).await;
    assert_error(through_missing, 404, "alias_not_found").await;
    let pickled = post(&app, "/v1/models/iris/versions/legacy/predict", v1_request()).await;
    assert_error(pickled, 409, "version_not_servable").await;
    let v2_missing = post(&app, "/v2/models/iris/versions/nobody/infer", v2_request()).await;
    assert_eq!(v2_missing.status(), 404);
    assert!(v2_missing.json::<Value>().await.expect("json")["error"].is_string());

    // An aliased version cannot be deleted; once the alias is gone it can.
    let refused = app.client.delete(app.url("/v1/models/iris/versions/2")).send().await.expect("req");
    let body = assert_error(refused, 409, "version_in_use").await;
    assert!(body["message"].as_str().unwrap_or("").contains("champion"), "{body}");
    let deleted = app.client.delete(app.url("/v1/models/iris/aliases/champion")).send().await.expect("req");
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.client.delete(app.url("/v1/models/iris/versions/2")).send().await.expect("req").status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_roll_back_and_read_the_history() {
    let app = TestApp::spawn(Backend::Local).await;
    iris(&app).await;
    let not_deployed = post(&app, "/v1/models/iris/predict", v1_request()).await;
    assert_error(not_deployed, 404, "deployment_not_found").await;
    let not_deployed = post(&app, "/v2/models/iris/infer", v2_request()).await;
    assert_eq!(not_deployed.status(), 404);
    assert_error(post(&app, "/v1/models/iris/deployment/rollback", json!({})).await, 404, "deployment_not_found").await;

    let deployed = put(&app, "/v1/models/iris/deployment", json!({"version": 1, "reason": "launch"})).await;
    assert_eq!(deployed.status(), 200);
    assert_eq!(served(&app).await, 1);
    assert_error(post(&app, "/v1/models/iris/deployment/rollback", json!({})).await, 409, "nothing_to_roll_back").await;
    assert_eq!(
        put(&app, "/v1/models/iris/deployment", json!({"version": 2, "reason": "forest wins"})).await.status(),
        200
    );
    assert_eq!(served(&app).await, 2);
    let v2 = post(&app, "/v2/models/iris/infer", v2_request()).await;
    assert_eq!(v2.json::<Value>().await.expect("json")["model_version"], "2");
    assert_eq!(app.get_json("/v2/models/iris/ready").await.0, 200);
    assert_eq!(app.get_json("/v2/models/iris").await.1["versions"][0], "2");

    // Refusals leave the deployment where it was.
    assert_error(put(&app, "/v1/models/iris/deployment", json!({"version": 3})).await, 409, "version_not_servable")
        .await;
    assert_error(put(&app, "/v1/models/iris/deployment", json!({"version": 8})).await, 404, "version_not_found").await;
    assert_error(put(&app, "/v1/models/iris/deployment", json!({"version": 0})).await, 400, "invalid_version").await;
    assert_error(put(&app, "/v1/models/nope/deployment", json!({"version": 1})).await, 404, "model_not_found").await;
    assert_eq!(served(&app).await, 2);
    let in_use = app.client.delete(app.url("/v1/models/iris/versions/2")).send().await.expect("req");
    assert_error(in_use, 409, "version_in_use").await;

    let rolled = post(&app, "/v1/models/iris/deployment/rollback", json!({"reason": "p99 regression"})).await;
    assert_eq!(rolled.status(), 200);
    assert_eq!(served(&app).await, 1);
    let named = post(&app, "/v1/models/iris/deployment/rollback", json!({"version": 2})).await;
    assert_eq!(named.json::<Value>().await.expect("json")["version"], 2);
    assert_eq!(served(&app).await, 2);

    let (status, history) = app.get_json("/v1/models/iris/deployment/history").await;
    assert_eq!(status, 200);
    let steps: Vec<(String, Option<i64>, Option<i64>)> = history["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or("").to_owned(), e["from"].as_i64(), e["to"].as_i64()))
        .collect();
    assert_eq!(
        steps,
        [
            ("deployment.rollback".to_owned(), Some(1), Some(2)),
            ("deployment.rollback".to_owned(), Some(2), Some(1)),
            ("deployment.deploy".to_owned(), Some(1), Some(2)),
            ("deployment.deploy".to_owned(), None, Some(1)),
        ]
    );
    let entries = history["entries"].as_array().expect("entries");
    assert_eq!(entries[1]["reason"], "p99 regression");
    assert_eq!(entries[3]["reason"], "launch");
    // The actor is the token's principal (the admin the first start created), and the token.
    assert!(entries.iter().all(|e| e["actor"] == "admin" && e["token"].is_string() && e["at"].is_string()));

    let undeploy = app.client.delete(app.url("/v1/models/iris/deployment")).send().await.expect("req");
    assert_eq!(undeploy.status(), 204);
    assert_error(post(&app, "/v1/models/iris/predict", v1_request()).await, 404, "deployment_not_found").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_takes_its_share_and_can_be_promoted_or_aborted() {
    let app = TestApp::spawn(Backend::Local).await;
    iris(&app).await;
    assert_error(
        put(&app, "/v1/models/iris/deployment/canary", json!({"version": 2, "percent": 30})).await,
        404,
        "deployment_not_found",
    )
    .await;
    assert_eq!(put(&app, "/v1/models/iris/deployment", json!({"version": 1})).await.status(), 200);
    for (body, code) in [
        (json!({"version": 2, "percent": 0}), "invalid_canary"),
        (json!({"version": 2, "percent": 100}), "invalid_canary"),
        (json!({"version": 1, "percent": 10}), "invalid_canary"),
    ] {
        assert_error(put(&app, "/v1/models/iris/deployment/canary", body).await, 400, code).await;
    }
    assert_error(
        put(&app, "/v1/models/iris/deployment/canary", json!({"version": 3, "percent": 10})).await,
        409,
        "version_not_servable",
    )
    .await;
    assert_error(post(&app, "/v1/models/iris/deployment/canary/promote", json!({})).await, 404, "canary_not_found")
        .await;

    let canary = put(&app, "/v1/models/iris/deployment/canary", json!({"version": 2, "percent": 30})).await;
    let body: Value = canary.json().await.expect("json");
    assert_eq!(
        (body["version"].as_u64(), body["canary"]["version"].as_u64(), body["canary"]["percent"].as_u64()),
        (Some(1), Some(2), Some(30))
    );
    let mut to_canary = 0;
    for _ in 0..400 {
        if served(&app).await == 2 {
            to_canary += 1;
        }
    }
    assert!((80..=160).contains(&to_canary), "30% of 400 should be near 120, got {to_canary}");

    let aborted = app.client.delete(app.url("/v1/models/iris/deployment/canary")).send().await.expect("req");
    assert_eq!(aborted.status(), 200);
    for _ in 0..20 {
        assert_eq!(served(&app).await, 1);
    }
    assert_eq!(
        put(&app, "/v1/models/iris/deployment/canary", json!({"version": 2, "percent": 50})).await.status(),
        200
    );
    let promoted = post(&app, "/v1/models/iris/deployment/canary/promote", json!({"reason": "canary healthy"})).await;
    let body: Value = promoted.json().await.expect("json");
    assert_eq!((body["version"].as_u64(), body["canary"].is_null()), (Some(2), true));
    for _ in 0..20 {
        assert_eq!(served(&app).await, 2);
    }
    let (_, history) = app.get_json("/v1/models/iris/deployment/history?limit=3").await;
    let actions: Vec<&str> =
        history["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["deployment.promote", "deployment.canary", "deployment.abort_canary"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_swaps_under_load_fail_no_request() {
    let app = Arc::new(TestApp::spawn(Backend::Local).await);
    iris(&app).await;
    assert_eq!(put(&app, "/v1/models/iris/deployment", json!({"version": 1})).await.status(), 200);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut clients = Vec::new();
    for client in 0..4 {
        let (app, stop, ok, failed) = (app.clone(), stop.clone(), ok.clone(), failed.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let response = if client % 2 == 0 {
                    post(&app, "/v1/models/iris/predict", v1_request()).await
                } else {
                    post(&app, "/v2/models/iris/infer", v2_request()).await
                };
                let served_by =
                    response.headers().get("depot-served-by").and_then(|v| v.to_str().ok()).map(str::to_owned);
                if response.status() == 200 && matches!(served_by.as_deref(), Some("iris/1" | "iris/2")) {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for swap in 0..20 {
        let response = if swap % 2 == 0 {
            put(&app, "/v1/models/iris/deployment", json!({"version": 2})).await
        } else {
            post(&app, "/v1/models/iris/deployment/rollback", json!({})).await
        };
        assert_eq!(response.status(), 200, "swap {swap}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.expect("client");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} failed requests out of {}", ok + failed);
    assert!(ok > 100, "the load was real: {ok} requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_deployed_model_with_cascade_ends_its_deployment() {
    let app = TestApp::spawn(Backend::Local).await;
    iris(&app).await;
    assert_eq!(put(&app, "/v1/models/iris/deployment", json!({"version": 1})).await.status(), 200);
    assert_eq!(put(&app, "/v1/models/iris/aliases/prod", json!({"version": 2})).await.status(), 200);
    let deleted = app.client.delete(app.url("/v1/models/iris?cascade=true")).send().await.expect("req");
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.blob_count().await, 0);
    assert_error(post(&app, "/v1/models/iris/predict", v1_request()).await, 404, "model_not_found").await;
}
