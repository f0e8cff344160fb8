//! Dynamic batching: fewer session runs, and every caller gets exactly its own rows.

use std::time::Duration;

use depot_domain::{NamedTensor, ValidatedInputs};
use depot_runtime::{BatchConfig, RuntimeConfig};

use crate::support::{Expected, assert_close, config, load, runtime, tiny_input, tiny_tensors, valid};

const WAIT: Duration = Duration::from_millis(200);

// On a current-thread runtime every request of a `join_all` is queued before the batcher task
// runs, so how requests group into runs is deterministic. With more threads the batcher can
// take each request as it arrives, alone with an idle session, and run it at once.
#[tokio::test]
async fn concurrent_requests_share_runs_and_get_their_own_rows() {
    let runtime = runtime(config());
    let unbatched = load(&runtime, "tiny.onnx", 1, None).await;
    let batched = load(&runtime, "tiny.onnx", 2, Some(BatchConfig::new(64, WAIT))).await;
    assert_eq!(batched.batching(), Some(BatchConfig::new(64, WAIT)));

    let requests: Vec<ValidatedInputs> = (0..12).map(|i| tiny_input(i % 3 + 1, i)).collect();
    let mut reference = Vec::new();
    for inputs in &requests {
        reference.push(unbatched.infer(inputs.clone()).await.expect("reference"));
    }

    let results = futures::future::join_all(requests.iter().map(|inputs| batched.infer(inputs.clone()))).await;
    for (i, (result, want)) in results.into_iter().zip(&reference).enumerate() {
        let got = result.unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].tensor.shape, vec![i % 3 + 1, 3], "request {i} gets its own row count");
        assert_close(&format!("request {i}"), &got[0].tensor, &want[0].tensor);
    }
    let stats = batched.stats();
    assert_eq!(stats.requests, 12);
    // 24 rows in all, within one batch of 64.
    assert_eq!(stats.runs, 1, "12 concurrent requests took {} runs", stats.runs);
}

// On a current-thread runtime every request of a `join_all` is queued before the batcher task
// runs, so how requests group into runs is deterministic. With more threads the batcher can
// take each request as it arrives, alone with an idle session, and run it at once.
#[tokio::test]
async fn batches_hold_at_most_max_batch_size_rows() {
    let runtime = runtime(config());
    let model = load(&runtime, "tiny.onnx", 1, Some(BatchConfig::new(4, WAIT))).await;
    let results = futures::future::join_all((0..8).map(|i| model.infer(tiny_input(1, i)))).await;
    assert!(results.iter().all(Result::is_ok));
    let stats = model.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.runs, 2, "8 one-row requests with 4 rows per batch took {} runs", stats.runs);

    // A request larger than a batch runs alone, whole.
    let outputs = model.infer(tiny_input(9, 0)).await.expect("large request");
    assert_eq!(outputs[0].tensor.shape, vec![9, 3]);
}

// On a current-thread runtime every request of a `join_all` is queued before the batcher task
// runs, so how requests group into runs is deterministic. With more threads the batcher can
// take each request as it arrives, alone with an idle session, and run it at once.
#[tokio::test]
async fn several_inputs_and_outputs_of_several_types_split_correctly() {
    let runtime = runtime(RuntimeConfig { sessions_per_version: 2, ..config() });
    let unbatched = load(&runtime, "multi_io.onnx", 1, None).await;
    let batched = load(&runtime, "multi_io.onnx", 2, Some(BatchConfig::new(32, WAIT))).await;
    let expected = Expected::read("multi_io");
    let base = expected.input_tensors();

    // Requests whose inputs disagree on their leading dimension (`mask` has its own) run unbatched.
    let requests: Vec<ValidatedInputs> = (0..6)
        .map(|i| {
            let rows = i % 3 + 1;
            let mask_rows = if i == 4 { rows + 1 } else { rows };
            let inputs = base
                .iter()
                .map(|input| {
                    let r = if input.name == "mask" { mask_rows } else { rows };
                    let mut t = input.tensor.clone();
                    let per_row = t.len() / t.shape[0];
                    t.shape[0] = r;
                    t.data = cycle(&t.data, r * per_row, i);
                    NamedTensor::new(input.name.clone(), t)
                })
                .collect();
            valid(&expected.signature, inputs)
        })
        .collect();
    let mut reference = Vec::new();
    for inputs in &requests {
        reference.push(unbatched.infer(inputs.clone()).await.expect("reference"));
    }
    let results = futures::future::join_all(requests.iter().map(|inputs| batched.infer(inputs.clone()))).await;
    for (i, (result, want)) in results.into_iter().zip(&reference).enumerate() {
        let got = result.unwrap_or_else(|e| panic!("request {i}: {e}"));
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.name, w.name);
            assert_close(&format!("request {i} {}", g.name), &g.tensor, &w.tensor);
        }
    }
    let stats = batched.stats();
    assert_eq!(stats.requests, 6);
    // Request 4 runs alone; the other five share one batch.
    assert_eq!(stats.runs, 2, "6 requests took {} runs", stats.runs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_request_does_not_wait_for_companions() {
    let runtime = runtime(config());
    let delay = Duration::from_secs(30);
    let model = load(&runtime, "tiny.onnx", 1, Some(BatchConfig::new(8, delay))).await;
    for seed in 0..3 {
        let outputs = tokio::time::timeout(delay / 2, model.infer(tiny_input(1, seed)))
            .await
            .expect("a request alone with an idle session runs without waiting max_queue_delay")
            .expect("infer");
        assert_eq!(outputs[0].tensor.shape, vec![1, 3]);
    }
    assert_eq!(model.stats().runs, 3);
}

#[tokio::test]
async fn batching_is_off_when_the_leading_dimension_is_fixed() {
    let runtime = runtime(config());
    let mut expected = Expected::read("tiny");
    expected.signature.inputs[0].shape = Some(vec![1, 4]);
    let bytes = crate::support::fixture("tiny.onnx");
    let model = runtime
        .get_or_load(
            crate::support::key("tiny", 1, &bytes),
            &expected.signature,
            Some(BatchConfig::new(8, WAIT)),
            crate::support::Fetches::default().serve(bytes),
        )
        .await
        .expect("load");
    assert_eq!(model.batching(), None);
    let inputs = valid(&expected.signature, tiny_tensors(1, 0));
    assert_eq!(model.infer(inputs).await.expect("infer")[0].tensor.shape, vec![1, 3]);
}

/// `len` elements taken cyclically from `data`, starting at `offset`: distinct inputs per request.
fn cycle(data: &depot_domain::TensorData, len: usize, offset: usize) -> depot_domain::TensorData {
    use depot_domain::TensorData;
    fn take<T: Clone>(v: &[T], len: usize, offset: usize) -> Vec<T> {
        v.iter().cycle().skip(offset).take(len).cloned().collect()
    }
    match data {
        TensorData::I64(v) => TensorData::I64(take(v, len, offset)),
        TensorData::F64(v) => TensorData::F64(take(v, len, offset)),
        TensorData::Bool(v) => TensorData::Bool(take(v, len, offset)),
        other => panic!("no cycling for {:?}", other.datatype()),
    }
}

/// On a paused clock time only moves when every task waits on a timer, so a batch that waited
/// for companions shows as elapsed time. Runs are inline (a generous threshold), so no
/// blocking thread is involved.
async fn paused_time_for_two_concurrent_requests(delay: Duration) -> (Duration, u64) {
    let runtime = runtime(RuntimeConfig { sessions_per_version: 1, inline_run_max_us: 1_000_000, ..config() });
    let model = load(&runtime, "tiny.onnx", 1, Some(BatchConfig::new(8, delay))).await;
    // Off a millisecond boundary: the timer rounds deadlines up to the next one, and on the
    // boundary itself that rounding would hide a wait.
    tokio::time::advance(Duration::from_micros(300)).await;
    let started = tokio::time::Instant::now();
    let (a, b) = tokio::join!(model.infer(tiny_input(1, 0)), model.infer(tiny_input(2, 1)));
    assert_eq!(a.expect("first")[0].tensor.shape, vec![1, 3]);
    assert_eq!(b.expect("second")[0].tensor.shape, vec![2, 3]);
    (started.elapsed(), model.stats().runs)
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_zero_delay_batches_what_is_queued_without_waiting() {
    let (elapsed, runs) = paused_time_for_two_concurrent_requests(Duration::ZERO).await;
    assert_eq!(elapsed, Duration::ZERO, "a zero delay waited on the timer");
    assert_eq!(runs, 1, "both requests were queued together and share one run");

    // The same requests with a delay wait for companions that never come.
    let delay = Duration::from_millis(5);
    let (elapsed, runs) = paused_time_for_two_concurrent_requests(delay).await;
    assert!(elapsed >= delay, "waited {elapsed:?}, not the {delay:?} delay");
    assert_eq!(runs, 1);
}
