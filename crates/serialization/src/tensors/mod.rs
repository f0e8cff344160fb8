//! The wire encodings of tensors in prediction requests and responses: pure functions from bytes
//! to [`NamedTensor`]s and back, with no HTTP in them.
//!
//! # Depot's simple JSON API
//! `POST /v1/models/{name}/versions/{version}/predict` takes `{"inputs": {"<name>": <value>}}`,
//! where each value is either nested arrays whose nesting gives the shape (`[[1, 2], [3, 4]]` is
//! `[2, 2]`, a bare number is a scalar of shape `[]`), or an object
//! `{"data": <flat or nested>, "shape": [2, 2], "datatype": "FP32"}` whose `shape` and
//! `datatype` are optional. The element type always comes from the model's [`Signature`]; a
//! `datatype` that disagrees with it is an error. [`decode_simple_inputs`] reads a request;
//! [`write_simple_response`] writes `{"model": .., "version": .., "outputs": {..}}` and
//! [`encode_simple_outputs`] builds the `outputs` object as a [`serde_json::Value`]. Each output
//! is `{"datatype", "shape", "data"}` with `data` nested by the shape.
//!
//! # Open Inference Protocol v2 (KServe v2, Triton) over REST
//! `POST /v2/models/{name}/versions/{version}/infer` with the JSON inference request, including
//! Triton's binary tensor data extension: the body is the JSON object, whose length the
//! `Inference-Header-Content-Length` HTTP header gives, followed by the raw tensors in the order
//! of the inputs that declare `parameters.binary_data_size`. Binary tensors are little-endian and
//! row-major; a BOOL is one byte (0 or 1); a BYTES element is a 4-byte little-endian length and
//! then its bytes. JSON `data` is flat or nested, row-major. [`decode_oip_request`] reads a
//! request; [`encode_oip_response`] writes the response, each output binary or JSON as the
//! request asked; [`oip_error_body`] writes `{"error": ".."}`. `tritonclient[http]` works with
//! its default settings (binary inputs, binary outputs).
//!
//! # Open Inference Protocol v2 over gRPC
//! [`decode_grpc_request`] reads a [`ModelInferRequest`](crate::inference::ModelInferRequest)
//! whose tensors are typed (`contents`) or raw (`raw_input_contents`, laid out as the binary
//! extension's), with the REST decoder's checks and messages; [`encode_grpc_response`] answers
//! the way the request came.
//!
//! # Values JSON cannot carry
//! - NaN and ±infinity are written as `null`, as JavaScript and most JSON libraries do; on
//!   input, `null` is read as NaN in FP32 and FP64 tensors (and refused elsewhere). The binary
//!   encoding carries every value exactly.
//! - A BYTES element that is valid UTF-8 is a JSON string. One that is not is written, in the
//!   simple API, as `{"b64": "<standard base64 with padding>"}` (TensorFlow Serving's
//!   convention); an OIP output holding one is sent binary whatever the request asked, since
//!   OIP JSON has no encoding for it and `tritonclient` reads binary outputs transparently.
//!   On input, BYTES elements in JSON are strings, taken as their UTF-8 bytes.
//!
//! # Numbers
//! A JSON number must fit the element type exactly: integer types refuse fractions and values
//! out of range (300 is not a UINT8). A whole number written with a fraction or exponent
//! (`2.0`, `1e3`) is accepted up to 2^53, beyond which such a number may already have been
//! rounded. Float types accept any number within range and round it to the nearest value; BOOL
//! accepts only `true` and `false`.
//!
//! # Cost
//! Decoding is one pass over the request: numbers go straight from the parser into the tensor's
//! `Vec`, with no intermediate [`serde_json::Value`] and no allocation per element, except one
//! per BYTES element. Responses are written straight into a byte buffer.
//!
//! Numeric tensor data takes a fast path (`scan`): a byte scanner reads the arrays and
//! `lexical-core` the floats, two to three times as fast as serde_json's tokenizer (the MLP's
//! 784 numbers: see BENCHMARKS.md and `benches/decode.rs`). It covers the simple API's bodies whose
//! inputs are all numbers, `true`, `false` or `null` (bare, nested, or in the object form), and
//! each OIP input's `data` array that follows its `datatype` (in requests of at least 256 bytes
//! of JSON, below which serde alone is as quick), serde reading the rest of the OIP request
//! with those arrays taken out. Anything else, and anything invalid, is decoded by
//! the serde path from the start, so the values decoded and every error are the same either
//! way; invalid input costs at most one extra pass. OIP `data` that comes before its
//! `datatype` is scanned twice, once by serde to find it and once to decode it.
//!
//! Every decoded request comes back as [`ValidatedInputs`]: it has passed
//! [`depot_domain::validate_inputs`] and its inputs are in the signature's order, whatever the
//! request's order. Every error is an [`EncodingError`] whose message names the input and says
//! what was expected and what was given, fit to be returned verbatim as a 400.

mod binary;
mod element;
mod error;
mod grpc;
mod inputs;
mod json;
mod oip;
mod scan;
mod simple;

pub use error::EncodingError;
pub use grpc::{GrpcRequest, decode_grpc_request, encode_grpc_response};
pub use oip::{OipRequest, OipResponse, RequestedOutput, decode_oip_request, encode_oip_response, oip_error_body};
pub use simple::{decode_simple_inputs, encode_simple_outputs, write_simple_response};

#[cfg(doc)]
use depot_domain::{NamedTensor, Signature, ValidatedInputs};

#[cfg(test)]
mod tests;
