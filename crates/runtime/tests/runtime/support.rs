//! Shared helpers: the library path, runtimes, fixtures, expected outputs.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use depot_domain::{
    DataType, Digest, ModelName, NamedTensor, Signature, Tensor, TensorData, ValidatedInputs, VersionNumber,
};
use depot_runtime::{BatchConfig, LoadedModel, Runtime, RuntimeConfig, VersionKey};
use serde::Deserialize;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The ONNX Runtime library; fails (never skips) when it is absent.
pub fn library_path() -> PathBuf {
    let path = std::env::var_os("DEPOT_ORT_LIBRARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".depot/lib/libonnxruntime.so.1.31.0"));
    assert!(
        path.is_file(),
        "the ONNX Runtime library is not at {}: run scripts/fetch-onnxruntime.sh (or set DEPOT_ORT_LIBRARY)",
        path.display()
    );
    path
}

/// A runtime with one intra-op thread per session (the test machines are small).
pub fn config() -> RuntimeConfig {
    RuntimeConfig {
        library_path: library_path(),
        intra_op_threads: 1,
        inter_op_threads: 1,
        sessions_per_version: 1,
        ..RuntimeConfig::default()
    }
}

pub fn runtime(config: RuntimeConfig) -> Runtime {
    Runtime::new(config).expect("runtime")
}

pub fn fixture(name: &str) -> Bytes {
    let path = repo_root().join("tests/fixtures").join(name);
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())))
}

pub fn key(model: &str, version: u32, bytes: &[u8]) -> VersionKey {
    VersionKey::new(
        ModelName::parse(model).expect("model name"),
        VersionNumber::new(version).expect("version"),
        Digest::of(bytes),
    )
}

/// A fetch that hands out `bytes` and counts its calls.
#[derive(Debug, Clone, Default)]
pub struct Fetches(Arc<AtomicUsize>);

impl Fetches {
    pub fn serve(&self, bytes: Bytes) -> impl Future<Output = Result<Bytes, Infallible>> + use<> {
        let count = Arc::clone(&self.0);
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            Ok(bytes)
        }
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Loads a fixture with the signature recorded in its expected-output file.
pub async fn load(
    runtime: &Runtime,
    fixture_name: &str,
    version: u32,
    batching: Option<BatchConfig>,
) -> Arc<LoadedModel> {
    let expected = Expected::read(fixture_name);
    let bytes = fixture(&expected.model);
    let model = fixture_name.trim_end_matches(".onnx").replace('_', "-");
    let key = key(&model, version, &bytes);
    runtime
        .get_or_load(key, &expected.signature, batching, Fetches::default().serve(bytes))
        .await
        .unwrap_or_else(|e| panic!("loading {fixture_name}: {e}"))
}

/// tests/fixtures/expected/<model>.json, written by scripts/make-expected.py.
#[derive(Debug, Deserialize)]
pub struct Expected {
    pub model: String,
    pub signature: Signature,
    pub inputs: BTreeMap<String, JsonTensor>,
    pub outputs: BTreeMap<String, JsonTensor>,
}

#[derive(Debug, Deserialize)]
pub struct JsonTensor {
    pub datatype: DataType,
    pub shape: Vec<usize>,
    pub data: Vec<serde_json::Value>,
}

impl Expected {
    pub fn read(fixture_name: &str) -> Self {
        let stem = Path::new(fixture_name).file_stem().and_then(|s| s.to_str()).expect("file stem");
        let path = repo_root().join("tests/fixtures/expected").join(format!("{stem}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {} (run scripts/make-expected.py): {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    pub fn all() -> Vec<String> {
        let dir = repo_root().join("tests/fixtures/expected");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
            .collect();
        names.sort();
        names
    }

    pub fn input_tensors(&self) -> Vec<NamedTensor> {
        self.inputs.iter().map(|(name, t)| NamedTensor::new(name.clone(), t.to_tensor().expect(name))).collect()
    }
}

impl JsonTensor {
    pub fn to_tensor(&self) -> Result<Tensor> {
        fn each<T>(data: &[serde_json::Value], f: impl Fn(&serde_json::Value) -> Option<T>) -> Result<Vec<T>> {
            data.iter().map(|v| f(v).with_context(|| format!("unexpected element {v}"))).collect()
        }
        let d = &self.data;
        let int = |v: &serde_json::Value| v.as_i64();
        let data = match self.datatype {
            DataType::Bool => TensorData::Bool(each(d, serde_json::Value::as_bool)?),
            DataType::Uint8 => TensorData::U8(each(d, |v| v.as_u64()?.try_into().ok())?),
            DataType::Uint16 => TensorData::U16(each(d, |v| v.as_u64()?.try_into().ok())?),
            DataType::Uint32 => TensorData::U32(each(d, |v| v.as_u64()?.try_into().ok())?),
            DataType::Uint64 => TensorData::U64(each(d, serde_json::Value::as_u64)?),
            DataType::Int8 => TensorData::I8(each(d, |v| int(v)?.try_into().ok())?),
            DataType::Int16 => TensorData::I16(each(d, |v| int(v)?.try_into().ok())?),
            DataType::Int32 => TensorData::I32(each(d, |v| int(v)?.try_into().ok())?),
            DataType::Int64 => TensorData::I64(each(d, int)?),
            DataType::Fp32 => TensorData::F32(each(d, |v| v.as_f64().map(|f| f as f32))?),
            DataType::Fp64 => TensorData::F64(each(d, serde_json::Value::as_f64)?),
            DataType::Bytes => TensorData::Bytes(each(d, |v| Some(v.as_str()?.as_bytes().to_vec()))?),
            other => bail!("no test support for {other}"),
        };
        Ok(Tensor::new(self.shape.clone(), data))
    }
}

/// Floats within 1e-5 (absolute plus relative); everything else exactly equal.
pub fn assert_close(name: &str, actual: &Tensor, expected: &Tensor) {
    assert_eq!(actual.shape, expected.shape, "shape of {name}");
    assert_eq!(actual.datatype(), expected.datatype(), "datatype of {name}");
    let close = |a: f64, e: f64| (a - e).abs() <= 1e-5 + 1e-5 * e.abs();
    match (&actual.data, &expected.data) {
        (TensorData::F32(a), TensorData::F32(e)) => {
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert!(close(f64::from(*a), f64::from(*e)), "{name}[{i}]: {a} is not within 1e-5 of {e}");
            }
        }
        (TensorData::F64(a), TensorData::F64(e)) => {
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert!(close(*a, *e), "{name}[{i}]: {a} is not within 1e-5 of {e}");
            }
        }
        (a, e) => assert_eq!(a, e, "data of {name}"),
    }
    assert_eq!(actual.len(), expected.len(), "element count of {name}");
}

/// `inputs` validated against `signature`; panics when they do not fit.
pub fn valid(signature: &Signature, inputs: Vec<NamedTensor>) -> ValidatedInputs {
    ValidatedInputs::new(signature, inputs).unwrap_or_else(|e| panic!("invalid test inputs: {e}"))
}

/// The signature recorded for a fixture, read once per test binary.
fn signature_of(fixture_name: &'static str, cell: &'static OnceLock<Signature>) -> &'static Signature {
    cell.get_or_init(|| Expected::read(fixture_name).signature)
}

/// `rows` rows of 4 FP32 features for tiny.onnx, distinct per `seed`.
pub fn tiny_tensors(rows: usize, seed: usize) -> Vec<NamedTensor> {
    let data = (0..rows * 4).map(|i| ((seed * 31 + i * 7) % 23) as f32 / 10.0 - 1.0).collect();
    vec![NamedTensor::new("x", Tensor::new(vec![rows, 4], TensorData::F32(data)))]
}

/// [`tiny_tensors`], validated against tiny.onnx's signature.
pub fn tiny_input(rows: usize, seed: usize) -> ValidatedInputs {
    static TINY: OnceLock<Signature> = OnceLock::new();
    valid(signature_of("tiny", &TINY), tiny_tensors(rows, seed))
}

/// `rows` rows of 784 FP32 features for mlp.onnx, validated against its signature.
pub fn mlp_input(rows: usize) -> ValidatedInputs {
    static MLP: OnceLock<Signature> = OnceLock::new();
    let data = (0..rows * 784).map(|i| (i % 97) as f32 / 97.0).collect();
    valid(signature_of("mlp", &MLP), vec![NamedTensor::new("x", Tensor::new(vec![rows, 784], TensorData::F32(data)))])
}
