//! Tests of [`inspect`] over the fixtures in `tests/fixtures/` and over synthetic and hostile input.

use std::io::{self, Read};

use depot_domain::{DataType, TensorKind, TensorSpec};

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e} (run scripts/make-fixtures.py)"))
}

fn inspect_bytes(bytes: &[u8]) -> Result<Inspection, InspectError> {
    inspect(bytes, &InspectLimits::default())
}

fn inspect_fixture(name: &str) -> Inspection {
    inspect_bytes(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A tensor spec as the ONNX fixtures declare them: `dims` are (value, symbol) pairs.
fn spec(name: &str, datatype: DataType, onnx_type: &str, dims: &[(i64, Option<&str>)]) -> TensorSpec {
    TensorSpec {
        name: name.to_owned(),
        kind: TensorKind::Tensor,
        datatype: Some(datatype),
        shape: Some(dims.iter().map(|&(value, _)| value).collect()),
        dim_names: dims.iter().map(|&(_, symbol)| symbol.map(str::to_owned)).collect(),
        type_name: format!("tensor({onnx_type})"),
    }
}

const DYN: (i64, Option<&str>) = (-1, None);

fn sym(symbol: &str) -> (i64, Option<&str>) {
    (-1, Some(symbol))
}

fn fixed(value: i64) -> (i64, Option<&'static str>) {
    (value, None)
}

fn opsets(list: &[(&str, i64)]) -> Vec<Opset> {
    list.iter().map(|&(domain, version)| Opset { domain: domain.to_owned(), version }).collect()
}

fn corrupt_reason(result: Result<Inspection, InspectError>) -> String {
    match result {
        Err(InspectError::CorruptOnnx { reason }) => reason,
        other => panic!("expected CorruptOnnx, got {other:?}"),
    }
}

fn unrecognised_detail(result: Result<Inspection, InspectError>) -> String {
    match result {
        Err(InspectError::Unrecognised { detail }) => detail,
        other => panic!("expected Unrecognised, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The fixtures

#[test]
fn tiny_onnx() {
    let inspection = inspect_fixture("tiny.onnx");
    assert_eq!(inspection.format, ArtifactFormat::Onnx);
    assert_eq!(
        inspection.onnx,
        Some(OnnxInfo {
            ir_version: 8,
            opsets: opsets(&[("", 17)]),
            producer_name: Some("depot-make-fixtures".to_owned()),
            producer_version: Some("1".to_owned()),
            graph_name: Some("tiny".to_owned()),
        })
    );
    let signature = inspection.signature.clone().expect("signature");
    assert_eq!(signature.inputs, vec![spec("x", DataType::Fp32, "float", &[sym("batch"), fixed(4)])]);
    assert_eq!(signature.outputs, vec![spec("y", DataType::Fp32, "float", &[sym("batch"), fixed(3)])]);
    assert!(inspection.servable());
    assert_eq!(inspection.unservable_reason(), None);
}

#[test]
fn mlp_onnx() {
    let inspection = inspect_fixture("mlp.onnx");
    let signature = inspection.signature.clone().expect("signature");
    assert_eq!(signature.inputs, vec![spec("x", DataType::Fp32, "float", &[sym("batch"), fixed(784)])]);
    assert_eq!(signature.outputs, vec![spec("logits", DataType::Fp32, "float", &[sym("batch"), fixed(10)])]);
    assert!(inspection.servable());
}

#[test]
fn multi_io_onnx() {
    let inspection = inspect_fixture("multi_io.onnx");
    let signature = inspection.signature.clone().expect("signature");
    assert_eq!(
        signature.inputs,
        vec![
            spec("counts", DataType::Int64, "int64", &[sym("n"), fixed(3)]),
            spec("weights", DataType::Fp64, "double", &[sym("n"), fixed(3)]),
            spec("mask", DataType::Bool, "bool", &[DYN, fixed(2)]),
        ]
    );
    assert_eq!(
        signature.outputs,
        vec![
            spec("total", DataType::Fp64, "double", &[sym("n"), fixed(3)]),
            spec("inverted", DataType::Bool, "bool", &[DYN, fixed(2)]),
        ]
    );
    assert!(inspection.servable());
}

#[test]
fn legacy_ir3_drops_initializers_listed_as_inputs() {
    let inspection = inspect_fixture("legacy_ir3.onnx");
    let info = inspection.onnx.clone().expect("onnx info");
    assert_eq!((info.ir_version, info.opsets), (3, opsets(&[("", 8)])));
    let signature = inspection.signature.clone().expect("signature");
    assert_eq!(signature.inputs, vec![spec("x", DataType::Fp32, "float", &[sym("N"), fixed(2)])]);
    assert_eq!(signature.outputs, vec![spec("y", DataType::Fp32, "float", &[sym("N"), fixed(3)])]);
    assert!(inspection.servable());
}

#[test]
fn sklearn_models() {
    for name in ["sklearn_logreg.onnx", "sklearn_forest.onnx"] {
        let inspection = inspect_fixture(name);
        let info = inspection.onnx.clone().expect("onnx info");
        assert_eq!(info.producer_name.as_deref(), Some("skl2onnx"), "{name}");
        // skl2onnx lists the default domain twice; exact repeats are dropped.
        assert_eq!(info.opsets, opsets(&[("", 17), ("ai.onnx.ml", 1)]), "{name}");
        let signature = inspection.signature.clone().expect("signature");
        assert_eq!(signature.inputs, vec![spec("X", DataType::Fp32, "float", &[DYN, fixed(4)])], "{name}");
        assert_eq!(
            signature.outputs,
            vec![
                spec("label", DataType::Int64, "int64", &[DYN]),
                spec("probabilities", DataType::Fp32, "float", &[DYN, fixed(3)]),
            ],
            "{name}"
        );
        assert!(inspection.servable(), "{name}");
    }
}

#[test]
fn zipmap_output_is_not_servable() {
    let inspection = inspect_fixture("zipmap.onnx");
    assert_eq!(inspection.format, ArtifactFormat::Onnx);
    let signature = inspection.signature.clone().expect("signature");
    assert_eq!(signature.outputs[0], spec("output_label", DataType::Int64, "int64", &[DYN]));
    let probabilities = &signature.outputs[1];
    assert_eq!(probabilities.name, "output_probability");
    assert_eq!(probabilities.kind, TensorKind::Sequence);
    assert_eq!(probabilities.type_name, "seq(map(int64,tensor(float)))");
    assert_eq!((probabilities.datatype, probabilities.shape.as_ref()), (None, None));
    assert!(!inspection.servable());
    let reason = inspection.unservable_reason().expect("a reason");
    assert!(reason.contains("output_probability") && reason.contains("seq(map(int64,tensor(float)))"), "{reason}");
}

#[test]
fn corrupt_onnx_fixture() {
    let reason = corrupt_reason(inspect_bytes(&fixture("corrupt.onnx")));
    assert!(reason.contains("ends at byte 142"), "{reason}");
}

#[test]
fn pickles_and_joblib_files() {
    let pickle = inspect_fixture("model.pkl");
    assert_eq!(pickle, Inspection { format: ArtifactFormat::Pickle, onnx: None, signature: None });
    assert_eq!(
        pickle.unservable_reason().as_deref(),
        Some("pickle artifacts are stored but never deserialized or served")
    );
    for name in [
        "model.joblib",
        "model_compressed.joblib",
        "model_gzip.joblib",
        "model_bz2.joblib",
        "model_xz.joblib",
        "model_lzma.joblib",
    ] {
        let inspection = inspect_fixture(name);
        assert_eq!(inspection.format, ArtifactFormat::Joblib, "{name}");
        assert!(!inspection.servable(), "{name}");
        assert!(inspection.unservable_reason().is_some_and(|r| r.starts_with("joblib artifacts")), "{name}");
    }
}

#[test]
fn saved_model_archives() {
    for name in ["saved_model.zip", "saved_model_streamed.zip", "saved_model.tar.gz"] {
        let inspection = inspect_fixture(name);
        assert_eq!(
            inspection,
            Inspection { format: ArtifactFormat::SavedModel, onnx: None, signature: None },
            "{name}"
        );
        assert!(inspection.unservable_reason().is_some_and(|r| r.contains("SavedModel")), "{name}");
    }
    // The same tar, uncompressed.
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(fixture("saved_model.tar.gz").as_slice()).read_to_end(&mut tar).expect("gunzip");
    assert_eq!(inspect_bytes(&tar).expect("plain tar").format, ArtifactFormat::SavedModel);
}

/// Every fixture gives the same answer when read in dribs and drabs, with interruptions.
#[test]
fn fixtures_read_through_a_stuttering_reader() {
    /// Yields 1 to 7 bytes per read, and `Interrupted` every fifth call.
    struct Stutter<'a> {
        data: &'a [u8],
        calls: usize,
    }
    impl Read for Stutter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(5) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1 + self.calls % 7);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }
    for name in [
        "tiny.onnx",
        "multi_io.onnx",
        "legacy_ir3.onnx",
        "sklearn_forest.onnx",
        "zipmap.onnx",
        "model.joblib",
        "model_xz.joblib",
        "saved_model_streamed.zip",
        "saved_model.tar.gz",
    ] {
        let bytes = fixture(name);
        let whole = inspect_bytes(&bytes).expect(name);
        let stuttered = inspect(Stutter { data: &bytes, calls: 0 }, &InspectLimits::default()).expect(name);
        assert_eq!(whole, stuttered, "{name}");
    }
}

#[test]
fn onnx_info_is_stored_as_json() {
    let info = inspect_fixture("sklearn_logreg.onnx").onnx.expect("onnx info");
    let json = serde_json::to_value(&info).expect("serialize");
    assert_eq!(json["ir_version"], 8);
    assert_eq!(json["opsets"][1], serde_json::json!({"domain": "ai.onnx.ml", "version": 1}));
    assert_eq!(json["graph_name"], "ONNX(LogisticRegression)");
    let back: OnnxInfo = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, info);
}

// ---------------------------------------------------------------------------------------------
// Recognition

#[test]
fn text_and_other_binaries_are_unrecognised() {
    assert_eq!(unrecognised_detail(inspect_bytes(b"")), "the upload is empty");
    let detail = unrecognised_detail(inspect_bytes(b"<!DOCTYPE html><html></html>"));
    assert!(detail.contains("3c 21 44 4f"), "{detail}");
    for bytes in [
        &b"{\"weights\": [1, 2, 3]}"[..],
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        b"\x7fELF\x02\x01\x01\0",
        b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    ] {
        unrecognised_detail(inspect_bytes(bytes));
    }
    let err = inspect_bytes(b"hello").expect_err("text");
    assert!(err.to_string().contains(ArtifactFormat::accepted_description()), "{err}");
}

#[test]
fn compressed_data_that_is_neither_pickle_nor_tar_is_unrecognised() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"just some text, compressed").expect("compress");
    let detail = unrecognised_detail(inspect_bytes(&gz.finish().expect("finish")));
    assert!(detail.starts_with("gzip data holding neither"), "{detail}");

    let detail = unrecognised_detail(inspect_bytes(&[0x78, 0x9c, 0xff, 0xff, 0xff]));
    assert!(detail.starts_with("zlib data that does not decompress"), "{detail}");

    // A tar.gz without saved_model.pb.
    let mut tar = Vec::new();
    archive::tests::tar_entry(&mut tar, "model/saved_model.pbtxt", b"text", b'0');
    archive::tests::tar_entry(&mut tar, "model/variables/variables.index", b"index", b'0');
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).expect("compress");
    let detail = unrecognised_detail(inspect_bytes(&gz.finish().expect("finish")));
    assert_eq!(detail, "a tar archive whose 2 entries include no saved_model.pb");
}

#[test]
fn a_bzip2_pickle_with_a_large_first_block_is_joblib() {
    use std::io::Write;
    // bzip2 yields nothing until its first block is decoded: here ~300 kB of noise, which
    // compresses to more than the 64 KiB looked at for other formats.
    let mut rng = Rng(42);
    let mut pickle = vec![0x80, 0x04, 0x95];
    pickle.extend(rng.bytes(300_000));
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    bz.write_all(&pickle).expect("compress");
    let compressed = bz.finish().expect("finish");
    assert!(compressed.len() > 200_000);
    assert_eq!(inspect_bytes(&compressed).expect("joblib").format, ArtifactFormat::Joblib);
}

#[test]
fn a_pickle_is_recognised_without_reading_it_all() {
    // A pickle header followed by endless bytes: inspection stops after its first look.
    let endless = io::Cursor::new(vec![0x80, 0x04, 0x95]).chain(io::repeat(b'x'));
    let inspection = inspect(endless, &InspectLimits::default()).expect("pickle");
    assert_eq!(inspection.format, ArtifactFormat::Pickle);
}

// ---------------------------------------------------------------------------------------------
// Synthetic ONNX, to reach the paths no exporter writes

fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn varint_field(field: u32, value: u64, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3, out);
    varint(value, out);
}

fn len_field(field: u32, payload: &[u8], out: &mut Vec<u8>) {
    varint((u64::from(field) << 3) | 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// A `ValueInfoProto` of a float tensor with the given dims.
fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for &dim in dims {
        let mut d = Vec::new();
        varint_field(1, dim as u64, &mut d);
        len_field(1, &d, &mut shape);
    }
    let mut tensor = Vec::new();
    varint_field(1, 1, &mut tensor);
    len_field(2, &shape, &mut tensor);
    let mut ty = Vec::new();
    len_field(1, &tensor, &mut ty);
    let mut info = Vec::new();
    len_field(1, name.as_bytes(), &mut info);
    len_field(2, &ty, &mut info);
    info
}

fn tensor_proto(name: &str, raw: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    varint_field(1, raw.len() as u64 / 4, &mut t);
    varint_field(2, 1, &mut t);
    len_field(8, name.as_bytes(), &mut t);
    len_field(9, raw, &mut t);
    t
}

/// A model: ir_version, the graph built from `graph_fields`, opset 17.
fn model(ir_version: u64, graph: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    varint_field(1, ir_version, &mut m);
    len_field(7, graph, &mut m);
    let mut opset = Vec::new();
    len_field(1, b"", &mut opset);
    varint_field(2, 17, &mut opset);
    len_field(8, &opset, &mut m);
    m
}

fn simple_graph() -> Vec<u8> {
    let mut g = Vec::new();
    len_field(11, &value_info("x", &[2]), &mut g);
    len_field(12, &value_info("y", &[2]), &mut g);
    g
}

#[test]
fn synthetic_model_round_trips() {
    let inspection = inspect_bytes(&model(9, &simple_graph())).expect("valid");
    let signature = inspection.signature.expect("signature");
    assert_eq!(signature.inputs, vec![spec("x", DataType::Fp32, "float", &[fixed(2)])]);
    let info = inspection.onnx.expect("info");
    assert_eq!((info.producer_name, info.graph_name), (None, None));
}

#[test]
fn sparse_and_dense_initializers_are_not_inputs() {
    let mut g = Vec::new();
    len_field(5, &tensor_proto("dense", &[0; 8]), &mut g);
    let mut sparse = Vec::new();
    len_field(1, &tensor_proto("sparse", &[0; 4]), &mut sparse);
    len_field(2, &tensor_proto("sparse_indices", &[0; 4]), &mut sparse);
    len_field(15, &sparse, &mut g);
    for name in ["x", "dense", "sparse"] {
        len_field(11, &value_info(name, &[1]), &mut g);
    }
    len_field(12, &value_info("y", &[1]), &mut g);
    let signature = inspect_bytes(&model(9, &g)).expect("valid").signature.expect("signature");
    let names: Vec<_> = signature.inputs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["x"]);
}

#[test]
fn structural_errors_are_corrupt_onnx() {
    let reason = corrupt_reason(inspect_bytes(&model(0, &simple_graph())));
    assert_eq!(reason, "ir_version 0 is not a valid ONNX IR version");

    let mut no_graph = Vec::new();
    varint_field(1, 8, &mut no_graph);
    assert!(corrupt_reason(inspect_bytes(&no_graph)).contains("no graph"));

    let mut no_opset = Vec::new();
    varint_field(1, 8, &mut no_opset);
    len_field(7, &simple_graph(), &mut no_opset);
    assert!(corrupt_reason(inspect_bytes(&no_opset)).contains("imports no operator set"));

    // An input whose payload is not a ValueInfoProto (wire type 7).
    let mut g = Vec::new();
    len_field(11, &[0x0f], &mut g);
    let reason = corrupt_reason(inspect_bytes(&model(8, &g)));
    assert!(reason.starts_with("graph.input[0] at byte 4 is not a valid ValueInfoProto: "), "{reason}");

    // The graph declared with the wrong wire type.
    let mut wrong = Vec::new();
    varint_field(1, 8, &mut wrong);
    varint_field(7, 1, &mut wrong);
    let reason = corrupt_reason(inspect_bytes(&wrong));
    assert_eq!(reason, "ModelProto.graph (field 7) at byte 2 is encoded as varint, expected length-delimited");

    // A graph field claiming more bytes than its parent holds.
    let mut g = Vec::new();
    len_field(12, &value_info("y", &[1]), &mut g);
    g[1] += 50;
    assert!(corrupt_reason(inspect_bytes(&model(8, &g))).contains("runs past the end of its enclosing message"));
}

// ---------------------------------------------------------------------------------------------
// Limits

#[test]
fn limits_are_enforced() {
    let tiny = fixture("tiny.onnx");
    let defaults = InspectLimits::default();
    let check = |bytes: &[u8], limits: InspectLimits, what: &str, limit: u64| match inspect(bytes, &limits) {
        Err(InspectError::LimitExceeded { what: w, limit: l }) => assert_eq!((w, l), (what, limit)),
        other => panic!("expected LimitExceeded {{ {what}, {limit} }}, got {other:?}"),
    };
    check(&tiny, InspectLimits { max_message_bytes: 16, ..defaults }, "bytes of model metadata", 16);
    check(&tiny, InspectLimits { max_values: 1, ..defaults }, "graph inputs and outputs", 1);
    check(&tiny, InspectLimits { max_artifact_bytes: 100, ..defaults }, "artifact bytes", 100);
    check(&fixture("zipmap.onnx"), InspectLimits { max_depth: 2, ..defaults }, "type nesting depth", 2);
    check(
        &fixture("saved_model_streamed.zip"),
        InspectLimits { max_values: 1, ..defaults },
        "archive entries examined",
        1,
    );
    check(&fixture("saved_model.tar.gz"), InspectLimits { max_artifact_bytes: 300, ..defaults }, "artifact bytes", 300);
    // Under the limit exactly is fine.
    let exact = InspectLimits { max_artifact_bytes: tiny.len() as u64, ..defaults };
    assert!(inspect(tiny.as_slice(), &exact).is_ok());

    // Many small pieces count together: initializer names, then inputs.
    let mut g = Vec::new();
    for i in 0..20 {
        len_field(5, &tensor_proto(&format!("weight_number_{i:04}"), &[0; 4]), &mut g);
    }
    g.extend_from_slice(&simple_graph());
    let names = model(8, &g);
    check(&names, InspectLimits { max_message_bytes: 300, ..defaults }, "bytes of model metadata", 300);
    assert!(inspect(names.as_slice(), &defaults).is_ok());
    let mut g = Vec::new();
    for i in 0..40 {
        len_field(11, &value_info(&format!("input_{i}"), &[1, 2]), &mut g);
    }
    g.extend_from_slice(&simple_graph());
    let inputs = model(8, &g);
    check(&inputs, InspectLimits { max_message_bytes: 500, ..defaults }, "bytes of model metadata", 500);
    assert_eq!(inspect(inputs.as_slice(), &defaults).expect("valid").signature.expect("signature").inputs.len(), 41);
}

#[test]
fn a_decompression_bomb_is_stopped_by_the_decompressed_budget() {
    use std::io::Write;
    // A tar whose one entry is a megabyte of zeros, gzipped to a kilobyte or so.
    let mut tar = Vec::new();
    archive::tests::tar_entry(&mut tar, "junk", &vec![0; 1 << 20], b'0');
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).expect("compress");
    let bomb = gz.finish().expect("finish");
    assert!(bomb.len() < 4096);
    let limits = InspectLimits { max_artifact_bytes: 64 * 1024, ..InspectLimits::default() };
    assert!(matches!(
        inspect(bomb.as_slice(), &limits),
        Err(InspectError::LimitExceeded { what: "decompressed bytes", limit: 65536 })
    ));
}

// ---------------------------------------------------------------------------------------------
// Hostile input: errors, never panics

/// xorshift64*: deterministic, dependency-free randomness for the fuzz-style tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// The byte offsets at which a model's top-level fields end, after its graph: the only places a
/// truncated model can still be a valid one.
fn top_level_boundaries_after_graph(bytes: &[u8]) -> Vec<usize> {
    let mut wire = onnx_wire_reader(bytes);
    let mut after_graph = false;
    let mut boundaries = Vec::new();
    while let Some(tag) = wire.next_tag(None).expect("valid fixture") {
        wire.skip_value(tag, None).expect("valid fixture");
        after_graph |= tag.field == 7;
        if after_graph {
            boundaries.push(usize::try_from(wire.offset()).expect("small"));
        }
    }
    boundaries
}

fn onnx_wire_reader(bytes: &[u8]) -> onnx::wire::WireReader<&[u8]> {
    onnx::wire::WireReader::new(input::Source::new(bytes))
}

#[test]
fn every_truncation_of_a_real_model_is_an_error() {
    for name in ["tiny.onnx", "multi_io.onnx", "legacy_ir3.onnx", "sklearn_forest.onnx", "zipmap.onnx"] {
        let bytes = fixture(name);
        let valid_cuts = top_level_boundaries_after_graph(&bytes);
        for cut in 1..bytes.len() {
            match inspect_bytes(&bytes[..cut]) {
                Err(InspectError::CorruptOnnx { .. }) => {}
                Ok(_) if valid_cuts.contains(&cut) => {}
                other => panic!("{name} cut at {cut}: expected CorruptOnnx, got {other:?}"),
            }
        }
    }
    // The large model, at a spread of offsets.
    let mlp = fixture("mlp.onnx");
    for cut in (1..mlp.len()).step_by(7919) {
        corrupt_reason(inspect_bytes(&mlp[..cut]));
    }
}

#[test]
fn random_bytes_are_unrecognised_or_an_error() {
    const MAGIC_STARTS: [u8; 10] = [0x08, 0x80, 0x78, 0x1f, b'B', 0xfd, 0x5d, b'P', b'(', b'c'];
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..3000 {
        let len = 1 + rng.below(2048);
        let mut bytes = rng.bytes(len);
        if MAGIC_STARTS.contains(&bytes[0]) || matches!(bytes[0], b'}' | b']') {
            bytes[0] = b'!';
        }
        unrecognised_detail(inspect_bytes(&bytes));
    }
}

#[test]
fn random_bytes_behind_each_signature_never_panic() {
    let signatures: [&[u8]; 11] = [
        &[0x08],
        &[0x08, 0x08],
        &[0x80, 0x04],
        &[0x78, 0x9c],
        &[0x1f, 0x8b, 0x08],
        b"BZh91AY&SY",
        &[0xfd, b'7', b'z', b'X', b'Z', 0x00],
        &[0x5d, 0x00, 0x00],
        b"PK\x03\x04",
        b"(dp0",
        b"ccopy_reg\n_reconstructor\np0\n",
    ];
    let mut rng = Rng(0xdead_beef_0bad_f00d);
    for signature in signatures {
        for _ in 0..300 {
            let mut bytes = signature.to_vec();
            let len = rng.below(4096);
            bytes.extend(rng.bytes(len));
            // Any answer but a panic; an ONNX signature must not produce an ONNX inspection.
            let result = inspect_bytes(&bytes);
            if signature[0] == 0x08 {
                assert!(result.is_err(), "{result:?}");
            }
        }
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for name in [
        "tiny.onnx",
        "sklearn_forest.onnx",
        "zipmap.onnx",
        "saved_model.zip",
        "saved_model_streamed.zip",
        "saved_model.tar.gz",
        "model_compressed.joblib",
        "model_gzip.joblib",
        "model_bz2.joblib",
        "model_xz.joblib",
        "model_lzma.joblib",
    ] {
        let original = fixture(name);
        for _ in 0..300 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(bytes.len());
                bytes[at] = rng.next() as u8;
            }
            let cut = rng.below(bytes.len());
            let _ = inspect_bytes(&bytes);
            let _ = inspect_bytes(&bytes[..cut]);
        }
    }
}
