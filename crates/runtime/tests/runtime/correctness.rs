//! depot-runtime gives the outputs Python's onnxruntime gives (tests/fixtures/expected/).

use crate::support::{Expected, assert_close, config, load, runtime, valid};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_matches_python_onnxruntime() {
    let runtime = runtime(config());
    let names = Expected::all();
    for required in ["tiny", "mlp", "multi_io", "sklearn_logreg", "sklearn_forest", "legacy_ir3", "strings"] {
        assert!(
            names.iter().any(|n| n == required),
            "no expected outputs for {required}: run scripts/make-expected.py"
        );
    }
    for name in names {
        let expected = Expected::read(&name);
        let model = load(&runtime, &format!("{name}.onnx"), 1, None).await;
        let outputs = model
            .infer(valid(&expected.signature, expected.input_tensors()))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));

        let order: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
        let declared: Vec<&str> = expected.signature.outputs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, declared, "{name}: outputs come in the signature's order");
        for output in &outputs {
            let want = expected.outputs[&output.name].to_tensor().expect("expected tensor");
            assert_close(&format!("{name}.{}", output.name), &output.tensor, &want);
        }
        let stats = model.stats();
        assert_eq!((stats.runs, stats.requests), (1, 1), "{name}: warm-up runs are not counted");
    }
}
