//! Two `depot serve` processes on one database and one artifact store: a deployment change
//! made through one is served by the other within a second, through LISTEN/NOTIFY (the periodic
//! reconciliation behind it is set far slower here, so it cannot be what passes the test).

mod common;

use std::time::{Duration, Instant};

use common::{Server, database_url, repo, start};
use serde_json::{Value, json};

async fn served_by(client: &reqwest::Client, server: &Server) -> (u16, Option<u64>) {
    let response = client
        .post(format!("{}/v1/models/iris/predict", server.base))
        .json(&json!({"inputs": {"X": [[5.9, 3.0, 5.1, 1.8]]}}))
        .send()
        .await
        .expect("predict");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["version"].as_u64())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_through_one_replica_is_served_by_the_other_within_a_second() {
    let database_url = database_url();
    let storage = tempfile::tempdir().expect("tempdir");
    // Cached serving state expires after a minute, far beyond the 1 s bound: only the
    // notification (LISTEN/NOTIFY) can make B follow in time.
    let slow_reconcile = [("DEPOT_SERVING__RESOLVE_TTL_MS", "60000")];
    let a = start(&database_url, storage.path(), &slow_reconcile, false);
    let b = start(&database_url, storage.path(), &slow_reconcile, false);
    let client = a.admin_client();

    let created =
        client.post(format!("{}/v1/models", a.base)).json(&json!({"name": "iris"})).send().await.expect("create");
    assert_eq!(created.status(), 201);
    for file in ["sklearn_logreg.onnx", "sklearn_forest.onnx"] {
        let bytes = std::fs::read(repo().join("tests/fixtures").join(file)).expect("fixture");
        let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::bytes(bytes));
        let uploaded =
            client.post(format!("{}/v1/models/iris/versions", a.base)).multipart(form).send().await.expect("upload");
        assert_eq!(uploaded.status(), 201);
    }

    let mut delays = Vec::new();
    for (round, version) in [1u64, 2, 1, 2, 1, 2].into_iter().enumerate() {
        let deploy = if round > 0 && version == 1 {
            client.post(format!("{}/v1/models/iris/deployment/rollback", a.base)).json(&json!({})).send().await
        } else {
            client.put(format!("{}/v1/models/iris/deployment", a.base)).json(&json!({"version": version})).send().await
        };
        assert_eq!(deploy.expect("deploy").status(), 200, "round {round}");
        let changed = Instant::now();
        loop {
            let (status, served) = served_by(&client, &b).await;
            // Before the first deploy reaches B, B answers 404 (not deployed); never a 5xx.
            assert!(status == 200 || (round == 0 && status == 404), "round {round}: status {status}");
            if served == Some(version) {
                break;
            }
            assert!(changed.elapsed() < Duration::from_secs(1), "round {round}: B still serves {served:?} after 1 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(changed.elapsed());
    }
    eprintln!("replica propagation delays: {delays:?}");
}
