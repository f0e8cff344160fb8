//! `inspect` streams: a model with a 256 MiB initializer is inspected without holding it.
//!
//! This is its own test binary, with a single test, so that the process's peak memory
//! (`VmHWM`) measures this inspection alone.

use std::io::{self, Cursor, Read};

use depot_domain::ArtifactFormat;
use depot_serialization::{InspectLimits, inspect};

const WEIGHT_BYTES: u64 = 256 << 20;

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn key(field: u64, wire: u64, out: &mut Vec<u8>) {
    varint((field << 3) | wire, out);
}

fn len_field(field: u64, payload: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A `ValueInfoProto` for a float tensor of shape `[N, 4]`.
fn value_info(name: &str) -> Vec<u8> {
    let mut shape = Vec::new();
    len_field(1, &[0x12, 1, b'N'], &mut shape); // dim_param "N"
    len_field(1, &[0x08, 4], &mut shape); // dim_value 4
    let mut tensor = vec![0x08, 1]; // elem_type FLOAT
    len_field(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    len_field(1, &tensor, &mut ty);
    let mut info = Vec::new();
    len_field(1, name.as_bytes(), &mut info);
    len_field(2, &ty, &mut info);
    info
}

/// The model's bytes as a reader: everything but the initializer's zeros is in memory, and the
/// zeros are generated as they are read.
fn big_model() -> impl Read {
    // The initializer, up to the start of its raw_data payload.
    let mut tensor_head = Vec::new();
    key(1, 0, &mut tensor_head); // dims
    varint(WEIGHT_BYTES / 4, &mut tensor_head);
    tensor_head.extend_from_slice(&[0x10, 1]); // data_type FLOAT
    len_field(8, b"W", &mut tensor_head); // name
    key(9, 2, &mut tensor_head); // raw_data
    varint(WEIGHT_BYTES, &mut tensor_head);
    let tensor_len = tensor_head.len() as u64 + WEIGHT_BYTES;

    // The graph after the initializer: the weight is also listed as an input, as before IR 4.
    let mut graph_tail = Vec::new();
    len_field(11, &value_info("x"), &mut graph_tail);
    len_field(11, &value_info("W"), &mut graph_tail);
    len_field(12, &value_info("y"), &mut graph_tail);

    let mut graph_head = Vec::new();
    len_field(2, b"big", &mut graph_head); // name
    key(5, 2, &mut graph_head); // initializer
    varint(tensor_len, &mut graph_head);
    graph_head.extend_from_slice(&tensor_head);
    let graph_len = graph_head.len() as u64 + WEIGHT_BYTES + graph_tail.len() as u64;

    let mut head = vec![0x08, 3]; // ir_version 3
    len_field(2, b"synthetic", &mut head);
    key(7, 2, &mut head);
    varint(graph_len, &mut head);
    head.extend_from_slice(&graph_head);

    let mut tail = graph_tail;
    len_field(8, &[0x10, 9], &mut tail); // opset_import { version: 9 }

    Cursor::new(head).chain(io::repeat(0).take(WEIGHT_BYTES)).chain(Cursor::new(tail))
}

/// Peak resident memory of this process, from Linux's /proc; `None` elsewhere.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Counts the bytes that pass through, to show the whole model was read.
struct Counted<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

#[test]
fn a_large_model_is_inspected_in_bounded_memory() {
    let mut counted = Counted { inner: big_model(), bytes: 0 };
    let inspection = inspect(&mut counted, &InspectLimits::default()).expect("a valid model");

    assert_eq!(inspection.format, ArtifactFormat::Onnx);
    assert!(counted.bytes > WEIGHT_BYTES, "the whole model was read ({} bytes)", counted.bytes);
    let signature = inspection.signature.expect("signature");
    let inputs: Vec<_> = signature.inputs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(inputs, ["x"], "the initializer W is not an input");
    assert_eq!(signature.outputs[0].shape, Some(vec![-1, 4]));
    assert_eq!(signature.outputs[0].dim_names, vec![Some("N".to_owned()), None]);
    assert_eq!(inspection.onnx.expect("info").graph_name.as_deref(), Some("big"));

    if let Some(peak) = peak_rss_bytes() {
        assert!(peak < 64 << 20, "peak memory {} MiB while inspecting a {} MiB model", peak >> 20, WEIGHT_BYTES >> 20);
    }
}
