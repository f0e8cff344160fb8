//! Faults against real components: a PostgreSQL cluster of the test's own stopped and started
//! under prediction load, and a replica told to stop (SIGTERM) under load.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{OwnPostgres, Server, database_url, repo, start, upload_iris};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

const ROW: [[f64; 4]; 1] = [[5.9, 3.0, 5.1, 1.8]];

/// What a load generator saw: successes, and each failure with when it happened.
#[derive(Debug, Default)]
struct Outcome {
    ok: u64,
    failures: Vec<String>,
    slowest: Duration,
}

/// `tasks` loops predicting at `path` until `stop` is set.
fn load(client: &reqwest::Client, url: String, tasks: usize, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<Outcome>> {
    (0..tasks)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), Arc::clone(stop));
            tokio::spawn(async move {
                let mut outcome = Outcome::default();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let response = client.post(&url).json(&json!({"inputs": {"X": ROW}})).send().await;
                    outcome.slowest = outcome.slowest.max(started.elapsed());
                    match response {
                        Ok(r) if r.status() == 200 => outcome.ok += 1,
                        Ok(r) => {
                            outcome.failures.push(format!("{}: {}", r.status(), r.text().await.unwrap_or_default()))
                        }
                        Err(e) => outcome.failures.push(format!("transport: {e}")),
                    }
                }
                outcome
            })
        })
        .collect()
}

async fn finish(tasks: Vec<JoinHandle<Outcome>>) -> Outcome {
    let mut total = Outcome::default();
    for task in tasks {
        let outcome = task.await.expect("load task");
        total.ok += outcome.ok;
        total.failures.extend(outcome.failures);
        total.slowest = total.slowest.max(outcome.slowest);
    }
    total
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits up to `within` for `/readyz` to show `database` as `state`.
async fn database_state(client: &reqwest::Client, server: &Server, state: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let (_, body) = get(client, format!("{}/readyz", server.base)).await;
        if body["checks"]["database"].as_str().is_some_and(|s| s.starts_with(state)) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn push(client: &reqwest::Client, base: &str, file: &str) {
    let bytes = std::fs::read(repo().join("tests/fixtures").join(file)).expect("fixture");
    let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::bytes(bytes));
    let uploaded = client.post(format!("{base}/v1/models/iris/versions")).multipart(form).send().await.expect("upload");
    assert_eq!(uploaded.status(), 201);
}

async fn served_version(client: &reqwest::Client, base: &str) -> Option<u64> {
    let response =
        client.post(format!("{base}/v1/models/iris/predict")).json(&json!({"inputs": {"X": ROW}})).send().await;
    let body: Value = response.expect("predict").json().await.unwrap_or(Value::Null);
    body["version"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn predictions_survive_a_database_outage_and_replicas_follow_after_it() {
    let postgres = OwnPostgres::start();
    let database_url = postgres.database_url();
    let storage = tempfile::tempdir().expect("tempdir");
    // Registry calls give up on the database after a second.
    let env = [("DEPOT_DATABASE__ACQUIRE_TIMEOUT_MS", "1000"), ("DEPOT_SERVING__RESOLVE_TTL_MS", "200")];
    let a = start(&database_url, storage.path(), &env, false);
    let b = start(&database_url, storage.path(), &env, false);
    let client = a.admin_client();
    upload_iris(&client, &a.base).await;
    push(&client, &a.base, "sklearn_forest.onnx").await;
    let deployed =
        client.put(format!("{}/v1/models/iris/deployment", a.base)).json(&json!({"version": 1})).send().await;
    assert_eq!(deployed.expect("deploy").status(), 200);
    for server in [&a, &b] {
        assert_eq!(database_state(&client, server, "following", Duration::from_secs(5)).await["status"], "ready");
        assert_eq!(served_version(&client, &server.base).await, Some(1), "deployed everywhere before the outage");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for server in [&a, &b] {
        tasks.extend(load(&client, format!("{}/v1/models/iris/predict", server.base), 2, &stop));
        tasks.extend(load(&client, format!("{}/v1/models/iris/versions/2/predict", server.base), 1, &stop));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    postgres.stop();
    let stopped = Instant::now();
    for server in [&a, &b] {
        let body = database_state(&client, server, "unreachable", Duration::from_secs(5)).await;
        assert_eq!(body["status"], "ready", "a replica that cannot reach the database stays ready: {body}");
    }
    // A registry call is refused quickly with a 503, not left hanging.
    let asked = Instant::now();
    let (status, body) = get(&client, format!("{}/v1/models/iris", a.base)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "unavailable", "{body}");
    assert!(asked.elapsed() < Duration::from_secs(3), "answered in {:?}", asked.elapsed());
    let (status, body) = get(&client, format!("{}/healthz/dependencies", a.base)).await;
    assert_eq!((status, &body["checks"]["database"]), (503, &json!("unreachable")), "{body}");
    // Outlive the caches' TTL many times over.
    tokio::time::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed())).await;

    postgres.resume();
    for server in [&a, &b] {
        let body = database_state(&client, server, "following", Duration::from_secs(10)).await;
        assert_eq!(body["checks"]["database"], "following", "the listener reconnected: {body}");
    }
    stop.store(true, Ordering::Relaxed);
    let outcome = finish(tasks).await;
    assert!(
        outcome.failures.is_empty(),
        "{} of {} predictions failed: {:?}",
        outcome.failures.len(),
        outcome.ok,
        &outcome.failures[..outcome.failures.len().min(5)]
    );
    assert!(outcome.ok > 100, "the load ran: {outcome:?}");

    // After recovery: the registry answers, and a deploy through A reaches B within a second.
    let (status, _) = get(&client, format!("{}/v1/models/iris", a.base)).await;
    assert_eq!(status, 200);
    let deployed =
        client.put(format!("{}/v1/models/iris/deployment", a.base)).json(&json!({"version": 2})).send().await;
    assert_eq!(deployed.expect("deploy").status(), 200);
    let changed = Instant::now();
    while served_version(&client, &b.base).await != Some(2) {
        assert!(changed.elapsed() < Duration::from_secs(1), "B follows a deploy within 1 s after the outage");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_then_exits_without_failing_a_request() {
    let storage = tempfile::tempdir().expect("tempdir");
    let env = [("DEPOT_SERVER__DRAIN_GRACE_S", "2")];
    let mut server = start(&database_url(), storage.path(), &env, false);
    let client = server.admin_client();
    upload_iris(&client, &server.base).await;
    let deployed =
        client.put(format!("{}/v1/models/iris/deployment", server.base)).json(&json!({"version": 1})).send().await;
    assert_eq!(deployed.expect("deploy").status(), 200);

    let stop = Arc::new(AtomicBool::new(false));
    let tasks = load(&client, format!("{}/v1/models/iris/predict", server.base), 4, &stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.terminate();
    let signalled = Instant::now();
    // The replica turns not-ready at once...
    loop {
        let (status, body) = get(&client, format!("{}/readyz", server.base)).await;
        if status == 503 {
            assert_eq!(body["status"], "draining");
            break;
        }
        assert!(signalled.elapsed() < Duration::from_millis(500), "not-ready within 500 ms of SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // ...and keeps serving while a load balancer notices (its health check every 0.5 s, say).
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let outcome = finish(tasks).await;
    assert!(outcome.failures.is_empty(), "failed during the drain: {:?}", outcome.failures);
    assert!(outcome.ok > 10, "the load ran: {outcome:?}");
    let status = server.wait_exit(Duration::from_secs(10)).expect("exits after the grace period");
    assert!(status.success(), "a clean exit: {status}");
    let took = signalled.elapsed();
    assert!(took >= Duration::from_secs(2), "served through the whole grace period: exited after {took:?}");
}

/// Files under `dir`, recursively, relative to it.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(dir).expect("under dir").display().to_string());
            }
        }
    }
    found.sort();
    found
}

fn gc(database_url: &str, storage: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("gc")
        .args(args)
        .env("DEPOT_DATABASE__URL", database_url)
        .env("DEPOT_STORAGE__URL", storage)
        .env("RUST_LOG", "warn")
        .output()
        .expect("depot gc");
    assert!(output.status.success(), "depot gc {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_a_kill_mid_upload_and_mid_delete_gc_makes_storage_and_catalog_agree() {
    let database_url = database_url();
    let storage = tempfile::tempdir().expect("tempdir");
    let mut server = start(&database_url, storage.path(), &[], false);
    let client = server.admin_client();
    upload_iris(&client, &server.base).await;
    push(&client, &server.base, "sklearn_forest.onnx").await;

    // A 64 MB upload, sent slowly; the server is killed once half of it has been sent.
    let (mut sender, receiver) = tokio::io::duplex(1 << 20);
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(receiver));
    let form = reqwest::multipart::Form::new().part("artifact", reqwest::multipart::Part::stream(body));
    let upload = tokio::spawn(client.post(format!("{}/v1/models/iris/versions", server.base)).multipart(form).send());
    let mut chunk = vec![0u8; 1 << 20];
    chunk[..3].copy_from_slice(b"\x80\x04\x95"); // a pickle's first bytes: recognised, stored
    for i in 0..32 {
        tokio::io::AsyncWriteExt::write_all(&mut sender, &chunk).await.expect("send");
        if i == 0 {
            chunk[..3].fill(0);
        }
    }
    // Parts of 8 MB reach the store as they fill: wait until some did.
    let staging = storage.path().join("staging");
    let deadline = Instant::now() + Duration::from_secs(10);
    while files(&staging).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.kill();
    drop(sender);
    // The upload died with the server (how the client sees that does not matter here).
    let _ = upload.await;
    let partial = files(&staging);
    assert_eq!(partial.len(), 1, "an unfinished upload is left behind: {partial:?}");

    // A deletion that crashed after its commit, before its blob deletion: the row is gone, the
    // blob stays.
    let forest_blob = files(&storage.path().join("artifacts"));
    assert_eq!(forest_blob.len(), 2, "two blobs: {forest_blob:?}");
    let psql = std::process::Command::new("psql")
        .args([database_url.as_str(), "-qc", "DELETE FROM versions WHERE version = 2"])
        .status()
        .expect("psql");
    assert!(psql.success());

    // A restart leaves both.
    let server = start(&database_url, storage.path(), &[], false);
    assert_eq!(files(&staging), partial);
    let dry = gc(&database_url, storage.path(), &["--dry-run", "--staging-older-than", "0"]);
    assert!(dry.contains("would remove 1 orphan blobs and 1 abandoned uploads"), "{dry}");
    assert_eq!(files(&staging), partial, "a dry run removes nothing");

    let swept = gc(&database_url, storage.path(), &["--staging-older-than", "0"]);
    assert!(swept.contains("removed 1 orphan blobs and 1 abandoned uploads"), "{swept}");
    assert!(files(&staging).is_empty(), "{:?}", files(&staging));
    let blobs = files(&storage.path().join("artifacts"));
    assert_eq!(blobs.len(), 1, "only version 1's blob is left: {blobs:?}");
    let again = gc(&database_url, storage.path(), &["--staging-older-than", "0"]);
    assert!(again.contains("removed 0 orphan blobs and 0 abandoned uploads"), "{again}");

    // Catalog and store agree: version 1 loads from its blob and serves.
    let response = client
        .post(format!("{}/v1/models/iris/versions/1/predict", server.base))
        .json(&json!({"inputs": {"X": ROW}}))
        .send()
        .await
        .expect("predict");
    assert_eq!(response.status(), 200);
    let (status, versions) = get(&client, format!("{}/v1/models/iris/versions", server.base)).await;
    assert_eq!(status, 200);
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(1), "{versions}");
}
