use depot_tests::{Backend, TestApp, s3_config, test_settings};

crate::on_both_backends!(ready_when_database_and_storage_answer);

async fn ready_when_database_and_storage_answer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "ok");
}

#[tokio::test]
async fn unready_when_storage_is_unreachable() {
    let (mut settings, dir) = test_settings(Backend::Local).await.expect("settings");
    // Nothing listens on port 9 of loopback.
    settings.storage = s3_config("http://127.0.0.1:9", "missing");
    settings.storage.options.insert("timeout".into(), "2s".into());
    settings.storage.options.insert("connect_timeout".into(), "1s".into());
    let app = TestApp::start(settings, dir).await.expect("starts without touching storage");
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["storage"], "unreachable");
    // Liveness does not depend on the store.
    assert_eq!(app.get_json("/healthz").await.0, 200);
}
