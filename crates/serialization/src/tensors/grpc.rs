//! The Open Inference Protocol over gRPC: [`ModelInferRequest`] to validated inputs, and outputs
//! to [`ModelInferResponse`]. The messages are `proto/inference.proto`'s ([`crate::inference`]).
//!
//! An input's elements come either typed, in the `contents` field of its datatype
//! (`fp32_contents` for FP32, `int_contents` for INT8, INT16 and INT32, ...), or raw, one
//! `raw_input_contents` entry per input laid out as Triton's binary tensor data (row-major,
//! little-endian; a BYTES element a 4-byte length and its bytes): one way for every input of a
//! request. The response answers the same way: raw when the request was raw (as
//! `tritonclient.grpc` sends), typed when it was typed. Every check and message is the REST
//! decoder's where the two protocols share the check.

use depot_domain::{DataType, NamedTensor, Signature, Tensor, TensorData, ValidatedInputs};
use prost::bytes::Bytes;

use super::EncodingError;
use super::binary;
use super::inputs::{check_length, check_stated_datatype, declared_datatype, stated_shape};
use crate::inference::model_infer_request::{InferInputTensor, InferRequestedOutputTensor};
use crate::inference::model_infer_response::InferOutputTensor;
use crate::inference::{InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse};

/// A decoded gRPC inference request.
#[derive(Debug, Clone, PartialEq)]
pub struct GrpcRequest {
    /// The request's `id`, which the response echoes.
    pub id: String,
    /// The inputs, validated against the model's signature and in its input order.
    pub inputs: ValidatedInputs,
    /// The outputs asked for, in the order asked; empty asks for all of them.
    pub outputs: Vec<String>,
    /// Whether the request's tensors were raw, and so the response's are.
    pub raw: bool,
}

/// The parameters of extensions Depot does not implement, refused rather than ignored.
const UNSUPPORTED_PARAMETERS: [&str; 3] = ["shared_memory_region", "shared_memory_byte_size", "shared_memory_offset"];

/// Decodes a gRPC inference request against the model's `signature`, taking the tensors out of
/// `request` without copying them. The model name and version are the caller's to read first.
pub fn decode_grpc_request(
    request: &mut ModelInferRequest,
    signature: &Signature,
) -> Result<GrpcRequest, EncodingError> {
    let raw = std::mem::take(&mut request.raw_input_contents);
    let is_raw = !raw.is_empty();
    if is_raw && raw.len() != request.inputs.len() {
        return Err(EncodingError::RawCount { inputs: request.inputs.len(), raw: raw.len() });
    }
    let mut inputs = Vec::with_capacity(request.inputs.len());
    let mut raw = raw.into_iter();
    for input in &mut request.inputs {
        let tensor = decode_input(input, raw.next(), signature)?;
        inputs.push(NamedTensor::new(std::mem::take(&mut input.name), tensor));
    }
    let inputs = ValidatedInputs::new(signature, inputs)?;
    Ok(GrpcRequest {
        id: std::mem::take(&mut request.id),
        inputs,
        outputs: requested_outputs(&request.outputs, signature)?,
        raw: is_raw || request.inputs.is_empty(),
    })
}

fn unsupported_parameter(
    role: &'static str,
    name: &str,
    parameters: &std::collections::HashMap<String, InferParameter>,
    refused: &[&'static str],
) -> Result<(), EncodingError> {
    match refused.iter().find(|p| parameters.contains_key(**p)) {
        Some(&parameter) => Err(EncodingError::UnsupportedParameter { role, name: name.to_owned(), parameter }),
        None => Ok(()),
    }
}

fn decode_input(
    input: &mut InferInputTensor,
    raw: Option<Bytes>,
    signature: &Signature,
) -> Result<Tensor, EncodingError> {
    let name = input.name.as_str();
    let datatype = declared_datatype(signature, name)?;
    check_stated_datatype(name, &input.datatype, datatype)?;
    unsupported_parameter("input", name, &input.parameters, &UNSUPPORTED_PARAMETERS)?;
    let (shape, count) = stated_shape(name, &input.shape)?;
    let contents = input.contents.take();
    match (raw, contents) {
        (Some(_), Some(_)) => Err(EncodingError::RawAndContents { name: name.to_owned() }),
        (Some(bytes), None) => {
            let data = binary::read(name, datatype, &shape, count, &bytes).map_err(|error| match error {
                EncodingError::BinarySizeMismatch { name, datatype, shape, expected, actual } => {
                    EncodingError::RawSizeMismatch { name, datatype, shape, expected, actual }
                }
                other => other,
            })?;
            Ok(Tensor::new(shape, data))
        }
        (None, Some(contents)) => {
            let data = typed(name, datatype, contents)?;
            check_length(name, &shape, count, data.len())?;
            Ok(Tensor::new(shape, data))
        }
        (None, None) => Err(EncodingError::NoContents { name: name.to_owned() }),
    }
}

/// The field of [`InferTensorContents`] that carries `datatype`.
fn contents_field(datatype: DataType) -> &'static str {
    match datatype {
        DataType::Bool => "bool_contents",
        DataType::Int8 | DataType::Int16 | DataType::Int32 => "int_contents",
        DataType::Int64 => "int64_contents",
        DataType::Uint8 | DataType::Uint16 | DataType::Uint32 => "uint_contents",
        DataType::Uint64 => "uint64_contents",
        DataType::Fp32 => "fp32_contents",
        DataType::Fp64 => "fp64_contents",
        DataType::Bytes => "bytes_contents",
        DataType::Fp16 | DataType::Bf16 => "raw_input_contents",
    }
}

/// Reads typed contents: the field of the input's datatype, and no other.
fn typed(name: &str, datatype: DataType, contents: InferTensorContents) -> Result<TensorData, EncodingError> {
    let given = [
        ("bool_contents", !contents.bool_contents.is_empty()),
        ("int_contents", !contents.int_contents.is_empty()),
        ("int64_contents", !contents.int64_contents.is_empty()),
        ("uint_contents", !contents.uint_contents.is_empty()),
        ("uint64_contents", !contents.uint64_contents.is_empty()),
        ("fp32_contents", !contents.fp32_contents.is_empty()),
        ("fp64_contents", !contents.fp64_contents.is_empty()),
        ("bytes_contents", !contents.bytes_contents.is_empty()),
    ];
    let expected = contents_field(datatype);
    if let Some(&(field, _)) = given.iter().find(|&&(field, given)| given && field != expected) {
        return Err(EncodingError::WrongContents { name: name.to_owned(), datatype, expected, given: field });
    }

    /// Narrows wider protobuf integers to the element type, refusing values out of its range.
    fn narrow<W: Copy + std::fmt::Display, T: TryFrom<W>>(
        name: &str,
        datatype: DataType,
        values: Vec<W>,
    ) -> Result<Vec<T>, EncodingError> {
        values
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                T::try_from(value).map_err(|_| EncodingError::InvalidElement {
                    name: name.to_owned(),
                    index,
                    datatype,
                    value: value.to_string(),
                    reason: "out of range".to_owned(),
                })
            })
            .collect()
    }

    Ok(match datatype {
        DataType::Bool => TensorData::Bool(contents.bool_contents),
        DataType::Int8 => TensorData::I8(narrow(name, datatype, contents.int_contents)?),
        DataType::Int16 => TensorData::I16(narrow(name, datatype, contents.int_contents)?),
        DataType::Int32 => TensorData::I32(contents.int_contents),
        DataType::Int64 => TensorData::I64(contents.int64_contents),
        DataType::Uint8 => TensorData::U8(narrow(name, datatype, contents.uint_contents)?),
        DataType::Uint16 => TensorData::U16(narrow(name, datatype, contents.uint_contents)?),
        DataType::Uint32 => TensorData::U32(contents.uint_contents),
        DataType::Uint64 => TensorData::U64(contents.uint64_contents),
        DataType::Fp32 => TensorData::F32(contents.fp32_contents),
        DataType::Fp64 => TensorData::F64(contents.fp64_contents),
        DataType::Bytes => TensorData::Bytes(contents.bytes_contents),
        DataType::Fp16 | DataType::Bf16 => {
            return Err(EncodingError::UnsupportedDatatype { name: name.to_owned(), datatype });
        }
    })
}

/// Checks the outputs a request asks for against the model's.
fn requested_outputs(
    outputs: &[InferRequestedOutputTensor],
    signature: &Signature,
) -> Result<Vec<String>, EncodingError> {
    let mut requested: Vec<String> = Vec::with_capacity(outputs.len());
    for output in outputs {
        let name = &output.name;
        if signature.output(name).is_none() {
            let expected = signature.outputs.iter().map(|s| s.name.clone()).collect();
            return Err(EncodingError::UnknownOutput { name: name.clone(), expected });
        }
        if requested.contains(name) {
            return Err(EncodingError::DuplicateOutput { name: name.clone() });
        }
        unsupported_parameter("output", name, &output.parameters, &["classification", "shared_memory_region"])?;
        requested.push(name.clone());
    }
    Ok(requested)
}

/// Encodes the response for `outputs`, as `request` asked: the outputs it names in its order
/// (those the model did not produce left out), else all of them; raw or typed as its inputs were.
pub fn encode_grpc_response(
    model_name: &str,
    model_version: &str,
    outputs: Vec<NamedTensor>,
    request: &GrpcRequest,
) -> ModelInferResponse {
    let selected: Vec<NamedTensor> = if request.outputs.is_empty() {
        outputs
    } else {
        let mut outputs: Vec<Option<NamedTensor>> = outputs.into_iter().map(Some).collect();
        request
            .outputs
            .iter()
            .filter_map(|asked| outputs.iter_mut().find(|o| o.as_ref().is_some_and(|o| &o.name == asked))?.take())
            .collect()
    };
    let mut response = ModelInferResponse {
        model_name: model_name.to_owned(),
        model_version: model_version.to_owned(),
        id: request.id.clone(),
        ..ModelInferResponse::default()
    };
    for output in selected {
        let NamedTensor { name, tensor } = output;
        let Tensor { shape, data } = tensor;
        let mut tensor = InferOutputTensor {
            name,
            datatype: data.datatype().as_str().to_owned(),
            shape: shape.iter().map(|&d| i64::try_from(d).unwrap_or(i64::MAX)).collect(),
            ..InferOutputTensor::default()
        };
        if request.raw {
            let mut bytes = Vec::new();
            binary::write(&data, &mut bytes);
            response.raw_output_contents.push(Bytes::from(bytes));
        } else {
            tensor.contents = Some(contents_of(data));
        }
        response.outputs.push(tensor);
    }
    response
}

/// Typed contents holding `data`, in the field of its datatype.
fn contents_of(data: TensorData) -> InferTensorContents {
    let mut contents = InferTensorContents::default();
    match data {
        TensorData::Bool(v) => contents.bool_contents = v,
        TensorData::U8(v) => contents.uint_contents = v.into_iter().map(u32::from).collect(),
        TensorData::U16(v) => contents.uint_contents = v.into_iter().map(u32::from).collect(),
        TensorData::U32(v) => contents.uint_contents = v,
        TensorData::U64(v) => contents.uint64_contents = v,
        TensorData::I8(v) => contents.int_contents = v.into_iter().map(i32::from).collect(),
        TensorData::I16(v) => contents.int_contents = v.into_iter().map(i32::from).collect(),
        TensorData::I32(v) => contents.int_contents = v,
        TensorData::I64(v) => contents.int64_contents = v,
        TensorData::F32(v) => contents.fp32_contents = v,
        TensorData::F64(v) => contents.fp64_contents = v,
        TensorData::Bytes(v) => contents.bytes_contents = v,
    }
    contents
}
