//! Two `depot serve` processes on one database and one artifact store: a deployment change
//! made through one is served by the other within a second (LISTEN/NOTIFY, with periodic
//! reconciliation behind it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn start(database_url: &str, storage: &std::path::Path) -> Server {
    let library = std::env::var_os("DEPOT_ORT_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".depot/lib/libonnxruntime.so.1.31.0"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("serve")
        .env("DEPOT_SERVER__LISTEN", "127.0.0.1:0")
        .env("DEPOT_SERVER__WORKERS", "1")
        .env("DEPOT_DATABASE__URL", database_url)
        .env("DEPOT_STORAGE__URL", storage)
        .env("DEPOT_RUNTIME__LIBRARY_PATH", library)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start depot serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    Server { child, base }
}

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
    let postgres = std::env::var("DEPOT_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{postgres}/depot_test_{}", uuid::Uuid::new_v4().simple());
    let storage = tempfile::tempdir().expect("tempdir");
    let a = start(&database_url, storage.path());
    let b = start(&database_url, storage.path());
    let client = reqwest::Client::new();

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
