//! Garbage collection of the store, racing what it must never break: uploads committing a blob
//! and deletions removing one, on the same digest.

use std::time::Duration;

use depot_api::SweepOptions;
use depot_tests::{Backend, TestApp, fixture_bytes};
use serde_json::Value;

crate::on_both_backends!(sweeping_while_versions_come_and_go_never_loses_a_referenced_blob);

async fn sweeping_while_versions_come_and_go_never_loses_a_referenced_blob(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.create_model("tiny").await;
    let bytes = fixture_bytes("tiny.onnx");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sweeper = {
        let (settings, stop) = (app.settings.clone(), stop.clone());
        tokio::spawn(async move {
            // Only the blob logic races here: live uploads' staging objects are minutes young.
            let options = SweepOptions { dry_run: false, staging_older_than: Duration::from_secs(3600) };
            let mut sweeps = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if depot_api::collect_garbage(&settings, options).await.expect("sweep").is_some() {
                    sweeps += 1;
                }
            }
            sweeps
        })
    };
    // Every version has the same bytes, so the same blob: each deletion of the last version
    // referencing it removes it, and each upload after that stores it again.
    for round in 0..12 {
        let uploaded = app.upload("tiny", bytes.clone(), None).await;
        assert_eq!(uploaded.status(), 201, "round {round}");
        let version: Value = uploaded.json().await.expect("json");
        let number = version["version"].as_u64().expect("number");
        let predicted = app
            .client
            .post(app.url(&format!("/v1/models/tiny/versions/{number}/predict")))
            .json(&serde_json::json!({"inputs": {"x": [[1.0, 2.0, 3.0, 4.0]]}}))
            .send()
            .await
            .expect("predict");
        let status = predicted.status();
        assert!(
            status == 200,
            "round {round}: the blob was there to load: {status} {}",
            predicted.text().await.unwrap_or_default()
        );
        if round % 2 == 0 {
            let deleted = app.client.delete(app.url(&format!("/v1/models/tiny/versions/{number}"))).send().await;
            assert_eq!(deleted.expect("delete").status(), 204, "round {round}");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sweeps = sweeper.await.expect("sweeper");
    assert!(sweeps > 0, "the sweeper ran");
    // Six versions remain, all on one blob, which is there.
    assert_eq!(app.version_rows().await, 6);
    assert_eq!(app.blob_count().await, 1);
    let (status, _) = app.get_json("/v1/models/tiny/versions/12/artifact").await;
    assert_eq!(status, 200, "the remaining versions' bytes download");
}
