//! A loaded version: its session pool, with a batcher on top when batching, and inference.

use std::fmt;
use std::sync::Arc;

use depot_domain::{NamedTensor, ValidatedInputs};

use crate::batching::Batcher;
use crate::pool::{ModelStats, SessionPool};
use crate::{BatchConfig, RuntimeError, convert};

/// A version ready to serve: `sessions_per_version` warmed-up ONNX Runtime sessions.
///
/// Shared as `Arc<LoadedModel>`: the runtime's cache holds one reference and every in-flight
/// request another, so an evicted version finishes its requests before its sessions are freed.
pub struct LoadedModel {
    artifact_bytes: u64,
    pool: Arc<SessionPool>,
    batcher: Option<Batcher>,
}

impl fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedModel")
            .field("key", self.pool.key())
            .field("artifact_bytes", &self.artifact_bytes)
            .field("sessions", &self.pool.size())
            .field("batching", &self.batching())
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Builds the version from its pool; starts the batcher when batching is asked for and the
    /// signature allows it. Must run inside a Tokio runtime.
    pub(crate) fn new(artifact_bytes: u64, pool: SessionPool, batching: Option<BatchConfig>) -> Self {
        let pool = Arc::new(pool);
        let batcher = batching.and_then(|config| {
            if Batcher::supports(pool.signature()) && config.max_batch_size > 0 {
                Some(Batcher::start(Arc::clone(&pool), config))
            } else {
                let key = pool.key();
                tracing::warn!(
                    model.name = %key.model,
                    model.version = %key.version,
                    "batching requested, but not every input and output has a dynamic leading dimension; serving unbatched"
                );
                None
            }
        });
        Self { artifact_bytes, pool, batcher }
    }

    pub(crate) fn key(&self) -> &crate::VersionKey {
        self.pool.key()
    }

    /// Size of the artifact the sessions were created from; what the cache's byte budget counts.
    pub fn artifact_bytes(&self) -> u64 {
        self.artifact_bytes
    }

    /// Number of sessions, the most requests (or batches) that run at once.
    pub fn sessions(&self) -> usize {
        self.pool.size()
    }

    /// The batching in effect: `None` when not asked for or when the signature does not allow it.
    pub fn batching(&self) -> Option<BatchConfig> {
        self.batcher.as_ref().map(Batcher::config)
    }

    pub fn stats(&self) -> ModelStats {
        self.pool.stats()
    }

    /// Runs the model on `inputs` and returns its outputs in the signature's order.
    ///
    /// `inputs` were validated against this version's signature (the type proves it was
    /// validated; inputs whose names are not this version's inputs in order were validated
    /// against another signature and are refused with [`RuntimeError::Inference`]). A BYTES
    /// element ONNX Runtime cannot hold is [`RuntimeError::Unrepresentable`]. The run happens
    /// inside the caller's tracing span, on the caller's thread when it is predicted to take
    /// at most `inline_run_max_us` and the version was not demoted for slow inline runs, else
    /// on a blocking thread. When every session is busy and `max_queue_per_version` requests
    /// already wait, the request is refused at once with [`RuntimeError::Overloaded`].
    pub async fn infer(&self, inputs: ValidatedInputs) -> Result<Vec<NamedTensor>, RuntimeError> {
        convert::check_representable(inputs.as_slice())?;
        let inputs = self.pool.tensors_of(inputs)?;
        let outputs = match &self.batcher {
            Some(batcher) if Batcher::rows(&inputs).is_some() => batcher.submit(&self.pool, inputs).await?,
            _ => self.pool.run(inputs).await?,
        };
        Ok(self
            .pool
            .signature()
            .outputs
            .iter()
            .zip(outputs)
            .map(|(spec, t)| NamedTensor::new(spec.name.clone(), t))
            .collect())
    }
}
