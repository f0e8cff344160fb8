//! A loaded version: its pool of ONNX Runtime sessions, admission control and inference.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use depot_domain::{DataType, Digest, ModelName, NamedTensor, Signature, Tensor, TensorData, VersionNumber};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::Outlet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tracing::Span;

use crate::batching::Batcher;
use crate::{BatchConfig, RuntimeConfig, RuntimeError, convert};

/// Identifies one loaded version: the model, the version number and the digest of the artifact
/// that was registered for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionKey {
    pub model: ModelName,
    pub version: VersionNumber,
    pub digest: Digest,
}

impl VersionKey {
    pub fn new(model: ModelName, version: VersionNumber, digest: Digest) -> Self {
        Self { model, version, digest }
    }
}

impl fmt::Display for VersionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.model, self.version)
    }
}

/// Counters of one loaded version, since it was loaded. Warm-up runs are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelStats {
    /// Session runs: one per request, or one per batch when batching.
    pub runs: u64,
    /// Requests that reached a session (successfully or not).
    pub requests: u64,
    /// Requests refused with [`RuntimeError::Overloaded`].
    pub rejected: u64,
    /// Requests waiting for a session right now.
    pub waiting: usize,
}

/// A version ready to serve: `sessions_per_version` warmed-up ONNX Runtime sessions.
///
/// Shared as `Arc<LoadedModel>`: the runtime's cache holds one reference and every in-flight
/// request another, so an evicted version finishes its requests before its sessions are freed.
pub struct LoadedModel {
    key: VersionKey,
    artifact_bytes: u64,
    pool: Arc<SessionPool>,
    batcher: Option<Batcher>,
}

impl fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedModel")
            .field("key", &self.key)
            .field("artifact_bytes", &self.artifact_bytes)
            .field("sessions", &self.pool.size)
            .field("batching", &self.batching())
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Builds the version from its pool; starts the batcher when batching is asked for and the
    /// signature allows it. Must run inside a Tokio runtime.
    pub(crate) fn new(key: VersionKey, artifact_bytes: u64, pool: SessionPool, batching: Option<BatchConfig>) -> Self {
        let pool = Arc::new(pool);
        let batcher = batching.and_then(|config| {
            if Batcher::supports(&pool.signature) && config.max_batch_size > 0 {
                Some(Batcher::start(Arc::clone(&pool), config))
            } else {
                tracing::warn!(
                    model.name = %key.model,
                    model.version = %key.version,
                    "batching requested, but not every input and output has a dynamic leading dimension; serving unbatched"
                );
                None
            }
        });
        Self { key, artifact_bytes, pool, batcher }
    }

    pub fn key(&self) -> &VersionKey {
        &self.key
    }

    pub fn signature(&self) -> &Signature {
        &self.pool.signature
    }

    /// Size of the artifact the sessions were created from; what the cache's byte budget counts.
    pub fn artifact_bytes(&self) -> u64 {
        self.artifact_bytes
    }

    /// Number of sessions, the most requests (or batches) that run at once.
    pub fn sessions(&self) -> usize {
        self.pool.size
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
    /// Inputs are validated against the signature first ([`RuntimeError::Invalid`]). The run
    /// happens inside the caller's tracing span, on the caller's thread when it is predicted to
    /// take under `inline_run_max_us`, else on a blocking thread. When every session is
    /// busy and `max_queue_per_version` requests already wait, the request is refused at once
    /// with [`RuntimeError::Overloaded`].
    pub async fn infer(&self, inputs: Vec<NamedTensor>) -> Result<Vec<NamedTensor>, RuntimeError> {
        depot_domain::validate_inputs(&self.pool.signature, &inputs)?;
        convert::check_representable(&inputs)?;
        let inputs = self.pool.in_signature_order(inputs)?;
        let outputs = match &self.batcher {
            Some(batcher) if Batcher::rows(&inputs).is_some() => batcher.submit(&self.pool, inputs).await?,
            _ => self.pool.run(inputs).await?,
        };
        Ok(self
            .pool
            .signature
            .outputs
            .iter()
            .zip(outputs)
            .map(|(spec, t)| NamedTensor::new(spec.name.clone(), t))
            .collect())
    }
}

/// The sessions of one version, handed out one per run.
pub(crate) struct SessionPool {
    pub(crate) signature: Signature,
    input_names: Vec<String>,
    output_names: Vec<String>,
    idle: Mutex<Vec<Session>>,
    /// One permit per session: holding a permit guarantees an idle session.
    permits: Arc<Semaphore>,
    size: usize,
    max_queue: usize,
    /// Runs predicted to take at most this long run on the caller's thread.
    inline_max_ns: f64,
    /// Recent cost of a run per input element, in nanoseconds (`f64` bits); see [`RunCost`].
    cost: RunCost,
    waiting: AtomicUsize,
    runs: AtomicU64,
    requests: AtomicU64,
    rejected: AtomicU64,
}

impl fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPool").field("size", &self.size).field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl SessionPool {
    /// Verifies the digest, then creates and warms up the sessions. Blocking: call it on a
    /// blocking thread.
    pub(crate) fn create(
        environment: &Environment,
        config: &RuntimeConfig,
        key: &VersionKey,
        signature: Signature,
        bytes: &[u8],
    ) -> Result<Self, RuntimeError> {
        let actual = Digest::of(bytes);
        if actual != key.digest {
            return Err(RuntimeError::DigestMismatch { expected: key.digest, actual });
        }

        let mut sessions = Vec::with_capacity(config.sessions_per_version);
        for _ in 0..config.sessions_per_version {
            sessions.push(new_session(environment, config, key, bytes)?);
        }
        if let Some(first) = sessions.first() {
            check_interface(first, &signature)?;
        }

        let pool = Self {
            input_names: signature.inputs.iter().map(|s| s.name.clone()).collect(),
            output_names: signature.outputs.iter().map(|s| s.name.clone()).collect(),
            signature,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(sessions.len())),
            size: sessions.len(),
            max_queue: config.max_queue_per_version,
            inline_max_ns: config.inline_run_max_us as f64 * 1e3,
            cost: RunCost::default(),
            waiting: AtomicUsize::new(0),
            runs: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        };
        let warmup = warmup_inputs(&pool.signature)?;
        for session in &mut sessions {
            let started = Instant::now();
            pool.run_session(session, &warmup).map_err(|e| RuntimeError::load(format!("warm-up run failed: {e}")))?;
            pool.cost.record(started.elapsed(), element_count(&warmup));
        }
        *pool.idle.lock().unwrap_or_else(PoisonError::into_inner) = sessions;
        Ok(pool)
    }

    fn stats(&self) -> ModelStats {
        ModelStats {
            runs: self.runs.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// The validated inputs' tensors, in the signature's input order.
    fn in_signature_order(&self, inputs: Vec<NamedTensor>) -> Result<Vec<Tensor>, RuntimeError> {
        let mut ordered: Vec<Option<Tensor>> = vec![None; self.input_names.len()];
        for input in inputs {
            if let Some(i) = self.input_names.iter().position(|n| *n == input.name) {
                ordered[i] = Some(input.tensor);
            }
        }
        ordered.into_iter().collect::<Option<Vec<_>>>().ok_or_else(|| RuntimeError::inference("inputs were lost"))
    }

    /// Counts one more waiting request, or refuses it when `max_queue` already wait.
    pub(crate) fn enter_queue(self: &Arc<Self>) -> Result<QueueSlot, RuntimeError> {
        let admitted =
            self.waiting.fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| (w < self.max_queue).then_some(w + 1));
        match admitted {
            Ok(_) => Ok(QueueSlot(Arc::clone(self))),
            Err(_) => {
                self.rejected.fetch_add(1, Ordering::Relaxed);
                Err(RuntimeError::Overloaded { limit: self.max_queue })
            }
        }
    }

    /// A permit for one session, waiting for it (as a counted waiter) when all are busy.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<OwnedSemaphorePermit, RuntimeError> {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(TryAcquireError::NoPermits) => {
                let _slot = self.enter_queue()?;
                Arc::clone(&self.permits)
                    .acquire_owned()
                    .await
                    .map_err(|_| RuntimeError::inference("the model was unloaded"))
            }
            Err(TryAcquireError::Closed) => Err(RuntimeError::inference("the model was unloaded")),
        }
    }

    /// A session permit for a batch when a session is idle now.
    pub(crate) fn try_acquire_for_batch(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    /// A session permit for a batch, whose requests are already counted as waiting.
    pub(crate) async fn acquire_for_batch(&self) -> Result<OwnedSemaphorePermit, RuntimeError> {
        Arc::clone(&self.permits).acquire_owned().await.map_err(|_| RuntimeError::inference("the model was unloaded"))
    }

    /// Whether a run on `elements` input elements is predicted to be cheap enough to run on the caller's thread.
    pub(crate) fn runs_inline(&self, elements: usize) -> bool {
        self.cost.predict_ns(elements) <= self.inline_max_ns
    }

    /// Runs one request on a session: on this thread when it is cheap, else on a blocking thread.
    async fn run(self: &Arc<Self>, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RuntimeError> {
        let permit = self.acquire().await?;
        if self.runs_inline(element_count(&inputs)) {
            return self.run_blocking(&inputs, 1, permit);
        }
        let pool = Arc::clone(self);
        let span = Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            pool.run_blocking(&inputs, 1, permit)
        })
        .await
        .map_err(|e| RuntimeError::inference(format!("the inference thread failed: {e}")))?
    }

    /// Runs `inputs` (signature order) on an idle session; `requests` is how many requests
    /// they carry. The permit proves a session is idle and is released when the run ends.
    pub(crate) fn run_blocking(
        &self,
        inputs: &[Tensor],
        requests: u64,
        permit: OwnedSemaphorePermit,
    ) -> Result<Vec<Tensor>, RuntimeError> {
        let mut lease = SessionLease { pool: self, session: self.idle_session(), _permit: permit };
        let session = lease.session.as_mut().ok_or_else(|| RuntimeError::inference("no idle session"))?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.run_session(session, inputs);
        let elapsed = started.elapsed();
        if result.is_ok() {
            self.cost.record(elapsed, element_count(inputs));
        }
        tracing::debug!(requests, duration_ms = elapsed.as_secs_f64() * 1e3, ok = result.is_ok(), "session run");
        result
    }

    fn idle_session(&self) -> Option<Session> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }

    fn run_session(&self, session: &mut Session, inputs: &[Tensor]) -> Result<Vec<Tensor>, RuntimeError> {
        let values = self
            .input_names
            .iter()
            .zip(inputs)
            .map(|(name, tensor)| Ok((Cow::Borrowed(name.as_str()), convert::session_input(name, tensor)?)))
            .collect::<Result<Vec<_>, RuntimeError>>()?;
        let outputs = session.run(values).map_err(|e| RuntimeError::inference(e.to_string()))?;
        self.output_names
            .iter()
            .map(|name| {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| RuntimeError::inference(format!("the model returned no output {name:?}")))?;
                convert::tensor_from_output(name, value)
            })
            .collect()
    }
}

/// The recent cost of a version's runs per input element: an exponentially weighted average
/// (weight 1/8 for each new run) that starts from the first warm-up run. Per element, so that a
/// request of many rows is predicted to cost many times a one-row run (an overestimate for
/// models whose cost is mostly fixed, which errs towards the blocking thread).
#[derive(Debug, Default)]
struct RunCost(AtomicU64);

impl RunCost {
    /// Marks "no run measured yet"; predictions are then infinite.
    const UNMEASURED: u64 = 0;

    fn record(&self, elapsed: Duration, elements: usize) {
        let sample = elapsed.as_nanos() as f64 / elements.max(1) as f64;
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
            let average = if bits == Self::UNMEASURED { sample } else { f64::from_bits(bits) * 0.875 + sample * 0.125 };
            // A zero-cost sample must not read back as "unmeasured".
            Some(average.max(f64::MIN_POSITIVE).to_bits())
        });
    }

    fn predict_ns(&self, elements: usize) -> f64 {
        match self.0.load(Ordering::Relaxed) {
            Self::UNMEASURED => f64::INFINITY,
            bits => f64::from_bits(bits) * elements.max(1) as f64,
        }
    }
}

/// Elements across all of `inputs`; saturates rather than overflows.
pub(crate) fn element_count(inputs: &[Tensor]) -> usize {
    inputs.iter().map(|t| t.data.len()).fold(0, usize::saturating_add)
}

/// A waiting request, counted until dropped.
#[derive(Debug)]
pub(crate) struct QueueSlot(Arc<SessionPool>);

impl Drop for QueueSlot {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session taken from the pool, put back (even on panic) before its permit is released.
struct SessionLease<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for SessionLease<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.idle.lock().unwrap_or_else(PoisonError::into_inner).push(session);
        }
    }
}

fn new_session(
    environment: &Environment,
    config: &RuntimeConfig,
    key: &VersionKey,
    bytes: &[u8],
) -> Result<Session, RuntimeError> {
    let failed = |e: String| RuntimeError::load(format!("ONNX Runtime refused the model: {e}"));
    Session::builder(environment)
        .map_err(|e| failed(e.to_string()))?
        .with_intra_threads(config.intra_op_threads)
        .map_err(|e| failed(e.to_string()))?
        .with_inter_threads(config.inter_op_threads)
        .map_err(|e| failed(e.to_string()))?
        .with_log_id(key.to_string())
        .map_err(|e| failed(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(|e| failed(e.to_string()))
}

/// Refuses a signature the runtime cannot serve, before anything is fetched.
pub(crate) fn check_servable(signature: &Signature) -> Result<(), RuntimeError> {
    if let Some(reason) = signature.unservable_reason() {
        return Err(RuntimeError::load(reason));
    }
    let unsupported = signature
        .inputs
        .iter()
        .chain(&signature.outputs)
        .find(|s| s.datatype.is_some_and(|d| !TensorData::supports(d)));
    if let Some(spec) = unsupported {
        return Err(RuntimeError::load(format!(
            "{:?} has type {}, which Depot does not serve",
            spec.name, spec.type_name
        )));
    }
    Ok(())
}

/// Checks that the signature the version was registered with is the model's real interface:
/// the same inputs, element types, ranks and fixed dimensions, and outputs that exist with the
/// declared element types. Validation against the signature then keeps requests that ONNX
/// Runtime would refuse from reaching it.
fn check_interface(session: &Session, signature: &Signature) -> Result<(), RuntimeError> {
    let names = |outlets: &[Outlet]| outlets.iter().map(|o| format!("{:?}", o.name())).collect::<Vec<_>>().join(", ");
    for spec in &signature.inputs {
        let outlet = session.inputs().iter().find(|o| o.name() == spec.name).ok_or_else(|| {
            RuntimeError::load(format!(
                "the signature's input {:?} is not an input of the model (its inputs are {})",
                spec.name,
                names(session.inputs())
            ))
        })?;
        check_outlet(outlet, "input", spec.datatype)?;
        if let (Some(declared), Some(actual)) = (&spec.shape, outlet.dtype().tensor_shape()) {
            let agrees =
                declared.len() == actual.len() && declared.iter().zip(actual.iter()).all(|(&d, &a)| a < 0 || d == a);
            if !agrees {
                return Err(RuntimeError::load(format!(
                    "input {:?} has shape {declared:?} in the signature but {:?} in the model",
                    spec.name,
                    &actual[..]
                )));
            }
        }
    }
    if let Some(extra) = session.inputs().iter().find(|o| signature.input(o.name()).is_none()) {
        return Err(RuntimeError::load(format!("the model's input {:?} is missing from the signature", extra.name())));
    }
    for spec in &signature.outputs {
        let outlet = session.outputs().iter().find(|o| o.name() == spec.name).ok_or_else(|| {
            RuntimeError::load(format!(
                "the signature's output {:?} is not an output of the model (its outputs are {})",
                spec.name,
                names(session.outputs())
            ))
        })?;
        check_outlet(outlet, "output", spec.datatype)?;
    }
    Ok(())
}

fn check_outlet(outlet: &Outlet, what: &str, declared: Option<DataType>) -> Result<(), RuntimeError> {
    let actual = outlet.dtype().tensor_type().and_then(convert::datatype_of);
    if actual != declared || actual.is_none() {
        let show = |d: Option<DataType>| d.map_or_else(|| "an unsupported type".to_owned(), |d| d.to_string());
        return Err(RuntimeError::load(format!(
            "{what} {:?} is {} in the model but {} in the signature",
            outlet.name(),
            show(actual),
            show(declared)
        )));
    }
    Ok(())
}

/// One input per signature input: dynamic dimensions 1, elements zero, `false` or empty.
fn warmup_inputs(signature: &Signature) -> Result<Vec<Tensor>, RuntimeError> {
    signature
        .inputs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = match &spec.shape {
                Some(dims) => dims.iter().map(|&d| usize::try_from(d).unwrap_or(1)).collect(),
                None => vec![1],
            };
            let count = Tensor::element_count(&shape)
                .ok_or_else(|| RuntimeError::load(format!("input {:?} has a shape too large to warm up", spec.name)))?;
            let data = spec
                .datatype
                .and_then(|d| TensorData::zeros(d, count))
                .ok_or_else(|| RuntimeError::load(format!("input {:?} has type {}", spec.name, spec.type_name)))?;
            Ok(Tensor { shape, data })
        })
        .collect()
}
