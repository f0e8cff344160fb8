//! Depot's simple JSON API.

use depot_domain::{
    DataType, NamedTensor, Signature, Tensor, TensorData, TensorSpec, ValidatedInputs, ValidationError,
};
use serde_json::{Value, json};

use super::{every_datatype, message, one_input, signature_of, sorted};
use crate::tensors::{EncodingError, decode_simple_inputs, encode_simple_outputs, write_simple_response};

fn decode(body: &Value, signature: &Signature) -> Result<Vec<NamedTensor>, EncodingError> {
    decode_simple_inputs(body.to_string().as_bytes(), signature).map(ValidatedInputs::into_inner)
}

/// Decodes `{"inputs": {"x": value}}` for an input `x` of `datatype` and any rank.
fn decode_x(datatype: DataType, value: Value) -> Result<Tensor, EncodingError> {
    let mut signature = one_input(datatype, vec![]);
    signature.inputs[0].shape = None;
    decode(&json!({ "inputs": { "x": value } }), &signature).map(|mut inputs| inputs.remove(0).tensor)
}

fn ok(datatype: DataType, value: Value) -> Tensor {
    decode_x(datatype, value).unwrap_or_else(|e| panic!("{e}"))
}

fn response(outputs: &[NamedTensor]) -> Value {
    let mut out = Vec::new();
    write_simple_response(&mut out, "model \"m\"", 7, outputs);
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("invalid JSON {e}: {}", String::from_utf8_lossy(&out)))
}

#[test]
fn every_datatype_round_trips_through_the_response_format() {
    let tensors = every_datatype();
    let signature = signature_of(&tensors);
    let body = response(&tensors);
    assert_eq!(body["model"], "model \"m\"");
    assert_eq!(body["version"], 7);
    // The response's outputs are valid request inputs: objects with data nested by the shape.
    assert_eq!(body["outputs"]["INT32"]["data"], json!([[i32::MIN, -1], [0, i32::MAX]]));
    assert_eq!(body["outputs"]["BOOL"], json!({"datatype": "BOOL", "shape": [3], "data": [true, false, true]}));
    assert_eq!(body["outputs"]["FP32"]["data"][0][0], json!(0.1));
    let decoded = decode(&json!({ "inputs": body["outputs"] }), &signature).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sorted(decoded), sorted(tensors.clone()));
    // The Value form holds what the bytes hold.
    assert_eq!(encode_simple_outputs(&tensors), body["outputs"]);
}

#[test]
fn every_datatype_round_trips_as_bare_nested_arrays() {
    let tensors = every_datatype();
    let body = response(&tensors);
    let inputs: serde_json::Map<String, Value> =
        tensors.iter().map(|t| (t.name.clone(), body["outputs"][&t.name]["data"].clone())).collect();
    let decoded = decode(&json!({ "inputs": inputs }), &signature_of(&tensors)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sorted(decoded), sorted(tensors));
}

#[test]
fn shape_comes_from_nesting_or_from_the_object() {
    let nested = ok(DataType::Fp32, json!([[1, 2, 3, 4], [5, 6, 7, 8]]));
    assert_eq!(nested.shape, vec![2, 4]);
    assert_eq!(nested.data, TensorData::F32((1..=8).map(|v| v as f32).collect()));

    let flat = ok(DataType::Fp32, json!({"data": [1, 2, 3, 4, 5, 6, 7, 8], "shape": [2, 4]}));
    assert_eq!(flat, nested);
    // With a shape, only the element count of nested data matters.
    let reshaped = ok(DataType::Fp32, json!({"data": [[1, 2], [3, 4], [5, 6], [7, 8]], "shape": [2, 4]}));
    assert_eq!(reshaped, nested);
    // Without one, the object's data is nested as usual.
    assert_eq!(ok(DataType::Fp32, json!({"data": [[1, 2, 3, 4], [5, 6, 7, 8]]})), nested);
    // A datatype that agrees with the model is fine.
    assert_eq!(ok(DataType::Fp32, json!({"data": [[1, 2, 3, 4], [5, 6, 7, 8]], "datatype": "FP32"})), nested);

    assert_eq!(ok(DataType::Int64, json!(42)), Tensor::new(vec![], TensorData::I64(vec![42])));
    assert_eq!(ok(DataType::Bytes, json!("hi")), Tensor::new(vec![], TensorData::Bytes(vec![b"hi".to_vec()])));
    assert_eq!(ok(DataType::Bool, json!({"data": true, "shape": []})).shape, Vec::<usize>::new());
    assert_eq!(ok(DataType::Fp64, json!([])).shape, vec![0]);
    assert_eq!(ok(DataType::Fp64, json!([[], []])).shape, vec![2, 0]);
    assert_eq!(ok(DataType::Fp64, json!([[[1.5]]])), Tensor::new(vec![1, 1, 1], TensorData::F64(vec![1.5])));
}

#[test]
fn ragged_arrays_are_refused() {
    let ragged = decode_x(DataType::Fp32, json!([[1, 2], [3]]));
    assert_eq!(
        ragged,
        Err(EncodingError::RaggedLength { name: "x".into(), depth: 1, expected: 2, actual: 1 }),
        "a shorter row"
    );
    assert!(message(ragged).contains("array at depth 1 has 1 elements, but the first array at that depth has 2"));
    assert_eq!(
        decode_x(DataType::Fp32, json!([[1, 2], 3])),
        Err(EncodingError::RaggedDepth { name: "x".into(), depth: 1 })
    );
    assert_eq!(
        decode_x(DataType::Fp32, json!([1, [2]])),
        Err(EncodingError::RaggedDepth { name: "x".into(), depth: 1 })
    );
    assert!(matches!(decode_x(DataType::Fp32, json!([[[]], [1]])), Err(EncodingError::RaggedDepth { depth: 2, .. })));
    assert!(matches!(decode_x(DataType::Fp32, json!([[], [1]])), Err(EncodingError::RaggedLength { depth: 1, .. })));
    assert!(matches!(
        decode_x(DataType::Fp32, json!({"data": [[1, 2], [3]], "shape": [3]})),
        Err(EncodingError::RaggedLength { .. })
    ));
}

#[test]
fn integers_must_fit_their_type() {
    let cases = [
        (DataType::Uint8, json!(300), "300", "outside the range of UINT8 (0 to 255)"),
        (DataType::Uint32, json!(-1), "-1", "outside the range of UINT32"),
        (DataType::Int8, json!(128), "128", "outside the range of INT8 (-128 to 127)"),
        (DataType::Int8, json!(-129), "-129", "outside the range of INT8"),
        (DataType::Int64, json!(9_223_372_036_854_775_808u64), "9223372036854775808", "outside the range of INT64"),
        (DataType::Uint64, json!(1e20), "1e20", "outside the range of UINT64"),
        (DataType::Int64, json!(3.5), "3.5", "not a whole number"),
        (DataType::Uint16, json!(-0.5), "-0.5", "not a whole number"),
        (DataType::Int64, json!(1.152921504606847e18), "1.152921504606847e18", "beyond 2^53"),
        (DataType::Int32, json!("7"), "the string \"7\"", "expected a number"),
        (DataType::Int32, json!(true), "true", "expected a number"),
        (DataType::Int32, json!(null), "null", "expected a number"),
    ];
    for (datatype, value, shown, reason) in cases {
        let error = decode_x(datatype, json!([1, value])).expect_err("refused");
        let EncodingError::InvalidElement { name, index, datatype: reported, value, .. } = &error else {
            panic!("{datatype}: {error:?}");
        };
        assert_eq!((name.as_str(), *index, *reported, value.as_str()), ("x", 1, datatype, shown));
        let text = error.to_string();
        assert!(text.starts_with("input \"x\": element 1 (row-major) is "), "{text}");
        assert!(text.contains(reason), "{datatype}: {text}");
    }
    // Whole numbers written as floats are exact up to 2^53.
    assert_eq!(ok(DataType::Int64, json!([2.0, 1e3, -0.0])).data, TensorData::I64(vec![2, 1000, 0]));
    assert_eq!(ok(DataType::Uint8, json!([255.0])).data, TensorData::U8(vec![255]));
}

#[test]
fn floats_accept_integers_and_null_but_not_overflow() {
    assert_eq!(ok(DataType::Fp32, json!([1, -2, 0.5])).data, TensorData::F32(vec![1.0, -2.0, 0.5]));
    assert_eq!(ok(DataType::Fp64, json!([u64::MAX])).data, TensorData::F64(vec![u64::MAX as f64]));
    let TensorData::F32(values) = ok(DataType::Fp32, json!([null, 1])).data else { panic!("FP32") };
    assert!(values[0].is_nan() && values[1] == 1.0);
    let overflow = decode_x(DataType::Fp32, json!([1e39]));
    assert!(
        message(overflow).contains("element 0 (row-major) is 1e39, which is not a valid FP32: it is outside the range")
    );
    assert_eq!(ok(DataType::Fp64, json!([1e39])).data, TensorData::F64(vec![1e39]));
}

#[test]
fn bool_and_bytes_take_only_their_own_kind() {
    assert_eq!(ok(DataType::Bool, json!([true, false])).data, TensorData::Bool(vec![true, false]));
    assert!(
        message(decode_x(DataType::Bool, json!([1])))
            .contains("is 1, which is not a valid BOOL: expected true or false")
    );
    assert!(
        message(decode_x(DataType::Bytes, json!(["a", 5])))
            .contains("element 1 (row-major) is 5, which is not a valid BYTES: expected a string")
    );
    let long = "y".repeat(100);
    let text = message(decode_x(DataType::Fp32, json!([long])));
    assert!(text.contains(&format!("the string \"{}\"...", "y".repeat(32))), "long strings are cut short: {text}");
    assert!(message(decode_x(DataType::Fp32, json!([{"a": 1}]))).contains("element 0 (row-major) is an object"));
}

#[test]
fn stated_datatype_must_be_the_models() {
    assert_eq!(
        decode_x(DataType::Fp32, json!({"data": [1], "datatype": "INT32"})),
        Err(ValidationError::DatatypeMismatch { name: "x".into(), expected: DataType::Fp32, actual: DataType::Int32 }
            .into())
    );
    let unknown = decode_x(DataType::Fp32, json!({"data": [1], "datatype": "FLOAT"}));
    assert_eq!(message(unknown), "input \"x\" has datatype \"FLOAT\", which is not a datatype; the model expects FP32");
    let fp16 = decode_x(DataType::Fp32, json!({"data": [1], "datatype": "FP16"}));
    assert_eq!(fp16, Err(EncodingError::UnsupportedDatatype { name: "x".into(), datatype: DataType::Fp16 }));
    assert!(message(fp16).contains("which Depot does not serve"));
}

#[test]
fn models_with_fp16_or_bf16_inputs_are_refused_clearly() {
    for datatype in [DataType::Fp16, DataType::Bf16] {
        let result = decode_x(datatype, json!([1.0]));
        assert_eq!(result, Err(EncodingError::UnsupportedDatatype { name: "x".into(), datatype }));
        assert!(message(result).contains(&format!("datatype {datatype}, which Depot does not serve")));
    }
}

#[test]
fn inputs_must_be_the_models() {
    let signature = Signature {
        inputs: vec![
            TensorSpec::tensor("a", DataType::Fp32, vec![-1]),
            TensorSpec::tensor("b", DataType::Fp32, vec![-1]),
        ],
        outputs: vec![TensorSpec::tensor("y", DataType::Fp32, vec![-1])],
    };
    let unknown = decode(&json!({"inputs": {"a": [1], "z": [1]}}), &signature);
    assert_eq!(message(unknown), "unknown input \"z\": the model's inputs are \"a\", \"b\"");
    let missing = decode(&json!({"inputs": {"a": [1]}}), &signature);
    assert!(
        matches!(missing, Err(EncodingError::Invalid(ValidationError::MissingInput { ref name, .. })) if name == "b")
    );
    let duplicate = decode_simple_inputs(br#"{"inputs": {"a": [1], "b": [2], "a": [3]}}"#, &signature);
    assert_eq!(duplicate, Err(ValidationError::DuplicateInput { name: "a".into() }.into()));
    // The signature's rank is checked too.
    let rank = decode(&json!({"inputs": {"a": [[1]], "b": [1]}}), &signature);
    assert!(matches!(rank, Err(EncodingError::Invalid(ValidationError::RankMismatch { .. }))), "{rank:?}");
    let ok =
        decode_simple_inputs(br#"{"inputs": {"b": [2.5], "a": [1]}}"#, &signature).unwrap_or_else(|e| panic!("{e}"));
    // Given as b, a; returned in the signature's order.
    assert_eq!(ok.as_slice().iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b"], "signature order");
}

#[test]
fn explicit_shapes_must_hold_the_data() {
    let short = decode_x(DataType::Int32, json!({"data": [1, 2, 3], "shape": [2, 2]}));
    assert_eq!(message(short), "input \"x\" has shape [2, 2], which holds 4 elements, but 3 were given");
    let negative = decode_x(DataType::Int32, json!({"data": [1], "shape": [-1]}));
    assert_eq!(negative, Err(EncodingError::InvalidShape { name: "x".into(), shape: vec![-1] }));
    let huge = decode_x(DataType::Int32, json!({"data": [], "shape": [i64::MAX, i64::MAX]}));
    assert!(matches!(huge, Err(EncodingError::Invalid(ValidationError::ShapeTooLarge { .. }))), "{huge:?}");
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    let signature = one_input(DataType::Fp32, vec![-1]);
    let bodies: [&[u8]; 14] = [
        b"",
        b"{",
        b"not json",
        b"[1, 2]",
        b"{}",
        br#"{"inputs": [1]}"#,
        br#"{"inputs": {"x": [1, 2}}"#,
        br#"{"inputs": {"x": [1]}} trailing"#,
        br#"{"instances": [[1]]}"#,
        br#"{"inputs": {"x": [1]}, "inputs": {"x": [1]}}"#,
        br#"{"inputs": {"x": {"shape": [1]}}}"#,
        br#"{"inputs": {"x": {"data": [1], "shapes": [1]}}}"#,
        br#"{"inputs": {"x": {"data": [1], "shape": "one"}}}"#,
        b"{\"inputs\": {\"x\": [\xff]}}",
    ];
    for body in bodies {
        let error = decode_simple_inputs(body, &signature).expect_err("refused");
        assert!(!error.to_string().is_empty());
    }
    let unknown_field = decode_simple_inputs(br#"{"instances": [[1]]}"#, &signature);
    assert!(message(unknown_field).contains("unknown field `instances`, expected `inputs`"));
    let object = decode_simple_inputs(br#"{"inputs": {"x": {"data": [1], "shapes": [1]}}}"#, &signature);
    assert!(
        matches!(&object, Err(EncodingError::InputMalformed { name, message }) if name == "x" && message.contains("shapes")),
        "{object:?}"
    );
    let no_data = decode_simple_inputs(br#"{"inputs": {"x": {"shape": [1]}}}"#, &signature);
    assert!(message(no_data).starts_with("input \"x\" is malformed: missing field `data`"));
    // Deep nesting hits serde_json's recursion limit instead of the stack's.
    let deep = format!(r#"{{"inputs": {{"x": {}1{}}}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(decode_simple_inputs(deep.as_bytes(), &signature).is_err());
}

#[test]
fn non_finite_floats_become_null_and_non_utf8_bytes_base64() {
    let outputs = [
        NamedTensor::new("f", Tensor::new(vec![3], TensorData::F32(vec![f32::NAN, f32::INFINITY, 1.5]))),
        NamedTensor::new("d", Tensor::new(vec![2], TensorData::F64(vec![f64::NEG_INFINITY, 0.25]))),
        NamedTensor::new("s", Tensor::new(vec![2], TensorData::Bytes(vec![b"ok".to_vec(), vec![0xff, 0xfe, 0x00]]))),
    ];
    let body = response(&outputs);
    assert_eq!(body["outputs"]["f"]["data"], json!([null, null, 1.5]));
    assert_eq!(body["outputs"]["d"]["data"], json!([null, 0.25]));
    assert_eq!(body["outputs"]["s"]["data"], json!(["ok", {"b64": "//4A"}]));
    assert_eq!(encode_simple_outputs(&outputs), body["outputs"]);
}

#[test]
fn response_nests_by_shape_and_names_are_escaped() {
    let outputs = [
        NamedTensor::new("scalar", Tensor::new(vec![], TensorData::I64(vec![-3]))),
        NamedTensor::new("cube", Tensor::new(vec![2, 1, 2], TensorData::U8(vec![1, 2, 3, 4]))),
        NamedTensor::new("empty", Tensor::new(vec![2, 0], TensorData::F32(vec![]))),
        NamedTensor::new("quote\"name", Tensor::new(vec![1], TensorData::Bool(vec![false]))),
        // Data that does not fill its shape (a runtime bug) is written flat rather than lost.
        NamedTensor::new("odd", Tensor::new(vec![2, 2], TensorData::I32(vec![1, 2, 3]))),
        // An empty tensor with an absurd outer dimension does not write a billion `[]`.
        NamedTensor::new("vast", Tensor::new(vec![1 << 40, 0], TensorData::I32(vec![]))),
    ];
    let mut out = Vec::new();
    write_simple_response(&mut out, "m", 1, &outputs);
    let text = String::from_utf8(out).unwrap_or_default();
    assert_eq!(
        text,
        concat!(
            r#"{"model":"m","version":1,"outputs":{"#,
            r#""scalar":{"datatype":"INT64","shape":[],"data":-3},"#,
            r#""cube":{"datatype":"UINT8","shape":[2,1,2],"data":[[[1,2]],[[3,4]]]},"#,
            r#""empty":{"datatype":"FP32","shape":[2,0],"data":[[],[]]},"#,
            r#""quote\"name":{"datatype":"BOOL","shape":[1],"data":[false]},"#,
            r#""odd":{"datatype":"INT32","shape":[2,2],"data":[1,2,3]},"#,
            r#""vast":{"datatype":"INT32","shape":[1099511627776,0],"data":[]}}}"#,
        )
    );
    let value: Value = serde_json::from_str(&text).unwrap_or_default();
    assert_eq!(encode_simple_outputs(&outputs), value["outputs"]);
}

#[test]
fn a_mnist_sized_request_decodes_and_its_response_encodes() {
    // 784 floats in, 10 out: decoding pushes each number straight into one Vec<f32>, and
    // encoding writes straight into the output buffer; neither builds a serde_json::Value.
    let pixels: Vec<f32> = (0..784).map(|i| i as f32 / 784.0).collect();
    let rows: Vec<Vec<f32>> = pixels.chunks(28).map(<[f32]>::to_vec).collect();
    let signature = one_input(DataType::Fp32, vec![-1, 1, 28, 28]);
    let inputs = decode(&json!({"inputs": {"x": [[rows]]}}), &signature).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inputs[0].tensor, Tensor::new(vec![1, 1, 28, 28], TensorData::F32(pixels)));

    let scores =
        NamedTensor::new("y", Tensor::new(vec![1, 10], TensorData::F32((0..10).map(|i| i as f32 / 10.0).collect())));
    let mut out = Vec::with_capacity(512);
    write_simple_response(&mut out, "mnist", 1, std::slice::from_ref(&scores));
    assert!(
        out.ends_with(br#""data":[[0.0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9]]}}}"#),
        "{}",
        String::from_utf8_lossy(&out)
    );
}
