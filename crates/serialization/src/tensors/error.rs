//! [`EncodingError`], and how its messages format dimensions and names.

use depot_domain::{DataType, Dims, NameList, ValidationError};

/// Why a prediction request could not be decoded. Every message says what was wrong, naming
/// the input or output concerned and what was expected and given, so that it can be returned
/// verbatim as a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodingError {
    /// The body is not JSON, or not a JSON object of the expected form.
    #[error("the request body is malformed: {message}")]
    Malformed { message: String },
    /// An input's value is not of the expected form.
    #[error("input {name:?} is malformed: {message}")]
    InputMalformed { name: String, message: String },
    /// The inputs do not fit the model's signature (unknown, duplicate or missing inputs, wrong
    /// datatype, rank, dimensions or element count).
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// An element type Depot does not serve, declared by the request or by the model.
    #[error(
        "input {name:?} has datatype {datatype}, which Depot does not serve; \
         the served datatypes are BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP32, FP64 and BYTES"
    )]
    UnsupportedDatatype { name: String, datatype: DataType },
    /// A `datatype` that is no Open Inference Protocol datatype.
    #[error("input {name:?} has datatype {datatype:?}, which is not a datatype; the model expects {expected}")]
    UnknownDatatype { name: String, datatype: String, expected: DataType },
    /// A negative dimension.
    #[error("input {name:?} has shape {}; dimensions must be non-negative integers", Dims(shape))]
    InvalidShape { name: String, shape: Vec<i64> },
    /// A JSON element that is not a value of the input's datatype.
    #[error("input {name:?}: element {index} (row-major) is {value}, which is not a valid {datatype}: {reason}")]
    InvalidElement { name: String, index: usize, datatype: DataType, value: String, reason: String },
    /// Nested arrays whose sibling arrays differ in length.
    #[error(
        "input {name:?} is not a rectangular array: an array at depth {depth} has {actual} elements, \
         but the first array at that depth has {expected} (depth 0 is the outermost)"
    )]
    RaggedLength { name: String, depth: usize, expected: usize, actual: usize },
    /// Nested arrays that hold both arrays and values at the same depth.
    #[error(
        "input {name:?} is not a rectangular array: it has both arrays and values at depth {depth} \
         (depth 0 is the outermost)"
    )]
    RaggedDepth { name: String, depth: usize },
    /// An OIP input with both JSON `data` and `binary_data_size`.
    #[error("input {name:?} has both \"data\" and parameters.binary_data_size; give one of them")]
    DataAndBinary { name: String },
    /// An OIP input with neither JSON `data` nor `binary_data_size`.
    #[error("input {name:?} has neither \"data\" nor parameters.binary_data_size; give one of them")]
    NoData { name: String },
    /// A parameter of an extension Depot does not implement.
    #[error("{role} {name:?} has parameter {parameter:?}, which Depot does not support")]
    UnsupportedParameter { role: &'static str, name: String, parameter: &'static str },
    /// A requested output the model does not have.
    #[error("unknown output {name:?}: the model's outputs are {}", NameList(expected))]
    UnknownOutput { name: String, expected: Vec<String> },
    /// An output requested more than once.
    #[error("output {name:?} is requested more than once")]
    DuplicateOutput { name: String },
    /// `Inference-Header-Content-Length` larger than the body.
    #[error(
        "the Inference-Header-Content-Length header gives a JSON header of {header_length} bytes, \
         but the body has only {body_length} bytes"
    )]
    HeaderBeyondBody { header_length: usize, body_length: usize },
    /// Binary tensor data without `Inference-Header-Content-Length`.
    #[error(
        "input {name:?} has parameters.binary_data_size, but the request has no Inference-Header-Content-Length \
         header to say where the binary data starts"
    )]
    BinaryWithoutHeaderLength { name: String },
    /// A `binary_data_size` that disagrees with the shape and datatype.
    #[error(
        "input {name:?} has shape {} of {datatype}, which is {expected} bytes, but its binary_data_size is {actual}",
        Dims(shape)
    )]
    BinarySizeMismatch { name: String, datatype: DataType, shape: Vec<usize>, expected: usize, actual: usize },
    /// A `binary_data_size` that runs past the end of the body.
    #[error("input {name:?} has binary_data_size {size}, but only {available} bytes of binary data remain in the body")]
    BinaryTruncated { name: String, size: u64, available: usize },
    /// Binary data that no input accounts for.
    #[error(
        "the body has {unused} bytes of binary data after the last input's; the inputs' binary_data_size \
         parameters account for {used} bytes (check them and the Inference-Header-Content-Length header)"
    )]
    BinaryTrailing { used: usize, unused: usize },
    /// A gRPC request whose `raw_input_contents` are not one per input.
    #[error(
        "the request has {inputs} inputs but {raw} raw_input_contents entries; give one entry per input, \
         in the order of the inputs"
    )]
    RawCount { inputs: usize, raw: usize },
    /// A gRPC input with typed `contents` in a request that uses `raw_input_contents`.
    #[error(
        "input {name:?} has contents, but the request has raw_input_contents; give every input's data \
         the same way"
    )]
    RawAndContents { name: String },
    /// A gRPC input with neither typed `contents` nor `raw_input_contents`.
    #[error("input {name:?} has no contents, and the request has no raw_input_contents; give its data in one of them")]
    NoContents { name: String },
    /// A `raw_input_contents` entry that disagrees with the shape and datatype.
    #[error(
        "input {name:?} has shape {} of {datatype}, which is {expected} bytes, but its raw_input_contents entry \
         is {actual} bytes",
        Dims(shape)
    )]
    RawSizeMismatch { name: String, datatype: DataType, shape: Vec<usize>, expected: usize, actual: usize },
    /// Typed contents in a field other than the datatype's.
    #[error(
        "input {name:?} has datatype {datatype}, whose elements go in contents.{expected}, but contents.{given} was given"
    )]
    WrongContents { name: String, datatype: DataType, expected: &'static str, given: &'static str },
    /// A binary BOOL element that is neither 0 nor 1.
    #[error("input {name:?}: binary element {index} is byte {byte}, but a binary BOOL is 0 or 1")]
    InvalidBool { name: String, index: usize, byte: u8 },
    /// A binary BYTES element whose 4-byte length prefix or contents run past its tensor's data.
    #[error(
        "input {name:?}: binary BYTES element {index} needs {needed} bytes (a 4-byte length prefix, then the \
         length it gives), but only {available} remain of its binary_data_size"
    )]
    BytesTruncated { name: String, index: usize, needed: u64, available: usize },
}
