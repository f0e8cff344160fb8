//! Decoding the MLP's prediction bodies (one input `x`, 784 FP32 values) on both JSON APIs, with
//! the signature read from `tests/fixtures/mlp.onnx` by the crate's own `inspect`.
//!
//! Run with `cargo bench --workspace --bench decode`; figures go in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use depot_domain::Signature;
use depot_serialization::tensors::{decode_oip_request, decode_simple_inputs};
use depot_serialization::{InspectLimits, inspect};

/// The simple API's body: `{"inputs": {"x": [[784 numbers]]}}`.
const SIMPLE: &[u8] = include_bytes!("../../../scripts/bench/mlp.v1.json");
/// The OIP JSON body: `{"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP32", "data": [..]}]}`.
const OIP: &[u8] = include_bytes!("../../../scripts/bench/mlp.v2.json");
/// The same request with the tensor in Triton's binary extension, for comparison.
const OIP_BINARY: &[u8] = include_bytes!("../../../scripts/bench/mlp.v2bin");
const OIP_BINARY_HEADER_LENGTH: &str = include_str!("../../../scripts/bench/mlp.v2bin.hlen");
const MODEL: &[u8] = include_bytes!("../../../tests/fixtures/mlp.onnx");

fn signature() -> Signature {
    let inspection = inspect(MODEL, &InspectLimits::default()).unwrap_or_else(|e| panic!("mlp.onnx: {e}"));
    inspection.signature.unwrap_or_else(|| panic!("mlp.onnx has no signature"))
}

fn decode(c: &mut Criterion) {
    let signature = signature();
    let header_length: usize =
        OIP_BINARY_HEADER_LENGTH.trim().parse().unwrap_or_else(|e| panic!("mlp.v2bin.hlen: {e}"));
    // Each body must decode, or the figures measure an error path.
    let count =
        |inputs: &depot_domain::ValidatedInputs| inputs.as_slice().iter().map(|i| i.tensor.len()).sum::<usize>();
    let simple = decode_simple_inputs(SIMPLE, &signature).unwrap_or_else(|e| panic!("mlp.v1.json: {e}"));
    let oip = decode_oip_request(OIP, None, &signature).unwrap_or_else(|e| panic!("mlp.v2.json: {e}"));
    let binary =
        decode_oip_request(OIP_BINARY, Some(header_length), &signature).unwrap_or_else(|e| panic!("mlp.v2bin: {e}"));
    assert_eq!((count(&simple), count(&oip.inputs), count(&binary.inputs)), (784, 784, 784));
    assert_eq!(oip.inputs, binary.inputs, "the JSON and binary bodies hold the same values");

    let mut group = c.benchmark_group("decode_mlp_784_fp32");
    group.throughput(Throughput::Bytes(SIMPLE.len() as u64));
    group.bench_function("simple_json", |b| b.iter(|| decode_simple_inputs(black_box(SIMPLE), &signature)));
    group.throughput(Throughput::Bytes(OIP.len() as u64));
    group.bench_function("oip_json", |b| b.iter(|| decode_oip_request(black_box(OIP), None, &signature)));
    group.throughput(Throughput::Bytes(OIP_BINARY.len() as u64));
    group.bench_function("oip_binary", |b| {
        b.iter(|| decode_oip_request(black_box(OIP_BINARY), Some(header_length), &signature))
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
