//! Depot's model runtime: turns a registered ONNX artifact into warmed-up ONNX Runtime
//! sessions and serves inference on them.
//!
//! - [`Runtime`] loads the ONNX Runtime shared library ([`RuntimeConfig::library_path`]) and keeps
//!   a cache of loaded versions, bounded by count and artifact bytes, least recently used
//!   evicted first. [`Runtime::get_or_load`] loads a version once however many callers ask at
//!   the same time, and refuses an artifact whose SHA-256 is not the registered digest before
//!   creating any session.
//! - [`LoadedModel::infer`] takes [`ValidatedInputs`](depot_domain::ValidatedInputs), inputs
//!   already validated against the version's signature (it does not validate them again), and
//!   runs them on one of the version's sessions, in the caller's tracing span. A version runs as
//!   many requests at once as it has sessions; when `max_queue_per_version` more already wait, a
//!   request is refused at once with [`RuntimeError::Overloaded`].
//! - Where a run happens: on the caller's async worker thread when it is predicted (the
//!   version's recent cost per input element times the request's elements) to take at most
//!   [`RuntimeConfig::inline_run_max_us`], since for such runs the hand-off costs more than the
//!   run; else on a blocking thread, so that long runs never stall the executor. An inline run
//!   that takes more than ten times `inline_run_max_us` is a strike, and the third strike
//!   within a version's last 64 inline runs demotes it: it runs every request on a blocking
//!   thread until it is reloaded, and logs one warning saying so ([`ModelStats::inline`] turns
//!   false).
//! - With a [`BatchConfig`], concurrent requests to a version are concatenated along their
//!   leading dimension and run together.
//! - Errors say whose fault they are ([`RuntimeError`]): the artifact's
//!   ([`RuntimeError::LoadFailed`]), the request's, Depot's or its environment's
//!   ([`RuntimeError::Internal`]).
//!
//! Modules, each importing only those beneath it: `runtime` (the cache) over `model` (a loaded
//! version) over `batching` (the batcher) over `pool` (the sessions, admission and the inline
//! policy) over `key`, `convert`, `environment`, `config` and `error`.
//!
//! This is the only crate that knows ONNX Runtime (through `ort`); it knows nothing of HTTP,
//! SQL or object storage. The artifact's bytes come from the caller's `fetch` future, and
//! tensors cross its boundary as [`depot_domain::Tensor`].

mod batching;
mod config;
mod convert;
mod environment;
mod error;
mod key;
mod model;
mod observe;
mod pool;
mod runtime;

pub use config::{BatchConfig, RuntimeConfig};
pub use error::RuntimeError;
pub use key::VersionKey;
pub use model::LoadedModel;
pub use observe::{NoObserver, Observer, VersionObserver};
pub use pool::ModelStats;
pub use runtime::Runtime;
