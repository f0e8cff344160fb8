//! The fast path (`scan`): it decodes what it takes exactly as the serde path does, gives up on
//! everything else so that the serde path's errors stay as they were, and never panics. Most
//! tests decode each body both ways and compare the results, errors included.

use depot_domain::{DataType, Signature, TensorSpec, ValidatedInputs};
use serde_json::Value;

use super::{every_datatype, one_input, signature_of};
use crate::tensors::EncodingError;
use crate::tensors::element::Scalar;
use crate::tensors::oip::{OipRequest, Path, decode_oip_request_by};
use crate::tensors::scan::{self, Scanner};
use crate::tensors::simple::{decode_fast, decode_serde};
use crate::tensors::{decode_oip_request, decode_simple_inputs};

const MLP_SIMPLE: &[u8] = include_bytes!("../../../../../scripts/bench/mlp.v1.json");
const MLP_OIP: &[u8] = include_bytes!("../../../../../scripts/bench/mlp.v2.json");

/// The MLP's signature: `x`, FP32 `[-1, 784]`.
fn mlp() -> Signature {
    one_input(DataType::Fp32, vec![-1, 784])
}

/// `x` of `datatype`, any rank.
fn any_rank(datatype: DataType) -> Signature {
    let mut signature = one_input(datatype, vec![]);
    signature.inputs[0].shape = None;
    signature
}

/// Results compared as text, so that NaN equals NaN and -0.0 differs from 0.0.
fn text<T: std::fmt::Debug>(result: &Result<T, EncodingError>) -> String {
    format!("{result:?}")
}

/// Decodes a simple-API body by both paths and checks that they agree; the result.
fn simple_both(body: &[u8], signature: &Signature) -> Result<ValidatedInputs, EncodingError> {
    let fast = decode_simple_inputs(body, signature);
    let serde = decode_serde(body, signature).and_then(|inputs| Ok(ValidatedInputs::new(signature, inputs)?));
    assert_eq!(text(&fast), text(&serde), "body {:?}", String::from_utf8_lossy(body));
    fast
}

/// Decodes an OIP body by both paths and checks that they agree; the result.
fn oip_both(body: &[u8], header_length: Option<usize>, signature: &Signature) -> Result<OipRequest, EncodingError> {
    let fast = decode_oip_request_by(body, header_length, signature, Path::Fast);
    let serde = decode_oip_request_by(body, header_length, signature, Path::Serde);
    assert_eq!(text(&fast), text(&serde), "body {:?}", String::from_utf8_lossy(body));
    // Which path the public function takes depends on the size of the JSON.
    let public = decode_oip_request(body, header_length, signature);
    assert_eq!(text(&public), text(&serde), "body {:?}", String::from_utf8_lossy(body));
    fast
}

/// `x`'s value in both APIs' bodies, decoded both ways, for each datatype.
fn value_both(value: &str, datatypes: &[DataType]) {
    for &datatype in datatypes {
        let signature = any_rank(datatype);
        let simple = simple_both(format!(r#"{{"inputs": {{"x": {value}}}}}"#).as_bytes(), &signature);
        // Flat in OIP: as many elements as the simple API found, if it found any.
        let len = simple.map_or(1, |inputs| inputs.as_slice()[0].tensor.len());
        let oip =
            format!(r#"{{"inputs": [{{"name": "x", "shape": [{len}], "datatype": "{datatype}", "data": {value}}}]}}"#);
        oip_both(oip.as_bytes(), None, &signature).ok();
    }
}

const NUMERIC: [DataType; 10] = [
    DataType::Uint8,
    DataType::Uint16,
    DataType::Uint32,
    DataType::Uint64,
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::Fp32,
    DataType::Fp64,
];

const ALL: [DataType; 12] = [
    DataType::Bool,
    DataType::Uint8,
    DataType::Uint16,
    DataType::Uint32,
    DataType::Uint64,
    DataType::Int8,
    DataType::Int16,
    DataType::Int32,
    DataType::Int64,
    DataType::Fp32,
    DataType::Fp64,
    DataType::Bytes,
];

/// A number as the scanner reads it, or `None`.
fn scanned(literal: &str) -> Option<Scalar<'static>> {
    let mut s = Scanner::new(literal.as_bytes());
    let value = s.number()?;
    s.at_end().then_some(value)
}

/// A number as serde_json reads it, or `None`.
fn serde_number(literal: &str) -> Option<Scalar<'static>> {
    let number = match serde_json::from_str::<Value>(literal).ok()? {
        Value::Number(number) => number,
        _ => return None,
    };
    Some(match (number.as_u64(), number.as_i64(), number.as_f64()) {
        (Some(v), _, _) => Scalar::U64(v),
        (_, Some(v), _) => Scalar::I64(v),
        (_, _, Some(v)) => Scalar::F64(v),
        _ => return None,
    })
}

/// Bit-exact equality, so that -0.0 differs from 0.0.
fn same(a: Option<Scalar<'_>>, b: Option<Scalar<'_>>) -> bool {
    match (a, b) {
        (Some(Scalar::F64(a)), Some(Scalar::F64(b))) => a.to_bits() == b.to_bits(),
        (a, b) => a == b,
    }
}

fn check_number(literal: &str) {
    let (fast, serde) = (scanned(literal), serde_number(literal));
    // The scanner may give up where serde_json reads a number, never the other way round.
    assert!(fast.is_none() || same(fast, serde), "{literal}: scanner {fast:?}, serde_json {serde:?}");
}

#[test]
fn the_mlp_bodies_take_the_fast_path() {
    let signature = mlp();
    let inputs = decode_fast(MLP_SIMPLE, &signature).expect("the fast path takes the simple body");
    assert_eq!(inputs[0].tensor.shape, [1, 784]);
    let skeleton = scan::oip_skeleton(MLP_OIP).expect("the fast path takes the OIP body");
    assert_eq!(skeleton.inputs.len(), 1);
    assert!(skeleton.inputs[0].as_ref().is_some_and(|decoded| decoded.data.len() == 784));
    assert!(skeleton.text.len() < 200, "{}", String::from_utf8_lossy(&skeleton.text));

    let simple = simple_both(MLP_SIMPLE, &signature).expect("decodes");
    let oip = oip_both(MLP_OIP, None, &signature).expect("decodes");
    assert_eq!(simple, oip.inputs);
}

#[test]
fn numbers_read_as_serde_json_reads_them() {
    let literals = [
        "0",
        "-0",
        "1",
        "-1",
        "0.0",
        "-0.0",
        "1.5",
        "-1.5",
        "1e3",
        "1E3",
        "1e+3",
        "1e-3",
        "-1e-3",
        "1.0e00005",
        "0.1",
        "0.2",
        "0.30000000000000004",
        "1e-400",
        "-1e-400",
        "5e-324",
        "2.4703282292062328e-324",
        "2.2250738585072011e-308",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "9007199254740993",
        "9007199254740993.0",
        // 2^60 + 2^36 + 1: f32 rounds it up, but through f64 it lands halfway and rounds down.
        "1152921573326323713",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "-18446744073709551615",
        "-18446744073709551616",
        "123456789012345678901234567890",
        "0.000000000000000000000000000000000000000000001e-300",
        "0e99999999999999999999",
        "-0e-99999999999999999999",
        "1e-99999999999999999999",
        "100000000000000000000000000000000000000000000000000000000000000000000000e-70",
        "3.4028235e38",
        "3.4028236e38",
        "1.401298464324817e-45",
        "0.058823529411764705",
        "0.9411764705882353",
        // Not numbers, or out of range: the scanner must give up (serde_json refuses them too).
        "01",
        "-01",
        "00",
        "+1",
        ".5",
        "5.",
        "5.e3",
        "1e",
        "1e+",
        "-",
        "--1",
        "-a",
        "",
        "1e999",
        "-1e999",
        "1e99999999999999999999",
        "1.7976931348623159e308",
        "NaN",
        "Infinity",
        "-Infinity",
        "inf",
        "0x10",
        "1_000",
        "1.5.5",
        "1e5e5",
        " 1",
    ];
    for literal in literals {
        check_number(literal);
    }
    for literal in ["1e999", "-1e999", "1e99999999999999999999", "01", "+1", ".5", "5.", "1e", "NaN", "0x10"] {
        assert_eq!(scanned(literal), None, "{literal}");
    }
    assert!(same(scanned("-0"), Some(Scalar::F64(-0.0))));
    assert_eq!(scanned("-9223372036854775808"), Some(Scalar::I64(i64::MIN)));
    assert_eq!(scanned("18446744073709551615"), Some(Scalar::U64(u64::MAX)));
    assert_eq!(scanned("18446744073709551616"), Some(Scalar::F64(18_446_744_073_709_551_616.0)));
}

/// A small xorshift generator: the same numbers every run.
fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn floats_read_bit_for_bit_as_serde_json_reads_them() {
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let bits = next();
        let value = f64::from_bits(bits);
        if !value.is_finite() {
            continue;
        }
        // Also the f64 nearest to an f32, as f32 data written as f64 reads.
        let narrow = Some(f64::from(value as f32)).filter(|narrow| narrow.is_finite()).unwrap_or(value);
        for literal in [format!("{value:?}"), format!("{value:e}"), format!("{value:.17e}"), format!("{narrow:?}")] {
            check_number(&literal);
            assert!(scanned(&literal).is_some(), "{literal}");
        }
        // Long and halfway-ish mantissas: digits of the bits, with a random exponent.
        let digits = format!("{bits}{}", next());
        let exponent = (next() % 700) as i64 - 350;
        check_number(&format!("{digits}e{exponent}"));
        check_number(&format!("0.{digits}e{exponent}"));
        check_number(&format!("-{}.{}", &digits[..1], &digits[1..]));
    }
}

#[test]
fn float_elements_decode_as_the_serde_path_decodes_them() {
    // Float elements are read straight as an `f64` below 2^53 and the long way above it: whole
    // numbers either side of 2^53 (and of 2^24, where f32 rounds), beyond u64 and i64, zeros,
    // and numbers beyond f32's range.
    let edges = [
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "-9007199254740993",
        "9007199254740991.5",
        // 2^60 + 2^36 + 1: f32 rounds it up, but through f64 it lands halfway and rounds down.
        "1152921573326323713",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        "16777217",
        "-16777217",
        "16777217.000000001",
        "0",
        "-0",
        "-0.0",
        "0.0e0",
        "1E2",
        "2e+1",
        "25e-1",
        "1e-400",
        "3.4028235e38",
        "3.4028236e38",
        "3.5e38",
        "1e308",
        "null",
    ];
    value_both(&format!("[{}]", edges.join(", ")), &[DataType::Fp32, DataType::Fp64]);
    for edge in edges {
        value_both(&format!("[[{edge}],[{edge}]]"), &[DataType::Fp32, DataType::Fp64]);
    }
    // What serde_json refuses, or reads as something else, both at the start of an array and
    // after a number the shortcut read.
    for bad in
        ["1e400", "-1e400", "01", "-01", "1.", ".5", "+1", "-", "1e", "1.e5", "0x1", "true", "\"1\"", "[1]", "NaN"]
    {
        value_both(&format!("[{bad}]"), &[DataType::Fp32, DataType::Fp64]);
        value_both(&format!("[0.5, {bad}, 2]"), &[DataType::Fp32, DataType::Fp64]);
    }
    // Many floats, as f32 data written as f64 reads and with long mantissas.
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let mut literals = Vec::new();
    while literals.len() < 4_000 {
        let value = f64::from_bits(next());
        if value.is_finite() {
            literals.push(format!("{:?}", f64::from(value as f32)));
            literals.push(format!("{value:e}"));
        }
    }
    value_both(&format!("[{}]", literals.join(",")), &[DataType::Fp32, DataType::Fp64]);
}

#[test]
fn every_datatype_decodes_alike_both_ways() {
    let tensors = every_datatype();
    let signature = signature_of(&tensors);
    let mut body = Vec::new();
    crate::tensors::write_simple_response(&mut body, "m", 1, &tensors);
    let response: Value = serde_json::from_slice(&body).expect("JSON");
    // As objects (datatype, shape, data), and as bare nested arrays.
    let objects = serde_json::json!({ "inputs": response["outputs"] });
    simple_both(objects.to_string().as_bytes(), &signature).expect("decodes");
    let bare: serde_json::Map<String, Value> =
        tensors.iter().map(|t| (t.name.clone(), response["outputs"][&t.name]["data"].clone())).collect();
    simple_both(serde_json::json!({ "inputs": bare }).to_string().as_bytes(), &signature).expect("decodes");
    // Pretty-printed: whitespace everywhere.
    let pretty = serde_json::to_string_pretty(&objects).expect("JSON");
    simple_both(pretty.as_bytes(), &signature).expect("decodes");

    let oip = crate::tensors::encode_oip_response("m", "1", None, &tensors, &asking_all());
    let header: Value = serde_json::from_slice(&oip.body).expect("JSON");
    let request = serde_json::json!({ "inputs": header["outputs"] });
    oip_both(request.to_string().as_bytes(), None, &signature).expect("decodes");
    let pretty = serde_json::to_string_pretty(&request).expect("JSON");
    oip_both(pretty.as_bytes(), None, &signature).expect("decodes");
}

fn asking_all() -> OipRequest {
    OipRequest {
        id: None,
        inputs: ValidatedInputs::new(&Signature::default(), Vec::new()).expect("no inputs"),
        outputs: Vec::new(),
        binary_default: None,
    }
}

#[test]
fn values_decode_and_fail_alike_both_ways() {
    let values = [
        // Shapes.
        "1",
        "[1]",
        "[[1]]",
        "[[1, 2], [3, 4]]",
        "[[[1], [2]], [[3], [4]]]",
        "[]",
        "[[]]",
        "[[], []]",
        "[[[]]]",
        "[ [ 1 , 2 ] , [ 3 , 4 ] ]",
        "\n[\t[1,\r\n2]\n]\n",
        // Ragged.
        "[[1, 2], [3]]",
        "[[1, 2], 3]",
        "[1, [2, 3]]",
        "[[1], [[2]]]",
        "[[], [1]]",
        "[[1], []]",
        "[[[1]], [2]]",
        // Numbers at the edges of each type.
        "[0, 255, 256, -1]",
        "[-128, 127, -129, 128]",
        "[65535, 65536]",
        "[-32768, 32767, -32769]",
        "[4294967295, 4294967296]",
        "[-2147483648, 2147483647, -2147483649]",
        "[18446744073709551615]",
        "[18446744073709551616]",
        "[-9223372036854775808, 9223372036854775807]",
        "[-9223372036854775809]",
        "[9223372036854775808]",
        "[2.0, 1e3, -0, -0.0, 0.5]",
        "[9007199254740992.0, 9007199254740993.0]",
        "[1e19]",
        "[1e20]",
        "[-1e19]",
        "[3.4028235e38]",
        "[3.4028236e38]",
        "[3.5e38]",
        "[-3.5e38]",
        "[1e-50]",
        "[1.7976931348623157e308]",
        "[1e999]",
        "[-1e999]",
        "[1e99999999999999999999]",
        "[1e-400]",
        "[-0]",
        "[0.1, 0.2, 0.30000000000000004]",
        // Not JSON numbers.
        "[01]",
        "[-01]",
        "[00]",
        "[+1]",
        "[.5]",
        "[5.]",
        "[5.e3]",
        "[1e]",
        "[1e+]",
        "[-]",
        "[NaN]",
        "[Infinity]",
        "[-Infinity]",
        "[0x10]",
        "[1_0]",
        "[1.5.5]",
        "[1 2]",
        "[1,,2]",
        "[1,]",
        "[,1]",
        "[",
        "]",
        "[1",
        "[1,",
        "[[1]",
        "[1]]",
        "[1]x",
        // Other kinds.
        "[null]",
        "[null, 1]",
        "null",
        "[true, false]",
        "true",
        "[true, 1]",
        "[\"1\"]",
        "\"a\"",
        "[\"a\", \"b\"]",
        "[{}]",
        "{}",
        "[[1], {}]",
        "[tru]",
        "[nul]",
        "[falsey]",
        "[truex]",
    ];
    for value in values {
        value_both(value, &ALL);
    }
    value_both(&format!("[{}]", vec!["0.5"; 1000].join(",")), &NUMERIC);
}

#[test]
fn deep_nesting_is_left_to_serde() {
    for depth in [1, 31, 32, 33, 100, 126, 127, 128, 129, 200, 5000] {
        let value = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        value_both(&value, &[DataType::Fp32, DataType::Int64]);
        let open = "[".repeat(depth);
        value_both(&open, &[DataType::Fp32]);
    }
    // The fast path takes nesting to its limit, and no deeper.
    let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let failure = crate::tensors::json::Failure::default();
    let cx = crate::tensors::json::Cx { name: "x", failure: &failure };
    assert!(scan::data_text::<f32>(nested(scan::MAX_DEPTH).as_bytes(), cx).is_some());
    assert!(scan::data_text::<f32>(nested(scan::MAX_DEPTH + 1).as_bytes(), cx).is_none());
}

#[test]
fn simple_bodies_decode_and_fail_alike_both_ways() {
    let fp32 = any_rank(DataType::Fp32);
    let two = Signature {
        inputs: vec![
            TensorSpec::tensor("a", DataType::Fp32, vec![-1]),
            TensorSpec::tensor("b", DataType::Int64, vec![-1, 2]),
        ],
        outputs: vec![TensorSpec::tensor("y", DataType::Fp32, vec![-1])],
    };
    let bodies = [
        r#"{"inputs": {"x": [1, 2]}}"#,
        r#"  {  "inputs"  :  {  "x"  :  [ 1 , 2 ]  }  }  "#,
        r#"{"inputs": {}}"#,
        r#"{}"#,
        r#"[]"#,
        r#""#,
        r#"   "#,
        r#"{"inputs": {"x": [1, 2]}} x"#,
        r#"{"inputs": {"x": [1, 2]}}}"#,
        r#"{"inputs": {"x": [1, 2]},}"#,
        r#"{"inputs": {"x": [1, 2],}}"#,
        r#"{"inputs": {"x": [1, 2]}, "inputs": {"x": [1]}}"#,
        r#"{"inputs": {"x": [1, 2]}, "outputs": []}"#,
        r#"{"outputs": [], "inputs": {"x": [1, 2]}}"#,
        r#"{"inputs": {"x": [1, 2], "x": [3]}}"#,
        r#"{"inputs": {"y": [1, 2]}}"#,
        r#"{"inputs": {"\u0078": [1, 2]}}"#,
        r#"{"\u0069nputs": {"x": [1, 2]}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [2, 2]}}}"#,
        r#"{"inputs": {"x": {"shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [3]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [-4]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [4.0]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [-0]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [9223372036854775808]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": [4294967296, 4294967296, 4294967296]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "shape": null}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "datatype": "INT64"}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "datatype": "FP16"}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "datatype": "float"}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2, 3, 4], "datatype": "FP\u0033\u0032"}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2], "data": [1, 2]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2], "shape": [2], "shape": [2]}}}"#,
        r#"{"inputs": {"x": {"data": [1, 2], "extra": 1}}}"#,
        r#"{"inputs": {"x": {"shape": [2]}}}"#,
        r#"{"inputs": {"x": {}}}"#,
        r#"{"inputs": {"x": {"data": {"data": [1]}}}}"#,
        "\u{feff}{\"inputs\": {\"x\": [1]}}",
        "{\"inputs\": {\"x\": [1]}}\u{0}",
        "{\"inputs\": {\"x\u{1}\": [1]}}",
        "/* comment */ {\"inputs\": {\"x\": [1]}}",
    ];
    for body in bodies {
        simple_both(body.as_bytes(), &fp32).ok();
    }
    for body in [
        r#"{"inputs": {"a": [1.5, 2.5], "b": [[1, 2], [3, 4]]}}"#,
        r#"{"inputs": {"b": [[1, 2]], "a": []}}"#,
        r#"{"inputs": {"b": [[1, 2.5]], "a": [1]}}"#,
        r#"{"inputs": {"a": [1]}}"#,
        r#"{"inputs": {"a": [1], "b": [1, 2]}}"#,
        r#"{"inputs": {"a": [1], "b": [[1, 2, 3]]}}"#,
    ] {
        simple_both(body.as_bytes(), &two).ok();
    }
    // Invalid UTF-8 in a name.
    simple_both(b"{\"inputs\": {\"x\xff\": [1]}}", &fp32).expect_err("not UTF-8");
}

#[test]
fn oip_bodies_decode_and_fail_alike_both_ways() {
    let signature = one_input(DataType::Fp32, vec![-1, 2]);
    let input = r#"{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}"#;
    let bodies = [
        format!(r#"{{"inputs": [{input}]}}"#),
        format!(r#"{{"id": "7", "inputs": [{input}], "outputs": [{{"name": "y", "parameters": {{"binary_data": true}}}}]}}"#),
        format!(r#"{{"id": "a \"quoted\" [id]", "parameters": {{"binary_data_output": true, "other": [1, {{}}]}}, "inputs": [{input}]}}"#),
        format!(r#"{{"inputs": [{input}], "id": 7}}"#),
        format!(r#"{{"inputs": [{input}], "inputs": [{input}]}}"#),
        format!(r#"{{"inputs": [{input}, {input}]}}"#),
        format!(r#"{{"inputs": [{input}], "outputs": [{{"name": "y", "data": [1, 2]}}]}}"#),
        format!(r#"{{"inputs": [{input}], "outputs": [{{"name": "z"}}]}}"#),
        format!(r#"{{"inputs": [{input}],}}"#),
        format!(r#"{{"inputs": [{input},]}}"#),
        format!(r#"{{"inputs": [{input}]}} x"#),
        format!(r#"{{"inputs": [{input}], "extra": "\"}}]"}}"#),
        format!(r#"{{"extra": "\\", "inputs": [{input}]}}"#),
        format!(r#"{{"extra": "[{{", "inputs": [{input}]}}"#),
        format!(r#"{{"inputs": [{input}], "extra": [1, 2}}"#),
        format!(r#"{{"inputs": [{input}], "extra": tru}}"#),
        format!(r#"{{"inputs": [{input}], "extra": }}"#),
        format!(r#"{{"inputs": [{input}] "extra": 1}}"#),
        format!(r#"{{"\u0069nputs": [{input}]}}"#),
        format!(r#"[{input}]"#),
        format!(r#"{{"inputs": {input}}}"#),
        format!(r#"{{"inputs": [[{input}]]}}"#),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2], "data": [3, 4]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "datatype": "FP32", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "data": [1, 2], "datatype": "FP32"}]}"#.to_owned(),
        r#"{"inputs": [{"data": [1, 2], "name": "x", "shape": [1, 2], "datatype": "FP32"}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT8", "data": [1, 200]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BOOL", "data": [true, false]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP16", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "F\u0050\u00332", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2, 3]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [2, 1], "datatype": "FP32", "data": [[1], [2]]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [[1], [2, 3]]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 1e999]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 01]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, "2"]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, null]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2,]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2], "parameters": {"binary_data_size": 8}}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2], "parameters": [8]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2], "parameters": {"shared_memory_region": "r"}}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32"}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [-1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "w", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": 1}]}"#.to_owned(),
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": null}]}"#.to_owned(),
        r#"{"inputs": [{}]}"#.to_owned(),
        r#"{"inputs": []}"#.to_owned(),
        r#"{}"#.to_owned(),
        r#""#.to_owned(),
    ];
    for body in &bodies {
        oip_both(body.as_bytes(), None, &signature).ok();
    }
    // With binary data after the JSON.
    let header =
        r#"{"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}"#;
    let mut body = header.as_bytes().to_vec();
    body.extend([1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()));
    oip_both(&body, Some(header.len()), &signature).expect("decodes");
    let two = Signature {
        inputs: vec![
            TensorSpec::tensor("a", DataType::Fp32, vec![-1]),
            TensorSpec::tensor("b", DataType::Int64, vec![-1]),
        ],
        outputs: vec![TensorSpec::tensor("y", DataType::Fp32, vec![-1])],
    };
    let header = r#"{"inputs": [{"name": "b", "shape": [2], "datatype": "INT64", "data": [1, 2]}, {"name": "a", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}"#;
    let mut body = header.as_bytes().to_vec();
    body.extend([1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()));
    oip_both(&body, Some(header.len()), &two).expect("decodes");
}

#[test]
fn truncated_bodies_fail_alike_both_ways() {
    let signature = one_input(DataType::Fp32, vec![-1, 2]);
    let simple = br#" { "inputs" : { "x" : [ [ 1.5 , -2e-3 ] , [ 0 , null ] ] } } "#;
    let oip = br#" { "id" : "1" , "inputs" : [ { "name" : "x" , "shape" : [ 2 , 2 ] , "datatype" : "FP32" , "data" : [ [ 1.5 , -2e-3 ] , [ 0 , null ] ] } ] } "#;
    for end in 0..=simple.len() {
        simple_both(&simple[..end], &signature).ok();
    }
    for end in 0..=oip.len() {
        oip_both(&oip[..end], None, &signature).ok();
    }
    // The MLP bodies, cut anywhere in the numbers.
    let mlp = mlp();
    for end in (0..MLP_SIMPLE.len()).step_by(97) {
        simple_both(&MLP_SIMPLE[..end], &mlp).expect_err("truncated");
    }
    for end in (0..MLP_OIP.len()).step_by(97) {
        oip_both(&MLP_OIP[..end], None, &mlp).expect_err("truncated");
    }
}

/// Bodies with a byte changed here and there, decoded both ways: the same result every time,
/// and no panic.
#[test]
fn mutated_bodies_decode_and_fail_alike_both_ways() {
    let signature = one_input(DataType::Fp32, vec![-1, 3]);
    let int8 = one_input(DataType::Int8, vec![-1, 3]);
    let simple = br#"{"inputs": {"x": [[1.5, -2e-3, 0], [7, null, 1E+2]]}}"#;
    let oip = br#"{"id": "q", "inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [[1.5, -2e-3, 0], [7, null, 1E+2]]}], "outputs": [{"name": "y"}]}"#;
    let oip_int8 =
        br#"{"inputs": [{"name": "x", "shape": [2, 3], "datatype": "INT8", "data": [1, -2, 0, 7, 127, -128]}]}"#;
    let replacements = b"[]{},:\"\\ \n0123456789-+.eEtrufalsn/x\xff";
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    for _ in 0..3000 {
        for (body, signature, is_oip) in
            [(&simple[..], &signature, false), (&oip[..], &signature, true), (&oip_int8[..], &int8, true)]
        {
            let mut body = body.to_vec();
            for _ in 0..1 + next(3) {
                let at = next(body.len());
                match next(4) {
                    0 => {
                        body.remove(at);
                    }
                    1 => body.insert(at, replacements[next(replacements.len())]),
                    _ => body[at] = replacements[next(replacements.len())],
                }
            }
            if is_oip {
                oip_both(&body, None, signature).ok();
            } else {
                simple_both(&body, signature).ok();
            }
        }
    }
}

#[test]
fn the_fast_path_takes_the_usual_forms() {
    let fp32 = any_rank(DataType::Fp32);
    for body in [
        r#"{"inputs": {"x": [[1, 2.5], [-3e2, null]]}}"#,
        r#"{"inputs": {"x": 1.5}}"#,
        r#"{"inputs": {"x": []}}"#,
        " {\n  \"inputs\" : {\n    \"x\" : [\n      1 ,\r\n\t2\n    ]\n  }\n} \n",
        r#"{"inputs": {"x": {"datatype": "FP32", "shape": [2, 2], "data": [1, 2, 3, 4]}}}"#,
        r#"{"inputs": {"x": {"data": [[1, 2], [3, 4]]}}}"#,
    ] {
        assert!(decode_fast(body.as_bytes(), &fp32).is_some(), "{body}");
    }
    let bool_input = any_rank(DataType::Bool);
    assert!(decode_fast(br#"{"inputs": {"x": [true, false]}}"#, &bool_input).is_some());

    for header in [
        r#"{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2]}]}"#,
        r#"{"id": "a\"b", "inputs": [{"datatype": "INT64", "name": "x", "shape": [2], "data": [[1], [2]]}], "outputs": [{"name": "y", "parameters": {"binary_data": true}}]}"#,
        r#"{"inputs": [{"name": "a", "datatype": "BOOL", "shape": [1], "data": [true]}, {"name": "b", "datatype": "UINT8", "shape": [1], "data": [7]}]}"#,
    ] {
        let skeleton = scan::oip_skeleton(header.as_bytes()).unwrap_or_else(|| panic!("{header}"));
        assert!(skeleton.inputs.iter().all(Option::is_some), "{header}");
        let text = String::from_utf8_lossy(&skeleton.text);
        assert!(text.contains(r#""data": []"#) && !text.contains(r#""data": [1"#), "{text}");
    }
    // Data before its datatype, BYTES, and binary data are left to serde.
    for header in [
        r#"{"inputs": [{"name": "x", "shape": [2], "data": [1, 2], "datatype": "FP32"}]}"#,
        r#"{"inputs": [{"name": "x", "shape": [1], "datatype": "BYTES", "data": ["a"]}]}"#,
        r#"{"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}]}"#,
    ] {
        assert!(scan::oip_skeleton(header.as_bytes()).is_none(), "{header}");
    }
}
