//! Metrics after a known sequence of requests: exact counts by model, version, role and
//! outcome; histogram counts equal to the requests; nothing labelled with a model name that did
//! not resolve; Triton's statistics (through tritonclient) agreeing; and a real Prometheus
//! server scraping Depot and answering a histogram_quantile query.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use depot_tests::{Backend, TestApp, assert_error, client_with, fixture_bytes};
use serde_json::{Value, json};

/// The value of the sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        all.then(|| value.parse().ok()).flatten()
    })
}

async fn scrape(app: &TestApp) -> String {
    let response = app.client.get(app.url("/metrics")).send().await.expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    response.text().await.expect("text")
}

const TINY: &str = r#"{"inputs": {"x": [[1, 2, 3, 4]]}}"#;
const WRONG: &str = r#"{"inputs": {"x": [[1, 2, 3]]}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_sequence_gives_exact_counts() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("tiny").await;
    assert_eq!(app.upload("tiny", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let deploy = app.client.put(app.url("/v1/models/tiny/deployment")).json(&json!({"version": 1})).send().await;
    assert_eq!(deploy.expect("deploy").status(), 200);
    let body = |text: &str| serde_json::from_str::<Value>(text).expect("json");
    let predict = |path: &'static str, json: &'static str| {
        let request = app.client.post(app.url(path)).json(&body(json));
        async move { request.send().await.expect("predict").status().as_u16() }
    };
    for _ in 0..3 {
        assert_eq!(predict("/v1/models/tiny/versions/1/predict", TINY).await, 200);
    }
    for _ in 0..2 {
        assert_eq!(predict("/v1/models/tiny/versions/1/predict", WRONG).await, 400);
    }
    assert_eq!(predict("/v1/models/tiny/predict", TINY).await, 200);
    assert_eq!(predict("/v1/models/no-such-model/versions/1/predict", TINY).await, 404);

    let text = scrape(&app).await;
    let count = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels).unwrap_or(-1.0);
    let v1 = [("model", "tiny"), ("version", "1")];
    let with = |extra: &[(&'static str, &'static str)]| [&v1[..], extra].concat();
    assert_eq!(count("depot_inference_requests_total", &with(&[("role", "direct"), ("outcome", "success")])), 3.0);
    assert_eq!(
        count("depot_inference_requests_total", &with(&[("role", "direct"), ("outcome", "invalid_input")])),
        2.0
    );
    assert_eq!(count("depot_inference_requests_total", &with(&[("role", "primary"), ("outcome", "success")])), 1.0);
    assert_eq!(count("depot_inference_duration_seconds_count", &with(&[("role", "direct")])), 5.0);
    assert_eq!(count("depot_inference_duration_seconds_count", &with(&[("role", "primary")])), 1.0);
    // Only the requests that ran reach a session (warm-up runs are not requests).
    assert_eq!(count("depot_inference_compute_duration_seconds_count", &v1), 4.0);
    assert_eq!(count("depot_inference_queue_duration_seconds_count", &v1), 4.0);
    assert_eq!(count("depot_inference_in_flight", &v1), 0.0);
    assert!(!text.contains("no-such-model"), "a name that did not resolve is no label");
    let route = [("route", "/v1/models/{name}/versions/{version}/predict"), ("method", "POST")];
    assert_eq!(count("depot_http_requests_total", &[&route[..], &[("status_class", "2xx")]].concat()), 3.0);
    assert_eq!(count("depot_http_requests_total", &[&route[..], &[("status_class", "4xx")]].concat()), 3.0);
    assert_eq!(count("depot_http_request_duration_seconds_count", &route), 6.0);
    assert_eq!(count("depot_runtime_loaded_versions", &[]), 1.0);
    assert_eq!(count("depot_runtime_loads_total", &[("outcome", "success")]), 1.0);
    assert_eq!(count("depot_runtime_load_duration_seconds_count", &[]), 1.0);
    assert_eq!(count("depot_registry_uploads_total", &[("outcome", "success")]), 1.0);
    assert_eq!(count("depot_registry_upload_bytes_total", &[]), fixture_bytes("tiny.onnx").len() as f64);
    assert_eq!(count("depot_registry_changes_total", &[("action", "deploy")]), 1.0);
    assert!(count("depot_db_pool_max_connections", &[]) > 0.0);
    // Sub-millisecond buckets exist.
    assert!(text.contains("le=\"0.00025\""), "sub-millisecond buckets");

    // Triton's statistics agree, through tritonclient itself.
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let script = "import json, sys; import tritonclient.http as h; \
        c = h.InferenceServerClient(url=sys.argv[1]); \
        print(json.dumps(c.get_inference_statistics(model_name='tiny', model_version='1', headers={'Authorization': 'Bearer ' + sys.argv[2]})))";
    let output = tokio::process::Command::new(&python)
        .args(["-c", script, app.base.trim_start_matches("http://"), &app.admin_token])
        .output()
        .await
        .expect("run tritonclient (scripts/test.sh creates .venv)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stats: Value = serde_json::from_slice(&output.stdout).expect("json");
    let model = &stats["model_stats"][0];
    assert_eq!((model["name"].as_str(), model["version"].as_str()), (Some("tiny"), Some("1")), "{stats}");
    let inference = &model["inference_stats"];
    assert_eq!(inference["success"]["count"], 4, "{stats}");
    assert_eq!(inference["fail"]["count"], 2, "{stats}");
    assert_eq!(inference["compute_infer"]["count"], 4);
    assert_eq!(model["inference_count"], 4);
    assert!(inference["success"]["ns"].as_u64().is_some_and(|ns| ns > 0));
    let (status, all) = app.get_json("/v2/models/stats").await;
    assert_eq!((status, all["model_stats"].as_array().map(Vec::len)), (200, Some(1)));
    let (_, server) = app.get_json("/v2").await;
    assert!(server["extensions"].as_array().expect("extensions").contains(&json!("statistics")));
    assert_eq!(app.get_json("/v2/models/nope/stats").await.0, 404);

    // The metrics name every model: a token without read on all of them gets 403, none 401.
    let narrow = client_with(&app.token("narrow", &[("reader", "tiny")]).await);
    assert_error(narrow.get(app.url("/metrics")).send().await.expect("req"), 403, "forbidden").await;
    let anonymous = reqwest::Client::new().get(app.url("/metrics")).send().await.expect("req");
    assert_error(anonymous, 401, "unauthenticated").await;
}

/// The batch-size histogram counts every run of a batched version and every request's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batched_burst_is_counted_in_batch_sizes() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("tiny").await;
    assert_eq!(app.upload("tiny", fixture_bytes("tiny.onnx"), None).await.status(), 201);
    let batching = json!({"batching": {"max_batch_size": 64, "max_queue_delay_ms": 20}});
    let patched = app.client.patch(app.url("/v1/models/tiny/versions/1")).json(&batching).send().await;
    assert_eq!(patched.expect("patch").status(), 200);
    let burst = (0..16).map(|_| {
        let request = app
            .client
            .post(app.url("/v1/models/tiny/versions/1/predict"))
            .json(&serde_json::from_str::<Value>(TINY).expect("json"));
        async move { request.send().await.expect("predict").status().as_u16() }
    });
    assert!(futures::future::join_all(burst).await.iter().all(|s| *s == 200));
    let text = scrape(&app).await;
    let v1 = [("model", "tiny"), ("version", "1")];
    let runs = sample(&text, "depot_inference_batch_size_count", &v1).expect("batch sizes");
    let rows = sample(&text, "depot_inference_batch_size_sum", &v1).expect("rows");
    assert_eq!(rows, 16.0, "every request's row is in a batch");
    // How many runs the 16 requests took depends on their timing (a request that finds an idle
    // session runs at once, a batch of one): every run is a batch, each counted once.
    assert!((1.0..=16.0).contains(&runs), "{runs} runs");
    assert_eq!(sample(&text, "depot_inference_queue_duration_seconds_count", &v1), Some(16.0));
    assert_eq!(sample(&text, "depot_inference_compute_duration_seconds_count", &v1), Some(runs));
}

/// The separate metrics port needs no token; a real Prometheus scrapes it and answers a
/// histogram_quantile over a served model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_depot_and_computes_a_p99() {
    let prometheus = which("prometheus").expect("prometheus is installed by scripts/test.sh (Debian's package)");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let app = TestApp::spawn_with(Backend::Local, |s| {
        s.metrics.listen = Some("127.0.0.1:0".to_owned());
        s.console.prometheus_url = Some(format!("http://127.0.0.1:{port}"));
    })
    .await;
    let metrics = app.metrics_address.expect("the metrics listener");
    let open = reqwest::Client::new().get(format!("http://{metrics}/metrics")).send().await.expect("scrape");
    assert_eq!(open.status(), 200, "no token on the metrics port");
    app.create_model("tiny").await;
    assert_eq!(app.upload("tiny", fixture_bytes("tiny.onnx"), None).await.status(), 201);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: depot\n    static_configs:\n      - targets: ['{metrics}']\n"),
    )
    .expect("config");
    let mut server = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start prometheus");
    let query =
        "histogram_quantile(0.99, sum by (le) (rate(depot_inference_duration_seconds_bucket{model=\"tiny\"}[30s])))";
    let since = Instant::now();
    let mut answer = Value::Null;
    while since.elapsed() < Duration::from_secs(40) {
        for _ in 0..20 {
            let request = app
                .client
                .post(app.url("/v1/models/tiny/versions/1/predict"))
                .json(&serde_json::from_str::<Value>(TINY).expect("json"));
            assert_eq!(request.send().await.expect("predict").status(), 200);
        }
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        if let Ok(response) = reqwest::Client::new().get(&url).query(&[("query", query)]).send().await {
            answer = response.json().await.unwrap_or(Value::Null);
            let value = answer["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok());
            if value.is_some_and(|v| v.is_finite() && v > 0.0) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let p99: f64 = answer["data"]["result"][0]["value"][1].as_str().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    // The console's charts: the same figures, through Depot, from that Prometheus (its range
    // query may need one more scrape than the instant query above).
    let (mut status, mut traffic) = app.get_json("/v1/models/tiny/traffic").await;
    let since = Instant::now();
    while traffic["requests_per_s"].as_array().is_some_and(Vec::is_empty) && since.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        (status, traffic) = app.get_json("/v1/models/tiny/traffic").await;
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(p99.is_finite() && p99 > 0.0 && p99 < 1.0, "Prometheus computed no p99: {answer}");
    eprintln!("Prometheus: p99 of tiny = {:.3} ms", p99 * 1e3);
    assert_eq!(status, 200, "{traffic}");
    assert_eq!(traffic["source"], "prometheus");
    let last = |series: &str| traffic[series].as_array().and_then(|s| s.last()).map(|p| p["value"].as_f64());
    assert!(last("requests_per_s").flatten().is_some_and(|rate| rate > 0.0), "{traffic}");
    assert_eq!(last("error_ratio"), Some(Some(0.0)), "no prediction failed: {traffic}");
    assert!(last("p99_s").flatten().is_some_and(|p| p > 0.0 && p < 1.0), "{traffic}");
}

#[tokio::test]
async fn traffic_needs_a_prometheus_and_the_reader_role() {
    let app = TestApp::spawn(Backend::Local).await;
    app.create_model("tiny").await;
    let (status, traffic) = app.get_json("/v1/models/tiny/traffic").await;
    assert_eq!(status, 200, "{traffic}");
    assert_eq!(traffic["source"], Value::Null);
    assert_eq!(traffic["requests_per_s"], serde_json::json!([]));
    assert_eq!(app.get_json("/v1/models/missing/traffic").await.0, 404);
    let other = client_with(&app.token("someone", &[("reader", "other")]).await);
    let refused = other.get(app.url("/v1/models/tiny/traffic")).send().await.expect("request");
    assert_error(refused, 403, "forbidden").await;
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| PathBuf::from(dir).join(program)).find(|p| p.is_file())
}
