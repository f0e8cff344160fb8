//! The request log of a real `depot serve`: one JSON line per request with method, route
//! template, status, duration, request id and the model and version, and an error logged once.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

use common::{database_url, start, upload_iris};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_gets_one_log_line_and_each_error_is_logged_once() {
    let storage = tempfile::tempdir().expect("tempdir");
    let env = [("RUST_LOG", "info"), ("DEPOT_LOG_FORMAT", "json")];
    let mut server = start(&database_url(), storage.path(), &env, true);
    let (lines, received) = mpsc::channel::<Value>();
    let stderr = server.stderr().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                let _ = lines.send(value);
            }
        }
    });
    let client = server.admin_client();
    let base = &server.base;

    upload_iris(&client, base).await;

    let predicted = client
        .post(format!("{base}/v1/models/iris/versions/1/predict"))
        .header("x-request-id", "trace-me-42")
        .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .json(&json!({"inputs": {"X": [[5.9, 3.0, 5.1, 1.8]]}}))
        .send()
        .await
        .expect("predict");
    assert_eq!(predicted.status(), 200);
    assert_eq!(predicted.headers()["x-request-id"], "trace-me-42", "the client's request id is sent back");
    // The caller's trace is continued: same trace id, this request's own span id.
    let traceparent = predicted.headers()["traceparent"].to_str().expect("ascii").to_owned();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7") && traceparent.ends_with("-01"), "{traceparent}");

    let missing = client.get(format!("{base}/v1/models/iris/versions/7")).send().await.expect("get");
    assert_eq!(missing.status(), 404);
    let generated = missing.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    // Without a traceparent, a trace is started.
    let started_trace = missing.headers()["traceparent"].to_str().expect("ascii")[3..35].to_owned();
    assert_ne!(started_trace, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(generated.len(), 36, "a new UUID when the client sent none: {generated}");

    // Everything the server logged until the last request's line shows up.
    let mut logged = Vec::new();
    while let Ok(line) = received.recv_timeout(Duration::from_secs(5)) {
        let last = line["request_id"] == generated.as_str() && line["http.status"] == 404;
        logged.push(line);
        if last {
            break;
        }
    }
    let of = |id: &str| {
        logged.iter().filter(|l| l["request_id"] == id && l.get("http.status").is_some()).collect::<Vec<_>>()
    };

    let prediction = of("trace-me-42");
    assert_eq!(prediction.len(), 1, "one line for the prediction: {logged:#?}");
    let line = prediction[0];
    assert_eq!(line["http.method"], "POST");
    assert_eq!(line["http.route"], "/v1/models/{name}/versions/{version}/predict", "the template, not the path");
    assert_eq!(line["http.status"], 200);
    assert_eq!((line["model.name"].as_str(), line["model.version"].as_str()), (Some("iris"), Some("1")));
    assert!(line["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{line}");
    assert_eq!(line["auth.principal"], "admin", "who made the request: the token's principal");
    assert_eq!(line["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736", "the trace in the log line");

    let refused = of(&generated);
    assert_eq!(refused.len(), 1, "one line for the 404: {logged:#?}");
    assert_eq!(refused[0]["error.code"], "version_not_found");
    assert_eq!(refused[0]["trace_id"], started_trace.as_str());
    assert_eq!(refused[0]["http.route"], "/v1/models/{name}/versions/{version}");
    let mentions = logged.iter().filter(|l| l.to_string().contains("version_not_found")).count();
    assert_eq!(mentions, 1, "the error is logged once: {logged:#?}");
}
