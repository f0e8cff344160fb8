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
