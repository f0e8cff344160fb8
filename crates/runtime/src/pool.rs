//! The sessions of one loaded version, beneath the batcher: creating and warming them up,
//! handing them out one run at a time under admission control, running them, and deciding
//! whether a run may happen on the caller's thread ([`InlinePolicy`]).
//!
//! Architecture invariant: this module imports neither `model` nor `batching`. The batcher
//! runs its batches on a [`SessionPool`], and a [`LoadedModel`](crate::LoadedModel) owns a
//! pool and, when batching, a batcher on top of it.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use depot_domain::{DataType, Digest, NameList, Signature, Tensor, TensorData, ValidatedInputs};
use ort::environment::Environment;
use ort::session::Session;
use ort::value::Outlet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tracing::Instrument;

use crate::key::VersionKey;
use crate::{RuntimeConfig, RuntimeError, VersionObserver, convert};

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
    /// Whether runs predicted to be cheap may still run on the caller's worker thread: `false`
    /// when `inline_run_max_us` is 0, and for good (until the version is reloaded) once its
    /// inline runs took too long (see [`RuntimeConfig::inline_run_max_us`]).
    pub inline: bool,
}

/// The sessions of one version, handed out one per run.
pub(crate) struct SessionPool {
    key: VersionKey,
    signature: Signature,
    input_names: Vec<String>,
    output_names: Vec<String>,
    idle: Mutex<Vec<Session>>,
    /// One permit per session: holding a permit guarantees an idle session.
    permits: Arc<Semaphore>,
    size: usize,
    max_queue: usize,
    /// Which runs may happen on the caller's thread.
    inline: InlinePolicy,
    waiting: AtomicUsize,
    runs: AtomicU64,
    requests: AtomicU64,
    rejected: AtomicU64,
    observer: Arc<dyn VersionObserver>,
}

impl fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionPool")
            .field("key", &self.key)
            .field("size", &self.size)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SessionPool {
    /// Verifies the digest, then creates and warms up the sessions. Blocking: call it on a
    /// blocking thread.
    pub(crate) fn create(
        environment: &Environment,
        config: &RuntimeConfig,
        key: VersionKey,
        signature: Signature,
        bytes: &[u8],
        observer: Arc<dyn VersionObserver>,
    ) -> Result<Self, RuntimeError> {
        let actual = Digest::of(bytes);
        if actual != key.digest {
            return Err(RuntimeError::DigestMismatch { expected: key.digest, actual });
        }

        let mut sessions = Vec::with_capacity(config.sessions_per_version);
        for _ in 0..config.sessions_per_version {
            sessions.push(new_session(environment, config, &key, bytes)?);
        }
        if let Some(first) = sessions.first() {
            check_interface(first, &signature)?;
        }

        let pool = Self {
            key,
            input_names: signature.inputs.iter().map(|s| s.name.clone()).collect(),
            output_names: signature.outputs.iter().map(|s| s.name.clone()).collect(),
            signature,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(sessions.len())),
            size: sessions.len(),
            max_queue: config.max_queue_per_version,
            inline: InlinePolicy::new(Duration::from_micros(config.inline_run_max_us)),
            waiting: AtomicUsize::new(0),
            runs: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            observer,
        };
        let warmup = warmup_inputs(&pool.signature)?;
        for session in &mut sessions {
            let started = Instant::now();
            pool.run_session(session, &warmup).map_err(|e| RuntimeError::load(format!("warm-up run failed: {e}")))?;
            pool.inline.record_cost(started.elapsed(), element_count(&warmup));
        }
        *pool.idle.lock().unwrap_or_else(PoisonError::into_inner) = sessions;
        Ok(pool)
    }

    pub(crate) fn observer(&self) -> &dyn VersionObserver {
        &*self.observer
    }

    pub(crate) fn key(&self) -> &VersionKey {
        &self.key
    }

    pub(crate) fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Number of sessions.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn stats(&self) -> ModelStats {
        ModelStats {
            runs: self.runs.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
            inline: self.inline.allows_inline(),
        }
    }

    /// The tensors of `inputs`, which are in their signature's order.
    ///
    /// `inputs` were validated against some signature; a cheap check that their names are this
    /// pool's input names, in order, catches inputs validated against another version's
    /// signature ([`RuntimeError::Inference`]). Inputs validated against a signature with the
    /// same input names but other types or shapes get past it, and ONNX Runtime refuses them.
    pub(crate) fn tensors_of(&self, inputs: ValidatedInputs) -> Result<Vec<Tensor>, RuntimeError> {
        let matches = inputs.len() == self.input_names.len()
            && inputs.as_slice().iter().zip(&self.input_names).all(|(input, name)| input.name == *name);
        if !matches {
            let given: Vec<String> = inputs.as_slice().iter().map(|i| i.name.clone()).collect();
            return Err(RuntimeError::inference(format!(
                "the inputs were validated against another signature: they are {}, but the inputs of {} are {}",
                NameList(&given),
                self.key,
                NameList(&self.input_names)
            )));
        }
        Ok(inputs.into_inner().into_iter().map(|input| input.tensor).collect())
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
                Arc::clone(&self.permits).acquire_owned().await.map_err(|_| unloaded())
            }
            Err(TryAcquireError::Closed) => Err(unloaded()),
        }
    }

    /// A session permit for a batch when a session is idle now.
    pub(crate) fn try_acquire_for_batch(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.permits).try_acquire_owned().ok()
    }

    /// A session permit for a batch, whose requests are already counted as waiting.
    pub(crate) async fn acquire_for_batch(&self) -> Result<OwnedSemaphorePermit, RuntimeError> {
        Arc::clone(&self.permits).acquire_owned().await.map_err(|_| unloaded())
    }

    /// Whether a run on `elements` input elements may run on the caller's thread.
    pub(crate) fn runs_inline(&self, elements: usize) -> bool {
        self.inline.runs_inline(elements)
    }

    /// Runs one request on a session: on this thread when it is cheap, else on a blocking thread.
    pub(crate) async fn run(self: &Arc<Self>, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, RuntimeError> {
        let asked = Instant::now();
        // The spans under target `depot::span` exist only for trace export (off by default).
        let permit = self.acquire().instrument(tracing::info_span!(target: "depot::span", "queue")).await?;
        self.observer.queued(asked.elapsed());
        let inline = self.runs_inline(element_count(&inputs));
        let span = tracing::info_span!(target: "depot::span", "infer", batch = 1usize, inline);
        if inline {
            return span.in_scope(|| self.run_blocking(&inputs, 1, permit, true));
        }
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            pool.run_blocking(&inputs, 1, permit, false)
        })
        .await
        .map_err(|e| RuntimeError::internal(format!("the inference thread failed: {e}")))?
    }

    /// Runs `inputs` (signature order) on an idle session, on this thread; `requests` is how
    /// many requests they carry, `inline` whether this thread is the caller's async worker.
    /// The permit proves a session is idle and is released when the run ends.
    pub(crate) fn run_blocking(
        &self,
        inputs: &[Tensor],
        requests: u64,
        permit: OwnedSemaphorePermit,
        inline: bool,
    ) -> Result<Vec<Tensor>, RuntimeError> {
        let mut lease = SessionLease { pool: self, session: self.idle_session(), _permit: permit };
        let session = lease.session.as_mut().ok_or_else(|| RuntimeError::internal("no idle session"))?;
        self.runs.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(requests, Ordering::Relaxed);
        let started = Instant::now();
        let result = self.run_session(session, inputs);
        let elapsed = started.elapsed();
        self.observer.ran(requests, elapsed, result.is_ok());
        if result.is_ok() {
            self.inline.record_cost(elapsed, element_count(inputs));
        }
        if inline && self.inline.record_inline(elapsed) {
            tracing::warn!(
                model.name = %self.key.model,
                model.version = %self.key.version,
                duration_ms = elapsed.as_secs_f64() * 1e3,
                inline_run_max_ms = self.inline.max.as_secs_f64() * 1e3,
                "inline runs of this version took too long; its runs go to the blocking pool until it is reloaded"
            );
        }
        tracing::debug!(
            requests,
            inline,
            duration_ms = elapsed.as_secs_f64() * 1e3,
            ok = result.is_ok(),
            "session run"
        );
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

/// The semaphore is never closed while the pool lives; this is a bug, not the request's fault.
fn unloaded() -> RuntimeError {
    RuntimeError::internal("the model's sessions were closed")
}

/// Decides which runs of a version happen on the caller's async worker thread.
///
/// A run is predicted (by [`RunCost`]) and runs inline when the prediction is at most `max`
/// (`inline_run_max_us`), unless the version was demoted. A prediction is an average, so a run
/// can take longer than predicted; an inline run taking longer than [`Self::STRIKE_FACTOR`]
/// times `max` (10 ms at the default 1 ms) is a *strike*, and the [`Self::STRIKES`]th strike
/// among the last 64 inline runs (the bits of a `u64`) demotes the version: none of its runs is inline
/// again until it is reloaded. [`Self::record_inline`] says when that happened, once.
///
/// Why these numbers: a run within ten times its prediction is noise (a preemption, a cold
/// cache), and holds its worker for at most ten times the bound; beyond that the prediction is
/// wrong, not noisy. One strike is not enough, because on a busy machine (a shared 2-core CI runner) the
/// thread can be preempted mid-run for a scheduler slice or two, and that says nothing about
/// the model. Three strikes within 64 runs does not happen by preemption on a machine that is
/// not persistently overloaded, while a version whose inline runs really are slow is demoted
/// after at most three of them (plus those already running inline on other workers at that
/// moment). Strikes older than the last 64 inline runs are forgotten, so that rare blips over
/// a long uptime do not add up to a demotion; a version that keeps mispredicting stalls a
/// worker in at most 2 of any 64 consecutive inline runs. Runs whose prediction exceeds `max`
/// are already handed off, and [`RunCost`] learns from every run, so a model that is steadily
/// slow never runs inline in the first place: this guards against runs whose cost the
/// per-element average does not predict (data-dependent control flow, bimodal inputs).
#[derive(Debug)]
pub(crate) struct InlinePolicy {
    /// Runs predicted to take at most this long run inline; zero: none.
    max: Duration,
    /// An inline run that took longer than this is a strike.
    strike_after: Duration,
    cost: RunCost,
    /// One bit per inline run, the latest lowest: set for a strike.
    recent: AtomicU64,
    demoted: AtomicBool,
}

impl InlinePolicy {
    /// An inline run longer than this many times `inline_run_max_us` is a strike.
    pub(crate) const STRIKE_FACTOR: u32 = 10;
    /// This many strikes among the last 64 inline runs (the bits of `recent`) demote the version.
    pub(crate) const STRIKES: u32 = 3;

    pub(crate) fn new(max: Duration) -> Self {
        Self {
            max,
            strike_after: max.saturating_mul(Self::STRIKE_FACTOR),
            cost: RunCost::default(),
            recent: AtomicU64::new(0),
            demoted: AtomicBool::new(false),
        }
    }

    /// Whether a run on `elements` input elements runs on the caller's thread.
    pub(crate) fn runs_inline(&self, elements: usize) -> bool {
        !self.demoted.load(Ordering::Relaxed) && self.cost.predict_ns(elements) <= self.max.as_nanos() as f64
    }

    /// Whether any run may still run inline: the threshold is not zero and the version was not
    /// demoted.
    pub(crate) fn allows_inline(&self) -> bool {
        !self.max.is_zero() && !self.demoted.load(Ordering::Relaxed)
    }

    /// Records what a successful run (warm-up, inline or not) cost, for the predictions.
    pub(crate) fn record_cost(&self, elapsed: Duration, elements: usize) {
        self.cost.record(elapsed, elements);
    }

    /// Records how long an inline run (successful or not) held the caller's thread; `true`
    /// when this run demoted the version, which happens once.
    pub(crate) fn record_inline(&self, elapsed: Duration) -> bool {
        let strike = elapsed > self.strike_after;
        let shift = |bits: u64| (bits << 1) | u64::from(strike);
        let previous = self.recent.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some(shift(bits)));
        let strikes = shift(previous.unwrap_or_else(|bits| bits)).count_ones();
        strike && strikes >= Self::STRIKES && !self.demoted.swap(true, Ordering::Relaxed)
    }
}

/// The recent cost of a version's runs per input element: an exponentially weighted average
/// (weight 1/8 for each new run) that starts from the first warm-up run. Per element, so that a
/// request of many rows is predicted to cost many times a one-row run (an overestimate for
/// models whose cost is mostly fixed, which errs towards the blocking thread). Kept as `f64`
/// nanoseconds in the bits of an atomic.
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

/// A session for the model `bytes`. Failing to set the session up is the environment's fault
/// ([`RuntimeError::Internal`]); refusing the bytes is the artifact's
/// ([`RuntimeError::LoadFailed`]).
fn new_session(
    environment: &Environment,
    config: &RuntimeConfig,
    key: &VersionKey,
    bytes: &[u8],
) -> Result<Session, RuntimeError> {
    let setup = |e: String| RuntimeError::internal(format!("setting up an ONNX Runtime session failed: {e}"));
    Session::builder(environment)
        .map_err(|e| setup(e.to_string()))?
        .with_intra_threads(config.intra_op_threads)
        .map_err(|e| setup(e.to_string()))?
        .with_inter_threads(config.inter_op_threads)
        .map_err(|e| setup(e.to_string()))?
        .with_log_id(key.to_string())
        .map_err(|e| setup(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(|e| RuntimeError::load(format!("ONNX Runtime refused the model: {e}")))
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

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: Duration = Duration::from_micros(100);
    /// The inline runs whose strikes count: the bits of `InlinePolicy::recent`.
    const WINDOW: u32 = u64::BITS;
    /// Just over the strike bound, ten times `MAX`.
    const SLOW: Duration = Duration::from_micros(1_001);

    /// A policy whose cost estimate is `per_element` per input element.
    fn policy(per_element: Duration) -> InlinePolicy {
        let policy = InlinePolicy::new(MAX);
        policy.record_cost(per_element, 1);
        policy
    }

    #[test]
    fn predictions_past_the_threshold_go_to_the_blocking_pool() {
        let policy = policy(Duration::from_micros(10));
        assert!(policy.runs_inline(1));
        assert!(policy.runs_inline(10), "exactly the threshold runs inline");
        assert!(!policy.runs_inline(11), "11 elements at 10 us each are predicted past 100 us");
        // Before any run is measured nothing is predicted cheap, and a zero threshold hands
        // every run off.
        assert!(!InlinePolicy::new(MAX).runs_inline(1));
        let never = InlinePolicy::new(Duration::ZERO);
        never.record_cost(Duration::ZERO, 1);
        assert!(!never.runs_inline(0));
        assert!(!never.allows_inline());
    }

    #[test]
    fn the_cost_estimate_follows_recent_runs() {
        let policy = policy(Duration::from_micros(10));
        assert!(policy.runs_inline(10));
        // One run at 90 us per element: 10 * 7/8 + 90 * 1/8 = 20 us per element.
        policy.record_cost(Duration::from_micros(90), 1);
        assert!(policy.runs_inline(5));
        assert!(!policy.runs_inline(6));
    }

    #[test]
    fn inline_runs_under_the_bound_never_demote() {
        let policy = policy(Duration::from_micros(1));
        for elapsed in [MAX, MAX * InlinePolicy::STRIKE_FACTOR, Duration::from_micros(999)] {
            for _ in 0..1_000 {
                assert!(!policy.record_inline(elapsed));
            }
        }
        assert!(policy.allows_inline() && policy.runs_inline(1));
    }

    #[test]
    fn a_single_slow_inline_run_does_not_demote() {
        let policy = policy(Duration::from_micros(1));
        assert!(!policy.record_inline(Duration::from_secs(1)), "one preemption blip");
        assert!(!policy.record_inline(SLOW));
        assert!(policy.allows_inline() && policy.runs_inline(1));
    }

    #[test]
    fn the_third_strike_in_the_window_demotes_for_good() {
        let policy = policy(Duration::from_micros(1));
        assert!(!policy.record_inline(SLOW));
        assert!(!policy.record_inline(MAX));
        assert!(!policy.record_inline(SLOW));
        assert!(policy.runs_inline(1), "two strikes: still inline");
        assert!(policy.record_inline(SLOW), "the third strike demotes, and says so");
        assert!(!policy.allows_inline());
        assert!(!policy.runs_inline(1), "a cheap prediction no longer runs inline");

        // It stays demoted whatever follows, and says so only once.
        assert!(!policy.record_inline(SLOW));
        for _ in 0..2 * WINDOW {
            assert!(!policy.record_inline(Duration::ZERO));
            policy.record_cost(Duration::ZERO, 1);
        }
        assert!(!policy.allows_inline() && !policy.runs_inline(1));
    }

    #[test]
    fn strikes_older_than_the_window_are_forgotten() {
        let policy = policy(Duration::from_micros(1));
        assert!(!policy.record_inline(SLOW));
        assert!(!policy.record_inline(SLOW));
        // With 62 more, the two strikes are the oldest of the last 64 inline runs.
        for _ in 0..WINDOW - 2 {
            assert!(!policy.record_inline(MAX));
        }
        assert!(!policy.record_inline(SLOW), "the first strike has left the window");
        assert!(!policy.record_inline(SLOW), "the second has too: two strikes in the window");
        assert!(policy.record_inline(SLOW), "three strikes within 64 runs demote");
    }
}
