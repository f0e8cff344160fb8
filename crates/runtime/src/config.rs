use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// How the runtime loads ONNX Runtime, sizes its session pools and bounds its cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    /// The ONNX Runtime shared library (`libonnxruntime.so.1.31.0`). `scripts/fetch-onnxruntime.sh`
    /// puts it at `.depot/lib/` in the repository.
    pub library_path: PathBuf,
    /// Threads each session uses inside one operator; 0 lets ONNX Runtime choose (one per core).
    pub intra_op_threads: usize,
    /// Threads each session uses to run independent operators in parallel; 0 lets ONNX Runtime
    /// choose.
    pub inter_op_threads: usize,
    /// Sessions created per loaded version: how many requests to one version run at once. Each
    /// session holds its own copy of the model's weights in ONNX Runtime, so memory grows with
    /// it: lower it on hosts that load large models. The default, 4, is twice the workers of a
    /// 2-core host: requests running on the workers (inline) still find a session while others
    /// run on blocking threads, so none waits for a session handed to a busy worker
    /// (BENCHMARKS.md, "Concurrency 16 and 64").
    pub sessions_per_version: usize,
    /// How many requests may wait for a session of one version before further requests are
    /// refused with [`RuntimeError::Overloaded`].
    pub max_queue_per_version: usize,
    /// A run predicted to take at most this many microseconds runs on the request's own worker
    /// thread; longer ones are handed to a blocking thread so that they never stall the
    /// executor for long. The prediction is the version's recent cost per input element (an
    /// average over its last runs, starting from the warm-up) times the request's elements. The
    /// default, 1 ms, keeps sub-millisecond models on their worker: a hand-off costs two
    /// cross-thread wake-ups per request, and on a virtual machine a wake-up of an idle vCPU
    /// leaves both cores idle meanwhile (an MLP of ~0.1 ms at concurrency 64 left a quarter of
    /// the machine idle with a 0.1 ms bound and none with 1 ms: BENCHMARKS.md, "Inline runs up
    /// to a millisecond"). The price is that a worker's other connections wait for the run in
    /// progress, at most about this long. 0 hands every run off.
    ///
    /// A prediction can be wrong, so inline runs are bounded: an inline run that takes more than
    /// 10 times this (10 ms at the default) is a strike, and the third strike within the
    /// version's last 64 inline runs demotes the version: from then on, until it is reloaded,
    /// every run of it goes to a blocking thread, and one warning is logged with the model, the
    /// version and the run's duration. One strike is not enough, since a busy machine can
    /// preempt a thread mid-run; strikes older than the last 64 inline runs are forgotten.
    /// [`ModelStats::inline`](crate::ModelStats::inline) says whether a version still runs
    /// inline.
    pub inline_run_max_us: u64,
    /// At most this many versions stay loaded; the least recently used is evicted first.
    pub cache_max_versions: usize,
    /// At most this many artifact bytes stay loaded (the sum of the loaded versions' artifact
    /// sizes); a single version larger than this is still served, alone.
    pub cache_max_bytes: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            library_path: PathBuf::from(".depot/lib/libonnxruntime.so.1.31.0"),
            intra_op_threads: 1,
            inter_op_threads: 1,
            sessions_per_version: 4,
            max_queue_per_version: 64,
            inline_run_max_us: 1000,
            cache_max_versions: 16,
            cache_max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl RuntimeConfig {
    /// Refuses values the runtime cannot work with.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        let invalid = |reason: &str| Err(RuntimeError::InvalidConfig { reason: reason.to_owned() });
        if self.sessions_per_version == 0 {
            return invalid("sessions_per_version must be at least 1");
        }
        if self.cache_max_versions == 0 {
            return invalid("cache_max_versions must be at least 1");
        }
        if self.cache_max_bytes == 0 {
            return invalid("cache_max_bytes must be at least 1");
        }
        Ok(())
    }
}

/// Dynamic batching for one version: concurrent requests that differ only in their leading
/// (batch) dimension run as one session run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchConfig {
    /// At most this many rows (summed leading dimensions) per run. A single request with more
    /// rows runs alone.
    pub max_batch_size: usize,
    /// How long the first request of a batch waits for companions; zero never waits (a batch is
    /// what queued while the sessions were busy).
    #[serde(rename = "max_queue_delay_ms", with = "millis")]
    pub max_queue_delay: Duration,
}

impl BatchConfig {
    pub fn new(max_batch_size: usize, max_queue_delay: Duration) -> Self {
        Self { max_batch_size, max_queue_delay }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_partial_configs_fill_in() {
        assert_eq!(RuntimeConfig::default().validate(), Ok(()));
        let config: RuntimeConfig =
            serde_json::from_str(r#"{"sessions_per_version": 4, "library_path": "/opt/ort.so"}"#).expect("parse");
        assert_eq!(config.sessions_per_version, 4);
        assert_eq!(config.library_path, PathBuf::from("/opt/ort.so"));
        assert_eq!(config.cache_max_versions, RuntimeConfig::default().cache_max_versions);
    }

    #[test]
    fn zero_sessions_or_budgets_are_refused() {
        let config = RuntimeConfig { sessions_per_version: 0, ..RuntimeConfig::default() };
        assert!(
            matches!(config.validate(), Err(RuntimeError::InvalidConfig { reason }) if reason.contains("sessions"))
        );
        let config = RuntimeConfig { cache_max_versions: 0, ..RuntimeConfig::default() };
        assert!(config.validate().is_err());
    }

    #[test]
    fn batch_config_delay_is_in_milliseconds() {
        let batch: BatchConfig =
            serde_json::from_str(r#"{"max_batch_size": 8, "max_queue_delay_ms": 5}"#).expect("parse");
        assert_eq!(batch, BatchConfig::new(8, Duration::from_millis(5)));
        assert_eq!(serde_json::to_value(batch).expect("serialize")["max_queue_delay_ms"], 5);
    }
}
