//! The cache of loaded versions: LRU under a count and a byte budget.

use std::sync::Arc;
use std::time::Duration;

use depot_runtime::RuntimeConfig;

use crate::support::{Expected, Fetches, config, fixture, key, runtime, tiny_input};

#[tokio::test]
async fn least_recently_used_is_evicted_under_the_count_budget() {
    let runtime = runtime(RuntimeConfig { cache_max_versions: 2, ..config() });
    let bytes = fixture("tiny.onnx");
    let signature = Expected::read("tiny").signature;
    let [v1, v2, v3] = [1, 2, 3].map(|v| key("tiny", v, &bytes));
    let fetches = Fetches::default();

    let first = runtime.get_or_load(v1.clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("v1");
    runtime.get_or_load(v2.clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("v2");
    // Using v1 again is a cache hit and makes v2 the least recently used.
    let again = runtime.get_or_load(v1.clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("hit");
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(fetches.count(), 2);

    runtime.get_or_load(v3.clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("v3");
    assert_eq!(runtime.loaded(), vec![v3.clone(), v1.clone()]);
    assert!(!runtime.is_loaded(&v2));

    assert!(runtime.unload(&v1));
    assert!(!runtime.unload(&v1));
    assert_eq!(runtime.loaded(), vec![v3]);
    // An unloaded version still answers the requests of those who hold it.
    assert_eq!(first.infer(tiny_input(1, 0)).await.expect("infer")[0].tensor.shape, vec![1, 3]);
}

#[tokio::test]
async fn the_byte_budget_evicts_and_in_flight_holders_keep_serving() {
    let bytes = fixture("tiny.onnx");
    let size = bytes.len() as u64;
    let runtime = runtime(RuntimeConfig { cache_max_bytes: 2 * size + size / 2, ..config() });
    let signature = Expected::read("tiny").signature;
    let keys = [1, 2, 3].map(|v| key("tiny", v, &bytes));
    let fetches = Fetches::default();

    let oldest =
        runtime.get_or_load(keys[0].clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("v1");
    for key in &keys[1..] {
        runtime.get_or_load(key.clone(), &signature, None, fetches.serve(bytes.clone())).await.expect("load");
    }
    assert_eq!(runtime.loaded(), vec![keys[2].clone(), keys[1].clone()]);
    assert_eq!(runtime.loaded_bytes(), 2 * size);

    // The evicted version serves its holder, and is freed when the holder lets go.
    let outputs = oldest.infer(tiny_input(2, 1)).await.expect("evicted but held");
    assert_eq!(outputs[0].tensor.shape, vec![2, 3]);
    let weak = Arc::downgrade(&oldest);
    drop(oldest);
    // The cache drops evicted versions on a blocking thread; give it a moment.
    for _ in 0..100 {
        if weak.upgrade().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(weak.upgrade().is_none(), "an evicted version is freed when its last holder lets go");

    // A version larger than the whole budget is still served, alone.
    let mlp = fixture("mlp.onnx");
    let mlp_key = key("mlp", 1, &mlp);
    let model = runtime
        .get_or_load(mlp_key.clone(), &Expected::read("mlp").signature, None, fetches.serve(mlp))
        .await
        .expect("mlp");
    assert!(model.artifact_bytes() > 2 * size);
    assert_eq!(runtime.loaded(), vec![mlp_key]);
}
