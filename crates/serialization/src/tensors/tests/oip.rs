//! The Open Inference Protocol v2 over REST, with Triton's binary tensor data extension.

use depot_domain::{
    DataType, NamedTensor, Signature, Tensor, TensorData, TensorSpec, ValidatedInputs, ValidationError,
};
use serde_json::{Value, json};

use super::{every_datatype, message, one_input, signature_of};
use crate::tensors::{
    EncodingError, OipRequest, OipResponse, RequestedOutput, decode_oip_request, encode_oip_response, oip_error_body,
};

fn decode_json(body: &Value, signature: &Signature) -> Result<OipRequest, EncodingError> {
    decode_oip_request(body.to_string().as_bytes(), None, signature)
}

/// A body of `header` as JSON followed by `binary`, and the header's length.
fn with_binary(header: &Value, binary: &[u8]) -> (Vec<u8>, usize) {
    let mut body = header.to_string().into_bytes();
    let length = body.len();
    body.extend_from_slice(binary);
    (body, length)
}

fn asking(outputs: &[(&str, Option<bool>)], binary_default: Option<bool>) -> OipRequest {
    OipRequest {
        id: None,
        // What the encoder reads of a request is its outputs and binary_data_output.
        inputs: ValidatedInputs::new(&Signature::default(), Vec::new()).expect("no inputs"),
        outputs: outputs.iter().map(|&(name, binary)| RequestedOutput { name: name.to_owned(), binary }).collect(),
        binary_default,
    }
}

/// The response's JSON part, parsed.
fn header_of(response: &OipResponse) -> Value {
    let json = &response.body[..response.json_header_length.unwrap_or(response.body.len())];
    serde_json::from_slice(json).unwrap_or_else(|e| panic!("invalid JSON {e}: {}", String::from_utf8_lossy(json)))
}

fn binary_of(response: &OipResponse) -> &[u8] {
    &response.body[response.json_header_length.unwrap_or(response.body.len())..]
}

fn ok(result: Result<OipRequest, EncodingError>) -> OipRequest {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// `x`: FP32 `[-1, 4]`, given as binary.
fn binary_x(values: &[f32], binary_data_size: usize) -> (Vec<u8>, usize) {
    let header = json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                                     "parameters": {"binary_data_size": binary_data_size}}]});
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    with_binary(&header, &bytes)
}

#[test]
fn every_datatype_round_trips_as_json() {
    let tensors = every_datatype();
    let signature = signature_of(&tensors);
    let response = encode_oip_response("m", "3", Some("req \"7\""), &tensors, &asking(&[], None));
    assert_eq!(response.json_header_length, None, "no binary output");
    let header = header_of(&response);
    assert_eq!(
        (&header["model_name"], &header["model_version"], &header["id"]),
        (&json!("m"), &json!("3"), &json!("req \"7\""))
    );
    let int32 = &header["outputs"][7];
    assert_eq!(
        int32,
        &json!({"name": "INT32", "datatype": "INT32", "shape": [2, 2], "data": [i32::MIN, -1, 0, i32::MAX]})
    );
    // The response's outputs are valid request inputs.
    let request = ok(decode_json(&json!({"inputs": header["outputs"]}), &signature));
    assert_eq!(request.inputs.as_slice(), tensors);
}

#[test]
fn every_datatype_round_trips_as_binary() {
    let tensors = every_datatype();
    let signature = signature_of(&tensors);
    let response = encode_oip_response("m", "3", None, &tensors, &asking(&[], Some(true)));
    let header = header_of(&response);
    assert!(header.get("id").is_none());
    let sizes: Vec<u64> = header["outputs"]
        .as_array()
        .map(|outputs| outputs.iter().filter_map(|o| o["parameters"]["binary_data_size"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(sizes.len(), tensors.len(), "every output binary: {header}");
    assert!(header["outputs"].as_array().is_some_and(|o| o.iter().all(|o| o.get("data").is_none())));
    assert_eq!(sizes.iter().sum::<u64>(), binary_of(&response).len() as u64);
    // BOOL [3] is 3 bytes, UINT64 [2, 2] 32, BYTES 6 prefixes and their contents.
    assert_eq!((sizes[0], sizes[4]), (3, 32));

    // The response's outputs, binary data and all, are a valid request.
    let (body, length) = with_binary(&json!({"inputs": header["outputs"]}), binary_of(&response));
    let request = ok(decode_oip_request(&body, Some(length), &signature));
    assert_eq!(request.inputs.as_slice(), tensors);
}

#[test]
fn binary_encoding_is_little_endian_row_major_with_length_prefixed_bytes() {
    let outputs = [
        NamedTensor::new("u16", Tensor::new(vec![2], TensorData::U16(vec![1, 0x0203]))),
        NamedTensor::new("b", Tensor::new(vec![2], TensorData::Bool(vec![true, false]))),
        NamedTensor::new("f", Tensor::new(vec![1], TensorData::F32(vec![1.0]))),
        NamedTensor::new("i", Tensor::new(vec![1], TensorData::I64(vec![-2]))),
        NamedTensor::new("s", Tensor::new(vec![2], TensorData::Bytes(vec![b"ab".to_vec(), Vec::new()]))),
    ];
    let response = encode_oip_response("m", "1", None, &outputs, &asking(&[], Some(true)));
    let expected: &[u8] = &[
        1, 0, 3, 2, // u16
        1, 0, // bool
        0, 0, 0x80, 0x3f, // 1.0f32
        0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // -2i64
        2, 0, 0, 0, b'a', b'b', 0, 0, 0, 0, // "ab", ""
    ];
    assert_eq!(binary_of(&response), expected);
    let sizes: Vec<Value> =
        (0..5).map(|i| header_of(&response)["outputs"][i]["parameters"]["binary_data_size"].clone()).collect();
    assert_eq!(sizes, [json!(4), json!(2), json!(4), json!(8), json!(10)]);
}

/// The signature the tritonclient vectors were made for (`testdata/make_vectors.py`).
fn triton_signature() -> Signature {
    let spec = |name: &str, datatype, shape| TensorSpec::tensor(name, datatype, shape);
    Signature {
        inputs: vec![
            spec("x", DataType::Fp32, vec![-1, 4]),
            spec("ids", DataType::Int64, vec![-1]),
            spec("mask", DataType::Bool, vec![-1]),
            spec("text", DataType::Bytes, vec![-1]),
            spec("small", DataType::Uint8, vec![-1, 2]),
        ],
        outputs: vec![
            spec("y", DataType::Fp32, vec![-1, 3]),
            spec("z", DataType::Int64, vec![-1]),
            spec("text", DataType::Bytes, vec![-1]),
        ],
    }
}

fn header_length(vector: &str) -> usize {
    let lengths: Value = serde_json::from_str(include_str!("../testdata/header_lengths.json")).unwrap_or_default();
    lengths[vector].as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or_else(|| panic!("no length for {vector}"))
}

#[test]
fn decodes_a_request_made_by_tritonclient() {
    // Binary FP32, INT64, BOOL and BYTES inputs, a JSON UINT8 input, outputs asked for by name.
    let body = include_bytes!("../testdata/tritonclient_mixed.bin");
    let request = ok(decode_oip_request(body, Some(header_length("tritonclient_mixed")), &triton_signature()));
    let t = |name: &str, shape: Vec<usize>, data| NamedTensor::new(name, Tensor::new(shape, data));
    assert_eq!(
        request,
        OipRequest {
            id: Some("req-1".into()),
            inputs: ValidatedInputs::new(
                &triton_signature(),
                vec![
                    t("x", vec![1, 4], TensorData::F32(vec![0.5, -1.25, 3.0e38, 1.0e-45])),
                    t("ids", vec![2], TensorData::I64(vec![-1, 1 << 40])),
                    t("mask", vec![3], TensorData::Bool(vec![true, false, true])),
                    t("text", vec![2], TensorData::Bytes(vec![b"hi".to_vec(), b"\xff\x00".to_vec()])),
                    t("small", vec![2, 2], TensorData::U8(vec![1, 2, 3, 255])),
                ],
            )
            .expect("valid"),
            outputs: vec![
                RequestedOutput { name: "z".into(), binary: Some(false) },
                RequestedOutput { name: "y".into(), binary: Some(true) },
            ],
            binary_default: None,
        }
    );
    // Cut one byte short, or without its header length, the same body is refused.
    let length = header_length("tritonclient_mixed");
    assert!(decode_oip_request(&body[..body.len() - 1], Some(length), &triton_signature()).is_err());
    assert!(matches!(
        decode_oip_request(body, None, &triton_signature()),
        Err(EncodingError::Malformed { .. } | EncodingError::BinaryWithoutHeaderLength { .. })
    ));
}

#[test]
fn decodes_tritonclients_default_request() {
    // No outputs named: tritonclient asks for all of them, binary.
    let body = include_bytes!("../testdata/tritonclient_default.bin");
    let signature = one_input(DataType::Fp32, vec![-1, 4]);
    let request = ok(decode_oip_request(body, Some(header_length("tritonclient_default")), &signature));
    assert_eq!(
        request.inputs.as_slice(),
        [NamedTensor::new("x", Tensor::new(vec![1, 4], TensorData::F32(vec![0.0, 1.0, 2.0, 3.0])))]
    );
    assert_eq!((request.outputs, request.binary_default, request.id), (vec![], Some(true), None));
}

/// The outputs of `testdata/depot_response.bin`, as the request in `tritonclient_mixed.bin` and
/// a non-UTF-8 BYTES output ask for them.
fn vector_response() -> OipResponse {
    let outputs = [
        NamedTensor::new("y", Tensor::new(vec![1, 3], TensorData::F32(vec![0.25, -2.0, f32::INFINITY]))),
        NamedTensor::new("z", Tensor::new(vec![2], TensorData::I64(vec![7, -9]))),
        NamedTensor::new("text", Tensor::new(vec![2], TensorData::Bytes(vec![b"ok".to_vec(), vec![0xff]]))),
    ];
    let request = asking(&[("z", Some(false)), ("y", Some(true)), ("text", None)], None);
    encode_oip_response("triton-vector", "1", Some("req-1"), &outputs, &request)
}

#[test]
fn response_vector_is_stable() {
    // `testdata/make_vectors.py` checks that tritonclient's parse_response_body reads this
    // response back: y binary, z as JSON, text binary because it is not UTF-8.
    let response = vector_response();
    assert_eq!(response.json_header_length, Some(header_length("depot_response")));
    assert_eq!(response.body, include_bytes!("../testdata/depot_response.bin"));
    let header = header_of(&response);
    assert_eq!(header["outputs"][0], json!({"name": "z", "datatype": "INT64", "shape": [2], "data": [7, -9]}));
    assert_eq!(header["outputs"][1]["parameters"], json!({"binary_data_size": 12}));
    assert_eq!(header["outputs"][2]["parameters"], json!({"binary_data_size": 11}));
}

#[test]
fn requested_outputs_choose_the_subset_order_and_encoding() {
    let t = |name: &str, value: i32| NamedTensor::new(name, Tensor::new(vec![1], TensorData::I32(vec![value])));
    let outputs = [t("a", 1), t("b", 2), t("c", 3)];
    let names = |response: &OipResponse| -> Vec<String> {
        header_of(response)["outputs"]
            .as_array()
            .map(|o| o.iter().map(|o| o["name"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default()
    };

    // A subset in the asked order; c binary by request, a JSON despite binary_data_output.
    let mixed =
        encode_oip_response("m", "1", None, &outputs, &asking(&[("c", Some(true)), ("a", Some(false))], Some(true)));
    assert_eq!(names(&mixed), ["c", "a"]);
    let header = header_of(&mixed);
    assert_eq!(header["outputs"][0]["parameters"]["binary_data_size"], 4);
    assert_eq!(header["outputs"][1]["data"], json!([1]));
    assert_eq!(binary_of(&mixed), 3i32.to_le_bytes());
    assert_eq!(mixed.json_header_length.map(|n| n + 4), Some(mixed.body.len()));

    // Unsaid, binary_data_output decides.
    let default = encode_oip_response("m", "1", None, &outputs, &asking(&[("b", None)], Some(true)));
    assert_eq!((names(&default), binary_of(&default)), (vec!["b".to_owned()], &2i32.to_le_bytes()[..]));

    // Nothing asked: all outputs, JSON, and no header length.
    let all = encode_oip_response("m", "1", None, &outputs, &asking(&[], None));
    assert_eq!((names(&all), all.json_header_length), (vec!["a".to_owned(), "b".to_owned(), "c".to_owned()], None));
    let all_false = encode_oip_response("m", "1", None, &outputs, &asking(&[], Some(false)));
    assert_eq!(all_false, all);
}

#[test]
fn json_output_data_is_flat_with_null_for_non_finite_floats() {
    let outputs =
        [NamedTensor::new("y", Tensor::new(vec![2, 2], TensorData::F64(vec![f64::NAN, 1.5, f64::NEG_INFINITY, 0.0])))];
    let response = encode_oip_response("m", "1", None, &outputs, &asking(&[], None));
    assert_eq!(header_of(&response)["outputs"][0]["data"], json!([null, 1.5, null, 0.0]));
    // Sent binary instead, the values survive.
    let binary = encode_oip_response("m", "1", None, &outputs, &asking(&[("y", Some(true))], None));
    let values: Vec<f64> = binary_of(&binary).as_chunks::<8>().0.iter().map(|c| f64::from_le_bytes(*c)).collect();
    assert!(values[0].is_nan() && values[2] == f64::NEG_INFINITY && values[1] == 1.5);
}

#[test]
fn binary_sizes_must_add_up() {
    let signature = one_input(DataType::Fp32, vec![-1, 4]);
    let values = [1.0, 2.0, 3.0, 4.0];

    let (body, length) = binary_x(&values, 16);
    let request = ok(decode_oip_request(&body, Some(length), &signature));
    assert_eq!(request.inputs.as_slice()[0].tensor.data, TensorData::F32(values.to_vec()));

    // Short: the body ends before the tensor does.
    let short = decode_oip_request(&body[..body.len() - 4], Some(length), &signature);
    assert_eq!(short, Err(EncodingError::BinaryTruncated { name: "x".into(), size: 16, available: 12 }));
    assert!(message(short).contains("binary_data_size 16, but only 12 bytes of binary data remain"));

    // Long: bytes that no input accounts for.
    let mut long = body.clone();
    long.extend_from_slice(&[0; 3]);
    let trailing = decode_oip_request(&long, Some(length), &signature);
    assert_eq!(trailing, Err(EncodingError::BinaryTrailing { used: 16, unused: 3 }));

    // A binary_data_size that disagrees with the shape, even when the body holds it.
    let (body, length) = binary_x(&values[..3], 12);
    let wrong = decode_oip_request(&body, Some(length), &signature);
    assert_eq!(
        message(wrong),
        "input \"x\" has shape [1, 4] of FP32, which is 16 bytes, but its binary_data_size is 12"
    );

    // A header length beyond the body.
    let beyond = decode_oip_request(&body, Some(body.len() + 1), &signature);
    assert_eq!(beyond, Err(EncodingError::HeaderBeyondBody { header_length: body.len() + 1, body_length: body.len() }));
    // One that cuts the JSON short.
    assert!(matches!(decode_oip_request(&body, Some(length - 1), &signature), Err(EncodingError::Malformed { .. })));
    // Binary data with no header length at all.
    let header =
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}]});
    assert_eq!(decode_json(&header, &signature), Err(EncodingError::BinaryWithoutHeaderLength { name: "x".into() }));
    // A header length with nothing after it, and no binary input: plain JSON.
    let plain =
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}).to_string();
    assert!(decode_oip_request(plain.as_bytes(), Some(plain.len()), &signature).is_ok());
}

#[test]
fn binary_bytes_elements_are_length_prefixed() {
    let signature = one_input(DataType::Bytes, vec![-1]);
    let decode = |count: usize, binary: &[u8]| {
        let header = json!({"inputs": [{"name": "x", "shape": [count], "datatype": "BYTES",
                                         "parameters": {"binary_data_size": binary.len()}}]});
        let (body, length) = with_binary(&header, binary);
        decode_oip_request(&body, Some(length), &signature).map(|r| r.inputs.into_inner().remove(0).tensor.data)
    };
    let two = [3, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 0];
    assert_eq!(decode(2, &two), Ok(TensorData::Bytes(vec![b"abc".to_vec(), Vec::new()])));
    assert_eq!(decode(0, &[]), Ok(TensorData::Bytes(vec![])));

    // A prefix cut short.
    let cut = decode(2, &two[..9]);
    assert_eq!(cut, Err(EncodingError::BytesTruncated { name: "x".into(), index: 1, needed: 4, available: 2 }));
    // A length beyond the data.
    let beyond = decode(1, &[9, 0, 0, 0, b'a']);
    assert_eq!(beyond, Err(EncodingError::BytesTruncated { name: "x".into(), index: 0, needed: 13, available: 5 }));
    assert!(message(beyond).contains("binary BYTES element 0 needs 13 bytes"));
    let huge = decode(1, &[0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(huge, Err(EncodingError::BytesTruncated { needed: 0x1_0000_0003, .. })), "{huge:?}");
    // More or fewer elements than the shape holds.
    let count = decode(3, &two);
    assert_eq!(
        count,
        Err(ValidationError::LengthMismatch { name: "x".into(), shape: vec![3], expected: 3, actual: 2 }.into())
    );
    // A vast shape over a few bytes is refused without reserving room for it.
    assert!(matches!(decode(1 << 40, &two), Err(EncodingError::Invalid(ValidationError::LengthMismatch { .. }))));
}

#[test]
fn binary_bool_is_zero_or_one() {
    let signature = one_input(DataType::Bool, vec![-1]);
    let header =
        json!({"inputs": [{"name": "x", "shape": [3], "datatype": "BOOL", "parameters": {"binary_data_size": 3}}]});
    let (body, length) = with_binary(&header, &[1, 0, 2]);
    let error = decode_oip_request(&body, Some(length), &signature);
    assert_eq!(error, Err(EncodingError::InvalidBool { name: "x".into(), index: 2, byte: 2 }));
}

#[test]
fn json_data_may_be_flat_or_nested_in_any_field_order() {
    let signature = one_input(DataType::Int64, vec![-1, 2]);
    let expected = Tensor::new(vec![2, 2], TensorData::I64(vec![1, 2, 3, -4]));
    for data in [json!([1, 2, 3, -4]), json!([[1, 2], [3, -4]])] {
        let request = ok(decode_json(
            &json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": data}]}),
            &signature,
        ));
        assert_eq!(request.inputs.as_slice()[0].tensor, expected);
    }
    // `data` before `name` and `datatype`: kept as text until they are known.
    let reordered = br#"{"inputs": [{"data": [[1, 2], [3, -4]], "shape": [2, 2], "datatype": "INT64", "name": "x"}]}"#;
    assert_eq!(ok(decode_oip_request(reordered, None, &signature)).inputs.as_slice()[0].tensor, expected);

    let short = decode_json(
        &json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3]}]}),
        &signature,
    );
    assert_eq!(message(short), "input \"x\" has shape [2, 2], which holds 4 elements, but 3 were given");
    let ragged = decode_json(
        &json!({"inputs": [{"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [[1, 2], [3]]}]}),
        &signature,
    );
    assert!(matches!(ragged, Err(EncodingError::RaggedLength { .. })), "{ragged:?}");
    let fraction = decode_json(
        &json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, 3.5]}]}),
        &signature,
    );
    assert!(
        message(fraction).contains(
            "input \"x\": element 1 (row-major) is 3.5, which is not a valid INT64: it is not a whole number"
        )
    );
    let text = decode_json(
        &json!({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, "2"]}]}),
        &signature,
    );
    assert!(matches!(text, Err(EncodingError::InvalidElement { index: 1, .. })), "{text:?}");
}

#[test]
fn data_and_binary_data_size_are_one_or_the_other() {
    let signature = one_input(DataType::Fp32, vec![-1]);
    let both = json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1], "parameters": {"binary_data_size": 4}}]});
    let (body, length) = with_binary(&both, &1f32.to_le_bytes());
    assert_eq!(
        decode_oip_request(&body, Some(length), &signature),
        Err(EncodingError::DataAndBinary { name: "x".into() })
    );
    let neither = json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]});
    assert_eq!(decode_json(&neither, &signature), Err(EncodingError::NoData { name: "x".into() }));
    let shared = json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"shared_memory_region": "r"}}]});
    assert_eq!(
        message(decode_json(&shared, &signature)),
        "input \"x\" has parameter \"shared_memory_region\", which Depot does not support"
    );
}

#[test]
fn stated_datatype_must_be_the_models() {
    let signature = one_input(DataType::Fp32, vec![-1]);
    let input = |datatype: &str| json!({"inputs": [{"name": "x", "shape": [1], "datatype": datatype, "data": [1]}]});
    let mismatch = decode_json(&input("INT32"), &signature);
    assert_eq!(message(mismatch), "input \"x\" has datatype INT32, but the model expects FP32");
    let fp16 = decode_json(&input("FP16"), &signature);
    assert_eq!(fp16, Err(EncodingError::UnsupportedDatatype { name: "x".into(), datatype: DataType::Fp16 }));
    assert!(matches!(decode_json(&input("float32"), &signature), Err(EncodingError::UnknownDatatype { .. })));

    // A model whose input is BF16, asked for in BF16, as JSON or as binary.
    let bf16 = one_input(DataType::Bf16, vec![-1]);
    let header =
        json!({"inputs": [{"name": "x", "shape": [1], "datatype": "BF16", "parameters": {"binary_data_size": 2}}]});
    let (body, length) = with_binary(&header, &[0, 0]);
    let refused = decode_oip_request(&body, Some(length), &bf16);
    assert_eq!(refused, Err(EncodingError::UnsupportedDatatype { name: "x".into(), datatype: DataType::Bf16 }));
    assert!(message(refused).contains("datatype BF16, which Depot does not serve"));
}

#[test]
fn outputs_must_be_the_models_and_plain() {
    let signature = one_input(DataType::Fp32, vec![-1]);
    let request = |outputs: Value| json!({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": outputs});
    let unknown = decode_json(&request(json!([{"name": "scores"}])), &signature);
    assert_eq!(message(unknown), "unknown output \"scores\": the model's outputs are \"y\"");
    let twice = decode_json(&request(json!([{"name": "y"}, {"name": "y"}])), &signature);
    assert_eq!(twice, Err(EncodingError::DuplicateOutput { name: "y".into() }));
    let classification = decode_json(&request(json!([{"name": "y", "parameters": {"classification": 3}}])), &signature);
    assert_eq!(message(classification), "output \"y\" has parameter \"classification\", which Depot does not support");
    let asked = ok(decode_json(&request(json!([{"name": "y", "parameters": {"binary_data": true}}])), &signature));
    assert_eq!(asked.outputs, [RequestedOutput { name: "y".into(), binary: Some(true) }]);
    // Unknown inputs list the model's.
    let stray = json!({"inputs": [{"name": "z", "shape": [1], "datatype": "FP32", "data": [1]}]});
    assert_eq!(message(decode_json(&stray, &signature)), "unknown input \"z\": the model's inputs are \"x\"");
    let missing = json!({"inputs": []});
    assert!(matches!(
        decode_json(&missing, &signature),
        Err(EncodingError::Invalid(ValidationError::MissingInput { .. }))
    ));
}

#[test]
fn malformed_requests_are_errors_not_panics() {
    let signature = one_input(DataType::Fp32, vec![-1]);
    let bodies: [&[u8]; 11] = [
        b"",
        b"{",
        b"[]",
        br#"{"inputs": 1}"#,
        br#"{"inputs": [{"name": "x", "datatype": "FP32", "data": [1]}]}"#,
        br#"{"inputs": [{"name": "x", "shape": [-1], "datatype": "FP32", "data": [1]}]}"#,
        br#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "parameters": {"binary_data_size": -4}}]}"#,
        br#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1}]}"#,
        br#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [{"a": 1}]}]}"#,
        br#"{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}], "outputs": [{"name": 5}]}"#,
        b"{\"inputs\": [{\"name\": \"\xff\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [1]}]}",
    ];
    for body in bodies {
        for header_length in [None, Some(body.len())] {
            let error = decode_oip_request(body, header_length, &signature).expect_err("refused");
            assert!(!error.to_string().is_empty());
        }
    }
    let negative = decode_oip_request(bodies[5], None, &signature);
    assert_eq!(negative, Err(EncodingError::InvalidShape { name: "x".into(), shape: vec![-1] }));
    assert!(message(decode_oip_request(bodies[4], None, &signature)).contains("missing field `shape`"));
}

#[test]
fn error_body_is_json() {
    let body = oip_error_body("input \"x\" is\nwrong");
    assert_eq!(serde_json::from_slice::<Value>(&body).ok(), Some(json!({"error": "input \"x\" is\nwrong"})));
}

#[test]
fn inputs_come_in_signature_order_with_binary_data_read_in_request_order() {
    let signature = Signature {
        inputs: vec![
            TensorSpec::tensor("a", DataType::Int32, vec![-1]),
            TensorSpec::tensor("b", DataType::Int32, vec![-1]),
        ],
        outputs: vec![TensorSpec::tensor("y", DataType::Int32, vec![-1])],
    };
    // `b` comes first in the request, so its binary data comes first in the body.
    let header = json!({"inputs": [
        {"name": "b", "shape": [1], "datatype": "INT32", "parameters": {"binary_data_size": 4}},
        {"name": "a", "shape": [2], "datatype": "INT32", "parameters": {"binary_data_size": 8}},
    ]});
    let binary: Vec<u8> = [7i32, 1, 2].iter().flat_map(|v| v.to_le_bytes()).collect();
    let (body, length) = with_binary(&header, &binary);
    let request = ok(decode_oip_request(&body, Some(length), &signature));
    assert_eq!(
        request.inputs.into_inner(),
        [
            NamedTensor::new("a", Tensor::new(vec![2], TensorData::I32(vec![1, 2]))),
            NamedTensor::new("b", Tensor::new(vec![1], TensorData::I32(vec![7]))),
        ]
    );
}

/// The request and its objects are JSON objects: serde would also take an array of a struct's
/// fields (`[null, null, [..]]`), which the protocol does not allow.
#[test]
fn objects_given_as_arrays_are_malformed() {
    let signature = one_input(DataType::Fp32, vec![-1, 4]);
    let input = json!({"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]});
    ok(decode_json(&json!({"inputs": [input], "outputs": [{"name": "y", "parameters": {}}]}), &signature));
    for body in [
        json!([null, null, [input]]),
        json!({"inputs": [["x", [1, 4], "FP32", null, [1, 2, 3, 4]]]}),
        json!({"inputs": [input], "parameters": [true]}),
        json!({"inputs": [input], "outputs": [["y"]]}),
        json!({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4], "parameters": [4]}]}),
    ] {
        match decode_json(&body, &signature) {
            Err(EncodingError::Malformed { message }) => {
                assert!(message.contains("expected a JSON object"), "{message}")
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}
