//! A closed-loop load generator for the Open Inference Protocol over gRPC, the counterpart of
//! `wrk` for `scripts/bench-serving.sh` (no well-kept gRPC load generator installs here: ghz is
//! Go, and a Python client would measure itself).
//!
//!     grpc_load ADDR MODEL VERSION CONCURRENCY SECONDS [THREADS]
//!
//! Opens CONCURRENCY HTTP/2 connections (one per simulated client, as wrk opens one TCP
//! connection per client), each sending `ModelInfer` for MODEL/VERSION ("" for the deployment)
//! back to back for SECONDS, with raw input tensors as tritonclient sends them: every input of
//! the model's metadata, dynamic dimensions 1, filled with small ordinary values. `DEPOT_TOKEN` goes
//! in the `authorization` metadata. Runs on THREADS threads (default 1 at concurrency 1, else 2,
//! as the benchmark runs wrk), each with its own single-threaded tokio runtime and its share of
//! the connections, as wrk's threads each own theirs: a call's tasks (the caller, the channel's
//! buffer, the connection) then wake each other without waking another thread. On one
//! multi-threaded runtime they did, and the generator cost 42-78 µs of CPU a call against wrk's
//! ~36 µs, on the cores the server needs. Prints, as `scripts/bench/request.lua` does:
//!
//!     RESULT requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=.. max_us=.. non2xx=E connect=0 read=0 write=0 timeout=0
//!
//! where `non2xx` counts calls that did not end OK. Latencies are each call's own (closed loop:
//! no correction for coordinated omission, unlike wrk's).
//!
//!     grpc_load ADDR MODEL VERSION --body FILE
//!
//! makes the same checked call, then writes the request as it goes on the wire (gRPC's 5-byte
//! length prefix, then the protobuf message) to FILE, for a generic HTTP/2 load generator
//! (`h2load -d FILE`) to send.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use depot_grpc::proto::grpc_inference_service_client::GrpcInferenceServiceClient;
use depot_serialization::inference::model_infer_request::InferInputTensor;
use depot_serialization::inference::{ModelInferRequest, ModelMetadataRequest};
use prost::bytes::Bytes;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;

fn usage() -> ! {
    eprintln!("usage: grpc_load ADDR MODEL VERSION CONCURRENCY SECONDS [THREADS]");
    eprintln!("       grpc_load ADDR MODEL VERSION --body FILE");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        usage();
    }
    if args[3] == "--body" {
        if let Err(error) = write_body(&args[0], &args[1], &args[2], &args[4]) {
            eprintln!("grpc_load: {error}");
            std::process::exit(1);
        }
        return;
    }
    let concurrency: usize = args[3].parse().unwrap_or_else(|_| usage());
    let seconds: f64 = args[4].parse().unwrap_or_else(|_| usage());
    let threads: usize =
        args.get(5).map_or(if concurrency > 1 { 2 } else { 1 }, |t| t.parse().unwrap_or_else(|_| usage()));
    if let Err(error) = run(&args[0], &args[1], &args[2], concurrency, Duration::from_secs_f64(seconds), threads.max(1))
    {
        eprintln!("grpc_load: {error}");
        std::process::exit(1);
    }
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn with_token<T>(message: T) -> tonic::Request<T> {
    // Read once: a call costs the generator no more than wrk's header does.
    static TOKEN: OnceLock<Option<MetadataValue<Ascii>>> = OnceLock::new();
    let token = TOKEN.get_or_init(|| {
        std::env::var("DEPOT_TOKEN")
            .ok()
            .filter(|token| !token.is_empty())
            .and_then(|token| format!("Bearer {token}").parse().ok())
    });
    let mut request = tonic::Request::new(message);
    if let Some(value) = token {
        request.metadata_mut().insert("authorization", value.clone());
    }
    request
}

async fn connect(addr: &str) -> Result<GrpcInferenceServiceClient<Channel>, Error> {
    let channel = Channel::from_shared(format!("http://{addr}"))?.tcp_nodelay(true).connect().await?;
    Ok(GrpcInferenceServiceClient::new(channel).max_decoding_message_size(usize::MAX))
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn run(
    addr: &str,
    model: &str,
    version: &str,
    concurrency: usize,
    duration: Duration,
    threads: usize,
) -> Result<(), Error> {
    let request = current_thread().block_on(request_for(addr, model, version))?;
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..threads)
        .map(|thread| {
            // Connections 0, T, 2T, ... go to thread 0, and so on.
            let clients = (thread..concurrency).step_by(threads).count();
            let (addr, request) = (addr.to_owned(), request.clone());
            std::thread::spawn(move || current_thread().block_on(load(&addr, request, clients, deadline)))
        })
        .collect();
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for worker in workers {
        let (l, f) = worker.join().map_err(|_| "a load thread panicked")??;
        latencies.extend(l);
        failed += f;
    }
    let elapsed = started.elapsed();
    report(latencies, failed, elapsed);
    Ok(())
}

/// Writes the model's checked request to `path` as one gRPC message: an uncompressed flag, the
/// message's length (big-endian `u32`), the message.
fn write_body(addr: &str, model: &str, version: &str, path: &str) -> Result<(), Error> {
    use prost::Message as _;
    let message = current_thread().block_on(request_for(addr, model, version))?.encode_to_vec();
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&u32::try_from(message.len())?.to_be_bytes());
    framed.extend_from_slice(&message);
    std::fs::write(path, framed)?;
    Ok(())
}

/// The model's `ModelInfer` request, after one checked call.
async fn request_for(addr: &str, model: &str, version: &str) -> Result<ModelInferRequest, Error> {
    let mut client = connect(addr).await?;
    let version = (!version.is_empty()).then(|| version.to_owned());
    let metadata = client
        .model_metadata(with_token(ModelMetadataRequest { name: model.to_owned(), version: version.clone() }))
        .await?
        .into_inner();
    let mut request = ModelInferRequest { model_name: model.to_owned(), model_version: version, ..Default::default() };
    for input in &metadata.inputs {
        let shape: Vec<i64> = input.shape.iter().map(|&d| if d < 0 { 1 } else { d }).collect();
        let count = shape.iter().product::<i64>().max(0) as usize;
        // Small, ordinary values (0, 1, 2, 3, ...; 0.25 steps for floats): never denormal floats,
        // which would slow the model down and measure the CPU's slow path instead of Depot.
        let raw: Vec<u8> = match input.datatype.as_str() {
            "BOOL" => (0..count).map(|i| (i % 2) as u8).collect(),
            "INT8" | "UINT8" => (0..count).map(|i| (i % 4) as u8).collect(),
            "INT16" | "UINT16" => (0..count).flat_map(|i| ((i % 4) as u16).to_le_bytes()).collect(),
            "INT32" | "UINT32" => (0..count).flat_map(|i| ((i % 4) as u32).to_le_bytes()).collect(),
            "INT64" | "UINT64" => (0..count).flat_map(|i| ((i % 4) as u64).to_le_bytes()).collect(),
            "FP32" => (0..count).flat_map(|i| ((i % 8) as f32 * 0.25).to_le_bytes()).collect(),
            "FP64" => (0..count).flat_map(|i| ((i % 8) as f64 * 0.25).to_le_bytes()).collect(),
            other => {
                return Err(
                    format!("input {} has datatype {other}, which this generator does not fill", input.name).into()
                );
            }
        };
        request.inputs.push(InferInputTensor {
            name: input.name.clone(),
            datatype: input.datatype.clone(),
            shape,
            ..Default::default()
        });
        request.raw_input_contents.push(Bytes::from(raw));
    }
    // Warm-up: one checked call.
    client.model_infer(with_token(request.clone())).await?;
    Ok(request)
}

/// `clients` connections calling back to back until `deadline`: their latencies and failures.
async fn load(
    addr: &str,
    request: ModelInferRequest,
    clients: usize,
    deadline: Instant,
) -> Result<(Vec<u64>, u64), Error> {
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut client = connect(addr).await?;
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut failed) = (Vec::with_capacity(1 << 16), 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let answer = client.model_infer(with_token(request.clone())).await;
                latencies.push(sent.elapsed().as_micros() as u64);
                failed += u64::from(answer.is_err());
            }
            (latencies, failed)
        }));
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for task in tasks {
        let (l, f) = task.await?;
        latencies.extend(l);
        failed += f;
    }
    Ok((latencies, failed))
}

fn report(mut latencies: Vec<u64>, failed: u64, elapsed: Duration) {
    latencies.sort_unstable();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    println!(
        "RESULT requests={} duration_us={} rps={:.1} p50_us={} p90_us={} p99_us={} max_us={} non2xx={failed} connect=0 read=0 write=0 timeout=0",
        latencies.len(),
        elapsed.as_micros(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50),
        at(0.90),
        at(0.99),
        latencies.last().copied().unwrap_or(0),
    );
}
