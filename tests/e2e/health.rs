use std::time::{Duration, Instant};

use depot_tests::{Backend, TestApp, s3_config, test_settings};

crate::on_both_backends!(ready_once_started_and_dependencies_answer);

/// `/readyz` once it says ready (the deployed versions load in the background at start).
async fn wait_ready(app: &TestApp) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = app.get_json("/readyz").await;
        if (status == 200 && body["checks"]["database"] == "following") || Instant::now() > deadline {
            assert_eq!(status, 200, "{body}");
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn ready_once_started_and_dependencies_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let body = wait_ready(&app).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["deployed_versions"], "loaded");
    assert_eq!(body["checks"]["draining"], "no");
    let (status, body) = app.get_json("/healthz/dependencies").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");
    let (status, body) = app.get_json("/v2/health/ready").await;
    assert_eq!((status, body["ready"].as_bool()), (200, Some(true)));
}

#[tokio::test]
async fn an_unreachable_store_shows_in_dependencies_not_in_readiness() {
    let (mut settings, dir) = test_settings(Backend::Local).await.expect("settings");
    // Nothing listens on port 9 of loopback.
    settings.storage = s3_config("http://127.0.0.1:9", "missing");
    settings.storage.options.insert("timeout".into(), "2s".into());
    settings.storage.options.insert("connect_timeout".into(), "1s".into());
    let app = TestApp::start(settings, dir).await.expect("starts without touching storage");
    let (status, body) = app.get_json("/healthz/dependencies").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "unreachable");
    // Liveness and readiness do not depend on the store: loaded versions still serve.
    assert_eq!(app.get_json("/healthz").await.0, 200);
    wait_ready(&app).await;
}

#[tokio::test]
async fn draining_turns_the_replica_unready_and_it_keeps_serving() {
    let app = TestApp::spawn(Backend::Local).await;
    wait_ready(&app).await;
    app.replica.start_draining();
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!((status, body["status"].as_str()), (503, Some("draining")), "{body}");
    let (status, body) = app.get_json("/v2/health/ready").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("draining")), "{body}");
    assert_eq!(app.get_json("/healthz").await.0, 200, "still alive");
    assert_eq!(app.get_json("/v1/models").await.0, 200, "and still serving");
}
