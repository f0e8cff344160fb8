//! From ONNX's declared types to Depot's [`TensorSpec`].

use std::borrow::Cow;

use depot_domain::{DataType, TensorKind, TensorSpec};

use super::proto::tensor_shape_proto::dimension::Value as Dim;
use super::proto::type_proto::{Tensor, Value};
use super::proto::{TensorShapeProto, TypeProto, ValueInfoProto};
use super::wire::corrupt;
use crate::InspectError;

/// How a value without a declared type is spelled.
const UNDEFINED: &str = "undefined";

/// The spec of a graph input or output. `label` names it in errors (`graph.input[2]`).
pub(crate) fn tensor_spec(info: ValueInfoProto, label: &str, max_depth: usize) -> Result<TensorSpec, InspectError> {
    let name = info.name.filter(|name| !name.is_empty()).ok_or_else(|| corrupt(format!("{label} has no name")))?;
    let Some(ty) = info.r#type else {
        return Ok(TensorSpec {
            name,
            kind: TensorKind::Unknown,
            datatype: None,
            shape: None,
            dim_names: Vec::new(),
            type_name: UNDEFINED.to_owned(),
        });
    };
    let type_name = type_name(&ty, 1, max_depth)?;
    let (kind, tensor) = match ty.value {
        Some(Value::Tensor(tensor)) => (TensorKind::Tensor, Some(tensor)),
        Some(Value::SparseTensor(tensor)) => (TensorKind::SparseTensor, Some(tensor)),
        Some(Value::Sequence(_)) => (TensorKind::Sequence, None),
        Some(Value::Map(_)) => (TensorKind::Map, None),
        Some(Value::Optional(_)) => (TensorKind::Optional, None),
        Some(Value::Opaque(_)) | None => (TensorKind::Unknown, None),
    };
    let (datatype, (shape, dim_names)) = match tensor {
        Some(tensor) => (tensor.elem_type.and_then(datatype), dimensions(tensor.shape)),
        None => (None, (None, Vec::new())),
    };
    Ok(TensorSpec { name, kind, datatype, shape, dim_names, type_name })
}

/// The element type Depot serves for an ONNX `TensorProto.DataType`, if any.
pub(crate) fn datatype(elem_type: i32) -> Option<DataType> {
    Some(match elem_type {
        1 => DataType::Fp32,
        2 => DataType::Uint8,
        3 => DataType::Int8,
        4 => DataType::Uint16,
        5 => DataType::Int16,
        6 => DataType::Int32,
        7 => DataType::Int64,
        8 => DataType::Bytes,
        9 => DataType::Bool,
        10 => DataType::Fp16,
        11 => DataType::Fp64,
        12 => DataType::Uint32,
        13 => DataType::Uint64,
        16 => DataType::Bf16,
        _ => return None,
    })
}

/// An ONNX `TensorProto.DataType` as ONNX spells it in type strings (`float`, `int64`).
fn elem_name(elem_type: Option<i32>) -> Cow<'static, str> {
    let name = match elem_type {
        None | Some(0) => UNDEFINED,
        Some(1) => "float",
        Some(2) => "uint8",
        Some(3) => "int8",
        Some(4) => "uint16",
        Some(5) => "int16",
        Some(6) => "int32",
        Some(7) => "int64",
        Some(8) => "string",
        Some(9) => "bool",
        Some(10) => "float16",
        Some(11) => "double",
        Some(12) => "uint32",
        Some(13) => "uint64",
        Some(14) => "complex64",
        Some(15) => "complex128",
        Some(16) => "bfloat16",
        Some(17) => "float8e4m3fn",
        Some(18) => "float8e4m3fnuz",
        Some(19) => "float8e5m2",
        Some(20) => "float8e5m2fnuz",
        Some(21) => "uint4",
        Some(22) => "int4",
        Some(23) => "float4e2m1",
        Some(24) => "float8e8m0",
        Some(25) => "uint2",
        Some(26) => "int2",
        Some(other) => return Cow::Owned(format!("unknown_element_type_{other}")),
    };
    Cow::Borrowed(name)
}

/// The type as ONNX Runtime spells it: `tensor(float)`, `seq(map(int64,tensor(float)))`.
/// `depth` is this type's nesting level, 1 for the outermost.
fn type_name(ty: &TypeProto, depth: usize, max_depth: usize) -> Result<String, InspectError> {
    if depth > max_depth {
        return Err(InspectError::LimitExceeded { what: "type nesting depth", limit: max_depth as u64 });
    }
    let inner = |ty: Option<&TypeProto>| match ty {
        Some(ty) => type_name(ty, depth + 1, max_depth),
        None => Ok(UNDEFINED.to_owned()),
    };
    Ok(match &ty.value {
        None => UNDEFINED.to_owned(),
        Some(Value::Tensor(Tensor { elem_type, .. })) => format!("tensor({})", elem_name(*elem_type)),
        Some(Value::SparseTensor(Tensor { elem_type, .. })) => {
            format!("sparse_tensor({})", elem_name(*elem_type))
        }
        Some(Value::Sequence(seq)) => format!("seq({})", inner(seq.elem_type.as_deref())?),
        Some(Value::Map(map)) => {
            format!("map({},{})", elem_name(map.key_type), inner(map.value_type.as_deref())?)
        }
        Some(Value::Optional(opt)) => format!("optional({})", inner(opt.elem_type.as_deref())?),
        Some(Value::Opaque(opaque)) => format!(
            "opaque({},{})",
            opaque.domain.as_deref().unwrap_or_default(),
            opaque.name.as_deref().unwrap_or_default()
        ),
    })
}

/// Dimensions (`-1` where dynamic) and the symbolic name of each, `(None, [])` when the rank
/// is not declared.
fn dimensions(shape: Option<TensorShapeProto>) -> (Option<Vec<i64>>, Vec<Option<String>>) {
    let Some(shape) = shape else {
        return (None, Vec::new());
    };
    let (dims, names) = shape
        .dim
        .into_iter()
        .map(|dim| match dim.value {
            Some(Dim::DimValue(value)) if value >= 0 => (value, None),
            Some(Dim::DimParam(param)) if !param.is_empty() => (-1, Some(param)),
            _ => (-1, None),
        })
        .unzip();
    (Some(dims), names)
}

#[cfg(test)]
mod tests {
    use super::super::proto::tensor_shape_proto::Dimension;
    use super::super::proto::type_proto::{Map, Optional, Sequence};
    use super::*;

    fn tensor(elem_type: i32, dims: Option<Vec<Option<Dim>>>) -> TypeProto {
        let shape =
            dims.map(|dims| TensorShapeProto { dim: dims.into_iter().map(|value| Dimension { value }).collect() });
        TypeProto { value: Some(Value::Tensor(Tensor { elem_type: Some(elem_type), shape })) }
    }

    fn seq(elem: TypeProto) -> TypeProto {
        TypeProto { value: Some(Value::Sequence(Box::new(Sequence { elem_type: Some(Box::new(elem)) }))) }
    }

    fn info(name: &str, ty: TypeProto) -> ValueInfoProto {
        ValueInfoProto { name: Some(name.to_owned()), r#type: Some(ty) }
    }

    #[test]
    fn tensors_map_dimensions_and_names() {
        let ty = tensor(
            1,
            Some(vec![
                Some(Dim::DimParam("batch".into())),
                Some(Dim::DimValue(4)),
                None,
                Some(Dim::DimParam(String::new())),
            ]),
        );
        let spec = tensor_spec(info("x", ty), "graph.input[0]", 32).expect("spec");
        assert_eq!(spec.kind, TensorKind::Tensor);
        assert_eq!(spec.datatype, Some(DataType::Fp32));
        assert_eq!(spec.shape, Some(vec![-1, 4, -1, -1]));
        assert_eq!(spec.dim_names, vec![Some("batch".to_owned()), None, None, None]);
        assert_eq!(spec.type_name, "tensor(float)");

        let unranked = tensor_spec(info("s", tensor(8, None)), "graph.input[0]", 32).expect("spec");
        assert_eq!(
            (unranked.datatype, unranked.shape, unranked.type_name.as_str()),
            (Some(DataType::Bytes), None, "tensor(string)")
        );
        let scalar = tensor_spec(info("s", tensor(7, Some(vec![]))), "graph.input[0]", 32).expect("spec");
        assert_eq!(scalar.shape, Some(vec![]));
    }

    #[test]
    fn every_servable_element_type_maps() {
        let expected = [
            (1, DataType::Fp32),
            (2, DataType::Uint8),
            (3, DataType::Int8),
            (4, DataType::Uint16),
            (5, DataType::Int16),
            (6, DataType::Int32),
            (7, DataType::Int64),
            (8, DataType::Bytes),
            (9, DataType::Bool),
            (10, DataType::Fp16),
            (11, DataType::Fp64),
            (12, DataType::Uint32),
            (13, DataType::Uint64),
            (16, DataType::Bf16),
        ];
        for (elem, dt) in expected {
            assert_eq!(datatype(elem), Some(dt));
        }
        for elem in [0, 14, 15, 17, 23, 99, -1] {
            assert_eq!(datatype(elem), None);
        }
        let complex = tensor_spec(info("c", tensor(14, None)), "graph.output[0]", 32).expect("spec");
        assert_eq!(
            (complex.kind, complex.datatype, complex.type_name.as_str()),
            (TensorKind::Tensor, None, "tensor(complex64)")
        );
        assert!(!complex.is_servable());
        assert_eq!(elem_name(Some(99)), "unknown_element_type_99");
    }

    #[test]
    fn nested_types_are_spelled_like_onnx() {
        let map = TypeProto {
            value: Some(Value::Map(Box::new(Map { key_type: Some(7), value_type: Some(Box::new(tensor(1, None))) }))),
        };
        let spec = tensor_spec(info("probabilities", seq(map)), "graph.output[1]", 32).expect("spec");
        assert_eq!(spec.kind, TensorKind::Sequence);
        assert_eq!(spec.type_name, "seq(map(int64,tensor(float)))");
        assert_eq!((spec.datatype, spec.shape), (None, None));

        let optional = TypeProto {
            value: Some(Value::Optional(Box::new(Optional { elem_type: Some(Box::new(tensor(9, None))) }))),
        };
        let spec = tensor_spec(info("o", optional), "graph.output[0]", 32).expect("spec");
        assert_eq!((spec.kind, spec.type_name.as_str()), (TensorKind::Optional, "optional(tensor(bool))"));

        let untyped =
            tensor_spec(ValueInfoProto { name: Some("u".into()), r#type: None }, "graph.input[0]", 32).expect("spec");
        assert_eq!((untyped.kind, untyped.type_name.as_str()), (TensorKind::Unknown, "undefined"));
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let mut ty = tensor(1, None);
        for _ in 0..5 {
            ty = seq(ty);
        }
        assert!(tensor_spec(info("deep", ty.clone()), "graph.input[0]", 6).is_ok());
        assert!(matches!(
            tensor_spec(info("deep", ty), "graph.input[0]", 5),
            Err(InspectError::LimitExceeded { what: "type nesting depth", limit: 5 })
        ));
    }

    #[test]
    fn a_value_needs_a_name() {
        let err = tensor_spec(ValueInfoProto { name: None, r#type: None }, "graph.input[3]", 32).expect_err("no name");
        assert!(matches!(err, InspectError::CorruptOnnx { reason } if reason == "graph.input[3] has no name"));
    }
}
