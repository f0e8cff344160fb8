//! What recording one prediction's metrics costs, in process: the calls a served request makes
//! (HTTP series, in-flight gauge, the runtime's queue and run reports, the end-to-end histogram
//! and counters, Triton statistics), with metrics on and with `metrics.enabled = false`.
//!
//! `cargo run --release -p depot-service --example metrics_bench -- [SECONDS]` (default 3).

use std::time::{Duration, Instant};

use depot_domain::{Digest, ModelName, VersionNumber};
use depot_runtime::{Observer, VersionKey};
use depot_service::Metrics;
use depot_service::metrics::Role;

fn measure(label: &str, seconds: f64, mut request: impl FnMut()) {
    for _ in 0..10_000 {
        request();
    }
    let started = Instant::now();
    let mut calls = 0u64;
    while started.elapsed() < Duration::from_secs_f64(seconds) {
        for _ in 0..10_000 {
            request();
        }
        calls += 10_000;
    }
    let ns = started.elapsed().as_nanos() as f64 / calls as f64;
    println!("{label:<36} {ns:>8.1} ns/request  ({calls} requests)");
}

fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(3.0);
    let model = ModelName::parse("tiny")?;
    let version = VersionNumber::new(1).expect("1");
    let key = VersionKey::new(model.clone(), version, Digest::of(b"tiny"));
    println!("metrics_bench: {seconds} s per phase, one thread");
    for _ in 0..2 {
        for (label, metrics) in [("metrics.enabled = false", Metrics::disabled()), ("metrics on", Metrics::new())] {
            // The runtime asks for the version's observer once, when it loads.
            let observer = Observer::version(&metrics, &key);
            let queue = Duration::from_micros(3);
            let run = Duration::from_micros(20);
            measure(label, seconds, || {
                let started = Instant::now();
                let in_flight = metrics.begin(&model, version);
                observer.queued(queue);
                observer.ran(1, run, true);
                metrics.inference(&in_flight, Role::Direct, Ok(()), started.elapsed());
                drop(in_flight);
                let pattern = || Some("/v2/models/{name}/versions/{version}/infer".to_owned());
                metrics.http(Some("infer_version"), pattern, "POST", 200, started.elapsed());
            });
        }
    }
    Ok(())
}
