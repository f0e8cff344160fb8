//! Conversions between Depot's tensors and ONNX Runtime values.

use depot_domain::{DataType, NamedTensor, Tensor, TensorData};
use ort::session::SessionInputValue;
use ort::value::{DynValue, TensorElementType, TensorRef, Utf8Data, ValueType};

use crate::RuntimeError;

/// The Depot datatype of an ONNX element type; `None` for types Depot does not serve.
pub(crate) fn datatype_of(ty: TensorElementType) -> Option<DataType> {
    Some(match ty {
        TensorElementType::Bool => DataType::Bool,
        TensorElementType::Uint8 => DataType::Uint8,
        TensorElementType::Uint16 => DataType::Uint16,
        TensorElementType::Uint32 => DataType::Uint32,
        TensorElementType::Uint64 => DataType::Uint64,
        TensorElementType::Int8 => DataType::Int8,
        TensorElementType::Int16 => DataType::Int16,
        TensorElementType::Int32 => DataType::Int32,
        TensorElementType::Int64 => DataType::Int64,
        TensorElementType::Float16 => DataType::Fp16,
        TensorElementType::Bfloat16 => DataType::Bf16,
        TensorElementType::Float32 => DataType::Fp32,
        TensorElementType::Float64 => DataType::Fp64,
        TensorElementType::String => DataType::Bytes,
        _ => return None,
    })
}

/// Refuses values that pass validation but that ONNX Runtime cannot hold: string elements with
/// a NUL byte (ONNX Runtime fills string tensors from C strings).
pub(crate) fn check_representable(inputs: &[NamedTensor]) -> Result<(), RuntimeError> {
    for input in inputs {
        let TensorData::Bytes(strings) = &input.tensor.data else { continue };
        if let Some(index) = strings.iter().position(|s| s.contains(&0)) {
            return Err(RuntimeError::Unrepresentable {
                name: input.name.clone(),
                reason: format!("element {index} contains a NUL byte, which ONNX string tensors cannot hold"),
            });
        }
        // ONNX Runtime hands string outputs back as UTF-8 only: text that is not UTF-8 would
        // fail after the run (found by the Python client's tests as a 500).
        if let Some(index) = strings.iter().position(|s| std::str::from_utf8(s).is_err()) {
            return Err(RuntimeError::Unrepresentable {
                name: input.name.clone(),
                reason: format!("element {index} is not UTF-8 text, which ONNX string tensors hold"),
            });
        }
    }
    Ok(())
}

/// One string element (checked UTF-8 by [`check_representable`]), handed to ONNX Runtime as bytes.
#[derive(Debug, Clone)]
struct OrtBytes(Vec<u8>);

impl Utf8Data for OrtBytes {
    fn as_utf8_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An ONNX Runtime input value for `tensor`, borrowing its data (strings are copied).
pub(crate) fn session_input<'a>(name: &str, tensor: &'a Tensor) -> Result<SessionInputValue<'a>, RuntimeError> {
    let shape = tensor.shape.clone();
    macro_rules! view {
        ($v:expr) => {
            TensorRef::from_array_view((shape, &$v[..])).map(SessionInputValue::from)
        };
    }
    let value = match &tensor.data {
        TensorData::Bool(v) => view!(v),
        TensorData::U8(v) => view!(v),
        TensorData::U16(v) => view!(v),
        TensorData::U32(v) => view!(v),
        TensorData::U64(v) => view!(v),
        TensorData::I8(v) => view!(v),
        TensorData::I16(v) => view!(v),
        TensorData::I32(v) => view!(v),
        TensorData::I64(v) => view!(v),
        TensorData::F32(v) => view!(v),
        TensorData::F64(v) => view!(v),
        TensorData::Bytes(v) => {
            let strings: Vec<OrtBytes> = v.iter().cloned().map(OrtBytes).collect();
            ort::value::Tensor::from_string_array((shape, &strings[..])).map(SessionInputValue::from)
        }
    };
    value.map_err(|e| RuntimeError::inference(format!("creating input {name:?}: {e}")))
}

/// Copies an ONNX Runtime output into a [`Tensor`].
pub(crate) fn tensor_from_output(name: &str, value: &DynValue) -> Result<Tensor, RuntimeError> {
    let fail = |what: String| RuntimeError::inference(format!("reading output {name:?}: {what}"));
    let ty = match value.dtype() {
        ValueType::Tensor { ty, .. } => *ty,
        other => return Err(fail(format!("it is a {other}, not a tensor"))),
    };
    macro_rules! extract {
        ($t:ty, $variant:ident) => {{
            let (shape, data) = value.try_extract_tensor::<$t>().map_err(|e| fail(e.to_string()))?;
            (shape.to_vec(), TensorData::$variant(data.to_vec()))
        }};
    }
    let (shape, data) = match ty {
        TensorElementType::Bool => extract!(bool, Bool),
        TensorElementType::Uint8 => extract!(u8, U8),
        TensorElementType::Uint16 => extract!(u16, U16),
        TensorElementType::Uint32 => extract!(u32, U32),
        TensorElementType::Uint64 => extract!(u64, U64),
        TensorElementType::Int8 => extract!(i8, I8),
        TensorElementType::Int16 => extract!(i16, I16),
        TensorElementType::Int32 => extract!(i32, I32),
        TensorElementType::Int64 => extract!(i64, I64),
        TensorElementType::Float32 => extract!(f32, F32),
        TensorElementType::Float64 => extract!(f64, F64),
        TensorElementType::String => {
            let (shape, strings) = value.try_extract_strings().map_err(|e| fail(e.to_string()))?;
            (shape.to_vec(), TensorData::Bytes(strings.into_iter().map(String::into_bytes).collect()))
        }
        other => return Err(fail(format!("element type {other} cannot be returned"))),
    };
    let shape = shape
        .into_iter()
        .map(|d| usize::try_from(d).map_err(|_| fail(format!("negative dimension {d}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor { shape, data })
}
