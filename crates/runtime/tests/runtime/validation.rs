//! Requests that do not fit the signature are refused before they reach ONNX Runtime.

use depot_domain::{DataType, NamedTensor, Tensor, TensorData, ValidationError};
use depot_runtime::RuntimeError;

use crate::support::{Expected, config, load, runtime, tiny_input};

/// What the validation error must look like.
type Expect = fn(&ValidationError) -> bool;

#[tokio::test]
async fn invalid_requests_are_refused_without_a_run() {
    let runtime = runtime(config());
    let model = load(&runtime, "tiny.onnx", 1, None).await;
    let x = |shape: Vec<usize>, data: TensorData| vec![NamedTensor::new("x", Tensor::new(shape, data))];

    let cases: Vec<(Vec<NamedTensor>, Expect)> = vec![
        (
            vec![NamedTensor::new("z", Tensor::new(vec![1, 4], TensorData::F32(vec![0.0; 4])))],
            |e| matches!(e, ValidationError::UnknownInput { name, .. } if name == "z"),
        ),
        (vec![], |e| matches!(e, ValidationError::MissingInput { name, .. } if name == "x")),
        ([tiny_input(1, 0), tiny_input(1, 1)].concat(), |e| matches!(e, ValidationError::DuplicateInput { .. })),
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
        match model.infer(inputs).await {
            Err(RuntimeError::Invalid(e)) => assert!(expected(&e), "unexpected validation error: {e}"),
            other => panic!("expected a validation error, got {other:?}"),
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
    let err = model.infer(vec![text]).await.expect_err("NUL byte");
    assert!(matches!(&err, RuntimeError::Unrepresentable { name, .. } if name == "text"), "{err}");
    assert!(err.to_string().contains("element 1"), "{err}");
    assert_eq!(model.stats().runs, 0);
}

#[tokio::test]
async fn named_dimensions_must_agree_across_inputs() {
    let runtime = runtime(config());
    let model = load(&runtime, "multi_io.onnx", 1, None).await;
    let mut inputs = Expected::read("multi_io").input_tensors();
    // `counts` and `weights` share the dimension "n"; give `weights` one row less.
    let weights = inputs.iter_mut().find(|i| i.name == "weights").expect("weights");
    weights.tensor = Tensor::new(vec![2, 3], TensorData::F64(vec![0.5; 6]));
    let err = model.infer(inputs).await.expect_err("n disagrees");
    assert!(
        matches!(&err, RuntimeError::Invalid(ValidationError::SymbolMismatch { symbol, .. }) if symbol == "n"),
        "{err}"
    );
}
