//! The Open Inference Protocol v2 over REST, with Triton's binary tensor data extension.

use depot_domain::{NamedTensor, Signature, Tensor, ValidatedInputs};
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny};
use serde_json::value::RawValue;

use super::EncodingError;
use super::binary;
use super::element::{Element, with_element_type};
use super::inputs::{check_length, check_stated_datatype, declared_datatype, stated_shape};
use super::json::{Cx, DataSeed, Failure, has_non_utf8, put, put_datatype, put_shape, write_flat};
use super::scan::{self, Decoded};
use crate::object::{JsonObject, objects, optional_object, optional_objects};

/// A decoded OIP inference request.
#[derive(Debug, Clone, PartialEq)]
pub struct OipRequest {
    /// The request's `id`, which the response must echo.
    pub id: Option<String>,
    /// The inputs, validated against the model's signature and in its input order (not
    /// necessarily the request's).
    pub inputs: ValidatedInputs,
    /// The outputs asked for, in the order asked; empty when the request names none, which
    /// asks for all of them.
    pub outputs: Vec<RequestedOutput>,
    /// The request's `parameters.binary_data_output`: whether outputs are sent as binary data
    /// unless their own `binary_data` says otherwise.
    pub binary_default: Option<bool>,
}

/// An output a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedOutput {
    /// An output of the model.
    pub name: String,
    /// The output's `parameters.binary_data`: whether to send it as binary data.
    pub binary: Option<bool>,
}

/// An encoded OIP inference response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OipResponse {
    /// The JSON response object, followed by the binary outputs' data if any.
    pub body: Vec<u8>,
    /// The length of the JSON object when binary data follows it: the value of the
    /// `Inference-Header-Content-Length` response header. `None` when the body is all JSON.
    pub json_header_length: Option<usize>,
}

/// Decodes an OIP inference request.
///
/// `header_length` is the request's `Inference-Header-Content-Length` header: the body is that
/// many bytes of JSON followed by the binary data of the inputs that declare
/// `parameters.binary_data_size`, in input order, which must account for the rest of the body
/// exactly. Without it, the whole body is JSON and no input may be binary.
///
/// Each input's `datatype` must be the model's, and its data (JSON `data`, flat or nested, or
/// binary) must fill its `shape`. Requested outputs must be outputs of the model. The inputs
/// have passed [`validate_inputs`](depot_domain::validate_inputs) against `signature` and come
/// in the signature's input order. Binary data is still read in request order, as the
/// extension lays it out.
/// Parameters of extensions Depot does not implement (classification, shared memory) are
/// refused; other parameters are ignored.
pub fn decode_oip_request(
    body: &[u8],
    header_length: Option<usize>,
    signature: &Signature,
) -> Result<OipRequest, EncodingError> {
    let json_length = header_length.unwrap_or(body.len());
    let path = if json_length >= FAST_PATH_MIN_BYTES { Path::Fast } else { Path::Serde };
    decode_oip_request_by(body, header_length, signature, path)
}

/// The shortest JSON for which [`decode_oip_request`] takes the fast path. Its walk over the
/// request pays for itself only where there are numbers to decode; shorter JSON (a request
/// whose tensors are all binary, say) is read as quickly by serde alone.
const FAST_PATH_MIN_BYTES: usize = 256;

/// How [`decode_oip_request_by`] reads JSON tensor data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Path {
    /// The fast path where it can (see [`scan`]), else serde.
    Fast,
    /// serde only.
    Serde,
}

/// [`decode_oip_request`], by `path`.
pub(super) fn decode_oip_request_by(
    body: &[u8],
    header_length: Option<usize>,
    signature: &Signature,
    path: Path,
) -> Result<OipRequest, EncodingError> {
    let (header, mut binary) = match header_length {
        None => (body, &[][..]),
        Some(header_length) => body
            .split_at_checked(header_length)
            .ok_or(EncodingError::HeaderBeyondBody { header_length, body_length: body.len() })?,
    };
    // The fast path decodes the inputs' `data` arrays; serde reads the rest of the request from
    // the skeleton left, or, if it refuses that, the request itself, for the exact error.
    let skeleton = (path == Path::Fast).then(|| scan::oip_skeleton(header)).flatten();
    let (skeleton, decoded) = skeleton.map_or((None, Vec::new()), |s| (Some(s.text), s.inputs));
    let (request, mut decoded) = match skeleton.as_deref().and_then(|skeleton| parse_request(skeleton).ok()) {
        Some(request) => (request, decoded),
        None => (parse_request(header)?, Vec::new()),
    };

    let binary_length = binary.len();
    let mut inputs = Vec::with_capacity(request.inputs.len());
    for (index, input) in request.inputs.iter().enumerate() {
        let decoded = decoded.get_mut(index).and_then(Option::take);
        let tensor = decode_input(input, decoded, path, header_length.is_some(), &mut binary, signature)?;
        inputs.push(NamedTensor::new(input.name.as_str(), tensor));
    }
    if !binary.is_empty() {
        return Err(EncodingError::BinaryTrailing { used: binary_length - binary.len(), unused: binary.len() });
    }
    let inputs = ValidatedInputs::new(signature, inputs)?;

    Ok(OipRequest {
        id: request.id,
        inputs,
        outputs: requested_outputs(request.outputs.unwrap_or_default(), signature)?,
        binary_default: request.parameters.and_then(|p| p.binary_data_output),
    })
}

/// Reads the request's JSON, the binary data excluded.
fn parse_request(json: &[u8]) -> Result<WireRequest<'_>, EncodingError> {
    let JsonObject(request) = serde_json::from_slice::<JsonObject<WireRequest<'_>>>(json)
        .map_err(|e| EncodingError::Malformed { message: e.to_string() })?;
    Ok(request)
}

/// Encodes the OIP inference response for `outputs`, as `request` asked.
///
/// When the request names outputs, those are sent, in its order (any the model did not
/// produce are left out); otherwise all of `outputs`, in their order. An output is sent as
/// binary data when its `binary_data` says so, else when the request's `binary_data_output`
/// does, and always when it holds BYTES that are not UTF-8, which JSON cannot carry; otherwise
/// as flat, row-major JSON `data`, non-finite floats as `null`.
pub fn encode_oip_response(
    model_name: &str,
    model_version: &str,
    id: Option<&str>,
    outputs: &[NamedTensor],
    request: &OipRequest,
) -> OipResponse {
    let binary = |output: &NamedTensor, asked: Option<bool>| {
        asked.or(request.binary_default).unwrap_or(false) || has_non_utf8(&output.tensor.data)
    };
    let selected: Vec<(&NamedTensor, bool)> = if request.outputs.is_empty() {
        outputs.iter().map(|output| (output, binary(output, None))).collect()
    } else {
        request
            .outputs
            .iter()
            .filter_map(|asked| {
                let output = outputs.iter().find(|output| output.name == asked.name)?;
                Some((output, binary(output, asked.binary)))
            })
            .collect()
    };

    let sizes: Vec<usize> =
        selected.iter().map(|&(output, binary)| if binary { binary::size(&output.tensor.data) } else { 0 }).collect();
    // A guess at the JSON's size, ~12 bytes a JSON element, to spare most reallocations.
    let json_guess: usize =
        selected.iter().map(|(o, binary)| 64 + o.name.len() + if *binary { 0 } else { o.tensor.len() * 12 }).sum();
    let mut body = Vec::with_capacity(128 + json_guess + sizes.iter().sum::<usize>());

    body.extend_from_slice(b"{\"model_name\":");
    put(&mut body, model_name);
    body.extend_from_slice(b",\"model_version\":");
    put(&mut body, model_version);
    if let Some(id) = id {
        body.extend_from_slice(b",\"id\":");
        put(&mut body, id);
    }
    body.extend_from_slice(b",\"outputs\":[");
    for (i, (&(output, binary), size)) in selected.iter().zip(&sizes).enumerate() {
        if i > 0 {
            body.push(b',');
        }
        let tensor = &output.tensor;
        body.extend_from_slice(b"{\"name\":");
        put(&mut body, output.name.as_str());
        body.extend_from_slice(b",\"datatype\":");
        put_datatype(&mut body, tensor.datatype());
        body.extend_from_slice(b",\"shape\":");
        put_shape(&mut body, &tensor.shape);
        if binary {
            body.extend_from_slice(b",\"parameters\":{\"binary_data_size\":");
            put(&mut body, size);
            body.push(b'}');
        } else {
            body.extend_from_slice(b",\"data\":");
            write_flat(&mut body, &tensor.data);
        }
        body.push(b'}');
    }
    body.extend_from_slice(b"]}");

    if !selected.iter().any(|&(_, binary)| binary) {
        return OipResponse { body, json_header_length: None };
    }
    let json_header_length = body.len();
    for &(output, _) in selected.iter().filter(|&&(_, binary)| binary) {
        binary::write(&output.tensor.data, &mut body);
    }
    OipResponse { body, json_header_length: Some(json_header_length) }
}

/// The body of an OIP error response: `{"error": "<message>"}`.
pub fn oip_error_body(message: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(message.len() + 16);
    body.extend_from_slice(b"{\"error\":");
    put(&mut body, message);
    body.push(b'}');
    body
}

/// The JSON inference request object. Fields Depot does not use are ignored. Its objects are
/// read from JSON objects only ([`JsonObject`]), never from arrays of their fields.
#[derive(Deserialize)]
struct WireRequest<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default, deserialize_with = "optional_object")]
    parameters: Option<RequestParameters>,
    #[serde(borrow, deserialize_with = "objects")]
    inputs: Vec<WireInput<'a>>,
    #[serde(default, deserialize_with = "optional_objects")]
    outputs: Option<Vec<WireOutput>>,
}

#[derive(Deserialize)]
struct RequestParameters {
    #[serde(default)]
    binary_data_output: Option<bool>,
}

#[derive(Deserialize)]
struct WireInput<'a> {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default, deserialize_with = "optional_object")]
    parameters: Option<InputParameters>,
    /// Kept as text, to decode once the datatype is known, whatever the order of the fields.
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InputParameters {
    #[serde(default)]
    binary_data_size: Option<u64>,
    #[serde(default)]
    shared_memory_region: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct WireOutput {
    name: String,
    #[serde(default, deserialize_with = "optional_object")]
    parameters: Option<OutputParameters>,
}

#[derive(Default, Deserialize)]
struct OutputParameters {
    #[serde(default)]
    binary_data: Option<bool>,
    #[serde(default)]
    classification: Option<IgnoredAny>,
    #[serde(default)]
    shared_memory_region: Option<IgnoredAny>,
}

/// Decodes one input, taking its binary data, if any, from the front of `binary`. `decoded` is
/// its JSON `data` if the fast path decoded it.
fn decode_input(
    input: &WireInput<'_>,
    decoded: Option<Decoded<'_>>,
    path: Path,
    has_header_length: bool,
    binary: &mut &[u8],
    signature: &Signature,
) -> Result<Tensor, EncodingError> {
    let name = input.name.as_str();
    let datatype = declared_datatype(signature, name)?;
    check_stated_datatype(name, &input.datatype, datatype)?;
    let parameters = input.parameters.as_ref();
    if parameters.is_some_and(|p| p.shared_memory_region.is_some()) {
        return Err(EncodingError::UnsupportedParameter {
            role: "input",
            name: name.to_owned(),
            parameter: "shared_memory_region",
        });
    }
    let (shape, count) = stated_shape(name, &input.shape)?;

    match (input.data, parameters.and_then(|p| p.binary_data_size)) {
        (Some(_), Some(_)) => Err(EncodingError::DataAndBinary { name: name.to_owned() }),
        (None, None) => Err(EncodingError::NoData { name: name.to_owned() }),
        (Some(data), None) => json_data(name, datatype, data, decoded, path, shape, count),
        (None, Some(_)) if !has_header_length => {
            Err(EncodingError::BinaryWithoutHeaderLength { name: name.to_owned() })
        }
        (None, Some(size)) => {
            let truncated = || EncodingError::BinaryTruncated { name: name.to_owned(), size, available: binary.len() };
            let size_in_memory = usize::try_from(size).map_err(|_| truncated())?;
            binary::check_size(name, datatype, &shape, count, size_in_memory)?;
            let (bytes, rest) = binary.split_at_checked(size_in_memory).ok_or_else(truncated)?;
            *binary = rest;
            let data = binary::read(name, datatype, &shape, count, bytes)?;
            Ok(Tensor::new(shape, data))
        }
    }
}

/// Decodes an input's JSON `data`, flat or nested, which must fill its shape: `data` as serde
/// read it, or, where the fast path replaced it in the skeleton, `decoded`, the original; by
/// `path`.
fn json_data(
    name: &str,
    datatype: depot_domain::DataType,
    data: &RawValue,
    decoded: Option<Decoded<'_>>,
    path: Path,
    shape: Vec<usize>,
    count: usize,
) -> Result<Tensor, EncodingError> {
    fn decode<T: Element>(
        name: &str,
        text: &[u8],
        path: Path,
        shape: Vec<usize>,
        count: usize,
    ) -> Result<Tensor, EncodingError> {
        let failure = Failure::default();
        let cx = Cx { name, failure: &failure };
        let fast = (path == Path::Fast).then(|| scan::data_text::<T>(text, cx)).flatten();
        let nested = match fast {
            Some(nested) => nested,
            None => {
                let mut deserializer = serde_json::Deserializer::from_slice(text);
                DataSeed::<T>::new(cx).deserialize(&mut deserializer).map_err(|e| failure.resolve_input(name, e))?
            }
        };
        check_length(name, &shape, count, nested.len())?;
        let (_, values) = nested.into_parts();
        Ok(Tensor::new(shape, T::into_data(values)))
    }
    let text = match decoded {
        // Decoded as the datatype the request states, which has been checked to be the model's.
        Some(Decoded { data, .. }) if data.datatype() == datatype => {
            check_length(name, &shape, count, data.len())?;
            return Ok(Tensor::new(shape, data));
        }
        Some(Decoded { text, .. }) => text,
        None => data.get().as_bytes(),
    };
    with_element_type!(
        datatype,
        T => decode::<T>(name, text, path, shape, count),
        unsupported => Err(EncodingError::UnsupportedDatatype { name: name.to_owned(), datatype })
    )
}

/// Checks the outputs a request asks for against the model's.
fn requested_outputs(outputs: Vec<WireOutput>, signature: &Signature) -> Result<Vec<RequestedOutput>, EncodingError> {
    let mut requested: Vec<RequestedOutput> = Vec::with_capacity(outputs.len());
    for output in outputs {
        let name = output.name;
        if signature.output(&name).is_none() {
            let expected = signature.outputs.iter().map(|s| s.name.clone()).collect();
            return Err(EncodingError::UnknownOutput { name, expected });
        }
        if requested.iter().any(|r| r.name == name) {
            return Err(EncodingError::DuplicateOutput { name });
        }
        let parameters = output.parameters.unwrap_or_default();
        let unsupported = [
            ("classification", parameters.classification.is_some()),
            ("shared_memory_region", parameters.shared_memory_region.is_some()),
        ];
        if let Some(&(parameter, _)) = unsupported.iter().find(|&&(_, given)| given) {
            return Err(EncodingError::UnsupportedParameter { role: "output", name, parameter });
        }
        requested.push(RequestedOutput { name, binary: parameters.binary_data });
    }
    Ok(requested)
}
