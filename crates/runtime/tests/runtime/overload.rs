//! Admission control: a bounded wait per version, then 429-style refusals.

use std::time::Duration;

use depot_runtime::{RuntimeConfig, RuntimeError};

use futures::FutureExt;

use crate::support::{config, load, mlp_input, runtime, tiny_input};

/// Rows per request: enough work that the first run is still going while the others arrive.
const ROWS: usize = 2048;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_queue_are_refused_at_once() {
    let runtime = runtime(RuntimeConfig { sessions_per_version: 1, max_queue_per_version: 1, ..config() });
    let model = load(&runtime, "mlp.onnx", 1, None).await;
    let requests: Vec<_> = (0..6).map(|_| mlp_input(ROWS)).collect();

    // One runs, one waits, four are refused; all are polled before the first run ends.
    let results = futures::future::join_all(requests.into_iter().map(|inputs| model.infer(inputs))).await;
    let served = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(served, 2, "{results:?}");
    assert_eq!(refused.len(), 4);
    for err in refused {
        assert_eq!(*err, RuntimeError::Overloaded { limit: 1 });
        assert!(err.to_string().contains("retry later"));
    }
    let stats = model.stats();
    assert_eq!((stats.runs, stats.requests, stats.rejected, stats.waiting), (2, 2, 4, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn inference_does_not_block_the_executor() {
    let runtime = runtime(config());
    let model = load(&runtime, "mlp.onnx", 1, None).await;
    let infer = model.infer(mlp_input(ROWS));
    tokio::pin!(infer);
    // On a single-threaded executor a timer can only fire while the run is in progress if the
    // run happens elsewhere.
    tokio::select! {
        biased;
        result = &mut infer => panic!("the run finished before a 1 ms timer: {:?}", result.map(|o| o.len())),
        () = tokio::time::sleep(Duration::from_millis(1)) => {}
    }
    let outputs = infer.await.expect("infer");
    assert_eq!(outputs[0].tensor.shape, vec![ROWS, 10]);
}

#[tokio::test(flavor = "current_thread")]
async fn cheap_runs_happen_on_the_callers_thread_unless_disabled() {
    // A generous threshold, so that a slow test machine still predicts the tiny model as cheap.
    let inline = runtime(RuntimeConfig { inline_run_max_us: 1_000_000, ..config() });
    let model = load(&inline, "tiny.onnx", 1, None).await;
    for seed in 0..3 {
        // Answered within the first poll: the run did not go to another thread.
        let outputs = model
            .infer(tiny_input(1, seed))
            .now_or_never()
            .expect("a cheap run completes within one poll")
            .expect("infer");
        assert_eq!(outputs[0].tensor.shape, vec![1, 3]);
    }
    assert!(model.stats().inline, "a version whose runs are fast keeps running inline");

    let handed_off = runtime(RuntimeConfig { inline_run_max_us: 0, ..config() });
    let model = load(&handed_off, "tiny.onnx", 1, None).await;
    let mut infer = Box::pin(model.infer(tiny_input(1, 0)));
    assert!((&mut infer).now_or_never().is_none(), "with inline_run_max_us = 0 every run is handed off");
    assert_eq!(infer.await.expect("infer")[0].tensor.shape, vec![1, 3]);
    assert!(!model.stats().inline);
}
