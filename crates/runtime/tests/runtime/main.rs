//! Integration tests of depot-runtime against the real ONNX Runtime library and the fixture
//! models in tests/fixtures/. The library is found through `DEPOT_ORT_LIBRARY`, else at
//! `.depot/lib/libonnxruntime.so.1.31.0` (run `scripts/fetch-onnxruntime.sh`).

mod batching;
mod cache;
mod correctness;
mod library;
mod load;
mod overload;
mod support;
mod validation;
