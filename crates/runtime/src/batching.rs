//! Dynamic batching: concurrent requests to one version that differ only in their leading
//! dimension are concatenated along it, run as one session run, and split back by rows.
//!
//! One task per batched version collects requests: a batch starts with the oldest waiting
//! request and takes compatible companions (same dimensions after the first, for every input)
//! until it holds `max_batch_size` rows or the first request has waited `max_queue_delay`. It
//! then waits for a session, tops the batch up with requests that arrived meanwhile, and runs it
//! (on a blocking thread unless it may run inline, see [`SessionPool::runs_inline`]) while the
//! next batch is collected. Requests that do not fit are kept for the next batch,
//! oldest first.
//!
//! With a zero `max_queue_delay` nothing waits for companions: a batch is whatever has queued
//! by the time a session is free (Triton's behaviour without `max_queue_delay_microseconds`).
//! Otherwise the delay is rounded up to tokio's timer granularity, a millisecond.
//!
//! A request that arrives alone (nothing else queued) while a session is idle runs at once:
//! waiting for companions only pays when requests are arriving together, and without this a
//! lone request would always wait the whole delay (and tokio's timer rounds it up to the next
//! millisecond).
//!
//! Architecture invariant: the batcher sits on a [`SessionPool`] and imports nothing of the
//! loaded version (`model`) above it.

use std::collections::VecDeque;
use std::sync::Arc;

use depot_domain::{Signature, Tensor, TensorData};
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Span;

use crate::pool::{QueueSlot, SessionPool, element_count};
use crate::{BatchConfig, RuntimeError};

type Reply = Result<Vec<Tensor>, RuntimeError>;

/// The handle a loaded version keeps; dropping it stops the batching task once the requests
/// already submitted have run.
#[derive(Debug)]
pub(crate) struct Batcher {
    config: BatchConfig,
    submit: mpsc::UnboundedSender<Pending>,
}

/// A request waiting in the batcher.
#[derive(Debug)]
struct Pending {
    inputs: Vec<Tensor>,
    rows: usize,
    reply: oneshot::Sender<Reply>,
    enqueued: Instant,
    span: Span,
    /// The request's `queue` span (for trace export), closed when its batch starts.
    _queue: Span,
    _slot: QueueSlot,
}

impl Pending {
    /// Requests can share a run when every input has the same dimensions after the first.
    fn compatible(&self, other: &Pending) -> bool {
        self.inputs.iter().zip(&other.inputs).all(|(a, b)| a.shape.get(1..) == b.shape.get(1..))
    }
}

impl Batcher {
    /// Batching needs every input and output to have a dynamic leading dimension.
    pub(crate) fn supports(signature: &Signature) -> bool {
        let leading_dynamic = |shape: &Option<Vec<i64>>| shape.as_ref().and_then(|s| s.first()).is_some_and(|&d| d < 0);
        !signature.inputs.is_empty()
            && signature.inputs.iter().all(|s| leading_dynamic(&s.shape))
            && signature.outputs.iter().all(|s| leading_dynamic(&s.shape))
    }

    /// The request's row count, when all its inputs agree on their leading dimension (else it
    /// runs unbatched).
    pub(crate) fn rows(inputs: &[Tensor]) -> Option<usize> {
        let rows = *inputs.first()?.shape.first()?;
        inputs.iter().all(|t| t.shape.first() == Some(&rows)).then_some(rows)
    }

    pub(crate) fn start(pool: Arc<SessionPool>, config: BatchConfig) -> Self {
        let (submit, requests) = mpsc::unbounded_channel();
        tokio::spawn(collect_batches(requests, pool, config));
        Self { config, submit }
    }

    pub(crate) fn config(&self) -> BatchConfig {
        self.config
    }

    /// Queues `inputs` (signature order, validated, with a common leading dimension) and waits
    /// for their rows of the batch's outputs.
    pub(crate) async fn submit(&self, pool: &Arc<SessionPool>, inputs: Vec<Tensor>) -> Reply {
        let rows = Self::rows(&inputs).ok_or_else(|| RuntimeError::inference("request cannot be batched"))?;
        let slot = pool.enter_queue()?;
        let (reply, response) = oneshot::channel();
        let queue = tracing::info_span!(target: "depot::span", "queue", batched = true);
        let pending = Pending {
            inputs,
            rows,
            reply,
            enqueued: Instant::now(),
            span: Span::current(),
            _queue: queue,
            _slot: slot,
        };
        self.submit.send(pending).map_err(|_| RuntimeError::internal("the batching task has stopped"))?;
        // The batch's thread failed (panicked) before answering.
        response.await.map_err(|_| RuntimeError::internal("the batch was dropped before it ran"))?
    }
}

/// A batch being collected.
struct Batch {
    requests: Vec<Pending>,
    rows: usize,
    max_rows: usize,
}

impl Batch {
    fn full(&self) -> bool {
        self.rows >= self.max_rows
    }

    /// Adds `p` when it is compatible and fits; gives it back otherwise.
    fn offer(&mut self, p: Pending) -> Option<Pending> {
        let fits = self.rows.saturating_add(p.rows) <= self.max_rows;
        if fits && self.requests.first().is_none_or(|first| first.compatible(&p)) {
            self.rows += p.rows;
            self.requests.push(p);
            None
        } else {
            Some(p)
        }
    }
}

async fn collect_batches(mut incoming: mpsc::UnboundedReceiver<Pending>, pool: Arc<SessionPool>, config: BatchConfig) {
    let mut held_back: VecDeque<Pending> = VecDeque::new();
    loop {
        let first = match held_back.pop_front() {
            Some(p) => p,
            None => match incoming.recv().await {
                Some(p) => p,
                None => break,
            },
        };
        let deadline = first.enqueued + config.max_queue_delay;
        let mut batch = Batch { rows: first.rows, requests: vec![first], max_rows: config.max_batch_size };

        // Companions set aside earlier come first, in arrival order.
        let mut still_held = VecDeque::with_capacity(held_back.len());
        for p in held_back.drain(..) {
            if let Some(p) = batch.offer(p) {
                still_held.push_back(p);
            }
        }
        held_back = still_held;
        take_arrived(&mut incoming, &mut batch, &mut held_back);

        let alone = batch.requests.len() == 1 && held_back.is_empty();
        let idle = if alone { pool.try_acquire_for_batch() } else { None };
        let permit = match idle {
            Some(permit) => permit,
            None => {
                // The timer rounds deadlines up to the next millisecond, so a deadline that has
                // passed (a zero delay, or a request held back from an earlier batch) is not
                // handed to it.
                while !batch.full() && Instant::now() < deadline {
                    match tokio::time::timeout_at(deadline, incoming.recv()).await {
                        Ok(Some(p)) => held_back.extend(batch.offer(p)),
                        Ok(None) | Err(_) => break,
                    }
                }
                let permit = match pool.acquire_for_batch().await {
                    Ok(permit) => permit,
                    Err(e) => {
                        for p in batch.requests {
                            let _ = p.reply.send(Err(e.clone()));
                        }
                        continue;
                    }
                };
                take_arrived(&mut incoming, &mut batch, &mut held_back);
                permit
            }
        };
        dispatch(Arc::clone(&pool), batch.requests, permit);
    }
}

/// Adds the requests that have already arrived, without waiting, until the batch is full.
fn take_arrived(incoming: &mut mpsc::UnboundedReceiver<Pending>, batch: &mut Batch, held_back: &mut VecDeque<Pending>) {
    while !batch.full() {
        match incoming.try_recv() {
            Ok(p) => held_back.extend(batch.offer(p)),
            Err(_) => break,
        }
    }
}

/// Runs one batch, here when it is cheap or else on a blocking thread, and answers each request
/// with its rows.
fn dispatch(pool: Arc<SessionPool>, requests: Vec<Pending>, permit: OwnedSemaphorePermit) {
    // Callers that gave up are not run.
    let requests: Vec<Pending> = requests.into_iter().filter(|p| !p.reply.is_closed()).collect();
    if requests.is_empty() {
        return;
    }
    let rows: Vec<usize> = requests.iter().map(|p| p.rows).collect();
    let observer = pool.observer();
    for p in &requests {
        observer.queued(p.enqueued.elapsed());
    }
    observer.batched(rows.iter().sum());
    let span =
        tracing::debug_span!(parent: None, "batch", requests = requests.len(), rows = rows.iter().sum::<usize>());
    for p in &requests {
        span.follows_from(&p.span);
    }
    let elements = requests.iter().map(|p| element_count(&p.inputs)).fold(0, usize::saturating_add);
    let inline = pool.runs_inline(elements);
    let run = move || {
        let _entered = span.enter();
        let mut inputs = Vec::with_capacity(requests.len());
        let mut replies = Vec::with_capacity(requests.len());
        let mut infer = Vec::with_capacity(requests.len());
        let size = requests.len();
        for p in requests {
            // Dropping the rest of `p` releases its queue slot and ends its queue span: it is
            // no longer waiting.
            infer.push(tracing::info_span!(target: "depot::span", parent: &p.span, "infer", batch = size, inline));
            inputs.push(p.inputs);
            replies.push(p.reply);
        }
        let result = concat_requests(inputs)
            .and_then(|batched| pool.run_blocking(&batched, replies.len() as u64, permit, inline))
            .and_then(|outputs| split_outputs(outputs, &rows));
        drop(infer);
        match result {
            Ok(per_request) => {
                for (reply, outputs) in replies.into_iter().zip(per_request) {
                    let _ = reply.send(Ok(outputs));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    };
    if inline {
        run();
    } else {
        tokio::task::spawn_blocking(run);
    }
}

/// Concatenates each input of every request along the leading dimension.
fn concat_requests(mut requests: Vec<Vec<Tensor>>) -> Result<Vec<Tensor>, RuntimeError> {
    if requests.len() == 1 {
        return Ok(requests.remove(0));
    }
    let inputs = requests.first().map_or(0, Vec::len);
    let mut columns: Vec<Vec<Tensor>> = (0..inputs).map(|_| Vec::with_capacity(requests.len())).collect();
    for request in requests {
        for (column, tensor) in columns.iter_mut().zip(request) {
            column.push(tensor);
        }
    }
    columns
        .into_iter()
        .map(|parts| {
            let mut shape = parts.first().map(|t| t.shape.clone()).unwrap_or_default();
            if let Some(leading) = shape.first_mut() {
                *leading = parts.iter().filter_map(|t| t.shape.first()).sum();
            }
            let data = concat_data(parts.into_iter().map(|t| t.data).collect())
                .ok_or_else(|| RuntimeError::inference("batched requests disagree on an input's datatype"))?;
            Ok(Tensor { shape, data })
        })
        .collect()
}

/// Splits each output by rows: request `i` gets `rows[i]` rows of every output.
fn split_outputs(outputs: Vec<Tensor>, rows: &[usize]) -> Result<Vec<Vec<Tensor>>, RuntimeError> {
    let total: usize = rows.iter().sum();
    let mut per_request: Vec<Vec<Tensor>> = rows.iter().map(|_| Vec::with_capacity(outputs.len())).collect();
    for output in outputs {
        if output.shape.first() != Some(&total) {
            return Err(RuntimeError::inference(format!(
                "a batched output has shape {:?}, whose leading dimension is not the batch's {total} rows",
                output.shape
            )));
        }
        let row_len = Tensor::element_count(&output.shape[1..]).unwrap_or(0);
        let counts: Vec<usize> = rows.iter().map(|r| r * row_len).collect();
        let trailing = output.shape[1..].to_vec();
        for ((target, data), &r) in per_request.iter_mut().zip(split_data(output.data, &counts)).zip(rows) {
            let mut shape = Vec::with_capacity(trailing.len() + 1);
            shape.push(r);
            shape.extend_from_slice(&trailing);
            target.push(Tensor { shape, data });
        }
    }
    Ok(per_request)
}

macro_rules! per_variant {
    ($macro:ident!($($args:tt)*)) => {
        $macro!($($args)*; Bool, U8, U16, U32, U64, I8, I16, I32, I64, F32, F64, Bytes)
    };
}

/// Joins element vectors of one datatype; `None` when the datatypes differ.
fn concat_data(parts: Vec<TensorData>) -> Option<TensorData> {
    let mut parts = parts.into_iter();
    let first = parts.next()?;
    macro_rules! concat_arms {
        ($first:ident, $parts:ident; $($variant:ident),*) => {
            match $first {
                $(TensorData::$variant(mut out) => {
                    for part in $parts {
                        let TensorData::$variant(v) = part else { return None };
                        out.extend(v);
                    }
                    Some(TensorData::$variant(out))
                })*
            }
        };
    }
    per_variant!(concat_arms!(first, parts))
}

/// Splits elements into consecutive parts of `counts` elements.
fn split_data(data: TensorData, counts: &[usize]) -> Vec<TensorData> {
    fn chunks<T>(v: Vec<T>, counts: &[usize]) -> Vec<Vec<T>> {
        let mut items = v.into_iter();
        counts.iter().map(|&n| items.by_ref().take(n).collect()).collect()
    }
    macro_rules! split_arms {
        ($data:ident, $counts:ident; $($variant:ident),*) => {
            match $data {
                $(TensorData::$variant(v) => chunks(v, $counts).into_iter().map(TensorData::$variant).collect(),)*
            }
        };
    }
    per_variant!(split_arms!(data, counts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_then_split_round_trips() {
        let a = vec![Tensor::new(vec![1, 2], TensorData::F32(vec![1.0, 2.0]))];
        let b = vec![Tensor::new(vec![2, 2], TensorData::F32(vec![3.0, 4.0, 5.0, 6.0]))];
        let joined = concat_requests(vec![a.clone(), b.clone()]).expect("concat");
        assert_eq!(joined, vec![Tensor::new(vec![3, 2], TensorData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))]);
        let split = split_outputs(joined, &[1, 2]).expect("split");
        assert_eq!(split, vec![a, b]);
    }

    #[test]
    fn mixed_datatypes_are_refused_not_mixed() {
        assert!(concat_data(vec![TensorData::I64(vec![1]), TensorData::I32(vec![2])]).is_none());
        let strings = concat_data(vec![TensorData::Bytes(vec![b"a".to_vec()]), TensorData::Bytes(vec![b"b".to_vec()])]);
        assert_eq!(strings, Some(TensorData::Bytes(vec![b"a".to_vec(), b"b".to_vec()])));
    }

    #[test]
    fn outputs_without_the_batch_dimension_are_an_error() {
        let scalar = vec![Tensor::new(vec![], TensorData::F32(vec![1.0]))];
        assert!(split_outputs(scalar, &[1, 1]).is_err());
        let wrong_rows = vec![Tensor::new(vec![3], TensorData::I64(vec![1, 2, 3]))];
        assert!(split_outputs(wrong_rows, &[1, 1]).is_err());
    }

    #[test]
    fn zero_row_requests_get_empty_outputs() {
        let out = vec![Tensor::new(vec![2, 3], TensorData::Bool(vec![true; 6]))];
        let split = split_outputs(out, &[0, 2, 0]).expect("split");
        assert_eq!(split[0], vec![Tensor::new(vec![0, 3], TensorData::Bool(vec![]))]);
        assert_eq!(split[1], vec![Tensor::new(vec![2, 3], TensorData::Bool(vec![true; 6]))]);
        assert_eq!(split[2][0].shape, vec![0, 3]);
    }

    #[test]
    fn row_count_needs_a_common_leading_dimension() {
        let t = |rows| Tensor::new(vec![rows, 1], TensorData::U8(vec![0; rows]));
        assert_eq!(Batcher::rows(&[t(2), t(2)]), Some(2));
        assert_eq!(Batcher::rows(&[t(2), t(3)]), None);
        assert_eq!(Batcher::rows(&[Tensor::new(vec![], TensorData::U8(vec![0]))]), None);
    }
}
