//! Trace export: a real `depot serve` with the standard OTLP variables sends a prediction's
//! spans (request, resolve, decode, queue, infer, encode) to a collector, continuing the
//! caller's trace. The collector here is a loopback HTTP endpoint that records what it is sent
//! (OTLP/HTTP with JSON bodies); no OpenTelemetry collector is installable on these machines.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{database_url, start, upload_iris};
use serde_json::{Value, json};

/// What the collector was sent: each request's path and JSON body.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

fn collector() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let received: Received = Arc::default();
    let sink = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let sink = Arc::clone(&sink);
            std::thread::spawn(move || serve_connection(stream, &sink));
        }
    });
    (address, received)
}

/// Answers HTTP/1.1 requests on one connection with 200 `{}`, recording each.
fn serve_connection(stream: TcpStream, sink: &Received) {
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().expect("content length");
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("body");
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        sink.lock().expect("lock").push((path, value));
        let response = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The exported spans by name, of the trace `trace_id`.
fn spans_of(received: &Received, trace_id: &str) -> HashMap<String, Value> {
    let mut spans = HashMap::new();
    for (_, body) in received.lock().expect("lock").iter() {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(json!("depot")), "the service is named");
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    if span["traceId"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(trace_id)) {
                        spans.insert(span["name"].as_str().expect("name").to_owned(), span.clone());
                    }
                }
            }
        }
    }
    spans
}

/// The spans of a prediction.
const STEPS: [&str; 6] = ["request", "resolve", "decode", "queue", "infer", "encode"];

/// The spans of `trace_id` once every step has arrived (or 15 s have passed: then the missing
/// one fails the test).
async fn wait_for_spans(received: &Received, trace_id: &str) -> HashMap<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let spans = loop {
        let spans = spans_of(received, trace_id);
        if STEPS.iter().all(|s| spans.contains_key(*s)) || Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let names: Vec<&String> = spans.keys().collect();
    for step in STEPS {
        assert!(spans.contains_key(step), "span {step} exported: {names:?}");
    }
    spans
}

fn id(span: &Value, field: &str) -> String {
    span[field].as_str().unwrap_or_default().to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_exports_its_spans_in_the_callers_trace() {
    let (endpoint, received) = collector();
    let storage = tempfile::tempdir().expect("tempdir");
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("RUST_LOG", "warn"),
    ];
    let server = start(&database_url(), storage.path(), &env, false);
    let client = server.admin_client();
    let base = &server.base;
    upload_iris(&client, base).await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let predicted = client
        .post(format!("{base}/v1/models/iris/versions/1/predict"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&json!({"inputs": {"X": [[5.9, 3.0, 5.1, 1.8]]}}))
        .send()
        .await
        .expect("predict");
    assert_eq!(predicted.status(), 200);
    let traceparent = predicted.headers()["traceparent"].to_str().expect("ascii").to_owned();

    let steps = STEPS;
    let spans = wait_for_spans(&received, trace_id).await;
    let request = &spans["request"];
    assert_eq!(id(request, "parentSpanId"), "00f067aa0ba902b7", "the request continues the caller's span");
    assert_eq!(
        traceparent,
        format!("00-{trace_id}-{}-01", id(request, "spanId")),
        "the response names the exported span"
    );
    for step in &steps[1..] {
        assert_eq!(id(&spans[*step], "parentSpanId"), id(request, "spanId"), "{step} is a step of the request");
    }
    let time = |span: &Value, field: &str| span[field].as_str().and_then(|t| t.parse::<u64>().ok()).expect(field);
    for step in &steps[1..] {
        let span = &spans[*step];
        assert!(time(span, "startTimeUnixNano") >= time(request, "startTimeUnixNano"), "{step} starts in the request");
        assert!(time(span, "endTimeUnixNano") <= time(request, "endTimeUnixNano"), "{step} ends in the request");
    }
    let order = |a: &str, b: &str| time(&spans[a], "endTimeUnixNano") <= time(&spans[b], "startTimeUnixNano");
    assert!(
        order("resolve", "decode") && order("decode", "queue") && order("queue", "infer") && order("infer", "encode")
    );
    assert!(received.lock().expect("lock").iter().all(|(path, _)| path == "/v1/traces"), "sent to the traces path");

    // A batched version: the request's queue span ends when its batch starts, then its infer
    // span covers the batch's run; the same through the Open Inference Protocol.
    let batching = json!({"batching": {"max_batch_size": 8, "max_queue_delay_ms": 2}});
    let patched =
        client.patch(format!("{base}/v1/models/iris/versions/1")).json(&batching).send().await.expect("patch");
    assert_eq!(patched.status(), 200);
    let batched_trace = "0af7651916cd43dd8448eb211c80319c";
    let body = json!({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.9, 3.0, 5.1, 1.8]}]});
    let inferred = client
        .post(format!("{base}/v2/models/iris/versions/1/infer"))
        .header("traceparent", format!("00-{batched_trace}-b7ad6b7169203331-01"))
        .json(&body)
        .send()
        .await
        .expect("infer");
    assert_eq!(inferred.status(), 200);
    let spans = wait_for_spans(&received, batched_trace).await;
    let attribute = |span: &Value, key: &str| {
        span["attributes"].as_array().into_iter().flatten().find(|a| a["key"] == key).map(|a| a["value"].clone())
    };
    assert_eq!(attribute(&spans["queue"], "batched"), Some(json!({"boolValue": true})), "{:?}", spans["queue"]);
    assert_eq!(id(&spans["infer"], "parentSpanId"), id(&spans["request"], "spanId"), "infer is a step of the request");
    assert!(time(&spans["queue"], "endTimeUnixNano") <= time(&spans["infer"], "startTimeUnixNano") + 1_000_000);
}
