//! Requests that do not fit the signature are refused before they reach ONNX Runtime: by
//! `ValidatedInputs::new`, which `LoadedModel::infer` requires, and by the runtime for inputs
//! validated against another signature or holding values ONNX Runtime cannot take.

use depot_domain::{DataType, NamedTensor, Tensor, TensorData, ValidatedInputs, ValidationError};
use depot_runtime::RuntimeError;

use crate::support::{Expected, config, load, runtime, tiny_input, tiny_tensors, valid};

/// What the validation error must look like.
type Expect = fn(&ValidationError) -> bool;

#[tokio::test]
async fn invalid_requests_are_refused_without_a_run() {
    let runtime = runtime(config());
    let model = load(&runtime, "tiny.onnx", 1, None).await;
    let signature = Expected::read("tiny").signature;
    let x = |shape: Vec<usize>, data: TensorData| vec![NamedTensor::new("x", Tensor::new(shape, data))];

    let cases: Vec<(Vec<NamedTensor>, Expect)> = vec![
        (
            vec![NamedTensor::new("z", Tensor::new(vec![1, 4], TensorData::F32(vec![0.0; 4])))],
            |e| matches!(e, ValidationError::UnknownInput { name, .. } if name == "z"),
        ),
        (vec![], |e| matches!(e, ValidationError::MissingInput { name, .. } if name == "x")),
        ([tiny_tensors(1, 0), tiny_tensors(1, 1)].concat(), |e| matches!(e, ValidationError::DuplicateInput { .. })),
        (x(vec![1, 4], TensorData::F64(vec![0.0; 4])), |e| {
            matches!(e, ValidationError::DatatypeMismatch { expected: DataType::Fp32, actual: DataType::Fp64, .. })
        }),
        (x(vec![4], TensorData::F32(vec![0.0; 4])), |e| {
            matches!(e, ValidationError::RankMismatch { expected: 2, actual: 1, .. })
        }),
        (x(vec![1, 5], TensorData::F32(vec![0.0; 5])), |e| {
            matches!(e, ValidationError::DimensionMismatch { axis: 1, expected: 4, actual: 5, .. })
        }),
        (x(vec![2, 4], TensorData::F32(vec![0.0; 7])), |e| {
            matches!(e, ValidationError::LengthMismatch { expected: 8, actual: 7, .. })
        }),
    ];
    for (inputs, expected) in cases {
        match ValidatedInputs::new(&signature, inputs) {
            Err(e) => assert!(expected(&e), "unexpected validation error: {e}"),
            Ok(validated) => panic!("expected a validation error, got {validated:?}"),
        }
    }
    assert_eq!(model.stats().runs, 0, "no invalid request reached a session");

    // The model still serves valid requests, including an empty batch.
    let outputs = model.infer(tiny_input(0, 0)).await.expect("empty batch");
    assert_eq!(outputs[0].tensor.shape, vec![0, 3]);
    let outputs = model.infer(tiny_input(2, 0)).await.expect("valid request");
    assert_eq!(outputs[0].tensor.shape, vec![2, 3]);
}

#[tokio::test]
async fn strings_with_a_nul_byte_are_refused_before_the_run() {
    let runtime = runtime(config());
    let model = load(&runtime, "strings.onnx", 1, None).await;
    let text =
        NamedTensor::new("text", Tensor::new(vec![2], TensorData::Bytes(vec![b"ok".to_vec(), b"a\0b".to_vec()])));
    let err = model.infer(valid(&Expected::read("strings").signature, vec![text])).await.expect_err("NUL byte");
    assert!(matches!(&err, RuntimeError::Unrepresentable { name, .. } if name == "text"), "{err}");
    assert!(err.to_string().contains("element 1"), "{err}");
    // Nor text that is not UTF-8 (ONNX Runtime returns string tensors as UTF-8 only).
    let text = NamedTensor::new("text", Tensor::new(vec![1], TensorData::Bytes(vec![b"\xff".to_vec()])));
    let err = model.infer(valid(&Expected::read("strings").signature, vec![text])).await.expect_err("not UTF-8");
    assert!(matches!(&err, RuntimeError::Unrepresentable { name, .. } if name == "text"), "{err}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
    assert_eq!(model.stats().runs, 0);
}

#[tokio::test]
async fn named_dimensions_must_agree_across_inputs() {
    let runtime = runtime(config());
    let model = load(&runtime, "multi_io.onnx", 1, None).await;
    let expected = Expected::read("multi_io");
    let mut inputs = expected.input_tensors();
    // `counts` and `weights` share the dimension "n"; give `weights` one row less.
    let weights = inputs.iter_mut().find(|i| i.name == "weights").expect("weights");
    weights.tensor = Tensor::new(vec![2, 3], TensorData::F64(vec![0.5; 6]));
    let err = ValidatedInputs::new(&expected.signature, inputs).expect_err("n disagrees");
    assert!(matches!(&err, ValidationError::SymbolMismatch { symbol, .. } if symbol == "n"), "{err}");
    assert_eq!(model.stats().runs, 0);
}

#[tokio::test]
async fn inputs_validated_against_another_signature_are_refused() {
    let runtime = runtime(config());
    let model = load(&runtime, "tiny.onnx", 1, None).await;
    // Valid for strings.onnx, whose only input is "text"; tiny.onnx's is "x".
    let text = NamedTensor::new("text", Tensor::new(vec![1], TensorData::Bytes(vec![b"hello".to_vec()])));
    let other = valid(&Expected::read("strings").signature, vec![text]);
    let err = model.infer(other).await.expect_err("validated against another signature");
    assert!(
        matches!(&err, RuntimeError::Inference { reason } if reason.contains("validated against another signature")
            && reason.contains("\"text\"") && reason.contains("\"x\"")),
        "{err}"
    );
    assert_eq!(model.stats().runs, 0, "it reached no session");
    // The model still serves inputs validated against its own signature.
    assert_eq!(model.infer(tiny_input(1, 0)).await.expect("valid")[0].tensor.shape, vec![1, 3]);
}
