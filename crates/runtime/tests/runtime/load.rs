//! Loading: digest verification, single flight, failures never cached.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use depot_domain::{DataType, Digest, Signature, TensorKind, TensorSpec};
use depot_runtime::{RuntimeError, VersionKey};

use crate::support::{Expected, Fetches, config, fixture, key, runtime, tiny_input};

fn tiny_signature() -> Signature {
    Expected::read("tiny").signature
}

#[tokio::test]
async fn a_digest_mismatch_is_refused_and_not_cached() {
    let runtime = runtime(config());
    let bytes = fixture("tiny.onnx");
    let registered = Digest::of(b"the artifact that was registered");
    let wrong = VersionKey { digest: registered, ..key("tiny", 1, &bytes) };
    let fetches = Fetches::default();

    let err = runtime.get_or_load(wrong.clone(), &tiny_signature(), None, fetches.serve(bytes.clone())).await;
    assert_eq!(
        err.expect_err("digest differs"),
        RuntimeError::DigestMismatch { expected: registered, actual: Digest::of(&bytes) }
    );
    assert!(!runtime.is_loaded(&wrong));
    assert!(runtime.loaded().is_empty());

    // Not cached: the next call fetches again, and the right digest loads.
    let _ = runtime.get_or_load(wrong, &tiny_signature(), None, fetches.serve(bytes.clone())).await;
    assert_eq!(fetches.count(), 2);
    let right = key("tiny", 1, &bytes);
    runtime.get_or_load(right.clone(), &tiny_signature(), None, fetches.serve(bytes)).await.expect("right digest");
    assert!(runtime.is_loaded(&right));
}

#[tokio::test]
async fn a_failed_fetch_is_reported_and_retried_next_time() {
    let runtime = runtime(config());
    let bytes = fixture("tiny.onnx");
    let key = key("tiny", 1, &bytes);
    let failing = async { Err::<Bytes, _>(std::io::Error::other("object store unreachable")) };
    let err = runtime.get_or_load(key.clone(), &tiny_signature(), None, failing).await.expect_err("fetch fails");
    assert!(matches!(&err, RuntimeError::Fetch { reason } if reason.contains("object store unreachable")), "{err}");
    assert!(!runtime.is_loaded(&key));

    let fetches = Fetches::default();
    runtime.get_or_load(key.clone(), &tiny_signature(), None, fetches.serve(bytes)).await.expect("second try");
    assert_eq!(fetches.count(), 1);
}

#[tokio::test]
async fn corrupt_artifacts_and_wrong_signatures_fail_to_load() {
    let runtime = runtime(config());
    let corrupt = fixture("corrupt.onnx");
    let err = runtime
        .get_or_load(key("corrupt", 1, &corrupt), &tiny_signature(), None, Fetches::default().serve(corrupt.clone()))
        .await
        .expect_err("corrupt");
    assert!(matches!(err, RuntimeError::LoadFailed { .. }), "{err}");
    assert!(runtime.loaded().is_empty());

    let bytes = fixture("tiny.onnx");
    let mut signature = tiny_signature();
    signature.inputs[0].datatype = Some(DataType::Fp64);
    let err = runtime
        .get_or_load(key("tiny", 1, &bytes), &signature, None, Fetches::default().serve(bytes.clone()))
        .await
        .expect_err("signature says FP64");
    assert!(matches!(&err, RuntimeError::LoadFailed { reason } if reason.contains("\"x\"")), "{err}");

    let mut signature = tiny_signature();
    signature.inputs[0].shape = Some(vec![-1, 5]);
    let err = runtime
        .get_or_load(key("tiny", 1, &bytes), &signature, None, Fetches::default().serve(bytes))
        .await
        .expect_err("signature says 5 features");
    assert!(matches!(&err, RuntimeError::LoadFailed { reason } if reason.contains("shape")), "{err}");
    assert!(runtime.loaded().is_empty());
}

#[tokio::test]
async fn unservable_signatures_are_refused_without_fetching() {
    let runtime = runtime(config());
    let bytes = fixture("zipmap.onnx");
    let mut probabilities = TensorSpec::tensor("output_probability", DataType::Fp32, vec![]);
    probabilities.kind = TensorKind::Sequence;
    probabilities.datatype = None;
    probabilities.shape = None;
    probabilities.type_name = "seq(map(int64,tensor(float)))".into();
    let signature = Signature {
        inputs: vec![TensorSpec::tensor("X", DataType::Fp32, vec![-1, 4])],
        outputs: vec![TensorSpec::tensor("output_label", DataType::Int64, vec![-1]), probabilities],
    };
    let fetches = Fetches::default();
    let err = runtime.get_or_load(key("zipmap", 1, &bytes), &signature, None, fetches.serve(bytes)).await;
    assert!(matches!(&err, Err(RuntimeError::LoadFailed { reason }) if reason.contains("seq(map")), "{err:?}");
    assert_eq!(fetches.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_load() {
    let runtime = runtime(config());
    let bytes = fixture("tiny.onnx");
    let key = key("tiny", 1, &bytes);
    let fetches = Fetches::default();
    let signature = tiny_signature();
    let callers = (0..8).map(|_| {
        let slow = fetches.serve(bytes.clone());
        runtime.get_or_load(key.clone(), &signature, None, async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            slow.await
        })
    });
    let models = futures::future::join_all(callers).await;
    assert_eq!(fetches.count(), 1, "one fetch for eight callers");
    let first = models[0].as_ref().expect("loaded");
    for model in &models {
        assert!(Arc::ptr_eq(first, model.as_ref().expect("loaded")));
    }
    assert_eq!(first.sessions(), 1);
}

#[tokio::test]
async fn a_cancelled_load_lets_the_next_caller_load() {
    let runtime = runtime(config());
    let bytes = fixture("tiny.onnx");
    let key = key("tiny", 1, &bytes);
    let signature = tiny_signature();
    let never = std::future::pending::<Result<Bytes, std::io::Error>>();
    let gave_up =
        tokio::time::timeout(Duration::from_millis(50), runtime.get_or_load(key.clone(), &signature, None, never));
    assert!(gave_up.await.is_err(), "the first load never finishes");
    assert!(!runtime.is_loaded(&key));

    let model = tokio::time::timeout(
        Duration::from_secs(30),
        runtime.get_or_load(key.clone(), &signature, None, Fetches::default().serve(bytes)),
    )
    .await
    .expect("not stuck behind the cancelled load")
    .expect("loads");
    assert_eq!(model.infer(tiny_input(1, 0)).await.expect("infer")[0].tensor.shape, vec![1, 3]);
}

/// The API spawns these futures on a multi-threaded executor: they must be `Send`.
#[allow(dead_code)]
fn futures_are_send(runtime: &depot_runtime::Runtime, model: &depot_runtime::LoadedModel, signature: &Signature) {
    fn send<T: Send>(_: &T) {}
    let bytes = Bytes::new();
    let load = runtime.get_or_load(key("tiny", 1, &bytes), signature, None, async { Ok::<_, std::io::Error>(bytes) });
    send(&load);
    send(&model.infer(tiny_input(1, 0)));
}
