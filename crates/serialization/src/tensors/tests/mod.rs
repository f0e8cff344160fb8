//! Tests of both protocols: round trips of every served datatype, and malformed, hostile and
//! mismatched requests. `testdata/` holds request bodies made by the real `tritonclient`.

mod fast;
mod oip;
mod simple;

use depot_domain::{DataType, NamedTensor, Signature, Tensor, TensorData, TensorSpec};

use super::EncodingError;

/// One tensor of every served datatype, with extreme values, each named after its datatype.
/// Shapes are `[2, 2]`, except BOOL (`[3]`) and BYTES (`[2, 3]`).
fn every_datatype() -> Vec<NamedTensor> {
    let t = |name: &str, shape: Vec<usize>, data: TensorData| NamedTensor::new(name, Tensor::new(shape, data));
    vec![
        t("BOOL", vec![3], TensorData::Bool(vec![true, false, true])),
        t("UINT8", vec![2, 2], TensorData::U8(vec![0, 1, 254, u8::MAX])),
        t("UINT16", vec![2, 2], TensorData::U16(vec![0, 1, 65534, u16::MAX])),
        t("UINT32", vec![2, 2], TensorData::U32(vec![0, 1, u32::MAX - 1, u32::MAX])),
        t("UINT64", vec![2, 2], TensorData::U64(vec![0, (1 << 53) + 1, u64::MAX - 1, u64::MAX])),
        t("INT8", vec![2, 2], TensorData::I8(vec![i8::MIN, -1, 0, i8::MAX])),
        t("INT16", vec![2, 2], TensorData::I16(vec![i16::MIN, -1, 0, i16::MAX])),
        t("INT32", vec![2, 2], TensorData::I32(vec![i32::MIN, -1, 0, i32::MAX])),
        t("INT64", vec![2, 2], TensorData::I64(vec![i64::MIN, -(1 << 53) - 1, 0, i64::MAX])),
        t("FP32", vec![2, 2], TensorData::F32(vec![0.1, -1.0e-45, f32::MAX, -0.0])),
        t("FP64", vec![2, 2], TensorData::F64(vec![0.1, -2.5e-308, f64::MAX, 5e-324])),
        t(
            "BYTES",
            vec![2, 3],
            TensorData::Bytes(vec![
                b"plain".to_vec(),
                Vec::new(),
                "h\u{e9}llo \u{65e5}\u{672c} \u{1f980}".as_bytes().to_vec(),
                b"quote \" backslash \\ newline \n tab \t".to_vec(),
                b"\x00\x01\x1f".to_vec(),
                b"x".repeat(100),
            ]),
        ),
    ]
}

/// A signature whose inputs and outputs are `tensors`, with dynamic dimensions of their rank.
fn signature_of(tensors: &[NamedTensor]) -> Signature {
    let specs: Vec<TensorSpec> = tensors
        .iter()
        .map(|t| TensorSpec::tensor(t.name.as_str(), t.tensor.datatype(), vec![-1; t.tensor.shape.len()]))
        .collect();
    Signature { inputs: specs.clone(), outputs: specs }
}

/// A signature of one input `x` and one output `y`.
fn one_input(datatype: DataType, shape: Vec<i64>) -> Signature {
    Signature {
        inputs: vec![TensorSpec::tensor("x", datatype, shape)],
        outputs: vec![TensorSpec::tensor("y", DataType::Fp32, vec![-1])],
    }
}

fn sorted(mut tensors: Vec<NamedTensor>) -> Vec<NamedTensor> {
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    tensors
}

/// The error's message, which must name the input (or say why it cannot).
fn message(result: Result<impl std::fmt::Debug, EncodingError>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(error) => error.to_string(),
    }
}
